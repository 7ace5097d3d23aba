/*
 * flow.c - the web page's authorization code flow with PKCE, state and
 * nonce (oidc.h: jit_oidc_login_start, jit_oidc_login_finish).
 */
#include "oidc_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <sodium.h>

#include "buf.h"
#include "err.h"
#include "util.h"

/* Forget the sign-ins that ran out of time.  o->lock held. */
static void
logins_prune(struct jit_oidc *o, uint64_t now)
{
	size_t i, n;

	for (i = n = 0; i < o->nlogins; i++) {
		if (o->logins[i].until > now) {
			o->logins[n++] = o->logins[i];
			continue;
		}
		free(o->logins[i].redirect_uri);
		jit_wipe(&o->logins[i], sizeof(o->logins[i]));
	}
	o->nlogins = n;
}

/* The authorization URL of login l at endpoint. */
static int
auth_url(const struct jit_oidc *o, const char *endpoint,
    const struct oidc_login *l, char **out)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	char challenge[44], *q = NULL, *u;
	size_t n;
	int r;

	*out = NULL;
	SHA256((const unsigned char *)l->verifier, strlen(l->verifier), md);
	sodium_bin2base64(challenge, sizeof(challenge), md, sizeof(md),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	if ((r = jit_form_add(&q, "response_type", "code")) != 0 ||
	    (r = jit_form_add(&q, "client_id", o->client_id)) != 0 ||
	    (r = jit_form_add(&q, "redirect_uri",
	    l->redirect_uri)) != 0 ||
	    (r = jit_form_add(&q, "scope", o->scopes)) != 0 ||
	    (r = jit_form_add(&q, "state", l->state)) != 0 ||
	    (r = jit_form_add(&q, "nonce", l->nonce)) != 0 ||
	    (r = jit_form_add(&q, "code_challenge", challenge)) != 0 ||
	    (r = jit_form_add(&q, "code_challenge_method",
	    "S256")) != 0)
		goto out;
	n = strlen(endpoint) + 1 + strlen(q) + 1;
	if ((u = malloc(n)) == NULL) {
		r = JIT_ERR_ALLOC;
		goto out;
	}
	snprintf(u, n, "%s%c%s", endpoint, strchr(endpoint, '?') != NULL ?
	    '&' : '?', q);
	*out = u;
out:
	free(q);
	return r;
}

int
jit_oidc_login_start(struct jit_oidc *o, const char *redirect_uri,
    uint64_t now, char **url, char **state, char *why, size_t whylen)
{
	struct oidc_login l;
	char *endpoint = NULL;
	int r = JIT_ERR_INTERNAL;

	*url = NULL;
	*state = NULL;
	memset(&l, 0, sizeof(l));
	jit_seterr(why, whylen, "%s", "");
	if (!jit_oidc_web_enabled(o) || redirect_uri == NULL) {
		jit_seterr(why, whylen, "single sign-on for the web page is "
		    "not "
		    "configured (oidc.client_secret_file)");
		return JIT_ERR_INVALID_ARGUMENT;
	}
	if ((r = oidc_endpoint(o, "authorization_endpoint", &endpoint, why,
	    whylen)) != 0)
		return r == JIT_ERR_NOT_FOUND ? JIT_ERR_HTTP : r;
	if ((r = oidc_random(l.state)) != 0 ||
	    (r = oidc_random(l.nonce)) != 0 ||
	    (r = oidc_random(l.verifier)) != 0)
		goto out;
	if ((l.redirect_uri = jit_strdup(redirect_uri)) == NULL) {
		r = JIT_ERR_ALLOC;
		goto out;
	}
	l.until = now + JIT_OIDC_LOGIN_TTL;
	if ((r = auth_url(o, endpoint, &l, url)) != 0 ||
	    (*state = jit_strdup(l.state)) == NULL) {
		r = r != 0 ? r : JIT_ERR_ALLOC;
		goto out;
	}
	pthread_mutex_lock(&o->lock);
	logins_prune(o, now);
	if (o->logins == NULL && (o->logins = calloc(OIDC_LOGINS_MAX,
	    sizeof(*o->logins))) == NULL) {
		r = JIT_ERR_ALLOC;
	} else if (o->nlogins == OIDC_LOGINS_MAX) {
		jit_seterr(why, whylen, "too many sign-ins under way; try "
		    "again "
		    "in a few minutes");
		r = JIT_ERR_CONFLICT;
	} else {
		o->logins[o->nlogins++] = l;
		l.redirect_uri = NULL;       /* owned by o now */
		r = 0;
	}
	pthread_mutex_unlock(&o->lock);
out:
	if (r != 0) {
		free(*url);
		free(*state);
		*url = *state = NULL;
	}
	free(l.redirect_uri);
	free(endpoint);
	jit_wipe(&l, sizeof(l));
	return r;
}

/* Take the sign-in of state out of o into *l.  AUTH when there is none
 * (unknown, used, expired). */
static int
login_take(struct jit_oidc *o, const char *state, uint64_t now,
    struct oidc_login *l)
{
	size_t n = strlen(state), i;
	int found = -1;

	pthread_mutex_lock(&o->lock);
	logins_prune(o, now);
	for (i = 0; i < o->nlogins; i++)
		if (n == strlen(o->logins[i].state) &&
		    CRYPTO_memcmp(o->logins[i].state, state, n) == 0)
			found = (int)i;
	if (found >= 0) {
		*l = o->logins[found];
		o->logins[found] = o->logins[o->nlogins - 1];
		jit_wipe(&o->logins[o->nlogins - 1], sizeof(*l));
		o->nlogins--;
	}
	pthread_mutex_unlock(&o->lock);
	return found >= 0 ? 0 : JIT_ERR_AUTH;
}

/* Exchange code at the token endpoint; *id_token a new string. */
static int
redeem(struct jit_oidc *o, const struct oidc_login *l, const char *code,
    char **id_token, char *why, size_t whylen)
{
	char *endpoint = NULL, *form = NULL, fwhy[200];
	const char *err, *desc, *tok;
	json_t *j = NULL;
	long status = 0;
	int r;

	*id_token = NULL;
	if ((r = oidc_endpoint(o, "token_endpoint", &endpoint, why,
	    whylen)) != 0)
		return r == JIT_ERR_NOT_FOUND ? JIT_ERR_HTTP : r;
	if ((r = jit_form_add(&form, "grant_type",
	    "authorization_code")) != 0 ||
	    (r = jit_form_add(&form, "code", code)) != 0 ||
	    (r = jit_form_add(&form, "redirect_uri",
	    l->redirect_uri)) != 0 ||
	    (r = jit_form_add(&form, "code_verifier",
	    l->verifier)) != 0)
		goto out;
	r = jit_fetch_json(&o->fetch, endpoint, form, o->client_id,
	    o->client_secret, &status, &j, fwhy, sizeof(fwhy));
	if (r == JIT_ERR_HTTP) {
		jit_seterr(why, whylen, "could not reach the identity "
		    "provider's "
		    "token endpoint: %s", fwhy);
		goto out;
	}
	if (r != 0)
		goto out;
	if (status != 200) {
		err = json_string_value(json_object_get(j, "error"));
		desc = json_string_value(json_object_get(j,
		    "error_description"));
		jit_seterr(why, whylen, "the identity provider refused the "
		    "authorization code (%.40s%s%.120s)", err != NULL ? err :
		    "no reason given", desc != NULL ? ": " : "",
		    desc != NULL ? desc : "");
		r = JIT_ERR_AUTH;
		goto out;
	}
	if ((tok = json_string_value(json_object_get(j, "id_token"))) ==
	    NULL) {
		jit_seterr(why, whylen, "the identity provider's answer holds "
		    "no "
		    "ID token (is \"openid\" among the scopes?)");
		r = JIT_ERR_AUTH;
		goto out;
	}
	if ((*id_token = jit_strdup(tok)) == NULL)
		r = JIT_ERR_ALLOC;
out:
	if (form != NULL)
		jit_wipe(form, strlen(form));
	free(form);
	free(endpoint);
	json_decref(j);
	return r;
}

int
jit_oidc_login_finish(struct jit_oidc *o, const char *state,
    const char *code, uint64_t now, struct jit_oidc_identity *out,
    char *why, size_t whylen)
{
	struct oidc_login l;
	char *tok = NULL;
	int r = JIT_ERR_INTERNAL;

	memset(out, 0, sizeof(*out));
	memset(&l, 0, sizeof(l));
	jit_seterr(why, whylen, "%s", "");
	if (state == NULL || code == NULL || *code == '\0' ||
	    login_take(o, state, now, &l) != 0) {
		jit_seterr(why, whylen, "this sign-in is unknown, was already "
		    "used or took too long; start again");
		return JIT_ERR_AUTH;
	}
	if ((r = redeem(o, &l, code, &tok, why, whylen)) != 0)
		goto out;
	r = jit_oidc_verify(o, tok, JIT_OIDC_WEB, l.nonce, now, out, why,
	    whylen);
out:
	if (tok != NULL) {
		jit_wipe(tok, strlen(tok));
		free(tok);
	}
	free(l.redirect_uri);
	jit_wipe(&l, sizeof(l));
	return r;
}
