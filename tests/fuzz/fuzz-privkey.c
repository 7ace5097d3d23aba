/* fuzz-privkey.c - jit_key_parse_private; a key that loads must sign,
 * verify its own signature and survive a save/parse round trip. */
#include <stdint.h>
#include <stdlib.h>

#include "buf.h"
#include "key.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jit_key *k = NULL, *k2 = NULL;
	struct jit_buf sig = JIT_BUF_INIT, file = JIT_BUF_INIT;

	if (jit_key_parse_private(data, size, &k) != 0)
		return 0;
	if (jit_key_sign(k, data, size, &sig) != 0 ||
	    jit_key_verify(k, jit_buf_ptr(&sig), jit_buf_len(&sig), data,
	    size) != 0 ||
	    jit_key_put_private_openssh(k, "fuzz", &file) != 0 ||
	    jit_key_parse_private(jit_buf_ptr(&file), jit_buf_len(&file),
	    &k2) != 0 || !jit_key_equal_public(k, k2))
		abort();
	jit_buf_release(&sig);
	jit_buf_release(&file);
	jit_key_free(k2);
	jit_key_free(k);
	return 0;
}
