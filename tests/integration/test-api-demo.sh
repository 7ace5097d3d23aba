#!/bin/bash
# test-api-demo.sh - `jit-ca serve` without a config file, as the README
# shows it: embedded defaults (data ./jit-data, policies
# policies/examples/), a new CA and one demo token per example user in
# ./jit-data/demo-tokens (0600) printed once; the tokens work; a second
# start prints no new tokens.  Runs in a scratch copy of the repository's
# policies/examples with --listen on a free port (8787 may be taken).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/api-lib.sh"

need_env JIT_CA
need_cmd curl jq

src=${JIT_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
mkdir -p "$T/demo/policies"
cp -r "$src/policies/examples" "$T/demo/policies/"
cd "$T/demo" || exit 1
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
nusers=$(grep -c . jit-data/demo-tokens)
[ "$nusers" -ge 2 ] && ok "one token per example user ($nusers)" || fail "demo tokens" "$(cat jit-data/demo-tokens)"
while read -r u tok; do
	assert_contains "$(cat "$T/demo.log")" "$u $tok" "token of $u printed once"
	api "$tok" GET /v1/whoami
	assert_eq "$u" "$(jget "$RB" .user)" "demo token of $u works"
done <jit-data/demo-tokens
api "" GET /v1/ca
assert_eq "$(cut -d' ' -f1-2 jit-data/ca_key.pub)" "$(echo "$RB" | cut -d' ' -f1-2)" "CA served"
jit_kill "$pid"
cp jit-data/demo-tokens "$T/tokens.before"
jit_bg "$T/demo2.log" "$JIT_CA" serve --listen "127.0.0.1:$port"
wait_for "grep -q 'listening on' '$T/demo2.log'" 20 || fail "second start"
assert_not_contains "$(cat "$T/demo2.log")" "jit_" "no new tokens on a second start"
assert_eq "$(cat "$T/tokens.before")" "$(cat jit-data/demo-tokens)" "demo-tokens unchanged"
finish
