#!/bin/bash
# jit-ssh end to end with the real server, a real sshd on loopback and a
# real ssh-agent: alice logs in in the background, bob approves, alice's
# login returns and plain ssh (no -i) works through the agent; when the
# window passes ssh fails and the agent no longer lists the certificate.
# Without an agent the files work with ssh -i.  Plus setup, --resume,
# logout and the read-only commands.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/client-lib.sh"

need_env JIT_CA JIT_SSH
need_sshd
need_root
need_cmd ssh-agent ssh-add
ensure_test_users
U1=$JIT_USER1

client_server || exit 1
start_sshd --ca "$CA_PUB" --allow-users "$U1" || exit 1
start_agent || exit 1

# --- setup ---------------------------------------------------------------
run as alice "$JIT_SSH" login ops
assert_rc 1 "login refuses to run without a pinned CA key"
assert_contains "$ERR" "no pinned CA key" "and says why"

run as alice "$JIT_SSH" setup "$JURL" --token "$(cat "$T/TOKEN_alice")" --yes
assert_rc 0 "setup alice"
cfg=$T/home/alice/.config/jit-ssh/config
assert_file_mode 600 "$cfg" "config file is 0600"
ca_fp=$(ssh-keygen -lf "$CA_PUB" | awk '{print $2}')
assert_contains "$OUT$ERR" "$ca_fp" "setup shows the CA fingerprint"
assert_contains "$(cat "$cfg")" "ca_key = $(cut -d' ' -f1-2 "$CA_PUB")" \
	"setup pins the CA key"
client_setup bob || fail "setup bob"

run as alice "$JIT_SSH" whoami
assert_contains "$OUT" "alice" "whoami names alice"
run as alice "$JIT_SSH" ca
assert_eq "$(cut -d' ' -f1-2 "$CA_PUB")" "$(echo "$OUT" | cut -d' ' -f1-2)" \
	"ca prints the CA line"

# --- login through the agent ---------------------------------------------
jit_bg "$T/login1.log" env HOME="$T/home/alice" "$JIT_SSH" login ops \
	--for 12s --reason "INC-1 e2e"
LOGIN_PID=$JIT_BG_PID
id=$(wait_request_id "$T/login1.log") || fail "login printed a request id" \
	"$(cat "$T/login1.log")"
run as bob "$JIT_SSH" list --pending
assert_contains "$OUT" "$id" "bob sees the request in list --pending"
run as bob "$JIT_SSH" approve "$id" --comment "ok for INC-1"
assert_rc 0 "bob approves"
approved_at=$(date +%s)
wait "$LOGIN_PID"
rc=$?
assert_eq 0 "$rc" "alice's login returns 0 after the approval"
log=$(cat "$T/login1.log")
assert_contains "$log" "approved by bob" "login names the approver"
assert_contains "$log" "principals:  $U1" "login prints the principals"
assert_contains "$log" "ssh $U1@HOST" "login prints the ssh command"
assert_match "$log" "expires: +[0-9]{4}-[0-9]{2}-[0-9]{2}T" \
	"login prints the expiry"

jd=$T/home/alice/.ssh/jit
assert_file_mode 700 "$jd" "~/.ssh/jit is 0700"
assert_file_mode 600 "$jd/ops" "key file is 0600"
run ssh-keygen -L -f "$jd/ops-cert.pub"
assert_contains "$OUT" "$U1" "certificate file holds the principal"
assert_contains "$(agent_list)" "jit-ssh:ops" \
	"the agent holds the certificate with comment jit-ssh:ops"
assert_contains "$(agent_list)" "ssh-ed25519-cert-v01@openssh.com" \
	"the agent identity is a certificate"

got=$(ssh_agent_try "$U1" id -un)
assert_eq "$U1" "$got" "plain ssh (no -i) logs in through the agent"

run as alice "$JIT_SSH" status "$id"
assert_contains "$OUT" "approved" "status shows approved"
run as alice "$JIT_SSH" status "$id" --json
assert_match "$OUT" '"state": "approved"' "status --json"

# --- expiry: the first grant (12 s) ends --------------------------------
# login --resume of an approved request re-fetches and re-verifies the
# certificate and installs it again (same window).
run as alice "$JIT_SSH" login --resume "$id"
assert_rc 0 "login --resume of the approved request reinstalls it"
assert_eq 1 "$(agent_list | grep -c 'jit-ssh:ops')" \
	"reinstalling replaced the role's agent identity"
left=$((approved_at + 12 - $(date +%s)))
if [ "$left" -gt 1 ]; then
	got=$(ssh_agent_try "$U1" id -un)
	assert_eq "$U1" "$got" "ssh works inside the window"
	sleep $((left + 2))
else
	sleep 3
fi
run ssh_agent_try "$U1"
assert_ne 0 "$RC" "after the window ssh through the agent fails"
assert_not_contains "$(agent_list)" "jit-ssh:ops" \
	"after the window the agent no longer lists the certificate"


# A second login for the same role replaces the agent identity, and also
# the installed certificate if someone ran ssh-add on the files.
ssh-add -q "$jd/ops" 2>/dev/null
cp "$jd/ops.pub" "$T/old-ops.pub"
jit_bg "$T/login2.log" env HOME="$T/home/alice" "$JIT_SSH" login ops \
	--for 10m
LOGIN_PID=$JIT_BG_PID
id2=$(wait_request_id "$T/login2.log")
as bob "$JIT_SSH" approve "$id2" >/dev/null
wait "$LOGIN_PID"
assert_eq 0 "$?" "second login for ops"
assert_eq 1 "$(agent_list | grep -c 'jit-ssh:ops')" \
	"the older certificate of the role was removed from the agent"
assert_eq 1 "$(agent_list | grep -c 'cert-v01@openssh.com')" \
	"the ssh-add'ed copy of the old certificate was removed too"
ssh-add -q -d "$T/old-ops.pub" 2>/dev/null
run as alice "$JIT_SSH" logout ops
assert_rc 0 "logout ops"
assert_eq 0 "$(agent_list | grep -c 'jit-ssh:ops')" "logout empties the agent"
[ ! -e "$jd/ops" ] && [ ! -e "$jd/ops-cert.pub" ] && ok "logout deletes the files" ||
	fail "logout deletes the files" "$(ls -la "$jd")"
run ssh_agent_try "$U1"
assert_ne 0 "$RC" "after logout ssh through the agent fails"

# --- no agent: files and ssh -i ------------------------------------------
jit_bg "$T/login3.log" env HOME="$T/home/alice" SSH_AUTH_SOCK= \
	"$JIT_SSH" login ops --for 10m --no-agent
LOGIN_PID=$JIT_BG_PID
id3=$(wait_request_id "$T/login3.log")
as bob "$JIT_SSH" approve "$id3" >/dev/null
wait "$LOGIN_PID"
assert_eq 0 "$?" "login --no-agent"
assert_contains "$(cat "$T/login3.log")" "ssh -i $jd/ops $U1@HOST" \
	"without the agent it prints the ssh -i command"
assert_not_contains "$(agent_list)" "jit-ssh:ops" "--no-agent leaves the agent alone"
got=$(ssh_files_try "$jd/ops" "$U1" id -un)
assert_eq "$U1" "$got" "ssh -i with the installed files logs in"

# --- no running agent at all (SSH_AUTH_SOCK unset) -----------------------
jit_bg "$T/login4.log" env -u SSH_AUTH_SOCK HOME="$T/home/alice" \
	"$JIT_SSH" login ops --for 10m
LOGIN_PID=$JIT_BG_PID
id4=$(wait_request_id "$T/login4.log")
as bob "$JIT_SSH" approve "$id4" >/dev/null
wait "$LOGIN_PID"
assert_eq 0 "$?" "login without any agent"
assert_contains "$(cat "$T/login4.log")" "none running" "says no agent runs"
got=$(ssh_files_try "$jd/ops" "$U1" id -un)
assert_eq "$U1" "$got" "and ssh -i works"

# --- --key and --no-wait / --resume ---------------------------------------
make_user_key ed25519 "$T/mykey"
run as alice "$JIT_SSH" login ops --key "$T/mykey" --no-wait --for 10m
assert_rc 0 "login --no-wait returns at once"
id5=$(echo "$OUT" | head -n 1)
assert_match "$id5" '^r-' "--no-wait prints the request id"
as bob "$JIT_SSH" approve "$id5" >/dev/null
run as alice "$JIT_SSH" login --resume "$id5" --key "$T/mykey" --json
assert_rc 0 "login --resume --key after approval"
assert_match "$OUT" '"agent": true' "--json reports the agent install"
[ -L "$jd/ops" ] && [ "$(readlink "$jd/ops")" = "$T/mykey" ] &&
	ok "--key: ~/.ssh/jit/ROLE links to the user's key" ||
	fail "--key: ~/.ssh/jit/ROLE links to the user's key" "$(ls -la "$jd")"
got=$(ssh_agent_try "$U1" id -un)
assert_eq "$U1" "$got" "ssh through the agent with the --key certificate"

run as alice "$JIT_SSH" status
assert_contains "$OUT" "$id5" "status lists alice's requests"
assert_contains "$OUT" "installed certificates" "and the installed ones"
run as alice "$JIT_SSH" logout
assert_rc 0 "logout (all roles)"
assert_not_contains "$(agent_list)" "jit-ssh:" "logout empties the agent"
[ -e "$T/mykey" ] && ok "logout leaves the --key file itself alone" ||
	fail "logout leaves the --key file itself alone"

finish
