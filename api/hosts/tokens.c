/*
 * tokens.c - see hosts.h: one-time host enrollment tokens, made and
 * stored by their SHA-256 like API tokens (auth.h, jit_auth_issue), but
 * under their own keys and with their own prefix, so neither kind of
 * token is ever accepted for the other.
 */
#include "hosts_int.h"

#include <string.h>

#include "err.h"
#include "util.h"

const struct jit_secret_kind hosts__token_kind = {
	JIT_HOSTS_TOKEN_PREFIX, "ht-", "token_id", HOSTS_TOKEN_KEY_PREFIX
};

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
	char created[JIT_TIME_LEN], expires[JIT_TIME_LEN];
	json_t *pr = NULL, *rec = NULL, *audit = NULL;
	int r = JIT_ERR_INTERNAL;

	*token = NULL;
	if (id != NULL)
		id[0] = '\0';
	if (s == NULL || actor == NULL || *actor == '\0')
		return JIT_ERR_INVALID_ARGUMENT;
	if (ttl == 0)
		ttl = JIT_HOSTS_TOKEN_DEFAULT_TTL;
	if (ttl > JIT_HOSTS_TOKEN_MAX_TTL)
		return JIT_ERR_INVALID_ARGUMENT;
	if ((r = principal_array(principals, n, &pr)) != 0)
		return r;
	jit_format_time(now, created);
	jit_format_time(now + ttl, expires);
	/* The ids (null here) are jit_auth_issue's. */
	rec = json_pack("{s:n, s:O, s:s, s:s, s:s}", "id", "principals", pr,
	    "created_at", created, "expires_at", expires, "created_by", actor);
	audit = json_pack("{s:s, s:s, s:n, s:O, s:s}", "event",
	    "host.token.create", "actor", actor, "token_id", "principals", pr,
	    "expires_at", expires);
	if (rec == NULL || audit == NULL)
		r = JIT_ERR_ALLOC;
	else
		r = jit_auth_issue(s, &hosts__token_kind, rec, audit, token, id,
		    JIT_HOSTS_TOKEN_ID_LEN);
	json_decref(pr);
	json_decref(rec);
	json_decref(audit);
	return r;
}
