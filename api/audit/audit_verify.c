/*
 * audit_verify.c - see audit_export.h: verifying an export offline (the
 * chain, the filters, the trailer and the signature), one record at a
 * time.
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

/* ---- verification ----------------------------------------------------- */

/*
 * The verifier reads one record at a time.  A record is one line for
 * JSON lines, and for CSV as many lines as it takes to close every quote.
 */
struct vstate {
	FILE *f;
	char in[64 * 1024];         /* read buffer */
	size_t ipos, ilen;
	struct jit_audit_verify_result *res;
	enum jit_audit_format format;
	char *rec;                  /* current record, with its line end */
	size_t len, cap;
	uint64_t line;              /* physical lines read so far */
	uint64_t rec_line;          /* first line of the current record */
	/* signed-content digests (both, when the algorithm is not known) */
	struct jit_sshsig_hash *h256, *h512;
	/* inline signature */
	struct jit_buf sig;
	int in_sig;
	/* chain */
	uint64_t count, first_seq, last_seq, last_line;
	char last_hash[JIT_AUDIT_HASH_HEX];
	uint64_t gap_line;
	char gap_msg[256];
	uint64_t err_line;
	char err_msg[256];
	int have_trailer;
	uint64_t trailer_line;
	json_t *trailer;
};

/* Read one physical line (with its '\n', if any) appended to v->rec.
 * 1 = got one, 0 = EOF, negative = error.  Reads with fread, not fgets,
 * so a NUL byte cannot hide the rest of a line from the digest. */
static int
read_line(struct vstate *v)
{
	size_t start = v->len;

	for (;;) {
		const char *nl;
		size_t n;

		if (v->ipos == v->ilen) {
			v->ipos = 0;
			v->ilen = fread(v->in, 1, sizeof(v->in), v->f);
			if (v->ilen == 0) {
				if (ferror(v->f))
					return JIT_ERR_IO;
				break;
			}
		}
		nl = memchr(v->in + v->ipos, '\n', v->ilen - v->ipos);
		n = nl != NULL ? (size_t)(nl - (v->in + v->ipos)) + 1 :
		    v->ilen - v->ipos;
		if (v->len + n + 1 > JIT_AUDIT_MAX_RECORD)
			return JIT_ERR_NO_BUFFER_SPACE;
		if (v->len + n + 1 > v->cap) {
			size_t nc = v->cap == 0 ? 16384 : v->cap;
			char *p;
			while (nc < v->len + n + 1)
				nc *= 2;
			if ((p = realloc(v->rec, nc)) == NULL)
				return JIT_ERR_ALLOC;
			v->rec = p;
			v->cap = nc;
		}
		memcpy(v->rec + v->len, v->in + v->ipos, n);
		v->len += n;
		v->rec[v->len] = '\0';
		v->ipos += n;
		if (nl != NULL)
			break;
	}
	if (v->len == start)
		return 0;
	v->line++;
	return 1;
}

/* 1 if the record so far has an odd number of quotes (a CSV field is
 * still open). */
static int
quote_open(const char *s, size_t n)
{
	size_t i, q = 0;

	for (i = 0; i < n; i++)
		q += s[i] == '"';
	return q & 1;
}

/* Read the next record into v->rec. 1/0/negative as read_line. */
static int
read_record(struct vstate *v)
{
	int r;

	v->len = 0;
	if ((r = read_line(v)) != 1)
		return r;
	v->rec_line = v->line;
	if (v->format != JIT_AUDIT_CSV || v->in_sig)
		return 1;
	while (quote_open(v->rec, v->len)) {
		if ((r = read_line(v)) < 0)
			return r;
		if (r == 0)
			return 1;  /* unterminated; reported by the parser */
	}
	return 1;
}

static int
hash_update(struct vstate *v, const void *p, size_t n)
{
	int r = 0;

	if (v->h256 != NULL)
		r = jit_sshsig_hash_update(v->h256, p, n);
	if (r == 0 && v->h512 != NULL)
		r = jit_sshsig_hash_update(v->h512, p, n);
	return r;
}

/* Record the first content error (at the current record). */
static void
bad(struct vstate *v, const char *fmt, ...) __attribute__((format(printf,
    2, 3)));

static void
bad(struct vstate *v, const char *fmt, ...)
{
	va_list ap;

	if (v->err_line != 0)
		return;
	v->err_line = v->rec_line;
	va_start(ap, fmt);
	vsnprintf(v->err_msg, sizeof(v->err_msg), fmt, ap);
	va_end(ap);
}

/*
 * Split a CSV record (without its line end) into fields.  *fields gets
 * n_want pointers into a new buffer *store (fields NUL-terminated).
 * Returns the number of fields, or -1 if the quoting is malformed.
 */
static long
csv_split(const char *s, size_t n, char ***fields, char **store)
{
	size_t i = 0, o = 0, nf = 0, capf = 32;
	char **fs = malloc(capf * sizeof(*fs)), *d = malloc(n + 1);

	*fields = NULL;
	*store = NULL;
	if (fs == NULL || d == NULL) {
		free(fs);
		free(d);
		return -2;
	}
	for (;;) {
		if (nf == capf) {
			char **nfs = realloc(fs, 2 * capf * sizeof(*fs));
			if (nfs == NULL) {
				free(fs);
				free(d);
				return -2;
			}
			fs = nfs;
			capf *= 2;
		}
		fs[nf++] = d + o;
		if (i < n && s[i] == '"') {
			i++;
			for (;;) {
				if (i >= n)
					goto malformed;
				if (s[i] == '"') {
					if (i + 1 < n && s[i + 1] == '"') {
						d[o++] = '"';
						i += 2;
						continue;
					}
					i++;
					break;
				}
				d[o++] = s[i++];
			}
			if (i < n && s[i] != ',')
				goto malformed;
		} else {
			while (i < n && s[i] != ',') {
				if (s[i] == '"' || s[i] == '\r' || s[i] == '\n')
					goto malformed;
				d[o++] = s[i++];
			}
		}
		d[o++] = '\0';
		if (i >= n)
			break;
		i++;  /* the comma */
	}
	*fields = fs;
	*store = d;
	return (long)nf;
malformed:
	free(fs);
	free(d);
	return -1;
}

static int
is_hash_hex(const char *s)
{
	size_t i;

	if (s == NULL || strlen(s) != 64)
		return 0;
	for (i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* Check one entry (text = its canonical JSON as found in the file). */
static void
check_entry(struct vstate *v, const char *text, size_t len, const char *raw,
    size_t rawlen)
{
	struct jit_audit_verifier av;
	struct jit_buf row = JIT_BUF_INIT;
	json_error_t je;
	json_t *e;
	char *canon = NULL;
	const char *prev, *hash;
	json_int_t sq;
	uint64_t seq;
	size_t clen;

	e = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (e == NULL || !json_is_object(e)) {
		bad(v, "not a JSON object: %.100s", e == NULL ? je.text : "");
		goto out;
	}
	if (!json_is_integer(json_object_get(e, "seq")) ||
	    (sq = json_integer_value(json_object_get(e, "seq"))) < 1) {
		bad(v, "entry has no valid \"seq\"");
		goto out;
	}
	seq = (uint64_t)sq;
	/* Any change to the bytes of the line, even whitespace, is named
	 * here: an entry line is exactly the canonical text. */
	if (jit_audit_canonical(e, 0, &canon, &clen) != 0 || clen != len ||
	    memcmp(canon, text, len) != 0) {
		bad(v, "entry %llu is not in canonical form (the line was "
		    "edited)", (unsigned long long)seq);
		goto out;
	}
	if (v->format == JIT_AUDIT_CSV) {
		if (jit_audit_csv_row(e, text, len, &row) != 0 ||
		    jit_buf_len(&row) != rawlen ||
		    memcmp(jit_buf_ptr(&row), raw, rawlen) != 0) {
			bad(v, "row of entry %llu does not match its \"entry\" "
			    "column (a cell was edited)",
			    (unsigned long long)seq);
			goto out;
		}
	}
	jit_audit_verify_init(&av, seq, NULL);
	if (jit_audit_verify_next(&av, e) != 0) {
		bad(v, "entry %llu: %s", (unsigned long long)seq, av.error);
		goto out;
	}
	prev = json_string_value(json_object_get(e, "prev"));
	hash = json_string_value(json_object_get(e, "hash"));
	if (v->count > 0 && seq <= v->last_seq) {
		bad(v, "entry %llu comes after entry %llu (line %llu): lines "
		    "reordered, duplicated or inserted",
		    (unsigned long long)seq,
		    (unsigned long long)v->last_seq,
		    (unsigned long long)v->last_line);
		goto out;
	}
	if (v->count > 0 && seq == v->last_seq + 1 &&
	    strcmp(prev, v->last_hash) != 0) {
		bad(v, "entry %llu: \"prev\" is not the hash of entry %llu on "
		    "line %llu (a line was changed or inserted)",
		    (unsigned long long)seq, (unsigned long long)v->last_seq,
		    (unsigned long long)v->last_line);
		goto out;
	}
	if (v->gap_line == 0 && ((v->count == 0 && seq != 1) ||
	    (v->count > 0 && seq != v->last_seq + 1))) {
		v->gap_line = v->rec_line;
		if (v->count == 0)
			snprintf(v->gap_msg, sizeof(v->gap_msg), "the export "
			    "starts at entry %llu, not 1 (lines deleted)",
			    (unsigned long long)seq);
		else
			snprintf(v->gap_msg, sizeof(v->gap_msg), "entry %llu "
			    "follows entry %llu (line %llu): entries missing "
			    "(lines deleted)", (unsigned long long)seq,
			    (unsigned long long)v->last_seq,
			    (unsigned long long)v->last_line);
	}
	if (v->count++ == 0)
		v->first_seq = seq;
	v->last_seq = seq;
	v->last_line = v->rec_line;
	memcpy(v->last_hash, hash, JIT_AUDIT_HASH_HEX);
out:
	jit_buf_release(&row);
	free(canon);
	json_decref(e);
}

static void
check_trailer_text(struct vstate *v, const char *text, size_t len)
{
	json_error_t je;
	json_t *t = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je), *x;

	x = json_object_get(t, "export");
	if (!json_is_object(t) || json_object_size(t) != 1 ||
	    !json_is_object(x)) {
		bad(v, "malformed export trailer");
		json_decref(t);
		return;
	}
	json_incref(x);
	json_decref(t);
	v->have_trailer = 1;
	v->trailer_line = v->rec_line;
	v->trailer = x;
}

/* Strip the line end of a record: its length without "\n" or "\r\n". */
static size_t
content_len(const char *s, size_t n, int crlf)
{
	if (n > 0 && s[n - 1] == '\n') {
		n--;
		if (crlf && n > 0 && s[n - 1] == '\r')
			n--;
	}
	return n;
}

static void
check_record(struct vstate *v)
{
	const char *s = v->rec;
	size_t n = v->len, cl;

	if (memchr(s, '\0', n) != NULL) {
		bad(v, "the line holds a NUL byte");
		return;
	}
	if (v->have_trailer) {
		bad(v, "data after the export trailer (line %llu)",
		    (unsigned long long)v->trailer_line);
		return;
	}
	if (v->format == JIT_AUDIT_JSONL) {
		if (n == 0 || s[n - 1] != '\n') {
			bad(v, "the last line is cut off (truncated export)");
			return;
		}
		cl = n - 1;
		if (cl >= 10 && memcmp(s, "{\"export\":", 10) == 0)
			check_trailer_text(v, s, cl);
		else
			check_entry(v, s, cl, NULL, 0);
		return;
	}
	/* CSV */
	if (n < 2 || s[n - 1] != '\n' || s[n - 2] != '\r') {
		bad(v, "the record does not end in CRLF (truncated or "
		    "edited)");
		return;
	}
	cl = content_len(s, n, 1);
	{
		char **fs = NULL, *store = NULL;
		long nf = csv_split(s, cl, &fs, &store);

		if (nf == -2) {
			bad(v, "out of memory");
			return;
		}
		if (nf < 0 || (size_t)nf != NCOLS) {
			bad(v, "not a CSV record of %zu fields (quoting broken "
			    "or a cell added or removed)", (size_t)NCOLS);
		} else if (strcmp(fs[0], "#export") == 0) {
			check_trailer_text(v, fs[NCOLS - 1],
			    strlen(fs[NCOLS - 1]));
		} else {
			check_entry(v, fs[NCOLS - 1], strlen(fs[NCOLS - 1]), s,
			    n);
		}
		free(fs);
		free(store);
	}
}

/* After a fault, only look for the trailer (it decides whether an
 * earlier gap in seq counts). */
static void
find_trailer(struct vstate *v)
{
	char **fs = NULL, *store = NULL;
	size_t cl;

	if (v->format == JIT_AUDIT_JSONL) {
		cl = content_len(v->rec, v->len, 0);
		if (cl >= 10 && memcmp(v->rec, "{\"export\":", 10) == 0)
			check_trailer_text(v, v->rec, cl);
		return;
	}
	if (strncmp(v->rec, "#export,", 8) != 0)
		return;
	cl = content_len(v->rec, v->len, 1);
	if (csv_split(v->rec, cl, &fs, &store) == (long)NCOLS)
		check_trailer_text(v, fs[NCOLS - 1], strlen(fs[NCOLS - 1]));
	free(fs);
	free(store);
}

static uint64_t
jint(const json_t *o, const char *k, int *ok)
{
	json_t *v = json_object_get(o, k);

	if (!json_is_integer(v) || json_integer_value(v) < 0) {
		*ok = 0;
		return 0;
	}
	return (uint64_t)json_integer_value(v);
}

/* After the last record: the trailer against what was seen. */
static void
check_end(struct vstate *v, uint64_t next_line)
{
	struct jit_audit_verify_result *res = v->res;
	json_t *t = v->trailer, *head;
	const char *fmt, *hh;
	uint64_t n, a, b, hs;
	int ok = 1, contiguous;
	char *fj;

	if (!v->have_trailer) {
		if (v->err_line == 0) {
			v->err_line = next_line;
			snprintf(v->err_msg, sizeof(v->err_msg), "the export "
			    "ends without its trailer (truncated after line "
			    "%llu)", (unsigned long long)(next_line - 1));
		}
		return;
	}
	contiguous = json_is_true(json_object_get(t, "contiguous"));
	/* For a full export a gap is the first fault, if it comes first. */
	if (contiguous && v->gap_line != 0 && (v->err_line == 0 ||
	    v->gap_line < v->err_line)) {
		v->err_line = v->gap_line;
		snprintf(v->err_msg, sizeof(v->err_msg), "%s", v->gap_msg);
		return;
	}
	if (v->err_line != 0)
		return;
	v->rec_line = v->trailer_line;
	head = json_object_get(t, "chain_head");
	n = jint(t, "count", &ok);
	a = jint(t, "first_seq", &ok);
	b = jint(t, "last_seq", &ok);
	hs = jint(head, "seq", &ok);
	hh = json_string_value(json_object_get(head, "hash"));
	fmt = json_string_value(json_object_get(t, "format"));
	if (!ok || !is_hash_hex(hh) || fmt == NULL ||
	    !json_is_boolean(json_object_get(t, "contiguous")) ||
	    !json_is_object(json_object_get(t, "filters"))) {
		bad(v, "export trailer lacks count, first_seq, last_seq, "
		    "chain_head, format, contiguous or filters");
		return;
	}
	if (strcmp(fmt, v->format == JIT_AUDIT_CSV ? "csv" : "jsonl") != 0) {
		bad(v, "export trailer says format %.10s", fmt);
		return;
	}
	if (n != v->count) {
		bad(v, "export trailer says %llu entries, the file has %llu "
		    "(lines deleted or inserted)", (unsigned long long)n,
		    (unsigned long long)v->count);
		return;
	}
	if (a != v->first_seq || b != v->last_seq) {
		bad(v, "export trailer says entries %llu..%llu, the file has "
		    "%llu..%llu", (unsigned long long)a, (unsigned long long)b,
		    (unsigned long long)v->first_seq,
		    (unsigned long long)v->last_seq);
		return;
	}
	if (contiguous && json_object_size(json_object_get(t, "filters"))
	    != 0) {
		bad(v, "export trailer says contiguous but lists filters");
		return;
	}
	if (v->count > 0 && v->last_seq > hs) {
		bad(v, "entry %llu is past the chain head %llu",
		    (unsigned long long)v->last_seq, (unsigned long long)hs);
		return;
	}
	if (contiguous && (v->last_seq != hs || (v->count == 0 ?
	    strcmp(hh, jit_audit__zero_hash) : strcmp(hh, v->last_hash)) != 0)) {
		bad(v, "the export does not end at the chain head %llu it "
		    "names (lines deleted at the end)", (unsigned long long)hs);
		return;
	}
	if (!contiguous && v->count > 0 && v->last_seq == hs &&
	    strcmp(hh, v->last_hash) != 0) {
		bad(v, "the last entry is the chain head but its hash is not "
		    "the trailer's chain head hash");
		return;
	}
	res->count = v->count;
	res->first_seq = v->first_seq;
	res->last_seq = v->last_seq;
	res->head_seq = hs;
	snprintf(res->head_hash, sizeof(res->head_hash), "%s", hh);
	res->contiguous = contiguous;
	fj = json_dumps(json_object_get(t, "filters"), JSON_SORT_KEYS |
	    JSON_COMPACT);
	snprintf(res->filters, sizeof(res->filters), "%s", fj != NULL ? fj :
	    "?");
	free(fj);
	snprintf(res->generated_at, sizeof(res->generated_at), "%s",
	    json_string_value(json_object_get(t, "generated_at")) ?
	    json_string_value(json_object_get(t, "generated_at")) : "?");
}

int
jit_audit_verify_file(FILE *f, const char *sig_armored, size_t sig_len,
    const struct jit_key *expected, struct jit_audit_verify_result *res)
{
	struct vstate v;
	struct jit_key *signer = NULL;
	unsigned char digest[JIT_SSHSIG_MAX_DIGEST];
	const char *alg = NULL, *sig;
	char *fp = NULL;
	size_t dlen, slen;
	int r, first = 1, sig_line = 0;
	uint64_t sig_start = 0;

	if (res == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	memset(res, 0, sizeof(*res));
	memset(&v, 0, sizeof(v));
	if (f == NULL || expected == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	v.f = f;
	v.res = res;
	jit_buf_init(&v.sig);
	if (sig_armored != NULL) {
		if ((r = jit_sshsig_peek_hash_alg(sig_armored, sig_len, &alg))
		    != 0) {
			snprintf(res->error, sizeof(res->error),
			    "the signature file is not an SSH signature: %s",
			    jit_err(r));
			r = JIT_ERR_SIGNATURE_INVALID;
			goto out;
		}
		r = jit_sshsig_hash_init(alg, strcmp(alg, "sha256") == 0 ?
		    &v.h256 : &v.h512);
	} else {
		if ((r = jit_sshsig_hash_init("sha256", &v.h256)) == 0)
			r = jit_sshsig_hash_init("sha512", &v.h512);
	}
	if (r != 0)
		goto out;

	for (;;) {
		if ((r = read_record(&v)) < 0) {
			if (r == JIT_ERR_NO_BUFFER_SPACE) {
				bad(&v, "line longer than %u bytes",
				    JIT_AUDIT_MAX_RECORD);
				/* The line number is the one being read. */
				v.err_line = v.line + 1;
				break;
			}
			goto out;
		}
		if (r == 0)
			break;
		if (first) {
			first = 0;
			if (v.len > 0 && v.rec[0] == '{') {
				v.format = JIT_AUDIT_JSONL;
			} else if (strncmp(v.rec, JIT_AUDIT_CSV_COLUMNS,
			    strlen(JIT_AUDIT_CSV_COLUMNS)) == 0) {
				v.format = JIT_AUDIT_CSV;
				if (strcmp(v.rec, JIT_AUDIT_CSV_COLUMNS "\r\n")
				    != 0)
					bad(&v, "the CSV header row was "
					    "changed");
				if ((r = hash_update(&v, v.rec, v.len)) != 0)
					goto out;
				continue;
			} else if (strncmp(v.rec, JIT_AUDIT_SIG_BEGIN,
			    strlen(JIT_AUDIT_SIG_BEGIN)) != 0) {
				bad(&v, "neither a JSON-lines nor a CSV audit "
				    "export");
				break;
			}
			res->format = v.format;
		}
		if (!v.in_sig && sig_armored == NULL &&
		    content_len(v.rec, v.len, 0) == strlen(JIT_AUDIT_SIG_BEGIN)
		    && memcmp(v.rec, JIT_AUDIT_SIG_BEGIN,
		    strlen(JIT_AUDIT_SIG_BEGIN)) == 0) {
			v.in_sig = 1;
			sig_start = v.rec_line;
		}
		if (v.in_sig) {
			if (jit_buf_len(&v.sig) + v.len >
			    JIT_SSHSIG_MAX_ARMOR) {
				bad(&v, "the inline signature is too long");
				break;
			}
			if ((r = jit_buf_put(&v.sig, v.rec, v.len)) != 0)
				goto out;
			continue;
		}
		if ((r = hash_update(&v, v.rec, v.len)) != 0)
			goto out;
		if (v.err_line == 0)
			check_record(&v);
		else if (!v.have_trailer)
			find_trailer(&v);
	}
	res->format = v.format;
	check_end(&v, sig_start != 0 ? sig_start : v.line + 1);
	if (v.err_line != 0) {
		res->line = v.err_line;
		snprintf(res->error, sizeof(res->error), "%s", v.err_msg);
		r = JIT_ERR_AUDIT_CHAIN;
		goto out;
	}
	/* The signature. */
	if (sig_armored != NULL) {
		sig = sig_armored;
		slen = sig_len;
	} else if (v.in_sig) {
		sig = (const char *)jit_buf_ptr(&v.sig);
		slen = jit_buf_len(&v.sig);
		sig_line = 1;
		if ((r = jit_sshsig_peek_hash_alg(sig, slen, &alg)) != 0) {
			res->line = sig_start;
			snprintf(res->error, sizeof(res->error), "the inline "
			    "signature is malformed: %s", jit_err(r));
			r = JIT_ERR_SIGNATURE_INVALID;
			goto out;
		}
	} else {
		snprintf(res->error, sizeof(res->error), "no signature: none "
		    "inline and no signature file given");
		r = JIT_ERR_SIGNATURE_INVALID;
		goto out;
	}
	r = jit_sshsig_hash_final(strcmp(alg, "sha256") == 0 ? v.h256 :
	    v.h512, digest, &dlen);
	if (r != 0)
		goto out;
	r = jit_sshsig_verify_digest(sig, slen, JIT_AUDIT_NAMESPACE, alg,
	    digest, dlen, &signer);
	if (r != 0) {
		res->line = sig_line ? sig_start : 0;
		snprintf(res->error, sizeof(res->error), "the signature does "
		    "not verify: %s (the content was changed after signing, or "
		    "the namespace is not %s)", jit_err(r),
		    JIT_AUDIT_NAMESPACE);
		r = JIT_ERR_SIGNATURE_INVALID;
		goto out;
	}
	if (jit_key_fingerprint(signer, &fp) == 0)
		snprintf(res->signer_fp, sizeof(res->signer_fp), "%s", fp);
	if (!jit_key_equal_public(signer, expected)) {
		res->line = sig_line ? sig_start : 0;
		snprintf(res->error, sizeof(res->error), "signed by %s, not "
		    "by the expected key", fp != NULL ? fp : "another key");
		r = JIT_ERR_SIGNATURE_INVALID;
		goto out;
	}
	{
		const char *tfp = json_string_value(json_object_get(v.trailer,
		    "signer"));
		if (tfp == NULL || fp == NULL || strcmp(tfp, fp) != 0) {
			res->line = v.trailer_line;
			snprintf(res->error, sizeof(res->error), "the trailer "
			    "names signer %.80s but %s signed",
			    tfp != NULL ? tfp : "(none)",
			    fp != NULL ? fp : "?");
			r = JIT_ERR_AUDIT_CHAIN;
			goto out;
		}
	}
	r = 0;
out:
	free(fp);
	jit_key_free(signer);
	jit_sshsig_hash_free(v.h256);
	jit_sshsig_hash_free(v.h512);
	jit_buf_release(&v.sig);
	json_decref(v.trailer);
	free(v.rec);
	return r;
}

