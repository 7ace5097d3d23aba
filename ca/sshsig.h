/*
 * sshsig.h - SSH signatures over files (PROTOCOL.sshsig), the format of
 * `ssh-keygen -Y sign` and `ssh-keygen -Y verify`.
 *
 * Blob:    "SSHSIG" uint32(1) string(pubkey) string(namespace)
 *          string(reserved = "") string(hash_alg) string(signature)
 * Signed:  "SSHSIG" string(namespace) string(reserved = "")
 *          string(hash_alg) string(H(message))
 * Armour:  "-----BEGIN SSH SIGNATURE-----\n", the blob in base64 wrapped
 *          at 70 characters, "-----END SSH SIGNATURE-----\n".
 *
 * hash_alg is "sha256" or "sha512"; NULL means "sha512" (ssh-keygen's
 * default).  A namespace must be a non-empty string.  RSA signatures are
 * rsa-sha2-512 when we sign and must be rsa-sha2-256/512 when we verify.
 *
 * Verification is strict: exact header and footer (at most one newline
 * after the footer), base64 lines of 1-76 characters separated by "\n",
 * version 1, an empty reserved field, no trailing bytes, a plain public
 * key (not a certificate, not DSA), the namespace equal to the expected
 * one, a known hash algorithm, and a valid signature by the embedded key.
 *
 * A successful verify proves only that the embedded key signed the
 * message.  The caller must then decide whether that key is an allowed
 * signer (compare *signer_out with jit_key_equal_public()).
 *
 * Errors (besides ALLOC and what the signer returns): INVALID_ARGUMENT
 * for bad arguments (empty namespace, wrong digest length), SIGNATURE_ALG
 * for an unknown hash algorithm or a refused signature algorithm,
 * INVALID_FORMAT / MESSAGE_INCOMPLETE / TRAILING_DATA / STRING_TOO_LARGE
 * for a malformed signature, SIGNATURE_INVALID when the namespace, hash
 * algorithm or signature does not match.  Output parameters are cleared
 * on entry and set only on success.
 */
#ifndef JIT_SSHSIG_H
#define JIT_SSHSIG_H

#include <stddef.h>

#include "buf.h"
#include "key.h"

#define JIT_SSHSIG_MAX_DIGEST 64     /* SHA-512 */
#define JIT_SSHSIG_MAX_BLOB (64u * 1024)  /* longest blob accepted */
#define JIT_SSHSIG_MAX_ARMOR (96u * 1024) /* longest armour accepted */

/*
 * Incremental hashing of a message, so a large file can be signed or
 * verified without holding it in memory.  init takes "sha256", "sha512"
 * or NULL (= "sha512"); final writes the digest (32 or 64 bytes) to
 * digest[JIT_SSHSIG_MAX_DIGEST] and its length to *dlen, after which
 * only jit_sshsig_hash_free() may be called.  free(NULL) is a no-op.
 * Errors: SIGNATURE_ALG (unknown algorithm), ALLOC, CRYPTO.
 */
struct jit_sshsig_hash;
int jit_sshsig_hash_init(const char *hash_alg, struct jit_sshsig_hash **out);
int jit_sshsig_hash_update(struct jit_sshsig_hash *h, const void *data,
    size_t len);
int jit_sshsig_hash_final(struct jit_sshsig_hash *h,
    unsigned char digest[JIT_SSHSIG_MAX_DIGEST], size_t *dlen);
void jit_sshsig_hash_free(struct jit_sshsig_hash *h);

/* Digest length for a hash algorithm name (NULL = sha512), or 0 if the
 * name is not "sha256" or "sha512". */
size_t jit_sshsig_digest_len(const char *hash_alg);

/*
 * Sign msg (or its precomputed digest) in namespace ns with signer(ctx,
 * ...), on behalf of pub (the public half of the signing key, embedded in
 * the blob).  dlen must equal jit_sshsig_digest_len(hash_alg).
 * *armored receives a new NUL-terminated string, byte-identical in form
 * to ssh-keygen -Y sign output; the caller frees it.
 */
int jit_sshsig_sign(jit_signer_fn signer, void *ctx,
    const struct jit_key *pub, const char *ns, const char *hash_alg,
    const unsigned char *msg, size_t len, char **armored);
int jit_sshsig_sign_digest(jit_signer_fn signer, void *ctx,
    const struct jit_key *pub, const char *ns, const char *hash_alg,
    const unsigned char *digest, size_t dlen, char **armored);
/* As jit_sshsig_sign_digest, appending the raw blob to out instead (on
 * error out is unchanged). */
int jit_sshsig_sign_digest_blob(jit_signer_fn signer, void *ctx,
    const struct jit_key *pub, const char *ns, const char *hash_alg,
    const unsigned char *digest, size_t dlen, struct jit_buf *out);

/* Armour a blob: new string in *out, caller frees. */
int jit_sshsig_armor(const unsigned char *blob, size_t len, char **out);
/* Strictly decode armour (see above) and append the blob to out; on
 * error out is unchanged.  armored need not be NUL-terminated. */
int jit_sshsig_dearmor(const char *armored, size_t len, struct jit_buf *out);

/* The hash algorithm a signature uses, so a streaming verifier knows how
 * to hash the message: *hash_alg is set to the static string "sha256" or
 * "sha512" (never freed).  The armour and blob are fully checked for
 * structure; the signature itself is not. */
int jit_sshsig_peek_hash_alg(const char *armored, size_t len,
    const char **hash_alg);

/*
 * Verify an armoured signature over msg, or over a precomputed digest
 * made with hash_alg (which must equal the signature's algorithm, else
 * SIGNATURE_INVALID).  On success, if signer_out is non-NULL, it receives
 * a new key (the embedded public key) for the caller to jit_key_free().
 * The _blob variant takes the raw (already dearmoured) blob.
 */
int jit_sshsig_verify(const char *armored, size_t len, const char *ns,
    const unsigned char *msg, size_t msglen, struct jit_key **signer_out);
int jit_sshsig_verify_digest(const char *armored, size_t len,
    const char *ns, const char *hash_alg, const unsigned char *digest,
    size_t dlen, struct jit_key **signer_out);
int jit_sshsig_verify_blob(const unsigned char *blob, size_t len,
    const char *ns, const char *hash_alg, const unsigned char *digest,
    size_t dlen, struct jit_key **signer_out);

#endif
