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
. "$root/tests/bench/bench-lib.sh"
trap 'bench_cleanup "$rcv_pid"' EXIT INT TERM

metric() {  # name
	curl -s "$url/metrics" | awk -v n="$1" '$1 == n {print $2}'
}

bench_policy

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
	start_server --quiet
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
	stop_server
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
