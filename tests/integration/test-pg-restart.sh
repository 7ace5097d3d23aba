#!/bin/bash
# test-pg-restart.sh - PostgreSQL goes away under load from two nodes:
# first stopped as if it crashed (pg_ctl stop -m immediate), then
# restarted cleanly.  While it is down every call the nodes answer is a
# 503 (never a 401 for a good token, a 404 for a request that exists, or
# a 500); once it is back the nodes go on by themselves (they are not
# restarted).  Bound by work: each step waits for $STEP more
# certificates.  Afterwards every acknowledged request and certificate is
# there and the audit chain verifies.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/api-lib.sh"
PG_FSYNC=on   # a crash of the server must not lose what it acknowledged
. "$(dirname "$0")/pg-lib.sh"
. "$(dirname "$0")/nodes-lib.sh"

STEP=${STEP:-40}

need_env JIT_CA JIT_LOADGEN
need_cmd curl jq
pg_need

load_setup
JURL=$(nurl a)
new_request "$TOK_alice" ops 30m "INC-9 before the outage"
assert_eq 201 "$STATUS" "a pending request to look at"
KNOWN=$RID

load_start
more || fail "load runs"

# ---- down as if crashed: every answer is 503 -------------------------------
pg_stop immediate
ok "PostgreSQL stopped (immediate) after $(issued) certificates"
for n in a b; do
	napi $n "$TOK_alice" GET /v1/whoami
	assert_eq 503 "$STATUS" "node $n: whoami with a good token is 503, not 401"
	napi $n "$TOK_alice" GET "/v1/requests/$KNOWN"
	assert_eq 503 "$STATUS" "node $n: an existing request is 503, not 404"
	napi $n "$TOK_alice" POST /v1/requests "$(jq -cn --arg k "$(cat "$T/user_key.pub")" \
		'{role: "auto", public_key: $k}')"
	assert_eq 503 "$STATUS" "node $n: a new request is 503"
	assert_eq unavailable "$(jget "$RB" .error)" "node $n: the error is 'unavailable'"
done
pg_start || { fail "PostgreSQL starts again"; finish; }
ok "PostgreSQL started again on port $PG_PORT"
more && ok "the nodes went on by themselves ($(issued))" ||
	fail "the nodes went on by themselves"
for n in a b; do
	napi $n "$TOK_alice" GET "/v1/requests/$KNOWN"
	assert_eq 200 "$STATUS" "node $n answers from the database again"
done

# ---- a clean restart under load ----------------------------------------------
pg_restart fast
ok "PostgreSQL restarted (fast) at $(issued) certificates"
more && ok "the nodes went on by themselves ($(issued))" ||
	fail "the nodes went on after the restart"
load_stop 503
for n in a b; do
	v="NODE_PID_$n"
	kill -0 "${!v}" 2>/dev/null && ok "node $n is still running" ||
		fail "node $n died"
done

# ---- everything acknowledged is there --------------------------------------
load_check a

node_stop a
node_stop b
finish
