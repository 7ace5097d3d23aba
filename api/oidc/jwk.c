/* jwk.c - JSON Web Keys as OpenSSL public keys (oidc_int.h). */
#include "oidc_int.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <sodium.h>

#include "err.h"
#include "util.h"

/* Longest key member decoded: a 16384-bit RSA modulus. */
#define JWK_MEMBER_MAX 2048

enum jit_jws_alg
jit_jws_alg_parse(const char *alg)
{
	if (alg == NULL)
		return JIT_JWS_NONE_ACCEPTED;
	if (strcmp(alg, "RS256") == 0)
		return JIT_JWS_RS256;
	if (strcmp(alg, "ES256") == 0)
		return JIT_JWS_ES256;
	if (strcmp(alg, "EdDSA") == 0)
		return JIT_JWS_EDDSA;
	return JIT_JWS_NONE_ACCEPTED;
}

int
jit_b64url_decode(const char *in, size_t len, unsigned char **out,
    size_t *outlen)
{
	unsigned char *o;
	size_t n = 0;
	const char *end = NULL;

	*out = NULL;
	*outlen = 0;
	if (in == NULL || len > JIT_OIDC_FETCH_MAX)
		return JIT_ERR_INVALID_FORMAT;
	if ((o = malloc(len / 4 * 3 + 3)) == NULL)
		return JIT_ERR_ALLOC;
	/* libsodium refuses padding, characters outside the alphabet and
	 * trailing bits that are not zero in this variant. */
	if (sodium_base642bin(o, len / 4 * 3 + 2, in, len, NULL, &n, &end,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    end != in + len) {
		free(o);
		return JIT_ERR_INVALID_FORMAT;
	}
	o[n] = '\0';
	*out = o;
	*outlen = n;
	return 0;
}

static int
member_is(const json_t *jwk, const char *name, const char *want)
{
	const char *v = json_string_value(json_object_get(jwk, name));

	return v != NULL && strcmp(v, want) == 0;
}

int
jit_jwk_fits(const json_t *jwk, enum jit_jws_alg alg)
{
	switch (alg) {
	case JIT_JWS_RS256:
		return member_is(jwk, "kty", "RSA");
	case JIT_JWS_ES256:
		return member_is(jwk, "kty", "EC") &&
		    member_is(jwk, "crv", "P-256");
	case JIT_JWS_EDDSA:
		return member_is(jwk, "kty", "OKP") &&
		    member_is(jwk, "crv", "Ed25519");
	default:
		return 0;
	}
}

/* Member name of jwk, decoded, of exactly want bytes (0 = 1 to
 * JWK_MEMBER_MAX).  AUTH with why when missing or malformed. */
static int
member_bytes(const json_t *jwk, const char *name, size_t want,
    unsigned char **out, size_t *outlen, char *why, size_t whylen)
{
	const char *v = json_string_value(json_object_get(jwk, name));
	int r;

	*out = NULL;
	if (v == NULL) {
		jit_seterr(why, whylen, "the key has no \"%s\"", name);
		return JIT_ERR_AUTH;
	}
	r = jit_b64url_decode(v, strlen(v), out, outlen);
	if (r == JIT_ERR_ALLOC)
		return r;
	if (r != 0 || *outlen == 0 || *outlen > JWK_MEMBER_MAX ||
	    (want != 0 && *outlen != want)) {
		free(*out);
		*out = NULL;
		jit_seterr(why, whylen, "the key's \"%s\" is malformed", name);
		return JIT_ERR_AUTH;
	}
	return 0;
}

/* A key from OpenSSL parameters of type name ("RSA", "EC"). */
static int
key_from_params(const char *name, OSSL_PARAM_BLD *bld, EVP_PKEY **out)
{
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	int r = JIT_ERR_CRYPTO;

	if ((params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, name, NULL)) == NULL)
		goto out;
	/* A point off the curve or a malformed modulus fails here. */
	if (EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) != 1) {
		r = JIT_ERR_AUTH;
		goto out;
	}
	r = 0;
out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return r;
}

static int
rsa_key(const json_t *jwk, EVP_PKEY **out, char *why, size_t whylen)
{
	unsigned char *n = NULL, *e = NULL;
	size_t nlen = 0, elen = 0;
	BIGNUM *bn = NULL, *be = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	int r = JIT_ERR_INTERNAL;

	if ((r = member_bytes(jwk, "n", 0, &n, &nlen, why, whylen)) != 0 ||
	    (r = member_bytes(jwk, "e", 0, &e, &elen, why, whylen)) != 0)
		goto out;
	r = JIT_ERR_ALLOC;
	if ((bn = BN_bin2bn(n, (int)nlen, NULL)) == NULL ||
	    (be = BN_bin2bn(e, (int)elen, NULL)) == NULL)
		goto out;
	if (BN_num_bits(bn) < JIT_JWK_RSA_MIN_BITS || !BN_is_odd(be) ||
	    BN_is_one(be)) {
		jit_seterr(why, whylen, "the RSA key is too small (%d bits, at "
		    "least %d needed) or has a bad exponent", BN_num_bits(bn),
		    JIT_JWK_RSA_MIN_BITS);
		r = JIT_ERR_AUTH;
		goto out;
	}
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) != 1)
		goto out;
	if ((r = key_from_params("RSA", bld, out)) == JIT_ERR_AUTH)
		jit_seterr(why, whylen, "the RSA key is not a valid key");
out:
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn);
	BN_free(be);
	free(n);
	free(e);
	return r;
}

static int
ec_key(const json_t *jwk, EVP_PKEY **out, char *why, size_t whylen)
{
	unsigned char *x = NULL, *y = NULL, point[65];
	size_t xlen = 0, ylen = 0;
	OSSL_PARAM_BLD *bld = NULL;
	int r = JIT_ERR_INTERNAL;

	if ((r = member_bytes(jwk, "x", 32, &x, &xlen, why, whylen)) != 0 ||
	    (r = member_bytes(jwk, "y", 32, &y, &ylen, why, whylen)) != 0)
		goto out;
	point[0] = 0x04;              /* uncompressed: 04 || x || y */
	memcpy(point + 1, x, 32);
	memcpy(point + 33, y, 32);
	r = JIT_ERR_ALLOC;
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
	    "prime256v1", 0) != 1 ||
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
	    point, sizeof(point)) != 1)
		goto out;
	if ((r = key_from_params("EC", bld, out)) == JIT_ERR_AUTH)
		jit_seterr(why, whylen, "the EC key is not a point on P-256");
out:
	OSSL_PARAM_BLD_free(bld);
	free(x);
	free(y);
	return r;
}

static int
ed25519_key(const json_t *jwk, EVP_PKEY **out, char *why, size_t whylen)
{
	unsigned char *x = NULL;
	size_t xlen = 0;
	int r;

	if ((r = member_bytes(jwk, "x", 32, &x, &xlen, why, whylen)) != 0)
		return r;
	*out = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, x, xlen);
	free(x);
	return *out != NULL ? 0 : JIT_ERR_CRYPTO;
}

int
jit_jwk_public_key(const json_t *jwk, enum jit_jws_alg alg, EVP_PKEY **out,
    char *why, size_t whylen)
{
	*out = NULL;
	jit_seterr(why, whylen, "%s", "");
	if (!json_is_object(jwk) || !jit_jwk_fits(jwk, alg)) {
		jit_seterr(why, whylen, "the key is not of the type the "
		    "token's algorithm needs");
		return JIT_ERR_AUTH;
	}
	if (json_object_get(jwk, "d") != NULL) {
		jit_seterr(why, whylen, "the provider published a private key; "
		    "it is not used");
		return JIT_ERR_AUTH;
	}
	switch (alg) {
	case JIT_JWS_RS256:
		return rsa_key(jwk, out, why, whylen);
	case JIT_JWS_ES256:
		return ec_key(jwk, out, why, whylen);
	case JIT_JWS_EDDSA:
		return ed25519_key(jwk, out, why, whylen);
	default:
		return JIT_ERR_AUTH;
	}
}
