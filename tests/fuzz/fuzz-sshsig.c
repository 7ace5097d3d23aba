/*
 * fuzz-sshsig.c - SSH signature verifier: each input is tried both as
 * armour (jit_sshsig_verify over a fixed message) and as a raw blob
 * (jit_sshsig_verify_blob over that message's SHA-512), so one corpus of
 * armoured and raw seeds drives the dearmouring and the blob parser.  The
 * seeds sign "jit-ssh fuzz\n" in namespace "file"; see .make-seeds.sh.
 */
#include <stdint.h>
#include <string.h>

#include "sshsig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char msg[] = "jit-ssh fuzz\n";
	struct jit_sshsig_hash *h = NULL;
	struct jit_key *k = NULL;
	unsigned char d[JIT_SSHSIG_MAX_DIGEST];
	size_t dlen = 0;
	const char *alg = NULL;

	if (jit_sshsig_verify((const char *)data, size, "file",
	    (const unsigned char *)msg, strlen(msg), &k) == 0)
		jit_key_free(k);
	(void)jit_sshsig_peek_hash_alg((const char *)data, size, &alg);
	if (jit_sshsig_hash_init("sha512", &h) == 0 &&
	    jit_sshsig_hash_update(h, msg, strlen(msg)) == 0 &&
	    jit_sshsig_hash_final(h, d, &dlen) == 0)
		(void)jit_sshsig_verify_blob(data, size, "file", "sha512", d,
		    dlen, NULL);
	jit_sshsig_hash_free(h);
	return 0;
}
