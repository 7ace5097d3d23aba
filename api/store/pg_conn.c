/*
 * pg_conn.c - the PostgreSQL backend's connections (pg_int.h): opening
 * one, the statements and running them, libpq results as JIT_ERR_* codes.
 */
#include "pg_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

/*
 * Every statement the backend runs with parameters.  Each is prepared
 * once per connection (on first use), so the server parses and plans it
 * once, but for those of plan_each_time (below).  Keyset pagination
 * ("seq > $2 ... LIMIT $3") walks a table in chunks of PG_CHUNK rows:
 * memory stays bounded and callbacks may run other statements on the
 * same connection between chunks.
 */
/* The highest serial the sequence handed out (0 for none), as a
 * scalar subquery. */
#define SERIAL_TOP "(SELECT CASE WHEN is_called THEN last_value " \
	"ELSE last_value - 1 END FROM jit_serial)"

static const char *const stmt_sql[ST_COUNT] = {
	[ST_REQ_INSERT] = "INSERT INTO jit_requests (id, seq, state, usr, "
	    "deadline, body, role, not_after) VALUES ($1, $2, $3, $4, $5, $6, "
	    "$7, $8) ON CONFLICT DO NOTHING",
	[ST_REQ_UPDATE] = "UPDATE jit_requests SET state = $2, usr = $3, "
	    "deadline = $4, body = $5, role = $6, not_after = $7 "
	    "WHERE id = $1",
	[ST_REQ_GET] = "SELECT seq, deadline, state, usr, body "
	    "FROM jit_requests WHERE id = $1",
	[ST_REQ_STATE_ASC] = "SELECT seq, body FROM jit_requests "
	    "WHERE state = $1 AND seq > $2 ORDER BY seq LIMIT $3",
	[ST_REQ_STATE_DESC] = "SELECT seq, body FROM jit_requests "
	    "WHERE state = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3",
	[ST_REQ_USER_ASC] = "SELECT seq, body FROM jit_requests "
	    "WHERE usr = $1 AND seq > $2 ORDER BY seq LIMIT $3",
	[ST_REQ_USER_DESC] = "SELECT seq, body FROM jit_requests "
	    "WHERE usr = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3",
	[ST_REQ_ALL_ASC] = "SELECT seq, body FROM jit_requests "
	    "WHERE $1::text IS NULL AND seq > $2 ORDER BY seq LIMIT $3",
	[ST_REQ_ALL_DESC] = "SELECT seq, body FROM jit_requests "
	    "WHERE $1::text IS NULL AND seq < $2 ORDER BY seq DESC LIMIT $3",
	[ST_REQ_DUE] = "SELECT deadline, seq, body FROM jit_requests "
	    "WHERE deadline <> 0 AND deadline <= $1 AND (deadline, seq) > "
	    "($2, $3) ORDER BY deadline, seq LIMIT $4",
	[ST_REQ_COUNT] = "SELECT coalesce((SELECT n FROM jit_state_counts "
	    "WHERE state = $1), 0)",
	[ST_REQ_RAW] = "SELECT id, seq, deadline, state, usr, body "
	    "FROM jit_requests WHERE seq > $1 ORDER BY seq LIMIT $2",
	[ST_REQ_USTATE_ASC] = "SELECT seq, body FROM jit_requests "
	    "WHERE usr = $1 AND state = $2 AND seq > $3 ORDER BY seq LIMIT $4",
	[ST_REQ_USTATE_DESC] = "SELECT seq, body FROM jit_requests "
	    "WHERE usr = $1 AND state = $2 AND seq < $3 "
	    "ORDER BY seq DESC LIMIT $4",
	[ST_REQ_RSTATE_ASC] = "SELECT seq, body FROM jit_requests "
	    "WHERE role = $1 AND state = $2 AND seq > $3 ORDER BY seq LIMIT $4",
	[ST_REQ_RSTATE_DESC] = "SELECT seq, body FROM jit_requests "
	    "WHERE role = $1 AND state = $2 AND seq < $3 "
	    "ORDER BY seq DESC LIMIT $4",
	[ST_REQ_END] = "SELECT not_after, seq, body FROM jit_requests "
	    "WHERE state = $1 AND (not_after, seq) < ($2, $3) "
	    "ORDER BY not_after DESC, seq DESC LIMIT $4",
	[ST_REQ_COUNT_USTATE] = "SELECT count(*) FROM (SELECT 1 "
	    "FROM jit_requests WHERE usr = $1 AND state = $2 LIMIT $3) c",
	[ST_REQ_SET_KEYS] = "UPDATE jit_requests q SET role = v.r, "
	    "not_after = v.n FROM json_to_recordset($1::json) "
	    "AS v(i text, r text, n bigint) WHERE q.id = v.i",
	[ST_SERIAL_BLOCK] = "SELECT nextval('jit_serial') "
	    "FROM generate_series(1, 32) ORDER BY 1",
	/* The highest serial handed out (0 for none). */
	[ST_SERIAL_STATE] = "SELECT " SERIAL_TOP,
	[ST_SERIAL_SET] = "SELECT setval('jit_serial', $1::bigint) "
	    "WHERE $1::bigint > " SERIAL_TOP,
	/* Past every stored serial (setval is not undone by a rollback). */
	[ST_SERIAL_PAST_CERTS] = "SELECT setval('jit_serial', m) FROM "
	    "(SELECT max(serial) AS m FROM jit_certs) c WHERE m > " SERIAL_TOP,
	[ST_CERT_PUT] = "INSERT INTO jit_certs (serial, body) VALUES ($1, $2) "
	    "ON CONFLICT DO NOTHING",
	[ST_CERT_GET] = "SELECT body FROM jit_certs WHERE serial = $1",
	[ST_CERT_LIST] = "SELECT serial, body FROM jit_certs WHERE serial > $1 "
	    "ORDER BY serial LIMIT $2",
	[ST_TOK_HASH_OF] = "SELECT encode(hash, 'hex') FROM jit_tokens "
	    "WHERE id = $1",
	[ST_TOK_PUT] = "INSERT INTO jit_tokens (hash, id, body) "
	    "VALUES (decode($1, 'hex'), $2, $3) ON CONFLICT (hash) "
	    "DO UPDATE SET id = EXCLUDED.id, body = EXCLUDED.body",
	[ST_TOK_GET] = "SELECT body FROM jit_tokens "
	    "WHERE hash = decode($1, 'hex')",
	[ST_TOK_GET_ID] = "SELECT encode(hash, 'hex'), body FROM jit_tokens "
	    "WHERE id = $1",
	[ST_TOK_DEL] = "DELETE FROM jit_tokens WHERE id = $1",
	[ST_TOK_LIST] = "SELECT encode(hash, 'hex'), body FROM jit_tokens "
	    "WHERE hash > decode($1, 'hex') ORDER BY hash LIMIT $2",
	[ST_VAL_PUT] = "INSERT INTO jit_values (key, body) VALUES ($1, $2) "
	    "ON CONFLICT (key) DO UPDATE SET body = EXCLUDED.body",
	[ST_VAL_GET] = "SELECT body FROM jit_values WHERE key = $1",
	[ST_VAL_LIST] = "SELECT key, body FROM jit_values "
	    "WHERE key COLLATE \"C\" > $1 ORDER BY key COLLATE \"C\" LIMIT $2",
	[ST_AUD_PUT] = "INSERT INTO jit_audit (seq, entry) VALUES ($1, $2) "
	    "ON CONFLICT DO NOTHING",
	[ST_AUD_GET] = "SELECT entry FROM jit_audit WHERE seq = $1",
	[ST_AUD_LAST] = "SELECT seq, entry FROM jit_audit "
	    "ORDER BY seq DESC LIMIT 1",
	[ST_AUD_ITER] = "SELECT seq, entry FROM jit_audit WHERE seq >= $1 "
	    "ORDER BY seq LIMIT $2",
	[ST_HEAD_GET] = "SELECT audit_seq, audit_hash, next_request_seq, "
	    "next_outbox_seq, outbox_delivered, commit_id FROM jit_head "
	    "WHERE id = 1",
	[ST_HEAD_LOCK] = "SELECT audit_seq, audit_hash, next_request_seq, "
	    "next_outbox_seq, outbox_delivered, commit_id FROM jit_head "
	    "WHERE id = 1 FOR UPDATE",
	[ST_HEAD_COMMIT] = "SELECT commit_id FROM jit_head WHERE id = 1",
	[ST_OB_INSERT] = "INSERT INTO jit_outbox (seq, endpoint, failed, "
	    "created_at, body) VALUES ($1, $2, $3, $4, $5) "
	    "ON CONFLICT DO NOTHING",
	[ST_OB_FIRST] = "SELECT seq, body FROM jit_outbox "
	    "WHERE failed = false AND endpoint = $1 ORDER BY seq LIMIT 1",
	[ST_OB_UPDATE] = "UPDATE jit_outbox SET failed = $3, created_at = $4, "
	    "body = $5 WHERE seq = $1 AND endpoint = $2",
	[ST_OB_DELETE] = "DELETE FROM jit_outbox "
	    "WHERE seq = $1 AND endpoint = $2",
	/* Queued (failed = false) first, then by endpoint and seq. */
	[ST_OB_LIST] = "SELECT failed, endpoint, seq, body FROM jit_outbox "
	    "WHERE (failed, endpoint, seq) > ($1::boolean, $2::text, "
	    "$3::bigint) ORDER BY failed, endpoint, seq LIMIT $4",
	[ST_OB_STATS] = "SELECT count(*) FILTER (WHERE NOT failed), "
	    "count(*) FILTER (WHERE failed), coalesce(min(created_at) "
	    "FILTER (WHERE NOT failed AND created_at > 0), 0) "
	    "FROM jit_outbox",
	/*
	 * The writer's deferred rows (pg_defer.c), each column a text[].  A
	 * key that exists fails the statement (unique_violation: CONFLICT),
	 * not just changes fewer rows: at the end of a batch the COMMIT is
	 * sent before the answer is read, and the server must not commit.
	 */
	[ST_REQ_INSERT_MANY] = "INSERT INTO jit_requests (id, seq, state, "
	    "usr, deadline, body, role, not_after) SELECT i, s::bigint, st, "
	    "u, d::bigint, b, r, n::bigint FROM unnest($1::text[], "
	    "$2::text[], $3::text[], $4::text[], $5::text[], $6::text[], "
	    "$7::text[], $8::text[]) AS v(i, s, st, u, d, b, r, n)",
	[ST_AUD_PUT_MANY] = "INSERT INTO jit_audit (seq, entry) "
	    "SELECT s::bigint, e FROM unnest($1::text[], $2::text[]) "
	    "AS v(s, e)",
	[ST_VAL_PUT_MANY] = "INSERT INTO jit_values (key, body) "
	    "SELECT k, b FROM unnest($1::text[], $2::text[]) AS v(k, b) "
	    "ON CONFLICT (key) DO UPDATE SET body = EXCLUDED.body",
	[ST_CERT_PUT_MANY] = "INSERT INTO jit_certs (serial, body) "
	    "SELECT s::bigint, b FROM unnest($1::text[], $2::text[]) "
	    "AS v(s, b)",
	/* A request that is not there fails it (a text that is no
	 * integer, 22P02: STORE) rather than updating fewer rows. */
	[ST_REQ_UPDATE_MANY] = "WITH u AS (UPDATE jit_requests q "
	    "SET state = v.st, usr = v.u, deadline = v.d::bigint, body = v.b, "
	    "role = v.r, not_after = v.n::bigint FROM unnest($1::text[], "
	    "$2::text[], $3::text[], $4::text[], $5::text[], $6::text[], "
	    "$7::text[]) AS v(i, st, u, d, b, r, n) WHERE q.id = v.i "
	    "RETURNING 1) SELECT CASE WHEN count(*) = cardinality($1::text[]) "
	    "THEN 0 ELSE ('missing ' || count(*))::int END FROM u",
};

/*
 * The tables of the writer's deferred rows each statement reads or
 * writes (bits 1 << PG_D_*): their rows are sent before it (pg_defer.c).
 * A statement that is not here (and the deferred rows' own) touches none
 * of them; SQL text without a statement (jit_pg_exec) may touch all.
 */
#define D_REQ ((1u << PG_D_REQ) | (1u << PG_D_UPD))  /* inserts, updates */
#define D_AUD (1u << PG_D_AUD)
#define D_VAL (1u << PG_D_VAL)
#define D_CERT (1u << PG_D_CERT)
static const unsigned char stmt_tables[ST_COUNT] = {
	[ST_REQ_INSERT] = D_REQ, [ST_REQ_UPDATE] = D_REQ, [ST_REQ_GET] = D_REQ,
	[ST_REQ_STATE_ASC] = D_REQ, [ST_REQ_STATE_DESC] = D_REQ,
	[ST_REQ_USER_ASC] = D_REQ, [ST_REQ_USER_DESC] = D_REQ,
	[ST_REQ_ALL_ASC] = D_REQ, [ST_REQ_ALL_DESC] = D_REQ,
	[ST_REQ_DUE] = D_REQ, [ST_REQ_COUNT] = D_REQ, [ST_REQ_RAW] = D_REQ,
	[ST_REQ_USTATE_ASC] = D_REQ, [ST_REQ_USTATE_DESC] = D_REQ,
	[ST_REQ_RSTATE_ASC] = D_REQ, [ST_REQ_RSTATE_DESC] = D_REQ,
	[ST_REQ_END] = D_REQ, [ST_REQ_COUNT_USTATE] = D_REQ,
	[ST_REQ_SET_KEYS] = D_REQ,
	[ST_VAL_PUT] = D_VAL, [ST_VAL_GET] = D_VAL, [ST_VAL_LIST] = D_VAL,
	[ST_AUD_PUT] = D_AUD, [ST_AUD_GET] = D_AUD, [ST_AUD_LAST] = D_AUD,
	[ST_AUD_ITER] = D_AUD,
	[ST_CERT_PUT] = D_CERT, [ST_CERT_GET] = D_CERT, [ST_CERT_LIST] = D_CERT,
	[ST_SERIAL_PAST_CERTS] = D_CERT,
};

/*
 * Statements planned anew for their parameters each time (not prepared):
 * the lists by state, and by role and state.  A prepared statement's
 * generic plan estimates "state = $1" from the number of distinct states
 * (a handful), so it would walk the whole table in seq order filtering
 * for a rare state (pending among a million ended), where the plan for
 * the actual value reads only the index range of that state.
 */
static const unsigned char plan_each_time[ST_COUNT] = {
	[ST_REQ_STATE_ASC] = 1, [ST_REQ_STATE_DESC] = 1,
	[ST_REQ_RSTATE_ASC] = 1, [ST_REQ_RSTATE_DESC] = 1,
};

/* ---- connecting ---------------------------------------------------------- */

/* The code for a connection that could not be made, from libpq's
 * message (no SQLSTATE is available before a session exists). */
static int
connect_err(const char *msg)
{
	if (strstr(msg, "authentication failed") != NULL ||
	    strstr(msg, "no pg_hba.conf entry") != NULL ||
	    strstr(msg, "permission denied") != NULL ||
	    strstr(msg, "password") != NULL)
		return JIT_ERR_PERMISSION;
	if (strstr(msg, "does not exist") != NULL)
		return JIT_ERR_NOT_FOUND;
	return JIT_ERR_STORE;
}

/* Copy libpq's message into err as one line: its line breaks and tabs
 * become single spaces, the trailing ones go. */
static void
set_err(char *err, size_t errlen, const char *msg)
{
	size_t n = 0;
	int space = 0;

	if (err == NULL || errlen == 0)
		return;
	for (; *msg != '\0' && n + 1 < errlen; msg++) {
		if (*msg == '\n' || *msg == '\t' || *msg == ' ') {
			space = n > 0;
			continue;
		}
		if (space && n + 2 < errlen)
			err[n++] = ' ';
		space = 0;
		err[n++] = *msg;
	}
	err[n] = '\0';
}

/* The library prints nothing: libpq's notices ("schema already
 * exists", "terminating connection ...") are dropped. */
static void
drop_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* c->server_start: when the server c reached started. */
static int
read_server_start(struct jit_pg_conn *c)
{
	PGresult *res = NULL;
	int r = jit_pg_exec(c, "SELECT pg_postmaster_start_time()::text",
	    &res);

	if (r == 0 && (PQntuples(res) != 1 || PQgetlength(res, 0, 0) >=
	    (int)sizeof(c->server_start)))
		r = JIT_ERR_STORE;
	if (r == 0)
		memcpy(c->server_start, PQgetvalue(res, 0, 0),
		    (size_t)PQgetlength(res, 0, 0) + 1);
	PQclear(res);
	return r;
}

int
jit_pg_connect(struct jit_pg *pg, struct jit_pg_conn **out, char *err,
    size_t errlen)
{
	struct jit_pg_conn *c;
	char sql[128];
	int r;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return JIT_ERR_ALLOC;
	c->conn = PQconnectdbParams(pg->kw, (const char *const *)pg->val, 1);
	if (c->conn == NULL) {
		free(c);
		return JIT_ERR_ALLOC;
	}
	PQsetNoticeProcessor(c->conn, drop_notice, NULL);
	if (PQstatus(c->conn) != CONNECTION_OK) {
		set_err(err, errlen, PQerrorMessage(c->conn));
		r = connect_err(PQerrorMessage(c->conn));
		jit_pg_disconnect(c);
		return r;
	}
	if (pg->schema != NULL) {
		/* The name was checked ([a-z_][a-z0-9_]*): no quoting. */
		snprintf(sql, sizeof(sql), "SET search_path TO %s", pg->schema);
		if ((r = jit_pg_exec(c, sql, NULL)) != 0) {
			set_err(err, errlen, PQerrorMessage(c->conn));
			jit_pg_disconnect(c);
			return r;
		}
	}
	if ((r = read_server_start(c)) != 0) {
		set_err(err, errlen, PQerrorMessage(c->conn));
		jit_pg_disconnect(c);
		return r;
	}
	c->backend_pid = PQbackendPID(c->conn);
	*out = c;
	return 0;
}

void
jit_pg_disconnect(struct jit_pg_conn *c)
{
	if (c == NULL)
		return;
	PQfinish(c->conn);
	free(c);
}

int
jit_pg_check(struct jit_pg_conn *c)
{
	/* Reads what already arrived, without waiting: a server that ended
	 * the session (a restart, pg_terminate_backend) has said so. */
	if (c == NULL || c->broken || !PQconsumeInput(c->conn))
		return 0;
	return jit_pg_alive(c);
}

int
jit_pg_alive(const struct jit_pg_conn *c)
{
	return c != NULL && !c->broken && PQstatus(c->conn) == CONNECTION_OK;
}

/* ---- results ------------------------------------------------------------- */

int
jit_pg_map_result(const struct jit_pg_conn *c, const PGresult *res)
{
	const char *st;

	if (res == NULL)
		return PQstatus(c->conn) == CONNECTION_OK ? JIT_ERR_ALLOC :
		    JIT_ERR_STORE;
	switch (PQresultStatus(res)) {
	case PGRES_COMMAND_OK:
	case PGRES_TUPLES_OK:
		return 0;
	default:
		break;
	}
	if (PQstatus(c->conn) != CONNECTION_OK)
		return JIT_ERR_STORE;
	st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	if (st == NULL)
		return JIT_ERR_STORE;
	if (strcmp(st, "23505") == 0)
		return JIT_ERR_CONFLICT;
	if (strcmp(st, "53100") == 0)
		return JIT_ERR_STORE_FULL;
	if (strcmp(st, "42501") == 0 || strncmp(st, "28", 2) == 0)
		return JIT_ERR_PERMISSION;
	if (strcmp(st, "3D000") == 0)
		return JIT_ERR_NOT_FOUND;
	return JIT_ERR_STORE;
}

/* ---- running statements -------------------------------------------------- */

/*
 * Without pipeline mode a statement is one round trip, as libpq's
 * PQexec*() do.  In pipeline mode (the read pool and the writer) the
 * commands whose answers are not needed at once - BEGIN, SAVEPOINT,
 * RELEASE, COMMIT of a read - are queued (jit_pg_queue) and go to the
 * server with the next statement that is waited for, so a transaction
 * costs the round trips of its statements only.  The queue remembers
 * what each answer will be (a command, a PREPARE of statement st, a sync
 * point) and whether its failure is the caller's to see.  A failed
 * command makes the server skip everything up to the next sync point,
 * so after a failure a sync is added and read, which leaves the
 * connection usable (and the transaction, if any, aborted: c->failed).
 */

/* 0 and *res the result, or the error (the result cleared). */
static int
finish(struct jit_pg_conn *c, PGresult *r0, PGresult **res)
{
	int r = jit_pg_map_result(c, r0);

	if (r != 0 || res == NULL)
		PQclear(r0);
	else
		*res = r0;
	return r;
}

static struct jit_pg_item *
push(struct jit_pg_conn *c, int sync, int report, int prep, int commit)
{
	struct jit_pg_item *it;

	if (c->qlen == PG_QUEUE)
		return NULL;   /* cannot happen: callers drain before */
	it = &c->q[(c->qhead + c->qlen++) % PG_QUEUE];
	it->sync = (unsigned char)sync;
	it->report = (unsigned char)report;
	it->prep = (unsigned char)prep;
	it->commit = (unsigned char)commit;
	it->rows_code = 0;
	it->rows_want = 1;
	return it;
}

/* Read the answer of the oldest queued item; keep (may be NULL) receives
 * a command's result.  *err keeps the first failure to report. */
static int
read_item(struct jit_pg_conn *c, PGresult **keep, int *err)
{
	struct jit_pg_item it = c->q[c->qhead];
	PGresult *res, *extra;
	int r = 0;

	c->qhead = (c->qhead + 1) % PG_QUEUE;
	c->qlen--;
	if ((res = PQgetResult(c->conn)) == NULL) {
		/* Only a connection that is gone answers nothing. */
		r = JIT_ERR_STORE;
		goto failed;
	}
	if (it.sync) {
		r = PQresultStatus(res) == PGRES_PIPELINE_SYNC ? 0 :
		    JIT_ERR_STORE;
		PQclear(res);
		if (r != 0)
			goto failed;
		c->aborted = 0;
		return 0;
	}
	while ((extra = PQgetResult(c->conn)) != NULL)
		PQclear(extra);
	if (PQresultStatus(res) == PGRES_PIPELINE_ABORTED)
		r = JIT_ERR_STORE;    /* the failure reported before it */
	else if ((r = jit_pg_map_result(c, res)) == 0 && it.commit &&
	    strcmp(PQcmdStatus(res), "COMMIT") != 0)
		r = JIT_ERR_STORE;    /* COMMIT of a failed transaction */
	else if (r == 0 && it.rows_code != 0 &&
	    strtol(PQcmdTuples(res), NULL, 10) != it.rows_want)
		r = it.rows_code;
	/* A key that exists, in a batch's deferred rows (pg_defer.c): the
	 * batch cannot commit, but its closures did nothing wrong (an id,
	 * a serial: STORE_RETRY; an audit seq past the head: the store is
	 * damaged, STORE_CORRUPT). */
	if (r == JIT_ERR_CONFLICT && (it.rows_code == JIT_ERR_STORE_RETRY ||
	    it.rows_code == JIT_ERR_STORE_CORRUPT))
		r = it.rows_code;
	/* A PREPARE counts as done when sent (a second one of the same
	 * name would fail); one that failed is forgotten again. */
	if (r != 0 && it.prep != 0)
		c->prepared[(it.prep - 1) / 8] &=
		    (unsigned char)~(1u << ((it.prep - 1) % 8));
	if (r == 0 && keep != NULL)
		*keep = res;
	else
		PQclear(res);
	if (r == 0)
		return 0;
	/* The first failure a caller sees is the cause; a command the
	 * server skipped after an earlier failure is STORE. */
	if (it.report && *err == 0)
		*err = r;
	c->aborted = 1;
	c->failed = 1;
	return 0;
failed:
	if (*err == 0)
		*err = r;
	c->broken = 1;
	return r;
}

/*
 * Send what is queued and read every answer (through the sync points);
 * keep receives the last command's result (its caller's statement).
 * Returns the first failure to report.  After a failure the pipeline is
 * brought back to a sync point.
 */
static int
drain(struct jit_pg_conn *c, PGresult **keep)
{
	int err = 0, last_sync = c->qlen > 0 &&
	    c->q[(c->qhead + c->qlen - 1) % PG_QUEUE].sync;

	if (c->broken)
		return JIT_ERR_STORE;
	if (c->qlen == 0)
		return 0;
	if ((!last_sync && PQsendFlushRequest(c->conn) != 1) ||
	    PQflush(c->conn) != 0) {
		c->broken = 1;
		return JIT_ERR_STORE;
	}
	while (c->qlen > 0) {
		PGresult **k = c->qlen == 1 ? keep : NULL;

		if (read_item(c, k, &err) != 0)
			return err;
		if (c->qlen == 0 && c->aborted) {
			/* Skipped up to a sync point that is not there. */
			if (PQpipelineSync(c->conn) != 1 ||
			    push(c, 1, 0, 0, 0) == NULL) {
				c->broken = 1;
				return JIT_ERR_STORE;
			}
		}
	}
	if (err != 0 && keep != NULL && *keep != NULL) {
		PQclear(*keep);
		*keep = NULL;
	}
	return err;
}

int
jit_pg_queue(struct jit_pg_conn *c, const char *sql, unsigned flags)
{
	int r;

	if (c->broken)
		return JIT_ERR_STORE;
	if (!c->pipeline) {
		if (sql != NULL && (r = jit_pg_exec(c, sql, NULL)) != 0 &&
		    (flags & JIT_PG_REPORT))
			return r;
		return 0;
	}
	/* Keep room for the statement and the sync that follow. */
	if (c->qlen >= PG_QUEUE - 4 && (r = drain(c, NULL)) != 0)
		return r;
	if (sql != NULL) {
		if (PQsendQueryParams(c->conn, sql, 0, NULL, NULL, NULL, NULL,
		    0) != 1) {
			c->broken = 1;
			return JIT_ERR_STORE;
		}
		(void)push(c, 0, (flags & JIT_PG_REPORT) != 0, 0,
		    (flags & JIT_PG_COMMIT) != 0);  /* room kept above */
	}
	if (flags & JIT_PG_SYNC) {
		if (PQpipelineSync(c->conn) != 1) {
			c->broken = 1;
			return JIT_ERR_STORE;
		}
		(void)push(c, 1, 0, 0, 0);
	}
	return 0;
}

int
jit_pg_settle(struct jit_pg_conn *c)
{
	return c->pipeline ? drain(c, NULL) : 0;
}

/* Send st (prepared first if this connection has not yet) or sql, and
 * read every answer up to its own. */
static int
run(struct jit_pg_conn *c, enum jit_pg_stmt st, const char *sql, int n,
    const char *const *params, const int *lens, PGresult **res, int later,
    int rows_code, long rows_want)
{
	struct jit_pg_item *it;
	char name[16];
	int fmt[8], len[8], prep = 0, ok;
	PGresult *p = NULL;
	int r;

	if (res != NULL)
		*res = NULL;
	if (c == NULL || n < 0 || n > 8 ||
	    (sql == NULL && (unsigned)st >= ST_COUNT))
		return JIT_ERR_INVALID_ARGUMENT;
	if (c->broken)
		return JIT_ERR_STORE;
	/* The writer's closure: its savepoint before its first statement,
	 * then the deferred rows this statement would miss. */
	if (c->owner != NULL && c->owner->sp_wanted &&
	    (r = jit_pg_savepoint(c->owner)) != 0)
		return r;
	if (c->owner != NULL && (c->pending & ((unsigned)st < ST_COUNT ?
	    stmt_tables[st] : 0xffu)) != 0 &&
	    (r = jit_pg_defer_flush(c->owner, (unsigned)st < ST_COUNT ?
	    stmt_tables[st] : 0xffu)) != 0)
		return r;
	for (int i = 0; i < n; i++) {
		fmt[i] = lens != NULL && lens[i] >= 0;
		len[i] = fmt[i] ? lens[i] : 0;
	}
	if (sql != NULL) {
		if (!c->pipeline)
			return finish(c, PQexecParams(c->conn, sql, n, NULL,
			    params, len, fmt, 0), res);
	} else {
		snprintf(name, sizeof(name), "jit%d", (int)st);
		prep = !(c->prepared[st / 8] & (1u << (st % 8)));
		if (!c->pipeline) {
			if (prep) {
				r = finish(c, PQprepare(c->conn, name,
				    stmt_sql[st], 0, NULL), NULL);
				if (r != 0)
					return r;
				c->prepared[st / 8] |=
				    (unsigned char)(1u << (st % 8));
			}
			return finish(c, PQexecPrepared(c->conn, name, n,
			    params, len, fmt, 0), res);
		}
	}
	if (c->qlen >= PG_QUEUE - 4 && (r = drain(c, NULL)) != 0)
		return r;
	if (prep) {
		if (PQsendPrepare(c->conn, name, stmt_sql[st], 0, NULL) != 1)
			goto broken;
		(void)push(c, 0, 1, (int)st + 1, 0);  /* room kept above */
		c->prepared[st / 8] |= (unsigned char)(1u << (st % 8));
	}
	ok = sql != NULL ? PQsendQueryParams(c->conn, sql, n, NULL, params,
	    len, fmt, 0) : PQsendQueryPrepared(c->conn, name, n, params, len,
	    fmt, 0);
	if (ok != 1)
		goto broken;
	it = push(c, 0, 1, 0, 0);
	if (later) {
		it->rows_code = rows_code;
		it->rows_want = rows_want;
		return 0;
	}
	if ((r = drain(c, &p)) != 0)
		return r;
	if (res != NULL)
		*res = p;
	else
		PQclear(p);
	return 0;
broken:
	c->broken = 1;
	return JIT_ERR_STORE;
}

int
jit_pg_run(struct jit_pg_conn *c, enum jit_pg_stmt st, int n,
    const char *const *params, const int *lens, PGresult **res)
{
	if ((unsigned)st >= ST_COUNT)
		return JIT_ERR_INVALID_ARGUMENT;
	return run(c, st, plan_each_time[st] ? stmt_sql[st] : NULL, n, params,
	    lens, res, 0, 0, 1);
}

int
jit_pg_run_later(struct jit_pg_conn *c, enum jit_pg_stmt st, int n,
    const char *const *params, const int *lens, int rows_code)
{
	PGresult *res = NULL;
	int r;

	if ((unsigned)st >= ST_COUNT)
		return JIT_ERR_INVALID_ARGUMENT;
	if (c->pipeline)
		return run(c, st, NULL, n, params, lens, NULL, 1, rows_code, 1);
	if ((r = run(c, st, NULL, n, params, lens, &res, 0, 0, 1)) == 0 &&
	    rows_code != 0 && jit_pg_one_row(res) != 0)
		r = rows_code;
	PQclear(res);
	return r;
}

int
jit_pg_run_rows(struct jit_pg_conn *c, enum jit_pg_stmt st, int n,
    const char *const *params, const int *lens, long rows, int rows_code)
{
	PGresult *res = NULL;
	int r;

	if ((unsigned)st >= ST_COUNT)
		return JIT_ERR_INVALID_ARGUMENT;
	if (c->pipeline)
		return run(c, st, NULL, n, params, lens, NULL, 1, rows_code,
		    rows);
	if ((r = run(c, st, NULL, n, params, lens, &res, 0, 0, 1)) == 0 &&
	    strtol(PQcmdTuples(res), NULL, 10) != rows)
		r = rows_code;
	PQclear(res);
	return r;
}

int
jit_pg_exec(struct jit_pg_conn *c, const char *sql, PGresult **res)
{
	if (res != NULL)
		*res = NULL;
	if (c->pipeline)
		return run(c, ST_COUNT, sql, 0, NULL, NULL, res, 0, 0, 1);
	return finish(c, PQexec(c->conn, sql), res);
}

int
jit_pg_pipeline(struct jit_pg_conn *c)
{
	if (PQenterPipelineMode(c->conn) != 1)
		return JIT_ERR_STORE;
	c->pipeline = 1;
	return 0;
}

int
jit_pg_walk(struct jit_pg_conn *c, enum jit_pg_stmt st, int n,
    const char **params, uint64_t limit, jit_pg_row_fn row, void *ctx)
{
	char lb[21];
	uint64_t left = limit, chunk;
	PGresult *res = NULL;
	int r = 0, rows;

	if (n < 1)
		return JIT_ERR_INVALID_ARGUMENT;
	params[n - 1] = lb;
	for (;;) {
		chunk = limit != 0 && left < PG_CHUNK ? left : PG_CHUNK;
		if (chunk == 0)
			return 0;
		jit_pg_u64_text(chunk, lb);
		if ((r = jit_pg_run(c, st, n, params, NULL, &res)) != 0)
			return r;
		rows = PQntuples(res);
		for (int i = 0; i < rows && r == 0; i++)
			r = row(res, i, ctx);
		PQclear(res);
		if (r != 0)
			return r > 0 ? 0 : r;
		if ((uint64_t)rows < chunk)
			return 0;
		left -= (uint64_t)rows;
	}
}

int
jit_pg_run_u64(struct jit_pg_conn *c, enum jit_pg_stmt st, int n,
    const char *const *params, uint64_t *v)
{
	PGresult *res = NULL;
	int r;

	if ((r = jit_pg_run(c, st, n, params, NULL, &res)) != 0)
		return r;
	r = jit_pg_get_u64(res, 0, 0, v);
	PQclear(res);
	return r;
}

int
jit_pg_get_u64(const PGresult *res, int i, int j, uint64_t *v)
{
	const char *s;
	char *end;
	unsigned long long x;

	*v = 0;
	if (i >= PQntuples(res) || j >= PQnfields(res) ||
	    PQgetisnull(res, i, j))
		return JIT_ERR_STORE_CORRUPT;
	s = PQgetvalue(res, i, j);
	if (*s < '0' || *s > '9')
		return JIT_ERR_STORE_CORRUPT;
	errno = 0;
	x = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return JIT_ERR_STORE_CORRUPT;
	*v = (uint64_t)x;
	return 0;
}

const char *
jit_pg_u64_text(uint64_t v, char buf[21])
{
	snprintf(buf, 21, "%" PRIu64, v);
	return buf;
}

int
jit_pg_one_row(const PGresult *res)
{
	return strcmp(PQcmdTuples((PGresult *)res), "1") == 0 ? 0 :
	    JIT_ERR_CONFLICT;
}

int
jit_pg_get_json(const PGresult *res, int i, int j, int obj, json_t **out)
{
	const char *s;
	size_t n;

	*out = NULL;
	if (i >= PQntuples(res) || j >= PQnfields(res) ||
	    PQgetisnull(res, i, j))
		return JIT_ERR_STORE_CORRUPT;
	s = PQgetvalue(res, i, j);
	n = (size_t)PQgetlength(res, i, j);
	return obj ? jit_store__parse_object(s, n, out) :
	    jit_store__parse_json(s, n, JSON_DECODE_ANY, out);
}
