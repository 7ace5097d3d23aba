/* sshsig.c - SSH file signatures (PROTOCOL.sshsig); see sshsig.h. */
#include "sshsig.h"
#include "err.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#define SSHSIG_MAGIC "SSHSIG"
#define SSHSIG_MAGIC_LEN 6
#define SSHSIG_VERSION 1
#define SSHSIG_BEGIN "-----BEGIN SSH SIGNATURE-----\n"
#define SSHSIG_END "-----END SSH SIGNATURE-----"
#define SSHSIG_WRAP 70          /* ssh-keygen's line length */
#define SSHSIG_MAX_LINE 76      /* longest line we accept (the spec's) */

struct jit_sshsig_hash {
	EVP_MD_CTX *ctx;
	size_t dlen;
	int done;
};

/* The parsed fields of a blob; pointers point into the blob. */
struct sshsig_fields {
	struct jit_key *key;
	const unsigned char *ns;
	size_t nslen;
	const char *hash_alg;   /* static "sha256" or "sha512" */
	const unsigned char *sig;
	size_t siglen;
};

/* Map a name to the static canonical name, so callers can keep it. */
static const char *
hash_alg_canon(const char *name, size_t len)
{
	if (len == 6 && memcmp(name, "sha512", 6) == 0)
		return "sha512";
	if (len == 6 && memcmp(name, "sha256", 6) == 0)
		return "sha256";
	return NULL;
}

static const EVP_MD *
hash_alg_md(const char *canon)
{
	return strcmp(canon, "sha512") == 0 ? EVP_sha512() : EVP_sha256();
}

size_t
jit_sshsig_digest_len(const char *hash_alg)
{
	const char *c;

	if (hash_alg == NULL)
		return 64;
	if ((c = hash_alg_canon(hash_alg, strlen(hash_alg))) == NULL)
		return 0;
	return strcmp(c, "sha512") == 0 ? 64 : 32;
}

int
jit_sshsig_hash_init(const char *hash_alg, struct jit_sshsig_hash **out)
{
	struct jit_sshsig_hash *h = NULL;
	const char *c;
	int r = JIT_ERR_INTERNAL;

	*out = NULL;
	if (hash_alg == NULL)
		hash_alg = "sha512";
	if ((c = hash_alg_canon(hash_alg, strlen(hash_alg))) == NULL)
		return JIT_ERR_SIGNATURE_ALG;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return JIT_ERR_ALLOC;
	if ((h->ctx = EVP_MD_CTX_new()) == NULL) {
		r = JIT_ERR_ALLOC;
		goto out;
	}
	if (EVP_DigestInit_ex(h->ctx, hash_alg_md(c), NULL) != 1) {
		r = JIT_ERR_CRYPTO;
		goto out;
	}
	h->dlen = jit_sshsig_digest_len(c);
	*out = h;
	h = NULL;
	r = 0;
 out:
	jit_sshsig_hash_free(h);
	return r;
}

int
jit_sshsig_hash_update(struct jit_sshsig_hash *h, const void *data,
    size_t len)
{
	if (h == NULL || h->done || (data == NULL && len > 0))
		return JIT_ERR_INVALID_ARGUMENT;
	if (len == 0)
		return 0;
	if (EVP_DigestUpdate(h->ctx, data, len) != 1)
		return JIT_ERR_CRYPTO;
	return 0;
}

int
jit_sshsig_hash_final(struct jit_sshsig_hash *h,
    unsigned char digest[JIT_SSHSIG_MAX_DIGEST], size_t *dlen)
{
	unsigned int n = 0;

	*dlen = 0;
	if (h == NULL || h->done)
		return JIT_ERR_INVALID_ARGUMENT;
	h->done = 1;
	if (EVP_DigestFinal_ex(h->ctx, digest, &n) != 1 || n != h->dlen)
		return JIT_ERR_CRYPTO;
	*dlen = n;
	return 0;
}

void
jit_sshsig_hash_free(struct jit_sshsig_hash *h)
{
	if (h == NULL)
		return;
	EVP_MD_CTX_free(h->ctx);
	free(h);
}

/* One-shot digest of msg with a canonical algorithm name. */
static int
hash_message(const char *canon, const unsigned char *msg, size_t len,
    unsigned char digest[JIT_SSHSIG_MAX_DIGEST], size_t *dlen)
{
	unsigned int n = 0;

	*dlen = 0;
	if (msg == NULL && len > 0)
		return JIT_ERR_INVALID_ARGUMENT;
	if (EVP_Digest(len > 0 ? msg : (const unsigned char *)"", len,
	    digest, &n, hash_alg_md(canon), NULL) != 1)
		return JIT_ERR_CRYPTO;
	*dlen = n;
	return 0;
}

/* The bytes the key signs: "SSHSIG" string(ns) string("") string(alg)
 * string(digest). */
static int
put_signed_data(struct jit_buf *b, const unsigned char *ns, size_t nslen,
    const char *canon, const unsigned char *digest, size_t dlen)
{
	int r;

	if ((r = jit_buf_put(b, SSHSIG_MAGIC, SSHSIG_MAGIC_LEN)) != 0 ||
	    (r = jit_buf_put_string(b, ns, nslen)) != 0 ||
	    (r = jit_buf_put_string(b, NULL, 0)) != 0 ||
	    (r = jit_buf_put_cstring(b, canon)) != 0 ||
	    (r = jit_buf_put_string(b, digest, dlen)) != 0)
		return r;
	return 0;
}

/* Check the namespace, hash name (NULL = sha512) and digest length that
 * signing and verifying share; the canonical hash name in *canon. */
static int
check_ns_hash(const char *ns, const char *hash_alg, size_t dlen,
    const char **canon)
{
	*canon = NULL;
	if (ns == NULL || *ns == '\0')
		return JIT_ERR_INVALID_ARGUMENT;
	if (hash_alg == NULL)
		hash_alg = "sha512";
	if ((*canon = hash_alg_canon(hash_alg, strlen(hash_alg))) == NULL)
		return JIT_ERR_SIGNATURE_ALG;
	if (dlen != jit_sshsig_digest_len(*canon))
		return JIT_ERR_INVALID_ARGUMENT;
	return 0;
}

/* Check the arguments shared by the signing entry points and return the
 * canonical hash name in *canon. */
static int
check_sign_args(jit_signer_fn signer, const struct jit_key *pub,
    const char *ns, const char *hash_alg, size_t dlen, const char **canon)
{
	*canon = NULL;
	if (signer == NULL || pub == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	return check_ns_hash(ns, hash_alg, dlen, canon);
}

int
jit_sshsig_sign_digest_blob(jit_signer_fn signer, void *ctx,
    const struct jit_key *pub, const char *ns, const char *hash_alg,
    const unsigned char *digest, size_t dlen, struct jit_buf *out)
{
	struct jit_buf tosign = JIT_BUF_INIT, sig = JIT_BUF_INIT;
	struct jit_buf blob = JIT_BUF_INIT;
	const unsigned char *pubblob;
	const char *canon;
	size_t publen;
	int r = JIT_ERR_INTERNAL;

	if (out == NULL || digest == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	if ((r = check_sign_args(signer, pub, ns, hash_alg, dlen,
	    &canon)) != 0)
		return r;
	if ((r = jit_key_public_blob(pub, &pubblob, &publen)) != 0)
		goto out;
	if ((r = put_signed_data(&tosign, (const unsigned char *)ns,
	    strlen(ns), canon, digest, dlen)) != 0)
		goto out;
	if ((r = signer(ctx, jit_buf_ptr(&tosign), jit_buf_len(&tosign),
	    &sig)) != 0)
		goto out;
	/*
	 * Check the signer's output before publishing it: a remote or faulty
	 * signer might use another key, a refused algorithm (ssh-rsa) or
	 * produce a corrupt RSA-CRT result, and a bad signature must never
	 * leave this function.
	 */
	if ((r = jit_key_verify(pub, jit_buf_ptr(&sig), jit_buf_len(&sig),
	    jit_buf_ptr(&tosign), jit_buf_len(&tosign))) != 0)
		goto out;
	if ((r = jit_buf_put(&blob, SSHSIG_MAGIC, SSHSIG_MAGIC_LEN)) != 0 ||
	    (r = jit_buf_put_u32(&blob, SSHSIG_VERSION)) != 0 ||
	    (r = jit_buf_put_string(&blob, pubblob, publen)) != 0 ||
	    (r = jit_buf_put_cstring(&blob, ns)) != 0 ||
	    (r = jit_buf_put_string(&blob, NULL, 0)) != 0 ||
	    (r = jit_buf_put_cstring(&blob, canon)) != 0 ||
	    (r = jit_buf_put_stringb(&blob, &sig)) != 0)
		goto out;
	r = jit_buf_put(out, jit_buf_ptr(&blob), jit_buf_len(&blob));
 out:
	jit_buf_release(&tosign);
	jit_buf_release(&sig);
	jit_buf_release(&blob);
	return r;
}

int
jit_sshsig_sign_digest(jit_signer_fn signer, void *ctx,
    const struct jit_key *pub, const char *ns, const char *hash_alg,
    const unsigned char *digest, size_t dlen, char **armored)
{
	struct jit_buf blob = JIT_BUF_INIT;
	int r = JIT_ERR_INTERNAL;

	if (armored == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	*armored = NULL;
	if ((r = jit_sshsig_sign_digest_blob(signer, ctx, pub, ns, hash_alg,
	    digest, dlen, &blob)) != 0)
		goto out;
	r = jit_sshsig_armor(jit_buf_ptr(&blob), jit_buf_len(&blob), armored);
 out:
	jit_buf_release(&blob);
	return r;
}

int
jit_sshsig_sign(jit_signer_fn signer, void *ctx,
    const struct jit_key *pub, const char *ns, const char *hash_alg,
    const unsigned char *msg, size_t len, char **armored)
{
	unsigned char digest[JIT_SSHSIG_MAX_DIGEST];
	const char *canon;
	size_t dlen = 0;
	int r = JIT_ERR_INTERNAL;

	if (armored == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	*armored = NULL;
	if (hash_alg == NULL)
		hash_alg = "sha512";
	if ((canon = hash_alg_canon(hash_alg, strlen(hash_alg))) == NULL)
		return JIT_ERR_SIGNATURE_ALG;
	if ((r = hash_message(canon, msg, len, digest, &dlen)) != 0)
		return r;
	r = jit_sshsig_sign_digest(signer, ctx, pub, ns, canon, digest, dlen,
	    armored);
	jit_wipe(digest, sizeof(digest));
	return r;
}

int
jit_sshsig_armor(const unsigned char *blob, size_t len, char **out)
{
	struct jit_buf a = JIT_BUF_INIT;
	unsigned char nul = 0;
	char *b64 = NULL;
	size_t b64len, i, n;
	int r = JIT_ERR_INTERNAL;

	if (out == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	*out = NULL;
	if (blob == NULL || len == 0)
		return JIT_ERR_INVALID_ARGUMENT;
	if ((r = jit_b64_encode(blob, len, &b64)) != 0)
		goto out;
	b64len = strlen(b64);
	if ((r = jit_buf_put(&a, SSHSIG_BEGIN, strlen(SSHSIG_BEGIN))) != 0)
		goto out;
	for (i = 0; i < b64len; i += n) {
		n = b64len - i < SSHSIG_WRAP ? b64len - i : SSHSIG_WRAP;
		if ((r = jit_buf_put(&a, b64 + i, n)) != 0 ||
		    (r = jit_buf_put_u8(&a, '\n')) != 0)
			goto out;
	}
	if ((r = jit_buf_put(&a, SSHSIG_END "\n",
	    strlen(SSHSIG_END "\n"))) != 0 ||
	    (r = jit_buf_put(&a, &nul, 1)) != 0)
		goto out;
	if ((*out = malloc(jit_buf_len(&a))) == NULL) {
		r = JIT_ERR_ALLOC;
		goto out;
	}
	memcpy(*out, jit_buf_ptr(&a), jit_buf_len(&a));
	r = 0;
 out:
	free(b64);
	jit_buf_release(&a);
	return r;
}

static int
is_b64_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '=';
}

int
jit_sshsig_dearmor(const char *armored, size_t len, struct jit_buf *out)
{
	struct jit_buf in, b64 = JIT_BUF_INIT;
	const unsigned char *p, *nl;
	unsigned char *blob = NULL;
	size_t rest, linelen, bloblen = 0, i;
	int r = JIT_ERR_INTERNAL, footer = 0;

	if (armored == NULL || out == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	if (len > JIT_SSHSIG_MAX_ARMOR)
		return JIT_ERR_STRING_TOO_LARGE;
	jit_buf_view(&in, armored, len);
	if (jit_buf_len(&in) < strlen(SSHSIG_BEGIN) ||
	    memcmp(jit_buf_ptr(&in), SSHSIG_BEGIN, strlen(SSHSIG_BEGIN)) != 0)
		return JIT_ERR_INVALID_FORMAT;
	if ((r = jit_buf_skip(&in, strlen(SSHSIG_BEGIN))) != 0)
		return r;
	while (jit_buf_len(&in) > 0) {
		p = jit_buf_ptr(&in);
		rest = jit_buf_len(&in);
		nl = memchr(p, '\n', rest);
		linelen = nl != NULL ? (size_t)(nl - p) : rest;
		if (linelen == strlen(SSHSIG_END) &&
		    memcmp(p, SSHSIG_END, linelen) == 0) {
			/* The footer ends the armour: nothing may follow
			 * but its newline. */
			if (rest - linelen > 1) {
				r = JIT_ERR_TRAILING_DATA;
				goto out;
			}
			footer = 1;
			break;
		}
		if (nl == NULL || linelen == 0 || linelen > SSHSIG_MAX_LINE) {
			r = JIT_ERR_INVALID_FORMAT;
			goto out;
		}
		for (i = 0; i < linelen; i++) {
			if (!is_b64_char(p[i])) {
				r = JIT_ERR_INVALID_FORMAT;
				goto out;
			}
		}
		if ((r = jit_buf_put(&b64, p, linelen)) != 0 ||
		    (r = jit_buf_skip(&in, linelen + 1)) != 0)
			goto out;
	}
	if (!footer || jit_buf_len(&b64) == 0) {
		r = JIT_ERR_INVALID_FORMAT;
		goto out;
	}
	if ((r = jit_b64_decode((const char *)jit_buf_ptr(&b64),
	    jit_buf_len(&b64), &blob, &bloblen)) != 0)
		goto out;
	if (bloblen == 0) {
		r = JIT_ERR_INVALID_FORMAT;
		goto out;
	}
	if (bloblen > JIT_SSHSIG_MAX_BLOB) {
		r = JIT_ERR_STRING_TOO_LARGE;
		goto out;
	}
	r = jit_buf_put(out, blob, bloblen);
 out:
	free(blob);
	jit_buf_release(&b64);
	return r;
}

static void
fields_release(struct sshsig_fields *f)
{
	jit_key_free(f->key);
	memset(f, 0, sizeof(*f));
}

/* Parse and check the structure of a blob (not the signature). */
static int
parse_blob(const unsigned char *blob, size_t len, struct sshsig_fields *f)
{
	struct jit_buf b;
	unsigned char magic[SSHSIG_MAGIC_LEN];
	const unsigned char *pk, *reserved, *alg;
	size_t pklen, reslen, alglen;
	uint32_t version;
	int r = JIT_ERR_INTERNAL;

	memset(f, 0, sizeof(*f));
	if (blob == NULL || len > JIT_SSHSIG_MAX_BLOB)
		return blob == NULL ? JIT_ERR_INVALID_ARGUMENT :
		    JIT_ERR_STRING_TOO_LARGE;
	jit_buf_view(&b, blob, len);
	if ((r = jit_buf_get(&b, magic, sizeof(magic))) != 0)
		goto out;
	if (memcmp(magic, SSHSIG_MAGIC, SSHSIG_MAGIC_LEN) != 0) {
		r = JIT_ERR_INVALID_FORMAT;
		goto out;
	}
	if ((r = jit_buf_get_u32(&b, &version)) != 0)
		goto out;
	if (version != SSHSIG_VERSION) {
		r = JIT_ERR_INVALID_FORMAT;
		goto out;
	}
	if ((r = jit_buf_get_string_direct(&b, &pk, &pklen)) != 0 ||
	    (r = jit_buf_get_string_direct(&b, &f->ns, &f->nslen)) != 0 ||
	    (r = jit_buf_get_string_direct(&b, &reserved, &reslen)) != 0 ||
	    (r = jit_buf_get_string_direct(&b, &alg, &alglen)) != 0 ||
	    (r = jit_buf_get_string_direct(&b, &f->sig, &f->siglen)) != 0)
		goto out;
	if (jit_buf_len(&b) != 0) {
		r = JIT_ERR_TRAILING_DATA;
		goto out;
	}
	/* The namespace is a C string on both sides; an empty one or one
	 * hiding a NUL is malformed.  We write reserved empty and so does
	 * every known signer, so anything else is refused. */
	if (f->nslen == 0 || reslen != 0 || f->siglen == 0) {
		r = JIT_ERR_INVALID_FORMAT;
		goto out;
	}
	if (memchr(f->ns, '\0', f->nslen) != NULL) {
		r = JIT_ERR_NUL_IN_STRING;
		goto out;
	}
	if ((f->hash_alg = hash_alg_canon((const char *)alg, alglen)) == NULL) {
		r = JIT_ERR_SIGNATURE_ALG;
		goto out;
	}
	if ((r = jit_key_from_blob(pk, pklen, &f->key)) != 0)
		goto out;
	r = 0;
 out:
	if (r != 0)
		fields_release(f);
	return r;
}

static int
verify_fields(struct sshsig_fields *f, const char *ns, const char *canon,
    const unsigned char *digest, size_t dlen, struct jit_key **signer_out)
{
	struct jit_buf toverify = JIT_BUF_INIT;
	size_t nslen = strlen(ns);
	int r = JIT_ERR_INTERNAL;

	if (f->nslen != nslen || memcmp(f->ns, ns, nslen) != 0 ||
	    strcmp(f->hash_alg, canon) != 0) {
		r = JIT_ERR_SIGNATURE_INVALID;
		goto out;
	}
	if ((r = put_signed_data(&toverify, (const unsigned char *)ns, nslen,
	    canon, digest, dlen)) != 0)
		goto out;
	if ((r = jit_key_verify(f->key, f->sig, f->siglen,
	    jit_buf_ptr(&toverify), jit_buf_len(&toverify))) != 0)
		goto out;
	if (signer_out != NULL) {
		*signer_out = f->key;
		f->key = NULL;
	}
	r = 0;
 out:
	jit_buf_release(&toverify);
	return r;
}

/* Common argument checks for the verify entry points. */
static int
check_verify_args(const char *ns, const char *hash_alg,
    const unsigned char *digest, size_t dlen, const char **canon)
{
	*canon = NULL;
	if (digest == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	return check_ns_hash(ns, hash_alg, dlen, canon);
}

int
jit_sshsig_verify_blob(const unsigned char *blob, size_t len,
    const char *ns, const char *hash_alg, const unsigned char *digest,
    size_t dlen, struct jit_key **signer_out)
{
	struct sshsig_fields f;
	const char *canon;
	int r = JIT_ERR_INTERNAL;

	if (signer_out != NULL)
		*signer_out = NULL;
	if ((r = check_verify_args(ns, hash_alg, digest, dlen, &canon)) != 0)
		return r;
	if ((r = parse_blob(blob, len, &f)) != 0)
		return r;
	r = verify_fields(&f, ns, canon, digest, dlen, signer_out);
	fields_release(&f);
	return r;
}

int
jit_sshsig_verify_digest(const char *armored, size_t len,
    const char *ns, const char *hash_alg, const unsigned char *digest,
    size_t dlen, struct jit_key **signer_out)
{
	struct jit_buf blob = JIT_BUF_INIT;
	int r = JIT_ERR_INTERNAL;

	if (signer_out != NULL)
		*signer_out = NULL;
	if ((r = jit_sshsig_dearmor(armored, len, &blob)) != 0)
		goto out;
	r = jit_sshsig_verify_blob(jit_buf_ptr(&blob), jit_buf_len(&blob),
	    ns, hash_alg, digest, dlen, signer_out);
 out:
	jit_buf_release(&blob);
	return r;
}

int
jit_sshsig_peek_hash_alg(const char *armored, size_t len,
    const char **hash_alg)
{
	struct jit_buf blob = JIT_BUF_INIT;
	struct sshsig_fields f;
	int r = JIT_ERR_INTERNAL;

	if (hash_alg == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	*hash_alg = NULL;
	if ((r = jit_sshsig_dearmor(armored, len, &blob)) != 0)
		goto out;
	if ((r = parse_blob(jit_buf_ptr(&blob), jit_buf_len(&blob),
	    &f)) != 0)
		goto out;
	*hash_alg = f.hash_alg;
	fields_release(&f);
 out:
	jit_buf_release(&blob);
	return r;
}

int
jit_sshsig_verify(const char *armored, size_t len, const char *ns,
    const unsigned char *msg, size_t msglen, struct jit_key **signer_out)
{
	struct jit_buf blob = JIT_BUF_INIT;
	struct sshsig_fields f;
	unsigned char digest[JIT_SSHSIG_MAX_DIGEST];
	size_t dlen = 0;
	int r = JIT_ERR_INTERNAL, parsed = 0;

	if (signer_out != NULL)
		*signer_out = NULL;
	if (ns == NULL || *ns == '\0' || (msg == NULL && msglen > 0))
		return JIT_ERR_INVALID_ARGUMENT;
	if ((r = jit_sshsig_dearmor(armored, len, &blob)) != 0)
		goto out;
	if ((r = parse_blob(jit_buf_ptr(&blob), jit_buf_len(&blob),
	    &f)) != 0)
		goto out;
	parsed = 1;
	/* The message is hashed with the signature's own algorithm, as
	 * ssh-keygen -Y verify does. */
	if ((r = hash_message(f.hash_alg, msg, msglen, digest, &dlen)) != 0)
		goto out;
	r = verify_fields(&f, ns, f.hash_alg, digest, dlen, signer_out);
 out:
	if (parsed)
		fields_release(&f);
	jit_buf_release(&blob);
	return r;
}
