#!/bin/bash
# make-audit-corpus.sh JIT_CA - regenerate tests/fuzz/corpus/audit/: a small
# audit log (tokens, a request approved and issued, one cancelled, reasons
# and comments with commas, quotes and a formula-like start) exported with
# the fuzz signing key, as JSON lines and CSV, full and filtered.  The key
# below is a test key with no other use; its public half is in
# fuzz-audit.c.
set -eu
J=${1:?usage: make-audit-corpus.sh PATH/TO/jit-ca}
J=$(realpath "$J")
out=$(cd "$(dirname "$0")" && pwd)/corpus/audit
W=$(mktemp -d)
trap 'kill $SP 2>/dev/null || true; rm -rf "$W"' EXIT
cd "$W"
cat >audit-key <<'KEY'
-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW
QyNTUxOQAAACBuhE038rMvjtdN6APEx7f18wz52Gl638G51FFC2CVeewAAAJh2Z8acdmfG
nAAAAAtzc2gtZWQyNTUxOQAAACBuhE038rMvjtdN6APEx7f18wz52Gl638G51FFC2CVeew
AAAEBdSN7k76C/1ZplpvLpB6kbRZQRDpYyUc/VwMoiV3h/OW6ETTfysy+O103oA8THt/Xz
DPnYaXrfwbnUUULYJV57AAAADmppdC1mdXp6LWF1ZGl0AQIDBAUGBw==
-----END OPENSSH PRIVATE KEY-----
KEY
chmod 600 audit-key
cat >pol.yaml <<'POL'
users:
  alice: {groups: [dev]}
  bob: {groups: [sre]}
auditors: [bob]
roles:
  ops:
    principals: [root]
    requesters: [group:dev]
    approvers: [group:sre]
    approvals: 1
    max_duration: 1h
POL
P=$((30000 + RANDOM % 20000))
"$J" serve --listen "127.0.0.1:$P" --data d --policies pol.yaml >srv.log 2>&1 &
SP=$!
for _ in $(seq 50); do grep -q 'listening on' srv.log && break; sleep 0.1; done
U=http://127.0.0.1:$P
A=$("$J" token create alice --data d --policies pol.yaml 2>/dev/null)
B=$("$J" token create bob --data d --policies pol.yaml 2>/dev/null)
ssh-keygen -q -t ed25519 -N '' -f uk
body=$(jq -cn --arg k "$(cat uk.pub)" \
	'{role:"ops",public_key:$k,duration:"10m",reason:"=cmd, \"quoted\""}')
id=$(curl -s -H "Authorization: Bearer $A" --data-binary "$body" "$U/v1/requests" | jq -r .id)
curl -s -H "Authorization: Bearer $B" --data-binary '{"comment":"ok, fine"}' \
	"$U/v1/requests/$id/approve" >/dev/null
curl -s -H "Authorization: Bearer $A" "$U/v1/requests/$id/certificate" >/dev/null
id=$(curl -s -H "Authorization: Bearer $A" --data-binary "$body" "$U/v1/requests" | jq -r .id)
curl -s -H "Authorization: Bearer $A" -X POST "$U/v1/requests/$id/cancel" >/dev/null
kill $SP
wait $SP || true
mkdir -p "$out"
x() { "$J" audit export --data d --key audit-key "$@" 2>/dev/null; }
x >"$out/jsonl-full"
x --format csv >"$out/csv-full"
x --event 'request.*' >"$out/jsonl-filtered"
x --format csv --user alice --since 2020-01-01T00:00:00Z >"$out/csv-filtered"
x --until 2000-01-01T00:00:00Z >"$out/jsonl-empty"
