#!/bin/bash
# test-api-demo.sh - `jit-ca serve` without a config file, as the README
# shows it: embedded defaults (data ./jit-data, policies
# policies/examples/), a new CA and one demo token per example user in
# ./jit-data/demo-tokens (0600) printed once; the file's first line says
# until when they are valid (12 hours, no more than a day); the tokens
# work; the server warns at every start while any is valid (an admin's
# among them), not once they are revoked; a second start prints no new
# tokens.  On a busy port the start fails before anything is created or
# printed.  Runs in a scratch copy of the repository's policies/examples
# with --listen on a free port (8787 may be taken).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/api-lib.sh"

need_env JIT_CA
need_cmd curl jq

src=${JIT_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
mkdir -p "$T/demo/policies"
cp -r "$src/policies/examples" "$T/demo/policies/"
cd "$T/demo" || exit 1

# A busy port: one line of error, no token printed, no data directory.
busy_port() {
	local p
	for p in $(seq 20); do
		p=$(free_port)
		# Hold the port with a listener of our own (bash cannot listen).
		jit_bg "$T/holder.log" python3 -c "
import socket, time
s = socket.socket(); s.bind(('127.0.0.1', $p)); s.listen(); time.sleep(120)"
		HOLDER=$JIT_BG_PID
		wait_port "$p" 5 && { BUSY=$p; return 0; }
		jit_kill "$HOLDER"
	done
	return 1
}
if command -v python3 >/dev/null && busy_port; then
	assert_one_line_error "serve on a busy port fails" \
		timeout 20 "$JIT_CA" serve --listen "127.0.0.1:$BUSY"
	assert_contains "$ERR" "Address already in use" "says why"
	assert_eq "" "$OUT" "no demo token printed"
	[ ! -e jit-data ] && ok "no data directory, CA or demo tokens created" ||
		fail "nothing created on a busy port" "$(ls -lR jit-data)"
	jit_kill "$HOLDER"
else
	ok "busy-port check skipped: no python3 to hold a port"
fi
# A retry on another port must start from a fresh data dir again.
fresh_demo() { rm -rf "$T/demo/jit-data"; }
serve_free_port "$T/demo.log" fresh_demo "$JIT_CA" serve --listen "127.0.0.1:@PORT@" ||
	{ fail "demo server starts"; finish; }
port=$SERVE_PORT
pid=$SERVE_PID
JURL=http://127.0.0.1:$port
ok "demo server starts with embedded defaults"
assert_file_mode 600 jit-data/demo-tokens "demo-tokens is 0600"
assert_file_mode 600 jit-data/ca_key "CA key is 0600"
nusers=$(grep -vc '^#' jit-data/demo-tokens)
[ "$nusers" -ge 2 ] && ok "one token per example user ($nusers)" || fail "demo tokens" "$(cat jit-data/demo-tokens)"
head1=$(head -n 1 jit-data/demo-tokens)
assert_match "$head1" '^# demo tokens, valid for 12 hours, until [0-9T:-]+Z' "the file says how long they are valid"
until=$(echo "$head1" | sed 's/.*until \([^;]*\);.*/\1/')
while read -r u tok; do
	assert_contains "$(cat "$T/demo.log")" "$u $tok" "token of $u printed once"
	api "$tok" GET /v1/whoami
	assert_eq "$u" "$(jget "$RB" .user)" "demo token of $u works"
done < <(grep -v '^#' jit-data/demo-tokens)
now=$(date -u +%s)
run "$JIT_CA" token list --data jit-data --json
# The last token made expires last (tokens are made one after another).
expires=$(echo "$OUT" | jq -r 'select(.created_by == "system:demo") | .expires_at' | sort | tail -n 1)
assert_eq "$nusers" "$(echo "$OUT" | jq -r 'select(.created_by == "system:demo") | .id' | grep -c .)" \
	"the store knows them as demo tokens"
[ -n "$expires" ] && [ "$(date -u -d "$expires" +%s)" -le "$(date -u -d "$until" +%s)" ] &&
	ok "no demo token outlives the time the file says" || fail "demo tokens expire by $until" "$expires"
left=$(($(date -u -d "$expires" +%s) - now))
[ "$left" -gt $((11 * 3600)) ] && [ "$left" -le $((12 * 3600)) ] &&
	ok "they expire within a day (in ${left}s)" || fail "demo tokens expire in 12 h" "in ${left}s"
assert_match "$(cat "$T/demo.log")" "warning: $nusers demo tokens are still valid until $expires \(admin [a-z]+'s among them\)" \
	"the first start warns that they are valid"
api "" GET /v1/ca
assert_eq "$(cut -d' ' -f1-2 jit-data/ca_key.pub)" "$(echo "$RB" | cut -d' ' -f1-2)" "CA served"
jit_kill "$pid"
cp jit-data/demo-tokens "$T/tokens.before"
jit_bg "$T/demo2.log" "$JIT_CA" serve --listen "127.0.0.1:$port"
wait_for "grep -q 'listening on' '$T/demo2.log'" 20 || fail "second start"
assert_not_contains "$(cat "$T/demo2.log")" "jit_" "no new tokens on a second start"
assert_eq "$(cat "$T/tokens.before")" "$(cat jit-data/demo-tokens)" "demo-tokens unchanged"
assert_contains "$(cat "$T/demo2.log")" "warning: $nusers demo tokens are still valid" \
	"a second start warns again"
jit_kill "$JIT_BG_PID"
for id in $(echo "$OUT" | jq -r 'select(.created_by == "system:demo") | .id'); do
	"$JIT_CA" token revoke "$id" --data jit-data >/dev/null || fail "revoke $id"
done
jit_bg "$T/demo3.log" "$JIT_CA" serve --listen "127.0.0.1:$port"
wait_for "grep -q 'listening on' '$T/demo3.log'" 20 || fail "third start"
assert_not_contains "$(cat "$T/demo3.log")" "demo token" "no warning once they are revoked"
finish
