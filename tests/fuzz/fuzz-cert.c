/*
 * fuzz-cert.c - certificate parser: jit_cert_parse on the raw bytes (and
 * the signature check when it parses), then jit_cert_parse_line on a
 * NUL-terminated copy, so the same corpus drives the blob and line forms.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jit_cert *c = NULL;
	char *line;

	if (jit_cert_parse(data, size, &c) == 0) {
		(void)jit_cert_verify_signature(c);
		(void)jit_cert_verify(c, NULL);
		(void)jit_cert_find_critical(c, "force-command");
		(void)jit_cert_find_extension(c, "permit-pty");
		jit_cert_free(c);
		c = NULL;
	}
	if ((line = malloc(size + 1)) == NULL)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	if (jit_cert_parse_line(line, &c) == 0)
		(void)jit_cert_verify_signature(c);
	jit_cert_free(c);
	free(line);
	return 0;
}
