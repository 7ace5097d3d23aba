/*
 * lmdb_values.c - see store.h, "small named values": key -> any JSON
 * value.
 */
#include "lmdb_int.h"

#include <string.h>

#include "err.h"

int
jit_lmdb_put_value(struct jit_store_txn *t, const char *key, const char *js,
    size_t jl)
{
	MDB_val k, d;

	k.mv_data = (void *)key;
	k.mv_size = strlen(key);
	d.mv_data = (void *)js;
	d.mv_size = jl;
	return jit_lmdb_map_err(mdb_put(t->txn, DBI(t, DB_VALUES), &k, &d, 0));
}

int
jit_lmdb_get_value(struct jit_store_txn *t, const char *key, json_t **out)
{
	MDB_val k, d;
	int rc;

	k.mv_data = (void *)key;
	k.mv_size = strlen(key);
	if ((rc = mdb_get(t->txn, DBI(t, DB_VALUES), &k, &d)) != 0)
		return jit_lmdb_map_err(rc);
	return jit_store__parse_json(d.mv_data, d.mv_size, JSON_DECODE_ANY,
	    out);
}

/* For copy.c: every value's stored text under its key, in key order. */
int
jit_lmdb_raw_values(struct jit_store_txn *t, jit_store__raw_cb cb, void *ctx)
{
	char key[MAX_NAME + 1];
	MDB_cursor *cur = NULL;
	MDB_val k, d;
	int r = 0, rc;

	if ((rc = mdb_cursor_open(t->txn, DBI(t, DB_VALUES), &cur)) != 0)
		return jit_lmdb_map_err(rc);
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		if (k.mv_size == 0 || k.mv_size > MAX_NAME ||
		    memchr(k.mv_data, '\0', k.mv_size) != NULL) {
			r = JIT_ERR_STORE_CORRUPT;
			break;
		}
		memcpy(key, k.mv_data, k.mv_size);
		key[k.mv_size] = '\0';
		if ((r = cb(0, key, d.mv_data, d.mv_size, ctx)) != 0)
			break;
	}
	return jit_lmdb_walk_end(cur, r, rc);
}
