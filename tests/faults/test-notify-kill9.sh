#!/bin/bash
# test-notify-kill9.sh - a notification outlives a crash (issue 14): the
# server is killed with SIGKILL while a delivery is in flight (the receiver
# holds the request without answering), with a second change queued behind
# it.  jit-ca notify list shows both waiting in the store; after a restart
# both are delivered, in order, the first with the X-Jit-Delivery id the
# receiver saw before the crash.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/api-lib.sh"
. "$(dirname "$0")/../integration/notify-lib.sh"

need_env JIT_CA
need_cmd curl jq ssh-keygen python3

notify_policy
receiver_start || { fail "the receiver starts"; finish; }
CONF="notify:
  - name: hook
    url: http://127.0.0.1:$RCV_PORT/json
    events: [request.create, request.approve]
    timeout: 60s
    backoff: 1s"
api_start "$CONF" || { fail "server starts"; finish; }
api_tokens alice bob || { fail "tokens"; finish; }
make_user_key ed25519 "$T/user_key"

touch "$T/rcv/hang"
new_request "$TOK_alice" ops 30m "INC-1"
assert_eq 201 "$STATUS" "a request is made"
R1=$RID
wait_for "[ -s '$T/rcv/hung' ]" 30 || fail "its delivery is in flight"
HUNG=$(head -n 1 "$T/rcv/hung")
assert_match "$HUNG" '^n-[a-z2-7]{12}$' "the receiver holds delivery $HUNG"
api "$TOK_bob" POST "/v1/requests/$R1/approve" '{}'
assert_eq approved "$(jget "$RB" .state)" "an approval is queued behind it"
kill -KILL "$API_PID"
wait "$API_PID" 2>/dev/null
api_stop
ok "SIGKILL during the delivery"
receiver_stop
rm -f "$T/rcv/hang"

run "$JIT_CA" notify list --json --data "$T/data"
assert_rc 0 "notify list on the dead server's data"
assert_eq "request.create request.approve" \
	"$(printf '%s\n' "$OUT" | jq -r '.record.event' | xargs)" \
	"both notifications are in the outbox"
assert_eq "$HUNG" "$(printf '%s\n' "$OUT" | head -n 1 | jq -r .record.id)" \
	"the first is the one in flight"
assert_eq "queued queued" "$(printf '%s\n' "$OUT" | jq -r .state | xargs)" \
	"both queued"

receiver_start || fail "the receiver comes back"
api_start "$CONF" || { fail "the server restarts"; finish; }
wait_deliveries 2 /json 60 || fail "both are delivered after the restart"
D=$(deliveries /json)
assert_eq "request.create request.approve" \
	"$(printf '%s\n' "$D" | jq -r '.body | fromjson | .event' | xargs)" \
	"in order"
assert_eq "$HUNG" "$(printf '%s\n' "$D" | head -n 1 | jq -r .delivery)" \
	"the one in flight keeps its X-Jit-Delivery"
assert_eq "$R1 $R1" \
	"$(printf '%s\n' "$D" | jq -r '.body | fromjson | .request.id' | xargs)" \
	"about the request"
wait_for '[ "$(notify_metric jit_notify_queued)" = 0 ]' 30
assert_eq 0 "$(notify_metric jit_notify_queued)" "nothing left queued"
api_stop
assert_eq 0 "$API_RC" "clean exit"
finish
