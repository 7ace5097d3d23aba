#!/bin/sh
# bench-longpoll.sh - many held long-polls beside other users' requests,
# with the real server (`jit-ca serve`) on loopback.
#
# $N long-polls (default 10000; GET /v1/requests/ID?wait=600 as admin,
# spread over $IDS pending requests, default 200) are held from $ADDRS
# loopback source addresses (default 100: 127.0.1.1, 127.0.1.2, ...;
# lpgen), while other users' requests run at fixed rates from 127.0.0.1
# (loadgen, open loop, each timed from its scheduled start):
# GET /v1/whoami at $WHOAMI_RATE/s (default 200) and create+fetch
# issuances at $RATE/s (default 200; a role that needs no approval, two
# durable commits each).  The data directory is on the real disk
# ($BENCH_DIR, default /var/tmp).  Everything (server, clients) shares
# this machine's cores; taskset -c 0,1 pins it all to two.
#
# Rows:
#   the same two loads without long-polls first (the baseline), each
#     with the server's CPU time per HTTP request (steadier than latency
#     on a busy machine),
#   the time until all N long-polls are held (jit_http_waiting = N) and
#     the server's RSS then,
#   whoami and issuance p50/p99 beside the held long-polls (target:
#     p99 < 10 ms), and whether any long-poll was answered or dropped,
#   one approval: the time until its N/IDS waiters have their answer,
#   the N clients closing: the time until jit_http_waiting is 0,
#   the server's RSS (and peak) at the end.
#
# Usage: sh tests/bench/bench-longpoll.sh [SECONDS-PER-RUN]   (default 10)
# Env:   JIT_CA, LOADGEN, LPGEN (default: build-bench binaries),
#        BENCH_DIR, N, ADDRS, IDS, RATE, WHOAMI_RATE
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-10}
JIT_CA=${JIT_CA:-$root/build-bench/api/jit-ca}
LOADGEN=${LOADGEN:-$root/build-bench/tests/bench/loadgen}
LPGEN=${LPGEN:-$(dirname "$LOADGEN")/lpgen}
N=${N:-10000}
ADDRS=${ADDRS:-100}
IDS=${IDS:-200}
RATE=${RATE:-200}
WHOAMI_RATE=${WHOAMI_RATE:-200}
for b in "$JIT_CA" "$LOADGEN" "$LPGEN"; do
	[ -x "$b" ] || { echo "bench-longpoll: $b missing; skipped"; exit 0; }
done
command -v curl >/dev/null || { echo "bench-longpoll: no curl; skipped"; exit 0; }
per=$(((N + ADDRS - 1) / ADDRS))
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((N + 1000)) ]; then
	echo "bench-longpoll: RLIMIT_NOFILE $(ulimit -n) < $((N + 1000)); skipped"
	exit 0
fi

T=$(mktemp -d "${BENCH_DIR:-/var/tmp}/jit-bench-lp.XXXXXX")
server_pid=
lp_pid=
. "$root/tests/bench/bench-lib.sh"
trap 'bench_cleanup "$lp_pid"' EXIT INT TERM

ms() {
	echo $(($(date +%s%N) / 1000000))
}
waiting() {
	curl -s "$url/metrics" | awk '$1=="jit_http_waiting"{print $2}'
}
# until_true SECS CMD: run CMD every 0.1 s until it succeeds; 1 after SECS.
until_true() {
	_end=$(($(date +%s) + $1))
	shift
	until "$@"; do
		[ "$(date +%s)" -lt "$_end" ] || return 1
		sleep 0.1
	done
}

bench_policy
cat >"$T/server.yaml" <<EOF
listen: 127.0.0.1:0
data: $T/data
policies: $T/policy.yaml
rate_limit: 0
max_wait: 10m
max_pending: 0
max_connections: $((N + 1000))
max_connections_per_address: $((per > 128 ? per : 128))
EOF
start_server
port=${url##*:}
for u in u1 u2 u3 u4; do
	"$JIT_CA" token create "$u" --config "$T/server.yaml" 2>/dev/null \
	    >>"$T/tokens"
done
admin=$("$JIT_CA" token create admin --config "$T/server.yaml" 2>/dev/null)
u1=$(head -n 1 "$T/tokens")
ssh-keygen -q -t ed25519 -N '' -f "$T/key" >/dev/null 2>&1 ||
    { echo "bench-longpoll: ssh-keygen failed"; exit 1; }

# load NAME: whoami and issuances at their rates, side by side.
load() {
	c0=$(cpu_ms)
	"$LOADGEN" -u "$url" -T "$T/tokens" -g /v1/whoami -r "$WHOAMI_RATE" \
	    -d "$secs" -w 1 >"$T/whoami.$1" &
	w=$!
	"$LOADGEN" -u "$url" -T "$T/tokens" -c 32 -r "$RATE" -d "$secs" -w 1 \
	    >"$T/issue.$1"
	wait "$w"
	c1=$(cpu_ms)
	line=$(cat "$T/whoami.$1")
	row "$2: GET /v1/whoami at $WHOAMI_RATE/s, p50" \
	    "$(val p50 "$line") ms" \
	    "p99 $(val p99 "$line") ms, max $(val max "$line") ms, errors $(val errors "$line")"
	line=$(cat "$T/issue.$1")
	row "$2: issuance at $RATE/s, p50" "$(val p50 "$line") ms" \
	    "p99 $(val p99 "$line") ms (create p99 $(val create_p99 "$line"), fetch p99 $(val fetch_p99 "$line")), errors $(val errors "$line")"
	# Less sensitive to a busy machine than latency: what the server
	# spent per HTTP request (whoami + create + fetch, warm-up too).
	nreq=$(( (WHOAMI_RATE + 2 * RATE) * (secs + 1) ))
	row "$2: server CPU per HTTP request" \
	    "$(awk -v c=$((c1 - c0)) -v n=$nreq 'BEGIN {printf "%.3f", c / n}') ms" \
	    "$((c1 - c0)) ms CPU for $nreq requests in $((secs + 1)) s"
}

load base "no long-polls"
rss_row "server RSS before the long-polls"

: >"$T/ids"
i=0
while [ $i -lt "$IDS" ]; do
	curl -s -H "Authorization: Bearer $u1" -H 'Content-Type: application/json' \
	    --data-binary "{\"role\":\"ops\",\"public_key\":\"$(cat "$T/key.pub")\"}" \
	    "$url/v1/requests" | sed -n 's/.*"id":"\([^"]*\)".*/\1/p' >>"$T/ids"
	i=$((i + 1))
done
[ "$(wc -l <"$T/ids")" -eq "$IDS" ] ||
    { echo "bench-longpoll: could not create $IDS pending requests"; exit 1; }

t0=$(ms)
"$LPGEN" -p "$port" -t "$admin" -i "$T/ids" -n "$N" -a "$ADDRS" -w 600 \
    -s "$T/lp.status" >"$T/lp.out" 2>&1 &
lp_pid=$!
held() { [ "$(waiting)" = "$N" ]; }
if ! until_true 600 held; then
	echo "bench-longpoll: only $(waiting) of $N long-polls held:" \
	    "$(cat "$T/lp.status")" >&2
	exit 1
fi
t1=$(ms)
row "$N long-polls from $ADDRS addresses: all held in" "$((t1 - t0)) ms" \
    "jit_http_waiting $(waiting)"
rss_row "server RSS with $N long-polls held"

load held "beside $N long-polls"
st=$(cat "$T/lp.status")
row "long-polls answered or dropped meanwhile" \
    "$(($(val answered "$st") + $(val closed "$st") + $(val failed "$st")))" \
    "still held: $(waiting) ($st)"
rss_row "server RSS after the runs"

# One approval wakes the waiters of its request.
first=$(head -n 1 "$T/ids")
t0=$(ms)
curl -s -o /dev/null -H "Authorization: Bearer $admin" \
    -H 'Content-Type: application/json' --data-binary '{}' \
    "$url/v1/requests/$first/approve"
woken=$(((N + IDS - 1 - 0) / IDS))
woken_all() { [ "$(val answered "$(cat "$T/lp.status")")" -ge "$woken" ]; }
until_true 60 woken_all || true
st=$(cat "$T/lp.status")
row "one approval: its $woken waiters answered in" \
    "$(($(val last_ms "$st") - t0)) ms" "answered $(val answered "$st")"

t0=$(ms)
kill "$lp_pid"
wait "$lp_pid" 2>/dev/null || true
lp_pid=
none() { [ "$(waiting)" = 0 ]; }
until_true 120 none || true
t1=$(ms)
row "$N clients close: none left waiting after" "$((t1 - t0)) ms" \
    "jit_http_waiting $(waiting)"
rss_row "server RSS at the end"
stop_server
