/*
 * store_int.h - private to api/store/: the structures and helpers that the
 * store's files share.  Everyone else includes store.h; only the files
 * that include this one see lmdb.h.
 *
 * Files (one job each, all behind store.h):
 *   env.c           open and close, the schema check, the writer thread
 *                   (group commit), read and write closures, change
 *                   notification, statistics, releasing map pages
 *   migrate.c       rewriting a schema 1 store as schema 2, and adding
 *                   schema 3's indexes to a schema 2 store
 *   support.c       what the others share: LMDB error mapping, meta
 *                   counters, JSON records, name checks
 *   requests.c      request records and the index entries kept with them
 *   request_index.c the indexes schema 3 added (by_user_state,
 *                   by_role_state, by_state_end), the req_keys record
 *                   they are kept from, and the per-state counts
 *   request_list.c  listing requests (by state, user, creation order,
 *                   deadline, user and state, role and state, state and
 *                   not_after) and counting them
 *   certs.c         certificate serials and records
 *   tokens.c        API token records
 *   values.c        small named values
 *   audit_store.c   audit entry storage
 *   outbox.c        the notification outbox
 *
 * Named databases and their keys (the on-disk format, schema 3):
 *   requests   id -> header || compact JSON, the header being be64(seq)
 *              || be64(deadline) || u8 len || state || u8 len || user.
 *              seq is the request's creation sequence number; deadline
 *              is what the caller last passed to create/put (0 = none).
 *              The header holds every indexed field, so an update finds
 *              the old index keys without parsing the old JSON.  (Schema
 *              1 had only be64(seq); opening such a store for writing
 *              rewrites it, see migrate.c.)
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
 * for writing adds them (migrate.c), and a READONLY view of one answers
 * the lists and counts that need them by walking the older indexes.
 * The outbox has no schema number of its own (it came in schema 2's
 * time, and schema 3 changed nothing in it): it is a database that
 * older versions neither open nor need.  A writer creates it on open,
 * whatever the schema it finds; a READONLY open of a store that has none
 * (written before the outbox) sees an empty outbox.
 * Big-endian integers make LMDB's bytewise key order the numeric order, so
 * index ranges come out in creation order.
 *
 * Names: functions shared between the store's files are jit_store__*
 * (two underscores: internal, not part of store.h).
 */
#ifndef JIT_STORE_INT_H
#define JIT_STORE_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <lmdb.h>

#include "store.h"

#define SCHEMA_VERSION 3
#define MAX_NAME 200       /* state, user, role, value keys */
/* The longest index key: two names, their NULs and two be64. */
#define MAX_INDEX_KEY (2 * (MAX_NAME + 1) + 16)
#define MAX_ID 64          /* request and token ids */
#define NSLOTS JIT_STORE_WAKE_SLOTS  /* wake-up slots (store.h) */
#define NWAKECV 256        /* condition variables the slots share */

enum {
	DB_REQUESTS, DB_BY_STATE, DB_BY_USER, DB_BY_SEQ, DB_CERTS, DB_TOKENS,
	DB_TOKEN_IDS, DB_VALUES, DB_AUDIT, DB_META, DB_BY_DEADLINE, DB_OUTBOX,
	/* schema 3 */
	DB_BY_USER_STATE, DB_BY_ROLE_STATE, DB_BY_STATE_END, DB_REQ_KEYS,
	DB_STATE_COUNTS, DB_COUNT
};
/* The first table a store older than schema 3 lacks. */
#define DB_FIRST_V3 DB_BY_USER_STATE

struct jit_store_wreq;  /* a queued jit_store_write() call (env.c) */

struct jit_store_txn {
	struct jit_store *s;
	MDB_txn *txn;
	int write;
	/* Wake-up slots of the requests this closure changed. */
	unsigned char slots[NSLOTS / 8];
};

struct jit_store {
	MDB_env *env;
	MDB_dbi dbi[DB_COUNT];
	unsigned flags;
	unsigned max_batch;
	int lock_fd;
	uint64_t schema;      /* of the data read: below SCHEMA_VERSION only
	                         if opened READONLY (or while migrate.c
	                         rewrites it) */
	int no_deadline_db;   /* READONLY schema 1: no by_deadline */
	int no_outbox_db;     /* READONLY, written before the outbox */

	/* Write queue, guarded by qmu. */
	pthread_mutex_t qmu;
	pthread_cond_t qcv;
	struct jit_store_wreq *qhead, *qtail;
	int stopping;
	int writer_started;
	pthread_t writer;

	/* Serial reservations (jit_store_reserve_serial), guarded by smu. */
	pthread_mutex_t smu;
	uint64_t serial_mem;

	/* Versions and statistics, guarded by vmu. */
	pthread_mutex_t vmu;
	pthread_cond_t any_cv;
	pthread_cond_t slot_cv[NWAKECV];   /* slot i uses i % NWAKECV */
	uint64_t version;
	uint64_t slot_version[NSLOTS];
	struct jit_store_stats stats;
	jit_store_change_fn change_fn;     /* jit_store_set_change_hook */
	void *change_ctx;
};

/* ---- support.c -------------------------------------------------------- */

/* An LMDB or errno code as a JIT_ERR_* (store.h, "Errors"); 0 stays 0. */
int jit_store__map_err(int rc);

static inline void
put_be64(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
}

static inline uint64_t
get_be64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

/* The wake-up slot of request id (jit_store_wait_change). */
unsigned jit_store__slot_of(const char *id);

/* A string member that is present, has no embedded NUL, is non-empty and
 * not longer than max; NULL otherwise. */
const char *jit_store__get_name(const json_t *o, const char *key,
    size_t max);
/* INVALID_ARGUMENT unless s is a non-empty string of at most max bytes. */
int jit_store__check_name(const char *s, size_t max);

/* Parse stored JSON (jansson decode flags); a record that does not parse
 * is STORE_CORRUPT.  *out is a new reference. */
int jit_store__parse_json(const void *data, size_t len, size_t flags,
    json_t **out);
/* Compact JSON of j (jansson encode flags): *out malloc'd, *len its
 * length.  ALLOC. */
int jit_store__dump_json(const json_t *j, size_t flags, char **out,
    size_t *len);
/* A record's stored bytes: the compact JSON of an object (the encode
 * functions of store.h).  Clears *out and *len on entry. */
int jit_store__encode_object(const json_t *obj, char **out, size_t *len);

/*
 * The end of a cursor walk that calls back: closes cur and returns the
 * walk's result.  r is the last callback's (or the walk's own) result:
 * positive (the callback stopped the walk) is success, negative is
 * returned as is; with r 0, rc is LMDB's last cursor result, where
 * MDB_NOTFOUND (the end of the table) is success too.
 */
int jit_store__walk_end(MDB_cursor *cur, int r, int rc);

/* 0 for a write transaction, PERMISSION for a read snapshot,
 * INVALID_ARGUMENT for none. */
int jit_store__need_write(struct jit_store_txn *t);

/* A be64 value under key (klen bytes) in table db; get gives dflt when
 * it is absent, STORE_CORRUPT when it is not 8 bytes. */
int jit_store__get_u64(struct jit_store_txn *t, int db, const char *key,
    size_t klen, uint64_t dflt, uint64_t *v);
int jit_store__put_u64(struct jit_store_txn *t, int db, const char *key,
    size_t klen, uint64_t v);
/* The same in meta, under a NUL-terminated name. */
int jit_store__meta_get_u64(struct jit_store_txn *t, const char *name,
    uint64_t dflt, uint64_t *v);
int jit_store__meta_put_u64(struct jit_store_txn *t, const char *name,
    uint64_t v);

/* ---- requests.c: the request record ------------------------------------ */

/* A stored request's header, pointing into the value. */
struct jit_store_req_head {
	uint64_t seq;
	uint64_t deadline;
	const char *state, *user;    /* not NUL-terminated */
	size_t slen, ulen;
	size_t json_off;
};

/* Read the header of stored request value d (s->schema says which
 * layout).  STORE_CORRUPT if it does not fit. */
int jit_store__head_parse(const struct jit_store *s, const MDB_val *d,
    struct jit_store_req_head *h);
/* The request object of stored value d (new reference) and, if seq is
 * not NULL, its sequence number.  STORE_CORRUPT. */
int jit_store__request_parse(const struct jit_store *s, const MDB_val *d,
    json_t **out, uint64_t *seq);
/* req's "id", "state" and "user" (borrowed); INVALID_ARGUMENT if one is
 * missing or too long. */
int jit_store__request_fields(const json_t *req, const char **id,
    const char **state, const char **user);
/* The stored value of req (header || compact JSON), *out malloc'd. */
int jit_store__request_value(const json_t *req, uint64_t seq,
    uint64_t deadline, const char *state, const char *user,
    unsigned char **out, size_t *len);
/* Add request id's by_deadline entry; deadline 0 adds nothing. */
int jit_store__deadline_put(struct jit_store_txn *t, uint64_t deadline,
    uint64_t seq, const char *id);
/* The by_state / by_user key name NUL be64(seq) in buf (cap bytes). */
int jit_store__index_key(const char *name, uint64_t seq, unsigned char *buf,
    size_t cap, MDB_val *k);

/* ---- request_index.c: the schema 3 indexes ------------------------------ */

/* What a request is keyed by in the schema 3 indexes besides its state
 * and user: its "role" (len 0 = none) and "not_after" (0 = none). */
struct jit_store_req_keys {
	char role[MAX_NAME + 1];
	size_t rlen;
	uint64_t not_after;
};

/* The keys of request object req (members that are not a name or a
 * time count as absent). */
void jit_store__keys_of(const json_t *req, struct jit_store_req_keys *k);
/* Index request id (seq, state, user, keys k) in the schema 3 tables
 * and count it in its state: for a new request. */
int jit_store__index_add(struct jit_store_txn *t, const char *id,
    uint64_t seq, const char *state, const char *user,
    const struct jit_store_req_keys *k);
/* Move request id's schema 3 entries from what its stored header h and
 * its req_keys record say to (state, user, k). */
int jit_store__index_move(struct jit_store_txn *t, const char *id,
    const struct jit_store_req_head *h, const char *state,
    const char *user, const struct jit_store_req_keys *k);
/* Count of state in state_counts (0 when absent). */
int jit_store__state_count(struct jit_store_txn *t, const char *state,
    uint64_t *count);
/* A key of names (each followed by its NUL) and be64 numbers, built in
 * place; names are checked by the caller (at most MAX_NAME bytes). */
struct jit_store_key {
	unsigned char b[MAX_INDEX_KEY];
	size_t n;
};
void jit_store__key_name(struct jit_store_key *k, const char *s, size_t len);
void jit_store__key_u64(struct jit_store_key *k, uint64_t v);

/* ---- migrate.c --------------------------------------------------------- */

/* Rewrite a schema 1 store as schema 2 in write transaction t (open_dbis
 * in env.c); s->schema is 2 afterwards. */
int jit_store__migrate_v1(struct jit_store_txn *t);
/* Build schema 3's tables for a schema 2 store in t. */
int jit_store__migrate_v2(struct jit_store_txn *t);

#endif
