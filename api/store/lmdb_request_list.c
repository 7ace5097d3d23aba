/*
 * lmdb_request_list.c - see store.h, "Listing": walking the request
 * indexes (by_state, by_user, by_seq, by_deadline, by_user_state,
 * by_role_state, by_state_end; lmdb_int.h) and counting requests.  Only
 * the matching key range is visited, so the cost follows what is
 * returned, not the size of the store.  A READONLY view of a store older
 * than schema 3 has no schema 3 indexes: the lists that need them walk
 * the older ones and filter instead (slower, the same answers).
 */
#include "lmdb_int.h"

#include <stdlib.h>
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
	unsigned char kb[MAX_INDEX_KEY];
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

/* Walk index db (by_state, by_user) under name. */
static int
walk_named(struct jit_store_txn *t, int db, const char *name,
    const struct jit_store_list *opt, jit_store_request_cb cb, void *ctx)
{
	/* The prefix includes the NUL so "pend" never matches "pending". */
	return walk_index(t, db, (const unsigned char *)name,
	    strlen(name) + 1, opt, cb, ctx);
}

int
jit_lmdb_list_requests(struct jit_store_txn *t, enum jit_store_index ix,
    const char *name, const struct jit_store_list *opt,
    jit_store_request_cb cb, void *ctx)
{
	if (ix == JIT_INDEX_ALL)
		return walk_index(t, DB_BY_SEQ, (const unsigned char *)"", 0,
		    opt, cb, ctx);
	return walk_named(t, ix == JIT_INDEX_STATE ? DB_BY_STATE : DB_BY_USER,
	    name, opt, cb, ctx);
}

/* ---- schema 3 indexes --------------------------------------------------- */

static const struct jit_store_list list_all = { 0, 0, 0 };

/* Older stores read READONLY: a walk of an older index that passes on
 * only the requests whose string member `member` is `value`, with the
 * caller's limit counted over those. */
struct filtered {
	const char *member, *value;
	size_t limit, n;
	jit_store_request_cb cb;
	void *ctx;
};

static int
filtered_cb(json_t *req, uint64_t seq, void *vctx)
{
	struct filtered *f = vctx;
	const char *v = json_string_value(json_object_get(req, f->member));
	int r;

	if (v == NULL || strcmp(v, f->value) != 0)
		return 0;
	if ((r = f->cb(req, seq, f->ctx)) != 0)
		return r;
	return f->limit != 0 && ++f->n >= f->limit ? 1 : 0;
}

static int
walk_filtered(struct jit_store_txn *t, int db, const char *name,
    const char *member, const char *value, const struct jit_store_list *opt,
    jit_store_request_cb cb, void *ctx)
{
	struct jit_store_list o = *opt;
	struct filtered f;

	memset(&f, 0, sizeof(f));
	f.member = member;
	f.value = value;
	f.limit = o.limit;
	f.cb = cb;
	f.ctx = ctx;
	o.limit = 0;
	return walk_named(t, db, name, &o, filtered_cb, &f);
}

/* A list of by_user_state or by_role_state under name NUL state, or on
 * an older store READONLY, a walk of by_user (under the user) or
 * by_state (under the state) that keeps the requests whose other member
 * matches. */
int
jit_lmdb_list_pair(struct jit_store_txn *t, enum jit_store_pair ix,
    const char *name, const char *state, const struct jit_store_list *opt,
    jit_store_request_cb cb, void *ctx)
{
	struct jit_lmdb_key k = { { 0 }, 0 };
	int user = ix == JIT_PAIR_USER_STATE;

	if (LM(t)->schema < 3)
		return user ?
		    walk_filtered(t, DB_BY_USER, name, "state", state, opt,
		    cb, ctx) :
		    walk_filtered(t, DB_BY_STATE, state, "role", name, opt,
		    cb, ctx);
	jit_lmdb_key_name(&k, name, strlen(name));
	jit_lmdb_key_name(&k, state, strlen(state));
	return walk_index(t, user ? DB_BY_USER_STATE : DB_BY_ROLE_STATE, k.b,
	    k.n, opt, cb, ctx);
}

/* by_state_end of an older store: its requests in state, sorted here. */
struct end_item {
	uint64_t not_after, seq;
	char id[MAX_ID + 1];
};

struct end_list {
	struct end_item *v;
	size_t n, cap;
};

static int
end_collect(json_t *req, uint64_t seq, void *vctx)
{
	struct end_list *l = vctx;
	const char *id = jit_store__get_name(req, "id", MAX_ID), *role;
	uint64_t na;
	void *nv;

	jit_store__request_keys(req, &role, &na);
	if (id == NULL)
		return JIT_ERR_STORE_CORRUPT;
	if (l->n == l->cap) {
		size_t cap = l->cap != 0 ? l->cap * 2 : 64;

		if (cap > SIZE_MAX / sizeof(*l->v) ||
		    (nv = realloc(l->v, cap * sizeof(*l->v))) == NULL)
			return JIT_ERR_ALLOC;
		l->v = nv;
		l->cap = cap;
	}
	l->v[l->n].not_after = na != 0 ? na : UINT64_MAX;
	l->v[l->n].seq = seq;
	memcpy(l->v[l->n].id, id, strlen(id) + 1);
	l->n++;
	return 0;
}

static int
end_cmp_desc(const void *a, const void *b)
{
	const struct end_item *x = a, *y = b;

	if (x->not_after != y->not_after)
		return x->not_after < y->not_after ? 1 : -1;
	return x->seq < y->seq ? 1 : x->seq > y->seq ? -1 : 0;
}

static int
end_fallback(struct jit_store_txn *t, const char *state,
    jit_store_request_cb cb, void *ctx)
{
	struct end_list l = { NULL, 0, 0 };
	size_t i;
	int r;

	if ((r = walk_named(t, DB_BY_STATE, state, &list_all, end_collect,
	    &l)) == 0) {
		qsort(l.v, l.n, sizeof(*l.v), end_cmp_desc);
		for (i = 0; i < l.n && r == 0; i++) {
			MDB_val id = { strlen(l.v[i].id), l.v[i].id };

			r = visit(t, &id, l.v[i].seq, cb, ctx);
		}
	}
	free(l.v);
	return r < 0 ? r : 0;
}

int
jit_lmdb_list_by_state_end(struct jit_store_txn *t, const char *state,
    jit_store_request_cb cb, void *ctx)
{
	struct jit_lmdb_key bound = { { 0 }, 0 };
	MDB_cursor *cur = NULL;
	MDB_val k, d;
	size_t plen;
	int r = 0, rc;

	if (LM(t)->schema < 3)
		return end_fallback(t, state, cb, ctx);
	jit_lmdb_key_name(&bound, state, strlen(state));
	plen = bound.n;
	jit_lmdb_key_u64(&bound, UINT64_MAX);
	jit_lmdb_key_u64(&bound, UINT64_MAX);
	if ((rc = mdb_cursor_open(t->txn, DBI(t, DB_BY_STATE_END), &cur))
	    != 0)
		return jit_lmdb_map_err(rc);
	k.mv_data = bound.b;
	k.mv_size = bound.n;
	/* SET_RANGE lands on the first key >= the bound, past the range
	 * (no key equals it: no seq is that large); the latest entry of the
	 * range is the one before. */
	rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE);
	if (rc == MDB_NOTFOUND)
		rc = mdb_cursor_get(cur, &k, &d, MDB_LAST);
	else if (rc == 0)
		rc = mdb_cursor_get(cur, &k, &d, MDB_PREV);
	for (; rc == 0; rc = mdb_cursor_get(cur, &k, &d, MDB_PREV)) {
		if (k.mv_size != plen + 16 ||
		    memcmp(k.mv_data, bound.b, plen) != 0)
			break;  /* left the range */
		r = visit(t, &d, get_be64((const unsigned char *)k.mv_data +
		    plen + 8), cb, ctx);
		if (r != 0)
			break;
	}
	return jit_lmdb_walk_end(cur, r, rc);
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

/* Count the keys of index db that start with prefix (plen bytes) and
 * are plen + 8 long, stopping at max (0 = no limit). */
static int
count_range(struct jit_store_txn *t, int db, const unsigned char *prefix,
    size_t plen, uint64_t max, uint64_t *count)
{
	unsigned char kb[MAX_INDEX_KEY];
	MDB_cursor *cur = NULL;
	MDB_val k = { plen + 8, kb }, d;
	int rc;

	if (plen + 8 > sizeof(kb))
		return JIT_ERR_INVALID_ARGUMENT;
	memcpy(kb, prefix, plen);
	put_be64(kb + plen, 0);
	if ((rc = mdb_cursor_open(t->txn, DBI(t, db), &cur)) != 0)
		return jit_lmdb_map_err(rc);
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		if (k.mv_size != plen + 8 || memcmp(k.mv_data, kb, plen) != 0 ||
		    (max != 0 && *count >= max))
			break;
		(*count)++;
	}
	return jit_lmdb_walk_end(cur, 0, rc);
}

int
jit_lmdb_count_by_state(struct jit_store_txn *t, const char *state,
    uint64_t *count)
{
	if (LM(t)->schema >= 3)
		return jit_lmdb_state_count(t, state, count);
	return count_range(t, DB_BY_STATE, (const unsigned char *)state,
	    strlen(state) + 1, 0, count);
}

static int
count_cb(json_t *req, uint64_t seq, void *vctx)
{
	(void)req;
	(void)seq;
	(*(uint64_t *)vctx)++;
	return 0;
}

int
jit_lmdb_count_by_user_state(struct jit_store_txn *t, const char *user,
    const char *state, uint64_t max, uint64_t *count)
{
	struct jit_store_list opt = { 0, 0, 0 };
	struct jit_lmdb_key k = { { 0 }, 0 };

	if (LM(t)->schema < 3) {
		opt.limit = (size_t)max;
		return walk_filtered(t, DB_BY_USER, user, "state", state, &opt,
		    count_cb, count);
	}
	jit_lmdb_key_name(&k, user, strlen(user));
	jit_lmdb_key_name(&k, state, strlen(state));
	return count_range(t, DB_BY_USER_STATE, k.b, k.n, max, count);
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
