#!/bin/bash
# Early revocation end to end: two approved grants, both certificates
# fetched, one revoked.  GET /v1/krl is a KRL that ssh-keygen -Q reads:
# the revoked cert is REVOKED, the live one ok; `jit-ca krl` (run while the
# server runs) writes the same bytes; a real sshd with RevokedKeys refuses
# the revoked cert and accepts the live one.  A revoked short grant drops
# out of the KRL once it has expired (plus the clock_skew grace).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/api-lib.sh"

need_env JIT_CA
need_sshd
need_root
need_cmd curl jq od cmp
ensure_test_users
U1=$JIT_USER1

# A 2 s clock_skew: that is also how long an expired revoked cert stays
# in the KRL, and this test waits for it.
API_CLOCK_SKEW=2s api_start || { fail "server starts"; finish; }
api_tokens alice bob dave || exit 1
TOK_alice=${TOK_alice:?} TOK_bob=${TOK_bob:?} TOK_dave=${TOK_dave:?}

curl -sf "$JURL/v1/ca" >"$T/ca.pub"
assert_match "$(cat "$T/ca.pub")" '^ssh-ed25519 ' "GET /v1/ca"

# A grant with a fetched cert: sets RID and writes $T/NAME-cert.pub.
grant() {
	local name=$1 dur=$2
	make_user_key ed25519 "$T/$name"
	new_request "$TOK_alice" ops "$dur" "INC-42 $name" "$T/$name"
	[ "$STATUS" = 201 ] || { fail "create $name" "$STATUS $RB"; return 1; }
	api "$TOK_bob" POST "/v1/requests/$RID/approve" '{"comment":"ok"}'
	[ "$(jget "$RB" .state)" = approved ] ||
		{ fail "approve $name" "$STATUS $RB"; return 1; }
	api "$TOK_alice" GET "/v1/requests/$RID/certificate"
	[ "$STATUS" = 200 ] || { fail "fetch $name" "$STATUS $RB"; return 1; }
	printf '%s\n' "$RB" >"$T/$name-cert.pub"
}

# Query a KRL: prints "ok" or "REVOKED" (ssh-keygen -Q), sets QRC.
krl_q() {
	local out
	out=$(ssh-keygen -Q -f "$1" "$2" 2>&1)
	QRC=$?
	case $out in
	*REVOKED*) echo REVOKED ;;
	*": ok"*) echo ok ;;
	*) echo "error: $out" ;;
	esac
}

fetch_krl() {
	curl -s -o "$1" -w '%{http_code} %{content_type}' "$JURL/v1/krl"
}

# --- nothing revoked yet --------------------------------------------------
grant live 20m || finish
grant gone 20m || finish
GONE=$RID
grant short 5s || finish
SHORT=$RID

run fetch_krl "$T/empty.krl"
assert_eq "200 application/octet-stream" "$OUT" \
	"GET /v1/krl needs no token, answers a binary body"
assert_eq ok "$(krl_q "$T/empty.krl" "$T/live-cert.pub")" \
	"empty KRL: live cert ok"
assert_eq ok "$(krl_q "$T/empty.krl" "$T/gone-cert.pub")" \
	"empty KRL: to-be-revoked cert ok"

# --- revoke -----------------------------------------------------------------
audit_before=$(audit_count)
api "$TOK_bob" POST "/v1/requests/$GONE/revoke" '{"comment":"INC-42 done"}'
assert_eq "200 revoked bob" "$STATUS $(jget "$RB" .state) $(jget "$RB" .revoked_by)" \
	"bob (approver) revokes a grant"
assert_eq $((audit_before + 1)) "$(audit_count)" "the revocation is one audit entry"
gone_serial=$(jget "$RB" .serial)
assert_match "$gone_serial" '^[1-9][0-9]*$' "the revoked request keeps its serial"
api "$TOK_dave" POST "/v1/requests/$SHORT/revoke"
assert_eq "200 revoked" "$STATUS $(jget "$RB" .state)" "dave (admin) revokes the short grant"
# Revoked before any cert was fetched: nothing to list, nothing breaks.
make_user_key ed25519 "$T/nocert"
new_request "$TOK_alice" ops 10m "INC-43 nocert" "$T/nocert"
api "$TOK_bob" POST "/v1/requests/$RID/approve" '{}'
api "$TOK_bob" POST "/v1/requests/$RID/revoke" '{}'
assert_eq "200 revoked" "$STATUS $(jget "$RB" .state)" "revoke before any cert was issued"
api "$TOK_alice" GET "/v1/requests/$RID/certificate"
assert_eq 409 "$STATUS" "no certificate for a revoked grant"

run fetch_krl "$T/served.krl"
assert_eq "200 application/octet-stream" "$OUT" "GET /v1/krl after revoking"
assert_eq REVOKED "$(krl_q "$T/served.krl" "$T/gone-cert.pub")" \
	"ssh-keygen -Q: the revoked cert is REVOKED"
krl_q "$T/served.krl" "$T/gone-cert.pub" >/dev/null
assert_eq 1 "$QRC" "ssh-keygen -Q exits 1 for the revoked cert"
assert_eq ok "$(krl_q "$T/served.krl" "$T/live-cert.pub")" \
	"ssh-keygen -Q: the live cert is ok"
krl_q "$T/served.krl" "$T/live-cert.pub" >/dev/null
assert_eq 0 "$QRC" "ssh-keygen -Q exits 0 for the live cert"
assert_eq REVOKED "$(krl_q "$T/served.krl" "$T/short-cert.pub")" \
	"the revoked short grant is listed while it is valid"
assert_eq ok "$(krl_q "$T/served.krl" "$T/ca.pub")" \
	"the KRL does not revoke the CA key itself"
assert_eq "5353484b524c0a00" "$(head -c 8 "$T/served.krl" | od -An -tx1 | tr -d ' \n')" \
	"KRL magic"
# Written by us: no signature section, no ssh-keygen in the server path.
assert_eq 4 "$(od -An -v -tu1 -j12 -N8 "$T/served.krl" | awk '{print $8}')" \
	"krl_version: 3 revoked + 1 not listed (the one without a cert)"

api "" POST /v1/krl '{}'
assert_eq 405 "$STATUS" "POST /v1/krl is 405"

# --- offline, while the server runs ---------------------------------------
assert_run_ok "jit-ca krl --config -o F while the server runs" \
	"$JIT_CA" krl --config "$T/server.yaml" -o "$T/offline.krl"
assert_contains "$ERR" "2 revoked certificates listed" "jit-ca krl reports the count"
if cmp -s "$T/served.krl" "$T/offline.krl"; then
	ok "jit-ca krl writes the same bytes as GET /v1/krl"
else
	fail "jit-ca krl writes the same bytes as GET /v1/krl" \
		"served:  $(od -An -tx1 "$T/served.krl" | tr -d '\n')" \
		"offline: $(od -An -tx1 "$T/offline.krl" | tr -d '\n')"
fi
assert_file_mode 644 "$T/offline.krl" "the offline KRL is 0644"
assert_run_ok "jit-ca krl --data DIR > FILE" \
	bash -c "'$JIT_CA' krl --data '$T/data' --grace 2s >'$T/stdout.krl'"
assert_run_ok "stdout KRL is the same" cmp "$T/served.krl" "$T/stdout.krl"
assert_one_line_error "jit-ca krl without a CA" \
	"$JIT_CA" krl --data "$T/nowhere" -o "$T/x.krl"
assert_one_line_error "jit-ca krl with a bad --grace" \
	"$JIT_CA" krl --data "$T/data" --grace soon -o "$T/x.krl"
if [ -e "$T/x.krl" ]; then fail "a failed jit-ca krl leaves no file"; else
	ok "a failed jit-ca krl leaves no file"
fi

# --- a real sshd ------------------------------------------------------------
cp "$T/served.krl" "$T/sshd.krl"
start_sshd --ca "$T/ca.pub" --krl "$T/sshd.krl" --allow-users "$U1" || exit 1
sshd_log_mark
assert_login_refused "sshd refuses the revoked certificate" \
	"$T/gone" "$T/gone-cert.pub" "$U1"
if sshd_log_grep "revoked"; then ok "sshd logs the revocation"; else
	fail "sshd logs the revocation" "$(sshd_log_since | tail -n 5)"
fi
assert_login_ok "sshd accepts the live certificate" \
	"$T/live" "$T/live-cert.pub" "$U1"

# --- expired revoked certs drop out ---------------------------------------
short_end=$(date -d "$(jget "$(curl -s -H "Authorization: Bearer $TOK_alice" \
	"$JURL/v1/requests/$SHORT")" .not_after)" +%s)
now=$(date +%s)
wait_s=$((short_end + 2 - now + 1))
[ "$wait_s" -gt 0 ] && sleep "$wait_s"
run fetch_krl "$T/later.krl"
assert_eq ok "$(krl_q "$T/later.krl" "$T/short-cert.pub")" \
	"an expired revoked cert is no longer in the KRL"
assert_eq REVOKED "$(krl_q "$T/later.krl" "$T/gone-cert.pub")" \
	"the unexpired revoked cert still is"
assert_eq 5 "$(od -An -v -tu1 -j12 -N8 "$T/later.krl" | awk '{print $8}')" \
	"krl_version grew when the entry dropped out (3 revoked + 2 not listed)"
assert_run_ok "jit-ca krl agrees after the expiry" \
	"$JIT_CA" krl --config "$T/server.yaml" -o "$T/offline2.krl"
assert_contains "$ERR" "2 left out" "jit-ca krl counts the expired one (and the one without a cert)"
assert_run_ok "and writes the same bytes" cmp "$T/later.krl" "$T/offline2.krl"
cp "$T/later.krl" "$T/sshd.krl"
assert_login_refused "sshd (re-reading the KRL) still refuses the revoked cert" \
	"$T/gone" "$T/gone-cert.pub" "$U1"
assert_login_ok "and still accepts the live one" \
	"$T/live" "$T/live-cert.pub" "$U1"

finish
