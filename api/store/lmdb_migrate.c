/*
 * lmdb_migrate.c - rewriting a schema 1 store as schema 2 (lmdb_int.h has
 * the layout).  Schema 1 stored a request as be64(seq) || JSON; schema 2 puts
 * the indexed fields (seq, deadline, state, user) in a header in front of
 * the JSON and keeps the by_deadline index.  lmdb_env.c calls this when a
 * schema 1 store is opened for writing, inside the transaction that then
 * records schema 2, so the rewrite happens entirely or not at all.
 */
#include "lmdb_int.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "util.h"

/*
 * The legacy deadline rule, kept here only to convert data written under
 * it.  Before the deadline became an argument of jit_store_create_request
 * and jit_store_put_request, the store derived it from the request:
 * a "pending" request's "expires_at", an "approved" one's "not_after",
 * none for the other states.  Schema 1 records were written then, so
 * their deadlines follow that rule.  Nothing else in the store looks at
 * state names: new deadlines come from the caller (the lifecycle module).
 */
static uint64_t
legacy_deadline(const json_t *req, const char *state)
{
	const char *key = strcmp(state, "pending") == 0 ? "expires_at" :
	    strcmp(state, "approved") == 0 ? "not_after" : NULL;
	json_t *v = key != NULL ? json_object_get(req, key) : NULL;
	uint64_t t;

	if (!json_is_string(v) || jit_parse_time(json_string_value(v), &t)
	    != 0)
		return 0;
	return t;
}

/* Rewrite the request that by_seq entry value id names. */
static int
migrate_one(struct jit_store_txn *t, const MDB_val *id_val)
{
	struct jit_lmdb *lm = LM(t);
	const char *id, *state, *user;
	unsigned char *val = NULL;
	char *js = NULL;
	json_t *req = NULL;
	uint64_t seq, dl;
	size_t vlen, jl;
	MDB_val k = *id_val, d;
	int r = JIT_ERR_INTERNAL, rc;

	if ((rc = mdb_get(t->txn, lm->dbi[DB_REQUESTS], &k, &d)) != 0)
		return rc == MDB_NOTFOUND ? JIT_ERR_STORE_CORRUPT :
		    jit_lmdb_map_err(rc);
	if ((r = jit_lmdb_request_parse(lm, &d, &req, &seq)) != 0)
		return r;
	if (jit_store__request_fields(req, &id, &state, &user) != 0) {
		r = JIT_ERR_STORE_CORRUPT;
		goto out;
	}
	dl = legacy_deadline(req, state);
	if ((r = jit_store__dump_json(req, 0, &js, &jl)) != 0 ||
	    (r = jit_lmdb_request_value(js, jl, seq, dl, state, user, &val,
	    &vlen)) != 0)
		goto out;
	d.mv_data = val;
	d.mv_size = vlen;
	if ((r = jit_lmdb_map_err(mdb_put(t->txn, lm->dbi[DB_REQUESTS], &k,
	    &d, 0))) != 0)
		goto out;
	r = jit_lmdb_deadline_put(t, dl, seq, id);
out:
	free(val);
	free(js);
	json_decref(req);
	return r;
}

/*
 * Every request value gets its header and, if it has a deadline, a
 * by_deadline entry.  Walks by_seq (not the requests being rewritten).
 * lm->schema is 1 while the old values are read.
 */
int
jit_lmdb_migrate_v1(struct jit_store_txn *t)
{
	struct jit_lmdb *lm = LM(t);
	MDB_cursor *cur = NULL;
	MDB_val k, d;
	int r = JIT_ERR_INTERNAL, rc;

	if ((rc = mdb_cursor_open(t->txn, lm->dbi[DB_BY_SEQ], &cur)) != 0)
		return jit_lmdb_map_err(rc);
	lm->schema = 1;
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		if ((r = migrate_one(t, &d)) != 0)
			goto out;
	}
	r = rc == MDB_NOTFOUND ? 0 : jit_lmdb_map_err(rc);
out:
	mdb_cursor_close(cur);
	lm->schema = SCHEMA_VERSION;
	return r;
}
