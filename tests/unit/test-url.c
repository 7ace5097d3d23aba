/* test-url.c - URL query decoding (api/http/url.h). */
#include <string.h>

#include "err.h"
#include "test.h"
#include "url.h"

static void
ok(const char *in, const char *want)
{
	char out[32];

	CHECK_OK(jit_url_decode(in, strlen(in), out, sizeof(out)));
	CHECK_STR(out, want);
}

static void
bad(const char *in, size_t outlen)
{
	char out[32];

	REQUIRE(outlen <= sizeof(out));
	if (jit_url_decode(in, strlen(in), out, outlen) != -1) {
		fprintf(stderr, "'%s' (outlen %zu) accepted\n", in, outlen);
		test_failures++;
	}
	test_checks++;
}

/* jit_query_parse: the table is filled, and each kind of bad query is
 * an error with its message. */
static void
test_query(void)
{
	struct jit_query_param q[] = { { "state", "", 0 }, { "role", "", 0 },
	    { "wait", "", 0 } };
	const size_t n = sizeof(q) / sizeof(q[0]);
	char err[256], big[400];

	CHECK_OK(jit_query_parse("state=pending&role=prod%2Ddb+x", q, n, err,
	    sizeof(err)));
	CHECK_INT(q[0].present, 1);
	CHECK_STR(q[0].value, "pending");
	CHECK_INT(q[1].present, 1);
	CHECK_STR(q[1].value, "prod-db x");
	CHECK_INT(q[2].present, 0);
	CHECK_STR(q[2].value, "");

	/* A second parse clears what the first found; empty parts are
	 * skipped; a name without "=" is present and empty. */
	CHECK_OK(jit_query_parse("&&wait&", q, n, err, sizeof(err)));
	CHECK_INT(q[0].present, 0);
	CHECK_STR(q[0].value, "");
	CHECK_INT(q[2].present, 1);
	CHECK_STR(q[2].value, "");
	CHECK_OK(jit_query_parse("", q, n, err, sizeof(err)));
	CHECK_OK(jit_query_parse(NULL, q, n, err, sizeof(err)));
	CHECK_INT(q[2].present, 0);
	CHECK_OK(jit_query_parse("wait=", q, n, NULL, 0));
	CHECK_INT(q[2].present, 1);

	CHECK_INT(jit_query_parse("colour=red", q, n, err, sizeof(err)), -1);
	CHECK_STR(err, "unknown query parameter 'colour' (use state, role, "
	    "wait)");
	CHECK_INT(jit_query_parse("%1b%5b31m=x", q, n, err, sizeof(err)), -1);
	CHECK_STR(err, "unknown query parameter '?' (use state, role, wait)");
	CHECK_INT(jit_query_parse("x", q, 0, err, sizeof(err)), -1);
	CHECK_STR(err, "unknown query parameter 'x'");
	CHECK_INT(jit_query_parse("role=a&state=b&role=c", q, n, err,
	    sizeof(err)), -1);
	CHECK_STR(err, "query parameter 'role' given twice");
	CHECK_INT(jit_query_parse("st%zzate=1", q, n, err, sizeof(err)), -1);
	CHECK_STR(err, "malformed query string");
	CHECK_INT(jit_query_parse("role=a%00b", q, n, err, sizeof(err)), -1);
	CHECK_STR(err, "bad or too long value for query parameter 'role'");
	CHECK_INT(jit_query_parse("role=%4", q, n, err, sizeof(err)), -1);
	CHECK_STR(err, "bad or too long value for query parameter 'role'");
	/* Values up to JIT_QUERY_VALUE_MAX - 1 bytes fit. */
	memcpy(big, "role=", 5);
	memset(big + 5, 'a', JIT_QUERY_VALUE_MAX - 1);
	big[5 + JIT_QUERY_VALUE_MAX - 1] = '\0';
	CHECK_OK(jit_query_parse(big, q, n, err, sizeof(err)));
	CHECK_INT(strlen(q[1].value), JIT_QUERY_VALUE_MAX - 1);
	big[5 + JIT_QUERY_VALUE_MAX - 1] = 'a';
	big[5 + JIT_QUERY_VALUE_MAX] = '\0';
	CHECK_INT(jit_query_parse(big, q, n, err, sizeof(err)), -1);
	CHECK_STR(err, "bad or too long value for query parameter 'role'");
}

int
main(void)
{
	char out[4];

	ok("", "");
	ok("abc", "abc");
	ok("a+b", "a b");
	ok("%41%62%7a%7A", "Abzz");
	ok("2026-01-01T00%3A00", "2026-01-01T00:00");
	ok("%2B+%25", "+ %");

	bad("%", 32);
	bad("%4", 32);
	bad("a%4", 32);
	bad("%G1", 32);
	bad("%1g", 32);
	bad("%00", 32);
	bad("a%00b", 32);
	/* The NUL needs a byte too: three characters need four. */
	bad("abc", 3);
	bad("", 0);
	CHECK_OK(jit_url_decode("abc", 3, out, sizeof(out)));
	CHECK_STR(out, "abc");
	/* Only n bytes are read: the rest of the string is not decoded. */
	CHECK_OK(jit_url_decode("ab%", 2, out, sizeof(out)));
	CHECK_STR(out, "ab");
	test_query();
	TEST_DONE();
}
