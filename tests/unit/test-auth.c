/*
 * test-auth.c - API tokens and web sessions (api/auth.h) on a real store:
 * a session is checked by its id only, ends when idle, at its absolute
 * expiry, at sign-out, when revoked, when its token is revoked and when
 * its user leaves the policy; ended sessions are swept; a session id is
 * not a bearer token and a token is not a session; CSRF tokens.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "err.h"
#include "store.h"
#include "test-store-open.h"
#include "test.h"
#include "test-files.h"
#include "util.h"

#define IDLE 600ull
#define MAX 3600ull

/* The sessions' clock starts now: the token they check is real. */
static uint64_t T0;

static const char policy_text[] =
    "users:\n  alice: {groups: [dev]}\n  bob: {groups: [dev]}\n"
    "roles:\n  r:\n    principals: [x]\n    requesters: [group:dev]\n"
    "    approvers: [group:dev]\n    approvals: 1\n    max_duration: 1h\n";

static struct jit_policy *
policy_of(const char *text)
{
	struct jit_policy_error e;
	struct jit_policy *p = NULL;

	REQUIRE_OK(jit_policy_load_mem("t.yaml", text, strlen(text), &p, &e));
	return p;
}

static void
free_secret(char *s)
{
	if (s != NULL) {
		jit_wipe(s, strlen(s));
		free(s);
	}
}

struct count_ctx {
	unsigned sessions, tokens;
};

static int
count_fn(const unsigned char hash[JIT_TOKEN_HASH_LEN], json_t *rec, void *v)
{
	struct count_ctx *c = v;
	const char *kind = json_string_value(json_object_get(rec, "kind"));

	(void)hash;
	if (kind != NULL && strcmp(kind, "session") == 0)
		c->sessions++;
	else
		c->tokens++;
	return 0;
}

static int
count_txn(struct jit_store_txn *t, void *v)
{
	return jit_store_list_tokens(t, count_fn, v);
}

static unsigned
sessions_stored(struct jit_store *s)
{
	struct count_ctx c = { 0, 0 };

	REQUIRE_OK(jit_store_read(s, count_txn, &c));
	return c.sessions;
}

/* Start a session for alice at now (with the token's id tid). */
static char *
start(struct jit_store *s, const char *tid, uint64_t now)
{
	struct jit_session info;
	char *sid = NULL;

	REQUIRE_OK(jit_auth_session_start(s, "alice", tid, now, MAX,
	    "127.0.0.1", &sid, &info));
	CHECK_STR(info.user, "alice");
	CHECK(strncmp(info.id, "s-", 2) == 0 && strlen(info.id) == 14);
	CHECK_U64(info.expires_at, now + MAX);
	CHECK_INT(strlen(sid), JIT_SESSION_STRING_LEN);
	CHECK(strncmp(sid, JIT_SESSION_PREFIX, 4) == 0);
	return sid;
}

static int
check_at(struct jit_store *s, const struct jit_policy *p, const char *sid,
    uint64_t now, int touch, const char **why)
{
	struct jit_session info;

	return jit_auth_session_check(s, p, sid, now, IDLE, touch, &info, why);
}

static void
test_sessions(void)
{
	char *sdir = store_dir_new("auth");
	struct jit_store *s;
	struct jit_policy *p = policy_of(policy_text), *p2;
	struct jit_session info;
	char *tok = NULL, *sid, *sid2, *sid3, hdr[80];
	char tid[JIT_TOKEN_ID_LEN], tid2[JIT_TOKEN_ID_LEN];
	char user[JIT_USER_MAX + 1];
	const char *why = NULL;
	unsigned ended = 0;

	REQUIRE_OK(test_store_open(sdir, JIT_STORE_SERVER, &s));
	REQUIRE_OK(jit_auth_token_create(s, "alice", 0, "test", &tok, tid));

	/* The token signs in; its id is what a session remembers. */
	CHECK_OK(jit_auth_check_token(s, p, tok, jit_now(), user, tid2, &why));
	CHECK_STR(user, "alice");
	CHECK_STR(tid2, tid);

	sid = start(s, tid, T0);
	CHECK_OK(jit_auth_session_check(s, p, sid, T0 + 1, IDLE, 0, &info,
	    &why));
	CHECK_STR(info.user, "alice");
	CHECK_U64(info.expires_at, T0 + MAX);
	CHECK_INT(sessions_stored(s), 1);

	/* A session id is not a bearer token, nor a token a session. */
	snprintf(hdr, sizeof(hdr), "Bearer %s", sid);
	CHECK_INT(jit_auth_check(s, p, hdr, T0, user, &why), JIT_ERR_AUTH);
	CHECK_INT(check_at(s, p, tok, T0, 0, &why), JIT_ERR_AUTH);
	CHECK_STR(why, "malformed session");
	CHECK_INT(check_at(s, p, "jss_short", T0, 0, &why), JIT_ERR_AUTH);
	CHECK_INT(check_at(s, p, NULL, T0, 0, &why), JIT_ERR_AUTH);
	{
		char other[JIT_SESSION_STRING_LEN + 1];

		memcpy(other, sid, sizeof(other));
		other[10] = other[10] == 'A' ? 'B' : 'A';
		CHECK_INT(check_at(s, p, other, T0, 0, &why), JIT_ERR_AUTH);
		CHECK_STR(why, "unknown session");
		other[10] = '%';
		CHECK_INT(check_at(s, p, other, T0, 0, &why), JIT_ERR_AUTH);
		CHECK_STR(why, "malformed session");
	}

	/* Idle: used at T0 + IDLE - 1 with touch, it lives IDLE more. */
	CHECK_OK(check_at(s, p, sid, T0 + IDLE - 1, 1, &why));
	CHECK_OK(check_at(s, p, sid, T0 + 2 * IDLE - 1, 0, &why));
	/* Without touch (a long-poll) it does not: idle from then on. */
	CHECK_INT(check_at(s, p, sid, T0 + 3 * IDLE, 0, &why), JIT_ERR_AUTH);
	CHECK_STR(why, "session expired");
	/* The ended record was dropped at once. */
	CHECK_INT(sessions_stored(s), 0);
	CHECK_INT(check_at(s, p, sid, T0 + 1, 0, &why), JIT_ERR_AUTH);
	CHECK_STR(why, "unknown session");
	free_secret(sid);

	/* Absolute: however busy, it ends MAX after sign-in. */
	sid = start(s, tid, T0);
	CHECK_OK(check_at(s, p, sid, T0 + 500, 1, &why));
	CHECK_OK(check_at(s, p, sid, T0 + 1000, 1, &why));
	CHECK_OK(check_at(s, p, sid, T0 + 1500, 1, &why));
	CHECK_OK(check_at(s, p, sid, T0 + 2000, 1, &why));
	CHECK_OK(check_at(s, p, sid, T0 + 2500, 1, &why));
	CHECK_OK(check_at(s, p, sid, T0 + 3000, 1, &why));
	CHECK_OK(check_at(s, p, sid, T0 + MAX - 1, 1, &why));
	CHECK_INT(check_at(s, p, sid, T0 + MAX, 1, &why), JIT_ERR_AUTH);
	CHECK_STR(why, "session expired");
	free_secret(sid);

	/* Sign-out deletes it; a second sign-out finds nothing. */
	sid = start(s, tid, T0);
	CHECK_OK(jit_auth_session_end(s, sid, "127.0.0.1"));
	CHECK_INT(check_at(s, p, sid, T0 + 1, 0, &why), JIT_ERR_AUTH);
	CHECK_INT(jit_auth_session_end(s, sid, NULL), JIT_ERR_NOT_FOUND);
	CHECK_INT(jit_auth_session_end(s, "jit_nope", NULL), JIT_ERR_AUTH);
	free_secret(sid);

	/* The user leaves the policy: the session no longer works. */
	sid = start(s, tid, T0);
	p2 = policy_of("users:\n  bob: {groups: [dev]}\n"
	    "roles:\n  r:\n    principals: [x]\n    requesters: [group:dev]\n"
	    "    approvers: [group:dev]\n    approvals: 1\n"
	    "    max_duration: 1h\n");
	CHECK_INT(check_at(s, p2, sid, T0 + 1, 0, &why), JIT_ERR_AUTH);
	CHECK_STR(why, "session user not in the policy");
	CHECK_OK(check_at(s, p, sid, T0 + 1, 0, &why));
	jit_policy_free(p2);

	/* Revoking the session (jit-ca token revoke s-...) ends it. */
	CHECK_OK(jit_auth_session_check(s, p, sid, T0 + 1, IDLE, 0, &info,
	    &why));
	CHECK_OK(jit_auth_token_revoke(s, info.id, "test"));
	CHECK_INT(check_at(s, p, sid, T0 + 2, 0, &why), JIT_ERR_AUTH);
	CHECK_STR(why, "session revoked");
	free_secret(sid);

	/* Revoking the token it started with ends it too. */
	sid = start(s, tid, T0);
	sid2 = start(s, NULL, T0);            /* e.g. a future SSO session */
	CHECK_OK(jit_auth_token_revoke(s, tid, "test"));
	CHECK_INT(check_at(s, p, sid, T0 + 1, 0, &why), JIT_ERR_AUTH);
	CHECK_STR(why, "the token the session started with is no longer "
	    "valid");
	CHECK_OK(check_at(s, p, sid2, T0 + 1, 0, &why));

	/* The sweep drops what has ended by time, and only that. */
	sid3 = start(s, NULL, T0 + 5000);
	CHECK_OK(jit_auth_session_sweep(s, T0 + MAX + 10, IDLE, &ended));
	CHECK_INT(ended, 3);   /* sid and sid2 timed out; the revoked one */
	CHECK_INT(sessions_stored(s), 1);
	CHECK_OK(check_at(s, p, sid3, T0 + 5001, 0, &why));
	CHECK_OK(jit_auth_session_sweep(s, T0 + 5001, IDLE, &ended));
	CHECK_INT(ended, 0);
	free_secret(sid);
	free_secret(sid2);
	free_secret(sid3);

	free_secret(tok);
	jit_policy_free(p);
	jit_store_close(s);
	store_dir_remove(sdir);
}

static void
test_csrf(void)
{
	char a[JIT_CSRF_HEX_LEN + 1], b[JIT_CSRF_HEX_LEN + 1];
	const char *s1 = "jss_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
	const char *s2 = "jss_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB";

	jit_auth_session_csrf(s1, a);
	jit_auth_session_csrf(s2, b);
	CHECK_INT(strlen(a), JIT_CSRF_HEX_LEN);
	CHECK(strspn(a, "0123456789abcdef") == JIT_CSRF_HEX_LEN);
	CHECK(strcmp(a, b) != 0);
	CHECK(strstr(a, "AAAA") == NULL);
	CHECK_INT(jit_auth_csrf_ok(s1, a), 1);
	CHECK_INT(jit_auth_csrf_ok(s2, a), 0);
	CHECK_INT(jit_auth_csrf_ok(s1, NULL), 0);
	CHECK_INT(jit_auth_csrf_ok(NULL, a), 0);
	CHECK_INT(jit_auth_csrf_ok(s1, ""), 0);
	a[JIT_CSRF_HEX_LEN - 1] = '\0';
	CHECK_INT(jit_auth_csrf_ok(s1, a), 0);
}

int
main(void)
{
	T0 = jit_now();
	test_sessions();
	test_csrf();
	TEST_DONE();
}
