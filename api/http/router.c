/*
 * router.c - see api.h: the API object, authentication and the routing
 * table from method and path to the resource handlers.
 */
#include "api_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "err.h"
#include "util.h"

/* Refused attempts audited per user and second (burst twice that): an
 * auditor sees them, a script hammering the API cannot flood the log. */
#define REFUSALS_PER_SECOND 1

/* ---- policy references ---------------------------------------------- */

static struct policy_ref *
policy_get(struct jit_api *api)
{
	struct policy_ref *r;

	pthread_mutex_lock(&api->lock);
	r = api->cur;
	r->refs++;
	pthread_mutex_unlock(&api->lock);
	return r;
}

static void
policy_put(struct jit_api *api, struct policy_ref *r)
{
	int last;

	if (r == NULL)
		return;
	pthread_mutex_lock(&api->lock);
	last = --r->refs == 0;
	pthread_mutex_unlock(&api->lock);
	if (last) {
		jit_policy_free(r->p);
		free(r);
	}
}

void
jit_api_set_policy(struct jit_api *api, struct jit_policy *policy)
{
	struct policy_ref *n, *old;

	if ((n = calloc(1, sizeof(*n))) == NULL) {
		/* Keep the old policy rather than serve none. */
		jit_policy_free(policy);
		return;
	}
	n->p = policy;
	n->refs = 1;
	pthread_mutex_lock(&api->lock);
	old = api->cur;
	api->cur = n;
	pthread_mutex_unlock(&api->lock);
	policy_put(api, old);
}

/* ---- authentication ---------------------------------------------------- */

/* 1 if key may make another request now (ratelimit.h). */
static int
rate_ok(struct jit_api *api, const char *key)
{
	return jit_ratelimit_take(api->limits, key, jit_monotonic_ms());
}

/* Authenticate c; on failure the reply is set and -1 returned. */
static int
authenticate(struct call *c)
{
	const char *why = NULL;
	char key[JIT_USER_MAX + 80];
	int r;

	r = jit_auth_check(c->api->store, c->p, c->req->authorization, c->now,
	    c->user, &why);
	if (r == JIT_ERR_AUTH) {
		snprintf(key, sizeof(key), "addr:%.60s",
		    c->req->client_addr != NULL ? c->req->client_addr : "-");
		if (!rate_ok(c->api, key)) {
			reply_error(c, 429, NULL, "too many failed attempts");
			c->resp->retry_after = 1;
			return -1;
		}
		reply_error(c, 401, NULL, "a valid bearer token is required "
		    "(%s)", why != NULL ? why : "");
		return -1;
	}
	if (r != 0) {
		reply_failure(c, r, "could not check the token");
		return -1;
	}
	c->who.user = c->user;
	c->who.client_addr = c->req->client_addr;
	snprintf(c->resp->user, sizeof(c->resp->user), "%s", c->user);
	snprintf(key, sizeof(key), "user:%s", c->user);
	if (!rate_ok(c->api, key)) {
		reply_error(c, 429, NULL, "rate limit of %u requests per second "
		    "exceeded", c->api->rate_limit);
		c->resp->retry_after = 1;
		return -1;
	}
	return 0;
}

/* ---- routing ------------------------------------------------------------ */

/* Request ids are "r-" + 12 base32 characters (store.h). */
static int
valid_request_id(const char *s, size_t len)
{
	size_t i;

	if (len != JIT_REQUEST_ID_LEN - 1 || s[0] != 'r' || s[1] != '-')
		return 0;
	for (i = 2; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '2' && s[i] <= '7')))
			return 0;
	return 1;
}

enum auth { PUBLIC, AUTHENTICATED };

/* The fixed paths: path, methods allowed ("GET" also allows HEAD where
 * head is set), whether a token is needed, and the handler. */
static const struct route {
	const char *path;
	const char *methods;        /* "GET", "POST" or "GET or POST" */
	int head;
	enum auth auth;
	void (*get)(struct call *);
	void (*post)(struct call *);
} routes[] = {
	{ "/healthz", "GET", 1, PUBLIC, res_healthz, NULL },
	{ "/metrics", "GET", 0, PUBLIC, res_metrics, NULL },
	{ "/v1/ca", "GET", 0, PUBLIC, res_ca, NULL },
	{ "/v1/krl", "GET", 1, PUBLIC, res_krl, NULL },
	{ "/v1/audit", "GET", 0, AUTHENTICATED, res_audit, NULL },
	{ "/v1/whoami", "GET", 0, AUTHENTICATED, res_whoami, NULL },
	{ "/v1/requests", "GET or POST", 0, AUTHENTICATED, res_requests_list,
	    res_requests_create },
};

static int
method_is(const struct call *c, const char *m)
{
	return strcmp(c->req->method, m) == 0;
}

static void
route_fixed(struct call *c, const struct route *rt)
{
	void (*fn)(struct call *) = NULL;

	if (method_is(c, "GET") || (rt->head && method_is(c, "HEAD")))
		fn = rt->get;
	else if (method_is(c, "POST"))
		fn = rt->post;
	if (fn == NULL) {
		reply_error(c, 405, NULL, "use %s", rt->methods);
		return;
	}
	if (rt->auth == AUTHENTICATED && authenticate(c) != 0)
		return;
	fn(c);
}

/* /v1/requests/ID[/ACTION] */
static void
route_request(struct call *c, const char *rest)
{
	const char *slash = strchr(rest, '/');
	size_t idlen = slash != NULL ? (size_t)(slash - rest) : strlen(rest);
	char id[JIT_REQUEST_ID_LEN];
	const char *action;

	if (!valid_request_id(rest, idlen)) {
		reply_error(c, 404, NULL, "no such request");
		return;
	}
	memcpy(id, rest, idlen);
	id[idlen] = '\0';
	action = slash != NULL ? slash + 1 : NULL;
	if (action == NULL || strcmp(action, "certificate") == 0) {
		if (!method_is(c, "GET"))
			reply_error(c, 405, NULL, "use GET");
		else if (authenticate(c) != 0)
			return;
		else if (action == NULL)
			res_request_get(c, id);
		else
			res_request_certificate(c, id);
		return;
	}
	if (strcmp(action, "approve") != 0 && strcmp(action, "deny") != 0 &&
	    strcmp(action, "cancel") != 0 && strcmp(action, "revoke") != 0) {
		reply_error(c, 404, NULL, "no such endpoint");
		return;
	}
	if (!method_is(c, "POST"))
		reply_error(c, 405, NULL, "use POST");
	else if (authenticate(c) == 0)
		res_request_action(c, id, action);
}

static void
route(struct call *c)
{
	const char *path = c->req->path;
	size_t i;

	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (strcmp(path, routes[i].path) == 0) {
			route_fixed(c, &routes[i]);
			return;
		}
	if (strncmp(path, "/v1/requests/", 13) == 0)
		route_request(c, path + 13);
	else
		reply_error(c, 404, NULL, "no such endpoint");
}

void
jit_api_handle(void *ctx, const struct jit_http_request *req,
    struct jit_http_response *resp)
{
	struct jit_api *api = ctx;
	struct jit_http_request r = *req;
	struct policy_ref *pref;
	struct call c;
	unsigned cls;

	memset(&c, 0, sizeof(c));
	if (r.method == NULL)
		r.method = "";
	if (r.path == NULL)
		r.path = "";
	if (r.query == NULL)
		r.query = "";
	if (r.body == NULL) {
		r.body = (const unsigned char *)"";
		r.body_len = 0;
	}
	c.api = api;
	c.req = &r;
	c.resp = resp;
	c.now = jit_now();
	pref = policy_get(api);
	c.p = pref->p;
	route(&c);
	policy_put(api, pref);
	if (resp->status == 0)
		reply_error(&c, 500, NULL, "no response");
	cls = resp->status / 100;
	if (cls < 6)
		atomic_fetch_add_explicit(&api->http_counts[cls], 1,
		    memory_order_relaxed);
}

/* ---- the API object -------------------------------------------------------- */

int
jit_api_new(const struct jit_api_options *opt, struct jit_policy *policy,
    struct jit_api **out)
{
	struct jit_lifecycle_options lo;
	struct jit_api *api;
	int r;

	*out = NULL;
	if (opt == NULL || opt->store == NULL || opt->ca == NULL ||
	    policy == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	if ((api = calloc(1, sizeof(*api))) == NULL)
		return JIT_ERR_ALLOC;
	pthread_mutex_init(&api->lock, NULL);
	api->store = opt->store;
	api->ca = opt->ca;
	api->clock_skew = opt->clock_skew;
	api->max_wait = opt->max_wait;
	api->rate_limit = opt->rate_limit;
	memset(&lo, 0, sizeof(lo));
	lo.store = opt->store;
	lo.ca = opt->ca;
	lo.sign = jit_key_signer;
	lo.sign_ctx = opt->ca;
	lo.clock_skew = opt->clock_skew;
	if ((r = jit_key_format_public(opt->ca, "jit-ssh-ca",
	    &api->ca_line)) != 0 ||
	    (r = jit_ratelimit_new(opt->rate_limit, 0, &api->limits)) != 0 ||
	    (r = jit_ratelimit_new(REFUSALS_PER_SECOND, 0,
	    &api->refusals)) != 0)
		goto fail;
	lo.refusals = api->refusals;
	lo.max_pending = opt->max_pending;
	if ((r = jit_lifecycle_new(&lo, &api->lc)) != 0 ||
	    (r = jit_cache_new(api->store, res_krl_build, api,
	    &api->krl)) != 0 ||
	    (r = jit_cache_new(api->store, res_metrics_build, api,
	    &api->metrics)) != 0)
		goto fail;
	if (opt->metrics_token != NULL &&
	    (api->metrics_token = jit_strdup(opt->metrics_token)) == NULL) {
		r = JIT_ERR_ALLOC;
		goto fail;
	}
	if ((api->cur = calloc(1, sizeof(*api->cur))) == NULL) {
		r = JIT_ERR_ALLOC;
		goto fail;
	}
	api->cur->p = policy;
	api->cur->refs = 1;
	*out = api;
	return 0;
fail:
	jit_cache_free(api->krl);
	jit_cache_free(api->metrics);
	jit_ratelimit_free(api->refusals);
	jit_ratelimit_free(api->limits);
	jit_lifecycle_free(api->lc);
	free(api->ca_line);
	pthread_mutex_destroy(&api->lock);
	free(api);
	return r;
}

void
jit_api_free(struct jit_api *api)
{
	if (api == NULL)
		return;
	if (api->cur != NULL) {
		jit_policy_free(api->cur->p);
		free(api->cur);
	}
	if (api->metrics_token != NULL) {
		jit_wipe(api->metrics_token, strlen(api->metrics_token));
		free(api->metrics_token);
	}
	jit_cache_free(api->krl);
	jit_cache_free(api->metrics);
	jit_ratelimit_free(api->refusals);
	jit_ratelimit_free(api->limits);
	jit_lifecycle_free(api->lc);
	free(api->ca_line);
	pthread_mutex_destroy(&api->lock);
	free(api);
}

void
jit_api_shutdown(struct jit_api *api)
{
	atomic_store(&api->shutting_down, 1);
}

int
jit_api_sweep(struct jit_api *api, uint64_t now, unsigned *expired,
    unsigned *ended)
{
	return jit_lc_sweep(api->lc, now, expired, ended);
}

int
jit_api_audit(struct jit_api *api, const char *event, json_t *fields)
{
	struct policy_ref *pr = policy_get(api);
	int r;

	r = jit_lc_audit_system(api->lc, pr->p, event, fields);
	policy_put(api, pr);
	return r;
}

int
jit_api_policy_check(struct jit_api *api, uint64_t now,
    jit_lc_reload_fn report, void *report_ctx,
    struct jit_lc_reload_counts *counts)
{
	struct policy_ref *pr = policy_get(api);
	int r;

	r = jit_lc_policy_check(api->lc, pr->p, now, 0, report, report_ctx,
	    counts);
	policy_put(api, pr);
	return r;
}
