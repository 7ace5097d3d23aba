#!/bin/bash
# test-notify-full.sh - no notification for a change that was not stored
# (issue 14): the data directory is a 2 MB tmpfs, filled up while requests
# are made and approved.  Every create or approval the API acknowledged is
# delivered; the ones refused with 503 (disk full) produce nothing.  Once
# space is freed, a last request is delivered after all the others (one
# endpoint's notifications go out in order), which shows nothing else was
# still waiting.  Needs root (mount); SKIPs otherwise.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/api-lib.sh"
. "$(dirname "$0")/../integration/notify-lib.sh"

need_env JIT_CA
need_root
need_cmd curl jq ssh-keygen python3 mount umount

tmpfs_data 2m

notify_policy
receiver_start || { fail "the receiver starts"; finish; }
api_start "notify:
  - name: hook
    url: http://127.0.0.1:$RCV_PORT/json
    events: [request.create, request.approve]
    backoff: 1s" || { fail "server starts on a 2 MB tmpfs"; finish; }
api_tokens alice bob || { fail "tokens"; finish; }
make_user_key ed25519 "$T/user_key"

OKS=()
new_request "$TOK_alice" ops 30m "INC-1"
OKS+=("request.create $RID")
P=$RID
dd if=/dev/zero of="$T/data/filler" bs=16k 2>/dev/null
REFUSED=0
for i in $(seq 300); do
	new_request "$TOK_alice" ops 30m "INC-$((100 + i))-$(head -c 400 /dev/zero | tr '\0' x)"
	[ "$STATUS" = 201 ] || break
	OKS+=("request.create $RID")
done
assert_eq 503 "$STATUS" "a create on a full disk gets 503 (after $((i - 1)) that fit)"
api "$TOK_bob" POST "/v1/requests/$P/approve" '{}'
if [ "$STATUS" = 200 ]; then
	OKS+=("request.approve $P")
else
	assert_eq 503 "$STATUS" "an approval on the full disk gets 503"
	REFUSED=1
fi
rm -f "$T/data/filler"
if [ "$REFUSED" = 1 ]; then
	api "$TOK_bob" POST "/v1/requests/$P/approve" '{}'
	assert_eq 200 "$STATUS" "the refused approval succeeds once space is free"
	OKS+=("request.approve $P")
fi
new_request "$TOK_alice" ops 30m "INC-LAST"
assert_eq 201 "$STATUS" "a last request once space is free"
OKS+=("request.create $RID")
wait_for "deliveries /json | grep -q '$RID'" 60 ||
	fail "the last change is delivered"
# Delivered entries whose removal failed on the full disk are sent again
# (with the same X-Jit-Delivery): count each delivery id once.
GOT=$(deliveries /json | jq -s -r 'unique_by(.delivery) | .[] | .body | fromjson | .event + " " + .request.id' | sort)
WANT=$(printf '%s\n' "${OKS[@]}" | sort)
assert_eq "$WANT" "$GOT" "exactly the ${#OKS[@]} acknowledged changes were notified, none of the refused"
api_stop
finish
