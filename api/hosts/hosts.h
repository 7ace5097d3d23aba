/*
 * hosts.h - host certificates: enrollment with one-time tokens, renewal
 * authenticated by the host's current certificate, revocation, and the
 * host CA's part of the KRL.  Clients that trust the host CA (an
 * @cert-authority line in known_hosts) then connect to an enrolled host
 * without being asked to trust an unknown host key.
 *
 * Flow.
 *   1. An admin makes an enrollment token for a set of principals, the
 *      names clients use for the host (jit_hosts_token_create; `jit-ca
 *      host token create`).  The token is shown once; the store keeps
 *      only its SHA-256.
 *   2. The host sends the token and its public host key
 *      (jit_hosts_enroll; POST /v1/hosts/enroll) and receives a host
 *      certificate for exactly the token's principals, valid for the
 *      configured validity.  The token is used up in the same write.
 *   3. Before the certificate expires the host asks for a challenge
 *      (jit_hosts_challenge; POST /v1/hosts/challenge), signs it with its
 *      host key as an SSH signature (PROTOCOL.sshsig, namespace
 *      JIT_HOSTS_SIG_NAMESPACE: `ssh-keygen -Y sign -n jit-ssh-host`) and
 *      sends it with its current certificate (jit_hosts_renew; POST
 *      /v1/hosts/renew).  The certificate must be signed by this host CA,
 *      unexpired, recorded as a certificate of a host that is not
 *      revoked, for the host's enrolled key, and the signature must be
 *      by that key over an unused challenge of this server.  The answer
 *      is a new certificate for the same key and principals.  No
 *      long-lived secret is involved: the host key is the credential.
 *   4. An admin revokes a host (jit_hosts_revoke; `jit-ca host revoke`):
 *      its certificates that may still be valid go into the KRL
 *      (jit_hosts_revoked_certs, used by revocation.h), and it can no
 *      longer renew.
 *
 * Storage (store.h: small named values, certificate records).
 *   host_token.HEX  an enrollment token, by the hex SHA-256 of the token:
 *                   {"id": "ht-" + 12 hex digits of the hash,
 *                    "principals": [...], "created_at", "expires_at",
 *                    "created_by", and once used "used_at", "host"}
 *   hosts.count     how many hosts were ever enrolled; host ids are
 *                   "h-1", "h-2", ... in enrollment order
 *   host.h-N        the host: {"id", "principals", "public_key" (type
 *                   and base64), "key_fingerprint", "token_id",
 *                   "enrolled_at", "serial" (its latest certificate),
 *                   "valid_before", "renewed_at", "revoked_at",
 *                   "revoked_by", "certs": [{"serial", "valid_before"}]}
 *                   where "certs" lists the host's certificates that may
 *                   still be valid somewhere (expired ones past the
 *                   grace are dropped at each renewal)
 *   hosts.revoked   the ids of the revoked hosts, in revocation order
 *   certificates    each host certificate under its serial: {"kind":
 *                   "host", "host", "serial", "cert" (the line),
 *                   "key_id", "principals", "key_fingerprint",
 *                   "valid_after", "valid_before", "ca_fingerprint",
 *                   "issued_at"}.  Serials come from the same sequence
 *                   as user certificates (jit_store_reserve_serial), so
 *                   a serial names one certificate whatever its CA.
 * Every change is one store write with its audit entry (audit.h):
 * "host.token.create", "host.enroll", "host.renew", "host.revoke".
 *
 * Certificates.  Type host, key ID the host's first principal, principals
 * exactly the token's, valid from now - clock_skew (clients with slow
 * clocks) until now + validity, no options or extensions.
 *
 * Errors.  0 or a negative JIT_ERR_*.  The calls a host makes refuse with
 * a code and a struct jit_why (a stable slug for docs/API.md and a
 * sentence): INVALID_ARGUMENT bad_field, bad_public_key, bad_certificate;
 * FORBIDDEN bad_token (unknown, used or expired: not told apart),
 * bad_certificate (not ours, expired, not a host certificate),
 * bad_challenge (unknown, expired or used), bad_signature, unknown_host,
 * host_revoked; store errors (STORE_*), ALLOC, INTERNAL.
 *
 * Threads: a struct jit_hosts may be used from any number of threads.
 * JSON results are new references the caller json_decref()s.  Secrets
 * (tokens) are wiped before they are freed.
 */
#ifndef JIT_HOSTS_H
#define JIT_HOSTS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "key.h"
#include "store.h"
#include "why.h"

#define JIT_HOSTS_SIG_NAMESPACE "jit-ssh-host"
#define JIT_HOSTS_TOKEN_PREFIX "jith_"
#define JIT_HOSTS_TOKEN_LEN 48           /* "jith_" + 43, without NUL */
#define JIT_HOSTS_TOKEN_ID_LEN 16        /* "ht-" + 12 hex + NUL */
#define JIT_HOSTS_TOKEN_DEFAULT_TTL 3600ull
#define JIT_HOSTS_TOKEN_MAX_TTL (30ull * 86400)
#define JIT_HOSTS_MAX_PRINCIPALS 64
#define JIT_HOSTS_PRINCIPAL_MAX 253      /* bytes, a DNS name's limit */
#define JIT_HOSTS_ID_MAX 24              /* "h-" + 20 digits + NUL */
#define JIT_HOSTS_DEFAULT_VALIDITY (30ull * 86400)
#define JIT_HOSTS_CHALLENGE_TTL 300      /* seconds */
#define JIT_HOSTS_CHALLENGE_LEN 113      /* 112 hex digits + NUL */

struct jit_hosts_options {
	struct jit_store *store;   /* borrowed; outlives the object */
	const struct jit_key *ca;  /* the host CA; its public half goes into
	                              certificates; borrowed */
	jit_signer_fn sign;        /* signs with the host CA's private key */
	void *sign_ctx;
	uint64_t validity;         /* seconds; 0 = JIT_HOSTS_DEFAULT_VALIDITY */
	uint64_t clock_skew;       /* seconds valid_after is backdated, and
	                              how long an expired certificate is kept
	                              for the KRL */
};

struct jit_hosts;

/* New object.  Errors: INVALID_ARGUMENT (no store, CA or signer), ALLOC,
 * key errors (the CA fingerprint). */
int jit_hosts_new(const struct jit_hosts_options *o, struct jit_hosts **out);
/* NULL is a no-op. */
void jit_hosts_free(struct jit_hosts *h);

/* 1 if p may be a host principal: 1 to JIT_HOSTS_PRINCIPAL_MAX letters,
 * digits, '.', '-', '_' or ':' (IPv6), not starting with '.' or '-'.
 * No wildcards: a certificate names hosts, not patterns. */
int jit_hosts_principal_ok(const char *p);
/* 1 if id looks like a host id ("h-" and 1 to 20 digits, no leading 0). */
int jit_hosts_id_ok(const char *id);

/*
 * The known_hosts line "@cert-authority PATTERNS KEYLINE" for the host CA
 * whose public key line is key_line: PATTERNS is "*.D" for each domain D
 * (comma-separated), or "*" when there are none.  *out is a new string
 * without newline.  Errors: INVALID_ARGUMENT (a NULL or empty domain or
 * key line, a line break in the key line), ALLOC.
 */
int jit_hosts_ca_line(const char *const *domains, size_t ndomains,
    const char *key_line, char **out);

/* ---- enrollment tokens (tokens.c) ------------------------------------ */

/*
 * A one-time enrollment token for principals (n of them, 1 to
 * JIT_HOSTS_MAX_PRINCIPALS, each jit_hosts_principal_ok(), no
 * duplicates), valid for ttl seconds from now (0 =
 * JIT_HOSTS_TOKEN_DEFAULT_TTL; at most JIT_HOSTS_TOKEN_MAX_TTL), stored
 * with its "host.token.create" audit entry by actor ("cli:root").  On
 * success *token is "jith_" + 43 base64url characters (shown once; the
 * caller wipes and frees it) and id (may be NULL) its public id.
 * Errors: INVALID_ARGUMENT, store errors.
 */
int jit_hosts_token_create(struct jit_store *s, const char *const *principals,
    size_t n, uint64_t ttl, uint64_t now, const char *actor, char **token,
    char id[JIT_HOSTS_TOKEN_ID_LEN]);

/* ---- what hosts ask for (issue.c, challenge.c) ----------------------- */

/*
 * Enroll: token and the host's public key line (as in a .pub file;
 * ed25519, ecdsa or RSA >= 2048) give a new host, its first certificate,
 * and the token used up, with the "host.enroll" audit entry (actor
 * "host:ID", client_addr may be NULL).  *out is {"host": ID,
 * "certificate": LINE, "serial": N, "principals": [...], "valid_after",
 * "valid_before" (RFC 3339)}.
 */
int jit_hosts_enroll(struct jit_hosts *h, const char *token,
    const char *public_key, const char *client_addr, uint64_t now,
    json_t **out, struct jit_why *why);

/* A fresh challenge (JIT_HOSTS_CHALLENGE_LEN - 1 hex digits) valid for
 * JIT_HOSTS_CHALLENGE_TTL seconds after now, in out; *expires (may be
 * NULL) receives its end.  Made from a secret of this object only, so it
 * is stored nowhere and does not survive a restart. */
int jit_hosts_challenge(struct jit_hosts *h, uint64_t now,
    char out[JIT_HOSTS_CHALLENGE_LEN], uint64_t *expires);

/*
 * Renew: cert_line is the host's current certificate line, challenge one
 * from jit_hosts_challenge() and signature the armoured SSH signature
 * (ssh-keygen -Y sign -n jit-ssh-host) of the challenge's characters by
 * the certified key.  The checks are those of the flow above; a
 * challenge is accepted once.  *out as for enroll; the audit entry is
 * "host.renew".
 */
int jit_hosts_renew(struct jit_hosts *h, const char *cert_line,
    const char *challenge, const char *signature, const char *client_addr,
    uint64_t now, json_t **out, struct jit_why *why);

/* ---- administration (hosts.c) ---------------------------------------- */

/* Each host in enrollment order: cb gets its record (borrowed; see
 * "Storage") and returns 0 to go on, 1 to stop or a negative error
 * (returned as is).  Runs in one read snapshot of s. */
typedef int (*jit_hosts_list_fn)(json_t *host, void *ctx);
int jit_hosts_list(struct jit_store *s, jit_hosts_list_fn cb, void *ctx);

/* Revoke host id ("host.revoke" by actor): renewals are refused from now
 * on and its certificates that may still be valid go into the KRL.
 * *serials (may be NULL) receives how many.  NOT_FOUND for an unknown
 * host, CONFLICT when it is already revoked. */
int jit_hosts_revoke(struct jit_store *s, const char *id, const char *actor,
    uint64_t now, size_t *serials);

/*
 * Inside a read transaction t: cb(serial, valid_before, revoked_at, ctx)
 * for every certificate of every revoked host (valid_before and
 * revoked_at in epoch seconds).  A malformed record is STORE_CORRUPT
 * (leaving a revoked certificate out of the KRL would let it in).  cb
 * returns 0 or a negative error that is returned as is.
 */
typedef int (*jit_hosts_revoked_fn)(uint64_t serial, uint64_t valid_before,
    uint64_t revoked_at, void *ctx);
int jit_hosts_revoked_certs(struct jit_store_txn *t, jit_hosts_revoked_fn cb,
    void *ctx);

#endif
