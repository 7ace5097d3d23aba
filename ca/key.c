/* key.c - SSH keys; see key.h for the contract. */
#include "key_int.h"

static const struct keytype keytypes[] = {
	{ JIT_KEY_ED25519, "ssh-ed25519",
	    "ssh-ed25519-cert-v01@openssh.com", "ed25519", "ed25519",
	    NULL, NULL, 256, 0, NULL },
	{ JIT_KEY_ECDSA_P256, "ecdsa-sha2-nistp256",
	    "ecdsa-sha2-nistp256-cert-v01@openssh.com", "ecdsa-p256", "ecdsa",
	    "nistp256", "prime256v1", 256, 32, EVP_sha256 },
	{ JIT_KEY_ECDSA_P384, "ecdsa-sha2-nistp384",
	    "ecdsa-sha2-nistp384-cert-v01@openssh.com", "ecdsa-p384", "ecdsa",
	    "nistp384", "secp384r1", 384, 48, EVP_sha384 },
	{ JIT_KEY_ECDSA_P521, "ecdsa-sha2-nistp521",
	    "ecdsa-sha2-nistp521-cert-v01@openssh.com", "ecdsa-p521", "ecdsa",
	    "nistp521", "secp521r1", 521, 66, EVP_sha512 },
	{ JIT_KEY_RSA, "ssh-rsa", "ssh-rsa-cert-v01@openssh.com", "rsa",
	    "rsa", NULL, NULL, 0, 0, NULL },
};
#define NKEYTYPES (sizeof(keytypes) / sizeof(keytypes[0]))

const struct keytype *
jit_key__type(enum jit_key_type t)
{
	for (size_t i = 0; i < NKEYTYPES; i++)
		if (keytypes[i].type == t)
			return &keytypes[i];
	return NULL;
}

/* ---- names ---- */

const char *
jit_key_type_ssh_name(enum jit_key_type t)
{
	const struct keytype *kt = jit_key__type(t);

	return kt == NULL ? NULL : kt->ssh_name;
}

const char *
jit_key_type_cert_name(enum jit_key_type t)
{
	const struct keytype *kt = jit_key__type(t);

	return kt == NULL ? NULL : kt->cert_name;
}

const char *
jit_key_type_short_name(enum jit_key_type t)
{
	const struct keytype *kt = jit_key__type(t);

	return kt == NULL ? NULL : kt->short_name;
}

const char *
jit_key_type_family(enum jit_key_type t)
{
	const struct keytype *kt = jit_key__type(t);

	return kt == NULL ? NULL : kt->family;
}

enum jit_key_type
jit_key_type_from_short_name(const char *s)
{
	if (s == NULL)
		return JIT_KEY_UNKNOWN;
	if (strcmp(s, "ecdsa") == 0)
		return JIT_KEY_ECDSA_P256;
	for (size_t i = 0; i < NKEYTYPES; i++)
		if (strcmp(s, keytypes[i].short_name) == 0)
			return keytypes[i].type;
	return JIT_KEY_UNKNOWN;
}

enum jit_key_type
jit_key_type_from_ssh_name(const char *s, size_t len)
{
	if (s == NULL)
		return JIT_KEY_UNKNOWN;
	for (size_t i = 0; i < NKEYTYPES; i++) {
		const char *n = keytypes[i].ssh_name;
		if (strlen(n) == len && memcmp(s, n, len) == 0)
			return keytypes[i].type;
	}
	return JIT_KEY_UNKNOWN;
}

/*
 * Classify a key type name that is not one of ours, so callers get the
 * precise refusal: a certificate, DSA or a security-key type.
 */
int
jit_key__unknown_type_error(const unsigned char *s, size_t len)
{
	size_t sl = sizeof(CERT_SUFFIX) - 1;

	if (len >= sl && memcmp(s + len - sl, CERT_SUFFIX, sl) == 0)
		return JIT_ERR_KEY_IS_CERT;
	if ((len == 7 && memcmp(s, "ssh-dss", 7) == 0) ||
	    (len >= 3 && memcmp(s, "sk-", 3) == 0))
		return JIT_ERR_KEY_TYPE_UNSUPPORTED;
	return JIT_ERR_KEY_TYPE_UNKNOWN;
}

/* ---- lifecycle ---- */

/*
 * Private key material is kept out of core dumps and swap.  A private
 * struct jit_key (which holds the Ed25519 seed) gets pages of its own,
 * marked MADV_DONTDUMP and locked with mlock.  ECDSA and RSA private
 * numbers live inside OpenSSL, which puts ECDSA ones in its secure heap
 * (locked, not dumped) once that heap exists: it is made before the first
 * private key.  Locking fails when RLIMIT_MEMLOCK is too small; the key
 * then still works, unlocked, and jit_key_memory_locked() says so.
 */
#define SECURE_HEAP_SIZE (256 * 1024)
#define SECURE_HEAP_MIN 32

static pthread_once_t secure_once = PTHREAD_ONCE_INIT;
static int secure_heap;         /* CRYPTO_secure_malloc_init's answer */

static void
secure_heap_init_once(void)
{
	secure_heap = CRYPTO_secure_malloc_init(SECURE_HEAP_SIZE,
	    SECURE_HEAP_MIN);
}

static struct jit_key *
secret_new(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	size_t len;
	struct jit_key *k;

	if (pg <= 0)
		pg = 4096;
	len = (sizeof(*k) + (size_t)pg - 1) / (size_t)pg * (size_t)pg;
	k = mmap(NULL, len, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (k == MAP_FAILED)
		return NULL;
#ifdef MADV_DONTDUMP
	(void)madvise(k, len, MADV_DONTDUMP);
#endif
	k->map_len = len;  /* the rest is zero, as from calloc */
	k->locked = mlock(k, len) == 0;
	return k;
}

int
jit_key__crypto_ready(int priv)
{
	if (jit_sodium_ready() != 0)
		return JIT_ERR_CRYPTO;
	if (priv)
		pthread_once(&secure_once, secure_heap_init_once);
	return 0;
}

/* A new key of type t; priv: it will hold a private part (secret_new). */
int
jit_key__key_new(enum jit_key_type t, int priv, struct jit_key **out)
{
	struct jit_key *k;

	*out = NULL;
	if (jit_sodium_ready() != 0)
		return JIT_ERR_CRYPTO;
	if (jit_key__type(t) == NULL)
		return JIT_ERR_KEY_TYPE_UNKNOWN;
	if (priv)
		pthread_once(&secure_once, secure_heap_init_once);
	if ((k = priv ? secret_new() : calloc(1, sizeof(*k))) == NULL)
		return JIT_ERR_ALLOC;
	k->type = t;
	k->bits = jit_key__type(t)->bits;
	jit_buf_init(&k->blob);
	*out = k;
	return 0;
}

void
jit_key_free(struct jit_key *k)
{
	size_t map_len;
	int locked;

	if (k == NULL)
		return;
	jit_buf_release(&k->blob);
	EVP_PKEY_free(k->pkey);
	map_len = k->map_len;
	locked = k->locked;
	jit_wipe(k, sizeof(*k));
	if (map_len == 0) {
		free(k);
		return;
	}
	if (locked)
		munlock(k, map_len);
	munmap(k, map_len);
}

int
jit_key_memory_locked(const struct jit_key *k)
{
	if (k == NULL || !k->has_private || !k->locked)
		return 0;
	/* OpenSSL 3.0 imports RSA private numbers (from a key file) onto
	 * its ordinary heap; only keys it generates itself are secure. */
	if (k->type == JIT_KEY_RSA)
		return 0;
	return k->pkey == NULL || secure_heap == 1;
}

enum jit_key_type
jit_key_type(const struct jit_key *k)
{
	return k == NULL ? JIT_KEY_UNKNOWN : k->type;
}

int
jit_key_has_private(const struct jit_key *k)
{
	return k != NULL && k->has_private;
}

unsigned
jit_key_bits(const struct jit_key *k)
{
	return k == NULL ? 0 : k->bits;
}

/* ---- OpenSSL helpers ---- */

/* Append a BIGNUM as an mpint; the bounce buffer is wiped (may be secret). */
int
jit_key__put_bn(struct jit_buf *b, const BIGNUM *bn)
{
	unsigned char tmp[BN_MAX_BYTES];
	int n, r = JIT_ERR_INTERNAL;

	if (bn == NULL || BN_is_negative(bn))
		return JIT_ERR_INVALID_ARGUMENT;
	n = BN_num_bytes(bn);
	if (n < 0 || (size_t)n > sizeof(tmp))
		return JIT_ERR_INVALID_ARGUMENT;
	if (BN_bn2bin(bn, tmp) != n) {
		r = JIT_ERR_CRYPTO;
		goto out;
	}
	r = jit_buf_put_mpint(b, tmp, (size_t)n);
out:
	jit_wipe(tmp, sizeof(tmp));
	return r;
}

int
jit_key__put_param_bn(struct jit_buf *b, const EVP_PKEY *pkey, const char *name)
{
	BIGNUM *bn = NULL;
	int r;

	if (EVP_PKEY_get_bn_param(pkey, name, &bn) != 1)
		return JIT_ERR_CRYPTO;
	r = jit_key__put_bn(b, bn);
	BN_clear_free(bn);
	return r;
}

/* Read an mpint into a new BIGNUM (secure heap if secret). */
int
jit_key__get_bn(struct jit_buf *b, int secret, BIGNUM **out)
{
	const unsigned char *p;
	size_t len;
	BIGNUM *bn;
	int r;

	*out = NULL;
	if ((r = jit_buf_get_mpint_direct(b, &p, &len)) != 0)
		return r;
	if ((bn = secret ? BN_secure_new() : BN_new()) == NULL)
		return JIT_ERR_ALLOC;
	if (BN_bin2bn(p, (int)len, bn) == NULL) {
		BN_clear_free(bn);
		return JIT_ERR_CRYPTO;
	}
	*out = bn;
	return 0;
}

/* Uncompressed EC point of pkey into q[EC_MAX_POINT]. */
int
jit_key__ec_get_point(const EVP_PKEY *pkey, const struct keytype *kt,
    unsigned char *q, size_t *qlen)
{
	*qlen = 0;
	if (EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PUB_KEY, q,
	    EC_MAX_POINT, qlen) != 1)
		return JIT_ERR_CRYPTO;
	if (*qlen != 1 + 2 * kt->field_len || q[0] != 0x04)
		return JIT_ERR_BAD_PUBLIC_KEY;
	return 0;
}

/* Map an OpenSSL EC group name to our key type. */
enum jit_key_type
jit_key__ec_type_from_group(const char *group)
{
	for (size_t i = 0; i < NKEYTYPES; i++)
		if (keytypes[i].group != NULL &&
		    strcmp(keytypes[i].group, group) == 0)
			return keytypes[i].type;
	return JIT_KEY_UNKNOWN;
}

/*
 * Build an EC key from its SSH parts and validate it: the point must be
 * on the curve and in the group; a private scalar must be in range and
 * match the point.
 */
int
jit_key__get_curve(struct jit_buf *b, const struct keytype *kt, int bad)
{
	const unsigned char *p;
	size_t len;
	int r;

	if ((r = jit_buf_get_string_direct(b, &p, &len)) != 0)
		return r;
	if (len != strlen(kt->curve) || memcmp(p, kt->curve, len) != 0)
		return bad;
	return 0;
}

int
jit_key__ec_from_parts(const struct keytype *kt, const unsigned char *q,
    size_t qlen, const BIGNUM *d, EVP_PKEY **out)
{
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL, *cctx = NULL;
	EVP_PKEY *pkey = NULL;
	int r = JIT_ERR_INTERNAL;

	*out = NULL;
	if (qlen != 1 + 2 * kt->field_len || q[0] != 0x04) {
		r = JIT_ERR_BAD_PUBLIC_KEY;
		goto out;
	}
	if ((bld = OSSL_PARAM_BLD_new()) == NULL) {
		r = JIT_ERR_ALLOC;
		goto out;
	}
	if (OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
	    kt->group, 0) != 1 ||
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
	    q, qlen) != 1 ||
	    (d != NULL && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY,
	    d) != 1) ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL) {
		r = JIT_ERR_CRYPTO;
		goto out;
	}
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1) {
		r = JIT_ERR_CRYPTO;
		goto out;
	}
	/* Decoding the point already rejects one that is off the curve. */
	if (EVP_PKEY_fromdata(ctx, &pkey, d != NULL ? EVP_PKEY_KEYPAIR :
	    EVP_PKEY_PUBLIC_KEY, params) != 1) {
		r = JIT_ERR_BAD_PUBLIC_KEY;
		goto out;
	}
	if ((cctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL)) == NULL) {
		r = JIT_ERR_CRYPTO;
		goto out;
	}
	if (EVP_PKEY_public_check(cctx) != 1) {
		r = JIT_ERR_BAD_PUBLIC_KEY;
		goto out;
	}
	if (d != NULL && EVP_PKEY_private_check(cctx) != 1) {
		r = JIT_ERR_BAD_PRIVATE_KEY;
		goto out;
	}
	if (d != NULL && EVP_PKEY_pairwise_check(cctx) != 1) {
		r = JIT_ERR_KEY_MISMATCH;
		goto out;
	}
	*out = pkey;
	pkey = NULL;
	r = 0;
out:
	if (r != 0)
		ERR_clear_error();
	EVP_PKEY_CTX_free(cctx);
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(pkey);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	return r;
}

/* Check the RSA public numbers: odd modulus within limits, odd e < n. */
static int
rsa_check_public(const BIGNUM *n, const BIGNUM *e)
{
	int bits = BN_num_bits(n);

	if (bits > RSA_MAX_BITS || !BN_is_odd(n))
		return JIT_ERR_BAD_PUBLIC_KEY;
	if (bits < RSA_MIN_PARSE_BITS)
		return JIT_ERR_KEY_TOO_SMALL;
	if (!BN_is_odd(e) || BN_is_one(e) || BN_cmp(e, n) >= 0)
		return JIT_ERR_BAD_PUBLIC_KEY;
	return 0;
}

/*
 * Check the private numbers cheaply (no primality test): p*q = n,
 * iqmp*q = 1 mod p, e*d = 1 mod p-1 and mod q-1, so signatures made with
 * them verify.  Computes dmp1 and dmq1 on the way.
 */
static int
rsa_check_private(const BIGNUM *n, const BIGNUM *e, const BIGNUM *d,
    const BIGNUM *iqmp, const BIGNUM *p, const BIGNUM *q, BIGNUM *dmp1,
    BIGNUM *dmq1)
{
	BN_CTX *ctx = NULL;
	BIGNUM *t, *pm1, *qm1;
	int r = JIT_ERR_INTERNAL;

	if ((ctx = BN_CTX_secure_new()) == NULL)
		return JIT_ERR_ALLOC;
	BN_CTX_start(ctx);
	t = BN_CTX_get(ctx);
	pm1 = BN_CTX_get(ctx);
	if ((qm1 = BN_CTX_get(ctx)) == NULL) {
		r = JIT_ERR_ALLOC;
		goto out;
	}
	r = JIT_ERR_BAD_PRIVATE_KEY;
	if (BN_is_zero(d) || BN_cmp(d, n) >= 0 || BN_is_zero(iqmp) ||
	    BN_cmp(p, BN_value_one()) <= 0 || BN_cmp(q, BN_value_one()) <= 0 ||
	    BN_cmp(iqmp, p) >= 0)
		goto out;
	r = JIT_ERR_CRYPTO;
	if (!BN_mul(t, p, q, ctx))
		goto out;
	if (BN_cmp(t, n) != 0) {
		r = JIT_ERR_KEY_MISMATCH;
		goto out;
	}
	if (!BN_mod_mul(t, iqmp, q, p, ctx))
		goto out;
	if (!BN_is_one(t)) {
		r = JIT_ERR_BAD_PRIVATE_KEY;
		goto out;
	}
	if (!BN_sub(pm1, p, BN_value_one()) || !BN_sub(qm1, q, BN_value_one()))
		goto out;
	BN_set_flags(dmp1, BN_FLG_CONSTTIME);
	BN_set_flags(dmq1, BN_FLG_CONSTTIME);
	if (!BN_mod(dmp1, d, pm1, ctx) || !BN_mod(dmq1, d, qm1, ctx))
		goto out;
	if (!BN_mod_mul(t, dmp1, e, pm1, ctx))
		goto out;
	if (!BN_is_one(t)) {
		r = JIT_ERR_KEY_MISMATCH;
		goto out;
	}
	if (!BN_mod_mul(t, dmq1, e, qm1, ctx))
		goto out;
	if (!BN_is_one(t)) {
		r = JIT_ERR_KEY_MISMATCH;
		goto out;
	}
	r = 0;
out:
	BN_CTX_end(ctx);
	BN_CTX_free(ctx);
	return r;
}

/* Build an RSA key from its numbers; d == NULL for a public key. */
int
jit_key__rsa_from_parts(const BIGNUM *n, const BIGNUM *e, const BIGNUM *d,
    const BIGNUM *iqmp, const BIGNUM *p, const BIGNUM *q, EVP_PKEY **out)
{
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;
	BIGNUM *dmp1 = NULL, *dmq1 = NULL;
	int r = JIT_ERR_INTERNAL;

	*out = NULL;
	if ((r = rsa_check_public(n, e)) != 0)
		goto out;
	if (d != NULL) {
		if ((dmp1 = BN_secure_new()) == NULL ||
		    (dmq1 = BN_secure_new()) == NULL) {
			r = JIT_ERR_ALLOC;
			goto out;
		}
		if ((r = rsa_check_private(n, e, d, iqmp, p, q, dmp1,
		    dmq1)) != 0)
			goto out;
	}
	if ((bld = OSSL_PARAM_BLD_new()) == NULL) {
		r = JIT_ERR_ALLOC;
		goto out;
	}
	r = JIT_ERR_CRYPTO;
	if (OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) != 1)
		goto out;
	if (d != NULL && (
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_D, d) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR1, p) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR2, q) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT1,
	    dmp1) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT2,
	    dmq1) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_COEFFICIENT1,
	    iqmp) != 1))
		goto out;
	if ((params = OSSL_PARAM_BLD_to_param(bld)) == NULL)
		goto out;
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1)
		goto out;
	if (EVP_PKEY_fromdata(ctx, &pkey, d != NULL ? EVP_PKEY_KEYPAIR :
	    EVP_PKEY_PUBLIC_KEY, params) != 1) {
		r = d != NULL ? JIT_ERR_BAD_PRIVATE_KEY : JIT_ERR_BAD_PUBLIC_KEY;
		goto out;
	}
	*out = pkey;
	pkey = NULL;
	r = 0;
out:
	if (r != 0)
		ERR_clear_error();
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(pkey);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_clear_free(dmp1);
	BN_clear_free(dmq1);
	return r;
}

/* ---- public blob ---- */

/*
 * The one writer of key fields.  A field is one of these; the lists
 * below say which a key type writes for each enum key_fields.
 */
enum { F_END, F_ED_PK, F_ED_SK, F_CURVE, F_EC_Q, F_EC_D, F_RSA_E, F_RSA_N,
    F_RSA_D, F_RSA_IQMP, F_RSA_P, F_RSA_Q };

static const unsigned char field_lists[3][3][7] = {
	/* KF_PUBLIC, KF_PRIVATE, KF_AGENT_PRIVATE */
	{ { F_ED_PK }, { F_ED_PK, F_ED_SK }, { F_ED_PK, F_ED_SK } },
	{ { F_CURVE, F_EC_Q }, { F_CURVE, F_EC_Q, F_EC_D }, { F_EC_D } },
	{ { F_RSA_E, F_RSA_N },
	  { F_RSA_N, F_RSA_E, F_RSA_D, F_RSA_IQMP, F_RSA_P, F_RSA_Q },
	  { F_RSA_D, F_RSA_IQMP, F_RSA_P, F_RSA_Q } },
};

/* OpenSSL's names of the numbers F_EC_D .. F_RSA_Q. */
static const char *const bn_params[] = {
	OSSL_PKEY_PARAM_PRIV_KEY, OSSL_PKEY_PARAM_RSA_E,
	OSSL_PKEY_PARAM_RSA_N, OSSL_PKEY_PARAM_RSA_D,
	OSSL_PKEY_PARAM_RSA_COEFFICIENT1, OSSL_PKEY_PARAM_RSA_FACTOR1,
	OSSL_PKEY_PARAM_RSA_FACTOR2,
};

static int
put_field(const struct jit_key *k, const struct keytype *kt, int f,
    struct jit_buf *b)
{
	unsigned char q[EC_MAX_POINT];
	size_t qlen;
	int r;

	switch (f) {
	case F_ED_PK:
		return jit_buf_put_string(b, k->ed_pk, ED25519_PK_LEN);
	case F_ED_SK:
		return jit_buf_put_string(b, k->ed_sk, ED25519_SK_LEN);
	case F_CURVE:
		return jit_buf_put_cstring(b, kt->curve);
	case F_EC_Q:
		if ((r = jit_key__ec_get_point(k->pkey, kt, q, &qlen)) != 0)
			return r;
		return jit_buf_put_string(b, q, qlen);
	default:
		return jit_key__put_param_bn(b, k->pkey, bn_params[f - F_EC_D]);
	}
}

int
jit_key__put_fields(const struct jit_key *k, enum key_fields which,
    struct jit_buf *b)
{
	const struct keytype *kt = jit_key__type(k->type);
	const unsigned char *f;
	int r;

	if (kt == NULL)
		return JIT_ERR_KEY_TYPE_UNKNOWN;
	switch (k->type) {
	case JIT_KEY_ED25519:
		f = field_lists[0][which];
		break;
	case JIT_KEY_ECDSA_P256:
	case JIT_KEY_ECDSA_P384:
	case JIT_KEY_ECDSA_P521:
		f = field_lists[1][which];
		break;
	case JIT_KEY_RSA:
		f = field_lists[2][which];
		break;
	default:
		return JIT_ERR_KEY_TYPE_UNKNOWN;
	}
	for (; *f != F_END; f++)
		if ((r = put_field(k, kt, *f, b)) != 0)
			return r;
	return 0;
}

/*
 * Fill the blob cache: string(type name) then the fields, either the
 * given canonical wire bytes or computed from the key material.
 */
int
jit_key__key_cache_blob(struct jit_key *k, const unsigned char *fields,
    size_t flen)
{
	int r;

	jit_buf_reset(&k->blob);
	if ((r = jit_buf_put_cstring(&k->blob,
	    jit_key_type_ssh_name(k->type))) != 0)
		return r;
	k->fields_off = jit_buf_len(&k->blob);
	if (fields != NULL)
		return jit_buf_put(&k->blob, fields, flen);
	return jit_key__put_fields(k, KF_PUBLIC, &k->blob);
}

int
jit_key_public_blob(const struct jit_key *k, const unsigned char **blob,
    size_t *len)
{
	*blob = NULL;
	*len = 0;
	if (k == NULL || jit_buf_len(&k->blob) == 0)
		return JIT_ERR_INVALID_ARGUMENT;
	*blob = jit_buf_ptr(&k->blob);
	*len = jit_buf_len(&k->blob);
	return 0;
}

int
jit_key_put_public(const struct jit_key *k, struct jit_buf *b)
{
	if (k == NULL || jit_buf_len(&k->blob) == 0)
		return JIT_ERR_INVALID_ARGUMENT;
	return jit_buf_put_stringb(b, &k->blob);
}

int
jit_key_put_public_fields(const struct jit_key *k, struct jit_buf *b)
{
	if (k == NULL || jit_buf_len(&k->blob) <= k->fields_off)
		return JIT_ERR_INVALID_ARGUMENT;
	return jit_buf_put(b, jit_buf_ptr(&k->blob) + k->fields_off,
	    jit_buf_len(&k->blob) - k->fields_off);
}

/*
 * The encodings of edwards25519's 8 points of small order, with the sign
 * bit (bit 255) cleared, and the non-canonical encodings p and p + 1 of y
 * = 0 and y = 1: libsodium's own list (ed25519_ref10.c, has_small_order).
 * tests/unit/test-key.c checks each is of small order or non-canonical.
 */
static const unsigned char ed25519_small_order[7][32] = {
	/* y = 0: (+-sqrt(-1), 0), order 4 */
	{ 0 },
	/* y = 1: the identity, order 1 */
	{ 0x01 },
	/* y = c and y = p - c: order 8 */
	{ 0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4,
	  0x89, 0xf2, 0xef, 0x98, 0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6,
	  0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05 },
	{ 0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b,
	  0x76, 0x0d, 0x10, 0x67, 0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39,
	  0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a },
	/* y = p - 1: (0, -1), order 2 */
	{ 0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f },
	/* y = p and y = p + 1 (non-canonical 0 and 1) */
	{ 0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f },
	{ 0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f },
};

/*
 * Is p an acceptable Ed25519 public key from outside?  Canonical (y < p),
 * not one of the 8 points of small order (anyone can forge signatures
 * for such a key, and so use its certificate), and a
 * point on the curve (crypto_core_ed25519_add decodes p and checks it).
 *
 * This is crypto_core_ed25519_is_valid_point minus its prime-order
 * subgroup check, a multiplication by the group order that cost 3x the
 * rest (30 us vs 9 us here; a quarter of the server's CPU per issuance).
 * A mixed-order key (a prime-order point plus a torsion point) lets no
 * one but its owner sign (forging still needs the discrete log of its
 * prime-order part); OpenSSH itself accepts such keys.
 */
static int
ed25519_pk_check(const unsigned char *p)
{
	unsigned char sum[32], c = 0, d;
	size_t i, j;

	/* Canonical: not y >= p = 2^255 - 19 (bit 255 is x's sign). */
	d = (unsigned char)((p[31] & 0x7f) ^ 0x7f);
	for (i = 1; i < 31; i++)
		d |= (unsigned char)(p[i] ^ 0xff);
	if (d == 0 && p[0] >= 0xed)
		return 0;
	for (i = 0; i < 7; i++) {
		c = (unsigned char)((p[31] & 0x7f) ^ ed25519_small_order[i][31]);
		for (j = 0; j < 31; j++)
			c |= (unsigned char)(p[j] ^ ed25519_small_order[i][j]);
		if (c == 0)
			return 0;
	}
	return crypto_core_ed25519_add(sum, p, p) == 0;
}

/*
 * Keys that ed25519_pk_check accepted lately: a user's key comes back
 * with each of their requests, and its point decoding is about a tenth
 * of the server's CPU per issuance.  Direct-mapped on the key's first
 * two bytes (someone choosing keys only evicts others'); a slot is read
 * and written under its stripe's mutex.  Only accepted keys are kept, so
 * a refused key is checked every time, and a hit compares all 32 bytes.
 */
#define PK_CACHE 1024
#define PK_STRIPES 64
static struct {
	pthread_mutex_t mu[PK_STRIPES];
	unsigned char used[PK_CACHE];
	unsigned char pk[PK_CACHE][ED25519_PK_LEN];
} pk_cache;
static pthread_once_t pk_cache_once = PTHREAD_ONCE_INIT;

static void
pk_cache_init(void)
{
	for (size_t i = 0; i < PK_STRIPES; i++)
		pthread_mutex_init(&pk_cache.mu[i], NULL);
}

static int
ed25519_pk_ok(const unsigned char *p)
{
	size_t slot = ((size_t)p[0] | (size_t)p[1] << 8) % PK_CACHE;
	pthread_mutex_t *mu = &pk_cache.mu[slot % PK_STRIPES];
	int hit;

	pthread_once(&pk_cache_once, pk_cache_init);
	pthread_mutex_lock(mu);
	hit = pk_cache.used[slot] &&
	    memcmp(pk_cache.pk[slot], p, ED25519_PK_LEN) == 0;
	pthread_mutex_unlock(mu);
	if (hit)
		return 1;
	if (!ed25519_pk_check(p))
		return 0;
	pthread_mutex_lock(mu);
	memcpy(pk_cache.pk[slot], p, ED25519_PK_LEN);
	pk_cache.used[slot] = 1;
	pthread_mutex_unlock(mu);
	return 1;
}

/*
 * validate = 0 skips the Ed25519 point check (ed25519_pk_ok: a point
 * decoding, about an eighth of a signature's CPU) for keys this
 * program validated before (jit_key_parse_public_trusted).
 */
static int
get_public_fields(struct jit_buf *b, enum jit_key_type t, int validate,
    struct jit_key **out)
{
	const struct keytype *kt = jit_key__type(t);
	struct jit_key *k = NULL;
	struct jit_buf save = *b;
	const unsigned char *start = jit_buf_ptr(b), *p, *q;
	size_t len, qlen;
	BIGNUM *e = NULL, *n = NULL;
	int r = JIT_ERR_INTERNAL;

	*out = NULL;
	if (kt == NULL)
		return JIT_ERR_KEY_TYPE_UNKNOWN;
	if ((r = jit_key__key_new(t, 0, &k)) != 0)
		goto out;
	switch (t) {
	case JIT_KEY_ED25519:
		if ((r = jit_buf_get_string_direct(b, &p, &len)) != 0)
			goto out;
		/* Small-order and non-canonical points could never verify. */
		if (len != ED25519_PK_LEN ||
		    (validate && !ed25519_pk_ok(p))) {
			r = JIT_ERR_BAD_PUBLIC_KEY;
			goto out;
		}
		memcpy(k->ed_pk, p, ED25519_PK_LEN);
		break;
	case JIT_KEY_ECDSA_P256:
	case JIT_KEY_ECDSA_P384:
	case JIT_KEY_ECDSA_P521:
		if ((r = jit_key__get_curve(b, kt,
		    JIT_ERR_BAD_PUBLIC_KEY)) != 0 ||
		    (r = jit_buf_get_string_direct(b, &q, &qlen)) != 0 ||
		    (r = jit_key__ec_from_parts(kt, q, qlen, NULL, &k->pkey)) != 0)
			goto out;
		break;
	case JIT_KEY_RSA:
		if ((r = jit_key__get_bn(b, 0, &e)) != 0 ||
		    (r = jit_key__get_bn(b, 0, &n)) != 0 ||
		    (r = jit_key__rsa_from_parts(n, e, NULL, NULL, NULL, NULL,
		    &k->pkey)) != 0)
			goto out;
		k->bits = (unsigned)BN_num_bits(n);
		break;
	default:
		r = JIT_ERR_KEY_TYPE_UNKNOWN;
		goto out;
	}
	/* The strict readers above accept only canonical encodings, so the
	 * bytes consumed are exactly the fields we would write. */
	if ((r = jit_key__key_cache_blob(k, start, jit_buf_len(&save) -
	    jit_buf_len(b))) != 0)
		goto out;
	*out = k;
	k = NULL;
	r = 0;
out:
	if (r != 0)
		*b = save;
	BN_free(e);
	BN_free(n);
	jit_key_free(k);
	return r;
}

int
jit_key_get_public_fields(struct jit_buf *b, enum jit_key_type t,
    struct jit_key **out)
{
	return get_public_fields(b, t, 1, out);
}

static int
from_blob(const unsigned char *blob, size_t len, int validate,
    struct jit_key **out)
{
	struct jit_buf b;
	struct jit_key *k = NULL;
	const unsigned char *name;
	size_t nlen;
	enum jit_key_type t;
	int r = JIT_ERR_INTERNAL;

	*out = NULL;
	if (blob == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	jit_buf_view(&b, blob, len);
	if ((r = jit_buf_get_string_direct(&b, &name, &nlen)) != 0)
		goto out;
	if ((t = jit_key_type_from_ssh_name((const char *)name, nlen)) ==
	    JIT_KEY_UNKNOWN) {
		r = jit_key__unknown_type_error(name, nlen);
		goto out;
	}
	if ((r = get_public_fields(&b, t, validate, &k)) != 0)
		goto out;
	if (jit_buf_len(&b) != 0) {
		r = JIT_ERR_TRAILING_DATA;
		goto out;
	}
	*out = k;
	k = NULL;
	r = 0;
out:
	jit_key_free(k);
	return r;
}

int
jit_key_from_blob(const unsigned char *blob, size_t len,
    struct jit_key **out)
{
	return from_blob(blob, len, 1, out);
}

/* ---- text form ---- */

int
jit_key__is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int
parse_public(const char *line, int validate, struct jit_key **out,
    char **comment)
{
	const char *p, *end, *type, *b64, *cmt;
	size_t tlen, blen, clen;
	unsigned char *blob = NULL;
	size_t bloblen;
	struct jit_key *k = NULL;
	enum jit_key_type t;
	char *c = NULL;
	int r = JIT_ERR_INTERNAL;

	*out = NULL;
	if (comment != NULL)
		*comment = NULL;
	if (line == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	if (strnlen(line, MAX_PUB_LINE + 1) > MAX_PUB_LINE)
		return JIT_ERR_INVALID_FORMAT;
	p = line;
	end = line + strlen(line);
	while (p < end && jit_key__is_space(*p))
		p++;
	while (end > p && jit_key__is_space(end[-1]))
		end--;
	/* One line only: no line break may remain inside. */
	for (const char *s = p; s < end; s++)
		if (*s == '\n' || *s == '\r' || *s == '\0')
			return JIT_ERR_INVALID_FORMAT;
	type = p;
	while (p < end && !jit_key__is_space(*p))
		p++;
	tlen = (size_t)(p - type);
	while (p < end && jit_key__is_space(*p))
		p++;
	b64 = p;
	while (p < end && !jit_key__is_space(*p))
		p++;
	blen = (size_t)(p - b64);
	while (p < end && jit_key__is_space(*p))
		p++;
	cmt = p;
	clen = (size_t)(end - p);
	if (tlen == 0)
		return JIT_ERR_INVALID_FORMAT;
	if ((t = jit_key_type_from_ssh_name(type, tlen)) == JIT_KEY_UNKNOWN)
		return jit_key__unknown_type_error((const unsigned char *)type, tlen);
	if (blen == 0)
		return JIT_ERR_INVALID_FORMAT;
	/* Comments end up in logs and audit records: no control bytes. */
	for (size_t i = 0; i < clen; i++)
		if ((unsigned char)cmt[i] < 0x20 && cmt[i] != '\t')
			return JIT_ERR_INVALID_FORMAT;
	if ((r = jit_b64_decode(b64, blen, &blob, &bloblen)) != 0)
		goto out;
	if ((r = from_blob(blob, bloblen, validate, &k)) != 0)
		goto out;
	if (k->type != t) {
		r = JIT_ERR_INVALID_FORMAT;
		goto out;
	}
	if (t == JIT_KEY_RSA && k->bits < JIT_RSA_MIN_USER_BITS) {
		r = JIT_ERR_KEY_TOO_SMALL;
		goto out;
	}
	if (comment != NULL && clen > 0) {
		if ((c = malloc(clen + 1)) == NULL) {
			r = JIT_ERR_ALLOC;
			goto out;
		}
		memcpy(c, cmt, clen);
		c[clen] = '\0';
		*comment = c;
		c = NULL;
	}
	*out = k;
	k = NULL;
	r = 0;
out:
	free(blob);
	free(c);
	jit_key_free(k);
	return r;
}

int
jit_key_parse_public(const char *line, struct jit_key **out, char **comment)
{
	return parse_public(line, 1, out, comment);
}

int
jit_key_parse_public_trusted(const char *line, struct jit_key **out)
{
	return parse_public(line, 0, out, NULL);
}

int
jit_key_load_public(const char *path, struct jit_key **out)
{
	unsigned char *data = NULL;
	size_t len;
	int r = JIT_ERR_INTERNAL;

	*out = NULL;
	if ((r = jit_read_file(path, MAX_PUB_LINE, &data, &len)) != 0)
		goto out;
	if (memchr(data, '\0', len) != NULL) {
		r = JIT_ERR_INVALID_FORMAT;
		goto out;
	}
	r = jit_key_parse_public((const char *)data, out, NULL);
out:
	free(data);
	return r;
}

int
jit_key_format_public(const struct jit_key *k, const char *comment,
    char **out)
{
	const char *name;
	char *b64 = NULL, *s = NULL;
	size_t nlen, blen, clen, total;
	int r = JIT_ERR_INTERNAL;

	*out = NULL;
	if (k == NULL || (name = jit_key_type_ssh_name(k->type)) == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	clen = comment == NULL ? 0 : strlen(comment);
	for (size_t i = 0; i < clen; i++)
		if ((unsigned char)comment[i] < 0x20 && comment[i] != '\t')
			return JIT_ERR_INVALID_ARGUMENT;
	if ((r = jit_b64_encode(jit_buf_ptr(&k->blob), jit_buf_len(&k->blob),
	    &b64)) != 0)
		goto out;
	nlen = strlen(name);
	blen = strlen(b64);
	total = nlen + 1 + blen + (clen > 0 ? 1 + clen : 0) + 1;
	if ((s = malloc(total)) == NULL) {
		r = JIT_ERR_ALLOC;
		goto out;
	}
	if (clen > 0)
		snprintf(s, total, "%s %s %s", name, b64, comment);
	else
		snprintf(s, total, "%s %s", name, b64);
	*out = s;
	r = 0;
out:
	free(b64);
	return r;
}

int
jit_key_fingerprint(const struct jit_key *k, char **out)
{
	unsigned char h[crypto_hash_sha256_BYTES];
	char *b64 = NULL, *s = NULL;
	size_t n, total;
	int r = JIT_ERR_INTERNAL;

	*out = NULL;
	if (k == NULL || jit_buf_len(&k->blob) == 0)
		return JIT_ERR_INVALID_ARGUMENT;
	crypto_hash_sha256(h, jit_buf_ptr(&k->blob), jit_buf_len(&k->blob));
	if ((r = jit_b64_encode(h, sizeof(h), &b64)) != 0)
		goto out;
	n = strlen(b64);
	while (n > 0 && b64[n - 1] == '=')
		n--;
	b64[n] = '\0';
	total = sizeof("SHA256:") + n;
	if ((s = malloc(total)) == NULL) {
		r = JIT_ERR_ALLOC;
		goto out;
	}
	snprintf(s, total, "SHA256:%s", b64);
	*out = s;
	r = 0;
out:
	free(b64);
	return r;
}

int
jit_key_equal_public(const struct jit_key *a, const struct jit_key *b)
{
	if (a == NULL || b == NULL || a->type != b->type ||
	    jit_buf_len(&a->blob) != jit_buf_len(&b->blob) ||
	    jit_buf_len(&a->blob) == 0)
		return 0;
	return memcmp(jit_buf_ptr(&a->blob), jit_buf_ptr(&b->blob),
	    jit_buf_len(&a->blob)) == 0;
}

/* ---- generation ---- */

int
jit_key_generate_bits(enum jit_key_type t, unsigned *bits)
{
	if (jit_key__type(t) == NULL)
		return JIT_ERR_KEY_TYPE_UNKNOWN;
	if (t != JIT_KEY_RSA) {
		*bits = 0;
		return 0;
	}
	if (*bits == 0)
		*bits = JIT_RSA_DEFAULT_BITS;
	if (*bits < JIT_RSA_MIN_CA_BITS)
		return JIT_ERR_KEY_TOO_SMALL;
	if (*bits > RSA_MAX_BITS)
		return JIT_ERR_INVALID_ARGUMENT;
	return 0;
}

int
jit_key_generate(enum jit_key_type t, unsigned bits, struct jit_key **out)
{
	const struct keytype *kt = jit_key__type(t);
	struct jit_key *k = NULL;
	int r = JIT_ERR_INTERNAL;

	*out = NULL;
	if ((r = jit_key_generate_bits(t, &bits)) != 0)
		return r;
	if ((r = jit_key__key_new(t, 1, &k)) != 0)
		goto out;
	switch (t) {
	case JIT_KEY_ED25519:
		if (crypto_sign_keypair(k->ed_pk, k->ed_sk) != 0) {
			r = JIT_ERR_CRYPTO;
			goto out;
		}
		break;
	case JIT_KEY_ECDSA_P256:
	case JIT_KEY_ECDSA_P384:
	case JIT_KEY_ECDSA_P521:
		if ((k->pkey = EVP_EC_gen(kt->group)) == NULL) {
			r = JIT_ERR_CRYPTO;
			goto out;
		}
		break;
	case JIT_KEY_RSA:
		if ((k->pkey = EVP_RSA_gen(bits)) == NULL) {
			r = JIT_ERR_CRYPTO;
			goto out;
		}
		k->bits = (unsigned)EVP_PKEY_get_bits(k->pkey);
		break;
	default:
		r = JIT_ERR_KEY_TYPE_UNKNOWN;
		goto out;
	}
	k->has_private = 1;
	if ((r = jit_key__key_cache_blob(k, NULL, 0)) != 0)
		goto out;
	*out = k;
	k = NULL;
	r = 0;
out:
	if (r != 0)
		ERR_clear_error();
	jit_key_free(k);
	return r;
}

