#!/bin/bash
# test-pg-copy.sh - moving an installation from LMDB to PostgreSQL with
# `jit-ca store copy`: a server on LMDB makes requests, certificates, a
# revocation and tokens; after the copy an export from the new store
# verifies and ends at the old chain head; a server on PostgreSQL then
# takes the old tokens, serves the same requests, certificates and KRL,
# and goes on with new serials on the same chain.  A second copy into the
# filled store is refused.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/api-lib.sh"
. "$(dirname "$0")/pg-lib.sh"

need_env JIT_CA
need_cmd curl jq
pg_need

# ---- an installation on LMDB -------------------------------------------------
api_policy
api_start || { fail "LMDB server starts"; finish; }
api_tokens alice bob dave || { fail "tokens"; finish; }
make_user_key ed25519 "$T/user_key"
new_request "$TOK_alice" ops 30m "INC-1 before the move"
OPS=$RID
api "$TOK_bob" POST "/v1/requests/$OPS/approve" '{}'
api "$TOK_alice" GET "/v1/requests/$OPS/certificate"
assert_eq 200 "$STATUS" "a certificate on LMDB"
CERT_OPS=$RB
new_request "$TOK_alice" auto
AUTO=$RID
api "$TOK_alice" GET "/v1/requests/$AUTO/certificate"
CERT_AUTO=$RB
api "$TOK_dave" POST "/v1/requests/$OPS/revoke" '{"comment":"moved"}'
assert_eq 200 "$STATUS" "a revocation on LMDB"
new_request "$TOK_alice" ops 10m "INC-2 still pending"
PENDING=$RID
curl -s -o "$T/krl.lmdb" "$JURL/v1/krl"
api_stop
assert_run_ok "LMDB export" "$JIT_CA" audit export --data "$T/data" \
	-o "$T/lmdb.jsonl"
HEAD_LMDB=$(tail -1 "$T/lmdb.jsonl" | jq -c .export.chain_head)
assert_match "$HEAD_LMDB" '"seq":[0-9]+' "the LMDB chain head: $HEAD_LMDB"

# ---- the copy ----------------------------------------------------------------
pg_start || { fail "PostgreSQL starts"; finish; }
run "$JIT_CA" store copy --from "lmdb:$T/data" --to "$PG_URL_NOPW" \
	--password-file "$PG_PWFILE"
assert_rc 0 "jit-ca store copy"
assert_contains "$OUT" "audit chain head: $(jq -r .seq <<<"$HEAD_LMDB") $(jq -r .hash <<<"$HEAD_LMDB")" \
	"the copy reports the old chain head"
assert_contains "$OUT" "copied 3 requests, 2 certificates, 3 tokens" "counts"

sed "s|^data: .*|data: $T/data|" "$T/server.yaml" >"$T/pg.yaml"
cat >>"$T/pg.yaml" <<EOF
store:
  url: $PG_URL_NOPW
  password_file: $PG_PWFILE
EOF
assert_run_ok "export from the new store" "$JIT_CA" audit export \
	--config "$T/pg.yaml" -o "$T/pg.jsonl"
assert_run_ok "it verifies" "$JIT_CA" audit verify "$T/pg.jsonl" \
	--ca-key "$T/data/ca_key.pub"
assert_eq "$HEAD_LMDB" "$(tail -1 "$T/pg.jsonl" | jq -c .export.chain_head)" \
	"its chain head equals the old one"
assert_eq "$(grep -v '"export"' "$T/lmdb.jsonl")" \
	"$(grep -v '"export"' "$T/pg.jsonl")" "the entries are byte for byte the same"

run "$JIT_CA" store copy --from "lmdb:$T/data" --to "$PG_URL_NOPW" \
	--password-file "$PG_PWFILE"
assert_rc 1 "a second copy fails"
assert_contains "$ERR" "not empty" "because the target is not empty"
assert_eq 1 "$(printf '%s\n' "$ERR" | wc -l)" "in one line"
assert_one_line_error "--from must be lmdb:DIR or a URL" "$JIT_CA" store copy \
	--from "$T/data" --to "$PG_URL_NOPW"

# ---- a server on PostgreSQL takes over ------------------------------------
mv "$T/server.yaml" "$T/lmdb.yaml"
cp "$T/pg.yaml" "$T/server.yaml"
_api_server_conf() {      # keep the store: in the restarted server's config
	sed "s|^listen: .*|listen: 127.0.0.1:$1|" "$T/pg.yaml" >"$T/server.yaml"
}
api_start || { fail "server on PostgreSQL starts"; finish; }
api "$TOK_alice" GET /v1/whoami
assert_eq alice "$(jget "$RB" .user)" "the old token works"
api "$TOK_alice" GET "/v1/requests/$PENDING"
assert_eq pending "$(jget "$RB" .state)" "the pending request is there"
api "$TOK_alice" GET "/v1/requests/$AUTO/certificate"
assert_eq "$CERT_AUTO" "$RB" "the certificate is the same bytes"
curl -s -o "$T/krl.pg" "$JURL/v1/krl"
cmp -s "$T/krl.lmdb" "$T/krl.pg" && ok "the KRL is the same" ||
	fail "the KRL changed"
old_max=$(for c in "$CERT_OPS" "$CERT_AUTO"; do
	printf '%s\n' "$c" >"$T/c.pub"
	ssh-keygen -L -f "$T/c.pub" | awk '/Serial:/{print $2}'
done | sort -n | tail -1)
new_request "$TOK_alice" auto
api "$TOK_alice" GET "/v1/requests/$RID/certificate"
printf '%s\n' "$RB" >"$T/new.pub"
new_serial=$(ssh-keygen -L -f "$T/new.pub" | awk '/Serial:/{print $2}')
[ "$new_serial" -gt "$old_max" ] &&
	ok "a new certificate's serial ($new_serial) is above the copied ones ($old_max)" ||
	fail "serial $new_serial is not above $old_max"
api_stop
assert_run_ok "export after new work" "$JIT_CA" audit export \
	--config "$T/pg.yaml" -o "$T/pg2.jsonl"
assert_run_ok "the chain still verifies" "$JIT_CA" audit verify \
	"$T/pg2.jsonl" --ca-key "$T/data/ca_key.pub"
assert_eq "$(grep -v '"export"' "$T/lmdb.jsonl")" \
	"$(grep -v '"export"' "$T/pg2.jsonl" | head -n "$(jq -r .seq <<<"$HEAD_LMDB")")" \
	"it begins with the old entries"
finish
