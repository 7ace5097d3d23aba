#!/bin/bash
# test-api-secrets.sh - how `jit-ca serve` keeps its secrets in (see
# SECURITY.md, "The CA key at rest" and "in memory"):
#   - a data directory that group or others may write is refused with one
#     line naming it and saying how to fix it; group-readable is fine;
#   - the running server has a core size limit of 0 and is not dumpable
#     (run as an unprivileged user, its /proc/PID files then belong to
#     root, which is how the kernel shows that attribute);
#   - the CA key is locked in memory; when RLIMIT_MEMLOCK is 0 the server
#     warns once and serves all the same.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/api-lib.sh"

need_env JIT_CA
need_cmd curl jq

api_policy
api_start || { fail "server starts"; finish; }
pid=$API_PID
lim=$(awk '/^Max core file size/ {print $5, $6}' "/proc/$pid/limits")
assert_eq "0 0" "$lim" "the server's core size limit is 0 (soft and hard)"
assert_not_contains "$(cat "$API_LOG")" "not locked in memory" "the CA key is locked (no warning)"
api_stop

# ---- data directory modes ------------------------------------------------------
for m in 770 775 707 777 720; do
	chmod "$m" "$T/data"
	assert_one_line_error "data directory mode $m: refused" \
		timeout 20 "$JIT_CA" serve --config "$T/server.yaml"
	assert_contains "$ERR" "$T/data" "names the directory ($m)"
	assert_contains "$ERR" "chmod 700" "says how to fix it ($m)"
done
chmod 750 "$T/data"
api_start || fail "mode 750 (group may read, not write): the server starts"
api_stop
chmod 700 "$T/data"

# ---- as an unprivileged user ----------------------------------------------------
if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null || ! id nobody >/dev/null 2>&1; then
	ok "unprivileged checks skipped (need root, setpriv and user nobody)"
	finish
fi
chmod 711 "$T"
mkdir -m 700 "$T/nb"
chown nobody "$T/nb"
cp "$T/policy.yaml" "$T/nb.policy.yaml"
chmod 644 "$T/nb.policy.yaml"
# nb_serve LOG [prlimit options]: serve as nobody on a free port.
nb_serve() {
	local log=$1
	shift
	nb_conf() { :; }
	serve_free_port "$log" nb_conf prlimit "$@" -- \
		setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups \
		"$JIT_CA" serve --listen "127.0.0.1:@PORT@" --data "$T/nb/data" \
		--policies "$T/nb.policy.yaml"
}
nb_serve "$T/nb.log" --memlock=8388608 || { fail "serves as nobody"; finish; }
# prlimit and setpriv exec jit-ca: SERVE_PID is the server itself.
nbpid=$SERVE_PID
assert_eq "$(id -u nobody)" "$(awk '/^Uid:/ {print $2}' "/proc/$nbpid/status")" \
	"runs as nobody"
assert_eq root "$(stat -c %U "/proc/$nbpid/status")" \
	"not dumpable: its /proc files belong to root"
assert_eq "0 0" "$(awk '/^Max core file size/ {print $5, $6}' "/proc/$nbpid/limits")" \
	"core size limit 0 as nobody too"
assert_not_contains "$(cat "$T/nb.log")" "not locked in memory" \
	"with 8 MiB of RLIMIT_MEMLOCK the CA key is locked"
jit_kill "$nbpid"

nb_serve "$T/nb0.log" --memlock=0 || { fail "serves as nobody without RLIMIT_MEMLOCK"; finish; }
assert_eq 1 "$(grep -c 'not locked in memory' "$T/nb0.log")" \
	"RLIMIT_MEMLOCK 0: one warning"
assert_contains "$(grep 'not locked in memory' "$T/nb0.log")" "RLIMIT_MEMLOCK" "naming the limit"
run curl -s "http://127.0.0.1:$SERVE_PORT/v1/ca"
assert_contains "$OUT" "ssh-ed25519 " "and serves all the same"
jit_kill "$SERVE_PID"
finish
