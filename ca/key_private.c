/* key_private.c - private key files: openssh-key-v1 and PEM in, openssh-key-v1
 * out, and the private fields of the agent protocol (key.h). */
#include "key_int.h"

/* ---- private keys ---- */

/* Ed25519 private key from its 32-byte seed. */
static int
ed25519_from_seed(const unsigned char *seed, struct jit_key **out)
{
	struct jit_key *k = NULL;
	int r;

	*out = NULL;
	if ((r = jit_key__key_new(JIT_KEY_ED25519, 1, &k)) != 0)
		return r;
	if (crypto_sign_seed_keypair(k->ed_pk, k->ed_sk, seed) != 0) {
		jit_key_free(k);
		return JIT_ERR_CRYPTO;
	}
	k->has_private = 1;
	if ((r = jit_key__key_cache_blob(k, NULL, 0)) != 0) {
		jit_key_free(k);
		return r;
	}
	*out = k;
	return 0;
}

/* A private key of type t whose pkey is already validated. */
static int
key_from_pkey(enum jit_key_type t, EVP_PKEY **pkey, struct jit_key **out)
{
	struct jit_key *k = NULL;
	int r;

	*out = NULL;
	if ((r = jit_key__key_new(t, 1, &k)) != 0)
		return r;
	k->pkey = *pkey;
	*pkey = NULL;
	k->has_private = 1;
	if (t == JIT_KEY_RSA)
		k->bits = (unsigned)EVP_PKEY_get_bits(k->pkey);
	if ((r = jit_key__key_cache_blob(k, NULL, 0)) != 0) {
		jit_key_free(k);
		return r;
	}
	*out = k;
	return 0;
}

/* RSA private numbers in OpenSSH's order n, e, d, iqmp, p, q. */
static int
rsa_private_from_bns(const BIGNUM *n, const BIGNUM *e, const BIGNUM *d,
    const BIGNUM *iqmp, const BIGNUM *p, const BIGNUM *q,
    struct jit_key **out)
{
	EVP_PKEY *pkey = NULL;
	int r;

	*out = NULL;
	if (BN_num_bits(n) < JIT_RSA_MIN_USER_BITS)
		return JIT_ERR_KEY_TOO_SMALL;
	if ((r = jit_key__rsa_from_parts(n, e, d, iqmp, p, q, &pkey)) != 0)
		return r;
	r = key_from_pkey(JIT_KEY_RSA, &pkey, out);
	EVP_PKEY_free(pkey);
	return r;
}

/* The private section of one key in an openssh-key-v1 container, after
 * the check words: string type, fields. */
static int
get_openssh_private(struct jit_buf *b, struct jit_key **out)
{
	const unsigned char *name, *p, *q, *sk;
	size_t nlen, len, qlen, sklen;
	enum jit_key_type t;
	const struct keytype *kt;
	BIGNUM *n = NULL, *e = NULL, *d = NULL, *iqmp = NULL, *bp = NULL,
	    *bq = NULL;
	EVP_PKEY *pkey = NULL;
	struct jit_key *k = NULL;
	int r = JIT_ERR_INTERNAL;

	*out = NULL;
	if ((r = jit_buf_get_string_direct(b, &name, &nlen)) != 0)
		goto out;
	if ((t = jit_key_type_from_ssh_name((const char *)name, nlen)) ==
	    JIT_KEY_UNKNOWN) {
		r = jit_key__unknown_type_error(name, nlen);
		goto out;
	}
	kt = jit_key__type(t);
	switch (t) {
	case JIT_KEY_ED25519:
		if ((r = jit_buf_get_string_direct(b, &p, &len)) != 0 ||
		    (r = jit_buf_get_string_direct(b, &sk, &sklen)) != 0)
			goto out;
		if (len != ED25519_PK_LEN || sklen != ED25519_SK_LEN) {
			r = JIT_ERR_BAD_PRIVATE_KEY;
			goto out;
		}
		if ((r = ed25519_from_seed(sk, &k)) != 0)
			goto out;
		/* sk is seed || pk: both copies must be the derived key. */
		if (memcmp(k->ed_pk, p, ED25519_PK_LEN) != 0 ||
		    memcmp(k->ed_sk + 32, sk + 32, ED25519_PK_LEN) != 0) {
			r = JIT_ERR_KEY_MISMATCH;
			goto out;
		}
		break;
	case JIT_KEY_ECDSA_P256:
	case JIT_KEY_ECDSA_P384:
	case JIT_KEY_ECDSA_P521:
		if ((r = jit_key__get_curve(b, kt,
		    JIT_ERR_BAD_PRIVATE_KEY)) != 0 ||
		    (r = jit_buf_get_string_direct(b, &q, &qlen)) != 0 ||
		    (r = jit_key__get_bn(b, 1, &d)) != 0 ||
		    (r = jit_key__ec_from_parts(kt, q, qlen, d, &pkey)) != 0 ||
		    (r = key_from_pkey(t, &pkey, &k)) != 0)
			goto out;
		break;
	case JIT_KEY_RSA:
		if ((r = jit_key__get_bn(b, 0, &n)) != 0 ||
		    (r = jit_key__get_bn(b, 0, &e)) != 0 ||
		    (r = jit_key__get_bn(b, 1, &d)) != 0 ||
		    (r = jit_key__get_bn(b, 1, &iqmp)) != 0 ||
		    (r = jit_key__get_bn(b, 1, &bp)) != 0 ||
		    (r = jit_key__get_bn(b, 1, &bq)) != 0 ||
		    (r = rsa_private_from_bns(n, e, d, iqmp, bp, bq, &k)) != 0)
			goto out;
		break;
	default:
		r = JIT_ERR_KEY_TYPE_UNKNOWN;
		goto out;
	}
	*out = k;
	k = NULL;
	r = 0;
out:
	BN_free(n);
	BN_free(e);
	BN_clear_free(d);
	BN_clear_free(iqmp);
	BN_clear_free(bp);
	BN_clear_free(bq);
	EVP_PKEY_free(pkey);
	jit_key_free(k);
	return r;
}

/* The binary openssh-key-v1 container (see PROTOCOL.key). */
static int
parse_openssh_binary(const unsigned char *data, size_t len,
    struct jit_key **out)
{
	struct jit_buf b, priv;
	const unsigned char *cipher, *kdf, *kdfopts, *pub, *cmt;
	size_t clen, klen, kolen, publen, cmtlen;
	uint32_t nkeys, chk1, chk2;
	uint8_t pad;
	struct jit_key *k = NULL;
	int r = JIT_ERR_INTERNAL;

	*out = NULL;
	jit_buf_view(&b, data, len);
	if (len < OPENSSH_MAGIC_LEN ||
	    memcmp(data, OPENSSH_MAGIC, OPENSSH_MAGIC_LEN) != 0) {
		r = JIT_ERR_INVALID_FORMAT;
		goto out;
	}
	if ((r = jit_buf_skip(&b, OPENSSH_MAGIC_LEN)) != 0 ||
	    (r = jit_buf_get_string_direct(&b, &cipher, &clen)) != 0 ||
	    (r = jit_buf_get_string_direct(&b, &kdf, &klen)) != 0 ||
	    (r = jit_buf_get_string_direct(&b, &kdfopts, &kolen)) != 0)
		goto out;
	if (clen != 4 || memcmp(cipher, "none", 4) != 0 ||
	    klen != 4 || memcmp(kdf, "none", 4) != 0) {
		r = JIT_ERR_KEY_ENCRYPTED;
		goto out;
	}
	if (kolen != 0) {
		r = JIT_ERR_INVALID_FORMAT;
		goto out;
	}
	if ((r = jit_buf_get_u32(&b, &nkeys)) != 0)
		goto out;
	if (nkeys != 1) {
		r = JIT_ERR_INVALID_FORMAT;
		goto out;
	}
	if ((r = jit_buf_get_string_direct(&b, &pub, &publen)) != 0 ||
	    (r = jit_buf_get_stringb_view(&b, &priv)) != 0)
		goto out;
	if (jit_buf_len(&b) != 0) {
		r = JIT_ERR_TRAILING_DATA;
		goto out;
	}
	if (jit_buf_len(&priv) % OPENSSH_BLOCK != 0) {
		r = JIT_ERR_INVALID_FORMAT;
		goto out;
	}
	if ((r = jit_buf_get_u32(&priv, &chk1)) != 0 ||
	    (r = jit_buf_get_u32(&priv, &chk2)) != 0)
		goto out;
	if (chk1 != chk2) {
		r = JIT_ERR_INVALID_FORMAT;
		goto out;
	}
	if ((r = get_openssh_private(&priv, &k)) != 0 ||
	    (r = jit_buf_get_string_direct(&priv, &cmt, &cmtlen)) != 0)
		goto out;
	/* Padding is 1, 2, 3, ... up to a multiple of the block size,
	 * nothing else: OpenSSH pads to 8, libssh to 16 (key_libssh.c hands
	 * us its exports), and OpenSSH reads either. */
	if (jit_buf_len(&priv) >= 2 * OPENSSH_BLOCK) {
		r = JIT_ERR_INVALID_FORMAT;
		goto out;
	}
	for (uint8_t i = 1; jit_buf_len(&priv) > 0; i++) {
		if ((r = jit_buf_get_u8(&priv, &pad)) != 0)
			goto out;
		if (pad != i) {
			r = JIT_ERR_INVALID_FORMAT;
			goto out;
		}
	}
	if (publen != jit_buf_len(&k->blob) ||
	    memcmp(pub, jit_buf_ptr(&k->blob), publen) != 0) {
		r = JIT_ERR_KEY_MISMATCH;
		goto out;
	}
	*out = k;
	k = NULL;
	r = 0;
out:
	jit_key_free(k);
	return r;
}

static int
is_b64_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '=';
}

static int
only_space(const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!jit_key__is_space((char)p[i]))
			return 0;
	return 1;
}

/* The armoured text form of openssh-key-v1. */
static int
parse_openssh_armor(const unsigned char *data, size_t len,
    struct jit_key **out)
{
	struct jit_buf text = JIT_BUF_INIT;
	const unsigned char *p, *end;
	unsigned char *bin = NULL;
	size_t blen = 0, bl = sizeof(OPENSSH_BEGIN) - 1,
	    el = sizeof(OPENSSH_END) - 1;
	int r = JIT_ERR_INTERNAL;

	*out = NULL;
	if ((p = memmem(data, len, OPENSSH_BEGIN, bl)) == NULL ||
	    !only_space(data, (size_t)(p - data))) {
		r = JIT_ERR_INVALID_FORMAT;
		goto out;
	}
	p += bl;
	if ((end = memmem(p, len - (size_t)(p - data), OPENSSH_END, el)) ==
	    NULL || !only_space(end + el, len - (size_t)(end + el - data))) {
		r = JIT_ERR_INVALID_FORMAT;
		goto out;
	}
	for (; p < end; p++) {
		if (jit_key__is_space((char)*p))
			continue;
		if (!is_b64_char(*p)) {
			r = JIT_ERR_INVALID_FORMAT;
			goto out;
		}
		if ((r = jit_buf_put_u8(&text, *p)) != 0)
			goto out;
	}
	if ((r = jit_b64_decode((const char *)jit_buf_ptr(&text),
	    jit_buf_len(&text), &bin, &blen)) != 0)
		goto out;
	r = parse_openssh_binary(bin, blen, out);
out:
	if (bin != NULL) {
		jit_wipe(bin, blen);
		free(bin);
	}
	jit_buf_release(&text);
	return r;
}

/* Never prompt: an encrypted PEM key is refused, not asked about. */
static int
no_passphrase_cb(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/* Re-validate an OpenSSL-loaded key through the same constructors the
 * openssh-key-v1 reader uses, so both paths enforce the same checks. */
static int
key_from_openssl(EVP_PKEY *pk, struct jit_key **out)
{
	unsigned char seed[32], q[EC_MAX_POINT];
	size_t slen = sizeof(seed), qlen;
	char group[64];
	enum jit_key_type t;
	const struct keytype *kt;
	BIGNUM *n = NULL, *e = NULL, *d = NULL, *iqmp = NULL, *p = NULL,
	    *bq = NULL;
	EVP_PKEY *pkey = NULL;
	int r = JIT_ERR_INTERNAL;

	*out = NULL;
	switch (EVP_PKEY_get_base_id(pk)) {
	case EVP_PKEY_ED25519:
		if (EVP_PKEY_get_raw_private_key(pk, seed, &slen) != 1 ||
		    slen != sizeof(seed)) {
			r = JIT_ERR_BAD_PRIVATE_KEY;
			goto out;
		}
		r = ed25519_from_seed(seed, out);
		goto out;
	case EVP_PKEY_EC:
		if (EVP_PKEY_get_utf8_string_param(pk,
		    OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
		    NULL) != 1 ||
		    (t = jit_key__ec_type_from_group(group)) == JIT_KEY_UNKNOWN) {
			r = JIT_ERR_KEY_TYPE_UNSUPPORTED;
			goto out;
		}
		kt = jit_key__type(t);
		/* The file may have stored the point compressed. */
		(void)EVP_PKEY_set_utf8_string_param(pk,
		    OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
		    OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_UNCOMPRESSED);
		if ((r = jit_key__ec_get_point(pk, kt, q, &qlen)) != 0)
			goto out;
		if (EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_PRIV_KEY,
		    &d) != 1) {
			r = JIT_ERR_BAD_PRIVATE_KEY;
			goto out;
		}
		if ((r = jit_key__ec_from_parts(kt, q, qlen, d, &pkey)) != 0)
			goto out;
		r = key_from_pkey(t, &pkey, out);
		goto out;
	case EVP_PKEY_RSA:
		if (EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_N, &n) != 1 ||
		    EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_E, &e) != 1 ||
		    EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_D, &d) != 1 ||
		    EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_FACTOR1,
		    &p) != 1 ||
		    EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_FACTOR2,
		    &bq) != 1 ||
		    EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_COEFFICIENT1,
		    &iqmp) != 1) {
			r = JIT_ERR_BAD_PRIVATE_KEY;
			goto out;
		}
		r = rsa_private_from_bns(n, e, d, iqmp, p, bq, out);
		goto out;
	case EVP_PKEY_DSA:
		r = JIT_ERR_KEY_TYPE_UNSUPPORTED;
		goto out;
	default:
		r = JIT_ERR_KEY_TYPE_UNKNOWN;
		goto out;
	}
out:
	jit_wipe(seed, sizeof(seed));
	BN_free(n);
	BN_free(e);
	BN_clear_free(d);
	BN_clear_free(iqmp);
	BN_clear_free(p);
	BN_clear_free(bq);
	EVP_PKEY_free(pkey);
	ERR_clear_error();
	return r;
}

static int
parse_pem(const unsigned char *data, size_t len, struct jit_key **out)
{
	BIO *bio = NULL;
	EVP_PKEY *pk = NULL;
	int r = JIT_ERR_INTERNAL;

	*out = NULL;
	if (memmem(data, len, "ENCRYPTED", 9) != NULL)
		return JIT_ERR_KEY_ENCRYPTED;
	if (memmem(data, len, "-----BEGIN DSA ", 15) != NULL)
		return JIT_ERR_KEY_TYPE_UNSUPPORTED;
	if ((bio = BIO_new_mem_buf(data, (int)len)) == NULL)
		return JIT_ERR_ALLOC;
	if ((pk = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase_cb,
	    NULL)) == NULL) {
		r = JIT_ERR_INVALID_FORMAT;
		goto out;
	}
	r = key_from_openssl(pk, out);
out:
	ERR_clear_error();
	EVP_PKEY_free(pk);
	BIO_free(bio);
	return r;
}

int
jit_key_parse_private(const unsigned char *data, size_t len,
    struct jit_key **out)
{
	int r;

	*out = NULL;
	if (data == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	if (len > MAX_KEY_FILE)
		return JIT_ERR_INVALID_FORMAT;
	/* Make sure libsodium is ready before any key is built, and
	 * OpenSSL's secure heap before it holds private numbers. */
	if ((r = jit_key__crypto_ready(1)) != 0)
		return r;
	if (len >= OPENSSH_MAGIC_LEN &&
	    memcmp(data, OPENSSH_MAGIC, OPENSSH_MAGIC_LEN) == 0)
		r = parse_openssh_binary(data, len, out);
	else if (memmem(data, len, OPENSSH_BEGIN,
	    sizeof(OPENSSH_BEGIN) - 1) != NULL)
		r = parse_openssh_armor(data, len, out);
	else if (memmem(data, len, "-----BEGIN ", 11) != NULL)
		r = parse_pem(data, len, out);
	else
		r = JIT_ERR_INVALID_FORMAT;
	return r;
}

int
jit_key_load_private(const char *path, struct jit_key **out)
{
	unsigned char *data = NULL;
	size_t len = 0;
	int r = JIT_ERR_INTERNAL;

	*out = NULL;
	if ((r = jit_read_file(path, MAX_KEY_FILE, &data, &len)) != 0)
		goto out;
	r = jit_key_parse_private(data, len, out);
out:
	if (data != NULL) {
		jit_wipe(data, len);
		free(data);
	}
	return r;
}

/* Fields which of private key k, appended to b only when all are
 * written. */
static int
put_private(const struct jit_key *k, enum key_fields which,
    struct jit_buf *b)
{
	struct jit_buf tmp = JIT_BUF_INIT;
	int r;

	if (k == NULL || b == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	if (!k->has_private)
		return JIT_ERR_KEY_NO_PRIVATE;
	if ((r = jit_key__put_fields(k, which, &tmp)) == 0)
		r = jit_buf_put(b, jit_buf_ptr(&tmp), jit_buf_len(&tmp));
	jit_buf_release(&tmp);
	return r;
}

int
jit_key_put_private_fields(const struct jit_key *k, struct jit_buf *b)
{
	return put_private(k, KF_PRIVATE, b);
}

int
jit_key_put_agent_private_fields(const struct jit_key *k,
    struct jit_buf *b)
{
	return put_private(k, KF_AGENT_PRIVATE, b);
}

int
jit_key_put_private_openssh(const struct jit_key *k, const char *comment,
    struct jit_buf *b)
{
	struct jit_buf bin = JIT_BUF_INIT, priv = JIT_BUF_INIT,
	    text = JIT_BUF_INIT;
	char *b64 = NULL;
	size_t b64len = 0;
	uint32_t chk;
	int r = JIT_ERR_INTERNAL;

	if (k == NULL || b == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	if (!k->has_private)
		return JIT_ERR_KEY_NO_PRIVATE;
	randombytes_buf(&chk, sizeof(chk));
	if ((r = jit_buf_put_u32(&priv, chk)) != 0 ||
	    (r = jit_buf_put_u32(&priv, chk)) != 0 ||
	    (r = jit_buf_put_cstring(&priv,
	    jit_key_type_ssh_name(k->type))) != 0 ||
	    (r = jit_key__put_fields(k, KF_PRIVATE, &priv)) != 0 ||
	    (r = jit_buf_put_cstring(&priv, comment == NULL ? "" :
	    comment)) != 0)
		goto out;
	for (uint8_t i = 1; jit_buf_len(&priv) % OPENSSH_BLOCK != 0; i++)
		if ((r = jit_buf_put_u8(&priv, i)) != 0)
			goto out;
	if ((r = jit_buf_put(&bin, OPENSSH_MAGIC, OPENSSH_MAGIC_LEN)) != 0 ||
	    (r = jit_buf_put_cstring(&bin, "none")) != 0 ||
	    (r = jit_buf_put_cstring(&bin, "none")) != 0 ||
	    (r = jit_buf_put_string(&bin, NULL, 0)) != 0 ||
	    (r = jit_buf_put_u32(&bin, 1)) != 0 ||
	    (r = jit_key_put_public(k, &bin)) != 0 ||
	    (r = jit_buf_put_stringb(&bin, &priv)) != 0)
		goto out;
	if ((r = jit_b64_encode(jit_buf_ptr(&bin), jit_buf_len(&bin),
	    &b64)) != 0)
		goto out;
	b64len = strlen(b64);
	if ((r = jit_buf_put(&text, OPENSSH_BEGIN "\n",
	    sizeof(OPENSSH_BEGIN))) != 0)
		goto out;
	for (size_t i = 0; i < b64len; i += OPENSSH_WRAP) {
		size_t n = b64len - i < OPENSSH_WRAP ? b64len - i :
		    OPENSSH_WRAP;
		if ((r = jit_buf_put(&text, b64 + i, n)) != 0 ||
		    (r = jit_buf_put_u8(&text, '\n')) != 0)
			goto out;
	}
	if ((r = jit_buf_put(&text, OPENSSH_END "\n",
	    sizeof(OPENSSH_END))) != 0 ||
	    (r = jit_buf_put(b, jit_buf_ptr(&text), jit_buf_len(&text))) != 0)
		goto out;
	r = 0;
out:
	if (b64 != NULL) {
		jit_wipe(b64, b64len);
		free(b64);
	}
	jit_buf_release(&bin);
	jit_buf_release(&priv);
	jit_buf_release(&text);
	return r;
}

int
jit_key_save_private(const struct jit_key *k, const char *path,
    const char *comment)
{
	struct jit_buf b = JIT_BUF_INIT;
	int r = JIT_ERR_INTERNAL;

	if (k == NULL || path == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	if ((r = jit_key_put_private_openssh(k, comment, &b)) != 0)
		goto out;
	r = jit_write_file_atomic(path, jit_buf_ptr(&b), jit_buf_len(&b),
	    0600, 1);
out:
	jit_buf_release(&b);
	return r;
}

