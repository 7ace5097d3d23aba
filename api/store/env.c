/*
 * env.c - see store.h: opening and closing the LMDB environment, the
 * schema check, the writer thread that group-commits write closures, read
 * closures, change notification, statistics and releasing map pages.
 * The on-disk layout is described in store_int.h.
 */
#include "store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "util.h"

#define DEFAULT_MAX_BATCH 4096
#define MAX_READERS 1024

static const char *const db_names[DB_COUNT] = {
	"requests", "by_state", "by_user", "by_seq", "certs", "tokens",
	"token_ids", "values", "audit", "meta", "by_deadline", "outbox",
	"by_user_state", "by_role_state", "by_state_end", "req_keys",
	"state_counts"
};

/* One queued jit_store_write() call; lives on the caller's stack. */
struct jit_store_wreq {
	jit_store_write_fn fn;
	void *ctx;
	int result;
	int done;             /* guarded by mu */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct jit_store_wreq *next;  /* guarded by the store's qmu */
};

/* ---- opening and closing ------------------------------------------- */

static int
take_server_lock(struct jit_store *s, const char *dir)
{
	char path[PATH_MAX];
	int n;

	n = snprintf(path, sizeof(path), "%s/server.lock", dir);
	if (n < 0 || (size_t)n >= sizeof(path))
		return JIT_ERR_INVALID_ARGUMENT;
	s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (s->lock_fd < 0)
		return jit_err_from_errno(errno);
	if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;

		close(s->lock_fd);
		s->lock_fd = -1;
		return (e == EWOULDBLOCK || e == EAGAIN) ?
		    JIT_ERR_STORE_LOCKED : jit_err_from_errno(e);
	}
	return 0;
}

static int
open_dbis(struct jit_store *s)
{
	struct jit_store_txn t = { 0 };
	unsigned ro = (s->flags & JIT_STORE_READONLY) != 0;
	uint64_t schema;
	int r = JIT_ERR_INTERNAL, rc;

	rc = mdb_txn_begin(s->env, NULL, ro ? MDB_RDONLY : 0, &t.txn);
	if (rc != 0)
		return jit_store__map_err(rc);
	t.s = s;
	t.write = !ro;
	for (int i = 0; i < DB_COUNT; i++) {
		rc = mdb_dbi_open(t.txn, db_names[i], ro ? 0 : MDB_CREATE,
		    &s->dbi[i]);
		/* Schema 1 had no by_deadline; only the sweeper (a writer,
		 * which migrates first) uses it.  Schemas 1 and 2 had none
		 * of schema 3's tables; a READONLY view does without them
		 * (request_list.c).  A store written before the outbox
		 * has none: a READONLY view sees it empty (outbox.c). */
		if (rc == MDB_NOTFOUND && ro && i == DB_BY_DEADLINE) {
			s->no_deadline_db = 1;
			continue;
		}
		if (rc == MDB_NOTFOUND && ro && i == DB_OUTBOX) {
			s->no_outbox_db = 1;
			continue;
		}
		if (rc == MDB_NOTFOUND && ro && i >= DB_FIRST_V3)
			continue;
		if (rc != 0) {
			r = jit_store__map_err(rc);
			goto fail;
		}
	}
	if ((r = jit_store__meta_get_u64(&t, "schema", 0, &schema)) != 0)
		goto fail;
	if (schema > SCHEMA_VERSION) {
		r = JIT_ERR_STORE_CORRUPT;  /* written by a newer version */
		goto fail;
	}
	/* An older store is brought up to date in this transaction when
	 * opened for writing (schema 1 lacks the request values' index
	 * header, schemas 1 and 2 the schema 3 tables); read-only, it is
	 * read as it is. */
	s->schema = schema == 0 ? SCHEMA_VERSION : schema;
	if (!ro && schema == 1 && (r = jit_store__migrate_v1(&t)) != 0)
		goto fail;
	if (!ro && schema != 0 && schema < 3 &&
	    (r = jit_store__migrate_v2(&t)) != 0)
		goto fail;
	if (!ro)
		s->schema = SCHEMA_VERSION;
	/* Committing (even a read-only transaction) keeps the handles
	 * open for the life of the environment; an abort would close them. */
	if (!ro && schema != SCHEMA_VERSION &&
	    (r = jit_store__meta_put_u64(&t, "schema", SCHEMA_VERSION)) != 0)
		goto fail;
	return jit_store__map_err(mdb_txn_commit(t.txn));
fail:
	mdb_txn_abort(t.txn);
	return r;
}

static void *writer_main(void *arg);

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

/* Create s's LMDB environment and open it in dir. */
static int
env_open(struct jit_store *s, const char *dir, uint64_t map_size)
{
	unsigned envflags = MDB_NOTLS;
	int rc;

	if ((rc = mdb_env_create(&s->env)) != 0)
		return jit_store__map_err(rc);
	if ((rc = mdb_env_set_maxdbs(s->env, DB_COUNT + 2)) != 0 ||
	    (rc = mdb_env_set_maxreaders(s->env, MAX_READERS)) != 0 ||
	    (rc = mdb_env_set_mapsize(s->env, (size_t)map_size)) != 0)
		return jit_store__map_err(rc);
	if (s->flags & JIT_STORE_READONLY)
		envflags |= MDB_RDONLY;
	/* Default durability: every commit fsyncs data and meta pages. */
	if ((rc = mdb_env_open(s->env, dir, envflags, 0600)) != 0)
		return jit_store__map_err(rc);
	/* Free reader slots left behind by processes that died (kill -9). */
	(void)mdb_reader_check(s->env, NULL);
	return 0;
}

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
	uint64_t map_size;
	int r = JIT_ERR_INTERNAL, sync_ready = 0;

	if (out != NULL)
		*out = NULL;
	if (dir == NULL || opt == NULL || out == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	map_size = opt->map_size ? opt->map_size : JIT_STORE_DEFAULT_MAP_SIZE;
	if (map_size > SIZE_MAX)
		return JIT_ERR_INVALID_ARGUMENT;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return JIT_ERR_ALLOC;
	s->flags = opt->flags;
	s->max_batch = opt->max_batch ? opt->max_batch : DEFAULT_MAX_BATCH;
	s->lock_fd = -1;

	if (!(s->flags & JIT_STORE_READONLY) && mkdir(dir, 0700) != 0 &&
	    errno != EEXIST) {
		r = jit_err_from_errno(errno);
		goto fail;
	}
	if ((s->flags & JIT_STORE_SERVER) &&
	    (r = take_server_lock(s, dir)) != 0)
		goto fail;
	sync_init(s);
	sync_ready = 1;
	if ((r = env_open(s, dir, map_size)) != 0 ||
	    (r = open_dbis(s)) != 0)
		goto fail;
	if (!(s->flags & JIT_STORE_READONLY)) {
		if (pthread_create(&s->writer, NULL, writer_main, s) != 0) {
			r = JIT_ERR_SYSTEM;
			goto fail;
		}
		s->writer_started = 1;
	}
	*out = s;
	return 0;
fail:
	if (s->env != NULL)
		mdb_env_close(s->env);
	if (sync_ready)
		sync_destroy(s);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
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
	mdb_env_close(s->env);
	sync_destroy(s);
	/* Closing the descriptor releases the flock. */
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	free(s);
}

/* ---- the writer thread (group commit) -------------------------------- */

/*
 * The error of a failed commit.  LMDB reports a short write as EIO, and
 * a write that runs out of disk is often short rather than ENOSPC: with
 * no space left where the store lives, that is the disk being full, which
 * callers can do something about (503, "storage is full"), not an I/O
 * fault.
 */
static int
commit_err(struct jit_store *s, int rc)
{
	struct statvfs fs;
	const char *dir;

	if (rc == EIO && mdb_env_get_path(s->env, &dir) == 0 &&
	    statvfs(dir, &fs) == 0 &&
	    (uint64_t)fs.f_bavail * fs.f_frsize < 2 * 65536)
		return JIT_ERR_STORE_FULL;
	return jit_store__map_err(rc);
}

/*
 * Run one batch: a parent transaction, one nested transaction per
 * closure, one commit.  A nested transaction that is aborted discards
 * only its own changes, which is what lets one closure fail without
 * affecting the rest of its batch.
 */
static void
run_batch(struct jit_store *s, struct jit_store_wreq *batch, size_t n)
{
	unsigned char slots[NSLOTS / 8] = { 0 };
	unsigned changed[NSLOTS];
	size_t nchanged = 0;
	MDB_txn *parent = NULL;
	struct jit_store_wreq *w;
	size_t ok = 0, failed = 0;
	int rc, r;

	rc = mdb_txn_begin(s->env, NULL, 0, &parent);
	for (w = batch; w != NULL; w = w->next) {
		struct jit_store_txn t = { 0 };

		if (rc != 0) {
			w->result = jit_store__map_err(rc);
			failed++;
			continue;
		}
		t.s = s;
		t.write = 1;
		if ((r = mdb_txn_begin(s->env, parent, 0, &t.txn)) != 0) {
			w->result = jit_store__map_err(r);
			failed++;
			continue;
		}
		r = w->fn(&t, w->ctx);
		if (r == 0)
			r = jit_store__map_err(mdb_txn_commit(t.txn));
		else
			mdb_txn_abort(t.txn);
		w->result = r;
		if (r == 0) {
			ok++;
			for (size_t i = 0; i < sizeof(slots); i++)
				slots[i] |= t.slots[i];
		} else {
			failed++;
		}
	}
	if (rc == 0) {
		if (ok > 0) {
			rc = mdb_txn_commit(parent);
			if (rc != 0) {
				r = commit_err(s, rc);
				for (w = batch; w != NULL; w = w->next)
					if (w->result == 0)
						w->result = r;
				failed += ok;
				ok = 0;
			}
		} else {
			mdb_txn_abort(parent);
		}
	}

	/* Publish the change before releasing callers, so a caller that
	 * reads the version afterwards already sees its own commit. */
	pthread_mutex_lock(&s->vmu);
	s->stats.writes += n;
	s->stats.writes_failed += failed;
	if (n > s->stats.max_batch)
		s->stats.max_batch = n;
	if (ok > 0) {
		s->stats.commits++;
		s->version++;
		for (unsigned i = 0; i < NSLOTS; i++) {
			if (slots[i / 8] == 0) {
				i += 7;  /* a whole byte without a change */
				continue;
			}
			if (!(slots[i / 8] & (1u << (i % 8))))
				continue;
			s->slot_version[i] = s->version;
			pthread_cond_broadcast(&s->slot_cv[i % NWAKECV]);
			changed[nchanged++] = i;
		}
		pthread_cond_broadcast(&s->any_cv);
		/* Under vmu, so that clearing the hook waits for a call in
		 * progress (store.h). */
		if (s->change_fn != NULL && nchanged > 0)
			s->change_fn(s->change_ctx, changed, nchanged);
	}
	pthread_mutex_unlock(&s->vmu);
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

		/* Wake each caller through its own mutex, so callers do
		 * not pile up on the queue lock while new ones enqueue. */
		for (w = batch; w != NULL; ) {
			struct jit_store_wreq *next = w->next;

			/* Once done is set the caller may return and its
			 * stack frame (w) vanish: read next first. */
			pthread_mutex_lock(&w->mu);
			w->done = 1;
			pthread_cond_signal(&w->cv);
			pthread_mutex_unlock(&w->mu);
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

	if (s == NULL || fn == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	if (s->flags & JIT_STORE_READONLY)
		return JIT_ERR_PERMISSION;
	if (on_writer_thread(s))
		return JIT_ERR_INTERNAL;  /* nested write would deadlock */
	memset(&w, 0, sizeof(w));
	w.fn = fn;
	w.ctx = ctx;
	pthread_mutex_init(&w.mu, NULL);
	pthread_cond_init(&w.cv, NULL);
	pthread_mutex_lock(&s->qmu);
	if (s->stopping) {
		pthread_mutex_unlock(&s->qmu);
		w.result = JIT_ERR_STORE;
		goto out;
	}
	if (s->qtail != NULL)
		s->qtail->next = &w;
	else
		s->qhead = &w;
	s->qtail = &w;
	pthread_cond_signal(&s->qcv);
	pthread_mutex_unlock(&s->qmu);
	pthread_mutex_lock(&w.mu);
	while (!w.done)
		pthread_cond_wait(&w.cv, &w.mu);
	pthread_mutex_unlock(&w.mu);
out:
	pthread_cond_destroy(&w.cv);
	pthread_mutex_destroy(&w.mu);
	return w.result;
}

int
jit_store_read(struct jit_store *s, jit_store_read_fn fn, void *ctx)
{
	struct jit_store_txn t = { 0 };
	int r, rc;

	if (s == NULL || fn == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	if (on_writer_thread(s))
		return JIT_ERR_INTERNAL;
	rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &t.txn);
	if (rc != 0)
		return jit_store__map_err(rc);
	t.s = s;
	r = fn(&t, ctx);
	mdb_txn_abort(t.txn);
	return r;
}

/* ---- change notification ------------------------------------------------ */

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
	MDB_envinfo info;

	if (mdb_env_info(s->env, &info) != 0)
		return 0;
	return (uint64_t)info.me_last_txnid;
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
	MDB_envinfo info;
	MDB_stat st;
	struct stat fs;
	const char *dir;
	char path[PATH_MAX], line[PATH_MAX + 128];
	unsigned long lo, hi, off, ino;
	unsigned maj, mnr;
	size_t used;
	FILE *f;
	int n;

	if (s == NULL || mdb_env_info(s->env, &info) != 0 ||
	    mdb_env_stat(s->env, &st) != 0 ||
	    mdb_env_get_path(s->env, &dir) != 0)
		return;
	n = snprintf(path, sizeof(path), "%s/data.mdb", dir);
	if (n < 0 || (size_t)n >= sizeof(path) || stat(path, &fs) != 0)
		return;
	used = (size_t)(info.me_last_pgno + 1) * st.ms_psize;
	/* LMDB does not tell where it mapped the file (me_mapaddr is only
	 * set with MDB_FIXEDMAP), so find the shared mapping of data.mdb's
	 * inode at offset 0.  The map is read-only (no MDB_WRITEMAP):
	 * dropping our page table entries loses nothing, the next access
	 * maps the same page-cache page again. */
	if ((f = fopen("/proc/self/maps", "re")) == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		char perms[8];

		if (sscanf(line, "%lx-%lx %7s %lx %x:%x %lu", &lo, &hi, perms,
		    &off, &maj, &mnr, &ino) != 7 || off != 0 ||
		    ino != (unsigned long)fs.st_ino || perms[3] != 's' ||
		    hi <= lo)
			continue;
		(void)madvise((void *)lo, hi - lo < used ? hi - lo : used,
		    MADV_DONTNEED);
	}
	fclose(f);
}
