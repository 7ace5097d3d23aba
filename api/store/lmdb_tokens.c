/*
 * lmdb_tokens.c - see store.h, "tokens": API token records keyed by the
 * SHA-256 of the token, with a token id -> hash index for listing and
 * revoking.
 */
#include "lmdb_int.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"

int
jit_lmdb_get_token(struct jit_store_txn *t,
    const unsigned char hash[JIT_TOKEN_HASH_LEN], json_t **out)
{
	MDB_val k = { JIT_TOKEN_HASH_LEN, (void *)hash }, d;
	int rc;

	if ((rc = mdb_get(t->txn, DBI(t, DB_TOKENS), &k, &d)) != 0)
		return jit_lmdb_map_err(rc);
	return jit_store__parse_json(d.mv_data, d.mv_size, 0, out);
}

int
jit_lmdb_put_token(struct jit_store_txn *t,
    const unsigned char hash[JIT_TOKEN_HASH_LEN], const char *id,
    const char *js, size_t jl)
{
	MDB_val hk = { JIT_TOKEN_HASH_LEN, (void *)hash }, ik, d;
	const char *oid;
	json_t *old = NULL;
	int r = JIT_ERR_INTERNAL, rc;

	ik.mv_data = (void *)id;
	ik.mv_size = strlen(id);
	rc = mdb_get(t->txn, DBI(t, DB_TOKEN_IDS), &ik, &d);
	if (rc == 0 && (d.mv_size != JIT_TOKEN_HASH_LEN ||
	    memcmp(d.mv_data, hash, JIT_TOKEN_HASH_LEN) != 0))
		return JIT_ERR_CONFLICT;
	if (rc != 0 && rc != MDB_NOTFOUND)
		return jit_lmdb_map_err(rc);
	/* Replacing a record that had another id: drop the stale id. */
	r = jit_lmdb_get_token(t, hash, &old);
	if (r == 0 && (oid = jit_store__get_name(old, "id", MAX_ID)) != NULL &&
	    strcmp(oid, id) != 0) {
		MDB_val ok = { strlen(oid), (void *)oid };

		rc = mdb_del(t->txn, DBI(t, DB_TOKEN_IDS), &ok, NULL);
		if (rc != 0 && rc != MDB_NOTFOUND) {
			r = jit_lmdb_map_err(rc);
			goto out;
		}
	} else if (r != 0 && r != JIT_ERR_NOT_FOUND) {
		goto out;
	}
	d.mv_data = (void *)js;
	d.mv_size = jl;
	if ((r = jit_lmdb_map_err(mdb_put(t->txn, DBI(t, DB_TOKENS), &hk,
	    &d, 0))) != 0)
		goto out;
	d = hk;
	r = jit_lmdb_map_err(mdb_put(t->txn, DBI(t, DB_TOKEN_IDS), &ik,
	    &d, 0));
out:
	json_decref(old);
	return r;
}

int
jit_lmdb_get_token_by_id(struct jit_store_txn *t, const char *id,
    unsigned char hash[JIT_TOKEN_HASH_LEN], json_t **out)
{
	unsigned char h[JIT_TOKEN_HASH_LEN];
	MDB_val k, d;
	int rc;

	k.mv_data = (void *)id;
	k.mv_size = strlen(id);
	if ((rc = mdb_get(t->txn, DBI(t, DB_TOKEN_IDS), &k, &d)) != 0)
		return jit_lmdb_map_err(rc);
	if (d.mv_size != JIT_TOKEN_HASH_LEN)
		return JIT_ERR_STORE_CORRUPT;
	memcpy(h, d.mv_data, sizeof(h));
	if (hash != NULL)
		memcpy(hash, h, sizeof(h));
	if (out == NULL)
		return 0;
	return jit_lmdb_get_token(t, h, out);
}

int
jit_lmdb_delete_token(struct jit_store_txn *t, const char *id)
{
	unsigned char h[JIT_TOKEN_HASH_LEN];
	MDB_val hk = { JIT_TOKEN_HASH_LEN, h }, ik;
	int r, rc;

	if ((r = jit_lmdb_get_token_by_id(t, id, h, NULL)) != 0)
		return r;
	ik.mv_data = (void *)id;
	ik.mv_size = strlen(id);
	rc = mdb_del(t->txn, DBI(t, DB_TOKENS), &hk, NULL);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return jit_lmdb_map_err(rc);
	return jit_lmdb_map_err(mdb_del(t->txn, DBI(t, DB_TOKEN_IDS), &ik,
	    NULL));
}

int
jit_lmdb_list_tokens(struct jit_store_txn *t, jit_store_token_cb cb,
    void *ctx)
{
	MDB_cursor *cur = NULL;
	MDB_val k, d;
	int r = 0, rc;

	if ((rc = mdb_cursor_open(t->txn, DBI(t, DB_TOKENS), &cur)) != 0)
		return jit_lmdb_map_err(rc);
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		unsigned char h[JIT_TOKEN_HASH_LEN];
		json_t *rec;

		if (k.mv_size != JIT_TOKEN_HASH_LEN) {
			r = JIT_ERR_STORE_CORRUPT;
			break;
		}
		memcpy(h, k.mv_data, sizeof(h));
		if ((r = jit_store__parse_json(d.mv_data, d.mv_size, 0,
		    &rec)) != 0)
			break;
		r = cb(h, rec, ctx);
		json_decref(rec);
		if (r != 0)
			break;
	}
	return jit_lmdb_walk_end(cur, r, rc);
}
