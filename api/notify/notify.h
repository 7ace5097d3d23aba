/*
 * notify.h - telling people about requests: webhooks (JSON or Slack) and
 * email, from a durable outbox in the store.
 *
 * Enqueue.  jit_notify_hook() runs inside the write transaction of every
 * committed change of a request (the lifecycle's hook, lifecycle.h, passed
 * through the API, api.h).  For each configured endpoint that wants the
 * change's event (and the request's role) it adds one outbox entry
 * (store.h, "notification outbox") in that same transaction: a change
 * that is rolled back or fails to commit leaves no entry, and a committed
 * change always has its entries, even if the process dies right after.
 * An email endpoint gets an entry only when someone has an address to
 * send to: on request.create the approvers who may decide on the request
 * (the policy's users.NAME.email), on every other event the requester,
 * unless the requester made the change.  The hook does no I/O beyond the
 * store.
 *
 * Deliver.  jit_notify_start() starts one thread per endpoint.  Each
 * sends its endpoint's queued entries oldest first, one at a time, so an
 * endpoint receives them in the order the changes were committed; an
 * entry waiting for a retry holds back the later ones of its endpoint
 * (other endpoints are not affected).  An attempt has the endpoint's
 * timeout.  HTTP 2xx (or SMTP success) delivers the entry: it is removed.
 * HTTP 4xx other than 408 and 429, and SMTP 5xx, are permanent: the entry
 * fails at once.  Anything else (5xx, timeouts, refused connections) is
 * retried after backoff * 2^(attempts - 1) seconds (at most an hour),
 * of which a random 0 to 50% is taken off (jitter), until retry_for has
 * passed since the change (or since a manual retry): then the entry
 * fails.  A failed entry stays in the store until `jit-ca notify retry
 * ID` queues it again.  A crash after a successful send but before the
 * entry is removed sends it again after the restart: delivery is at least
 * once, and every attempt carries the entry's id as X-Jit-Delivery so
 * receivers can drop duplicates.  Nothing here runs in an API request's
 * thread, so a slow or dead receiver never delays the API.
 *
 * What is sent (docs/CONFIG.md has examples).  format json: the event
 * object {"id", "event", "time", "request", "actor", "comment", "link"},
 * where request is the request object of docs/API.md without its
 * public_key, and link is public_url + "/r/" + the request id (null
 * without public_url).  format slack: {"text": ...}, the same facts in
 * words, with the requester's and approvers' text escaped (&, <, >) so a
 * reason cannot mention anyone or make a link.  email: a text/plain
 * message.  Nothing carries a token, a certificate or a key.  With
 * secret_file, webhook deliveries carry X-Jit-Signature: t=UNIX,v1=HEX,
 * HEX being the HMAC-SHA256 under the file's contents (without a final
 * newline) of "UNIX.BODY", UNIX the time of that attempt.
 *
 * Outbox records (store.h's record, a JSON object) have the members
 *   id          "n-" + 12 base32 characters: the delivery id
 *   event       the audit event name       request  the request id
 *   created_at  UNIX seconds of the change since  start of the retry
 *   payload     the event object without "id"      window (seconds)
 *   to          email: the recipients' addresses
 *   attempts    attempts so far             next_at  UNIX milliseconds
 *   last_error  why the last attempt failed (absent before one failed)
 *   last_at     UNIX seconds of the last attempt
 *
 * Threads: the hook may run on any thread (the store's writer); the
 * other functions are called from one thread (the server's main thread,
 * or the CLI).  Errors are 0 or a negative JIT_ERR_*.
 */
#ifndef JIT_NOTIFY_H
#define JIT_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "notify_config.h"
#include "policy.h"
#include "store.h"

struct jit_lc_event;
struct jit_notify;

/* A line for the server's log ("notify: ..."). */
typedef void (*jit_notify_log_fn)(void *ctx, const char *line);

struct jit_notify_options {
	const struct jit_notify_endpoint *endpoints;  /* borrowed: they */
	size_t nendpoints;                           /* outlive the notifier */
	const char *public_url;       /* borrowed; NULL = no links */
	struct jit_store *store;      /* borrowed; may be NULL for
	                                 jit_notify_send_test() alone */
	jit_notify_log_fn log;        /* may be NULL */
	void *log_ctx;
};

/*
 * New notifier.  Reads every endpoint's secret_file (at most 4 KiB, not
 * empty; one final newline is dropped).  On failure err says which file.
 * Errors: NOT_FOUND, PERMISSION, INVALID_FORMAT (empty or too big), ALLOC.
 */
int jit_notify_new(const struct jit_notify_options *o,
    struct jit_notify **out, char *err, size_t errlen);
/* Stop the threads (jit_notify_stop) and free; secrets are wiped.  NULL
 * is a no-op. */
void jit_notify_free(struct jit_notify *n);

/*
 * The hook: add the outbox entries of change ev (lifecycle.h) in write
 * transaction t, deciding who is concerned under policy p (borrowed).
 * ctx is the struct jit_notify.  Errors: the store's (the change is then
 * rolled back, as lifecycle.h says), ALLOC.
 */
int jit_notify_hook(struct jit_store_txn *t, const struct jit_lc_event *ev,
    const struct jit_policy *p, void *ctx);

/* Start the delivery threads (needs a store).  SYSTEM if a thread could
 * not be started (those started are stopped again). */
int jit_notify_start(struct jit_notify *n);
/* Stop them: an attempt in progress is abandoned (its entry stays
 * queued, the attempt not counted).  Safe when not started. */
void jit_notify_stop(struct jit_notify *n);

/*
 * Send a test event ("notify.test", actor, no request) to endpoint name
 * now, in this thread, once, without the outbox; an email endpoint sends
 * it to address to (required for them, ignored otherwise).  0 when it
 * was delivered; otherwise why says what the endpoint answered.  Errors:
 * NOT_FOUND (no such endpoint), INVALID_ARGUMENT (no to for email),
 * HTTP (not delivered), ALLOC.
 */
int jit_notify_send_test(struct jit_notify *n, const char *name,
    const char *actor, const char *to, char *why, size_t whylen);

/*
 * Queue outbox entry id (its "id") again, queued or failed: due now, no
 * attempts, a new retry window from now.  NOT_FOUND if no entry has that
 * id; the store's errors.  Works on a store another process serves from:
 * its delivery thread picks the entry up within a second.
 */
int jit_notify_retry(struct jit_store *s, const char *id);

#endif
