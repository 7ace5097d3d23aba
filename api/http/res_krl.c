/* res_krl.c - GET /v1/krl: the KRL of revoked, unexpired user and host
 * certificates (revocation.h), public like the CA keys.  Every host polls
 * it, so it is served from a cache (cache.h): built once per change of
 * the store, or when its first listed certificate drops out, by one
 * caller while the others wait. */
#include "api_int.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "revocation.h"

#define KRL_RELEASE_PAGES 256     /* listed serials that make a build
                                     drop map pages */

int
res_krl_build(void *ctx, uint64_t now, struct jit_buf *out,
    uint64_t *expires)
{
	struct jit_api *api = ctx;
	struct jit_revocation_info info;
	int r;

	if ((r = jit_revocation_krl(api->store, api->ca, api->host_ca,
	    now, api->clock_skew, out, &info)) != 0)
		return r;
	*expires = info.valid_until;
	/* Each listed grant was read from a page somewhere in the map (and
	 * the kernel maps its neighbours with it): as a long list does
	 * (res_requests.c), drop them from the resident set now rather
	 * than at the next sweep. */
	if (info.listed >= KRL_RELEASE_PAGES)
		jit_store_release_pages(api->store);
	return 0;
}

void
res_krl(struct call *c)
{
	char *body = NULL;
	size_t len = 0;
	int r;

	if ((r = jit_cache_get(c->api->krl, c->now, &body, &len)) != 0) {
		reply_failure(c, r, "cannot build the KRL");
		return;
	}
	/* The body is binary: its length, not strlen, is its size. */
	reply_body(c, 200, body, len, "application/octet-stream");
}
