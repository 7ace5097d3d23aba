/* jwt.c - signed JWTs and ID token claims (oidc_int.h). */
#include "oidc_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/ecdsa.h>

#include "err.h"
#include "util.h"

/* Largest NumericDate taken (2^53: every integer below is exact). */
#define JWT_TIME_MAX 9007199254740992.0

void
jit_jwt_release(struct jit_jwt *t)
{
	if (t == NULL)
		return;
	json_decref(t->header);
	json_decref(t->claims);
	free(t->signing_input);
	free(t->sig);
	memset(t, 0, sizeof(*t));
}

/* Part [p, p + len) of a compact JWS as a JSON object. */
static int
decode_object(const char *p, size_t len, const char *what, json_t **out,
    char *why, size_t whylen)
{
	unsigned char *raw = NULL;
	size_t rawlen = 0;
	json_error_t e;
	int r;

	*out = NULL;
	if ((r = jit_b64url_decode(p, len, &raw, &rawlen)) == JIT_ERR_ALLOC)
		return r;
	if (r != 0) {
		jit_seterr(why, whylen, "the token's %s is not "
		    "base64url", what);
		return JIT_ERR_AUTH;
	}
	/* Two members of one name could be read differently by the
	 * provider and by us: refuse them. */
	*out = json_loadb((const char *)raw, rawlen, JSON_REJECT_DUPLICATES,
	    &e);
	free(raw);
	if (!json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		jit_seterr(why, whylen, "the token's %s is not a JSON object",
		    what);
		return JIT_ERR_AUTH;
	}
	return 0;
}

int
jit_jwt_parse(const char *text, struct jit_jwt *t, char *why, size_t whylen)
{
	const char *dot1, *dot2, *alg;
	size_t len;
	int r = JIT_ERR_INTERNAL;

	memset(t, 0, sizeof(*t));
	jit_seterr(why, whylen, "%s", "");
	if (text == NULL || (len = strlen(text)) == 0 || len > JIT_JWT_MAX) {
		jit_seterr(why, whylen, "the ID token is empty or longer than "
		    "%d bytes", JIT_JWT_MAX);
		return JIT_ERR_AUTH;
	}
	if ((dot1 = strchr(text, '.')) == NULL ||
	    (dot2 = strchr(dot1 + 1, '.')) == NULL ||
	    strchr(dot2 + 1, '.') != NULL) {
		jit_seterr(why, whylen, "the ID token is not a signed JWT "
		    "(three "
		    "parts separated by dots)");
		return JIT_ERR_AUTH;
	}
	if ((r = decode_object(text, (size_t)(dot1 - text), "header",
	    &t->header, why, whylen)) != 0 ||
	    (r = decode_object(dot1 + 1, (size_t)(dot2 - dot1 - 1), "payload",
	    &t->claims, why, whylen)) != 0)
		return r;
	alg = json_string_value(json_object_get(t->header, "alg"));
	if ((t->alg = jit_jws_alg_parse(alg)) == JIT_JWS_NONE_ACCEPTED) {
		jit_seterr(why, whylen, "the token's algorithm \"%.32s\" is "
		    "not "
		    "accepted (RS256, ES256 or EdDSA)", alg != NULL ? alg :
		    "(none)");
		return JIT_ERR_AUTH;
	}
	if (json_object_get(t->header, "crit") != NULL) {
		jit_seterr(why, whylen, "the token has critical header "
		    "extensions (\"crit\"), which are not supported");
		return JIT_ERR_AUTH;
	}
	if (json_object_get(t->header, "kid") != NULL &&
	    (t->kid = json_string_value(json_object_get(t->header,
	    "kid"))) == NULL) {
		jit_seterr(why, whylen, "the token's \"kid\" is not a string");
		return JIT_ERR_AUTH;
	}
	if ((r = jit_b64url_decode(dot2 + 1, strlen(dot2 + 1), &t->sig,
	    &t->siglen)) == JIT_ERR_ALLOC)
		return r;
	if (r != 0 || t->siglen == 0) {
		jit_seterr(why, whylen, "the token's signature is missing or "
		    "not "
		    "base64url");
		return JIT_ERR_AUTH;
	}
	t->signing_len = (size_t)(dot2 - text);
	if ((t->signing_input = strndup(text, t->signing_len)) == NULL)
		return JIT_ERR_ALLOC;
	return 0;
}

/* r || s (32 bytes each) as the DER ECDSA-Sig-Value OpenSSL verifies. */
static int
es256_der(const unsigned char *sig, size_t siglen, unsigned char **der,
    size_t *derlen)
{
	ECDSA_SIG *s = NULL;
	BIGNUM *br = NULL, *bs = NULL;
	unsigned char *p = NULL;
	int n, r = JIT_ERR_ALLOC;

	*der = NULL;
	if (siglen != 64)
		return JIT_ERR_AUTH;
	if ((s = ECDSA_SIG_new()) == NULL ||
	    (br = BN_bin2bn(sig, 32, NULL)) == NULL ||
	    (bs = BN_bin2bn(sig + 32, 32, NULL)) == NULL)
		goto out;
	if (ECDSA_SIG_set0(s, br, bs) != 1)
		goto out;
	br = bs = NULL;               /* owned by s */
	if ((n = i2d_ECDSA_SIG(s, &p)) <= 0) {
		r = JIT_ERR_CRYPTO;
		goto out;
	}
	*der = p;
	*derlen = (size_t)n;
	r = 0;
out:
	BN_free(br);
	BN_free(bs);
	ECDSA_SIG_free(s);
	return r;
}

/* Check t's signature with key.  0, AUTH or CRYPTO/ALLOC. */
static int
check_signature(const struct jit_jwt *t, EVP_PKEY *key)
{
	EVP_MD_CTX *md = NULL;
	unsigned char *der = NULL;
	const unsigned char *sig = t->sig;
	size_t siglen = t->siglen;
	int r = JIT_ERR_INTERNAL, ok;

	if (t->alg == JIT_JWS_ES256) {
		if ((r = es256_der(t->sig, t->siglen, &der, &siglen)) != 0)
			return r;
		sig = der;
	}
	if ((md = EVP_MD_CTX_new()) == NULL) {
		r = JIT_ERR_ALLOC;
		goto out;
	}
	/* Ed25519 hashes inside the signature scheme: no digest here. */
	if (EVP_DigestVerifyInit(md, NULL, t->alg == JIT_JWS_EDDSA ? NULL :
	    EVP_sha256(), NULL, key) != 1) {
		r = JIT_ERR_CRYPTO;
		goto out;
	}
	ok = EVP_DigestVerify(md, sig, siglen,
	    (const unsigned char *)t->signing_input, t->signing_len);
	r = ok == 1 ? 0 : JIT_ERR_AUTH;
out:
	EVP_MD_CTX_free(md);
	OPENSSL_free(der);
	return r;
}

/* 1 if jwk may verify t's signatures: of the type t's alg needs, meant
 * for signatures, and for this algorithm when it names one. */
static int
key_usable(const json_t *jwk, const struct jit_jwt *t)
{
	const char *use = json_string_value(json_object_get(jwk, "use"));
	const char *alg = json_string_value(json_object_get(jwk, "alg"));
	const char *halg = json_string_value(json_object_get(t->header,
	    "alg"));

	if (!json_is_object(jwk) || !jit_jwk_fits(jwk, t->alg))
		return 0;
	if (json_object_get(jwk, "use") != NULL &&
	    (use == NULL || strcmp(use, "sig") != 0))
		return 0;
	if (json_object_get(jwk, "alg") != NULL &&
	    (alg == NULL || halg == NULL || strcmp(alg, halg) != 0))
		return 0;
	return 1;
}

/* The key of jwks for t, or NULL with the error in *r. */
static const json_t *
find_key(const struct jit_jwt *t, const json_t *jwks, int *r, char *why,
    size_t whylen)
{
	const json_t *keys = json_object_get(jwks, "keys"), *k, *found = NULL;
	size_t i, n = 0;

	*r = JIT_ERR_NOT_FOUND;
	json_array_foreach(keys, i, k) {
		const char *kid = json_string_value(json_object_get(k, "kid"));

		if (t->kid != NULL) {
			if (kid == NULL || strcmp(kid, t->kid) != 0)
				continue;
			if (!key_usable(k, t)) {
				jit_seterr(why, whylen, "the provider's key "
				    "\"%.64s\" is not a signing key for %s",
				    t->kid, json_string_value(json_object_get(
				    t->header, "alg")));
				*r = JIT_ERR_AUTH;
				return NULL;
			}
			*r = 0;
			return k;
		}
		if (key_usable(k, t)) {
			found = k;
			n++;
		}
	}
	if (n == 1) {
		*r = 0;
		return found;
	}
	if (n > 1) {
		jit_seterr(why, whylen, "the token names no key (\"kid\") and "
		    "the "
		    "provider has several");
		*r = JIT_ERR_AUTH;
		return NULL;
	}
	if (t->kid != NULL)
		jit_seterr(why, whylen, "the token is signed by an unknown key "
		    "(kid \"%.64s\")", t->kid);
	else
		jit_seterr(why, whylen, "the provider has no key for %s",
		    json_string_value(json_object_get(t->header, "alg")));
	return NULL;
}

int
jit_jwt_verify(const struct jit_jwt *t, const json_t *jwks, char *why,
    size_t whylen)
{
	const json_t *jwk;
	EVP_PKEY *key = NULL;
	char kwhy[160];
	int r = JIT_ERR_INTERNAL;

	jit_seterr(why, whylen, "%s", "");
	if ((jwk = find_key(t, jwks, &r, why, whylen)) == NULL)
		return r;
	if ((r = jit_jwk_public_key(jwk, t->alg, &key, kwhy,
	    sizeof(kwhy))) != 0) {
		if (r == JIT_ERR_AUTH)
			jit_seterr(why, whylen, "the provider's key cannot be "
			    "used: %s", kwhy);
		return r;
	}
	r = check_signature(t, key);
	EVP_PKEY_free(key);
	if (r == JIT_ERR_AUTH)
		jit_seterr(why, whylen, "the token's signature is not valid");
	return r;
}

int
jit_jwt_time(const json_t *claims, const char *name, uint64_t *out)
{
	const json_t *v = json_object_get(claims, name);
	double d;

	*out = 0;
	if (v == NULL)
		return JIT_ERR_NOT_FOUND;
	if (!json_is_number(v))
		return JIT_ERR_INVALID_FORMAT;
	d = json_number_value(v);
	if (!isfinite(d) || d < 0 || d >= JWT_TIME_MAX)
		return JIT_ERR_INVALID_FORMAT;
	*out = (uint64_t)d;
	return 0;
}

/* 1 if s is one of e's audiences. */
static int
is_ours(const struct jit_jwt_expect *e, const char *s)
{
	for (size_t i = 0; s != NULL && i < e->naudiences; i++)
		if (e->audiences[i] != NULL && strcmp(e->audiences[i], s) == 0)
			return 1;
	return 0;
}

/* The audience rules: aud holds one of ours; azp, when present or when
 * there are several audiences, is one of ours. */
static int
check_audience(const struct jit_jwt *t, const struct jit_jwt_expect *e,
    char *why, size_t whylen)
{
	const json_t *aud = json_object_get(t->claims, "aud"), *a;
	const json_t *azp = json_object_get(t->claims, "azp");
	size_t i, n = 0;
	int found = 0;

	if (json_is_string(aud)) {
		found = is_ours(e, json_string_value(aud));
		n = 1;
	} else if (json_is_array(aud)) {
		json_array_foreach(aud, i, a) {
			if (!json_is_string(a)) {
				jit_seterr(why, whylen, "the token's \"aud\" "
				    "holds something other than strings");
				return JIT_ERR_AUTH;
			}
			found |= is_ours(e, json_string_value(a));
		}
		n = json_array_size(aud);
	}
	if (!found) {
		jit_seterr(why, whylen, "the token is for another audience "
		    "(\"aud\" does not name this server's client id)");
		return JIT_ERR_AUTH;
	}
	if (azp == NULL && n > 1) {
		jit_seterr(why, whylen, "the token has several audiences and "
		    "no "
		    "authorized party (\"azp\")");
		return JIT_ERR_AUTH;
	}
	if (azp != NULL && !is_ours(e, json_string_value(azp))) {
		jit_seterr(why, whylen, "the token was issued to another "
		    "client "
		    "(\"azp\")");
		return JIT_ERR_AUTH;
	}
	return 0;
}

/* The time rules: exp, iat and nbf against now and the skew. */
static int
check_times(const struct jit_jwt *t, const struct jit_jwt_expect *e,
    char *why, size_t whylen)
{
	uint64_t exp, iat, nbf;
	char when[JIT_TIME_LEN];
	int r;

	if (jit_jwt_time(t->claims, "exp", &exp) != 0) {
		jit_seterr(why, whylen, "the token has no valid expiry "
		    "(\"exp\")");
		return JIT_ERR_AUTH;
	}
	if (e->now >= exp && e->now - exp >= e->skew) {
		jit_format_time(exp, when);
		jit_seterr(why, whylen, "the token expired at %s", when);
		return JIT_ERR_AUTH;
	}
	if (jit_jwt_time(t->claims, "iat", &iat) != 0) {
		jit_seterr(why, whylen, "the token has no valid issue time "
		    "(\"iat\")");
		return JIT_ERR_AUTH;
	}
	if (iat > e->now && iat - e->now > e->skew) {
		jit_format_time(iat, when);
		jit_seterr(why, whylen, "the token is issued in the future "
		    "(%s)",
		    when);
		return JIT_ERR_AUTH;
	}
	if ((r = jit_jwt_time(t->claims, "nbf", &nbf)) == JIT_ERR_NOT_FOUND)
		return 0;
	if (r != 0) {
		jit_seterr(why, whylen, "the token's \"nbf\" is not a time");
		return JIT_ERR_AUTH;
	}
	if (nbf > e->now && nbf - e->now > e->skew) {
		jit_format_time(nbf, when);
		jit_seterr(why, whylen, "the token is not valid before "
		    "%s", when);
		return JIT_ERR_AUTH;
	}
	return 0;
}

int
jit_jwt_check_claims(const struct jit_jwt *t, const struct jit_jwt_expect *e,
    char *why, size_t whylen)
{
	const char *iss = json_string_value(json_object_get(t->claims, "iss"));
	const char *sub = json_string_value(json_object_get(t->claims, "sub"));
	const char *nonce;
	int r;

	jit_seterr(why, whylen, "%s", "");
	if (iss == NULL || e->issuer == NULL || strcmp(iss, e->issuer) != 0) {
		jit_seterr(why, whylen, "the token is from another issuer "
		    "(\"%.80s\")", iss != NULL ? iss : "none");
		return JIT_ERR_AUTH;
	}
	if ((r = check_audience(t, e, why, whylen)) != 0 ||
	    (r = check_times(t, e, why, whylen)) != 0)
		return r;
	if (sub == NULL || *sub == '\0') {
		jit_seterr(why, whylen, "the token names no subject (\"sub\")");
		return JIT_ERR_AUTH;
	}
	if (e->nonce == NULL)
		return 0;
	nonce = json_string_value(json_object_get(t->claims, "nonce"));
	if (nonce == NULL) {
		jit_seterr(why, whylen, "the token has no nonce");
		return JIT_ERR_AUTH;
	}
	if (strlen(nonce) != strlen(e->nonce) ||
	    CRYPTO_memcmp(nonce, e->nonce, strlen(nonce)) != 0) {
		jit_seterr(why, whylen, "the token's nonce is not the one this "
		    "sign-in sent");
		return JIT_ERR_AUTH;
	}
	return 0;
}
