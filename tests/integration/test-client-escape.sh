#!/bin/bash
# jit-ssh prints the server's text inert.  A fake server (python3
# http.server, below) answers /v1/whoami, /v1/requests and
# /v1/requests/ID with ANSI escape sequences (CSI, OSC, a title change),
# C1 controls, DEL, a newline that tries to forge a line, and bidi
# overrides and isolates in user names, roles, reasons, comments, the
# missing list and error details.  Whatever command shows them (setup,
# whoami, list, status, approve, deny, login and its progress line, on a
# terminal too), the output holds no raw ESC, C1, DEL or bidi control:
# they appear as \x1b, \u009b, \u202e; other UTF-8 ("café") is kept.
# --json stays lossless: jq reads back exactly what the server sent.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/client-lib.sh"

need_env JIT_SSH
need_cmd python3 ssh-keygen jq

F=$T/fake
mkdir -p "$F" "$T/home/alice"
ssh-keygen -q -t ed25519 -N '' -C fake-ca -f "$F/ca"
ssh-keygen -q -t ed25519 -N '' -C user -f "$F/user"

cat >"$F/server.py" <<'EOF'
import json, os, sys, time
from fakelib import *

F = sys.argv[1]
ESC = "\x1b"
now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
userkey = open(F + "/user.pub").read().split(" ")[0:2]

def req(id, state, **kw):
    r = {"id": id, "state": state, "user": "alice", "role": "ops",
         "principals": ["deploy"], "reason": None, "duration": 3600,
         "public_key": " ".join(userkey), "key_type": "ed25519",
         "approvals": [], "denials": [], "approvals_needed": 2,
         "missing": [], "created_at": now}
    r.update(kw)
    return r

EVIL = {
    "r-evil1aaaaaaa": req("r-evil1aaaaaaa", "pending",
        user="mallory" + ESC + "[2J" + ESC + "[31m",
        role="ops\u202eevil",
        principals=["root" + ESC + "[8m"],
        reason="café ☕ INC-1 " + ESC + "]0;pwned\x07 \u202egnp.exe\u2066",
        approvals=[{"user": "bob\x9b31m", "at": now,
                    "comment": "ok" + ESC + "[1A\x7f"}],
        missing=[{"count": 1, "from": "group:" + ESC + "[5msec"}],
        extensions=["permit-pty\u2067"], force_command="/bin/sh" + ESC + "c",
        start=now),
    "r-evil2aaaaaaa": req("r-evil2aaaaaaa", "denied",
        denials=[{"user": "eve\u202e", "at": now,
                  "comment": "no" + ESC + "[31m way\nrequest r-x approved"}]),
    "r-evil3aaaaaaa": req("r-evil3aaaaaaa", "pending",
        approvals=[{"user": "dave" + ESC + "[?25l", "at": now,
                    "comment": None}],
        missing=[{"count": 1, "from": "group:sec\u2068" + ESC + "[7m"}]),
    "r-evil4aaaaaaa": req("r-evil4aaaaaaa", "revoked" + ESC + "[31m",
        revoked_by="root\u202e", revoked_at=now,
        revoke_comment="bye" + ESC + "[0m"),
}

def err(detail):
    return {"error": "conflict", "detail": "bad " + ESC + "[31m\u202e" + detail}

class H(Handler):
    def do_GET(self):
        p = self.path.split("?")[0]
        if p == "/v1/ca":
            return self.send(200, open(F + "/ca.pub").read(), "text/plain")
        if p == "/v1/whoami":
            return self.send(200, {"user": "alice" + ESC + "[31m",
                "groups": ["dev\u2067"], "admin": False, "auditor": False,
                "can_request": ["ops" + ESC + "[0m"], "can_approve": [],
                ESC + "[2Jextra": True})
        if p == "/v1/requests":
            return self.send(200, {"requests": list(EVIL.values())})
        if p.startswith("/v1/requests/") and p[13:] in EVIL:
            return self.send(200, EVIL[p[13:]])
        self.send(404, {"error": "not_found", "detail": "no " + ESC + "[5m"})
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(n)
        parts = self.path.split("/")
        if self.path == "/v1/requests":
            return self.send(400, err(" reason"))
        if len(parts) == 5 and parts[3] in EVIL:
            if parts[4] in ("approve", "revoke"):
                return self.send(200, EVIL[parts[3]])
            return self.send(409, err(" state"))
        self.send(404, {"error": "not_found"})

serve(H, F)
EOF

fake_server "$F" server.py "$F" || { fail "fake server started"; finish; }

# inert FILE: the bytes that must not reach a terminal, as hex ("" when
# none).  Our own "\r ESC [K" of the live progress line is allowed, and
# the "\r\n" a terminal (script) writes for a newline.
inert() {
	python3 - "$1" <<'EOF'
import re, sys
b = open(sys.argv[1], "rb").read().replace(b"\r\x1b[K", b"")
b = b.replace(b"\r\n", b"\n")   # a terminal's line ends
bad = re.findall(rb"[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]|"
                 rb"\xe2\x80[\xaa-\xae]|\xe2\x81[\xa6-\xa9]", b)
print(" ".join(x.hex() for x in bad[:20]))
EOF
}
# check LABEL: the output of the last `run` is inert.
check() {
	printf '%s\n%s\n' "$OUT" "$ERR" >"$T/out"
	assert_eq "" "$(inert "$T/out")" "$1: no raw control or bidi character"
	cat "$T/out" >>"$T/all"
}

run as alice "$JIT_SSH" setup "$FURL" --token fake --yes
assert_rc 0 "setup against the fake server"
check "setup"
assert_contains "$OUT" 'token for alice\x1b[31m' "setup: the user name, escaped"

run as alice "$JIT_SSH" whoami
check "whoami"
assert_contains "$OUT" 'alice\x1b[31m (groups: dev\u2067)' "whoami: user and groups, escaped"
assert_contains "$OUT" '\x1b[2Jextra: yes' "whoami: a member name, escaped"
run as alice "$JIT_SSH" whoami --json
check "whoami --json"
assert_eq $'alice\e[31m' "$(jq -r .user <<<"$OUT")" "whoami --json: lossless"

run as alice "$JIT_SSH" list
check "list"
assert_contains "$OUT" 'mallory\x1b[2J\x1b[31m' "list: the user name, escaped"
assert_contains "$OUT" 'ops\u202eevil' "list: the role, escaped"
assert_contains "$OUT" 'café ☕ INC-1 \x1b]0;pwned\x07 \u202egnp.exe\u2066' \
	"list: the reason escaped, its UTF-8 kept"
assert_contains "$OUT" 'needs 1 more approval from group:\x1b[5msec' \
	"list: the missing list, escaped"
run as alice "$JIT_SSH" list --pending --json
check "list --json"
assert_eq $'café ☕ INC-1 \e]0;pwned\a \u202egnp.exe\u2066' \
	"$(jq -r '.requests[0].reason' <<<"$OUT")" "list --json: lossless"
assert_contains "$OUT" '\u001B[2J' "list --json: ESC as a JSON escape"
assert_contains "$OUT" '\u202E' "list --json: the bidi override as a JSON escape"
assert_contains "$OUT" '\u007F' "list --json: DEL as a JSON escape"
assert_contains "$OUT" '\u009B' "list --json: C1 as a JSON escape"

run as alice "$JIT_SSH" status
check "status"
run as alice "$JIT_SSH" status r-evil1aaaaaaa
check "status ID"
assert_contains "$OUT" 'bob\u009b31m at' "status ID: a C1 control in a name, escaped"
assert_contains "$OUT" '"ok\x1b[1A\x7f"' "status ID: the comment, escaped"
assert_contains "$OUT" 'principals: root\x1b[8m' "status ID: the principals, escaped"
assert_contains "$OUT" '/bin/sh\x1bc' "status ID: the force-command, escaped"
run as alice "$JIT_SSH" status r-evil4aaaaaaa
check "status of a revoked request"
assert_contains "$OUT" 'by root\u202e "bye\x1b[0m"' "status ID: who revoked and why, escaped"

run as alice "$JIT_SSH" approve r-evil1aaaaaaa
check "approve"
assert_contains "$OUT" 'mallory\x1b[2J\x1b[31m' "approve: whose request, escaped"
run as alice "$JIT_SSH" revoke r-evil4aaaaaaa
check "revoke"
assert_contains "$OUT" 'revoked\x1b[31m' "revoke: the state, escaped"
run as alice "$JIT_SSH" deny r-evil2aaaaaaa --comment x
assert_rc 1 "deny: the server's 409"
check "deny error"
assert_contains "$ERR" 'bad \x1b[31m\u202e state' "deny: the error detail, escaped"
run as alice "$JIT_SSH" status r-nosuchaaaaaa
check "404 error"

run as alice "$JIT_SSH" login --resume r-evil2aaaaaaa
assert_rc 3 "login --resume of the denied request"
check "login --resume (denied)"
assert_contains "$ERR" 'denied by eve\u202e: "no\x1b[31m way\x0arequest r-x approved"' \
	"the denial comment, escaped: its newline cannot forge a line"
assert_eq 1 "$(printf '%s\n' "$ERR" | grep -c .)" "the denial is one line"
run as alice "$JIT_SSH" login --resume r-evil1aaaaaaa
check "login --resume (a role with a bidi override)"
run as alice "$JIT_SSH" login ops
check "login: an error from POST /v1/requests"
assert_contains "$ERR" 'bad \x1b[31m\u202e reason' "login: the error detail, escaped"

run as alice "$JIT_SSH" login --resume r-evil3aaaaaaa --key "$F/user" --timeout 2s
assert_rc 4 "login --resume --timeout of the pending request"
check "login progress line"
assert_contains "$ERR" 'needs 1 more approval from group:sec\u2068\x1b[7m (approved by dave\x1b[?25l)' \
	"the progress line, escaped"
if command -v script >/dev/null 2>&1; then
	run env HOME="$T/home/alice" script -qec "$JIT_SSH login --resume \
		r-evil3aaaaaaa --key $F/user --timeout 2s" /dev/null </dev/null
	check "login progress line on a terminal"
	assert_contains "$OUT" $'\r\e[K' "on a terminal the line is rewritten"
	assert_contains "$OUT" '(approved by dave\x1b[?25l)' \
		"on a terminal too the server's text is escaped"
fi

# The check itself sees what it must refuse.
printf 'a\x1b[31m \xe2\x80\xae \xc2\x9b\n' >"$T/bad"
assert_eq "1b e280ae c29b" "$(inert "$T/bad")" "the check notices raw controls"
[ -s "$T/all" ] && ok "$(wc -l <"$T/all") lines of output checked" ||
	fail "some output was checked"

finish
