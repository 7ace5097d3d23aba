/* load.c - jit_policy_load and jit_policy_load_mem (policy.h): reading
 * a policy file or directory, hashing its bytes, parsing each file
 * (parse.c) and checking the whole (validate.c). */
#include "policy_int.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#include "err.h"
#include "util.h"

static int
add_file_name(struct jit_policy *p, const char *name, const char **out)
{
	char *s;
	int r;

	*out = NULL;
	if ((s = jit_strdup(name)) == NULL)
		return JIT_ERR_ALLOC;
	if ((r = pol_grow((void **)&p->files, &p->capfiles, p->nfiles,
	    sizeof(*p->files))) != 0) {
		free(s);
		return r;
	}
	p->files[p->nfiles++] = s;
	*out = s;
	return 0;
}

static struct jit_policy *
policy_new(const char *source)
{
	struct jit_policy *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	if ((p->source = jit_strdup(source)) == NULL) {
		free(p);
		return NULL;
	}
	return p;
}

static int
hash_final(struct jit_policy *p, EVP_MD_CTX *md)
{
	unsigned char dg[EVP_MAX_MD_SIZE];
	unsigned dlen = 0;

	if (EVP_DigestFinal_ex(md, dg, &dlen) != 1 || dlen != 32)
		return JIT_ERR_CRYPTO;
	jit_hex(dg, 32, p->hash);
	return 0;
}

int
jit_policy_load_mem(const char *name, const char *data, size_t len,
    struct jit_policy **out, struct jit_policy_error *err)
{
	struct jit_policy *p = NULL;
	EVP_MD_CTX *md = NULL;
	const char *file;
	int r = JIT_ERR_INTERNAL;

	if (err != NULL)
		memset(err, 0, sizeof(*err));
	if (out == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	*out = NULL;
	if (name == NULL)
		name = "<memory>";
	if (data == NULL && len > 0)
		return JIT_ERR_INVALID_ARGUMENT;
	if (len > JIT_POLICY_MAX_FILE) {
		pol_fail_at(err, name, 0, "", "larger than %d bytes",
		    JIT_POLICY_MAX_FILE);
		return JIT_ERR_NO_BUFFER_SPACE;
	}
	if ((p = policy_new(name)) == NULL)
		return JIT_ERR_ALLOC;
	if ((r = add_file_name(p, name, &file)) != 0)
		goto out;
	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(md, data == NULL ? "" : data, len) != 1 ||
	    (r = hash_final(p, md)) != 0) {
		r = r != JIT_ERR_INTERNAL ? r : JIT_ERR_CRYPTO;
		goto out;
	}
	if ((r = pol_parse_file(p, file, data == NULL ? "" : data, len,
	    err)) != 0 || (r = pol_finalize(p, err)) != 0)
		goto out;
	*out = p;
	p = NULL;
	r = 0;
out:
	EVP_MD_CTX_free(md);
	jit_policy_free(p);
	return r;
}

static int
has_policy_suffix(const char *n)
{
	size_t l = strlen(n);

	return (l > 5 && strcmp(n + l - 5, ".yaml") == 0) ||
	    (l > 4 && strcmp(n + l - 4, ".yml") == 0);
}

static int
read_error(struct jit_policy_error *err, const char *file, int r)
{
	if (r == JIT_ERR_NO_BUFFER_SPACE)
		pol_fail_at(err, file, 0, "", "larger than %d bytes",
		    JIT_POLICY_MAX_FILE);
	else
		pol_fail_at(err, file, 0, "", "cannot read: %s", jit_err(r));
	return r;
}

/* The policy file names of a directory, sorted. */
static int
list_dir(const char *path, struct strlist *names,
    struct jit_policy_error *err)
{
	DIR *d;
	struct dirent *e;
	int r = 0;

	if ((d = opendir(path)) == NULL)
		return read_error(err, path, jit_err_from_errno(errno));
	while ((e = readdir(d)) != NULL) {
		char full[PATH_MAX];
		struct stat st;
		int n;
		if (e->d_name[0] == '.' || !has_policy_suffix(e->d_name))
			continue;
		n = snprintf(full, sizeof(full), "%s/%s", path, e->d_name);
		if (n < 0 || (size_t)n >= sizeof(full)) {
			r = pol_fail_at(err, path, 0, "", "path too long");
			break;
		}
		/* A policy file that cannot be examined (a dangling symlink,
		 * say) is an error rather than silently left out. */
		if (stat(full, &st) != 0) {
			r = read_error(err, full, jit_err_from_errno(errno));
			break;
		}
		if (!S_ISREG(st.st_mode))
			continue;
		if ((r = pol_strlist_add(names, jit_strdup(e->d_name), NULL,
		    0)) != 0)
			break;
	}
	closedir(d);
	if (r == 0 && names->n > 1)
		qsort(names->v, names->n, sizeof(*names->v), pol_cmp_str);
	return r;
}

/* Read file i of names (under path when isdir), hash it as policy.h
 * describes and parse it into p. */
static int
load_one(struct jit_policy *p, const char *path, int isdir,
    const char *name, EVP_MD_CTX *md, struct jit_policy_error *err)
{
	char full[PATH_MAX], lenbuf[32];
	unsigned char *data = NULL;
	const char *file;
	size_t len = 0;
	int n, r = JIT_ERR_INTERNAL;

	if (isdir)
		n = snprintf(full, sizeof(full), "%s%s%s", path,
		    path[strlen(path) - 1] == '/' ? "" : "/", name);
	else
		n = snprintf(full, sizeof(full), "%s", path);
	if (n < 0 || (size_t)n >= sizeof(full))
		return pol_fail_at(err, path, 0, "", "path too long");
	if ((r = jit_read_file(full, JIT_POLICY_MAX_FILE, &data, &len)) != 0)
		return read_error(err, full, r);
	if ((r = add_file_name(p, full, &file)) != 0)
		goto out;
	if (isdir) {
		n = snprintf(lenbuf, sizeof(lenbuf), "%zu", len);
		if (EVP_DigestUpdate(md, name, strlen(name) + 1) != 1 ||
		    EVP_DigestUpdate(md, lenbuf, (size_t)n + 1) != 1) {
			r = JIT_ERR_CRYPTO;
			goto out;
		}
	}
	if (EVP_DigestUpdate(md, data, len) != 1) {
		r = JIT_ERR_CRYPTO;
		goto out;
	}
	r = pol_parse_file(p, file, (const char *)data, len, err);
out:
	free(data);
	return r;
}

int
jit_policy_load(const char *path, struct jit_policy **out,
    struct jit_policy_error *err)
{
	struct jit_policy *p = NULL;
	struct strlist names = { 0 };
	EVP_MD_CTX *md = NULL;
	struct stat st;
	int r = JIT_ERR_INTERNAL, isdir;

	if (err != NULL)
		memset(err, 0, sizeof(*err));
	if (out == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	*out = NULL;
	if (path == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	if (stat(path, &st) != 0)
		return read_error(err, path, jit_err_from_errno(errno));
	isdir = S_ISDIR(st.st_mode);
	if ((p = policy_new(path)) == NULL)
		return JIT_ERR_ALLOC;
	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		r = JIT_ERR_CRYPTO;
		goto out;
	}
	if (isdir) {
		if ((r = list_dir(path, &names, err)) != 0)
			goto out;
		if (names.n == 0) {
			r = pol_fail_at(err, path, 0, "", "no *.yaml or *.yml "
			    "files in the directory");
			goto out;
		}
	} else if ((r = pol_strlist_add(&names, jit_strdup(path), NULL,
	    0)) != 0)
		goto out;
	for (size_t i = 0; i < names.n; i++)
		if ((r = load_one(p, path, isdir, names.v[i], md, err)) != 0)
			goto out;
	if ((r = hash_final(p, md)) != 0 || (r = pol_finalize(p, err)) != 0)
		goto out;
	*out = p;
	p = NULL;
	r = 0;
out:
	pol_strlist_release(&names);
	EVP_MD_CTX_free(md);
	jit_policy_free(p);
	return r;
}
