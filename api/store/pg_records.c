/*
 * pg_records.c - the PostgreSQL backend's other tables (pg_int.h): serials
 * and cert records, tokens, named values, audit entries and the head, the
 * counters, and walking them for a copy.
 */
#include "pg_int.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "util.h"

#define PG_INT_MAX ((uint64_t)INT64_MAX)

/* Run st with one parameter and expect at most one row: NOT_FOUND for
 * none, else *res. */
static int
get_one(struct jit_store_txn *t, enum jit_pg_stmt st, const char *param,
    PGresult **res)
{
	const char *p[1] = { param };
	int r;

	if ((r = jit_pg_run(t->pc, st, 1, p, NULL, res)) != 0)
		return r;
	if (PQntuples(*res) >= 1)
		return 0;
	PQclear(*res);
	*res = NULL;
	return JIT_ERR_NOT_FOUND;
}

/* Column j of the one row of st(param) as JSON (obj: an object). */
static int
get_json_one(struct jit_store_txn *t, enum jit_pg_stmt st, const char *param,
    int j, int obj, json_t **out)
{
	PGresult *res = NULL;
	int r;

	if ((r = get_one(t, st, param, &res)) != 0)
		return r;
	r = jit_pg_get_json(res, 0, j, obj, out);
	PQclear(res);
	return r;
}

/* Run a write st with n parameters, the last one text of jl bytes;
 * *rows (may be NULL) the number of rows it changed (0 or 1). */
static int
put_text(struct jit_store_txn *t, enum jit_pg_stmt st, int n,
    const char *const *p, size_t jl, int *rows)
{
	int lens[4] = { -1, -1, -1, -1 };
	PGresult *res = NULL;
	int r;

	if (jl > INT32_MAX || n < 1 || n > 4)
		return JIT_ERR_INVALID_ARGUMENT;
	lens[n - 1] = (int)jl;
	if ((r = jit_pg_run(t->pc, st, n, p, lens, &res)) != 0)
		return r;
	if (rows != NULL)
		*rows = jit_pg_one_row(res) == 0;
	PQclear(res);
	return 0;
}

/* ---- serials and certificates -------------------------------------------- */

/*
 * The sequence hands out each value once, to whichever node asks
 * (nextval is not undone by a rollback).  A store takes them a block at
 * a time and hands them out in order, one round trip per block; the
 * serials of a block not handed out when the store closes are a gap.
 */
int
jit_pg_reserve_serial(struct jit_store_txn *t, uint64_t *serial)
{
	struct jit_pg *pg = PG(t);
	PGresult *res = NULL;
	int r = 0, n;

	pthread_mutex_lock(&t->s->smu);
	if (strcmp(pg->serials_from, t->pc->server_start) != 0) {
		pg->next_serial = pg->nserials = 0;    /* an earlier run's */
		pg->serial_max = 0;
	}
	if (pg->next_serial == pg->nserials) {
		pg->next_serial = pg->nserials = 0;
		if ((r = jit_pg_run(t->pc, ST_SERIAL_BLOCK, 0, NULL, NULL,
		    &res)) != 0)
			goto out;
		n = PQntuples(res);
		for (int i = 0; i < n && i < 32 && r == 0; i++)
			r = jit_pg_get_u64(res, i, 0, &pg->serials[i]);
		if (r == 0) {
			pg->nserials = n < 32 ? n : 32;
			if (pg->nserials > 0 && pg->serials[pg->nserials - 1] >
			    pg->serial_max)
				pg->serial_max = pg->serials[pg->nserials - 1];
			memcpy(pg->serials_from, t->pc->server_start,
			    sizeof(pg->serials_from));
		}
		if (r == 0 && pg->nserials == 0)
			r = JIT_ERR_STORE;
		if (r != 0)
			goto out;
	}
	*serial = pg->serials[pg->next_serial++];
out:
	pthread_mutex_unlock(&t->s->smu);
	PQclear(res);
	return r;
}

int
jit_pg_next_serial(struct jit_store_txn *t, uint64_t *serial)
{
	return jit_pg_reserve_serial(t, serial);
}

/* Raise the sequence so it never hands out serial or below. */
static int
raise_serial(struct jit_store_txn *t, uint64_t serial)
{
	char sb[21];
	const char *p[1] = { jit_pg_u64_text(serial, sb) };

	return jit_pg_run(t->pc, ST_SERIAL_SET, 1, p, NULL, NULL);
}

/*
 * serial was taken by a certificate stored meanwhile.  The sequence can
 * be behind the stored serials: nextval's WAL record is not flushed by a
 * transaction that writes nothing else, so after PostgreSQL crashes the
 * sequence may hand out again what this and other nodes already hold.
 * Move the sequence past every stored serial and drop the serials this
 * node holds, so the caller's next reservation is a fresh block instead
 * of more of the same collisions.  CONFLICT (the caller retries).
 */
static int
serial_collided(struct jit_store_txn *t)
{
	struct jit_pg *pg = PG(t);
	int r;

	pthread_mutex_lock(&t->s->smu);
	pg->next_serial = pg->nserials = 0;
	pthread_mutex_unlock(&t->s->smu);
	r = jit_pg_run(t->pc, ST_SERIAL_PAST_CERTS, 0, NULL, NULL, NULL);
	return r != 0 ? r : JIT_ERR_CONFLICT;
}

void
jit_pg_serials_collided(struct jit_store *s)
{
	struct jit_store_txn t = { 0 };

	t.s = s;
	t.pc = s->pg->wc;
	if (t.pc == NULL || !jit_pg_alive(t.pc))
		return;
	(void)serial_collided(&t);
	/* Outside the batch's transaction: a sync point ends the implicit
	 * one its statement opened, so the idle writer holds none. */
	if (jit_pg_queue(t.pc, NULL, JIT_PG_SYNC) == 0)
		(void)jit_pg_settle(t.pc);
}

/*
 * The claim costs no round trip: the sequence is raised past serial
 * (where it is below, so never for a serial this store took from it) by a
 * statement sent with the next one, and a cert
 * record already stored under serial is found by the put that follows
 * every claim (its INSERT changes no row: CONFLICT, serial_collided), in
 * the same transaction, with the contract's outcome for the closure.
 */
int
jit_pg_claim_serial(struct jit_store_txn *t, uint64_t serial)
{
	char sb[21];
	const char *p[1] = { jit_pg_u64_text(serial, sb) };

	struct jit_pg *pg = PG(t);
	int handed_out;

	if (serial > PG_INT_MAX)
		return JIT_ERR_INVALID_ARGUMENT;
	/* The sequence handed out serial or a higher one to this store,
	 * in the server run this transaction talks to: it is past serial
	 * (its nextval was logged before this commit), so the raise would
	 * change nothing. */
	pthread_mutex_lock(&t->s->smu);
	handed_out = serial <= pg->serial_max &&
	    strcmp(pg->serials_from, t->pc->server_start) == 0;
	pthread_mutex_unlock(&t->s->smu);
	if (handed_out)
		return 0;
	return jit_pg_run_later(t->pc, ST_SERIAL_SET, 1, p, NULL, 0);
}

int
jit_pg_put_cert(struct jit_store_txn *t, uint64_t serial, const char *js,
    size_t jl)
{
	char sb[21];
	const char *p[2] = { jit_pg_u64_text(serial, sb), js };
	int r, rows = 0;

	if (serial > PG_INT_MAX)
		return JIT_ERR_INVALID_ARGUMENT;
	if (t->write) {
		/* Deferred (pg_defer.c): a serial that is taken fails the
		 * batch with CONFLICT, and pg_env.c calls
		 * jit_pg_serials_collided(). */
		size_t dl[2] = { strlen(sb), jl };

		return jit_pg_defer_add(PG(t), PG_D_CERT, p, dl);
	}
	if ((r = put_text(t, ST_CERT_PUT, 2, p, jl, &rows)) != 0)
		return r;
	return rows == 1 ? 0 : serial_collided(t);
}

int
jit_pg_get_cert(struct jit_store_txn *t, uint64_t serial, json_t **out)
{
	char sb[21];

	if (serial > PG_INT_MAX)
		return JIT_ERR_NOT_FOUND;
	return get_json_one(t, ST_CERT_GET, jit_pg_u64_text(serial, sb), 0, 0,
	    out);
}

/* A walk over cert rows: the parsed record to cb, or the stored text to
 * raw (copying); where the next chunk starts. */
struct cert_walk {
	jit_store_cert_cb cb;
	jit_store__raw_cb raw;
	void *ctx;
	char after[21];
};

static int
cert_row(const PGresult *res, int i, void *vctx)
{
	struct cert_walk *w = vctx;
	uint64_t serial;
	json_t *rec;
	int r;

	if ((r = jit_pg_get_u64(res, i, 0, &serial)) != 0)
		return r;
	jit_pg_u64_text(serial, w->after);
	if (w->raw != NULL)
		return w->raw(serial, NULL, PQgetvalue(res, i, 1),
		    (size_t)PQgetlength(res, i, 1), w->ctx);
	if ((r = jit_pg_get_json(res, i, 1, 0, &rec)) != 0)
		return r;
	r = w->cb(rec, serial, w->ctx);
	json_decref(rec);
	return r;
}

int
jit_pg_list_certs(struct jit_store_txn *t, uint64_t after, size_t limit,
    jit_store_cert_cb cb, void *ctx)
{
	struct cert_walk w = { cb, NULL, ctx, "" };
	const char *p[2] = { w.after, NULL };

	if (after >= PG_INT_MAX)
		return 0;
	jit_pg_u64_text(after, w.after);
	return jit_pg_walk(t->pc, ST_CERT_LIST, 2, p, limit, cert_row, &w);
}

int
jit_pg_raw_certs(struct jit_store_txn *t, jit_store__raw_cb cb, void *ctx)
{
	struct cert_walk w = { NULL, cb, ctx, "0" };
	const char *p[2] = { w.after, NULL };

	return jit_pg_walk(t->pc, ST_CERT_LIST, 2, p, 0, cert_row, &w);
}

/* ---- the head and the counters ------------------------------------------- */

int
jit_pg_head_get(struct jit_store_txn *t, struct jit_pg_head *h)
{
	struct jit_pg_head *w = jit_pg_head_of(t);
	PGresult *res = NULL;
	int r;

	if (w != NULL) {
		*h = *w;
		return 0;
	}
	memset(h, 0, sizeof(*h));
	if ((r = jit_pg_run(t->pc, ST_HEAD_GET, 0, NULL, NULL, &res)) != 0)
		return r;
	r = jit_pg_head_read(res, h);
	PQclear(res);
	return r;
}

int
jit_pg_get_counters(struct jit_store_txn *t, struct jit_store_counters *c)
{
	struct jit_pg_head h;
	uint64_t top;
	int r;

	if ((r = jit_pg_head_get(t, &h)) != 0 ||
	    (r = jit_pg_run_u64(t->pc, ST_SERIAL_STATE, 0, NULL, &top)) != 0)
		return r;
	c->next_request_seq = h.next_request_seq;
	c->next_serial = top + 1;
	c->next_outbox_seq = h.next_outbox_seq;
	c->outbox_delivered = h.outbox_delivered;
	return 0;
}

int
jit_pg_raise_counters(struct jit_store_txn *t,
    const struct jit_store_counters *c)
{
	struct jit_pg_head *h = jit_pg_head_of(t);
	uint64_t *mine[3];
	uint64_t want[3];

	if (h == NULL)
		return JIT_ERR_INTERNAL;
	/* The head's counters, raised to c's. */
	mine[0] = &h->next_request_seq;
	mine[1] = &h->next_outbox_seq;
	mine[2] = &h->outbox_delivered;
	want[0] = c->next_request_seq;
	want[1] = c->next_outbox_seq;
	want[2] = c->outbox_delivered;
	for (int i = 0; i < 3; i++) {
		if (want[i] > PG_INT_MAX)
			return JIT_ERR_INVALID_ARGUMENT;
		if (want[i] > *mine[i]) {
			*mine[i] = want[i];
			jit_pg_head_changed(t);
		}
	}
	if (c->next_serial > 1)
		return raise_serial(t, c->next_serial - 1);
	return 0;
}

/* ---- tokens -------------------------------------------------------------- */

int
jit_pg_put_token(struct jit_store_txn *t,
    const unsigned char hash[JIT_TOKEN_HASH_LEN], const char *id,
    const char *js, size_t jl)
{
	char hx[2 * JIT_TOKEN_HASH_LEN + 1];
	const char *p[3] = { hx, id, js };
	PGresult *res = NULL;
	int r;

	jit_hex(hash, JIT_TOKEN_HASH_LEN, hx);
	/* The id may name no other token (the contract's CONFLICT). */
	r = get_one(t, ST_TOK_HASH_OF, id, &res);
	if (r == 0 && strcmp(PQgetvalue(res, 0, 0), hx) != 0)
		r = JIT_ERR_CONFLICT;
	PQclear(res);
	if (r != 0 && r != JIT_ERR_NOT_FOUND)
		return r;
	return put_text(t, ST_TOK_PUT, 3, p, jl, NULL);
}

int
jit_pg_get_token(struct jit_store_txn *t,
    const unsigned char hash[JIT_TOKEN_HASH_LEN], json_t **out)
{
	char hx[2 * JIT_TOKEN_HASH_LEN + 1];

	jit_hex(hash, JIT_TOKEN_HASH_LEN, hx);
	return get_json_one(t, ST_TOK_GET, hx, 0, 0, out);
}

/* Lowercase hex of a token hash (from the database) into hash. */
static int
unhex_hash(const char *hx, unsigned char hash[JIT_TOKEN_HASH_LEN])
{
	if (strlen(hx) != 2 * JIT_TOKEN_HASH_LEN)
		return JIT_ERR_STORE_CORRUPT;
	for (size_t i = 0; i < JIT_TOKEN_HASH_LEN; i++) {
		unsigned v = 0;

		for (int k = 0; k < 2; k++) {
			char c = hx[2 * i + (size_t)k];

			if (c >= '0' && c <= '9')
				v = v * 16 + (unsigned)(c - '0');
			else if (c >= 'a' && c <= 'f')
				v = v * 16 + (unsigned)(c - 'a' + 10);
			else
				return JIT_ERR_STORE_CORRUPT;
		}
		hash[i] = (unsigned char)v;
	}
	return 0;
}

int
jit_pg_get_token_by_id(struct jit_store_txn *t, const char *id,
    unsigned char hash[JIT_TOKEN_HASH_LEN], json_t **out)
{
	unsigned char h[JIT_TOKEN_HASH_LEN];
	PGresult *res = NULL;
	int r;

	if ((r = get_one(t, ST_TOK_GET_ID, id, &res)) != 0)
		return r;
	if ((r = unhex_hash(PQgetvalue(res, 0, 0), h)) == 0 && out != NULL)
		r = jit_pg_get_json(res, 0, 1, 0, out);
	PQclear(res);
	if (r == 0 && hash != NULL)
		memcpy(hash, h, sizeof(h));
	return r;
}

int
jit_pg_delete_token(struct jit_store_txn *t, const char *id)
{
	const char *p[1] = { id };
	PGresult *res = NULL;
	int r;

	if ((r = jit_pg_run(t->pc, ST_TOK_DEL, 1, p, NULL, &res)) != 0)
		return r;
	r = jit_pg_one_row(res) == 0 ? 0 : JIT_ERR_NOT_FOUND;
	PQclear(res);
	return r;
}

struct token_walk {
	jit_store_token_cb cb;
	void *ctx;
	char after[2 * JIT_TOKEN_HASH_LEN + 1];
};

static int
token_row(const PGresult *res, int i, void *vctx)
{
	struct token_walk *w = vctx;
	unsigned char h[JIT_TOKEN_HASH_LEN];
	json_t *rec;
	int r;

	if ((r = unhex_hash(PQgetvalue(res, i, 0), h)) != 0 ||
	    (r = jit_pg_get_json(res, i, 1, 0, &rec)) != 0)
		return r;
	memcpy(w->after, PQgetvalue(res, i, 0), sizeof(w->after));
	r = w->cb(h, rec, w->ctx);
	json_decref(rec);
	return r;
}

int
jit_pg_list_tokens(struct jit_store_txn *t, jit_store_token_cb cb, void *ctx)
{
	struct token_walk w = { cb, ctx, "" };
	const char *p[2] = { w.after, NULL };

	return jit_pg_walk(t->pc, ST_TOK_LIST, 2, p, 0, token_row, &w);
}

/* ---- named values -------------------------------------------------------- */

int
jit_pg_put_value(struct jit_store_txn *t, const char *key, const char *js,
    size_t jl)
{
	const char *p[2] = { key, js };
	int lens[2] = { -1, (int)jl };
	size_t dl[2] = { strlen(key), jl };
	int r;

	if (jl > INT32_MAX)
		return JIT_ERR_INVALID_ARGUMENT;
	/* In a write, deferred: the batch writes each value once. */
	if (t->write)
		r = jit_pg_defer_add(PG(t), PG_D_VAL, p, dl);
	else
		r = jit_pg_run_later(t->pc, ST_VAL_PUT, 2, p, lens, 0);
	if (r == 0)
		jit_pg_cache_put(t, PG_C_VAL, key, js, jl);
	return r;
}

/* In a write, from the writer's cache when it holds the value (or knows
 * there is none); what is read is kept there. */
int
jit_pg_get_value(struct jit_store_txn *t, const char *key, json_t **out)
{
	PGresult *res = NULL;
	const char *d;
	size_t n;
	int r;

	*out = NULL;
	if (jit_pg_cache_get(t, PG_C_VAL, key, &d, &n))
		return d == NULL ? JIT_ERR_NOT_FOUND :
		    jit_store__parse_json(d, n, JSON_DECODE_ANY, out);
	r = get_one(t, ST_VAL_GET, key, &res);
	if (r == JIT_ERR_NOT_FOUND)
		jit_pg_cache_put(t, PG_C_VAL, key, NULL, 0);
	if (r != 0)
		return r;
	jit_pg_cache_put(t, PG_C_VAL, key, PQgetvalue(res, 0, 0),
	    (size_t)PQgetlength(res, 0, 0));
	r = jit_pg_get_json(res, 0, 0, 0, out);
	PQclear(res);
	return r;
}

struct value_walk {
	jit_store__raw_cb cb;
	void *ctx;
	char after[MAX_NAME + 1];
};

static int
value_row(const PGresult *res, int i, void *vctx)
{
	struct value_walk *w = vctx;
	const char *k = PQgetvalue(res, i, 0);

	if (strlen(k) > MAX_NAME)
		return JIT_ERR_STORE_CORRUPT;
	memcpy(w->after, k, strlen(k) + 1);
	return w->cb(0, k, PQgetvalue(res, i, 1),
	    (size_t)PQgetlength(res, i, 1), w->ctx);
}

int
jit_pg_raw_values(struct jit_store_txn *t, jit_store__raw_cb cb, void *ctx)
{
	struct value_walk w = { cb, ctx, "" };
	const char *p[2] = { w.after, NULL };

	return jit_pg_walk(t->pc, ST_VAL_LIST, 2, p, 0, value_row, &w);
}

/* ---- audit entries ------------------------------------------------------- */

int
jit_pg_audit_last(struct jit_store_txn *t, uint64_t *seq, char **json,
    size_t *len)
{
	PGresult *res = NULL;
	uint64_t s;
	int r;

	if ((r = jit_pg_run(t->pc, ST_AUD_LAST, 0, NULL, NULL, &res)) != 0)
		return r;
	if (PQntuples(res) == 1 && (r = jit_pg_get_u64(res, 0, 0, &s)) == 0 &&
	    (r = jit_store__copy_text(PQgetvalue(res, 0, 1),
	    (size_t)PQgetlength(res, 0, 1), json, len)) == 0)
		*seq = s;
	PQclear(res);
	return r;
}

int
jit_pg_audit_head(struct jit_store_txn *t, uint64_t *seq, char *hash_hex)
{
	struct jit_pg_head h;
	int r;

	if ((r = jit_pg_head_get(t, &h)) != 0)
		return r;
	if (h.audit_seq != 0 && strlen(h.audit_hash) != 64)
		return JIT_ERR_STORE_CORRUPT;
	*seq = h.audit_seq;
	memcpy(hash_hex, h.audit_hash, strlen(h.audit_hash) + 1);
	return 0;
}

/*
 * The head row (locked by the batch) is the authority on the chain's
 * end: the entry must follow it.  The row itself is written once, when
 * the batch commits (pg_env.c).
 */
int
jit_pg_audit_put(struct jit_store_txn *t, uint64_t seq,
    const char *hash_hex, const char *json, size_t len)
{
	struct jit_pg_head *h = jit_pg_head_of(t);
	char sb[21];
	const char *p[2] = { jit_pg_u64_text(seq, sb), json };
	size_t dl[2] = { strlen(sb), len };
	int r;

	if (h == NULL)
		return JIT_ERR_INTERNAL;
	if (seq != h->audit_seq + 1)
		return JIT_ERR_CONFLICT;
	if (len > INT32_MAX)
		return JIT_ERR_INVALID_ARGUMENT;
	/* Deferred: the batch writes its entries with one statement; an
	 * entry already there (past the head) fails the batch. */
	if ((r = jit_pg_defer_add(PG(t), PG_D_AUD, p, dl)) != 0)
		return r;
	h->audit_seq = seq;
	memcpy(h->audit_hash, hash_hex, 65);
	jit_pg_head_changed(t);
	return 0;
}

int
jit_pg_audit_get(struct jit_store_txn *t, uint64_t seq, char **json,
    size_t *len)
{
	PGresult *res = NULL;
	char sb[21];
	int r;

	if (seq > PG_INT_MAX)
		return JIT_ERR_NOT_FOUND;
	if ((r = get_one(t, ST_AUD_GET, jit_pg_u64_text(seq, sb), &res)) != 0)
		return r;
	r = jit_store__copy_text(PQgetvalue(res, 0, 0),
	    (size_t)PQgetlength(res, 0, 0), json, len);
	PQclear(res);
	return r;
}

struct audit_walk {
	jit_store_audit_cb cb;
	void *ctx;
	char from[21];
};

static int
audit_row(const PGresult *res, int i, void *vctx)
{
	struct audit_walk *w = vctx;
	uint64_t seq;
	int r;

	if ((r = jit_pg_get_u64(res, i, 0, &seq)) != 0)
		return r;
	jit_pg_u64_text(seq + 1, w->from);
	return w->cb(seq, PQgetvalue(res, i, 1),
	    (size_t)PQgetlength(res, i, 1), w->ctx);
}

int
jit_pg_audit_iter(struct jit_store_txn *t, uint64_t from_seq,
    jit_store_audit_cb cb, void *ctx)
{
	struct audit_walk w = { cb, ctx, "" };
	const char *p[2] = { w.from, NULL };

	if (from_seq > PG_INT_MAX)
		return 0;
	jit_pg_u64_text(from_seq, w.from);
	return jit_pg_walk(t->pc, ST_AUD_ITER, 2, p, 0, audit_row, &w);
}
