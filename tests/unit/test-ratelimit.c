/*
 * test-ratelimit.c - the token buckets (api/ratelimit.h): each key has a
 * bucket of its own (no other key's calls refill or reset it, however
 * many keys there are), the burst and the refill, memory bounded by
 * max_keys, and when room is needed a full bucket is dropped before an
 * active one, and only then the idlest; under threads a bucket hands out
 * exactly its tokens.  Times are passed in, so nothing here sleeps.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "ratelimit.h"
#include "test.h"

static int
take(struct jit_ratelimit *rl, const char *key, uint64_t ms)
{
	return jit_ratelimit_take(rl, key, ms);
}

/* The key of address number i (10.0.0.0 + i). */
static const char *
addr_key(int i)
{
	static char key[64];

	snprintf(key, sizeof(key), "addr:10.%d.%d.%d", i >> 16,
	    (i >> 8) & 255, i & 255);
	return key;
}

/* Calls allowed for key at ms out of n. */
static int
takes(struct jit_ratelimit *rl, const char *key, uint64_t ms, int n)
{
	int ok = 0;

	while (n-- > 0)
		ok += take(rl, key, ms);
	return ok;
}

static void
test_off(void)
{
	struct jit_ratelimit *rl = NULL;

	REQUIRE_OK(jit_ratelimit_new(0, 0, &rl));
	CHECK_INT(takes(rl, "user:alice", 0, 1000), 1000);
	CHECK_U64(jit_ratelimit_keys(rl), 0);
	jit_ratelimit_free(rl);
	jit_ratelimit_free(NULL);
}

/* Burst 2 x rate, then rate a second. */
static void
test_burst_refill(void)
{
	struct jit_ratelimit *rl = NULL;

	REQUIRE_OK(jit_ratelimit_new(2, 0, &rl));
	CHECK_INT(takes(rl, "user:alice", 1000, 10), 4);
	CHECK_INT(take(rl, "user:alice", 1499), 0);
	CHECK_INT(take(rl, "user:alice", 1500), 1);
	CHECK_INT(take(rl, "user:alice", 1500), 0);
	/* A long pause refills to the burst, not beyond. */
	CHECK_INT(takes(rl, "user:alice", 100000, 10), 4);
	jit_ratelimit_free(rl);
}

/*
 * The old limiter shared 1,024 slots, and a slot taken over by another
 * key started full: alternating a user's calls with calls under other
 * keys (bad tokens from an address, or from thousands of addresses)
 * kept refilling the user.  Here no other key's calls do anything to a
 * bucket: 3,000 keys each spend their burst, alternating with a drained
 * "user:alice", who stays refused throughout.
 */
static void
test_exact_keys(void)
{
	struct jit_ratelimit *rl = NULL;
	int i, alice = 0, drained = 0;

	REQUIRE_OK(jit_ratelimit_new(2, 4096, &rl));
	CHECK_INT(takes(rl, "user:alice", 0, 4), 4);
	for (i = 0; i < 3000; i++) {
		alice += take(rl, "user:alice", 0);
		if (takes(rl, addr_key(i), 0, 5) == 4)
			drained++;
		alice += take(rl, "user:alice", 0);
	}
	CHECK_INT(alice, 0);
	CHECK_INT(drained, 3000);
	/* And every one of them is still drained. */
	for (i = 0, drained = 0; i < 3000; i++)
		drained += take(rl, addr_key(i), 0) == 0;
	CHECK_INT(drained, 3000);
	CHECK_U64(jit_ratelimit_keys(rl), 3001);
	/* Keys that differ only in their kind are different keys. */
	CHECK_INT(takes(rl, "user:10.0.0.1", 0, 5), 4);
	jit_ratelimit_free(rl);
}

/* Never more than max_keys buckets, however many keys come. */
static void
test_bounded(void)
{
	struct jit_ratelimit *rl = NULL;
	size_t most = 0;

	REQUIRE_OK(jit_ratelimit_new(1, 100, &rl));
	for (int i = 0; i < 5000; i++) {
		CHECK_INT(take(rl, addr_key(i), (uint64_t)i), 1);
		if (jit_ratelimit_keys(rl) > most)
			most = jit_ratelimit_keys(rl);
	}
	CHECK_U64(most, 100);
	jit_ratelimit_free(rl);
}

/*
 * Room for a new key: a full bucket is the same as none, so one is
 * dropped first and no active key loses its state; only when every
 * bucket is active does the idlest go (it then starts full again: the
 * price of bounded memory, paid by the key that waited longest).
 */
static void
test_eviction(void)
{
	struct jit_ratelimit *rl = NULL;

	/* rate 1: burst 2, one token a second. */
	REQUIRE_OK(jit_ratelimit_new(1, 4, &rl));
	CHECK_INT(take(rl, "k0", 0), 1);             /* 1 left */
	CHECK_INT(takes(rl, "k1", 0, 2), 2);         /* drained */
	CHECK_INT(takes(rl, "k2", 0, 2), 2);
	CHECK_INT(takes(rl, "k3", 0, 2), 2);
	/* At 1 s k0 is full again, k1..k3 hold one token each. */
	CHECK_INT(take(rl, "k4", 1000), 1);
	CHECK_U64(jit_ratelimit_keys(rl), 4);
	CHECK_INT(takes(rl, "k1", 1000, 3), 1);      /* kept: 1, not 2 */
	CHECK_INT(takes(rl, "k2", 1000, 3), 1);
	CHECK_INT(takes(rl, "k3", 1000, 3), 1);
	jit_ratelimit_free(rl);

	/* None full: the idlest goes. */
	REQUIRE_OK(jit_ratelimit_new(1, 3, &rl));
	CHECK_INT(takes(rl, "a", 0, 2), 2);
	CHECK_INT(takes(rl, "b", 10, 2), 2);
	CHECK_INT(takes(rl, "c", 20, 2), 2);
	CHECK_INT(takes(rl, "d", 30, 2), 2);         /* "a" dropped */
	CHECK_U64(jit_ratelimit_keys(rl), 3);
	CHECK_INT(take(rl, "c", 30), 0);             /* kept, drained */
	CHECK_INT(take(rl, "d", 30), 0);
	CHECK_INT(take(rl, "a", 31), 1);             /* starts full */
	jit_ratelimit_free(rl);
}

struct hammer {
	struct jit_ratelimit *rl;
	int ok;
};

static void *
hammer_main(void *arg)
{
	struct hammer *h = arg;

	for (int i = 0; i < 20000; i++)
		h->ok += take(h->rl, "user:shared", 0);
	return NULL;
}

/* Four threads at one instant share one burst: exactly 2 x rate pass. */
static void
test_threads(void)
{
	struct hammer h[4];
	pthread_t th[4];
	struct jit_ratelimit *rl = NULL;
	int total = 0;

	REQUIRE_OK(jit_ratelimit_new(50, 0, &rl));
	for (int i = 0; i < 4; i++) {
		h[i].rl = rl;
		h[i].ok = 0;
		REQUIRE(pthread_create(&th[i], NULL, hammer_main, &h[i]) == 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		total += h[i].ok;
	}
	CHECK_INT(total, 100);
	jit_ratelimit_free(rl);
}

int
main(void)
{
	test_off();
	test_burst_refill();
	test_exact_keys();
	test_bounded();
	test_eviction();
	test_threads();
	TEST_DONE();
}
