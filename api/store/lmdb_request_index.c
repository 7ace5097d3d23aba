/*
 * lmdb_request_index.c - the request indexes schema 3 added to the LMDB
 * backend (lmdb_int.h has their keys): by_user_state and by_role_state,
 * so that a list of one user's or one role's requests in one state reads
 * only those; by_state_end, so that the requests of a state can be read
 * latest not_after first (the KRL then reads only the revoked grants that
 * have not expired); req_keys, the role and not_after those entries were
 * made with; and the count of requests in each state.  lmdb_requests.c
 * calls these next to its own index entries, lmdb_migrate.c to build them
 * for an older store.
 */
#include "lmdb_int.h"

#include <string.h>

#include "err.h"

/* The schema 3 indexes of one request. */
static const int indexes[] = { DB_BY_USER_STATE, DB_BY_ROLE_STATE,
    DB_BY_STATE_END };
#define NINDEXES (sizeof(indexes) / sizeof(indexes[0]))

/* What one request is indexed by; state and user need no NUL. */
struct view {
	const char *state, *user;
	size_t slen, ulen;
	const struct jit_lmdb_req_keys *k;
};

void
jit_lmdb_key_name(struct jit_lmdb_key *k, const char *s, size_t len)
{
	/* Names are at most MAX_NAME bytes, so two of them and two numbers
	 * fit; a longer one (a caller's bug) is cut, never written past
	 * the buffer, and its key then matches nothing. */
	if (len > MAX_NAME)
		len = MAX_NAME;
	if (k->n + len + 1 > sizeof(k->b))
		return;
	memcpy(k->b + k->n, s, len);
	k->b[k->n + len] = '\0';
	k->n += len + 1;
}

void
jit_lmdb_key_u64(struct jit_lmdb_key *k, uint64_t v)
{
	if (k->n + 8 > sizeof(k->b))
		return;
	put_be64(k->b + k->n, v);
	k->n += 8;
}

void
jit_lmdb_keys_of(const struct jit_store_raw_request *rq,
    struct jit_lmdb_req_keys *k)
{
	memset(k, 0, sizeof(*k));
	if (rq->role != NULL && (k->rlen = strlen(rq->role)) <= MAX_NAME)
		memcpy(k->role, rq->role, k->rlen + 1);
	else
		k->rlen = 0;
	k->not_after = rq->not_after;
}

static int
same_keys(const struct jit_lmdb_req_keys *a,
    const struct jit_lmdb_req_keys *b)
{
	return a->rlen == b->rlen && memcmp(a->role, b->role, a->rlen) == 0 &&
	    a->not_after == b->not_after;
}

/* ---- req_keys ------------------------------------------------------------ */

static int
keys_put(struct jit_store_txn *t, uint64_t seq,
    const struct jit_lmdb_req_keys *k)
{
	unsigned char kb[8], vb[1 + MAX_NAME + 8];
	MDB_val key = { sizeof(kb), kb }, d = { 1 + k->rlen + 8, vb };

	put_be64(kb, seq);
	vb[0] = (unsigned char)k->rlen;
	memcpy(vb + 1, k->role, k->rlen);
	put_be64(vb + 1 + k->rlen, k->not_after);
	return jit_lmdb_map_err(mdb_put(t->txn, DBI(t, DB_REQ_KEYS), &key,
	    &d, 0));
}

/* The keys request seq was indexed with; none recorded reads as none. */
static int
keys_get(struct jit_store_txn *t, uint64_t seq, struct jit_lmdb_req_keys *k)
{
	unsigned char kb[8];
	MDB_val key = { sizeof(kb), kb }, d;
	const unsigned char *p;
	int rc;

	memset(k, 0, sizeof(*k));
	put_be64(kb, seq);
	rc = mdb_get(t->txn, DBI(t, DB_REQ_KEYS), &key, &d);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return jit_lmdb_map_err(rc);
	p = d.mv_data;
	if (d.mv_size < 9 || p[0] > MAX_NAME || d.mv_size != 9u + p[0])
		return JIT_ERR_STORE_CORRUPT;
	k->rlen = p[0];
	memcpy(k->role, p + 1, k->rlen);
	k->role[k->rlen] = '\0';
	k->not_after = get_be64(p + 1 + k->rlen);
	return 0;
}

/* ---- index entries ------------------------------------------------------- */

/* The key of request seq as v describes it in index db; 0 if v puts it
 * in no entry of db (no role). */
static int
make_key(int db, const struct view *v, uint64_t seq, struct jit_lmdb_key *k)
{
	k->n = 0;
	switch (db) {
	case DB_BY_USER_STATE:
		jit_lmdb_key_name(k, v->user, v->ulen);
		jit_lmdb_key_name(k, v->state, v->slen);
		break;
	case DB_BY_ROLE_STATE:
		if (v->k->rlen == 0)
			return 0;
		jit_lmdb_key_name(k, v->k->role, v->k->rlen);
		jit_lmdb_key_name(k, v->state, v->slen);
		break;
	case DB_BY_STATE_END:
		/* Without a not_after: above every time, so a reader of the
		 * latest first meets it first. */
		jit_lmdb_key_name(k, v->state, v->slen);
		jit_lmdb_key_u64(k, v->k->not_after != 0 ?
		    v->k->not_after : UINT64_MAX);
		break;
	default:
		return 0;
	}
	jit_lmdb_key_u64(k, seq);
	return 1;
}

static int
entry_put(struct jit_store_txn *t, int db, const struct jit_lmdb_key *k,
    const char *id)
{
	MDB_val key = { k->n, (void *)k->b }, d = { strlen(id), (void *)id };

	return jit_lmdb_map_err(mdb_put(t->txn, DBI(t, db), &key, &d, 0));
}

static int
entry_del(struct jit_store_txn *t, int db, const struct jit_lmdb_key *k)
{
	MDB_val key = { k->n, (void *)k->b };
	int rc = mdb_del(t->txn, DBI(t, db), &key, NULL);

	/* A missing entry is tolerated: the goal state is reached. */
	return rc == MDB_NOTFOUND ? 0 : jit_lmdb_map_err(rc);
}

/* ---- counts by state ----------------------------------------------- */

/* Add one to (up) or take one from state's count. */
static int
count_step(struct jit_store_txn *t, const char *state, size_t slen, int up)
{
	uint64_t n;
	int r;

	if ((r = jit_lmdb_get_u64(t, DB_STATE_COUNTS, state, slen, 0, &n))
	    != 0)
		return r;
	/* Every request was counted when it came, so n is not 0 here; the
	 * counts only feed /metrics, so a miscount is not worth failing a
	 * transition for. */
	return jit_lmdb_put_u64(t, DB_STATE_COUNTS, state, slen,
	    up ? n + 1 : n > 0 ? n - 1 : 0);
}

int
jit_lmdb_state_count(struct jit_store_txn *t, const char *state,
    uint64_t *count)
{
	return jit_lmdb_get_u64(t, DB_STATE_COUNTS, state, strlen(state), 0,
	    count);
}

/* ---- adding and moving --------------------------------------------- */

int
jit_lmdb_index_add(struct jit_store_txn *t, const char *id, uint64_t seq,
    const char *state, const char *user, const struct jit_lmdb_req_keys *k)
{
	struct view v = { state, user, strlen(state), strlen(user), k };
	struct jit_lmdb_key key;
	size_t i;
	int r;

	for (i = 0; i < NINDEXES; i++)
		if (make_key(indexes[i], &v, seq, &key) &&
		    (r = entry_put(t, indexes[i], &key, id)) != 0)
			return r;
	if ((r = keys_put(t, seq, k)) != 0)
		return r;
	return count_step(t, state, v.slen, 1);
}

int
jit_lmdb_index_move(struct jit_store_txn *t, const char *id,
    const struct jit_lmdb_req_head *h, const char *state, const char *user,
    const struct jit_lmdb_req_keys *k)
{
	struct jit_lmdb_req_keys ok;
	struct view ov, nv = { state, user, strlen(state), strlen(user), k };
	struct jit_lmdb_key okey, nkey;
	size_t i;
	int r, had, has;

	if ((r = keys_get(t, h->seq, &ok)) != 0)
		return r;
	ov.state = h->state;
	ov.slen = h->slen;
	ov.user = h->user;
	ov.ulen = h->ulen;
	ov.k = &ok;
	for (i = 0; i < NINDEXES; i++) {
		had = make_key(indexes[i], &ov, h->seq, &okey);
		has = make_key(indexes[i], &nv, h->seq, &nkey);
		if (had && has && okey.n == nkey.n &&
		    memcmp(okey.b, nkey.b, okey.n) == 0)
			continue;
		if ((had && (r = entry_del(t, indexes[i], &okey)) != 0) ||
		    (has && (r = entry_put(t, indexes[i], &nkey, id)) != 0))
			return r;
	}
	if (!same_keys(&ok, k) && (r = keys_put(t, h->seq, k)) != 0)
		return r;
	if (ov.slen == nv.slen && memcmp(ov.state, state, nv.slen) == 0)
		return 0;
	if ((r = count_step(t, ov.state, ov.slen, 0)) != 0)
		return r;
	return count_step(t, state, nv.slen, 1);
}
