/*
 * test-store-index.c - the store's schema 3 request indexes (store.h,
 * "Listing"): by user and state, by role and state, by state and
 * not_after, and the counts by state.  Random creates and puts (users,
 * roles, states and not_after changing, roles coming and going) are
 * applied to the store and to a model; every list and count is then
 * compared with the model: on the store as written, on a READONLY view of
 * the same data as schema 2 left it (no schema 3 tables: the store walks
 * the older indexes), after that store is upgraded by opening it for
 * writing, and after more changes to the upgraded store.  The
 * notification outbox, which schema 2 stores may or may not have, comes
 * through each step: kept by the upgrade of a store that has one,
 * empty on a READONLY view of one that has none and created by its
 * upgrade.
 *
 * On PostgreSQL (tests/unit/with-pg.sh sets JIT_TEST_STORE): the same
 * model on a fresh database, then on one taken back to schema version 2
 * (a READONLY open of it is refused, opening it for writing migrates it:
 * the role and not_after columns filled from the stored requests, the
 * counts from the table), then with more changes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "err.h"
#include "store.h"
#include "test.h"
#include "test-files.h"
#include "test-store-open.h"
#include "test-pg-sql.h"
#include "util.h"

#define MAXREQ 600

static const char *const users[] = { "alice", "bob", "carol", "dave" };
static const char *const roles[] = { "db", "web", "ops" };  /* or none */
static const char *const states[] = { "pending", "approved", "revoked",
    "ended" };
#define NUSERS 4
#define NROLES 3
#define NSTATES 4

struct mreq {
	char id[JIT_REQUEST_ID_LEN];
	uint64_t seq;
	int user, role, state;     /* role -1: no "role" member */
	uint64_t not_after;        /* 0: no "not_after" member */
};

struct model {
	struct mreq r[MAXREQ];
	size_t n;
	unsigned rnd;
};

static unsigned
next_rand(struct model *m)
{
	m->rnd = m->rnd * 1103515245u + 12345u;
	return (m->rnd >> 16) & 0x7fff;
}

static json_t *
to_json(const struct mreq *q)
{
	char t[JIT_TIME_LEN];
	json_t *j = json_pack("{s:s, s:s}", "user", users[q->user], "state",
	    states[q->state]);

	REQUIRE(j != NULL);
	if (q->id[0] != '\0')
		json_object_set_new(j, "id", json_string(q->id));
	if (q->role >= 0)
		json_object_set_new(j, "role", json_string(roles[q->role]));
	if (q->not_after != 0) {
		jit_format_time(q->not_after, t);
		json_object_set_new(j, "not_after", json_string(t));
	}
	return j;
}

/* A random request, or a random change of q: few distinct times, so
 * ties in not_after are common. */
static void
randomise(struct model *m, struct mreq *q, int fresh)
{
	q->state = (int)(next_rand(m) % NSTATES);
	if (fresh || next_rand(m) % 4 == 0)
		q->role = (int)(next_rand(m) % (NROLES + 1)) - 1;
	if (fresh || next_rand(m) % 8 == 0)
		q->user = (int)(next_rand(m) % NUSERS);
	q->not_after = next_rand(m) % 3 == 0 ? 0 :
	    1700000000 + 1000 * (next_rand(m) % 5);
}

/* ops random creates (one in three) and puts in one write. */
struct ops_ctx {
	struct model *m;
	int ops;
};

static int
ops_fn(struct jit_store_txn *t, void *vctx)
{
	struct ops_ctx *c = vctx;
	struct model *m = c->m;
	json_t *j;
	int r;

	for (int i = 0; i < c->ops; i++) {
		int create = m->n == 0 || (m->n < MAXREQ &&
		    next_rand(m) % 3 == 0);
		struct mreq *q = create ? &m->r[m->n] :
		    &m->r[next_rand(m) % m->n];

		if (create)
			memset(q, 0, sizeof(*q));
		randomise(m, q, create);
		j = to_json(q);
		if (create) {
			r = jit_store_create_request(t, j, 0, &q->seq);
			if (r == 0) {
				snprintf(q->id, sizeof(q->id), "%s",
				    json_string_value(json_object_get(j,
				    "id")));
				m->n++;
			}
		} else {
			r = jit_store_put_request(t, j, 0);
		}
		json_decref(j);
		if (r != 0)
			return r;
	}
	return 0;
}

static void
apply(struct jit_store *s, struct model *m, int batches)
{
	struct ops_ctx c = { m, 60 };

	for (int b = 0; b < batches; b++)
		REQUIRE_OK(jit_store_write(s, ops_fn, &c));
}

/* ---- reading back ------------------------------------------------------ */

struct seqs {
	uint64_t v[MAXREQ];
	size_t n;
};

static int
seq_cb(json_t *req, uint64_t seq, void *vctx)
{
	struct seqs *q = vctx;

	(void)req;
	if (q->n >= MAXREQ)
		return JIT_ERR_INTERNAL;
	q->v[q->n++] = seq;
	return 0;
}

enum which { BY_USER, BY_ROLE, BY_END };

struct list_ctx {
	enum which which;
	const char *name, *state;
	struct jit_store_list opt;
	struct seqs *out;
};

static int
list_fn(struct jit_store_txn *t, void *vctx)
{
	struct list_ctx *c = vctx;

	if (c->which == BY_USER)
		return jit_store_list_by_user_state(t, c->name, c->state,
		    &c->opt, seq_cb, c->out);
	if (c->which == BY_ROLE)
		return jit_store_list_by_role_state(t, c->name, c->state,
		    &c->opt, seq_cb, c->out);
	return jit_store_list_by_state_end(t, c->state, seq_cb, c->out);
}

/* The model's answer: requests matching which/name/state, in creation
 * order (by_state_end: latest not_after first, none before all). */
static int
model_match(const struct mreq *q, enum which w, int name, int state)
{
	if (q->state != state)
		return 0;
	if (w == BY_USER)
		return q->user == name;
	if (w == BY_ROLE)
		return q->role == name;
	return 1;
}

static uint64_t
end_key(const struct mreq *q)
{
	return q->not_after != 0 ? q->not_after : UINT64_MAX;
}

static void
model_list(const struct model *m, enum which w, int name, int state,
    struct seqs *out)
{
	const struct mreq *sorted[MAXREQ];
	size_t n = 0;

	for (size_t i = 0; i < m->n; i++)
		if (model_match(&m->r[i], w, name, state))
			sorted[n++] = &m->r[i];
	/* Insertion sort: by seq, or for BY_END by (end, seq) descending. */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0; j--) {
			const struct mreq *a = sorted[j - 1], *b = sorted[j];
			int swap = w == BY_END ?
			    (end_key(a) < end_key(b) || (end_key(a) ==
			    end_key(b) && a->seq < b->seq)) : a->seq > b->seq;
			if (!swap)
				break;
			sorted[j - 1] = b;
			sorted[j] = a;
		}
	out->n = n;
	for (size_t i = 0; i < n; i++)
		out->v[i] = sorted[i]->seq;
}

static int
same(const struct seqs *a, const struct seqs *b)
{
	return a->n == b->n && memcmp(a->v, b->v, a->n * sizeof(a->v[0])) == 0;
}

static void
check_list(struct jit_store *s, const struct model *m, enum which w, int name,
    int state)
{
	static struct seqs want, got, page;
	const char *nm = w == BY_USER ? users[name] : w == BY_ROLE ?
	    roles[name] : NULL;
	struct list_ctx c = { w, nm, states[state], { 0, 0, 0 }, &got };
	size_t i;

	model_list(m, w, name, state, &want);
	got.n = 0;
	CHECK_OK(jit_store_read(s, list_fn, &c));
	if (!same(&want, &got)) {
		CHECK(same(&want, &got));
		fprintf(stderr, "  list %d %s %s: %zu wanted, %zu got\n", w,
		    nm != NULL ? nm : "-", states[state], want.n, got.n);
		return;
	}
	if (w == BY_END)
		return;
	/* Newest first in pages of 3, each starting before the last seq
	 * of the one before: the whole list, reversed. */
	got.n = 0;
	c.opt.descending = 1;
	c.opt.limit = 3;
	c.out = &page;
	for (;;) {
		page.n = 0;
		CHECK_OK(jit_store_read(s, list_fn, &c));
		for (i = 0; i < page.n; i++)
			got.v[got.n++] = page.v[i];
		if (page.n < 3)
			break;
		c.opt.after = page.v[page.n - 1];
	}
	CHECK_U64(got.n, want.n);
	for (i = 0; i < want.n && i < got.n; i++)
		if (got.v[i] != want.v[want.n - 1 - i]) {
			CHECK_U64(got.v[i], want.v[want.n - 1 - i]);
			break;
		}
}

struct count_ctx {
	const char *user, *state;
	uint64_t max, n;
};

static int
count_fn(struct jit_store_txn *t, void *vctx)
{
	struct count_ctx *c = vctx;

	if (c->user == NULL)
		return jit_store_count_by_state(t, c->state, &c->n);
	return jit_store_count_by_user_state(t, c->user, c->state, c->max,
	    &c->n);
}

static void
verify(struct jit_store *s, const struct model *m)
{
	for (int st = 0; st < NSTATES; st++) {
		struct count_ctx cc = { NULL, states[st], 0, 0 };
		uint64_t want = 0;

		for (size_t i = 0; i < m->n; i++)
			want += m->r[i].state == st;
		CHECK_OK(jit_store_read(s, count_fn, &cc));
		CHECK_U64(cc.n, want);
		check_list(s, m, BY_END, 0, st);
		for (int u = 0; u < NUSERS; u++) {
			struct seqs mine;

			check_list(s, m, BY_USER, u, st);
			model_list(m, BY_USER, u, st, &mine);
			cc.user = users[u];
			cc.max = 0;
			CHECK_OK(jit_store_read(s, count_fn, &cc));
			CHECK_U64(cc.n, mine.n);
			cc.max = 2;
			CHECK_OK(jit_store_read(s, count_fn, &cc));
			CHECK_U64(cc.n, mine.n < 2 ? mine.n : 2);
		}
		for (int r = 0; r < NROLES; r++)
			check_list(s, m, BY_ROLE, r, st);
	}
}

/* ---- the outbox through the upgrades ----------------------------------- */

static int
outbox_fn(struct jit_store_txn *t, void *vctx)
{
	json_t *rec = json_pack("{s:I, s:s}", "created_at", (json_int_t)1000,
	    "event", "request.create");
	uint64_t seq = 0;
	int r;

	(void)vctx;
	REQUIRE(rec != NULL);
	if ((r = jit_store_outbox_add(t, "hook", rec, NULL)) == 0 &&
	    (r = jit_store_outbox_add(t, "mail", rec, &seq)) == 0)
		r = jit_store_outbox_put(t, "mail", seq, JIT_OUTBOX_FAILED,
		    rec);
	json_decref(rec);
	return r;
}

static int
outbox_stats_fn(struct jit_store_txn *t, void *vctx)
{
	return jit_store_outbox_stats(t, vctx);
}

/* The outbox holds queued and failed entries. */
static void
check_outbox(struct jit_store *s, uint64_t queued, uint64_t failed)
{
	struct jit_outbox_stats st;

	REQUIRE_OK(jit_store_read(s, outbox_stats_fn, &st));
	CHECK_U64(st.queued, queued);
	CHECK_U64(st.failed, failed);
	CHECK_U64(st.oldest, queued > 0 ? 1000 : 0);
}

/* ---- schema 2 as it was -------------------------------------------------- */

static void
meta_schema(MDB_txn *txn, MDB_dbi meta, uint64_t *get, const uint64_t *set)
{
	unsigned char b[8];
	MDB_val k = { 6, "schema" }, v = { 8, b };

	if (set != NULL) {
		for (int i = 0; i < 8; i++)
			b[i] = (unsigned char)(*set >> (56 - 8 * i));
		REQUIRE(mdb_put(txn, meta, &k, &v, 0) == 0);
		return;
	}
	REQUIRE(mdb_get(txn, meta, &k, &v) == 0 && v.mv_size == 8);
	*get = 0;
	for (int i = 0; i < 8; i++)
		*get = (*get << 8) | ((const unsigned char *)v.mv_data)[i];
}

enum raw { RAW_READ, RAW_V2, RAW_V2_NO_OUTBOX };

/* Drop the schema 3 tables and record schema 2 (with LMDB directly: the
 * store no longer writes that format), RAW_V2_NO_OUTBOX also the outbox
 * (a store from before notifications), or (RAW_READ) read the schema.
 * The store must be closed (one environment per process and file). */
static uint64_t
raw_schema(const char *sdir, enum raw how)
{
	/* Schema 3's tables, then the outbox. */
	static const char *const drop[] = { "by_user_state", "by_role_state",
	    "by_state_end", "req_keys", "state_counts", "outbox" };
	size_t ndrop = how == RAW_READ ? 0 : how == RAW_V2 ? 5 : 6;
	const uint64_t two = 2;
	uint64_t schema = 0;
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi db;

	REQUIRE(mdb_env_create(&env) == 0);
	REQUIRE(mdb_env_set_maxdbs(env, 32) == 0);
	REQUIRE(mdb_env_set_mapsize(env, JIT_STORE_DEFAULT_MAP_SIZE) == 0);
	REQUIRE(mdb_env_open(env, sdir, 0, 0600) == 0);
	REQUIRE(mdb_txn_begin(env, NULL, 0, &txn) == 0);
	for (size_t i = 0; i < ndrop; i++) {
		REQUIRE(mdb_dbi_open(txn, drop[i], 0, &db) == 0);
		REQUIRE(mdb_drop(txn, db, 1) == 0);
	}
	REQUIRE(mdb_dbi_open(txn, "meta", 0, &db) == 0);
	meta_schema(txn, db, &schema, how != RAW_READ ? &two : NULL);
	REQUIRE(mdb_txn_commit(txn) == 0);
	mdb_env_close(env);
	return how != RAW_READ ? 2 : schema;
}

/* PostgreSQL: fresh, taken back to version 2 and migrated, changed. */
static void
pg_main(struct model *m, const char *sdir)
{
	struct jit_store_options o = { 0 };
	struct jit_store *s = NULL;
	char schema[16], err[256];

	REQUIRE_OK(test_store_open(sdir, JIT_STORE_SERVER, &s));
	apply(s, m, 6);
	REQUIRE(m->n > 100);
	verify(s, m);
	REQUIRE_OK(jit_store_write(s, outbox_fn, NULL));
	check_outbox(s, 1, 1);
	jit_store_close(s);

	REQUIRE(test_pg_exec_in(sdir, TEST_PG_DOWN_TO_2) == 0);
	o.flags = JIT_STORE_READONLY;
	o.err = err;
	o.errlen = sizeof(err);
	test_store_options(sdir, &o, schema);
	CHECK_INT(jit_store_open_opts(sdir, &o, &s), JIT_ERR_STORE);
	CHECK(strstr(err, "jit-ca store migrate") != NULL);
	o.flags = JIT_STORE_SERVER;
	if (jit_store_open_opts(sdir, &o, &s) != 0)
		fprintf(stderr, "migrating: %s\n", err);
	REQUIRE(s != NULL);
	verify(s, m);
	check_outbox(s, 1, 1);
	apply(s, m, 4);
	verify(s, m);
	jit_store_close(s);
	REQUIRE_OK(test_store_open(sdir, JIT_STORE_READONLY, &s));
	verify(s, m);
	jit_store_close(s);
}

int
main(void)
{
	static struct model m;
	char *sdir = store_dir_new("store-index");
	struct jit_store *s = NULL;

	m.rnd = 20240611u;
	if (test_pg_url() != NULL) {
		pg_main(&m, sdir);
		store_dir_remove(sdir);
		TEST_DONE();
	}
	REQUIRE_OK(jit_store_open(sdir, JIT_STORE_SERVER, &s));
	apply(s, &m, 6);
	REQUIRE(m.n > 100);
	verify(s, &m);
	REQUIRE_OK(jit_store_write(s, outbox_fn, NULL));
	check_outbox(s, 1, 1);
	jit_store_close(s);

	/* The same data as schema 2 wrote it, with an outbox. */
	raw_schema(sdir, RAW_V2);
	REQUIRE_OK(jit_store_open(sdir, JIT_STORE_READONLY, &s));
	verify(s, &m);
	check_outbox(s, 1, 1);
	CHECK_INT(jit_store_write(s, ops_fn, NULL), JIT_ERR_PERMISSION);
	jit_store_close(s);
	CHECK_U64(raw_schema(sdir, RAW_READ), 2);

	/* Opened for writing, it is upgraded, and kept up to date; the
	 * outbox is as it was. */
	REQUIRE_OK(jit_store_open(sdir, JIT_STORE_SERVER, &s));
	verify(s, &m);
	check_outbox(s, 1, 1);
	apply(s, &m, 4);
	verify(s, &m);
	jit_store_close(s);
	CHECK_U64(raw_schema(sdir, RAW_READ), 3);
	REQUIRE_OK(jit_store_open(sdir, JIT_STORE_READONLY, &s));
	verify(s, &m);
	check_outbox(s, 1, 1);
	jit_store_close(s);

	/* Schema 2 from before notifications: no outbox.  A READONLY view
	 * sees it empty; the upgrade creates it along with schema 3's
	 * tables. */
	raw_schema(sdir, RAW_V2_NO_OUTBOX);
	REQUIRE_OK(jit_store_open(sdir, JIT_STORE_READONLY, &s));
	verify(s, &m);
	check_outbox(s, 0, 0);
	jit_store_close(s);
	REQUIRE_OK(jit_store_open(sdir, JIT_STORE_SERVER, &s));
	verify(s, &m);
	check_outbox(s, 0, 0);
	REQUIRE_OK(jit_store_write(s, outbox_fn, NULL));
	check_outbox(s, 1, 1);
	apply(s, &m, 2);
	verify(s, &m);
	jit_store_close(s);
	CHECK_U64(raw_schema(sdir, RAW_READ), 3);
	store_dir_remove(sdir);
	TEST_DONE();
}
