/*
 * pg_int.h - private to the PostgreSQL backend (api/store/pg_*.c, the only
 * files that include libpq-fe.h).
 *
 * Files (one job each):
 *   pg_conn.c      connections: opening one with the store's parameters,
 *                  the statements (prepared once per connection), running
 *                  them, libpq results as JIT_ERR_* codes
 *   pg_env.c       open and close, the schema migration, the pool of read
 *                  connections, the writer's batch transaction (the head
 *                  row lock, savepoints), the listener thread, job locks,
 *                  the backend's table of operations
 *   pg_requests.c  request rows: create, put, get, listing, counting
 *   pg_records.c   serials and cert records, tokens, named values, audit
 *                  entries, the counters, copying out
 *   pg_outbox.c    the notification outbox
 *   pg_cache.c     the writer's cache of the request rows and values it
 *                  knows to be current
 *   pg_defer.c     the writer's deferred rows: request inserts and
 *                  updates, audit entries, values and cert records, one
 *                  statement per table and batch
 *
 * Schema (version 4; docs/DESIGN.md shows it with its reasons), in the
 * configured schema or the connection's default:
 *   jit_schema_version (version)       one row per applied migration
 *   jit_head (id = 1, audit_seq, audit_hash, next_request_seq,
 *             next_outbox_seq, outbox_delivered, commit_id)
 *                                      the one row every write batch
 *                                      locks first (FOR UPDATE): it
 *                                      serialises the nodes' batches and
 *                                      holds the audit chain's head and
 *                                      the counters; every commit adds
 *                                      one to commit_id (version 3)
 *   jit_requests (id, seq, state, usr, deadline, body, role, not_after)
 *                                      indexes (state, seq), (usr, seq),
 *                                      (deadline, seq) where deadline <>
 *                                      0; version 3: role (NULL = none)
 *                                      and not_after (PG_NO_END = none),
 *                                      indexes (usr, state, seq), (role,
 *                                      state, seq) where role is not
 *                                      NULL, (state, not_after DESC, seq
 *                                      DESC); version 4: fillfactor 80
 *   jit_state_counts (state, n)        (version 3) requests per state,
 *                                      kept by triggers on jit_requests
 *                                      in the same transaction (version
 *                                      4: per statement for inserts and
 *                                      deletes)
 *   jit_certs (serial, body)           write-once
 *   jit_serial                         sequence: reserved serials
 *   jit_tokens (hash, id, body)        hash bytea primary key, id unique
 *   jit_values (key, body)
 *   jit_audit (seq, entry)             the canonical text, byte for byte
 *   jit_outbox (seq, endpoint, failed, created_at, body)
 *                                      (version 2) endpoint in the "C"
 *                                      collation (byte order, as LMDB
 *                                      lists them); index (failed,
 *                                      endpoint, seq): an endpoint's
 *                                      queue in order
 * Texts are stored as PostgreSQL text in a UTF8 database (checked when
 * opening); integers as bigint (so at most 2^63 - 1).
 *
 * Errors (libpq's SQLSTATEs): 23505 unique_violation -> CONFLICT (the
 * statements of one row avoid it with ON CONFLICT DO NOTHING where the
 * contract wants CONFLICT, so the transaction stays usable; the
 * deferred rows of a batch, pg_defer.c, do not: their failure must stop
 * the commit sent behind them); 53100 disk_full ->
 * STORE_FULL; 42501 and class 28 (authorisation) -> PERMISSION; 3D000
 * (no such database) -> NOT_FOUND; a connection that is gone, and
 * everything else -> STORE.  A failed statement leaves the transaction
 * aborted: the closure's savepoint is rolled back (pg_env.c).
 */
#ifndef JIT_PG_INT_H
#define JIT_PG_INT_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>

#include "store_int.h"

#define PG_SCHEMA_VERSION JIT_STORE_PG_SCHEMA
#define PG_MAX_SCHEMA 48       /* so "jit_store_" + schema fits a name */
#define PG_CHUNK 256           /* rows per query when walking a table */
#define PG_MAX_JOBS 8          /* job locks one store may hold */
#define PG_NO_END INT64_MAX    /* not_after of a request without one */
#define PG_CACHE_SLOTS 4096    /* entries of the writer's cache */
#define PG_C_REQ 1             /* cache kinds: request rows (row_raw) */
#define PG_C_VAL 2             /* named values (their text) */

/* The statements, prepared on first use on each connection. */
enum jit_pg_stmt {
	ST_REQ_INSERT, ST_REQ_UPDATE, ST_REQ_GET,
	ST_REQ_STATE_ASC, ST_REQ_STATE_DESC, ST_REQ_USER_ASC,
	ST_REQ_USER_DESC, ST_REQ_ALL_ASC, ST_REQ_ALL_DESC,
	ST_REQ_DUE, ST_REQ_COUNT, ST_REQ_RAW,
	ST_REQ_USTATE_ASC, ST_REQ_USTATE_DESC, ST_REQ_RSTATE_ASC,
	ST_REQ_RSTATE_DESC, ST_REQ_END, ST_REQ_COUNT_USTATE, ST_REQ_SET_KEYS,
	ST_SERIAL_BLOCK, ST_SERIAL_STATE, ST_SERIAL_SET, ST_SERIAL_PAST_CERTS,
	ST_CERT_PUT, ST_CERT_GET, ST_CERT_LIST,
	ST_TOK_HASH_OF, ST_TOK_PUT, ST_TOK_GET, ST_TOK_GET_ID, ST_TOK_DEL,
	ST_TOK_LIST,
	ST_VAL_PUT, ST_VAL_GET, ST_VAL_LIST,
	ST_AUD_PUT, ST_AUD_GET, ST_AUD_LAST, ST_AUD_ITER, ST_HEAD_GET,
	ST_HEAD_LOCK, ST_HEAD_COMMIT,
	ST_OB_INSERT, ST_OB_FIRST, ST_OB_UPDATE, ST_OB_DELETE, ST_OB_LIST,
	ST_OB_STATS,
	ST_REQ_INSERT_MANY, ST_AUD_PUT_MANY, ST_VAL_PUT_MANY, ST_CERT_PUT_MANY,
	ST_REQ_UPDATE_MANY,
	ST_COUNT
};

#define PG_QUEUE 32            /* commands in flight on a connection */

/* An answer still to be read from a pipelined connection (pg_conn.c). */
struct jit_pg_item {
	unsigned char sync;          /* a sync point, not a command */
	unsigned char report;        /* its failure is the caller's */
	unsigned char prep;          /* PREPARE of statement prep - 1 */
	unsigned char commit;        /* a COMMIT: its tag must say so */
	int rows_code;               /* if not 0: the failure when the
	                                command did not change rows_want
	                                rows */
	long rows_want;
};

/* The tables of the writer's deferred rows (pg_defer.c), as bits of
 * jit_pg_conn.pending. */
#define PG_D_REQ 0             /* request inserts */
#define PG_D_AUD 1             /* audit entries */
#define PG_D_VAL 2             /* named values */
#define PG_D_CERT 3            /* cert records */
#define PG_D_UPD 4             /* request updates (after the inserts) */
#define PG_D_TABLES 5

struct jit_pg_dtab {
	char **cell;                 /* n rows of the table's columns,
	                                owned; NULL: SQL NULL */
	size_t *len;
	size_t n, cap;
	size_t sent;                 /* rows before this one were sent */
	size_t mark_n, mark_sent;    /* at the closure's start */
};

struct jit_pg_conn {
	PGconn *conn;
	int backend_pid;
	unsigned char prepared[(ST_COUNT + 7) / 8];
	int pipeline;                /* in libpq's pipeline mode */
	struct jit_pg_item q[PG_QUEUE];
	int qhead, qlen;
	int aborted;                 /* the server skips to a sync point */
	int failed;                  /* a command failed in this transaction */
	int broken;                  /* lost, or out of step: drop it */
	/* The writer's: its deferred rows, sent before a statement that
	 * reads their table (bits 1 << PG_D_*); NULL and 0 elsewhere. */
	struct jit_pg *owner;
	unsigned pending;
	struct jit_pg_conn *next;    /* the pool's idle list */
	/* When the PostgreSQL server this connection reached started
	 * (pg_postmaster_start_time, as text): which run of it. */
	char server_start[48];
};

/* What the head row holds; cached by the writer during a batch.  The
 * statements ST_HEAD_GET and ST_HEAD_LOCK give the columns in this
 * order (jit_pg_head_read). */
struct jit_pg_head {
	uint64_t audit_seq;
	char audit_hash[65];
	uint64_t next_request_seq;
	uint64_t next_outbox_seq;
	uint64_t outbox_delivered;
	uint64_t commit_id;          /* commits so far (version 3) */
};

struct jit_pg {
	/* Connection parameters for PQconnectdbParams (owned; the password
	 * is wiped when freed). */
	const char *kw[16];
	char *val[16];
	int nparams;
	char *schema;                /* NULL: the connection's default */
	char channel[64];            /* LISTEN/NOTIFY channel */
	int lock_class;              /* advisory lock keys: (class, id) */

	/* Read connections, guarded by pmu. */
	pthread_mutex_t pmu;
	pthread_cond_t pcv;
	struct jit_pg_conn *idle;
	unsigned open, max;

	/* The writer's connection and its batch (writer thread only). */
	struct jit_pg_conn *wc;
	atomic_int writer_pid;       /* its backend, for the listener */
	struct jit_pg_head head, head_saved;
	int head_dirty, head_dirty_saved;
	int release_pending;         /* a savepoint to release */
	int sp_wanted;               /* the closure has no savepoint yet */
	int sp_made;                 /* ... it has one */
	/* The writer's cache (pg_cache.c; writer thread only): right
	 * while the head's commit counter is cache_commit (0: unknown). */
	struct jit_pg_centry *cache;
	size_t cache_used;
	uint64_t cache_commit;
	struct jit_pg_dtab defer[PG_D_TABLES];

	/* The listener (JIT_STORE_SERVER). */
	pthread_t listener;
	int listener_started;
	int stop_pipe[2];

	/* Serials taken from the sequence a block at a time (guarded by
	 * the store's smu): each is handed out once; what a closed store
	 * did not hand out is a gap. */
	uint64_t serials[32];
	int nserials, next_serial;
	/* The server run (jit_pg_conn.server_start) the block came from: a
	 * block from an earlier run may be handed out again by the
	 * sequence (a crash loses nextval's unflushed WAL), so it is
	 * dropped once this node talks to a newer run. */
	char serials_from[48];
	/* The highest serial the sequence handed to this store in that
	 * run: the claim of one at or below needs no raise. */
	uint64_t serial_max;

	/* Job locks, guarded by jmu. */
	pthread_mutex_t jmu;
	struct jit_pg_conn *jc;
	char *jobs[PG_MAX_JOBS];
	int njobs;
};

#define PG(t) ((t)->s->pg)

/* ---- pg_conn.c ------------------------------------------------------- */

/* A new connection with pg's parameters, its search_path set.  err (may
 * be NULL) receives libpq's message on failure.  STORE, PERMISSION,
 * NOT_FOUND, ALLOC. */
int jit_pg_connect(struct jit_pg *pg, struct jit_pg_conn **out, char *err,
    size_t errlen);
void jit_pg_disconnect(struct jit_pg_conn *c);
/* 1 if c's connection is usable (not lost); jit_pg_check also reads what
 * the server sent meanwhile (without waiting), so a session the server
 * ended is seen before it is used. */
int jit_pg_alive(const struct jit_pg_conn *c);
int jit_pg_check(struct jit_pg_conn *c);

/* The JIT_ERR_* for a result (NULL: out of memory or a lost
 * connection); 0 for COMMAND_OK and TUPLES_OK. */
int jit_pg_map_result(const struct jit_pg_conn *c, const PGresult *res);

/* Run statement st with n parameters, each a NUL-terminated text (a NULL
 * one is SQL NULL), or, where lens is not NULL and lens[i] >= 0, text of
 * lens[i] bytes (sent in binary form, so it needs no NUL).  On success
 * *res (may be NULL: not wanted) is the result to PQclear. */
int jit_pg_run(struct jit_pg_conn *c, enum jit_pg_stmt st, int n,
    const char *const *params, const int *lens, PGresult **res);
/*
 * Send statement st like jit_pg_run but without waiting for its answer
 * (pipeline mode; else it runs at once): a write whose failure may show
 * later, as the failure of the connection's next statement or of
 * jit_pg_settle().  rows_code, if not 0, is that failure when the
 * statement changes no row (e.g. NOT_FOUND for an UPDATE).
 */
int jit_pg_run_later(struct jit_pg_conn *c, enum jit_pg_stmt st, int n,
    const char *const *params, const int *lens, int rows_code);

/* Send st like jit_pg_run_later, expecting it to change rows rows
 * (rows_code if not).  Parameters are all binary (lens). */
int jit_pg_run_rows(struct jit_pg_conn *c, enum jit_pg_stmt st, int n,
    const char *const *params, const int *lens, long rows, int rows_code);

/* Run sql, without parameters; *res as for jit_pg_run.  Without pipeline
 * mode sql may hold several statements (the simple protocol). */
int jit_pg_exec(struct jit_pg_conn *c, const char *sql, PGresult **res);

/* Put c in pipeline mode (pg_conn.c explains it).  STORE. */
int jit_pg_pipeline(struct jit_pg_conn *c);

/*
 * Queue a command without parameters whose answer is read later, with
 * the next statement or jit_pg_settle(): JIT_PG_REPORT makes its failure
 * the failure of that call; JIT_PG_COMMIT expects a COMMIT's tag (a
 * failed transaction answers COMMIT with ROLLBACK); JIT_PG_SYNC adds a
 * sync point after it (ending the pipeline's implicit transaction, so a
 * connection left idle holds nothing open).  sql may be NULL with
 * JIT_PG_SYNC: a sync point alone, which ends the implicit transaction
 * of the statements before it.  Without pipeline mode the command runs
 * at once.  STORE if the connection is gone.
 */
#define JIT_PG_REPORT 0x1u
#define JIT_PG_COMMIT 0x2u
#define JIT_PG_SYNC   0x4u
int jit_pg_queue(struct jit_pg_conn *c, const char *sql, unsigned flags);
/* Send what is queued and read all its answers: the first reported
 * failure, or STORE if the connection is gone. */
int jit_pg_settle(struct jit_pg_conn *c);

/*
 * Walk a table in chunks (keyset pagination): run st with the n
 * parameters again and again, params[n - 1] being the LIMIT (set here:
 * PG_CHUNK, or what is left of limit if not 0), and call row(res, i,
 * ctx) for each row.  row updates the parameters that say where the next
 * chunk starts (they point into ctx) and returns 0 to go on, 1 to stop
 * (the walk returns 0) or a negative error (returned as is).  The walk
 * ends after a short chunk.  Callbacks may run other statements on c.
 */
typedef int (*jit_pg_row_fn)(const PGresult *res, int i, void *ctx);
int jit_pg_walk(struct jit_pg_conn *c, enum jit_pg_stmt st, int n,
    const char **params, uint64_t limit, jit_pg_row_fn row, void *ctx);
/* Run st and read row 0, column 0 as an unsigned integer. */
int jit_pg_run_u64(struct jit_pg_conn *c, enum jit_pg_stmt st, int n,
    const char *const *params, uint64_t *v);

/* Row i, column j of res as an unsigned integer; STORE_CORRUPT if it is
 * not one (or NULL). */
int jit_pg_get_u64(const PGresult *res, int i, int j, uint64_t *v);
/* "%llu" of v into buf (21 bytes). */
const char *jit_pg_u64_text(uint64_t v, char buf[21]);
/* CONFLICT unless the command changed exactly one row; 0 then. */
int jit_pg_one_row(const PGresult *res);
/* Column j of row i as JSON: an object (obj) or any value; new
 * reference; STORE_CORRUPT. */
int jit_pg_get_json(const PGresult *res, int i, int j, int obj,
    json_t **out);

/* ---- pg_env.c: for the operations ------------------------------------- */

/* The write transaction's cached head; 0 or STORE if the batch never
 * got it. */
struct jit_pg_head *jit_pg_head_of(struct jit_store_txn *t);
void jit_pg_head_changed(struct jit_store_txn *t);
/* The head: the write transaction's cached copy, or the committed row
 * (pg_records.c). */
int jit_pg_head_get(struct jit_store_txn *t, struct jit_pg_head *h);
/* The head from the one row of res (ST_HEAD_GET, ST_HEAD_LOCK);
 * STORE_CORRUPT. */
int jit_pg_head_read(const PGresult *res, struct jit_pg_head *h);

/* ---- pg_cache.c -------------------------------------------------------- */

/*
 * The writer's cache: for a write transaction t, what the database holds
 * under (kind, key) as this writer last read or wrote it.  get: 1 and
 * *data, *len (the cache's; NULL: known to be absent) on a hit, 0 on a
 * miss (and always in a read).  put copies data (NULL: absent) and may
 * keep nothing (out of memory: a later miss).  clear empties it and
 * makes cache_commit unknown; pg_env.c calls it when a closure or a
 * batch fails, on a new writer connection and when another node
 * committed since this node's last commit.
 */
int jit_pg_cache_new(struct jit_pg *pg);
void jit_pg_cache_free(struct jit_pg *pg);
void jit_pg_cache_clear(struct jit_pg *pg);
int jit_pg_cache_get(struct jit_store_txn *t, int kind, const char *key,
    const char **data, size_t *len);
void jit_pg_cache_put(struct jit_store_txn *t, int kind, const char *key,
    const void *data, size_t len);
void jit_pg_cache_drop(struct jit_store_txn *t, int kind, const char *key);

/* The running closure's savepoint, made before its first statement
 * (pg_conn.c asks): a closure that sends none needs none.  STORE. */
int jit_pg_savepoint(struct jit_pg *pg);

/* ---- pg_defer.c -------------------------------------------------------- */

/*
 * The writer's deferred rows (pg_defer.c says how they are sent).  add
 * copies a row of table tab (PG_D_*): cells[j] of lens[j] bytes, NULL for
 * SQL NULL; ALLOC.  mark: a closure starts; undo: it failed (after its
 * savepoint's rollback was queued); clear: the batch ended.  flush sends
 * the rows of the tables in mask (bits 1 << PG_D_*) without waiting;
 * ALLOC, STORE.
 */
int jit_pg_defer_add(struct jit_pg *pg, int tab, const char *const *cells,
    const size_t *lens);
void jit_pg_defer_mark(struct jit_pg *pg);
void jit_pg_defer_undo(struct jit_pg *pg);
void jit_pg_defer_clear(struct jit_pg *pg);
void jit_pg_defer_free(struct jit_pg *pg);
int jit_pg_defer_flush(struct jit_pg *pg, unsigned mask);

/* ---- pg_requests.c ----------------------------------------------------- */

int jit_pg_create_request(struct jit_store_txn *t,
    const struct jit_store_raw_request *rq, uint64_t *seq);
int jit_pg_put_request(struct jit_store_txn *t,
    const struct jit_store_raw_request *rq);
int jit_pg_get_request(struct jit_store_txn *t, const char *id,
    json_t **out, uint64_t *seq, void **raw, size_t *rawlen);
int jit_pg_request_unchanged(struct jit_store_txn *t, const char *id,
    const void *raw, size_t rawlen);
int jit_pg_put_raw_request(struct jit_store_txn *t,
    const struct jit_store_raw_request *rq);
int jit_pg_list_requests(struct jit_store_txn *t, enum jit_store_index ix,
    const char *name, const struct jit_store_list *opt,
    jit_store_request_cb cb, void *ctx);
int jit_pg_list_due(struct jit_store_txn *t, uint64_t now,
    jit_store_request_cb cb, void *ctx);
int jit_pg_count_by_state(struct jit_store_txn *t, const char *state,
    uint64_t *count);
int jit_pg_list_pair(struct jit_store_txn *t, enum jit_store_pair ix,
    const char *name, const char *state, const struct jit_store_list *opt,
    jit_store_request_cb cb, void *ctx);
int jit_pg_list_by_state_end(struct jit_store_txn *t, const char *state,
    jit_store_request_cb cb, void *ctx);
int jit_pg_count_by_user_state(struct jit_store_txn *t, const char *user,
    const char *state, uint64_t max, uint64_t *count);
/* Give each request of the table its role and not_after from its body,
 * on connection c, in chunks: the version 3 migration (pg_env.c).
 * STORE_CORRUPT if a body is no JSON object. */
int jit_pg_fill_request_keys(struct jit_pg_conn *c);
int jit_pg_raw_requests(struct jit_store_txn *t,
    jit_store__raw_request_cb cb, void *ctx);

/* ---- pg_records.c ---------------------------------------------------- */

int jit_pg_next_serial(struct jit_store_txn *t, uint64_t *serial);
int jit_pg_reserve_serial(struct jit_store_txn *t, uint64_t *serial);
int jit_pg_claim_serial(struct jit_store_txn *t, uint64_t serial);
/* A batch failed with CONFLICT, maybe for a serial that was taken: drop
 * the serials this store holds and raise the sequence past every stored
 * one, on the writer's connection (outside a transaction). */
void jit_pg_serials_collided(struct jit_store *s);
int jit_pg_put_cert(struct jit_store_txn *t, uint64_t serial,
    const char *js, size_t jl);
int jit_pg_get_cert(struct jit_store_txn *t, uint64_t serial,
    json_t **out);
int jit_pg_list_certs(struct jit_store_txn *t, uint64_t after,
    size_t limit, jit_store_cert_cb cb, void *ctx);
int jit_pg_raw_certs(struct jit_store_txn *t, jit_store__raw_cb cb,
    void *ctx);
int jit_pg_get_counters(struct jit_store_txn *t,
    struct jit_store_counters *c);
int jit_pg_raise_counters(struct jit_store_txn *t,
    const struct jit_store_counters *c);

int jit_pg_put_token(struct jit_store_txn *t,
    const unsigned char hash[JIT_TOKEN_HASH_LEN], const char *id,
    const char *js, size_t jl);
int jit_pg_get_token(struct jit_store_txn *t,
    const unsigned char hash[JIT_TOKEN_HASH_LEN], json_t **out);
int jit_pg_get_token_by_id(struct jit_store_txn *t, const char *id,
    unsigned char hash[JIT_TOKEN_HASH_LEN], json_t **out);
int jit_pg_delete_token(struct jit_store_txn *t, const char *id);
int jit_pg_list_tokens(struct jit_store_txn *t, jit_store_token_cb cb,
    void *ctx);

int jit_pg_put_value(struct jit_store_txn *t, const char *key,
    const char *js, size_t jl);
int jit_pg_get_value(struct jit_store_txn *t, const char *key,
    json_t **out);
int jit_pg_raw_values(struct jit_store_txn *t, jit_store__raw_cb cb,
    void *ctx);

int jit_pg_audit_last(struct jit_store_txn *t, uint64_t *seq, char **json,
    size_t *len);
int jit_pg_audit_put(struct jit_store_txn *t, uint64_t seq,
    const char *hash_hex, const char *json, size_t len);
int jit_pg_audit_head(struct jit_store_txn *t, uint64_t *seq,
    char *hash_hex);
int jit_pg_audit_iter(struct jit_store_txn *t, uint64_t from_seq,
    jit_store_audit_cb cb, void *ctx);
int jit_pg_audit_get(struct jit_store_txn *t, uint64_t seq, char **json,
    size_t *len);

/* ---- pg_outbox.c ---------------------------------------------------- */

int jit_pg_outbox_add(struct jit_store_txn *t,
    const struct jit_store_outbox_entry *e, uint64_t *seq);
int jit_pg_outbox_first(struct jit_store_txn *t, const char *endpoint,
    uint64_t *seq, json_t **rec);
int jit_pg_outbox_put(struct jit_store_txn *t,
    const struct jit_store_outbox_entry *e);
int jit_pg_outbox_done(struct jit_store_txn *t, const char *endpoint,
    uint64_t seq);
int jit_pg_outbox_list(struct jit_store_txn *t, int failed_only,
    jit_store_outbox_cb cb, void *ctx);
int jit_pg_outbox_stats(struct jit_store_txn *t,
    struct jit_outbox_stats *st);
int jit_pg_put_raw_outbox(struct jit_store_txn *t,
    const struct jit_store_outbox_entry *e);

#endif
