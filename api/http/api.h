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
 * res_view.c (what ?view=1 adds), res_history.c (/v1/requests/ID/
 * history), res_admin.c (/v1/whoami, /v1/ca, /healthz, /metrics),
 * res_krl.c (/v1/krl), res_audit.c (/v1/audit), res_hosts.c
 * (/v1/ca/host, /v1/hosts/...), res_session.c
 * (/v1/session: the web page's sign-in), res_web.c (the page, /r/ID),
 * res_sessions.c (/v1/oidc, /v1/sessions: single sign-on for jit-ssh)
 * and res_oidc_web.c (/oidc/login, /oidc/callback: the page's);
 * router.c authenticates (a bearer token, or a session cookie with its
 * CSRF and origin checks) and dispatches, and reply.c holds the one
 * mapping from lifecycle errors to HTTP statuses.  The KRL and the
 * store's figures in /metrics come from a cache (cache.h).  Every
 * endpoint, body, reply and error slug is in docs/API.md.
 */
#ifndef JIT_API_H
#define JIT_API_H

#include <stddef.h>
#include <stdint.h>

#include "http.h"
#include "key.h"
#include "lifecycle.h"
#include "oidc.h"
#include "policy.h"
#include "store.h"

struct jit_lc_event;

/* Called inside the write transaction of every committed change, after
 * its audit entry (the lifecycle's hook, lifecycle.h), with the policy in
 * force (borrowed for the call); a non-zero return rolls the change back.
 * The notifier's jit_notify_hook (notify.h) is one. */
typedef int (*jit_api_hook_fn)(struct jit_store_txn *t,
    const struct jit_lc_event *ev, const struct jit_policy *p, void *ctx);

struct jit_api_options {
	struct jit_store *store;     /* borrowed; outlives the api */
	struct jit_key *ca;          /* CA private key; borrowed */
	struct jit_key *host_ca;     /* host CA private key; borrowed; NULL:
	                                no host certificates (hosts.h) */
	uint64_t host_cert_validity; /* seconds; 0 = the default */
	const char *const *host_domains;  /* for GET /v1/ca/host; borrowed
	                                     only during jit_api_new */
	size_t nhost_domains;
	uint64_t clock_skew;         /* seconds valid_after is backdated */
	uint64_t max_wait;           /* cap on ?wait= (seconds) */
	unsigned rate_limit;         /* requests/s per user; 0 = off */
	unsigned max_pending;        /* pending requests per user (all
	                                roles); 0 = no limit */
	const char *metrics_token;   /* GET /metrics needs it as a bearer
	                                token; NULL = open.  Copied. */
	uint64_t session_idle;       /* web sessions: idle timeout (s) */
	uint64_t session_max;        /* web sessions: absolute (s); 0 =
	                                12h */
	const char *web_origin;      /* the page's public origin, or NULL
	                                for the Host header; copied */
	jit_api_hook_fn hook;        /* may be NULL */
	void *hook_ctx;
	struct jit_oidc *oidc;       /* single sign-on; NULL = off;
	                                borrowed, outlives the api */
	uint64_t session_ttl;        /* seconds a sign-in lasts */
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
