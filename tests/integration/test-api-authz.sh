#!/bin/bash
# test-api-authz.sh - the API's authorization matrix.  Every refused call
# must get the right status AND change nothing: the request read back
# (as an admin) is byte-identical and the audit log has no new entry.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/api-lib.sh"

need_env JIT_CA
need_cmd curl jq

api_policy
api_start || { fail "server starts"; finish; }
api_tokens alice bob carol dave erin frank gina || { fail "tokens"; finish; }
make_user_key ed25519 "$T/user_key"

# refused EXPECTED MSG TOKEN METHOD PATH [BODY]: the call gets EXPECTED and
# request $SNAP (read by dave, an admin) and the audit count are unchanged.
refused() {
	local exp=$1 msg=$2 before a0
	shift 2
	api "$TOK_dave" GET "/v1/requests/$SNAP"
	before=$RB
	a0=$(audit_count)
	api "$@"
	assert_eq "$exp" "$STATUS" "$msg -> $exp"
	api "$TOK_dave" GET "/v1/requests/$SNAP"
	assert_eq "$before" "$RB" "$msg: request unchanged"
	assert_eq "$a0" "$(audit_count)" "$msg: nothing audited"
}

# The same for a refusal an auditor must see: the request is unchanged
# and exactly one "request.refused" entry was written.
refused_audited() {
	local exp=$1 msg=$2 before a0 r0
	shift 2
	api "$TOK_dave" GET "/v1/requests/$SNAP"
	before=$RB
	a0=$(audit_count)
	r0=$(audit_event_count request.refused)
	api "$@"
	assert_eq "$exp" "$STATUS" "$msg -> $exp"
	api "$TOK_dave" GET "/v1/requests/$SNAP"
	assert_eq "$before" "$RB" "$msg: request unchanged"
	assert_eq $((a0 + 1)) "$(audit_count)" "$msg: one audit entry"
	assert_eq $((r0 + 1)) "$(audit_event_count request.refused)" \
		"$msg: audited as request.refused"
}

# ---- a pending ops request by alice ------------------------------------
new_request "$TOK_alice" ops 20m "INC-7"
P1=$RID
SNAP=$P1
assert_eq 201 "$STATUS" "alice requests ops"

refused 403 "non-approver (carol, security) approves ops" \
	"$TOK_carol" POST "/v1/requests/$P1/approve" '{}'
refused 403 "requester of another role (frank) approves" \
	"$TOK_frank" POST "/v1/requests/$P1/approve" '{}'
refused_audited 403 "requester approves her own request" \
	"$TOK_alice" POST "/v1/requests/$P1/approve" '{}'
refused 403 "non-approver denies" \
	"$TOK_frank" POST "/v1/requests/$P1/deny" '{"comment":"no"}'
refused 403 "someone else cancels" \
	"$TOK_bob" POST "/v1/requests/$P1/cancel"
refused 409 "certificate before approval" \
	"$TOK_alice" GET "/v1/requests/$P1/certificate"
refused 409 "revoke a pending request" \
	"$TOK_dave" POST "/v1/requests/$P1/revoke" '{}'
refused 403 "frank reads alice's request" \
	"$TOK_frank" GET "/v1/requests/$P1"
refused 403 "carol (not an ops approver) reads it" \
	"$TOK_carol" GET "/v1/requests/$P1"
refused 401 "no token" "" GET "/v1/requests/$P1"
refused 401 "garbage token" "jit_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" \
	POST "/v1/requests/$P1/approve" '{}'
api "$TOK_erin" GET "/v1/requests/$P1"
assert_eq 200 "$STATUS" "auditor reads any request"
api "$TOK_bob" GET "/v1/requests/$P1"
assert_eq 200 "$STATUS" "eligible approver reads it"

# ---- self-approval: bob (dev + sre) asks for ops ------------------------
new_request "$TOK_bob" ops 20m "INC-8"
SNAP=$RID
refused_audited 403 "self-approval (bob approves his own ops request)" \
	"$TOK_bob" POST "/v1/requests/$SNAP/approve" '{}'
api "$TOK_dave" POST "/v1/requests/$SNAP/approve" '{}'
assert_eq approved "$(jget "$RB" .state)" "another sre approves bob's request"
# ... but a role with self_approval: true lets him.
new_request "$TOK_bob" self 10m
api "$TOK_bob" POST "/v1/requests/$RID/approve" '{}'
assert_eq 200 "$STATUS" "self_approval: true -> own approval allowed"
assert_eq approved "$(jget "$RB" .state)" "self-approved"

# ---- the same approver twice ---------------------------------------------
new_request "$TOK_alice" twoman 1h
SNAP=$RID
api "$TOK_bob" POST "/v1/requests/$SNAP/approve" '{}'
assert_eq 200 "$STATUS" "first approval by bob"
refused 409 "second approval by the same person" \
	"$TOK_bob" POST "/v1/requests/$SNAP/approve" '{"comment":"again"}'
assert_eq 1 "$(jget "$RB" '.approvals | length')" "counted once"

# ---- someone else's certificate ---------------------------------------------
api "$TOK_bob" POST "/v1/requests/$P1/approve" '{}'
assert_eq approved "$(jget "$RB" .state)" "bob approves alice's ops request"
SNAP=$P1
refused 403 "bob fetches alice's certificate" \
	"$TOK_bob" GET "/v1/requests/$P1/certificate"
refused 403 "an admin fetches alice's certificate" \
	"$TOK_dave" GET "/v1/requests/$P1/certificate"
refused 409 "approve an approved request" \
	"$TOK_dave" POST "/v1/requests/$P1/approve" '{}'
refused 409 "cancel an approved request" \
	"$TOK_alice" POST "/v1/requests/$P1/cancel"
refused 403 "requester of another role revokes" \
	"$TOK_frank" POST "/v1/requests/$P1/revoke" '{}'
api "$TOK_alice" GET "/v1/requests/$P1/certificate"
assert_eq 200 "$STATUS" "the requester gets her certificate"

# ---- after denial, after the window --------------------------------------------
new_request "$TOK_alice" ops 10m "INC-9"
SNAP=$RID
api "$TOK_bob" POST "/v1/requests/$SNAP/deny" '{"comment":"no"}'
assert_eq denied "$(jget "$RB" .state)" "denied"
refused 409 "certificate after denial" \
	"$TOK_alice" GET "/v1/requests/$SNAP/certificate"
refused 409 "approve after denial" \
	"$TOK_dave" POST "/v1/requests/$SNAP/approve" '{}'

new_request "$TOK_alice" auto 1
SNAP=$RID
sleep 2
refused 409 "certificate after the window" \
	"$TOK_alice" GET "/v1/requests/$SNAP/certificate"
refused 409 "revoke after the window" \
	"$TOK_dave" POST "/v1/requests/$SNAP/revoke" '{}'

# ---- policy refuses the requester ----------------------------------------------
m0=$(curl -s "$JURL/metrics" | awk '/^jit_requests\{/{s+=$2} END{print s}')
a0=$(audit_count)
new_request "$TOK_frank" ops 10m "INC-1"
assert_eq 403 "$STATUS" "frank may not request ops"
new_request "$TOK_carol" auto
assert_eq 403 "$STATUS" "carol may not request auto"
assert_eq "$m0" "$(curl -s "$JURL/metrics" | awk '/^jit_requests\{/{s+=$2} END{print s}')" \
	"refused requests are not stored"
assert_eq $((a0 + 2)) "$(audit_count)" \
	"each refused request is audited once (request.refused)"
curl -s -H "Authorization: Bearer $TOK_dave" \
	"$JURL/v1/audit?event=request.refused&user=frank" | grep -q '"role":"ops"'
ok "frank's refused ops request is in the audit log with its role"

# ---- revoked and expired tokens ---------------------------------------------------
T2=$("$JIT_CA" token create alice --config "$T/server.yaml" 2>/dev/null)
api "$T2" GET /v1/whoami
assert_eq 200 "$STATUS" "fresh token works"
run "$JIT_CA" token list --config "$T/server.yaml"
assert_not_contains "$OUT" "${T2:4}" "token list never shows a token"
# Find the id of T2: the newest alice token.
TID=$("$JIT_CA" token list --json --config "$T/server.yaml" |
	jq -rs 'map(select(.user == "alice")) | sort_by(.created_at) | last | .id')
assert_run_ok "token revoke" "$JIT_CA" token revoke "$TID" --config "$T/server.yaml"
SNAP=$P1
refused 401 "revoked token" "$T2" GET "/v1/requests/$P1"
api "$T2" GET /v1/whoami
assert_eq 401 "$STATUS" "revoked token: whoami 401"
api "$TOK_alice" GET /v1/whoami
assert_eq 200 "$STATUS" "alice's other token still works"
T3=$("$JIT_CA" token create alice --ttl 1s --config "$T/server.yaml" 2>/dev/null)
sleep 2
api "$T3" GET /v1/whoami
assert_eq 401 "$STATUS" "expired token: 401"
assert_one_line_error "token for a user not in the policy" \
	"$JIT_CA" token create mallory --config "$T/server.yaml"
assert_one_line_error "revoke an unknown token id" \
	"$JIT_CA" token revoke t-000000000000 --config "$T/server.yaml"

# ---- a session never issues a certificate ---------------------------------------
# The page's session may create a request, but certificates are for bearer
# tokens only (docs/API.md, "Sessions"): an auto grant created through a
# session is approved without one, and the requester's token fetches it.
rm -f "$T/jar"
STATUS=$(curl -s -c "$T/jar" -o "$T/.si" -w '%{http_code}' -X POST \
	-H "Origin: $JURL" -H 'Content-Type: application/json' \
	--data-binary "{\"token\":\"$TOK_alice\"}" "$JURL/v1/session")
assert_eq 201 "$STATUS" "alice signs in for a session"
CSRF=$(jq -r .csrf_token "$T/.si")
a0=$(audit_count)
STATUS=$(curl -s -b "$T/jar" -o "$T/.p" -w '%{http_code}' -X POST \
	-H "Origin: $JURL" -H "X-CSRF-Token: $CSRF" \
	-H 'Content-Type: application/json' --data-binary "$(jq -cn \
	--arg k "$(cat "$T/user_key.pub")" '{role: "auto", public_key: $k}')" \
	"$JURL/v1/requests")
RB=$(cat "$T/.p")
assert_eq 201 "$STATUS" "a session creates an auto grant"
assert_eq approved "$(jget "$RB" .state)" "session's auto grant: approved"
assert_eq null "$(jget "$RB" .certificate)" "session's 201: no certificate"
assert_eq null "$(jget "$RB" .serial)" "session's 201: nothing issued"
assert_eq $((a0 + 1)) "$(audit_count)" "session's create: request.create only"
SID=$(jget "$RB" .id)
api "$TOK_alice" GET "/v1/requests/$SID/certificate"
assert_eq 200 "$STATUS" "the requester's token fetches it"

# ---- unknown ids ------------------------------------------------------------------
api "$TOK_alice" GET "/v1/requests/r-aaaaaaaaaaaa"
assert_eq 404 "$STATUS" "unknown request id: 404"
api "$TOK_alice" GET "/v1/requests/r-a%2Ab"
assert_eq 404 "$STATUS" "malformed request id: 404"
api "$TOK_alice" GET "/v1/requests/..%2f..%2fetc"
assert_eq 400 "$STATUS" "encoded slashes in the path: 400"

api_stop
assert_eq 0 "$API_RC" "clean exit"
finish
