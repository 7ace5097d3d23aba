#!/bin/bash
# jit-ssh refuses a certificate it was not granted.  A tiny fake server
# (python3 http.server, below) approves every request at once and then
# returns, depending on $T/fake/mode, a certificate that is good (control),
# signed by another CA, for another key, for other principals, for a
# longer window, with a broken signature, with an unknown critical option,
# as a host certificate, or garbage.  Each bad one must be
# refused with exit 5, and nothing may change: no files written under
# ~/.ssh/jit/, the agent's identities exactly as before; the key made for
# the request is deleted from ~/.ssh/jit/pending.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/client-lib.sh"

need_env JIT_SSH
need_cmd python3 ssh-agent ssh-add ssh-keygen
U1=$JIT_USER1

F=$T/fake
mkdir -p "$F" "$T/home/alice"
ssh-keygen -q -t ed25519 -N '' -C fake-ca -f "$F/ca"
ssh-keygen -q -t ed25519 -N '' -C other-ca -f "$F/other_ca"
ssh-keygen -q -t ed25519 -N '' -C other-key -f "$F/other_key"
echo good >"$F/mode"

cat >"$F/server.py" <<'EOF'
import base64, datetime, json, os, subprocess, sys, time
from fakelib import *

F, principal = sys.argv[1], sys.argv[2]
state = {}

def rfc3339(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc) \
        .strftime("%Y-%m-%dT%H:%M:%SZ")

def keygen_time(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc) \
        .strftime("%Y%m%d%H%M%S")

def sign(ca, pub, principals, va, vb, extra=()):
    env = dict(os.environ, TZ="UTC")
    for ext in ("-cert.pub",):
        try: os.unlink(pub[:-4] + ext)
        except FileNotFoundError: pass
    subprocess.run(["ssh-keygen", "-q", "-s", ca, "-I", "fake", "-z", "7",
                    "-n", principals, "-V",
                    keygen_time(va) + ":" + keygen_time(vb), *extra, pub],
                   check=True, env=env)
    return open(pub[:-4] + "-cert.pub").read().strip()

class H(Handler):
    def do_GET(self):
        p = self.path.split("?")[0]
        if p == "/v1/ca":
            return self.send(200, open(F + "/ca.pub").read(), "text/plain")
        if p == "/v1/whoami":
            return self.send(200, {"user": "alice", "groups": ["dev"]})
        if p == "/v1/requests/r-fake1":
            return self.send(200, state["req"])
        if p == "/v1/requests/r-fake1/certificate":
            mode = open(F + "/mode").read().strip()
            r = state["req"]
            nb, na = state["nb"], state["na"]
            pub = F + "/req.pub"
            if mode == "good":
                c = sign(F + "/ca", pub, principal, nb - 60, na)
            elif mode == "wrongca":
                c = sign(F + "/other_ca", pub, principal, nb - 60, na)
            elif mode == "wrongkey":
                c = sign(F + "/ca", F + "/other_key.pub", principal, nb - 60, na)
            elif mode == "principals":
                c = sign(F + "/ca", pub, "root", nb - 60, na)
            elif mode == "extraprincipal":
                c = sign(F + "/ca", pub, principal + ",root", nb - 60, na)
            elif mode == "window":
                c = sign(F + "/ca", pub, principal, nb - 60, na + 3600)
            elif mode == "critical":
                c = sign(F + "/ca", pub, principal, nb - 60, na,
                         ("-O", "critical:permit-all@example.com=yes"))
            elif mode == "host":
                c = sign(F + "/ca", pub, principal, nb - 60, na, ("-h",))
            elif mode == "badsig":
                c = sign(F + "/ca", pub, principal, nb - 60, na)
                t, b64 = c.split()[:2]
                blob = bytearray(base64.b64decode(b64))
                blob[-1] ^= 1
                c = t + " " + base64.b64encode(bytes(blob)).decode()
            else:
                c = "ssh-ed25519-cert-v01@openssh.com AAAAgarbage"
            return self.send(200, c + "\n", "text/plain")
        self.send(404, {"error": "not_found"})
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(n) or b"{}")
        if self.path == "/v1/requests":
            with open(F + "/req.pub", "w") as f:
                f.write(body["public_key"] + "\n")
            now = int(time.time())
            state["nb"], state["na"] = now, now + 600
            state["req"] = {
                "id": "r-fake1", "state": "approved", "user": "alice",
                "role": body["role"], "principals": [principal],
                "reason": None, "duration": 600,
                "public_key": body["public_key"],
                "created_at": rfc3339(now),
                "approvals": [{"user": "bob", "at": rfc3339(now),
                               "comment": ""}],
                "denials": [], "approvals_needed": 1,
                "not_before": rfc3339(state["nb"]),
                "not_after": rfc3339(state["na"])}
            return self.send(201, state["req"])
        self.send(404, {"error": "not_found"})

serve(H, F)
EOF

fake_server "$F" server.py "$F" "$U1" || { fail "fake server started"; finish; }
start_agent || exit 1

run as alice "$JIT_SSH" setup "$FURL" --token fake --yes
assert_rc 0 "setup against the fake server pins its CA"

# An unrelated identity the client must never touch.
make_user_key ed25519 "$T/bystander"
ssh-add -q "$T/bystander" 2>/dev/null

# Control: the fake server's good certificate is accepted and installed.
run as alice "$JIT_SSH" login ops
assert_rc 0 "a good certificate from the fake server is installed"
jd=$T/home/alice/.ssh/jit
assert_contains "$(agent_list)" "jit-ssh:ops" "control: the agent holds it"

# The installed state: agent identities and the files of every role.
# pending/ is checked apart: the key made for a refused request is
# deleted (the server would send the same certificate again).
snapshot() {
	{
		agent_list
		(cd "$jd" && find . -path ./pending -prune -o \
			\( -type f -o -type l \) -print | sort | xargs -r sha256sum)
	} 2>&1
}

for mode in wrongca wrongkey principals extraprincipal window badsig critical \
	host garbage; do
	echo "$mode" >"$F/mode"
	before=$(snapshot)
	run as alice "$JIT_SSH" login ops
	assert_rc 5 "$mode: certificate refused (exit 5)"
	assert_contains "$ERR" "refused" "$mode: says it was refused"
	assert_contains "$ERR" "nothing was installed" "$mode: says nothing was installed"
	after=$(snapshot)
	assert_eq "$before" "$after" "$mode: agent and ~/.ssh/jit unchanged"
	assert_eq "" "$(ls -A "$jd/pending")" \
		"$mode: the key made for the refused request is deleted"
done
# What the refusals say for the three named cases.
echo wrongca >"$F/mode"
run as alice "$JIT_SSH" login ops
assert_contains "$ERR" "not signed by the expected CA" "wrong CA is named"
echo wrongkey >"$F/mode"
run as alice "$JIT_SSH" login ops
assert_contains "$ERR" "different key" "wrong key is named"
echo principals >"$F/mode"
run as alice "$JIT_SSH" login ops
assert_contains "$ERR" "principals" "wrong principals are named"
echo critical >"$F/mode"
run as alice "$JIT_SSH" login ops
assert_contains "$ERR" "unexpected critical option 'permit-all@example.com'" \
	"an unexpected critical option is named"

# --ca-key overrides the pin: with another CA pinned the good cert fails.
echo good >"$F/mode"
run as alice "$JIT_SSH" login ops --ca-key "$F/other_ca.pub"
assert_rc 5 "--ca-key: a cert from a CA other than the given key is refused"

# Without any pin login refuses to run at all (never trusts /v1/ca).
run as bob "$JIT_SSH" login ops --url "$FURL" --token fake
assert_rc 1 "no pin: login refuses to run"
assert_contains "$ERR" "no pinned CA key" "no pin: says why"
[ ! -e "$T/home/bob/.ssh/jit/ops" ] && ok "no pin: nothing installed" ||
	fail "no pin: nothing installed"

finish
