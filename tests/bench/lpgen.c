/*
 * lpgen.c - hold many long-polls open against jit-ca serve, from many
 * loopback source addresses, for bench-longpoll.sh (raw sockets, epoll,
 * one thread).
 *
 * Connection k (0..N-1) comes from address k % ADDRS, where address a is
 * 127.0.(1 + a / 254).(1 + a % 254), and sends one
 *   GET /v1/requests/ID?wait=WAIT   (ID: line k % lines of IDFILE)
 * with the bearer token.  At most 256 connects are in flight at once, so
 * the server's listen queue does not overflow.  An answer (anything the
 * server sends) or a close ends a connection's part.
 *
 * Every 100 ms, and at each change, STATUSFILE is rewritten with one line:
 *   sent=N answered=N closed=N failed=N last_ms=T
 * (failed: connect or send errors; last_ms: CLOCK_REALTIME in ms of the
 * latest answer, 0 before any).  On SIGTERM every socket is closed and
 * the line is printed on stdout.
 *
 * Usage: lpgen -p PORT -t TOKEN -i IDFILE -n N [-a ADDRS] [-w WAIT]
 *              -s STATUSFILE
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_IDS 100000
#define INFLIGHT 256

enum cstate { C_NEW, C_CONNECTING, C_SENT, C_DONE };

struct conn {
	int fd;
	enum cstate st;
};

static volatile sig_atomic_t stop;
static unsigned long sent, answered, closed_, failed;
static uint64_t last_ms;

static void
on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t
real_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
status(const char *path, FILE *also)
{
	char tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((f = fopen(tmp, "w")) == NULL)
		return;
	fprintf(f, "sent=%lu answered=%lu closed=%lu failed=%lu last_ms=%llu\n",
	    sent, answered, closed_, failed, (unsigned long long)last_ms);
	fclose(f);
	rename(tmp, path);
	if (also != NULL)
		fprintf(also, "sent=%lu answered=%lu closed=%lu failed=%lu "
		    "last_ms=%llu\n", sent, answered, closed_, failed,
		    (unsigned long long)last_ms);
}

static void
usage(void)
{
	fprintf(stderr, "usage: lpgen -p PORT -t TOKEN -i IDFILE -n N "
	    "[-a ADDRS] [-w WAIT] -s STATUSFILE\n");
	exit(2);
}

static int ep;
static struct conn *c;
static char **ids;
static unsigned long nids, naddr = 100, wait_s = 600, port, inflight;
static const char *token;

/* Connect connection k from its source address (127.0.A.B). */
static void
start_connect(unsigned long k)
{
	struct sockaddr_in src, dst;
	struct epoll_event ev;
	unsigned long a = k % naddr;

	memset(&src, 0, sizeof(src));
	src.sin_family = AF_INET;
	src.sin_addr.s_addr = htonl(0x7f000000u | (uint32_t)(1 + a / 254) << 8 |
	    (uint32_t)(1 + a % 254));
	memset(&dst, 0, sizeof(dst));
	dst.sin_family = AF_INET;
	dst.sin_port = htons((uint16_t)port);
	dst.sin_addr.s_addr = htonl(0x7f000001u);
	c[k].fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (c[k].fd < 0 || bind(c[k].fd, (struct sockaddr *)&src,
	    sizeof(src)) != 0 || (connect(c[k].fd, (struct sockaddr *)&dst,
	    sizeof(dst)) != 0 && errno != EINPROGRESS)) {
		if (c[k].fd >= 0)
			close(c[k].fd);
		c[k].fd = -1;
		c[k].st = C_DONE;
		failed++;
		return;
	}
	c[k].st = C_CONNECTING;
	ev.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP;
	ev.data.u64 = k;
	epoll_ctl(ep, EPOLL_CTL_ADD, c[k].fd, &ev);
	inflight++;
}

static void
finish(struct conn *x)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, x->fd, NULL);
	close(x->fd);
	x->st = C_DONE;
}

/* Connection k is connected: send its long-poll. */
static void
send_poll(unsigned long k)
{
	struct conn *x = &c[k];
	struct epoll_event ev;
	char req[1024];
	socklen_t el = sizeof(int);
	int err = 0, m;

	inflight--;
	getsockopt(x->fd, SOL_SOCKET, SO_ERROR, &err, &el);
	m = snprintf(req, sizeof(req), "GET /v1/requests/%s?wait=%lu "
	    "HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer %s\r\n\r\n",
	    ids[k % nids], wait_s, token);
	if (err != 0 || m <= 0 || (size_t)m >= sizeof(req) ||
	    send(x->fd, req, (size_t)m, MSG_NOSIGNAL) != m) {
		finish(x);
		failed++;
		return;
	}
	x->st = C_SENT;
	sent++;
	ev.events = EPOLLIN | EPOLLRDHUP;
	ev.data.u64 = k;
	epoll_ctl(ep, EPOLL_CTL_MOD, x->fd, &ev);
}

/* Something arrived on connection k: an answer or the server's close.
 * 1 if that ended it. */
static int
on_input(unsigned long k)
{
	struct conn *x = &c[k];
	char buf[4096];
	ssize_t r = recv(x->fd, buf, sizeof(buf), MSG_DONTWAIT);

	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (x->st == C_CONNECTING)
		inflight--;
	if (r > 0) {
		answered++;
		last_ms = real_ms();
	} else {
		closed_++;
	}
	finish(x);
	return 1;
}

int
main(int argc, char **argv)
{
	const char *idfile = NULL, *statfile = NULL;
	unsigned long n = 0, k, started = 0;
	struct epoll_event evs[512];
	struct rlimit rl;
	char line[256];
	uint64_t next_status = 0;
	FILE *f;
	int ch, i, nev, changed;

	while ((ch = getopt(argc, argv, "p:t:i:n:a:w:s:")) != -1) {
		switch (ch) {
		case 'p': port = strtoul(optarg, NULL, 10); break;
		case 't': token = optarg; break;
		case 'i': idfile = optarg; break;
		case 'n': n = strtoul(optarg, NULL, 10); break;
		case 'a': naddr = strtoul(optarg, NULL, 10); break;
		case 'w': wait_s = strtoul(optarg, NULL, 10); break;
		case 's': statfile = optarg; break;
		default: usage();
		}
	}
	if (port == 0 || port > 65535 || token == NULL || idfile == NULL ||
	    n == 0 || naddr == 0 || naddr > 254 * 254 || statfile == NULL)
		usage();
	if ((f = fopen(idfile, "r")) == NULL) {
		perror(idfile);
		return 1;
	}
	if ((ids = calloc(MAX_IDS, sizeof(*ids))) == NULL)
		return 1;
	while (nids < MAX_IDS && fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] != '\0' && (ids[nids] = strdup(line)) != NULL)
			nids++;
	}
	fclose(f);
	if (nids == 0) {
		fprintf(stderr, "lpgen: no ids in %s\n", idfile);
		return 1;
	}
	/* One descriptor per connection. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if ((c = calloc(n, sizeof(*c))) == NULL ||
	    (ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		return 1;
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	signal(SIGPIPE, SIG_IGN);

	while (!stop) {
		/* Start connects, INFLIGHT at a time. */
		while (started < n && inflight < INFLIGHT)
			start_connect(started++);
		nev = epoll_wait(ep, evs, 512, 100);
		changed = 0;
		for (i = 0; i < nev; i++) {
			k = (unsigned long)evs[i].data.u64;
			if (c[k].st == C_CONNECTING &&
			    (evs[i].events & EPOLLOUT)) {
				send_poll(k);
				changed = 1;
			} else if (c[k].st == C_SENT ||
			    c[k].st == C_CONNECTING) {
				changed |= on_input(k);
			}
		}
		if (changed || real_ms() >= next_status) {
			status(statfile, NULL);
			next_status = real_ms() + 100;
		}
	}
	status(statfile, stdout);
	for (k = 0; k < started; k++)
		if (c[k].st != C_DONE && c[k].fd >= 0)
			close(c[k].fd);
	free(c);
	for (k = 0; k < nids; k++)
		free(ids[k]);
	free(ids);
	return 0;
}
