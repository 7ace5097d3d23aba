/*
 * test-store.c - the store on the backend under test (test-store-open.h):
 * requests and indexes, the deadline index, serials, certs, tokens, group
 * commit, change notification, durability (reopen, kill -9), copying
 * (with the outbox); LMDB's schema 1 rewrite, locking and map full;
 * PostgreSQL's schema migration, two nodes on one database, reconnecting.
 * The outbox's own contract is tested in test-notify.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <lmdb.h>

#include "audit.h"
#include "err.h"
#include "store.h"
#include "test.h"
#include "test-files.h"
#include "test-store-open.h"

/* What a write gets for a key that exists (a request id, a serial):
 * LMDB's CONFLICT, or on PostgreSQL, which finds it only as the batch
 * commits, the whole batch's STORE_RETRY (store.h). */
#define TAKEN_KEY (test_pg_url() != NULL ? JIT_ERR_STORE_RETRY : \
	JIT_ERR_CONFLICT)
#include "test-pg-sql.h"
#include "util.h"

/* ---- helpers ------------------------------------------------------------- */
/* Out of memory on demand (glibc, without a sanitizer's allocator): the
 * next malloc of exactly malloc_fail_size bytes fails. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_NO_MALLOC_HOOK 1
#endif
#endif
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__) && \
	!defined(TEST_NO_MALLOC_HOOK)
#include <stdatomic.h>
#define TEST_MALLOC_FAIL 1
extern void *__libc_malloc(size_t);
static atomic_size_t malloc_fail_size;

void *
malloc(size_t n)
{
	size_t want = n;

	if (n != 0 && atomic_compare_exchange_strong(&malloc_fail_size,
	    &want, 0))
		return NULL;
	return __libc_malloc(n);
}

/* 1 if malloc above is the one called (not under valgrind, say). */
static int
malloc_fails_on_demand(void)
{
	void *volatile p;

	atomic_store(&malloc_fail_size, 12345);
	p = malloc(12345);
	atomic_store(&malloc_fail_size, 0);
	free(p);
	return p == NULL;
}
#endif


static json_t *
mkreq(const char *user, const char *state, const char *role)
{
	char now[JIT_TIME_LEN];

	jit_format_time(jit_now(), now);
	return json_pack("{s:s, s:s, s:s, s:s, s:i, s:[]}", "user", user,
	    "state", state, "role", role, "created_at", now, "duration", 3600,
	    "approvals");
}

/* Create one request (and its audit entry) in its own write. */
struct create_ctx {
	json_t *req;
	uint64_t seq;
	uint64_t deadline;  /* passed to jit_store_create_request */
};

static int
create_fn(struct jit_store_txn *t, void *ctx)
{
	struct create_ctx *c = ctx;
	json_t *a;
	int r;

	if ((r = jit_store_create_request(t, c->req, c->deadline, &c->seq))
	    != 0)
		return r;
	a = json_pack("{s:s, s:s, s:s}", "event", "request.create", "actor",
	    json_string_value(json_object_get(c->req, "user")), "request",
	    json_string_value(json_object_get(c->req, "id")));
	r = jit_audit_append(t, a, NULL, NULL);
	json_decref(a);
	return r;
}

/* A request with the deadline given (the caller's, not the store's). */
static char *
create_dl(struct jit_store *s, const char *user, const char *state,
    uint64_t deadline)
{
	struct create_ctx c = { mkreq(user, state, "prod-db"), 0, deadline };
	char *id = NULL;

	CHECK_OK(jit_store_write(s, create_fn, &c));
	id = jit_strdup(json_string_value(json_object_get(c.req, "id")));
	json_decref(c.req);
	return id;
}

/* A request without a deadline. */
static char *
create(struct jit_store *s, const char *user, const char *state)
{
	return create_dl(s, user, state, 0);
}

/* Put request id back with deadline, and with state if not NULL. */
struct put_dl_ctx {
	const char *id;
	const char *state;
	uint64_t deadline;
};

static int
put_dl_fn(struct jit_store_txn *t, void *ctx)
{
	struct put_dl_ctx *c = ctx;
	json_t *req;
	int r;

	if ((r = jit_store_get_request(t, c->id, &req, NULL)) != 0)
		return r;
	if (c->state != NULL)
		json_object_set_new(req, "state", json_string(c->state));
	r = jit_store_put_request(t, req, c->deadline);
	json_decref(req);
	return r;
}

struct collect {
	char ids[64][JIT_REQUEST_ID_LEN];
	uint64_t seqs[64];
	size_t n;
};

static int
collect_cb(json_t *req, uint64_t seq, void *ctx)
{
	struct collect *c = ctx;

	if (c->n >= 64)
		return JIT_ERR_INTERNAL;
	snprintf(c->ids[c->n], JIT_REQUEST_ID_LEN, "%s",
	    json_string_value(json_object_get(req, "id")));
	c->seqs[c->n++] = seq;
	return 0;
}

struct list_ctx {
	int which;  /* 0 state, 1 user, 2 all */
	const char *name;
	struct jit_store_list opt;
	struct collect *out;
};

static int
list_fn(struct jit_store_txn *t, void *ctx)
{
	struct list_ctx *c = ctx;

	c->out->n = 0;
	if (c->which == 0)
		return jit_store_list_by_state(t, c->name, &c->opt, collect_cb,
		    c->out);
	if (c->which == 1)
		return jit_store_list_by_user(t, c->name, &c->opt, collect_cb,
		    c->out);
	return jit_store_list_all(t, &c->opt, collect_cb, c->out);
}

static size_t
list(struct jit_store *s, int which, const char *name, uint64_t after,
    size_t limit, int desc, struct collect *out)
{
	struct list_ctx c = { which, name, { after, limit, desc }, out };

	CHECK_OK(jit_store_read(s, list_fn, &c));
	return out->n;
}

/* ---- requests and indexes ------------------------------------------------ */

static void
test_requests(void)
{
	char *sdir = store_dir_new("store");
	struct jit_store *s;
	struct collect c;
	struct put_dl_ctx sc = { NULL, NULL, 0 };
	char *id1, *id2, *id3;
	json_t *req;
	uint64_t seq;

	REQUIRE_OK(test_store_open(sdir, JIT_STORE_SERVER, &s));
	id1 = create(s, "alice", "pending");
	id2 = create(s, "bob", "pending");
	id3 = create(s, "alice", "pending");
	CHECK(strncmp(id1, "r-", 2) == 0 && strlen(id1) == 14);
	CHECK(strcmp(id1, id2) != 0);

	CHECK_OK(jit_store_load_request(s, id2, &req));
	CHECK_STR(json_string_value(json_object_get(req, "user")), "bob");
	CHECK_INT(json_integer_value(json_object_get(req, "duration")), 3600);
	json_decref(req);
	CHECK_INT(jit_store_load_request(s, "r-nosuchthing", &req),
	    JIT_ERR_NOT_FOUND);
	CHECK(req == NULL);

	/* Pending in creation order. */
	CHECK_INT(list(s, 0, "pending", 0, 0, 0, &c), 3);
	CHECK_STR(c.ids[0], id1);
	CHECK_STR(c.ids[1], id2);
	CHECK_STR(c.ids[2], id3);
	CHECK_U64(c.seqs[0], 1);
	CHECK_U64(c.seqs[2], 3);

	/* Approve id1: it leaves the pending index, joins approved. */
	sc.id = id1;
	sc.state = "approved";
	CHECK_OK(jit_store_write(s, put_dl_fn, &sc));
	CHECK_INT(list(s, 0, "pending", 0, 0, 0, &c), 2);
	CHECK_STR(c.ids[0], id2);
	CHECK_STR(c.ids[1], id3);
	CHECK_INT(list(s, 0, "approved", 0, 0, 0, &c), 1);
	CHECK_STR(c.ids[0], id1);
	/* A state name that is a prefix of another matches nothing. */
	CHECK_INT(list(s, 0, "pend", 0, 0, 0, &c), 0);
	CHECK_INT(list(s, 0, "approve", 0, 0, 0, &c), 0);

	sc.id = id2;
	CHECK_OK(jit_store_write(s, put_dl_fn, &sc));
	sc.id = id3;
	CHECK_OK(jit_store_write(s, put_dl_fn, &sc));
	CHECK_INT(list(s, 0, "pending", 0, 0, 0, &c), 0);
	CHECK_INT(list(s, 0, "approved", 0, 0, 0, &c), 3);

	/* The user index is untouched by state changes. */
	CHECK_INT(list(s, 1, "alice", 0, 0, 0, &c), 2);
	CHECK_STR(c.ids[0], id1);
	CHECK_STR(c.ids[1], id3);
	CHECK_INT(list(s, 1, "bob", 0, 0, 0, &c), 1);
	CHECK_INT(list(s, 1, "carol", 0, 0, 0, &c), 0);

	/* Updating an unknown request is NOT_FOUND, not a create. */
	sc.id = "r-aaaaaaaaaaaa";
	CHECK_INT(jit_store_write(s, put_dl_fn, &sc), JIT_ERR_NOT_FOUND);

	jit_store_close(s);

	/* Reopen: everything is still there, seq continues. */
	REQUIRE_OK(test_store_open(sdir, JIT_STORE_SERVER, &s));
	CHECK_INT(list(s, 0, "approved", 0, 0, 0, &c), 3);
	CHECK_INT(list(s, 2, NULL, 0, 0, 0, &c), 3);
	{
		struct create_ctx cc = { mkreq("dave", "pending", "x"), 0,
		    0 };

		CHECK_OK(jit_store_write(s, create_fn, &cc));
		CHECK_U64(cc.seq, 4);
		json_decref(cc.req);
	}
	{
		struct create_ctx cc = { mkreq("dave", "pending", "x"), 0,
		    0 };

		/* An explicit id that exists already is a CONFLICT (the
		 * batch's STORE_RETRY on PostgreSQL). */
		json_object_set_new(cc.req, "id", json_string(id1));
		CHECK_INT(jit_store_write(s, create_fn, &cc), TAKEN_KEY);
		json_decref(cc.req);
		/* A request without state or user is refused. */
		cc.req = json_pack("{s:s}", "user", "x");
		CHECK_INT(jit_store_write(s, create_fn, &cc),
		    JIT_ERR_INVALID_ARGUMENT);
		json_decref(cc.req);
	}
	CHECK_OK(jit_store_load_request(s, id3, &req));
	CHECK_STR(json_string_value(json_object_get(req, "state")), "approved");
	json_decref(req);
	(void)seq;
	jit_store_close(s);
	free(id1);
	free(id2);
	free(id3);
	store_dir_remove(sdir);
}

struct count_ctx {
	const char *state;
	uint64_t n;
};

static int
count_fn(struct jit_store_txn *t, void *ctx)
{
	struct count_ctx *c = ctx;

	return jit_store_count_by_state(t, c->state, &c->n);
}

static void
test_listing(void)
{
	char *sdir = store_dir_new("store");
	struct jit_store *s;
	struct collect c;
	struct count_ctx cc = { "pending", 0 };
	char *ids[20];

	REQUIRE_OK(test_store_open(sdir, 0, &s));
	for (int i = 0; i < 20; i++)
		ids[i] = create(s, i % 2 ? "bob" : "alice",
		    i % 3 ? "pending" : "denied");
	/* alice: 0 2 4 ... 18 */
	CHECK_INT(list(s, 1, "alice", 0, 0, 0, &c), 10);
	for (int i = 0; i < 10; i++)
		CHECK_STR(c.ids[i], ids[2 * i]);
	/* Newest first, limit 3. */
	CHECK_INT(list(s, 1, "alice", 0, 3, 1, &c), 3);
	CHECK_STR(c.ids[0], ids[18]);
	CHECK_STR(c.ids[1], ids[16]);
	CHECK_STR(c.ids[2], ids[14]);
	/* Next page: before the last seq seen. */
	CHECK_INT(list(s, 1, "alice", c.seqs[2], 3, 1, &c), 3);
	CHECK_STR(c.ids[0], ids[12]);
	CHECK_STR(c.ids[2], ids[8]);
	/* Ascending pages. */
	CHECK_INT(list(s, 1, "bob", 0, 4, 0, &c), 4);
	CHECK_STR(c.ids[3], ids[7]);
	CHECK_INT(list(s, 1, "bob", c.seqs[3], 100, 0, &c), 6);
	CHECK_STR(c.ids[0], ids[9]);
	CHECK_STR(c.ids[5], ids[19]);
	/* Last user in key order: descending from the end of the table. */
	CHECK_INT(list(s, 1, "bob", 0, 1, 1, &c), 1);
	CHECK_STR(c.ids[0], ids[19]);
	/* States: i % 3 == 0 denied (0,3,...,18 = 7), pending 13. */
	CHECK_INT(list(s, 0, "denied", 0, 0, 0, &c), 7);
	CHECK_STR(c.ids[6], ids[18]);
	CHECK_INT(list(s, 0, "pending", 0, 0, 1, &c), 13);
	CHECK_STR(c.ids[0], ids[19]);
	CHECK_STR(c.ids[12], ids[1]);
	CHECK_OK(jit_store_read(s, count_fn, &cc));
	CHECK_U64(cc.n, 13);
	/* All, descending from a cursor. */
	CHECK_INT(list(s, 2, NULL, 5, 0, 1, &c), 4);
	CHECK_STR(c.ids[0], ids[3]);
	CHECK_INT(list(s, 2, NULL, 18, 0, 0, &c), 2);
	CHECK_STR(c.ids[1], ids[19]);
	jit_store_close(s);
	for (int i = 0; i < 20; i++)
		free(ids[i]);
	store_dir_remove(sdir);
}

/* ---- the deadline index -------------------------------------------------- */

static void
put_dl(struct jit_store *s, const char *id, const char *state,
    uint64_t deadline)
{
	struct put_dl_ctx c = { id, state, deadline };

	CHECK_OK(jit_store_write(s, put_dl_fn, &c));
}

struct due_ctx {
	uint64_t now;
	struct collect *out;
};

static int
due_fn(struct jit_store_txn *t, void *ctx)
{
	struct due_ctx *c = ctx;

	c->out->n = 0;
	return jit_store_list_due(t, c->now, collect_cb, c->out);
}

static size_t
due(struct jit_store *s, uint64_t now, struct collect *out)
{
	struct due_ctx c = { now, out };

	CHECK_OK(jit_store_read(s, due_fn, &c));
	return out->n;
}

/* The stored value's header: be64(seq) || be64(deadline) || u8 len ||
 * state || u8 len || user, then the JSON (lmdb_int.h). */
struct raw_ctx {
	const char *id;
	void *raw;
	size_t len;
};

static int
raw_fn(struct jit_store_txn *t, void *ctx)
{
	struct raw_ctx *c = ctx;
	json_t *req;
	int r;

	r = jit_store_get_request_raw(t, c->id, &req, &c->raw, &c->len);
	json_decref(req);
	return r;
}

static void
check_header(struct jit_store *s, const char *id, uint64_t seq,
    uint64_t deadline, const char *state, const char *user)
{
	struct raw_ctx c = { id, NULL, 0 };
	const unsigned char *p;
	size_t sl = strlen(state), ul = strlen(user);
	uint64_t v[2] = { 0, 0 };

	CHECK_OK(jit_store_read(s, raw_fn, &c));
	if (test_pg_url() != NULL) {
		/* PostgreSQL's raw bytes are the row's columns, each
		 * followed by a NUL: seq, deadline, state, user, body. */
		char want[128];
		int n = snprintf(want, sizeof(want), "%llu%c%llu%c%s%c%s%c{",
		    (unsigned long long)seq, 0, (unsigned long long)deadline,
		    0, state, 0, user, 0);

		REQUIRE(n > 0 && c.raw != NULL && c.len > (size_t)n);
		CHECK_MEM(c.raw, want, (size_t)n);
		free(c.raw);
		return;
	}
	REQUIRE(c.raw != NULL && c.len > 18 + sl + ul);
	p = c.raw;
	for (int i = 0; i < 16; i++)
		v[i / 8] = (v[i / 8] << 8) | p[i];
	CHECK_U64(v[0], seq);
	CHECK_U64(v[1], deadline);
	CHECK_INT(p[16], sl);
	CHECK_MEM(p + 17, state, sl);
	CHECK_INT(p[17 + sl], ul);
	CHECK_MEM(p + 18 + sl, user, ul);
	CHECK_INT(p[18 + sl + ul], '{');
	free(c.raw);
}

static void
test_due(void)
{
	char *sdir = store_dir_new("store");
	struct jit_store *s;
	struct collect c;
	char *a, *b, *d, *e, *f;

	REQUIRE_OK(test_store_open(sdir, JIT_STORE_SERVER, &s));
	a = create_dl(s, "alice", "pending", 300);
	b = create_dl(s, "bob", "pending", 100);
	d = create_dl(s, "carol", "approved", 200);
	/* The state does not decide: a state the lifecycle never gives a
	 * deadline is due by the value passed, a pending one without a
	 * deadline is not (mkreq sets no expires_at either way). */
	e = create_dl(s, "dave", "denied", 200);
	f = create_dl(s, "erin", "pending", 0);
	check_header(s, a, 1, 300, "pending", "alice");
	check_header(s, f, 5, 0, "pending", "erin");

	/* Earliest first; equal deadlines in creation order. */
	CHECK_INT(due(s, 99, &c), 0);
	CHECK_INT(due(s, 100, &c), 1);
	CHECK_STR(c.ids[0], b);
	CHECK_U64(c.seqs[0], 2);
	CHECK_INT(due(s, 250, &c), 3);
	CHECK_STR(c.ids[0], b);
	CHECK_STR(c.ids[1], d);
	CHECK_STR(c.ids[2], e);
	CHECK_INT(due(s, UINT64_MAX, &c), 4);
	CHECK_STR(c.ids[3], a);

	/* The index follows the deadline passed to put: 0 drops b from the
	 * due list although it is still pending... */
	put_dl(s, b, NULL, 0);
	CHECK_INT(due(s, UINT64_MAX, &c), 3);
	CHECK_STR(c.ids[0], d);
	CHECK_STR(c.ids[1], e);
	CHECK_STR(c.ids[2], a);
	check_header(s, b, 2, 0, "pending", "bob");
	/* ...a new value moves a request (a: 300 -> 50)... */
	put_dl(s, a, NULL, 50);
	CHECK_INT(due(s, 60, &c), 1);
	CHECK_STR(c.ids[0], a);
	/* ...a state change keeps whatever deadline the caller passes... */
	put_dl(s, d, "revoked", 200);
	CHECK_INT(due(s, 200, &c), 3);
	CHECK_STR(c.ids[1], d);
	check_header(s, d, 3, 200, "revoked", "carol");
	/* ...and a deadline can be given to one that had none. */
	put_dl(s, f, NULL, 10);
	CHECK_INT(due(s, 10, &c), 1);
	CHECK_STR(c.ids[0], f);
	jit_store_close(s);

	/* The index is durable. */
	REQUIRE_OK(test_store_open(sdir, JIT_STORE_READONLY, &s));
	CHECK_INT(due(s, UINT64_MAX, &c), 4);
	CHECK_STR(c.ids[0], f);
	CHECK_STR(c.ids[1], a);
	CHECK_STR(c.ids[2], d);
	CHECK_STR(c.ids[3], e);
	jit_store_close(s);
	free(a);
	free(b);
	free(d);
	free(e);
	free(f);
	store_dir_remove(sdir);
}

/* ---- schema 1 -> 2 ------------------------------------------------------- */

/* One schema 1 request: requests id -> be64(seq) || JSON, and its index
 * entries. */
static void
v1_put(MDB_txn *txn, const MDB_dbi *db, uint64_t seq, const char *id,
    const char *state, const char *user, const char *extra)
{
	unsigned char v[512], k[256];
	MDB_val key, val;
	size_t n, sl = strlen(state), ul = strlen(user);
	int len;

	for (int i = 0; i < 8; i++)
		v[i] = (unsigned char)(seq >> (56 - 8 * i));
	len = snprintf((char *)v + 8, sizeof(v) - 8,
	    "{\"id\":\"%s\",\"state\":\"%s\",\"user\":\"%s\"%s}", id, state,
	    user, extra);
	REQUIRE(len > 0 && (size_t)len < sizeof(v) - 8);
	key.mv_data = (void *)id;
	key.mv_size = strlen(id);
	val.mv_data = v;
	val.mv_size = 8 + (size_t)len;
	REQUIRE(mdb_put(txn, db[0], &key, &val, 0) == 0);
	val = key;
	memcpy(k, v, 8);  /* be64(seq) */
	key.mv_data = k;
	key.mv_size = 8;
	REQUIRE(mdb_put(txn, db[3], &key, &val, 0) == 0);
	for (int which = 1; which <= 2; which++) {
		const char *name = which == 1 ? state : user;

		n = which == 1 ? sl : ul;
		memcpy(k, name, n);
		k[n] = '\0';
		memcpy(k + n + 1, v, 8);
		key.mv_size = n + 9;
		REQUIRE(mdb_put(txn, db[which], &key, &val, 0) == 0);
	}
}

/* A store as schema 1 wrote it, made with LMDB directly: the test has to
 * forge the old format, which the store no longer writes. */
static void
make_v1_store(const char *sdir)
{
	static const char *const names[] = { "requests", "by_state",
	    "by_user", "by_seq", "certs", "tokens", "token_ids", "values",
	    "audit", "meta" };
	unsigned char one[8] = { 0, 0, 0, 0, 0, 0, 0, 1 };
	unsigned char five[8] = { 0, 0, 0, 0, 0, 0, 0, 5 };
	MDB_dbi db[10];
	MDB_env *env;
	MDB_txn *txn;
	MDB_val k, v;

	REQUIRE(mdb_env_create(&env) == 0);
	REQUIRE(mdb_env_set_maxdbs(env, 16) == 0);
	REQUIRE(mdb_env_open(env, sdir, 0, 0600) == 0);
	REQUIRE(mdb_txn_begin(env, NULL, 0, &txn) == 0);
	for (int i = 0; i < 10; i++)
		REQUIRE(mdb_dbi_open(txn, names[i], MDB_CREATE, &db[i]) == 0);
	v1_put(txn, db, 1, "r-pendingpast", "pending", "alice",
	    ",\"expires_at\":\"2020-01-01T00:00:00Z\"");
	v1_put(txn, db, 2, "r-approvedbob", "approved", "bob",
	    ",\"not_after\":\"2030-01-01T00:00:00Z\","
	    "\"expires_at\":\"2020-01-01T00:00:00Z\"");
	v1_put(txn, db, 3, "r-deniedalice", "denied", "alice",
	    ",\"expires_at\":\"2020-01-01T00:00:00Z\"");
	v1_put(txn, db, 4, "r-pendingnone", "pending", "carol", "");
	k.mv_data = "schema";
	k.mv_size = 6;
	v.mv_data = one;
	v.mv_size = 8;
	REQUIRE(mdb_put(txn, db[9], &k, &v, 0) == 0);
	k.mv_data = "next_request_seq";
	k.mv_size = 16;
	v.mv_data = five;
	REQUIRE(mdb_put(txn, db[9], &k, &v, 0) == 0);
	REQUIRE(mdb_txn_commit(txn) == 0);
	mdb_env_close(env);
}

static void
test_migrate_v1(void)
{
	char *sdir = store_dir_new("store");
	struct jit_store *s;
	struct collect c;
	json_t *req;
	uint64_t t2020, t2030;
	char *id;

	REQUIRE_OK(jit_parse_time("2020-01-01T00:00:00Z", &t2020));
	REQUIRE_OK(jit_parse_time("2030-01-01T00:00:00Z", &t2030));
	make_v1_store(sdir);

	/* Read-only, it is read as it is: no deadline index yet. */
	REQUIRE_OK(jit_store_open(sdir, JIT_STORE_READONLY, &s));
	CHECK_INT(list(s, 0, "pending", 0, 0, 0, &c), 2);
	CHECK_STR(c.ids[0], "r-pendingpast");
	CHECK_INT(due(s, UINT64_MAX, &c), 0);
	CHECK_OK(jit_store_load_request(s, "r-approvedbob", &req));
	CHECK_STR(json_string_value(json_object_get(req, "user")), "bob");
	json_decref(req);
	jit_store_close(s);

	/* For writing, it is rewritten; the deadlines of old data follow
	 * the rule it was written under (pending: expires_at, approved:
	 * not_after, others none). */
	REQUIRE_OK(jit_store_open(sdir, JIT_STORE_SERVER, &s));
	CHECK_INT(due(s, UINT64_MAX, &c), 2);
	CHECK_STR(c.ids[0], "r-pendingpast");
	CHECK_U64(c.seqs[0], 1);
	CHECK_STR(c.ids[1], "r-approvedbob");
	CHECK_INT(due(s, t2030 - 1, &c), 1);
	check_header(s, "r-pendingpast", 1, t2020, "pending", "alice");
	check_header(s, "r-approvedbob", 2, t2030, "approved", "bob");
	check_header(s, "r-deniedalice", 3, 0, "denied", "alice");
	check_header(s, "r-pendingnone", 4, 0, "pending", "carol");
	CHECK_INT(list(s, 1, "alice", 0, 0, 0, &c), 2);
	CHECK_STR(c.ids[1], "r-deniedalice");
	CHECK_OK(jit_store_load_request(s, "r-pendingnone", &req));
	CHECK_STR(json_string_value(json_object_get(req, "user")), "carol");
	json_decref(req);
	/* After the rewrite only the caller's deadline counts. */
	put_dl(s, "r-approvedbob", NULL, 0);
	CHECK_INT(due(s, UINT64_MAX, &c), 1);
	id = create_dl(s, "dave", "pending", 7);
	check_header(s, id, 5, 7, "pending", "dave");
	CHECK_INT(due(s, UINT64_MAX, &c), 2);
	CHECK_STR(c.ids[0], id);
	jit_store_close(s);

	/* Written as schema 3: read-only now sees the deadline index. */
	REQUIRE_OK(jit_store_open(sdir, JIT_STORE_READONLY, &s));
	CHECK_INT(due(s, UINT64_MAX, &c), 2);
	CHECK_STR(c.ids[1], "r-pendingpast");
	jit_store_close(s);
	free(id);
	store_dir_remove(sdir);
}

/* ---- concurrency and group commit ---------------------------------------- */

#define NTHREADS 8
#define NPER 500

struct issue_ctx {
	uint64_t serial;
	char id[JIT_REQUEST_ID_LEN];
};

/* What the server does on issuance: serial, cert record, request update
 * and audit entry, all in one transaction. */
static int
issue_fn(struct jit_store_txn *t, void *ctx)
{
	struct issue_ctx *c = ctx;
	json_t *req, *rec, *a;
	int r;

	if ((r = jit_store_next_serial(t, &c->serial)) != 0)
		return r;
	req = mkreq("alice", "approved", "prod-db");
	json_object_set_new(req, "serial", json_integer((json_int_t)c->serial));
	if ((r = jit_store_create_request(t, req, 0, NULL)) != 0) {
		json_decref(req);
		return r;
	}
	snprintf(c->id, sizeof(c->id), "%s",
	    json_string_value(json_object_get(req, "id")));
	json_decref(req);
	rec = json_pack("{s:I, s:s, s:s}", "serial", (json_int_t)c->serial,
	    "request", c->id, "cert", "ssh-ed25519-cert-v01@openssh.com AAAA");
	r = jit_store_put_cert(t, c->serial, rec);
	json_decref(rec);
	if (r != 0)
		return r;
	a = json_pack("{s:s, s:s, s:s, s:I}", "event", "cert.issue", "actor",
	    "alice", "request", c->id, "serial", (json_int_t)c->serial);
	r = jit_audit_append(t, a, NULL, NULL);
	json_decref(a);
	return r;
}

struct worker {
	struct jit_store *s;
	uint64_t serials[NPER];
	char ids[NPER][JIT_REQUEST_ID_LEN];
	int errors;
};

static void *
worker_main(void *arg)
{
	struct worker *w = arg;

	for (int i = 0; i < NPER; i++) {
		struct issue_ctx c;

		if (jit_store_write(w->s, issue_fn, &c) != 0) {
			w->errors++;
			continue;
		}
		w->serials[i] = c.serial;
		memcpy(w->ids[i], c.id, sizeof(c.id));
	}
	return NULL;
}

struct check_ctx {
	struct worker *w;
	int missing;
	uint64_t audit_count;
	int audit_r;
};

static int
check_all_fn(struct jit_store_txn *t, void *ctx)
{
	struct check_ctx *c = ctx;

	for (int k = 0; k < NTHREADS; k++) {
		for (int i = 0; i < NPER; i++) {
			json_t *j = NULL;
			uint64_t sn = c->w[k].serials[i];

			if (jit_store_get_cert(t, sn, &j) != 0) {
				c->missing++;
				continue;
			}
			if (strcmp(json_string_value(json_object_get(j,
			    "request")), c->w[k].ids[i]) != 0)
				c->missing++;
			json_decref(j);
			if (jit_store_get_request(t, c->w[k].ids[i], &j, NULL)
			    != 0) {
				c->missing++;
				continue;
			}
			if ((uint64_t)json_integer_value(json_object_get(j,
			    "serial")) != sn)
				c->missing++;
			json_decref(j);
		}
	}
	c->audit_r = jit_audit_verify_store(t, &c->audit_count, NULL, NULL);
	return 0;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void
test_concurrent(void)
{
	char *sdir = store_dir_new("store");
	struct jit_store *s;
	struct worker *w = calloc(NTHREADS, sizeof(*w));
	pthread_t th[NTHREADS];
	uint64_t *all = calloc(NTHREADS * NPER, sizeof(uint64_t));
	struct jit_store_stats st;
	struct check_ctx cc = { 0 };
	uint64_t t0;
	int dup = 0;

	REQUIRE(w != NULL && all != NULL);
	REQUIRE_OK(test_store_open(sdir, JIT_STORE_SERVER, &s));
	t0 = jit_monotonic_ms();
	for (int k = 0; k < NTHREADS; k++) {
		w[k].s = s;
		REQUIRE(pthread_create(&th[k], NULL, worker_main, &w[k]) == 0);
	}
	for (int k = 0; k < NTHREADS; k++) {
		pthread_join(th[k], NULL);
		CHECK_INT(w[k].errors, 0);
	}
	jit_store_get_stats(s, &st);
	printf("concurrent: %d writes in %llu ms, %llu commits, max batch "
	    "%llu\n", NTHREADS * NPER,
	    (unsigned long long)(jit_monotonic_ms() - t0),
	    (unsigned long long)st.commits, (unsigned long long)st.max_batch);
	CHECK_U64(st.writes, NTHREADS * NPER);
	CHECK(st.commits <= st.writes);
	CHECK(st.max_batch > 1);  /* group commit happened */

	/* Serials: unique, 1..N with no gaps. */
	for (int k = 0; k < NTHREADS; k++)
		memcpy(all + k * NPER, w[k].serials, sizeof(w[k].serials));
	qsort(all, NTHREADS * NPER, sizeof(uint64_t), cmp_u64);
	for (int i = 0; i < NTHREADS * NPER; i++)
		if (all[i] != (uint64_t)i + 1)
			dup++;
	CHECK_INT(dup, 0);
	jit_store_close(s);

	/* After reopening: every cert, request and audit entry is there. */
	REQUIRE_OK(test_store_open(sdir, JIT_STORE_SERVER, &s));
	cc.w = w;
	CHECK_OK(jit_store_read(s, check_all_fn, &cc));
	CHECK_INT(cc.missing, 0);
	CHECK_OK(cc.audit_r);
	CHECK_U64(cc.audit_count, NTHREADS * NPER);
	jit_store_close(s);
	free(all);
	free(w);
	store_dir_remove(sdir);
}

/* A failing closure in the middle of a batch leaves no trace, and the
 * closures before it keep theirs. */
struct group_ctx {
	struct jit_store *s;
	int fail;
	int hold_ms;
	int result;
	struct issue_ctx ic;
};

static int
group_fn(struct jit_store_txn *t, void *ctx)
{
	struct group_ctx *g = ctx;
	int r;

	if (g->hold_ms > 0) {
		/* Hold the writer so the next callers queue into one batch. */
		struct timespec ts = { 0, g->hold_ms * 1000000L };

		nanosleep(&ts, NULL);
	}
	if ((r = issue_fn(t, &g->ic)) != 0)
		return r;
	if (g->fail) {
		/* Reads of every table first: on PostgreSQL they send the
		 * rows the closures before deferred (pg_defer.c) inside
		 * this closure's savepoint, which the failure undoes. */
		json_t *j = NULL;
		uint64_t n = 0;

		(void)jit_store_get_request(t, "none", &j, NULL);
		json_decref(j);
		j = NULL;
		(void)jit_store_get_value(t, "none", &j);
		json_decref(j);
		if ((r = jit_audit_verify_store(t, &n, NULL, NULL)) != 0)
			return r;
		return JIT_ERR_CONFLICT;
	}
	return 0;
}

static void *
group_main(void *arg)
{
	struct group_ctx *g = arg;

	g->result = jit_store_write(g->s, group_fn, g);
	return NULL;
}

/* An update of a request that is not there, with an audit entry: on
 * PostgreSQL the update is deferred to the batch's end (pg_defer.c),
 * where it must fail the whole batch, committing nothing. */
static int
put_missing_fn(struct jit_store_txn *t, void *ctx)
{
	json_t *req = mkreq("alice", "approved", "prod-db");
	json_t *a;
	int r;

	(void)ctx;
	json_object_set_new(req, "id", json_string("r-missing"));
	r = jit_store_put_request(t, req, 0);
	json_decref(req);
	if (r != 0)
		return r;
	a = json_pack("{s:s, s:s}", "event", "request.approve", "actor",
	    "alice");
	r = jit_audit_append(t, a, NULL, NULL);
	json_decref(a);
	return r;
}

static int
audit_count_fn(struct jit_store_txn *t, void *ctx)
{
	return jit_audit_verify_store(t, ctx, NULL, NULL);
}

static void
test_put_missing(void)
{
	char *sdir = store_dir_new("store");
	struct jit_store *s;
	uint64_t n = 0;

	REQUIRE_OK(test_store_open(sdir, 0, &s));
	CHECK(jit_store_write(s, put_missing_fn, NULL) != 0);
	CHECK_OK(jit_store_read(s, audit_count_fn, &n));
	CHECK_U64(n, 0);
	jit_store_close(s);
	store_dir_remove(sdir);
}

struct exist_ctx {
	const char *id;
	uint64_t serial;
	int req_r, cert_r;
	uint64_t audit_count;
	int audit_r;
};

static int
exist_fn(struct jit_store_txn *t, void *ctx)
{
	struct exist_ctx *e = ctx;
	json_t *j = NULL;

	e->req_r = jit_store_get_request(t, e->id, &j, NULL);
	json_decref(j);
	j = NULL;
	e->cert_r = e->serial ? jit_store_get_cert(t, e->serial, &j) :
	    JIT_ERR_NOT_FOUND;
	json_decref(j);
	e->audit_r = jit_audit_verify_store(t, &e->audit_count, NULL, NULL);
	return 0;
}

static void
test_group_failure(void)
{
	char *sdir = store_dir_new("store");
	struct jit_store *s;
	struct group_ctx g[6];
	pthread_t th[6];
	struct jit_store_stats st;
	struct exist_ctx e;
	uint64_t serials[6];
	int n = 0;

	REQUIRE_OK(test_store_open(sdir, 0, &s));
	memset(g, 0, sizeof(g));
	for (int i = 0; i < 6; i++) {
		g[i].s = s;
		g[i].fail = (i == 3);
		g[i].hold_ms = (i == 0) ? 200 : 0;
	}
	REQUIRE(pthread_create(&th[0], NULL, group_main, &g[0]) == 0);
	usleep(50000);  /* the writer is now inside g[0] */
	for (int i = 1; i < 6; i++)
		REQUIRE(pthread_create(&th[i], NULL, group_main, &g[i]) == 0);
	for (int i = 0; i < 6; i++)
		pthread_join(th[i], NULL);
	jit_store_get_stats(s, &st);
	CHECK_U64(st.commits, 2);      /* g[0] alone, then 1..5 together */
	CHECK_U64(st.max_batch, 5);
	CHECK_U64(st.writes_failed, 1);
	for (int i = 0; i < 6; i++) {
		CHECK_INT(g[i].result, i == 3 ? JIT_ERR_CONFLICT : 0);
		e.id = g[i].ic.id;
		e.serial = g[i].ic.serial;
		CHECK_OK(jit_store_read(s, exist_fn, &e));
		CHECK_INT(e.req_r, i == 3 ? JIT_ERR_NOT_FOUND : 0);
		if (i == 3) {
			/* Its serial may have been reused by a later
			 * closure; its request is gone either way. */
			continue;
		}
		CHECK_INT(e.cert_r, 0);
		serials[n++] = g[i].ic.serial;
	}
	/* LMDB hands the rolled-back closure's serial out again (the
	 * committed serials are exactly 1..5); PostgreSQL's sequence does
	 * not undo it (five distinct serials of 1..6). */
	qsort(serials, (size_t)n, sizeof(uint64_t), cmp_u64);
	for (int i = 0; i < n; i++) {
		if (test_pg_url() == NULL)
			CHECK_U64(serials[i], (uint64_t)i + 1);
		else
			CHECK(serials[i] <= 6 && (i == 0 ||
			    serials[i] > serials[i - 1]));
	}
	CHECK_OK(e.audit_r);
	CHECK_U64(e.audit_count, 5);
	jit_store_close(s);
	store_dir_remove(sdir);
}

/* ---- tokens and values --------------------------------------------------- */

struct tok_ctx {
	int step;
	unsigned char h1[JIT_TOKEN_HASH_LEN], h2[JIT_TOKEN_HASH_LEN];
	int n;
};

static int
tok_count_cb(const unsigned char hash[JIT_TOKEN_HASH_LEN], json_t *rec,
    void *ctx)
{
	struct tok_ctx *c = ctx;

	(void)hash;
	(void)rec;
	c->n++;
	return 0;
}

static int
tok_fn(struct jit_store_txn *t, void *ctx)
{
	struct tok_ctx *c = ctx;
	json_t *rec, *got = NULL;
	unsigned char h[JIT_TOKEN_HASH_LEN];
	int r;

	switch (c->step) {
	case 0:
		rec = json_pack("{s:s, s:s}", "id", "t-1", "user", "alice");
		r = jit_store_put_token(t, c->h1, rec);
		json_decref(rec);
		if (r != 0)
			return r;
		rec = json_pack("{s:s, s:s}", "id", "t-2", "user", "bob");
		r = jit_store_put_token(t, c->h2, rec);
		json_decref(rec);
		return r;
	case 1:
		/* Same id for another token: refused. */
		rec = json_pack("{s:s, s:s}", "id", "t-1", "user", "eve");
		r = jit_store_put_token(t, c->h2, rec);
		json_decref(rec);
		return r;
	case 2:
		if ((r = jit_store_get_token(t, c->h1, &got)) != 0)
			return r;
		r = strcmp(json_string_value(json_object_get(got, "user")),
		    "alice") == 0 ? 0 : JIT_ERR_INTERNAL;
		json_decref(got);
		if (r != 0)
			return r;
		if ((r = jit_store_get_token_by_id(t, "t-2", h, &got)) != 0)
			return r;
		json_decref(got);
		if (memcmp(h, c->h2, sizeof(h)) != 0)
			return JIT_ERR_INTERNAL;
		c->n = 0;
		return jit_store_list_tokens(t, tok_count_cb, c);
	case 3:
		return jit_store_revoke_token(t, "t-1");
	case 4:
		if ((r = jit_store_get_token(t, c->h1, &got)) != 0)
			return r;
		r = json_is_string(json_object_get(got, "revoked_at")) ? 0 :
		    JIT_ERR_INTERNAL;
		json_decref(got);
		return r;
	case 5:
		return jit_store_delete_token(t, "t-2");
	case 6:
		return jit_store_get_token(t, c->h2, &got);
	}
	return JIT_ERR_INTERNAL;
}

static void
test_tokens(void)
{
	char *sdir = store_dir_new("store");
	struct jit_store *s;
	struct tok_ctx c = { 0 };

	REQUIRE_OK(test_store_open(sdir, 0, &s));
	/* Stored token hashes are plain SHA-256 (FIPS 180-2's "abc"
	 * vector): tokens created by any version still authenticate. */
	jit_store_token_hash("abc", c.h1);
	CHECK(memcmp(c.h1, "\xba\x78\x16\xbf\x8f\x01\xcf\xea\x41\x41"
	    "\x40\xde\x5d\xae\x22\x23\xb0\x03\x61\xa3\x96\x17\x7a\x9c"
	    "\xb4\x10\xff\x61\xf2\x00\x15\xad", JIT_TOKEN_HASH_LEN) == 0);
	jit_store_token_hash("jit_secret_one", c.h1);
	jit_store_token_hash("jit_secret_two", c.h2);
	CHECK(memcmp(c.h1, c.h2, JIT_TOKEN_HASH_LEN) != 0);
	c.step = 0;
	CHECK_OK(jit_store_write(s, tok_fn, &c));
	c.step = 1;
	CHECK_INT(jit_store_write(s, tok_fn, &c), JIT_ERR_CONFLICT);
	c.step = 2;
	CHECK_OK(jit_store_read(s, tok_fn, &c));
	CHECK_INT(c.n, 2);
	c.step = 3;
	CHECK_OK(jit_store_write(s, tok_fn, &c));
	c.step = 4;
	CHECK_OK(jit_store_read(s, tok_fn, &c));
	c.step = 3;  /* revoking again is harmless */
	CHECK_OK(jit_store_write(s, tok_fn, &c));
	c.step = 5;
	CHECK_OK(jit_store_write(s, tok_fn, &c));
	c.step = 6;
	CHECK_INT(jit_store_read(s, tok_fn, &c), JIT_ERR_NOT_FOUND);
	c.step = 5;
	CHECK_INT(jit_store_write(s, tok_fn, &c), JIT_ERR_NOT_FOUND);
	/* Writes through a read snapshot are refused. */
	c.step = 0;
	CHECK_INT(jit_store_read(s, tok_fn, &c), JIT_ERR_PERMISSION);
	jit_store_close(s);
	store_dir_remove(sdir);
}

static int
value_put_fn(struct jit_store_txn *t, void *ctx)
{
	json_t *v = json_pack("{s:s, s:i}", "ca", "ssh-ed25519 AAAA", "n", 7);
	int r = jit_store_put_value(t, "ca.meta", v);

	json_decref(v);
	if (r == 0) {
		v = json_integer(42);
		r = jit_store_put_value(t, "answer", v);
		json_decref(v);
	}
	return r;
}

static int
value_get_fn(struct jit_store_txn *t, void *ctx)
{
	json_t *v;
	int r;

	if ((r = jit_store_get_value(t, "answer", &v)) != 0)
		return r;
	r = json_integer_value(v) == 42 ? 0 : JIT_ERR_INTERNAL;
	json_decref(v);
	if (r != 0)
		return r;
	if ((r = jit_store_get_value(t, "ca.meta", &v)) != 0)
		return r;
	r = json_integer_value(json_object_get(v, "n")) == 7 ? 0 :
	    JIT_ERR_INTERNAL;
	json_decref(v);
	if (r != 0)
		return r;
	return jit_store_get_value(t, "absent", &v);
}

/* One closure puts keys a, b, c several times over, without a read in
 * between (on PostgreSQL the puts are one deferred statement that keeps
 * the last row of each key). */
static int
values_over_fn(struct jit_store_txn *t, void *ctx)
{
	static const char *const keys = "abacbaca";
	int r = 0;

	(void)ctx;
	for (int i = 0; keys[i] != '\0' && r == 0; i++) {
		char key[2] = { keys[i], '\0' };
		json_t *v = json_integer(i);

		r = v != NULL ? jit_store_put_value(t, key, v) : JIT_ERR_ALLOC;
		json_decref(v);
	}
	return r;
}

static int
values_last_fn(struct jit_store_txn *t, void *ctx)
{
	json_int_t *got = ctx;

	for (int i = 0; i < 3; i++) {
		char key[2] = { (char)('a' + i), '\0' };
		json_t *v = NULL;
		int r = jit_store_get_value(t, key, &v);

		if (r != 0)
			return r;
		got[i] = json_integer_value(v);
		json_decref(v);
	}
	return 0;
}

/* The last put of each key is what is stored (positions 7, 4, 6 of
 * "abacbaca"). */
static void
test_values_last(void)
{
	char *d = store_dir_new("values-last");
	struct jit_store *s = NULL;
	json_int_t got[3] = { -1, -1, -1 };

	REQUIRE_OK(test_store_open(d, JIT_STORE_SERVER, &s));
	CHECK_OK(jit_store_write(s, values_over_fn, NULL));
	CHECK_OK(jit_store_read(s, values_last_fn, got));
	CHECK_INT(got[0], 7);
	CHECK_INT(got[1], 4);
	CHECK_INT(got[2], 6);
	jit_store_close(s);
	store_dir_remove(d);
}

static int
nested_read_fn(struct jit_store_txn *t, void *ctx)
{
	struct jit_store *s = ctx;

	(void)t;
	return jit_store_read(s, value_get_fn, NULL);
}

static int
nested_write_fn(struct jit_store_txn *t, void *ctx)
{
	struct jit_store *s = ctx;

	(void)t;
	return jit_store_write(s, value_put_fn, NULL);
}

static void
test_values_misc(void)
{
	char *sdir = store_dir_new("store");
	struct jit_store *s;

	REQUIRE_OK(test_store_open(sdir, 0, &s));
	CHECK_OK(jit_store_write(s, value_put_fn, NULL));
	CHECK_INT(jit_store_read(s, value_get_fn, NULL), JIT_ERR_NOT_FOUND);
	/* Misuse inside a write closure fails instead of deadlocking. */
	CHECK_INT(jit_store_write(s, nested_read_fn, s), JIT_ERR_INTERNAL);
	CHECK_INT(jit_store_write(s, nested_write_fn, s), JIT_ERR_INTERNAL);
	jit_store_close(s);

	/* Read-only: reads work, writes are refused. */
	REQUIRE_OK(test_store_open(sdir, JIT_STORE_READONLY, &s));
	CHECK_INT(jit_store_read(s, value_get_fn, NULL), JIT_ERR_NOT_FOUND);
	CHECK_INT(jit_store_write(s, value_put_fn, NULL), JIT_ERR_PERMISSION);
	jit_store_close(s);
	store_dir_remove(sdir);
	if (test_pg_url() != NULL)
		return;

	/* A missing store cannot be opened read-only; a missing parent
	 * directory is NOT_FOUND. */
	CHECK_INT(jit_store_open("/tmp/jit-test-store-does-not-exist",
	    JIT_STORE_READONLY, &s), JIT_ERR_NOT_FOUND);
	CHECK(s == NULL);
	CHECK_INT(jit_store_open("/tmp/jit-no-such-parent-dir/x", 0, &s),
	    JIT_ERR_NOT_FOUND);
}

/* ---- serial reservations ------------------------------------------------- */

static int
reserve_fn(struct jit_store_txn *t, void *ctx)
{
	return jit_store_reserve_serial(t, ctx);
}

struct claim_ctx {
	uint64_t serial;
	uint64_t next;         /* jit_store_next_serial afterwards, if set */
	int take_next;
};

static int
claim_fn(struct jit_store_txn *t, void *ctx)
{
	struct claim_ctx *c = ctx;
	json_t *rec;
	int r;

	if ((r = jit_store_claim_serial(t, c->serial)) != 0)
		return r;
	rec = json_pack("{s:I}", "serial", (json_int_t)c->serial);
	r = jit_store_put_cert(t, c->serial, rec);
	json_decref(rec);
	if (r == 0 && c->take_next)
		r = jit_store_next_serial(t, &c->next);
	return r;
}

static void
test_serial_reserve(void)
{
	char *sdir = store_dir_new("store");
	struct jit_store *s;
	struct claim_ctx c;
	uint64_t a = 0, b = 0, x = 0;

	REQUIRE_OK(test_store_open(sdir, JIT_STORE_SERVER, &s));
	CHECK_OK(jit_store_read(s, reserve_fn, &a));
	CHECK_OK(jit_store_read(s, reserve_fn, &b));
	CHECK_INT(a, 1);
	CHECK_INT(b, 2);
	/* Claimed out of order: b first, then a; both stored, and the
	 * allocator continues after the highest. */
	memset(&c, 0, sizeof(c));
	c.serial = b;
	CHECK_OK(jit_store_write(s, claim_fn, &c));
	c.serial = a;
	c.take_next = 1;
	CHECK_OK(jit_store_write(s, claim_fn, &c));
	CHECK_INT(c.next, 3);
	/* A serial with a cert record cannot be claimed again. */
	c.serial = b;
	c.take_next = 0;
	CHECK_INT(jit_store_write(s, claim_fn, &c), TAKEN_KEY);
	/* Reservations skip what next_serial handed out (PostgreSQL's
	 * skip past the serials this node held, dropped at the collision). */
	CHECK_OK(jit_store_read(s, reserve_fn, &x));
	if (test_pg_url() == NULL)
		CHECK_INT(x, 4);
	else
		CHECK(x > 3);
	jit_store_close(s);
	/* After a restart (x was never claimed) reservations start above
	 * every stored serial: LMDB may hand out the unclaimed 4 again,
	 * PostgreSQL's sequence never repeats a value (and what the closed
	 * store had taken from it but not handed out is a gap). */
	REQUIRE_OK(test_store_open(sdir, JIT_STORE_SERVER, &s));
	CHECK_OK(jit_store_read(s, reserve_fn, &x));
	if (test_pg_url() == NULL)
		CHECK_INT(x, 4);
	else
		CHECK(x > 4);
	jit_store_close(s);
	store_dir_remove(sdir);
}

/*
 * PostgreSQL may hand out a block of serials again after a crash (a
 * nextval that nothing committed is not flushed): here the sequence is
 * set back below the stored certificates and another node reserves.  Its
 * first claim collides; its next reservation is past every stored serial
 * rather than the next of the same stale block.
 */
static void
test_pg_serial_set_back(void)
{
	char *sdir = store_dir_new("serialback");
	struct jit_store *s, *s2;
	struct claim_ctx c;
	uint64_t x = 0;

	REQUIRE_OK(test_store_open(sdir, JIT_STORE_SERVER, &s));
	memset(&c, 0, sizeof(c));
	for (int i = 0; i < 3; i++) {
		CHECK_OK(jit_store_read(s, reserve_fn, &c.serial));
		CHECK_OK(jit_store_write(s, claim_fn, &c));
	}
	CHECK_INT(c.serial, 3);
	CHECK_INT(test_pg_exec_in(sdir,
	    "SELECT setval('jit_serial', 1, false)"), 0);
	REQUIRE_OK(test_store_open(sdir, JIT_STORE_SERVER, &s2));
	CHECK_OK(jit_store_read(s2, reserve_fn, &c.serial));
	CHECK_INT(c.serial, 1);
	CHECK_INT(jit_store_write(s2, claim_fn, &c), TAKEN_KEY);
	CHECK_OK(jit_store_read(s2, reserve_fn, &x));
	CHECK(x > 3);
	c.serial = x;
	CHECK_OK(jit_store_write(s2, claim_fn, &c));
	jit_store_close(s2);
	jit_store_close(s);
	store_dir_remove(sdir);
}

/*
 * An audit entry that finds its seq taken when the batch's deferred rows
 * are sent (pg_defer.c): the entry is past the head, so the store is
 * damaged, STORE_CORRUPT as pg_int.h says, not the CONFLICT of a create.
 */
static void
test_pg_audit_taken(void)
{
	char *sdir = store_dir_new("pgaudit");
	struct jit_store *s;
	struct create_ctx cc = { NULL, 0, 0 };

	REQUIRE_OK(test_store_open(sdir, 0, &s));
	free(create(s, "alice", "pending"));
	CHECK_INT(test_pg_exec_in(sdir, "INSERT INTO jit_audit "
	    "VALUES (2, '{}')"), 0);
	cc.req = mkreq("bob", "pending", "x");
	CHECK_INT(jit_store_write(s, create_fn, &cc), JIT_ERR_STORE_CORRUPT);
	json_decref(cc.req);
	jit_store_close(s);
	store_dir_remove(sdir);
}

/* The number sql (a one-row count) answers on a connection of the
 * test's own; -1 if it fails. */
static int
pg_count(const char *sql)
{
	PGconn *c = PQconnectdb(test_pg_url());
	PGresult *res;
	int n = -1;

	if (PQstatus(c) == CONNECTION_OK) {
		res = PQexec(c, sql);
		if (PQresultStatus(res) == PGRES_TUPLES_OK)
			n = atoi(PQgetvalue(res, 0, 0));
		PQclear(res);
	}
	PQfinish(c);
	return n;
}

/* The connections of jit-ca's inside a transaction, but this one's. */
static int
in_transaction(void)
{
	return pg_count("SELECT count(*) FROM pg_stat_activity "
	    "WHERE application_name = 'jit-ca' "
	    "AND xact_start IS NOT NULL AND pid <> pg_backend_pid()");
}

/*
 * After a batch that failed for a taken serial (STORE_RETRY, the
 * sequence then raised past the stored serials on the writer's
 * connection) the writer holds no transaction open, as after any batch.
 */
static void
test_pg_collided_idle(void)
{
	char *sdir = store_dir_new("pgidle");
	struct jit_store *s;
	struct claim_ctx c;

	REQUIRE_OK(test_store_open(sdir, 0, &s));
	memset(&c, 0, sizeof(c));
	CHECK_OK(jit_store_read(s, reserve_fn, &c.serial));
	CHECK_OK(jit_store_write(s, claim_fn, &c));
	CHECK_INT(in_transaction(), 0);
	CHECK_INT(jit_store_write(s, claim_fn, &c), JIT_ERR_STORE_RETRY);
	CHECK_INT(in_transaction(), 0);
	jit_store_close(s);
	store_dir_remove(sdir);
}

#ifdef TEST_MALLOC_FAIL
/* Put a value under a key of ctx's length, its body 300 bytes; with
 * fail set, the copy of the key in the deferred rows cannot be made. */
struct oom_ctx {
	size_t klen;
	int fail;
};

static int
oom_value_fn(struct jit_store_txn *t, void *vctx)
{
	struct oom_ctx *o = vctx;
	char key[160], body[300];
	json_t *v;
	int r;

	memset(key, 'k', o->klen);
	key[o->klen] = '\0';
	memset(body, 'b', sizeof(body) - 3);
	body[sizeof(body) - 3] = '\0';
	if ((v = json_string(body)) == NULL)
		return JIT_ERR_ALLOC;
	if (o->fail)
		atomic_store(&malloc_fail_size, o->klen + 1);
	r = jit_store_put_value(t, key, v);
	atomic_store(&malloc_fail_size, 0);
	json_decref(v);
	return r;
}
#endif

/*
 * A deferred row whose copy runs out of memory (pg_defer.c): the write
 * fails with ALLOC, the row's other cells (left from an earlier batch's
 * rows) are not freed again, and the next write works.
 */
static void
test_pg_defer_oom(void)
{
#ifdef TEST_MALLOC_FAIL
	char *sdir = store_dir_new("pgoom");
	struct jit_store *s;
	struct oom_ctx o = { 150, 0 };

	if (!malloc_fails_on_demand()) {
		store_dir_remove(sdir);
		return;
	}
	REQUIRE_OK(test_store_open(sdir, 0, &s));
	CHECK_OK(jit_store_write(s, oom_value_fn, &o));
	o.klen = 151;
	o.fail = 1;
	CHECK_INT(jit_store_write(s, oom_value_fn, &o), JIT_ERR_ALLOC);
	o.fail = 0;
	CHECK_OK(jit_store_write(s, oom_value_fn, &o));
	CHECK_OK(jit_store_write(s, oom_value_fn, &o));
	jit_store_close(s);
	store_dir_remove(sdir);
#endif
}

/* ---- locking and other processes ----------------------------------------- */

static int
token_cli_fn(struct jit_store_txn *t, void *ctx)
{
	unsigned char h[JIT_TOKEN_HASH_LEN];
	json_t *rec, *a;
	int r;

	jit_store_token_hash("cli-made-token", h);
	rec = json_pack("{s:s, s:s}", "id", "t-cli", "user", "carol");
	r = jit_store_put_token(t, h, rec);
	json_decref(rec);
	if (r != 0)
		return r;
	a = json_pack("{s:s, s:s, s:s}", "event", "token.create", "actor",
	    "cli:root", "user", "carol");
	r = jit_audit_append(t, a, NULL, NULL);
	json_decref(a);
	return r;
}

static int
token_check_fn(struct jit_store_txn *t, void *ctx)
{
	uint64_t *count = ctx;
	json_t *rec;
	int r;

	if ((r = jit_store_get_token_by_id(t, "t-cli", NULL, &rec)) != 0)
		return r;
	json_decref(rec);
	return jit_audit_verify_store(t, count, NULL, NULL);
}

static void
test_locking(void)
{
	char *sdir = store_dir_new("store");
	struct jit_store *s, *s2 = NULL;
	char *id;
	pid_t pid;
	int status;
	uint64_t count = 0;

	REQUIRE_OK(jit_store_open(sdir, JIT_STORE_SERVER, &s));
	/* A second server in this process... */
	CHECK_INT(jit_store_open(sdir, JIT_STORE_SERVER, &s2),
	    JIT_ERR_STORE_LOCKED);
	CHECK(s2 == NULL);
	id = create(s, "alice", "pending");

	/* ...or in another process is refused; a CLI-mode open in another
	 * process works while the server runs, and its writes chain into
	 * the same audit log. */
	fflush(NULL);
	pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		struct jit_store *c;
		int r = jit_store_open(sdir, JIT_STORE_SERVER, &c);

		if (r != JIT_ERR_STORE_LOCKED)
			_exit(10);
		if (jit_store_open(sdir, 0, &c) != 0)
			_exit(11);
		if (jit_store_write(c, token_cli_fn, NULL) != 0)
			_exit(12);
		jit_store_close(c);
		_exit(0);
	}
	REQUIRE(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status));
	CHECK_INT(WEXITSTATUS(status), 0);
	CHECK_OK(jit_store_read(s, token_check_fn, &count));
	CHECK_U64(count, 2);
	/* And the server keeps chaining after the CLI's entry. */
	free(id);
	id = create(s, "bob", "pending");
	CHECK_OK(jit_store_read(s, token_check_fn, &count));
	CHECK_U64(count, 3);
	jit_store_close(s);

	/* Closing releases the lock. */
	REQUIRE_OK(jit_store_open(sdir, JIT_STORE_SERVER, &s));
	jit_store_close(s);
	free(id);
	store_dir_remove(sdir);
}

/* ---- map full ------------------------------------------------------------ */

struct big_ctx {
	char *reason;
};

static int
big_fn(struct jit_store_txn *t, void *ctx)
{
	struct big_ctx *b = ctx;
	json_t *req = mkreq("alice", "pending", "prod-db");
	json_t *a;
	int r;

	json_object_set_new(req, "reason", json_string(b->reason));
	r = jit_store_create_request(t, req, 0, NULL);
	if (r == 0) {
		a = json_pack("{s:s, s:s, s:s}", "event", "request.create",
		    "actor", "alice", "reason", b->reason);
		r = jit_audit_append(t, a, NULL, NULL);
		json_decref(a);
	}
	json_decref(req);
	return r;
}

struct all_ctx {
	uint64_t n;
	uint64_t audit;
	int audit_r;
};

static int
count_cb(json_t *req, uint64_t seq, void *ctx)
{
	struct all_ctx *c = ctx;

	(void)req;
	(void)seq;
	c->n++;
	return 0;
}

static int
count_all_fn(struct jit_store_txn *t, void *ctx)
{
	struct all_ctx *c = ctx;
	int r;

	c->n = 0;
	if ((r = jit_store_list_all(t, NULL, count_cb, c)) != 0)
		return r;
	c->audit_r = jit_audit_verify_store(t, &c->audit, NULL, NULL);
	return 0;
}

static void
test_map_full(void)
{
	char *sdir = store_dir_new("store");
	struct jit_store_options o = { 0 };
	struct jit_store *s;
	struct big_ctx b;
	struct all_ctx c = { 0 };
	int ok = 0, r = 0;

	b.reason = malloc(3001);
	REQUIRE(b.reason != NULL);
	memset(b.reason, 'x', 3000);
	b.reason[3000] = '\0';
	o.map_size = 1 << 20;  /* 1 MiB */
	REQUIRE_OK(jit_store_open_opts(sdir, &o, &s));
	for (int i = 0; i < 10000; i++) {
		if ((r = jit_store_write(s, big_fn, &b)) != 0)
			break;
		ok++;
	}
	CHECK_INT(r, JIT_ERR_STORE_FULL);
	CHECK(ok > 10);
	/* Still full, still answering, nothing half-written. */
	CHECK_INT(jit_store_write(s, big_fn, &b), JIT_ERR_STORE_FULL);
	CHECK_OK(jit_store_read(s, count_all_fn, &c));
	CHECK_U64(c.n, (uint64_t)ok);
	jit_store_close(s);

	/* Reopen with room: old data intact, writes work again. */
	REQUIRE_OK(jit_store_open(sdir, JIT_STORE_SERVER, &s));
	CHECK_OK(jit_store_read(s, count_all_fn, &c));
	CHECK_U64(c.n, (uint64_t)ok);
	CHECK_OK(c.audit_r);
	CHECK_U64(c.audit, (uint64_t)ok);
	CHECK_OK(jit_store_write(s, big_fn, &b));
	CHECK_OK(jit_store_read(s, count_all_fn, &c));
	CHECK_U64(c.n, (uint64_t)ok + 1);
	CHECK_OK(c.audit_r);
	printf("map full after %d requests of 3 KB in 1 MiB\n", ok);
	jit_store_close(s);
	free(b.reason);
	store_dir_remove(sdir);
}

/* Several writers fill the map at once: the closure that hits the limit
 * fails alone inside its batch; everything acknowledged is kept. */
struct filler {
	struct jit_store *s;
	struct big_ctx *b;
	int ok;
	int last;
};

static void *
filler_main(void *arg)
{
	struct filler *f = arg;

	for (int i = 0; i < 10000; i++) {
		if ((f->last = jit_store_write(f->s, big_fn, f->b)) != 0)
			break;
		f->ok++;
	}
	return NULL;
}

static void
test_map_full_concurrent(void)
{
	char *sdir = store_dir_new("store");
	struct jit_store_options o = { 0 };
	struct jit_store *s;
	struct big_ctx b;
	struct all_ctx c = { 0 };
	struct filler f[6];
	pthread_t th[6];
	int ok = 0;

	b.reason = malloc(2001);
	REQUIRE(b.reason != NULL);
	memset(b.reason, 'y', 2000);
	b.reason[2000] = '\0';
	o.map_size = 1 << 20;
	REQUIRE_OK(jit_store_open_opts(sdir, &o, &s));
	memset(f, 0, sizeof(f));
	for (int i = 0; i < 6; i++) {
		f[i].s = s;
		f[i].b = &b;
		REQUIRE(pthread_create(&th[i], NULL, filler_main, &f[i]) == 0);
	}
	for (int i = 0; i < 6; i++) {
		pthread_join(th[i], NULL);
		CHECK_INT(f[i].last, JIT_ERR_STORE_FULL);
		ok += f[i].ok;
	}
	CHECK_OK(jit_store_read(s, count_all_fn, &c));
	CHECK_U64(c.n, (uint64_t)ok);
	CHECK_OK(c.audit_r);
	CHECK_U64(c.audit, (uint64_t)ok);
	jit_store_close(s);
	REQUIRE_OK(jit_store_open(sdir, 0, &s));
	CHECK_OK(jit_store_read(s, count_all_fn, &c));
	CHECK_U64(c.n, (uint64_t)ok);
	CHECK_OK(c.audit_r);
	CHECK_OK(jit_store_write(s, big_fn, &b));
	jit_store_close(s);
	free(b.reason);
	store_dir_remove(sdir);
}

/* ---- change notification ------------------------------------------------- */

struct waiter {
	struct jit_store *s;
	const char *id;
	uint64_t since;
	int timeout_ms;
	int result;
	uint64_t waited_ms;
};

static void *
waiter_main(void *arg)
{
	struct waiter *w = arg;
	uint64_t t0 = jit_monotonic_ms();

	w->result = jit_store_wait_change(w->s, w->id, w->since,
	    w->timeout_ms);
	w->waited_ms = jit_monotonic_ms() - t0;
	return NULL;
}

/* The change hook's calls (store.h): the slots of the last one.  The
 * hook runs on the store's writer or listener thread. */
struct hooked {
	pthread_mutex_t mu;
	int calls;
	size_t n;
	unsigned slots[8];
};

static void
hook_fn(void *ctx, const unsigned *slots, size_t n)
{
	struct hooked *k = ctx;

	pthread_mutex_lock(&k->mu);
	k->calls++;
	k->n = n;
	memcpy(k->slots, slots, (n < 8 ? n : 8) * sizeof(*slots));
	pthread_mutex_unlock(&k->mu);
}

/* k's calls once there are more than before (or 10 s have passed). */
static int
hook_calls_after(struct hooked *k, int before)
{
	int n = before;

	for (int i = 0; i < 1000 && n <= before; i++) {
		pthread_mutex_lock(&k->mu);
		n = k->calls;
		pthread_mutex_unlock(&k->mu);
		if (n <= before)
			usleep(10000);
	}
	return n;
}

static void
test_wait_change(void)
{
	char *sdir = store_dir_new("store");
	struct jit_store *s;
	struct put_dl_ctx sc = { NULL, NULL, 0 };
	struct waiter w = { 0 }, wa = { 0 };
	pthread_t th, tha;
	uint64_t v, v2, c0;
	char *id;

	REQUIRE_OK(test_store_open(sdir, 0, &s));
	id = create(s, "alice", "pending");
	v = jit_store_version(s);
	CHECK(v >= 1);
	/* Nothing changes: times out. */
	CHECK_INT(jit_store_wait_change(s, id, v, 50), 0);
	CHECK_INT(jit_store_wait_change(s, NULL, v, 0), 0);
	/* Already changed since an older version: at once. */
	CHECK_INT(jit_store_wait_change(s, id, v - 1, 5000), 1);

	w.s = wa.s = s;
	w.id = id;
	w.since = wa.since = v;
	w.timeout_ms = wa.timeout_ms = 10000;
	REQUIRE(pthread_create(&th, NULL, waiter_main, &w) == 0);
	REQUIRE(pthread_create(&tha, NULL, waiter_main, &wa) == 0);
	usleep(100000);
	sc.id = id;
	sc.state = "approved";
	CHECK_OK(jit_store_write(s, put_dl_fn, &sc));
	pthread_join(th, NULL);
	pthread_join(tha, NULL);
	CHECK_INT(w.result, 1);
	CHECK_INT(wa.result, 1);
	CHECK(w.waited_ms < 5000);
	v2 = jit_store_version(s);
	CHECK_U64(v2, v + 1);
	/* A failed write does not bump the version, nor the commit id;
	 * a good one raises the commit id too. */
	c0 = jit_store_commit_id(s);
	CHECK(c0 != 0);
	sc.id = "r-doesnotexist";
	CHECK_INT(jit_store_write(s, put_dl_fn, &sc), JIT_ERR_NOT_FOUND);
	CHECK_U64(jit_store_version(s), v2);
	CHECK_U64(jit_store_commit_id(s), c0);
	free(create(s, "bob", "pending"));
	CHECK(jit_store_commit_id(s) > c0);
	v2 = jit_store_version(s);

	/* The change hook: once per commit, with the request's slot; not
	 * for a failed write; not once cleared. */
	{
		struct hooked k;

		memset(&k, 0, sizeof(k));
		pthread_mutex_init(&k.mu, NULL);
		jit_store_set_change_hook(s, hook_fn, &k);
		sc.id = id;
		sc.state = "revoked";
		CHECK_OK(jit_store_write(s, put_dl_fn, &sc));
		CHECK_INT(k.calls, 1);
		CHECK_INT(k.n, 1);
		CHECK_INT(k.slots[0], jit_store_wake_slot(id));
		CHECK(k.slots[0] < JIT_STORE_WAKE_SLOTS);
		CHECK_U64(jit_store_version(s), v2 + 1);
		sc.id = "r-doesnotexist";
		CHECK_INT(jit_store_write(s, put_dl_fn, &sc),
		    JIT_ERR_NOT_FOUND);
		CHECK_INT(k.calls, 1);
		jit_store_set_change_hook(s, NULL, NULL);
		sc.id = id;
		sc.state = "ended";
		CHECK_OK(jit_store_write(s, put_dl_fn, &sc));
		CHECK_INT(k.calls, 1);
		pthread_mutex_destroy(&k.mu);
	}
	jit_store_close(s);
	free(id);
	store_dir_remove(sdir);
}

/* ---- crash safety: kill -9 at a random moment ---------------------------- */

#define CRASH_THREADS 4

struct crash_worker {
	struct jit_store *s;
	int fd;
};

static void *
crash_worker_main(void *arg)
{
	struct crash_worker *w = arg;

	for (;;) {
		struct issue_ctx c;
		char line[64];
		int n;

		if (jit_store_write(w->s, issue_fn, &c) != 0)
			_exit(20);
		/* Only acknowledged writes are reported; one write(2) of
		 * < PIPE_BUF bytes is atomic. */
		n = snprintf(line, sizeof(line), "%s %020llu\n", c.id,
		    (unsigned long long)c.serial);
		if (write(w->fd, line, (size_t)n) != n)
			_exit(21);
	}
	return NULL;
}

struct acked {
	char id[JIT_REQUEST_ID_LEN];
	uint64_t serial;
};

struct crash_check {
	struct acked *a;
	size_t n;
	size_t missing;
	uint64_t audit;
	int audit_r;
};

static int
crash_check_fn(struct jit_store_txn *t, void *ctx)
{
	struct crash_check *c = ctx;

	for (size_t i = 0; i < c->n; i++) {
		json_t *j = NULL;

		if (jit_store_get_request(t, c->a[i].id, &j, NULL) != 0)
			c->missing++;
		json_decref(j);
		j = NULL;
		if (jit_store_get_cert(t, c->a[i].serial, &j) != 0)
			c->missing++;
		json_decref(j);
	}
	c->audit_r = jit_audit_verify_store(t, &c->audit, NULL, NULL);
	return 0;
}

static void
test_crash(void)
{
	char *sdir = store_dir_new("store");
	size_t cap = 1 << 16, total = 0;
	struct acked *a = malloc(cap * sizeof(*a));
	unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();

	REQUIRE(a != NULL);
	printf("crash test seed %u\n", seed);
	srand(seed);
	for (int round = 0; round < 4; round++) {
		int p[2], status;
		pid_t pid;
		FILE *f;
		char line[128];
		struct crash_check cc = { 0 };
		struct jit_store *s;
		size_t before = total;
		char pending_char;

		REQUIRE(pipe(p) == 0);
		fflush(NULL);
		pid = fork();
		REQUIRE(pid >= 0);
		if (pid == 0) {
			struct crash_worker w[CRASH_THREADS];
			pthread_t th[CRASH_THREADS];
			struct jit_store *cs;

			close(p[0]);
			if (test_store_open(sdir, JIT_STORE_SERVER, &cs) != 0)
				_exit(30);
			for (int k = 0; k < CRASH_THREADS; k++) {
				w[k].s = cs;
				w[k].fd = p[1];
				pthread_create(&th[k], NULL,
				    crash_worker_main, &w[k]);
			}
			for (;;)
				pause();
		}
		close(p[1]);
		/* Start the clock at the first acknowledgement so a slow
		 * start (sanitizers, a loaded machine) still gets killed in
		 * the middle of writing. */
		{
			char c;

			REQUIRE(read(p[0], &c, 1) == 1);
			pending_char = c;
		}
		usleep((useconds_t)(rand() % 300000));
		kill(pid, SIGKILL);
		REQUIRE(waitpid(pid, &status, 0) == pid);
		CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		f = fdopen(p[0], "r");
		REQUIRE(f != NULL);
		/* Put the first byte back in front of the rest. */
		REQUIRE(ungetc((unsigned char)pending_char, f) != EOF);
		while (fgets(line, sizeof(line), f) != NULL) {
			unsigned long long sn;
			char id[32];

			if (sscanf(line, "%31s %llu", id, &sn) != 2 ||
			    strlen(id) != JIT_REQUEST_ID_LEN - 1)
				continue;  /* cannot happen: atomic writes */
			if (total == cap) {
				cap *= 2;
				a = realloc(a, cap * sizeof(*a));
				REQUIRE(a != NULL);
			}
			memcpy(a[total].id, id, JIT_REQUEST_ID_LEN);
			a[total].serial = sn;
			total++;
		}
		fclose(f);

		/* The server lock died with the process. */
		REQUIRE_OK(test_store_open(sdir, JIT_STORE_SERVER, &s));
		cc.a = a;
		cc.n = total;
		CHECK_OK(jit_store_read(s, crash_check_fn, &cc));
		CHECK_INT(cc.missing, 0);
		CHECK_OK(cc.audit_r);
		/* Possibly a few more committed than were acknowledged. */
		CHECK(cc.audit >= total);
		printf("crash round %d: %zu acknowledged (%zu this round), "
		    "%llu audit entries, 0 lost\n", round, total,
		    total - before, (unsigned long long)cc.audit);
		jit_store_close(s);
		CHECK(total > before);
	}
	free(a);
	store_dir_remove(sdir);
}

/* ---- the outbox across copies and nodes ---------------------------------- */

/* One outbox operation: 'a' add (seq: the new entry's), 'p' put, 'd'
 * done, 'l' list (what: "ENDPOINT/SEQ/q|f ...") and stats. */
struct ob_op {
	char op;
	const char *ep;
	uint64_t seq;
	enum jit_outbox_state st;
	char what[256];
	struct jit_outbox_stats stats;
};

static int
ob_list_cb(const char *ep, uint64_t seq, enum jit_outbox_state st,
    json_t *rec, void *ctx)
{
	struct ob_op *o = ctx;
	size_t n = strlen(o->what);

	(void)rec;
	snprintf(o->what + n, sizeof(o->what) - n, "%s%s/%llu/%c",
	    n > 0 ? " " : "", ep, (unsigned long long)seq,
	    st == JIT_OUTBOX_FAILED ? 'f' : 'q');
	return 0;
}

static int
ob_fn(struct jit_store_txn *t, void *ctx)
{
	struct ob_op *o = ctx;
	json_t *rec;
	int r;

	if (o->op == 'l') {
		o->what[0] = '\0';
		if ((r = jit_store_outbox_list(t, 0, ob_list_cb, o)) != 0)
			return r;
		return jit_store_outbox_stats(t, &o->stats);
	}
	if (o->op == 'd')
		return jit_store_outbox_done(t, o->ep, o->seq);
	rec = json_pack("{s:s, s:I}", "id", "n-test", "created_at",
	    (json_int_t)100);
	r = o->op == 'a' ? jit_store_outbox_add(t, o->ep, rec, &o->seq) :
	    jit_store_outbox_put(t, o->ep, o->seq, o->st, rec);
	json_decref(rec);
	return r;
}

/* Operation op on s: its result; *seq in, and out for an add. */
static int
ob(struct jit_store *s, char op, const char *ep, uint64_t *seq,
    enum jit_outbox_state st)
{
	struct ob_op o;
	int r;

	memset(&o, 0, sizeof(o));
	o.op = op;
	o.ep = ep;
	o.seq = *seq;
	o.st = st;
	r = jit_store_write(s, ob_fn, &o);
	*seq = o.seq;
	return r;
}

/* An add on s: the new entry's sequence number (0 on failure). */
static uint64_t
ob_add(struct jit_store *s, const char *ep)
{
	uint64_t seq = 0;

	CHECK_OK(ob(s, 'a', ep, &seq, JIT_OUTBOX_QUEUED));
	return seq;
}

/* s's outbox as "ENDPOINT/SEQ/q|f ..." in what, its counts in *st. */
static void
ob_list(struct jit_store *s, char what[256], struct jit_outbox_stats *st)
{
	struct ob_op o;

	memset(&o, 0, sizeof(o));
	o.op = 'l';
	CHECK_OK(jit_store_read(s, ob_fn, &o));
	memcpy(what, o.what, sizeof(o.what));
	*st = o.stats;
}

/* ---- copying a store ----------------------------------------------------- */

struct head_ctx {
	uint64_t seq, count;
	char hash[JIT_AUDIT_HASH_HEX];
	int verify_r;
	struct collect all, due;
};

static int
head_fn(struct jit_store_txn *t, void *ctx)
{
	struct head_ctx *h = ctx;
	int r;

	h->all.n = h->due.n = 0;
	if ((r = jit_audit_head(t, &h->seq, h->hash)) != 0 ||
	    (r = jit_store_list_all(t, NULL, collect_cb, &h->all)) != 0 ||
	    (r = jit_store_list_due(t, UINT64_MAX, collect_cb, &h->due)) != 0)
		return r;
	h->verify_r = jit_audit_verify_store(t, &h->count, NULL, NULL);
	return 0;
}

/*
 * An LMDB store with requests, certs, tokens and values copied into an
 * empty store of the backend under test: the same records, the same
 * chain and head, counters that continue, and a second copy refused.
 */
static void
test_copy(void)
{
	char *src = store_dir_new("copysrc"), *dst = store_dir_new("copydst");
	struct jit_store *s, *d;
	struct jit_store_copy_stats st;
	struct head_ctx hs, hd;
	struct tok_ctx tc = { 0 };
	struct issue_ctx ic;
	struct jit_outbox_stats os;
	char *ids[5], what[256];
	uint64_t seq;

	REQUIRE_OK(jit_store_open(src, 0, &s));
	for (int i = 0; i < 5; i++)
		ids[i] = create_dl(s, i % 2 ? "bob" : "alice", "pending",
		    i == 2 ? 0 : 1000 + (uint64_t)i);
	put_dl(s, ids[1], "approved", 5000);
	for (int i = 0; i < 3; i++)
		CHECK_OK(jit_store_write(s, issue_fn, &ic));
	jit_store_token_hash("jit_secret_one", tc.h1);
	jit_store_token_hash("jit_secret_two", tc.h2);
	CHECK_OK(jit_store_write(s, tok_fn, &tc));
	CHECK_OK(jit_store_write(s, value_put_fn, NULL));
	/* The outbox: one queued, one failed, one delivered. */
	CHECK_U64(ob_add(s, "chat"), 1);
	CHECK_U64(ob_add(s, "mail"), 2);
	CHECK_U64(ob_add(s, "chat"), 3);
	seq = 2;
	CHECK_OK(ob(s, 'p', "mail", &seq, JIT_OUTBOX_FAILED));
	seq = 1;
	CHECK_OK(ob(s, 'd', "chat", &seq, JIT_OUTBOX_QUEUED));
	jit_store_close(s);

	REQUIRE_OK(jit_store_open(src, JIT_STORE_READONLY, &s));
	REQUIRE_OK(test_store_open(dst, 0, &d));
	CHECK_OK(jit_store_copy(s, d, &st));
	CHECK_U64(st.requests, 8);
	CHECK_U64(st.certs, 3);
	CHECK_U64(st.tokens, 2);
	CHECK_U64(st.values, 2);
	CHECK_U64(st.audit, 8);
	CHECK_U64(st.outbox, 2);
	ob_list(d, what, &os);
	CHECK_STR(what, "chat/3/q mail/2/f");
	CHECK_U64(os.queued, 1);
	CHECK_U64(os.failed, 1);
	CHECK_U64(os.delivered, 1);
	CHECK_U64(os.oldest, 100);
	memset(&hs, 0, sizeof(hs));
	memset(&hd, 0, sizeof(hd));
	CHECK_OK(jit_store_read(s, head_fn, &hs));
	CHECK_OK(jit_store_read(d, head_fn, &hd));
	CHECK_U64(hd.seq, hs.seq);
	CHECK_STR(hd.hash, hs.hash);
	CHECK_STR(st.audit_head, hs.hash);
	CHECK_OK(hd.verify_r);
	CHECK_U64(hd.count, 8);
	CHECK_INT(hd.all.n, hs.all.n);
	for (size_t i = 0; i < hs.all.n && i < hd.all.n; i++) {
		CHECK_STR(hd.all.ids[i], hs.all.ids[i]);
		CHECK_U64(hd.all.seqs[i], hs.all.seqs[i]);
	}
	/* The deadlines came along: the same due list. */
	CHECK_INT(hd.due.n, 4);
	CHECK_INT(hd.due.n, hs.due.n);
	for (size_t i = 0; i < hs.due.n && i < hd.due.n; i++)
		CHECK_STR(hd.due.ids[i], hs.due.ids[i]);
	/* A second copy into a store that holds something is refused. */
	CHECK_INT(jit_store_copy(s, d, NULL), JIT_ERR_CONFLICT);
	jit_store_close(s);

	/* The copy goes on where the source stopped: seq 9, serial 4,
	 * audit entry 9 on the same chain. */
	CHECK_OK(jit_store_write(d, issue_fn, &ic));
	CHECK_U64(ic.serial, 4);
	CHECK_OK(jit_store_read(d, head_fn, &hd));
	CHECK_U64(hd.all.seqs[hd.all.n - 1], 9);
	CHECK_OK(hd.verify_r);
	CHECK_U64(hd.count, 9);
	CHECK_U64(ob_add(d, "chat"), 4);
	jit_store_close(d);
	for (int i = 0; i < 5; i++)
		free(ids[i]);
	store_dir_remove(src);
	store_dir_remove(dst);
}

/* ---- several nodes on one PostgreSQL database ---------------------------- */

#define NODE_THREADS 3
#define NODE_GRANTS 60

/* The issuing path of the lifecycle (api/lifecycle/issue.c), reduced:
 * read the grant and reserve a serial in a snapshot, then inside the
 * write check again and store the cert only if the grant has none. */
struct grant_ctx {
	const char *id;
	uint64_t reserved;
	uint64_t serial;       /* the grant's serial afterwards */
	int issued;            /* this call stored the cert */
};

static int
grant_read_fn(struct jit_store_txn *t, void *ctx)
{
	struct grant_ctx *g = ctx;
	json_t *req = NULL;
	int r;

	if ((r = jit_store_get_request(t, g->id, &req, NULL)) != 0)
		return r;
	g->serial = (uint64_t)json_integer_value(json_object_get(req,
	    "serial"));
	json_decref(req);
	return g->serial != 0 ? 0 : jit_store_reserve_serial(t, &g->reserved);
}

static int
grant_write_fn(struct jit_store_txn *t, void *ctx)
{
	struct grant_ctx *g = ctx;
	json_t *req = NULL, *rec, *a;
	int r;

	if ((r = jit_store_get_request(t, g->id, &req, NULL)) != 0)
		return r;
	g->serial = (uint64_t)json_integer_value(json_object_get(req,
	    "serial"));
	if (g->serial != 0) {
		json_decref(req);
		return 0;       /* another node issued it first */
	}
	rec = json_pack("{s:I, s:s}", "serial", (json_int_t)g->reserved,
	    "request", g->id);
	if ((r = jit_store_claim_serial(t, g->reserved)) != 0 ||
	    (r = jit_store_put_cert(t, g->reserved, rec)) != 0)
		goto out;
	json_object_set_new(req, "serial", json_integer(
	    (json_int_t)g->reserved));
	if ((r = jit_store_put_request(t, req, 0)) != 0)
		goto out;
	a = json_pack("{s:s, s:s, s:s, s:I}", "event", "cert.issue", "actor",
	    "alice", "request", g->id, "serial", (json_int_t)g->reserved);
	r = jit_audit_append(t, a, NULL, NULL);
	json_decref(a);
	if (r == 0) {
		g->serial = g->reserved;
		g->issued = 1;
	}
out:
	json_decref(rec);
	json_decref(req);
	return r;
}

struct node_worker {
	struct jit_store *s;
	char (*ids)[JIT_REQUEST_ID_LEN];
	int start;
	uint64_t serial[NODE_GRANTS];
	int issued, errors;
};

static void *
node_worker_main(void *arg)
{
	struct node_worker *w = arg;

	for (int k = 0; k < NODE_GRANTS; k++) {
		int i = (w->start + k) % NODE_GRANTS;
		struct grant_ctx g = { w->ids[i], 0, 0, 0 };

		if (jit_store_read(w->s, grant_read_fn, &g) != 0 ||
		    (g.serial == 0 &&
		    jit_store_write(w->s, grant_write_fn, &g) != 0)) {
			w->errors++;
			continue;
		}
		w->serial[i] = g.serial;
		w->issued += g.issued;
	}
	return NULL;
}

struct certs_ctx {
	uint64_t n;
	char (*ids)[JIT_REQUEST_ID_LEN];
	unsigned per[NODE_GRANTS];
	int other;
};

static int
certs_cb(json_t *rec, uint64_t serial, void *ctx)
{
	struct certs_ctx *c = ctx;
	const char *req = json_string_value(json_object_get(rec, "request"));
	int i;

	(void)serial;
	c->n++;
	for (i = 0; i < NODE_GRANTS; i++)
		if (req != NULL && strcmp(req, c->ids[i]) == 0)
			break;
	if (i < NODE_GRANTS)
		c->per[i]++;
	else
		c->other++;
	return 0;
}

static int
certs_fn(struct jit_store_txn *t, void *ctx)
{
	return jit_store_list_certs(t, 0, 0, certs_cb, ctx);
}

/* A's change hook (what wakes the server's held long-polls) hears of a
 * change B makes to request id, with the request's slot. */
static void
two_nodes_hook(struct jit_store *a, struct jit_store *b, const char *id)
{
	struct put_dl_ctx sc = { id, "revoked", 0 };
	struct hooked k;

	memset(&k, 0, sizeof(k));
	pthread_mutex_init(&k.mu, NULL);
	jit_store_set_change_hook(a, hook_fn, &k);
	CHECK_OK(jit_store_write(b, put_dl_fn, &sc));
	CHECK(hook_calls_after(&k, 0) >= 1);
	pthread_mutex_lock(&k.mu);
	CHECK(k.n >= 1);
	CHECK_INT(k.slots[0], jit_store_wake_slot(id));
	pthread_mutex_unlock(&k.mu);
	jit_store_set_change_hook(a, NULL, NULL);
	pthread_mutex_destroy(&k.mu);
}

/* One outbox for both nodes: entries numbered in commit order whichever
 * node adds them; an add on B (no request changed) wakes A's waiters on
 * any change (the deliverer's); an entry settled on one node is gone
 * for the other. */
static void
two_nodes_outbox(struct jit_store *a, struct jit_store *b)
{
	struct jit_outbox_stats os;
	char what[256];
	uint64_t v, seq;

	CHECK_U64(ob_add(a, "chat"), 1);
	v = jit_store_version(a);
	CHECK_U64(ob_add(b, "chat"), 2);
	CHECK_INT(jit_store_wait_change(a, NULL, v, 10000), 1);
	seq = 2;
	CHECK_OK(ob(a, 'd', "chat", &seq, JIT_OUTBOX_QUEUED));
	ob_list(b, what, &os);
	CHECK_STR(what, "chat/1/q");
	CHECK_U64(os.delivered, 1);
	CHECK_INT(ob(b, 'd', "chat", &seq, JIT_OUTBOX_QUEUED),
	    JIT_ERR_NOT_FOUND);
	CHECK_INT(ob(b, 'p', "chat", &seq, JIT_OUTBOX_FAILED),
	    JIT_ERR_NOT_FOUND);
	CHECK_U64(ob_add(b, "mail"), 3);
	ob_list(a, what, &os);
	CHECK_STR(what, "chat/1/q mail/3/q");
}

/* A write that reads what the writer's cache may hold (pg_cache.c):
 * whether request id is stored as raw, and the value "cache.test"; or,
 * with put set, stores the value put and then fails (fail != 0). */
struct wcache_ctx {
	const char *id;
	void *raw;
	size_t len;
	int unchanged;
	json_int_t val;
	json_int_t put;
	int fail;
};

static int
wcache_fn(struct jit_store_txn *t, void *ctx)
{
	struct wcache_ctx *c = ctx;
	json_t *v = NULL;
	int r;

	if (c->put != 0) {
		v = json_integer(c->put);
		r = jit_store_put_value(t, "cache.test", v);
		json_decref(v);
		return r != 0 ? r : c->fail;
	}
	c->unchanged = jit_store_request_unchanged(t, c->id, c->raw, c->len);
	c->val = 0;
	if ((r = jit_store_get_value(t, "cache.test", &v)) == 0)
		c->val = json_integer_value(v);
	json_decref(v);
	return r == JIT_ERR_NOT_FOUND ? 0 : r;
}

/*
 * What a node's writer remembers of what it wrote and read (pg_cache.c)
 * never hides another node's commit or keeps a failed closure's work: A
 * writes a request and a value, B changes both, and A's next write sees
 * B's; a closure of A that fails after storing a value leaves no trace.
 */
static void
two_nodes_cache(struct jit_store *a, struct jit_store *b)
{
	struct wcache_ctx c = { 0 };
	struct raw_ctx rc = { NULL, NULL, 0 };
	struct put_dl_ctx sc = { NULL, "approved", 0 };
	char *id = create(a, "carol", "pending");

	rc.id = c.id = sc.id = id;
	CHECK_OK(jit_store_read(a, raw_fn, &rc));
	c.raw = rc.raw;
	c.len = rc.len;
	c.put = 1;
	CHECK_OK(jit_store_write(a, wcache_fn, &c));
	c.put = 0;
	CHECK_OK(jit_store_write(a, wcache_fn, &c));
	CHECK_INT(c.unchanged, 0);
	CHECK_INT((int)c.val, 1);
	/* B changes both; A's next write sees B's. */
	CHECK_OK(jit_store_write(b, put_dl_fn, &sc));
	c.put = 2;
	CHECK_OK(jit_store_write(b, wcache_fn, &c));
	c.put = 0;
	CHECK_OK(jit_store_write(a, wcache_fn, &c));
	CHECK_INT(c.unchanged, JIT_ERR_CONFLICT);
	CHECK_INT((int)c.val, 2);
	/* A failed closure of A: its value is not what A reads next. */
	c.put = 3;
	c.fail = JIT_ERR_CONFLICT;
	CHECK_INT(jit_store_write(a, wcache_fn, &c), JIT_ERR_CONFLICT);
	c.put = 0;
	CHECK_OK(jit_store_write(a, wcache_fn, &c));
	CHECK_INT((int)c.val, 2);
	free(rc.raw);
	free(id);
}

/*
 * Two stores on one schema stand for two nodes: a long-poll on one wakes
 * when the other changes the request; job locks are held by one node at
 * a time and move when it goes; and when both nodes issue every grant at
 * once, each grant gets exactly one certificate, no serial twice, and the
 * audit log stays one chain.
 */
static void
test_two_nodes(void)
{
	char *sdir = store_dir_new("nodes");
	struct jit_store *a, *b;
	struct put_dl_ctx sc = { NULL, "approved", 0 };
	struct waiter w = { 0 };
	struct node_worker nw[2 * NODE_THREADS];
	pthread_t th[2 * NODE_THREADS];
	char (*ids)[JIT_REQUEST_ID_LEN] = calloc(NODE_GRANTS, sizeof(*ids));
	struct certs_ctx cc;
	struct all_ctx ac = { 0 };
	pthread_t wt;
	int issued = 0, r = 0;
	uint64_t c;
	char *id;

	REQUIRE(ids != NULL);
	REQUIRE_OK(test_store_open(sdir, JIT_STORE_SERVER, &a));
	REQUIRE_OK(test_store_open(sdir, JIT_STORE_SERVER, &b));

	/* Alice waits on node A; bob approves on node B. */
	id = create(a, "alice", "pending");
	w.s = a;
	w.id = id;
	w.since = jit_store_version(a);
	w.timeout_ms = 20000;
	REQUIRE(pthread_create(&wt, NULL, waiter_main, &w) == 0);
	sc.id = id;
	CHECK_OK(jit_store_write(b, put_dl_fn, &sc));
	pthread_join(wt, NULL);
	CHECK_INT(w.result, 1);
	CHECK(w.waited_ms < 10000);
	printf("two nodes: a change on B woke A's waiter after %llu ms\n",
	    (unsigned long long)w.waited_ms);
	/* A's commit id counts B's commit as soon as B's write returned
	 * (what keeps A's KRL cache from serving a revoked grant). */
	c = jit_store_commit_id(a);
	CHECK(c != 0);
	CHECK_U64(jit_store_commit_id(b), c);
	sc.state = "revoked";
	CHECK_OK(jit_store_write(b, put_dl_fn, &sc));
	CHECK(jit_store_commit_id(a) > c);
	sc.state = "approved";
	two_nodes_hook(a, b, id);
	two_nodes_outbox(a, b);
	free(id);

	/* One node per job. */
	CHECK_INT(jit_store_job_lock(a, "sweep"), 1);
	CHECK_INT(jit_store_job_lock(b, "sweep"), 0);
	CHECK_INT(jit_store_job_lock(a, "sweep"), 1);
	CHECK_INT(jit_store_job_lock(b, "krl"), 1);
	CHECK_INT(jit_store_job_lock(a, "krl"), 0);

	/* Both nodes issue every grant at once. */
	for (int i = 0; i < NODE_GRANTS; i++) {
		char *g = create(i % 2 ? a : b, "alice", "approved");

		memcpy(ids[i], g, JIT_REQUEST_ID_LEN);
		free(g);
	}
	memset(nw, 0, sizeof(nw));
	for (int k = 0; k < 2 * NODE_THREADS; k++) {
		nw[k].s = k % 2 ? a : b;
		nw[k].ids = ids;
		nw[k].start = k * 7;
		REQUIRE(pthread_create(&th[k], NULL, node_worker_main,
		    &nw[k]) == 0);
	}
	for (int k = 0; k < 2 * NODE_THREADS; k++) {
		pthread_join(th[k], NULL);
		CHECK_INT(nw[k].errors, 0);
		issued += nw[k].issued;
	}
	CHECK_INT(issued, NODE_GRANTS);
	/* Every caller was told the same serial for a grant. */
	for (int i = 0; i < NODE_GRANTS; i++)
		for (int k = 1; k < 2 * NODE_THREADS; k++)
			CHECK_U64(nw[k].serial[i], nw[0].serial[i]);
	memset(&cc, 0, sizeof(cc));
	cc.ids = ids;
	CHECK_OK(jit_store_read(a, certs_fn, &cc));
	CHECK_U64(cc.n, NODE_GRANTS);
	CHECK_INT(cc.other, 0);
	for (int i = 0; i < NODE_GRANTS; i++)
		CHECK_INT(cc.per[i], 1);
	/* 1 + 60 creates, 1 approval (put_dl_fn writes none), 60 issues. */
	CHECK_OK(jit_store_read(b, count_all_fn, &ac));
	CHECK_OK(ac.audit_r);
	CHECK_U64(ac.audit, 1 + 2 * NODE_GRANTS);
	two_nodes_cache(a, b);

	/* Node A goes away: its job moves to B. */
	jit_store_close(a);
	for (int i = 0; i < 200 && (r = jit_store_job_lock(b, "sweep")) == 0;
	    i++)
		usleep(20000);
	CHECK_INT(r, 1);
	jit_store_close(b);
	free(ids);
	store_dir_remove(sdir);
}

/*
 * A database at schema version 1 (before the outbox): a read-only open is
 * refused with a message that names jit-ca store migrate; a writer brings
 * it to the current version keeping what it held, and the outbox works;
 * an update of the head row by a node that knows no commit counter
 * raises it.
 * A version this program does not know is refused.
 */
static void
test_pg_migrate(void)
{
	char *sdir = store_dir_new("pgmigrate");
	struct jit_store_options o = { 0 };
	struct all_ctx ac = { 0 };
	struct jit_store *s = NULL;
	char schema[16], err[256];
	uint64_t c;
	char *id;

	REQUIRE_OK(test_store_open(sdir, 0, &s));
	id = create(s, "alice", "pending");
	jit_store_close(s);
	CHECK_INT(test_pg_exec_in(sdir, TEST_PG_DOWN_TO_1), 0);
	o.flags = JIT_STORE_READONLY;
	o.err = err;
	o.errlen = sizeof(err);
	test_store_options(sdir, &o, schema);
	CHECK_INT(jit_store_open_opts(sdir, &o, &s), JIT_ERR_STORE);
	CHECK(strstr(err, "jit-ca store migrate") != NULL);
	REQUIRE_OK(test_store_open(sdir, 0, &s));
	CHECK_OK(jit_store_read(s, count_all_fn, &ac));
	CHECK_U64(ac.n, 1);
	CHECK_OK(ac.audit_r);
	CHECK_U64(ac.audit, 1);
	CHECK_U64(ob_add(s, "chat"), 1);
	/* A commit of a node of an older version (it writes the head row
	 * but knows no commit counter) is counted too. */
	c = jit_store_commit_id(s);
	CHECK_INT(test_pg_exec_in(sdir, "UPDATE jit_head SET audit_seq = "
	    "audit_seq WHERE id = 1"), 0);
	CHECK_U64(jit_store_commit_id(s), c + 1);
	jit_store_close(s);
	CHECK_INT(test_pg_exec_in(sdir, "INSERT INTO jit_schema_version "
	    "VALUES (99)"), 0);
	CHECK_INT(test_store_open(sdir, 0, &s), JIT_ERR_STORE_CORRUPT);
	free(id);
	store_dir_remove(sdir);
}

/* End every connection of jit-ca's but this one (pg_terminate_backend:
 * what a server restart or a network cut does to them); the count. */
static int
terminate_connections(void)
{
	return pg_count("SELECT count(pg_terminate_backend(pid)) "
	    "FROM pg_stat_activity WHERE application_name = 'jit-ca'");
}

/*
 * Every connection of a store is cut: calls fail with STORE (never with
 * another answer) until the store has connected again by itself, which
 * the next call after a failure does; a waiter is woken when the
 * listener is back (announcements may have been missed); nothing that
 * was acknowledged is lost.
 */
static void
test_pg_reconnect(void)
{
	char *sdir = store_dir_new("reconnect");
	struct jit_store *s;
	struct create_ctx c;
	struct all_ctx ac = { 0 };
	struct waiter w = { 0 };
	pthread_t wt;
	uint64_t acked = 0;
	int r = 0, fails = 0;
	char *id;

	REQUIRE_OK(test_store_open(sdir, JIT_STORE_SERVER, &s));
	id = create(s, "alice", "pending");
	acked++;
	CHECK_OK(jit_store_read(s, count_all_fn, &ac));
	w.s = s;
	w.id = id;
	w.since = jit_store_version(s);
	w.timeout_ms = 20000;
	REQUIRE(pthread_create(&wt, NULL, waiter_main, &w) == 0);
	for (int round = 0; round < 3; round++) {
		CHECK(terminate_connections() >= 2);
		for (int i = 0; i < 20; i++) {
			c.req = mkreq("bob", "pending", "x");
			c.deadline = 0;
			r = jit_store_write(s, create_fn, &c);
			json_decref(c.req);
			if (r == 0) {
				acked++;
				break;
			}
			fails++;
			CHECK_INT(r, JIT_ERR_STORE);
		}
		CHECK_OK(r);
		for (int i = 0; i < 20; i++) {
			if ((r = jit_store_read(s, count_all_fn, &ac)) == 0)
				break;
			fails++;
			CHECK_INT(r, JIT_ERR_STORE);
		}
		CHECK_OK(r);
		CHECK_U64(ac.n, acked);
		CHECK_OK(ac.audit_r);
		CHECK_U64(ac.audit, acked);
	}
	pthread_join(wt, NULL);
	CHECK_INT(w.result, 1);
	printf("reconnect: 3 cuts, %d calls failed with STORE, %llu writes "
	    "kept\n", fails, (unsigned long long)acked);
	jit_store_close(s);
	free(id);
	store_dir_remove(sdir);
}

int
main(void)
{
	printf("backend: %s\n", test_pg_url() != NULL ? "postgresql" :
	    "lmdb");
	test_requests();
	test_listing();
	test_due();
	test_tokens();
	test_values_misc();
	test_values_last();
	test_serial_reserve();
	test_wait_change();
	test_group_failure();
	test_put_missing();
	test_concurrent();
	test_copy();
	test_crash();
	if (test_pg_url() == NULL) {
		/* LMDB's own: its file format, server.lock, the map size. */
		test_migrate_v1();
		test_locking();
		test_map_full();
		test_map_full_concurrent();
	} else {
		test_pg_migrate();
		test_pg_serial_set_back();
		test_pg_audit_taken();
		test_pg_collided_idle();
		test_pg_defer_oom();
		test_two_nodes();
		test_pg_reconnect();
	}
	TEST_DONE();
}
