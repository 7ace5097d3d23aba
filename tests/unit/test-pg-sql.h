/*
 * test-pg-sql.h - SQL run by a test in the PostgreSQL schema of a test
 * store (test-store-open.h), on a connection of its own: to take a store
 * back to an older schema version and see it migrated again.  Include
 * after test-store-open.h.
 */
#ifndef JIT_TEST_PG_SQL_H
#define JIT_TEST_PG_SQL_H

#include <stdio.h>

#include <libpq-fe.h>

/* What schema versions 4 and 3 added, gone again (pg_env.c's
 * migrate_v4, migrate_v3). */
#define TEST_PG_DOWN_TO_2 \
	"SET client_min_messages TO warning; " \
	"DROP FUNCTION jit_count_new() CASCADE; " \
	"DROP FUNCTION jit_count_gone() CASCADE; " \
	"ALTER TABLE jit_requests RESET (fillfactor); " \
	"DELETE FROM jit_schema_version WHERE version = 4; " \
	"DROP FUNCTION jit_count_state() CASCADE; " \
	"DROP FUNCTION jit_count_commit() CASCADE; " \
	"DROP TABLE jit_state_counts; " \
	"DROP INDEX jit_requests_usr_state; " \
	"ALTER TABLE jit_requests DROP COLUMN role, DROP COLUMN not_after; " \
	"ALTER TABLE jit_head DROP COLUMN commit_id; " \
	"DELETE FROM jit_schema_version WHERE version = 3"
/* And what version 2 added (the outbox). */
#define TEST_PG_DOWN_TO_1 TEST_PG_DOWN_TO_2 "; " \
	"DROP TABLE jit_outbox; " \
	"ALTER TABLE jit_head DROP COLUMN next_outbox_seq, " \
	"DROP COLUMN outbox_delivered; " \
	"DELETE FROM jit_schema_version WHERE version = 2"

/* Run sql in the schema of directory d's store: 0, or -1 after a
 * message. */
static __attribute__((unused)) int
test_pg_exec_in(const char *d, const char *sql)
{
	struct jit_store_options o = { 0 };
	char schema[16], set[64];
	PGconn *c = PQconnectdb(test_pg_url());
	PGresult *res;
	int r = -1;

	test_store_options(d, &o, schema);
	snprintf(set, sizeof(set), "SET search_path TO %s", schema);
	if (PQstatus(c) == CONNECTION_OK) {
		PQclear(PQexec(c, set));
		res = PQexec(c, sql);
		if (PQresultStatus(res) == PGRES_COMMAND_OK ||
		    PQresultStatus(res) == PGRES_TUPLES_OK)
			r = 0;
		else
			fprintf(stderr, "%s: %s", sql, PQerrorMessage(c));
		PQclear(res);
	}
	PQfinish(c);
	return r;
}

#endif
