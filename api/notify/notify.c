/*
 * notify.c - see notify.h: the notifier object, the hook that fills the
 * outbox, manual retries and test sends.  The delivery threads are in
 * deliver.c.
 */
#include "notify_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "lifecycle.h"
#include "util.h"

void
notify_logf(struct jit_notify *n, const char *fmt, ...)
{
	char line[768];
	va_list ap;
	int k;

	if (n->log == NULL)
		return;
	k = snprintf(line, sizeof(line), "notify: ");
	va_start(ap, fmt);
	vsnprintf(line + k, sizeof(line) - (size_t)k, fmt, ap);
	va_end(ap);
	n->log(n->log_ctx, line);
}

/* Endpoint i's secret from its secret_file. */
static int
load_secret(struct jit_notify *n, size_t i, char *err, size_t errlen)
{
	const char *path = n->eps[i].secret_file;
	unsigned char *data = NULL;
	size_t len = 0;
	int r;

	if ((r = jit_read_file(path, NOTIFY_SECRET_MAX, &data, &len)) != 0) {
		jit_seterr(err, errlen, "notify %s: secret_file %s: %s",
		    n->eps[i].name, path, r == JIT_ERR_NO_BUFFER_SPACE ?
		    "larger than 4 KiB" : jit_err(r));
		return r == JIT_ERR_NO_BUFFER_SPACE ? JIT_ERR_INVALID_FORMAT : r;
	}
	if (len > 0 && data[len - 1] == '\n')
		data[--len] = '\0';
	if (len > 0 && data[len - 1] == '\r')
		data[--len] = '\0';
	if (len == 0) {
		free(data);
		jit_seterr(err, errlen, "notify %s: secret_file %s is empty",
		    n->eps[i].name, path);
		return JIT_ERR_INVALID_FORMAT;
	}
	n->secrets[i] = data;
	n->secret_len[i] = len;
	return 0;
}

int
jit_notify_new(const struct jit_notify_options *o, struct jit_notify **out,
    char *err, size_t errlen)
{
	struct jit_notify *n;
	int r = JIT_ERR_ALLOC;

	*out = NULL;
	jit_seterr(err, errlen, "%s", "");
	if (o == NULL || (o->nendpoints > 0 && o->endpoints == NULL))
		return JIT_ERR_INVALID_ARGUMENT;
	if ((n = calloc(1, sizeof(*n))) == NULL)
		return JIT_ERR_ALLOC;
	n->eps = o->endpoints;
	n->neps = o->nendpoints;
	n->public_url = o->public_url;
	n->store = o->store;
	n->log = o->log;
	n->log_ctx = o->log_ctx;
	atomic_init(&n->stop, 0);
	if ((n->secrets = calloc(n->neps + 1, sizeof(*n->secrets))) == NULL ||
	    (n->secret_len = calloc(n->neps + 1,
	    sizeof(*n->secret_len))) == NULL)
		goto fail;
	for (size_t i = 0; i < n->neps; i++)
		if (n->eps[i].secret_file != NULL &&
		    (r = load_secret(n, i, err, errlen)) != 0)
			goto fail;
	*out = n;
	return 0;
fail:
	jit_notify_free(n);
	return r;
}

void
jit_notify_free(struct jit_notify *n)
{
	if (n == NULL)
		return;
	jit_notify_stop(n);
	for (size_t i = 0; n->secrets != NULL && i < n->neps; i++) {
		if (n->secrets[i] != NULL)
			jit_wipe(n->secrets[i], n->secret_len[i]);
		free(n->secrets[i]);
	}
	free(n->secrets);
	free(n->secret_len);
	free(n);
}

/* ---- the hook -------------------------------------------------------------- */

/* The addresses an email about ev goes to (notify.h), a new array; an
 * empty one when nobody has an address. */
static json_t *
recipients(const struct jit_lc_event *ev, const struct jit_policy *p)
{
	const struct jit_request *req = ev->req;
	json_t *to = json_array();
	const char *a;
	size_t i, nu;

	if (to == NULL || req == NULL || p == NULL)
		return to;
	if (strcmp(ev->event, "request.create") != 0) {
		if (strcmp(ev->actor, req->user) != 0 &&
		    (a = jit_policy_user_email(p, req->user)) != NULL &&
		    json_array_append_new(to, json_string(a)) != 0)
			goto oom;
		return to;
	}
	if (req->state != JIT_STATE_PENDING)
		return to;   /* granted at once: nobody has to decide */
	nu = jit_policy_user_count(p);
	for (i = 0; i < nu; i++) {
		const char *u = jit_policy_user_at(p, i);

		if ((a = jit_policy_user_email(p, u)) == NULL ||
		    strcmp(u, req->user) == 0 ||
		    jit_request_approved_by(req, u) ||
		    jit_policy_can_approve(p, u, req->user, req->role, NULL,
		    0) != 0)
			continue;
		if (json_array_append_new(to, json_string(a)) != 0)
			goto oom;
	}
	return to;
oom:
	json_decref(to);
	return NULL;
}

/* A fresh delivery id "n-" + 12 base32 characters. */
static int
new_id(char out[JIT_REQUEST_ID_LEN])
{
	int r;

	if ((r = jit_store_new_request_id(out)) != 0)
		return r;
	out[0] = 'n';
	return 0;
}

/* The outbox record of payload for one endpoint (notify.h). */
static json_t *
make_record(const struct jit_lc_event *ev, json_t *payload, json_t *to,
    uint64_t now)
{
	char id[JIT_REQUEST_ID_LEN];
	json_t *rec;

	if (new_id(id) != 0)
		return NULL;
	rec = json_pack("{s:s, s:s, s:s?, s:I, s:I, s:O, s:I, s:I}", "id", id,
	    "event", ev->event, "request", ev->req != NULL ? ev->req->id : NULL,
	    "created_at", (json_int_t)now, "since", (json_int_t)now,
	    "payload", payload, "attempts", (json_int_t)0,
	    "next_at", (json_int_t)(now * 1000));
	if (rec != NULL && to != NULL &&
	    json_object_set(rec, "to", to) != 0) {
		json_decref(rec);
		rec = NULL;
	}
	return rec;
}

int
jit_notify_hook(struct jit_store_txn *t, const struct jit_lc_event *ev,
    const struct jit_policy *p, void *ctx)
{
	struct jit_notify *n = ctx;
	const char *role = ev->req != NULL ? ev->req->role : NULL;
	json_t *payload = NULL, *to = NULL, *rec;
	uint64_t now = jit_now();
	int r = 0;

	for (size_t i = 0; i < n->neps && r == 0; i++) {
		const struct jit_notify_endpoint *ep = &n->eps[i];

		if (!jit_notify_config_wants(ep, ev->event, role))
			continue;
		if (payload == NULL &&
		    (payload = notify_payload(ev, n->public_url, now)) == NULL) {
			r = JIT_ERR_ALLOC;
			break;
		}
		if (ep->format == JIT_NOTIFY_EMAIL) {
			if (to == NULL && (to = recipients(ev, p)) == NULL) {
				r = JIT_ERR_ALLOC;
				break;
			}
			if (json_array_size(to) == 0)
				continue;
		}
		rec = make_record(ev, payload, ep->format == JIT_NOTIFY_EMAIL ?
		    to : NULL, now);
		if (rec == NULL)
			r = JIT_ERR_ALLOC;
		else
			r = jit_store_outbox_add(t, ep->name, rec, NULL);
		json_decref(rec);
	}
	json_decref(payload);
	json_decref(to);
	return r;
}

/* ---- retry ---------------------------------------------------------------- */

struct retry_ctx {
	const char *id;
	char endpoint[JIT_NOTIFY_NAME_MAX + 1];
	uint64_t seq;
	json_t *rec;
};

static int
find_cb(const char *endpoint, uint64_t seq, enum jit_outbox_state st,
    json_t *rec, void *vctx)
{
	struct retry_ctx *c = vctx;
	const char *id = json_string_value(json_object_get(rec, "id"));

	(void)st;
	if (id == NULL || strcmp(id, c->id) != 0)
		return 0;
	snprintf(c->endpoint, sizeof(c->endpoint), "%s", endpoint);
	c->seq = seq;
	c->rec = json_incref(rec);
	return 1;
}

static int
retry_fn(struct jit_store_txn *t, void *vctx)
{
	struct retry_ctx *c = vctx;
	uint64_t now = jit_now();
	int r;

	if ((r = jit_store_outbox_list(t, 0, find_cb, c)) != 0)
		return r;
	if (c->rec == NULL)
		return JIT_ERR_NOT_FOUND;
	if (json_object_set_new(c->rec, "attempts", json_integer(0)) != 0 ||
	    json_object_set_new(c->rec, "since",
	    json_integer((json_int_t)now)) != 0 ||
	    json_object_set_new(c->rec, "next_at",
	    json_integer((json_int_t)(now * 1000))) != 0)
		return JIT_ERR_ALLOC;
	return jit_store_outbox_put(t, c->endpoint, c->seq, JIT_OUTBOX_QUEUED,
	    c->rec);
}

int
jit_notify_retry(struct jit_store *s, const char *id)
{
	struct retry_ctx c;
	int r;

	memset(&c, 0, sizeof(c));
	c.id = id;
	if (s == NULL || id == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	r = jit_store_write(s, retry_fn, &c);
	json_decref(c.rec);
	return r;
}

/* ---- test sends ------------------------------------------------------------ */

int
jit_notify_send_test(struct jit_notify *n, const char *name,
    const char *actor, const char *to, char *why, size_t whylen)
{
	struct jit_lc_event ev = { "notify.test", actor, NULL,
	    "a test from jit-ca notify test" };
	struct notify_result res;
	json_t *payload = NULL, *rcpt = NULL, *rec = NULL;
	size_t i;
	int r = JIT_ERR_ALLOC;

	jit_seterr(why, whylen, "%s", "");
	for (i = 0; i < n->neps; i++)
		if (strcmp(n->eps[i].name, name) == 0)
			break;
	if (i == n->neps) {
		jit_seterr(why, whylen, "no endpoint called '%s' in the "
		    "config", name);
		return JIT_ERR_NOT_FOUND;
	}
	if (n->eps[i].format == JIT_NOTIFY_EMAIL) {
		if (to == NULL) {
			jit_seterr(why, whylen, "%s sends email: give --to "
			    "ADDRESS", name);
			return JIT_ERR_INVALID_ARGUMENT;
		}
		if ((rcpt = json_pack("[s]", to)) == NULL)
			goto out;
	}
	if ((payload = notify_payload(&ev, n->public_url, jit_now())) ==
	    NULL || (rec = make_record(&ev, payload, rcpt, jit_now())) == NULL)
		goto out;
	if ((r = notify_send(n, i, NULL, rec, &res)) != 0)
		jit_seterr(why, whylen, "%s", res.error);
out:
	json_decref(rec);
	json_decref(payload);
	json_decref(rcpt);
	return r;
}
