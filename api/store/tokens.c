/*
 * tokens.c - see store.h, "tokens": API token records keyed by the
 * SHA-256 of the token, with a token id -> hash index for listing and
 * revoking.
 */
#include "store_int.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "err.h"
#include "util.h"

void
jit_store_token_hash(const char *token, unsigned char hash[JIT_TOKEN_HASH_LEN])
{
	SHA256((const unsigned char *)token, strlen(token), hash);
}

int
jit_store_get_token(struct jit_store_txn *t,
    const unsigned char hash[JIT_TOKEN_HASH_LEN], json_t **out)
{
	MDB_val k = { JIT_TOKEN_HASH_LEN, (void *)hash }, d;
	int rc;

	if (out != NULL)
		*out = NULL;
	if (t == NULL || hash == NULL || out == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	if ((rc = mdb_get(t->txn, t->s->dbi[DB_TOKENS], &k, &d)) != 0)
		return jit_store__map_err(rc);
	return jit_store__parse_json(d.mv_data, d.mv_size, 0, out);
}

int
jit_store_put_token(struct jit_store_txn *t,
    const unsigned char hash[JIT_TOKEN_HASH_LEN], const json_t *rec)
{
	MDB_val hk = { JIT_TOKEN_HASH_LEN, (void *)hash }, ik, d;
	const char *id, *oid;
	json_t *old = NULL;
	char *js = NULL;
	size_t jl;
	int r = JIT_ERR_INTERNAL, rc;

	if ((r = jit_store__need_write(t)) != 0)
		return r;
	if (hash == NULL || !json_is_object(rec) ||
	    (id = jit_store__get_name(rec, "id", MAX_ID)) == NULL ||
	    jit_store__get_name(rec, "user", MAX_NAME) == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	ik.mv_data = (void *)id;
	ik.mv_size = strlen(id);
	rc = mdb_get(t->txn, t->s->dbi[DB_TOKEN_IDS], &ik, &d);
	if (rc == 0 && (d.mv_size != JIT_TOKEN_HASH_LEN ||
	    memcmp(d.mv_data, hash, JIT_TOKEN_HASH_LEN) != 0))
		return JIT_ERR_CONFLICT;
	if (rc != 0 && rc != MDB_NOTFOUND)
		return jit_store__map_err(rc);
	/* Replacing a record that had another id: drop the stale id. */
	r = jit_store_get_token(t, hash, &old);
	if (r == 0 && (oid = jit_store__get_name(old, "id", MAX_ID)) != NULL &&
	    strcmp(oid, id) != 0) {
		MDB_val ok = { strlen(oid), (void *)oid };

		rc = mdb_del(t->txn, t->s->dbi[DB_TOKEN_IDS], &ok, NULL);
		if (rc != 0 && rc != MDB_NOTFOUND) {
			r = jit_store__map_err(rc);
			goto out;
		}
	} else if (r != 0 && r != JIT_ERR_NOT_FOUND) {
		goto out;
	}
	if ((r = jit_store__dump_json(rec, 0, &js, &jl)) != 0)
		goto out;
	d.mv_data = js;
	d.mv_size = jl;
	if ((r = jit_store__map_err(mdb_put(t->txn, t->s->dbi[DB_TOKENS], &hk,
	    &d, 0))) != 0)
		goto out;
	d = hk;
	r = jit_store__map_err(mdb_put(t->txn, t->s->dbi[DB_TOKEN_IDS], &ik,
	    &d, 0));
out:
	free(js);
	json_decref(old);
	return r;
}

int
jit_store_get_token_by_id(struct jit_store_txn *t, const char *id,
    unsigned char hash[JIT_TOKEN_HASH_LEN], json_t **out)
{
	unsigned char h[JIT_TOKEN_HASH_LEN];
	MDB_val k, d;
	int rc;

	if (out != NULL)
		*out = NULL;
	if (t == NULL || jit_store__check_name(id, MAX_ID) != 0)
		return JIT_ERR_INVALID_ARGUMENT;
	k.mv_data = (void *)id;
	k.mv_size = strlen(id);
	if ((rc = mdb_get(t->txn, t->s->dbi[DB_TOKEN_IDS], &k, &d)) != 0)
		return jit_store__map_err(rc);
	if (d.mv_size != JIT_TOKEN_HASH_LEN)
		return JIT_ERR_STORE_CORRUPT;
	memcpy(h, d.mv_data, sizeof(h));
	if (hash != NULL)
		memcpy(hash, h, sizeof(h));
	if (out == NULL)
		return 0;
	return jit_store_get_token(t, h, out);
}

int
jit_store_revoke_token(struct jit_store_txn *t, const char *id)
{
	unsigned char h[JIT_TOKEN_HASH_LEN];
	char now[JIT_TIME_LEN];
	json_t *rec = NULL;
	int r;

	if ((r = jit_store__need_write(t)) != 0)
		return r;
	if ((r = jit_store_get_token_by_id(t, id, h, &rec)) != 0)
		return r;
	if (json_object_get(rec, "revoked_at") == NULL ||
	    json_is_null(json_object_get(rec, "revoked_at"))) {
		jit_format_time(jit_now(), now);
		if (json_object_set_new(rec, "revoked_at", json_string(now))
		    != 0)
			r = JIT_ERR_ALLOC;
		else
			r = jit_store_put_token(t, h, rec);
	}
	json_decref(rec);
	return r;
}

int
jit_store_delete_token(struct jit_store_txn *t, const char *id)
{
	unsigned char h[JIT_TOKEN_HASH_LEN];
	MDB_val hk = { JIT_TOKEN_HASH_LEN, h }, ik;
	int r, rc;

	if ((r = jit_store__need_write(t)) != 0)
		return r;
	if ((r = jit_store_get_token_by_id(t, id, h, NULL)) != 0)
		return r;
	ik.mv_data = (void *)id;
	ik.mv_size = strlen(id);
	rc = mdb_del(t->txn, t->s->dbi[DB_TOKENS], &hk, NULL);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return jit_store__map_err(rc);
	return jit_store__map_err(mdb_del(t->txn, t->s->dbi[DB_TOKEN_IDS], &ik,
	    NULL));
}

int
jit_store_list_tokens(struct jit_store_txn *t, jit_store_token_cb cb,
    void *ctx)
{
	MDB_cursor *cur = NULL;
	MDB_val k, d;
	int r = 0, rc;

	if (t == NULL || cb == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	if ((rc = mdb_cursor_open(t->txn, t->s->dbi[DB_TOKENS], &cur)) != 0)
		return jit_store__map_err(rc);
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
	return jit_store__walk_end(cur, r, rc);
}
