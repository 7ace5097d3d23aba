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

/* ---- listing ------------------------------------------------------------- */

/* Call cb for each row (seq in column sc, body in column bc) of res;
 * *last is the last row's seq; cb's result (1: stop). */
static int
visit_rows(const PGresult *res, int sc, int bc, jit_store_request_cb cb,
    void *ctx, uint64_t *last)
{
	json_t *req = NULL;
	uint64_t seq;
	int r = 0;

	for (int i = 0; i < PQntuples(res) && r == 0; i++) {
		if ((r = jit_pg_get_u64(res, i, sc, &seq)) != 0 ||
		    (r = jit_pg_get_json(res, i, bc, 1, &req)) != 0)
			return r;
		*last = seq;
		r = cb(req, seq, ctx);
		json_decref(req);
	}
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
	enum jit_pg_stmt st = opt->descending ? desc[ix] : asc[ix];
	char bb[21], lb[21];
	const char *p[3] = { name, bb, lb };
	uint64_t bound = opt->after, left = opt->limit, chunk;
	PGresult *res = NULL;
	int r, n;

	if (opt->descending) {
		if (bound == 0 || bound > PG_INT_MAX)
			bound = PG_INT_MAX;
	} else if (bound >= PG_INT_MAX) {
		return 0;
	}
	for (;;) {
		chunk = opt->limit != 0 && left < PG_CHUNK ? left : PG_CHUNK;
		if (chunk == 0)
			return 0;
		jit_pg_u64_text(bound, bb);
		jit_pg_u64_text(chunk, lb);
		if ((r = jit_pg_run(t->pc, st, 3, p, NULL, &res)) != 0)
			return r;
		n = PQntuples(res);
		r = visit_rows(res, 0, 1, cb, ctx, &bound);
		PQclear(res);
		if (r != 0)
			return r > 0 ? 0 : r;
		if ((uint64_t)n < chunk)
			return 0;
		left -= (uint64_t)n;
	}
}

int
jit_pg_list_due(struct jit_store_txn *t, uint64_t now,
    jit_store_request_cb cb, void *ctx)
{
	char nb[21], db[21], sb[21], lb[21];
	const char *p[4] = { nb, db, sb, lb };
	uint64_t dl = 0, seq = 0;
	PGresult *res = NULL;
	int r, n;

	jit_pg_u64_text(now > PG_INT_MAX ? PG_INT_MAX : now, nb);
	jit_pg_u64_text(PG_CHUNK, lb);
	for (;;) {
		jit_pg_u64_text(dl, db);
		jit_pg_u64_text(seq, sb);
		if ((r = jit_pg_run(t->pc, ST_REQ_DUE, 4, p, NULL, &res)) != 0)
			return r;
		n = PQntuples(res);
		if (n > 0 && (r = jit_pg_get_u64(res, n - 1, 0, &dl)) != 0) {
			PQclear(res);
			return r;
		}
		r = visit_rows(res, 1, 2, cb, ctx, &seq);
		PQclear(res);
		if (r != 0)
			return r > 0 ? 0 : r;
		if (n < PG_CHUNK)
			return 0;
	}
}

int
jit_pg_count_by_state(struct jit_store_txn *t, const char *state,
    uint64_t *count)
{
	const char *p[1] = { state };
	PGresult *res = NULL;
	int r;

	if ((r = jit_pg_run(t->pc, ST_REQ_COUNT, 1, p, NULL, &res)) != 0)
		return r;
	r = jit_pg_get_u64(res, 0, 0, count);
	PQclear(res);
	return r;
}

/* ---- copying out --------------------------------------------------------- */

int
jit_pg_raw_requests(struct jit_store_txn *t, jit_store__raw_request_cb cb,
    void *ctx)
{
	struct jit_store_raw_request rq;
	char ab[21], lb[21];
	const char *p[2] = { ab, lb };
	uint64_t after = 0;
	PGresult *res = NULL;
	int r = 0, n;

	jit_pg_u64_text(PG_CHUNK, lb);
	for (;;) {
		jit_pg_u64_text(after, ab);
		if ((r = jit_pg_run(t->pc, ST_REQ_RAW, 2, p, NULL, &res)) != 0)
			return r;
		n = PQntuples(res);
		for (int i = 0; i < n && r == 0; i++) {
			memset(&rq, 0, sizeof(rq));
			if ((r = jit_pg_get_u64(res, i, 1, &rq.seq)) != 0 ||
			    (r = jit_pg_get_u64(res, i, 2, &rq.deadline)) != 0)
				break;
			rq.id = PQgetvalue(res, i, 0);
			rq.state = PQgetvalue(res, i, 3);
			rq.user = PQgetvalue(res, i, 4);
			rq.js = PQgetvalue(res, i, 5);
			rq.jl = (size_t)PQgetlength(res, i, 5);
			after = rq.seq;
			r = cb(&rq, ctx);
		}
		PQclear(res);
		if (r != 0)
			return r > 0 ? 0 : r;
		if (n < PG_CHUNK)
			return 0;
	}
}
