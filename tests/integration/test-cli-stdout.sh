#!/bin/bash
# test-cli-stdout.sh - jit-ca as a new user meets it: `-o -` is standard
# output for every subcommand that takes -o (krl, audit export; sign is in
# test-cli-errors.sh) and never a file named "-"; audit export to stdout
# carries its signature inline, or writes it to --sig FILE; serve on a data
# directory with a CA but no usable token says how to make one.
. "$(dirname "$0")/lib.sh"

need_env JIT_CA
need_cmd ssh-keygen cmp jq

src=${JIT_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
NS=jit-ssh-audit
mkdir "$T/w"
cd "$T/w" || exit 1
cp -r "$src/policies/examples" "$T/policies"

# ---- serve: a CA without tokens ---------------------------------------------
run "$JIT_CA" init
assert_rc 0 "init ./jit-data"
printf 'jit-ssh-ca namespaces="%s" %s\n' "$NS" "$(cat jit-data/ca_key.pub)" \
	>"$T/allowed_signers"
serve_free_port "$T/serve1.log" : "$JIT_CA" serve --quiet \
	--listen "127.0.0.1:@PORT@" --policies "$T/policies" ||
	{ fail "serve starts"; finish; }
log=$(cat "$T/serve1.log")
assert_contains "$log" "no API token is valid yet" "serve without tokens gives a hint"
assert_contains "$log" "jit-ca token create NAME --data ./jit-data --policies $T/policies" \
	"the hint names the command, data directory and policies"
assert_not_contains "$log" "jit_" "no demo tokens for an existing CA"
jit_kill "$SERVE_PID"

# The command of the hint works as shown, and then the hint goes away.
run "$JIT_CA" token create alice --data ./jit-data --policies "$T/policies"
assert_rc 0 "the hinted command creates a token"
serve_free_port "$T/serve2.log" : "$JIT_CA" serve --quiet \
	--listen "127.0.0.1:@PORT@" --policies "$T/policies" ||
	{ fail "serve starts again"; finish; }
assert_not_contains "$(cat "$T/serve2.log")" "no API token" "no hint once a token exists"
jit_kill "$SERVE_PID"

# A revoked token does not count.
id=$("$JIT_CA" token list --data ./jit-data --json | jq -r .id)
run "$JIT_CA" token revoke "$id" --data ./jit-data
assert_rc 0 "revoke the only token"
serve_free_port "$T/serve3.log" : "$JIT_CA" serve --quiet \
	--listen "127.0.0.1:@PORT@" --policies "$T/policies" ||
	{ fail "serve starts a third time"; finish; }
assert_contains "$(cat "$T/serve3.log")" "no API token is valid yet" \
	"the hint is back when every token is revoked"
jit_kill "$SERVE_PID"

# ---- audit export -o - --------------------------------------------------------
run "$JIT_CA" audit export -o -
assert_rc 0 "audit export -o -"
assert_contains "$OUT" "-----BEGIN SSH SIGNATURE-----" "-o -: the signature is inline on stdout"
assert_contains "$ERR" "to stdout, signature inline" "-o -: the summary says stdout"
assert_eq "" "$(ls -A | grep -v -x jit-data)" "-o -: no file named - or -.sig"
printf '%s\n' "$OUT" >"$T/inline.jsonl"
run "$JIT_CA" audit verify - --ca-key jit-data/ca_key.pub <"$T/inline.jsonl"
assert_rc 0 "the inline export verifies from stdin"
run "$JIT_CA" audit export
assert_rc 0 "audit export without -o"
assert_contains "$OUT" "-----BEGIN SSH SIGNATURE-----" "no -o: inline as with -o -"

# To stdout with the signature in a file of one's choice.
run "$JIT_CA" audit export -o - --sig "$T/detached.sig"
assert_rc 0 "audit export -o - --sig FILE"
assert_not_contains "$OUT" "BEGIN SSH SIGNATURE" "--sig FILE: nothing inline"
assert_contains "$ERR" "signature $T/detached.sig" "--sig FILE: the summary names it"
printf '%s\n' "$OUT" >"$T/detached.jsonl"
assert_file_mode 600 "$T/detached.sig" "the signature file is 0600"
run ssh-keygen -Y verify -f "$T/allowed_signers" -I jit-ssh-ca -n "$NS" \
	-s "$T/detached.sig" <"$T/detached.jsonl"
assert_rc 0 "ssh-keygen -Y verify accepts stdout + --sig"
run "$JIT_CA" audit verify "$T/detached.jsonl" --ca-key jit-data/ca_key.pub \
	--sig "$T/detached.sig"
assert_rc 0 "jit-ca audit verify accepts stdout + --sig"

# To a file with the signature elsewhere than FILE.sig.
run "$JIT_CA" audit export -o "$T/file.jsonl" --sig "$T/other.sig"
assert_rc 0 "audit export -o FILE --sig OTHER"
[ -e "$T/file.jsonl.sig" ] && fail "--sig OTHER: FILE.sig was written" ||
	ok "--sig OTHER: no FILE.sig"
run "$JIT_CA" audit verify "$T/file.jsonl" --ca-key jit-data/ca_key.pub \
	--sig "$T/other.sig"
assert_rc 0 "the file export verifies with --sig OTHER"

assert_one_line_error "--sig - is refused for export" \
	"$JIT_CA" audit export --sig -
assert_rc 2 "--sig - exits 2"
assert_one_line_error "--sig equal to -o is refused" \
	"$JIT_CA" audit export -o "$T/same" --sig "$T/same"
[ -e "$T/same" ] && fail "refused export wrote a file" || ok "refused export writes nothing"
assert_one_line_error "verify refuses -o -" \
	"$JIT_CA" audit verify - -o - --ca-key jit-data/ca_key.pub

# ---- krl -o - -------------------------------------------------------------------
"$JIT_CA" krl -o - >"$T/krl.stdout" 2>"$T/krl.err"
assert_eq 0 "$?" "krl -o - (stdout not a terminal)"
assert_contains "$(cat "$T/krl.err")" "stdout:" "krl -o - reports stdout"
run "$JIT_CA" krl -o "$T/krl.file"
assert_rc 0 "krl -o FILE"
# Equal but for the generated_date (bytes 20..27 of the header).
krl_sans_date() { head -c 20 "$1"; tail -c +29 "$1"; }
cmp -s <(krl_sans_date "$T/krl.stdout") <(krl_sans_date "$T/krl.file") &&
	ok "krl -o - writes the same KRL as -o FILE" ||
	fail "krl -o - differs from -o FILE"
run ssh-keygen -Q -f "$T/krl.stdout" jit-data/ca_key.pub
assert_rc 0 "ssh-keygen reads the KRL written to stdout"
assert_eq "" "$(ls -A | grep -v -x jit-data)" "krl -o -: no file named -"
finish
