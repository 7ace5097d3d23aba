/*
 * buf.h - bounded SSH wire buffer.
 *
 * Every byte of SSH wire data (RFC 4251 encodings) in jit-ssh is written
 * and read through a struct jit_buf.  Invariants:
 *   - data lives in d[off .. end); reads consume from off, writes append
 *     at end;
 *   - the buffer never grows past `max` bytes (default JIT_BUF_MAX);
 *   - every length read from the wire is checked against what remains with
 *     subtraction, so it cannot overflow;
 *   - a buffer made by jit_buf_view() borrows its bytes and is read-only;
 *   - jit_buf_release() wipes the bytes before freeing them, so a buffer
 *     may hold secrets.
 *
 * A struct jit_buf may live on the stack: initialise it with JIT_BUF_INIT
 * or jit_buf_init() and release it with jit_buf_release().
 *
 * "direct" getters return pointers into the buffer; they stay valid until
 * the buffer is next written to, released or freed.
 */
#ifndef JIT_BUF_H
#define JIT_BUF_H

#include <stddef.h>
#include <stdint.h>

#define JIT_BUF_MAX (16u * 1024 * 1024)  /* default size limit */
#define JIT_BUF_MAX_STRING (1u << 20)  /* longest single string read */

struct jit_buf {
	unsigned char *d;  /* storage (owned unless readonly) */
	size_t off;        /* read position */
	size_t end;        /* end of data */
	size_t cap;        /* allocated size */
	size_t max;        /* never grow beyond this */
	int readonly;      /* view over borrowed bytes */
};

#define JIT_BUF_INIT { NULL, 0, 0, 0, JIT_BUF_MAX, 0 }

/* Lifecycle (git's names): init = empty; release = wipe+free contents
 * and re-init; new/free = heap struct.  jit_buf_free(NULL) is a no-op. */
void jit_buf_init(struct jit_buf *b);
void jit_buf_release(struct jit_buf *b);
struct jit_buf *jit_buf_new(void);
void jit_buf_free(struct jit_buf *b);

/* Read-only view over [p, p+len); the bytes are borrowed, not copied. */
void jit_buf_view(struct jit_buf *b, const void *p, size_t len);

/* Set the size limit; fails with NO_BUFFER_SPACE if already larger. */
int jit_buf_set_max(struct jit_buf *b, size_t max);

/* Drop all data (wiping it); keeps the allocation. */
void jit_buf_reset(struct jit_buf *b);

/* Bytes left to read, and a pointer to them. */
size_t jit_buf_len(const struct jit_buf *b);
const unsigned char *jit_buf_ptr(const struct jit_buf *b);

/* Make room for len bytes at the end and return a pointer to them in *p;
 * the bytes count as data.  Fails with NO_BUFFER_SPACE past max. */
int jit_buf_reserve(struct jit_buf *b, size_t len, unsigned char **p);

/* Grow the allocation so len more bytes fit without reallocating; the
 * data is unchanged.  Fails with NO_BUFFER_SPACE past max. */
int jit_buf_ensure(struct jit_buf *b, size_t len);

/* Keep only the first keep readable bytes, wiping the rest (undo of
 * appends made after jit_buf_len() was keep).  No-op if len <= keep. */
void jit_buf_truncate(struct jit_buf *b, size_t keep);

/* Writers append.  On error the buffer is unchanged. */
int jit_buf_put(struct jit_buf *b, const void *v, size_t len);
int jit_buf_put_u8(struct jit_buf *b, uint8_t v);
int jit_buf_put_u32(struct jit_buf *b, uint32_t v);
int jit_buf_put_u64(struct jit_buf *b, uint64_t v);
int jit_buf_put_string(struct jit_buf *b, const void *v, size_t len);
int jit_buf_put_cstring(struct jit_buf *b, const char *s);
/* string(contents of src), src not consumed */
int jit_buf_put_stringb(struct jit_buf *b, const struct jit_buf *src);
/* mpint from an unsigned big-endian magnitude (leading zeros stripped,
 * 0x00 prepended when the top bit is set; zero becomes the empty string) */
int jit_buf_put_mpint(struct jit_buf *b, const unsigned char *mag, size_t len);

/* Readers consume.  On error the read position is unchanged. */
int jit_buf_get_u8(struct jit_buf *b, uint8_t *v);
int jit_buf_get_u32(struct jit_buf *b, uint32_t *v);
int jit_buf_get_u64(struct jit_buf *b, uint64_t *v);
int jit_buf_skip(struct jit_buf *b, size_t len);
int jit_buf_get(struct jit_buf *b, void *out, size_t len);
/* string: pointer into the buffer (may be NULL args to skip) */
int jit_buf_get_string_direct(struct jit_buf *b, const unsigned char **p,
    size_t *len);
int jit_buf_peek_string_direct(const struct jit_buf *b,
    const unsigned char **p, size_t *len);
/* string copied into a new NUL-terminated allocation the caller frees */
int jit_buf_get_string(struct jit_buf *b, unsigned char **p, size_t *len);
/* string that must not contain NUL; new allocation, caller frees */
int jit_buf_get_cstring(struct jit_buf *b, char **s, size_t *len);
/* string as a view buffer over the same bytes (no copy) */
int jit_buf_get_stringb_view(struct jit_buf *b, struct jit_buf *view);
/* mpint that must be non-negative and minimally encoded; *p points at
 * the magnitude without the sign byte (len 0 for zero) */
int jit_buf_get_mpint_direct(struct jit_buf *b, const unsigned char **p,
    size_t *len);

/* Base64 (standard alphabet, padded).  Outputs are new allocations,
 * NUL-terminated, caller frees. decode rejects bad characters and
 * whitespace. */
int jit_b64_encode(const void *in, size_t len, char **out);
int jit_b64_decode(const char *in, size_t inlen, unsigned char **out,
    size_t *outlen);

/* Wipe memory in a way the compiler cannot elide. */
void jit_wipe(void *p, size_t len);

#endif
