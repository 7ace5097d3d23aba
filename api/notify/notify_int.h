/*
 * notify_int.h - what the files of the notifier share (notify.c: the
 * object, the hook, retry; deliver.c: the delivery threads; format.c:
 * bodies; send.c: HTTP and SMTP through libcurl, signatures).  Not for
 * other modules: they use notify.h.
 */
#ifndef JIT_NOTIFY_INT_H
#define JIT_NOTIFY_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "notify.h"

#define NOTIFY_SECRET_MAX 4096
#define NOTIFY_BACKOFF_CAP 3600        /* seconds */

struct notify_worker {
	struct jit_notify *n;
	size_t ep;                     /* index into n->eps */
	pthread_t thread;
	int started;
};

struct jit_notify {
	const struct jit_notify_endpoint *eps;
	size_t neps;
	const char *public_url;
	struct jit_store *store;
	unsigned char **secrets;       /* per endpoint; NULL = unsigned */
	size_t *secret_len;
	jit_notify_log_fn log;
	void *log_ctx;
	atomic_int stop;
	atomic_int delivering;         /* holds the "notify" job lock: 1,
	                                  0, or -1 before the first try */
	struct notify_worker *workers; /* neps of them once started */
};

/* Log a line "notify: ..." through n's log function (if any). */
void notify_logf(struct jit_notify *n, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- format.c ----------------------------------------------------------- */

/*
 * The payload of a change (notify.h: the event object without "id"),
 * a new object; NULL on ALLOC.  public_url may be NULL.
 */
json_t *notify_payload(const struct jit_lc_event *ev, const char *public_url,
    uint64_t now);

/*
 * What endpoint ep sends for outbox record rec: the HTTP body (json or
 * slack) or, for email, the whole message (headers and text, CRLF line
 * ends).  *out is malloc'd and NUL-terminated, *len its length.  ALLOC,
 * INVALID_ARGUMENT (a record without a payload).
 */
int notify_render(const struct jit_notify_endpoint *ep, const json_t *rec,
    char **out, size_t *len);

/* ---- send.c ------------------------------------------------------------- */

struct notify_result {
	long code;             /* HTTP status or last SMTP reply; 0 = none */
	int permanent;         /* retrying cannot help */
	char error[256];       /* why it failed; "" when delivered */
};

/*
 * Deliver outbox record rec to endpoint i of n once: render, sign, send
 * with the endpoint's timeout.  curl is a libcurl easy handle the caller
 * keeps between attempts (so a connection can be reused), or NULL for a
 * handle of this call's own.  0 when delivered, else HTTP with res saying
 * why; ALLOC.  An attempt is abandoned (HTTP, not permanent) as soon as
 * n->stop is set.
 */
int notify_send(struct jit_notify *n, size_t i, void *curl, const json_t *rec,
    struct notify_result *res);

/* "t=UNIX,v1=HEX": HMAC-SHA256 under key of "UNIX." || body, in out.
 * CRYPTO on an OpenSSL failure. */
#define NOTIFY_SIG_LEN (2 + 20 + 4 + 64 + 1)
int notify_sign(const unsigned char *key, size_t keylen, uint64_t t,
    const char *body, size_t len, char out[NOTIFY_SIG_LEN]);

/* Milliseconds to wait before retry number attempts (>= 1) for an
 * endpoint whose first retry is after backoff seconds: backoff *
 * 2^(attempts-1) capped at NOTIFY_BACKOFF_CAP (or backoff when larger),
 * less a random 0-50%. */
uint64_t notify_backoff_ms(uint64_t backoff, uint64_t attempts);

/* Wall-clock UNIX milliseconds. */
uint64_t notify_now_ms(void);

#endif
