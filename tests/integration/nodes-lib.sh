# shellcheck shell=bash
# tests/integration/nodes-lib.sh - several `jit-ca serve` nodes on one
# PostgreSQL database (test-pg-*.sh).  Source lib.sh, api-lib.sh and
# pg-lib.sh first; call pg_start and api_policy before node_start.
#
#   node_ca                 make the CA in $T/a and give node b the same
#                           key (each node reads it from its own data
#                           directory, as docs/DEPLOY.md says)
#   node_start NAME         start node NAME (data $T/NAME, config
#       $T/NAME.yaml, store: the test database with password_file) on a
#       free port, or on its old port when restarted; sets NODE_URL_NAME,
#       NODE_PID_NAME, NODE_LOG_NAME
#   node_stop NAME [SIG]    send SIG (default TERM) and wait
#   nurl NAME               print node NAME's base URL
#   napi NAME TOKEN METHOD PATH [BODY]
#                           api (api-lib.sh) against node NAME
#   node_tokens USER...     jit-ca token create (into the database)

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
EOF
}

node_ca() {
	"$JIT_CA" init --data "$T/a" >/dev/null 2>&1 || return 1
	mkdir -p "$T/b" && chmod 700 "$T/b"
	cp -p "$T/a"/ca_key "$T/a"/ca_key.pub "$T/b/" || return 1
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
