/*
 * store_int.h - private to api/store/: what the store's front end
 * (store.c, support.c, copy.c) shares with its two backends.  Everyone
 * else includes store.h.
 *
 * Layers:
 *   store.c         the functions of store.h: argument checks, then the
 *                   backend's operation (struct jit_store_ops); the writer
 *                   thread (group commit), read closures, change
 *                   notification and statistics, which work the same for
 *                   every backend
 *   support.c       helpers both backends use: JSON records, name checks,
 *                   wake-up slots, request ids, token hashes
 *   copy.c          jit_store_copy(): one store's contents into another
 *   outbox.c        the notification outbox's functions of store.h
 *   lmdb_*.c        the LMDB backend (lmdb_int.h; the only files that
 *                   include lmdb.h)
 *   pg_*.c          the PostgreSQL backend (pg_int.h; the only files that
 *                   include libpq-fe.h)
 *
 * A backend receives arguments that store.c has already checked (names
 * present and within their lengths, output pointers not NULL and
 * cleared, write operations only in write transactions) and implements
 * only the storage.
 *
 * Names: functions shared between the store's files are jit_store__*
 * (two underscores: internal, not part of store.h); the backends' own
 * are jit_lmdb_* and jit_pg_*.
 */
#ifndef JIT_STORE_INT_H
#define JIT_STORE_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "store.h"

#define MAX_NAME 200       /* state, user, role, value keys */
#define MAX_ID 64          /* request and token ids */
#define NSLOTS JIT_STORE_WAKE_SLOTS  /* wake-up slots (store.h) */
#define NWAKECV 256        /* condition variables the slots share */

struct jit_store_wreq;     /* a queued jit_store_write() call (store.c) */
struct jit_lmdb;           /* lmdb_int.h */
struct jit_pg;             /* pg_int.h */
struct jit_pg_conn;        /* pg_int.h */
struct MDB_txn;            /* lmdb.h's MDB_txn */

struct jit_store_txn {
	struct jit_store *s;
	int write;
	/* Wake-up slots of the requests this closure changed. */
	unsigned char slots[NSLOTS / 8];
	/* It changed the outbox: other nodes' waiters on any change
	 * (the deliverer) should hear of it. */
	int other;
	struct MDB_txn *txn;         /* LMDB: the (nested) transaction */
	struct jit_pg_conn *pc;      /* PostgreSQL: the connection */
};

/* The request indexes that jit_store_list_* walk. */
enum jit_store_index { JIT_INDEX_STATE, JIT_INDEX_USER, JIT_INDEX_ALL };
/* Those of one name and one state (jit_store_list_by_user_state and
 * jit_store_list_by_role_state). */
enum jit_store_pair { JIT_PAIR_USER_STATE, JIT_PAIR_ROLE_STATE };

/*
 * A request as the backends store it: its JSON text and the members the
 * store keeps beside it, to index it by (store.h, "requests"): role is
 * its "role" if that is a name (else NULL), not_after its "not_after" as
 * UNIX seconds if that is an RFC 3339 time (else 0).  Borrowed.  seq is
 * ignored by create_request and put_request; raw_requests (copying out)
 * leaves role and not_after unset, copy.c derives them from js.
 */
struct jit_store_raw_request {
	const char *id, *state, *user;
	const char *role;
	uint64_t not_after;
	uint64_t seq, deadline;
	const char *js;
	size_t jl;
};
typedef int (*jit_store__raw_request_cb)(
    const struct jit_store_raw_request *rq, void *ctx);
/* A stored text (cert record, value) under its key; borrowed. */
typedef int (*jit_store__raw_cb)(uint64_t num, const char *key,
    const char *js, size_t jl, void *ctx);

/* The counters a store keeps besides its tables (copy.c). */
struct jit_store_counters {
	uint64_t next_request_seq;   /* the next request's seq */
	uint64_t next_serial;        /* no serial below it is handed out */
	uint64_t next_outbox_seq;    /* the next outbox entry's seq */
	uint64_t outbox_delivered;   /* outbox entries delivered, ever */
};

/* An outbox entry as the backends store it (outbox.c checked it): rec
 * is the record, js its compact JSON (jl bytes) and created its
 * "created_at" (0 if it has none); seq is ignored by outbox_add. */
struct jit_store_outbox_entry {
	const char *endpoint;
	uint64_t seq;
	enum jit_outbox_state st;
	const json_t *rec;
	const char *js;
	size_t jl;
	uint64_t created;
};

/*
 * A backend.  Unless said otherwise an operation returns 0 or a
 * negative JIT_ERR_* with the meaning store.h gives the function of the
 * same name.
 */
struct jit_store_ops {
	const char *name;

	/* Release everything of the backend (the writer has stopped). */
	void (*close)(struct jit_store *s);

	/* Group commit (store.c's writer thread): a batch is one
	 * transaction; each closure runs between closure_begin and
	 * closure_end, which keeps its changes (r == 0) or undoes exactly
	 * them, returning the closure's final result.  batch_end commits
	 * (commit != 0; slots are the wake-up slots of the changes, other
	 * says the outbox changed) or rolls the batch back. */
	int (*batch_begin)(struct jit_store *s);
	int (*closure_begin)(struct jit_store *s, struct jit_store_txn *t);
	int (*closure_end)(struct jit_store_txn *t, int r);
	int (*batch_end)(struct jit_store *s, int commit,
	    const unsigned char slots[NSLOTS / 8], int other);

	/* A read snapshot in the caller's thread. */
	int (*read_begin)(struct jit_store *s, struct jit_store_txn *t);
	void (*read_end)(struct jit_store_txn *t);

	int (*job_lock)(struct jit_store *s, const char *job);
	void (*release_pages)(struct jit_store *s);

	/* Requests.  rq's members come from the request (checked), js
	 * being its compact JSON.  Create and put keep every index and the
	 * count of each state in the same transaction.  get_request: raw
	 * and rawlen may be NULL (not wanted), else they receive the stored
	 * bytes. */
	int (*create_request)(struct jit_store_txn *t,
	    const struct jit_store_raw_request *rq, uint64_t *seq);
	int (*put_request)(struct jit_store_txn *t,
	    const struct jit_store_raw_request *rq);
	int (*get_request)(struct jit_store_txn *t, const char *id,
	    json_t **out, uint64_t *seq, void **raw, size_t *rawlen);
	int (*request_unchanged)(struct jit_store_txn *t, const char *id,
	    const void *raw, size_t rawlen);
	/* name is NULL for JIT_INDEX_ALL; opt is never NULL. */
	int (*list_requests)(struct jit_store_txn *t, enum jit_store_index ix,
	    const char *name, const struct jit_store_list *opt,
	    jit_store_request_cb cb, void *ctx);
	int (*list_due)(struct jit_store_txn *t, uint64_t now,
	    jit_store_request_cb cb, void *ctx);
	int (*count_by_state)(struct jit_store_txn *t, const char *state,
	    uint64_t *count);
	/* The lists and count of schema 3 (store.h); opt is never NULL;
	 * max 0 counts all. */
	int (*list_pair)(struct jit_store_txn *t, enum jit_store_pair ix,
	    const char *name, const char *state,
	    const struct jit_store_list *opt, jit_store_request_cb cb,
	    void *ctx);
	int (*list_by_state_end)(struct jit_store_txn *t, const char *state,
	    jit_store_request_cb cb, void *ctx);
	int (*count_by_user_state)(struct jit_store_txn *t, const char *user,
	    const char *state, uint64_t max, uint64_t *count);
	/* jit_store_commit_id(); never fails (0 when it cannot tell). */
	uint64_t (*commit_id)(struct jit_store *s);

	/* Certificates; serial is never 0 or UINT64_MAX here. */
	int (*next_serial)(struct jit_store_txn *t, uint64_t *serial);
	int (*reserve_serial)(struct jit_store_txn *t, uint64_t *serial);
	int (*claim_serial)(struct jit_store_txn *t, uint64_t serial);
	int (*put_cert)(struct jit_store_txn *t, uint64_t serial,
	    const char *js, size_t jl);
	int (*get_cert)(struct jit_store_txn *t, uint64_t serial,
	    json_t **out);
	int (*list_certs)(struct jit_store_txn *t, uint64_t after,
	    size_t limit, jit_store_cert_cb cb, void *ctx);

	/* Tokens.  put_token: id is rec's, js its compact JSON.
	 * get_token_by_id: hash and out may each be NULL. */
	int (*put_token)(struct jit_store_txn *t,
	    const unsigned char hash[JIT_TOKEN_HASH_LEN], const char *id,
	    const char *js, size_t jl);
	int (*get_token)(struct jit_store_txn *t,
	    const unsigned char hash[JIT_TOKEN_HASH_LEN], json_t **out);
	int (*get_token_by_id)(struct jit_store_txn *t, const char *id,
	    unsigned char hash[JIT_TOKEN_HASH_LEN], json_t **out);
	int (*delete_token)(struct jit_store_txn *t, const char *id);
	int (*list_tokens)(struct jit_store_txn *t, jit_store_token_cb cb,
	    void *ctx);

	/* Named values; js is the value's JSON. */
	int (*put_value)(struct jit_store_txn *t, const char *key,
	    const char *js, size_t jl);
	int (*get_value)(struct jit_store_txn *t, const char *key,
	    json_t **out);

	/* Audit entries. */
	int (*audit_last)(struct jit_store_txn *t, uint64_t *seq,
	    char **json, size_t *len);
	int (*audit_put)(struct jit_store_txn *t, uint64_t seq,
	    const char *hash_hex, const char *json, size_t len);
	int (*audit_head)(struct jit_store_txn *t, uint64_t *seq,
	    char *hash_hex);
	int (*audit_iter)(struct jit_store_txn *t, uint64_t from_seq,
	    jit_store_audit_cb cb, void *ctx);
	int (*audit_get)(struct jit_store_txn *t, uint64_t seq, char **json,
	    size_t *len);

	/* The notification outbox.  outbox_put: NOT_FOUND unless entry
	 * (e->endpoint, e->seq) exists, in either state; outbox_stats fills
	 * every member. */
	int (*outbox_add)(struct jit_store_txn *t,
	    const struct jit_store_outbox_entry *e, uint64_t *seq);
	int (*outbox_first)(struct jit_store_txn *t, const char *endpoint,
	    uint64_t *seq, json_t **rec);
	int (*outbox_put)(struct jit_store_txn *t,
	    const struct jit_store_outbox_entry *e);
	int (*outbox_done)(struct jit_store_txn *t, const char *endpoint,
	    uint64_t seq);
	int (*outbox_list)(struct jit_store_txn *t, int failed_only,
	    jit_store_outbox_cb cb, void *ctx);
	int (*outbox_stats)(struct jit_store_txn *t,
	    struct jit_outbox_stats *st);

	/* Copying (copy.c).  raw_requests walks every request in seq
	 * order; raw_certs (num = serial, key NULL) and raw_values (num 0)
	 * every cert record and named value with its stored text;
	 * put_raw_request stores a request with the given seq and
	 * put_raw_outbox an outbox entry with its seq (CONFLICT if that
	 * seq exists); the counters are read and raised (never lowered)
	 * together. */
	int (*raw_requests)(struct jit_store_txn *t,
	    jit_store__raw_request_cb cb, void *ctx);
	int (*raw_certs)(struct jit_store_txn *t, jit_store__raw_cb cb,
	    void *ctx);
	int (*raw_values)(struct jit_store_txn *t, jit_store__raw_cb cb,
	    void *ctx);
	int (*put_raw_request)(struct jit_store_txn *t,
	    const struct jit_store_raw_request *rq);
	int (*put_raw_outbox)(struct jit_store_txn *t,
	    const struct jit_store_outbox_entry *e);
	int (*get_counters)(struct jit_store_txn *t,
	    struct jit_store_counters *c);
	int (*raise_counters)(struct jit_store_txn *t,
	    const struct jit_store_counters *c);
};

struct jit_store {
	const struct jit_store_ops *ops;
	struct jit_lmdb *lm;      /* the LMDB backend's state, or NULL */
	struct jit_pg *pg;        /* the PostgreSQL backend's, or NULL */
	unsigned flags;
	unsigned max_batch;

	/* Write queue, guarded by qmu. */
	pthread_mutex_t qmu;
	pthread_cond_t qcv;
	struct jit_store_wreq *qhead, *qtail;
	int stopping;
	int writer_started;
	pthread_t writer;

	/* Serial reservations (LMDB's jit_store_reserve_serial), guarded
	 * by smu. */
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

/* ---- the backends' entry points ---------------------------------------- */

/* Open the backend in s (s->flags set; s->ops set by the call).  On
 * failure everything the call allocated is released again. */
int jit_lmdb_open(struct jit_store *s, const char *dir,
    const struct jit_store_options *opt);
int jit_pg_open(struct jit_store *s, const char *url,
    const struct jit_store_options *opt);

/* ---- store.c ------------------------------------------------------------- */

/* A new version: every waiter on the slots set in slots (all of them
 * when slots is NULL; none when it is all zero) and on "any change"
 * wakes, and the change hook (store.h) hears of the slots.  For commits
 * of this process (the writer) and, from the PostgreSQL listener, of
 * others. */
void jit_store__bump(struct jit_store *s,
    const unsigned char slots[NSLOTS / 8]);

/* ---- outbox.c ------------------------------------------------------------ */

/* rec's "created_at" if it is a positive integer, else 0. */
uint64_t jit_store__outbox_created(const json_t *rec);

/* ---- support.c ----------------------------------------------------------- */

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

/* The wake-up slot of request id (jit_store_wait_change), and marking
 * it in t as changed. */
unsigned jit_store__slot_of(const char *id);
void jit_store__mark_changed(struct jit_store_txn *t, const char *id);

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
/* The same, and STORE_CORRUPT unless it is an object. */
int jit_store__parse_object(const void *data, size_t len, json_t **out);
/* Compact JSON of j (jansson encode flags): *out malloc'd, *len its
 * length.  ALLOC. */
int jit_store__dump_json(const json_t *j, size_t flags, char **out,
    size_t *len);
/* A record's stored bytes: the compact JSON of an object (the encode
 * functions of store.h).  Clears *out and *len on entry. */
int jit_store__encode_object(const json_t *obj, char **out, size_t *len);

/* req's "id", "state" and "user" (borrowed); INVALID_ARGUMENT if one is
 * missing or too long. */
int jit_store__request_fields(const json_t *req, const char **id,
    const char **state, const char **user);
/* What else req is indexed by (struct jit_store_raw_request): its "role"
 * if that is a name of at most MAX_NAME bytes (borrowed; else NULL) and
 * its "not_after" if that is an RFC 3339 time (else 0). */
void jit_store__request_keys(const json_t *req, const char **role,
    uint64_t *not_after);

/* 0 for a write transaction, PERMISSION for a read snapshot,
 * INVALID_ARGUMENT for none. */
int jit_store__need_write(struct jit_store_txn *t);

/* A malloc'd NUL-terminated copy of len bytes at p in *out (and len in
 * *outlen if not NULL).  ALLOC. */
int jit_store__copy_text(const void *p, size_t len, char **out,
    size_t *outlen);

#endif
