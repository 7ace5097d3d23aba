/*
 * test-lifecycle.c - the request lifecycle (api/lifecycle/lifecycle.h)
 * against a temporary store, an in-memory policy and a real CA key: every
 * transition of the state table, every refusal, the sweeper, reads and
 * lists, and the hook.  No HTTP, no root.
 *
 * Every refusal is checked by REFUSED(), which also proves that it
 * changed nothing: the stored request is byte for byte what it was, the
 * audit log and the sets of requests and certificates have the same
 * length, and the hook was not called.  Every committed change is checked
 * by CHANGED(): one audit entry and one hook call per change, both with
 * the change's event name.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "cert.h"
#include "err.h"
#include "key.h"
#include "lifecycle.h"
#include "policy.h"
#include "request.h"
#include "store.h"
#include "test.h"
#include "test-files.h"
#include "test-store-open.h"
#include "util.h"

/* 2026-01-01T00:00:00Z: the tests' clock, passed to every transition. */
#define T0 1767225600ull
#define MIN 60ull
#define HOUR 3600ull
#define DAY 86400ull
#define SKEW 60ull

/*
 * alice, frank: dev.  bob: dev and sre.  carol: security (an auditor).
 * dave: sre and admin.  erin: audit (an auditor).  gus: no groups.
 * staging: one approval from another developer.  prod-db: two-person rule
 * with one approver from security.  readonly: no approval.  break-glass:
 * one approval, the requester's own counts.
 */
static const char policy_yaml[] =
    "users:\n"
    "  alice: {groups: [dev]}\n"
    "  bob: {groups: [dev, sre]}\n"
    "  carol: {groups: [security]}\n"
    "  dave: {groups: [sre]}\n"
    "  erin: {groups: [audit]}\n"
    "  frank: {groups: [dev]}\n"
    "  gus: {}\n"
    "admins: [dave]\n"
    "auditors: [group:audit, group:security]\n"
    "roles:\n"
    "  prod-db:\n"
    "    principals: [postgres]\n"
    "    requesters: [group:dev]\n"
    "    approvers: [group:sre, group:security]\n"
    "    approvals: 2\n"
    "    require_groups: [security]\n"
    "    max_duration: 4h\n"
    "    default_duration: 1h\n"
    "    pending_timeout: 24h\n"
    "    reason: required\n"
    "    reason_pattern: '^[A-Z]+-[0-9]+'\n"
    "    source_address: [10.0.0.0/8, 192.168.1.0/24]\n"
    "    extensions: [permit-pty]\n"
    "    key_types: [ed25519]\n"
    "  staging:\n"
    "    principals: [deploy, ci]\n"
    "    requesters: [group:dev]\n"
    "    approvers: [group:dev]\n"
    "    approvals: 1\n"
    "    max_duration: 8h\n"
    "    default_duration: 2h\n"
    "    pending_timeout: 4h\n"
    "    max_start_ahead: 1d\n"
    "    extensions: [permit-pty, permit-port-forwarding]\n"
    "    key_types: [ed25519, ecdsa]\n"
    "  readonly:\n"
    "    principals: [readonly]\n"
    "    requesters: [group:dev, group:sre, group:security]\n"
    "    approvers: [group:sre]\n"
    "    approvals: 0\n"
    "    max_duration: 8h\n"
    "    default_duration: 8h\n"
    "    pending_timeout: 1h\n"
    "    max_start_ahead: 2h\n"
    "  break-glass:\n"
    "    principals: [root]\n"
    "    requesters: [group:sre]\n"
    "    approvers: [group:sre]\n"
    "    approvals: 1\n"
    "    self_approval: true\n"
    "    max_duration: 1h\n";

/* An actor, as the HTTP layer would pass it. */
#define AS(u) (&(const struct jit_actor){ (u), "192.0.2.7", NULL, 0, NULL, \
	0 })

/* why's message holds s. */
#define CHECK_CONTAINS_MSG(s) do { test_checks++; \
	if (strstr(why.message, (s)) == NULL) { fprintf(stderr, \
	"%s:%d: \"%s\" lacks \"%s\"\n", __FILE__, __LINE__, why.message, \
	(s)); test_failures++; } } while (0)

/* Made once in main(). */
static struct jit_key *ca_key;     /* the CA, Ed25519 */
static struct jit_key *ed_key;     /* the users' keys */
static char *ed_line, *ec_line;

/* Every call's why; REFUSED() reads it. */
static struct jit_why why;

/* ---- the hook ------------------------------------------------------------ */

static struct {
	unsigned calls;          /* every call, committed or not */
	unsigned bad;            /* calls whose audit entry did not match */
	int fail;                /* what the hook returns */
	const char *fail_event;  /* ... for this event only (NULL: all) */
	char event[32];
	char actor[32];
	char id[JIT_REQUEST_ID_LEN];
	enum jit_state state;
	char comment[64];        /* "" for NULL */
} hk;

/* Records the event, and checks that the change's audit entry is the
 * newest one in t and names the same event. */
static int
hook(struct jit_store_txn *t, const struct jit_lc_event *ev, void *ctx)
{
	char head[JIT_AUDIT_HASH_HEX], *js = NULL;
	json_t *e = NULL;
	uint64_t seq = 0;
	size_t len;

	(void)ctx;
	hk.calls++;
	snprintf(hk.event, sizeof(hk.event), "%s", ev->event);
	snprintf(hk.actor, sizeof(hk.actor), "%s", ev->actor);
	snprintf(hk.id, sizeof(hk.id), "%s", ev->req->id);
	snprintf(hk.comment, sizeof(hk.comment), "%s",
	    ev->comment != NULL ? ev->comment : "");
	hk.state = ev->req->state;
	if (jit_audit_head(t, &seq, head) != 0 || seq == 0 ||
	    jit_store_audit_get(t, seq, &js, &len) != 0 ||
	    (e = json_loadb(js, len, 0, NULL)) == NULL ||
	    !json_is_string(json_object_get(e, "event")) ||
	    strcmp(json_string_value(json_object_get(e, "event")),
	    ev->event) != 0 ||
	    strcmp(json_string_value(json_object_get(e, "request")),
	    ev->req->id) != 0)
		hk.bad++;
	json_decref(e);
	free(js);
	if (hk.fail_event != NULL && strcmp(hk.fail_event, ev->event) != 0)
		return 0;
	return hk.fail;
}

/* ---- the fixture --------------------------------------------------------- */

struct fx {
	char *dir;
	struct jit_store *s;
	struct jit_policy *p;
	struct jit_lifecycle *lc;
	uint64_t seq;            /* audit entries seen by CHANGED() */
	unsigned calls;          /* hook calls seen by CHANGED() */
};

/* A fixture with policy yaml and the server's max_pending. */
static void
fx_open_with(struct fx *f, const char *tag, const char *yaml,
    unsigned max_pending)
{
	struct jit_lifecycle_options o;
	struct jit_policy_error pe;

	memset(f, 0, sizeof(*f));
	memset(&hk, 0, sizeof(hk));
	f->dir = store_dir_new(tag);
	REQUIRE_OK(test_store_open(f->dir, 0, &f->s));
	if (jit_policy_load_mem("test-policy", yaml, strlen(yaml), &f->p,
	    &pe) != 0) {
		fprintf(stderr, "policy: %s:%u: %s: %s\n", pe.file, pe.line,
		    pe.field, pe.message);
		exit(1);
	}
	memset(&o, 0, sizeof(o));
	o.store = f->s;
	o.ca = ca_key;
	o.sign = jit_key_signer;
	o.sign_ctx = ca_key;
	o.clock_skew = SKEW;
	o.hook = hook;
	o.max_pending = max_pending;
	REQUIRE_OK(jit_lifecycle_new(&o, &f->lc));
}

static void
fx_open(struct fx *f, const char *tag)
{
	fx_open_with(f, tag, policy_yaml, 0);
}

static void
fx_close(struct fx *f)
{
	CHECK_INT(hk.bad, 0);
	jit_lifecycle_free(f->lc);
	jit_policy_free(f->p);
	jit_store_close(f->s);
	store_dir_remove(f->dir);
}

/* ---- looking at the store ------------------------------------------------ */

/* What a refusal must not change. */
struct peek {
	const char *id;          /* NULL: no request to look at */
	void *raw;               /* the request's stored bytes */
	size_t rawlen;
	int found;
	uint64_t audit_seq;
	uint64_t nrequests;
	uint64_t ncerts;
};

static int
count_request(json_t *req, uint64_t seq, void *ctx)
{
	(void)req;
	(void)seq;
	(*(uint64_t *)ctx)++;
	return 0;
}

static int
count_cert(json_t *rec, uint64_t serial, void *ctx)
{
	(void)rec;
	(void)serial;
	(*(uint64_t *)ctx)++;
	return 0;
}

static int
peek_fn(struct jit_store_txn *t, void *ctx)
{
	struct peek *pk = ctx;
	char head[JIT_AUDIT_HASH_HEX];
	json_t *j = NULL;
	int r;

	if (pk->id != NULL) {
		r = jit_store_get_request_raw(t, pk->id, &j, &pk->raw,
		    &pk->rawlen);
		json_decref(j);
		if (r != 0 && r != JIT_ERR_NOT_FOUND)
			return r;
		pk->found = r == 0;
	}
	if ((r = jit_audit_head(t, &pk->audit_seq, head)) != 0 ||
	    (r = jit_store_list_all(t, NULL, count_request,
	    &pk->nrequests)) != 0)
		return r;
	return jit_store_list_certs(t, 0, 0, count_cert, &pk->ncerts);
}

static void
peek(struct fx *f, const char *id, struct peek *pk)
{
	memset(pk, 0, sizeof(*pk));
	pk->id = id;
	REQUIRE_OK(jit_store_read(f->s, peek_fn, pk));
}

/* 1 if nothing a refusal must keep changed between a and b. */
static int
peek_same(const struct peek *a, const struct peek *b)
{
	return a->found == b->found && a->rawlen == b->rawlen &&
	    (a->rawlen == 0 || memcmp(a->raw, b->raw, a->rawlen) == 0) &&
	    a->audit_seq == b->audit_seq && a->nrequests == b->nrequests &&
	    a->ncerts == b->ncerts;
}

static void
peek_release(struct peek *pk)
{
	free(pk->raw);
	pk->raw = NULL;
}

/* The request's stored JSON (new reference), or NULL. */
static json_t *
stored_json(struct fx *f, const char *id)
{
	json_t *j = NULL;

	if (jit_store_load_request(f->s, id, &j) != 0)
		return NULL;
	return j;
}

/* The stored request, parsed; the test ends if it is missing or does not
 * parse. */
static struct jit_request *
stored(struct fx *f, const char *id)
{
	struct jit_request *r = NULL;
	json_t *j = stored_json(f, id);

	REQUIRE(j != NULL);
	REQUIRE_OK(jit_request_from_json(j, &r));
	json_decref(j);
	return r;
}

/* The stored state's name (a static string). */
static const char *
stored_state(struct fx *f, const char *id)
{
	struct jit_request *r = stored(f, id);
	const char *s = jit_state_name(r->state);

	jit_request_free(r);
	return s;
}

/* 1 if r is what the store holds for its id. */
static int
is_stored(struct fx *f, const struct jit_request *r)
{
	json_t *a = jit_request_to_json(r), *b = stored_json(f, r->id);
	int same = a != NULL && b != NULL && json_equal(a, b);

	json_decref(a);
	json_decref(b);
	return same;
}

/* The event of audit entry seq, as a static string ("" if unreadable). */
struct audit_get {
	uint64_t seq;           /* 0 = the newest */
	char event[32];
	int relinquished;       /* the member "relinquished": 1, 0, -1 if
	                           absent */
};

static int
audit_get_fn(struct jit_store_txn *t, void *ctx)
{
	struct audit_get *ag = ctx;
	char *js = NULL;
	size_t len;
	json_t *e;
	int r;

	if (ag->seq == 0) {
		char head[JIT_AUDIT_HASH_HEX];
		if ((r = jit_audit_head(t, &ag->seq, head)) != 0)
			return r;
	}
	if ((r = jit_store_audit_get(t, ag->seq, &js, &len)) != 0)
		return r;
	e = json_loadb(js, len, 0, NULL);
	free(js);
	ag->relinquished = json_is_boolean(json_object_get(e,
	    "relinquished")) ? json_is_true(json_object_get(e,
	    "relinquished")) : -1;
	snprintf(ag->event, sizeof(ag->event), "%s",
	    e != NULL && json_string_value(json_object_get(e, "event")) ?
	    json_string_value(json_object_get(e, "event")) : "");
	json_decref(e);
	return 0;
}

static const char *
audit_event(struct fx *f, uint64_t seq)
{
	static char ev[4][32];
	static int slot;
	struct audit_get ag;

	memset(&ag, 0, sizeof(ag));
	ag.seq = seq;
	slot = (slot + 1) % 4;
	if (jit_store_read(f->s, audit_get_fn, &ag) != 0)
		ag.event[0] = '\0';
	memcpy(ev[slot], ag.event, sizeof(ag.event));
	return ev[slot];
}

/* ---- checking outcomes --------------------------------------------------- */

static void
fail_at(int line, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
fail_at(int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s:%d: ", __FILE__, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	test_failures++;
}

/* Since the last CHANGED(): n more audit entries and n more hook calls,
 * the last ones naming event (NULL: not checked). */
#define CHANGED(f, n, event) changed_at((f), (n), (event), __LINE__)

static void
changed_at(struct fx *f, unsigned n, const char *event, int line)
{
	struct peek pk;

	test_checks++;
	peek(f, NULL, &pk);
	if (pk.audit_seq != f->seq + n)
		fail_at(line, "audit entries %" PRIu64 " -> %" PRIu64
		    ", expected +%u", f->seq, pk.audit_seq, n);
	if (hk.calls != f->calls + n)
		fail_at(line, "hook calls %u -> %u, expected +%u", f->calls,
		    hk.calls, n);
	if (event != NULL && n > 0) {
		if (strcmp(hk.event, event) != 0)
			fail_at(line, "hook event \"%s\", expected \"%s\"",
			    hk.event, event);
		if (strcmp(audit_event(f, pk.audit_seq), event) != 0)
			fail_at(line, "audit event \"%s\", expected \"%s\"",
			    audit_event(f, pk.audit_seq), event);
	}
	f->seq = pk.audit_seq;
	f->calls = hk.calls;
}

/* Sentinels: a refused call must set its *out / *line to NULL. */
static struct jit_request sentinel_req;
static char sentinel_line[1];
static struct jit_request *rout;
static char *lout;

/*
 * call is refused with code and slug, and changes nothing: the stored
 * request id (may be NULL) is byte for byte the same, so is the number of
 * audit entries, requests and certificates, and the hook was not called.
 * call passes &why, and &rout or &lout for its result.
 */
#define REFUSED(f, id, code_, slug_, call) do { \
	struct peek before_; \
	unsigned calls_ = hk.calls; \
	int r_; \
	peek((f), (id), &before_); \
	why.slug = "stale"; \
	snprintf(why.message, sizeof(why.message), "stale"); \
	rout = &sentinel_req; \
	lout = sentinel_line; \
	r_ = (call); \
	refused_at((f), &before_, calls_, r_, (code_), (slug_), #call, \
	    __LINE__); \
} while (0)

static void
refused_at(struct fx *f, struct peek *before, unsigned calls, int got,
    int code, const char *slug, const char *expr, int line)
{
	struct peek after;

	test_checks++;
	peek(f, before->id, &after);
	if (got != code || why.slug == NULL || strcmp(why.slug, slug) != 0)
		fail_at(line, "%s\n  got %d (%s) slug %s, expected %d (%s) "
		    "slug %s", expr, got, jit_err(got),
		    why.slug != NULL ? why.slug : "(null)", code,
		    jit_err(code), slug);
	if (why.message[0] == '\0' || strcmp(why.message, "stale") == 0)
		fail_at(line, "%s: no message for people", expr);
	if (!peek_same(before, &after))
		fail_at(line, "%s changed the store: request %s %s, audit "
		    "%" PRIu64 " -> %" PRIu64 ", requests %" PRIu64 " -> %"
		    PRIu64 ", certs %" PRIu64 " -> %" PRIu64, expr,
		    before->id != NULL ? before->id : "-",
		    before->rawlen == after.rawlen && (before->rawlen == 0 ||
		    memcmp(before->raw, after.raw, before->rawlen) == 0) ?
		    "same" : "CHANGED", before->audit_seq, after.audit_seq,
		    before->nrequests, after.nrequests, before->ncerts,
		    after.ncerts);
	if (hk.calls != calls)
		fail_at(line, "%s called the hook", expr);
	if (rout != NULL && rout != &sentinel_req) {
		fail_at(line, "%s returned a request", expr);
		jit_request_free(rout);
	}
	if (lout != NULL && lout != sentinel_line) {
		fail_at(line, "%s returned a certificate", expr);
		free(lout);
	}
	if (rout == &sentinel_req && lout == sentinel_line)
		fail_at(line, "%s did not clear its output", expr);
	rout = NULL;
	lout = NULL;
	peek_release(before);
	peek_release(&after);
	(void)f;
}

/* An id no request has. */
#define NOID "r-aaaaaaaaaaaa"

/* The slug that goes with a refusal's code. */
static const char *
slug_of(int code)
{
	switch (code) {
	case JIT_ERR_FORBIDDEN:
		return "forbidden";
	case JIT_ERR_CONFLICT:
		return "conflict";
	case JIT_ERR_NOT_FOUND:
		return "not_found";
	default:
		return "?";
	}
}

/* REFUSED() for each transition: code is FORBIDDEN, CONFLICT or
 * NOT_FOUND, with its slug. */
#define NO_CREATE(f, user, args, code, slug) \
	REFUSED((f), NULL, JIT_ERR_##code, (slug), jit_lc_create((f)->lc, \
	    (f)->p, AS(user), (args), T0, &rout, &why))
#define NO_DECIDE(f, id, user, v, now, code) \
	REFUSED((f), (id), JIT_ERR_##code, slug_of(JIT_ERR_##code), \
	    jit_lc_decide((f)->lc, (f)->p, AS(user), (id), (v), NULL, (now), \
	    &rout, &why))
#define NO_CANCEL(f, id, user, now, code) \
	REFUSED((f), (id), JIT_ERR_##code, slug_of(JIT_ERR_##code), \
	    jit_lc_cancel((f)->lc, (f)->p, AS(user), (id), (now), &rout, &why))
#define NO_REVOKE(f, id, user, now, code) \
	REFUSED((f), (id), JIT_ERR_##code, slug_of(JIT_ERR_##code), \
	    jit_lc_revoke((f)->lc, (f)->p, AS(user), (id), NULL, (now), &rout, \
	    &why))
#define NO_ISSUE(f, id, user, now, code) \
	REFUSED((f), (id), JIT_ERR_##code, slug_of(JIT_ERR_##code), \
	    jit_lc_issue((f)->lc, (f)->p, AS(user), (id), (now), &lout, &why))
#define NO_GET(f, id, user, code) \
	REFUSED((f), (id), JIT_ERR_##code, slug_of(JIT_ERR_##code), \
	    jit_lc_get((f)->lc, (f)->p, AS(user), (id), &rout, &why))

/* ---- doing things that must work ----------------------------------------- */

static struct jit_request *
create_at(struct fx *f, const char *user, const char *role,
    uint64_t duration, const char *reason, uint64_t start, uint64_t now,
    int line)
{
	struct jit_create_args a = { role, ed_line, duration, reason, start };
	struct jit_request *r = NULL;
	int rc;

	rc = jit_lc_create(f->lc, f->p, AS(user), &a, now, &r, &why);
	if (rc != 0 || r == NULL) {
		fail_at(line, "create %s by %s: %d %s: %s", role, user, rc,
		    why.slug ? why.slug : "-", why.message);
		exit(1);
	}
	changed_at(f, 1, "request.create", line);
	if (!is_stored(f, r))
		fail_at(line, "the created request is not what is stored");
	return r;
}
#define CREATE(f, user, role, dur, reason, start, now) \
	create_at((f), (user), (role), (dur), (reason), (start), (now), \
	    __LINE__)
/* The same, keeping only the new request's id. */
#define CREATE_ID(f, dst, user, role, dur, reason, start, now) do { \
	struct jit_request *new_ = create_at((f), (user), (role), (dur), \
	    (reason), (start), (now), __LINE__); \
	memcpy((dst), new_->id, JIT_REQUEST_ID_LEN); \
	jit_request_free(new_); \
} while (0)

static struct jit_request *
decide_at(struct fx *f, const char *user, const char *id, enum jit_verdict v,
    const char *comment, uint64_t now, int line)
{
	const char *ev = v == JIT_APPROVE ? "request.approve" :
	    "request.deny";
	struct jit_request *r = NULL;
	int rc;

	rc = jit_lc_decide(f->lc, f->p, AS(user), id, v, comment, now, &r,
	    &why);
	if (rc != 0 || r == NULL) {
		fail_at(line, "%s by %s: %d %s: %s", ev, user, rc,
		    why.slug ? why.slug : "-", why.message);
		exit(1);
	}
	changed_at(f, 1, ev, line);
	if (!is_stored(f, r))
		fail_at(line, "the decided request is not what is stored");
	if (strcmp(hk.actor, user) != 0 || strcmp(hk.id, id) != 0 ||
	    hk.state != r->state || strcmp(hk.comment, comment ? comment : "")
	    != 0)
		fail_at(line, "hook saw %s %s %s \"%s\"", hk.actor, hk.id,
		    jit_state_name(hk.state), hk.comment);
	return r;
}
#define APPROVE(f, user, id, comment, now) \
	decide_at((f), (user), (id), JIT_APPROVE, (comment), (now), __LINE__)
#define DENY(f, user, id, comment, now) \
	decide_at((f), (user), (id), JIT_DENY, (comment), (now), __LINE__)

static char *
issue_at(struct fx *f, const char *user, const char *id, uint64_t now,
    int line)
{
	char *cert = NULL;
	int rc;

	rc = jit_lc_issue(f->lc, f->p, AS(user), id, now, &cert, &why);
	if (rc != 0 || cert == NULL) {
		fail_at(line, "issue by %s: %d %s: %s", user, rc,
		    why.slug ? why.slug : "-", why.message);
		exit(1);
	}
	return cert;
}
#define ISSUE(f, user, id, now) issue_at((f), (user), (id), (now), __LINE__)

/* Ids joined by spaces ("" for none); the result stays valid for the
 * next three calls. */
static const char *
ids(const char *first, ...)
{
	static char buf[4][256];
	static int slot;
	const char *s;
	va_list ap;
	size_t n = 0;

	slot = (slot + 1) % 4;
	buf[slot][0] = '\0';
	va_start(ap, first);
	for (s = first; s != NULL; s = va_arg(ap, const char *))
		n += (size_t)snprintf(buf[slot] + n, sizeof(buf[slot]) - n,
		    "%s%s", n > 0 ? " " : "", s);
	va_end(ap);
	return buf[slot];
}

/* The ids user gets from jit_lc_list with f, in order, as ids() makes
 * them; "ERROR" if the call fails. */
static const char *
listed(struct fx *f, const char *user, const struct jit_lc_filter *flt)
{
	static char buf[4][256];
	static int slot;
	struct jit_request **items = NULL;
	size_t n = 0, i, len = 0;
	uint64_t next = 0;

	slot = (slot + 1) % 4;
	buf[slot][0] = '\0';
	if (jit_lc_list(f->lc, f->p, AS(user), flt, &items, &n, &next,
	    &why) != 0)
		return "ERROR";
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(buf[slot] + len, sizeof(buf[slot]) -
		    len, "%s%s", i > 0 ? " " : "", items[i]->id);
	jit_lc_list_free(items, n);
	return buf[slot];
}

/* ---- the tests ----------------------------------------------------------- */

static void
test_state_names(void)
{
	enum jit_state s;
	int i;

	for (i = 0; i < JIT_STATE_COUNT; i++) {
		CHECK_OK(jit_state_parse(jit_state_name((enum jit_state)i),
		    &s));
		CHECK_INT(s, i);
		CHECK_INT(jit_state_is_final(s),
		    s != JIT_STATE_PENDING && s != JIT_STATE_APPROVED);
	}
	CHECK_STR(jit_state_name(JIT_STATE_CANCELLED), "cancelled");
	CHECK_STR(jit_state_name((enum jit_state)JIT_STATE_COUNT), "unknown");
	CHECK_INT(jit_state_parse("approve", &s), JIT_ERR_INVALID_ARGUMENT);
	CHECK_INT(jit_state_parse(NULL, &s), JIT_ERR_INVALID_ARGUMENT);
}

/* A final request stored before end_reason was recorded is told one
 * from its state; a recorded one is kept as it is. */
static void
test_end_reason_legacy(void)
{
	static const struct {
		const char *state, *extra, *want;
	} c[] = {
		{ "pending", "", NULL },
		{ "denied", "", "denied" },
		{ "cancelled", "", "cancelled" },
		{ "expired", "", "expired" },
		{ "expired", ",\"decided_at\":\"2026-01-01T00:00:00Z\"",
		  "policy_changed" },
		{ "revoked", ",\"revoked_by\":\"bob\"", "revoked" },
		{ "revoked", ",\"revoked_by\":\"alice\"", "relinquished" },
		{ "revoked", ",\"revoked_by\":\"system\"", "policy_changed" },
		{ "revoked", ",\"revoked_by\":\"bob\",\"end_reason\":"
		  "\"policy_changed\"", "policy_changed" },
	};
	struct jit_request *r;
	json_t *j, *out;
	char text[512];
	size_t i;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		snprintf(text, sizeof(text), "{\"id\":\"r-aaaaaaaaaaaa\","
		    "\"state\":\"%s\",\"user\":\"alice\",\"role\":\"x\","
		    "\"public_key\":\"k\",\"key_type\":\"ed25519\","
		    "\"key_fingerprint\":\"SHA256:x\",\"expires_at\":"
		    "\"2026-01-01T00:00:00Z\"%s}", c[i].state, c[i].extra);
		REQUIRE((j = json_loads(text, 0, NULL)) != NULL);
		REQUIRE_OK(jit_request_from_json(j, &r));
		if (c[i].want == NULL)
			CHECK(jit_request_end_reason(r) == NULL);
		else
			CHECK_STR(jit_request_end_reason(r), c[i].want);
		REQUIRE((out = jit_request_to_json(r)) != NULL);
		if (c[i].want == NULL)
			CHECK(json_object_get(out, "end_reason") == NULL);
		else
			CHECK_STR(json_string_value(json_object_get(out,
			    "end_reason")), c[i].want);
		json_decref(out);
		json_decref(j);
		jit_request_free(r);
	}
}

/* create: pending, approved at once, and every refusal. */
static void
test_create(void)
{
	struct fx f;
	struct jit_request *r;
	struct jit_create_args a;
	char *fp = NULL;

	fx_open(&f, "lc-create");
	REQUIRE_OK(jit_key_fingerprint(ed_key, &fp));

	/* A role that needs an approval: pending, with the policy's terms. */
	r = CREATE(&f, "alice", "staging", 0, "deploy 4.2", 0, T0);
	CHECK_STR(jit_state_name(r->state), "pending");
	CHECK_STR(r->user, "alice");
	CHECK_STR(r->role, "staging");
	CHECK_INT(r->nprincipals, 2);
	CHECK_STR(r->principals[0], "deploy");
	CHECK_STR(r->principals[1], "ci");
	CHECK_STR(r->reason, "deploy 4.2");
	CHECK_U64(r->duration, 2 * HOUR);          /* the role's default */
	CHECK_STR(r->public_key, ed_line);
	CHECK_STR(r->key_type, "ed25519");
	CHECK_STR(r->key_fingerprint, fp);
	CHECK_INT(r->approvals_needed, 1);
	CHECK_INT(r->napprovals, 0);
	CHECK_U64(r->created_at, T0);
	CHECK_U64(r->expires_at, T0 + 4 * HOUR);   /* pending_timeout */
	CHECK_U64(r->not_before, 0);
	CHECK_U64(r->not_after, 0);
	CHECK_U64(r->serial, 0);
	CHECK_INT(strncmp(r->id, "r-", 2), 0);
	CHECK_INT(strlen(r->id), JIT_REQUEST_ID_LEN - 1);
	CHECK_STR(hk.actor, "alice");
	CHECK_INT(hk.state, JIT_STATE_PENDING);
	jit_request_free(r);

	/* No approval needed: approved in the same write, window now ..
	 * now + duration; one audit entry, one hook call. */
	r = CREATE(&f, "alice", "readonly", HOUR, NULL, 0, T0 + 5);
	CHECK_STR(jit_state_name(r->state), "approved");
	CHECK_INT(r->approvals_needed, 0);
	CHECK_U64(r->not_before, T0 + 5);
	CHECK_U64(r->not_after, T0 + 5 + HOUR);
	CHECK_U64(r->decided_at, T0 + 5);
	CHECK_U64(r->expires_at, 0);
	CHECK(r->reason == NULL);
	CHECK_INT(hk.state, JIT_STATE_APPROVED);
	jit_request_free(r);

	/* ... with an asked-for start, the window starts then. */
	r = CREATE(&f, "bob", "readonly", 0, "", T0 + HOUR, T0);
	CHECK_STR(jit_state_name(r->state), "approved");
	CHECK_U64(r->start, T0 + HOUR);
	CHECK_U64(r->not_before, T0 + HOUR);
	CHECK_U64(r->not_after, T0 + HOUR + 8 * HOUR);
	CHECK(r->reason == NULL);                  /* "" is none */
	jit_request_free(r);

	/* An ECDSA key where the role allows it. */
	memset(&a, 0, sizeof(a));
	a.role = "staging";
	a.public_key = ec_line;
	CHECK_OK(jit_lc_create(f.lc, f.p, AS("frank"), &a, T0, &r, &why));
	CHECK(why.slug == NULL);
	CHECK(r != NULL && strcmp(r->key_type, "ecdsa-p256") == 0);
	CHANGED(&f, 1, "request.create");
	jit_request_free(r);

	/* The refusals: nothing stored, nothing audited. */
	memset(&a, 0, sizeof(a));
	a.role = "no-such-role";
	a.public_key = ed_line;
	NO_CREATE(&f, "alice", &a, POLICY_ROLE, "unknown_role");

	a.role = "staging";
	a.public_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBroken";
	NO_CREATE(&f, "alice", &a, BAD_PUBLIC_KEY, "bad_public_key");
	a.public_key = "not a key";
	NO_CREATE(&f, "alice", &a, BAD_PUBLIC_KEY, "bad_public_key");

	/* Over max_duration (prod-db: 4h). */
	a.role = "prod-db";
	a.public_key = ed_line;
	a.reason = "INC-1 restore";
	a.duration = 4 * HOUR + 1;
	NO_CREATE(&f, "alice", &a, POLICY_DURATION, "bad_duration");

	/* Reason required, and in the role's form. */
	a.duration = HOUR;
	a.reason = NULL;
	NO_CREATE(&f, "alice", &a, POLICY_REASON, "bad_reason");
	a.reason = "";
	NO_CREATE(&f, "alice", &a, POLICY_REASON, "bad_reason");
	a.reason = "restore the backup";
	NO_CREATE(&f, "alice", &a, POLICY_REASON, "bad_reason");
	CHECK(strstr(why.message, "[A-Z]") != NULL);   /* shows the pattern */

	/* prod-db takes Ed25519 keys only. */
	a.reason = "INC-1 restore";
	a.public_key = ec_line;
	NO_CREATE(&f, "alice", &a, POLICY_KEY_TYPE, "bad_key_type");

	/* Not a requester of the role; not a user at all. */
	a.public_key = ed_line;
	NO_CREATE(&f, "dave", &a, FORBIDDEN, "forbidden");
	NO_CREATE(&f, "mallory", &a, FORBIDDEN, "forbidden");
	a.role = "break-glass";
	a.reason = NULL;
	NO_CREATE(&f, "alice", &a, FORBIDDEN, "forbidden");

	/* A start further ahead than the role's max_start_ahead (plus the
	 * clock skew) is refused; one within it is taken. */
	a.role = "staging";
	a.start = T0 + DAY + SKEW + 1;
	NO_CREATE(&f, "alice", &a, INVALID_ARGUMENT, "start_too_far");
	a.role = "break-glass";   /* max_start_ahead 0: at approval only */
	a.start = T0 + SKEW + 1;
	NO_CREATE(&f, "bob", &a, INVALID_ARGUMENT, "start_too_far");
	a.role = "readonly";      /* approved at once: a stolen token cannot
	                             mint grants for far ahead */
	a.start = T0 + 2 * HOUR + SKEW + 1;
	NO_CREATE(&f, "alice", &a, INVALID_ARGUMENT, "start_too_far");

	CHANGED(&f, 0, NULL);
	free(fp);
	fx_close(&f);
}

/* One approval from another developer; self-approval and outsiders are
 * refused, and an approved request takes no more decisions. */
static void
test_decide(void)
{
	struct fx f;
	struct jit_request *r;
	char id[JIT_REQUEST_ID_LEN];

	fx_open(&f, "lc-decide");
	CREATE_ID(&f, id, "alice", "staging", HOUR, NULL, 0, T0);

	/* The requester may not approve (or deny) her own request. */
	NO_DECIDE(&f, id, "alice", JIT_APPROVE, T0 + 1, FORBIDDEN);
	NO_DECIDE(&f, id, "alice", JIT_DENY, T0 + 1, FORBIDDEN);
	/* Not approvers of staging: sre, security, an admin, no groups. */
	NO_DECIDE(&f, id, "dave", JIT_APPROVE, T0 + 1, FORBIDDEN);
	NO_DECIDE(&f, id, "carol", JIT_APPROVE, T0 + 1, FORBIDDEN);
	NO_DECIDE(&f, id, "gus", JIT_DENY, T0 + 1, FORBIDDEN);
	NO_DECIDE(&f, id, "mallory", JIT_APPROVE, T0 + 1, FORBIDDEN);
	/* No such request. */
	NO_DECIDE(&f, NOID, "bob", JIT_APPROVE, T0 + 1, NOT_FOUND);
	CHECK_STR(stored_state(&f, id), "pending");

	/* An eligible approver: approved, the window starts now. */
	r = APPROVE(&f, "bob", id, "ok, go", T0 + 60);
	CHECK_STR(jit_state_name(r->state), "approved");
	CHECK_U64(r->not_before, T0 + 60);
	CHECK_U64(r->not_after, T0 + 60 + HOUR);
	CHECK_U64(r->decided_at, T0 + 60);
	CHECK_U64(r->expires_at, 0);
	REQUIRE(r->napprovals == 1);
	CHECK_STR(r->approvals[0].user, "bob");
	CHECK_STR(r->approvals[0].comment, "ok, go");
	CHECK_U64(r->approvals[0].at, T0 + 60);
	CHECK_INT(r->ndenials, 0);
	jit_request_free(r);

	/* Approved: no second approval (by the same or another approver),
	 * no denial, no cancel. */
	NO_DECIDE(&f, id, "bob", JIT_APPROVE, T0 + 61, CONFLICT);
	NO_DECIDE(&f, id, "frank", JIT_APPROVE, T0 + 61, CONFLICT);
	NO_DECIDE(&f, id, "frank", JIT_DENY, T0 + 61, CONFLICT);
	NO_CANCEL(&f, id, "alice", T0 + 61, CONFLICT);
	CHECK_STR(stored_state(&f, id), "approved");

	/* A role with self_approval: the requester's approval counts. */
	CREATE_ID(&f, id, "bob", "break-glass", 0, NULL, 0, T0);
	r = APPROVE(&f, "bob", id, NULL, T0 + 2);
	CHECK_STR(jit_state_name(r->state), "approved");
	CHECK_U64(r->not_before, T0 + 2);
	CHECK_U64(r->not_after, T0 + 2 + HOUR);
	jit_request_free(r);

	/* An asked-for start later than the approval: the window starts at
	 * the start; one earlier than the approval: at the approval. */
	CREATE_ID(&f, id, "alice", "staging", HOUR, NULL, T0 + 3 * HOUR, T0);
	r = APPROVE(&f, "frank", id, NULL, T0 + 10);
	CHECK_U64(r->not_before, T0 + 3 * HOUR);
	CHECK_U64(r->not_after, T0 + 4 * HOUR);
	jit_request_free(r);
	CREATE_ID(&f, id, "alice", "staging", HOUR, NULL, T0 + 20, T0);
	r = APPROVE(&f, "frank", id, NULL, T0 + 100);
	CHECK_U64(r->not_before, T0 + 100);
	CHECK_U64(r->not_after, T0 + 100 + HOUR);
	jit_request_free(r);
	fx_close(&f);
}

/* prod-db: two approvals, one of them from security. */
static void
test_two_person(void)
{
	struct fx f;
	struct jit_request *r;
	struct jit_cert *c = NULL;
	const struct jit_cert_option *o;
	char id[JIT_REQUEST_ID_LEN], *cert;

	fx_open(&f, "lc-twoperson");
	r = CREATE(&f, "alice", "prod-db", 2 * HOUR, "INC-4211 restore", 0,
	    T0);
	memcpy(id, r->id, sizeof(id));
	CHECK_INT(r->approvals_needed, 2);
	/* missing at 0 approvals: one from security, one from anyone. */
	REQUIRE(r->nmissing == 2);
	CHECK_STR(r->missing[0].from, "group:security");
	CHECK_INT(r->missing[0].count, 1);
	CHECK_STR(r->missing[1].from, "any approver");
	CHECK_INT(r->missing[1].count, 1);
	jit_request_free(r);

	/* One approval from sre: not yet; only security is missing. */
	r = APPROVE(&f, "bob", id, "sre ok", T0 + 10);
	CHECK_STR(jit_state_name(r->state), "pending");
	CHECK_INT(r->napprovals, 1);
	CHECK_U64(r->not_before, 0);
	CHECK_U64(r->expires_at, T0 + DAY);
	REQUIRE(r->nmissing == 1);
	CHECK_STR(r->missing[0].from, "group:security");
	CHECK_INT(r->missing[0].count, 1);
	jit_request_free(r);

	/* The same approver twice. */
	NO_DECIDE(&f, id, "bob", JIT_APPROVE, T0 + 11, CONFLICT);
	/* The requester, and a developer who approves nothing here. */
	NO_DECIDE(&f, id, "alice", JIT_APPROVE, T0 + 11, FORBIDDEN);
	NO_DECIDE(&f, id, "frank", JIT_APPROVE, T0 + 11, FORBIDDEN);

	/* A second approval, again from sre: two people, but nobody from
	 * security, so still pending. */
	r = APPROVE(&f, "dave", id, NULL, T0 + 20);
	CHECK_STR(jit_state_name(r->state), "pending");
	CHECK_INT(r->napprovals, 2);
	CHECK_U64(r->not_before, 0);
	REQUIRE(r->nmissing == 1);
	CHECK_STR(r->missing[0].from, "group:security");
	jit_request_free(r);
	CHECK_STR(stored_state(&f, id), "pending");

	/* The missing group's approval approves it. */
	r = APPROVE(&f, "carol", id, "security ok", T0 + 30);
	CHECK_STR(jit_state_name(r->state), "approved");
	CHECK_INT(r->napprovals, 3);
	CHECK_U64(r->not_before, T0 + 30);
	CHECK_U64(r->not_after, T0 + 30 + 2 * HOUR);
	CHECK_U64(r->decided_at, T0 + 30);
	CHECK_INT(r->nmissing, 0);
	jit_request_free(r);

	/* Its certificate carries the role's source-address and only its
	 * extensions. */
	cert = ISSUE(&f, "alice", id, T0 + 40);
	CHANGED(&f, 1, "cert.issue");
	REQUIRE_OK(jit_cert_parse_line(cert, &c));
	CHECK_INT(c->nprincipals, 1);
	CHECK_STR(c->principals[0], "postgres");
	o = jit_cert_find_critical(c, "source-address");
	CHECK(o != NULL && o->data != NULL &&
	    strcmp((const char *)o->data, "10.0.0.0/8,192.168.1.0/24") == 0);
	CHECK(jit_cert_find_extension(c, "permit-pty") != NULL);
	CHECK(jit_cert_find_extension(c, "permit-port-forwarding") == NULL);
	jit_cert_free(c);
	free(cert);

	/* Security alone is one approval: with another from sre it is
	 * approved whatever the order. */
	CREATE_ID(&f, id, "frank", "prod-db", 0, "CHG-7", 0, T0);
	r = APPROVE(&f, "carol", id, NULL, T0 + 1);
	CHECK_STR(jit_state_name(r->state), "pending");
	jit_request_free(r);
	r = APPROVE(&f, "dave", id, NULL, T0 + 2);
	CHECK_STR(jit_state_name(r->state), "approved");
	CHECK_U64(r->not_after, T0 + 2 + HOUR);
	jit_request_free(r);

	/* bob is in sre, but his approval of his own request never counts
	 * (self_approval: false) and is refused. */
	CREATE_ID(&f, id, "bob", "prod-db", 0, "INC-9", 0, T0);
	NO_DECIDE(&f, id, "bob", JIT_APPROVE, T0 + 1, FORBIDDEN);
	fx_close(&f);
}

/* deny, and decisions on requests that are no longer pending or have
 * expired. */
static void
test_deny_and_late(void)
{
	struct fx f;
	struct jit_request *r;
	char id[JIT_REQUEST_ID_LEN], late[JIT_REQUEST_ID_LEN];

	fx_open(&f, "lc-deny");
	CREATE_ID(&f, id, "alice", "staging", 0, NULL, 0, T0);

	/* A non-approver cannot deny either. */
	NO_DECIDE(&f, id, "carol", JIT_DENY, T0 + 1, FORBIDDEN);

	r = DENY(&f, "bob", id, "not during the freeze", T0 + 5);
	CHECK_STR(jit_state_name(r->state), "denied");
	CHECK_U64(r->decided_at, T0 + 5);
	CHECK_U64(r->expires_at, 0);
	CHECK_U64(r->not_before, 0);
	CHECK_INT(r->napprovals, 0);
	REQUIRE(r->ndenials == 1);
	CHECK_STR(r->denials[0].user, "bob");
	CHECK_STR(r->denials[0].comment, "not during the freeze");
	CHECK_U64(r->denials[0].at, T0 + 5);
	CHECK_STR(r->end_reason, "denied");
	jit_request_free(r);

	/* Denied is final. */
	NO_DECIDE(&f, id, "frank", JIT_APPROVE, T0 + 6, CONFLICT);
	NO_DECIDE(&f, id, "bob", JIT_DENY, T0 + 6, CONFLICT);
	NO_CANCEL(&f, id, "alice", T0 + 6, CONFLICT);
	NO_REVOKE(&f, id, "dave", T0 + 6, CONFLICT);
	NO_ISSUE(&f, id, "alice", T0 + 6, CONFLICT);

	/* Pending, but past expires_at (the sweeper has not run yet): no
	 * more decisions. */
	CREATE_ID(&f, late, "alice", "staging", 0, NULL, 0, T0);
	NO_DECIDE(&f, late, "bob", JIT_APPROVE, T0 + 4 * HOUR, CONFLICT);
	NO_DECIDE(&f, late, "bob", JIT_DENY, T0 + 5 * HOUR, CONFLICT);
	CHECK_STR(stored_state(&f, late), "pending");
	/* One second before, it could still be approved. */
	r = APPROVE(&f, "bob", late, NULL, T0 + 4 * HOUR - 1);
	CHECK_STR(jit_state_name(r->state), "approved");
	jit_request_free(r);
	fx_close(&f);
}

static void
test_cancel(void)
{
	struct fx f;
	struct jit_request *r;
	char id[JIT_REQUEST_ID_LEN];

	fx_open(&f, "lc-cancel");
	CREATE_ID(&f, id, "alice", "staging", 0, NULL, 0, T0);

	/* Only the requester: not an approver, not an admin. */
	NO_CANCEL(&f, id, "bob", T0 + 1, FORBIDDEN);
	NO_CANCEL(&f, id, "dave", T0 + 1, FORBIDDEN);
	NO_CANCEL(&f, id, "gus", T0 + 1, FORBIDDEN);
	NO_CANCEL(&f, NOID, "alice", T0 + 1, NOT_FOUND);

	CHECK_OK(jit_lc_cancel(f.lc, f.p, AS("alice"), id, T0 + 30, &r,
	    &why));
	CHANGED(&f, 1, "request.cancel");
	REQUIRE(r != NULL);
	CHECK_STR(jit_state_name(r->state), "cancelled");
	CHECK_STR(r->end_reason, "cancelled");
	CHECK_U64(r->cancelled_at, T0 + 30);
	CHECK_U64(r->expires_at, 0);
	CHECK(is_stored(&f, r));
	CHECK_STR(hk.actor, "alice");
	CHECK_STR(hk.id, id);
	CHECK_INT(hk.state, JIT_STATE_CANCELLED);
	jit_request_free(r);

	/* Cancelled is final. */
	NO_CANCEL(&f, id, "alice", T0 + 31, CONFLICT);
	NO_DECIDE(&f, id, "bob", JIT_APPROVE, T0 + 31, CONFLICT);
	NO_ISSUE(&f, id, "alice", T0 + 31, CONFLICT);

	/* Approved at once: nothing to cancel. */
	CREATE_ID(&f, id, "alice", "readonly", 0, NULL, 0, T0);
	NO_CANCEL(&f, id, "alice", T0 + 1, CONFLICT);
	fx_close(&f);
}

static void
test_revoke(void)
{
	struct fx f;
	struct jit_request *r;
	char id[JIT_REQUEST_ID_LEN], *cert;
	uint64_t serial;

	fx_open(&f, "lc-revoke");
	/* readonly: approved at once; bob and dave approve it (sre). */
	CREATE_ID(&f, id, "alice", "readonly", HOUR, NULL, 0, T0);
	cert = ISSUE(&f, "alice", id, T0 + 1);
	CHANGED(&f, 1, "cert.issue");
	free(cert);
	r = stored(&f, id);
	serial = r->serial;
	CHECK(serial > 0);
	jit_request_free(r);

	/* Not outsiders, not auditors. */
	NO_REVOKE(&f, id, "frank", T0 + 2, FORBIDDEN);
	NO_REVOKE(&f, id, "erin", T0 + 2, FORBIDDEN);
	NO_REVOKE(&f, id, "carol", T0 + 2, FORBIDDEN);
	NO_REVOKE(&f, id, "mallory", T0 + 2, FORBIDDEN);
	NO_REVOKE(&f, NOID, "bob", T0 + 2, NOT_FOUND);

	/* An approver of the role. */
	CHECK_OK(jit_lc_revoke(f.lc, f.p, AS("bob"), id, "incident over",
	    T0 + 600, &r, &why));
	CHANGED(&f, 1, "request.revoke");
	REQUIRE(r != NULL);
	CHECK_STR(jit_state_name(r->state), "revoked");
	CHECK_U64(r->revoked_at, T0 + 600);
	CHECK_STR(r->revoked_by, "bob");
	CHECK_STR(r->revoke_comment, "incident over");
	CHECK_STR(r->end_reason, "revoked");
	CHECK_U64(r->serial, serial);       /* for the KRL */
	CHECK(is_stored(&f, r));
	CHECK_STR(hk.comment, "incident over");
	jit_request_free(r);

	/* Revoked is final: no second revoke, no certificate. */
	NO_REVOKE(&f, id, "dave", T0 + 601, CONFLICT);
	NO_ISSUE(&f, id, "alice", T0 + 601, CONFLICT);

	/* An admin who does not approve the role (dave, for staging). */
	CREATE_ID(&f, id, "alice", "staging", HOUR, NULL, 0, T0);
	NO_REVOKE(&f, id, "dave", T0 + 1, CONFLICT);   /* pending */
	jit_request_free(APPROVE(&f, "frank", id, NULL, T0 + 2));
	CHECK_OK(jit_lc_revoke(f.lc, f.p, AS("dave"), id, NULL, T0 + 3, &r,
	    &why));
	CHANGED(&f, 1, "request.revoke");
	REQUIRE(r != NULL);
	CHECK_STR(jit_state_name(r->state), "revoked");
	CHECK_STR(r->revoked_by, "dave");
	CHECK(r->revoke_comment == NULL);
	CHECK_U64(r->serial, 0);            /* never issued */
	CHECK_STR(hk.comment, "");
	jit_request_free(r);

	/* A grant whose window is over (not swept yet) cannot be revoked. */
	CREATE_ID(&f, id, "alice", "readonly", HOUR, NULL, 0, T0);
	NO_REVOKE(&f, id, "dave", T0 + HOUR, CONFLICT);
	CHECK_STR(stored_state(&f, id), "approved");

	/* The requester ends her own grant early: it is relinquished, and
	 * an approver's revocation is not. */
	{
		struct audit_get ag;

		CHECK_OK(jit_lc_revoke(f.lc, f.p, AS("alice"), id, "done",
		    T0 + 10, &r, &why));
		CHANGED(&f, 1, "request.revoke");
		REQUIRE(r != NULL);
		CHECK_STR(jit_state_name(r->state), "revoked");
		CHECK_STR(r->revoked_by, "alice");
		CHECK_STR(r->end_reason, "relinquished");
		jit_request_free(r);
		memset(&ag, 0, sizeof(ag));
		CHECK_OK(jit_store_read(f.s, audit_get_fn, &ag));
		CHECK_STR(ag.event, "request.revoke");
		CHECK_INT(ag.relinquished, 1);
		CREATE_ID(&f, id, "alice", "readonly", HOUR, NULL, 0, T0);
		CHECK_OK(jit_lc_revoke(f.lc, f.p, AS("bob"), id, NULL, T0 + 10,
		    &r, &why));
		jit_request_free(r);
		memset(&ag, 0, sizeof(ag));
		CHECK_OK(jit_store_read(f.s, audit_get_fn, &ag));
		CHECK_INT(ag.relinquished, 0);
	}
	fx_close(&f);
}

/* A policy like policy_yaml in which staging gives more (X11 and agent
 * forwarding, a forced command) and prod-db needs no security approver. */
static struct jit_policy *
wider_policy(void)
{
	struct jit_policy_error pe;
	struct jit_policy *p = NULL;
	char *y = jit_strdup(policy_yaml), *at;

	REQUIRE(y != NULL);
	at = strstr(y, "extensions: [permit-pty, permit-port-forwarding]");
	REQUIRE(at != NULL);
	memcpy(at, "extensions: [permit-X11-forwarding,  permit-pty]  ",
	    strlen("extensions: [permit-pty, permit-port-forwarding]"));
	if (jit_policy_load_mem("wider", y, strlen(y), &p, &pe) != 0)
		fprintf(stderr, "wider: %s:%u: %s\n", pe.file, pe.line,
		    pe.message);
	free(y);
	REQUIRE(p != NULL);
	return p;
}

/* The certificate is built from the terms recorded at creation, not from
 * a policy loaded later. */
static void
test_recorded_terms(void)
{
	struct fx f;
	struct jit_request *r;
	struct jit_policy *wide;
	struct jit_cert *c = NULL;
	char id[JIT_REQUEST_ID_LEN], *cert = NULL;

	fx_open(&f, "lc-terms");
	wide = wider_policy();
	CHECK(strcmp(jit_policy_role_digest(jit_policy_role(f.p, "staging")),
	    jit_policy_role_digest(jit_policy_role(wide, "staging"))) != 0);
	r = CREATE(&f, "alice", "staging", HOUR, NULL, 0, T0);
	memcpy(id, r->id, sizeof(id));
	CHECK(r->terms_recorded);
	REQUIRE(r->nextensions == 2);
	CHECK_STR(r->extensions[0], "permit-pty");
	CHECK_STR(r->extensions[1], "permit-port-forwarding");
	CHECK_STR(r->role_digest, jit_policy_role_digest(jit_policy_role(f.p,
	    "staging")));
	jit_request_free(r);
	r = APPROVE(&f, "bob", id, NULL, T0 + 1);
	jit_request_free(r);
	/* Issued under the wider policy: still the recorded extensions. */
	CHECK_OK(jit_lc_issue(f.lc, wide, AS("alice"), id, T0 + 2, &cert,
	    &why));
	REQUIRE(cert != NULL);
	REQUIRE_OK(jit_cert_parse_line(cert, &c));
	CHECK(jit_cert_find_extension(c, "permit-pty") != NULL);
	CHECK(jit_cert_find_extension(c, "permit-port-forwarding") != NULL);
	CHECK(jit_cert_find_extension(c, "permit-X11-forwarding") == NULL);
	jit_cert_free(c);
	free(cert);
	jit_policy_free(wide);
	fx_close(&f);
}

static void
test_issue(void)
{
	struct fx f;
	struct jit_request *r, *after;
	struct jit_cert *c = NULL;
	struct jit_cert_expect e;
	struct jit_key *k = NULL;
	struct peek before, again;
	char id[JIT_REQUEST_ID_LEN], *cert, *cert2, keyid[128];
	const char *want[] = { "deploy", "ci" };

	fx_open(&f, "lc-issue");
	CREATE_ID(&f, id, "alice", "staging", HOUR, NULL, 0, T0);

	/* Pending: nothing to issue yet. */
	NO_ISSUE(&f, id, "alice", T0 + 1, CONFLICT);
	r = APPROVE(&f, "bob", id, NULL, T0 + 10);
	jit_request_free(r);

	/* Only the requester fetches it: not the approver, not an admin. */
	NO_ISSUE(&f, id, "bob", T0 + 20, FORBIDDEN);
	NO_ISSUE(&f, id, "dave", T0 + 20, FORBIDDEN);
	NO_ISSUE(&f, NOID, "alice", T0 + 20, NOT_FOUND);

	cert = ISSUE(&f, "alice", id, T0 + 20);
	CHANGED(&f, 1, "cert.issue");
	CHECK_STR(hk.actor, "alice");
	CHECK_STR(hk.id, id);
	r = stored(&f, id);
	CHECK(r->serial > 0);
	CHECK_U64(r->issued_at, T0 + 20);
	CHECK_STR(jit_state_name(r->state), "approved");

	/* The certificate: this grant's key, principals and window, signed
	 * by the CA, valid_after backdated by the clock skew. */
	REQUIRE_OK(jit_cert_parse_line(cert, &c));
	CHECK_U64(c->serial, r->serial);
	REQUIRE(c->nprincipals == 2);
	CHECK_STR(c->principals[0], "deploy");
	CHECK_STR(c->principals[1], "ci");
	CHECK_U64(c->valid_after, r->not_before - SKEW);
	CHECK_U64(c->valid_after, T0 + 10 - SKEW);
	CHECK_U64(c->valid_before, r->not_after);
	CHECK_U64(c->valid_before, T0 + 10 + HOUR);
	CHECK(jit_key_equal_public(c->key, ed_key));
	CHECK(jit_key_equal_public(c->signature_key, ca_key));
	snprintf(keyid, sizeof(keyid), "alice req=%s role=staging", id);
	CHECK_STR(c->key_id, keyid);
	CHECK(jit_cert_find_extension(c, "permit-pty") != NULL);
	CHECK(jit_cert_find_extension(c, "permit-port-forwarding") != NULL);
	CHECK(jit_cert_find_critical(c, "source-address") == NULL);
	memset(&e, 0, sizeof(e));
	e.ca = ca_key;
	e.key = ed_key;
	e.now = T0 + 20;
	e.principals = want;
	e.nprincipals = 2;
	CHECK_OK(jit_cert_verify(c, &e));
	jit_cert_free(c);
	jit_request_free(r);

	/* A second fetch: the same bytes, and nothing changes. */
	peek(&f, id, &before);
	cert2 = ISSUE(&f, "alice", id, T0 + 30);
	CHECK_STR(cert2, cert);
	peek(&f, id, &again);
	CHECK(peek_same(&before, &again));
	CHANGED(&f, 0, NULL);
	peek_release(&before);
	peek_release(&again);
	free(cert2);

	/* The window is over: no certificate (not even the stored one). */
	NO_ISSUE(&f, id, "alice", T0 + 10 + HOUR, CONFLICT);
	free(cert);

	/* Approved at once: the window starts at creation, and each grant
	 * gets its own serial. */
	CREATE_ID(&f, id, "alice", "readonly", 2 * HOUR, NULL, 0, T0 + 100);
	cert = ISSUE(&f, "alice", id, T0 + 100);
	CHANGED(&f, 1, "cert.issue");
	REQUIRE_OK(jit_cert_parse_line(cert, &c));
	after = stored(&f, id);
	CHECK_U64(c->serial, after->serial);
	CHECK_U64(c->valid_after, T0 + 100 - SKEW);
	CHECK_U64(c->valid_before, T0 + 100 + 2 * HOUR);
	REQUIRE(c->nprincipals == 1);
	CHECK_STR(c->principals[0], "readonly");
	CHECK_OK(jit_cert_verify_signature(c));
	REQUIRE_OK(jit_key_parse_public(ed_line, &k, NULL));
	CHECK(jit_key_equal_public(c->key, k));
	jit_key_free(k);
	jit_cert_free(c);
	jit_request_free(after);
	free(cert);
	fx_close(&f);
}

/* The sweeper: expiry of pending requests, end of grants. */
static void
test_sweep(void)
{
	struct fx f;
	struct jit_request *r;
	struct peek p3, p4, p5, q3, q4, q5;
	char r1[JIT_REQUEST_ID_LEN], r2[JIT_REQUEST_ID_LEN];
	char r3[JIT_REQUEST_ID_LEN], r4[JIT_REQUEST_ID_LEN];
	char r5[JIT_REQUEST_ID_LEN];
	unsigned expired = 99, ended = 99;
	const char *e1, *e2;

	fx_open(&f, "lc-sweep");
	/* r1 pending, expires T0+4h; r2 granted until T0+1h; r3 pending
	 * until T0+7h; r4 granted until T0+8h; r5 cancelled. */
	CREATE_ID(&f, r1, "alice", "staging", 0, NULL, 0, T0);
	CREATE_ID(&f, r2, "alice", "readonly", HOUR, NULL, 0, T0);
	CREATE_ID(&f, r3, "frank", "staging", 0, NULL, 0, T0 + 3 * HOUR);
	CREATE_ID(&f, r4, "bob", "readonly", 0, NULL, 0, T0);
	CREATE_ID(&f, r5, "frank", "staging", 0, NULL, 0, T0);
	CHECK_OK(jit_lc_cancel(f.lc, f.p, AS("frank"), r5, T0 + 1, NULL,
	    &why));
	CHANGED(&f, 1, "request.cancel");

	/* Nothing due yet. */
	CHECK_OK(jit_lc_sweep(f.lc, T0 + 30 * MIN, &expired, &ended));
	CHECK_INT(expired, 0);
	CHECK_INT(ended, 0);
	CHANGED(&f, 0, NULL);

	/* At T0+4h: r1 expires, r2 ends, the rest stays as it is. */
	peek(&f, r3, &p3);
	peek(&f, r4, &p4);
	peek(&f, r5, &p5);
	CHECK_OK(jit_lc_sweep(f.lc, T0 + 4 * HOUR, &expired, &ended));
	CHECK_INT(expired, 1);
	CHECK_INT(ended, 1);
	CHANGED(&f, 2, NULL);
	e1 = audit_event(&f, f.seq - 1);
	e2 = audit_event(&f, f.seq);
	CHECK((strcmp(e1, "request.expire") == 0 &&
	    strcmp(e2, "grant.end") == 0) ||
	    (strcmp(e1, "grant.end") == 0 &&
	    strcmp(e2, "request.expire") == 0));
	CHECK_STR(hk.actor, "system");

	r = stored(&f, r1);
	CHECK_STR(jit_state_name(r->state), "expired");
	CHECK_U64(r->expired_at, T0 + 4 * HOUR);
	CHECK_U64(r->expires_at, 0);
	CHECK_U64(jit_request_deadline(r), 0);
	CHECK_STR(r->end_reason, "expired");
	jit_request_free(r);
	r = stored(&f, r2);
	CHECK_STR(jit_state_name(r->state), "ended");
	CHECK_U64(r->ended_at, T0 + 4 * HOUR);
	CHECK_STR(r->end_reason, "ended");
	CHECK_U64(r->not_before, T0);
	CHECK_U64(r->not_after, T0 + HOUR);
	jit_request_free(r);
	peek(&f, r3, &q3);
	peek(&f, r4, &q4);
	peek(&f, r5, &q5);
	CHECK(q3.found && q3.rawlen == p3.rawlen &&
	    memcmp(q3.raw, p3.raw, p3.rawlen) == 0);
	CHECK(q4.found && q4.rawlen == p4.rawlen &&
	    memcmp(q4.raw, p4.raw, p4.rawlen) == 0);
	CHECK(q5.found && q5.rawlen == p5.rawlen &&
	    memcmp(q5.raw, p5.raw, p5.rawlen) == 0);
	peek_release(&q3);
	peek_release(&q4);
	peek_release(&q5);

	/* Sweeping again at the same time changes nothing. */
	peek(&f, r1, &q3);
	peek(&f, r2, &q4);
	CHECK_OK(jit_lc_sweep(f.lc, T0 + 4 * HOUR, &expired, &ended));
	CHECK_INT(expired, 0);
	CHECK_INT(ended, 0);
	CHANGED(&f, 0, NULL);
	peek(&f, r1, &q5);
	CHECK(peek_same(&q3, &q5));
	peek_release(&q5);
	peek(&f, r2, &q5);
	CHECK(peek_same(&q4, &q5));
	peek_release(&q3);
	peek_release(&q4);
	peek_release(&q5);

	/* Expired and ended are final. */
	NO_DECIDE(&f, r1, "bob", JIT_APPROVE, T0 + 4 * HOUR, CONFLICT);
	NO_CANCEL(&f, r1, "alice", T0 + 4 * HOUR, CONFLICT);
	NO_REVOKE(&f, r2, "dave", T0 + 4 * HOUR, CONFLICT);
	NO_ISSUE(&f, r2, "alice", T0 + 4 * HOUR, CONFLICT);

	/* Much later: r3 expires, r4 ends; r5 (cancelled) and the final
	 * ones are left alone.  NULL counters are allowed. */
	CHECK_OK(jit_lc_sweep(f.lc, T0 + 10 * HOUR, NULL, NULL));
	CHANGED(&f, 2, NULL);
	CHECK_STR(stored_state(&f, r3), "expired");
	CHECK_STR(stored_state(&f, r4), "ended");
	CHECK_STR(stored_state(&f, r5), "cancelled");
	CHECK_STR(stored_state(&f, r1), "expired");
	CHECK_STR(stored_state(&f, r2), "ended");
	CHECK_OK(jit_lc_sweep(f.lc, T0 + 100 * HOUR, &expired, &ended));
	CHECK_INT(expired + ended, 0);
	CHANGED(&f, 0, NULL);
	peek_release(&p3);
	peek_release(&p4);
	peek_release(&p5);
	fx_close(&f);
}

/* Who may see what: jit_lc_get, jit_lc_can_view, jit_lc_list. */
static void
test_visibility(void)
{
	static const char *const all_users[] = { "alice", "bob", "carol",
	    "dave", "erin", "frank", "gus", "mallory" };
	/* Who sees pA (alice, prod-db), rB (bob, readonly), sA (alice,
	 * staging): 1 per user, in all_users order. */
	static const int sees_pA[] = { 1, 1, 1, 1, 1, 0, 0, 0 };
	static const int sees_rB[] = { 0, 1, 1, 1, 1, 0, 0, 0 };
	static const int sees_sA[] = { 1, 1, 1, 1, 1, 1, 0, 0 };
	struct fx f;
	struct jit_request *sA, *pA, *rB, *sF, *got;
	struct jit_lc_filter flt;
	size_t i;
	int rc;

	fx_open(&f, "lc-visibility");
	sA = CREATE(&f, "alice", "staging", 0, NULL, 0, T0);
	pA = CREATE(&f, "alice", "prod-db", 0, "INC-1", 0, T0);
	rB = CREATE(&f, "bob", "readonly", 0, NULL, 0, T0);
	sF = CREATE(&f, "frank", "staging", 0, NULL, 0, T0);

	for (i = 0; i < sizeof(all_users) / sizeof(all_users[0]); i++) {
		const char *u = all_users[i];
		const struct jit_request *rq[] = { pA, rB, sA };
		const int *sees[] = { sees_pA, sees_rB, sees_sA };
		size_t k;

		for (k = 0; k < 3; k++) {
			CHECK_INT(jit_lc_can_view(f.p, u, rq[k]), sees[k][i]);
			if (jit_lc_can_view(f.p, u, rq[k]) != sees[k][i])
				fprintf(stderr, "  (%s, %s's %s request)\n", u,
				    rq[k]->user, rq[k]->role);
			if (sees[k][i]) {
				got = NULL;
				rc = jit_lc_get(f.lc, f.p, AS(u), rq[k]->id,
				    &got, &why);
				CHECK_OK(rc);
				CHECK(got != NULL &&
				    strcmp(got->id, rq[k]->id) == 0 &&
				    is_stored(&f, got));
				jit_request_free(got);
				continue;
			}
			NO_GET(&f, rq[k]->id, u, FORBIDDEN);
		}
	}
	NO_GET(&f, NOID, "dave", NOT_FOUND);

	/* Lists, newest first.  With no filter a non-admin sees their own
	 * requests and the pending ones they may decide on. */
	memset(&flt, 0, sizeof(flt));
	flt.limit = 100;
	CHECK_STR(listed(&f, "alice", &flt), ids(sF->id, pA->id, sA->id,
	    NULL));
	CHECK_STR(listed(&f, "frank", &flt), ids(sF->id, sA->id, NULL));
	CHECK_STR(listed(&f, "bob", &flt), ids(sF->id, rB->id, pA->id,
	    sA->id, NULL));
	CHECK_STR(listed(&f, "gus", &flt), "");
	CHECK_STR(listed(&f, "mallory", &flt), "");
	/* Admins and auditors see everything. */
	CHECK_STR(listed(&f, "erin", &flt), ids(sF->id, rB->id, pA->id,
	    sA->id, NULL));
	CHECK_STR(listed(&f, "dave", &flt), ids(sF->id, rB->id, pA->id,
	    sA->id, NULL));

	/* mine */
	flt.mine = 1;
	CHECK_STR(listed(&f, "alice", &flt), ids(pA->id, sA->id, NULL));
	CHECK_STR(listed(&f, "erin", &flt), "");
	CHECK_STR(listed(&f, "bob", &flt), ids(rB->id, NULL));
	/* mine and a state */
	flt.has_state = 1;
	flt.state = JIT_STATE_APPROVED;
	CHECK_STR(listed(&f, "alice", &flt), "");
	CHECK_STR(listed(&f, "bob", &flt), ids(rB->id, NULL));
	/* a state: only what the user may see */
	flt.mine = 0;
	CHECK_STR(listed(&f, "alice", &flt), "");
	CHECK_STR(listed(&f, "erin", &flt), ids(rB->id, NULL));
	flt.state = JIT_STATE_PENDING;
	CHECK_STR(listed(&f, "alice", &flt), ids(sF->id, pA->id, sA->id,
	    NULL));
	CHECK_STR(listed(&f, "frank", &flt), ids(sF->id, sA->id, NULL));
	CHECK_STR(listed(&f, "carol", &flt), ids(sF->id, pA->id, sA->id,
	    NULL));
	/* a state and a role */
	flt.role = "prod-db";
	CHECK_STR(listed(&f, "dave", &flt), ids(pA->id, NULL));
	CHECK_STR(listed(&f, "frank", &flt), "");
	/* a limit */
	memset(&flt, 0, sizeof(flt));
	flt.limit = 1;
	CHECK_STR(listed(&f, "erin", &flt), ids(sF->id, NULL));
	flt.limit = 0;
	CHECK_STR(listed(&f, "erin", &flt), "ERROR");
	CHECK_STR(why.slug, "bad_query");
	CHANGED(&f, 0, NULL);

	jit_request_free(sA);
	jit_request_free(pA);
	jit_request_free(rB);
	jit_request_free(sF);
	fx_close(&f);
}

/* The long-poll returns as soon as the request moves on. */
struct waiter {
	struct fx *f;
	const char *id;
	int rc;
	struct jit_request *got;
};

static void *
wait_thread(void *arg)
{
	struct waiter *w = arg;

	w->rc = jit_lc_wait(w->f->lc, w->f->p, AS("alice"), w->id, 60000,
	    NULL, &w->got, NULL);
	return NULL;
}

static void
test_wait(void)
{
	struct fx f;
	struct jit_request *got = NULL;
	struct waiter w;
	pthread_t th;
	atomic_int stop = 1;
	char id[JIT_REQUEST_ID_LEN];

	fx_open(&f, "lc-wait");
	CREATE_ID(&f, id, "alice", "staging", 0, NULL, 0, T0);

	/* No wait, or told to stop: the request as it is. */
	CHECK_OK(jit_lc_wait(f.lc, f.p, AS("alice"), id, 0, NULL, &got,
	    &why));
	CHECK(got != NULL && got->state == JIT_STATE_PENDING);
	jit_request_free(got);
	CHECK_OK(jit_lc_wait(f.lc, f.p, AS("alice"), id, 60000, &stop, &got,
	    &why));
	CHECK(got != NULL && got->state == JIT_STATE_PENDING);
	jit_request_free(got);
	REFUSED(&f, id, JIT_ERR_FORBIDDEN, "forbidden", jit_lc_wait(f.lc,
	    f.p, AS("gus"), id, 60000, NULL, &rout, &why));

	/* The same without a blocked thread (jit_lc_wait_begin/poll). */
	{
		struct jit_lc_wait *lw = NULL;
		char other[JIT_REQUEST_ID_LEN];

		CHECK_OK(jit_lc_wait_begin(f.lc, f.p, AS("alice"), id, &lw,
		    &got, &why));
		REQUIRE(lw != NULL);
		CHECK(got == NULL);
		CHECK_INT(jit_lc_wait_key(lw), jit_store_wake_slot(id));
		CHECK_INT(jit_lc_wait_poll(lw, 0, &got), 0);
		/* Another request's commit: still nothing new for this one. */
		CREATE_ID(&f, other, "alice", "staging", 0, NULL, 0, T0);
		CHECK_INT(jit_lc_wait_poll(lw, 0, &got), 0);
		/* Final: the request as it is now. */
		CHECK_INT(jit_lc_wait_poll(lw, 1, &got), 1);
		CHECK(got != NULL && got->state == JIT_STATE_PENDING);
		jit_request_free(got);
		got = NULL;
		/* Cancelled meanwhile: the next poll returns it. */
		CHECK_OK(jit_lc_cancel(f.lc, f.p, AS("alice"), other, T0 + 1,
		    &got, &why));
		CHANGED(&f, 1, "request.cancel");
		jit_request_free(got);
		got = NULL;
		jit_lc_wait_free(lw);
		CHECK_OK(jit_lc_wait_begin(f.lc, f.p, AS("alice"), other, &lw,
		    &got, &why));
		CHECK(lw == NULL);
		CHECK(got != NULL && got->state == JIT_STATE_CANCELLED);
		jit_request_free(got);
		got = NULL;
		REFUSED(&f, id, JIT_ERR_FORBIDDEN, "forbidden",
		    jit_lc_wait_begin(f.lc, f.p, AS("gus"), id, &lw, &rout,
		    &why));
		CHECK(lw == NULL);
	}

	/* Whether the approval lands before or during the wait, the waiter
	 * gets the approved request, long before its minute is up. */
	memset(&w, 0, sizeof(w));
	w.f = &f;
	w.id = id;
	REQUIRE(pthread_create(&th, NULL, wait_thread, &w) == 0);
	jit_request_free(APPROVE(&f, "bob", id, NULL, T0 + 1));
	REQUIRE(pthread_join(th, NULL) == 0);
	CHECK_OK(w.rc);
	CHECK(w.got != NULL && w.got->state == JIT_STATE_APPROVED);
	jit_request_free(w.got);
	fx_close(&f);
}

/*
 * call fails with the hook's code and changes nothing (the request id,
 * the audit log, the requests and certificates).
 */
#define ROLLED_BACK(f, id, call) do { \
	struct peek rb_before_, rb_after_; \
	int rb_r_; \
	peek((f), (id), &rb_before_); \
	rb_r_ = (call); \
	CHECK_INT(rb_r_, JIT_ERR_IO); \
	peek((f), (id), &rb_after_); \
	CHECK(peek_same(&rb_before_, &rb_after_)); \
	peek_release(&rb_before_); \
	peek_release(&rb_after_); \
	(f)->calls = hk.calls; \
} while (0)

/* A hook that fails rolls back the change it was called for. */
static void
test_hook_rollback(void)
{
	struct fx f;
	struct jit_create_args a;
	struct jit_request *r = NULL;
	char id[JIT_REQUEST_ID_LEN], ro[JIT_REQUEST_ID_LEN], *cert = NULL;
	unsigned expired = 9, ended = 9, calls;

	fx_open(&f, "lc-hook");
	memset(&a, 0, sizeof(a));
	a.role = "staging";
	a.public_key = ed_line;

	hk.fail = JIT_ERR_IO;
	calls = hk.calls;
	ROLLED_BACK(&f, NULL, jit_lc_create(f.lc, f.p, AS("alice"), &a, T0,
	    &r, &why));
	CHECK(r == NULL);
	CHECK_INT(hk.calls, calls + 1);
	CHECK_STR(hk.event, "request.create");
	a.role = "readonly";
	ROLLED_BACK(&f, NULL, jit_lc_create(f.lc, f.p, AS("alice"), &a, T0,
	    &r, &why));
	hk.fail = 0;

	CREATE_ID(&f, id, "alice", "staging", HOUR, NULL, 0, T0);
	CREATE_ID(&f, ro, "alice", "readonly", 8 * HOUR, NULL, 0, T0);

	hk.fail = JIT_ERR_IO;
	ROLLED_BACK(&f, id, jit_lc_decide(f.lc, f.p, AS("bob"), id,
	    JIT_APPROVE, "ok", T0 + 1, &r, &why));
	CHECK(r == NULL);
	CHECK_STR(hk.event, "request.approve");
	ROLLED_BACK(&f, id, jit_lc_decide(f.lc, f.p, AS("bob"), id,
	    JIT_DENY, "no", T0 + 1, &r, &why));
	CHECK_STR(hk.event, "request.deny");
	ROLLED_BACK(&f, id, jit_lc_cancel(f.lc, f.p, AS("alice"), id, T0 + 1,
	    &r, &why));
	CHECK_STR(hk.event, "request.cancel");
	ROLLED_BACK(&f, ro, jit_lc_issue(f.lc, f.p, AS("alice"), ro, T0 + 1,
	    &cert, &why));
	CHECK(cert == NULL);
	CHECK_STR(hk.event, "cert.issue");
	ROLLED_BACK(&f, ro, jit_lc_revoke(f.lc, f.p, AS("dave"), ro, NULL,
	    T0 + 1, &r, &why));
	CHECK_STR(hk.event, "request.revoke");
	/* Due at T0+5h: id's expiry (ro's grant runs until T0+8h). */
	ROLLED_BACK(&f, id, jit_lc_sweep(f.lc, T0 + 5 * HOUR, &expired,
	    &ended));
	CHECK_INT(expired + ended, 0);
	CHECK_STR(hk.event, "request.expire");
	hk.fail = 0;
	CHECK_STR(stored_state(&f, id), "pending");
	CHECK_STR(stored_state(&f, ro), "approved");

	/* With the hook content again, each goes through... */
	f.calls = hk.calls;
	jit_request_free(APPROVE(&f, "bob", id, "ok", T0 + 2));
	/* ... but the end of id's grant (due at T0+1h+2s) is rolled back
	 * while the hook fails. */
	hk.fail = JIT_ERR_IO;
	ROLLED_BACK(&f, id, jit_lc_sweep(f.lc, T0 + 2 * HOUR, &expired,
	    &ended));
	CHECK_INT(expired + ended, 0);
	CHECK_STR(hk.event, "grant.end");
	hk.fail = 0;
	CHECK_STR(stored_state(&f, id), "approved");
	cert = ISSUE(&f, "alice", ro, T0 + 2);
	CHANGED(&f, 1, "cert.issue");
	free(cert);
	r = stored(&f, ro);
	CHECK(r->serial > 0);
	jit_request_free(r);
	CHECK_OK(jit_lc_revoke(f.lc, f.p, AS("dave"), ro, NULL, T0 + 3, NULL,
	    &why));
	CHANGED(&f, 1, "request.revoke");
	CHECK_OK(jit_lc_sweep(f.lc, T0 + 10 * HOUR, &expired, &ended));
	CHECK_INT(expired, 0);
	CHECK_INT(ended, 1);                 /* id's grant */
	CHANGED(&f, 1, "grant.end");
	fx_close(&f);
}

static int
verify_fn(struct jit_store_txn *t, void *ctx)
{
	return jit_audit_verify_store(t, ctx, NULL, NULL);
}

/* People who signed in through the identity provider: require_mfa
 * looks at the sign-in's amr; the provider's groups count in every rule
 * and are recorded with the request and each decision, so approvals
 * count them later and a policy reload keeps the request. */
static void
test_sso_actor(void)
{
	static const char sso_yaml[] =
	    "users: {alice: {}, bob: {}, carol: {}}\n"
	    "provider_groups: [okta-dev, okta-sre]\n"
	    "roles:\n"
	    "  secure:\n"
	    "    principals: [root]\n"
	    "    requesters: [group:okta-dev]\n"
	    "    approvers: [group:okta-sre]\n"
	    "    approvals: 1\n"
	    "    require_mfa: true\n";
	static const char *const dev[] = { "okta-dev" };
	static const char *const sre[] = { "okta-sre" };
	static const char *const pwd[] = { "pwd" };
	static const char *const pwd_otp[] = { "pwd", "otp" };
	struct jit_actor plain = { "alice", "192.0.2.7", NULL, 0, NULL, 0 };
	struct jit_actor nomfa = { "alice", "192.0.2.7", pwd, 1, dev, 1 };
	struct jit_actor noamr = { "alice", "192.0.2.7", NULL, 0, dev, 1 };
	struct jit_actor alice = { "alice", "192.0.2.7", pwd_otp, 2, dev, 1 };
	struct jit_actor bob = { "bob", "192.0.2.8", pwd, 1, sre, 1 };
	struct jit_actor bob_plain = { "bob", "192.0.2.8", NULL, 0, NULL, 0 };
	struct jit_actor carol = { "carol", "192.0.2.9", NULL, 0, sre, 1 };
	struct jit_actor carol_plain = { "carol", "192.0.2.9", NULL, 0, NULL,
	    0 };
	struct jit_create_args a = { "secure", ed_line, 0, NULL, 0 };
	struct jit_lc_reload_counts counts;
	struct jit_policy_error pe;
	struct jit_request *r = NULL;
	char id[JIT_REQUEST_ID_LEN];
	json_t *j;
	struct fx f;

	fx_open(&f, "lc-sso");
	jit_policy_free(f.p);
	f.p = NULL;
	REQUIRE_OK(jit_policy_load_mem("sso", sso_yaml, sizeof(sso_yaml) - 1,
	    &f.p, &pe));
	REFUSED(&f, NULL, JIT_ERR_FORBIDDEN, "forbidden", jit_lc_create(f.lc,
	    f.p, &plain, &a, T0, &rout, &why));
	CHECK_STR(why.message, "user alice may not request role secure");
	REFUSED(&f, NULL, JIT_ERR_FORBIDDEN, "mfa_required",
	    jit_lc_create(f.lc, f.p, &noamr, &a, T0, &rout, &why));
	CHECK_STR(why.message, "role secure requires multi-factor "
	    "authentication: sign in through single sign-on with a second "
	    "factor (this sign-in shows no authentication methods)");
	REFUSED(&f, NULL, JIT_ERR_FORBIDDEN, "mfa_required",
	    jit_lc_create(f.lc, f.p, &nomfa, &a, T0, &rout, &why));
	CHECK_CONTAINS_MSG("this sign-in shows no second factor");

	REQUIRE_OK(jit_lc_create(f.lc, f.p, &alice, &a, T0, &r, &why));
	memcpy(id, r->id, sizeof(id));
	REQUIRE(r->nuser_groups == 1);
	CHECK_STR(r->user_groups[0], "okta-dev");
	jit_request_free(r);
	CHANGED(&f, 1, "request.create");
	j = stored_json(&f, id);
	CHECK_STR(json_string_value(json_array_get(json_object_get(j,
	    "user_groups"), 0)), "okta-dev");
	json_decref(j);

	/* Seen and decided only with the provider's groups. */
	REFUSED(&f, id, JIT_ERR_FORBIDDEN, "forbidden", jit_lc_get(f.lc, f.p,
	    &carol_plain, id, &rout, &why));
	REQUIRE_OK(jit_lc_get(f.lc, f.p, &carol, id, &r, &why));
	jit_request_free(r);
	REFUSED(&f, id, JIT_ERR_FORBIDDEN, "forbidden", jit_lc_decide(f.lc,
	    f.p, &bob_plain, id, JIT_APPROVE, NULL, T0 + 10, &rout, &why));
	CHECK_STR(why.message, "user bob is not an approver for role secure");
	REQUIRE_OK(jit_lc_decide(f.lc, f.p, &bob, id, JIT_APPROVE, "ok",
	    T0 + 10, &r, &why));
	CHECK_STR(jit_state_name(r->state), "approved");
	REQUIRE(r->napprovals == 1 && r->approvals[0].ngroups == 1);
	CHECK_STR(r->approvals[0].groups[0], "okta-sre");
	CHECK(is_stored(&f, r));
	jit_request_free(r);
	CHANGED(&f, 1, "request.approve");

	/* A reload finds the requester still eligible through the groups
	 * recorded with the request. */
	memset(&counts, 0, sizeof(counts));
	CHECK_OK(jit_lc_policy_check(f.lc, f.p, T0 + 20, 1, NULL, NULL,
	    &counts));
	CHECK_INT(counts.expired, 0);
	CHECK_INT(counts.revoked, 0);
	CHECK_STR(stored_state(&f, id), "approved");
	fx_close(&f);
}

/* The audit entries the transitions write, in order, and the log stays a
 * valid chain through all of them. */
static void
test_audit_entries(void)
{
	struct fx f;
	json_t *fields;
	uint64_t count = 0;
	char id[JIT_REQUEST_ID_LEN];

	fx_open(&f, "lc-audit");
	fields = json_pack("{s:s}", "version", "test");
	REQUIRE(fields != NULL);
	CHECK_OK(jit_lc_audit_system(f.lc, f.p, "server.start", fields));
	json_decref(fields);
	f.seq++;              /* not a request change: no hook call */
	CHANGED(&f, 0, NULL);
	CHECK_STR(audit_event(&f, 1), "server.start");
	CHECK(jit_lifecycle_ca_fingerprint(f.lc) != NULL &&
	    strncmp(jit_lifecycle_ca_fingerprint(f.lc), "SHA256:", 7) == 0);

	CREATE_ID(&f, id, "alice", "prod-db", 0, "INC-3", 0, T0);
	jit_request_free(APPROVE(&f, "bob", id, NULL, T0 + 1));
	jit_request_free(APPROVE(&f, "carol", id, NULL, T0 + 2));
	free(ISSUE(&f, "alice", id, T0 + 3));
	CHANGED(&f, 1, "cert.issue");
	CHECK_OK(jit_lc_revoke(f.lc, f.p, AS("dave"), id, "done", T0 + 4,
	    NULL, &why));
	CHANGED(&f, 1, "request.revoke");
	CHECK_STR(audit_event(&f, 2), "request.create");
	CHECK_STR(audit_event(&f, 3), "request.approve");
	CHECK_STR(audit_event(&f, 4), "request.approve");
	CHECK_STR(audit_event(&f, 5), "cert.issue");
	CHECK_STR(audit_event(&f, 6), "request.revoke");
	CHECK_OK(jit_store_read(f.s, verify_fn, &count));
	CHECK_U64(count, 6);
	fx_close(&f);
}

/* ---- issued at creation -------------------------------------------------- */

/* Audit entry n (cert 0) or the cert record of serial n (cert 1), as
 * JSON. */
struct json_get {
	int cert;
	uint64_t n;
	json_t *out;
};

static int
json_get_fn(struct jit_store_txn *t, void *ctx)
{
	struct json_get *g = ctx;
	char *js = NULL;
	size_t len;
	int r;

	if (g->cert)
		return jit_store_get_cert(t, g->n, &g->out);
	if ((r = jit_store_audit_get(t, g->n, &js, &len)) != 0)
		return r;
	g->out = json_loadb(js, len, 0, NULL);
	free(js);
	return g->out != NULL ? 0 : JIT_ERR_STORE_CORRUPT;
}

/* The JSON (new reference) of audit entry n, or of the cert record of
 * serial n; NULL if missing. */
static json_t *
stored_entry(struct fx *f, int cert, uint64_t n)
{
	struct json_get g = { cert, n, NULL };

	CHECK_OK(jit_store_read(f->s, json_get_fn, &g));
	return g.out;
}
#define audit_json(f, seq) stored_entry((f), 0, (seq))
#define cert_rec(f, serial) stored_entry((f), 1, (serial))

/* 1 if a and b (JSON objects) have the same members with the same
 * values, but for those that name one request or entry (skip). */
static int
same_but(json_t *a, json_t *b, const char *const *skip)
{
	json_t *ca = json_deep_copy(a), *cb = json_deep_copy(b);
	int same;

	for (; *skip != NULL; skip++) {
		json_object_del(ca, *skip);
		json_object_del(cb, *skip);
	}
	same = ca != NULL && cb != NULL && json_equal(ca, cb);
	if (!same) {
		char *x = json_dumps(ca, JSON_SORT_KEYS);
		char *y = json_dumps(cb, JSON_SORT_KEYS);

		fprintf(stderr, "  %s\n  %s\n", x ? x : "?", y ? y : "?");
		free(x);
		free(y);
	}
	json_decref(ca);
	json_decref(cb);
	return same;
}

static int
certs_issued_fn(struct jit_store_txn *t, void *ctx)
{
	json_t *v = NULL;
	int r;

	if ((r = jit_store_get_value(t, "metrics.certs_issued", &v)) == 0)
		*(uint64_t *)ctx = (uint64_t)json_integer_value(v);
	json_decref(v);
	return r;
}

static uint64_t
certs_issued(struct fx *f)
{
	uint64_t n = 0;

	CHECK_OK(jit_store_read(f->s, certs_issued_fn, &n));
	return n;
}

static int
reserve_fn(struct jit_store_txn *t, void *ctx)
{
	return jit_store_reserve_serial(t, ctx);
}

/* A cert record with serial, stored as another process would (no
 * claim): a reservation of it then conflicts. */
static int
plant_cert_fn(struct jit_store_txn *t, void *ctx)
{
	uint64_t serial = *(uint64_t *)ctx;
	json_t *rec = json_pack("{s:I, s:s}", "serial", (json_int_t)serial,
	    "cert", "planted");
	int r = rec != NULL ? jit_store_put_cert(t, serial, rec) :
	    JIT_ERR_ALLOC;

	json_decref(rec);
	return r;
}

/* A CA whose signer fails (an HSM that is down). */
static int
failing_signer(void *ctx, const unsigned char *data, size_t len,
    struct jit_buf *sig)
{
	(void)ctx;
	(void)data;
	(void)len;
	(void)sig;
	return JIT_ERR_IO;
}

/* jit_lc_create_issue that must issue: the request and its line. */
static struct jit_request *
create_issue_at(struct fx *f, const char *user, uint64_t dur, uint64_t now,
    char **cert, int line)
{
	struct jit_create_args a = { "readonly", ed_line, dur, NULL, 0 };
	struct jit_request *r = NULL;
	uint64_t v = jit_store_version(f->s);
	json_t *j;
	char *js = NULL, *want;
	int rc;

	rc = jit_lc_create_issue(f->lc, f->p, AS(user), &a, now, &r, cert,
	    &js, &why);
	if (rc != 0 || r == NULL || *cert == NULL) {
		fail_at(line, "create_issue by %s: %d %s: %s", user, rc,
		    why.slug ? why.slug : "-", why.message);
		exit(1);
	}
	/* One commit, with both entries, in order. */
	if (jit_store_version(f->s) != v + 1)
		fail_at(line, "%" PRIu64 " commits, expected 1",
		    jit_store_version(f->s) - v);
	changed_at(f, 2, "cert.issue", line);
	if (strcmp(audit_event(f, f->seq - 1), "request.create") != 0)
		fail_at(line, "entry before cert.issue: %s",
		    audit_event(f, f->seq - 1));
	if (strcmp(hk.id, r->id) != 0 || hk.state != JIT_STATE_APPROVED)
		fail_at(line, "hook saw %s %s", hk.id,
		    jit_state_name(hk.state));
	if (!is_stored(f, r))
		fail_at(line, "the issued request is not what is stored");
	/* *json is the request as issued, encoded as an answer would. */
	j = jit_request_to_json(r);
	want = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
	if (js == NULL || want == NULL || strcmp(js, want) != 0)
		fail_at(line, "json: %s, not %s", js ? js : "NULL",
		    want ? want : "NULL");
	json_decref(j);
	free(want);
	free(js);
	return r;
}
#define CREATE_ISSUE(f, user, dur, now, cert) \
	create_issue_at((f), (user), (dur), (now), (cert), __LINE__)

/*
 * A request approved at creation whose window starts now comes with its
 * certificate (jit_lc_create_issue), made in the create's one commit:
 * request.create then cert.issue, with their hook calls, the request
 * stored as issued, the certificate this grant's and verifiable, a later
 * fetch the same bytes, every serial its own.  The audit entries, the
 * stored request, the cert record and the count of certificates are
 * those of a create followed by a fetch.  A pending request or one that
 * starts later has none; a hook that fails on cert.issue takes the
 * request with it; a serial another process took is replaced; a signer
 * that fails leaves the request as jit_lc_create() stores it.
 */
static void
test_create_issue(void)
{
	static const char *const skip_entry[] = { "request", "serial",
	    "key_id", "seq", "hash", "prev", "ts", NULL };
	static const char *const skip_req[] = { "id", "serial", NULL };
	static const char *const skip_rec[] = { "request", "serial",
	    "key_id", "cert", NULL };
	const char *want[] = { "readonly" };
	struct jit_create_args a;
	struct jit_request *r, *two;
	struct jit_cert *c = NULL;
	struct jit_cert_expect e;
	struct fx f;
	json_t *x, *y;
	char *cert = NULL, *again, *line2, id[JIT_REQUEST_ID_LEN];
	uint64_t serials[4], n, v, planted;
	size_t i, k;

	fx_open(&f, "lc-create-issue");
	r = CREATE_ISSUE(&f, "alice", 2 * HOUR, T0, &cert);
	CHECK(r->serial > 0);
	CHECK_U64(r->issued_at, T0);
	CHECK_U64(r->not_before, T0);
	CHECK_U64(certs_issued(&f), 1);
	REQUIRE_OK(jit_cert_parse_line(cert, &c));
	CHECK_U64(c->serial, r->serial);
	CHECK_U64(c->valid_after, T0 - SKEW);
	CHECK_U64(c->valid_before, T0 + 2 * HOUR);
	memset(&e, 0, sizeof(e));
	e.ca = ca_key;
	e.key = ed_key;
	e.now = T0;
	e.principals = want;
	e.nprincipals = 1;
	CHECK_OK(jit_cert_verify(c, &e));
	jit_cert_free(c);
	/* A later fetch: the same bytes, nothing written. */
	v = jit_store_version(f.s);
	again = ISSUE(&f, "alice", r->id, T0 + 5);
	CHECK_STR(again, cert);
	CHECK_U64(jit_store_version(f.s), v);
	CHANGED(&f, 0, NULL);
	free(again);

	/* The same grant made with two calls at the same time stores the
	 * same: entries, request, cert record, count. */
	CREATE_ID(&f, id, "alice", "readonly", 2 * HOUR, NULL, 0, T0);
	line2 = ISSUE(&f, "alice", id, T0);
	CHANGED(&f, 1, "cert.issue");
	two = stored(&f, id);
	for (k = 0; k < 2; k++) {
		x = audit_json(&f, f.seq - 3 + k);
		y = audit_json(&f, f.seq - 1 + k);
		CHECK(x != NULL && y != NULL && same_but(x, y, skip_entry));
		json_decref(x);
		json_decref(y);
	}
	x = jit_request_to_json(r);
	y = jit_request_to_json(two);
	CHECK(same_but(x, y, skip_req));
	json_decref(x);
	json_decref(y);
	x = cert_rec(&f, r->serial);
	y = cert_rec(&f, two->serial);
	CHECK(x != NULL && y != NULL && same_but(x, y, skip_rec));
	CHECK_STR(json_string_value(json_object_get(x, "cert")), cert);
	json_decref(x);
	json_decref(y);
	CHECK_U64(certs_issued(&f), 2);
	serials[0] = r->serial;
	serials[1] = two->serial;
	jit_request_free(two);
	jit_request_free(r);
	free(line2);
	free(cert);

	/* Two more, each with its own serial. */
	for (i = 2; i < 4; i++) {
		r = CREATE_ISSUE(&f, "bob", HOUR, T0 + i, &cert);
		serials[i] = r->serial;
		jit_request_free(r);
		free(cert);
	}
	for (i = 0; i < 4; i++)
		for (k = i + 1; k < 4; k++)
			CHECK(serials[i] != serials[k]);
	CHECK_U64(certs_issued(&f), 4);

	/* Pending, or starting later: no certificate, one entry; the
	 * fetch issues it as before. */
	memset(&a, 0, sizeof(a));
	a.role = "staging";
	a.public_key = ed_line;
	cert = sentinel_line;
	CHECK_OK(jit_lc_create_issue(f.lc, f.p, AS("alice"), &a, T0, &r,
	    &cert, NULL, &why));
	CHECK(cert == NULL);
	CHECK_STR(jit_state_name(r->state), "pending");
	CHANGED(&f, 1, "request.create");
	jit_request_free(r);
	a.role = "readonly";
	a.start = T0 + HOUR;
	cert = sentinel_line;
	CHECK_OK(jit_lc_create_issue(f.lc, f.p, AS("alice"), &a, T0, &r,
	    &cert, NULL, &why));
	CHECK(cert == NULL);
	CHANGED(&f, 1, "request.create");
	CHECK_STR(jit_state_name(r->state), "approved");
	CHECK_U64(r->not_before, T0 + HOUR);
	CHECK_U64(r->serial, 0);
	CHECK(is_stored(&f, r));
	cert = ISSUE(&f, "alice", r->id, T0 + 10);
	CHANGED(&f, 1, "cert.issue");
	CHECK_U64(certs_issued(&f), 5);
	jit_request_free(r);
	free(cert);

	/* Refusals as jit_lc_create's, with no certificate. */
	a.start = 0;
	REFUSED(&f, NULL, JIT_ERR_FORBIDDEN, "forbidden",
	    jit_lc_create_issue(f.lc, f.p, AS("gus"), &a, T0, &rout, &lout,
	    NULL, &why));

	/* A hook that fails on cert.issue rolls the request back too. */
	hk.fail = JIT_ERR_IO;
	hk.fail_event = "cert.issue";
	n = hk.calls;
	r = NULL;
	cert = NULL;
	ROLLED_BACK(&f, NULL, jit_lc_create_issue(f.lc, f.p, AS("alice"), &a,
	    T0, &r, &cert, NULL, &why));
	CHECK(r == NULL && cert == NULL);
	CHECK_U64(hk.calls, n + 2);
	hk.fail = 0;
	hk.fail_event = NULL;
	CHECK_U64(certs_issued(&f), 5);

	/* The next serial taken by another process meanwhile: signed again
	 * with a fresh one, still one commit with two entries.  PostgreSQL
	 * finds the taken serial only as the batch commits (the cert
	 * record's insert is deferred), after the hooks of the attempt that
	 * is rolled back ran: two calls more, their writes undone. */
	REQUIRE_OK(jit_store_read(f.s, reserve_fn, &planted));
	planted++;
	REQUIRE_OK(jit_store_write(f.s, plant_cert_fn, &planted));
	if (test_pg_url() != NULL)
		f.calls += 2;
	r = CREATE_ISSUE(&f, "alice", HOUR, T0 + 20, &cert);
	CHECK(r->serial != planted);
	REQUIRE_OK(jit_cert_parse_line(cert, &c));
	CHECK_U64(c->serial, r->serial);
	jit_cert_free(c);
	x = cert_rec(&f, planted);
	CHECK_STR(json_string_value(json_object_get(x, "cert")), "planted");
	json_decref(x);
	CHECK_U64(certs_issued(&f), 6);
	jit_request_free(r);
	free(cert);

	/* The signer fails: the request is stored as jit_lc_create stores
	 * it, without a certificate, and its first fetch issues it. */
	{
		struct jit_lifecycle_options o;
		struct jit_lifecycle *down = NULL;

		memset(&o, 0, sizeof(o));
		o.store = f.s;
		o.ca = ca_key;
		o.sign = failing_signer;
		o.clock_skew = SKEW;
		o.hook = hook;
		REQUIRE_OK(jit_lifecycle_new(&o, &down));
		cert = sentinel_line;
		CHECK_OK(jit_lc_create_issue(down, f.p, AS("alice"), &a,
		    T0 + 30, &r, &cert, NULL, &why));
		CHECK(cert == NULL);
		CHANGED(&f, 1, "request.create");
		CHECK_STR(jit_state_name(r->state), "approved");
		CHECK_U64(r->serial, 0);
		CHECK(is_stored(&f, r));
		CHECK_U64(certs_issued(&f), 6);
		jit_lifecycle_free(down);
		cert = ISSUE(&f, "alice", r->id, T0 + 31);
		CHANGED(&f, 1, "cert.issue");
		CHECK_U64(certs_issued(&f), 7);
		jit_request_free(r);
		free(cert);
	}

	n = 0;
	CHECK_OK(jit_store_read(f.s, verify_fn, &n));
	CHECK_U64(n, f.seq);
	fx_close(&f);
}

/* A fetch whose serial keeps colliding with certificates another process
 * stored: LMDB tries ISSUE_TRIES serials in a row and then refuses
 * with STORE (503, try again: not 409, nothing is wrong with the grant)
 * and changes nothing; PostgreSQL moves its sequence past the stored
 * serials after the first collision and issues at once. */
#define ISSUE_TRIES 3           /* lifecycle_int.h's LC_ISSUE_TRIES */

static void
test_issue_collisions(void)
{
	struct fx f;
	struct jit_request *r;
	struct peek before, after;
	char id[JIT_REQUEST_ID_LEN], *cert = NULL;
	uint64_t s, planted;
	int rc;

	fx_open(&f, "lc-collide");
	CREATE_ID(&f, id, "alice", "readonly", HOUR, NULL, 0, T0);
	REQUIRE_OK(jit_store_read(f.s, reserve_fn, &s));
	for (planted = s + 1; planted <= s + ISSUE_TRIES; planted++)
		REQUIRE_OK(jit_store_write(f.s, plant_cert_fn, &planted));
	CHANGED(&f, 0, NULL);
	peek(&f, id, &before);
	rc = jit_lc_issue(f.lc, f.p, AS("alice"), id, T0 + 1, &cert, &why);
	if (test_pg_url() == NULL) {
		CHECK_INT(rc, JIT_ERR_STORE);
		CHECK(cert == NULL);
		CHECK(strstr(why.message, "try again") != NULL);
		peek(&f, id, &after);
		CHECK(peek_same(&before, &after));
		CHANGED(&f, 0, NULL);
		peek_release(&after);
		/* The next serial is free: the fetch works again. */
		cert = ISSUE(&f, "alice", id, T0 + 2);
	} else {
		/* Found as the batch commits: the attempt's hook ran and its
		 * write was rolled back. */
		CHECK_OK(rc);
		f.calls++;
	}
	CHANGED(&f, 1, "cert.issue");
	r = stored(&f, id);
	CHECK(r->serial > s + ISSUE_TRIES);
	jit_request_free(r);
	peek_release(&before);
	free(cert);
	fx_close(&f);
}

/* ---- two nodes on one PostgreSQL database -------------------------------- */

#define NODE_GRANTS 16
#define NODE_THREADS 2          /* per node */

struct fetcher {
	struct jit_lifecycle *lc;
	const struct jit_policy *p;
	char (*ids)[JIT_REQUEST_ID_LEN];
	int start;
	char *lines[NODE_GRANTS];
	int errors;
};

static void *
fetch_thread(void *arg)
{
	struct fetcher *fe = arg;
	struct jit_why w;

	for (int k = 0; k < NODE_GRANTS; k++) {
		int i = (fe->start + k) % NODE_GRANTS;

		if (jit_lc_issue(fe->lc, fe->p, AS("alice"), fe->ids[i],
		    T0 + 20, &fe->lines[i], &w) != 0)
			fe->errors++;
	}
	return NULL;
}

struct node_waiter {
	struct jit_lifecycle *lc;
	const struct jit_policy *p;
	const char *id;
	struct jit_request *got;
	int rc;
	uint64_t ms;
};

static void *
node_wait_thread(void *arg)
{
	struct node_waiter *w = arg;
	uint64_t t0 = jit_monotonic_ms();

	w->rc = jit_lc_wait(w->lc, w->p, AS("alice"), w->id, 60000, NULL,
	    &w->got, NULL);
	w->ms = jit_monotonic_ms() - t0;
	return NULL;
}

/* Node B: a second store on f's database with a lifecycle of its own
 * (no hook), the server's max_pending as given. */
static void
node_b(struct fx *f, unsigned max_pending, struct jit_store **sb,
    struct jit_lifecycle **lb)
{
	struct jit_lifecycle_options o;

	REQUIRE_OK(test_store_open(f->dir, JIT_STORE_SERVER, sb));
	memset(&o, 0, sizeof(o));
	o.store = *sb;
	o.ca = ca_key;
	o.sign = jit_key_signer;
	o.sign_ctx = ca_key;
	o.clock_skew = SKEW;
	o.max_pending = max_pending;
	REQUIRE_OK(jit_lifecycle_new(&o, lb));
}

/*
 * Node A is the fixture's store and lifecycle, node B a second store on
 * the same database with its own lifecycle.  Alice's long-poll on B
 * returns when bob approves on A; when every grant is fetched on both
 * nodes at once, each gets one certificate and every fetch the same
 * bytes; the audit log is one chain.
 */
static void
test_two_nodes(void)
{
	struct fx f;
	struct jit_store *sb = NULL;
	struct jit_lifecycle *lb = NULL;
	struct node_waiter nw;
	struct fetcher fe[2 * NODE_THREADS];
	pthread_t th[2 * NODE_THREADS], wt;
	char (*gids)[JIT_REQUEST_ID_LEN] = calloc(NODE_GRANTS, sizeof(*gids));
	char id[JIT_REQUEST_ID_LEN];
	struct peek pk;
	uint64_t count = 0;

	REQUIRE(gids != NULL);
	fx_open(&f, "lc-nodes");
	node_b(&f, 0, &sb, &lb);

	CREATE_ID(&f, id, "alice", "staging", 0, NULL, 0, T0);
	memset(&nw, 0, sizeof(nw));
	nw.lc = lb;
	nw.p = f.p;
	nw.id = id;
	REQUIRE(pthread_create(&wt, NULL, node_wait_thread, &nw) == 0);
	jit_request_free(APPROVE(&f, "bob", id, NULL, T0 + 1));
	REQUIRE(pthread_join(wt, NULL) == 0);
	CHECK_OK(nw.rc);
	CHECK(nw.got != NULL && nw.got->state == JIT_STATE_APPROVED);
	CHECK(nw.ms < 30000);
	jit_request_free(nw.got);

	for (int i = 0; i < NODE_GRANTS; i++) {
		CREATE_ID(&f, gids[i], "alice", "staging", HOUR, NULL, 0, T0);
		jit_request_free(APPROVE(&f, "bob", gids[i], NULL, T0 + 10));
	}
	memset(fe, 0, sizeof(fe));
	for (int k = 0; k < 2 * NODE_THREADS; k++) {
		fe[k].lc = k % 2 ? lb : f.lc;
		fe[k].p = f.p;
		fe[k].ids = gids;
		fe[k].start = k * 5;
		REQUIRE(pthread_create(&th[k], NULL, fetch_thread, &fe[k])
		    == 0);
	}
	for (int k = 0; k < 2 * NODE_THREADS; k++) {
		REQUIRE(pthread_join(th[k], NULL) == 0);
		CHECK_INT(fe[k].errors, 0);
	}
	for (int i = 0; i < NODE_GRANTS; i++)
		for (int k = 1; k < 2 * NODE_THREADS; k++)
			CHECK(fe[0].lines[i] != NULL &&
			    fe[k].lines[i] != NULL &&
			    strcmp(fe[0].lines[i], fe[k].lines[i]) == 0);
	memset(&pk, 0, sizeof(pk));
	peek(&f, NULL, &pk);
	CHECK_U64(pk.ncerts, NODE_GRANTS);
	/* 1 + 16 creates, 17 approvals, 16 issues, one chain. */
	CHECK_U64(pk.audit_seq, 2 * (1 + NODE_GRANTS) + NODE_GRANTS);
	CHECK_OK(jit_store_read(f.s, verify_fn, &count));
	CHECK_U64(count, pk.audit_seq);
	peek_release(&pk);
	for (int k = 0; k < 2 * NODE_THREADS; k++)
		for (int i = 0; i < NODE_GRANTS; i++)
			free(fe[k].lines[i]);
	jit_lifecycle_free(lb);
	jit_store_close(sb);
	free(gids);
	fx_close(&f);
}

/* ---- pending caps ------------------------------------------------- */

/* The fixture's policy plus a role "batch" that caps its own pending
 * requests at 2 per requester. */
static char *
policy_with_batch(void)
{
	static const char batch[] = "  batch:\n"
	    "    principals: [batch]\n"
	    "    requesters: [group:dev]\n"
	    "    approvers: [group:sre]\n"
	    "    max_pending: 2\n";
	char *y = malloc(sizeof(policy_yaml) + sizeof(batch));

	REQUIRE(y != NULL);
	snprintf(y, sizeof(policy_yaml) + sizeof(batch), "%s%s", policy_yaml,
	    batch);
	return y;
}

/* One of the creates by bob that race each other, on node lc. */
struct racer {
	struct jit_lifecycle *lc;
	const struct jit_policy *p;
	int rc;
	const char *slug;
};

static void *
racer_main(void *arg)
{
	struct racer *rc = arg;
	struct jit_create_args a = { "staging", ed_line, 0, NULL, 0 };
	struct jit_why w;

	rc->rc = jit_lc_create(rc->lc, rc->p, AS("bob"), &a, T0, NULL, &w);
	rc->slug = w.slug;
	return NULL;
}

/* n racers at once, racer i on lcs[i % nlc]: how many passed (*ok) and
 * how many were refused with too_many_pending (*capped). */
static void
race(struct jit_lifecycle *const *lcs, int nlc, const struct jit_policy *p,
    int n, int *ok, int *capped)
{
	struct racer rc[8];
	pthread_t th[8];
	int i;

	REQUIRE(n <= 8);
	*ok = *capped = 0;
	for (i = 0; i < n; i++) {
		rc[i].lc = lcs[i % nlc];
		rc[i].p = p;
		REQUIRE(pthread_create(&th[i], NULL, racer_main, &rc[i]) == 0);
	}
	for (i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		if (rc[i].rc == 0)
			(*ok)++;
		else if (rc[i].rc == JIT_ERR_CONFLICT && rc[i].slug != NULL &&
		    strcmp(rc[i].slug, "too_many_pending") == 0)
			(*capped)++;
	}
}

/* The server's max_pending (3 here) and a role's (batch: 2) refuse a
 * create with too_many_pending and change nothing; requests that are not
 * pending do not count; a cancel or a decision makes room; creates racing
 * each other are counted inside the write, so exactly the cap passes. */
static void
test_pending_caps(void)
{
	struct jit_create_args batch = { "batch", NULL, 0, NULL, 0 };
	struct jit_create_args staging = { "staging", NULL, 0, NULL, 0 };
	char *yaml = policy_with_batch();
	char b1[JIT_REQUEST_ID_LEN], s1[JIT_REQUEST_ID_LEN];
	struct jit_request *r;
	struct fx f;
	int ok = 0, capped = 0;

	batch.public_key = ed_line;
	staging.public_key = ed_line;
	fx_open_with(&f, "lc-caps", yaml, 3);
	CREATE_ID(&f, b1, "alice", "batch", 0, NULL, 0, T0);
	jit_request_free(CREATE(&f, "alice", "batch", 0, NULL, 0, T0));
	NO_CREATE(&f, "alice", &batch, CONFLICT, "too_many_pending");
	CHECK(strstr(why.message, "2 pending requests for role batch") !=
	    NULL);
	/* The role's cap is per requester. */
	jit_request_free(CREATE(&f, "frank", "batch", 0, NULL, 0, T0));
	/* alice's third pending request (another role) reaches the
	 * server's cap of 3. */
	CREATE_ID(&f, s1, "alice", "staging", 0, NULL, 0, T0);
	NO_CREATE(&f, "alice", &staging, CONFLICT, "too_many_pending");
	CHECK(strstr(why.message, "3 pending requests, the most") != NULL);
	/* A grant that needs no approval is not pending: allowed. */
	r = CREATE(&f, "alice", "readonly", 0, NULL, 0, T0);
	CHECK_INT(r->state, JIT_STATE_APPROVED);
	jit_request_free(r);
	/* A cancel makes room for one more. */
	CHECK_OK(jit_lc_cancel(f.lc, f.p, AS("alice"), b1, T0 + 1, NULL,
	    &why));
	CHANGED(&f, 1, "request.cancel");
	jit_request_free(CREATE(&f, "alice", "batch", 0, NULL, 0, T0 + 2));
	NO_CREATE(&f, "alice", &staging, CONFLICT, "too_many_pending");
	/* So does a decision. */
	jit_request_free(APPROVE(&f, "frank", s1, NULL, T0 + 3));
	jit_request_free(CREATE(&f, "alice", "staging", 0, NULL, 0, T0 + 4));

	/* Eight creates by bob at once: three pass, five are capped. */
	race(&f.lc, 1, f.p, 8, &ok, &capped);
	CHECK_INT(ok, 3);
	CHECK_INT(capped, 5);
	CHANGED(&f, 3, "request.create");
	fx_close(&f);
	free(yaml);
}

/* Two nodes, each with the server's max_pending of 3: eight creates by
 * bob at once, alternating between them, and still exactly three pass
 * (each node counts inside its write, and the writes of the nodes
 * commit one after the other). */
static void
test_two_nodes_caps(void)
{
	struct jit_lifecycle *lcs[2];
	struct jit_store *sb = NULL;
	struct peek pk;
	struct fx f;
	int ok = 0, capped = 0;

	fx_open_with(&f, "lc-nodes-caps", policy_yaml, 3);
	node_b(&f, 3, &sb, &lcs[1]);
	lcs[0] = f.lc;
	for (int round = 0; round < 3; round++) {
		race(lcs, 2, f.p, 8, &ok, &capped);
		CHECK_INT(ok, round == 0 ? 3 : 0);
		CHECK_INT(capped, round == 0 ? 5 : 8);
	}
	/* Three creates, whichever node made them (B has no hook). */
	memset(&pk, 0, sizeof(pk));
	peek(&f, NULL, &pk);
	CHECK_U64(pk.audit_seq, f.seq + 3);
	peek_release(&pk);
	jit_lifecycle_free(lcs[1]);
	jit_store_close(sb);
	fx_close(&f);
}

/* ---- pages --------------------------------------------------------------- */

#define MANY 1200
#define MAXIDS (MANY + 64)

struct idlist {
	char v[MAXIDS][JIT_REQUEST_ID_LEN];
	size_t n;
};

/* Every page of f's list for user, limit at a time, into out; checks
 * that every page but the last is full and only the last has no
 * cursor. */
static void
all_pages(struct fx *f, const char *user, struct jit_lc_filter flt,
    size_t limit, struct idlist *out)
{
	struct jit_request **items;
	uint64_t next;
	size_t n, i, pages = 0;

	out->n = 0;
	flt.limit = limit;
	flt.before = 0;
	do {
		items = NULL;
		n = 0;
		REQUIRE_OK(jit_lc_list(f->lc, f->p, AS(user), &flt, &items, &n,
		    &next, &why));
		if (next != 0)
			CHECK_U64(n, limit);
		for (i = 0; i < n && out->n < MAXIDS; i++)
			memcpy(out->v[out->n++], items[i]->id,
			    JIT_REQUEST_ID_LEN);
		jit_lc_list_free(items, n);
		CHECK(next == 0 || next < flt.before || flt.before == 0);
		flt.before = next;
		REQUIRE(++pages < 1000);
	} while (next != 0);
}

/* What the store's index says, newest first: user's requests (state
 * NULL), or the requests in state. */
struct store_ids {
	const char *user, *state;
	struct idlist *out;
};

static int
store_ids_cb(json_t *j, uint64_t seq, void *vctx)
{
	struct idlist *l = vctx;

	(void)seq;
	if (l->n >= MAXIDS)
		return JIT_ERR_INTERNAL;
	snprintf(l->v[l->n++], JIT_REQUEST_ID_LEN, "%s",
	    json_string_value(json_object_get(j, "id")));
	return 0;
}

static int
store_ids_fn(struct jit_store_txn *t, void *vctx)
{
	struct store_ids *q = vctx;
	struct jit_store_list desc = { 0, 0, 1 };

	q->out->n = 0;
	if (q->state == NULL)
		return jit_store_list_by_user(t, q->user, &desc, store_ids_cb,
		    q->out);
	return jit_store_list_by_state(t, q->state, &desc, store_ids_cb,
	    q->out);
}

static int
same_ids(const struct idlist *a, const struct idlist *b)
{
	if (a->n != b->n) {
		fprintf(stderr, "  %zu listed, %zu expected\n", a->n, b->n);
		return 0;
	}
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i], b->v[i]) != 0) {
			fprintf(stderr, "  #%zu: %s, expected %s\n", i, a->v[i],
			    b->v[i]);
			return 0;
		}
	return 1;
}

struct maker {
	struct fx *f;
	const char *user;
	int n, failed;
};

static void *
maker_main(void *arg)
{
	struct maker *m = arg;
	struct jit_create_args a = { "staging", ed_line, 0, NULL, 0 };
	struct jit_why w;

	for (int i = 0; i < m->n; i++)
		if (jit_lc_create(m->f->lc, m->f->p, AS(m->user), &a, T0, NULL,
		    &w) != 0)
			m->failed++;
	return NULL;
}

/*
 * After 1,200 pending requests from one user, every one of them can still
 * be listed, a page at a time (newest first, each page before the
 * cursor of the last, no request twice): by the requester, by an approver
 * (who is no admin), by an admin.  An approver's list of ended states
 * comes from the indexes of what they may see, with the same answer as
 * an admin's list filtered by what they may see.
 */
static void
test_paging(void)
{
	static struct idlist got, want, adm;
	struct maker mk[12];
	pthread_t th[12];
	struct jit_lc_filter flt;
	struct store_ids q;
	struct jit_request *r;
	struct fx f;
	char fr[3][JIT_REQUEST_ID_LEN];
	size_t i, k;

	fx_open(&f, "lc-paging");
	for (i = 0; i < 12; i++) {
		mk[i].f = &f;
		mk[i].user = "alice";
		mk[i].n = MANY / 12;
		mk[i].failed = 0;
		REQUIRE(pthread_create(&th[i], NULL, maker_main, &mk[i]) == 0);
	}
	for (i = 0; i < 12; i++) {
		pthread_join(th[i], NULL);
		CHECK_INT(mk[i].failed, 0);
	}
	CHANGED(&f, MANY, "request.create");
	/* frank: three more, one denied by alice, one approved. */
	for (i = 0; i < 3; i++)
		CREATE_ID(&f, fr[i], "frank", "staging", 0, NULL, 0, T0 + 1);
	jit_request_free(DENY(&f, "alice", fr[0], "no", T0 + 2));
	jit_request_free(APPROVE(&f, "bob", fr[1], NULL, T0 + 2));
	r = CREATE(&f, "carol", "readonly", 0, NULL, 0, T0 + 3);
	jit_request_free(r);

	memset(&flt, 0, sizeof(flt));
	/* alice, her own, 7 a page. */
	flt.mine = 1;
	all_pages(&f, "alice", flt, 7, &got);
	q.user = "alice";
	q.state = NULL;
	q.out = &want;
	REQUIRE_OK(jit_store_read(f.s, store_ids_fn, &q));
	CHECK_U64(want.n, MANY);
	CHECK(same_ids(&got, &want));
	/* bob approves staging (dev): every pending request, 1000 and the
	 * rest; the default list (own + pending he may decide on) too. */
	flt.mine = 0;
	flt.has_state = 1;
	flt.state = JIT_STATE_PENDING;
	q.user = NULL;
	q.state = "pending";
	REQUIRE_OK(jit_store_read(f.s, store_ids_fn, &q));
	CHECK_U64(want.n, MANY + 1);
	all_pages(&f, "bob", flt, JIT_LC_LIST_MAX, &got);
	CHECK(same_ids(&got, &want));
	all_pages(&f, "dave", flt, 500, &adm);
	CHECK(same_ids(&adm, &want));
	flt.has_state = 0;
	all_pages(&f, "bob", flt, 333, &got);
	CHECK(same_ids(&got, &want));
	/* frank's default list: his own (3) and alice's pending ones. */
	all_pages(&f, "frank", flt, 1000, &got);
	CHECK_U64(got.n, MANY + 3);
	/* Final and approved states, by someone who is no admin: alice
	 * approves staging, so she sees frank's denied one; carol's
	 * readonly grant is not hers to see, bob's approval of frank's is. */
	flt.has_state = 1;
	flt.state = JIT_STATE_DENIED;
	all_pages(&f, "alice", flt, 5, &got);
	CHECK_U64(got.n, 1);
	CHECK_STR(got.v[0], fr[0]);
	flt.state = JIT_STATE_APPROVED;
	all_pages(&f, "alice", flt, 5, &got);
	CHECK_U64(got.n, 1);
	CHECK_STR(got.v[0], fr[1]);
	all_pages(&f, "dave", flt, 5, &got);
	CHECK_U64(got.n, 2);
	all_pages(&f, "gus", flt, 5, &got);
	CHECK_U64(got.n, 0);
	/* A role filter: an admin's pages of one role in every state. */
	flt.has_state = 0;
	flt.role = "staging";
	all_pages(&f, "erin", flt, 400, &got);
	CHECK_U64(got.n, MANY + 3);
	flt.role = "readonly";
	all_pages(&f, "erin", flt, 400, &got);
	CHECK_U64(got.n, 1);
	/* A limit out of range is refused. */
	flt.role = NULL;
	for (k = 0; k < 2; k++) {
		struct jit_request **items = NULL;
		size_t n = 0;
		uint64_t next = 0;

		flt.limit = k == 0 ? 0 : JIT_LC_LIST_MAX + 1;
		CHECK_INT(jit_lc_list(f.lc, f.p, AS("dave"), &flt, &items, &n,
		    &next, &why), JIT_ERR_INVALID_ARGUMENT);
		CHECK_STR(why.slug, "bad_query");
	}
	fx_close(&f);
}

int
main(void)
{
	struct jit_key *ec = NULL;

	REQUIRE_OK(jit_key_generate(JIT_KEY_ED25519, 0, &ca_key));
	REQUIRE_OK(jit_key_generate(JIT_KEY_ED25519, 0, &ed_key));
	REQUIRE_OK(jit_key_generate(JIT_KEY_ECDSA_P256, 0, &ec));
	REQUIRE_OK(jit_key_format_public(ed_key, NULL, &ed_line));
	REQUIRE_OK(jit_key_format_public(ec, NULL, &ec_line));

	test_state_names();
	test_end_reason_legacy();
	test_create();
	test_decide();
	test_two_person();
	test_recorded_terms();
	test_deny_and_late();
	test_cancel();
	test_revoke();
	test_issue();
	test_sweep();
	test_visibility();
	test_pending_caps();
	test_paging();
	test_wait();
	test_hook_rollback();
	test_sso_actor();
	test_audit_entries();
	test_create_issue();
	test_issue_collisions();
	if (test_pg_url() != NULL) {
		test_two_nodes();
		test_two_nodes_caps();
	}

	jit_key_free(ec);
	jit_key_free(ed_key);
	jit_key_free(ca_key);
	free(ed_line);
	free(ec_line);
	TEST_DONE();
}
