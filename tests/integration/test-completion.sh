#!/bin/bash
# test-completion.sh - the bash completions in contrib/bash-completion
# against a real server: approve/deny <TAB> offer only the pending
# requests of others one has not decided yet, cancel <TAB> one's own
# pending ones, login --resume <TAB> one's unfinished ones, revoke <TAB>
# approved ones; the same without jq (tables instead of JSON, which do not
# show who voted); nothing,
# silently and within the timeout, when the server is down or hangs.
# jit-ca: subcommands, option values, token IDs; and for every subcommand
# of both commands the options offered are exactly those of its --help.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/client-lib.sh"

need_env JIT_CA JIT_SSH
need_cmd jq timeout python3

src=${JIT_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$src/contrib/bash-completion/jit-ssh"
. "$src/contrib/bash-completion/jit-ca"

# comp WORD... : complete the last word as bash would; prints the sorted
# candidates on one line, the completion's stderr goes to $T/comp.err.
comp() {
	local COMP_WORDS=("$@") COMP_CWORD=$(($# - 1)) COMPREPLY=()
	case ${1##*/} in
	jit-ssh) _jit_ssh ;;
	jit-ca) _jit_ca ;;
	esac 2>"$T/comp.err"
	printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ' | sed 's/ $//'
}
sorted() { printf '%s\n' "$@" | sort | tr '\n' ' ' | sed 's/ $//'; }

client_server "  pair:
    principals: [$JIT_USER1]
    requesters: [group:dev]
    approvers: [group:dev]
    approvals: 2
    max_duration: 1h
    default_duration: 10m
    pending_timeout: 1h
    reason: optional
    key_types: [ed25519]" || exit 1
for u in alice bob carol; do client_setup "$u" || fail "setup $u"; done

ask() { # USER ROLE -> request ID
	as "$1" "$JIT_SSH" login "$2" --no-wait 2>/dev/null
}
r1=$(ask alice ops)      # alice's, bob may approve (sre)
r2=$(ask carol pair)     # carol's, dev approves twice; bob votes once
r3=$(ask bob ops)        # bob's own
r4=$(ask alice ops)      # alice's, cancelled
as bob "$JIT_SSH" approve "$r2" >/dev/null
as alice "$JIT_SSH" cancel "$r4" >/dev/null
[ -n "$r1" ] && [ -n "$r2" ] && [ -n "$r3" ] && [ -n "$r4" ] &&
	ok "requests $r1 $r2 $r3 $r4" || { fail "requests"; finish; }

HOME_SAVE=$HOME
check_ids() { # label APPROVABLE_BY_BOB...
	local l=$1
	shift
	HOME=$T/home/bob
	assert_eq "$(sorted "$@")" "$(comp "$JIT_SSH" approve "")" \
		"$l: bob approve <TAB>: not his own request"
	assert_eq "$(sorted "$@")" "$(comp "$JIT_SSH" deny "")" \
		"$l: bob deny <TAB>: the same"
	assert_eq "$(sorted "$r3")" "$(comp "$JIT_SSH" cancel "")" \
		"$l: bob cancel <TAB>: his own pending"
	HOME=$T/home/alice
	assert_eq "$(sorted "$r2")" "$(comp "$JIT_SSH" approve "")" \
		"$l: alice approve <TAB>: carol's pair, not her own ops"
	assert_eq "$(sorted "$r1")" "$(comp "$JIT_SSH" login --resume "")" \
		"$l: alice login --resume <TAB>: pending, not cancelled"
	assert_eq "$(sorted "$r1")" "$(comp "$JIT_SSH" cancel "")" \
		"$l: alice cancel <TAB>"
	assert_eq "" "$(cat "$T/comp.err")" "$l: nothing on stderr"
	HOME=$HOME_SAVE
}
# With jq, not the one he has voted on either.
check_ids "jq" "$r1"

# Without jq the tables are read.
mkdir "$T/nojq"
for c in timeout awk sed sort tr cat; do ln -s "$(command -v "$c")" "$T/nojq/$c"; done
PATH_SAVE=$PATH
PATH=$T/nojq
command -v jq >/dev/null && fail "jq still found" || ok "jq hidden"
# The table does not show votes: r2, which bob approved once, is offered
# (the server would answer that he has voted already).
check_ids "no jq" "$r1" "$r2"
PATH=$PATH_SAVE

# An approved grant is still resumable; then revoke <TAB> offers it.
as bob "$JIT_SSH" approve "$r1" >/dev/null
HOME=$T/home/alice
assert_eq "$(sorted "$r1")" "$(comp "$JIT_SSH" login --resume "")" \
	"an approved request is offered to --resume"
HOME=$T/home/bob
assert_eq "$(sorted "$r1")" "$(comp "$JIT_SSH" revoke "")" \
	"bob revoke <TAB>: the approved grant"
assert_eq "" "$(comp "$JIT_SSH" approve "")" "bob approve <TAB>: nothing left"
HOME=$HOME_SAVE

# --url and --token-file on the line choose the server and the identity.
HOME=$T/home/carol
assert_eq "$(sorted "$r3")" \
	"$(comp "$JIT_SSH" cancel --token-file "$T/TOKEN_bob" "")" \
	"--token-file on the line: bob's own pending as carol's HOME"
HOME=$HOME_SAVE

# ---- a dead or hanging server: nothing, silently, in time -------------------
dead=$(free_port)
HOME=$T/home/alice
assert_eq "" "$(comp "$JIT_SSH" approve --url "http://127.0.0.1:$dead" "")" \
	"server down: nothing offered"
assert_eq "" "$(cat "$T/comp.err")" "server down: nothing on stderr"
hang=$(free_port)
jit_bg "$T/hang.log" python3 -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16)
print("listening", flush=True)
conns = []
while True:
    c, _ = s.accept(); conns.append(c)   # accept, never answer
' "$hang"
wait_for "grep -q listening '$T/hang.log'" 10 || fail "hanging server"
start=$(date +%s%N)
out=$(JIT_SSH_COMPLETION_TIMEOUT=1 comp "$JIT_SSH" login --url "http://127.0.0.1:$hang" --resume "")
ms=$((($(date +%s%N) - start) / 1000000))
assert_eq "" "$out" "hanging server: nothing offered"
assert_eq "" "$(cat "$T/comp.err")" "hanging server: nothing on stderr"
[ "$ms" -lt 2500 ] && ok "hanging server: done in ${ms} ms (timeout 1 s)" ||
	fail "hanging server: took ${ms} ms"
HOME=$HOME_SAVE

# ---- jit-ca -------------------------------------------------------------------
assert_eq "$(sorted audit ca help host init krl policy serve sign token --help --version)" \
	"$(comp "$JIT_CA" "")" "jit-ca <TAB>: the subcommands"
assert_contains "$(comp "$JIT_CA" init --key-type "")" "ecdsa-p384" \
	"init --key-type <TAB> offers ecdsa-p384"
assert_eq "jsonl" "$(comp "$JIT_CA" audit export --format j)" "--format j<TAB>"
assert_eq "create list revoke" "$(comp "$JIT_CA" token "")" "token <TAB>"
"$JIT_CA" token create alice --config "$T/server.yaml" >/dev/null 2>&1
ids=$("$JIT_CA" token list --config "$T/server.yaml" --json | jq -r 'select(.revoked_at == null) | .id')
revoked=$(head -n 1 <<<"$ids")
"$JIT_CA" token revoke "$revoked" --config "$T/server.yaml" 2>/dev/null
assert_eq "$(sorted $(grep -v -x "$revoked" <<<"$ids"))" \
	"$(comp "$JIT_CA" token revoke --config "$T/server.yaml" "")" \
	"token revoke <TAB>: the IDs not yet revoked"

# ---- the options offered are those --help documents -----------------------------
# The completions read them from --help; this checks that they do, for
# every subcommand.  --help itself is left out of the comparison: every
# command takes it, not every usage text names it.
help_opts() {
	grep -oE -- '--[a-z][a-z0-9-]*' | grep -v -x -- --help | sort -u |
		tr '\n' ' ' | sed 's/ $//'
}
offered() { comp "$@" -- | tr ' ' '\n' | grep -v -x -- --help | help_opts; }
for c in init ca sign serve krl policy; do
	sub=; [ "$c" = policy ] && sub=check
	# shellcheck disable=SC2086
	assert_eq "$("$JIT_CA" "$c" --help | help_opts)" "$(offered "$JIT_CA" "$c" $sub)" \
		"jit-ca $c: completion offers the --help options"
done
# audit's and token's --help cover all their subcommands at once.
assert_eq "$("$JIT_CA" audit --help | help_opts)" \
	"$( (offered "$JIT_CA" audit export; echo; offered "$JIT_CA" audit verify) | help_opts)" \
	"jit-ca audit: completion offers the --help options"
assert_eq "$("$JIT_CA" token --help | help_opts)" \
	"$( (offered "$JIT_CA" token create; echo; offered "$JIT_CA" token list;
	echo; offered "$JIT_CA" token revoke) | help_opts)" \
	"jit-ca token: completion offers the --help options"
assert_eq "$("$JIT_CA" host --help | help_opts)" \
	"$( (offered "$JIT_CA" host token create; echo; offered "$JIT_CA" host list;
	echo; offered "$JIT_CA" host revoke) | help_opts)" \
	"jit-ca host: completion offers the --help options"
assert_eq "list revoke token" "$(comp "$JIT_CA" host "")" "host <TAB>"
assert_eq "create" "$(comp "$JIT_CA" host token "")" "host token <TAB>"
for c in setup login status list approve deny cancel revoke logout ca whoami; do
	assert_eq "$("$JIT_SSH" "$c" --help | help_opts)" "$(offered "$JIT_SSH" "$c")" \
		"jit-ssh $c: completion offers the --help options"
done
finish
