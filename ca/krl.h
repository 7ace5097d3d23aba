/*
 * krl.h - OpenSSH key revocation lists (PROTOCOL.krl), the format of
 * sshd's RevokedKeys file and of `ssh-keygen -k`.
 *
 * Build: jit_krl_build() writes a KRL with one CERTIFICATES section per
 * CA (the spec's own, then each of spec->more, in that order): serials
 * sorted and deduplicated, runs of consecutive serials as SERIAL_RANGE,
 * dense clusters as SERIAL_BITMAP, the rest as SERIAL_LIST, then the key
 * IDs (sorted, deduplicated) as KEY_ID.  A CA with nothing revoked gets
 * no section.  No signature section (sshd does not check it and OpenSSH
 * >= 9.4 refuses it).
 *
 * Parse: jit_krl_parse() is strict and refuses everything sshd (9.2 and
 * later) would refuse, because sshd refuses ALL public-key logins when
 * its KRL does not parse; a KRL this parser accepts is therefore safe to
 * install.  It is stricter than sshd in places (listed below) but
 * accepts everything ssh-keygen -k writes.
 *   - magic "SSHKRL\n\0", format version 1, flags 0, comment without NUL;
 *   - section types 1 (CERTIFICATES), 2 (EXPLICIT_KEY), 3 (SHA1) and
 *     5 (SHA256); every other type is refused, including 4 (SIGNATURE,
 *     refused by OpenSSH >= 9.4) and 255 (EXTENSION, unknown to 9.2);
 *   - CERTIFICATES: a CA key that jit_key_from_blob() accepts (or empty
 *     for "any CA"), then SERIAL_LIST, SERIAL_RANGE, SERIAL_BITMAP and
 *     KEY_ID subsections; other subsection types (including 0x39
 *     extensions) are refused.  Serial 0 is refused anywhere (as sshd
 *     does), as are ranges with lo > hi, bitmaps that wrap 2^64, bitmaps
 *     that are zero or not minimally encoded or longer than 16384 bits;
 *   - EXPLICIT_KEY / SHA1 / SHA256 are kept as opaque counts: each entry
 *     a string (20 / 32 bytes for the hashes, strictly ascending within a
 *     section); they are not matched by the lookups below;
 *   - empty sections and subsections, and trailing bytes anywhere, are
 *     refused (the spec requires at least one entry).
 * Errors: INVALID_FORMAT, MESSAGE_INCOMPLETE, TRAILING_DATA,
 * NUL_IN_STRING, BAD_MPINT, the key parser's errors for a CA blob, ALLOC.
 */
#ifndef JIT_KRL_H
#define JIT_KRL_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "key.h"

/* The revocations of one further CA (e.g. a host CA beside the user
 * CA); its fields mean what the spec's own do. */
struct jit_krl_section {
	const struct jit_key *ca;
	const uint64_t *serials;
	size_t nserials;
	const char *const *key_ids;
	size_t nkey_ids;
};

struct jit_krl_spec {
	const struct jit_key *ca;        /* CA whose certs are revoked */
	const uint64_t *serials;         /* any order, duplicates allowed;
	                                    0 is ignored */
	size_t nserials;
	const char *const *key_ids;      /* any order, duplicates allowed */
	size_t nkey_ids;
	uint64_t version;                /* krl_version, should increase */
	uint64_t generated;              /* generated_date, epoch seconds */
	const char *comment;             /* NULL = "" */
	const struct jit_krl_section *more;  /* further CAs, or NULL */
	size_t nmore;
};

/*
 * Append a KRL for spec to out.  With no serials (other than 0) and no
 * key IDs for any CA the KRL has no sections and revokes nothing.  spec
 * and the arrays are only read.  Errors: INVALID_ARGUMENT (NULL ca, NULL
 * array with a non-zero count, NULL key ID), NO_BUFFER_SPACE when out
 * would exceed its limit, ALLOC.  On error out is unchanged.
 */
int jit_krl_build(const struct jit_krl_spec *spec, struct jit_buf *out);

/* A closed range of revoked serials, lo <= hi, lo >= 1. */
struct jit_krl_range {
	uint64_t lo, hi;
};

/* Revocations for one CA (all CERTIFICATES sections for the same CA
 * merged): ranges sorted, overlapping and adjacent ones merged; key IDs
 * sorted by strcmp, without duplicates. */
struct jit_krl_ca {
	unsigned char *ca_blob;          /* NULL for "any CA" */
	size_t ca_blob_len;
	struct jit_krl_range *ranges;
	size_t nranges;
	char **key_ids;
	size_t nkey_ids;
};

/* A parsed KRL; everything is owned by the struct. */
struct jit_krl {
	uint64_t version;
	uint64_t generated;
	char *comment;                   /* never NULL */
	struct jit_krl_ca *cas;
	size_t ncas;
	size_t nexplicit_keys;           /* entries in EXPLICIT_KEY sections */
	size_t nsha1;                    /* entries in SHA1 sections */
	size_t nsha256;                  /* entries in SHA256 sections */
};

/* Parse data (not modified, not retained) into a new *out for
 * jit_krl_free().  *out is NULL on error. */
int jit_krl_parse(const unsigned char *data, size_t len,
    struct jit_krl **out);
void jit_krl_free(struct jit_krl *krl);

/*
 * Whether a certificate signed by ca with this serial (or key ID) is
 * revoked by the KRL, through ca's own sections or "any CA" sections:
 * 1 revoked, 0 not, or a negative error (treat as revoked).  Serial 0 is
 * never revoked by serial, as in sshd.
 */
int jit_krl_is_revoked_serial(const struct jit_krl *krl,
    const struct jit_key *ca, uint64_t serial);
int jit_krl_is_revoked_key_id(const struct jit_krl *krl,
    const struct jit_key *ca, const char *key_id);

/* Total number of serials revoked for ca alone (not "any CA" sections),
 * saturating at UINT64_MAX; 0 if the KRL has no section for ca. */
uint64_t jit_krl_count_serials(const struct jit_krl *krl,
    const struct jit_key *ca);

#endif
