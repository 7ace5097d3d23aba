/*
 * test-notify.c - notifications (api/notify/): the config of endpoints
 * and its URL rules, email addresses in the policy, the store's outbox,
 * the hook that fills it inside a change's transaction (and leaves
 * nothing when the change rolls back), who an email goes to, the three
 * renderings (escaping, no secrets, mail headers), the signature against
 * OpenSSL's one-shot HMAC and the retry delays.  No network: delivery is
 * tested by tests/integration/test-notify.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "config.h"
#include "err.h"
#include "key.h"
#include "lifecycle.h"
#include "notify_int.h"
#include "policy.h"
#include "store.h"
#include "test-store-open.h"
#include "terms.h"
#include "test.h"
#include "test-files.h"
#include "util.h"

static const char policy_yaml[] =
    "users:\n"
    "  alice: {groups: [dev], email: alice@example.com}\n"
    "  bob: {groups: [sre], email: bob@example.com}\n"
    "  dave: {groups: [sre], email: dave@example.com}\n"
    "  gina: {groups: [sre]}\n"
    "  carol: {groups: [dev], email: carol@example.com}\n"
    "roles:\n"
    "  ops:\n"
    "    principals: [root]\n"
    "    requesters: [group:dev]\n"
    "    approvers: [group:sre]\n"
    "    approvals: 1\n"
    "    max_duration: 1h\n"
    "  staging:\n"
    "    principals: [deploy]\n"
    "    requesters: [group:dev]\n"
    "    approvers: [group:sre, group:dev]\n"
    "    approvals: 1\n"
    "    max_duration: 1h\n";

static const char config_yaml[] =
    "public_url: https://jit.example.com/\n"
    "notify:\n"
    "  - name: chat\n"
    "    url: https://hooks.example.com/services/T0/B0/x?y=1\n"
    "    format: slack\n"
    "    events: [request.create, request.approve]\n"
    "    roles: [ops]\n"
    "    secret_file: /nonexistent\n"
    "    timeout: 5s\n"
    "    backoff: 2s\n"
    "    retry_for: 1h\n"
    "  - name: hook\n"
    "    url: http://127.0.0.1:8080/x\n"
    "    events: [request.create, cert.issue]\n"
    "  - name: mail\n"
    "    smtp: smtp://127.0.0.1:25\n"
    "    from: jit-ssh@example.com\n"
    "    events: [request.create, request.approve, request.deny]\n";

static struct jit_key *ca_key;

/* ---- config -------------------------------------------------------------- */

static int
parse(const char *yaml, struct jit_config *c, char *err, size_t errlen)
{
	return jit_config_parse("t.yaml", (const unsigned char *)yaml,
	    strlen(yaml), c, err, errlen);
}

static void
bad_config(const char *yaml, const char *want)
{
	struct jit_config c;
	char err[512];

	CHECK_INT(parse(yaml, &c, err, sizeof(err)), JIT_ERR_INVALID_FORMAT);
	if (strstr(err, want) == NULL) {
		fprintf(stderr, "config error '%s' lacks '%s'\n", err, want);
		CHECK(0);
	}
}

static void
test_config(void)
{
	struct jit_config c;
	char err[512];
	int lo;

	REQUIRE_OK(parse(config_yaml, &c, err, sizeof(err)));
	CHECK_STR(c.public_url, "https://jit.example.com");
	REQUIRE(c.nnotify == 3);
	CHECK_STR(c.notify[0].name, "chat");
	CHECK_INT(c.notify[0].format, JIT_NOTIFY_SLACK);
	CHECK_INT(c.notify[0].nroles, 1);
	CHECK_U64(c.notify[0].timeout, 5);
	CHECK_U64(c.notify[0].backoff, 2);
	CHECK_U64(c.notify[0].retry_for, 3600);
	CHECK_INT(c.notify[0].loopback, 0);
	CHECK_INT(c.notify[1].format, JIT_NOTIFY_JSON);
	CHECK_INT(c.notify[1].loopback, 1);
	CHECK_U64(c.notify[1].retry_for, 24 * 3600);
	CHECK_U64(c.notify[1].backoff, JIT_NOTIFY_DEFAULT_BACKOFF);
	CHECK_INT(c.notify[2].format, JIT_NOTIFY_EMAIL);
	CHECK_STR(c.notify[2].from, "jit-ssh@example.com");
	CHECK(jit_notify_config_wants(&c.notify[0], "request.create", "ops"));
	CHECK(!jit_notify_config_wants(&c.notify[0], "request.create",
	    "staging"));
	CHECK(!jit_notify_config_wants(&c.notify[0], "cert.issue", "ops"));
	CHECK(jit_notify_config_wants(&c.notify[1], "cert.issue", "staging"));
	CHECK(jit_notify_config_find(c.notify, c.nnotify, "mail") ==
	    &c.notify[2]);
	jit_config_release(&c);

	bad_config("notify: [{name: a, url: 'http://10.0.0.1/x', "
	    "events: [cert.issue]}]", "must be https://");
	bad_config("notify: [{name: a, url: 'ftp://x/', events: [cert.issue]}]",
	    "expected an https:// URL");
	bad_config("notify: [{name: a, url: 'https://u:p@x.com/', "
	    "events: [cert.issue]}]", "user:password@");
	bad_config("notify: [{name: a, url: 'https://x.com/a b', "
	    "events: [cert.issue]}]", "space");
	bad_config("notify: [{name: a, url: 'https://x.com:99999/', "
	    "events: [cert.issue]}]", "bad port");
	bad_config("notify: [{name: a, url: 'https://x.com/', "
	    "events: [cert.issued]}]", "is not an event name");
	bad_config("notify: [{name: a, url: 'https://x.com/', "
	    "events: [cert.issue, cert.issue]}]", "listed twice");
	bad_config("notify: [{name: a, url: 'https://x.com/'}]",
	    "needs events");
	bad_config("notify: [{url: 'https://x.com/', events: [cert.issue]}]",
	    "needs a name");
	bad_config("notify: [{name: 'a b', url: 'https://x.com/', "
	    "events: [cert.issue]}]", "expected 1 to 64");
	bad_config("notify: [{name: a, events: [cert.issue]}]",
	    "either url");
	bad_config("notify: [{name: a, url: 'https://x.com/', smtp: "
	    "'smtp://127.0.0.1', events: [cert.issue]}]", "either url");
	bad_config("notify: [{name: a, smtp: 'smtp://127.0.0.1', "
	    "events: [cert.issue]}]", "needs from");
	bad_config("notify: [{name: a, smtp: 'smtp://127.0.0.1', from: "
	    "'x@y.z', format: json, events: [cert.issue]}]", "not smtp");
	bad_config("notify: [{name: a, smtp: 'https://x.com/', from: "
	    "'x@y.z', events: [cert.issue]}]", "smtp://HOST");
	bad_config("notify: [{name: a, smtp: 'smtp://127.0.0.1', from: "
	    "'x y@z', events: [cert.issue]}]", "invalid email address");
	bad_config("notify: [{name: a, url: 'https://x.com/', from: 'x@y.z', "
	    "events: [cert.issue]}]", "from is for smtp");
	bad_config("notify: [{name: a, url: 'https://x.com/', format: xml, "
	    "events: [cert.issue]}]", "expected slack or json");
	bad_config("notify: [{name: a, url: 'https://x.com/', backoff: 0, "
	    "events: [cert.issue]}]", "expected a duration");
	bad_config("notify: [{name: a, url: 'https://x.com/', bogus: 1, "
	    "events: [cert.issue]}]", "unknown key 'bogus'");
	bad_config("notify: [{name: a, url: 'https://e.com/', events: "
	    "[cert.issue]}, {name: a, url: 'https://e.com/', events: "
	    "[cert.issue]}]", "two endpoints are called 'a'");
	bad_config("notify: {name: a}", "expected a list");
	bad_config("public_url: http://jit.example.com", "must be https://");

	CHECK_INT(jit_notify_url_check("http://[::1]:8/x", 0, &lo, NULL, 0), 0);
	CHECK_INT(lo, 1);
	CHECK_INT(jit_notify_url_check("http://localhost/", 0, &lo, NULL, 0),
	    0);
	CHECK_INT(jit_notify_url_check("http://127.9.9.9/", 0, &lo, NULL, 0),
	    0);
	CHECK_INT(jit_notify_url_check("http://127.0.0.1.evil.com/", 0, &lo,
	    NULL, 0), -1);
	CHECK_INT(jit_notify_url_check("http://[::2]/", 0, &lo, NULL, 0), -1);
	CHECK_INT(jit_notify_url_check("https://[2001:db8::1]:443/x", 0, &lo,
	    NULL, 0), 0);
	CHECK_INT(lo, 0);
	CHECK_INT(jit_notify_url_check("smtps://mail.example.com:465", 1, &lo,
	    NULL, 0), 0);
	CHECK_INT(jit_notify_url_check("https://x.com/", 1, &lo, NULL, 0), -1);
}

static void
test_email(void)
{
	struct jit_policy *p = NULL;
	struct jit_policy_error pe;
	static const char bad[] = "users:\n  a: {email: 'a@b'}\nroles: {}\n";
	static const char bad_addr[] =
	    "users:\n  a: {email: 'a b@c.d'}\nroles: {}\n";

	CHECK_INT(jit_check_email("a.b+c@example.com", NULL, 0), 0);
	CHECK_INT(jit_check_email("x@localhost", NULL, 0), 0);
	CHECK_INT(jit_check_email("@example.com", NULL, 0), -1);
	CHECK_INT(jit_check_email("a@", NULL, 0), -1);
	CHECK_INT(jit_check_email("a@b..c", NULL, 0), -1);
	CHECK_INT(jit_check_email("a@b.c.", NULL, 0), -1);
	CHECK_INT(jit_check_email("a b@c.d", NULL, 0), -1);
	CHECK_INT(jit_check_email("a@c.d\r\nBcc: x@y.z", NULL, 0), -1);
	CHECK_INT(jit_check_email("<a@c.d>", NULL, 0), -1);
	CHECK_INT(jit_check_email("a,b@c.d", NULL, 0), -1);
	CHECK_INT(jit_check_email("a@b@c.d", NULL, 0), -1);

	REQUIRE_OK(jit_policy_load_mem("p", policy_yaml, sizeof(policy_yaml) - 1,
	    &p, &pe));
	CHECK_STR(jit_policy_user_email(p, "bob"), "bob@example.com");
	CHECK(jit_policy_user_email(p, "gina") == NULL);
	CHECK(jit_policy_user_email(p, "nobody") == NULL);
	jit_policy_free(p);
	p = NULL;
	CHECK(jit_policy_load_mem("p", bad_addr, sizeof(bad_addr) - 1, &p,
	    &pe) != 0);
	CHECK(strstr(pe.message, "invalid email address") != NULL);
	CHECK_STR(pe.field, "users.a.email");
	jit_policy_free(p);
	p = NULL;
	CHECK_INT(jit_policy_load_mem("p", bad, sizeof(bad) - 1, &p, &pe), 0);
	CHECK_STR(jit_policy_user_email(p, "a"), "a@b");
	jit_policy_free(p);
}

/* ---- the outbox ----------------------------------------------------------- */

struct collect {
	char what[512];
};

static int
collect_cb(const char *endpoint, uint64_t seq, enum jit_outbox_state st,
    json_t *rec, void *ctx)
{
	struct collect *c = ctx;
	size_t n = strlen(c->what);

	snprintf(c->what + n, sizeof(c->what) - n, "%s%s/%llu/%s/%lld",
	    n > 0 ? " " : "", endpoint, (unsigned long long)seq,
	    st == JIT_OUTBOX_FAILED ? "f" : "q",
	    (long long)json_integer_value(json_object_get(rec, "k")));
	return 0;
}

static int
outbox_fill(struct jit_store_txn *t, void *ctx)
{
	static const struct { const char *ep; int k; uint64_t created; } e[] = {
		{ "a", 1, 300 }, { "b", 2, 100 }, { "a", 3, 200 },
		{ "a", 4, 400 },
	};
	uint64_t seq;
	int r;

	(void)ctx;
	for (size_t i = 0; i < 4; i++) {
		json_t *rec = json_pack("{s:i, s:I}", "k", e[i].k,
		    "created_at", (json_int_t)e[i].created);

		r = jit_store_outbox_add(t, e[i].ep, rec, &seq);
		json_decref(rec);
		if (r != 0)
			return r;
		if (seq != i + 1)
			return JIT_ERR_INTERNAL;
	}
	return 0;
}

struct ob_ctx {
	const char *ep;
	uint64_t seq;
	json_t *rec;
	struct jit_outbox_stats st;
	struct collect c;
	int failed_only;
};

static int
ob_first(struct jit_store_txn *t, void *vctx)
{
	struct ob_ctx *o = vctx;

	json_decref(o->rec);
	o->rec = NULL;
	return jit_store_outbox_first(t, o->ep, &o->seq, &o->rec);
}

static int
ob_fail(struct jit_store_txn *t, void *vctx)
{
	struct ob_ctx *o = vctx;

	return jit_store_outbox_put(t, o->ep, o->seq, JIT_OUTBOX_FAILED,
	    o->rec);
}

static int
ob_requeue(struct jit_store_txn *t, void *vctx)
{
	struct ob_ctx *o = vctx;

	return jit_store_outbox_put(t, o->ep, o->seq, JIT_OUTBOX_QUEUED,
	    o->rec);
}

static int
ob_done(struct jit_store_txn *t, void *vctx)
{
	struct ob_ctx *o = vctx;

	return jit_store_outbox_done(t, o->ep, o->seq);
}

static int
ob_list(struct jit_store_txn *t, void *vctx)
{
	struct ob_ctx *o = vctx;
	int r;

	memset(&o->c, 0, sizeof(o->c));
	if ((r = jit_store_outbox_list(t, o->failed_only, collect_cb,
	    &o->c)) != 0)
		return r;
	return jit_store_outbox_stats(t, &o->st);
}

static void
test_outbox(void)
{
	char *d = store_dir_new("outbox");
	struct jit_store *s = NULL;
	struct ob_ctx o;

	memset(&o, 0, sizeof(o));
	REQUIRE_OK(test_store_open(d, 0, &s));
	REQUIRE_OK(jit_store_write(s, outbox_fill, NULL));
	REQUIRE_OK(jit_store_read(s, ob_list, &o));
	CHECK_STR(o.c.what, "a/1/q/1 a/3/q/3 a/4/q/4 b/2/q/2");
	CHECK_U64(o.st.queued, 4);
	CHECK_U64(o.st.oldest, 100);
	o.ep = "a";
	REQUIRE_OK(jit_store_read(s, ob_first, &o));
	CHECK_U64(o.seq, 1);
	CHECK_INT(json_integer_value(json_object_get(o.rec, "k")), 1);
	/* Failed: no longer first, listed after the queued ones. */
	REQUIRE_OK(jit_store_write(s, ob_fail, &o));
	REQUIRE_OK(jit_store_read(s, ob_first, &o));
	CHECK_U64(o.seq, 3);
	REQUIRE_OK(jit_store_read(s, ob_list, &o));
	CHECK_STR(o.c.what, "a/3/q/3 a/4/q/4 b/2/q/2 a/1/f/1");
	CHECK_U64(o.st.queued, 3);
	CHECK_U64(o.st.failed, 1);
	o.failed_only = 1;
	REQUIRE_OK(jit_store_read(s, ob_list, &o));
	CHECK_STR(o.c.what, "a/1/f/1");
	/* Delivered: gone and counted. */
	REQUIRE_OK(jit_store_write(s, ob_done, &o));
	CHECK_INT(jit_store_write(s, ob_done, &o), JIT_ERR_NOT_FOUND);
	o.failed_only = 0;
	REQUIRE_OK(jit_store_read(s, ob_list, &o));
	CHECK_STR(o.c.what, "a/4/q/4 b/2/q/2 a/1/f/1");
	CHECK_U64(o.st.delivered, 1);
	CHECK_U64(o.st.oldest, 100);
	/* Queued again: first once more (order is by sequence). */
	o.seq = 1;
	json_decref(o.rec);
	o.rec = json_pack("{s:i, s:I}", "k", 1, "created_at", (json_int_t)300);
	REQUIRE_OK(jit_store_write(s, ob_requeue, &o));
	REQUIRE_OK(jit_store_read(s, ob_first, &o));
	CHECK_U64(o.seq, 1);
	o.ep = "c";
	CHECK_INT(jit_store_read(s, ob_first, &o), JIT_ERR_NOT_FOUND);
	o.seq = 9;
	o.rec = json_object();
	CHECK_INT(jit_store_write(s, ob_requeue, &o), JIT_ERR_NOT_FOUND);
	json_decref(o.rec);
	jit_store_close(s);
	/* A read-only open sees the same outbox. */
	REQUIRE_OK(test_store_open(d, JIT_STORE_READONLY, &s));
	memset(&o, 0, sizeof(o));
	REQUIRE_OK(jit_store_read(s, ob_list, &o));
	CHECK_STR(o.c.what, "a/1/q/1 a/4/q/4 b/2/q/2");
	jit_store_close(s);
	store_dir_remove(d);
}

/* ---- the hook ---------------------------------------------------------------- */

struct hook_fx {
	struct jit_notify *n;
	const struct jit_policy *p;
	int fail_after;          /* make the change fail after the hook */
};

static int
lc_hook(struct jit_store_txn *t, const struct jit_lc_event *ev, void *ctx)
{
	struct hook_fx *h = ctx;
	int r = jit_notify_hook(t, ev, h->p, h->n);

	return r == 0 && h->fail_after ? JIT_ERR_STORE_FULL : r;
}

struct entries {
	size_t n;
	json_t *all;             /* [{endpoint, record}] in list order */
};

static int
entries_cb(const char *endpoint, uint64_t seq, enum jit_outbox_state st,
    json_t *rec, void *ctx)
{
	struct entries *e = ctx;

	(void)seq;
	(void)st;
	e->n++;
	return json_array_append_new(e->all, json_pack("{s:s, s:O}",
	    "endpoint", endpoint, "record", rec));
}

static int
entries_fn(struct jit_store_txn *t, void *ctx)
{
	return jit_store_outbox_list(t, 0, entries_cb, ctx);
}

/* The entries now in s (json_decref .all). */
static struct entries
entries_of(struct jit_store *s)
{
	struct entries e = { 0, json_array() };

	REQUIRE_OK(jit_store_read(s, entries_fn, &e));
	return e;
}

/* The "to" of the entry of endpoint ep about event, as "a b". */
static const char *
to_of(const struct entries *e, const char *ep, const char *event)
{
	static char out[256];
	size_t i, k;
	json_t *x;

	out[0] = '\0';
	json_array_foreach(e->all, i, x) {
		json_t *rec = json_object_get(x, "record"), *to;

		if (strcmp(json_string_value(json_object_get(x, "endpoint")),
		    ep) != 0 || strcmp(json_string_value(json_object_get(rec,
		    "event")), event) != 0)
			continue;
		to = json_object_get(rec, "to");
		for (k = 0; k < json_array_size(to); k++) {
			size_t n = strlen(out);

			snprintf(out + n, sizeof(out) - n, "%s%s", k ? " " : "",
			    json_string_value(json_array_get(to, k)));
		}
		return out;
	}
	return NULL;
}

static json_t *
record_of(const struct entries *e, const char *ep, const char *event)
{
	size_t i;
	json_t *x;

	json_array_foreach(e->all, i, x) {
		json_t *rec = json_object_get(x, "record");

		if (strcmp(json_string_value(json_object_get(x, "endpoint")),
		    ep) == 0 && strcmp(json_string_value(json_object_get(rec,
		    "event")), event) == 0)
			return rec;
	}
	return NULL;
}

static void
test_hook(void)
{
	static const char cfg_yaml[] =
	    "public_url: https://jit.example.com\n"
	    "notify:\n"
	    "  - {name: chat, url: 'https://h.example.com/x', format: slack,\n"
	    "     events: [request.create, request.approve], roles: [ops]}\n"
	    "  - {name: hook, url: 'https://h.example.com/y',\n"
	    "     events: [request.create, request.deny]}\n"
	    "  - {name: mail, smtp: 'smtp://127.0.0.1', from: 'j@e.com',\n"
	    "     events: [request.create, request.approve, request.deny]}\n";
	char *d = store_dir_new("hook");
	struct jit_lifecycle_options lo;
	struct jit_notify_options no;
	struct jit_lifecycle *lc = NULL;
	struct jit_create_args a;
	struct jit_actor alice = { "alice", NULL, NULL, 0, NULL, 0 };
	struct jit_actor bob = { "bob", NULL, NULL, 0, NULL, 0 };
	struct jit_actor carol = { "carol", NULL, NULL, 0, NULL, 0 };
	struct jit_policy *p = NULL;
	struct jit_policy_error pe;
	struct jit_request *req = NULL;
	struct jit_store *s = NULL;
	struct jit_config c;
	struct hook_fx h;
	struct entries e;
	char *pub = NULL, err[256];
	json_t *rec, *payload;
	uint64_t now = jit_now();

	REQUIRE_OK(parse(cfg_yaml, &c, err, sizeof(err)));
	REQUIRE_OK(jit_policy_load_mem("p", policy_yaml,
	    sizeof(policy_yaml) - 1, &p, &pe));
	REQUIRE_OK(test_store_open(d, 0, &s));
	memset(&no, 0, sizeof(no));
	no.endpoints = c.notify;
	no.nendpoints = c.nnotify;
	no.public_url = c.public_url;
	no.store = s;
	memset(&h, 0, sizeof(h));
	REQUIRE_OK(jit_notify_new(&no, &h.n, err, sizeof(err)));
	h.p = p;
	memset(&lo, 0, sizeof(lo));
	lo.store = s;
	lo.ca = ca_key;
	lo.sign = jit_key_signer;
	lo.sign_ctx = ca_key;
	lo.hook = lc_hook;
	lo.hook_ctx = &h;
	REQUIRE_OK(jit_lifecycle_new(&lo, &lc));
	REQUIRE_OK(jit_key_format_public(ca_key, NULL, &pub));
	memset(&a, 0, sizeof(a));
	a.role = "ops";
	a.public_key = pub;
	a.reason = "INC-1 <!channel> & <http://x|y>";

	/* A change that rolls back after the hook leaves no entry. */
	h.fail_after = 1;
	CHECK_INT(jit_lc_create(lc, p, &alice, &a, now, NULL, NULL),
	    JIT_ERR_STORE_FULL);
	e = entries_of(s);
	CHECK_INT(e.n, 0);
	json_decref(e.all);
	h.fail_after = 0;

	REQUIRE_OK(jit_lc_create(lc, p, &alice, &a, now, &req, NULL));
	e = entries_of(s);
	CHECK_INT(e.n, 3);
	/* The approvers with an address; not gina (none), not alice. */
	CHECK_STR(to_of(&e, "mail", "request.create"),
	    "bob@example.com dave@example.com");
	rec = record_of(&e, "chat", "request.create");
	REQUIRE(rec != NULL);
	CHECK(json_object_get(rec, "to") == NULL);
	CHECK_STR(json_string_value(json_object_get(rec, "request")), req->id);
	payload = json_object_get(rec, "payload");
	CHECK(json_object_get(json_object_get(payload, "request"),
	    "public_key") == NULL);
	CHECK_STR(json_string_value(json_object_get(payload, "actor")),
	    "alice");
	{
		char link[128];

		snprintf(link, sizeof(link), "https://jit.example.com/r/%s",
		    req->id);
		CHECK_STR(json_string_value(json_object_get(payload, "link")),
		    link);
	}
	CHECK(strncmp(json_string_value(json_object_get(rec, "id")), "n-",
	    2) == 0);
	CHECK(strcmp(json_string_value(json_object_get(rec, "id")),
	    json_string_value(json_object_get(record_of(&e, "hook",
	    "request.create"), "id"))) != 0);

	/* Renderings of that entry. */
	{
		char *body = NULL;
		size_t len = 0;
		json_t *j;

		REQUIRE_OK(notify_render(&c.notify[0], rec, &body, &len));
		CHECK(strstr(body, "&lt;!channel&gt; &amp; &lt;http://x|y&gt;")
		    != NULL);
		CHECK(strstr(body, "<!channel>") == NULL);
		CHECK(strstr(body, "<https://jit.example.com/r/") != NULL);
		free(body);
		REQUIRE_OK(notify_render(&c.notify[1], rec, &body, &len));
		j = json_loads(body, 0, NULL);
		REQUIRE(j != NULL);
		CHECK_STR(json_string_value(json_object_get(j, "id")),
		    json_string_value(json_object_get(rec, "id")));
		CHECK_STR(json_string_value(json_object_get(j, "event")),
		    "request.create");
		CHECK_STR(json_string_value(json_object_get(json_object_get(j,
		    "request"), "reason")), a.reason);
		json_decref(j);
		free(body);
		REQUIRE_OK(notify_render(&c.notify[2], record_of(&e, "mail",
		    "request.create"), &body, &len));
		{
			static const char head[] = "From: j@e.com\r\nTo: "
			    "bob@example.com,\r\n dave@example.com\r\n"
			    "Subject: [jit-ssh] ";

			CHECK(strncmp(body, head, sizeof(head) - 1) == 0);
		}
		CHECK(strstr(body, "\r\n\r\nalice requests ops") != NULL);
		CHECK(strstr(body, "Reason: INC-1 <!channel>") != NULL);
		free(body);
	}
	json_decref(e.all);

	/* Approval: the requester hears (chat: role ops; hook: no). */
	REQUIRE_OK(jit_lc_decide(lc, p, &bob, req->id, JIT_APPROVE, "ok", now,
	    NULL, NULL));
	jit_request_free(req);
	req = NULL;
	e = entries_of(s);
	CHECK_INT(e.n, 5);
	CHECK_STR(to_of(&e, "mail", "request.approve"), "alice@example.com");
	CHECK(record_of(&e, "chat", "request.approve") != NULL);
	CHECK(record_of(&e, "hook", "request.approve") == NULL);
	json_decref(e.all);

	/* Another role: chat (roles: [ops]) hears nothing; carol's
	 * approvers include alice (dev) but not carol herself. */
	a.role = "staging";
	a.reason = NULL;
	REQUIRE_OK(jit_lc_create(lc, p, &carol, &a, now, NULL, NULL));
	e = entries_of(s);
	CHECK_INT(e.n, 7);
	{
		json_t *x, *last = NULL;
		size_t i;

		json_array_foreach(e.all, i, x)
			if (strcmp(json_string_value(json_object_get(x,
			    "endpoint")), "mail") == 0)
				last = json_object_get(x, "record");
		REQUIRE(last != NULL);
		CHECK_STR(json_string_value(json_object_get(last, "event")),
		    "request.create");
		CHECK_INT(json_array_size(json_object_get(last, "to")), 3);
	}
	json_decref(e.all);

	jit_lifecycle_free(lc);
	jit_notify_free(h.n);
	jit_store_close(s);
	store_dir_remove(d);
	jit_policy_free(p);
	jit_config_release(&c);
	free(pub);
}

/* ---- signature and backoff ------------------------------------------------ */

static void
test_sign(void)
{
	static const unsigned char key[] = "sekrit";
	static const char body[] = "{\"id\":\"n-x\"}";
	unsigned char mac[32];
	unsigned maclen = 0;
	char sig[NOTIFY_SIG_LEN], want[NOTIFY_SIG_LEN], hex[65],
	    msg[64];

	REQUIRE_OK(notify_sign(key, 6, 1700000000, body, strlen(body), sig));
	snprintf(msg, sizeof(msg), "1700000000.%s", body);
	REQUIRE(HMAC(EVP_sha256(), key, 6, (const unsigned char *)msg,
	    strlen(msg), mac, &maclen) != NULL);
	jit_hex(mac, maclen, hex);
	snprintf(want, sizeof(want), "t=1700000000,v1=%s", hex);
	CHECK_STR(sig, want);

	for (uint64_t n = 1; n <= 20; n++) {
		uint64_t full = n > 12 ? 3600000 : 1000ull << (n - 1), ms;

		if (full > 3600000)
			full = 3600000;
		ms = notify_backoff_ms(1, n);
		CHECK(ms >= full / 2 && ms <= full);
	}
	CHECK(notify_backoff_ms(7200, 5) <= 7200000);
	CHECK(notify_backoff_ms(7200, 5) >= 3600000);
}

int
main(void)
{
	REQUIRE_OK(jit_key_generate(JIT_KEY_ED25519, 0, &ca_key));
	test_config();
	test_email();
	test_outbox();
	test_hook();
	test_sign();
	jit_key_free(ca_key);
	TEST_DONE();
}
