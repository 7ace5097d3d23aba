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

/* One parameter a query may carry: its name, and after jit_query_parse()
 * whether it was present and its decoded value. */
struct jit_query_param {
	const char *name;
	char value[128];
	int present;
};

/*
 * Parse query string q ("a=1&b=x", may be "") into params (n entries,
 * names set by the caller, value/present cleared here).  A name that is
 * not in params, a name given twice, a bad escape or a value longer than
 * value[] is an error: -1 with a one-line reason in err.  0 on success.
 */
int jit_query_parse(const char *q, struct jit_query_param *params, size_t n,
    char *err, size_t errlen);

#endif
