/*
 * test.h - minimal unit-test helpers.  Each test program is its own
 * process; a failed check prints file, line and both sides, and the
 * program exits 1 at the end (or at once with REQUIRE).
 */
#ifndef JIT_TEST_H
#define JIT_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_failures;
static int test_checks;

#define CHECK(cond) do { test_checks++; if (!(cond)) { \
	fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, \
	    #cond); test_failures++; } } while (0)
#define REQUIRE(cond) do { test_checks++; if (!(cond)) { \
	fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, \
	    #cond); exit(1); } } while (0)
#define CHECK_INT(a, b) do { long long a_ = (long long)(a), \
	b_ = (long long)(b); test_checks++; if (a_ != b_) { \
	fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", \
	    __FILE__, __LINE__, #a, #b, a_, b_); test_failures++; } } while (0)
#define CHECK_U64(a, b) do { uint64_t a_ = (uint64_t)(a), \
	b_ = (uint64_t)(b); test_checks++; if (a_ != b_) { \
	fprintf(stderr, "%s:%d: %s == %s failed: %" PRIu64 " != %" PRIu64 \
	    "\n", __FILE__, __LINE__, #a, #b, a_, b_); test_failures++; } \
	} while (0)
#define CHECK_STR(a, b) do { const char *a_ = (a), *b_ = (b); \
	test_checks++; if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0) { \
	fprintf(stderr, "%s:%d: %s == %s failed: \"%s\" != \"%s\"\n", \
	    __FILE__, __LINE__, #a, #b, a_ ? a_ : "(null)", \
	    b_ ? b_ : "(null)"); test_failures++; } } while (0)
#define CHECK_MEM(a, b, n) do { test_checks++; \
	if (memcmp((a), (b), (n)) != 0) { fprintf(stderr, \
	"%s:%d: memory %s == %s differs\n", __FILE__, __LINE__, #a, #b); \
	test_failures++; } } while (0)
/* r is a jit return code expected to be 0 */
#define CHECK_OK(expr) do { int r_ = (expr); test_checks++; if (r_ != 0) { \
	fprintf(stderr, "%s:%d: %s returned %d (%s)\n", __FILE__, __LINE__, \
	    #expr, r_, jit_err(r_)); test_failures++; } } while (0)
#define REQUIRE_OK(expr) do { int r_ = (expr); test_checks++; \
	if (r_ != 0) { fprintf(stderr, "%s:%d: %s returned %d (%s)\n", \
	__FILE__, __LINE__, #expr, r_, jit_err(r_)); exit(1); } } while (0)

#define TEST_DONE() do { printf("%d checks, %d failed\n", test_checks, \
	test_failures); return test_failures ? 1 : 0; } while (0)

#endif
