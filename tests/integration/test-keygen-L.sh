#!/bin/bash
# ssh-keygen -L reads back exactly what `jit-ca sign` was asked for, for
# every CA key type x user key type: type, subject key, signing CA and its
# algorithm, key ID, serial, validity window, principals, critical options
# and extensions.  ssh-keygen also checks the CA signature while parsing.
. "$(dirname "$0")/lib.sh"

need_env JIT_CA
need_cmd ssh-keygen
export TZ=UTC   # -L prints local time

CA_TYPES="ed25519 ecdsa-p256 ecdsa-p384 ecdsa-p521 rsa"
USER_TYPES="ed25519 ecdsa-256 ecdsa-384 ecdsa-521 rsa-2048 rsa-3072"

# Items (first word of each line) of a section of `ssh-keygen -L` output,
# one per line.  Sections are "Principals", "Critical Options",
# "Extensions"; "(none)" yields nothing.
section() {
	awk -v want="$2" '
		/^        [A-Z]/ { sub(/^ +/, ""); insec = (index($0, want ":") == 1); next }
		insec && /^                [^ ]/ { print $1 }
	' <<<"$1"
}

# Whole value of an option line in a section ("force-command echo hi").
option_value() {
	awk -v name="$2" '$1 == name { sub(/^ *[^ ]+ /, ""); print; exit }' <<<"$1"
}

# Single-line field after "Name: ".
field() {
	sed -n "s/^        $2: //p" <<<"$1"
}

# Keys of each user type, shared by all CAs.
for ut in $USER_TYPES; do
	make_user_key "$ut" "$T/user-$ut" || fail "ssh-keygen $ut"
done

declare -A CA_LABEL=([ed25519]=ED25519 [ecdsa-p256]=ECDSA [ecdsa-p384]=ECDSA
	[ecdsa-p521]=ECDSA [rsa]=RSA)
declare -A CA_ALG=([ed25519]=ssh-ed25519 [ecdsa-p256]=ecdsa-sha2-nistp256
	[ecdsa-p384]=ecdsa-sha2-nistp384 [ecdsa-p521]=ecdsa-sha2-nistp521
	[rsa]=rsa-sha2-512)
declare -A CERT_TYPE=([ed25519]=ssh-ed25519-cert-v01@openssh.com
	[ecdsa-256]=ecdsa-sha2-nistp256-cert-v01@openssh.com
	[ecdsa-384]=ecdsa-sha2-nistp384-cert-v01@openssh.com
	[ecdsa-521]=ecdsa-sha2-nistp521-cert-v01@openssh.com
	[rsa-2048]=ssh-rsa-cert-v01@openssh.com
	[rsa-3072]=ssh-rsa-cert-v01@openssh.com)
declare -A KEY_LABEL=([ed25519]=ED25519-CERT [ecdsa-256]=ECDSA-CERT
	[ecdsa-384]=ECDSA-CERT [ecdsa-521]=ECDSA-CERT [rsa-2048]=RSA-CERT
	[rsa-3072]=RSA-CERT)

n=0
for ct in $CA_TYPES; do
	run "$JIT_CA" init --data "$T/ca-$ct" --key-type "$ct"
	if [ "$RC" != 0 ]; then
		fail "jit-ca init --key-type $ct" "stderr: $ERR"
		continue
	fi
	ca_fp=$(ssh-keygen -lf "$T/ca-$ct/ca_key.pub" | awk '{print $2}')
	for ut in $USER_TYPES; do
		n=$((n + 1))
		what="$ut by $ct"
		user_fp=$(ssh-keygen -lf "$T/user-$ut.pub" | awk '{print $2}')

		# 1. Defaults: permit-pty only, no critical options, window
		#    now-60 s .. now+duration, random serial, id = principal.
		before=$(date +%s)
		run "$JIT_CA" sign --data "$T/ca-$ct" --key "$T/user-$ut.pub" \
			--principal alice --duration 2h \
			-o "$T/c-$n-a.cert"
		after=$(date +%s)
		assert_rc 0 "$what: sign with defaults"
		run ssh-keygen -L -f "$T/c-$n-a.cert"
		assert_rc 0 "$what: ssh-keygen -L parses and verifies it"
		L=$OUT
		assert_eq "${CERT_TYPE[$ut]} user certificate" \
			"$(field "$L" Type)" "$what: type"
		assert_eq "${KEY_LABEL[$ut]} $user_fp" \
			"$(field "$L" 'Public key')" "$what: subject key"
		assert_eq "${CA_LABEL[$ct]} $ca_fp (using ${CA_ALG[$ct]})" \
			"$(field "$L" 'Signing CA')" "$what: signing CA"
		assert_eq '"alice"' "$(field "$L" 'Key ID')" \
			"$what: key ID defaults to the principal"
		serial=$(field "$L" Serial)
		assert_match "$serial" '^[1-9][0-9]*$' "$what: random serial"
		if [ "${serial:-0}" -gt 0 ] 2>/dev/null &&
			[ "$serial" -le 9223372036854775807 ] 2>/dev/null; then
			ok "$what: serial is 63-bit ($serial)"
		else
			fail "$what: serial is 63-bit" "got $serial"
		fi
		valid=$(field "$L" Valid)
		from=$(date -d "$(awk '{print $2}' <<<"$valid")Z" +%s 2>/dev/null)
		to=$(date -d "$(awk '{print $4}' <<<"$valid")Z" +%s 2>/dev/null)
		if [ -n "$from" ] && [ -n "$to" ] &&
			[ "$from" -ge $((before - 60)) ] &&
			[ "$from" -le $((after - 60)) ] &&
			[ "$((to - from))" = $((7200 + 60)) ]; then
			ok "$what: valid from now-60s for 2h"
		else
			fail "$what: valid from now-60s for 2h" \
				"signed between $before and $after" "got: $valid"
		fi
		assert_eq "alice" "$(section "$L" Principals)" \
			"$what: principals"
		assert_eq "" "$(section "$L" 'Critical Options')" \
			"$what: no critical options"
		assert_eq "permit-pty" "$(section "$L" Extensions)" \
			"$what: only permit-pty by default"

		# 2. Everything given: exact window, options, extensions.
		run "$JIT_CA" sign --data "$T/ca-$ct" --key "$T/user-$ut.pub" \
			--principal alice --principal postgres --principal deploy \
			--duration 90m --valid-from 2030-01-31T08:00:00Z \
			--identity "alice req=r-$n role=prod-db" \
			--serial 18446744073709551615 \
			--force-command "/usr/bin/psql -c 'select 1'" \
			--source-address 10.0.0.0/8,192.168.1.7,2001:db8::/32 \
			--extension permit-port-forwarding \
			--extension permit-X11-forwarding,custom@example.com \
			--extension permit-pty \
			-o "$T/c-$n-b.cert"
		assert_rc 0 "$what: sign with every option"
		run ssh-keygen -L -f "$T/c-$n-b.cert"
		assert_rc 0 "$what: ssh-keygen -L parses the full cert"
		L=$OUT
		assert_eq "${CA_LABEL[$ct]} $ca_fp (using ${CA_ALG[$ct]})" \
			"$(field "$L" 'Signing CA')" "$what: signing CA (full)"
		assert_eq "\"alice req=r-$n role=prod-db\"" \
			"$(field "$L" 'Key ID')" "$what: key ID"
		assert_eq 18446744073709551615 "$(field "$L" Serial)" \
			"$what: serial 2^64-1"
		assert_eq "from 2030-01-31T08:00:00 to 2030-01-31T09:30:00" \
			"$(field "$L" Valid)" "$what: exact window"
		assert_eq "$(printf 'alice\npostgres\ndeploy')" \
			"$(section "$L" Principals)" "$what: principals in order"
		assert_eq "$(printf 'force-command\nsource-address')" \
			"$(section "$L" 'Critical Options')" \
			"$what: critical options"
		assert_eq "/usr/bin/psql -c 'select 1'" \
			"$(option_value "$L" force-command)" \
			"$what: force-command value"
		assert_eq "10.0.0.0/8,192.168.1.7,2001:db8::/32" \
			"$(option_value "$L" source-address)" \
			"$what: source-address value"
		# Exactly the requested set, sorted byte-wise on the wire.
		assert_eq "$(printf 'custom@example.com\npermit-X11-forwarding\npermit-port-forwarding\npermit-pty')" \
			"$(section "$L" Extensions)" "$what: exactly the extensions asked for"

		# 3. --no-extensions.
		run "$JIT_CA" sign --data "$T/ca-$ct" --key "$T/user-$ut.pub" \
			--principal bob --duration 1m --no-extensions --serial 1 \
			-o "$T/c-$n-c.cert"
		run ssh-keygen -L -f "$T/c-$n-c.cert"
		assert_eq "" "$(section "$OUT" Extensions)" \
			"$what: --no-extensions gives none"
		assert_contains "$OUT" "Extensions: (none)" \
			"$what: -L says (none)"
	done
done

# The certificate line keeps the user key's comment, like ssh-keygen -s.
comment=$(awk '{print $3}' "$T/c-1-a.cert")
assert_eq "test-ed25519" "$comment" "cert line keeps the key comment"

finish
