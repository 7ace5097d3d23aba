/* revocation.c - see revocation.h. */
#include "revocation.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "err.h"
#include "hosts.h"
#include "krl.h"
#include "request.h"

/* The serials one CA's section lists, and those left out as expired. */
struct serials {
	uint64_t *v;
	size_t n, cap;
	uint64_t expired;
};

struct collect {
	uint64_t now, grace;
	struct serials user, host;
	int with_hosts;
	uint64_t revoked;      /* revoked requests, listed or not */
	uint64_t generated;    /* for both */
	uint64_t valid_until;  /* the earliest until of a listed serial */
};

/* A revoked certificate that was valid until not_after and revoked at
 * revoked_at: listed in into (0), or left out as dead everywhere (1). */
static int
add_serial(struct collect *c, struct serials *into, uint64_t serial,
    uint64_t not_after, uint64_t revoked_at)
{
	uint64_t until;

	until = not_after > UINT64_MAX - c->grace ? UINT64_MAX :
	    not_after + c->grace;
	if (c->now >= until) {
		/* Dead everywhere: leave it out, but remember that the
		 * content changed when it dropped. */
		into->expired++;
		if (until > c->generated)
			c->generated = until;
		return 1;
	}
	if (revoked_at > c->generated)
		c->generated = revoked_at;
	if (until < c->valid_until)
		c->valid_until = until;
	if (into->n == into->cap) {
		size_t ncap = into->cap ? into->cap * 2 : 64;
		uint64_t *p;

		if (ncap > SIZE_MAX / sizeof(*p))
			return JIT_ERR_ALLOC;
		if ((p = realloc(into->v, ncap * sizeof(*p))) == NULL)
			return JIT_ERR_ALLOC;
		into->v = p;
		into->cap = ncap;
	}
	into->v[into->n++] = serial;
	return 0;
}

/* One revoked request, latest not_after first (store.h); 1 (stop) at
 * the first that is dead everywhere, since all after it are too.  A
 * record that is not a request (request.h) is STORE_CORRUPT: never
 * leave a revoked certificate out silently. */
static int
collect_cb(json_t *req, uint64_t seq, void *vctx)
{
	struct collect *c = vctx;
	struct jit_request *r;
	int rc;

	(void)seq;
	if ((rc = jit_request_from_json(req, &r)) != 0)
		return rc;
	if (r->serial == 0)
		rc = 0;         /* revoked before a cert was issued */
	else if (r->not_after == 0)
		rc = JIT_ERR_STORE_CORRUPT;
	else
		rc = add_serial(c, &c->user, r->serial, r->not_after,
		    r->revoked_at);
	jit_request_free(r);
	return rc;
}

/* A certificate of a revoked host (all of them are read: their
 * number does not grow with the requests). */
static int
collect_host_cb(uint64_t serial, uint64_t valid_before, uint64_t revoked_at,
    void *vctx)
{
	struct collect *c = vctx;
	int r = add_serial(c, &c->host, serial, valid_before, revoked_at);

	return r < 0 ? r : 0;
}

static int
collect_fn(struct jit_store_txn *t, void *vctx)
{
	struct collect *c = vctx;
	int r;

	if ((r = jit_store_count_by_state(t, "revoked", &c->revoked)) != 0 ||
	    (r = jit_store_list_by_state_end(t, "revoked", collect_cb,
	    c)) != 0)
		return r;
	return c->with_hosts ? jit_hosts_revoked_certs(t, collect_host_cb, c) :
	    0;
}

int
jit_revocation_krl(struct jit_store *s, const struct jit_key *ca,
    const struct jit_key *host_ca, uint64_t now, uint64_t grace,
    struct jit_buf *out, struct jit_revocation_info *info)
{
	struct collect c;
	struct jit_krl_spec spec;
	struct jit_krl_section host;
	int r = JIT_ERR_INTERNAL;

	if (info != NULL)
		memset(info, 0, sizeof(*info));
	if (ca == NULL || out == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	memset(&c, 0, sizeof(c));
	c.now = now;
	c.grace = grace;
	c.valid_until = UINT64_MAX;
	c.with_hosts = host_ca != NULL;
	if (s != NULL && (r = jit_store_read(s, collect_fn, &c)) != 0)
		goto out;
	if (c.revoked < c.user.n) {
		r = JIT_ERR_STORE_CORRUPT;   /* the count missed some */
		goto out;
	}
	memset(&spec, 0, sizeof(spec));
	spec.ca = ca;
	spec.serials = c.user.v;
	spec.nserials = c.user.n;
	spec.version = 2 * c.revoked - (uint64_t)c.user.n +
	    (uint64_t)c.host.n + 2 * c.host.expired;
	spec.generated = c.generated;
	spec.comment = JIT_KRL_COMMENT;
	if (host_ca != NULL) {
		memset(&host, 0, sizeof(host));
		host.ca = host_ca;
		host.serials = c.host.v;
		host.nserials = c.host.n;
		spec.more = &host;
		spec.nmore = 1;
	}
	if ((r = jit_krl_build(&spec, out)) != 0)
		goto out;
	if (info != NULL) {
		info->listed = c.user.n + c.host.n;
		info->host_listed = c.host.n;
		info->revoked = c.revoked;
		info->left_out = c.revoked - c.user.n + c.host.expired;
		info->version = spec.version;
		info->generated = spec.generated;
		info->valid_until = c.valid_until;
	}
out:
	free(c.user.v);
	free(c.host.v);
	return r;
}
