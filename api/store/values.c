/*
 * values.c - see store.h, "small named values": key -> any JSON value.
 */
#include "store_int.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"

int
jit_store_put_value(struct jit_store_txn *t, const char *key,
    const json_t *value)
{
	MDB_val k, d;
	char *js;
	size_t jl;
	int r;

	if ((r = jit_store__need_write(t)) != 0)
		return r;
	if (jit_store__check_name(key, MAX_NAME) != 0 || value == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	if ((r = jit_store__dump_json(value, JSON_ENCODE_ANY, &js, &jl)) != 0)
		return r;
	k.mv_data = (void *)key;
	k.mv_size = strlen(key);
	d.mv_data = js;
	d.mv_size = jl;
	r = jit_store__map_err(mdb_put(t->txn, t->s->dbi[DB_VALUES], &k, &d,
	    0));
	free(js);
	return r;
}

int
jit_store_get_value(struct jit_store_txn *t, const char *key, json_t **out)
{
	MDB_val k, d;
	int rc;

	if (out != NULL)
		*out = NULL;
	if (t == NULL || out == NULL ||
	    jit_store__check_name(key, MAX_NAME) != 0)
		return JIT_ERR_INVALID_ARGUMENT;
	k.mv_data = (void *)key;
	k.mv_size = strlen(key);
	if ((rc = mdb_get(t->txn, t->s->dbi[DB_VALUES], &k, &d)) != 0)
		return jit_store__map_err(rc);
	return jit_store__parse_json(d.mv_data, d.mv_size, JSON_DECODE_ANY,
	    out);
}
