#!/bin/bash
# test-client-token.sh - how jit-ssh takes a token without putting it on
# the command line: --token-file FILE and --token - (standard input; no
# echo on a terminal) for setup and every command that talks to the
# server; --token VALUE still works but warns; bad sources fail with one
# line and write no config.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/client-lib.sh"

need_env JIT_CA JIT_SSH
need_cmd python3 jq

client_server || exit 1
cfg() { echo "$T/home/$1/.config/jit-ssh/config"; }
tok_a=$(cat "$T/TOKEN_alice")

# ---- setup --token-file ---------------------------------------------------
run as alice "$JIT_SSH" setup "$JURL" --token-file "$T/TOKEN_alice" --yes
assert_rc 0 "setup --token-file"
assert_contains "$OUT" "token for alice" "setup --token-file checked the token"
assert_not_contains "$ERR" "warning" "--token-file: no warning"
assert_contains "$(cat "$(cfg alice)")" "token = $tok_a" "the token is saved"

# ---- setup --token - (a pipe) -----------------------------------------------
run as bob "$JIT_SSH" setup "$JURL" --token - --yes <"$T/TOKEN_bob"
assert_rc 0 "setup --token - from a pipe"
assert_contains "$OUT" "token for bob" "setup --token - checked the token"
assert_not_contains "$ERR" "warning" "--token -: no warning"
# Blanks and a CRLF around the token are dropped.
printf '  %s \r\n' "$(cat "$T/TOKEN_carol")" >"$T/carol.crlf"
run as carol "$JIT_SSH" setup "$JURL" --token - --yes <"$T/carol.crlf"
assert_rc 0 "setup --token - with blanks and CRLF"
assert_contains "$(cat "$(cfg carol)")" "token = $(cat "$T/TOKEN_carol")" \
	"the trimmed token is saved"

# ---- any command takes them ---------------------------------------------------
run as carol "$JIT_SSH" whoami --token-file "$T/TOKEN_alice" --json
assert_rc 0 "whoami --token-file"
assert_eq alice "$(jq -r .user <<<"$OUT")" "whoami --token-file is alice"
run as carol "$JIT_SSH" whoami --token - --json <"$T/TOKEN_bob"
assert_eq bob "$(jq -r .user <<<"$OUT")" "whoami --token - is bob"

# ---- --token VALUE still works, with a warning ----------------------------------
run as carol "$JIT_SSH" whoami --token "$tok_a" --json
assert_rc 0 "whoami --token VALUE works"
assert_eq alice "$(jq -r .user <<<"$OUT")" "--token VALUE is alice"
assert_eq 1 "$(grep -c '' <<<"$ERR")" "--token VALUE: one warning line"
assert_contains "$ERR" "visible to other users" "--token VALUE: says why"
assert_contains "$ERR" "--token-file" "--token VALUE: says what to use"

# ---- bad sources: one line, no config -------------------------------------------
mkdir -p "$T/home/dave"
assert_one_line_error "setup --token - with empty stdin" \
	as dave "$JIT_SSH" setup "$JURL" --token - --yes </dev/null
assert_rc 1 "empty stdin exits 1"
assert_contains "$ERR" "no token in standard input" "empty stdin: says so"
assert_one_line_error "setup --token-file missing" \
	as dave "$JIT_SSH" setup "$JURL" --token-file "$T/nonexistent" --yes
assert_contains "$ERR" "$T/nonexistent" "missing file: named"
printf 'two words\n' >"$T/spaced"
assert_one_line_error "a token with a space" \
	as dave "$JIT_SSH" setup "$JURL" --token-file "$T/spaced" --yes
head -c 5000 /dev/zero | tr '\0' x >"$T/huge"
assert_one_line_error "a token file that is too long" \
	as dave "$JIT_SSH" setup "$JURL" --token-file "$T/huge" --yes
assert_one_line_error "--token and --token-file together" \
	as dave "$JIT_SSH" setup "$JURL" --token - --token-file "$T/TOKEN_alice"
assert_rc 2 "both: usage error"
assert_one_line_error "--token-file for logout" \
	as dave "$JIT_SSH" logout --token-file "$T/TOKEN_alice"
assert_rc 2 "logout takes no token"
[ ! -e "$(cfg dave)" ] && ok "no config written by any failure" ||
	fail "a failed setup wrote a config" "$(cat "$(cfg dave)")"

# ---- on a terminal: asked for, not echoed ---------------------------------------
# The token is typed only once the prompt is there (input sent earlier
# would be flushed when echo is turned off).
run env HOME="$T/home/dave" python3 - "$JIT_SSH" "$JURL" "$T/TOKEN_alice" <<'EOF'
import os, pty, signal, sys
signal.alarm(60)   # a guard only: the exchange takes well under a second
prog, url, tokfile = sys.argv[1:4]
tok = open(tokfile).read().strip()
pid, fd = pty.fork()
if pid == 0:
    os.execv(prog, [prog, "setup", url, "--token", "-", "--yes"])
out = b""
def read_until(pred):
    global out
    while not pred(out):
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            return
        if not chunk:
            return
        out += chunk
read_until(lambda b: b"API token: " in b)
os.write(fd, tok.encode() + b"\n")
read_until(lambda b: False)
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status))
EOF
assert_rc 0 "setup --token - on a terminal"
assert_contains "$OUT" "API token: " "the terminal is asked for the token"
assert_not_contains "$OUT" "$tok_a" "the typed token is not echoed"
assert_contains "$(cat "$(cfg dave)")" "token = $tok_a" "the typed token is saved"
finish
