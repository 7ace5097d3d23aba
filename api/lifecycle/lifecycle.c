/* lifecycle.c - see lifecycle.h: creation, decisions, cancel, revoke. */
#include "lifecycle_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "err.h"
#include "util.h"

/* ---- shared helpers (lifecycle_int.h) ----------------------------------- */

int
lc_load_failed(struct jit_why *why, int code)
{
	if (code == JIT_ERR_NOT_FOUND)
		return jit_refuse(why, code, "not_found", "no such request");
	return jit_refuse(why, code, NULL, "could not read the request");
}

json_t *
lc_time_or_null(uint64_t t)
{
	char buf[JIT_TIME_LEN];

	if (t == 0)
		return json_null();
	jit_format_time(t, buf);
	return json_string(buf);
}

json_t *
lc_audit_fields(const char *event, const char *actor,
    const struct jit_request *r, json_t *extra)
{
	json_t *a = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}",
	    "event", event, "actor", actor, "request", r->id,
	    "user", r->user, "role", r->role,
	    "state", jit_state_name(r->state));

	if (a != NULL && extra != NULL && json_object_update(a, extra) != 0) {
		json_decref(a);
		a = NULL;
	}
	json_decref(extra);
	return a;
}

int
lc_prepare_audit(json_t *a, struct jit_audit_prep *p)
{
	int r;

	memset(p, 0, sizeof(*p));
	if (a == NULL)
		return JIT_ERR_ALLOC;
	r = jit_audit_prepare(a, p);
	json_decref(a);
	return r;
}

int
lc_record_prepared(struct jit_lifecycle *lc, struct jit_store_txn *t,
    const struct jit_audit_prep *a, const char *event, const char *actor,
    const struct jit_request *r, const char *comment)
{
	struct jit_lc_event ev = { event, actor, r, comment };
	int rc;

	rc = jit_audit_append_prepared(t, a, NULL, NULL);
	if (rc == 0 && lc->hook != NULL)
		rc = lc->hook(t, &ev, lc->hook_ctx);
	return rc;
}

int
lc_record(struct jit_lifecycle *lc, struct jit_store_txn *t, json_t *a,
    const char *event, const char *actor, const struct jit_request *r,
    const char *comment)
{
	struct jit_audit_prep p;
	int rc;

	if ((rc = lc_prepare_audit(a, &p)) == 0)
		rc = lc_record_prepared(lc, t, &p, event, actor, r, comment);
	jit_audit_prep_release(&p);
	return rc;
}

static int
append_fn(struct jit_store_txn *t, void *vctx)
{
	return jit_audit_append(t, vctx, NULL, NULL);
}

/*
 * Audit a refused attempt as "request.refused" (lifecycle.h, refusals):
 * action is what was tried ("create", "approve"), role and id (may be
 * NULL) what it was about.  Best effort: a failure to write is not the
 * caller's refusal, so it is not reported.
 */
static void
audit_refusal(struct jit_lifecycle *lc, const struct jit_actor *who,
    const char *action, const char *role, const char *id,
    const struct jit_why *why)
{
	char key[JIT_NAME_MAX + 16];
	json_t *a;

	if (lc->refusals == NULL || why == NULL)
		return;
	snprintf(key, sizeof(key), "refused:%.64s", who->user);
	if (!jit_ratelimit_take(lc->refusals, key, jit_monotonic_ms()))
		return;
	a = json_pack("{s:s, s:s, s:s, s:s, s:s?, s:s?, s:s?, s:s, s:s}",
	    "event", "request.refused", "actor", who->user, "user", who->user,
	    "action", action, "role", role, "request", id, "slug", why->slug,
	    "why", why->message, "client_address", who->client_addr != NULL ?
	    who->client_addr : "-");
	if (a != NULL)
		(void)jit_store_write(lc->store, append_fn, a);
	json_decref(a);
}

/* ---- the lifecycle object ---------------------------------------------- */

int
jit_lifecycle_new(const struct jit_lifecycle_options *o,
    struct jit_lifecycle **out)
{
	struct jit_lifecycle *lc;
	int r;

	*out = NULL;
	if (o == NULL || o->store == NULL || (o->ca == NULL) != (o->sign == NULL))
		return JIT_ERR_INVALID_ARGUMENT;
	if ((lc = calloc(1, sizeof(*lc))) == NULL)
		return JIT_ERR_ALLOC;
	lc->store = o->store;
	lc->ca = o->ca;
	lc->sign = o->sign;
	lc->sign_ctx = o->sign_ctx;
	lc->clock_skew = o->clock_skew;
	lc->hook = o->hook;
	lc->hook_ctx = o->hook_ctx;
	lc->refusals = o->refusals;
	lc->max_pending = o->max_pending;
	if (o->ca != NULL && (r = jit_key_fingerprint(o->ca, &lc->ca_fp)) != 0) {
		free(lc);
		return r;
	}
	*out = lc;
	return 0;
}

void
jit_lifecycle_free(struct jit_lifecycle *lc)
{
	if (lc == NULL)
		return;
	free(lc->ca_fp);
	free(lc);
}

const char *
jit_lifecycle_ca_fingerprint(const struct jit_lifecycle *lc)
{
	return lc->ca_fp;
}

#define MAX_NEEDS 16

void
lc_policy_who(const struct jit_actor *a, struct jit_policy_who *w)
{
	w->user = a->user;
	w->groups = a->groups;
	w->ngroups = a->groups != NULL ? a->ngroups : 0;
}

/* r's approvers as the policy sees them: each with the provider groups
 * recorded with the approval.  A new array (NULL for none); ALLOC. */
static int
approvers_who(const struct jit_request *r, struct jit_policy_who **out)
{
	struct jit_policy_who *w;

	*out = NULL;
	if (r->napprovals == 0)
		return 0;
	if ((w = calloc(r->napprovals, sizeof(*w))) == NULL)
		return JIT_ERR_ALLOC;
	for (size_t i = 0; i < r->napprovals; i++) {
		w[i].user = r->approvals[i].user;
		w[i].groups = (const char *const *)r->approvals[i].groups;
		w[i].ngroups = r->approvals[i].ngroups;
	}
	*out = w;
	return 0;
}

int
lc_update_missing(const struct jit_policy *p, struct jit_request *r)
{
	struct jit_policy_need need[MAX_NEEDS];
	struct jit_missing m[MAX_NEEDS];
	char from[MAX_NEEDS][JIT_NAME_MAX + 8];
	struct jit_policy_who *approvers = NULL;
	size_t i, n = 0;
	int rc;

	if (r->state != JIT_STATE_PENDING)
		return jit_request_set_missing(r, NULL, 0);
	if ((rc = approvers_who(r, &approvers)) != 0)
		return rc;
	rc = jit_policy_approval_missing_as(p, r->role, r->user, approvers,
	    r->napprovals, need, MAX_NEEDS, &n);
	free(approvers);
	if (rc != 0)
		return rc;
	for (i = 0; i < n; i++) {
		if (need[i].group != NULL)
			snprintf(from[i], sizeof(from[i]), "group:%s",
			    need[i].group);
		else
			snprintf(from[i], sizeof(from[i]), "any approver");
		m[i].count = need[i].count;
		m[i].from = from[i];
	}
	return jit_request_set_missing(r, m, n);
}

/* Move r to approved at time now: the window starts now or at the
 * asked-for start, whichever is later. */
static void
grant(struct jit_request *r, uint64_t now)
{
	uint64_t nb = r->start > now ? r->start : now;

	r->state = JIT_STATE_APPROVED;
	r->not_before = nb;
	r->not_after = nb + r->duration;
	r->decided_at = now;
	r->expires_at = 0;
	(void)jit_request_set_missing(r, NULL, 0);  /* cannot fail: empty */
}

/* ---- create ------------------------------------------------------------ */

struct create_ctx {
	struct jit_lifecycle *lc;
	const struct jit_request *req;
	struct jit_request_enc enc;   /* req, encoded before the write */
	struct jit_audit_prep audit;  /* its audit entry, likewise */
	const char *actor;
	unsigned role_max;            /* the role's max_pending; 0 = none */
	unsigned over;                /* the cap that refused it, if one */
	int over_role;                /* 1 if that was the role's */
	/* Issued at creation (jit_lc_create_issue): the certificate made
	 * before the write and the request as issued, which is what is
	 * stored (enc is then issued's); NULL for a plain create. */
	const struct lc_cert *cert;
	const struct jit_request *issued;
	int retry;                    /* the serial was taken: sign again */
};

struct role_count {
	const char *role;
	uint64_t n, max;
};

static int
count_role_cb(json_t *j, uint64_t seq, void *vctx)
{
	struct role_count *rc = vctx;
	const char *role = json_string_value(json_object_get(j, "role"));

	(void)seq;
	if (role != NULL && strcmp(role, rc->role) == 0)
		rc->n++;
	return rc->n >= rc->max ? 1 : 0;
}

/*
 * Is the requester of a new pending request at a cap already?  Counted
 * in the write transaction t, so requests created by earlier closures of
 * the same batch count too: concurrent creates cannot pass a cap
 * together.  0 if not, CONFLICT with cc->over set if so.
 */
static int
check_pending_caps(struct jit_store_txn *t, struct create_ctx *cc)
{
	const char *user = cc->req->user;
	const char *pending = jit_state_name(JIT_STATE_PENDING);
	struct role_count rc = { cc->req->role, 0, cc->role_max };
	uint64_t n = 0;
	int r;

	if (cc->req->state != JIT_STATE_PENDING)
		return 0;
	if (cc->lc->max_pending != 0) {
		if ((r = jit_store_count_by_user_state(t, user, pending,
		    cc->lc->max_pending, &n)) != 0)
			return r;
		if (n >= cc->lc->max_pending) {
			cc->over = cc->lc->max_pending;
			return JIT_ERR_CONFLICT;
		}
	}
	if (cc->role_max != 0) {
		if ((r = jit_store_list_by_user_state(t, user, pending, NULL,
		    count_role_cb, &rc)) != 0)
			return r;
		if (rc.n >= cc->role_max) {
			cc->over = cc->role_max;
			cc->over_role = 1;
			return JIT_ERR_CONFLICT;
		}
	}
	return 0;
}

static int
create_fn(struct jit_store_txn *t, void *vctx)
{
	struct create_ctx *cc = vctx;
	int r;

	if ((r = check_pending_caps(t, cc)) != 0)
		return r;
	if (cc->cert == NULL) {
		if ((r = jit_request_store_new(t, cc->req, &cc->enc)) != 0)
			return r;
		return lc_record_prepared(cc->lc, t, &cc->audit,
		    "request.create", cc->actor, cc->req, NULL);
	}
	/* With its certificate: the serial first (CONFLICT when another
	 * process stored a cert with it meanwhile, before any hook ran),
	 * then the request, stored once as issued, and the two audit
	 * entries and hook calls as jit_lc_create() then jit_lc_issue()
	 * would make them. */
	if ((r = lc_cert_store(t, cc->cert)) != 0) {
		cc->retry = r == JIT_ERR_CONFLICT;
		return r;
	}
	if ((r = jit_request_store_new(t, cc->issued, &cc->enc)) != 0 ||
	    (r = lc_record_prepared(cc->lc, t, &cc->audit, "request.create",
	    cc->actor, cc->req, NULL)) != 0)
		return r;
	return lc_cert_record(cc->lc, t, cc->cert, cc->actor, cc->issued);
}

/* The policy's checks of a new request; *effective is the duration to
 * grant and *key the parsed public key. */
static int
create_check(const struct jit_lifecycle *lc, const struct jit_policy *p,
    const struct jit_actor *who,
    const struct jit_create_args *a, uint64_t now,
    const struct jit_policy_role **role, struct jit_key **key,
    uint64_t *effective, struct jit_why *why)
{
	struct jit_policy_who w;
	char msg[256];
	int r;

	*key = NULL;
	lc_policy_who(who, &w);
	if ((*role = jit_policy_role(p, a->role)) == NULL)
		return jit_refuse(why, JIT_ERR_POLICY_ROLE, "unknown_role",
		    "unknown role '%s'", jit_text_printable(a->role) ?
		    a->role : "?");
	if (a->start > now + lc->clock_skew + (*role)->max_start_ahead) {
		char ahead[32];
		jit_format_duration((*role)->max_start_ahead, ahead,
		    sizeof(ahead));
		return jit_refuse(why, JIT_ERR_INVALID_ARGUMENT,
		    "start_too_far", "start is too far ahead: role %s lets "
		    "a grant start at most %s from now", (*role)->name,
		    (*role)->max_start_ahead == 0 ? "0s (at approval)" :
		    ahead);
	}
	if ((r = jit_key_parse_public(a->public_key, key, NULL)) != 0)
		return jit_refuse(why, JIT_ERR_BAD_PUBLIC_KEY, "bad_public_key",
		    "public_key: %s", jit_err(r));
	if ((r = jit_policy_can_request_as(p, &w, a->role, msg,
	    sizeof(msg))) != 0)
		return jit_refuse(why, JIT_ERR_FORBIDDEN, "forbidden", "%s",
		    *msg ? msg : jit_err(r));
	if ((r = jit_policy_check_mfa(p, a->role, who->amr, who->amr != NULL ?
	    who->namr : 0, msg, sizeof(msg))) != 0)
		return jit_refuse(why, JIT_ERR_FORBIDDEN, "mfa_required", "%s",
		    *msg ? msg : jit_err(r));
	if ((r = jit_policy_check_request(p, a->role, a->duration, a->reason,
	    jit_key_type(*key), effective, msg, sizeof(msg))) != 0)
		return jit_refuse(why, r, r == JIT_ERR_POLICY_DURATION ?
		    "bad_duration" : r == JIT_ERR_POLICY_REASON ? "bad_reason" :
		    r == JIT_ERR_POLICY_KEY_TYPE ? "bad_key_type" :
		    "bad_request", "%s", *msg ? msg : jit_err(r));
	if (*effective == 0)
		return jit_refuse(why, JIT_ERR_INTERNAL, NULL,
		    "policy gave no duration");
	return 0;
}

static json_t *
create_audit(const struct jit_request *req, const struct jit_actor *who)
{
	json_t *pr = json_array();
	size_t i;

	for (i = 0; pr != NULL && i < req->nprincipals; i++)
		if (json_array_append_new(pr, json_string(req->principals[i]))
		    != 0) {
			json_decref(pr);
			return NULL;
		}
	if (pr == NULL)
		return NULL;
	return lc_audit_fields("request.create", who->user, req, json_pack(
	    "{s:o, s:o, s:I, s:s, s:s, s:s, s:I, s:o, s:o}",
	    "principals", pr,
	    "reason", req->reason != NULL ? json_string(req->reason) :
	    json_null(),
	    "duration", (json_int_t)req->duration,
	    "key_fingerprint", req->key_fingerprint,
	    "key_type", req->key_type,
	    "client_address", who->client_addr != NULL ? who->client_addr :
	    "-",
	    "approvals_needed", (json_int_t)req->approvals_needed,
	    "not_before", lc_time_or_null(req->not_before),
	    "not_after", lc_time_or_null(req->not_after)));
}

/*
 * Store req with its certificate (jit_lc_create_issue): a serial
 * reserved in a read, the certificate signed outside the write, then one
 * write with the request as issued, its cert record and both audit
 * entries; again with a fresh serial when another process took it.
 * The request as issued is a view of req that shares its members
 * (lc_cert_make sets only serial and issued_at), not a copy: cc->req
 * stays the request as created for the write's "request.create" hook
 * call.  0 with req as issued (its serial and issued_at set) and
 * *cert_line; 1 when no certificate could be made (req unchanged: the
 * caller stores it without one, and a later jit_lc_issue makes it); the
 * write's error otherwise.
 */
static int
create_issued(struct jit_lifecycle *lc, const struct jit_policy *p,
    struct create_ctx *cc, struct jit_request *req, uint64_t now,
    char **cert_line)
{
	struct lc_cert cert;
	struct jit_request ir;
	struct jit_why why;
	int r = 1, tries;

	memset(&cert, 0, sizeof(cert));
	for (tries = 0; tries < LC_ISSUE_TRIES; tries++) {
		lc_cert_release(&cert);
		jit_request_enc_release(&cc->enc);
		ir = *req;
		if (lc_cert_reserve(lc, &cert) != 0 ||
		    lc_cert_make(lc, p, cc->actor, &ir, now, &cert,
		    &why) != 0 || jit_request_encode(&ir, &cc->enc) != 0)
			break;
		cc->cert = &cert;
		cc->issued = &ir;
		cc->retry = 0;
		/* STORE_RETRY: the batch could not commit, perhaps for our
		 * serial, found only as the batch commits (jit_lc_issue). */
		r = jit_store_write(lc->store, create_fn, cc);
		if (r == 0 || !(cc->retry || r == JIT_ERR_STORE_RETRY))
			break;
		r = 1;
	}
	cc->cert = NULL;
	cc->issued = NULL;
	if (r == 0) {
		req->serial = ir.serial;
		req->issued_at = ir.issued_at;
		*cert_line = cert.line;
		cert.line = NULL;
	} else {
		jit_request_enc_release(&cc->enc);
	}
	lc_cert_release(&cert);
	return r;
}

int
jit_lc_create(struct jit_lifecycle *lc, const struct jit_policy *p,
    const struct jit_actor *who, const struct jit_create_args *a,
    uint64_t now, struct jit_request **out, struct jit_why *why)
{
	return jit_lc_create_issue(lc, p, who, a, now, out, NULL, NULL, why);
}

int
jit_lc_create_issue(struct jit_lifecycle *lc, const struct jit_policy *p,
    const struct jit_actor *who, const struct jit_create_args *a,
    uint64_t now, struct jit_request **out, char **cert_line, char **json,
    struct jit_why *why)
{
	const struct jit_policy_role *role = NULL;
	struct jit_request_terms terms;
	struct jit_request *req = NULL;
	struct create_ctx cc;
	struct jit_key *key = NULL;
	char *fp = NULL, *line = NULL;
	uint64_t effective = 0;
	int r = JIT_ERR_INTERNAL;

	jit_why_clear(why);
	memset(&cc, 0, sizeof(cc));
	if (out != NULL)
		*out = NULL;
	if (cert_line != NULL)
		*cert_line = NULL;
	if (json != NULL)
		*json = NULL;
	if ((r = create_check(lc, p, who, a, now, &role, &key, &effective,
	    why)) != 0) {
		if (r == JIT_ERR_FORBIDDEN || r == JIT_ERR_POLICY_REASON)
			audit_refusal(lc, who, "create", a->role, NULL, why);
		goto out;
	}
	if ((r = jit_key_fingerprint(key, &fp)) != 0 ||
	    (r = jit_key_format_public(key, NULL, &line)) != 0) {
		jit_refuse(why, r, NULL, "could not read the public key");
		goto out;
	}
	memset(&terms, 0, sizeof(terms));
	terms.user = who->user;
	terms.role = role;
	terms.public_key = line;
	terms.key_type = jit_key_type_short_name(jit_key_type(key));
	terms.key_fingerprint = fp;
	terms.duration = effective;
	terms.reason = a->reason;
	terms.start = a->start;
	terms.now = now;
	terms.role_digest = jit_policy_role_digest(role);
	if ((r = jit_request_new(&terms, &req)) != 0 ||
	    (who->groups != NULL && who->ngroups > 0 &&
	    (r = jit_request_set_user_groups(req, who->groups,
	    who->ngroups)) != 0)) {
		jit_refuse(why, r, NULL, "could not make the request");
		goto out;
	}
	if (req->approvals_needed == 0)
		grant(req, now);
	else if ((r = lc_update_missing(p, req)) != 0) {
		jit_refuse(why, r, NULL, "could not count the approvals needed");
		goto out;
	}
	/* Encoded here, in the caller's thread, not on the writer thread
	 * every write waits for. */
	cc.lc = lc;
	cc.req = req;
	cc.actor = who->user;
	cc.role_max = role->max_pending;
	if ((r = lc_prepare_audit(create_audit(req, who), &cc.audit)) != 0) {
		jit_refuse(why, r, NULL, r == JIT_ERR_ALLOC ? "out of memory" :
		    "could not store the request");
		goto out;
	}
	/* Approved, and its window starts now: issue its certificate in
	 * the same commit.  A start ahead leaves that to jit_lc_issue. */
	r = 1;
	if (cert_line != NULL && lc->sign != NULL &&
	    req->state == JIT_STATE_APPROVED && req->not_before == now)
		r = create_issued(lc, p, &cc, req, now, cert_line);
	if (r == 1) {
		if ((r = jit_request_encode(req, &cc.enc)) != 0) {
			jit_refuse(why, r, NULL, r == JIT_ERR_ALLOC ?
			    "out of memory" : "could not store the request");
			goto out;
		}
		r = jit_store_write(lc->store, create_fn, &cc);
	}
	if (r != 0) {
		if (cc.over != 0)
			jit_refuse(why, r, "too_many_pending", "%s already has "
			    "%u pending request%s%s%s, the most allowed; "
			    "cancel one or wait for a decision", who->user,
			    cc.over,
			    cc.over == 1 ? "" : "s", cc.over_role ?
			    " for role " : "", cc.over_role ? role->name : "");
		else
			jit_refuse(why, r, NULL, "could not store the "
			    "request");
		goto out;
	}
	/* cc.enc is what was stored: the request as issued, or req. */
	if (json != NULL) {
		*json = cc.enc.js;
		cc.enc.js = NULL;
	}
	if (out != NULL) {
		*out = req;
		req = NULL;
	}
out:
	jit_request_enc_release(&cc.enc);
	jit_audit_prep_release(&cc.audit);
	jit_request_free(req);
	jit_key_free(key);
	free(fp);
	free(line);
	return r;
}

/* ---- decide, cancel, revoke ---------------------------------------------- */

enum op { OP_APPROVE, OP_DENY, OP_CANCEL, OP_REVOKE };

static const char *const op_events[] = { "request.approve",
    "request.deny", "request.cancel", "request.revoke" };

struct change_ctx {
	struct jit_lifecycle *lc;
	const struct jit_policy *p;
	const struct jit_actor *who;
	const char *id;
	enum op op;
	const char *comment;
	uint64_t now;
	struct jit_request *out;      /* the request after the change */
	struct jit_why *why;
};

static int
check_pending(const struct jit_request *r, uint64_t now,
    struct jit_why *why)
{
	if (r->state != JIT_STATE_PENDING)
		return jit_refuse(why, JIT_ERR_CONFLICT, "conflict",
		    "request is %s, not pending", jit_state_name(r->state));
	if (now >= r->expires_at)
		return jit_refuse(why, JIT_ERR_CONFLICT, "conflict",
		    "request has expired");
	return 0;
}

/* May who do op to r at now?  Run before the write (to refuse cheaply)
 * and again inside it. */
static int
check_op(const struct change_ctx *c, const struct jit_request *r)
{
	const char *user = c->who->user;
	struct jit_policy_who w;
	char msg[256];
	int rc;

	lc_policy_who(c->who, &w);
	switch (c->op) {
	case OP_APPROVE:
	case OP_DENY:
		if ((rc = jit_policy_can_approve_as(c->p, &w, r->user, r->role,
		    msg, sizeof(msg))) != 0)
			return jit_refuse(c->why, JIT_ERR_FORBIDDEN,
			    "forbidden", "%s", *msg ? msg : jit_err(rc));
		if ((rc = check_pending(r, c->now, c->why)) != 0)
			return rc;
		if (c->op == OP_APPROVE && jit_request_approved_by(r, user))
			return jit_refuse(c->why, JIT_ERR_CONFLICT, "conflict",
			    "%s has already approved this request", user);
		return 0;
	case OP_CANCEL:
		if (strcmp(r->user, user) != 0)
			return jit_refuse(c->why, JIT_ERR_FORBIDDEN, "forbidden",
			    "only the requester may cancel");
		if (r->state != JIT_STATE_PENDING)
			return jit_refuse(c->why, JIT_ERR_CONFLICT, "conflict",
			    "request is %s, not pending",
			    jit_state_name(r->state));
		return 0;
	case OP_REVOKE:
		if (strcmp(r->user, user) != 0 &&
		    !jit_policy_is_approver_as(c->p, &w, r->role) &&
		    !jit_policy_is_admin_as(c->p, &w))
			return jit_refuse(c->why, JIT_ERR_FORBIDDEN, "forbidden",
			    "only the requester, approvers of role %s and "
			    "admins may revoke", r->role);
		if (r->state != JIT_STATE_APPROVED)
			return jit_refuse(c->why, JIT_ERR_CONFLICT, "conflict",
			    "request is %s, not approved",
			    jit_state_name(r->state));
		if (c->now >= r->not_after)
			return jit_refuse(c->why, JIT_ERR_CONFLICT, "conflict",
			    "the grant has already ended");
		return 0;
	}
	return JIT_ERR_INTERNAL;
}

unsigned
jit_lc_allowed(const struct jit_policy *p, const char *user,
    const struct jit_request *req, uint64_t now)
{
	struct jit_actor who;

	memset(&who, 0, sizeof(who));
	who.user = user;
	return jit_lc_allowed_as(p, &who, req, now);
}

unsigned
jit_lc_allowed_as(const struct jit_policy *p, const struct jit_actor *who,
    const struct jit_request *req, uint64_t now)
{
	static const unsigned bit[] = { JIT_LC_CAN_APPROVE, JIT_LC_CAN_DENY,
	    JIT_LC_CAN_CANCEL, JIT_LC_CAN_REVOKE };
	struct change_ctx c;
	unsigned ops = 0;
	int op;

	memset(&c, 0, sizeof(c));
	c.p = p;
	c.who = who;
	c.id = req->id;
	c.now = now;
	for (op = OP_APPROVE; op <= OP_REVOKE; op++) {
		c.op = (enum op)op;
		if (check_op(&c, req) == 0)
			ops |= bit[op];
	}
	return ops;
}

/* Count r's approvals against the role's rule; approve when it is met. */
static int
apply_approval(const struct change_ctx *c, struct jit_request *r)
{
	struct jit_policy_who *approvers;
	int met;

	if ((met = approvers_who(r, &approvers)) != 0)
		return met;
	met = jit_policy_approval_status_as(c->p, r->role, r->user, approvers,
	    r->napprovals, NULL, 0);
	free(approvers);
	if (met < 0)
		return met;
	if (met == 1) {
		grant(r, c->now);
		return 0;
	}
	return lc_update_missing(c->p, r);
}

/* Make op's change to r; *extra receives the audit entry's own members. */
static int
apply_op(const struct change_ctx *c, struct jit_request *r, json_t **extra)
{
	int rc;

	*extra = NULL;
	switch (c->op) {
	case OP_APPROVE:
		if ((rc = jit_request_add_decision_as(r, 0, c->who->user,
		    c->who->groups, c->who->groups != NULL ?
		    c->who->ngroups : 0, c->now, c->comment)) != 0 ||
		    (rc = apply_approval(c, r)) != 0)
			return rc;
		*extra = json_pack("{s:s?, s:I, s:o, s:o}", "comment",
		    c->comment, "approvals", (json_int_t)r->napprovals,
		    "not_before", lc_time_or_null(r->not_before),
		    "not_after", lc_time_or_null(r->not_after));
		break;
	case OP_DENY:
		if ((rc = jit_request_add_decision_as(r, 1, c->who->user,
		    c->who->groups, c->who->groups != NULL ?
		    c->who->ngroups : 0, c->now, c->comment)) != 0)
			return rc;
		r->state = JIT_STATE_DENIED;
		r->decided_at = c->now;
		r->expires_at = 0;
		if (jit_request_set_end_reason(r, JIT_END_DENIED) != 0)
			return JIT_ERR_ALLOC;
		*extra = json_pack("{s:s?}", "comment", c->comment);
		break;
	case OP_CANCEL:
		r->state = JIT_STATE_CANCELLED;
		r->cancelled_at = c->now;
		r->expires_at = 0;
		if (jit_request_set_end_reason(r, JIT_END_CANCELLED) != 0)
			return JIT_ERR_ALLOC;
		*extra = json_object();
		break;
	case OP_REVOKE:
		r->state = JIT_STATE_REVOKED;
		r->revoked_at = c->now;
		if ((r->revoked_by = jit_strdup(c->who->user)) == NULL ||
		    (c->comment != NULL && (r->revoke_comment =
		    jit_strdup(c->comment)) == NULL) ||
		    jit_request_set_end_reason(r, strcmp(r->user,
		    c->who->user) == 0 ? JIT_END_RELINQUISHED :
		    JIT_END_REVOKED) != 0)
			return JIT_ERR_ALLOC;
		/* The requester ending their own grant early relinquishes
		 * it; anyone else revokes it. */
		*extra = json_pack("{s:s?, s:o, s:b}", "comment", c->comment,
		    "serial", r->serial != 0 ?
		    json_integer((json_int_t)r->serial) : json_null(),
		    "relinquished", strcmp(r->user, c->who->user) == 0);
		break;
	}
	return *extra != NULL ? 0 : JIT_ERR_ALLOC;
}

static int
change_fn(struct jit_store_txn *t, void *vctx)
{
	struct change_ctx *c = vctx;
	struct jit_request *r = NULL;
	json_t *extra = NULL;
	int rc;

	if ((rc = jit_request_load(t, c->id, &r)) != 0)
		return lc_load_failed(c->why, rc);
	if ((rc = check_op(c, r)) != 0 || (rc = apply_op(c, r, &extra)) != 0 ||
	    (rc = jit_request_store_put(t, r, NULL)) != 0)
		goto out;
	rc = lc_record(c->lc, t, lc_audit_fields(op_events[c->op],
	    c->who->user, r, extra), op_events[c->op], c->who->user, r,
	    c->comment);
	extra = NULL;
	if (rc != 0)
		goto out;
	c->out = r;
	r = NULL;
out:
	json_decref(extra);
	jit_request_free(r);
	return rc;
}

/* Read request id in its own snapshot. */
static int
load_fn(struct jit_store_txn *t, void *vctx)
{
	void **v = vctx;

	return jit_request_load(t, v[0], (struct jit_request **)&v[1]);
}

int
lc_load(struct jit_lifecycle *lc, const char *id, struct jit_request **out,
    struct jit_why *why)
{
	void *v[2] = { (void *)id, NULL };
	int r;

	*out = NULL;
	if ((r = jit_store_read(lc->store, load_fn, v)) != 0) {
		jit_request_free(v[1]);
		return lc_load_failed(why, r);
	}
	*out = v[1];
	return 0;
}

static int
change(struct jit_lifecycle *lc, const struct jit_policy *p,
    const struct jit_actor *who, const char *id, enum op op,
    const char *comment, uint64_t now, struct jit_request **out,
    struct jit_why *why)
{
	struct change_ctx c = { lc, p, who, id, op, comment, now, NULL, why };
	struct jit_request *cur;
	int r;

	jit_why_clear(why);
	if (out != NULL)
		*out = NULL;
	/* Refuse what is plainly not allowed without taking a write. */
	if ((r = lc_load(lc, id, &cur, why)) != 0)
		return r;
	r = check_op(&c, cur);
	if (r == JIT_ERR_FORBIDDEN && op == OP_APPROVE &&
	    strcmp(cur->user, who->user) == 0)
		audit_refusal(lc, who, "approve", cur->role, cur->id, why);
	jit_request_free(cur);
	if (r != 0)
		return r;
	if ((r = jit_store_write(lc->store, change_fn, &c)) != 0) {
		jit_request_free(c.out);
		if (why != NULL && why->slug == NULL && why->message[0] == '\0')
			jit_refuse(why, r, NULL, "could not store the change");
		return r;
	}
	if (out != NULL)
		*out = c.out;
	else
		jit_request_free(c.out);
	return 0;
}

int
jit_lc_decide(struct jit_lifecycle *lc, const struct jit_policy *p,
    const struct jit_actor *who, const char *id, enum jit_verdict v,
    const char *comment, uint64_t now, struct jit_request **out,
    struct jit_why *why)
{
	return change(lc, p, who, id, v == JIT_DENY ? OP_DENY : OP_APPROVE,
	    comment, now, out, why);
}

int
jit_lc_cancel(struct jit_lifecycle *lc, const struct jit_policy *p,
    const struct jit_actor *who, const char *id, uint64_t now,
    struct jit_request **out, struct jit_why *why)
{
	return change(lc, p, who, id, OP_CANCEL, NULL, now, out, why);
}

int
jit_lc_revoke(struct jit_lifecycle *lc, const struct jit_policy *p,
    const struct jit_actor *who, const char *id, const char *comment,
    uint64_t now, struct jit_request **out, struct jit_why *why)
{
	return change(lc, p, who, id, OP_REVOKE, comment, now, out, why);
}

/* ---- system audit entries ------------------------------------------------ */

int
jit_lc_audit_system(struct jit_lifecycle *lc, const struct jit_policy *p,
    const char *event, json_t *fields)
{
	json_t *a;
	int r;

	a = json_pack("{s:s, s:s, s:s, s:s, s:s?}", "event", event,
	    "actor", "system", "policy_hash", jit_policy_hash(p),
	    "policy_source", jit_policy_source(p),
	    "ca_fingerprint", lc->ca_fp);
	if (a == NULL)
		return JIT_ERR_ALLOC;
	if (fields != NULL)
		json_object_update(a, fields);
	r = jit_store_write(lc->store, append_fn, a);
	json_decref(a);
	return r;
}
