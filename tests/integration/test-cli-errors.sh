#!/bin/bash
# Every error path of jit-ca init/ca/sign prints exactly one line on stderr,
# nothing on stdout, exits non-zero (1 runtime, 2 usage) and changes
# nothing; --help prints usage on stdout and exits 0.
. "$(dirname "$0")/lib.sh"

need_env JIT_CA
need_cmd ssh-keygen sha256sum

J=$JIT_CA

# ---- dispatcher and --help --------------------------------------------
assert_one_line_error "unknown command" "$J" frobnicate
assert_rc 2 "unknown command exits 2"
for sub in init ca sign; do
	run "$J" "$sub" --help
	assert_rc 0 "jit-ca $sub --help exits 0"
	assert_contains "$OUT" "usage: jit-ca $sub" "jit-ca $sub --help prints usage on stdout"
	assert_eq "" "$ERR" "jit-ca $sub --help prints nothing on stderr"
	run "$J" "$sub" -h
	assert_rc 0 "jit-ca $sub -h exits 0"
	assert_one_line_error "$sub: unknown option" "$J" "$sub" --bogus
	assert_rc 2 "$sub: unknown option exits 2"
	assert_one_line_error "$sub: unknown short option" "$J" "$sub" -Q
	assert_one_line_error "$sub: empty --data" "$J" "$sub" --data ""
	assert_rc 2 "$sub: empty --data exits 2"
	assert_one_line_error "$sub: stray argument" "$J" "$sub" --data "$T/x" extra
	assert_contains "$ERR" "jit-ca $sub: " "$sub: message starts 'jit-ca $sub: '"
done
run "$J" --help
assert_rc 0 "jit-ca --help exits 0"
assert_one_line_error "init: --data without a value" "$J" init --data

# ---- the default data directory ------------------------------------------
# Without --data (or --config) every subcommand uses ./jit-data, as serve,
# token, audit and krl do.
mkdir "$T/cwd"
pushd "$T/cwd" >/dev/null
assert_one_line_error "ca without a CA in ./jit-data" "$J" ca --fingerprint
assert_rc 1 "ca without a CA exits 1"
assert_contains "$ERR" "./jit-data" "ca names the default ./jit-data"
assert_eq "" "$(ls -A)" "ca creates nothing"
run "$J" init
assert_rc 0 "init without --data"
assert_eq "$(cat jit-data/ca_key.pub)" "$OUT" "init made ./jit-data"
run "$J" ca --fingerprint
assert_rc 0 "ca --fingerprint without --data"
assert_eq "$(ssh-keygen -lf jit-data/ca_key.pub | awk '{print $2}')" "$OUT" \
	"ca --fingerprint reads ./jit-data"
ssh-keygen -q -t ed25519 -N '' -C dflt -f "$T/cwd/u"
run "$J" sign --key u.pub --principal alice --duration 5m
assert_rc 0 "sign without --data"
assert_contains "$OUT" "-cert-v01@openssh.com " "sign with ./jit-data prints a cert"
# --config takes the data directory from a server config.
printf 'data: %s\n' "$T/cwd/jit-data" >"$T/cwd.yaml"
run "$J" ca --config "$T/cwd.yaml"
assert_eq "$(cat jit-data/ca_key.pub)" "$OUT" "ca --config reads the config's data"
assert_one_line_error "init --config refuses an existing CA" \
	"$J" init --config "$T/cwd.yaml"
# -o - is standard output.
run "$J" sign --key u.pub --principal alice --duration 5m -o -
assert_rc 0 "sign -o -"
assert_contains "$OUT" "-cert-v01@openssh.com " "sign -o - prints the cert"
assert_eq "" "$(ls -A | grep -x -- - || true)" "sign -o - writes no file named -"
popd >/dev/null

# ---- init -----------------------------------------------------------------
run "$J" init --data "$T/ca"
assert_rc 0 "init"
assert_file_mode 700 "$T/ca" "data dir is 0700"
assert_file_mode 600 "$T/ca/ca_key" "CA key is 0600"
assert_file_mode 644 "$T/ca/ca_key.pub" "CA public key is 0644"
assert_eq "$(cat "$T/ca/ca_key.pub")" "$OUT" "init prints the CA public key line"
run ssh-keygen -y -f "$T/ca/ca_key"
assert_eq "$(awk '{print $1, $2}' "$T/ca/ca_key.pub")" \
	"$(awk '{print $1, $2}' <<<"$OUT")" \
	"ssh-keygen -y reads the CA key and derives the same public key"
run "$J" ca --data "$T/ca"
assert_eq "$(cat "$T/ca/ca_key.pub")" "$OUT" "jit-ca ca prints the same line"
run "$J" ca --data "$T/ca" --fingerprint
assert_eq "$(ssh-keygen -lf "$T/ca/ca_key.pub" | awk '{print $2}')" "$OUT" \
	"jit-ca ca --fingerprint matches ssh-keygen -l"

before=$(sha256sum "$T/ca/ca_key" "$T/ca/ca_key.pub")
assert_one_line_error "init twice refuses" "$J" init --data "$T/ca"
assert_rc 1 "init twice exits 1"
assert_eq "$before" "$(sha256sum "$T/ca/ca_key" "$T/ca/ca_key.pub")" \
	"init twice leaves the key unchanged"
assert_one_line_error "init twice with another key type refuses" \
	"$J" init --data "$T/ca" --key-type rsa
assert_eq "$before" "$(sha256sum "$T/ca/ca_key" "$T/ca/ca_key.pub")" \
	"... and the key is still unchanged"

# Only a public key left behind still counts as a CA.
mkdir "$T/halfca"
cp "$T/ca/ca_key.pub" "$T/halfca/"
assert_one_line_error "init refuses when ca_key.pub exists" "$J" init --data "$T/halfca"

# Into a location that cannot be written: nothing may be left behind.
# root ignores directory permissions, so drop to nobody for this one.
mkdir "$T/ro"
chmod 555 "$T/ro"
as_nobody=()
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	as_nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)
fi
if [ "$(id -u)" != 0 ] || [ ${#as_nobody[@]} -gt 0 ]; then
	assert_one_line_error "init into an unwritable directory fails" \
		"${as_nobody[@]}" "$J" init --data "$T/ro/ca"
	assert_eq "" "$(ls -A "$T/ro")" "failed init leaves nothing behind"
	# Writable dir, unwritable key location: the pre-existing dir stays,
	# no key files appear.
	mkdir -m 555 "$T/ro2"
	assert_one_line_error "init into an existing unwritable dir fails" \
		"${as_nobody[@]}" "$J" init --data "$T/ro2"
	assert_eq "" "$(ls -A "$T/ro2")" "... and leaves no key file behind"
fi
assert_one_line_error "init under a missing parent fails" \
	"$J" init --data "$T/nonexistent/sub/ca"
[ -e "$T/nonexistent" ] && fail "failed init leaves nothing behind (missing parent)" ||
	ok "failed init leaves nothing behind (missing parent)"
touch "$T/afile"
assert_one_line_error "init where a file is in the way" \
	"$J" init --data "$T/afile"
# mkdir succeeds but writing the key fails (file size limit 0, SIGXFSZ
# ignored so write() returns EFBIG): the new directory must be removed.
# stderr goes to a pipe, which the size limit does not affect.
init_fsz() {
	local err rc
	err=$( (trap '' XFSZ; ulimit -f 0; exec "$J" init --data "$1") \
		2>&1 >/dev/null)
	rc=$?
	if [ "$rc" != 0 ] && [ "$(printf '%s' "$err" | grep -c '')" = 1 ]; then
		ok "$2: $err"
	else
		fail "$2" "expected non-zero exit and one stderr line" \
			"got exit $rc, stderr: $err"
	fi
}
init_fsz "$T/fsz" "init failing after mkdir"
[ -e "$T/fsz" ] && fail "failed init removes the dir it created" \
	"left: $(ls -la "$T/fsz")" || ok "failed init removes the dir it created"
mkdir -m 700 "$T/fsz2"
init_fsz "$T/fsz2" "init into an existing dir failing on write"
assert_eq "" "$(ls -A "$T/fsz2")" "... keeps that dir, empty"
# /proc/self is never writable, even for root.
assert_one_line_error "init into /proc fails" "$J" init --data /proc/self/jit-ca-test
assert_one_line_error "init: unknown key type" "$J" init --data "$T/ca2" --key-type dsa
assert_rc 2 "unknown key type exits 2"
assert_one_line_error "init: --bits for ed25519" "$J" init --data "$T/ca2" --bits 4096
assert_one_line_error "init: RSA CA below 3072 bits" \
	"$J" init --data "$T/ca2" --key-type rsa --bits 2048
assert_one_line_error "init: non-numeric --bits" \
	"$J" init --data "$T/ca2" --key-type rsa --bits lots
[ -e "$T/ca2" ] && fail "usage errors create nothing" "found $T/ca2" ||
	ok "usage errors create nothing"

# ---- ca -------------------------------------------------------------------
assert_one_line_error "ca: no CA in dir" "$J" ca --data "$T/empty-does-not-exist"
assert_contains "$ERR" "no CA in" "ca: message says there is no CA"
assert_rc 1 "ca: missing CA exits 1"

# ---- sign -----------------------------------------------------------------
make_user_key ed25519 "$T/user"
S=("$J" sign --data "$T/ca")
ok_args=(--key "$T/user.pub" --principal alice --duration 1h)
assert_run_ok "sign baseline works" "${S[@]}" "${ok_args[@]}"

assert_one_line_error "sign: no CA" "$J" sign --data "$T/noca" "${ok_args[@]}"
assert_contains "$ERR" "no CA in" "sign: message says there is no CA"
assert_one_line_error "sign: missing --key" "${S[@]}" --principal alice --duration 1h
assert_one_line_error "sign: missing key file" "${S[@]}" --key "$T/nope.pub" \
	--principal alice --duration 1h
assert_rc 1 "sign: missing key file exits 1"
assert_contains "$ERR" "nope.pub" "sign: message names the key file"

if make_user_key dsa "$T/dsa" 2>/dev/null; then
	assert_one_line_error "sign: DSA key refused" "${S[@]}" --key "$T/dsa.pub" \
		--principal alice --duration 1h
	assert_contains "$ERR" "not supported" "sign: DSA message"
else
	fail "ssh-keygen -t dsa" "cannot make a DSA key to test with"
fi
make_user_key rsa-1024 "$T/rsa1024"
assert_one_line_error "sign: 1024-bit RSA refused" "${S[@]}" --key "$T/rsa1024.pub" \
	--principal alice --duration 1h
assert_contains "$ERR" "too small" "sign: short RSA message"
"${S[@]}" "${ok_args[@]}" >"$T/user-cert.pub"
assert_one_line_error "sign: certificate as key refused" "${S[@]}" \
	--key "$T/user-cert.pub" --principal alice --duration 1h
assert_contains "$ERR" "certificate" "sign: cert-as-key message"
printf 'this is not a key\n' >"$T/garbage.pub"
assert_one_line_error "sign: garbage key refused" "${S[@]}" --key "$T/garbage.pub" \
	--principal alice --duration 1h
printf 'ssh-ed25519 AAAA!!!notbase64\n' >"$T/garbage2.pub"
assert_one_line_error "sign: bad base64 refused" "${S[@]}" --key "$T/garbage2.pub" \
	--principal alice --duration 1h
: >"$T/empty.pub"
assert_one_line_error "sign: empty key file refused" "${S[@]}" --key "$T/empty.pub" \
	--principal alice --duration 1h
head -c 200000 /dev/zero >"$T/huge.pub"
assert_one_line_error "sign: huge key file refused" "${S[@]}" --key "$T/huge.pub" \
	--principal alice --duration 1h
assert_one_line_error "sign: key is a directory" "${S[@]}" --key "$T" \
	--principal alice --duration 1h

for d in 0 5x -1h "" 1h- h 0s 99999999999999999999d; do
	assert_one_line_error "sign: bad duration '$d'" "${S[@]}" --key "$T/user.pub" \
		--principal alice --duration "$d"
done
assert_one_line_error "sign: missing --duration" "${S[@]}" --key "$T/user.pub" \
	--principal alice
for sa in 10.9.9.0/33 10.9.9.1/24 'not-an-ip' '10.0.0.0/8,' ',10.0.0.0/8' \
	'10.0.0.0/8, 10.1.0.0/16' '::1/129' '10.0.0.0/' '10.0.0.0/x' '' \
	'300.1.1.1'; do
	assert_one_line_error "sign: bad source-address '$sa'" "${S[@]}" \
		"${ok_args[@]}" --source-address "$sa"
done
assert_run_ok "sign: IPv6 source-address accepted" "${S[@]}" "${ok_args[@]}" \
	--source-address 2001:db8::/32,::1
for z in 0 -1 abc 18446744073709551616 ''; do
	assert_one_line_error "sign: bad serial '$z'" "${S[@]}" "${ok_args[@]}" \
		--serial "$z"
done
assert_one_line_error "sign: no principal" "${S[@]}" --key "$T/user.pub" --duration 1h
assert_one_line_error "sign: empty principal" "${S[@]}" --key "$T/user.pub" \
	--principal "" --duration 1h
assert_one_line_error "sign: principal with a comma" "${S[@]}" --key "$T/user.pub" \
	--principal "a,b" --duration 1h
assert_one_line_error "sign: duplicate principal" "${S[@]}" "${ok_args[@]}" \
	--principal alice
assert_one_line_error "sign: unknown extension" "${S[@]}" "${ok_args[@]}" \
	--extension permit-everything
assert_one_line_error "sign: duplicate extension" "${S[@]}" "${ok_args[@]}" \
	--extension permit-pty --extension permit-pty
assert_one_line_error "sign: --extension with --no-extensions" "${S[@]}" \
	"${ok_args[@]}" --extension permit-pty --no-extensions
assert_one_line_error "sign: empty force-command" "${S[@]}" "${ok_args[@]}" \
	--force-command ""
assert_one_line_error "sign: bad --valid-from" "${S[@]}" "${ok_args[@]}" \
	--valid-from yesterday
assert_one_line_error "sign: empty identity" "${S[@]}" "${ok_args[@]}" \
	--identity ""
assert_one_line_error "sign: -o into a missing directory" "${S[@]}" \
	"${ok_args[@]}" -o "$T/no/such/dir/cert"
assert_rc 1 "sign: unwritable output exits 1"

# A CA key that is not a key.
mkdir -m 700 "$T/badca"
echo garbage >"$T/badca/ca_key"
assert_one_line_error "sign: corrupt CA key" "$J" sign --data "$T/badca" "${ok_args[@]}"
assert_rc 1 "sign: corrupt CA key exits 1"

# The client: --help exits 0 everywhere; usage errors are one line, exit 2.
if [ -n "${JIT_SSH:-}" ]; then
	export HOME=$T/client-home
	mkdir -p "$HOME"
	run "$JIT_SSH" --help
	assert_rc 0 "jit-ssh --help exits 0"
	for sub in login setup status list approve deny cancel revoke logout ca \
		whoami; do
		run "$JIT_SSH" "$sub" --help
		assert_rc 0 "jit-ssh $sub --help exits 0"
	done
	assert_one_line_error "jit-ssh: unknown command" "$JIT_SSH" bogus
	assert_one_line_error "jit-ssh: unknown option" "$JIT_SSH" status --bogus
	assert_rc 2 "jit-ssh: unknown option exits 2"
	assert_one_line_error "jit-ssh: option without its value" \
		"$JIT_SSH" login ops --for
	assert_rc 2 "jit-ssh: option without its value exits 2"
	assert_contains "$ERR" "--for needs a value" \
		"jit-ssh: a missing value is named as such, not as an unknown option"
	assert_one_line_error "jit-ssh: bad duration" "$JIT_SSH" login ops --for zz
fi

finish
