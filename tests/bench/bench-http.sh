#!/bin/sh
# bench-http.sh - certificate issuance over HTTP on loopback, with the real
# server (`jit-ca serve`) and a real load generator (loadgen, libcurl multi,
# keep-alive connections).
#
# One issuance = POST /v1/requests for a role that needs no approval, then
# GET /v1/requests/ID/certificate: two durable commits (fsync, group
# commit), each with its audit entry.  The one-call rows take the
# certificate from the 201 instead (loadgen -1; docs/API.md): one commit
# holding both entries.  The data directory is on the real
# disk ($BENCH_DIR, default /var/tmp), never tmpfs, and the server runs
# with rate_limit 0 and its per-request log going to a file.
#
# Rows:
#   the machine's load average as the runs start (it is shared);
#   closed loop: certificates/s at C concurrent clients (C in $CLIENTS,
#     default "16 64"), with p50/p99 of a whole issuance, and the
#     server's CPU time per certificate (steadier than throughput on a
#     busy machine), with the load generator's beside it;
#   open loop at $RATE issuances/s (default 1000; 2 HTTP requests each):
#     p50/p99 of an issuance and of each HTTP request, and CPU per
#     certificate likewise;
#   the one-call flow: closed loop at 64 clients and open loop at $RATE
#     (1 HTTP request each), with CPU per certificate likewise;
#   the server's peak and current RSS (VmHWM, VmRSS) after the runs;
#   with $BIG stored requests (default 1000000; 0 skips), $BIG_PENDING
#   (default 1000) of them pending, filled by fill-store: the latency of
#   GET /v1/requests?state=pending (the default page of 100, and all 1000)
#   and the server's RSS (LMDB maps data.mdb; only pages read count);
#   there too, a user who is no approver (user0006, who made 1 in 1,000
#   of them) lists the ended ones (GET /v1/requests?state=ended);
#   with $KRL revoked requests (default 200000; 0 skips), those of the
#   last hour still valid, filled by fill-store -R: the latency of
#   GET /v1/krl (the first call, then 20 in a row, then 8 callers at
#   once right after a store change) and of GET /metrics, with the
#   server's RSS after each.
#
# Usage: sh tests/bench/bench-http.sh [SECONDS-PER-RUN]   (default 5)
# Env:   JIT_CA, LOADGEN (default: build-bench binaries), BENCH_DIR,
#        CLIENTS, RATE, BIG, BIG_PENDING, KRL
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-5}
JIT_CA=${JIT_CA:-$root/build-bench/api/jit-ca}
LOADGEN=${LOADGEN:-$root/build-bench/tests/bench/loadgen}
FILL=${FILL:-$(dirname "$LOADGEN")/fill-store}
BIG=${BIG:-1000000}
BIG_PENDING=${BIG_PENDING:-1000}
KRL=${KRL:-200000}
CLIENTS=${CLIENTS:-16 64}
RATE=${RATE:-1000}
for b in "$JIT_CA" "$LOADGEN"; do
	[ -x "$b" ] || { echo "bench-http: $b missing; skipped"; exit 0; }
done

T=$(mktemp -d "${BENCH_DIR:-/var/tmp}/jit-bench-http.XXXXXX")
server_pid=
. "$root/tests/bench/bench-lib.sh"
trap bench_cleanup EXIT INT TERM

# fill-store's requesters are user0000 .. user0999: they are in the policy
# so the server keeps their pending requests open when it starts.
bench_policy 1000
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

# cpu_row C0 LINE: the server's CPU per certificate since C0 (warm-up
# included, as are its certificates) and the load generator's.
cpu_row() {
	_c=$(($(cpu_ms) - $1))
	_n=$(val total "$2")
	row "  server CPU per certificate" \
	    "$(awk -v c="$_c" -v n="$_n" 'BEGIN {printf "%.3f", n ? c / n : 0}') ms" \
	    "$_c ms for $_n; load generator $(awk -v c="$(val cpu_ms "$2")" -v n="$_n" 'BEGIN {printf "%.3f", n ? c / n : 0}') ms"
}

load_row
best=0
best_line=
for c in $CLIENTS; do
	c0=$(cpu_ms)
	line=$("$LOADGEN" -u "$url" -T "$T/tokens" -c "$c" -d "$secs" -w 1)
	rate=$(val rate "$line")
	row "HTTP issuance, closed loop, $c clients" "$rate/s" \
	    "p50 $(val p50 "$line") ms  p99 $(val p99 "$line") ms  errors $(val errors "$line")"
	cpu_row "$c0" "$line"
	if [ "$rate" -gt "$best" ]; then
		best=$rate
		best_line=$line
	fi
done
c0=$(cpu_ms)
line=$("$LOADGEN" -u "$url" -T "$T/tokens" -c 64 -d "$secs" -w 1 -r "$RATE")
row "HTTP issuance, open loop at $RATE/s: p50" "$(val p50 "$line") ms" \
    "create+fetch; achieved $(val rate "$line")/s, errors $(val errors "$line")"
row "HTTP issuance, open loop at $RATE/s: p99" "$(val p99 "$line") ms" \
    "create+fetch (target < 10 ms); max $(val max "$line") ms"
row "  per HTTP request at $((RATE * 2))/s: p99" \
    "$(val create_p99 "$line") ms" "create; fetch $(val fetch_p99 "$line") ms"
cpu_row "$c0" "$line"
c0=$(cpu_ms)
line=$("$LOADGEN" -u "$url" -T "$T/tokens" -c 64 -d "$secs" -w 1 -1)
row "HTTP issuance, 1 call, closed, 64 clients" \
    "$(val rate "$line")/s" \
    "p50 $(val p50 "$line") ms  p99 $(val p99 "$line") ms  errors $(val errors "$line")"
cpu_row "$c0" "$line"
c0=$(cpu_ms)
line=$("$LOADGEN" -u "$url" -T "$T/tokens" -c 64 -d "$secs" -w 1 -r "$RATE" -1)
row "HTTP issuance, 1 call, open at $RATE/s: p50" \
    "$(val p50 "$line") ms" \
    "create with certificate; achieved $(val rate "$line")/s, errors $(val errors "$line")"
row "HTTP issuance, 1 call, open at $RATE/s: p99" \
    "$(val p99 "$line") ms" "max $(val max "$line") ms"
cpu_row "$c0" "$line"
rss_row "server RSS after the HTTP runs"
stop_server
echo "bench-http-best=$best $best_line" >"${BENCH_HTTP_OUT:-/dev/null}"

big_rows() {
	rm -rf "$T/data"
	fill=$("$FILL" -P "$T/policy.yaml" "$T/big" "$BIG" "$BIG_PENDING")
	start "$T/big"
	"$JIT_CA" token create admin --config "$T/server.yaml" 2>/dev/null \
	    >"$T/admin-token"
	"$JIT_CA" token create user0006 --config "$T/server.yaml" \
	    2>/dev/null >"$T/user-token"
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
	line=$("$LOADGEN" -u "$url" -T "$T/user-token" -n 10 -W 1 \
	    -g "/v1/requests?state=ended") || true
	row "$BIG stored: a requester lists ended, p50" "$(val p50 "$line") ms" \
	    "p99 $(val p99 "$line") ms, $(val bytes "$line") bytes, errors $(val errors "$line")"
	rss_row "$BIG stored: RSS after the requester's lists"
	# The sweeper (every 5 s) drops the map pages it and the lists touched.
	sleep 6
	rss_row "$BIG stored: RSS 6 s later (after a sweep)"
	row "  (store filled by fill-store)" "" "$(echo "$fill" | sed 's/^fill-store: //')"
	stop_server
	rm -rf "$T/big"
}

krl_rows() {
	fill=$("$FILL" -A -R -P "$T/policy.yaml" "$T/krl" "$KRL" 0)
	start "$T/krl"
	"$JIT_CA" token create admin --config "$T/server.yaml" 2>/dev/null \
	    >"$T/admin-token"
	rss_row "$KRL revoked: server RSS at start"
	line=$("$LOADGEN" -u "$url" -T "$T/admin-token" -n 1 -W 0 \
	    -g /v1/krl) || true
	row "$KRL revoked: GET /v1/krl, first call" "$(val p50 "$line") ms" \
	    "$(val bytes "$line") bytes, errors $(val errors "$line")"
	line=$("$LOADGEN" -u "$url" -T "$T/admin-token" -n 20 -W 0 \
	    -g /v1/krl) || true
	row "$KRL revoked: GET /v1/krl, 20 in a row, p50" "$(val p50 "$line") ms" \
	    "p99 $(val p99 "$line") ms, errors $(val errors "$line")"
	rss_row "$KRL revoked: server RSS after the KRLs"
	# A store change (here a token, made by another process) makes a
	# cached KRL stale: the 8 callers find none to serve.
	"$JIT_CA" token create admin --config "$T/server.yaml" >/dev/null 2>&1
	t0=$(date +%s.%N)
	pids=
	for i in 1 2 3 4 5 6 7 8; do
		"$LOADGEN" -u "$url" -T "$T/admin-token" -n 1 -W 0 \
		    -g /v1/krl >"$T/krl.$i" &
		pids="$pids $!"
	done
	# Not a bare wait: the server is a child of this shell too.  A
	# caller that timed out shows in its errors, not as a stop here.
	wait $pids || true
	t1=$(date +%s.%N)
	worst=$(cat "$T"/krl.* | tr ' ' '\n' | sed -n 's/^max=//p' |
	    sort -n | tail -n 1)
	row "$KRL revoked: 8 KRL callers at once, store changed" \
	    "$(echo "$t0 $t1" | awk '{printf "%.0f ms", ($2 - $1) * 1000}')" \
	    "wall time; slowest answer $worst ms"
	rss_row "$KRL revoked: server RSS after 8 at once"
	line=$("$LOADGEN" -u "$url" -T "$T/admin-token" -n 1 -W 0 \
	    -g /metrics) || true
	row "$KRL revoked: GET /metrics, first call" "$(val p50 "$line") ms" \
	    "$(val bytes "$line") bytes, errors $(val errors "$line")"
	line=$("$LOADGEN" -u "$url" -T "$T/admin-token" -n 100 \
	    -g /metrics) || true
	row "$KRL revoked: GET /metrics, 100 in a row, p50" "$(val p50 "$line") ms" \
	    "p99 $(val p99 "$line") ms, errors $(val errors "$line")"
	rss_row "$KRL revoked: server RSS after the scrapes"
	row "  (store filled by fill-store -R)" "" "$(echo "$fill" | sed 's/^fill-store: //')"
	stop_server
	rm -rf "$T/krl"
}

[ -x "$FILL" ] || { echo "bench-http: $FILL missing; large-store rows skipped"; exit 0; }
[ "$BIG" -gt 0 ] && big_rows
[ "$KRL" -gt 0 ] && krl_rows
exit 0
