# shellcheck shell=bash
# tests/integration/nodes-lib.sh - several `jit-ca serve` nodes on one
# PostgreSQL database (test-pg-*.sh).  Source lib.sh, api-lib.sh and
# pg-lib.sh first; call pg_start and api_policy before node_start.
#
#   node_ca                 make the CA and the host CA in $T/a and give
#                           node b the same keys (each node reads them
#                           from its own data directory, as
#                           docs/DEPLOY.md says)
#   node_start NAME         start node NAME (data $T/NAME, config
#       $T/NAME.yaml, store: the test database with password_file, then
#       the lines of $NODE_CONF_EXTRA) on a free port, or on its old port
#       when restarted; sets NODE_URL_NAME, NODE_PID_NAME, NODE_LOG_NAME
#   node_stop NAME [SIG]    send SIG (default TERM) and wait
#   nurl NAME               print node NAME's base URL
#   napi NAME TOKEN METHOD PATH [BODY]
#                           api (api-lib.sh) against node NAME
#   node_tokens USER...     jit-ca token create (into the database)
#
# Load on both nodes (test-pg-failover.sh, test-pg-restart.sh):
#   load_setup              PostgreSQL, the policy, the CA, nodes a and b,
#                           alice's token (in $T/tokens) and $T/user_key;
#                           a failed step ends the test
#   load_start              two loadgens issue on both nodes until
#                           load_stop: one in two calls (create, fetch),
#                           one in one call (the certificate in the 201),
#                           logging what was acknowledged in $T/ack2.log
#                           and $T/ack1.log
#   issued                  certificates acknowledged so far
#   more                    wait for $STEP more (0 if they came)
#   load_stop ALLOWED       stop loadgen after the issuances under way;
#                           its failures must all have a status matching
#                           grep -E ALLOWED (0 = no answer)
#   load_check NODE         an export through NODE's config verifies, and
#                           every acknowledged request is in it, no serial
#                           twice, one certificate per grant, and each
#                           acknowledged certificate re-fetched from NODE
#                           is the same bytes

_node_conf() {
	cat >"$T/$_NODE.yaml" <<EOF
listen: 127.0.0.1:$1
data: $T/$_NODE
policies: $T/policy.yaml
clock_skew: 60s
max_wait: 30s
sweep_interval: 1s
rate_limit: 0
store:
  url: $PG_URL_NOPW
  password_file: $PG_PWFILE
  connections: 4
${NODE_CONF_EXTRA:-}
EOF
}

node_ca() {
	"$JIT_CA" init --data "$T/a" >/dev/null 2>&1 || return 1
	mkdir -p "$T/b" && chmod 700 "$T/b"
	cp -p "$T/a"/ca_key "$T/a"/ca_key.pub "$T/a"/host_ca_key \
		"$T/a"/host_ca_key.pub "$T/b/" || return 1
}

node_start() {
	local name=$1 port_var="NODE_PORT_$1" rc=0
	_NODE=$name
	NODE_STARTS=$((${NODE_STARTS:-0} + 1))
	printf -v "NODE_LOG_$name" '%s' "$T/node-$name.$NODE_STARTS.log"
	SERVE_PORT_FIRST=${!port_var:-} serve_free_port \
		"$T/node-$name.$NODE_STARTS.log" _node_conf \
		"$JIT_CA" serve --config "$T/$name.yaml" || rc=1
	printf -v "NODE_PID_$name" '%s' "$SERVE_PID"
	printf -v "NODE_PORT_$name" '%s' "$SERVE_PORT"
	printf -v "NODE_URL_$name" '%s' "http://127.0.0.1:$SERVE_PORT"
	return $rc
}

node_stop() {
	local name=$1 sig=${2:-TERM} pid_var="NODE_PID_$1" p keep=()
	local pid=${!pid_var}
	kill "-$sig" "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	for p in "${_JIT_PIDS[@]}"; do
		[ "$p" = "$pid" ] || keep+=("$p")
	done
	_JIT_PIDS=("${keep[@]}")
}

nurl() {
	local v="NODE_URL_$1"
	echo "${!v}"
}

napi() {
	local name=$1 JURL
	shift
	JURL=$(nurl "$name")
	api "$@"
}

node_tokens() {
	local u tok
	for u in "$@"; do
		tok=$("$JIT_CA" token create "$u" --config "$T/a.yaml" \
			2>"$T/token.err") || {
			echo "token create $u failed: $(cat "$T/token.err")" >&2
			return 1
		}
		printf -v "TOK_$u" '%s' "$tok"
	done
}

load_setup() {
	pg_start || { fail "PostgreSQL starts"; finish; }
	api_policy
	node_ca || { fail "CA"; finish; }
	node_start a || { fail "node a starts"; finish; }
	node_start b || { fail "node b starts"; finish; }
	node_tokens alice || { fail "tokens"; finish; }
	printf '%s\n' "$TOK_alice" >"$T/tokens"
	make_user_key ed25519 "$T/user_key"
}

load_start() {
	local calls flag
	LOADGEN_PIDS=()
	for calls in 2 1; do
		flag=$([ "$calls" = 1 ] && echo -1)
		jit_bg "$T/loadgen$calls.out" "$JIT_LOADGEN" -u "$(nurl a)" \
			-u "$(nurl b)" -T "$T/tokens" -c $((calls * 3)) \
			-k 32 -w 0 -d 600 -L "$T/ack$calls.log" $flag
		LOADGEN_PIDS+=("$JIT_BG_PID")
	done
}

# What both loadgens acknowledged, one line each (loadgen -L's format).
acked() {
	cat "$T/ack2.log" "$T/ack1.log" 2>/dev/null
}

issued() {
	acked | grep -c '^I '
}

more() {
	local want=$(($(issued) + STEP))
	wait_for "[ \$(issued) -ge $want ]" 120
}

load_stop() {
	local calls=2 pid
	kill -TERM "${LOADGEN_PIDS[@]}"
	for pid in "${LOADGEN_PIDS[@]}"; do
		wait "$pid"
		assert_eq 0 "$?" "the $calls-call load generator finished"
		sed 's/^/# /' "$T/loadgen$calls.out"
		assert_eq "" "$(tail -1 "$T/loadgen$calls.out" |
			tr ' ' '\n' | grep '^status_' |
			grep -v -E "^status_($1)=")" \
			"every failed $calls-call issuance got no answer or $1"
		calls=1
	done
}

load_check() {
	local node=$1 bad=0 id cert got
	assert_run_ok "audit export" "$JIT_CA" audit export \
		--config "$T/$node.yaml" -o "$T/audit.jsonl"
	assert_run_ok "audit verify passes" "$JIT_CA" audit verify \
		"$T/audit.jsonl" --ca-key "$T/a/ca_key.pub"
	jq -r 'select(.event == "request.create") | .request' \
		"$T/audit.jsonl" | sort >"$T/created"
	acked | awk '$1 == "C" {print $2}' | sort >"$T/acked"
	assert_eq "" "$(comm -13 "$T/created" "$T/acked")" \
		"every acknowledged request ($(wc -l <"$T/acked")) was created"
	jq -r 'select(.event == "cert.issue") | .serial' "$T/audit.jsonl" |
		sort -n >"$T/serials"
	assert_eq "" "$(uniq -d "$T/serials")" \
		"no serial issued twice ($(wc -l <"$T/serials") certificates)"
	jq -r 'select(.event == "cert.issue") | .request' "$T/audit.jsonl" |
		sort >"$T/cert-requests"
	assert_eq "" "$(uniq -d "$T/cert-requests")" "one certificate per grant"
	while read -r _ id cert; do
		got=$(curl -s -H "Authorization: Bearer $TOK_alice" \
			"$(nurl "$node")/v1/requests/$id/certificate")
		[ "$got" = "$cert" ] || bad=$((bad + 1))
		grep -qx "$id" "$T/cert-requests" || bad=$((bad + 1))
	done < <(acked | grep '^I ')
	assert_eq 0 "$bad" \
		"every acknowledged certificate is stored, the same bytes"
	assert_not_contains "$(cat "$T"/node-*.log)" "internal error" \
		"the nodes logged no internal error"
}
