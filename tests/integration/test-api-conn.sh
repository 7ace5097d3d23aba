#!/bin/bash
# test-api-conn.sh - connections: what one client address can hold does not
# stop another address from being served (api/http/http.h, "Connections"
# and "Answering later").  Clients are bound to different loopback
# addresses (127.0.0.2, 127.0.0.3, ...); the server allows 16 connections
# per address and runs 4 handler threads, so every step below would stall
# a server that spent a thread or a handler per connection.
#   - 40 idle connections (connect, send nothing) from 127.0.0.1: 16 stay
#     open, the other 24 are closed by the server before anything is read;
#     a request from 127.0.0.1 is refused too, while 127.0.0.2 is served.
#   - 96 long-polls held from six addresses (more than the handler threads
#     and than one address may hold): /metrics counts 96 waiting, another
#     address is served meanwhile, and one approval answers all 96.
#   - long-polls whose client closed its connection are dropped: the
#     jit_http_waiting gauge goes back to 0 and the server logs them as
#     aborted.
#   - request_timeout is a deadline for a request's headers, however slowly
#     they trickle; a held long-poll outlives both timeouts.
#   - at the server's stop, held long-polls are answered.
# Every step waits for what it checks to happen (a guard timeout only
# fails a test that would otherwise hang).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/api-lib.sh"

need_env JIT_CA
need_cmd curl jq python3
# Other loopback addresses must be usable as sources (Linux: 127/8).
python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.9", 0))' \
	2>/dev/null || skip "cannot bind 127.0.0.9 as a source address"

# hold.py: clients from one source address that hold their connections.
#   hold.py PORT SRC COUNT STATUSFILE [REQUEST]
# Opens COUNT connections from SRC, sends REQUEST (backslash escapes
# expanded) on each, and keeps them until SIGTERM, reading what comes.
# STATUSFILE is rewritten on every change with one line:
#   open=N closed=N answered=N codes=CODE:N,... states=STATE:N,...
# "closed": the server closed it without answering; "answered": a whole
# HTTP answer arrived (its status and its JSON "state" are counted).
cat >"$T/hold.py" <<'PY'
import json, os, select, signal, socket, sys

port, src, count, status = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
req = sys.argv[5].encode().decode("unicode_escape").encode() if len(sys.argv) > 5 else b""
stop = False
def on_term(*_):
    global stop
    stop = True
signal.signal(signal.SIGTERM, on_term)
conns = {}
for _ in range(count):
    s = socket.socket()
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    if req:
        s.sendall(req)
    s.setblocking(False)
    conns[s.fileno()] = {"s": s, "buf": b"", "state": "open"}
codes, states = {}, {}
def answered(c):
    head, sep, body = c["buf"].partition(b"\r\n\r\n")
    if not sep:
        return False
    lines = head.decode("latin-1").split("\r\n")
    n = 0
    for l in lines[1:]:
        k, _, v = l.partition(":")
        if k.strip().lower() == "content-length":
            n = int(v.strip())
    if len(body) < n:
        return False
    code = lines[0].split(" ")[1]
    codes[code] = codes.get(code, 0) + 1
    try:
        st = json.loads(body[:n]).get("state", "-")
    except ValueError:
        st = "-"
    states[st] = states.get(st, 0) + 1
    return True
def report():
    n = {"open": 0, "closed": 0, "answered": 0}
    for c in conns.values():
        n[c["state"]] += 1
    line = "open=%d closed=%d answered=%d codes=%s states=%s\n" % (
        n["open"], n["closed"], n["answered"],
        ",".join("%s:%d" % kv for kv in sorted(codes.items())),
        ",".join("%s:%d" % kv for kv in sorted(states.items())))
    with open(status + ".tmp", "w") as f:
        f.write(line)
    os.rename(status + ".tmp", status)
report()
poller = select.poll()
for fd in conns:
    poller.register(fd, select.POLLIN)
while not stop:
    try:
        ev = poller.poll(200)
    except InterruptedError:
        continue
    changed = False
    for fd, _ in ev:
        c = conns[fd]
        try:
            data = c["s"].recv(65536)
        except BlockingIOError:
            continue
        except OSError:
            data = b""
        if data:
            c["buf"] += data
            if c["state"] == "open" and answered(c):
                c["state"] = "answered"
                changed = True
            continue
        poller.unregister(fd)
        if c["state"] == "open":
            c["state"] = "closed"
            changed = True
    if changed:
        report()
for c in conns.values():
    c["s"].close()
PY

# hold NAME SRC COUNT [REQUEST]: start hold.py; its status is
# $T/NAME.status and its pid HOLD_PID_NAME.
hold() {
	local name=$1
	jit_bg "$T/$name.log" python3 "$T/hold.py" "$API_PORT" "$2" "$3" \
		"$T/$name.status" "${4:-}"
	printf -v "HOLD_PID_$name" '%s' "$JIT_BG_PID"
}
# held NAME KEY: the value of KEY in NAME's status line.
held() {
	sed -n "s/.*\<$2=\([^ ]*\).*/\1/p" "$T/$1.status" 2>/dev/null
}
waiting() {
	curl -s --interface 127.0.0.2 "$JURL/metrics" |
		awk '$1=="jit_http_waiting"{print $2}'
}
# from ADDR TOKEN METHOD PATH [BODY]: api() from source address ADDR.
from() {
	local addr=$1 tok=$2 m=$3 p=$4 args
	args=(-s -o "$T/.from.body" -w '%{http_code}' -X "$m" --max-time 20
		--interface "$addr")
	[ -n "$tok" ] && args+=(-H "Authorization: Bearer $tok")
	[ $# -ge 5 ] && args+=(-H 'Content-Type: application/json' --data-binary "$5")
	STATUS=$(curl "${args[@]}" "$JURL$p")
	RB=$(cat "$T/.from.body")
}

API_MAX_WAIT=10m
api_start "max_connections_per_address: 16
threads: 4
request_timeout: 10m
connection_timeout: 10m" || { fail "server starts"; finish; }
api_tokens alice bob || { fail "tokens"; finish; }
make_user_key ed25519 "$T/user_key"

# ---- idle connections -----------------------------------------------------
hold idle 127.0.0.1 40
if wait_for '[ "$(held idle closed)" = 24 ]' 30; then
	ok "24 of 40 idle connections from one address are closed at once"
else
	fail "24 of 40 idle connections from one address are closed at once" \
		"$(cat "$T/idle.status" 2>/dev/null)"
fi
assert_eq 16 "$(held idle open)" "16 idle connections stay open (the limit per address)"
from 127.0.0.2 "" GET /healthz
assert_eq 200 "$STATUS" "another address is served beside them"
from 127.0.0.2 "$TOK_alice" GET /v1/whoami
assert_eq 200 "$STATUS" "and its authenticated requests too"
assert_eq alice "$(jget "$RB" .user)" "whoami answers alice"
from 127.0.0.1 "" GET /healthz
assert_eq 000 "$STATUS" "a 17th connection from the full address gets no answer"
assert_eq 16 "$(held idle open)" "the idle connections were not touched"
jit_kill "$HOLD_PID_idle"
if wait_for 'from 127.0.0.1 "" GET /healthz; [ "$STATUS" = 200 ]' 30; then
	ok "once they are closed, the address is served again"
else
	fail "once they are closed, the address is served again" "status $STATUS"
fi

# ---- held long-polls ------------------------------------------------------
new_request "$TOK_alice" ops 10m "INC-1"
RID=$RID
assert_eq 201 "$STATUS" "alice has a pending request"
POLL="GET /v1/requests/$RID?wait=600 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $TOK_alice\r\n\r\n"
for i in 3 4 5 6 7 8; do
	hold "poll$i" "127.0.0.$i" 16 "$POLL"
done
if wait_for '[ "$(waiting)" = 96 ]' 60; then
	ok "96 long-polls from six addresses are held (jit_http_waiting)"
else
	fail "96 long-polls from six addresses are held (jit_http_waiting)" \
		"jit_http_waiting $(waiting)"
fi
from 127.0.0.2 "$TOK_alice" GET /v1/whoami
assert_eq 200 "$STATUS" "another address is served while 96 long-polls wait on 4 threads"
from 127.0.0.2 "$TOK_alice" POST /v1/requests \
	"$(jq -cn --arg k "$(cat "$T/user_key.pub")" '{role: "auto", public_key: $k}')"
assert_eq 201 "$STATUS" "a request is created meanwhile"
from 127.0.0.2 "$TOK_alice" GET "/v1/requests/$(jget "$RB" .id)/certificate"
assert_eq 200 "$STATUS" "and its certificate fetched"
from 127.0.0.3 "$TOK_alice" GET /v1/whoami
assert_eq 000 "$STATUS" "an address holding 16 long-polls has no room for more"
answered_all() {
	local i
	for i in 3 4 5 6 7 8; do
		[ "$(held "poll$i" answered)" = 16 ] || return 1
	done
}
from 127.0.0.2 "$TOK_bob" POST "/v1/requests/$RID/approve" '{}'
assert_eq 200 "$STATUS" "bob approves"
if wait_for answered_all 60; then
	ok "the approval answers all 96 long-polls"
else
	fail "the approval answers all 96 long-polls" "$(cat "$T"/poll*.status)"
fi
assert_eq "codes=200:16 states=approved:16" \
	"$(sed 's/.*\(codes=\)/\1/' "$T/poll5.status")" "each with 200 and the approved request"
if wait_for '[ "$(waiting)" = 0 ]' 30; then
	ok "no long-poll is left waiting"
else
	fail "no long-poll is left waiting" "jit_http_waiting $(waiting)"
fi
for i in 3 4 5 6 7 8; do
	jit_kill "$(eval echo "\$HOLD_PID_poll$i")"
done

# ---- clients that leave -----------------------------------------------------
new_request "$TOK_alice" ops 10m "INC-2"
RID2=$RID
POLL="GET /v1/requests/$RID2?wait=600 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $TOK_alice\r\n\r\n"
hold gone9 127.0.0.9 16 "$POLL"
hold gone10 127.0.0.10 16 "$POLL"
if wait_for '[ "$(waiting)" = 32 ]' 60; then
	ok "32 long-polls are held"
else
	fail "32 long-polls are held" "jit_http_waiting $(waiting)"
fi
aborted_before=$(grep -c "GET /v1/requests/$RID2 aborted" "$API_LOG")
jit_kill "$HOLD_PID_gone9"
if wait_for '[ "$(waiting)" = 16 ]' 30; then
	ok "the 16 whose client closed are dropped"
else
	fail "the 16 whose client closed are dropped" "jit_http_waiting $(waiting)"
fi
jit_kill "$HOLD_PID_gone10"
if wait_for '[ "$(waiting)" = 0 ]' 30; then
	ok "and the other 16 when theirs closed"
else
	fail "and the other 16 when theirs closed" "jit_http_waiting $(waiting)"
fi
wait_for '[ "$(grep -c "GET /v1/requests/$RID2 aborted" "$API_LOG")" -ge $((aborted_before + 32)) ]' 10
assert_eq 32 "$(($(grep -c "GET /v1/requests/$RID2 aborted" "$API_LOG") - aborted_before))" \
	"the server logs the 32 as aborted"
# The server closes their connections just after it drops them.
wait_for 'from 127.0.0.9 "$TOK_alice" GET "/v1/requests/$RID2"; [ "$STATUS" = 200 ]' 30
assert_eq pending "$(jget "$RB" .state)" "their address is served again; the request is untouched"
api_stop
assert_eq 0 "$API_RC" "clean exit"

# ---- timeouts -----------------------------------------------------------------
api_start "request_timeout: 1s
connection_timeout: 1s" || { fail "server restarts"; finish; }
# A request line that trickles in, a byte every 0.2 s, keeps the
# connection busy but never completes: the deadline still closes it.
python3 - "$API_PORT" >"$T/trickle.out" <<'PY' &
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.4", 0))
s.connect(("127.0.0.1", int(sys.argv[1])))
s.settimeout(0.2)
req = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 10000
end = time.monotonic() + 60
for i in range(len(req)):
    if time.monotonic() > end:
        break
    try:
        s.send(req[i:i + 1])
        if s.recv(1) == b"":
            print("closed after %d bytes" % (i + 1))
            sys.exit(0)
    except socket.timeout:
        pass
    except OSError:
        print("closed after %d bytes" % (i + 1))
        sys.exit(0)
print("never closed")
PY
TRICKLE=$!
_JIT_PIDS+=("$TRICKLE")
wait "$TRICKLE"
assert_match "$(cat "$T/trickle.out")" '^closed after [0-9]+ bytes$' \
	"headers trickling in are cut off at request_timeout"
# A long-poll is held past both timeouts and answered at its wait.
new_request "$TOK_alice" ops 10m "INC-3"
t0=$(date +%s%N)
from 127.0.0.2 "$TOK_alice" GET "/v1/requests/$RID?wait=3"
t1=$(date +%s%N)
assert_eq 200 "$STATUS" "a 3 s long-poll with 1 s timeouts is answered"
assert_eq pending "$(jget "$RB" .state)" "with the pending request"
if [ $(((t1 - t0) / 1000000)) -ge 2900 ]; then
	ok "after its wait ($(((t1 - t0) / 1000000)) ms)"
else
	fail "after its wait" "$(((t1 - t0) / 1000000)) ms"
fi

# ---- stop ------------------------------------------------------------------------
POLL="GET /v1/requests/$RID?wait=600 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $TOK_alice\r\n\r\n"
hold stop 127.0.0.5 5 "$POLL"
wait_for '[ "$(waiting)" = 5 ]' 30
assert_eq 5 "$(waiting)" "5 long-polls held before the stop"
api_stop
assert_eq 0 "$API_RC" "clean exit with held long-polls"
wait_for '[ "$(held stop answered)" = 5 ]' 10
assert_eq "5 200:5 pending:5" \
	"$(held stop answered) $(held stop codes) $(held stop states)" \
	"each is answered at the stop with the pending request"
finish
