/*
 * oidc.c - the provider: options, discovery, the key cache, ID token
 * verification and the memory of accepted tokens (oidc.h).
 */
#include "oidc_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>
#include <openssl/sha.h>
#include <sodium.h>

#include "buf.h"
#include "err.h"
#include "util.h"

#define DISCOVERY_PATH "/.well-known/openid-configuration"
#define DISCOVERY_MAX_AGE (24 * 3600)
#define AMR_VALUE_MAX 32
#define FAILED_FETCH_PAUSE_MS 1000

/* ---- options ------------------------------------------------------------ */

static int
copy_opt(char **dst, const char *src)
{
	*dst = NULL;
	if (src == NULL)
		return 0;
	return (*dst = jit_strdup(src)) != NULL ? 0 : JIT_ERR_ALLOC;
}

int
jit_oidc_issuer_ok(const char *issuer, char *why, size_t whylen)
{
	return jit_fetch_url_ok(issuer, why, whylen);
}

int
jit_oidc_new(const struct jit_oidc_options *opt, struct jit_oidc **out,
    char *err, size_t errlen)
{
	struct jit_oidc *o;
	char why[160];
	int r = JIT_ERR_INVALID_ARGUMENT;

	*out = NULL;
	jit_seterr(err, errlen, "%s", "");
	if (opt == NULL || opt->issuer == NULL || opt->client_id == NULL ||
	    *opt->client_id == '\0') {
		jit_seterr(err, errlen, "issuer and client_id are required");
		return JIT_ERR_INVALID_ARGUMENT;
	}
	if (jit_fetch_url_ok(opt->issuer, why, sizeof(why)) != 0) {
		jit_seterr(err, errlen, "issuer %.200s: %s", opt->issuer, why);
		return JIT_ERR_INVALID_ARGUMENT;
	}
	if (opt->username_claim != NULL &&
	    strcmp(opt->username_claim, "preferred_username") != 0 &&
	    strcmp(opt->username_claim, "email") != 0) {
		jit_seterr(err, errlen, "username_claim must be "
		    "preferred_username or email");
		return JIT_ERR_INVALID_ARGUMENT;
	}
	if ((o = calloc(1, sizeof(*o))) == NULL)
		return JIT_ERR_ALLOC;
	pthread_mutex_init(&o->lock, NULL);
	pthread_mutex_init(&o->fetch_lock, NULL);
	if ((r = copy_opt(&o->issuer, opt->issuer)) != 0 ||
	    (r = copy_opt(&o->client_id, opt->client_id)) != 0 ||
	    (r = copy_opt(&o->cli_client_id, opt->cli_client_id != NULL ?
	    opt->cli_client_id : opt->client_id)) != 0 ||
	    (r = copy_opt(&o->client_secret, opt->client_secret)) != 0 ||
	    (r = copy_opt(&o->username_claim, opt->username_claim != NULL ?
	    opt->username_claim : JIT_OIDC_DEFAULT_USERNAME_CLAIM)) != 0 ||
	    (r = copy_opt(&o->groups_claim, opt->groups_claim)) != 0 ||
	    (r = copy_opt(&o->ca_file, opt->ca_file)) != 0)
		goto fail;
	if (opt->scopes != NULL)
		r = copy_opt(&o->scopes, opt->scopes);
	else if ((o->scopes = malloc(64)) == NULL)
		r = JIT_ERR_ALLOC;
	else
		snprintf(o->scopes, 64, "%s%s", JIT_OIDC_DEFAULT_SCOPES,
		    opt->groups_claim != NULL ? " groups" : "");
	if (r != 0)
		goto fail;
	o->skew = opt->clock_skew;
	o->refetch_ms = opt->refetch_ms != 0 ? opt->refetch_ms :
	    JIT_OIDC_REFETCH_MS;
	o->fetch.ca_file = o->ca_file;
	*out = o;
	return 0;
fail:
	jit_oidc_free(o);
	return r;
}

void
jit_oidc_free(struct jit_oidc *o)
{
	if (o == NULL)
		return;
	free(o->issuer);
	free(o->client_id);
	free(o->cli_client_id);
	if (o->client_secret != NULL) {
		jit_wipe(o->client_secret, strlen(o->client_secret));
		free(o->client_secret);
	}
	free(o->username_claim);
	free(o->groups_claim);
	free(o->scopes);
	free(o->ca_file);
	json_decref(o->config);
	json_decref(o->jwks);
	free(o->seen);
	for (size_t i = 0; i < o->nlogins; i++)
		free(o->logins[i].redirect_uri);
	if (o->logins != NULL)
		jit_wipe(o->logins, o->nlogins * sizeof(*o->logins));
	free(o->logins);
	pthread_mutex_destroy(&o->lock);
	pthread_mutex_destroy(&o->fetch_lock);
	free(o);
}

json_t *
jit_oidc_client_info(const struct jit_oidc *o)
{
	return json_pack("{s:b, s:b, s:s, s:s, s:s}", "sso", 1, "web",
	    jit_oidc_web_enabled(o), "issuer", o->issuer, "client_id",
	    o->cli_client_id, "scopes", o->scopes);
}

int
jit_oidc_web_enabled(const struct jit_oidc *o)
{
	return o != NULL && o->client_secret != NULL;
}

int
oidc_random(char out[44])
{
	unsigned char rnd[32];

	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		jit_wipe(rnd, sizeof(rnd));
		return JIT_ERR_CRYPTO;
	}
	sodium_bin2base64(out, 44, rnd, sizeof(rnd),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	jit_wipe(rnd, sizeof(rnd));
	return 0;
}

/* ---- discovery and keys ----------------------------------------------- */

/* GET url as a JSON object into *out.  HTTP with why. */
static int
get_json(struct jit_oidc *o, const char *url, const char *what, json_t **out,
    char *why, size_t whylen)
{
	char fwhy[200];
	long status = 0;
	int r;

	*out = NULL;
	r = jit_fetch_json(&o->fetch, url, NULL, NULL, NULL, &status, out,
	    fwhy, sizeof(fwhy));
	if (r == 0 && status != 200) {
		json_decref(*out);
		*out = NULL;
		snprintf(fwhy, sizeof(fwhy), "HTTP status %ld", status);
		r = JIT_ERR_HTTP;
	}
	if (r == JIT_ERR_HTTP)
		jit_seterr(why, whylen, "could not fetch the identity "
		    "provider's "
		    "%s from %.200s: %s", what, url, fwhy);
	return r;
}

/* The discovery document of o->issuer, checked: it names the same
 * issuer and an acceptable jwks_uri. */
static int
fetch_config(struct jit_oidc *o, json_t **out, char *why, size_t whylen)
{
	const char *iss, *jwks;
	char url[2200], uwhy[120];
	size_t n = strlen(o->issuer);
	int r;

	*out = NULL;
	/* A path's trailing slash goes before the well-known suffix. */
	if (n > 0 && o->issuer[n - 1] == '/')
		n--;
	snprintf(url, sizeof(url), "%.*s%s", (int)n, o->issuer,
	    DISCOVERY_PATH);
	if ((r = get_json(o, url, "configuration", out, why, whylen)) != 0)
		return r;
	iss = json_string_value(json_object_get(*out, "issuer"));
	jwks = json_string_value(json_object_get(*out, "jwks_uri"));
	if (iss == NULL || strcmp(iss, o->issuer) != 0) {
		jit_seterr(why, whylen, "the identity provider at %.200s calls "
		    "itself \"%.200s\", not the configured issuer", url,
		    iss != NULL ? iss : "nothing");
		r = JIT_ERR_HTTP;
	} else if (jwks == NULL ||
	    jit_fetch_url_ok(jwks, uwhy, sizeof(uwhy)) != 0) {
		jit_seterr(why, whylen, "the identity provider's jwks_uri "
		    "%.200s: %s", jwks != NULL ? jwks : "(missing)",
		    jwks != NULL ? uwhy : "required");
		r = JIT_ERR_HTTP;
	}
	if (r != 0) {
		json_decref(*out);
		*out = NULL;
	}
	return r;
}

/* The discovery document (a new reference), fetched when missing or
 * old.  Call with fetch_lock held. */
static int
config_locked(struct jit_oidc *o, uint64_t now, json_t **out, char *why,
    size_t whylen)
{
	json_t *c = NULL;
	int r;

	pthread_mutex_lock(&o->lock);
	if (o->config != NULL && now - o->config_at < DISCOVERY_MAX_AGE)
		c = json_incref(o->config);
	pthread_mutex_unlock(&o->lock);
	if (c != NULL) {
		*out = c;
		return 0;
	}
	if ((r = fetch_config(o, &c, why, whylen)) != 0) {
		/* An old document beats none while the provider is away. */
		pthread_mutex_lock(&o->lock);
		*out = json_incref(o->config);
		pthread_mutex_unlock(&o->lock);
		return *out != NULL ? 0 : r;
	}
	pthread_mutex_lock(&o->lock);
	json_decref(o->config);
	o->config = json_incref(c);
	o->config_at = now;
	pthread_mutex_unlock(&o->lock);
	*out = c;
	return 0;
}

int
oidc_endpoint(struct jit_oidc *o, const char *name, char **out, char *why,
    size_t whylen)
{
	json_t *c = NULL;
	const char *v;
	char uwhy[120];
	int r;

	*out = NULL;
	pthread_mutex_lock(&o->fetch_lock);
	r = config_locked(o, jit_now(), &c, why, whylen);
	pthread_mutex_unlock(&o->fetch_lock);
	if (r != 0)
		return r;
	if ((v = json_string_value(json_object_get(c, name))) == NULL) {
		jit_seterr(why, whylen, "the identity provider announces no %s",
		    name);
		r = JIT_ERR_NOT_FOUND;
	} else if (jit_fetch_url_ok(v, uwhy, sizeof(uwhy)) != 0) {
		jit_seterr(why, whylen, "the identity provider's %s %.200s: %s",
		    name, v, uwhy);
		r = JIT_ERR_HTTP;
	} else if ((*out = jit_strdup(v)) == NULL) {
		r = JIT_ERR_ALLOC;
	}
	json_decref(c);
	return r;
}

/*
 * The key set (a new reference in *out).  The cached one unless it is
 * missing or older than JIT_OIDC_KEYS_MAX_AGE, or refresh is set (a token
 * named an unknown key) and the last fetch was at least refetch_ms ago.
 * A failed fetch keeps the old set when there is one.
 */
static int
get_keys(struct jit_oidc *o, int refresh, json_t **out, char *why,
    size_t whylen)
{
	json_t *c = NULL, *ks = NULL;
	uint64_t now = jit_now(), ms = jit_monotonic_ms(), asked = ms;
	const char *uri;
	int r = JIT_ERR_INTERNAL, fresh;

	*out = NULL;
	pthread_mutex_lock(&o->lock);
	fresh = o->jwks != NULL && now - o->jwks_at < JIT_OIDC_KEYS_MAX_AGE;
	if (fresh && !refresh) {
		*out = json_incref(o->jwks);
		pthread_mutex_unlock(&o->lock);
		return 0;
	}
	pthread_mutex_unlock(&o->lock);

	pthread_mutex_lock(&o->fetch_lock);
	pthread_mutex_lock(&o->lock);
	/* Another thread may have fetched while this one waited; and an
	 * unknown key fetches again only now and then. */
	if (o->jwks != NULL && (o->fetched_ms >= asked || (fresh &&
	    ms - o->fetched_ms < o->refetch_ms))) {
		*out = json_incref(o->jwks);
		pthread_mutex_unlock(&o->lock);
		pthread_mutex_unlock(&o->fetch_lock);
		return 0;
	}
	/* Without any keys, a provider that just failed is not asked
	 * again for every request. */
	if (o->jwks == NULL && o->fetched_ms != 0 &&
	    ms - o->fetched_ms < FAILED_FETCH_PAUSE_MS) {
		pthread_mutex_unlock(&o->lock);
		pthread_mutex_unlock(&o->fetch_lock);
		jit_seterr(why, whylen, "the identity provider's keys could "
		    "not "
		    "be fetched a moment ago; try again");
		return JIT_ERR_HTTP;
	}
	o->fetched_ms = ms;
	pthread_mutex_unlock(&o->lock);
	if ((r = config_locked(o, now, &c, why, whylen)) != 0)
		goto out;
	uri = json_string_value(json_object_get(c, "jwks_uri"));
	if ((r = get_json(o, uri, "keys", &ks, why, whylen)) != 0)
		goto out;
	if (!json_is_array(json_object_get(ks, "keys"))) {
		jit_seterr(why, whylen, "the identity provider's key set at "
		    "%.200s has no \"keys\" list", uri);
		r = JIT_ERR_HTTP;
		goto out;
	}
	pthread_mutex_lock(&o->lock);
	json_decref(o->jwks);
	o->jwks = json_incref(ks);
	o->jwks_at = now;
	o->fetched_ms = jit_monotonic_ms();
	pthread_mutex_unlock(&o->lock);
	*out = ks;
	ks = NULL;
out:
	if (r != 0) {
		pthread_mutex_lock(&o->lock);
		*out = json_incref(o->jwks);
		pthread_mutex_unlock(&o->lock);
		if (*out != NULL)
			r = 0;
	}
	pthread_mutex_unlock(&o->fetch_lock);
	json_decref(c);
	json_decref(ks);
	return r;
}

/* ---- what an accepted token says --------------------------------------- */

void
jit_oidc_identity_release(struct jit_oidc_identity *id)
{
	if (id == NULL)
		return;
	for (size_t i = 0; i < id->ngroups; i++)
		free(id->groups[i]);
	free(id->groups);
	for (size_t i = 0; i < id->namr; i++)
		free(id->amr[i]);
	free(id->amr);
	memset(id, 0, sizeof(*id));
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The groups claim: the valid group names it lists, sorted, distinct
 * (a single string counts as a list of one). */
static int
take_groups(const struct jit_oidc *o, const json_t *claims,
    struct jit_oidc_identity *id)
{
	const json_t *g, *v;
	size_t i, n = 0;

	if (o->groups_claim == NULL ||
	    (g = json_object_get(claims, o->groups_claim)) == NULL)
		return 0;
	if (json_is_string(g))
		n = 1;
	else if (json_is_array(g))
		n = json_array_size(g);
	if (n == 0)
		return 0;
	if ((id->groups = calloc(n, sizeof(char *))) == NULL)
		return JIT_ERR_ALLOC;
	for (i = 0; i < n && id->ngroups < JIT_OIDC_MAX_GROUPS; i++) {
		const char *s;

		v = json_is_string(g) ? g : json_array_get(g, i);
		if ((s = json_string_value(v)) == NULL ||
		    !jit_policy_name_valid(s, 0))
			continue;
		if ((id->groups[id->ngroups] = jit_strdup(s)) == NULL)
			return JIT_ERR_ALLOC;
		id->ngroups++;
	}
	qsort(id->groups, id->ngroups, sizeof(char *), cmp_str);
	for (i = 1, n = id->ngroups > 0; i < id->ngroups; i++) {
		if (strcmp(id->groups[i], id->groups[n - 1]) == 0)
			free(id->groups[i]);
		else
			id->groups[n++] = id->groups[i];
	}
	id->ngroups = n;
	return 0;
}

/* The amr claim: its values that look like method names. */
static int
take_amr(const json_t *claims, struct jit_oidc_identity *id)
{
	const json_t *a = json_object_get(claims, "amr"), *v;
	size_t i, n = json_array_size(a);

	if (n == 0)
		return 0;
	if ((id->amr = calloc(n, sizeof(char *))) == NULL)
		return JIT_ERR_ALLOC;
	json_array_foreach(a, i, v) {
		const char *s = json_string_value(v);

		if (id->namr == JIT_OIDC_MAX_AMR)
			break;
		if (s == NULL || *s == '\0' || strlen(s) > AMR_VALUE_MAX ||
		    strspn(s, "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.:") != strlen(s))
			continue;
		if ((id->amr[id->namr] = jit_strdup(s)) == NULL)
			return JIT_ERR_ALLOC;
		id->namr++;
	}
	return 0;
}

/* The user, groups and methods of claims into id.  AUTH with why. */
static int
take_identity(const struct jit_oidc *o, const json_t *claims, uint64_t exp,
    struct jit_oidc_identity *id, char *why, size_t whylen)
{
	const char *user = json_string_value(json_object_get(claims,
	    o->username_claim));
	const char *sub = json_string_value(json_object_get(claims, "sub"));
	int r;

	if (user == NULL) {
		jit_seterr(why, whylen, "the token has no \"%s\" claim to name "
		    "the user", o->username_claim);
		return JIT_ERR_AUTH;
	}
	if (!jit_policy_name_valid(user, 1)) {
		jit_seterr(why, whylen, "the token's \"%s\" is not a valid "
		    "user "
		    "name", o->username_claim);
		return JIT_ERR_AUTH;
	}
	if (strcmp(o->username_claim, "email") == 0 &&
	    !json_is_true(json_object_get(claims, "email_verified"))) {
		jit_seterr(why, whylen, "the token's email address is not "
		    "verified (\"email_verified\")");
		return JIT_ERR_AUTH;
	}
	memcpy(id->user, user, strlen(user) + 1);
	snprintf(id->subject, sizeof(id->subject), "%s", sub);
	id->expires_at = exp;
	if ((r = take_groups(o, claims, id)) != 0 ||
	    (r = take_amr(claims, id)) != 0)
		return r;
	return 0;
}

/* ---- the memory of accepted tokens -------------------------------------- */

static void
seen_key(const char *label, const char *value, unsigned char key[32])
{
	unsigned char in[32 + 16];
	size_t n = strlen(label);

	/* SHA-256 of the label and the value's SHA-256: labels keep a
	 * token and a nonce of equal text apart. */
	SHA256((const unsigned char *)value, strlen(value), in);
	if (n > 15)
		n = 15;
	memcpy(in + 32, label, n);
	in[32 + n] = '\0';
	SHA256(in, 32 + n + 1, key);
}

static int
seen_has(const struct jit_oidc *o, const unsigned char key[32],
    uint64_t now)
{
	for (size_t i = 0; i < o->nseen; i++)
		if (o->seen[i].until > now &&
		    memcmp(o->seen[i].key, key, 32) == 0)
			return 1;
	return 0;
}

int
oidc_seen_add(struct jit_oidc *o, const unsigned char key[32],
    uint64_t until, uint64_t now)
{
	size_t i, n;

	if (seen_has(o, key, now))
		return JIT_ERR_CONFLICT;
	if (o->seen == NULL &&
	    (o->seen = calloc(OIDC_SEEN_MAX, sizeof(*o->seen))) == NULL)
		return JIT_ERR_ALLOC;
	if (o->nseen == OIDC_SEEN_MAX) {
		for (i = n = 0; i < o->nseen; i++)
			if (o->seen[i].until > now)
				o->seen[n++] = o->seen[i];
		o->nseen = n;
	}
	if (o->nseen == OIDC_SEEN_MAX)
		return JIT_ERR_NO_BUFFER_SPACE;
	memcpy(o->seen[o->nseen].key, key, 32);
	o->seen[o->nseen].until = until;
	o->nseen++;
	return 0;
}

/* Accept token (and its nonce, if any) once. */
static int
accept_once(struct jit_oidc *o, const char *token, const char *nonce,
    uint64_t until, uint64_t now, char *why, size_t whylen)
{
	unsigned char tk[32], nk[32];
	int r;

	seen_key("id_token", token, tk);
	if (nonce != NULL)
		seen_key("nonce", nonce, nk);
	pthread_mutex_lock(&o->lock);
	if (seen_has(o, tk, now)) {
		jit_seterr(why, whylen, "the token was already used to sign in "
		    "(replayed)");
		r = JIT_ERR_AUTH;
	} else if (nonce != NULL && seen_has(o, nk, now)) {
		jit_seterr(why, whylen, "the token's nonce was already used "
		    "(replayed)");
		r = JIT_ERR_AUTH;
	} else if ((r = oidc_seen_add(o, tk, until, now)) == 0 &&
	    nonce != NULL) {
		r = oidc_seen_add(o, nk, until, now);
	}
	pthread_mutex_unlock(&o->lock);
	if (r == JIT_ERR_NO_BUFFER_SPACE)
		jit_seterr(why, whylen, "too many sign-ins at once; try again "
		    "later");
	return r;
}

/* ---- verification ------------------------------------------------------- */

int
jit_oidc_verify(struct jit_oidc *o, const char *id_token,
    enum jit_oidc_flow flow, const char *nonce, uint64_t now,
    struct jit_oidc_identity *out, char *why, size_t whylen)
{
	struct jit_jwt t;
	struct jit_jwt_expect e;
	const char *aud[1];
	json_t *keys = NULL;
	uint64_t exp = 0;
	int r = JIT_ERR_INTERNAL;

	memset(out, 0, sizeof(*out));
	jit_seterr(why, whylen, "%s", "");
	if (flow == JIT_OIDC_WEB && nonce == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	if ((r = jit_jwt_parse(id_token, &t, why, whylen)) != 0)
		goto out;
	if ((r = get_keys(o, 0, &keys, why, whylen)) != 0)
		goto out;
	r = jit_jwt_verify(&t, keys, why, whylen);
	if (r == JIT_ERR_NOT_FOUND) {
		/* Perhaps the provider rotated its keys. */
		json_decref(keys);
		keys = NULL;
		if ((r = get_keys(o, 1, &keys, why, whylen)) != 0)
			goto out;
		r = jit_jwt_verify(&t, keys, why, whylen);
	}
	if (r == JIT_ERR_NOT_FOUND)
		r = JIT_ERR_AUTH;
	if (r != 0)
		goto out;
	aud[0] = flow == JIT_OIDC_WEB ? o->client_id : o->cli_client_id;
	memset(&e, 0, sizeof(e));
	e.issuer = o->issuer;
	e.audiences = aud;
	e.naudiences = 1;
	e.nonce = flow == JIT_OIDC_WEB ? nonce : NULL;
	e.now = now;
	e.skew = o->skew;
	if ((r = jit_jwt_check_claims(&t, &e, why, whylen)) != 0)
		goto out;
	(void)jit_jwt_time(t.claims, "exp", &exp);
	if ((r = take_identity(o, t.claims, exp, out, why, whylen)) != 0)
		goto out;
	r = accept_once(o, id_token, json_string_value(json_object_get(
	    t.claims, "nonce")), exp + o->skew, now, why, whylen);
out:
	if (r != 0)
		jit_oidc_identity_release(out);
	json_decref(keys);
	jit_jwt_release(&t);
	return r;
}
