/* cadir.c - see cadir.h. */
#include "cadir.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "key_libssh.h"
#include "util.h"

#define PUB_MAX (64 * 1024)
#define KEY_MAX (256 * 1024)   /* as jit_key_load_private() */

/* The files of one CA in the data directory. */
struct ca_files {
	const char *key, *pub, *comment;
	const char *label;         /* names the key in messages */
};

static const struct ca_files user_ca = {
	JIT_CADIR_KEY, JIT_CADIR_PUB, JIT_CADIR_COMMENT, "the CA key",
};
static const struct ca_files host_ca = {
	JIT_CADIR_HOST_KEY, JIT_CADIR_HOST_PUB, JIT_CADIR_HOST_COMMENT,
	"the host CA key",
};

int
jit_cadir_path(const char *dir, const char *name, char **out)
{
	size_t dl, nl;
	char *p;

	*out = NULL;
	if (dir == NULL || name == NULL || *dir == '\0')
		return JIT_ERR_INVALID_ARGUMENT;
	dl = strlen(dir);
	nl = strlen(name);
	/* Avoid "dir//name" when dir already ends in a slash. */
	while (dl > 1 && dir[dl - 1] == '/')
		dl--;
	if ((p = malloc(dl + 1 + nl + 1)) == NULL)
		return JIT_ERR_ALLOC;
	memcpy(p, dir, dl);
	p[dl] = '/';
	memcpy(p + dl + 1, name, nl + 1);
	*out = p;
	return 0;
}

static int
path_exists(const char *dir, const char *name)
{
	struct stat st;
	char *p = NULL;
	int exists;

	if (jit_cadir_path(dir, name, &p) != 0)
		return 0;
	/* lstat: a dangling symlink still occupies the name. */
	exists = lstat(p, &st) == 0;
	free(p);
	return exists;
}

static int
files_exist(const char *dir, const struct ca_files *f)
{
	return path_exists(dir, f->key) || path_exists(dir, f->pub);
}

int
jit_cadir_exists(const char *dir)
{
	return files_exist(dir, &user_ca);
}

int
jit_cadir_host_exists(const char *dir)
{
	return files_exist(dir, &host_ca);
}

/* Make a newly created directory's entry durable: fsync its parent. */
static void
fsync_parent_of(const char *dir)
{
	char *copy = jit_strdup(dir), *slash;
	size_t len;
	int fd;

	if (copy == NULL)
		return;
	len = strlen(copy);
	while (len > 1 && copy[len - 1] == '/')
		copy[--len] = '\0';
	slash = strrchr(copy, '/');
	if (slash == NULL) {
		copy[0] = '.';
		copy[1] = '\0';
	} else if (slash == copy) {
		slash[1] = '\0';
	} else {
		*slash = '\0';
	}
	if ((fd = open(copy, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		(void)fsync(fd);
		close(fd);
	}
	free(copy);
}

/* Write a new private key to keypath (O_EXCL semantics, mode 0600):
 * unencrypted by key.c, or encrypted by libssh when passphrase is set. */
static int
write_new_key(const char *keypath, enum jit_key_type t, unsigned bits,
    const char *passphrase, const char *comment, struct jit_key **out)
{
	struct jit_buf text = JIT_BUF_INIT;
	int r = JIT_ERR_INTERNAL;

	*out = NULL;
	if (passphrase == NULL) {
		if ((r = jit_key_generate(t, bits, out)) != 0)
			return r;
		if ((r = jit_key_save_private(*out, keypath, comment)) != 0) {
			jit_key_free(*out);
			*out = NULL;
		}
		return r;
	}
	if ((r = jit_key_libssh_generate(t, bits, passphrase, &text,
	    out)) != 0)
		goto out;
	if ((r = jit_write_file_atomic(keypath, jit_buf_ptr(&text),
	    jit_buf_len(&text), 0600, 1)) != 0) {
		jit_key_free(*out);
		*out = NULL;
	}
out:
	jit_buf_release(&text);
	return r;
}

/* Create one CA's files in dir; *made_dir (may be NULL) says whether
 * dir was created here. */
static int
create_ca(const char *dir, const struct ca_files *f, enum jit_key_type t,
    unsigned bits, const char *passphrase, struct jit_key **out,
    int *made_dir)
{
	struct jit_key *k = NULL;
	char *keypath = NULL, *pubpath = NULL, *line = NULL;
	int r = JIT_ERR_INTERNAL, created_dir = 0;
	int wrote_key = 0, wrote_pub = 0;
	struct stat st;
	size_t len;

	if (out != NULL)
		*out = NULL;
	if (made_dir != NULL)
		*made_dir = 0;
	if (dir == NULL || *dir == '\0')
		return JIT_ERR_INVALID_ARGUMENT;
	if ((r = jit_cadir_path(dir, f->key, &keypath)) != 0 ||
	    (r = jit_cadir_path(dir, f->pub, &pubpath)) != 0)
		goto out;
	if (stat(dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode)) {
			r = JIT_ERR_INVALID_ARGUMENT;
			goto out;
		}
		if (files_exist(dir, f)) {
			r = JIT_ERR_FILE_EXISTS;
			goto out;
		}
	} else if (errno != ENOENT) {
		r = jit_err_from_errno(errno);
		goto out;
	} else {
		if (mkdir(dir, 0700) != 0) {
			r = jit_err_from_errno(errno);
			goto out;
		}
		created_dir = 1;
		/* The umask may have narrowed the mode; set it exactly. */
		if (chmod(dir, 0700) != 0) {
			r = jit_err_from_errno(errno);
			goto out;
		}
		fsync_parent_of(dir);
	}
	/* Generate only after the directory checks so a doomed init does
	 * not spend seconds on an RSA key first. */
	if ((r = write_new_key(keypath, t, bits, passphrase, f->comment,
	    &k)) != 0)
		goto out;
	wrote_key = 1;
	if ((r = jit_key_format_public(k, f->comment, &line)) != 0)
		goto out;
	len = strlen(line);
	line[len] = '\n';   /* overwrites the NUL; written with its length */
	r = jit_write_file_atomic(pubpath, line, len + 1, 0644, 1);
	line[len] = '\0';
	if (r != 0)
		goto out;
	wrote_pub = 1;
	if (out != NULL) {
		*out = k;
		k = NULL;
	}
	if (made_dir != NULL)
		*made_dir = created_dir;
	r = 0;
out:
	if (r != 0) {
		int saved = errno;   /* callers may want the cause of SYSTEM */
		if (wrote_pub)
			unlink(pubpath);
		if (wrote_key)
			unlink(keypath);
		if (created_dir)
			rmdir(dir);
		errno = saved;
	}
	jit_key_free(k);
	free(line);
	free(keypath);
	free(pubpath);
	return r;
}

int
jit_cadir_create(const char *dir, enum jit_key_type t, unsigned bits,
    struct jit_key **out)
{
	return create_ca(dir, &user_ca, t, bits, NULL, out, NULL);
}

int
jit_cadir_create_encrypted(const char *dir, enum jit_key_type t,
    unsigned bits, const char *passphrase, struct jit_key **out)
{
	if (out != NULL)
		*out = NULL;
	if (passphrase == NULL || *passphrase == '\0')
		return JIT_ERR_INVALID_ARGUMENT;
	return create_ca(dir, &user_ca, t, bits, passphrase, out, NULL);
}

int
jit_cadir_create_host(const char *dir, enum jit_key_type t, unsigned bits,
    const char *passphrase, struct jit_key **out)
{
	if (out != NULL)
		*out = NULL;
	if (passphrase != NULL && *passphrase == '\0')
		return JIT_ERR_INVALID_ARGUMENT;
	return create_ca(dir, &host_ca, t, bits, passphrase, out, NULL);
}

/* Remove one CA's files (after a failed creation). */
static void
remove_ca(const char *dir, const struct ca_files *f)
{
	char *p = NULL;

	if (jit_cadir_path(dir, f->key, &p) == 0)
		unlink(p);
	free(p);
	p = NULL;
	if (jit_cadir_path(dir, f->pub, &p) == 0)
		unlink(p);
	free(p);
}

int
jit_cadir_create_with_host(const char *dir, enum jit_key_type t,
    unsigned bits, const char *passphrase, struct jit_key **user,
    struct jit_key **host)
{
	int r, made_dir = 0, saved;

	*user = NULL;
	*host = NULL;
	if (passphrase != NULL && *passphrase == '\0')
		return JIT_ERR_INVALID_ARGUMENT;
	/* Neither may exist: nothing is made beside a half-made CA. */
	if (dir != NULL && (jit_cadir_exists(dir) ||
	    jit_cadir_host_exists(dir)))
		return JIT_ERR_FILE_EXISTS;
	if ((r = create_ca(dir, &user_ca, t, bits, passphrase, user,
	    &made_dir)) != 0)
		return r;
	if ((r = create_ca(dir, &host_ca, t, bits, passphrase, host,
	    NULL)) != 0) {
		saved = errno;
		jit_key_free(*user);
		*user = NULL;
		remove_ca(dir, &user_ca);
		if (made_dir)
			rmdir(dir);
		errno = saved;
	}
	return r;
}

static int
check_mode(const char *dir, const struct ca_files *f, unsigned *mode)
{
	struct stat st;
	char *keypath = NULL;
	int r;

	if (mode != NULL)
		*mode = 0;
	if ((r = jit_cadir_path(dir, f->key, &keypath)) != 0)
		return r;
	if (stat(keypath, &st) != 0)
		r = jit_err_from_errno(errno);
	else if (!S_ISREG(st.st_mode))
		r = JIT_ERR_INVALID_ARGUMENT;
	else if ((st.st_mode & 077) != 0) {
		r = JIT_ERR_PERMISSION;
		if (mode != NULL)
			*mode = (unsigned)(st.st_mode & 07777);
	} else {
		r = 0;
	}
	free(keypath);
	return r;
}

int
jit_cadir_check_key_mode(const char *dir, unsigned *mode)
{
	return check_mode(dir, &user_ca, mode);
}

int
jit_cadir_check_host_key_mode(const char *dir, unsigned *mode)
{
	return check_mode(dir, &host_ca, mode);
}

/* ---- passphrases ------------------------------------------------------ */

/* Read the first line of a passphrase file into buf[len]. */
static int
pass_from_file(const char *file, const char *kind, char *buf, size_t len,
    char *err, size_t errlen)
{
	unsigned char *data = NULL;
	size_t n = 0, line;
	struct stat st;
	int r = JIT_ERR_INTERNAL;

	if (stat(file, &st) == 0 && S_ISREG(st.st_mode) &&
	    (st.st_mode & 077) != 0) {
		jit_seterr(err, errlen, "the %s %s is accessible by group or "
		    "others (mode %04o); chmod 600 it", kind, file,
		    (unsigned)(st.st_mode & 07777));
		return JIT_ERR_PERMISSION;
	}
	r = jit_read_file(file, JIT_PASSPHRASE_MAX + 2, &data, &n);
	if (r == JIT_ERR_NO_BUFFER_SPACE)
		goto toolong;
	if (r != 0) {
		jit_seterr(err, errlen, "cannot read the %s %s: %s", kind,
		    file, r == JIT_ERR_SYSTEM ? strerror(errno) : jit_err(r));
		if (r == JIT_ERR_NOT_FOUND)
			r = JIT_ERR_INVALID_ARGUMENT;
		goto out;
	}
	line = strcspn((char *)data, "\n");
	if (line > 0 && data[line - 1] == '\r')
		line--;
	if (memchr(data, '\0', line) != NULL) {
		jit_seterr(err, errlen, "the %s %s holds a NUL byte", kind,
		    file);
		r = JIT_ERR_NUL_IN_STRING;
		goto out;
	}
	if (line > JIT_PASSPHRASE_MAX || line >= len)
		goto toolong;
	memcpy(buf, data, line);
	buf[line] = '\0';
	r = 0;
	goto out;
toolong:
	jit_seterr(err, errlen, "the %s %s is longer than %d bytes", kind,
	    file, JIT_PASSPHRASE_MAX);
	r = JIT_ERR_NO_BUFFER_SPACE;
out:
	if (data != NULL) {
		jit_wipe(data, n);
		free(data);
	}
	return r;
}

/* The systemd credential, if this process was given one. */
static int
pass_from_credential(char *buf, size_t len, char *err, size_t errlen)
{
	const char *cdir = secure_getenv("CREDENTIALS_DIRECTORY");
	struct stat st;
	char *file = NULL;
	int r = JIT_ERR_INTERNAL;

	if (cdir == NULL || *cdir == '\0')
		return JIT_ERR_NOT_FOUND;
	if ((r = jit_cadir_path(cdir, JIT_CADIR_CREDENTIAL, &file)) != 0)
		return r;
	if (lstat(file, &st) != 0 && errno == ENOENT)
		r = JIT_ERR_NOT_FOUND;
	else
		r = pass_from_file(file, "credential", buf, len, err,
		    errlen);
	free(file);
	return r;
}

static int
pass_from_prompt(const struct jit_cadir_pass *src, const char *what,
    int confirm, char *buf, size_t len, char *err, size_t errlen)
{
	char question[512], again[JIT_PASSPHRASE_MAX + 1];
	int r = JIT_ERR_INTERNAL;

	snprintf(question, sizeof(question), "Passphrase for %s: ", what);
	if ((r = src->prompt(src->prompt_ctx, question, buf, len)) != 0)
		goto fail;
	if (!confirm)
		return 0;
	r = src->prompt(src->prompt_ctx, "The same passphrase again: ", again,
	    sizeof(again));
	if (r == 0 && (strlen(again) != strlen(buf) ||
	    !jit_ct_equal(again, buf, strlen(buf)))) {
		jit_seterr(err, errlen, "the two passphrases differ");
		r = JIT_ERR_INVALID_ARGUMENT;
	}
	jit_wipe(again, sizeof(again));
	if (r == 0 || r == JIT_ERR_INVALID_ARGUMENT)
		return r;
fail:
	jit_seterr(err, errlen, "no passphrase for %s from the terminal: %s",
	    what, r == JIT_ERR_NO_BUFFER_SPACE ? "too long" : jit_err(r));
	return r;
}

int
jit_cadir_pass_get(const struct jit_cadir_pass *src, const char *what,
    int confirm, char *buf, size_t len, char *err, size_t errlen)
{
	int r = JIT_ERR_INTERNAL;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (buf == NULL || len <= JIT_PASSPHRASE_MAX)
		return JIT_ERR_INVALID_ARGUMENT;
	buf[0] = '\0';
	if (src == NULL) {
		r = JIT_ERR_NOT_FOUND;
	} else if (src->file != NULL) {
		r = pass_from_file(src->file, "passphrase file", buf, len,
		    err, errlen);
	} else if ((r = pass_from_credential(buf, len, err, errlen)) ==
	    JIT_ERR_NOT_FOUND && src->prompt != NULL) {
		r = pass_from_prompt(src, what, confirm, buf, len, err,
		    errlen);
	}
	if (r == JIT_ERR_NOT_FOUND) {
		jit_seterr(err, errlen, "no passphrase for %s: give it with "
		    "--passphrase-file FILE or the systemd credential %s, or "
		    "run on a terminal", what, JIT_CADIR_CREDENTIAL);
	} else if (r == 0 && buf[0] == '\0') {
		jit_seterr(err, errlen, "empty passphrase for %s", what);
		r = JIT_ERR_INVALID_ARGUMENT;
	}
	if (r != 0)
		jit_wipe(buf, len);
	return r;
}

int
jit_cadir_load_private(const char *path, const char *label,
    const struct jit_cadir_pass *pass, struct jit_key **out, char *err,
    size_t errlen)
{
	unsigned char *data = NULL;
	char what[PATH_MAX + 64], secret[JIT_PASSPHRASE_MAX + 1];
	const char *why = NULL;
	size_t len = 0;
	int r = JIT_ERR_INTERNAL;

	*out = NULL;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	snprintf(what, sizeof(what), "%s %s", label, path);
	if ((r = jit_read_file(path, KEY_MAX, &data, &len)) != 0)
		goto out;
	r = jit_key_parse_private(data, len, out);
	if (r != JIT_ERR_KEY_ENCRYPTED)
		goto out;
	if ((r = jit_key_libssh_check(data, len, &why)) != 0) {
		const char *k = why != NULL ? strstr(why, "KEY") : NULL;
		if (r == JIT_ERR_FORMAT_UNSUPPORTED && k != NULL)
			jit_seterr(err, errlen, "%s is encrypted, but %.*s%s%s",
			    what, (int)(k - why), why, path, k + 3);
		else
			jit_seterr(err, errlen, "%s is encrypted in a form "
			    "that cannot be read", what);
		goto out;
	}
	if (pass == NULL) {
		r = JIT_ERR_NOT_FOUND;
	} else if ((r = jit_cadir_pass_get(pass, what, 0, secret,
	    sizeof(secret), err, errlen)) == 0) {
		r = jit_key_libssh_decrypt(data, len, secret, out);
		jit_wipe(secret, sizeof(secret));
		if (r == JIT_ERR_BAD_PASSPHRASE)
			jit_seterr(err, errlen, "%s is encrypted and the "
			    "passphrase is wrong", what);
		else if (r != 0)
			jit_seterr(err, errlen, "%s: %s", what, jit_err(r));
	}
	if (r == JIT_ERR_NOT_FOUND) {
		jit_seterr(err, errlen, "%s is encrypted: give its passphrase "
		    "with --passphrase-file FILE or the systemd credential %s, "
		    "or run on a terminal", what, JIT_CADIR_CREDENTIAL);
		r = JIT_ERR_KEY_ENCRYPTED;
	}
out:
	if (data != NULL) {
		jit_wipe(data, len);
		free(data);
	}
	return r;
}

static int
load_ca(const char *dir, const struct ca_files *f,
    const struct jit_cadir_pass *pass, struct jit_key **out, char *err,
    size_t errlen)
{
	char *keypath = NULL;
	int r;

	*out = NULL;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if ((r = jit_cadir_path(dir, f->key, &keypath)) != 0)
		return r;
	r = jit_cadir_load_private(keypath, f->label, pass, out, err,
	    errlen);
	free(keypath);
	return r;
}

int
jit_cadir_load_pass(const char *dir, const struct jit_cadir_pass *pass,
    struct jit_key **out, char *err, size_t errlen)
{
	return load_ca(dir, &user_ca, pass, out, err, errlen);
}

int
jit_cadir_load_host_pass(const char *dir, const struct jit_cadir_pass *pass,
    struct jit_key **out, char *err, size_t errlen)
{
	return load_ca(dir, &host_ca, pass, out, err, errlen);
}

int
jit_cadir_load(const char *dir, struct jit_key **out)
{
	return jit_cadir_load_pass(dir, NULL, out, NULL, 0);
}

int
jit_cadir_public_line(const char *dir, char **line)
{
	return jit_cadir_public_line_pass(dir, NULL, line, NULL, 0);
}

static int
public_line(const char *dir, const struct ca_files *f,
    const struct jit_cadir_pass *pass, char **line, char *err,
    size_t errlen)
{
	struct jit_key *k = NULL;
	char *pubpath = NULL, *comment = NULL;
	unsigned char *data = NULL;
	size_t len = 0;
	int r = JIT_ERR_INTERNAL;

	*line = NULL;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if ((r = jit_cadir_path(dir, f->pub, &pubpath)) != 0)
		goto out;
	r = jit_read_file(pubpath, PUB_MAX, &data, &len);
	if (r == JIT_ERR_NOT_FOUND) {
		/* Derive the line from the private key (needs read access). */
		if ((r = load_ca(dir, f, pass, &k, err, errlen)) != 0)
			goto out;
		r = jit_key_format_public(k, f->comment, line);
		goto out;
	}
	if (r != 0)
		goto out;
	if (strlen((char *)data) != len) {
		r = JIT_ERR_NUL_IN_STRING;
		goto out;
	}
	/* Re-format after parsing so only a valid key line is ever printed. */
	if ((r = jit_key_parse_public((char *)data, &k, &comment)) != 0 ||
	    (r = jit_key_format_public(k, comment, line)) != 0)
		goto out;
	r = 0;
out:
	jit_key_free(k);
	free(comment);
	free(data);
	free(pubpath);
	return r;
}

int
jit_cadir_public_line_pass(const char *dir,
    const struct jit_cadir_pass *pass, char **line, char *err,
    size_t errlen)
{
	return public_line(dir, &user_ca, pass, line, err, errlen);
}

int
jit_cadir_host_public_line_pass(const char *dir,
    const struct jit_cadir_pass *pass, char **line, char *err,
    size_t errlen)
{
	return public_line(dir, &host_ca, pass, line, err, errlen);
}
