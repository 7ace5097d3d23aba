/*
 * lifecycle.h - the request lifecycle: every rule about who may move a
 * request from which state to which, in one place.
 *
 *   create ──► pending ──approve (rule met)──► approved ──revoke──► revoked
 *      │          │ ├─deny──► denied               │
 *      │          │ ├─cancel (requester)──► cancelled
 *      │          │ └─sweep (expires_at passed)──► expired
 *      │          │                                └─sweep (not_after passed)──► ended
 *      └─(role needs no approval)──► approved
 *
 * A certificate is issued (jit_lc_issue) for an approved request inside
 * its window, once: later fetches return the same bytes.  The whole table,
 * with who may trigger each transition and its audit event, is in
 * docs/DESIGN.md.
 *
 * Every transition is one store write (store.h) that re-reads the request,
 * checks it again inside the transaction, stores the new state and appends
 * its audit entry (audit.h), so a refused or failed transition changes
 * nothing, and a crash loses nothing that was acknowledged.  Cheap checks
 * also run before the write so a refusal costs no write.
 *
 * Transitions take the policy in force (borrowed for the call), the actor
 * (who asks; "system" for the sweeper) and the time.  They know nothing
 * of HTTP: a refusal is a negative JIT_ERR_* plus a struct jit_why with
 * a stable machine slug (docs/API.md lists them) and a one-line message
 * for people.  The HTTP layer maps codes to statuses in one place
 * (api/http/reply.c).  Codes used here:
 *   bad input, each with its slug: POLICY_ROLE (unknown_role),
 *                     BAD_PUBLIC_KEY (bad_public_key), POLICY_DURATION
 *                     (bad_duration), POLICY_REASON (bad_reason),
 *                     POLICY_KEY_TYPE (bad_key_type), INVALID_ARGUMENT
 *                     (bad_field, bad_query)
 *   FORBIDDEN         the policy does not allow this actor (forbidden)
 *   NOT_FOUND         no such request (not_found)
 *   CONFLICT          the request is in the wrong state (conflict), or
 *                     the requester has too many pending
 *                     (too_many_pending)
 *   STORE_*, ALLOC, INTERNAL  server trouble (why->message says what
 *                     was being done)
 *
 * Threads: a struct jit_lifecycle may be used from any number of threads.
 */
#ifndef JIT_LIFECYCLE_H
#define JIT_LIFECYCLE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "cert.h"
#include "key.h"
#include "policy.h"
#include "ratelimit.h"
#include "request.h"
#include "store.h"
#include "why.h"

/* Who asks.  A person who signed in through the identity provider
 * (auth.h, single sign-on) also brings the sign-in's authentication
 * methods, which a role's require_mfa looks at, and the provider's
 * groups, which count in every rule as policy groups do (policy.h,
 * struct jit_policy_who) and are recorded with the request
 * ("user_groups") and with each decision ("groups").  All borrowed. */
struct jit_actor {
	const char *user;        /* authenticated user, or "system" */
	const char *client_addr; /* for the audit log; NULL = unknown */
	const char *const *amr;  /* "amr" of the sign-in; NULL = none (an
	                            API token) */
	size_t namr;
	const char *const *groups;   /* groups from the identity provider */
	size_t ngroups;
};

/*
 * A change that was committed, for hooks that must write in the same
 * transaction (a notification outbox): event is the audit event name
 * ("request.create", "request.approve", "request.deny", "request.cancel",
 * "request.revoke", "request.expire", "grant.end", "cert.issue"), req
 * the request after the change, comment the actor's comment (or NULL).
 */
struct jit_lc_event {
	const char *event;
	const char *actor;
	const struct jit_request *req;
	const char *comment;
};
/* Called inside the write transaction t after the audit entry; a
 * non-zero return rolls the whole change back. */
typedef int (*jit_lc_hook_fn)(struct jit_store_txn *t,
    const struct jit_lc_event *ev, void *ctx);

struct jit_lifecycle_options {
	struct jit_store *store;       /* borrowed; outlives the lifecycle */
	const struct jit_key *ca;      /* the CA key (its public half goes
	                                  into certificates); borrowed; NULL
	                                  (with sign NULL) for a lifecycle
	                                  that only reads and checks */
	jit_signer_fn sign;            /* signs with the CA's private key */
	void *sign_ctx;
	uint64_t clock_skew;           /* seconds valid_after is backdated */
	jit_lc_hook_fn hook;           /* may be NULL */
	void *hook_ctx;
	/* When not NULL, refused attempts that matter to an auditor (a
	 * request by someone the policy does not allow, a reason that does
	 * not match the role's rule, an approval of one's own request) are
	 * audited as "request.refused", at most as often as this limiter
	 * lets the key "refused:USER" through, so they cannot flood the
	 * log.  Borrowed. */
	struct jit_ratelimit *refusals;
	/* The most requests one user may have pending at once, over all
	 * roles; 0 = no limit.  A role's max_pending (policy.h) caps its
	 * own as well.  A create over either is refused with
	 * too_many_pending (CONFLICT). */
	unsigned max_pending;
};

struct jit_lifecycle;

/* New lifecycle.  Errors: INVALID_ARGUMENT, ALLOC, key errors (the CA
 * fingerprint). */
int jit_lifecycle_new(const struct jit_lifecycle_options *o,
    struct jit_lifecycle **out);
/* NULL is a no-op. */
void jit_lifecycle_free(struct jit_lifecycle *lc);
/* The CA fingerprint "SHA256:..." (valid until jit_lifecycle_free), NULL
 * without a CA. */
const char *jit_lifecycle_ca_fingerprint(const struct jit_lifecycle *lc);

/* ---- transitions ---------------------------------------------------- */

struct jit_create_args {
	const char *role;
	const char *public_key;   /* OpenSSH public key line */
	uint64_t duration;        /* seconds; 0 = the role's default */
	const char *reason;       /* NULL or "" = none */
	uint64_t start;           /* asked-for start; 0 = at approval */
};

/*
 * A new request by who: pending, or approved at once when the role needs
 * no approval.  *out (may be NULL) receives it.  Refusals: unknown_role,
 * bad_public_key, bad_field (start), bad_duration, bad_reason,
 * bad_key_type (INVALID_ARGUMENT); forbidden (not a requester);
 * mfa_required (FORBIDDEN: the role has require_mfa and who's sign-in
 * shows no second factor); too_many_pending (CONFLICT: who already has
 * the most pending requests the server's or the role's max_pending
 * allows; counted inside the write, so concurrent creates cannot pass it
 * together).
 */
int jit_lc_create(struct jit_lifecycle *lc, const struct jit_policy *p,
    const struct jit_actor *who, const struct jit_create_args *a,
    uint64_t now, struct jit_request **out, struct jit_why *why);

/*
 * jit_lc_create() that also issues the certificate of a request approved
 * at creation whose window starts now (no start ahead), so one call and
 * one commit do what jit_lc_create() then jit_lc_issue() do with two.
 * The serial is reserved in a read and the certificate signed before the
 * write, as jit_lc_issue() does; the write stores the request as issued
 * (serial, issued_at), claims the serial, stores the cert record and
 * counts it, and appends "request.create" then "cert.issue" (each with
 * its hook call, as the two calls would make them); a serial another
 * process took meanwhile is replaced and the certificate signed again.
 * *cert_line (caller frees) is the OpenSSH certificate line, which later
 * jit_lc_issue() calls return byte for byte, and *out the request as
 * issued.  *cert_line is NULL, and the request stored as jit_lc_create()
 * stores it, when it is pending or starts later, when the lifecycle has
 * no CA, or when the certificate could not be made (signing failed, the
 * serial was taken three times): jit_lc_issue() makes it then.
 * *json, when json is not NULL (caller frees), is *out as stored:
 * compact JSON, the bytes json_dumps(jit_request_to_json(*out),
 * JSON_COMPACT) gives, so an answer need not encode it again; NULL on
 * a refusal.  Refusals as jit_lc_create(); a hook that fails either
 * entry rolls the whole write back, and the create is refused with the
 * hook's error (it is not retried without the certificate).
 */
int jit_lc_create_issue(struct jit_lifecycle *lc, const struct jit_policy *p,
    const struct jit_actor *who, const struct jit_create_args *a,
    uint64_t now, struct jit_request **out, char **cert_line, char **json,
    struct jit_why *why);

enum jit_verdict { JIT_APPROVE, JIT_DENY };

/*
 * An eligible approver approves or denies pending request id.  An
 * approval moves it to approved once the role's rule is met (the window
 * starts now or at the asked-for start, whichever is later); a denial
 * ends it.  comment may be NULL (a denial's is required by the API, not
 * here).  Refusals: forbidden (not an approver, or the requester without
 * self_approval), conflict (not pending, expired, approved twice),
 * not_found.
 */
int jit_lc_decide(struct jit_lifecycle *lc, const struct jit_policy *p,
    const struct jit_actor *who, const char *id, enum jit_verdict v,
    const char *comment, uint64_t now, struct jit_request **out,
    struct jit_why *why);

/* The requester withdraws pending request id.  forbidden (not the
 * requester), conflict (not pending), not_found. */
int jit_lc_cancel(struct jit_lifecycle *lc, const struct jit_policy *p,
    const struct jit_actor *who, const char *id, uint64_t now,
    struct jit_request **out, struct jit_why *why);

/* The role's approvers or an admin end approved grant id before its
 * window closes, or its requester relinquishes it (the audit entry's
 * "relinquished" is then true); its serial (if issued) then belongs in
 * the KRL.  forbidden, conflict (not approved, or already over),
 * not_found. */
int jit_lc_revoke(struct jit_lifecycle *lc, const struct jit_policy *p,
    const struct jit_actor *who, const char *id, const char *comment,
    uint64_t now, struct jit_request **out, struct jit_why *why);

/*
 * The requester's certificate for approved request id, inside its
 * window: the first call signs it (a fresh serial, the request's
 * principals and window, the role's options) and stores the record, the
 * request's serial and the audit entry together; later calls return the
 * same bytes.  *line is the OpenSSH certificate line (caller frees).
 * forbidden (not the requester), conflict (not approved, the window is
 * over, the role is gone), not_found.
 */
int jit_lc_issue(struct jit_lifecycle *lc, const struct jit_policy *p,
    const struct jit_actor *who, const char *id, uint64_t now, char **line,
    struct jit_why *why);

/*
 * One sweep at time now: pending requests past expires_at become expired
 * ("request.expire"), approved grants past not_after become ended
 * ("grant.end"), each with its audit entry, in batched writes.
 * *expired / *ended (may be NULL) count the changes.
 */
int jit_lc_sweep(struct jit_lifecycle *lc, uint64_t now, unsigned *expired,
    unsigned *ended);

/*
 * A policy was loaded (at start or on reload): what it means for the
 * requests still open.  A pending request, or an approved one whose
 * certificate was never fetched, ends as expired when p would refuse it
 * (role gone, requester no longer eligible, duration above the maximum,
 * key type or reason no longer allowed) or when its role's terms changed
 * (its recorded role digest differs); an active grant whose role is gone
 * or whose requester lost eligibility is revoked by "system" (its serial
 * joins the KRL).  Each end is one audit entry with reason
 * "policy_changed", why, and the new policy's hash.  Pending requests
 * that stay get their "missing" list counted again.  With dry_run
 * nothing is written.  report (may be NULL) is called for each request
 * that ends (revoke 1 for a revocation), from the store's writer thread
 * or, in a dry run, the caller's.
 */
struct jit_lc_reload_counts {
	unsigned expired;
	unsigned revoked;
};
typedef void (*jit_lc_reload_fn)(void *ctx, const struct jit_request *r,
    int revoke, const char *why);
int jit_lc_policy_check(struct jit_lifecycle *lc, const struct jit_policy *p,
    uint64_t now, int dry_run, jit_lc_reload_fn report, void *report_ctx,
    struct jit_lc_reload_counts *counts);

/* ---- reading --------------------------------------------------------- */

/* 1 if who may see req: its requester, the role's approvers, admins and
 * auditors. */
int jit_lc_can_view(const struct jit_policy *p, const char *user,
    const struct jit_request *req);

/* What user may do to req at time now, as JIT_LC_CAN_* bits: the same
 * checks the transitions make before their write (so a page shows only
 * the buttons that can work; the transition still checks again). */
#define JIT_LC_CAN_APPROVE 0x1u
#define JIT_LC_CAN_DENY 0x2u
#define JIT_LC_CAN_CANCEL 0x4u
#define JIT_LC_CAN_REVOKE 0x8u
unsigned jit_lc_allowed(const struct jit_policy *p, const char *user,
    const struct jit_request *req, uint64_t now);
/* The same for who, with their provider groups. */
unsigned jit_lc_allowed_as(const struct jit_policy *p,
    const struct jit_actor *who, const struct jit_request *req,
    uint64_t now);

/* Request id for who (forbidden, not_found). */
int jit_lc_get(struct jit_lifecycle *lc, const struct jit_policy *p,
    const struct jit_actor *who, const char *id, struct jit_request **out,
    struct jit_why *why);

/*
 * Long-poll: request id for who, as jit_lc_get(), but while it is pending
 * wait up to wait_ms for its state, approvals or denials to change (or
 * for *stop to become non-zero), then return it as it is.
 */
int jit_lc_wait(struct jit_lifecycle *lc, const struct jit_policy *p,
    const struct jit_actor *who, const char *id, uint64_t wait_ms,
    const atomic_int *stop, struct jit_request **out,
    struct jit_why *why);

/*
 * The same long-poll without a thread that blocks (the HTTP server parks
 * the connection instead):
 *
 *   jit_lc_wait_begin() checks and reads like jit_lc_get(); when the
 *   request is not pending it returns it in *out (*w NULL), otherwise a
 *   waiter in *w (*out NULL).  Errors as jit_lc_get().
 *   jit_lc_wait_key(w) is the store's wake-up slot of the request
 *   (jit_store_wake_slot): a commit that changes it touches that slot.
 *   jit_lc_wait_poll(w, final, &req) returns 1 and the request as it is
 *   now when its state, approvals or denials changed since the wait began
 *   (or always when final is set), 0 when nothing changed (it first looks
 *   at the slot's version, so a poll after an unrelated commit costs no
 *   read), or a store error (final only; not_found cannot happen as
 *   requests are never deleted).  A poll with final set should end the
 *   wait.
 *   jit_lc_wait_free(w) frees it (NULL is a no-op).
 *
 * A waiter holds no snapshot and no lock; polls of one waiter must not run
 * at the same time.  lc must outlive its waiters.
 */
struct jit_lc_wait;
int jit_lc_wait_begin(struct jit_lifecycle *lc, const struct jit_policy *p,
    const struct jit_actor *who, const char *id, struct jit_lc_wait **w,
    struct jit_request **out, struct jit_why *why);
unsigned jit_lc_wait_key(const struct jit_lc_wait *w);
int jit_lc_wait_poll(struct jit_lc_wait *w, int final,
    struct jit_request **out);
void jit_lc_wait_free(struct jit_lc_wait *w);

#define JIT_LC_LIST_MAX 1000

struct jit_lc_filter {
	int has_state;
	enum jit_state state;
	const char *role;          /* NULL = any */
	int mine;                  /* only who's own */
	size_t limit;              /* 1..JIT_LC_LIST_MAX */
	uint64_t before;           /* cursor: only requests made before the
	                              one with this sequence number (a
	                              *next of an earlier call); 0 = from
	                              the newest */
};

/*
 * The requests who may see that match f, newest first, at most f->limit.
 * Admins and auditors see all; others their own and those of roles they
 * approve; with no state asked for a non-admin gets their own requests
 * and the pending ones they may decide on.  *items is an array of *n
 * requests (free with jit_lc_list_free).  *next is the cursor of the next
 * page (f->before for the next call) when more requests match, else 0:
 * paging on with it lists every match once, newest first, however many
 * there are.  Every list reads index ranges of requests the caller may
 * see (store.h), so its cost follows the page, not the store's history.
 * bad_query: limit out of range.
 */
int jit_lc_list(struct jit_lifecycle *lc, const struct jit_policy *p,
    const struct jit_actor *who, const struct jit_lc_filter *f,
    struct jit_request ***items, size_t *n, uint64_t *next,
    struct jit_why *why);
void jit_lc_list_free(struct jit_request **items, size_t n);

/* ---- audit ---------------------------------------------------------- */

/* Append an audit entry of event with actor "system", the policy's hash
 * and source, the CA fingerprint and the members of fields (may be NULL;
 * borrowed), e.g. "server.start", "policy.reload". */
int jit_lc_audit_system(struct jit_lifecycle *lc, const struct jit_policy *p,
    const char *event, json_t *fields);

#endif
