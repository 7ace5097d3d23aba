/*
 * res_requests.c - /v1/requests and /v1/requests/ID[/ACTION] over HTTP:
 * decode the body or query, call the lifecycle, encode its answer.
 */
#include "api_int.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "url.h"
#include "util.h"

#define MAX_PUBLIC_KEY 16384      /* bytes of a public key line */
#define LIST_DEFAULT 100
#define LIST_MAX JIT_LC_LIST_MAX
#define LIST_RELEASE_PAGES 256    /* items in a list that make it drop
                                     map pages */

/* A JSON string member without NUL bytes: 1 and *out, 0 if absent or
 * null, -1 if of another type. */
static int
member_string(json_t *body, const char *key, const char **out)
{
	json_t *v = json_object_get(body, key);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v) ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return -1;
	*out = json_string_value(v);
	return 1;
}

/* The "duration" member: seconds or "90m"; 0 = absent.  -1 after a 400. */
static int
decode_duration(struct call *c, json_t *body, uint64_t *out)
{
	json_t *v = json_object_get(body, "duration");
	json_int_t d;

	*out = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_integer(v)) {
		d = json_integer_value(v);
		if (d > 0 && (uint64_t)d <= JIT_POLICY_MAX_DURATION) {
			*out = (uint64_t)d;
			return 0;
		}
		reply_error(c, 400, "bad_duration", "duration must be between "
		    "1 second and 366 days");
		return -1;
	}
	if (!json_is_string(v)) {
		reply_error(c, 400, "bad_duration", "duration must be a number"
		    " of seconds or a string like \"90m\"");
		return -1;
	}
	if (jit_parse_duration(json_string_value(v), out) != 0 ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		reply_error(c, 400, "bad_duration", "%s",
		    jit_err(JIT_ERR_BAD_DURATION));
		return -1;
	}
	if (*out > JIT_POLICY_MAX_DURATION) {
		reply_error(c, 400, "bad_duration", "duration must be at most "
		    "366 days");
		return -1;
	}
	return 0;
}

/* The body of POST /v1/requests into a; -1 after a 400. */
static int
decode_create(struct call *c, json_t *body, struct jit_create_args *a)
{
	const char *start;
	int k;

	memset(a, 0, sizeof(*a));
	if ((k = member_string(body, "role", &a->role)) == 0) {
		reply_error(c, 400, "missing_field", "role is required");
		return -1;
	}
	if (k < 0 || *a->role == '\0' || strlen(a->role) > JIT_NAME_MAX) {
		reply_error(c, 400, "bad_field", "role must be a role name");
		return -1;
	}
	if ((k = member_string(body, "public_key", &a->public_key)) == 0) {
		reply_error(c, 400, "missing_field", "public_key is required");
		return -1;
	}
	if (k < 0 || strlen(a->public_key) > MAX_PUBLIC_KEY) {
		reply_error(c, 400, "bad_field", "public_key must be an "
		    "OpenSSH public key line");
		return -1;
	}
	if (decode_duration(c, body, &a->duration) != 0)
		return -1;
	if (member_string(body, "reason", &a->reason) < 0) {
		reply_error(c, 400, "bad_reason", "reason must be a string");
		return -1;
	}
	if ((k = member_string(body, "start", &start)) < 0 ||
	    (k > 0 && jit_parse_time(start, &a->start) != 0)) {
		reply_error(c, 400, "bad_field", "start must be an RFC 3339 "
		    "time");
		return -1;
	}
	if (a->start <= c->now)
		a->start = 0;
	return 0;
}

/*
 * The 201 of a create from js, the request as stored (compact JSON,
 * taken over; NULL answers 500), with "certificate": cert added last
 * when cert is not NULL: the bytes that json_dumps(JSON_COMPACT) of
 * jit_request_to_json() with that member set would give, without
 * building and encoding the request again.
 */
static void
reply_created(struct call *c, char *js, const char *cert)
{
	static const char member[] = ",\"certificate\":";
	json_t *v = NULL;
	char *esc = NULL, *t;
	size_t n, en;

	n = js != NULL ? strlen(js) : 0;
	if (n < 2 || js[n - 1] != '}') {
		free(js);
		reply_json(c, 201, NULL);       /* a 500 */
		return;
	}
	if (cert != NULL && ((v = json_string(cert)) == NULL ||
	    (esc = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT)) == NULL)) {
		json_decref(v);
		free(js);
		reply_json(c, 201, NULL);
		return;
	}
	json_decref(v);
	en = esc != NULL ? strlen(esc) : 0;
	/* js without its '}', the member, '}', '\n', NUL */
	if ((t = realloc(js, n + (esc != NULL ? sizeof(member) - 1 + en : 0) +
	    2)) == NULL) {
		free(js);
		free(esc);
		reply_json(c, 201, NULL);
		return;
	}
	if (esc != NULL) {
		memcpy(t + n - 1, member, sizeof(member) - 1);
		n += sizeof(member) - 1;
		memcpy(t + n - 1, esc, en);
		n += en;
		t[n - 1] = '}';
		free(esc);
	}
	t[n] = '\n';
	t[n + 1] = '\0';
	reply_body(c, 201, t, n + 1, NULL);
}

void
res_requests_create(struct call *c)
{
	static const char *const allowed[] = { "role", "public_key",
	    "duration", "reason", "start", NULL };
	struct jit_create_args a;
	struct jit_request *req = NULL;
	struct jit_why why;
	char *cert = NULL, *js = NULL;
	json_t *body;
	int r;

	if ((body = decode_body(c, allowed, 0)) == NULL)
		return;
	if (decode_create(c, body, &a) == 0) {
		/* A request approved at creation whose window starts now
		 * comes with its certificate (docs/API.md), but not to a
		 * session: the page never issues one (router.c). */
		r = jit_lc_create_issue(c->api->lc, c->p, &c->who, &a, c->now,
		    &req, c->via_session ? NULL : &cert, &js, &why);
		if (r != 0)
			reply_refusal(c, r, &why);
		else
			reply_created(c, js, cert);
		js = NULL;
	}
	free(js);
	free(cert);
	jit_request_free(req);
	json_decref(body);
}

/*
 * The cursor of a list page: opaque to clients (docs/API.md); it is the
 * decimal sequence number of the last request of the page before, so
 * the next page starts below it.  0 if s is not one.
 */
static uint64_t
parse_cursor(const char *s)
{
	uint64_t v = 0;
	size_t i, n = strlen(s);

	if (n == 0 || n > 19 || strspn(s, "0123456789") != n || s[0] == '0')
		return 0;
	for (i = 0; i < n; i++)
		v = v * 10 + (uint64_t)(s[i] - '0');
	return v;
}

/* The optional ?view=1 (request_view_json) of q: 1, 0, or -1 after a
 * 400. */
static int
decode_view(struct call *c, const struct jit_query_param *q)
{
	if (!q->present || strcmp(q->value, "0") == 0)
		return 0;
	if (strcmp(q->value, "1") == 0)
		return 1;
	reply_error(c, 400, "bad_query", "view must be 1 or 0");
	return -1;
}

/* The request as JSON, with ?view=1 as the page shows it. */
static json_t *
request_json(const struct call *c, const struct jit_request *r, int view)
{
	return view ? request_view_json(c, r) : jit_request_to_json(r);
}

/* The query of GET /v1/requests (state, role, mine, limit, view,
 * cursor; view is decode_view's) into f; -1 after a 400. */
static int
decode_list(struct call *c, struct jit_query_param *q,
    struct jit_lc_filter *f)
{
	unsigned long lim = LIST_DEFAULT;

	memset(f, 0, sizeof(f[0]));
	if (decode_query(c, q, 6) != 0)
		return -1;
	if (q[0].present) {
		if (jit_state_parse(q[0].value, &f->state) != 0) {
			reply_error(c, 400, "bad_query", "unknown state (use "
			    "pending, approved, denied, cancelled, expired, "
			    "revoked or ended)");
			return -1;
		}
		f->has_state = 1;
	}
	if (q[1].present)
		f->role = q[1].value;
	if (q[2].present) {
		if (strcmp(q[2].value, "1") == 0 ||
		    strcmp(q[2].value, "true") == 0) {
			f->mine = 1;
		} else if (strcmp(q[2].value, "0") != 0 &&
		    strcmp(q[2].value, "false") != 0) {
			reply_error(c, 400, "bad_query", "mine must be 1 or 0");
			return -1;
		}
	}
	if (q[3].present && (parse_uint(q[3].value, &lim) != 0 || lim == 0 ||
	    lim > LIST_MAX)) {
		reply_error(c, 400, "bad_query", "limit must be 1..%d",
		    LIST_MAX);
		return -1;
	}
	f->limit = lim;
	if (q[5].present && (f->before = parse_cursor(q[5].value)) == 0) {
		reply_error(c, 400, "bad_query", "cursor must be a "
		    "next_cursor from an earlier page");
		return -1;
	}
	return 0;
}

void
res_requests_list(struct call *c)
{
	struct jit_query_param q[] = { { "state", "", 0 }, { "role", "", 0 },
	    { "mine", "", 0 }, { "limit", "", 0 }, { "view", "", 0 },
	    { "cursor", "", 0 } };
	struct jit_lc_filter f;
	struct jit_request **items = NULL;
	struct jit_why why;
	json_t *arr, *next_j;
	char next_s[24];
	uint64_t next = 0;
	size_t i, n = 0;
	int r, view;

	if (decode_list(c, q, &f) != 0 || (view = decode_view(c, &q[4])) < 0)
		return;
	if ((r = jit_lc_list(c->api->lc, c->p, &c->who, &f, &items, &n,
	    &next, &why)) != 0) {
		reply_refusal(c, r, &why);
		return;
	}
	arr = json_array();
	for (i = 0; arr != NULL && i < n; i++)
		if (json_array_append_new(arr, request_json(c, items[i], view))
		    != 0) {
			json_decref(arr);
			arr = NULL;
		}
	jit_lc_list_free(items, n);
	snprintf(next_s, sizeof(next_s), "%llu", (unsigned long long)next);
	next_j = next != 0 ? json_string(next_s) : json_null();
	if (arr == NULL)
		json_decref(next_j);
	reply_json(c, arr != NULL ? 200 : 500, arr != NULL ?
	    json_pack("{s:o, s:o}", "requests", arr, "next_cursor", next_j) :
	    NULL);
	/* A long list maps records spread over the whole file: with a
	 * million stored requests, 1,000 of them touch ~170 MB of the LMDB
	 * map (page cache, but counted in our RSS).  Drop those pages from
	 * the resident set at once rather than at the next sweep. */
	if (n >= LIST_RELEASE_PAGES)
		jit_store_release_pages(c->api->store);
}

/* A held GET /v1/requests/ID?wait= (http.h, "Answering later"). */
struct longpoll {
	struct jit_api *api;
	struct jit_lc_wait *w;
	char user[JIT_USER_MAX + 1];
	struct jit_auth_info auth;   /* the groups of a single sign-on, for
	                                the page's allowed actions */
	int view;                  /* ?view=1: as the page shows it */
};

static int
longpoll_poll(void *ctx, int final, struct jit_http_response *resp)
{
	struct longpoll *lp = ctx;
	struct jit_request *req = NULL;
	struct call c;
	int r;

	if ((r = jit_lc_wait_poll(lp->w, final, &req)) == 0)
		return 0;
	memset(&c, 0, sizeof(c));
	c.api = lp->api;
	c.resp = resp;
	snprintf(c.user, sizeof(c.user), "%s", lp->user);
	c.who.user = c.user;
	c.who.groups = (const char *const *)lp->auth.groups;
	c.who.ngroups = lp->auth.ngroups;
	if (r < 0) {
		reply_failure(&c, r, "could not read the request");
	} else if (lp->view) {
		/* The page's view is computed under the policy in force
		 * now, as a fresh GET would be. */
		struct policy_ref *pref = api_policy_get(lp->api);
		c.p = pref->p;
		reply_json(&c, 200, request_json(&c, req, 1));
		api_policy_put(lp->api, pref);
	} else {
		reply_request(&c, 200, req);
	}
	jit_request_free(req);
	snprintf(resp->user, sizeof(resp->user), "%s", lp->user);
	reply_count(lp->api, resp->status);
	return 1;
}

static void
longpoll_release(void *ctx)
{
	struct longpoll *lp = ctx;

	atomic_fetch_sub(&lp->api->waiting, 1);
	jit_lc_wait_free(lp->w);
	jit_auth_info_release(&lp->auth);
	free(lp);
}

void
res_request_get(struct call *c, const char *id)
{
	struct jit_query_param q[] = { { "wait", "", 0 }, { "view", "", 0 } };
	struct jit_request *req = NULL;
	struct jit_lc_wait *w = NULL;
	struct jit_http_later *later = &c->resp->later;
	struct longpoll *lp;
	struct jit_why why;
	unsigned long wait = 0;
	int r, view;

	if (decode_query(c, q, 2) != 0 || (view = decode_view(c, &q[1])) < 0)
		return;
	if (q[0].present && (parse_uint(q[0].value, &wait) != 0 ||
	    wait > c->api->max_wait)) {
		reply_error(c, 400, "bad_query", "wait must be 0..%llu "
		    "seconds", (unsigned long long)c->api->max_wait);
		return;
	}
	if (wait == 0 || atomic_load(&c->api->shutting_down) != 0)
		r = jit_lc_get(c->api->lc, c->p, &c->who, id, &req, &why);
	else
		r = jit_lc_wait_begin(c->api->lc, c->p, &c->who, id, &w, &req,
		    &why);
	if (r != 0) {
		reply_refusal(c, r, &why);
		return;
	}
	if (w == NULL) {
		reply_json(c, 200, request_json(c, req, view));
		jit_request_free(req);
		return;
	}
	/* Still pending: the server holds the connection, without a
	 * thread, until the request changes or the wait is over. */
	if ((lp = calloc(1, sizeof(*lp))) == NULL) {
		jit_lc_wait_free(w);
		reply_error(c, 500, NULL, "out of memory");
		return;
	}
	lp->api = c->api;
	lp->w = w;
	snprintf(lp->user, sizeof(lp->user), "%s", c->user);
	/* The call's credential is released when the call returns: the
	 * held answer keeps it (amr and groups) itself. */
	lp->auth = c->auth;
	memset(&c->auth, 0, sizeof(c->auth));
	lp->view = view;
	atomic_fetch_add(&c->api->waiting, 1);
	later->poll = longpoll_poll;
	later->release = longpoll_release;
	later->ctx = lp;
	later->key = jit_lc_wait_key(w);
	later->deadline_ms = jit_monotonic_ms() + (uint64_t)wait * 1000;
}

void
res_request_certificate(struct call *c, const char *id)
{
	struct jit_why why;
	char *line = NULL;
	int r;

	if (c->req->query[0] != '\0') {
		reply_error(c, 400, "bad_query", "no query parameters here");
		return;
	}
	if ((r = jit_lc_issue(c->api->lc, c->p, &c->who, id, c->now, &line,
	    &why)) != 0)
		reply_refusal(c, r, &why);
	else
		reply_text(c, 200, line);
	free(line);
}

void
res_request_action(struct call *c, const char *id, const char *name)
{
	static const char *const with_comment[] = { "comment", NULL };
	static const char *const nothing[] = { NULL };
	struct jit_request *req = NULL;
	struct jit_why why;
	const char *comment = NULL;
	json_t *body;
	int r, cancel = strcmp(name, "cancel") == 0;
	int deny = strcmp(name, "deny") == 0;

	if ((body = decode_body(c, cancel ? nothing : with_comment, 1)) ==
	    NULL)
		return;
	if (!cancel && decode_comment(c, body, deny, &comment) != 0)
		goto out;
	if (cancel)
		r = jit_lc_cancel(c->api->lc, c->p, &c->who, id, c->now, &req,
		    &why);
	else if (strcmp(name, "revoke") == 0)
		r = jit_lc_revoke(c->api->lc, c->p, &c->who, id, comment,
		    c->now, &req, &why);
	else
		r = jit_lc_decide(c->api->lc, c->p, &c->who, id, deny ?
		    JIT_DENY : JIT_APPROVE, comment, c->now, &req, &why);
	if (r != 0)
		reply_refusal(c, r, &why);
	else
		reply_request(c, 200, req);
out:
	jit_request_free(req);
	json_decref(body);
}
