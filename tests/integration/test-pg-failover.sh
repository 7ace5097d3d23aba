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

pg_start || { fail "PostgreSQL starts"; finish; }
api_policy
node_ca || { fail "CA"; finish; }
node_start a || { fail "node a starts"; finish; }
node_start b || { fail "node b starts"; finish; }
node_tokens alice || { fail "tokens"; finish; }
printf '%s\n' "$TOK_alice" >"$T/tokens"
make_user_key ed25519 "$T/user_key"

# Certificates made so far (lines "I ID CERT" in the load generator's log).
issued() {
	local n
	n=$(grep -c '^I ' "$T/ack.log" 2>/dev/null)
	echo "${n:-0}"
}

jit_bg "$T/loadgen.out" "$JIT_LOADGEN" -u "$(nurl a)" -u "$(nurl b)" \
	-T "$T/tokens" -c 8 -k 32 -w 0 -d 600 -L "$T/ack.log"
LG=$JIT_BG_PID

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

T_LOAD=$(date +%s)
for victim in a b; do
	want=$(($(issued) + STEP))
	wait_for "[ \$(issued) -ge $want ]" 120 ||
		{ fail "load reaches $want certificates"; break; }
	node_stop "$victim" KILL
	ok "node $victim killed with SIGKILL after $(issued) certificates"
	want=$(($(issued) + STEP))
	# The other node carries on alone.
	wait_for "[ \$(issued) -ge $want ]" 120 &&
		ok "the other node went on alone ($(issued))" ||
		fail "the other node went on alone"
	node_start "$victim" || { fail "node $victim restarts"; finish; }
	ok "node $victim restarted on its port"
done
want=$(($(issued) + STEP))
wait_for "[ \$(issued) -ge $want ]" 120 || fail "load reaches $want after the restarts"
kill -TERM "$LG"
wait "$LG"
assert_eq 0 "$?" "the load generator finished ($(($(date +%s) - T_LOAD)) s)"
wait "$RACE"
sed 's/^/# /' "$T/loadgen.out"
# Failures are a node that is gone (no answer) or 503, never another
# answer.
assert_eq "" "$(tail -1 "$T/loadgen.out" | tr ' ' '\n' |
	grep '^status_' | grep -v -e '^status_0=' -e '^status_503=')" \
	"failed calls got no answer or 503"
[ "$(issued)" -ge "$want" ] && ok "$(issued) certificates acknowledged" ||
	fail "only $(issued) certificates acknowledged"

# ---- everything acknowledged is there --------------------------------------
assert_run_ok "audit export" "$JIT_CA" audit export --config "$T/b.yaml" \
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
assert_eq "" "$(uniq -d "$T/serials")" "no serial issued twice ($(wc -l <"$T/serials") certificates)"
jq -r 'select(.event == "cert.issue") | .request' "$T/audit.jsonl" |
	sort >"$T/cert-requests"
assert_eq "" "$(uniq -d "$T/cert-requests")" "one certificate per grant"
bad=0
while read -r _ id cert; do
	got=$(curl -s -H "Authorization: Bearer $TOK_alice" \
		"$(nurl a)/v1/requests/$id/certificate")
	[ "$got" = "$cert" ] || bad=$((bad + 1))
	grep -qx "$id" "$T/cert-requests" || bad=$((bad + 1))
done < <(grep '^I ' "$T/ack.log")
assert_eq 0 "$bad" "every acknowledged certificate is stored, the same bytes"
races=0 diff=0
for f in "$T"/race/*.a; do
	[ -f "$f" ] && [ -f "${f%.a}.b" ] || continue
	races=$((races + 1))
	cmp -s "$f" "${f%.a}.b" || diff=$((diff + 1))
done
[ "$races" -gt 0 ] && ok "$races grants fetched from both nodes at once" ||
	fail "no grant was fetched from both nodes"
assert_eq 0 "$diff" "both nodes returned the same certificate each time"
for n in a b; do
	assert_not_contains "$(cat "$T"/node-$n.*.log)" "internal error" \
		"node $n logged no internal error"
done

node_stop a
node_stop b
finish
