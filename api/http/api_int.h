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
#include "hosts.h"
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
	struct jit_key *host_ca;         /* NULL: no host certificates */
	struct jit_hosts *hosts;         /* NULL with host_ca */
	char *host_ca_line;              /* the @cert-authority line */
	uint64_t clock_skew;
	uint64_t max_wait;
	unsigned rate_limit;
	uint64_t session_idle;           /* web sessions (api.h) */
	uint64_t session_max;
	char *web_origin;                /* NULL = from the Host header */
	struct jit_oidc *oidc;           /* NULL = no single sign-on */
	uint64_t session_ttl;
	pthread_mutex_t lock;            /* cur */
	struct policy_ref *cur;
	atomic_int shutting_down;
	atomic_uint_fast64_t http_counts[6];   /* by status / 100 */
	atomic_uint waiting;             /* long-polls held (res_requests) */
	struct jit_ratelimit *limits;    /* requests per user / address */
	struct jit_ratelimit *refusals;  /* audited refusals per user */
	char *metrics_token;             /* NULL = /metrics is open */
	struct jit_cache *krl;           /* GET /v1/krl (res_krl.c) */
	struct jit_cache *metrics;       /* the store's figures (res_admin.c) */
	jit_api_hook_fn hook;            /* jit_api_options' */
	void *hook_ctx;
};

/* The policy in force, referenced until api_policy_put() (router.c). */
struct policy_ref *api_policy_get(struct jit_api *api);
void api_policy_put(struct jit_api *api, struct policy_ref *r);

/* One request being handled. */
struct call {
	struct jit_api *api;
	const struct jit_http_request *req;
	struct jit_http_response *resp;
	const struct jit_policy *p;      /* the policy it started under */
	struct jit_actor who;            /* after authenticate() */
	struct jit_policy_who pwho;      /* who, as the policy sees them */
	struct jit_auth_info auth;       /* the credential; released when
	                                    the call ends */
	char user[JIT_USER_MAX + 1];
	uint64_t now;
	/* Set when the caller authenticated with a session cookie: the
	 * session id (a secret, wiped when the call ends) and the session. */
	int via_session;
	char sid[JIT_SESSION_STRING_LEN + 1];
	struct jit_session session;
};

/* ---- router.c: authentication ------------------------------------------ */

enum auth {
	PUBLIC,                  /* no credentials needed */
	AUTHENTICATED,           /* a bearer token or a web session */
	BEARER_ONLY,             /* a bearer token (e.g. certificates) */
	SESSION_ONLY,            /* a web session (/v1/session) */
};
/* Authenticate c as how allows; on failure the reply is set and -1
 * returned.  A session may only make a state-changing call (not GET or
 * HEAD) from the page's own origin and with its CSRF token. */
int authenticate(struct call *c, enum auth how);
/* The rate limit for failed sign-ins from c's address: 1 if another
 * attempt may be made now; 0 after answering 429. */
int failed_auth_allowed(struct call *c);

/* ---- reply.c: answers ------------------------------------------------ */

/* Answer with j (reference stolen; NULL answers 500). */
void reply_json(struct call *c, unsigned status, json_t *j);
/* Answer {"error": error, "detail": ...}; error NULL = the status's
 * generic slug.  401 adds WWW-Authenticate. */
void reply_error(struct call *c, unsigned status, const char *error,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Set the header value *slot of c's answer (&c->resp->set_cookie or
 * &c->resp->location) to the formatted string, replacing (wiping) an
 * earlier one: 0, or -1 when out of memory, having answered 500. */
int reply_header(struct call *c, char **slot, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Answer text/plain text + "\n". */
void reply_text(struct call *c, unsigned status, const char *text);
/* Answer body (malloc'd, taken over) as is with content type ctype. */
void reply_body(struct call *c, unsigned status, char *body, size_t len,
    const char *ctype);
/* The HTTP status of a JIT error code: the one place this is decided. */
unsigned http_status_of(int code);
/* Answer a refused or failed lifecycle call: status from code, slug and
 * message from why (5xx are also logged with their cause). */
void reply_refusal(struct call *c, int code, const struct jit_why *why);
/* Count an answer in http_counts (jit_api_handle does it for the answers
 * it returns; a deferred answer counts when it is given). */
void reply_count(struct jit_api *api, unsigned status);
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

/* res_history.c: GET /v1/requests/ID/history. */
void res_request_history(struct call *c, const char *id);
/* res_view.c: the request as the page shows it (?view=1): the request
 * object plus "allowed_actions", "progress" and "terms".  New reference;
 * NULL on ALLOC. */
json_t *request_view_json(const struct call *c, const struct jit_request *r);

/* res_session.c: /v1/session (sign-in, the session, sign-out) and what
 * the router needs of sessions. */
void res_session_get(struct call *c);
void res_session_create(struct call *c);
void res_session_delete(struct call *c);
/* 1 if c came from the page's own origin (Origin / Sec-Fetch-Site). */
int session_same_origin(const struct call *c);
/* Copy the session id of c's Cookie header into c->sid: 1 if there is
 * one, 0 if not. */
int session_cookie(struct call *c);
/* Make the response clear the session cookie: 0, or -1 having answered
 * 500 (reply_header). */
int session_clear_cookie(struct call *c);

/* res_web.c: the page.  Serve GET/HEAD of / and the embedded assets: 1
 * if c's path is one of them (the reply is set), 0 if not. */
int res_web(struct call *c);
/* GET /r/ID: redirect to the page of request id. */
void res_web_request_link(struct call *c, const char *id);

void res_ca_host(struct call *c);
void res_hosts_enroll(struct call *c);
void res_hosts_challenge(struct call *c);
void res_hosts_renew(struct call *c);

/* Set the session cookie to sid for max_age seconds (res_session.c): 0,
 * or -1 having answered 500 (reply_header). */
int session_set_cookie(struct call *c, const char *sid, uint64_t max_age);

/* res_sessions.c: GET /v1/oidc (what jit-ssh needs for the device flow)
 * and POST /v1/sessions (an ID token for a session token). */
void res_oidc_info(struct call *c);
void res_sessions_create(struct call *c);

/* res_oidc_web.c: the page's sign-in through the identity provider:
 * GET /oidc/login sends the browser to the provider, GET /oidc/callback
 * takes it back and starts a session as the token sign-in does. */
void res_oidc_login(struct call *c);
void res_oidc_callback(struct call *c);

#endif
