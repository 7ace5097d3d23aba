/*
 * audit_filter.c - see audit_export.h: export filters (which entries an
 * export holds) and the CSV form of an entry.
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

const char jit_audit__zero_hash[JIT_AUDIT_HASH_HEX] =
    "0000000000000000000000000000000000000000000000000000000000000000";

const char *const jit_audit__csv_cols[NCOLS - 1] = {
	"seq", "time", "event", "actor", "request", "user", "role", "state",
	"principals", "reason", "duration", "comment", "serial", "key_id",
	"valid_after", "valid_before", "not_before", "not_after",
	"key_fingerprint", "ca_fingerprint", "client_address", "token_id",
	"policy_hash", "prev", "hash",
};

/* ---- filters ---------------------------------------------------------- */

static int
seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return JIT_ERR_INVALID_ARGUMENT;
}

int
jit_audit_filter_set(struct jit_audit_filter *f, const char *name,
    const char *value, char *err, size_t errlen)
{
	uint64_t t;

	if (f == NULL || name == NULL || value == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	if (strcmp(name, "format") == 0) {
		if (strcmp(value, "jsonl") == 0)
			f->format = JIT_AUDIT_JSONL;
		else if (strcmp(value, "csv") == 0)
			f->format = JIT_AUDIT_CSV;
		else
			return seterr(err, errlen,
			    "format must be jsonl or csv");
		return 0;
	}
	if (*value == '\0' || strlen(value) > FILTER_MAX ||
	    !jit_text_printable(value))
		return seterr(err, errlen, "%s: empty, too long or not "
		    "printable", name);
	if (strcmp(name, "since") == 0 || strcmp(name, "until") == 0) {
		if (jit_parse_time(value, &t) != 0)
			return seterr(err, errlen, "%s: not a time (use "
			    "RFC 3339 like 2026-01-31T00:00:00Z, or epoch "
			    "seconds)", name);
		if (name[0] == 's') {
			f->since = t;
			f->has_since = 1;
		} else {
			f->until = t;
			f->has_until = 1;
		}
		return 0;
	}
	if (strcmp(name, "user") == 0)
		return jit_strset(&f->user, value);
	if (strcmp(name, "role") == 0)
		return jit_strset(&f->role, value);
	if (strcmp(name, "event") == 0) {
		/* Every comma-separated item must be non-empty. */
		const char *p = value;
		for (;;) {
			const char *c = strchr(p, ',');
			size_t n = c != NULL ? (size_t)(c - p) : strlen(p);
			if (n == 0)
				return seterr(err, errlen,
				    "event: empty item in the list");
			if (c == NULL)
				break;
			p = c + 1;
		}
		return jit_strset(&f->event, value);
	}
	return seterr(err, errlen, "unknown filter '%.40s' (use since, until, "
	    "user, role, event, format)",
	    jit_text_printable(name) ? name : "?");
}

int
jit_audit_filter_parse_query(struct jit_audit_filter *f, const char *query,
    char *err, size_t errlen)
{
	struct jit_query_param q[] = { { "since", "", 0 },
	    { "until", "", 0 }, { "user", "", 0 }, { "role", "", 0 },
	    { "event", "", 0 }, { "format", "", 0 } };
	size_t i;
	int r;

	if (jit_query_parse(query, q, sizeof(q) / sizeof(q[0]), err,
	    errlen) != 0)
		return JIT_ERR_INVALID_ARGUMENT;
	for (i = 0; i < sizeof(q) / sizeof(q[0]); i++)
		if (q[i].present && (r = jit_audit_filter_set(f, q[i].name,
		    q[i].value, err, errlen)) != 0)
			return r;
	return 0;
}

void
jit_audit_filter_release(struct jit_audit_filter *f)
{
	if (f == NULL)
		return;
	free(f->user);
	free(f->role);
	free(f->event);
	memset(f, 0, sizeof(*f));
}

int
jit_audit_filter_is_empty(const struct jit_audit_filter *f)
{
	return !f->has_since && !f->has_until && f->user == NULL &&
	    f->role == NULL && f->event == NULL;
}

static int
str_is(const json_t *v, const char *s)
{
	return json_is_string(v) && strcmp(json_string_value(v), s) == 0;
}

/* 1 if name is in the comma-separated list (items "x.*" are prefixes,
 * "*" matches everything). */
static int
event_in(const char *list, const char *name)
{
	const char *p = list;
	size_t n, nl = strlen(name);

	for (;;) {
		const char *c = strchr(p, ',');
		n = c != NULL ? (size_t)(c - p) : strlen(p);
		if (n >= 1 && p[n - 1] == '*') {
			if (nl >= n - 1 && memcmp(name, p, n - 1) == 0)
				return 1;
		} else if (n == nl && memcmp(name, p, n) == 0) {
			return 1;
		}
		if (c == NULL)
			return 0;
		p = c + 1;
	}
}

int
jit_audit_filter_match(const struct jit_audit_filter *f, const json_t *entry)
{
	const char *ev;
	uint64_t t;

	if (f->has_since || f->has_until) {
		const char *ts = json_string_value(json_object_get(entry,
		    "time"));
		if (ts == NULL || jit_parse_time(ts, &t) != 0)
			return 0;
		if (f->has_since && t < f->since)
			return 0;
		if (f->has_until && t >= f->until)
			return 0;
	}
	if (f->user != NULL && !str_is(json_object_get(entry, "user"),
	    f->user) && !str_is(json_object_get(entry, "actor"), f->user))
		return 0;
	if (f->role != NULL && !str_is(json_object_get(entry, "role"),
	    f->role))
		return 0;
	if (f->event != NULL) {
		ev = json_string_value(json_object_get(entry, "event"));
		if (ev == NULL || !event_in(f->event, ev))
			return 0;
	}
	return 1;
}

/* The filters as a JSON object (only those given). */
json_t *
jit_audit__filters_json(const struct jit_audit_filter *f)
{
	char ts[JIT_TIME_LEN];
	json_t *o = json_object();

	if (o == NULL)
		return NULL;
	if (f->has_since) {
		jit_format_time(f->since, ts);
		json_object_set_new(o, "since", json_string(ts));
	}
	if (f->has_until) {
		jit_format_time(f->until, ts);
		json_object_set_new(o, "until", json_string(ts));
	}
	if (f->user != NULL)
		json_object_set_new(o, "user", json_string(f->user));
	if (f->role != NULL)
		json_object_set_new(o, "role", json_string(f->role));
	if (f->event != NULL)
		json_object_set_new(o, "event", json_string(f->event));
	return o;
}

/* ---- CSV -------------------------------------------------------------- */

/* Append one field, quoted when needed (RFC 4180).  guard: prefix a ' to
 * text a spreadsheet would take as a formula. */
int
jit_audit__csv_field(struct jit_buf *out, const char *s, size_t n, int guard)
{
	size_t i;
	int quote = 0, r;

	for (i = 0; i < n; i++)
		if (s[i] == ',' || s[i] == '"' || s[i] == '\r' ||
		    s[i] == '\n') {
			quote = 1;
			break;
		}
	if (quote && (r = jit_buf_put(out, "\"", 1)) != 0)
		return r;
	if (guard && n > 0 && strchr("=+-@\t\r", s[0]) != NULL &&
	    (r = jit_buf_put(out, "'", 1)) != 0)
		return r;
	if (!quote)
		return jit_buf_put(out, s, n);
	/* Copy runs up to and including each quote, then double it. */
	while (n > 0) {
		const char *q = memchr(s, '"', n);
		size_t run = q != NULL ? (size_t)(q - s) + 1 : n;

		if ((r = jit_buf_put(out, s, run)) != 0 ||
		    (q != NULL && (r = jit_buf_put(out, "\"", 1)) != 0))
			return r;
		s += run;
		n -= run;
	}
	return jit_buf_put(out, "\"", 1);
}

static int
csv_value(struct jit_buf *out, const json_t *v)
{
	char num[32], *s;
	size_t i;
	int r;

	switch (v == NULL ? JSON_NULL : json_typeof(v)) {
	case JSON_STRING:
		return jit_audit__csv_field(out, json_string_value(v),
		    json_string_length(v), 1);
	case JSON_INTEGER:
		snprintf(num, sizeof(num), "%lld",
		    (long long)json_integer_value(v));
		return jit_buf_put(out, num, strlen(num));
	case JSON_TRUE:
		return jit_buf_put(out, "true", 4);
	case JSON_FALSE:
		return jit_buf_put(out, "false", 5);
	case JSON_NULL:
		return 0;
	case JSON_ARRAY: {
		/* An array of strings, e.g. principals: space-separated. */
		struct jit_buf tmp = JIT_BUF_INIT;
		json_t *m;
		int all = 1;

		json_array_foreach(v, i, m)
			if (!json_is_string(m))
				all = 0;
		if (all) {
			r = 0;
			json_array_foreach(v, i, m) {
				if (r == 0 && i > 0)
					r = jit_buf_put(&tmp, " ", 1);
				if (r == 0)
					r = jit_buf_put(&tmp,
					    json_string_value(m),
					    json_string_length(m));
			}
			if (r == 0)
				r = jit_audit__csv_field(out, (const char *)
				    jit_buf_ptr(&tmp), jit_buf_len(&tmp), 1);
			jit_buf_release(&tmp);
			return r;
		}
	}
		__attribute__((fallthrough));
	default:
		if ((s = json_dumps(v, JSON_SORT_KEYS | JSON_COMPACT |
		    JSON_ENCODE_ANY)) == NULL)
			return JIT_ERR_ALLOC;
		r = jit_audit__csv_field(out, s, strlen(s), 1);
		free(s);
		return r;
	}
}

int
jit_audit_csv_row(const json_t *entry, const char *text, size_t text_len,
    struct jit_buf *out)
{
	size_t i;
	int r;

	for (i = 0; i + 1 < NCOLS; i++) {
		if ((r = csv_value(out, json_object_get(entry, jit_audit__csv_cols[i])))
		    != 0 || (r = jit_buf_put(out, ",", 1)) != 0)
			return r;
	}
	if ((r = jit_audit__csv_field(out, text, text_len, 0)) != 0)
		return r;
	return jit_buf_put(out, "\r\n", 2);
}

