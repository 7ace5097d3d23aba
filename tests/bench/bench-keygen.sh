#!/bin/sh
# bench-keygen.sh - per-process certificate rate: `ssh-keygen -s` once per
# certificate, and `jit-ca sign` once per certificate when a jit-ca binary
# is found, printed as rows of the benchmark table.
#
# Usage: bench-keygen.sh [N]            (default 200 certificates each)
# Environment: JIT_CA=path/to/jit-ca    (default: build-bench/api/jit-ca,
#              then build/api/jit-ca, relative to the source root)
set -eu

n=${1:-200}
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

jitca=${JIT_CA:-}
if [ -z "$jitca" ]; then
	for c in "$root/build-bench/api/jit-ca" "$root/build/api/jit-ca"; do
		if [ -x "$c" ]; then
			jitca=$c
			break
		fi
	done
fi

now() { date +%s.%N; }
rate() {  # count start end
	awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.0f", n / (b - a) }'
}
row() {  # name rate note
	printf '%-46s %10s/s  %s\n' "$1" "$2" "$3"
}

ssh-keygen -q -t ed25519 -N '' -C ca -f "$tmp/ca"
ssh-keygen -q -t ed25519 -N '' -C user -f "$tmp/user"

t0=$(now)
i=1
while [ $i -le "$n" ]; do
	ssh-keygen -q -s "$tmp/ca" -I "alice-$i" -n alice -V +1h -z $i \
	    "$tmp/user.pub" 2>/dev/null
	i=$((i + 1))
done
t1=$(now)
keygen=$(rate "$n" "$t0" "$t1")
row "Ed25519 CA: ssh-keygen -s, one process/cert" "$keygen" \
    "($n certs)"

if [ -n "$jitca" ] && [ -x "$jitca" ]; then
	"$jitca" init --data "$tmp/data" >/dev/null 2>&1 ||
	    { echo "bench-keygen: jit-ca init failed" >&2; exit 1; }
	t0=$(now)
	i=1
	while [ $i -le "$n" ]; do
		"$jitca" sign --data "$tmp/data" --key "$tmp/user.pub" \
		    --principal alice --duration 1h >/dev/null
		i=$((i + 1))
	done
	t1=$(now)
	ours=$(rate "$n" "$t0" "$t1")
	row "Ed25519 CA: jit-ca sign, one process/cert" "$ours" \
	    "$(awk -v a="$ours" -v b="$keygen" 'BEGIN { printf "%.2fx ssh-keygen", a / b }')"
else
	row "Ed25519 CA: jit-ca sign, one process/cert" "-" \
	    "(no jit-ca binary; set JIT_CA)"
fi
