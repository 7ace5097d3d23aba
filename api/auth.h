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

/* A new random token string (secret). */
int jit_auth_token_generate(char **token);

/* The public id of a token hash. */
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

/* Revoke by public id (audit "token.revoke").  NOT_FOUND if unknown;
 * revoking twice is not an error (the first revocation time is kept,
 * and no second audit entry is written). */
int jit_auth_token_revoke(struct jit_store *s, const char *id,
    const char *actor);

/* As jit_auth_check() for the token string itself (no "Bearer ");
 * token_id (may be NULL) receives its public id. */
int jit_auth_check_token(struct jit_store *s, const struct jit_policy *p,
    const char *token, uint64_t now, char user[JIT_USER_MAX + 1],
    char token_id[JIT_TOKEN_ID_LEN], const char **why);

/*
 * Authenticate an Authorization header value ("Bearer TOKEN", scheme
 * case-insensitive).  On success user (JIT_USER_MAX + 1 bytes) is the
 * token's user, who exists in p.  Errors: AUTH (missing, malformed,
 * unknown, expired, revoked, user not in the policy), store errors
 * (STORE_*: the API answers 500/503, not 401).  why (may be NULL)
 * receives a short reason for the server log, never the token.
 */
int jit_auth_check(struct jit_store *s, const struct jit_policy *p,
    const char *authorization, uint64_t now, char user[JIT_USER_MAX + 1],
    const char **why);

/*
 * ---- web sessions -------------------------------------------------------
 *
 * A browser signs in once with an API token (jit_auth_check_token) and
 * then holds a session id in an HttpOnly cookie; the token itself is not
 * kept by the browser.  A session id is "jss_" + 43 base64url characters
 * (256 random bits), a secret like a token, and is stored the same way:
 * only its SHA-256, in the token table, with the record
 *   {"id": "s-XXXXXXXXXXXX", "kind": "session", "user": "bob",
 *    "created_at": T, "expires_at": T (absolute end), "seen_at": T,
 *    "token_id": "t-..." (the token signed in with), "client_address"}
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
