/* http.c - see http.h and http_int.h: libmicrohttpd's side of the server.
 * The only file that includes microhttpd.h. */
#include "http_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <microhttpd.h>

#include "buf.h"
#include "err.h"
#include "util.h"

/* TLS 1.3, and TLS 1.2 with forward secrecy and AEAD only: ECDHE key
 * exchange (no static RSA, no finite-field DHE), AES-GCM or ChaCha20-Poly1305
 * (no CBC, no SHA-1 MACs), elliptic-curve groups only. */
#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:" \
	"-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:" \
	"-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM:+CHACHA20-POLY1305:" \
	"-MAC-ALL:+AEAD:" \
	"-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1:+GROUP-SECP384R1:" \
	"+GROUP-SECP521R1"
#define TLS_FILE_MAX (1024 * 1024)
#define DISCARD_MAX (16u * 1024 * 1024)  /* then the connection is closed */
#define LISTEN_BACKLOG 1024

void
jit_http_response_release(struct jit_http_response *r)
{
	if (r == NULL)
		return;
	free(r->body);
	/* The cookie may hold a session id. */
	if (r->set_cookie != NULL)
		jit_wipe(r->set_cookie, strlen(r->set_cookie));
	free(r->set_cookie);
	free(r->location);
	if (r->stream_free != NULL)
		r->stream_free(r->stream_ctx);
	if (r->later.release != NULL)
		r->later.release(r->later.ctx);
	memset(r, 0, sizeof(*r));
}

/* Wipe and free the request body (it may hold a public key). */
static void
body_free(struct http_req *rs)
{
	if (rs->body != NULL) {
		jit_wipe(rs->body, rs->body_cap);
		free(rs->body);
		rs->body = NULL;
		rs->body_len = rs->body_cap = 0;
	}
}

/*
 * A streamed body (jit_http_response.stream) as an MHD content reader.
 * MHD calls it on the polling thread, which must not wait for the stream
 * (an audit export reads the store): it hands out what a worker produced
 * and, once that is used up, suspends the connection and queues the next
 * piece (JOB_FILL); returning 0 makes MHD ask again after the resume.
 */
static ssize_t
stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct http_stream *st = cls;
	struct http_req *rs = st->rs;
	size_t n;

	(void)pos;
	if (st->off < st->len) {
		n = st->len - st->off;
		if (n > max)
			n = max;
		memcpy(buf, st->buf + st->off, n);
		st->off += n;
		return (ssize_t)n;
	}
	if (st->err)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	if (st->eof)
		return MHD_CONTENT_READER_END_OF_STREAM;
	MHD_suspend_connection(rs->conn);
	rs->st = st;
	jit_http__queue(rs->h, rs, JOB_FILL);
	return 0;
}

static void
stream_free(void *cls)
{
	struct http_stream *st = cls;

	if (st->free_fn != NULL)
		st->free_fn(st->ctx);
	free(st->buf);
	free(st);
}

static void
client_addr(struct MHD_Connection *conn, char *out, size_t len)
{
	const union MHD_ConnectionInfo *ci;
	const struct sockaddr *sa;

	snprintf(out, len, "-");
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || (sa = ci->client_addr) == NULL)
		return;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
		    out, (socklen_t)len);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6,
		    &((const struct sockaddr_in6 *)sa)->sin6_addr, out,
		    (socklen_t)len);
	else if (sa->sa_family == AF_UNIX)
		snprintf(out, len, "unix");
}

/* Copy s for the log line, replacing anything unprintable. */
static void
log_copy(char *dst, size_t len, const char *s, size_t n)
{
	size_t i;

	if (n >= len)
		n = len - 1;
	for (i = 0; i < n && s[i] != '\0'; i++)
		dst[i] = (s[i] > 0x20 && s[i] < 0x7f) ? s[i] : '?';
	dst[i] = '\0';
}

static int
unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	    c == '~';
}

static int
upper_hex(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
jit_http_path_check(const char *uri, const char **detail)
{
	const unsigned char *p = (const unsigned char *)uri;
	int hi, lo, c;

	*detail = NULL;
	if (p == NULL || *p != '/') {
		*detail = "the request path must start with /";
		return JIT_ERR_INVALID_FORMAT;
	}
	for (; *p != '\0' && *p != '?'; p++) {
		if (unreserved(*p) || *p == '/')
			continue;
		if (*p != '%') {
			*detail = "a character in the request path must be "
			    "percent-encoded";
			return JIT_ERR_INVALID_FORMAT;
		}
		if (p[1] == '\0' || p[2] == '\0' ||
		    (hi = upper_hex(p[1])) < 0 || (lo = upper_hex(p[2])) < 0) {
			*detail = "percent-encoding in the request path must "
			    "be % and two upper-case hex digits";
			return JIT_ERR_INVALID_FORMAT;
		}
		c = hi * 16 + lo;
		if (c == 0) {
			*detail = "NUL byte in the request path";
			return JIT_ERR_INVALID_FORMAT;
		}
		if (c == '/') {
			*detail = "encoded slash in the request path";
			return JIT_ERR_INVALID_FORMAT;
		}
		if (unreserved((unsigned char)c)) {
			*detail = "needless percent-encoding in the request path";
			return JIT_ERR_INVALID_FORMAT;
		}
		p += 2;
	}
	return 0;
}

/* Count the framing headers of a request (names compare without case). */
struct framing {
	unsigned content_length;
	unsigned transfer_encoding;
	const char *te;
};

static enum MHD_Result
count_framing(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	struct framing *f = cls;

	(void)kind;
	if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0)
		f->content_length++;
	else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
		f->transfer_encoding++;
		f->te = value;
	}
	return MHD_YES;
}

/* NULL when the body's length is told one way only, else why not. */
static const char *
framing_problem(struct MHD_Connection *conn)
{
	struct framing f;

	memset(&f, 0, sizeof(f));
	MHD_get_connection_values(conn, MHD_HEADER_KIND, count_framing, &f);
	if (f.content_length > 0 && f.transfer_encoding > 0)
		return "both Content-Length and Transfer-Encoding";
	if (f.content_length > 1)
		return "more than one Content-Length";
	if (f.transfer_encoding > 1)
		return "more than one Transfer-Encoding";
	if (f.transfer_encoding == 1 && strcasecmp(f.te, "chunked") != 0)
		return "a Transfer-Encoding other than chunked";
	return NULL;
}

static enum MHD_Result
send_response(struct jit_http *h, struct MHD_Connection *conn,
    struct http_req *rs, struct jit_http_response *resp)
{
	struct MHD_Response *mr;
	enum MHD_Result ret;
	char ra[32];

	(void)h;
	if (resp->status == 0)
		resp->status = 500;
	if (resp->stream != NULL && resp->body == NULL) {
		struct http_stream *st = calloc(1, sizeof(*st));

		if (st == NULL || (st->buf = malloc(HTTP_STREAM_BUF)) == NULL) {
			free(st);
			jit_http_response_release(resp);
			return MHD_NO;
		}
		st->fn = resp->stream;
		st->free_fn = resp->stream_free;
		st->ctx = resp->stream_ctx;
		st->rs = rs;
		/* From here MHD owns the stream (stream_free on every path). */
		resp->stream = NULL;
		resp->stream_free = NULL;
		mr = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN,
		    32 * 1024, stream_read, st, stream_free);
		if (mr == NULL) {
			stream_free(st);
			return MHD_NO;
		}
	} else {
		if (resp->body == NULL) {
			resp->body = jit_strdup("");
			resp->body_len = 0;
			if (resp->body == NULL)
				return MHD_NO;
		}
		mr = MHD_create_response_from_buffer(resp->body_len,
		    resp->body, MHD_RESPMEM_MUST_FREE);
		if (mr == NULL) {
			jit_http_response_release(resp);
			return MHD_NO;
		}
		resp->body = NULL;
	}
	MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE,
	    resp->content_type != NULL ? resp->content_type :
	    "application/json");
	MHD_add_response_header(mr, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(mr, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(mr, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(mr, "Content-Security-Policy", JIT_HTTP_CSP);
	if (resp->set_cookie != NULL)
		MHD_add_response_header(mr, MHD_HTTP_HEADER_SET_COOKIE,
		    resp->set_cookie);
	if (resp->location != NULL)
		MHD_add_response_header(mr, MHD_HTTP_HEADER_LOCATION,
		    resp->location);
	if (resp->retry_after > 0) {
		snprintf(ra, sizeof(ra), "%u", resp->retry_after);
		MHD_add_response_header(mr, MHD_HTTP_HEADER_RETRY_AFTER, ra);
	}
	if (resp->www_authenticate)
		MHD_add_response_header(mr, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
		    "Bearer realm=\"jit-ssh\"");
	if (rs != NULL && rs->close_conn)
		MHD_add_response_header(mr, MHD_HTTP_HEADER_CONNECTION,
		    "close");
	if (rs != NULL) {
		rs->status = resp->status;
		/* A deferred answer keeps the user of the first call. */
		if (resp->user[0] != '\0')
			log_copy(rs->user, sizeof(rs->user), resp->user,
			    strnlen(resp->user, sizeof(resp->user)));
	}
	ret = MHD_queue_response(conn, resp->status, mr);
	MHD_destroy_response(mr);
	return ret;
}

static enum MHD_Result
send_error(struct jit_http *h, struct MHD_Connection *conn,
    struct http_req *rs, unsigned status, const char *error,
    const char *detail)
{
	struct jit_http_response resp;
	char buf[256];
	int n;

	memset(&resp, 0, sizeof(resp));
	/* error and detail are fixed strings without characters that need
	 * JSON escaping. */
	n = snprintf(buf, sizeof(buf), "{\"error\":\"%s\",\"detail\":\"%s\"}",
	    error, detail);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return MHD_NO;
	resp.status = status;
	if ((resp.body = jit_strdup(buf)) == NULL)
		return MHD_NO;
	resp.body_len = (size_t)n;
	return send_response(h, conn, rs, &resp);
}

/*
 * libmicrohttpd 0.9.75 to 0.9.77 check Content-Length themselves before
 * any callback of ours runs.  When it is not a number ("-1", "x") or does
 * not fit in 64 bits they queue their own error answer, whose status line
 * and headers then go out twice: their state machine builds the header
 * block again after the error (fixed in 1.0.0).  The one hook that runs at
 * that moment is the error logger, on the polling thread that parses the
 * header block of the connection, without saying which.  That connection
 * is among those whose request line arrived and whose handler has not
 * been called yet (h->pre_list): the one served by this polling thread
 * whose header block is complete (MHD knows its size), that has no answer
 * queued yet and whose Content-Length MHD refuses.  mhd_log answers it in
 * MHD's place: one complete answer, then the socket is shut for writing,
 * so MHD's own answer fails to send and the connection closes.
 */

/* 1 if MHD refuses the Content-Length value v (after its trimming). */
static int
length_refused(const char *v)
{
	unsigned long long n = 0;
	const char *p;

	if (*v == '\0')
		return 1;
	for (p = v; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return 1;
		if (n > (UINT64_MAX - (unsigned)(*p - '0')) / 10)
			return 1;
		n = n * 10 + (unsigned)(*p - '0');
	}
	return 0;
}

/* The connection MHD is refusing a Content-Length of, or NULL. */
static struct http_req *
length_refused_req(struct jit_http *h)
{
	struct http_req *rs = NULL, *c;
	struct http_link *n;
	const char *cl;

	pthread_mutex_lock(&h->pre_lock);
	for (n = h->pre_list.head; n != NULL && rs == NULL; n = n->next) {
		c = HTTP_OF(n, struct http_req, pre);
		if (c->answered_early ||
		    !pthread_equal(c->poller, pthread_self()) ||
		    MHD_get_connection_info(c->conn,
		    MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE) == NULL ||
		    MHD_get_connection_info(c->conn,
		    MHD_CONNECTION_INFO_HTTP_STATUS) != NULL)
			continue;
		cl = MHD_lookup_connection_value(c->conn, MHD_HEADER_KIND,
		    MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl != NULL && length_refused(cl))
			rs = c;
	}
	pthread_mutex_unlock(&h->pre_lock);
	return rs;
}

/* Write all of buf to the connection without waiting (a fresh
 * connection's send buffer has room for a short answer); 0 or -1. */
static int
early_write(struct jit_http *h, struct MHD_Connection *conn, int fd,
    const char *buf, size_t len)
{
	const union MHD_ConnectionInfo *ci = NULL;
	ssize_t n;

	if (h->tls_cert_pem != NULL) {
		ci = MHD_get_connection_info(conn,
		    MHD_CONNECTION_INFO_GNUTLS_SESSION);
		if (ci == NULL || ci->tls_session == NULL)
			return -1;
	}
	while (len > 0) {
		if (ci != NULL)
			n = gnutls_record_send(ci->tls_session, buf, len);
		else
			n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (ci != NULL ? n != GNUTLS_E_INTERRUPTED : errno != EINTR)
			return -1;
	}
	if (ci != NULL)
		(void)gnutls_bye(ci->tls_session, GNUTLS_SHUT_WR);
	return 0;
}

/* Shut the connection's socket for writing and linger over what the
 * client still sends (http_room.c), so the close that follows does not
 * reset the connection before the client has read the answer. */
static void
close_gently(struct jit_http *h, int fd)
{
	shutdown(fd, SHUT_WR);
	jit_http__linger(h, dup(fd));
}

/* Answer 400 (413 when too_large) for a Content-Length that libmicrohttpd
 * refused itself (see above), and shut the socket for writing. */
static void
answer_bad_length(struct jit_http *h, struct http_req *rs, int too_large)
{
	const char *q;
	char body[160], msg[512];
	int n, m;

	if (rs->status != 0)
		return;
	n = snprintf(body, sizeof(body), "{\"error\":\"%s\",\"detail\":"
	    "\"%s\"}", too_large ? "too_large" : "bad_framing",
	    too_large ? "request body too large" :
	    "Content-Length is not a number");
	m = snprintf(msg, sizeof(msg), "HTTP/1.1 %s\r\n"
	    "Connection: close\r\n"
	    "Content-Type: application/json\r\n"
	    "Cache-Control: no-store\r\n"
	    "X-Content-Type-Options: nosniff\r\n"
	    "Content-Length: %d\r\n\r\n%s",
	    too_large ? "413 Content Too Large" : "400 Bad Request", n, body);
	if (n < 0 || (size_t)n >= sizeof(body) || m < 0 ||
	    (size_t)m >= sizeof(msg))
		return;
	rs->status = too_large ? 413 : 400;
	rs->answered_early = 1;
	(void)early_write(h, rs->conn, rs->fd, msg, (size_t)m);
	close_gently(h, rs->fd);
	/* For the log line: the method is not known yet. */
	snprintf(rs->method, sizeof(rs->method), "-");
	q = strchr(rs->uri != NULL ? rs->uri : "", '?');
	if (rs->uri != NULL)
		log_copy(rs->path, sizeof(rs->path), rs->uri,
		    q != NULL ? (size_t)(q - rs->uri) : strlen(rs->uri));
	client_addr(rs->conn, rs->addr, sizeof(rs->addr));
}

static int
body_append(struct http_req *rs, const char *data, size_t n, size_t max)
{
	size_t ncap;
	unsigned char *nb;

	if (n > max || rs->body_len > max - n)
		return JIT_ERR_NO_BUFFER_SPACE;
	if (rs->body_len + n + 1 > rs->body_cap) {
		ncap = rs->body_cap == 0 ? 1024 : rs->body_cap;
		while (ncap < rs->body_len + n + 1)
			ncap *= 2;
		if (ncap > max + 1)
			ncap = max + 1;
		if ((nb = realloc(rs->body, ncap)) == NULL)
			return JIT_ERR_ALLOC;
		rs->body = nb;
		rs->body_cap = ncap;
	}
	memcpy(rs->body + rs->body_len, data, n);
	rs->body_len += n;
	rs->body[rs->body_len] = '\0';
	return 0;
}

/* ---- the requests' lists (polling thread) ----------------------------- */

static void
pre_remove(struct jit_http *h, struct http_req *rs)
{
	pthread_mutex_lock(&h->pre_lock);
	if (rs->in_pre)
		http_list_remove(&h->pre_list, &rs->pre);
	rs->in_pre = 0;
	pthread_mutex_unlock(&h->pre_lock);
}

/* ---- MHD's callbacks (polling thread) ------------------------------------ */

static void
notify_connection(void *cls, struct MHD_Connection *conn,
    void **socket_context, enum MHD_ConnectionNotificationCode code)
{
	struct jit_http *h = cls;
	struct http_conn *hc = *socket_context;
	const union MHD_ConnectionInfo *ci;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		ci = MHD_get_connection_info(conn,
		    MHD_CONNECTION_INFO_CONNECTION_FD);
		if (ci == NULL || (hc = calloc(1, sizeof(*hc))) == NULL)
			return;  /* no request deadline for it */
		hc->fd = ci->connect_fd;
		*socket_context = hc;
		jit_http__conn_arm(h, hc);
	} else if (hc != NULL) {
		/* Before MHD closes the fd: the deadline must not shut down
		 * a socket that a new connection may get the number of. */
		jit_http__conn_disarm(h, hc);
		free(hc);
		*socket_context = NULL;
	}
}

static void *
uri_logger(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct jit_http *h = cls;
	struct http_req *rs = calloc(1, sizeof(*rs));
	const union MHD_ConnectionInfo *ci;

	if (rs == NULL)
		return NULL;
	rs->tag = TAG_REQ;
	rs->h = h;
	rs->conn = conn;
	rs->fd = -1;
	rs->start_ms = jit_monotonic_ms();
	rs->uri = jit_strdup(uri != NULL ? uri : "");
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci != NULL)
		rs->fd = ci->connect_fd;
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	if (ci != NULL)
		rs->hc = ci->socket_context;
	rs->poller = pthread_self();
	pthread_mutex_lock(&h->pre_lock);
	http_list_append(&h->pre_list, &rs->pre);
	rs->in_pre = 1;
	pthread_mutex_unlock(&h->pre_lock);
	return rs;
}

/* The first call, with the headers: refuse what must not reach the
 * handler. */
static enum MHD_Result
check_headers(struct jit_http *h, struct MHD_Connection *conn,
    struct http_req *rs, const char *url, const char *method)
{
	const char *cl, *why;

	log_copy(rs->method, sizeof(rs->method), method, strlen(method));
	log_copy(rs->path, sizeof(rs->path), url, strlen(url));
	client_addr(conn, rs->addr, sizeof(rs->addr));
	/* MHD hands us the path decoded, so %2F is a slash and %00 ends the
	 * string; judge the bytes the client sent. */
	if (jit_http_path_check(rs->uri, &why) != 0)
		return send_error(h, conn, rs, 400, "bad_path", why);
	/* Two ways of telling where the body ends let a proxy in front and
	 * this server disagree about it: refuse them and close the
	 * connection, whose remaining bytes mean nothing. */
	if ((why = framing_problem(conn)) != NULL) {
		rs->close_conn = 1;
		rs->too_large = 1;  /* discard any body that follows */
		return send_error(h, conn, rs, 400, "bad_framing", why);
	}
	cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl != NULL) {
		unsigned long long v;

		if (cl[strspn(cl, "0123456789")] != '\0' || *cl == '\0') {
			rs->close_conn = 1;
			rs->too_large = 1;
			return send_error(h, conn, rs, 400, "bad_framing",
			    "Content-Length is not a number");
		}
		errno = 0;
		v = strtoull(cl, NULL, 10);
		if (errno != 0 || v > h->max_body) {
			rs->too_large = 1;
			return send_error(h, conn, rs, 413, "too_large",
			    "request body too large");
		}
	}
	return MHD_YES;
}

static enum MHD_Result
access_handler(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct jit_http *h = cls;
	struct http_req *rs = *con_cls;
	struct jit_http_request *req;
	enum MHD_Result ret;
	const char *q;

	(void)version;
	if (rs == NULL || rs->gone)
		return MHD_NO;  /* allocation failed, or the client left */
	if (rs->answered) {
		/* Back from a worker with the answer. */
		rs->answered = 0;
		ret = send_response(h, conn, rs, &rs->resp);
		jit_http_response_release(&rs->resp);
		body_free(rs);
		return ret;
	}
	if (rs->method[0] == '\0') {
		/* First call: the headers are in. */
		pre_remove(h, rs);
		if (rs->hc != NULL)
			jit_http__conn_disarm(h, rs->hc);
		return check_headers(h, conn, rs, url, method);
	}
	if (*upload_data_size > 0) {
		if (rs->too_large) {
			/* A chunked body that outgrew the limit: MHD cannot
			 * answer before the upload ends, so discard the rest,
			 * but not forever. */
			rs->discarded += *upload_data_size;
			*upload_data_size = 0;
			return rs->discarded > DISCARD_MAX ? MHD_NO : MHD_YES;
		}
		if (body_append(rs, upload_data, *upload_data_size,
		    h->max_body) != 0) {
			rs->too_large = 1;
			body_free(rs);
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (rs->too_large)
		return rs->status != 0 ? MHD_YES : send_error(h, conn, rs,
		    413, "too_large", "request body too large");
	if (rs->status != 0)
		return MHD_YES;  /* answered already (a refused request) */

	/* The whole request is in: a worker runs the handler while the
	 * connection is suspended.  The strings stay valid meanwhile (MHD's
	 * connection memory, untouched while suspended). */
	req = &rs->req;
	memset(req, 0, sizeof(*req));
	req->method = method;
	req->path = url;
	q = rs->uri != NULL ? strchr(rs->uri, '?') : NULL;
	req->query = q != NULL ? q + 1 : "";
	req->authorization = MHD_lookup_connection_value(conn,
	    MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	req->content_type = MHD_lookup_connection_value(conn,
	    MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	req->cookie = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_COOKIE);
	req->host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_HOST);
	req->origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    "Origin");
	req->sec_fetch_site = MHD_lookup_connection_value(conn,
	    MHD_HEADER_KIND, "Sec-Fetch-Site");
	req->csrf_token = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    "X-CSRF-Token");
	req->tls = h->tls_cert_pem != NULL;
	req->client_addr = rs->addr;
	req->body = rs->body != NULL ? rs->body : (const unsigned char *)"";
	req->body_len = rs->body_len;
	MHD_suspend_connection(conn);
	jit_http__queue(h, rs, JOB_RUN);
	return MHD_YES;
}

void
jit_http__resume(struct http_req *rs)
{
	MHD_resume_connection(rs->conn);
}

static void
completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct jit_http *h = cls;
	struct http_req *rs = *con_cls;

	(void)conn;
	if (rs == NULL)
		return;
	*con_cls = NULL;
	pre_remove(h, rs);
	/* A refused framing leaves the rest of what the client sent unread;
	 * let the answer reach it before MHD closes the socket. */
	if (rs->close_conn && toe == MHD_REQUEST_TERMINATED_COMPLETED_OK &&
	    rs->fd >= 0)
		close_gently(h, rs->fd);
	else if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK && rs->hc != NULL)
		jit_http__conn_arm(h, rs->hc);  /* the next request's turn */
	if (!h->quiet && rs->method[0] != '\0') {
		uint64_t ms = jit_monotonic_ms() - rs->start_ms;
		char ts[JIT_TIME_LEN], user[sizeof(rs->user)];

		jit_format_time(jit_now(), ts);
		log_copy(user, sizeof(user), rs->user, strnlen(rs->user,
		    sizeof(rs->user)));
		if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ||
		    rs->status != 0)
			fprintf(stderr, "jit-ca: %s %s %s %s %u %s %llums\n",
			    ts, rs->addr, rs->method, rs->path, rs->status,
			    user[0] != '\0' ? user : "-",
			    (unsigned long long)ms);
		else
			fprintf(stderr, "jit-ca: %s %s %s %s aborted "
			    "(connection closed) %llums\n", ts, rs->addr,
			    rs->method, rs->path, (unsigned long long)ms);
	}
	jit_http_response_release(&rs->resp);
	body_free(rs);
	free(rs->uri);
	free(rs);
}

static int
open_listener(const struct jit_listen *l, struct jit_http *h, char *err,
    size_t errlen)
{
	int fd = -1, one = 1, r, e;

	if (l->kind == JIT_LISTEN_UNIX) {
		struct sockaddr_un sun;
		struct stat st;

		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		if (strlen(l->host) >= sizeof(sun.sun_path)) {
			jit_seterr(err, errlen, "unix socket path too long");
			return JIT_ERR_INVALID_ARGUMENT;
		}
		memcpy(sun.sun_path, l->host, strlen(l->host));
		/* Replace a stale socket, but never a regular file nor the
		 * socket of a server that still answers on it. */
		if (lstat(l->host, &st) == 0) {
			if (!S_ISSOCK(st.st_mode)) {
				jit_seterr(err, errlen, "%s exists and is not a "
				    "socket", l->host);
				return JIT_ERR_FILE_EXISTS;
			}
			if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC,
			    0)) < 0)
				goto syserr;
			r = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
			close(fd);
			fd = -1;
			if (r == 0) {
				errno = EADDRINUSE;
				goto syserr;
			}
			unlink(l->host);
		}
		if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
			goto syserr;
		if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0)
			goto syserr;
		if ((h->unix_path = jit_strdup(l->host)) == NULL) {
			close(fd);
			return JIT_ERR_ALLOC;
		}
	} else {
		struct addrinfo hints, *ai = NULL;
		char port[8];

		memset(&hints, 0, sizeof(hints));
		hints.ai_family = l->kind == JIT_LISTEN_INET6 ? AF_INET6 :
		    AF_INET;
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
		snprintf(port, sizeof(port), "%u", l->port);
		if ((r = getaddrinfo(l->host, port, &hints, &ai)) != 0) {
			jit_seterr(err, errlen, "cannot resolve %s: %s", l->host,
			    gai_strerror(r));
			return JIT_ERR_INVALID_ARGUMENT;
		}
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd < 0) {
			freeaddrinfo(ai);
			goto syserr;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
			    sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
			e = errno;
			freeaddrinfo(ai);
			errno = e;
			goto syserr;
		}
		freeaddrinfo(ai);
	}
	if (listen(fd, LISTEN_BACKLOG) != 0)
		goto syserr;
	if (l->kind != JIT_LISTEN_UNIX) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
			if (ss.ss_family == AF_INET)
				h->port = ntohs(((struct sockaddr_in *)&ss)->
				    sin_port);
			else if (ss.ss_family == AF_INET6)
				h->port = ntohs(((struct sockaddr_in6 *)&ss)->
				    sin6_port);
		}
	}
	h->fd = fd;
	return 0;
syserr:
	e = errno;
	if (l->kind == JIT_LISTEN_UNIX)
		jit_seterr(err, errlen, "cannot listen on unix:%s: %s", l->host,
		    strerror(e));
	else
		jit_seterr(err, errlen, "cannot listen on %s%s%s:%u: %s",
		    l->kind == JIT_LISTEN_INET6 ? "[" : "", l->host,
		    l->kind == JIT_LISTEN_INET6 ? "]" : "", l->port,
		    strerror(e));
	if (fd >= 0)
		close(fd);
	return jit_err_from_errno(e);
}

static void
mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct jit_http *h = cls;
	struct http_req *rs;
	char buf[512];
	size_t n;

	/* See length_refused_req.  The messages are those of 0.9.75 to
	 * 0.9.77. */
	if (h != NULL && strstr(fmt, "Content-Length") != NULL &&
	    (strncmp(fmt, "Failed to parse", 15) == 0 ||
	    strncmp(fmt, "Too large value", 15) == 0) &&
	    (rs = length_refused_req(h)) != NULL) {
		answer_bad_length(h, rs, fmt[0] == 'T');
		return;
	}
	vsnprintf(buf, sizeof(buf), fmt, ap);
	/* A client that left before its answer was sent, a connection the
	 * access handler closed on purpose (the client of a held long-poll
	 * left, a body past its limit) and one refused at a connection limit
	 * (http.h): not news, and a line each would let clients flood the
	 * log. */
	if (strncmp(buf, "Failed to send", 14) == 0 ||
	    strncmp(buf, "Application reported internal error", 35) == 0 ||
	    strncmp(buf, "Server reached connection limit", 31) == 0)
		return;
	n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	/* While starting, keep the first message for the one-line error
	 * jit_http_serve() returns instead of printing several lines. */
	if (h != NULL && atomic_load(&h->starting)) {
		if (h->start_msg[0] == '\0')
			snprintf(h->start_msg, sizeof(h->start_msg), "%s",
			    buf);
		return;
	}
	fprintf(stderr, "jit-ca: http: %s\n", buf);
}

static void
http_free(struct jit_http *h)
{
	if (h == NULL)
		return;
	if (h->fd >= 0)
		close(h->fd);
	if (h->unix_path != NULL)
		unlink(h->unix_path);
	if (h->tls_key_pem != NULL) {
		jit_wipe(h->tls_key_pem, h->tls_key_len);
		free(h->tls_key_pem);
	}
	free(h->tls_cert_pem);
	free(h->unix_path);
	jit_http__room_destroy(h);
	pthread_mutex_destroy(&h->pre_lock);
	free(h);
}

int
jit_http_bind(const struct jit_http_options *opts, struct jit_http **out,
    char *err, size_t errlen)
{
	struct jit_http *h;
	unsigned char *data = NULL;
	size_t len = 0;
	int r = JIT_ERR_INTERNAL;

	*out = NULL;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return JIT_ERR_ALLOC;
	h->fd = h->epfd = h->evfd = -1;
	pthread_mutex_init(&h->pre_lock, NULL);
	if ((r = jit_http__room_init(h)) != 0) {
		jit_seterr(err, errlen, "cannot set up the HTTP server: %s",
		    jit_err(r));
		goto fail;
	}
	h->max_body = opts->max_body;
	h->quiet = opts->quiet;
	h->request_timeout = opts->request_timeout;
	h->connection_timeout = opts->connection_timeout;
	h->max_connections = opts->max_connections;
	h->per_address = opts->max_connections_per_address;
	h->nworkers = opts->workers;
	/* Polling threads over epoll (HTTP_POLLERS); handlers run in
	 * http_room.c's workers while their connection is suspended. */
	h->flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME |
	    MHD_USE_ERROR_LOG;
	if (opts->tls_cert != NULL || opts->tls_key != NULL) {
		if (opts->tls_cert == NULL || opts->tls_key == NULL) {
			jit_seterr(err, errlen, "tls needs both cert and key");
			r = JIT_ERR_INVALID_ARGUMENT;
			goto fail;
		}
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
			jit_seterr(err, errlen, "libmicrohttpd was built without "
			    "TLS support");
			r = JIT_ERR_INVALID_ARGUMENT;
			goto fail;
		}
		if ((r = jit_read_file(opts->tls_cert, TLS_FILE_MAX, &data,
		    &len)) != 0) {
			jit_seterr(err, errlen, "tls cert %s: %s", opts->tls_cert,
			    jit_err(r));
			goto fail;
		}
		h->tls_cert_pem = (char *)data;
		if ((r = jit_read_file(opts->tls_key, TLS_FILE_MAX, &data,
		    &len)) != 0) {
			jit_seterr(err, errlen, "tls key %s: %s", opts->tls_key,
			    jit_err(r));
			goto fail;
		}
		h->tls_key_pem = (char *)data;
		h->tls_key_len = len;
		h->flags |= MHD_USE_TLS;
	}
	if ((r = open_listener(opts->listen, h, err, errlen)) != 0)
		goto fail;
	if (opts->listen->kind == JIT_LISTEN_INET6)
		h->flags |= MHD_USE_IPv6;
	*out = h;
	return 0;
fail:
	http_free(h);
	return r;
}

int
jit_http_serve(struct jit_http *h, jit_http_handler_fn handler, void *ctx,
    char *err, size_t errlen)
{
	int r;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (h == NULL || h->daemon != NULL || h->fd < 0 || h->workers != NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	h->handler = handler;
	h->ctx = ctx;
	if ((r = jit_http__room_start(h, err, errlen)) != 0)
		return r == JIT_ERR_ALLOC ? r : JIT_ERR_HTTP;
	atomic_store(&h->starting, 1);
	{
		/* One option list; TLS adds its three.  In an option array a
		 * number goes in value, a pointer in ptr_value, and a callback
		 * in value with its closure in ptr_value. */
		struct MHD_OptionItem o[16];
		size_t n = 0;

#define OPT(opt, v, p) (o[n++] = (struct MHD_OptionItem){ (opt), \
	(intptr_t)(v), (p) })
		OPT(MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h);
		OPT(MHD_OPTION_LISTEN_SOCKET, h->fd, NULL);
		OPT(MHD_OPTION_URI_LOG_CALLBACK, uri_logger, h);
		OPT(MHD_OPTION_NOTIFY_COMPLETED, completed, h);
		OPT(MHD_OPTION_NOTIFY_CONNECTION, notify_connection, h);
		OPT(MHD_OPTION_CONNECTION_MEMORY_LIMIT,
		    (size_t)JIT_HTTP_HEADER_LIMIT, NULL);
		/* MHD's idle timeout also runs while headers arrive, and a
		 * per-connection one would put the connection on a list MHD
		 * walks at every turn: so it is never shorter than the
		 * request deadline, which then governs the headers alone. */
		OPT(MHD_OPTION_CONNECTION_TIMEOUT, h->connection_timeout >
		    h->request_timeout ? h->connection_timeout :
		    h->request_timeout, NULL);
		OPT(MHD_OPTION_CONNECTION_LIMIT, h->max_connections, NULL);
		OPT(MHD_OPTION_PER_IP_CONNECTION_LIMIT, h->per_address, NULL);
		OPT(MHD_OPTION_THREAD_POOL_SIZE, HTTP_POLLERS, NULL);
		if (h->tls_cert_pem != NULL) {
			OPT(MHD_OPTION_HTTPS_MEM_CERT, 0, h->tls_cert_pem);
			OPT(MHD_OPTION_HTTPS_MEM_KEY, 0, h->tls_key_pem);
			OPT(MHD_OPTION_HTTPS_PRIORITIES, 0,
			    (void *)(uintptr_t)TLS_PRIORITIES);
		}
		OPT(MHD_OPTION_END, 0, NULL);
#undef OPT
		h->daemon = MHD_start_daemon(h->flags, 0, NULL, NULL,
		    access_handler, h, MHD_OPTION_ARRAY, o, MHD_OPTION_END);
	}
	atomic_store(&h->starting, 0);
	if (h->daemon == NULL) {
		jit_http__room_stop(h);
		jit_seterr(err, errlen, "cannot start the HTTP server%s%s%s",
		    h->start_msg[0] != '\0' ? ": " : "", h->start_msg,
		    h->tls_cert_pem != NULL ? " (check the TLS cert and key)"
		    : "");
		return JIT_ERR_HTTP;
	}
	h->fd = -1;  /* MHD's now */
	return 0;
}

unsigned
jit_http_port(const struct jit_http *h)
{
	return h != NULL ? h->port : 0;
}

void
jit_http_stop(struct jit_http *h, unsigned grace_ms)
{
	uint64_t deadline;
	MHD_socket fd;

	if (h == NULL)
		return;
	if (h->daemon == NULL) {
		/* Bound, never served (or failed to start). */
		jit_http__room_stop(h);
		http_free(h);
		return;
	}
	/* Stop accepting; connections already open keep being served, and
	 * every held long-poll is answered now. */
	fd = MHD_quiesce_daemon(h->daemon);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
	jit_http__room_stop_holding(h);
	deadline = jit_monotonic_ms() + grace_ms;
	while (jit_http__room_active(h) > 0 &&
	    jit_monotonic_ms() < deadline) {
		struct timespec ts = { 0, 20 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	/* Give the last responses a moment to leave the socket buffers. */
	{
		struct timespec ts = { 0, 50 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	/* MHD must not be stopped with a connection still suspended: the
	 * room resumes whatever is left (as gone) first. */
	jit_http__room_stop(h);
	MHD_stop_daemon(h->daemon);
	http_free(h);
}
