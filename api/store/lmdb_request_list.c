/*
 * lmdb_request_list.c - see store.h, "Listing": walking the request
 * indexes (by_state, by_user, by_seq, by_deadline; lmdb_int.h), counting a
 * state's requests.  Only the matching key range is visited, so the cost
 * follows what is returned, not the size of the store.
 */
#include "lmdb_int.h"

#include <string.h>

#include "err.h"

/*
 * Call cb with the request that an index entry names (its value id, the
 * request's id) and seq; cb's result is returned.  An index entry
 * without its request is STORE_CORRUPT.
 */
static int
visit(struct jit_store_txn *t, const MDB_val *id, uint64_t seq,
    jit_store_request_cb cb, void *ctx)
{
	MDB_val k = *id, d;
	json_t *req = NULL;
	int r, rc;

	if ((rc = mdb_get(t->txn, DBI(t, DB_REQUESTS), &k, &d)) != 0)
		return rc == MDB_NOTFOUND ? JIT_ERR_STORE_CORRUPT :
		    jit_lmdb_map_err(rc);
	if ((r = jit_lmdb_request_parse(LM(t), &d, &req, NULL)) != 0)
		return r;
	r = cb(req, seq, ctx);
	json_decref(req);
	return r;
}

/*
 * Walk the entries of index db whose key is prefix || be64(seq), in seq
 * order, within the bounds of opt, calling cb for each request.  prefix
 * is empty for by_seq.  Only the matching range is visited.
 */
static int
walk_index(struct jit_store_txn *t, int db, const unsigned char *prefix,
    size_t plen, const struct jit_store_list *opt, jit_store_request_cb cb,
    void *ctx)
{
	unsigned char kb[MAX_NAME + 9];
	MDB_cursor *cur = NULL;
	MDB_val k, d;
	size_t count = 0;
	uint64_t seq;
	int r = JIT_ERR_INTERNAL, rc;

	if (plen + 8 > sizeof(kb))
		return JIT_ERR_INVALID_ARGUMENT;
	memcpy(kb, prefix, plen);
	if (opt->descending)
		put_be64(kb + plen, opt->after ? opt->after : UINT64_MAX);
	else
		put_be64(kb + plen, opt->after + 1);
	if ((rc = mdb_cursor_open(t->txn, DBI(t, db), &cur)) != 0)
		return jit_lmdb_map_err(rc);
	k.mv_data = kb;
	k.mv_size = plen + 8;
	rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE);
	if (opt->descending) {
		/* SET_RANGE lands on the first key >= the bound; everything
		 * wanted lies before it. */
		if (rc == MDB_NOTFOUND)
			rc = mdb_cursor_get(cur, &k, &d, MDB_LAST);
		else if (rc == 0)
			rc = mdb_cursor_get(cur, &k, &d, MDB_PREV);
	}
	for (;;) {
		if (rc == MDB_NOTFOUND)
			break;
		if (rc != 0) {
			r = jit_lmdb_map_err(rc);
			goto out;
		}
		if (k.mv_size != plen + 8 ||
		    memcmp(k.mv_data, prefix, plen) != 0)
			break;  /* left the range */
		if (opt->limit != 0 && count >= opt->limit)
			break;
		seq = get_be64((const unsigned char *)k.mv_data + plen);
		count++;
		r = visit(t, &d, seq, cb, ctx);
		if (r < 0)
			goto out;
		if (r > 0)
			break;
		rc = mdb_cursor_get(cur, &k, &d,
		    opt->descending ? MDB_PREV : MDB_NEXT);
	}
	r = 0;
out:
	mdb_cursor_close(cur);
	return r;
}

int
jit_lmdb_list_requests(struct jit_store_txn *t, enum jit_store_index ix,
    const char *name, const struct jit_store_list *opt,
    jit_store_request_cb cb, void *ctx)
{
	if (ix == JIT_INDEX_ALL)
		return walk_index(t, DB_BY_SEQ, (const unsigned char *)"", 0,
		    opt, cb, ctx);
	/* The prefix includes the NUL so "pend" never matches "pending". */
	return walk_index(t, ix == JIT_INDEX_STATE ? DB_BY_STATE : DB_BY_USER,
	    (const unsigned char *)name, strlen(name) + 1, opt, cb, ctx);
}

int
jit_lmdb_list_due(struct jit_store_txn *t, uint64_t now,
    jit_store_request_cb cb, void *ctx)
{
	unsigned char kb[16];
	MDB_cursor *cur = NULL;
	MDB_val k = { sizeof(kb), kb }, d;
	int r = JIT_ERR_INTERNAL, rc;

	if (LM(t)->no_deadline_db)
		return 0;
	if ((rc = mdb_cursor_open(t->txn, DBI(t, DB_BY_DEADLINE), &cur))
	    != 0)
		return jit_lmdb_map_err(rc);
	memset(kb, 0, sizeof(kb));
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		if (k.mv_size != 16) {
			r = JIT_ERR_STORE_CORRUPT;
			goto out;
		}
		if (get_be64(k.mv_data) > now)
			break;
		r = visit(t, &d, get_be64((const unsigned char *)k.mv_data + 8),
		    cb, ctx);
		if (r < 0)
			goto out;
		if (r > 0)
			break;
	}
	r = rc == 0 || rc == MDB_NOTFOUND ? 0 : jit_lmdb_map_err(rc);
out:
	mdb_cursor_close(cur);
	return r;
}

int
jit_lmdb_count_by_state(struct jit_store_txn *t, const char *state,
    uint64_t *count)
{
	unsigned char kb[MAX_NAME + 9];
	MDB_cursor *cur = NULL;
	MDB_val k, d;
	size_t plen;
	int r, rc;

	if ((r = jit_lmdb_index_key(state, 0, kb, sizeof(kb), &k)) != 0)
		return r;
	plen = strlen(state) + 1;
	if ((rc = mdb_cursor_open(t->txn, DBI(t, DB_BY_STATE), &cur)) != 0)
		return jit_lmdb_map_err(rc);
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		if (k.mv_size != plen + 8 || memcmp(k.mv_data, kb, plen) != 0)
			break;
		(*count)++;
	}
	return jit_lmdb_walk_end(cur, 0, rc);
}

/* For copy.c: every request as stored, in seq order (by_seq). */
int
jit_lmdb_raw_requests(struct jit_store_txn *t, jit_store__raw_request_cb cb,
    void *ctx)
{
	char sb[MAX_NAME + 1], ub[MAX_NAME + 1], ib[MAX_ID + 1];
	struct jit_store_raw_request rq;
	struct jit_lmdb_req_head h;
	MDB_cursor *cur = NULL;
	MDB_val k, d, v;
	int r = 0, rc;

	if ((rc = mdb_cursor_open(t->txn, DBI(t, DB_BY_SEQ), &cur)) != 0)
		return jit_lmdb_map_err(rc);
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		v = d;
		if (k.mv_size != 8 || d.mv_size == 0 || d.mv_size > MAX_ID) {
			r = JIT_ERR_STORE_CORRUPT;
			break;
		}
		memcpy(ib, d.mv_data, d.mv_size);
		ib[d.mv_size] = '\0';
		if ((rc = mdb_get(t->txn, DBI(t, DB_REQUESTS), &v, &d)) != 0) {
			r = rc == MDB_NOTFOUND ? JIT_ERR_STORE_CORRUPT :
			    jit_lmdb_map_err(rc);
			break;
		}
		if ((r = jit_lmdb_head_parse(LM(t), &d, &h)) != 0)
			break;
		/* A schema 1 view has no state or user in the header. */
		if (h.slen > MAX_NAME || h.ulen > MAX_NAME) {
			r = JIT_ERR_STORE_CORRUPT;
			break;
		}
		memcpy(sb, h.state != NULL ? h.state : "", h.slen);
		sb[h.slen] = '\0';
		memcpy(ub, h.user != NULL ? h.user : "", h.ulen);
		ub[h.ulen] = '\0';
		memset(&rq, 0, sizeof(rq));
		rq.id = ib;
		rq.state = sb;
		rq.user = ub;
		rq.seq = h.seq;
		rq.deadline = h.deadline;
		rq.js = (const char *)d.mv_data + h.json_off;
		rq.jl = d.mv_size - h.json_off;
		if ((r = cb(&rq, ctx)) != 0)
			break;
	}
	return jit_lmdb_walk_end(cur, r, rc);
}
