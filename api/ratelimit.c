/* ratelimit.c - see ratelimit.h. */
#include "ratelimit.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

struct bucket {
	struct bucket *next;      /* hash chain */
	double tokens;
	uint64_t last_ms;
	char key[];
};

struct jit_ratelimit {
	pthread_mutex_t lock;
	unsigned rate;
	size_t max_keys, nkeys, nslots;
	struct bucket **slots;
};

static uint64_t
hash_key(const char *s)
{
	uint64_t h = 14695981039346656037ull;   /* FNV-1a, 64 bits */

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

int
jit_ratelimit_new(unsigned rate, size_t max_keys, struct jit_ratelimit **out)
{
	struct jit_ratelimit *rl;

	*out = NULL;
	if ((rl = calloc(1, sizeof(*rl))) == NULL)
		return JIT_ERR_ALLOC;
	rl->rate = rate;
	rl->max_keys = max_keys != 0 ? max_keys : JIT_RATELIMIT_DEFAULT_KEYS;
	rl->nslots = 1024;
	while (rl->nslots < rl->max_keys && rl->nslots < (1u << 20))
		rl->nslots *= 2;
	if ((rl->slots = calloc(rl->nslots, sizeof(*rl->slots))) == NULL) {
		free(rl);
		return JIT_ERR_ALLOC;
	}
	pthread_mutex_init(&rl->lock, NULL);
	*out = rl;
	return 0;
}

void
jit_ratelimit_free(struct jit_ratelimit *rl)
{
	struct bucket *b, *n;
	size_t i;

	if (rl == NULL)
		return;
	for (i = 0; i < rl->nslots; i++)
		for (b = rl->slots[i]; b != NULL; b = n) {
			n = b->next;
			free(b);
		}
	free(rl->slots);
	pthread_mutex_destroy(&rl->lock);
	free(rl);
}

/* The bucket's tokens at now_ms (refilled, capped). */
static double
level(const struct jit_ratelimit *rl, const struct bucket *b, uint64_t now_ms)
{
	double cap = 2.0 * rl->rate;
	double t = b->tokens + (double)(now_ms - b->last_ms) * rl->rate /
	    1000.0;

	return t > cap ? cap : t;
}

/* Make room for one more key: drop every full bucket (it is the same as
 * none), or failing that the idlest one. */
static void
make_room(struct jit_ratelimit *rl, uint64_t now_ms)
{
	struct bucket **pp, *b, **idlest = NULL;
	double cap = 2.0 * rl->rate;
	size_t i;

	for (i = 0; i < rl->nslots; i++)
		for (pp = &rl->slots[i]; (b = *pp) != NULL;) {
			if (level(rl, b, now_ms) >= cap) {
				*pp = b->next;
				free(b);
				rl->nkeys--;
				continue;
			}
			if (idlest == NULL || b->last_ms < (*idlest)->last_ms)
				idlest = pp;
			pp = &b->next;
		}
	if (rl->nkeys >= rl->max_keys && idlest != NULL) {
		b = *idlest;
		*idlest = b->next;
		free(b);
		rl->nkeys--;
	}
}

int
jit_ratelimit_take(struct jit_ratelimit *rl, const char *key, uint64_t now_ms)
{
	struct bucket *b;
	size_t slot, len = strlen(key);
	int ok;

	if (rl->rate == 0)
		return 1;
	pthread_mutex_lock(&rl->lock);
	slot = (size_t)(hash_key(key) & (rl->nslots - 1));
	for (b = rl->slots[slot]; b != NULL; b = b->next)
		if (strcmp(b->key, key) == 0)
			break;
	if (b == NULL) {
		if (rl->nkeys >= rl->max_keys)
			make_room(rl, now_ms);
		if ((b = malloc(sizeof(*b) + len + 1)) == NULL) {
			pthread_mutex_unlock(&rl->lock);
			return 1;
		}
		memcpy(b->key, key, len + 1);
		b->tokens = 2.0 * rl->rate;
		b->last_ms = now_ms;
		b->next = rl->slots[slot];
		rl->slots[slot] = b;
		rl->nkeys++;
	}
	if (now_ms > b->last_ms) {
		b->tokens = level(rl, b, now_ms);
		b->last_ms = now_ms;
	}
	ok = b->tokens >= 1.0;
	if (ok)
		b->tokens -= 1.0;
	pthread_mutex_unlock(&rl->lock);
	return ok;
}

size_t
jit_ratelimit_keys(struct jit_ratelimit *rl)
{
	size_t n;

	pthread_mutex_lock(&rl->lock);
	n = rl->nkeys;
	pthread_mutex_unlock(&rl->lock);
	return n;
}
