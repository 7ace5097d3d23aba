/* auth_sso.c - single sign-on session tokens (auth.h). */
#include "auth.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "util.h"

#define SWEEP_MAX 256            /* records deleted per sweep call */

/* A JSON list of strings v[0..n) (NULL entries skipped). */
static json_t *
string_list(const char *const *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < n; i++)
		if (v[i] != NULL &&
		    json_array_append_new(a, json_string(v[i])) != 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

int
jit_auth_sso_members(json_t *rec, json_t *audit, const struct jit_sso_login *l)
{
	json_t *amr = string_list(l->amr, l->namr);
	json_t *groups = string_list(l->groups, l->ngroups);
	int r = JIT_ERR_ALLOC;

	if (amr != NULL && groups != NULL &&
	    json_object_set_new(rec, "via", json_string("oidc")) == 0 &&
	    json_object_set_new(rec, "subject", json_string(l->subject)) == 0 &&
	    json_object_set(rec, "amr", amr) == 0 &&
	    json_object_set(rec, "groups", groups) == 0 &&
	    json_object_set_new(audit, "via", json_string("oidc")) == 0 &&
	    json_object_set_new(audit, "subject", json_string(l->subject)) ==
	    0 && json_object_set(audit, "amr", amr) == 0 &&
	    json_object_set(audit, "groups", groups) == 0)
		r = 0;
	json_decref(amr);
	json_decref(groups);
	return r;
}

int
jit_auth_sso_create(struct jit_store *s, const struct jit_sso_login *l,
    uint64_t now, uint64_t ttl, char **token, char id[JIT_TOKEN_ID_LEN])
{
	char created[JIT_TIME_LEN], expires[JIT_TIME_LEN];
	json_t *rec = NULL, *audit = NULL;
	int r = JIT_ERR_ALLOC;

	*token = NULL;
	if (id != NULL)
		id[0] = '\0';
	if (s == NULL || l == NULL || l->user == NULL || *l->user == '\0' ||
	    strlen(l->user) > JIT_USER_MAX || l->subject == NULL ||
	    ttl == 0 || ttl > JIT_TOKEN_MAX_TTL)
		return JIT_ERR_INVALID_ARGUMENT;
	jit_format_time(now, created);
	jit_format_time(now + ttl, expires);
	rec = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s?}", "kind",
	    JIT_TOKEN_KIND_SSO, "user", l->user, "created_at", created,
	    "expires_at", expires, "created_by", "oidc", "client_address",
	    l->client_addr);
	audit = json_pack("{s:s, s:s, s:s, s:s, s:s}", "event",
	    "session.create", "actor", l->user, "user", l->user, "expires_at",
	    expires, "client_address", l->client_addr != NULL ?
	    l->client_addr : "-");
	if (rec != NULL && audit != NULL &&
	    (r = jit_auth_sso_members(rec, audit, l)) == 0)
		r = jit_auth_issue(s, rec, audit, token, id);
	json_decref(rec);
	json_decref(audit);
	return r;
}

struct sweep_ctx {
	uint64_t before;
	char ids[SWEEP_MAX][JIT_TOKEN_ID_LEN];
	size_t n;
};

static int
sweep_find(const unsigned char hash[JIT_TOKEN_HASH_LEN], json_t *rec,
    void *vctx)
{
	struct sweep_ctx *c = vctx;
	const char *kind = json_string_value(json_object_get(rec, "kind"));
	const char *id = json_string_value(json_object_get(rec, "id"));
	const char *exp = json_string_value(json_object_get(rec,
	    "expires_at"));
	uint64_t t;

	(void)hash;
	if (kind == NULL || strcmp(kind, JIT_TOKEN_KIND_SSO) != 0 ||
	    id == NULL || strlen(id) != JIT_TOKEN_ID_LEN - 1 ||
	    exp == NULL || jit_parse_time(exp, &t) != 0 || t >= c->before)
		return 0;
	memcpy(c->ids[c->n++], id, JIT_TOKEN_ID_LEN);
	return c->n == SWEEP_MAX ? 1 : 0;
}

static int
sweep_list_fn(struct jit_store_txn *t, void *vctx)
{
	return jit_store_list_tokens(t, sweep_find, vctx);
}

/* An expired session never becomes valid again, so what the read found
 * may be deleted as it is. */
static int
sweep_delete_fn(struct jit_store_txn *t, void *vctx)
{
	struct sweep_ctx *c = vctx;
	int r;

	for (size_t i = 0; i < c->n; i++)
		if ((r = jit_store_delete_token(t, c->ids[i])) != 0 &&
		    r != JIT_ERR_NOT_FOUND)
			return r;
	return 0;
}

int
jit_auth_sso_sweep(struct jit_store *s, uint64_t now, unsigned *deleted)
{
	struct sweep_ctx *c;
	int r = JIT_ERR_INTERNAL;

	if (deleted != NULL)
		*deleted = 0;
	if (now < JIT_SSO_KEEP)
		return 0;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return JIT_ERR_ALLOC;
	c->before = now - JIT_SSO_KEEP;
	if ((r = jit_store_read(s, sweep_list_fn, c)) == 0 && c->n > 0 &&
	    (r = jit_store_write(s, sweep_delete_fn, c)) == 0 &&
	    deleted != NULL)
		*deleted = (unsigned)c->n;
	free(c);
	return r;
}
