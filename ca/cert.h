/*
 * cert.h - OpenSSH user and host certificates (PROTOCOL.certkeys,
 * *-cert-v01).
 *
 * Build and sign: fill a struct jit_cert_spec and call jit_cert_sign();
 * the CA signs through a jit_signer_fn so its key may live elsewhere.
 * Critical options and extensions are emitted sorted byte-wise, each name
 * once (duplicates are an error).  The nonce is 32 random bytes.
 *
 * Parse and verify: jit_cert_parse() decodes every field of a cert blob
 * and checks its structure; jit_cert_verify() checks the CA signature and,
 * optionally, the CA key, subject key, time window and principals.
 */
#ifndef JIT_CERT_H
#define JIT_CERT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "key.h"

#define JIT_CERT_TYPE_USER 1
#define JIT_CERT_TYPE_HOST 2
#define JIT_CERT_MAX_PRINCIPALS 256
#define JIT_CERT_NONCE_LEN 32

struct jit_cert_spec {
	uint32_t type;                     /* JIT_CERT_TYPE_USER or _HOST;
	                                      0 = user */
	const struct jit_key *key;        /* subject public key */
	uint64_t serial;                   /* must be non-zero */
	const char *key_id;                /* must be non-NULL */
	const char *const *principals;     /* at least one (host names
	                                      for a host certificate) */
	size_t nprincipals;
	uint64_t valid_after, valid_before;   /* valid_after < valid_before */
	const char *force_command;         /* NULL = none */
	const char *source_address;        /* "CIDR,CIDR"; NULL = none */
	const char *const *extensions;     /* flag extensions, any order */
	size_t nextensions;
	/* A host certificate has no options: force_command, source_address
	 * and extensions must be NULL / 0. */
};

/* Build the cert described by spec, sign it with signer(ctx, ...) on
 * behalf of ca_pub (the CA's public key, embedded as signature_key) and
 * append the complete cert blob to out.  Errors: INVALID_ARGUMENT for a
 * zero serial, no principals, an empty window, a NUL/empty principal,
 * duplicate options, an unknown type, options on a host certificate;
 * whatever the signer returns. */
int jit_cert_sign(const struct jit_cert_spec *spec,
    const struct jit_key *ca_pub, jit_signer_fn signer, void *ctx,
    struct jit_buf *out);

struct jit_cert_option {
	char *name;
	unsigned char *data;   /* inner value for value options, NUL-terminated */
	size_t len;            /* 0 and data NULL for a flag */
};

/* A parsed certificate.  All pointers are owned by the struct. */
struct jit_cert {
	enum jit_key_type key_type;
	struct jit_key *key;              /* subject public key */
	unsigned char *nonce;
	size_t nonce_len;
	uint64_t serial;
	uint32_t type;
	char *key_id;
	char **principals;
	size_t nprincipals;
	uint64_t valid_after, valid_before;
	struct jit_cert_option *critical;
	size_t ncritical;
	struct jit_cert_option *extensions;
	size_t nextensions;
	struct jit_key *signature_key;    /* CA public key */
	char *signature_alg;              /* e.g. "ssh-ed25519", "rsa-sha2-512" */
	unsigned char *blob;              /* the whole cert blob */
	size_t blob_len;
	size_t signed_len;                /* bytes covered by the signature */
};

/* Parse a cert blob.  Structural checks only (no signature check): known
 * cert type, well-formed fields, at most 256 principals, no NUL in
 * strings, CA key not itself a cert, no trailing data. */
int jit_cert_parse(const unsigned char *blob, size_t len,
    struct jit_cert **out);
/* Parse "TYPE-cert-v01@openssh.com BASE64 [comment]". */
int jit_cert_parse_line(const char *line, struct jit_cert **out);
void jit_cert_free(struct jit_cert *c);

/* Value of a critical option or extension, or NULL. */
const struct jit_cert_option *jit_cert_find_critical(const struct jit_cert *c,
    const char *name);
const struct jit_cert_option *jit_cert_find_extension(
    const struct jit_cert *c, const char *name);

/* Check the CA signature with c->signature_key (SHA-1 ssh-rsa refused). */
int jit_cert_verify_signature(const struct jit_cert *c);

struct jit_cert_expect {
	uint32_t type;                     /* JIT_CERT_TYPE_USER or _HOST;
	                                      0 = user */
	const struct jit_key *ca;          /* required CA, or NULL */
	const struct jit_key *key;         /* required subject key, or NULL */
	uint64_t now;                      /* 0 = do not check time */
	const char *const *principals;     /* exact set, or NULL */
	size_t nprincipals;
};

/* Full verification: signature, type (e->type; user when e is NULL),
 * then each expectation given.
 * Errors: SIGNATURE_INVALID, CERT_TYPE, CERT_WRONG_CA, CERT_WRONG_KEY,
 * CERT_NOT_YET_VALID, CERT_EXPIRED, CERT_PRINCIPALS. */
int jit_cert_verify(const struct jit_cert *c, const struct jit_cert_expect *e);

/* "TYPE-cert-v01@openssh.com BASE64[ comment]" as a new string. */
int jit_cert_format(const unsigned char *blob, size_t len,
    const char *comment, char **out);

#endif
