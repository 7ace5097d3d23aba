/*
 * store.h - the approval server's durable state, on one of two backends:
 *
 *   LMDB (the default): one LMDB environment in the data directory
 *   (DIR/data.mdb, DIR/lock.mdb, both 0600), for one server.
 *
 *   PostgreSQL: tables in a database that several servers ("nodes") share,
 *   reached through libpq with a postgresql:// URL.  Every guarantee below
 *   holds across the nodes (see "Several nodes").
 *
 * Model.  Every state change is one *write closure*: a function the caller
 * hands to jit_store_write().  It runs inside a write transaction, makes
 * its changes (a request update, a cert record, a token, ...) and appends
 * the matching audit entry (jit_audit_append(), audit.h) in that same
 * transaction, so either all of it is stored or none of it is.
 * jit_store_write() returns only after the transaction is durable (LMDB:
 * fsync'd, LMDB's default sync mode, never MDB_NOSYNC / MDB_NOMETASYNC;
 * PostgreSQL: COMMIT returned, which with the server's default
 * synchronous_commit means flushed to its WAL), so once a caller has
 * been told "ok" a kill -9 or power loss cannot lose the change.
 *
 * Group commit.  One writer thread per store runs every closure.  Callers
 * of jit_store_write() from any number of threads enqueue their closure
 * and sleep; the writer takes everything queued, opens ONE transaction,
 * runs each closure in its own nested part of it (LMDB: a nested
 * transaction; PostgreSQL: a savepoint), so a closure that fails is
 * rolled back alone and the others keep their changes, commits once and
 * then wakes every caller with its own result.  While the writer waits
 * for the disk, new callers queue up and form the next batch, so
 * throughput scales with concurrency instead of being capped by commit
 * latency.
 *
 * Reads.  jit_store_read() runs a closure in a read-only snapshot in the
 * caller's thread; reads never block writes and see only committed data.
 * Read snapshots should be short (they pin old pages or row versions):
 * never wait on the network or on jit_store_wait_change() inside one.
 *
 * Processes.  LMDB is safe across processes: `jit-ca serve` opens with
 * JIT_STORE_SERVER (an exclusive flock on DIR/server.lock, so a second
 * server fails with JIT_ERR_STORE_LOCKED) while `jit-ca token create` or
 * `jit-ca audit export` open the same directory without that flag and
 * work while the server runs.  Writes from another process are serialised
 * by LMDB and chain into the same audit log, but they do not wake this
 * process's jit_store_wait_change() waiters (those time out and re-read).
 * Never use a store across fork(): open it in the process that uses it.
 *
 * Several nodes (PostgreSQL).  Any number of servers and CLI processes
 * may open one database at once; JIT_STORE_SERVER takes no lock there.
 * The writer's batch transaction first locks the one row of the head
 * table (SELECT ... FOR UPDATE), so batches of all nodes commit one
 * after the other: the audit chain stays one chain, counters (request
 * sequence numbers) never repeat, and what a closure reads inside its
 * write is current, so a re-check there (one certificate per grant) is
 * sound without SERIALIZABLE.  Serials come from a sequence, unique
 * across nodes.  Each server's store listens (LISTEN/NOTIFY) for the
 * commits of other nodes and wakes its jit_store_wait_change() waiters.
 * jit_store_job_lock() lets one node at a time run a periodic job.  A
 * lost connection is re-opened by itself; meanwhile calls fail with
 * STORE, never with a wrong answer (a write whose COMMIT went unanswered
 * is reported as failed though it may have committed).
 *
 * Threads.  A struct jit_store may be used from any number of threads at
 * once.  A struct jit_store_txn belongs to the closure it was passed to
 * and must not be used after that closure returns or from another thread.
 *
 * Errors.  Every function returns 0 or a negative JIT_ERR_* (err.h);
 * LMDB and libpq codes never escape the backends' files in api/store/
 * (lmdb_int.h and pg_int.h list their mappings).  In short: map, disk or
 * quota full (LMDB: also a commit's short write, EIO, with no space
 * left on the disk) -> STORE_FULL; damaged data and unparsable records ->
 * STORE_CORRUPT; missing key -> NOT_FOUND; key exists on a create ->
 * CONFLICT; data dir held by another server -> STORE_LOCKED; permission
 * or authentication problems -> PERMISSION; an unreachable database and
 * anything else -> STORE.  A STORE_FULL write leaves the stored data
 * intact (the transaction is aborted).
 *
 * JSON.  Records are jansson objects, stored compactly.  Getters return a
 * NEW reference the caller must json_decref().  Putters borrow their
 * argument (they do not steal or keep it) unless stated otherwise.
 * Callback arguments are borrowed and valid only during the callback
 * (json_incref() to keep one).
 */
#ifndef JIT_STORE_H
#define JIT_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct jit_store;
struct jit_store_txn;

/* ---- opening and closing ------------------------------------------- */

/* Flags for jit_store_open(). */
#define JIT_STORE_SERVER   0x1u  /* LMDB: take DIR/server.lock exclusively;
                                    PostgreSQL: listen for other nodes'
                                    commits (jit_store_wait_change) */
#define JIT_STORE_READONLY 0x2u  /* no writes (jit_store_write gives
                                    JIT_ERR_PERMISSION); no writer thread;
                                    no schema migration */

#define JIT_STORE_DEFAULT_MAP_SIZE (8ull << 30)  /* 8 GiB, sparse */

struct jit_store_options {
	unsigned flags;       /* JIT_STORE_* */
	uint64_t map_size;    /* bytes; 0 = JIT_STORE_DEFAULT_MAP_SIZE.  The
	                         map is set to this at open (never below what
	                         is already stored); the file grows only as
	                         data is written.  Every process opening the
	                         same dir should use the same size. */
	unsigned max_batch;   /* most closures per commit; 0 = 4096 */

	/* PostgreSQL (all NULL / 0 for LMDB).  url: a postgresql:// (or
	 * postgres://) URL as libpq takes it; the options below override
	 * what it says.  password_file: a file whose first line is the
	 * password.  sslmode, sslrootcert: as libpq's.  schema: the
	 * schema holding the tables (created if missing; NULL = the
	 * connection's default, usually "public"); a name of at most 63
	 * lowercase letters, digits and '_', not starting with a digit.
	 * connections: how many connections reads use at most (0 = 8); the
	 * writer, the listener and the job lock have one each. */
	const char *url;
	const char *password_file;
	const char *sslmode;
	const char *sslrootcert;
	const char *schema;
	unsigned connections;

	/* If not NULL, receives a message for the user when opening fails
	 * (e.g. libpq's "password authentication failed ..."). */
	char *err;
	size_t errlen;
};

/*
 * Open (creating if needed) the store in directory dir.  A missing dir is
 * created with mode 0700 (its parent must exist).  With opt->url set, or
 * dir a postgresql:// URL (jit_store_is_url), the PostgreSQL backend is
 * opened instead: its tables are created, or brought to the current
 * schema version, unless READONLY.  On success *out is the new store, to
 * be released with jit_store_close().  *out is NULL on failure.  Errors:
 * STORE_LOCKED (JIT_STORE_SERVER and another process holds the lock),
 * PERMISSION (also: the database refused the login), NOT_FOUND (parent
 * dir missing, or READONLY and no store exists), STORE_CORRUPT (also: a
 * schema newer than this program's), STORE_FULL, ALLOC, STORE (also:
 * the database is unreachable).
 */
int jit_store_open(const char *dir, unsigned flags, struct jit_store **out);
int jit_store_open_opts(const char *dir, const struct jit_store_options *opt,
    struct jit_store **out);

/* 1 if where is a postgresql:// or postgres:// URL, else 0. */
int jit_store_is_url(const char *where);

/* "lmdb" or "postgresql": the backend s runs on. */
const char *jit_store_backend(const struct jit_store *s);

/* The version of the PostgreSQL schema this program writes (the value
 * of the schema_version table once opened for writing). */
#define JIT_STORE_PG_SCHEMA 4

/*
 * Stop the writer thread (queued writes finish first), close the
 * environment, release the server lock.  No other thread may be inside a
 * jit_store_* call (including jit_store_wait_change) when this is called.
 * NULL is a no-op.
 */
void jit_store_close(struct jit_store *s);

/* ---- transactions --------------------------------------------------- */

/*
 * A write closure.  Runs on the store's writer thread inside a write
 * transaction t.  Return 0 to keep its changes, or a negative JIT_ERR_*
 * to roll back exactly this closure's changes (other closures in the same
 * batch are unaffected); that code is what jit_store_write() returns.
 * It runs exactly once.  It must not call jit_store_write() or
 * jit_store_read() (that would deadlock or fail with INTERNAL), must not
 * block on anything slow (it holds up every other writer), and should
 * only compute results into ctx: the caller may use them only if
 * jit_store_write() returned 0 (the commit can still fail afterwards).
 * Reads through t see the changes of earlier closures of the same batch.
 */
typedef int (*jit_store_write_fn)(struct jit_store_txn *t, void *ctx);

/*
 * Run fn(t, ctx) in a write transaction and return when it is durably
 * committed (0), or when it failed: fn's own negative code, or a commit
 * error (STORE_FULL, STORE, STORE_RETRY: the batch could not commit for
 * a row of some closure of it, and the same write may succeed if made
 * again) in which case nothing of fn is stored.
 * Blocks the calling thread; thread-safe; group-committed with other
 * callers.  READONLY stores give PERMISSION.
 */
int jit_store_write(struct jit_store *s, jit_store_write_fn fn, void *ctx);

/* A read closure: runs in the caller's thread in a read-only snapshot. */
typedef int (*jit_store_read_fn)(struct jit_store_txn *t, void *ctx);

/* Run fn in a read snapshot; returns fn's result (or a store error from
 * beginning the snapshot).  Writes through t give PERMISSION. */
int jit_store_read(struct jit_store *s, jit_store_read_fn fn, void *ctx);

/* ---- requests ------------------------------------------------------- */

/*
 * Request IDs are "r-" followed by 12 characters of lowercase RFC 4648
 * base32 ("a".."z", "2".."7"), 60 random bits from the OS CSPRNG:
 * short, URL-safe, unguessable.  JIT_REQUEST_ID_LEN includes the NUL.
 */
#define JIT_REQUEST_ID_LEN 15
/* Make a fresh random ID (not checked against the store). */
int jit_store_new_request_id(char out[JIT_REQUEST_ID_LEN]);

/*
 * A stored request is a JSON object (its members are the lifecycle's,
 * api/lifecycle/request.h) that must have string members "id", "state"
 * and "user"; "id" at most 64 bytes, "state" and "user" at most 200 bytes
 * (INVALID_ARGUMENT otherwise).  The store indexes requests by state, by
 * user, and by user and state together, in *creation order*: each
 * request gets a sequence number (1, 2, ...) when created, which never
 * changes and is the cursor used by the list functions.  Two optional
 * members are indexed too: "role" (a string of 1 to 200 bytes), by role
 * and state in creation order (a request without one is not in that
 * index), and "not_after" (an RFC 3339 time), by state and that time.
 * States are opaque names to the store; it counts the requests in each
 * one.
 *
 * Deadlines.  Create and put also take the request's deadline: the UNIX
 * time (seconds) at which the request next needs the sweeper's
 * attention, or 0 for none.  The store keeps a deadline index from it
 * (jit_store_list_due()) and stores it with the request, but never
 * derives it: what a state's deadline is (a pending request's expiry, the
 * end of an approved grant) is for the lifecycle module to decide
 * (jit_request_deadline(), api/lifecycle/request.h).  Each put replaces
 * the deadline, so a put with 0 takes the request off the due list.
 */

/*
 * Create a request with the given deadline (0 = none; see "Deadlines").
 * If req has no "id", a fresh ID is generated and set in req (the caller
 * sees it); an ID that already exists gives CONFLICT (on PostgreSQL the
 * batch's STORE_RETRY, see jit_store_put_request).  Sets *seq (may be
 * NULL) to the new request's sequence number.  Marks the id as changed
 * for jit_store_wait_change().
 */
int jit_store_create_request(struct jit_store_txn *t, json_t *req,
    uint64_t deadline, uint64_t *seq);
/* The same with req's JSON encoded beforehand by jit_store_encode_request()
 * (off the writer thread); req must then have its "id" (else
 * INVALID_ARGUMENT); js NULL encodes req here. */
int jit_store_create_request_encoded(struct jit_store_txn *t, json_t *req,
    const char *js, size_t jl, uint64_t deadline, uint64_t *seq);

/*
 * Replace an existing request (looked up by req's "id") with req and its
 * deadline with deadline (0 = none), moving its index entries if "state",
 * "user" or the deadline changed.  NOT_FOUND if no such request.  Marks
 * the id as changed for jit_store_wait_change().
 *
 * PostgreSQL defers this update, request creates, jit_store_put_value(),
 * jit_store_put_cert() and jit_store_audit_put() in a write to one
 * statement per table for the whole batch, sent before any statement
 * that reads the table and at the latest with the commit: a failure of
 * theirs (a request that is not there here, an id or a serial that is
 * taken) fails the whole batch (every closure of it returns the error,
 * nothing is committed; STORE_RETRY for a taken id or serial, STORE for
 * a missing request), or, when a read of the closure sent them, the
 * closure.  Not CONFLICT: a closure cannot tell its own row from another
 * closure's, and most of the batch did nothing wrong.  Read the request first, as the lifecycle does, to get
 * NOT_FOUND from the read.
 */
int jit_store_put_request(struct jit_store_txn *t, const json_t *req,
    uint64_t deadline);
/*
 * The same with req's JSON encoded beforehand (off the writer thread):
 * jit_store_encode_request() sets *out to req's stored JSON
 * (NUL-terminated, caller frees) and *len to its length;
 * jit_store_put_request_encoded() stores js (jl bytes, made so from req
 * and not checked again) as req; js NULL encodes req here.
 */
int jit_store_encode_request(const json_t *req, char **out, size_t *len);
int jit_store_put_request_encoded(struct jit_store_txn *t, const json_t *req,
    const char *js, size_t jl, uint64_t deadline);

/* Fetch a request: *out is a new reference (NULL on error); *seq (may be
 * NULL) its sequence number.  NOT_FOUND if absent. */
int jit_store_get_request(struct jit_store_txn *t, const char *id,
    json_t **out, uint64_t *seq);

/*
 * Like jit_store_get_request(), and *raw is a copy of the stored record
 * (opaque bytes; free() it), *rawlen its length, for
 * jit_store_request_unchanged().  All outputs are cleared on entry.
 */
int jit_store_get_request_raw(struct jit_store_txn *t, const char *id,
    json_t **out, void **raw, size_t *rawlen);

/*
 * 0 if request id is stored byte for byte as raw (from
 * jit_store_get_request_raw(), possibly in an earlier snapshot), so a
 * request parsed then can be used as it is, without parsing it again;
 * CONFLICT if it changed since, NOT_FOUND if it is gone.
 */
int jit_store_request_unchanged(struct jit_store_txn *t, const char *id,
    const void *raw, size_t rawlen);

/* Convenience: jit_store_get_request() in its own read snapshot. */
int jit_store_load_request(struct jit_store *s, const char *id, json_t **out);

/*
 * Listing.  The callback gets each request (borrowed) and its sequence
 * number; it returns 0 to continue, 1 to stop early (the list function
 * then returns 0), or a negative error which is returned as is.
 */
typedef int (*jit_store_request_cb)(json_t *req, uint64_t seq, void *ctx);

struct jit_store_list {
	uint64_t after;   /* cursor: ascending, only seq > after (0 = from the
	                     oldest); descending, only seq < after (0 = from
	                     the newest) */
	size_t limit;     /* at most this many callbacks; 0 = no limit */
	int descending;   /* newest first */
};

/* Requests in state `state` (e.g. "pending"), in creation order, using the
 * state index: cost is proportional to what is returned, not to the size
 * of the store.  opt may be NULL (ascending, everything). */
int jit_store_list_by_state(struct jit_store_txn *t, const char *state,
    const struct jit_store_list *opt, jit_store_request_cb cb, void *ctx);
/* Requests made by user, in creation order, via the user index. */
int jit_store_list_by_user(struct jit_store_txn *t, const char *user,
    const struct jit_store_list *opt, jit_store_request_cb cb, void *ctx);
/* All requests in creation order. */
int jit_store_list_all(struct jit_store_txn *t,
    const struct jit_store_list *opt, jit_store_request_cb cb, void *ctx);

/*
 * Requests whose deadline (the one last given to create or put; see
 * "Deadlines") is not 0 and at or before now, earliest deadline first
 * (creation order among equal deadlines).  Cost is proportional to the
 * number of due requests, not to the store's size.  The callback is as
 * for the list functions (seq is the request's).
 */
int jit_store_list_due(struct jit_store_txn *t, uint64_t now,
    jit_store_request_cb cb, void *ctx);

/* Requests of user in state, in creation order (by_user_state index;
 * the cost follows what is returned).  On a READONLY view of a store
 * written by an older version this is a filtered walk of the user's
 * requests instead (the same answer, slower). */
int jit_store_list_by_user_state(struct jit_store_txn *t, const char *user,
    const char *state, const struct jit_store_list *opt,
    jit_store_request_cb cb, void *ctx);
/* Requests whose "role" is role, in state, in creation order
 * (by_role_state index, as above; an older store READONLY: a filtered
 * walk of the state's requests). */
int jit_store_list_by_role_state(struct jit_store_txn *t, const char *role,
    const char *state, const struct jit_store_list *opt,
    jit_store_request_cb cb, void *ctx);
/*
 * Requests in state, latest "not_after" first (newest first among equal
 * times); those without a "not_after" (or with one that is no RFC 3339
 * time) come before all others.  A caller that needs only those that
 * end after some time stops (returns 1) at the first that does not, so
 * the cost follows what it reads, not how many ever were in the state.
 * (An older store READONLY: every request in the state is read and
 * sorted first.)
 */
int jit_store_list_by_state_end(struct jit_store_txn *t, const char *state,
    jit_store_request_cb cb, void *ctx);

/* Number of requests in a state: a stored count kept with every create
 * and put, so this costs one read (for /metrics). */
int jit_store_count_by_state(struct jit_store_txn *t, const char *state,
    uint64_t *count);
/* Number of user's requests in state, counting at most max (0 = all):
 * reads up to max index keys, no records. */
int jit_store_count_by_user_state(struct jit_store_txn *t, const char *user,
    const char *state, uint64_t max, uint64_t *count);

/* ---- certificates --------------------------------------------------- */

/*
 * Allocate the next certificate serial: 1, 2, 3, ... never 0, never
 * reused, even across restarts or if the serial's write closure fails and
 * a later one succeeds (a rolled-back closure's serial may be handed out
 * again, but it was never stored anywhere).
 */
int jit_store_next_serial(struct jit_store_txn *t, uint64_t *serial);

/*
 * Serials for signing OUTSIDE the write closure, so the writer thread
 * does not spend its time on signatures.  jit_store_reserve_serial()
 * takes the next serial from an in-memory counter of this store object
 * that never goes below the stored next_serial seen in snapshot t (a read
 * or write transaction); it never returns the same serial twice in this
 * process.  The issuing write closure must then call
 * jit_store_claim_serial(), which gives CONFLICT if a cert record with
 * that serial exists and otherwise moves next_serial past it, in the
 * same transaction that stores the cert.  A reserved serial that is not
 * claimed (the signed cert is thrown away) leaves a gap in the
 * sequence, never a duplicate.  Do not mix with jit_store_next_serial()
 * in concurrent closures of one process (a CONFLICT is then possible).
 * PostgreSQL: reserved serials come from a sequence that all nodes
 * share, so no two reservations anywhere are the same; the claim raises
 * the sequence past a serial it had not handed out yet (only
 * jit_store_copy or a hand-picked serial do that), and a cert record
 * already there makes the jit_store_put_cert that must follow the claim
 * in the same closure fail (the claim costs no round trip), found when
 * the batch's cert records are inserted (jit_store_put_request says
 * when): the whole batch fails with STORE_RETRY, after which this store's
 * reserved serials are dropped and the sequence is raised past every
 * stored serial, so the callers reserve and sign again.  jit_store_next_serial takes from the same sequence.
 */
int jit_store_reserve_serial(struct jit_store_txn *t, uint64_t *serial);
int jit_store_claim_serial(struct jit_store_txn *t, uint64_t serial);

/*
 * Store the record of an issued certificate under its serial (non-zero).
 * rec is a JSON object; suggested members: "serial", "request", "user",
 * "role", "cert" (the OpenSSH cert line), "key_fingerprint",
 * "valid_after", "valid_before", "issued_at".  CONFLICT if the serial
 * already has a record (records are write-once); on PostgreSQL, in a
 * write, STORE_RETRY for the batch (see jit_store_claim_serial).
 */
int jit_store_put_cert(struct jit_store_txn *t, uint64_t serial,
    const json_t *rec);
/*
 * The same in two steps, so the encoding can happen before a write
 * instead of on the writer thread: jit_store_encode_cert() sets *out to
 * the stored bytes of rec (a JSON object; NUL-terminated, caller frees)
 * and *len to their length; jit_store_put_cert_encoded() stores bytes so
 * made (not checked again) under serial, with jit_store_put_cert()'s
 * errors.
 */
int jit_store_encode_cert(const json_t *rec, char **out, size_t *len);
int jit_store_put_cert_encoded(struct jit_store_txn *t, uint64_t serial,
    const char *js, size_t jl);
/* Fetch a cert record (new reference).  NOT_FOUND if absent. */
int jit_store_get_cert(struct jit_store_txn *t, uint64_t serial,
    json_t **out);

/* Cert records in serial order with serial > after; callback as for
 * requests (0 continue, 1 stop, negative error). */
typedef int (*jit_store_cert_cb)(json_t *rec, uint64_t serial, void *ctx);
int jit_store_list_certs(struct jit_store_txn *t, uint64_t after,
    size_t limit, jit_store_cert_cb cb, void *ctx);

/* ---- tokens --------------------------------------------------------- */

/*
 * API tokens are stored by the SHA-256 of the token string only; the
 * token itself is never stored.  A token record is a JSON object with at
 * least a string "id" (a short public handle for listing and revoking,
 * at most 64 bytes, unique) and "user"; suggested: "created_at",
 * "expires_at", "revoked_at", "name".
 */
#define JIT_TOKEN_HASH_LEN 32

/* SHA-256 of the token string (without its NUL). */
void jit_store_token_hash(const char *token,
    unsigned char hash[JIT_TOKEN_HASH_LEN]);

/* Insert or replace the token record for hash.  Keeps an id -> hash index;
 * CONFLICT if rec's "id" already names a different token. */
int jit_store_put_token(struct jit_store_txn *t,
    const unsigned char hash[JIT_TOKEN_HASH_LEN], const json_t *rec);
/* Look up by hash (authentication); new reference; NOT_FOUND if absent.
 * Whether the token is expired or revoked is for the caller to judge. */
int jit_store_get_token(struct jit_store_txn *t,
    const unsigned char hash[JIT_TOKEN_HASH_LEN], json_t **out);
/* Look up by public id; hash (may be NULL) receives the token hash. */
int jit_store_get_token_by_id(struct jit_store_txn *t, const char *id,
    unsigned char hash[JIT_TOKEN_HASH_LEN], json_t **out);
/* Mark a token revoked: sets "revoked_at" (RFC 3339, now) if not already
 * set.  NOT_FOUND if no token has that id. */
int jit_store_revoke_token(struct jit_store_txn *t, const char *id);
/* Delete a token record entirely.  NOT_FOUND if no token has that id. */
int jit_store_delete_token(struct jit_store_txn *t, const char *id);
/* All token records, in hash order (unspecified but stable). */
typedef int (*jit_store_token_cb)(const unsigned char
    hash[JIT_TOKEN_HASH_LEN], json_t *rec, void *ctx);
int jit_store_list_tokens(struct jit_store_txn *t, jit_store_token_cb cb,
    void *ctx);

/* ---- small named values ---------------------------------------------- */

/* A key/value table for anything else the server needs to keep (e.g. CA
 * metadata).  key: non-empty string of at most 200 bytes; the value is any
 * JSON value.  get: NOT_FOUND if absent. */
int jit_store_put_value(struct jit_store_txn *t, const char *key,
    const json_t *value);
int jit_store_get_value(struct jit_store_txn *t, const char *key,
    json_t **out);

/* ---- audit log storage (used by audit.c; see audit.h) -------------- */

/*
 * The audit table maps seq (1, 2, ...) to the entry's canonical JSON text
 * (audit.h), stored byte for byte as it is exported.
 */

/* The last entry: *seq = 0 and *json = NULL when the log is empty.  *json
 * is a malloc'd NUL-terminated copy the caller frees. */
int jit_store_audit_last(struct jit_store_txn *t, uint64_t *seq, char **json,
    size_t *len);
/* Append entry seq (must be exactly last + 1, else CONFLICT) with its
 * text (len bytes, no NUL needed) and its hash (64 lowercase hex digits),
 * which becomes the recorded head.  Write transactions only. */
int jit_store_audit_put(struct jit_store_txn *t, uint64_t seq,
    const char *hash_hex, const char *json, size_t len);
/* The head recorded by the last jit_store_audit_put() (cheap: no
 * parsing): *seq and hash_hex (65 bytes) receive it; *seq = 0 and
 * hash_hex = "" when none is recorded. */
int jit_store_audit_head(struct jit_store_txn *t, uint64_t *seq,
    char *hash_hex);
/* Stream entries with seq >= from_seq in order, in constant memory.  The
 * text is borrowed (valid during the callback only; NOT NUL-terminated).
 * Callback: 0 continue, 1 stop, negative error (returned as is). */
typedef int (*jit_store_audit_cb)(uint64_t seq, const char *json, size_t len,
    void *ctx);
int jit_store_audit_iter(struct jit_store_txn *t, uint64_t from_seq,
    jit_store_audit_cb cb, void *ctx);
/* Fetch one entry's text as a malloc'd NUL-terminated copy. */
int jit_store_audit_get(struct jit_store_txn *t, uint64_t seq, char **json,
    size_t *len);

/* ---- notification outbox --------------------------------------------- */

/*
 * Notifications of changes (api/notify/notify.h), written in the same
 * write transaction as the change they report, so that a notification
 * exists exactly when its change was committed.  Each entry belongs to an
 * endpoint (a name without NUL of at most 200 bytes), has a sequence
 * number (1, 2, ...: the order in which entries were added; never
 * reused) and a record, a JSON object whose members belong to the
 * notifier except "created_at" (integer UNIX seconds), which the store
 * reads for jit_store_outbox_stats().  An entry is queued (waiting for
 * its first delivery or a retry) or failed (given up, kept until someone
 * retries it); a delivered entry is removed and counted.  Stores opened
 * READONLY that were written before the outbox existed have an empty one.
 * PostgreSQL: one outbox for all nodes; the entries of an endpoint are
 * delivered by the node holding the "notify" job lock
 * (jit_store_job_lock(), api/notify/deliver.c), so by one at a time.
 */
enum jit_outbox_state { JIT_OUTBOX_QUEUED, JIT_OUTBOX_FAILED };

/* Add a queued entry for endpoint with record rec; *seq (may be NULL)
 * receives its sequence number.  INVALID_ARGUMENT for a bad name or a
 * record that is not an object. */
int jit_store_outbox_add(struct jit_store_txn *t, const char *endpoint,
    const json_t *rec, uint64_t *seq);

/* The queued entry of endpoint with the lowest sequence number: *seq
 * and *rec (a new reference).  NOT_FOUND when the endpoint has none. */
int jit_store_outbox_first(struct jit_store_txn *t, const char *endpoint,
    uint64_t *seq, json_t **rec);

/* Replace entry (endpoint, seq), queued or failed, with rec in state st.
 * NOT_FOUND if there is no such entry. */
int jit_store_outbox_put(struct jit_store_txn *t, const char *endpoint,
    uint64_t seq, enum jit_outbox_state st, const json_t *rec);

/* Remove entry (endpoint, seq), delivered: it is counted in the
 * delivered total.  NOT_FOUND if there is no such entry. */
int jit_store_outbox_done(struct jit_store_txn *t, const char *endpoint,
    uint64_t seq);

/* Every entry (only the failed ones with failed_only), queued entries
 * first, then by endpoint name, then by sequence number.  The endpoint
 * and record are borrowed for the callback; callback results as for the
 * request lists (0 continue, 1 stop, negative error). */
typedef int (*jit_store_outbox_cb)(const char *endpoint, uint64_t seq,
    enum jit_outbox_state st, json_t *rec, void *ctx);
int jit_store_outbox_list(struct jit_store_txn *t, int failed_only,
    jit_store_outbox_cb cb, void *ctx);

struct jit_outbox_stats {
	uint64_t queued;       /* entries waiting */
	uint64_t failed;       /* entries given up */
	uint64_t delivered;    /* entries delivered, ever (stored) */
	uint64_t oldest;       /* created_at of the oldest queued entry;
	                          0 when none is queued */
};
/* Counts for /metrics.  Cost is proportional to the entries stored. */
int jit_store_outbox_stats(struct jit_store_txn *t,
    struct jit_outbox_stats *st);
/* ---- jobs on several nodes ------------------------------------------- */

/*
 * Periodic work that one node at a time should do (the sweeper, an
 * outbox): 1 if this process holds the job's lock now (taking it if it
 * is free), 0 if another process holds it, or a store error.  Call it
 * before each run of the job.  LMDB: always 1 (one server per data
 * directory).  PostgreSQL: a session advisory lock on a connection of
 * its own, kept while this store is open; if that connection dies
 * (the node crashed, or lost the database) the lock is released and the
 * next call on another node takes it.  job: a non-empty name of at most
 * 200 bytes.
 */
int jit_store_job_lock(struct jit_store *s, const char *job);

/* ---- copying a store ------------------------------------------------- */

struct jit_store_copy_stats {
	uint64_t requests, certs, tokens, values, audit, outbox;
	uint64_t audit_head_seq;           /* the copied chain's head */
	char audit_head[65];               /* hex, "" if the log is empty */
};

/*
 * Copy everything in from (any backend; READONLY is enough) into to,
 * which must be empty (no requests, certs, tokens, values, audit or
 * outbox entries; else CONFLICT): requests with their sequence numbers
 * and deadlines, cert records, tokens, named values, the audit entries
 * byte for byte (so the chain and its head are the same), the outbox's
 * entries (queued and failed, with their sequence numbers) and the
 * counters, so no serial or sequence number is handed out again and the
 * delivered total goes on.  One write
 * transaction on to: all of it or nothing.  Afterwards the head of to's
 * log is compared with from's (AUDIT_CHAIN if they differ).  st (may be
 * NULL) receives the counts.
 */
int jit_store_copy(struct jit_store *from, struct jit_store *to,
    struct jit_store_copy_stats *st);

/* ---- change notification (long-poll) --------------------------------- */

/*
 * The store keeps a version number that grows by one with every durable
 * commit made by this process and, on PostgreSQL with JIT_STORE_SERVER,
 * with every commit another node announces.  To wait for a request to
 * change without polling:
 *
 *     v = jit_store_version(s);          // BEFORE reading
 *     read the request; if its state is final, answer;
 *     if (jit_store_wait_change(s, id, v, remaining_ms) == 1)
 *         re-read and answer (or loop);
 *
 * jit_store_wait_change() returns 1 as soon as some commit with version >
 * since has changed request id (created or put) - at once if that already
 * happened - or 0 after timeout_ms (0 = check only).  With id NULL, any
 * commit counts.  It may rarely return 1 for a commit that touched a
 * different request (ids share wake-up slots); callers must re-read.  It
 * never fails and needs no read snapshot.  LMDB: commits by other
 * processes do not wake it.  PostgreSQL: other nodes' commits wake it
 * (NOTIFY, delivered after their commit); when the listening connection
 * was lost, every waiter is woken once it is back, since announcements
 * may have been missed.
 */
uint64_t jit_store_version(struct jit_store *s);
int jit_store_wait_change(struct jit_store *s, const char *id, uint64_t since,
    int timeout_ms);

/*
 * The id of the last transaction committed to the store by any process:
 * it grows with every commit, this process's and others' (jit-ca token
 * create; on PostgreSQL, every node's), so a value read from the store
 * may be kept while it stays the same.  A commit that returned before
 * the call is always counted.  LMDB: LMDB's transaction id; cheap, no
 * lock, no system call.  PostgreSQL: the head row's commit counter (plus
 * one), read from the database: one round trip on a read connection;
 * 0, which no commit has, when the database cannot be reached.
 */
uint64_t jit_store_commit_id(struct jit_store *s);

/*
 * Wake-up slots: every request id maps to one of JIT_STORE_WAKE_SLOTS
 * slots (jit_store_wake_slot(), a hash of the id), and a commit that
 * changes a request advances its slot's version.  A server that holds many
 * waiting clients without a thread each registers a change hook instead of
 * blocking in jit_store_wait_change(): fn(ctx, slots, n) is called after
 * every commit that changed requests, with the n distinct slots it touched
 * (ascending), once the new version is visible to jit_store_version() and
 * jit_store_wait_change().  On PostgreSQL it is also called for the
 * commits other nodes announce, and with every slot when the listening
 * connection is back after a loss.  It runs on the store's writer thread
 * (or the PostgreSQL listener's) with the store's version lock held: it
 * must be quick, must not block and must not call the store.
 * jit_store_set_change_hook(s, NULL, NULL) clears it; a call in progress
 * has finished when it returns.  One hook per store.
 */
#define JIT_STORE_WAKE_SLOTS 4096
typedef void (*jit_store_change_fn)(void *ctx, const unsigned *slots,
    size_t n);
unsigned jit_store_wake_slot(const char *id);
void jit_store_set_change_hook(struct jit_store *s, jit_store_change_fn fn,
    void *ctx);

/* ---- statistics -------------------------------------------------------- */

struct jit_store_stats {
	uint64_t writes;        /* closures run (ok or failed) */
	uint64_t writes_failed; /* closures rolled back or lost to a commit
	                           error */
	uint64_t commits;       /* durable transactions (fsyncs) */
	uint64_t max_batch;     /* largest batch so far */
	uint64_t version;       /* jit_store_version() */
};
void jit_store_get_stats(struct jit_store *s, struct jit_store_stats *st);

/* ---- memory ------------------------------------------------------------ */

/*
 * Drop the pages of the store's memory map that this process has touched
 * from its resident set (madvise MADV_DONTNEED on the read-only shared
 * map).  Nothing is lost: the data stays in the page cache and the next
 * access maps it again (a minor fault).  A long scan (an audit export of
 * millions of entries) calls this now and then so the process's RSS does
 * not grow with the size of the store.  Safe while other threads read or
 * write; never fails; NULL is a no-op; nothing to do on PostgreSQL.
 */
void jit_store_release_pages(struct jit_store *s);

#endif
