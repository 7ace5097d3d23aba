/*
 * res_sessions.c - single sign-on: GET /v1/oidc tells jit-ssh where to
 * sign in, POST /v1/sessions trades the provider's ID token for a
 * session token (oidc.h verifies, auth.h stores).
 */
#include "api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "util.h"

/* 404 when the server has no oidc: section; 0 if it has one. */
static int
need_oidc(struct call *c)
{
	if (c->api->oidc != NULL)
		return 0;
	reply_error(c, 404, "sso_not_configured", "single sign-on is not "
	    "configured on this server (oidc: in its configuration)");
	return -1;
}

void
res_oidc_info(struct call *c)
{
	/* 200 either way: the page asks on every sign-in screen, and a
	 * 404 there would read as an error in the browser's console. */
	if (c->api->oidc == NULL)
		reply_json(c, 200, json_pack("{s:b, s:b}", "sso", 0, "web", 0));
	else
		reply_json(c, 200, jit_oidc_client_info(c->api->oidc));
}

/* Answer a refused sign-in: 401 with why, or 429 when this address has
 * failed too often. */
static void
refuse(struct call *c, const char *why)
{
	if (failed_auth_allowed(c))
		reply_error(c, 401, "invalid_id_token", "the ID token was "
		    "refused: %s", why);
}

void
res_sessions_create(struct call *c)
{
	static const char *const allowed[] = { "id_token", NULL };
	struct jit_oidc_identity id;
	struct jit_sso_login l;
	char why[256], tid[JIT_TOKEN_ID_LEN], exp[JIT_TIME_LEN];
	char *token = NULL;
	const char *jwt;
	json_t *body;
	int r;

	memset(&id, 0, sizeof(id));
	if (need_oidc(c) != 0 || (body = decode_body(c, allowed, 0)) == NULL)
		return;
	if ((jwt = json_string_value(json_object_get(body, "id_token"))) ==
	    NULL) {
		reply_error(c, 400, "missing_field", "id_token (a string) is "
		    "required");
		goto out;
	}
	r = jit_oidc_verify(c->api->oidc, jwt, JIT_OIDC_DEVICE, NULL, c->now,
	    &id, why, sizeof(why));
	if (r == JIT_ERR_AUTH) {
		refuse(c, why);
		goto out;
	}
	if (r == JIT_ERR_HTTP) {
		fprintf(stderr, "jit-ca: POST /v1/sessions: %s\n", why);
		reply_error(c, 503, "idp_unavailable", "%s", why);
		c->resp->retry_after = 5;
		goto out;
	}
	if (r != 0) {
		reply_failure(c, r, "could not check the ID token");
		goto out;
	}
	if (!jit_policy_user_exists(c->p, id.user)) {
		reply_error(c, 403, "forbidden", "%s (from the identity "
		    "provider) is not a user in the policy", id.user);
		goto out;
	}
	memset(&l, 0, sizeof(l));
	l.user = id.user;
	l.subject = id.subject;
	l.amr = (const char *const *)id.amr;
	l.namr = id.namr;
	l.groups = (const char *const *)id.groups;
	l.ngroups = id.ngroups;
	l.client_addr = c->req->client_addr;
	if ((r = jit_auth_sso_create(c->api->store, &l, c->now,
	    c->api->session_ttl, &token, tid)) != 0) {
		reply_failure(c, r, "could not store the session");
		goto out;
	}
	snprintf(c->resp->user, sizeof(c->resp->user), "%s", id.user);
	jit_format_time(c->now + c->api->session_ttl, exp);
	reply_json(c, 201, json_pack("{s:s, s:s, s:s, s:s}", "token", token,
	    "token_id", tid, "user", id.user, "expires_at", exp));
out:
	if (token != NULL) {
		jit_wipe(token, strlen(token));
		free(token);
	}
	jit_oidc_identity_release(&id);
	json_decref(body);
}
