/*
 * fuzz-agent.c - ssh-agent reply parsers (IDENTITIES_ANSWER and status).
 * Every listed identity must come back with a non-empty blob and a
 * NUL-terminated comment; nothing may crash or leak.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jit_agent_idlist *l = NULL;
	size_t i;

	if (jit_agent_parse_identities(data, size, &l) == 0) {
		for (i = 0; i < l->n; i++) {
			if (l->ids[i].blob == NULL || l->ids[i].blob_len == 0 ||
			    l->ids[i].comment == NULL)
				abort();
			(void)strlen(l->ids[i].comment);
		}
		jit_agent_idlist_free(l);
	} else if (l != NULL) {
		abort();   /* output must stay cleared on error */
	}
	(void)jit_agent_parse_status(data, size);
	return 0;
}
