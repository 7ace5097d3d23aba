#!/bin/bash
# Grants exactly as approved across a policy reload: a reload that
# narrows a role ends the pending requests it would refuse (expired,
# reason policy_changed) and revokes the active grant of a requester it
# removed (the serial joins the KRL, and a real sshd reading that KRL
# refuses the certificate); `jit-ca policy check --data` says so before
# the reload and changes nothing.  A reload that only adds extensions
# leaves an issued certificate's bytes as they were.  A far start is
# refused (start_too_far), a near one is shown to the approver.  The
# request's missing list follows a two-person rule at 0, 1 and 2
# approvals.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/api-lib.sh"

need_env JIT_CA
need_sshd
need_root
need_cmd curl jq
ensure_test_users
U1=$JIT_USER1

api_start || { fail "server starts"; finish; }
api_tokens alice bob carol dave frank || exit 1
curl -sf "$JURL/v1/ca" >"$T/ca.pub"
make_user_key ed25519 "$T/user_key"

# ---- missing: the two-person rule at 0, 1 and 2 approvals ------------------
new_request "$TOK_alice" twoman 1h
TWO=$RID
assert_eq '[{"count":1,"from":"group:security"},{"count":1,"from":"any approver"}]' \
	"$(jget "$RB" '.missing' | jq -c .)" "0 approvals: one from security, one more"
api "$TOK_bob" POST "/v1/requests/$TWO/approve" '{}'
assert_eq '[{"count":1,"from":"group:security"}]' "$(jget "$RB" '.missing' | jq -c .)" \
	"1 approval (sre): still one from security"
api "$TOK_dave" POST "/v1/requests/$TWO/approve" '{}'
assert_eq '[{"count":1,"from":"group:security"}]' "$(jget "$RB" '.missing' | jq -c .)" \
	"2 approvals (both sre): still one from security"
api "$TOK_carol" POST "/v1/requests/$TWO/approve" '{}'
assert_eq "approved []" "$(jget "$RB" .state) $(jget "$RB" '.missing' | jq -c .)" \
	"security approves: approved, nothing missing"

# ---- start: too far is refused, near is what the approver sees ---------------
far=$(date -u -d '+400 days' +%Y-%m-%dT%H:%M:%SZ)
body=$(jq -cn --arg k "$(cat "$T/user_key.pub")" --arg s "$far" \
	'{role: "ops", duration: "10m", reason: "INC-1", public_key: $k, start: $s}')
api "$TOK_alice" POST /v1/requests "$body"
assert_eq "400 start_too_far" "$STATUS $(jget "$RB" .error)" \
	"a start 400 days ahead is refused"
body=$(jq -cn --arg k "$(cat "$T/user_key.pub")" \
	'{role: "ops", duration: "10m", reason: "INC-1", public_key: $k, start: "2027-02-31T00:00:00Z"}')
api "$TOK_alice" POST /v1/requests "$body"
assert_eq 400 "$STATUS" "February 31st is not a date"
near=$(date -u -d '+30 minutes' +%Y-%m-%dT%H:%M:%SZ)
body=$(jq -cn --arg k "$(cat "$T/user_key.pub")" --arg s "$near" \
	'{role: "ops", duration: "10m", reason: "INC-2", public_key: $k, start: $s}')
api "$TOK_alice" POST /v1/requests "$body"
assert_eq 201 "$STATUS" "a start within max_start_ahead (1h for ops) is taken"
NEAR=$(jget "$RB" .id)
api "$TOK_bob" GET "/v1/requests?state=pending"
assert_eq "$near 600" "$(jget "$RB" ".requests[] | select(.id == \"$NEAR\") | \"\(.start) \(.duration)\"")" \
	"the approver's list shows the start and the duration"
api "$TOK_bob" POST "/v1/requests/$NEAR/approve" '{}'
assert_eq "$near" "$(jget "$RB" .not_before)" "approved: the window starts at start"

# ---- an active grant of frank's and pending requests --------------------------
make_user_key ed25519 "$T/frank"
new_request "$TOK_frank" auto 5m "" "$T/frank"
FRANK=$RID
api "$TOK_frank" GET "/v1/requests/$FRANK/certificate"
assert_eq 200 "$STATUS" "frank's auto grant: certificate"
printf '%s\n' "$RB" >"$T/frank-cert.pub"
FRANK_SERIAL=$(curl -s -H "Authorization: Bearer $TOK_dave" "$JURL/v1/requests/$FRANK" | jq -r .serial)

make_user_key ed25519 "$T/alice2"
new_request "$TOK_alice" auto 5m "" "$T/alice2"
ALICE_AUTO=$RID
api "$TOK_alice" GET "/v1/requests/$ALICE_AUTO/certificate"
printf '%s\n' "$RB" >"$T/alice-auto-cert.pub"

new_request "$TOK_alice" ops 50m "INC-3"
LONG=$RID          # over the narrowed max_duration: will be refused
new_request "$TOK_alice" ops 10m "INC-4"
SHORT=$RID         # fits the narrowed role, but its terms change
new_request "$TOK_frank" other 10m "INC-5" 2>/dev/null
OTHER=$RID         # role "other" is untouched

# The narrowed policy: auto no longer for frank, ops at most 30m and with
# one more extension (its terms change).
cp "$T/policy.yaml" "$T/policy.good"
sed -e 's/^    requesters: \[group:dev, frank\]/    requesters: [group:dev]/' \
	-e '/^  ops:/,/^  [a-z]*:$/ s/^    max_duration: 1h/    max_duration: 30m/' \
	-e '/^  ops:/,/^  [a-z]*:$/ s/^    extensions: \[permit-pty\]/    extensions: [permit-pty, permit-agent-forwarding]/' \
	"$T/policy.good" >"$T/policy.narrow"
assert_run_ok "the narrowed policy is valid" "$JIT_CA" policy check "$T/policy.narrow"

# ---- the dry run says what the reload would end -----------------------------
a0=$(audit_count)
assert_run_ok "policy check --data (dry run)" \
	"$JIT_CA" policy check "${STORE_ARGS[@]}" "$T/policy.narrow"
assert_contains "$OUT" "would revoke $FRANK (frank, role auto" "dry run: frank's grant revoked"
assert_contains "$OUT" "would expire $LONG (alice, role ops" "dry run: the long ops request expires"
assert_contains "$OUT" "would expire $SHORT (alice, role ops" "dry run: ops terms changed"
assert_not_contains "$OUT" "$OTHER" "dry run: the untouched role's request stays"
assert_not_contains "$OUT" "$ALICE_AUTO" "dry run: alice's auto grant stays"
assert_eq "$a0" "$(audit_count)" "the dry run wrote nothing"
assert_eq pending "$(curl -s -H "Authorization: Bearer $TOK_dave" "$JURL/v1/requests/$LONG" | jq -r .state)" \
	"the dry run changed nothing"

# ---- the reload ---------------------------------------------------------------
cp "$T/policy.narrow" "$T/policy.yaml"
kill -HUP "$API_PID"
wait_for "grep -q 'grant(s) revoked' '$API_LOG'" 10
state() { curl -s -H "Authorization: Bearer $TOK_dave" "$JURL/v1/requests/$1" | jq -r "$2"; }
assert_eq "revoked system policy_changed" \
	"$(state "$FRANK" '"\(.state) \(.revoked_by) \(.end_reason)"')" \
	"frank's active grant is revoked by the reload (end_reason policy_changed)"
assert_eq "expired policy_changed" "$(state "$LONG" '"\(.state) \(.end_reason)"')" \
	"a pending request over the new maximum expires (end_reason policy_changed)"
assert_eq expired "$(state "$SHORT" .state)" "a pending request whose role's terms changed expires"
assert_eq pending "$(state "$OTHER" .state)" "a request of an untouched role stays"
assert_eq approved "$(state "$ALICE_AUTO" .state)" "an eligible requester's grant stays"
assert_eq policy_changed "$(curl -s -H "Authorization: Bearer $TOK_dave" \
	"$JURL/v1/audit?event=request.expire" | jq -r "select(.request == \"$LONG\") | .reason")" \
	"the expiry's audit entry says policy_changed"
assert_eq "policy_changed $(sha256sum "$T/policy.yaml" | cut -d" " -f1)" "$(curl -s -H "Authorization: Bearer $TOK_dave" \
	"$JURL/v1/audit?event=request.revoke" | jq -r "select(.request == \"$FRANK\") | \"\(.reason) \(.policy_hash)\"")" \
	"the revocation's audit entry names the new policy"

# ---- the KRL and a real sshd ------------------------------------------------------
curl -sf "$JURL/v1/krl" -o "$T/sshd.krl"
assert_match "$(ssh-keygen -Q -f "$T/sshd.krl" "$T/frank-cert.pub" 2>&1)" REVOKED \
	"frank's serial $FRANK_SERIAL is in the KRL"
start_sshd --ca "$T/ca.pub" --krl "$T/sshd.krl" --allow-users "$JIT_USER2" || exit 1
assert_login_refused "sshd with the synced KRL refuses frank's certificate" \
	"$T/frank" "$T/frank-cert.pub" "$JIT_USER2"
# The auto role forces /bin/echo forced: that output is the login.
assert_eq forced "$(ssh_try "$T/alice2" "$T/alice-auto-cert.pub" "$JIT_USER2")" \
	"and accepts alice's, whose grant stayed (its forced command ran)"

# ---- a reload that only adds extensions: issued bytes stay ------------------
before=$(cat "$T/alice-auto-cert.pub")
sed -e '/^  auto:/,/^  [a-z]*:$/ s/^    extensions: \[permit-pty\]/    extensions: [permit-pty, permit-X11-forwarding]/' \
	"$T/policy.narrow" >"$T/policy.yaml"
kill -HUP "$API_PID"
wait_for "[ \$(grep -c 'policy reloaded' '$API_LOG') -ge 2 ]" 10
api "$TOK_alice" GET "/v1/requests/$ALICE_AUTO/certificate"
assert_eq "$before" "$RB" "after a reload that adds extensions the certificate is the same bytes"
assert_not_contains "$(ssh-keygen -L -f "$T/alice-auto-cert.pub")" "permit-X11-forwarding" \
	"and carries the recorded extensions only"
finish
