/*
 * test-audit.c - the hash-chained audit log: canonical form (against a
 * vector made with Python's json module and checked with jq), append in
 * the store's transactions, verification and tamper detection.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "err.h"
#include "store.h"
#include "test.h"
#include "test-files.h"
#include "util.h"

/*
 * Made with:
 *   python3 -c 'import json,hashlib; e={...}; c=json.dumps(e,
 *     sort_keys=True, separators=(",",":"), ensure_ascii=False);
 *     print(c); print(hashlib.sha256(c.encode()).hexdigest())'
 * and checked with: jq -cjS "del(.hash)" | sha256sum
 */
static const char kat_input[] =
    "{\"seq\": 1, \"time\": \"2026-01-01T00:00:00Z\", \"event\": "
    "\"request.create\", \"actor\": \"alice\", \"request\": \"r-abc\", "
    "\"reason\": \"INC-1 \\u00e9\\n\\\"q\\\" / \\\\ \\t\", \"principals\": "
    "[\"postgres\", \"z\"], \"serial\": 5, \"ok\": true, \"x\": null, "
    "\"nested\": {\"b\": 1, \"a\": []}, \"prev\": "
    "\"0000000000000000000000000000000000000000000000000000000000000000\", "
    "\"hash\": "
    "\"ce7689d3a3f9f727504493b7cde9dc815d82a8d5a460ced9d28e29b68bd4f0af\"}";
static const char kat_canonical[] =
    "{\"actor\":\"alice\",\"event\":\"request.create\",\"nested\":{\"a\":[],"
    "\"b\":1},\"ok\":true,\"prev\":"
    "\"0000000000000000000000000000000000000000000000000000000000000000\","
    "\"principals\":[\"postgres\",\"z\"],\"reason\":\"INC-1 \xc3\xa9\\n\\\"q"
    "\\\" / \\\\ \\t\",\"request\":\"r-abc\",\"seq\":1,\"serial\":5,\"time\":"
    "\"2026-01-01T00:00:00Z\",\"x\":null}";
static const char kat_hash[] =
    "ce7689d3a3f9f727504493b7cde9dc815d82a8d5a460ced9d28e29b68bd4f0af";

static void
test_canonical(void)
{
	json_error_t je;
	json_t *e = json_loads(kat_input, 0, &je), *bad;
	char hex[JIT_AUDIT_HASH_HEX], *text;
	size_t len;

	REQUIRE(e != NULL);
	CHECK_OK(jit_audit_canonical(e, 1, &text, &len));
	CHECK_STR(text, kat_canonical);
	CHECK_U64(len, strlen(kat_canonical));
	free(text);
	CHECK_OK(jit_audit_entry_hash(e, hex));
	CHECK_STR(hex, kat_hash);

	/* Values tools disagree on are refused. */
	bad = json_pack("{s:f}", "x", 1.5);
	CHECK_INT(jit_audit_entry_hash(bad, hex), JIT_ERR_INVALID_ARGUMENT);
	json_decref(bad);
	bad = json_pack("{s:s}", "x", "bell\a");
	CHECK_INT(jit_audit_entry_hash(bad, hex), JIT_ERR_INVALID_ARGUMENT);
	json_decref(bad);
	bad = json_pack("{s:[s]}", "x", "del\x7f");
	CHECK_INT(jit_audit_entry_hash(bad, hex), JIT_ERR_INVALID_ARGUMENT);
	json_decref(bad);
	bad = json_pack("{s:I}", "x", (json_int_t)9007199254740993LL);
	CHECK_INT(jit_audit_entry_hash(bad, hex), JIT_ERR_INVALID_ARGUMENT);
	json_decref(bad);

	/* The KAT entry verifies as the first of a chain. */
	{
		struct jit_audit_verifier v;

		jit_audit_verify_init(&v, 1, NULL);
		CHECK_OK(jit_audit_verify_next(&v, e));
		CHECK_U64(v.count, 1);
		CHECK_STR(v.prev, kat_hash);
	}
	json_decref(e);
}

/* ---- in the store ------------------------------------------------------ */

struct append_ctx {
	int n;          /* entries to append */
	int fail;       /* then fail the closure */
	json_t *fields; /* or append exactly these */
	uint64_t seq;
	char hash[JIT_AUDIT_HASH_HEX];
};

static int
append_fn(struct jit_store_txn *t, void *ctx)
{
	struct append_ctx *c = ctx;
	int r;

	if (c->fields != NULL)
		return jit_audit_append(t, c->fields, &c->seq, c->hash);
	for (int i = 0; i < c->n; i++) {
		json_t *f = json_pack("{s:s, s:s, s:s, s:i, s:[s]}", "event",
		    "request.approve", "actor", "bob", "comment", "ok \xc3\xa9",
		    "i", i, "principals", "postgres");

		r = jit_audit_append(t, f, &c->seq, c->hash);
		json_decref(f);
		if (r != 0)
			return r;
	}
	return c->fail ? JIT_ERR_CONFLICT : 0;
}

#define MAXLINES 32

struct lines {
	char *l[MAXLINES];
	size_t n;
};

static int
export_cb(uint64_t seq, const char *json, size_t len, void *ctx)
{
	struct lines *ls = ctx;

	(void)seq;
	if (ls->n >= MAXLINES)
		return 1;
	ls->l[ls->n] = malloc(len + 1);
	memcpy(ls->l[ls->n], json, len);
	ls->l[ls->n][len] = '\0';
	ls->n++;
	return 0;
}

static int
export_fn(struct jit_store_txn *t, void *ctx)
{
	return jit_store_audit_iter(t, 1, export_cb, ctx);
}

struct verify_ctx {
	uint64_t count;
	char head[JIT_AUDIT_HASH_HEX];
	uint64_t hseq;
	char hhash[JIT_AUDIT_HASH_HEX];
	struct jit_audit_verifier v;
};

static int
verify_fn(struct jit_store_txn *t, void *ctx)
{
	struct verify_ctx *c = ctx;
	int r;

	if ((r = jit_audit_head(t, &c->hseq, c->hhash)) != 0)
		return r;
	return jit_audit_verify_store(t, &c->count, c->head, &c->v);
}

/* Verify lines[order[0..n)] as a chain; return the failing seq or 0. */
static uint64_t
verify_lines(char **l, size_t n, struct jit_audit_verifier *v)
{
	jit_audit_verify_init(v, 1, NULL);
	for (size_t i = 0; i < n; i++)
		if (jit_audit_verify_text(v, l[i], strlen(l[i])) != 0)
			return v->error_seq ? v->error_seq : (uint64_t)-1;
	return 0;
}

static void
test_chain(void)
{
	char *sdir = store_dir_new("audit");
	struct jit_store *s;
	struct append_ctx a = { 0 };
	struct verify_ctx vc;
	struct lines ls = { { 0 }, 0 };
	struct jit_audit_verifier v;
	char *l[MAXLINES], *edited;
	json_t *e;
	json_error_t je;

	REQUIRE_OK(jit_store_open(sdir, JIT_STORE_SERVER, &s));
	/* Empty log: head is zeros, verifies with 0 entries. */
	memset(&vc, 0, sizeof(vc));
	CHECK_OK(jit_store_read(s, verify_fn, &vc));
	CHECK_U64(vc.count, 0);
	CHECK_U64(vc.hseq, 0);
	CHECK_STR(vc.hhash, "0000000000000000000000000000000000000000000000"
	    "000000000000000000");

	a.n = 1;
	CHECK_OK(jit_store_write(s, append_fn, &a));
	CHECK_U64(a.seq, 1);
	a.n = 3;  /* three entries in one transaction */
	CHECK_OK(jit_store_write(s, append_fn, &a));
	CHECK_U64(a.seq, 4);
	a.fail = 1;  /* rolled back: no entries, no gap */
	CHECK_INT(jit_store_write(s, append_fn, &a), JIT_ERR_CONFLICT);
	a.fail = 0;
	a.n = 2;
	CHECK_OK(jit_store_write(s, append_fn, &a));
	CHECK_U64(a.seq, 6);

	/* Bad fields are refused and change nothing. */
	a.fields = json_pack("{s:s}", "event", "x");  /* no actor */
	CHECK_INT(jit_store_write(s, append_fn, &a), JIT_ERR_INVALID_ARGUMENT);
	json_decref(a.fields);
	a.fields = json_pack("{s:s, s:s, s:i}", "event", "x", "actor", "y",
	    "seq", 99);
	CHECK_INT(jit_store_write(s, append_fn, &a), JIT_ERR_INVALID_ARGUMENT);
	json_decref(a.fields);
	a.fields = json_pack("{s:s, s:s, s:s}", "event", "x", "actor", "y",
	    "reason", "a\x1b[31m");
	CHECK_INT(jit_store_write(s, append_fn, &a), JIT_ERR_INVALID_ARGUMENT);
	json_decref(a.fields);
	/* A given time is kept. */
	a.fields = json_pack("{s:s, s:s, s:s}", "event", "request.expire",
	    "actor", "system", "time", "2026-02-03T04:05:06Z");
	CHECK_OK(jit_store_write(s, append_fn, &a));
	CHECK_U64(a.seq, 7);
	json_decref(a.fields);
	a.fields = NULL;
	jit_store_close(s);

	/* Reopen; verify the stored chain. */
	REQUIRE_OK(jit_store_open(sdir, JIT_STORE_READONLY, &s));
	memset(&vc, 0, sizeof(vc));
	CHECK_OK(jit_store_read(s, verify_fn, &vc));
	CHECK_U64(vc.count, 7);
	CHECK_U64(vc.hseq, 7);
	CHECK_STR(vc.head, a.hash);
	CHECK_STR(vc.hhash, a.hash);
	CHECK_OK(jit_store_read(s, export_fn, &ls));
	jit_store_close(s);
	REQUIRE(ls.n == 7);

	/* Exported lines verify offline. */
	CHECK_U64(verify_lines(ls.l, ls.n, &v), 0);
	CHECK_U64(v.count, 7);
	e = json_loads(ls.l[6], 0, &je);
	CHECK_STR(json_string_value(json_object_get(e, "time")),
	    "2026-02-03T04:05:06Z");
	json_decref(e);
	e = json_loads(ls.l[0], 0, &je);
	CHECK_STR(json_string_value(json_object_get(e, "prev")),
	    "0000000000000000000000000000000000000000000000000000000000000000");
	CHECK_STR(json_string_value(json_object_get(e, "comment")),
	    "ok \xc3\xa9");
	json_decref(e);

	/* Edited entry: its hash no longer matches. */
	memcpy(l, ls.l, sizeof(l));
	e = json_loads(ls.l[2], 0, &je);
	json_object_set_new(e, "actor", json_string("mallory"));
	edited = json_dumps(e, JSON_SORT_KEYS | JSON_COMPACT);
	l[2] = edited;
	CHECK_U64(verify_lines(l, ls.n, &v), 3);
	CHECK(strstr(v.error, "hash") != NULL);
	free(edited);

	/* Edited and re-hashed: the next entry's prev gives it away. */
	{
		char h[JIT_AUDIT_HASH_HEX];

		CHECK_OK(jit_audit_entry_hash(e, h));
		json_object_set_new(e, "hash", json_string(h));
		edited = json_dumps(e, JSON_SORT_KEYS | JSON_COMPACT);
		l[2] = edited;
		CHECK_U64(verify_lines(l, ls.n, &v), 4);
		CHECK(strstr(v.error, "prev") != NULL);
		free(edited);
	}
	json_decref(e);

	/* Deleted entry (seq 3). */
	memcpy(l, ls.l, sizeof(l));
	memmove(&l[2], &l[3], (ls.n - 3) * sizeof(l[0]));
	CHECK_U64(verify_lines(l, ls.n - 1, &v), 4);
	CHECK(strstr(v.error, "expected") != NULL);

	/* Reordered entries (swap 4 and 5). */
	memcpy(l, ls.l, sizeof(l));
	l[3] = ls.l[4];
	l[4] = ls.l[3];
	CHECK_U64(verify_lines(l, ls.n, &v), 5);

	/* Deleted and renumbered: hash breaks. */
	memcpy(l, ls.l, sizeof(l));
	e = json_loads(ls.l[4], 0, &je);
	json_object_set_new(e, "seq", json_integer(4));
	edited = json_dumps(e, JSON_SORT_KEYS | JSON_COMPACT);
	l[3] = edited;
	CHECK_U64(verify_lines(l, 4, &v), 4);
	free(edited);
	json_decref(e);

	/* Garbage line. */
	memcpy(l, ls.l, sizeof(l));
	l[1] = "{not json";
	CHECK(verify_lines(l, ls.n, &v) != 0);
	CHECK(strstr(v.error, "JSON") != NULL);

	/* An excerpt starting later verifies given the hash before it, and
	 * fails given the wrong one. */
	{
		json_t *e2 = json_loads(ls.l[2], 0, &je);
		const char *prev = json_string_value(json_object_get(e2,
		    "hash"));

		jit_audit_verify_init(&v, 4, prev);
		for (size_t i = 3; i < ls.n; i++)
			CHECK_OK(jit_audit_verify_text(&v, ls.l[i],
			    strlen(ls.l[i])));
		CHECK_U64(v.count, 4);
		jit_audit_verify_init(&v, 4, kat_hash);
		CHECK_INT(jit_audit_verify_text(&v, ls.l[3], strlen(ls.l[3])),
		    JIT_ERR_AUDIT_CHAIN);
		jit_audit_verify_init(&v, 4, NULL);
		CHECK_OK(jit_audit_verify_text(&v, ls.l[3], strlen(ls.l[3])));
		json_decref(e2);
	}

	for (size_t i = 0; i < ls.n; i++)
		free(ls.l[i]);
	store_dir_remove(sdir);
}

/* jit_audit_append serialises once and splices the hash in: the stored
 * text must still be exactly the canonical form, also when values or
 * nested objects mention "hash" and members sort before and after it. */
static void
test_append_canonical(void)
{
	char *sdir = store_dir_new("audit");
	struct jit_store *s;
	struct append_ctx a = { 0 };
	struct verify_ctx vc;
	json_t *f[4];

	f[0] = json_pack("{s:s, s:s, s:s, s:{s:s, s:[{s:s}]}, s:s}", "event",
	    "x", "actor", "a\",\"hash\":\"", "zz", "\"hash\":\"y\",",
	    "nested", "h", "hash", "hash", "hash", "aaa", "aab",
	    ",\"hash\":1");
	f[1] = json_pack("{s:s, s:s, s:s, s:s}", "event", "e", "actor", "b",
	    "hasg", "{", "hasi", "}");
	f[2] = json_pack("{s:s, s:s, s:o, s:[], s:{}}", "event", "e", "actor",
	    "c", "h", json_null(), "zzz", "has");
	f[3] = json_pack("{s:s, s:s, s:s}", "event", "e", "actor",
	    "\\\\\"\\", "time", "2026-01-01T00:00:00Z");
	REQUIRE_OK(jit_store_open(sdir, JIT_STORE_SERVER, &s));
	for (int i = 0; i < 4; i++) {
		REQUIRE(f[i] != NULL);
		a.fields = f[i];
		CHECK_OK(jit_store_write(s, append_fn, &a));
		json_decref(f[i]);
	}
	memset(&vc, 0, sizeof(vc));
	CHECK_OK(jit_store_read(s, verify_fn, &vc));
	CHECK_U64(vc.count, 4);
	CHECK_STR(vc.head, a.hash);
	jit_store_close(s);
	store_dir_remove(sdir);
}

/* A prepared entry appends as jit_audit_append would, as often as it is
 * appended (seq growing from one digit to two on the way), with or
 * without its own time, and stays as it was. */
struct prep_ctx {
	const struct jit_audit_prep *p[2];
	int n;
};

static int
prep_fn(struct jit_store_txn *t, void *ctx)
{
	struct prep_ctx *c = ctx;
	uint64_t seq;
	char hash[JIT_AUDIT_HASH_HEX];
	int r;

	for (int i = 0; i < c->n; i++)
		if ((r = jit_audit_append_prepared(t, c->p[i % 2], &seq,
		    hash)) != 0)
			return r;
	return 0;
}

/* A prepared entry's text is jansson's canonical dump of the entry with
 * the placeholders: fields is given with a "time". */
static void
check_prepared_text(json_t *fields)
{
	static const char z[] = "0000000000000000000000000000000000000000"
	    "000000000000000000000000";
	struct jit_audit_prep p;
	json_t *e = json_copy(fields);
	char *want;

	REQUIRE(e != NULL);
	json_object_set_new(e, "seq", json_integer(0));
	json_object_set_new(e, "prev", json_string(z));
	json_object_set_new(e, "hash", json_string(z));
	want = json_dumps(e, JSON_SORT_KEYS | JSON_COMPACT);
	REQUIRE(want != NULL);
	CHECK_OK(jit_audit_prepare(fields, &p));
	if (p.text != NULL) {
		CHECK_STR(p.text, want);
		CHECK_U64(p.len, strlen(want));
	}
	jit_audit_prep_release(&p);
	free(want);
	json_decref(e);
}

static void
test_prepared_text(void)
{
	json_error_t je;
	json_t *kat = json_loads(kat_input, 0, &je), *f, *deep, *bad;
	static const char *const bad_text[] = { "bell\a", "del\x7f",
	    "nul\x00", "\xc3", "\xc0\x80", "\xed\xa0\x80",
	    "\xf4\x90\x80\x80", "\xff" };

	REQUIRE(kat != NULL);
	json_object_del(kat, "seq");
	json_object_del(kat, "prev");
	json_object_del(kat, "hash");
	check_prepared_text(kat);
	f = json_pack("{s:s, s:s, s:s, s:[i, I, I, b, n, {}, []], s:{}, "
	    "s:s, s:s, s:s}", "event", "e", "actor", "\xf0\x9f\x94\x91 \\\"/",
	    "time", "t", "list", -1, (json_int_t)9007199254740992LL,
	    (json_int_t)-9007199254740992LL, 1, "", "\t\r\n\xe2\x80\xa8",
	    "B", "upper", "\xc3\xa9", "accent", "x");
	REQUIRE(f != NULL);
	check_prepared_text(f);
	json_decref(f);
	deep = json_pack("{s:s, s:s, s:s}", "event", "e", "actor", "a", "time",
	    "t");
	REQUIRE(deep != NULL);
	{
		json_t *d = json_array();

		for (int i = 0; i < 31; i++)
			d = json_pack("[o]", d);
		json_object_set_new(deep, "d", d);
		check_prepared_text(deep);           /* depth 32: fine */
		json_object_set_new(deep, "d", json_pack("[O]", d));
	}
	{
		struct jit_audit_prep p;

		CHECK_INT(jit_audit_prepare(deep, &p), JIT_ERR_INVALID_ARGUMENT);
		for (size_t i = 0; i < sizeof(bad_text) / sizeof(bad_text[0]);
		    i++) {
			bad = json_pack("{s:s, s:s}", "event", "e", "actor",
			    "a");
			json_object_set_new_nocheck(bad, "x",
			    json_stringn_nocheck(bad_text[i],
			    strlen(bad_text[i]) + (bad_text[i][0] == 'n')));
			CHECK_INT(jit_audit_prepare(bad, &p),
			    JIT_ERR_INVALID_ARGUMENT);
			CHECK(p.text == NULL);
			json_decref(bad);
		}
		bad = json_pack("{s:s, s:s, s:I}", "event", "e", "actor", "a",
		    "x", (json_int_t)9007199254740993LL);
		CHECK_INT(jit_audit_prepare(bad, &p), JIT_ERR_INVALID_ARGUMENT);
		json_decref(bad);
	}
	json_decref(deep);
	json_decref(kat);
}

static void
test_prepared(void)
{
	char *sdir = store_dir_new("audit");
	struct jit_store *s;
	struct jit_audit_prep p[2], none;
	struct prep_ctx pc;
	struct verify_ctx vc;
	json_t *f, *g, *bad;
	char *copy;

	f = json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s}}", "event",
	    "e", "actor", "a", "hasg", "1", "sep", "\"seq\":0,", "zz", "z",
	    "nest", "prev", "p", "hash", "x");
	g = json_pack("{s:s, s:s, s:s, s:s}", "event", "e", "actor", "b",
	    "time", "2026-01-01T00:00:00Z", "a", "b");
	REQUIRE(f != NULL && g != NULL);
	CHECK_OK(jit_audit_prepare(f, &p[0]));
	CHECK_OK(jit_audit_prepare(g, &p[1]));
	CHECK(p[1].time_at == SIZE_MAX && p[0].time_at != SIZE_MAX);
	copy = jit_strdup(p[0].text);
	REQUIRE(copy != NULL);
	REQUIRE_OK(jit_store_open(sdir, JIT_STORE_SERVER, &s));
	pc.p[0] = &p[0];
	pc.p[1] = &p[1];
	pc.n = 12;
	CHECK_OK(jit_store_write(s, prep_fn, &pc));
	CHECK_STR(p[0].text, copy);
	memset(&vc, 0, sizeof(vc));
	CHECK_OK(jit_store_read(s, verify_fn, &vc));
	CHECK_U64(vc.count, 12);
	CHECK_U64(vc.hseq, 12);

	/* What append refuses, prepare refuses; nothing prepared is no
	 * entry. */
	bad = json_pack("{s:s, s:s, s:i}", "event", "e", "actor", "a", "seq",
	    1);
	CHECK_INT(jit_audit_prepare(bad, &none), JIT_ERR_INVALID_ARGUMENT);
	CHECK(none.text == NULL);
	json_decref(bad);
	bad = json_pack("{s:s, s:s, s:f}", "event", "e", "actor", "a", "x",
	    1.5);
	CHECK_INT(jit_audit_prepare(bad, &none), JIT_ERR_INVALID_ARGUMENT);
	json_decref(bad);
	pc.p[0] = pc.p[1] = &none;
	pc.n = 1;
	CHECK_INT(jit_store_write(s, prep_fn, &pc), JIT_ERR_INVALID_ARGUMENT);
	jit_audit_prep_release(&none);

	jit_store_close(s);
	free(copy);
	jit_audit_prep_release(&p[0]);
	jit_audit_prep_release(&p[1]);
	json_decref(f);
	json_decref(g);
	store_dir_remove(sdir);
}

int
main(void)
{
	test_canonical();
	test_chain();
	test_append_canonical();
	test_prepared();
	test_prepared_text();
	TEST_DONE();
}
