/* auth.c - see auth.h. */
#include "auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "audit.h"
#include "buf.h"
#include "err.h"
#include "util.h"

#define B64URL \
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
#define SECRET_B64_LEN 43    /* base64url of JIT_TOKEN_RANDOM_LEN bytes */

const struct jit_secret_kind jit_secret_api = {
	JIT_TOKEN_PREFIX, "t-", "token_id", NULL
};

/* Web session ids: kept in the token table like API tokens. */
static const struct jit_secret_kind session_kind = {
	JIT_SESSION_PREFIX, "s-", "session_id", NULL
};

/* k's prefix + the unpadded base64url of 32 random bytes. */
static int
random_secret(const struct jit_secret_kind *k, char **out)
{
	unsigned char rnd[JIT_TOKEN_RANDOM_LEN + 1];
	size_t plen = strlen(k->prefix), len = plen + SECRET_B64_LEN;
	char *t;
	size_t i, o, bits = 0;
	uint32_t acc = 0;

	*out = NULL;
	if ((t = malloc(len + 1)) == NULL)
		return JIT_ERR_ALLOC;
	if (RAND_bytes(rnd, JIT_TOKEN_RANDOM_LEN) != 1) {
		/* A failed call may still have written part of the bytes. */
		jit_wipe(rnd, sizeof(rnd));
		free(t);
		return JIT_ERR_CRYPTO;
	}
	memcpy(t, k->prefix, plen);
	o = plen;
	/* 256 bits -> 43 base64url characters (the last holds 4 bits). */
	for (i = 0; i < JIT_TOKEN_RANDOM_LEN; i++) {
		acc = (acc << 8) | rnd[i];
		bits += 8;
		while (bits >= 6) {
			t[o++] = B64URL[(acc >> (bits - 6)) & 0x3f];
			bits -= 6;
		}
	}
	if (bits > 0)
		t[o++] = B64URL[(acc << (6 - bits)) & 0x3f];
	t[o] = '\0';
	/* acc still holds the last random bits.  A plain "acc = 0" is a
	 * dead store the compiler may drop; jit_wipe cannot be. */
	jit_wipe(rnd, sizeof(rnd));
	jit_wipe(&acc, sizeof(acc));
	if (o != len) {
		jit_wipe(t, len + 1);
		free(t);
		return JIT_ERR_INTERNAL;
	}
	*out = t;
	return 0;
}

int
jit_secret_hash(const struct jit_secret_kind *k, const char *s,
    unsigned char hash[JIT_TOKEN_HASH_LEN])
{
	size_t plen = strlen(k->prefix);

	if (s == NULL || strlen(s) != plen + SECRET_B64_LEN ||
	    strncmp(s, k->prefix, plen) != 0 ||
	    strspn(s + plen, B64URL) != SECRET_B64_LEN)
		return JIT_ERR_INVALID_ARGUMENT;
	jit_store_token_hash(s, hash);
	return 0;
}

void
jit_secret_id(const struct jit_secret_kind *k,
    const unsigned char hash[JIT_TOKEN_HASH_LEN], char *id, size_t size)
{
	char hex[2 * 6 + 1];

	jit_hex(hash, 6, hex);
	snprintf(id, size, "%s%s", k->id_prefix, hex);
}

void
jit_secret_value_key(const struct jit_secret_kind *k,
    const unsigned char hash[JIT_TOKEN_HASH_LEN], char *key, size_t size)
{
	char hex[2 * JIT_TOKEN_HASH_LEN + 1];

	jit_hex(hash, JIT_TOKEN_HASH_LEN, hex);
	snprintf(key, size, "%s%s", k->value_prefix, hex);
}

void
jit_auth_token_id(const unsigned char hash[JIT_TOKEN_HASH_LEN],
    char id[JIT_TOKEN_ID_LEN])
{
	jit_secret_id(&jit_secret_api, hash, id, JIT_TOKEN_ID_LEN);
}

struct create_ctx {
	unsigned char hash[JIT_TOKEN_HASH_LEN];
	char key[JIT_SECRET_KEY_MAX];   /* a value kind's store key */
	const struct jit_secret_kind *kind;
	json_t *rec;
	json_t *audit;
};

static int
create_fn(struct jit_store_txn *t, void *vctx)
{
	struct create_ctx *c = vctx;
	int values = c->kind->value_prefix != NULL;
	json_t *old = NULL;
	int r;

	/* A collision of 256-bit random secrets is not going to happen,
	 * but never overwrite an existing record if it somehow did. */
	r = values ? jit_store_get_value(t, c->key, &old) :
	    jit_store_get_token(t, c->hash, &old);
	if (r == 0) {
		json_decref(old);
		return JIT_ERR_CONFLICT;
	}
	if (r != JIT_ERR_NOT_FOUND)
		return r;
	if ((r = values ? jit_store_put_value(t, c->key, c->rec) :
	    jit_store_put_token(t, c->hash, c->rec)) != 0)
		return r;
	return jit_audit_append(t, c->audit, NULL, NULL);
}

int
jit_auth_issue(struct jit_store *s, const struct jit_secret_kind *k,
    json_t *rec, json_t *audit, char **token, char *id, size_t idlen)
{
	struct create_ctx c;
	char tid[JIT_SECRET_ID_MAX];
	char *tok = NULL;
	int r = JIT_ERR_INTERNAL;

	*token = NULL;
	if (id != NULL && idlen > 0)
		id[0] = '\0';
	if (strlen(k->id_prefix) + 13 > sizeof(tid) ||
	    (id != NULL && idlen < strlen(k->id_prefix) + 13))
		return JIT_ERR_INVALID_ARGUMENT;
	if ((r = random_secret(k, &tok)) != 0)
		return r;
	memset(&c, 0, sizeof(c));
	jit_store_token_hash(tok, c.hash);
	if (k->value_prefix != NULL)
		jit_secret_value_key(k, c.hash, c.key, sizeof(c.key));
	jit_secret_id(k, c.hash, tid, sizeof(tid));
	c.kind = k;
	c.rec = rec;
	c.audit = audit;
	if (json_object_set_new(rec, "id", json_string(tid)) != 0 ||
	    json_object_set_new(audit, k->audit_id, json_string(tid)) != 0) {
		r = JIT_ERR_ALLOC;
		goto out;
	}
	if ((r = jit_store_write(s, create_fn, &c)) != 0)
		goto out;
	*token = tok;
	tok = NULL;
	if (id != NULL)
		snprintf(id, idlen, "%s", tid);
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
		r = jit_auth_issue(s, &jit_secret_api, rec, audit, token, id,
		    JIT_TOKEN_ID_LEN);
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

/* Set *why (may be NULL) and return code. */
static int
because(const char **why, const char *reason, int code)
{
	if (why != NULL)
		*why = reason;
	return code;
}

/* A record whose "revoked_at" is set. */
static int
rec_revoked(const json_t *rec)
{
	const json_t *v = json_object_get(rec, "revoked_at");

	return v != NULL && !json_is_null(v);
}

/* 1 if the time member name of rec is absent, malformed or <= now. */
static int
rec_time_passed(const json_t *rec, const char *name, uint64_t now)
{
	const char *v = json_string_value(json_object_get(rec, name));
	uint64_t t;

	return v == NULL || jit_parse_time(v, &t) != 0 || now >= t;
}

/* The user of rec if it is a user of p; NULL if not. */
static const char *
rec_user(const json_t *rec, const struct jit_policy *p)
{
	const char *u = json_string_value(json_object_get(rec, "user"));

	if (u == NULL || strlen(u) > JIT_USER_MAX ||
	    !jit_policy_user_exists(p, u))
		return NULL;
	return u;
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

/* The sign-in facts of a record made by single sign-on into info. */
static int
rec_sso(const json_t *rec, struct jit_auth_info *info)
{
	int r;

	info->sso = 1;
	if ((r = rec_strings(rec, "amr", &info->amr, &info->namr)) != 0 ||
	    (r = rec_strings(rec, "groups", &info->groups,
	    &info->ngroups)) != 0)
		return r;
	return 0;
}

/* Check bearer token string token: an API token, or with sso_ok also a
 * session token from single sign-on.  info is zeroed first and filled on
 * success. */
static int
check_bearer(struct jit_store *s, const struct jit_policy *p,
    const char *token, uint64_t now, int sso_ok, struct jit_auth_info *info,
    const char **why)
{
	unsigned char hash[JIT_TOKEN_HASH_LEN];
	char id[JIT_TOKEN_ID_LEN];
	struct check_ctx c;
	const char *u, *rid, *kind;
	int r = JIT_ERR_INTERNAL, sso;

	memset(info, 0, sizeof(*info));
	if (why != NULL)
		*why = "";
	if (jit_secret_hash(&jit_secret_api, token, hash) != 0)
		return because(why, "malformed token", JIT_ERR_AUTH);
	c.hash = hash;
	c.rec = NULL;
	r = jit_store_read(s, check_fn, &c);
	if (r == JIT_ERR_NOT_FOUND) {
		r = because(why, "unknown token", JIT_ERR_AUTH);
		goto out;
	}
	if (r != 0)
		goto out;
	r = JIT_ERR_AUTH;
	/* The record must belong to this hash: its id is derived from it. */
	jit_auth_token_id(hash, id);
	rid = json_string_value(json_object_get(c.rec, "id"));
	kind = json_string_value(json_object_get(c.rec, "kind"));
	sso = kind != NULL && strcmp(kind, JIT_TOKEN_KIND_SSO) == 0;
	if (rid == NULL || strlen(rid) != JIT_TOKEN_ID_LEN - 1 ||
	    CRYPTO_memcmp(rid, id, JIT_TOKEN_ID_LEN - 1) != 0 ||
	    (kind != NULL && strcmp(kind, JIT_TOKEN_KIND_API) != 0 && !sso)) {
		r = because(why, "token record mismatch", JIT_ERR_AUTH);
		goto out;
	}
	if (sso && !sso_ok) {
		r = because(why, "a session token of jit-ssh; sign in here "
		    "with single sign-on", JIT_ERR_AUTH);
		goto out;
	}
	if (rec_revoked(c.rec)) {
		r = because(why, sso ? "session revoked" : "token revoked",
		    JIT_ERR_AUTH);
		goto out;
	}
	if (rec_time_passed(c.rec, "expires_at", now)) {
		r = because(why, sso ? "session expired; sign in again" :
		    "token expired", JIT_ERR_AUTH);
		goto out;
	}
	if ((u = rec_user(c.rec, p)) == NULL) {
		r = because(why, "token user not in the policy", JIT_ERR_AUTH);
		goto out;
	}
	if (!sso && !jit_policy_may_hold_token(p, u)) {
		r = because(why, "API tokens are for automation only (the "
		    "policy says tokens: automation_only); sign in through "
		    "single sign-on instead", JIT_ERR_AUTH);
		goto out;
	}
	if (sso && (r = rec_sso(c.rec, info)) != 0)
		goto out;
	memcpy(info->user, u, strlen(u) + 1);
	memcpy(info->id, id, JIT_TOKEN_ID_LEN);
	(void)jit_parse_time(json_string_value(json_object_get(c.rec,
	    "expires_at")), &info->expires_at);
	r = 0;
out:
	if (r != 0)
		jit_auth_info_release(info);
	jit_wipe(hash, sizeof(hash));
	json_decref(c.rec);
	return r;
}

int
jit_auth_check_token(struct jit_store *s, const struct jit_policy *p,
    const char *token, uint64_t now, char user[JIT_USER_MAX + 1],
    char token_id[JIT_TOKEN_ID_LEN], const char **why)
{
	struct jit_auth_info info;
	int r;

	user[0] = '\0';
	if (token_id != NULL)
		token_id[0] = '\0';
	if ((r = check_bearer(s, p, token, now, 0, &info, why)) != 0)
		return r;
	memcpy(user, info.user, strlen(info.user) + 1);
	if (token_id != NULL)
		memcpy(token_id, info.id, JIT_TOKEN_ID_LEN);
	jit_auth_info_release(&info);
	return 0;
}

int
jit_auth_check_info(struct jit_store *s, const struct jit_policy *p,
    const char *authorization, uint64_t now, struct jit_auth_info *info,
    const char **why)
{
	char t[JIT_TOKEN_STRING_LEN + 1];
	const char *tok;
	size_t n;
	int r;

	memset(info, 0, sizeof(*info));
	if (why != NULL)
		*why = "";
	if (authorization == NULL)
		return because(why, "no Authorization header", JIT_ERR_AUTH);
	if (strncasecmp(authorization, "Bearer ", 7) != 0)
		return because(why, "Authorization is not a Bearer token",
		    JIT_ERR_AUTH);
	tok = authorization + 7;
	while (*tok == ' ')
		tok++;
	n = strlen(tok);
	while (n > 0 && tok[n - 1] == ' ')
		n--;
	if (n != JIT_TOKEN_STRING_LEN)
		return because(why, "malformed token", JIT_ERR_AUTH);
	memcpy(t, tok, n);
	t[n] = '\0';
	r = check_bearer(s, p, t, now, 1, info, why);
	jit_wipe(t, sizeof(t));
	return r;
}

int
jit_auth_check(struct jit_store *s, const struct jit_policy *p,
    const char *authorization, uint64_t now, char user[JIT_USER_MAX + 1],
    const char **why)
{
	struct jit_auth_info info;
	int r;

	user[0] = '\0';
	if ((r = jit_auth_check_info(s, p, authorization, now, &info,
	    why)) == 0)
		memcpy(user, info.user, strlen(info.user) + 1);
	jit_auth_info_release(&info);
	return r;
}

/* ---- web sessions ---------------------------------------------------- */

#define CSRF_LABEL "jit-ssh csrf v1\n"
#define SWEEP_MAX 256            /* sessions deleted per sweep call */

/* The public id of a session hash: "s-" + 12 hex digits. */
static void
session_id(const unsigned char hash[JIT_TOKEN_HASH_LEN],
    char id[JIT_TOKEN_ID_LEN])
{
	jit_secret_id(&session_kind, hash, id, JIT_TOKEN_ID_LEN);
}

/* Hash a session id string; nonzero if it is not one. */
static int
session_hash(const char *sid, unsigned char hash[JIT_TOKEN_HASH_LEN])
{
	return jit_secret_hash(&session_kind, sid, hash);
}

/* Has session record rec ended by time at now (idle timeout idle)? */
static int
session_timed_out(const json_t *rec, uint64_t now, uint64_t idle)
{
	const char *seen = json_string_value(json_object_get(rec, "seen_at"));
	uint64_t t;

	if (rec_time_passed(rec, "expires_at", now))
		return 1;
	if (idle == 0)
		return 0;
	/* seen_at after now (the clock stepped back) is not idle time. */
	return seen == NULL || jit_parse_time(seen, &t) != 0 ||
	    (now > t && now - t > idle);
}

static int
is_session(const json_t *rec)
{
	const char *kind = json_string_value(json_object_get(rec, "kind"));

	return kind != NULL && strcmp(kind, "session") == 0;
}

/* A change to an existing session (a new one is jit_auth_issue's). */
struct session_write {
	unsigned char hash[JIT_TOKEN_HASH_LEN];
	const char *id;
	json_t *audit;               /* NULL = no entry */
	const char *seen_at;         /* touch: the new seen_at */
	int remove;                  /* end, or drop an expired record */
};

static int
session_write_fn(struct jit_store_txn *t, void *vctx)
{
	struct session_write *w = vctx;
	json_t *old = NULL;
	int r;

	if ((r = jit_store_get_token(t, w->hash, &old)) != 0)
		return r;
	if (!is_session(old))
		r = JIT_ERR_NOT_FOUND;
	else if (w->remove && w->audit != NULL &&
	    json_object_set(w->audit, "actor",
	    json_object_get(old, "user")) != 0)
		r = JIT_ERR_ALLOC;
	else if (w->remove)
		r = jit_store_delete_token(t, w->id);
	else if (json_object_set_new(old, "seen_at",
	    json_string(w->seen_at)) != 0)
		r = JIT_ERR_ALLOC;
	else
		r = jit_store_put_token(t, w->hash, old);
	json_decref(old);
	if (r != 0)
		return r;
	return w->audit != NULL ? jit_audit_append(t, w->audit, NULL, NULL) :
	    0;
}

/* jit_auth_session_start, and, when l is not NULL, the sign-in through
 * the identity provider it describes. */
static int
session_start(struct jit_store *s, const char *user, const char *token_id,
    const struct jit_sso_login *l, uint64_t now, uint64_t max,
    const char *client_addr, char **sid, struct jit_session *info)
{
	char id[JIT_TOKEN_ID_LEN], created[JIT_TIME_LEN], expires[JIT_TIME_LEN];
	json_t *rec, *audit;
	int r = JIT_ERR_INTERNAL;

	*sid = NULL;
	if (s == NULL || user == NULL || *user == '\0' ||
	    strlen(user) > JIT_USER_MAX || max == 0 ||
	    (l != NULL && l->subject == NULL))
		return JIT_ERR_INVALID_ARGUMENT;
	jit_format_time(now, created);
	jit_format_time(now + max, expires);
	/* The ids (null here) are jit_auth_issue's. */
	rec = json_pack("{s:n, s:s, s:s, s:s, s:s, s:s, s:s*, s:s*}",
	    "id", "kind", "session", "user", user, "created_at", created,
	    "expires_at", expires, "seen_at", created, "token_id", token_id,
	    "client_address", client_addr);
	audit = json_pack("{s:s, s:s, s:n, s:s, s:s?, s:s?}", "event",
	    "session.start", "actor", user, "session_id", "expires_at",
	    expires, "token_id", token_id, "client_address", client_addr);
	if (rec == NULL || audit == NULL ||
	    (l != NULL && jit_auth_sso_members(rec, audit, l) != 0))
		r = JIT_ERR_ALLOC;
	else
		r = jit_auth_issue(s, &session_kind, rec, audit, sid, id,
		    sizeof(id));
	if (r == 0 && info != NULL) {
		memcpy(info->user, user, strlen(user) + 1);
		memcpy(info->id, id, sizeof(id));
		info->expires_at = now + max;
	}
	json_decref(rec);
	json_decref(audit);
	return r;
}

int
jit_auth_session_start(struct jit_store *s, const char *user,
    const char *token_id, uint64_t now, uint64_t max,
    const char *client_addr, char **sid, struct jit_session *info)
{
	return session_start(s, user, token_id, NULL, now, max, client_addr,
	    sid, info);
}

int
jit_auth_session_start_sso(struct jit_store *s,
    const struct jit_sso_login *l, uint64_t now, uint64_t max, char **sid,
    struct jit_session *info)
{
	*sid = NULL;
	if (l == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	return session_start(s, l->user, NULL, l, now, max, l->client_addr,
	    sid, info);
}

struct session_read {
	const unsigned char *hash;
	json_t *rec;
	json_t *token;               /* the token it was started with */
};

static int
session_read_fn(struct jit_store_txn *t, void *vctx)
{
	struct session_read *c = vctx;
	const char *tid;
	int r;

	if ((r = jit_store_get_token(t, c->hash, &c->rec)) != 0)
		return r;
	tid = json_string_value(json_object_get(c->rec, "token_id"));
	if (tid == NULL)
		return 0;
	r = jit_store_get_token_by_id(t, tid, NULL, &c->token);
	return r == JIT_ERR_NOT_FOUND ? 0 : r;
}

/* Why the session record c->rec (of hash) is not valid now, or NULL. */
static const char *
session_invalid(const struct session_read *c, const unsigned char *hash,
    const struct jit_policy *p, uint64_t now, uint64_t idle)
{
	char id[JIT_TOKEN_ID_LEN];
	const char *rid = json_string_value(json_object_get(c->rec, "id"));

	session_id(hash, id);
	if (!is_session(c->rec) || rid == NULL ||
	    strlen(rid) != JIT_TOKEN_ID_LEN - 1 ||
	    CRYPTO_memcmp(rid, id, JIT_TOKEN_ID_LEN - 1) != 0)
		return "session record mismatch";
	if (rec_revoked(c->rec))
		return "session revoked";
	if (session_timed_out(c->rec, now, idle))
		return "session expired";
	if (json_is_string(json_object_get(c->rec, "token_id")) &&
	    (c->token == NULL || rec_revoked(c->token) ||
	    rec_time_passed(c->token, "expires_at", now)))
		return "the token the session started with is no longer valid";
	if (rec_user(c->rec, p) == NULL)
		return "session user not in the policy";
	return NULL;
}

/* Seconds between two writes of seen_at for an idle timeout. */
static uint64_t
touch_interval(uint64_t idle)
{
	return idle / 8 < JIT_SESSION_TOUCH_MAX ? idle / 8 :
	    JIT_SESSION_TOUCH_MAX;
}

int
jit_auth_session_check(struct jit_store *s, const struct jit_policy *p,
    const char *sid, uint64_t now, uint64_t idle, int touch,
    struct jit_session *info, const char **why)
{
	return jit_auth_session_check_sso(s, p, sid, now, idle, touch, info,
	    NULL, why);
}

int
jit_auth_session_check_sso(struct jit_store *s, const struct jit_policy *p,
    const char *sid, uint64_t now, uint64_t idle, int touch,
    struct jit_session *info, struct jit_auth_info *sso, const char **why)
{
	struct session_read c = { NULL, NULL, NULL };
	struct session_write w;
	char seen[JIT_TIME_LEN], id[JIT_TOKEN_ID_LEN];
	const char *bad, *u, *v;
	uint64_t t = 0;
	int r = JIT_ERR_INTERNAL;

	memset(info, 0, sizeof(*info));
	if (sso != NULL)
		memset(sso, 0, sizeof(*sso));
	memset(&w, 0, sizeof(w));
	if (why != NULL)
		*why = "";
	if (session_hash(sid, w.hash) != 0)
		return because(why, "malformed session", JIT_ERR_AUTH);
	session_id(w.hash, id);
	w.id = id;
	c.hash = w.hash;
	r = jit_store_read(s, session_read_fn, &c);
	if (r == JIT_ERR_NOT_FOUND) {
		r = because(why, "unknown session", JIT_ERR_AUTH);
		goto out;
	}
	if (r != 0)
		goto out;
	if ((bad = session_invalid(&c, w.hash, p, now, idle)) != NULL) {
		r = because(why, bad, JIT_ERR_AUTH);
		/* An ended session is of no further use: drop it now rather
		 * than at the next sweep (failure here changes nothing). */
		if (is_session(c.rec) && session_timed_out(c.rec, now, idle)) {
			w.remove = 1;
			(void)jit_store_write(s, session_write_fn, &w);
		}
		goto out;
	}
	u = rec_user(c.rec, p);
	memcpy(info->user, u, strlen(u) + 1);
	memcpy(info->id, id, sizeof(id));
	v = json_string_value(json_object_get(c.rec, "expires_at"));
	if (v != NULL)
		(void)jit_parse_time(v, &info->expires_at);
	v = json_string_value(json_object_get(c.rec, "seen_at"));
	if (touch && v != NULL && jit_parse_time(v, &t) == 0 && now > t &&
	    now - t >= touch_interval(idle)) {
		jit_format_time(now, seen);
		w.seen_at = seen;
		if ((r = jit_store_write(s, session_write_fn, &w)) != 0) {
			/* Signed out meanwhile. */
			if (r == JIT_ERR_NOT_FOUND)
				r = because(why, "unknown session",
				    JIT_ERR_AUTH);
			memset(info, 0, sizeof(*info));
			goto out;
		}
	}
	v = json_string_value(json_object_get(c.rec, "via"));
	if (sso != NULL && v != NULL && strcmp(v, "oidc") == 0 &&
	    (r = rec_sso(c.rec, sso)) != 0) {
		jit_auth_info_release(sso);
		memset(info, 0, sizeof(*info));
		goto out;
	}
	r = 0;
out:
	jit_wipe(w.hash, sizeof(w.hash));
	json_decref(c.rec);
	json_decref(c.token);
	return r;
}

int
jit_auth_session_end(struct jit_store *s, const char *sid,
    const char *client_addr)
{
	struct session_write w;
	char id[JIT_TOKEN_ID_LEN];
	int r = JIT_ERR_INTERNAL;

	memset(&w, 0, sizeof(w));
	if (session_hash(sid, w.hash) != 0)
		return JIT_ERR_AUTH;
	session_id(w.hash, id);
	w.id = id;
	w.remove = 1;
	/* The actor becomes the session's user inside the write. */
	w.audit = json_pack("{s:s, s:s, s:s, s:s, s:s?}", "event",
	    "session.end", "actor", "session", "session_id", id, "reason",
	    "signed out", "client_address", client_addr);
	if (w.audit == NULL)
		r = JIT_ERR_ALLOC;
	else
		r = jit_store_write(s, session_write_fn, &w);
	jit_wipe(w.hash, sizeof(w.hash));
	json_decref(w.audit);
	return r;
}

/* A sweep: the records of the token table that are over, found in one
 * read and deleted in one write. */
struct sweep_ctx {
	uint64_t now, idle;
	int (*over)(const json_t *rec, const struct sweep_ctx *c);
	char ids[SWEEP_MAX][JIT_TOKEN_ID_LEN];
	size_t n;
};

static int
sweep_find(const unsigned char hash[JIT_TOKEN_HASH_LEN], json_t *rec,
    void *vctx)
{
	struct sweep_ctx *c = vctx;
	const char *id = json_string_value(json_object_get(rec, "id"));

	(void)hash;
	if (id == NULL || strlen(id) != JIT_TOKEN_ID_LEN - 1 ||
	    !c->over(rec, c))
		return 0;
	memcpy(c->ids[c->n++], id, JIT_TOKEN_ID_LEN);
	return c->n == SWEEP_MAX ? 1 : 0;
}

static int
sweep_list_fn(struct jit_store_txn *t, void *vctx)
{
	return jit_store_list_tokens(t, sweep_find, vctx);
}

/* A record that is over never becomes valid again (seen_at is only
 * written for valid sessions), so what the read found may be deleted as
 * is. */
static int
sweep_delete_fn(struct jit_store_txn *t, void *vctx)
{
	struct sweep_ctx *c = vctx;
	size_t i;
	int r;

	for (i = 0; i < c->n; i++)
		if ((r = jit_store_delete_token(t, c->ids[i])) != 0 &&
		    r != JIT_ERR_NOT_FOUND)
			return r;
	return 0;
}

static int
sweep(struct jit_store *s, uint64_t now, uint64_t idle,
    int (*over)(const json_t *, const struct sweep_ctx *), unsigned *ended)
{
	struct sweep_ctx *c;
	int r = JIT_ERR_INTERNAL;

	if (ended != NULL)
		*ended = 0;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return JIT_ERR_ALLOC;
	c->now = now;
	c->idle = idle;
	c->over = over;
	if ((r = jit_store_read(s, sweep_list_fn, c)) == 0 && c->n > 0 &&
	    (r = jit_store_write(s, sweep_delete_fn, c)) == 0 &&
	    ended != NULL)
		*ended = (unsigned)c->n;
	free(c);
	return r;
}

static int
session_over(const json_t *rec, const struct sweep_ctx *c)
{
	return is_session(rec) && session_timed_out(rec, c->now, c->idle);
}

int
jit_auth_session_sweep(struct jit_store *s, uint64_t now, uint64_t idle,
    unsigned *ended)
{
	return sweep(s, now, idle, session_over, ended);
}

/* A single sign-on session token that ended JIT_SSO_KEEP ago. */
static int
sso_over(const json_t *rec, const struct sweep_ctx *c)
{
	const char *kind = json_string_value(json_object_get(rec, "kind"));

	return kind != NULL && strcmp(kind, JIT_TOKEN_KIND_SSO) == 0 &&
	    c->now >= JIT_SSO_KEEP &&
	    rec_time_passed(rec, "expires_at", c->now - JIT_SSO_KEEP);
}

int
jit_auth_sso_sweep(struct jit_store *s, uint64_t now, unsigned *deleted)
{
	return sweep(s, now, 0, sso_over, deleted);
}

void
jit_auth_session_csrf(const char *sid, char out[JIT_CSRF_HEX_LEN + 1])
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	char in[sizeof(CSRF_LABEL) + JIT_SESSION_STRING_LEN];
	size_t n = strnlen(sid, JIT_SESSION_STRING_LEN);

	memcpy(in, CSRF_LABEL, sizeof(CSRF_LABEL) - 1);
	memcpy(in + sizeof(CSRF_LABEL) - 1, sid, n);
	SHA256((const unsigned char *)in, sizeof(CSRF_LABEL) - 1 + n, md);
	jit_hex(md, sizeof(md), out);
	out[JIT_CSRF_HEX_LEN] = '\0';
	jit_wipe(md, sizeof(md));
	jit_wipe(in, sizeof(in));
}

int
jit_auth_csrf_ok(const char *sid, const char *given)
{
	char want[JIT_CSRF_HEX_LEN + 1];
	int ok;

	if (sid == NULL || given == NULL ||
	    strlen(given) != JIT_CSRF_HEX_LEN)
		return 0;
	jit_auth_session_csrf(sid, want);
	ok = CRYPTO_memcmp(want, given, JIT_CSRF_HEX_LEN) == 0;
	jit_wipe(want, sizeof(want));
	return ok;
}
