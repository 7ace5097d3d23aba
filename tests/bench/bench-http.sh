#!/bin/sh
# bench-http.sh - certificate issuance over HTTP on loopback, with the real
# server (`jit-ca serve`) and a real load generator (loadgen, libcurl multi,
# keep-alive connections).
#
# One issuance = POST /v1/requests for a role that needs no approval, then
# GET /v1/requests/ID/certificate: two durable commits (fsync, group
# commit), each with its audit entry.  The data directory is on the real
# disk ($BENCH_DIR, default /var/tmp), never tmpfs, and the server runs
# with rate_limit 0 and its per-request log going to a file.
#
# Rows:
#   closed loop: certificates/s at C concurrent clients (C in $CLIENTS,
#     default "16 64"), with p50/p99 of a whole issuance;
#   open loop at $RATE issuances/s (default 1000; 2 HTTP requests each):
#     p50/p99 of an issuance and of each HTTP request;
#   the server's peak and current RSS (VmHWM, VmRSS) after the runs;
#   with $BIG stored requests (default 1000000; 0 skips), $BIG_PENDING
#   (default 1000) of them pending, filled by fill-store: the latency of
#   GET /v1/requests?state=pending (the default page of 100, and all 1000)
#   and the server's RSS (LMDB maps data.mdb; only pages read count).
#
# Usage: sh tests/bench/bench-http.sh [SECONDS-PER-RUN]   (default 5)
# Env:   JIT_CA, LOADGEN (default: build-bench binaries), BENCH_DIR,
#        CLIENTS, RATE
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-5}
JIT_CA=${JIT_CA:-$root/build-bench/api/jit-ca}
LOADGEN=${LOADGEN:-$root/build-bench/tests/bench/loadgen}
FILL=${FILL:-$(dirname "$LOADGEN")/fill-store}
BIG=${BIG:-1000000}
BIG_PENDING=${BIG_PENDING:-1000}
CLIENTS=${CLIENTS:-16 64}
RATE=${RATE:-1000}
for b in "$JIT_CA" "$LOADGEN"; do
	[ -x "$b" ] || { echo "bench-http: $b missing; skipped"; exit 0; }
done

T=$(mktemp -d "${BENCH_DIR:-/var/tmp}/jit-bench-http.XXXXXX")
server_pid=
cleanup() {
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT INT TERM

. "$root/tests/bench/bench-lib.sh"
bench_policy
# start DATA-DIR: the server on DATA-DIR.
start() {
	cat >"$T/server.yaml" <<EOF
listen: 127.0.0.1:0
data: $1
policies: $T/policy.yaml
rate_limit: 0
max_connections: 1024
EOF
	start_server
}

start "$T/data"
for u in u1 u2 u3 u4; do
	"$JIT_CA" token create "$u" --config "$T/server.yaml" 2>/dev/null \
	    >>"$T/tokens"
done

best=0
best_line=
for c in $CLIENTS; do
	line=$("$LOADGEN" -u "$url" -T "$T/tokens" -c "$c" -d "$secs" -w 1)
	rate=$(val rate "$line")
	row "HTTP issuance, closed loop, $c clients" "$rate/s" \
	    "p50 $(val p50 "$line") ms  p99 $(val p99 "$line") ms  errors $(val errors "$line")"
	if [ "$rate" -gt "$best" ]; then
		best=$rate
		best_line=$line
	fi
done
line=$("$LOADGEN" -u "$url" -T "$T/tokens" -c 64 -d "$secs" -w 1 -r "$RATE")
row "HTTP issuance, open loop at $RATE/s: p50" "$(val p50 "$line") ms" \
    "create+fetch; achieved $(val rate "$line")/s, errors $(val errors "$line")"
row "HTTP issuance, open loop at $RATE/s: p99" "$(val p99 "$line") ms" \
    "create+fetch (target < 10 ms); max $(val max "$line") ms"
row "  per HTTP request at $((RATE * 2))/s: p99" \
    "$(val create_p99 "$line") ms" "create; fetch $(val fetch_p99 "$line") ms"
rss_row "server RSS after the HTTP runs"
stop_server
echo "bench-http-best=$best $best_line" >"${BENCH_HTTP_OUT:-/dev/null}"

[ "$BIG" -gt 0 ] || exit 0
[ -x "$FILL" ] || { echo "bench-http: $FILL missing; large-store rows skipped"; exit 0; }
rm -rf "$T/data"
fill=$("$FILL" "$T/big" "$BIG" "$BIG_PENDING")
start "$T/big"
"$JIT_CA" token create admin --config "$T/server.yaml" 2>/dev/null \
    >"$T/admin-token"
rss_row "$BIG stored: server RSS at start"
line=$("$LOADGEN" -u "$url" -T "$T/admin-token" -n 200 \
    -g "/v1/requests?state=pending") || true
row "$BIG stored: list pending (100/page) p50" "$(val p50 "$line") ms" \
    "p99 $(val p99 "$line") ms (target < 5 ms), $(val bytes "$line") bytes, errors $(val errors "$line")"
rss_row "$BIG stored: server RSS after 200 lists"
line=$("$LOADGEN" -u "$url" -T "$T/admin-token" -n 100 \
    -g "/v1/requests?state=pending&limit=1000") || true
row "$BIG stored: list all $BIG_PENDING pending p50" "$(val p50 "$line") ms" \
    "p99 $(val p99 "$line") ms, $(val bytes "$line") bytes, errors $(val errors "$line")"
rss_row "$BIG stored: RSS after listing all pending"
# The sweeper (every 5 s) drops the map pages it and the lists touched.
sleep 6
rss_row "$BIG stored: RSS 6 s later (after a sweep)"
row "  (store filled by fill-store)" "" "$(echo "$fill" | sed 's/^fill-store: //')"
stop_server
