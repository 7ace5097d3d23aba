/*
 * lmdb_env.c - the LMDB backend's environment (lmdb_int.h): opening and
 * closing it, the schema check, the transactions that store.c's writer
 * thread and readers run closures in, releasing map pages, and the
 * backend's table of operations.
 */
#include "lmdb_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "err.h"
#include "util.h"

#define MAX_READERS 1024

static const char *const db_names[DB_COUNT] = {
	"requests", "by_state", "by_user", "by_seq", "certs", "tokens",
	"token_ids", "values", "audit", "meta", "by_deadline", "outbox",
	"by_user_state", "by_role_state", "by_state_end", "req_keys",
	"state_counts"
};

/* ---- opening and closing ------------------------------------------- */

static int
take_server_lock(struct jit_lmdb *lm, const char *dir)
{
	char path[PATH_MAX];
	int n;

	n = snprintf(path, sizeof(path), "%s/server.lock", dir);
	if (n < 0 || (size_t)n >= sizeof(path))
		return JIT_ERR_INVALID_ARGUMENT;
	lm->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lm->lock_fd < 0)
		return jit_err_from_errno(errno);
	if (flock(lm->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;

		close(lm->lock_fd);
		lm->lock_fd = -1;
		return (e == EWOULDBLOCK || e == EAGAIN) ?
		    JIT_ERR_STORE_LOCKED : jit_err_from_errno(e);
	}
	return 0;
}

static int
open_dbis(struct jit_store *s)
{
	struct jit_lmdb *lm = s->lm;
	struct jit_store_txn t = { 0 };
	unsigned ro = (s->flags & JIT_STORE_READONLY) != 0;
	uint64_t schema;
	int r = JIT_ERR_INTERNAL, rc;

	rc = mdb_txn_begin(lm->env, NULL, ro ? MDB_RDONLY : 0, &t.txn);
	if (rc != 0)
		return jit_lmdb_map_err(rc);
	t.s = s;
	t.write = !ro;
	for (int i = 0; i < DB_COUNT; i++) {
		rc = mdb_dbi_open(t.txn, db_names[i], ro ? 0 : MDB_CREATE,
		    &lm->dbi[i]);
		/* Schema 1 had no by_deadline; only the sweeper (a writer,
		 * which migrates first) uses it.  Schemas 1 and 2 had none
		 * of schema 3's tables; a READONLY view does without them
		 * (lmdb_request_list.c).  A store written before the outbox
		 * has none: a READONLY view sees it empty (lmdb_outbox.c). */
		if (rc == MDB_NOTFOUND && ro && i == DB_BY_DEADLINE) {
			lm->no_deadline_db = 1;
			continue;
		}
		if (rc == MDB_NOTFOUND && ro && i == DB_OUTBOX) {
			lm->no_outbox_db = 1;
			continue;
		}
		if (rc == MDB_NOTFOUND && ro && i >= DB_FIRST_V3)
			continue;
		if (rc != 0) {
			r = jit_lmdb_map_err(rc);
			goto fail;
		}
	}
	if ((r = jit_lmdb_meta_get_u64(&t, "schema", 0, &schema)) != 0)
		goto fail;
	if (schema > SCHEMA_VERSION) {
		r = JIT_ERR_STORE_CORRUPT;  /* written by a newer version */
		goto fail;
	}
	/* An older store is brought up to date in this transaction when
	 * opened for writing (schema 1 lacks the request values' index
	 * header, schemas 1 and 2 the schema 3 tables); read-only, it is
	 * read as it is. */
	lm->schema = schema == 0 ? SCHEMA_VERSION : schema;
	if (!ro && schema == 1 && (r = jit_lmdb_migrate_v1(&t)) != 0)
		goto fail;
	if (!ro && schema != 0 && schema < 3 &&
	    (r = jit_lmdb_migrate_v2(&t)) != 0)
		goto fail;
	if (!ro)
		lm->schema = SCHEMA_VERSION;
	/* Committing (even a read-only transaction) keeps the handles
	 * open for the life of the environment; an abort would close them. */
	if (!ro && schema != SCHEMA_VERSION &&
	    (r = jit_lmdb_meta_put_u64(&t, "schema", SCHEMA_VERSION)) != 0)
		goto fail;
	return jit_lmdb_map_err(mdb_txn_commit(t.txn));
fail:
	mdb_txn_abort(t.txn);
	return r;
}

/* Create lm's LMDB environment and open it in dir. */
static int
env_open(struct jit_lmdb *lm, unsigned flags, const char *dir,
    uint64_t map_size)
{
	unsigned envflags = MDB_NOTLS;
	int rc;

	if ((rc = mdb_env_create(&lm->env)) != 0)
		return jit_lmdb_map_err(rc);
	if ((rc = mdb_env_set_maxdbs(lm->env, DB_COUNT + 2)) != 0 ||
	    (rc = mdb_env_set_maxreaders(lm->env, MAX_READERS)) != 0 ||
	    (rc = mdb_env_set_mapsize(lm->env, (size_t)map_size)) != 0)
		return jit_lmdb_map_err(rc);
	if (flags & JIT_STORE_READONLY)
		envflags |= MDB_RDONLY;
	/* Default durability: every commit fsyncs data and meta pages. */
	if ((rc = mdb_env_open(lm->env, dir, envflags, 0600)) != 0)
		return jit_lmdb_map_err(rc);
	/* Free reader slots left behind by processes that died (kill -9). */
	(void)mdb_reader_check(lm->env, NULL);
	return 0;
}

static void
lmdb_close(struct jit_store *s)
{
	struct jit_lmdb *lm = s->lm;

	if (lm == NULL)
		return;
	while (lm->nread_pool > 0)
		mdb_txn_abort(lm->read_pool[--lm->nread_pool]);
	pthread_mutex_destroy(&lm->rmu);
	if (lm->env != NULL)
		mdb_env_close(lm->env);
	/* Closing the descriptor releases the flock. */
	if (lm->lock_fd >= 0)
		close(lm->lock_fd);
	free(lm);
	s->lm = NULL;
}

static const struct jit_store_ops lmdb_ops;

int
jit_lmdb_open(struct jit_store *s, const char *dir,
    const struct jit_store_options *opt)
{
	struct jit_lmdb *lm;
	uint64_t map_size;
	int r = JIT_ERR_INTERNAL;

	map_size = opt->map_size ? opt->map_size : JIT_STORE_DEFAULT_MAP_SIZE;
	if (map_size > SIZE_MAX)
		return JIT_ERR_INVALID_ARGUMENT;
	if ((lm = calloc(1, sizeof(*lm))) == NULL)
		return JIT_ERR_ALLOC;
	lm->lock_fd = -1;
	if (pthread_mutex_init(&lm->rmu, NULL) != 0) {
		free(lm);
		return JIT_ERR_ALLOC;
	}
	s->lm = lm;
	s->ops = &lmdb_ops;
	if (!(s->flags & JIT_STORE_READONLY) && mkdir(dir, 0700) != 0 &&
	    errno != EEXIST) {
		r = jit_err_from_errno(errno);
		goto fail;
	}
	if ((s->flags & JIT_STORE_SERVER) &&
	    (r = take_server_lock(lm, dir)) != 0)
		goto fail;
	if ((r = env_open(lm, s->flags, dir, map_size)) != 0 ||
	    (r = open_dbis(s)) != 0)
		goto fail;
	return 0;
fail:
	lmdb_close(s);
	return r;
}

/* ---- transactions -------------------------------------------------- */

/*
 * The writer's batch is a parent transaction and each closure a nested
 * one: a nested transaction that is aborted discards only its own
 * changes, which is what lets one closure fail without affecting the
 * rest of its batch.
 */
static int
lmdb_batch_begin(struct jit_store *s)
{
	return jit_lmdb_map_err(mdb_txn_begin(s->lm->env, NULL, 0,
	    &s->lm->parent));
}

static int
lmdb_closure_begin(struct jit_store *s, struct jit_store_txn *t)
{
	return jit_lmdb_map_err(mdb_txn_begin(s->lm->env, s->lm->parent, 0,
	    &t->txn));
}

static int
lmdb_closure_end(struct jit_store_txn *t, int r)
{
	if (r == 0)
		return jit_lmdb_map_err(mdb_txn_commit(t->txn));
	mdb_txn_abort(t->txn);
	return r;
}

/*
 * The error of a failed commit.  LMDB reports a short write as EIO, and
 * a write that runs out of disk is often short rather than ENOSPC: with
 * no space left where the store lives, that is the disk being full, which
 * callers can do something about (503, "storage is full"), not an I/O
 * fault.
 */
static int
commit_err(struct jit_lmdb *lm, int rc)
{
	struct statvfs fs;
	const char *dir;

	if (rc == EIO && mdb_env_get_path(lm->env, &dir) == 0 &&
	    statvfs(dir, &fs) == 0 &&
	    (uint64_t)fs.f_bavail * fs.f_frsize < 2 * 65536)
		return JIT_ERR_STORE_FULL;
	return jit_lmdb_map_err(rc);
}

static int
lmdb_batch_end(struct jit_store *s, int commit,
    const unsigned char slots[NSLOTS / 8], int other)
{
	MDB_txn *parent = s->lm->parent;
	int rc;

	(void)slots;
	(void)other;
	s->lm->parent = NULL;
	if (!commit) {
		mdb_txn_abort(parent);
		return 0;
	}
	rc = mdb_txn_commit(parent);
	return rc == 0 ? 0 : commit_err(s->lm, rc);
}

/* LMDB's transaction id: every commit of every process raises it. */
static uint64_t
lmdb_commit_id(struct jit_store *s)
{
	MDB_envinfo info;

	if (mdb_env_info(s->lm->env, &info) != 0)
		return 0;
	return (uint64_t)info.me_last_txnid;
}

/* A read transaction: a pooled one renewed (it then sees the latest
 * commit, as a new one would), else a new one. */
static int
lmdb_read_begin(struct jit_store *s, struct jit_store_txn *t)
{
	struct jit_lmdb *lm = s->lm;
	MDB_txn *txn = NULL;
	int rc;

	pthread_mutex_lock(&lm->rmu);
	if (lm->nread_pool > 0)
		txn = lm->read_pool[--lm->nread_pool];
	pthread_mutex_unlock(&lm->rmu);
	if (txn != NULL) {
		if ((rc = mdb_txn_renew(txn)) == 0) {
			t->txn = txn;
			return 0;
		}
		mdb_txn_abort(txn);
	}
	return jit_lmdb_map_err(mdb_txn_begin(lm->env, NULL, MDB_RDONLY,
	    &t->txn));
}

/* Back to the pool (reset: the snapshot it held is released now), or
 * aborted when the pool is full. */
static void
lmdb_read_end(struct jit_store_txn *t)
{
	struct jit_lmdb *lm = t->s->lm;

	mdb_txn_reset(t->txn);
	pthread_mutex_lock(&lm->rmu);
	if (lm->nread_pool < READ_POOL_MAX) {
		lm->read_pool[lm->nread_pool++] = t->txn;
		t->txn = NULL;
	}
	pthread_mutex_unlock(&lm->rmu);
	if (t->txn != NULL)
		mdb_txn_abort(t->txn);
}

/* One server per data directory (server.lock): its jobs are its own. */
static int
lmdb_job_lock(struct jit_store *s, const char *job)
{
	(void)s;
	(void)job;
	return 1;
}

static void
lmdb_release_pages(struct jit_store *s)
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

	if (mdb_env_info(s->lm->env, &info) != 0 ||
	    mdb_env_stat(s->lm->env, &st) != 0 ||
	    mdb_env_get_path(s->lm->env, &dir) != 0)
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

static const struct jit_store_ops lmdb_ops = {
	.name = "lmdb",
	.close = lmdb_close,
	.batch_begin = lmdb_batch_begin,
	.closure_begin = lmdb_closure_begin,
	.closure_end = lmdb_closure_end,
	.batch_end = lmdb_batch_end,
	.read_begin = lmdb_read_begin,
	.read_end = lmdb_read_end,
	.job_lock = lmdb_job_lock,
	.release_pages = lmdb_release_pages,
	.create_request = jit_lmdb_create_request,
	.put_request = jit_lmdb_put_request,
	.get_request = jit_lmdb_get_request,
	.request_unchanged = jit_lmdb_request_unchanged,
	.list_requests = jit_lmdb_list_requests,
	.list_due = jit_lmdb_list_due,
	.count_by_state = jit_lmdb_count_by_state,
	.list_pair = jit_lmdb_list_pair,
	.list_by_state_end = jit_lmdb_list_by_state_end,
	.count_by_user_state = jit_lmdb_count_by_user_state,
	.commit_id = lmdb_commit_id,
	.next_serial = jit_lmdb_next_serial,
	.reserve_serial = jit_lmdb_reserve_serial,
	.claim_serial = jit_lmdb_claim_serial,
	.put_cert = jit_lmdb_put_cert,
	.get_cert = jit_lmdb_get_cert,
	.list_certs = jit_lmdb_list_certs,
	.put_token = jit_lmdb_put_token,
	.get_token = jit_lmdb_get_token,
	.get_token_by_id = jit_lmdb_get_token_by_id,
	.delete_token = jit_lmdb_delete_token,
	.list_tokens = jit_lmdb_list_tokens,
	.put_value = jit_lmdb_put_value,
	.get_value = jit_lmdb_get_value,
	.audit_last = jit_lmdb_audit_last,
	.audit_put = jit_lmdb_audit_put,
	.audit_head = jit_lmdb_audit_head,
	.audit_iter = jit_lmdb_audit_iter,
	.audit_get = jit_lmdb_audit_get,
	.raw_requests = jit_lmdb_raw_requests,
	.raw_certs = jit_lmdb_raw_certs,
	.raw_values = jit_lmdb_raw_values,
	.put_raw_request = jit_lmdb_put_raw_request,
	.outbox_add = jit_lmdb_outbox_add,
	.outbox_first = jit_lmdb_outbox_first,
	.outbox_put = jit_lmdb_outbox_put,
	.outbox_done = jit_lmdb_outbox_done,
	.outbox_list = jit_lmdb_outbox_list,
	.outbox_stats = jit_lmdb_outbox_stats,
	.put_raw_outbox = jit_lmdb_put_raw_outbox,
	.get_counters = jit_lmdb_get_counters,
	.raise_counters = jit_lmdb_raise_counters,
};
