#!/bin/bash
# jit-ssh transports against the real server: HTTPS with verification
# always on (a self-signed server certificate is refused unless its CA is
# given with --tls-ca / tls_ca; a certificate for another host name is
# refused even then), and a unix-socket server (URL unix:/PATH).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/client-lib.sh"

need_env JIT_CA JIT_SSH
need_cmd openssl

cat >"$T/policy.yaml" <<'EOF'
users:
  alice: {groups: [dev]}
roles:
  ops:
    principals: [nobody]
    requesters: [group:dev]
    approvers: [group:dev]
    approvals: 1
    max_duration: 1h
    default_duration: 10m
    pending_timeout: 1h
    reason: optional
    key_types: [ed25519]
EOF
mkdir -p "$T/home/alice"

mkcert() {   # NAME SAN
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$T/$1.key" -out "$T/$1.crt" -days 2 -subj "/CN=$1" \
		-addext "subjectAltName=$2" >/dev/null 2>&1
}
mkcert good "DNS:localhost,IP:127.0.0.1"
mkcert other "DNS:other.example"

# serve_tls NAME -> starts a TLS server with that certificate, sets URL_TLS
tls_conf() {   # tls_conf PORT: the config of server $TLS_NAME
	cat >"$T/tls-$TLS_NAME.yaml" <<EOF
listen: 127.0.0.1:$1
data: $T/data-$TLS_NAME
policies: $T/policy.yaml
tls: {cert: $T/$TLS_NAME.crt, key: $T/$TLS_NAME.key}
EOF
}
serve_tls() {
	TLS_NAME=$1
	serve_free_port "$T/tls-$1.log" tls_conf \
		"$JIT_CA" serve --config "$T/tls-$1.yaml" 2>/dev/null ||
		{ fail "TLS server ($1) started" "$(cat "$T/tls-$1.log")"; return 1; }
	URL_TLS=https://127.0.0.1:$SERVE_PORT
}

if serve_tls good; then
	assert_one_line_error "self-signed TLS certificate refused by default" \
		as alice "$JIT_SSH" ca --url "$URL_TLS"
	assert_contains "$ERR" "TLS" "the error names TLS"
	run as alice "$JIT_SSH" ca --url "$URL_TLS" --tls-ca "$T/good.crt"
	assert_rc 0 "accepted with --tls-ca naming its CA"
	assert_eq "$(cut -d' ' -f1-2 "$T/data-good/ca_key.pub")" \
		"$(echo "$OUT" | cut -d' ' -f1-2)" "and the CA line is the server's"
	run as alice "$JIT_SSH" setup "$URL_TLS" --tls-ca "$T/good.crt" --yes
	assert_rc 0 "setup over HTTPS with --tls-ca"
	assert_contains "$(cat "$T/home/alice/.config/jit-ssh/config")" \
		"tls_ca = $T/good.crt" "setup saves tls_ca"
	run as alice "$JIT_SSH" ca
	assert_rc 0 "the saved tls_ca is used"
fi
if serve_tls other; then
	assert_one_line_error "certificate for another host name refused" \
		as alice "$JIT_SSH" ca --url "$URL_TLS" --tls-ca "$T/other.crt"
fi

# unix socket
jit_bg "$T/unix.log" "$JIT_CA" serve --listen "unix:$T/api.sock" \
	--data "$T/data-unix" --policies "$T/policy.yaml"
if wait_for "[ -S '$T/api.sock' ]" 10; then
	tok=$("$JIT_CA" token create alice --data "$T/data-unix" \
		--policies "$T/policy.yaml" 2>/dev/null)
	run as alice "$JIT_SSH" whoami --url "unix:$T/api.sock" --token "$tok"
	assert_rc 0 "whoami over a unix socket"
	assert_contains "$OUT" "alice" "whoami names alice over the socket"
else
	fail "unix socket server started" "$(cat "$T/unix.log")"
fi

finish
