#!/bin/bash
# What approvers and requesters see, through the real server and jit-ssh:
# list --pending shows each request's start ("at approval", or the start
# asked for) and duration and what it still needs in words; approve
# prints the principals and the window it approves and what is still
# missing; --json carries start, duration, not_before/not_after and
# missing as the server sends them.  A two-person rule with a required
# group (two approvals, one from security) reads "needs 1 more approval
# from group:security" after two SRE approvals, in approve, status, list
# and the waiting login's progress line, never "3/2" or "2 of 2".
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/client-lib.sh"

need_env JIT_CA JIT_SSH
need_cmd curl jq

client_server "  twoman:
    principals: [$JIT_USER1, $JIT_USER2]
    requesters: [group:dev]
    approvers: [group:sre, group:security]
    approvals: 2
    require_groups: [security]
    max_duration: 2h
    default_duration: 1h
    pending_timeout: 1h
    key_types: [ed25519]
  later:
    principals: [$JIT_USER1]
    requesters: [group:dev]
    approvers: [group:sre]
    approvals: 1
    max_duration: 1h
    default_duration: 10m
    pending_timeout: 1h
    max_start_ahead: 1h
    extensions: [permit-pty]
    key_types: [ed25519]" "  dave:  {groups: [sre]}
  erin:  {groups: [security]}" || exit 1
for u in alice bob dave erin; do client_setup "$u" || fail "setup $u"; done

NEEDS2="needs 1 more approval from group:security and 1 more from any approver"
NEEDS1="needs 1 more approval from group:security"

# ---- a two-person rule, at 0, 1, 2 and 3 approvals ------------------------
run as alice "$JIT_SSH" login twoman --no-wait --reason "INC-9 migrate"
assert_rc 0 "alice asks for twoman (--no-wait)"
id=$(echo "$OUT" | head -n 1)
assert_match "$id" '^r-[a-z2-7]{12}$' "the request id is printed"

run as bob "$JIT_SSH" list --pending
assert_rc 0 "bob lists the pending requests"
row=$(echo "$OUT" | grep "^$id ")
assert_match "$row" "^$id +pending +alice +twoman +at approval +1h +INC-9 migrate$" \
	"list --pending: id, state, user, role, start at approval, duration, reason"
assert_contains "$(echo "$OUT" | grep -A1 "^$id " | tail -n 1)" "$NEEDS2" \
	"list --pending: the next line says what is missing, in words"
assert_match "$(echo "$OUT" | head -n 1)" '^ID +STATE +USER +ROLE +START +DURATION +REASON$' \
	"list: the header names the columns"

run as bob "$JIT_SSH" list --pending --json
r=$(jq -c --arg id "$id" '.requests[] | select(.id == $id)' <<<"$OUT")
assert_eq '3600 [{"count":1,"from":"group:security"},{"count":1,"from":"any approver"}] null' \
	"$(jq -c '[.duration, .missing, .start] | "\(.[0]) \(.[1] | tojson) \(.[2])"' -r <<<"$r")" \
	"list --json: duration and missing as the server sends them, no start"

run as alice "$JIT_SSH" status "$id"
assert_contains "$OUT" "state:         pending, $NEEDS2" "status ID: what is missing, in words"
assert_contains "$OUT" "window:        starts at approval, lasts 1h" \
	"status ID: the window starts at approval"
assert_contains "$OUT" "role:          twoman (principals: $JIT_USER1,$JIT_USER2)" \
	"status ID: the role and its principals"

run as alice "$JIT_SSH" status
assert_contains "$(echo "$OUT" | grep -A1 "^$id ")" "$NEEDS2" \
	"status: a pending request is followed by what it needs"

# alice waits for it (not on a terminal: one line per change).
jit_bg "$T/wait.log" env HOME="$T/home/alice" "$JIT_SSH" login --resume "$id" \
	--no-agent
LOGIN_PID=$JIT_BG_PID
wait_for "grep -q 'needs' '$T/wait.log'" 10
assert_contains "$(cat "$T/wait.log")" "request $id (twoman): pending, $NEEDS2" \
	"progress line at 0 approvals: what is missing, in words"

run as bob "$JIT_SSH" approve "$id" --comment "sre ok"
assert_rc 0 "bob approves"
assert_contains "$OUT" "request $id" "approve names the request"
assert_contains "$OUT" "state:         pending, $NEEDS1" \
	"approve (1 of 2, sre): still one from security"
assert_contains "$OUT" "role:          twoman (principals: $JIT_USER1,$JIT_USER2)" \
	"approve prints the principals it approves"
assert_contains "$OUT" "window:        starts at approval, lasts 1h" \
	"approve prints the window it approves"
assert_contains "$OUT" "user:          alice" "approve prints whose request it is"
wait_for "grep -q 'approved by bob' '$T/wait.log'" 10
assert_contains "$(cat "$T/wait.log")" "pending, $NEEDS1 (approved by bob)" \
	"progress line at 1 approval"

run as dave "$JIT_SSH" approve "$id"
assert_rc 0 "dave approves"
assert_contains "$OUT" "state:         pending, $NEEDS1" \
	"approve (2 approvals, both sre): still one from security"
run as bob "$JIT_SSH" list --pending
assert_contains "$(echo "$OUT" | grep -A1 "^$id " | tail -n 1)" "$NEEDS1" \
	"list --pending after two sre approvals: still one from security"
run as alice "$JIT_SSH" status "$id"
assert_contains "$OUT" "state:         pending, $NEEDS1" "status after two sre approvals"
wait_for "grep -q 'approved by bob, dave' '$T/wait.log'" 10
assert_contains "$(cat "$T/wait.log")" "pending, $NEEDS1 (approved by bob, dave)" \
	"progress line after two sre approvals"

run as erin "$JIT_SSH" approve "$id" --comment "security ok"
assert_rc 0 "erin (security) approves"
assert_contains "$OUT" "state:         approved" "the third approval grants it"
nb=$(curl -s -H "Authorization: Bearer $(cat "$T/TOKEN_erin")" "$JURL/v1/requests/$id" | jq -r .not_before)
na=$(curl -s -H "Authorization: Bearer $(cat "$T/TOKEN_erin")" "$JURL/v1/requests/$id" | jq -r .not_after)
assert_contains "$OUT" "window:        $nb to $na (1h)" \
	"approve of the last approval prints not_before and not_after"
assert_not_contains "$OUT" "needs" "nothing is missing once approved"
wait "$LOGIN_PID"
assert_eq 0 "$?" "alice's waiting login installs the certificate"
log=$(cat "$T/wait.log")
assert_not_contains "$log" "3/2" "the progress line never reads 3/2"
assert_not_contains "$log" "of 2" "nor N of 2"
assert_contains "$log" "Access granted for role twoman" "login reports the grant"

# ---- a start asked for: shown to the approver, kept by the window -----------
start=$(date -u -d '+30 minutes' +%Y-%m-%dT%H:%M:%SZ)
ssh-keygen -q -t ed25519 -N '' -f "$T/later_key"
body=$(jq -cn --arg k "$(cat "$T/later_key.pub")" --arg s "$start" \
	'{role: "later", duration: "10m", reason: "INC-10", public_key: $k, start: $s}')
lid=$(curl -s -H "Authorization: Bearer $(cat "$T/TOKEN_alice")" \
	"$JURL/v1/requests" -d "$body" | jq -r .id)
assert_match "$lid" '^r-' "a request with a start 30 minutes ahead"
run as bob "$JIT_SSH" list --pending
assert_match "$(echo "$OUT" | grep "^$lid ")" \
	"^$lid +pending +alice +later +$start +10m +INC-10$" \
	"list --pending shows the start asked for and the duration"
assert_contains "$(echo "$OUT" | grep -A1 "^$lid " | tail -n 1)" \
	"needs 1 more approval from any approver" "and what it needs"
run as bob "$JIT_SSH" status "$lid"
assert_contains "$OUT" "window:        starts at $start (or at approval, if later), lasts 10m" \
	"status ID shows the start asked for"
assert_contains "$OUT" "extensions:    permit-pty" "status ID shows the recorded extensions"
run as bob "$JIT_SSH" list --pending --json
assert_eq "$start 600" "$(jq -r --arg id "$lid" '.requests[] | select(.id == $id) | "\(.start) \(.duration)"' <<<"$OUT")" \
	"list --pending --json carries start and duration"
end=$(date -u -d "$start 10 minutes" +%Y-%m-%dT%H:%M:%SZ)
run as bob "$JIT_SSH" approve "$lid"
assert_rc 0 "bob approves the later request"
assert_contains "$OUT" "window:        $start to $end (10m)" \
	"approve prints the window it approved: from the start asked for"
run as bob "$JIT_SSH" approve "$lid" --json
assert_ne 0 "$RC" "approving twice is refused"
run as alice "$JIT_SSH" login --resume "$lid" --key "$T/later_key" --no-agent
assert_rc 0 "alice installs the later grant"
assert_match "$OUT" "starts: +$start \(in (29|30)m" \
	"login says when a grant that starts later becomes usable"
assert_contains "$OUT" "expires:     $end" "and when it ends"
run ssh-keygen -Lf "$T/home/alice/.ssh/jit/later-cert.pub"
assert_contains "$OUT" "to $(date -u -d "$end" +%Y-%m-%dT%H:%M:%S)" \
	"the certificate ends where the approved window ends"
run as bob "$JIT_SSH" status "$lid" --json
assert_eq "$start $end 600 []" \
	"$(jq -r '"\(.not_before) \(.not_after) \(.duration) \(.missing | tojson)"' <<<"$OUT")" \
	"status --json: not_before = start, not_after, duration, missing"

# approve --json carries the members as the server sends them.
run as alice "$JIT_SSH" login twoman --no-wait
id2=$(echo "$OUT" | head -n 1)
run as erin "$JIT_SSH" approve "$id2" --json
assert_rc 0 "approve --json"
assert_eq 'pending 3600 [{"count":1,"from":"any approver"}] null' \
	"$(jq -r '"\(.state) \(.duration) \(.missing | tojson) \(.not_before)"' <<<"$OUT")" \
	"approve --json: state, duration and missing (security done, one more)"

finish
