/* url.c - URL query decoding (see url.h). */
#include "url.h"

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
