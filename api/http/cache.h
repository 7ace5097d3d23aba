/*
 * cache.h - a value the HTTP adapter serves often and builds rarely
 * (GET /v1/krl, the store's part of GET /metrics).
 *
 * A built value is served again to a caller while the store's commit id
 * (jit_store_commit_id, store.h: it grows with every commit by any
 * process, or on PostgreSQL any node) as the caller reads it is not
 * above the one read before the value was built, and the time has not
 * reached the value's own expiry, which its build function sets: the
 * KRL's is the moment its first listed certificate drops out.  Otherwise
 * the next caller builds it again, and callers that come while a build
 * runs wait for that build instead of starting their own (single
 * flight), so N hosts polling at once cost one build.
 *
 * Thread-safe.  Errors: ALLOC and the build function's.
 */
#ifndef JIT_CACHE_H
#define JIT_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "store.h"

struct jit_cache;

/* Build the value at time now (UNIX seconds) into the empty out; set
 * *expires to the first time at which it is no longer right by itself
 * (UINT64_MAX: only a store change makes it stale).  0 or a negative
 * JIT_ERR_* (nothing is cached then). */
typedef int (*jit_cache_build_fn)(void *ctx, uint64_t now,
    struct jit_buf *out, uint64_t *expires);

/* A new, empty cache over store s (borrowed, outlives the cache) built
 * by fn(ctx, ...).  ALLOC. */
int jit_cache_new(struct jit_store *s, jit_cache_build_fn fn, void *ctx,
    struct jit_cache **out);
/* No thread may be inside jit_cache_get().  NULL is a no-op. */
void jit_cache_free(struct jit_cache *c);

/* The value at time now, built first if it is stale (or waiting for the
 * build another thread runs).  *out is a malloc'd copy of its *len bytes
 * followed by a NUL (caller frees).  Errors: ALLOC, the build's. */
int jit_cache_get(struct jit_cache *c, uint64_t now, char **out,
    size_t *len);

struct jit_cache_stats {
	uint64_t builds;    /* values built */
	uint64_t hits;      /* answers served without a build */
	uint64_t waits;     /* times a caller waited for another's build */
};
void jit_cache_get_stats(struct jit_cache *c, struct jit_cache_stats *st);

#endif
