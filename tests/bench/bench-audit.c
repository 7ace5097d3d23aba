/*
 * bench-audit.c - signed audit export (audit_export.h) of large logs:
 * entries per second and peak memory, for 100,000 and 1,000,000 entries,
 * to show that memory stays flat as the log grows.
 *
 * For each size a fresh store is filled with realistic entries (a mix of
 * request.create, request.approve and cert.issue, ~500 bytes each, in
 * batches of 10,000 per write), then each export runs in a child process
 * of its own (so one run's memory does not hide another's):
 *   jsonl           the full log as JSON lines (no parsing: stored text)
 *   csv             the full log as CSV (every entry parsed and rendered)
 *   jsonl user=     a filter matching ~1/8 of the entries (every entry
 *                   parsed)
 *   verify          jit_audit_verify_file over the jsonl export (every
 *                   line parsed, re-serialised and hashed, plus the
 *                   signature)
 *   jit-ca export   the real CLI, `jit-ca audit export --data DIR -o F`,
 *   jit-ca verify   and `jit-ca audit verify F --data DIR`, when the
 *                   binary is found ($JIT_CA, else build-bench/api/jit-ca
 *                   or build/api/jit-ca); peak RSS is its ru_maxrss, as
 *                   /usr/bin/time -v reports it
 * Output goes to a file under DIR (needed for verify) and is removed.
 *
 * Figures: entries/s by CPU time (user + sys of the child, so a busy
 * machine does not skew them) and by wall time; peak RSS (VmHWM, which
 * counts the pages of the LMDB map the child touched: file-backed page
 * cache that the kernel can drop, and which grows with the log because
 * the whole map is read) and peak anonymous memory (RssAnon sampled every
 * 64 KiB of output: what the export itself allocates).  The anonymous
 * figure is the one that must not grow with the log.
 *
 * Usage: bench-audit [SECONDS (ignored; for run.sh)] [MAX (default
 *        1000000)] [DIR (default /tmp)]
 *        bench-audit --fill N DIR   (fill the store in DIR with N entries
 *        and exit; for bench-audit-http.sh)
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "audit_export.h"
#include "cadir.h"
#include "err.h"
#include "key.h"
#include "store.h"
#include "util.h"

#define BATCH 10000

static char base[256] = "/tmp";

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* kB value of a /proc/self/status line ("VmHWM", "RssAnon"). */
static long
status_kb(const char *name)
{
	char line[256];
	size_t n = strlen(name);
	long v = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, name, n) == 0 && line[n] == ':') {
			v = atol(line + n + 1);
			break;
		}
	fclose(f);
	return v;
}

static void
rm_store(const char *dir)
{
	static const char *files[] = { "data.mdb", "lock.mdb", "server.lock",
	    "export.jsonl" };
	char p[400];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
		unlink(p);
	}
	rmdir(dir);
}

struct fill {
	uint64_t from, n;
};

static const char *const users[] = { "alice", "bob", "carol", "dave",
	"erin", "frank", "gina", "hank" };

static int
fill_fn(struct jit_store_txn *t, void *vctx)
{
	struct fill *f = vctx;
	char ts[JIT_TIME_LEN], req[32], reason[96];
	uint64_t i;
	int r;

	for (i = f->from; i < f->from + f->n; i++) {
		const char *u = users[(i / 3) % 8];
		json_t *e;

		jit_format_time(1767225600ull + i, ts);
		snprintf(req, sizeof(req), "r-%012llu", (unsigned long long)
		    (i / 3));
		snprintf(reason, sizeof(reason), "INC-%llu database disk "
		    "usage above 90%%, \"vacuum\" needed", (unsigned long long)
		    (i / 3));
		switch (i % 3) {
		case 0:
			e = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:[s],s:s,s:i,"
			    "s:s,s:s,s:s,s:i}", "event", "request.create",
			    "actor", u, "user", u, "role", "prod-db", "request",
			    req, "time", ts, "principals", "postgres", "reason",
			    reason, "duration", 3600, "key_fingerprint",
			    "SHA256:3kTzqg5oJc1b2yA0mXhJ3q0cY4fXl0p2n8sH1YQe5sE",
			    "client_address", "10.1.2.3", "state", "pending",
			    "approvals_needed", 1);
			break;
		case 1:
			e = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:s}",
			    "event", "request.approve", "actor", "sre-oncall",
			    "user", u, "role", "prod-db", "request", req, "time",
			    ts, "comment", "ok, go ahead", "approvals", 1,
			    "state", "approved");
			break;
		default:
			e = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:s,s:[s],"
			    "s:s,s:s,s:s,s:s}", "event", "cert.issue", "actor", u,
			    "user", u, "role", "prod-db", "request", req, "time",
			    ts, "serial", (json_int_t)(i / 3 + 1), "key_id",
			    "alice req=r-000000000001 role=prod-db", "principals",
			    "postgres", "valid_after", ts, "valid_before", ts,
			    "key_fingerprint",
			    "SHA256:3kTzqg5oJc1b2yA0mXhJ3q0cY4fXl0p2n8sH1YQe5sE",
			    "ca_fingerprint",
			    "SHA256:Zb1Q4d0oG2mYJ4X8r3K7f9S2aT6vW1cE0hN5pL8uQxI");
			break;
		}
		if (e == NULL)
			return JIT_ERR_ALLOC;
		r = jit_audit_append(t, e, NULL, NULL);
		json_decref(e);
		if (r != 0)
			return r;
	}
	return 0;
}

struct result {
	double cpu, wall;
	long hwm_kb, anon_kb, anon_start_kb;
	uint64_t count, bytes;
	int rc;
};

/* In a child: export (or verify) and report through the pipe. */
static void
child(const char *dir, const char *query, int verify, int fd)
{
	struct result res;
	struct jit_store *s = NULL;
	struct jit_key *k = NULL;
	struct jit_audit_filter f;
	struct jit_audit_export *x = NULL;
	char path[400], buf[64 * 1024], err[256];
	double c0, w0;
	ssize_t n;
	FILE *out;
	unsigned chunks = 0;

	memset(&res, 0, sizeof(res));
	memset(&f, 0, sizeof(f));
	snprintf(path, sizeof(path), "%s/export.jsonl", dir);
	if (jit_key_generate(JIT_KEY_ED25519, 0, &k) != 0)
		_exit(1);
	if (verify) {
		/* The signer is another fresh key: verify checks everything,
		 * then reports the key mismatch at the very end. */
		struct jit_audit_verify_result vr;
		FILE *in = fopen(path, "r");
		if (in == NULL)
			_exit(1);
		res.anon_start_kb = status_kb("RssAnon");
		c0 = cpu_s();
		w0 = now_s();
		res.rc = jit_audit_verify_file(in, NULL, 0, k, &vr);
		res.cpu = cpu_s() - c0;
		res.wall = now_s() - w0;
		res.count = vr.count;
		res.anon_kb = status_kb("RssAnon");
		if (res.rc == JIT_ERR_SIGNATURE_INVALID &&
		    strstr(vr.error, "not by the expected key") != NULL)
			res.rc = 0;
		else if (res.rc != 0)
			fprintf(stderr, "verify: line %llu: %s\n",
			    (unsigned long long)vr.line, vr.error);
		fclose(in);
		goto done;
	}
	if (jit_audit_filter_parse_query(&f, query, err, sizeof(err)) != 0 ||
	    jit_store_open(dir, JIT_STORE_READONLY, &s) != 0)
		_exit(1);
	if ((out = fopen(path, "w")) == NULL)
		_exit(1);
	res.anon_start_kb = status_kb("RssAnon");
	c0 = cpu_s();
	w0 = now_s();
	if ((res.rc = jit_audit_export_new(s, &f, k,
	    JIT_AUDIT_EXPORT_INLINE_SIG, &x)) != 0)
		goto done;
	while ((n = jit_audit_export_read(x, buf, sizeof(buf))) > 0) {
		if (fwrite(buf, 1, (size_t)n, out) != (size_t)n)
			_exit(1);
		res.bytes += (uint64_t)n;
		if (++chunks % 16 == 0) {
			long a = status_kb("RssAnon");
			if (a > res.anon_kb)
				res.anon_kb = a;
		}
	}
	res.rc = (int)n;
	fflush(out);
	res.cpu = cpu_s() - c0;
	res.wall = now_s() - w0;
	jit_audit_export_info(x, &res.count, NULL, NULL, NULL);
	{
		long a = status_kb("RssAnon");
		if (a > res.anon_kb)
			res.anon_kb = a;
	}
	fclose(out);
	jit_audit_export_free(x);
	jit_store_close(s);
done:
	res.hwm_kb = status_kb("VmHWM");
	jit_audit_filter_release(&f);
	jit_key_free(k);
	if (write(fd, &res, sizeof(res)) != (ssize_t)sizeof(res))
		_exit(1);
	_exit(0);
}

static int
run(const char *dir, const char *label, const char *query, int verify,
    uint64_t n)
{
	struct result res;
	int p[2], st;
	pid_t pid;

	if (pipe(p) != 0)
		return -1;
	fflush(stdout);
	if ((pid = fork()) == 0) {
		close(p[0]);
		child(dir, query, verify, p[1]);
	}
	close(p[1]);
	memset(&res, 0, sizeof(res));
	if (read(p[0], &res, sizeof(res)) != (ssize_t)sizeof(res))
		res.rc = -1;
	close(p[0]);
	waitpid(pid, &st, 0);
	if (res.rc != 0) {
		printf("  %-16s failed: %s\n", label, jit_err(res.rc));
		return -1;
	}
	printf("  %-16s %9llu %8.1f %10.0f %10.0f %9.1f %8ld %9ld %9ld\n",
	    label, (unsigned long long)res.count, (double)res.bytes / 1e6,
	    (double)n / res.cpu, (double)n / res.wall, res.cpu,
	    res.anon_kb - res.anon_start_kb, res.anon_kb, res.hwm_kb);
	return 0;
}

/* Run the jit-ca binary with args; print CPU, wall and ru_maxrss. */
static void
run_cli(const char *jitca, const char *label, char *const args[],
    uint64_t n)
{
	struct rusage ru;
	double w0 = now_s(), cpu;
	pid_t pid;
	int st;

	fflush(stdout);
	if ((pid = fork()) == 0) {
		int fd = open("/dev/null", O_WRONLY);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(jitca, args);
		_exit(127);
	}
	if (pid < 0 || wait4(pid, &st, 0, &ru) != pid || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0) {
		printf("  %-16s failed\n", label);
		return;
	}
	cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	printf("  %-16s %9llu %8s %10.0f %10.0f %9.1f %8s %9s %9ld\n", label,
	    (unsigned long long)n, "", (double)n / cpu,
	    (double)n / (now_s() - w0), cpu, "", "", ru.ru_maxrss);
}

static const char *
find_jitca(void)
{
	static const char *const cands[] = { "build-bench/api/jit-ca",
	    "build/api/jit-ca" };
	const char *e = getenv("JIT_CA");

	if (e != NULL && access(e, X_OK) == 0)
		return e;
	for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]); i++)
		if (access(cands[i], X_OK) == 0)
			return cands[i];
	return NULL;
}

int
main(int argc, char **argv)
{
	uint64_t max = 1000000, sizes[2], i;
	const char *jitca;
	double t0, c0;

	if (argc == 4 && strcmp(argv[1], "--fill") == 0) {
		struct jit_store *s;
		int r;

		max = strtoull(argv[2], NULL, 10);
		if ((r = jit_store_open(argv[3], 0, &s)) != 0) {
			fprintf(stderr, "store: %s\n", jit_err(r));
			return 1;
		}
		for (i = 0; i < max; i += BATCH) {
			struct fill f = { i, max - i < BATCH ? max - i : BATCH };
			if ((r = jit_store_write(s, fill_fn, &f)) != 0) {
				fprintf(stderr, "fill: %s\n", jit_err(r));
				return 1;
			}
		}
		jit_store_close(s);
		return 0;
	}
	if (argc > 2)
		max = strtoull(argv[2], NULL, 10);
	if (argc > 3)
		snprintf(base, sizeof(base), "%s", argv[3]);
	if (max < 1000)
		max = 1000;
	jitca = find_jitca();
	sizes[0] = max / 10;
	sizes[1] = max;
	printf("== audit export (bench-audit): entries/s by CPU and wall time; "
	    "memory in kB\n");
	for (size_t si = 0; si < 2; si++) {
		uint64_t n = sizes[si];
		struct jit_store_options o;
		struct jit_store *s;
		char dir[300];
		int r;

		snprintf(dir, sizeof(dir), "%s/jit-bench-audit-XXXXXX", base);
		if (mkdtemp(dir) == NULL) {
			perror("mkdtemp");
			return 1;
		}
		memset(&o, 0, sizeof(o));
		o.map_size = 16ull << 30;
		if ((r = jit_store_open_opts(dir, &o, &s)) != 0) {
			fprintf(stderr, "store: %s\n", jit_err(r));
			return 1;
		}
		t0 = now_s();
		c0 = cpu_s();
		for (i = 0; i < n; i += BATCH) {
			struct fill f = { i, n - i < BATCH ? n - i : BATCH };
			if ((r = jit_store_write(s, fill_fn, &f)) != 0) {
				fprintf(stderr, "fill: %s\n", jit_err(r));
				return 1;
			}
		}
		jit_store_close(s);
		printf("%llu entries: filled in %.1f s (%.0f appends/s CPU)\n",
		    (unsigned long long)n, now_s() - t0,
		    (double)n / (cpu_s() - c0));
		printf("  %-16s %9s %8s %10s %10s %9s %8s %9s %9s\n", "run",
		    "entries", "MB", "ent/s cpu", "ent/s wall", "cpu s",
		    "+anon", "peak anon", "VmHWM");
		run(dir, "jsonl", "", 0, n);
		run(dir, "verify jsonl", "", 1, n);
		run(dir, "csv", "format=csv", 0, n);
		run(dir, "jsonl user=bob", "user=bob", 0, n);
		if (jitca != NULL && jit_cadir_create(dir, JIT_KEY_ED25519, 0,
		    NULL) == 0) {
			char out[400], sig[420], key[400], pub[400];
			char *ex[] = { (char *)jitca, "audit", "export", "--data",
			    dir, "-o", out, NULL };
			char *vf[] = { (char *)jitca, "audit", "verify", out,
			    "--data", dir, NULL };

			snprintf(out, sizeof(out), "%s/cli.jsonl", dir);
			snprintf(sig, sizeof(sig), "%s.sig", out);
			run_cli(jitca, "jit-ca export", ex, n);
			run_cli(jitca, "jit-ca verify", vf, n);
			snprintf(key, sizeof(key), "%s/" JIT_CADIR_KEY, dir);
			snprintf(pub, sizeof(pub), "%s/" JIT_CADIR_PUB, dir);
			unlink(out);
			unlink(sig);
			unlink(key);
			unlink(pub);
		}
		rm_store(dir);
	}
	printf("(entries/s are per entry of the log scanned; +anon is the "
	    "growth of anonymous memory during the run; VmHWM is the peak "
	    "RSS, ru_maxrss for jit-ca runs)\n");
	if (jitca == NULL)
		printf("(jit-ca not found: set JIT_CA to include the CLI "
		    "rows)\n");
	return 0;
}
