/*
 * challenge.c - see hosts.h: renewal challenges.
 *
 * A challenge is hex(nonce || be64(expires) || HMAC-SHA-256(secret,
 * nonce || be64(expires))), the secret being random per object.  So
 * the server stores nothing when it hands one out, and anybody may ask
 * for one without filling memory; only challenges that were answered
 * with a valid host signature are remembered (until they expire), so
 * each is accepted once.
 */
#include "hosts_int.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "err.h"
#include "util.h"

#define MAC_LEN crypto_auth_hmacsha256_BYTES          /* 32 */
#define RAW_LEN (HOSTS_NONCE_LEN + 8 + MAC_LEN)       /* 56 */
/* Answered challenges remembered at most; beyond, renewals wait. */
#define MAX_USED 65536

#if JIT_HOSTS_CHALLENGE_LEN != 2 * RAW_LEN + 1
#error "JIT_HOSTS_CHALLENGE_LEN does not fit the challenge"
#endif

static void
put_be64(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--) {
		p[i] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
}

static uint64_t
get_be64(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

static void
mac(const struct jit_hosts *h, const unsigned char *msg,
    unsigned char out[MAC_LEN])
{
	crypto_auth_hmacsha256(out, msg, HOSTS_NONCE_LEN + 8, h->secret);
}

int
jit_hosts_challenge(struct jit_hosts *h, uint64_t now,
    char out[JIT_HOSTS_CHALLENGE_LEN], uint64_t *expires)
{
	unsigned char raw[RAW_LEN];
	uint64_t end = now + JIT_HOSTS_CHALLENGE_TTL;

	if (expires != NULL)
		*expires = 0;
	out[0] = '\0';
	if (h == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	randombytes_buf(raw, HOSTS_NONCE_LEN);
	put_be64(raw + HOSTS_NONCE_LEN, end);
	mac(h, raw, raw + HOSTS_NONCE_LEN + 8);
	jit_hex(raw, RAW_LEN, out);
	if (expires != NULL)
		*expires = end;
	return 0;
}

static int
unhex(const char *s, unsigned char *out, size_t n)
{
	size_t i;
	int hi, lo;

	for (i = 0; i < n; i++) {
		hi = s[2 * i];
		lo = s[2 * i + 1];
		hi = hi >= '0' && hi <= '9' ? hi - '0' :
		    hi >= 'a' && hi <= 'f' ? hi - 'a' + 10 : -1;
		lo = lo >= '0' && lo <= '9' ? lo - '0' :
		    lo >= 'a' && lo <= 'f' ? lo - 'a' + 10 : -1;
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

int
hosts__challenge_check(struct jit_hosts *h, const char *challenge,
    uint64_t now, unsigned char nonce[HOSTS_NONCE_LEN], uint64_t *expires)
{
	unsigned char raw[RAW_LEN], want[MAC_LEN];
	int ok;

	*expires = 0;
	if (challenge == NULL ||
	    strlen(challenge) != JIT_HOSTS_CHALLENGE_LEN - 1 ||
	    unhex(challenge, raw, RAW_LEN) != 0)
		return JIT_ERR_FORBIDDEN;
	mac(h, raw, want);
	ok = sodium_memcmp(want, raw + HOSTS_NONCE_LEN + 8, MAC_LEN) == 0;
	if (!ok || now >= get_be64(raw + HOSTS_NONCE_LEN))
		return JIT_ERR_FORBIDDEN;
	memcpy(nonce, raw, HOSTS_NONCE_LEN);
	*expires = get_be64(raw + HOSTS_NONCE_LEN);
	return 0;
}

int
hosts__challenge_use(struct jit_hosts *h,
    const unsigned char nonce[HOSTS_NONCE_LEN], uint64_t expires,
    uint64_t now)
{
	struct hosts_used *u;
	size_t i, keep = 0, ncap;
	int r = JIT_ERR_INTERNAL;

	pthread_mutex_lock(&h->lock);
	for (i = 0; i < h->nused; i++) {
		if (h->used[i].expires > now &&
		    memcmp(h->used[i].nonce, nonce, HOSTS_NONCE_LEN) == 0) {
			r = JIT_ERR_FORBIDDEN;
			goto out;
		}
	}
	/* Forget the expired ones: their date refuses them anyway. */
	for (i = 0; i < h->nused; i++)
		if (h->used[i].expires > now)
			h->used[keep++] = h->used[i];
	h->nused = keep;
	if (h->nused == MAX_USED) {
		r = JIT_ERR_STORE_FULL;
		goto out;
	}
	if (h->nused == h->capused) {
		ncap = h->capused != 0 ? h->capused * 2 : 16;
		if ((u = realloc(h->used, ncap * sizeof(*u))) == NULL) {
			r = JIT_ERR_ALLOC;
			goto out;
		}
		h->used = u;
		h->capused = ncap;
	}
	memcpy(h->used[h->nused].nonce, nonce, HOSTS_NONCE_LEN);
	h->used[h->nused].expires = expires;
	h->nused++;
	r = 0;
out:
	pthread_mutex_unlock(&h->lock);
	return r;
}
