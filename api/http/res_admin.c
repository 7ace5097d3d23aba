/*
 * res_admin.c - the endpoints about the server rather than about one
 * request: GET /v1/whoami, /v1/ca, /healthz and /metrics.
 *
 * /metrics is the Prometheus text format (docs/API.md lists every
 * series).  Its store figures (requests by state, certificates issued,
 * audit entries, the notification outbox) come from the store's counts
 * through a cache (cache.h) rebuilt when the store changes (and each
 * second while a notification waits, for the age of the oldest); the
 * HTTP and commit counters are read live.  With metrics_token_file
 * configured it needs that token.
 */
#include "api_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "audit.h"
#include "buf.h"
#include "err.h"
#include "util.h"


void
res_healthz(struct call *c)
{
	reply_json(c, 200, json_pack("{s:b}", "ok", 1));
}

void
res_ca(struct call *c)
{
	reply_text(c, 200, c->api->ca_line);
}

void
res_whoami(struct call *c)
{
	const char *const *groups;
	json_t *g = json_array(), *req = json_array(), *appr = json_array();
	json_t *pg = json_array(), *amr = json_array();
	size_t i, n = 0;

	if (g == NULL || req == NULL || appr == NULL || pg == NULL ||
	    amr == NULL)
		goto oom;
	groups = jit_policy_user_groups(c->p, c->user, &n);
	for (i = 0; i < n; i++)
		if (json_array_append_new(g, json_string(groups[i])) != 0)
			goto oom;
	for (i = 0; i < c->auth.ngroups; i++)
		if (json_array_append_new(pg, json_string(c->auth.groups[i])) !=
		    0)
			goto oom;
	for (i = 0; i < c->auth.namr; i++)
		if (json_array_append_new(amr, json_string(c->auth.amr[i])) !=
		    0)
			goto oom;
	for (i = 0; i < jit_policy_role_count(c->p); i++) {
		const struct jit_policy_role *r = jit_policy_role_at(c->p, i);
		if (jit_policy_is_requester_as(c->p, &c->pwho, r->name) &&
		    json_array_append_new(req, json_string(r->name)) != 0)
			goto oom;
		if (jit_policy_is_approver_as(c->p, &c->pwho, r->name) &&
		    json_array_append_new(appr, json_string(r->name)) != 0)
			goto oom;
	}
	reply_json(c, 200, json_pack("{s:s, s:o, s:b, s:b, s:o, s:o, s:s, "
	    "s:o, s:o, s:b}", "user", c->user, "groups", g,
	    "admin", jit_policy_is_admin_as(c->p, &c->pwho),
	    "auditor", jit_policy_is_auditor_as(c->p, &c->pwho),
	    "can_request", req, "can_approve", appr,
	    "credential", c->via_session ? "web" : c->auth.sso ? "sso" :
	    "token",
	    "provider_groups", pg, "amr", amr,
	    "mfa", jit_policy_amr_mfa((const char *const *)c->auth.amr,
	    c->auth.namr)));
	return;
oom:
	json_decref(g);
	json_decref(req);
	json_decref(appr);
	json_decref(pg);
	json_decref(amr);
	reply_error(c, 500, NULL, "out of memory");
}

struct metrics_ctx {
	uint64_t counts[JIT_STATE_COUNT];
	uint64_t issued;
	uint64_t audit_seq;
	struct jit_outbox_stats outbox;
};

static int
metrics_fn(struct jit_store_txn *t, void *vctx)
{
	struct metrics_ctx *m = vctx;
	char head[JIT_AUDIT_HASH_HEX];
	json_t *v = NULL;
	size_t i;
	int r;

	for (i = 0; i < JIT_STATE_COUNT; i++)
		if ((r = jit_store_count_by_state(t,
		    jit_state_name((enum jit_state)i), &m->counts[i])) != 0)
			return r;
	if ((r = jit_audit_head(t, &m->audit_seq, head)) != 0 ||
	    (r = jit_store_outbox_stats(t, &m->outbox)) != 0)
		return r;
	if (jit_store_get_value(t, "metrics.certs_issued", &v) == 0 &&
	    json_integer_value(v) > 0)
		m->issued = (uint64_t)json_integer_value(v);
	json_decref(v);
	return 0;
}

/* Append printf-style text to b; -1 if it does not fit. */
static int
emit(struct jit_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
emit(struct jit_buf *b, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) ||
	    jit_buf_put(b, line, (size_t)n) != 0)
		return -1;
	return 0;
}

/* The notification outbox (notify.h). */
static int
metrics_outbox(struct jit_buf *b, const struct jit_outbox_stats *o,
    uint64_t now)
{
	return emit(b, "# HELP jit_notify_queued Notifications waiting for "
	    "delivery or a retry.\n# TYPE jit_notify_queued gauge\n"
	    "jit_notify_queued %llu\n"
	    "# HELP jit_notify_failed Notifications given up on (jit-ca "
	    "notify list --failed).\n# TYPE jit_notify_failed gauge\n"
	    "jit_notify_failed %llu\n",
	    (unsigned long long)o->queued, (unsigned long long)o->failed) != 0
	    || emit(b, "# HELP jit_notify_delivered_total Notifications "
	    "delivered.\n# TYPE jit_notify_delivered_total counter\n"
	    "jit_notify_delivered_total %llu\n"
	    "# HELP jit_notify_oldest_age_seconds Age of the oldest queued "
	    "notification.\n# TYPE jit_notify_oldest_age_seconds gauge\n"
	    "jit_notify_oldest_age_seconds %llu\n",
	    (unsigned long long)o->delivered, (unsigned long long)(
	    o->oldest != 0 && now > o->oldest ? now - o->oldest : 0)) != 0 ?
	    -1 : 0;
}

/* The series read from the store, at time now. */
static int
store_text(struct jit_buf *b, const struct metrics_ctx *m, uint64_t now)
{
	size_t i;

	if (emit(b, "# HELP jit_requests Requests by state.\n"
	    "# TYPE jit_requests gauge\n") != 0)
		return -1;
	for (i = 0; i < JIT_STATE_COUNT; i++)
		if (emit(b, "jit_requests{state=\"%s\"} %llu\n",
		    jit_state_name((enum jit_state)i),
		    (unsigned long long)m->counts[i]) != 0)
			return -1;
	return emit(b, "# HELP jit_certificates_issued_total Certificates "
	    "signed.\n# TYPE jit_certificates_issued_total counter\n"
	    "jit_certificates_issued_total %llu\n",
	    (unsigned long long)m->issued) != 0 ||
	    emit(b, "# HELP jit_audit_entries Entries in the audit log.\n"
	    "# TYPE jit_audit_entries gauge\n"
	    "jit_audit_entries %llu\n", (unsigned long long)m->audit_seq) != 0
	    || metrics_outbox(b, &m->outbox, now) != 0 ? -1 : 0;
}

int
res_metrics_build(void *ctx, uint64_t now, struct jit_buf *out,
    uint64_t *expires)
{
	struct jit_api *api = ctx;
	struct metrics_ctx m;
	int r;

	memset(&m, 0, sizeof(m));
	if ((r = jit_store_read(api->store, metrics_fn, &m)) != 0)
		return r;
	if (store_text(out, &m, now) != 0)
		return JIT_ERR_ALLOC;
	/* The age of the oldest queued notification grows by itself. */
	*expires = m.outbox.queued > 0 ? now + 1 : UINT64_MAX;
	return 0;
}

/* The series counted in this process, read at each scrape. */
static int
live_text(struct jit_buf *b, const struct jit_store_stats *st,
    const struct jit_api *api)
{
	size_t i;

	if (emit(b, "# HELP jit_http_requests_total API requests answered, "
	    "by status class.\n# TYPE jit_http_requests_total counter\n") != 0)
		return -1;
	for (i = 1; i < 6; i++)
		if (emit(b, "jit_http_requests_total{code=\"%zuxx\"} %llu\n", i,
		    (unsigned long long)atomic_load_explicit(
		    &api->http_counts[i], memory_order_relaxed)) != 0)
			return -1;
	if (emit(b, "# HELP jit_http_waiting Long-polls (GET "
	    "/v1/requests/ID?wait=) held now.\n# TYPE jit_http_waiting gauge\n"
	    "jit_http_waiting %u\n", atomic_load(&api->waiting)) != 0)
		return -1;
	return emit(b, "# HELP jit_store_commits_total Durable store "
	    "transactions.\n# TYPE jit_store_commits_total counter\n"
	    "jit_store_commits_total %llu\n"
	    "# TYPE jit_store_writes_total counter\n"
	    "jit_store_writes_total %llu\n",
	    (unsigned long long)st->commits, (unsigned long long)st->writes);
}

/*
 * With a metrics token configured: 1 if the caller sent it as a bearer
 * token; otherwise 0 after answering 401, or 429 once the caller's
 * address has failed too often (the limit of failed authentications,
 * shared with the API's tokens).
 */
static int
metrics_allowed(struct call *c)
{
	const char *a = c->req->authorization, *want = c->api->metrics_token;
	char key[80];

	if (want == NULL)
		return 1;
	if (a != NULL && strncasecmp(a, "Bearer ", 7) == 0 &&
	    strlen(a + 7) == strlen(want) &&
	    jit_ct_equal(a + 7, want, strlen(want)))
		return 1;
	snprintf(key, sizeof(key), "addr:%.60s",
	    c->req->client_addr != NULL ? c->req->client_addr : "-");
	if (!jit_ratelimit_take(c->api->limits, key, jit_monotonic_ms())) {
		reply_error(c, 429, NULL, "too many failed attempts");
		c->resp->retry_after = 1;
		return 0;
	}
	reply_error(c, 401, NULL, "/metrics needs the metrics token "
	    "(metrics_token_file) as a bearer token");
	return 0;
}

void
res_metrics(struct call *c)
{
	struct jit_store_stats st;
	struct jit_buf b = JIT_BUF_INIT;
	char *cached = NULL, *s = NULL;
	size_t len = 0;
	int r;

	if (!metrics_allowed(c))
		return;
	if ((r = jit_cache_get(c->api->metrics, c->now, &cached, &len))
	    != 0) {
		reply_failure(c, r, "could not read the store");
		return;
	}
	jit_store_get_stats(c->api->store, &st);
	if (jit_buf_put(&b, cached, len) != 0 ||
	    live_text(&b, &st, c->api) != 0 ||
	    jit_buf_put_u8(&b, 0) != 0 ||
	    (s = jit_strdup((const char *)jit_buf_ptr(&b))) == NULL) {
		free(cached);
		jit_buf_release(&b);
		reply_error(c, 500, NULL, "out of memory");
		return;
	}
	free(cached);
	jit_buf_release(&b);
	reply_body(c, 200, s, strlen(s), "text/plain; version=0.0.4");
}
