/*
 * url.h - decoding the parts of a URL query string ("a=1&b=x%20y"), shared
 * by the HTTP handlers and the audit export filter.
 */
#ifndef JIT_URL_H
#define JIT_URL_H

#include <stddef.h>

/*
 * Percent-decode the n bytes at s (%XX escapes, either case; '+' is a
 * space) into out, which holds outlen bytes including the terminating NUL.
 * s need not be NUL-terminated.  Returns 0, or -1 on a truncated or
 * non-hex escape, a decoded NUL byte, or a result that does not fit; out
 * is then unspecified (but never written past outlen).
 */
int jit_url_decode(const char *s, size_t n, char *out, size_t outlen);

/* Longest decoded query value, NUL included. */
#define JIT_QUERY_VALUE_MAX 256

/* One parameter a query may carry: its name, and after jit_query_parse()
 * whether it was present and its decoded value. */
struct jit_query_param {
	const char *name;
	char value[JIT_QUERY_VALUE_MAX];
	int present;
};

/*
 * Parse query string q ("a=1&b=x"; "" or NULL for none) into params (n
 * entries, names set by the caller, value/present cleared here).  A
 * parameter without "=" is present with the value "".  Empty parts
 * ("a=1&&b=2") are skipped.  Errors, each -1 with a one-line reason in
 * err (err may be NULL):
 *   "unknown query parameter 'X' (use A, B)"  a name not in params;
 *   "query parameter 'A' given twice";
 *   "malformed query string"                  a bad escape in a name;
 *   "bad or too long value for query parameter 'A'"  a bad escape, a
 *                                             %00 or a value that does
 *                                             not fit value[].
 * 0 on success.
 */
int jit_query_parse(const char *q, struct jit_query_param *params, size_t n,
    char *err, size_t errlen);

#endif
