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

#endif
