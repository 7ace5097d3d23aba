/*
 * pg_env.c - the PostgreSQL backend's environment (pg_int.h): opening and
 * closing, the schema migration, the pool of read connections, the
 * writer's batch transaction, the listener thread, job locks, and the
 * backend's table of operations.
 */
#include "pg_int.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "util.h"

#define DEFAULT_CONNECTIONS 8
#define MAX_PASSWORD 1024

/*
 * The schema's versions, each the statements that bring the one before
 * to it (migrations[v - 1] makes version v).  Applied in one transaction
 * under an advisory lock, so nodes starting together migrate once.  A
 * later version appends its own entry (and a row in jit_schema_version)
 * and raises JIT_STORE_PG_SCHEMA; a database with a version this program
 * does not know is refused (STORE_CORRUPT).
 */
static const char migrate_v1[] =
    "CREATE TABLE jit_head ("
    " id integer PRIMARY KEY CHECK (id = 1),"
    " audit_seq bigint NOT NULL,"
    " audit_hash text NOT NULL,"
    " next_request_seq bigint NOT NULL);"
    "INSERT INTO jit_head VALUES (1, 0, '', 1);"
    "CREATE TABLE jit_requests ("
    " id text PRIMARY KEY,"
    " seq bigint NOT NULL UNIQUE,"
    " state text NOT NULL,"
    " usr text NOT NULL,"
    " deadline bigint NOT NULL,"
    " body text NOT NULL);"
    "CREATE INDEX jit_requests_state ON jit_requests (state, seq);"
    "CREATE INDEX jit_requests_usr ON jit_requests (usr, seq);"
    "CREATE INDEX jit_requests_due ON jit_requests (deadline, seq)"
    " WHERE deadline <> 0;"
    "CREATE TABLE jit_certs (serial bigint PRIMARY KEY, body text NOT NULL);"
    "CREATE SEQUENCE jit_serial;"
    "CREATE TABLE jit_tokens ("
    " hash bytea PRIMARY KEY,"
    " id text NOT NULL UNIQUE,"
    " body text NOT NULL);"
    "CREATE TABLE jit_values (key text PRIMARY KEY, body text NOT NULL);"
    "CREATE TABLE jit_audit (seq bigint PRIMARY KEY, entry text NOT NULL);"
    "INSERT INTO jit_schema_version VALUES (1);";

/* Version 2: the notification outbox, its counters in the head row. */
static const char migrate_v2[] =
    "ALTER TABLE jit_head"
    " ADD COLUMN next_outbox_seq bigint NOT NULL DEFAULT 1,"
    " ADD COLUMN outbox_delivered bigint NOT NULL DEFAULT 0;"
    "CREATE TABLE jit_outbox ("
    " seq bigint PRIMARY KEY,"
    " endpoint text COLLATE \"C\" NOT NULL,"
    " failed boolean NOT NULL,"
    " created_at bigint NOT NULL,"
    " body text NOT NULL);"
    "CREATE INDEX jit_outbox_order ON jit_outbox (failed, endpoint, seq);"
    "INSERT INTO jit_schema_version VALUES (2);";

/*
 * Version 3: what the lists of a user's or a role's requests in one state
 * and the KRL's walk of revoked grants by their end read (each request's
 * role and not_after in columns of their own, filled from the bodies by
 * jit_pg_fill_request_keys() in the same transaction, and their indexes),
 * the count of each state (a table the triggers keep as rows come, go
 * and change state) and the head's commit counter, which a trigger raises
 * with every update of the head row: batch_end updates it in every
 * commit, and so do the commits of nodes of version 2 that write anything
 * audited, so their changes are seen by caches keyed by the counter while
 * they run on until restarted (docs/DEPLOY.md, "Upgrades").
 */
static const char migrate_v3[] =
    "ALTER TABLE jit_head ADD COLUMN commit_id bigint NOT NULL DEFAULT 0;"
    "CREATE FUNCTION jit_count_commit() RETURNS trigger LANGUAGE plpgsql"
    " AS $$ BEGIN NEW.commit_id := OLD.commit_id + 1; RETURN NEW; END $$;"
    "CREATE TRIGGER jit_head_commit BEFORE UPDATE ON jit_head"
    " FOR EACH ROW EXECUTE FUNCTION jit_count_commit();"
    "ALTER TABLE jit_requests ADD COLUMN role text,"
    " ADD COLUMN not_after bigint NOT NULL DEFAULT 9223372036854775807;"
    "CREATE TABLE jit_state_counts ("
    " state text PRIMARY KEY,"
    " n bigint NOT NULL);"
    "INSERT INTO jit_state_counts SELECT state, count(*)"
    " FROM jit_requests GROUP BY state;"
    "CREATE FUNCTION jit_count_state() RETURNS trigger LANGUAGE plpgsql"
    " SET search_path FROM CURRENT AS $$ BEGIN"
    " IF TG_OP <> 'INSERT' THEN"
    "  UPDATE jit_state_counts SET n = n - 1 WHERE state = OLD.state;"
    " END IF;"
    " IF TG_OP <> 'DELETE' THEN"
    "  INSERT INTO jit_state_counts AS c VALUES (NEW.state, 1)"
    "  ON CONFLICT (state) DO UPDATE SET n = c.n + 1;"
    " END IF;"
    " RETURN NULL; END $$;"
    "CREATE TRIGGER jit_requests_count AFTER INSERT OR DELETE"
    " ON jit_requests FOR EACH ROW EXECUTE FUNCTION jit_count_state();"
    "CREATE TRIGGER jit_requests_recount AFTER UPDATE OF state"
    " ON jit_requests FOR EACH ROW"
    " WHEN (OLD.state IS DISTINCT FROM NEW.state)"
    " EXECUTE FUNCTION jit_count_state();"
    "CREATE INDEX jit_requests_usr_state ON jit_requests (usr, state, seq);"
    "CREATE INDEX jit_requests_role_state ON jit_requests"
    " (role, state, seq) WHERE role IS NOT NULL;"
    "CREATE INDEX jit_requests_state_end ON jit_requests"
    " (state, not_after DESC, seq DESC);"
    "INSERT INTO jit_schema_version VALUES (3);";

/*
 * Version 4: the per-state counts of new and deleted requests once per
 * statement (transition tables) instead of once per row, so the writer's
 * one INSERT of a batch's requests (pg_defer.c) updates each state's row
 * once; a change of state keeps its row trigger.  And room in the
 * request table's pages, so an update that changes no indexed column
 * (the fetch that stores a serial) is a HOT update, writing no index.
 */
static const char migrate_v4[] =
    "DROP TRIGGER jit_requests_count ON jit_requests;"
    "CREATE FUNCTION jit_count_new() RETURNS trigger LANGUAGE plpgsql"
    " SET search_path FROM CURRENT AS $$ BEGIN"
    " INSERT INTO jit_state_counts AS c"
    "  SELECT state, count(*) FROM jit_new GROUP BY state"
    "  ON CONFLICT (state) DO UPDATE SET n = c.n + EXCLUDED.n;"
    " RETURN NULL; END $$;"
    "CREATE FUNCTION jit_count_gone() RETURNS trigger LANGUAGE plpgsql"
    " SET search_path FROM CURRENT AS $$ BEGIN"
    " UPDATE jit_state_counts AS c SET n = c.n - o.k"
    "  FROM (SELECT state, count(*) AS k FROM jit_old GROUP BY state) o"
    "  WHERE c.state = o.state;"
    " RETURN NULL; END $$;"
    "CREATE TRIGGER jit_requests_count_new AFTER INSERT ON jit_requests"
    " REFERENCING NEW TABLE AS jit_new"
    " FOR EACH STATEMENT EXECUTE FUNCTION jit_count_new();"
    "CREATE TRIGGER jit_requests_count_gone AFTER DELETE ON jit_requests"
    " REFERENCING OLD TABLE AS jit_old"
    " FOR EACH STATEMENT EXECUTE FUNCTION jit_count_gone();"
    "ALTER TABLE jit_requests SET (fillfactor = 80);"
    "INSERT INTO jit_schema_version VALUES (4);";

static const char *const migrations[] = { migrate_v1, migrate_v2,
    migrate_v3, migrate_v4 };
#define NMIGRATIONS (sizeof(migrations) / sizeof(migrations[0]))

static uint32_t
fnv(const char *s, uint32_t h)
{
	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

/* ---- parameters ---------------------------------------------------------- */

static int
schema_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > PG_MAX_SCHEMA || (s[0] >= '0' && s[0] <= '9'))
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

static int
add_param(struct jit_pg *pg, const char *kw, const char *val)
{
	if (val == NULL)
		return 0;
	if (pg->nparams >= (int)(sizeof(pg->kw) / sizeof(pg->kw[0])) - 1)
		return JIT_ERR_INTERNAL;
	if ((pg->val[pg->nparams] = jit_strdup(val)) == NULL)
		return JIT_ERR_ALLOC;
	pg->kw[pg->nparams++] = kw;
	return 0;
}

/* The first line of password_file, in *out (wipe and free it). */
static int
read_password(const char *path, char **out, char *err, size_t errlen)
{
	unsigned char *data = NULL;
	size_t len = 0, n;
	int r;

	*out = NULL;
	if ((r = jit_read_file(path, MAX_PASSWORD, &data, &len)) != 0) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "password_file %s: %s", path,
			    jit_err(r));
		return r;
	}
	for (n = 0; n < len && data[n] != '\n' && data[n] != '\r' &&
	    data[n] != '\0'; n++)
		;
	if ((*out = malloc(n + 1)) == NULL)
		r = JIT_ERR_ALLOC;
	else {
		memcpy(*out, data, n);
		(*out)[n] = '\0';
	}
	jit_wipe(data, len);
	free(data);
	return r;
}

/*
 * The keywords for PQconnectdbParams.  Ours before "dbname" are defaults
 * the URL may override; those after it override the URL (libpq applies
 * an expanded dbname at its position).
 */
static int
set_params(struct jit_pg *pg, const char *url,
    const struct jit_store_options *opt)
{
	char *pw = NULL;
	int r;

	if (opt->password_file != NULL &&
	    (r = read_password(opt->password_file, &pw, opt->err,
	    opt->errlen)) != 0)
		return r;
	if ((r = add_param(pg, "application_name", "jit-ca")) != 0 ||
	    (r = add_param(pg, "connect_timeout", "5")) != 0 ||
	    (r = add_param(pg, "keepalives_idle", "30")) != 0 ||
	    (r = add_param(pg, "keepalives_interval", "10")) != 0 ||
	    (r = add_param(pg, "keepalives_count", "3")) != 0 ||
	    (r = add_param(pg, "dbname", url)) != 0 ||
	    (r = add_param(pg, "password", pw)) != 0 ||
	    (r = add_param(pg, "sslmode", opt->sslmode)) != 0 ||
	    (r = add_param(pg, "sslrootcert", opt->sslrootcert)) != 0 ||
	    (r = add_param(pg, "client_encoding", "UTF8")) != 0)
		goto out;
	pg->kw[pg->nparams] = NULL;
	pg->val[pg->nparams] = NULL;
out:
	if (pw != NULL) {
		jit_wipe(pw, strlen(pw));
		free(pw);
	}
	return r;
}

/* ---- the schema ---------------------------------------------------------- */

/* Create or bring up to date (write) or only check (read-only) the
 * schema, on connection c. */
static int
migrate(struct jit_pg *pg, struct jit_pg_conn *c, int readonly, char *err,
    size_t errlen)
{
	PGresult *res = NULL;
	uint64_t v = 0;
	char sql[256];
	int r;

	if ((r = jit_pg_exec(c, "SHOW server_encoding", &res)) != 0)
		goto fail;
	if (strcmp(PQgetvalue(res, 0, 0), "UTF8") != 0) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "the database's encoding is %s; "
			    "it must be UTF8 (createdb -E UTF8)",
			    PQgetvalue(res, 0, 0));
		PQclear(res);
		return JIT_ERR_STORE;
	}
	PQclear(res);
	res = NULL;
	if (readonly) {
		if ((r = jit_pg_exec(c, "SELECT to_regclass("
		    "'jit_schema_version') IS NOT NULL", &res)) != 0)
			goto fail;
		if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
			PQclear(res);
			return JIT_ERR_NOT_FOUND;
		}
		PQclear(res);
		res = NULL;
	} else {
		snprintf(sql, sizeof(sql), "BEGIN; "
		    "SELECT pg_advisory_xact_lock(%d, 0); "
		    "%s%s%s"
		    "CREATE TABLE IF NOT EXISTS jit_schema_version "
		    "(version integer NOT NULL)", pg->lock_class,
		    pg->schema != NULL ? "CREATE SCHEMA IF NOT EXISTS " : "",
		    pg->schema != NULL ? pg->schema : "",
		    pg->schema != NULL ? "; " : "");
		if ((r = jit_pg_exec(c, sql, NULL)) != 0)
			goto fail;
	}
	if ((r = jit_pg_exec(c, "SELECT coalesce(max(version), 0) "
	    "FROM jit_schema_version", &res)) != 0 ||
	    (r = jit_pg_get_u64(res, 0, 0, &v)) != 0)
		goto fail;
	PQclear(res);
	res = NULL;
	if (v > PG_SCHEMA_VERSION) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "the database has schema version "
			    "%llu, newer than this program's (%d)",
			    (unsigned long long)v, PG_SCHEMA_VERSION);
		r = JIT_ERR_STORE_CORRUPT;
		goto fail;
	}
	if (readonly && v != 0 && v < PG_SCHEMA_VERSION) {
		/* Its tables lack what this program reads. */
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "the database has schema version "
			    "%llu, older than this program's (%d): jit-ca "
			    "store migrate brings it up to date",
			    (unsigned long long)v, PG_SCHEMA_VERSION);
		return JIT_ERR_STORE;
	}
	if (readonly)
		return v == 0 ? JIT_ERR_NOT_FOUND : 0;
	for (; v < PG_SCHEMA_VERSION; v++)
		if ((r = jit_pg_exec(c, migrations[v], NULL)) != 0 ||
		    (v + 1 == 3 && (r = jit_pg_fill_request_keys(c)) != 0))
			goto fail;
	return jit_pg_exec(c, "COMMIT", NULL);
fail:
	if (err != NULL && errlen > 0 && err[0] == '\0')
		snprintf(err, errlen, "%s", PQerrorMessage(c->conn));
	PQclear(res);
	if (PQtransactionStatus(c->conn) != PQTRANS_IDLE)
		(void)jit_pg_exec(c, "ROLLBACK", NULL);
	return r;
}

/* ---- the pool of read connections ---------------------------------------- */

/*
 * A read connection: REPEATABLE READ by default, then pipeline mode.  A
 * read sends no BEGIN: its statements, up to the sync point read_end
 * queues, are one implicit transaction (the extended protocol's), so
 * they share one snapshot, taken at the first of them.
 */
static int
read_setup(struct jit_pg_conn *c)
{
	int r;

	if ((r = jit_pg_exec(c, "SET default_transaction_isolation TO "
	    "'repeatable read'", NULL)) != 0)
		return r;
	return jit_pg_pipeline(c);
}

/* A connection from the pool, or a new one (*fresh = 1) if none is idle
 * and fewer than the maximum are open. */
static int
pool_get(struct jit_pg *pg, struct jit_pg_conn **out, int *fresh)
{
	struct jit_pg_conn *c;
	int r;

	*out = NULL;
	*fresh = 0;
	pthread_mutex_lock(&pg->pmu);
	while (pg->idle == NULL && pg->open >= pg->max)
		pthread_cond_wait(&pg->pcv, &pg->pmu);
	if ((c = pg->idle) != NULL) {
		pg->idle = c->next;
		c->next = NULL;
		pthread_mutex_unlock(&pg->pmu);
		*out = c;
		return 0;
	}
	*fresh = 1;
	pg->open++;
	pthread_mutex_unlock(&pg->pmu);
	if ((r = jit_pg_connect(pg, &c, NULL, 0)) != 0 ||
	    (r = read_setup(c)) != 0) {
		jit_pg_disconnect(c);
		pthread_mutex_lock(&pg->pmu);
		pg->open--;
		pthread_cond_signal(&pg->pcv);
		pthread_mutex_unlock(&pg->pmu);
		return r;
	}
	*out = c;
	return 0;
}

/* Back to the pool, or closed if it is no longer usable. */
static void
pool_put(struct jit_pg *pg, struct jit_pg_conn *c)
{
	int keep = jit_pg_alive(c);

	if (!keep)
		jit_pg_disconnect(c);
	pthread_mutex_lock(&pg->pmu);
	if (keep) {
		c->next = pg->idle;
		pg->idle = c;
	} else {
		pg->open--;
	}
	pthread_cond_signal(&pg->pcv);
	pthread_mutex_unlock(&pg->pmu);
}

/*
 * A read snapshot: REPEATABLE READ, so every statement of the closure
 * sees the same committed state.  Not READ ONLY: reserving a serial
 * (nextval) is allowed in it; the store refuses writes through a read
 * transaction itself (PERMISSION).  No BEGIN or COMMIT: the statements
 * up to the sync point that read_end queues are one implicit transaction
 * (read_setup), and that sync goes with the next user's first statement
 * (pg_conn.c, pipeline mode), so a read costs the round trips of its
 * statements and the server runs only those.  The answers the last user
 * left are read first: a pooled connection that died while idle (the
 * server restarted) is noticed there and dropped, until one works or a
 * new one fails too.
 */
static int
pg_read_begin(struct jit_store *s, struct jit_store_txn *t)
{
	struct jit_pg_conn *c = NULL;
	int r = JIT_ERR_INTERNAL, fresh;

	for (;;) {
		if ((r = pool_get(s->pg, &c, &fresh)) != 0)
			return r;
		(void)jit_pg_settle(c);
		c->failed = 0;
		if (jit_pg_check(c)) {
			t->pc = c;
			return 0;
		}
		r = JIT_ERR_STORE;
		pool_put(s->pg, c);
		if (fresh)
			return r != 0 ? r : JIT_ERR_STORE;
	}
}

static void
pg_read_end(struct jit_store_txn *t)
{
	/* The sync point ends the implicit transaction, a failed one
	 * too. */
	(void)jit_pg_queue(t->pc, NULL, JIT_PG_SYNC);
	pool_put(t->s->pg, t->pc);
	t->pc = NULL;
}

/* ---- the writer's batch -------------------------------------------------- */

/*
 * A batch: BEGIN, then the head row FOR UPDATE.  While this transaction
 * holds that row no other node's batch can start, so the batches of all
 * nodes commit one after the other, and each statement (READ COMMITTED)
 * sees what the batches before committed.  The head row is then cached
 * here and written back once, at the end of the batch.
 */
static int
batch_lock(struct jit_pg *pg)
{
	PGresult *res = NULL;
	int r;

	pg->wc->failed = 0;
	if ((r = jit_pg_queue(pg->wc, "BEGIN", JIT_PG_REPORT)) != 0 ||
	    (r = jit_pg_run(pg->wc, ST_HEAD_LOCK, 0, NULL, NULL, &res)) != 0)
		return r;
	r = jit_pg_head_read(res, &pg->head);
	PQclear(res);
	/* A commit since this node's last one (another node's, or one of
	 * unknown outcome): what the writer's cache holds may be stale. */
	if (r != 0 || pg->cache_commit == 0 ||
	    pg->head.commit_id != pg->cache_commit)
		jit_pg_cache_clear(pg);
	return r;
}

int
jit_pg_head_read(const PGresult *res, struct jit_pg_head *h)
{
	const char *hh;
	int r;

	memset(h, 0, sizeof(*h));
	if (PQntuples(res) != 1 || PQnfields(res) != 6)
		return JIT_ERR_STORE_CORRUPT;
	if ((r = jit_pg_get_u64(res, 0, 0, &h->audit_seq)) != 0 ||
	    (r = jit_pg_get_u64(res, 0, 2, &h->next_request_seq)) != 0 ||
	    (r = jit_pg_get_u64(res, 0, 3, &h->next_outbox_seq)) != 0 ||
	    (r = jit_pg_get_u64(res, 0, 4, &h->outbox_delivered)) != 0 ||
	    (r = jit_pg_get_u64(res, 0, 5, &h->commit_id)) != 0)
		return r;
	hh = PQgetvalue(res, 0, 1);
	if (strlen(hh) != 64 && !(hh[0] == '\0' && h->audit_seq == 0))
		return JIT_ERR_STORE_CORRUPT;
	memcpy(h->audit_hash, hh, strlen(hh) + 1);
	return 0;
}

static void
writer_disconnect(struct jit_pg *pg)
{
	jit_pg_disconnect(pg->wc);
	pg->wc = NULL;
	atomic_store(&pg->writer_pid, 0);
}

static int
writer_connect(struct jit_pg *pg)
{
	int r;

	if (pg->wc != NULL && jit_pg_check(pg->wc))
		return 0;
	writer_disconnect(pg);
	jit_pg_cache_clear(pg);
	if ((r = jit_pg_connect(pg, &pg->wc, NULL, 0)) != 0)
		return r;
	if ((r = jit_pg_pipeline(pg->wc)) != 0) {
		writer_disconnect(pg);
		return r;
	}
	pg->wc->owner = pg;
	atomic_store(&pg->writer_pid, pg->wc->backend_pid);
	return 0;
}

static int
pg_batch_begin(struct jit_store *s)
{
	struct jit_pg *pg = s->pg;
	int r = JIT_ERR_INTERNAL;

	pg->head_dirty = 0;
	pg->release_pending = 0;
	pg->sp_wanted = pg->sp_made = 0;
	jit_pg_defer_clear(pg);
	/* A connection that died since the last batch is seen at BEGIN;
	 * nothing was done yet, so one new connection is tried. */
	for (int tries = 0; tries < 2; tries++) {
		if ((r = writer_connect(pg)) != 0)
			return r;
		if ((r = batch_lock(pg)) == 0)
			return 0;
		if (jit_pg_alive(pg->wc)) {
			(void)jit_pg_queue(pg->wc, "ROLLBACK", JIT_PG_SYNC);
			(void)jit_pg_settle(pg->wc);
			return r;
		}
	}
	return r;
}

/*
 * A closure that sends a statement runs after a savepoint, made before
 * that statement (pg_conn.c calls jit_pg_savepoint).  The RELEASE of the
 * last closure that had one and this SAVEPOINT are queued and go with the
 * statement; whether a closure left the transaction usable is known
 * without asking the server (c->failed: a statement of it failed).  A
 * closure that sends nothing (its writes deferred, pg_defer.c, its reads
 * from the cache) needs no savepoint and no round trip: when it fails,
 * its deferred rows, the head and the cache are undone here.
 */
int
jit_pg_savepoint(struct jit_pg *pg)
{
	int r = 0;

	pg->sp_wanted = 0;
	if (pg->release_pending)
		r = jit_pg_queue(pg->wc, "RELEASE SAVEPOINT c", JIT_PG_REPORT);
	pg->release_pending = 0;
	if (r == 0 && (r = jit_pg_queue(pg->wc, "SAVEPOINT c",
	    JIT_PG_REPORT)) == 0)
		pg->sp_made = 1;
	return r;
}

static int
pg_closure_begin(struct jit_store *s, struct jit_store_txn *t)
{
	struct jit_pg *pg = s->pg;

	/* The savepoint waits for the closure's first statement. */
	pg->sp_wanted = 1;
	pg->sp_made = 0;
	pg->head_saved = pg->head;
	pg->head_dirty_saved = pg->head_dirty;
	jit_pg_defer_mark(pg);
	t->pc = pg->wc;
	return 0;
}

static int
pg_closure_end(struct jit_store_txn *t, int r)
{
	struct jit_pg *pg = PG(t);

	pg->sp_wanted = 0;
	if (!pg->sp_made) {
		/* It sent nothing: what it did is here, in the deferred
		 * rows, the head and the cache. */
		if (r == 0)
			return 0;
		pg->head = pg->head_saved;
		pg->head_dirty = pg->head_dirty_saved;
		jit_pg_defer_undo(pg);
		jit_pg_cache_clear(pg);
		return r;
	}
	pg->sp_made = 0;

	/* The closure's writes that were sent without waiting: their
	 * answers decide whether it is kept. */
	if (r == 0)
		r = jit_pg_settle(pg->wc);
	if (r == 0 && !jit_pg_alive(pg->wc))
		r = JIT_ERR_STORE;
	/* A statement failed but the closure went on: its work is not
	 * all there, so it is undone like a failed closure. */
	if (r == 0 && pg->wc->failed)
		r = JIT_ERR_STORE;
	if (r == 0) {
		pg->release_pending = 1;
		return 0;
	}
	pg->head = pg->head_saved;
	pg->head_dirty = pg->head_dirty_saved;
	/* Its deferred rows go, and those of earlier closures that it
	 * sent are sent again. */
	jit_pg_defer_undo(pg);
	/* What the closure put in the cache is undone in the database. */
	jit_pg_cache_clear(pg);
	/* Its unanswered writes first, so a failure among them is not
	 * taken for the next closure's. */
	(void)jit_pg_settle(pg->wc);
	if (jit_pg_alive(pg->wc) && jit_pg_queue(pg->wc, "ROLLBACK TO "
	    "SAVEPOINT c", JIT_PG_REPORT) == 0 &&
	    jit_pg_queue(pg->wc, "RELEASE SAVEPOINT c", JIT_PG_REPORT) == 0)
		pg->wc->failed = 0;
	return r;
}

/*
 * What a commit announces to the other nodes (NOTIFY's payload, at most
 * NOTE_MAX bytes): the wake-up slots of the changed requests as three
 * hex digits each, ascending; "*" for every slot when more changed than
 * fit; "" when only the outbox changed (a change, but no request's).
 */
#define NOTE_DIGITS 3                  /* NSLOTS <= 16^3 */
#define NOTE_MAX 2048                  /* well below NOTIFY's 8000 */

static void
make_note(const unsigned char slots[NSLOTS / 8], char note[NOTE_MAX + 1])
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;

	for (unsigned i = 0; i < NSLOTS; i++) {
		if (!(slots[i / 8] & (1u << (i % 8))))
			continue;
		if (n + NOTE_DIGITS > NOTE_MAX) {
			strcpy(note, "*");
			return;
		}
		for (int d = NOTE_DIGITS - 1; d >= 0; d--)
			note[n++] = hex[(i >> (4 * d)) & 15];
	}
	note[n] = '\0';
}

/*
 * Commit: the head row (its commit counter always, which its trigger
 * raises by one, the rest if it changed), the announcement of the
 * changes to the other nodes (NOTIFY is delivered only if the
 * transaction commits), COMMIT, in one round trip.  Every value in the
 * text is made here (digits, hex), none comes from a caller.
 */
static int
pg_batch_end(struct jit_store *s, int commit,
    const unsigned char slots[NSLOTS / 8], int other)
{
	struct jit_pg *pg = s->pg;
	char sql[NOTE_MAX + 256], note[NOTE_MAX + 1];
	int r = 0;

	if (!commit) {
		jit_pg_defer_clear(pg);
		jit_pg_cache_clear(pg);
		if (jit_pg_queue(pg->wc, "ROLLBACK", JIT_PG_SYNC) == 0)
			(void)jit_pg_settle(pg->wc);
		return 0;
	}
	make_note(slots, note);
	/* The last closure's savepoint first: the head row, locked by the
	 * batch's own transaction, is then updated by it and not by a
	 * subtransaction, which would make its lock a MultiXact (one per
	 * commit, looked up by the next batch's FOR UPDATE). */
	if (pg->release_pending)
		r = jit_pg_queue(pg->wc, "RELEASE SAVEPOINT c", JIT_PG_REPORT);
	pg->release_pending = 0;
	/* The batch's deferred rows, one statement per table. */
	if (r == 0)
		r = jit_pg_defer_flush(pg, ~0u);
	jit_pg_defer_clear(pg);
	if (pg->head_dirty)
		snprintf(sql, sizeof(sql), "UPDATE jit_head SET audit_seq = "
		    "%llu, audit_hash = '%s', next_request_seq = %llu, "
		    "next_outbox_seq = %llu, outbox_delivered = %llu, "
		    "commit_id = commit_id + 1 WHERE id = 1",
		    (unsigned long long)pg->head.audit_seq,
		    pg->head.audit_hash,
		    (unsigned long long)pg->head.next_request_seq,
		    (unsigned long long)pg->head.next_outbox_seq,
		    (unsigned long long)pg->head.outbox_delivered);
	else
		snprintf(sql, sizeof(sql), "UPDATE jit_head SET commit_id = "
		    "commit_id + 1 WHERE id = 1");
	if (r == 0)
		r = jit_pg_queue(pg->wc, sql, JIT_PG_REPORT);
	if (r == 0 && (note[0] != '\0' || other)) {
		snprintf(sql, sizeof(sql), "SELECT pg_notify('%s', '%s')",
		    pg->channel, note);
		r = jit_pg_queue(pg->wc, sql, JIT_PG_REPORT);
	}
	if (r == 0)
		r = jit_pg_queue(pg->wc, "COMMIT", JIT_PG_REPORT |
		    JIT_PG_COMMIT | JIT_PG_SYNC);
	if (r == 0)
		r = jit_pg_settle(pg->wc);
	/* The head's trigger made the counter one more than the batch
	 * found it; unless another node commits, the cache stays right. */
	if (r == 0)
		pg->cache_commit = pg->head.commit_id + 1;
	else
		jit_pg_cache_clear(pg);
	if (r != 0 && jit_pg_alive(pg->wc) &&
	    jit_pg_queue(pg->wc, "ROLLBACK", JIT_PG_SYNC) == 0)
		(void)jit_pg_settle(pg->wc);
	/* A deferred row that was there: a cert's serial (the sequence
	 * behind the stored serials) or, far less likely, a request's id. */
	if (r == JIT_ERR_STORE_RETRY)
		jit_pg_serials_collided(s);
	return r;
}

struct jit_pg_head *
jit_pg_head_of(struct jit_store_txn *t)
{
	return t->write ? &PG(t)->head : NULL;
}

void
jit_pg_head_changed(struct jit_store_txn *t)
{
	PG(t)->head_dirty = 1;
}

/* ---- the listener -------------------------------------------------------- */

/* Wait up to ms for c's socket (c may be NULL) or the stop pipe; 1 if
 * the store is closing. */
static int
listen_wait(struct jit_pg *pg, struct jit_pg_conn *c, int ms)
{
	struct pollfd p[2];
	int n = 1;

	p[0].fd = pg->stop_pipe[0];
	p[0].events = POLLIN;
	if (c != NULL) {
		p[1].fd = PQsocket(c->conn);
		p[1].events = POLLIN;
		n = 2;
	}
	if (poll(p, (nfds_t)n, ms) < 0 && errno != EINTR)
		return 0;
	return (p[0].revents & (POLLIN | POLLHUP)) != 0;
}

static int
hex_digit(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ?
	    c - 'a' + 10 : -1;
}

/* The slots a notification's payload names (make_note); -1 if it is
 * not one of ours. */
static int
parse_note(const char *p, unsigned char slots[NSLOTS / 8])
{
	size_t n = strlen(p);

	if (strcmp(p, "*") == 0) {
		memset(slots, 0xff, NSLOTS / 8);
		return 0;
	}
	memset(slots, 0, NSLOTS / 8);
	if (n % NOTE_DIGITS != 0)
		return -1;
	for (size_t i = 0; i < n; i += NOTE_DIGITS) {
		unsigned v = 0;

		for (int d = 0; d < NOTE_DIGITS; d++) {
			int x = hex_digit(p[i + (size_t)d]);

			if (x < 0)
				return -1;
			v = v << 4 | (unsigned)x;
		}
		if (v >= NSLOTS)
			return -1;
		slots[v / 8] |= (unsigned char)(1u << (v % 8));
	}
	return 0;
}

/*
 * The commits of other nodes, announced by their batch_end, wake this
 * store's waiters.  Whenever the listening connection is (re)made every
 * waiter is woken once, since announcements may have been missed.
 */
static void *
listener_main(void *arg)
{
	struct jit_store *s = arg;
	struct jit_pg *pg = s->pg;
	struct jit_pg_conn *c = NULL;
	unsigned char slots[NSLOTS / 8];
	PGnotify *note;
	char sql[96];

	for (;;) {
		if (c == NULL) {
			snprintf(sql, sizeof(sql), "LISTEN %s", pg->channel);
			if (jit_pg_connect(pg, &c, NULL, 0) != 0 ||
			    jit_pg_exec(c, sql, NULL) != 0) {
				jit_pg_disconnect(c);
				c = NULL;
				if (listen_wait(pg, NULL, 1000))
					break;
				continue;
			}
			jit_store__bump(s, NULL);
		}
		if (listen_wait(pg, c, -1))
			break;
		if (!PQconsumeInput(c->conn) || !jit_pg_alive(c)) {
			jit_pg_disconnect(c);
			c = NULL;
			continue;
		}
		while ((note = PQnotifies(c->conn)) != NULL) {
			if (note->be_pid != atomic_load(&pg->writer_pid) &&
			    parse_note(note->extra, slots) == 0)
				jit_store__bump(s, slots);
			PQfreemem(note);
		}
	}
	jit_pg_disconnect(c);
	return NULL;
}

/* ---- job locks ----------------------------------------------------------- */

/*
 * A session advisory lock per job on a connection of its own: held as
 * long as that connection lives, released by the server when it dies.
 * A held lock is checked with a round trip on every call, so a node
 * that lost its connection (and with it the lock) stops at once.
 */
static int
pg_job_lock(struct jit_store *s, const char *job)
{
	struct jit_pg *pg = s->pg;
	const char *params[2];
	char cls[16], id[16];
	PGresult *res = NULL;
	int r = JIT_ERR_INTERNAL, held = -1;

	pthread_mutex_lock(&pg->jmu);
	for (int i = 0; i < pg->njobs; i++)
		if (strcmp(pg->jobs[i], job) == 0)
			held = i;
	if (pg->jc != NULL && held >= 0 &&
	    jit_pg_exec(pg->jc, "SELECT 1", NULL) == 0) {
		r = 1;
		goto out;
	}
	if (pg->jc == NULL || !jit_pg_alive(pg->jc)) {
		/* The locks died with the old connection. */
		jit_pg_disconnect(pg->jc);
		pg->jc = NULL;
		for (int i = 0; i < pg->njobs; i++)
			free(pg->jobs[i]);
		pg->njobs = 0;
		if ((r = jit_pg_connect(pg, &pg->jc, NULL, 0)) != 0)
			goto out;
	}
	if (pg->njobs == PG_MAX_JOBS) {
		r = JIT_ERR_INVALID_ARGUMENT;
		goto out;
	}
	snprintf(cls, sizeof(cls), "%d", pg->lock_class);
	snprintf(id, sizeof(id), "%d", (int)(fnv(job, 2166136261u) |
	    1u) & 0x7fffffff);
	params[0] = cls;
	params[1] = id;
	res = PQexecParams(pg->jc->conn, "SELECT pg_try_advisory_lock("
	    "$1::int, $2::int)", 2, NULL, params, NULL, NULL, 0);
	if ((r = jit_pg_map_result(pg->jc, res)) != 0)
		goto out;
	r = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	if (r == 1 && (pg->jobs[pg->njobs] = jit_strdup(job)) != NULL)
		pg->njobs++;
out:
	PQclear(res);
	pthread_mutex_unlock(&pg->jmu);
	return r;
}

/*
 * The head row's commit counter as it is now, read from the database (one
 * round trip on a read connection), so that a commit any node made before
 * this call is counted: a cache keyed by it (api/http/cache.h) never
 * serves what another node's commit made stale.  Plus one, so that 0
 * stays free for "cannot tell" (the database is unreachable).
 */
static uint64_t
pg_commit_id(struct jit_store *s)
{
	struct jit_store_txn t = { 0 };
	uint64_t v = 0;
	int r;

	t.s = s;
	if (pg_read_begin(s, &t) != 0)
		return 0;
	r = jit_pg_run_u64(t.pc, ST_HEAD_COMMIT, 0, NULL, &v);
	pg_read_end(&t);
	return r == 0 && v < UINT64_MAX ? v + 1 : 0;
}

static void
pg_release_pages(struct jit_store *s)
{
	(void)s;
}

/* ---- opening and closing ------------------------------------------------- */

static void
pg_close(struct jit_store *s)
{
	struct jit_pg *pg = s->pg;
	struct jit_pg_conn *c;

	if (pg == NULL)
		return;
	if (pg->listener_started) {
		if (write(pg->stop_pipe[1], "x", 1) < 0) {
			/* The pipe is ours and empty: cannot fail. */
		}
		pthread_join(pg->listener, NULL);
	}
	if (pg->stop_pipe[0] >= 0)
		close(pg->stop_pipe[0]);
	if (pg->stop_pipe[1] >= 0)
		close(pg->stop_pipe[1]);
	writer_disconnect(pg);
	jit_pg_cache_free(pg);
	jit_pg_defer_free(pg);
	jit_pg_disconnect(pg->jc);
	for (int i = 0; i < pg->njobs; i++)
		free(pg->jobs[i]);
	while ((c = pg->idle) != NULL) {
		pg->idle = c->next;
		jit_pg_disconnect(c);
	}
	for (int i = 0; i < pg->nparams; i++) {
		if (pg->val[i] != NULL)
			jit_wipe(pg->val[i], strlen(pg->val[i]));
		free(pg->val[i]);
	}
	free(pg->schema);
	pthread_mutex_destroy(&pg->pmu);
	pthread_cond_destroy(&pg->pcv);
	pthread_mutex_destroy(&pg->jmu);
	free(pg);
	s->pg = NULL;
}

static const struct jit_store_ops pg_ops;

int
jit_pg_open(struct jit_store *s, const char *url,
    const struct jit_store_options *opt)
{
	struct jit_pg *pg;
	struct jit_pg_conn *c = NULL;
	int r = JIT_ERR_INTERNAL;

	if (opt->schema != NULL && !schema_ok(opt->schema))
		return JIT_ERR_INVALID_ARGUMENT;
	if ((pg = calloc(1, sizeof(*pg))) == NULL)
		return JIT_ERR_ALLOC;
	pthread_mutex_init(&pg->pmu, NULL);
	pthread_cond_init(&pg->pcv, NULL);
	pthread_mutex_init(&pg->jmu, NULL);
	pg->stop_pipe[0] = pg->stop_pipe[1] = -1;
	pg->max = opt->connections ? opt->connections : DEFAULT_CONNECTIONS;
	s->pg = pg;
	s->ops = &pg_ops;
	if ((r = jit_pg_cache_new(pg)) != 0)
		goto fail;
	if (opt->schema != NULL &&
	    (pg->schema = jit_strdup(opt->schema)) == NULL) {
		r = JIT_ERR_ALLOC;
		goto fail;
	}
	snprintf(pg->channel, sizeof(pg->channel), "jit_store%s%s",
	    pg->schema != NULL ? "_" : "",
	    pg->schema != NULL ? pg->schema : "");
	pg->lock_class = (int)(fnv(pg->channel, 2166136261u) & 0x7fffffff);
	if ((r = set_params(pg, url, opt)) != 0)
		goto fail;
	/* The first connection checks the schema, then serves reads. */
	if ((r = jit_pg_connect(pg, &c, opt->err, opt->errlen)) != 0)
		goto fail;
	pg->open = 1;
	r = migrate(pg, c, (s->flags & JIT_STORE_READONLY) != 0, opt->err,
	    opt->errlen);
	if (r == 0)
		r = read_setup(c);
	pool_put(pg, c);
	if (r != 0)
		goto fail;
	if (s->flags & JIT_STORE_SERVER) {
		if (pipe2(pg->stop_pipe, O_CLOEXEC) != 0) {
			r = jit_err_from_errno(errno);
			goto fail;
		}
		if (pthread_create(&pg->listener, NULL, listener_main, s)
		    != 0) {
			r = JIT_ERR_SYSTEM;
			goto fail;
		}
		pg->listener_started = 1;
	}
	return 0;
fail:
	pg_close(s);
	return r;
}

static const struct jit_store_ops pg_ops = {
	.name = "postgresql",
	.close = pg_close,
	.batch_begin = pg_batch_begin,
	.closure_begin = pg_closure_begin,
	.closure_end = pg_closure_end,
	.batch_end = pg_batch_end,
	.read_begin = pg_read_begin,
	.read_end = pg_read_end,
	.job_lock = pg_job_lock,
	.release_pages = pg_release_pages,
	.create_request = jit_pg_create_request,
	.put_request = jit_pg_put_request,
	.get_request = jit_pg_get_request,
	.request_unchanged = jit_pg_request_unchanged,
	.list_requests = jit_pg_list_requests,
	.list_due = jit_pg_list_due,
	.count_by_state = jit_pg_count_by_state,
	.list_pair = jit_pg_list_pair,
	.list_by_state_end = jit_pg_list_by_state_end,
	.count_by_user_state = jit_pg_count_by_user_state,
	.commit_id = pg_commit_id,
	.next_serial = jit_pg_next_serial,
	.reserve_serial = jit_pg_reserve_serial,
	.claim_serial = jit_pg_claim_serial,
	.put_cert = jit_pg_put_cert,
	.get_cert = jit_pg_get_cert,
	.list_certs = jit_pg_list_certs,
	.put_token = jit_pg_put_token,
	.get_token = jit_pg_get_token,
	.get_token_by_id = jit_pg_get_token_by_id,
	.delete_token = jit_pg_delete_token,
	.list_tokens = jit_pg_list_tokens,
	.put_value = jit_pg_put_value,
	.get_value = jit_pg_get_value,
	.audit_last = jit_pg_audit_last,
	.audit_put = jit_pg_audit_put,
	.audit_head = jit_pg_audit_head,
	.audit_iter = jit_pg_audit_iter,
	.audit_get = jit_pg_audit_get,
	.raw_requests = jit_pg_raw_requests,
	.raw_certs = jit_pg_raw_certs,
	.raw_values = jit_pg_raw_values,
	.put_raw_request = jit_pg_put_raw_request,
	.outbox_add = jit_pg_outbox_add,
	.outbox_first = jit_pg_outbox_first,
	.outbox_put = jit_pg_outbox_put,
	.outbox_done = jit_pg_outbox_done,
	.outbox_list = jit_pg_outbox_list,
	.outbox_stats = jit_pg_outbox_stats,
	.put_raw_outbox = jit_pg_put_raw_outbox,
	.get_counters = jit_pg_get_counters,
	.raise_counters = jit_pg_raise_counters,
};
