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
 * once.  Keyset pagination ("seq > $2 ... LIMIT $3") walks a table in
 * chunks of PG_CHUNK rows: memory stays bounded and callbacks may run
 * other statements on the same connection between chunks.
 */
static const char *const stmt_sql[ST_COUNT] = {
	[ST_REQ_INSERT] = "INSERT INTO jit_requests (id, seq, state, usr, "
	    "deadline, body) VALUES ($1, $2, $3, $4, $5, $6) "
	    "ON CONFLICT DO NOTHING",
	[ST_REQ_UPDATE] = "UPDATE jit_requests SET state = $2, usr = $3, "
	    "deadline = $4, body = $5 WHERE id = $1",
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
	[ST_REQ_COUNT] = "SELECT count(*) FROM jit_requests WHERE state = $1",
	[ST_REQ_RAW] = "SELECT id, seq, deadline, state, usr, body "
	    "FROM jit_requests WHERE seq > $1 ORDER BY seq LIMIT $2",
	[ST_SERIAL_NEXT] = "SELECT nextval('jit_serial')",
	/* The highest serial handed out (0 for none). */
	[ST_SERIAL_STATE] = "SELECT CASE WHEN is_called THEN last_value "
	    "ELSE last_value - 1 END FROM jit_serial",
	[ST_SERIAL_SET] = "SELECT setval('jit_serial', $1::bigint) "
	    "WHERE $1::bigint > (SELECT CASE WHEN is_called THEN last_value "
	    "ELSE last_value - 1 END FROM jit_serial)",
	[ST_CERT_EXISTS] = "SELECT EXISTS (SELECT 1 FROM jit_certs "
	    "WHERE serial = $1), (SELECT CASE WHEN is_called THEN last_value "
	    "ELSE last_value - 1 END FROM jit_serial)",
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
	[ST_HEAD_GET] = "SELECT audit_seq, audit_hash, next_request_seq "
	    "FROM jit_head WHERE id = 1",
};

/* ---- connecting ------------------------------------------------------- */

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

/* Copy libpq's message into err without its trailing newline. */
static void
set_err(char *err, size_t errlen, const char *msg)
{
	size_t n;

	if (err == NULL || errlen == 0)
		return;
	snprintf(err, errlen, "%s", msg);
	n = strlen(err);
	while (n > 0 && (err[n - 1] == '\n' || err[n - 1] == ' '))
		err[--n] = '\0';
}

/* The library prints nothing: libpq's notices ("schema already
 * exists", "terminating connection ...") are dropped. */
static void
drop_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
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
		/* The name was checked ([a-z_][a-z0-9_]*): no quoting needed. */
		snprintf(sql, sizeof(sql), "SET search_path TO %s", pg->schema);
		if ((r = jit_pg_exec(c, sql, NULL)) != 0) {
			set_err(err, errlen, PQerrorMessage(c->conn));
			jit_pg_disconnect(c);
			return r;
		}
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
jit_pg_alive(const struct jit_pg_conn *c)
{
	return c != NULL && PQstatus(c->conn) == CONNECTION_OK;
}

/* ---- results ---------------------------------------------------------- */

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

int
jit_pg_run(struct jit_pg_conn *c, enum jit_pg_stmt st, int n,
    const char *const *params, const int *lens, PGresult **res)
{
	char name[16];
	int fmt[8], len[8];
	PGresult *p;
	int r;

	if (res != NULL)
		*res = NULL;
	if (c == NULL || (unsigned)st >= ST_COUNT || n < 0 || n > 8)
		return JIT_ERR_INVALID_ARGUMENT;
	snprintf(name, sizeof(name), "jit%d", (int)st);
	if (!(c->prepared[st / 8] & (1u << (st % 8)))) {
		p = PQprepare(c->conn, name, stmt_sql[st], 0, NULL);
		if ((r = finish(c, p, NULL)) != 0)
			return r;
		c->prepared[st / 8] |= (unsigned char)(1u << (st % 8));
	}
	for (int i = 0; i < n; i++) {
		fmt[i] = lens != NULL && lens[i] >= 0;
		len[i] = fmt[i] ? lens[i] : 0;
	}
	p = PQexecPrepared(c->conn, name, n, params, len, fmt, 0);
	return finish(c, p, res);
}

int
jit_pg_exec(struct jit_pg_conn *c, const char *sql, PGresult **res)
{
	if (res != NULL)
		*res = NULL;
	return finish(c, PQexec(c->conn, sql), res);
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
