/*
 * memory.c - what the module remembers between requests, kept in the
 * store (oidc_int.h): the web sign-ins under way and the accepted
 * tokens and nonces.
 *
 * Both are named values of the store (store.h), grouped in buckets: a
 * bucket is one value, a JSON object whose members are entries named by
 * the base64url of their 32-byte key, each an object with "u", the
 * wall-clock second from which it is forgotten.  An entry's key picks
 * its bucket (its first byte), so a write reads and rewrites one small
 * bucket, never the whole memory.  Every change is one write closure
 * (read the bucket, check, change, put), and the store serialises
 * those of every process and node, so "absent, then added" and
 * "present, then removed" are each atomic.  A bucket holds at most its
 * kind's number of live entries, so the memory is bounded; expired
 * entries go whenever their bucket is written, and jit_oidc_sweep
 * visits the buckets in turn for those that are not.
 */
#include "oidc_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "buf.h"
#include "err.h"
#include "store.h"
#include "util.h"

/* The buckets of one kind of entry. */
struct bucket_kind {
	const char *prefix;          /* value name: prefix + 2 hex digits */
	unsigned n;                  /* buckets (at most 256) */
	size_t max;                  /* live entries a bucket holds */
};

static const struct bucket_kind logins = {
	"oidc.login.", OIDC_LOGIN_BUCKETS, OIDC_LOGIN_BUCKET_MAX
};
static const struct bucket_kind seen = {
	"oidc.seen.", OIDC_SEEN_BUCKETS, OIDC_SEEN_BUCKET_MAX
};

#define NAME_MAX_LEN 32
#define KEY_TEXT_LEN 44              /* base64url of 32 bytes, NUL */

static void
bucket_name(const struct bucket_kind *k, unsigned i, char out[NAME_MAX_LEN])
{
	snprintf(out, NAME_MAX_LEN, "%s%02x", k->prefix, i);
}

static void
key_text(const unsigned char key[32], char out[KEY_TEXT_LEN])
{
	sodium_bin2base64(out, KEY_TEXT_LEN, key, 32,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* Bucket i of kind k as a new object (empty when never written).
 * STORE_CORRUPT when the value is not an object. */
static int
bucket_get(struct jit_store_txn *t, const struct bucket_kind *k, unsigned i,
    json_t **out)
{
	char name[NAME_MAX_LEN];
	int r;

	bucket_name(k, i, name);
	r = jit_store_get_value(t, name, out);
	if (r == JIT_ERR_NOT_FOUND)
		return (*out = json_object()) != NULL ? 0 : JIT_ERR_ALLOC;
	if (r == 0 && !json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		r = JIT_ERR_STORE_CORRUPT;
	}
	return r;
}

static int
bucket_put(struct jit_store_txn *t, const struct bucket_kind *k, unsigned i,
    const json_t *b)
{
	char name[NAME_MAX_LEN];

	bucket_name(k, i, name);
	return jit_store_put_value(t, name, b);
}

/* 1 if entry e is forgotten at now (a malformed one is). */
static int
expired(const json_t *e, uint64_t now)
{
	const json_t *u = json_object_get(e, "u");

	return !json_is_integer(u) || json_integer_value(u) < 0 ||
	    (uint64_t)json_integer_value(u) <= now;
}

/* Drop b's expired entries; how many went. */
static size_t
bucket_prune(json_t *b, uint64_t now)
{
	const char *name;
	json_t *e;
	void *tmp;
	size_t n = 0;

	json_object_foreach_safe(b, tmp, name, e) {
		if (!expired(e, now))
			continue;
		json_object_del(b, name);
		n++;
	}
	return n;
}

/*
 * Change the bucket of key in kind k, its expired entries dropped first.
 * With add (borrowed; its "u" set by the caller): add it under key;
 * CONFLICT if a live entry has that key, NO_BUFFER_SPACE if the bucket
 * is full of live entries.  Without: take the live entry under key out
 * into *taken (a new reference); NOT_FOUND if there is none.
 */
static int
bucket_change(struct jit_store_txn *t, const struct bucket_kind *k,
    const unsigned char key[32], uint64_t now, json_t *add, json_t **taken)
{
	unsigned i = key[0] % k->n;
	char name[KEY_TEXT_LEN];
	json_t *b = NULL, *old;
	int r;

	if (taken != NULL)
		*taken = NULL;
	if ((r = bucket_get(t, k, i, &b)) != 0)
		return r;
	(void)bucket_prune(b, now);
	key_text(key, name);
	old = json_object_get(b, name);
	if (add != NULL && old != NULL)
		r = JIT_ERR_CONFLICT;
	else if (add != NULL && json_object_size(b) >= k->max)
		r = JIT_ERR_NO_BUFFER_SPACE;
	else if (add != NULL)
		r = json_object_set(b, name, add) != 0 ? JIT_ERR_ALLOC : 0;
	else if (old == NULL)
		r = JIT_ERR_NOT_FOUND;
	else
		*taken = json_incref(old);
	if (r == 0 && add == NULL && json_object_del(b, name) != 0)
		r = JIT_ERR_INTERNAL;
	if (r == 0)
		r = bucket_put(t, k, i, b);
	if (r != 0 && taken != NULL) {
		json_decref(*taken);
		*taken = NULL;
	}
	json_decref(b);
	return r;
}

/* ---- sign-ins under way ---------------------------------------------- */

struct login_op {
	unsigned char key[32];
	uint64_t now;
	json_t *entry;               /* put: borrowed; take: out */
};

static int
login_put_fn(struct jit_store_txn *t, void *ctx)
{
	struct login_op *op = ctx;

	return bucket_change(t, &logins, op->key, op->now, op->entry, NULL);
}

static int
login_take_fn(struct jit_store_txn *t, void *ctx)
{
	struct login_op *op = ctx;

	return bucket_change(t, &logins, op->key, op->now, NULL, &op->entry);
}

/* Wipe string member name of e in place (jansson owns the bytes). */
static void
wipe_member(json_t *e, const char *name)
{
	const char *s = json_string_value(json_object_get(e, name));

	if (s != NULL)
		jit_wipe((char *)s, strlen(s));
}

int
oidc_login_put(struct jit_oidc *o, const struct oidc_login *l, uint64_t now)
{
	struct login_op op;
	int r;

	memset(&op, 0, sizeof(op));
	oidc_key("login", l->state, op.key);
	op.now = now;
	op.entry = json_pack("{s:I, s:s, s:s}", "u", (json_int_t)l->until,
	    "v", l->verifier, "r", l->redirect_uri);
	if (op.entry == NULL)
		return JIT_ERR_ALLOC;
	r = jit_store_write(o->store, login_put_fn, &op);
	wipe_member(op.entry, "v");
	json_decref(op.entry);
	return r;
}

int
oidc_login_take(struct jit_oidc *o, const char *state, uint64_t now,
    struct oidc_login *l)
{
	struct login_op op;
	const char *v, *uri;
	int r;

	memset(l, 0, sizeof(*l));
	if (strlen(state) >= sizeof(l->state))
		return JIT_ERR_NOT_FOUND;
	memset(&op, 0, sizeof(op));
	oidc_key("login", state, op.key);
	op.now = now;
	if ((r = jit_store_write(o->store, login_take_fn, &op)) != 0) {
		/* Not taken after all (the commit failed). */
		if (op.entry != NULL)
			wipe_member(op.entry, "v");
		json_decref(op.entry);
		return r;
	}
	v = json_string_value(json_object_get(op.entry, "v"));
	uri = json_string_value(json_object_get(op.entry, "r"));
	if (v == NULL || strlen(v) >= sizeof(l->verifier) || uri == NULL) {
		r = JIT_ERR_STORE_CORRUPT;
	} else if ((l->redirect_uri = jit_strdup(uri)) == NULL) {
		r = JIT_ERR_ALLOC;
	} else {
		memcpy(l->state, state, strlen(state) + 1);
		memcpy(l->verifier, v, strlen(v) + 1);
		l->until = (uint64_t)json_integer_value(json_object_get(
		    op.entry, "u"));
		oidc_derive("web-nonce", state, l->nonce);
	}
	wipe_member(op.entry, "v");
	json_decref(op.entry);
	return r;
}

/* ---- accepted tokens and nonces --------------------------------------- */

struct seen_op {
	const unsigned char (*keys)[32];
	size_t n;
	uint64_t until, now;
	size_t which;                /* out: the key already remembered */
};

static int
seen_add_fn(struct jit_store_txn *t, void *ctx)
{
	struct seen_op *op = ctx;
	json_t *e;
	size_t i;
	int r = 0;

	if ((e = json_pack("{s:I}", "u", (json_int_t)op->until)) == NULL)
		return JIT_ERR_ALLOC;
	/* A refusal rolls back the keys added before it. */
	for (i = 0; i < op->n && r == 0; i++)
		if ((r = bucket_change(t, &seen, op->keys[i], op->now, e,
		    NULL)) != 0)
			op->which = i;
	json_decref(e);
	return r;
}

int
oidc_seen_add(struct jit_oidc *o, const unsigned char (*keys)[32], size_t n,
    uint64_t until, uint64_t now, size_t *which)
{
	struct seen_op op = { keys, n, until, now, 0 };
	int r;

	if (until > INT64_MAX)
		return JIT_ERR_INVALID_ARGUMENT;
	r = jit_store_write(o->store, seen_add_fn, &op);
	if (which != NULL)
		*which = op.which;
	return r;
}

/* ---- the sweep ---------------------------------------------------------- */

/* The buckets of both kinds, numbered 0 .. SWEEP_TOTAL - 1. */
#define SWEEP_TOTAL (OIDC_LOGIN_BUCKETS + OIDC_SEEN_BUCKETS)

static const struct bucket_kind *
sweep_bucket(unsigned n, unsigned *i)
{
	if (n < OIDC_LOGIN_BUCKETS) {
		*i = n;
		return &logins;
	}
	*i = n - OIDC_LOGIN_BUCKETS;
	return &seen;
}

struct sweep_op {
	unsigned first;              /* the first bucket of this turn */
	uint64_t now;
	unsigned due[OIDC_SWEEP_BUCKETS]; /* those holding expired entries */
	size_t ndue;
	unsigned swept;
};

static int
sweep_find_fn(struct jit_store_txn *t, void *ctx)
{
	struct sweep_op *op = ctx;
	const struct bucket_kind *k;
	const char *name;
	unsigned n, i, j;
	json_t *b, *e;
	int r;

	for (j = 0; j < OIDC_SWEEP_BUCKETS; j++) {
		n = (op->first + j) % SWEEP_TOTAL;
		k = sweep_bucket(n, &i);
		if ((r = bucket_get(t, k, i, &b)) != 0)
			return r;
		json_object_foreach(b, name, e)
			if (expired(e, op->now)) {
				op->due[op->ndue++] = n;
				break;
			}
		json_decref(b);
	}
	return 0;
}

static int
sweep_prune_fn(struct jit_store_txn *t, void *ctx)
{
	struct sweep_op *op = ctx;
	const struct bucket_kind *k;
	unsigned i;
	size_t j, gone;
	json_t *b;
	int r = 0;

	op->swept = 0;
	for (j = 0; j < op->ndue && r == 0; j++) {
		k = sweep_bucket(op->due[j], &i);
		if ((r = bucket_get(t, k, i, &b)) != 0)
			break;
		if ((gone = bucket_prune(b, op->now)) > 0)
			r = bucket_put(t, k, i, b);
		op->swept += (unsigned)gone;
		json_decref(b);
	}
	return r;
}

int
jit_oidc_sweep(struct jit_oidc *o, uint64_t now, unsigned *swept)
{
	struct sweep_op op;
	int r;

	if (swept != NULL)
		*swept = 0;
	memset(&op, 0, sizeof(op));
	op.now = now;
	pthread_mutex_lock(&o->lock);
	op.first = o->sweep_next;
	o->sweep_next = (o->sweep_next + OIDC_SWEEP_BUCKETS) % SWEEP_TOTAL;
	pthread_mutex_unlock(&o->lock);
	if ((r = jit_store_read(o->store, sweep_find_fn, &op)) != 0 ||
	    op.ndue == 0)
		return r;
	if ((r = jit_store_write(o->store, sweep_prune_fn, &op)) == 0 &&
	    swept != NULL)
		*swept = op.swept;
	return r;
}
