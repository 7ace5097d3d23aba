#!/bin/bash
# test-api-framing.sh - requests whose meaning depends on who reads them,
# sent as raw bytes over a socket (curl would tidy them up first):
#   - a path that is not in canonical form (an encoded '/', a needless
#     encoding such as %72 for 'r' or %2E for '.', lower-case hex, a raw
#     character that must be encoded) gets 400 before routing, never the
#     resource it would decode to;
#   - a body whose end is told ambiguously (Content-Length together with
#     Transfer-Encoding, two Content-Length headers, a negative, non-numeric
#     or overflowing Content-Length, a Transfer-Encoding other than chunked)
#     gets exactly one well-formed 400 (413 for the overflow), and the
#     server closes the connection;
#   - the same over TLS, where the answer to a bad Content-Length is
#     written by the server itself (see tl_conn in api/http/http.c).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/api-lib.sh"

need_env JIT_CA
need_cmd curl jq timeout

api_policy
api_start || { fail "server starts"; finish; }
api_tokens alice bob || { fail "tokens"; finish; }
make_user_key ed25519 "$T/user_key"
new_request "$TOK_alice" ops 10m "INC-1"
RID=$RID
assert_eq 201 "$STATUS" "alice has a pending request"

# raw FILE BYTES: send BYTES (backslash escapes such as \r\n are
# expanded, % is sent as it is) on a new connection and read
# the answer into FILE until the server closes it (at most 10 s); RAW_RC
# is 0 when the server closed the connection, 124 when it kept it open.
raw() {
	local out=$1 req=$2
	RAW_RC=0
	(
		exec 3<>"/dev/tcp/127.0.0.1/$API_PORT" || exit 2
		printf '%b' "$req" >&3
		timeout 10 cat <&3
	) >"$out" 2>/dev/null || RAW_RC=$?
}

# one_answer FILE STATUS MSG: FILE holds exactly one well-formed response
# with STATUS whose body is exactly Content-Length bytes of JSON.
one_answer() {
	local f=$1 want=$2 msg=$3 n len blen head
	n=$(grep -ac '^HTTP/1\.[01] ' "$f")
	head=$(sed -n '1,/^\r$/p' "$f" | tr -d '\r')
	len=$(printf '%s\n' "$head" | awk -F': ' 'tolower($1)=="content-length"{print $2}')
	blen=$(sed '1,/^\r$/d' "$f" | wc -c)
	if [ "$n" = 1 ] && [ "$(printf '%s\n' "$head" | head -n 1 | cut -d' ' -f2)" = "$want" ] &&
		[ -n "$len" ] && [ "$blen" = "$len" ] &&
		sed '1,/^\r$/d' "$f" | jq -e 'has("error") or has("id") or has("ok")' >/dev/null 2>&1; then
		ok "$msg: one $want answer with a JSON body"
	else
		fail "$msg: one $want answer with a JSON body" \
			"$n status lines, Content-Length '$len', body $blen bytes:" \
			"$(head -c 600 "$f")"
	fi
}

# ---- paths ------------------------------------------------------------------
# bad_path PATH [METHOD]: 400 bad_path, and not frank's or alice's data.
bad_path() {
	local p=$1 m=${2:-GET}
	raw "$T/path" "$m $p HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $TOK_alice\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
	local st
	st=$(head -n 1 "$T/path" | cut -d' ' -f2)
	if [ "$st" = 400 ] && grep -q '"bad_path"' "$T/path"; then
		ok "$m $p -> 400 bad_path"
	else
		fail "$m $p -> 400 bad_path" "$(head -c 400 "$T/path")"
	fi
	assert_not_contains "$(cat "$T/path")" "INC-1" "$m $p shows no request"
}
bad_path "/v1/%72equests"
bad_path "/v1/%52equests"
bad_path "/v1/requests/$RID%2Fapprove" POST
bad_path "/v1/requests/$RID%2fapprove" POST
bad_path "/v1/requests%2F$RID"
bad_path "/v1/requests/%2e%2e/ca"
bad_path "/v1/requests/%2E%2E/ca"
bad_path "/v1/requests/$RID/%2E%2E/%2E%2E/ca"
bad_path "/v1/%63a"
bad_path "/v1/requests/r-%c3%a9"
bad_path "/v1/requests/r-%4"
bad_path "/v1/requests/r-%zz"
bad_path "/v1/requests/$RID%00"
bad_path "/v1/requests/r-'"
bad_path "/v1/requests/r-a@b"
bad_path "/v1/requests/r-a:b"
bad_path "v1/ca"
bad_path "http://127.0.0.1/v1/ca"
bad_path "*"
# Canonical paths still route: an encoded byte that must be encoded is
# fine (and simply names no request).
raw "$T/good" "GET /v1/requests/$RID HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $TOK_alice\r\nConnection: close\r\n\r\n"
one_answer "$T/good" 200 "GET /v1/requests/ID (canonical)"
raw "$T/good" "GET /v1/requests/r-%C3%A9?wait=0 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $TOK_alice\r\nConnection: close\r\n\r\n"
one_answer "$T/good" 404 "GET /v1/requests/r-%C3%A9 (canonical, unknown id)"
raw "$T/good" "GET /v1/ca?x=%2f%72 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
assert_eq "HTTP/1.1 200 OK" "$(head -n 1 "$T/good" | tr -d '\r')" "the query string is not judged by the path rule"
api "$TOK_bob" GET "/v1/requests/$RID"
assert_eq pending "$(jget "$RB" .state)" "alice's request is untouched"

# ---- framing ------------------------------------------------------------------
# framing NAME STATUS REQUEST: one answer, then the server closes.
framing() {
	local name=$1 want=$2 req=$3
	raw "$T/frame" "$req"
	one_answer "$T/frame" "$want" "$name"
	assert_eq 0 "$RAW_RC" "$name: the server closes the connection"
	assert_contains "$(tr -d '\r' <"$T/frame")" "Connection: close" "$name: says Connection: close"
}
A="Authorization: Bearer $TOK_alice\r\n"
framing "Content-Length and Transfer-Encoding" 400 \
	"POST /v1/requests HTTP/1.1\r\nHost: x\r\n${A}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
framing "Transfer-Encoding and Content-Length" 400 \
	"POST /v1/requests HTTP/1.1\r\nHost: x\r\n${A}Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n"
framing "two equal Content-Length" 400 \
	"POST /v1/requests HTTP/1.1\r\nHost: x\r\n${A}Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}"
framing "two different Content-Length" 400 \
	"POST /v1/requests HTTP/1.1\r\nHost: x\r\n${A}Content-Length: 2\r\nContent-Length: 40\r\n\r\n{}"
framing "Content-Length -1" 400 \
	"POST /v1/requests HTTP/1.1\r\nHost: x\r\n${A}Content-Length: -1\r\n\r\n"
framing "Content-Length -1 with a body" 400 \
	"POST /v1/requests HTTP/1.1\r\nHost: x\r\n${A}Content-Length: -1\r\n\r\n{}"
framing "Content-Length abc" 400 \
	"POST /v1/requests HTTP/1.1\r\nHost: x\r\n${A}Content-Length: abc\r\n\r\n"
framing "Content-Length +2" 400 \
	"POST /v1/requests HTTP/1.1\r\nHost: x\r\n${A}Content-Length: +2\r\n\r\n{}"
framing "Content-Length 0x2" 400 \
	"POST /v1/requests HTTP/1.1\r\nHost: x\r\n${A}Content-Length: 0x2\r\n\r\n{}"
framing "Content-Length beyond 64 bits" 413 \
	"POST /v1/requests HTTP/1.1\r\nHost: x\r\n${A}Content-Length: 99999999999999999999999\r\n\r\n"
framing "Transfer-Encoding gzip" 400 \
	"POST /v1/requests HTTP/1.1\r\nHost: x\r\n${A}Transfer-Encoding: gzip\r\n\r\n"
framing "Transfer-Encoding gzip, chunked" 400 \
	"POST /v1/requests HTTP/1.1\r\nHost: x\r\n${A}Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"
framing "two Transfer-Encoding" 400 \
	"POST /v1/requests HTTP/1.1\r\nHost: x\r\n${A}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
# A request smuggled behind the ambiguous one is never answered.
raw "$T/smuggle" "POST /v1/requests HTTP/1.1\r\nHost: x\r\n${A}Content-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /v1/whoami HTTP/1.1\r\nHost: x\r\n${A}\r\n"
assert_eq 1 "$(grep -ac '^HTTP/1' "$T/smuggle")" "the request behind an ambiguous one gets no answer"
assert_not_contains "$(cat "$T/smuggle")" '"alice"' "and is not run"
# Plain requests keep working, also chunked ones and keep-alive.
raw "$T/ok" "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
assert_eq 2 "$(grep -ac '^HTTP/1.1 200' "$T/ok")" "two requests on one kept-alive connection"
raw "$T/ok" "POST /v1/requests/$RID/cancel HTTP/1.1\r\nHost: x\r\n${A}Transfer-Encoding: chunked\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n2\r\n{}\r\n0\r\n\r\n"
one_answer "$T/ok" 200 "a chunked body alone"
api "$TOK_alice" GET "/v1/requests/$RID"
assert_eq cancelled "$(jget "$RB" .state)" "the chunked cancel took effect"
assert_eq 200 "$(curl -s -o /dev/null -w '%{http_code}' "$JURL/healthz")" "server alive"
LOG=$(cat "$API_LOG")
assert_not_contains "$LOG" "Failed to parse" "libmicrohttpd's own complaint is not logged"
assert_contains "$LOG" " - /v1/requests 400 " "the early answer is logged as a request"
api_stop
assert_eq 0 "$API_RC" "clean exit"

# ---- the same over TLS --------------------------------------------------------------
if command -v openssl >/dev/null &&
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$T/tls.key" -out "$T/tls.crt" -days 2 -subj /CN=localhost \
		-addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1; then
	api_start "tls: {cert: $T/tls.crt, key: $T/tls.key}" || { fail "TLS server starts"; finish; }
	tls_raw() {
		printf '%b' "$2" | timeout 10 openssl s_client -quiet -ign_eof \
			-connect "127.0.0.1:$API_PORT" >"$1" 2>/dev/null
		RAW_RC=$?
	}
	tls_raw "$T/tframe" "POST /v1/requests HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n"
	one_answer "$T/tframe" 400 "TLS: Content-Length -1"
	assert_ne 124 "$RAW_RC" "TLS: the server closes the connection"
	tls_raw "$T/tframe" "POST /v1/requests HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
	one_answer "$T/tframe" 400 "TLS: Content-Length and Transfer-Encoding"
	tls_raw "$T/tframe" "GET /v1/%63a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
	one_answer "$T/tframe" 400 "TLS: a needless encoding in the path"
	run curl -s --cacert "$T/tls.crt" "https://127.0.0.1:$API_PORT/healthz"
	assert_eq '{"ok":true}' "$OUT" "TLS server alive"
	api_stop
else
	ok "TLS part skipped: openssl cannot make a test certificate"
fi
finish
