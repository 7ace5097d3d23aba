/*
 * lmdb_support.c - helpers the LMDB backend's files share (lmdb_int.h):
 * error mapping, cursor walks, be64 values (meta counters).
 */
#include "lmdb_int.h"

#include <errno.h>
#include <string.h>

#include "err.h"

int
jit_lmdb_map_err(int rc)
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

int
jit_lmdb_walk_end(MDB_cursor *cur, int r, int rc)
{
	mdb_cursor_close(cur);
	if (r != 0)
		return r > 0 ? 0 : r;
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : jit_lmdb_map_err(rc);
}

int
jit_lmdb_get_u64(struct jit_store_txn *t, int db, const char *key,
    size_t klen, uint64_t dflt, uint64_t *v)
{
	MDB_val k = { klen, (void *)key }, d;
	int rc;

	rc = mdb_get(t->txn, DBI(t, db), &k, &d);
	if (rc == MDB_NOTFOUND) {
		*v = dflt;
		return 0;
	}
	if (rc != 0)
		return jit_lmdb_map_err(rc);
	if (d.mv_size != 8)
		return JIT_ERR_STORE_CORRUPT;
	*v = get_be64(d.mv_data);
	return 0;
}

int
jit_lmdb_put_u64(struct jit_store_txn *t, int db, const char *key,
    size_t klen, uint64_t v)
{
	unsigned char b[8];
	MDB_val k = { klen, (void *)key }, d = { 8, b };

	put_be64(b, v);
	return jit_lmdb_map_err(mdb_put(t->txn, DBI(t, db), &k, &d, 0));
}

int
jit_lmdb_meta_get_u64(struct jit_store_txn *t, const char *name,
    uint64_t dflt, uint64_t *v)
{
	return jit_lmdb_get_u64(t, DB_META, name, strlen(name), dflt, v);
}

int
jit_lmdb_meta_put_u64(struct jit_store_txn *t, const char *name,
    uint64_t v)
{
	return jit_lmdb_put_u64(t, DB_META, name, strlen(name), v);
}
