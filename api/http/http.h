/*
 * http.h - the HTTP server (a thin wrapper around libmicrohttpd; this is
 * the only file that includes microhttpd.h).
 *
 * Every request is collected whole (headers, then a body of at most
 * max_body bytes) and handed to one handler function as a
 * struct jit_http_request; the handler fills a struct jit_http_response.
 * The handler is a plain function with no knowledge of sockets, so tests
 * and fuzzers call it directly.
 *
 * Threads: one polling thread (libmicrohttpd's internal epoll loop) reads
 * requests and writes answers for every connection; a bounded pool of
 * worker threads (options.workers) runs the handler, so a handler may
 * block (on the store's group commit) without stopping other clients.
 * While its request waits for or runs in a worker, a connection is
 * suspended and costs no thread.  The handler must be thread-safe.
 *
 * Answering later (long-poll): a handler that has nothing to say yet sets
 * resp->later (below) instead of an answer.  The connection is then held,
 * without a thread, in a waiting room until one of:
 *   - jit_http_wake() names later.key: a worker calls later.poll(ctx, 0,
 *     resp), which answers (returns 1) or waits on (returns 0);
 *   - jit_monotonic_ms() reaches later.deadline_ms, or the server stops:
 *     a worker calls later.poll(ctx, 1, resp), which must answer;
 *   - the client closes its connection (seen as the peer's FIN or a
 *     reset): later.release(ctx) is called, poll never again, and the
 *     connection is closed.
 * later.release(ctx) is called exactly once in every case, after the last
 * poll.  No wake is lost: a jit_http_wake() of the key that happens after
 * the handler (or the previous poll) started makes the waiting room poll
 * again at once, so a poll needs no lock against a change that lands while
 * it runs.  Several waiters may share a key (a wake may be spurious: poll
 * looks and returns 0).
 *
 * Connections: at most max_connections at once (further clients wait in
 * the listen queue), and at most max_connections_per_address from one
 * client address (further connections from it are closed at once, before
 * anything is read).  A request's headers must arrive within
 * request_timeout seconds of the connection opening or of the previous
 * answer on it, however slowly they trickle; otherwise the connection is
 * closed.  Afterwards a connection on which nothing moves for
 * connection_timeout seconds (a stalled body or a client that does not
 * read its answer; at least request_timeout) is closed; a held long-poll
 * is subject to neither.
 *
 * Limits: a Content-Length above max_body is refused with 413 before the
 * body is read; a chunked body that grows past max_body is refused with
 * 413 as soon as it does.  Headers are limited by a per-connection memory
 * pool (JIT_HTTP_HEADER_LIMIT); larger header blocks get 431 from MHD.
 *
 * Refused with 400 before any handler runs: a request path that is not in
 * canonical form (jit_http_path_check), and a body whose end is told
 * ambiguously: Content-Length together with Transfer-Encoding, two
 * Content-Length or Transfer-Encoding headers, a Transfer-Encoding other
 * than chunked, or a Content-Length that is not a plain decimal number.
 * Those answers carry "Connection: close" and the connection is closed
 * once the client has closed its side or after a second (what it still
 * sends is read and dropped, so the close does not reset the connection
 * before the client has read the answer).
 *
 * TLS: versions 1.2 and 1.3 only; on 1.2 only ECDHE key exchange with
 * AEAD ciphers (AES-GCM, ChaCha20-Poly1305).
 *
 * Logging: one line per request on stderr,
 *   "jit-ca: ADDR METHOD PATH STATUS USER MSms"
 * The path is logged without its query string and nothing from the
 * headers or body (tokens, keys, certificates) is ever logged.
 *
 * Every response carries Cache-Control: no-store and the headers that
 * keep a browser from doing more with it than showing it:
 * X-Content-Type-Options: nosniff, Referrer-Policy: no-referrer and
 * Content-Security-Policy: JIT_HTTP_CSP (the web page's own policy:
 * scripts, styles and images from this origin only, nothing inline).
 */
#ifndef JIT_HTTP_H
#define JIT_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"

#define JIT_HTTP_HEADER_LIMIT (32 * 1024)
/* The longest Location a handler sets (the answer's headers are built in
 * the connection's JIT_HTTP_HEADER_LIMIT pool). */
#define JIT_HTTP_LOCATION_MAX 2048
#define JIT_HTTP_CSP "default-src 'none'; script-src 'self'; " \
	"style-src 'self'; img-src 'self'; connect-src 'self'; " \
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

struct jit_http_request {
	const char *method;          /* "GET", "POST", ... */
	const char *path;            /* decoded path, no query string */
	const char *query;           /* raw query string after '?', or "" */
	const char *authorization;   /* Authorization header or NULL */
	const char *content_type;    /* Content-Type header or NULL */
	const char *cookie;          /* Cookie header or NULL */
	const char *host;            /* Host header or NULL */
	const char *origin;          /* Origin header or NULL */
	const char *sec_fetch_site;  /* Sec-Fetch-Site header or NULL */
	const char *csrf_token;      /* X-CSRF-Token header or NULL */
	int tls;                     /* 1 if it came over TLS */
	const char *client_addr;     /* "127.0.0.1", "::1", "unix" */
	const unsigned char *body;   /* NUL-terminated; may be "" */
	size_t body_len;
};

struct jit_http_response {
	unsigned status;             /* HTTP status; 0 is treated as 500 */
	const char *content_type;    /* static string; NULL = application/json */
	char *body;                  /* malloc'd, freed by the caller */
	size_t body_len;
	unsigned retry_after;        /* seconds, for 429/503; 0 = none */
	int www_authenticate;        /* add WWW-Authenticate: Bearer (401) */
	/* Set-Cookie and Location (redirects) values: malloc'd, wiped and
	 * freed with the response; NULL = none.  Pointers, not arrays: a
	 * held long-poll keeps its response for as long as it waits. */
	char *set_cookie;
	char *location;              /* at most JIT_HTTP_LOCATION_MAX */
	char user[72];               /* authenticated user for the log line */
	/* A streamed body instead of body (which must then be NULL):
	 * stream(stream_ctx, buf, max) is called from a worker thread (one
	 * call at a time) until it returns 0 (end) or a negative value
	 * (abort: the connection is closed mid-body); it returns the bytes
	 * it wrote to buf (at most max).  stream_free(stream_ctx) is called
	 * exactly once afterwards, also when the response is released
	 * unsent. */
	ssize_t (*stream)(void *ctx, char *buf, size_t max);
	void (*stream_free)(void *ctx);
	void *stream_ctx;
	/* Answer later (see "Answering later" above): set poll, release,
	 * ctx, key and deadline_ms, and leave status 0, body and stream
	 * NULL.  user is kept for the log line of the answer. */
	struct jit_http_later {
		int (*poll)(void *ctx, int final,
		    struct jit_http_response *resp);
		void (*release)(void *ctx);
		void *ctx;
		unsigned key;            /* for jit_http_wake() */
		uint64_t deadline_ms;    /* jit_monotonic_ms() clock */
	} later;
};

/* Release the body (or the stream, or the deferred answer: later.release)
 * and the header values of a response and reset it. */
void jit_http_response_release(struct jit_http_response *r);

typedef void (*jit_http_handler_fn)(void *ctx,
    const struct jit_http_request *req, struct jit_http_response *resp);

struct jit_http_options {
	const struct jit_listen *listen;
	const char *tls_cert;        /* PEM file paths; both NULL = plain */
	const char *tls_key;
	size_t max_body;
	unsigned request_timeout;    /* seconds for a request's headers */
	unsigned connection_timeout; /* seconds of silence afterwards */
	unsigned max_connections;
	unsigned max_connections_per_address;  /* 0 = no limit */
	unsigned workers;            /* handler threads; 0 = a default */
	int quiet;                   /* no per-request log lines */
};

struct jit_http;

/* Read the TLS files and bind and listen, without serving yet (so a busy
 * address fails before the caller creates anything); clients that connect
 * meanwhile wait in the backlog.  For a unix: listener a stale socket file
 * is replaced, but not one a process still accepts on (SYSTEM, "Address
 * already in use").  Errors: SYSTEM/PERMISSION (bind), NOT_FOUND (TLS
 * files), INVALID_ARGUMENT (TLS unsupported); err receives a one-line
 * explanation.  Release *out with jit_http_stop(). */
int jit_http_bind(const struct jit_http_options *opts, struct jit_http **out,
    char *err, size_t errlen);

/* Start serving a bound h: handler(ctx, ...) is called for each request.
 * Errors: INVALID_ARGUMENT (already serving), HTTP (libmicrohttpd refused
 * to start, err says why); h stays bound and is still released with
 * jit_http_stop(). */
int jit_http_serve(struct jit_http *h, jit_http_handler_fn handler,
    void *ctx, char *err, size_t errlen);

/* 0 when the request target uri (as sent, before decoding; a query after
 * '?' is not looked at) is a path in canonical form: it starts with '/',
 * only unreserved characters (A-Z a-z 0-9 - . _ ~) and '/' appear as they
 * are, and every other byte is percent-encoded with upper-case hex digits.
 * Otherwise INVALID_FORMAT, and *detail is a static one-line reason: an
 * encoded '/' or NUL, a needless encoding (%72 for 'r', %2E for '.'),
 * lower-case hex, a malformed escape or a raw character that must be
 * encoded. */
int jit_http_path_check(const char *uri, const char **detail);

/* Wake the long-polls waiting on any of keys[0..n-1] (resp->later.key):
 * each is polled again by a worker.  Thread-safe, quick and non-blocking
 * (it may be called from a store's change hook); h may be bound but not
 * serving yet. */
void jit_http_wake(struct jit_http *h, const unsigned *keys, size_t n);

/* The bound TCP port (useful with port 0), 0 for unix sockets. */
unsigned jit_http_port(const struct jit_http *h);

/* Stop accepting new connections, poll every held long-poll one last time
 * (final), wait up to grace_ms for requests that are being handled to
 * finish (their responses are sent), then stop all threads and free h.
 * Requests still queued for a worker then are dropped with their
 * connections.  A bound h that never served is closed and freed.  No
 * jit_http_wake() may run during or after this call.  NULL is a no-op. */
void jit_http_stop(struct jit_http *h, unsigned grace_ms);

#endif
