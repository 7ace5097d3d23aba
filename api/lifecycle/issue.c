/*
 * issue.c - see lifecycle.h, jit_lc_issue(): the certificate of a grant.
 *
 * The certificate is signed before the write with a reserved serial
 * (jit_store_reserve_serial), so the writer thread, which every write in
 * the server waits on, spends no time on signatures.  Inside the write the
 * request is checked again, the serial claimed, and the cert record, the
 * request's serial and the audit entry stored together.  When the request
 * changed between the read and the write, the work is done again (at most
 * LC_ISSUE_TRIES times).  The signing and what the write stores with a
 * certificate (lc_cert_*, lifecycle_int.h) also serve a request that is
 * issued at its creation (lifecycle.c).
 */
#include "lifecycle_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "buf.h"
#include "err.h"
#include "util.h"

#define METRIC_CERTS_ISSUED "metrics.certs_issued"

struct issue_ctx {
	struct jit_lifecycle *lc;
	const struct jit_actor *who;
	const char *id;
	uint64_t now;
	struct jit_why *why;
	/* read before the write */
	struct jit_request *snap;     /* the request as read; from
	                                 prepare_write on, as issued
	                                 (serial, issued_at) */
	void *raw;                    /* ... and its stored bytes */
	size_t rawlen;
	char *existing;               /* the cert line if already issued */
	/* made before the write (the serial reserved in the read) */
	struct lc_cert cert;
	struct jit_request_enc upd_enc;   /* snap as issued, encoded */
	char *line;                   /* the cert line of another fetch
	                                 that issued it first */
	int retry;                    /* read and sign again */
};

static void
issue_reset(struct issue_ctx *ic)
{
	jit_request_free(ic->snap);
	free(ic->raw);
	free(ic->existing);
	lc_cert_release(&ic->cert);
	jit_request_enc_release(&ic->upd_enc);
	free(ic->line);
	ic->snap = NULL;
	ic->raw = NULL;
	ic->existing = ic->line = NULL;
	ic->retry = 0;
}

/* Is r's grant fetchable by who now?  0, FORBIDDEN, CONFLICT. */
static int
check_fetch(const struct jit_actor *who, const struct jit_request *r,
    uint64_t now, struct jit_why *why)
{
	if (strcmp(r->user, who->user) != 0)
		return jit_refuse(why, JIT_ERR_FORBIDDEN, "forbidden",
		    "only the requester may fetch the certificate");
	if (r->state != JIT_STATE_APPROVED)
		return jit_refuse(why, JIT_ERR_CONFLICT, "conflict",
		    "request is %s, not approved", jit_state_name(r->state));
	if (now >= r->not_after)
		return jit_refuse(why, JIT_ERR_CONFLICT, "conflict",
		    "the grant has ended");
	return 0;
}

/* The cert line of serial's record in *line. */
static int
cert_line(struct jit_store_txn *t, uint64_t serial, char **line)
{
	json_t *rec = NULL;
	const char *s;
	int r;

	if ((r = jit_store_get_cert(t, serial, &rec)) != 0)
		return r;
	s = json_string_value(json_object_get(rec, "cert"));
	r = s == NULL ? JIT_ERR_STORE_CORRUPT :
	    (*line = jit_strdup(s)) == NULL ? JIT_ERR_ALLOC : 0;
	json_decref(rec);
	return r;
}

/* Read the request (and its cert, if issued) and, if it has none yet,
 * reserve a serial, all in one snapshot. */
static int
reserve_fn(struct jit_store_txn *t, void *vctx)
{
	struct issue_ctx *ic = vctx;
	json_t *j = NULL;
	int r;

	if ((r = jit_store_get_request_raw(t, ic->id, &j, &ic->raw,
	    &ic->rawlen)) != 0)
		return r;
	r = jit_request_from_json(j, &ic->snap);
	json_decref(j);
	if (r != 0)
		return r;
	if (ic->snap->serial != 0)
		return cert_line(t, ic->snap->serial, &ic->existing);
	return jit_store_reserve_serial(t, &ic->cert.serial);
}

static int
reserve_only_fn(struct jit_store_txn *t, void *vctx)
{
	return jit_store_reserve_serial(t, vctx);
}

int
lc_cert_reserve(struct jit_lifecycle *lc, struct lc_cert *c)
{
	return jit_store_read(lc->store, reserve_only_fn, &c->serial);
}

void
lc_cert_release(struct lc_cert *c)
{
	json_decref(c->rec);
	free(c->rec_js);
	jit_audit_prep_release(&c->audit);
	free(c->line);
	memset(c, 0, sizeof(*c));
}

/* Sign the certificate for req with c->serial at now (before the
 * write): c->rec, c->line. */
static int
sign_cert(struct jit_lifecycle *lc, const struct jit_policy *p,
    const struct jit_request *req, uint64_t now, struct lc_cert *c,
    struct jit_why *why)
{
	const struct jit_policy_role *role;
	struct jit_cert_spec spec;
	struct jit_key *key = NULL;
	struct jit_buf blob = JIT_BUF_INIT;
	json_t *pr = NULL;
	char keyid[256], va[JIT_TIME_LEN];
	size_t i;
	int r = JIT_ERR_INTERNAL;

	/* The certificate carries the terms recorded when the request was
	 * made (request.h), which approvers saw; only a request stored
	 * before terms were recorded takes them from the role in force. */
	role = req->terms_recorded ? NULL : jit_policy_role(p, req->role);
	if (!req->terms_recorded && role == NULL)
		return jit_refuse(why, JIT_ERR_CONFLICT, "conflict",
		    "role %s is no longer in the policy", req->role);
	if (req->nprincipals == 0)
		return JIT_ERR_STORE_CORRUPT;
	/* The stored key line was made by jit_lc_create from a key that
	 * jit_key_parse_public validated; validating the point again would
	 * cost two signatures. */
	if ((r = jit_key_parse_public_trusted(req->public_key, &key)) != 0)
		return r;
	snprintf(keyid, sizeof(keyid), "%s req=%s role=%s", req->user,
	    req->id, req->role);
	memset(&spec, 0, sizeof(spec));
	spec.key = key;
	spec.serial = c->serial;
	spec.key_id = keyid;
	spec.principals = (const char *const *)req->principals;
	spec.nprincipals = req->nprincipals;
	spec.valid_after = req->not_before > lc->clock_skew ?
	    req->not_before - lc->clock_skew : 0;
	spec.valid_before = req->not_after;
	if (role != NULL) {
		spec.force_command = role->force_command;
		spec.source_address = role->source_address;
		spec.extensions = role->extensions;
		spec.nextensions = role->nextensions;
	} else {
		spec.force_command = req->force_command;
		spec.source_address = req->source_address;
		spec.extensions = (const char *const *)req->extensions;
		spec.nextensions = req->nextensions;
	}
	if ((r = jit_cert_sign(&spec, lc->ca, lc->sign, lc->sign_ctx,
	    &blob)) != 0 ||
	    (r = jit_cert_format(jit_buf_ptr(&blob), jit_buf_len(&blob),
	    keyid, &c->line)) != 0)
		goto out;
	r = JIT_ERR_ALLOC;
	if ((pr = json_array()) == NULL)
		goto out;
	for (i = 0; i < req->nprincipals; i++)
		if (json_array_append_new(pr, json_string(req->principals[i]))
		    != 0)
			goto out;
	jit_format_time(spec.valid_after, va);
	c->rec = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:O, s:s, s:s, "
	    "s:o, s:s, s:o}",
	    "serial", (json_int_t)c->serial, "request", req->id,
	    "user", req->user, "role", req->role, "key_id", keyid,
	    "cert", c->line, "principals", pr,
	    "key_fingerprint", req->key_fingerprint, "valid_after", va,
	    "valid_before", lc_time_or_null(req->not_after),
	    "ca_fingerprint", lc->ca_fp,
	    "issued_at", lc_time_or_null(now));
	if (c->rec != NULL)
		r = 0;
out:
	json_decref(pr);
	jit_buf_release(&blob);
	jit_key_free(key);
	return r;
}

int
lc_cert_make(struct jit_lifecycle *lc, const struct jit_policy *p,
    const char *actor, struct jit_request *req, uint64_t now,
    struct lc_cert *c, struct jit_why *why)
{
	int r;

	if ((r = sign_cert(lc, p, req, now, c, why)) != 0 ||
	    (r = jit_store_encode_cert(c->rec, &c->rec_js, &c->rec_jl)) != 0)
		return r;
	req->serial = c->serial;
	req->issued_at = now;
	return lc_prepare_audit(lc_audit_fields("cert.issue", actor, req,
	    json_pack("{s:I, s:O, s:O, s:O, s:O, s:O, s:O}",
	    "serial", (json_int_t)c->serial,
	    "key_id", json_object_get(c->rec, "key_id"),
	    "principals", json_object_get(c->rec, "principals"),
	    "valid_after", json_object_get(c->rec, "valid_after"),
	    "valid_before", json_object_get(c->rec, "valid_before"),
	    "key_fingerprint", json_object_get(c->rec, "key_fingerprint"),
	    "ca_fingerprint", json_object_get(c->rec, "ca_fingerprint"))),
	    &c->audit);
}

/* The members of a request that the signed certificate was made from. */
static int
same_grant(const struct jit_request *a, const struct jit_request *b)
{
	size_t i;

	if (strcmp(a->user, b->user) != 0 || strcmp(a->role, b->role) != 0 ||
	    strcmp(a->public_key, b->public_key) != 0 ||
	    a->not_before != b->not_before || a->not_after != b->not_after ||
	    a->nprincipals != b->nprincipals)
		return 0;
	for (i = 0; i < a->nprincipals; i++)
		if (strcmp(a->principals[i], b->principals[i]) != 0)
			return 0;
	return 1;
}

static int
count_issued(struct jit_store_txn *t)
{
	json_t *cnt = NULL;
	json_int_t n = 0;
	int r;

	if (jit_store_get_value(t, METRIC_CERTS_ISSUED, &cnt) == 0)
		n = json_integer_value(cnt);
	json_decref(cnt);
	if ((cnt = json_integer(n + 1)) == NULL)
		return JIT_ERR_ALLOC;
	r = jit_store_put_value(t, METRIC_CERTS_ISSUED, cnt);
	json_decref(cnt);
	return r;
}

int
lc_cert_store(struct jit_store_txn *t, const struct lc_cert *c)
{
	int r;

	if ((r = jit_store_claim_serial(t, c->serial)) != 0 ||
	    (r = jit_store_put_cert_encoded(t, c->serial, c->rec_js,
	    c->rec_jl)) != 0)
		return r;
	return count_issued(t);
}

int
lc_cert_record(struct jit_lifecycle *lc, struct jit_store_txn *t,
    const struct lc_cert *c, const char *actor,
    const struct jit_request *req)
{
	return lc_record_prepared(lc, t, &c->audit, "cert.issue", actor, req,
	    NULL);
}

static int
issue_fn(struct jit_store_txn *t, void *vctx)
{
	struct issue_ctx *ic = vctx;
	struct jit_request *cur = NULL;
	const struct jit_request *req = ic->snap;
	int r;

	/* Unchanged since the snapshot (the usual case): use the request
	 * read then, without a certificate (reserve_fn), instead of parsing
	 * it again on the writer thread; ic->snap is already as issued. */
	if (jit_store_request_unchanged(t, ic->id, ic->raw, ic->rawlen) != 0) {
		if ((r = jit_request_load(t, ic->id, &cur)) != 0)
			return r;
		req = cur;
	}
	if ((r = check_fetch(ic->who, req, ic->now, ic->why)) != 0)
		goto out;
	if (cur != NULL && cur->serial != 0) {
		/* Another fetch issued it first: return the same bytes (ours
		 * is dropped; its serial stays unused). */
		free(ic->line);
		ic->line = NULL;
		r = cert_line(t, cur->serial, &ic->line);
		goto out;
	}
	if (cur != NULL && !same_grant(cur, ic->snap)) {
		ic->retry = 1;           /* changed since it was read */
		r = JIT_ERR_CONFLICT;
		goto out;
	}
	if ((r = lc_cert_store(t, &ic->cert)) != 0) {
		/* CONFLICT: another process stored a cert with this serial
		 * meanwhile; a fresh reservation skips past it. */
		ic->retry = r == JIT_ERR_CONFLICT;
		goto out;
	}
	if (cur != NULL) {
		cur->serial = ic->cert.serial;
		cur->issued_at = ic->now;
		r = jit_request_store_put(t, cur, NULL);
	} else {
		r = jit_request_store_put(t, ic->snap, &ic->upd_enc);
	}
	if (r == 0)
		r = lc_cert_record(ic->lc, t, &ic->cert, ic->who->user, req);
out:
	jit_request_free(cur);
	return r;
}

int
jit_lc_issue(struct jit_lifecycle *lc, const struct jit_policy *p,
    const struct jit_actor *who, const char *id, uint64_t now, char **line,
    struct jit_why *why)
{
	struct issue_ctx ic;
	int r = JIT_ERR_INTERNAL, tries;

	jit_why_clear(why);
	*line = NULL;
	if (lc->sign == NULL)
		return jit_refuse(why, JIT_ERR_INVALID_ARGUMENT, NULL,
		    "this lifecycle has no CA to sign with");
	memset(&ic, 0, sizeof(ic));
	ic.lc = lc;
	ic.who = who;
	ic.id = id;
	ic.now = now;
	ic.why = why;
	for (tries = 0; tries < LC_ISSUE_TRIES; tries++) {
		issue_reset(&ic);
		if ((r = jit_store_read(lc->store, reserve_fn, &ic)) != 0) {
			lc_load_failed(why, r);
			break;
		}
		if ((r = check_fetch(who, ic.snap, now, why)) != 0)
			break;
		if (ic.existing != NULL) {
			*line = ic.existing;
			ic.existing = NULL;
			break;
		}
		if (ic.cert.serial == 0) {
			r = JIT_ERR_STORE_CORRUPT;
			break;
		}
		/* The write knows that the stored request, when unchanged,
		 * has no serial: ic.snap becomes the request as issued. */
		if ((r = lc_cert_make(lc, p, who->user, ic.snap, now,
		    &ic.cert, why)) != 0 ||
		    (r = jit_request_encode(ic.snap, &ic.upd_enc)) != 0)
			break;
		r = jit_store_write(lc->store, issue_fn, &ic);
		if (r == 0) {
			/* Ours, or that of a fetch that issued it first. */
			if (ic.line != NULL) {
				*line = ic.line;
				ic.line = NULL;
			} else {
				*line = ic.cert.line;
				ic.cert.line = NULL;
			}
			break;
		}
		/* STORE_RETRY: the batch could not commit, perhaps for our
		 * serial (the PostgreSQL store defers the cert record's
		 * insert and finds a taken serial only as the batch
		 * commits, then moves past it). */
		if (!ic.retry && r != JIT_ERR_STORE_RETRY)
			break;
		jit_why_clear(why);
	}
	if (tries == LC_ISSUE_TRIES) {
		/* Collided every time (another node's serials, a grant that
		 * kept changing): nothing is wrong with the request, so the
		 * caller may try again (503, not 409). */
		r = jit_refuse(why, JIT_ERR_STORE, NULL, "could not issue the "
		    "certificate: its write conflicted %d times; try again",
		    LC_ISSUE_TRIES);
	}
	if (r != 0 && why != NULL && why->message[0] == '\0')
		jit_refuse(why, r, NULL, "could not issue the certificate");
	issue_reset(&ic);
	return r;
}
