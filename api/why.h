/*
 * why.h - why a call was refused: a stable machine slug and a sentence.
 *
 * The modules whose calls refuse for reasons a client should see (the
 * request lifecycle, lifecycle.h; host enrollment, hosts.h) return a
 * negative JIT_ERR_* and fill a struct jit_why.  The HTTP layer answers
 * with the slug and the message (api/http/reply.c, reply_refusal); the
 * slugs are listed in docs/API.md.
 *
 * A why is caller-owned storage; every function taking one accepts NULL
 * (the caller does not want to know).
 */
#ifndef JIT_WHY_H
#define JIT_WHY_H

struct jit_why {
	const char *slug;        /* static machine slug; NULL on success */
	char message[256];       /* for people; "" on success */
};

/* Set why's slug and message (printf-style, truncated to fit); returns
 * code, so refusals read
 * `return jit_refuse(why, JIT_ERR_CONFLICT, "conflict", "...")`. */
int jit_refuse(struct jit_why *why, int code, const char *slug,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Clear why: no slug, an empty message. */
void jit_why_clear(struct jit_why *why);

#endif
