/*
 * util.h - small helpers shared by every part: durations, times, files.
 */
#ifndef JIT_UTIL_H
#define JIT_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Parse "90", "90s", "30m", "1h", "2d" (also "1h30m") into seconds.
 * Rejects empty, negative, unknown units, overflow and zero.  Returns 0
 * or JIT_ERR_BAD_DURATION. */
int jit_parse_duration(const char *s, uint64_t *seconds);

/* Format seconds as the shortest exact "2d", "1h30m", "45s"; writes at
 * most len bytes including the NUL. */
void jit_format_duration(uint64_t seconds, char *out, size_t len);

/* RFC 3339 UTC "2026-11-30T07:42:00Z" (21 bytes incl. NUL). */
#define JIT_TIME_LEN 21
void jit_format_time(uint64_t t, char out[JIT_TIME_LEN]);
/* Parse RFC 3339 with Z or +HH:MM offset, or a plain integer epoch. */
int jit_parse_time(const char *s, uint64_t *t);

/* Seconds since the epoch, wall clock. */
uint64_t jit_now(void);
/* Monotonic milliseconds (for timing and deadlines). */
uint64_t jit_monotonic_ms(void);

/* Read a whole file of at most max bytes into a new NUL-terminated
 * allocation.  Errors: NOT_FOUND, PERMISSION, NO_BUFFER_SPACE (too big),
 * SYSTEM. */
int jit_read_file(const char *path, size_t max, unsigned char **data,
    size_t *len);

/* Write data to path atomically: a temporary file in the same directory
 * with the given mode, fsync, rename, fsync of the directory.  With
 * exclusive set an existing path gives FILE_EXISTS and nothing changes. */
int jit_write_file_atomic(const char *path, const void *data, size_t len,
    unsigned mode, int exclusive);

/* Map an errno value to a JIT_ERR_* code. */
int jit_err_from_errno(int e);

/* Constant-time equality of two byte strings of equal length. */
int jit_ct_equal(const void *a, const void *b, size_t len);

/* Format a message into err[errlen] (truncated, always NUL-terminated);
 * a NULL err or zero errlen is a no-op.  For "why it failed" buffers. */
void jit_seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Duplicate a string (NULL-safe: returns NULL for NULL). */
char *jit_strdup(const char *s);

/* A new copy of the len bytes at p (which may hold NUL bytes; p may be
 * NULL when len is 0) with a NUL after them; NULL when out of memory. */
char *jit_memdup(const void *p, size_t len);

/* Replace *dst (freed; may be NULL) with a copy of v: 0, or ALLOC with
 * *dst unchanged. */
int jit_strset(char **dst, const char *v);

/* 1 if s is text a person typed: no C0 or C1 control characters, no DEL
 * and no bidi embedding, override or isolate (U+202A..U+202E,
 * U+2066..U+2069); other UTF-8 is allowed.  0 otherwise. */
int jit_text_printable(const char *s);

/* Lowercase hex of len bytes into out (2*len+1 bytes). */
void jit_hex(const unsigned char *in, size_t len, char *out);

/* 1 if host (a URL's host; IPv6 with or without brackets) is a loopback
 * address (127.0.0.0/8, ::1) or "localhost", else 0. */
int jit_host_loopback(const char *host);

/* Append name=value to the application/x-www-form-urlencoded form being
 * built in *form (NULL to start; pairs joined with "&"; reallocated;
 * the old string is wiped, as a form may carry secrets).  Every byte
 * but A-Z a-z 0-9 - . _ ~ is percent-encoded.  0 or ALLOC. */
int jit_form_add(char **form, const char *name, const char *value);

/* libsodium initialised (once per process, any thread may ask): 0, or
 * CRYPTO if it could not be. */
int jit_sodium_ready(void);

/*
 * n random bytes into out, from the kernel's generator (libsodium's
 * randombytes_buf, after jit_sodium_ready) fetched JIT_RANDOM_POOL
 * bytes at a time into a pool of the calling thread: a small draw (an
 * issuance takes a certificate nonce and a request id) costs no system
 * call.  Each byte is handed out once and wiped from the pool when it
 * is; a child made by fork() starts with an empty pool (pthread_atfork).
 * Draws larger than a quarter of the pool go to the kernel directly.
 * Any thread.
 */
#define JIT_RANDOM_POOL 256
void jit_random(void *out, size_t n);

#endif
