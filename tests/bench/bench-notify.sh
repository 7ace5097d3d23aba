#!/bin/sh
# bench-notify.sh - a receiver that never answers does not slow the API
# (issue 14).  The same open-loop load (loadgen: POST /v1/requests for a
# role that needs no approval, then the certificate) runs against three
# servers on fresh data directories: without notifications, with a
# webhook endpoint whose receiver accepts connections and never answers
# (every delivery waits for its 10 s timeout, so the outbox only grows),
# and with one that answers at once.  The rows are p50/p99 of the create
# request (the change whose transaction writes the outbox entries) and of
# a whole issuance, and the notifications delivered or queued at the end.
# Figures only: nothing here asserts a time.
#
# Usage: sh tests/bench/bench-notify.sh [SECONDS]  (default 5; run.sh's
#        count of 200 is taken as 5)
# Env:   JIT_CA, LOADGEN (default: build-bench binaries), RATE (issuances
#        per second, default 200), BENCH_DIR (default /var/tmp)
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-5}
[ "$secs" -le 60 ] 2>/dev/null || secs=5
JIT_CA=${JIT_CA:-$root/build-bench/api/jit-ca}
LOADGEN=${LOADGEN:-$root/build-bench/tests/bench/loadgen}
RATE=${RATE:-200}
for b in "$JIT_CA" "$LOADGEN"; do
	[ -x "$b" ] || { echo "bench-notify: $b missing; skipped"; exit 0; }
done
command -v python3 >/dev/null || { echo "bench-notify: no python3; skipped"; exit 0; }

T=$(mktemp -d "${BENCH_DIR:-/var/tmp}/jit-bench-notify.XXXXXX")
server_pid=
rcv_pid=
cleanup() {
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
	[ -n "$rcv_pid" ] && kill "$rcv_pid" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT INT TERM

row() {  # name value note
	printf '%-46s %12s  %s\n' "$1" "$2" "$3"
}
val() {  # key line
	printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}
metric() {  # name
	curl -s "$url/metrics" | awk -v n="$1" '$1 == n {print $2}'
}

cat >"$T/policy.yaml" <<EOF
users:
  u1: {groups: [dev]}
  u2: {groups: [dev]}
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
    key_types: [ed25519]
EOF

# The receiver: answers at once, or (with $T/rcv/hang) never.
mkdir -p "$T/rcv"
rport=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 "$root/tests/integration/notify-receiver.py" "$rport" "$T/rcv" \
    >"$T/rcv.log" 2>&1 &
rcv_pid=$!
i=0
until [ -e "$T/rcv/ready" ]; do
	i=$((i + 1))
	[ $i -le 100 ] || { echo "bench-notify: receiver did not start"; exit 1; }
	sleep 0.1
done

run() {  # LABEL NOTIFY-YAML
	rm -rf "$T/data" "$T/tokens"
	cat >"$T/server.yaml" <<EOF
listen: 127.0.0.1:0
data: $T/data
policies: $T/policy.yaml
rate_limit: 0
max_connections: 1024
$2
EOF
	"$JIT_CA" serve --config "$T/server.yaml" --quiet >"$T/server.log" 2>&1 &
	server_pid=$!
	i=0
	until grep -qs 'listening on' "$T/server.log"; do
		i=$((i + 1))
		if [ $i -gt 300 ] || ! kill -0 "$server_pid" 2>/dev/null; then
			echo "bench-notify: server did not start:" >&2
			cat "$T/server.log" >&2
			exit 1
		fi
		sleep 0.1
	done
	url=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$T/server.log" |
	    head -n 1)
	for u in u1 u2; do
		"$JIT_CA" token create "$u" --config "$T/server.yaml" \
		    2>/dev/null >>"$T/tokens"
	done
	line=$("$LOADGEN" -u "$url" -T "$T/tokens" -c 32 -d "$secs" -w 1 \
	    -r "$RATE")
	row "$1: create p50" "$(val create_p50 "$line") ms" \
	    "p99 $(val create_p99 "$line") ms; issuance p99 $(val p99 "$line") ms, errors $(val errors "$line")"
	note="achieved $(val rate "$line") issuances/s"
	if [ -n "$2" ]; then
		note="$note; notifications delivered $(metric jit_notify_delivered_total), queued $(metric jit_notify_queued)"
	fi
	row "$1: create p99" "$(val create_p99 "$line") ms" "$note"
	kill "$server_pid"
	wait "$server_pid" 2>/dev/null || true
	server_pid=
}

hook="notify:
  - name: hook
    url: http://127.0.0.1:$rport/json
    events: [request.create, request.approve, cert.issue]
    timeout: 10s"
echo "== notifications and API latency ($RATE issuances/s open loop, ${secs} s each)"
run "no notifications" ""
touch "$T/rcv/hang"
run "receiver never answers" "$hook"
rm -f "$T/rcv/hang"
run "receiver answers at once" "$hook"
