/*
 * lmdb_audit.c - see store.h, "audit log storage": the audit table
 * (be64(seq) -> canonical entry text) and the head recorded in meta.
 * The chain itself (hashing, canonical form) is api/audit/audit.c.
 */
#include "lmdb_int.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"

static int
copy_text(const MDB_val *d, char **json, size_t *len)
{
	return jit_store__copy_text(d->mv_data, d->mv_size, json, len);
}

int
jit_lmdb_audit_last(struct jit_store_txn *t, uint64_t *seq, char **json,
    size_t *len)
{
	MDB_cursor *cur = NULL;
	MDB_val k, d;
	int r = 0, rc;

	if ((rc = mdb_cursor_open(t->txn, DBI(t, DB_AUDIT), &cur)) != 0)
		return jit_lmdb_map_err(rc);
	rc = mdb_cursor_get(cur, &k, &d, MDB_LAST);
	if (rc == 0) {
		if (k.mv_size != 8)
			r = JIT_ERR_STORE_CORRUPT;
		else if ((r = copy_text(&d, json, len)) == 0)
			*seq = get_be64(k.mv_data);
	} else if (rc != MDB_NOTFOUND) {
		r = jit_lmdb_map_err(rc);
	}
	mdb_cursor_close(cur);
	return r;
}

#define AUDIT_HEAD_KEY "audit_head"  /* be64(seq) || 64 hex digits */

int
jit_lmdb_audit_head(struct jit_store_txn *t, uint64_t *seq, char *hash_hex)
{
	MDB_val k = { sizeof(AUDIT_HEAD_KEY) - 1, AUDIT_HEAD_KEY }, d;
	int rc;

	*seq = 0;
	hash_hex[0] = '\0';
	rc = mdb_get(t->txn, DBI(t, DB_META), &k, &d);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return jit_lmdb_map_err(rc);
	if (d.mv_size != 8 + 64)
		return JIT_ERR_STORE_CORRUPT;
	*seq = get_be64(d.mv_data);
	memcpy(hash_hex, (const char *)d.mv_data + 8, 64);
	hash_hex[64] = '\0';
	return 0;
}

int
jit_lmdb_audit_put(struct jit_store_txn *t, uint64_t seq,
    const char *hash_hex, const char *json, size_t len)
{
	MDB_cursor *cur = NULL;
	unsigned char kb[8], hb[8 + 64];
	MDB_val k, d;
	uint64_t last = 0;
	int r, rc;

	if ((rc = mdb_cursor_open(t->txn, DBI(t, DB_AUDIT), &cur)) != 0)
		return jit_lmdb_map_err(rc);
	rc = mdb_cursor_get(cur, &k, &d, MDB_LAST);
	if (rc == 0)
		last = k.mv_size == 8 ? get_be64(k.mv_data) : UINT64_MAX;
	mdb_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return jit_lmdb_map_err(rc);
	if (last == UINT64_MAX)
		return JIT_ERR_STORE_CORRUPT;
	if (seq != last + 1)
		return JIT_ERR_CONFLICT;
	{
		/* The recorded head must describe the last entry. */
		char hh[65];
		uint64_t hseq;

		if ((r = jit_lmdb_audit_head(t, &hseq, hh)) != 0)
			return r;
		if (hseq != last && !(hseq == 0 && hh[0] == '\0'))
			return JIT_ERR_STORE_CORRUPT;
	}
	put_be64(kb, seq);
	k.mv_data = kb;
	k.mv_size = 8;
	d.mv_data = (void *)json;
	d.mv_size = len;
	if ((r = jit_lmdb_map_err(mdb_put(t->txn, DBI(t, DB_AUDIT), &k, &d,
	    MDB_APPEND))) != 0)
		return r;
	put_be64(hb, seq);
	memcpy(hb + 8, hash_hex, 64);
	k.mv_data = AUDIT_HEAD_KEY;
	k.mv_size = sizeof(AUDIT_HEAD_KEY) - 1;
	d.mv_data = hb;
	d.mv_size = sizeof(hb);
	return jit_lmdb_map_err(mdb_put(t->txn, DBI(t, DB_META), &k, &d,
	    0));
}

int
jit_lmdb_audit_get(struct jit_store_txn *t, uint64_t seq, char **json,
    size_t *len)
{
	unsigned char kb[8];
	MDB_val k = { 8, kb }, d;
	int rc;

	put_be64(kb, seq);
	if ((rc = mdb_get(t->txn, DBI(t, DB_AUDIT), &k, &d)) != 0)
		return jit_lmdb_map_err(rc);
	return copy_text(&d, json, len);
}

int
jit_lmdb_audit_iter(struct jit_store_txn *t, uint64_t from_seq,
    jit_store_audit_cb cb, void *ctx)
{
	unsigned char kb[8];
	MDB_cursor *cur = NULL;
	MDB_val k = { 8, kb }, d;
	int r = 0, rc;

	put_be64(kb, from_seq);
	if ((rc = mdb_cursor_open(t->txn, DBI(t, DB_AUDIT), &cur)) != 0)
		return jit_lmdb_map_err(rc);
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		if (k.mv_size != 8) {
			r = JIT_ERR_STORE_CORRUPT;
			break;
		}
		r = cb(get_be64(k.mv_data), d.mv_data, d.mv_size, ctx);
		if (r != 0)
			break;
	}
	return jit_lmdb_walk_end(cur, r, rc);
}
