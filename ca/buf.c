/* buf.c - bounded SSH wire buffer; see buf.h for the contract. */
#include "buf.h"
#include "err.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

void
jit_wipe(void *p, size_t len)
{
	if (p != NULL && len > 0)
		OPENSSL_cleanse(p, len);
}

void
jit_buf_init(struct jit_buf *b)
{
	b->d = NULL;
	b->off = b->end = b->cap = 0;
	b->max = JIT_BUF_MAX;
	b->readonly = 0;
}

void
jit_buf_release(struct jit_buf *b)
{
	if (b == NULL)
		return;
	if (!b->readonly && b->d != NULL) {
		jit_wipe(b->d, b->cap);
		free(b->d);
	}
	jit_buf_init(b);
}

struct jit_buf *
jit_buf_new(void)
{
	struct jit_buf *b = malloc(sizeof(*b));

	if (b != NULL)
		jit_buf_init(b);
	return b;
}

void
jit_buf_free(struct jit_buf *b)
{
	if (b == NULL)
		return;
	jit_buf_release(b);
	free(b);
}

void
jit_buf_view(struct jit_buf *b, const void *p, size_t len)
{
	jit_buf_init(b);
	/* The cast drops const; readonly guarantees no write through it. */
	b->d = (unsigned char *)(uintptr_t)p;
	b->end = b->cap = len;
	b->max = len;
	b->readonly = 1;
}

int
jit_buf_set_max(struct jit_buf *b, size_t max)
{
	if (b->readonly)
		return JIT_ERR_INVALID_ARGUMENT;
	if (b->cap > max)
		return JIT_ERR_NO_BUFFER_SPACE;
	b->max = max;
	return 0;
}

void
jit_buf_reset(struct jit_buf *b)
{
	if (b->readonly) {
		b->off = b->end;
		return;
	}
	jit_wipe(b->d, b->end);
	b->off = b->end = 0;
}

size_t
jit_buf_len(const struct jit_buf *b)
{
	return b->end - b->off;
}

const unsigned char *
jit_buf_ptr(const struct jit_buf *b)
{
	return b->d == NULL ? (const unsigned char *)"" : b->d + b->off;
}

int
jit_buf_reserve(struct jit_buf *b, size_t len, unsigned char **p)
{
	size_t need, ncap;
	unsigned char *nd;

	*p = NULL;
	if (b->readonly)
		return JIT_ERR_INVALID_ARGUMENT;
	/* Consumed bytes at the front are reclaimed before growing, and
	 * before refusing: only unread data counts against max. */
	if (b->off > 0 && (b->cap - b->end < len || b->max - b->end < len)) {
		memmove(b->d, b->d + b->off, b->end - b->off);
		jit_wipe(b->d + (b->end - b->off), b->off);
		b->end -= b->off;
		b->off = 0;
	}
	if (len > b->max || b->end > b->max - len)
		return JIT_ERR_NO_BUFFER_SPACE;
	need = b->end + len;
	if (need > b->cap) {
		ncap = b->cap < 256 ? 256 : b->cap;
		while (ncap < need)
			ncap = ncap > b->max / 2 ? b->max : ncap * 2;
		/* Allocate fresh and wipe the old block, so no secret is left
		 * behind in memory realloc() would hand back to malloc. */
		if ((nd = malloc(ncap)) == NULL)
			return JIT_ERR_ALLOC;
		if (b->d != NULL) {
			memcpy(nd, b->d, b->end);
			jit_wipe(b->d, b->cap);
			free(b->d);
		}
		b->d = nd;
		b->cap = ncap;
	}
	*p = b->d + b->end;
	b->end += len;
	return 0;
}

int
jit_buf_ensure(struct jit_buf *b, size_t len)
{
	unsigned char *p;
	int r;

	if (!b->readonly && b->cap - b->end >= len)
		return 0;
	if ((r = jit_buf_reserve(b, len, &p)) != 0)
		return r;
	b->end -= len;
	return 0;
}

void
jit_buf_truncate(struct jit_buf *b, size_t keep)
{
	size_t len = jit_buf_len(b);

	if (b->readonly || len <= keep)
		return;
	jit_wipe(b->d + b->off + keep, len - keep);
	b->end = b->off + keep;
}

int
jit_buf_put(struct jit_buf *b, const void *v, size_t len)
{
	unsigned char *p;
	int r;

	if ((r = jit_buf_reserve(b, len, &p)) != 0)
		return r;
	if (len > 0)
		memcpy(p, v, len);
	return 0;
}

int
jit_buf_put_u8(struct jit_buf *b, uint8_t v)
{
	return jit_buf_put(b, &v, 1);
}

int
jit_buf_put_u32(struct jit_buf *b, uint32_t v)
{
	unsigned char x[4] = {
		(unsigned char)(v >> 24), (unsigned char)(v >> 16),
		(unsigned char)(v >> 8), (unsigned char)v };

	return jit_buf_put(b, x, sizeof(x));
}

int
jit_buf_put_u64(struct jit_buf *b, uint64_t v)
{
	unsigned char x[8];
	int i;

	for (i = 7; i >= 0; i--, v >>= 8)
		x[i] = (unsigned char)v;
	return jit_buf_put(b, x, sizeof(x));
}

int
jit_buf_put_string(struct jit_buf *b, const void *v, size_t len)
{
	unsigned char *p;
	int r;

	if (len > 0xffffffffu - 4)
		return JIT_ERR_STRING_TOO_LARGE;
	if ((r = jit_buf_reserve(b, 4 + len, &p)) != 0)
		return r;
	p[0] = (unsigned char)(len >> 24);
	p[1] = (unsigned char)(len >> 16);
	p[2] = (unsigned char)(len >> 8);
	p[3] = (unsigned char)len;
	if (len > 0)
		memcpy(p + 4, v, len);
	return 0;
}

int
jit_buf_put_cstring(struct jit_buf *b, const char *s)
{
	return jit_buf_put_string(b, s, s == NULL ? 0 : strlen(s));
}

int
jit_buf_put_stringb(struct jit_buf *b, const struct jit_buf *src)
{
	return jit_buf_put_string(b, jit_buf_ptr(src), jit_buf_len(src));
}

int
jit_buf_put_mpint(struct jit_buf *b, const unsigned char *mag, size_t len)
{
	unsigned char *p;
	size_t pad;
	int r;

	while (len > 0 && mag[0] == 0) {
		mag++;
		len--;
	}
	pad = (len > 0 && (mag[0] & 0x80)) ? 1 : 0;
	if (len > 0xffffffffu - 5)
		return JIT_ERR_STRING_TOO_LARGE;
	if ((r = jit_buf_reserve(b, 4 + pad + len, &p)) != 0)
		return r;
	p[0] = (unsigned char)((len + pad) >> 24);
	p[1] = (unsigned char)((len + pad) >> 16);
	p[2] = (unsigned char)((len + pad) >> 8);
	p[3] = (unsigned char)(len + pad);
	if (pad)
		p[4] = 0;
	if (len > 0)
		memcpy(p + 4 + pad, mag, len);
	return 0;
}

int
jit_buf_get(struct jit_buf *b, void *out, size_t len)
{
	if (len > jit_buf_len(b))
		return JIT_ERR_MESSAGE_INCOMPLETE;
	if (out != NULL && len > 0)
		memcpy(out, b->d + b->off, len);
	b->off += len;
	return 0;
}

int
jit_buf_skip(struct jit_buf *b, size_t len)
{
	return jit_buf_get(b, NULL, len);
}

int
jit_buf_get_u8(struct jit_buf *b, uint8_t *v)
{
	return jit_buf_get(b, v, 1);
}

int
jit_buf_get_u32(struct jit_buf *b, uint32_t *v)
{
	const unsigned char *p;

	if (jit_buf_len(b) < 4)
		return JIT_ERR_MESSAGE_INCOMPLETE;
	p = b->d + b->off;
	if (v != NULL)
		*v = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
		    (uint32_t)p[2] << 8 | (uint32_t)p[3];
	b->off += 4;
	return 0;
}

int
jit_buf_get_u64(struct jit_buf *b, uint64_t *v)
{
	const unsigned char *p;
	uint64_t x = 0;
	int i;

	if (jit_buf_len(b) < 8)
		return JIT_ERR_MESSAGE_INCOMPLETE;
	p = b->d + b->off;
	for (i = 0; i < 8; i++)
		x = x << 8 | p[i];
	if (v != NULL)
		*v = x;
	b->off += 8;
	return 0;
}

int
jit_buf_peek_string_direct(const struct jit_buf *b, const unsigned char **p,
    size_t *len)
{
	const unsigned char *s;
	size_t avail = jit_buf_len(b), n;

	if (p != NULL)
		*p = NULL;
	if (len != NULL)
		*len = 0;
	if (avail < 4)
		return JIT_ERR_MESSAGE_INCOMPLETE;
	s = b->d + b->off;
	n = (size_t)s[0] << 24 | (size_t)s[1] << 16 | (size_t)s[2] << 8 | s[3];
	if (n > JIT_BUF_MAX_STRING)
		return JIT_ERR_STRING_TOO_LARGE;
	if (n > avail - 4)
		return JIT_ERR_MESSAGE_INCOMPLETE;
	if (p != NULL)
		*p = s + 4;
	if (len != NULL)
		*len = n;
	return 0;
}

int
jit_buf_get_string_direct(struct jit_buf *b, const unsigned char **p,
    size_t *len)
{
	const unsigned char *s;
	size_t n;
	int r;

	if (p != NULL)
		*p = NULL;
	if (len != NULL)
		*len = 0;
	if ((r = jit_buf_peek_string_direct(b, &s, &n)) != 0)
		return r;
	b->off += 4 + n;
	if (p != NULL)
		*p = s;
	if (len != NULL)
		*len = n;
	return 0;
}

int
jit_buf_get_string(struct jit_buf *b, unsigned char **p, size_t *len)
{
	const unsigned char *s;
	unsigned char *copy;
	size_t n;
	int r;

	*p = NULL;
	if (len != NULL)
		*len = 0;
	if ((r = jit_buf_peek_string_direct(b, &s, &n)) != 0)
		return r;
	if ((copy = (unsigned char *)jit_memdup(s, n)) == NULL)
		return JIT_ERR_ALLOC;
	b->off += 4 + n;
	*p = copy;
	if (len != NULL)
		*len = n;
	return 0;
}

int
jit_buf_get_cstring(struct jit_buf *b, char **s, size_t *len)
{
	const unsigned char *p;
	size_t n;
	int r;

	*s = NULL;
	if (len != NULL)
		*len = 0;
	if ((r = jit_buf_peek_string_direct(b, &p, &n)) != 0)
		return r;
	if (n > 0 && memchr(p, '\0', n) != NULL)
		return JIT_ERR_NUL_IN_STRING;
	return jit_buf_get_string(b, (unsigned char **)s, len);
}

int
jit_buf_get_stringb_view(struct jit_buf *b, struct jit_buf *view)
{
	const unsigned char *p;
	size_t n;
	int r;

	if ((r = jit_buf_get_string_direct(b, &p, &n)) != 0)
		return r;
	jit_buf_view(view, p, n);
	return 0;
}

int
jit_buf_get_mpint_direct(struct jit_buf *b, const unsigned char **p,
    size_t *len)
{
	const unsigned char *s;
	size_t n;
	int r;

	*p = NULL;
	*len = 0;
	if ((r = jit_buf_peek_string_direct(b, &s, &n)) != 0)
		return r;
	if (n > 0 && (s[0] & 0x80))
		return JIT_ERR_BAD_MPINT;  /* negative */
	if (n > 0 && s[0] == 0 && (n == 1 || !(s[1] & 0x80)))
		return JIT_ERR_BAD_MPINT;  /* not minimal */
	if (n > 16384 / 8 + 1)
		return JIT_ERR_BAD_MPINT;  /* larger than 16384 bits */
	b->off += 4 + n;
	if (n > 0 && s[0] == 0) {
		s++;
		n--;
	}
	*p = s;
	*len = n;
	return 0;
}

int
jit_b64_encode(const void *in, size_t len, char **out)
{
	size_t olen;
	char *o;

	*out = NULL;
	if (len > (SIZE_MAX / 4) * 3 - 3 || len > 0x7fffffff)
		return JIT_ERR_STRING_TOO_LARGE;
	olen = ((len + 2) / 3) * 4;
	if ((o = malloc(olen + 1)) == NULL)
		return JIT_ERR_ALLOC;
	EVP_EncodeBlock((unsigned char *)o, in, (int)len);
	o[olen] = '\0';
	*out = o;
	return 0;
}

int
jit_b64_decode(const char *in, size_t inlen, unsigned char **out,
    size_t *outlen)
{
	unsigned char *o;
	size_t pad = 0, olen;
	int n;

	*out = NULL;
	*outlen = 0;
	if (inlen % 4 != 0 || inlen > 0x7ffffff0)
		return JIT_ERR_INVALID_FORMAT;
	if (inlen > 0 && in[inlen - 1] == '=')
		pad++;
	if (inlen > 1 && in[inlen - 2] == '=')
		pad++;
	/* EVP_DecodeBlock ignores leading/trailing whitespace; we do not
	 * accept any, and no character it skips may hide in the middle. */
	for (size_t i = 0; i < inlen; i++) {
		unsigned char c = (unsigned char)in[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '+' || c == '/' ||
		    (c == '=' && i >= inlen - pad)))
			return JIT_ERR_INVALID_FORMAT;
	}
	if ((o = malloc(inlen / 4 * 3 + 1)) == NULL)
		return JIT_ERR_ALLOC;
	n = EVP_DecodeBlock(o, (const unsigned char *)in, (int)inlen);
	if (n < 0 || (size_t)n < pad) {
		free(o);
		return JIT_ERR_INVALID_FORMAT;
	}
	olen = (size_t)n - pad;
	o[olen] = '\0';
	*out = o;
	*outlen = olen;
	return 0;
}
