/*
 * lifecycle_int.h - what the files of the lifecycle module share
 * (lifecycle.c: creation and decisions; issue.c: certificates; sweep.c:
 * deadlines; read.c: reads and the long-poll).  Not for other modules.
 */
#ifndef JIT_LIFECYCLE_INT_H
#define JIT_LIFECYCLE_INT_H

#include "audit.h"
#include "lifecycle.h"

struct jit_lifecycle {
	struct jit_store *store;
	const struct jit_key *ca;
	jit_signer_fn sign;
	void *sign_ctx;
	uint64_t clock_skew;
	jit_lc_hook_fn hook;
	void *hook_ctx;
	struct jit_ratelimit *refusals;
	unsigned max_pending;
	char *ca_fp;
};

/* A refusal for a failed read of id: not_found or the store's error. */
int lc_load_failed(struct jit_why *why, int code);

/* Read request id in its own snapshot (not_found or the store's error
 * in why). */
int lc_load(struct jit_lifecycle *lc, const char *id, struct jit_request **out,
    struct jit_why *why);

/* a as the policy sees them: the user and their provider groups. */
void lc_policy_who(const struct jit_actor *a, struct jit_policy_who *w);
/* 1 if a may see req (jit_lc_can_view with a's provider groups). */
int lc_can_view(const struct jit_policy *p, const struct jit_actor *a,
    const struct jit_request *req);

/* Record in r what its role's rule still needs under p (nothing once
 * approved). */
int lc_update_missing(const struct jit_policy *p, struct jit_request *r);

/* The audit entry of a change to r: event, actor, r's id, user, role and
 * state, and the members of extra (stolen; NULL = none).  NULL on ALLOC. */
json_t *lc_audit_fields(const char *event, const char *actor,
    const struct jit_request *r, json_t *extra);
/* RFC 3339 string of t, or null for 0. */
json_t *lc_time_or_null(uint64_t t);

/* Append the audit entry a (stolen) and call the hook, inside t. */
int lc_record(struct jit_lifecycle *lc, struct jit_store_txn *t, json_t *a,
    const char *event, const char *actor, const struct jit_request *r,
    const char *comment);
/* The same with the entry prepared before the write (audit.h), so the
 * writer thread does not serialise it: lc_prepare_audit() prepares a
 * (stolen; NULL is ALLOC) into *p, which is zeroed on failure. */
int lc_prepare_audit(json_t *a, struct jit_audit_prep *p);
int lc_record_prepared(struct jit_lifecycle *lc, struct jit_store_txn *t,
    const struct jit_audit_prep *a, const char *event, const char *actor,
    const struct jit_request *r, const char *comment);

/*
 * A certificate signed before the write that stores it (issue.c), for
 * jit_lc_issue() and for a request issued at creation (lifecycle.c).
 *
 *   lc_cert_reserve() reserves a serial in a read snapshot (store.h,
 *   jit_store_reserve_serial) into c->serial; a caller that reads in a
 *   snapshot anyway may reserve there itself.
 *   lc_cert_make() signs req's certificate with c->serial at time now,
 *   outside any transaction, and makes everything the write stores with
 *   it: the encoded cert record and the "cert.issue" audit entry of
 *   actor.  It sets req->serial and req->issued_at, so req is then the
 *   request as issued (the caller stores it).  c->line is the OpenSSH
 *   certificate line.  CONFLICT (why) when an old request's role is
 *   gone; signing and ALLOC errors.
 *   lc_cert_store() claims the serial and stores the record and the
 *   count of certificates issued, inside write t: CONFLICT when another
 *   process stored a cert with that serial meanwhile (reserve and sign
 *   again).  lc_cert_record() then appends the audit entry and calls
 *   the hook with req (as issued).
 *   lc_cert_release() frees c's contents and zeroes it (a zeroed c is a
 *   no-op).
 */
/* Attempts at an issuance whose write found the request changed or the
 * serial taken. */
#define LC_ISSUE_TRIES 3

struct lc_cert {
	uint64_t serial;
	json_t *rec;                  /* the cert record */
	char *rec_js;                 /* ... encoded */
	size_t rec_jl;
	struct jit_audit_prep audit;  /* its "cert.issue" entry */
	char *line;                   /* the certificate line */
};
int lc_cert_reserve(struct jit_lifecycle *lc, struct lc_cert *c);
int lc_cert_make(struct jit_lifecycle *lc, const struct jit_policy *p,
    const char *actor, struct jit_request *req, uint64_t now,
    struct lc_cert *c, struct jit_why *why);
int lc_cert_store(struct jit_store_txn *t, const struct lc_cert *c);
int lc_cert_record(struct jit_lifecycle *lc, struct jit_store_txn *t,
    const struct lc_cert *c, const char *actor,
    const struct jit_request *req);
void lc_cert_release(struct lc_cert *c);

#endif
