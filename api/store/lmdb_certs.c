/*
 * lmdb_certs.c - see store.h, "certificates": allocating, reserving and
 * claiming serials (meta "next_serial"), the write-once certificate
 * records keyed by be64(serial), and the counters in meta (for copies).
 */
#include "lmdb_int.h"

#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>

#include "err.h"

int
jit_lmdb_next_serial(struct jit_store_txn *t, uint64_t *serial)
{
	uint64_t next;
	int r;

	if ((r = jit_lmdb_meta_get_u64(t, "next_serial", 1, &next)) != 0)
		return r;
	if (next == 0 || next == UINT64_MAX)
		return JIT_ERR_STORE_FULL;  /* 2^64 certificates later */
	if ((r = jit_lmdb_meta_put_u64(t, "next_serial", next + 1)) != 0)
		return r;
	*serial = next;
	return 0;
}

/*
 * Reservations hand out serials from an in-memory counter that never goes
 * below the stored next_serial of the snapshot t, so a serial is never
 * given out twice by this process, and never one that a committed
 * transaction (of any process) already allocated.  The claim in the
 * issuing transaction moves next_serial past it, so after a restart the
 * counter starts above every stored serial.  A reservation that is never
 * claimed leaves a gap; nothing signed with it left the process.
 */
int
jit_lmdb_reserve_serial(struct jit_store_txn *t, uint64_t *serial)
{
	uint64_t next;
	int r;

	if ((r = jit_lmdb_meta_get_u64(t, "next_serial", 1, &next)) != 0)
		return r;
	pthread_mutex_lock(&t->s->smu);
	if (t->s->serial_mem < next)
		t->s->serial_mem = next;
	if (t->s->serial_mem == 0 || t->s->serial_mem == UINT64_MAX) {
		pthread_mutex_unlock(&t->s->smu);
		return JIT_ERR_STORE_FULL;
	}
	*serial = t->s->serial_mem++;
	pthread_mutex_unlock(&t->s->smu);
	return 0;
}

int
jit_lmdb_claim_serial(struct jit_store_txn *t, uint64_t serial)
{
	unsigned char kb[8];
	MDB_val k = { 8, kb }, d;
	uint64_t next;
	int r, rc;

	put_be64(kb, serial);
	rc = mdb_get(t->txn, DBI(t, DB_CERTS), &k, &d);
	if (rc == 0)
		return JIT_ERR_CONFLICT;
	if (rc != MDB_NOTFOUND)
		return jit_lmdb_map_err(rc);
	if ((r = jit_lmdb_meta_get_u64(t, "next_serial", 1, &next)) != 0)
		return r;
	if (serial >= next)
		return jit_lmdb_meta_put_u64(t, "next_serial", serial + 1);
	return 0;
}

int
jit_lmdb_put_cert(struct jit_store_txn *t, uint64_t serial, const char *js,
    size_t jl)
{
	unsigned char kb[8];
	MDB_val k = { 8, kb }, d;

	put_be64(kb, serial);
	d.mv_data = (void *)js;
	d.mv_size = jl;
	return jit_lmdb_map_err(mdb_put(t->txn, DBI(t, DB_CERTS), &k, &d,
	    MDB_NOOVERWRITE));
}

int
jit_lmdb_get_cert(struct jit_store_txn *t, uint64_t serial, json_t **out)
{
	unsigned char kb[8];
	MDB_val k = { 8, kb }, d;
	int rc;

	put_be64(kb, serial);
	if ((rc = mdb_get(t->txn, DBI(t, DB_CERTS), &k, &d)) != 0)
		return jit_lmdb_map_err(rc);
	return jit_store__parse_json(d.mv_data, d.mv_size, 0, out);
}

int
jit_lmdb_list_certs(struct jit_store_txn *t, uint64_t after, size_t limit,
    jit_store_cert_cb cb, void *ctx)
{
	unsigned char kb[8];
	MDB_cursor *cur = NULL;
	MDB_val k = { 8, kb }, d;
	size_t count = 0;
	int r = 0, rc;

	put_be64(kb, after + 1);
	if ((rc = mdb_cursor_open(t->txn, DBI(t, DB_CERTS), &cur)) != 0)
		return jit_lmdb_map_err(rc);
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		json_t *rec;

		if (limit != 0 && count >= limit)
			break;
		if (k.mv_size != 8) {
			r = JIT_ERR_STORE_CORRUPT;
			break;
		}
		if ((r = jit_store__parse_json(d.mv_data, d.mv_size, 0,
		    &rec)) != 0)
			break;
		count++;
		r = cb(rec, get_be64(k.mv_data), ctx);
		json_decref(rec);
		if (r != 0)
			break;
	}
	return jit_lmdb_walk_end(cur, r, rc);
}

/* For copy.c: every cert record's stored text, in serial order. */
int
jit_lmdb_raw_certs(struct jit_store_txn *t, jit_store__raw_cb cb, void *ctx)
{
	MDB_cursor *cur = NULL;
	MDB_val k, d;
	int r = 0, rc;

	if ((rc = mdb_cursor_open(t->txn, DBI(t, DB_CERTS), &cur)) != 0)
		return jit_lmdb_map_err(rc);
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		if (k.mv_size != 8) {
			r = JIT_ERR_STORE_CORRUPT;
			break;
		}
		if ((r = cb(get_be64(k.mv_data), NULL, d.mv_data, d.mv_size,
		    ctx)) != 0)
			break;
	}
	return jit_lmdb_walk_end(cur, r, rc);
}

/* The counters in meta, by name, with their values when absent. */
static const struct {
	const char *name;
	uint64_t dflt;
	size_t off;
} counters[] = {
	{ "next_request_seq", 1,
	    offsetof(struct jit_store_counters, next_request_seq) },
	{ "next_serial", 1, offsetof(struct jit_store_counters, next_serial) },
	{ "next_outbox_seq", 1,
	    offsetof(struct jit_store_counters, next_outbox_seq) },
	{ "outbox_delivered", 0,
	    offsetof(struct jit_store_counters, outbox_delivered) },
};
#define NCOUNTERS (sizeof(counters) / sizeof(counters[0]))

static uint64_t *
counter(struct jit_store_counters *c, size_t i)
{
	return (uint64_t *)(void *)((char *)c + counters[i].off);
}

int
jit_lmdb_get_counters(struct jit_store_txn *t, struct jit_store_counters *c)
{
	int r = 0;

	for (size_t i = 0; i < NCOUNTERS && r == 0; i++)
		r = jit_lmdb_meta_get_u64(t, counters[i].name,
		    counters[i].dflt, counter(c, i));
	return r;
}

int
jit_lmdb_raise_counters(struct jit_store_txn *t,
    const struct jit_store_counters *c)
{
	struct jit_store_counters now, want = *c;
	int r;

	if ((r = jit_lmdb_get_counters(t, &now)) != 0)
		return r;
	for (size_t i = 0; i < NCOUNTERS && r == 0; i++)
		if (*counter(&want, i) > *counter(&now, i))
			r = jit_lmdb_meta_put_u64(t, counters[i].name,
			    *counter(&want, i));
	return r;
}
