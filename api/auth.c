/* auth.c - see auth.h. */
#include "auth.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "audit.h"
#include "buf.h"
#include "err.h"
#include "util.h"

int
jit_auth_token_generate(char **token)
{
	static const char b64url[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char rnd[JIT_TOKEN_RANDOM_LEN + 1];
	char *t;
	size_t i, o, bits = 0;
	uint32_t acc = 0;

	*token = NULL;
	if ((t = malloc(JIT_TOKEN_STRING_LEN + 1)) == NULL)
		return JIT_ERR_ALLOC;
	if (RAND_bytes(rnd, JIT_TOKEN_RANDOM_LEN) != 1) {
		/* A failed call may still have written part of the bytes. */
		jit_wipe(rnd, sizeof(rnd));
		free(t);
		return JIT_ERR_CRYPTO;
	}
	memcpy(t, JIT_TOKEN_PREFIX, 4);
	o = 4;
	/* 256 bits -> 43 base64url characters (the last holds 4 bits). */
	for (i = 0; i < JIT_TOKEN_RANDOM_LEN; i++) {
		acc = (acc << 8) | rnd[i];
		bits += 8;
		while (bits >= 6) {
			t[o++] = b64url[(acc >> (bits - 6)) & 0x3f];
			bits -= 6;
		}
	}
	if (bits > 0)
		t[o++] = b64url[(acc << (6 - bits)) & 0x3f];
	t[o] = '\0';
	/* acc still holds the last random bits.  A plain "acc = 0" is a
	 * dead store the compiler may drop; jit_wipe cannot be. */
	jit_wipe(rnd, sizeof(rnd));
	jit_wipe(&acc, sizeof(acc));
	if (o != JIT_TOKEN_STRING_LEN) {
		jit_wipe(t, JIT_TOKEN_STRING_LEN + 1);
		free(t);
		return JIT_ERR_INTERNAL;
	}
	*token = t;
	return 0;
}

void
jit_auth_token_id(const unsigned char hash[JIT_TOKEN_HASH_LEN],
    char id[JIT_TOKEN_ID_LEN])
{
	char hex[2 * 6 + 1];

	jit_hex(hash, 6, hex);
	memcpy(id, "t-", 2);
	memcpy(id + 2, hex, 12);
	id[14] = '\0';
}

struct create_ctx {
	unsigned char hash[JIT_TOKEN_HASH_LEN];
	json_t *rec;
	json_t *audit;
};

static int
create_fn(struct jit_store_txn *t, void *vctx)
{
	struct create_ctx *c = vctx;
	json_t *old = NULL;
	int r;

	/* A collision of 256-bit random tokens is not going to happen, but
	 * never overwrite an existing record if it somehow did. */
	if ((r = jit_store_get_token(t, c->hash, &old)) == 0) {
		json_decref(old);
		return JIT_ERR_CONFLICT;
	}
	if (r != JIT_ERR_NOT_FOUND)
		return r;
	if ((r = jit_store_put_token(t, c->hash, c->rec)) != 0)
		return r;
	return jit_audit_append(t, c->audit, NULL, NULL);
}

int
jit_auth_issue(struct jit_store *s, json_t *rec, json_t *audit, char **token,
    char id[JIT_TOKEN_ID_LEN])
{
	struct create_ctx c;
	char tid[JIT_TOKEN_ID_LEN];
	char *tok = NULL;
	int r = JIT_ERR_INTERNAL;

	*token = NULL;
	if (id != NULL)
		id[0] = '\0';
	if ((r = jit_auth_token_generate(&tok)) != 0)
		return r;
	jit_store_token_hash(tok, c.hash);
	jit_auth_token_id(c.hash, tid);
	c.rec = rec;
	c.audit = audit;
	if (json_object_set_new(rec, "id", json_string(tid)) != 0 ||
	    json_object_set_new(audit, "token_id", json_string(tid)) != 0) {
		r = JIT_ERR_ALLOC;
		goto out;
	}
	if ((r = jit_store_write(s, create_fn, &c)) != 0)
		goto out;
	*token = tok;
	tok = NULL;
	if (id != NULL)
		memcpy(id, tid, JIT_TOKEN_ID_LEN);
out:
	if (tok != NULL) {
		jit_wipe(tok, strlen(tok));
		free(tok);
	}
	jit_wipe(c.hash, sizeof(c.hash));
	return r;
}

int
jit_auth_token_create(struct jit_store *s, const char *user,
    uint64_t ttl, const char *actor, char **token,
    char id[JIT_TOKEN_ID_LEN])
{
	char created[JIT_TIME_LEN], expires[JIT_TIME_LEN];
	json_t *rec = NULL, *audit = NULL;
	uint64_t now = jit_now();
	int r = JIT_ERR_INTERNAL;

	*token = NULL;
	if (id != NULL)
		id[0] = '\0';
	if (s == NULL || user == NULL || *user == '\0' ||
	    strlen(user) > JIT_USER_MAX || actor == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	if (ttl == 0)
		ttl = JIT_TOKEN_DEFAULT_TTL;
	if (ttl > JIT_TOKEN_MAX_TTL)
		return JIT_ERR_INVALID_ARGUMENT;
	jit_format_time(now, created);
	jit_format_time(now + ttl, expires);
	rec = json_pack("{s:s, s:s, s:s, s:s}", "user", user, "created_at",
	    created, "expires_at", expires, "created_by", actor);
	audit = json_pack("{s:s, s:s, s:s, s:s}", "event", "token.create",
	    "actor", actor, "user", user, "expires_at", expires);
	if (rec == NULL || audit == NULL)
		r = JIT_ERR_ALLOC;
	else
		r = jit_auth_issue(s, rec, audit, token, id);
	json_decref(rec);
	json_decref(audit);
	return r;
}

struct revoke_ctx {
	const char *id;
	const char *actor;
};

static int
revoke_fn(struct jit_store_txn *t, void *vctx)
{
	struct revoke_ctx *c = vctx;
	json_t *rec = NULL, *audit = NULL;
	int r;

	if ((r = jit_store_get_token_by_id(t, c->id, NULL, &rec)) != 0)
		return r;
	if (json_is_string(json_object_get(rec, "revoked_at"))) {
		json_decref(rec);
		return 0;
	}
	if ((r = jit_store_revoke_token(t, c->id)) != 0)
		goto out;
	audit = json_pack("{s:s, s:s, s:s, s:O}", "event", "token.revoke",
	    "actor", c->actor, "token_id", c->id, "user",
	    json_object_get(rec, "user") != NULL ?
	    json_object_get(rec, "user") : json_null());
	if (audit == NULL) {
		r = JIT_ERR_ALLOC;
		goto out;
	}
	r = jit_audit_append(t, audit, NULL, NULL);
out:
	json_decref(rec);
	json_decref(audit);
	return r;
}

int
jit_auth_token_revoke(struct jit_store *s, const char *id, const char *actor)
{
	struct revoke_ctx c;

	if (s == NULL || id == NULL || *id == '\0' || strlen(id) > 64 ||
	    actor == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	c.id = id;
	c.actor = actor;
	return jit_store_write(s, revoke_fn, &c);
}

struct check_ctx {
	const unsigned char *hash;
	json_t *rec;
};

static int
check_fn(struct jit_store_txn *t, void *vctx)
{
	struct check_ctx *c = vctx;

	return jit_store_get_token(t, c->hash, &c->rec);
}

void
jit_auth_info_release(struct jit_auth_info *info)
{
	if (info == NULL)
		return;
	for (size_t i = 0; i < info->namr; i++)
		free(info->amr[i]);
	free(info->amr);
	for (size_t i = 0; i < info->ngroups; i++)
		free(info->groups[i]);
	free(info->groups);
	memset(info, 0, sizeof(*info));
}

/* The strings of the list member name of rec into *v, *n. */
static int
rec_strings(const json_t *rec, const char *name, char ***v, size_t *n)
{
	const json_t *a = json_object_get(rec, name), *e;
	size_t i;

	*v = NULL;
	*n = 0;
	if (json_array_size(a) == 0)
		return 0;
	if ((*v = calloc(json_array_size(a), sizeof(char *))) == NULL)
		return JIT_ERR_ALLOC;
	json_array_foreach(a, i, e) {
		if (!json_is_string(e))
			continue;
		if (((*v)[*n] = jit_strdup(json_string_value(e))) == NULL)
			return JIT_ERR_ALLOC;
		(*n)++;
	}
	return 0;
}

int
jit_auth_check_info(struct jit_store *s, const struct jit_policy *p,
    const char *authorization, uint64_t now, struct jit_auth_info *info,
    const char **why)
{
	unsigned char hash[JIT_TOKEN_HASH_LEN];
	char id[JIT_TOKEN_ID_LEN];
	struct check_ctx c;
	const char *tok, *u, *exp, *rid, *kind;
	uint64_t texp;
	size_t n;
	int r = JIT_ERR_INTERNAL;

	memset(info, 0, sizeof(*info));
	if (why != NULL)
		*why = "";
	if (authorization == NULL) {
		if (why != NULL)
			*why = "no Authorization header";
		return JIT_ERR_AUTH;
	}
	if (strncasecmp(authorization, "Bearer ", 7) != 0) {
		if (why != NULL)
			*why = "Authorization is not a Bearer token";
		return JIT_ERR_AUTH;
	}
	tok = authorization + 7;
	while (*tok == ' ')
		tok++;
	n = strlen(tok);
	while (n > 0 && tok[n - 1] == ' ')
		n--;
	if (n != JIT_TOKEN_STRING_LEN ||
	    strncmp(tok, JIT_TOKEN_PREFIX, 4) != 0) {
		if (why != NULL)
			*why = "malformed token";
		return JIT_ERR_AUTH;
	}
	{
		char t[JIT_TOKEN_STRING_LEN + 1];
		memcpy(t, tok, n);
		t[n] = '\0';
		jit_store_token_hash(t, hash);
		jit_wipe(t, sizeof(t));
	}
	c.hash = hash;
	c.rec = NULL;
	r = jit_store_read(s, check_fn, &c);
	if (r == JIT_ERR_NOT_FOUND) {
		if (why != NULL)
			*why = "unknown token";
		r = JIT_ERR_AUTH;
		goto out;
	}
	if (r != 0)
		goto out;
	r = JIT_ERR_AUTH;
	/* The record must belong to this hash: its id is derived from it. */
	jit_auth_token_id(hash, id);
	rid = json_string_value(json_object_get(c.rec, "id"));
	kind = json_string_value(json_object_get(c.rec, "kind"));
	if (rid == NULL || strlen(rid) != JIT_TOKEN_ID_LEN - 1 ||
	    CRYPTO_memcmp(rid, id, JIT_TOKEN_ID_LEN - 1) != 0 ||
	    (kind != NULL && strcmp(kind, JIT_TOKEN_KIND_API) != 0 &&
	    strcmp(kind, JIT_TOKEN_KIND_SSO) != 0)) {
		if (why != NULL)
			*why = "token record mismatch";
		goto out;
	}
	info->sso = kind != NULL && strcmp(kind, JIT_TOKEN_KIND_SSO) == 0;
	if (json_object_get(c.rec, "revoked_at") != NULL &&
	    !json_is_null(json_object_get(c.rec, "revoked_at"))) {
		if (why != NULL)
			*why = info->sso ? "session revoked" : "token revoked";
		goto out;
	}
	exp = json_string_value(json_object_get(c.rec, "expires_at"));
	if (exp == NULL || jit_parse_time(exp, &texp) != 0 || now >= texp) {
		if (why != NULL)
			*why = info->sso ? "session expired; sign in again" :
			    "token expired";
		goto out;
	}
	u = json_string_value(json_object_get(c.rec, "user"));
	if (u == NULL || strlen(u) > JIT_USER_MAX ||
	    !jit_policy_user_exists(p, u)) {
		if (why != NULL)
			*why = "token user not in the policy";
		goto out;
	}
	if (!info->sso && !jit_policy_may_hold_token(p, u)) {
		if (why != NULL)
			*why = "API tokens are for automation only (the policy "
			    "says tokens: automation_only); sign in through "
			    "single sign-on instead";
		goto out;
	}
	if (info->sso &&
	    ((r = rec_strings(c.rec, "amr", &info->amr, &info->namr)) != 0 ||
	    (r = rec_strings(c.rec, "groups", &info->groups,
	    &info->ngroups)) != 0))
		goto out;
	memcpy(info->user, u, strlen(u) + 1);
	memcpy(info->id, id, JIT_TOKEN_ID_LEN);
	info->expires_at = texp;
	r = 0;
out:
	if (r != 0)
		jit_auth_info_release(info);
	jit_wipe(hash, sizeof(hash));
	json_decref(c.rec);
	return r;
}

int
jit_auth_check(struct jit_store *s, const struct jit_policy *p,
    const char *authorization, uint64_t now, char user[JIT_USER_MAX + 1],
    const char **why)
{
	struct jit_auth_info info;
	int r;

	memset(&info, 0, sizeof(info));
	user[0] = '\0';
	if ((r = jit_auth_check_info(s, p, authorization, now, &info,
	    why)) == 0)
		memcpy(user, info.user, strlen(info.user) + 1);
	jit_auth_info_release(&info);
	return r;
}
