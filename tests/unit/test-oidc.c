/*
 * test-oidc.c - ID token verification (api/oidc/): keys from JWKs,
 * signatures with RS256, ES256 and EdDSA, every claim rule, and what
 * must be refused (alg none, a key of another type, a changed payload,
 * an unknown key, duplicate members, small keys, published private
 * keys), base64url strictness, provider URLs; and the state kept in the
 * store: the replay memory and the web sign-ins under way, seen alike by
 * two modules on one store (two nodes) and after the store is opened
 * again (a restart), taken once, bounded, swept.  The tokens are signed
 * here with OpenSSL.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <sodium.h>

#include <pthread.h>

#include "err.h"
#include "oidc_int.h"
#include "store.h"
#include "test.h"
#include "test-files.h"
#include "util.h"

#define ISS "https://idp.example"
#define NOW 1900000000ull

static char *
b64url(const unsigned char *p, size_t n)
{
	size_t len = sodium_base64_ENCODED_LEN(n,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	char *s = malloc(len);

	REQUIRE(s != NULL);
	sodium_bin2base64(s, len, p, n,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return s;
}

static char *
b64url_str(const char *s)
{
	return b64url((const unsigned char *)s, strlen(s));
}

static EVP_PKEY *
keygen(const char *type, const char *arg)
{
	EVP_PKEY *k = NULL;

	if (strcmp(type, "RSA") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)atoi(arg));
	else if (strcmp(type, "EC") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", arg);
	else
		k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	REQUIRE(k != NULL);
	return k;
}

/* The public JWK of k with kid (NULL = none). */
static json_t *
jwk_of(EVP_PKEY *k, const char *kid)
{
	json_t *j = json_object();
	char *a, *b;

	if (EVP_PKEY_is_a(k, "RSA")) {
		BIGNUM *n = NULL, *e = NULL;
		unsigned char nb[1024], eb[16];
		int nl, el;

		REQUIRE(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_N, &n));
		REQUIRE(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_E, &e));
		nl = BN_bn2bin(n, nb);
		el = BN_bn2bin(e, eb);
		a = b64url(nb, (size_t)nl);
		b = b64url(eb, (size_t)el);
		json_object_set_new(j, "kty", json_string("RSA"));
		json_object_set_new(j, "n", json_string(a));
		json_object_set_new(j, "e", json_string(b));
		BN_free(n);
		BN_free(e);
	} else if (EVP_PKEY_is_a(k, "EC")) {
		unsigned char pt[65];
		size_t len = 0;

		REQUIRE(EVP_PKEY_get_octet_string_param(k,
		    OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt), &len));
		REQUIRE(len == 65);
		a = b64url(pt + 1, 32);
		b = b64url(pt + 33, 32);
		json_object_set_new(j, "kty", json_string("EC"));
		json_object_set_new(j, "crv", json_string("P-256"));
		json_object_set_new(j, "x", json_string(a));
		json_object_set_new(j, "y", json_string(b));
	} else {
		unsigned char raw[32];
		size_t len = sizeof(raw);

		REQUIRE(EVP_PKEY_get_raw_public_key(k, raw, &len));
		a = b64url(raw, len);
		b = NULL;
		json_object_set_new(j, "kty", json_string("OKP"));
		json_object_set_new(j, "crv", json_string("Ed25519"));
		json_object_set_new(j, "x", json_string(a));
	}
	free(a);
	free(b);
	if (kid != NULL)
		json_object_set_new(j, "kid", json_string(kid));
	return j;
}

/* Sign header.payload with k for alg (raw r || s for ES256). */
static char *
sign_raw(EVP_PKEY *k, const char *alg, const char *hdr, const char *payload)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char sig[1024];
	size_t siglen = sizeof(sig), n;
	char *h = b64url_str(hdr), *p = b64url_str(payload), *in, *s, *out;
	int ed = strcmp(alg, "EdDSA") == 0;

	n = strlen(h) + strlen(p) + 2;
	in = malloc(n);
	REQUIRE(in != NULL && md != NULL);
	snprintf(in, n, "%s.%s", h, p);
	REQUIRE(EVP_DigestSignInit(md, NULL, ed ? NULL : EVP_sha256(), NULL,
	    k) == 1);
	REQUIRE(EVP_DigestSign(md, sig, &siglen, (unsigned char *)in,
	    strlen(in)) == 1);
	if (strcmp(alg, "ES256") == 0) {
		const unsigned char *q = sig;
		ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &q, (long)siglen);
		const BIGNUM *r, *ss;

		REQUIRE(es != NULL);
		ECDSA_SIG_get0(es, &r, &ss);
		REQUIRE(BN_bn2binpad(r, sig, 32) == 32);
		REQUIRE(BN_bn2binpad(ss, sig + 32, 32) == 32);
		siglen = 64;
		ECDSA_SIG_free(es);
	}
	s = b64url(sig, siglen);
	n = strlen(in) + strlen(s) + 2;
	out = malloc(n);
	REQUIRE(out != NULL);
	snprintf(out, n, "%s.%s", in, s);
	free(h);
	free(p);
	free(in);
	free(s);
	EVP_MD_CTX_free(md);
	return out;
}

/* A token over the claims of fmt-like JSON text. */
static char *
token(EVP_PKEY *k, const char *alg, const char *kid, const char *claims)
{
	char hdr[256];

	if (kid != NULL)
		snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"kid\":\"%s\","
		    "\"typ\":\"JWT\"}", alg, kid);
	else
		snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\"}", alg);
	return sign_raw(k, alg, hdr, claims);
}

static const char *good_claims =
    "{\"iss\":\"" ISS "\",\"aud\":\"jit\",\"sub\":\"u1\","
    "\"exp\":1900000600,\"iat\":1900000000,\"nonce\":\"n-1\","
    "\"preferred_username\":\"alice\"}";

static struct jit_jwt_expect
expect(const char *nonce)
{
	static const char *aud[] = { "jit" };
	struct jit_jwt_expect e;

	memset(&e, 0, sizeof(e));
	e.issuer = ISS;
	e.audiences = aud;
	e.naudiences = 1;
	e.nonce = nonce;
	e.now = NOW;
	e.skew = 60;
	return e;
}

/* Parse, verify against jwks and check the claims: the first failing
 * step's code, its message in why. */
static int
check_token(const char *tok, const json_t *jwks,
    const struct jit_jwt_expect *e, char *why, size_t whylen)
{
	struct jit_jwt t;
	int r;

	if ((r = jit_jwt_parse(tok, &t, why, whylen)) == 0 &&
	    (r = jit_jwt_verify(&t, jwks, why, whylen)) == 0)
		r = jit_jwt_check_claims(&t, e, why, whylen);
	jit_jwt_release(&t);
	return r;
}

/* tok is refused with code and a message containing want. */
static void
refused(const char *tok, const json_t *jwks, const struct jit_jwt_expect *e,
    int code, const char *want, int line)
{
	char why[256];
	int r = check_token(tok, jwks, e, why, sizeof(why));

	test_checks++;
	if (r != code || strstr(why, want) == NULL) {
		fprintf(stderr, "%s:%d: want %d \"%s\", got %d \"%s\"\n",
		    __FILE__, line, code, want, r, why);
		test_failures++;
	}
}
#define REFUSED(tok, jwks, e, code, want) \
	refused(tok, jwks, e, code, want, __LINE__)

static json_t *
keyset(json_t *a, json_t *b, json_t *c)
{
	json_t *ks = json_array();

	if (a != NULL)
		json_array_append_new(ks, a);
	if (b != NULL)
		json_array_append_new(ks, b);
	if (c != NULL)
		json_array_append_new(ks, c);
	return json_pack("{s:o}", "keys", ks);
}

static void
test_algorithms(void)
{
	EVP_PKEY *rsa = keygen("RSA", "2048"), *ec = keygen("EC", "P-256");
	EVP_PKEY *ed = keygen("ED", NULL);
	json_t *ks = keyset(jwk_of(rsa, "r1"), jwk_of(ec, "e1"),
	    jwk_of(ed, "d1"));
	struct jit_jwt_expect e = expect("n-1");
	char why[256], *t;

	t = token(rsa, "RS256", "r1", good_claims);
	CHECK_OK(check_token(t, ks, &e, why, sizeof(why)));
	free(t);
	t = token(ec, "ES256", "e1", good_claims);
	CHECK_OK(check_token(t, ks, &e, why, sizeof(why)));
	free(t);
	t = token(ed, "EdDSA", "d1", good_claims);
	CHECK_OK(check_token(t, ks, &e, why, sizeof(why)));
	CHECK_STR(why, "");
	free(t);

	/* The header's algorithm must be one accepted, and the key's. */
	t = token(rsa, "RS256", "r1", good_claims);
	{
		char *dot = strchr(t, '.'), *none = b64url_str(
		    "{\"alg\":\"none\",\"kid\":\"r1\"}"), buf[4096];

		snprintf(buf, sizeof(buf), "%s%s", none, dot);
		REFUSED(buf, ks, &e, JIT_ERR_AUTH, "algorithm \"none\" is not "
		    "accepted");
		/* "none" with an empty signature, as attackers send it. */
		*strrchr(buf, '.') = '\0';
		strcat(buf, ".");
		REFUSED(buf, ks, &e, JIT_ERR_AUTH, "\"none\" is not accepted");
		free(none);
		none = b64url_str("{\"alg\":\"HS256\",\"kid\":\"r1\"}");
		snprintf(buf, sizeof(buf), "%s%s", none, dot);
		REFUSED(buf, ks, &e, JIT_ERR_AUTH, "\"HS256\" is not accepted");
		free(none);
		/* ES256 in the header, the RSA key's kid. */
		none = b64url_str("{\"alg\":\"ES256\",\"kid\":\"r1\"}");
		snprintf(buf, sizeof(buf), "%s%s", none, dot);
		REFUSED(buf, ks, &e, JIT_ERR_AUTH, "not a signing key for "
		    "ES256");
		free(none);
		none = b64url_str("{\"alg\":\"RS256\",\"kid\":\"r1\","
		    "\"crit\":[\"x\"],\"x\":1}");
		snprintf(buf, sizeof(buf), "%s%s", none, dot);
		REFUSED(buf, ks, &e, JIT_ERR_AUTH, "critical header");
		free(none);
	}
	free(t);
	/* Signed by the EC key, naming the Ed25519 key. */
	t = token(ec, "ES256", "d1", good_claims);
	REFUSED(t, ks, &e, JIT_ERR_AUTH, "not a signing key for ES256");
	free(t);

	json_decref(ks);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(ed);
}

static void
test_signatures(void)
{
	EVP_PKEY *ec = keygen("EC", "P-256"), *ec2 = keygen("EC", "P-256");
	EVP_PKEY *ed = keygen("ED", NULL);
	json_t *ks = keyset(jwk_of(ec, "e1"), NULL, NULL);
	struct jit_jwt_expect e = expect(NULL);
	char *t, *dot1, *dot2, *p, buf[4096];

	/* A changed payload with the old signature. */
	t = token(ec, "ES256", "e1", good_claims);
	dot1 = strchr(t, '.');
	dot2 = strchr(dot1 + 1, '.');
	p = b64url_str("{\"iss\":\"" ISS "\",\"aud\":\"jit\",\"sub\":\"u1\","
	    "\"exp\":1900000600,\"iat\":1900000000,"
	    "\"preferred_username\":\"root\"}");
	snprintf(buf, sizeof(buf), "%.*s.%s%s", (int)(dot1 - t), t, p, dot2);
	REFUSED(buf, ks, &e, JIT_ERR_AUTH, "signature is not valid");
	free(p);
	/* A signature one bit off. */
	snprintf(buf, sizeof(buf), "%s", t);
	buf[strlen(buf) - 3] = buf[strlen(buf) - 3] == 'A' ? 'B' : 'A';
	REFUSED(buf, ks, &e, JIT_ERR_AUTH, "signature is not valid");
	/* No signature at all. */
	snprintf(buf, sizeof(buf), "%.*s.", (int)(dot2 - t), t);
	REFUSED(buf, ks, &e, JIT_ERR_AUTH, "signature is missing");
	free(t);

	/* An unknown key: NOT_FOUND, so the caller may refetch. */
	t = token(ec2, "ES256", "e2", good_claims);
	REFUSED(t, ks, &e, JIT_ERR_NOT_FOUND, "unknown key (kid \"e2\")");
	free(t);
	/* The known kid, signed by another key. */
	t = token(ec2, "ES256", "e1", good_claims);
	REFUSED(t, ks, &e, JIT_ERR_AUTH, "signature is not valid");
	free(t);

	/* Without a kid: the only key of the type, else refused. */
	t = token(ec, "ES256", NULL, good_claims);
	CHECK_OK(check_token(t, ks, &e, NULL, 0));
	json_decref(ks);
	ks = keyset(jwk_of(ec, "e1"), jwk_of(ec2, "e2"), jwk_of(ed, "d1"));
	REFUSED(t, ks, &e, JIT_ERR_AUTH, "names no key (\"kid\") and the "
	    "provider has several");
	free(t);
	t = token(ed, "EdDSA", NULL, good_claims);
	CHECK_OK(check_token(t, ks, &e, NULL, 0));
	free(t);
	json_decref(ks);

	/* Keys meant for something else are not used. */
	{
		json_t *k = jwk_of(ec, "e1");

		json_object_set_new(k, "use", json_string("enc"));
		ks = keyset(k, NULL, NULL);
		t = token(ec, "ES256", "e1", good_claims);
		REFUSED(t, ks, &e, JIT_ERR_AUTH, "not a signing key");
		json_object_set_new(k, "use", json_string("sig"));
		json_object_set_new(k, "alg", json_string("RS256"));
		REFUSED(t, ks, &e, JIT_ERR_AUTH, "not a signing key");
		json_object_set_new(k, "alg", json_string("ES256"));
		CHECK_OK(check_token(t, ks, &e, NULL, 0));
		/* A key set that leaks the private key is not used. */
		json_object_set_new(k, "d", json_string("AAAA"));
		REFUSED(t, ks, &e, JIT_ERR_AUTH, "published a private key");
		json_object_del(k, "d");
		/* A point off the curve. */
		json_object_set_new(k, "y", json_string(
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE"));
		REFUSED(t, ks, &e, JIT_ERR_AUTH, "not a point on P-256");
		free(t);
		json_decref(ks);
	}
	EVP_PKEY_free(ec);
	EVP_PKEY_free(ec2);
	EVP_PKEY_free(ed);
}

static void
test_malformed(void)
{
	EVP_PKEY *ed = keygen("ED", NULL), *rsa = keygen("RSA", "1024");
	json_t *ks = keyset(jwk_of(ed, "d1"), jwk_of(rsa, "small"), NULL);
	struct jit_jwt_expect e = expect(NULL);
	char *t, big[JIT_JWT_MAX + 10];

	REFUSED("", ks, &e, JIT_ERR_AUTH, "empty");
	REFUSED("a.b", ks, &e, JIT_ERR_AUTH, "three parts");
	REFUSED("a.b.c.d", ks, &e, JIT_ERR_AUTH, "three parts");
	REFUSED("!!.e30.AA", ks, &e, JIT_ERR_AUTH, "header is not base64url");
	memset(big, 'A', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	REFUSED(big, ks, &e, JIT_ERR_AUTH, "longer than");
	/* Duplicate members could be read two ways: refused. */
	t = sign_raw(ed, "EdDSA", "{\"alg\":\"EdDSA\",\"kid\":\"d1\"}",
	    "{\"iss\":\"" ISS "\",\"aud\":\"jit\",\"sub\":\"u1\","
	    "\"exp\":1900000600,\"iat\":1900000000,\"sub\":\"u2\"}");
	REFUSED(t, ks, &e, JIT_ERR_AUTH, "payload is not a JSON object");
	free(t);
	t = sign_raw(ed, "EdDSA", "{\"alg\":\"EdDSA\",\"kid\":\"d1\"}", "[1]");
	REFUSED(t, ks, &e, JIT_ERR_AUTH, "payload is not a JSON object");
	free(t);
	t = sign_raw(ed, "EdDSA", "{\"alg\":\"EdDSA\",\"kid\":7}",
	    good_claims);
	REFUSED(t, ks, &e, JIT_ERR_AUTH, "\"kid\" is not a string");
	free(t);
	/* An RSA key below 2048 bits. */
	t = token(rsa, "RS256", "small", good_claims);
	REFUSED(t, ks, &e, JIT_ERR_AUTH, "too small (1024 bits");
	free(t);
	json_decref(ks);
	EVP_PKEY_free(ed);
	EVP_PKEY_free(rsa);
}

/* One claim rule: claims refused with a message containing want (or
 * accepted when want is NULL). */
static void
claims_case(EVP_PKEY *k, const json_t *ks, const struct jit_jwt_expect *e,
    const char *claims, const char *want, int line)
{
	char *t = token(k, "EdDSA", "d1", claims), why[256];
	int r = check_token(t, ks, e, why, sizeof(why));

	test_checks++;
	if (want == NULL ? r != 0 : (r != JIT_ERR_AUTH ||
	    strstr(why, want) == NULL)) {
		fprintf(stderr, "%s:%d: want \"%s\", got %d \"%s\"\n",
		    __FILE__, line, want != NULL ? want : "(accepted)", r, why);
		test_failures++;
	}
	free(t);
}
#define CLAIMS(claims, want) claims_case(ed, ks, &e, claims, want, __LINE__)
#define C(x) "{\"iss\":\"" ISS "\",\"sub\":\"u1\"," x "}"
#define T "\"exp\":1900000600,\"iat\":1900000000"

static void
test_claims(void)
{
	EVP_PKEY *ed = keygen("ED", NULL);
	json_t *ks = keyset(jwk_of(ed, "d1"), NULL, NULL);
	struct jit_jwt_expect e = expect(NULL);
	static const char *two[] = { "jit", "jit-cli" };

	CLAIMS(C("\"aud\":\"jit\"," T), NULL);
	CLAIMS("{\"iss\":\"https://evil.example\",\"sub\":\"u1\","
	    "\"aud\":\"jit\"," T "}", "from another issuer "
	    "(\"https://evil.example\")");
	CLAIMS("{\"iss\":\"" ISS "/\",\"sub\":\"u1\",\"aud\":\"jit\"," T "}",
	    "another issuer");
	CLAIMS("{\"sub\":\"u1\",\"aud\":\"jit\"," T "}", "another issuer");
	CLAIMS(C("\"aud\":\"other\"," T), "for another audience");
	CLAIMS(C("\"aud\":[\"other\"]," T), "for another audience");
	CLAIMS(C(T), "for another audience");
	CLAIMS(C("\"aud\":[\"jit\"]," T), NULL);
	/* Several audiences need an azp, and it must be ours. */
	CLAIMS(C("\"aud\":[\"jit\",\"other\"]," T), "no authorized party");
	CLAIMS(C("\"aud\":[\"jit\",\"other\"],\"azp\":\"jit\"," T), NULL);
	CLAIMS(C("\"aud\":[\"jit\",\"other\"],\"azp\":\"other\"," T),
	    "issued to another client");
	CLAIMS(C("\"aud\":\"jit\",\"azp\":\"other\"," T),
	    "issued to another client");
	CLAIMS(C("\"aud\":[\"jit\",3]," T), "other than strings");
	/* Times, with 60 s of skew. */
	CLAIMS(C("\"aud\":\"jit\",\"exp\":1899999941,\"iat\":1899999000"),
	    NULL);
	CLAIMS(C("\"aud\":\"jit\",\"exp\":1899999940,\"iat\":1899999000"),
	    "expired at 2030-03-17T17:45:40Z");
	CLAIMS(C("\"aud\":\"jit\",\"iat\":1899999000"), "no valid expiry");
	CLAIMS(C("\"aud\":\"jit\",\"exp\":\"soon\",\"iat\":1899999000"),
	    "no valid expiry");
	CLAIMS(C("\"aud\":\"jit\",\"exp\":-5,\"iat\":1899999000"),
	    "no valid expiry");
	CLAIMS(C("\"aud\":\"jit\",\"exp\":1900000600"), "no valid issue time");
	CLAIMS(C("\"aud\":\"jit\",\"exp\":1900000600,\"iat\":1900000060"),
	    NULL);
	CLAIMS(C("\"aud\":\"jit\",\"exp\":1900000600,\"iat\":1900000061"),
	    "issued in the future");
	CLAIMS(C("\"aud\":\"jit\"," T ",\"nbf\":1900000061"),
	    "not valid before");
	CLAIMS(C("\"aud\":\"jit\"," T ",\"nbf\":1900000060.5"), NULL);
	CLAIMS(C("\"aud\":\"jit\"," T ",\"nbf\":null"), "\"nbf\" is not a "
	    "time");
	CLAIMS("{\"iss\":\"" ISS "\",\"aud\":\"jit\"," T "}", "no subject");
	CLAIMS("{\"iss\":\"" ISS "\",\"sub\":\"\",\"aud\":\"jit\"," T "}",
	    "no subject");
	/* The nonce, when one is expected. */
	e.nonce = "n-1";
	CLAIMS(C("\"aud\":\"jit\"," T ",\"nonce\":\"n-1\""), NULL);
	CLAIMS(C("\"aud\":\"jit\"," T), "has no nonce");
	CLAIMS(C("\"aud\":\"jit\"," T ",\"nonce\":\"n-2\""), "nonce is not "
	    "the one this sign-in sent");
	CLAIMS(C("\"aud\":\"jit\"," T ",\"nonce\":\"n-11\""), "nonce is not");
	/* Either of two client ids. */
	e.nonce = NULL;
	e.audiences = two;
	e.naudiences = 2;
	CLAIMS(C("\"aud\":\"jit-cli\"," T), NULL);
	CLAIMS(C("\"aud\":[\"jit-cli\",\"jit\"],\"azp\":\"jit-cli\"," T),
	    NULL);
	json_decref(ks);
	EVP_PKEY_free(ed);
}

static void
test_b64url(void)
{
	unsigned char *o = NULL;
	size_t n = 0;

	CHECK_OK(jit_b64url_decode("aGk", 3, &o, &n));
	CHECK_INT(n, 2);
	CHECK_MEM(o, "hi", 2);
	free(o);
	CHECK_OK(jit_b64url_decode("-_8", 3, &o, &n));
	CHECK_INT(n, 2);
	free(o);
	CHECK_OK(jit_b64url_decode("", 0, &o, &n));
	CHECK_INT(n, 0);
	free(o);
	CHECK_INT(jit_b64url_decode("aGk=", 4, &o, &n),
	    JIT_ERR_INVALID_FORMAT);
	CHECK_INT(jit_b64url_decode("aG+", 3, &o, &n),
	    JIT_ERR_INVALID_FORMAT);
	CHECK_INT(jit_b64url_decode("aG k", 4, &o, &n),
	    JIT_ERR_INVALID_FORMAT);
	/* "aGl" has non-zero trailing bits: not the canonical "aGk". */
	CHECK_INT(jit_b64url_decode("aGl", 3, &o, &n),
	    JIT_ERR_INVALID_FORMAT);
	CHECK_INT(jit_b64url_decode("a", 1, &o, &n), JIT_ERR_INVALID_FORMAT);
	CHECK(o == NULL);
}

static void
url_case(const char *url, int ok, int loopback, int line)
{
	char why[128];
	int r = jit_fetch_url_ok(url, why, sizeof(why));

	test_checks += 2;
	if ((r == 0) != ok || jit_fetch_url_loopback(url) != loopback) {
		fprintf(stderr, "%s:%d: %s: ok %d loopback %d (%s)\n",
		    __FILE__, line, url, r == 0,
		    jit_fetch_url_loopback(url), why);
		test_failures++;
	}
}
#define URL(u, ok, lo) url_case(u, ok, lo, __LINE__)

static void
test_urls(void)
{
	URL("https://idp.example", 1, 0);
	URL("https://idp.example:8443/realms/x", 1, 0);
	URL("http://127.0.0.1:9000", 1, 1);
	URL("http://127.8.9.10/x", 1, 1);
	URL("http://[::1]:9000/", 1, 1);
	URL("http://localhost:9000", 1, 1);
	URL("http://idp.example", 0, 0);
	URL("http://128.0.0.1", 0, 0);
	URL("http://[::2]/", 0, 0);
	URL("ftp://idp.example", 0, 0);
	URL("https://user:pw@idp.example", 0, 0);
	URL("https://idp.example/#frag", 0, 0);
	URL("idp.example", 0, 0);
	URL("", 0, 0);
}

/* A module on store s (web sign-in on), as one node of several. */
static struct jit_oidc *
node(struct jit_store *s)
{
	struct jit_oidc_options o;
	struct jit_oidc *m = NULL;
	char err[256];

	memset(&o, 0, sizeof(o));
	o.issuer = ISS;
	o.client_id = "jit";
	o.client_secret = "web-secret";
	o.clock_skew = 60;
	o.store = s;
	REQUIRE_OK(jit_oidc_new(&o, &m, err, sizeof(err)));
	/* Discovery as if fetched: no network in unit tests. */
	m->config = json_pack("{s:s, s:s, s:s}", "issuer", ISS,
	    "authorization_endpoint", ISS "/auth", "token_endpoint",
	    "http://127.0.0.1:1/token");
	m->config_at = jit_now();
	return m;
}

/* A restart: both modules go, the store in sdir is opened again and *a
 * is a new module on it (*b NULL). */
static void
restart(const char *sdir, struct jit_store **s, struct jit_oidc **a,
    struct jit_oidc **b)
{
	jit_oidc_free(*a);
	jit_oidc_free(*b);
	*b = NULL;
	jit_store_close(*s);
	*s = NULL;
	REQUIRE_OK(jit_store_open(sdir, 0, s));
	*a = node(*s);
}

static void
test_module(void)
{
	struct jit_oidc_options o;
	struct jit_oidc *m = NULL;
	struct jit_store *s = NULL;
	char *sdir = store_dir_new("oidc-module"), err[256];
	json_t *info;

	REQUIRE_OK(jit_store_open(sdir, 0, &s));
	memset(&o, 0, sizeof(o));
	CHECK_INT(jit_oidc_new(&o, &m, err, sizeof(err)),
	    JIT_ERR_INVALID_ARGUMENT);
	CHECK_STR(err, "issuer and client_id are required");
	o.issuer = "http://idp.example";
	o.client_id = "jit";
	CHECK_INT(jit_oidc_new(&o, &m, err, sizeof(err)),
	    JIT_ERR_INVALID_ARGUMENT);
	CHECK_STR(err, "a store is required");
	o.store = s;
	CHECK_INT(jit_oidc_new(&o, &m, err, sizeof(err)),
	    JIT_ERR_INVALID_ARGUMENT);
	CHECK_STR(err, "issuer http://idp.example: must be https (http only "
	    "on a loopback address)");
	o.issuer = ISS;
	o.username_claim = "sub";
	CHECK_INT(jit_oidc_new(&o, &m, err, sizeof(err)),
	    JIT_ERR_INVALID_ARGUMENT);
	CHECK_STR(err, "username_claim must be preferred_username or email");
	o.username_claim = NULL;
	o.groups_claim = "groups";
	REQUIRE_OK(jit_oidc_new(&o, &m, err, sizeof(err)));
	info = jit_oidc_client_info(m);
	CHECK_STR(json_string_value(json_object_get(info, "issuer")), ISS);
	CHECK_STR(json_string_value(json_object_get(info, "client_id")),
	    "jit");
	CHECK_STR(json_string_value(json_object_get(info, "scopes")),
	    "openid profile email groups");
	CHECK(json_is_true(json_object_get(info, "sso")));
	CHECK(json_is_false(json_object_get(info, "web")));
	json_decref(info);
	CHECK_INT(jit_oidc_web_enabled(m), 0);
	jit_oidc_free(m);
	jit_store_close(s);
	store_dir_remove(sdir);
}

/* ---- the state in the store ------------------------------------------ */

/* Every bucket of prefix (n of them) dumped into one string (free it),
 * "" for buckets never written. */
struct dump_ctx {
	const char *prefix;
	unsigned n;
	char *text;
	size_t entries;
};

static int
dump_fn(struct jit_store_txn *t, void *vctx)
{
	struct dump_ctx *d = vctx;
	char name[32], *js, *cat;
	json_t *v;
	size_t have = 0;

	d->text = strdup("");
	d->entries = 0;
	for (unsigned i = 0; i < d->n && d->text != NULL; i++) {
		snprintf(name, sizeof(name), "%s%02x", d->prefix, i);
		if (jit_store_get_value(t, name, &v) != 0)
			continue;
		d->entries += json_object_size(v);
		js = json_dumps(v, JSON_COMPACT);
		json_decref(v);
		if (js == NULL)
			return JIT_ERR_ALLOC;
		cat = realloc(d->text, have + strlen(js) + 1);
		if (cat == NULL)
			return JIT_ERR_ALLOC;
		memcpy(cat + have, js, strlen(js) + 1);
		have += strlen(js);
		d->text = cat;
		free(js);
	}
	return d->text != NULL ? 0 : JIT_ERR_ALLOC;
}

static char *
dump(struct jit_store *s, const char *prefix, unsigned n, size_t *entries)
{
	struct dump_ctx d = { prefix, n, NULL, 0 };

	REQUIRE_OK(jit_store_read(s, dump_fn, &d));
	if (entries != NULL)
		*entries = d.entries;
	return d.text;
}

/* A whole sweep: one turn over every bucket at now; entries dropped. */
static unsigned
sweep_all(struct jit_oidc *m, uint64_t now)
{
	unsigned total = 0, n;

	for (unsigned i = 0; i < (OIDC_LOGIN_BUCKETS + OIDC_SEEN_BUCKETS) /
	    OIDC_SWEEP_BUCKETS; i++) {
		CHECK_OK(jit_oidc_sweep(m, now, &n));
		total += n;
	}
	return total;
}

/* Racers: each takes the same sign-in (or adds the same key) through one
 * of two modules at once; exactly one may succeed. */
struct racer {
	struct jit_oidc *m;
	const char *state;           /* NULL: add key instead */
	const unsigned char *key;
	int r;
	pthread_t th;
};

static void *
race_main(void *arg)
{
	struct racer *x = arg;
	struct oidc_login l;

	if (x->state != NULL) {
		x->r = oidc_login_take(x->m, x->state, NOW + 1, &l);
		free(l.redirect_uri);
	} else {
		x->r = oidc_seen_add(x->m, (const unsigned char (*)[32])x->key,
		    1, NOW + 100, NOW, NULL);
	}
	return NULL;
}

/* Run 8 racers over a and b; how many got 0, and whether every other
 * result was lose. */
static unsigned
race(struct jit_oidc *a, struct jit_oidc *b, const char *state,
    const unsigned char *key, int lose, int *others_ok)
{
	struct racer x[8];
	unsigned won = 0, i;

	*others_ok = 1;
	for (i = 0; i < 8; i++) {
		x[i].m = i % 2 ? b : a;
		x[i].state = state;
		x[i].key = key;
		x[i].r = -1;
		REQUIRE(pthread_create(&x[i].th, NULL, race_main, &x[i]) == 0);
	}
	for (i = 0; i < 8; i++) {
		pthread_join(x[i].th, NULL);
		if (x[i].r == 0)
			won++;
		else if (x[i].r != lose)
			*others_ok = 0;
	}
	return won;
}

/* The value of query parameter name in url (a static copy). */
static const char *
query_param(const char *url, const char *name)
{
	static char v[256];
	const char *p = strchr(url, '?');
	size_t n = strlen(name), len;

	v[0] = '\0';
	while (p != NULL && *p != '\0') {
		p++;
		len = strcspn(p, "&");
		if (len > n && strncmp(p, name, n) == 0 && p[n] == '=') {
			snprintf(v, sizeof(v), "%.*s", (int)(len - n - 1),
			    p + n + 1);
			break;
		}
		p += len;
	}
	return v;
}

/* An ID token of claims (its nonce its own) verified by module m. */
static int
verify_claims(struct jit_oidc *m, EVP_PKEY *key, const char *claims,
    struct jit_oidc_identity *id, char *why, size_t whylen)
{
	char *t = token(key, "ES256", "e1", claims);
	int r = jit_oidc_verify(m, t, JIT_OIDC_DEVICE, NULL, NOW, id, why,
	    whylen);

	free(t);
	return r;
}

#define EMAIL_CLAIMS(nonce, more) "{\"iss\":\"" ISS "\",\"aud\":\"jit\"," \
	"\"sub\":\"u1\",\"exp\":1900000600,\"iat\":1900000000,\"nonce\":\"" \
	nonce "\",\"preferred_username\":\"root\"" more "}"

/* username_claim: email names the user by a verified address only. */
static void
test_email_claim(void)
{
	struct jit_store *s = NULL;
	struct jit_oidc *m;
	struct jit_oidc_identity id;
	char *sdir = store_dir_new("oidc-email"), why[256];
	EVP_PKEY *ec = keygen("EC", "P-256");

	REQUIRE_OK(jit_store_open(sdir, 0, &s));
	m = node(s);
	free(m->username_claim);
	REQUIRE((m->username_claim = strdup("email")) != NULL);
	m->jwks = keyset(jwk_of(ec, "e1"), NULL, NULL);
	m->jwks_at = jit_now();
	CHECK_OK(verify_claims(m, ec, EMAIL_CLAIMS("n-e1",
	    ",\"email\":\"alice@example.com\",\"email_verified\":true"), &id,
	    why, sizeof(why)));
	CHECK_STR(id.user, "alice@example.com");
	jit_oidc_identity_release(&id);
	CHECK_INT(verify_claims(m, ec, EMAIL_CLAIMS("n-e2",
	    ",\"email\":\"bob@example.com\",\"email_verified\":false"), &id,
	    why, sizeof(why)), JIT_ERR_AUTH);
	CHECK_STR(why, "the token's email address is not verified "
	    "(\"email_verified\")");
	CHECK_INT(verify_claims(m, ec, EMAIL_CLAIMS("n-e3",
	    ",\"email\":\"bob@example.com\""), &id, why, sizeof(why)),
	    JIT_ERR_AUTH);
	CHECK_STR(why, "the token's email address is not verified "
	    "(\"email_verified\")");
	CHECK_INT(verify_claims(m, ec, EMAIL_CLAIMS("n-e4", ""), &id, why,
	    sizeof(why)), JIT_ERR_AUTH);
	CHECK_STR(why, "the token has no \"email\" claim to name the user");
	jit_oidc_free(m);
	EVP_PKEY_free(ec);
	jit_store_close(s);
	store_dir_remove(sdir);
}

static void
test_shared_replay(void)
{
	struct jit_store *s = NULL;
	struct jit_oidc *a, *b;
	struct jit_oidc_identity id;
	unsigned char k[3][32], full[32];
	char *sdir = store_dir_new("oidc-replay"), why[256], *text;
	EVP_PKEY *ec = keygen("EC", "P-256");
	char *tok = token(ec, "ES256", "e1", good_claims), *tok2;
	size_t which = 9, n;
	unsigned i, added;
	int others_ok, r;

	REQUIRE_OK(jit_store_open(sdir, 0, &s));
	a = node(s);
	b = node(s);
	memset(k, 0, sizeof(k));
	k[0][0] = 1;
	k[1][0] = 2;

	/* Remembered once, by whichever node; until it expires. */
	CHECK_OK(oidc_seen_add(a, (const unsigned char (*)[32])k, 1, NOW + 10,
	    NOW, NULL));
	CHECK_INT(oidc_seen_add(b, (const unsigned char (*)[32])k, 1,
	    NOW + 10, NOW + 9, &which), JIT_ERR_CONFLICT);
	CHECK_INT(which, 0);
	/* All or none: k[1], new, is not kept when k[0] is refused. */
	CHECK_INT(oidc_seen_add(a, (const unsigned char (*)[32])k, 2,
	    NOW + 10, NOW + 1, &which), JIT_ERR_CONFLICT);
	CHECK_INT(which, 0);
	memcpy(k[2], k[0], 32);
	CHECK_INT(oidc_seen_add(b, (const unsigned char (*)[32])k[1], 2,
	    NOW + 10, NOW + 1, &which), JIT_ERR_CONFLICT);
	CHECK_INT(which, 1);
	CHECK_OK(oidc_seen_add(b, (const unsigned char (*)[32])k[1], 1,
	    NOW + 10, NOW + 1, NULL));
	CHECK_OK(oidc_seen_add(b, (const unsigned char (*)[32])k, 1, NOW + 20,
	    NOW + 10, NULL));

	/* Two nodes at once: one wins. */
	memset(full, 0x77, sizeof(full));
	CHECK_INT(race(a, b, NULL, full, JIT_ERR_CONFLICT, &others_ok), 1);
	CHECK(others_ok);

	/* An ID token accepted by one node is refused by the other, and so
	 * is another token with its nonce. */
	a->jwks = keyset(jwk_of(ec, "e1"), NULL, NULL);
	a->jwks_at = jit_now();
	b->jwks = json_incref(a->jwks);
	b->jwks_at = a->jwks_at;
	CHECK_OK(jit_oidc_verify(a, tok, JIT_OIDC_DEVICE, NULL, NOW, &id, why,
	    sizeof(why)));
	CHECK_STR(id.user, "alice");
	jit_oidc_identity_release(&id);
	CHECK_INT(jit_oidc_verify(b, tok, JIT_OIDC_DEVICE, NULL, NOW + 1, &id,
	    why, sizeof(why)), JIT_ERR_AUTH);
	CHECK_STR(why, "the token was already used to sign in (replayed)");
	tok2 = token(ec, "ES256", "e1", "{\"iss\":\"" ISS "\",\"aud\":\"jit\","
	    "\"sub\":\"u2\",\"exp\":1900000600,\"iat\":1900000000,"
	    "\"nonce\":\"n-1\",\"preferred_username\":\"bob\"}");
	CHECK_INT(jit_oidc_verify(b, tok2, JIT_OIDC_DEVICE, NULL, NOW + 1,
	    &id, why, sizeof(why)), JIT_ERR_AUTH);
	CHECK_STR(why, "the token's nonce was already used (replayed)");
	/* Only hashes are stored. */
	text = dump(s, "oidc.seen.", OIDC_SEEN_BUCKETS, &n);
	CHECK(strstr(text, tok) == NULL && strstr(text, "n-1") == NULL);
	CHECK(strstr(text, strrchr(tok, '.') + 1) == NULL);
	free(text);

	/* A restart: the store opened again, a new module. */
	restart(sdir, &s, &a, &b);
	a->jwks = keyset(jwk_of(ec, "e1"), NULL, NULL);
	a->jwks_at = jit_now();
	CHECK_INT(jit_oidc_verify(a, tok, JIT_OIDC_DEVICE, NULL, NOW + 2, &id,
	    why, sizeof(why)), JIT_ERR_AUTH);
	CHECK_STR(why, "the token was already used to sign in (replayed)");
	CHECK_INT(oidc_seen_add(a, (const unsigned char (*)[32])k, 1, NOW + 30,
	    NOW + 11, NULL), JIT_ERR_CONFLICT);

	/* Bounded: a bucket full of live entries refuses rather than
	 * forgets; another bucket still takes; expiry makes room. */
	added = 0;
	r = 0;
	for (i = 0; i < 2 * OIDC_SEEN_BUCKET_MAX && r == 0; i++) {
		memset(full, 0, sizeof(full));
		full[0] = 0xee;
		memcpy(full + 1, &i, sizeof(i));
		r = oidc_seen_add(a, (const unsigned char (*)[32])full, 1,
		    NOW + 100, NOW + 11, NULL);
		if (r == 0)
			added++;
	}
	CHECK_INT(r, JIT_ERR_NO_BUFFER_SPACE);
	CHECK_INT(added, OIDC_SEEN_BUCKET_MAX);
	memset(full, 0, sizeof(full));
	full[0] = 0xef;
	CHECK_OK(oidc_seen_add(a, (const unsigned char (*)[32])full, 1,
	    NOW + 100, NOW + 11, NULL));
	full[0] = 0xee;
	full[1] = 0xff;
	full[2] = 0xff;
	CHECK_INT(oidc_seen_add(a, (const unsigned char (*)[32])full, 1,
	    NOW + 200, NOW + 99, NULL), JIT_ERR_NO_BUFFER_SPACE);
	CHECK_OK(oidc_seen_add(a, (const unsigned char (*)[32])full, 1,
	    NOW + 200, NOW + 100, NULL));

	/* The sweep drops what expired in buckets nobody wrote since: all
	 * but the token and its nonce (until exp + skew) and the last. */
	text = dump(s, "oidc.seen.", OIDC_SEEN_BUCKETS, &n);
	free(text);
	CHECK_INT(n, 7);
	CHECK_INT(sweep_all(a, NOW + 101), n - 3);
	text = dump(s, "oidc.seen.", OIDC_SEEN_BUCKETS, &n);
	CHECK_INT(n, 3);
	free(text);
	CHECK_INT(sweep_all(a, NOW + 101), 0);
	CHECK_INT(sweep_all(a, NOW + 200), 1);
	CHECK_INT(sweep_all(a, NOW + 659), 0);
	CHECK_INT(sweep_all(a, NOW + 660), 2);
	text = dump(s, "oidc.seen.", OIDC_SEEN_BUCKETS, &n);
	CHECK_INT(n, 0);
	free(text);

	free(tok);
	free(tok2);
	EVP_PKEY_free(ec);
	jit_oidc_free(a);
	jit_store_close(s);
	store_dir_remove(sdir);
}

static void
test_shared_login(void)
{
	struct jit_store *s = NULL;
	struct jit_oidc *a, *b;
	struct jit_oidc_identity id;
	struct oidc_login l;
	unsigned char md[32];
	char *sdir = store_dir_new("oidc-login"), why[256], *url = NULL;
	char *state = NULL, *text, nonce[44], challenge[44];
	size_t n;
	unsigned i, added;
	int others_ok, r;

	REQUIRE_OK(jit_store_open(sdir, 0, &s));
	a = node(s);
	b = node(s);

	/* Started on a: the URL carries the state, a nonce derived from it
	 * and the verifier's challenge; the store none of them, in clear,
	 * nor the state's derived nonce. */
	REQUIRE_OK(jit_oidc_login_start(a, "https://jit.example/oidc/callback",
	    NOW, &url, &state, why, sizeof(why)));
	CHECK_INT(strlen(state), 43);
	CHECK_STR(query_param(url, "state"), state);
	oidc_derive("web-nonce", state, nonce);
	CHECK_STR(query_param(url, "nonce"), nonce);
	snprintf(challenge, sizeof(challenge), "%s",
	    query_param(url, "code_challenge"));
	text = dump(s, "oidc.login.", OIDC_LOGIN_BUCKETS, &n);
	CHECK_INT(n, 1);
	CHECK(strstr(text, state) == NULL && strstr(text, nonce) == NULL);
	CHECK(strstr(text, "https://jit.example/oidc/callback") != NULL);
	free(text);

	/* Finished on b, once: the verifier is the challenge's. */
	REQUIRE_OK(oidc_login_take(b, state, NOW + 1, &l));
	CHECK_STR(l.state, state);
	CHECK_STR(l.nonce, nonce);
	CHECK_STR(l.redirect_uri, "https://jit.example/oidc/callback");
	CHECK_U64(l.until, NOW + JIT_OIDC_LOGIN_TTL);
	SHA256((const unsigned char *)l.verifier, strlen(l.verifier), md);
	text = b64url(md, sizeof(md));
	CHECK_STR(text, challenge);
	free(text);
	free(l.redirect_uri);
	CHECK_INT(oidc_login_take(a, state, NOW + 2, &l), JIT_ERR_NOT_FOUND);
	CHECK(l.redirect_uri == NULL);
	CHECK_INT(jit_oidc_login_finish(b, state, "code", NOW + 2, &id, why,
	    sizeof(why)), JIT_ERR_AUTH);
	CHECK_STR(why, "this sign-in is unknown, was already used or took "
	    "too long; start again");
	text = dump(s, "oidc.login.", OIDC_LOGIN_BUCKETS, &n);
	CHECK_INT(n, 0);
	free(text);
	free(url);
	free(state);

	/* Eight takers on two nodes at once: one gets it. */
	REQUIRE_OK(jit_oidc_login_start(b, "https://jit.example/oidc/callback",
	    NOW, &url, &state, why, sizeof(why)));
	CHECK_INT(race(a, b, state, NULL, JIT_ERR_NOT_FOUND, &others_ok), 1);
	CHECK(others_ok);
	free(url);
	free(state);

	/* Started, then the server restarts: the sign-in is still there. */
	REQUIRE_OK(jit_oidc_login_start(a, "https://jit.example/oidc/callback",
	    NOW, &url, &state, why, sizeof(why)));
	restart(sdir, &s, &a, &b);
	CHECK_OK(oidc_login_take(a, state, NOW + 3, &l));
	free(l.redirect_uri);
	free(url);
	free(state);

	/* Too late: refused at the end of its time, then swept. */
	REQUIRE_OK(jit_oidc_login_start(a, "https://jit.example/oidc/callback",
	    NOW, &url, &state, why, sizeof(why)));
	CHECK_INT(oidc_login_take(a, state, NOW + JIT_OIDC_LOGIN_TTL, &l),
	    JIT_ERR_NOT_FOUND);
	text = dump(s, "oidc.login.", OIDC_LOGIN_BUCKETS, &n);
	CHECK_INT(n, 1);
	free(text);
	CHECK_INT(sweep_all(a, NOW + JIT_OIDC_LOGIN_TTL), 1);
	text = dump(s, "oidc.login.", OIDC_LOGIN_BUCKETS, &n);
	CHECK_INT(n, 0);
	free(text);
	free(url);
	free(state);

	/* Bounded: a bucket takes OIDC_LOGIN_BUCKET_MAX sign-ins. */
	memset(&l, 0, sizeof(l));
	l.redirect_uri = "https://jit.example/oidc/callback";
	l.until = NOW + 10;
	snprintf(l.verifier, sizeof(l.verifier), "v");
	added = 0;
	r = 0;
	for (i = 0; r == 0 && i < 100000; i++) {
		unsigned char key[32];

		snprintf(l.state, sizeof(l.state), "s-%u", i);
		oidc_key("login", l.state, key);
		if (key[0] % OIDC_LOGIN_BUCKETS != 5)
			continue;
		if ((r = oidc_login_put(a, &l, NOW)) == 0)
			added++;
	}
	CHECK_INT(r, JIT_ERR_NO_BUFFER_SPACE);
	CHECK_INT(added, OIDC_LOGIN_BUCKET_MAX);
	/* Room again once they expire; a state is kept once. */
	l.until = NOW + 20;
	CHECK_INT(oidc_login_put(a, &l, NOW + 10), 0);
	CHECK_INT(oidc_login_put(a, &l, NOW + 10), JIT_ERR_CONFLICT);
	text = dump(s, "oidc.login.", OIDC_LOGIN_BUCKETS, &n);
	CHECK_INT(n, 1);
	free(text);

	jit_oidc_free(a);
	jit_store_close(s);
	store_dir_remove(sdir);
}

int
main(void)
{
	test_b64url();
	test_algorithms();
	test_signatures();
	test_malformed();
	test_claims();
	test_urls();
	test_module();
	test_shared_replay();
	test_email_claim();
	test_shared_login();
	TEST_DONE();
}
