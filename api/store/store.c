/*
 * store.c - see store.h.  The only file that includes lmdb.h.
 *
 * Named databases and their keys:
 *   requests   id -> header || compact JSON, the header being be64(seq)
 *              || be64(deadline) || u8 len || state || u8 len || user.
 *              seq is the request's creation sequence number; the header
 *              holds every indexed field, so an update finds the old index
 *              keys without parsing the old JSON.  (Schema 1 had only
 *              be64(seq); opening such a store for writing rewrites it.)
 *   by_state   state NUL be64(seq) -> id
 *   by_user    user NUL be64(seq) -> id
 *   by_seq     be64(seq) -> id
 *   by_deadline be64(deadline) || be64(seq) -> id, for requests with a
 *              deadline: a pending request's expires_at, an approved
 *              one's not_after (what the sweeper acts on)
 *   certs      be64(serial) -> JSON
 *   tokens     sha256(token) -> JSON
 *   token_ids  token id -> sha256(token)
 *   values     key -> JSON (any value)
 *   audit      be64(seq) -> canonical entry text
 *   meta       "schema", "next_request_seq", "next_serial" -> be64;
 *              "audit_head" -> be64(seq) || hash hex (saves parsing the
 *              last entry on every append)
 * Big-endian integers make LMDB's bytewise key order the numeric order, so
 * index ranges come out in creation order.
 */
#include "store.h"

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
#include <time.h>
#include <unistd.h>

#include <lmdb.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "err.h"
#include "util.h"

#define SCHEMA_VERSION 2
#define MAX_NAME 200       /* state, user, value keys */
#define MAX_ID 64          /* request and token ids */
#define NSLOTS 256         /* wake-up slots for jit_store_wait_change */
#define DEFAULT_MAX_BATCH 4096
#define MAX_READERS 1024

enum {
	DB_REQUESTS, DB_BY_STATE, DB_BY_USER, DB_BY_SEQ, DB_CERTS, DB_TOKENS,
	DB_TOKEN_IDS, DB_VALUES, DB_AUDIT, DB_META, DB_BY_DEADLINE, DB_COUNT
};
static const char *const db_names[DB_COUNT] = {
	"requests", "by_state", "by_user", "by_seq", "certs", "tokens",
	"token_ids", "values", "audit", "meta", "by_deadline"
};

/* One queued jit_store_write() call; lives on the caller's stack. */
struct wreq {
	jit_store_write_fn fn;
	void *ctx;
	int result;
	int done;             /* guarded by mu */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct wreq *next;    /* guarded by the store's qmu */
};

struct jit_store_txn {
	struct jit_store *s;
	MDB_txn *txn;
	int write;
	/* Wake-up slots of the requests this closure changed. */
	unsigned char slots[NSLOTS / 8];
};

struct jit_store {
	MDB_env *env;
	MDB_dbi dbi[DB_COUNT];
	unsigned flags;
	unsigned max_batch;
	int lock_fd;
	uint64_t schema;      /* of the data read: 1 only if opened READONLY */
	int no_deadline_db;   /* READONLY schema 1: no by_deadline */

	/* Write queue, guarded by qmu. */
	pthread_mutex_t qmu;
	pthread_cond_t qcv;
	struct wreq *qhead, *qtail;
	int stopping;
	int writer_started;
	pthread_t writer;

	/* Serial reservations (jit_store_reserve_serial), guarded by smu. */
	pthread_mutex_t smu;
	uint64_t serial_mem;

	/* Versions and statistics, guarded by vmu. */
	pthread_mutex_t vmu;
	pthread_cond_t any_cv;
	pthread_cond_t slot_cv[NSLOTS];
	uint64_t version;
	uint64_t slot_version[NSLOTS];
	struct jit_store_stats stats;
};

/* ---- helpers -------------------------------------------------------- */

static int
map_err(int rc)
{
	switch (rc) {
	case 0:
		return 0;
	case MDB_NOTFOUND:
		return JIT_ERR_NOT_FOUND;
	case MDB_KEYEXIST:
		return JIT_ERR_CONFLICT;
	case MDB_MAP_FULL:
	case ENOSPC:
	case EDQUOT:
		return JIT_ERR_STORE_FULL;
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_INVALID:
	case MDB_VERSION_MISMATCH:
	case MDB_INCOMPATIBLE:
		return JIT_ERR_STORE_CORRUPT;
	case EACCES:
	case EPERM:
	case EROFS:
		return JIT_ERR_PERMISSION;
	case ENOENT:
		return JIT_ERR_NOT_FOUND;
	case ENOMEM:
		return JIT_ERR_ALLOC;
	default:
		return JIT_ERR_STORE;
	}
}

static void
put_be64(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
}

static uint64_t
get_be64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

static unsigned
slot_of(const char *id)
{
	uint32_t h = 2166136261u;  /* FNV-1a */

	for (; *id != '\0'; id++) {
		h ^= (unsigned char)*id;
		h *= 16777619u;
	}
	return h % NSLOTS;
}

/* A string member that is present, has no embedded NUL, is non-empty and
 * not longer than max; NULL otherwise. */
static const char *
get_name(const json_t *o, const char *key, size_t max)
{
	json_t *v = json_object_get(o, key);
	const char *s;
	size_t n;

	if (!json_is_string(v))
		return NULL;
	s = json_string_value(v);
	n = json_string_length(v);
	if (n == 0 || n > max || strlen(s) != n)
		return NULL;
	return s;
}

static int
check_name(const char *s, size_t max)
{
	size_t n;

	if (s == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	n = strlen(s);
	return (n == 0 || n > max) ? JIT_ERR_INVALID_ARGUMENT : 0;
}

/* Parse stored JSON; a record that does not parse is corruption. */
static int
parse_json(const void *data, size_t len, size_t flags, json_t **out)
{
	json_error_t e;

	*out = json_loadb(data, len, flags, &e);
	return *out == NULL ? JIT_ERR_STORE_CORRUPT : 0;
}

static int
dump_json(const json_t *j, size_t flags, char **out, size_t *len)
{
	*out = json_dumps(j, flags | JSON_COMPACT);
	if (*out == NULL)
		return JIT_ERR_ALLOC;
	*len = strlen(*out);
	return 0;
}

static int
need_write(struct jit_store_txn *t)
{
	if (t == NULL || t->txn == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	return t->write ? 0 : JIT_ERR_PERMISSION;
}

static int
meta_get_u64(struct jit_store_txn *t, const char *name, uint64_t dflt,
    uint64_t *v)
{
	MDB_val k = { strlen(name), (void *)name }, d;
	int rc;

	rc = mdb_get(t->txn, t->s->dbi[DB_META], &k, &d);
	if (rc == MDB_NOTFOUND) {
		*v = dflt;
		return 0;
	}
	if (rc != 0)
		return map_err(rc);
	if (d.mv_size != 8)
		return JIT_ERR_STORE_CORRUPT;
	*v = get_be64(d.mv_data);
	return 0;
}

static int
meta_put_u64(struct jit_store_txn *t, const char *name, uint64_t v)
{
	unsigned char b[8];
	MDB_val k = { strlen(name), (void *)name }, d = { 8, b };

	put_be64(b, v);
	return map_err(mdb_put(t->txn, t->s->dbi[DB_META], &k, &d, 0));
}

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

static int migrate_v1(struct jit_store_txn *t);

static int
open_dbis(struct jit_store *s)
{
	struct jit_store_txn t = { 0 };
	unsigned ro = (s->flags & JIT_STORE_READONLY) != 0;
	uint64_t schema;
	int r = JIT_ERR_INTERNAL, rc;

	rc = mdb_txn_begin(s->env, NULL, ro ? MDB_RDONLY : 0, &t.txn);
	if (rc != 0)
		return map_err(rc);
	t.s = s;
	t.write = !ro;
	for (int i = 0; i < DB_COUNT; i++) {
		rc = mdb_dbi_open(t.txn, db_names[i], ro ? 0 : MDB_CREATE,
		    &s->dbi[i]);
		/* Schema 1 had no by_deadline; only the sweeper (a writer,
		 * which migrates first) uses it. */
		if (rc == MDB_NOTFOUND && ro && i == DB_BY_DEADLINE) {
			s->no_deadline_db = 1;
			continue;
		}
		if (rc != 0) {
			r = map_err(rc);
			goto fail;
		}
	}
	if ((r = meta_get_u64(&t, "schema", 0, &schema)) != 0)
		goto fail;
	if (schema > SCHEMA_VERSION) {
		r = JIT_ERR_STORE_CORRUPT;  /* written by a newer version */
		goto fail;
	}
	/* A schema 1 store (request values without the index header) is
	 * rewritten in this transaction when opened for writing; read-only,
	 * it is read as it is. */
	s->schema = schema == 0 ? SCHEMA_VERSION : schema;
	if (!ro && schema == 1) {
		if ((r = migrate_v1(&t)) != 0)
			goto fail;
		s->schema = SCHEMA_VERSION;
	}
	/* Committing (even a read-only transaction) keeps the handles
	 * open for the life of the environment; an abort would close them. */
	if (!ro && schema != SCHEMA_VERSION &&
	    (r = meta_put_u64(&t, "schema", SCHEMA_VERSION)) != 0)
		goto fail;
	return map_err(mdb_txn_commit(t.txn));
fail:
	mdb_txn_abort(t.txn);
	return r;
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
	pthread_condattr_t ca;
	unsigned envflags = MDB_NOTLS;
	uint64_t map_size;
	int r = JIT_ERR_INTERNAL, rc, cv_init = 0;

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

	/* Wait deadlines use the monotonic clock so a wall-clock step does
	 * not stretch or cut a long-poll. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&s->qmu, NULL);
	pthread_cond_init(&s->qcv, NULL);
	pthread_mutex_init(&s->vmu, NULL);
	pthread_mutex_init(&s->smu, NULL);
	pthread_cond_init(&s->any_cv, &ca);
	for (int i = 0; i < NSLOTS; i++)
		pthread_cond_init(&s->slot_cv[i], &ca);
	pthread_condattr_destroy(&ca);
	cv_init = 1;

	if ((rc = mdb_env_create(&s->env)) != 0) {
		r = map_err(rc);
		goto fail;
	}
	if ((rc = mdb_env_set_maxdbs(s->env, DB_COUNT + 2)) != 0 ||
	    (rc = mdb_env_set_maxreaders(s->env, MAX_READERS)) != 0 ||
	    (rc = mdb_env_set_mapsize(s->env, (size_t)map_size)) != 0) {
		r = map_err(rc);
		goto fail;
	}
	if (s->flags & JIT_STORE_READONLY)
		envflags |= MDB_RDONLY;
	/* Default durability: every commit fsyncs data and meta pages. */
	if ((rc = mdb_env_open(s->env, dir, envflags, 0600)) != 0) {
		r = map_err(rc);
		goto fail;
	}
	/* Free reader slots left behind by processes that died (kill -9). */
	(void)mdb_reader_check(s->env, NULL);
	if ((r = open_dbis(s)) != 0)
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
	if (cv_init) {
		pthread_mutex_destroy(&s->qmu);
		pthread_cond_destroy(&s->qcv);
		pthread_mutex_destroy(&s->vmu);
		pthread_mutex_destroy(&s->smu);
		pthread_cond_destroy(&s->any_cv);
		for (int i = 0; i < NSLOTS; i++)
			pthread_cond_destroy(&s->slot_cv[i]);
	}
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
	pthread_mutex_destroy(&s->qmu);
	pthread_cond_destroy(&s->qcv);
	pthread_mutex_destroy(&s->vmu);
	pthread_mutex_destroy(&s->smu);
	pthread_cond_destroy(&s->any_cv);
	for (int i = 0; i < NSLOTS; i++)
		pthread_cond_destroy(&s->slot_cv[i]);
	/* Closing the descriptor releases the flock. */
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	free(s);
}

/* ---- the writer thread (group commit) -------------------------------- */

/*
 * Run one batch: a parent transaction, one nested transaction per
 * closure, one commit.  A nested transaction that is aborted discards
 * only its own changes, which is what lets one closure fail without
 * affecting the rest of its batch.
 */
static void
run_batch(struct jit_store *s, struct wreq *batch, size_t n)
{
	unsigned char slots[NSLOTS / 8] = { 0 };
	MDB_txn *parent = NULL;
	struct wreq *w;
	size_t ok = 0, failed = 0;
	int rc, r;

	rc = mdb_txn_begin(s->env, NULL, 0, &parent);
	for (w = batch; w != NULL; w = w->next) {
		struct jit_store_txn t = { 0 };

		if (rc != 0) {
			w->result = map_err(rc);
			failed++;
			continue;
		}
		t.s = s;
		t.write = 1;
		if ((r = mdb_txn_begin(s->env, parent, 0, &t.txn)) != 0) {
			w->result = map_err(r);
			failed++;
			continue;
		}
		r = w->fn(&t, w->ctx);
		if (r == 0)
			r = map_err(mdb_txn_commit(t.txn));
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
				r = map_err(rc);
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
			if (slots[i / 8] & (1u << (i % 8))) {
				s->slot_version[i] = s->version;
				pthread_cond_broadcast(&s->slot_cv[i]);
			}
		}
		pthread_cond_broadcast(&s->any_cv);
	}
	pthread_mutex_unlock(&s->vmu);
}

static void *
writer_main(void *arg)
{
	struct jit_store *s = arg;
	struct wreq *batch, *last, *w;
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
			struct wreq *next = w->next;

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
	struct wreq w;

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
		return map_err(rc);
	t.s = s;
	r = fn(&t, ctx);
	mdb_txn_abort(t.txn);
	return r;
}

/* ---- requests ------------------------------------------------------- */

int
jit_store_new_request_id(char out[JIT_REQUEST_ID_LEN])
{
	static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";
	unsigned char rnd[12];

	out[0] = '\0';
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return JIT_ERR_CRYPTO;
	out[0] = 'r';
	out[1] = '-';
	for (int i = 0; i < 12; i++)
		out[2 + i] = b32[rnd[i] & 31];
	out[14] = '\0';
	return 0;
}

/* key = name NUL be64(seq) */
static int
index_key(const char *name, uint64_t seq, unsigned char *buf, size_t cap,
    MDB_val *k)
{
	size_t n = strlen(name);

	if (n + 9 > cap)
		return JIT_ERR_INVALID_ARGUMENT;
	memcpy(buf, name, n);
	buf[n] = '\0';
	put_be64(buf + n + 1, seq);
	k->mv_data = buf;
	k->mv_size = n + 9;
	return 0;
}

static int
index_put(struct jit_store_txn *t, int db, const char *name, uint64_t seq,
    const char *id)
{
	unsigned char kb[MAX_NAME + 9];
	MDB_val k, d = { strlen(id), (void *)id };
	int r;

	if ((r = index_key(name, seq, kb, sizeof(kb), &k)) != 0)
		return r;
	return map_err(mdb_put(t->txn, t->s->dbi[db], &k, &d, 0));
}

static int
index_del(struct jit_store_txn *t, int db, const char *name, uint64_t seq)
{
	unsigned char kb[MAX_NAME + 9];
	MDB_val k;
	int r, rc;

	if ((r = index_key(name, seq, kb, sizeof(kb), &k)) != 0)
		return r;
	rc = mdb_del(t->txn, t->s->dbi[db], &k, NULL);
	/* A missing index entry is tolerated: the goal state is reached. */
	return rc == MDB_NOTFOUND ? 0 : map_err(rc);
}

static void
mark_changed(struct jit_store_txn *t, const char *id)
{
	unsigned slot = slot_of(id);

	t->slots[slot / 8] |= (unsigned char)(1u << (slot % 8));
}

/* The fixed part of a stored request's header (store.c's top comment). */
#define REQ_FIXED 16

/* A stored request's header, pointing into the value. */
struct req_head {
	uint64_t seq;
	uint64_t deadline;
	const char *state, *user;    /* not NUL-terminated */
	size_t slen, ulen;
	size_t json_off;
};

static int
head_parse(const struct jit_store *s, const MDB_val *d, struct req_head *h)
{
	const unsigned char *p = d->mv_data;
	size_t n = d->mv_size, off;

	memset(h, 0, sizeof(*h));
	if (s->schema == 1) {
		/* Read-only view of a store not yet rewritten. */
		if (n < 8 + 2)
			return JIT_ERR_STORE_CORRUPT;
		h->seq = get_be64(p);
		h->json_off = 8;
		return 0;
	}
	if (n < REQ_FIXED + 2)
		return JIT_ERR_STORE_CORRUPT;
	h->seq = get_be64(p);
	h->deadline = get_be64(p + 8);
	off = REQ_FIXED;
	h->slen = p[off++];
	if (h->slen == 0 || h->slen >= n - off)
		return JIT_ERR_STORE_CORRUPT;
	h->state = (const char *)p + off;
	off += h->slen;
	h->ulen = p[off++];
	if (h->ulen == 0 || h->ulen > n - off || n - off - h->ulen < 2)
		return JIT_ERR_STORE_CORRUPT;
	h->user = (const char *)p + off;
	h->json_off = off + h->ulen;
	return 0;
}

/* The sweeper's deadline of a request in state `state`, 0 if none. */
static uint64_t
deadline_of(const json_t *req, const char *state)
{
	const char *key = strcmp(state, "pending") == 0 ? "expires_at" :
	    strcmp(state, "approved") == 0 ? "not_after" : NULL;
	json_t *v = key != NULL ? json_object_get(req, key) : NULL;
	uint64_t t;

	if (!json_is_string(v) || jit_parse_time(json_string_value(v), &t)
	    != 0)
		return 0;
	return t;
}

/* A stored request value: header || js (the request's JSON, jl bytes). */
static int
request_value_js(const char *js, size_t jl, uint64_t seq, uint64_t deadline,
    const char *state, const char *user, unsigned char **out, size_t *len)
{
	size_t slen = strlen(state), ulen = strlen(user), hl;
	unsigned char *p;

	*out = NULL;
	if (slen == 0 || slen > MAX_NAME || ulen == 0 || ulen > MAX_NAME)
		return JIT_ERR_INVALID_ARGUMENT;
	hl = REQ_FIXED + 2 + slen + ulen;
	if (jl > SIZE_MAX - hl || (p = malloc(hl + jl)) == NULL)
		return JIT_ERR_ALLOC;
	put_be64(p, seq);
	put_be64(p + 8, deadline);
	p[REQ_FIXED] = (unsigned char)slen;
	memcpy(p + REQ_FIXED + 1, state, slen);
	p[REQ_FIXED + 1 + slen] = (unsigned char)ulen;
	memcpy(p + REQ_FIXED + 2 + slen, user, ulen);
	memcpy(p + hl, js, jl);
	*out = p;
	*len = hl + jl;
	return 0;
}

/* Serialise a request as its header || JSON. */
static int
request_value(const json_t *req, uint64_t seq, uint64_t deadline,
    const char *state, const char *user, unsigned char **out, size_t *len)
{
	char *js;
	size_t jl;
	int r;

	*out = NULL;
	if ((r = dump_json(req, 0, &js, &jl)) != 0)
		return r;
	r = request_value_js(js, jl, seq, deadline, state, user, out, len);
	free(js);
	return r;
}

static int
request_parse(const struct jit_store *s, const MDB_val *d, json_t **out,
    uint64_t *seq)
{
	struct req_head h;
	int r;

	*out = NULL;
	if ((r = head_parse(s, d, &h)) != 0)
		return r;
	if (seq != NULL)
		*seq = h.seq;
	if ((r = parse_json((const char *)d->mv_data + h.json_off,
	    d->mv_size - h.json_off, 0, out)) != 0)
		return r;
	if (!json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		return JIT_ERR_STORE_CORRUPT;
	}
	return 0;
}

static int
request_fields(const json_t *req, const char **id, const char **state,
    const char **user)
{
	if (!json_is_object(req))
		return JIT_ERR_INVALID_ARGUMENT;
	*id = get_name(req, "id", MAX_ID);
	*state = get_name(req, "state", MAX_NAME);
	*user = get_name(req, "user", MAX_NAME);
	if (*id == NULL || *state == NULL || *user == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	return 0;
}

/* by_deadline key: be64(deadline) || be64(seq). */
static int
deadline_put(struct jit_store_txn *t, uint64_t deadline, uint64_t seq,
    const char *id)
{
	unsigned char kb[16];
	MDB_val k = { sizeof(kb), kb }, d = { strlen(id), (void *)id };

	if (deadline == 0)
		return 0;
	put_be64(kb, deadline);
	put_be64(kb + 8, seq);
	return map_err(mdb_put(t->txn, t->s->dbi[DB_BY_DEADLINE], &k, &d, 0));
}

static int
deadline_del(struct jit_store_txn *t, uint64_t deadline, uint64_t seq)
{
	unsigned char kb[16];
	MDB_val k = { sizeof(kb), kb };
	int rc;

	if (deadline == 0)
		return 0;
	put_be64(kb, deadline);
	put_be64(kb + 8, seq);
	rc = mdb_del(t->txn, t->s->dbi[DB_BY_DEADLINE], &k, NULL);
	return rc == MDB_NOTFOUND ? 0 : map_err(rc);
}

/*
 * Rewrite a schema 1 store: every request value gets its header and, if
 * it has a deadline, a by_deadline entry.  Walks by_seq (not the requests
 * being rewritten).
 */
static int
migrate_v1(struct jit_store_txn *t)
{
	struct jit_store *s = t->s;
	MDB_cursor *cur = NULL;
	MDB_val k, d, rk, rd;
	int r = JIT_ERR_INTERNAL, rc;

	if ((rc = mdb_cursor_open(t->txn, s->dbi[DB_BY_SEQ], &cur)) != 0)
		return map_err(rc);
	s->schema = 1;
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		const char *id, *state, *user;
		unsigned char *val = NULL;
		json_t *req = NULL;
		uint64_t seq, dl;
		size_t vlen;

		rk = d;
		if ((rc = mdb_get(t->txn, s->dbi[DB_REQUESTS], &rk, &rd)) != 0) {
			r = rc == MDB_NOTFOUND ? JIT_ERR_STORE_CORRUPT :
			    map_err(rc);
			goto out;
		}
		if ((r = request_parse(s, &rd, &req, &seq)) != 0)
			goto out;
		if ((r = request_fields(req, &id, &state, &user)) != 0) {
			json_decref(req);
			r = JIT_ERR_STORE_CORRUPT;
			goto out;
		}
		dl = deadline_of(req, state);
		r = request_value(req, seq, dl, state, user, &val, &vlen);
		if (r == 0) {
			rd.mv_data = val;
			rd.mv_size = vlen;
			r = map_err(mdb_put(t->txn, s->dbi[DB_REQUESTS], &rk,
			    &rd, 0));
		}
		if (r == 0)
			r = deadline_put(t, dl, seq, id);
		free(val);
		json_decref(req);
		if (r != 0)
			goto out;
	}
	r = rc == MDB_NOTFOUND ? 0 : map_err(rc);
out:
	mdb_cursor_close(cur);
	s->schema = SCHEMA_VERSION;
	return r;
}

int
jit_store_create_request(struct jit_store_txn *t, json_t *req,
    uint64_t deadline, uint64_t *seq)
{
	return jit_store_create_request_encoded(t, req, NULL, 0, deadline, seq);
}

int
jit_store_create_request_encoded(struct jit_store_txn *t, json_t *req,
    const char *js, size_t jl, uint64_t deadline, uint64_t *seq)
{
	const char *id, *state, *user;
	unsigned char *val = NULL, sb[8];
	size_t vlen;
	uint64_t next, dl;
	MDB_val k, d;
	int r = JIT_ERR_INTERNAL, rc;

	if (seq != NULL)
		*seq = 0;
	if ((r = need_write(t)) != 0)
		return r;
	if (!json_is_object(req))
		return JIT_ERR_INVALID_ARGUMENT;
	if (json_object_get(req, "id") == NULL) {
		char nid[JIT_REQUEST_ID_LEN];

		if (js != NULL)
			return JIT_ERR_INVALID_ARGUMENT;  /* js lacks the id */

		/* 60 random bits: a clash is all but impossible, but a
		 * clash must not overwrite, so look before using. */
		for (int tries = 0;; tries++) {
			if (tries == 8)
				return JIT_ERR_INTERNAL;
			if ((r = jit_store_new_request_id(nid)) != 0)
				return r;
			k.mv_data = nid;
			k.mv_size = strlen(nid);
			rc = mdb_get(t->txn, t->s->dbi[DB_REQUESTS], &k, &d);
			if (rc == MDB_NOTFOUND)
				break;
			if (rc != 0)
				return map_err(rc);
		}
		if (json_object_set_new(req, "id", json_string(nid)) != 0)
			return JIT_ERR_ALLOC;
	}
	if ((r = request_fields(req, &id, &state, &user)) != 0)
		return r;
	if ((r = meta_get_u64(t, "next_request_seq", 1, &next)) != 0)
		return r;
	dl = deadline;
	if (js != NULL)
		r = request_value_js(js, jl, next, dl, state, user, &val,
		    &vlen);
	else
		r = request_value(req, next, dl, state, user, &val, &vlen);
	if (r != 0)
		return r;
	k.mv_data = (void *)id;
	k.mv_size = strlen(id);
	d.mv_data = val;
	d.mv_size = vlen;
	if ((r = map_err(mdb_put(t->txn, t->s->dbi[DB_REQUESTS], &k, &d,
	    MDB_NOOVERWRITE))) != 0)
		goto out;
	put_be64(sb, next);
	k.mv_data = sb;
	k.mv_size = 8;
	d.mv_data = (void *)id;
	d.mv_size = strlen(id);
	if ((r = map_err(mdb_put(t->txn, t->s->dbi[DB_BY_SEQ], &k, &d,
	    MDB_APPEND))) != 0)
		goto out;
	if ((r = index_put(t, DB_BY_STATE, state, next, id)) != 0 ||
	    (r = index_put(t, DB_BY_USER, user, next, id)) != 0 ||
	    (r = deadline_put(t, dl, next, id)) != 0 ||
	    (r = meta_put_u64(t, "next_request_seq", next + 1)) != 0)
		goto out;
	mark_changed(t, id);
	if (seq != NULL)
		*seq = next;
	r = 0;
out:
	free(val);
	return r;
}

/* Move an index entry from (old name, seq) to (new name, seq) if the name
 * changed; old is not NUL-terminated. */
static int
index_move(struct jit_store_txn *t, int db, const char *old, size_t olen,
    const char *name, uint64_t seq, const char *id)
{
	char ob[MAX_NAME + 1];
	int r;

	if (olen == strlen(name) && memcmp(old, name, olen) == 0)
		return 0;
	if (olen > MAX_NAME)
		return JIT_ERR_STORE_CORRUPT;
	memcpy(ob, old, olen);
	ob[olen] = '\0';
	if ((r = index_del(t, db, ob, seq)) != 0)
		return r;
	return index_put(t, db, name, seq, id);
}

/* A record's stored bytes: the compact JSON of an object. */
static int
encode_object(const json_t *obj, char **out, size_t *len)
{
	if (out != NULL)
		*out = NULL;
	if (len != NULL)
		*len = 0;
	if (out == NULL || len == NULL || !json_is_object(obj))
		return JIT_ERR_INVALID_ARGUMENT;
	return dump_json(obj, 0, out, len);
}

int
jit_store_encode_request(const json_t *req, char **out, size_t *len)
{
	return encode_object(req, out, len);
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
	const char *id, *state, *user;
	struct req_head h;
	unsigned char *val = NULL;
	size_t vlen;
	uint64_t dl;
	MDB_val k, d;
	int r = JIT_ERR_INTERNAL, rc;

	if ((r = need_write(t)) != 0)
		return r;
	if ((r = request_fields(req, &id, &state, &user)) != 0)
		return r;
	k.mv_data = (void *)id;
	k.mv_size = strlen(id);
	if ((rc = mdb_get(t->txn, t->s->dbi[DB_REQUESTS], &k, &d)) != 0)
		return map_err(rc);
	/* The old index keys come from the old value's header: no JSON. */
	if ((r = head_parse(t->s, &d, &h)) != 0)
		return r;
	dl = deadline;
	if ((r = index_move(t, DB_BY_STATE, h.state, h.slen, state, h.seq,
	    id)) != 0 ||
	    (r = index_move(t, DB_BY_USER, h.user, h.ulen, user, h.seq,
	    id)) != 0)
		goto out;
	if (dl != h.deadline && ((r = deadline_del(t, h.deadline, h.seq)) != 0
	    || (r = deadline_put(t, dl, h.seq, id)) != 0))
		goto out;
	if (js != NULL)
		r = request_value_js(js, jl, h.seq, dl, state, user, &val,
		    &vlen);
	else
		r = request_value(req, h.seq, dl, state, user, &val, &vlen);
	if (r != 0)
		goto out;
	d.mv_data = val;
	d.mv_size = vlen;
	if ((r = map_err(mdb_put(t->txn, t->s->dbi[DB_REQUESTS], &k, &d,
	    0))) != 0)
		goto out;
	mark_changed(t, id);
	r = 0;
out:
	free(val);
	return r;
}

int
jit_store_get_request(struct jit_store_txn *t, const char *id, json_t **out,
    uint64_t *seq)
{
	MDB_val k, d;
	int rc;

	if (out != NULL)
		*out = NULL;
	if (seq != NULL)
		*seq = 0;
	if (t == NULL || out == NULL || check_name(id, MAX_ID) != 0)
		return JIT_ERR_INVALID_ARGUMENT;
	k.mv_data = (void *)id;
	k.mv_size = strlen(id);
	if ((rc = mdb_get(t->txn, t->s->dbi[DB_REQUESTS], &k, &d)) != 0)
		return map_err(rc);
	return request_parse(t->s, &d, out, seq);
}

int
jit_store_get_request_raw(struct jit_store_txn *t, const char *id,
    json_t **out, void **raw, size_t *rawlen)
{
	MDB_val k, d;
	int r, rc;

	if (out != NULL)
		*out = NULL;
	if (raw != NULL)
		*raw = NULL;
	if (rawlen != NULL)
		*rawlen = 0;
	if (t == NULL || out == NULL || raw == NULL || rawlen == NULL ||
	    check_name(id, MAX_ID) != 0)
		return JIT_ERR_INVALID_ARGUMENT;
	k.mv_data = (void *)id;
	k.mv_size = strlen(id);
	if ((rc = mdb_get(t->txn, t->s->dbi[DB_REQUESTS], &k, &d)) != 0)
		return map_err(rc);
	if ((r = request_parse(t->s, &d, out, NULL)) != 0)
		return r;
	if ((*raw = malloc(d.mv_size)) == NULL) {
		json_decref(*out);
		*out = NULL;
		return JIT_ERR_ALLOC;
	}
	memcpy(*raw, d.mv_data, d.mv_size);
	*rawlen = d.mv_size;
	return 0;
}

int
jit_store_request_unchanged(struct jit_store_txn *t, const char *id,
    const void *raw, size_t rawlen)
{
	MDB_val k, d;
	int rc;

	if (t == NULL || raw == NULL || check_name(id, MAX_ID) != 0)
		return JIT_ERR_INVALID_ARGUMENT;
	k.mv_data = (void *)id;
	k.mv_size = strlen(id);
	if ((rc = mdb_get(t->txn, t->s->dbi[DB_REQUESTS], &k, &d)) != 0)
		return map_err(rc);
	return d.mv_size == rawlen && memcmp(d.mv_data, raw, rawlen) == 0 ?
	    0 : JIT_ERR_CONFLICT;
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

/*
 * Walk the entries of index db whose key is prefix || be64(seq), in seq
 * order, within the bounds of opt, calling cb for each request.  prefix
 * is empty for by_seq.  Only the matching range is visited.
 */
static int
walk_index(struct jit_store_txn *t, int db, const unsigned char *prefix,
    size_t plen, const struct jit_store_list *opt, jit_store_request_cb cb,
    void *ctx)
{
	static const struct jit_store_list all = { 0, 0, 0 };
	unsigned char kb[MAX_NAME + 9];
	MDB_cursor *cur = NULL;
	MDB_val k, d, rk, rd;
	size_t count = 0;
	uint64_t seq;
	int r = JIT_ERR_INTERNAL, rc;

	if (opt == NULL)
		opt = &all;
	if (plen + 8 > sizeof(kb))
		return JIT_ERR_INVALID_ARGUMENT;
	if (!opt->descending && opt->after == UINT64_MAX)
		return 0;
	memcpy(kb, prefix, plen);
	if (opt->descending)
		put_be64(kb + plen, opt->after ? opt->after : UINT64_MAX);
	else
		put_be64(kb + plen, opt->after + 1);
	if ((rc = mdb_cursor_open(t->txn, t->s->dbi[db], &cur)) != 0)
		return map_err(rc);
	k.mv_data = kb;
	k.mv_size = plen + 8;
	rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE);
	if (opt->descending) {
		/* SET_RANGE lands on the first key >= the bound; everything
		 * wanted lies before it. */
		if (rc == MDB_NOTFOUND)
			rc = mdb_cursor_get(cur, &k, &d, MDB_LAST);
		else if (rc == 0)
			rc = mdb_cursor_get(cur, &k, &d, MDB_PREV);
	}
	for (;;) {
		json_t *req = NULL;

		if (rc == MDB_NOTFOUND)
			break;
		if (rc != 0) {
			r = map_err(rc);
			goto out;
		}
		if (k.mv_size != plen + 8 || memcmp(k.mv_data, prefix, plen) != 0)
			break;  /* left the range */
		if (opt->limit != 0 && count >= opt->limit)
			break;
		seq = get_be64((const unsigned char *)k.mv_data + plen);
		rk = d;
		if ((rc = mdb_get(t->txn, t->s->dbi[DB_REQUESTS], &rk, &rd))
		    != 0) {
			/* An index entry without its request. */
			r = rc == MDB_NOTFOUND ? JIT_ERR_STORE_CORRUPT :
			    map_err(rc);
			goto out;
		}
		if ((r = request_parse(t->s, &rd, &req, NULL)) != 0)
			goto out;
		count++;
		r = cb(req, seq, ctx);
		json_decref(req);
		if (r < 0)
			goto out;
		if (r > 0)
			break;
		rc = mdb_cursor_get(cur, &k, &d,
		    opt->descending ? MDB_PREV : MDB_NEXT);
	}
	r = 0;
out:
	mdb_cursor_close(cur);
	return r;
}

static int
walk_named(struct jit_store_txn *t, int db, const char *name,
    const struct jit_store_list *opt, jit_store_request_cb cb, void *ctx)
{
	if (t == NULL || cb == NULL || check_name(name, MAX_NAME) != 0)
		return JIT_ERR_INVALID_ARGUMENT;
	/* The prefix includes the NUL so "pend" never matches "pending". */
	return walk_index(t, db, (const unsigned char *)name,
	    strlen(name) + 1, opt, cb, ctx);
}

int
jit_store_list_by_state(struct jit_store_txn *t, const char *state,
    const struct jit_store_list *opt, jit_store_request_cb cb, void *ctx)
{
	return walk_named(t, DB_BY_STATE, state, opt, cb, ctx);
}

int
jit_store_list_by_user(struct jit_store_txn *t, const char *user,
    const struct jit_store_list *opt, jit_store_request_cb cb, void *ctx)
{
	return walk_named(t, DB_BY_USER, user, opt, cb, ctx);
}

int
jit_store_list_all(struct jit_store_txn *t, const struct jit_store_list *opt,
    jit_store_request_cb cb, void *ctx)
{
	if (t == NULL || cb == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	return walk_index(t, DB_BY_SEQ, (const unsigned char *)"", 0, opt, cb,
	    ctx);
}

int
jit_store_list_due(struct jit_store_txn *t, uint64_t now,
    jit_store_request_cb cb, void *ctx)
{
	unsigned char kb[16];
	MDB_cursor *cur = NULL;
	MDB_val k = { sizeof(kb), kb }, d, rd;
	int r = JIT_ERR_INTERNAL, rc;

	if (t == NULL || cb == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	if (t->s->no_deadline_db)
		return 0;
	if ((rc = mdb_cursor_open(t->txn, t->s->dbi[DB_BY_DEADLINE], &cur))
	    != 0)
		return map_err(rc);
	memset(kb, 0, sizeof(kb));
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		json_t *req = NULL;

		if (k.mv_size != 16) {
			r = JIT_ERR_STORE_CORRUPT;
			goto out;
		}
		if (get_be64(k.mv_data) > now)
			break;
		if ((rc = mdb_get(t->txn, t->s->dbi[DB_REQUESTS], &d, &rd))
		    != 0) {
			r = rc == MDB_NOTFOUND ? JIT_ERR_STORE_CORRUPT :
			    map_err(rc);
			goto out;
		}
		if ((r = request_parse(t->s, &rd, &req, NULL)) != 0)
			goto out;
		r = cb(req, get_be64((const unsigned char *)k.mv_data + 8),
		    ctx);
		json_decref(req);
		if (r < 0)
			goto out;
		if (r > 0)
			break;
	}
	r = rc == 0 || rc == MDB_NOTFOUND ? 0 : map_err(rc);
out:
	mdb_cursor_close(cur);
	return r;
}

int
jit_store_count_by_state(struct jit_store_txn *t, const char *state,
    uint64_t *count)
{
	unsigned char kb[MAX_NAME + 9];
	MDB_cursor *cur = NULL;
	MDB_val k, d;
	size_t plen;
	int r, rc;

	if (count != NULL)
		*count = 0;
	if (t == NULL || count == NULL || check_name(state, MAX_NAME) != 0)
		return JIT_ERR_INVALID_ARGUMENT;
	if ((r = index_key(state, 0, kb, sizeof(kb), &k)) != 0)
		return r;
	plen = strlen(state) + 1;
	if ((rc = mdb_cursor_open(t->txn, t->s->dbi[DB_BY_STATE], &cur)) != 0)
		return map_err(rc);
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		if (k.mv_size != plen + 8 || memcmp(k.mv_data, kb, plen) != 0)
			break;
		(*count)++;
	}
	mdb_cursor_close(cur);
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : map_err(rc);
}

/* ---- certificates --------------------------------------------------- */

int
jit_store_next_serial(struct jit_store_txn *t, uint64_t *serial)
{
	uint64_t next;
	int r;

	if (serial != NULL)
		*serial = 0;
	if (serial == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	if ((r = need_write(t)) != 0)
		return r;
	if ((r = meta_get_u64(t, "next_serial", 1, &next)) != 0)
		return r;
	if (next == 0 || next == UINT64_MAX)
		return JIT_ERR_STORE_FULL;  /* 2^64 certificates later */
	if ((r = meta_put_u64(t, "next_serial", next + 1)) != 0)
		return r;
	*serial = next;
	return 0;
}

/*
 * Reservations hand out serials from an in-memory counter that never goes
 * below the stored next_serial of the snapshot t, so a serial is never
 * given out twice by this process, and never one that a committed
 * transaction (of any process) already allocated.  The claim in the
 * issuing transaction moves next_serial past it, so after a restart the
 * counter starts above every stored serial.  A reservation that is never
 * claimed leaves a gap; nothing signed with it left the process.
 */
int
jit_store_reserve_serial(struct jit_store_txn *t, uint64_t *serial)
{
	uint64_t next;
	int r;

	if (serial != NULL)
		*serial = 0;
	if (t == NULL || t->txn == NULL || serial == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	if ((r = meta_get_u64(t, "next_serial", 1, &next)) != 0)
		return r;
	pthread_mutex_lock(&t->s->smu);
	if (t->s->serial_mem < next)
		t->s->serial_mem = next;
	if (t->s->serial_mem == 0 || t->s->serial_mem == UINT64_MAX) {
		pthread_mutex_unlock(&t->s->smu);
		return JIT_ERR_STORE_FULL;
	}
	*serial = t->s->serial_mem++;
	pthread_mutex_unlock(&t->s->smu);
	return 0;
}

int
jit_store_claim_serial(struct jit_store_txn *t, uint64_t serial)
{
	unsigned char kb[8];
	MDB_val k = { 8, kb }, d;
	uint64_t next;
	int r, rc;

	if ((r = need_write(t)) != 0)
		return r;
	if (serial == 0 || serial == UINT64_MAX)
		return JIT_ERR_INVALID_ARGUMENT;
	put_be64(kb, serial);
	rc = mdb_get(t->txn, t->s->dbi[DB_CERTS], &k, &d);
	if (rc == 0)
		return JIT_ERR_CONFLICT;
	if (rc != MDB_NOTFOUND)
		return map_err(rc);
	if ((r = meta_get_u64(t, "next_serial", 1, &next)) != 0)
		return r;
	if (serial >= next)
		return meta_put_u64(t, "next_serial", serial + 1);
	return 0;
}

int
jit_store_encode_cert(const json_t *rec, char **out, size_t *len)
{
	return encode_object(rec, out, len);
}

int
jit_store_put_cert_encoded(struct jit_store_txn *t, uint64_t serial,
    const char *js, size_t jl)
{
	unsigned char kb[8];
	MDB_val k = { 8, kb }, d;
	int r;

	if ((r = need_write(t)) != 0)
		return r;
	if (serial == 0 || js == NULL || jl == 0)
		return JIT_ERR_INVALID_ARGUMENT;
	put_be64(kb, serial);
	d.mv_data = (void *)js;
	d.mv_size = jl;
	return map_err(mdb_put(t->txn, t->s->dbi[DB_CERTS], &k, &d,
	    MDB_NOOVERWRITE));
}

int
jit_store_put_cert(struct jit_store_txn *t, uint64_t serial,
    const json_t *rec)
{
	char *js;
	size_t jl;
	int r;

	if ((r = need_write(t)) != 0)
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
	unsigned char kb[8];
	MDB_val k = { 8, kb }, d;
	int rc;

	if (out != NULL)
		*out = NULL;
	if (t == NULL || out == NULL || serial == 0)
		return JIT_ERR_INVALID_ARGUMENT;
	put_be64(kb, serial);
	if ((rc = mdb_get(t->txn, t->s->dbi[DB_CERTS], &k, &d)) != 0)
		return map_err(rc);
	return parse_json(d.mv_data, d.mv_size, 0, out);
}

int
jit_store_list_certs(struct jit_store_txn *t, uint64_t after, size_t limit,
    jit_store_cert_cb cb, void *ctx)
{
	unsigned char kb[8];
	MDB_cursor *cur = NULL;
	MDB_val k = { 8, kb }, d;
	size_t count = 0;
	int r = 0, rc;

	if (t == NULL || cb == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	if (after == UINT64_MAX)
		return 0;
	put_be64(kb, after + 1);
	if ((rc = mdb_cursor_open(t->txn, t->s->dbi[DB_CERTS], &cur)) != 0)
		return map_err(rc);
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		json_t *rec;

		if (limit != 0 && count >= limit)
			break;
		if (k.mv_size != 8) {
			r = JIT_ERR_STORE_CORRUPT;
			break;
		}
		if ((r = parse_json(d.mv_data, d.mv_size, 0, &rec)) != 0)
			break;
		count++;
		r = cb(rec, get_be64(k.mv_data), ctx);
		json_decref(rec);
		if (r != 0)
			break;
	}
	mdb_cursor_close(cur);
	if (r != 0)
		return r > 0 ? 0 : r;
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : map_err(rc);
}

/* ---- tokens --------------------------------------------------------- */

void
jit_store_token_hash(const char *token, unsigned char hash[JIT_TOKEN_HASH_LEN])
{
	SHA256((const unsigned char *)token, strlen(token), hash);
}

int
jit_store_get_token(struct jit_store_txn *t,
    const unsigned char hash[JIT_TOKEN_HASH_LEN], json_t **out)
{
	MDB_val k = { JIT_TOKEN_HASH_LEN, (void *)hash }, d;
	int rc;

	if (out != NULL)
		*out = NULL;
	if (t == NULL || hash == NULL || out == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	if ((rc = mdb_get(t->txn, t->s->dbi[DB_TOKENS], &k, &d)) != 0)
		return map_err(rc);
	return parse_json(d.mv_data, d.mv_size, 0, out);
}

int
jit_store_put_token(struct jit_store_txn *t,
    const unsigned char hash[JIT_TOKEN_HASH_LEN], const json_t *rec)
{
	MDB_val hk = { JIT_TOKEN_HASH_LEN, (void *)hash }, ik, d;
	const char *id, *oid;
	json_t *old = NULL;
	char *js = NULL;
	size_t jl;
	int r = JIT_ERR_INTERNAL, rc;

	if ((r = need_write(t)) != 0)
		return r;
	if (hash == NULL || !json_is_object(rec) ||
	    (id = get_name(rec, "id", MAX_ID)) == NULL ||
	    get_name(rec, "user", MAX_NAME) == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	ik.mv_data = (void *)id;
	ik.mv_size = strlen(id);
	rc = mdb_get(t->txn, t->s->dbi[DB_TOKEN_IDS], &ik, &d);
	if (rc == 0 && (d.mv_size != JIT_TOKEN_HASH_LEN ||
	    memcmp(d.mv_data, hash, JIT_TOKEN_HASH_LEN) != 0))
		return JIT_ERR_CONFLICT;
	if (rc != 0 && rc != MDB_NOTFOUND)
		return map_err(rc);
	/* Replacing a record that had another id: drop the stale id. */
	r = jit_store_get_token(t, hash, &old);
	if (r == 0 && (oid = get_name(old, "id", MAX_ID)) != NULL &&
	    strcmp(oid, id) != 0) {
		MDB_val ok = { strlen(oid), (void *)oid };

		rc = mdb_del(t->txn, t->s->dbi[DB_TOKEN_IDS], &ok, NULL);
		if (rc != 0 && rc != MDB_NOTFOUND) {
			r = map_err(rc);
			goto out;
		}
	} else if (r != 0 && r != JIT_ERR_NOT_FOUND) {
		goto out;
	}
	if ((r = dump_json(rec, 0, &js, &jl)) != 0)
		goto out;
	d.mv_data = js;
	d.mv_size = jl;
	if ((r = map_err(mdb_put(t->txn, t->s->dbi[DB_TOKENS], &hk, &d, 0)))
	    != 0)
		goto out;
	d = hk;
	r = map_err(mdb_put(t->txn, t->s->dbi[DB_TOKEN_IDS], &ik, &d, 0));
out:
	free(js);
	json_decref(old);
	return r;
}

int
jit_store_get_token_by_id(struct jit_store_txn *t, const char *id,
    unsigned char hash[JIT_TOKEN_HASH_LEN], json_t **out)
{
	unsigned char h[JIT_TOKEN_HASH_LEN];
	MDB_val k, d;
	int rc;

	if (out != NULL)
		*out = NULL;
	if (t == NULL || check_name(id, MAX_ID) != 0)
		return JIT_ERR_INVALID_ARGUMENT;
	k.mv_data = (void *)id;
	k.mv_size = strlen(id);
	if ((rc = mdb_get(t->txn, t->s->dbi[DB_TOKEN_IDS], &k, &d)) != 0)
		return map_err(rc);
	if (d.mv_size != JIT_TOKEN_HASH_LEN)
		return JIT_ERR_STORE_CORRUPT;
	memcpy(h, d.mv_data, sizeof(h));
	if (hash != NULL)
		memcpy(hash, h, sizeof(h));
	if (out == NULL)
		return 0;
	return jit_store_get_token(t, h, out);
}

int
jit_store_revoke_token(struct jit_store_txn *t, const char *id)
{
	unsigned char h[JIT_TOKEN_HASH_LEN];
	char now[JIT_TIME_LEN];
	json_t *rec = NULL;
	int r;

	if ((r = need_write(t)) != 0)
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
	unsigned char h[JIT_TOKEN_HASH_LEN];
	MDB_val hk = { JIT_TOKEN_HASH_LEN, h }, ik;
	int r, rc;

	if ((r = need_write(t)) != 0)
		return r;
	if ((r = jit_store_get_token_by_id(t, id, h, NULL)) != 0)
		return r;
	ik.mv_data = (void *)id;
	ik.mv_size = strlen(id);
	rc = mdb_del(t->txn, t->s->dbi[DB_TOKENS], &hk, NULL);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return map_err(rc);
	return map_err(mdb_del(t->txn, t->s->dbi[DB_TOKEN_IDS], &ik, NULL));
}

int
jit_store_list_tokens(struct jit_store_txn *t, jit_store_token_cb cb,
    void *ctx)
{
	MDB_cursor *cur = NULL;
	MDB_val k, d;
	int r = 0, rc;

	if (t == NULL || cb == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	if ((rc = mdb_cursor_open(t->txn, t->s->dbi[DB_TOKENS], &cur)) != 0)
		return map_err(rc);
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		unsigned char h[JIT_TOKEN_HASH_LEN];
		json_t *rec;

		if (k.mv_size != JIT_TOKEN_HASH_LEN) {
			r = JIT_ERR_STORE_CORRUPT;
			break;
		}
		memcpy(h, k.mv_data, sizeof(h));
		if ((r = parse_json(d.mv_data, d.mv_size, 0, &rec)) != 0)
			break;
		r = cb(h, rec, ctx);
		json_decref(rec);
		if (r != 0)
			break;
	}
	mdb_cursor_close(cur);
	if (r != 0)
		return r > 0 ? 0 : r;
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : map_err(rc);
}

/* ---- named values ---------------------------------------------------- */

int
jit_store_put_value(struct jit_store_txn *t, const char *key,
    const json_t *value)
{
	MDB_val k, d;
	char *js;
	size_t jl;
	int r;

	if ((r = need_write(t)) != 0)
		return r;
	if (check_name(key, MAX_NAME) != 0 || value == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	if ((r = dump_json(value, JSON_ENCODE_ANY, &js, &jl)) != 0)
		return r;
	k.mv_data = (void *)key;
	k.mv_size = strlen(key);
	d.mv_data = js;
	d.mv_size = jl;
	r = map_err(mdb_put(t->txn, t->s->dbi[DB_VALUES], &k, &d, 0));
	free(js);
	return r;
}

int
jit_store_get_value(struct jit_store_txn *t, const char *key, json_t **out)
{
	MDB_val k, d;
	int rc;

	if (out != NULL)
		*out = NULL;
	if (t == NULL || out == NULL || check_name(key, MAX_NAME) != 0)
		return JIT_ERR_INVALID_ARGUMENT;
	k.mv_data = (void *)key;
	k.mv_size = strlen(key);
	if ((rc = mdb_get(t->txn, t->s->dbi[DB_VALUES], &k, &d)) != 0)
		return map_err(rc);
	return parse_json(d.mv_data, d.mv_size, JSON_DECODE_ANY, out);
}

/* ---- audit storage ----------------------------------------------------- */

static int
copy_text(const MDB_val *d, char **json, size_t *len)
{
	if ((*json = malloc(d->mv_size + 1)) == NULL)
		return JIT_ERR_ALLOC;
	memcpy(*json, d->mv_data, d->mv_size);
	(*json)[d->mv_size] = '\0';
	if (len != NULL)
		*len = d->mv_size;
	return 0;
}

int
jit_store_audit_last(struct jit_store_txn *t, uint64_t *seq, char **json,
    size_t *len)
{
	MDB_cursor *cur = NULL;
	MDB_val k, d;
	int r = 0, rc;

	if (seq != NULL)
		*seq = 0;
	if (json != NULL)
		*json = NULL;
	if (len != NULL)
		*len = 0;
	if (t == NULL || seq == NULL || json == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	if ((rc = mdb_cursor_open(t->txn, t->s->dbi[DB_AUDIT], &cur)) != 0)
		return map_err(rc);
	rc = mdb_cursor_get(cur, &k, &d, MDB_LAST);
	if (rc == 0) {
		if (k.mv_size != 8)
			r = JIT_ERR_STORE_CORRUPT;
		else if ((r = copy_text(&d, json, len)) == 0)
			*seq = get_be64(k.mv_data);
	} else if (rc != MDB_NOTFOUND) {
		r = map_err(rc);
	}
	mdb_cursor_close(cur);
	return r;
}

#define AUDIT_HEAD_KEY "audit_head"  /* be64(seq) || 64 hex digits */

int
jit_store_audit_head(struct jit_store_txn *t, uint64_t *seq, char *hash_hex)
{
	MDB_val k = { sizeof(AUDIT_HEAD_KEY) - 1, AUDIT_HEAD_KEY }, d;
	int rc;

	if (seq != NULL)
		*seq = 0;
	if (hash_hex != NULL)
		hash_hex[0] = '\0';
	if (t == NULL || seq == NULL || hash_hex == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	rc = mdb_get(t->txn, t->s->dbi[DB_META], &k, &d);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return map_err(rc);
	if (d.mv_size != 8 + 64)
		return JIT_ERR_STORE_CORRUPT;
	*seq = get_be64(d.mv_data);
	memcpy(hash_hex, (const char *)d.mv_data + 8, 64);
	hash_hex[64] = '\0';
	return 0;
}

int
jit_store_audit_put(struct jit_store_txn *t, uint64_t seq,
    const char *hash_hex, const char *json, size_t len)
{
	MDB_cursor *cur = NULL;
	unsigned char kb[8], hb[8 + 64];
	MDB_val k, d;
	uint64_t last = 0;
	int r, rc;

	if ((r = need_write(t)) != 0)
		return r;
	if (json == NULL || len == 0 || seq == 0 || hash_hex == NULL ||
	    strlen(hash_hex) != 64)
		return JIT_ERR_INVALID_ARGUMENT;
	if ((rc = mdb_cursor_open(t->txn, t->s->dbi[DB_AUDIT], &cur)) != 0)
		return map_err(rc);
	rc = mdb_cursor_get(cur, &k, &d, MDB_LAST);
	if (rc == 0)
		last = k.mv_size == 8 ? get_be64(k.mv_data) : UINT64_MAX;
	mdb_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return map_err(rc);
	if (last == UINT64_MAX)
		return JIT_ERR_STORE_CORRUPT;
	if (seq != last + 1)
		return JIT_ERR_CONFLICT;
	{
		/* The recorded head must describe the last entry. */
		char hh[65];
		uint64_t hseq;

		if ((r = jit_store_audit_head(t, &hseq, hh)) != 0)
			return r;
		if (hseq != last && !(hseq == 0 && hh[0] == '\0'))
			return JIT_ERR_STORE_CORRUPT;
	}
	put_be64(kb, seq);
	k.mv_data = kb;
	k.mv_size = 8;
	d.mv_data = (void *)json;
	d.mv_size = len;
	if ((r = map_err(mdb_put(t->txn, t->s->dbi[DB_AUDIT], &k, &d,
	    MDB_APPEND))) != 0)
		return r;
	put_be64(hb, seq);
	memcpy(hb + 8, hash_hex, 64);
	k.mv_data = AUDIT_HEAD_KEY;
	k.mv_size = sizeof(AUDIT_HEAD_KEY) - 1;
	d.mv_data = hb;
	d.mv_size = sizeof(hb);
	return map_err(mdb_put(t->txn, t->s->dbi[DB_META], &k, &d, 0));
}

int
jit_store_audit_get(struct jit_store_txn *t, uint64_t seq, char **json,
    size_t *len)
{
	unsigned char kb[8];
	MDB_val k = { 8, kb }, d;
	int rc;

	if (json != NULL)
		*json = NULL;
	if (len != NULL)
		*len = 0;
	if (t == NULL || json == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	put_be64(kb, seq);
	if ((rc = mdb_get(t->txn, t->s->dbi[DB_AUDIT], &k, &d)) != 0)
		return map_err(rc);
	return copy_text(&d, json, len);
}

int
jit_store_audit_iter(struct jit_store_txn *t, uint64_t from_seq,
    jit_store_audit_cb cb, void *ctx)
{
	unsigned char kb[8];
	MDB_cursor *cur = NULL;
	MDB_val k = { 8, kb }, d;
	int r = 0, rc;

	if (t == NULL || cb == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	put_be64(kb, from_seq);
	if ((rc = mdb_cursor_open(t->txn, t->s->dbi[DB_AUDIT], &cur)) != 0)
		return map_err(rc);
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		if (k.mv_size != 8) {
			r = JIT_ERR_STORE_CORRUPT;
			break;
		}
		r = cb(get_be64(k.mv_data), d.mv_data, d.mv_size, ctx);
		if (r != 0)
			break;
	}
	mdb_cursor_close(cur);
	if (r != 0)
		return r > 0 ? 0 : r;
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : map_err(rc);
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
		unsigned slot = slot_of(id);

		ver = &s->slot_version[slot];
		cv = &s->slot_cv[slot];
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
