/*
 * lmdb_int.h - private to the LMDB backend (api/store/lmdb_*.c, the only
 * files that include lmdb.h): one LMDB environment in the data directory
 * (DIR/data.mdb, DIR/lock.mdb, both 0600).
 *
 * Files (one job each):
 *   lmdb_env.c           open and close, the schema check, transactions
 *                        for store.c's writer and readers, the backend's
 *                        table of operations, releasing map pages
 *   lmdb_migrate.c       rewriting a schema 1 store as schema 2, and
 *                        adding schema 3's indexes to a schema 2 store
 *   lmdb_support.c       LMDB error mapping, meta counters, cursor walks
 *   lmdb_requests.c      request records and the index entries kept with
 *                        them
 *   lmdb_request_index.c the indexes schema 3 added (by_user_state,
 *                        by_role_state, by_state_end), the req_keys
 *                        record they are kept from, and the per-state
 *                        counts
 *   lmdb_request_list.c  listing requests (by state, user, creation order,
 *                        deadline, user and state, role and state, state
 *                        and not_after) and counting them
 *   lmdb_certs.c         certificate serials and records
 *   lmdb_tokens.c        API token records
 *   lmdb_values.c        small named values
 *   lmdb_audit.c         audit entry storage
 *   lmdb_outbox.c        the notification outbox
 *
 * Named databases and their keys (the on-disk format, schema 3):
 *   requests   id -> header || compact JSON, the header being be64(seq)
 *              || be64(deadline) || u8 len || state || u8 len || user.
 *              seq is the request's creation sequence number; deadline
 *              is what the caller last passed to create/put (0 = none).
 *              The header holds every indexed field, so an update finds
 *              the old index keys without parsing the old JSON.  (Schema
 *              1 had only be64(seq); opening such a store for writing
 *              rewrites it, see lmdb_migrate.c.)
 *   by_state   state NUL be64(seq) -> id
 *   by_user    user NUL be64(seq) -> id
 *   by_seq     be64(seq) -> id
 *   by_deadline be64(deadline) || be64(seq) -> id, for the requests whose
 *              deadline is not 0 (what the sweeper acts on)
 *   by_user_state   user NUL state NUL be64(seq) -> id
 *   by_role_state   role NUL state NUL be64(seq) -> id, for the requests
 *              whose "role" member is a name (store.h)
 *   by_state_end    state NUL be64(not_after) || be64(seq) -> id, with
 *              2^64 - 1 for a request without a "not_after" (an RFC
 *              3339 time)
 *   req_keys   be64(seq) -> u8 len || role || be64(not_after): what the
 *              last three indexes were keyed by (len 0 = no role,
 *              not_after 0 = none), so an update finds the old keys
 *              without parsing the old JSON, as the requests header does
 *              for state and user
 *   state_counts    state -> be64(requests in that state)
 *   certs      be64(serial) -> JSON
 *   tokens     sha256(token) -> JSON
 *   token_ids  token id -> sha256(token)
 *   values     key -> JSON (any value)
 *   audit      be64(seq) -> canonical entry text
 *   outbox     u8 state ('q' queued, 'f' failed) || endpoint NUL
 *              be64(seq) -> compact JSON, so one endpoint's queued
 *              entries are one key range in the order they were added
 *   meta       "schema", "next_request_seq", "next_serial" -> be64;
 *              "audit_head" -> be64(seq) || hash hex (saves parsing the
 *              last entry on every append); "next_outbox_seq",
 *              "outbox_delivered" -> be64
 * Schemas 1 and 2 had none of the schema 3 tables; opening such a store
 * for writing adds them (lmdb_migrate.c), and a READONLY view of one
 * answers the lists and counts that need them by walking the older
 * indexes.  The outbox has no schema number of its own (it came in
 * schema 2's time, and schema 3 changed nothing in it): it is a database
 * that older versions neither open nor need.  A writer creates it on
 * open, whatever the schema it finds; a READONLY open of a store that has
 * none (written before the outbox) sees an empty outbox.
 * Big-endian integers make LMDB's bytewise key order the numeric order, so
 * index ranges come out in creation order.
 *
 * Processes.  LMDB is safe across processes: a server opens with
 * JIT_STORE_SERVER (an exclusive flock on DIR/server.lock) while the CLI
 * opens the same directory without it.  Mapping of LMDB codes: map or
 * disk full (MDB_MAP_FULL, ENOSPC, EDQUOT, or a commit's short write, EIO,
 * with no space left on the disk) -> STORE_FULL; MDB_CORRUPTED,
 * MDB_PAGE_NOTFOUND, MDB_INVALID, MDB_VERSION_MISMATCH and unparsable
 * records -> STORE_CORRUPT; missing key -> NOT_FOUND; key exists on a
 * create -> CONFLICT; permission problems -> PERMISSION; anything else ->
 * STORE.
 */
#ifndef JIT_LMDB_INT_H
#define JIT_LMDB_INT_H

#include <lmdb.h>
#include <pthread.h>

#include "store_int.h"

#define SCHEMA_VERSION 3
/* Reset read transactions kept for reuse (struct jit_lmdb). */
#define READ_POOL_MAX 64
/* The longest index key: two names, their NULs and two be64. */
#define MAX_INDEX_KEY (2 * (MAX_NAME + 1) + 16)

enum {
	DB_REQUESTS, DB_BY_STATE, DB_BY_USER, DB_BY_SEQ, DB_CERTS, DB_TOKENS,
	DB_TOKEN_IDS, DB_VALUES, DB_AUDIT, DB_META, DB_BY_DEADLINE, DB_OUTBOX,
	/* schema 3 */
	DB_BY_USER_STATE, DB_BY_ROLE_STATE, DB_BY_STATE_END, DB_REQ_KEYS,
	DB_STATE_COUNTS, DB_COUNT
};
/* The first table a store older than schema 3 lacks. */
#define DB_FIRST_V3 DB_BY_USER_STATE

struct jit_lmdb {
	MDB_env *env;
	MDB_dbi dbi[DB_COUNT];
	int lock_fd;
	uint64_t schema;      /* of the data read: below SCHEMA_VERSION only
	                         if opened READONLY (or while lmdb_migrate.c
	                         rewrites it) */
	int no_deadline_db;   /* READONLY schema 1: no by_deadline */
	int no_outbox_db;     /* READONLY, written before the outbox */
	MDB_txn *parent;      /* the writer's batch transaction */
	/* Read transactions that ended (mdb_txn_reset), kept to be
	 * renewed: a read then costs no allocation (mdb_txn_begin callocs
	 * about 1.3 KiB, which made glibc consolidate its fast bins).
	 * With MDB_NOTLS each keeps its reader slot; at most
	 * READ_POOL_MAX of them, under rmu. */
	pthread_mutex_t rmu;
	MDB_txn *read_pool[READ_POOL_MAX];
	size_t nread_pool;
};

/* The backend state of t's store, and the handle of table db. */
#define LM(t) ((t)->s->lm)
#define DBI(t, db) (LM(t)->dbi[db])

/* ---- lmdb_support.c ---------------------------------------------------- */

/* An LMDB or errno code as a JIT_ERR_* (see above); 0 stays 0. */
int jit_lmdb_map_err(int rc);

/*
 * The end of a cursor walk that calls back: closes cur and returns the
 * walk's result.  r is the last callback's (or the walk's own) result:
 * positive (the callback stopped the walk) is success, negative is
 * returned as is; with r 0, rc is LMDB's last cursor result, where
 * MDB_NOTFOUND (the end of the table) is success too.
 */
int jit_lmdb_walk_end(MDB_cursor *cur, int r, int rc);

/* A be64 value under key (klen bytes) in table db; get gives dflt when
 * it is absent, STORE_CORRUPT when it is not 8 bytes. */
int jit_lmdb_get_u64(struct jit_store_txn *t, int db, const char *key,
    size_t klen, uint64_t dflt, uint64_t *v);
int jit_lmdb_put_u64(struct jit_store_txn *t, int db, const char *key,
    size_t klen, uint64_t v);
/* The same in meta, under a NUL-terminated name. */
int jit_lmdb_meta_get_u64(struct jit_store_txn *t, const char *name,
    uint64_t dflt, uint64_t *v);
int jit_lmdb_meta_put_u64(struct jit_store_txn *t, const char *name,
    uint64_t v);

/* ---- lmdb_requests.c: the request record -------------------------------- */

/* A stored request's header, pointing into the value. */
struct jit_lmdb_req_head {
	uint64_t seq;
	uint64_t deadline;
	const char *state, *user;    /* not NUL-terminated */
	size_t slen, ulen;
	size_t json_off;
};

/* Read the header of stored request value d (lm->schema says which
 * layout).  STORE_CORRUPT if it does not fit. */
int jit_lmdb_head_parse(const struct jit_lmdb *lm, const MDB_val *d,
    struct jit_lmdb_req_head *h);
/* The request object of stored value d (new reference) and, if seq is
 * not NULL, its sequence number.  STORE_CORRUPT. */
int jit_lmdb_request_parse(const struct jit_lmdb *lm, const MDB_val *d,
    json_t **out, uint64_t *seq);
/* The stored value of a request: header || js (jl bytes), *out
 * malloc'd. */
int jit_lmdb_request_value(const char *js, size_t jl, uint64_t seq,
    uint64_t deadline, const char *state, const char *user,
    unsigned char **out, size_t *len);
/* Add request id's by_deadline entry; deadline 0 adds nothing. */
int jit_lmdb_deadline_put(struct jit_store_txn *t, uint64_t deadline,
    uint64_t seq, const char *id);
/* The by_state / by_user key name NUL be64(seq) in buf (cap bytes). */
int jit_lmdb_index_key(const char *name, uint64_t seq, unsigned char *buf,
    size_t cap, MDB_val *k);

/* ---- lmdb_request_index.c: the schema 3 indexes -------------------------- */

/* What a request is keyed by in the schema 3 indexes besides its state
 * and user: its "role" (len 0 = none) and "not_after" (0 = none). */
struct jit_lmdb_req_keys {
	char role[MAX_NAME + 1];
	size_t rlen;
	uint64_t not_after;
};

/* The keys of rq (its role and not_after). */
void jit_lmdb_keys_of(const struct jit_store_raw_request *rq,
    struct jit_lmdb_req_keys *k);
/* Index request id (seq, state, user, keys k) in the schema 3 tables
 * and count it in its state: for a new request. */
int jit_lmdb_index_add(struct jit_store_txn *t, const char *id,
    uint64_t seq, const char *state, const char *user,
    const struct jit_lmdb_req_keys *k);
/* Move request id's schema 3 entries from what its stored header h and
 * its req_keys record say to (state, user, k).  h's state and user must
 * not point into the map (the writes move pages). */
int jit_lmdb_index_move(struct jit_store_txn *t, const char *id,
    const struct jit_lmdb_req_head *h, const char *state,
    const char *user, const struct jit_lmdb_req_keys *k);
/* Count of state in state_counts (0 when absent). */
int jit_lmdb_state_count(struct jit_store_txn *t, const char *state,
    uint64_t *count);
/* A key of names (each followed by its NUL) and be64 numbers, built in
 * place; names are checked by the caller (at most MAX_NAME bytes). */
struct jit_lmdb_key {
	unsigned char b[MAX_INDEX_KEY];
	size_t n;
};
void jit_lmdb_key_name(struct jit_lmdb_key *k, const char *s, size_t len);
void jit_lmdb_key_u64(struct jit_lmdb_key *k, uint64_t v);

/* The operations of lmdb_requests.c and lmdb_request_list.c. */
int jit_lmdb_create_request(struct jit_store_txn *t,
    const struct jit_store_raw_request *rq, uint64_t *seq);
int jit_lmdb_put_request(struct jit_store_txn *t,
    const struct jit_store_raw_request *rq);
int jit_lmdb_get_request(struct jit_store_txn *t, const char *id,
    json_t **out, uint64_t *seq, void **raw, size_t *rawlen);
int jit_lmdb_request_unchanged(struct jit_store_txn *t, const char *id,
    const void *raw, size_t rawlen);
int jit_lmdb_put_raw_request(struct jit_store_txn *t,
    const struct jit_store_raw_request *rq);
int jit_lmdb_list_requests(struct jit_store_txn *t, enum jit_store_index ix,
    const char *name, const struct jit_store_list *opt,
    jit_store_request_cb cb, void *ctx);
int jit_lmdb_list_due(struct jit_store_txn *t, uint64_t now,
    jit_store_request_cb cb, void *ctx);
int jit_lmdb_count_by_state(struct jit_store_txn *t, const char *state,
    uint64_t *count);
int jit_lmdb_list_pair(struct jit_store_txn *t, enum jit_store_pair ix,
    const char *name, const char *state, const struct jit_store_list *opt,
    jit_store_request_cb cb, void *ctx);
int jit_lmdb_list_by_state_end(struct jit_store_txn *t, const char *state,
    jit_store_request_cb cb, void *ctx);
int jit_lmdb_count_by_user_state(struct jit_store_txn *t, const char *user,
    const char *state, uint64_t max, uint64_t *count);
int jit_lmdb_raw_requests(struct jit_store_txn *t,
    jit_store__raw_request_cb cb, void *ctx);

/* lmdb_certs.c */
int jit_lmdb_next_serial(struct jit_store_txn *t, uint64_t *serial);
int jit_lmdb_reserve_serial(struct jit_store_txn *t, uint64_t *serial);
int jit_lmdb_claim_serial(struct jit_store_txn *t, uint64_t serial);
int jit_lmdb_put_cert(struct jit_store_txn *t, uint64_t serial,
    const char *js, size_t jl);
int jit_lmdb_get_cert(struct jit_store_txn *t, uint64_t serial,
    json_t **out);
int jit_lmdb_list_certs(struct jit_store_txn *t, uint64_t after,
    size_t limit, jit_store_cert_cb cb, void *ctx);
int jit_lmdb_raw_certs(struct jit_store_txn *t, jit_store__raw_cb cb,
    void *ctx);
int jit_lmdb_get_counters(struct jit_store_txn *t,
    struct jit_store_counters *c);
int jit_lmdb_raise_counters(struct jit_store_txn *t,
    const struct jit_store_counters *c);

/* lmdb_tokens.c */
int jit_lmdb_put_token(struct jit_store_txn *t,
    const unsigned char hash[JIT_TOKEN_HASH_LEN], const char *id,
    const char *js, size_t jl);
int jit_lmdb_get_token(struct jit_store_txn *t,
    const unsigned char hash[JIT_TOKEN_HASH_LEN], json_t **out);
int jit_lmdb_get_token_by_id(struct jit_store_txn *t, const char *id,
    unsigned char hash[JIT_TOKEN_HASH_LEN], json_t **out);
int jit_lmdb_delete_token(struct jit_store_txn *t, const char *id);
int jit_lmdb_list_tokens(struct jit_store_txn *t, jit_store_token_cb cb,
    void *ctx);

/* lmdb_values.c */
int jit_lmdb_put_value(struct jit_store_txn *t, const char *key,
    const char *js, size_t jl);
int jit_lmdb_get_value(struct jit_store_txn *t, const char *key,
    json_t **out);
int jit_lmdb_raw_values(struct jit_store_txn *t, jit_store__raw_cb cb,
    void *ctx);

/* lmdb_audit.c */
int jit_lmdb_audit_last(struct jit_store_txn *t, uint64_t *seq, char **json,
    size_t *len);
int jit_lmdb_audit_put(struct jit_store_txn *t, uint64_t seq,
    const char *hash_hex, const char *json, size_t len);
int jit_lmdb_audit_head(struct jit_store_txn *t, uint64_t *seq,
    char *hash_hex);
int jit_lmdb_audit_iter(struct jit_store_txn *t, uint64_t from_seq,
    jit_store_audit_cb cb, void *ctx);
int jit_lmdb_audit_get(struct jit_store_txn *t, uint64_t seq, char **json,
    size_t *len);

/* lmdb_outbox.c */
int jit_lmdb_outbox_add(struct jit_store_txn *t,
    const struct jit_store_outbox_entry *e, uint64_t *seq);
int jit_lmdb_outbox_first(struct jit_store_txn *t, const char *endpoint,
    uint64_t *seq, json_t **rec);
int jit_lmdb_outbox_put(struct jit_store_txn *t,
    const struct jit_store_outbox_entry *e);
int jit_lmdb_outbox_done(struct jit_store_txn *t, const char *endpoint,
    uint64_t seq);
int jit_lmdb_outbox_list(struct jit_store_txn *t, int failed_only,
    jit_store_outbox_cb cb, void *ctx);
int jit_lmdb_outbox_stats(struct jit_store_txn *t,
    struct jit_outbox_stats *st);
int jit_lmdb_put_raw_outbox(struct jit_store_txn *t,
    const struct jit_store_outbox_entry *e);

/* ---- lmdb_migrate.c --------------------------------------------------- */

/* Rewrite a schema 1 store as schema 2 in write transaction t
 * (open_dbis in lmdb_env.c); lm->schema is 2 afterwards. */
int jit_lmdb_migrate_v1(struct jit_store_txn *t);
/* Build schema 3's tables for a schema 2 store in t. */
int jit_lmdb_migrate_v2(struct jit_store_txn *t);

#endif
