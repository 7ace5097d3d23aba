/*
 * request.h - an access request as a C type, and its stored form.
 *
 * A request is what a person asked for (a role, for a while, with a
 * reason and a public key), what the policy fixed when it was made (the
 * principals, the number of approvals), who decided on it, and, once
 * approved, the window of the grant.  Its state is one of enum jit_state;
 * the transitions between states live in lifecycle.h, and nowhere else.
 *
 * Stored form.  The store (store.h) keeps a request as one JSON object
 * whose members are exactly the fields of struct jit_request, named as
 * below, with times as RFC 3339 UTC strings and absent values left out
 * (reason, comment: null).  The same object is what the HTTP API returns
 * (docs/API.md, "The request object").  jit_request_from_json() and
 * jit_request_to_json() are the only code that knows the member names.
 *
 * Ownership.  A struct jit_request owns every string and array it points
 * to; jit_request_free() releases it all.  Functions that return a
 * request hand the caller a new one.
 *
 * Errors are 0 or a negative JIT_ERR_* (err.h).
 */
#ifndef JIT_REQUEST_H
#define JIT_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "policy.h"
#include "store.h"

/* The states of a request.  Their names (jit_state_name) are the wire
 * and storage names; JIT_STATE_COUNT is the number of states. */
enum jit_state {
	JIT_STATE_PENDING,    /* waiting for approvals */
	JIT_STATE_APPROVED,   /* granted; the certificate may be fetched */
	JIT_STATE_DENIED,     /* an approver said no (final) */
	JIT_STATE_CANCELLED,  /* the requester withdrew it (final) */
	JIT_STATE_EXPIRED,    /* nobody decided in time (final) */
	JIT_STATE_REVOKED,    /* the grant was ended early (final) */
	JIT_STATE_ENDED,      /* the grant's window closed (final) */
};
#define JIT_STATE_COUNT 7

/* "pending", "approved", ...; "unknown" for a value out of range. */
const char *jit_state_name(enum jit_state s);
/* The state called name: 0, or INVALID_ARGUMENT for an unknown name. */
int jit_state_parse(const char *name, enum jit_state *out);
/* 1 for the states no transition leaves (all but pending, approved). */
int jit_state_is_final(enum jit_state s);

/* One approval or denial. */
struct jit_decision {
	char *user;
	uint64_t at;              /* UNIX seconds */
	char *comment;            /* NULL = none */
	char **groups;            /* the groups the identity provider gave
	                             the decider ("groups"; n 0 = none) */
	size_t ngroups;
};

/* Still needed: count approvals from ("group:NAME" or "any approver"). */
struct jit_missing {
	unsigned count;
	char *from;
};

/* Times are UNIX seconds; 0 means "not set" (and is left out of the
 * stored form). */
struct jit_request {
	char id[JIT_REQUEST_ID_LEN];
	enum jit_state state;
	char *user;               /* the requester */
	char **user_groups;       /* the requester's groups from the
	                             identity provider ("user_groups") */
	size_t nuser_groups;
	char *role;
	char **principals;        /* fixed from the role at creation */
	size_t nprincipals;
	char *reason;             /* NULL = none */
	uint64_t duration;        /* seconds of grant */
	char *public_key;         /* the OpenSSH public key line to certify */
	char *key_type;           /* "ed25519", "ecdsa-p256", ... */
	char *key_fingerprint;    /* "SHA256:..." */
	unsigned approvals_needed;
	struct jit_decision *approvals;
	size_t napprovals;
	struct jit_decision *denials;
	size_t ndenials;
	uint64_t created_at;
	uint64_t start;           /* asked-for start; 0 = at approval */
	uint64_t expires_at;      /* pending only: when it expires */
	uint64_t not_before;      /* approved: the grant's window */
	uint64_t not_after;
	uint64_t decided_at;      /* approved or denied */
	uint64_t cancelled_at;
	uint64_t expired_at;
	uint64_t revoked_at;
	uint64_t ended_at;
	uint64_t serial;          /* the certificate's, once issued; 0 = none */
	uint64_t issued_at;
	char *revoked_by;         /* NULL unless revoked */
	char *revoke_comment;     /* NULL = none */
	char *end_reason;         /* a final state's why (JIT_END_*); NULL
	                             while open, and in requests stored
	                             before it was recorded */
	/* The role's grant terms as they were when the request was made:
	 * the certificate is built from these, never from a later policy,
	 * so approvers approve what they see.  terms_recorded is 0 for a
	 * request stored before terms were recorded (its certificate then
	 * takes extensions and options from the role in force). */
	int terms_recorded;
	char **extensions;
	size_t nextensions;
	char *force_command;      /* NULL = none */
	char *source_address;     /* "10.0.0.0/8,..." or NULL = anywhere */
	char **require_groups;    /* groups that must be among the approvers */
	size_t nrequire_groups;
	char *role_digest;        /* jit_policy_role_digest() then, or NULL */
	/* What is still needed before it is approved, as of the last
	 * change: "count" approvals "from" ("group:security" or "any
	 * approver").  Empty once approved. */
	struct jit_missing *missing;
	size_t nmissing;
};


/* The terms a new request is made from (jit_request_new). */
struct jit_request_terms {
	const char *user;
	const struct jit_policy_role *role;  /* principals, approvals,
	                                        pending_timeout */
	const char *public_key;              /* key line as stored */
	const char *key_type;
	const char *key_fingerprint;
	uint64_t duration;                   /* seconds, > 0 */
	const char *reason;                  /* NULL or "" = none */
	uint64_t start;                      /* 0 = at approval */
	uint64_t now;                        /* created_at */
	const char *role_digest;             /* jit_policy_role_digest() of
	                                        role, or NULL */
};

/*
 * The one constructor of a stored request: a new pending request with a
 * fresh random id, the role's grant terms recorded (principals,
 * extensions, force_command, source_address, approvals_needed,
 * require_groups, the role's digest), and expires_at = now + the role's
 * pending_timeout.  (A role that needs no
 * approval is granted by the lifecycle right after, in the same write.)
 * *out is the new request.  Errors: INVALID_ARGUMENT (a missing term or a
 * zero duration), ALLOC, and those of jit_store_new_request_id().
 */
int jit_request_new(const struct jit_request_terms *t,
    struct jit_request **out);

/* Release r and all it owns.  NULL is a no-op. */
void jit_request_free(struct jit_request *r);

/* A deep copy of r in *out.  ALLOC. */
int jit_request_copy(const struct jit_request *r, struct jit_request **out);

/*
 * The stored form.  jit_request_from_json() reads a stored request (or
 * one returned by the API): STORE_CORRUPT when a member the state needs
 * is missing or malformed.  jit_request_to_json() returns a new object
 * (NULL on ALLOC).
 */
int jit_request_from_json(const json_t *j, struct jit_request **out);
json_t *jit_request_to_json(const struct jit_request *r);

/*
 * When the sweeper must next look at r: a pending request's expires_at,
 * an approved one's not_after, 0 for the final states.  The store keeps
 * its deadline index from this (jit_store_put_request's deadline).
 */
uint64_t jit_request_deadline(const struct jit_request *r);

/* Why a request reached its final state ("end_reason"): an approver
 * denied it, its requester cancelled it, nobody decided in time, an
 * approver or admin revoked the grant, its requester relinquished it,
 * its window closed, a policy load ended it. */
#define JIT_END_DENIED "denied"
#define JIT_END_CANCELLED "cancelled"
#define JIT_END_EXPIRED "expired"
#define JIT_END_REVOKED "revoked"
#define JIT_END_RELINQUISHED "relinquished"
#define JIT_END_ENDED "ended"
#define JIT_END_POLICY_CHANGED "policy_changed"

/* Record why r ended (one of JIT_END_*, copied).  ALLOC. */
int jit_request_set_end_reason(struct jit_request *r, const char *why);

/*
 * Why r ended: its recorded end_reason, or for a final request stored
 * before reasons were recorded one told from its state (revoked_by
 * "system" or an approved request that expired: policy_changed; revoked
 * by its requester: relinquished).  NULL while r is pending or approved.
 * The string is r's or static.
 */
const char *jit_request_end_reason(const struct jit_request *r);

/* Replace r's missing list with n entries (copied).  ALLOC. */
int jit_request_set_missing(struct jit_request *r,
    const struct jit_missing *m, size_t n);

/* 1 if user has approved (or denied, for the second) r. */
int jit_request_approved_by(const struct jit_request *r, const char *user);

/* Append a decision by user at time at with comment (may be NULL) to r's
 * approvals (deny = 0) or denials (deny = 1).  ALLOC. */
int jit_request_add_decision(struct jit_request *r, int deny,
    const char *user, uint64_t at, const char *comment);
/* The same with the decider's groups from the identity provider
 * (groups[0..ngroups), copied). */
int jit_request_add_decision_as(struct jit_request *r, int deny,
    const char *user, const char *const *groups, size_t ngroups,
    uint64_t at, const char *comment);
/* Set r's user_groups to a copy of groups[0..n).  ALLOC. */
int jit_request_set_user_groups(struct jit_request *r,
    const char *const *groups, size_t n);

/* ---- in a store transaction ---------------------------------------- */

/* Read request id: NOT_FOUND, STORE_CORRUPT and the store's errors. */
int jit_request_load(struct jit_store_txn *t, const char *id,
    struct jit_request **out);
/* r in its stored form, made before a write so the writer thread does
 * not spend its time encoding: the JSON object and its bytes. */
struct jit_request_enc {
	json_t *json;
	char *js;                 /* NUL-terminated */
	size_t jl;
};
/* Fill e from r (release with jit_request_enc_release).  ALLOC. */
int jit_request_encode(const struct jit_request *r, struct jit_request_enc *e);
/* Free e's contents and zero it; a zeroed e is a no-op. */
void jit_request_enc_release(struct jit_request_enc *e);

/* Store a new request (CONFLICT if its id exists) or replace one, with
 * its deadline (jit_request_deadline).  e, when not NULL, is r encoded
 * beforehand by jit_request_encode(); NULL encodes r here. */
int jit_request_store_new(struct jit_store_txn *t, const struct jit_request *r,
    const struct jit_request_enc *e);
int jit_request_store_put(struct jit_store_txn *t, const struct jit_request *r,
    const struct jit_request_enc *e);

#endif
