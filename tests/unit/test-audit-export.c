/*
 * test-audit-export.c - signed audit exports (audit_export.h): filters and
 * query parsing, CSV rendering (RFC 4180 quoting, formula guard), JSON
 * lines and CSV exports that verify, and every kind of tampering (edit,
 * delete, insert, reorder, truncate, another key, a changed trailer)
 * failing with the right line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "audit_export.h"
#include "buf.h"
#include "err.h"
#include "key.h"
#include "store.h"
#include "test.h"
#include "test-files.h"
#include "util.h"

/* ---- a store with a small, varied log ------------------------------------ */

struct fill {
	json_t *entries;   /* array of field objects */
};

static int
fill_fn(struct jit_store_txn *t, void *ctx)
{
	struct fill *f = ctx;
	size_t i;
	json_t *e;
	int r;

	json_array_foreach(f->entries, i, e)
		if ((r = jit_audit_append(t, e, NULL, NULL)) != 0)
			return r;
	return 0;
}

/* 12 entries: requests of alice and bob, odd characters in reasons. */
static void
fill_store(struct jit_store *s)
{
	struct fill f;

	f.entries = json_pack("[{s:s,s:s,s:s}, {s:s,s:s,s:s,s:s,s:s,s:[s,s],"
	    "s:s,s:i,s:s,s:s,s:s}, {s:s,s:s,s:s,s:s,s:s,s:s}, "
	    "{s:s,s:s,s:s,s:s,s:s,s:I,s:s,s:[s,s],s:s,s:s,s:s,s:s}]",
	    "event", "server.start", "actor", "system", "time",
	    "2026-01-01T00:00:00Z",
	    /* 2 */
	    "event", "request.create", "actor", "alice", "user", "alice",
	    "role", "prod-db", "request", "r-aaaaaaaaaaaa", "principals",
	    "postgres", "admin x", "reason", "INC-1, \"quoted\"\nsecond line",
	    "duration", 3600, "key_fingerprint", "SHA256:abc",
	    "client_address", "127.0.0.1", "time", "2026-01-02T00:00:00Z",
	    /* 3 */
	    "event", "request.approve", "actor", "bob", "user", "alice",
	    "request", "r-aaaaaaaaaaaa", "comment", "=HYPERLINK(\"x\")",
	    "time", "2026-01-03T00:00:00Z",
	    /* 4 */
	    "event", "cert.issue", "actor", "alice", "user", "alice", "role",
	    "prod-db", "request", "r-aaaaaaaaaaaa", "serial", (json_int_t)7,
	    "key_id", "alice req=r-aaaaaaaaaaaa role=prod-db", "principals",
	    "postgres", "admin x", "valid_after", "2026-01-03T00:00:00Z",
	    "valid_before", "2026-01-03T01:00:00Z", "ca_fingerprint",
	    "SHA256:ca", "time", "2026-01-04T00:00:00Z");
	REQUIRE(f.entries != NULL);
	for (int i = 0; i < 8; i++) {
		char ts[JIT_TIME_LEN];
		jit_format_time(1767571200ull + (uint64_t)i * 86400, ts);
		json_array_append_new(f.entries, json_pack("{s:s,s:s,s:s,s:s,"
		    "s:s,s:s,s:{s:i}}", "event", i % 2 ? "request.deny" :
		    "request.create", "actor", i % 2 ? "carol" : "bob", "user",
		    "bob", "role", i % 3 ? "web" : "prod-db", "reason",
		    "caf\xc3\xa9 \xe2\x82\xac", "time", ts, "nested", "i", i));
	}
	REQUIRE_OK(jit_store_write(s, fill_fn, &f));
	json_decref(f.entries);
}

/* ---- running an export into memory and verifying it ---------------------- */

struct exp {
	char *body;
	size_t len;
	char *sig;
};

static int
run_export(struct jit_store *s, struct jit_key *k, const char *query,
    unsigned flags, struct exp *e)
{
	struct jit_audit_filter f;
	struct jit_audit_export *x = NULL;
	char err[256], buf[100];   /* small reads: many refills */
	size_t cap = 0;
	ssize_t n;
	int r;

	memset(e, 0, sizeof(*e));
	memset(&f, 0, sizeof(f));
	if ((r = jit_audit_filter_parse_query(&f, query, err, sizeof(err)))
	    != 0)
		return r;
	r = jit_audit_export_new(s, &f, k, flags, &x);
	jit_audit_filter_release(&f);
	if (r != 0)
		return r;
	while ((n = jit_audit_export_read(x, buf, sizeof(buf))) > 0) {
		if (e->len + (size_t)n + 1 > cap) {
			cap = (cap + (size_t)n + 1) * 2;
			e->body = realloc(e->body, cap);
			REQUIRE(e->body != NULL);
		}
		memcpy(e->body + e->len, buf, (size_t)n);
		e->len += (size_t)n;
		e->body[e->len] = '\0';
	}
	CHECK_INT(jit_audit_export_read(x, buf, sizeof(buf)), 0);
	if (n == 0 && jit_audit_export_signature(x) != NULL)
		e->sig = jit_strdup(jit_audit_export_signature(x));
	jit_audit_export_free(x);
	return n < 0 ? (int)n : 0;
}

static void
exp_release(struct exp *e)
{
	free(e->body);
	free(e->sig);
	memset(e, 0, sizeof(*e));
}

static int
verify_mem(const char *body, size_t len, const char *sig,
    const struct jit_key *k, struct jit_audit_verify_result *res)
{
	FILE *f = fmemopen((void *)body, len, "r");
	int r;

	REQUIRE(f != NULL || len == 0);
	if (f == NULL)
		f = fopen("/dev/null", "r");
	r = jit_audit_verify_file(f, sig, sig != NULL ? strlen(sig) : 0, k,
	    res);
	fclose(f);
	return r;
}

/* The lines of a text (each with its "\n"), to rearrange. */
struct lines {
	char **l;
	size_t n;
};

static void
split_lines(const char *s, struct lines *ls)
{
	const char *p = s;

	ls->l = NULL;
	ls->n = 0;
	while (*p != '\0') {
		const char *nl = strchr(p, '\n');
		size_t n = nl != NULL ? (size_t)(nl - p) + 1 : strlen(p);
		ls->l = realloc(ls->l, (ls->n + 1) * sizeof(*ls->l));
		REQUIRE(ls->l != NULL);
		ls->l[ls->n] = malloc(n + 1);
		memcpy(ls->l[ls->n], p, n);
		ls->l[ls->n][n] = '\0';
		ls->n++;
		p += n;
	}
}

static char *
join_lines(const struct lines *ls)
{
	size_t i, len = 0;
	char *s;

	for (i = 0; i < ls->n; i++)
		len += ls->l[i] != NULL ? strlen(ls->l[i]) : 0;
	s = malloc(len + 1);
	s[0] = '\0';
	len = 0;
	for (i = 0; i < ls->n; i++) {
		if (ls->l[i] == NULL)
			continue;
		memcpy(s + len, ls->l[i], strlen(ls->l[i]) + 1);
		len += strlen(ls->l[i]);
	}
	return s;
}

static void
free_lines(struct lines *ls)
{
	for (size_t i = 0; i < ls->n; i++)
		free(ls->l[i]);
	free(ls->l);
}

/* Apply an edit to a copy of text and verify it: expect error r at line
 * (0 = any line), error text containing what. */
typedef void (*edit_fn)(struct lines *ls);

static void
expect_tamper(const char *name, const char *text, const char *sig,
    const struct jit_key *k, edit_fn edit, int want_r, uint64_t want_line,
    const char *what)
{
	struct jit_audit_verify_result res;
	struct lines ls;
	char *t;
	int r;

	split_lines(text, &ls);
	edit(&ls);
	t = join_lines(&ls);
	r = verify_mem(t, strlen(t), sig, k, &res);
	test_checks++;
	if (r != want_r || (want_line != 0 && res.line != want_line) ||
	    (what != NULL && strstr(res.error, what) == NULL)) {
		fprintf(stderr, "tamper '%s': got %d (%s) line %llu \"%s\", "
		    "wanted %d line %llu \"%s\"\n", name, r, jit_err(r),
		    (unsigned long long)res.line, res.error, want_r,
		    (unsigned long long)want_line, what ? what : "");
		test_failures++;
	}
	free(t);
	free_lines(&ls);
}

/* Edits on a JSON-lines export (line 1 = seq 1, ..., line 12 = seq 12,
 * line 13 = trailer, then the signature when inline). */
static void
ed_edit_value(struct lines *ls)
{
	char *p = strstr(ls->l[3], "SHA256:ca");
	REQUIRE(p != NULL);
	p[7] = 'X';
}
static void
ed_whitespace(struct lines *ls)
{
	char *n = malloc(strlen(ls->l[2]) + 2);
	n[0] = ' ';
	strcpy(n + 1, ls->l[2]);
	free(ls->l[2]);
	ls->l[2] = n;
}
static void
ed_delete(struct lines *ls)
{
	free(ls->l[5]);
	ls->l[5] = NULL;
}
static void
ed_delete_first(struct lines *ls)
{
	free(ls->l[0]);
	ls->l[0] = NULL;
}
static void
ed_insert_dup(struct lines *ls)
{
	char *c = jit_strdup(ls->l[6]);
	char *n = malloc(strlen(ls->l[7]) + strlen(c) + 1);
	strcpy(n, c);
	strcat(n, ls->l[7]);
	free(ls->l[7]);
	free(c);
	ls->l[7] = n;    /* line 8 is now a copy of line 7 */
}
static void
ed_swap(struct lines *ls)
{
	char *t = ls->l[8];
	ls->l[8] = ls->l[9];
	ls->l[9] = t;
}
static void
ed_truncate_end(struct lines *ls)
{
	/* Drop the last two entries, the trailer and the signature. */
	for (size_t i = 10; i < ls->n; i++) {
		free(ls->l[i]);
		ls->l[i] = NULL;
	}
}
static void
ed_cut_midline(struct lines *ls)
{
	for (size_t i = 11; i < ls->n; i++) {
		free(ls->l[i]);
		ls->l[i] = NULL;
	}
	ls->l[10][20] = '\0';
}
static void
ed_drop_last_entry(struct lines *ls)
{
	free(ls->l[11]);
	ls->l[11] = NULL;
}
static void
ed_trailer_time(struct lines *ls)
{
	char *p = strstr(ls->l[12], "generated_at\":\"");
	REQUIRE(p != NULL);
	p += strlen("generated_at\":\"");
	p[3] = p[3] == '9' ? '8' : '9';
}
static void
ed_after_trailer(struct lines *ls)
{
	char *n = malloc(strlen(ls->l[12]) + strlen(ls->l[1]) + 1);
	strcpy(n, ls->l[12]);
	strcat(n, ls->l[1]);
	free(ls->l[12]);
	ls->l[12] = n;
}
static void
ed_none(struct lines *ls)
{
	(void)ls;
}

static void
test_jsonl(struct jit_store *s, struct jit_key *k, struct jit_key *other)
{
	struct jit_audit_verify_result res;
	struct exp e, d;
	struct lines ls;

	/* Inline signature. */
	REQUIRE_OK(run_export(s, k, "", JIT_AUDIT_EXPORT_INLINE_SIG, &e));
	split_lines(e.body, &ls);
	CHECK_U64(ls.n, 13 + 6);  /* 12 entries, trailer, 6 armour lines */
	CHECK(strncmp(ls.l[12], "{\"export\":{", 11) == 0);
	CHECK(strcmp(ls.l[13], JIT_AUDIT_SIG_BEGIN "\n") == 0);
	CHECK(strstr(ls.l[12], "\"contiguous\":true") != NULL);
	CHECK(strstr(ls.l[12], "\"count\":12") != NULL);
	CHECK(strstr(ls.l[12], "\"filters\":{}") != NULL);
	free_lines(&ls);
	CHECK_OK(verify_mem(e.body, e.len, NULL, k, &res));
	CHECK_U64(res.count, 12);
	CHECK_U64(res.first_seq, 1);
	CHECK_U64(res.last_seq, 12);
	CHECK_U64(res.head_seq, 12);
	CHECK_INT(res.contiguous, 1);
	CHECK(strncmp(res.signer_fp, "SHA256:", 7) == 0);

	/* The same content with a detached signature, byte for byte. */
	REQUIRE_OK(run_export(s, k, "", 0, &d));
	REQUIRE(d.sig != NULL);
	CHECK(d.len < e.len && memcmp(d.body, e.body, d.len) == 0);
	CHECK(strcmp(e.body + d.len, d.sig) == 0);
	CHECK_OK(verify_mem(d.body, d.len, d.sig, k, &res));
	CHECK_U64(res.count, 12);
	/* A detached export without its signature, or with another key. */
	CHECK_INT(verify_mem(d.body, d.len, NULL, k, &res),
	    JIT_ERR_SIGNATURE_INVALID);
	CHECK(strstr(res.error, "no signature") != NULL);
	CHECK_INT(verify_mem(d.body, d.len, d.sig, other, &res),
	    JIT_ERR_SIGNATURE_INVALID);
	CHECK(strstr(res.error, "not by the expected key") != NULL);

	/* Tampering, each way, names the line. */
	expect_tamper("none", e.body, NULL, k, ed_none, 0, 0, NULL);
	expect_tamper("edit a value", e.body, NULL, k, ed_edit_value,
	    JIT_ERR_AUDIT_CHAIN, 4, "changed");
	expect_tamper("whitespace", e.body, NULL, k, ed_whitespace,
	    JIT_ERR_AUDIT_CHAIN, 3, "canonical");
	expect_tamper("delete", e.body, NULL, k, ed_delete,
	    JIT_ERR_AUDIT_CHAIN, 6, "deleted");
	expect_tamper("delete first", e.body, NULL, k, ed_delete_first,
	    JIT_ERR_AUDIT_CHAIN, 1, "starts at entry 2");
	expect_tamper("insert duplicate", e.body, NULL, k, ed_insert_dup,
	    JIT_ERR_AUDIT_CHAIN, 8, "comes after");
	expect_tamper("swap", e.body, NULL, k, ed_swap,
	    JIT_ERR_AUDIT_CHAIN, 9, NULL);
	expect_tamper("truncate", e.body, NULL, k, ed_truncate_end,
	    JIT_ERR_AUDIT_CHAIN, 11, "without its trailer");
	expect_tamper("cut mid-line", e.body, NULL, k, ed_cut_midline,
	    JIT_ERR_AUDIT_CHAIN, 11, "cut off");
	expect_tamper("drop last entry", e.body, NULL, k, ed_drop_last_entry,
	    JIT_ERR_AUDIT_CHAIN, 12, "says 12 entries");
	expect_tamper("trailer edited", e.body, NULL, k, ed_trailer_time,
	    JIT_ERR_SIGNATURE_INVALID, 14, "does not verify");
	expect_tamper("after trailer", e.body, NULL, k, ed_after_trailer,
	    JIT_ERR_AUDIT_CHAIN, 14, "after the export trailer");
	/* A line hidden behind a NUL byte is still a line (and still
	 * hashed): an fgets-based reader would skip it silently. */
	{
		const char *l3 = strchr(strchr(e.body, '\n') + 1, '\n') + 1;
		size_t pre = (size_t)(l3 - e.body), n = e.len + 3;
		char *t = malloc(n);

		REQUIRE(t != NULL);
		memcpy(t, e.body, pre);
		memcpy(t + pre, "\0X\n", 3);
		memcpy(t + pre + 3, l3, e.len - pre);
		CHECK_INT(verify_mem(t, n, NULL, k, &res), JIT_ERR_AUDIT_CHAIN);
		CHECK_U64(res.line, 3);
		CHECK(strstr(res.error, "NUL") != NULL);
		free(t);
	}
	/* The same edits against a detached signature. */
	expect_tamper("detached: edit", d.body, d.sig, k, ed_edit_value,
	    JIT_ERR_AUDIT_CHAIN, 4, NULL);
	expect_tamper("detached: trailer", d.body, d.sig, k, ed_trailer_time,
	    JIT_ERR_SIGNATURE_INVALID, 0, "does not verify");
	expect_tamper("detached: other key", d.body, d.sig, other, ed_none,
	    JIT_ERR_SIGNATURE_INVALID, 0, "expected key");
	exp_release(&e);
	exp_release(&d);
}

static void
test_filtered(struct jit_store *s, struct jit_key *k)
{
	struct jit_audit_verify_result res;
	struct exp e;
	struct lines ls;

	/* alice is user or actor of entries 2, 3, 4. */
	REQUIRE_OK(run_export(s, k, "user=alice", JIT_AUDIT_EXPORT_INLINE_SIG,
	    &e));
	CHECK_OK(verify_mem(e.body, e.len, NULL, k, &res));
	CHECK_U64(res.count, 3);
	CHECK_U64(res.first_seq, 2);
	CHECK_U64(res.last_seq, 4);
	CHECK_INT(res.contiguous, 0);
	CHECK_STR(res.filters, "{\"user\":\"alice\"}");
	exp_release(&e);

	/* carol acted on entries 6, 8, 10, 12: not consecutive. */
	REQUIRE_OK(run_export(s, k, "user=carol&event=request.*",
	    JIT_AUDIT_EXPORT_INLINE_SIG, &e));
	CHECK_OK(verify_mem(e.body, e.len, NULL, k, &res));
	CHECK_U64(res.count, 4);
	CHECK_U64(res.first_seq, 6);
	CHECK_U64(res.last_seq, 12);
	/* Deleting a line of a non-contiguous export: the count says so. */
	expect_tamper("filtered delete", e.body, NULL, k, ed_delete_first,
	    JIT_ERR_AUDIT_CHAIN, 4, "says 4 entries");
	split_lines(e.body, &ls);
	CHECK_U64(ls.n, 5 + 6);
	free_lines(&ls);
	exp_release(&e);

	/* Time window [Jan 2, Jan 4) = entries 2 and 3. */
	REQUIRE_OK(run_export(s, k, "since=2026-01-02T00:00:00Z&"
	    "until=2026-01-04T00:00:00Z", JIT_AUDIT_EXPORT_INLINE_SIG, &e));
	CHECK_OK(verify_mem(e.body, e.len, NULL, k, &res));
	CHECK_U64(res.count, 2);
	CHECK_U64(res.first_seq, 2);
	exp_release(&e);

	/* Several events, a role, nothing matching. */
	REQUIRE_OK(run_export(s, k, "event=cert.issue,server.start",
	    JIT_AUDIT_EXPORT_INLINE_SIG, &e));
	CHECK_OK(verify_mem(e.body, e.len, NULL, k, &res));
	CHECK_U64(res.count, 2);
	exp_release(&e);
	REQUIRE_OK(run_export(s, k, "role=web", JIT_AUDIT_EXPORT_INLINE_SIG,
	    &e));
	CHECK_OK(verify_mem(e.body, e.len, NULL, k, &res));
	CHECK_U64(res.count, 5);  /* i = 1, 2, 4, 5, 7 */
	exp_release(&e);
	REQUIRE_OK(run_export(s, k, "user=nobody", JIT_AUDIT_EXPORT_INLINE_SIG,
	    &e));
	CHECK_OK(verify_mem(e.body, e.len, NULL, k, &res));
	CHECK_U64(res.count, 0);
	exp_release(&e);
}

/* CSV edits: line 1 header, entry 2 spans lines 3-4 (a newline in its
 * reason), so entry N >= 3 is on line N + 2; trailer on line 15. */
static void
ed_csv_cell(struct lines *ls)
{
	char *p = strstr(ls->l[6], ",prod-db,");
	REQUIRE(p != NULL);
	p[1] = 'P';  /* the role cell of entry 5 (line 7) */
}
static void
ed_csv_delete(struct lines *ls)
{
	free(ls->l[8]);
	ls->l[8] = NULL;
}
static void
ed_csv_header(struct lines *ls)
{
	ls->l[0][0] = 'S';
}
static void
ed_csv_truncate(struct lines *ls)
{
	for (size_t i = 14; i < ls->n; i++) {
		free(ls->l[i]);
		ls->l[i] = NULL;
	}
}

static void
test_csv(struct jit_store *s, struct jit_key *k)
{
	struct jit_audit_verify_result res;
	struct exp e;
	struct lines ls;

	REQUIRE_OK(run_export(s, k, "format=csv", JIT_AUDIT_EXPORT_INLINE_SIG,
	    &e));
	split_lines(e.body, &ls);
	CHECK_STR(ls.l[0], JIT_AUDIT_CSV_COLUMNS "\r\n");
	/* Entry 2: quotes doubled, a newline inside a quoted field, the
	 * principals joined with a space. */
	CHECK(strncmp(ls.l[2], "2,2026-01-02T00:00:00Z,request.create,alice,"
	    "r-aaaaaaaaaaaa,alice,prod-db,,postgres admin x,\"INC-1, "
	    "\"\"quoted\"\"\n", 98) == 0);
	CHECK(strncmp(ls.l[3], "second line\",3600,", 18) == 0);
	/* Entry 3: a formula is defused. */
	CHECK(strstr(ls.l[4], ",\"'=HYPERLINK(\"\"x\"\")\",") != NULL);
	CHECK(strncmp(ls.l[14], "#export,,,", 10) == 0);
	free_lines(&ls);
	CHECK_OK(verify_mem(e.body, e.len, NULL, k, &res));
	CHECK_INT(res.format, JIT_AUDIT_CSV);
	CHECK_U64(res.count, 12);
	CHECK_INT(res.contiguous, 1);
	expect_tamper("csv cell", e.body, NULL, k, ed_csv_cell,
	    JIT_ERR_AUDIT_CHAIN, 7, "cell was edited");
	expect_tamper("csv delete", e.body, NULL, k, ed_csv_delete,
	    JIT_ERR_AUDIT_CHAIN, 9, "deleted");
	expect_tamper("csv header", e.body, NULL, k, ed_csv_header,
	    JIT_ERR_AUDIT_CHAIN, 0, NULL);
	expect_tamper("csv truncate", e.body, NULL, k, ed_csv_truncate,
	    JIT_ERR_AUDIT_CHAIN, 15, "without its trailer");
	exp_release(&e);

	REQUIRE_OK(run_export(s, k, "format=csv&role=prod-db", 0, &e));
	CHECK_OK(verify_mem(e.body, e.len, e.sig, k, &res));
	CHECK_U64(res.count, 5);  /* 2, 4, and i = 0, 3, 6 */
	exp_release(&e);
}

static void
test_query(void)
{
	struct jit_audit_filter f;
	char err[256];

	memset(&f, 0, sizeof(f));
	CHECK_OK(jit_audit_filter_parse_query(&f, "since=2026-01-01T00%3A00"
	    "%3A00Z&user=al%69ce&format=csv&event=a,b.*", err, sizeof(err)));
	CHECK_INT(f.has_since, 1);
	CHECK_U64(f.since, 1767225600);
	CHECK_STR(f.user, "alice");
	CHECK_STR(f.event, "a,b.*");
	CHECK_INT(f.format, JIT_AUDIT_CSV);
	CHECK_INT(jit_audit_filter_is_empty(&f), 0);
	jit_audit_filter_release(&f);
	CHECK_INT(jit_audit_filter_is_empty(&f), 1);

	static const char *const bad[] = { "since=yesterday", "format=xml",
	    "user=a&user=b", "colour=red", "user=", "user", "event=a,,b",
	    "user=%00x", "user=%zz", "role=%0a" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&f, 0, sizeof(f));
		err[0] = '\0';
		int r = jit_audit_filter_parse_query(&f, bad[i], err,
		    sizeof(err));
		test_checks++;
		if (r != JIT_ERR_INVALID_ARGUMENT || err[0] == '\0') {
			fprintf(stderr, "query '%s' accepted (%d)\n", bad[i], r);
			test_failures++;
		}
		jit_audit_filter_release(&f);
	}
	memset(&f, 0, sizeof(f));
	CHECK_OK(jit_audit_filter_parse_query(&f, "&&", err, sizeof(err)));
	CHECK_INT(jit_audit_filter_is_empty(&f), 1);
}

static void
test_empty_and_growing(struct jit_key *k)
{
	struct jit_audit_verify_result res;
	struct jit_store *s;
	struct jit_audit_export *x;
	struct jit_audit_filter f;
	char *sdir = store_dir_new("auditx"), buf[4096];
	struct exp e;
	struct fill fl;
	ssize_t n;
	uint64_t count, head;

	REQUIRE_OK(jit_store_open(sdir, 0, &s));
	/* An empty log is a valid, empty, contiguous export. */
	REQUIRE_OK(run_export(s, k, "", JIT_AUDIT_EXPORT_INLINE_SIG, &e));
	CHECK_OK(verify_mem(e.body, e.len, NULL, k, &res));
	CHECK_U64(res.count, 0);
	CHECK_U64(res.head_seq, 0);
	exp_release(&e);

	/* Entries appended during an export are not in it. */
	fill_store(s);
	memset(&f, 0, sizeof(f));
	REQUIRE_OK(jit_audit_export_new(s, &f, k, 0, &x));
	n = jit_audit_export_read(x, buf, 10);
	CHECK(n == 10);
	fl.entries = json_pack("[{s:s,s:s}]", "event", "late", "actor", "x");
	REQUIRE_OK(jit_store_write(s, fill_fn, &fl));
	json_decref(fl.entries);
	while ((n = jit_audit_export_read(x, buf, sizeof(buf))) > 0)
		;
	CHECK_INT(n, 0);
	jit_audit_export_info(x, &count, NULL, NULL, &head);
	CHECK_U64(count, 12);
	CHECK_U64(head, 12);
	jit_audit_export_free(x);

	/* A public key cannot sign. */
	{
		char *line = NULL;
		struct jit_key *pub = NULL;
		REQUIRE_OK(jit_key_format_public(k, NULL, &line));
		REQUIRE_OK(jit_key_parse_public(line, &pub, NULL));
		CHECK_INT(jit_audit_export_new(s, &f, pub, 0, &x),
		    JIT_ERR_KEY_NO_PRIVATE);
		CHECK(x == NULL);
		free(line);
		jit_key_free(pub);
	}
	jit_store_close(s);
	store_dir_remove(sdir);
}

static void
test_not_an_export(struct jit_key *k)
{
	struct jit_audit_verify_result res;
	static const char junk[] = "hello\nworld\n";

	CHECK_INT(verify_mem(junk, strlen(junk), NULL, k, &res),
	    JIT_ERR_AUDIT_CHAIN);
	CHECK_U64(res.line, 1);
	CHECK_INT(verify_mem("", 0, NULL, k, &res), JIT_ERR_AUDIT_CHAIN);
	CHECK(strstr(res.error, "without its trailer") != NULL);
}

int
main(void)
{
	struct jit_key *k = NULL, *other = NULL;
	struct jit_store *s;
	char *sdir = store_dir_new("auditx");

	REQUIRE_OK(jit_key_generate(JIT_KEY_ED25519, 0, &k));
	REQUIRE_OK(jit_key_generate(JIT_KEY_ED25519, 0, &other));
	REQUIRE_OK(jit_store_open(sdir, 0, &s));
	fill_store(s);
	test_query();
	test_jsonl(s, k, other);
	test_filtered(s, k);
	test_csv(s, k);
	jit_store_close(s);
	store_dir_remove(sdir);
	test_empty_and_growing(k);
	test_not_an_export(k);
	jit_key_free(k);
	jit_key_free(other);
	TEST_DONE();
}
