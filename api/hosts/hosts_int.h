/*
 * hosts_int.h - what the files of api/hosts/ share: the object and the
 * store records (hosts.h, "Storage").  Not for other modules.
 *
 *   hosts.c      the object, names, the known_hosts line, listing,
 *                revocation and the KRL's host part
 *   tokens.c     enrollment tokens
 *   challenge.c  renewal challenges
 *   issue.c      enrollment and renewal: the certificates
 */
#ifndef JIT_HOSTS_INT_H
#define JIT_HOSTS_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "auth.h"
#include "hosts.h"

#define HOSTS_COUNT_KEY "hosts.count"
#define HOSTS_REVOKED_KEY "hosts.revoked"
#define HOSTS_KEY_PREFIX "host."
#define HOSTS_TOKEN_KEY_PREFIX "host_token."
#define HOSTS_SECRET_LEN 32
#define HOSTS_NONCE_LEN 16
/* Value keys: "host." + id, "host_token." + 64 hex digits. */
#define HOSTS_VALUE_KEY_MAX 80

/* A challenge that was answered, kept until it expires. */
struct hosts_used {
	unsigned char nonce[HOSTS_NONCE_LEN];
	uint64_t expires;
};

struct jit_hosts {
	struct jit_store *store;
	const struct jit_key *ca;
	jit_signer_fn sign;
	void *sign_ctx;
	uint64_t validity;
	uint64_t clock_skew;
	char *ca_fp;                          /* "SHA256:..." */
	unsigned char secret[HOSTS_SECRET_LEN];  /* challenge MAC key */
	pthread_mutex_t lock;                 /* used, nused, capused */
	struct hosts_used *used;
	size_t nused, capused;
};

/* The record of host id (new reference): NOT_FOUND if absent,
 * STORE_CORRUPT if it is not an object with that "id". */
int hosts__get_host(struct jit_store_txn *t, const char *id, json_t **out);
/* Store host (its "id" names it). */
int hosts__put_host(struct jit_store_txn *t, const json_t *host);

/* The number of hosts ever enrolled ("hosts.count"; 0 when none). */
int hosts__count(struct jit_store_txn *t, uint64_t *n);

/* A string array of 1 to JIT_HOSTS_MAX_PRINCIPALS valid principals as
 * the pointers of *names (n of them, borrowed from arr; free(*names)). */
int hosts__principals(const json_t *arr, const char ***names, size_t *n);

/* Enrollment tokens as a kind of secret (auth.h): "jith_" tokens, ids
 * "ht-", records kept as the store value "host_token." + hex(hash). */
extern const struct jit_secret_kind hosts__token_kind;

/* Check a challenge's form, MAC and expiry at now: 0 and its nonce and
 * end, or FORBIDDEN.  hosts__challenge_use then marks it answered:
 * FORBIDDEN when it already was. */
int hosts__challenge_check(struct jit_hosts *h, const char *challenge,
    uint64_t now, unsigned char nonce[HOSTS_NONCE_LEN], uint64_t *expires);
int hosts__challenge_use(struct jit_hosts *h,
    const unsigned char nonce[HOSTS_NONCE_LEN], uint64_t expires,
    uint64_t now);

/* An RFC 3339 string member as epoch seconds; 0 if absent or bad. */
uint64_t hosts__time(const json_t *o, const char *key);

#endif
