/*
 * oidc_int.h - what the files of the OpenID Connect module share
 * (oidc.h is the module's interface; the unit tests use this one too):
 *
 *   jwk.c    a JSON Web Key (RFC 7517) as an OpenSSL public key
 *   jwt.c    a signed JWT (RFC 7515 compact form): parse, find its key
 *            in a key set, check the signature and the ID token claims
 *   fetch.c  the only file that includes curl/curl.h: GET and POST to
 *            the provider with bounded size and time
 *   oidc.c   the provider: discovery, the key cache, ID token checks,
 *            the replay memory
 *   flow.c   the web page's authorization code flow (state, nonce, PKCE)
 *
 * Every function that refuses something writes one line for people into
 * why (why may be NULL; it is "" on success).
 */
#ifndef JIT_OIDC_INT_H
#define JIT_OIDC_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "oidc.h"

/* Longest compact JWT accepted, and the largest header or claims set. */
#define JIT_JWT_MAX 16384
/* Largest document (discovery, key set, token response) fetched. */
#define JIT_OIDC_FETCH_MAX (1024 * 1024)
/* Smallest RSA modulus accepted, in bits. */
#define JIT_JWK_RSA_MIN_BITS 2048

/* How fetch.c reaches the provider. */
struct jit_fetch {
	const char *ca_file;       /* TLS roots; NULL = the system's */
	long timeout_s;            /* whole transfer; 0 = 10 */
};

/* ---- oidc.c: the module ------------------------------------------------ */

/* An accepted token or nonce, remembered until it expires. */
struct oidc_seen {
	unsigned char key[32];       /* SHA-256 of a label and the value */
	uint64_t until;              /* wall clock seconds */
};

/* A web sign-in under way (flow.c). */
struct oidc_login {
	char state[44];              /* base64url of 32 random bytes */
	char nonce[44];
	char verifier[44];           /* PKCE code_verifier */
	char *redirect_uri;
	uint64_t until;
};

#define OIDC_SEEN_MAX 65536
#define OIDC_LOGINS_MAX 1024

struct jit_oidc {
	char *issuer, *client_id, *cli_client_id, *client_secret;
	char *username_claim, *groups_claim, *scopes, *ca_file;
	uint64_t skew, refetch_ms;
	struct jit_fetch fetch;
	pthread_mutex_t lock;        /* everything below but fetch_lock */
	json_t *config;              /* the discovery document, or NULL */
	uint64_t config_at;          /* when it was fetched (wall clock) */
	json_t *jwks;                /* the key set, or NULL */
	uint64_t jwks_at;
	uint64_t fetched_ms;         /* last key fetch attempt (monotonic) */
	struct oidc_seen *seen;
	size_t nseen;
	struct oidc_login *logins;
	size_t nlogins;
	pthread_mutex_t fetch_lock;  /* one fetch at a time */
};

/* A new copy of the discovery document's endpoint name (a URL that
 * jit_fetch_url_ok accepts), fetching the document when needed.
 * Errors: HTTP (why), NOT_FOUND (the provider announces none), ALLOC. */
int oidc_endpoint(struct jit_oidc *o, const char *name, char **out,
    char *why, size_t whylen);

/* Remember key (a token or nonce already hashed) until until; CONFLICT
 * if it is remembered already, NO_BUFFER_SPACE when full.  Call with
 * o->lock held. */
int oidc_seen_add(struct jit_oidc *o, const unsigned char key[32],
    uint64_t until, uint64_t now);

/* 32 random bytes as unpadded base64url (43 characters) in out.
 * CRYPTO. */
int oidc_random(char out[44]);

/* ---- jwk.c ------------------------------------------------------------ */

/* The JWS algorithms accepted: the JOSE name of each, and the key each
 * needs. */
enum jit_jws_alg {
	JIT_JWS_NONE_ACCEPTED = 0,
	JIT_JWS_RS256,             /* RSA (>= 2048 bits), PKCS #1 v1.5 */
	JIT_JWS_ES256,             /* EC P-256, r || s */
	JIT_JWS_EDDSA,             /* OKP Ed25519 */
};

/* The accepted algorithm named alg ("RS256", "ES256", "EdDSA"); 0 for
 * anything else, "none" included. */
enum jit_jws_alg jit_jws_alg_parse(const char *alg);

/* 1 if key object jwk is of the type alg needs (kty, and crv for EC and
 * OKP keys), 0 if not. */
int jit_jwk_fits(const json_t *jwk, enum jit_jws_alg alg);

/*
 * The public key of jwk for alg: RSA from n and e (at least
 * JIT_JWK_RSA_MIN_BITS), EC P-256 from x and y (a point on the curve),
 * Ed25519 from x.  Members are unpadded base64url as RFC 7518 says; a
 * private member ("d") is refused, so a key set that leaks private keys
 * is not used.  *out is a new key (EVP_PKEY_free).  Errors: AUTH (why
 * says what is wrong with the key), ALLOC, CRYPTO.
 */
int jit_jwk_public_key(const json_t *jwk, enum jit_jws_alg alg,
    EVP_PKEY **out, char *why, size_t whylen);

/* Decode unpadded base64url text of len bytes into a new buffer of
 * *outlen bytes (NUL-terminated beyond that; free it).  Padding,
 * whitespace and non-canonical trailing bits are refused.  Errors:
 * INVALID_FORMAT, ALLOC. */
int jit_b64url_decode(const char *in, size_t len, unsigned char **out,
    size_t *outlen);

/* ---- jwt.c ------------------------------------------------------------ */

/* A compact JWS, parsed but not yet trusted. */
struct jit_jwt {
	json_t *header;            /* the protected header (an object) */
	json_t *claims;            /* the payload (an object) */
	enum jit_jws_alg alg;
	const char *kid;           /* in header; NULL = none */
	char *signing_input;       /* "HEADER.PAYLOAD" as received */
	size_t signing_len;
	unsigned char *sig;
	size_t siglen;
};

/*
 * Parse compact serialisation text: three base64url parts, a header and
 * payload that are JSON objects without duplicate members, an accepted
 * "alg" (never "none"), no "crit" header, at most JIT_JWT_MAX bytes.
 * Release t with jit_jwt_release (also after a failure).  Errors: AUTH
 * (why: what is malformed), ALLOC.
 */
int jit_jwt_parse(const char *text, struct jit_jwt *t, char *why,
    size_t whylen);
void jit_jwt_release(struct jit_jwt *t);

/*
 * Check t's signature with the key of key set jwks ({"keys": [...]})
 * that it names: the key with its kid, or, when the header has no kid,
 * the only key of the type its alg needs.  A key whose "use" is not
 * "sig", whose "alg" differs from the header's, or whose type does not
 * fit the header's alg is never used.  Errors: NOT_FOUND (no key with
 * that kid, or none of the type: the key set may be out of date), AUTH
 * (a bad signature, a key of the wrong type, an unusable key), ALLOC,
 * CRYPTO.
 */
int jit_jwt_verify(const struct jit_jwt *t, const json_t *jwks, char *why,
    size_t whylen);

/* What the claims of an ID token must say (OpenID Connect Core 3.1.3.7). */
struct jit_jwt_expect {
	const char *issuer;                /* "iss", exactly */
	const char *const *audiences;      /* one of them in "aud"; "azp" (when
	                                      present, and required with
	                                      several audiences) one of them */
	size_t naudiences;
	const char *nonce;                 /* NULL = not checked */
	uint64_t now;
	uint64_t skew;                     /* seconds allowed either way */
};

/* Check t's claims: iss, aud and azp, exp (required; refused from exp +
 * skew on), iat (required; not after now + skew), nbf (when present; not
 * after now + skew), a non-empty sub, and the nonce when one is
 * expected.  Errors: AUTH with why. */
int jit_jwt_check_claims(const struct jit_jwt *t,
    const struct jit_jwt_expect *e, char *why, size_t whylen);

/* A numeric date member of claims (RFC 7519 NumericDate: a number of
 * seconds, fractions dropped) in *out: 0, or NOT_FOUND when absent, or
 * INVALID_FORMAT when not a non-negative number below 2^53. */
int jit_jwt_time(const json_t *claims, const char *name, uint64_t *out);

/* ---- fetch.c ---------------------------------------------------------- */

/*
 * 0 if url may be used to reach the provider: https, or http when its
 * host is a loopback address (127.0.0.0/8, ::1, localhost), with no user
 * name or password in it, no fragment, at most 2048 bytes.  Errors:
 * INVALID_ARGUMENT with why.
 */
int jit_fetch_url_ok(const char *url, char *why, size_t whylen);
/* 1 if url is http on a loopback host, 0 otherwise. */
int jit_fetch_url_loopback(const char *url);

/*
 * GET url (form NULL) or POST the application/x-www-form-urlencoded
 * form (with HTTP Basic authentication as user:pass when user is not
 * NULL).  Only http and https, no redirects, at most
 * JIT_OIDC_FETCH_MAX bytes; the answer must be JSON (an object) unless
 * it is an error status.  On 0 *status is the HTTP status and *json the
 * parsed body (NULL when it is not a JSON object).  Errors: HTTP (why:
 * connection, TLS, timeout, too large), ALLOC.
 */
int jit_fetch_json(const struct jit_fetch *f, const char *url,
    const char *form, const char *user, const char *pass, long *status,
    json_t **json, char *why, size_t whylen);

#endif
