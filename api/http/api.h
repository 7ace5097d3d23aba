/*
 * api.h - the approval API over HTTP: a thin adapter between HTTP
 * requests and the request lifecycle (lifecycle.h).
 *
 * jit_api_handle() takes one whole HTTP request (method, path, query
 * string, Authorization header, body) and produces one response (status,
 * content type, body).  It knows nothing about sockets: http.c calls it
 * for the server, the fuzz tests call it directly.  It is thread-safe:
 * any number of threads may be inside it at once.
 *
 * It authenticates the caller (auth.h), applies the per-user rate limit,
 * decodes the body, calls the lifecycle and encodes its answer; every
 * rule about who may do what to which request lives in the lifecycle.
 * Each resource has its own file: res_requests.c (/v1/requests...),
 * res_admin.c (/v1/whoami, /v1/ca, /healthz, /metrics), res_krl.c
 * (/v1/krl), res_audit.c (/v1/audit); router.c dispatches and reply.c
 * holds the one mapping from lifecycle errors to HTTP statuses.  The KRL
 * and the store's figures in /metrics come from a cache (cache.h).  Every
 * endpoint, body, reply and error slug is in docs/API.md.
 */
#ifndef JIT_API_H
#define JIT_API_H

#include <stddef.h>
#include <stdint.h>

#include "http.h"
#include "key.h"
#include "lifecycle.h"
#include "policy.h"
#include "store.h"

struct jit_api_options {
	struct jit_store *store;     /* borrowed; outlives the api */
	struct jit_key *ca;          /* CA private key; borrowed */
	uint64_t clock_skew;         /* seconds valid_after is backdated */
	uint64_t max_wait;           /* cap on ?wait= (seconds) */
	unsigned rate_limit;         /* requests/s per user; 0 = off */
	unsigned max_pending;        /* pending requests per user (all
	                                roles); 0 = no limit */
	const char *metrics_token;   /* GET /metrics needs it as a bearer
	                                token; NULL = open.  Copied. */
};

struct jit_api;

/* New API context.  policy is taken over (freed by the api).  Errors:
 * ALLOC, INVALID_ARGUMENT, key errors (CA public line). */
int jit_api_new(const struct jit_api_options *opt, struct jit_policy *policy,
    struct jit_api **out);

/* Free the api (and its current policy).  No thread may be inside
 * jit_api_handle().  NULL is a no-op. */
void jit_api_free(struct jit_api *api);

/* Replace the policy (taken over).  Requests already running keep the
 * old one until they finish; it is freed after the last of them. */
void jit_api_set_policy(struct jit_api *api, struct jit_policy *policy);

/* Handle one request (jit_http_handler_fn).  ctx is a struct jit_api *.
 * resp must be zeroed; the caller releases it. */
void jit_api_handle(void *ctx, const struct jit_http_request *req,
    struct jit_http_response *resp);

/* Make long-polls return now and refuse new ones (shutdown). */
void jit_api_shutdown(struct jit_api *api);

/* One sweep at time now: pending requests past expires_at become
 * "expired", approved grants past not_after become "ended", each with its
 * audit entry.  *expired / *ended (may be NULL) count the changes. */
int jit_api_sweep(struct jit_api *api, uint64_t now, unsigned *expired,
    unsigned *ended);

/* The current policy's meaning for the open requests
 * (jit_lc_policy_check, lifecycle.h): call after every policy load. */
int jit_api_policy_check(struct jit_api *api, uint64_t now,
    jit_lc_reload_fn report, void *report_ctx,
    struct jit_lc_reload_counts *counts);

/* Append an audit entry of event (e.g. "server.start") with actor
 * "system", the current policy's hash and source, the CA fingerprint and
 * the extra members of fields (may be NULL; borrowed). */
int jit_api_audit(struct jit_api *api, const char *event, json_t *fields);

#endif
