/* url.c - URL query decoding (see url.h). */
#include "url.h"

#include <stdio.h>
#include <string.h>

#include "util.h"

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
jit_url_decode(const char *s, size_t n, char *out, size_t outlen)
{
	size_t i, o = 0;

	if (out == NULL || outlen == 0)
		return -1;
	out[0] = '\0';
	for (i = 0; i < n; i++) {
		int ch = (unsigned char)s[i];

		if (ch == '%') {
			int hi, lo;
			if (n - i < 3)
				return -1;
			hi = hexval((unsigned char)s[i + 1]);
			lo = hexval((unsigned char)s[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			ch = hi * 16 + lo;
			i += 2;
		} else if (ch == '+') {
			ch = ' ';
		}
		/* A NUL would cut the value short where the caller reads it
		 * as a C string, so it is refused rather than kept. */
		if (ch == 0 || o + 1 >= outlen)
			return -1;
		out[o++] = (char)ch;
	}
	out[o] = '\0';
	return 0;
}

/* Text safe to echo in a message: printable ASCII only. */
static int
echoable(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			return 0;
	return 1;
}

/* The error for a parameter name not in params: it and what to use. */
static int
unknown(const char *name, const struct jit_query_param *params, size_t n,
    char *err, size_t errlen)
{
	char use[160] = "";
	size_t o = 0;

	for (size_t i = 0; i < n && o < sizeof(use); i++)
		o += (size_t)snprintf(use + o, sizeof(use) - o, "%s%s",
		    i == 0 ? " (use " : ", ", params[i].name);
	if (n > 0 && o < sizeof(use))
		snprintf(use + o, sizeof(use) - o, ")");
	jit_seterr(err, errlen, "unknown query parameter '%.40s'%s",
	    echoable(name) ? name : "?", use);
	return -1;
}

int
jit_query_parse(const char *q, struct jit_query_param *params, size_t n,
    char *err, size_t errlen)
{
	const char *p = q, *amp, *eq;
	char name[64];
	size_t i, len;

	for (i = 0; i < n; i++) {
		params[i].value[0] = '\0';
		params[i].present = 0;
	}
	while (p != NULL && *p != '\0') {
		amp = strchr(p, '&');
		len = amp != NULL ? (size_t)(amp - p) : strlen(p);
		if (len > 0) {
			eq = memchr(p, '=', len);
			if (jit_url_decode(p, eq != NULL ? (size_t)(eq - p) : len,
			    name, sizeof(name)) != 0) {
				jit_seterr(err, errlen, "malformed query "
				    "string");
				return -1;
			}
			for (i = 0; i < n; i++)
				if (strcmp(name, params[i].name) == 0)
					break;
			if (i == n)
				return unknown(name, params, n, err, errlen);
			if (params[i].present) {
				jit_seterr(err, errlen, "query parameter '%s' "
				    "given twice", params[i].name);
				return -1;
			}
			params[i].present = 1;
			if (eq != NULL && jit_url_decode(eq + 1,
			    len - (size_t)(eq - p) - 1, params[i].value,
			    sizeof(params[i].value)) != 0) {
				jit_seterr(err, errlen, "bad or too long value "
				    "for query parameter '%s'",
				    params[i].name);
				return -1;
			}
		}
		p = amp != NULL ? amp + 1 : NULL;
	}
	return 0;
}
