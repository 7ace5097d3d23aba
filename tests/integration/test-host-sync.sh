#!/bin/bash
# jit-ssh-host-sync (built from contrib/jit-ssh-host-sync.in) against the
# real server (installs the CA key and a KRL that ssh-keygen -Q reads),
# then against a fake server (python3 http.server) that answers garbage,
# an empty KRL, a KRL that does not parse, one that revokes the CA itself,
# an older one, 404, a changed CA key, and against a server that is down:
# each time the installed files stay byte-identical, no temporary file is
# left, and the script exits 1 with a clear message.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/api-lib.sh"

need_env JIT_CA
need_cmd curl jq ssh-keygen python3 od cmp
SYNC=${JIT_HOST_SYNC:-${JIT_BUILD_ROOT:-}/contrib/jit-ssh-host-sync}
[ -x "$SYNC" ] || skip "$SYNC missing"

ETC=$T/etc
mkdir -p "$ETC"
: >"$T/empty.conf"
sync_to() {   # sync_to URL [ARGS...]: run the script into $ETC
	local url=$1
	shift
	run "$SYNC" --config "$T/empty.conf" --url "$url" \
		--ca-file "$ETC/jit_ca.pub" --krl-file "$ETC/jit.krl" "$@"
}
no_temp_files() {
	local left
	left=$(find "$ETC" -name '.*' -type f | tr '\n' ' ')
	assert_eq "" "$left" "$1: no temporary file left behind"
}
unchanged() {   # the installed files equal the saved good copies
	if cmp -s "$ETC/jit.krl" "$T/good.krl" &&
		cmp -s "$ETC/jit_ca.pub" "$T/good_ca.pub"; then
		ok "$1: installed CA key and KRL unchanged"
	else
		fail "$1: installed CA key and KRL unchanged"
	fi
}

# --- the real server, one revoked certificate ------------------------------
api_start "" || exit 1
api_tokens alice bob || exit 1
TOK_alice=${TOK_alice:?} TOK_bob=${TOK_bob:?}
make_user_key ed25519 "$T/k"
new_request "$TOK_alice" ops 20m "INC-7 sync" "$T/k"
api "$TOK_bob" POST "/v1/requests/$RID/approve" '{}'
api "$TOK_alice" GET "/v1/requests/$RID/certificate"
printf '%s\n' "$RB" >"$T/k-cert.pub"
make_user_key ed25519 "$T/k2"
new_request "$TOK_alice" ops 20m "INC-8 sync" "$T/k2"
api "$TOK_bob" POST "/v1/requests/$RID/approve" '{}'
api "$TOK_alice" GET "/v1/requests/$RID/certificate"
printf '%s\n' "$RB" >"$T/k2-cert.pub"
api "$TOK_bob" POST "/v1/requests/$RID/revoke" '{}'
assert_eq 200 "$STATUS" "revoke the second grant"

sync_to "$JURL"
assert_rc 0 "first sync installs"
assert_contains "$OUT" "installed KRL version 1" "and says what it installed"
assert_eq "$(curl -s "$JURL/v1/ca")" "$(cat "$ETC/jit_ca.pub")" \
	"the CA key is the server's"
assert_file_mode 644 "$ETC/jit_ca.pub" "CA key file is 0644"
assert_file_mode 644 "$ETC/jit.krl" "KRL file is 0644"
run ssh-keygen -Q -f "$ETC/jit.krl" "$T/k2-cert.pub"
assert_contains "$OUT" "REVOKED" "installed KRL: revoked cert is REVOKED"
run ssh-keygen -Q -f "$ETC/jit.krl" "$T/k-cert.pub"
assert_eq 0 "$RC" "installed KRL: live cert is ok"
no_temp_files "first sync"
cp "$ETC/jit.krl" "$T/good.krl"
cp "$ETC/jit_ca.pub" "$T/good_ca.pub"

sync_to "$JURL"
assert_rc 0 "second sync"
assert_contains "$OUT" "is current" "nothing to change"
unchanged "second sync"

# Settings from the environment and from a config file.
run env JIT_SYNC_URL="$JURL" JIT_SYNC_CA_FILE="$ETC/jit_ca.pub" \
	JIT_SYNC_KRL_FILE="$ETC/jit.krl" "$SYNC" --config "$T/empty.conf" -q
assert_rc 0 "settings from the environment"
assert_eq "" "$OUT" "--quiet prints nothing on success"
printf 'URL=%s\nCA_FILE=%s\nKRL_FILE="%s"\n# comment\nTIMEOUT=5\n' \
	"$JURL" "$ETC/jit_ca.pub" "$ETC/jit.krl" >"$T/sync.conf"
run "$SYNC" --config "$T/sync.conf"
assert_rc 0 "settings from a config file"
# shellcheck disable=SC2016  # the literal text is the point
echo 'EVIL=$(touch /tmp/x)' >"$T/bad.conf"
run "$SYNC" --config "$T/bad.conf" --url "$JURL" --ca-file "$ETC/jit_ca.pub" \
	--krl-file "$ETC/jit.krl"
assert_rc 1 "unknown config keys are refused, not run"
fp=$(ssh-keygen -lf "$T/good_ca.pub" | awk '{print $2}')
sync_to "$JURL" --ca-fingerprint "$fp"
assert_rc 0 "the pinned fingerprint matches"
sync_to "$JURL" --ca-fingerprint SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
assert_rc 1 "a different pinned fingerprint is refused"
unchanged "wrong pin"

# --- a fake server ----------------------------------------------------------
FAKE=$T/fake
mkdir -p "$FAKE/v1"
FPORT=$(free_port) || exit 1
jit_bg "$T/fake.log" python3 -m http.server --bind 127.0.0.1 \
	--directory "$FAKE" "$FPORT"
FAKE_PID=$JIT_BG_PID
cp "$T/good_ca.pub" "$FAKE/v1/ca"
echo ok >"$FAKE/ready"
wait_for "curl -sf http://127.0.0.1:$FPORT/ready >/dev/null" 10 ||
	fail "fake server starts" "$(cat "$T/fake.log")"
FURL=http://127.0.0.1:$FPORT

bad_krl() {   # bad_krl DESCRIPTION EXPECTED_MESSAGE (after $FAKE/v1/krl is set)
	sync_to "$FURL"
	assert_rc 1 "$1: exit 1"
	assert_contains "$ERR" "$2" "$1: says why"
	assert_contains "$ERR" "keeping" "$1: says the installed files stay"
	assert_eq 1 "$(printf '%s\n' "$ERR" | grep -c '')" "$1: one line"
	unchanged "$1"
	no_temp_files "$1"
}

printf '<html>502 Bad Gateway</html>\n' >"$FAKE/v1/krl"
bad_krl "garbage KRL" "not a KRL"
: >"$FAKE/v1/krl"
bad_krl "empty KRL" "empty KRL"
{ printf 'SSHKRL\n\0'; head -c 100 /dev/urandom; } >"$FAKE/v1/krl"
bad_krl "corrupt KRL with the magic" "does not parse"
head -c 30 "$T/good.krl" >"$FAKE/v1/krl"
bad_krl "truncated KRL" "does not parse"
ssh-keygen -q -k -f "$FAKE/v1/krl" "$T/good_ca.pub"
bad_krl "KRL revoking the CA key" "revokes the CA key itself"
echo "serial: 999" >"$T/spec"
ssh-keygen -q -k -z 0 -s "$T/good_ca.pub" -f "$FAKE/v1/krl" "$T/spec"
bad_krl "older KRL version" "older than the installed one"
sync_to "$FURL" --allow-rollback
assert_rc 0 "--allow-rollback accepts it"
cp "$T/good.krl" "$ETC/jit.krl"
rm -f "$FAKE/v1/krl"
bad_krl "404 for the KRL" "cannot fetch the KRL"

cp "$T/good.krl" "$FAKE/v1/krl"
make_user_key ed25519 "$T/otherca"
cp "$T/otherca.pub" "$FAKE/v1/ca"
sync_to "$FURL"
assert_rc 1 "a changed CA key is refused"
assert_contains "$ERR" "CA key changed" "and says so"
unchanged "changed CA key"
echo "not a key" >"$FAKE/v1/ca"
sync_to "$FURL"
assert_rc 1 "a garbage CA key is refused"
assert_contains "$ERR" "not a valid public key" "and says so"
unchanged "garbage CA key"
no_temp_files "garbage CA key"

# --- the server is down ------------------------------------------------------
jit_kill "$FAKE_PID"
sync_to "$FURL"
assert_rc 1 "server down: exit 1"
assert_contains "$ERR" "cannot fetch the CA key" "server down: says why"
unchanged "server down"
no_temp_files "server down"
api_stop
sync_to "$JURL" --timeout 3
assert_rc 1 "the real server stopped: exit 1"
unchanged "the real server stopped"

# --- usage -------------------------------------------------------------------
run "$SYNC" --config "$T/empty.conf"
assert_rc 2 "no URL is a usage error"
sync_to http://jit.example.invalid
assert_rc 1 "plain http to a remote host is refused"
assert_contains "$ERR" "refusing plain http" "and says why"
sync_to "$JURL" --bogus
assert_rc 2 "unknown option"
run "$SYNC" --help
assert_rc 0 "--help"

finish
