#!/bin/bash
# Nothing signed outside the record: `jit-ca sign` on a data directory
# with a store takes a serial the server never used, stores the record
# and appends a cert.issue entry with the operator as actor (the export
# verifies); a --serial the store already used is refused and changes
# nothing; a CA without a store says its certificates are unaudited.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/api-lib.sh"

need_env JIT_CA
need_cmd jq ssh-keygen

api_start || { fail "server starts"; finish; }
api_tokens alice bob dave || exit 1
make_user_key ed25519 "$T/user_key"
new_request "$TOK_alice" auto 5m
api "$TOK_alice" GET "/v1/requests/$RID/certificate"
assert_eq 200 "$STATUS" "the server issues serial 1"

a0=$(audit_count)
assert_run_ok "jit-ca sign while the server runs" \
	"$JIT_CA" sign --config "$T/server.yaml" --key "$T/user_key.pub" \
	--principal "$JIT_USER1" --duration 10m -o "$T/offline-cert.pub"
assert_contains "$(ssh-keygen -L -f "$T/offline-cert.pub")" "Serial: 2" \
	"the offline certificate takes the store's next serial"
assert_eq $((a0 + 1)) "$(audit_count)" "one audit entry for it"
entry=$(curl -s -H "Authorization: Bearer $TOK_dave" \
	"$JURL/v1/audit?event=cert.issue" | jq -c 'select(.serial == 2)')
assert_eq "operator:$(id -un) true" "$(jq -r '"\(.actor) \(.offline)"' <<<"$entry")" \
	"cert.issue names the operator and says offline"

assert_run_fails "a serial the store used is refused" \
	"$JIT_CA" sign --config "$T/server.yaml" --key "$T/user_key.pub" \
	--principal "$JIT_USER1" --duration 10m --serial 1
assert_contains "$ERR" "serial 1 was already used" "and says so"
assert_eq $((a0 + 1)) "$(audit_count)" "the refusal recorded nothing"

new_request "$TOK_alice" auto 5m
api "$TOK_alice" GET "/v1/requests/$RID/certificate"
printf '%s\n' "$RB" >"$T/next-cert.pub"
assert_contains "$(ssh-keygen -L -f "$T/next-cert.pub")" "Serial: 3" \
	"the server goes on after the offline serial"

assert_run_ok "init a CA without a store" "$JIT_CA" init --data "$T/bare"
assert_run_ok "sign with it" "$JIT_CA" sign --data "$T/bare" \
	--key "$T/user_key.pub" --principal x --duration 1h -o "$T/bare-cert.pub"
assert_contains "$ERR" "not in any audit log" "a CA without a store says its certificate is unaudited"
finish
