#!/bin/bash
# test-notify.sh - notifications (issue 14): webhooks in the json and
# slack formats and email, from the durable outbox.
#   - create -> approve -> issue -> revoke: one json and one slack
#     delivery per event, in order, each signed (checked with openssl),
#     with the facts and the link and no token, certificate or key; the
#     slack text escapes a reason that tries to mention or link; a role
#     filter holds back another role's events
#   - email (aiosmtpd): the approvers with an address on create, the
#     requester on approval and denial
#   - 500 three times then 200: delivered once, the same X-Jit-Delivery
#     on every attempt
#   - the receiver down at first: nothing lost, order kept, once it is up
#   - an entry that keeps failing is given up (notify list --failed,
#     /metrics), jit-ca notify retry delivers it
#   - jit-ca notify test; bad notify configs refuse to start
# The server's backoff is 1s so the retries happen while the test waits.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/api-lib.sh"
. "$(dirname "$0")/notify-lib.sh"

need_env JIT_CA
need_cmd curl jq ssh-keygen python3 openssl

notify_policy
receiver_start || { fail "the receiver starts"; finish; }
smtp_start || { fail "the SMTP server starts"; finish; }
printf 'hook-secret-%s\n' "$RANDOM$RANDOM" >"$T/hook.secret"
chmod 600 "$T/hook.secret"
EVENTS='[request.create, request.approve, cert.issue, request.revoke]'
NOTIFY_CONF="public_url: https://jit.example.com/
notify:
  - name: hook-json
    url: http://127.0.0.1:$RCV_PORT/json
    format: json
    events: $EVENTS
    roles: [ops]
    secret_file: $T/hook.secret
    backoff: 1s
  - name: hook-slack
    url: http://127.0.0.1:$RCV_PORT/slack
    format: slack
    events: $EVENTS
    secret_file: $T/hook.secret
    backoff: 1s
  - name: short
    url: http://127.0.0.1:$RCV_PORT/short
    events: [request.deny]
    backoff: 1s
    retry_for: 3s
  - name: mail
    smtp: smtp://127.0.0.1:$SMTP_PORT
    from: jit-ssh@example.com
    events: [request.create, request.approve, request.deny]
    backoff: 1s"
api_start "$NOTIFY_CONF" || { fail "server starts with notify endpoints"; finish; }
api_tokens alice bob carol dave || { fail "tokens"; finish; }
make_user_key ed25519 "$T/user_key"

# ---- the full flow ---------------------------------------------------------
EVIL='INC-1 <!channel> & <https://evil.example|click here> @here'
new_request "$TOK_alice" ops 30m "$EVIL"
assert_eq 201 "$STATUS" "alice asks for ops"
R1=$RID
api "$TOK_bob" POST "/v1/requests/$R1/approve" '{"comment":"ok <@U123>"}'
assert_eq approved "$(jget "$RB" .state)" "bob approves"
api "$TOK_alice" GET "/v1/requests/$R1/certificate"
assert_eq 200 "$STATUS" "alice fetches the certificate"
CERT=$RB
api "$TOK_dave" POST "/v1/requests/$R1/revoke" '{"comment":"done"}'
assert_eq revoked "$(jget "$RB" .state)" "dave revokes"

wait_deliveries 4 /json || fail "4 json deliveries arrive"
wait_deliveries 4 /slack || fail "4 slack deliveries arrive"
wait_for '[ "$(notify_metric jit_notify_queued)" = 0 ]' 30 ||
	fail "the outbox empties"
JS=$(deliveries /json)
SL=$(deliveries /slack)
assert_eq "request.create request.approve cert.issue request.revoke" \
	"$(printf '%s\n' "$JS" | jq -r '.body | fromjson | .event' | xargs)" \
	"json: one delivery per event, in order"
assert_eq 4 "$(deliveries /slack | wc -l)" "slack: one delivery per event"
assert_eq 4 "$(deliveries /json any | wc -l)" "json: no duplicate attempts"
assert_eq "$R1 $R1 $R1 $R1" \
	"$(printf '%s\n' "$JS" | jq -r '.body | fromjson | .request.id' | xargs)" \
	"every json event is about the request"
assert_eq "alice bob alice dave" \
	"$(printf '%s\n' "$JS" | jq -r '.body | fromjson | .actor' | xargs)" \
	"with its actor"
assert_eq "pending approved approved revoked" \
	"$(printf '%s\n' "$JS" | jq -r '.body | fromjson | .request.state' | xargs)" \
	"and the request after the change"
assert_eq "https://jit.example.com/r/$R1" \
	"$(printf '%s\n' "$JS" | head -n 1 | jq -r '.body | fromjson | .link')" \
	"the link is public_url/r/ID"
ev2=$(printf '%s\n' "$JS" | sed -n 2p | jq -c '.body | fromjson')
assert_eq "ok <@U123>" "$(jget "$ev2" .comment)" "the approval carries its comment"
assert_ne null "$(jget "$ev2" .request.not_before)" "and the window"
assert_eq 1 "$(jget "$ev2" .request.approvals_needed)" "and the approvals needed"
assert_eq 1 "$(jget "$ev2" '.request.approvals | length')" "and the approvals given"
assert_match "$(jget "$ev2" .time)" '^20[0-9-]+T[0-9:]+Z$' "and the time"
ids_ok=1
for f in $(printf '%s\n' "$JS" | jq -r .file); do
	[ "$(jq -r .delivery "$f")" = "$(jq -r '.body | fromjson | .id' "$f")" ] || ids_ok=0
done
assert_eq 1 "$ids_ok" "the event id is the X-Jit-Delivery"
assert_eq 8 "$( { printf '%s\n' "$JS"; printf '%s\n' "$SL"; } | jq -r .delivery | sort -u | wc -l)" \
	"every delivery has its own id"
sig_ok=0
for f in $( { printf '%s\n' "$JS"; printf '%s\n' "$SL"; } | jq -r .file); do
	check_signature "${f%.json}" "$T/hook.secret" && sig_ok=$((sig_ok + 1))
done
assert_eq 8 "$sig_ok" "every delivery's X-Jit-Signature verifies with openssl"
printf 'wrong\n' >"$T/wrong.secret"
f=$(printf '%s\n' "$JS" | head -n 1 | jq -r .file)
if check_signature "${f%.json}" "$T/wrong.secret"; then
	fail "a signature does not verify under another secret"
else
	ok "a signature does not verify under another secret"
fi
all=$(cat "$T"/rcv/log/*.body)
assert_not_contains "$all" "$TOK_alice" "no token in any delivery"
assert_not_contains "$all" "-cert-v01@openssh.com" "no certificate"
assert_not_contains "$all" "$(cut -d' ' -f2 "$T/user_key.pub")" "not even the public key"
assert_not_contains "$all" "PRIVATE KEY" "no private key"
s1=$(printf '%s\n' "$SL" | head -n 1 | jq -r '.body | fromjson | .text')
assert_contains "$s1" "<https://jit.example.com/r/$R1|$R1>" "slack: the request id links to the request"
assert_contains "$s1" "alice requests ops" "slack: says who asks for what"
assert_contains "$s1" "INC-1 &lt;!channel&gt; &amp; &lt;https://evil.example|click here&gt; @here" \
	"slack: the reason is escaped"
assert_not_contains "$s1" "<!channel>" "slack: the reason mentions nobody"
assert_not_contains "$s1" "<https://evil" "slack: the reason makes no link"
s2=$(printf '%s\n' "$SL" | sed -n 2p | jq -r '.body | fromjson | .text')
assert_contains "$s2" "bob approved alice's request for ops" "slack: the approval in words"
assert_contains "$s2" "ok &lt;@U123&gt;" "slack: the comment is escaped"

# A role outside the json endpoint's roles: slack hears of it, json not.
make_user_key ed25519 "$T/carol_key"
new_request "$TOK_carol" other 30m "" "$T/carol_key"
R2=$RID
wait_deliveries 5 /slack || fail "slack gets the other role's request"
wait_for '[ "$(notify_metric jit_notify_queued)" = 0 ]' 30
assert_eq "$R2" "$(deliveries /slack | tail -n 1 | jq -r '.body | fromjson | .text' | grep -o "$R2" | head -n 1)" \
	"slack: the request for role other"
assert_eq 4 "$(deliveries /json any | wc -l)" "json (roles: [ops]): nothing about role other"

# ---- email -----------------------------------------------------------------
wait_for '[ $(ls "$T"/mail/*.eml 2>/dev/null | wc -l) -ge 3 ]' 30 ||
	fail "three mails arrive (create, approve, carol's create)"
m1=$(grep -l "Subject: .*$R1: alice requests ops" "$T"/mail/*.eml | head -n 1)
assert_ne "" "$m1" "a mail about alice's request"
assert_eq "bob@example.com dave@example.com" \
	"$(sed -n 's/^X-Envelope-To: //p' "$m1" | sort | xargs)" \
	"goes to the approvers who have an address (not alice, gina or carol)"
assert_contains "$(cat "$m1")" "From: jit-ssh@example.com" "from the configured sender"
assert_contains "$(cat "$m1")" "https://jit.example.com/r/$R1" "with the link"
assert_contains "$(cat "$m1")" "Reason: $EVIL" "and the reason"
m2=$(grep -l "Subject: .*$R1: bob approved" "$T"/mail/*.eml | head -n 1)
assert_ne "" "$m2" "a mail about the approval"
assert_eq "alice@example.com" "$(sed -n 's/^X-Envelope-To: //p' "$m2" | xargs)" \
	"goes to the requester"
assert_eq "" "$(grep -l "cert.issue\|fetched a certificate\|revoked" "$T"/mail/*.eml)" \
	"no mail for events the mail endpoint does not list"
new_request "$TOK_alice" ops 30m "INC-2"
R3=$RID
api_tokens gina
api "$TOK_gina" POST "/v1/requests/$R3/deny" '{"comment":"not now"}'
assert_eq denied "$(jget "$RB" .state)" "gina denies alice's next request"
wait_for "grep -lq 'Subject: .*$R3: gina denied' \"\$T\"/mail/*.eml" 30 ||
	fail "a mail about the denial"
m3=$(grep -l "Subject: .*$R3: gina denied" "$T"/mail/*.eml | head -n 1)
assert_eq "alice@example.com" "$(sed -n 's/^X-Envelope-To: //p' "$m3" | xargs)" \
	"the denial goes to the requester"
assert_contains "$(cat "$m3")" "Comment by gina: not now" "with the comment"

# ---- given up, listed, retried ------------------------------------------------
# The deny above went to "short" too, which answers 500 for a while.
wait_deliveries 1 /short 30 || fail "the first deny notification reached short"
for i in $(seq 40); do echo 500; done >"$T/rcv/codes_short"
new_request "$TOK_alice" ops 30m "INC-3"
R4=$RID
api "$TOK_bob" POST "/v1/requests/$R4/deny" '{"comment":"nope"}'
wait_for '[ "$(notify_metric jit_notify_failed)" = 1 ]' 30 ||
	fail "short gives the entry up after retry_for (3s)"
run "$JIT_CA" notify list --failed --config "$T/server.yaml"
assert_rc 0 "notify list --failed"
assert_contains "$OUT" "request.deny" "lists the given-up notification"
assert_contains "$OUT" "HTTP 500" "with its last error"
assert_contains "$OUT" "$R4" "and its request"
FID=$(printf '%s\n' "$OUT" | awk '/failed/ {print $1}')
assert_match "$FID" '^n-[a-z2-7]{12}$' "with its id"
run "$JIT_CA" notify list --json --config "$T/server.yaml"
assert_eq failed "$(printf '%s\n' "$OUT" | jq -r --arg id "$FID" 'select(.record.id == $id) | .state')" \
	"notify list --json shows it failed"
: >"$T/rcv/codes_short"
run "$JIT_CA" notify retry "$FID" --config "$T/server.yaml"
assert_rc 0 "notify retry ID (while the server runs)"
wait_for "deliveries /short | grep -q '$FID'" 30 || fail "the retried entry is delivered"
wait_for '[ "$(notify_metric jit_notify_failed)" = 0 ]' 30
assert_eq 0 "$(notify_metric jit_notify_failed)" "and no longer failed"
assert_one_line_error "notify retry of an unknown id" \
	"$JIT_CA" notify retry n-aaaaaaaaaaaa --config "$T/server.yaml"

# ---- 500, 500, 500, then 200 -----------------------------------------------------
printf '500\n500\n500\n' >"$T/rcv/codes_json"
before=$(deliveries /json any | wc -l)
new_request "$TOK_alice" ops 30m "INC-4"
R5=$RID
wait_for "deliveries /json | grep -q '$R5'" 60 || fail "delivered after three 500s"
tries=$(deliveries /json any | tail -n +$((before + 1)))
assert_eq "500 500 500 200" "$(printf '%s\n' "$tries" | jq -r .status | xargs)" \
	"four attempts: three 500s, then 200"
assert_eq 1 "$(printf '%s\n' "$tries" | jq -r .delivery | sort -u | wc -l)" \
	"the same X-Jit-Delivery on every attempt"
assert_eq 1 "$(deliveries /json | grep -c "$R5")" "delivered once"
sig_ok=0
for f in $(printf '%s\n' "$tries" | jq -r .file); do
	check_signature "${f%.json}" "$T/hook.secret" && sig_ok=$((sig_ok + 1))
done
assert_eq 4 "$sig_ok" "each attempt signed anew"
assert_contains "$(cat "$API_LOG")" "delivered at attempt 4" "the log says when it got through"

# ---- the receiver down at first --------------------------------------------------
receiver_stop
before=$(deliveries /json | wc -l)
new_request "$TOK_alice" ops 30m "INC-5"
R6=$RID
api "$TOK_bob" POST "/v1/requests/$R6/approve" '{}'
assert_eq approved "$(jget "$RB" .state)" "changes go on while the receiver is down"
wait_for "grep -q 'request.create) attempt 2 failed' '$API_LOG'" 30 ||
	fail "deliveries fail and are retried while it is down"
assert_ne 0 "$(notify_metric jit_notify_queued)" "/metrics: notifications queued"
age=$(notify_metric jit_notify_oldest_age_seconds)
assert_match "$age" '^[0-9]+$' "/metrics: the oldest queued notification's age ($age s)"
receiver_start || fail "the receiver comes back"
wait_for "[ \$(deliveries /json | wc -l) -ge $((before + 2)) ]" 60 ||
	fail "everything queued is delivered once it is up"
assert_eq "request.create request.approve" \
	"$(deliveries /json | tail -n 2 | jq -r '.body | fromjson | .event' | xargs)" \
	"nothing lost, in order"
assert_eq "$R6 $R6" \
	"$(deliveries /json | tail -n 2 | jq -r '.body | fromjson | .request.id' | xargs)" \
	"about the request made while it was down"

# ---- jit-ca notify test ---------------------------------------------------------
run "$JIT_CA" notify test hook-slack --config "$T/server.yaml"
assert_rc 0 "notify test hook-slack"
assert_contains "$(deliveries /slack | tail -n 1 | jq -r .body)" "Test notification" \
	"the receiver gets the test event"
run "$JIT_CA" notify test mail --to root@example.com --config "$T/server.yaml"
assert_rc 0 "notify test mail --to ADDRESS"
wait_for "grep -lq 'X-Envelope-To: root@example.com' \"\$T\"/mail/*.eml" 10 ||
	fail "the test mail arrives"
assert_one_line_error "notify test of an unknown endpoint" \
	"$JIT_CA" notify test nosuch --config "$T/server.yaml"
receiver_stop
run "$JIT_CA" notify test hook-json --config "$T/server.yaml"
assert_ne 0 "$RC" "notify test fails when nobody answers"
assert_contains "$ERR" "hook-json" "naming the endpoint"
receiver_start

wait_for '[ "$(notify_metric jit_notify_queued)" = 0 ]' 30
assert_eq 0 "$(notify_metric jit_notify_queued)" "/metrics: nothing queued at the end"
assert_eq 0 "$(notify_metric jit_notify_oldest_age_seconds)" "/metrics: no oldest age"
delivered=$(notify_metric jit_notify_delivered_total)
[ "${delivered:-0}" -ge 15 ] && ok "/metrics: $delivered delivered" ||
	fail "/metrics counts the deliveries" "$delivered"
api_stop
assert_eq 0 "$API_RC" "clean exit with delivery threads"

# ---- configurations refused -------------------------------------------------------
bad() {  # MSG EXPECTED-TEXT YAML
	printf 'listen: 127.0.0.1:1\ndata: %s\npolicies: %s\n%s\n' "$T/data" \
		"$T/policy.yaml" "$3" >"$T/bad.yaml"
	assert_one_line_error "$1" "$JIT_CA" serve --config "$T/bad.yaml"
	assert_contains "$ERR" "$2" "$1: says why"
}
bad "http:// to another host" "must be https://" \
	"notify: [{name: a, url: 'http://example.com/x', events: [request.create]}]"
bad "a password in the URL" "no user:password@" \
	"notify: [{name: a, url: 'https://u:p@example.com/x', events: [request.create]}]"
bad "an unknown event" "is not an event name" \
	"notify: [{name: a, url: 'https://example.com/x', events: [request.created]}]"
bad "smtp without from" "needs from" \
	"notify: [{name: a, smtp: 'smtp://127.0.0.1:25', events: [request.create]}]"
bad "two endpoints with one name" "two endpoints are called 'a'" \
	"notify: [{name: a, url: 'https://e.com/', events: [cert.issue]}, {name: a, url: 'https://e.com/', events: [cert.issue]}]"
bad "public_url over http" "must be https://" "public_url: http://jit.example.com"
bad "a missing secret_file" "secret_file $T/none" \
	"notify: [{name: a, url: 'https://e.com/', events: [cert.issue], secret_file: $T/none}]"
finish
