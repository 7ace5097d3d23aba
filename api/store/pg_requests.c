/*
 * pg_requests.c - the PostgreSQL backend's request rows (pg_int.h):
 * create, put, get, listing by the indexes, the due list, counting, and
 * walking them all for a copy.  The count of each state is kept by the
 * triggers of the version 3 migration (pg_env.c), so every statement that
 * writes a row keeps it in the same transaction.
 */
#include "pg_int.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"

/* The largest bound a bigint column can be compared with. */
#define PG_INT_MAX ((uint64_t)INT64_MAX)

/* ---- create and put ------------------------------------------------------ */

/* The not_after column of rq: PG_NO_END for none (and for a time past
 * what a bigint holds, which no RFC 3339 time of four digits is). */
static const char *
end_text(const struct jit_store_raw_request *rq, char buf[21])
{
	return jit_pg_u64_text(rq->not_after != 0 &&
	    rq->not_after < PG_NO_END ? rq->not_after : PG_NO_END, buf);
}

/*
 * A request's stored bytes for jit_store_request_unchanged(): everything
 * its row holds, seq, deadline, state, user and body (role and not_after
 * come from the body), each followed by a NUL; from a row of ST_REQ_GET
 * or, for the writer's cache, from what a write stores.
 */
#define RAW_FIELDS 5

static int
make_raw(const char *const f[RAW_FIELDS], const size_t l[RAW_FIELDS],
    void **raw, size_t *rawlen)
{
	size_t n = 0, off = 0;
	char *p;

	for (int j = 0; j < RAW_FIELDS; j++)
		n += l[j] + 1;
	if ((p = malloc(n)) == NULL)
		return JIT_ERR_ALLOC;
	for (int j = 0; j < RAW_FIELDS; j++) {
		memcpy(p + off, f[j], l[j]);
		off += l[j];
		p[off++] = '\0';
	}
	*raw = p;
	*rawlen = n;
	return 0;
}

static int
row_raw(const PGresult *res, void **raw, size_t *rawlen)
{
	const char *f[RAW_FIELDS];
	size_t l[RAW_FIELDS];

	for (int j = 0; j < RAW_FIELDS; j++) {
		f[j] = PQgetvalue(res, 0, j);
		l[j] = (size_t)PQgetlength(res, 0, j);
	}
	return make_raw(f, l, raw, rawlen);
}

/*
 * What rq's row is after a write, in the writer's cache: seq is the
 * row's (NULL: an update, which keeps the seq the cache has; without
 * one, or out of memory, the entry goes, a miss later).
 */
static void
cache_row(struct jit_store_txn *t, const struct jit_store_raw_request *rq,
    const char *seq)
{
	char db[21], sb[21];
	const char *f[RAW_FIELDS] = { seq, jit_pg_u64_text(rq->deadline, db),
	    rq->state, rq->user, rq->js };
	size_t l[RAW_FIELDS];
	const char *old;
	void *raw = NULL;
	size_t len = 0;

	if (!t->write)
		return;
	if (seq == NULL && jit_pg_cache_get(t, PG_C_REQ, rq->id, &old, &len) &&
	    old != NULL && strlen(old) < sizeof(sb))
		f[0] = memcpy(sb, old, strlen(old) + 1);
	if (f[0] == NULL) {
		jit_pg_cache_drop(t, PG_C_REQ, rq->id);
		return;
	}
	for (int j = 0; j < RAW_FIELDS - 1; j++)
		l[j] = strlen(f[j]);
	l[RAW_FIELDS - 1] = rq->jl;
	if (make_raw(f, l, &raw, &len) == 0)
		jit_pg_cache_put(t, PG_C_REQ, rq->id, raw, len);
	else
		jit_pg_cache_drop(t, PG_C_REQ, rq->id);
	free(raw);
}

/*
 * Insert request rq with sequence number seq; CONFLICT if the id (or, in
 * a damaged store, the seq) exists, leaving the transaction usable.  With
 * later, deferred (pg_defer.c): that CONFLICT is then the batch's.
 */
static int
insert(struct jit_store_txn *t, const struct jit_store_raw_request *rq,
    uint64_t seq, int later)
{
	char sb[21], db[21], nb[21];
	const char *p[8] = { rq->id, jit_pg_u64_text(seq, sb), rq->state,
	    rq->user, jit_pg_u64_text(rq->deadline, db), rq->js, rq->role,
	    end_text(rq, nb) };
	int lens[8] = { -1, -1, -1, -1, -1, (int)rq->jl, -1, -1 };
	PGresult *res = NULL;
	int r;

	if (rq->jl > INT32_MAX || rq->deadline > PG_INT_MAX ||
	    seq > PG_INT_MAX)
		return JIT_ERR_INVALID_ARGUMENT;
	if (later) {
		size_t dl[8];

		for (int j = 0; j < 8; j++)
			dl[j] = p[j] == NULL ? 0 : j == 5 ? rq->jl :
			    strlen(p[j]);
		r = jit_pg_defer_add(PG(t), PG_D_REQ, p, dl);
	} else if ((r = jit_pg_run(t->pc, ST_REQ_INSERT, 8, p, lens, &res))
	    == 0) {
		r = jit_pg_one_row(res);
		PQclear(res);
	}
	if (r == 0)
		cache_row(t, rq, p[1]);
	return r;
}

int
jit_pg_create_request(struct jit_store_txn *t,
    const struct jit_store_raw_request *rq, uint64_t *seq)
{
	struct jit_pg_head *h = jit_pg_head_of(t);
	int r;

	if (h == NULL)
		return JIT_ERR_INTERNAL;
	/*
	 * Deferred (pg_defer.c: one INSERT per batch): an id that exists
	 * fails the batch with CONFLICT when its rows are sent, not this
	 * call, so a fresh id that clashed (60 random bits) is not drawn
	 * again (store.c): the create fails instead, overwriting nothing.
	 */
	if ((r = insert(t, rq, h->next_request_seq, 1)) != 0)
		return r;
	if (seq != NULL)
		*seq = h->next_request_seq;
	h->next_request_seq++;
	jit_pg_head_changed(t);
	return 0;
}

int
jit_pg_put_raw_request(struct jit_store_txn *t,
    const struct jit_store_raw_request *rq)
{
	struct jit_pg_head *h = jit_pg_head_of(t);
	int r;

	if (h == NULL)
		return JIT_ERR_INTERNAL;
	if ((r = insert(t, rq, rq->seq, 0)) != 0)
		return r;
	if (rq->seq >= h->next_request_seq) {
		h->next_request_seq = rq->seq + 1;
		jit_pg_head_changed(t);
	}
	return 0;
}

int
jit_pg_put_request(struct jit_store_txn *t,
    const struct jit_store_raw_request *rq)
{
	char db[21], nb[21];
	const char *p[7] = { rq->id, rq->state, rq->user,
	    jit_pg_u64_text(rq->deadline, db), rq->js, rq->role,
	    end_text(rq, nb) };
	int lens[7] = { -1, -1, -1, -1, (int)rq->jl, -1, -1 };
	int r;

	if (rq->jl > INT32_MAX || rq->deadline > PG_INT_MAX)
		return JIT_ERR_INVALID_ARGUMENT;
	if (t->write) {
		/* Deferred (pg_defer.c): a request that is not there fails
		 * the batch (store.h), which empties the cache. */
		size_t dl[7];

		for (int j = 0; j < 7; j++)
			dl[j] = p[j] == NULL ? 0 : j == 4 ? rq->jl :
			    strlen(p[j]);
		r = jit_pg_defer_add(PG(t), PG_D_UPD, p, dl);
	} else {
		r = jit_pg_run_later(t->pc, ST_REQ_UPDATE, 7, p, lens,
		    JIT_ERR_NOT_FOUND);
	}
	if (r == 0)
		cache_row(t, rq, NULL);
	return r;
}

/* ---- get ----------------------------------------------------------------- */

/* The row of res (ST_REQ_GET) in the writer's cache. */
static void
cache_fetched(struct jit_store_txn *t, const char *id, const PGresult *res)
{
	void *raw = NULL;
	size_t len = 0;

	if (row_raw(res, &raw, &len) == 0)
		jit_pg_cache_put(t, PG_C_REQ, id, raw, len);
	free(raw);
}

/* The row of request id (seq, deadline, state, usr, body) in *res;
 * NOT_FOUND. */
static int
get_row(struct jit_store_txn *t, const char *id, PGresult **res)
{
	const char *p[1] = { id };
	int r;

	if ((r = jit_pg_run(t->pc, ST_REQ_GET, 1, p, NULL, res)) != 0)
		return r;
	if (PQntuples(*res) == 1)
		return 0;
	PQclear(*res);
	*res = NULL;
	return JIT_ERR_NOT_FOUND;
}

int
jit_pg_get_request(struct jit_store_txn *t, const char *id, json_t **out,
    uint64_t *seq, void **raw, size_t *rawlen)
{
	PGresult *res = NULL;
	uint64_t sq;
	int r;

	if ((r = get_row(t, id, &res)) != 0)
		return r;
	if ((r = jit_pg_get_u64(res, 0, 0, &sq)) != 0 ||
	    (r = jit_pg_get_json(res, 0, 4, 1, out)) != 0)
		goto out;
	if (seq != NULL)
		*seq = sq;
	if (raw != NULL && (r = row_raw(res, raw, rawlen)) != 0) {
		json_decref(*out);
		*out = NULL;
	}
	if (r == 0 && t->write)
		cache_fetched(t, id, res);
out:
	PQclear(res);
	return r;
}

/*
 * In a write, the writer's cache answers when it holds the row (it is
 * current: pg_cache.c); otherwise the row is read, and kept there.
 */
int
jit_pg_request_unchanged(struct jit_store_txn *t, const char *id,
    const void *raw, size_t rawlen)
{
	PGresult *res = NULL;
	const char *cd;
	void *now = NULL;
	size_t nl = 0;
	int r;

	if (jit_pg_cache_get(t, PG_C_REQ, id, &cd, &nl)) {
		if (cd == NULL)
			return JIT_ERR_NOT_FOUND;
		return nl == rawlen && memcmp(cd, raw, nl) == 0 ? 0 :
		    JIT_ERR_CONFLICT;
	}
	if ((r = get_row(t, id, &res)) != 0)
		return r;
	if ((r = row_raw(res, &now, &nl)) == 0) {
		if (t->write)
			jit_pg_cache_put(t, PG_C_REQ, id, now, nl);
		r = nl == rawlen && memcmp(now, raw, nl) == 0 ? 0 :
		    JIT_ERR_CONFLICT;
	}
	free(now);
	PQclear(res);
	return r;
}

/* ---- listing ---------------------------------------------------------- */

/* A walk over request rows: the callback's, and where the next chunk
 * starts (the seq, and for the due list the deadline, of the last row),
 * as the text of the statement's parameters. */
struct req_walk {
	jit_store_request_cb cb;
	jit_store__raw_request_cb raw;
	void *ctx;
	int seq_col, body_col, dl_col;   /* dl_col < 0: none */
	char seq[21], dl[21];
};

static int
req_row(const PGresult *res, int i, void *vctx)
{
	struct req_walk *w = vctx;
	json_t *req = NULL;
	uint64_t seq, dl = 0;
	int r;

	if ((r = jit_pg_get_u64(res, i, w->seq_col, &seq)) != 0 ||
	    (w->dl_col >= 0 &&
	    (r = jit_pg_get_u64(res, i, w->dl_col, &dl)) != 0))
		return r;
	jit_pg_u64_text(seq, w->seq);
	jit_pg_u64_text(dl, w->dl);
	if ((r = jit_pg_get_json(res, i, w->body_col, 1, &req)) != 0)
		return r;
	r = w->cb(req, seq, w->ctx);
	json_decref(req);
	return r;
}

/* A list in seq order (statement st, n parameters p, w->seq the seq
 * bound among them) within opt's cursor and limit. */
static int
walk_seq(struct jit_store_txn *t, enum jit_pg_stmt st, int n,
    const char **p, const struct jit_store_list *opt, struct req_walk *w)
{
	uint64_t bound = opt->after;

	if (opt->descending) {
		if (bound == 0 || bound > PG_INT_MAX)
			bound = PG_INT_MAX;  /* from the newest */
	} else if (bound >= PG_INT_MAX) {
		return 0;                    /* nothing is above it */
	}
	jit_pg_u64_text(bound, w->seq);
	return jit_pg_walk(t->pc, st, n, p, opt->limit, req_row, w);
}

int
jit_pg_list_requests(struct jit_store_txn *t, enum jit_store_index ix,
    const char *name, const struct jit_store_list *opt,
    jit_store_request_cb cb, void *ctx)
{
	static const enum jit_pg_stmt asc[] = { ST_REQ_STATE_ASC,
	    ST_REQ_USER_ASC, ST_REQ_ALL_ASC };
	static const enum jit_pg_stmt desc[] = { ST_REQ_STATE_DESC,
	    ST_REQ_USER_DESC, ST_REQ_ALL_DESC };
	struct req_walk w = { cb, NULL, ctx, 0, 1, -1, "", "" };
	const char *p[3] = { name, w.seq, NULL };

	return walk_seq(t, opt->descending ? desc[ix] : asc[ix], 3, p, opt,
	    &w);
}

int
jit_pg_list_due(struct jit_store_txn *t, uint64_t now,
    jit_store_request_cb cb, void *ctx)
{
	struct req_walk w = { cb, NULL, ctx, 1, 2, 0, "0", "0" };
	char nb[21];
	const char *p[4] = { jit_pg_u64_text(now > PG_INT_MAX ? PG_INT_MAX :
	    now, nb), w.dl, w.seq, NULL };

	return jit_pg_walk(t->pc, ST_REQ_DUE, 4, p, 0, req_row, &w);
}

int
jit_pg_list_pair(struct jit_store_txn *t, enum jit_store_pair ix,
    const char *name, const char *state, const struct jit_store_list *opt,
    jit_store_request_cb cb, void *ctx)
{
	static const enum jit_pg_stmt asc[] = { ST_REQ_USTATE_ASC,
	    ST_REQ_RSTATE_ASC };
	static const enum jit_pg_stmt desc[] = { ST_REQ_USTATE_DESC,
	    ST_REQ_RSTATE_DESC };
	struct req_walk w = { cb, NULL, ctx, 0, 1, -1, "", "" };
	const char *p[4] = { name, state, w.seq, NULL };

	return walk_seq(t, opt->descending ? desc[ix] : asc[ix], 4, p, opt,
	    &w);
}

/* Latest not_after first: the walk goes on below the (not_after, seq)
 * of the last row, PG_NO_END (none) coming first. */
int
jit_pg_list_by_state_end(struct jit_store_txn *t, const char *state,
    jit_store_request_cb cb, void *ctx)
{
	struct req_walk w = { cb, NULL, ctx, 1, 2, 0, "", "" };
	const char *p[4] = { state, w.dl, w.seq, NULL };

	jit_pg_u64_text(PG_NO_END, w.dl);
	jit_pg_u64_text(PG_INT_MAX, w.seq);
	return jit_pg_walk(t->pc, ST_REQ_END, 4, p, 0, req_row, &w);
}

int
jit_pg_count_by_state(struct jit_store_txn *t, const char *state,
    uint64_t *count)
{
	const char *p[1] = { state };

	return jit_pg_run_u64(t->pc, ST_REQ_COUNT, 1, p, count);
}

/* Inside a write this is current: the batch holds the head row, so no
 * other node's batch commits meanwhile (pg_env.c). */
int
jit_pg_count_by_user_state(struct jit_store_txn *t, const char *user,
    const char *state, uint64_t max, uint64_t *count)
{
	char mb[21];
	const char *p[3] = { user, state, max != 0 && max <= PG_INT_MAX ?
	    jit_pg_u64_text(max, mb) : NULL };

	return jit_pg_run_u64(t->pc, ST_REQ_COUNT_USTATE, 3, p, count);
}

/* ---- copying out --------------------------------------------------------- */

static int
raw_row(const PGresult *res, int i, void *vctx)
{
	struct req_walk *w = vctx;
	struct jit_store_raw_request rq;
	int r;

	memset(&rq, 0, sizeof(rq));
	if ((r = jit_pg_get_u64(res, i, 1, &rq.seq)) != 0 ||
	    (r = jit_pg_get_u64(res, i, 2, &rq.deadline)) != 0)
		return r;
	rq.id = PQgetvalue(res, i, 0);
	rq.state = PQgetvalue(res, i, 3);
	rq.user = PQgetvalue(res, i, 4);
	rq.js = PQgetvalue(res, i, 5);
	rq.jl = (size_t)PQgetlength(res, i, 5);
	jit_pg_u64_text(rq.seq, w->seq);
	return w->raw(&rq, w->ctx);
}

int
jit_pg_raw_requests(struct jit_store_txn *t, jit_store__raw_request_cb cb,
    void *ctx)
{
	struct req_walk w = { NULL, cb, ctx, 1, 5, 2, "0", "" };
	const char *p[2] = { w.seq, NULL };

	return jit_pg_walk(t->pc, ST_REQ_RAW, 2, p, 0, raw_row, &w);
}

/* ---- the version 3 migration ----------------------------------------- */

/* The keys of a chunk of rows: [{"i": id, "r": role, "n": not_after}]
 * for the rows that have a role or a not_after. */
struct fill {
	struct jit_pg_conn *c;
	json_t *rows;
	char seq[21];
};

static int
fill_flush(struct fill *f)
{
	char *js = NULL;
	size_t jl;
	const char *p[1];
	int r;

	if (json_array_size(f->rows) == 0)
		return 0;
	if ((r = jit_store__dump_json(f->rows, 0, &js, &jl)) != 0)
		return r;
	p[0] = js;
	r = jit_pg_run(f->c, ST_REQ_SET_KEYS, 1, p, NULL, NULL);
	free(js);
	json_array_clear(f->rows);
	return r;
}

static int
fill_row(const PGresult *res, int i, void *vctx)
{
	struct fill *f = vctx;
	struct jit_store_raw_request rq;
	json_t *req = NULL, *row;
	char nb[21];
	uint64_t seq;
	int r;

	if ((r = jit_pg_get_u64(res, i, 1, &seq)) != 0 ||
	    (r = jit_pg_get_json(res, i, 5, 1, &req)) != 0)
		return r;
	jit_pg_u64_text(seq, f->seq);
	memset(&rq, 0, sizeof(rq));
	jit_store__request_keys(req, &rq.role, &rq.not_after);
	if (rq.role != NULL || rq.not_after != 0) {
		row = json_pack("{s:s, s:s?, s:s}", "i", PQgetvalue(res, i, 0),
		    "r", rq.role, "n", end_text(&rq, nb));
		if (row == NULL || json_array_append_new(f->rows, row) != 0)
			r = JIT_ERR_ALLOC;
	}
	json_decref(req);
	if (r == 0 && json_array_size(f->rows) >= PG_CHUNK)
		r = fill_flush(f);
	return r;
}

int
jit_pg_fill_request_keys(struct jit_pg_conn *c)
{
	struct fill f = { c, json_array(), "0" };
	const char *p[2] = { f.seq, NULL };
	int r;

	if (f.rows == NULL)
		return JIT_ERR_ALLOC;
	if ((r = jit_pg_walk(c, ST_REQ_RAW, 2, p, 0, fill_row, &f)) == 0)
		r = fill_flush(&f);
	json_decref(f.rows);
	return r;
}
