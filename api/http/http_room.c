/*
 * http_room.c - see http_int.h: the worker pool that runs the handler,
 * and the waiting room, one thread over an epoll set, that holds
 * long-polls without a thread each (until a wake, their deadline, the
 * server's stop or their client's close), enforces request deadlines and
 * lingers over sockets closed after an answer.
 */
#include "http_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "err.h"
#include "util.h"

#define MAX_EVENTS 256
#define LINGER_MS 1000
#define LINGER_MAX (64u * 1024)

struct http_linger {
	int tag;                     /* TAG_LINGER; first member */
	int fd;
	uint64_t deadline;
	size_t total;
	struct http_link link;       /* h->lingers */
};

/* ---- set-up ------------------------------------------------------------ */

int
jit_http__room_init(struct jit_http *h)
{
	struct epoll_event ev;

	pthread_mutex_init(&h->qlock, NULL);
	pthread_cond_init(&h->qcv, NULL);
	pthread_mutex_init(&h->wlock, NULL);
	h->ev_tag = TAG_EVENT;
	h->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	h->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (h->evfd < 0 || h->epfd < 0)
		return jit_err_from_errno(errno);
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = &h->ev_tag;
	if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, h->evfd, &ev) != 0)
		return jit_err_from_errno(errno);
	return 0;
}

void
jit_http__room_destroy(struct jit_http *h)
{
	if (h->evfd >= 0)
		close(h->evfd);
	if (h->epfd >= 0)
		close(h->epfd);
	free(h->heap);
	free(h->workers);
	pthread_mutex_destroy(&h->qlock);
	pthread_cond_destroy(&h->qcv);
	pthread_mutex_destroy(&h->wlock);
}

/* Make the room thread look at its lists again. */
static void
room_signal(struct jit_http *h)
{
	uint64_t one = 1;

	/* EAGAIN means the counter is already non-zero: it will look. */
	(void)!write(h->evfd, &one, sizeof(one));
}

/* Under wlock: a deadline at `at` was added.  The room thread needs a
 * signal only if it would otherwise sleep past it: one that wakes
 * earlier (or is awake) looks at the deadlines again anyway.  So a
 * connection re-armed after each answer costs no wake-up of the room
 * while an earlier deadline stands. */
static void
room_deadline_added(struct jit_http *h, uint64_t at)
{
	if (h->room_started && at < h->room_until)
		room_signal(h);
}

/* ---- the held requests' deadline heap (under wlock) ------------------- */

static int
heap_less(struct jit_http *h, size_t a, size_t b)
{
	return h->heap[a]->later.deadline_ms < h->heap[b]->later.deadline_ms;
}

static void
heap_swap(struct jit_http *h, size_t a, size_t b)
{
	struct http_req *t = h->heap[a];

	h->heap[a] = h->heap[b];
	h->heap[b] = t;
	h->heap[a]->heap_i = a;
	h->heap[b]->heap_i = b;
}

static void
heap_up(struct jit_http *h, size_t i)
{
	while (i > 0 && heap_less(h, i, (i - 1) / 2)) {
		heap_swap(h, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void
heap_down(struct jit_http *h, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, m = i;

		if (l < h->nheap && heap_less(h, l, m))
			m = l;
		if (l + 1 < h->nheap && heap_less(h, l + 1, m))
			m = l + 1;
		if (m == i)
			return;
		heap_swap(h, i, m);
		i = m;
	}
}

static int
heap_push(struct jit_http *h, struct http_req *rs)
{
	if (h->nheap == h->capheap) {
		size_t cap = h->capheap != 0 ? h->capheap * 2 : 256;
		struct http_req **n;

		if (cap > SIZE_MAX / sizeof(*n) ||
		    (n = realloc(h->heap, cap * sizeof(*n))) == NULL)
			return JIT_ERR_ALLOC;
		h->heap = n;
		h->capheap = cap;
	}
	rs->heap_i = h->nheap;
	h->heap[h->nheap++] = rs;
	heap_up(h, rs->heap_i);
	return 0;
}

static void
heap_remove(struct jit_http *h, struct http_req *rs)
{
	size_t i = rs->heap_i;

	if (i != --h->nheap) {
		heap_swap(h, i, h->nheap);
		heap_down(h, i);
		heap_up(h, i);
	}
}

/* ---- holding (under wlock) -------------------------------------------- */

static void
bucket_unlink(struct jit_http *h, struct http_req *rs)
{
	http_list_remove(&h->bucket[rs->later.key % HTTP_BUCKETS],
	    &rs->blink);
}

/* Take a held or woken request out of the room (room thread only).  A
 * woken one stays linked in h->woken (wnext), which is walked and cleared
 * before wlock is released; its park state says it left. */
static void
unhold(struct jit_http *h, struct http_req *rs)
{
	if (rs->park == PARK_HELD)
		bucket_unlink(h, rs);
	heap_remove(h, rs);
	(void)epoll_ctl(h->epfd, EPOLL_CTL_DEL, rs->fd, NULL);
	rs->park = PARK_NONE;
}

enum hold_result { HOLD_HELD, HOLD_AGAIN, HOLD_FINAL };

/* Hold rs until its key is woken, its deadline passes, its client goes or
 * the server stops.  since: h->wake_seq before the handler or poll that
 * found nothing new started; a wake after that means poll again now. */
static enum hold_result
hold(struct jit_http *h, struct http_req *rs, uint64_t since)
{
	struct epoll_event ev;
	unsigned b = rs->later.key % HTTP_BUCKETS;
	enum hold_result res = HOLD_HELD;

	pthread_mutex_lock(&h->wlock);
	if (h->stopping || jit_monotonic_ms() >= rs->later.deadline_ms)
		res = HOLD_FINAL;
	else if (h->bucket_seq[b] > since)
		res = HOLD_AGAIN;
	else if (heap_push(h, rs) != 0)
		res = HOLD_FINAL;        /* answer now rather than lose it */
	if (res != HOLD_HELD) {
		pthread_mutex_unlock(&h->wlock);
		return res;
	}
	rs->park = PARK_HELD;
	http_list_append(&h->bucket[b], &rs->blink);
	/* Only the peer's FIN or a reset: a pipelined request behind the
	 * long-poll is not a reason to drop it. */
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLRDHUP;
	ev.data.ptr = &rs->tag;
	(void)epoll_ctl(h->epfd, EPOLL_CTL_ADD, rs->fd, &ev);
	room_deadline_added(h, rs->later.deadline_ms);
	pthread_mutex_unlock(&h->wlock);
	return res;
}

void
jit_http_wake(struct jit_http *h, const unsigned *keys, size_t n)
{
	struct http_req *rs;
	uint64_t seq;
	int moved = 0;
	size_t i;

	if (h == NULL || n == 0)
		return;
	pthread_mutex_lock(&h->wlock);
	seq = atomic_load(&h->wake_seq) + 1;
	atomic_store(&h->wake_seq, seq);
	for (i = 0; i < n; i++) {
		unsigned b = keys[i] % HTTP_BUCKETS;

		h->bucket_seq[b] = seq;
		while (h->bucket[b].head != NULL) {
			rs = HTTP_OF(h->bucket[b].head, struct http_req, blink);
			bucket_unlink(h, rs);
			rs->park = PARK_WOKEN;
			rs->wnext = h->woken;
			h->woken = rs;
			moved = 1;
		}
	}
	if (moved)
		room_signal(h);
	pthread_mutex_unlock(&h->wlock);
}

/* ---- the worker pool ----------------------------------------------------- */

void
jit_http__queue(struct jit_http *h, struct http_req *rs, enum http_job job)
{
	pthread_mutex_lock(&h->qlock);
	rs->job = job;
	rs->qnext = NULL;
	if (job == JOB_RUN || job == JOB_FILL)
		h->active++;             /* newly suspended */
	if (h->qtail != NULL)
		h->qtail->qnext = rs;
	else
		h->qhead = rs;
	h->qtail = rs;
	pthread_mutex_unlock(&h->qlock);
	/* After the unlock, so the worker it wakes does not go straight back
	 * to sleep on qlock. */
	pthread_cond_signal(&h->qcv);
}

/* Queue a list of jobs linked by qnext (from the room thread). */
static void
queue_list(struct jit_http *h, struct http_req *list)
{
	struct http_req *next;

	for (; list != NULL; list = next) {
		next = list->qnext;
		jit_http__queue(h, list, list->job);
	}
}

/* rs goes back to the polling thread: no longer active. */
static void
give_back(struct jit_http *h, struct http_req *rs)
{
	pthread_mutex_lock(&h->qlock);
	h->active--;
	pthread_mutex_unlock(&h->qlock);
	jit_http__resume(rs);
}

static void
end_later(struct http_req *rs)
{
	if (rs->later.release != NULL)
		rs->later.release(rs->later.ctx);
	memset(&rs->later, 0, sizeof(rs->later));
}

/* The answer is in rs->resp: send it. */
static void
answer(struct jit_http *h, struct http_req *rs)
{
	end_later(rs);
	rs->answered = 1;
	give_back(h, rs);
}

/* Poll rs's deferred answer (final: it must answer) until it answers or
 * is held. */
static void
poll_later(struct jit_http *h, struct http_req *rs, int final)
{
	for (;;) {
		uint64_t since = atomic_load(&h->wake_seq);
		int r;

		jit_http_response_release(&rs->resp);
		r = rs->later.poll(rs->later.ctx, final, &rs->resp);
		if (r == 1 || final) {
			if (r != 1 || rs->resp.later.poll != NULL) {
				jit_http_response_release(&rs->resp);
				rs->resp.status = 500;
			}
			answer(h, rs);
			return;
		}
		switch (hold(h, rs, since)) {
		case HOLD_HELD:
			return;
		case HOLD_FINAL:
			final = 1;
			break;
		case HOLD_AGAIN:
			break;
		}
	}
}

static void
run_handler(struct jit_http *h, struct http_req *rs)
{
	uint64_t since = atomic_load(&h->wake_seq);
	struct jit_http_response *resp = &rs->resp;

	memset(resp, 0, sizeof(*resp));
	h->handler(h->ctx, &rs->req, resp);
	if (resp->later.poll == NULL) {
		answer(h, rs);
		return;
	}
	if (resp->status != 0 || resp->body != NULL || resp->stream != NULL) {
		/* An answer and a deferral: the answer wins. */
		if (resp->later.release != NULL)
			resp->later.release(resp->later.ctx);
		memset(&resp->later, 0, sizeof(resp->later));
		answer(h, rs);
		return;
	}
	rs->later = resp->later;
	memset(&resp->later, 0, sizeof(resp->later));
	if (resp->user[0] != '\0')
		snprintf(rs->user, sizeof(rs->user), "%s", resp->user);
	switch (hold(h, rs, since)) {
	case HOLD_HELD:
		return;
	case HOLD_FINAL:
		poll_later(h, rs, 1);
		return;
	case HOLD_AGAIN:
		poll_later(h, rs, 0);
		return;
	}
}

static void
fill_stream(struct jit_http *h, struct http_req *rs)
{
	struct http_stream *st = rs->st;
	ssize_t n;

	st->off = st->len = 0;
	while (st->len < HTTP_STREAM_BUF / 2 && !st->eof && !st->err) {
		size_t room = HTTP_STREAM_BUF - st->len;

		n = st->fn(st->ctx, st->buf + st->len, room);
		if (n == 0)
			st->eof = 1;
		else if (n < 0 || (size_t)n > room)
			st->err = 1;
		else
			st->len += (size_t)n;
	}
	give_back(h, rs);
}

static void *
worker_main(void *arg)
{
	struct jit_http *h = arg;
	struct http_req *rs;

	for (;;) {
		pthread_mutex_lock(&h->qlock);
		while (h->qhead == NULL && !h->qquit)
			pthread_cond_wait(&h->qcv, &h->qlock);
		if (h->qquit) {
			pthread_mutex_unlock(&h->qlock);
			return NULL;
		}
		rs = h->qhead;
		h->qhead = rs->qnext;
		if (h->qhead == NULL)
			h->qtail = NULL;
		pthread_mutex_unlock(&h->qlock);
		switch (rs->job) {
		case JOB_RUN:
			run_handler(h, rs);
			break;
		case JOB_POLL:
			poll_later(h, rs, 0);
			break;
		case JOB_FINAL:
			poll_later(h, rs, 1);
			break;
		case JOB_FILL:
			fill_stream(h, rs);
			break;
		}
	}
}

/* ---- lingering sockets (under wlock) ------------------------------------ */

static void
linger_close(struct jit_http *h, struct http_linger *l)
{
	http_list_remove(&h->lingers, &l->link);
	/* The dup shares MHD's file description, which may still be open:
	 * closing ours alone would leave the epoll registration behind. */
	(void)epoll_ctl(h->epfd, EPOLL_CTL_DEL, l->fd, NULL);
	close(l->fd);
	free(l);
}

/* Read and drop what arrived; close at the client's end or the limit. */
static void
linger_read(struct jit_http *h, struct http_linger *l)
{
	char buf[4096];
	ssize_t n;

	for (;;) {
		n = recv(l->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0) {
			l->total += (size_t)n;
			if (l->total < LINGER_MAX)
				continue;
		} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == EINTR)) {
			return;
		}
		linger_close(h, l);
		return;
	}
}

void
jit_http__linger(struct jit_http *h, int fd)
{
	struct http_linger *l;
	struct epoll_event ev;

	if (fd < 0)
		return;
	pthread_mutex_lock(&h->wlock);
	if (h->room_closed || (l = calloc(1, sizeof(*l))) == NULL) {
		pthread_mutex_unlock(&h->wlock);
		close(fd);
		return;
	}
	l->tag = TAG_LINGER;
	l->fd = fd;
	l->deadline = jit_monotonic_ms() + LINGER_MS;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | EPOLLRDHUP;
	ev.data.ptr = &l->tag;
	if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
		pthread_mutex_unlock(&h->wlock);
		close(fd);
		free(l);
		return;
	}
	http_list_append(&h->lingers, &l->link);
	room_deadline_added(h, l->deadline);
	pthread_mutex_unlock(&h->wlock);
}

/* ---- request deadlines (under wlock) ----------------------------------- */

static void
conn_unlink(struct jit_http *h, struct http_conn *hc)
{
	if (hc->listed)
		http_list_remove(&h->conns, &hc->link);
	hc->listed = 0;
}

void
jit_http__conn_arm(struct jit_http *h, struct http_conn *hc)
{
	if (h->request_timeout == 0)
		return;
	pthread_mutex_lock(&h->wlock);
	conn_unlink(h, hc);
	/* Every deadline is now + request_timeout, so the list stays in
	 * deadline order by appending. */
	hc->deadline = jit_monotonic_ms() + h->request_timeout * 1000ull;
	http_list_append(&h->conns, &hc->link);
	hc->listed = 1;
	room_deadline_added(h, hc->deadline);
	pthread_mutex_unlock(&h->wlock);
}

void
jit_http__conn_disarm(struct jit_http *h, struct http_conn *hc)
{
	pthread_mutex_lock(&h->wlock);
	conn_unlink(h, hc);
	pthread_mutex_unlock(&h->wlock);
}

/* ---- the room thread --------------------------------------------------- */

/* Milliseconds until the earliest deadline, -1 for none (under wlock). */
static int
next_timeout(struct jit_http *h, uint64_t now)
{
	uint64_t t = UINT64_MAX;

	if (h->nheap > 0)
		t = h->heap[0]->later.deadline_ms;
	if (h->conns.head != NULL) {
		struct http_conn *hc = HTTP_OF(h->conns.head, struct http_conn,
		    link);
		if (hc->deadline < t)
			t = hc->deadline;
	}
	if (h->lingers.head != NULL) {
		struct http_linger *l = HTTP_OF(h->lingers.head,
		    struct http_linger, link);
		if (l->deadline < t)
			t = l->deadline;
	}
	if (t == UINT64_MAX)
		return -1;
	if (t <= now)
		return 0;
	/* Rounded up, so a wake-up is never a millisecond early. */
	return t - now > 60000 ? 60000 : (int)(t - now) + 1;
}

/* Under wlock: move what is due out of the room.  Jobs for the workers go
 * to *jobs, requests whose client left to *gone (both via qnext). */
static void
room_due(struct jit_http *h, struct http_req **jobs, struct http_req **gone,
    const struct epoll_event *ev, int n)
{
	struct http_req *rs;
	uint64_t now;
	int i;

	for (i = 0; i < n; i++) {
		int tag = *(const int *)ev[i].data.ptr;

		if (tag == TAG_EVENT) {
			uint64_t v;
			(void)!read(h->evfd, &v, sizeof(v));
		} else if (tag == TAG_LINGER) {
			linger_read(h, (struct http_linger *)ev[i].data.ptr);
		} else {
			rs = (struct http_req *)ev[i].data.ptr;
			if (rs->park == PARK_NONE)
				continue;
			unhold(h, rs);
			rs->gone = 1;
			rs->qnext = *gone;
			*gone = rs;
		}
	}
	for (rs = h->woken; rs != NULL; rs = rs->wnext) {
		if (rs->park != PARK_WOKEN)
			continue;
		unhold(h, rs);
		rs->job = JOB_POLL;
		rs->qnext = *jobs;
		*jobs = rs;
	}
	h->woken = NULL;
	now = jit_monotonic_ms();
	while (h->nheap > 0 && (h->stopping ||
	    h->heap[0]->later.deadline_ms <= now)) {
		rs = h->heap[0];
		unhold(h, rs);
		rs->job = JOB_FINAL;
		rs->qnext = *jobs;
		*jobs = rs;
	}
	h->swept = h->stopping;
	/* A request that did not arrive in time: shutting the socket down
	 * makes MHD see the end and close the connection (the fd is still
	 * MHD's: it closes only after unlisting it, under this lock). */
	while (h->conns.head != NULL) {
		struct http_conn *hc = HTTP_OF(h->conns.head, struct http_conn,
		    link);

		if (hc->deadline > now)
			break;
		(void)shutdown(hc->fd, SHUT_RDWR);
		conn_unlink(h, hc);
	}
	while (h->lingers.head != NULL) {
		struct http_linger *l = HTTP_OF(h->lingers.head,
		    struct http_linger, link);

		if (l->deadline > now)
			break;
		linger_close(h, l);
	}
}

static void *
room_main(void *arg)
{
	struct jit_http *h = arg;
	struct epoll_event ev[MAX_EVENTS];
	struct http_req *jobs, *gone, *next;
	uint64_t now;
	int n, timeout, quit;

	for (;;) {
		pthread_mutex_lock(&h->wlock);
		now = jit_monotonic_ms();
		timeout = next_timeout(h, now);
		h->room_until = timeout < 0 ? UINT64_MAX :
		    now + (uint64_t)timeout;
		quit = h->room_quit;
		pthread_mutex_unlock(&h->wlock);
		if (quit)
			return NULL;
		n = epoll_wait(h->epfd, ev, MAX_EVENTS, timeout);
		if (n < 0)
			n = 0;
		jobs = gone = NULL;
		pthread_mutex_lock(&h->wlock);
		h->room_until = 0;       /* awake: it looks before sleeping */
		room_due(h, &jobs, &gone, ev, n);
		pthread_mutex_unlock(&h->wlock);
		for (; gone != NULL; gone = next) {
			next = gone->qnext;
			end_later(gone);
			give_back(h, gone);
		}
		queue_list(h, jobs);
	}
}

/* ---- start and stop ---------------------------------------------------- */

int
jit_http__room_start(struct jit_http *h, char *err, size_t errlen)
{
	unsigned i;

	if (h->nworkers == 0)
		h->nworkers = HTTP_DEFAULT_WORKERS;
	if ((h->workers = calloc(h->nworkers, sizeof(*h->workers))) == NULL)
		return JIT_ERR_ALLOC;
	for (i = 0; i < h->nworkers; i++) {
		if (pthread_create(&h->workers[i], NULL, worker_main, h) != 0) {
			jit_seterr(err, errlen, "cannot start the HTTP worker "
			    "threads");
			return JIT_ERR_SYSTEM;
		}
		h->nstarted++;
	}
	if (pthread_create(&h->room, NULL, room_main, h) != 0) {
		jit_seterr(err, errlen, "cannot start the HTTP waiting room "
		    "thread");
		return JIT_ERR_SYSTEM;
	}
	pthread_mutex_lock(&h->wlock);
	h->room_started = 1;
	pthread_mutex_unlock(&h->wlock);
	room_signal(h);              /* deadlines armed before the start */
	return 0;
}

void
jit_http__room_stop_holding(struct jit_http *h)
{
	pthread_mutex_lock(&h->wlock);
	h->stopping = 1;
	pthread_mutex_unlock(&h->wlock);
	room_signal(h);
}

unsigned
jit_http__room_active(struct jit_http *h)
{
	unsigned n;

	pthread_mutex_lock(&h->qlock);
	n = h->active;
	pthread_mutex_unlock(&h->qlock);
	return n;
}

void
jit_http__room_stop(struct jit_http *h)
{
	struct http_req *rs, *next;
	unsigned i;

	/* The room first: afterwards nothing queues new jobs, and with
	 * stopping set a worker answers instead of holding. */
	pthread_mutex_lock(&h->wlock);
	h->stopping = 1;
	h->room_quit = 1;
	pthread_mutex_unlock(&h->wlock);
	if (h->room_started) {
		room_signal(h);
		pthread_join(h->room, NULL);
		h->room_started = 0;
	}
	pthread_mutex_lock(&h->qlock);
	h->qquit = 1;
	pthread_cond_broadcast(&h->qcv);
	pthread_mutex_unlock(&h->qlock);
	for (i = 0; i < h->nstarted; i++)
		pthread_join(h->workers[i], NULL);
	h->nstarted = 0;
	/* What no worker took: drop it with its connection. */
	pthread_mutex_lock(&h->qlock);
	rs = h->qhead;
	h->qhead = h->qtail = NULL;
	pthread_mutex_unlock(&h->qlock);
	for (; rs != NULL; rs = next) {
		next = rs->qnext;
		if (rs->job == JOB_FILL)
			rs->st->err = 1;
		else
			rs->gone = 1;
		end_later(rs);
		give_back(h, rs);
	}
	/* Held ones (the room polled them all; in case one slipped in). */
	pthread_mutex_lock(&h->wlock);
	while (h->nheap > 0) {
		rs = h->heap[0];
		unhold(h, rs);
		rs->gone = 1;
		pthread_mutex_unlock(&h->wlock);
		end_later(rs);
		give_back(h, rs);
		pthread_mutex_lock(&h->wlock);
	}
	h->woken = NULL;
	while (h->lingers.head != NULL)
		linger_close(h, HTTP_OF(h->lingers.head, struct http_linger,
		    link));
	h->room_closed = 1;
	pthread_mutex_unlock(&h->wlock);
}
