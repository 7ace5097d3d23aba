# tests/bench/bench-lib.sh - what the benchmark scripts share (bench-http.sh,
# bench-longpoll.sh, bench-notify.sh, bench-audit-http.sh; run.sh for row);
# POSIX sh.  Sourcing it only defines functions; they use T (a scratch
# directory), JIT_CA and server_pid, which the caller sets first.
#
#   bench_cleanup [PID...]    the EXIT trap: stop the server and the
#                             processes PID, wait for them, remove $T
#   bench_policy [N]          write $T/policy.yaml: users u1..u4 (group dev)
#                             and admin (group sre, admin), and with N the
#                             N users fill-store makes requests for,
#                             user0000 .. (group dev); role auto (no
#                             approval: create, then fetch the certificate)
#                             and role ops (one approval from sre)
#   start_server [ARG...]     start `jit-ca serve --config $T/server.yaml
#                             ARG...` (the caller writes it; listen
#                             127.0.0.1:0), log in $T/server.log; sets
#                             server_pid and url
#   stop_server               SIGTERM it and wait
#   row NAME VALUE NOTE       one table row
#   val KEY LINE              the value of KEY=... in a key=value line
#   rss_row NAME              a row with the server's RSS, peak, heap and
#                             stacks, mapped file, threads
#   cpu_ms                    the server's CPU time so far (user + system),
#                             in ms
#   load_row                  a row with the machine's load average (the
#                             benchmarks share it with whatever else runs)

bench_cleanup() {
	for _p in "$server_pid" "$@"; do
		[ -n "$_p" ] && kill "$_p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	rm -rf "$T"
}

bench_policy() {
	{
		echo "users:"
		for _u in u1 u2 u3 u4; do echo "  $_u: {groups: [dev]}"; done
		awk -v n="${1:-0}" 'BEGIN { for (i = 0; i < n; i++)
		    printf "  user%04d: {groups: [dev]}\n", i }'
	} >"$T/policy.yaml"
	cat >>"$T/policy.yaml" <<EOF2
  admin: {groups: [sre]}
admins: [admin]
roles:
  auto:
    principals: [bench]
    requesters: [group:dev]
    approvers: [group:sre]
    approvals: 0
    max_duration: 1h
    default_duration: 5m
    pending_timeout: 1h
    extensions: [permit-pty]
    key_types: [ed25519]
  ops:
    principals: [bench]
    requesters: [group:dev]
    approvers: [group:sre]
    approvals: 1
    max_duration: 1h
    pending_timeout: 1h
EOF2
}

start_server() {
	# A log left by an earlier server must not answer the wait below
	# before the new one has truncated it.
	rm -f "$T/server.log"
	"$JIT_CA" serve --config "$T/server.yaml" "$@" >"$T/server.log" 2>&1 &
	server_pid=$!
	_i=0
	until grep -qs 'listening on' "$T/server.log"; do
		_i=$((_i + 1))
		if [ $_i -gt 300 ] || ! kill -0 "$server_pid" 2>/dev/null; then
			echo "$(basename "$0"): server did not start:" >&2
			cat "$T/server.log" >&2
			exit 1
		fi
		sleep 0.1
	done
	url=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' \
	    "$T/server.log" | head -n 1)
}

stop_server() {
	kill "$server_pid" 2>/dev/null || true
	wait "$server_pid" 2>/dev/null || true
	server_pid=
}

row() {
	printf '%-46s %12s  %s\n' "$1" "$2" "$3"
}

val() {
	printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}

rss_row() {
	_st=/proc/$server_pid/status
	_rss=$(awk '/^VmRSS/ {print $2}' "$_st")
	_hwm=$(awk '/^VmHWM/ {print $2}' "$_st")
	_anon=$(awk '/^RssAnon/ {print $2}' "$_st")
	_file=$(awk '/^RssFile/ {print $2}' "$_st")
	_thr=$(awk '/^Threads/ {print $2}' "$_st")
	row "$1" "$((_rss / 1024)) MB" "peak $((_hwm / 1024)) MB; heap+stacks $((_anon / 1024)) MB, mapped file $((_file / 1024)) MB; $_thr threads"
}

cpu_ms() {
	awk -v hz="$(getconf CLK_TCK)" '{print int(($14 + $15) * 1000 / hz)}' \
	    "/proc/$server_pid/stat"
}

load_row() {
	row "machine load average (1, 5, 15 min)" \
	    "$(cut -d ' ' -f 1 /proc/loadavg)" \
	    "$(cut -d ' ' -f 2,3 /proc/loadavg); $(getconf _NPROCESSORS_ONLN) CPUs"
}
