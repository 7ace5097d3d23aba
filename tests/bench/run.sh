#!/bin/sh
# run.sh - the one benchmark command: build an optimised tree (build-bench,
# buildtype=release), run every benchmark, print one table.
#
# Rows (each measured in this run, on this machine):
#   Ed25519 signatures/s: libsodium and OpenSSL raw, our certificate
#     signing in-process, with the ratios          (bench-sign, CPU time)
#   ssh-keygen -s and jit-ca sign, one process per certificate
#                                                   (bench-keygen.sh)
#   LMDB durable commits/s and the store's group commit (bench-lmdb)
#   HTTP issuance over loopback: certs/s and p50/p99 with concurrent
#     clients, p99 at a fixed 1,000 issuances/s, server RSS, pending-list
#     latency and RSS with 1,000,000 stored requests  (bench-http.sh)
#   the same on PostgreSQL, one node and two, beside LMDB, and p99 at
#     1,000 issuances/s                              (bench-pg.sh; needs
#     Debian's postgresql package, else skipped)
#   10,000 held long-polls from 100 loopback addresses: whoami and
#     issuance p50/p99 beside them, wake-up and drop times, server RSS
#                                                   (bench-longpoll.sh)
#   approve -> certificate in ssh-agent              (bench-login.sh)
# Data goes under $BENCH_DIR (default /var/tmp: the real disk, not tmpfs).
# Other bench-* programs in tests/bench run after the table.
#
# Usage: tests/bench/run.sh [SECONDS-PER-ROW] [CERTS-PER-PROCESS-ROW]
#        (defaults 2 and 200)
# Env:   BIG (stored requests for the list rows, default 1000000; 0 skips),
#        CLIENTS (default "16 64 128"), RATE (default 1000)
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-2}
n=${2:-200}
cd "$root"
export BENCH_DIR=${BENCH_DIR:-/var/tmp}
export CLIENTS=${CLIENTS:-16 64 128}

if [ ! -d build-bench ]; then
	meson setup build-bench --buildtype=release -Dintegration=false \
	    >/dev/null
fi
# Each program is built on its own, so one that does not build (a part
# still landing) does not stop the others.
for t in tests/bench/bench-sign tests/bench/bench-lmdb tests/bench/loadgen \
    tests/bench/fill-store tests/bench/lpgen api/jit-ca client/jit-ssh \
    $(for s in tests/bench/bench-*.c; do [ -f "$s" ] &&
    echo "tests/bench/$(basename "$s" .c)"; done); do
	ninja -C build-bench "$t" >/dev/null 2>&1 ||
	    echo "($t did not build; its rows are skipped)"
done
B=$root/build-bench
export JIT_CA=${JIT_CA:-$B/api/jit-ca}
export JIT_SSH=${JIT_SSH:-$B/client/jit-ssh}
export LOADGEN=$B/tests/bench/loadgen
export FILL=$B/tests/bench/fill-store
export LPGEN=$B/tests/bench/lpgen

. "$root/tests/bench/bench-lib.sh"    # row

echo "== jit-ssh benchmarks ($(uname -m), $(nproc) cores, $(date -u +%Y-%m-%dT%H:%M:%SZ), load average $(cut -d' ' -f1-3 /proc/loadavg) at start)"
row "operation" "rate/time" "ratio / notes"
# bench-sign: its Ed25519 rows (the ECDSA rows follow the table's end).
if [ -x "$B/tests/bench/bench-sign" ]; then
	"$B/tests/bench/bench-sign" "$secs" ed25519 | sed -n '3,$p'
fi
sh tests/bench/bench-keygen.sh "$n"
if [ -x "$B/tests/bench/bench-lmdb" ]; then
	"$B/tests/bench/bench-lmdb" "$secs" "$BENCH_DIR" | awk '
	    /^raw LMDB/ { raw = $(NF - 1) }
	    /^store, full issuance/ { full = 1 }
	    full && $1 ~ /^[0-9]+$/ && $2 > best { best = $2; th = $1; cps = $3 }
	    END {
		printf "%-46s %10s/s  %s\n", "LMDB: durable commits (1 put, fsync each)",
		    raw, "the per-request ceiling without group commit"
		printf "%-46s %10s/s  %s\n", "store: issuance writes, group commit",
		    best, sprintf("at %s threads, %s commits/s (%.1fx raw)",
		    th, cps, best / raw)
	    }'
fi
sh tests/bench/bench-http.sh "$secs"
CLIENTS=64 bash tests/bench/bench-pg.sh "$secs" | grep -v '^=='
sh tests/bench/bench-longpoll.sh "$((secs * 5))"
if [ -x "$JIT_SSH" ]; then
	sh tests/bench/bench-login.sh 20 | awk '
	    /approve->agent/ { sub(/^ +approve->agent +/, "");
		printf "%-46s %12s  %s\n", "approve -> cert in ssh-agent (jit-ssh login)",
		    $2 " ms", "median; " $0 }'
fi
echo "== end of table (load average $(cut -d' ' -f1-3 /proc/loadavg))"

for src in tests/bench/bench-*.c; do
	name=$(basename "$src" .c)
	case $name in bench-sign|bench-lmdb) continue ;; esac
	[ -x "$B/tests/bench/$name" ] || continue
	echo
	"$B/tests/bench/$name" "$secs"
done
for s in tests/bench/bench-*.sh; do
	case $(basename "$s") in
	bench-keygen.sh|bench-http.sh|bench-login.sh|bench-longpoll.sh)
		continue ;;
	esac
	echo
	sh "$s" "$n"
done
