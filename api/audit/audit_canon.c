/*
 * audit_canon.c - an entry's canonical text (audit.h) written directly,
 * for jit_audit_prepare(): the bytes of jansson's
 * json_dumps(JSON_SORT_KEYS | JSON_COMPACT) of a value that keeps the
 * value rules, without copying the object and without jansson's generic
 * dump (a third of the CPU of an issuance's audit entry went there).
 * tests/unit/test-audit.c compares the two; jit_audit_canonical() and the
 * verifiers still use jansson, so a difference would show as a stored
 * text "not in canonical form".
 */
#include "audit_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

#define MAX_SAFE_INT 9007199254740992LL  /* 2^53 */
#define MAX_DEPTH 32
#define STACK_KEYS 32

struct out {
	char *p;
	size_t n, cap;
	int err;
};

static void
put(struct out *o, const char *s, size_t n)
{
	if (o->err != 0)
		return;
	if (o->cap - o->n < n + 1) {
		size_t cap = o->cap ? o->cap : 512;
		char *p;

		while (cap - o->n < n + 1)
			cap *= 2;
		if ((p = realloc(o->p, cap)) == NULL) {
			o->err = JIT_ERR_ALLOC;
			return;
		}
		o->p = p;
		o->cap = cap;
	}
	memcpy(o->p + o->n, s, n);
	o->n += n;
	o->p[o->n] = '\0';
}

/* Length of the UTF-8 sequence at s (n bytes left) as jansson accepts it
 * (no overlong forms, surrogates or code points past U+10FFFF), 0 if it
 * is not one. */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	uint32_t cp;
	size_t len, i;

	if (s[0] < 0xc2 || s[0] > 0xf4)
		return 0;
	len = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
	if (n < len)
		return 0;
	cp = s[0] & (0x7fu >> len);
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

/* s (n bytes) as a JSON string: '"' and '\\' escaped, \t \n \r as such;
 * other control characters, U+007F and bad UTF-8 break the rules. */
static void
put_string(struct out *o, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, run = 0, k;

	put(o, "\"", 1);
	while (i < n) {
		unsigned char c = u[i];
		const char *esc = NULL;

		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
			i++;
			continue;
		}
		if (c >= 0x80) {
			if ((k = utf8_len(u + i, n - i)) == 0)
				goto bad;
			i += k;
			continue;
		}
		switch (c) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\t': esc = "\\t"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		default: goto bad;
		}
		put(o, s + run, i - run);
		put(o, esc, 2);
		run = ++i;
	}
	put(o, s + run, n - run);
	put(o, "\"", 1);
	return;
bad:
	if (o->err == 0)
		o->err = JIT_ERR_INVALID_ARGUMENT;
}

static void
put_int(struct out *o, json_int_t v)
{
	char buf[24], *p = buf + sizeof(buf);
	uint64_t u;

	if (v > MAX_SAFE_INT || v < -MAX_SAFE_INT) {
		if (o->err == 0)
			o->err = JIT_ERR_INVALID_ARGUMENT;
		return;
	}
	u = v < 0 ? (uint64_t)-v : (uint64_t)v;
	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		*--p = '-';
	put(o, p, (size_t)(buf + sizeof(buf) - p));
}

/* An object member to write: a key and either a JSON value or the text
 * of one (an extra member, with where its key lands). */
struct member {
	const char *key;
	const json_t *v;
	const struct jit_audit__extra *x;
};

static int
member_cmp(const void *a, const void *b)
{
	return strcmp(((const struct member *)a)->key,
	    ((const struct member *)b)->key);
}

static void put_value(struct out *o, const json_t *v, int depth);

/* Object v's members and extra[0..nx), keys sorted by their bytes. */
static void
put_object(struct out *o, const json_t *v, const struct jit_audit__extra *x,
    size_t nx, int depth)
{
	struct member stack[STACK_KEYS], *m = stack;
	size_t n = json_object_size(v) + nx, i = 0;
	const char *key;
	json_t *val;

	if (n > STACK_KEYS && (m = malloc(n * sizeof(*m))) == NULL) {
		o->err = JIT_ERR_ALLOC;
		return;
	}
	json_object_foreach((json_t *)v, key, val) {
		m[i].key = key;
		m[i].v = val;
		m[i++].x = NULL;
	}
	for (size_t j = 0; j < nx; j++) {
		m[i].key = x[j].key;
		m[i].v = NULL;
		m[i++].x = &x[j];
	}
	qsort(m, n, sizeof(*m), member_cmp);
	put(o, "{", 1);
	for (i = 0; i < n && o->err == 0; i++) {
		if (i > 0)
			put(o, ",", 1);
		if (m[i].x != NULL)
			*m[i].x->at = o->n;
		put_string(o, m[i].key, strlen(m[i].key));
		put(o, ":", 1);
		if (m[i].x != NULL)
			put(o, m[i].x->text, strlen(m[i].x->text));
		else
			put_value(o, m[i].v, depth + 1);
	}
	put(o, "}", 1);
	if (m != stack)
		free(m);
}

static void
put_value(struct out *o, const json_t *v, int depth)
{
	size_t i;

	if (depth > MAX_DEPTH) {
		o->err = JIT_ERR_INVALID_ARGUMENT;
		return;
	}
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		put_object(o, v, NULL, 0, depth);
		break;
	case JSON_ARRAY:
		put(o, "[", 1);
		for (i = 0; i < json_array_size(v) && o->err == 0; i++) {
			if (i > 0)
				put(o, ",", 1);
			put_value(o, json_array_get(v, i), depth + 1);
		}
		put(o, "]", 1);
		break;
	case JSON_STRING:
		put_string(o, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		put_int(o, json_integer_value(v));
		break;
	case JSON_TRUE:
		put(o, "true", 4);
		break;
	case JSON_FALSE:
		put(o, "false", 5);
		break;
	case JSON_NULL:
		put(o, "null", 4);
		break;
	default:
		o->err = JIT_ERR_INVALID_ARGUMENT;  /* reals */
	}
}

int
jit_audit__canonical_with(const json_t *obj,
    const struct jit_audit__extra *extra, size_t nextra, char **out,
    size_t *len)
{
	struct out o = { NULL, 0, 0, 0 };

	*out = NULL;
	*len = 0;
	if (!json_is_object(obj))
		return JIT_ERR_INVALID_ARGUMENT;
	put_object(&o, obj, extra, nextra, 0);
	if (o.err != 0) {
		free(o.p);
		return o.err;
	}
	*out = o.p;
	*len = o.n;
	return 0;
}
