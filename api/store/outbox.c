/*
 * outbox.c - see store.h, "notification outbox": the arguments checked and
 * the record encoded, then the backend's operation (store_int.h).
 */
#include "store_int.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"

uint64_t
jit_store__outbox_created(const json_t *rec)
{
	json_t *c = json_object_get(rec, "created_at");

	return json_is_integer(c) && json_integer_value(c) > 0 ?
	    (uint64_t)json_integer_value(c) : 0;
}

static int
have_txn(struct jit_store_txn *t)
{
	return t != NULL && t->s != NULL;
}

/* A sequence number an entry can have. */
static int
seq_ok(uint64_t seq)
{
	return seq != 0 && seq <= INT64_MAX;
}

/* e for (endpoint, seq, st, rec), the record encoded into *own (free it
 * afterwards).  INVALID_ARGUMENT for a bad name, state or record. */
static int
make_entry(const char *endpoint, uint64_t seq, enum jit_outbox_state st,
    const json_t *rec, struct jit_store_outbox_entry *e, char **own)
{
	int r;

	*own = NULL;
	if (jit_store__check_name(endpoint, MAX_NAME) != 0 ||
	    !json_is_object(rec) ||
	    (st != JIT_OUTBOX_QUEUED && st != JIT_OUTBOX_FAILED))
		return JIT_ERR_INVALID_ARGUMENT;
	memset(e, 0, sizeof(*e));
	e->endpoint = endpoint;
	e->seq = seq;
	e->st = st;
	e->rec = rec;
	e->created = jit_store__outbox_created(rec);
	if ((r = jit_store__encode_object(rec, own, &e->jl)) != 0)
		return r;
	e->js = *own;
	return 0;
}

int
jit_store_outbox_add(struct jit_store_txn *t, const char *endpoint,
    const json_t *rec, uint64_t *seq)
{
	struct jit_store_outbox_entry e;
	char *js = NULL;
	uint64_t n = 0;
	int r;

	if (seq != NULL)
		*seq = 0;
	if ((r = jit_store__need_write(t)) != 0)
		return r;
	if ((r = make_entry(endpoint, 0, JIT_OUTBOX_QUEUED, rec, &e,
	    &js)) == 0)
		r = t->s->ops->outbox_add(t, &e, &n);
	free(js);
	if (r != 0)
		return r;
	t->other = 1;
	if (seq != NULL)
		*seq = n;
	return 0;
}

int
jit_store_outbox_first(struct jit_store_txn *t, const char *endpoint,
    uint64_t *seq, json_t **rec)
{
	if (seq != NULL)
		*seq = 0;
	if (rec != NULL)
		*rec = NULL;
	if (!have_txn(t) || seq == NULL || rec == NULL ||
	    jit_store__check_name(endpoint, MAX_NAME) != 0)
		return JIT_ERR_INVALID_ARGUMENT;
	return t->s->ops->outbox_first(t, endpoint, seq, rec);
}

int
jit_store_outbox_put(struct jit_store_txn *t, const char *endpoint,
    uint64_t seq, enum jit_outbox_state st, const json_t *rec)
{
	struct jit_store_outbox_entry e;
	char *js = NULL;
	int r;

	if ((r = jit_store__need_write(t)) != 0)
		return r;
	if ((r = make_entry(endpoint, seq, st, rec, &e, &js)) == 0)
		r = seq_ok(seq) ? t->s->ops->outbox_put(t, &e) :
		    JIT_ERR_NOT_FOUND;
	free(js);
	if (r == 0)
		t->other = 1;
	return r;
}

int
jit_store_outbox_done(struct jit_store_txn *t, const char *endpoint,
    uint64_t seq)
{
	int r;

	if ((r = jit_store__need_write(t)) != 0)
		return r;
	if (jit_store__check_name(endpoint, MAX_NAME) != 0)
		return JIT_ERR_INVALID_ARGUMENT;
	if (!seq_ok(seq))
		return JIT_ERR_NOT_FOUND;
	if ((r = t->s->ops->outbox_done(t, endpoint, seq)) == 0)
		t->other = 1;
	return r;
}

int
jit_store_outbox_list(struct jit_store_txn *t, int failed_only,
    jit_store_outbox_cb cb, void *ctx)
{
	if (!have_txn(t) || cb == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	return t->s->ops->outbox_list(t, failed_only != 0, cb, ctx);
}

int
jit_store_outbox_stats(struct jit_store_txn *t, struct jit_outbox_stats *st)
{
	if (st != NULL)
		memset(st, 0, sizeof(*st));
	if (!have_txn(t) || st == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	return t->s->ops->outbox_stats(t, st);
}
