/*
 * support.c - helpers shared by the store's files (store_int.h): LMDB
 * error mapping, meta counters, JSON records, name checks.
 */
#include "store_int.h"

#include <errno.h>
#include <string.h>

#include "err.h"

int
jit_store__map_err(int rc)
{
	switch (rc) {
	case 0:
		return 0;
	case MDB_NOTFOUND:
		return JIT_ERR_NOT_FOUND;
	case MDB_KEYEXIST:
		return JIT_ERR_CONFLICT;
	case MDB_MAP_FULL:
	case ENOSPC:
	case EDQUOT:
		return JIT_ERR_STORE_FULL;
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_INVALID:
	case MDB_VERSION_MISMATCH:
	case MDB_INCOMPATIBLE:
		return JIT_ERR_STORE_CORRUPT;
	case EACCES:
	case EPERM:
	case EROFS:
		return JIT_ERR_PERMISSION;
	case ENOENT:
		return JIT_ERR_NOT_FOUND;
	case ENOMEM:
		return JIT_ERR_ALLOC;
	default:
		return JIT_ERR_STORE;
	}
}

unsigned
jit_store__slot_of(const char *id)
{
	uint32_t h = 2166136261u;  /* FNV-1a */

	for (; *id != '\0'; id++) {
		h ^= (unsigned char)*id;
		h *= 16777619u;
	}
	return h % NSLOTS;
}

const char *
jit_store__get_name(const json_t *o, const char *key, size_t max)
{
	json_t *v = json_object_get(o, key);
	const char *s;
	size_t n;

	if (!json_is_string(v))
		return NULL;
	s = json_string_value(v);
	n = json_string_length(v);
	if (n == 0 || n > max || strlen(s) != n)
		return NULL;
	return s;
}

int
jit_store__check_name(const char *s, size_t max)
{
	size_t n;

	if (s == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	n = strlen(s);
	return (n == 0 || n > max) ? JIT_ERR_INVALID_ARGUMENT : 0;
}

int
jit_store__parse_json(const void *data, size_t len, size_t flags,
    json_t **out)
{
	json_error_t e;

	*out = json_loadb(data, len, flags, &e);
	return *out == NULL ? JIT_ERR_STORE_CORRUPT : 0;
}

int
jit_store__dump_json(const json_t *j, size_t flags, char **out, size_t *len)
{
	*out = json_dumps(j, flags | JSON_COMPACT);
	if (*out == NULL)
		return JIT_ERR_ALLOC;
	*len = strlen(*out);
	return 0;
}

int
jit_store__encode_object(const json_t *obj, char **out, size_t *len)
{
	if (out != NULL)
		*out = NULL;
	if (len != NULL)
		*len = 0;
	if (out == NULL || len == NULL || !json_is_object(obj))
		return JIT_ERR_INVALID_ARGUMENT;
	return jit_store__dump_json(obj, 0, out, len);
}

int
jit_store__walk_end(MDB_cursor *cur, int r, int rc)
{
	mdb_cursor_close(cur);
	if (r != 0)
		return r > 0 ? 0 : r;
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : jit_store__map_err(rc);
}

int
jit_store__need_write(struct jit_store_txn *t)
{
	if (t == NULL || t->txn == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	return t->write ? 0 : JIT_ERR_PERMISSION;
}

int
jit_store__get_u64(struct jit_store_txn *t, int db, const char *key,
    size_t klen, uint64_t dflt, uint64_t *v)
{
	MDB_val k = { klen, (void *)key }, d;
	int rc;

	rc = mdb_get(t->txn, t->s->dbi[db], &k, &d);
	if (rc == MDB_NOTFOUND) {
		*v = dflt;
		return 0;
	}
	if (rc != 0)
		return jit_store__map_err(rc);
	if (d.mv_size != 8)
		return JIT_ERR_STORE_CORRUPT;
	*v = get_be64(d.mv_data);
	return 0;
}

int
jit_store__put_u64(struct jit_store_txn *t, int db, const char *key,
    size_t klen, uint64_t v)
{
	unsigned char b[8];
	MDB_val k = { klen, (void *)key }, d = { 8, b };

	put_be64(b, v);
	return jit_store__map_err(mdb_put(t->txn, t->s->dbi[db], &k, &d, 0));
}

int
jit_store__meta_get_u64(struct jit_store_txn *t, const char *name,
    uint64_t dflt, uint64_t *v)
{
	return jit_store__get_u64(t, DB_META, name, strlen(name), dflt, v);
}

int
jit_store__meta_put_u64(struct jit_store_txn *t, const char *name,
    uint64_t v)
{
	return jit_store__put_u64(t, DB_META, name, strlen(name), v);
}
