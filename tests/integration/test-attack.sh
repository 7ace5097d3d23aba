#!/bin/bash
# test-attack.sh - the API under attack (SECURITY.md lists what each of
# these defends):
#   - token guessing: failed authentications are rate limited per client
#     address (429 + Retry-After); another address and valid tokens are not
#     held up, and the limit lifts once the bucket refills;
#   - a valid user over the per-user rate also gets 429;
#   - slow clients (half a header, idle connections) are cut off after the
#     connection timeout while other clients are served;
#   - oversized request lines and many headers (test-api-badinput.sh has
#     the 40 KB header and the 64 KB / 5 MB / chunked bodies);
#   - path tricks (dot segments, doubled slashes, very long paths, odd
#     characters in ids) get 404, and encodings that are not canonical
#     (%2e, %2f, %72 for 'r', %00) get 400 (test-api-framing.sh has more),
#     never another user's data;
#   - request ids that are not ours: 403 for a request the caller may not
#     see (the id is 60 random bits, so this reveals only that an id the
#     caller already holds exists), 404 for unknown ids; no data leaks;
#   - the server refuses a CA key readable by group or others;
#   - no token (good or guessed), private key or certificate body in the
#     server log.
# TLS >= 1.2 only is tested in test-api-tls.sh.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/api-lib.sh"

need_env JIT_CA
need_cmd curl jq ssh-keygen timeout

api_policy
# First rate_limit 2/s (burst 4) for the guessing tests, then a restart
# without it.  max_wait 1s gives the shortest connection timeout the server
# allows (max_wait + 10 s).
API_RATE_LIMIT=2 API_MAX_WAIT=1s api_start "connection_timeout: 1s" ||
	{ fail "server starts"; finish; }
api_tokens alice bob dave erin frank gina || { fail "tokens"; finish; }
make_user_key ed25519 "$T/user_key"

# code URL_PATH [CURL ARGS...]: print the HTTP status (000 = no answer).
code() {
	local p=$1
	shift
	curl -s -o "$T/.code.body" -w '%{http_code}' --max-time 20 "$@" "$JURL$p"
}

# ---- token guessing ------------------------------------------------------
guess() {
	printf 'jit_%s' "$(head -c 32 /dev/urandom | base64 -w0 | tr '+/' '-_' | tr -d '=')"
}
: >"$T/guesses"
# guess_at I: one guessed token; its status goes to $T/code.I, its headers
# to $T/hdr.I and its body to $T/body.I.
guess_at() {
	local g
	g=$(guess)
	echo "$g" >>"$T/guesses"
	curl -s -o "$T/body.$1" -D "$T/hdr.$1" -w '%{http_code}' --max-time 20 \
		-H "Authorization: Bearer $g" "$JURL/v1/whoami" >"$T/code.$1"
}
# batch FIRST N FN: run FN FIRST .. FN FIRST+N-1 at once and wait for them.
# Parallel calls outrun the refill (2/s) however slow the machine is.
batch() {
	local i pids=()
	for i in $(seq "$1" $(($1 + $2 - 1))); do
		"$3" "$i" &
		pids+=($!)
	done
	wait "${pids[@]}"
}
count_codes() {  # count_codes CODE: how many $T/code.* hold CODE
	grep -lx "$1" "$T"/code.* 2>/dev/null | wc -l
}
# The burst (4) one after another, then batches of 8 until at least 5
# guesses got 429; 20 batches are a guard.
for i in 1 2 3 4; do guess_at "$i"; done
codes=$(for i in 1 2 3 4; do printf '%s ' "$(cat "$T/code.$i")"; done)
n=4
for _ in $(seq 20); do
	[ "$(count_codes 429)" -lt 5 ] || break
	batch $((n + 1)) 8 guess_at
	n=$((n + 8))
done
n429=$(count_codes 429)
assert_eq "401 401 401 401 " "$codes" "the first 4 guesses (the burst) get 401"
[ "$n429" -ge 5 ] && ok "then 429 ($n429 of $n)" ||
	fail "guessing is rate limited" "$n429 of $n got 429"
h429=$(grep -l '^HTTP/[0-9.]* 429' "$T"/hdr.* | tail -n 1)
assert_match "$(tr -d '\r' <"${h429:-/dev/null}")" '^Retry-After: [0-9]+' "429 carries Retry-After"
assert_eq too_many_requests "$(jq -r .error "${h429/hdr./body.}" 2>/dev/null)" "429 body is a JSON error"
assert_eq 200 "$(code /v1/whoami -H "Authorization: Bearer $TOK_alice")" \
	"a valid token from the same address still works"
assert_eq 401 "$(code /v1/whoami --interface 127.0.0.2 -H "Authorization: Bearer $(guess)")" \
	"a bad token from another address: 401, not 429 (limit is per address)"
# The bucket refills at 2/s: guess until one gets 401 (100 tries, 0.1 s
# apart, are a guard).
for _ in $(seq 100); do
	c=$(code /v1/whoami -H "Authorization: Bearer $(guess)")
	[ "$c" != 429 ] && break
	sleep 0.1
done
assert_eq 401 "$c" "after the bucket refills: 401 again"
# A valid user over the per-user rate (2/s, burst 4): batches of 8 until
# one gets 429; 20 batches are a guard.
rm -f "$T"/code.*
bob_at() {
	code /v1/whoami -H "Authorization: Bearer $TOK_bob" >"$T/code.$1"
}
n=0
for _ in $(seq 20); do
	[ "$(count_codes 429)" -lt 1 ] || break
	batch $((n + 1)) 8 bob_at
	n=$((n + 8))
done
codes=$(for f in "$T"/code.*; do printf '%s ' "$(cat "$f")"; done)
assert_contains "$codes" 429 "a valid user over the per-user rate gets 429"
assert_contains "$codes" 200 "after being served first"
api_stop
API_MAX_WAIT=1s api_start "connection_timeout: 1s" ||
	{ fail "server restarts without a rate limit"; finish; }

# ---- slow clients ----------------------------------------------------------
# Hold several connections with half a header, and one idle connection.
slow_pids=()
for i in 1 2 3 4 5; do
	(
		exec 3<>"/dev/tcp/127.0.0.1/$API_PORT" || exit 1
		printf 'GET /v1/whoami HTTP/1.1\r\nHost: x\r\nX-Slow: ' >&3
		: >"$T/started.$i"
		s=$SECONDS
		timeout 40 cat <&3 >/dev/null
		echo $((SECONDS - s)) >"$T/slow.$i"
	) &
	slow_pids+=($!)
done
(
	exec 3<>"/dev/tcp/127.0.0.1/$API_PORT" || exit 1
	: >"$T/started.idle"
	s=$SECONDS
	timeout 40 cat <&3 >/dev/null
	echo $((SECONDS - s)) >"$T/slow.idle"
) &
slow_pids+=($!)
wait_for "[ \$(ls '$T'/started.* 2>/dev/null | wc -l) -eq 6 ]" 20 ||
	fail "six slow connections open"
assert_eq 200 "$(code /healthz)" "other clients are served while slow clients hang"
assert_eq 200 "$(code /v1/whoami -H "Authorization: Bearer $TOK_alice")" \
	"authenticated calls too"
for p in "${slow_pids[@]}"; do wait "$p"; done
cut_off=0
for f in "$T"/slow.*; do
	s=$(cat "$f")
	# Closed by the server (connection_timeout 1s, request_timeout),
	# long before the 40 s guard of the client side.
	[ "$s" -le 25 ] && cut_off=$((cut_off + 1)) ||
		echo "# $(basename "$f"): closed after ${s}s"
done
assert_eq 6 "$cut_off" "slow and idle connections closed by the server after its timeout"

# ---- oversized request line and headers ----------------------------------
long=$(head -c 20000 /dev/zero | tr '\0' a)
c=$(code "/v1/requests/$long" -H "Authorization: Bearer $TOK_alice")
case $c in 400 | 404 | 413 | 414 | 431) ok "20 KB path refused ($c)" ;;
*) fail "20 KB path refused" "got $c" ;; esac
hdrs=()
for i in $(seq 2000); do hdrs+=(-H "X-H$i: v"); done
c=$(code /v1/whoami -H "Authorization: Bearer $TOK_alice" "${hdrs[@]}")
case $c in 400 | 413 | 431 | 000) ok "2000 headers refused ($c)" ;;
*) fail "2000 headers refused" "got $c" ;; esac
assert_eq 200 "$(code /healthz)" "server alive after oversized requests"

# ---- path tricks and other people's ids -----------------------------------
SECRET="FRANK-4711 secret reason"
new_request "$TOK_frank" other 10m "$SECRET"
RF=$RID
assert_eq 201 "$STATUS" "frank has a request (only frank, gina, dave, erin may see it)"
new_request "$TOK_alice" ops 10m "INC-1"
RA=$RID
FKEY=$(cut -d' ' -f2 "$T/user_key.pub")

# trick EXPECTED_CODES PATH [METHOD]: alice calls PATH (as is, no dot
# segment removal by curl); the status must be one of EXPECTED_CODES and
# the body must not contain frank's reason.
trick() {
	local want=$1 p=$2 m=${3:-GET} c name
	name="$m ${p:0:80}"
	[ ${#p} -le 80 ] || name="$name... (${#p} bytes)"
	c=$(code "$p" --path-as-is -X "$m" -H "Authorization: Bearer $TOK_alice")
	case " $want " in
	*" $c "*) ok "$name -> $c" ;;
	*) fail "$name -> one of $want" "got $c: $(head -c 200 "$T/.code.body")" ;;
	esac
	if grep -q "FRANK-4711" "$T/.code.body"; then
		fail "$name leaked frank's request" "$(head -c 300 "$T/.code.body")"
	fi
}
trick "404" "/v1/requests/../ca"
trick "400" "/v1/requests/%2e%2e/ca"
trick "400" "/v1/requests/%2E%2E%2Fca"
trick "404" "//v1/ca"
trick "404" "/v1//ca"
trick "404" "/v1/./ca"
trick "404" "/V1/CA"
trick "404" "/v1/requests/"
trick "404" "/v1/requests//$RF"
trick "404" "/v1/requests/$RF/"
trick "404" "/v1/requests/$RF/../../whoami"
trick "404" "/v1/requests/$RA/../$RF"
trick "400" "/v1/requests/$RA/..%2f$RF"
trick "400" "/v1/requests/$RA%2f..%2f$RF"
trick "400" "/v1/requests/$RF%2Fapprove" POST
trick "400" "/v1/%72equests/$RF"
trick "404" "/v1/requests/$RA/certificate/../../$RF"
trick "404" "/v1/requests/$RA/approve/../../$RF/approve" POST
trick "400" "/v1/requests/..%5c$RF"
trick "404" "/v1/requests/..%5C$RF"
trick "400" "/v1/requests/$RF%00"
trick "400" "/v1/requests/$RF%00/../$RA"
trick "400" "/v1/requests/$RA%00$RF"
trick "404" "/v1/requests/${RF^^}"
trick "404" "/v1/requests/r-aaaaaaaaaaa1"
trick "404" "/v1/requests/r-aaaaaaaaaaa%27"
trick "404" "/v1/requests/r-aaaaaaaaaa%C3%A9"
trick "400" "/v1/requests/r-%2a"
trick "404" "/v1/requests/r-%2A"
trick "404" "/v1/requests/$RF%20"
trick "400 404" "/v1/requests/$RF?wait=0&wait=1"
trick "404" "/v1/requests/$(head -c 4000 /dev/zero | tr '\0' a)"
trick "403" "/v1/requests/$RF"
trick "403" "/v1/requests/$RF/certificate"
trick "403" "/v1/requests/$RF/approve" POST
trick "403" "/v1/requests/$RF/cancel" POST
trick "403" "/v1/requests/$RF/revoke" POST
trick "404" "/v1/requests/r-aaaaaaaaaaaa"
trick "404" "/v1/requests/r-aaaaaaaaaaaa/certificate"
# Lists never show frank's request to alice, whatever the filters.
for q in "" "?mine=0" "?role=other" "?state=pending" "?state=pending&role=other&limit=1000"; do
	trick "200" "/v1/requests$q"
done
api "$TOK_dave" GET "/v1/requests/$RF"
assert_eq pending "$(jget "$RB" .state)" "frank's request untouched by all of it"

# ---- logs carry no secrets -------------------------------------------------
api "$TOK_bob" POST "/v1/requests/$RA/approve" '{"comment":"ok"}'
assert_eq 200 "$STATUS" "bob approves alice's request"
api "$TOK_alice" GET "/v1/requests/$RA/certificate"
assert_eq 200 "$STATUS" "alice fetches her certificate"
CERT_B64=$(printf '%s\n' "$RB" | cut -d' ' -f2)
code "/v1/whoami?access_token=QUERYSECRET123" -H "Authorization: Bearer $TOK_alice" >/dev/null
code /v1/audit -H "Authorization: Bearer $TOK_erin" >/dev/null
api_stop
assert_eq 0 "$API_RC" "clean exit"
LOGS=$(cat "$T"/server.*.log)
leaks=0
for tok in "$TOK_alice" "$TOK_bob" "$TOK_dave" "$TOK_erin" "$TOK_frank" "$TOK_gina" $(cat "$T/guesses"); do
	case $LOGS in *"${tok#jit_}"*) leaks=$((leaks + 1)) ;; esac
done
assert_eq 0 "$leaks" "no token (valid or guessed) in the server log"
assert_not_contains "$LOGS" "${CERT_B64:0:40}" "no certificate body in the log"
assert_not_contains "$LOGS" "$FKEY" "no public key blob in the log"
assert_not_contains "$LOGS" "PRIVATE KEY" "no private key in the log"
assert_not_contains "$LOGS" "$(sed -n 2p "$T/data/ca_key")" "no CA key material in the log"
assert_not_contains "$LOGS" "QUERYSECRET123" "no query string in the log"
assert_contains "$LOGS" "/v1/whoami" "(the log does record requests)"

# ---- CA key readable by others ------------------------------------------------
for m in 640 604 660 644; do
	chmod "$m" "$T/data/ca_key"
	assert_one_line_error "CA key mode $m: refused" \
		"$JIT_CA" serve --config "$T/server.yaml"
	assert_contains "$ERR" "ca_key" "names the key file"
	assert_contains "$ERR" "chmod 600" "says how to fix it ($m)"
done
chmod 600 "$T/data/ca_key"
api_start || fail "mode 600: the server starts again"
api "$TOK_alice" GET /v1/whoami
assert_eq 200 "$STATUS" "and serves"
api_stop
finish
