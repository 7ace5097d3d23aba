#!/bin/bash
# test-audit.sh - the audit log as an auditor sees it: every event appears
# after its action over HTTP with its fields; GET /v1/audit (auditors and
# admins only) and `jit-ca audit export` give signed JSON-lines and CSV
# exports that pass `jit-ca audit verify` and stock `ssh-keygen -Y verify`;
# tampering each way (edit, delete, insert, reorder, truncate) fails and
# names the line.  Commands as in docs/AUDIT.md.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/api-lib.sh"

need_env JIT_CA
need_cmd curl jq ssh-keygen python3

NS=jit-ssh-audit
make_user_key ed25519 "$T/user_key" >/dev/null
api_start || { fail "server starts"; finish; }
ok "server starts on $JURL"
api_tokens alice bob carol dave erin frank || { fail "tokens"; finish; }
curl -s "$JURL/v1/ca" >"$T/ca.pub"
printf 'jit-ssh-ca namespaces="%s" %s\n' "$NS" "$(cat "$T/ca.pub")" \
	>"$T/allowed_signers"

# ---- the actions ------------------------------------------------------------
new_request "$TOK_alice" ops 30m "INC-42 disk full, \"urgent\""
R1=$RID
api "$TOK_bob" POST "/v1/requests/$R1/approve" '{"comment":"go ahead"}'
assert_eq approved "$(jget "$RB" .state)" "R1 approved"
api "$TOK_alice" GET "/v1/requests/$R1/certificate"
assert_eq 200 "$STATUS" "R1 certificate"
api "$TOK_dave" POST "/v1/requests/$R1/revoke" '{"comment":"done early"}'
assert_eq revoked "$(jget "$RB" .state)" "R1 revoked by an admin"
new_request "$TOK_alice" ops 10m "INC-43"
R2=$RID
api "$TOK_bob" POST "/v1/requests/$R2/deny" '{"comment":"not now"}'
assert_eq denied "$(jget "$RB" .state)" "R2 denied"
new_request "$TOK_alice" ops 10m "INC-44"
R3=$RID
api "$TOK_alice" POST "/v1/requests/$R3/cancel"
assert_eq cancelled "$(jget "$RB" .state)" "R3 cancelled"
new_request "$TOK_alice" quick 10m
R4=$RID
new_request "$TOK_alice" auto 2
R5=$RID
api "$TOK_alice" GET "/v1/requests/$R5/certificate"
assert_eq 200 "$STATUS" "R5 (2 s grant) certificate"
wait_for "api '$TOK_alice' GET /v1/requests/$R4; [ \"\$(jget \"\$RB\" .state)\" = expired ]" 8
assert_eq expired "$(jget "$RB" .state)" "R4 expired while pending"
wait_for "api '$TOK_alice' GET /v1/requests/$R5; [ \"\$(jget \"\$RB\" .state)\" = ended ]" 8
assert_eq ended "$(jget "$RB" .state)" "R5 grant ended"
run "$JIT_CA" token create frank --config "$T/server.yaml"
assert_rc 0 "token create"
FTOK=$OUT
FID=$(printf '%s\n' "$ERR" | sed -n 's/.*created \([^ ]*\) for frank.*/\1/p')
assert_run_ok "token revoke" "$JIT_CA" token revoke "$FID" --config "$T/server.yaml"
kill -HUP "$API_PID"
wait_for "grep -q 'policy reloaded' '$API_LOG'" 5

# ---- who may export ----------------------------------------------------------
api "$TOK_alice" GET /v1/audit
assert_eq 403 "$STATUS" "a non-auditor gets 403 from /v1/audit"
assert_eq forbidden "$(jget "$RB" .error)" "403 body is a JSON error"
api "" GET /v1/audit
assert_eq 401 "$STATUS" "no token: 401"
api "$TOK_erin" POST /v1/audit '{}'
assert_eq 405 "$STATUS" "POST /v1/audit: 405"
api "$TOK_erin" GET "/v1/audit?format=xml"
assert_eq 400 "$STATUS" "bad format: 400"
api "$TOK_erin" GET "/v1/audit?since=yesterday"
assert_eq 400 "$STATUS" "bad since: 400"
api "$TOK_erin" GET "/v1/audit?colour=red"
assert_eq 400 "$STATUS" "unknown parameter: 400"
api "$TOK_dave" GET /v1/audit
assert_eq 200 "$STATUS" "an admin may export"

# ---- the HTTP export, as docs/AUDIT.md tells an auditor to fetch it ----------
run curl -sS -f -H "Authorization: Bearer $TOK_erin" -o "$T/audit.jsonl" \
	"$JURL/v1/audit?format=jsonl"
assert_rc 0 "auditor: GET /v1/audit"
curl -s -D "$T/h" -o /dev/null -H "Authorization: Bearer $TOK_erin" "$JURL/v1/audit"
assert_match "$(cat "$T/h")" '[Cc]ontent-[Tt]ype: application/x-ndjson' "JSON lines content type"

# Split the inline signature off for ssh-keygen (docs/AUDIT.md).
split_export() { # FILE -> FILE.body FILE.body.sig
	local n
	n=$(grep -n -x -- '-----BEGIN SSH SIGNATURE-----' "$1" | tail -n 1 | cut -d: -f1)
	head -n $((n - 1)) "$1" >"$1.body"
	tail -n +"$n" "$1" >"$1.body.sig"
}
split_export "$T/audit.jsonl"
run ssh-keygen -Y verify -f "$T/allowed_signers" -I jit-ssh-ca -n "$NS" \
	-s "$T/audit.jsonl.body.sig" <"$T/audit.jsonl.body"
assert_rc 0 "ssh-keygen -Y verify accepts the HTTP export"
assert_contains "$OUT" "Good" "ssh-keygen says Good"
run "$JIT_CA" audit verify "$T/audit.jsonl" --ca-key "$T/ca.pub"
assert_rc 0 "jit-ca audit verify accepts the HTTP export"
assert_match "$OUT" '^ok: [0-9]+ entries, seq 1\.\.[0-9]+ \(complete and contiguous\), chain head [0-9]+ [0-9a-f]{64}, signed by SHA256:' "verify summary"
fp=$(ssh-keygen -l -f "$T/ca.pub" | awk '{print $2}')
assert_contains "$OUT" "signed by $fp" "signed by the CA"
run "$JIT_CA" audit verify "$T/audit.jsonl.body" --ca-key "$T/ca.pub" --sig "$T/audit.jsonl.body.sig"
assert_rc 0 "jit-ca audit verify with --sig"

# The last line of the body is the trailer; every other line recomputes
# with jq alone, as audit.h promises.
tail -n 1 "$T/audit.jsonl.body" >"$T/trailer"
assert_eq true "$(jq -r '.export.contiguous' "$T/trailer")" "trailer: contiguous"
assert_eq "$NS" "$(jq -r '.export.namespace' "$T/trailer")" "trailer: namespace"
head -n -1 "$T/audit.jsonl.body" >"$T/entries"
bad=0
while IFS= read -r line; do
	h=$(printf '%s' "$line" | jq -cjS 'del(.hash)' | sha256sum | cut -d' ' -f1)
	[ "$h" = "$(printf '%s' "$line" | jq -r .hash)" ] || bad=$((bad + 1))
done <"$T/entries"
assert_eq 0 "$bad" "every entry's hash recomputes with jq | sha256sum"
assert_eq "$(wc -l <"$T/entries")" "$(jq -r .export.count "$T/trailer")" "trailer count"

# ---- every event, with its fields --------------------------------------------
ev() { # EVENT [REQUEST] -> the (last) entry
	jq -c --arg e "$1" --arg r "${2:-}" \
		'select(.event == $e and ($r == "" or .request == $r))' "$T/entries" | tail -n 1
}
has_fields() { # NAME ENTRY FIELD...
	local name=$1 e=$2 f missing=
	shift 2
	[ -n "$e" ] || { fail "$name: no such entry"; return; }
	for f in "$@"; do
		[ "$(printf '%s' "$e" | jq -r --arg f "$f" 'has($f) and .[$f] != null')" = true ] ||
			missing="$missing $f"
	done
	if [ -z "$missing" ]; then ok "$name: has $*"; else fail "$name: missing$missing" "$e"; fi
}
E=$(ev request.create "$R1")
has_fields request.create "$E" seq time actor user role principals reason duration key_fingerprint client_address prev hash
assert_eq "alice" "$(jget "$E" .user)" "request.create: user"
assert_eq "INC-42 disk full, \"urgent\"" "$(jget "$E" .reason)" "request.create: reason"
assert_eq 1800 "$(jget "$E" .duration)" "request.create: duration"
assert_eq 127.0.0.1 "$(jget "$E" .client_address)" "request.create: client address"
E=$(ev request.approve "$R1")
has_fields request.approve "$E" actor comment request
assert_eq "bob go ahead" "$(jget "$E" '.actor + " " + .comment')" "approve: approver and comment"
E=$(ev cert.issue "$R1")
has_fields cert.issue "$E" serial key_id principals valid_after valid_before key_fingerprint ca_fingerprint
assert_eq "$fp" "$(jget "$E" .ca_fingerprint)" "cert.issue: CA fingerprint"
api "$TOK_erin" GET "/v1/requests/$R1"
assert_eq "$(jget "$RB" .serial)" "$(jget "$E" .serial)" "cert.issue: serial of the request"
E=$(ev request.revoke "$R1")
has_fields request.revoke "$E" actor serial
assert_eq dave "$(jget "$E" .actor)" "revoke: who"
E=$(ev request.deny "$R2")
assert_eq "bob not now" "$(jget "$E" '.actor + " " + .comment')" "deny: approver and comment"
has_fields request.cancel "$(ev request.cancel "$R3")" actor request
has_fields request.expire "$(ev request.expire "$R4")" actor request
has_fields grant.end "$(ev grant.end "$R5")" request serial not_after
has_fields cert.issue "$(ev cert.issue "$R5")" serial valid_before
E=$(jq -c --arg id "$FID" 'select(.event == "token.create" and .token_id == $id)' "$T/entries")
has_fields token.create "$E" actor token_id user
E=$(jq -c --arg id "$FID" 'select(.event == "token.revoke" and .token_id == $id)' "$T/entries")
has_fields token.revoke "$E" actor token_id user
assert_eq 0 "$(grep -c -F -- "$FTOK" "$T/entries")" "no token value in the log"
has_fields policy.load "$(ev policy.load)" policy_hash policy_source ca_fingerprint
has_fields policy.reload "$(ev policy.reload)" policy_hash
has_fields server.start "$(ev server.start)" policy_hash ca_fingerprint listen

# ---- CSV ---------------------------------------------------------------------
run curl -sS -f -H "Authorization: Bearer $TOK_erin" -o "$T/audit.csv" \
	"$JURL/v1/audit?format=csv"
assert_rc 0 "GET /v1/audit?format=csv"
run "$JIT_CA" audit verify "$T/audit.csv" --ca-key "$T/ca.pub"
assert_rc 0 "jit-ca audit verify accepts the CSV export"
split_export "$T/audit.csv"
run ssh-keygen -Y verify -f "$T/allowed_signers" -I jit-ssh-ca -n "$NS" \
	-s "$T/audit.csv.body.sig" <"$T/audit.csv.body"
assert_rc 0 "ssh-keygen -Y verify accepts the CSV export"
run python3 -c '
import csv, json, sys
rows = list(csv.reader(open(sys.argv[1], newline="", encoding="utf-8"), strict=True))
head, body, trailer = rows[0], rows[1:-1], rows[-1]
assert head[0] == "seq" and head[-1] == "entry", head
assert all(len(r) == len(head) for r in rows), "ragged"
for r in body:
    e = json.loads(r[-1])
    assert str(e["seq"]) == r[0] and e["event"] == r[2] and e["hash"] == r[head.index("hash")]
t = json.loads(trailer[-1])["export"]
assert trailer[0] == "#export" and t["count"] == len(body), t
print(len(body))' "$T/audit.csv.body"
assert_rc 0 "the CSV parses as RFC 4180 (python csv, strict) and matches its entries"
assert_eq "$(wc -l <"$T/entries")" "$OUT" "CSV has every entry"
assert_contains "$(cat "$T/audit.csv")" '"INC-42 disk full, ""urgent"""' "CSV quoting"

# ---- filtered export ---------------------------------------------------------
run curl -sS -f -H "Authorization: Bearer $TOK_erin" -o "$T/alice.jsonl" \
	"$JURL/v1/audit?user=alice&event=request.*,cert.issue"
assert_rc 0 "filtered export"
run "$JIT_CA" audit verify "$T/alice.jsonl" --ca-key "$T/ca.pub"
assert_rc 0 "filtered export verifies"
assert_contains "$OUT" '(filtered: {"event":"request.*,cert.issue","user":"alice"})' "verify names the filters"
split_export "$T/alice.jsonl"
head -n -1 "$T/alice.jsonl.body" >"$T/alice.entries"
assert_eq 0 "$(jq -c 'select((.user != "alice" and .actor != "alice") or ((.event | startswith("request.")) or .event == "cert.issue" | not))' "$T/alice.entries" | wc -l)" "only matching entries"
assert_eq "$(jq -c 'select((.user == "alice" or .actor == "alice") and ((.event | startswith("request.")) or .event == "cert.issue"))' "$T/entries" | wc -l)" \
	"$(wc -l <"$T/alice.entries")" "every matching entry"
run curl -sS -f -H "Authorization: Bearer $TOK_erin" -o "$T/since.jsonl" \
	"$JURL/v1/audit?since=2000-01-01T00:00:00Z&until=2000-01-02T00:00:00Z"
run "$JIT_CA" audit verify "$T/since.jsonl" --ca-key "$T/ca.pub"
assert_rc 0 "an empty time window verifies"
assert_contains "$OUT" "ok: 0 entries" "and is empty"

# ---- jit-ca audit export while the server runs -------------------------------
run "$JIT_CA" audit export --config "$T/server.yaml" -o "$T/cli.jsonl"
assert_rc 0 "jit-ca audit export while the server runs"
assert_file_mode 600 "$T/cli.jsonl" "export file is 0600"
[ -f "$T/cli.jsonl.sig" ] && ok "signature in FILE.sig" || fail "no FILE.sig"
run ssh-keygen -Y verify -f "$T/allowed_signers" -I jit-ssh-ca -n "$NS" \
	-s "$T/cli.jsonl.sig" <"$T/cli.jsonl"
assert_rc 0 "ssh-keygen -Y verify accepts the CLI export as is"
run "$JIT_CA" audit verify "$T/cli.jsonl" --ca-key "$T/ca.pub"
assert_rc 0 "jit-ca audit verify accepts the CLI export (FILE.sig found)"
assert_eq "$(cat "$T/entries")" "$(head -n -1 "$T/cli.jsonl")" "CLI and HTTP exports hold the same entries"
run ssh-keygen -Y verify -f "$T/allowed_signers" -I jit-ssh-ca -n file \
	-s "$T/cli.jsonl.sig" <"$T/cli.jsonl"
assert_rc 255 "ssh-keygen: another namespace is refused"
run "$JIT_CA" audit export "${STORE_ARGS[@]}" --format csv --role ops -o "$T/ops.csv"
assert_rc 0 "CLI CSV export with a filter"
run "$JIT_CA" audit verify "$T/ops.csv" --ca-key "$T/ca.pub"
assert_rc 0 "and it verifies"
"$JIT_CA" audit export "${STORE_ARGS[@]}" --event 'token.*' 2>/dev/null >"$T/stdout.jsonl"
run "$JIT_CA" audit verify - --ca-key "$T/ca.pub" <"$T/stdout.jsonl"
assert_rc 0 "export to stdout (inline signature) verifies from stdin"
assert_contains "$OUT" "ok: " "summary"
assert_one_line_error "export: bad filter" "$JIT_CA" audit export "${STORE_ARGS[@]}" --since never
assert_one_line_error "verify without a key" "$JIT_CA" audit verify "$T/cli.jsonl"
ssh-keygen -q -t ed25519 -N '' -f "$T/other" >/dev/null
assert_one_line_error "verify with another CA key" "$JIT_CA" audit verify "$T/cli.jsonl" --ca-key "$T/other.pub"
assert_contains "$ERR" "not by the expected key" "says who signed"

# ---- tampering: each way fails, naming the line -------------------------------
N=$(wc -l <"$T/cli.jsonl")   # entries + trailer
tamper() { # NAME EXPECTED-LINE SED-SCRIPT
	local name=$1 line=$2
	cp "$T/cli.jsonl" "$T/t.jsonl"
	cp "$T/cli.jsonl.sig" "$T/t.jsonl.sig"
	sed -i "$3" "$T/t.jsonl"
	run "$JIT_CA" audit verify "$T/t.jsonl" --ca-key "$T/ca.pub"
	assert_rc 1 "tamper ($name): verify fails"
	assert_match "$ERR" "^$T/t.jsonl:$line: " "tamper ($name): names line $line"
	run ssh-keygen -Y verify -f "$T/allowed_signers" -I jit-ssh-ca -n "$NS" \
		-s "$T/t.jsonl.sig" <"$T/t.jsonl"
	assert_ne 0 "$RC" "tamper ($name): ssh-keygen -Y verify fails too"
}
L=$(grep -n '"event":"request.create"' "$T/cli.jsonl" | head -n 1 | cut -d: -f1)
tamper "edit a reason" "$L" "${L}s/\"reason\":\"/\"reason\":\"X/"
tamper "edit an actor" 4 '4s/"actor":"[^"]*"/"actor":"mallory"/'
tamper "delete a line" 5 '5d'
tamper "insert a line" 6 '5p'
tamper "reorder lines" 6 '6{h;d};7G'
tamper "truncate the end" $((N - 2)) "$((N - 2)),\$d"
tamper "drop the trailer" "$N" '$d'
tamper "edit the trailer" '[0-9]+' '$s/"count":[0-9]*/"count":1/'
# A line cut in the middle (a torn copy).
head -c -40 "$T/cli.jsonl" >"$T/cut.jsonl"
run "$JIT_CA" audit verify "$T/cut.jsonl" --ca-key "$T/ca.pub" --sig "$T/cli.jsonl.sig"
assert_rc 1 "truncated mid-line: verify fails"
assert_match "$ERR" "^$T/cut.jsonl:$N: " "truncated mid-line: names the line"
# The signature alone changed.
cp "$T/cli.jsonl" "$T/s.jsonl"
ssh-keygen -q -Y sign -f "$T/other" -n "$NS" "$T/s.jsonl" 2>/dev/null
run "$JIT_CA" audit verify "$T/s.jsonl" --ca-key "$T/ca.pub"
assert_rc 1 "re-signed by another key: verify fails"
assert_contains "$ERR" "not by the expected key" "re-signed: says so"

api_stop
finish
