/* auth_sso.c - single sign-on session tokens (auth.h). */
#include "auth.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "util.h"

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
		r = jit_auth_issue(s, &jit_secret_api, rec, audit, token, id,
		    JIT_TOKEN_ID_LEN);
	json_decref(rec);
	json_decref(audit);
	return r;
}
