#!/bin/bash
# test-client-names.sh - a grep for a name finds one definition: no
# function, struct, enum or union that client/ defines is also defined in
# api/, ca/, policies/ or contrib/ (the server and the library use jit_,
# the client client_).  Functions are found the way the house style writes
# them: the name at the start of a line, followed by "(".
. "$(dirname "$0")/lib.sh"

src=${JIT_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}

defs() { # DIR... -> one defined name a line
	local d
	for d in "$@"; do
		find "$src/$d" -name '*.[ch]' -print0
	done | xargs -0 cat |
		sed -n -e 's/^\([a-z_][a-z0-9_]*\)(.*/\1/p' \
		    -e 's/^\(struct\|enum\|union\) \([a-z_][a-z0-9_]*\) {.*/\1 \2/p' |
		grep -v -x main | sort -u
}
client=$(defs client)
others=$(defs api ca policies contrib)
[ "$(grep -c . <<<"$client")" -gt 20 ] && ok "client/ defines $(grep -c . <<<"$client") names" ||
	fail "too few client definitions found: the pattern is broken"
[ "$(grep -c . <<<"$others")" -gt 200 ] && ok "api, ca, policies, contrib define $(grep -c . <<<"$others") names" ||
	fail "too few server/library definitions found: the pattern is broken"
both=$(comm -12 <(echo "$client") <(echo "$others") | tr '\n' ' ')
assert_eq "" "$both" "no name is defined both in client/ and elsewhere"
# The client's own non-static functions all start with client_.
exported=$(sed -n 's/^\(int\|void\|char \*\|const char \*\|long long\) \([a-z_][a-z0-9_]*\)(.*/\2/p' \
	"$src/client/client.h" | grep -v '^client_' | tr '\n' ' ')
assert_eq "" "$exported" "client.h declares only client_ functions"
# The check notices a clash.
mkdir -p "$T/fake/client"
printf 'int\njit_config_load(void)\n{\n}\n' >"$T/fake/client/x.c"
src=$T/fake client=$(defs client)
src=${JIT_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
assert_eq "jit_config_load" "$(comm -12 <(echo "$client") <(echo "$others") | tr -d '\n')" \
	"a client function named like a server one is noticed"
finish
