# shellcheck shell=bash
# tests/integration/client-lib.sh - helpers for the jit-ssh client tests
# (test-client-*.sh), on top of lib.sh (source that first).
#
#   client_server [EXTRA_ROLES_YAML [EXTRA_USERS_YAML]]
#       Start a real `jit-ca serve` on a free loopback port with a test
#       policy (users alice/carol in dev, bob in dev+sre; roles "ops"
#       (1 approval, principal $JIT_USER1) and "quick" (pending_timeout
#       3s)), plus the roles and users given (YAML lines indented by two
#       spaces, as in the policy's roles: and users: maps), make a token
#       per user in $T/TOKEN_alice etc.  Sets JURL, SERVER_PID, CA_PUB
#       ($T/data/ca_key.pub).
#   client_setup USER           jit-ssh setup $JURL --token-file ... --yes as
#                               USER (HOME=$T/home/USER)
#   as USER CMD...              run CMD with HOME=$T/home/USER
#   start_agent                 ssh-agent -D on $T/agent.sock; exports
#                               SSH_AUTH_SOCK, sets AGENT_PID
#   agent_list                  ssh-add -L (empty when no identities)
#   wait_request_id LOG         wait for "request ID ... created" in LOG,
#                               print ID
#   ssh_agent_try USER [CMD]    plain ssh (no -i) through the agent to the
#                               test sshd (lib.sh's ssh_login)
#   ssh_files_try KEY USER      ssh -i KEY, no agent (ssh_try KEY "" USER)
#   fake_server DIR SCRIPT [ARG...]
#       Run DIR/SCRIPT (python3) as a fake jit-ca server on a free
#       loopback port; sets FURL.  SCRIPT does `from fakelib import *`,
#       defines a handler class H(Handler) with do_GET/do_POST (which
#       answer with self.send(CODE, BODY[, CTYPE]); a BODY that is not
#       a string is sent as JSON) and ends with serve(H, DIR).

_client_server_conf() {
	cat >"$T/server.yaml" <<EOF
listen: 127.0.0.1:$1
data: $T/data
policies: $T/policy.yaml
sweep_interval: 1s
EOF
}

client_server() {
	local extra=${1:-} extra_users=${2:-} u users="alice bob carol"
	mkdir -p "$T/home"
	users="$users $(printf '%s\n' "$extra_users" |
		sed -n 's/^  \([a-z0-9_-]*\):.*/\1/p' | tr '\n' ' ')"
	cat >"$T/policy.yaml" <<EOF
users:
  alice: {groups: [dev]}
  bob:   {groups: [dev, sre]}
  carol: {groups: [dev]}
$extra_users
admins: [bob]
auditors: [bob]
roles:
  ops:
    principals: [$JIT_USER1]
    requesters: [group:dev]
    approvers: [group:sre]
    approvals: 1
    max_duration: 1h
    default_duration: 10m
    pending_timeout: 1h
    reason: optional
    extensions: [permit-pty]
    key_types: [ed25519, ecdsa, rsa]
  quick:
    principals: [$JIT_USER1]
    requesters: [group:dev]
    approvers: [group:sre]
    approvals: 1
    max_duration: 1h
    default_duration: 10m
    pending_timeout: 3s
    reason: optional
    key_types: [ed25519]
$extra
EOF
	local port
	# wait_port alone would be fooled by another process that took the
	# port first: wait for our server's own "listening on".
	serve_free_port "$T/server.log" _client_server_conf \
		"$JIT_CA" serve --config "$T/server.yaml" || {
		echo "jit-ca serve did not start" >&2; return 1; }
	SERVER_PID=$SERVE_PID
	port=$SERVE_PORT
	JURL=http://127.0.0.1:$port
	CA_PUB=$T/data/ca_key.pub
	for u in $users; do
		"$JIT_CA" token create "$u" --config "$T/server.yaml" \
			>"$T/TOKEN_$u" 2>/dev/null || {
			echo "token create $u failed" >&2; return 1; }
		mkdir -p "$T/home/$u"
	done
}

as() {
	local u=$1
	shift
	HOME=$T/home/$u "$@"
}

client_setup() {
	as "$1" "$JIT_SSH" setup "$JURL" --token-file "$T/TOKEN_$1" \
		--yes </dev/null >/dev/null 2>"$T/setup-$1.err"
}

start_agent() {
	jit_bg "$T/agent.log" ssh-agent -D -a "$T/agent.sock"
	AGENT_PID=$JIT_BG_PID
	wait_for "[ -S '$T/agent.sock' ]" 5 || { echo "ssh-agent did not start" >&2; return 1; }
	export SSH_AUTH_SOCK=$T/agent.sock
}

agent_list() {
	ssh-add -L 2>/dev/null
	return 0
}

wait_request_id() {
	local log=$1
	wait_for "grep -qE 'request r-[A-Za-z0-9_-]+ for role' '$log'" 10 ||
		return 1
	grep -oE 'request r-[A-Za-z0-9_-]+ for role' "$log" | head -n 1 |
		awk '{print $2}'
}

ssh_agent_try() {
	local user=$1
	shift
	ssh_login "$user" -o IdentityAgent="$SSH_AUTH_SOCK" -- "$@"
}

ssh_files_try() {
	local key=$1 user=$2
	shift 2
	ssh_try "$key" "" "$user" "$@"
}

fake_server() {
	local dir=$1 script=$2
	shift 2
	cat >"$dir/fakelib.py" <<'EOF'
import json, os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def send(self, code, body, ctype="application/json"):
        if not isinstance(body, str): body = json.dumps(body)
        b = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)

def serve(handler, d):
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    with open(d + "/port.tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(d + "/port.tmp", d + "/port")
    srv.serve_forever()
EOF
	rm -f "$dir/port"
	jit_bg "$dir/server.log" env PYTHONPATH="$dir" python3 "$dir/$script" "$@"
	wait_for "[ -s '$dir/port' ]" 10 || {
		echo "the fake server did not start: $(cat "$dir/server.log")" >&2
		return 1
	}
	FURL=http://127.0.0.1:$(cat "$dir/port")
}
