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

pg_start || { fail "PostgreSQL starts"; finish; }
api_policy
node_ca || { fail "CA"; finish; }
node_start a || { fail "node a starts"; finish; }
node_start b || { fail "node b starts"; finish; }
node_tokens alice || { fail "tokens"; finish; }
printf '%s\n' "$TOK_alice" >"$T/tokens"
make_user_key ed25519 "$T/user_key"
JURL=$(nurl a)
new_request "$TOK_alice" ops 30m "INC-9 before the outage"
assert_eq 201 "$STATUS" "a pending request to look at"
KNOWN=$RID

issued() {
	local n
	n=$(grep -c '^I ' "$T/ack.log" 2>/dev/null)
	echo "${n:-0}"
}
more() {
	local want=$(($(issued) + STEP))
	wait_for "[ \$(issued) -ge $want ]" 120
}

jit_bg "$T/loadgen.out" "$JIT_LOADGEN" -u "$(nurl a)" -u "$(nurl b)" \
	-T "$T/tokens" -c 8 -k 32 -w 0 -d 600 -L "$T/ack.log"
LG=$JIT_BG_PID
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
kill -TERM "$LG"
wait "$LG"
assert_eq 0 "$?" "the load generator finished"
sed 's/^/# /' "$T/loadgen.out"
assert_eq "" "$(tail -1 "$T/loadgen.out" | tr ' ' '\n' |
	grep '^status_' | grep -v '^status_503=')" "every failed call got a 503"
for n in a b; do
	v="NODE_PID_$n"
	kill -0 "${!v}" 2>/dev/null && ok "node $n is still running" ||
		fail "node $n died"
done

# ---- everything acknowledged is there --------------------------------------
assert_run_ok "audit export" "$JIT_CA" audit export --config "$T/a.yaml" \
	-o "$T/audit.jsonl"
assert_run_ok "audit verify passes" "$JIT_CA" audit verify "$T/audit.jsonl" \
	--ca-key "$T/a/ca_key.pub"
jq -r 'select(.event == "request.create") | .request' "$T/audit.jsonl" |
	sort >"$T/created"
awk '$1 == "C" {print $2}' "$T/ack.log" | sort >"$T/acked"
assert_eq "" "$(comm -13 "$T/created" "$T/acked")" \
	"every acknowledged request ($(wc -l <"$T/acked")) was created"
jq -r 'select(.event == "cert.issue") | .serial' "$T/audit.jsonl" |
	sort -n >"$T/serials"
assert_eq "" "$(uniq -d "$T/serials")" "no serial issued twice"
jq -r 'select(.event == "cert.issue") | .request' "$T/audit.jsonl" |
	sort >"$T/cert-requests"
assert_eq "" "$(uniq -d "$T/cert-requests")" "one certificate per grant"
bad=0
while read -r _ id cert; do
	got=$(curl -s -H "Authorization: Bearer $TOK_alice" \
		"$(nurl b)/v1/requests/$id/certificate")
	[ "$got" = "$cert" ] || bad=$((bad + 1))
done < <(grep '^I ' "$T/ack.log")
assert_eq 0 "$bad" "every acknowledged certificate is stored, the same bytes"
assert_not_contains "$(cat "$T"/node-*.log)" "internal error" \
	"the nodes logged no internal error"

node_stop a
node_stop b
finish
