/*
 * fuzz-audit.c - the audit export verifier (jit_audit_verify_file) on
 * hostile exports: JSON lines or CSV records, the trailer and the inline
 * armoured signature.  The expected signer is a fixed test key; the seeds
 * in corpus/audit were exported with its private half
 * (tests/fuzz/make-audit-corpus.sh), so unmodified seeds verify.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit_export.h"
#include "err.h"
#include "key.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char signer[] = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG6ETTfy"
    "sy+O103oA8THt/XzDPnYaXrfwbnUUULYJV57 jit-fuzz-audit";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct jit_key *key;
	struct jit_audit_verify_result res;
	char *copy;
	FILE *f;
	int r;

	if (key == NULL) {
		char *line = strdup(signer), *comment = NULL;
		if (line == NULL || jit_key_parse_public(line, &key,
		    &comment) != 0)
			abort();
		free(comment);
		free(line);
	}
	/* fmemopen refuses a zero-sized buffer; keep one spare byte. */
	if ((copy = malloc(size + 1)) == NULL)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	if ((f = fmemopen(copy, size > 0 ? size : 1, "r")) == NULL) {
		free(copy);
		return 0;
	}
	if (size == 0)
		(void)fgetc(f);   /* the spare byte: start at the end */
	memset(&res, 0, sizeof(res));
	r = jit_audit_verify_file(f, NULL, 0, key, &res);
	if (r == 0 && (res.error[0] != '\0' || res.last_seq < res.first_seq))
		abort();
	if (r != 0 && memchr(res.error, '\0', sizeof(res.error)) == NULL)
		abort();
	fclose(f);
	free(copy);
	return 0;
}
