/*
 * res_oidc_web.c - the web page's sign-in through the identity provider
 * (oidc.h, the authorization code flow with PKCE, state and nonce):
 *
 *   GET /oidc/login     a new sign-in: 302 to the provider's
 *                       authorization endpoint, and the state in the
 *                       cookie jit_oidc_state (HttpOnly, SameSite=Lax
 *                       so the provider's redirect back carries it,
 *                       Path=/oidc/, ten minutes)
 *   GET /oidc/callback  the provider's redirect back with code and
 *                       state: the state must be this browser's and
 *                       unused, the code is redeemed and the ID token
 *                       checked with the sign-in's nonce; then the same
 *                       server-side session as the token sign-in
 *                       (res_session.c) starts and the browser goes to /
 *
 * Refusals answer one line of text/plain (401, 403, 503), since a
 * browser shows them as they are.
 */
#include "api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "buf.h"
#include "err.h"
#include "url.h"
#include "util.h"

#define STATE_COOKIE "jit_oidc_state"
#define STATE_MAX 64
#define CODE_MAX 2048

/* Answer one line of text. */
static void
refuse(struct call *c, unsigned status, const char *what, const char *why)
{
	char line[512];

	snprintf(line, sizeof(line), "Sign-in refused: %s%s%s (start again "
	    "at /)", what, *why != '\0' ? ": " : "", why);
	reply_text(c, status, line);
}

/* The callback URL this server gives the provider: web.origin, or the
 * scheme and Host of this request.  -1 when the Host header is unusable. */
static int
callback_uri(const struct call *c, char *out, size_t len)
{
	const char *host = c->req->host;

	if (c->api->web_origin != NULL) {
		snprintf(out, len, "%s/oidc/callback", c->api->web_origin);
		return 0;
	}
	if (host == NULL || *host == '\0' || strlen(host) > 255 ||
	    strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789.-:[]") != strlen(host))
		return -1;
	snprintf(out, len, "%s://%s/oidc/callback", c->req->tls ? "https" :
	    "http", host);
	return 0;
}

static int
sso_ready(struct call *c)
{
	if (c->api->oidc != NULL && jit_oidc_web_enabled(c->api->oidc))
		return 1;
	reply_error(c, 404, "sso_not_configured", "single sign-on for the web "
	    "page is not configured on this server (oidc.client_secret_file)");
	return 0;
}

void
res_oidc_login(struct call *c)
{
	char uri[512], why[256];
	char *url = NULL, *state = NULL;
	int r;

	if (!sso_ready(c))
		return;
	if (callback_uri(c, uri, sizeof(uri)) != 0) {
		reply_error(c, 400, "bad_request", "no usable Host header");
		return;
	}
	r = jit_oidc_login_start(c->api->oidc, uri, c->now, &url, &state, why,
	    sizeof(why));
	if (r == JIT_ERR_HTTP || r == JIT_ERR_CONFLICT) {
		fprintf(stderr, "jit-ca: GET /oidc/login: %s\n", why);
		refuse(c, 503, "the identity provider cannot be used now", why);
		c->resp->retry_after = 5;
		goto out;
	}
	if (r != 0 || strlen(url) >= JIT_HTTP_LOCATION_MAX) {
		reply_failure(c, r != 0 ? r : JIT_ERR_NO_BUFFER_SPACE,
		    "could not start the sign-in");
		goto out;
	}
	if (reply_header(c, &c->resp->location, "%s", url) == 0 &&
	    reply_header(c, &c->resp->set_cookie,
	    "%s=%s; Path=/oidc/; HttpOnly; SameSite=Lax; Max-Age=%d%s",
	    STATE_COOKIE, state, JIT_OIDC_LOGIN_TTL, c->req->tls ?
	    "; Secure" : "") == 0)
		reply_text(c, 302, "continue at the identity provider");
out:
	free(url);
	free(state);
}

/* Query parameter name of c's query, decoded into out (outlen bytes):
 * 1 if present, 0 if absent, -1 if malformed or too long.  Parameters
 * this file does not use are ignored: providers add their own. */
static int
query_get(const struct call *c, const char *name, char *out, size_t outlen)
{
	const char *p = c->req->query, *eq;
	size_t n = strlen(name), part;

	out[0] = '\0';
	while (p != NULL && *p != '\0') {
		part = strcspn(p, "&");
		eq = memchr(p, '=', part);
		if (eq != NULL && (size_t)(eq - p) == n &&
		    strncmp(p, name, n) == 0)
			return jit_url_decode(eq + 1, part - n - 1, out,
			    outlen) == 0 ? 1 : -1;
		p += part;
		if (*p == '&')
			p++;
	}
	return 0;
}

/* The state in c's cookie, into out: 1 if there is one. */
static int
state_cookie(const struct call *c, char out[STATE_MAX])
{
	const char *p = c->req->cookie, *v;
	size_t nl = strlen(STATE_COOKIE), vl;

	out[0] = '\0';
	while (p != NULL && *p != '\0') {
		while (*p == ' ' || *p == ';')
			p++;
		vl = strcspn(p, ";");
		if (vl > nl && strncmp(p, STATE_COOKIE, nl) == 0 &&
		    p[nl] == '=') {
			v = p + nl + 1;
			vl -= nl + 1;
			if (vl == 0 || vl >= STATE_MAX)
				return 0;
			memcpy(out, v, vl);
			out[vl] = '\0';
			return 1;
		}
		p += vl;
	}
	return 0;
}

/* Start the page's session for id and send the browser to the page. */
static void
start_session(struct call *c, const struct jit_oidc_identity *id)
{
	struct jit_sso_login l;
	struct jit_session s;
	char *sid = NULL;
	int r;

	memset(&l, 0, sizeof(l));
	l.user = id->user;
	l.subject = id->subject;
	l.amr = (const char *const *)id->amr;
	l.namr = id->namr;
	l.groups = (const char *const *)id->groups;
	l.ngroups = id->ngroups;
	l.client_addr = c->req->client_addr;
	if ((r = jit_auth_session_start_sso(c->api->store, &l, c->now,
	    c->api->session_max, &sid, &s)) != 0) {
		reply_failure(c, r, "could not start a session");
		return;
	}
	snprintf(c->resp->user, sizeof(c->resp->user), "%s", id->user);
	if (session_set_cookie(c, sid, c->api->session_max) == 0 &&
	    reply_header(c, &c->resp->location, "/") == 0)
		reply_text(c, 303, "signed in");
	jit_wipe(sid, strlen(sid));
	free(sid);
}

void
res_oidc_callback(struct call *c)
{
	struct jit_oidc_identity id;
	char state[STATE_MAX], mine[STATE_MAX], err[64];
	char why[256], *code = NULL;
	int r;

	memset(&id, 0, sizeof(id));
	if (!sso_ready(c))
		return;
	if (query_get(c, "error", err, sizeof(err)) == 1) {
		refuse(c, 401, "the identity provider did not sign you in",
		    jit_text_printable(err) ? err : "?");
		return;
	}
	if ((code = malloc(CODE_MAX)) == NULL) {
		reply_error(c, 500, NULL, "out of memory");
		return;
	}
	if (query_get(c, "state", state, sizeof(state)) != 1 ||
	    query_get(c, "code", code, CODE_MAX) != 1 || *code == '\0') {
		refuse(c, 400, "the identity provider's answer has no code and "
		    "state", "");
		goto out;
	}
	/* The sign-in must have started in this browser: its state cookie
	 * (login CSRF otherwise: someone else's code in this browser). */
	if (!state_cookie(c, mine) || strlen(mine) != strlen(state) ||
	    CRYPTO_memcmp(mine, state, strlen(state)) != 0) {
		if (failed_auth_allowed(c))
			refuse(c, 401, "this sign-in did not start in this "
			    "browser", "");
		goto out;
	}
	r = jit_oidc_login_finish(c->api->oidc, state, code, c->now, &id, why,
	    sizeof(why));
	if (r == JIT_ERR_AUTH) {
		if (failed_auth_allowed(c))
			refuse(c, 401, "the sign-in was not accepted", why);
		goto out;
	}
	if (r == JIT_ERR_HTTP) {
		fprintf(stderr, "jit-ca: GET /oidc/callback: %s\n", why);
		refuse(c, 503, "the identity provider cannot be reached", why);
		c->resp->retry_after = 5;
		goto out;
	}
	if (r != 0) {
		reply_failure(c, r, "could not finish the sign-in");
		goto out;
	}
	if (!jit_policy_user_exists(c->p, id.user)) {
		refuse(c, 403, "not a user in the policy", id.user);
		goto out;
	}
	start_session(c, &id);
out:
	if (code != NULL) {
		jit_wipe(code, CODE_MAX);
		free(code);
	}
	jit_oidc_identity_release(&id);
}
