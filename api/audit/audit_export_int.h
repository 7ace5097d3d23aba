/*
 * audit_export_int.h - what the files behind audit_export.h share
 * (audit_filter.c, audit_export.c, audit_verify.c).  Not for other
 * modules.
 */
#ifndef JIT_AUDIT_EXPORT_INT_H
#define JIT_AUDIT_EXPORT_INT_H

#include <jansson.h>

#include "audit_export.h"
#include "buf.h"

#define FILTER_MAX 200          /* longest filter value */
#define HASH_ALG "sha512"

/* 64 zeros: the "prev" of the first entry. */
extern const char jit_audit__zero_hash[JIT_AUDIT_HASH_HEX];

/* The CSV columns before "entry", in JIT_AUDIT_CSV_COLUMNS order. */
extern const char *const jit_audit__csv_cols[];
#define NCOLS 26

/* Append s (n bytes) to out as one RFC 4180 field; guard prefixes text
 * a spreadsheet would take for a formula. */
int jit_audit__csv_field(struct jit_buf *out, const char *s, size_t n,
    int guard);

/* The filters of an export as the trailer's JSON object (new ref). */
json_t *jit_audit__filters_json(const struct jit_audit_filter *f);

#endif
