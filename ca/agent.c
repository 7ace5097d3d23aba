/* agent.c - see agent.h. */
#include "agent.h"
#include "err.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

struct jit_agent {
	int fd;
};

int
jit_agent_open(const char *sock_path, struct jit_agent **out)
{
	struct sockaddr_un sun;
	struct jit_agent *a = NULL;
	int fd = -1, r = JIT_ERR_INTERNAL, e;

	if (out == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	*out = NULL;
	if (sock_path == NULL)
		sock_path = getenv("SSH_AUTH_SOCK");
	if (sock_path == NULL || *sock_path == '\0')
		return JIT_ERR_NOT_FOUND;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(sock_path) >= sizeof(sun.sun_path))
		return JIT_ERR_INVALID_ARGUMENT;
	memcpy(sun.sun_path, sock_path, strlen(sock_path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return jit_err_from_errno(errno);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		e = errno;
		r = (e == ECONNREFUSED || e == ENOENT) ? JIT_ERR_NOT_FOUND :
		    jit_err_from_errno(e);
		goto out;
	}
	if ((a = calloc(1, sizeof(*a))) == NULL) {
		r = JIT_ERR_ALLOC;
		goto out;
	}
	a->fd = fd;
	fd = -1;
	*out = a;
	r = 0;
 out:
	if (fd >= 0)
		close(fd);
	return r;
}

void
jit_agent_close(struct jit_agent *a)
{
	if (a == NULL)
		return;
	if (a->fd >= 0)
		close(a->fd);
	free(a);
}

/* Wait until fd is ready for events or the deadline passes. */
static int
wait_fd(int fd, short events, uint64_t deadline)
{
	struct pollfd pfd;
	uint64_t now;
	int n;

	for (;;) {
		now = jit_monotonic_ms();
		if (now >= deadline) {
			errno = ETIMEDOUT;
			return JIT_ERR_SYSTEM;
		}
		pfd.fd = fd;
		pfd.events = events;
		pfd.revents = 0;
		n = poll(&pfd, 1, (int)(deadline - now));
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return jit_err_from_errno(errno);
	}
}

static int
write_all(int fd, const unsigned char *p, size_t len, uint64_t deadline)
{
	ssize_t n;
	int r;

	while (len > 0) {
		if ((r = wait_fd(fd, POLLOUT, deadline)) != 0)
			return r;
		/* MSG_NOSIGNAL: a vanished agent must not kill us with
		 * SIGPIPE. */
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return errno == EPIPE || errno == ECONNRESET ?
			    JIT_ERR_AGENT : jit_err_from_errno(errno);
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
read_all(int fd, unsigned char *p, size_t len, uint64_t deadline)
{
	ssize_t n;
	int r;

	while (len > 0) {
		if ((r = wait_fd(fd, POLLIN, deadline)) != 0)
			return r;
		n = recv(fd, p, len, 0);
		if (n == 0)
			return JIT_ERR_AGENT;  /* agent closed the connection */
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return errno == ECONNRESET ? JIT_ERR_AGENT :
			    jit_err_from_errno(errno);
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
jit_agent_request(struct jit_agent *a, const struct jit_buf *req,
    struct jit_buf *reply)
{
	struct jit_buf frame = JIT_BUF_INIT, hdr = JIT_BUF_INIT;
	unsigned char *p;
	uint64_t deadline;
	uint32_t len;
	int r = JIT_ERR_INTERNAL;

	if (a == NULL || req == NULL || reply == NULL || a->fd < 0)
		return JIT_ERR_INVALID_ARGUMENT;
	jit_buf_reset(reply);
	deadline = jit_monotonic_ms() + JIT_AGENT_TIMEOUT_MS;

	if ((r = jit_buf_set_max(&frame, JIT_AGENT_MAX_MSG)) != 0 ||
	    (r = jit_buf_put_stringb(&frame, req)) != 0)
		goto out;
	if ((r = write_all(a->fd, jit_buf_ptr(&frame), jit_buf_len(&frame),
	    deadline)) != 0)
		goto out;

	/* Length prefix, then exactly that many bytes, never more than the
	 * frame limit. */
	if ((r = jit_buf_set_max(&hdr, 4)) != 0 ||
	    (r = jit_buf_reserve(&hdr, 4, &p)) != 0 ||
	    (r = read_all(a->fd, p, 4, deadline)) != 0 ||
	    (r = jit_buf_get_u32(&hdr, &len)) != 0)
		goto out;
	if (len == 0) {
		r = JIT_ERR_INVALID_FORMAT;
		goto out;
	}
	if (len > JIT_AGENT_MAX_MSG - 4) {
		r = JIT_ERR_NO_BUFFER_SPACE;
		goto out;
	}
	if ((r = jit_buf_reserve(reply, len, &p)) != 0)
		goto out;
	if ((r = read_all(a->fd, p, len, deadline)) != 0) {
		jit_buf_reset(reply);
		goto out;
	}
	r = 0;
 out:
	if (r != 0 && r != JIT_ERR_INVALID_FORMAT) {
		/* The stream may be out of step now; don't reuse it. */
		close(a->fd);
		a->fd = -1;
	}
	jit_buf_release(&frame);
	jit_buf_release(&hdr);
	return r;
}

void
jit_agent_idlist_free(struct jit_agent_idlist *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++) {
		free(l->ids[i].blob);
		free(l->ids[i].comment);
	}
	free(l->ids);
	free(l);
}

int
jit_agent_parse_status(const unsigned char *msg, size_t len)
{
	if (msg == NULL || len != 1)
		return JIT_ERR_INVALID_FORMAT;
	if (msg[0] == JIT_AGENT_SUCCESS)
		return 0;
	if (msg[0] == JIT_AGENT_FAILURE)
		return JIT_ERR_AGENT;
	return JIT_ERR_INVALID_FORMAT;
}

int
jit_agent_parse_identities(const unsigned char *msg, size_t len,
    struct jit_agent_idlist **out)
{
	struct jit_buf b = JIT_BUF_INIT;
	struct jit_agent_idlist *l = NULL;
	struct jit_agent_identity *id;
	uint8_t type;
	uint32_t n, i;
	int r = JIT_ERR_INTERNAL;

	if (out == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	*out = NULL;
	if (msg == NULL || len == 0)
		return JIT_ERR_MESSAGE_INCOMPLETE;
	jit_buf_view(&b, msg, len);
	if ((r = jit_buf_get_u8(&b, &type)) != 0)
		goto out;
	if (type == JIT_AGENT_FAILURE) {
		r = JIT_ERR_AGENT;
		goto out;
	}
	if (type != JIT_AGENT_IDENTITIES_ANSWER) {
		r = JIT_ERR_INVALID_FORMAT;
		goto out;
	}
	if ((r = jit_buf_get_u32(&b, &n)) != 0)
		goto out;
	/* Each identity needs at least two 4-byte lengths, so a count the
	 * remaining bytes cannot hold is a lie; refuse before allocating. */
	if (n > JIT_AGENT_MAX_IDENTITIES || n > jit_buf_len(&b) / 8) {
		r = JIT_ERR_INVALID_FORMAT;
		goto out;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		r = JIT_ERR_ALLOC;
		goto out;
	}
	if (n > 0 && (l->ids = calloc(n, sizeof(*l->ids))) == NULL) {
		r = JIT_ERR_ALLOC;
		goto out;
	}
	for (i = 0; i < n; i++) {
		id = &l->ids[i];
		if ((r = jit_buf_get_string(&b, &id->blob,
		    &id->blob_len)) != 0)
			goto out;
		l->n++;
		if (id->blob_len == 0) {
			r = JIT_ERR_INVALID_FORMAT;
			goto out;
		}
		if ((r = jit_buf_get_cstring(&b, &id->comment, NULL)) != 0) {
			if (r == JIT_ERR_NUL_IN_STRING)
				r = JIT_ERR_INVALID_FORMAT;
			goto out;
		}
	}
	if (jit_buf_len(&b) != 0) {
		r = JIT_ERR_TRAILING_DATA;
		goto out;
	}
	*out = l;
	l = NULL;
	r = 0;
 out:
	jit_agent_idlist_free(l);
	return r;
}

int
jit_agent_list(struct jit_agent *a, struct jit_agent_idlist **out)
{
	struct jit_buf req = JIT_BUF_INIT, reply = JIT_BUF_INIT;
	int r = JIT_ERR_INTERNAL;

	if (out == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	*out = NULL;
	if ((r = jit_buf_set_max(&req, JIT_AGENT_MAX_MSG)) != 0 ||
	    (r = jit_buf_set_max(&reply, JIT_AGENT_MAX_MSG)) != 0 ||
	    (r = jit_buf_put_u8(&req, JIT_AGENTC_REQUEST_IDENTITIES)) != 0 ||
	    (r = jit_agent_request(a, &req, &reply)) != 0)
		goto out;
	r = jit_agent_parse_identities(jit_buf_ptr(&reply),
	    jit_buf_len(&reply), out);
 out:
	jit_buf_release(&req);
	jit_buf_release(&reply);
	return r;
}

int
jit_agent_build_add(struct jit_buf *req, const struct jit_key *priv,
    const unsigned char *cert, size_t cert_len, const char *comment,
    uint32_t lifetime)
{
	struct jit_buf cb = JIT_BUF_INIT;
	const unsigned char *ctype;
	const char *want;
	size_t ctype_len;
	int r = JIT_ERR_INTERNAL;

	if (req == NULL || priv == NULL || !jit_key_has_private(priv))
		return JIT_ERR_INVALID_ARGUMENT;
	jit_buf_reset(req);
	if ((r = jit_buf_set_max(req, JIT_AGENT_MAX_MSG - 4)) != 0)
		return r;
	if ((r = jit_buf_put_u8(req, lifetime > 0 ?
	    JIT_AGENTC_ADD_ID_CONSTRAINED : JIT_AGENTC_ADD_IDENTITY)) != 0)
		goto out;
	if (cert != NULL) {
		/* The cert's own type name must be the one for this key. */
		want = jit_key_type_cert_name(jit_key_type(priv));
		jit_buf_view(&cb, cert, cert_len);
		if (want == NULL ||
		    jit_buf_get_string_direct(&cb, &ctype, &ctype_len) != 0 ||
		    ctype_len != strlen(want) ||
		    memcmp(ctype, want, ctype_len) != 0) {
			r = JIT_ERR_INVALID_ARGUMENT;
			goto out;
		}
		if ((r = jit_buf_put_cstring(req, want)) != 0 ||
		    (r = jit_buf_put_string(req, cert, cert_len)) != 0 ||
		    (r = jit_key_put_agent_private_fields(priv, req)) != 0)
			goto out;
	} else {
		want = jit_key_type_ssh_name(jit_key_type(priv));
		if (want == NULL) {
			r = JIT_ERR_KEY_TYPE_UNKNOWN;
			goto out;
		}
		if ((r = jit_buf_put_cstring(req, want)) != 0 ||
		    (r = jit_key_put_private_fields(priv, req)) != 0)
			goto out;
	}
	if ((r = jit_buf_put_cstring(req, comment ? comment : "")) != 0)
		goto out;
	if (lifetime > 0 &&
	    ((r = jit_buf_put_u8(req, JIT_AGENT_CONSTRAIN_LIFETIME)) != 0 ||
	    (r = jit_buf_put_u32(req, lifetime)) != 0))
		goto out;
	r = 0;
 out:
	if (r != 0)
		jit_buf_reset(req);
	return r;
}

static int
simple_request(struct jit_agent *a, struct jit_buf *req)
{
	struct jit_buf reply = JIT_BUF_INIT;
	int r;

	if ((r = jit_buf_set_max(&reply, JIT_AGENT_MAX_MSG)) != 0)
		return r;
	if ((r = jit_agent_request(a, req, &reply)) == 0)
		r = jit_agent_parse_status(jit_buf_ptr(&reply),
		    jit_buf_len(&reply));
	jit_buf_release(&reply);
	return r;
}

static int
add_common(struct jit_agent *a, const struct jit_key *priv,
    const unsigned char *cert, size_t cert_len, const char *comment,
    uint32_t lifetime)
{
	struct jit_buf req = JIT_BUF_INIT;
	int r;

	if (a == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	if ((r = jit_agent_build_add(&req, priv, cert, cert_len, comment,
	    lifetime)) == 0)
		r = simple_request(a, &req);
	jit_buf_release(&req);   /* wipes the private key */
	return r;
}

int
jit_agent_add_cert(struct jit_agent *a, const struct jit_key *priv,
    const unsigned char *cert, size_t cert_len, const char *comment,
    uint32_t lifetime)
{
	if (cert == NULL || cert_len == 0)
		return JIT_ERR_INVALID_ARGUMENT;
	return add_common(a, priv, cert, cert_len, comment, lifetime);
}

int
jit_agent_add_key(struct jit_agent *a, const struct jit_key *priv,
    const char *comment, uint32_t lifetime)
{
	return add_common(a, priv, NULL, 0, comment, lifetime);
}

int
jit_agent_remove(struct jit_agent *a, const unsigned char *blob,
    size_t blob_len)
{
	struct jit_buf req = JIT_BUF_INIT;
	int r;

	if (a == NULL || blob == NULL || blob_len == 0)
		return JIT_ERR_INVALID_ARGUMENT;
	if ((r = jit_buf_set_max(&req, JIT_AGENT_MAX_MSG - 4)) == 0 &&
	    (r = jit_buf_put_u8(&req, JIT_AGENTC_REMOVE_IDENTITY)) == 0 &&
	    (r = jit_buf_put_string(&req, blob, blob_len)) == 0)
		r = simple_request(a, &req);
	jit_buf_release(&req);
	return r;
}

int
jit_agent_remove_by_comment(struct jit_agent *a, const char *comment,
    size_t *removed)
{
	struct jit_agent_idlist *l = NULL;
	size_t i, n = 0;
	int r = JIT_ERR_INTERNAL;

	if (removed != NULL)
		*removed = 0;
	if (a == NULL || comment == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	if ((r = jit_agent_list(a, &l)) != 0)
		return r;
	for (i = 0; i < l->n; i++) {
		if (strcmp(l->ids[i].comment, comment) != 0)
			continue;
		r = jit_agent_remove(a, l->ids[i].blob, l->ids[i].blob_len);
		/* FAILURE: it expired or someone removed it meanwhile. */
		if (r == JIT_ERR_AGENT && a->fd >= 0)
			continue;
		if (r != 0)
			goto out;
		n++;
	}
	r = 0;
 out:
	if (removed != NULL)
		*removed = n;
	jit_agent_idlist_free(l);
	return r;
}
