/*
 * pg_requests.c - the PostgreSQL backend's request rows (pg_int.h):
 * create, put, get, listing by the indexes, the due list, counting, and
 * walking them all for a copy.
 */
#include "pg_int.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"

/* The largest bound a bigint column can be compared with. */
#define PG_INT_MAX ((uint64_t)INT64_MAX)

/* ---- create and put ------------------------------------------------------ */

/* Insert request id with sequence number seq; CONFLICT if the id (or,
 * in a damaged store, the seq) exists, leaving the transaction usable. */
static int
insert(struct jit_store_txn *t, const char *id, const char *state,
    const char *user, const char *js, size_t jl, uint64_t seq,
    uint64_t deadline)
{
	char sb[21], db[21];
	const char *p[6] = { id, jit_pg_u64_text(seq, sb), state, user,
	    jit_pg_u64_text(deadline, db), js };
	int lens[6] = { -1, -1, -1, -1, -1, (int)jl };
	PGresult *res = NULL;
	int r;

	if (jl > INT32_MAX || deadline > PG_INT_MAX || seq > PG_INT_MAX)
		return JIT_ERR_INVALID_ARGUMENT;
	if ((r = jit_pg_run(t->pc, ST_REQ_INSERT, 6, p, lens, &res)) != 0)
		return r;
	r = jit_pg_one_row(res);
	PQclear(res);
	return r;
}

int
jit_pg_create_request(struct jit_store_txn *t, const char *id,
    const char *state, const char *user, const char *js, size_t jl,
    uint64_t deadline, uint64_t *seq)
{
	struct jit_pg_head *h = jit_pg_head_of(t);
	int r;

	if (h == NULL)
		return JIT_ERR_INTERNAL;
	if ((r = insert(t, id, state, user, js, jl, h->next_request_seq,
	    deadline)) != 0)
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
	if ((r = insert(t, rq->id, rq->state, rq->user, rq->js, rq->jl,
	    rq->seq, rq->deadline)) != 0)
		return r;
	if (rq->seq >= h->next_request_seq) {
		h->next_request_seq = rq->seq + 1;
		jit_pg_head_changed(t);
	}
	return 0;
}

int
jit_pg_put_request(struct jit_store_txn *t, const char *id,
    const char *state, const char *user, const char *js, size_t jl,
    uint64_t deadline)
{
	char db[21];
	const char *p[5] = { id, state, user, jit_pg_u64_text(deadline, db),
	    js };
	int lens[5] = { -1, -1, -1, -1, (int)jl };

	if (jl > INT32_MAX || deadline > PG_INT_MAX)
		return JIT_ERR_INVALID_ARGUMENT;
	/* Not waited for: a request that is not there fails the closure
	 * with NOT_FOUND (store.h). */
	return jit_pg_run_later(t->pc, ST_REQ_UPDATE, 5, p, lens,
	    JIT_ERR_NOT_FOUND);
}

/* ---- get ----------------------------------------------------------------- */

/*
 * A request's stored bytes for jit_store_request_unchanged(): everything
 * its row holds, seq, deadline, state, user and body, each field
 * followed by a NUL.
 */
static int
row_raw(const PGresult *res, void **raw, size_t *rawlen)
{
	size_t n = 0, off = 0;
	char *p;

	for (int j = 0; j < 5; j++)
		n += (size_t)PQgetlength(res, 0, j) + 1;
	if ((p = malloc(n)) == NULL)
		return JIT_ERR_ALLOC;
	for (int j = 0; j < 5; j++) {
		size_t l = (size_t)PQgetlength(res, 0, j);

		memcpy(p + off, PQgetvalue(res, 0, j), l);
		off += l;
		p[off++] = '\0';
	}
	*raw = p;
	*rawlen = n;
	return 0;
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
out:
	PQclear(res);
	return r;
}

int
jit_pg_request_unchanged(struct jit_store_txn *t, const char *id,
    const void *raw, size_t rawlen)
{
	PGresult *res = NULL;
	void *now = NULL;
	size_t nl = 0;
	int r;

	if ((r = get_row(t, id, &res)) != 0)
		return r;
	if ((r = row_raw(res, &now, &nl)) == 0)
		r = nl == rawlen && memcmp(now, raw, nl) == 0 ? 0 :
		    JIT_ERR_CONFLICT;
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
	uint64_t bound = opt->after;

	if (opt->descending) {
		if (bound == 0 || bound > PG_INT_MAX)
			bound = PG_INT_MAX;
	} else if (bound >= PG_INT_MAX) {
		return 0;
	}
	jit_pg_u64_text(bound, w.seq);
	return jit_pg_walk(t->pc, opt->descending ? desc[ix] : asc[ix], 3, p,
	    opt->limit, req_row, &w);
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
jit_pg_count_by_state(struct jit_store_txn *t, const char *state,
    uint64_t *count)
{
	const char *p[1] = { state };

	return jit_pg_run_u64(t->pc, ST_REQ_COUNT, 1, p, count);
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
