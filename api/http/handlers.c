/* handlers.c - see handlers.h. */
#include "handlers.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "audit.h"
#include "audit_export.h"
#include "auth.h"
#include "buf.h"
#include "cert.h"
#include "err.h"
#include "revocation.h"
#include "url.h"
#include "util.h"

#define MAX_PUBLIC_KEY 16384      /* bytes of a public key line */
#define MAX_COMMENT 1024          /* bytes of an approve/deny comment */
#define MAX_ROLE_NAME 64
#define LIST_DEFAULT 100
#define LIST_MAX 1000
#define LIST_RELEASE_PAGES 256 /* items in a list that make it drop map pages */
#define RL_SLOTS 1024
#define MAX_START_AHEAD (366ull * 86400)

struct policy_ref {
	struct jit_policy *p;
	unsigned refs;
};

struct bucket {
	char key[JIT_USER_MAX + 8];
	double tokens;
	uint64_t last_ms;
};

struct jit_api {
	struct jit_store *store;
	struct jit_key *ca;
	char *ca_line;
	char *ca_fp;
	uint64_t clock_skew;
	uint64_t max_wait;
	unsigned rate_limit;
	pthread_mutex_t lock;            /* cur, buckets */
	struct policy_ref *cur;
	int shutting_down;               /* atomic */
	uint64_t http_counts[6];         /* atomic; by status / 100 */
	struct bucket buckets[RL_SLOTS];
};

/* One request being handled. */
struct call {
	struct jit_api *api;
	const struct jit_http_request *req;
	struct jit_http_response *resp;
	struct policy_ref *pref;
	const struct jit_policy *p;
	char user[JIT_USER_MAX + 1];
	uint64_t now;
};

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

/* ---- responses ------------------------------------------------------ */

static void
set_body(struct jit_http_response *resp, unsigned status, char *body,
    const char *ctype)
{
	free(resp->body);
	resp->status = status;
	resp->body = body;
	resp->body_len = body != NULL ? strlen(body) : 0;
	resp->content_type = ctype;
}

/* Answer with j (reference stolen). */
static void
reply_json(struct call *c, unsigned status, json_t *j)
{
	char *s = NULL, *t;
	size_t n;

	if (j != NULL)
		s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (s == NULL) {
		set_body(c->resp, 500, jit_strdup("{\"error\":\"internal\","
		    "\"detail\":\"out of memory\"}\n"), NULL);
		return;
	}
	n = strlen(s);
	if ((t = realloc(s, n + 2)) == NULL) {
		free(s);
		set_body(c->resp, 500, NULL, NULL);
		return;
	}
	t[n] = '\n';
	t[n + 1] = '\0';
	set_body(c->resp, status, t, NULL);
}

static const char *
status_error_name(unsigned status)
{
	switch (status) {
	case 400: return "bad_request";
	case 401: return "unauthorized";
	case 403: return "forbidden";
	case 404: return "not_found";
	case 405: return "method_not_allowed";
	case 409: return "conflict";
	case 413: return "too_large";
	case 429: return "too_many_requests";
	case 503: return "unavailable";
	default: return "internal";
	}
}

static void
reply_error(struct call *c, unsigned status, const char *error,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
reply_error(struct call *c, unsigned status, const char *error,
    const char *fmt, ...)
{
	char detail[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	if (error == NULL)
		error = status_error_name(status);
	reply_json(c, status, json_pack("{s:s, s:s}", "error", error,
	    "detail", detail));
	if (status == 401)
		c->resp->www_authenticate = 1;
}

/* The HTTP status for a jit error code (only api/ does this mapping). */
static unsigned
status_of(int r)
{
	switch (r) {
	case JIT_ERR_INVALID_ARGUMENT:
	case JIT_ERR_INVALID_FORMAT:
	case JIT_ERR_BAD_DURATION:
	case JIT_ERR_BAD_PUBLIC_KEY:
	case JIT_ERR_KEY_TYPE_UNKNOWN:
	case JIT_ERR_KEY_TYPE_UNSUPPORTED:
	case JIT_ERR_KEY_TOO_SMALL:
	case JIT_ERR_KEY_IS_CERT:
	case JIT_ERR_MESSAGE_INCOMPLETE:
	case JIT_ERR_TRAILING_DATA:
	case JIT_ERR_NUL_IN_STRING:
	case JIT_ERR_STRING_TOO_LARGE:
	case JIT_ERR_BAD_MPINT:
	case JIT_ERR_POLICY_ROLE:
	case JIT_ERR_POLICY_DURATION:
	case JIT_ERR_POLICY_REASON:
	case JIT_ERR_POLICY_KEY_TYPE:
		return 400;
	case JIT_ERR_AUTH:
		return 401;
	case JIT_ERR_FORBIDDEN:
	case JIT_ERR_PERMISSION:
		return 403;
	case JIT_ERR_NOT_FOUND:
		return 404;
	case JIT_ERR_CONFLICT:
		return 409;
	case JIT_ERR_NO_BUFFER_SPACE:
		return 413;
	case JIT_ERR_STORE_FULL:
	case JIT_ERR_STORE_LOCKED:
		return 503;
	default:
		return 500;
	}
}

static void
reply_jit_error(struct call *c, int r, const char *detail)
{
	unsigned st = status_of(r);

	if (st >= 500)
		fprintf(stderr, "jit-ca: %s %s: %s%s%s\n", c->req->method,
		    c->req->path, jit_err(r), detail != NULL && *detail ?
		    ": " : "", detail != NULL ? detail : "");
	/* A server-side failure names its cause ("storage is full") so the
	 * client knows whether retrying can help. */
	if (st >= 500 && detail != NULL && *detail)
		reply_error(c, st, NULL, "%s: %s", detail, jit_err(r));
	else
		reply_error(c, st, NULL, "%s", detail != NULL && *detail ?
		    detail : jit_err(r));
}

static void
reply_text(struct call *c, unsigned status, const char *text)
{
	size_t n = strlen(text);
	char *s = malloc(n + 2);

	if (s == NULL) {
		set_body(c->resp, 500, NULL, NULL);
		return;
	}
	memcpy(s, text, n);
	s[n] = '\n';
	s[n + 1] = '\0';
	set_body(c->resp, status, s, "text/plain; charset=utf-8");
}

/* ---- small helpers -------------------------------------------------- */

static const char *
jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static uint64_t
jtime(const json_t *o, const char *key)
{
	const char *s = jstr(o, key);
	uint64_t t;

	if (s == NULL || jit_parse_time(s, &t) != 0)
		return 0;
	return t;
}

static int
set_time(json_t *o, const char *key, uint64_t t)
{
	char buf[JIT_TIME_LEN];

	jit_format_time(t, buf);
	return json_object_set_new(o, key, json_string(buf)) == 0 ? 0 :
	    JIT_ERR_ALLOC;
}

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

/* Text a person typed (comment): printable, no control characters. */
static int
valid_text(const char *s)
{
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

struct qparam {
	const char *name;
	char value[128];
	int present;
};

/* Parse the query string into params (names as given); an unknown name,
 * a repeated name or a bad escape is an error (message in err). */
static int
parse_query(const char *q, struct qparam *params, size_t n, char *err,
    size_t errlen)
{
	const char *p = q, *amp, *eq;
	char name[64];
	size_t i, len;

	while (p != NULL && *p != '\0') {
		amp = strchr(p, '&');
		len = amp != NULL ? (size_t)(amp - p) : strlen(p);
		if (len > 0) {
			eq = memchr(p, '=', len);
			if (jit_url_decode(p, eq != NULL ? (size_t)(eq - p) : len,
			    name, sizeof(name)) != 0) {
				snprintf(err, errlen, "malformed query string");
				return -1;
			}
			for (i = 0; i < n; i++)
				if (strcmp(name, params[i].name) == 0)
					break;
			if (i == n) {
				snprintf(err, errlen, "unknown query parameter "
				    "'%.40s'", valid_text(name) ? name : "?");
				return -1;
			}
			if (params[i].present) {
				snprintf(err, errlen, "query parameter '%s' "
				    "given twice", params[i].name);
				return -1;
			}
			params[i].present = 1;
			if (eq != NULL && jit_url_decode(eq + 1,
			    len - (size_t)(eq - p) - 1, params[i].value,
			    sizeof(params[i].value)) != 0) {
				snprintf(err, errlen, "bad value for query "
				    "parameter '%s'", params[i].name);
				return -1;
			}
		}
		p = amp != NULL ? amp + 1 : NULL;
	}
	return 0;
}

/* A non-negative decimal integer of at most 9 digits. */
static int
parse_uint(const char *s, unsigned long *out)
{
	size_t n = strlen(s);

	if (n == 0 || n > 9 || strspn(s, "0123456789") != n)
		return -1;
	*out = strtoul(s, NULL, 10);
	return 0;
}

/* Parse the body as a JSON object whose members are all in allowed[].
 * An empty body is {} when empty_ok.  On error replies 400 and returns
 * NULL. */
static json_t *
parse_body(struct call *c, const char *const *allowed, int empty_ok)
{
	json_error_t e;
	json_t *j;
	const char *key;
	json_t *v;
	size_t i;

	if (c->req->body_len == 0) {
		if (empty_ok)
			return json_object();
		reply_error(c, 400, "bad_json", "a JSON object is required");
		return NULL;
	}
	j = json_loadb((const char *)c->req->body, c->req->body_len,
	    JSON_REJECT_DUPLICATES, &e);
	if (j == NULL) {
		reply_error(c, 400, "bad_json", "malformed JSON at line %d "
		    "column %d: %s", e.line, e.column, e.text);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		reply_error(c, 400, "bad_json", "the body must be a JSON "
		    "object");
		return NULL;
	}
	json_object_foreach(j, key, v) {
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(key, allowed[i]) == 0)
				break;
		if (allowed[i] == NULL) {
			reply_error(c, 400, "unknown_field", "unknown field "
			    "'%.40s'", valid_text(key) ? key : "?");
			json_decref(j);
			return NULL;
		}
	}
	(void)v;
	return j;
}

/* Optional comment member: absent or null -> NULL; else a string of at
 * most MAX_COMMENT bytes without control characters.  -1 after a 400. */
static int
get_comment(struct call *c, json_t *body, int required, const char **out)
{
	json_t *v = json_object_get(body, "comment");
	const char *s;

	*out = NULL;
	if (v == NULL || json_is_null(v)) {
		if (required) {
			reply_error(c, 400, "missing_field", "a comment is "
			    "required");
			return -1;
		}
		return 0;
	}
	if (!json_is_string(v)) {
		reply_error(c, 400, "bad_field", "comment must be a string");
		return -1;
	}
	s = json_string_value(v);
	if (json_string_length(v) != strlen(s) || !valid_text(s) ||
	    strlen(s) > MAX_COMMENT) {
		reply_error(c, 400, "bad_field", "comment must be at most %d "
		    "bytes of printable text", MAX_COMMENT);
		return -1;
	}
	if (required && *s == '\0') {
		reply_error(c, 400, "missing_field", "a comment is required");
		return -1;
	}
	*out = *s != '\0' ? s : NULL;
	return 0;
}

static int
can_view(const struct jit_policy *p, const char *user, const json_t *req)
{
	const char *owner = jstr(req, "user"), *role = jstr(req, "role");

	if (owner != NULL && strcmp(owner, user) == 0)
		return 1;
	return jit_policy_is_admin(p, user) || jit_policy_is_auditor(p, user) ||
	    (role != NULL && jit_policy_is_approver(p, user, role));
}

/* The approvers recorded in req, borrowed from it. */
static int
approver_list(const json_t *req, const char ***out, size_t *n)
{
	json_t *a = json_object_get(req, "approvals");
	size_t i, k = 0;
	const char **v;

	*out = NULL;
	*n = 0;
	if (!json_is_array(a) || json_array_size(a) == 0)
		return 0;
	if ((v = calloc(json_array_size(a), sizeof(*v))) == NULL)
		return JIT_ERR_ALLOC;
	for (i = 0; i < json_array_size(a); i++) {
		const char *u = jstr(json_array_get(a, i), "user");
		if (u != NULL)
			v[k++] = u;
	}
	*out = v;
	*n = k;
	return 0;
}

static json_t *
decision_entry(const char *user, uint64_t now, const char *comment)
{
	char at[JIT_TIME_LEN];

	jit_format_time(now, at);
	return json_pack("{s:s, s:s, s:o}", "user", user, "at", at,
	    "comment", comment != NULL ? json_string(comment) : json_null());
}

/* Move req to "approved" at time now: the window starts now or at the
 * requested start, whichever is later. */
static int
grant(json_t *req, uint64_t now)
{
	uint64_t start = jtime(req, "start"), nb, dur;
	json_int_t d = json_integer_value(json_object_get(req, "duration"));
	int r;

	if (d <= 0)
		return JIT_ERR_INTERNAL;
	dur = (uint64_t)d;
	nb = start > now ? start : now;
	if ((r = set_time(req, "not_before", nb)) != 0 ||
	    (r = set_time(req, "not_after", nb + dur)) != 0 ||
	    (r = set_time(req, "decided_at", now)) != 0)
		return r;
	json_object_del(req, "expires_at");
	return json_object_set_new(req, "state", json_string("approved")) == 0
	    ? 0 : JIT_ERR_ALLOC;
}

/* An audit entry for a change to req: event, actor, and the request's
 * identifying fields, plus the extra members of extra (stolen). */
static json_t *
audit_fields(const char *event, const char *actor, const json_t *req,
    json_t *extra)
{
	json_t *a = json_pack("{s:s, s:s, s:O?, s:O?, s:O?, s:O?}",
	    "event", event, "actor", actor,
	    "request", json_object_get(req, "id"),
	    "user", json_object_get(req, "user"),
	    "role", json_object_get(req, "role"),
	    "state", json_object_get(req, "state"));

	if (a != NULL && extra != NULL)
		json_object_update(a, extra);
	json_decref(extra);
	return a;
}

static int
audit_append_new(struct jit_store_txn *t, json_t *a)
{
	int r;

	if (a == NULL)
		return JIT_ERR_ALLOC;
	r = jit_audit_append(t, a, NULL, NULL);
	json_decref(a);
	return r;
}

/* ---- rate limiting ---------------------------------------------------- */

static uint32_t
fnv1a(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* 1 if key may make another request now (token bucket of rate/s, burst
 * 2*rate).  Keys share a slot on hash collisions; that only makes the
 * limit stricter for the two. */
static int
rate_ok(struct jit_api *api, const char *key)
{
	struct bucket *b;
	uint64_t now = jit_monotonic_ms();
	double cap = 2.0 * api->rate_limit;
	int ok;

	if (api->rate_limit == 0)
		return 1;
	pthread_mutex_lock(&api->lock);
	b = &api->buckets[fnv1a(key) % RL_SLOTS];
	if (strcmp(b->key, key) != 0) {
		snprintf(b->key, sizeof(b->key), "%s", key);
		b->tokens = cap;
		b->last_ms = now;
	}
	b->tokens += (double)(now - b->last_ms) * api->rate_limit / 1000.0;
	if (b->tokens > cap)
		b->tokens = cap;
	b->last_ms = now;
	ok = b->tokens >= 1.0;
	if (ok)
		b->tokens -= 1.0;
	pthread_mutex_unlock(&api->lock);
	return ok;
}

/* ---- reads -------------------------------------------------------------- */

struct get_ctx {
	const char *id;
	json_t *req;
	json_t *cert;          /* cert record if want_cert and serial set */
	int want_cert;
};

static int
get_fn(struct jit_store_txn *t, void *vctx)
{
	struct get_ctx *g = vctx;
	json_t *serial;
	int r;

	if ((r = jit_store_get_request(t, g->id, &g->req, NULL)) != 0)
		return r;
	serial = json_object_get(g->req, "serial");
	if (g->want_cert && json_is_integer(serial) &&
	    json_integer_value(serial) > 0)
		return jit_store_get_cert(t, (uint64_t)json_integer_value(
		    serial), &g->cert);
	return 0;
}

static int
load_request(struct call *c, const char *id, int want_cert, json_t **req,
    json_t **cert)
{
	struct get_ctx g = { id, NULL, NULL, want_cert };
	int r;

	*req = NULL;
	if (cert != NULL)
		*cert = NULL;
	if ((r = jit_store_read(c->api->store, get_fn, &g)) != 0) {
		json_decref(g.req);
		json_decref(g.cert);
		return r;
	}
	*req = g.req;
	if (cert != NULL)
		*cert = g.cert;
	else
		json_decref(g.cert);
	return 0;
}

/* ---- POST /v1/requests -------------------------------------------------- */

struct create_ctx {
	json_t *req;
	char *js;                 /* req encoded before the write */
	size_t jl;
	json_t *audit;            /* its audit fields, built before the write */
};

static int
create_fn(struct jit_store_txn *t, void *vctx)
{
	struct create_ctx *cc = vctx;
	int r;

	if ((r = jit_store_create_request_encoded(t, cc->req, cc->js, cc->jl,
	    NULL)) != 0)
		return r;
	return jit_audit_append(t, cc->audit, NULL, NULL);
}

static void
handle_create(struct call *c)
{
	static const char *const allowed[] = { "role", "public_key",
	    "duration", "reason", "start", NULL };
	const struct jit_policy_role *role;
	struct create_ctx cc;
	struct jit_key *key = NULL;
	json_t *body, *v, *req = NULL, *principals = NULL, *extra;
	const char *rolename, *pk, *reason = NULL;
	char msg[256], *fp = NULL, *line = NULL, rid[JIT_REQUEST_ID_LEN];
	uint64_t duration = 0, effective = 0, start = 0;
	size_t i;
	int r;

	if ((body = parse_body(c, allowed, 0)) == NULL)
		return;
	/* role */
	v = json_object_get(body, "role");
	if (v == NULL || json_is_null(v)) {
		reply_error(c, 400, "missing_field", "role is required");
		goto out;
	}
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    json_string_length(v) > MAX_ROLE_NAME ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		reply_error(c, 400, "bad_field", "role must be a role name");
		goto out;
	}
	rolename = json_string_value(v);
	/* public_key */
	v = json_object_get(body, "public_key");
	if (v == NULL || json_is_null(v)) {
		reply_error(c, 400, "missing_field", "public_key is required");
		goto out;
	}
	if (!json_is_string(v) || json_string_length(v) > MAX_PUBLIC_KEY ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		reply_error(c, 400, "bad_field", "public_key must be an "
		    "OpenSSH public key line");
		goto out;
	}
	pk = json_string_value(v);
	if ((r = jit_key_parse_public(pk, &key, NULL)) != 0) {
		reply_error(c, 400, "bad_public_key", "public_key: %s",
		    jit_err(r));
		goto out;
	}
	/* duration */
	v = json_object_get(body, "duration");
	if (v == NULL || json_is_null(v)) {
		duration = 0;
	} else if (json_is_integer(v)) {
		json_int_t d = json_integer_value(v);
		if (d <= 0 || (uint64_t)d > JIT_POLICY_MAX_DURATION) {
			reply_error(c, 400, "bad_duration", "duration must be "
			    "between 1 second and 366 days");
			goto out;
		}
		duration = (uint64_t)d;
	} else if (json_is_string(v)) {
		if (jit_parse_duration(json_string_value(v), &duration) != 0 ||
		    strlen(json_string_value(v)) != json_string_length(v)) {
			reply_error(c, 400, "bad_duration", "%s",
			    jit_err(JIT_ERR_BAD_DURATION));
			goto out;
		}
		if (duration > JIT_POLICY_MAX_DURATION) {
			reply_error(c, 400, "bad_duration", "duration must be "
			    "at most 366 days");
			goto out;
		}
	} else {
		reply_error(c, 400, "bad_duration", "duration must be a number"
		    " of seconds or a string like \"90m\"");
		goto out;
	}
	/* reason */
	v = json_object_get(body, "reason");
	if (v != NULL && !json_is_null(v)) {
		if (!json_is_string(v) ||
		    strlen(json_string_value(v)) != json_string_length(v)) {
			reply_error(c, 400, "bad_reason", "reason must be a "
			    "string");
			goto out;
		}
		reason = json_string_value(v);
	}
	/* start */
	v = json_object_get(body, "start");
	if (v != NULL && !json_is_null(v)) {
		if (!json_is_string(v) || jit_parse_time(json_string_value(v),
		    &start) != 0) {
			reply_error(c, 400, "bad_field", "start must be an "
			    "RFC 3339 time");
			goto out;
		}
		if (start > c->now + MAX_START_AHEAD) {
			reply_error(c, 400, "bad_field", "start is too far in "
			    "the future");
			goto out;
		}
		if (start <= c->now)
			start = 0;
	}
	/* policy */
	if ((role = jit_policy_role(c->p, rolename)) == NULL) {
		reply_error(c, 400, "unknown_role", "unknown role '%s'",
		    valid_text(rolename) ? rolename : "?");
		goto out;
	}
	if ((r = jit_policy_can_request(c->p, c->user, rolename, msg,
	    sizeof(msg))) != 0) {
		reply_error(c, status_of(r), NULL, "%s", *msg ? msg :
		    jit_err(r));
		goto out;
	}
	if ((r = jit_policy_check_request(c->p, rolename, duration, reason,
	    jit_key_type(key), &effective, msg, sizeof(msg))) != 0) {
		reply_error(c, status_of(r), r == JIT_ERR_POLICY_DURATION ?
		    "bad_duration" : r == JIT_ERR_POLICY_REASON ? "bad_reason" :
		    r == JIT_ERR_POLICY_KEY_TYPE ? "bad_key_type" : NULL, "%s",
		    *msg ? msg : jit_err(r));
		goto out;
	}
	if (effective == 0) {
		reply_error(c, 500, NULL, "policy gave no duration");
		goto out;
	}
	/* the record */
	if ((r = jit_key_fingerprint(key, &fp)) != 0 ||
	    (r = jit_key_format_public(key, NULL, &line)) != 0) {
		reply_jit_error(c, r, NULL);
		goto out;
	}
	if ((principals = json_array()) == NULL)
		goto oom;
	for (i = 0; i < role->nprincipals; i++)
		if (json_array_append_new(principals,
		    json_string(role->principals[i])) != 0)
			goto oom;
	if ((r = jit_store_new_request_id(rid)) != 0) {
		reply_jit_error(c, r, NULL);
		goto out;
	}
	req = json_pack("{s:s, s:s, s:s, s:s, s:O, s:o, s:I, s:s, s:s, s:s,"
	    " s:[], s:[], s:I}",
	    "id", rid, "state", "pending", "user", c->user, "role", role->name,
	    "principals", principals,
	    "reason", reason != NULL && *reason ? json_string(reason) :
	    json_null(),
	    "duration", (json_int_t)effective, "public_key", line,
	    "key_type", jit_key_type_short_name(jit_key_type(key)),
	    "key_fingerprint", fp, "approvals", "denials",
	    "approvals_needed", (json_int_t)jit_policy_approvals_needed(role));
	if (req == NULL)
		goto oom;
	if (set_time(req, "created_at", c->now) != 0)
		goto oom;
	if (start != 0 && set_time(req, "start", start) != 0)
		goto oom;
	if (jit_policy_approvals_needed(role) == 0) {
		if (grant(req, c->now) != 0)
			goto oom;
	} else if (set_time(req, "expires_at", c->now +
	    role->pending_timeout) != 0) {
		goto oom;
	}
	/* Everything but the store calls is done here, in the caller's
	 * thread, not on the writer thread every write waits for. */
	cc.req = req;
	extra = json_pack("{s:O?, s:O?, s:O?, s:O?, s:O?, s:s, s:O?, s:O?, "
	    "s:O?}",
	    "principals", json_object_get(req, "principals"),
	    "reason", json_object_get(req, "reason"),
	    "duration", json_object_get(req, "duration"),
	    "key_fingerprint", json_object_get(req, "key_fingerprint"),
	    "key_type", json_object_get(req, "key_type"),
	    "client_address", c->req->client_addr != NULL ?
	    c->req->client_addr : "-",
	    "approvals_needed", json_object_get(req, "approvals_needed"),
	    "not_before", json_object_get(req, "not_before"),
	    "not_after", json_object_get(req, "not_after"));
	if (extra == NULL || (cc.audit = audit_fields("request.create",
	    c->user, req, extra)) == NULL)
		goto oom;
	/* Encoded here, not on the writer thread. */
	if (jit_store_encode_request(req, &cc.js, &cc.jl) != 0) {
		json_decref(cc.audit);
		goto oom;
	}
	r = jit_store_write(c->api->store, create_fn, &cc);
	json_decref(cc.audit);
	free(cc.js);
	if (r != 0) {
		reply_jit_error(c, r, "could not store the request");
		goto out;
	}
	reply_json(c, 201, req);
	req = NULL;
	goto out;
oom:
	reply_error(c, 500, NULL, "out of memory");
out:
	json_decref(body);
	json_decref(req);
	json_decref(principals);
	jit_key_free(key);
	free(fp);
	free(line);
}

/* ---- GET /v1/requests ---------------------------------------------------- */

struct list_ctx {
	struct call *c;
	const char *state;       /* filter or NULL */
	const char *role;        /* filter or NULL */
	int all;                 /* admin/auditor */
	int mine;
	size_t limit;
	json_t *out;             /* array of [seq, req] pairs */
	json_t *seen;            /* id -> true */
};

static int
list_add(json_t *req, uint64_t seq, void *vctx)
{
	struct list_ctx *l = vctx;
	const char *id = jstr(req, "id"), *st = jstr(req, "state"),
	    *role = jstr(req, "role");

	if (id == NULL || st == NULL || role == NULL)
		return 0;
	if (l->state != NULL && strcmp(st, l->state) != 0)
		return 0;
	if (l->role != NULL && strcmp(role, l->role) != 0)
		return 0;
	if (l->mine && strcmp(jstr(req, "user") != NULL ? jstr(req, "user") :
	    "", l->c->user) != 0)
		return 0;
	if (!l->all && !can_view(l->c->p, l->c->user, req))
		return 0;
	if (json_object_get(l->seen, id) != NULL)
		return 0;
	if (json_object_set_new(l->seen, id, json_true()) != 0 ||
	    json_array_append_new(l->out, json_pack("[I, O]",
	    (json_int_t)seq, req)) != 0)
		return JIT_ERR_ALLOC;
	return json_array_size(l->out) >= l->limit ? 1 : 0;
}

static int
list_fn(struct jit_store_txn *t, void *vctx)
{
	struct list_ctx *l = vctx;
	struct jit_store_list opt = { 0, 0, 1 };
	int r;

	if (l->mine)
		return jit_store_list_by_user(t, l->c->user, &opt, list_add, l);
	if (l->state != NULL)
		return jit_store_list_by_state(t, l->state, &opt, list_add, l);
	if (l->all)
		return jit_store_list_all(t, &opt, list_add, l);
	/* Own requests, then the pending ones this user may decide on. */
	if ((r = jit_store_list_by_user(t, l->c->user, &opt, list_add, l)) != 0)
		return r;
	if (json_array_size(l->out) >= l->limit)
		return 0;
	return jit_store_list_by_state(t, "pending", &opt, list_add, l);
}

static int
cmp_seq_desc(const void *a, const void *b)
{
	json_int_t x = json_integer_value(json_array_get(*(json_t *const *)a,
	    0));
	json_int_t y = json_integer_value(json_array_get(*(json_t *const *)b,
	    0));

	return x < y ? 1 : x > y ? -1 : 0;
}

static int
valid_state_name(const char *s)
{
	static const char *const states[] = { "pending", "approved",
	    "denied", "cancelled", "expired", "revoked", "ended", NULL };
	size_t i;

	for (i = 0; states[i] != NULL; i++)
		if (strcmp(s, states[i]) == 0)
			return 1;
	return 0;
}

static void
handle_list(struct call *c)
{
	struct qparam q[] = { { "state", "", 0 }, { "role", "", 0 },
	    { "mine", "", 0 }, { "limit", "", 0 } };
	struct list_ctx l;
	char err[128];
	json_t **items = NULL, *arr = NULL;
	unsigned long lim = LIST_DEFAULT;
	size_t i, n;
	int r;

	memset(&l, 0, sizeof(l));
	if (parse_query(c->req->query, q, 4, err, sizeof(err)) != 0) {
		reply_error(c, 400, "bad_query", "%s", err);
		return;
	}
	if (q[0].present) {
		if (!valid_state_name(q[0].value)) {
			reply_error(c, 400, "bad_query", "unknown state (use "
			    "pending, approved, denied, cancelled, expired, "
			    "revoked or ended)");
			return;
		}
		l.state = q[0].value;
	}
	if (q[1].present)
		l.role = q[1].value;
	if (q[2].present) {
		if (strcmp(q[2].value, "1") == 0 ||
		    strcmp(q[2].value, "true") == 0)
			l.mine = 1;
		else if (strcmp(q[2].value, "0") != 0 &&
		    strcmp(q[2].value, "false") != 0) {
			reply_error(c, 400, "bad_query", "mine must be 1 or 0");
			return;
		}
	}
	if (q[3].present && (parse_uint(q[3].value, &lim) != 0 || lim == 0 ||
	    lim > LIST_MAX)) {
		reply_error(c, 400, "bad_query", "limit must be 1..%d",
		    LIST_MAX);
		return;
	}
	l.c = c;
	l.limit = lim;
	l.all = jit_policy_is_admin(c->p, c->user) ||
	    jit_policy_is_auditor(c->p, c->user);
	l.out = json_array();
	l.seen = json_object();
	if (l.out == NULL || l.seen == NULL) {
		reply_error(c, 500, NULL, "out of memory");
		goto out;
	}
	if ((r = jit_store_read(c->api->store, list_fn, &l)) != 0) {
		reply_jit_error(c, r, "could not list requests");
		goto out;
	}
	n = json_array_size(l.out);
	if ((arr = json_array()) == NULL ||
	    (n > 0 && (items = calloc(n, sizeof(*items))) == NULL)) {
		reply_error(c, 500, NULL, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++)
		items[i] = json_array_get(l.out, i);
	if (n > 1)
		qsort(items, n, sizeof(*items), cmp_seq_desc);
	for (i = 0; i < n; i++)
		if (json_array_append(arr, json_array_get(items[i], 1)) != 0) {
			reply_error(c, 500, NULL, "out of memory");
			goto out;
		}
	reply_json(c, 200, json_pack("{s:O}", "requests", arr));
	/* A long list maps records spread over the whole file: with a
	 * million stored requests, 1,000 of them touch ~170 MB of the LMDB
	 * map (page cache, but counted in our RSS).  Drop those pages from
	 * the resident set at once rather than at the next sweep. */
	if (n >= LIST_RELEASE_PAGES)
		jit_store_release_pages(c->api->store);
out:
	free(items);
	json_decref(arr);
	json_decref(l.out);
	json_decref(l.seen);
}

/* ---- GET /v1/requests/ID -------------------------------------------------- */

static size_t
jarray_size(const json_t *req, const char *key)
{
	return json_array_size(json_object_get(req, key));
}

static int
same_progress(const json_t *a, const json_t *b)
{
	const char *sa = jstr(a, "state"), *sb = jstr(b, "state");

	return sa != NULL && sb != NULL && strcmp(sa, sb) == 0 &&
	    jarray_size(a, "approvals") == jarray_size(b, "approvals") &&
	    jarray_size(a, "denials") == jarray_size(b, "denials");
}

static void
handle_get(struct call *c, const char *id)
{
	struct qparam q[] = { { "wait", "", 0 } };
	struct jit_api *api = c->api;
	json_t *req = NULL, *cur;
	unsigned long wait = 0;
	uint64_t version, deadline;
	char err[128];
	int r;

	if (parse_query(c->req->query, q, 1, err, sizeof(err)) != 0) {
		reply_error(c, 400, "bad_query", "%s", err);
		return;
	}
	if (q[0].present && (parse_uint(q[0].value, &wait) != 0 ||
	    wait > api->max_wait)) {
		reply_error(c, 400, "bad_query", "wait must be 0..%llu "
		    "seconds", (unsigned long long)api->max_wait);
		return;
	}
	/* The version is taken BEFORE the read, so a change that lands
	 * between the read and the wait still wakes us (store.h). */
	version = jit_store_version(api->store);
	if ((r = load_request(c, id, 0, &req, NULL)) != 0) {
		reply_jit_error(c, r, r == JIT_ERR_NOT_FOUND ?
		    "no such request" : NULL);
		return;
	}
	if (!can_view(c->p, c->user, req)) {
		json_decref(req);
		reply_error(c, 403, NULL, "only the requester, the role's "
		    "approvers, admins and auditors may see this request");
		return;
	}
	deadline = jit_monotonic_ms() + (uint64_t)wait * 1000;
	while (wait > 0 && strcmp(jstr(req, "state"), "pending") == 0 &&
	    !__atomic_load_n(&api->shutting_down, __ATOMIC_SEQ_CST)) {
		uint64_t nowms = jit_monotonic_ms(), slice;
		if (nowms >= deadline)
			break;
		/* Wake at least once a second to notice a shutdown. */
		slice = deadline - nowms;
		if (slice > 1000)
			slice = 1000;
		if (jit_store_wait_change(api->store, id, version,
		    (int)slice) != 1)
			continue;
		version = jit_store_version(api->store);
		if ((r = load_request(c, id, 0, &cur, NULL)) != 0)
			break;
		if (!same_progress(req, cur)) {
			json_decref(req);
			req = cur;
			break;
		}
		json_decref(cur);
	}
	reply_json(c, 200, req);
}

/* ---- approve / deny / cancel / revoke ------------------------------------- */

enum action { ACT_APPROVE, ACT_DENY, ACT_CANCEL, ACT_REVOKE };

struct act_ctx {
	struct call *c;
	const char *id;
	enum action act;
	const char *comment;
	uint64_t now;
	json_t *out;              /* the updated request */
	char msg[256];
};

/* May c act on req?  0, FORBIDDEN or CONFLICT with a message in msg.
 * Called before the write (to refuse cheaply) and again inside it. */
static int
check_action(struct call *c, enum action act, const json_t *req,
    uint64_t now, char *msg, size_t msglen)
{
	const char *owner = jstr(req, "user"), *role = jstr(req, "role"),
	    *state = jstr(req, "state");
	json_t *a;
	size_t i;
	int r;

	msg[0] = '\0';
	if (owner == NULL || role == NULL || state == NULL)
		return JIT_ERR_STORE_CORRUPT;
	switch (act) {
	case ACT_APPROVE:
	case ACT_DENY:
		if ((r = jit_policy_can_approve(c->p, c->user, owner, role, msg,
		    msglen)) != 0)
			return r == JIT_ERR_POLICY_ROLE ? JIT_ERR_FORBIDDEN : r;
		if (strcmp(state, "pending") != 0) {
			snprintf(msg, msglen, "request is %s, not pending",
			    state);
			return JIT_ERR_CONFLICT;
		}
		if (now >= jtime(req, "expires_at")) {
			snprintf(msg, msglen, "request has expired");
			return JIT_ERR_CONFLICT;
		}
		if (act == ACT_APPROVE) {
			a = json_object_get(req, "approvals");
			for (i = 0; i < json_array_size(a); i++) {
				const char *u = jstr(json_array_get(a, i),
				    "user");
				if (u != NULL && strcmp(u, c->user) == 0) {
					snprintf(msg, msglen, "%s has already "
					    "approved this request", c->user);
					return JIT_ERR_CONFLICT;
				}
			}
		}
		return 0;
	case ACT_CANCEL:
		if (strcmp(owner, c->user) != 0) {
			snprintf(msg, msglen, "only the requester may cancel");
			return JIT_ERR_FORBIDDEN;
		}
		if (strcmp(state, "pending") != 0) {
			snprintf(msg, msglen, "request is %s, not pending",
			    state);
			return JIT_ERR_CONFLICT;
		}
		return 0;
	case ACT_REVOKE:
		if (!jit_policy_is_approver(c->p, c->user, role) &&
		    !jit_policy_is_admin(c->p, c->user)) {
			snprintf(msg, msglen, "only approvers of role %s and "
			    "admins may revoke", role);
			return JIT_ERR_FORBIDDEN;
		}
		if (strcmp(state, "approved") != 0) {
			snprintf(msg, msglen, "request is %s, not approved",
			    state);
			return JIT_ERR_CONFLICT;
		}
		if (now >= jtime(req, "not_after")) {
			snprintf(msg, msglen, "the grant has already ended");
			return JIT_ERR_CONFLICT;
		}
		return 0;
	}
	return JIT_ERR_INTERNAL;
}

static int
act_fn(struct jit_store_txn *t, void *vctx)
{
	struct act_ctx *a = vctx;
	struct call *c = a->c;
	json_t *req = NULL, *extra = NULL;
	const char **approvers = NULL, *event = NULL;
	size_t n;
	int r;

	if ((r = jit_store_get_request(t, a->id, &req, NULL)) != 0)
		return r;
	if ((r = check_action(c, a->act, req, a->now, a->msg,
	    sizeof(a->msg))) != 0)
		goto out;
	r = JIT_ERR_ALLOC;
	switch (a->act) {
	case ACT_APPROVE:
		event = "request.approve";
		if (json_array_append_new(json_object_get(req, "approvals"),
		    decision_entry(c->user, a->now, a->comment)) != 0)
			goto out;
		if ((r = approver_list(req, &approvers, &n)) != 0)
			goto out;
		r = jit_policy_approval_satisfied(c->p, jstr(req, "role"),
		    jstr(req, "user"), approvers, n);
		if (r < 0)
			goto out;
		if (r == 1 && (r = grant(req, a->now)) != 0)
			goto out;
		extra = json_pack("{s:s?, s:I, s:O?, s:O?}", "comment",
		    a->comment, "approvals",
		    (json_int_t)jarray_size(req, "approvals"),
		    "not_before", json_object_get(req, "not_before"),
		    "not_after", json_object_get(req, "not_after"));
		break;
	case ACT_DENY:
		event = "request.deny";
		if (json_array_append_new(json_object_get(req, "denials"),
		    decision_entry(c->user, a->now, a->comment)) != 0 ||
		    json_object_set_new(req, "state", json_string("denied"))
		    != 0 || set_time(req, "decided_at", a->now) != 0)
			goto out;
		json_object_del(req, "expires_at");
		extra = json_pack("{s:s?}", "comment", a->comment);
		break;
	case ACT_CANCEL:
		event = "request.cancel";
		if (json_object_set_new(req, "state", json_string("cancelled"))
		    != 0 || set_time(req, "cancelled_at", a->now) != 0)
			goto out;
		json_object_del(req, "expires_at");
		extra = json_object();
		break;
	case ACT_REVOKE:
		event = "request.revoke";
		if (json_object_set_new(req, "state", json_string("revoked"))
		    != 0 || set_time(req, "revoked_at", a->now) != 0 ||
		    json_object_set_new(req, "revoked_by",
		    json_string(c->user)) != 0)
			goto out;
		if (a->comment != NULL && json_object_set_new(req,
		    "revoke_comment", json_string(a->comment)) != 0)
			goto out;
		extra = json_pack("{s:s?, s:O?}", "comment", a->comment,
		    "serial", json_object_get(req, "serial"));
		break;
	}
	if (extra == NULL) {
		r = JIT_ERR_ALLOC;
		goto out;
	}
	if ((r = jit_store_put_request(t, req)) != 0)
		goto out;
	r = audit_append_new(t, audit_fields(event, c->user, req, extra));
	extra = NULL;
	if (r != 0)
		goto out;
	a->out = req;
	req = NULL;
out:
	free(approvers);
	json_decref(extra);
	json_decref(req);
	return r;
}

static void
handle_action(struct call *c, const char *id, enum action act)
{
	static const char *const with_comment[] = { "comment", NULL };
	static const char *const nothing[] = { NULL };
	struct act_ctx a;
	json_t *body, *req = NULL;
	int r;

	memset(&a, 0, sizeof(a));
	if ((body = parse_body(c, act == ACT_CANCEL ? nothing : with_comment,
	    1)) == NULL)
		return;
	if (act != ACT_CANCEL && get_comment(c, body, act == ACT_DENY,
	    &a.comment) != 0)
		goto out;
	if ((r = load_request(c, id, 0, &req, NULL)) != 0) {
		reply_jit_error(c, r, r == JIT_ERR_NOT_FOUND ?
		    "no such request" : NULL);
		goto out;
	}
	/* Refuse what is plainly not allowed without taking a write. */
	if ((r = check_action(c, act, req, c->now, a.msg,
	    sizeof(a.msg))) != 0) {
		reply_jit_error(c, r, a.msg);
		goto out;
	}
	a.c = c;
	a.id = id;
	a.act = act;
	a.now = c->now;
	if ((r = jit_store_write(c->api->store, act_fn, &a)) != 0) {
		json_decref(a.out);
		reply_jit_error(c, r, a.msg);
		goto out;
	}
	reply_json(c, 200, a.out);
out:
	json_decref(req);
	json_decref(body);
}

/* ---- GET /v1/requests/ID/certificate ---------------------------------------- */

struct issue_ctx {
	struct call *c;
	const char *id;
	uint64_t now;
	uint64_t serial;          /* reserved before the write */
	json_t *snap;             /* the request as read before the write */
	const void *raw;          /* ... and its stored bytes */
	size_t rawlen;
	json_t *rec;              /* the cert record signed before the write */
	char *rec_js;             /* ... encoded before the write */
	size_t rec_jl;
	json_t *upd;              /* snap as issued (serial, issued_at) */
	char *upd_js;             /* ... encoded before the write */
	size_t upd_jl;
	json_t *audit;            /* its audit fields (same_grant: as the
	                             stored request would give them) */
	char *line;               /* the cert line (new) */
	int retry;                /* read and sign again */
	char msg[256];
};

/* Is req's grant fetchable by c now?  0, FORBIDDEN, CONFLICT. */
static int
check_fetch(struct call *c, const json_t *req, uint64_t now, char *msg,
    size_t msglen)
{
	const char *owner = jstr(req, "user"), *state = jstr(req, "state");

	msg[0] = '\0';
	if (owner == NULL || state == NULL)
		return JIT_ERR_STORE_CORRUPT;
	if (strcmp(owner, c->user) != 0) {
		snprintf(msg, msglen, "only the requester may fetch the "
		    "certificate");
		return JIT_ERR_FORBIDDEN;
	}
	if (strcmp(state, "approved") != 0) {
		snprintf(msg, msglen, "request is %s, not approved", state);
		return JIT_ERR_CONFLICT;
	}
	if (now >= jtime(req, "not_after")) {
		snprintf(msg, msglen, "the grant has ended");
		return JIT_ERR_CONFLICT;
	}
	return 0;
}

/* Sign the certificate for req with serial; *rec is its record.  Runs
 * before the write (in the caller's thread), not on the writer. */
static int
sign_cert(struct issue_ctx *ic, const json_t *req, uint64_t serial,
    json_t **rec)
{
	struct call *c = ic->c;
	const struct jit_policy_role *role;
	struct jit_cert_spec spec;
	struct jit_key *key = NULL;
	struct jit_buf blob = JIT_BUF_INIT;
	json_t *pr = json_object_get(req, "principals");
	const char **principals = NULL;
	char keyid[256], va[JIT_TIME_LEN], *line = NULL;
	uint64_t nb = jtime(req, "not_before"), na = jtime(req, "not_after");
	size_t i, np = json_array_size(pr);
	int r;

	*rec = NULL;
	if ((role = jit_policy_role(c->p, jstr(req, "role"))) == NULL) {
		snprintf(ic->msg, sizeof(ic->msg), "role %s is no longer in "
		    "the policy", jstr(req, "role"));
		return JIT_ERR_CONFLICT;
	}
	if (np == 0 || nb == 0 || na <= nb)
		return JIT_ERR_STORE_CORRUPT;
	/* The stored key line was made by handle_create from a key that
	 * jit_key_parse_public validated; validating the point again would
	 * cost two signatures. */
	if ((r = jit_key_parse_public_trusted(jstr(req, "public_key"),
	    &key)) != 0)
		return r;
	if ((principals = calloc(np, sizeof(*principals))) == NULL) {
		r = JIT_ERR_ALLOC;
		goto out;
	}
	for (i = 0; i < np; i++)
		if ((principals[i] = json_string_value(json_array_get(pr, i)))
		    == NULL) {
			r = JIT_ERR_STORE_CORRUPT;
			goto out;
		}
	snprintf(keyid, sizeof(keyid), "%s req=%s role=%s", jstr(req, "user"),
	    jstr(req, "id"), jstr(req, "role"));
	memset(&spec, 0, sizeof(spec));
	spec.key = key;
	spec.serial = serial;
	spec.key_id = keyid;
	spec.principals = principals;
	spec.nprincipals = np;
	spec.valid_after = nb > c->api->clock_skew ? nb - c->api->clock_skew :
	    0;
	spec.valid_before = na;
	spec.force_command = role->force_command;
	spec.source_address = role->source_address;
	spec.extensions = role->extensions;
	spec.nextensions = role->nextensions;
	if ((r = jit_cert_sign(&spec, c->api->ca, jit_key_signer, c->api->ca,
	    &blob)) != 0)
		goto out;
	if ((r = jit_cert_format(jit_buf_ptr(&blob), jit_buf_len(&blob),
	    keyid, &line)) != 0)
		goto out;
	jit_format_time(spec.valid_after, va);
	*rec = json_pack("{s:I, s:O, s:O, s:O, s:s, s:s, s:O, s:O, s:s, s:O,"
	    " s:s}",
	    "serial", (json_int_t)serial, "request", json_object_get(req, "id"),
	    "user", json_object_get(req, "user"),
	    "role", json_object_get(req, "role"), "key_id", keyid,
	    "cert", line, "principals", pr,
	    "key_fingerprint", json_object_get(req, "key_fingerprint"),
	    "valid_after", va, "valid_before", json_object_get(req,
	    "not_after"), "ca_fingerprint", c->api->ca_fp);
	if (*rec == NULL || set_time(*rec, "issued_at", ic->now) != 0) {
		json_decref(*rec);
		*rec = NULL;
		r = JIT_ERR_ALLOC;
		goto out;
	}
	ic->line = line;
	line = NULL;
	r = 0;
out:
	free(line);
	free(principals);
	jit_buf_release(&blob);
	jit_key_free(key);
	return r;
}

/* The members of a request that the signed certificate was made from. */
static int
same_grant(const json_t *a, const json_t *b)
{
	static const char *const keys[] = { "user", "role", "public_key",
	    "not_before", "not_after" };
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *x = jstr(a, keys[i]), *y = jstr(b, keys[i]);
		if (x == NULL || y == NULL || strcmp(x, y) != 0)
			return 0;
	}
	return json_equal(json_object_get(a, "principals"),
	    json_object_get(b, "principals"));
}

/*
 * The issuing transaction.  The certificate was signed before the write
 * with a reserved serial (jit_store_reserve_serial), so the writer thread,
 * which every write in the server waits on, spends no time on
 * signatures; here the request is checked again, the serial claimed and
 * the cert record, request update and audit entry stored together.
 */
static int
issue_fn(struct jit_store_txn *t, void *vctx)
{
	struct issue_ctx *ic = vctx;
	json_t *req = NULL, *rec = NULL, *serialj, *cnt = NULL;
	int r, unchanged = 0;

	/* Unchanged since the snapshot (the usual case): use the request
	 * parsed then instead of parsing it again on the writer thread.  It
	 * is ours to change; a retry reads it afresh. */
	if (ic->raw != NULL && jit_store_request_unchanged(t, ic->id, ic->raw,
	    ic->rawlen) == 0) {
		req = json_incref(ic->snap);
		unchanged = 1;
	} else if ((r = jit_store_get_request(t, ic->id, &req, NULL)) != 0)
		return r;
	if ((r = check_fetch(ic->c, req, ic->now, ic->msg,
	    sizeof(ic->msg))) != 0)
		goto out;
	serialj = json_object_get(req, "serial");
	if (json_is_integer(serialj)) {
		/* Another fetch issued it first: return the same bytes (ours
		 * is dropped; its serial stays unused). */
		if ((r = jit_store_get_cert(t, (uint64_t)json_integer_value(
		    serialj), &rec)) != 0)
			goto out;
		if (jstr(rec, "cert") == NULL) {
			r = JIT_ERR_STORE_CORRUPT;
			goto out;
		}
		free(ic->line);
		if ((ic->line = jit_strdup(jstr(rec, "cert"))) == NULL)
			r = JIT_ERR_ALLOC;
		goto out;
	}
	if (!same_grant(req, ic->snap)) {
		/* Changed since it was read: sign again. */
		ic->retry = 1;
		r = JIT_ERR_CONFLICT;
		goto out;
	}
	if ((r = jit_store_claim_serial(t, ic->serial)) != 0 ||
	    (r = jit_store_put_cert_encoded(t, ic->serial, ic->rec_js,
	    ic->rec_jl)) != 0) {
		/* CONFLICT: another process stored a cert with this serial
		 * meanwhile; a fresh reservation skips past it. */
		ic->retry = r == JIT_ERR_CONFLICT;
		goto out;
	}
	if (unchanged && ic->upd_js != NULL) {
		/* The issued request was built and encoded before the
		 * write from these same bytes. */
		if ((r = jit_store_put_request_encoded(t, ic->upd,
		    ic->upd_js, ic->upd_jl)) != 0)
			goto out;
	} else {
		if (json_object_set_new(req, "serial", json_integer(
		    (json_int_t)ic->serial)) != 0 || set_time(req,
		    "issued_at", ic->now) != 0) {
			r = JIT_ERR_ALLOC;
			goto out;
		}
		if ((r = jit_store_put_request(t, req)) != 0)
			goto out;
	}
	/* A counter for /metrics, in the same transaction. */
	{
		json_int_t n = 0;
		if (jit_store_get_value(t, "metrics.certs_issued", &cnt) == 0)
			n = json_integer_value(cnt);
		json_decref(cnt);
		cnt = json_integer(n + 1);
		if (cnt == NULL || (r = jit_store_put_value(t,
		    "metrics.certs_issued", cnt)) != 0) {
			r = r != 0 ? r : JIT_ERR_ALLOC;
			goto out;
		}
	}
	r = jit_audit_append(t, ic->audit, NULL, NULL);
out:
	json_decref(cnt);
	json_decref(rec);
	json_decref(req);
	return r;
}

struct reserve_ctx {
	const char *id;
	json_t *req;
	void *raw;                /* req's stored bytes */
	size_t rawlen;
	json_t *cert;
	uint64_t serial;
};

/* Read the request (and its cert, if issued) and, if it has none yet,
 * reserve a serial, all in one snapshot. */
static int
reserve_fn(struct jit_store_txn *t, void *vctx)
{
	struct reserve_ctx *rc = vctx;
	json_t *serial;
	int r;

	if ((r = jit_store_get_request_raw(t, rc->id, &rc->req, &rc->raw,
	    &rc->rawlen)) != 0)
		return r;
	serial = json_object_get(rc->req, "serial");
	if (json_is_integer(serial) && json_integer_value(serial) > 0)
		return jit_store_get_cert(t, (uint64_t)json_integer_value(
		    serial), &rc->cert);
	return jit_store_reserve_serial(t, &rc->serial);
}

#define ISSUE_TRIES 3

static void
handle_certificate(struct call *c, const char *id)
{
	struct issue_ctx ic;
	struct reserve_ctx rc;
	json_t *ex;
	int r = JIT_ERR_INTERNAL, tries;

	memset(&ic, 0, sizeof(ic));
	memset(&rc, 0, sizeof(rc));
	if (c->req->query[0] != '\0') {
		reply_error(c, 400, "bad_query", "no query parameters here");
		return;
	}
	for (tries = 0; tries < ISSUE_TRIES; tries++) {
		memset(&rc, 0, sizeof(rc));
		rc.id = id;
		if ((r = jit_store_read(c->api->store, reserve_fn, &rc)) != 0) {
			reply_jit_error(c, r, r == JIT_ERR_NOT_FOUND ?
			    "no such request" : NULL);
			goto out;
		}
		if ((r = check_fetch(c, rc.req, c->now, ic.msg,
		    sizeof(ic.msg))) != 0) {
			reply_jit_error(c, r, ic.msg);
			goto out;
		}
		if (rc.cert != NULL && jstr(rc.cert, "cert") != NULL) {
			reply_text(c, 200, jstr(rc.cert, "cert"));
			goto out;
		}
		if (rc.serial == 0) {
			reply_jit_error(c, JIT_ERR_STORE_CORRUPT, NULL);
			goto out;
		}
		ic.c = c;
		ic.id = id;
		ic.now = c->now;
		ic.serial = rc.serial;
		ic.snap = rc.req;
		ic.raw = rc.raw;
		ic.rawlen = rc.rawlen;
		if ((r = sign_cert(&ic, rc.req, rc.serial, &ic.rec)) != 0) {
			reply_jit_error(c, r, ic.msg);
			goto out;
		}
		/* Encoded here, not on the writer thread: the cert record
		 * and the request as issue_fn stores it when unchanged. */
		if ((r = jit_store_encode_cert(ic.rec, &ic.rec_js,
		    &ic.rec_jl)) != 0) {
			reply_jit_error(c, r, NULL);
			goto out;
		}
		if ((ic.upd = json_copy(rc.req)) == NULL ||
		    json_object_set_new(ic.upd, "serial", json_integer(
		    (json_int_t)rc.serial)) != 0 || set_time(ic.upd,
		    "issued_at", c->now) != 0 ||
		    (r = jit_store_encode_request(ic.upd, &ic.upd_js,
		    &ic.upd_jl)) != 0) {
			reply_error(c, 500, NULL, "out of memory");
			goto out;
		}
		ex = json_pack("{s:I, s:O, s:O, s:O, s:O, s:O, s:O}",
		    "serial", (json_int_t)rc.serial, "key_id",
		    json_object_get(ic.rec, "key_id"), "principals",
		    json_object_get(ic.rec, "principals"), "valid_after",
		    json_object_get(ic.rec, "valid_after"), "valid_before",
		    json_object_get(ic.rec, "valid_before"), "key_fingerprint",
		    json_object_get(ic.rec, "key_fingerprint"),
		    "ca_fingerprint", json_object_get(ic.rec,
		    "ca_fingerprint"));
		if (ex == NULL || (ic.audit = audit_fields("cert.issue",
		    c->user, rc.req, ex)) == NULL) {
			reply_error(c, 500, NULL, "out of memory");
			goto out;
		}
		ic.retry = 0;
		r = jit_store_write(c->api->store, issue_fn, &ic);
		json_decref(ic.rec);
		json_decref(ic.audit);
		free(ic.rec_js);
		json_decref(ic.upd);
		free(ic.upd_js);
		ic.rec = ic.audit = ic.upd = NULL;
		ic.rec_js = ic.upd_js = NULL;
		if (r == 0 || !ic.retry)
			break;
		free(ic.line);
		ic.line = NULL;
		json_decref(rc.req);
		json_decref(rc.cert);
		free(rc.raw);
		rc.req = rc.cert = NULL;
		rc.raw = NULL;
	}
	if (r != 0) {
		reply_jit_error(c, r, ic.msg);
		goto out;
	}
	reply_text(c, 200, ic.line);
out:
	free(ic.line);
	free(ic.rec_js);
	free(ic.upd_js);
	json_decref(ic.upd);
	json_decref(ic.rec);
	json_decref(ic.audit);
	json_decref(rc.req);
	json_decref(rc.cert);
	free(rc.raw);
}

/* ---- whoami, ca, healthz, metrics ------------------------------------------ */

static void
handle_whoami(struct call *c)
{
	const char *const *groups;
	json_t *g = json_array(), *req = json_array(), *appr = json_array();
	size_t i, n = 0;

	if (g == NULL || req == NULL || appr == NULL)
		goto oom;
	groups = jit_policy_user_groups(c->p, c->user, &n);
	for (i = 0; i < n; i++)
		if (json_array_append_new(g, json_string(groups[i])) != 0)
			goto oom;
	for (i = 0; i < jit_policy_role_count(c->p); i++) {
		const struct jit_policy_role *r = jit_policy_role_at(c->p, i);
		if (jit_policy_is_requester(c->p, c->user, r->name) &&
		    json_array_append_new(req, json_string(r->name)) != 0)
			goto oom;
		if (jit_policy_is_approver(c->p, c->user, r->name) &&
		    json_array_append_new(appr, json_string(r->name)) != 0)
			goto oom;
	}
	reply_json(c, 200, json_pack("{s:s, s:o, s:b, s:b, s:o, s:o}",
	    "user", c->user, "groups", g,
	    "admin", jit_policy_is_admin(c->p, c->user),
	    "auditor", jit_policy_is_auditor(c->p, c->user),
	    "can_request", req, "can_approve", appr));
	return;
oom:
	json_decref(g);
	json_decref(req);
	json_decref(appr);
	reply_error(c, 500, NULL, "out of memory");
}

static const char *const metric_states[] = { "pending", "approved",
    "denied", "cancelled", "expired", "revoked", "ended" };
#define NSTATES (sizeof(metric_states) / sizeof(metric_states[0]))

struct metrics_ctx {
	uint64_t counts[NSTATES];
	uint64_t issued;
	uint64_t audit_seq;
};

static int
metrics_fn(struct jit_store_txn *t, void *vctx)
{
	struct metrics_ctx *m = vctx;
	json_t *v = NULL;
	size_t i;
	int r;

	for (i = 0; i < NSTATES; i++)
		if ((r = jit_store_count_by_state(t, metric_states[i],
		    &m->counts[i])) != 0)
			return r;
	{
		char head[JIT_AUDIT_HASH_HEX];
		if ((r = jit_audit_head(t, &m->audit_seq, head)) != 0)
			return r;
	}
	if (jit_store_get_value(t, "metrics.certs_issued", &v) == 0 &&
	    json_integer_value(v) > 0)
		m->issued = (uint64_t)json_integer_value(v);
	json_decref(v);
	return 0;
}

static void
handle_metrics(struct call *c)
{
	struct metrics_ctx m;
	struct jit_store_stats st;
	struct jit_buf b = JIT_BUF_INIT;
	char line[512];
	size_t i;
	int r, n;

	memset(&m, 0, sizeof(m));
	if ((r = jit_store_read(c->api->store, metrics_fn, &m)) != 0) {
		reply_jit_error(c, r, "could not read the store");
		return;
	}
	jit_store_get_stats(c->api->store, &st);
#define EMIT(...) do { n = snprintf(line, sizeof(line), __VA_ARGS__); \
	if (n < 0 || (size_t)n >= sizeof(line) || \
	    jit_buf_put(&b, line, (size_t)n) != 0) goto oom; } while (0)
	EMIT("# HELP jit_requests Requests by state.\n"
	    "# TYPE jit_requests gauge\n");
	for (i = 0; i < NSTATES; i++)
		EMIT("jit_requests{state=\"%s\"} %llu\n", metric_states[i],
		    (unsigned long long)m.counts[i]);
	EMIT("# HELP jit_certificates_issued_total Certificates signed.\n"
	    "# TYPE jit_certificates_issued_total counter\n"
	    "jit_certificates_issued_total %llu\n",
	    (unsigned long long)m.issued);
	EMIT("# HELP jit_audit_entries Entries in the audit log.\n"
	    "# TYPE jit_audit_entries gauge\n"
	    "jit_audit_entries %llu\n", (unsigned long long)m.audit_seq);
	EMIT("# HELP jit_http_requests_total API requests answered, by "
	    "status class.\n# TYPE jit_http_requests_total counter\n");
	for (i = 1; i < 6; i++)
		EMIT("jit_http_requests_total{code=\"%zuxx\"} %llu\n", i,
		    (unsigned long long)__atomic_load_n(
		    &c->api->http_counts[i], __ATOMIC_RELAXED));
	EMIT("# HELP jit_store_commits_total Durable store transactions.\n"
	    "# TYPE jit_store_commits_total counter\n"
	    "jit_store_commits_total %llu\n"
	    "# TYPE jit_store_writes_total counter\n"
	    "jit_store_writes_total %llu\n",
	    (unsigned long long)st.commits, (unsigned long long)st.writes);
#undef EMIT
	if (jit_buf_put_u8(&b, 0) != 0)
		goto oom;
	{
		char *s = jit_strdup((const char *)jit_buf_ptr(&b));
		jit_buf_release(&b);
		if (s == NULL)
			goto oom2;
		set_body(c->resp, 200, s, "text/plain; version=0.0.4");
	}
	return;
oom:
	jit_buf_release(&b);
oom2:
	reply_error(c, 500, NULL, "out of memory");
}

/* ---- routing ------------------------------------------------------------------ */

static int
method_is(const struct call *c, const char *m)
{
	return strcmp(c->req->method, m) == 0;
}

static void
wrong_method(struct call *c, const char *allowed)
{
	reply_error(c, 405, NULL, "use %s", allowed);
}

/* Authenticate c; on failure the reply is set and -1 returned. */
static int
authenticate(struct call *c)
{
	const char *why = NULL;
	char key[JIT_USER_MAX + 8];
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
		reply_jit_error(c, r, "could not check the token");
		return -1;
	}
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

/* GET /v1/audit: a signed, streamed export (audit_export.h). */
static void
handle_audit(struct call *c)
{
	char why[256];
	unsigned st;

	if (!jit_policy_is_auditor(c->p, c->user) &&
	    !jit_policy_is_admin(c->p, c->user)) {
		reply_error(c, 403, NULL, "only auditors and admins may export "
		    "the audit log");
		return;
	}
	st = jit_audit_export_respond(c->api->store, c->api->ca,
	    c->req->query, c->resp, why, sizeof(why));
	if (st != 200)
		reply_error(c, st, st == 400 ? "bad_query" : NULL, "%s", why);
}

static void
route(struct call *c)
{
	const char *path = c->req->path, *rest, *slash;
	char id[JIT_REQUEST_ID_LEN];
	size_t idlen;

	if (strcmp(path, "/healthz") == 0) {
		if (!method_is(c, "GET") && !method_is(c, "HEAD"))
			return wrong_method(c, "GET");
		reply_json(c, 200, json_pack("{s:b}", "ok", 1));
		return;
	}
	if (strcmp(path, "/metrics") == 0) {
		if (!method_is(c, "GET"))
			return wrong_method(c, "GET");
		handle_metrics(c);
		return;
	}
	if (strcmp(path, "/v1/ca") == 0) {
		if (!method_is(c, "GET"))
			return wrong_method(c, "GET");
		reply_text(c, 200, c->api->ca_line);
		return;
	}
	if (strcmp(path, "/v1/krl") == 0) {
		jit_revocation_handle_krl(c->api->store, c->api->ca, c->now,
		    c->api->clock_skew, c->req, c->resp);
		return;
	}
	if (strcmp(path, "/v1/audit") == 0) {
		if (!method_is(c, "GET"))
			return wrong_method(c, "GET");
		if (authenticate(c) == 0)
			handle_audit(c);
		return;
	}
	if (strcmp(path, "/v1/whoami") == 0) {
		if (!method_is(c, "GET"))
			return wrong_method(c, "GET");
		if (authenticate(c) == 0)
			handle_whoami(c);
		return;
	}
	if (strcmp(path, "/v1/requests") == 0) {
		if (!method_is(c, "GET") && !method_is(c, "POST"))
			return wrong_method(c, "GET or POST");
		if (authenticate(c) != 0)
			return;
		if (method_is(c, "POST"))
			handle_create(c);
		else
			handle_list(c);
		return;
	}
	if (strncmp(path, "/v1/requests/", 13) != 0) {
		reply_error(c, 404, NULL, "no such endpoint");
		return;
	}
	rest = path + 13;
	slash = strchr(rest, '/');
	idlen = slash != NULL ? (size_t)(slash - rest) : strlen(rest);
	if (!valid_request_id(rest, idlen)) {
		reply_error(c, 404, NULL, "no such request");
		return;
	}
	memcpy(id, rest, idlen);
	id[idlen] = '\0';
	if (slash == NULL) {
		if (!method_is(c, "GET"))
			return wrong_method(c, "GET");
		if (authenticate(c) == 0)
			handle_get(c, id);
		return;
	}
	slash++;
	if (strcmp(slash, "certificate") == 0) {
		if (!method_is(c, "GET"))
			return wrong_method(c, "GET");
		if (authenticate(c) == 0)
			handle_certificate(c, id);
		return;
	}
	{
		static const struct { const char *name; enum action act; }
		    acts[] = { { "approve", ACT_APPROVE }, { "deny", ACT_DENY },
		    { "cancel", ACT_CANCEL }, { "revoke", ACT_REVOKE } };
		size_t i;

		for (i = 0; i < sizeof(acts) / sizeof(acts[0]); i++) {
			if (strcmp(slash, acts[i].name) != 0)
				continue;
			if (!method_is(c, "POST"))
				return wrong_method(c, "POST");
			if (authenticate(c) == 0)
				handle_action(c, id, acts[i].act);
			return;
		}
	}
	reply_error(c, 404, NULL, "no such endpoint");
}

void
jit_api_handle(void *ctx, const struct jit_http_request *req,
    struct jit_http_response *resp)
{
	struct jit_api *api = ctx;
	struct jit_http_request r = *req;
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
	c.pref = policy_get(api);
	c.p = c.pref->p;
	route(&c);
	policy_put(api, c.pref);
	if (resp->status == 0)
		reply_error(&c, 500, NULL, "no response");
	cls = resp->status / 100;
	if (cls < 6)
		__atomic_fetch_add(&api->http_counts[cls], 1,
		    __ATOMIC_RELAXED);
}

/* ---- lifecycle ---------------------------------------------------------------- */

int
jit_api_new(const struct jit_api_options *opt, struct jit_policy *policy,
    struct jit_api **out)
{
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
	if ((r = jit_key_format_public(opt->ca, "jit-ssh-ca",
	    &api->ca_line)) != 0 ||
	    (r = jit_key_fingerprint(opt->ca, &api->ca_fp)) != 0)
		goto fail;
	if ((api->cur = calloc(1, sizeof(*api->cur))) == NULL) {
		r = JIT_ERR_ALLOC;
		goto fail;
	}
	api->cur->p = policy;
	api->cur->refs = 1;
	*out = api;
	return 0;
fail:
	free(api->ca_line);
	free(api->ca_fp);
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
	free(api->ca_line);
	free(api->ca_fp);
	pthread_mutex_destroy(&api->lock);
	free(api);
}

void
jit_api_shutdown(struct jit_api *api)
{
	__atomic_store_n(&api->shutting_down, 1, __ATOMIC_SEQ_CST);
}

/* ---- the sweeper ---------------------------------------------------------------- */

struct sweep_ctx {
	uint64_t now;
	json_t *expire;    /* ids of pending requests past expires_at */
	json_t *end;       /* ids of approved grants past not_after */
};

/* A request whose deadline has passed (jit_store_list_due): a pending
 * one past expires_at, or an approved grant past not_after. */
static int
sweep_due(json_t *req, uint64_t seq, void *vctx)
{
	struct sweep_ctx *s = vctx;
	const char *state = jstr(req, "state");
	json_t *ids;
	uint64_t t;

	(void)seq;
	if (state == NULL || jstr(req, "id") == NULL)
		return 0;
	if (strcmp(state, "pending") == 0) {
		t = jtime(req, "expires_at");
		ids = s->expire;
	} else if (strcmp(state, "approved") == 0) {
		t = jtime(req, "not_after");
		ids = s->end;
	} else {
		return 0;
	}
	if (t != 0 && s->now >= t)
		return json_array_append(ids, json_object_get(req, "id")) == 0 ?
		    0 : JIT_ERR_ALLOC;
	return 0;
}

/* Only the due requests are read (the store's deadline index), not every
 * pending and approved one. */
static int
sweep_scan(struct jit_store_txn *t, void *vctx)
{
	return jit_store_list_due(t, ((struct sweep_ctx *)vctx)->now,
	    sweep_due, vctx);
}

struct sweep_one {
	const char *id;
	uint64_t now;
	int end;             /* 0 = expire a pending request */
	int changed;
};

static int
sweep_one_fn(struct jit_store_txn *t, void *vctx)
{
	struct sweep_one *s = vctx;
	json_t *req = NULL, *extra;
	const char *state;
	int r;

	if ((r = jit_store_get_request(t, s->id, &req, NULL)) != 0)
		return r;
	state = jstr(req, "state");
	if (state == NULL || strcmp(state, s->end ? "approved" : "pending")
	    != 0 || s->now < jtime(req, s->end ? "not_after" :
	    "expires_at")) {
		json_decref(req);
		return 0;   /* decided meanwhile */
	}
	if (s->end) {
		if (json_object_set_new(req, "state", json_string("ended"))
		    != 0 || set_time(req, "ended_at", s->now) != 0)
			goto oom;
		extra = json_pack("{s:O?, s:O?, s:O?}", "serial",
		    json_object_get(req, "serial"), "not_before",
		    json_object_get(req, "not_before"), "not_after",
		    json_object_get(req, "not_after"));
	} else {
		if (json_object_set_new(req, "state", json_string("expired"))
		    != 0 || set_time(req, "expired_at", s->now) != 0)
			goto oom;
		json_object_del(req, "expires_at");
		extra = json_pack("{s:I}", "approvals",
		    (json_int_t)jarray_size(req, "approvals"));
	}
	if (extra == NULL)
		goto oom;
	if ((r = jit_store_put_request(t, req)) != 0) {
		json_decref(extra);
		goto out;
	}
	r = audit_append_new(t, audit_fields(s->end ? "grant.end" :
	    "request.expire", "system", req, extra));
	if (r == 0)
		s->changed = 1;
	goto out;
oom:
	r = JIT_ERR_ALLOC;
out:
	json_decref(req);
	return r;
}

int
jit_api_sweep(struct jit_api *api, uint64_t now, unsigned *expired,
    unsigned *ended)
{
	struct sweep_ctx s;
	size_t i;
	int r, pass;

	if (expired != NULL)
		*expired = 0;
	if (ended != NULL)
		*ended = 0;
	s.now = now;
	s.expire = json_array();
	s.end = json_array();
	if (s.expire == NULL || s.end == NULL) {
		r = JIT_ERR_ALLOC;
		goto out;
	}
	if ((r = jit_store_read(api->store, sweep_scan, &s)) != 0)
		goto out;
	for (pass = 0; pass < 2; pass++) {
		json_t *ids = pass == 0 ? s.expire : s.end;
		for (i = 0; i < json_array_size(ids); i++) {
			struct sweep_one one = { json_string_value(
			    json_array_get(ids, i)), now, pass, 0 };
			if ((r = jit_store_write(api->store, sweep_one_fn,
			    &one)) != 0)
				goto out;
			if (one.changed && pass == 0 && expired != NULL)
				(*expired)++;
			if (one.changed && pass == 1 && ended != NULL)
				(*ended)++;
		}
	}
	r = 0;
out:
	json_decref(s.expire);
	json_decref(s.end);
	/* The scan maps every pending and approved record; with a million
	 * stored requests that is tens of MB of the LMDB map (page cache,
	 * but counted in our RSS) per sweep.  Drop those pages from the
	 * resident set; the data stays cached. */
	jit_store_release_pages(api->store);
	return r;
}

struct audit_ctx {
	json_t *fields;
};

static int
audit_fn(struct jit_store_txn *t, void *vctx)
{
	struct audit_ctx *a = vctx;

	return jit_audit_append(t, a->fields, NULL, NULL);
}

int
jit_api_audit(struct jit_api *api, const char *event, json_t *fields)
{
	struct policy_ref *pr = policy_get(api);
	struct audit_ctx a;
	int r;

	a.fields = json_pack("{s:s, s:s, s:s, s:s, s:s}", "event", event,
	    "actor", "system", "policy_hash", jit_policy_hash(pr->p),
	    "policy_source", jit_policy_source(pr->p),
	    "ca_fingerprint", api->ca_fp);
	policy_put(api, pr);
	if (a.fields == NULL)
		return JIT_ERR_ALLOC;
	if (fields != NULL)
		json_object_update(a.fields, fields);
	r = jit_store_write(api->store, audit_fn, &a);
	json_decref(a.fields);
	return r;
}
