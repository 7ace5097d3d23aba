/* yaml_doc.c - see yaml_doc.h.  The only file that includes yaml.h. */
#include "yaml_doc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "err.h"
#include "policy_int.h"
#include "util.h"

struct jit_yaml_doc {
	yaml_document_t doc;
	int have_doc;
	struct jit_yaml_rules rules;
	const char *file;
	struct jit_policy_error *err;
	unsigned char *seen;    /* strict: nodes already handed out */
	size_t nnodes;
};

/* The opaque node is libyaml's node. */
static const yaml_node_t *
Y(const struct jit_yaml_node *n)
{
	return (const yaml_node_t *)(const void *)n;
}

static const struct jit_yaml_node *
N(const yaml_node_t *n)
{
	return (const struct jit_yaml_node *)(const void *)n;
}

int
jit_yaml_vfail(struct jit_yaml_doc *d, const struct jit_yaml_node *n,
    const char *field, const char *fmt, va_list ap)
{
	pol_set_err(d->err, d->file, jit_yaml_line(n), field, fmt, ap);
	return d->rules.fail_code;
}

int
jit_yaml_fail(struct jit_yaml_doc *d, const struct jit_yaml_node *n,
    const char *field, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = jit_yaml_vfail(d, n, field, fmt, ap);
	va_end(ap);
	return r;
}

static int fail_line(struct jit_yaml_doc *d, unsigned line,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int
fail_line(struct jit_yaml_doc *d, unsigned line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pol_set_err(d->err, d->file, line, d->rules.field, fmt, ap);
	va_end(ap);
	return d->rules.fail_code;
}

/* ---- loading ---- */

static unsigned
line_of_offset(const char *data, size_t len, size_t off)
{
	unsigned line = 1;

	for (size_t i = 0; i < off && i < len; i++)
		if (data[i] == '\n')
			line++;
	return line;
}

static int
syntax_error(struct jit_yaml_doc *d, yaml_parser_t *y, const char *data,
    size_t len)
{
	const char *problem = y->problem ? y->problem : "error";
	unsigned line;
	size_t col;

	if (y->error == YAML_MEMORY_ERROR)
		return JIT_ERR_ALLOC;
	if (y->error == YAML_READER_ERROR)
		return fail_line(d, line_of_offset(data, len,
		    y->problem_offset), "invalid text: %s at byte %zu",
		    problem, y->problem_offset);
	line = (unsigned)y->problem_mark.line + 1;
	col = y->problem_mark.column + 1;
	if (y->context != NULL)
		return fail_line(d, line, "YAML syntax error: %s (column %zu) "
		    "%s started at line %zu", problem, col, y->context,
		    y->context_mark.line + 1);
	return fail_line(d, line, "YAML syntax error: %s (column %zu)",
	    problem, col);
}

/* Load the document, then make sure no second one follows. */
static int
parse(struct jit_yaml_doc *d, yaml_parser_t *y, const char *data,
    size_t len)
{
	yaml_document_t doc2;
	int r;

	if (!yaml_parser_load(y, &d->doc))
		return syntax_error(d, y, data, len);
	d->have_doc = 1;
	if (yaml_document_get_root_node(&d->doc) == NULL)
		return 0;
	if (!yaml_parser_load(y, &doc2))
		return syntax_error(d, y, data, len);
	r = 0;
	if (yaml_document_get_root_node(&doc2) != NULL)
		r = fail_line(d, (unsigned)doc2.start_mark.line + 1,
		    "only one YAML document per file is allowed");
	yaml_document_delete(&doc2);
	return r;
}

int
jit_yaml_doc_load(const char *file, const char *data, size_t len,
    const struct jit_yaml_rules *rules, struct jit_policy_error *err,
    struct jit_yaml_doc **out)
{
	struct jit_yaml_doc *d = NULL;
	yaml_parser_t y;
	int r = JIT_ERR_INTERNAL;

	if (out == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	*out = NULL;
	if (file == NULL || rules == NULL || (data == NULL && len > 0))
		return JIT_ERR_INVALID_ARGUMENT;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return JIT_ERR_ALLOC;
	d->rules = *rules;
	if (d->rules.field == NULL)
		d->rules.field = "";
	d->file = file;
	d->err = err;
	if (!yaml_parser_initialize(&y)) {
		free(d);
		return JIT_ERR_ALLOC;
	}
	yaml_parser_set_input_string(&y, (const unsigned char *)
	    (data != NULL ? data : ""), len);
	r = parse(d, &y, data != NULL ? data : "", len);
	yaml_parser_delete(&y);
	if (r == 0) {
		d->nnodes = (size_t)(d->doc.nodes.top - d->doc.nodes.start);
		if ((d->seen = calloc(d->nnodes + 1, 1)) == NULL)
			r = JIT_ERR_ALLOC;
		else
			d->seen[0] = 1;  /* the root */
	}
	if (r != 0) {
		jit_yaml_doc_free(d);
		return r;
	}
	*out = d;
	return 0;
}

void
jit_yaml_doc_free(struct jit_yaml_doc *d)
{
	if (d == NULL)
		return;
	if (d->have_doc)
		yaml_document_delete(&d->doc);
	free(d->seen);
	free(d);
}

const struct jit_yaml_node *
jit_yaml_root(const struct jit_yaml_doc *d)
{
	/* yaml_document_get_root_node takes a non-const document but only
	 * reads it. */
	return N(yaml_document_get_root_node((yaml_document_t *)&d->doc));
}

/* ---- nodes ---- */

enum jit_yaml_kind
jit_yaml_kind(const struct jit_yaml_node *n)
{
	switch (Y(n)->type) {
	case YAML_SEQUENCE_NODE:
		return JIT_YAML_SEQUENCE;
	case YAML_MAPPING_NODE:
		return JIT_YAML_MAPPING;
	default:
		return JIT_YAML_SCALAR;
	}
}

unsigned
jit_yaml_line(const struct jit_yaml_node *n)
{
	return n == NULL ? 0 : (unsigned)Y(n)->start_mark.line + 1;
}

int
jit_yaml_is_null(const struct jit_yaml_node *n)
{
	const yaml_node_t *y = Y(n);
	const char *v;
	size_t len;

	if (y->type != YAML_SCALAR_NODE ||
	    y->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	v = (const char *)y->data.scalar.value;
	len = y->data.scalar.length;
	return len == 0 || (len == 1 && v[0] == '~') ||
	    (len == 4 && (memcmp(v, "null", 4) == 0 ||
	    memcmp(v, "Null", 4) == 0 || memcmp(v, "NULL", 4) == 0));
}

const char *
jit_yaml_type_name(const struct jit_yaml_node *n)
{
	if (jit_yaml_is_null(n))
		return "nothing (null)";
	switch (Y(n)->type) {
	case YAML_SCALAR_NODE: return "a single value";
	case YAML_SEQUENCE_NODE: return "a list";
	case YAML_MAPPING_NODE: return "a mapping";
	default: return "something else";
	}
}

const char *
jit_yaml_scalar(const struct jit_yaml_node *n, size_t *len)
{
	const yaml_node_t *y = Y(n);

	if (y->type != YAML_SCALAR_NODE) {
		if (len != NULL)
			*len = 0;
		return NULL;
	}
	if (len != NULL)
		*len = y->data.scalar.length;
	return (const char *)y->data.scalar.value;
}

size_t
jit_yaml_size(const struct jit_yaml_node *n)
{
	const yaml_node_t *y = Y(n);

	if (y->type == YAML_SEQUENCE_NODE)
		return (size_t)(y->data.sequence.items.top -
		    y->data.sequence.items.start);
	if (y->type == YAML_MAPPING_NODE)
		return (size_t)(y->data.mapping.pairs.top -
		    y->data.mapping.pairs.start);
	return 0;
}

/* Node idx, child of parent.  Under JIT_YAML_STRICT a node reached twice
 * fails: that only happens through an alias, and aliases would let a
 * small file expand into a huge policy. */
static int
get_node(struct jit_yaml_doc *d, int idx, const yaml_node_t *parent,
    const char *field, const struct jit_yaml_node **out)
{
	yaml_node_t *n;

	*out = NULL;
	n = yaml_document_get_node(&d->doc, idx);
	if (n == NULL || idx < 1 || (size_t)idx > d->nnodes)
		return jit_yaml_fail(d, N(parent), field,
		    "internal: bad YAML node");
	if (d->rules.flags & JIT_YAML_STRICT) {
		if (d->seen[idx - 1])
			return jit_yaml_fail(d, N(parent), field,
			    "anchors and aliases are not supported");
		d->seen[idx - 1] = 1;
		if (n->tag != NULL) {
			const char *t = (const char *)n->tag;
			const char *want = n->type == YAML_SCALAR_NODE ?
			    YAML_DEFAULT_SCALAR_TAG :
			    n->type == YAML_SEQUENCE_NODE ?
			    YAML_DEFAULT_SEQUENCE_TAG :
			    YAML_DEFAULT_MAPPING_TAG;
			if (strcmp(t, want) != 0)
				return jit_yaml_fail(d, N(n), field,
				    "YAML tags are not supported");
		}
	}
	*out = N(n);
	return 0;
}

int
jit_yaml_item(struct jit_yaml_doc *d, const struct jit_yaml_node *seq,
    size_t i, const char *field, const struct jit_yaml_node **out)
{
	const yaml_node_t *y = Y(seq);

	*out = NULL;
	if (y->type != YAML_SEQUENCE_NODE || i >= jit_yaml_size(seq))
		return jit_yaml_fail(d, seq, field, "internal: no item %zu",
		    i);
	return get_node(d, y->data.sequence.items.start[i], y, field, out);
}

static const yaml_node_pair_t *
pair_at(const struct jit_yaml_node *map, size_t i)
{
	const yaml_node_t *y = Y(map);

	if (y->type != YAML_MAPPING_NODE || i >= jit_yaml_size(map))
		return NULL;
	return &y->data.mapping.pairs.start[i];
}

int
jit_yaml_pair_key(struct jit_yaml_doc *d, const struct jit_yaml_node *map,
    size_t i, const char *field, const struct jit_yaml_node **key)
{
	const yaml_node_pair_t *pair = pair_at(map, i);

	*key = NULL;
	if (pair == NULL)
		return jit_yaml_fail(d, map, field, "internal: no pair %zu",
		    i);
	return get_node(d, pair->key, Y(map), field, key);
}

int
jit_yaml_pair_value(struct jit_yaml_doc *d, const struct jit_yaml_node *map,
    size_t i, const char *field, const struct jit_yaml_node **value)
{
	const yaml_node_pair_t *pair = pair_at(map, i);
	yaml_node_t *k;

	*value = NULL;
	if (pair == NULL ||
	    (k = yaml_document_get_node(&d->doc, pair->key)) == NULL)
		return jit_yaml_fail(d, map, field, "internal: no pair %zu",
		    i);
	return get_node(d, pair->value, k, field, value);
}

int
jit_yaml_key(struct jit_yaml_doc *d, const struct jit_yaml_node *key,
    const char *parent, const char *unknown_field,
    const char *const *known, size_t n, unsigned *seen, size_t *idx)
{
	char buf[POL_SHOWN_MAX], path[192], expected[160] = "";
	size_t len = 0;
	const char *v = jit_yaml_scalar(key, &len), *hint = NULL;
	const char *sep = parent[0] != '\0' ? "." : "";

	*idx = 0;
	if (v == NULL)
		return jit_yaml_fail(d, key, unknown_field ? unknown_field :
		    parent, "keys must be strings");
	if (n > 32)
		return jit_yaml_fail(d, key, parent, "internal: %zu keys", n);
	for (size_t i = 0; i < n; i++) {
		if (strlen(known[i]) != len || memcmp(known[i], v, len) != 0)
			continue;
		snprintf(path, sizeof(path), "%s%s%s", parent, sep, known[i]);
		if (*seen & (1u << i))
			return jit_yaml_fail(d, key, path,
			    "duplicate key '%s'", known[i]);
		*seen |= 1u << i;
		*idx = i;
		return 0;
	}
	/* By default the unknown key is named in the field too, so the
	 * error reads "roles.x.approver: unknown key ...". */
	pol_shown(v, len, buf);
	snprintf(path, sizeof(path), "%s%s%s", parent, sep, buf);
	if (memchr(v, '\0', len) == NULL)
		hint = pol_suggest(v, known, n);
	if (hint == NULL && n <= 4) {
		size_t o = 0;
		for (size_t i = 0; i < n && o < sizeof(expected); i++)
			o += (size_t)snprintf(expected + o,
			    sizeof(expected) - o, "%s%s", i ? ", " : "",
			    known[i]);
	}
	if (hint != NULL)
		return jit_yaml_fail(d, key, unknown_field ? unknown_field :
		    path, "unknown key '%s' (did you mean '%s'?)", buf, hint);
	if (expected[0] != '\0')
		return jit_yaml_fail(d, key, unknown_field ? unknown_field :
		    path, "unknown key '%s' (expected %s)", buf, expected);
	return jit_yaml_fail(d, key, unknown_field ? unknown_field : path,
	    "unknown key '%s'", buf);
}

int
jit_yaml_text(struct jit_yaml_doc *d, const struct jit_yaml_node *n,
    const char *field, const char *what, const char **out)
{
	const char *v;
	size_t len = 0;

	*out = NULL;
	if ((v = jit_yaml_scalar(n, &len)) == NULL || jit_yaml_is_null(n))
		return jit_yaml_fail(d, n, field, "expected %s, found %s",
		    what, jit_yaml_type_name(n));
	if (memchr(v, '\0', len) != NULL)
		return jit_yaml_fail(d, n, field, "value contains a NUL byte");
	*out = v;
	return 0;
}

int
jit_yaml_string(struct jit_yaml_doc *d, const struct jit_yaml_node *n,
    const char *field, const char *what, char **out)
{
	const char *v;
	int r;

	*out = NULL;
	if ((r = jit_yaml_text(d, n, field, what, &v)) != 0)
		return r;
	if ((*out = jit_strdup(v)) == NULL)
		return JIT_ERR_ALLOC;
	return 0;
}
