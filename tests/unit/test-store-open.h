/*
 * test-store-open.h - opening a test's store on the backend under test.
 * Include after store.h.
 *
 * Without JIT_TEST_STORE the store is LMDB's, in the test's directory.
 * With JIT_TEST_STORE set to a postgresql:// URL (tests/unit/with-pg.sh
 * starts a server and sets it), it is a PostgreSQL store in a schema of
 * its own, named after the directory: each test case gets an empty store,
 * and reopening the same directory reopens the same store.
 */
#ifndef JIT_TEST_STORE_OPEN_H
#define JIT_TEST_STORE_OPEN_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* The URL under test, or NULL for LMDB. */
static __attribute__((unused)) const char *
test_pg_url(void)
{
	const char *u = getenv("JIT_TEST_STORE");

	return u != NULL && *u != '\0' ? u : NULL;
}

/* Fill o (flags and map size as given) for directory d's store; the
 * schema name lives in buf (at least 16 bytes) while o is used. */
static __attribute__((unused)) void
test_store_options(const char *d, struct jit_store_options *o, char *buf)
{
	uint32_t h = 2166136261u;

	if (test_pg_url() == NULL)
		return;
	for (const char *p = d; *p != '\0'; p++) {
		h ^= (unsigned char)*p;
		h *= 16777619u;
	}
	snprintf(buf, 16, "t%08x", (unsigned)h);
	o->url = test_pg_url();
	o->schema = buf;
}

static __attribute__((unused)) int
test_store_open(const char *d, unsigned flags, struct jit_store **out)
{
	struct jit_store_options o = { 0 };
	char schema[16];

	o.flags = flags;
	test_store_options(d, &o, schema);
	return jit_store_open_opts(d, &o, out);
}

#endif
