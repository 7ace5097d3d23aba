# shellcheck shell=bash
# tests/integration/api-lib.sh - helpers for the approval API tests
# (test-api-*.sh), on top of lib.sh (source that first).
#
#   api_policy                write the test policy to $T/policy.yaml:
#       users alice, bob (dev), bob also sre, carol (security), dave (sre,
#       admin), erin (audit, auditor), frank (ops), gina (sre)
#       roles: ops (1 approval from sre, reason ^[A-Z]+-[0-9]+, max 1h,
#              ed25519/ecdsa, principal $JIT_USER1),
#              twoman (2 approvals from sre/security, one from security),
#              auto (approvals 0, requesters dev + frank, max 10m),
#              self (sre may request and approve their own),
#              other (requested by frank only, approved by gina),
#              quick (pending_timeout 2s)
#   api_start [EXTRA_CONFIG_YAML]
#       start `jit-ca serve --config $T/server.yaml` on a free port with
#       data $T/data (serve_free_port in lib.sh); sets JURL, API_PORT,
#       API_PID, API_LOG.  Reuses API_PORT on a restart (api_start again
#       after api_stop / kill), picks another port when the log says
#       "Address already in use".  API_CLOCK_SKEW (default 60s),
#       API_MAX_WAIT (default 20s) and API_RATE_LIMIT (default 0 = off)
#       set those config keys.  With JIT_TEST_PG=1 in the environment
#       (the *-pg tests of meson.build) the store is a PostgreSQL
#       database (pg-lib.sh, started by the first api_start) instead of
#       LMDB in $T/data; the test SKIPs without the server binaries.
#   api_stop                  SIGTERM the server, wait; sets API_RC
#   api_tokens USER...        jit-ca token create for each; sets TOK_<user>
#   api TOKEN METHOD PATH [BODY]
#       curl the API; sets STATUS (HTTP code) and RB (response body).
#       TOKEN "" sends no Authorization header.
#   jget JSON FILTER          jq -r FILTER on JSON
#   audit_count               current jit_audit_entries from /metrics
#   new_request TOKEN ROLE [DURATION] [REASON] [KEYFILE]
#       POST /v1/requests with $T/user_key.pub (or KEYFILE.pub); sets
#       STATUS, RB and RID (the id, or "").

api_policy() {
	cat >"$T/policy.yaml" <<EOF
users:
  alice: {groups: [dev]}
  bob:   {groups: [dev, sre]}
  carol: {groups: [security]}
  dave:  {groups: [sre]}
  erin:  {groups: [audit]}
  frank: {groups: [ops]}
  gina:  {groups: [sre2]}
admins: [dave]
auditors: [group:audit]
roles:
  ops:
    principals: [$JIT_USER1]
    requesters: [group:dev]
    approvers: [group:sre]
    approvals: 1
    max_duration: 1h
    default_duration: 10m
    pending_timeout: 1h
    max_start_ahead: 1h
    reason: required
    reason_pattern: '^[A-Z]+-\d+'
    extensions: [permit-pty]
    key_types: [ed25519, ecdsa]
  twoman:
    principals: [$JIT_USER1, $JIT_USER2]
    requesters: [group:dev]
    approvers: [group:sre, group:security]
    approvals: 2
    require_groups: [security]
    max_duration: 2h
    pending_timeout: 1h
  auto:
    principals: [$JIT_USER2]
    requesters: [group:dev, frank]
    approvers: [group:sre]
    approvals: 0
    max_duration: 10m
    default_duration: 5m
    pending_timeout: 1h
    source_address: [127.0.0.0/8]
    force_command: /bin/echo forced
    extensions: [permit-pty]
  self:
    principals: [$JIT_USER1]
    requesters: [group:sre]
    approvers: [group:sre]
    approvals: 1
    self_approval: true
    max_duration: 1h
  other:
    principals: [$JIT_USER2]
    requesters: [frank]
    approvers: [gina]
    approvals: 1
    max_duration: 1h
  quick:
    principals: [$JIT_USER1]
    requesters: [group:dev]
    approvers: [group:sre]
    approvals: 1
    max_duration: 1h
    pending_timeout: 2s
EOF
}

API_PORT=
API_PID=
API_LOG=
JURL=

if [ -n "${JIT_TEST_PG:-}" ]; then
	. "$(dirname "${BASH_SOURCE[0]}")/pg-lib.sh"
	pg_need
fi

# The store: section of a config on PostgreSQL (JIT_TEST_PG), else none.
_api_store_conf() {
	[ -n "${JIT_TEST_PG:-}" ] || return 0
	printf 'store:\n  url: %s\n  password_file: %s\n' "$PG_URL_NOPW" \
		"$PG_PWFILE"
}

# STORE_ARGS: the jit-ca options that open the server's store: --config
# with the server's config on PostgreSQL (JIT_TEST_PG), --data otherwise.
if [ -n "${JIT_TEST_PG:-}" ]; then
	STORE_ARGS=(--config "$T/server.yaml")
else
	STORE_ARGS=(--data "$T/data")
fi

# Writes $T/server.yaml for port $1 (serve_free_port's WRITE_FN).
_api_server_conf() {
	cat >"$T/server.yaml" <<EOF
listen: 127.0.0.1:$1
data: $T/data
policies: $T/policy.yaml
clock_skew: ${API_CLOCK_SKEW:-60s}
max_body: 64KiB
max_wait: ${API_MAX_WAIT:-20s}
sweep_interval: 1s
rate_limit: ${API_RATE_LIMIT:-0}
$(_api_store_conf)
$_API_EXTRA
EOF
}

api_start() {
	local rc=0
	_API_EXTRA=${1:-}
	[ -f "$T/policy.yaml" ] || api_policy
	if [ -n "${JIT_TEST_PG:-}" ] && [ -z "$PG_PORT" ]; then
		pg_start || return 1
	fi
	API_STARTS=$((${API_STARTS:-0} + 1))
	API_LOG=$T/server.$API_STARTS.log
	SERVE_PORT_FIRST=$API_PORT serve_free_port "$API_LOG" \
		_api_server_conf "$JIT_CA" serve --config "$T/server.yaml" || rc=1
	# Also after a failed start: callers read API_LOG and api_stop it.
	API_PID=$SERVE_PID
	API_PORT=$SERVE_PORT
	JURL=http://127.0.0.1:$API_PORT
	return $rc
}

api_stop() {
	kill -TERM "$API_PID" 2>/dev/null
	wait "$API_PID" 2>/dev/null
	API_RC=$?
	local p keep=()
	for p in "${_JIT_PIDS[@]}"; do
		[ "$p" = "$API_PID" ] || keep+=("$p")
	done
	_JIT_PIDS=("${keep[@]}")
}

api_tokens() {
	local u tok
	for u in "$@"; do
		tok=$("$JIT_CA" token create "$u" --config "$T/server.yaml" \
			2>/dev/null) || { echo "token create $u failed" >&2; return 1; }
		printf -v "TOK_$u" '%s' "$tok"
	done
}

api() {
	local tok=$1 m=$2 p=$3 args
	args=(-s -o "$T/.api.body" -w '%{http_code}' -X "$m" --max-time 60)
	[ -n "$tok" ] && args+=(-H "Authorization: Bearer $tok")
	if [ $# -ge 4 ]; then
		args+=(-H 'Content-Type: application/json' --data-binary "$4")
	fi
	STATUS=$(curl "${args[@]}" "$JURL$p")
	RB=$(cat "$T/.api.body")
}

jget() {
	printf '%s' "$1" | jq -r "$2" 2>/dev/null
}

audit_count() {
	curl -s "$JURL/metrics" | awk '$1=="jit_audit_entries"{print $2}'
}

# Audit entries of one event so far, read through the export as admin
# dave (api_tokens must have made TOK_dave).
audit_event_count() {
	curl -s -H "Authorization: Bearer $TOK_dave" \
		"$JURL/v1/audit?event=$1" | grep -c "\"event\":\"$1\""
}

# Audit entries that are not refusals ("request.refused" is written for
# some refused attempts, at most once a second per user).
audit_count_changes() {
	echo $(( $(audit_count) - $(audit_event_count request.refused) ))
}

new_request() {
	local tok=$1 role=$2 dur=${3:-} reason=${4:-} key=${5:-$T/user_key}
	local body
	body=$(jq -cn --arg r "$role" --arg k "$(cat "$key.pub")" \
		--arg d "$dur" --arg why "$reason" \
		'{role: $r, public_key: $k}
		 + (if $d == "" then {} elif ($d|test("^[0-9]+$")) then {duration: ($d|tonumber)} else {duration: $d} end)
		 + (if $why == "" then {} else {reason: $why} end)')
	api "$tok" POST /v1/requests "$body"
	RID=$(jget "$RB" '.id // empty')
}
