/*
 * audit_export.h - signed exports of the audit log (GET /v1/audit,
 * `jit-ca audit export`) and their offline verification (`jit-ca audit
 * verify`).  docs/AUDIT.md is the auditor's guide; this is the contract.
 *
 * Export.  The entries (audit.h) with seq <= S, where (S, H) is the chain
 * head when the export starts, that match the filters, in seq order,
 * followed by one trailer record, all of it signed:
 *
 *   JSON lines (format=jsonl):
 *     one entry per line, exactly its stored canonical text (so each
 *     line's "hash" recomputes with `jq -cjS 'del(.hash)' | sha256sum`),
 *     then the trailer line {"export":{...}}.
 *   CSV (format=csv, RFC 4180):
 *     a header row (JIT_AUDIT_CSV_COLUMNS), one row per entry, then the
 *     trailer row: "#export" in the first column and the trailer object
 *     {"export":{...}} in the last ("entry") column.  Records end in CRLF;
 *     fields holding a comma, quote, CR or LF are quoted with inner quotes
 *     doubled.  Each row is a pure function of the entry: scalars as text,
 *     arrays of strings joined with spaces, anything else as compact JSON;
 *     a text cell starting with = + - @ TAB or CR gets a leading ' so a
 *     spreadsheet does not run it as a formula.  The last column, "entry",
 *     holds the entry's canonical text, so a CSV export is verified exactly
 *     like JSON lines: the hash recomputes from "entry" and the row must
 *     be the rendering of "entry", byte for byte.
 *
 *   Trailer (canonical JSON, keys sorted):
 *     {"export":{"version":1, "format":"jsonl"|"csv",
 *       "filters":{"since":T,"until":T,"user":U,"role":R,"event":E}
 *                 (only those given; {} for a full export),
 *       "contiguous":true|false,   true iff no filter was given
 *       "count":N, "first_seq":A, "last_seq":B   (0 and 0 when N = 0),
 *       "chain_head":{"seq":S,"hash":H},
 *       "generated_at":T, "namespace":JIT_AUDIT_NAMESPACE,
 *       "hash_alg":"sha512", "signer":"SHA256:..." (key fingerprint)}}
 *
 *   Signature: an sshsig (PROTOCOL.sshsig, namespace JIT_AUDIT_NAMESPACE,
 *   sha512) over the exact bytes from the first byte of the export to the
 *   end of the trailer record (its final newline included), by the CA key
 *   or a dedicated audit key.  It is either written to a separate file
 *   (`jit-ca audit export -o FILE` writes FILE and FILE.sig, which is
 *   exactly what `ssh-keygen -Y verify -s FILE.sig < FILE` wants) or
 *   appended inline after the trailer (HTTP, and `jit-ca audit export` to
 *   stdout) as the armoured block "-----BEGIN SSH SIGNATURE-----" ...
 *   "-----END SSH SIGNATURE-----\n".  The signed part of an inline export
 *   is everything before the LAST line that is exactly the BEGIN line.
 *
 * What a verifier checks (jit_audit_verify_file), in this order, and the
 * first failure is reported with the line (record) it was found on:
 *   - every record before the trailer is an entry: valid JSON in canonical
 *     form (CSV: the row equals the rendering of its "entry" column), with
 *     seq, time, event, actor, prev and hash, and its hash recomputes
 *     (an edited line);
 *   - seq strictly increases (reordered, duplicated or inserted lines);
 *   - where seq follows the previous line's seq by exactly 1, "prev"
 *     equals the previous line's "hash" (a changed or forged neighbour);
 *   - the first entry with seq 1 has prev = 64 zeros;
 *   - a contiguous (unfiltered) export starts at seq 1 and has no gap in
 *     seq (a deleted line is named by the line where the gap appears);
 *   - there is exactly one trailer, it is the last record (a truncated
 *     export is named at the line where the trailer is missing), and its
 *     count, first_seq and last_seq match the lines; a contiguous export
 *     ends at the chain head (last_seq = S and the last hash = H), a
 *     filtered one ends at or before it (and at S its hash must be H);
 *   - the signature verifies over the signed bytes, its namespace is
 *     JIT_AUDIT_NAMESPACE and the signing key is the expected one.
 * A filtered export is not contiguous, so deleting a line whose
 * neighbours are not consecutive entries is caught by the count in the
 * trailer and by the signature, not at the line itself.
 *
 * Filters (HTTP query parameters and CLI options):
 *   since=T   entries with time >= T;   until=T  entries with time < T
 *             (T: RFC 3339 "2026-01-31T00:00:00Z", an offset, or epoch
 *             seconds);
 *   user=U    entries whose "user" or "actor" is U;
 *   role=R    entries whose "role" is R;
 *   event=E   comma-separated event names; "request.*" matches every
 *             event starting with "request.";
 *   format=   jsonl (default) or csv.
 * Filtering by time scans the whole log (entry times are not guaranteed
 * to be monotonic, clocks step), in constant memory.
 *
 * Memory.  An export holds at most one chunk (JIT_AUDIT_EXPORT_CHUNK
 * bytes plus one entry) whatever the size of the log, and reads the store
 * in short read snapshots, one per chunk, so it never pins old pages for
 * long.  Entries are immutable and the export stops at the head seen at
 * the start, so the result is the same as from one snapshot.  The
 * verifier holds one record at a time.
 */
#ifndef JIT_AUDIT_EXPORT_H
#define JIT_AUDIT_EXPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "audit.h"
#include "key.h"
#include "store.h"

#define JIT_AUDIT_NAMESPACE "jit-ssh-audit"
#define JIT_AUDIT_EXPORT_VERSION 1
#define JIT_AUDIT_EXPORT_CHUNK (64u * 1024)
#define JIT_AUDIT_MAX_RECORD (4u * 1024 * 1024)  /* longest line accepted */
#define JIT_AUDIT_SIG_BEGIN "-----BEGIN SSH SIGNATURE-----"

#define JIT_AUDIT_CSV_COLUMNS \
	"seq,time,event,actor,request,user,role,state,principals,reason," \
	"duration,comment,serial,key_id,valid_after,valid_before,not_before," \
	"not_after,key_fingerprint,ca_fingerprint,client_address,token_id," \
	"policy_hash,prev,hash,entry"

enum jit_audit_format {
	JIT_AUDIT_JSONL = 0,
	JIT_AUDIT_CSV = 1,
};

/* Export filters.  Strings are owned (malloc'd); release with
 * jit_audit_filter_release().  A zeroed struct is "everything, jsonl". */
struct jit_audit_filter {
	enum jit_audit_format format;
	int has_since, has_until;
	uint64_t since, until;        /* epoch seconds */
	char *user, *role, *event;    /* NULL = any */
};

/*
 * Set one filter by name ("since", "until", "user", "role", "event",
 * "format") from its text value.  Errors: INVALID_ARGUMENT with a
 * one-line reason in err (unknown name, bad time, bad format, empty or
 * over-long value, control characters), ALLOC.
 */
int jit_audit_filter_set(struct jit_audit_filter *f, const char *name,
    const char *value, char *err, size_t errlen);
/* Parse an URL query string ("since=...&format=csv"; %XX escapes, '+' is
 * a space) into f (which should be zeroed).  A repeated or unknown
 * parameter is INVALID_ARGUMENT with the reason in err. */
int jit_audit_filter_parse_query(struct jit_audit_filter *f,
    const char *query, char *err, size_t errlen);
void jit_audit_filter_release(struct jit_audit_filter *f);
/* 1 if f has no filter other than format (a contiguous export). */
int jit_audit_filter_is_empty(const struct jit_audit_filter *f);
/* 1 if the entry (parsed) passes f. */
int jit_audit_filter_match(const struct jit_audit_filter *f,
    const json_t *entry);

/*
 * Append the CSV row of an entry (its parsed form and its canonical text,
 * text_len bytes) to out, CRLF included.  Errors: ALLOC,
 * NO_BUFFER_SPACE.
 */
int jit_audit_csv_row(const json_t *entry, const char *text,
    size_t text_len, struct jit_buf *out);

/* ---- producing an export ---------------------------------------------- */

#define JIT_AUDIT_EXPORT_INLINE_SIG 0x1u  /* append the armoured signature
                                             to the stream */

struct jit_audit_export;

/*
 * Start an export of store s with filters f (copied; f may be released
 * afterwards) signed by signer (a private key, borrowed: it must outlive
 * the export).  Reads the chain head (one short read snapshot).
 * Errors: INVALID_ARGUMENT, KEY_NO_PRIVATE, ALLOC, store errors.
 */
int jit_audit_export_new(struct jit_store *s, const struct jit_audit_filter *f,
    struct jit_key *signer, unsigned flags, struct jit_audit_export **out);

/*
 * Produce the next bytes of the export into buf (at most max > 0 bytes).
 * Returns the number of bytes written (> 0), 0 at the end (the signature,
 * if inline, has been produced), or a negative JIT_ERR_* (store, ALLOC,
 * signing errors; the export cannot continue).  Constant memory.
 */
ssize_t jit_audit_export_read(struct jit_audit_export *x, char *buf,
    size_t max);

/* After jit_audit_export_read() returned 0: the armoured signature (a
 * string owned by x, valid until jit_audit_export_free), whether or not
 * it was also produced inline.  NULL before the end. */
const char *jit_audit_export_signature(const struct jit_audit_export *x);

/* Figures so far: entries written, their first and last seq, and the
 * chain head the export is cut from.  Any pointer may be NULL. */
void jit_audit_export_info(const struct jit_audit_export *x, uint64_t *count,
    uint64_t *first_seq, uint64_t *last_seq, uint64_t *head_seq);

void jit_audit_export_free(struct jit_audit_export *x);

/*
 * An export for the query string of GET /v1/audit (filters and format as
 * jit_audit_filter_parse_query takes them), signed by ca with an inline
 * signature: *out (free with jit_audit_export_free) and its *format.
 * INVALID_ARGUMENT for a bad query, with the reason in err; other errors
 * of jit_audit_export_new(), likewise explained in err.
 */
int jit_audit_export_from_query(struct jit_store *s, struct jit_key *ca,
    const char *query, struct jit_audit_export **out,
    enum jit_audit_format *format, char *err, size_t errlen);

/* ---- verifying an export ---------------------------------------------- */

struct jit_audit_verify_result {
	enum jit_audit_format format;
	uint64_t count, first_seq, last_seq;
	uint64_t head_seq;
	char head_hash[JIT_AUDIT_HASH_HEX];
	int contiguous;
	char filters[256];     /* the trailer's filters, compact JSON */
	char generated_at[40];
	char signer_fp[128];   /* fingerprint of the key that signed */
	/* On failure: */
	uint64_t line;         /* 1-based line (record start) at fault, or 0
	                          when the fault is not in one line (e.g. the
	                          signature) */
	char error[256];       /* why, for "FILE:LINE: error" */
};

/*
 * Verify the export read from f (name is only for messages).  The
 * signature comes from sig_armored (sig_len bytes) if that is not NULL,
 * else from an inline block at the end of f; expected is the key that
 * must have signed (a public key).  Returns 0 when all of the checks
 * above pass (res filled in), JIT_ERR_AUDIT_CHAIN when the content is
 * inconsistent, SIGNATURE_INVALID when the signature is missing, does not
 * verify or is by another key; in both cases res->line and res->error
 * say where and why.  Other errors (IO, ALLOC) are reported as such.
 * Constant memory: one record (at most JIT_AUDIT_MAX_RECORD) at a time.
 */
int jit_audit_verify_file(FILE *f, const char *sig_armored, size_t sig_len,
    const struct jit_key *expected, struct jit_audit_verify_result *res);

#endif
