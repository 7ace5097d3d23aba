#!/bin/bash
# test-pg-failover.sh - concurrent issuance on two nodes of one PostgreSQL
# database while node a, then node b, is killed with SIGKILL and started
# again; at the same time grants are fetched from both nodes at once.
# Bound by work: each step (a kill, the other node alone, the restart)
# waits for $STEP more certificates, then the load generator is stopped
# (after the issuances under way).  Afterwards every
# acknowledged request and certificate is there (the certificate fetched
# again is the same bytes), `jit-ca audit verify` passes on an export, no
# serial was issued twice and every grant has one certificate.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/api-lib.sh"
. "$(dirname "$0")/pg-lib.sh"
. "$(dirname "$0")/nodes-lib.sh"

STEP=${STEP:-40}

need_env JIT_CA JIT_LOADGEN
need_cmd curl jq
pg_need

load_setup
load_start

# Grants fetched from both nodes at once, while the nodes come and go.
race() {
	local i n id pids
	for i in $(seq 40); do
		n=$([ $((i % 2)) = 0 ] && echo a || echo b)
		id=$(curl -s -H "Authorization: Bearer $TOK_alice" \
			-H 'Content-Type: application/json' \
			--data-binary "$(jq -cn --arg k "$(cat "$T/user_key.pub")" \
			'{role: "auto", public_key: $k}')" \
			"$(nurl $n)/v1/requests" | jq -r '.id // empty')
		[ -n "$id" ] || continue
		pids=()
		for n in a b; do
			curl -s -f -o "$T/race/$id.$n" \
				-H "Authorization: Bearer $TOK_alice" \
				"$(nurl $n)/v1/requests/$id/certificate" &
			pids+=($!)
		done
		wait "${pids[@]}"
	done
}
mkdir -p "$T/race"
race >/dev/null 2>&1 &
RACE=$!

for victim in a b; do
	more || { fail "load reaches $(issued) + $STEP certificates"; break; }
	node_stop "$victim" KILL
	ok "node $victim killed with SIGKILL after $(issued) certificates"
	# The other node carries on alone.
	more && ok "the other node went on alone ($(issued))" ||
		fail "the other node went on alone"
	node_start "$victim" || { fail "node $victim restarts"; finish; }
	ok "node $victim restarted on its port"
done
more || fail "load goes on after the restarts"
load_stop '0|503'
wait "$RACE"
[ "$(issued)" -ge $((4 * STEP)) ] && ok "$(issued) certificates acknowledged" ||
	fail "only $(issued) certificates acknowledged"

# ---- everything acknowledged is there --------------------------------------
load_check b
races=0 diff=0
for f in "$T"/race/*.a; do
	[ -f "$f" ] && [ -f "${f%.a}.b" ] || continue
	races=$((races + 1))
	cmp -s "$f" "${f%.a}.b" || diff=$((diff + 1))
done
[ "$races" -gt 0 ] && ok "$races grants fetched from both nodes at once" ||
	fail "no grant was fetched from both nodes"
assert_eq 0 "$diff" "both nodes returned the same certificate each time"

node_stop a
node_stop b
finish
