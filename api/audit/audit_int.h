/*
 * audit_int.h - what audit.c and audit_canon.c share.  Not for other
 * modules.
 */
#ifndef JIT_AUDIT_INT_H
#define JIT_AUDIT_INT_H

#include <stddef.h>

#include <jansson.h>

#include "audit.h"

/* A top-level member to add while writing an object: its key, its value
 * as canonical text, and where the key's opening quote lands (*at, an
 * offset into the text written). */
struct jit_audit__extra {
	const char *key;
	const char *text;
	size_t *at;
};

/*
 * The canonical text (audit.h) of object obj with the members extra[0..
 * nextra) added (their keys must not be obj's): *out (malloc'd,
 * NUL-terminated) and *len.  Checks the value rules as it goes.
 * Errors: INVALID_ARGUMENT (not an object, or a value that breaks the
 * rules: a real, an integer past 2^53, a control character other than
 * \t \n \r, U+007F, bad UTF-8, nesting deeper than 32), ALLOC.
 */
int jit_audit__canonical_with(const json_t *obj,
    const struct jit_audit__extra *extra, size_t nextra, char **out,
    size_t *len);

#endif
