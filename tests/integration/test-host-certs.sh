#!/bin/bash
# Host certificates end to end: a real sshd on loopback presents a host
# certificate that jit-ssh-host-sync --enroll obtained from the server,
# and ssh with nothing but the host CA's @cert-authority line in
# known_hosts and StrictHostKeyChecking=yes connects without a prompt;
# the same sshd without its certificate is refused; an enrollment token
# works once; renewals (explicit, then when a third of the validity is
# left) keep the host reachable after the first certificates expired; a
# revoked host certificate is refused by ssh with RevokedHostKeys set to
# the KRL from /v1/krl, and the host can no longer renew; enrollment,
# renewals and the revocation are in the audit log, which verifies.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/api-lib.sh"

need_env JIT_CA
need_root
need_sshd
need_cmd curl jq ssh-keygen
SYNC=${JIT_HOST_SYNC:-${JIT_BUILD_ROOT:-}/contrib/jit-ssh-host-sync}
[ -x "$SYNC" ] || skip "$SYNC missing"
ensure_test_users

VALIDITY=24
API_CLOCK_SKEW=0
api_start "host_domains: [example.com]
host_cert_validity: ${VALIDITY}s" || exit 1
CONF=$T/server.yaml
same() {   # same FILE1 FILE2 MSG: the files are byte-identical
	if cmp -s "$1" "$2"; then ok "$3"; else fail "$3"; fi
}

# ---- jit-ca init makes both CAs; --host adds one -------------------------------
run "$JIT_CA" init --data "$T/ca2"
assert_rc 0 "jit-ca init"
assert_eq "$(cat "$T/ca2/ca_key.pub")" "$OUT" "init prints the CA line"
assert_file_mode 600 "$T/ca2/host_ca_key" "and makes the host CA, 0600"
assert_file_mode 644 "$T/ca2/host_ca_key.pub" "with its public key, 0644"
run "$JIT_CA" ca --data "$T/ca2" --host
assert_eq "@cert-authority * $(cat "$T/ca2/host_ca_key.pub")" "$OUT" \
	"without host_domains the pattern is *"
assert_one_line_error "init --host refuses a second host CA" \
	"$JIT_CA" init --data "$T/ca2" --host
rm "$T/ca2/host_ca_key" "$T/ca2/host_ca_key.pub"
run "$JIT_CA" ca --data "$T/ca2" --host
assert_contains "$ERR" "jit-ca init --host" "no host CA: ca --host says how to make one"
run "$JIT_CA" init --data "$T/ca2" --host
assert_rc 0 "init --host adds a host CA to a data directory without one"
assert_eq "$(cat "$T/ca2/host_ca_key.pub")" "$OUT" "... and prints its line"

# ---- the host CA line ---------------------------------------------------------
line=$(curl -sf "$JURL/v1/ca/host")
assert_match "$line" '^@cert-authority \*\.example\.com ssh-ed25519 [A-Za-z0-9+/=]+ jit-ssh-host-ca$' \
	"GET /v1/ca/host is an @cert-authority line for *.example.com"
run "$JIT_CA" ca --config "$CONF" --host
assert_eq "$line" "$OUT" "jit-ca ca --host prints the same line"
run "$JIT_CA" ca --config "$CONF" --host --fingerprint
assert_eq "$(ssh-keygen -lf "$T/data/host_ca_key.pub" | awk '{print $2}')" \
	"$OUT" "jit-ca ca --host --fingerprint"
assert_ne "$(cat "$T/data/ca_key.pub")" "$(cat "$T/data/host_ca_key.pub")" \
	"the host CA is not the user CA"
printf '%s\n' "$line" >"$T/known_hosts"
cp "$T/known_hosts" "$T/known_hosts.orig"

# jit-ssh setup puts the same line into ~/.ssh/known_hosts, once, and
# keeps the lines already there.
if [ -n "${JIT_SSH:-}" ] && [ -x "$JIT_SSH" ]; then
	H=$T/home
	mkdir -p "$H/.ssh"
	echo "other.example.org ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOtherHostKeyLineKeptAsItWas0000000000" \
		>"$H/.ssh/known_hosts"
	run env HOME="$H" "$JIT_SSH" setup "$JURL" --yes </dev/null
	assert_rc 0 "jit-ssh setup"
	assert_contains "$OUT" "Trusting the host CA" "... says it trusts the host CA"
	assert_contains "$ERR" "Host CA key fingerprint: $(ssh-keygen -lf \
		"$T/data/host_ca_key.pub" | awk '{print $2}') (for *.example.com)" \
		"... and shows its fingerprint"
	run env HOME="$H" "$JIT_SSH" setup "$JURL" --yes </dev/null
	assert_eq "other.example.org ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOtherHostKeyLineKeptAsItWas0000000000
$line" "$(cat "$H/.ssh/known_hosts")" \
		"known_hosts: the other line kept, the host CA line once"
	cp "$H/.ssh/known_hosts" "$T/known_hosts.setup"
else
	cp "$T/known_hosts" "$T/known_hosts.setup"
fi

# A user certificate to log in with (trusted by sshd through the user CA).
make_user_key ed25519 "$T/user"
run "$JIT_CA" sign --data "$T/data" --key "$T/user.pub" \
	--principal "$JIT_USER1" --duration 30m -o "$T/user-cert.pub"
assert_rc 0 "a user certificate"

# ---- enrollment ------------------------------------------------------------------
mkdir -p "$T/sshd"
ssh-keygen -q -t ed25519 -N '' -C jit-test-host -f "$T/sshd/host_ed25519"
HOSTKEY=$T/sshd/host_ed25519.pub
CERT=$T/sshd/host_ed25519-cert.pub
SNIPPET=$T/sshd/jit-ssh.conf
: >"$T/empty.conf"
sync_host() {   # sync_host [ARGS...]: the script for this host
	run "$SYNC" --config "$T/empty.conf" --url "$JURL" \
		--ca-file "$T/sshd/jit_ca.pub" --krl-file "$T/sshd/jit.krl" \
		--host-key "$HOSTKEY" --sshd-config "$SNIPPET" "$@"
}

run "$JIT_CA" host token create --config "$CONF" \
	--principal web1.example.com --principal 127.0.0.1 --ttl 10m
assert_rc 0 "jit-ca host token create"
TOKEN=$OUT
assert_match "$TOKEN" '^jith_[A-Za-z0-9_-]{43}$' "the token is printed once on stdout"
assert_contains "$ERR" "usable once" "and stderr says it works once"
assert_eq "" "$(grep -r -- "${TOKEN#jith_}" "$T/data" 2>/dev/null)" \
	"the token is not stored in the data directory"

sync_host --enroll "$TOKEN" --reload-command none
assert_rc 0 "jit-ssh-host-sync --enroll"
assert_contains "$OUT" "enrolled as h-1" "it says which host it is"
assert_file_mode 644 "$CERT" "the certificate is next to the key, 0644"
run ssh-keygen -L -f "$CERT"
assert_contains "$OUT" "host certificate" "ssh-keygen -L: a host certificate"
# Serials are shared with user certificates (jit-ca sign took one).
S1=$(sed -n 's/^ *Serial: //p' <<<"$OUT")
assert_match "$S1" '^[1-9][0-9]*$' "it has a serial"
assert_eq "web1.example.com 127.0.0.1" \
	"$(sed -n '/Principals:/,/Critical/p' <<<"$OUT" | sed '1d;$d' | xargs)" \
	"exactly the token's principals"
assert_contains "$(cat "$SNIPPET")" "HostCertificate $CERT" \
	"the sshd snippet names the certificate"
assert_eq "" "$(find "$T/sshd" -name '.*' -type f)" "no temporary file left"

cp "$CERT" "$T/cert.1"
sync_host --enroll "$TOKEN" --reload-command none
assert_rc 1 "the token works only once"
assert_contains "$ERR" "unknown, used or expired" "and says so"
same "$CERT" "$T/cert.1" "the certificate is unchanged"
assert_eq 1 "$(grep -c HostCertificate "$SNIPPET")" \
	"the HostCertificate line is there once"

# ---- ssh trusts the host through the CA alone -----------------------------------
start_sshd --ca "$T/data/ca_key.pub" --option "Include $SNIPPET" || exit 1

# ssh with only the @cert-authority line in known_hosts: HT_RC, HT_OUT,
# HT_ERR and HT_SERIAL (the served host certificate's serial).
host_try() {
	local alias=$1
	shift
	# Extra options first: ssh keeps the first value of each.
	ssh -v -F /dev/null "$@" -n -i "$T/user" \
		-o "CertificateFile=$T/user-cert.pub" \
		-o IdentitiesOnly=yes -o IdentityAgent=none \
		-o "UserKnownHostsFile=$T/known_hosts" \
		-o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes \
		-o UpdateHostKeys=no -o "HostKeyAlias=$alias" -o BatchMode=yes \
		-o ConnectTimeout=5 -o PreferredAuthentications=publickey \
		-p "$SSHD_PORT" "$JIT_USER1@127.0.0.1" id -un \
		>"$T/ht.out" 2>"$T/ht.err"
	HT_RC=$?
	HT_OUT=$(cat "$T/ht.out")
	HT_ERR=$(grep -v '^debug' "$T/ht.err")
	HT_SERIAL=$(sed -n 's/.*Server host certificate: .*serial \([0-9]*\).*/\1/p' "$T/ht.err")
}
reachable() {   # reachable MSG SERIAL
	host_try web1.example.com
	if [ "$HT_RC" = 0 ] && [ "$HT_OUT" = "$JIT_USER1" ] &&
		[ "$HT_SERIAL" = "$2" ]; then
		ok "$1"
	else
		fail "$1" "ssh exit $HT_RC, output '$HT_OUT', served serial" \
			"'$HT_SERIAL' (want $2)" "ssh: $HT_ERR"
	fi
}

reachable "ssh connects with only the @cert-authority line and StrictHostKeyChecking=yes" "$S1"
assert_not_contains "$HT_ERR" "authenticity" "no trust-on-first-use prompt"
host_try web1.example.com -o "UserKnownHostsFile=$T/known_hosts.setup"
assert_eq "0 $JIT_USER1" "$HT_RC $HT_OUT" \
	"... and so with the known_hosts jit-ssh setup wrote"
assert_not_contains "$HT_ERR" "Permanently added" "nothing learnt"
same "$T/known_hosts" "$T/known_hosts.orig" "known_hosts unchanged"
host_try www.other.org
assert_eq 255 "$HT_RC" "a name outside *.example.com: the CA is not trusted for it"
host_try web2.example.com
assert_eq 255 "$HT_RC" "a name the certificate does not list is refused"
assert_contains "$HT_ERR" "Host key verification failed" "... by host key verification"

# The same sshd without its certificate: the bare host key is unknown.
stop_sshd
start_sshd --ca "$T/data/ca_key.pub" || exit 1
host_try web1.example.com
assert_eq 255 "$HT_RC" "the same sshd with an uncertified host key is refused"
assert_contains "$HT_ERR" "Host key verification failed" "... by host key verification"
assert_eq "" "$HT_OUT" "... before any command ran"
stop_sshd
start_sshd --ca "$T/data/ca_key.pub" --option "Include $SNIPPET" || exit 1
RELOAD="kill -HUP $SSHD_PID"

# ---- renewal ------------------------------------------------------------------------
cert_to() {   # the certificate's end, epoch seconds
	date -d "$(ssh-keygen -L -f "$CERT" | sed -n 's/.* to \(.*\)$/\1/p')" +%s
}
cert_serial() {
	ssh-keygen -L -f "$CERT" | sed -n 's/^ *Serial: //p'
}
exp1=$(cert_to)
sync_host --reload-command "$RELOAD"
assert_rc 0 "a sync while the certificate is fresh"
assert_contains "$OUT" "host certificate $CERT is current" "... keeps it"
same "$CERT" "$T/cert.1" "... unchanged"

sync_host --renew --reload-command "$RELOAD"
assert_rc 0 "jit-ssh-host-sync --renew"
S2=$(cert_serial)
assert_contains "$OUT" "renewed: installed host certificate (serial $S2," \
	"renewed"
assert_eq 1 "$((S2 > S1))" "... with a new serial ($S1 -> $S2)"
wait_port "$SSHD_PORT" 10
reachable "sshd reloaded serves the renewed certificate" "$S2"
exp2=$(cert_to)

# A later sync renews by itself once less than a third is left.
wait_for "[ \$(( (exp2 - \$(date +%s)) * 3 )) -lt $VALIDITY ]" $((VALIDITY + 5)) ||
	fail "waiting until a third of the validity is left"
sync_host --reload-command "$RELOAD"
assert_rc 0 "a sync with less than a third left"
S3=$(cert_serial)
assert_contains "$OUT" "renewed: installed host certificate (serial $S3," \
	"... renews by itself"
wait_port "$SSHD_PORT" 10
wait_for "[ \$(date +%s) -gt $exp2 ]" $((VALIDITY + 5))
if [ "$(date +%s)" -gt "$exp2" ] && [ "$exp2" -gt "$exp1" ]; then
	ok "the first two certificates have expired"
else
	fail "the first two certificates have expired"
fi
assert_eq 1 "$((S3 > S2))" "... with a new serial ($S2 -> $S3)"
reachable "renewals kept the host reachable" "$S3"

# ---- revocation ------------------------------------------------------------------
run "$JIT_CA" host list --config "$CONF"
assert_match "$OUT" "^h-1 +web1\\.example\\.com,127\\.0\\.0\\.1 +SHA256:[^ ]+ +$S3 " \
	"jit-ca host list shows the host and its current serial"
run "$JIT_CA" host revoke h-1 --config "$CONF"
assert_rc 0 "jit-ca host revoke h-1"
assert_contains "$ERR" "certificates in the KRL" "... says what goes into the KRL"
run "$JIT_CA" host revoke h-1 --config "$CONF"
assert_rc 1 "revoking twice fails"
curl -sf -o "$T/krl" "$JURL/v1/krl"
run ssh-keygen -Q -f "$T/krl" "$CERT"
assert_contains "$OUT" "REVOKED" "ssh-keygen -Q: the host certificate is revoked"
run ssh-keygen -Q -f "$T/krl" "$T/user-cert.pub"
assert_rc 0 "... and a user certificate is not"
host_try web1.example.com
assert_eq 0 "$HT_RC" "without RevokedHostKeys ssh still connects"
host_try web1.example.com -o "RevokedHostKeys=$T/krl"
assert_eq 255 "$HT_RC" "ssh with RevokedHostKeys (the KRL from /v1/krl) refuses the host"
assert_contains "$HT_ERR" "revoked" "... saying the key is revoked"
"$JIT_CA" krl --config "$CONF" -o "$T/krl.offline" 2>/dev/null
same "$T/krl" "$T/krl.offline" "jit-ca krl writes the same KRL"

cp "$CERT" "$T/cert.3"
sync_host --renew --reload-command "$RELOAD"
assert_rc 1 "a revoked host cannot renew"
assert_contains "$ERR" "revoked" "... and is told so"
same "$CERT" "$T/cert.3" "... its certificate stays"
sync_host --reload-command "$RELOAD"
assert_rc 0 "the CA key and KRL sync still works (the KRL's host section included)"
same "$T/sshd/jit.krl" "$T/krl" "... and the installed KRL is the server's"

# ---- audit ---------------------------------------------------------------------------
run "$JIT_CA" audit export --config "$CONF" -o "$T/audit.jsonl"
assert_rc 0 "audit export"
events=$(jq -r 'select(.event // "" | startswith("host.")) | .event' \
	"$T/audit.jsonl" 2>/dev/null | tr '\n' ' ')
assert_eq "host.token.create host.enroll host.renew host.renew host.revoke " \
	"$events" "enrollment, renewals and revocation are audited, in order"
assert_eq "host:h-1" "$(jq -r 'select(.event == "host.renew") | .actor' \
	"$T/audit.jsonl" | head -n 1)" "renewals are the host's own"
run "$JIT_CA" audit verify "$T/audit.jsonl" --data "$T/data"
assert_rc 0 "jit-ca audit verify passes"

api_stop
finish
