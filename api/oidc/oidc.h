/*
 * oidc.h - single sign-on through an OpenID Connect provider.
 *
 * The server trusts one provider (its issuer URL).  It learns the
 * provider's endpoints from ISSUER/.well-known/openid-configuration and
 * its signing keys from the key set at jwks_uri, both fetched when first
 * needed and kept: the key set is fetched again after an hour, and at
 * once (at most every refetch_ms) when a token names a key it does not
 * hold, so a key rotation at the provider needs no restart.  The issuer,
 * and every endpoint it announces, must be https; http is allowed on
 * loopback addresses only (tests).
 *
 * An ID token is accepted only when everything OpenID Connect Core
 * (3.1.3.7) asks holds: a JWS signed with RS256, ES256 or EdDSA (never
 * "none", never an algorithm the key is not for) by a key of the
 * provider's set; "iss" the issuer exactly; "aud" naming one of this
 * server's client ids (and "azp", when present or when there are several
 * audiences, one of them); not expired and not issued or valid only in
 * the future, give or take the clock skew; a subject; for the web flow
 * the nonce this sign-in sent.  A token (and a nonce) is accepted once:
 * the module remembers what it accepted until the token expires.
 *
 * Two ways in:
 *   - jit-ssh uses the device authorization grant (RFC 8628) with the
 *     provider itself as the public client cli_client_id and hands the ID
 *     token to POST /v1/sessions: jit_oidc_verify(..., JIT_OIDC_DEVICE).
 *   - the web page uses the authorization code flow with PKCE, state and
 *     nonce as the confidential client client_id: jit_oidc_login_start()
 *     and jit_oidc_login_finish().
 *
 * The identity an accepted token gives: the user name from the
 * username claim (preferred_username, or email, which must then be
 * verified: "email_verified": true), the groups from the groups claim
 * (names that are not valid policy group names are left out), and the
 * authentication methods ("amr", RFC 8176) the provider reports.
 *
 * Threads: a struct jit_oidc may be used from any number of threads.
 * Errors: 0 or a negative JIT_ERR_*; refusals are AUTH with a one-line
 * why for people (never the token); HTTP when the provider could not be
 * reached or answered nonsense (why says so).
 */
#ifndef JIT_OIDC_H
#define JIT_OIDC_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "policy.h"

#define JIT_OIDC_REFETCH_MS 5000      /* unknown-kid refetches at most */
#define JIT_OIDC_KEYS_MAX_AGE 3600    /* seconds a key set is kept */
#define JIT_OIDC_LOGIN_TTL 600        /* seconds a web sign-in may take */
#define JIT_OIDC_MAX_GROUPS 64
#define JIT_OIDC_MAX_AMR 16
#define JIT_OIDC_DEFAULT_USERNAME_CLAIM "preferred_username"
#define JIT_OIDC_DEFAULT_SCOPES "openid profile email"

struct jit_oidc_options {
	const char *issuer;          /* required; copied */
	const char *client_id;       /* required: the web page's client */
	const char *cli_client_id;   /* jit-ssh's client; NULL = client_id */
	const char *client_secret;   /* client_id's secret (web flow); NULL
	                                = no web flow; copied and wiped */
	const char *username_claim;  /* "preferred_username" (NULL) or
	                                "email" */
	const char *groups_claim;    /* NULL = no groups from the provider */
	const char *scopes;          /* asked for; NULL = the default, plus
	                                " groups" with a groups claim */
	const char *ca_file;         /* the provider's TLS roots; NULL =
	                                the system's */
	uint64_t clock_skew;         /* seconds */
	uint64_t refetch_ms;         /* 0 = JIT_OIDC_REFETCH_MS */
};

struct jit_oidc;

/* 0 if issuer may name a provider: https, or http on a loopback
 * address; INVALID_ARGUMENT with why otherwise. */
int jit_oidc_issuer_ok(const char *issuer, char *why, size_t whylen);

/* Check o and make the module (nothing is fetched yet).  Errors:
 * INVALID_ARGUMENT with err saying which option is wrong, ALLOC. */
int jit_oidc_new(const struct jit_oidc_options *o, struct jit_oidc **out,
    char *err, size_t errlen);
/* NULL is a no-op. */
void jit_oidc_free(struct jit_oidc *o);

/* Who an accepted ID token names.  Owns its arrays: release with
 * jit_oidc_identity_release (a zeroed struct is fine to release). */
struct jit_oidc_identity {
	char user[JIT_NAME_MAX + 1];
	char subject[256];
	char **groups;               /* sorted, distinct */
	size_t ngroups;
	char **amr;
	size_t namr;
	uint64_t expires_at;         /* the ID token's "exp" */
};
void jit_oidc_identity_release(struct jit_oidc_identity *id);

enum jit_oidc_flow {
	JIT_OIDC_DEVICE,             /* jit-ssh: audience cli_client_id */
	JIT_OIDC_WEB,                /* the code flow: client_id + nonce */
};

/*
 * Verify ID token id_token for flow at time now (nonce: the one the web
 * flow sent; NULL for the device flow) and fill *out.  Refusals (AUTH,
 * why says which rule): a malformed token, an algorithm not accepted, an
 * unknown key, a bad signature, another issuer or audience, expired or
 * not yet valid, a missing or wrong nonce, a token or nonce already
 * accepted, a username claim that is missing or not a valid user name,
 * an unverified email.  HTTP when the keys could not be fetched.
 */
int jit_oidc_verify(struct jit_oidc *o, const char *id_token,
    enum jit_oidc_flow flow, const char *nonce, uint64_t now,
    struct jit_oidc_identity *out, char *why, size_t whylen);

/* What jit-ssh needs to start the device flow, and whether the web page
 * may sign in: a new object {"sso": true, "web": bool, "issuer",
 * "client_id" (the CLI's), "scopes"}; NULL on ALLOC. */
json_t *jit_oidc_client_info(const struct jit_oidc *o);

/* 1 if the web flow is configured (a client secret was given). */
int jit_oidc_web_enabled(const struct jit_oidc *o);

/*
 * Start a web sign-in that comes back to redirect_uri: a fresh state,
 * nonce and PKCE verifier (S256), remembered for JIT_OIDC_LOGIN_TTL
 * seconds.  *url is the provider's authorization URL to send the browser
 * to and *state the state (also in the URL; the caller binds it to the
 * browser in a cookie).  Both are new strings.  Errors: HTTP (discovery
 * failed), CONFLICT (too many sign-ins under way), ALLOC, CRYPTO.
 */
int jit_oidc_login_start(struct jit_oidc *o, const char *redirect_uri,
    uint64_t now, char **url, char **state, char *why, size_t whylen);

/*
 * Finish the sign-in of state (forgotten here: a second use is refused)
 * with the authorization code of the provider's redirect: the code is
 * exchanged at the token endpoint with the client secret and the PKCE
 * verifier, and the ID token is verified with the sign-in's nonce.
 * Errors: AUTH (unknown, used or expired state, the provider refused the
 * code, the ID token refused; why says which), HTTP, ALLOC.
 */
int jit_oidc_login_finish(struct jit_oidc *o, const char *state,
    const char *code, uint64_t now, struct jit_oidc_identity *out,
    char *why, size_t whylen);

#endif
