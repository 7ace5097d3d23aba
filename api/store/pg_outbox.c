/*
 * pg_outbox.c - the PostgreSQL backend's notification outbox (pg_int.h;
 * store.h, "notification outbox"): rows of jit_outbox, the sequence
 * counter and the delivered total in the head row, so that, like request
 * sequence numbers, entries are numbered in commit order without gaps
 * across the nodes (every write batch holds the head row).
 *
 * Several nodes: every node may add entries (in the transaction of the
 * change they report); the deliverer that reads and settles them runs on
 * the node holding the "notify" job lock (api/notify/deliver.c).  A put
 * or done for an entry that another node settled meanwhile finds no row:
 * NOT_FOUND, as for an entry removed by hand.
 */
#include "pg_int.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"

#define PG_INT_MAX ((uint64_t)INT64_MAX)

/* Insert (ST_OB_INSERT) or update (ST_OB_UPDATE) entry e with sequence
 * number seq: the command's rows in *rows. */
static int
write_entry(struct jit_store_txn *t, enum jit_pg_stmt st,
    const struct jit_store_outbox_entry *e, uint64_t seq, int *rows)
{
	char sb[21], cb[21];
	const char *p[5] = { jit_pg_u64_text(seq, sb), e->endpoint,
	    e->st == JIT_OUTBOX_FAILED ? "t" : "f",
	    jit_pg_u64_text(e->created, cb), e->js };
	int lens[5] = { -1, -1, -1, -1, (int)e->jl };
	PGresult *res = NULL;
	int r;

	if (e->jl > INT32_MAX || seq > PG_INT_MAX || e->created > PG_INT_MAX)
		return JIT_ERR_INVALID_ARGUMENT;
	if ((r = jit_pg_run(t->pc, st, 5, p, lens, &res)) != 0)
		return r;
	*rows = jit_pg_one_row(res) == 0;
	PQclear(res);
	return 0;
}

int
jit_pg_outbox_add(struct jit_store_txn *t,
    const struct jit_store_outbox_entry *e, uint64_t *seq)
{
	struct jit_pg_head *h = jit_pg_head_of(t);
	int r, rows = 0;

	if (h == NULL)
		return JIT_ERR_INTERNAL;
	if (h->next_outbox_seq == 0 || h->next_outbox_seq >= PG_INT_MAX)
		return JIT_ERR_STORE_FULL;
	if ((r = write_entry(t, ST_OB_INSERT, e, h->next_outbox_seq,
	    &rows)) != 0)
		return r;
	if (rows != 1)
		return JIT_ERR_STORE_CORRUPT;  /* a row past the counter */
	*seq = h->next_outbox_seq++;
	jit_pg_head_changed(t);
	return 0;
}

int
jit_pg_put_raw_outbox(struct jit_store_txn *t,
    const struct jit_store_outbox_entry *e)
{
	struct jit_pg_head *h = jit_pg_head_of(t);
	int r, rows = 0;

	if (h == NULL)
		return JIT_ERR_INTERNAL;
	if ((r = write_entry(t, ST_OB_INSERT, e, e->seq, &rows)) != 0)
		return r;
	if (rows != 1)
		return JIT_ERR_CONFLICT;
	if (e->seq >= h->next_outbox_seq) {
		h->next_outbox_seq = e->seq + 1;
		jit_pg_head_changed(t);
	}
	return 0;
}

int
jit_pg_outbox_put(struct jit_store_txn *t,
    const struct jit_store_outbox_entry *e)
{
	int r, rows = 0;

	if ((r = write_entry(t, ST_OB_UPDATE, e, e->seq, &rows)) != 0)
		return r;
	return rows == 1 ? 0 : JIT_ERR_NOT_FOUND;
}

int
jit_pg_outbox_done(struct jit_store_txn *t, const char *endpoint,
    uint64_t seq)
{
	struct jit_pg_head *h = jit_pg_head_of(t);
	char sb[21];
	const char *p[2] = { jit_pg_u64_text(seq, sb), endpoint };
	PGresult *res = NULL;
	int r;

	if (h == NULL)
		return JIT_ERR_INTERNAL;
	if ((r = jit_pg_run(t->pc, ST_OB_DELETE, 2, p, NULL, &res)) != 0)
		return r;
	r = jit_pg_one_row(res) == 0 ? 0 : JIT_ERR_NOT_FOUND;
	PQclear(res);
	if (r == 0) {
		h->outbox_delivered++;
		jit_pg_head_changed(t);
	}
	return r;
}

int
jit_pg_outbox_first(struct jit_store_txn *t, const char *endpoint,
    uint64_t *seq, json_t **rec)
{
	const char *p[1] = { endpoint };
	PGresult *res = NULL;
	uint64_t n;
	int r;

	if ((r = jit_pg_run(t->pc, ST_OB_FIRST, 1, p, NULL, &res)) != 0)
		return r;
	if (PQntuples(res) == 0)
		r = JIT_ERR_NOT_FOUND;
	else if ((r = jit_pg_get_u64(res, 0, 0, &n)) == 0 &&
	    (r = jit_pg_get_json(res, 0, 1, 1, rec)) == 0)
		*seq = n;
	PQclear(res);
	return r;
}

/* A walk over the outbox in list order; where the next chunk starts. */
struct outbox_walk {
	jit_store_outbox_cb cb;
	void *ctx;
	char failed[2];
	char endpoint[MAX_NAME + 1];
	char seq[21];
};

static int
outbox_row(const PGresult *res, int i, void *vctx)
{
	struct outbox_walk *w = vctx;
	const char *f = PQgetvalue(res, i, 0), *ep = PQgetvalue(res, i, 1);
	uint64_t seq;
	json_t *rec;
	int r;

	if ((f[0] != 't' && f[0] != 'f') || f[1] != '\0' ||
	    jit_store__check_name(ep, MAX_NAME) != 0)
		return JIT_ERR_STORE_CORRUPT;
	if ((r = jit_pg_get_u64(res, i, 2, &seq)) != 0 ||
	    (r = jit_pg_get_json(res, i, 3, 1, &rec)) != 0)
		return r;
	w->failed[0] = f[0];
	memcpy(w->endpoint, ep, strlen(ep) + 1);
	jit_pg_u64_text(seq, w->seq);
	r = w->cb(w->endpoint, seq, f[0] == 't' ? JIT_OUTBOX_FAILED :
	    JIT_OUTBOX_QUEUED, rec, w->ctx);
	json_decref(rec);
	return r;
}

int
jit_pg_outbox_list(struct jit_store_txn *t, int failed_only,
    jit_store_outbox_cb cb, void *ctx)
{
	/* Rows after (failed_only, "", 0): every failed one, or all. */
	struct outbox_walk w = { cb, ctx, "f", "", "0" };
	const char *p[4] = { w.failed, w.endpoint, w.seq, NULL };

	if (failed_only)
		w.failed[0] = 't';
	return jit_pg_walk(t->pc, ST_OB_LIST, 4, p, 0, outbox_row, &w);
}

int
jit_pg_outbox_stats(struct jit_store_txn *t, struct jit_outbox_stats *st)
{
	struct jit_pg_head h;
	PGresult *res = NULL;
	int r;

	if ((r = jit_pg_head_get(t, &h)) != 0)
		return r;
	st->delivered = h.outbox_delivered;
	if ((r = jit_pg_run(t->pc, ST_OB_STATS, 0, NULL, NULL, &res)) != 0)
		return r;
	if (PQntuples(res) != 1)
		r = JIT_ERR_STORE_CORRUPT;
	else if ((r = jit_pg_get_u64(res, 0, 0, &st->queued)) == 0 &&
	    (r = jit_pg_get_u64(res, 0, 1, &st->failed)) == 0)
		r = jit_pg_get_u64(res, 0, 2, &st->oldest);
	PQclear(res);
	return r;
}
