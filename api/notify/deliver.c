/*
 * deliver.c - the delivery threads (notify.h, "Deliver"): one per
 * endpoint, each sending its endpoint's oldest queued entry until there is
 * none, then waiting for the store to change.
 *
 * Several servers on one PostgreSQL store share its outbox: only the one
 * holding the store's "notify" job lock (jit_store_job_lock) delivers,
 * so an entry is sent by one server at a time; the others look for the
 * lock every LOCK_RETRY_MS and take over when its holder is gone.  With
 * LMDB the lock is always this server's.
 */
#include "notify_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "err.h"
#include "util.h"

/* The longest a thread sleeps without looking at the store and its stop
 * flag: commits by this process wake it at once, those of another
 * process (jit-ca notify retry) are seen within this. */
#define POLL_MS 250
/* How long to wait after an attempt whose outcome could not be stored. */
#define RECORD_FAILED_PAUSE_MS 2000
/* How often a server without the notify job lock tries to take it. */
#define LOCK_RETRY_MS 1000
#define NOTIFY_JOB "notify"

struct first_ctx {
	const char *endpoint;
	uint64_t seq;
	json_t *rec;
};

static int
first_fn(struct jit_store_txn *t, void *vctx)
{
	struct first_ctx *f = vctx;

	return jit_store_outbox_first(t, f->endpoint, &f->seq, &f->rec);
}

struct outcome_ctx {
	const char *endpoint;
	uint64_t seq;
	json_t *rec;          /* the entry after the attempt */
	int delivered;
	enum jit_outbox_state st;
};

static int
outcome_fn(struct jit_store_txn *t, void *vctx)
{
	struct outcome_ctx *o = vctx;
	int r;

	if (o->delivered)
		r = jit_store_outbox_done(t, o->endpoint, o->seq);
	else
		r = jit_store_outbox_put(t, o->endpoint, o->seq, o->st,
		    o->rec);
	/* Gone already: someone else settled it (another server that
	 * held the job lock meanwhile). */
	return r == JIT_ERR_NOT_FOUND ? 0 : r;
}

static uint64_t
rec_u64(const json_t *rec, const char *key)
{
	json_int_t v = json_integer_value(json_object_get(rec, key));

	return v > 0 ? (uint64_t)v : 0;
}

/* Record the result of one attempt at entry (ep, seq) and log it; the
 * store's error when it could not be recorded. */
static int
settle(struct jit_notify *n, size_t i, uint64_t seq, json_t *rec, int sent,
    const struct notify_result *res)
{
	const struct jit_notify_endpoint *ep = &n->eps[i];
	struct outcome_ctx o = { ep->name, seq, rec, sent == 0,
	    JIT_OUTBOX_QUEUED };
	const char *id = json_string_value(json_object_get(rec, "id"));
	const char *what = json_string_value(json_object_get(rec, "event"));
	uint64_t attempts = rec_u64(rec, "attempts") + 1, now = jit_now(),
	    delay = 0;
	int r;

	if (json_object_set_new(rec, "attempts",
	    json_integer((json_int_t)attempts)) != 0 ||
	    json_object_set_new(rec, "last_at",
	    json_integer((json_int_t)now)) != 0)
		goto oom;
	if (sent != 0) {
		if (json_object_set_new(rec, "last_error",
		    json_string(res->error)) != 0)
			goto oom;
		if (res->permanent ||
		    now >= rec_u64(rec, "since") + ep->retry_for) {
			o.st = JIT_OUTBOX_FAILED;
		} else {
			delay = notify_backoff_ms(ep->backoff, attempts);
			if (json_object_set_new(rec, "next_at", json_integer(
			    (json_int_t)(notify_now_ms() + delay))) != 0)
				goto oom;
		}
	}
	if ((r = jit_store_write(n->store, outcome_fn, &o)) != 0) {
		notify_logf(n, "%s: %s: cannot record the attempt: %s",
		    ep->name, id, jit_err(r));
		return r;
	}
	if (sent == 0 && attempts > 1)
		notify_logf(n, "%s: %s (%s) delivered at attempt %llu",
		    ep->name, id, what, (unsigned long long)attempts);
	else if (sent != 0 && o.st == JIT_OUTBOX_FAILED)
		notify_logf(n, "%s: %s (%s) failed after %llu attempt%s: %s; "
		    "given up (jit-ca notify list --failed)", ep->name, id,
		    what, (unsigned long long)attempts, attempts == 1 ? "" : "s",
		    res->error);
	else if (sent != 0)
		notify_logf(n, "%s: %s (%s) attempt %llu failed: %s; next in "
		    "%llu.%01llus", ep->name, id, what,
		    (unsigned long long)attempts, res->error,
		    (unsigned long long)(delay / 1000),
		    (unsigned long long)(delay % 1000 / 100));
	return 0;
oom:
	notify_logf(n, "%s: %s: out of memory", ep->name, id);
	return JIT_ERR_ALLOC;
}

/* 1 if this server is the one that delivers now (taking the job lock if
 * it is free); a change is logged once, on a store shared by several
 * servers. */
static int
may_deliver(struct jit_notify *n)
{
	int mine = jit_store_job_lock(n->store, NOTIFY_JOB);

	if (mine < 0)
		return 0;       /* the database is away: nothing to say */
	if (atomic_exchange(&n->delivering, mine) != mine &&
	    strcmp(jit_store_backend(n->store), "lmdb") != 0)
		notify_logf(n, mine ? "this server delivers the notifications "
		    "(job lock taken)" : "another server delivers the "
		    "notifications");
	return mine;
}

/* Sleep ms milliseconds, or less when the notifier stops. */
static void
pause_ms(struct jit_notify *n, unsigned ms)
{
	struct timespec ts = { 0, POLL_MS * 1000000L };

	for (unsigned slept = 0; slept < ms && !atomic_load(&n->stop);
	    slept += POLL_MS)
		nanosleep(&ts, NULL);
}

static void *
worker_main(void *arg)
{
	struct notify_worker *w = arg;
	struct jit_notify *n = w->n;
	const struct jit_notify_endpoint *ep = &n->eps[w->ep];
	struct notify_result res;
	struct first_ctx f;
	uint64_t v, now, next;
	int r, last_err = 0;
	/* One handle per thread: keep-alive connections to the endpoint. */
	CURL *curl = curl_easy_init();

	while (!atomic_load(&n->stop)) {
		if (!may_deliver(n)) {
			/* Another server delivers, or the database cannot
			 * be reached (this is tried again until it can). */
			pause_ms(n, LOCK_RETRY_MS);
			continue;
		}
		v = jit_store_version(n->store);
		memset(&f, 0, sizeof(f));
		f.endpoint = ep->name;
		r = jit_store_read(n->store, first_fn, &f);
		if (r != 0) {
			if (r != JIT_ERR_NOT_FOUND && r != last_err)
				notify_logf(n, "%s: cannot read the outbox: %s",
				    ep->name, jit_err(r));
			last_err = r == JIT_ERR_NOT_FOUND ? 0 : r;
			jit_store_wait_change(n->store, NULL, v, POLL_MS);
			continue;
		}
		last_err = 0;
		now = notify_now_ms();
		next = rec_u64(f.rec, "next_at");
		if (next > now) {
			json_decref(f.rec);
			jit_store_wait_change(n->store, NULL, v,
			    next - now < POLL_MS ? (int)(next - now) : POLL_MS);
			continue;
		}
		r = notify_send(n, w->ep, curl, f.rec, &res);
		/* An attempt cut short by the shutdown does not count.  When
		 * the outcome cannot be stored (a full disk), the entry is
		 * still queued as it was: wait before sending it again. */
		if (!atomic_load(&n->stop) &&
		    settle(n, w->ep, f.seq, f.rec, r, &res) != 0)
			pause_ms(n, RECORD_FAILED_PAUSE_MS);
		json_decref(f.rec);
	}
	curl_easy_cleanup(curl);
	return NULL;
}

int
jit_notify_start(struct jit_notify *n)
{
	size_t i;

	if (n == NULL || n->store == NULL || n->workers != NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	if (n->neps == 0)
		return 0;
	/* Before any thread uses libcurl. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return JIT_ERR_SYSTEM;
	if ((n->workers = calloc(n->neps, sizeof(*n->workers))) == NULL)
		return JIT_ERR_ALLOC;
	atomic_store(&n->stop, 0);
	atomic_store(&n->delivering, -1);
	for (i = 0; i < n->neps; i++) {
		n->workers[i].n = n;
		n->workers[i].ep = i;
		if (pthread_create(&n->workers[i].thread, NULL, worker_main,
		    &n->workers[i]) != 0) {
			jit_notify_stop(n);
			return JIT_ERR_SYSTEM;
		}
		n->workers[i].started = 1;
	}
	return 0;
}

void
jit_notify_stop(struct jit_notify *n)
{
	if (n == NULL || n->workers == NULL)
		return;
	atomic_store(&n->stop, 1);
	for (size_t i = 0; i < n->neps; i++)
		if (n->workers[i].started)
			pthread_join(n->workers[i].thread, NULL);
	free(n->workers);
	n->workers = NULL;
	curl_global_cleanup();
}
