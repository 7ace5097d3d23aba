/*
 * key.h - SSH keys: CA keys (private) and user keys (public).
 *
 * A struct jit_key holds a public key and, for CA keys, its private part.
 * Supported: Ed25519, ECDSA P-256/P-384/P-521, RSA.  DSA is refused
 * everywhere.  RSA signs only with rsa-sha2-512 (never SHA-1 ssh-rsa).
 *
 * Ed25519 signing uses libsodium (crypto_sign_detached), about twice the
 * rate of OpenSSL 3.0's EVP; everything else (ECDSA, RSA, hashing, key
 * files) goes through OpenSSL.
 *
 * Ownership: functions that return a struct jit_key ** give the caller a
 * new object to release with jit_key_free(); jit_key_free(NULL) is a no-op
 * and wipes private material.  Output parameters are cleared on entry.
 */
#ifndef JIT_KEY_H
#define JIT_KEY_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

enum jit_key_type {
	JIT_KEY_UNKNOWN = 0,
	JIT_KEY_ED25519,
	JIT_KEY_ECDSA_P256,
	JIT_KEY_ECDSA_P384,
	JIT_KEY_ECDSA_P521,
	JIT_KEY_RSA,
};

#define JIT_RSA_MIN_USER_BITS 2048
#define JIT_RSA_MIN_CA_BITS 3072
#define JIT_RSA_DEFAULT_BITS 3072

struct jit_key;

/* Names.  Return NULL for JIT_KEY_UNKNOWN. */
/* SSH key type: "ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa" */
const char *jit_key_type_ssh_name(enum jit_key_type t);
/* Certificate type: "ssh-ed25519-cert-v01@openssh.com", ... */
const char *jit_key_type_cert_name(enum jit_key_type t);
/* Short name for CLI and policy: "ed25519", "ecdsa-p256", "rsa" */
const char *jit_key_type_short_name(enum jit_key_type t);
/* Family for policy key_types: "ed25519", "ecdsa", "rsa" */
const char *jit_key_type_family(enum jit_key_type t);
/* Parse a short name ("ed25519", "ecdsa-p256"..., "ecdsa" = P-256, "rsa");
 * returns JIT_KEY_UNKNOWN if not recognised. */
enum jit_key_type jit_key_type_from_short_name(const char *s);
/* From a plain SSH key type name ("ssh-ed25519", ...); JIT_KEY_UNKNOWN
 * for anything else, including cert type names and signature algorithm
 * names such as "rsa-sha2-512". */
enum jit_key_type jit_key_type_from_ssh_name(const char *s, size_t len);

/* Accessors */
enum jit_key_type jit_key_type(const struct jit_key *k);
int jit_key_has_private(const struct jit_key *k);
unsigned jit_key_bits(const struct jit_key *k);

/* Generate a new key.  bits is used for RSA only (0 = 3072; < 3072 is
 * refused with KEY_TOO_SMALL). */
int jit_key_generate(enum jit_key_type t, unsigned bits, struct jit_key **out);
/* The size those rules give a new key of type t: *bits becomes the RSA
 * size (0 -> 3072) or 0 for other types.  Errors: KEY_TYPE_UNKNOWN,
 * KEY_TOO_SMALL, INVALID_ARGUMENT (above 16384). */
int jit_key_generate_bits(enum jit_key_type t, unsigned *bits);

void jit_key_free(struct jit_key *k);

/* Private key material is kept out of core dumps (MADV_DONTDUMP) and
 * locked in RAM (mlock) so it is never swapped out: the key object's own
 * pages hold the Ed25519 seed, and OpenSSL's secure heap (made before the
 * first private key) holds ECDSA private numbers.  1 when that worked for
 * k's private part; 0 when it could not (RLIMIT_MEMLOCK too small; the key
 * works all the same), for RSA (OpenSSL 3.0 imports RSA private numbers
 * onto its ordinary heap) and when k has no private part. */
int jit_key_memory_locked(const struct jit_key *k);

/* Public-key blob (SSH wire format of the plain key).
 * jit_key_public_blob returns a pointer cached inside the key, valid as
 * long as the key; put_ appends it to a buffer. */
int jit_key_public_blob(const struct jit_key *k, const unsigned char **blob,
    size_t *len);
int jit_key_put_public(const struct jit_key *k, struct jit_buf *b);

/* Parse a plain public key blob (no private part).  Checks points are on
 * the curve and RSA sizes (>= 1024 bits here; policy decides more).
 * A certificate blob gives KEY_IS_CERT, DSA KEY_TYPE_UNSUPPORTED.
 * Only canonical encodings are accepted (minimal mpints, uncompressed EC
 * points), so a blob that parses is byte for byte jit_key_public_blob;
 * bytes after the key give TRAILING_DATA. */
int jit_key_from_blob(const unsigned char *blob, size_t len,
    struct jit_key **out);

/* Read the key fields (after the type name string) of a plain key of
 * type t from b, as they appear both in plain blobs and inside certs.
 * On error nothing is consumed from b. */
int jit_key_get_public_fields(struct jit_buf *b, enum jit_key_type t,
    struct jit_key **out);
/* Append the key fields (after the type name) of k, as inside certs. */
int jit_key_put_public_fields(const struct jit_key *k, struct jit_buf *b);

/* Parse one authorized_keys-style line "TYPE BASE64 [comment]" as a user
 * key: Ed25519, ECDSA, RSA >= 2048.  Leading/trailing whitespace is
 * ignored; options before the type are not accepted.  *comment (if
 * non-NULL) receives a new string or NULL.  Errors: KEY_IS_CERT,
 * KEY_TYPE_UNSUPPORTED (DSA, sk-*), KEY_TOO_SMALL, KEY_TYPE_UNKNOWN,
 * INVALID_FORMAT, BAD_PUBLIC_KEY.  INVALID_FORMAT also covers a line over
 * 64 KiB, a line break inside, control characters in the comment and a
 * type word that differs from the blob's type. */
int jit_key_parse_public(const char *line, struct jit_key **out,
    char **comment);
/* The same for a line this program made itself (jit_key_format_public)
 * from a key that jit_key_parse_public accepted, e.g. one read back from
 * its own store: skips the Ed25519 point validation, a scalar
 * multiplication costing about two signatures.  Never for outside input. */
int jit_key_parse_public_trusted(const char *line, struct jit_key **out);
/* Read a .pub file with one key line; same rules. */
int jit_key_load_public(const char *path, struct jit_key **out);

/* "TYPE BASE64[ comment]" as a new string (no newline).  A NULL or empty
 * comment is left out; one with control characters is INVALID_ARGUMENT. */
int jit_key_format_public(const struct jit_key *k, const char *comment,
    char **out);

/* "SHA256:" + unpadded base64 of SHA-256(blob), identical to
 * ssh-keygen -l.  New string. */
int jit_key_fingerprint(const struct jit_key *k, char **out);

/* 1 if both public keys are equal, else 0. */
int jit_key_equal_public(const struct jit_key *a, const struct jit_key *b);

/* Private keys.  Loads an unencrypted OpenSSH-format file
 * ("openssh-key-v1", as written by ssh-keygen and by jit_key_save_private)
 * or a PEM private key (PKCS#8 or traditional) readable by OpenSSL.  An
 * encrypted openssh-key-v1 gives KEY_ENCRYPTED.  The public half embedded
 * in the file must match the private half (KEY_MISMATCH).  DSA gives
 * KEY_TYPE_UNSUPPORTED; RSA below JIT_RSA_MIN_USER_BITS KEY_TOO_SMALL;
 * an encrypted PEM key KEY_ENCRYPTED (OpenSSL never prompts).  Files are
 * limited to 256 KiB.  parse_private also takes the binary (base64
 * decoded) openssh-key-v1 container. */
int jit_key_load_private(const char *path, struct jit_key **out);
int jit_key_parse_private(const unsigned char *data, size_t len,
    struct jit_key **out);

/* Write the private key as an unencrypted openssh-key-v1 file (so
 * ssh-keygen -y/-s can read it), mode 0600, created with O_EXCL:
 * an existing file gives FILE_EXISTS and is left alone.  The file is
 * fsync'ed; on error nothing is left behind. */
int jit_key_save_private(const struct jit_key *k, const char *path,
    const char *comment);
/* Append the armoured openssh-key-v1 text ("-----BEGIN OPENSSH PRIVATE
 * KEY-----" ...), exactly the bytes jit_key_save_private writes, to b
 * (secret: release b).  KEY_NO_PRIVATE for a public key. */
int jit_key_put_private_openssh(const struct jit_key *k, const char *comment,
    struct jit_buf *b);

/* Append the fields of plain private key k (after its type name) as
 * openssh-key-v1 and the ssh-agent protocol's ADD_IDENTITY write them:
 * ed25519: pk, sk(64); ecdsa: curve, Q, mpint d; rsa: mpint n, e, d,
 * iqmp, p, q.  KEY_NO_PRIVATE for a public key; b is unchanged on
 * error. */
int jit_key_put_private_fields(const struct jit_key *k, struct jit_buf *b);

/* Append the private fields used by the ssh-agent protocol
 * (PROTOCOL.agent) after the cert blob:  ed25519: pk, sk(64);
 * ecdsa: mpint d; rsa: mpint d, iqmp, p, q. */
int jit_key_put_agent_private_fields(const struct jit_key *k,
    struct jit_buf *b);

/* Sign data, appending an SSH signature blob (string alg, string sig) to
 * sig.  Ed25519 -> "ssh-ed25519"; ECDSA -> "ecdsa-sha2-nistpN" with
 * SHA-256/384/512; RSA -> "rsa-sha2-512".  Needs the private part
 * (KEY_NO_PRIVATE).  On error sig is unchanged.  Ed25519 signing does no
 * allocation beyond growing sig. */
int jit_key_sign(const struct jit_key *k, const unsigned char *data,
    size_t len, struct jit_buf *sig);

/* Verify an SSH signature blob over data with k's public key.  Accepts
 * ssh-ed25519, ecdsa-sha2-nistpN matching the curve, rsa-sha2-256/512;
 * refuses ssh-rsa (SHA-1) with SIGNATURE_ALG.  0 or SIGNATURE_INVALID
 * (also for a malformed blob, trailing bytes, another key type's
 * algorithm, or an RSA signature not exactly the modulus length). */
int jit_key_verify(const struct jit_key *k, const unsigned char *sig,
    size_t siglen, const unsigned char *data, size_t len);

/* The signer callback used by certificate, sshsig and KRL code, so the CA
 * key may live elsewhere (another process, a token).  ctx is a
 * struct jit_key * for jit_key_signer. */
typedef int (*jit_signer_fn)(void *ctx, const unsigned char *data,
    size_t len, struct jit_buf *sig);
int jit_key_signer(void *ctx, const unsigned char *data, size_t len,
    struct jit_buf *sig);

#endif
