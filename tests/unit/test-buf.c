/* test-buf.c - unit tests for ca/buf.c, the bounded SSH wire buffer. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "test.h"

static void
test_lifecycle(void)
{
	struct jit_buf b = JIT_BUF_INIT, *h;

	CHECK_INT(jit_buf_len(&b), 0);
	CHECK(jit_buf_ptr(&b) != NULL);         /* never NULL, even empty */
	CHECK_OK(jit_buf_put(&b, "abc", 3));
	CHECK_INT(jit_buf_len(&b), 3);
	CHECK_MEM(jit_buf_ptr(&b), "abc", 3);
	jit_buf_reset(&b);
	CHECK_INT(jit_buf_len(&b), 0);
	CHECK(b.d != NULL);                      /* allocation kept */
	jit_buf_release(&b);
	CHECK(b.d == NULL && b.cap == 0 && b.max == JIT_BUF_MAX);
	jit_buf_release(&b);                     /* twice is fine */
	jit_buf_release(NULL);

	jit_buf_init(&b);
	CHECK_INT(b.max, JIT_BUF_MAX);
	jit_buf_release(&b);

	REQUIRE((h = jit_buf_new()) != NULL);
	CHECK_OK(jit_buf_put_u32(h, 7));
	jit_buf_free(h);
	jit_buf_free(NULL);

	/* put of zero bytes, with or without a pointer */
	CHECK_OK(jit_buf_put(&b, NULL, 0));
	CHECK_INT(jit_buf_len(&b), 0);
	jit_buf_release(&b);
}

static void
test_ints(void)
{
	struct jit_buf b = JIT_BUF_INIT;
	uint8_t u8;
	uint32_t u32;
	uint64_t u64;
	static const unsigned char want[] = {
	    0xab,
	    0x01, 0x02, 0x03, 0x04,
	    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
	    0xff, 0xff, 0xff, 0xff,
	    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

	CHECK_OK(jit_buf_put_u8(&b, 0xab));
	CHECK_OK(jit_buf_put_u32(&b, 0x01020304));
	CHECK_OK(jit_buf_put_u64(&b, 0x0102030405060708ull));
	CHECK_OK(jit_buf_put_u32(&b, UINT32_MAX));
	CHECK_OK(jit_buf_put_u64(&b, UINT64_MAX));
	CHECK_INT(jit_buf_len(&b), sizeof(want));
	CHECK_MEM(jit_buf_ptr(&b), want, sizeof(want));
	CHECK_OK(jit_buf_get_u8(&b, &u8));
	CHECK_INT(u8, 0xab);
	CHECK_OK(jit_buf_get_u32(&b, &u32));
	CHECK_U64(u32, 0x01020304);
	CHECK_OK(jit_buf_get_u64(&b, &u64));
	CHECK_U64(u64, 0x0102030405060708ull);
	CHECK_OK(jit_buf_get_u32(&b, NULL));    /* NULL skips */
	CHECK_INT(jit_buf_len(&b), 8);
	/* short reads fail and consume nothing */
	CHECK_OK(jit_buf_skip(&b, 5));
	CHECK_INT(jit_buf_get_u64(&b, &u64), JIT_ERR_MESSAGE_INCOMPLETE);
	CHECK_INT(jit_buf_get_u32(&b, &u32), JIT_ERR_MESSAGE_INCOMPLETE);
	CHECK_INT(jit_buf_len(&b), 3);
	CHECK_OK(jit_buf_get_u8(&b, &u8));
	CHECK_OK(jit_buf_get_u8(&b, &u8));
	CHECK_OK(jit_buf_get_u8(&b, &u8));
	CHECK_INT(u8, 0xff);
	CHECK_INT(jit_buf_get_u8(&b, &u8), JIT_ERR_MESSAGE_INCOMPLETE);
	CHECK_INT(jit_buf_skip(&b, 1), JIT_ERR_MESSAGE_INCOMPLETE);
	CHECK_OK(jit_buf_skip(&b, 0));
	jit_buf_release(&b);
}

static void
test_get_bytes(void)
{
	struct jit_buf b;
	unsigned char out[4];

	jit_buf_view(&b, "hello", 5);
	CHECK_OK(jit_buf_get(&b, out, 4));
	CHECK_MEM(out, "hell", 4);
	CHECK_INT(jit_buf_get(&b, out, 2), JIT_ERR_MESSAGE_INCOMPLETE);
	CHECK_INT(jit_buf_len(&b), 1);
	CHECK_OK(jit_buf_get(&b, NULL, 1));
	CHECK_INT(jit_buf_len(&b), 0);
	CHECK_INT(jit_buf_get(&b, out, SIZE_MAX), JIT_ERR_MESSAGE_INCOMPLETE);
}

static void
test_strings(void)
{
	struct jit_buf b = JIT_BUF_INIT, v, src = JIT_BUF_INIT;
	const unsigned char *p;
	unsigned char *s;
	char *cs;
	size_t len;

	CHECK_OK(jit_buf_put_string(&b, "abc", 3));
	CHECK_OK(jit_buf_put_cstring(&b, "hi"));
	CHECK_OK(jit_buf_put_cstring(&b, NULL));      /* empty string */
	CHECK_OK(jit_buf_put_string(&b, "a\0b", 3));
	CHECK_OK(jit_buf_put(&src, "xyz", 3));
	CHECK_OK(jit_buf_put_stringb(&b, &src));
	CHECK_INT(jit_buf_len(&src), 3);               /* not consumed */
	CHECK_MEM(jit_buf_ptr(&b), "\0\0\0\3abc\0\0\0\2hi\0\0\0\0", 16);

	/* peek leaves the position; direct get moves it */
	CHECK_OK(jit_buf_peek_string_direct(&b, &p, &len));
	CHECK_INT(len, 3);
	CHECK_MEM(p, "abc", 3);
	CHECK_OK(jit_buf_get_string_direct(&b, &p, &len));
	CHECK_INT(len, 3);
	CHECK_MEM(p, "abc", 3);
	CHECK_OK(jit_buf_get_cstring(&b, &cs, &len));
	CHECK_STR(cs, "hi");
	CHECK_INT(len, 2);
	free(cs);
	CHECK_OK(jit_buf_get_cstring(&b, &cs, NULL));
	CHECK_STR(cs, "");
	free(cs);
	/* a NUL inside: cstring refuses without consuming, string copies */
	CHECK_INT(jit_buf_get_cstring(&b, &cs, &len), JIT_ERR_NUL_IN_STRING);
	CHECK(cs == NULL);
	CHECK_INT(len, 0);
	CHECK_OK(jit_buf_get_string(&b, &s, &len));
	CHECK_INT(len, 3);
	CHECK_MEM(s, "a\0b", 4);                       /* NUL-terminated */
	free(s);
	CHECK_OK(jit_buf_get_stringb_view(&b, &v));
	CHECK_INT(jit_buf_len(&v), 3);
	CHECK_MEM(jit_buf_ptr(&v), "xyz", 3);
	CHECK_INT(jit_buf_put_u8(&v, 1), JIT_ERR_INVALID_ARGUMENT);
	CHECK_INT(jit_buf_len(&b), 0);
	/* skip with NULL outputs */
	CHECK_OK(jit_buf_put_cstring(&b, "skip"));
	CHECK_OK(jit_buf_get_string_direct(&b, NULL, NULL));
	CHECK_INT(jit_buf_len(&b), 0);
	jit_buf_release(&b);
	jit_buf_release(&src);
}

static void
test_string_bounds(void)
{
	static const unsigned char trunc[] = { 0, 0, 0, 5, 'a', 'b', 'c' };
	static const unsigned char huge[] = { 0xff, 0xff, 0xff, 0xff, 'a' };
	static const unsigned char bigger[] = { 0x00, 0x10, 0x00, 0x01, 'a' };
	static const unsigned char atmax[] = { 0x00, 0x10, 0x00, 0x00, 'a' };
	static const unsigned char shortlen[] = { 0, 0, 0 };
	struct jit_buf b;
	const unsigned char *p = (const unsigned char *)1;
	unsigned char *s = (unsigned char *)1;
	char *cs = (char *)1;
	size_t len = 99;

	jit_buf_view(&b, trunc, sizeof(trunc));
	CHECK_INT(jit_buf_get_string_direct(&b, &p, &len),
	    JIT_ERR_MESSAGE_INCOMPLETE);
	CHECK(p == NULL);
	CHECK_INT(len, 0);
	CHECK_INT(jit_buf_get_string(&b, &s, &len),
	    JIT_ERR_MESSAGE_INCOMPLETE);
	CHECK(s == NULL);
	CHECK_INT(jit_buf_get_cstring(&b, &cs, &len),
	    JIT_ERR_MESSAGE_INCOMPLETE);
	CHECK(cs == NULL);
	CHECK_INT(jit_buf_len(&b), sizeof(trunc));
	jit_buf_view(&b, huge, sizeof(huge));
	CHECK_INT(jit_buf_get_string_direct(&b, &p, &len),
	    JIT_ERR_STRING_TOO_LARGE);
	CHECK_INT(jit_buf_peek_string_direct(&b, &p, &len),
	    JIT_ERR_STRING_TOO_LARGE);
	jit_buf_view(&b, bigger, sizeof(bigger));
	CHECK_INT(jit_buf_get_string_direct(&b, &p, &len),
	    JIT_ERR_STRING_TOO_LARGE);
	/* exactly JIT_BUF_MAX_STRING is allowed, but the data is short */
	jit_buf_view(&b, atmax, sizeof(atmax));
	CHECK_INT(jit_buf_get_string_direct(&b, &p, &len),
	    JIT_ERR_MESSAGE_INCOMPLETE);
	jit_buf_view(&b, shortlen, sizeof(shortlen));
	CHECK_INT(jit_buf_get_string_direct(&b, &p, &len),
	    JIT_ERR_MESSAGE_INCOMPLETE);
	jit_buf_view(&b, NULL, 0);
	CHECK_INT(jit_buf_get_string_direct(&b, &p, &len),
	    JIT_ERR_MESSAGE_INCOMPLETE);
	CHECK_INT(jit_buf_get_stringb_view(&b, &b),
	    JIT_ERR_MESSAGE_INCOMPLETE);
	/* a string of exactly JIT_BUF_MAX_STRING bytes reads */
	{
		struct jit_buf w = JIT_BUF_INIT;
		unsigned char *big = calloc(1, JIT_BUF_MAX_STRING);
		REQUIRE(big != NULL);
		CHECK_OK(jit_buf_put_string(&w, big, JIT_BUF_MAX_STRING));
		CHECK_OK(jit_buf_get_string_direct(&w, &p, &len));
		CHECK_INT(len, JIT_BUF_MAX_STRING);
		jit_buf_release(&w);
		free(big);
	}
}

static void
test_max(void)
{
	struct jit_buf b = JIT_BUF_INIT;
	unsigned char *p;

	CHECK_OK(jit_buf_set_max(&b, 8));
	CHECK_OK(jit_buf_put_u64(&b, 1));
	CHECK_INT(jit_buf_put_u8(&b, 1), JIT_ERR_NO_BUFFER_SPACE);
	CHECK_INT(jit_buf_put_string(&b, "", 0), JIT_ERR_NO_BUFFER_SPACE);
	CHECK_INT(jit_buf_len(&b), 8);                 /* unchanged */
	CHECK_INT(jit_buf_reserve(&b, SIZE_MAX, &p), JIT_ERR_NO_BUFFER_SPACE);
	CHECK(p == NULL);
	/* consumed bytes at the front make room again */
	CHECK_OK(jit_buf_get_u32(&b, NULL));
	CHECK_OK(jit_buf_put_u32(&b, 2));
	CHECK_INT(jit_buf_len(&b), 8);
	CHECK_INT(jit_buf_put_u8(&b, 1), JIT_ERR_NO_BUFFER_SPACE);
	jit_buf_release(&b);

	/* raise the limit of a small buffer holding little data */
	CHECK_OK(jit_buf_put_u8(&b, 1));
	CHECK_OK(jit_buf_set_max(&b, 1 << 20));
	CHECK_OK(jit_buf_reserve(&b, 100000, &p));
	CHECK(p != NULL);
	CHECK_INT(jit_buf_len(&b), 100001);
	CHECK_INT(jit_buf_set_max(&b, 10), JIT_ERR_NO_BUFFER_SPACE);
	jit_buf_release(&b);

	/* growth keeps earlier data intact across many reallocations */
	for (uint32_t i = 0; i < 100000; i++)
		REQUIRE_OK(jit_buf_put_u32(&b, i));
	for (uint32_t i = 0, v; i < 100000; i++) {
		REQUIRE_OK(jit_buf_get_u32(&b, &v));
		if (v != i) {
			CHECK_U64(v, i);
			break;
		}
	}
	jit_buf_release(&b);

	/* a view is read-only */
	jit_buf_view(&b, "abcd", 4);
	CHECK_INT(jit_buf_put_u8(&b, 1), JIT_ERR_INVALID_ARGUMENT);
	CHECK_INT(jit_buf_reserve(&b, 1, &p), JIT_ERR_INVALID_ARGUMENT);
	CHECK_INT(jit_buf_set_max(&b, 100), JIT_ERR_INVALID_ARGUMENT);
	jit_buf_reset(&b);                               /* just consumes */
	CHECK_INT(jit_buf_len(&b), 0);
	jit_buf_release(&b);                             /* frees nothing */
}

static void
test_mpint_put(void)
{
	struct jit_buf b = JIT_BUF_INIT;
	static const unsigned char zero[] = { 0, 0, 0 };
	static const unsigned char one[] = { 0, 0, 1 };
	static const unsigned char high[] = { 0x80, 0x01 };
	static const unsigned char want[] = {
	    0, 0, 0, 0,                 /* zero: empty */
	    0, 0, 0, 0,                 /* zero length input */
	    0, 0, 0, 1, 1,              /* leading zeros stripped */
	    0, 0, 0, 3, 0, 0x80, 1,     /* sign byte added */
	};

	CHECK_OK(jit_buf_put_mpint(&b, zero, sizeof(zero)));
	CHECK_OK(jit_buf_put_mpint(&b, NULL, 0));
	CHECK_OK(jit_buf_put_mpint(&b, one, sizeof(one)));
	CHECK_OK(jit_buf_put_mpint(&b, high, sizeof(high)));
	CHECK_INT(jit_buf_len(&b), sizeof(want));
	CHECK_MEM(jit_buf_ptr(&b), want, sizeof(want));
	jit_buf_release(&b);
}

static void
test_mpint_get(void)
{
	static const unsigned char ok[] = {
	    0, 0, 0, 0,                 /* zero */
	    0, 0, 0, 1, 0x7f,
	    0, 0, 0, 2, 0, 0x80,        /* sign byte needed: fine */
	    0, 0, 0, 2, 1, 0 };
	static const unsigned char neg[] = { 0, 0, 0, 1, 0x80 };
	static const unsigned char nonmin1[] = { 0, 0, 0, 1, 0 };
	static const unsigned char nonmin2[] = { 0, 0, 0, 2, 0, 0x7f };
	static const unsigned char nonmin3[] = { 0, 0, 0, 3, 0, 0, 0x80 };
	static const unsigned char trunc[] = { 0, 0, 0, 3, 1, 2 };
	struct jit_buf b;
	const unsigned char *p;
	size_t len;

	jit_buf_view(&b, ok, sizeof(ok));
	CHECK_OK(jit_buf_get_mpint_direct(&b, &p, &len));
	CHECK_INT(len, 0);
	CHECK_OK(jit_buf_get_mpint_direct(&b, &p, &len));
	CHECK_INT(len, 1);
	CHECK_INT(p[0], 0x7f);
	CHECK_OK(jit_buf_get_mpint_direct(&b, &p, &len));
	CHECK_INT(len, 1);                              /* sign byte dropped */
	CHECK_INT(p[0], 0x80);
	CHECK_OK(jit_buf_get_mpint_direct(&b, &p, &len));
	CHECK_INT(len, 2);
	CHECK_INT(jit_buf_len(&b), 0);

	jit_buf_view(&b, neg, sizeof(neg));
	CHECK_INT(jit_buf_get_mpint_direct(&b, &p, &len), JIT_ERR_BAD_MPINT);
	CHECK(p == NULL);
	CHECK_INT(jit_buf_len(&b), sizeof(neg));        /* not consumed */
	jit_buf_view(&b, nonmin1, sizeof(nonmin1));
	CHECK_INT(jit_buf_get_mpint_direct(&b, &p, &len), JIT_ERR_BAD_MPINT);
	jit_buf_view(&b, nonmin2, sizeof(nonmin2));
	CHECK_INT(jit_buf_get_mpint_direct(&b, &p, &len), JIT_ERR_BAD_MPINT);
	jit_buf_view(&b, nonmin3, sizeof(nonmin3));
	CHECK_INT(jit_buf_get_mpint_direct(&b, &p, &len), JIT_ERR_BAD_MPINT);
	jit_buf_view(&b, trunc, sizeof(trunc));
	CHECK_INT(jit_buf_get_mpint_direct(&b, &p, &len),
	    JIT_ERR_MESSAGE_INCOMPLETE);

	/* 16384 bits is the largest accepted; one more byte is refused */
	{
		struct jit_buf w = JIT_BUF_INIT;
		unsigned char big[2050];
		memset(big, 0x7f, sizeof(big));
		CHECK_OK(jit_buf_put_string(&w, big, 2048));
		CHECK_OK(jit_buf_get_mpint_direct(&w, &p, &len));
		CHECK_INT(len, 2048);
		big[0] = 0;
		big[1] = 0x80;
		jit_buf_reset(&w);
		CHECK_OK(jit_buf_put_string(&w, big, 2049));
		CHECK_OK(jit_buf_get_mpint_direct(&w, &p, &len));
		CHECK_INT(len, 2048);
		jit_buf_reset(&w);
		big[0] = 0x7f;
		CHECK_OK(jit_buf_put_string(&w, big, 2050));
		CHECK_INT(jit_buf_get_mpint_direct(&w, &p, &len),
		    JIT_ERR_BAD_MPINT);
		jit_buf_release(&w);
	}
	/* round trip of every one-byte value */
	for (unsigned v = 0; v < 256; v++) {
		struct jit_buf w = JIT_BUF_INIT;
		unsigned char x = (unsigned char)v;
		REQUIRE_OK(jit_buf_put_mpint(&w, &x, 1));
		REQUIRE_OK(jit_buf_get_mpint_direct(&w, &p, &len));
		CHECK_INT(len, v == 0 ? 0 : 1);
		if (v != 0)
			CHECK_INT(p[0], v);
		jit_buf_release(&w);
	}
}

static void
test_b64(void)
{
	static const struct { const char *in, *out; } kat[] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" },
		{ "foo", "Zm9v" }, { "foob", "Zm9vYg==" },
		{ "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" } };
	static const char *const bad[] = {
		"Zg=", "Zg", "Z===", "Zm9v\n", " Zm9v", "Zm 9v", "Zm9v Zm9v",
		"Zm=v", "=Zm9", "Zm9*", "Zm9v====", "Zg==Zg==", "Zm9\0" };
	unsigned char *out, bin[256];
	char *enc;
	size_t len;

	for (size_t i = 0; i < sizeof(kat) / sizeof(kat[0]); i++) {
		CHECK_OK(jit_b64_encode(kat[i].in, strlen(kat[i].in), &enc));
		CHECK_STR(enc, kat[i].out);
		free(enc);
		CHECK_OK(jit_b64_decode(kat[i].out, strlen(kat[i].out), &out,
		    &len));
		CHECK_INT(len, strlen(kat[i].in));
		CHECK_MEM(out, kat[i].in, len + 1);     /* NUL-terminated */
		free(out);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t n = strlen(bad[i]);
		out = (unsigned char *)1;
		len = 99;
		if (i == sizeof(bad) / sizeof(bad[0]) - 1)
			n = 4;                          /* embedded NUL */
		CHECK_INT(jit_b64_decode(bad[i], n, &out, &len),
		    JIT_ERR_INVALID_FORMAT);
		CHECK(out == NULL);
		CHECK_INT(len, 0);
	}
	for (size_t i = 0; i < sizeof(bin); i++)
		bin[i] = (unsigned char)(i * 7 + 3);
	for (size_t n = 0; n <= sizeof(bin); n++) {
		REQUIRE_OK(jit_b64_encode(bin, n, &enc));
		CHECK_INT(strlen(enc), (n + 2) / 3 * 4);
		REQUIRE_OK(jit_b64_decode(enc, strlen(enc), &out, &len));
		CHECK_INT(len, n);
		if (len == n)
			CHECK_MEM(out, bin, n);
		free(out);
		free(enc);
	}
}

static void
test_wipe(void)
{
	unsigned char x[16];

	memset(x, 0xaa, sizeof(x));
	jit_wipe(x, sizeof(x));
	for (size_t i = 0; i < sizeof(x); i++)
		CHECK_INT(x[i], 0);
	jit_wipe(NULL, 10);
	jit_wipe(x, 0);
}

int
main(void)
{
	test_lifecycle();
	test_ints();
	test_get_bytes();
	test_strings();
	test_string_bounds();
	test_max();
	test_mpint_put();
	test_mpint_get();
	test_b64();
	test_wipe();
	TEST_DONE();
}
