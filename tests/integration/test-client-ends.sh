#!/bin/bash
# How grants end, as jit-ssh sees them, against the real server and a
# real ssh-agent: `logout ROLE --revoke` relinquishes one's own grant on
# the server (its serial joins the KRL, the audit entry says
# relinquished) and removes it here; `status` marks a grant an approver
# revoked, removes it from the agent and lists the installed
# certificates in --json too; `login --resume` of a request that is over
# (denied, cancelled, expired, revoked, ended) says so with exit 3 or 4;
# the keys kept in ~/.ssh/jit/pending go when their request ends without
# a certificate (cancel, deny, expiry) and on logout.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/client-lib.sh"

need_env JIT_CA JIT_SSH
need_cmd ssh-agent ssh-add ssh-keygen curl jq

client_server || exit 1
start_agent || exit 1
client_setup alice || { fail "setup alice"; finish; }
client_setup bob || { fail "setup bob"; finish; }
jd=$T/home/alice/.ssh/jit
pend=$jd/pending

# ask [ARGS...]: alice asks for a role without waiting; prints the id.
ask() {
	as alice "$JIT_SSH" login "$@" --no-wait 2>/dev/null | head -n 1
}
# granted ROLE [ARGS...]: alice logs in, bob approves; sets GID.
granted() {
	local log=$T/login-$RANDOM.log
	jit_bg "$log" env HOME="$T/home/alice" "$JIT_SSH" login "$@"
	local pid=$JIT_BG_PID
	GID=$(wait_request_id "$log")
	as bob "$JIT_SSH" approve "$GID" >/dev/null
	wait "$pid" || fail "login $* for $GID" "$(cat "$log")"
}
state_of() {
	as alice "$JIT_SSH" status "$1" --json | jq -r .state
}
has_key() { [ -e "$pend/$1" ]; }

# ---- denied: login --resume says so (exit 3) and drops the key ---------------
id=$(ask ops)
has_key "$id" && ok "a pending key is kept for $id" || fail "pending key for $id"
as bob "$JIT_SSH" deny "$id" --comment "not today" >/dev/null
run as alice "$JIT_SSH" login --resume "$id"
assert_rc 3 "login --resume of a denied request exits 3"
assert_contains "$ERR" "request $id was denied by bob: \"not today\"" \
	"and says who denied it and why"
assert_not_contains "$ERR" "is not the key" "not a complaint about the key"
has_key "$id" && fail "denied: the pending key is deleted" ||
	ok "denied: the pending key is deleted"

# ---- denied while nobody waits: status drops the key --------------------------
id=$(ask ops)
as bob "$JIT_SSH" deny "$id" --comment "no" >/dev/null
has_key "$id" && ok "the key is still there before status" ||
	fail "the key is still there before status"
run as alice "$JIT_SSH" status
assert_rc 0 "status"
has_key "$id" && fail "status deletes the key of a denied request" ||
	ok "status deletes the key of a denied request"
run as alice "$JIT_SSH" login --resume "$id"
assert_rc 3 "login --resume without the key still reports the denial"
assert_contains "$ERR" "request $id was denied by bob" "and names who denied it"

# ---- cancelled: jit-ssh cancel drops the key; --resume exits 4 ----------------
id=$(ask ops)
run as alice "$JIT_SSH" cancel "$id"
assert_rc 0 "cancel"
has_key "$id" && fail "cancel deletes the pending key" ||
	ok "cancel deletes the pending key"
run as alice "$JIT_SSH" login --resume "$id"
assert_rc 4 "login --resume of a cancelled request exits 4"
assert_contains "$ERR" "request $id was cancelled" "and says it was cancelled"

# ---- expired (pending_timeout 3 s) ------------------------------------------------
id=$(ask quick)
wait_for "[ \"\$(state_of $id)\" = expired ]" 15 ||
	fail "the quick request expires" "$(state_of "$id")"
run as alice "$JIT_SSH" login --resume "$id"
assert_rc 4 "login --resume of an expired request exits 4"
assert_contains "$ERR" "request $id expired" "and says it expired"
has_key "$id" && fail "expired: the pending key is deleted" ||
	ok "expired: the pending key is deleted"

# ---- revoked by an approver: status marks it and empties the agent -----------
granted ops --for 10m
rid=$GID
assert_contains "$(agent_list)" "jit-ssh:ops" "ops is in the agent"
run as bob "$JIT_SSH" revoke "$rid" --comment "laptop stolen"
assert_rc 0 "bob revokes alice's grant"
assert_contains "$(agent_list)" "jit-ssh:ops" "revoking on the server leaves alice's agent alone"
run as alice "$JIT_SSH" status
assert_rc 0 "status after the revocation"
assert_match "$(echo "$OUT" | grep -A20 'installed certificates')" \
	"ops +$JIT_USER1 until [0-9T:Z-]+ REVOKED by bob at [0-9T:Z-]+, removed from ssh-agent" \
	"status marks the revoked grant and says it left the agent"
assert_not_contains "$(agent_list)" "jit-ssh:ops" "status removed it from the agent"
[ -e "$jd/ops-cert.pub" ] && ok "its files stay until logout" ||
	fail "its files stay until logout"
run as alice "$JIT_SSH" status --json
assert_eq "ops $rid revoked bob false" \
	"$(jq -r '.installed[] | "\(.role) \(.request) \(.state) \(.revoked_by) \(.removed_from_agent)"' <<<"$OUT")" \
	"status --json lists the installed certificate with its request's state"
assert_eq "$(ssh-keygen -Lf "$jd/ops-cert.pub" | awk '/Serial:/ {print $2}')" \
	"$(jq -r '.installed[0].serial' <<<"$OUT")" "status --json: the serial"
assert_match "$(jq -r '.requests[0].id' <<<"$OUT")" '^r-' \
	"status --json still carries the requests"
run as alice "$JIT_SSH" login --resume "$rid"
assert_rc 4 "login --resume of a revoked request exits 4"
assert_contains "$ERR" "request $rid was revoked by bob: \"laptop stolen\"" \
	"and says who revoked it and why"

# ---- an active grant: status shows it unmarked, in text and JSON -----------------
granted ops --for 10m
run as alice "$JIT_SSH" status
assert_match "$(echo "$OUT" | grep -A20 'installed certificates')" \
	"ops +$JIT_USER1 until [0-9T:Z-]+$" "an active grant is listed without a mark"
run as alice "$JIT_SSH" status --json
assert_eq "ops $GID approved false" \
	"$(jq -r '.installed[] | "\(.role) \(.request) \(.state) \(.expired)"' <<<"$OUT")" \
	"status --json: the active grant"

# ---- logout ROLE --revoke: relinquished on the server, gone here --------------
cp "$jd/ops-cert.pub" "$T/relinquished-cert.pub"
serial=$(ssh-keygen -Lf "$T/relinquished-cert.pub" | awk '/Serial:/ {print $2}')
run as alice "$JIT_SSH" logout ops --revoke --url "http://127.0.0.1:$(free_port)"
assert_rc 1 "logout --revoke with the server down fails"
[ -e "$jd/ops-cert.pub" ] && assert_contains "$(agent_list)" "jit-ssh:ops" \
	"a grant that could not be revoked keeps its files and agent identity" ||
	fail "a grant that could not be revoked keeps its files"
run as alice "$JIT_SSH" logout ops --comment x
assert_rc 2 "--comment without --revoke is a usage error"
run as alice "$JIT_SSH" logout ops --revoke --comment "done early"
assert_rc 0 "logout ops --revoke"
assert_contains "$OUT" "ops: request $GID revoked" "says the request was revoked"
assert_eq "revoked alice done early" \
	"$(as alice "$JIT_SSH" status "$GID" --json | jq -r '"\(.state) \(.revoked_by) \(.revoke_comment)"')" \
	"the server has it revoked by alice herself"
assert_match "$(as alice "$JIT_SSH" status "$GID")" \
	"end reason: +relinquished \(its requester gave it up\)" \
	"status says she relinquished it (end_reason)"
[ ! -e "$jd/ops" ] && [ ! -e "$jd/ops-cert.pub" ] &&
	ok "logout --revoke deletes the files" || fail "logout --revoke deletes the files"
assert_not_contains "$(agent_list)" "jit-ssh:ops" "and empties the agent"
curl -fsS "$JURL/v1/krl" -o "$T/krl"
run ssh-keygen -Q -f "$T/krl" "$T/relinquished-cert.pub"
assert_contains "$OUT" "REVOKED" "the relinquished serial $serial is in the KRL"
audit=$(curl -fsS -H "Authorization: Bearer $(cat "$T/TOKEN_bob")" \
	"$JURL/v1/audit?event=request.revoke" | grep "\"$GID\"")
assert_eq "alice true" "$(jq -r '"\(.actor) \(.relinquished)"' <<<"$audit")" \
	"the audit entry says alice relinquished it"

# Already revoked by an approver: logout --revoke still removes it.
granted ops --for 10m
as bob "$JIT_SSH" revoke "$GID" >/dev/null
run as alice "$JIT_SSH" logout ops --revoke --json
assert_rc 0 "logout --revoke of a grant already revoked"
assert_eq "1 []" "$(jq -c '"\(.roles) \(.revoked)"' -r <<<"$OUT")" \
	"--json: one role removed, nothing newly revoked"
[ ! -e "$jd/ops-cert.pub" ] && ok "and its files are gone" ||
	fail "and its files are gone"
run as alice "$JIT_SSH" logout ops --revoke
assert_rc 1 "logout --revoke with nothing installed fails"
assert_contains "$ERR" "nothing to revoke" "and says so"

# ---- ended: the window closed ------------------------------------------------------
granted ops --for 3s
eid=$GID
wait_for "[ \"\$(state_of $eid)\" = ended ]" 15 ||
	fail "the 3 s grant ends" "$(state_of "$eid")"
run as alice "$JIT_SSH" login --resume "$eid"
assert_rc 4 "login --resume of an ended grant exits 4"
assert_contains "$ERR" "request $eid has ended" "and says it has ended"
assert_match "$(as alice "$JIT_SSH" status "$eid")" \
	"end reason: +ended \(its window closed\)" "status says its window closed"
run as alice "$JIT_SSH" status
assert_match "$(echo "$OUT" | grep -A20 'installed certificates')" \
	"ops +$JIT_USER1 until [0-9T:Z-]+ \(expired\)" "status marks the expired certificate"

# ---- logout (every role) drops the pending keys --------------------------------
id=$(ask ops)
has_key "$id" && ok "a pending key before logout" || fail "a pending key before logout"
run as alice "$JIT_SSH" logout
assert_rc 0 "logout"
assert_contains "$OUT" "1 key of requests not installed" "logout says it dropped the key"
assert_eq "" "$(ls -A "$pend")" "~/.ssh/jit/pending is empty after logout"
as alice "$JIT_SSH" cancel "$id" >/dev/null

finish
