/* res_audit.c - GET /v1/audit: the signed audit export (audit_export.h),
 * streamed in constant memory, for auditors and admins. */
#include "api_int.h"

#include <string.h>

#include "audit_export.h"
#include "err.h"

static ssize_t
stream_fn(void *ctx, char *buf, size_t max)
{
	ssize_t n = jit_audit_export_read(ctx, buf, max);

	return n < 0 ? -1 : n;
}

static void
stream_free_fn(void *ctx)
{
	jit_audit_export_free(ctx);
}

void
res_audit(struct call *c)
{
	struct jit_audit_export *x = NULL;
	enum jit_audit_format format;
	char why[256];
	int r;

	if (!jit_policy_is_auditor_as(c->p, &c->pwho) &&
	    !jit_policy_is_admin_as(c->p, &c->pwho)) {
		reply_error(c, 403, NULL, "only auditors and admins may export "
		    "the audit log");
		return;
	}
	r = jit_audit_export_from_query(c->api->store, c->api->ca,
	    c->req->query, &x, &format, why, sizeof(why));
	if (r != 0) {
		reply_error(c, r == JIT_ERR_INVALID_ARGUMENT ? 400 : 500,
		    r == JIT_ERR_INVALID_ARGUMENT ? "bad_query" : NULL, "%s",
		    why);
		return;
	}
	c->resp->status = 200;
	c->resp->content_type = format == JIT_AUDIT_CSV ?
	    "text/csv; charset=utf-8; header=present" :
	    "application/x-ndjson; charset=utf-8";
	c->resp->stream = stream_fn;
	c->resp->stream_free = stream_free_fn;
	c->resp->stream_ctx = x;
}
