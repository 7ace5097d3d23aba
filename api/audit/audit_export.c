/*
 * audit_export.c - see audit_export.h: producing a signed export.
 *
 * The producer is a pull state machine (header row, entries, trailer,
 * signature) so the HTTP server can stream it from a libmicrohttpd
 * content reader and the CLI can copy it to a file, both in constant
 * memory.  Everything emitted before the signature is fed to the sshsig
 * digest as it is produced.
 */
#include "audit_export_int.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "err.h"
#include "sshsig.h"
#include "url.h"
#include "util.h"

#define SCAN_BUDGET 4096        /* entries read per snapshot */
#define RELEASE_EVERY (8u << 20)   /* bytes of the map read between
                                      jit_store_release_pages() */

/* ---- the export state machine ----------------------------------------- */

enum xstate { X_HEADER, X_ENTRIES, X_TRAILER, X_SIGN, X_DONE };

struct jit_audit_export {
	struct jit_store *s;
	struct jit_audit_filter f;
	struct jit_key *signer;
	char *signer_fp;
	unsigned flags;
	int filtered;
	uint64_t head_seq;
	char head_hash[JIT_AUDIT_HASH_HEX];
	char generated_at[JIT_TIME_LEN];
	uint64_t next_seq;          /* next seq to read */
	uint64_t count, first_seq, last_seq;
	enum xstate state;
	struct jit_buf out;         /* produced, not yet handed out */
	struct jit_sshsig_hash *h;
	char *sig;
	int err;
	uint64_t mapped;            /* entry bytes read since the last
	                               jit_store_release_pages() */
	/* per snapshot */
	size_t scanned;
	int more;                   /* the snapshot stopped on its budget */
};

static int
head_fn(struct jit_store_txn *t, void *ctx)
{
	struct jit_audit_export *x = ctx;

	return jit_audit_head(t, &x->head_seq, x->head_hash);
}

int
jit_audit_export_new(struct jit_store *s, const struct jit_audit_filter *f,
    struct jit_key *signer, unsigned flags, struct jit_audit_export **out)
{
	struct jit_audit_export *x;
	int r = JIT_ERR_INTERNAL;

	if (out != NULL)
		*out = NULL;
	if (s == NULL || f == NULL || signer == NULL || out == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	if (!jit_key_has_private(signer))
		return JIT_ERR_KEY_NO_PRIVATE;
	if ((x = calloc(1, sizeof(*x))) == NULL)
		return JIT_ERR_ALLOC;
	jit_buf_init(&x->out);
	x->s = s;
	x->signer = signer;
	x->flags = flags;
	x->f.format = f->format;
	x->f.has_since = f->has_since;
	x->f.since = f->since;
	x->f.has_until = f->has_until;
	x->f.until = f->until;
	if ((f->user != NULL && (x->f.user = jit_strdup(f->user)) == NULL) ||
	    (f->role != NULL && (x->f.role = jit_strdup(f->role)) == NULL) ||
	    (f->event != NULL && (x->f.event = jit_strdup(f->event)) == NULL)) {
		r = JIT_ERR_ALLOC;
		goto fail;
	}
	x->filtered = !jit_audit_filter_is_empty(f);
	if ((r = jit_key_fingerprint(signer, &x->signer_fp)) != 0 ||
	    (r = jit_sshsig_hash_init(HASH_ALG, &x->h)) != 0 ||
	    (r = jit_store_read(s, head_fn, x)) != 0)
		goto fail;
	jit_format_time(jit_now(), x->generated_at);
	x->next_seq = 1;
	x->state = X_HEADER;
	*out = x;
	return 0;
fail:
	jit_audit_export_free(x);
	return r;
}

void
jit_audit_export_free(struct jit_audit_export *x)
{
	if (x == NULL)
		return;
	jit_audit_filter_release(&x->f);
	free(x->signer_fp);
	jit_buf_release(&x->out);
	jit_sshsig_hash_free(x->h);
	free(x->sig);
	free(x);
}

const char *
jit_audit_export_signature(const struct jit_audit_export *x)
{
	return x != NULL && x->state == X_DONE ? x->sig : NULL;
}

void
jit_audit_export_info(const struct jit_audit_export *x, uint64_t *count,
    uint64_t *first_seq, uint64_t *last_seq, uint64_t *head_seq)
{
	if (count != NULL)
		*count = x->count;
	if (first_seq != NULL)
		*first_seq = x->first_seq;
	if (last_seq != NULL)
		*last_seq = x->last_seq;
	if (head_seq != NULL)
		*head_seq = x->head_seq;
}

/* Append to the output the bytes from off to the end (just produced) to
 * the signed digest. */
static int
hash_from(struct jit_audit_export *x, size_t off)
{
	size_t n = jit_buf_len(&x->out);

	return jit_sshsig_hash_update(x->h, jit_buf_ptr(&x->out) + off,
	    n - off);
}

static int
entry_cb(uint64_t seq, const char *json, size_t len, void *ctx)
{
	struct jit_audit_export *x = ctx;
	size_t off = jit_buf_len(&x->out);
	json_error_t je;
	json_t *e = NULL;
	int r;

	if (seq > x->head_seq)
		return 1;  /* appended after the export started */
	if (seq != x->next_seq)
		return JIT_ERR_AUDIT_CHAIN;  /* a gap in the stored log */
	x->next_seq = seq + 1;
	x->mapped += len;
	if (x->filtered || x->f.format == JIT_AUDIT_CSV) {
		if ((e = json_loadb(json, len, 0, &je)) == NULL)
			return JIT_ERR_STORE_CORRUPT;
		if (x->filtered && !jit_audit_filter_match(&x->f, e)) {
			json_decref(e);
			goto next;
		}
	}
	if (x->f.format == JIT_AUDIT_CSV)
		r = jit_audit_csv_row(e, json, len, &x->out);
	else if ((r = jit_buf_put(&x->out, json, len)) == 0)
		r = jit_buf_put(&x->out, "\n", 1);
	json_decref(e);
	if (r != 0 || (r = hash_from(x, off)) != 0)
		return r;
	if (x->count++ == 0)
		x->first_seq = seq;
	x->last_seq = seq;
next:
	if (++x->scanned >= SCAN_BUDGET ||
	    jit_buf_len(&x->out) >= JIT_AUDIT_EXPORT_CHUNK) {
		x->more = 1;
		return 1;
	}
	return 0;
}

static int
refill_fn(struct jit_store_txn *t, void *ctx)
{
	struct jit_audit_export *x = ctx;

	x->scanned = 0;
	x->more = 0;
	return jit_store_audit_iter(t, x->next_seq, entry_cb, x);
}

static int
put_trailer(struct jit_audit_export *x)
{
	size_t off = jit_buf_len(&x->out);
	json_t *t;
	char *s;
	int r;

	/* A full export must end at the head it was cut from. */
	if (!x->filtered && x->last_seq != x->head_seq)
		return JIT_ERR_AUDIT_CHAIN;
	t = json_pack("{s:{s:i, s:s, s:o, s:b, s:I, s:I, s:I, s:{s:I, s:s}, "
	    "s:s, s:s, s:s, s:s}}", "export",
	    "version", JIT_AUDIT_EXPORT_VERSION,
	    "format", x->f.format == JIT_AUDIT_CSV ? "csv" : "jsonl",
	    "filters", jit_audit__filters_json(&x->f),
	    "contiguous", !x->filtered,
	    "count", (json_int_t)x->count,
	    "first_seq", (json_int_t)x->first_seq,
	    "last_seq", (json_int_t)x->last_seq,
	    "chain_head", "seq", (json_int_t)x->head_seq,
	    "hash", x->head_hash,
	    "generated_at", x->generated_at,
	    "namespace", JIT_AUDIT_NAMESPACE,
	    "hash_alg", HASH_ALG,
	    "signer", x->signer_fp);
	if (t == NULL)
		return JIT_ERR_ALLOC;
	s = json_dumps(t, JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(t);
	if (s == NULL)
		return JIT_ERR_ALLOC;
	if (x->f.format == JIT_AUDIT_CSV) {
		static const char lead[] = "#export,,,,,,,,,,,,,,,,,,,,,,,,,";
		if ((r = jit_buf_put(&x->out, lead, sizeof(lead) - 1)) == 0 &&
		    (r = jit_audit__csv_field(&x->out, s, strlen(s), 0)) == 0)
			r = jit_buf_put(&x->out, "\r\n", 2);
	} else if ((r = jit_buf_put(&x->out, s, strlen(s))) == 0) {
		r = jit_buf_put(&x->out, "\n", 1);
	}
	free(s);
	if (r == 0)
		r = hash_from(x, off);
	return r;
}

static int
sign(struct jit_audit_export *x)
{
	unsigned char digest[JIT_SSHSIG_MAX_DIGEST];
	size_t dlen;
	int r;

	if ((r = jit_sshsig_hash_final(x->h, digest, &dlen)) != 0)
		return r;
	jit_sshsig_hash_free(x->h);
	x->h = NULL;
	if ((r = jit_sshsig_sign_digest(jit_key_signer, x->signer, x->signer,
	    JIT_AUDIT_NAMESPACE, HASH_ALG, digest, dlen, &x->sig)) != 0)
		return r;
	if (x->flags & JIT_AUDIT_EXPORT_INLINE_SIG)
		return jit_buf_put(&x->out, x->sig, strlen(x->sig));
	return 0;
}

/* Produce the next piece of output into x->out (which is empty). */
static int
produce(struct jit_audit_export *x)
{
	int r;

	jit_buf_reset(&x->out);
	switch (x->state) {
	case X_HEADER:
		x->state = X_ENTRIES;
		if (x->f.format != JIT_AUDIT_CSV)
			return 0;
		if ((r = jit_buf_put(&x->out, JIT_AUDIT_CSV_COLUMNS "\r\n",
		    sizeof(JIT_AUDIT_CSV_COLUMNS "\r\n") - 1)) != 0)
			return r;
		return hash_from(x, 0);
	case X_ENTRIES:
		if (x->next_seq > x->head_seq) {
			x->state = X_TRAILER;
			return 0;
		}
		if ((r = jit_store_read(x->s, refill_fn, x)) != 0)
			return r;
		/* Keep the pages of the map we have read from piling up in
		 * our RSS: it would grow with the size of the log. */
		if (x->mapped >= RELEASE_EVERY) {
			jit_store_release_pages(x->s);
			x->mapped = 0;
		}
		if (!x->more)
			x->state = X_TRAILER;
		return 0;
	case X_TRAILER:
		x->state = X_SIGN;
		return put_trailer(x);
	case X_SIGN:
		if ((r = sign(x)) != 0)
			return r;
		x->state = X_DONE;
		return 0;
	case X_DONE:
		return 0;
	}
	return JIT_ERR_INTERNAL;
}

ssize_t
jit_audit_export_read(struct jit_audit_export *x, char *buf, size_t max)
{
	size_t n;
	int r;

	if (x == NULL || buf == NULL || max == 0)
		return JIT_ERR_INVALID_ARGUMENT;
	while (jit_buf_len(&x->out) == 0) {
		if (x->err != 0)
			return x->err;
		if (x->state == X_DONE)
			return 0;
		if ((r = produce(x)) != 0) {
			x->err = r;
			return r;
		}
	}
	n = jit_buf_len(&x->out);
	if (n > max)
		n = max;
	memcpy(buf, jit_buf_ptr(&x->out), n);
	jit_buf_skip(&x->out, n);
	if (n > (size_t)SSIZE_MAX)
		return JIT_ERR_INTERNAL;
	return (ssize_t)n;
}

int
jit_audit_export_from_query(struct jit_store *s, struct jit_key *ca,
    const char *query, struct jit_audit_export **out,
    enum jit_audit_format *format, char *err, size_t errlen)
{
	struct jit_audit_filter f;
	int r;

	*out = NULL;
	memset(&f, 0, sizeof(f));
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (jit_audit_filter_parse_query(&f, query != NULL ? query : "", err,
	    errlen) != 0) {
		jit_audit_filter_release(&f);
		return JIT_ERR_INVALID_ARGUMENT;
	}
	*format = f.format;
	r = jit_audit_export_new(s, &f, ca, JIT_AUDIT_EXPORT_INLINE_SIG, out);
	if (r != 0 && err != NULL && errlen > 0)
		snprintf(err, errlen, "cannot start the export: %s", jit_err(r));
	jit_audit_filter_release(&f);
	return r;
}

