/*
 * lmdb_requests.c - the LMDB backend's request records (create, put,
 * get) and the index entries kept with them (by_state, by_user, by_seq,
 * by_deadline here; the schema 3 ones through lmdb_request_index.c; the
 * layout is in lmdb_int.h).  Listing and counting are in
 * lmdb_request_list.c.
 *
 * The deadline in a record's header and in by_deadline is the value the
 * caller passed; the store never derives it from the request's state.
 */
#include "lmdb_int.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"

/* The fixed part of a stored request's header: be64(seq) be64(deadline). */
#define REQ_FIXED 16

/* ---- index entries ----------------------------------------------------- */

int
jit_lmdb_index_key(const char *name, uint64_t seq, unsigned char *buf,
    size_t cap, MDB_val *k)
{
	size_t n = strlen(name);

	if (n + 9 > cap)
		return JIT_ERR_INVALID_ARGUMENT;
	memcpy(buf, name, n);
	buf[n] = '\0';
	put_be64(buf + n + 1, seq);
	k->mv_data = buf;
	k->mv_size = n + 9;
	return 0;
}

static int
index_put(struct jit_store_txn *t, int db, const char *name, uint64_t seq,
    const char *id)
{
	unsigned char kb[MAX_NAME + 9];
	MDB_val k, d = { strlen(id), (void *)id };
	int r;

	if ((r = jit_lmdb_index_key(name, seq, kb, sizeof(kb), &k)) != 0)
		return r;
	return jit_lmdb_map_err(mdb_put(t->txn, DBI(t, db), &k, &d, 0));
}

static int
index_del(struct jit_store_txn *t, int db, const char *name, uint64_t seq)
{
	unsigned char kb[MAX_NAME + 9];
	MDB_val k;
	int r, rc;

	if ((r = jit_lmdb_index_key(name, seq, kb, sizeof(kb), &k)) != 0)
		return r;
	rc = mdb_del(t->txn, DBI(t, db), &k, NULL);
	/* A missing index entry is tolerated: the goal state is reached. */
	return rc == MDB_NOTFOUND ? 0 : jit_lmdb_map_err(rc);
}

/* Move an index entry from (old name, seq) to (new name, seq) if the name
 * changed; old is not NUL-terminated. */
static int
index_move(struct jit_store_txn *t, int db, const char *old, size_t olen,
    const char *name, uint64_t seq, const char *id)
{
	char ob[MAX_NAME + 1];
	int r;

	if (olen == strlen(name) && memcmp(old, name, olen) == 0)
		return 0;
	if (olen > MAX_NAME)
		return JIT_ERR_STORE_CORRUPT;
	memcpy(ob, old, olen);
	ob[olen] = '\0';
	if ((r = index_del(t, db, ob, seq)) != 0)
		return r;
	return index_put(t, db, name, seq, id);
}

/* by_deadline key: be64(deadline) || be64(seq). */
int
jit_lmdb_deadline_put(struct jit_store_txn *t, uint64_t deadline,
    uint64_t seq, const char *id)
{
	unsigned char kb[16];
	MDB_val k = { sizeof(kb), kb }, d = { strlen(id), (void *)id };

	if (deadline == 0)
		return 0;
	put_be64(kb, deadline);
	put_be64(kb + 8, seq);
	return jit_lmdb_map_err(mdb_put(t->txn,
	    DBI(t, DB_BY_DEADLINE), &k, &d, 0));
}

static int
deadline_del(struct jit_store_txn *t, uint64_t deadline, uint64_t seq)
{
	unsigned char kb[16];
	MDB_val k = { sizeof(kb), kb };
	int rc;

	if (deadline == 0)
		return 0;
	put_be64(kb, deadline);
	put_be64(kb + 8, seq);
	rc = mdb_del(t->txn, DBI(t, DB_BY_DEADLINE), &k, NULL);
	return rc == MDB_NOTFOUND ? 0 : jit_lmdb_map_err(rc);
}

/* ---- the stored record ------------------------------------------------- */

int
jit_lmdb_head_parse(const struct jit_lmdb *lm, const MDB_val *d,
    struct jit_lmdb_req_head *h)
{
	const unsigned char *p = d->mv_data;
	size_t n = d->mv_size, off;

	memset(h, 0, sizeof(*h));
	if (lm->schema == 1) {
		/* Read-only view of a store not yet rewritten. */
		if (n < 8 + 2)
			return JIT_ERR_STORE_CORRUPT;
		h->seq = get_be64(p);
		h->json_off = 8;
		return 0;
	}
	if (n < REQ_FIXED + 2)
		return JIT_ERR_STORE_CORRUPT;
	h->seq = get_be64(p);
	h->deadline = get_be64(p + 8);
	off = REQ_FIXED;
	h->slen = p[off++];
	if (h->slen == 0 || h->slen >= n - off)
		return JIT_ERR_STORE_CORRUPT;
	h->state = (const char *)p + off;
	off += h->slen;
	h->ulen = p[off++];
	if (h->ulen == 0 || h->ulen > n - off || n - off - h->ulen < 2)
		return JIT_ERR_STORE_CORRUPT;
	h->user = (const char *)p + off;
	h->json_off = off + h->ulen;
	return 0;
}

int
jit_lmdb_request_value(const char *js, size_t jl, uint64_t seq,
    uint64_t deadline, const char *state, const char *user,
    unsigned char **out, size_t *len)
{
	size_t slen = strlen(state), ulen = strlen(user), hl;
	unsigned char *p;

	*out = NULL;
	if (slen == 0 || slen > MAX_NAME || ulen == 0 || ulen > MAX_NAME)
		return JIT_ERR_INVALID_ARGUMENT;
	hl = REQ_FIXED + 2 + slen + ulen;
	if (jl > SIZE_MAX - hl || (p = malloc(hl + jl)) == NULL)
		return JIT_ERR_ALLOC;
	put_be64(p, seq);
	put_be64(p + 8, deadline);
	p[REQ_FIXED] = (unsigned char)slen;
	memcpy(p + REQ_FIXED + 1, state, slen);
	p[REQ_FIXED + 1 + slen] = (unsigned char)ulen;
	memcpy(p + REQ_FIXED + 2 + slen, user, ulen);
	memcpy(p + hl, js, jl);
	*out = p;
	*len = hl + jl;
	return 0;
}


int
jit_lmdb_request_parse(const struct jit_lmdb *lm, const MDB_val *d,
    json_t **out, uint64_t *seq)
{
	struct jit_lmdb_req_head h;
	int r;

	*out = NULL;
	if ((r = jit_lmdb_head_parse(lm, d, &h)) != 0)
		return r;
	if (seq != NULL)
		*seq = h.seq;
	return jit_store__parse_object((const char *)d->mv_data + h.json_off,
	    d->mv_size - h.json_off, out);
}

/* The stored value of request id in *d (pointing into the map, valid
 * until t ends).  NOT_FOUND. */
static int
lookup(struct jit_store_txn *t, const char *id, MDB_val *d)
{
	MDB_val k;

	k.mv_data = (void *)id;
	k.mv_size = strlen(id);
	return jit_lmdb_map_err(mdb_get(t->txn, DBI(t, DB_REQUESTS), &k, d));
}

/* ---- create ------------------------------------------------------------ */

/* Store request rq as new with sequence number seq: its record and its
 * index entries, and count it in its state.  CONFLICT if its id exists
 * (nothing is then written).  append: seq is above every stored one
 * (by_seq is appended to). */
static int
insert(struct jit_store_txn *t, const struct jit_store_raw_request *rq,
    uint64_t seq, int append)
{
	const char *id = rq->id;
	struct jit_lmdb_req_keys rk;
	unsigned char *val = NULL, sb[8];
	size_t vlen;
	MDB_val k, d;
	int r = JIT_ERR_INTERNAL;

	if ((r = jit_lmdb_request_value(rq->js, rq->jl, seq, rq->deadline,
	    rq->state, rq->user, &val, &vlen)) != 0)
		return r;
	k.mv_data = (void *)id;
	k.mv_size = strlen(id);
	d.mv_data = val;
	d.mv_size = vlen;
	if ((r = jit_lmdb_map_err(mdb_put(t->txn, DBI(t, DB_REQUESTS), &k, &d,
	    MDB_NOOVERWRITE))) != 0)
		goto out;
	put_be64(sb, seq);
	k.mv_data = sb;
	k.mv_size = 8;
	d.mv_data = (void *)id;
	d.mv_size = strlen(id);
	if ((r = jit_lmdb_map_err(mdb_put(t->txn, DBI(t, DB_BY_SEQ), &k, &d,
	    append ? MDB_APPEND : MDB_NOOVERWRITE))) != 0)
		goto out;
	if ((r = index_put(t, DB_BY_STATE, rq->state, seq, id)) != 0 ||
	    (r = index_put(t, DB_BY_USER, rq->user, seq, id)) != 0 ||
	    (r = jit_lmdb_deadline_put(t, rq->deadline, seq, id)) != 0)
		goto out;
	jit_lmdb_keys_of(rq, &rk);
	r = jit_lmdb_index_add(t, id, seq, rq->state, rq->user, &rk);
out:
	free(val);
	return r;
}

int
jit_lmdb_create_request(struct jit_store_txn *t,
    const struct jit_store_raw_request *rq, uint64_t *seq)
{
	uint64_t next;
	int r;

	if ((r = jit_lmdb_meta_get_u64(t, "next_request_seq", 1, &next)) != 0
	    || (r = insert(t, rq, next, 1)) != 0
	    || (r = jit_lmdb_meta_put_u64(t, "next_request_seq", next + 1))
	    != 0)
		return r;
	if (seq != NULL)
		*seq = next;
	return 0;
}

int
jit_lmdb_put_raw_request(struct jit_store_txn *t,
    const struct jit_store_raw_request *rq)
{
	uint64_t next;
	int r;

	if ((r = jit_lmdb_meta_get_u64(t, "next_request_seq", 1, &next)) != 0
	    || (r = insert(t, rq, rq->seq, 0)) != 0)
		return r;
	if (rq->seq >= next)
		r = jit_lmdb_meta_put_u64(t, "next_request_seq", rq->seq + 1);
	return r;
}

/* ---- put --------------------------------------------------------------- */

int
jit_lmdb_put_request(struct jit_store_txn *t,
    const struct jit_store_raw_request *rq)
{
	const char *id = rq->id, *state = rq->state, *user = rq->user;
	uint64_t deadline = rq->deadline;
	struct jit_lmdb_req_head h;
	struct jit_lmdb_req_keys rk;
	char ostate[MAX_NAME + 1], ouser[MAX_NAME + 1];
	unsigned char *val = NULL;
	size_t vlen;
	MDB_val k, d;
	int r = JIT_ERR_INTERNAL;

	if ((r = lookup(t, id, &d)) != 0)
		return r;
	/* The old index keys come from the old value's header and its
	 * req_keys record: no JSON. */
	if ((r = jit_lmdb_head_parse(LM(t), &d, &h)) != 0)
		return r;
	/* d points into a page that the updates below may move (LMDB
	 * spills dirty pages of a big transaction): copy what is used. */
	if (h.slen > MAX_NAME || h.ulen > MAX_NAME)
		return JIT_ERR_STORE_CORRUPT;
	memcpy(ostate, h.state, h.slen);
	memcpy(ouser, h.user, h.ulen);
	h.state = ostate;
	h.user = ouser;
	jit_lmdb_keys_of(rq, &rk);
	if ((r = jit_lmdb_index_move(t, id, &h, state, user, &rk)) != 0 ||
	    (r = index_move(t, DB_BY_STATE, h.state, h.slen, state, h.seq,
	    id)) != 0 ||
	    (r = index_move(t, DB_BY_USER, h.user, h.ulen, user, h.seq,
	    id)) != 0)
		goto out;
	if (deadline != h.deadline &&
	    ((r = deadline_del(t, h.deadline, h.seq)) != 0 ||
	    (r = jit_lmdb_deadline_put(t, deadline, h.seq, id)) != 0))
		goto out;
	if ((r = jit_lmdb_request_value(rq->js, rq->jl, h.seq, deadline,
	    state, user, &val, &vlen)) != 0)
		goto out;
	k.mv_data = (void *)id;
	k.mv_size = strlen(id);
	d.mv_data = val;
	d.mv_size = vlen;
	r = jit_lmdb_map_err(mdb_put(t->txn, DBI(t, DB_REQUESTS), &k, &d, 0));
out:
	free(val);
	return r;
}

/* ---- get --------------------------------------------------------------- */

int
jit_lmdb_get_request(struct jit_store_txn *t, const char *id, json_t **out,
    uint64_t *seq, void **raw, size_t *rawlen)
{
	MDB_val d;
	int r;

	if ((r = lookup(t, id, &d)) != 0)
		return r;
	if ((r = jit_lmdb_request_parse(LM(t), &d, out, seq)) != 0)
		return r;
	if (raw == NULL)
		return 0;
	if ((*raw = malloc(d.mv_size)) == NULL) {
		json_decref(*out);
		*out = NULL;
		return JIT_ERR_ALLOC;
	}
	memcpy(*raw, d.mv_data, d.mv_size);
	*rawlen = d.mv_size;
	return 0;
}

int
jit_lmdb_request_unchanged(struct jit_store_txn *t, const char *id,
    const void *raw, size_t rawlen)
{
	MDB_val d;
	int r;

	if ((r = lookup(t, id, &d)) != 0)
		return r;
	return d.mv_size == rawlen && memcmp(d.mv_data, raw, rawlen) == 0 ?
	    0 : JIT_ERR_CONFLICT;
}
