/*
 * test-files.h - a scratch directory and shell commands, for the unit
 * tests that check their results against ssh-keygen.  Include after
 * test.h.  The test fills dir (mkdtemp) in main() and removes it with
 * run("rm -rf %s", dir) at the end.
 */
#ifndef JIT_TEST_FILES_H
#define JIT_TEST_FILES_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

static char dir[64];

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

#endif
