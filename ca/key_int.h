/*
 * key_int.h - what the files behind key.h share (key.c: types, blobs,
 * text forms, generation; key_sign.c: signatures; key_private.c: private
 * key files and the agent's private fields).  Not for other modules.
 */
#ifndef JIT_KEY_INT_H
#define JIT_KEY_INT_H

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

/* The table entry of key type t, or NULL. */
const struct keytype *jit_key__type(enum jit_key_type t);

/* libsodium initialised, and with priv OpenSSL's secure heap made
 * before it holds private numbers: 0 or CRYPTO. */
int jit_key__crypto_ready(int priv);

/* Read an mpint into a new BIGNUM (secure heap if secret). */
int jit_key__get_bn(struct jit_buf *b, int secret, BIGNUM **out);

/*
 * Read an EC key's curve name from b and check that it is kt's curve.
 * Returns 0, a buffer error, or bad (the caller's code: a public or a
 * private key) for another curve.
 */
int jit_key__get_curve(struct jit_buf *b, const struct keytype *kt, int bad);

/*
 * Build an EC key from its SSH parts and validate it: the point must be
 * on the curve and in the group; a private scalar must be in range and
 * match the point.
 */
int jit_key__ec_from_parts(const struct keytype *kt, const unsigned char *q,
    size_t qlen, const BIGNUM *d, EVP_PKEY **out);

/* A new key of type t; priv: it will hold a private part (secret_new). */
int jit_key__key_new(enum jit_key_type t, int priv, struct jit_key **out);

/*
 * Fill the blob cache: string(type name) then the fields, either the
 * given canonical wire bytes or computed from the key material.
 */
int jit_key__key_cache_blob(struct jit_key *k, const unsigned char *fields,
    size_t flen);

int jit_key__is_space(char c);

/* Map an OpenSSL EC group name to our key type. */
enum jit_key_type jit_key__ec_type_from_group(const char *group);

/* Uncompressed EC point of pkey into q[EC_MAX_POINT]. */
int jit_key__ec_get_point(const EVP_PKEY *pkey, const struct keytype *kt,
    unsigned char *q, size_t *qlen);

int jit_key__put_param_bn(struct jit_buf *b, const EVP_PKEY *pkey,
    const char *name);

/* Which of a key's fields jit_key__put_fields writes. */
enum key_fields {
	KF_PUBLIC,        /* in blobs and certs: ed25519 pk; ecdsa curve,
	                     Q; rsa e, n */
	KF_PRIVATE,       /* a plain private key in openssh-key-v1 and the
	                     agent: ed25519 pk, sk; ecdsa curve, Q, d;
	                     rsa n, e, d, iqmp, p, q */
	KF_AGENT_PRIVATE, /* after a cert blob in the agent: ed25519 pk,
	                     sk; ecdsa d; rsa d, iqmp, p, q */
};
/* Append those fields of k to b (on error b may hold part of them).
 * The private ones need k's private part. */
int jit_key__put_fields(const struct jit_key *k, enum key_fields which,
    struct jit_buf *b);

/* Build an RSA key from its numbers; d == NULL for a public key. */
int jit_key__rsa_from_parts(const BIGNUM *n, const BIGNUM *e, const BIGNUM *d,
    const BIGNUM *iqmp, const BIGNUM *p, const BIGNUM *q, EVP_PKEY **out);

/*
 * Classify a key type name that is not one of ours, so callers get the
 * precise refusal: a certificate, DSA or a security-key type.
 */
int jit_key__unknown_type_error(const unsigned char *s, size_t len);

/* Append a BIGNUM as an mpint; the bounce buffer is wiped (may be secret). */
int jit_key__put_bn(struct jit_buf *b, const BIGNUM *bn);

#endif
