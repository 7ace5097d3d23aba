/*
 * api_int.h - what the files of the HTTP adapter share (router.c,
 * reply.c and one res_*.c per resource).  Not for other
 * modules: they use api.h.
 */
#ifndef JIT_API_INT_H
#define JIT_API_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <jansson.h>

#include "api.h"
#include "lifecycle.h"
#include "auth.h"
#include "cache.h"
#include "ratelimit.h"
#include "url.h"

/* A policy shared by the requests that started under it. */
struct policy_ref {
	struct jit_policy *p;
	unsigned refs;
};

struct jit_api {
	struct jit_store *store;
	struct jit_key *ca;
	struct jit_lifecycle *lc;
	char *ca_line;
	uint64_t clock_skew;
	uint64_t max_wait;
	unsigned rate_limit;
	pthread_mutex_t lock;            /* cur */
	struct policy_ref *cur;
	atomic_int shutting_down;
	atomic_uint_fast64_t http_counts[6];   /* by status / 100 */
	struct jit_ratelimit *limits;    /* requests per user / address */
	struct jit_ratelimit *refusals;  /* audited refusals per user */
	char *metrics_token;             /* NULL = /metrics is open */
	struct jit_cache *krl;           /* GET /v1/krl (res_krl.c) */
	struct jit_cache *metrics;       /* the store's figures (res_admin.c) */
};

/* One request being handled. */
struct call {
	struct jit_api *api;
	const struct jit_http_request *req;
	struct jit_http_response *resp;
	const struct jit_policy *p;      /* the policy it started under */
	struct jit_actor who;            /* after authenticate() */
	char user[JIT_USER_MAX + 1];
	uint64_t now;
};

/* ---- reply.c: answers ------------------------------------------------ */

/* Answer with j (reference stolen; NULL answers 500). */
void reply_json(struct call *c, unsigned status, json_t *j);
/* Answer {"error": error, "detail": ...}; error NULL = the status's
 * generic slug.  401 adds WWW-Authenticate. */
void reply_error(struct call *c, unsigned status, const char *error,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Answer text/plain text + "\n". */
void reply_text(struct call *c, unsigned status, const char *text);
/* Answer body (malloc'd, taken over) as is with content type ctype. */
void reply_body(struct call *c, unsigned status, char *body, size_t len,
    const char *ctype);
/* The HTTP status of a JIT error code: the one place this is decided. */
unsigned http_status_of(int code);
/* Answer a refused or failed lifecycle call: status from code, slug and
 * message from why (5xx are also logged with their cause). */
void reply_refusal(struct call *c, int code, const struct jit_lc_why *why);
/* Answer a failure of code while doing what (5xx logged). */
void reply_failure(struct call *c, int code, const char *what);
/* Answer the request r as JSON (r is not freed). */
void reply_request(struct call *c, unsigned status,
    const struct jit_request *r);

/* ---- reply.c: decoding ------------------------------------------------ */

/* The body as a JSON object whose members are all in allowed[] (NULL
 * terminated); an empty body is {} when empty_ok.  On error answers 400
 * and returns NULL. */
json_t *decode_body(struct call *c, const char *const *allowed, int empty_ok);
/* The optional "comment" member: absent or null -> NULL; else printable
 * text of at most JIT_MAX_COMMENT bytes; required refuses an empty one.
 * -1 after answering 400. */
int decode_comment(struct call *c, json_t *body, int required,
    const char **out);
/* Parse the query into params (url.h); -1 after answering 400. */
int decode_query(struct call *c, struct jit_query_param *params, size_t n);
/* A non-negative decimal of at most 9 digits; -1 if not. */
int parse_uint(const char *s, unsigned long *out);

#define JIT_MAX_COMMENT 1024

/* ---- the resources ------------------------------------------------------ */

void res_requests_create(struct call *c);
void res_requests_list(struct call *c);
void res_request_get(struct call *c, const char *id);
void res_request_certificate(struct call *c, const char *id);
/* name: "approve", "deny", "cancel" or "revoke". */
void res_request_action(struct call *c, const char *id, const char *name);

void res_whoami(struct call *c);
void res_metrics(struct call *c);
void res_ca(struct call *c);
void res_healthz(struct call *c);
void res_krl(struct call *c);
void res_audit(struct call *c);
/* The cached values' builders (jit_cache_build_fn; ctx is the api). */
int res_krl_build(void *ctx, uint64_t now, struct jit_buf *out,
    uint64_t *expires);
int res_metrics_build(void *ctx, uint64_t now, struct jit_buf *out,
    uint64_t *expires);

#endif
