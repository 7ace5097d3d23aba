#!/bin/bash
# test-api-badinput.sh - bad input never crashes the server and never
# changes state: malformed JSON, wrong types, missing and unknown fields,
# huge bodies (413, also chunked), huge headers, bad public keys, unknown
# roles, over-long durations, bad reasons, bad query strings, wrong
# methods and paths.  After each: the right status, the server alive, the
# stored requests and the audit log unchanged.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/api-lib.sh"

need_env JIT_CA
need_cmd curl jq

api_policy
api_start || { fail "server starts"; finish; }
api_tokens alice bob dave || { fail "tokens"; finish; }
make_user_key ed25519 "$T/user_key"
make_user_key rsa-2048 "$T/rsa_key"
PK=$(cat "$T/user_key.pub")

new_request "$TOK_alice" ops 10m "INC-1"
P1=$RID
assert_eq 201 "$STATUS" "a good request"

state_sum() {
	curl -s "$JURL/metrics" | awk '/^jit_requests\{/{s+=$2} END{print s}'
}
S0=$(state_sum)
A0=$(audit_count_changes)
api "$TOK_dave" GET "/v1/requests/$P1"
R0=$RB

# bad EXPECTED MSG TOKEN METHOD PATH [BODY]
bad() {
	local exp=$1 msg=$2
	shift 2
	api "$@"
	assert_eq "$exp" "$STATUS" "$msg -> $exp"
	if [ "$STATUS" != 413 ] && [ "$STATUS" != 000 ]; then
		[ "$(jget "$RB" '.error | type')" = string ] &&
			[ "$(jget "$RB" '.detail | type')" = string ] ||
			fail "$msg: error body has error and detail" "$RB"
	fi
}

create() {
	bad "$1" "$2" "$TOK_alice" POST /v1/requests "$3"
}

j() { jq -cn "$@"; }

create 400 "malformed JSON" '{"role": "ops",'
create 400 "not an object (array)" '[]'
create 400 "not an object (string)" '"ops"'
create 400 "empty body" ''
create 400 "trailing garbage" "$(j --arg k "$PK" '{role:"ops",public_key:$k,reason:"INC-1"}') x"
create 400 "duplicate keys" '{"role":"ops","role":"auto"}'
create 400 "role missing" "$(j --arg k "$PK" '{public_key:$k}')"
create 400 "public_key missing" '{"role":"auto"}'
create 400 "role of the wrong type" "$(j --arg k "$PK" '{role:5,public_key:$k}')"
create 400 "role null" "$(j --arg k "$PK" '{role:null,public_key:$k}')"
create 400 "public_key of the wrong type" '{"role":"auto","public_key":["x"]}'
create 400 "duration boolean" "$(j --arg k "$PK" '{role:"auto",public_key:$k,duration:true}')"
create 400 "duration negative" "$(j --arg k "$PK" '{role:"auto",public_key:$k,duration:-5}')"
create 400 "duration zero" "$(j --arg k "$PK" '{role:"auto",public_key:$k,duration:0}')"
create 400 "duration fractional" "$(j --arg k "$PK" '{role:"auto",public_key:$k,duration:1.5}')"
create 400 "duration huge" "$(j --arg k "$PK" '{role:"auto",public_key:$k,duration:99999999999999999}')"
create 400 "duration junk string" "$(j --arg k "$PK" '{role:"auto",public_key:$k,duration:"soon"}')"
create 400 "reason of the wrong type" "$(j --arg k "$PK" '{role:"auto",public_key:$k,reason:7}')"
create 400 "unknown field" "$(j --arg k "$PK" '{role:"auto",public_key:$k,admin:true}')"
create 400 "NUL in a string" "{\"role\":\"auto\",\"public_key\":\"ssh-ed25519\\u0000AAAA\"}"
create 400 "invalid UTF-8" "$(printf '{"role":"\xff\xfe","public_key":"x"}')"
create 400 "deep nesting" "$(printf '%0.s[' $(seq 3000))"
create 400 "start not a time" "$(j --arg k "$PK" '{role:"auto",public_key:$k,start:"tomorrow"}')"

# public keys
create 400 "garbage public key" '{"role":"auto","public_key":"hello world"}'
create 400 "truncated public key" '{"role":"auto","public_key":"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5"}'
create 400 "bad base64" '{"role":"auto","public_key":"ssh-ed25519 !!!!"}'
create 400 "type/blob mismatch" "$(j --arg b "$(cut -d' ' -f2 "$T/rsa_key.pub")" '{role:"auto",public_key:("ssh-ed25519 " + $b)}')"
ssh-keygen -q -s "$T/user_key" -I x -n x "$T/rsa_key.pub" 2>/dev/null
create 400 "a certificate instead of a key" "$(j --arg k "$(cat "$T/rsa_key-cert.pub")" '{role:"auto",public_key:$k}')"
if ssh-keygen -q -t dsa -N '' -f "$T/dsa_key" </dev/null >/dev/null 2>&1; then
	create 400 "DSA key" "$(j --arg k "$(cat "$T/dsa_key.pub")" '{role:"auto",public_key:$k}')"
fi
if ssh-keygen -q -t rsa -b 1024 -N '' -f "$T/rsa1k" </dev/null >/dev/null 2>&1; then
	create 400 "RSA 1024" "$(j --arg k "$(cat "$T/rsa1k.pub")" '{role:"auto",public_key:$k}')"
fi
create 400 "key type not allowed by the role (rsa for ops)" \
	"$(j --arg k "$(cat "$T/rsa_key.pub")" '{role:"ops",public_key:$k,reason:"INC-1"}')"

# policy-level input
create 400 "unknown role" "$(j --arg k "$PK" '{role:"nosuch",public_key:$k}')"
assert_eq unknown_role "$(jget "$RB" .error)" "unknown role error name"
create 400 "duration above the role maximum" \
	"$(j --arg k "$PK" '{role:"ops",public_key:$k,duration:"2h",reason:"INC-1"}')"
assert_contains "$(jget "$RB" .detail)" "1h" "the error names the maximum"
create 400 "reason missing where required" "$(j --arg k "$PK" '{role:"ops",public_key:$k}')"
create 400 "reason not matching the pattern" \
	"$(j --arg k "$PK" '{role:"ops",public_key:$k,reason:"because"}')"
create 400 "reason with control characters" \
	"$(j --arg k "$PK" '{role:"ops",public_key:$k,reason:"INC-1\u0007"}')"
# The pattern is PCRE2's ^[A-Z]+-\d+ (api-lib.sh): digits only.
create 400 "reason INC-ddd not matching ^[A-Z]+-\\d+" \
	"$(j --arg k "$PK" '{role:"ops",public_key:$k,reason:"INC-ddd"}')"
assert_eq bad_reason "$(jget "$RB" .error)" "a reason off the pattern is bad_reason"
for cp in 009b 0085 202e 2066; do
	create 400 "reason with U+${cp^^} (C1 control or bidi override)" \
		"$(j --arg k "$PK" "{role:\"ops\",public_key:\$k,reason:\"INC-1 \\u$cp x\"}")"
done
create 400 "reason too long" \
	"$(j --arg k "$PK" --arg r "INC-1 $(head -c 2000 /dev/zero | tr '\0' x)" '{role:"ops",public_key:$k,reason:$r}')"

# huge bodies and headers
head -c 100000 /dev/zero | tr '\0' ' ' >"$T/big.json"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOK_alice" \
	-H 'Content-Type: application/json' --data-binary @"$T/big.json" "$JURL/v1/requests")
assert_eq 413 "$code" "body over max_body -> 413"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOK_alice" \
	-H 'Transfer-Encoding: chunked' -H 'Content-Type: application/json' \
	--data-binary @"$T/big.json" "$JURL/v1/requests")
assert_eq 413 "$code" "chunked body over max_body -> 413"
head -c 5000000 /dev/zero | tr '\0' ' ' >"$T/huge.json"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOK_alice" \
	--data-binary @"$T/huge.json" "$JURL/v1/requests/$P1/approve")
assert_eq 413 "$code" "5 MB body -> 413"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOK_alice" \
	-H "X-Big: $(head -c 40000 /dev/zero | tr '\0' a)" "$JURL/v1/whoami")
case $code in 413 | 431 | 400) ok "huge header refused ($code)" ;;
*) fail "huge header refused" "got $code" ;; esac

# actions
bad 400 "approve: comment of the wrong type" "$TOK_bob" POST "/v1/requests/$P1/approve" '{"comment":5}'
bad 400 "approve: unknown field" "$TOK_bob" POST "/v1/requests/$P1/approve" '{"comment":"x","force":true}'
bad 400 "approve: malformed JSON" "$TOK_bob" POST "/v1/requests/$P1/approve" '{'
bad 400 "approve: control characters in comment" "$TOK_bob" POST "/v1/requests/$P1/approve" '{"comment":"a\nb"}'
bad 400 "approve: a C1 control in comment" "$TOK_bob" POST "/v1/requests/$P1/approve" '{"comment":"ok \u009b31m"}'
bad 400 "approve: a bidi override in comment" "$TOK_bob" POST "/v1/requests/$P1/approve" '{"comment":"ok \u202e"}'
bad 400 "deny: empty comment" "$TOK_bob" POST "/v1/requests/$P1/deny" '{"comment":""}'
bad 400 "cancel: a body with fields" "$TOK_alice" POST "/v1/requests/$P1/cancel" '{"comment":"x"}'

# query strings
bad 400 "wait not a number" "$TOK_alice" GET "/v1/requests/$P1?wait=abc"
bad 400 "wait above max_wait" "$TOK_alice" GET "/v1/requests/$P1?wait=9999"
bad 400 "wait negative" "$TOK_alice" GET "/v1/requests/$P1?wait=-1"
bad 400 "unknown query parameter" "$TOK_alice" GET "/v1/requests/$P1?token=x"
bad 400 "bad percent escape" "$TOK_alice" GET "/v1/requests?state=%zz"
bad 400 "unknown state" "$TOK_alice" GET "/v1/requests?state=bogus"
bad 400 "limit 0" "$TOK_alice" GET "/v1/requests?limit=0"
bad 400 "limit too big" "$TOK_alice" GET "/v1/requests?limit=100000"
bad 400 "repeated parameter" "$TOK_alice" GET "/v1/requests?state=pending&state=approved"

# methods and paths
bad 405 "DELETE /v1/requests" "$TOK_alice" DELETE /v1/requests
bad 405 "GET .../approve" "$TOK_alice" GET "/v1/requests/$P1/approve"
bad 405 "POST /v1/ca" "$TOK_alice" POST /v1/ca '{}'
bad 404 "unknown path" "$TOK_alice" GET /v2/requests
bad 404 "unknown action" "$TOK_alice" POST "/v1/requests/$P1/explode" '{}'
bad 404 "id too long" "$TOK_alice" GET "/v1/requests/r-aaaaaaaaaaaaaaaaaaaaaaaa"

# a raw request that is not HTTP at all
printf 'GARBAGE\r\n\r\n' | timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$API_PORT; cat >&3; cat <&3" \
	>/dev/null 2>&1
ok "sent a non-HTTP request"

# ---- nothing changed, server alive ----------------------------------------------
api "" GET /healthz
assert_eq 200 "$STATUS" "server alive after all of it"
assert_eq "$S0" "$(state_sum)" "no request was stored by bad input"
assert_eq "$A0" "$(audit_count_changes)" \
	"no audit entry from bad input but request.refused ones"
api "$TOK_dave" GET "/v1/requests/$P1"
assert_eq "$R0" "$RB" "the pending request is unchanged"
api "$TOK_bob" POST "/v1/requests/$P1/approve" '{"comment":"fine"}'
assert_eq approved "$(jget "$RB" .state)" "and can still be approved normally"

api_stop
assert_eq 0 "$API_RC" "clean exit"
finish
