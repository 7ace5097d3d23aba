/* cadir.c - see cadir.h. */
#include "cadir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "util.h"

#define PUB_MAX (64 * 1024)

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

int
jit_cadir_exists(const char *dir)
{
	return path_exists(dir, JIT_CADIR_KEY) ||
	    path_exists(dir, JIT_CADIR_PUB);
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

int
jit_cadir_create(const char *dir, enum jit_key_type t, unsigned bits,
    struct jit_key **out)
{
	struct jit_key *k = NULL;
	char *keypath = NULL, *pubpath = NULL, *line = NULL;
	int r = JIT_ERR_INTERNAL, created_dir = 0;
	int wrote_key = 0, wrote_pub = 0;
	struct stat st;
	size_t len;

	if (out != NULL)
		*out = NULL;
	if (dir == NULL || *dir == '\0')
		return JIT_ERR_INVALID_ARGUMENT;
	if ((r = jit_cadir_path(dir, JIT_CADIR_KEY, &keypath)) != 0 ||
	    (r = jit_cadir_path(dir, JIT_CADIR_PUB, &pubpath)) != 0)
		goto out;
	if (stat(dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode)) {
			r = JIT_ERR_INVALID_ARGUMENT;
			goto out;
		}
		if (jit_cadir_exists(dir)) {
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
	if ((r = jit_key_generate(t, bits, &k)) != 0)
		goto out;
	if ((r = jit_key_save_private(k, keypath, JIT_CADIR_COMMENT)) != 0)
		goto out;
	wrote_key = 1;
	if ((r = jit_key_format_public(k, JIT_CADIR_COMMENT, &line)) != 0)
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
jit_cadir_check_key_mode(const char *dir, unsigned *mode)
{
	struct stat st;
	char *keypath = NULL;
	int r;

	if (mode != NULL)
		*mode = 0;
	if ((r = jit_cadir_path(dir, JIT_CADIR_KEY, &keypath)) != 0)
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
jit_cadir_load(const char *dir, struct jit_key **out)
{
	char *keypath = NULL;
	int r;

	*out = NULL;
	if ((r = jit_cadir_path(dir, JIT_CADIR_KEY, &keypath)) != 0)
		return r;
	r = jit_key_load_private(keypath, out);
	free(keypath);
	return r;
}

int
jit_cadir_public_line(const char *dir, char **line)
{
	struct jit_key *k = NULL;
	char *pubpath = NULL, *comment = NULL;
	unsigned char *data = NULL;
	size_t len = 0;
	int r = JIT_ERR_INTERNAL;

	*line = NULL;
	if ((r = jit_cadir_path(dir, JIT_CADIR_PUB, &pubpath)) != 0)
		goto out;
	r = jit_read_file(pubpath, PUB_MAX, &data, &len);
	if (r == JIT_ERR_NOT_FOUND) {
		/* Derive the line from the private key (needs read access). */
		if ((r = jit_cadir_load(dir, &k)) != 0)
			goto out;
		r = jit_key_format_public(k, JIT_CADIR_COMMENT, line);
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
