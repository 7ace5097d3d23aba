#!/bin/bash
# jit-ssh flows that end without access, against the real server: denied,
# cancelled, expired (pending_timeout), --timeout, Ctrl-C (request stays
# pending, resumable); and connection problems: server down, bad URL, bad
# token, each one clear line.  Nothing is installed in any of them.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/client-lib.sh"

need_env JIT_CA JIT_SSH
need_root
need_cmd ssh-agent ssh-add ssh-keygen
ensure_test_users

client_server || exit 1
start_agent || exit 1
client_setup alice || { fail "setup alice"; finish; }
client_setup bob || { fail "setup bob"; finish; }
jd=$T/home/alice/.ssh/jit

nothing_installed() {
	if [ ! -e "$jd/$1" ] && [ ! -e "$jd/$1-cert.pub" ] &&
		! agent_list | grep -q "jit-ssh:$1"; then
		ok "$2: nothing installed"
	else
		fail "$2: nothing installed" "$(ls -la "$jd" 2>&1)" "$(agent_list)"
	fi
}

# --- denied ----------------------------------------------------------------
jit_bg "$T/deny.log" env HOME="$T/home/alice" "$JIT_SSH" login ops
LOGIN_PID=$JIT_BG_PID
id=$(wait_request_id "$T/deny.log")
run as bob "$JIT_SSH" deny "$id"
assert_rc 2 "deny without --comment is a usage error"
run as bob "$JIT_SSH" deny "$id" --comment "not during the freeze"
assert_rc 0 "bob denies"
wait "$LOGIN_PID"
assert_eq 3 "$?" "denied login exits 3"
assert_contains "$(cat "$T/deny.log")" \
	"request $id was denied by bob: \"not during the freeze\"" \
	"denied login prints who denied and the comment"
nothing_installed ops "denied"
[ ! -e "$jd/pending/$id" ] && ok "denied: the key made for it is deleted" ||
	fail "denied: the key made for it is deleted" "$(ls -la "$jd/pending")"

# --- cancelled (by alice from another shell) -------------------------------
jit_bg "$T/cancel.log" env HOME="$T/home/alice" "$JIT_SSH" login ops
LOGIN_PID=$JIT_BG_PID
id=$(wait_request_id "$T/cancel.log")
run as alice "$JIT_SSH" cancel "$id"
assert_rc 0 "alice cancels her request"
wait "$LOGIN_PID"
assert_eq 4 "$?" "cancelled login exits 4"
assert_contains "$(cat "$T/cancel.log")" "request $id was cancelled" \
	"cancelled login says so"
nothing_installed ops "cancelled"

# --- expired: nobody decides within the role's pending_timeout (3 s) -------
start=$(date +%s)
run as alice "$JIT_SSH" login quick
assert_rc 4 "expired login exits 4"
assert_match "$ERR" "request r-[^ ]+ expired" "expired login says so"
took=$(($(date +%s) - start))
[ "$took" -le 10 ] && ok "expiry noticed promptly (${took}s)" ||
	fail "expiry noticed promptly" "took ${took}s"
nothing_installed quick "expired"

# --- client-side --timeout: gives up, request stays pending ----------------
run as alice "$JIT_SSH" login ops --timeout 2s
assert_rc 4 "--timeout exits 4"
assert_contains "$ERR" "gave up waiting" "--timeout says it gave up"
id=$(echo "$ERR" | grep -oE 'request r-[A-Za-z0-9_-]+' | head -n 1 | awk '{print $2}')
run as alice "$JIT_SSH" status "$id" --json
assert_match "$OUT" '"state": "pending"' "after --timeout the request is still pending"
as alice "$JIT_SSH" cancel "$id" >/dev/null

# --- Ctrl-C: the request stays pending and can be resumed ------------------
jit_bg "$T/int.log" env HOME="$T/home/alice" "$JIT_SSH" login ops
LOGIN_PID=$JIT_BG_PID
id=$(wait_request_id "$T/int.log")
wait_for "grep -q needs '$T/int.log'" 20
t0=$(date +%s%N)
kill -INT "$LOGIN_PID"
wait "$LOGIN_PID"
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
assert_eq 130 "$rc" "Ctrl-C exits 130"
[ "$ms" -lt 2500 ] && ok "Ctrl-C ends the long-poll promptly (${ms} ms)" ||
	fail "Ctrl-C ends the long-poll promptly" "took ${ms} ms"
assert_contains "$(cat "$T/int.log")" "jit-ssh login --resume $id" \
	"Ctrl-C prints how to resume"
assert_contains "$(cat "$T/int.log")" "jit-ssh cancel $id" \
	"Ctrl-C prints how to cancel"
run as alice "$JIT_SSH" status "$id" --json
assert_match "$OUT" '"state": "pending"' "after Ctrl-C the request is still pending"
nothing_installed ops "interrupted"
# Resume it and get it approved.
jit_bg "$T/resume.log" env HOME="$T/home/alice" "$JIT_SSH" login --resume "$id"
LOGIN_PID=$JIT_BG_PID
wait_for "grep -q pending '$T/resume.log'" 5
as bob "$JIT_SSH" approve "$id" >/dev/null
wait "$LOGIN_PID"
assert_eq 0 "$?" "login --resume after Ctrl-C succeeds once approved"
assert_contains "$(agent_list)" "jit-ssh:ops" "resumed login installed the certificate"
as alice "$JIT_SSH" logout >/dev/null

# --- the server restarts while login waits: it keeps waiting --------------
jit_bg "$T/restart.log" env HOME="$T/home/alice" "$JIT_SSH" login ops
LOGIN_PID=$JIT_BG_PID
id=$(wait_request_id "$T/restart.log")
wait_for "grep -q needs '$T/restart.log'" 20
jit_kill "$SERVER_PID"
# Restart once the waiting login has noticed (20 s is a guard).
wait_for "grep -q retrying '$T/restart.log'" 20
jit_bg "$T/server2.log" "$JIT_CA" serve --config "$T/server.yaml"
SERVER_PID=$JIT_BG_PID
wait_port "${JURL##*:}" 10 || fail "server restarted" "$(cat "$T/server2.log")"
run as bob "$JIT_SSH" approve "$id"
assert_rc 0 "approve after the restart"
wait "$LOGIN_PID"
assert_eq 0 "$?" "login survives a server restart while waiting"
assert_contains "$(cat "$T/restart.log")" "retrying" "and says it is retrying"
as alice "$JIT_SSH" logout >/dev/null

# --- config file problems ----------------------------------------------------
cfg=$T/home/alice/.config/jit-ssh/config
cp "$cfg" "$T/config.good"
echo "ca_kye = typo" >>"$cfg"
assert_one_line_error "unknown config key" as alice "$JIT_SSH" whoami
assert_contains "$ERR" "unknown key 'ca_kye'" "unknown config key is named"
cp "$T/config.good" "$cfg"
run env HOME="$T/home/alice" JIT_SSH_URL="http://127.0.0.1:$(free_port)" \
	"$JIT_SSH" whoami
assert_contains "$ERR" "cannot connect" "JIT_SSH_URL overrides the config"
run env HOME="$T/home/alice" JIT_SSH_TOKEN=jit_bogus "$JIT_SSH" whoami
assert_contains "$ERR" "refused the token" "JIT_SSH_TOKEN overrides the config"
run env HOME="$T/home/alice" JIT_SSH_TOKEN=jit_bogus "$JIT_SSH" whoami \
	--token "$(cat "$T/TOKEN_alice")"
assert_rc 0 "--token overrides JIT_SSH_TOKEN"

# --- on a terminal: setup asks, login shows one live progress line --------
if command -v script >/dev/null 2>&1; then
	mkdir -p "$T/home/dave"
	run bash -c "(sleep 1; echo n) | HOME='$T/home/dave' script -qec \
		'$JIT_SSH setup $JURL' /dev/null"
	assert_ne 0 "$RC" "setup on a terminal: answering no fails"
	assert_contains "$OUT" "Trust this CA key" "setup on a terminal asks"
	[ ! -e "$T/home/dave/.config/jit-ssh/config" ] &&
		ok "setup on a terminal: no means no config" ||
		fail "setup on a terminal: no means no config"
	run bash -c "(sleep 1; echo y) | HOME='$T/home/dave' script -qec \
		'$JIT_SSH setup $JURL' /dev/null"
	assert_rc 0 "setup on a terminal: answering yes pins the CA"
	run bash -c "HOME='$T/home/alice' script -qec \
		'$JIT_SSH login ops --timeout 3s' /dev/null </dev/null"
	assert_contains "$OUT" $'\r\e[K' "login on a terminal rewrites one line"
	assert_contains "$OUT" "waited 0m02s" "the live line shows the time waited"
	assert_contains "$OUT" "pending, needs 1 more approval from any approver" \
		"the live line says what is still needed"
	id=$(echo "$OUT" | grep -oE 'request r-[A-Za-z0-9_-]+' | head -n 1 | awk '{print $2}')
	as alice "$JIT_SSH" cancel "$id" >/dev/null
fi

# --- connection problems: one clear line each -----------------------------
dead=$(free_port)
assert_one_line_error "server down" \
	as alice "$JIT_SSH" whoami --url "http://127.0.0.1:$dead"
assert_contains "$ERR" "cannot connect to the server" "server down: says so"
assert_one_line_error "server down during login" \
	as alice "$JIT_SSH" login ops --url "http://127.0.0.1:$dead"
assert_one_line_error "bad URL" as alice "$JIT_SSH" whoami --url "ftp:/nowhere"
assert_contains "$ERR" "bad server URL" "bad URL: says so"
assert_one_line_error "unresolvable host" \
	as alice "$JIT_SSH" whoami --url "http://no-such-host.invalid:1"
assert_one_line_error "bad token" \
	as alice "$JIT_SSH" whoami --token - <<<"jit_not-a-real-token"
assert_contains "$ERR" "refused the token" "bad token: says so"
assert_one_line_error "bad token (environment)" \
	env JIT_SSH_TOKEN=jit_bogus HOME="$T/home/alice" "$JIT_SSH" login ops
assert_one_line_error "not a jit-ca server" \
	as alice "$JIT_SSH" whoami --url "$JURL/nothing-here"
assert_one_line_error "unknown role" as alice "$JIT_SSH" login no-such-role
nothing_installed no-such-role "unknown role"
assert_one_line_error "setup against a dead server" \
	as carol "$JIT_SSH" setup "http://127.0.0.1:$dead" --yes
[ ! -e "$T/home/carol/.config/jit-ssh/config" ] &&
	ok "failed setup writes no config" || fail "failed setup writes no config"
assert_one_line_error "setup with a bad token" \
	as carol "$JIT_SSH" setup "$JURL" --token - --yes <<<bogus
[ ! -e "$T/home/carol/.config/jit-ssh/config" ] &&
	ok "setup with a bad token writes no config" ||
	fail "setup with a bad token writes no config"

# --- usage errors ---------------------------------------------------------
run as alice "$JIT_SSH" login
assert_rc 2 "login without a role is a usage error"
run as alice "$JIT_SSH" approve
assert_rc 2 "approve without an id is a usage error"
run as alice "$JIT_SSH" list --for 1h
assert_rc 2 "an option that does not apply is a usage error"
run as alice "$JIT_SSH" login ops --for 5x
assert_rc 2 "a bad duration is a usage error"
run "$JIT_SSH" --help
assert_rc 0 "--help"
assert_contains "$OUT" "Exit status:" "--help documents the exit codes"

finish
