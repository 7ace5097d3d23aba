/*
 * res_session.c - the web page's sessions (auth.h, "web sessions"):
 *
 *   POST /v1/session {"token": T}  sign in with an API token: sets the
 *                                  session cookie, answers 201
 *                                  {"user", "session_id", "csrf_token",
 *                                  "expires_at", "idle_timeout",
 *                                  "max_wait"}
 *   GET /v1/session                the same for the current session
 *   DELETE /v1/session             sign out: the session is deleted
 *
 * The cookie is "jit_session" (HttpOnly, SameSite=Strict, Path=/), or
 * "__Host-jit_session" with Secure when the page is served over TLS or
 * web.origin is https.  The token is checked once and never stored;
 * signing in is refused unless the request comes from the page's own
 * origin (so another site cannot sign a browser in as someone else).
 */
#include "api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "util.h"

#define COOKIE_PLAIN "jit_session"
#define COOKIE_SECURE "__Host-jit_session"

/* Is the page's origin https (so the cookie must be Secure)? */
static int
secure_origin(const struct call *c)
{
	const char *o = c->api->web_origin;

	return c->req->tls || (o != NULL && strncmp(o, "https://", 8) == 0);
}

static const char *
cookie_name(const struct call *c)
{
	return secure_origin(c) ? COOKIE_SECURE : COOKIE_PLAIN;
}

int
session_cookie(struct call *c)
{
	const char *p = c->req->cookie, *name = cookie_name(c), *v;
	size_t nl = strlen(name), vl;

	c->sid[0] = '\0';
	while (p != NULL && *p != '\0') {
		while (*p == ' ' || *p == ';')
			p++;
		vl = strcspn(p, ";");
		if (vl > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
			v = p + nl + 1;
			vl -= nl + 1;
			while (vl > 0 && v[vl - 1] == ' ')
				vl--;
			/* A value of another length is not a session id; an
			 * empty sid is then refused as malformed. */
			if (vl == JIT_SESSION_STRING_LEN) {
				memcpy(c->sid, v, vl);
				c->sid[vl] = '\0';
			}
			return 1;
		}
		p += vl;
	}
	return 0;
}

int
session_set_cookie(struct call *c, const char *value, uint64_t max_age)
{
	return reply_header(c, &c->resp->set_cookie,
	    "%s=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%llu%s",
	    cookie_name(c), value, (unsigned long long)max_age,
	    secure_origin(c) ? "; Secure" : "");
}

int
session_clear_cookie(struct call *c)
{
	return session_set_cookie(c, "", 0);
}

int
session_same_origin(const struct call *c)
{
	const char *site = c->req->sec_fetch_site, *origin = c->req->origin;
	const char *scheme = c->req->tls ? "https://" : "http://";
	size_t sl = strlen(scheme);

	if (site != NULL && strcmp(site, "same-origin") != 0)
		return 0;
	if (origin == NULL)
		/* Browsers send Origin with every POST and DELETE, and
		 * Sec-Fetch-Site; a request with neither is not the page. */
		return site != NULL;
	if (c->api->web_origin != NULL)
		return strcasecmp(origin, c->api->web_origin) == 0;
	return c->req->host != NULL && strncasecmp(origin, scheme, sl) == 0 &&
	    strcasecmp(origin + sl, c->req->host) == 0;
}

/* Answer with the session's facts; sid is its id. */
static void
reply_session(struct call *c, unsigned status, const char *sid,
    const struct jit_session *s)
{
	char csrf[JIT_CSRF_HEX_LEN + 1], exp[JIT_TIME_LEN];

	jit_auth_session_csrf(sid, csrf);
	jit_format_time(s->expires_at, exp);
	reply_json(c, status, json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}",
	    "user", s->user, "session_id", s->id, "csrf_token", csrf,
	    "expires_at", exp, "idle_timeout",
	    (json_int_t)c->api->session_idle, "max_wait",
	    (json_int_t)c->api->max_wait));
	jit_wipe(csrf, sizeof(csrf));
}

void
res_session_get(struct call *c)
{
	if (authenticate(c, SESSION_ONLY) == 0)
		reply_session(c, 200, c->sid, &c->session);
}

void
res_session_create(struct call *c)
{
	static const char *const allowed[] = { "token", NULL };
	char tid[JIT_TOKEN_ID_LEN];
	struct jit_session s;
	const char *why = NULL;
	char *sid = NULL;
	json_t *body, *tok;
	int r;

	if (!session_same_origin(c)) {
		reply_error(c, 403, "cross_origin", "sign in from the page "
		    "itself");
		return;
	}
	if ((body = decode_body(c, allowed, 0)) == NULL)
		return;
	tok = json_object_get(body, "token");
	if (!json_is_string(tok)) {
		reply_error(c, 400, "missing_field", "token is required");
		goto out;
	}
	r = jit_auth_check_token(c->api->store, c->p, json_string_value(tok),
	    c->now, c->user, tid, &why);
	if (r == JIT_ERR_AUTH) {
		if (failed_auth_allowed(c))
			reply_error(c, 401, "bad_token", "that token is not "
			    "valid (%s)", why != NULL ? why : "");
		goto out;
	}
	if (r != 0) {
		reply_failure(c, r, "could not check the token");
		goto out;
	}
	snprintf(c->resp->user, sizeof(c->resp->user), "%s", c->user);
	if ((r = jit_auth_session_start(c->api->store, c->user, tid, c->now,
	    c->api->session_max, c->req->client_addr, &sid, &s)) != 0) {
		reply_failure(c, r, "could not start a session");
		goto out;
	}
	if (session_set_cookie(c, sid, c->api->session_max) == 0)
		reply_session(c, 201, sid, &s);
out:
	if (sid != NULL) {
		jit_wipe(sid, strlen(sid));
		free(sid);
	}
	/* The token is a secret: do not leave it in freed memory. */
	if (json_is_string(tok))
		jit_wipe((char *)json_string_value(tok),
		    json_string_length(tok));
	json_decref(body);
}

void
res_session_delete(struct call *c)
{
	int r;

	if (authenticate(c, SESSION_ONLY) != 0)
		return;
	r = jit_auth_session_end(c->api->store, c->sid, c->req->client_addr);
	if (r != 0 && r != JIT_ERR_NOT_FOUND) {
		reply_failure(c, r, "could not end the session");
		return;
	}
	if (session_clear_cookie(c) == 0)
		reply_json(c, 200, json_pack("{s:b}", "signed_out", 1));
}
