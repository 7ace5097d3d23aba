/*
 * http_int.h - what the two files of the HTTP server share: http.c
 * (libmicrohttpd's side: reading requests, sending answers, TLS, framing)
 * and http_room.c (the worker pool that runs the handler, and the waiting
 * room: held long-polls, request deadlines, lingering closes).  Not for
 * other modules: they use http.h.
 *
 * Threads and locks:
 *   - libmicrohttpd's polling threads (HTTP_POLLERS, each with its own
 *     epoll set and share of the connections) run every MHD callback of
 *     http.c; one connection is always served by the same one.
 *   - workers (http_room.c) run the handler, later.poll and streams for a
 *     request whose connection is suspended: while a worker or the
 *     waiting room owns a request, the polling thread does not touch it,
 *     and the request is handed back with jit_http__resume().
 *   - the room thread owns the epoll set of held requests and lingering
 *     sockets; it alone takes a held request out of the room (so an epoll
 *     event never points at a request that was handed on).
 *   - qlock guards the job queue; wlock guards the waiting room, the
 *     request-deadline list and the lingering list; pre_lock guards the
 *     pre-header list (pre_list).  Neither is held
 *     while calling the handler, a poll or libmicrohttpd, and wlock is
 *     taken under the store's version lock (jit_http_wake from the
 *     store's change hook), so nothing may call the store under wlock.
 */
#ifndef JIT_HTTP_INT_H
#define JIT_HTTP_INT_H

#include <arpa/inet.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "http.h"

#define HTTP_BUCKETS 4096        /* waiting-room buckets by later.key */
#define HTTP_DEFAULT_WORKERS 32
#define HTTP_STREAM_BUF (64u * 1024)  /* a stream's buffer (http_stream) */
/* libmicrohttpd's polling threads.  Its resume step walks every suspended
 * connection of the polling thread that resumes one, so held long-polls
 * spread over several threads cost each resume a fraction of the walk;
 * a new connection wakes every polling thread once (they share the
 * listening socket), which costs little more. */
#define HTTP_POLLERS 16

struct MHD_Daemon;

/* An intrusive doubly-linked list: a struct http_link inside each member;
 * HTTP_OF(link, type, field) is the member a link is the field of. */
struct http_link {
	struct http_link *prev, *next;
};
struct http_list {
	struct http_link *head, *tail;
};
#define HTTP_OF(p, type, field) \
	((type *)(void *)((char *)(p) - offsetof(type, field)))

static inline void
http_list_append(struct http_list *l, struct http_link *n)
{
	n->next = NULL;
	n->prev = l->tail;
	if (l->tail != NULL)
		l->tail->next = n;
	else
		l->head = n;
	l->tail = n;
}

static inline void
http_list_remove(struct http_list *l, struct http_link *n)
{
	if (n->prev != NULL)
		n->prev->next = n->next;
	else
		l->head = n->next;
	if (n->next != NULL)
		n->next->prev = n->prev;
	else
		l->tail = n->prev;
	n->prev = n->next = NULL;
}

/* What an epoll event of the waiting room points at (first member). */
enum http_tag { TAG_EVENT = 1, TAG_REQ, TAG_LINGER };

/* What a worker does with a request. */
enum http_job {
	JOB_RUN,                     /* call the handler */
	JOB_POLL,                    /* woken: later.poll(ctx, 0) */
	JOB_FINAL,                   /* deadline or stop: later.poll(ctx, 1) */
	JOB_FILL                     /* produce the next piece of a stream */
};

/* Where a held long-poll is (under wlock). */
enum http_park { PARK_NONE, PARK_HELD, PARK_WOKEN };

/* A streamed body being sent: MHD reads buf; a worker refills it. */
struct http_stream {
	ssize_t (*fn)(void *ctx, char *buf, size_t max);
	void (*free_fn)(void *ctx);
	void *ctx;
	struct http_req *rs;
	char *buf;
	size_t len, off;
	int eof, err;
};

/* One connection (MHD's socket context): its request deadline. */
struct http_conn {
	struct http_link link;           /* request-deadline list */
	uint64_t deadline;               /* jit_monotonic_ms() */
	int fd;
	int listed;
};

/* One request, from its request line to its completion. */
struct http_req {
	int tag;                     /* TAG_REQ; first member */
	struct jit_http *h;
	void *conn;                  /* struct MHD_Connection * */
	struct http_conn *hc;
	int fd;
	uint64_t start_ms;
	char *uri;                   /* raw request URI (with query) */
	char method[16];
	char path[128];              /* for the log line, truncated */
	unsigned char *body;
	size_t body_len, body_cap;
	int too_large;
	size_t discarded;            /* body bytes dropped after too_large */
	int close_conn;              /* answer with Connection: close */
	int answered_early;          /* by answer_bad_length */
	unsigned status;
	char user[72];
	char addr[INET6_ADDRSTRLEN];
	struct http_link pre;        /* before the first call (pre_list) */
	int in_pre;
	pthread_t poller;            /* the polling thread serving it */

	/* Owned by a worker or the room while the connection is suspended. */
	enum http_job job;
	struct http_req *qnext;      /* job queue; room's local lists */
	struct jit_http_request req;
	struct jit_http_response resp;
	struct jit_http_later later;
	struct http_stream *st;      /* JOB_FILL */
	int answered;                /* resp holds the answer to send */
	int gone;                    /* the client left while held */

	/* Waiting room, under wlock. */
	enum http_park park;
	size_t heap_i;
	struct http_link blink;      /* its bucket */
	struct http_req *wnext;      /* the woken list */
};

/* A socket kept after its answer until the client closes (http_room.c). */
struct http_linger;

struct jit_http {
	/* http.c */
	struct MHD_Daemon *daemon;
	jit_http_handler_fn handler;
	void *ctx;
	size_t max_body;
	int quiet;
	int fd;                      /* listening socket until MHD has it */
	unsigned port;
	char *unix_path;             /* socket file to unlink at stop */
	char *tls_cert_pem;
	char *tls_key_pem;
	size_t tls_key_len;
	atomic_int starting;         /* inside jit_http_serve */
	unsigned flags;              /* MHD_USE_* */
	unsigned request_timeout;    /* seconds */
	unsigned connection_timeout; /* seconds */
	unsigned max_connections;
	unsigned per_address;
	char start_msg[256];         /* first MHD message while starting */
	pthread_mutex_t pre_lock;
	struct http_list pre_list;   /* request line seen, no call yet */

	/* http_room.c: the worker pool, under qlock. */
	pthread_mutex_t qlock;
	pthread_cond_t qcv;
	struct http_req *qhead, *qtail;
	int qquit;
	unsigned active;             /* suspended requests (queued, running,
	                                held) */
	unsigned nworkers;
	pthread_t *workers;
	unsigned nstarted;

	/* http_room.c: the waiting room, under wlock. */
	pthread_mutex_t wlock;
	int ev_tag;                  /* TAG_EVENT: epoll data of evfd */
	int epfd, evfd;
	pthread_t room;
	int room_started;
	uint64_t room_until;         /* the room thread sleeps until then at
	                                most (jit_monotonic_ms; UINT64_MAX:
	                                no deadline; 0: it is awake) */
	int room_quit;
	int room_closed;             /* stopped: linger closes at once */
	int stopping;                /* no more holding: final polls */
	int swept;                   /* held ones were polled for the stop */
	atomic_uint_fast64_t wake_seq;
	uint64_t bucket_seq[HTTP_BUCKETS];
	struct http_list bucket[HTTP_BUCKETS];
	struct http_req *woken;
	struct http_req **heap;      /* held, by later.deadline_ms */
	size_t nheap, capheap;
	struct http_list conns;      /* armed request deadlines, in order */
	struct http_list lingers;    /* by deadline */
};

/* ---- http_room.c ------------------------------------------------------ */

/* The room's locks and descriptors (at bind) and their release. */
int jit_http__room_init(struct jit_http *h);
void jit_http__room_destroy(struct jit_http *h);
/* Start the workers and the room thread; SYSTEM with err set. */
int jit_http__room_start(struct jit_http *h, char *err, size_t errlen);
/* Stop holding: every held request gets its final poll, later ones at
 * once. */
void jit_http__room_stop_holding(struct jit_http *h);
/* Requests suspended for a worker or held (0 when all were answered). */
unsigned jit_http__room_active(struct jit_http *h);
/* Join every thread; requests still queued are resumed as gone (their
 * streams end in error), lingering sockets are closed. */
void jit_http__room_stop(struct jit_http *h);
/* Hand a suspended request to a worker (JOB_RUN or JOB_FILL). */
void jit_http__queue(struct jit_http *h, struct http_req *rs,
    enum http_job job);
/* Take over fd (a dup of an answered connection's socket, shut for
 * writing): read and drop what the client still sends until it closes,
 * for at most a second or 64 KiB, then close it. */
void jit_http__linger(struct jit_http *h, int fd);
/* Request deadlines: arm starts request_timeout for hc (a new connection,
 * or one whose answer was sent), disarm stops it (the headers arrived or
 * the connection closed).  When it passes the socket is shut down, which
 * makes MHD close the connection.  Called from the polling thread. */
void jit_http__conn_arm(struct jit_http *h, struct http_conn *hc);
void jit_http__conn_disarm(struct jit_http *h, struct http_conn *hc);

/* ---- http.c ------------------------------------------------------------- */

/* Give a suspended request back to the polling thread (after its answer
 * is in rs->resp with rs->answered set, its stream was refilled, or with
 * rs->gone set). */
void jit_http__resume(struct http_req *rs);

#endif
