/* key.c - SSH keys; see key.h for the contract. */
#include "key.h"
#include "buf.h"
#include "err.h"
#include "util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <sodium.h>

#define ED25519_PK_LEN 32
#define ED25519_SK_LEN 64
#define ED25519_SIG_LEN 64
#define CERT_SUFFIX "-cert-v01@openssh.com"
#define RSA_MIN_PARSE_BITS 1024
#define RSA_MAX_BITS 16384
#define BN_MAX_BYTES (RSA_MAX_BITS / 8 + 1)
#define EC_MAX_POINT 133        /* 04 || X || Y for P-521 */
#define MAX_KEY_FILE (256u * 1024)
#define MAX_PUB_LINE (64u * 1024)

#define OPENSSH_MAGIC "openssh-key-v1"   /* followed by a NUL on the wire */
#define OPENSSH_MAGIC_LEN 15
#define OPENSSH_BEGIN "-----BEGIN OPENSSH PRIVATE KEY-----"
#define OPENSSH_END "-----END OPENSSH PRIVATE KEY-----"
#define OPENSSH_BLOCK 8         /* cipher "none" block size */
#define OPENSSH_WRAP 70         /* ssh-keygen's base64 line length */

struct jit_key {
	enum jit_key_type type;
	int has_private;
	unsigned bits;
	struct jit_buf blob;            /* cached plain public key blob */
	size_t fields_off;              /* where the key fields start in it */
	unsigned char ed_pk[ED25519_PK_LEN];
	unsigned char ed_sk[ED25519_SK_LEN];    /* seed || pk */
	EVP_PKEY *pkey;                 /* ECDSA and RSA */
	size_t map_len;                 /* private: own pages (secret_new) */
	int locked;                     /* those pages are locked in RAM */
};

struct keytype {
	enum jit_key_type type;
	const char *ssh_name;
	const char *cert_name;
	const char *short_name;
	const char *family;
	const char *curve;              /* SSH curve name (ECDSA) */
	const char *group;              /* OpenSSL group name (ECDSA) */
	unsigned bits;                  /* fixed size, 0 for RSA */
	size_t field_len;               /* bytes per coordinate (ECDSA) */
	const EVP_MD *(*md)(void);      /* signature hash (ECDSA) */
};

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

static const struct keytype *
keytype_get(enum jit_key_type t)
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
	const struct keytype *kt = keytype_get(t);

	return kt == NULL ? NULL : kt->ssh_name;
}

const char *
jit_key_type_cert_name(enum jit_key_type t)
{
	const struct keytype *kt = keytype_get(t);

	return kt == NULL ? NULL : kt->cert_name;
}

const char *
jit_key_type_short_name(enum jit_key_type t)
{
	const struct keytype *kt = keytype_get(t);

	return kt == NULL ? NULL : kt->short_name;
}

const char *
jit_key_type_family(enum jit_key_type t)
{
	const struct keytype *kt = keytype_get(t);

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
static int
unknown_type_error(const unsigned char *s, size_t len)
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

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;
static int sodium_ready;

static void
sodium_init_once(void)
{
	sodium_ready = sodium_init() >= 0;
}

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

/* A new key of type t; priv: it will hold a private part (secret_new). */
static int
key_new(enum jit_key_type t, int priv, struct jit_key **out)
{
	struct jit_key *k;

	*out = NULL;
	pthread_once(&sodium_once, sodium_init_once);
	if (!sodium_ready)
		return JIT_ERR_CRYPTO;
	if (keytype_get(t) == NULL)
		return JIT_ERR_KEY_TYPE_UNKNOWN;
	if (priv)
		pthread_once(&secure_once, secure_heap_init_once);
	if ((k = priv ? secret_new() : calloc(1, sizeof(*k))) == NULL)
		return JIT_ERR_ALLOC;
	k->type = t;
	k->bits = keytype_get(t)->bits;
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
static int
put_bn(struct jit_buf *b, const BIGNUM *bn)
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

static int
put_param_bn(struct jit_buf *b, const EVP_PKEY *pkey, const char *name)
{
	BIGNUM *bn = NULL;
	int r;

	if (EVP_PKEY_get_bn_param(pkey, name, &bn) != 1)
		return JIT_ERR_CRYPTO;
	r = put_bn(b, bn);
	BN_clear_free(bn);
	return r;
}

/* Read an mpint into a new BIGNUM (secure heap if secret). */
static int
get_bn(struct jit_buf *b, int secret, BIGNUM **out)
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
static int
ec_get_point(const EVP_PKEY *pkey, const struct keytype *kt,
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
static enum jit_key_type
ec_type_from_group(const char *group)
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
static int
ec_from_parts(const struct keytype *kt, const unsigned char *q, size_t qlen,
    const BIGNUM *d, EVP_PKEY **out)
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
static int
rsa_from_parts(const BIGNUM *n, const BIGNUM *e, const BIGNUM *d,
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

/* Key fields of k computed from its key material (not the cache). */
static int
put_fields_from_key(const struct jit_key *k, struct jit_buf *b)
{
	const struct keytype *kt = keytype_get(k->type);
	unsigned char q[EC_MAX_POINT];
	size_t qlen;
	int r = JIT_ERR_INTERNAL;

	if (kt == NULL)
		return JIT_ERR_KEY_TYPE_UNKNOWN;
	switch (k->type) {
	case JIT_KEY_ED25519:
		return jit_buf_put_string(b, k->ed_pk, sizeof(k->ed_pk));
	case JIT_KEY_ECDSA_P256:
	case JIT_KEY_ECDSA_P384:
	case JIT_KEY_ECDSA_P521:
		if ((r = ec_get_point(k->pkey, kt, q, &qlen)) != 0 ||
		    (r = jit_buf_put_cstring(b, kt->curve)) != 0 ||
		    (r = jit_buf_put_string(b, q, qlen)) != 0)
			return r;
		return 0;
	case JIT_KEY_RSA:
		if ((r = put_param_bn(b, k->pkey, OSSL_PKEY_PARAM_RSA_E)) != 0 ||
		    (r = put_param_bn(b, k->pkey, OSSL_PKEY_PARAM_RSA_N)) != 0)
			return r;
		return 0;
	default:
		return JIT_ERR_KEY_TYPE_UNKNOWN;
	}
}

/*
 * Fill the blob cache: string(type name) then the fields, either the
 * given canonical wire bytes or computed from the key material.
 */
static int
key_cache_blob(struct jit_key *k, const unsigned char *fields, size_t flen)
{
	int r;

	jit_buf_reset(&k->blob);
	if ((r = jit_buf_put_cstring(&k->blob,
	    jit_key_type_ssh_name(k->type))) != 0)
		return r;
	k->fields_off = jit_buf_len(&k->blob);
	if (fields != NULL)
		return jit_buf_put(&k->blob, fields, flen);
	return put_fields_from_key(k, &k->blob);
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
ed25519_pk_ok(const unsigned char *p)
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
 * validate = 0 skips the Ed25519 point check (ed25519_pk_ok: a point
 * decoding, about an eighth of a signature's CPU) for keys this
 * program validated before (jit_key_parse_public_trusted).
 */
static int
get_public_fields(struct jit_buf *b, enum jit_key_type t, int validate,
    struct jit_key **out)
{
	const struct keytype *kt = keytype_get(t);
	struct jit_key *k = NULL;
	struct jit_buf save = *b;
	const unsigned char *start = jit_buf_ptr(b), *p, *q;
	size_t len, qlen;
	BIGNUM *e = NULL, *n = NULL;
	int r = JIT_ERR_INTERNAL;

	*out = NULL;
	if (kt == NULL)
		return JIT_ERR_KEY_TYPE_UNKNOWN;
	if ((r = key_new(t, 0, &k)) != 0)
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
		if ((r = jit_buf_get_string_direct(b, &p, &len)) != 0)
			goto out;
		if (len != strlen(kt->curve) || memcmp(p, kt->curve, len) != 0) {
			r = JIT_ERR_BAD_PUBLIC_KEY;
			goto out;
		}
		if ((r = jit_buf_get_string_direct(b, &q, &qlen)) != 0 ||
		    (r = ec_from_parts(kt, q, qlen, NULL, &k->pkey)) != 0)
			goto out;
		break;
	case JIT_KEY_RSA:
		if ((r = get_bn(b, 0, &e)) != 0 || (r = get_bn(b, 0, &n)) != 0 ||
		    (r = rsa_from_parts(n, e, NULL, NULL, NULL, NULL,
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
	if ((r = key_cache_blob(k, start, jit_buf_len(&save) -
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
		r = unknown_type_error(name, nlen);
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

static int
is_space(char c)
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
	while (p < end && is_space(*p))
		p++;
	while (end > p && is_space(end[-1]))
		end--;
	/* One line only: no line break may remain inside. */
	for (const char *s = p; s < end; s++)
		if (*s == '\n' || *s == '\r' || *s == '\0')
			return JIT_ERR_INVALID_FORMAT;
	type = p;
	while (p < end && !is_space(*p))
		p++;
	tlen = (size_t)(p - type);
	while (p < end && is_space(*p))
		p++;
	b64 = p;
	while (p < end && !is_space(*p))
		p++;
	blen = (size_t)(p - b64);
	while (p < end && is_space(*p))
		p++;
	cmt = p;
	clen = (size_t)(end - p);
	if (tlen == 0)
		return JIT_ERR_INVALID_FORMAT;
	if ((t = jit_key_type_from_ssh_name(type, tlen)) == JIT_KEY_UNKNOWN)
		return unknown_type_error((const unsigned char *)type, tlen);
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
	if (keytype_get(t) == NULL)
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
	const struct keytype *kt = keytype_get(t);
	struct jit_key *k = NULL;
	int r = JIT_ERR_INTERNAL;

	*out = NULL;
	if ((r = jit_key_generate_bits(t, &bits)) != 0)
		return r;
	if ((r = key_new(t, 1, &k)) != 0)
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
	if ((r = key_cache_blob(k, NULL, 0)) != 0)
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
	const struct keytype *kt = keytype_get(k->type);
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
	if ((r = put_bn(&inner, sr)) != 0 || (r = put_bn(&inner, ss)) != 0 ||
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
	const struct keytype *kt = keytype_get(k->type);
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

/* ---- private keys ---- */

/* Ed25519 private key from its 32-byte seed. */
static int
ed25519_from_seed(const unsigned char *seed, struct jit_key **out)
{
	struct jit_key *k = NULL;
	int r;

	*out = NULL;
	if ((r = key_new(JIT_KEY_ED25519, 1, &k)) != 0)
		return r;
	if (crypto_sign_seed_keypair(k->ed_pk, k->ed_sk, seed) != 0) {
		jit_key_free(k);
		return JIT_ERR_CRYPTO;
	}
	k->has_private = 1;
	if ((r = key_cache_blob(k, NULL, 0)) != 0) {
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
	if ((r = key_new(t, 1, &k)) != 0)
		return r;
	k->pkey = *pkey;
	*pkey = NULL;
	k->has_private = 1;
	if (t == JIT_KEY_RSA)
		k->bits = (unsigned)EVP_PKEY_get_bits(k->pkey);
	if ((r = key_cache_blob(k, NULL, 0)) != 0) {
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
	if ((r = rsa_from_parts(n, e, d, iqmp, p, q, &pkey)) != 0)
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
		r = unknown_type_error(name, nlen);
		goto out;
	}
	kt = keytype_get(t);
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
		if ((r = jit_buf_get_string_direct(b, &p, &len)) != 0)
			goto out;
		if (len != strlen(kt->curve) || memcmp(p, kt->curve, len) != 0) {
			r = JIT_ERR_BAD_PRIVATE_KEY;
			goto out;
		}
		if ((r = jit_buf_get_string_direct(b, &q, &qlen)) != 0 ||
		    (r = get_bn(b, 1, &d)) != 0 ||
		    (r = ec_from_parts(kt, q, qlen, d, &pkey)) != 0 ||
		    (r = key_from_pkey(t, &pkey, &k)) != 0)
			goto out;
		break;
	case JIT_KEY_RSA:
		if ((r = get_bn(b, 0, &n)) != 0 || (r = get_bn(b, 0, &e)) != 0 ||
		    (r = get_bn(b, 1, &d)) != 0 ||
		    (r = get_bn(b, 1, &iqmp)) != 0 ||
		    (r = get_bn(b, 1, &bp)) != 0 ||
		    (r = get_bn(b, 1, &bq)) != 0 ||
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
		if (!is_space((char)p[i]))
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
		if (is_space((char)*p))
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
		    (t = ec_type_from_group(group)) == JIT_KEY_UNKNOWN) {
			r = JIT_ERR_KEY_TYPE_UNSUPPORTED;
			goto out;
		}
		kt = keytype_get(t);
		/* The file may have stored the point compressed. */
		(void)EVP_PKEY_set_utf8_string_param(pk,
		    OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
		    OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_UNCOMPRESSED);
		if ((r = ec_get_point(pk, kt, q, &qlen)) != 0)
			goto out;
		if (EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_PRIV_KEY,
		    &d) != 1) {
			r = JIT_ERR_BAD_PRIVATE_KEY;
			goto out;
		}
		if ((r = ec_from_parts(kt, q, qlen, d, &pkey)) != 0)
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
	pthread_once(&sodium_once, sodium_init_once);
	if (!sodium_ready)
		return JIT_ERR_CRYPTO;
	pthread_once(&secure_once, secure_heap_init_once);
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

/* The private key fields as written inside openssh-key-v1. */
static int
put_openssh_private_fields(const struct jit_key *k, struct jit_buf *b)
{
	const struct keytype *kt = keytype_get(k->type);
	unsigned char q[EC_MAX_POINT];
	size_t qlen;
	int r;

	switch (k->type) {
	case JIT_KEY_ED25519:
		if ((r = jit_buf_put_string(b, k->ed_pk, ED25519_PK_LEN)) != 0 ||
		    (r = jit_buf_put_string(b, k->ed_sk, ED25519_SK_LEN)) != 0)
			return r;
		return 0;
	case JIT_KEY_ECDSA_P256:
	case JIT_KEY_ECDSA_P384:
	case JIT_KEY_ECDSA_P521:
		if ((r = ec_get_point(k->pkey, kt, q, &qlen)) != 0 ||
		    (r = jit_buf_put_cstring(b, kt->curve)) != 0 ||
		    (r = jit_buf_put_string(b, q, qlen)) != 0 ||
		    (r = put_param_bn(b, k->pkey,
		    OSSL_PKEY_PARAM_PRIV_KEY)) != 0)
			return r;
		return 0;
	case JIT_KEY_RSA:
		if ((r = put_param_bn(b, k->pkey, OSSL_PKEY_PARAM_RSA_N)) != 0 ||
		    (r = put_param_bn(b, k->pkey, OSSL_PKEY_PARAM_RSA_E)) != 0 ||
		    (r = put_param_bn(b, k->pkey, OSSL_PKEY_PARAM_RSA_D)) != 0 ||
		    (r = put_param_bn(b, k->pkey,
		    OSSL_PKEY_PARAM_RSA_COEFFICIENT1)) != 0 ||
		    (r = put_param_bn(b, k->pkey,
		    OSSL_PKEY_PARAM_RSA_FACTOR1)) != 0 ||
		    (r = put_param_bn(b, k->pkey,
		    OSSL_PKEY_PARAM_RSA_FACTOR2)) != 0)
			return r;
		return 0;
	default:
		return JIT_ERR_KEY_TYPE_UNKNOWN;
	}
}

int
jit_key_put_agent_private_fields(const struct jit_key *k,
    struct jit_buf *b)
{
	struct jit_buf tmp = JIT_BUF_INIT;
	int r = JIT_ERR_INTERNAL;

	if (k == NULL || b == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	if (!k->has_private)
		return JIT_ERR_KEY_NO_PRIVATE;
	/* Build aside so b is unchanged on error. */
	switch (k->type) {
	case JIT_KEY_ED25519:
		if ((r = jit_buf_put_string(&tmp, k->ed_pk,
		    ED25519_PK_LEN)) != 0 ||
		    (r = jit_buf_put_string(&tmp, k->ed_sk,
		    ED25519_SK_LEN)) != 0)
			goto out;
		break;
	case JIT_KEY_ECDSA_P256:
	case JIT_KEY_ECDSA_P384:
	case JIT_KEY_ECDSA_P521:
		if ((r = put_param_bn(&tmp, k->pkey,
		    OSSL_PKEY_PARAM_PRIV_KEY)) != 0)
			goto out;
		break;
	case JIT_KEY_RSA:
		if ((r = put_param_bn(&tmp, k->pkey,
		    OSSL_PKEY_PARAM_RSA_D)) != 0 ||
		    (r = put_param_bn(&tmp, k->pkey,
		    OSSL_PKEY_PARAM_RSA_COEFFICIENT1)) != 0 ||
		    (r = put_param_bn(&tmp, k->pkey,
		    OSSL_PKEY_PARAM_RSA_FACTOR1)) != 0 ||
		    (r = put_param_bn(&tmp, k->pkey,
		    OSSL_PKEY_PARAM_RSA_FACTOR2)) != 0)
			goto out;
		break;
	default:
		r = JIT_ERR_KEY_TYPE_UNKNOWN;
		goto out;
	}
	r = jit_buf_put(b, jit_buf_ptr(&tmp), jit_buf_len(&tmp));
out:
	jit_buf_release(&tmp);
	return r;
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
	    (r = put_openssh_private_fields(k, &priv)) != 0 ||
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
