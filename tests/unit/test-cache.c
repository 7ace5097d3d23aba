/*
 * test-cache.c - the HTTP adapter's cache (api/http/cache.h) over a real
 * store: a value is built once and served again while the store's commit
 * id and the time allow; a commit (by this process or by another one),
 * a value's own expiry and a clock stepped back each make the next call
 * build again; a failed build caches nothing; and callers that arrive
 * during a build wait for it and get its value (one build for nine
 * callers).  On PostgreSQL (tests/unit/with-pg.sh) the other process is
 * another node of the same database.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cache.h"
#include "err.h"
#include "store.h"
#include "test.h"
#include "test-files.h"
#include "test-store-open.h"

struct builder {
	atomic_int builds;
	atomic_int fail;           /* the next build fails */
	uint64_t expires;          /* what the build says */
	/* A build blocks while hold is set (the single-flight test). */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int hold;
};

static int
build(void *ctx, uint64_t now, struct jit_buf *out, uint64_t *expires)
{
	struct builder *b = ctx;
	char text[64];
	int n = atomic_fetch_add(&b->builds, 1) + 1;

	pthread_mutex_lock(&b->mu);
	while (b->hold)
		pthread_cond_wait(&b->cv, &b->mu);
	pthread_mutex_unlock(&b->mu);
	if (atomic_exchange(&b->fail, 0))
		return JIT_ERR_STORE;
	snprintf(text, sizeof(text), "build %d at %llu", n,
	    (unsigned long long)now);
	*expires = b->expires;
	return jit_buf_put(out, text, strlen(text));
}

/* The cache's value at now as a string (static; "ERROR" on failure). */
static const char *
get(struct jit_cache *c, uint64_t now)
{
	static char last[64];
	char *v = NULL;
	size_t len = 0;

	if (jit_cache_get(c, now, &v, &len) != 0)
		return "ERROR";
	CHECK_U64(strlen(v), len);
	snprintf(last, sizeof(last), "%s", v);
	free(v);
	return last;
}

static int
put_fn(struct jit_store_txn *t, void *ctx)
{
	(void)ctx;
	return jit_store_put_value(t, "k", json_true());
}

struct getter {
	struct jit_cache *c;
	char got[64];
};

static void *
getter_main(void *arg)
{
	struct getter *g = arg;
	char *v = NULL;
	size_t len;

	if (jit_cache_get(g->c, 1000, &v, &len) == 0)
		snprintf(g->got, sizeof(g->got), "%s", v);
	free(v);
	return NULL;
}

int
main(void)
{
	char *sdir = store_dir_new("cache");
	struct jit_store *s = NULL;
	pid_t pid;
	int wst = 0;
	struct jit_cache *c = NULL;
	struct jit_cache_stats st;
	struct builder b;
	struct getter g[9];
	pthread_t th[9];
	int i;

	memset(&b, 0, sizeof(b));
	pthread_mutex_init(&b.mu, NULL);
	pthread_cond_init(&b.cv, NULL);
	b.expires = UINT64_MAX;
	REQUIRE_OK(test_store_open(sdir, JIT_STORE_SERVER, &s));
	REQUIRE_OK(jit_cache_new(s, build, &b, &c));

	CHECK_STR(get(c, 100), "build 1 at 100");
	CHECK_STR(get(c, 200), "build 1 at 100");
	/* A commit makes it stale. */
	REQUIRE_OK(jit_store_write(s, put_fn, NULL));
	CHECK_STR(get(c, 300), "build 2 at 300");
	CHECK_STR(get(c, 300), "build 2 at 300");
	/* So does a commit by another process (jit-ca token create). */
	if ((pid = fork()) == 0) {
		struct jit_store *other = NULL;

		_exit(test_store_open(sdir, 0, &other) != 0 ||
		    jit_store_write(other, put_fn, NULL) != 0 ? 1 : 0);
	}
	REQUIRE(pid > 0 && waitpid(pid, &wst, 0) == pid);
	CHECK(WIFEXITED(wst) && WEXITSTATUS(wst) == 0);
	CHECK_STR(get(c, 300), "build 3 at 300");
	/* The value's own expiry. */
	b.expires = 500;
	REQUIRE_OK(jit_store_write(s, put_fn, NULL));
	CHECK_STR(get(c, 400), "build 4 at 400");
	CHECK_STR(get(c, 499), "build 4 at 400");
	CHECK_STR(get(c, 500), "build 5 at 500");
	/* A clock stepped back before the build. */
	b.expires = UINT64_MAX;
	CHECK_STR(get(c, 600), "build 6 at 600");
	CHECK_STR(get(c, 599), "build 7 at 599");
	/* A failed build keeps nothing and is not cached. */
	REQUIRE_OK(jit_store_write(s, put_fn, NULL));
	atomic_store(&b.fail, 1);
	CHECK_STR(get(c, 700), "ERROR");
	CHECK_STR(get(c, 700), "build 9 at 700");
	jit_cache_get_stats(c, &st);
	CHECK_U64(st.builds, 8);
	CHECK_U64(st.hits, 3);

	/* Nine callers while one build is held: the others wait for it
	 * (counted in waits) and all get its value. */
	REQUIRE_OK(jit_store_write(s, put_fn, NULL));
	pthread_mutex_lock(&b.mu);
	b.hold = 1;
	pthread_mutex_unlock(&b.mu);
	for (i = 0; i < 9; i++) {
		g[i].c = c;
		g[i].got[0] = '\0';
		REQUIRE(pthread_create(&th[i], NULL, getter_main, &g[i]) == 0);
	}
	/* Until eight are waiting (a guard of ten seconds of polling). */
	for (i = 0; i < 10000; i++) {
		jit_cache_get_stats(c, &st);
		if (st.waits >= 8)
			break;
		usleep(1000);
	}
	CHECK(st.waits >= 8);
	pthread_mutex_lock(&b.mu);
	b.hold = 0;
	pthread_cond_broadcast(&b.cv);
	pthread_mutex_unlock(&b.mu);
	for (i = 0; i < 9; i++) {
		pthread_join(th[i], NULL);
		CHECK_STR(g[i].got, "build 10 at 1000");
	}
	CHECK_INT(atomic_load(&b.builds), 10);

	jit_cache_free(c);
	jit_cache_free(NULL);
	jit_store_close(s);
	store_dir_remove(sdir);
	pthread_cond_destroy(&b.cv);
	pthread_mutex_destroy(&b.mu);
	TEST_DONE();
}
