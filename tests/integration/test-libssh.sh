#!/bin/bash
# libssh put to work.  An operator's encrypted CA key (ssh-keygen -N) signs
# after the right passphrase (from --passphrase-file, the systemd
# credential or the terminal) and fails with one clear line after a wrong
# one; `jit-ca init --encrypt` writes a key ssh-keygen reads only with the
# passphrase; `jit-ca serve` starts with --passphrase-file and refuses a
# wrong one.  And a second SSH implementation accepts what we sign:
# tests/interop/libssh-login ($JIT_LIBSSH_LOGIN), a libssh client, logs in
# to a real sshd with our user certificates, as OpenSSH's ssh does.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/api-lib.sh"

need_env JIT_CA JIT_LIBSSH_LOGIN
need_sshd
need_cmd python3 curl jq
need_root
ensure_test_users
U1=$JIT_USER1
U2=$JIT_USER2

printf 'pass\n' >"$T/pass"
printf 'wrong\n' >"$T/wrong"
chmod 600 "$T/pass" "$T/wrong"
make_user_key ed25519 "$T/user"
: >"$T/trusted.pub"

# pty ANSWER... -- CMD...: run CMD on a new terminal, typing each ANSWER
# after the next "passphrase" prompt appears; print what the terminal
# showed and exit with CMD's status.
cat >"$T/tty-answer.py" <<'EOF'
import os, pty, select, sys, time
sep = sys.argv.index("--")
answers, cmd = sys.argv[1:sep], sys.argv[sep + 1:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(cmd[0], cmd)
out = b""
def more(deadline):
    global out
    r, _, _ = select.select([fd], [], [], max(0, deadline - time.time()))
    if not r:
        return False
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        return False
    out += chunk
    return bool(chunk)
for i, a in enumerate(answers):
    deadline = time.time() + 20
    while out.lower().count(b"passphrase") <= i and more(deadline):
        pass
    os.write(fd, a.encode() + b"\n")
deadline = time.time() + 30
while more(deadline):
    pass
_, st = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace").replace("\r", ""))
sys.exit(os.waitstatus_to_exitcode(st))
EOF
pty() { python3 "$T/tty-answer.py" "$@"; }

# libssh_login KEY CERT USER CMD...: the libssh client against our sshd.
libssh_login() {
	local key=$1 cert=$2 user=$3
	shift 3
	"$JIT_LIBSSH_LOGIN" -p "$SSHD_PORT" -l "$user" -i "$key" -c "$cert" \
		-k "$SSHD_DIR/host_ed25519.pub" "$@"
}

# ---- an operator's CA key, encrypted by ssh-keygen -N pass ----------------
mkdir -m 700 "$T/ca"
ssh-keygen -q -t ed25519 -N pass -C operator-ca -f "$T/ca/ca_key"
cat "$T/ca/ca_key.pub" >>"$T/trusted.pub"
ca_fp=$(ssh-keygen -lf "$T/ca/ca_key.pub" | awk '{print $2}')
sign() {  # CA_DIR OUT [options]: sign $T/user.pub for $U1
	local ca=$1 out=$2
	shift 2
	"$JIT_CA" sign --data "$ca" --key "$T/user.pub" --principal "$U1" \
		--duration 5m -o "$out" "$@"
}

run sign "$T/ca" "$T/user-cert.pub" --identity enc-ca --serial 1801 \
	--passphrase-file "$T/pass"
assert_rc 0 "sign with an encrypted CA and the right passphrase"
run ssh-keygen -L -f "$T/user-cert.pub"
assert_rc 0 "ssh-keygen -L reads the certificate"
assert_contains "$OUT" "Signing CA: ED25519 $ca_fp" \
	"the certificate is signed by the encrypted CA"

assert_one_line_error "a wrong passphrase fails with one line" \
	sign "$T/ca" "$T/bad-cert.pub" --passphrase-file "$T/wrong"
assert_eq "jit-ca sign: the CA key $T/ca/ca_key is encrypted and the passphrase is wrong" \
	"$ERR" "a wrong passphrase: the message"
assert_rc 1 "a wrong passphrase: exit status 1"
[ -e "$T/bad-cert.pub" ] && fail "no certificate after a wrong passphrase"

assert_one_line_error "no passphrase source: one line" \
	sign "$T/ca" "$T/bad-cert.pub" </dev/null
assert_contains "$ERR" "is encrypted: give its passphrase with --passphrase-file FILE or the systemd credential jit-ca-passphrase, or run on a terminal" \
	"no passphrase source: says how to give one"

mkdir -m 700 "$T/creds"
cp "$T/pass" "$T/creds/jit-ca-passphrase"
run env CREDENTIALS_DIRECTORY="$T/creds" "$JIT_CA" sign --data "$T/ca" \
	--key "$T/user.pub" --principal "$U1" --duration 5m </dev/null
assert_rc 0 "the systemd credential gives the passphrase"
assert_contains "$OUT" "ssh-ed25519-cert-v01@openssh.com" \
	"the credential: a certificate line"

chmod 644 "$T/wrong"
assert_one_line_error "a passphrase file others may read is refused" \
	sign "$T/ca" "$T/bad-cert.pub" --passphrase-file "$T/wrong"
assert_contains "$ERR" "mode 0644); chmod 600 it" "... and says so"
chmod 600 "$T/wrong"

# On a terminal: asked without echo.
run pty pass -- "$JIT_CA" sign --data "$T/ca" --key "$T/user.pub" \
	--principal "$U1" --duration 5m -o "$T/tty-cert.pub"
assert_rc 0 "the passphrase typed on the terminal"
assert_contains "$OUT" "Passphrase for the CA key $T/ca/ca_key: " \
	"the terminal prompt names the key"
assert_not_contains "$OUT" ": pass" "the typed passphrase is not echoed"
run ssh-keygen -L -f "$T/tty-cert.pub"
assert_rc 0 "the terminal: ssh-keygen -L reads the certificate"
run pty wrong -- "$JIT_CA" sign --data "$T/ca" --key "$T/user.pub" \
	--principal "$U1" --duration 5m -o "$T/bad-cert.pub"
assert_rc 1 "a wrong passphrase typed on the terminal fails"
assert_contains "$OUT" "the passphrase is wrong" "... saying so"

# ---- two SSH implementations accept the certificate ------------------------
start_sshd --ca "$T/trusted.pub" --allow-users "$U1 $U2" || exit 1
assert_login_ok "OpenSSH ssh logs in with the certificate" \
	"$T/user" "$T/user-cert.pub" "$U1"
sshd_log_mark
run libssh_login "$T/user" "$T/user-cert.pub" "$U1" id -un
assert_rc 0 "libssh logs in with the certificate"
assert_eq "$U1" "$OUT" "libssh: the command ran as $U1"
if sshd_log_grep 'Accepted certificate ID "enc-ca" \(serial 1801\) signed by ED25519 CA'; then
	ok "libssh: sshd accepted our certificate (key ID, serial)"
else
	fail "libssh: sshd accepted our certificate" "log: $(sshd_log_since)"
fi
# (A fingerprint may hold '+': compared as a fixed string.)
assert_contains "$(sshd_log_since)" "signed by ED25519 CA $ca_fp" \
	"libssh: sshd names the encrypted CA's fingerprint"
run libssh_login "$T/user" "$T/user-cert.pub" "$U1" sh -c "'echo out; echo err >&2; exit 3'"
assert_eq out "$OUT" "libssh: the command's stdout"
assert_eq err "$ERR" "libssh: the command's stderr"
assert_rc 3 "libssh: the command's exit status"

# Refusals come from sshd, not from the client.
run libssh_login "$T/user" "$T/user-cert.pub" "$U2" id -un
assert_rc 255 "libssh: refused for a principal the certificate lacks"
assert_contains "$ERR" "does not accept the certificate" "... saying so"
make_user_key ed25519 "$T/other"
run libssh_login "$T/other" "$T/user-cert.pub" "$U1" id -un
assert_rc 255 "libssh: refused with a key that is not the certificate's"
run "$JIT_LIBSSH_LOGIN" -p "$SSHD_PORT" -l "$U1" -i "$T/user" \
	-c "$T/user-cert.pub" -k "$T/user.pub" true
assert_rc 255 "libssh: a host key that is not the server's is refused"
assert_contains "$ERR" "host key is not the one in" "... saying so"

# ---- jit-ca init --encrypt ---------------------------------------------------
run "$JIT_CA" init --data "$T/new" --encrypt --passphrase-file "$T/pass"
assert_rc 0 "init --encrypt"
assert_file_mode 600 "$T/new/ca_key" "init --encrypt: the key is 0600"
assert_eq "$(cut -d' ' -f1-2 "$T/new/ca_key.pub")" "$(cut -d' ' -f1-2 <<<"$OUT")" \
	"init --encrypt prints the CA public key line"
run ssh-keygen -y -P pass -f "$T/new/ca_key"
assert_rc 0 "ssh-keygen -y -P pass reads the new key"
assert_eq "$(cut -d' ' -f1-2 "$T/new/ca_key.pub")" "$(cut -d' ' -f1-2 <<<"$OUT")" \
	"ssh-keygen derives the same public key"
run ssh-keygen -y -P '' -f "$T/new/ca_key"
assert_ne 0 "$RC" "ssh-keygen cannot read it without the passphrase"
run ssh-keygen -y -P wrong -f "$T/new/ca_key"
assert_ne 0 "$RC" "ssh-keygen cannot read it with a wrong passphrase"
run sign "$T/new" "$T/new-cert.pub" --passphrase-file "$T/pass"
assert_rc 0 "the new encrypted CA signs"
cat "$T/new/ca_key.pub" >>"$T/trusted.pub"
assert_login_ok "ssh: a certificate from the init --encrypt CA" \
	"$T/user" "$T/new-cert.pub" "$U1"
run libssh_login "$T/user" "$T/new-cert.pub" "$U1" id -un
assert_eq "$U1" "$OUT" "libssh: a certificate from the init --encrypt CA"

# ECDSA CA (written as encrypted PKCS#8), RSA user key: both clients.
run "$JIT_CA" init --data "$T/new-ec" --encrypt --key-type ecdsa-p384 \
	--passphrase-file "$T/pass"
assert_rc 0 "init --encrypt --key-type ecdsa-p384"
run ssh-keygen -y -P pass -f "$T/new-ec/ca_key"
assert_eq "$(cut -d' ' -f1-2 "$T/new-ec/ca_key.pub")" "$(cut -d' ' -f1-2 <<<"$OUT")" \
	"ssh-keygen reads the encrypted ECDSA CA key with the passphrase"
cat "$T/new-ec/ca_key.pub" >>"$T/trusted.pub"
make_user_key rsa-3072 "$T/rsa-user"
run "$JIT_CA" sign --data "$T/new-ec" --key "$T/rsa-user.pub" \
	--principal "$U1" --duration 5m -o "$T/rsa-cert.pub" \
	--passphrase-file "$T/pass"
assert_rc 0 "the encrypted ECDSA CA signs an RSA user key"
assert_login_ok "ssh: RSA user key, encrypted ECDSA CA" \
	"$T/rsa-user" "$T/rsa-cert.pub" "$U1"
run libssh_login "$T/rsa-user" "$T/rsa-cert.pub" "$U1" id -un
assert_eq "$U1" "$OUT" "libssh: RSA user key, encrypted ECDSA CA"

# From the terminal the passphrase is asked twice.
run pty secret1 secret1 -- "$JIT_CA" init --data "$T/new-tty" --encrypt
assert_rc 0 "init --encrypt on a terminal"
assert_contains "$OUT" "The same passphrase again: " "... asks twice"
run ssh-keygen -y -P secret1 -f "$T/new-tty/ca_key"
assert_rc 0 "... and ssh-keygen reads the key with that passphrase"
run pty secret1 secret2 -- "$JIT_CA" init --data "$T/new-tty2" --encrypt
assert_rc 1 "init --encrypt: two different answers fail"
assert_contains "$OUT" "the two passphrases differ" "... saying so"
[ -e "$T/new-tty2" ] && fail "... and leave no data directory behind"

assert_one_line_error "init --encrypt without a passphrase source" \
	"$JIT_CA" init --data "$T/new-none" --encrypt </dev/null
assert_contains "$ERR" "no passphrase for the new CA key" "... says so"
[ -e "$T/new-none" ] && fail "... and creates nothing"
run "$JIT_CA" init --data "$T/new-x" --passphrase-file "$T/pass"
assert_rc 2 "--passphrase-file without --encrypt is a usage error"

# An encrypted RSA key in OpenSSH's format: refused with the way out.
# (ssh-keygen -p wants at least five characters.)
mkdir -m 700 "$T/ca-rsa"
printf 'pass-rsa\n' >"$T/pass-rsa"
chmod 600 "$T/pass-rsa"
ssh-keygen -q -t rsa -b 3072 -N pass-rsa -f "$T/ca-rsa/ca_key"
assert_one_line_error "encrypted RSA key in OpenSSH format: one line" \
	sign "$T/ca-rsa" "$T/bad-cert.pub" --passphrase-file "$T/pass-rsa"
assert_contains "$ERR" "ssh-keygen -p -m PEM -f $T/ca-rsa/ca_key" \
	"... naming the conversion"
ssh-keygen -q -p -m PEM -P pass-rsa -N pass-rsa -f "$T/ca-rsa/ca_key" \
	>/dev/null
run sign "$T/ca-rsa" "$T/rsa-ca-cert.pub" --passphrase-file "$T/pass-rsa"
assert_rc 0 "the same RSA key as encrypted PEM signs"
cat "$T/ca-rsa/ca_key.pub" >>"$T/trusted.pub"
run libssh_login "$T/user" "$T/rsa-ca-cert.pub" "$U1" id -un
assert_eq "$U1" "$OUT" "libssh: a certificate from the encrypted RSA CA"

# ---- jit-ca serve -------------------------------------------------------
# The data directory holds an operator's encrypted CA key.
api_policy
mkdir -m 700 "$T/data"
ssh-keygen -q -t ed25519 -N 'correct horse battery' -C srv-ca \
	-f "$T/data/ca_key"
printf 'correct horse battery\n' >"$T/srv-pass"
chmod 600 "$T/srv-pass"
cat "$T/data/ca_key.pub" >>"$T/trusted.pub"
_API_EXTRA=
# Port 0: the refusals below come after the bind, which must not fail.
_api_server_conf 0
run timeout 60 "$JIT_CA" serve --config "$T/server.yaml" \
	--passphrase-file "$T/wrong" </dev/null
assert_eq "jit-ca serve: the CA key $T/data/ca_key is encrypted and the passphrase is wrong" \
	"$ERR" "serve refuses a wrong passphrase with one line"
assert_rc 1 "serve with a wrong passphrase exits 1"
run timeout 60 "$JIT_CA" serve --config "$T/server.yaml" </dev/null
assert_rc 1 "serve without a passphrase exits 1"
assert_contains "$ERR" "is encrypted: give its passphrase" "... saying how"

if serve_free_port "$T/serve.log" _api_server_conf "$JIT_CA" serve \
	--config "$T/server.yaml" --passphrase-file "$T/srv-pass" </dev/null; then
	ok "serve starts with --passphrase-file"
else
	fail "serve starts with --passphrase-file" "log: $(cat "$T/serve.log")"
	finish
fi
JURL=http://127.0.0.1:$SERVE_PORT
API_PID=$SERVE_PID
api "" GET /v1/ca
assert_contains "$RB" "$(cut -d' ' -f2 "$T/data/ca_key.pub")" \
	"GET /v1/ca serves the encrypted CA's public key"
api_tokens alice
new_request "$TOK_alice" auto "" "" "$T/user"
assert_eq 201 "$STATUS" "auto-approved request"
api "$TOK_alice" GET "/v1/requests/$RID/certificate"
assert_eq 200 "$STATUS" "the server issues the certificate"
printf '%s\n' "$RB" >"$T/srv-cert.pub"
run ssh-keygen -L -f "$T/srv-cert.pub"
assert_contains "$OUT" "Signing CA: ED25519 $(ssh-keygen -lf "$T/data/ca_key.pub" | awk '{print $2}')" \
	"signed by the server's decrypted CA key"
run libssh_login "$T/user" "$T/srv-cert.pub" "$U2" id -un
assert_rc 0 "libssh logs in with the server's certificate"
assert_eq forced "$OUT" "libssh: sshd ran the certificate's force-command"
assert_not_contains "$(cat "$T/serve.log")" "correct horse" \
	"the passphrase is not in the server log"
api_stop
assert_eq 0 "$API_RC" "the server stops cleanly"

# ---- the other commands that need the private key -------------------------
run "$JIT_CA" audit export --data "$T/data" -o "$T/audit.jsonl" \
	--passphrase-file "$T/srv-pass"
assert_rc 0 "audit export signs with the encrypted CA key"
run "$JIT_CA" audit verify "$T/audit.jsonl" --ca-key "$T/data/ca_key.pub"
assert_rc 0 "... and the export verifies against the CA's public key"
assert_one_line_error "audit export: a wrong passphrase" \
	"$JIT_CA" audit export --data "$T/data" -o "$T/audit2.jsonl" \
	--passphrase-file "$T/wrong"
assert_contains "$ERR" "the passphrase is wrong" "... saying so"
mv "$T/data/ca_key.pub" "$T/srv-ca.pub"
run "$JIT_CA" ca --data "$T/data" --passphrase-file "$T/srv-pass"
assert_eq "$(cut -d' ' -f1-2 "$T/srv-ca.pub")" "$(cut -d' ' -f1-2 <<<"$OUT")" \
	"jit-ca ca derives the line from the encrypted key without its .pub"
run "$JIT_CA" krl --data "$T/data" -o "$T/krl" --passphrase-file "$T/srv-pass"
assert_rc 0 "jit-ca krl with the encrypted key and no .pub"
run ssh-keygen -Q -f "$T/krl" "$T/srv-cert.pub"
assert_rc 0 "... writes a KRL ssh-keygen reads"

finish
