#!/bin/bash
# bench-pg.sh - certificate issuance over HTTP on the PostgreSQL store, one
# node and two nodes on one database, beside the LMDB store, in one run on
# the same machine, with the real server and loadgen (as bench-http.sh).
#
# One issuance = POST /v1/requests for a role without approval, then
# GET /v1/requests/ID/certificate: two durable commits with their audit
# entries.  The one-call rows ("1 call") take the certificate from the
# 201 instead (loadgen -1): one commit with both entries.  PostgreSQL is a throwaway server from Debian's package
# (tests/integration/pg-lib.sh) with fsync on and synchronous_commit on,
# its data under $BENCH_DIR (the real disk); LMDB fsyncs every commit too.
# On PostgreSQL every write batch of every node locks the one head row
# first (the audit chain's head), so the nodes' batches commit one after
# the other: the two-node rows show what that costs or gains.
#
# Rows, for LMDB, PostgreSQL with one node and PostgreSQL with two nodes
# (the load split evenly between them):
#   closed loop: certificates/s at $CLIENTS concurrent clients (default
#     64), p50/p99 of an issuance, and the commits per batch;
#   open loop at $RATE issuances/s (default 1000): p50/p99;
#   both again for the one-call flow.
#
# Usage: bash tests/bench/bench-pg.sh [SECONDS-PER-RUN]   (default 5)
# Env:   JIT_CA, LOADGEN (default: build-bench binaries), BENCH_DIR,
#        CLIENTS, RATE
set -u

root=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-5}
JIT_CA=${JIT_CA:-$root/build-bench/api/jit-ca}
LOADGEN=${LOADGEN:-$root/build-bench/tests/bench/loadgen}
CLIENTS=${CLIENTS:-64}
RATE=${RATE:-1000}
for b in "$JIT_CA" "$LOADGEN"; do
	[ -x "$b" ] || { echo "bench-pg: $b missing; skipped"; exit 0; }
done

T=$(mktemp -d "${BENCH_DIR:-/var/tmp}/jit-bench-pg.XXXXXX") || exit 1
chmod 755 "$T"
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
PG_FSYNC=on
. "$root/tests/integration/pg-lib.sh"
if ! (pg_need >/dev/null); then
	echo "bench-pg: PostgreSQL server binaries missing; skipped"
	exit 0
fi
pg_need
pg_start >/dev/null || { echo "bench-pg: PostgreSQL did not start"; exit 1; }

row() {  # name value note
	printf '%-46s %12s  %s\n' "$1" "$2" "$3"
}
val() {  # key line
	printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}

cat >"$T/policy.yaml" <<EOF
users:
  u1: {groups: [dev]}
  u2: {groups: [dev]}
  u3: {groups: [dev]}
  u4: {groups: [dev]}
roles:
  auto:
    principals: [bench]
    requesters: [group:dev]
    approvers: [group:dev]
    approvals: 0
    max_duration: 1h
    default_duration: 5m
    pending_timeout: 1h
    key_types: [ed25519]
EOF
"$JIT_CA" init --data "$T/a" >/dev/null 2>&1 || exit 1
mkdir -p "$T/b" && cp -p "$T/a/ca_key" "$T/a/ca_key.pub" "$T/b/"

start_node() {  # NAME STORE-YAML; sets url_NAME
	local name=$1 i=0 u
	cat >"$T/$name.yaml" <<EOF
listen: 127.0.0.1:0
data: $T/$name
policies: $T/policy.yaml
rate_limit: 0
max_connections: 1024
$2
EOF
	"$JIT_CA" serve --config "$T/$name.yaml" >"$T/$name.log" 2>&1 &
	pids+=($!)
	printf -v "pid_$name" '%s' "$!"
	# The log line names the port (listen: 127.0.0.1:0).
	until grep -qs 'listening on http://[0-9.:]*$' "$T/$name.log"; do
		i=$((i + 1))
		if [ $i -gt 300 ]; then
			echo "bench-pg: node $name did not start:" >&2
			cat "$T/$name.log" >&2
			exit 1
		fi
		sleep 0.1
	done
	u=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$T/$name.log" |
	    head -n 1)
	printf -v "url_$name" '%s' "$u"
}
stop_nodes() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	pids=()
}
tokens() {  # CONFIG
	local u
	: >"$T/tokens"
	for u in u1 u2 u3 u4; do
		"$JIT_CA" token create "$u" --config "$1" 2>/dev/null \
		    >>"$T/tokens"
	done
}
commits() {  # URL...: writes and commits summed over the nodes
	local u w=0 c=0 m
	for u in "$@"; do
		m=$(curl -s "$u/metrics")
		w=$((w + $(echo "$m" | awk '$1 == "jit_store_writes_total" {print $2}')))
		c=$((c + $(echo "$m" | awk '$1 == "jit_store_commits_total" {print $2}')))
	done
	echo "$w $c"
}
measure() {  # LABEL URL...
	local label=$1 args=() u before after line w c one closed open
	shift
	for u in "$@"; do args+=(-u "$u"); done
	# Warm up: connections opened, statements prepared, caches filled.
	"$LOADGEN" "${args[@]}" -T "$T/tokens" -c "$CLIENTS" -d 2 -w 0 \
	    >/dev/null
	# Two calls (create, then fetch), then one (the 201's certificate).
	for one in "" -1; do
		closed="closed loop, $CLIENTS clients"
		open="open loop at $RATE/s"
		if [ -n "$one" ]; then
			closed="1 call, closed loop"
			open="1 call, open at $RATE/s"
		fi
		before=$(commits "$@")
		line=$("$LOADGEN" "${args[@]}" -T "$T/tokens" -c "$CLIENTS" \
		    -d "$secs" -w 1 $one)
		after=$(commits "$@")
		w=$(($(echo "$after" | cut -d' ' -f1) - $(echo "$before" | cut -d' ' -f1)))
		c=$(($(echo "$after" | cut -d' ' -f2) - $(echo "$before" | cut -d' ' -f2)))
		row "$label: $closed" "$(val rate "$line")/s" \
		    "p50 $(val p50 "$line") ms  p99 $(val p99 "$line") ms  errors $(val errors "$line"); $(awk -v w="$w" -v c="$c" 'BEGIN { printf "%.1f", c ? w / c : 0 }') writes/commit"
		line=$("$LOADGEN" "${args[@]}" -T "$T/tokens" -c "$CLIENTS" \
		    -d "$secs" -w 1 -r "$RATE" $one)
		row "$label: $open" "$(val p99 "$line") ms" \
		    "p99 (p50 $(val p50 "$line") ms, max $(val max "$line") ms); achieved $(val rate "$line")/s, errors $(val errors "$line")"
	done
}

PG_STORE="store:
  url: $PG_URL_NOPW
  password_file: $PG_PWFILE
  connections: ${PG_CONNECTIONS:-8}"

echo "== bench-pg: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at start"
start_node a ""
tokens "$T/a.yaml"
measure "LMDB, one node" "$url_a"
stop_nodes

start_node a "$PG_STORE"
tokens "$T/a.yaml"
measure "PostgreSQL, one node" "$url_a"
start_node b "$PG_STORE"
# shellcheck disable=SC2154  # set by start_node
measure "PostgreSQL, two nodes" "$url_a" "$url_b"
stop_nodes
