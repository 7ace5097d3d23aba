#!/bin/bash
# test-api-flow.sh - the approval API end to end over real HTTP: token
# create, request, long-poll, approve, certificate accepted by a real sshd
# with valid_before == the grant's end; auto-approval with the role's cert
# options; deny, cancel, revoke; a two-person rule; listing; pending
# expiry and grant end by the sweeper; SIGHUP reload (a broken policy
# keeps the last good one); clean SIGTERM exit.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/api-lib.sh"

need_env JIT_CA
need_cmd curl jq
need_root
need_sshd
ensure_test_users

api_policy
api_start || { fail "server starts"; finish; }
ok "server starts on $JURL"
api_tokens alice bob carol dave erin frank gina || { fail "tokens"; finish; }
assert_match "$TOK_alice" '^jit_[A-Za-z0-9_-]{43}$' "token has the jit_ form"
make_user_key ed25519 "$T/user_key"

# ---- anonymous endpoints ------------------------------------------------
api "" GET /healthz
assert_eq 200 "$STATUS" "healthz 200"
assert_eq true "$(jget "$RB" .ok)" "healthz ok:true"
api "" GET /v1/ca
assert_eq 200 "$STATUS" "GET /v1/ca 200"
assert_eq "$(cut -d' ' -f1-2 "$T/data/ca_key.pub")" "$(echo "$RB" | cut -d' ' -f1-2)" \
	"/v1/ca is the CA public key"
echo "$RB" >"$T/ca.pub"

# ---- whoami -------------------------------------------------------------
api "$TOK_alice" GET /v1/whoami
assert_eq 200 "$STATUS" "whoami 200"
assert_eq alice "$(jget "$RB" .user)" "whoami user"
assert_eq false "$(jget "$RB" .admin)" "alice is not admin"
assert_eq true "$(jget "$RB" '.can_request | index("ops") != null')" "alice may request ops"
api "$TOK_dave" GET /v1/whoami
assert_eq true "$(jget "$RB" .admin)" "dave is admin"
assert_eq '["auto","ops","quick","self","twoman"]' "$(jget "$RB" '.can_approve | sort | tojson')" \
	"dave may approve the sre roles"
api "$TOK_erin" GET /v1/whoami
assert_eq true "$(jget "$RB" .auditor)" "erin is auditor"

# ---- request -> long-poll -> approve -> certificate -> sshd --------------
A0=$(audit_count)
new_request "$TOK_alice" ops 30m "INC-1234 fix replication"
assert_eq 201 "$STATUS" "create request: 201"
assert_match "$RID" '^r-[a-z2-7]{12}$' "request id form"
assert_eq pending "$(jget "$RB" .state)" "new request is pending"
assert_eq 1800 "$(jget "$RB" .duration)" "duration 30m = 1800 s"
assert_eq 1 "$(jget "$RB" .approvals_needed)" "approvals_needed 1"
assert_eq "$JIT_USER1" "$(jget "$RB" '.principals[0]')" "principals from the role"
assert_eq "INC-1234 fix replication" "$(jget "$RB" .reason)" "reason stored"
assert_match "$(jget "$RB" .key_fingerprint)" '^SHA256:' "key fingerprint"
assert_ne "" "$(jget "$RB" '.expires_at // empty')" "pending request has expires_at"
assert_eq null "$(jget "$RB" .certificate)" "a pending request has no certificate"
assert_eq $((A0 + 1)) "$(audit_count)" "request.create audited"

curl -s -H "Authorization: Bearer $TOK_alice" "$JURL/v1/requests/$RID?wait=15" \
	>"$T/poll.json" &
POLL=$!
sleep 1
t0=$(date +%s)
api "$TOK_bob" POST "/v1/requests/$RID/approve" '{"comment":"go ahead"}'
assert_eq 200 "$STATUS" "approve: 200"
assert_eq approved "$(jget "$RB" .state)" "approved after one sre approval"
assert_eq bob "$(jget "$RB" '.approvals[0].user')" "approval recorded"
assert_eq "go ahead" "$(jget "$RB" '.approvals[0].comment')" "approval comment"
assert_eq null "$(jget "$RB" .certificate)" "an approval brings no certificate"
NB=$(jget "$RB" .not_before)
NA=$(jget "$RB" .not_after)
assert_eq 1800 $(($(date -ud "$NA" +%s) - $(date -ud "$NB" +%s))) "window = duration"
wait "$POLL"
t1=$(date +%s)
assert_eq approved "$(jq -r .state "$T/poll.json")" "long-poll returns the new state"
[ $((t1 - t0)) -lt 5 ] && ok "long-poll woke at once ($((t1 - t0)) s)" ||
	fail "long-poll woke late ($((t1 - t0)) s)"
assert_eq $((A0 + 2)) "$(audit_count)" "request.approve audited"

api "$TOK_alice" GET "/v1/requests/$RID/certificate"
assert_eq 200 "$STATUS" "certificate: 200"
printf '%s\n' "$RB" >"$T/user_key-cert.pub"
assert_eq $((A0 + 3)) "$(audit_count)" "cert.issue audited"
L=$(TZ=UTC ssh-keygen -L -f "$T/user_key-cert.pub")
assert_contains "$L" "Key ID: \"alice req=$RID role=ops\"" "key id names user, request, role"
assert_contains "$L" "to ${NA%Z}" "valid_before == not_after (${NA})"
nb_minus=$(date -ud "@$(($(date -ud "$NB" +%s) - 60))" +%Y-%m-%dT%H:%M:%S)
assert_contains "$L" "from $nb_minus" "valid_after = not_before - clock_skew"
assert_contains "$L" "permit-pty" "extensions from the role"
assert_match "$L" "Serial: [1-9][0-9]*" "non-zero serial"
SERIAL=$(echo "$L" | awk '/Serial:/{print $2}')

start_sshd --ca "$T/ca.pub" || { fail "sshd starts"; finish; }
assert_login_ok "sshd accepts the issued certificate" "$T/user_key" \
	"$T/user_key-cert.pub" "$JIT_USER1"
assert_login_refused "not a principal of the role" "$T/user_key" \
	"$T/user_key-cert.pub" "$JIT_USER2"

api "$TOK_alice" GET "/v1/requests/$RID/certificate"
assert_eq "$(cat "$T/user_key-cert.pub")" "$RB" "re-fetch is idempotent (same bytes)"
assert_eq $((A0 + 3)) "$(audit_count)" "re-fetch writes no audit entry"
api "$TOK_alice" GET "/v1/requests/$RID"
assert_eq "$SERIAL" "$(jget "$RB" .serial)" "request records the serial"

# ---- auto-approval with the role's critical options -----------------------
# Approved at creation, its window starting now: the 201 carries the
# certificate, made in the same commit as the request (request.create
# then cert.issue); a later fetch returns the same line.
a1=$(audit_count)
new_request "$TOK_alice" auto
assert_eq 201 "$STATUS" "auto role: 201"
assert_eq approved "$(jget "$RB" .state)" "approvals: 0 -> approved at once"
assert_eq 300 "$(jget "$RB" .duration)" "default duration 5m"
AUTO=$RID
jget "$RB" .certificate >"$T/auto-cert.pub"
assert_match "$(cat "$T/auto-cert.pub")" '^ssh-ed25519-cert-v01@openssh.com ' \
	"the 201 carries the certificate"
assert_ne "" "$(jget "$RB" '.serial // empty')" "the 201 shows the serial"
assert_eq $((a1 + 2)) "$(audit_count)" "create with certificate: two audit entries"
assert_eq "request.create cert.issue" "$(curl -s -H "Authorization: Bearer $TOK_dave" \
	"$JURL/v1/audit?user=alice" | jq -r "select(.request == \"$AUTO\") | .event" |
	tr '\n' ' ' | sed 's/ $//')" "audit: request.create then cert.issue"
api "$TOK_alice" GET "/v1/requests/$AUTO/certificate"
assert_eq 200 "$STATUS" "auto cert 200"
assert_eq "$(cat "$T/auto-cert.pub")" "$RB" "the fetch returns the 201's certificate"
assert_eq $((a1 + 2)) "$(audit_count)" "the fetch writes no audit entry"
L=$(ssh-keygen -L -f "$T/auto-cert.pub")
assert_contains "$L" "force-command /bin/echo forced" "force_command from the role"
assert_contains "$L" "source-address 127.0.0.0/8" "source_address from the role"
got=$(ssh_try "$T/user_key" "$T/auto-cert.pub" "$JIT_USER2" id -un)
assert_eq forced "$got" "sshd runs the forced command"
s2=$(ssh-keygen -L -f "$T/auto-cert.pub" | awk '/Serial:/{print $2}')
assert_ne "$SERIAL" "$s2" "second grant has a new serial"
api "$TOK_alice" GET "/v1/requests/$AUTO"
assert_eq "$s2" "$(jget "$RB" .serial)" "the request records the 201's serial"

# A start ahead (within the clock skew, as auto allows none beyond it):
# approved at once, but no certificate until it is fetched.
start=$(date -ud "@$(($(date +%s) + 20))" +%Y-%m-%dT%H:%M:%SZ)
api "$TOK_alice" POST /v1/requests "$(jq -cn --arg k "$(cat "$T/user_key.pub")" \
	--arg s "$start" '{role: "auto", public_key: $k, start: $s}')"
assert_eq 201 "$STATUS" "auto role, start ahead: 201"
assert_eq approved "$(jget "$RB" .state)" "start ahead: approved"
assert_eq null "$(jget "$RB" .certificate)" "start ahead: no certificate in the 201"
LATER=$(jget "$RB" .id)
api "$TOK_alice" GET "/v1/requests/$LATER/certificate"
assert_eq 200 "$STATUS" "start ahead: the fetch issues it"
api "$TOK_dave" POST "/v1/requests/$LATER/revoke" '{"comment":"test over"}'
assert_eq 200 "$STATUS" "start ahead: revoked again"

# ---- deny ---------------------------------------------------------------
new_request "$TOK_alice" ops 10m "INC-2"
DEN=$RID
api "$TOK_bob" POST "/v1/requests/$DEN/deny" '{}'
assert_eq 400 "$STATUS" "deny without a comment: 400"
api "$TOK_bob" POST "/v1/requests/$DEN/deny" '{"comment":"not now"}'
assert_eq 200 "$STATUS" "deny: 200"
assert_eq denied "$(jget "$RB" .state)" "state denied"
assert_eq "not now" "$(jget "$RB" '.denials[0].comment')" "denial comment"
api "$TOK_alice" GET "/v1/requests/$DEN/certificate"
assert_eq 409 "$STATUS" "no certificate for a denied request"

# ---- cancel ---------------------------------------------------------------
new_request "$TOK_alice" ops 10m "INC-3"
CAN=$RID
api "$TOK_alice" POST "/v1/requests/$CAN/cancel"
assert_eq 200 "$STATUS" "cancel: 200"
assert_eq cancelled "$(jget "$RB" .state)" "state cancelled"
api "$TOK_alice" POST "/v1/requests/$CAN/cancel"
assert_eq 409 "$STATUS" "cancel twice: 409"
api "$TOK_bob" POST "/v1/requests/$CAN/approve" '{}'
assert_eq 409 "$STATUS" "approve a cancelled request: 409"

# ---- revoke ---------------------------------------------------------------
a1=$(audit_count)
api "$TOK_dave" POST "/v1/requests/$AUTO/revoke" '{"comment":"incident over"}'
assert_eq 200 "$STATUS" "admin revokes: 200"
assert_eq revoked "$(jget "$RB" .state)" "state revoked"
assert_eq "$s2" "$(jget "$RB" .serial)" "revoked request keeps its serial (for the KRL)"
assert_eq dave "$(jget "$RB" .revoked_by)" "revoked_by"
assert_eq $((a1 + 1)) "$(audit_count)" "request.revoke audited"
api "$TOK_alice" GET "/v1/requests/$AUTO/certificate"
assert_eq 409 "$STATUS" "no certificate after revocation"
api "$TOK_dave" POST "/v1/requests/$AUTO/revoke" '{}'
assert_eq 409 "$STATUS" "revoke twice: 409"

# ---- the requester ends their own grant early ----------------------------------
new_request "$TOK_frank" auto 5m
REL=$RID
api "$TOK_frank" GET "/v1/requests/$REL/certificate"
assert_eq 200 "$STATUS" "frank's auto grant: certificate"
api "$TOK_alice" POST "/v1/requests/$REL/revoke" '{}'
assert_eq 403 "$STATUS" "another requester may not end frank's grant"
a1=$(audit_count)
api "$TOK_frank" POST "/v1/requests/$REL/revoke" '{"comment":"done early"}'
assert_eq 200 "$STATUS" "the requester relinquishes: 200"
assert_eq revoked "$(jget "$RB" .state)" "relinquished grant is revoked"
assert_eq frank "$(jget "$RB" .revoked_by)" "revoked_by the requester"
assert_eq $((a1 + 1)) "$(audit_count)" "relinquish audited once"
assert_eq true "$(curl -s -H "Authorization: Bearer $TOK_dave" \
	"$JURL/v1/audit?event=request.revoke&user=frank" |
	jq -r "select(.request == \"$REL\") | .relinquished")" \
	"the audit entry says relinquished"
assert_eq false "$(curl -s -H "Authorization: Bearer $TOK_dave" \
	"$JURL/v1/audit?event=request.revoke&user=alice" |
	jq -r "select(.request == \"$AUTO\") | .relinquished")" \
	"an admin's revocation is not relinquished"

# ---- two-person rule with a required group -----------------------------------
new_request "$TOK_alice" twoman 1h
TWO=$RID
assert_eq 2 "$(jget "$RB" .approvals_needed)" "twoman needs 2"
api "$TOK_bob" POST "/v1/requests/$TWO/approve" '{}'
assert_eq pending "$(jget "$RB" .state)" "one approval: still pending"
api "$TOK_dave" POST "/v1/requests/$TWO/approve" '{}'
assert_eq pending "$(jget "$RB" .state)" "two sre approvals: still pending (needs security)"
api "$TOK_carol" POST "/v1/requests/$TWO/approve" '{"comment":"security ok"}'
assert_eq approved "$(jget "$RB" .state)" "security approval completes the rule"
assert_eq 3 "$(jget "$RB" '.approvals | length')" "three approvals recorded"

# ---- listing ----------------------------------------------------------------
api "$TOK_alice" GET "/v1/requests?mine=1"
assert_eq 200 "$STATUS" "list mine 200"
assert_eq 6 "$(jget "$RB" '.requests | length')" "alice sees her 6 requests"
assert_eq "$TWO" "$(jget "$RB" '.requests[0].id')" "newest first"
api "$TOK_alice" GET "/v1/requests?state=denied"
assert_eq "$DEN" "$(jget "$RB" '.requests[0].id')" "state filter"
assert_eq 1 "$(jget "$RB" '.requests | length')" "state filter: one denied"
api "$TOK_frank" GET "/v1/requests"
assert_eq "$REL" "$(jget "$RB" '[.requests[].id] | join(",")')" \
	"frank sees his own request and nothing of others"
api "$TOK_erin" GET "/v1/requests?role=ops"
assert_eq 3 "$(jget "$RB" '.requests | length')" "auditor sees all ops requests"
api "$TOK_alice" GET "/v1/requests?limit=2"
assert_eq 2 "$(jget "$RB" '.requests | length')" "limit"

# ---- long-poll timeout on an unchanged pending request -------------------------
new_request "$TOK_alice" ops 10m "INC-4"
t0=$(date +%s)
api "$TOK_alice" GET "/v1/requests/$RID?wait=2"
t1=$(date +%s)
assert_eq pending "$(jget "$RB" .state)" "wait=2: still pending"
[ $((t1 - t0)) -ge 2 ] && [ $((t1 - t0)) -le 5 ] &&
	ok "wait=2 waited about 2 s ($((t1 - t0)) s)" ||
	fail "wait=2 took $((t1 - t0)) s"

# ---- sweeper: pending timeout and grant end ----------------------------------
new_request "$TOK_alice" quick 10m
QK=$RID
new_request "$TOK_alice" auto 2
SHORT=$RID
assert_eq approved "$(jget "$RB" .state)" "2-second grant approved"
api "$TOK_alice" GET "/v1/requests/$SHORT/certificate"
assert_eq 200 "$STATUS" "2-second grant: cert while in window"
sleep 4
api "$TOK_alice" GET "/v1/requests/$SHORT/certificate"
assert_eq 409 "$STATUS" "no certificate after the window"
wait_for "api '$TOK_alice' GET /v1/requests/$QK; [ \"\$(jget \"\$RB\" .state)\" = expired ]" 5
assert_eq expired "$(jget "$RB" .state)" "pending past pending_timeout -> expired"
api "$TOK_bob" POST "/v1/requests/$QK/approve" '{}'
assert_eq 409 "$STATUS" "approve an expired request: 409"
wait_for "api '$TOK_alice' GET /v1/requests/$SHORT; [ \"\$(jget \"\$RB\" .state)\" = ended ]" 5
assert_eq ended "$(jget "$RB" .state)" "grant past not_after -> ended"

# ---- metrics -------------------------------------------------------------------
M=$(curl -s "$JURL/metrics")
assert_match "$M" '^jit_certificates_issued_total [0-9]+' "metrics: certs issued"
assert_contains "$M" 'jit_requests{state="denied"} 1' "metrics: requests by state"
assert_match "$M" 'jit_http_requests_total\{code="2xx"\} [1-9]' "metrics: http requests"

# ---- logs never hold tokens or keys ---------------------------------------------
tokpart=${TOK_alice:4:20}
assert_not_contains "$(cat "$API_LOG")" "$tokpart" "server log has no token"
keypart=$(cut -d' ' -f2 "$T/user_key.pub" | cut -c 30-60)
assert_not_contains "$(cat "$API_LOG")" "$keypart" "server log has no user key"
certpart=$(cut -d' ' -f2 "$T/user_key-cert.pub" | cut -c 100-140)
assert_not_contains "$(cat "$API_LOG")" "$certpart" "server log has no certificate"
assert_match "$(cat "$API_LOG")" "POST /v1/requests 201 alice [0-9]+ms" "one log line per request"

# ---- SIGHUP: broken policy keeps the last good one; a good one is loaded -------
cp "$T/policy.yaml" "$T/policy.good"
echo "  broken: [unterminated" >>"$T/policy.yaml"
a1=$(audit_count)
kill -HUP "$API_PID"
wait_for "grep -q 'policy reload failed' '$API_LOG'" 5
assert_contains "$(cat "$API_LOG")" "keeping the last good policy" "broken policy is refused on reload"
api "$TOK_alice" GET /v1/whoami
assert_eq 200 "$STATUS" "server keeps serving after a bad reload"
sed -e 's/^  frank: {groups: \[ops\]}/  frank: {groups: [ops, dev]}/' "$T/policy.good" >"$T/policy.yaml"
kill -HUP "$API_PID"
wait_for "grep -q 'policy reloaded' '$API_LOG'" 5
api "$TOK_frank" GET /v1/whoami
assert_eq true "$(jget "$RB" '.can_request | index("ops") != null')" "reloaded policy is in effect"
assert_eq $((a1 + 1)) "$(audit_count)" "policy.reload audited"

# ---- clean shutdown: an in-flight long-poll is answered ---------------------------
new_request "$TOK_alice" ops 10m "INC-5"
curl -s -o "$T/lastpoll.json" -w '%{http_code}' -H "Authorization: Bearer $TOK_alice" \
	"$JURL/v1/requests/$RID?wait=15" >"$T/lastpoll.code" &
POLL=$!
sleep 1
api_stop
wait "$POLL"
assert_eq 200 "$(cat "$T/lastpoll.code")" "in-flight long-poll answered at shutdown"
assert_eq pending "$(jq -r .state "$T/lastpoll.json")" "with the current state"
assert_eq 0 "$API_RC" "SIGTERM: exit 0"
assert_contains "$(cat "$API_LOG")" "stopped" "server logs its stop"
finish
