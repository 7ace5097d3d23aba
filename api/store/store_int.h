/*
 * store_int.h - private to api/store/: the structures and helpers that the
 * store's files share.  Everyone else includes store.h; only the files
 * that include this one see lmdb.h.
 *
 * Files (one job each, all behind store.h):
 *   env.c           open and close, the schema check, the writer thread
 *                   (group commit), read and write closures, change
 *                   notification, statistics, releasing map pages
 *   migrate.c       rewriting a schema 1 store as schema 2
 *   support.c       what the others share: LMDB error mapping, meta
 *                   counters, JSON records, name checks
 *   requests.c      request records and the index entries kept with them
 *   request_list.c  listing requests (by state, user, creation order,
 *                   deadline) and counting them
 *   certs.c         certificate serials and records
 *   tokens.c        API token records
 *   values.c        small named values
 *   audit_store.c   audit entry storage
 *   outbox.c        the notification outbox
 *
 * Named databases and their keys (the on-disk format, schema 2):
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
 * The outbox came after schema 2 without a new schema number: it is a
 * database of its own that older versions neither open nor need, and
 * nothing in the other databases changed.  A writer creates it on open; a
 * read-only open of a store that has none sees an empty outbox.
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

#define SCHEMA_VERSION 2
#define MAX_NAME 200       /* state, user, value keys */
#define MAX_ID 64          /* request and token ids */
#define NSLOTS JIT_STORE_WAKE_SLOTS  /* wake-up slots (store.h) */
#define NWAKECV 256        /* condition variables the slots share */

enum {
	DB_REQUESTS, DB_BY_STATE, DB_BY_USER, DB_BY_SEQ, DB_CERTS, DB_TOKENS,
	DB_TOKEN_IDS, DB_VALUES, DB_AUDIT, DB_META, DB_BY_DEADLINE, DB_OUTBOX,
	DB_COUNT
};

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
	uint64_t schema;      /* of the data read: 1 only if opened READONLY
	                         (or while migrate.c rewrites it) */
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

/* A be64 counter in meta; get gives dflt when it is absent. */
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

/* ---- migrate.c --------------------------------------------------------- */

/* Rewrite a schema 1 store in write transaction t (open_dbis in env.c). */
int jit_store__migrate_v1(struct jit_store_txn *t);

#endif
