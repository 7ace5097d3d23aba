#!/bin/bash
# Every program prints the version of project() in the top-level
# meson.build: jit-ca, jit-ssh and jit-ssh-guard --version (from the
# generated jit_version.h), jit-ssh-host-sync --version (configured from
# its template), and the server's "server.start" audit event.  No C
# source or template spells the version itself.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/api-lib.sh"

need_env JIT_CA JIT_SSH JIT_SSH_GUARD JIT_HOST_SYNC
need_cmd jq curl
[ -n "${JIT_VERSION:-}" ] ||
	skip "JIT_VERSION is not set (run through meson test)"
SRC=${JIT_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}

for prog in "jit-ca:$JIT_CA" "jit-ssh:$JIT_SSH" \
	"jit-ssh-guard:$JIT_SSH_GUARD" "jit-ssh-host-sync:$JIT_HOST_SYNC"; do
	name=${prog%%:*}
	run "${prog#*:}" --version
	assert_rc 0 "$name --version exits 0"
	assert_eq "$name $JIT_VERSION" "$OUT" \
		"$name --version prints meson's version"
	assert_eq "" "$ERR" "$name --version prints nothing on stderr"
done

# The server records its version in the audit log when it starts.
api_start || fail "server starts" "$(cat "$API_LOG")"
run "$JIT_CA" audit export --data "$T/data" -o "$T/audit.jsonl"
assert_rc 0 "audit export"
got=$(jq -r 'select(.event == "server.start") | .version' "$T/audit.jsonl")
assert_eq "$JIT_VERSION" "$got" \
	"server.start audit event carries meson's version"
api_stop

# One place: a version written out in a C file or a template would not
# follow project().  (Test data such as the fuzz corpus is not searched.)
copies=$(cd "$SRC" && grep -rlF -- "$JIT_VERSION" --include='*.c' \
	--include='*.h' --include='*.in' --include=meson.build \
	ca api client contrib policies meson.build | grep -vx meson.build)
assert_eq "" "$copies" "the version is written only in meson.build"

finish
