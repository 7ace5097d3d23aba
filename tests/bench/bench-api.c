/*
 * bench-api.c - certificate issuance through the API handlers in-process,
 * without sockets: what the server spends per certificate above HTTP.
 *
 * T threads (-t, default 16) each repeat one issuance: POST /v1/requests
 * for a role that needs no approval, then GET /v1/requests/ID/certificate,
 * both through jit_api_handle() as the server's workers call it (bearer
 * token, the store's group commit, signing, the audit entries).  After a
 * warm-up second it counts for -d seconds (default 3) and prints one
 * line: certificates/s, the process's CPU time per certificate (user and
 * system: the HTTP layer's sockets and threads are not in it), the
 * store's writes per commit and the bytes it writes per commit (LMDB
 * writes every page a commit dirtied: each B-tree a write touches costs
 * a leaf, its branches and root).  Steadier than a whole-server benchmark on a
 * shared machine: no load generator shares the cores, and with the store
 * on tmpfs (-D /dev/shm) the disk is out of it too, leaving the CPU the
 * handlers, the lifecycle, the audit log and the store's own code use.
 *
 * Usage: bench-api [-t THREADS] [-d SECONDS] [-D DIR] [SECONDS]
 * DIR defaults to $BENCH_DIR, else /tmp; a last SECONDS is -d's (as
 * tests/bench/run.sh passes it).
 */
#include <ftw.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "api.h"
#include "auth.h"
#include "err.h"
#include "http.h"
#include "key.h"
#include "policy.h"
#include "store.h"
#include "util.h"

#define NKEYS 64
#define NUSERS 4

static const char policy_yaml[] =
    "users:\n"
    "  u1: {groups: [dev]}\n"
    "  u2: {groups: [dev]}\n"
    "  u3: {groups: [dev]}\n"
    "  u4: {groups: [dev]}\n"
    "roles:\n"
    "  auto:\n"
    "    principals: [bench]\n"
    "    requesters: [group:dev]\n"
    "    approvers: [group:dev]\n"
    "    approvals: 0\n"
    "    max_duration: 1h\n"
    "    default_duration: 5m\n"
    "    extensions: [permit-pty]\n"
    "    key_types: [ed25519]\n";

static struct jit_api *api;
static char *keys[NKEYS];
static char auth[NUSERS][128];
static atomic_int counting, stop;
static atomic_ulong certs, errors;

/* One call of the handler; the response body in *body (caller frees). */
static unsigned
call(const char *method, const char *path, const char *authz,
    const char *body, char **out)
{
	struct jit_http_request req;
	struct jit_http_response resp;
	unsigned status;

	memset(&req, 0, sizeof(req));
	memset(&resp, 0, sizeof(resp));
	req.method = method;
	req.path = path;
	req.query = "";
	req.authorization = authz;
	req.content_type = body != NULL ? "application/json" : NULL;
	req.client_addr = "127.0.0.1";
	req.body = (const unsigned char *)(body != NULL ? body : "");
	req.body_len = body != NULL ? strlen(body) : 0;
	jit_api_handle(api, &req, &resp);
	status = resp.status;
	*out = resp.body;
	resp.body = NULL;
	jit_http_response_release(&resp);
	return status;
}

static void *
client(void *arg)
{
	unsigned n = (unsigned)(size_t)arg;
	char post[1024], path[128], id[64], *b, *p, *e;

	for (unsigned i = n; !atomic_load(&stop); i++) {
		snprintf(post, sizeof(post), "{\"role\":\"auto\","
		    "\"public_key\":\"%s\",\"duration\":300}", keys[i % NKEYS]);
		b = NULL;
		if (call("POST", "/v1/requests", auth[n % NUSERS], post, &b)
		    != 201 || b == NULL ||
		    (p = strstr(b, "\"id\":\"")) == NULL ||
		    (e = strchr(p + 6, '"')) == NULL ||
		    (size_t)(e - p - 6) >= sizeof(id)) {
			free(b);
			atomic_fetch_add(&errors, 1);
			continue;
		}
		memcpy(id, p + 6, (size_t)(e - p - 6));
		id[e - p - 6] = '\0';
		free(b);
		snprintf(path, sizeof(path), "/v1/requests/%s/certificate",
		    id);
		b = NULL;
		if (call("GET", path, auth[n % NUSERS], NULL, &b) != 200)
			atomic_fetch_add(&errors, 1);
		else if (atomic_load(&counting))
			atomic_fetch_add(&certs, 1);
		free(b);
	}
	return NULL;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double
cpu_s(int sys)
{
	struct rusage ru;
	struct timeval *tv;

	getrusage(RUSAGE_SELF, &ru);
	tv = sys ? &ru.ru_stime : &ru.ru_utime;
	return tv->tv_sec + tv->tv_usec / 1e6;
}

/* Bytes this process has written (write, pwrite: the store's pages). */
static unsigned long long
written(void)
{
	FILE *f = fopen("/proc/self/io", "r");
	unsigned long long v = 0;
	char line[128];

	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "wchar: %llu", &v) == 1)
			break;
	if (f != NULL)
		fclose(f);
	return v;
}

static void
sleep_s(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - (time_t)s) * 1e9) };

	nanosleep(&ts, NULL);
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(path);
}

int
main(int argc, char **argv)
{
	static const char *const users[NUSERS] = { "u1", "u2", "u3", "u4" };
	struct jit_api_options o;
	struct jit_policy *p = NULL;
	struct jit_policy_error pe;
	struct jit_store *store = NULL;
	struct jit_store_stats s0, s1;
	struct jit_key *ca = NULL, *k;
	pthread_t th[1024];
	const char *base = getenv("BENCH_DIR") != NULL ?
	    getenv("BENCH_DIR") : "/tmp";
	char dir[300], data[320], *tok;
	double secs = 3, t0, t1, u0, u1, y0, y1;
	unsigned long long w0, w1;
	unsigned nth = 16;
	int c;

	while ((c = getopt(argc, argv, "t:d:D:")) != -1) {
		switch (c) {
		case 't': nth = (unsigned)atoi(optarg); break;
		case 'd': secs = atof(optarg); break;
		case 'D': base = optarg; break;
		default:
			fprintf(stderr, "usage: bench-api [-t THREADS] "
			    "[-d SECONDS] [-D DIR] [SECONDS]\n");
			return 2;
		}
	}
	if (optind < argc)
		secs = atof(argv[optind]);
	if (nth == 0 || nth > 1024 || secs <= 0) {
		fprintf(stderr, "bench-api: bad -t or -d\n");
		return 2;
	}
	snprintf(dir, sizeof(dir), "%s/jit-bench-api.XXXXXX", base);
	if (mkdtemp(dir) == NULL) {
		perror("bench-api: mkdtemp");
		return 1;
	}
	snprintf(data, sizeof(data), "%s/data", dir);
	if (jit_store_open(data, JIT_STORE_SERVER, &store) != 0 ||
	    jit_key_generate(JIT_KEY_ED25519, 0, &ca) != 0 ||
	    jit_policy_load_mem("bench.yaml", policy_yaml,
	    sizeof(policy_yaml) - 1, &p, &pe) != 0) {
		fprintf(stderr, "bench-api: setup failed\n");
		return 1;
	}
	memset(&o, 0, sizeof(o));
	o.store = store;
	o.ca = ca;
	o.clock_skew = 60;
	if (jit_api_new(&o, p, &api) != 0) {
		fprintf(stderr, "bench-api: jit_api_new failed\n");
		return 1;
	}
	for (int i = 0; i < NUSERS; i++) {
		if (jit_auth_token_create(store, users[i], 0, "bench", &tok,
		    NULL) != 0) {
			fprintf(stderr, "bench-api: token failed\n");
			return 1;
		}
		snprintf(auth[i], sizeof(auth[i]), "Bearer %s", tok);
		free(tok);
	}
	for (int i = 0; i < NKEYS; i++)
		if (jit_key_generate(JIT_KEY_ED25519, 0, &k) != 0 ||
		    jit_key_format_public(k, NULL, &keys[i]) != 0) {
			fprintf(stderr, "bench-api: key failed\n");
			return 1;
		} else {
			jit_key_free(k);
		}

	for (unsigned i = 0; i < nth; i++)
		if (pthread_create(&th[i], NULL, client, (void *)(size_t)i)
		    != 0) {
			fprintf(stderr, "bench-api: no thread\n");
			return 1;
		}
	sleep_s(1);
	jit_store_get_stats(store, &s0);
	t0 = now_s();
	u0 = cpu_s(0);
	y0 = cpu_s(1);
	w0 = written();
	atomic_store(&counting, 1);
	sleep_s(secs);
	atomic_store(&counting, 0);
	t1 = now_s();
	u1 = cpu_s(0);
	y1 = cpu_s(1);
	w1 = written();
	jit_store_get_stats(store, &s1);
	atomic_store(&stop, 1);
	for (unsigned i = 0; i < nth; i++)
		pthread_join(th[i], NULL);

	{
		unsigned long n = atomic_load(&certs);
		double d = n > 0 ? (double)n : 1;

		double nc = s1.commits > s0.commits ?
		    (double)(s1.commits - s0.commits) : 1;

		printf("threads=%u certs=%lu rate=%.0f cpu_us=%.1f "
		    "user_us=%.1f sys_us=%.1f writes_per_commit=%.1f "
		    "kib_per_commit=%.0f errors=%lu\n", nth, n,
		    n / (t1 - t0), ((u1 - u0) + (y1 - y0)) * 1e6 / d,
		    (u1 - u0) * 1e6 / d, (y1 - y0) * 1e6 / d,
		    (double)(s1.writes - s0.writes) / nc,
		    (double)(w1 - w0) / 1024 / nc, atomic_load(&errors));
	}
	jit_api_free(api);
	jit_store_close(store);
	jit_key_free(ca);
	for (int i = 0; i < NKEYS; i++)
		free(keys[i]);
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}
