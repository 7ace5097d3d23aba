#!/bin/bash
# test-readme-tour.sh - README.md's "A five-minute tour" runs as written:
# its shell blocks, taken from the README itself, run under bash -e -o
# pipefail against `jit-ca serve` with the embedded defaults (as the
# README's first command starts it) in a scratch copy of the repository
# layout, on a free port instead of 8787.  Every command must succeed, the
# certificate fetched with curl must be one, and the client must install
# the grant.
. "$(dirname "$0")/lib.sh"

need_env JIT_CA JIT_SSH
need_cmd curl jq ssh-keygen

src=${JIT_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
bld=${JIT_BUILD_ROOT:-$(dirname "$(dirname "$JIT_CA")")}
# curl --json (7.82) and -H @file are what the tour uses.
curl --help all 2>/dev/null | grep -q -- '--json' || skip "curl without --json"

# The blocks of the tour section, in order.
sed -n '/^## A five-minute tour/,/^## /p' "$src/README.md" |
	awk '/^```sh$/ { on = 1; next } /^```$/ { on = 0 } on' >"$T/tour.sh"
assert_eq 1 "$(grep -c '^U=http://127.0.0.1:8787$' "$T/tour.sh")" \
	"the tour sets U to the default address once"
assert_not_contains "$(cat "$T/tour.sh")" "r-..." "the tour types no request id by hand"
assert_not_contains "$(grep -v '^ *#' "$T/tour.sh" | grep -E '(^|[ |(])curl ' | grep -v -- '-f')" "curl" \
	"every curl of the tour fails on an HTTP error (-f)"
assert_not_contains "$(cat "$T/tour.sh")" '--token "$' "no token on a command line"

mkdir -p "$T/repo/home" "$T/repo/policies"
cp -r "$src/policies/examples" "$T/repo/policies/"
ln -s "$bld" "$T/repo/build"
cd "$T/repo" || exit 1
fresh() { rm -rf "$T/repo/jit-data"; }
serve_free_port "$T/serve.log" fresh "$JIT_CA" serve --listen "127.0.0.1:@PORT@" ||
	{ fail "jit-ca serve with the embedded defaults"; finish; }
sed -i "s#^U=http://127.0.0.1:8787\$#U=http://127.0.0.1:$SERVE_PORT#" "$T/tour.sh"

run env -u SSH_AUTH_SOCK -u JIT_SSH_URL -u JIT_SSH_TOKEN HOME="$T/repo/home" \
	bash -e -o pipefail "$T/tour.sh"
assert_rc 0 "the tour runs as written"
[ "$RC" = 0 ] || echo "$ERR" | tail -n 20 >&2
assert_contains "$OUT" '"can_request"' "whoami answers"
assert_contains "$OUT" '"state": "pending"' "the request is pending before bob approves"
assert_contains "$OUT" '"approved"' "bob's approval"
assert_contains "$OUT" "user certificate" "curl fetched a certificate ssh-keygen reads"
assert_contains "$OUT" "$("$JIT_CA" ca --fingerprint)" "jit-ca ca --fingerprint from ./jit-data"
assert_contains "$OUT" "Access granted for role staging" "the client installs the grant"
assert_contains "$OUT" "token for alice" "setup read alice's token from stdin"
assert_not_contains "$ERR" "warning" "no warnings"
[ -s "$T/repo/home/.ssh/jit/staging-cert.pub" ] && ok "~/.ssh/jit/staging-cert.pub" ||
	fail "no certificate installed"
finish
