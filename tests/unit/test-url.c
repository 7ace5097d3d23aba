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
	TEST_DONE();
}
