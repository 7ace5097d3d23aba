/*
 * loadgen.c - HTTP issuance load generator for jit-ca serve (libcurl
 * multi, keep-alive connections, one thread).
 *
 * One issuance = POST /v1/requests {role, public_key, duration} for a role
 * that needs no approval (201), then GET /v1/requests/ID/certificate (200,
 * an OpenSSH certificate line).  Each is a durable commit with its audit
 * entry on the server.  With -1 (one call) the certificate is taken from
 * the 201's "certificate" member, which a request approved at creation
 * carries (one commit with both audit entries); a 201 without one is
 * followed by the fetch as above.  Public keys come from a pool of
 * Ed25519 keys made at start-up (-k), so key generation is not measured.
 *
 * Modes:
 *   closed loop (default): C virtual clients (-c), each on its own
 *     keep-alive connection, start the next issuance as soon as the last
 *     one finished: the maximum throughput at that concurrency.
 *   open loop (-r RATE): issuances start on a fixed schedule (RATE per
 *     second, evenly spaced); each is served by an idle client (up to -c).
 *     An issuance that finds no idle client waits, and its latency counts
 *     from its scheduled start, so a stalled server cannot hide its
 *     queueing (no coordinated omission).
 *
 * A third mode (-g PATH -n N) times N sequential GETs of PATH on one
 * keep-alive connection with the first token (e.g. the pending list),
 * after W untimed ones that warm the connection (-W, default 5; -W 0
 * times the very first, e.g. a cache being filled); with -r RATE it GETs
 * PATH on a fixed schedule instead (RATE per second for -w + -d seconds,
 * the first -w not counted), each timed from its scheduled start (a late
 * answer delays the next GET, whose wait counts).
 *
 * Several servers (nodes on one database): -u may be given up to 8 times;
 * client i talks to URL i mod n.  For tests that check what was
 * acknowledged: -N TOTAL stops starting issuances once TOTAL completed
 * (the run is bounded by work; -d stays a safety limit; SIGTERM ends it
 * the same way, after the issuances under way), -L FILE writes
 * "C ID" after each 201 and "I ID CERTLINE" after each certificate (with
 * -1 both after the 201 that carries it), and
 * a client whose request failed waits 20 ms before its next one (a node
 * that is down is not hammered).  The summary line counts failures by
 * HTTP status (status_0 = no answer at all).
 *
 * Latencies are recorded per issuance (POST start or scheduled start to
 * certificate received) and per HTTP request; completions in the first -w
 * seconds are not counted (warm-up).  Output: one line of key=value pairs
 * (for scripts), or a readable summary with -v; total= counts the
 * issuances of the warm-up too and cpu_ms= is the load generator's own
 * CPU time, so a script can put a server's CPU time per certificate and
 * the generator's beside it.
 *
 * Usage: loadgen -u URL [-u URL]... -T TOKENFILE [-c CLIENTS] [-d SECONDS]
 *                [-w WARMUP] [-r RATE] [-R ROLE] [-k KEYS] [-N TOTAL]
 *                [-L LOGFILE] [-1] [-v]
 *        loadgen -u URL -T TOKENFILE -g PATH [-n N [-W W] | -r RATE [-d S]
 *                [-w S]]
 * TOKENFILE holds one bearer token per line; clients use them in turn.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <time.h>

#include <curl/curl.h>

#include "err.h"
#include "key.h"

#define MAX_TOKENS 64
#define MAX_CLIENTS 4096
#define MAX_URLS 8
#define ERROR_PAUSE 0.02            /* seconds after a failed request */

enum phase { IDLE, CREATING, FETCHING };

struct client {
	CURL *easy;
	enum phase phase;
	struct curl_slist *hdr_post, *hdr_get;
	char *body;                 /* response body being received */
	size_t len, cap;
	char url[256];
	char post[1024];
	double t_txn;               /* issuance start (scheduled, open loop) */
	double t_op;                /* current HTTP request start */
	double t_next;              /* closed loop: not before (after errors) */
	const char *base;           /* the server this client talks to */
	char id[64];                /* the request being fetched */
};

struct lat {
	double *v;
	size_t n, cap;
};

/* This process's CPU time so far (user + system), in ms. */
static double
cpu_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
	    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
lat_add(struct lat *l, double v)
{
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 65536;
		double *nv = realloc(l->v, nc * sizeof(*nv));

		if (nv == NULL) {
			fprintf(stderr, "loadgen: out of memory\n");
			exit(1);
		}
		l->v = nv;
		l->cap = nc;
	}
	l->v[l->n++] = v;
}

static int
cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The q-quantile (0..1) in milliseconds, nearest rank. */
static double
pct(struct lat *l, double q)
{
	size_t i;

	if (l->n == 0)
		return 0;
	i = (size_t)(q * (double)l->n);
	if (i >= l->n)
		i = l->n - 1;
	return l->v[i] * 1000.0;
}

static size_t
on_body(char *p, size_t sz, size_t nm, void *ud)
{
	struct client *c = ud;
	size_t n = sz * nm;

	if (c->len + n + 1 > c->cap) {
		size_t nc = c->cap ? c->cap : 4096;
		char *nb;

		while (nc < c->len + n + 1)
			nc *= 2;
		if ((nb = realloc(c->body, nc)) == NULL)
			return 0;
		c->body = nb;
		c->cap = nc;
	}
	memcpy(c->body + c->len, p, n);
	c->len += n;
	c->body[c->len] = '\0';
	return n;
}

static const char *base_url;
static const char *urls[MAX_URLS];
static size_t nurls;
static FILE *ack_log;
static unsigned long status_count[600];
static char *tokens[MAX_TOKENS];
static size_t ntokens;
static char **keys;
static size_t nkeys, next_key;
static const char *role = "auto";
static struct lat lat_txn, lat_create, lat_fetch;
static unsigned long done_total, done_counted, errors;
static double t_count_from;
static int verbose;
static int one_call;               /* -1: the certificate of the 201 */
static volatile sig_atomic_t term;

static void
on_term(int sig)
{
	(void)sig;
	term = 1;
}

static void
start_create(CURLM *m, struct client *c)
{
	int n;

	n = snprintf(c->post, sizeof(c->post), "{\"role\":\"%s\","
	    "\"public_key\":\"%s\",\"duration\":\"5m\"}", role,
	    keys[next_key++ % nkeys]);
	if (n < 0 || (size_t)n >= sizeof(c->post)) {
		fprintf(stderr, "loadgen: request body too long\n");
		exit(1);
	}
	snprintf(c->url, sizeof(c->url), "%s/v1/requests", c->base);
	c->len = 0;
	c->phase = CREATING;
	curl_easy_setopt(c->easy, CURLOPT_URL, c->url);
	curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, c->hdr_post);
	curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, c->post);
	curl_easy_setopt(c->easy, CURLOPT_POSTFIELDSIZE, (long)n);
	c->t_op = now_s();
	curl_multi_add_handle(m, c->easy);
}

/* The "id" of a create answer, without a JSON parser (the server's
 * compact output has "id":"r-..." and ids are [a-z2-7-]). */
static int
find_id(const char *body, char *id, size_t idlen)
{
	const char *p = strstr(body, "\"id\":\"");
	size_t n;

	if (p == NULL)
		return -1;
	p += 6;
	n = strcspn(p, "\"");
	if (n == 0 || n >= idlen || p[n] != '"')
		return -1;
	memcpy(id, p, n);
	id[n] = '\0';
	return 0;
}

#define CERT_PREFIX "ssh-ed25519-cert-v01@openssh.com "

/* The "certificate" member of a create answer (a JSON string the server
 * writes without escapes: base64 and a key id of [a-z0-9=. -]): its
 * start and length in *len, or NULL. */
static const char *
find_cert(const char *body, int *len)
{
	const char *p = strstr(body, "\"certificate\":\"");
	size_t n;

	if (p == NULL)
		return NULL;
	p += 15;
	n = strcspn(p, "\"\\");
	if (p[n] != '"' || n > 65536 ||
	    strncmp(p, CERT_PREFIX, sizeof(CERT_PREFIX) - 1) != 0)
		return NULL;
	*len = (int)n;
	return p;
}

/* A certificate line arrived at t for c's issuance of request id:
 * count it, and its latency when counted (after the warm-up, before the
 * end). */
static void
cert_done(struct client *c, const char *id, const char *line, int len,
    double t, int counted)
{
	done_total++;
	if (ack_log != NULL)
		fprintf(ack_log, "I %s %.*s\n", id, len, line);
	if (counted) {
		done_counted++;
		lat_add(&lat_txn, t - c->t_txn);
	}
}

static void
start_fetch(CURLM *m, struct client *c, const char *id)
{
	snprintf(c->url, sizeof(c->url), "%s/v1/requests/%s/certificate",
	    c->base, id);
	snprintf(c->id, sizeof(c->id), "%s", id);
	c->len = 0;
	c->phase = FETCHING;
	curl_easy_setopt(c->easy, CURLOPT_URL, c->url);
	curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, c->hdr_get);
	curl_easy_setopt(c->easy, CURLOPT_HTTPGET, 1L);
	c->t_op = now_s();
	curl_multi_add_handle(m, c->easy);
}

/*
 * Wait for socket activity or d seconds (at most 50 ms), whichever comes
 * first.  curl_multi_poll() counts in whole milliseconds, and an open
 * loop at 1,000/s is always less than one away from its next arrival:
 * a 0 ms poll there spun a core, which the server on the same machine
 * then lacked.  Below a millisecond, pselect() on curl's descriptors.
 */
static void
wait_until(CURLM *m, double d)
{
	struct timespec ts;
	fd_set r, w, x;
	int maxfd = -1;

	if (d <= 0)
		return;
	if (d >= 0.001) {
		curl_multi_poll(m, NULL, 0, d > 0.05 ? 50 : (int)(d * 1000.0),
		    NULL);
		return;
	}
	ts.tv_sec = 0;
	ts.tv_nsec = (long)(d * 1e9);
	FD_ZERO(&r);
	FD_ZERO(&w);
	FD_ZERO(&x);
	if (curl_multi_fdset(m, &r, &w, &x, &maxfd) != CURLM_OK || maxfd < 0)
		nanosleep(&ts, NULL);
	else
		(void)pselect(maxfd + 1, &r, &w, &x, &ts, NULL);
}

static void
usage(void)
{
	fprintf(stderr, "usage: loadgen -u URL [-u URL]... -T TOKENFILE "
	    "[-c CLIENTS] [-d SECONDS]\n               [-w WARMUP] [-r RATE] "
	    "[-R ROLE] [-k KEYS] [-N TOTAL]\n               [-L LOGFILE] "
	    "[-1] [-v]\n       loadgen -u URL -T TOKENFILE -g PATH [-n N] "
	    "[-W W]\n");
	exit(2);
}

static void
load_tokens(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[512];

	if (f == NULL) {
		fprintf(stderr, "loadgen: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	while (ntokens < MAX_TOKENS && fgets(line, sizeof(line), f) != NULL) {
		size_t n = strcspn(line, "\r\n");
		line[n] = '\0';
		if (n == 0)
			continue;
		if ((tokens[ntokens] = malloc(n + 32)) == NULL)
			exit(1);
		snprintf(tokens[ntokens], n + 32, "Authorization: Bearer %s",
		    line);
		ntokens++;
	}
	fclose(f);
	if (ntokens == 0) {
		fprintf(stderr, "loadgen: no tokens in %s\n", path);
		exit(1);
	}
}

/* -g: N sequential GETs of path after warm_n untimed ones, or with
 * rate > 0 GETs at that rate for warm + secs seconds; prints n, p50, p99,
 * max (ms), bytes. */
static int
get_mode(const char *path, unsigned long n, unsigned long warm_n,
    double rate, double secs, double warm)
{
	struct client c;
	struct lat l = { 0 };
	struct curl_slist *h;
	unsigned long i, bad = 0;
	char url[1024];

	memset(&c, 0, sizeof(c));
	snprintf(url, sizeof(url), "%s%s", base_url, path);
	c.easy = curl_easy_init();
	h = curl_slist_append(NULL, tokens[0]);
	curl_easy_setopt(c.easy, CURLOPT_URL, url);
	curl_easy_setopt(c.easy, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c.easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c.easy, CURLOPT_WRITEDATA, &c);
	curl_easy_setopt(c.easy, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(c.easy, CURLOPT_TIMEOUT, 30L);
	{
		double start = now_s(), t_from = start + warm,
		    t_end = t_from + secs;

		for (i = 0; rate > 0 || i < n + warm_n; i++) {
			long code = 0;
			double t0 = now_s();

			if (rate > 0) {
				/* The i-th GET is due at start + i / rate. */
				double due = start + (double)i / rate;

				if (due >= t_end)
					break;
				if (due > t0) {
					struct timespec ts;
					ts.tv_sec = (time_t)(due - t0);
					ts.tv_nsec = (long)((due - t0 -
					    (double)ts.tv_sec) * 1e9);
					nanosleep(&ts, NULL);
				}
				t0 = due;
			}
			c.len = 0;
			if (curl_easy_perform(c.easy) != CURLE_OK ||
			    curl_easy_getinfo(c.easy, CURLINFO_RESPONSE_CODE,
			    &code) != CURLE_OK || code != 200) {
				bad++;
				continue;
			}
			/* The first few warm the connection. */
			if (rate > 0 ? t0 >= t_from : i >= warm_n)
				lat_add(&l, now_s() - t0);
		}
	}
	qsort(l.v, l.n, sizeof(double), cmp_d);
	printf("gets=%zu errors=%lu p50=%.3f p99=%.3f max=%.3f bytes=%zu\n",
	    l.n, bad, pct(&l, .5), pct(&l, .99), pct(&l, 1), c.len);
	curl_easy_cleanup(c.easy);
	curl_slist_free_all(h);
	free(c.body);
	free(l.v);
	return bad > 0;
}

static void
make_keys(size_t n)
{
	size_t i;
	int r;

	if ((keys = calloc(n, sizeof(*keys))) == NULL)
		exit(1);
	for (i = 0; i < n; i++) {
		struct jit_key *k = NULL;

		if ((r = jit_key_generate(JIT_KEY_ED25519, 0, &k)) != 0 ||
		    (r = jit_key_format_public(k, NULL, &keys[i])) != 0) {
			fprintf(stderr, "loadgen: key: %s\n", jit_err(r));
			exit(1);
		}
		jit_key_free(k);
	}
	nkeys = n;
}

int
main(int argc, char **argv)
{
	struct client *cl;
	CURLM *m;
	const char *tokfile = NULL, *getpath = NULL;
	unsigned long ngets = 200, warmgets = 5, total = 0;
	unsigned long nclients = 16, nk = 256;
	double secs = 5, warm = 1, rate = 0, t0, t_end, next_arrival = 0;
	unsigned long backlog = 0, maxbacklog = 0, i;
	double *backlog_t = NULL;  /* scheduled starts waiting (ring) */
	size_t bl_head = 0, bl_cap = 0;
	int ch, running;

	while ((ch = getopt(argc, argv, "u:T:c:d:w:r:R:k:vg:n:W:N:L:1")) !=
	    -1) {
		switch (ch) {
		case 'u':
			if (nurls == MAX_URLS)
				usage();
			base_url = urls[nurls++] = optarg;
			break;
		case 'N': total = strtoul(optarg, NULL, 10); break;
		case 'L':
			if ((ack_log = fopen(optarg, "w")) == NULL) {
				fprintf(stderr, "loadgen: %s: %s\n", optarg,
				    strerror(errno));
				return 1;
			}
			/* Others watch the log grow: a line at a time. */
			setvbuf(ack_log, NULL, _IOLBF, 0);
			break;
		case 'T': tokfile = optarg; break;
		case 'c': nclients = strtoul(optarg, NULL, 10); break;
		case 'd': secs = strtod(optarg, NULL); break;
		case 'w': warm = strtod(optarg, NULL); break;
		case 'r': rate = strtod(optarg, NULL); break;
		case 'R': role = optarg; break;
		case 'k': nk = strtoul(optarg, NULL, 10); break;
		case 'v': verbose = 1; break;
		case '1': one_call = 1; break;
		case 'g': getpath = optarg; break;
		case 'n': ngets = strtoul(optarg, NULL, 10); break;
		case 'W': warmgets = strtoul(optarg, NULL, 10); break;
		default: usage();
		}
	}
	if (base_url == NULL || tokfile == NULL || nclients == 0 ||
	    nclients > MAX_CLIENTS || secs <= 0 || nk == 0 || warm < 0)
		usage();
	load_tokens(tokfile);
	signal(SIGTERM, on_term);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (getpath != NULL)
		return get_mode(getpath, ngets, warmgets, rate, secs, warm);
	make_keys(nk);
	m = curl_multi_init();
	curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, (long)nclients);
	curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)nclients);
	if ((cl = calloc(nclients, sizeof(*cl))) == NULL)
		return 1;
	for (i = 0; i < nclients; i++) {
		struct client *c = &cl[i];
		const char *tok = tokens[i % ntokens];

		c->base = urls[i % nurls];
		c->easy = curl_easy_init();
		c->hdr_post = curl_slist_append(NULL, tok);
		c->hdr_post = curl_slist_append(c->hdr_post,
		    "Content-Type: application/json");
		c->hdr_post = curl_slist_append(c->hdr_post, "Expect:");
		c->hdr_get = curl_slist_append(NULL, tok);
		curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, c);
		curl_easy_setopt(c->easy, CURLOPT_PRIVATE, c);
		curl_easy_setopt(c->easy, CURLOPT_TCP_NODELAY, 1L);
		curl_easy_setopt(c->easy, CURLOPT_TIMEOUT, 30L);
		curl_easy_setopt(c->easy, CURLOPT_NOSIGNAL, 1L);
	}
	if (rate > 0) {
		bl_cap = 1u << 20;
		if ((backlog_t = malloc(bl_cap * sizeof(*backlog_t))) == NULL)
			return 1;
	}

	t0 = now_s();
	t_count_from = t0 + warm;
	t_end = t_count_from + secs;
	if (rate <= 0) {
		for (i = 0; i < nclients; i++) {
			cl[i].t_txn = now_s();
			start_create(m, &cl[i]);
		}
	} else {
		next_arrival = t0;
	}

	for (;;) {
		double t = now_s();
		CURLMsg *msg;
		int left;

		if (rate > 0 && t < t_end) {
			/* Arrivals due by now join the backlog. */
			while (next_arrival <= t) {
				if (backlog >= bl_cap) {
					fprintf(stderr, "loadgen: backlog "
					    "overflow\n");
					return 1;
				}
				backlog_t[(bl_head + backlog) % bl_cap] =
				    next_arrival;
				backlog++;
				next_arrival += 1.0 / rate;
			}
			if (backlog > maxbacklog)
				maxbacklog = backlog;
			for (i = 0; i < nclients && backlog > 0; i++) {
				if (cl[i].phase != IDLE)
					continue;
				cl[i].t_txn = backlog_t[bl_head];
				bl_head = (bl_head + 1) % bl_cap;
				backlog--;
				start_create(m, &cl[i]);
			}
		}
		curl_multi_perform(m, &running);
		while ((msg = curl_multi_info_read(m, &left)) != NULL) {
			struct client *c;
			const char *cert;
			long code = 0;
			char id[64];
			int ok, counted, clen = 0;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
			    (char **)&c);
			curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE,
			    &code);
			curl_multi_remove_handle(m, c->easy);
			t = now_s();
			counted = t >= t_count_from && t < t_end;
			if (c->phase == CREATING) {
				ok = msg->data.result == CURLE_OK &&
				    code == 201 && c->body != NULL &&
				    find_id(c->body, id, sizeof(id)) == 0;
				if (ok) {
					if (counted)
						lat_add(&lat_create,
						    t - c->t_op);
					if (ack_log != NULL)
						fprintf(ack_log, "C %s\n", id);
					if (one_call && (cert = find_cert(
					    c->body, &clen)) != NULL)
						cert_done(c, id, cert, clen, t,
						    counted);
					else {
						start_fetch(m, c, id);
						continue;
					}
				}
			} else {
				ok = msg->data.result == CURLE_OK &&
				    code == 200 && c->body != NULL &&
				    strncmp(c->body, CERT_PREFIX,
				    sizeof(CERT_PREFIX) - 1) == 0;
				if (ok) {
					if (counted)
						lat_add(&lat_fetch,
						    t - c->t_op);
					cert_done(c, c->id, c->body,
					    (int)strcspn(c->body, "\r\n"), t,
					    counted);
				}
			}
			if (!ok) {
				errors++;
				status_count[msg->data.result != CURLE_OK ||
				    code < 0 || code >= 600 ? 0 : code]++;
				c->t_next = t + ERROR_PAUSE;
				if (errors <= 5)
					fprintf(stderr, "loadgen: %s failed: "
					    "%s, HTTP %ld: %.200s\n",
					    c->phase == CREATING ? "create" :
					    "fetch", curl_easy_strerror(
					    msg->data.result), code,
					    c->body != NULL && c->len > 0 ?
					    c->body : "");
			}
			c->phase = IDLE;
		}
		/* Closed loop: idle clients start again (after a pause if
		 * their last request failed), until -N issuances are done. */
		for (i = 0; rate <= 0 && t < t_end && i < nclients; i++) {
			if (cl[i].phase != IDLE || t < cl[i].t_next ||
			    (total != 0 && done_total >= total))
				continue;
			cl[i].t_txn = t;
			start_create(m, &cl[i]);
		}
		if (((total != 0 && done_total >= total) || term) && t < t_end)
			t_end = t;
		t = now_s();
		if (t >= t_end) {
			int busy = 0;

			for (i = 0; i < nclients; i++)
				busy |= cl[i].phase != IDLE;
			if (!busy || t > t_end + 30)
				break;
		}
		if (rate > 0 && t < t_end)
			wait_until(m, next_arrival - t);
		else
			curl_multi_poll(m, NULL, 0, 50, NULL);
	}

	qsort(lat_txn.v, lat_txn.n, sizeof(double), cmp_d);
	qsort(lat_create.v, lat_create.n, sizeof(double), cmp_d);
	qsort(lat_fetch.v, lat_fetch.n, sizeof(double), cmp_d);
	if (verbose) {
		printf("clients %lu, %s, %.1f s counted (+%.1f s warm-up)\n",
		    nclients, rate > 0 ? "open loop" : "closed loop", secs,
		    warm);
		if (rate > 0)
			printf("offered %.0f issuances/s, max backlog %lu\n",
			    rate, maxbacklog);
		printf("certificates: %lu in %.1f s = %.0f/s, errors %lu\n",
		    done_counted, secs, (double)done_counted / secs, errors);
		printf("issuance (%s) ms: p50 %.2f p90 %.2f p99 "
		    "%.2f max %.2f\n", one_call ? "create with certificate" :
		    "create+fetch", pct(&lat_txn, .5), pct(&lat_txn, .9),
		    pct(&lat_txn, .99), pct(&lat_txn, 1));
		printf("create ms: p50 %.2f p99 %.2f; fetch ms: p50 %.2f "
		    "p99 %.2f\n", pct(&lat_create, .5), pct(&lat_create, .99),
		    pct(&lat_fetch, .5), pct(&lat_fetch, .99));
	}
	printf("certs=%lu secs=%.2f rate=%.0f errors=%lu p50=%.3f p90=%.3f "
	    "p99=%.3f max=%.3f create_p50=%.3f create_p99=%.3f "
	    "fetch_p50=%.3f fetch_p99=%.3f backlog=%lu total=%lu "
	    "cpu_ms=%.0f", done_counted, secs,
	    (double)done_counted / secs, errors, pct(&lat_txn, .5),
	    pct(&lat_txn, .9), pct(&lat_txn, .99), pct(&lat_txn, 1),
	    pct(&lat_create, .5), pct(&lat_create, .99), pct(&lat_fetch, .5),
	    pct(&lat_fetch, .99), maxbacklog, done_total, cpu_ms());
	for (i = 0; i < 600; i++)
		if (status_count[i] != 0)
			printf(" status_%lu=%lu", i, status_count[i]);
	printf("\n");
	if (ack_log != NULL && fclose(ack_log) != 0) {
		fprintf(stderr, "loadgen: writing the log failed\n");
		return 1;
	}
	for (i = 0; i < nclients; i++) {
		curl_easy_cleanup(cl[i].easy);
		curl_slist_free_all(cl[i].hdr_post);
		curl_slist_free_all(cl[i].hdr_get);
		free(cl[i].body);
	}
	free(cl);
	curl_multi_cleanup(m);
	curl_global_cleanup();
	for (i = 0; i < nkeys; i++)
		free(keys[i]);
	free(keys);
	for (i = 0; i < ntokens; i++)
		free(tokens[i]);
	free(backlog_t);
	free(lat_txn.v);
	free(lat_create.v);
	free(lat_fetch.v);
	return errors > 0 && done_total == 0 ? 1 : 0;
}
