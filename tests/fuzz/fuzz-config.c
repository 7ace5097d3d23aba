/* fuzz-config.c - the server config loader (api/config.h) on arbitrary
 * bytes, plus the listen-address and size parsers on the same input. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jit_config c;
	struct jit_listen l;
	char err[512], *s;
	size_t n;

	if (jit_config_parse("fuzz.yaml", data, size, &c, err,
	    sizeof(err)) == 0)
		jit_config_release(&c);
	if (size < 256 && (s = malloc(size + 1)) != NULL) {
		memcpy(s, data, size);
		s[size] = '\0';
		if (jit_listen_parse(s, &l) == 0)
			jit_listen_release(&l);
		(void)jit_parse_size(s, &n);
		free(s);
	}
	return 0;
}
