/*
 * lmdb_migrate.c - bringing an older LMDB store up to schema 3 (lmdb_int.h
 * has the layout).  Schema 1 stored a request as be64(seq) || JSON;
 * schema 2 puts the indexed fields (seq, deadline, state, user) in a
 * header in front of the JSON and keeps the by_deadline index.  Schema 3
 * keeps the request values as they are and adds tables: by_user_state,
 * by_role_state, by_state_end, req_keys and state_counts.  lmdb_env.c
 * calls these when an older store is opened for writing, inside the
 * transaction that then records the new schema, so an upgrade happens
 * entirely or not at all.
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
	lm->schema = 2;
	return r;
}

/* Index the request that by_seq entry value id names in schema 3's
 * tables (its value is in the schema 2 layout). */
static int
index_one(struct jit_store_txn *t, const MDB_val *id_val)
{
	struct jit_store_raw_request rq;
	struct jit_lmdb_req_head h;
	struct jit_lmdb_req_keys k;
	char id[MAX_ID + 1], state[MAX_NAME + 1], user[MAX_NAME + 1];
	json_t *req = NULL;
	MDB_val key = *id_val, d;
	int r = JIT_ERR_INTERNAL, rc;

	if (id_val->mv_size == 0 || id_val->mv_size > MAX_ID)
		return JIT_ERR_STORE_CORRUPT;
	memcpy(id, id_val->mv_data, id_val->mv_size);
	id[id_val->mv_size] = '\0';
	if ((rc = mdb_get(t->txn, DBI(t, DB_REQUESTS), &key, &d)) != 0)
		return rc == MDB_NOTFOUND ? JIT_ERR_STORE_CORRUPT :
		    jit_lmdb_map_err(rc);
	if ((r = jit_lmdb_head_parse(LM(t), &d, &h)) != 0 ||
	    (r = jit_lmdb_request_parse(LM(t), &d, &req, NULL)) != 0)
		return r;
	if (h.slen > MAX_NAME || h.ulen > MAX_NAME) {
		r = JIT_ERR_STORE_CORRUPT;
		goto out;
	}
	memcpy(state, h.state, h.slen);
	state[h.slen] = '\0';
	memcpy(user, h.user, h.ulen);
	user[h.ulen] = '\0';
	memset(&rq, 0, sizeof(rq));
	jit_store__request_keys(req, &rq.role, &rq.not_after);
	jit_lmdb_keys_of(&rq, &k);
	r = jit_lmdb_index_add(t, id, h.seq, state, user, &k);
out:
	json_decref(req);
	return r;
}

/*
 * Every request gets its schema 3 entries, in creation order (by_seq).
 * A store of 500,000 requests takes seconds, once.
 */
int
jit_lmdb_migrate_v2(struct jit_store_txn *t)
{
	MDB_cursor *cur = NULL;
	MDB_val k, d;
	int r = 0, rc;

	if ((rc = mdb_cursor_open(t->txn, DBI(t, DB_BY_SEQ), &cur)) != 0)
		return jit_lmdb_map_err(rc);
	LM(t)->schema = 2;
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0 && r == 0;
	    rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT))
		r = index_one(t, &d);
	return jit_lmdb_walk_end(cur, r, rc);
}
