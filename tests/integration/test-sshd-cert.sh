#!/bin/bash
# A real sshd accepts exactly the certificates `jit-ca sign` means it to:
# right principal, inside the window, from an allowed source address,
# signed by a trusted CA; force-command and extensions are enforced; the
# sshd log names our key ID and serial.  Ed25519 CA in depth, then the
# accept path with ECDSA and RSA CAs.
. "$(dirname "$0")/lib.sh"

need_env JIT_CA
need_sshd
need_root
ensure_test_users
U1=$JIT_USER1
U2=$JIT_USER2

run "$JIT_CA" init --data "$T/ca"
assert_rc 0 "jit-ca init (ed25519 CA)"
cp "$T/ca/ca_key.pub" "$T/trusted.pub"
start_sshd --ca "$T/trusted.pub" --allow-users "$U1 $U2" || exit 1

make_user_key ed25519 "$T/user"

# sign CA_DIR OUT [jit-ca sign options...] with the ed25519 user key.
sign() {
	local ca=$1 out=$2
	shift 2
	"$JIT_CA" sign --data "$ca" --key "$T/user.pub" "$@" >"$out"
}

# Short-lived certificate first so its expiry overlaps the other checks.
sign "$T/ca" "$T/short.cert" --principal "$U1" --duration 3s
short_end=$(($(date +%s) + 3))
assert_login_ok "3 s certificate accepted while valid" \
	"$T/user" "$T/short.cert" "$U1"

# Accepted for the right principal; the log names key ID and serial.
sign "$T/ca" "$T/ok.cert" --principal "$U1" --duration 5m \
	--identity "alice req=r-42 role=test" --serial 4242
sshd_log_mark
assert_login_ok "accepted for the right principal" "$T/user" "$T/ok.cert" "$U1"
if sshd_log_grep 'Accepted certificate ID "alice req=r-42 role=test" \(serial 4242\) signed by ED25519 CA SHA256:'; then
	ok "sshd log names key ID and serial"
else
	fail "sshd log names key ID and serial" "log: $(sshd_log_since)"
fi
ca_fp=$(ssh-keygen -lf "$T/ca/ca_key.pub" | awk '{print $2}')
assert_contains "$(sshd_log_since)" "signed by ED25519 CA $ca_fp" \
	"sshd log names our CA fingerprint"

# Default identity is the first principal, default serial random non-zero.
sign "$T/ca" "$T/defid.cert" --principal "$U1" --duration 5m
sshd_log_mark
assert_login_ok "default identity and serial accepted" \
	"$T/user" "$T/defid.cert" "$U1"
if sshd_log_grep "Accepted certificate ID \"$U1\" \\(serial [1-9][0-9]*\\)"; then
	ok "default key ID is the first principal, serial non-zero"
else
	fail "default key ID is the first principal, serial non-zero" \
		"log: $(sshd_log_since)"
fi

# Refused for a principal it does not name.
sshd_log_mark
assert_login_refused "refused for a wrong principal" \
	"$T/user" "$T/ok.cert" "$U2"
sshd_log_grep 'not a listed principal' ||
	fail "sshd says why (wrong principal)" "log: $(sshd_log_since)"

# Several principals: each may log in.
sign "$T/ca" "$T/two.cert" --principal "$U1" --principal "$U2" --duration 5m
assert_login_ok "two principals: first" "$T/user" "$T/two.cert" "$U1"
assert_login_ok "two principals: second" "$T/user" "$T/two.cert" "$U2"

# Not yet valid.
sign "$T/ca" "$T/future.cert" --principal "$U1" --duration 1h \
	--valid-from +1h
sshd_log_mark
assert_login_refused "refused before valid_after" \
	"$T/user" "$T/future.cert" "$U1"
sshd_log_grep 'not yet valid' ||
	fail "sshd says why (not yet valid)" "log: $(sshd_log_since)"

# An explicit window that has already ended.
past=$(($(date +%s) - 7200))
sign "$T/ca" "$T/past.cert" --principal "$U1" --duration 1h \
	--valid-from "$past"
assert_login_refused "refused for a window in the past" \
	"$T/user" "$T/past.cert" "$U1"

# source-address
sign "$T/ca" "$T/src-bad.cert" --principal "$U1" --duration 5m \
	--source-address 10.9.9.0/24
sshd_log_mark
assert_login_refused "refused from outside source-address 10.9.9.0/24" \
	"$T/user" "$T/src-bad.cert" "$U1"
sshd_log_grep 'not from a permitted source address' ||
	fail "sshd says why (source address)" "log: $(sshd_log_since)"
sign "$T/ca" "$T/src-ok.cert" --principal "$U1" --duration 5m \
	--source-address 127.0.0.1/32
assert_login_ok "accepted from source-address 127.0.0.1/32" \
	"$T/user" "$T/src-ok.cert" "$U1"
sign "$T/ca" "$T/src-list.cert" --principal "$U1" --duration 5m \
	--source-address 10.9.9.0/24,::1/128,127.0.0.0/8
assert_login_ok "accepted from a source-address list with 127.0.0.0/8" \
	"$T/user" "$T/src-list.cert" "$U1"

# Another CA, not trusted by this sshd.
run "$JIT_CA" init --data "$T/ca-other"
sign "$T/ca-other" "$T/other.cert" --principal "$U1" --duration 5m
assert_login_refused "refused when signed by an untrusted CA" \
	"$T/user" "$T/other.cert" "$U1"

# A certificate for a different key than the one presented.
make_user_key ed25519 "$T/user2"
assert_login_refused "refused when the cert is for another key" \
	"$T/user2" "$T/ok.cert" "$U1"

# force-command replaces whatever the client asks for.
sign "$T/ca" "$T/forced.cert" --principal "$U1" --duration 5m \
	--force-command "echo forced"
got=$(ssh_try "$T/user" "$T/forced.cert" "$U1" echo not-forced)
assert_eq "forced" "$got" "force-command overrides the client's command"

# Extensions: permit-pty by default, none with --no-extensions.
SSH_TRY_OPTS=(-tt)
got=$(ssh_try "$T/user" "$T/ok.cert" "$U1" tty | tr -d '\r')
assert_match "$got" '^/dev/pts/' "default extensions allow a pty"
sign "$T/ca" "$T/noext.cert" --principal "$U1" --duration 5m --no-extensions
got=$(ssh_try "$T/user" "$T/noext.cert" "$U1" tty | tr -d '\r')
assert_not_contains "$got" /dev/pts "--no-extensions: no pty"
assert_contains "$(cat "$T/ssh.stderr")" "PTY allocation request failed" \
	"--no-extensions: sshd refuses the pty request"
SSH_TRY_OPTS=()

# Remote forwarding is refused without permit-port-forwarding (with
# ExitOnForwardFailure ssh gives up before the command ends).
SSH_TRY_OPTS=(-o ExitOnForwardFailure=yes -R 0:127.0.0.1:9)
run ssh_try "$T/user" "$T/ok.cert" "$U1" sleep 3
assert_ne 0 "$RC" "default extensions: port forwarding refused"
sign "$T/ca" "$T/fwd.cert" --principal "$U1" --duration 5m \
	--extension permit-port-forwarding
run ssh_try "$T/user" "$T/fwd.cert" "$U1" sleep 0.5
assert_rc 0 "--extension permit-port-forwarding allows forwarding"
SSH_TRY_OPTS=()

# The 3 s certificate has expired by now (wait out the rest if needed).
while [ "$(date +%s)" -le "$short_end" ]; do sleep 0.2; done
sshd_log_mark
assert_login_refused "refused after valid_before" \
	"$T/user" "$T/short.cert" "$U1"
sshd_log_grep 'expired' ||
	fail "sshd says why (expired)" "log: $(sshd_log_since)"

# ECDSA and RSA CAs: accept path, with several user key types.
for spec in ecdsa-p256:ecdsa-256:ECDSA ecdsa-p384:rsa-2048:ECDSA \
	ecdsa-p521:ed25519:ECDSA rsa:ecdsa-384:RSA; do
	IFS=: read -r catype ukey label <<<"$spec"
	run "$JIT_CA" init --data "$T/ca-$catype" --key-type "$catype"
	if [ "$RC" != 0 ]; then
		fail "jit-ca init --key-type $catype" "stderr: $ERR"
		continue
	fi
	cat "$T/ca-$catype/ca_key.pub" >>"$T/trusted.pub"
	make_user_key "$ukey" "$T/u-$ukey"
	run "$JIT_CA" sign --data "$T/ca-$catype" --key "$T/u-$ukey.pub" \
		--principal "$U1" --duration 5m --identity "id-$catype" \
		--serial 77 -o "$T/u-$ukey-by-$catype.cert"
	assert_rc 0 "sign $ukey key with $catype CA"
	sshd_log_mark
	assert_login_ok "$catype CA, $ukey user key: accepted" \
		"$T/u-$ukey" "$T/u-$ukey-by-$catype.cert" "$U1"
	if sshd_log_grep "Accepted certificate ID \"id-$catype\" \\(serial 77\\) signed by $label CA"; then
		ok "$catype CA: sshd log names key ID, serial and CA type"
	else
		fail "$catype CA: sshd log names key ID, serial and CA type" \
			"log: $(sshd_log_since)"
	fi
done

finish
