#!/bin/bash
# test-storage.sh - storage faults.
#   Disk full: the data directory is a 2 MB tmpfs, filled up.  Writes get a
#   clean 503 JSON error ("storage is full"); writes of each kind
#   (creates, tokens, issuances, approvals) are tried until one is refused,
#   since smaller ones may fit in pages LMDB freed; nothing half-done is visible
#   (in particular no certificate is handed out whose issuance could not be
#   recorded), the server stays up and reads keep working.  After space is
#   freed everything is intact, the refused operations succeed and the
#   audit chain verifies.
#   Locked: a data directory whose server lock another process holds is
#   refused with one clear line (a second jit-ca serve on a live data
#   directory is tested in test-api-persist.sh).
# Needs root (mount); SKIPs otherwise.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/api-lib.sh"

need_env JIT_CA
need_root
need_cmd curl jq ssh-keygen mount umount flock

tmpfs_data 2m

api_policy
# No cap on pending requests: the disk, not max_pending, must stop them.
api_start "max_pending: 0" || { fail "server starts on a 2 MB tmpfs"; finish; }
api_tokens alice bob erin || { fail "tokens"; finish; }
make_user_key ed25519 "$T/user_key"

# ---- some state before the disk fills ---------------------------------------
new_request "$TOK_alice" ops 30m "INC-1"
P1=$RID
api "$TOK_bob" POST "/v1/requests/$P1/approve" '{"comment":"ok"}'
api "$TOK_alice" GET "/v1/requests/$P1/certificate"
assert_eq 200 "$STATUS" "a certificate is issued before the disk fills"
CERT1=$RB
# Approved requests whose certificates are not fetched yet, and pending
# ones: writes of each kind to try once the disk is full.
APPROVED=()
PENDING=()
for i in $(seq 10); do
	new_request "$TOK_alice" ops 30m "INC-2$i"
	APPROVED+=("$RID")
	api "$TOK_bob" POST "/v1/requests/$RID/approve" '{"comment":"ok"}'
	[ "$(jget "$RB" .state)" = approved ] || fail "approve $RID" "$RB"
	new_request "$TOK_alice" ops 30m "INC-3$i"
	[ "$STATUS" = 201 ] || fail "pending request $i" "$RB"
	PENDING+=("$RID")
done
ok "10 approved requests (certificates not fetched yet) and 10 pending"

# ---- fill the disk ---------------------------------------------------------------
dd if=/dev/zero of="$T/data/filler" bs=16k 2>/dev/null
df_avail=$(df --output=avail -k "$T/data" | tail -n 1 | tr -d ' ')
assert_eq 0 "$df_avail" "the data directory's file system is full"
# LMDB may still have room in pages it already owns: write until refused.
codes=
for i in $(seq 300); do
	new_request "$TOK_alice" ops 30m "INC-$((100 + i))-$(head -c 400 /dev/zero | tr '\0' x)"
	codes="$codes $STATUS"
	[ "$STATUS" = 201 ] || break
done
assert_eq 503 "$STATUS" "a write on a full disk gets 503 (after $((i - 1)) that still fit)"
assert_eq "" "$(echo "$codes" | tr ' ' '\n' | grep -v -x -e '' -e 201 -e 503)" \
	"only 201 or 503, no other error"
assert_eq unavailable "$(jget "$RB" .error)" "a JSON error"
assert_contains "$(jget "$RB" .detail)" "storage is full" "saying the storage is full"
# A token record is smaller than the request that no longer fit, so
# LMDB's free pages may take a few more: create until refused.
for i in $(seq 100); do
	run "$JIT_CA" token create alice --config "$T/server.yaml"
	[ "$RC" = 0 ] || break
done
assert_ne 0 "$RC" "jit-ca token create on a full disk fails (after $((i - 1)) that still fit)"
assert_contains "$ERR" "storage is full" "and says so"
assert_not_contains "$OUT" "jit_" "printing no token"

api "" GET /healthz
assert_eq 200 "$STATUS" "the server is alive"
api "$TOK_alice" GET "/v1/requests/$P1"
assert_eq 200 "$STATUS" "reads work"
api "$TOK_alice" GET "/v1/requests/$P1/certificate"
assert_eq 200 "$STATUS" "an issued certificate re-fetches"
assert_eq "$CERT1" "$RB" "byte for byte"

# snapshot: the requests and the audit log's length, before a write.
snapshot() {
	api "$TOK_erin" GET "/v1/requests?limit=1000"
	LIST_FULL=$RB
	A_FULL=$(audit_count)
}
# Each kind of write is smaller than a new request (which also writes
# every index of the request), so a few may still fit in pages LMDB
# freed: try them in turn until one is refused.
S_PREV=$(printf '%s\n' "$CERT1" | ssh-keygen -L -f - | awk '/Serial:/{print $2}')
n=0
for P2 in "${APPROVED[@]}"; do
	snapshot
	api "$TOK_alice" GET "/v1/requests/$P2/certificate"
	[ "$STATUS" = 200 ] || break
	S_PREV=$(printf '%s\n' "$RB" | ssh-keygen -L -f - | awk '/Serial:/{print $2}')
	n=$((n + 1))
done
assert_eq 503 "$STATUS" "a certificate that cannot be recorded is not issued (503; $n still fit)"
assert_not_contains "$RB" "-cert-v01@openssh.com" "no certificate in the answer"
api "$TOK_erin" GET "/v1/requests?limit=1000"
assert_eq "$LIST_FULL" "$RB" "the refused issuance changed no request"
assert_eq "$A_FULL" "$(audit_count)" "and wrote no audit entry"
n=0
for P3 in "${PENDING[@]}"; do
	snapshot
	api "$TOK_bob" POST "/v1/requests/$P3/approve" '{"comment":"ok"}'
	[ "$STATUS" = 200 ] || break
	n=$((n + 1))
done
assert_eq 503 "$STATUS" "an approval on a full disk: 503 ($n still fit)"
api "$TOK_alice" GET "/v1/requests/$P3"
assert_eq pending "$(jget "$RB" .state)" "and the request is still pending"
api "$TOK_erin" GET "/v1/requests?limit=1000"
assert_eq "$LIST_FULL" "$RB" "refused writes changed no request"
assert_eq "$A_FULL" "$(audit_count)" "and wrote no audit entry"

# A restart on the full disk: it either starts (LMDB still had room for
# the start entries) or refuses with one line naming the cause.
api_stop
assert_eq 0 "$API_RC" "SIGTERM on a full disk: clean exit"
if api_start "max_pending: 0" 2>/dev/null; then
	api "$TOK_alice" GET "/v1/requests/$P1"
	assert_eq 200 "$STATUS" "restart on a full disk: serves reads (LMDB had room for the start entries)"
	api_stop
else
	assert_eq 1 "$(grep -c . "$API_LOG")" "restart on a full disk refused with one line: $(cat "$API_LOG")"
	assert_contains "$(cat "$API_LOG")" "storage is full" "naming the cause"
	api_stop
fi

# ---- free the space ------------------------------------------------------------------
rm -f "$T/data/filler"
api_start "max_pending: 0" || { fail "server starts once space is free"; finish; }
api "$TOK_erin" GET "/v1/requests?limit=1000"
assert_eq "$LIST_FULL" "$RB" "every request intact after the disk was full"
api "$TOK_alice" GET "/v1/requests/$P1/certificate"
assert_eq "$CERT1" "$RB" "the certificate issued before is unchanged"
api "$TOK_alice" GET "/v1/requests/$P2/certificate"
assert_eq 200 "$STATUS" "the refused certificate is issued now"
s2=$(printf '%s\n' "$RB" | ssh-keygen -L -f - | awk '/Serial:/{print $2}')
assert_eq $((S_PREV + 1)) "$s2" "with the next serial (the refused issuance used none)"
api "$TOK_bob" POST "/v1/requests/$P3/approve" '{"comment":"ok"}'
assert_eq approved "$(jget "$RB" .state)" "the refused approval succeeds now"
if "$JIT_CA" audit export --help >/dev/null 2>&1; then
	run "$JIT_CA" audit export --config "$T/server.yaml" -o "$T/audit.jsonl"
	assert_rc 0 "audit export"
	run "$JIT_CA" audit verify "$T/audit.jsonl" --data "$T/data"
	assert_rc 0 "the audit chain verifies after the disk was full"
else
	ok "audit verify skipped: jit-ca audit export is not available"
fi

# ---- a data directory locked by another process ---------------------------------
api_stop
assert_eq 0 "$API_RC" "clean exit"
(exec 9>>"$T/data/server.lock" && flock -w 20 9 && : >"$T/locked" &&
	exec sleep 60) &
locker=$!
_JIT_PIDS+=("$locker")
wait_for "[ -e '$T/locked' ]" 20 || fail "the other process holds the lock"
# Bounded, so a server that wrongly starts cannot hang the suite.
assert_one_line_error "serve on a data directory locked by another process" \
	timeout 20 "$JIT_CA" serve --config "$T/server.yaml"
assert_contains "$ERR" "locked by another process" "says it is locked"
assert_contains "$ERR" "$T/data" "names the directory"
run "$JIT_CA" token create alice --config "$T/server.yaml"
assert_rc 0 "the CLI still works next to the lock holder (it takes no server lock)"
jit_kill "$locker"
api_start || fail "serves once the lock is released"
api_stop
finish
