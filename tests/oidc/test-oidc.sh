#!/bin/bash
# test-oidc.sh - single sign-on against a real OpenID provider: the npm
# package oidc-provider (provider.mjs) on loopback http, with a client for
# the web page (code flow) and one for jit-ssh (device flow), alice (dev)
# and bob (sre), and eve, whom the policy does not know.
#
#   - jit-ssh login staging without a token signs alice in by the device
#     flow (the provider's own pages approved headless with curl), bob
#     signs in to the web page by the code flow in Debian's chromium
#     (web-sso.mjs) and approves, alice's certificate works with plain
#     ssh; bob's right to approve comes from the provider's groups alone;
#     the sessions are stored hashed, listed with kind sso by jit-ca
#     token list, revocable, and an ended session signs in again;
#   - the web page's callback refuses a sign-in that did not start in
#     the browser, the provider's refusal, and a replayed code;
#   - a role with require_mfa refuses a session without a second factor
#     with one line, and takes one signed in with a one-time code;
#   - tokens: automation_only: jit-ca token create refuses people, and
#     a person's API token made before fails with one clear detail;
#   - POST /v1/sessions refuses, each with one detail: an ID token for
#     another audience, expired, signed by an unknown key, alg none, a
#     changed payload, from another issuer, a replayed token or nonce,
#     a user the policy does not know (the good token beside them, signed
#     the same way, is accepted, so each refusal is for its one reason);
#   - a key rotation at the provider (SIGHUP: new keys) is picked up by
#     the running server: tokens of the new key are accepted, the old
#     key's are refused.
#
# Hand-made tokens are signed by jwt_tool.py (python3-cryptography) with
# the provider's own keys.  SKIPs (77) without node, npm, chromium,
# python3's cryptography or sshd; the first run installs oidc-provider
# and puppeteer-core with `npm ci` into tests/oidc/node_modules.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../integration/lib.sh"
. "$here/../integration/client-lib.sh"

need_env JIT_CA JIT_SSH
need_sshd
need_cmd node npm curl jq python3 ssh-keygen ssh-agent
CHROMIUM=$(command -v chromium || command -v chromium-browser) ||
	skip "chromium not installed"
python3 -c 'import cryptography' 2>/dev/null ||
	skip "python3 cannot import cryptography (python3-cryptography)"
unset DISPLAY WAYLAND_DISPLAY JIT_SSH_TOKEN JIT_SSH_URL
JWT=$here/jwt_tool.py

if [ ! -f "$here/node_modules/oidc-provider/package.json" ] ||
	[ ! -f "$here/node_modules/puppeteer-core/package.json" ]; then
	npm ci --prefix "$here" --no-audit --no-fund >"$T/npm.log" 2>&1 || {
		cat "$T/npm.log"
		fail "npm ci --prefix tests/oidc (oidc-provider, puppeteer-core)"
		finish
	}
fi

# ---- the provider, the server and the policy -----------------------------
python3 "$JWT" keys "$T/keys-a.json" a || { fail "keys"; finish; }
python3 "$JWT" keys "$T/keys-b.json" b
python3 "$JWT" keys "$T/keys-x.json" x       # never published
ensure_test_users || skip "cannot create the test accounts"
mkdir -p "$T/idp"
cp "$T/keys-a.json" "$T/idp/keys.json"
SECRET=web-secret-$RANDOM$RANDOM
printf '%s\n' "$SECRET" >"$T/web-secret"
chmod 600 "$T/web-secret"
# web_conf URL: where the provider sends the web page's sign-ins.
web_conf() {
	jq -n --arg r "$1" --arg s "$SECRET" '{redirect_uri: $r, secret: $s}' \
		>"$T/idp/web.json"
}
# The provider picks its own port (its issuer names it); the web page's
# redirect follows once the server has one.
web_conf http://127.0.0.1:1/oidc/callback
jit_bg "$T/idp.log" env OIDC_DIR="$T/idp" node "$here/provider.mjs"
IDP_PID=$JIT_BG_PID
wait_for "grep -q 'listening on' '$T/idp.log'" 30 ||
	{ cat "$T/idp.log"; fail "the provider starts"; finish; }
ISS=$(sed -n 's/^listening on \(http[^ ]*\) .*/\1/p' "$T/idp.log")

cat >"$T/policy.yaml" <<EOF
users:
  alice: {}
  bob: {}
  ci-bot: {}
provider_groups: [dev, sre]
tokens: automation_only
token_users: [ci-bot]
roles:
  staging:
    principals: [$JIT_USER1]
    requesters: [group:dev]
    approvers: [group:sre]
    approvals: 1
    max_duration: 1h
    default_duration: 10m
    key_types: [ed25519]
  prod:
    principals: [$JIT_USER2]
    requesters: [group:dev]
    approvals: 0
    require_mfa: true
    max_duration: 1h
    default_duration: 10m
EOF
_conf() {
	cat >"$T/server.yaml" <<EOF
listen: 127.0.0.1:$1
data: $T/data
policies: $T/policy.yaml
sweep_interval: 1s
clock_skew: 30s
oidc:
  issuer: $ISS
  client_id: jit-web
  cli_client_id: jit-cli
  client_secret_file: $T/web-secret
  groups_claim: groups
  session_ttl: 10m
EOF
}
serve_free_port "$T/server.log" _conf "$JIT_CA" serve \
	--config "$T/server.yaml" || { fail "jit-ca serve starts"; finish; }
JURL=http://127.0.0.1:$SERVE_PORT
CA_PUB=$T/data/ca_key.pub
assert_contains "$(cat "$T/server.log")" "single sign-on through $ISS" \
	"the server names its identity provider"

web_conf "$JURL/oidc/callback"
kill -HUP "$IDP_PID"
wait_for "grep -q 'reloaded: .*redirect $JURL/oidc/callback' '$T/idp.log'" 10 ||
	fail "the provider takes the web page's redirect"

mkdir -p "$T/home/alice" "$T/home/bob" "$T/home/ci-bot"
start_sshd --ca "$CA_PUB" --allow-users "$JIT_USER1 $JIT_USER2"
start_agent || { fail "ssh-agent"; finish; }

# idp_approve URL USER [OTP]: at the provider's own pages, as a browser
# would (curl keeps the cookies): the device page of URL (the
# verification_uri_complete jit-ssh printed), its confirmation, USER's
# sign-in (with the one-time code OTP when given) and the consent.
idp_approve() {
	local url=$1 user=$2 otp=${3:-} jar page xsrf code loc
	jar=$(mktemp "$T/jar.XXXXXX")
	page=$(curl -sf -c "$jar" -b "$jar" "$url") || return 1
	xsrf=$(printf '%s' "$page" |
		sed -n 's/.*name="xsrf" value="\([^"]*\)".*/\1/p' | head -n 1)
	code=${url##*user_code=}
	loc=$(curl -sf -L -c "$jar" -b "$jar" -o /dev/null \
		-w '%{url_effective}' -d "xsrf=$xsrf" \
		--data-urlencode "user_code=$code" -d confirm=yes \
		"$ISS/device") || return 1
	case $loc in */interaction/*) ;; *) return 1 ;; esac
	page=$(curl -s -L -c "$jar" -b "$jar" --data-urlencode "login=$user" \
		--data-urlencode "password=pw-$user" ${otp:+-d otp=$otp} \
		"$loc")
	case $page in *'id="done"'*) return 0 ;; esac
	echo "$page" >&2
	return 1
}

# sign_in_bg LOG USER CMD...: run jit-ssh CMD as USER in the background,
# wait for the sign-in URL it prints and approve it as USER (OTP from
# $OTP).  Sets BG_PID.
sign_in_bg() {
	local log=$1 user=$2 url
	shift 2
	jit_bg "$log" env HOME="$T/home/$user" "$JIT_SSH" "$@"
	BG_PID=$JIT_BG_PID
	wait_for "grep -q '^(or open ' '$log'" 20 ||
		{ cat "$log" >&2; return 1; }
	url=$(sed -n 's/^(or open \(.*\))$/\1/p' "$log" | tail -n 1)
	idp_approve "$url" "$user" "${OTP:-}"
}

# ---- alice: jit-ssh login without a token signs in first -----------------
run as alice "$JIT_SSH" setup "$JURL" --yes
assert_rc 0 "alice: setup pins the CA (no token yet)"
OTP= sign_in_bg "$T/alice-login.log" alice login staging --for 10m ||
	fail "alice approves the device sign-in at the provider's pages"
RID=$(wait_request_id "$T/alice-login.log")
assert_match "$RID" '^r-' "alice's login made request $RID after signing in"
assert_contains "$(cat "$T/alice-login.log")" "To sign in, open $ISS/device" \
	"jit-ssh printed the verification URL and code"
assert_contains "$(cat "$T/alice-login.log")" "Signed in as alice until" \
	"alice is signed in"

# ---- bob: the web page, signed in by the code flow, approves ---------------
jit_bg "$T/web-sso.log" env JURL="$JURL" CHROMIUM="$CHROMIUM" RID="$RID" \
	node "$here/web-sso.mjs"
WEB_PID=$JIT_BG_PID
wait "$WEB_PID"
WEB_RC=$?
sed 's/^/  web: /' "$T/web-sso.log"
assert_eq 0 "$WEB_RC" "bob signs in to the web page through the provider in chromium and approves"
assert_eq '["sre"]' "$(curl -s -H "Authorization: Bearer $(sed -n \
	's/^token = //p' "$T/home/alice/.config/jit-ssh/config")" \
	"$JURL/v1/requests/$RID" | jq -c '.approvals[0].groups')" \
	"bob's approval counted with the group the provider gave him"
run "$JIT_CA" token list --config "$T/server.yaml"
assert_match "$OUT" 's-[0-9a-f]{12} +session +bob ' "bob's web session is listed"
wait_for "grep -q 'Access granted' '$T/alice-login.log'" 30
assert_contains "$(cat "$T/alice-login.log")" "Access granted for role staging" \
	"alice's login returns with the certificate"
assert_login_ok "alice's certificate works with plain ssh" \
	"$T/home/alice/.ssh/jit/staging" \
	"$T/home/alice/.ssh/jit/staging-cert.pub" "$JIT_USER1"

# ---- bob: setup --sso ------------------------------------------------------
OTP= sign_in_bg "$T/bob-setup.log" bob setup "$JURL" --sso --yes ||
	fail "bob approves his device sign-in"
wait "$BG_PID"
assert_eq 0 "$?" "bob: jit-ssh setup --sso exits 0"
assert_contains "$(cat "$T/bob-setup.log")" "signed in for bob" \
	"bob's setup reports the sign-in"
run as bob "$JIT_SSH" whoami --json
assert_eq "sso" "$(jq -r .credential <<<"$OUT")" "bob's credential is a session"
assert_eq '["sre"]' "$(jq -c .provider_groups <<<"$OUT")" \
	"bob's groups came from the provider"
assert_eq '["staging"]' "$(jq -c .can_approve <<<"$OUT")" \
	"... and let him approve staging"

# ---- the web page's callback refuses ----------------------------------------
run curl -s -w '\n%{http_code}' "$JURL/oidc/callback?code=abc&state=def"
assert_eq 401 "$(tail -n 1 <<<"$OUT")" "a callback that did not start in this browser: 401"
assert_contains "$(head -n 1 <<<"$OUT")" "did not start in this browser" \
	"... in one line"
run curl -s -w '\n%{http_code}' "$JURL/oidc/callback?error=access_denied&state=def"
assert_eq 401 "$(tail -n 1 <<<"$OUT")" "the provider's refusal: 401"
assert_contains "$(head -n 1 <<<"$OUT")" \
	"the identity provider did not sign you in: access_denied" "... in one line"
run curl -s -D "$T/login.h" -o /dev/null "$JURL/oidc/login"
assert_match "$(cat "$T/login.h")" "^Location: $ISS/auth\?" \
	"GET /oidc/login sends the browser to the provider"
assert_match "$(cat "$T/login.h")" "Set-Cookie: jit_oidc_state=[A-Za-z0-9_-]{43}; Path=/oidc/; HttpOnly; SameSite=Lax" \
	"... binding the sign-in to the browser"

# ---- sessions in the token store -----------------------------------------
run "$JIT_CA" token list --config "$T/server.yaml"
assert_match "$OUT" 't-[0-9a-f]{12} +sso +alice ' "token list: alice's session, kind sso"
assert_match "$OUT" 't-[0-9a-f]{12} +sso +bob ' "token list: bob's session, kind sso"
ALICE_TOKEN=$(sed -n 's/^token = //p' "$T/home/alice/.config/jit-ssh/config")
assert_not_contains "$OUT" "${ALICE_TOKEN:4}" "token list never shows a session token"
assert_eq 1 "$("$JIT_CA" audit export --config "$T/server.yaml" \
	--event session.create --user alice 2>/dev/null |
	jq -c 'select(.event == "session.create" and .user == "alice")' 2>/dev/null |
	wc -l)" "session.create is audited for alice"

# ---- require_mfa ---------------------------------------------------------
run as alice "$JIT_SSH" login prod --no-agent
assert_rc 1 "prod (require_mfa) is refused to a password-only session"
assert_eq 1 "$(wc -l <<<"$ERR")" "... with one line"
assert_contains "$ERR" "role prod requires multi-factor authentication" \
	"... saying why"
# An ended session signs in again: alice, this time with her code.
sed -i 's/^token_expires = .*/token_expires = 2001-01-01T00:00:00Z/' \
	"$T/home/alice/.config/jit-ssh/config"
OTP=123456 sign_in_bg "$T/alice-prod.log" alice login prod --no-agent ||
	fail "alice signs in again with her one-time code"
wait "$BG_PID"
assert_eq 0 "$?" "with a second factor (amr pwd+otp) prod is granted"
assert_contains "$(cat "$T/alice-prod.log")" "session has ended; signing in again" \
	"the ended session made jit-ssh sign in again"
assert_login_ok "the prod certificate works" "$T/home/alice/.ssh/jit/prod" \
	"$T/home/alice/.ssh/jit/prod-cert.pub" "$JIT_USER2"

# A revoked session is refused with one line.
SID=$("$JIT_CA" token list --json --config "$T/server.yaml" |
	jq -r 'select(.user == "bob" and .kind == "sso") | .id' | head -n 1)
run "$JIT_CA" token revoke "$SID" --config "$T/server.yaml"
assert_rc 0 "jit-ca token revoke ends bob's session"
run as bob "$JIT_SSH" list
assert_rc 1 "bob's revoked session is refused"
assert_contains "$ERR" "session revoked" "... saying so"

# ---- tokens: automation_only ---------------------------------------------
run "$JIT_CA" token create alice --config "$T/server.yaml"
assert_rc 1 "no API token for alice under tokens: automation_only"
assert_contains "$ERR" "may not hold an API token" "... saying why"
run "$JIT_CA" token create ci-bot --config "$T/server.yaml"
assert_rc 0 "ci-bot (token_users) gets an API token"
BOT=$OUT
curl -s -H "Authorization: Bearer $BOT" "$JURL/v1/whoami" >"$T/bot.json"
assert_eq "ci-bot" "$(jq -r .user "$T/bot.json")" "ci-bot's token works"
# A person's token made under an older policy no longer works.
sed '/^tokens:/d; /^token_users:/d' "$T/policy.yaml" >"$T/open.yaml"
BOB_API=$("$JIT_CA" token create bob --data "$T/data" \
	--policies "$T/open.yaml" 2>/dev/null)
curl -s -H "Authorization: Bearer $BOB_API" "$JURL/v1/whoami" >"$T/bob.json"
assert_contains "$(jq -r .detail "$T/bob.json")" "API tokens are for automation only" \
	"bob's API token is refused with one clear detail"

# ---- hand-made ID tokens at POST /v1/sessions ------------------------------
NOW=$(date +%s)
claims() {   # claims USER [EXTRA JSON MEMBERS]
	printf '{"iss":"%s","aud":"jit-cli","sub":"%s","preferred_username":"%s","iat":%s,"exp":%s,"groups":["dev"],"amr":["pwd"]%s}' \
		"$ISS" "$1" "$1" "$NOW" "$((NOW + 300))" "${2:+,$2}"
}
exchange() {   # exchange JWT: sets STATUS and DETAIL
	curl -s -o "$T/x.json" -w '%{http_code}' -H 'Content-Type: application/json' \
		-d "{\"id_token\":\"$1\"}" "$JURL/v1/sessions" >"$T/x.status"
	STATUS=$(cat "$T/x.status")
	DETAIL=$(jq -r '.detail // empty' "$T/x.json")
}
refused() {    # refused JWT WANT MSG
	exchange "$1"
	assert_eq 401 "$STATUS" "$3: 401"
	assert_contains "$DETAIL" "$2" "$3: \"$DETAIL\""
	assert_eq 1 "$(printf '%s\n' "$DETAIL" | wc -l)" "$3: one line"
}
GOOD=$(python3 "$JWT" sign "$T/keys-a.json" a-ec "$(claims alice '"jti":"good"')")
exchange "$GOOD"
assert_eq 201 "$STATUS" "a well-made token signed by the provider's key is accepted"
assert_eq alice "$(jq -r .user "$T/x.json")" "... for alice"
refused "$GOOD" "already used to sign in (replayed)" "the same token again"
refused "$(python3 "$JWT" sign "$T/keys-a.json" a-rsa \
	"$(claims alice | sed 's/"aud":"jit-cli"/"aud":"other-app"/')")" \
	"for another audience" "an ID token for another audience"
refused "$(python3 "$JWT" sign "$T/keys-a.json" a-ed \
	"$(claims alice | sed "s/\"iat\":$NOW,\"exp\":$((NOW + 300))/\"iat\":$((NOW - 7200)),\"exp\":$((NOW - 3600))/")")" \
	"the token expired at" "an expired ID token"
refused "$(python3 "$JWT" sign "$T/keys-x.json" x-ec "$(claims alice)")" \
	'signed by an unknown key (kid "x-ec")' "an ID token signed by an unknown key"
refused "$(python3 "$JWT" none "$(claims alice)")" \
	'algorithm "none" is not accepted' "an ID token with alg none"
T1=$(python3 "$JWT" sign "$T/keys-a.json" a-ec "$(claims alice '"jti":"t1"')")
P2=$(printf '%s' "$(claims bob '"jti":"t1"')" | base64 -w0 | tr '+/' '-_' | tr -d =)
refused "$(cut -d. -f1 <<<"$T1").$P2.$(cut -d. -f3 <<<"$T1")" \
	"signature is not valid" "an ID token with a changed payload"
refused "$(python3 "$JWT" sign "$T/keys-a.json" a-ec \
	"$(claims alice | sed "s|\"iss\":\"$ISS\"|\"iss\":\"http://127.0.0.1:1\"|")")" \
	"from another issuer" "an ID token from another issuer"
N1=$(python3 "$JWT" sign "$T/keys-a.json" a-ec "$(claims alice '"nonce":"n-1","jti":"n1"')")
N2=$(python3 "$JWT" sign "$T/keys-a.json" a-ec "$(claims alice '"nonce":"n-1","jti":"n2"')")
exchange "$N1"
assert_eq 201 "$STATUS" "a token with a nonce is accepted once"
refused "$N2" "nonce was already used (replayed)" "another token with the same nonce"
exchange "$(python3 "$JWT" sign "$T/keys-a.json" a-ec "$(claims eve)")"
assert_eq 403 "$STATUS" "eve, unknown to the policy, is refused"
assert_contains "$DETAIL" "eve (from the identity provider) is not a user in the policy" \
	"... saying so"

# ---- key rotation at the provider --------------------------------------------
cp "$T/keys-b.json" "$T/idp/keys.json"
kill -HUP "$IDP_PID"
wait_for "grep -q 'reloaded: keys b-rsa' '$T/idp.log'" 10 ||
	fail "the provider reloads its keys"
# The server fetches the new key set when a token names a key it does
# not know (at most every few seconds): retried until it has.
NEWT=$(python3 "$JWT" sign "$T/keys-b.json" b-ec "$(claims alice '"jti":"rot"')")
deadline=$((SECONDS + 20))
exchange "$NEWT"
while [ "$STATUS" != 201 ] && [ $SECONDS -lt $deadline ]; do
	assert_contains "$DETAIL" 'unknown key (kid "b-ec")' \
		"before the refetch the new key is unknown, nothing else"
	sleep 0.5
	NEWT=$(python3 "$JWT" sign "$T/keys-b.json" b-ec \
		"$(claims alice "\"jti\":\"rot$SECONDS$RANDOM\"")")
	exchange "$NEWT"
done
assert_eq 201 "$STATUS" "a token of the rotated key is accepted without a restart"
refused "$(python3 "$JWT" sign "$T/keys-a.json" a-ec "$(claims alice '"jti":"old"')")" \
	'unknown key (kid "a-ec")' "the old key is no longer accepted"
# And the real provider's sign-in with its new keys.
OTP= sign_in_bg "$T/bob-again.log" bob setup "$JURL" --sso --yes ||
	fail "bob signs in after the rotation"
wait "$BG_PID"
assert_eq 0 "$?" "a device sign-in signed with the rotated key works"
run as bob "$JIT_SSH" whoami --json
assert_eq bob "$(jq -r .user <<<"$OUT")" "bob's new session works"

finish
