#!/bin/sh
# bench-login.sh - time from approval to certificate usable in ssh-agent,
# over loopback, with the real server and agent.
#
# Each round: alice runs `jit-ssh login` in the background and blocks in
# the long-poll; bob runs `jit-ssh approve`; we time from the moment bob's
# approve has returned (the approval is committed) until alice's login
# has exited (by then it has been woken, fetched and verified the
# certificate, written the files and added it to the agent), and check the
# agent lists it.  "approve->agent" is that interval; "approve cmd" is the
# whole approve command (process start, HTTP round trip, commit).
# Target: approve->agent under 50 ms.
#
# Usage: sh tests/bench/bench-login.sh [ROUNDS]   (default 20, max 50)
# Env:   JIT_CA, JIT_SSH (default: build-bench binaries, built if missing)
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
rounds=${1:-20}
[ "$rounds" -gt 50 ] && rounds=50
JIT_CA=${JIT_CA:-$root/build-bench/api/jit-ca}
if [ -z "${JIT_SSH:-}" ]; then
	JIT_SSH=$root/build-bench/client/jit-ssh
	[ -x "$JIT_SSH" ] || ninja -C "$root/build-bench" client/jit-ssh \
	    >/dev/null 2>&1 || true
fi
for b in "$JIT_CA" "$JIT_SSH"; do
	[ -x "$b" ] || { echo "bench-login: $b missing; skipped"; exit 0; }
done
command -v ssh-agent >/dev/null || { echo "bench-login: no ssh-agent; skipped"; exit 0; }

T=$(mktemp -d "${TMPDIR:-/tmp}/jit-bench-login.XXXXXX")
server_pid=
agent_pid=
cleanup() {
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
	[ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT INT TERM

ms_now() { date +%s%N; }

cat >"$T/policy.yaml" <<EOF
users:
  alice: {groups: [dev]}
  bob:   {groups: [sre]}
roles:
  bench:
    principals: [nobody]
    requesters: [group:dev]
    approvers: [group:sre]
    approvals: 1
    max_duration: 1h
    default_duration: 10m
    pending_timeout: 1h
    reason: optional
    key_types: [ed25519]
EOF
port=$((20000 + $$ % 30000))
cat >"$T/server.yaml" <<EOF
listen: 127.0.0.1:$port
data: $T/data
policies: $T/policy.yaml
rate_limit: 0
EOF
"$JIT_CA" serve --config "$T/server.yaml" --quiet >"$T/server.log" 2>&1 &
server_pid=$!
i=0
until "$JIT_SSH" ca --url "http://127.0.0.1:$port" >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -lt 100 ] || { echo "bench-login: server did not start"; cat "$T/server.log"; exit 1; }
	sleep 0.1
done
ssh-agent -D -a "$T/agent.sock" >/dev/null 2>&1 &
agent_pid=$!
i=0
until [ -S "$T/agent.sock" ]; do
	i=$((i + 1)); [ $i -lt 100 ] || exit 1; sleep 0.05
done
SSH_AUTH_SOCK=$T/agent.sock
export SSH_AUTH_SOCK

for u in alice bob; do
	mkdir -p "$T/$u"
	tok=$("$JIT_CA" token create "$u" --config "$T/server.yaml" 2>/dev/null)
	HOME=$T/$u "$JIT_SSH" setup "http://127.0.0.1:$port" --token "$tok" \
	    --yes </dev/null >/dev/null 2>&1
done

: >"$T/lat"
: >"$T/cmd"
r=0
while [ $r -lt "$rounds" ]; do
	r=$((r + 1))
	err=$T/login-$r.err
	HOME=$T/alice "$JIT_SSH" login bench --for 10m >"$T/login.out" \
	    2>"$err" &
	lp=$!
	i=0
	until grep -q "pending" "$err" 2>/dev/null; do
		i=$((i + 1)); [ $i -lt 200 ] || { cat "$err"; exit 1; }
		sleep 0.01
	done
	id=$(grep -o 'request r-[A-Za-z0-9_-]*' "$err" | head -n 1 |
	    cut -d' ' -f2)
	sleep 0.1   # let it settle into the long-poll
	t0=$(ms_now)
	HOME=$T/bob "$JIT_SSH" approve "$id" >/dev/null
	t1=$(ms_now)
	wait "$lp" || { echo "bench-login: login failed"; cat "$err"; exit 1; }
	t2=$(ms_now)
	ssh-add -L | grep -q "jit-ssh:bench" || { echo "bench-login: not in agent"; exit 1; }
	echo $(((t2 - t1) / 1000)) >>"$T/lat"
	echo $(((t1 - t0) / 1000)) >>"$T/cmd"
done

stats() {
	sort -n "$1" | awk '{ v[NR] = $1 } END {
		p50 = v[int((NR + 1) / 2)]; p90 = v[int(NR * 0.9 + 0.999)];
		printf "median %6.1f ms  p90 %6.1f ms  max %6.1f ms",
		    p50 / 1000, p90 / 1000, v[NR] / 1000 }'
}
echo "== login: approval -> certificate usable in ssh-agent (loopback, $rounds rounds)"
printf '  approve->agent  %s   (target < 50 ms)\n' "$(stats "$T/lat")"
printf '  approve cmd     %s   (jit-ssh approve, whole process)\n' "$(stats "$T/cmd")"
