#!/bin/sh
# bench-audit-http.sh - GET /v1/audit through the real server for logs of
# MAX/10 and MAX entries (default 100,000 and 1,000,000): entries/s (wall
# time at the client, and by the server's CPU time) and the server's peak
# RSS (VmHWM) before and after the export, to show that the server streams
# in constant memory however large the log.  The export is then checked
# with `jit-ca audit verify`.
#
# Usage: sh tests/bench/bench-audit-http.sh [IGNORED] (run.sh passes a count)
# Env:   JIT_CA, BENCH_AUDIT (the bench-audit binary, for --fill),
#        BENCH_AUDIT_MAX (default 1000000)
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
JIT_CA=${JIT_CA:-$root/build-bench/api/jit-ca}
FILL=${BENCH_AUDIT:-$root/build-bench/tests/bench/bench-audit}
max=${BENCH_AUDIT_MAX:-1000000}
for b in "$JIT_CA" "$FILL"; do
	[ -x "$b" ] || { echo "bench-audit-http: $b missing; skipped"; exit 0; }
done
command -v curl >/dev/null || { echo "bench-audit-http: no curl; skipped"; exit 0; }

T=$(mktemp -d "${TMPDIR:-/tmp}/jit-bench-audit-http.XXXXXX")
server_pid=
. "$root/tests/bench/bench-lib.sh"
trap bench_cleanup EXIT INT TERM

cat >"$T/policy.yaml" <<EOF
users:
  erin: {groups: [audit]}
auditors: [group:audit]
roles:
  ops:
    principals: [ops]
    requesters: [group:audit]
    approvers: [group:audit]
    approvals: 1
    max_duration: 1h
EOF

kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

echo "== audit export over HTTP (bench-audit-http): server memory in kB"
printf '  %-9s %10s %10s %12s %12s %10s %10s\n' entries MB "ent/s wall" \
    "ent/s srvcpu" "VmHWM before" "VmHWM after" "RssAnon"
for n in $((max / 10)) "$max"; do
	d=$T/data-$n
	mkdir -m 700 "$d"
	"$FILL" --fill "$n" "$d"
	cat >"$T/server.yaml" <<EOF
listen: 127.0.0.1:0
data: $d
policies: $T/policy.yaml
rate_limit: 0
EOF
	tok=$("$JIT_CA" token create erin --config "$T/server.yaml" 2>/dev/null)
	start_server
	# Warm up (one authenticated request) so "before" is the serving
	# baseline.
	curl -fsS -o /dev/null -H "Authorization: Bearer $tok" "$url/v1/whoami"
	h0=$(kb "$server_pid" VmHWM)
	c0=$(cpu_ticks "$server_pid")
	t0=$(date +%s.%N)
	curl -fsS -H "Authorization: Bearer $tok" -o "$T/audit.jsonl" \
	    "$url/v1/audit"
	t1=$(date +%s.%N)
	c1=$(cpu_ticks "$server_pid")
	h1=$(kb "$server_pid" VmHWM)
	a1=$(kb "$server_pid" RssAnon)
	stop_server
	total=$(($(wc -l <"$T/audit.jsonl") - 7))   # trailer + 6 armour lines
	mb=$(awk -v b="$(wc -c <"$T/audit.jsonl")" 'BEGIN {printf "%.1f", b / 1e6}')
	awk -v n="$total" -v mb="$mb" -v t0="$t0" -v t1="$t1" -v c="$((c1 - c0))" \
	    -v hz="$hz" -v h0="$h0" -v h1="$h1" -v a1="$a1" 'BEGIN {
		printf "  %-9d %10s %10.0f %12s %12d %10d %10d\n", n, mb,
		    n / (t1 - t0), (c > 0 ? sprintf("%.0f", n / (c / hz)) : "-"),
		    h0, h1, a1 }'
	"$JIT_CA" audit verify "$T/audit.jsonl" --data "$d" >/dev/null ||
	    echo "  (verify FAILED)"
	rm -rf "$d" "$T/audit.jsonl"
done
