/*
 * lmdb_outbox.c - the LMDB backend's notification outbox (store.h,
 * "notification outbox"; outbox.c checks the arguments): entries keyed by
 * u8 state || endpoint NUL be64(seq) (lmdb_int.h), the sequence counter
 * and the delivered total in meta.
 */
#include "lmdb_int.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"

#define STATE_QUEUED 'q'
#define STATE_FAILED 'f'
#define KEY_MAX (1 + MAX_NAME + 1 + 8)

static unsigned char
state_byte(enum jit_outbox_state st)
{
	return st == JIT_OUTBOX_FAILED ? STATE_FAILED : STATE_QUEUED;
}

/* The key of (state, endpoint, seq) in buf; endpoint was checked. */
static void
make_key(unsigned char state, const char *endpoint, uint64_t seq,
    unsigned char buf[KEY_MAX], MDB_val *k)
{
	size_t n = strlen(endpoint);

	buf[0] = state;
	memcpy(buf + 1, endpoint, n);
	buf[1 + n] = '\0';
	put_be64(buf + 2 + n, seq);
	k->mv_data = buf;
	k->mv_size = 2 + n + 8;
}

/* Split key k into state, endpoint (copied into name, NUL-terminated)
 * and seq; STORE_CORRUPT if it is not an outbox key. */
static int
split_key(const MDB_val *k, unsigned char *state, char name[MAX_NAME + 1],
    uint64_t *seq)
{
	const unsigned char *p = k->mv_data;
	size_t n;

	if (k->mv_size < 1 + 1 + 1 + 8 || k->mv_size > KEY_MAX ||
	    (p[0] != STATE_QUEUED && p[0] != STATE_FAILED))
		return JIT_ERR_STORE_CORRUPT;
	n = k->mv_size - 1 - 1 - 8;
	if (p[1 + n] != '\0' || memchr(p + 1, '\0', n) != NULL)
		return JIT_ERR_STORE_CORRUPT;
	*state = p[0];
	memcpy(name, p + 1, n);
	name[n] = '\0';
	*seq = get_be64(p + 2 + n);
	return 0;
}

/* Store e's record under key k (flags: mdb_put's). */
static int
put_rec(struct jit_store_txn *t, MDB_val *k,
    const struct jit_store_outbox_entry *e, unsigned flags)
{
	MDB_val d = { e->jl, (void *)e->js };

	return jit_lmdb_map_err(mdb_put(t->txn, DBI(t, DB_OUTBOX), k, &d,
	    flags));
}

int
jit_lmdb_outbox_add(struct jit_store_txn *t,
    const struct jit_store_outbox_entry *e, uint64_t *seq)
{
	unsigned char kb[KEY_MAX];
	MDB_val k;
	uint64_t next;
	int r;

	if ((r = jit_lmdb_meta_get_u64(t, "next_outbox_seq", 1,
	    &next)) != 0)
		return r;
	if (next == 0 || next >= INT64_MAX)
		return JIT_ERR_STORE_FULL;
	make_key(STATE_QUEUED, e->endpoint, next, kb, &k);
	if ((r = put_rec(t, &k, e, 0)) != 0 ||
	    (r = jit_lmdb_meta_put_u64(t, "next_outbox_seq", next + 1)) != 0)
		return r;
	if (seq != NULL)
		*seq = next;
	return 0;
}

int
jit_lmdb_outbox_first(struct jit_store_txn *t, const char *endpoint,
    uint64_t *seq, json_t **rec)
{
	unsigned char kb[KEY_MAX], state;
	char name[MAX_NAME + 1];
	MDB_cursor *cur = NULL;
	MDB_val k, d;
	int r, rc;

	if (LM(t)->no_outbox_db)
		return JIT_ERR_NOT_FOUND;
	make_key(STATE_QUEUED, endpoint, 0, kb, &k);
	if ((rc = mdb_cursor_open(t->txn, DBI(t, DB_OUTBOX), &cur)) != 0)
		return jit_lmdb_map_err(rc);
	rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE);
	if (rc != 0) {
		r = jit_lmdb_map_err(rc);
		goto out;
	}
	if ((r = split_key(&k, &state, name, seq)) != 0)
		goto out;
	if (state != STATE_QUEUED || strcmp(name, endpoint) != 0) {
		*seq = 0;
		r = JIT_ERR_NOT_FOUND;
		goto out;
	}
	r = jit_store__parse_json(d.mv_data, d.mv_size, 0, rec);
out:
	mdb_cursor_close(cur);
	return r;
}

int
jit_lmdb_outbox_put(struct jit_store_txn *t,
    const struct jit_store_outbox_entry *e)
{
	unsigned char kb[KEY_MAX], ob[KEY_MAX];
	MDB_val k, ok, d;
	int rc;

	make_key(state_byte(e->st), e->endpoint, e->seq, kb, &k);
	make_key(e->st == JIT_OUTBOX_FAILED ? STATE_QUEUED : STATE_FAILED,
	    e->endpoint, e->seq, ob, &ok);
	rc = mdb_get(t->txn, DBI(t, DB_OUTBOX), &k, &d);
	if (rc == MDB_NOTFOUND) {
		/* Moving between states: the entry must be in the other. */
		if ((rc = mdb_del(t->txn, DBI(t, DB_OUTBOX), &ok,
		    NULL)) != 0)
			return jit_lmdb_map_err(rc);
	} else if (rc != 0) {
		return jit_lmdb_map_err(rc);
	}
	return put_rec(t, &k, e, 0);
}

int
jit_lmdb_put_raw_outbox(struct jit_store_txn *t,
    const struct jit_store_outbox_entry *e)
{
	unsigned char kb[KEY_MAX];
	MDB_val k;

	make_key(state_byte(e->st), e->endpoint, e->seq, kb, &k);
	return put_rec(t, &k, e, MDB_NOOVERWRITE);
}

int
jit_lmdb_outbox_done(struct jit_store_txn *t, const char *endpoint,
    uint64_t seq)
{
	unsigned char kb[KEY_MAX];
	MDB_val k;
	uint64_t n;
	int r, rc;

	make_key(STATE_QUEUED, endpoint, seq, kb, &k);
	rc = mdb_del(t->txn, DBI(t, DB_OUTBOX), &k, NULL);
	if (rc == MDB_NOTFOUND) {
		kb[0] = STATE_FAILED;
		rc = mdb_del(t->txn, DBI(t, DB_OUTBOX), &k, NULL);
	}
	if (rc != 0)
		return jit_lmdb_map_err(rc);
	if ((r = jit_lmdb_meta_get_u64(t, "outbox_delivered", 0, &n)) != 0)
		return r;
	return jit_lmdb_meta_put_u64(t, "outbox_delivered", n + 1);
}

int
jit_lmdb_outbox_list(struct jit_store_txn *t, int failed_only,
    jit_store_outbox_cb cb, void *ctx)
{
	unsigned char state;
	char name[MAX_NAME + 1];
	MDB_cursor *cur = NULL;
	MDB_val k, d;
	uint64_t seq;
	int r = 0, rc = 0;

	if (LM(t)->no_outbox_db)
		return 0;
	if ((rc = mdb_cursor_open(t->txn, DBI(t, DB_OUTBOX), &cur)) != 0)
		return jit_lmdb_map_err(rc);
	/* 'f' sorts before 'q': queued first means two passes. */
	for (int pass = 0; pass < (failed_only ? 1 : 2) && r == 0; pass++) {
		unsigned char want = failed_only || pass == 1 ? STATE_FAILED :
		    STATE_QUEUED;

		k.mv_data = &want;
		k.mv_size = 1;
		for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0;
		    rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
			json_t *rec;

			if ((r = split_key(&k, &state, name, &seq)) != 0)
				break;
			if (state != want)
				break;
			if ((r = jit_store__parse_json(d.mv_data, d.mv_size, 0,
			    &rec)) != 0)
				break;
			r = cb(name, seq, state == STATE_FAILED ?
			    JIT_OUTBOX_FAILED : JIT_OUTBOX_QUEUED, rec, ctx);
			json_decref(rec);
			if (r != 0)
				break;
		}
		if (r == 0 && rc != 0 && rc != MDB_NOTFOUND)
			break;
	}
	return jit_lmdb_walk_end(cur, r, rc);
}

static int
stats_cb(const char *endpoint, uint64_t seq, enum jit_outbox_state st,
    json_t *rec, void *ctx)
{
	struct jit_outbox_stats *s = ctx;
	uint64_t created = jit_store__outbox_created(rec);

	(void)endpoint;
	(void)seq;
	if (st == JIT_OUTBOX_FAILED) {
		s->failed++;
		return 0;
	}
	s->queued++;
	if (created > 0 && (s->oldest == 0 || created < s->oldest))
		s->oldest = created;
	return 0;
}

int
jit_lmdb_outbox_stats(struct jit_store_txn *t, struct jit_outbox_stats *st)
{
	int r;

	if ((r = jit_lmdb_meta_get_u64(t, "outbox_delivered", 0,
	    &st->delivered)) != 0)
		return r;
	return jit_lmdb_outbox_list(t, 0, stats_cb, st);
}
