/*
 * copy.c - see store.h, jit_store_copy(): one store's contents into an
 * empty one, on any pair of backends.  A write closure on the target
 * opens a read snapshot of the source and stores what it reads through
 * the target backend's operations, so the whole copy is one transaction
 * and the source is seen at one point in time.
 */
#include "store_int.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"

struct copy_ctx {
	struct jit_store *from;
	struct jit_store_txn *to;    /* the target's write transaction */
	struct jit_store_copy_stats st;
	uint64_t last_seq;           /* of the last audit entry copied */
	char last_hash[65];
	char from_head[65];          /* the source's recorded head */
	uint64_t from_head_seq;
	int found;                   /* emptiness check: something found */
};

#define TO_OPS(c) ((c)->to->s->ops)

/* ---- is the target empty? ------------------------------------------------ */

static int
found_request(json_t *req, uint64_t seq, void *vctx)
{
	(void)req;
	(void)seq;
	((struct copy_ctx *)vctx)->found = 1;
	return 1;
}

static int
found_raw(uint64_t num, const char *key, const char *js, size_t jl,
    void *vctx)
{
	(void)num;
	(void)key;
	(void)js;
	(void)jl;
	((struct copy_ctx *)vctx)->found = 1;
	return 1;
}

static int
found_token(const unsigned char hash[JIT_TOKEN_HASH_LEN], json_t *rec,
    void *vctx)
{
	(void)hash;
	(void)rec;
	((struct copy_ctx *)vctx)->found = 1;
	return 1;
}

static int
found_outbox(const char *endpoint, uint64_t seq, enum jit_outbox_state st,
    json_t *rec, void *vctx)
{
	(void)endpoint;
	(void)seq;
	(void)st;
	(void)rec;
	((struct copy_ctx *)vctx)->found = 1;
	return 1;
}

/* CONFLICT unless the target holds nothing at all. */
static int
check_empty(struct copy_ctx *c)
{
	static const struct jit_store_list one = { 0, 1, 0 };
	struct jit_store_txn *t = c->to;
	uint64_t seq = 0;
	char *last = NULL;
	int r;

	c->found = 0;
	if ((r = TO_OPS(c)->list_requests(t, JIT_INDEX_ALL, NULL, &one,
	    found_request, c)) < 0 ||
	    (r = TO_OPS(c)->raw_certs(t, found_raw, c)) < 0 ||
	    (r = TO_OPS(c)->raw_values(t, found_raw, c)) < 0 ||
	    (r = TO_OPS(c)->list_tokens(t, found_token, c)) < 0 ||
	    (r = TO_OPS(c)->outbox_list(t, 0, found_outbox, c)) < 0 ||
	    (r = TO_OPS(c)->audit_last(t, &seq, &last, NULL)) < 0)
		return r;
	free(last);
	return c->found || seq != 0 ? JIT_ERR_CONFLICT : 0;
}

/* ---- the copy ------------------------------------------------------------ */

static int
copy_request(const struct jit_store_raw_request *rq, void *vctx)
{
	struct copy_ctx *c = vctx;
	struct jit_store_raw_request row = *rq;
	json_t *req = NULL;
	int r;

	/* A schema 1 LMDB store opened read-only has no state or user in
	 * its headers (and no deadlines): open it for writing first. */
	if (rq->state[0] == '\0' || rq->user[0] == '\0')
		return JIT_ERR_STORE_CORRUPT;
	/* What the target indexes besides state and user, as a create
	 * would take it from the request. */
	if ((r = jit_store__parse_object(rq->js, rq->jl, &req)) != 0)
		return r;
	jit_store__request_keys(req, &row.role, &row.not_after);
	r = TO_OPS(c)->put_raw_request(c->to, &row);
	json_decref(req);
	if (r != 0)
		return r;
	c->st.requests++;
	return 0;
}

static int
copy_cert(uint64_t serial, const char *key, const char *js, size_t jl,
    void *vctx)
{
	struct copy_ctx *c = vctx;
	int r;

	(void)key;
	if (serial == 0 || serial >= INT64_MAX || jl == 0)
		return JIT_ERR_STORE_CORRUPT;
	if ((r = TO_OPS(c)->put_cert(c->to, serial, js, jl)) != 0)
		return r;
	c->st.certs++;
	return 0;
}

static int
copy_value(uint64_t num, const char *key, const char *js, size_t jl,
    void *vctx)
{
	struct copy_ctx *c = vctx;
	int r;

	(void)num;
	if ((r = TO_OPS(c)->put_value(c->to, key, js, jl)) != 0)
		return r;
	c->st.values++;
	return 0;
}

static int
copy_token(const unsigned char hash[JIT_TOKEN_HASH_LEN], json_t *rec,
    void *vctx)
{
	struct copy_ctx *c = vctx;
	int r;

	if ((r = jit_store_put_token(c->to, hash, rec)) != 0)
		return r;
	c->st.tokens++;
	return 0;
}

/* An outbox entry with its sequence number and state. */
static int
copy_outbox(const char *endpoint, uint64_t seq, enum jit_outbox_state st,
    json_t *rec, void *vctx)
{
	struct copy_ctx *c = vctx;
	struct jit_store_outbox_entry e;
	char *js = NULL;
	int r;

	if (seq == 0 || seq > INT64_MAX)
		return JIT_ERR_STORE_CORRUPT;
	memset(&e, 0, sizeof(e));
	e.endpoint = endpoint;
	e.seq = seq;
	e.st = st;
	e.rec = rec;
	e.created = jit_store__outbox_created(rec);
	if ((r = jit_store__encode_object(rec, &js, &e.jl)) != 0)
		return r;
	e.js = js;
	r = TO_OPS(c)->put_raw_outbox(c->to, &e);
	free(js);
	if (r == 0)
		c->st.outbox++;
	return r;
}

/* Audit entries keep their stored text byte for byte; the hash the
 * backend records as the head is the entry's own "hash" member. */
static int
copy_audit(uint64_t seq, const char *json, size_t len, void *vctx)
{
	struct copy_ctx *c = vctx;
	json_t *e = NULL;
	const char *h;
	int r;

	if ((r = jit_store__parse_object(json, len, &e)) != 0)
		return r;
	h = json_string_value(json_object_get(e, "hash"));
	if (h == NULL || strlen(h) != 64 || seq != c->last_seq + 1 ||
	    seq > INT64_MAX) {
		json_decref(e);
		return JIT_ERR_AUDIT_CHAIN;
	}
	memcpy(c->last_hash, h, 65);
	json_decref(e);
	if ((r = TO_OPS(c)->audit_put(c->to, seq, c->last_hash, json, len))
	    != 0)
		return r;
	c->last_seq = seq;
	c->st.audit++;
	return 0;
}

/* The read snapshot of the source (f), copied into c->to. */
static int
copy_read_fn(struct jit_store_txn *f, void *vctx)
{
	struct copy_ctx *c = vctx;
	const struct jit_store_ops *from = f->s->ops;
	struct jit_store_counters n;
	int r;

	if ((r = from->raw_requests(f, copy_request, c)) != 0 ||
	    (r = from->raw_certs(f, copy_cert, c)) != 0 ||
	    (r = from->raw_values(f, copy_value, c)) != 0 ||
	    (r = from->list_tokens(f, copy_token, c)) != 0 ||
	    (r = from->outbox_list(f, 0, copy_outbox, c)) != 0 ||
	    (r = from->audit_iter(f, 1, copy_audit, c)) != 0 ||
	    (r = from->audit_head(f, &c->from_head_seq, c->from_head)) != 0 ||
	    (r = from->get_counters(f, &n)) != 0)
		return r;
	return TO_OPS(c)->raise_counters(c->to, &n);
}

static int
copy_write_fn(struct jit_store_txn *t, void *vctx)
{
	struct copy_ctx *c = vctx;
	char head[65];
	uint64_t hseq;
	int r;

	c->to = t;
	if ((r = check_empty(c)) != 0 ||
	    (r = jit_store_read(c->from, copy_read_fn, c)) != 0)
		return r;
	/* The chain copied must end where the source's does: its recorded
	 * head (if it records one) and the target's new head. */
	if ((r = TO_OPS(c)->audit_head(t, &hseq, head)) != 0)
		return r;
	if (hseq != c->last_seq || (c->last_seq != 0 &&
	    strcmp(head, c->last_hash) != 0) || (c->from_head_seq != 0 &&
	    (c->from_head_seq != c->last_seq ||
	    strcmp(c->from_head, c->last_hash) != 0)))
		return JIT_ERR_AUDIT_CHAIN;
	c->st.audit_head_seq = c->last_seq;
	if (c->last_seq != 0)
		memcpy(c->st.audit_head, c->last_hash, 65);
	return 0;
}

int
jit_store_copy(struct jit_store *from, struct jit_store *to,
    struct jit_store_copy_stats *st)
{
	struct copy_ctx c;
	int r;

	if (st != NULL)
		memset(st, 0, sizeof(*st));
	if (from == NULL || to == NULL || from == to)
		return JIT_ERR_INVALID_ARGUMENT;
	memset(&c, 0, sizeof(c));
	c.from = from;
	if ((r = jit_store_write(to, copy_write_fn, &c)) != 0)
		return r;
	if (st != NULL)
		*st = c.st;
	return 0;
}
