#!/bin/bash
# jit-ssh-guard with a real sshd on loopback (ExposeAuthInfo yes,
# ForceCommand jit-ssh-guard --ca jit_ca.pub): a session opened with a
# jit-ssh certificate of a few seconds is closed when it expires (the
# remote command stops, ssh returns), with a warning first; a command that
# finishes earlier is unaffected (output, exit status); background
# processes left behind are ended at expiry too; a pty session is closed
# as well.  Sessions with a certificate of another trusted CA or with a
# plain key run unaffected.  A session with a certificate is refused when
# the guard cannot read its CA file.
. "$(dirname "$0")/lib.sh"

need_env JIT_CA
need_sshd
need_root
need_cmd pgrep
GUARD_SRC=${JIT_SSH_GUARD:-${JIT_BUILD_ROOT:-}/contrib/jit-ssh-guard}
[ -x "$GUARD_SRC" ] || skip "jit-ssh-guard not built ($GUARD_SRC)"
ensure_test_users
U1=$JIT_USER1
U2=$JIT_USER2

# The guard and the CA files must be reachable by the test users.
mkdir -p "$T/bin"
cp "$GUARD_SRC" "$T/bin/jit-ssh-guard"
chmod 755 "$T/bin" "$T/bin/jit-ssh-guard"
GUARD=$T/bin/jit-ssh-guard

"$JIT_CA" init --data "$T/ca" >"$T/jit_ca.pub" 2>/dev/null ||
	{ fail "jit-ca init"; finish; }
chmod 644 "$T/jit_ca.pub"
ssh-keygen -q -t ed25519 -N '' -C other-ca -f "$T/other_ca"
cat "$T/jit_ca.pub" "$T/other_ca.pub" >"$T/trusted.pub"
make_user_key ed25519 "$T/u"
cp "$T/u.pub" "$T/u_plain.pub"

# jit_cert DURATION: sign $T/u.pub for U1 with the jit CA; sets CERT_END
# (its valid_before, epoch seconds).
jit_cert() {
	local now
	now=$(date +%s)
	"$JIT_CA" sign --data "$T/ca" --key "$T/u.pub" --principal "$U1" \
		--duration "$1" --identity "guard-test" >"$T/u-cert.pub" ||
		{ fail "jit-ca sign $1"; return 1; }
	CERT_END=$((now + ${1%s}))
}
other_cert() {
	ssh-keygen -q -s "$T/other_ca" -I other -n "$U1" -V "$1" \
		-f "$T/o" "$T/o.pub" 2>/dev/null
}
make_user_key ed25519 "$T/o"

# A plain key for U2 only (lib.sh sets AuthorizedKeysFile none globally).
install -d -m 755 "$T/ak"
install -m 644 "$T/u_plain.pub" "$T/ak/$U2"

start_sshd --ca "$T/trusted.pub" --allow-users "$U1 $U2" \
	--option "ExposeAuthInfo yes" \
	--option "ForceCommand $GUARD --ca $T/jit_ca.pub --warn 2s" \
	--option "Match User $U2" \
	--option "AuthorizedKeysFile $T/ak/%u" || exit 1

ms() { date +%s%3N; }
# quick_ms: how long a session may take and still count as returning at
# once: three times a plain-key session measured just now (never under
# 3 s), so a busy machine does not turn "at once" into a failure.
quick_ms() {
	local a b
	a=$(ms)
	ssh_try "$T/u" "" "$U2" true >/dev/null 2>&1
	b=$(ms)
	QUICK_MS=$((3 * (b - a)))
	[ "$QUICK_MS" -ge 3000 ] || QUICK_MS=3000
}

# --- a command that outlives the certificate ------------------------------
jit_cert 5s || finish
t0=$(ms)
run ssh_try "$T/u" "$T/u-cert.pub" "$U1" "sleep 30; echo not-killed"
t1=$(ms)
end_ms=$((CERT_END * 1000))
stderr=$(cat "$T/ssh.stderr")
assert_eq "" "$OUT" "sleep 30 did not finish"
assert_eq 124 "$RC" "ssh returns the guard's status 124"
if [ "$t1" -le $((end_ms + 2000)) ] && [ "$t1" -ge $((end_ms - 1000)) ]; then
	ok "the session ends at valid_before ($((t1 - end_ms))ms after it, started $(( (end_ms - t0) / 1000 ))s before)"
else
	fail "the session ends at valid_before" "ended $((t1 - end_ms)) ms after valid_before"
fi
assert_contains "$stderr" "access ends at" "a warning came first (--warn 2s)"
assert_contains "$stderr" "certificate expired" "and a closing message"
if wait_for "! pgrep -u '$U1' -x sleep >/dev/null" 15; then
	ok "no remote sleep is left"
else
	fail "no remote sleep is left" "$(pgrep -a -u "$U1")"
fi

# --- a command that finishes first is unaffected --------------------------
jit_cert 3600s || finish
quick_ms
t0=$(ms)
run ssh_try "$T/u" "$T/u-cert.pub" "$U1" "echo hi"
t1=$(ms)
assert_eq "0 hi" "$RC $OUT" "echo hi returns at once with its output"
if [ $((t1 - t0)) -lt "$QUICK_MS" ]; then ok "in $((t1 - t0)) ms"; else
	fail "echo hi took $((t1 - t0)) ms (a plain session: $((QUICK_MS / 3)) ms)"
fi
assert_eq "" "$(cat "$T/ssh.stderr")" "no warning for a long certificate"
run ssh_try "$T/u" "$T/u-cert.pub" "$U1" "echo out; echo err >&2; exit 7"
assert_eq "7 out" "$RC $OUT" "exit status and stdout pass through"
assert_eq "err" "$(cat "$T/ssh.stderr")" "stderr passes through"
# shellcheck disable=SC2016  # expanded remotely
run ssh_try "$T/u" "$T/u-cert.pub" "$U1" 'printf "%s|" "$0" "$SSH_ORIGINAL_COMMAND"'
assert_contains "$OUT" 'printf' "the command runs through the user's shell"

# --- leftovers are ended at expiry ----------------------------------------
quick_ms
jit_cert 5s || finish
t0=$(ms)
run ssh_try "$T/u" "$T/u-cert.pub" "$U1" \
	"sleep 31 </dev/null >/dev/null 2>&1 & echo started"
t1=$(ms)
assert_eq "0 started" "$RC $OUT" "a command leaving a background job returns at once"
if [ $((t1 - t0)) -lt "$QUICK_MS" ]; then ok "in $((t1 - t0)) ms"; else
	fail "returning took $((t1 - t0)) ms (a plain session: $((QUICK_MS / 3)) ms)"
fi
if pgrep -u "$U1" -f "sleep 31" >/dev/null; then
	ok "the background job runs while the certificate is valid"
else
	fail "the background job runs while the certificate is valid"
fi
sleep $(( CERT_END - $(date +%s) + 2 ))
if wait_for "! pgrep -u '$U1' -f 'sleep 31' >/dev/null" 15; then
	ok "the background job is ended at expiry"
else
	fail "the background job is ended at expiry" "$(pgrep -a -u "$U1")"
	pkill -u "$U1" -f "sleep 31"
fi

# --- a pty session ---------------------------------------------------------
jit_cert 4s || finish
SSH_TRY_OPTS=(-tt)
t0=$(ms)
run ssh_try "$T/u" "$T/u-cert.pub" "$U1" "sleep 30"
t1=$(ms)
SSH_TRY_OPTS=()
if [ "$t1" -le $((CERT_END * 1000 + 2000)) ]; then
	ok "a pty session is closed at expiry too ($((t1 - CERT_END * 1000)) ms after)"
else
	fail "a pty session is closed at expiry" "ended $((t1 - CERT_END * 1000)) ms after valid_before"
fi
assert_contains "$OUT" "access ended" "the pty shows the closing message"

# --- sessions that are not ours ---------------------------------------------
other_cert +6s
t0=$(ms)
run ssh_try "$T/o" "$T/o-cert.pub" "$U1" "sleep 8; echo survived"
assert_eq "0 survived" "$RC $OUT" \
	"a certificate of another CA is not ended at its valid_before"
assert_eq "" "$(cat "$T/ssh.stderr")" "and gets no warning"
# shellcheck disable=SC2016  # expanded remotely
run ssh_try "$T/u" "" "$U2" 'echo plain; echo "$SSH_ORIGINAL_COMMAND"'
assert_eq "0 plain" "$RC $(echo "$OUT" | head -n1)" "a plain-key session runs unaffected"

# --- the CA file cannot be read ---------------------------------------------
stop_sshd
start_sshd --ca "$T/trusted.pub" --allow-users "$U1 $U2" \
	--option "ExposeAuthInfo yes" \
	--option "ForceCommand $GUARD --ca $T/missing.pub" \
	--option "Match User $U2" \
	--option "AuthorizedKeysFile $T/ak/%u" || exit 1
jit_cert 3600s || finish
run ssh_try "$T/u" "$T/u-cert.pub" "$U1" "echo should-not-run"
assert_eq "1 " "$RC $OUT" "a cert session is refused when the CA file is unreadable"
assert_contains "$(cat "$T/ssh.stderr")" "cannot read the CA key file" "and says why"
run ssh_try "$T/u" "" "$U2" "echo plain"
assert_eq "0 plain" "$RC $OUT" "a plain-key session still runs"

# --- --require: jit-only accounts fail closed -----------------------------
stop_sshd
start_sshd --ca "$T/trusted.pub" --allow-users "$U1 $U2" \
	--option "ExposeAuthInfo yes" \
	--option "ForceCommand $GUARD --ca $T/jit_ca.pub --require" \
	--option "Match User $U2" \
	--option "AuthorizedKeysFile $T/ak/%u" || exit 1
jit_cert 60s
run ssh_try "$T/u" "$T/u-cert.pub" "$U1" "echo live"
assert_eq "0 live" "$RC $OUT" "--require: a live jit certificate opens the session"
run ssh_try "$T/u" "" "$U2" "echo plain"
assert_eq "1 " "$RC $OUT" "--require: a plain-key session is refused"
assert_contains "$(cat "$T/ssh.stderr")" "not opened with a jit-ssh certificate" "and says why"
run env -u SSH_USER_AUTH SSH_ORIGINAL_COMMAND="echo direct" "$GUARD" --require
assert_eq "1 " "$RC $OUT" "--require: no SSH_USER_AUTH refuses instead of running unguarded"

# --- options -----------------------------------------------------------------
run "$GUARD" --help
assert_rc 0 "--help"
run "$GUARD" --warn soon
assert_rc 2 "a bad --warn is a usage error"
run env -u SSH_USER_AUTH SSH_ORIGINAL_COMMAND="echo direct" "$GUARD"
assert_eq "0 direct" "$RC $OUT" "without SSH_USER_AUTH the command just runs"
run env SSH_USER_AUTH="$T/no-such-auth-file" SSH_ORIGINAL_COMMAND="echo ran" \
	"$GUARD" --ca "$T/jit_ca.pub"
assert_eq "1 " "$RC $OUT" "an SSH_USER_AUTH file that cannot be read refuses the session"
printf 'publickey %s\n' "$(cat "$T/u-cert.pub")" >"$T/auth-info"
if [ ! -e /etc/ssh/jit_ca.pub ]; then
	# An old JIT_SSH_GUARD_CA naming another CA would run this unguarded.
	run env JIT_SSH_GUARD_CA="$T/other_ca.pub" \
		SSH_USER_AUTH="$T/auth-info" SSH_ORIGINAL_COMMAND="echo ran" \
		"$GUARD"
	assert_eq "1 " "$RC $OUT" "the CA file is never taken from the environment"
	assert_contains "$ERR" "/etc/ssh/jit_ca.pub" "but from --ca or the default"
fi

finish
