#!/bin/bash
# test-limits.sh - limits that hold, against the real server:
#   - the rate limiter keys buckets exactly: alternating a user's calls
#     with bad-token calls from an address, or from hundreds of distinct
#     addresses, refills nobody's bucket (the old 1,024 shared slots gave
#     a user whose slot another key took over a full bucket again), and
#     the same holds for the failed-authentication limit per address
#     alternated with good calls and other addresses' bad ones;
#   - pending requests per user are capped by the server's max_pending
#     and a role's max_pending (409 too_many_pending), checked inside the
#     create write: ten racing creates pass exactly the cap;
#   - GET /v1/requests pages with next_cursor / cursor=, so every request
#     can be listed (requester, an approver who is no admin, an admin);
#     offset and bad cursors are refused;
#   - /metrics with metrics_token_file needs that token, and a token file
#     group or others may read stops the server from starting.
# Bounds on counts use the time measured around the calls, so a slow
# machine loosens them and cannot make them fail.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/api-lib.sh"

need_env JIT_CA
need_cmd curl jq ssh-keygen

cat >"$T/policy.yaml" <<EOF
users:
  alice: {groups: [dev]}
  bob:   {groups: [dev]}
  carol: {groups: [dev]}
  dave:  {groups: [sre]}
  erin:  {groups: [sre2]}
admins: [dave]
roles:
  db:
    principals: [$JIT_USER1]
    requesters: [group:dev]
    approvers: [group:sre, group:sre2]
    max_duration: 1h
  batch:
    principals: [$JIT_USER1]
    requesters: [group:dev]
    approvers: [group:sre]
    max_pending: 2
    max_duration: 1h
  web:
    principals: [$JIT_USER2]
    requesters: [group:dev]
    approvers: [group:dev]
    max_duration: 1h
EOF
make_user_key ed25519 "$T/user_key"

# A token of the right form that no one has (i makes each different).
bad_token() {
	printf 'jit_%043d' "$1"
}

# codes_at FILE FIRST STEP CODE: how many lines FIRST, FIRST+STEP, ...
# of FILE are CODE.
codes_at() {
	awk -v f="$2" -v s="$3" -v c="$4" \
		'NR >= f && (NR - f) % s == 0 && $1 == c { n++ } END { print n + 0 }' "$1"
}

# timed_curl FILE: one curl process making the calls of the array args
# (joined by --next; the last --next is dropped), their codes to FILE;
# secs is how long it took, in whole seconds rounded up.
timed_curl() {
	local t0 t1
	t0=$(date +%s.%N)
	curl "${args[@]:0:${#args[@]}-1}" >"$1"
	t1=$(date +%s.%N)
	secs=$(echo "$t0 $t1" | awk '{ s = $2 - $1; print int(s) + (s > int(s)) }')
}

# ---- the rate limiter ----------------------------------------------------
API_RATE_LIMIT=1 api_start || { fail "server starts"; finish; }
api_tokens alice || { fail "tokens"; finish; }

# One curl process, 2 x 250 calls in turn: alice from 127.0.0.1, then a
# bad token from 127.0.1.I (I = 1..250, each address new); codes in order.
args=()
for i in $(seq 1 250); do
	args+=(-s -o /dev/null -w '%{http_code}\n' --interface 127.0.0.1
		-H "Authorization: Bearer $TOK_alice" "$JURL/v1/whoami" --next
		-s -o /dev/null -w '%{http_code}\n' --interface "127.0.1.$i"
		-H "Authorization: Bearer $(bad_token "$i")" "$JURL/v1/whoami"
		--next)
done
timed_curl "$T/alt.codes"
n200=$(codes_at "$T/alt.codes" 1 2 200)
n429=$(codes_at "$T/alt.codes" 1 2 429)
# A burst of 2, then 1 a second.
[ "$n200" -le $((2 + secs + 1)) ] &&
	ok "alice alternated with 250 bad tokens from 250 addresses: $n200 x 200 in ${secs}s (burst 2 + 1/s)" ||
	fail "alice's bucket was refilled by other keys" "$n200 x 200 in ${secs}s"
assert_eq 250 $((n200 + n429)) "alice's other calls got 429"
assert_eq 250 "$(codes_at "$T/alt.codes" 2 2 401)" \
	"each new address's bad token: 401 (its own bucket), never 429"

# The failed-authentication limit of 127.0.0.9, alternated with a good
# token from the same address and bad tokens from 200 other addresses.
args=()
for i in $(seq 1 200); do
	args+=(-s -o /dev/null -w '%{http_code}\n' --interface 127.0.0.9
		-H "Authorization: Bearer $(bad_token $((1000 + i)))"
		"$JURL/v1/whoami" --next
		-s -o /dev/null -w '%{http_code}\n' --interface 127.0.0.9
		-H "Authorization: Bearer $TOK_alice" "$JURL/v1/whoami" --next
		-s -o /dev/null -w '%{http_code}\n' --interface "127.0.2.$i"
		-H "Authorization: Bearer $(bad_token $((2000 + i)))"
		"$JURL/v1/whoami" --next)
done
timed_curl "$T/fail.codes"
n401=$(codes_at "$T/fail.codes" 1 3 401)
[ "$n401" -le $((2 + secs + 1)) ] &&
	ok "127.0.0.9's bad tokens, alternated: $n401 x 401 in ${secs}s, then 429" ||
	fail "the address's failed-auth bucket was refilled" "$n401 x 401 in ${secs}s"
assert_eq 200 $((n401 + $(codes_at "$T/fail.codes" 1 3 429))) \
	"127.0.0.9's other bad tokens got 429"
assert_eq 200 "$(codes_at "$T/fail.codes" 3 3 401)" \
	"the other addresses' bad tokens: 401"
api_stop

# ---- pending caps --------------------------------------------------------
api_start "max_pending: 3" || { fail "server starts with max_pending"; finish; }
api_tokens alice bob carol dave erin || { fail "tokens"; finish; }
for i in 1 2 3; do
	new_request "$TOK_alice" db
	assert_eq 201 "$STATUS" "alice's pending request $i of 3"
	[ "$i" = 1 ] && first=$RID
done
new_request "$TOK_alice" db
assert_eq 409 "$STATUS" "a 4th pending request: 409"
assert_eq too_many_pending "$(jget "$RB" .error)" "slug too_many_pending"
assert_contains "$(jget "$RB" .detail)" "3 pending requests" "the message says the cap"
for i in 1 2; do
	new_request "$TOK_bob" batch
	assert_eq 201 "$STATUS" "bob's batch request $i of the role's 2"
done
new_request "$TOK_bob" batch
assert_eq 409 "$STATUS" "a 3rd batch request: 409"
assert_contains "$(jget "$RB" .detail)" "for role batch" "the role's cap is named"
new_request "$TOK_bob" web
assert_eq 201 "$STATUS" "another role is under the server's cap still"
api "$TOK_alice" POST "/v1/requests/$first/cancel"
assert_eq 200 "$STATUS" "alice cancels one"
new_request "$TOK_alice" db
assert_eq 201 "$STATUS" "and may ask again"
# Ten at once by carol: exactly three pass.
pids=()
for i in $(seq 1 10); do
	curl -s -o /dev/null -w '%{http_code}\n' --max-time 30 \
		-H "Authorization: Bearer $TOK_carol" \
		-H 'Content-Type: application/json' \
		--data-binary "$(jq -cn --arg k "$(cat "$T/user_key.pub")" \
		'{role: "db", public_key: $k}')" "$JURL/v1/requests" \
		>"$T/race.$i" &
	pids+=($!)
done
wait "${pids[@]}"
assert_eq "3 7" "$(cat "$T"/race.* | grep -c 201) $(cat "$T"/race.* | grep -c 409)" \
	"ten racing creates: 3 created, 7 refused"
api_stop

# ---- pages ----------------------------------------------------------------
head -c 24 /dev/urandom | base64 | tr '+/' '-_' >"$T/metrics.token"
chmod 600 "$T/metrics.token"
api_start "max_pending: 0
metrics_token_file: $T/metrics.token" || { fail "server starts without a cap"; finish; }
for i in $(seq 1 60); do
	new_request "$TOK_carol" db
	[ "$STATUS" = 201 ] || { fail "carol's request $i" "$STATUS $RB"; break; }
done
# pages TOKEN QUERY LIMIT: every page; ids to $T/ids (one a line), page
# sizes to $T/sizes; PAGES_OK is 0 if a page but the last was short.
pages() {
	local cursor="" q
	: >"$T/ids"
	: >"$T/sizes"
	PAGES_OK=1
	for _ in $(seq 1 200); do
		q="$2&limit=$3${cursor:+&cursor=$cursor}"
		api "$1" GET "/v1/requests?$q"
		[ "$STATUS" = 200 ] || { PAGES_OK=0; return; }
		jget "$RB" '.requests[].id' >>"$T/ids"
		jget "$RB" '.requests | length' >>"$T/sizes"
		cursor=$(jget "$RB" '.next_cursor // empty')
		[ -n "$cursor" ] || return
		[ "$(jget "$RB" '.requests | length')" = "$3" ] || PAGES_OK=0
	done
	PAGES_OK=0
}
pages "$TOK_carol" "mine=1" 7
assert_eq "63 63" "$(wc -l <"$T/ids") $(sort -u "$T/ids" | wc -l)" \
	"carol's 63 requests, 7 a page, each once"
assert_eq "9 1" "$(wc -l <"$T/sizes") $PAGES_OK" "in 9 pages of 7, the last without a cursor"
pages "$TOK_erin" "state=pending" 10
assert_eq "66 66" "$(wc -l <"$T/ids") $(sort -u "$T/ids" | wc -l)" \
	"erin (approves db, no admin): the 66 pending db requests"
api "$TOK_erin" GET "/v1/requests?state=pending&role=batch"
assert_eq "200 0" "$STATUS $(jget "$RB" '.requests | length')" \
	"but none of the batch role she does not approve"
pages "$TOK_dave" "state=pending" 1000
assert_eq "69 1" "$(wc -l <"$T/ids") $(wc -l <"$T/sizes")" \
	"dave (admin): all 69 pending in one page, no cursor"
api "$TOK_dave" GET "/v1/requests?state=pending&limit=30"
c1=$(jget "$RB" .next_cursor)
first_page=$(jget "$RB" '[.requests[].id] | join(" ")')
api "$TOK_dave" GET "/v1/requests?state=pending&limit=30"
assert_eq "$first_page" "$(jget "$RB" '[.requests[].id] | join(" ")')" \
	"the same query gives the same first page"
api "$TOK_dave" GET "/v1/requests?state=pending&limit=30&cursor=$c1"
assert_eq 30 "$(jget "$RB" '.requests | length')" "the cursor gives the next 30"
assert_eq "" "$(comm -12 <(echo "$first_page" | tr ' ' '\n' | sort) \
	<(jget "$RB" '.requests[].id' | sort))" "none of them on the first page"
for q in "offset=10" "cursor=abc" "cursor=0" "cursor=" "cursor=-5"; do
	api "$TOK_dave" GET "/v1/requests?$q"
	assert_eq "400 bad_query" "$STATUS $(jget "$RB" .error)" "?$q: 400"
done

# ---- /metrics with a token ------------------------------------------------
code=$(curl -s -o /dev/null -w '%{http_code}' "$JURL/metrics")
assert_eq 401 "$code" "/metrics without the token: 401"
code=$(curl -s -o /dev/null -w '%{http_code}' \
	-H "Authorization: Bearer $TOK_dave" "$JURL/metrics")
assert_eq 401 "$code" "with another token: 401"
m=$(curl -s -H "Authorization: Bearer $(cat "$T/metrics.token")" "$JURL/metrics")
assert_contains "$m" 'jit_requests{state="pending"} 69' "with it: the figures"
assert_contains "$m" 'jit_requests{state="cancelled"} 1' "counted by state"
api_stop
chmod 640 "$T/metrics.token"
if api_start "metrics_token_file: $T/metrics.token" 2>/dev/null; then
	fail "a token file group may read is refused"
	api_stop
else
	assert_contains "$(cat "$API_LOG")" "accessible by group or others" \
		"a token file group may read stops the start"
fi
finish
