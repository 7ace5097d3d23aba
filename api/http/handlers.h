/*
 * handlers.h - the approval API (design.md, "HTTP API") as pure functions.
 *
 * jit_api_handle() takes one whole HTTP request (method, path, query
 * string, Authorization header, body) and produces one response (status,
 * content type, body).  It knows nothing about sockets: http.c calls it
 * for the server, the unit and fuzz tests call it directly.  It is
 * thread-safe: any number of threads may be inside it at once.
 *
 * Endpoints and answers (all JSON unless noted; errors are
 * {"error": "...", "detail": "..."}):
 *
 *   POST /v1/requests {role, public_key, duration, reason[, start]}
 *        201 request.  duration: integer seconds or "90m"/"1h"/"2d";
 *        omitted or null = the role's default.  reason: string or null.
 *        start: optional RFC 3339 time; the grant window starts at
 *        approval or at start, whichever is later.  Unknown members,
 *        wrong types, a bad key -> 400.  An unknown role -> 400
 *        ("unknown_role"; it is bad input, like a typo in a field).
 *        Not a requester -> 403.  Duration above the role's maximum, a
 *        missing or malformed reason, a key type the role does not allow
 *        -> 400 naming the rule.  approvals: 0 -> approved at once.
 *   GET  /v1/requests[?state=S&role=R&mine=1&limit=N]
 *        {"requests": [...]}, newest first, at most limit (default 100,
 *        max 1000).  Admins and auditors see every request.  Others see
 *        requests they made and requests of roles they approve.  With
 *        mine=1 only their own (user index); with state= the state index
 *        filtered by visibility; with neither, a non-admin gets their own
 *        requests plus the pending ones they may approve (no full scan).
 *   GET  /v1/requests/ID[?wait=N]
 *        the request, to its requester, the role's approvers, admins and
 *        auditors (others 403).  With wait=N (0..max_wait, else 400) and
 *        the request pending, blocks until its state, approvals or
 *        denials change or N seconds pass, then answers with the current
 *        request.
 *   POST /v1/requests/ID/approve {comment?}   eligible approver, pending
 *        -> 200 request (state "approved" once the rule is met).  The
 *        requester (without self_approval) and non-approvers get 403.  A
 *        second approval by the same user gets 409 and changes nothing.
 *   POST /v1/requests/ID/deny {comment}        eligible approver, pending
 *        -> 200 request, state "denied".  comment is required (400).
 *   POST /v1/requests/ID/cancel                requester, pending -> 200
 *   POST /v1/requests/ID/revoke {comment?}     the role's approvers and
 *        admins, state approved -> 200, state "revoked"; the serial (if a
 *        cert was issued) is in the request's "serial": the KRL is built
 *        from the requests in state "revoked" (store's state index).
 *   GET  /v1/requests/ID/certificate           requester only (403),
 *        state approved and now < not_after (else 409) -> 200 text/plain
 *        "TYPE-cert-v01@openssh.com BASE64 KEYID\n".  The first fetch
 *        allocates the serial, signs and stores the cert record, the
 *        request's serial and the audit entry in one write, and answers
 *        only after it is durable; later fetches return the same bytes.
 *   GET  /v1/audit[?since=&until=&user=&role=&event=&format=jsonl|csv]
 *        auditors and admins (others 403): the signed audit export,
 *        streamed in constant memory (audit_export.h); bad query -> 400.
 *   GET  /v1/ca        text/plain CA public key line (no auth)
 *   GET  /v1/whoami    {user, groups, admin, auditor, can_request,
 *                       can_approve}
 *   GET  /healthz      {"ok": true} (no auth)
 *   GET  /metrics      Prometheus text (no auth)
 *
 * Statuses: 400 bad input, 401 no/bad token (with WWW-Authenticate),
 * 403 not allowed by policy, 404 unknown ID or path, 405 wrong method,
 * 409 wrong state, 413 body too large, 429 over the per-user rate limit
 * (Retry-After), 500/503 server trouble.  Bad input never changes state:
 * everything is validated before the write closure, and the closure
 * re-checks the state it depends on inside the transaction.
 *
 * Request lifecycle (design.md): pending -> approved | denied | cancelled
 * | expired; approved -> revoked, or "ended" when the sweeper sees that
 * not_after has passed (jit_api_sweep; audit event "grant.end" once).
 *
 * Request JSON: id, state, user, role, principals, reason, duration
 * (seconds), public_key, key_type, key_fingerprint, created_at,
 * approvals and denials ([{user, at, comment}]), approvals_needed,
 * expires_at (while pending), start (if asked for), not_before /
 * not_after (once approved), serial and issued_at (once issued), and for
 * final states decided_at / cancelled_at / expired_at / revoked_at /
 * revoked_by.  Times are RFC 3339 UTC.  The stored record is exactly
 * what the API returns.
 *
 * Audit events (each in the same write as its change): request.create,
 * request.approve, request.deny, request.cancel, request.expire,
 * request.revoke, grant.end, cert.issue, token.create, token.revoke
 * (auth.c), policy.load, policy.reload, server.start (jit_api_audit).
 */
#ifndef JIT_HANDLERS_H
#define JIT_HANDLERS_H

#include <stddef.h>
#include <stdint.h>

#include "http.h"
#include "key.h"
#include "policy.h"
#include "store.h"

struct jit_api_options {
	struct jit_store *store;     /* borrowed; outlives the api */
	struct jit_key *ca;          /* CA private key; borrowed */
	uint64_t clock_skew;         /* seconds valid_after is backdated */
	uint64_t max_wait;           /* cap on ?wait= (seconds) */
	unsigned rate_limit;         /* requests/s per user; 0 = off */
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

/* Append an audit entry of event (e.g. "server.start") with actor
 * "system", the current policy's hash and source, the CA fingerprint and
 * the extra members of fields (may be NULL; borrowed). */
int jit_api_audit(struct jit_api *api, const char *event, json_t *fields);

#endif
