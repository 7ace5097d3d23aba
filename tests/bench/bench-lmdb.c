/*
 * bench-lmdb.c - durable write throughput of the store.
 *
 *   1. raw LMDB, one small put per transaction, default (fsync) mode:
 *      the ceiling a design without group commit lives under;
 *   2. the store, one caller: the same, plus the writer-thread hand-off;
 *   3. the store, N concurrent callers, group commit: writes/s, commits/s
 *      and the mean batch, for a small put and for a full issuance
 *      (serial + cert record + request update + audit entry).
 *
 * Usage: bench-lmdb [SECONDS-PER-RUN (default 2)] [DIR (default /tmp)]
 * Data goes to a fresh directory under DIR, removed afterwards; run it on
 * the disk the server will use.
 *
 * Outside api/store/ only this file and tests/unit/test-store.c (which
 * forges a schema 1 store) include lmdb.h: the raw baseline must measure
 * LMDB without the store in the way.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lmdb.h>

#include "audit.h"
#include "err.h"
#include "store.h"
#include "util.h"

static double run_secs = 2.0;
static char base[256] = "/tmp";

static char *
mkdir_tmp(void)
{
	char tmpl[300];

	snprintf(tmpl, sizeof(tmpl), "%s/jit-bench-lmdb-XXXXXX", base);
	if (mkdtemp(tmpl) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	return jit_strdup(tmpl);
}

static void
rm_tmp(char *dir)
{
	static const char *files[] = { "data.mdb", "lock.mdb", "server.lock" };
	char p[400];

	for (size_t i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
		unlink(p);
	}
	rmdir(dir);
	free(dir);
}

/* ---- 1. raw LMDB -------------------------------------------------------- */

static double
bench_raw(void)
{
	char *dir = mkdir_tmp();
	MDB_env *env;
	MDB_dbi dbi;
	MDB_txn *txn;
	uint64_t t0, n = 0, deadline;
	char key[32], val[] = "{\"state\":\"approved\",\"user\":\"alice\"}";
	double rate;

	if (mdb_env_create(&env) != 0 ||
	    mdb_env_set_mapsize(env, 1ull << 30) != 0 ||
	    mdb_env_open(env, dir, 0, 0600) != 0) {
		fprintf(stderr, "raw: cannot open env\n");
		exit(1);
	}
	mdb_txn_begin(env, NULL, 0, &txn);
	mdb_dbi_open(txn, NULL, 0, &dbi);
	mdb_txn_commit(txn);
	t0 = jit_monotonic_ms();
	deadline = t0 + (uint64_t)(run_secs * 1000);
	while (jit_monotonic_ms() < deadline) {
		MDB_val k, v = { sizeof(val) - 1, val };

		snprintf(key, sizeof(key), "k%020llu", (unsigned long long)n);
		k.mv_data = key;
		k.mv_size = strlen(key);
		if (mdb_txn_begin(env, NULL, 0, &txn) != 0 ||
		    mdb_put(txn, dbi, &k, &v, 0) != 0 ||
		    mdb_txn_commit(txn) != 0) {
			fprintf(stderr, "raw: write failed\n");
			exit(1);
		}
		n++;
	}
	rate = (double)n * 1000.0 / (double)(jit_monotonic_ms() - t0);
	mdb_env_close(env);
	rm_tmp(dir);
	return rate;
}

/* ---- 2, 3. the store --------------------------------------------------- */

struct small_ctx {
	uint64_t n;
};

static int
small_fn(struct jit_store_txn *t, void *ctx)
{
	struct small_ctx *c = ctx;
	char key[64];
	json_t *v = json_pack("{s:s, s:s}", "state", "approved", "user",
	    "alice");
	int r;

	snprintf(key, sizeof(key), "k%p-%020llu", (void *)c,
	    (unsigned long long)c->n);
	r = jit_store_put_value(t, key, v);
	json_decref(v);
	return r;
}

struct issue_ctx {
	const char *id;
	uint64_t serial;
};

/* What GET /v1/requests/ID/certificate writes. */
static int
issue_fn(struct jit_store_txn *t, void *ctx)
{
	struct issue_ctx *c = ctx;
	json_t *req = NULL, *rec = NULL, *a = NULL;
	int r;

	if ((r = jit_store_get_request(t, c->id, &req, NULL)) != 0)
		return r;
	if ((r = jit_store_next_serial(t, &c->serial)) != 0)
		goto out;
	rec = json_pack("{s:I, s:s, s:s, s:s, s:s}", "serial",
	    (json_int_t)c->serial, "request", c->id, "user", "alice",
	    "valid_before", "2026-11-30T08:42:00Z", "cert",
	    "ssh-ed25519-cert-v01@openssh.com AAAAIHNzaC1lZDI1NTE5LWNlcnQtdjAx"
	    "QG9wZW5zc2guY29tAAAAIB3x1HTVw7P1nY6ZQ1cKP0t0Q3l7Q1Wk4aQ2uRz0bJxK"
	    "AAAAIOVY8W5m0VjYSq1d2V9pYI3I1m2m5oBz0r6w7M3nZyKkAAAAAAAAAAEAAAAB"
	    "AAAAHGFsaWNlIHJlcT1yLWFiY2RlZmdoaWprbCByb2xlAAAADAAAAAhwb3N0Z3Jl"
	    "cwAAAABnRRRMAAAAAGdFIpgAAAAAAAAAEgAAAApwZXJtaXQtcHR5AAAAAAAAAAAA");
	if ((r = jit_store_put_cert(t, c->serial, rec)) != 0)
		goto out;
	json_object_set_new(req, "serial", json_integer((json_int_t)c->serial));
	if ((r = jit_store_put_request(t, req, 0)) != 0)
		goto out;
	a = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s}", "event", "cert.issue",
	    "actor", "alice", "request", c->id, "serial",
	    (json_int_t)c->serial, "key_fingerprint",
	    "SHA256:2r4fZHqHvFbq3M0X0i6Eo7xgYJq7nX9H5e2cXb3dXHk",
	    "valid_before", "2026-11-30T08:42:00Z");
	r = jit_audit_append(t, a, NULL, NULL);
out:
	json_decref(a);
	json_decref(rec);
	json_decref(req);
	return r;
}

static int
create_fn(struct jit_store_txn *t, void *ctx)
{
	json_t *req = json_pack("{s:s, s:s, s:s}", "user", "alice", "state",
	    "approved", "role", "prod-db");
	int r = jit_store_create_request(t, req, 0, NULL);

	if (r == 0)
		snprintf(ctx, JIT_REQUEST_ID_LEN, "%s",
		    json_string_value(json_object_get(req, "id")));
	json_decref(req);
	return r;
}

struct thr {
	struct jit_store *s;
	int issue;
	uint64_t deadline;
	uint64_t n;
	char id[JIT_REQUEST_ID_LEN];
	int err;
};

static void *
thr_main(void *arg)
{
	struct thr *th = arg;
	struct small_ctx sc = { 0 };
	struct issue_ctx ic = { th->id, 0 };
	int r;

	while (jit_monotonic_ms() < th->deadline) {
		if (th->issue)
			r = jit_store_write(th->s, issue_fn, &ic);
		else
			r = jit_store_write(th->s, small_fn, &sc);
		if (r != 0) {
			th->err = r;
			break;
		}
		sc.n++;
		th->n++;
	}
	return NULL;
}

static void
bench_store(int nthreads, int issue, double *wps, double *cps,
    double *batch)
{
	char *dir = mkdir_tmp();
	struct jit_store *s;
	struct jit_store_stats st;
	struct thr *th = calloc((size_t)nthreads, sizeof(*th));
	pthread_t *tid = calloc((size_t)nthreads, sizeof(*tid));
	uint64_t t0, total = 0, ms;
	int r;

	if ((r = jit_store_open(dir, JIT_STORE_SERVER, &s)) != 0) {
		fprintf(stderr, "store open: %s\n", jit_err(r));
		exit(1);
	}
	for (int i = 0; i < nthreads; i++) {
		th[i].s = s;
		th[i].issue = issue;
		if (issue && (r = jit_store_write(s, create_fn, th[i].id))
		    != 0) {
			fprintf(stderr, "create: %s\n", jit_err(r));
			exit(1);
		}
	}
	jit_store_get_stats(s, &st);
	t0 = jit_monotonic_ms();
	for (int i = 0; i < nthreads; i++) {
		th[i].deadline = t0 + (uint64_t)(run_secs * 1000);
		pthread_create(&tid[i], NULL, thr_main, &th[i]);
	}
	for (int i = 0; i < nthreads; i++) {
		pthread_join(tid[i], NULL);
		if (th[i].err != 0) {
			fprintf(stderr, "write: %s\n", jit_err(th[i].err));
			exit(1);
		}
		total += th[i].n;
	}
	ms = jit_monotonic_ms() - t0;
	{
		struct jit_store_stats st2;

		jit_store_get_stats(s, &st2);
		*wps = (double)total * 1000.0 / (double)ms;
		*cps = (double)(st2.commits - st.commits) * 1000.0 /
		    (double)ms;
		*batch = st2.commits > st.commits ? (double)total /
		    (double)(st2.commits - st.commits) : 0;
	}
	jit_store_close(s);
	rm_tmp(dir);
	free(th);
	free(tid);
}

int
main(int argc, char **argv)
{
	static const int threads[] = { 1, 2, 4, 8, 16, 32, 64, 128 };
	double raw, wps, cps, batch, one_small = 0;

	if (argc > 1)
		run_secs = atof(argv[1]);
	if (run_secs <= 0)
		run_secs = 2.0;
	if (argc > 2)
		snprintf(base, sizeof(base), "%s", argv[2]);
	printf("bench-lmdb: %.1f s per run, data under %s, %ld CPUs\n",
	    run_secs, base, sysconf(_SC_NPROCESSORS_ONLN));

	raw = bench_raw();
	printf("raw LMDB, 1 put per durable txn:      %8.0f commits/s\n", raw);

	for (int w = 0; w < 2; w++) {
		printf("\nstore, %s per write, group commit:\n",
		    w ? "full issuance (serial+cert+request+audit)" :
		    "one small put");
		printf("  %7s %12s %12s %10s %10s\n", "threads", "writes/s",
		    "commits/s", "per commit", "vs raw");
		for (size_t i = 0; i < sizeof(threads) / sizeof(threads[0]);
		    i++) {
			bench_store(threads[i], w, &wps, &cps, &batch);
			if (w == 0 && threads[i] == 1)
				one_small = wps;
			printf("  %7d %12.0f %12.0f %10.1f %9.1fx\n",
			    threads[i], wps, cps, batch, wps / raw);
			fflush(stdout);
		}
	}
	printf("\nwriter-thread hand-off cost at 1 thread: %.0f%% of raw\n",
	    one_small * 100.0 / raw);
	return 0;
}
