/*
 * auth.h - API bearer tokens.
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

#endif
