/*
 * res_history.c - GET /v1/requests/ID/history: the audit entries about
 * one request, oldest first, for those who may see the request
 * (jit_lc_get's rule).
 *
 *   {"request": ID, "complete": true|false, "entries": [{"seq": N,
 *    "time": T, "event": E, "actor": A, "state": S, ...}, ...]}
 *
 * Entries keep only the members that describe the change (see KEEP);
 * client addresses, policy hashes and the chain's own members stay in
 * the audit export.  The log has no index by request, so the scan runs
 * backwards from the head and stops at the request's "request.create"
 * entry: its cost is the number of entries written since the request
 * was made, at most HISTORY_SCAN_MAX ("complete": false past that).
 */
#include "api_int.h"

#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "err.h"

#define HISTORY_SCAN_MAX 200000

static const char *const KEEP[] = { "seq", "time", "event", "actor",
    "state", "comment", "approvals", "not_before", "not_after", "serial",
    NULL };

struct history {
	const char *id;
	json_t *entries;             /* newest first while scanning */
	int complete;
};

/* The members of e worth showing (not the null ones), or NULL on ALLOC. */
static json_t *
keep_members(const json_t *e)
{
	json_t *o = json_object(), *v;
	size_t i;

	for (i = 0; o != NULL && KEEP[i] != NULL; i++)
		if ((v = json_object_get(e, KEEP[i])) != NULL &&
		    !json_is_null(v) && json_object_set(o, KEEP[i], v) != 0) {
			json_decref(o);
			o = NULL;
		}
	return o;
}

/* Look at entry seq: 1 when it is the request's first, 0 to go on. */
static int
history_one(struct jit_store_txn *t, struct history *h, uint64_t seq)
{
	const char *rid, *ev;
	json_t *e = NULL;
	char *text = NULL;
	size_t len = 0;
	int r;

	if ((r = jit_store_audit_get(t, seq, &text, &len)) != 0)
		return r;
	e = json_loadb(text, len, 0, NULL);
	free(text);
	if (e == NULL)
		return JIT_ERR_STORE_CORRUPT;
	rid = json_string_value(json_object_get(e, "request"));
	r = 0;
	if (rid != NULL && strcmp(rid, h->id) == 0) {
		if (json_array_append_new(h->entries, keep_members(e)) != 0)
			r = JIT_ERR_ALLOC;
		else if ((ev = json_string_value(json_object_get(e,
		    "event"))) != NULL && strcmp(ev, "request.create") == 0)
			r = 1;
	}
	json_decref(e);
	return r;
}

static int
history_fn(struct jit_store_txn *t, void *vctx)
{
	struct history *h = vctx;
	char head_hash[JIT_AUDIT_HASH_HEX];
	uint64_t head, seq;
	int r;

	json_array_clear(h->entries);
	h->complete = 0;
	if ((r = jit_store_audit_head(t, &head, head_hash)) != 0)
		return r;
	for (seq = head; seq > 0 && head - seq < HISTORY_SCAN_MAX; seq--) {
		if ((r = history_one(t, h, seq)) < 0)
			return r;
		if (r == 1) {
			h->complete = 1;
			return 0;
		}
	}
	h->complete = seq == 0;   /* the whole log was read */
	return 0;
}

void
res_request_history(struct call *c, const char *id)
{
	struct jit_request *req = NULL;
	struct jit_why why;
	struct history h;
	json_t *asc;
	size_t i, n;
	int r;

	if (c->req->query[0] != '\0') {
		reply_error(c, 400, "bad_query", "no query parameters here");
		return;
	}
	if ((r = jit_lc_get(c->api->lc, c->p, &c->who, id, &req, &why)) != 0) {
		reply_refusal(c, r, &why);
		return;
	}
	jit_request_free(req);
	h.id = id;
	h.complete = 0;
	if ((h.entries = json_array()) == NULL) {
		reply_failure(c, JIT_ERR_ALLOC, "could not read the history");
		return;
	}
	if ((r = jit_store_read(c->api->store, history_fn, &h)) != 0) {
		json_decref(h.entries);
		reply_failure(c, r, "could not read the history");
		return;
	}
	asc = json_array();
	n = json_array_size(h.entries);
	for (i = n; asc != NULL && i > 0; i--)
		if (json_array_append(asc, json_array_get(h.entries, i - 1))
		    != 0) {
			json_decref(asc);
			asc = NULL;
		}
	json_decref(h.entries);
	reply_json(c, asc != NULL ? 200 : 500, asc != NULL ?
	    json_pack("{s:s, s:b, s:o}", "request", id, "complete",
	    h.complete, "entries", asc) : NULL);
}
