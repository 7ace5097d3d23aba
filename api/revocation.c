/* revocation.c - see revocation.h. */
#include "revocation.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "err.h"
#include "krl.h"
#include "util.h"

struct collect {
	uint64_t now, grace;
	uint64_t *serials;
	size_t n, cap;
	uint64_t revoked;      /* revoked requests, listed or not */
	uint64_t generated;
	uint64_t valid_until;  /* the earliest until of a listed serial */
};

static uint64_t
time_member(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	uint64_t t;

	if (s == NULL || jit_parse_time(s, &t) != 0)
		return 0;
	return t;
}

/* One revoked request, latest not_after first (store.h); 1 at the first
 * that is dead everywhere, since all after it are too. */
static int
collect_cb(json_t *req, uint64_t seq, void *vctx)
{
	struct collect *c = vctx;
	json_t *sj = json_object_get(req, "serial");
	uint64_t serial, not_after, until, revoked_at;

	(void)seq;
	if (sj == NULL || json_is_null(sj))
		return 0;       /* revoked before a cert was issued */
	if (!json_is_integer(sj) || json_integer_value(sj) <= 0)
		return JIT_ERR_STORE_CORRUPT;
	serial = (uint64_t)json_integer_value(sj);
	if ((not_after = time_member(req, "not_after")) == 0)
		return JIT_ERR_STORE_CORRUPT;
	until = not_after > UINT64_MAX - c->grace ? UINT64_MAX :
	    not_after + c->grace;
	if (c->now >= until) {
		/* Dead everywhere, and so is every one after it: the last
		 * content change of this kind was its dropping out. */
		if (until > c->generated)
			c->generated = until;
		return 1;
	}
	revoked_at = time_member(req, "revoked_at");
	if (revoked_at > c->generated)
		c->generated = revoked_at;
	if (until < c->valid_until)
		c->valid_until = until;
	if (c->n == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 64;
		uint64_t *p;

		if (ncap > SIZE_MAX / sizeof(*p))
			return JIT_ERR_ALLOC;
		if ((p = realloc(c->serials, ncap * sizeof(*p))) == NULL)
			return JIT_ERR_ALLOC;
		c->serials = p;
		c->cap = ncap;
	}
	c->serials[c->n++] = serial;
	return 0;
}

static int
collect_fn(struct jit_store_txn *t, void *vctx)
{
	struct collect *c = vctx;
	int r;

	if ((r = jit_store_count_by_state(t, "revoked", &c->revoked)) != 0)
		return r;
	return jit_store_list_by_state_end(t, "revoked", collect_cb, c);
}

int
jit_revocation_krl(struct jit_store *s, const struct jit_key *ca,
    uint64_t now, uint64_t grace, struct jit_buf *out,
    struct jit_revocation_info *info)
{
	struct collect c;
	struct jit_krl_spec spec;
	int r = JIT_ERR_INTERNAL;

	if (info != NULL)
		memset(info, 0, sizeof(*info));
	if (ca == NULL || out == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	memset(&c, 0, sizeof(c));
	c.now = now;
	c.grace = grace;
	c.valid_until = UINT64_MAX;
	if (s != NULL && (r = jit_store_read(s, collect_fn, &c)) != 0)
		goto out;
	if (c.revoked < c.n) {
		r = JIT_ERR_STORE_CORRUPT;   /* the count missed some */
		goto out;
	}
	memset(&spec, 0, sizeof(spec));
	spec.ca = ca;
	spec.serials = c.serials;
	spec.nserials = c.n;
	spec.version = 2 * c.revoked - (uint64_t)c.n;
	spec.generated = c.generated;
	spec.comment = JIT_KRL_COMMENT;
	if ((r = jit_krl_build(&spec, out)) != 0)
		goto out;
	if (info != NULL) {
		info->listed = c.n;
		info->revoked = c.revoked;
		info->version = spec.version;
		info->generated = spec.generated;
		info->valid_until = c.valid_until;
	}
out:
	free(c.serials);
	return r;
}
