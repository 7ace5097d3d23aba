/* res_krl.c - GET /v1/krl: the KRL of revoked, unexpired user and host
 * certificates (revocation.h), public like the CA keys. */
#include "api_int.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "revocation.h"

void
res_krl(struct call *c)
{
	struct jit_buf b = JIT_BUF_INIT;
	char *body;
	int r;

	if ((r = jit_revocation_krl(c->api->store, c->api->ca,
	    c->api->host_ca, c->now, c->api->clock_skew, &b, NULL)) != 0) {
		reply_failure(c, r, "cannot build the KRL");
		return;
	}
	/* The body is binary: its length, not strlen, is its size. */
	if ((body = malloc(jit_buf_len(&b) + 1)) == NULL) {
		jit_buf_release(&b);
		reply_error(c, 500, NULL, "out of memory");
		return;
	}
	memcpy(body, jit_buf_ptr(&b), jit_buf_len(&b));
	body[jit_buf_len(&b)] = '\0';
	reply_body(c, 200, body, jit_buf_len(&b), "application/octet-stream");
	jit_buf_release(&b);
}
