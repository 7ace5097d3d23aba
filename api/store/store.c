/*
 * store.c - see store.h: opening a store on its backend, the writer
 * thread that group-commits write closures, read closures, change
 * notification, statistics, and every data function of store.h as an
 * argument check followed by the backend's operation (store_int.h).
 */
#include "store_int.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "util.h"

#define DEFAULT_MAX_BATCH 4096

/* One queued jit_store_write() call; lives on the caller's stack. */
struct jit_store_wreq {
	jit_store_write_fn fn;
	void *ctx;
	int result;
	sem_t *done;          /* the caller's (wreq_sem), posted once result
	                         is final */
	struct jit_store_wreq *next;  /* guarded by the store's qmu */
};

/*
 * The semaphore a thread waits on for its writes: one per thread, made
 * on its first write and never destroyed (a glibc semaphore holds no
 * resource), so the writer's sem_post may still touch it after the
 * caller returned.  A post is one futex wake when the caller sleeps; the
 * mutex and condition variable this replaced cost a second wake (and a
 * context switch) whenever the woken caller found the mutex still held.
 * NULL if sem_init failed.
 */
static sem_t *
wreq_sem(void)
{
	static _Thread_local sem_t sem;
	static _Thread_local int ready;

	if (!ready && sem_init(&sem, 0, 0) == 0)
		ready = 1;
	return ready ? &sem : NULL;
}

/* ---- opening and closing ------------------------------------------------- */

int
jit_store_is_url(const char *where)
{
	return where != NULL && (strncmp(where, "postgresql://", 13) == 0 ||
	    strncmp(where, "postgres://", 11) == 0);
}

/* The locks and condition variables of s. */
static void
sync_init(struct jit_store *s)
{
	pthread_condattr_t ca;

	/* Wait deadlines use the monotonic clock so a wall-clock step does
	 * not stretch or cut a long-poll. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&s->qmu, NULL);
	pthread_cond_init(&s->qcv, NULL);
	pthread_mutex_init(&s->vmu, NULL);
	pthread_mutex_init(&s->smu, NULL);
	pthread_cond_init(&s->any_cv, &ca);
	for (int i = 0; i < NWAKECV; i++)
		pthread_cond_init(&s->slot_cv[i], &ca);
	pthread_condattr_destroy(&ca);
}

static void
sync_destroy(struct jit_store *s)
{
	pthread_mutex_destroy(&s->qmu);
	pthread_cond_destroy(&s->qcv);
	pthread_mutex_destroy(&s->vmu);
	pthread_mutex_destroy(&s->smu);
	pthread_cond_destroy(&s->any_cv);
	for (int i = 0; i < NWAKECV; i++)
		pthread_cond_destroy(&s->slot_cv[i]);
}

static void *writer_main(void *arg);

int
jit_store_open(const char *dir, unsigned flags, struct jit_store **out)
{
	struct jit_store_options o = { 0 };

	o.flags = flags;
	return jit_store_open_opts(dir, &o, out);
}

int
jit_store_open_opts(const char *dir, const struct jit_store_options *opt,
    struct jit_store **out)
{
	struct jit_store *s = NULL;
	const char *url;
	int r = JIT_ERR_INTERNAL;

	if (out != NULL)
		*out = NULL;
	if (opt != NULL && opt->err != NULL && opt->errlen > 0)
		opt->err[0] = '\0';
	url = opt != NULL && opt->url != NULL ? opt->url :
	    jit_store_is_url(dir) ? dir : NULL;
	if ((dir == NULL && url == NULL) || opt == NULL || out == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return JIT_ERR_ALLOC;
	s->flags = opt->flags;
	s->max_batch = opt->max_batch ? opt->max_batch : DEFAULT_MAX_BATCH;
	sync_init(s);
	r = url != NULL ? jit_pg_open(s, url, opt) :
	    jit_lmdb_open(s, dir, opt);
	if (r != 0)
		goto fail;
	if (!(s->flags & JIT_STORE_READONLY)) {
		if (pthread_create(&s->writer, NULL, writer_main, s) != 0) {
			s->ops->close(s);
			r = JIT_ERR_SYSTEM;
			goto fail;
		}
		s->writer_started = 1;
	}
	*out = s;
	return 0;
fail:
	sync_destroy(s);
	free(s);
	return r;
}

void
jit_store_close(struct jit_store *s)
{
	if (s == NULL)
		return;
	if (s->writer_started) {
		pthread_mutex_lock(&s->qmu);
		s->stopping = 1;
		pthread_cond_signal(&s->qcv);
		pthread_mutex_unlock(&s->qmu);
		pthread_join(s->writer, NULL);
	}
	s->ops->close(s);
	sync_destroy(s);
	free(s);
}

const char *
jit_store_backend(const struct jit_store *s)
{
	return s != NULL ? s->ops->name : "";
}

/* ---- the writer thread (group commit) ------------------------------------ */

void
jit_store__bump(struct jit_store *s, const unsigned char slots[NSLOTS / 8])
{
	unsigned changed[NSLOTS];
	size_t n = 0;

	pthread_mutex_lock(&s->vmu);
	s->version++;
	for (unsigned i = 0; i < NSLOTS; i++) {
		if (slots != NULL && slots[i / 8] == 0) {
			i += 7;  /* a whole byte without a change */
			continue;
		}
		if (slots != NULL && !(slots[i / 8] & (1u << (i % 8))))
			continue;
		s->slot_version[i] = s->version;
		pthread_cond_broadcast(&s->slot_cv[i % NWAKECV]);
		changed[n++] = i;
	}
	pthread_cond_broadcast(&s->any_cv);
	/* Under vmu, so that clearing the hook waits for a call in
	 * progress (store.h). */
	if (s->change_fn != NULL && n > 0)
		s->change_fn(s->change_ctx, changed, n);
	pthread_mutex_unlock(&s->vmu);
}

/*
 * Run one batch: one transaction, each closure inside its own nested
 * part of it (a closure that fails is undone alone), one commit.  The
 * backend says how: LMDB nests transactions, PostgreSQL uses savepoints.
 */
static void
run_batch(struct jit_store *s, struct jit_store_wreq *batch, size_t n)
{
	unsigned char slots[NSLOTS / 8] = { 0 };
	struct jit_store_wreq *w;
	size_t ok = 0, failed = 0;
	int rc, r, other = 0;

	rc = s->ops->batch_begin(s);
	for (w = batch; w != NULL; w = w->next) {
		struct jit_store_txn t = { 0 };

		if (rc != 0) {
			w->result = rc;
			failed++;
			continue;
		}
		t.s = s;
		t.write = 1;
		if ((r = s->ops->closure_begin(s, &t)) == 0)
			r = s->ops->closure_end(&t, w->fn(&t, w->ctx));
		w->result = r;
		if (r == 0) {
			ok++;
			for (size_t i = 0; i < sizeof(slots); i++)
				slots[i] |= t.slots[i];
			other |= t.other;
		} else {
			failed++;
		}
	}
	if (rc == 0) {
		r = s->ops->batch_end(s, ok > 0, slots, other);
		if (r != 0 && ok > 0) {
			for (w = batch; w != NULL; w = w->next)
				if (w->result == 0)
					w->result = r;
			failed += ok;
			ok = 0;
		}
	}

	/* Publish the change before releasing callers, so a caller that
	 * reads the version afterwards already sees its own commit. */
	pthread_mutex_lock(&s->vmu);
	s->stats.writes += n;
	s->stats.writes_failed += failed;
	if (n > s->stats.max_batch)
		s->stats.max_batch = n;
	if (ok > 0)
		s->stats.commits++;
	pthread_mutex_unlock(&s->vmu);
	if (ok > 0)
		jit_store__bump(s, slots);
}

static void *
writer_main(void *arg)
{
	struct jit_store *s = arg;
	struct jit_store_wreq *batch, *last, *w;
	size_t n;

	pthread_mutex_lock(&s->qmu);
	for (;;) {
		while (s->qhead == NULL && !s->stopping)
			pthread_cond_wait(&s->qcv, &s->qmu);
		if (s->qhead == NULL)
			break;  /* stopping and drained */
		batch = last = s->qhead;
		n = 1;
		while (last->next != NULL && n < s->max_batch) {
			last = last->next;
			n++;
		}
		s->qhead = last->next;
		if (s->qhead == NULL)
			s->qtail = NULL;
		last->next = NULL;
		pthread_mutex_unlock(&s->qmu);

		run_batch(s, batch, n);

		/* Wake each caller through its own semaphore, so callers
		 * do not pile up on the queue lock while new ones
		 * enqueue. */
		for (w = batch; w != NULL; ) {
			struct jit_store_wreq *next = w->next;

			/* Once posted the caller may return and its stack
			 * frame (w) vanish: read next first. */
			sem_post(w->done);
			w = next;
		}
		pthread_mutex_lock(&s->qmu);
	}
	pthread_mutex_unlock(&s->qmu);
	return NULL;
}

static int
on_writer_thread(struct jit_store *s)
{
	return s->writer_started && pthread_equal(pthread_self(), s->writer);
}

int
jit_store_write(struct jit_store *s, jit_store_write_fn fn, void *ctx)
{
	struct jit_store_wreq w;
	int first;

	if (s == NULL || fn == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	if (s->flags & JIT_STORE_READONLY)
		return JIT_ERR_PERMISSION;
	if (on_writer_thread(s))
		return JIT_ERR_INTERNAL;  /* nested write would deadlock */
	memset(&w, 0, sizeof(w));
	w.fn = fn;
	w.ctx = ctx;
	if ((w.done = wreq_sem()) == NULL)
		return JIT_ERR_STORE;
	pthread_mutex_lock(&s->qmu);
	if (s->stopping) {
		pthread_mutex_unlock(&s->qmu);
		w.result = JIT_ERR_STORE;
		goto out;
	}
	/* The writer waits only on an empty queue; it is signalled after
	 * the unlock, so it does not wake to find qmu held. */
	first = s->qtail == NULL;
	if (s->qtail != NULL)
		s->qtail->next = &w;
	else
		s->qhead = &w;
	s->qtail = &w;
	pthread_mutex_unlock(&s->qmu);
	if (first)
		pthread_cond_signal(&s->qcv);
	while (sem_wait(w.done) != 0)
		;             /* EINTR */
out:
	return w.result;
}

int
jit_store_read(struct jit_store *s, jit_store_read_fn fn, void *ctx)
{
	struct jit_store_txn t = { 0 };
	int r;

	if (s == NULL || fn == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	if (on_writer_thread(s))
		return JIT_ERR_INTERNAL;
	t.s = s;
	if ((r = s->ops->read_begin(s, &t)) != 0)
		return r;
	r = fn(&t, ctx);
	s->ops->read_end(&t);
	return r;
}

int
jit_store_job_lock(struct jit_store *s, const char *job)
{
	if (s == NULL || jit_store__check_name(job, MAX_NAME) != 0)
		return JIT_ERR_INVALID_ARGUMENT;
	return s->ops->job_lock(s, job);
}

/* ---- change notification ------------------------------------------------- */

uint64_t
jit_store_version(struct jit_store *s)
{
	uint64_t v;

	pthread_mutex_lock(&s->vmu);
	v = s->version;
	pthread_mutex_unlock(&s->vmu);
	return v;
}

int
jit_store_wait_change(struct jit_store *s, const char *id, uint64_t since,
    int timeout_ms)
{
	struct timespec dl;
	pthread_cond_t *cv;
	uint64_t *ver;
	int changed;

	if (id != NULL) {
		unsigned slot = jit_store__slot_of(id);

		ver = &s->slot_version[slot];
		cv = &s->slot_cv[slot % NWAKECV];
	} else {
		ver = &s->version;
		cv = &s->any_cv;
	}
	if (timeout_ms < 0)
		timeout_ms = 0;
	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += timeout_ms / 1000;
	dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&s->vmu);
	while (!(changed = *ver > since)) {
		if (pthread_cond_timedwait(cv, &s->vmu, &dl) == ETIMEDOUT) {
			changed = *ver > since;
			break;
		}
	}
	pthread_mutex_unlock(&s->vmu);
	return changed;
}

uint64_t
jit_store_commit_id(struct jit_store *s)
{
	return s != NULL ? s->ops->commit_id(s) : 0;
}

unsigned
jit_store_wake_slot(const char *id)
{
	return jit_store__slot_of(id);
}

void
jit_store_set_change_hook(struct jit_store *s, jit_store_change_fn fn,
    void *ctx)
{
	pthread_mutex_lock(&s->vmu);
	s->change_fn = fn;
	s->change_ctx = ctx;
	pthread_mutex_unlock(&s->vmu);
}

void
jit_store_get_stats(struct jit_store *s, struct jit_store_stats *st)
{
	pthread_mutex_lock(&s->vmu);
	*st = s->stats;
	st->version = s->version;
	pthread_mutex_unlock(&s->vmu);
}

void
jit_store_release_pages(struct jit_store *s)
{
	if (s != NULL)
		s->ops->release_pages(s);
}

/* ---- requests ------------------------------------------------------------ */

#define OPS(t) ((t)->s->ops)

/* A store transaction handed in by the caller: INVALID_ARGUMENT if t is
 * NULL (every operation needs one). */
static int
need_txn(struct jit_store_txn *t)
{
	return t == NULL || t->s == NULL ? JIT_ERR_INVALID_ARGUMENT : 0;
}

int
jit_store_create_request(struct jit_store_txn *t, json_t *req,
    uint64_t deadline, uint64_t *seq)
{
	return jit_store_create_request_encoded(t, req, NULL, 0, deadline,
	    seq);
}

/* Set a fresh random "id" in req. */
static int
assign_id(json_t *req)
{
	char nid[JIT_REQUEST_ID_LEN];
	int r;

	if ((r = jit_store_new_request_id(nid)) != 0)
		return r;
	return json_object_set_new(req, "id", json_string(nid)) != 0 ?
	    JIT_ERR_ALLOC : 0;
}

/* rq for request req (checked) and its JSON js (jl bytes). */
static int
request_row(const json_t *req, const char *js, size_t jl, uint64_t deadline,
    struct jit_store_raw_request *rq)
{
	int r;

	memset(rq, 0, sizeof(*rq));
	if ((r = jit_store__request_fields(req, &rq->id, &rq->state,
	    &rq->user)) != 0)
		return r;
	jit_store__request_keys(req, &rq->role, &rq->not_after);
	rq->deadline = deadline;
	rq->js = js;
	rq->jl = jl;
	return 0;
}

int
jit_store_create_request_encoded(struct jit_store_txn *t, json_t *req,
    const char *js, size_t jl, uint64_t deadline, uint64_t *seq)
{
	struct jit_store_raw_request rq;
	char *own = NULL;
	int r = JIT_ERR_INTERNAL, fresh = 0;

	if (seq != NULL)
		*seq = 0;
	if ((r = jit_store__need_write(t)) != 0)
		return r;
	if (!json_is_object(req))
		return JIT_ERR_INVALID_ARGUMENT;
	if (json_object_get(req, "id") == NULL) {
		if (js != NULL)
			return JIT_ERR_INVALID_ARGUMENT;  /* js lacks the id */
		fresh = 1;
	}
	/* 60 random bits: a clash is all but impossible, but a clash must
	 * not overwrite (the backend refuses it), so a fresh id is drawn
	 * again; a caller's own id that exists is the caller's CONFLICT. */
	for (int tries = 0;; tries++) {
		if (tries == 8) {
			r = JIT_ERR_INTERNAL;
			break;
		}
		if (fresh && (r = assign_id(req)) != 0)
			break;
		if (js == NULL || fresh) {
			free(own);
			own = NULL;
			if ((r = jit_store__dump_json(req, 0, &own, &jl)) != 0)
				break;
			js = own;
		}
		if ((r = request_row(req, js, jl, deadline, &rq)) != 0)
			break;
		r = OPS(t)->create_request(t, &rq, seq);
		if (r != JIT_ERR_CONFLICT || !fresh)
			break;
	}
	if (r == 0)
		jit_store__mark_changed(t, rq.id);
	free(own);
	return r;
}

int
jit_store_put_request(struct jit_store_txn *t, const json_t *req,
    uint64_t deadline)
{
	return jit_store_put_request_encoded(t, req, NULL, 0, deadline);
}

int
jit_store_put_request_encoded(struct jit_store_txn *t, const json_t *req,
    const char *js, size_t jl, uint64_t deadline)
{
	struct jit_store_raw_request rq;
	char *own = NULL;
	int r;

	if ((r = jit_store__need_write(t)) != 0)
		return r;
	if ((r = request_row(req, js, jl, deadline, &rq)) != 0)
		return r;
	if (js == NULL) {
		if ((r = jit_store__dump_json(req, 0, &own, &rq.jl)) != 0)
			return r;
		rq.js = own;
	}
	r = OPS(t)->put_request(t, &rq);
	if (r == 0)
		jit_store__mark_changed(t, rq.id);
	free(own);
	return r;
}

int
jit_store_get_request(struct jit_store_txn *t, const char *id, json_t **out,
    uint64_t *seq)
{
	if (out != NULL)
		*out = NULL;
	if (seq != NULL)
		*seq = 0;
	if (out == NULL || need_txn(t) != 0 ||
	    jit_store__check_name(id, MAX_ID) != 0)
		return JIT_ERR_INVALID_ARGUMENT;
	return OPS(t)->get_request(t, id, out, seq, NULL, NULL);
}

int
jit_store_get_request_raw(struct jit_store_txn *t, const char *id,
    json_t **out, void **raw, size_t *rawlen)
{
	if (out != NULL)
		*out = NULL;
	if (raw != NULL)
		*raw = NULL;
	if (rawlen != NULL)
		*rawlen = 0;
	if (out == NULL || raw == NULL || rawlen == NULL ||
	    need_txn(t) != 0 || jit_store__check_name(id, MAX_ID) != 0)
		return JIT_ERR_INVALID_ARGUMENT;
	return OPS(t)->get_request(t, id, out, NULL, raw, rawlen);
}

int
jit_store_request_unchanged(struct jit_store_txn *t, const char *id,
    const void *raw, size_t rawlen)
{
	if (raw == NULL || need_txn(t) != 0 ||
	    jit_store__check_name(id, MAX_ID) != 0)
		return JIT_ERR_INVALID_ARGUMENT;
	return OPS(t)->request_unchanged(t, id, raw, rawlen);
}

struct load_ctx {
	const char *id;
	json_t *out;
};

static int
load_cb(struct jit_store_txn *t, void *ctx)
{
	struct load_ctx *c = ctx;

	return jit_store_get_request(t, c->id, &c->out, NULL);
}

int
jit_store_load_request(struct jit_store *s, const char *id, json_t **out)
{
	struct load_ctx c = { id, NULL };
	int r;

	if (out == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	*out = NULL;
	if ((r = jit_store_read(s, load_cb, &c)) != 0)
		return r;
	*out = c.out;
	return 0;
}

static const struct jit_store_list list_everything = { 0, 0, 0 };

static int
list_named(struct jit_store_txn *t, enum jit_store_index ix,
    const char *name, const struct jit_store_list *opt,
    jit_store_request_cb cb, void *ctx)
{
	if (need_txn(t) != 0 || cb == NULL ||
	    (ix != JIT_INDEX_ALL && jit_store__check_name(name, MAX_NAME) != 0))
		return JIT_ERR_INVALID_ARGUMENT;
	if (opt == NULL)
		opt = &list_everything;
	if (!opt->descending && opt->after == UINT64_MAX)
		return 0;
	return OPS(t)->list_requests(t, ix, name, opt, cb, ctx);
}

int
jit_store_list_by_state(struct jit_store_txn *t, const char *state,
    const struct jit_store_list *opt, jit_store_request_cb cb, void *ctx)
{
	return list_named(t, JIT_INDEX_STATE, state, opt, cb, ctx);
}

int
jit_store_list_by_user(struct jit_store_txn *t, const char *user,
    const struct jit_store_list *opt, jit_store_request_cb cb, void *ctx)
{
	return list_named(t, JIT_INDEX_USER, user, opt, cb, ctx);
}

int
jit_store_list_all(struct jit_store_txn *t, const struct jit_store_list *opt,
    jit_store_request_cb cb, void *ctx)
{
	return list_named(t, JIT_INDEX_ALL, NULL, opt, cb, ctx);
}

int
jit_store_list_due(struct jit_store_txn *t, uint64_t now,
    jit_store_request_cb cb, void *ctx)
{
	if (need_txn(t) != 0 || cb == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	return OPS(t)->list_due(t, now, cb, ctx);
}

int
jit_store_count_by_state(struct jit_store_txn *t, const char *state,
    uint64_t *count)
{
	if (count != NULL)
		*count = 0;
	if (need_txn(t) != 0 || count == NULL ||
	    jit_store__check_name(state, MAX_NAME) != 0)
		return JIT_ERR_INVALID_ARGUMENT;
	return OPS(t)->count_by_state(t, state, count);
}

/* A list of one name and one state (schema 3's indexes). */
static int
list_pair(struct jit_store_txn *t, enum jit_store_pair ix, const char *name,
    const char *state, const struct jit_store_list *opt,
    jit_store_request_cb cb, void *ctx)
{
	if (need_txn(t) != 0 || cb == NULL ||
	    jit_store__check_name(name, MAX_NAME) != 0 ||
	    jit_store__check_name(state, MAX_NAME) != 0)
		return JIT_ERR_INVALID_ARGUMENT;
	if (opt == NULL)
		opt = &list_everything;
	if (!opt->descending && opt->after == UINT64_MAX)
		return 0;
	return OPS(t)->list_pair(t, ix, name, state, opt, cb, ctx);
}

int
jit_store_list_by_user_state(struct jit_store_txn *t, const char *user,
    const char *state, const struct jit_store_list *opt,
    jit_store_request_cb cb, void *ctx)
{
	return list_pair(t, JIT_PAIR_USER_STATE, user, state, opt, cb, ctx);
}

int
jit_store_list_by_role_state(struct jit_store_txn *t, const char *role,
    const char *state, const struct jit_store_list *opt,
    jit_store_request_cb cb, void *ctx)
{
	return list_pair(t, JIT_PAIR_ROLE_STATE, role, state, opt, cb, ctx);
}

int
jit_store_list_by_state_end(struct jit_store_txn *t, const char *state,
    jit_store_request_cb cb, void *ctx)
{
	if (need_txn(t) != 0 || cb == NULL ||
	    jit_store__check_name(state, MAX_NAME) != 0)
		return JIT_ERR_INVALID_ARGUMENT;
	return OPS(t)->list_by_state_end(t, state, cb, ctx);
}

int
jit_store_count_by_user_state(struct jit_store_txn *t, const char *user,
    const char *state, uint64_t max, uint64_t *count)
{
	if (count != NULL)
		*count = 0;
	if (need_txn(t) != 0 || count == NULL ||
	    jit_store__check_name(user, MAX_NAME) != 0 ||
	    jit_store__check_name(state, MAX_NAME) != 0 || max > SIZE_MAX)
		return JIT_ERR_INVALID_ARGUMENT;
	return OPS(t)->count_by_user_state(t, user, state, max, count);
}

/* ---- certificates -------------------------------------------------------- */

int
jit_store_next_serial(struct jit_store_txn *t, uint64_t *serial)
{
	int r;

	if (serial != NULL)
		*serial = 0;
	if (serial == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	if ((r = jit_store__need_write(t)) != 0)
		return r;
	return OPS(t)->next_serial(t, serial);
}

int
jit_store_reserve_serial(struct jit_store_txn *t, uint64_t *serial)
{
	if (serial != NULL)
		*serial = 0;
	if (need_txn(t) != 0 || serial == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	return OPS(t)->reserve_serial(t, serial);
}

int
jit_store_claim_serial(struct jit_store_txn *t, uint64_t serial)
{
	int r;

	if ((r = jit_store__need_write(t)) != 0)
		return r;
	if (serial == 0 || serial == UINT64_MAX)
		return JIT_ERR_INVALID_ARGUMENT;
	return OPS(t)->claim_serial(t, serial);
}

int
jit_store_put_cert_encoded(struct jit_store_txn *t, uint64_t serial,
    const char *js, size_t jl)
{
	int r;

	if ((r = jit_store__need_write(t)) != 0)
		return r;
	if (serial == 0 || serial == UINT64_MAX || js == NULL || jl == 0)
		return JIT_ERR_INVALID_ARGUMENT;
	return OPS(t)->put_cert(t, serial, js, jl);
}

int
jit_store_put_cert(struct jit_store_txn *t, uint64_t serial,
    const json_t *rec)
{
	char *js;
	size_t jl;
	int r;

	if ((r = jit_store__need_write(t)) != 0)
		return r;
	if (serial == 0)
		return JIT_ERR_INVALID_ARGUMENT;
	if ((r = jit_store_encode_cert(rec, &js, &jl)) != 0)
		return r;
	r = jit_store_put_cert_encoded(t, serial, js, jl);
	free(js);
	return r;
}

int
jit_store_get_cert(struct jit_store_txn *t, uint64_t serial, json_t **out)
{
	if (out != NULL)
		*out = NULL;
	if (need_txn(t) != 0 || out == NULL || serial == 0)
		return JIT_ERR_INVALID_ARGUMENT;
	return OPS(t)->get_cert(t, serial, out);
}

int
jit_store_list_certs(struct jit_store_txn *t, uint64_t after, size_t limit,
    jit_store_cert_cb cb, void *ctx)
{
	if (need_txn(t) != 0 || cb == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	if (after == UINT64_MAX)
		return 0;
	return OPS(t)->list_certs(t, after, limit, cb, ctx);
}

/* ---- tokens -------------------------------------------------------------- */

int
jit_store_get_token(struct jit_store_txn *t,
    const unsigned char hash[JIT_TOKEN_HASH_LEN], json_t **out)
{
	if (out != NULL)
		*out = NULL;
	if (need_txn(t) != 0 || hash == NULL || out == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	return OPS(t)->get_token(t, hash, out);
}

int
jit_store_put_token(struct jit_store_txn *t,
    const unsigned char hash[JIT_TOKEN_HASH_LEN], const json_t *rec)
{
	const char *id;
	char *js = NULL;
	size_t jl;
	int r;

	if ((r = jit_store__need_write(t)) != 0)
		return r;
	if (hash == NULL || !json_is_object(rec) ||
	    (id = jit_store__get_name(rec, "id", MAX_ID)) == NULL ||
	    jit_store__get_name(rec, "user", MAX_NAME) == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	if ((r = jit_store__dump_json(rec, 0, &js, &jl)) != 0)
		return r;
	r = OPS(t)->put_token(t, hash, id, js, jl);
	free(js);
	return r;
}

int
jit_store_get_token_by_id(struct jit_store_txn *t, const char *id,
    unsigned char hash[JIT_TOKEN_HASH_LEN], json_t **out)
{
	if (out != NULL)
		*out = NULL;
	if (need_txn(t) != 0 || jit_store__check_name(id, MAX_ID) != 0)
		return JIT_ERR_INVALID_ARGUMENT;
	return OPS(t)->get_token_by_id(t, id, hash, out);
}

int
jit_store_revoke_token(struct jit_store_txn *t, const char *id)
{
	unsigned char h[JIT_TOKEN_HASH_LEN];
	char now[JIT_TIME_LEN];
	json_t *rec = NULL;
	int r;

	if ((r = jit_store__need_write(t)) != 0)
		return r;
	if ((r = jit_store_get_token_by_id(t, id, h, &rec)) != 0)
		return r;
	if (json_object_get(rec, "revoked_at") == NULL ||
	    json_is_null(json_object_get(rec, "revoked_at"))) {
		jit_format_time(jit_now(), now);
		if (json_object_set_new(rec, "revoked_at", json_string(now))
		    != 0)
			r = JIT_ERR_ALLOC;
		else
			r = jit_store_put_token(t, h, rec);
	}
	json_decref(rec);
	return r;
}

int
jit_store_delete_token(struct jit_store_txn *t, const char *id)
{
	int r;

	if ((r = jit_store__need_write(t)) != 0)
		return r;
	if (jit_store__check_name(id, MAX_ID) != 0)
		return JIT_ERR_INVALID_ARGUMENT;
	return OPS(t)->delete_token(t, id);
}

int
jit_store_list_tokens(struct jit_store_txn *t, jit_store_token_cb cb,
    void *ctx)
{
	if (need_txn(t) != 0 || cb == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	return OPS(t)->list_tokens(t, cb, ctx);
}

/* ---- small named values -------------------------------------------------- */

int
jit_store_put_value(struct jit_store_txn *t, const char *key,
    const json_t *value)
{
	char *js;
	size_t jl;
	int r;

	if ((r = jit_store__need_write(t)) != 0)
		return r;
	if (jit_store__check_name(key, MAX_NAME) != 0 || value == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	if ((r = jit_store__dump_json(value, JSON_ENCODE_ANY, &js, &jl)) != 0)
		return r;
	r = OPS(t)->put_value(t, key, js, jl);
	free(js);
	return r;
}

int
jit_store_get_value(struct jit_store_txn *t, const char *key, json_t **out)
{
	if (out != NULL)
		*out = NULL;
	if (need_txn(t) != 0 || out == NULL ||
	    jit_store__check_name(key, MAX_NAME) != 0)
		return JIT_ERR_INVALID_ARGUMENT;
	return OPS(t)->get_value(t, key, out);
}

/* ---- audit log storage --------------------------------------------------- */

int
jit_store_audit_last(struct jit_store_txn *t, uint64_t *seq, char **json,
    size_t *len)
{
	if (seq != NULL)
		*seq = 0;
	if (json != NULL)
		*json = NULL;
	if (len != NULL)
		*len = 0;
	if (need_txn(t) != 0 || seq == NULL || json == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	return OPS(t)->audit_last(t, seq, json, len);
}

int
jit_store_audit_head(struct jit_store_txn *t, uint64_t *seq, char *hash_hex)
{
	if (seq != NULL)
		*seq = 0;
	if (hash_hex != NULL)
		hash_hex[0] = '\0';
	if (need_txn(t) != 0 || seq == NULL || hash_hex == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	return OPS(t)->audit_head(t, seq, hash_hex);
}

int
jit_store_audit_put(struct jit_store_txn *t, uint64_t seq,
    const char *hash_hex, const char *json, size_t len)
{
	int r;

	if ((r = jit_store__need_write(t)) != 0)
		return r;
	if (json == NULL || len == 0 || seq == 0 || seq > INT64_MAX ||
	    hash_hex == NULL || strlen(hash_hex) != 64)
		return JIT_ERR_INVALID_ARGUMENT;
	return OPS(t)->audit_put(t, seq, hash_hex, json, len);
}

int
jit_store_audit_get(struct jit_store_txn *t, uint64_t seq, char **json,
    size_t *len)
{
	if (json != NULL)
		*json = NULL;
	if (len != NULL)
		*len = 0;
	if (need_txn(t) != 0 || json == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	return OPS(t)->audit_get(t, seq, json, len);
}

int
jit_store_audit_iter(struct jit_store_txn *t, uint64_t from_seq,
    jit_store_audit_cb cb, void *ctx)
{
	if (need_txn(t) != 0 || cb == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	return OPS(t)->audit_iter(t, from_seq, cb, ctx);
}
