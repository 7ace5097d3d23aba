/* fuzz-pubkey.c - jit_key_from_blob and jit_key_parse_public; a blob that
 * parses must come back byte for byte from jit_key_public_blob. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "key.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jit_key *k = NULL;
	const unsigned char *blob;
	char *line, *comment = NULL, *fp = NULL;
	size_t len;

	if (jit_key_from_blob(data, size, &k) == 0) {
		if (jit_key_public_blob(k, &blob, &len) != 0 || len != size ||
		    memcmp(blob, data, size) != 0 ||
		    jit_key_fingerprint(k, &fp) != 0)
			abort();
		free(fp);
		jit_key_free(k);
	}
	if ((line = malloc(size + 1)) == NULL)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	if (jit_key_parse_public(line, &k, &comment) == 0)
		jit_key_free(k);
	free(comment);
	free(line);
	return 0;
}
