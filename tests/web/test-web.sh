#!/bin/bash
# test-web.sh - the web page (api/web/) in a real browser: Debian's
# chromium driven by puppeteer-core (web.test.mjs) against a real
# `jit-ca serve`, plus the same rules checked with curl.
#
# Phase 1 (plain HTTP): bob signs in with his token and approves alice's
# staging request from the inbox while her `jit-ssh login` waits, and that
# login returns; carol denies a prod-db request, first without a comment;
# alice sees no approve button on her own request; an XSS reason renders
# as text; a POST without the CSRF token or from another origin is
# refused; erin (auditor) downloads the signed export and `jit-ca audit
# verify` accepts it.  Phase 2 (TLS, web.session_idle 4s): the cookie is
# Secure, bob ends a grant early, an idle session leads back to sign-in,
# sign-out ends the session in the store.
#
# Screenshots of the inbox and a request page at 1440 and 390 px go to
# $JIT_WEB_SCREENSHOTS (default: BUILD/web-screenshots); set it to
# docs/screenshots to refresh the committed ones.
#
# SKIPs (77) only when chromium or node is missing.  The first run
# installs puppeteer-core with `npm ci` into tests/web/node_modules.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../integration/lib.sh"
. "$here/../integration/api-lib.sh"

need_env JIT_CA JIT_SSH
CHROMIUM=$(command -v chromium || command -v chromium-browser) ||
	skip "chromium not installed"
command -v node >/dev/null 2>&1 || skip "node not installed"
need_cmd npm curl jq openssl ssh-keygen

if [ ! -f "$here/node_modules/puppeteer-core/package.json" ]; then
	npm ci --prefix "$here" --no-audit --no-fund >"$T/npm.log" 2>&1 || {
		cat "$T/npm.log"
		fail "npm ci --prefix tests/web (installs puppeteer-core)"
		finish
	}
fi

# ---- the server, users and requests -------------------------------------
cat >"$T/policy.yaml" <<'EOF'
users:
  alice: {groups: [dev, sre]}
  bob:   {groups: [dev, sre]}
  carol: {groups: [security]}
  dave:  {groups: [dev]}
  erin:  {groups: [audit]}
auditors: [group:audit]
roles:
  staging:
    description: Application servers in staging
    principals: [deploy, app]
    requesters: [group:dev]
    approvers: [group:sre]
    approvals: 1
    max_duration: 4h
    default_duration: 1h
    pending_timeout: 2h
    extensions: [permit-pty, permit-port-forwarding]
    source_address: [10.0.0.0/8, 127.0.0.1/32]
  prod-db:
    description: Production PostgreSQL primaries
    principals: [postgres]
    requesters: [group:dev]
    approvers: [group:sre, group:security]
    approvals: 2
    require_groups: [security]
    max_duration: 2h
    default_duration: 30m
    pending_timeout: 2h
    reason: required
    force_command: /usr/local/bin/psql-audited
    source_address: [10.20.0.0/16]
    extensions: [permit-pty]
EOF
API_MAX_WAIT=60s   # jit-ssh login long-polls for up to 30 s at a time
api_start || { fail "jit-ca serve starts"; finish; }
api_tokens alice bob carol dave erin || { fail "tokens"; finish; }
mkdir -p "$T/home/alice" "$T/shots" "$T/downloads"
SHOTS=${JIT_WEB_SCREENSHOTS:-${JIT_BUILD_ROOT:-$T}/web-screenshots}
case $SHOTS in /*) ;; *) SHOTS=${JIT_SOURCE_ROOT:-$PWD}/$SHOTS ;; esac
mkdir -p "$SHOTS"
make_user_key ed25519 "$T/user_key"

# alice waits for staging with the real client, as a person would.
as_alice() { HOME=$T/home/alice "$@"; }
as_alice "$JIT_SSH" setup "$JURL" --token "$TOK_alice" --yes \
	</dev/null >/dev/null 2>"$T/setup.err" || { fail "jit-ssh setup" "$(cat "$T/setup.err")"; finish; }
jit_bg "$T/login.log" env HOME="$T/home/alice" "$JIT_SSH" login staging \
	--for 1h --reason "Deploy the 4.2.1 hotfix to staging" --no-agent
LOGIN_PID=$JIT_BG_PID
wait_for "grep -qE 'request r-[a-z2-7]+ for role' '$T/login.log'" 20 ||
	{ fail "jit-ssh login makes its request" "$(cat "$T/login.log")"; finish; }
STAGING=$(grep -oE 'request r-[a-z2-7]+ for role' "$T/login.log" | head -n 1 | awk '{print $2}')

new_request "$TOK_alice" prod-db 45m "INC-2041: vacuum the orders table after the failed migration"
PRODDB=$RID
new_request "$TOK_dave" staging 2h "Reproduce the checkout timeout from SUP-118"
DAVE=$RID
new_request "$TOK_alice" staging 30m "Rotate the staging TLS certificates"
ALICE2=$RID
for v in STAGING PRODDB DAVE ALICE2; do
	[ -n "${!v}" ] || { fail "request $v created" "$RB"; finish; }
done

# ---- headers, the short link, CSRF and origin (curl) -----------------------
csp="default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
for p in / /app.js /app.css /icon.svg /v1/session; do
	hdr=$(curl -s -D - -o /dev/null "$JURL$p" | tr -d '\r')
	assert_contains "$hdr" "Content-Security-Policy: $csp" "$p: the CSP"
	assert_contains "$hdr" "X-Content-Type-Options: nosniff" "$p: nosniff"
	assert_contains "$hdr" "Referrer-Policy: no-referrer" "$p: no-referrer"
done
assert_contains "$(curl -s -D - -o /dev/null "$JURL/app.js" | tr -d '\r')" \
	"Content-Type: text/javascript; charset=utf-8" "app.js is served as JavaScript"
page=$(curl -s "$JURL/")
assert_not_contains "$page" "<script>" "no inline script in the page"
assert_not_contains "$page" "style=" "no inline style in the page"
assert_not_contains "$page" "http" "the page loads nothing from another origin"
hdr=$(curl -s -D - -o /dev/null "$JURL/r/$PRODDB" | tr -d '\r')
assert_match "$hdr" "^HTTP/1.1 302" "/r/ID redirects"
assert_contains "$hdr" "Location: /#/r/$PRODDB" "to the request's page"

# Sign in as bob with curl, as the page does.
signin() {  # TOKEN [ORIGIN]: sets STATUS, RB; cookie jar $T/jar
	rm -f "$T/jar"
	STATUS=$(curl -s -c "$T/jar" -o "$T/.si" -w '%{http_code}' -X POST \
		-H "Origin: ${2:-$JURL}" -H 'Content-Type: application/json' \
		--data-binary "{\"token\":\"$1\"}" "$JURL/v1/session")
	RB=$(cat "$T/.si")
}
signin "$TOK_bob" http://evil.example
assert_eq 403 "$STATUS" "sign-in from another origin is refused"
signin "$TOK_bob"
assert_eq 201 "$STATUS" "sign-in with bob's token"
CSRF=$(jget "$RB" .csrf_token)
cookie=$(awk '$6=="jit_session"{print $7}' "$T/jar")
assert_match "$cookie" "^jss_[A-Za-z0-9_-]{43}$" "the cookie holds a session id"
assert_not_contains "$(cat "$T/jar")" "$TOK_bob" "the cookie is not the token"
post() {  # PATH BODY HEADER...: POST with bob's cookie; sets STATUS, RB
	local path=$1 body=$2
	shift 2
	STATUS=$(curl -s -b "$T/jar" -o "$T/.p" -w '%{http_code}' -X POST \
		-H 'Content-Type: application/json' "$@" --data-binary "$body" \
		"$JURL$path")
	RB=$(cat "$T/.p")
}
post "/v1/requests/$DAVE/approve" '{}' -H "Origin: $JURL"
assert_eq 403 "$STATUS" "cookie POST without the CSRF token: 403"
assert_eq csrf "$(jget "$RB" .error)" "and says why"
case $CSRF in *0) WRONG=${CSRF%?}1 ;; *) WRONG=${CSRF%?}0 ;; esac
post "/v1/requests/$DAVE/approve" '{}' -H "Origin: $JURL" -H "X-CSRF-Token: $WRONG"
assert_eq 403 "$STATUS" "cookie POST with a wrong CSRF token: 403"
post "/v1/requests/$DAVE/approve" '{}' -H "Origin: http://evil.example" -H "X-CSRF-Token: $CSRF"
assert_eq 403 "$STATUS" "cookie POST from another Origin: 403"
post "/v1/requests/$DAVE/approve" '{}' -H "Sec-Fetch-Site: cross-site" -H "X-CSRF-Token: $CSRF"
assert_eq 403 "$STATUS" "cookie POST with Sec-Fetch-Site cross-site: 403"
post "/v1/requests/$DAVE/approve" '{}' -H "X-CSRF-Token: $CSRF"
assert_eq 403 "$STATUS" "cookie POST with neither Origin nor Sec-Fetch-Site: 403"
api "$TOK_dave" GET "/v1/requests/$DAVE"
assert_eq pending "$(jget "$RB" .state)" "none of them changed the request"
STATUS=$(curl -s -b "$T/jar" -o /dev/null -w '%{http_code}' "$JURL/v1/requests/$DAVE/certificate")
assert_eq 401 "$STATUS" "a session cannot fetch certificates (bearer only)"
api "$TOK_bob" GET "/v1/requests/$DAVE?view=1"
assert_eq '["approve","deny"]' "$(jget "$RB" '.allowed_actions|tostring')" \
	"bearer clients get allowed_actions with ?view=1"
api "$TOK_dave" GET "/v1/requests/$DAVE?view=1"
assert_eq '["cancel"]' "$(jget "$RB" '.allowed_actions|tostring')" \
	"the requester may only cancel"
api "$TOK_bob" GET "/v1/requests/$PRODDB?view=1"
assert_eq "/usr/local/bin/psql-audited" "$(jget "$RB" .terms.force_command)" \
	"the view carries the role's force-command"
assert_contains "$(jget "$RB" .progress)" "still needs" "and what is still missing"
api "$TOK_dave" GET "/v1/requests/$PRODDB/history"
assert_eq 403 "$STATUS" "history: only those who may see the request"
api "$TOK_erin" GET "/v1/requests/$PRODDB/history"
assert_eq "request.create" "$(jget "$RB" '.entries[0].event')" "history starts at request.create"
api "$TOK_bob" GET /v1/whoami
assert_eq bob "$(jget "$RB" .user)" "bearer clients work unchanged"

# ---- the browser ----------------------------------------------------------
export JURL CHROMIUM SHOTS STAGING PRODDB DAVE ALICE2
export TOK_alice TOK_bob TOK_carol TOK_dave TOK_erin
export ALICE_PUB DOWNLOADS=$T/downloads
ALICE_PUB=$(cat "$T/user_key.pub")
node "$here/web.test.mjs" main
assert_eq 0 "$?" "browser: phase 1 (see the lines above)"

# A login still waiting (the page never approved) is stopped, not waited
# for: its long-poll would go on until the request expires.
wait_for "! kill -0 $LOGIN_PID 2>/dev/null" 30 || kill "$LOGIN_PID" 2>/dev/null
wait "$LOGIN_PID"
assert_eq 0 "$?" "alice's waiting jit-ssh login returns after bob approves in the page"
assert_contains "$(cat "$T/login.log")" "$STAGING" "for the request bob approved"
[ -f "$T/home/alice/.ssh/jit/staging-cert.pub" ] && ok "alice's certificate is installed" ||
	fail "alice's certificate is installed" "$(cat "$T/login.log")"

export_file=$(ls "$T/downloads"/*.jsonl 2>/dev/null | head -n 1)
if [ -n "$export_file" ]; then
	run "$JIT_CA" audit verify "$export_file" --data "$T/data"
	assert_rc 0 "jit-ca audit verify accepts erin's download"
	assert_contains "$OUT$ERR" "contiguous" "a full, contiguous export"
	assert_contains "$(cat "$export_file")" '"event":"request.deny"' "with carol's denial"
else
	fail "erin's download is there" "$(ls -la "$T/downloads")"
fi

# ---- phase 2: TLS, revoke, idle expiry, sign-out -----------------------------
api_stop
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-keyout "$T/tls.key" -out "$T/tls.crt" -days 2 -subj /CN=localhost \
	-addext subjectAltName=DNS:localhost,IP:127.0.0.1 >/dev/null 2>&1 ||
	{ fail "openssl makes a test certificate"; finish; }
api_start "tls: {cert: $T/tls.crt, key: $T/tls.key}
web: {session_idle: 4s, session_max: 1h}" || { fail "TLS server starts"; finish; }
JURL=https://127.0.0.1:$API_PORT
export JURL IDLE=4
node "$here/web.test.mjs" tls
assert_eq 0 "$?" "browser: phase 2 (see the lines above)"
run "$JIT_CA" token list --config "$T/server.yaml"
assert_eq 0 "$(printf '%s\n' "$OUT" | grep -c '^s-')" \
	"no session is left in the store after sign-out and expiry"
finish
