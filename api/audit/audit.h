/*
 * audit.h - the append-only, hash-chained audit log.
 *
 * Every state change appends one entry in the same write transaction as
 * the change itself (store.h), so an entry exists if and only if its
 * change does.
 *
 * Entry.  A JSON object with
 *   "seq"    integer, 1 for the first entry, then +1 with no gaps;
 *   "time"   RFC 3339 UTC ("2026-11-30T07:42:00Z");
 *   "event"  string, e.g. "request.create", "request.approve",
 *            "request.deny", "request.cancel", "request.expire",
 *            "request.revoke", "cert.issue", "token.create",
 *            "token.revoke";
 *   "actor"  string, the authenticated user (or "system", "cli:root");
 *   event fields, e.g. "request", "role", "principals", "reason",
 *            "approver", "comment", "serial", "key_fingerprint",
 *            "valid_after", "valid_before";
 *   "prev"   lowercase hex SHA-256 (64 chars) of the previous entry, i.e.
 *            the previous entry's "hash"; 64 zeros for seq 1;
 *   "hash"   lowercase hex SHA-256 of this entry's canonical form
 *            *without* the "hash" member (but with "prev" and all else).
 *
 * Canonical form.  UTF-8 JSON with object keys sorted (by code point,
 * i.e. by UTF-8 bytes) at every level, no whitespace at all, strings
 * with only '"', '\\' and control characters escaped (\b \t \n \f \r as
 * such), non-ASCII as raw UTF-8, integers in plain decimal.  That is
 * jansson's json_dumps(JSON_SORT_KEYS | JSON_COMPACT), and the same bytes
 * as Python's
 *     json.dumps(e, sort_keys=True, separators=(",", ":"),
 *                ensure_ascii=False)
 * or `jq -cjS 'del(.hash)'`.  So an auditor recomputes an entry's hash
 * with any JSON tool, e.g.
 *     jq -cjS 'del(.hash)' <<<"$line" | sha256sum
 * To keep those tools in agreement, entries may hold only objects,
 * arrays, strings, integers with |n| <= 2^53, true, false and null (no
 * reals), and strings must not contain U+0000..U+001F other than
 * \t \n \r, nor U+007F (tools disagree on how to escape them):
 * jit_audit_append() refuses such entries with INVALID_ARGUMENT.
 *
 * Storage and export.  The stored text of an entry is its canonical form
 * WITH "hash" (still sorted and compact), so an export in JSON lines is
 * the stored texts, one per line, in seq order.
 */
#ifndef JIT_AUDIT_H
#define JIT_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "store.h"

#define JIT_AUDIT_HASH_HEX 65  /* 64 hex digits + NUL */

/*
 * Append an entry inside write transaction t (from a jit_store_write()
 * closure).  fields is a JSON object with at least string members "event"
 * and "actor" and any event fields; "time" (RFC 3339 string) is added
 * with the current time if absent.  It must not contain "seq", "prev" or
 * "hash" (the log assigns them).  fields is borrowed and not modified.
 * On success *seq (may be NULL) is the new entry's seq and, if
 * hash_hex is not NULL, it receives the entry's hash.
 * Errors: INVALID_ARGUMENT (see the value rules above), STORE_* from the
 * store, AUDIT_CHAIN if the stored head entry is unreadable.
 */
int jit_audit_append(struct jit_store_txn *t, const json_t *fields,
    uint64_t *seq, char hash_hex[JIT_AUDIT_HASH_HEX]);

/*
 * An entry made ready before the write, so the writer thread that every
 * write waits on spends no time on JSON: jit_audit_prepare() checks
 * fields as jit_audit_append() does and serialises them once, in
 * canonical form, with placeholders for "seq", "prev", "hash" and (when
 * fields have none) "time"; jit_audit_append_prepared() then fills them
 * in inside the write and appends the entry: the same bytes, seq, time
 * and hash as jit_audit_append(t, fields, ...) at that moment.  A
 * prepared entry is not changed by appending it (it may be appended
 * again, e.g. in a retried write), and holds only its own memory
 * (release it with jit_audit_prep_release; a zeroed one is empty).
 * Errors: prepare: those of jit_audit_append's checks, ALLOC;
 * append_prepared: INVALID_ARGUMENT (nothing prepared), ALLOC, and the
 * store's and the chain's as for jit_audit_append.
 */
struct jit_audit_prep {
	char *text;          /* canonical text, placeholders in */
	size_t len;
	size_t hash_at;      /* offsets of the members' opening quotes */
	size_t prev_at;
	size_t seq_at;
	size_t time_at;      /* SIZE_MAX: fields brought their own time */
};
int jit_audit_prepare(const json_t *fields, struct jit_audit_prep *p);
int jit_audit_append_prepared(struct jit_store_txn *t,
    const struct jit_audit_prep *p, uint64_t *seq,
    char hash_hex[JIT_AUDIT_HASH_HEX]);
void jit_audit_prep_release(struct jit_audit_prep *p);

/*
 * Canonical text of entry (an object).  If without_hash, the "hash"
 * member is left out (the text that "hash" is computed over).  *out is a
 * malloc'd NUL-terminated string; *len (may be NULL) its length.
 * Errors: INVALID_ARGUMENT (not an object or breaks the value rules),
 * ALLOC.
 */
int jit_audit_canonical(const json_t *entry, int without_hash, char **out,
    size_t *len);

/* hex = SHA-256 of jit_audit_canonical(entry, without_hash = 1). */
int jit_audit_entry_hash(const json_t *entry, char hex[JIT_AUDIT_HASH_HEX]);

/*
 * Streaming chain verifier.  Feed entries in order; it checks that seq
 * follows the previous one by exactly 1, "prev" equals the previous
 * entry's "hash", "hash" recomputes, and that seq, time, event, actor,
 * prev and hash are present and well-formed.  Constant memory.
 *
 *     struct jit_audit_verifier v;
 *     jit_audit_verify_init(&v, 0, NULL);   // chain starting at seq 1
 *     for each entry: if ((r = jit_audit_verify_next(&v, e)) != 0)
 *             report v.error at v.error_seq / v.count + 1 ...;
 *
 * first_seq 0 or 1 with prev_hex NULL expects the whole chain (seq 1,
 * prev = 64 zeros).  To verify an excerpt that starts later (an export
 * with since=), pass the first expected seq and the hash its "prev" must
 * equal, or prev_hex NULL to accept the first entry's "prev" as given.
 * The chain alone cannot show that entries were cut off the END: compare
 * the last hash with a trusted one (the export's signature covers it).
 */
struct jit_audit_verifier {
	uint64_t next_seq;    /* seq the next entry must have; 0 = any */
	char prev[JIT_AUDIT_HASH_HEX];  /* hash the next "prev" must equal;
	                                   "" = accept any */
	uint64_t count;       /* entries verified so far */
	uint64_t error_seq;   /* seq (or 0 if unknown) of the failing entry */
	char error[160];      /* what was wrong, for the user */
};
void jit_audit_verify_init(struct jit_audit_verifier *v, uint64_t first_seq,
    const char *prev_hex);
/* 0 if entry extends the chain (state advanced), JIT_ERR_AUDIT_CHAIN
 * otherwise (v->error says why; state unchanged). */
int jit_audit_verify_next(struct jit_audit_verifier *v, const json_t *entry);
/* Same, from an entry's text (one JSON line); unparsable text is
 * AUDIT_CHAIN too. */
int jit_audit_verify_text(struct jit_audit_verifier *v, const char *json,
    size_t len);

/*
 * Verify the whole stored log inside any transaction (read snapshot
 * recommended), streaming.  On success *count (may be NULL) is the
 * number of entries and head_hex (may be NULL) the last hash (64 zeros
 * if empty).  AUDIT_CHAIN on a broken chain, with v (may be NULL)
 * telling where.  Also checks that each stored text is the canonical
 * form of its entry.
 */
int jit_audit_verify_store(struct jit_store_txn *t, uint64_t *count,
    char head_hex[JIT_AUDIT_HASH_HEX], struct jit_audit_verifier *v);

/* The head of the log: *seq = 0 and 64 zeros when empty. */
int jit_audit_head(struct jit_store_txn *t, uint64_t *seq,
    char hash_hex[JIT_AUDIT_HASH_HEX]);

#endif
