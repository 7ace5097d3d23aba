#!/bin/bash
# test-pg-nodes.sh - two `jit-ca serve` nodes on one PostgreSQL database
# (a real server started here, tests/integration/pg-lib.sh): tokens made
# once work on both; alice creates on node A, bob approves on node B and
# alice's long-poll on A returns at once; the certificate fetched from B
# is byte-identical to A's and a real sshd accepts it; a revocation on
# one node is in the KRL the other serves next, though it had its KRL
# cached (the caches are keyed by the database's commit counter), and so
# is a new request in the other's /metrics; two nodes racing creates by
# one user pass max_pending's cap exactly; both nodes' audit exports
# verify and end at the same head; `jit-ca store migrate` is a no-op on a current schema
# and a wrong password is one clear line.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/api-lib.sh"
. "$(dirname "$0")/pg-lib.sh"
. "$(dirname "$0")/nodes-lib.sh"

need_env JIT_CA
need_cmd curl jq
need_root
need_sshd
pg_need
ensure_test_users

pg_start || { fail "PostgreSQL starts"; finish; }
ok "PostgreSQL on port $PG_PORT"
api_policy
node_ca || { fail "CA"; finish; }
NODE_CONF_EXTRA="max_pending: 4"
node_start a || { fail "node a starts"; finish; }
node_start b || { fail "node b starts"; finish; }
ok "nodes on $(nurl a) and $(nurl b)"
assert_contains "$(cat "$NODE_LOG_a")" "store: PostgreSQL" "node a logs its store"
node_tokens alice bob dave || { fail "tokens"; finish; }
make_user_key ed25519 "$T/user_key"

# ---- tokens live in the database: valid on both nodes -------------------
napi a "$TOK_alice" GET /v1/whoami
assert_eq alice "$(jget "$RB" .user)" "alice's token on node a"
napi b "$TOK_alice" GET /v1/whoami
assert_eq alice "$(jget "$RB" .user)" "alice's token on node b"
napi a "" GET /v1/ca
CA_A=$RB
napi b "" GET /v1/ca
assert_eq "$CA_A" "$RB" "both nodes serve the same CA"
echo "$CA_A" >"$T/ca.pub"

# ---- create on A, long-poll on A, approve on B ----------------------------
JURL=$(nurl a)
new_request "$TOK_alice" ops 30m "INC-77 two nodes"
assert_eq 201 "$STATUS" "create on node a: 201"
curl -s -H "Authorization: Bearer $TOK_alice" \
	"$(nurl a)/v1/requests/$RID?wait=25" >"$T/poll.json" &
POLL=$!
# The poll is waiting once node a has counted it (the request is read).
napi b "$TOK_bob" GET "/v1/requests/$RID"
assert_eq pending "$(jget "$RB" .state)" "node b sees the pending request"
t0=$(date +%s%N)
napi b "$TOK_bob" POST "/v1/requests/$RID/approve" '{"comment":"via b"}'
assert_eq 200 "$STATUS" "approve on node b: 200"
wait "$POLL"
t1=$(date +%s%N)
assert_eq approved "$(jq -r .state "$T/poll.json")" "the long-poll on a returns approved"
ms=$(((t1 - t0) / 1000000))
[ "$ms" -lt 3000 ] && ok "long-poll on a woke $ms ms after the approval on b" ||
	fail "long-poll on a woke late ($ms ms)"

# ---- the certificate: the same bytes from both nodes, accepted by sshd --
napi a "$TOK_alice" GET "/v1/requests/$RID/certificate"
assert_eq 200 "$STATUS" "certificate from node a"
CERT_A=$RB
napi b "$TOK_alice" GET "/v1/requests/$RID/certificate"
assert_eq 200 "$STATUS" "certificate from node b"
assert_eq "$CERT_A" "$RB" "node b's certificate is byte-identical to node a's"
printf '%s\n' "$CERT_A" >"$T/user_key-cert.pub"
start_sshd --ca "$T/ca.pub" || { fail "sshd starts"; finish; }
assert_login_ok "plain ssh logs in with the certificate" "$T/user_key" \
	"$T/user_key-cert.pub" "$JIT_USER1"
SERIAL=$(ssh-keygen -L -f "$T/user_key-cert.pub" | awk '/Serial:/{print $2}')

# ---- both nodes fetch a new grant's certificate at once ---------------------
JURL=$(nurl b)
new_request "$TOK_alice" auto
assert_eq approved "$(jget "$RB" .state)" "auto grant approved on b"
pids=()
for n in a b a b; do
	curl -s -o "$T/race.$n.${#pids[@]}" -H "Authorization: Bearer $TOK_alice" \
		"$(nurl "$n")/v1/requests/$RID/certificate" &
	pids+=($!)
done
wait "${pids[@]}"
assert_eq 1 "$(cat "$T"/race.* | sort -u | wc -l)" "four simultaneous fetches on two nodes: one certificate"
assert_match "$(cat "$T"/race.* | head -1)" '^ssh-ed25519-cert-v01@openssh.com ' "it is a certificate"
RACED=$RID

# ---- revoke on A: in B's KRL at once, though B had it cached ----------------
# requests in a state, from a node's /metrics
gauge() {
	curl -s "$(nurl "$1")/metrics" |
		awk -v s="jit_requests{state=\"$2\"}" '$1 == s { print $2 }'
}
FIRST=$(jq -r .id "$T/poll.json")
curl -s -o "$T/krl.b0" "$(nurl b)/v1/krl"
curl -s -o "$T/krl.b1" "$(nurl b)/v1/krl"
cmp -s "$T/krl.b0" "$T/krl.b1" && ok "node b serves its KRL again (cached)" ||
	fail "node b's KRL changed with nothing committed"
run ssh-keygen -Q -f "$T/krl.b1" "$T/user_key-cert.pub"
assert_not_contains "$OUT" "REVOKED" "serial $SERIAL is not in node b's KRL yet"
napi a "$TOK_dave" POST "/v1/requests/$FIRST/revoke" '{"comment":"done"}'
assert_eq 200 "$STATUS" "revoke on node a"
curl -s -o "$T/krl.b" "$(nurl b)/v1/krl"
run ssh-keygen -Q -f "$T/krl.b" "$T/user_key-cert.pub"
assert_contains "$OUT" "REVOKED" "node b's next KRL revokes serial $SERIAL"
curl -s -o "$T/krl.a" "$(nurl a)/v1/krl"
cmp -s "$T/krl.a" "$T/krl.b" && ok "both nodes serve the same KRL" ||
	fail "the nodes' KRLs differ"
P0=$(gauge b pending)
assert_eq "$P0" "$(gauge b pending)" "node b's /metrics, served again"
JURL=$(nurl a)
new_request "$TOK_alice" ops 30m "INC-78 metrics"
assert_eq 201 "$STATUS" "a pending request made on node a"
assert_eq "$((P0 + 1))" "$(gauge b pending)" "node b's /metrics counts it at once"

# ---- max_pending across nodes: racing creates, the cap holds ------------------
# bob's creates go to a and b in turn, 12 at once; the cap (max_pending:
# 4 on both nodes) counts inside each write and the nodes' writes commit
# one after the other, so exactly 4 pass.
pids=()
for i in $(seq 1 12); do
	n=$([ $((i % 2)) = 0 ] && echo a || echo b)
	curl -s -o /dev/null -w '%{http_code}\n' -X POST \
		-H "Authorization: Bearer $TOK_bob" \
		-H 'Content-Type: application/json' \
		-d "{\"role\":\"ops\",\"duration\":\"30m\",\"reason\":\"INC-$i race\",\"public_key\":\"$(cat "$T/user_key.pub")\"}" \
		"$(nurl "$n")/v1/requests" >"$T/cap.$i" &
	pids+=($!)
done
wait "${pids[@]}"
assert_eq 4 "$(cat "$T"/cap.* | grep -c '^201$')" "4 of 12 racing creates on two nodes pass"
assert_eq 8 "$(cat "$T"/cap.* | grep -c '^409$')" "the other 8 are refused (too_many_pending)"

# ---- one audit chain: both exports verify and end at the same head --------
assert_run_ok "export through node a's config" "$JIT_CA" audit export \
	--config "$T/a.yaml" -o "$T/audit.a.jsonl"
assert_run_ok "export through node b's config" "$JIT_CA" audit export \
	--config "$T/b.yaml" -o "$T/audit.b.jsonl"
assert_run_ok "node a's export verifies" "$JIT_CA" audit verify \
	"$T/audit.a.jsonl" --ca-key "$T/ca.pub"
assert_run_ok "node b's export verifies" "$JIT_CA" audit verify \
	"$T/audit.b.jsonl" --ca-key "$T/b/ca_key.pub"
HEAD_A=$(tail -1 "$T/audit.a.jsonl" | jq -c .export.chain_head)
assert_match "$HEAD_A" '"hash":"[0-9a-f]{64}"' "node a's export names its chain head"
assert_eq "$HEAD_A" "$(tail -1 "$T/audit.b.jsonl" | jq -c .export.chain_head)" \
	"node b's export ends at the same chain head"
assert_eq 2 "$(grep -c '"event":"server.start"' "$T/audit.a.jsonl")" \
	"both nodes' starts are in the one log"
assert_eq 1 "$(grep '"event":"cert.issue"' "$T/audit.a.jsonl" | grep -c "\"request\":\"$RACED\"")" \
	"one cert.issue for the raced grant"
seqs=$(jq -r 'select(.seq) | .seq' "$T/audit.a.jsonl" | tr '\n' ' ')
assert_eq "$(seq 1 "$(jq -r .seq <<<"$HEAD_A")" | tr '\n' ' ')" "$seqs" \
	"audit seqs 1..head without gaps"

# ---- the CLI against the database --------------------------------------------
run "$JIT_CA" token list --config "$T/b.yaml"
assert_rc 0 "token list through node b's config"
assert_contains "$OUT" "alice" "it lists the tokens made through node a's"
run "$JIT_CA" store migrate --config "$T/a.yaml"
assert_rc 0 "store migrate on a current schema"
assert_contains "$ERR" "schema version 4" "it names the schema version"
echo wrong >"$T/wrong.pw"
sed "s|password_file: .*|password_file: $T/wrong.pw|" "$T/a.yaml" >"$T/bad.yaml"
assert_one_line_error "a wrong password is one line" "$JIT_CA" token list \
	--config "$T/bad.yaml"
assert_contains "$ERR" "password authentication failed" "and says why"

node_stop a
node_stop b
finish
