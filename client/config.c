/*
 * config.c - ~/.config/jit-ssh/config.
 *
 * The file is plain "key = value" lines; '#' starts a comment line.
 * Keys: url, token, ca_key (a CA public key line), tls_ca (a file), sso
 * ("yes": sign in through the identity provider) and token_expires (the
 * end of a session token, RFC 3339).
 * Unknown keys are an error so a typo cannot silently drop the CA pin.
 */
#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "buf.h"
#include "client.h"
#include "err.h"
#include "util.h"

#define CONFIG_REL ".config/jit-ssh/config"
#define CONFIG_MAX (64 * 1024)
#define TOKEN_MAX 4096

char *
client_home_path(const char *rel)
{
	const char *home = getenv("HOME");
	struct passwd *pw;
	char *out;
	size_t n;

	if (home == NULL || *home == '\0') {
		if ((pw = getpwuid(getuid())) == NULL)
			return NULL;
		home = pw->pw_dir;
	}
	n = strlen(home) + 1 + strlen(rel) + 1;
	if ((out = malloc(n)) == NULL)
		return NULL;
	snprintf(out, n, "%s/%s", home, rel);
	return out;
}

int
client_config_set(char **field, const char *value)
{
	char *v = NULL;

	if (value != NULL && (v = strdup(value)) == NULL)
		return JIT_ERR_ALLOC;
	if (*field != NULL) {
		jit_wipe(*field, strlen(*field));
		free(*field);
	}
	*field = v;
	return 0;
}

void
client_config_release(struct client_config *c)
{
	client_config_set(&c->path, NULL);
	client_config_set(&c->url, NULL);
	client_config_set(&c->token, NULL);
	client_config_set(&c->ca_key, NULL);
	client_config_set(&c->tls_ca, NULL);
	client_config_set(&c->token_expires, NULL);
	memset(c, 0, sizeof(*c));
}

static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int
parse_config(struct client_config *c, char *text, char *msg, size_t msglen)
{
	char *line, *next, *eq, *k, *v;
	char **field;
	unsigned lineno = 0;
	int r;

	for (line = text; line != NULL; line = next) {
		lineno++;
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		line = trim(line);
		if (*line == '\0' || *line == '#')
			continue;
		if ((eq = strchr(line, '=')) == NULL) {
			snprintf(msg, msglen, "%s:%u: expected 'key = value'",
			    c->path, lineno);
			return JIT_ERR_INVALID_FORMAT;
		}
		*eq = '\0';
		k = trim(line);
		v = trim(eq + 1);
		if (strcmp(k, "url") == 0)
			field = &c->url;
		else if (strcmp(k, "token") == 0)
			field = &c->token;
		else if (strcmp(k, "ca_key") == 0)
			field = &c->ca_key;
		else if (strcmp(k, "tls_ca") == 0)
			field = &c->tls_ca;
		else if (strcmp(k, "token_expires") == 0)
			field = &c->token_expires;
		else if (strcmp(k, "sso") == 0) {
			if (strcmp(v, "yes") != 0 && strcmp(v, "no") != 0) {
				snprintf(msg, msglen, "%s:%u: sso must be yes "
				    "or no", c->path, lineno);
				return JIT_ERR_INVALID_FORMAT;
			}
			c->sso = strcmp(v, "yes") == 0;
			continue;
		} else {
			snprintf(msg, msglen, "%s:%u: unknown key '%s'",
			    c->path, lineno, k);
			return JIT_ERR_INVALID_FORMAT;
		}
		if ((r = client_config_set(field, *v ? v : NULL)) != 0)
			return r;
	}
	return 0;
}

int
client_config_load(const char *path, struct client_config *c, char *msg,
    size_t msglen)
{
	const char *env;
	int r;

	if ((r = client_config_load_file(path, c, msg, msglen)) != 0)
		return r;
	if ((env = getenv("JIT_SSH_URL")) != NULL && *env &&
	    (r = client_config_set(&c->url, env)) != 0)
		return r;
	if ((env = getenv("JIT_SSH_TOKEN")) != NULL && *env) {
		if ((r = client_config_set(&c->token, env)) != 0)
			return r;
		c->token_from_env = 1;
	}
	return 0;
}

int
client_config_load_file(const char *path, struct client_config *c, char *msg,
    size_t msglen)
{
	unsigned char *data = NULL;
	size_t len = 0;
	int r = JIT_ERR_INTERNAL;

	memset(c, 0, sizeof(*c));
	msg[0] = '\0';
	if (path != NULL)
		c->path = strdup(path);
	else
		c->path = client_home_path(CONFIG_REL);
	if (c->path == NULL) {
		snprintf(msg, msglen, "cannot find the home directory");
		return JIT_ERR_ALLOC;
	}
	r = jit_read_file(c->path, CONFIG_MAX, &data, &len);
	if (r == 0) {
		c->from_file = 1;
		r = parse_config(c, (char *)data, msg, msglen);
		jit_wipe(data, len);
		free(data);
		if (r != 0) {
			if (msg[0] == '\0')
				snprintf(msg, msglen, "%s: %s", c->path,
				    jit_err(r));
			return r;
		}
	} else if (r != JIT_ERR_NOT_FOUND) {
		snprintf(msg, msglen, "cannot read %s: %s", c->path,
		    jit_err(r));
		return r;
	}
	return 0;
}

/* mkdir -p for the parent directories of path, mode 0700. */
static int
make_parents(const char *path)
{
	char *p, *s;
	int r = 0;

	if ((p = strdup(path)) == NULL)
		return JIT_ERR_ALLOC;
	for (s = p + 1; *s != '\0'; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0700) != 0 && errno != EEXIST) {
			r = jit_err_from_errno(errno);
			break;
		}
		*s = '/';
	}
	free(p);
	return r;
}

static int
valid_value(const char *v)
{
	return v == NULL || strpbrk(v, "\n\r") == NULL;
}

/* Append "key = value\n" (nothing for a NULL value). */
static int
put_setting(struct jit_buf *b, const char *key, const char *value)
{
	int r;

	if (value == NULL)
		return 0;
	if ((r = jit_buf_put(b, key, strlen(key))) != 0 ||
	    (r = jit_buf_put(b, " = ", 3)) != 0 ||
	    (r = jit_buf_put(b, value, strlen(value))) != 0 ||
	    (r = jit_buf_put_u8(b, '\n')) != 0)
		return r;
	return 0;
}

int
client_config_save(const struct client_config *c, char *msg, size_t msglen)
{
	static const char head[] = "# jit-ssh client configuration "
	    "(written by jit-ssh setup)\n";
	/* A jit_buf, not open_memstream: it wipes the token whenever it
	 * grows and when released. */
	struct jit_buf b = JIT_BUF_INIT;
	int r = JIT_ERR_INTERNAL;

	if (!valid_value(c->url) || !valid_value(c->token) ||
	    !valid_value(c->ca_key) || !valid_value(c->tls_ca) ||
	    !valid_value(c->token_expires)) {
		snprintf(msg, msglen, "a configuration value contains a "
		    "newline");
		return JIT_ERR_INVALID_ARGUMENT;
	}
	if ((r = jit_buf_put(&b, head, sizeof(head) - 1)) != 0 ||
	    (r = put_setting(&b, "url", c->url)) != 0 ||
	    (r = put_setting(&b, "token", c->token)) != 0 ||
	    (r = put_setting(&b, "ca_key", c->ca_key)) != 0 ||
	    (r = put_setting(&b, "tls_ca", c->tls_ca)) != 0 ||
	    (r = put_setting(&b, "sso", c->sso ? "yes" : NULL)) != 0 ||
	    (r = put_setting(&b, "token_expires", c->sso ?
	    c->token_expires : NULL)) != 0)
		goto out;
	if ((r = make_parents(c->path)) != 0 ||
	    (r = jit_write_file_atomic(c->path, jit_buf_ptr(&b),
	    jit_buf_len(&b), 0600, 0)) != 0)
		snprintf(msg, msglen, "cannot write %s: %s", c->path,
		    jit_err(r));
 out:
	jit_buf_release(&b);
	return r;
}

int
client_config_store_session(const char *path, const char *token,
    const char *expires, char *msg, size_t msglen)
{
	struct client_config f;
	int r;

	if ((r = client_config_load_file(path, &f, msg, msglen)) == 0 &&
	    (r = client_config_set(&f.token, token)) == 0 &&
	    (r = client_config_set(&f.token_expires, expires)) == 0) {
		f.sso = 1;
		r = client_config_save(&f, msg, msglen);
	} else if (msg[0] == '\0') {
		snprintf(msg, msglen, "%s", jit_err(r));
	}
	client_config_release(&f);
	return r;
}

/*
 * One line from standard input, a byte at a time so that nothing after
 * the line is consumed (setup may still ask for a confirmation).  On a
 * terminal the line is typed without echo.
 */
static int
read_stdin_line(char *buf, size_t size, size_t *len)
{
	struct termios old, quiet;
	int tty = isatty(STDIN_FILENO), echo_off = 0, r = 0;
	ssize_t n;
	char ch;

	*len = 0;
	if (tty) {
		/* Echo goes off before the prompt: TCSAFLUSH drops input
		 * typed before it, so nothing may be typed yet. */
		if (tcgetattr(STDIN_FILENO, &old) == 0) {
			quiet = old;
			quiet.c_lflag &= ~(tcflag_t)ECHO;
			echo_off = tcsetattr(STDIN_FILENO, TCSAFLUSH,
			    &quiet) == 0;
		}
		fprintf(stderr, "API token: ");
		fflush(stderr);
	}
	for (;;) {
		n = read(STDIN_FILENO, &ch, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = jit_err_from_errno(errno);
			break;
		}
		if (n == 0 || ch == '\n')
			break;
		if (*len + 1 >= size) {
			r = JIT_ERR_NO_BUFFER_SPACE;
			break;
		}
		buf[(*len)++] = ch;
	}
	buf[*len] = '\0';
	if (echo_off)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
	if (tty)
		fputc('\n', stderr);
	return r;
}

int
client_token_read(const char *path, char **out, char *msg, size_t msglen)
{
	unsigned char *data = NULL;
	char line[TOKEN_MAX], *t;
	const char *from = strcmp(path, "-") == 0 ? "standard input" : path;
	size_t len = 0, flen = 0, i;
	int r = JIT_ERR_INTERNAL;

	*out = NULL;
	if (strcmp(path, "-") == 0) {
		r = read_stdin_line(line, sizeof(line), &len);
	} else if ((r = jit_read_file(path, TOKEN_MAX - 1, &data,
	    &flen)) == 0) {
		len = strcspn((char *)data, "\n");
		memcpy(line, data, len);
		line[len] = '\0';
		jit_wipe(data, flen);
		free(data);
	}
	if (r != 0) {
		snprintf(msg, msglen, "cannot read the token from %s: %s",
		    from, r == JIT_ERR_NO_BUFFER_SPACE ? "too long" :
		    jit_err(r));
		goto out;
	}
	t = trim(line);
	r = JIT_ERR_INVALID_FORMAT;
	if (*t == '\0') {
		snprintf(msg, msglen, "no token in %s", from);
		goto out;
	}
	for (i = 0; t[i] != '\0'; i++) {
		if ((unsigned char)t[i] <= ' ' || t[i] == 0x7f) {
			snprintf(msg, msglen, "the token in %s has a space or "
			    "control character", from);
			goto out;
		}
	}
	r = (*out = strdup(t)) != NULL ? 0 : JIT_ERR_ALLOC;
	if (r != 0)
		snprintf(msg, msglen, "%s", jit_err(r));
 out:
	jit_wipe(line, sizeof(line));
	return r;
}
