/*
 * install.c - a role's files under ~/.ssh/jit/ and its ssh-agent
 * identities.
 *
 *   ~/.ssh/jit/              0700
 *   ~/.ssh/jit/ROLE          private key (0600), or a symlink to --key
 *   ~/.ssh/jit/ROLE.pub      public key line
 *   ~/.ssh/jit/ROLE-cert.pub certificate line (ssh -i ROLE finds it)
 *   ~/.ssh/jit/pending/ID    key made for a request still waiting,
 *                            deleted once the request ends without a
 *                            certificate (or is installed: then it
 *                            becomes ~/.ssh/jit/ROLE)
 *   ~/.ssh/known_hosts       gets the host CA's @cert-authority line
 *                            (jit-ssh setup; client_known_hosts_put)
 *
 * Agent identities carry the comment "jit-ssh:ROLE", which is how older
 * certificates of a role are found and removed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "cert.h"
#include "client.h"
#include "err.h"
#include "util.h"

int
client_role_name_ok(const char *role)
{
	size_t i, n;

	if (role == NULL || (n = strlen(role)) == 0 || n > 64 ||
	    role[0] == '.' || role[0] == '-')
		return 0;
	for (i = 0; i < n; i++) {
		char ch = role[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
		    ch == '-'))
			return 0;
	}
	/* "ROLE-cert" would collide with another role's cert file name. */
	if (n >= 5 && strcmp(role + n - 5, "-cert") == 0)
		return 0;
	return 1;
}

static int
ensure_dir(const char *path, char *msg, size_t msglen)
{
	struct stat st;

	if (mkdir(path, 0700) != 0 && errno != EEXIST) {
		snprintf(msg, msglen, "cannot create %s: %s", path,
		    strerror(errno));
		return jit_err_from_errno(errno);
	}
	if (lstat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
		snprintf(msg, msglen, "%s is not a directory", path);
		return JIT_ERR_INVALID_ARGUMENT;
	}
	return 0;
}

int
client_ssh_jit_dir(int create, char **out, char *msg, size_t msglen)
{
	char *ssh = NULL, *dir = NULL;
	int r = JIT_ERR_ALLOC;

	*out = NULL;
	if ((ssh = client_home_path(".ssh")) == NULL ||
	    (dir = client_home_path(".ssh/jit")) == NULL) {
		snprintf(msg, msglen, "cannot find the home directory");
		goto out;
	}
	if (create) {
		if ((r = ensure_dir(ssh, msg, msglen)) != 0 ||
		    (r = ensure_dir(dir, msg, msglen)) != 0)
			goto out;
		/* Keys live here: keep it private even if it pre-existed. */
		if (chmod(dir, 0700) != 0) {
			snprintf(msg, msglen, "cannot chmod %s: %s", dir,
			    strerror(errno));
			r = jit_err_from_errno(errno);
			goto out;
		}
	}
	*out = dir;
	dir = NULL;
	r = 0;
 out:
	free(ssh);
	free(dir);
	return r;
}

/*
 * Replace path with data atomically (temporary file + rename) but without
 * fsync: these files can always be fetched again (login --resume), and
 * two fsyncs per file were most of the approval-to-usable latency.
 */
static int
write_replace(const char *path, const char *data, unsigned mode)
{
	char *tmp = NULL;
	size_t len = strlen(data), off = 0;
	ssize_t n;
	int fd = -1, r = JIT_ERR_INTERNAL;

	if (asprintf(&tmp, "%s.tmp-%ld", path, (long)getpid()) < 0)
		return JIT_ERR_ALLOC;
	(void)unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, mode)) < 0) {
		r = jit_err_from_errno(errno);
		goto out;
	}
	while (off < len) {
		if ((n = write(fd, data + off, len - off)) < 0) {
			if (errno == EINTR)
				continue;
			r = jit_err_from_errno(errno);
			goto out;
		}
		off += (size_t)n;
	}
	if (close(fd) != 0) {
		fd = -1;
		r = jit_err_from_errno(errno);
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		r = jit_err_from_errno(errno);
		goto out;
	}
	r = 0;
 out:
	if (fd >= 0)
		close(fd);
	if (r != 0)
		(void)unlink(tmp);
	free(tmp);
	return r;
}

/* 1 if the known_hosts line [p, p + n) is a host CA line setup wrote. */
static int
is_our_ca_line(const char *p, size_t n)
{
	size_t clen = strlen(CLIENT_HOST_CA_COMMENT);

	return n > 16 + clen && strncmp(p, "@cert-authority ", 16) == 0 &&
	    p[n - clen - 1] == ' ' &&
	    memcmp(p + n - clen, CLIENT_HOST_CA_COMMENT, clen) == 0;
}

int
client_known_hosts_put(const char *line, char **path, char *msg,
    size_t msglen)
{
	struct jit_buf b = JIT_BUF_INIT;
	unsigned char *old = NULL;
	char *ssh = NULL, *file = NULL, *real = NULL;
	const char *p, *end;
	size_t len = 0, n;
	unsigned mode = 0644;
	struct stat st;
	int r = JIT_ERR_ALLOC, present = 0, mine;

	*path = NULL;
	if ((ssh = client_home_path(".ssh")) == NULL ||
	    (file = client_home_path(".ssh/known_hosts")) == NULL) {
		snprintf(msg, msglen, "cannot find the home directory");
		goto out;
	}
	if ((r = ensure_dir(ssh, msg, msglen)) != 0)
		goto out;
	/* A symlinked known_hosts is written where it points. */
	if (lstat(file, &st) == 0 && S_ISLNK(st.st_mode) &&
	    (real = realpath(file, NULL)) != NULL) {
		free(file);
		file = real;
	}
	if (stat(file, &st) == 0)
		mode = (unsigned)(st.st_mode & 0777);
	r = jit_read_file(file, 64u * 1024 * 1024, &old, &len);
	if (r != 0 && r != JIT_ERR_NOT_FOUND) {
		snprintf(msg, msglen, "cannot read %s: %s", file, jit_err(r));
		goto out;
	}
	/* Every line but an older host CA line of ours, then ours. */
	for (p = (const char *)old; p != NULL && p < (const char *)old + len;
	    p = end + 1) {
		if ((end = memchr(p, '\n', (size_t)((const char *)old + len -
		    p))) == NULL)
			end = (const char *)old + len;
		n = (size_t)(end - p);
		mine = n == strlen(line) && memcmp(p, line, n) == 0;
		if ((mine && present) || (!mine && is_our_ca_line(p, n)))
			continue;
		present |= mine;
		if ((r = jit_buf_put(&b, p, n)) != 0 ||
		    (r = jit_buf_put_u8(&b, '\n')) != 0)
			goto oom;
	}
	if (!present && ((r = jit_buf_put(&b, line, strlen(line))) != 0 ||
	    (r = jit_buf_put_u8(&b, '\n')) != 0))
		goto oom;
	if ((r = jit_buf_put_u8(&b, '\0')) != 0)
		goto oom;
	if (old == NULL || len + 1 != jit_buf_len(&b) ||
	    memcmp(old, jit_buf_ptr(&b), len) != 0) {
		if ((r = write_replace(file, (const char *)jit_buf_ptr(&b),
		    mode)) != 0) {
			snprintf(msg, msglen, "cannot write %s: %s", file,
			    jit_err(r));
			goto out;
		}
	}
	*path = file;
	file = NULL;
	r = 0;
	goto out;
 oom:
	snprintf(msg, msglen, "%s", jit_err(r));
 out:
	jit_buf_release(&b);
	free(old);
	free(ssh);
	free(file);
	return r;
}

static char *
join(const char *dir, const char *name, const char *suffix)
{
	char *p;

	if (asprintf(&p, "%s/%s%s", dir, name, suffix ? suffix : "") < 0)
		return NULL;
	return p;
}

/* Remove the agent identities whose comment is "jit-ssh:ROLE" (role) or
 * starts with "jit-ssh:" (role NULL). */
static int
agent_remove_role(struct jit_agent *a, const char *role, size_t *n)
{
	struct jit_agent_idlist *l = NULL;
	const char *c;
	size_t i;
	int r;

	*n = 0;
	if ((r = jit_agent_list(a, &l)) != 0)
		return r;
	for (i = 0; i < l->n; i++) {
		c = l->ids[i].comment;
		if (strncmp(c, CLIENT_AGENT_COMMENT_PREFIX,
		    strlen(CLIENT_AGENT_COMMENT_PREFIX)) != 0)
			continue;
		if (role != NULL &&
		    strcmp(c + strlen(CLIENT_AGENT_COMMENT_PREFIX), role) != 0)
			continue;
		r = jit_agent_remove(a, l->ids[i].blob, l->ids[i].blob_len);
		if (r == 0)
			(*n)++;
		else if (r != JIT_ERR_AGENT)   /* gone meanwhile is fine */
			break;
		r = 0;
	}
	jit_agent_idlist_free(l);
	return r;
}

/*
 * The certificate currently installed for the role may also be in the
 * agent under another comment (someone ran ssh-add on the files): remove
 * that blob too.  Best effort; errors are ignored.
 */
static void
agent_remove_file_cert(struct jit_agent *a, const char *cpath)
{
	unsigned char *data = NULL;
	struct jit_cert *c = NULL;
	size_t len;

	if (jit_read_file(cpath, 64 * 1024, &data, &len) != 0)
		return;
	data[strcspn((char *)data, "\r\n")] = '\0';
	if (jit_cert_parse_line((char *)data, &c) == 0)
		(void)jit_agent_remove(a, c->blob, c->blob_len);
	jit_cert_free(c);
	free(data);
}

int
client_install(const char *role, const char *key_src, int key_owned,
    const struct jit_key *key, const char *cert_line,
    const unsigned char *cert_blob, size_t cert_len, uint32_t lifetime,
    int no_agent, int *agent_status, char *msg, size_t msglen)
{
	struct jit_agent *a = NULL;
	char *dir = NULL, *kpath = NULL, *ppath = NULL, *cpath = NULL;
	char *publine = NULL, *text = NULL, *abs = NULL, comment[128];
	size_t removed = 0;
	int r = JIT_ERR_INTERNAL;

	*agent_status = 0;
	msg[0] = '\0';
	if ((r = client_ssh_jit_dir(1, &dir, msg, msglen)) != 0)
		goto out;
	if ((kpath = join(dir, role, NULL)) == NULL ||
	    (ppath = join(dir, role, ".pub")) == NULL ||
	    (cpath = join(dir, role, "-cert.pub")) == NULL) {
		r = JIT_ERR_ALLOC;
		goto out;
	}

	/* The agent first: that is what makes plain ssh work, and the
	 * files can follow a few milliseconds later. */
	if (!no_agent && (r = jit_agent_open(NULL, &a)) != 0) {
		if (r != JIT_ERR_NOT_FOUND) {
			*agent_status = -1;
			snprintf(msg, msglen, "cannot talk to ssh-agent at "
			    "$SSH_AUTH_SOCK: %s", jit_err(r));
		}
	} else if (!no_agent) {
		snprintf(comment, sizeof(comment), "%s%s",
		    CLIENT_AGENT_COMMENT_PREFIX, role);
		agent_remove_file_cert(a, cpath);
		if ((r = agent_remove_role(a, role, &removed)) != 0 ||
		    (r = jit_agent_add_cert(a, key, cert_blob, cert_len,
		    comment, lifetime)) != 0) {
			*agent_status = -1;
			snprintf(msg, msglen, "ssh-agent did not take the "
			    "certificate: %s", jit_err(r));
		} else
			*agent_status = 1;
	}

	/* Key first, then the certificate, each replaced atomically. */
	if (key_owned) {
		if (rename(key_src, kpath) != 0) {
			r = jit_err_from_errno(errno);
			snprintf(msg, msglen, "cannot move %s to %s: %s",
			    key_src, kpath, strerror(errno));
			goto out;
		}
	} else if (strcmp(key_src, kpath) != 0) {
		if ((abs = realpath(key_src, NULL)) == NULL) {
			r = jit_err_from_errno(errno);
			snprintf(msg, msglen, "%s: %s", key_src,
			    strerror(errno));
			goto out;
		}
		if ((unlink(kpath) != 0 && errno != ENOENT) ||
		    symlink(abs, kpath) != 0) {
			r = jit_err_from_errno(errno);
			snprintf(msg, msglen, "cannot link %s to %s: %s",
			    kpath, abs, strerror(errno));
			goto out;
		}
	}
	if ((r = jit_key_format_public(key, "jit-ssh", &publine)) != 0 ||
	    asprintf(&text, "%s\n", publine) < 0) {
		text = NULL;
		r = r ? r : JIT_ERR_ALLOC;
		goto out;
	}
	if ((r = write_replace(ppath, text, 0644)) != 0) {
		snprintf(msg, msglen, "cannot write %s: %s", ppath,
		    jit_err(r));
		goto out;
	}
	free(text);
	if (asprintf(&text, "%s\n", cert_line) < 0) {
		text = NULL;
		r = JIT_ERR_ALLOC;
		goto out;
	}
	if ((r = write_replace(cpath, text, 0644)) != 0) {
		snprintf(msg, msglen, "cannot write %s: %s", cpath,
		    jit_err(r));
		goto out;
	}

	r = 0;
 out:
	jit_agent_close(a);
	free(dir);
	free(kpath);
	free(ppath);
	free(cpath);
	free(publine);
	free(text);
	free(abs);
	return r;
}

static int
unlink_role_files(const char *dir, const char *role, int *any)
{
	static const char *const suffixes[] = { "-cert.pub", ".pub", "" };
	char *p;
	size_t i;
	int r = 0;

	for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		if ((p = join(dir, role, suffixes[i])) == NULL)
			return JIT_ERR_ALLOC;
		if (unlink(p) == 0)
			*any = 1;
		else if (errno != ENOENT && r == 0)
			r = jit_err_from_errno(errno);
		free(p);
	}
	return r;
}

int
client_uninstall(const char *role, size_t *nroles, size_t *nagent, char *msg,
    size_t msglen)
{
	struct jit_agent *a = NULL;
	struct dirent *de;
	DIR *d = NULL;
	char *dir = NULL, name[NAME_MAX + 1];
	size_t n, len;
	int r, any;

	*nroles = 0;
	*nagent = 0;
	msg[0] = '\0';
	if (jit_agent_open(NULL, &a) == 0) {
		r = agent_remove_role(a, role, nagent);
		jit_agent_close(a);
		if (r != 0) {
			snprintf(msg, msglen, "ssh-agent: %s", jit_err(r));
			return r;
		}
	}
	if ((r = client_ssh_jit_dir(0, &dir, msg, msglen)) != 0)
		return r;
	if (role != NULL) {
		any = 0;
		r = unlink_role_files(dir, role, &any);
		*nroles = any;
		goto out;
	}
	if ((d = opendir(dir)) == NULL) {
		r = errno == ENOENT ? 0 : jit_err_from_errno(errno);
		goto out;
	}
	/* Every ROLE-cert.pub names a role; unlinking while reading the
	 * directory may hide or repeat entries, so collect the names one
	 * pass at a time until none is left. */
	for (;;) {
		n = 0;
		rewinddir(d);
		while ((de = readdir(d)) != NULL) {
			len = strlen(de->d_name);
			if (len <= 9 || strcmp(de->d_name + len - 9,
			    "-cert.pub") != 0)
				continue;
			snprintf(name, sizeof(name), "%.*s", (int)(len - 9),
			    de->d_name);
			if (!client_role_name_ok(name))
				continue;
			any = 0;
			if ((r = unlink_role_files(dir, name, &any)) != 0)
				goto out;
			if (any) {
				(*nroles)++;
				n++;
			}
		}
		if (n == 0)
			break;
	}
	r = 0;
 out:
	if (r != 0 && msg[0] == '\0')
		snprintf(msg, msglen, "cannot remove files in %s: %s", dir,
		    jit_err(r));
	if (d != NULL)
		closedir(d);
	free(dir);
	return r;
}

/* ---- installed certificates ------------------------------------------ */

static int
cmp_installed(const void *a, const void *b)
{
	const struct client_installed *x = a, *y = b;

	return strcmp(x->role, y->role);
}

/* The request ID in a key id "USER req=ID role=ROLE", or "" for none. */
static void
request_of_key_id(const char *key_id, char out[CLIENT_ID_MAX + 1])
{
	const char *p = key_id ? strstr(key_id, " req=") : NULL;
	size_t n;

	out[0] = '\0';
	if (p == NULL)
		return;
	p += 5;
	n = strcspn(p, " ");
	if (n > CLIENT_ID_MAX)
		return;
	memcpy(out, p, n);
	out[n] = '\0';
	if (!client_request_id_ok(out))
		out[0] = '\0';
}

/* Free e's contents and zero it. */
static void
installed_release(struct client_installed *e)
{
	free(e->role);
	free(e->path);
	jit_cert_free(e->cert);
	memset(e, 0, sizeof(*e));
}

/* Read and parse dir/NAME-cert.pub into e; 0, or an error (skipped). */
static int
load_installed(const char *dir, const char *role,
    struct client_installed *e)
{
	unsigned char *data = NULL;
	size_t len;
	int r;

	memset(e, 0, sizeof(*e));
	if ((e->role = strdup(role)) == NULL ||
	    (e->path = join(dir, role, "-cert.pub")) == NULL) {
		r = JIT_ERR_ALLOC;
		goto out;
	}
	if ((r = jit_read_file(e->path, 64 * 1024, &data, &len)) != 0)
		goto out;
	data[strcspn((char *)data, "\r\n")] = '\0';
	if ((r = jit_cert_parse_line((char *)data, &e->cert)) != 0)
		goto out;
	request_of_key_id(e->cert->key_id, e->request_id);
	r = 0;
 out:
	free(data);
	if (r != 0)
		installed_release(e);
	return r;
}

int
client_installed_list(const char *role, struct client_installed **out,
    size_t *nout, char *msg, size_t msglen)
{
	struct client_installed *v = NULL, *nv;
	struct dirent *de;
	DIR *d = NULL;
	char *dir = NULL, name[NAME_MAX + 1];
	size_t n = 0, len;
	int r;

	*out = NULL;
	*nout = 0;
	msg[0] = '\0';
	if ((r = client_ssh_jit_dir(0, &dir, msg, msglen)) != 0)
		return r;
	if ((d = opendir(dir)) == NULL) {
		r = errno == ENOENT ? 0 : jit_err_from_errno(errno);
		if (r != 0)
			snprintf(msg, msglen, "cannot read %s: %s", dir,
			    strerror(errno));
		goto out;
	}
	while ((de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (len <= 9 || strcmp(de->d_name + len - 9, "-cert.pub") != 0)
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(len - 9),
		    de->d_name);
		if (!client_role_name_ok(name) ||
		    (role != NULL && strcmp(name, role) != 0))
			continue;
		if ((nv = realloc(v, (n + 1) * sizeof(*v))) == NULL) {
			r = JIT_ERR_ALLOC;
			snprintf(msg, msglen, "%s", jit_err(r));
			goto out;
		}
		v = nv;
		if (load_installed(dir, name, &v[n]) == 0)
			n++;
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_installed);
	*out = v;
	*nout = n;
	v = NULL;
	n = 0;
	r = 0;
 out:
	client_installed_free(v, n);
	if (d != NULL)
		closedir(d);
	free(dir);
	return r;
}

void
client_installed_free(struct client_installed *v, size_t n)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++)
		installed_release(&v[i]);
	free(v);
}

int
client_agent_forget(const struct jit_cert *cert, int *removed)
{
	struct jit_agent *a = NULL;
	int r;

	*removed = 0;
	if ((r = jit_agent_open(NULL, &a)) != 0)
		return r == JIT_ERR_NOT_FOUND ? 0 : r;
	r = jit_agent_remove(a, cert->blob, cert->blob_len);
	jit_agent_close(a);
	if (r == 0)
		*removed = 1;
	/* Not there (expired, removed by hand) is what we wanted. */
	return r == JIT_ERR_AGENT ? 0 : r;
}

/* ---- keys kept for pending requests ------------------------------------- */

char *
client_pending_path(const char *name, int create)
{
	char *dir = NULL, *p = NULL, msg[256];

	if (client_ssh_jit_dir(create, &dir, msg, sizeof(msg)) != 0)
		return NULL;
	if (asprintf(&p, "%s/pending", dir) < 0)
		p = NULL;
	else if (create && mkdir(p, 0700) != 0 && errno != EEXIST) {
		free(p);
		p = NULL;
	} else {
		free(p);
		if (asprintf(&p, "%s/pending%s%s", dir, name ? "/" : "",
		    name ? name : "") < 0)
			p = NULL;
	}
	free(dir);
	return p;
}

void
client_pending_forget(const char *id)
{
	char *p, *pub = NULL;

	if (!client_request_id_ok(id) || (p = client_pending_path(id, 0)) ==
	    NULL)
		return;
	(void)unlink(p);
	if (asprintf(&pub, "%s.pub", p) >= 0) {
		(void)unlink(pub);
		free(pub);
	}
	free(p);
}

/*
 * Call fn for every entry of ~/.ssh/jit/pending but "." and "..";
 * names are collected first, so fn may unlink them.  A missing
 * directory has no entries.
 */
static int
pending_foreach(int (*fn)(const char *dir, const char *name, void *ctx),
    void *ctx)
{
	struct dirent *de;
	DIR *d;
	char *dir, **names = NULL, **nn;
	size_t n = 0, i;
	int r = 0;

	if ((dir = client_pending_path(NULL, 0)) == NULL)
		return JIT_ERR_ALLOC;
	if ((d = opendir(dir)) == NULL) {
		r = errno == ENOENT ? 0 : jit_err_from_errno(errno);
		free(dir);
		return r;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if ((nn = realloc(names, (n + 1) * sizeof(*names))) == NULL ||
		    (nn[n] = strdup(de->d_name)) == NULL) {
			if (nn != NULL)
				names = nn;
			r = JIT_ERR_ALLOC;
			break;
		}
		names = nn;
		n++;
	}
	closedir(d);
	for (i = 0; r == 0 && i < n; i++)
		r = fn(dir, names[i], ctx);
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(dir);
	return r;
}

struct id_list {
	char **ids;
	size_t n;
};

static int
collect_id(const char *dir, const char *name, void *ctx)
{
	struct id_list *l = ctx;
	char **nv;

	(void)dir;
	if (strncmp(name, "r-", 2) != 0 || !client_request_id_ok(name))
		return 0;
	if ((nv = realloc(l->ids, (l->n + 1) * sizeof(*nv))) == NULL)
		return JIT_ERR_ALLOC;
	l->ids = nv;
	if ((l->ids[l->n] = strdup(name)) == NULL)
		return JIT_ERR_ALLOC;
	l->n++;
	return 0;
}

int
client_pending_ids(char ***ids, size_t *n)
{
	struct id_list l = { NULL, 0 };
	size_t i;
	int r;

	*ids = NULL;
	*n = 0;
	if ((r = pending_foreach(collect_id, &l)) != 0) {
		for (i = 0; i < l.n; i++)
			free(l.ids[i]);
		free(l.ids);
		return r;
	}
	*ids = l.ids;
	*n = l.n;
	return 0;
}

static int
remove_entry(const char *dir, const char *name, void *ctx)
{
	size_t *nkeys = ctx, len = strlen(name);
	char *p;

	if ((p = join(dir, name, NULL)) == NULL)
		return JIT_ERR_ALLOC;
	if (unlink(p) == 0) {
		if (len < 4 || strcmp(name + len - 4, ".pub") != 0)
			(*nkeys)++;
	} else if (errno != ENOENT && errno != EISDIR) {
		free(p);
		return jit_err_from_errno(errno);
	}
	free(p);
	return 0;
}

int
client_pending_clear(size_t *nkeys)
{
	*nkeys = 0;
	return pending_foreach(remove_entry, nkeys);
}
