/* test-http.c - the canonical-path rule of the HTTP layer
 * (api/http/http.h: jit_http_path_check). */
#include <string.h>

#include "err.h"
#include "http.h"
#include "test.h"

static void
good(const char *uri)
{
	const char *why = "unset";

	test_checks++;
	if (jit_http_path_check(uri, &why) != 0 || why != NULL) {
		fprintf(stderr, "'%s' refused: %s\n", uri, why ? why : "?");
		test_failures++;
	}
}

/* want: a word the reason must contain. */
static void
bad(const char *uri, const char *want)
{
	const char *why = NULL;

	test_checks++;
	if (jit_http_path_check(uri, &why) != JIT_ERR_INVALID_FORMAT ||
	    why == NULL || strstr(why, want) == NULL) {
		fprintf(stderr, "'%s': want INVALID_FORMAT with '%s', got "
		    "'%s'\n", uri, want, why ? why : "(none)");
		test_failures++;
	}
}

int
main(void)
{
	good("/");
	good("/healthz");
	good("/v1/requests/r-0123456789ab/approve");
	good("/v1/requests/A-Z_a.z~0");
	good("/v1//ca");                 /* routing gives 404 */
	good("/v1/requests/../ca");      /* routing gives 404 */
	good("/v1/requests/r-%C3%A9");   /* é must be encoded */
	good("/v1/requests/%2A%27%20%3A%40%25%5C%3F%23");
	good("/v1/requests?state=pending&x=%2f%72%zz'");  /* query not judged */
	good("/v1/requests/x?");

	bad("", "start with /");
	bad("v1/ca", "start with /");
	bad("*", "start with /");
	bad("http://h/v1/ca", "start with /");
	bad("/v1/requests/ID%2Fapprove", "slash");
	bad("/v1/requests/ID%2fapprove", "percent-encoding");
	bad("/v1/%72equests", "needless");
	bad("/v1/%52equests", "needless");
	bad("/v1/requests/%2E%2E/ca", "needless");
	bad("/v1/%2D", "needless");
	bad("/v1/%5F", "needless");
	bad("/v1/%7E", "needless");
	bad("/v1/%30", "needless");
	bad("/v1/requests/r-%c3%a9", "upper-case");
	bad("/v1/requests/r-%C3%a9", "upper-case");
	bad("/v1/requests/r-%00", "NUL");
	bad("/v1/requests/r-%", "percent-encoding");
	bad("/v1/requests/r-%4", "percent-encoding");
	bad("/v1/requests/r-%4?x", "percent-encoding");
	bad("/v1/requests/r-%G1", "percent-encoding");
	bad("/v1/requests/r-'", "must be");
	bad("/v1/requests/r-a:b", "must be");
	bad("/v1/requests/r-a@b", "must be");
	bad("/v1/requests/r-a b", "must be");
	bad("/v1/requests/r-a\\b", "must be");
	bad("/v1/requests/r-\xc3\xa9", "must be");
	bad("/v1/requests/r-a#b", "must be");
	bad("/v1/requests/r-a+b", "must be");
	TEST_DONE();
}
