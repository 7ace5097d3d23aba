/*
 * pg_cache.c - the writer's cache of rows it knows to be current
 * (pg_int.h): request rows as jit_pg_request_unchanged compares them and
 * named values, so a write closure that reads what an earlier closure of
 * this node wrote or read needs no round trip.
 *
 * Why it is right: every write of every node is a batch that holds the
 * head row's lock (FOR UPDATE) from its first statement to its COMMIT
 * and raises the head's commit counter when it commits.  So while a
 * batch runs nobody else writes, and what this writer read or wrote in
 * it is what the database holds, as long as the closure that did it is
 * kept: a failed closure (its savepoint rolled back) or batch empties
 * the cache (pg_env.c).  Between batches, the counter that the next
 * batch finds under the lock says whether any commit but this node's
 * came in between (pg->cache_commit): if one did, the cache is emptied
 * before the batch uses it.
 *
 * Direct-mapped: each (kind, key) has one slot, a newer entry pushes out
 * whatever held it; so the memory is bounded (PG_CACHE_SLOTS entries)
 * and a miss costs what it cost without the cache, one statement.
 */
#include "pg_int.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"

struct jit_pg_centry {
	unsigned char kind;          /* PG_C_*; 0: the slot is empty */
	unsigned char absent;        /* known not to exist */
	size_t klen, len;
	char *key;                   /* one allocation: key, NUL, data */
	char *data;
};

static size_t
slot_of(int kind, const char *key, size_t klen)
{
	uint32_t h = 2166136261u ^ (uint32_t)kind;

	for (size_t i = 0; i < klen; i++) {
		h ^= (unsigned char)key[i];
		h *= 16777619u;
	}
	return h % PG_CACHE_SLOTS;
}

static void
slot_free(struct jit_pg_centry *e)
{
	free(e->key);
	memset(e, 0, sizeof(*e));
}

int
jit_pg_cache_new(struct jit_pg *pg)
{
	pg->cache = calloc(PG_CACHE_SLOTS, sizeof(*pg->cache));
	return pg->cache != NULL ? 0 : JIT_ERR_ALLOC;
}

void
jit_pg_cache_free(struct jit_pg *pg)
{
	jit_pg_cache_clear(pg);
	free(pg->cache);
	pg->cache = NULL;
}

void
jit_pg_cache_clear(struct jit_pg *pg)
{
	pg->cache_commit = 0;
	if (pg->cache == NULL || pg->cache_used == 0)
		return;
	for (size_t i = 0; i < PG_CACHE_SLOTS; i++)
		if (pg->cache[i].kind != 0)
			slot_free(&pg->cache[i]);
	pg->cache_used = 0;
}

int
jit_pg_cache_get(struct jit_store_txn *t, int kind, const char *key,
    const char **data, size_t *len)
{
	struct jit_pg *pg = PG(t);
	struct jit_pg_centry *e;
	size_t kl = strlen(key);

	*data = NULL;
	*len = 0;
	if (!t->write || pg->cache == NULL)
		return 0;
	e = &pg->cache[slot_of(kind, key, kl)];
	if (e->kind != kind || e->klen != kl || memcmp(e->key, key, kl) != 0)
		return 0;
	if (!e->absent) {
		*data = e->data;
		*len = e->len;
	}
	return 1;
}

void
jit_pg_cache_put(struct jit_store_txn *t, int kind, const char *key,
    const void *data, size_t len)
{
	struct jit_pg *pg = PG(t);
	struct jit_pg_centry *e;
	size_t kl = strlen(key);
	char *p;

	if (!t->write || pg->cache == NULL)
		return;
	e = &pg->cache[slot_of(kind, key, kl)];
	if (e->kind != 0) {
		slot_free(e);
		pg->cache_used--;
	}
	/* Out of memory: no entry, which is only a miss later. */
	if ((p = malloc(kl + 1 + len + 1)) == NULL)
		return;
	memcpy(p, key, kl + 1);
	if (data != NULL)
		memcpy(p + kl + 1, data, len);
	p[kl + 1 + len] = '\0';
	e->kind = (unsigned char)kind;
	e->absent = data == NULL;
	e->klen = kl;
	e->len = data != NULL ? len : 0;
	e->key = p;
	e->data = p + kl + 1;
	pg->cache_used++;
}

void
jit_pg_cache_drop(struct jit_store_txn *t, int kind, const char *key)
{
	struct jit_pg *pg = PG(t);
	struct jit_pg_centry *e;
	size_t kl = strlen(key);

	if (!t->write || pg->cache == NULL)
		return;
	e = &pg->cache[slot_of(kind, key, kl)];
	if (e->kind == kind && e->klen == kl && memcmp(e->key, key, kl) == 0) {
		slot_free(e);
		pg->cache_used--;
	}
}
