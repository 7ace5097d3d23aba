/*
 * requests.c - see store.h, "requests": request records (create, put,
 * get) and the index entries kept with them (by_state, by_user, by_seq,
 * by_deadline here; the schema 3 ones through request_index.c; the layout
 * is in store_int.h).  Listing and counting are in request_list.c.
 *
 * The deadline in a record's header and in by_deadline is the value the
 * caller passed; the store never derives it from the request's state.
 */
#include "store_int.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "err.h"

/* The fixed part of a stored request's header: be64(seq) be64(deadline). */
#define REQ_FIXED 16

int
jit_store_new_request_id(char out[JIT_REQUEST_ID_LEN])
{
	static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";
	unsigned char rnd[12];

	out[0] = '\0';
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return JIT_ERR_CRYPTO;
	out[0] = 'r';
	out[1] = '-';
	for (int i = 0; i < 12; i++)
		out[2 + i] = b32[rnd[i] & 31];
	out[14] = '\0';
	return 0;
}

/* ---- index entries ----------------------------------------------------- */

int
jit_store__index_key(const char *name, uint64_t seq, unsigned char *buf,
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

	if ((r = jit_store__index_key(name, seq, kb, sizeof(kb), &k)) != 0)
		return r;
	return jit_store__map_err(mdb_put(t->txn, t->s->dbi[db], &k, &d, 0));
}

static int
index_del(struct jit_store_txn *t, int db, const char *name, uint64_t seq)
{
	unsigned char kb[MAX_NAME + 9];
	MDB_val k;
	int r, rc;

	if ((r = jit_store__index_key(name, seq, kb, sizeof(kb), &k)) != 0)
		return r;
	rc = mdb_del(t->txn, t->s->dbi[db], &k, NULL);
	/* A missing index entry is tolerated: the goal state is reached. */
	return rc == MDB_NOTFOUND ? 0 : jit_store__map_err(rc);
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
jit_store__deadline_put(struct jit_store_txn *t, uint64_t deadline,
    uint64_t seq, const char *id)
{
	unsigned char kb[16];
	MDB_val k = { sizeof(kb), kb }, d = { strlen(id), (void *)id };

	if (deadline == 0)
		return 0;
	put_be64(kb, deadline);
	put_be64(kb + 8, seq);
	return jit_store__map_err(mdb_put(t->txn,
	    t->s->dbi[DB_BY_DEADLINE], &k, &d, 0));
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
	rc = mdb_del(t->txn, t->s->dbi[DB_BY_DEADLINE], &k, NULL);
	return rc == MDB_NOTFOUND ? 0 : jit_store__map_err(rc);
}

static void
mark_changed(struct jit_store_txn *t, const char *id)
{
	unsigned slot = jit_store__slot_of(id);

	t->slots[slot / 8] |= (unsigned char)(1u << (slot % 8));
}

/* ---- the stored record ------------------------------------------------- */

int
jit_store__head_parse(const struct jit_store *s, const MDB_val *d,
    struct jit_store_req_head *h)
{
	const unsigned char *p = d->mv_data;
	size_t n = d->mv_size, off;

	memset(h, 0, sizeof(*h));
	if (s->schema == 1) {
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

/* A stored request value: header || js (the request's JSON, jl bytes). */
static int
request_value_js(const char *js, size_t jl, uint64_t seq, uint64_t deadline,
    const char *state, const char *user, unsigned char **out, size_t *len)
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
jit_store__request_value(const json_t *req, uint64_t seq, uint64_t deadline,
    const char *state, const char *user, unsigned char **out, size_t *len)
{
	char *js;
	size_t jl;
	int r;

	*out = NULL;
	if ((r = jit_store__dump_json(req, 0, &js, &jl)) != 0)
		return r;
	r = request_value_js(js, jl, seq, deadline, state, user, out, len);
	free(js);
	return r;
}

/* The stored value of req: from js (jl bytes) if the caller encoded it,
 * else encoded here. */
static int
record_value(const json_t *req, const char *js, size_t jl, uint64_t seq,
    uint64_t deadline, const char *state, const char *user,
    unsigned char **out, size_t *len)
{
	if (js != NULL)
		return request_value_js(js, jl, seq, deadline, state, user, out,
		    len);
	return jit_store__request_value(req, seq, deadline, state, user, out,
	    len);
}

int
jit_store__request_parse(const struct jit_store *s, const MDB_val *d,
    json_t **out, uint64_t *seq)
{
	struct jit_store_req_head h;
	int r;

	*out = NULL;
	if ((r = jit_store__head_parse(s, d, &h)) != 0)
		return r;
	if (seq != NULL)
		*seq = h.seq;
	if ((r = jit_store__parse_json((const char *)d->mv_data + h.json_off,
	    d->mv_size - h.json_off, 0, out)) != 0)
		return r;
	if (!json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		return JIT_ERR_STORE_CORRUPT;
	}
	return 0;
}

int
jit_store__request_fields(const json_t *req, const char **id,
    const char **state, const char **user)
{
	if (!json_is_object(req))
		return JIT_ERR_INVALID_ARGUMENT;
	*id = jit_store__get_name(req, "id", MAX_ID);
	*state = jit_store__get_name(req, "state", MAX_NAME);
	*user = jit_store__get_name(req, "user", MAX_NAME);
	if (*id == NULL || *state == NULL || *user == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	return 0;
}

/* The stored value of request id in *d (pointing into the map, valid
 * until t ends).  INVALID_ARGUMENT for a bad id, NOT_FOUND. */
static int
lookup(struct jit_store_txn *t, const char *id, MDB_val *d)
{
	MDB_val k;

	if (t == NULL || jit_store__check_name(id, MAX_ID) != 0)
		return JIT_ERR_INVALID_ARGUMENT;
	k.mv_data = (void *)id;
	k.mv_size = strlen(id);
	return jit_store__map_err(mdb_get(t->txn, t->s->dbi[DB_REQUESTS], &k,
	    d));
}

/* ---- create ------------------------------------------------------------ */

/* Give req a fresh "id" that no stored request has. */
static int
assign_id(struct jit_store_txn *t, json_t *req)
{
	char nid[JIT_REQUEST_ID_LEN];
	MDB_val k, d;
	int r, rc;

	/* 60 random bits: a clash is all but impossible, but a clash must
	 * not overwrite, so look before using. */
	for (int tries = 0;; tries++) {
		if (tries == 8)
			return JIT_ERR_INTERNAL;
		if ((r = jit_store_new_request_id(nid)) != 0)
			return r;
		k.mv_data = nid;
		k.mv_size = strlen(nid);
		rc = mdb_get(t->txn, t->s->dbi[DB_REQUESTS], &k, &d);
		if (rc == MDB_NOTFOUND)
			break;
		if (rc != 0)
			return jit_store__map_err(rc);
	}
	if (json_object_set_new(req, "id", json_string(nid)) != 0)
		return JIT_ERR_ALLOC;
	return 0;
}

int
jit_store_create_request(struct jit_store_txn *t, json_t *req,
    uint64_t deadline, uint64_t *seq)
{
	return jit_store_create_request_encoded(t, req, NULL, 0, deadline,
	    seq);
}

int
jit_store_create_request_encoded(struct jit_store_txn *t, json_t *req,
    const char *js, size_t jl, uint64_t deadline, uint64_t *seq)
{
	const char *id, *state, *user;
	struct jit_store_req_keys rk;
	unsigned char *val = NULL, sb[8];
	size_t vlen;
	uint64_t next;
	MDB_val k, d;
	int r = JIT_ERR_INTERNAL;

	if (seq != NULL)
		*seq = 0;
	if ((r = jit_store__need_write(t)) != 0)
		return r;
	if (!json_is_object(req))
		return JIT_ERR_INVALID_ARGUMENT;
	if (json_object_get(req, "id") == NULL) {
		if (js != NULL)
			return JIT_ERR_INVALID_ARGUMENT;  /* js lacks the id */
		if ((r = assign_id(t, req)) != 0)
			return r;
	}
	if ((r = jit_store__request_fields(req, &id, &state, &user)) != 0 ||
	    (r = jit_store__meta_get_u64(t, "next_request_seq", 1, &next)) != 0
	    || (r = record_value(req, js, jl, next, deadline, state, user,
	    &val, &vlen)) != 0)
		return r;
	k.mv_data = (void *)id;
	k.mv_size = strlen(id);
	d.mv_data = val;
	d.mv_size = vlen;
	if ((r = jit_store__map_err(mdb_put(t->txn, t->s->dbi[DB_REQUESTS],
	    &k, &d, MDB_NOOVERWRITE))) != 0)
		goto out;
	put_be64(sb, next);
	k.mv_data = sb;
	k.mv_size = 8;
	d.mv_data = (void *)id;
	d.mv_size = strlen(id);
	if ((r = jit_store__map_err(mdb_put(t->txn, t->s->dbi[DB_BY_SEQ],
	    &k, &d, MDB_APPEND))) != 0)
		goto out;
	if ((r = index_put(t, DB_BY_STATE, state, next, id)) != 0 ||
	    (r = index_put(t, DB_BY_USER, user, next, id)) != 0 ||
	    (r = jit_store__deadline_put(t, deadline, next, id)) != 0 ||
	    (r = jit_store__meta_put_u64(t, "next_request_seq", next + 1)) != 0)
		goto out;
	jit_store__keys_of(req, &rk);
	if ((r = jit_store__index_add(t, id, next, state, user, &rk)) != 0)
		goto out;
	mark_changed(t, id);
	if (seq != NULL)
		*seq = next;
	r = 0;
out:
	free(val);
	return r;
}

/* ---- put --------------------------------------------------------------- */

int
jit_store_encode_request(const json_t *req, char **out, size_t *len)
{
	return jit_store__encode_object(req, out, len);
}

int
jit_store_put_request(struct jit_store_txn *t, const json_t *req,
    uint64_t deadline)
{
	return jit_store_put_request_encoded(t, req, NULL, 0, deadline);
}

int
jit_store_put_request_encoded(struct jit_store_txn *t, const json_t *req,
    const char *js, size_t jl, uint64_t deadline)
{
	const char *id, *state, *user;
	struct jit_store_req_head h;
	struct jit_store_req_keys rk;
	char ostate[MAX_NAME + 1], ouser[MAX_NAME + 1];
	unsigned char *val = NULL;
	size_t vlen;
	MDB_val k, d;
	int r = JIT_ERR_INTERNAL;

	if ((r = jit_store__need_write(t)) != 0)
		return r;
	if ((r = jit_store__request_fields(req, &id, &state, &user)) != 0)
		return r;
	k.mv_data = (void *)id;
	k.mv_size = strlen(id);
	if ((r = jit_store__map_err(mdb_get(t->txn, t->s->dbi[DB_REQUESTS],
	    &k, &d))) != 0)
		return r;
	/* The old index keys come from the old value's header and its
	 * req_keys record: no JSON. */
	if ((r = jit_store__head_parse(t->s, &d, &h)) != 0)
		return r;
	/* d points into a page that the updates below may move (LMDB
	 * spills dirty pages of a big transaction): copy what is used. */
	if (h.slen > MAX_NAME || h.ulen > MAX_NAME)
		return JIT_ERR_STORE_CORRUPT;
	memcpy(ostate, h.state, h.slen);
	memcpy(ouser, h.user, h.ulen);
	h.state = ostate;
	h.user = ouser;
	jit_store__keys_of(req, &rk);
	if ((r = jit_store__index_move(t, id, &h, state, user, &rk)) != 0 ||
	    (r = index_move(t, DB_BY_STATE, h.state, h.slen, state, h.seq,
	    id)) != 0 ||
	    (r = index_move(t, DB_BY_USER, h.user, h.ulen, user, h.seq,
	    id)) != 0)
		goto out;
	if (deadline != h.deadline &&
	    ((r = deadline_del(t, h.deadline, h.seq)) != 0 ||
	    (r = jit_store__deadline_put(t, deadline, h.seq, id)) != 0))
		goto out;
	if ((r = record_value(req, js, jl, h.seq, deadline, state, user, &val,
	    &vlen)) != 0)
		goto out;
	d.mv_data = val;
	d.mv_size = vlen;
	if ((r = jit_store__map_err(mdb_put(t->txn, t->s->dbi[DB_REQUESTS],
	    &k, &d, 0))) != 0)
		goto out;
	mark_changed(t, id);
	r = 0;
out:
	free(val);
	return r;
}

/* ---- get --------------------------------------------------------------- */

int
jit_store_get_request(struct jit_store_txn *t, const char *id, json_t **out,
    uint64_t *seq)
{
	MDB_val d;
	int r;

	if (out != NULL)
		*out = NULL;
	if (seq != NULL)
		*seq = 0;
	if (out == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	if ((r = lookup(t, id, &d)) != 0)
		return r;
	return jit_store__request_parse(t->s, &d, out, seq);
}

int
jit_store_get_request_raw(struct jit_store_txn *t, const char *id,
    json_t **out, void **raw, size_t *rawlen)
{
	MDB_val d;
	int r;

	if (out != NULL)
		*out = NULL;
	if (raw != NULL)
		*raw = NULL;
	if (rawlen != NULL)
		*rawlen = 0;
	if (out == NULL || raw == NULL || rawlen == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	if ((r = lookup(t, id, &d)) != 0)
		return r;
	if ((r = jit_store__request_parse(t->s, &d, out, NULL)) != 0)
		return r;
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
jit_store_request_unchanged(struct jit_store_txn *t, const char *id,
    const void *raw, size_t rawlen)
{
	MDB_val d;
	int r;

	if (raw == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	if ((r = lookup(t, id, &d)) != 0)
		return r;
	return d.mv_size == rawlen && memcmp(d.mv_data, raw, rawlen) == 0 ?
	    0 : JIT_ERR_CONFLICT;
}

struct load_ctx {
	const char *id;
	json_t *out;
};

static int
load_cb(struct jit_store_txn *t, void *ctx)
{
	struct load_ctx *c = ctx;

	return jit_store_get_request(t, c->id, &c->out, NULL);
}

int
jit_store_load_request(struct jit_store *s, const char *id, json_t **out)
{
	struct load_ctx c = { id, NULL };
	int r;

	if (out == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	*out = NULL;
	if ((r = jit_store_read(s, load_cb, &c)) != 0)
		return r;
	*out = c.out;
	return 0;
}
