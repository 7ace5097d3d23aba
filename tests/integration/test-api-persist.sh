#!/bin/bash
# test-api-persist.sh - durability of the approval server: everything
# survives a clean restart, and a kill -9 in the middle of concurrent
# requests loses nothing that was acknowledged and never issues a serial
# twice.  Also: a second server on the same data directory is refused.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/api-lib.sh"

need_env JIT_CA
need_cmd curl jq ssh-keygen

api_policy
api_start || { fail "server starts"; finish; }
api_tokens alice bob dave erin frank || { fail "tokens"; finish; }
make_user_key ed25519 "$T/user_key"

# ---- some state ----------------------------------------------------------
new_request "$TOK_alice" ops 30m "INC-1"
P1=$RID
api "$TOK_bob" POST "/v1/requests/$P1/approve" '{"comment":"ok"}'
api "$TOK_alice" GET "/v1/requests/$P1/certificate"
CERT1=$RB
new_request "$TOK_alice" ops 30m "INC-2"
P2=$RID
new_request "$TOK_alice" ops 30m "INC-3"
api "$TOK_bob" POST "/v1/requests/$RID/deny" '{"comment":"no"}'
api "$TOK_erin" GET "/v1/requests?limit=1000"
LIST0=$RB
A0=$(audit_count)

# ---- a second server on the same data dir is refused ----------------------
cp "$T/server.yaml" "$T/server2.yaml"
sed -i "s/^listen: .*/listen: 127.0.0.1:0/" "$T/server2.yaml"
assert_one_line_error "second server on the same data dir" \
	"$JIT_CA" serve --config "$T/server2.yaml"
assert_contains "$ERR" "another jit-ca serve" "says why"

# ---- clean restart -----------------------------------------------------------
api_stop
assert_eq 0 "$API_RC" "SIGTERM: exit 0"
api_start || { fail "server restarts"; finish; }
api "$TOK_erin" GET "/v1/requests?limit=1000"
assert_eq "$LIST0" "$RB" "all requests identical after a clean restart"
assert_eq $((A0 + 2)) "$(audit_count)" "audit log kept (+ policy.load, server.start)"
api "$TOK_alice" GET "/v1/requests/$P1/certificate"
assert_eq "$CERT1" "$RB" "certificate re-fetch after restart: same bytes"
api "$TOK_bob" POST "/v1/requests/$P2/approve" '{}'
assert_eq approved "$(jget "$RB" .state)" "pending request still approvable"
api "$TOK_alice" GET "/v1/requests/$P2/certificate"
s1=$(printf '%s\n' "$CERT1" | ssh-keygen -L -f - | awk '/Serial:/{print $2}')
s2=$(printf '%s\n' "$RB" | ssh-keygen -L -f - | awk '/Serial:/{print $2}')
assert_eq $((s1 + 1)) "$s2" "serials continue after restart"

# ---- kill -9 during concurrent requests -------------------------------------------
# Each loop creates auto-approved requests and fetches their certificates,
# recording every acknowledged id (201) and certificate (200).
PK=$(cat "$T/user_key.pub")
BODY=$(jq -cn --arg k "$PK" '{role:"auto",public_key:$k,duration:"5m"}')
loop() {
	local n=$1 tok=$2 code id
	while :; do
		code=$(curl -s -o "$T/l$n.body" -w '%{http_code}' --max-time 10 \
			-H "Authorization: Bearer $tok" \
			-H 'Content-Type: application/json' \
			--data-binary "$BODY" "$JURL/v1/requests") || break
		[ "$code" = 201 ] || break
		id=$(jq -r .id "$T/l$n.body")
		echo "$id" >>"$T/acked-req.$n"
		code=$(curl -s -o "$T/l$n.cert" -w '%{http_code}' --max-time 10 \
			-H "Authorization: Bearer $tok" \
			"$JURL/v1/requests/$id/certificate") || break
		[ "$code" = 200 ] || break
		echo "$id $(cat "$T/l$n.cert")" >>"$T/acked-cert.$n"
	done
}
: >"$T/acked-req.0"
pids=()
i=0
for tok in "$TOK_alice" "$TOK_bob" "$TOK_frank" "$TOK_alice" "$TOK_bob" "$TOK_frank"; do
	i=$((i + 1))
	: >"$T/acked-req.$i"
	: >"$T/acked-cert.$i"
	loop "$i" "$tok" &
	pids+=($!)
done
# Kill once the loops have had enough acknowledged (a random 12 to 20
# requests), however long that takes; 120 s is only a guard.
target=$((12 + RANDOM % 9))
wait_for "[ \$(cat '$T'/acked-req.* | wc -l) -ge $target ]" 120 ||
	echo "# only $(cat "$T"/acked-req.* | wc -l) requests acknowledged after 120 s"
kill -KILL "$API_PID"
wait "$API_PID" 2>/dev/null
for p in "${pids[@]}"; do wait "$p"; done
# The tracked pid is gone; drop it from the cleanup list.
keep=()
for p in "${_JIT_PIDS[@]}"; do [ "$p" = "$API_PID" ] || keep+=("$p"); done
_JIT_PIDS=("${keep[@]}")

cat "$T"/acked-req.* >"$T/acked-req"
cat "$T"/acked-cert.* >"$T/acked-cert"
nreq=$(grep -c . "$T/acked-req")
ncert=$(grep -c . "$T/acked-cert")
[ "$nreq" -gt 10 ] && ok "loops got $nreq requests and $ncert certificates acknowledged" ||
	fail "too few acknowledged requests ($nreq)"

api_start || { fail "server restarts after kill -9"; finish; }
ok "server restarts after kill -9"
missing=0
while read -r id; do
	api "$TOK_dave" GET "/v1/requests/$id"
	[ "$STATUS" = 200 ] && [ "$(jget "$RB" .state)" = approved ] ||
		{ missing=$((missing + 1)); echo "# lost request $id ($STATUS)"; }
done <"$T/acked-req"
assert_eq 0 "$missing" "every acknowledged request survived kill -9"
changed=0
: >"$T/serials"
while read -r id cert; do
	user=$(api "$TOK_dave" GET "/v1/requests/$id"; jget "$RB" .user)
	tokvar=TOK_$user
	api "${!tokvar}" GET "/v1/requests/$id/certificate"
	[ "$STATUS" = 200 ] && [ "$RB" = "$cert" ] ||
		{ changed=$((changed + 1)); echo "# cert of $id differs ($STATUS)"; }
	printf '%s\n' "$cert" | ssh-keygen -L -f - | awk '/Serial:/{print $2}' >>"$T/serials"
done <"$T/acked-cert"
assert_eq 0 "$changed" "every acknowledged certificate is stored byte for byte"
assert_eq "" "$(sort "$T/serials" | uniq -d)" "no serial in two acknowledged certs"
api "$TOK_erin" GET "/v1/requests?limit=1000"
jget "$RB" '.requests[] | select(.serial != null) | .serial' | sort >"$T/all-serials"
assert_eq "" "$(uniq -d "$T/all-serials")" "no serial recorded twice in the store"
nser=$(grep -c . "$T/all-serials")
[ "$nser" -ge "$ncert" ] && ok "store has $nser issued serials (>= $ncert acknowledged)" ||
	fail "store has fewer serials ($nser) than acknowledged certs ($ncert)"
# Certificates issued after the crash continue the sequence.
new_request "$TOK_alice" auto
api "$TOK_alice" GET "/v1/requests/$RID/certificate"
snew=$(printf '%s\n' "$RB" | ssh-keygen -L -f - | awk '/Serial:/{print $2}')
assert_eq "" "$(grep -x "$snew" "$T/all-serials")" "new serial after the crash is fresh"

# Two simultaneous first fetches of one certificate issue one serial.
new_request "$TOK_alice" auto
pids=()
for k in 1 2 3 4 5 6; do
	curl -s -H "Authorization: Bearer $TOK_alice" \
		"$JURL/v1/requests/$RID/certificate" >"$T/race.$k" &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
assert_eq 1 "$(cat "$T"/race.* | sort -u | grep -c .)" "concurrent first fetches get the same certificate"

api_stop
assert_eq 0 "$API_RC" "clean exit"
finish
