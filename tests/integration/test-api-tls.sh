#!/bin/bash
# test-api-tls.sh - listeners other than plain TCP: TLS (tls: {cert, key})
# with TLS >= 1.2 only and, on 1.2, only ECDHE key exchange with AEAD
# ciphers (no static RSA, no finite-field DHE, no CBC), a unix socket (a
# second server does not take over a socket that is still answered), and
# IPv6 loopback.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/api-lib.sh"

need_env JIT_CA
need_cmd curl jq openssl

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-keyout "$T/tls.key" -out "$T/tls.crt" -days 2 -subj /CN=localhost \
	-addext subjectAltName=DNS:localhost,IP:127.0.0.1 >/dev/null 2>&1 ||
	skip "openssl cannot make a test certificate"
api_policy
api_start "tls: {cert: $T/tls.crt, key: $T/tls.key}" || { fail "TLS server starts"; finish; }
H=https://127.0.0.1:$API_PORT
assert_contains "$(cat "$API_LOG")" "listening on https://" "logs an https listener"
run curl -s --cacert "$T/tls.crt" "$H/healthz"
assert_eq '{"ok":true}' "$OUT" "healthz over TLS"
run curl -s --cacert "$T/tls.crt" --tlsv1.2 --tls-max 1.2 "$H/healthz"
assert_eq 0 "$RC" "TLS 1.2 accepted"
run curl -s --cacert "$T/tls.crt" --tlsv1.3 "$H/healthz"
assert_eq 0 "$RC" "TLS 1.3 accepted"
run curl -s --cacert "$T/tls.crt" --tlsv1 --tls-max 1.1 "$H/healthz"
assert_ne 0 "$RC" "TLS 1.1 refused"
run curl -s "http://127.0.0.1:$API_PORT/healthz"
assert_ne 0 "$RC" "plain HTTP on the TLS port fails"
api_tokens alice
run curl -s --cacert "$T/tls.crt" -H "Authorization: Bearer $TOK_alice" "$H/v1/whoami"
assert_eq alice "$(jget "$OUT" .user)" "authenticated call over TLS"

# suite VERSION CIPHER: print the cipher openssl s_client agreed on with the
# server, or "(NONE)" when the handshake failed.
suite() {
	local c
	c=$(echo | timeout 10 openssl s_client -connect "127.0.0.1:$API_PORT" \
		"$1" -cipher "$2" 2>/dev/null | sed -n 's/.*Cipher is //p' | head -n 1)
	echo "${c:-(NONE)}"
}
assert_eq ECDHE-ECDSA-AES128-GCM-SHA256 "$(suite -tls1_2 ECDHE-ECDSA-AES128-GCM-SHA256)" \
	"TLS 1.2 ECDHE-ECDSA with AES-GCM accepted (EC certificate)"
assert_eq "(NONE)" "$(suite -tls1_2 ECDHE-ECDSA-AES128-SHA)" "TLS 1.2 ECDHE-ECDSA with CBC-SHA1 refused"
assert_eq "(NONE)" "$(suite -tls1_2 ECDHE-ECDSA-AES256-SHA384)" "TLS 1.2 ECDHE-ECDSA with CBC-SHA384 refused"
api_stop
assert_eq 0 "$API_RC" "clean exit"

# An RSA certificate, with which static-RSA suites would be possible.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/rsa.key" -out "$T/rsa.crt" \
	-days 2 -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1 ||
	fail "openssl makes an RSA test certificate"
api_start "tls: {cert: $T/rsa.crt, key: $T/rsa.key}" || { fail "TLS server (RSA) starts"; finish; }
for c in ECDHE-RSA-AES128-GCM-SHA256 ECDHE-RSA-AES256-GCM-SHA384 ECDHE-RSA-CHACHA20-POLY1305; do
	assert_eq "$c" "$(suite -tls1_2 "$c")" "TLS 1.2 $c accepted"
done
for c in AES128-SHA AES256-SHA AES128-GCM-SHA256 AES256-SHA256 ECDHE-RSA-AES128-SHA \
	ECDHE-RSA-AES256-SHA384 DHE-RSA-AES128-GCM-SHA256 DHE-RSA-AES256-SHA; do
	assert_eq "(NONE)" "$(suite -tls1_2 "$c")" "TLS 1.2 $c refused"
done
run curl -s --cacert "$T/rsa.crt" --tlsv1.3 "https://127.0.0.1:$API_PORT/healthz"
assert_eq '{"ok":true}' "$OUT" "TLS 1.3 with the RSA certificate"
api_stop

# A broken TLS key refuses to start with one line.
echo junk >"$T/bad.key"
cat >"$T/bad.yaml" <<EOT
listen: 127.0.0.1:0
data: $T/data
policies: $T/policy.yaml
tls: {cert: $T/tls.crt, key: $T/bad.key}
EOT
assert_one_line_error "bad TLS key" "$JIT_CA" serve --config "$T/bad.yaml"
cat >"$T/bad.yaml" <<EOT
listen: 127.0.0.1:0
data: $T/data
policies: $T/policy.yaml
tls: {cert: $T/nonexistent.crt, key: $T/tls.key}
EOT
assert_one_line_error "missing TLS cert" "$JIT_CA" serve --config "$T/bad.yaml"
assert_contains "$ERR" "nonexistent.crt" "names the missing file"
printf 'listen: 127.0.0.1:80\nlisten_typo: 1\n' >"$T/typo.yaml"
assert_one_line_error "unknown config key" "$JIT_CA" serve --config "$T/typo.yaml"
assert_contains "$ERR" "typo.yaml:2: config: unknown key 'listen_typo'" "file:line: field: message"

# unix socket
jit_bg "$T/unix.log" "$JIT_CA" serve --listen "unix:$T/api.sock" --data "$T/data" \
	--policies "$T/policy.yaml"
upid=$JIT_BG_PID
wait_for "[ -S '$T/api.sock' ]" 10
run curl -s --unix-socket "$T/api.sock" http://localhost/healthz
assert_eq '{"ok":true}' "$OUT" "unix socket listener"
assert_one_line_error "a second server on the same live socket" \
	timeout 20 "$JIT_CA" serve --listen "unix:$T/api.sock" --data "$T/data2" \
	--policies "$T/policy.yaml"
assert_contains "$ERR" "Address already in use" "says the socket is in use"
run curl -s --unix-socket "$T/api.sock" http://localhost/healthz
assert_eq '{"ok":true}' "$OUT" "the first server still answers on its socket"
[ ! -e "$T/data2" ] && ok "nothing created for the server that did not start" ||
	fail "data2 created"
jit_kill "$upid"
[ ! -e "$T/api.sock" ] && ok "socket file removed at exit" || fail "socket file left behind"

# IPv6 loopback, if the host has it
if curl -s -o /dev/null "http://[::1]:1/" 2>/dev/null; [ -e /proc/net/if_inet6 ]; then
	p6=$(free_port)
	jit_bg "$T/v6.log" "$JIT_CA" serve --listen "[::1]:$p6" --data "$T/data" \
		--policies "$T/policy.yaml"
	v6pid=$JIT_BG_PID
	if wait_for "grep -q 'listening on' '$T/v6.log'" 10; then
		run curl -s "http://[::1]:$p6/healthz"
		assert_eq '{"ok":true}' "$OUT" "IPv6 listener"
	else
		ok "IPv6 not available here (skipped): $(tail -n 1 "$T/v6.log")"
	fi
	jit_kill "$v6pid"
fi
finish
