/*
 * request_list.c - see store.h, "Listing": walking the request indexes
 * (by_state, by_user, by_seq, by_deadline; store_int.h) and counting a
 * state's requests.  Only the matching key range is visited, so the cost
 * follows what is returned, not the size of the store.
 */
#include "store_int.h"

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

	if ((rc = mdb_get(t->txn, t->s->dbi[DB_REQUESTS], &k, &d)) != 0)
		return rc == MDB_NOTFOUND ? JIT_ERR_STORE_CORRUPT :
		    jit_store__map_err(rc);
	if ((r = jit_store__request_parse(t->s, &d, &req, NULL)) != 0)
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
	static const struct jit_store_list all = { 0, 0, 0 };
	unsigned char kb[MAX_NAME + 9];
	MDB_cursor *cur = NULL;
	MDB_val k, d;
	size_t count = 0;
	uint64_t seq;
	int r = JIT_ERR_INTERNAL, rc;

	if (opt == NULL)
		opt = &all;
	if (plen + 8 > sizeof(kb))
		return JIT_ERR_INVALID_ARGUMENT;
	if (!opt->descending && opt->after == UINT64_MAX)
		return 0;
	memcpy(kb, prefix, plen);
	if (opt->descending)
		put_be64(kb + plen, opt->after ? opt->after : UINT64_MAX);
	else
		put_be64(kb + plen, opt->after + 1);
	if ((rc = mdb_cursor_open(t->txn, t->s->dbi[db], &cur)) != 0)
		return jit_store__map_err(rc);
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
			r = jit_store__map_err(rc);
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

static int
walk_named(struct jit_store_txn *t, int db, const char *name,
    const struct jit_store_list *opt, jit_store_request_cb cb, void *ctx)
{
	if (t == NULL || cb == NULL ||
	    jit_store__check_name(name, MAX_NAME) != 0)
		return JIT_ERR_INVALID_ARGUMENT;
	/* The prefix includes the NUL so "pend" never matches "pending". */
	return walk_index(t, db, (const unsigned char *)name,
	    strlen(name) + 1, opt, cb, ctx);
}

int
jit_store_list_by_state(struct jit_store_txn *t, const char *state,
    const struct jit_store_list *opt, jit_store_request_cb cb, void *ctx)
{
	return walk_named(t, DB_BY_STATE, state, opt, cb, ctx);
}

int
jit_store_list_by_user(struct jit_store_txn *t, const char *user,
    const struct jit_store_list *opt, jit_store_request_cb cb, void *ctx)
{
	return walk_named(t, DB_BY_USER, user, opt, cb, ctx);
}

int
jit_store_list_all(struct jit_store_txn *t, const struct jit_store_list *opt,
    jit_store_request_cb cb, void *ctx)
{
	if (t == NULL || cb == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	return walk_index(t, DB_BY_SEQ, (const unsigned char *)"", 0, opt, cb,
	    ctx);
}

int
jit_store_list_due(struct jit_store_txn *t, uint64_t now,
    jit_store_request_cb cb, void *ctx)
{
	unsigned char kb[16];
	MDB_cursor *cur = NULL;
	MDB_val k = { sizeof(kb), kb }, d;
	int r = JIT_ERR_INTERNAL, rc;

	if (t == NULL || cb == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	if (t->s->no_deadline_db)
		return 0;
	if ((rc = mdb_cursor_open(t->txn, t->s->dbi[DB_BY_DEADLINE], &cur))
	    != 0)
		return jit_store__map_err(rc);
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
	r = rc == 0 || rc == MDB_NOTFOUND ? 0 : jit_store__map_err(rc);
out:
	mdb_cursor_close(cur);
	return r;
}

int
jit_store_count_by_state(struct jit_store_txn *t, const char *state,
    uint64_t *count)
{
	unsigned char kb[MAX_NAME + 9];
	MDB_cursor *cur = NULL;
	MDB_val k, d;
	size_t plen;
	int r, rc;

	if (count != NULL)
		*count = 0;
	if (t == NULL || count == NULL ||
	    jit_store__check_name(state, MAX_NAME) != 0)
		return JIT_ERR_INVALID_ARGUMENT;
	if ((r = jit_store__index_key(state, 0, kb, sizeof(kb), &k)) != 0)
		return r;
	plen = strlen(state) + 1;
	if ((rc = mdb_cursor_open(t->txn, t->s->dbi[DB_BY_STATE], &cur)) != 0)
		return jit_store__map_err(rc);
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		if (k.mv_size != plen + 8 || memcmp(k.mv_data, kb, plen) != 0)
			break;
		(*count)++;
	}
	return jit_store__walk_end(cur, 0, rc);
}
