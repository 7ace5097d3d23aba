/*
 * fuzz-krl.c - KRL parser: jit_krl_parse, then lookups against the first
 * CA section's key (serials at the edges and a key ID) when it parses.
 * Seeds are KRLs written by ssh-keygen -k and by jit_krl_build; see
 * .make-seeds.sh.
 */
#include <stdint.h>

#include "krl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jit_krl *krl = NULL;
	struct jit_key *ca = NULL;

	if (jit_krl_parse(data, size, &krl) != 0)
		return 0;
	if (krl->ncas > 0 && krl->cas[0].ca_blob != NULL &&
	    jit_key_from_blob(krl->cas[0].ca_blob, krl->cas[0].ca_blob_len,
	    &ca) == 0) {
		(void)jit_krl_is_revoked_serial(krl, ca, 1);
		(void)jit_krl_is_revoked_serial(krl, ca, UINT64_MAX);
		(void)jit_krl_is_revoked_key_id(krl, ca, "alice");
		(void)jit_krl_count_serials(krl, ca);
	}
	jit_key_free(ca);
	jit_krl_free(krl);
	return 0;
}
