# shellcheck shell=bash
# tests/integration/lib.sh - shared harness for integration tests that drive
# the real jit-ca / jit-ssh binaries against a real sshd, ssh and ssh-keygen.
#
# Use:   . "$(dirname "$0")/lib.sh"      (bash only; sets -u and pipefail)
#
# Sourcing creates a private temp dir $T and installs an EXIT/INT/TERM trap
# that kills every process started through this library (sshd, jit_bg) and
# removes $T.  Set JIT_KEEP_TMP=1 to keep $T for debugging.  On failure the
# tail of each sshd log is printed.
#
# Environment (set by tests/integration/meson.build):
#   JIT_CA    path of the built jit-ca      JIT_SSH   path of the built jit-ssh
#   (tests call need_env JIT_CA etc.; a missing binary is a SKIP)
#
# Test accounts: tests that log in through sshd need local accounts named
# after the certificate principals.  ensure_user creates them if missing
# (useradd -m -s /bin/sh, then shadow field '*': with `UsePAM no` sshd
# refuses a '!' locked account before trying any key).  This needs root,
# which CI has; without root such tests SKIP.  The standard accounts are
# $JIT_USER1 (jittest1) and $JIT_USER2 (jittest2); they are left in place.
#
# Exit status: 0 all assertions passed, 1 some failed, 77 skipped (meson
# counts 77 as SKIP).
#
# ---- Functions -----------------------------------------------------------
#
# Setup and skipping
#   skip MSG                  print "SKIP: MSG" and exit 77
#   need_root                 skip unless running as root
#   need_cmd CMD...           skip unless each command is on PATH
#   need_env VAR...           skip unless each $VAR names an executable file
#   need_sshd                 skip unless /usr/sbin/sshd, ssh, ssh-keygen exist
#   ensure_user NAME          create local test account NAME (see above)
#   ensure_test_users         ensure_user $JIT_USER1 and $JIT_USER2
#   tmpfs_data SIZE           mount a tmpfs of SIZE (mount's size=, e.g. 2m)
#                             on $T/data, unmounted before the cleanup
#                             removes $T; skip when it cannot be mounted
#                             (needs root)
#
# Processes (all killed by the cleanup trap)
#   jit_bg LOGFILE CMD [ARG...]  run CMD in the background, stdout+stderr to
#                             LOGFILE; sets JIT_BG_PID
#   jit_kill PID              TERM (then KILL after 3 s) one tracked process
#   free_port                 print an unused loopback TCP port
#   wait_port PORT [SECS]     wait until 127.0.0.1:PORT accepts connections
#                             (default 10 s); returns 1 on timeout
#   wait_for CMD [SECS]       retry CMD every 0.1 s until it succeeds
#   serve_free_port LOG WRITE_FN CMD [ARG...]
#       Start a server on a free loopback port, robust against another
#       process taking the port between free_port and bind: up to 3 times,
#       pick a port, call WRITE_FN PORT (writes the config CMD reads; ":"
#       when none), replace @PORT@ in the ARGs, jit_bg CMD (output to LOG)
#       and wait up to 20 s until LOG says "listening on" or CMD exits; on
#       "Address already in use" try another port.  Sets SERVE_PID and
#       SERVE_PORT; returns 1 (LOG on stderr) when it did not start.
#       With SERVE_PORT_FIRST set the first try takes that port (a
#       restarted server keeps its address while it is free).
#
# sshd
#   start_sshd --ca FILE [--krl FILE] [--allow-users "U1 U2"] [--root]
#              [--option "Keyword value"]...
#       Start /usr/sbin/sshd -D -e on a free 127.0.0.1 port with its own
#       host key and config in $T/sshd/ (never touches /etc/ssh).  --ca sets
#       TrustedUserCAKeys (the file is re-read on every login, so tests may
#       rewrite it), --krl sets RevokedKeys, --root permits root logins
#       (PermitRootLogin prohibit-password; otherwise no), --allow-users
#       sets AllowUsers, --option appends any sshd_config line.  Waits until
#       sshd listens.  Sets SSHD_PORT, SSHD_PID, SSHD_LOG, SSHD_CONFIG,
#       SSHD_DIR.  One sshd per test at a time; call stop_sshd to restart
#       with other options.
#   stop_sshd                 stop the running sshd
#   sshd_log_mark             remember the current end of $SSHD_LOG
#   sshd_log_since            print the log written since the last mark
#   sshd_log_grep PATTERN [SECS]  wait (default 3 s) until the log since
#                             the mark matches grep -E PATTERN; 0/1
#
# ssh
#   ssh_try KEY CERT USER [CMD...]
#       Log in to the test sshd as USER with private key KEY and certificate
#       CERT (CERT may be "" for a plain key), using only those (no agent,
#       no ~/.ssh/config, BatchMode, ConnectTimeout=5) and run CMD (default
#       "true").  Remote stdout goes to stdout, ssh's stderr to
#       $T/ssh.stderr; returns ssh's exit status (255 = refused).  Extra
#       ssh options may be put in the array SSH_TRY_OPTS, e.g.
#       SSH_TRY_OPTS=(-tt) to request a pty; reset it with SSH_TRY_OPTS=().
#   ssh_login USER OPTION... -- [CMD...]
#       What ssh_try and client-lib.sh's logins share: ssh to the test sshd
#       as USER with OPTION... (how to authenticate) and the options every
#       test login takes (no ~/.ssh/config or known hosts, public keys
#       only, BatchMode, ConnectTimeout=5, SSH_TRY_OPTS), the same
#       outputs and status.
#   make_user_key TYPE FILE   ssh-keygen a key without passphrase; TYPE is
#                             ed25519, ecdsa-256|384|521, rsa-2048|3072|...,
#                             dsa (if ssh-keygen still can) ; writes FILE
#                             and FILE.pub
#
# Running commands and assertions (each prints "ok N - MSG" or
# "not ok N - MSG" plus expected/actual on failure, and counts)
#   run CMD [ARG...]          run CMD, capturing $OUT (stdout), $ERR
#                             (stderr) and $RC (exit status); never fails
#   ok MSG / fail MSG [DETAIL...]   record a pass / a failure
#   assert_eq EXPECTED ACTUAL MSG
#   assert_ne UNEXPECTED ACTUAL MSG
#   assert_contains HAYSTACK NEEDLE MSG      (fixed string)
#   assert_not_contains HAYSTACK NEEDLE MSG
#   assert_match HAYSTACK REGEX MSG          (grep -E)
#   assert_rc EXPECTED MSG    compare $RC of the last `run`
#   assert_run_ok MSG CMD...  run CMD, expect exit 0
#   assert_run_fails MSG CMD...  run CMD, expect non-zero exit
#   assert_one_line_error MSG CMD...  run CMD, expect non-zero exit, empty
#                             stdout and exactly one line on stderr
#   assert_file_mode MODE PATH MSG           (octal, e.g. 600)
#   assert_login_ok MSG KEY CERT USER        ssh_try + `id -un` == USER
#   assert_login_refused MSG KEY CERT USER   ssh_try must fail
#   finish                    print the summary and exit 0 or 1
#
# Variables: T (temp dir), JIT_USER1, JIT_USER2, PASS, FAILS, OUT, ERR, RC.

set -u
set -o pipefail

JIT_USER1=${JIT_USER1:-jittest1}
JIT_USER2=${JIT_USER2:-jittest2}
PASS=0
FAILS=0
_JIT_N=0
_JIT_PIDS=()
SSHD_PID=
SSHD_PORT=
SSHD_LOG=
SSHD_CONFIG=
SSHD_DIR=
_SSHD_MARK=0
SSH_TRY_OPTS=()
OUT=
ERR=
RC=0

T=$(mktemp -d "${TMPDIR:-/tmp}/jit-test.XXXXXX") || {
	echo "cannot create temp dir" >&2
	exit 1
}
# sshd runs the session as the test user; let it reach files under $T
# (keys stay 0600 themselves).
chmod 755 "$T"

_jit_cleanup() {
	local rc=$? pid
	trap - EXIT INT TERM
	for pid in "${_JIT_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${_JIT_PIDS[@]}"; do
		_jit_reap "$pid"
	done
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
		local f
		for f in "$T"/sshd*/sshd.log; do
			[ -f "$f" ] || continue
			echo "---- tail of $f ----"
			tail -n 30 "$f"
		done
	fi
	if [ "${JIT_KEEP_TMP:-0}" = 1 ]; then
		echo "# kept $T"
	else
		rm -rf "$T"
	fi
	exit "$rc"
}
trap _jit_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Wait up to 3 s for pid to exit after a TERM, then KILL it.
_jit_reap() {
	local pid=$1 i
	for i in $(seq 30); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

skip() {
	echo "SKIP: $*"
	exit 77
}

need_root() {
	[ "$(id -u)" = 0 ] || skip "needs root (creates test accounts, runs sshd)"
}

need_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || skip "$c not installed"
	done
}

need_env() {
	local v
	for v in "$@"; do
		[ -n "${!v:-}" ] && [ -x "${!v}" ] ||
			skip "\$$v does not name an executable (${!v:-unset})"
	done
}

need_sshd() {
	[ -x /usr/sbin/sshd ] || skip "sshd missing (/usr/sbin/sshd)"
	need_cmd ssh ssh-keygen
}

ensure_user() {
	local name=$1
	# Parallel tests may create the same account: serialise.
	(
		flock 9
		if ! getent passwd "$name" >/dev/null; then
			useradd -m -s /bin/sh "$name" >/dev/null 2>&1 ||
				{ echo "useradd $name failed" >&2; exit 1; }
		fi
		usermod -p '*' "$name" >/dev/null 2>&1 ||
			{ echo "usermod $name failed" >&2; exit 1; }
	) 9>/run/jit-test-users.lock || skip "cannot create test account $name"
}

ensure_test_users() {
	ensure_user "$JIT_USER1"
	ensure_user "$JIT_USER2"
}

tmpfs_data() {
	mkdir -p "$T/data"
	mount -t tmpfs -o "size=$1,mode=0700" tmpfs "$T/data" 2>/dev/null ||
		skip "cannot mount a tmpfs here"
	# Detach the mount before the cleanup removes $T (a server may still
	# hold files in it until the cleanup kills it).
	trap '_rc=$?; umount -l "$T/data" 2>/dev/null; (exit $_rc)
		_jit_cleanup' EXIT
}

jit_bg() {
	local log=$1
	shift
	"$@" >"$log" 2>&1 &
	JIT_BG_PID=$!
	_JIT_PIDS+=("$JIT_BG_PID")
}

jit_kill() {
	local pid=$1 p keep=()
	kill -TERM "$pid" 2>/dev/null
	_jit_reap "$pid"
	for p in "${_JIT_PIDS[@]}"; do
		[ "$p" = "$pid" ] || keep+=("$p")
	done
	_JIT_PIDS=("${keep[@]}")
}

_port_in_use() {
	ss -Htln "sport = :$1" 2>/dev/null | grep -q .
}

free_port() {
	local p i
	for i in $(seq 200); do
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
		_port_in_use "$p" || { echo "$p"; return 0; }
	done
	echo "no free port found" >&2
	return 1
}

wait_for() {
	local cmd=$1 secs=${2:-10} _
	for _ in $(seq $((secs * 10))); do
		eval "$cmd" && return 0
		sleep 0.1
	done
	return 1
}

serve_free_port() {
	local log=$1 writefn=$2 attempt a args first=${SERVE_PORT_FIRST:-}
	shift 2
	for attempt in 1 2 3; do
		if [ -n "$first" ]; then
			SERVE_PORT=$first
			first=
		else
			SERVE_PORT=$(free_port) || return 1
		fi
		"$writefn" "$SERVE_PORT" || return 1
		args=()
		for a in "$@"; do args+=("${a//@PORT@/$SERVE_PORT}"); done
		jit_bg "$log" "${args[@]}"
		SERVE_PID=$JIT_BG_PID
		if wait_for "grep -q 'listening on' '$log' || ! kill -0 $SERVE_PID 2>/dev/null" 20 &&
			kill -0 "$SERVE_PID" 2>/dev/null; then
			return 0
		fi
		grep -q 'Address already in use' "$log" || break
		jit_kill "$SERVE_PID"
	done
	cat "$log" >&2
	return 1
}

wait_port() {
	wait_for "(exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null" "${2:-10}"
}

start_sshd() {
	local ca='' krl='' users='' root=no opts=() attempt
	while [ $# -gt 0 ]; do
		case $1 in
		--ca) ca=$2; shift 2 ;;
		--krl) krl=$2; shift 2 ;;
		--allow-users) users=$2; shift 2 ;;
		--root) root=prohibit-password; shift ;;
		--option) opts+=("$2"); shift 2 ;;
		*) echo "start_sshd: unknown option $1" >&2; return 2 ;;
		esac
	done
	[ -n "$ca" ] || { echo "start_sshd: --ca FILE is required" >&2; return 2; }
	case $ca in /*) ;; *) ca=$PWD/$ca ;; esac
	if [ -n "$krl" ]; then
		case $krl in /*) ;; *) krl=$PWD/$krl ;; esac
	fi
	[ -n "$SSHD_PID" ] && stop_sshd
	mkdir -p /run/sshd && chmod 755 /run/sshd   # privilege separation dir
	SSHD_DIR=$T/sshd
	mkdir -p "$SSHD_DIR"
	[ -f "$SSHD_DIR/host_ed25519" ] ||
		ssh-keygen -q -t ed25519 -N '' -C jit-test-host \
			-f "$SSHD_DIR/host_ed25519" || return 1
	SSHD_CONFIG=$SSHD_DIR/sshd_config
	SSHD_LOG=$SSHD_DIR/sshd.log
	# A port can be taken between free_port and bind: retry a few times.
	for attempt in 1 2 3 4 5; do
		: "start attempt $attempt"
		SSHD_PORT=$(free_port) || return 1
		{
			echo "Port $SSHD_PORT"
			echo "ListenAddress 127.0.0.1"
			echo "HostKey $SSHD_DIR/host_ed25519"
			echo "PidFile $SSHD_DIR/sshd.pid"
			echo "TrustedUserCAKeys $ca"
			[ -n "$krl" ] && echo "RevokedKeys $krl"
			echo "AuthorizedKeysFile none"
			echo "AuthorizedPrincipalsFile none"
			echo "PubkeyAuthentication yes"
			echo "PasswordAuthentication no"
			echo "KbdInteractiveAuthentication no"
			echo "HostbasedAuthentication no"
			echo "UsePAM no"
			echo "StrictModes no"
			echo "LogLevel VERBOSE"
			echo "PermitRootLogin $root"
			echo "MaxStartups 100"
			echo "MaxAuthTries 6"
			echo "X11Forwarding no"
			echo "PrintMotd no"
			echo "PrintLastLog no"
			echo "UseDNS no"
			echo "Subsystem sftp internal-sftp"
			[ -n "$users" ] && echo "AllowUsers $users"
			local o
			for o in "${opts[@]}"; do echo "$o"; done
		} >"$SSHD_CONFIG"
		/usr/sbin/sshd -t -f "$SSHD_CONFIG" 2>"$SSHD_DIR/config-test.log" || {
			echo "start_sshd: sshd rejects the config:" >&2
			cat "$SSHD_DIR/config-test.log" >&2
			return 1
		}
		: >"$SSHD_LOG"
		/usr/sbin/sshd -D -e -f "$SSHD_CONFIG" 2>>"$SSHD_LOG" </dev/null &
		SSHD_PID=$!
		_JIT_PIDS+=("$SSHD_PID")
		if wait_for "grep -q 'Server listening on 127.0.0.1 port $SSHD_PORT' '$SSHD_LOG' || ! kill -0 $SSHD_PID 2>/dev/null" 10 &&
			kill -0 "$SSHD_PID" 2>/dev/null && wait_port "$SSHD_PORT" 5; then
			_SSHD_MARK=$(stat -c %s "$SSHD_LOG")
			return 0
		fi
		jit_kill "$SSHD_PID"
		SSHD_PID=
		grep -q 'Address already in use' "$SSHD_LOG" || break
	done
	echo "start_sshd: sshd did not start; log:" >&2
	cat "$SSHD_LOG" >&2
	return 1
}

stop_sshd() {
	[ -n "$SSHD_PID" ] && jit_kill "$SSHD_PID"
	SSHD_PID=
}

sshd_log_mark() {
	_SSHD_MARK=$(stat -c %s "$SSHD_LOG" 2>/dev/null || echo 0)
}

sshd_log_since() {
	tail -c +"$((_SSHD_MARK + 1))" "$SSHD_LOG" 2>/dev/null
}

sshd_log_grep() {
	# shellcheck disable=SC2034  # pat is read by the eval in wait_for
	local pat=$1 secs=${2:-3}
	wait_for "sshd_log_since | grep -qE -- \"\$pat\"" "$secs"
}

ssh_login() {
	local user=$1 opts=()
	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		opts+=("$1")
		shift
	done
	[ $# -gt 0 ] && shift
	[ $# -gt 0 ] || set -- true
	ssh -F /dev/null -n "${opts[@]}" "${SSH_TRY_OPTS[@]}" \
		-o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no \
		-o GlobalKnownHostsFile=/dev/null \
		-o BatchMode=yes -o ConnectTimeout=5 \
		-o PreferredAuthentications=publickey -o LogLevel=ERROR \
		-p "$SSHD_PORT" "$user@127.0.0.1" "$@" 2>"$T/ssh.stderr"
}

ssh_try() {
	local key=$1 cert=$2 user=$3
	shift 3
	local certopt=()
	[ -n "$cert" ] && certopt=(-o "CertificateFile=$cert")
	ssh_login "$user" -i "$key" "${certopt[@]}" -o IdentitiesOnly=yes \
		-o IdentityAgent=none -- "$@"
}

make_user_key() {
	local type=$1 file=$2 t bits=()
	case $type in
	ed25519) t=ed25519 ;;
	ecdsa-*) t=ecdsa; bits=(-b "${type#ecdsa-}") ;;
	rsa-*) t=rsa; bits=(-b "${type#rsa-}") ;;
	rsa) t=rsa ;;
	dsa) t=dsa ;;
	*) echo "make_user_key: unknown type $type" >&2; return 2 ;;
	esac
	rm -f "$file" "$file.pub"
	ssh-keygen -q -t "$t" "${bits[@]}" -N '' -C "test-$type" -f "$file" \
		</dev/null >/dev/null
}

run() {
	local o=$T/.run.out e=$T/.run.err
	"$@" >"$o" 2>"$e"
	RC=$?
	OUT=$(cat "$o")
	ERR=$(cat "$e")
	return 0
}

ok() {
	_JIT_N=$((_JIT_N + 1))
	PASS=$((PASS + 1))
	echo "ok $_JIT_N - $1"
}

fail() {
	_JIT_N=$((_JIT_N + 1))
	FAILS=$((FAILS + 1))
	echo "not ok $_JIT_N - $1"
	shift
	local l
	for l in "$@"; do
		printf '#   %s\n' "$l"
	done
}

assert_eq() {
	if [ "$1" = "$2" ]; then ok "$3"; else
		fail "$3" "expected: '$1'" "actual:   '$2'"
	fi
}

assert_ne() {
	if [ "$1" != "$2" ]; then ok "$3"; else
		fail "$3" "expected anything but: '$1'"
	fi
}

assert_contains() {
	case $1 in
	*"$2"*) ok "$3" ;;
	*) fail "$3" "expected to contain: '$2'" "actual: '$1'" ;;
	esac
}

assert_not_contains() {
	case $1 in
	*"$2"*) fail "$3" "expected NOT to contain: '$2'" "actual: '$1'" ;;
	*) ok "$3" ;;
	esac
}

assert_match() {
	if printf '%s\n' "$1" | grep -qE -- "$2"; then ok "$3"; else
		fail "$3" "expected to match: /$2/" "actual: '$1'"
	fi
}

assert_rc() {
	if [ "$RC" = "$1" ]; then ok "$2"; else
		fail "$2" "expected exit status $1, got $RC" \
			"stdout: $OUT" "stderr: $ERR"
	fi
}

assert_run_ok() {
	local msg=$1
	shift
	run "$@"
	if [ "$RC" = 0 ]; then ok "$msg"; else
		fail "$msg" "command: $*" "expected exit 0, got $RC" \
			"stderr: $ERR"
	fi
}

assert_run_fails() {
	local msg=$1
	shift
	run "$@"
	if [ "$RC" != 0 ]; then ok "$msg"; else
		fail "$msg" "command: $*" "expected a non-zero exit, got 0" \
			"stdout: $OUT"
	fi
}

assert_one_line_error() {
	local msg=$1 lines
	shift
	run "$@"
	lines=$(printf '%s' "$ERR" | grep -c '')
	if [ "$RC" != 0 ] && [ "$lines" = 1 ] && [ -z "$OUT" ]; then
		ok "$msg: $ERR"
	else
		fail "$msg" "command: $*" \
			"expected non-zero exit, no stdout, one stderr line" \
			"got exit $RC, $lines stderr lines" \
			"stdout: $OUT" "stderr: $ERR"
	fi
}

assert_file_mode() {
	local mode
	mode=$(stat -c %a "$2" 2>/dev/null || echo missing)
	assert_eq "$1" "$mode" "$3"
}

assert_login_ok() {
	local msg=$1 key=$2 cert=$3 user=$4 got rc
	got=$(ssh_try "$key" "$cert" "$user" id -un)
	rc=$?
	if [ "$rc" = 0 ] && [ "$got" = "$user" ]; then ok "$msg"; else
		fail "$msg" "expected login as $user (id -un = $user)" \
			"ssh exit $rc, output '$got'" \
			"ssh stderr: $(cat "$T/ssh.stderr")" \
			"sshd: $(sshd_log_since | tail -n 5 | tr '\n' '|')"
	fi
}

assert_login_refused() {
	local msg=$1 key=$2 cert=$3 user=$4 got rc
	got=$(ssh_try "$key" "$cert" "$user" id -un)
	rc=$?
	if [ "$rc" != 0 ] && [ -z "$got" ]; then ok "$msg"; else
		fail "$msg" "expected the login as $user to be refused" \
			"ssh exit $rc, output '$got'"
	fi
}

finish() {
	echo "# $PASS passed, $FAILS failed"
	[ "$FAILS" = 0 ] && exit 0
	exit 1
}
