/*
 * audit.c - see audit.h.  The chain logic lives here; the bytes live in
 * the store's audit table (api/store/audit_store.c).
 */
#include "audit_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "err.h"
#include "util.h"

#define MAX_SAFE_INT 9007199254740992LL  /* 2^53 */
#define MAX_DEPTH 32

static const char zero_hash[JIT_AUDIT_HASH_HEX] =
    "0000000000000000000000000000000000000000000000000000000000000000";

/* Strings whose escaping every common JSON tool agrees on. */
static int
text_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') ||
		    c == 0x7f)
			return 0;
	}
	return 1;
}

static int
value_ok(const json_t *v, int depth)
{
	const char *key;
	json_t *m;
	size_t i;

	if (depth > MAX_DEPTH)
		return 0;
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		json_object_foreach((json_t *)v, key, m) {
			if (!text_ok(key, strlen(key)) || !value_ok(m, depth + 1))
				return 0;
		}
		return 1;
	case JSON_ARRAY:
		json_array_foreach(v, i, m) {
			if (!value_ok(m, depth + 1))
				return 0;
		}
		return 1;
	case JSON_STRING:
		return text_ok(json_string_value(v), json_string_length(v));
	case JSON_INTEGER:
		return json_integer_value(v) <= MAX_SAFE_INT &&
		    json_integer_value(v) >= -MAX_SAFE_INT;
	case JSON_TRUE:
	case JSON_FALSE:
	case JSON_NULL:
		return 1;
	default:
		return 0;  /* reals: tools print them differently */
	}
}

int
jit_audit_canonical(const json_t *entry, int without_hash, char **out,
    size_t *len)
{
	json_t *e = NULL;

	if (out != NULL)
		*out = NULL;
	if (len != NULL)
		*len = 0;
	if (out == NULL || !json_is_object(entry) || !value_ok(entry, 0))
		return JIT_ERR_INVALID_ARGUMENT;
	if (without_hash && json_object_get(entry, "hash") != NULL) {
		/* A shallow copy is enough to leave one member out. */
		if ((e = json_copy((json_t *)entry)) == NULL)
			return JIT_ERR_ALLOC;
		json_object_del(e, "hash");
		entry = e;
	}
	*out = json_dumps(entry, JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(e);
	if (*out == NULL)
		return JIT_ERR_ALLOC;
	if (len != NULL)
		*len = strlen(*out);
	return 0;
}

/* libsodium's SHA-256: OpenSSL 3's SHA256() looks the digest up again
 * at every call. */
static void
sha256_hex(const char *s, size_t n, char hex[JIT_AUDIT_HASH_HEX])
{
	unsigned char md[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(md, (const unsigned char *)s, n);
	jit_hex(md, sizeof(md), hex);
}

int
jit_audit_entry_hash(const json_t *entry, char hex[JIT_AUDIT_HASH_HEX])
{
	char *text;
	size_t n;
	int r;

	hex[0] = '\0';
	if ((r = jit_audit_canonical(entry, 1, &text, &n)) != 0)
		return r;
	sha256_hex(text, n, hex);
	free(text);
	return 0;
}

static int
is_hash_hex(const char *s)
{
	if (s == NULL || strlen(s) != 64)
		return 0;
	for (int i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* The "hash" member of a stored entry's text. */
static int
hash_of_text(const char *text, size_t len, char hex[JIT_AUDIT_HASH_HEX])
{
	json_error_t je;
	json_t *e;
	const char *h;
	int r = JIT_ERR_AUDIT_CHAIN;

	if ((e = json_loadb(text, len, 0, &je)) == NULL)
		return JIT_ERR_AUDIT_CHAIN;
	h = json_string_value(json_object_get(e, "hash"));
	if (is_hash_hex(h)) {
		memcpy(hex, h, JIT_AUDIT_HASH_HEX);
		r = 0;
	}
	json_decref(e);
	return r;
}

int
jit_audit_head(struct jit_store_txn *t, uint64_t *seq,
    char hash_hex[JIT_AUDIT_HASH_HEX])
{
	char *text = NULL;
	size_t len;
	int r;

	if (seq != NULL)
		*seq = 0;
	if (seq == NULL || hash_hex == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	memcpy(hash_hex, zero_hash, JIT_AUDIT_HASH_HEX);
	if ((r = jit_store_audit_head(t, seq, hash_hex)) != 0)
		return r;
	if (*seq != 0) {
		if (!is_hash_hex(hash_hex))
			return JIT_ERR_AUDIT_CHAIN;
		return 0;
	}
	/* No recorded head: the log is empty (or predates the record). */
	memcpy(hash_hex, zero_hash, JIT_AUDIT_HASH_HEX);
	if ((r = jit_store_audit_last(t, seq, &text, &len)) != 0)
		return r;
	if (*seq != 0)
		r = hash_of_text(text, len, hash_hex);
	free(text);
	return r;
}

/* The placeholders of what the log assigns: each has the length of the
 * real value where that is fixed, and nothing in it needs escaping. */
#define TIME_HOLDER "\"0000-00-00T00:00:00Z\""
static const char hash_holder[] =
    "\"0000000000000000000000000000000000000000000000000000000000000000\"";

void
jit_audit_prep_release(struct jit_audit_prep *p)
{
	if (p == NULL)
		return;
	free(p->text);
	memset(p, 0, sizeof(*p));
}

int
jit_audit_prepare(const json_t *fields, struct jit_audit_prep *p)
{
	struct jit_audit__extra x[4] = {
		{ "hash", hash_holder, &p->hash_at },
		{ "prev", hash_holder, &p->prev_at },
		{ "seq", "0", &p->seq_at },
		{ "time", TIME_HOLDER, &p->time_at },
	};
	json_t *tm;
	int r;

	memset(p, 0, sizeof(*p));
	if (!json_is_object(fields) ||
	    !json_is_string(json_object_get(fields, "event")) ||
	    !json_is_string(json_object_get(fields, "actor")) ||
	    json_object_get(fields, "seq") != NULL ||
	    json_object_get(fields, "prev") != NULL ||
	    json_object_get(fields, "hash") != NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	tm = json_object_get(fields, "time");
	if (tm != NULL && !json_is_string(tm))
		return JIT_ERR_INVALID_ARGUMENT;
	/* The value rules are checked as the text is written. */
	r = jit_audit__canonical_with(fields, x, tm == NULL ? 4 : 3, &p->text,
	    &p->len);
	if (tm != NULL)
		p->time_at = SIZE_MAX;
	if (r != 0)
		jit_audit_prep_release(p);
	return r;
}

/* Offset o of a prepared text in the text whose "seq" value, at s, grew
 * by grow bytes. */
static size_t
moved(size_t o, size_t s, size_t grow)
{
	return o > s ? o + grow : o;
}

int
jit_audit_append_prepared(struct jit_store_txn *t,
    const struct jit_audit_prep *p, uint64_t *seq,
    char hash_hex[JIT_AUDIT_HASH_HEX])
{
	char prev[JIT_AUDIT_HASH_HEX], hash[JIT_AUDIT_HASH_HEX];
	char now[JIT_TIME_LEN], num[24];
	crypto_hash_sha256_state st;
	unsigned char md[crypto_hash_sha256_BYTES];
	size_t sv, nl, len, a, b;
	uint64_t last;
	char *text;
	int r;

	if (seq != NULL)
		*seq = 0;
	if (hash_hex != NULL)
		hash_hex[0] = '\0';
	if (t == NULL || p == NULL || p->text == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	if ((r = jit_audit_head(t, &last, prev)) != 0)
		return r;
	if (last >= (uint64_t)MAX_SAFE_INT)
		return JIT_ERR_STORE_FULL;
	/* The text with the real seq in place of its one-digit "0". */
	nl = (size_t)snprintf(num, sizeof(num), "%llu",
	    (unsigned long long)(last + 1));
	sv = p->seq_at + 6;                /* after "seq": */
	len = p->len - 1 + nl;
	if ((text = malloc(len + 1)) == NULL)
		return JIT_ERR_ALLOC;
	memcpy(text, p->text, sv);
	memcpy(text + sv, num, nl);
	memcpy(text + sv + nl, p->text + sv + 1, p->len - sv);  /* and NUL */
	memcpy(text + moved(p->prev_at, sv, nl - 1) + 8, prev, 64);
	if (p->time_at != SIZE_MAX) {
		jit_format_time(jit_now(), now);
		memcpy(text + moved(p->time_at, sv, nl - 1) + 8, now, 20);
	}
	/* The hash covers the text without the "hash" member and one comma
	 * ("hash":"..." is [a, b)); it is then written over the zeros. */
	a = moved(p->hash_at, sv, nl - 1);
	b = a + 8 + 65;
	if (text[a - 1] == ',')
		a--;                       /* drop the comma before it */
	else if (text[b] == ',')
		b++;                       /* first member: the one after */
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const unsigned char *)text, a);
	crypto_hash_sha256_update(&st, (const unsigned char *)text + b,
	    len - b);
	crypto_hash_sha256_final(&st, md);
	jit_hex(md, sizeof(md), hash);
	memcpy(text + moved(p->hash_at, sv, nl - 1) + 8, hash, 64);
	r = jit_store_audit_put(t, last + 1, hash, text, len);
	free(text);
	if (r != 0)
		return r;
	if (seq != NULL)
		*seq = last + 1;
	if (hash_hex != NULL)
		memcpy(hash_hex, hash, JIT_AUDIT_HASH_HEX);
	return 0;
}

int
jit_audit_append(struct jit_store_txn *t, const json_t *fields,
    uint64_t *seq, char hash_hex[JIT_AUDIT_HASH_HEX])
{
	struct jit_audit_prep p;
	int r;

	if (seq != NULL)
		*seq = 0;
	if (hash_hex != NULL)
		hash_hex[0] = '\0';
	if (t == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	if ((r = jit_audit_prepare(fields, &p)) != 0)
		return r;
	r = jit_audit_append_prepared(t, &p, seq, hash_hex);
	jit_audit_prep_release(&p);
	return r;
}

/* ---- verification ----------------------------------------------------- */

void
jit_audit_verify_init(struct jit_audit_verifier *v, uint64_t first_seq,
    const char *prev_hex)
{
	memset(v, 0, sizeof(*v));
	if (first_seq == 0 || first_seq == 1) {
		v->next_seq = 1;
		memcpy(v->prev, zero_hash, JIT_AUDIT_HASH_HEX);
	} else {
		v->next_seq = first_seq;
	}
	if (prev_hex != NULL)
		snprintf(v->prev, sizeof(v->prev), "%s", prev_hex);
	else if (first_seq > 1)
		v->prev[0] = '\0';
}

static int
fail(struct jit_audit_verifier *v, uint64_t seq, const char *why)
{
	v->error_seq = seq;
	snprintf(v->error, sizeof(v->error), "%s", why);
	return JIT_ERR_AUDIT_CHAIN;
}

int
jit_audit_verify_next(struct jit_audit_verifier *v, const json_t *entry)
{
	char hash[JIT_AUDIT_HASH_HEX], msg[160];
	const char *prev, *h;
	json_int_t seqv;
	uint64_t seq;

	if (!json_is_object(entry))
		return fail(v, 0, "entry is not a JSON object");
	if (!json_is_integer(json_object_get(entry, "seq")) ||
	    (seqv = json_integer_value(json_object_get(entry, "seq"))) < 1)
		return fail(v, 0, "entry has no valid \"seq\"");
	seq = (uint64_t)seqv;
	if (v->next_seq != 0 && seq != v->next_seq) {
		snprintf(msg, sizeof(msg), "entry %llu found where entry %llu "
		    "was expected (removed or reordered entries)",
		    (unsigned long long)seq, (unsigned long long)v->next_seq);
		return fail(v, seq, msg);
	}
	if (!json_is_string(json_object_get(entry, "time")) ||
	    !json_is_string(json_object_get(entry, "event")) ||
	    !json_is_string(json_object_get(entry, "actor")))
		return fail(v, seq, "entry lacks \"time\", \"event\" or "
		    "\"actor\"");
	prev = json_string_value(json_object_get(entry, "prev"));
	h = json_string_value(json_object_get(entry, "hash"));
	if (!is_hash_hex(prev) || !is_hash_hex(h))
		return fail(v, seq, "entry has a malformed \"prev\" or "
		    "\"hash\"");
	if (v->prev[0] != '\0' && strcmp(prev, v->prev) != 0)
		return fail(v, seq, "\"prev\" does not match the previous "
		    "entry's hash (an entry before it was changed, removed or "
		    "reordered)");
	if (jit_audit_entry_hash(entry, hash) != 0)
		return fail(v, seq, "entry holds values outside the canonical "
		    "form (reals or control characters)");
	if (strcmp(hash, h) != 0)
		return fail(v, seq, "\"hash\" does not match the entry's "
		    "content (the entry was changed)");
	v->next_seq = seq + 1;
	memcpy(v->prev, h, JIT_AUDIT_HASH_HEX);
	v->count++;
	return 0;
}

int
jit_audit_verify_text(struct jit_audit_verifier *v, const char *json,
    size_t len)
{
	json_error_t je;
	json_t *e;
	int r;

	e = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
	if (e == NULL) {
		char msg[160];

		snprintf(msg, sizeof(msg), "entry is not valid JSON: %.100s",
		    je.text);
		return fail(v, v->next_seq, msg);
	}
	r = jit_audit_verify_next(v, e);
	json_decref(e);
	return r;
}

struct vs_ctx {
	struct jit_audit_verifier *v;
};

static int
verify_store_cb(uint64_t seq, const char *json, size_t len, void *ctx)
{
	struct vs_ctx *c = ctx;
	json_error_t je;
	json_t *e;
	char *canon = NULL;
	size_t clen;
	int r;

	e = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
	if (e == NULL)
		return fail(c->v, seq, "stored entry is not valid JSON");
	r = jit_audit_verify_next(c->v, e);
	if (r == 0 && json_integer_value(json_object_get(e, "seq")) !=
	    (json_int_t)seq)
		r = fail(c->v, seq, "entry is stored under another seq");
	if (r == 0 && (jit_audit_canonical(e, 0, &canon, &clen) != 0 ||
	    clen != len || memcmp(canon, json, len) != 0))
		r = fail(c->v, seq, "stored text is not in canonical form");
	free(canon);
	json_decref(e);
	return r;
}

int
jit_audit_verify_store(struct jit_store_txn *t, uint64_t *count,
    char head_hex[JIT_AUDIT_HASH_HEX], struct jit_audit_verifier *v)
{
	struct jit_audit_verifier local;
	struct vs_ctx c;
	int r;

	if (count != NULL)
		*count = 0;
	if (v == NULL)
		v = &local;
	jit_audit_verify_init(v, 1, NULL);
	c.v = v;
	if ((r = jit_store_audit_iter(t, 1, verify_store_cb, &c)) != 0)
		return r;
	if (count != NULL)
		*count = v->count;
	if (head_hex != NULL)
		memcpy(head_hex, v->prev, JIT_AUDIT_HASH_HEX);
	return 0;
}
