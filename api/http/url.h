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

#endif
