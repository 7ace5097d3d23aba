/*
 * test-auth-sso.c - session tokens from single sign-on and the kinds of
 * bearer credential (api/auth.h, auth_sso.c) against a temporary store:
 * a session carries its amr and provider groups, is stored hashed with
 * its audit entry, ends when revoked, expired or its user leaves the
 * policy; tokens: automation_only refuses people's API tokens but not
 * their sessions; the sweep deletes only long-expired sessions.
 */
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "auth.h"
#include "buf.h"
#include "err.h"
#include "policy.h"
#include "store.h"
#include "test-store-open.h"
#include "test.h"
#include "test-files.h"
#include "util.h"

#define T0 1900000000ull

static const char policy_open[] =
    "users: {alice: {}, bob: {}, ci: {}}\n";
static const char policy_auto[] =
    "users: {alice: {}, bob: {}, ci: {}}\n"
    "tokens: automation_only\ntoken_users: [ci]\n";

static struct jit_policy *
load(const char *yaml)
{
	struct jit_policy *p = NULL;
	struct jit_policy_error e;

	REQUIRE_OK(jit_policy_load_mem("t", yaml, strlen(yaml), &p, &e));
	return p;
}

/* "Bearer TOKEN" in a static buffer. */
static const char *
bearer(const char *tok)
{
	static char b[128];

	snprintf(b, sizeof(b), "Bearer %s", tok);
	return b;
}

static int
count_kind(const unsigned char hash[JIT_TOKEN_HASH_LEN], json_t *rec,
    void *ctx)
{
	const char *k = json_string_value(json_object_get(rec, "kind"));

	(void)hash;
	if (k != NULL && strcmp(k, JIT_TOKEN_KIND_SSO) == 0)
		(*(unsigned *)ctx)++;
	return 0;
}

static int
count_fn(struct jit_store_txn *t, void *ctx)
{
	return jit_store_list_tokens(t, count_kind, ctx);
}

static unsigned
sessions(struct jit_store *s)
{
	unsigned n = 0;

	REQUIRE_OK(jit_store_read(s, count_fn, &n));
	return n;
}

/* Every audit entry: how many are session.create with alice's details,
 * and how many hold the secret token. */
struct audit_scan {
	const char *secret;
	unsigned creates, leaks;
};

static int
audit_fn(struct jit_store_txn *t, void *ctx)
{
	struct audit_scan *a = ctx;
	char head[JIT_AUDIT_HASH_HEX], *js = NULL;
	uint64_t seq = 0;
	size_t len;
	json_t *e;
	int r;

	if ((r = jit_audit_head(t, &seq, head)) != 0)
		return r;
	for (uint64_t i = 1; i <= seq; i++) {
		if ((r = jit_store_audit_get(t, i, &js, &len)) != 0)
			return r;
		if (memmem(js, len, a->secret, strlen(a->secret)) != NULL)
			a->leaks++;
		e = json_loadb(js, len, 0, NULL);
		if (json_is_string(json_object_get(e, "event")) &&
		    strcmp(json_string_value(json_object_get(e, "event")),
		    "session.create") == 0 &&
		    strcmp(json_string_value(json_object_get(e, "user")),
		    "alice") == 0 &&
		    strcmp(json_string_value(json_array_get(json_object_get(e,
		    "amr"), 1)), "otp") == 0 &&
		    strcmp(json_string_value(json_object_get(e,
		    "client_address")), "192.0.2.1") == 0)
			a->creates++;
		json_decref(e);
		free(js);
		js = NULL;
	}
	return 0;
}

int
main(void)
{
	static const char *const amr[] = { "pwd", "otp" };
	static const char *const groups[] = { "okta-sre" };
	struct jit_sso_login l = { "alice", "sub-1", amr, 2, groups, 1,
	    "192.0.2.1" };
	struct jit_policy *open = load(policy_open), *autop = load(policy_auto);
	struct jit_policy *gone = load("users: {bob: {}}\n");
	struct jit_auth_info info;
	char *sdir = store_dir_new("auth-sso"), *tok = NULL, *api = NULL;
	char id[JIT_TOKEN_ID_LEN], aid[JIT_TOKEN_ID_LEN];
	const char *why = NULL;
	struct jit_store *s = NULL;
	unsigned deleted = 9;

	REQUIRE_OK(test_store_open(sdir, 0, &s));
	memset(&info, 0, sizeof(info));

	/* Bad arguments. */
	CHECK_INT(jit_auth_sso_create(s, &l, T0, 0, &tok, id),
	    JIT_ERR_INVALID_ARGUMENT);
	CHECK_INT(jit_auth_sso_create(s, &l, T0, JIT_TOKEN_MAX_TTL + 1, &tok,
	    id), JIT_ERR_INVALID_ARGUMENT);
	CHECK(tok == NULL);

	/* A session: a bearer token of kind sso, with its amr and groups,
	 * and one audit entry. */
	REQUIRE_OK(jit_auth_sso_create(s, &l, T0, 3600, &tok, id));
	CHECK_INT(strlen(tok), JIT_TOKEN_STRING_LEN);
	CHECK(strncmp(tok, JIT_TOKEN_PREFIX, 4) == 0);
	CHECK(strncmp(id, "t-", 2) == 0);
	CHECK_OK(jit_auth_check_info(s, open, bearer(tok), T0 + 10, &info,
	    &why));
	CHECK_STR(info.user, "alice");
	CHECK_STR(info.id, id);
	CHECK_INT(info.sso, 1);
	REQUIRE(info.namr == 2 && info.ngroups == 1);
	CHECK_STR(info.amr[1], "otp");
	CHECK_STR(info.groups[0], "okta-sre");
	CHECK_U64(info.expires_at, T0 + 3600);
	jit_auth_info_release(&info);
	CHECK(info.amr == NULL && info.namr == 0);
	CHECK_INT(sessions(s), 1);

	/* Ends at its expiry, and when its user leaves the policy. */
	CHECK_INT(jit_auth_check_info(s, open, bearer(tok), T0 + 3600, &info,
	    &why), JIT_ERR_AUTH);
	CHECK_STR(why, "session expired; sign in again");
	CHECK_STR(info.user, "");
	CHECK_INT(jit_auth_check_info(s, gone, bearer(tok), T0 + 10, &info,
	    &why), JIT_ERR_AUTH);
	CHECK_STR(why, "token user not in the policy");

	/* tokens: automation_only: people's API tokens stop, sessions and
	 * the token users' go on. */
	REQUIRE_OK(jit_auth_token_create(s, "bob", 0, "cli:test", &api, aid));
	CHECK_OK(jit_auth_check_info(s, open, bearer(api), jit_now(), &info,
	    &why));
	CHECK_INT(info.sso, 0);
	CHECK(info.namr == 0 && info.ngroups == 0);
	jit_auth_info_release(&info);
	CHECK_INT(jit_auth_check_info(s, autop, bearer(api), jit_now(), &info,
	    &why), JIT_ERR_AUTH);
	CHECK_STR(why, "API tokens are for automation only (the policy says "
	    "tokens: automation_only); sign in through single sign-on "
	    "instead");
	CHECK_OK(jit_auth_check_info(s, autop, bearer(tok), T0 + 10, &info,
	    &why));
	jit_auth_info_release(&info);
	jit_wipe(api, strlen(api));
	free(api);
	REQUIRE_OK(jit_auth_token_create(s, "ci", 0, "cli:test", &api, aid));
	CHECK_OK(jit_auth_check_info(s, autop, bearer(api), jit_now(), &info,
	    &why));
	jit_auth_info_release(&info);

	/* Revoked like any token. */
	REQUIRE_OK(jit_auth_token_revoke(s, id, "cli:test"));
	CHECK_INT(jit_auth_check_info(s, open, bearer(tok), T0 + 10, &info,
	    &why), JIT_ERR_AUTH);
	CHECK_STR(why, "session revoked");

	/* The sweep deletes sessions a week past their end, nothing else. */
	CHECK_OK(jit_auth_sso_sweep(s, T0 + 3600 + JIT_SSO_KEEP - 1,
	    &deleted));
	CHECK_INT(deleted, 0);
	CHECK_INT(sessions(s), 1);
	CHECK_OK(jit_auth_sso_sweep(s, T0 + 3600 + JIT_SSO_KEEP + 1,
	    &deleted));
	CHECK_INT(deleted, 1);
	CHECK_INT(sessions(s), 0);
	CHECK_OK(jit_auth_check_info(s, autop, bearer(api), jit_now(), &info,
	    &why));
	jit_auth_info_release(&info);

	/* The audit log: one session.create entry, never the token. */
	{
		struct audit_scan a = { tok, 0, 0 };

		REQUIRE_OK(jit_store_read(s, audit_fn, &a));
		CHECK_INT(a.creates, 1);
		CHECK_INT(a.leaks, 0);
	}
	jit_wipe(tok, strlen(tok));
	free(tok);
	jit_wipe(api, strlen(api));
	free(api);
	jit_store_close(s);
	store_dir_remove(sdir);
	jit_policy_free(open);
	jit_policy_free(autop);
	jit_policy_free(gone);
	TEST_DONE();
}
