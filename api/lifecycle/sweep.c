/*
 * sweep.c - see lifecycle.h, jit_lc_sweep(): pending requests that nobody
 * decided in time expire, grants whose window closed end.
 *
 * Only the due requests are read (the store's deadline index), not every
 * pending and approved one, and they are changed in batches of at most
 * SWEEP_BATCH per write, so N expiries cost N / SWEEP_BATCH commits.
 */
#include "lifecycle_int.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"

#define SWEEP_BATCH 256

struct due {
	char (*ids)[JIT_REQUEST_ID_LEN];
	size_t n, cap;
	uint64_t now;
};

static int
collect_due(json_t *j, uint64_t seq, void *vctx)
{
	struct due *d = vctx;
	const char *id = json_string_value(json_object_get(j, "id"));
	void *nv;

	(void)seq;
	if (id == NULL || strlen(id) >= JIT_REQUEST_ID_LEN)
		return 0;    /* not one of ours; jit_store_get_request finds
		                nothing by it either */
	if (d->n == d->cap) {
		size_t cap = d->cap != 0 ? d->cap * 2 : 64;
		if ((nv = realloc(d->ids, cap * sizeof(*d->ids))) == NULL)
			return JIT_ERR_ALLOC;
		d->ids = nv;
		d->cap = cap;
	}
	memcpy(d->ids[d->n++], id, strlen(id) + 1);
	return 0;
}

static int
scan_fn(struct jit_store_txn *t, void *vctx)
{
	struct due *d = vctx;

	return jit_store_list_due(t, d->now, collect_due, d);
}

struct batch {
	struct jit_lifecycle *lc;
	char (*ids)[JIT_REQUEST_ID_LEN];
	size_t n;
	uint64_t now;
	unsigned expired, ended;
};

/* End or expire one due request inside t; 0 if it was not due after all
 * (decided meanwhile) or unreadable (left for an operator: one bad record
 * must not stop every sweep). */
static int
sweep_one(struct batch *b, struct jit_store_txn *t, const char *id)
{
	struct jit_request *r = NULL;
	const char *event;
	json_t *extra;
	int rc;

	if ((rc = jit_request_load(t, id, &r)) != 0)
		return rc == JIT_ERR_STORE_CORRUPT || rc == JIT_ERR_NOT_FOUND ?
		    0 : rc;
	if (jit_request_deadline(r) == 0 || b->now < jit_request_deadline(r)) {
		jit_request_free(r);
		return 0;
	}
	if (r->state == JIT_STATE_APPROVED) {
		event = "grant.end";
		r->state = JIT_STATE_ENDED;
		r->ended_at = b->now;
		extra = json_pack("{s:o, s:o, s:o}", "serial", r->serial != 0 ?
		    json_integer((json_int_t)r->serial) : json_null(),
		    "not_before", lc_time_or_null(r->not_before),
		    "not_after", lc_time_or_null(r->not_after));
	} else {
		event = "request.expire";
		r->state = JIT_STATE_EXPIRED;
		r->expired_at = b->now;
		r->expires_at = 0;
		extra = json_pack("{s:I}", "approvals",
		    (json_int_t)r->napprovals);
	}
	if (extra == NULL || jit_request_set_end_reason(r, r->state ==
	    JIT_STATE_ENDED ? JIT_END_ENDED : JIT_END_EXPIRED) != 0) {
		json_decref(extra);
		rc = JIT_ERR_ALLOC;
	} else if ((rc = jit_request_store_put(t, r, NULL)) != 0)
		json_decref(extra);
	else
		rc = lc_record(b->lc, t, lc_audit_fields(event, "system", r,
		    extra), event, "system", r, NULL);
	if (rc == 0) {
		if (r->state == JIT_STATE_ENDED)
			b->ended++;
		else
			b->expired++;
	}
	jit_request_free(r);
	return rc;
}

static int
batch_fn(struct jit_store_txn *t, void *vctx)
{
	struct batch *b = vctx;
	size_t i;
	int rc;

	b->expired = b->ended = 0;
	for (i = 0; i < b->n; i++)
		if ((rc = sweep_one(b, t, b->ids[i])) != 0)
			return rc;
	return 0;
}

int
jit_lc_sweep(struct jit_lifecycle *lc, uint64_t now, unsigned *expired,
    unsigned *ended)
{
	struct due d;
	struct batch b;
	size_t i;
	int r;

	if (expired != NULL)
		*expired = 0;
	if (ended != NULL)
		*ended = 0;
	memset(&d, 0, sizeof(d));
	d.now = now;
	if ((r = jit_store_read(lc->store, scan_fn, &d)) != 0)
		goto out;
	for (i = 0; i < d.n; i += SWEEP_BATCH) {
		memset(&b, 0, sizeof(b));
		b.lc = lc;
		b.ids = d.ids + i;
		b.n = d.n - i < SWEEP_BATCH ? d.n - i : SWEEP_BATCH;
		b.now = now;
		if ((r = jit_store_write(lc->store, batch_fn, &b)) != 0)
			goto out;
		if (expired != NULL)
			*expired += b.expired;
		if (ended != NULL)
			*ended += b.ended;
	}
	r = 0;
out:
	free(d.ids);
	/* The scan maps every due record; with a million stored requests
	 * that is many MB of the LMDB map (page cache, but counted in our
	 * RSS).  Drop those pages from the resident set. */
	jit_store_release_pages(lc->store);
	return r;
}
