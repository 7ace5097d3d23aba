/* cache.c - see cache.h. */
#include "cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "util.h"

struct jit_cache {
	struct jit_store *s;
	jit_cache_build_fn fn;
	void *ctx;
	pthread_mutex_t mu;       /* everything below */
	pthread_cond_t cv;        /* a build finished */
	int building;
	int have;
	uint64_t version;         /* jit_store_commit_id() read before the
	                             build */
	uint64_t built_at, expires;
	unsigned char *val;
	size_t len;
	struct jit_cache_stats st;
};

int
jit_cache_new(struct jit_store *s, jit_cache_build_fn fn, void *ctx,
    struct jit_cache **out)
{
	struct jit_cache *c;

	*out = NULL;
	if (s == NULL || fn == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return JIT_ERR_ALLOC;
	c->s = s;
	c->fn = fn;
	c->ctx = ctx;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	*out = c;
	return 0;
}

void
jit_cache_free(struct jit_cache *c)
{
	if (c == NULL)
		return;
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	free(c->val);
	free(c);
}

/* A NUL-terminated copy of p (len bytes). */
static int
copy_out(const unsigned char *p, size_t len, char **out, size_t *olen)
{
	if ((*out = jit_memdup(p, len)) == NULL)
		return JIT_ERR_ALLOC;
	*olen = len;
	return 0;
}

/* c's value is right at now for a caller that read commit id cur
 * (c->mu held): built from a snapshot that had every commit up to cur
 * (commit ids only grow; 0, "cannot tell", is never fresh).  A clock
 * that went back before the build counts as stale too. */
static int
fresh(const struct jit_cache *c, uint64_t now, uint64_t cur)
{
	return c->have && cur != 0 && c->version >= cur &&
	    now >= c->built_at && now < c->expires;
}

int
jit_cache_get(struct jit_cache *c, uint64_t now, char **out, size_t *len)
{
	struct jit_buf b = JIT_BUF_INIT;
	uint64_t version, cur, expires = 0;
	unsigned char *val = NULL;
	int r = JIT_ERR_INTERNAL;

	*out = NULL;
	*len = 0;
	/* Outside the lock: on PostgreSQL this asks the database. */
	cur = jit_store_commit_id(c->s);
	pthread_mutex_lock(&c->mu);
	while (!fresh(c, now, cur) && c->building) {
		c->st.waits++;
		pthread_cond_wait(&c->cv, &c->mu);
	}
	if (fresh(c, now, cur)) {
		c->st.hits++;
		r = copy_out(c->val, c->len, out, len);
		pthread_mutex_unlock(&c->mu);
		return r;
	}
	c->building = 1;
	pthread_mutex_unlock(&c->mu);

	/* cur was read before the build: a commit that lands during it
	 * makes the value stale at once, never one that is missing a
	 * change. */
	version = cur;
	r = c->fn(c->ctx, now, &b, &expires);
	if (r == 0 && (val = (unsigned char *)jit_memdup(jit_buf_ptr(&b),
	    jit_buf_len(&b))) == NULL)
		r = JIT_ERR_ALLOC;

	pthread_mutex_lock(&c->mu);
	c->building = 0;
	if (r == 0) {
		free(c->val);
		c->val = val;
		c->len = jit_buf_len(&b);
		c->version = version;
		c->built_at = now;
		c->expires = expires;
		c->have = 1;
		c->st.builds++;
		r = copy_out(c->val, c->len, out, len);
	}
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	jit_buf_release(&b);
	return r;
}

void
jit_cache_get_stats(struct jit_cache *c, struct jit_cache_stats *st)
{
	pthread_mutex_lock(&c->mu);
	*st = c->st;
	pthread_mutex_unlock(&c->mu);
}
