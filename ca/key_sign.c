/* key_sign.c - signatures made and checked with SSH keys (key.h). */
#include "key_int.h"

/* ---- signatures ---- */

/* string "ssh-ed25519" || uint32 64: the fixed head of every signature. */
static const unsigned char ed25519_sig_head[] = {
	0, 0, 0, 11, 's', 's', 'h', '-', 'e', 'd', '2', '5', '5', '1', '9',
	0, 0, 0, ED25519_SIG_LEN };

static int
sign_ed25519(const struct jit_key *k, const unsigned char *data, size_t len,
    struct jit_buf *sig)
{
	unsigned char *p;
	size_t keep = jit_buf_len(sig);
	int r;

	if ((r = jit_buf_reserve(sig, sizeof(ed25519_sig_head) +
	    ED25519_SIG_LEN, &p)) != 0)
		return r;
	memcpy(p, ed25519_sig_head, sizeof(ed25519_sig_head));
	if (crypto_sign_detached(p + sizeof(ed25519_sig_head), NULL, data, len,
	    k->ed_sk) != 0) {
		/* Cannot happen with libsodium; undo the reservation. */
		jit_buf_truncate(sig, keep);
		return JIT_ERR_CRYPTO;
	}
	return 0;
}

/* One-shot EVP sign into out[*outlen] (capacity *outlen on entry). */
static int
evp_sign(EVP_PKEY *pkey, const EVP_MD *md, const unsigned char *data,
    size_t len, unsigned char *out, size_t *outlen)
{
	EVP_MD_CTX *ctx = NULL;
	size_t cap = *outlen, n = 0;
	int r = JIT_ERR_CRYPTO;

	*outlen = 0;
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return JIT_ERR_ALLOC;
	if (EVP_DigestSignInit(ctx, NULL, md, NULL, pkey) != 1 ||
	    EVP_DigestSign(ctx, NULL, &n, data, len) != 1 || n > cap)
		goto out;
	n = cap;
	if (EVP_DigestSign(ctx, out, &n, data, len) != 1)
		goto out;
	*outlen = n;
	r = 0;
out:
	if (r != 0)
		ERR_clear_error();
	EVP_MD_CTX_free(ctx);
	return r;
}

static int
sign_ecdsa(const struct jit_key *k, const unsigned char *data, size_t len,
    struct jit_buf *sig)
{
	const struct keytype *kt = jit_key__type(k->type);
	struct jit_buf inner = JIT_BUF_INIT, whole = JIT_BUF_INIT;
	unsigned char der[256];
	const unsigned char *dp = der;
	size_t derlen = sizeof(der);
	ECDSA_SIG *es = NULL;
	const BIGNUM *sr, *ss;
	int r = JIT_ERR_INTERNAL;

	if ((r = evp_sign(k->pkey, kt->md(), data, len, der, &derlen)) != 0)
		goto out;
	if ((es = d2i_ECDSA_SIG(NULL, &dp, (long)derlen)) == NULL) {
		r = JIT_ERR_CRYPTO;
		goto out;
	}
	ECDSA_SIG_get0(es, &sr, &ss);
	if ((r = jit_key__put_bn(&inner, sr)) != 0 ||
	    (r = jit_key__put_bn(&inner, ss)) != 0 ||
	    (r = jit_buf_put_cstring(&whole, kt->ssh_name)) != 0 ||
	    (r = jit_buf_put_stringb(&whole, &inner)) != 0 ||
	    (r = jit_buf_put(sig, jit_buf_ptr(&whole),
	    jit_buf_len(&whole))) != 0)
		goto out;
	r = 0;
out:
	ECDSA_SIG_free(es);
	jit_buf_release(&inner);
	jit_buf_release(&whole);
	return r;
}

static int
sign_rsa(const struct jit_key *k, const unsigned char *data, size_t len,
    struct jit_buf *sig)
{
	struct jit_buf whole = JIT_BUF_INIT;
	unsigned char s[RSA_MAX_BITS / 8];
	size_t slen = sizeof(s);
	int r = JIT_ERR_INTERNAL;

	if ((r = evp_sign(k->pkey, EVP_sha512(), data, len, s, &slen)) != 0)
		goto out;
	if (slen != (size_t)EVP_PKEY_get_size(k->pkey)) {
		r = JIT_ERR_CRYPTO;
		goto out;
	}
	if ((r = jit_buf_put_cstring(&whole, "rsa-sha2-512")) != 0 ||
	    (r = jit_buf_put_string(&whole, s, slen)) != 0 ||
	    (r = jit_buf_put(sig, jit_buf_ptr(&whole),
	    jit_buf_len(&whole))) != 0)
		goto out;
	r = 0;
out:
	jit_buf_release(&whole);
	return r;
}

int
jit_key_sign(const struct jit_key *k, const unsigned char *data,
    size_t len, struct jit_buf *sig)
{
	if (k == NULL || sig == NULL || (data == NULL && len > 0))
		return JIT_ERR_INVALID_ARGUMENT;
	if (!k->has_private)
		return JIT_ERR_KEY_NO_PRIVATE;
	switch (k->type) {
	case JIT_KEY_ED25519:
		return sign_ed25519(k, data, len, sig);
	case JIT_KEY_ECDSA_P256:
	case JIT_KEY_ECDSA_P384:
	case JIT_KEY_ECDSA_P521:
		return sign_ecdsa(k, data, len, sig);
	case JIT_KEY_RSA:
		return sign_rsa(k, data, len, sig);
	default:
		return JIT_ERR_KEY_TYPE_UNKNOWN;
	}
}

int
jit_key_signer(void *ctx, const unsigned char *data, size_t len,
    struct jit_buf *sig)
{
	return jit_key_sign((const struct jit_key *)ctx, data, len, sig);
}

static int
evp_verify(EVP_PKEY *pkey, const EVP_MD *md, const unsigned char *s,
    size_t slen, const unsigned char *data, size_t len)
{
	EVP_MD_CTX *ctx = NULL;
	int r = JIT_ERR_SIGNATURE_INVALID;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return JIT_ERR_ALLOC;
	if (EVP_DigestVerifyInit(ctx, NULL, md, NULL, pkey) != 1)
		goto out;
	if (EVP_DigestVerify(ctx, s, slen, data, len) == 1)
		r = 0;
out:
	ERR_clear_error();
	EVP_MD_CTX_free(ctx);
	return r;
}

static int
verify_ecdsa(const struct jit_key *k, const unsigned char *s, size_t slen,
    const unsigned char *data, size_t len)
{
	const struct keytype *kt = jit_key__type(k->type);
	struct jit_buf b;
	const unsigned char *rp, *sp;
	size_t rlen, splen;
	unsigned char der[256], *dp = der;
	ECDSA_SIG *es = NULL;
	BIGNUM *br = NULL, *bs = NULL;
	int n, r = JIT_ERR_SIGNATURE_INVALID;

	jit_buf_view(&b, s, slen);
	if (jit_buf_get_mpint_direct(&b, &rp, &rlen) != 0 ||
	    jit_buf_get_mpint_direct(&b, &sp, &splen) != 0 ||
	    jit_buf_len(&b) != 0 || rlen == 0 || splen == 0 ||
	    rlen > kt->field_len || splen > kt->field_len)
		goto out;
	if ((br = BN_bin2bn(rp, (int)rlen, NULL)) == NULL ||
	    (bs = BN_bin2bn(sp, (int)splen, NULL)) == NULL ||
	    (es = ECDSA_SIG_new()) == NULL) {
		r = JIT_ERR_ALLOC;
		goto out;
	}
	if (ECDSA_SIG_set0(es, br, bs) != 1) {
		r = JIT_ERR_CRYPTO;
		goto out;
	}
	br = bs = NULL;
	if ((n = i2d_ECDSA_SIG(es, NULL)) <= 0 || (size_t)n > sizeof(der) ||
	    i2d_ECDSA_SIG(es, &dp) != n) {
		r = JIT_ERR_CRYPTO;
		goto out;
	}
	r = evp_verify(k->pkey, kt->md(), der, (size_t)n, data, len);
out:
	BN_free(br);
	BN_free(bs);
	ECDSA_SIG_free(es);
	return r;
}

int
jit_key_verify(const struct jit_key *k, const unsigned char *sig,
    size_t siglen, const unsigned char *data, size_t len)
{
	struct jit_buf b;
	const unsigned char *alg, *s;
	size_t alen, slen;
	const char *want;
	const EVP_MD *md;

	if (k == NULL || sig == NULL || (data == NULL && len > 0))
		return JIT_ERR_INVALID_ARGUMENT;
	jit_buf_view(&b, sig, siglen);
	if (jit_buf_get_string_direct(&b, &alg, &alen) != 0 ||
	    jit_buf_get_string_direct(&b, &s, &slen) != 0 ||
	    jit_buf_len(&b) != 0)
		return JIT_ERR_SIGNATURE_INVALID;
	switch (k->type) {
	case JIT_KEY_ED25519:
		if (alen != 11 || memcmp(alg, "ssh-ed25519", 11) != 0 ||
		    slen != ED25519_SIG_LEN)
			return JIT_ERR_SIGNATURE_INVALID;
		if (crypto_sign_verify_detached(s, data, len, k->ed_pk) != 0)
			return JIT_ERR_SIGNATURE_INVALID;
		return 0;
	case JIT_KEY_ECDSA_P256:
	case JIT_KEY_ECDSA_P384:
	case JIT_KEY_ECDSA_P521:
		want = jit_key_type_ssh_name(k->type);
		if (alen != strlen(want) || memcmp(alg, want, alen) != 0)
			return JIT_ERR_SIGNATURE_INVALID;
		return verify_ecdsa(k, s, slen, data, len);
	case JIT_KEY_RSA:
		if (alen == 12 && memcmp(alg, "rsa-sha2-256", 12) == 0)
			md = EVP_sha256();
		else if (alen == 12 && memcmp(alg, "rsa-sha2-512", 12) == 0)
			md = EVP_sha512();
		else if (alen == 7 && memcmp(alg, "ssh-rsa", 7) == 0)
			return JIT_ERR_SIGNATURE_ALG;
		else
			return JIT_ERR_SIGNATURE_INVALID;
		/* PKCS#1 v1.5 signatures are exactly the modulus length. */
		if (slen != (size_t)EVP_PKEY_get_size(k->pkey))
			return JIT_ERR_SIGNATURE_INVALID;
		return evp_verify(k->pkey, md, s, slen, data, len);
	default:
		return JIT_ERR_KEY_TYPE_UNKNOWN;
	}
}

