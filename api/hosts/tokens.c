/*
 * tokens.c - see hosts.h: one-time host enrollment tokens, stored by
 * their SHA-256 like API tokens (auth.h), but under their own keys and
 * with their own prefix, so neither kind of token is ever accepted for
 * the other.
 */
#include "hosts_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "auth.h"
#include "buf.h"
#include "err.h"
#include "util.h"

void
hosts__token_key(const unsigned char hash[JIT_TOKEN_HASH_LEN],
    char key[HOSTS_VALUE_KEY_MAX])
{
	char hex[2 * JIT_TOKEN_HASH_LEN + 1];

	jit_hex(hash, JIT_TOKEN_HASH_LEN, hex);
	snprintf(key, HOSTS_VALUE_KEY_MAX, "%s%s", HOSTS_TOKEN_KEY_PREFIX,
	    hex);
}

int
hosts__token_hash(const char *token, unsigned char hash[JIT_TOKEN_HASH_LEN])
{
	size_t plen = strlen(JIT_HOSTS_TOKEN_PREFIX);

	if (token == NULL || strlen(token) != JIT_HOSTS_TOKEN_LEN ||
	    strncmp(token, JIT_HOSTS_TOKEN_PREFIX, plen) != 0 ||
	    strspn(token + plen, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-_") !=
	    JIT_HOSTS_TOKEN_LEN - plen)
		return JIT_ERR_INVALID_ARGUMENT;
	jit_store_token_hash(token, hash);
	return 0;
}

/* The public id "ht-" + the first 12 hex digits of the hash. */
static void
token_id(const unsigned char hash[JIT_TOKEN_HASH_LEN],
    char id[JIT_HOSTS_TOKEN_ID_LEN])
{
	char hex[13];

	jit_hex(hash, 6, hex);
	snprintf(id, JIT_HOSTS_TOKEN_ID_LEN, "ht-%s", hex);
}

/* "jith_" + the random part of an API token (auth.c makes it). */
static int
token_generate(char **out)
{
	char *api = NULL, *t;
	size_t plen = strlen(JIT_TOKEN_PREFIX);
	int r;

	*out = NULL;
	if ((r = jit_auth_token_generate(&api)) != 0)
		return r;
	if ((t = malloc(JIT_HOSTS_TOKEN_LEN + 1)) == NULL) {
		r = JIT_ERR_ALLOC;
		goto out;
	}
	snprintf(t, JIT_HOSTS_TOKEN_LEN + 1, "%s%s", JIT_HOSTS_TOKEN_PREFIX,
	    api + plen);
	*out = t;
	r = 0;
out:
	jit_wipe(api, strlen(api));
	free(api);
	return r;
}

struct create_ctx {
	char key[HOSTS_VALUE_KEY_MAX];
	json_t *rec;
	json_t *audit;
};

static int
create_fn(struct jit_store_txn *t, void *vctx)
{
	struct create_ctx *c = vctx;
	json_t *old = NULL;
	int r;

	/* 256 random bits do not collide; never overwrite if they did. */
	if ((r = jit_store_get_value(t, c->key, &old)) == 0) {
		json_decref(old);
		return JIT_ERR_CONFLICT;
	}
	if (r != JIT_ERR_NOT_FOUND)
		return r;
	if ((r = jit_store_put_value(t, c->key, c->rec)) != 0)
		return r;
	return jit_audit_append(t, c->audit, NULL, NULL);
}

/* The principals as a JSON array, each checked, none twice. */
static int
principal_array(const char *const *p, size_t n, json_t **out)
{
	json_t *a;
	size_t i, j;

	*out = NULL;
	if (p == NULL || n == 0 || n > JIT_HOSTS_MAX_PRINCIPALS)
		return JIT_ERR_INVALID_ARGUMENT;
	for (i = 0; i < n; i++) {
		if (!jit_hosts_principal_ok(p[i]))
			return JIT_ERR_INVALID_ARGUMENT;
		for (j = 0; j < i; j++)
			if (strcmp(p[i], p[j]) == 0)
				return JIT_ERR_INVALID_ARGUMENT;
	}
	if ((a = json_array()) == NULL)
		return JIT_ERR_ALLOC;
	for (i = 0; i < n; i++) {
		if (json_array_append_new(a, json_string(p[i])) != 0) {
			json_decref(a);
			return JIT_ERR_ALLOC;
		}
	}
	*out = a;
	return 0;
}

int
jit_hosts_token_create(struct jit_store *s, const char *const *principals,
    size_t n, uint64_t ttl, uint64_t now, const char *actor, char **token,
    char id[JIT_HOSTS_TOKEN_ID_LEN])
{
	struct create_ctx c;
	unsigned char hash[JIT_TOKEN_HASH_LEN];
	char tid[JIT_HOSTS_TOKEN_ID_LEN];
	char created[JIT_TIME_LEN], expires[JIT_TIME_LEN];
	char *tok = NULL;
	json_t *pr = NULL;
	int r = JIT_ERR_INTERNAL;

	*token = NULL;
	if (id != NULL)
		id[0] = '\0';
	memset(&c, 0, sizeof(c));
	if (s == NULL || actor == NULL || *actor == '\0')
		return JIT_ERR_INVALID_ARGUMENT;
	if (ttl == 0)
		ttl = JIT_HOSTS_TOKEN_DEFAULT_TTL;
	if (ttl > JIT_HOSTS_TOKEN_MAX_TTL)
		return JIT_ERR_INVALID_ARGUMENT;
	if ((r = principal_array(principals, n, &pr)) != 0)
		return r;
	if ((r = token_generate(&tok)) != 0 ||
	    (r = hosts__token_hash(tok, hash)) != 0)
		goto out;
	hosts__token_key(hash, c.key);
	token_id(hash, tid);
	jit_format_time(now, created);
	jit_format_time(now + ttl, expires);
	c.rec = json_pack("{s:s, s:O, s:s, s:s, s:s}", "id", tid,
	    "principals", pr, "created_at", created, "expires_at", expires,
	    "created_by", actor);
	c.audit = json_pack("{s:s, s:s, s:s, s:O, s:s}", "event",
	    "host.token.create", "actor", actor, "token_id", tid,
	    "principals", pr, "expires_at", expires);
	if (c.rec == NULL || c.audit == NULL) {
		r = JIT_ERR_ALLOC;
		goto out;
	}
	if ((r = jit_store_write(s, create_fn, &c)) != 0)
		goto out;
	*token = tok;
	tok = NULL;
	if (id != NULL)
		memcpy(id, tid, JIT_HOSTS_TOKEN_ID_LEN);
out:
	if (tok != NULL) {
		jit_wipe(tok, strlen(tok));
		free(tok);
	}
	jit_wipe(hash, sizeof(hash));
	json_decref(pr);
	json_decref(c.rec);
	json_decref(c.audit);
	return r;
}
