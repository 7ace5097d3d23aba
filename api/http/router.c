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
#include "cadir.h"
#include "err.h"
#include "util.h"

/* Refused attempts audited per user and second (burst twice that): an
 * auditor sees them, a script hammering the API cannot flood the log. */
#define REFUSALS_PER_SECOND 1

/* ---- policy references ---------------------------------------------- */

struct policy_ref *
api_policy_get(struct jit_api *api)
{
	struct policy_ref *r;

	pthread_mutex_lock(&api->lock);
	r = api->cur;
	r->refs++;
	pthread_mutex_unlock(&api->lock);
	return r;
}

void
api_policy_put(struct jit_api *api, struct policy_ref *r)
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
	api_policy_put(api, old);
}

/* ---- authentication ---------------------------------------------------- */

/* 1 if key may make another request now (ratelimit.h). */
static int
rate_ok(struct jit_api *api, const char *key)
{
	return jit_ratelimit_take(api->limits, key, jit_monotonic_ms());
}

int
failed_auth_allowed(struct call *c)
{
	char key[80];

	snprintf(key, sizeof(key), "addr:%.60s",
	    c->req->client_addr != NULL ? c->req->client_addr : "-");
	if (rate_ok(c->api, key))
		return 1;
	reply_error(c, 429, NULL, "too many failed attempts");
	c->resp->retry_after = 1;
	return 0;
}

/* A state-changing method (everything but GET and HEAD). */
static int
changes_state(const struct call *c)
{
	return strcmp(c->req->method, "GET") != 0 &&
	    strcmp(c->req->method, "HEAD") != 0;
}

/* A long-poll (?wait=N with N > 0) is the page waiting, not its user
 * acting: it does not keep an idle session alive. */
static int
is_long_poll(const struct call *c)
{
	const char *q = c->req->query, *w;

	for (w = strstr(q, "wait="); w != NULL; w = strstr(w + 1, "wait="))
		if ((w == q || w[-1] == '&') && w[5] != '\0' && w[5] != '0' &&
		    w[5] != '&')
			return 1;
	return 0;
}

static int
authenticate_session(struct call *c)
{
	const char *why = NULL;
	int r;

	if (changes_state(c) && !session_same_origin(c)) {
		reply_error(c, 403, "cross_origin", "a session may change "
		    "things only from the page's own origin");
		return -1;
	}
	r = jit_auth_session_check_sso(c->api->store, c->p, c->sid, c->now,
	    c->api->session_idle, !is_long_poll(c), &c->session, &c->auth,
	    &why);
	if (r == JIT_ERR_AUTH) {
		if (!failed_auth_allowed(c))
			return -1;
		reply_error(c, 401, "session_ended", "the session has ended "
		    "(%s); sign in again", why != NULL ? why : "");
		session_clear_cookie(c);
		return -1;
	}
	if (r != 0) {
		reply_failure(c, r, "could not check the session");
		return -1;
	}
	if (changes_state(c) && !jit_auth_csrf_ok(c->sid,
	    c->req->csrf_token)) {
		reply_error(c, 403, "csrf", "the X-CSRF-Token header is "
		    "missing or wrong");
		return -1;
	}
	c->via_session = 1;
	snprintf(c->user, sizeof(c->user), "%s", c->session.user);
	return 0;
}

static int
authenticate_bearer(struct call *c)
{
	const char *why = NULL;
	int r;

	r = jit_auth_check_info(c->api->store, c->p, c->req->authorization,
	    c->now, &c->auth, &why);
	if (r == JIT_ERR_AUTH) {
		if (!failed_auth_allowed(c))
			return -1;
		reply_error(c, 401, NULL, "a valid bearer token is required "
		    "(%s)", why != NULL ? why : "");
		return -1;
	}
	if (r != 0) {
		reply_failure(c, r, "could not check the token");
		return -1;
	}
	memcpy(c->user, c->auth.user, sizeof(c->user));
	return 0;
}

int
authenticate(struct call *c, enum auth how)
{
	char key[JIT_USER_MAX + 8];
	int r;

	if (how == PUBLIC)
		return 0;
	/* An Authorization header wins: API clients never carry the
	 * page's cookie, and a browser never adds this header by itself. */
	if (how == SESSION_ONLY || (how == AUTHENTICATED &&
	    c->req->authorization == NULL && session_cookie(c))) {
		if (how == SESSION_ONLY && !session_cookie(c)) {
			reply_error(c, 401, "no_session", "not signed in");
			return -1;
		}
		r = authenticate_session(c);
	} else {
		r = authenticate_bearer(c);
	}
	if (r != 0)
		return r;
	c->who.user = c->user;
	c->who.client_addr = c->req->client_addr;
	/* A sign-in through the identity provider brings its methods and
	 * groups (NULL and 0 for an API token). */
	c->who.amr = (const char *const *)c->auth.amr;
	c->who.namr = c->auth.namr;
	c->who.groups = (const char *const *)c->auth.groups;
	c->who.ngroups = c->auth.ngroups;
	c->pwho.user = c->user;
	c->pwho.groups = c->who.groups;
	c->pwho.ngroups = c->who.ngroups;
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

/* The fixed paths: path, methods allowed ("GET" also allows HEAD where
 * head is set), the credentials needed, and the handlers.  /v1/session
 * is PUBLIC here because signing in needs none; its GET and DELETE
 * handlers ask for the session themselves. */
static const struct route {
	const char *path;
	const char *methods;        /* for the 405 answer */
	int head;
	enum auth auth;
	void (*get)(struct call *);
	void (*post)(struct call *);
	void (*del)(struct call *);
} routes[] = {
	{ "/healthz", "GET", 1, PUBLIC, res_healthz, NULL, NULL },
	{ "/metrics", "GET", 0, PUBLIC, res_metrics, NULL, NULL },
	{ "/v1/ca", "GET", 0, PUBLIC, res_ca, NULL, NULL },
	{ "/v1/ca/host", "GET", 0, PUBLIC, res_ca_host, NULL, NULL },
	{ "/v1/hosts/enroll", "POST", 0, PUBLIC, NULL, res_hosts_enroll,
	    NULL },
	{ "/v1/hosts/challenge", "POST", 0, PUBLIC, NULL,
	    res_hosts_challenge, NULL },
	{ "/v1/hosts/renew", "POST", 0, PUBLIC, NULL, res_hosts_renew, NULL },
	{ "/v1/krl", "GET", 1, PUBLIC, res_krl, NULL, NULL },
	{ "/v1/oidc", "GET", 0, PUBLIC, res_oidc_info, NULL, NULL },
	{ "/v1/sessions", "POST", 0, PUBLIC, NULL, res_sessions_create, NULL },
	{ "/oidc/login", "GET", 0, PUBLIC, res_oidc_login, NULL, NULL },
	{ "/oidc/callback", "GET", 0, PUBLIC, res_oidc_callback, NULL, NULL },
	{ "/v1/audit", "GET", 0, AUTHENTICATED, res_audit, NULL, NULL },
	{ "/v1/whoami", "GET", 0, AUTHENTICATED, res_whoami, NULL, NULL },
	{ "/v1/requests", "GET or POST", 0, AUTHENTICATED, res_requests_list,
	    res_requests_create, NULL },
	{ "/v1/session", "GET, POST or DELETE", 0, PUBLIC, res_session_get,
	    res_session_create, res_session_delete },
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
	else if (method_is(c, "DELETE"))
		fn = rt->del;
	if (fn == NULL) {
		reply_error(c, 405, NULL, "use %s", rt->methods);
		return;
	}
	if (authenticate(c, rt->auth) != 0)
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
	if (action == NULL || strcmp(action, "certificate") == 0 ||
	    strcmp(action, "history") == 0) {
		/* Certificates are for the command-line client: a session
		 * (the page) never fetches, and so never issues, one. */
		if (!method_is(c, "GET"))
			reply_error(c, 405, NULL, "use GET");
		else if (authenticate(c, action != NULL &&
		    *action == 'c' ? BEARER_ONLY : AUTHENTICATED) != 0)
			return;
		else if (action == NULL)
			res_request_get(c, id);
		else if (*action == 'c')
			res_request_certificate(c, id);
		else
			res_request_history(c, id);
		return;
	}
	if (strcmp(action, "approve") != 0 && strcmp(action, "deny") != 0 &&
	    strcmp(action, "cancel") != 0 && strcmp(action, "revoke") != 0) {
		reply_error(c, 404, NULL, "no such endpoint");
		return;
	}
	if (!method_is(c, "POST"))
		reply_error(c, 405, NULL, "use POST");
	else if (authenticate(c, AUTHENTICATED) == 0)
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
	if (res_web(c))
		return;
	if (strncmp(path, "/r/", 3) == 0 && (method_is(c, "GET") ||
	    method_is(c, "HEAD")) && valid_request_id(path + 3,
	    strlen(path + 3)))
		res_web_request_link(c, path + 3);
	else if (strncmp(path, "/v1/requests/", 13) == 0)
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
	pref = api_policy_get(api);
	c.p = pref->p;
	route(&c);
	jit_wipe(c.sid, sizeof(c.sid));
	jit_auth_info_release(&c.auth);
	api_policy_put(api, pref);
	if (resp->later.poll != NULL)
		return;  /* answered later (res_request_get) */
	if (resp->status == 0)
		reply_error(&c, 500, NULL, "no response");
	reply_count(api, resp->status);
}

void
reply_count(struct jit_api *api, unsigned status)
{
	unsigned cls = status / 100;

	if (cls < 6)
		atomic_fetch_add_explicit(&api->http_counts[cls], 1,
		    memory_order_relaxed);
}

/* ---- the API object ------------------------------------------------------ */

/* The lifecycle's hook: the API's, with the policy in force. */
static int
api_hook(struct jit_store_txn *t, const struct jit_lc_event *ev, void *ctx)
{
	struct jit_api *api = ctx;
	struct policy_ref *pr = api_policy_get(api);
	int r;

	r = api->hook(t, ev, pr->p, api->hook_ctx);
	api_policy_put(api, pr);
	return r;
}

/* The host side (hosts.h), when there is a host CA. */
static int
hosts_new(struct jit_api *api, const struct jit_api_options *opt)
{
	struct jit_hosts_options ho;
	char *key = NULL;
	int r;

	if (opt->host_ca == NULL)
		return 0;
	memset(&ho, 0, sizeof(ho));
	ho.store = opt->store;
	ho.ca = opt->host_ca;
	ho.sign = jit_key_signer;
	ho.sign_ctx = opt->host_ca;
	ho.validity = opt->host_cert_validity;
	ho.clock_skew = opt->clock_skew;
	if ((r = jit_key_format_public(opt->host_ca, JIT_CADIR_HOST_COMMENT,
	    &key)) == 0 &&
	    (r = jit_hosts_ca_line(opt->host_domains, opt->nhost_domains,
	    key, &api->host_ca_line)) == 0 &&
	    (r = jit_hosts_new(&ho, &api->hosts)) == 0)
		api->host_ca = opt->host_ca;
	free(key);
	return r;
}

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
	api->session_max = opt->session_max != 0 ? opt->session_max :
	    12 * 3600;
	api->session_idle = opt->session_idle;
	api->oidc = opt->oidc;
	api->session_ttl = opt->session_ttl != 0 ? opt->session_ttl :
	    12 * 3600;
	memset(&lo, 0, sizeof(lo));
	lo.store = opt->store;
	lo.ca = opt->ca;
	lo.sign = jit_key_signer;
	lo.sign_ctx = opt->ca;
	lo.clock_skew = opt->clock_skew;
	if (opt->web_origin != NULL &&
	    (api->web_origin = jit_strdup(opt->web_origin)) == NULL) {
		r = JIT_ERR_ALLOC;
		goto fail;
	}
	api->hook = opt->hook;
	api->hook_ctx = opt->hook_ctx;
	if (opt->hook != NULL) {
		lo.hook = api_hook;
		lo.hook_ctx = api;
	}
	if ((r = jit_key_format_public(opt->ca, "jit-ssh-ca",
	    &api->ca_line)) != 0 ||
	    (r = jit_ratelimit_new(opt->rate_limit, 0, &api->limits)) != 0 ||
	    (r = jit_ratelimit_new(REFUSALS_PER_SECOND, 0,
	    &api->refusals)) != 0)
		goto fail;
	lo.refusals = api->refusals;
	lo.max_pending = opt->max_pending;
	if ((r = jit_lifecycle_new(&lo, &api->lc)) != 0 ||
	    (r = hosts_new(api, opt)) != 0 ||
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
	/* api->cur is NULL here: the policy stays the caller's. */
	jit_api_free(api);
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
	jit_hosts_free(api->hosts);
	free(api->host_ca_line);
	jit_ratelimit_free(api->refusals);
	jit_ratelimit_free(api->limits);
	jit_lifecycle_free(api->lc);
	free(api->ca_line);
	free(api->web_origin);
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
	int r = jit_lc_sweep(api->lc, now, expired, ended);

	/* Ended web sessions go too; they are already refused. */
	if (r == 0)
		r = jit_auth_session_sweep(api->store, now, api->session_idle,
		    NULL);
	/* Old single sign-on session tokens too. */
	if (r == 0 && api->oidc != NULL)
		r = jit_auth_sso_sweep(api->store, now, NULL);
	/* And single sign-on's expired sign-ins and used tokens. */
	if (r == 0 && api->oidc != NULL)
		r = jit_oidc_sweep(api->oidc, now, NULL);
	return r;
}

int
jit_api_audit(struct jit_api *api, const char *event, json_t *fields)
{
	struct policy_ref *pr = api_policy_get(api);
	int r;

	r = jit_lc_audit_system(api->lc, pr->p, event, fields);
	api_policy_put(api, pr);
	return r;
}

int
jit_api_policy_check(struct jit_api *api, uint64_t now,
    jit_lc_reload_fn report, void *report_ctx,
    struct jit_lc_reload_counts *counts)
{
	struct policy_ref *pr = api_policy_get(api);
	int r;

	r = jit_lc_policy_check(api->lc, pr->p, now, 0, report, report_ctx,
	    counts);
	api_policy_put(api, pr);
	return r;
}
