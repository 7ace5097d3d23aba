/* test-http.c - the HTTP layer (api/http/http.h): the canonical-path rule
 * (jit_http_path_check), and a real server on 127.0.0.1 with a handler of
 * this file: answers from the worker pool, a streamed body, answers given
 * later (woken by key, at the deadline, at the stop), a client that leaves
 * while its answer waits, request_timeout and the per-address limit.
 * Every wait below ends when what it waits for has happened (a guard
 * fails it after 10 s). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "err.h"
#include "http.h"
#include "test.h"
#include "util.h"

static void
good(const char *uri)
{
	const char *why = "unset";

	test_checks++;
	if (jit_http_path_check(uri, &why) != 0 || why != NULL) {
		fprintf(stderr, "'%s' refused: %s\n", uri, why ? why : "?");
		test_failures++;
	}
}

/* want: a word the reason must contain. */
static void
bad(const char *uri, const char *want)
{
	const char *why = NULL;

	test_checks++;
	if (jit_http_path_check(uri, &why) != JIT_ERR_INVALID_FORMAT ||
	    why == NULL || strstr(why, want) == NULL) {
		fprintf(stderr, "'%s': want INVALID_FORMAT with '%s', got "
		    "'%s'\n", uri, want, why ? why : "(none)");
		test_failures++;
	}
}


/* ---- a server ------------------------------------------------------------ */

static atomic_int deferred, polls, finals, releases, ready;

/* One deferred answer: the path it came for. */
struct item {
	char path[64];
};

static void
answer_text(struct jit_http_response *resp, const char *text)
{
	resp->status = 200;
	resp->content_type = "text/plain";
	resp->body = jit_strdup(text);
	resp->body_len = strlen(text);
}

static int
item_poll(void *ctx, int final, struct jit_http_response *resp)
{
	(void)ctx;
	atomic_fetch_add(&polls, 1);
	if (final) {
		atomic_fetch_add(&finals, 1);
		answer_text(resp, "final");
		return 1;
	}
	if (!atomic_load(&ready))
		return 0;
	answer_text(resp, "woken");
	return 1;
}

static void
item_release(void *ctx)
{
	atomic_fetch_add(&releases, 1);
	free(ctx);
}

#define STREAM_TOTAL (300u * 1024)

static ssize_t
stream_fn(void *ctx, char *buf, size_t max)
{
	size_t *left = ctx, n = *left < max ? *left : max;

	if (n > 7000)
		n = 7000;  /* many small pieces */
	memset(buf, 'x', n);
	*left -= n;
	return (ssize_t)n;
}

/* /now: 200 "now"; /stream: STREAM_TOTAL bytes of 'x';
 * /later/KEY/MS: answered later, key KEY, deadline in MS ms. */
static void
handler(void *ctx, const struct jit_http_request *req,
    struct jit_http_response *resp)
{
	unsigned key, ms;
	struct item *it;

	(void)ctx;
	if (strcmp(req->path, "/now") == 0) {
		answer_text(resp, "now");
	} else if (strcmp(req->path, "/stream") == 0) {
		size_t *left = malloc(sizeof(*left));

		*left = STREAM_TOTAL;
		resp->status = 200;
		resp->stream = stream_fn;
		resp->stream_free = free;
		resp->stream_ctx = left;
	} else if (sscanf(req->path, "/later/%u/%u", &key, &ms) == 2 &&
	    (it = calloc(1, sizeof(*it))) != NULL) {
		snprintf(it->path, sizeof(it->path), "%s", req->path);
		resp->later.poll = item_poll;
		resp->later.release = item_release;
		resp->later.ctx = it;
		resp->later.key = key;
		resp->later.deadline_ms = jit_monotonic_ms() + ms;
		atomic_fetch_add(&deferred, 1);
	} else {
		resp->status = 404;
	}
}

static unsigned port;

/* A connection from src (e.g. "127.0.0.1") to the server; -1 if none. */
static int
dial(const char *src)
{
	struct sockaddr_in a;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	inet_pton(AF_INET, src, &a.sin_addr);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
		goto fail;
	a.sin_port = htons((uint16_t)port);
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
		goto fail;
	return fd;
fail:
	if (fd >= 0)
		close(fd);
	return -1;
}

static int
send_get(int fd, const char *path)
{
	char req[256];
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: t\r\n"
	    "\r\n", path);

	return send(fd, req, (size_t)n, MSG_NOSIGNAL) == n ? 0 : -1;
}

/* Read one answer (headers and a body of Content-Length bytes, or a
 * chunked body) within 10 s; its body's length and first bytes in
 * body[]; -1 if the connection closed or nothing came. */
static long
read_answer(int fd, char *body, size_t bodymax)
{
	static char buf[512 * 1024];
	size_t len = 0;
	uint64_t end = jit_monotonic_ms() + 10000;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char *hend, *cl;
	long want = -1, got;

	body[0] = '\0';
	for (;;) {
		ssize_t n;

		if (jit_monotonic_ms() >= end ||
		    poll(&p, 1, (int)(end - jit_monotonic_ms())) <= 0)
			return -1;
		n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
		if (n <= 0)
			return -1;
		len += (size_t)n;
		buf[len] = '\0';
		if ((hend = strstr(buf, "\r\n\r\n")) == NULL)
			continue;
		hend += 4;
		if ((cl = strstr(buf, "Content-Length: ")) != NULL && cl < hend)
			want = strtol(cl + 16, NULL, 10);
		else if (strstr(buf, "\r\n0\r\n\r\n") != NULL)
			break;  /* the end of a chunked body */
		if (want >= 0 && (long)(len - (size_t)(hend - buf)) >= want)
			break;
	}
	if (want >= 0) {
		got = want;
		snprintf(body, bodymax, "%.*s", (int)want, hend);
	} else {
		/* Chunked: count the payload bytes ('x'). */
		char *q;

		got = 0;
		for (q = hend; *q != '\0'; q++)
			got += *q == 'x';
		snprintf(body, bodymax, "%s", "x");
	}
	return got;
}

/* 1 once fd's peer has closed it (within 10 s), 0 if not. */
static int
closed_by_server(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c;

	if (poll(&p, 1, 10000) <= 0)
		return 0;
	return recv(fd, &c, 1, 0) <= 0;
}

/* Wait (10 s at most) until *v == want. */
static int
wait_eq(atomic_int *v, int want)
{
	uint64_t end = jit_monotonic_ms() + 10000;

	while (atomic_load(v) != want) {
		struct timespec ts = { 0, 2 * 1000 * 1000 };
		if (jit_monotonic_ms() >= end)
			return 0;
		nanosleep(&ts, NULL);
	}
	return 1;
}

static void
test_server(void)
{
	struct jit_listen l = { JIT_LISTEN_INET, (char *)"127.0.0.1", 0 };
	struct jit_http_options o;
	struct jit_http *h = NULL;
	char err[256], body[64];
	unsigned key;
	int a, b, c, d, e, f, g, s;

	memset(&o, 0, sizeof(o));
	o.listen = &l;
	o.max_body = 1024;
	o.request_timeout = 1;
	o.connection_timeout = 30;
	o.max_connections = 64;
	o.max_connections_per_address = 3;
	o.workers = 2;
	o.quiet = 1;
	REQUIRE_OK(jit_http_bind(&o, &h, err, sizeof(err)));
	port = jit_http_port(h);
	REQUIRE_OK(jit_http_serve(h, handler, NULL, err, sizeof(err)));

	/* An answer from a worker, then a stream refilled by workers, on one
	 * kept-alive connection. */
	REQUIRE((a = dial("127.0.0.1")) >= 0);
	CHECK_INT(send_get(a, "/now"), 0);
	CHECK_INT(read_answer(a, body, sizeof(body)), 3);
	CHECK_STR(body, "now");
	CHECK_INT(send_get(a, "/stream"), 0);
	CHECK_INT(read_answer(a, body, sizeof(body)), STREAM_TOTAL);
	close(a);

	/* Answered later: a wake of another key does not poll it; a wake of
	 * its key polls it (nothing yet: held again); once ready, the next
	 * wake answers it. */
	REQUIRE((b = dial("127.0.0.2")) >= 0);
	CHECK_INT(send_get(b, "/later/7/60000"), 0);
	CHECK(wait_eq(&deferred, 1));
	key = 8;
	jit_http_wake(h, &key, 1);
	key = 7;
	jit_http_wake(h, &key, 1);
	CHECK(wait_eq(&polls, 1));
	atomic_store(&ready, 1);
	jit_http_wake(h, &key, 1);
	CHECK_INT(read_answer(b, body, sizeof(body)), 5);
	CHECK_STR(body, "woken");
	CHECK_INT(atomic_load(&polls), 2);
	CHECK(wait_eq(&releases, 1));
	atomic_store(&ready, 0);

	/* At the deadline: the final poll answers. */
	CHECK_INT(send_get(b, "/later/9/200"), 0);
	CHECK_INT(read_answer(b, body, sizeof(body)), 5);
	CHECK_STR(body, "final");
	CHECK_INT(atomic_load(&finals), 1);
	CHECK(wait_eq(&releases, 2));

	/* The client leaves: released, never polled. */
	REQUIRE((c = dial("127.0.0.3")) >= 0);
	CHECK_INT(send_get(c, "/later/10/60000"), 0);
	CHECK(wait_eq(&deferred, 3));
	s = atomic_load(&polls);
	close(c);
	CHECK(wait_eq(&releases, 3));
	CHECK_INT(atomic_load(&polls), s);

	/* Three connections from one address are the limit: a fourth is
	 * closed before anything is read, the three stay open. */
	REQUIRE((d = dial("127.0.0.4")) >= 0);
	REQUIRE((e = dial("127.0.0.4")) >= 0);
	REQUIRE((f = dial("127.0.0.4")) >= 0);
	REQUIRE((g = dial("127.0.0.4")) >= 0);
	CHECK(closed_by_server(g));
	close(g);
	/* Another address is served meanwhile. */
	REQUIRE((a = dial("127.0.0.5")) >= 0);
	CHECK_INT(send_get(a, "/now"), 0);
	CHECK_INT(read_answer(a, body, sizeof(body)), 3);
	close(a);
	/* request_timeout (1 s): the idle ones are closed, however many. */
	CHECK(closed_by_server(d));
	CHECK(closed_by_server(e));
	close(d);
	close(e);
	CHECK(closed_by_server(f));
	close(f);
	close(b);  /* idle as long, closed too */
	/* A held answer is not subject to it: it waits 1.5 s for its own
	 * deadline and gets the final answer. */
	REQUIRE((f = dial("127.0.0.6")) >= 0);
	CHECK_INT(send_get(f, "/later/11/1500"), 0);
	CHECK_INT(read_answer(f, body, sizeof(body)), 5);
	CHECK_STR(body, "final");
	close(f);

	/* The stop answers what is held. */
	s = atomic_load(&deferred);
	REQUIRE((b = dial("127.0.0.7")) >= 0);
	CHECK_INT(send_get(b, "/later/12/60000"), 0);
	CHECK(wait_eq(&deferred, s + 1));
	jit_http_stop(h, 2000);
	CHECK_INT(read_answer(b, body, sizeof(body)), 5);
	CHECK_STR(body, "final");
	close(b);
	CHECK_INT(atomic_load(&releases), atomic_load(&deferred));
}

int
main(void)
{
	good("/");
	good("/healthz");
	good("/v1/requests/r-0123456789ab/approve");
	good("/v1/requests/A-Z_a.z~0");
	good("/v1//ca");                 /* routing gives 404 */
	good("/v1/requests/../ca");      /* routing gives 404 */
	good("/v1/requests/r-%C3%A9");   /* é must be encoded */
	good("/v1/requests/%2A%27%20%3A%40%25%5C%3F%23");
	good("/v1/requests?state=pending&x=%2f%72%zz'");  /* query not judged */
	good("/v1/requests/x?");

	bad("", "start with /");
	bad("v1/ca", "start with /");
	bad("*", "start with /");
	bad("http://h/v1/ca", "start with /");
	bad("/v1/requests/ID%2Fapprove", "slash");
	bad("/v1/requests/ID%2fapprove", "percent-encoding");
	bad("/v1/%72equests", "needless");
	bad("/v1/%52equests", "needless");
	bad("/v1/requests/%2E%2E/ca", "needless");
	bad("/v1/%2D", "needless");
	bad("/v1/%5F", "needless");
	bad("/v1/%7E", "needless");
	bad("/v1/%30", "needless");
	bad("/v1/requests/r-%c3%a9", "upper-case");
	bad("/v1/requests/r-%C3%a9", "upper-case");
	bad("/v1/requests/r-%00", "NUL");
	bad("/v1/requests/r-%", "percent-encoding");
	bad("/v1/requests/r-%4", "percent-encoding");
	bad("/v1/requests/r-%4?x", "percent-encoding");
	bad("/v1/requests/r-%G1", "percent-encoding");
	bad("/v1/requests/r-'", "must be");
	bad("/v1/requests/r-a:b", "must be");
	bad("/v1/requests/r-a@b", "must be");
	bad("/v1/requests/r-a b", "must be");
	bad("/v1/requests/r-a\\b", "must be");
	bad("/v1/requests/r-\xc3\xa9", "must be");
	bad("/v1/requests/r-a#b", "must be");
	bad("/v1/requests/r-a+b", "must be");
	test_server();
	TEST_DONE();
}
