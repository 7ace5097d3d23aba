#!/bin/sh
# run.sh - build an optimised tree (build-bench, buildtype=release) and run
# every benchmark in tests/bench, printing one table.
#
# Usage: tests/bench/run.sh [SECONDS-PER-ROW] [CERTS-PER-PROCESS-ROW]
#        (defaults 2 and 200)
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-2}
n=${2:-200}
cd "$root"

if [ ! -d build-bench ]; then
	meson setup build-bench --buildtype=release -Dintegration=false \
	    >/dev/null
fi
# Each C benchmark is built on its own, so one that does not build (a
# part still landing) does not stop the others.
for src in tests/bench/bench-*.c; do
	[ -f "$src" ] || continue
	t=tests/bench/$(basename "$src" .c)
	ninja -C build-bench "$t" >/dev/null 2>&1 ||
	    echo "($t did not build; skipped)"
done
# The per-process rows need the CLI; they are skipped if it does not build.
ninja -C build-bench api/jit-ca >/dev/null 2>&1 ||
    echo "(jit-ca did not build; per-process jit-ca row skipped)"

echo "== jit-ssh benchmarks ($(uname -m), $(nproc) cores, $(date -u +%Y-%m-%dT%H:%M:%SZ))"
for src in tests/bench/bench-*.c; do
	b=build-bench/tests/bench/$(basename "$src" .c)
	[ -x "$b" ] && [ -f "$b" ] || continue
	"$b" "$secs"
done
for s in tests/bench/bench-*.sh; do
	[ -f "$s" ] || continue
	JIT_CA=${JIT_CA:-$root/build-bench/api/jit-ca} sh "$s" "$n"
done
