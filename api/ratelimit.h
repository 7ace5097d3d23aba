/*
 * ratelimit.h - token buckets keyed exactly by a string ("user:alice",
 * "addr:127.0.0.1"): rate tokens a second, a burst of twice that.
 *
 * Keys never share a bucket.  Memory is bounded: at most max_keys keys
 * are tracked.  A bucket that has refilled completely is the same as no
 * bucket, so such buckets are dropped first when room is needed; only
 * when every tracked key is active is the idlest one dropped (it then
 * starts again with a full bucket).
 *
 * Thread-safe.  Errors: ALLOC from jit_ratelimit_new().
 */
#ifndef JIT_RATELIMIT_H
#define JIT_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

struct jit_ratelimit;

#define JIT_RATELIMIT_DEFAULT_KEYS 65536

/* rate 0 = no limit (every call is allowed); max_keys 0 = the default. */
int jit_ratelimit_new(unsigned rate, size_t max_keys,
    struct jit_ratelimit **out);
void jit_ratelimit_free(struct jit_ratelimit *rl);

/* 1 if key may make another request at now_ms (a monotonic clock in
 * milliseconds), taking one token; 0 if not.  A key that cannot be
 * tracked (out of memory) is allowed. */
int jit_ratelimit_take(struct jit_ratelimit *rl, const char *key,
    uint64_t now_ms);

/* Keys tracked now (for tests and /metrics). */
size_t jit_ratelimit_keys(struct jit_ratelimit *rl);

#endif
