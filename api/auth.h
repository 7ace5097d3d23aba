/*
 * auth.h - API bearer tokens and the web page's sessions.
 *
 * A token is "jit_" followed by the unpadded base64url encoding of 32
 * random bytes (47 characters).  It is shown once, when created; the
 * store keeps only its SHA-256 (jit_store_token_hash) and a record
 *   {"id": "t-XXXXXXXXXXXX", "user": "alice", "created_at": RFC3339,
 *    "expires_at": RFC3339, "created_by": "cli:root", "revoked_at": ...}
 * The id is "t-" plus the first 12 hex digits of the hash: a public
 * handle for listing and revoking that reveals nothing usable about the
 * token.
 *
 * Authentication looks the token up by its hash, so the lookup time
 * depends only on the hash, never on how much of a guessed token is
 * right; the stored hash is then compared with CRYPTO_memcmp.  Unknown,
 * expired and revoked tokens, and tokens of users who are no longer in
 * the policy, all fail with JIT_ERR_AUTH (the API answers 401).
 *
 * Creating and revoking a token are store writes that also append an
 * audit entry ("token.create", "token.revoke"; never the token itself).
 *
 * Strings returned through char ** are new allocations; a token string
 * is a secret: wipe it (jit_wipe) before free.
 *
 * A record's "kind" says where it came from: "token" (or no kind, for
 * records made before kinds existed) for `jit-ca token create`, "sso"
 * for a session token made by single sign-on (jit_auth_sso_create
 * below), "session" for the web page's sessions.  API tokens and sso
 * session tokens are bearer tokens of the same form.  When the policy
 * says tokens: automation_only, an API token of a user token_users does
 * not name fails like an unknown one.
 */
#ifndef JIT_AUTH_H
#define JIT_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "policy.h"
#include "store.h"

#define JIT_TOKEN_PREFIX "jit_"
#define JIT_TOKEN_RANDOM_LEN 32
#define JIT_TOKEN_STRING_LEN 47        /* "jit_" + 43, without NUL */
#define JIT_TOKEN_ID_LEN 15            /* "t-" + 12 hex + NUL */
#define JIT_TOKEN_DEFAULT_TTL (90ull * 86400)
#define JIT_TOKEN_MAX_TTL (3660ull * 86400)
#define JIT_USER_MAX JIT_NAME_MAX      /* longest user name (policy.h) */

/*
 * Kinds of secret.  API tokens, single sign-on session tokens, web
 * session ids (below) and host enrollment tokens (hosts.h) are made and
 * kept alike: the secret is a prefix followed by the unpadded base64url
 * of JIT_TOKEN_RANDOM_LEN random bytes (43 characters), the store keeps
 * only its SHA-256 (jit_store_token_hash), and its public id is an id
 * prefix followed by the first 12 hex digits of that hash.  A kind says
 * which prefixes, and where the record is kept.
 */
struct jit_secret_kind {
	const char *prefix;        /* "jit_", "jss_", "jith_" */
	const char *id_prefix;     /* "t-", "s-", "ht-" (at most 3) */
	const char *audit_id;      /* the audit entry's member for the id */
	const char *value_prefix;  /* NULL: the token table, by hash; else
	                              a store value (jit_secret_value_key) */
};
#define JIT_SECRET_ID_MAX 16           /* the longest public id + NUL */
#define JIT_SECRET_KEY_MAX 96          /* the longest value key + NUL */

/* API tokens and single sign-on session tokens. */
extern const struct jit_secret_kind jit_secret_api;

/* The SHA-256 of secret s of kind k: 0, or INVALID_ARGUMENT when s is
 * not one (length, prefix, characters). */
int jit_secret_hash(const struct jit_secret_kind *k, const char *s,
    unsigned char hash[JIT_TOKEN_HASH_LEN]);
/* The public id of a hash of kind k into id (size bytes, at least
 * strlen(id_prefix) + 13). */
void jit_secret_id(const struct jit_secret_kind *k,
    const unsigned char hash[JIT_TOKEN_HASH_LEN], char *id, size_t size);
/* For a kind kept as store values: the key of a hash, value_prefix + its
 * 64 hex digits, into key (size bytes, JIT_SECRET_KEY_MAX is enough). */
void jit_secret_value_key(const struct jit_secret_kind *k,
    const unsigned char hash[JIT_TOKEN_HASH_LEN], char *key, size_t size);

/* The public id of an API token hash. */
void jit_auth_token_id(const unsigned char hash[JIT_TOKEN_HASH_LEN],
    char id[JIT_TOKEN_ID_LEN]);

/* Create a token for user, valid for ttl seconds (0 = default 90 days;
 * at most JIT_TOKEN_MAX_TTL), and store it with its audit entry in one
 * write.  actor names who did it ("cli:root", "system").  On success
 * *token is the token string (shown once; caller wipes and frees) and id
 * (may be NULL) its public id.  The caller checks that user exists in
 * the policy.  Errors: INVALID_ARGUMENT, store errors. */
int jit_auth_token_create(struct jit_store *s, const char *user,
    uint64_t ttl, const char *actor, char **token,
    char id[JIT_TOKEN_ID_LEN]);

/* The one issuer of secrets: make a new secret of kind k and store its
 * record rec (an object; its "id" is set here) with the audit entry
 * audit (its k->audit_id is set here) in one write, never replacing a
 * record (CONFLICT).  rec and audit are borrowed.  On success *token is
 * the secret (shown once; caller wipes and frees) and id (may be NULL;
 * idlen bytes, at least strlen(k->id_prefix) + 13) its public id.
 * Errors: INVALID_ARGUMENT (id too small), ALLOC, CRYPTO, store
 * errors. */
int jit_auth_issue(struct jit_store *s, const struct jit_secret_kind *k,
    json_t *rec, json_t *audit, char **token, char *id, size_t idlen);

/* Revoke by public id (audit "token.revoke").  NOT_FOUND if unknown;
 * revoking twice is not an error (the first revocation time is kept,
 * and no second audit entry is written). */
int jit_auth_token_revoke(struct jit_store *s, const char *id,
    const char *actor);

/* As jit_auth_check() for the token string itself (no "Bearer ") of
 * an API token (a session token from single sign-on is refused: the web
 * page signs in with those through the provider); token_id (may be
 * NULL) receives its public id. */
int jit_auth_check_token(struct jit_store *s, const struct jit_policy *p,
    const char *token, uint64_t now, char user[JIT_USER_MAX + 1],
    char token_id[JIT_TOKEN_ID_LEN], const char **why);

/*
 * Authenticate an Authorization header value ("Bearer TOKEN", scheme
 * case-insensitive).  On success user (JIT_USER_MAX + 1 bytes) is the
 * token's user, who exists in p.  An API token or a session token from
 * single sign-on.  Errors: AUTH (missing, malformed, unknown, expired,
 * revoked, user not in the policy, an API token tokens: automation_only
 * refuses), store errors
 * (STORE_*: the API answers 500/503, not 401).  why (may be NULL)
 * receives a short reason for the server log, never the token.
 */
int jit_auth_check(struct jit_store *s, const struct jit_policy *p,
    const char *authorization, uint64_t now, char user[JIT_USER_MAX + 1],
    const char **why);

/* What an accepted bearer token says about its holder.  Owns its arrays:
 * release with jit_auth_info_release (a zeroed struct may be released). */
struct jit_auth_info {
	char user[JIT_USER_MAX + 1];
	char id[JIT_TOKEN_ID_LEN];
	int sso;                     /* 1 for a single sign-on session */
	char **amr;                  /* the sign-in's methods ("amr") */
	size_t namr;
	char **groups;               /* groups from the identity provider */
	size_t ngroups;
	uint64_t expires_at;
};
void jit_auth_info_release(struct jit_auth_info *info);

/* As jit_auth_check, and fill *info (zeroed on entry and on failure;
 * release it after success). */
int jit_auth_check_info(struct jit_store *s, const struct jit_policy *p,
    const char *authorization, uint64_t now, struct jit_auth_info *info,
    const char **why);


/*
 * ---- single sign-on sessions (auth_sso.c) -------------------------------
 *
 * POST /v1/sessions trades an ID token the identity provider signed for
 * a session token: a bearer token like an API token, stored the same
 * way (only its SHA-256), with the record
 *   {"id": "t-...", "kind": "sso", "user": "alice", "created_at": T,
 *    "expires_at": T, "created_by": "oidc", "via": "oidc",
 *    "subject": "SUB", "amr": ["pwd", "otp"], "groups": ["sre"],
 *    "client_address": A}
 * so `jit-ca token list` shows it and `jit-ca token revoke` ends it.
 * Creating one appends the audit entry "session.create".  Session
 * records that expired more than JIT_SSO_KEEP seconds ago are deleted by
 * jit_auth_sso_sweep.
 */
#define JIT_TOKEN_KIND_API "token"
#define JIT_TOKEN_KIND_SSO "sso"
#define JIT_SSO_KEEP (7ull * 86400)

/* Who signed in, as the provider said (borrowed strings). */
struct jit_sso_login {
	const char *user;            /* exists in the policy (caller checks) */
	const char *subject;         /* the provider's "sub" */
	const char *const *amr;
	size_t namr;
	const char *const *groups;
	size_t ngroups;
	const char *client_addr;     /* may be NULL */
};

/* Add what the sign-in l said to a record rec and its audit entry:
 * "via": "oidc", "subject", "amr" and "groups".  0 or ALLOC. */
int jit_auth_sso_members(json_t *rec, json_t *audit,
    const struct jit_sso_login *l);

/* Create a session token for l valid from now for ttl seconds (at most
 * JIT_TOKEN_MAX_TTL): *token (secret; caller wipes and frees), id (may be
 * NULL) its public id.  Errors: INVALID_ARGUMENT, ALLOC, CRYPTO, store
 * errors. */
int jit_auth_sso_create(struct jit_store *s, const struct jit_sso_login *l,
    uint64_t now, uint64_t ttl, char **token, char id[JIT_TOKEN_ID_LEN]);

/* Delete session records that expired before now - JIT_SSO_KEEP, at
 * most a few hundred per call; *deleted (may be NULL) counts them. */
int jit_auth_sso_sweep(struct jit_store *s, uint64_t now, unsigned *deleted);

/*
 * ---- web sessions -------------------------------------------------------
 *
 * A browser signs in once with an API token (jit_auth_check_token), or
 * through the identity provider (jit_auth_session_start_sso), and then
 * holds a session id in an HttpOnly cookie; the token itself is not kept
 * by the browser.  A session id is "jss_" + 43 base64url characters
 * (256 random bits), a secret like a token, and is stored the same way:
 * only its SHA-256, in the token table, with the record
 *   {"id": "s-XXXXXXXXXXXX", "kind": "session", "user": "bob",
 *    "created_at": T, "expires_at": T (absolute end), "seen_at": T,
 *    "token_id": "t-..." (the token signed in with), "client_address"}
 * and, for a sign-in through the identity provider, "via": "oidc",
 * "subject", "amr" and "groups" instead of "token_id".
 * so `jit-ca token list` shows live sessions and `jit-ca token revoke
 * s-...` ends one.  A session ends when it is idle longer than the idle
 * timeout (seen_at is refreshed by requests made with touch set, at most
 * once per JIT_SESSION_TOUCH_MAX seconds), at its absolute expiry, at
 * sign-out (the record is deleted), when revoked, when the token it was
 * started with is revoked or expires, or when its user leaves the policy.
 * A session id is never accepted as a bearer token, nor a token as a
 * session.  Starting and ending a session append "session.start" and
 * "session.end" audit entries (never the id itself, only "s-...").
 *
 * The CSRF token of a session is derived from its id
 * (JIT_CSRF_HEX_LEN hex digits of SHA-256 over a fixed label and the id):
 * nothing more is stored, it does not reveal the id, and a page can only
 * learn it from a same-origin answer.
 */
#define JIT_SESSION_PREFIX "jss_"
#define JIT_SESSION_STRING_LEN 47      /* "jss_" + 43, without NUL */
#define JIT_SESSION_TOUCH_MAX 60       /* seconds between seen_at writes */
#define JIT_CSRF_HEX_LEN 64

struct jit_session {
	char user[JIT_USER_MAX + 1];
	char id[JIT_TOKEN_ID_LEN];     /* "s-" + 12 hex */
	uint64_t expires_at;           /* absolute end */
};

/*
 * Start a session for user (who just proved a token, token_id; may be
 * NULL) lasting at most max seconds from now.  *sid receives the session
 * id (secret: caller wipes and frees); info (may be NULL) its public
 * facts.  client_addr (may be NULL) goes to the audit entry.  Errors:
 * INVALID_ARGUMENT, CRYPTO, store errors.
 */
int jit_auth_session_start(struct jit_store *s, const char *user,
    const char *token_id, uint64_t now, uint64_t max,
    const char *client_addr, char **sid, struct jit_session *info);
/* The same for a sign-in through the identity provider: l's user,
 * subject, amr, groups and client address are kept with the session. */
int jit_auth_session_start_sso(struct jit_store *s,
    const struct jit_sso_login *l, uint64_t now, uint64_t max, char **sid,
    struct jit_session *info);

/*
 * Check session id sid at now for a policy p and an idle timeout (seconds;
 * 0 = none).  With touch, refresh its seen_at (a write, at most once per
 * min(idle / 8, JIT_SESSION_TOUCH_MAX) seconds).  On success info is
 * filled in.  Errors: AUTH (malformed, unknown, ended for any reason in
 * the list above; an expired record is deleted), store errors.  why (may
 * be NULL) receives a short reason, never the id.
 */
int jit_auth_session_check(struct jit_store *s, const struct jit_policy *p,
    const char *sid, uint64_t now, uint64_t idle, int touch,
    struct jit_session *info, const char **why);
/* The same, and *sso (zeroed first; release it) receives the sign-in's
 * amr and provider groups (sso set) when the session came through the
 * identity provider. */
int jit_auth_session_check_sso(struct jit_store *s,
    const struct jit_policy *p, const char *sid, uint64_t now,
    uint64_t idle, int touch, struct jit_session *info,
    struct jit_auth_info *sso, const char **why);

/* Sign-out: delete session sid with an audit entry "session.end".
 * NOT_FOUND if there is no such session; AUTH if sid is malformed. */
int jit_auth_session_end(struct jit_store *s, const char *sid,
    const char *client_addr);

/* Delete the sessions that have ended by time at now (idle, absolute
 * expiry), at most a few hundred per call; *ended (may be NULL) counts
 * them.  Store errors. */
int jit_auth_session_sweep(struct jit_store *s, uint64_t now, uint64_t idle,
    unsigned *ended);

/* The CSRF token of session sid (hex, NUL-terminated). */
void jit_auth_session_csrf(const char *sid, char out[JIT_CSRF_HEX_LEN + 1]);

/* 1 if given is the CSRF token of sid (constant-time comparison), 0 if
 * not or if either is NULL. */
int jit_auth_csrf_ok(const char *sid, const char *given);

#endif
