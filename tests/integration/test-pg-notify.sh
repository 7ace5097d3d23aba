#!/bin/bash
# test-pg-notify.sh - notifications from two `jit-ca serve` nodes on one
# PostgreSQL database (pg-lib.sh, nodes-lib.sh), both with the same
# webhook endpoint:
#   - changes made on either node are each delivered once (one server
#     holds the notify job lock and says so in its log), in the order
#     they were committed
#   - the delivering node is killed (SIGKILL) while the receiver is down
#     and notifications are queued: the other node takes the lock over
#     and delivers every one of them once the receiver is back, nothing
#     lost, in order
#   - /metrics on either node counts the one shared outbox
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/api-lib.sh"
. "$(dirname "$0")/pg-lib.sh"
. "$(dirname "$0")/nodes-lib.sh"
. "$(dirname "$0")/notify-lib.sh"

need_env JIT_CA
need_cmd curl jq python3
pg_need

pg_start || { fail "PostgreSQL starts"; finish; }
notify_policy
receiver_start || { fail "the receiver starts"; finish; }
NODE_CONF_EXTRA="notify:
  - name: hook
    url: http://127.0.0.1:$RCV_PORT/hook
    events: [request.create, request.approve, request.deny]
    backoff: 1s"
node_ca || { fail "CA"; finish; }
node_start a || { fail "node a starts"; finish; }
node_start b || { fail "node b starts"; finish; }
node_tokens alice bob dave || { fail "tokens"; finish; }
make_user_key ed25519 "$T/user_key"

# The events of the hook's deliveries, in arrival order.
events() {
	deliveries /hook | jq -r '.body | fromjson | "\(.event):\(.request.id)"'
}
# The node whose log says it delivers (a or b), if one does.
deliverer() {
	local n
	for n in a b; do
		local v="NODE_LOG_$n"
		if grep -q "this server delivers the notifications" "${!v}"; then
			echo "$n"
			return
		fi
	done
}

# ---- changes on both nodes: each delivered once, in commit order ---------
want=()
for n in a b a b; do
	JURL=$(nurl "$n")
	new_request "$TOK_alice" ops 30m "INC-$n"
	assert_eq 201 "$STATUS" "create on node $n"
	want+=("request.create:$RID")
	other=$([ "$n" = a ] && echo b || echo a)
	napi "$other" "$TOK_bob" POST "/v1/requests/$RID/approve" '{}'
	assert_eq 200 "$STATUS" "approve on node $other"
	want+=("request.approve:$RID")
done
wait_deliveries 8 /hook || fail "8 deliveries arrive"
assert_eq "${want[*]}" "$(events | xargs)" \
	"every change on either node delivered once, in commit order"
assert_eq 8 "$(deliveries /hook | jq -r .delivery | sort -u | wc -l)" \
	"8 distinct deliveries"
first=$(deliverer)
assert_match "$first" '^[ab]$' "one node logs that it delivers ($first)"
v="NODE_LOG_$([ "$first" = a ] && echo b || echo a)"
assert_contains "$(cat "${!v}")" "another server delivers the notifications" \
	"the other logs that it does not"

# ---- the deliverer dies with notifications queued -------------------------
survivor=$([ "$first" = a ] && echo b || echo a)
receiver_stop
JURL=$(nurl "$survivor")
want=()
for i in 1 2 3; do
	new_request "$TOK_alice" ops 30m "INC-queued-$i"
	assert_eq 201 "$STATUS" "create $i on node $survivor while the receiver is down"
	want+=("request.create:$RID")
done
napi "$first" "$TOK_dave" POST "/v1/requests/$RID/deny" '{"comment":"no"}'
assert_eq 200 "$STATUS" "deny on node $first"
want+=("request.deny:$RID")
wait_for '[ "$(notify_metric jit_notify_queued)" = 4 ]' 30 &&
	ok "node $survivor's /metrics counts 4 queued" ||
	fail "4 queued (metrics say $(notify_metric jit_notify_queued))"
node_stop "$first" KILL
ok "node $first killed"
before=$(deliveries /hook | wc -l)
receiver_start || fail "the receiver comes back"
wait_for "[ \$(deliveries /hook | wc -l) -ge $((before + 4)) ]" 60 ||
	fail "the queued notifications arrive"
assert_eq "${want[*]}" "$(events | tail -n +$((before + 1)) | xargs)" \
	"node $survivor delivered all 4, once each, in order"
v="NODE_LOG_$survivor"
wait_for "grep -q 'this server delivers the notifications' '${!v}'" 10 &&
	ok "node $survivor logs that it took over" ||
	fail "node $survivor does not log the take-over"
wait_for '[ "$(notify_metric jit_notify_queued)" = 0 ]' 30 &&
	ok "the outbox is empty" || fail "the outbox does not empty"
assert_eq 12 "$(notify_metric jit_notify_delivered_total)" \
	"12 delivered in all"
assert_eq 12 "$(deliveries /hook | jq -r .delivery | sort -u | wc -l)" \
	"no notification sent twice"

node_stop "$survivor"
finish
