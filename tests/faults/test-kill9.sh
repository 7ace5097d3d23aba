#!/bin/bash
# test-kill9.sh - crash safety under load.  Concurrent clients create
# requests (an auto-approved role and a role needing one approval),
# approve, deny and cancel them as other users and fetch certificates,
# while the server is killed with SIGKILL at random moments and restarted,
# several times.  Each client records only what the server acknowledged:
# request ids with the state it was told, and the certificates it received.
# Afterwards:
#   - every acknowledged request exists with the state it was told, or a
#     later one the lifecycle allows (pending -> anything; approved ->
#     approved or revoked; denied and cancelled stay);
#   - every acknowledged approval, denial and cancellation is in the audit
#     log, and so is every acknowledged request;
#   - every certificate a client received re-fetches byte for byte, its
#     serial is the request's serial in the store, and the audit log has
#     its cert.issue entry;
#   - the audit chain of the whole log verifies (jit-ca audit verify on a
#     signed export);
#   - no serial was issued twice (received certificates, store, audit).
# The test is paced by work, not by time, so a slow or busy machine only
# makes it take longer: each kill comes after a random number (4 to 12) of
# acknowledged operations since the last start, each restart after a
# client has seen the server down, and the clients stop once enough was
# acknowledged for the checks below.  Timeouts are guards only.
# Tunables: KILL9_ROUNDS (default 5).
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/api-lib.sh"

need_env JIT_CA
need_cmd curl jq ssh-keygen

ROUNDS=${KILL9_ROUNDS:-5}
api_policy
api_start || { fail "server starts"; finish; }
api_tokens alice bob dave erin frank || { fail "tokens"; finish; }
make_user_key ed25519 "$T/user_key"
PK=$(cat "$T/user_key.pub")
echo "$JURL" >"$T/url"
for u in alice bob dave erin frank; do
	v=TOK_$u
	printf '%s' "${!v}" >"$T/tok.$u"
done

# req USER METHOD PATH [BODY] -> sets C (status; 000 when the server is
# down) and leaves the body in $B.  Never waits longer than 10 s.
req() {
	local u=$1 m=$2 p=$3 args
	args=(-s -o "$B" -w '%{http_code}' -X "$m" --max-time 10
		-H "Authorization: Bearer $(cat "$T/tok.$u")")
	[ $# -lt 4 ] || args+=(-H 'Content-Type: application/json' --data-binary "$4")
	C=$(curl "${args[@]}" "$(cat "$T/url")$p") || C=000
	[ "$C" != 000 ] || echo x >>"$T/down"
}

# fetch_cert N USER ID: fetch the certificate until it is received (the
# server may be down for a while); record "ID USER CERT" when it is.
fetch_cert() {
	local n=$1 u=$2 id=$3 i
	for i in $(seq 100); do
		req "$u" GET "/v1/requests/$id/certificate"
		if [ "$C" = 200 ]; then
			echo "$id $u $(cat "$B")" >>"$T/ack.cert.$n"
			return 0
		fi
		case $C in 000 | 5*) sleep 0.1 ;; *) return 1 ;; esac
		[ ! -e "$T/stop" ] || return 1
	done
}

# An auto-approved role: create, fetch.
auto_loop() {
	local n=$1 u=$2 body id B C
	B=$T/body.$n
	body=$(jq -cn --arg k "$PK" '{role:"auto",public_key:$k,duration:"5m"}')
	while [ ! -e "$T/stop" ]; do
		req "$u" POST /v1/requests "$body"
		[ "$C" = 201 ] || { sleep 0.1; continue; }
		id=$(jq -r .id "$B")
		echo "$id $(jq -r .state "$B") $u" >>"$T/ack.req.$n"
		fetch_cert "$n" "$u" "$id"
	done
}

# A role needing one approval: create; then dave approves (4 of 6),
# denies (1 of 6) or the requester cancels (1 of 6); certificates of
# approved requests are fetched.  Actions are retried while the server is
# down; a 409 after a retry means an earlier attempt landed unacknowledged
# (not recorded).
manual_loop() {
	local n=$1 u=$2 body id k=0 act who B C i
	B=$T/body.$n
	body=$(jq -cn --arg k "$PK" --arg r "INC-$n" \
		'{role:"ops",public_key:$k,duration:"10m",reason:$r}')
	while [ ! -e "$T/stop" ]; do
		req "$u" POST /v1/requests "$body"
		[ "$C" = 201 ] || { sleep 0.1; continue; }
		id=$(jq -r .id "$B")
		echo "$id $(jq -r .state "$B") $u" >>"$T/ack.req.$n"
		k=$((k + 1))
		case $((k % 6)) in
		4) act=deny who=dave ;;
		5) act=cancel who=$u ;;
		*) act=approve who=dave ;;
		esac
		for i in $(seq 100); do
			req "$who" POST "/v1/requests/$id/$act" '{"comment":"kill9"}'
			case $C in 000 | 5*) sleep 0.1 ;; *) break ;; esac
			[ ! -e "$T/stop" ] || break
		done
		[ "$C" = 200 ] || continue
		echo "$id $(jq -r .state "$B") $u $act" >>"$T/ack.req.$n"
		[ "$act" = approve ] && fetch_cert "$n" "$u" "$id"
	done
}

: >"$T/ack.req.0"
: >"$T/ack.cert.0"
loops=()
auto_loop 1 alice &
loops+=($!)
auto_loop 2 frank &
loops+=($!)
manual_loop 3 alice &
loops+=($!)
manual_loop 4 bob &
loops+=($!)
manual_loop 5 alice &
loops+=($!)

# acked: operations acknowledged so far (requests, decisions, certificates).
acked() {
	cat "$T"/ack.req.* "$T"/ack.cert.* | wc -l
}
# ndown: calls that found the server down so far.
ndown() {
	cat "$T/down" 2>/dev/null | wc -l
}
# enough: the least the checks below need acknowledged: 30 requests, 5
# decisions and 10 certificates.
enough() {
	cat "$T"/ack.req.* >"$T/ack.req.now"
	[ "$(cut -d' ' -f1 "$T/ack.req.now" | sort -u | grep -c .)" -ge 30 ] &&
		[ "$(awk 'NF == 4' "$T/ack.req.now" | grep -c .)" -ge 5 ] &&
		[ "$(cat "$T"/ack.cert.* | grep -c .)" -ge 10 ]
}

kills=0
for round in $(seq "$ROUNDS"); do
	target=$(($(acked) + 4 + RANDOM % 9))
	wait_for "[ \$(acked) -ge $target ]" 120 ||
		{ fail "round $round: $target operations acknowledged" "only $(acked) after 120 s"; break; }
	kill -KILL "$API_PID"
	wait "$API_PID" 2>/dev/null
	kills=$((kills + 1))
	keep=()
	for p in "${_JIT_PIDS[@]}"; do [ "$p" = "$API_PID" ] || keep+=("$p"); done
	_JIT_PIDS=("${keep[@]}")
	down=$(ndown)
	wait_for "[ \$(ndown) -gt $down ]" 60 ||
		fail "round $round: a client sees the server down" "none within 60 s"
	api_start || { fail "server restarts after kill -9 #$round"; break; }
	echo "$JURL" >"$T/url"
done
wait_for enough 180 || echo "# still too little acknowledged after 180 s"
touch "$T/stop"
for p in "${loops[@]}"; do wait "$p"; done
assert_eq "$ROUNDS" "$kills" "server killed with SIGKILL $ROUNDS times and restarted"
kill -0 "$API_PID" 2>/dev/null && ok "server runs after the last restart" ||
	{ fail "server runs after the last restart"; finish; }

ndown=$(grep -c . "$T/down" 2>/dev/null)
[ "${ndown:-0}" -gt 0 ] && ok "clients saw ${ndown} calls fail while the server was down" ||
	fail "no call hit a dead server (kills too early or too late?)"
cat "$T"/ack.req.* >"$T/ack.req"
cat "$T"/ack.cert.* >"$T/ack.cert"
nreq=$(cut -d' ' -f1 "$T/ack.req" | sort -u | grep -c .)
ncert=$(grep -c . "$T/ack.cert")
nact=$(awk 'NF == 4' "$T/ack.req" | grep -c .)
[ "$nreq" -ge 30 ] && [ "$ncert" -ge 10 ] && [ "$nact" -ge 5 ] &&
	ok "clients saw $nreq requests, $nact decisions and $ncert certificates acknowledged" ||
	fail "too little acknowledged" "$nreq requests, $nact decisions, $ncert certificates"

# ---- every acknowledged request, in the state it was told --------------------
B=$T/check.body
C=
bad=0
while read -r id told _; do
	req dave GET "/v1/requests/$id"
	now=$(jq -r .state "$B" 2>/dev/null)
	case "$C $told $now" in
	"200 pending "*) ;;
	"200 approved approved" | "200 approved revoked") ;;
	"200 denied denied" | "200 cancelled cancelled") ;;
	*) bad=$((bad + 1)); echo "# $id: told $told, now $C $now" ;;
	esac
done <"$T/ack.req"
assert_eq 0 "$bad" "every acknowledged request exists in the state it was told (or a later legal one)"

# ---- every received certificate ---------------------------------------------------
bad=0
: >"$T/serials.received"
while read -r id u cert; do
	req "$u" GET "/v1/requests/$id/certificate"
	[ "$C" = 200 ] && [ "$(cat "$B")" = "$cert" ] ||
		{ bad=$((bad + 1)); echo "# $id: re-fetch $C differs"; }
	s=$(printf '%s\n' "$cert" | ssh-keygen -L -f - | awk '/Serial:/{print $2}')
	echo "$s" >>"$T/serials.received"
	req dave GET "/v1/requests/$id"
	[ "$(jq -r .serial "$B")" = "$s" ] ||
		{ bad=$((bad + 1)); echo "# $id: store serial $(jq -r .serial "$B") != cert serial $s"; }
done <"$T/ack.cert"
assert_eq 0 "$bad" "every received certificate re-fetches byte for byte with the stored serial"
assert_eq "" "$(sort "$T/serials.received" | uniq -d)" "no serial in two received certificates"

# ---- the audit log --------------------------------------------------------------------
if ! "$JIT_CA" audit export --help >/dev/null 2>&1; then
	skip_audit="jit-ca audit export is not available"
	ok "audit checks skipped: $skip_audit"
	api_stop
	finish
fi
run "$JIT_CA" audit export --config "$T/server.yaml" -o "$T/audit.jsonl"
assert_rc 0 "audit export while the server runs"
run "$JIT_CA" audit verify "$T/audit.jsonl" --data "$T/data"
assert_rc 0 "the audit chain and the export's signature verify"
jq -c 'select(.event != null)' "$T/audit.jsonl" >"$T/entries" 2>/dev/null
nent=$(grep -c . "$T/entries")
[ "$nent" -gt "$nreq" ] && ok "export has $nent entries" || fail "export has too few entries ($nent)"
jq -r 'select(.event == "request.create") | .request' "$T/entries" | sort -u >"$T/audit.created"
missing=$(cut -d' ' -f1 "$T/ack.req" | sort -u | comm -23 - "$T/audit.created" | wc -l)
assert_eq 0 "$missing" "every acknowledged request has its request.create entry"
jq -r 'select(.event | test("^request\\.(approve|deny|cancel)$")) | "\(.request) \(.event)"' \
	"$T/entries" | sort -u >"$T/audit.decided"
awk 'NF == 4 { print $1, "request." $4 }' "$T/ack.req" | sort -u |
	comm -23 - "$T/audit.decided" >"$T/missing.decided"
assert_eq "" "$(cat "$T/missing.decided")" "every acknowledged approve/deny/cancel is audited"
jq -r 'select(.event == "cert.issue") | "\(.request) \(.serial)"' "$T/entries" |
	sort >"$T/audit.issued"
bad=0
while read -r id u cert; do
	s=$(printf '%s\n' "$cert" | ssh-keygen -L -f - | awk '/Serial:/{print $2}')
	grep -qx "$id $s" "$T/audit.issued" || { bad=$((bad + 1)); echo "# no cert.issue for $id serial $s"; }
done <"$T/ack.cert"
assert_eq 0 "$bad" "every received certificate has its cert.issue entry (same request and serial)"
assert_eq "" "$(cut -d' ' -f2 "$T/audit.issued" | sort | uniq -d)" "no serial issued twice in the audit log"
assert_eq "" "$(cut -d' ' -f1 "$T/audit.issued" | sort | uniq -d)" "no request issued twice"
[ "$(grep -c . "$T/audit.issued")" -ge "$ncert" ] && ok "audit has >= $ncert issuances" ||
	fail "audit has fewer issuances than received certificates"

api_stop
assert_eq 0 "$API_RC" "clean exit after the crashes"
finish
