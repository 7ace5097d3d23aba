/*
 * yaml_doc.h - one YAML document, read strictly: the reader that the
 * policy loader and the server configuration (api/config.c) share.  Only
 * yaml_doc.c includes yaml.h; nodes are opaque here.
 *
 * A document is parsed whole from memory.  Text that is not UTF-8, a
 * syntax error or a second document in the input is an error with the
 * line.  With JIT_YAML_STRICT, anchors and aliases (a node reached twice)
 * and tags other than the defaults are refused as well, so a small file
 * cannot stand for a huge tree and a value is what it looks like.
 *
 * Errors are a struct jit_policy_error (policy.h: file, line, field,
 * message; "FILE:LINE: FIELD: message" through jit_policy_error_format),
 * written into the err given to jit_yaml_doc_load, which must stay valid
 * as long as the document.  Every failure about the text returns the
 * rules' fail_code; running out of memory returns ALLOC.  Field names
 * are dotted paths chosen by the caller ("roles.prod-db.approvers").
 *
 * Nodes, and the text of scalars, stay valid until jit_yaml_doc_free()
 * and are owned by the document.
 */
#ifndef JIT_YAML_DOC_H
#define JIT_YAML_DOC_H

#include <stdarg.h>
#include <stddef.h>

struct jit_policy_error;
struct jit_yaml_doc;
struct jit_yaml_node;

/* Refuse anchors, aliases and tags other than the defaults. */
#define JIT_YAML_STRICT 0x1u

struct jit_yaml_rules {
	unsigned flags;         /* JIT_YAML_* */
	int fail_code;          /* returned by every failure about the text */
	const char *field;      /* the field syntax errors name ("" = none);
	                           must outlive the document */
};

enum jit_yaml_kind {
	JIT_YAML_SCALAR = 1,
	JIT_YAML_SEQUENCE,
	JIT_YAML_MAPPING,
};

/*
 * Parse len bytes of data (need not be NUL-terminated) as one YAML
 * document.  file names it in errors and must outlive the document.  On
 * success *out is the document (free with jit_yaml_doc_free); its root
 * is NULL when the input holds no document at all (empty, or comments
 * only).  On failure *out is NULL and err says where: "invalid text: ..."
 * (not UTF-8), "YAML syntax error: ..." or "only one YAML document per
 * file is allowed".  Errors: rules->fail_code, ALLOC, INVALID_ARGUMENT.
 */
int jit_yaml_doc_load(const char *file, const char *data, size_t len,
    const struct jit_yaml_rules *rules, struct jit_policy_error *err,
    struct jit_yaml_doc **out);
/* NULL is a no-op. */
void jit_yaml_doc_free(struct jit_yaml_doc *d);

/* The root node, NULL for an input without a document. */
const struct jit_yaml_node *jit_yaml_root(const struct jit_yaml_doc *d);

/* Fail at node n (its line; 0 for NULL) with field and a message:
 * writes the error and returns the rules' fail_code. */
int jit_yaml_fail(struct jit_yaml_doc *d, const struct jit_yaml_node *n,
    const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int jit_yaml_vfail(struct jit_yaml_doc *d, const struct jit_yaml_node *n,
    const char *field, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

/* ---- nodes (n must not be NULL unless stated) ---- */

enum jit_yaml_kind jit_yaml_kind(const struct jit_yaml_node *n);
/* 1-based line where n starts; 0 for NULL. */
unsigned jit_yaml_line(const struct jit_yaml_node *n);
/* 1 for a plain scalar that is empty, "~", "null", "Null" or "NULL". */
int jit_yaml_is_null(const struct jit_yaml_node *n);
/* What n is, for messages: "nothing (null)", "a single value", "a list"
 * or "a mapping". */
const char *jit_yaml_type_name(const struct jit_yaml_node *n);
/* The text of a scalar (NUL-terminated; it may hold NUL bytes, so see
 * *len), or NULL for a list or mapping. */
const char *jit_yaml_scalar(const struct jit_yaml_node *n, size_t *len);
/* The items of a sequence or the pairs of a mapping; 0 for a scalar. */
size_t jit_yaml_size(const struct jit_yaml_node *n);

/*
 * Item i of sequence seq, pair i's key or value of mapping map.  Under
 * JIT_YAML_STRICT a node reached twice fails ("anchors and aliases are
 * not supported", at the parent, with field) and so does a tag ("YAML
 * tags are not supported", at the node).  A value's errors are placed
 * at its key.
 */
int jit_yaml_item(struct jit_yaml_doc *d, const struct jit_yaml_node *seq,
    size_t i, const char *field, const struct jit_yaml_node **out);
int jit_yaml_pair_key(struct jit_yaml_doc *d,
    const struct jit_yaml_node *map, size_t i, const char *field,
    const struct jit_yaml_node **key);
int jit_yaml_pair_value(struct jit_yaml_doc *d,
    const struct jit_yaml_node *map, size_t i, const char *field,
    const struct jit_yaml_node **value);

/*
 * Which of known[0..n) (n <= 32) key names; its index in *idx, and bit
 * idx set in *seen.  Fails with
 *   "duplicate key 'K'" (field PARENT.K) when the bit was already set;
 *   "unknown key 'K'" when it names none, followed by " (did you mean
 *   'X'?)" for a close one or " (expected A, B)" when n <= 4 (field
 *   unknown_field, or PARENT.K when that is NULL);
 *   "keys must be strings" when key is not a scalar (field
 *   unknown_field, or PARENT when that is NULL).
 */
int jit_yaml_key(struct jit_yaml_doc *d, const struct jit_yaml_node *key,
    const char *parent, const char *unknown_field,
    const char *const *known, size_t n, unsigned *seen, size_t *idx);

/*
 * The text of a scalar that is not null and holds no NUL byte, in *out
 * (owned by the document).  Fails with "expected WHAT, found ..." or
 * "value contains a NUL byte".
 */
int jit_yaml_text(struct jit_yaml_doc *d, const struct jit_yaml_node *n,
    const char *field, const char *what, const char **out);
/* jit_yaml_text, as a new string (*out NULL on failure; free it). */
int jit_yaml_string(struct jit_yaml_doc *d, const struct jit_yaml_node *n,
    const char *field, const char *what, char **out);

#endif
