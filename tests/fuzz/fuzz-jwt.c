/*
 * fuzz-jwt.c - ID token verification (api/oidc/): an input is a key set
 * (JSON, one line) and, after the newline, a compact JWT, which is
 * parsed, verified with that key set (so the JWK decoders run on every
 * key it picks) and checked as an ID token for issuer
 * https://idp.example, client jit-cli and nonce n-1.  The seeds are signed
 * by throwaway keys; see corpus/jwt/.make-seeds.sh.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oidc_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const aud[] = { "jit-cli" };
	const uint8_t *nl = memchr(data, '\n', size);
	struct jit_jwt_expect e = { "https://idp.example", aud, 1, "n-1",
	    1900000000, 60 };
	struct jit_jwt t;
	json_t *jwks;
	char *tok, why[256];

	memset(&t, 0, sizeof(t));
	if (nl == NULL)
		return 0;
	jwks = json_loadb((const char *)data, (size_t)(nl - data),
	    JSON_REJECT_DUPLICATES, NULL);
	tok = strndup((const char *)nl + 1, size - (size_t)(nl + 1 - data));
	if (tok != NULL && jit_jwt_parse(tok, &t, why, sizeof(why)) == 0 &&
	    jit_jwt_verify(&t, jwks, why, sizeof(why)) == 0)
		(void)jit_jwt_check_claims(&t, &e, why, sizeof(why));
	jit_jwt_release(&t);
	free(tok);
	json_decref(jwks);
	return 0;
}
