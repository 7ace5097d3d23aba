/*
 * test-files.h - scratch directories and shell commands.  Include after
 * test.h.
 *
 * The tests that check their results against ssh-keygen fill dir
 * (mkdtemp) in main() and remove it with run("rm -rf %s", dir) at the end.
 * The store tests take a fresh directory per case from store_dir_new() and
 * remove it with store_dir_remove().
 */
#ifndef JIT_TEST_FILES_H
#define JIT_TEST_FILES_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static __attribute__((unused)) char dir[64];

/* dir/name; the result stays valid for the next seven calls. */
static __attribute__((unused)) char *
path(const char *name)
{
	static char p[8][256];
	static int slot;

	slot = (slot + 1) % 8;
	snprintf(p[slot], sizeof(p[slot]), "%s/%s", dir, name);
	return p[slot];
}

/* Run a shell command; returns its exit status (or -1). */
static int run(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), unused));

static int
run(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	if (st == -1 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

/* A new empty directory /tmp/jit-test-TAG-XXXXXX for a store (tag names
 * the test, so a leftover shows whose it is).  The caller owns the string
 * and passes it to store_dir_remove().  Ends the test if it cannot be
 * made. */
static __attribute__((unused)) char *
store_dir_new(const char *tag)
{
	char tmpl[128], *d;
	int n;

	n = snprintf(tmpl, sizeof(tmpl), "/tmp/jit-test-%s-XXXXXX", tag);
	REQUIRE(n > 0 && (size_t)n < sizeof(tmpl));
	REQUIRE(mkdtemp(tmpl) != NULL);
	d = strdup(tmpl);
	REQUIRE(d != NULL);
	return d;
}

/* Remove the files a store leaves in d, then d itself, and free d. */
static __attribute__((unused)) void
store_dir_remove(char *d)
{
	static const char *files[] = { "data.mdb", "lock.mdb", "server.lock" };
	char p[512];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", d, files[i]);
		unlink(p);
	}
	rmdir(d);
	free(d);
}

#endif
