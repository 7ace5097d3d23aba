/*
 * reload.c - see lifecycle.h, jit_lc_policy_check(): what a newly loaded
 * policy means for the requests that are still open.
 *
 * A request carries the grant terms its approvers saw (request.h).  When
 * the policy changes under it, it must not turn into something nobody
 * approved: a pending request, or an approved one whose certificate was
 * never fetched, ends as expired when the new policy would refuse it or
 * when its role's terms changed (the role digest differs); an active
 * grant (its certificate fetched) is revoked when its role is gone or its
 * requester may no longer ask for it.  Requests that stay get their
 * "missing" list counted again under the new policy.
 */
#include "lifecycle_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "util.h"

#define RELOAD_BATCH 256

/* What the new policy means for r: why it must end ("" if it may stay);
 * *revoke is 1 when it is an active grant to revoke rather than a
 * request to expire. */
static void
judge(const struct jit_policy *p, const struct jit_request *r, char *why,
    size_t len, int *revoke)
{
	const struct jit_policy_role *role = jit_policy_role(p, r->role);
	struct jit_key *key = NULL;
	char msg[256];
	enum jit_key_type kt = JIT_KEY_UNKNOWN;

	why[0] = '\0';
	*revoke = r->state == JIT_STATE_APPROVED && r->serial != 0;
	if (role == NULL) {
		snprintf(why, len, "role %s is no longer in the policy",
		    r->role);
		return;
	}
	struct jit_policy_who w = { r->user,
	    (const char *const *)r->user_groups, r->nuser_groups };

	if (jit_policy_can_request_as(p, &w, r->role, msg, sizeof(msg)) != 0) {
		snprintf(why, len, "%s", msg);
		return;
	}
	if (*revoke)
		return;    /* an active grant keeps what it was given */
	if (r->terms_recorded && (r->role_digest == NULL ||
	    strcmp(r->role_digest, jit_policy_role_digest(role)) != 0)) {
		snprintf(why, len, "the terms of role %s changed", r->role);
		return;
	}
	if (jit_key_parse_public_trusted(r->public_key, &key) == 0)
		kt = jit_key_type(key);
	jit_key_free(key);
	if (jit_policy_check_request(p, r->role, r->duration, r->reason, kt,
	    NULL, msg, sizeof(msg)) != 0)
		snprintf(why, len, "%s", msg);
}

struct open_ids {
	char (*ids)[JIT_REQUEST_ID_LEN];
	size_t n, cap;
};

static int
collect_open(json_t *j, uint64_t seq, void *vctx)
{
	struct open_ids *o = vctx;
	const char *id = json_string_value(json_object_get(j, "id"));
	void *nv;

	(void)seq;
	if (id == NULL || strlen(id) >= JIT_REQUEST_ID_LEN)
		return 0;
	if (o->n == o->cap) {
		size_t cap = o->cap != 0 ? o->cap * 2 : 64;
		if ((nv = realloc(o->ids, cap * sizeof(*o->ids))) == NULL)
			return JIT_ERR_ALLOC;
		o->ids = nv;
		o->cap = cap;
	}
	memcpy(o->ids[o->n++], id, strlen(id) + 1);
	return 0;
}

static int
scan_open(struct jit_store_txn *t, void *vctx)
{
	int r;

	if ((r = jit_store_list_by_state(t, jit_state_name(JIT_STATE_PENDING),
	    NULL, collect_open, vctx)) != 0)
		return r;
	return jit_store_list_by_state(t, jit_state_name(JIT_STATE_APPROVED),
	    NULL, collect_open, vctx);
}

struct reload_batch {
	struct jit_lifecycle *lc;
	const struct jit_policy *p;
	char (*ids)[JIT_REQUEST_ID_LEN];
	size_t n;
	uint64_t now;
	int dry_run;
	jit_lc_reload_fn report;
	void *report_ctx;
	struct jit_lc_reload_counts counts;
};

/* 1 if r's missing list differs from what it would be under p. */
static int
same_missing(const struct jit_request *a, const struct jit_request *b)
{
	size_t i;

	if (a->nmissing != b->nmissing)
		return 0;
	for (i = 0; i < a->nmissing; i++)
		if (a->missing[i].count != b->missing[i].count ||
		    strcmp(a->missing[i].from, b->missing[i].from) != 0)
			return 0;
	return 1;
}

/* End r (expire or revoke) because of the new policy, inside t. */
static int
end_request(struct reload_batch *b, struct jit_store_txn *t,
    struct jit_request *r, int revoke, const char *why)
{
	const char *event = revoke ? "request.revoke" : "request.expire";
	json_t *extra;
	int rc;

	if (jit_request_set_end_reason(r, JIT_END_POLICY_CHANGED) != 0)
		return JIT_ERR_ALLOC;
	if (revoke) {
		r->state = JIT_STATE_REVOKED;
		r->revoked_at = b->now;
		free(r->revoked_by);
		if ((r->revoked_by = jit_strdup("system")) == NULL)
			return JIT_ERR_ALLOC;
	} else {
		r->state = JIT_STATE_EXPIRED;
		r->expired_at = b->now;
		r->expires_at = 0;
		(void)jit_request_set_missing(r, NULL, 0);
	}
	extra = json_pack("{s:s, s:s, s:s, s:s?, s:o}", "reason",
	    "policy_changed", "why", why, "policy_hash",
	    jit_policy_hash(b->p), "role_digest", r->role_digest,
	    "serial", r->serial != 0 ? json_integer((json_int_t)r->serial) :
	    json_null());
	if (extra == NULL)
		return JIT_ERR_ALLOC;
	if ((rc = jit_request_store_put(t, r, NULL)) != 0) {
		json_decref(extra);
		return rc;
	}
	return lc_record(b->lc, t, lc_audit_fields(event, "system", r, extra),
	    event, "system", r, NULL);
}

static int
reload_one(struct reload_batch *b, struct jit_store_txn *t, const char *id)
{
	struct jit_request *r = NULL, *counted = NULL;
	char why[256];
	int rc, revoke;

	if ((rc = jit_request_load(t, id, &r)) != 0)
		return rc == JIT_ERR_STORE_CORRUPT || rc == JIT_ERR_NOT_FOUND ?
		    0 : rc;
	if (jit_state_is_final(r->state) || (r->state == JIT_STATE_APPROVED &&
	    b->now >= r->not_after)) {
		jit_request_free(r);   /* over anyway: the sweeper's */
		return 0;
	}
	judge(b->p, r, why, sizeof(why), &revoke);
	if (why[0] != '\0') {
		if (b->report != NULL)
			b->report(b->report_ctx, r, revoke, why);
		if (revoke)
			b->counts.revoked++;
		else
			b->counts.expired++;
		rc = b->dry_run ? 0 : end_request(b, t, r, revoke, why);
	} else if (r->state == JIT_STATE_PENDING && !b->dry_run) {
		/* Group memberships may have changed: count again. */
		if ((rc = jit_request_copy(r, &counted)) == 0 &&
		    (rc = lc_update_missing(b->p, counted)) == 0 &&
		    !same_missing(r, counted))
			rc = jit_request_store_put(t, counted, NULL);
	}
	jit_request_free(counted);
	jit_request_free(r);
	return rc;
}

static int
reload_fn(struct jit_store_txn *t, void *vctx)
{
	struct reload_batch *b = vctx;
	size_t i;
	int rc;

	memset(&b->counts, 0, sizeof(b->counts));
	for (i = 0; i < b->n; i++)
		if ((rc = reload_one(b, t, b->ids[i])) != 0)
			return rc;
	return 0;
}

int
jit_lc_policy_check(struct jit_lifecycle *lc, const struct jit_policy *p,
    uint64_t now, int dry_run, jit_lc_reload_fn report, void *report_ctx,
    struct jit_lc_reload_counts *counts)
{
	struct open_ids o;
	struct reload_batch b;
	size_t i;
	int r;

	memset(counts, 0, sizeof(*counts));
	memset(&o, 0, sizeof(o));
	if ((r = jit_store_read(lc->store, scan_open, &o)) != 0)
		goto out;
	for (i = 0; i < o.n; i += RELOAD_BATCH) {
		memset(&b, 0, sizeof(b));
		b.lc = lc;
		b.p = p;
		b.ids = o.ids + i;
		b.n = o.n - i < RELOAD_BATCH ? o.n - i : RELOAD_BATCH;
		b.now = now;
		b.dry_run = dry_run;
		b.report = report;
		b.report_ctx = report_ctx;
		r = dry_run ? jit_store_read(lc->store, reload_fn, &b) :
		    jit_store_write(lc->store, reload_fn, &b);
		if (r != 0)
			goto out;
		counts->expired += b.counts.expired;
		counts->revoked += b.counts.revoked;
	}
	r = 0;
out:
	free(o.ids);
	return r;
}
