/* config.c - see config.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "oidc.h"
#include "policy.h"
#include "store.h"
#include "util.h"
#include "yaml_doc.h"

#define CONFIG_MAX_SECONDS (365ull * 86400)

static void
listen_init(struct jit_listen *l)
{
	memset(l, 0, sizeof(*l));
}

void
jit_listen_release(struct jit_listen *l)
{
	if (l == NULL)
		return;
	free(l->host);
	listen_init(l);
}

static int
parse_port(const char *s, unsigned *port)
{
	unsigned long v;
	char *end;

	if (*s == '\0' || strspn(s, "0123456789") != strlen(s) ||
	    strlen(s) > 5)
		return JIT_ERR_INVALID_FORMAT;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > 65535)
		return JIT_ERR_INVALID_FORMAT;
	*port = (unsigned)v;
	return 0;
}

int
jit_listen_parse(const char *s, struct jit_listen *l)
{
	const char *colon;
	size_t hlen;

	listen_init(l);
	if (s == NULL || *s == '\0' || strlen(s) > 1024)
		return JIT_ERR_INVALID_FORMAT;
	if (strncmp(s, "unix:", 5) == 0) {
		/* sun_path is 108 bytes including the NUL. */
		if (s[5] == '\0' || strlen(s + 5) > 107)
			return JIT_ERR_INVALID_FORMAT;
		if ((l->host = jit_strdup(s + 5)) == NULL)
			return JIT_ERR_ALLOC;
		l->kind = JIT_LISTEN_UNIX;
		return 0;
	}
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (close == NULL || close == s + 1 || close[1] != ':')
			return JIT_ERR_INVALID_FORMAT;
		hlen = (size_t)(close - s - 1);
		if (strspn(s + 1, "0123456789abcdefABCDEF:.") < hlen)
			return JIT_ERR_INVALID_FORMAT;
		if (parse_port(close + 2, &l->port) != 0)
			return JIT_ERR_INVALID_FORMAT;
		if ((l->host = strndup(s + 1, hlen)) == NULL)
			return JIT_ERR_ALLOC;
		l->kind = JIT_LISTEN_INET6;
		return 0;
	}
	if ((colon = strrchr(s, ':')) == NULL || colon == s)
		return JIT_ERR_INVALID_FORMAT;
	hlen = (size_t)(colon - s);
	/* A hostname or dotted quad; a bare IPv6 address needs brackets. */
	if (strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789.-") != hlen)
		return JIT_ERR_INVALID_FORMAT;
	if (parse_port(colon + 1, &l->port) != 0)
		return JIT_ERR_INVALID_FORMAT;
	if ((l->host = strndup(s, hlen)) == NULL)
		return JIT_ERR_ALLOC;
	l->kind = JIT_LISTEN_INET;
	return 0;
}

int
jit_parse_size(const char *s, size_t *out)
{
	static const struct { const char *u; uint64_t mul; } units[] = {
		{ "", 1 }, { "B", 1 },
		{ "K", 1024 }, { "KiB", 1024 }, { "KB", 1024 }, { "k", 1024 },
		{ "M", 1024 * 1024 }, { "MiB", 1024 * 1024 },
		{ "MB", 1024 * 1024 },
	};
	uint64_t v = 0;
	const char *p = s;
	size_t i;

	*out = 0;
	if (s == NULL || *p < '0' || *p > '9')
		return JIT_ERR_INVALID_FORMAT;
	while (*p >= '0' && *p <= '9') {
		if (v > (1ull << 40))
			return JIT_ERR_INVALID_FORMAT;
		v = v * 10 + (uint64_t)(*p - '0');
		p++;
	}
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(p, units[i].u) == 0) {
			if (v == 0 || v > (1ull << 30) / units[i].mul)
				return JIT_ERR_INVALID_FORMAT;
			*out = (size_t)(v * units[i].mul);
			return 0;
		}
	}
	return JIT_ERR_INVALID_FORMAT;
}

static void
config_zero(struct jit_config *c)
{
	memset(c, 0, sizeof(*c));
	c->clock_skew = 60;
	c->max_body = 64 * 1024;
	c->max_wait = 60;
	c->sweep_interval = 5;
	c->connection_timeout = 30;
	c->threads = 0;
	c->max_connections = 1024;
	c->request_timeout = 10;
	c->max_connections_per_address = 64;
	c->rate_limit = 20;
	c->max_pending = JIT_CONFIG_DEFAULT_MAX_PENDING;
	c->web_session_idle = 30 * 60;
	c->web_session_max = 12 * 3600;
	c->host_cert_validity = JIT_CONFIG_DEFAULT_HOST_VALIDITY;
	c->oidc.session_ttl = 12 * 3600;
}

static void
free_domains(struct jit_config *c)
{
	size_t i;

	for (i = 0; i < c->nhost_domains; i++)
		free(c->host_domains[i]);
	free(c->host_domains);
	c->host_domains = NULL;
	c->nhost_domains = 0;
}

void
jit_config_release(struct jit_config *c)
{
	if (c == NULL)
		return;
	free(c->listen_text);
	jit_listen_release(&c->listen);
	free(c->data);
	free(c->policies);
	free(c->tls_cert);
	free(c->tls_key);
	free(c->store_url);
	free(c->store_password_file);
	free(c->store_sslmode);
	free(c->store_sslrootcert);
	free(c->store_schema);
	free(c->metrics_token_file);
	free(c->web_origin);
	free(c->public_url);
	free(c->oidc.issuer);
	free(c->oidc.client_id);
	free(c->oidc.cli_client_id);
	free(c->oidc.client_secret_file);
	free(c->oidc.username_claim);
	free(c->oidc.groups_claim);
	free(c->oidc.scopes);
	free(c->oidc.ca_file);
	jit_notify_config_release(c->notify, c->nnotify);
	free_domains(c);
	config_zero(c);
}

int
jit_config_defaults(struct jit_config *c)
{
	int r;

	config_zero(c);
	if ((c->listen_text = jit_strdup(JIT_CONFIG_DEFAULT_LISTEN)) == NULL ||
	    (c->data = jit_strdup(JIT_CONFIG_DEFAULT_DATA)) == NULL ||
	    (c->policies = jit_strdup(JIT_CONFIG_DEFAULT_POLICIES)) == NULL) {
		jit_config_release(c);
		return JIT_ERR_ALLOC;
	}
	if ((r = jit_listen_parse(c->listen_text, &c->listen)) != 0) {
		jit_config_release(c);
		return r;
	}
	return 0;
}

typedef const struct jit_yaml_node ynode;

/* A non-empty string of at most 4096 bytes without NUL bytes. */
static int
get_string(struct jit_yaml_doc *d, ynode *n, const char *field, char **out)
{
	size_t len = 0;
	char *s = NULL;
	int r;

	if (jit_yaml_scalar(n, &len) != NULL &&
	    (len == 0 || jit_yaml_is_null(n)))
		return jit_yaml_fail(d, n, field, "must not be empty");
	if ((r = jit_yaml_string(d, n, field, "a string", &s)) != 0)
		return r;
	if (strlen(s) > 4096) {
		free(s);
		return jit_yaml_fail(d, n, field, "too long");
	}
	free(*out);
	*out = s;
	return 0;
}

static int
get_seconds(struct jit_yaml_doc *d, ynode *n, const char *field, uint64_t min,
    uint64_t *out)
{
	const char *v;
	uint64_t secs;
	int r;

	if ((r = jit_yaml_text(d, n, field,
	    "a duration like 60s or 5m", &v)) != 0)
		return r;
	/* "0" means off/none for the fields that allow it. */
	if (min == 0 && strcmp(v, "0") == 0) {
		*out = 0;
		return 0;
	}
	if (jit_parse_duration(v, &secs) != 0)
		return jit_yaml_fail(d, n, field, "invalid duration '%.64s' "
		    "(use e.g. 60s, 5m, 1h)", v);
	if (secs < min || secs > CONFIG_MAX_SECONDS)
		return jit_yaml_fail(d, n, field, "out of range");
	*out = secs;
	return 0;
}

static int
get_uint(struct jit_yaml_doc *d, ynode *n, const char *field, unsigned max,
    unsigned *out)
{
	const char *v;
	unsigned long x;
	char *end;
	int r;

	if ((r = jit_yaml_text(d, n, field, "a number", &v)) != 0)
		return r;
	if (*v == '\0' || strspn(v, "0123456789") != strlen(v) ||
	    strlen(v) > 9)
		return jit_yaml_fail(d, n, field,
		    "expected a non-negative integer");
	errno = 0;
	x = strtoul(v, &end, 10);
	if (errno != 0 || *end != '\0' || x > max)
		return jit_yaml_fail(d, n, field, "must be at most %u", max);
	*out = (unsigned)x;
	return 0;
}

/* An origin: http:// or https://, then a host[:port] without a path. */
static int
valid_origin(const char *s)
{
	const char *h;

	if (strncmp(s, "https://", 8) == 0)
		h = s + 8;
	else if (strncmp(s, "http://", 7) == 0)
		h = s + 7;
	else
		return 0;
	return *h != '\0' && strlen(h) <= 255 &&
	    strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789.-:[]") == strlen(h);
}

static int
check_origin(struct jit_yaml_doc *d, ynode *v, const char *field,
    struct jit_config *c)
{
	if (!valid_origin(c->web_origin))
		return jit_yaml_fail(d, v, field, "expected "
		    "http(s)://host[:port] without a path");
	return 0;
}

static int
check_issuer(struct jit_yaml_doc *d, ynode *v, const char *field,
    struct jit_config *c)
{
	char why[160];

	if (jit_oidc_issuer_ok(c->oidc.issuer, why, sizeof(why)) != 0)
		return jit_yaml_fail(d, v, field, "%s", why);
	return 0;
}

static int
check_username_claim(struct jit_yaml_doc *d, ynode *v, const char *field,
    struct jit_config *c)
{
	if (strcmp(c->oidc.username_claim, "preferred_username") != 0 &&
	    strcmp(c->oidc.username_claim, "email") != 0)
		return jit_yaml_fail(d, v, field, "must be preferred_username "
		    "or email");
	return 0;
}

static int
load_listen(struct jit_yaml_doc *d, ynode *v, const char *key,
    struct jit_config *c)
{
	struct jit_listen l;
	int r;

	if ((r = get_string(d, v, key, &c->listen_text)) != 0)
		return r;
	if ((r = jit_listen_parse(c->listen_text, &l)) != 0) {
		if (r == JIT_ERR_ALLOC)
			return r;
		return jit_yaml_fail(d, v, key, "invalid address '%.64s' (use "
		    "host:port, [::1]:port or unix:/path)", c->listen_text);
	}
	jit_listen_release(&c->listen);
	c->listen = l;
	return 0;
}

/* The base of links in notifications, without a trailing slash. */
static int
load_public_url(struct jit_yaml_doc *d, ynode *v, const char *key,
    struct jit_config *c)
{
	char why[256];
	size_t n;
	int lo, r;

	if ((r = get_string(d, v, key, &c->public_url)) != 0)
		return r;
	if (jit_notify_url_check(c->public_url, 0, &lo, why,
	    sizeof(why)) != 0)
		return jit_yaml_fail(d, v, key, "%s", why);
	n = strlen(c->public_url);
	while (n > 0 && c->public_url[n - 1] == '/')
		c->public_url[--n] = '\0';
	return 0;
}

/* A DNS name: labels of letters, digits and '-' between dots. */
static int
valid_domain(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= 253 && s[0] != '.' && s[0] != '-' &&
	    s[n - 1] != '.' && strstr(s, "..") == NULL &&
	    strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789.-") == n;
}

static int
load_domains(struct jit_yaml_doc *d, ynode *v, const char *key,
    struct jit_config *c)
{
	ynode *item;
	size_t i, n;
	int r;

	free_domains(c);
	if (jit_yaml_is_null(v))
		return 0;
	if (jit_yaml_kind(v) != JIT_YAML_SEQUENCE)
		return jit_yaml_fail(d, v, key, "expected a list of domains, "
		    "like [example.com]");
	if ((n = jit_yaml_size(v)) > JIT_CONFIG_MAX_HOST_DOMAINS)
		return jit_yaml_fail(d, v, key, "at most %d domains",
		    JIT_CONFIG_MAX_HOST_DOMAINS);
	if (n > 0 && (c->host_domains = calloc(n, sizeof(char *))) == NULL)
		return JIT_ERR_ALLOC;
	for (i = 0; i < n; i++) {
		if ((r = jit_yaml_item(d, v, i, key, &item)) != 0 ||
		    (r = jit_yaml_string(d, item, key, "a domain",
		    &c->host_domains[i])) != 0)
			return r;
		c->nhost_domains = i + 1;
		if (!valid_domain(c->host_domains[i]))
			return jit_yaml_fail(d, item, key, "invalid domain "
			    "'%.64s' (a DNS name like example.com, without "
			    "wildcards)", c->host_domains[i]);
	}
	return 0;
}

static int
load_size(struct jit_yaml_doc *d, ynode *v, const char *field,
    struct jit_config *c)
{
	const char *text;

	if (jit_yaml_text(d, v, field, "a size", &text) != 0 ||
	    jit_parse_size(text, &c->max_body) != 0)
		return jit_yaml_fail(d, v, field, "expected a size like "
		    "64KiB (1 byte to 1GiB)");
	return 0;
}

static int
load_notify(struct jit_yaml_doc *d, ynode *v, const char *field,
    struct jit_config *c)
{
	(void)field;
	jit_notify_config_release(c->notify, c->nnotify);
	return jit_notify_config_parse(d, v, &c->notify, &c->nnotify);
}

/* store: "lmdb", a postgresql:// URL, or a mapping with the URL and the
 * connection's options. */
static int
load_store(struct jit_yaml_doc *d, ynode *n, const char *key,
    struct jit_config *c)
{
	static const char *const keys[] = { "url", "password_file", "sslmode",
	    "sslrootcert", "schema", "connections" };
	static const char *const modes[] = { "disable", "allow", "prefer",
	    "require", "verify-ca", "verify-full" };
	char **dst[] = { &c->store_url, &c->store_password_file,
	    &c->store_sslmode, &c->store_sslrootcert, &c->store_schema };
	char field[32];
	ynode *k, *v;
	unsigned seen = 0;
	size_t i, f, m;
	int r;

	(void)key;
	if (jit_yaml_kind(n) != JIT_YAML_MAPPING) {
		if ((r = get_string(d, n, "store", &c->store_url)) != 0)
			return r;
		if (strcmp(c->store_url, "lmdb") == 0) {
			free(c->store_url);
			c->store_url = NULL;
		} else if (!jit_store_is_url(c->store_url)) {
			return jit_yaml_fail(d, n, "store", "expected lmdb "
			    "or a postgresql:// URL");
		}
		return 0;
	}
	for (i = 0; i < jit_yaml_size(n); i++) {
		if ((r = jit_yaml_pair_key(d, n, i, "store", &k)) != 0 ||
		    (r = jit_yaml_key(d, k, "store", NULL, keys, 6, &seen,
		    &f)) != 0 ||
		    (r = jit_yaml_pair_value(d, n, i, "store", &v)) != 0)
			return r;
		snprintf(field, sizeof(field), "store.%s", keys[f]);
		if (f == 5)
			r = get_uint(d, v, field, 1000, &c->store_connections);
		else
			r = get_string(d, v, field, dst[f]);
		if (r != 0)
			return r;
		if (f == 0 && !jit_store_is_url(c->store_url))
			return jit_yaml_fail(d, v, field, "expected a "
			    "postgresql:// URL");
		for (m = 0; f == 2 && m < 6; m++)
			if (strcmp(c->store_sslmode, modes[m]) == 0)
				break;
		if (f == 2 && m == 6)
			return jit_yaml_fail(d, v, field, "expected disable, "
			    "allow, prefer, require, verify-ca or verify-full");
		if (f == 4 && (strlen(c->store_schema) > 48 ||
		    strspn(c->store_schema, "abcdefghijklmnopqrstuvwxyz"
		    "0123456789_") != strlen(c->store_schema) ||
		    (c->store_schema[0] >= '0' && c->store_schema[0] <= '9')))
			return jit_yaml_fail(d, v, field, "expected at most 48 "
			    "lowercase letters, digits and _, not starting "
			    "with a digit");
	}
	if (!(seen & 1))
		return jit_yaml_fail(d, n, "store", "needs url");
	return 0;
}

int
jit_config_open_store(const struct jit_config *c, const char *data,
    unsigned flags, struct jit_store **out, char *err, size_t errlen)
{
	struct jit_store_options o;
	char msg[512];
	int r;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (data == NULL)
		data = c->data;
	memset(&o, 0, sizeof(o));
	o.flags = flags;
	o.url = c->store_url;
	o.password_file = c->store_password_file;
	o.sslmode = c->store_sslmode;
	o.sslrootcert = c->store_sslrootcert;
	o.schema = c->store_schema;
	o.connections = c->store_connections;
	o.err = msg;
	o.errlen = sizeof(msg);
	if ((r = jit_store_open_opts(data, &o, out)) != 0 && err != NULL &&
	    errlen > 0) {
		if (c->store_url == NULL)
			snprintf(err, errlen, "%s: %s", data, jit_err(r));
		else
			snprintf(err, errlen, "store: %s", *msg ? msg :
			    jit_err(r));
	}
	return r;
}

/*
 * The sections of the file as tables: one row a key, saying how its
 * value is read into struct jit_config, and one reader (load_section)
 * for them all.
 */
typedef int (*field_fn)(struct jit_yaml_doc *d, ynode *v, const char *field,
    struct jit_config *c);

enum field_kind {
	F_STRING,     /* get_string; then fn, when set, checks it */
	F_SECONDS,    /* get_seconds, at least min (0 allows "0"); above
	                 max (0 = no bound but get_seconds'): too_big */
	F_UINT,       /* get_uint, at most max; below min: refused */
	F_CALL,       /* fn reads it */
	F_SECTION,    /* a mapping: sub */
};

struct section;

struct field {
	const char *key;
	enum field_kind kind;
	size_t off;            /* of the value in struct jit_config */
	uint64_t min, max;
	const char *too_big;
	field_fn fn;
	const struct section *sub;
};

#define ROW_STRING(k, m, fn) { k, F_STRING, \
	offsetof(struct jit_config, m), 0, 0, NULL, fn, NULL }
#define ROW_SECONDS(k, m, lo, hi, big) { k, F_SECONDS, \
	offsetof(struct jit_config, m), lo, hi, big, NULL, NULL }
#define ROW_UINT(k, m, lo, hi) { k, F_UINT, \
	offsetof(struct jit_config, m), lo, hi, NULL, NULL, NULL }
#define ROW_CALL(k, fn) { k, F_CALL, 0, 0, 0, NULL, fn, NULL }
#define ROW_SECTION(k, s) { k, F_SECTION, 0, 0, 0, NULL, NULL, s }

struct section {
	const char *name;      /* the parent of its fields: "tls"; "" at
	                          the top */
	const char *field;     /* where its own errors are: "tls", "config" */
	const char *expected;  /* the message for a value that is no mapping */
	int null_ok;           /* a null value leaves it unset */
	unsigned needs;        /* the bits of the rows it must have */
	const char *needs_text;
	const struct field *rows;
	size_t n;
};

#define NROWS(a) (sizeof(a) / sizeof((a)[0]))

static int load_section(struct jit_yaml_doc *d, ynode *n,
    const struct section *s, struct jit_config *c);

static const struct field tls_rows[] = {
	ROW_STRING("cert", tls_cert, NULL),
	ROW_STRING("key", tls_key, NULL),
};
static const struct section tls_section = {
	"tls", "tls", "expected a mapping {cert, key}", 1, 3,
	"needs both cert and key", tls_rows, NROWS(tls_rows),
};

static const struct field web_rows[] = {
	ROW_SECONDS("session_idle", web_session_idle, 1, 0, NULL),
	ROW_SECONDS("session_max", web_session_max, 1, 0, NULL),
	ROW_STRING("origin", web_origin, check_origin),
};
static const struct section web_section = {
	"web", "web", "expected a mapping {session_idle, session_max, "
	"origin}", 1, 0, NULL, web_rows, NROWS(web_rows),
};

static const struct field oidc_rows[] = {
	ROW_STRING("issuer", oidc.issuer, check_issuer),
	ROW_STRING("client_id", oidc.client_id, NULL),
	ROW_STRING("cli_client_id", oidc.cli_client_id, NULL),
	ROW_STRING("client_secret_file", oidc.client_secret_file, NULL),
	ROW_STRING("username_claim", oidc.username_claim,
	    check_username_claim),
	ROW_STRING("groups_claim", oidc.groups_claim, NULL),
	ROW_STRING("scopes", oidc.scopes, NULL),
	ROW_SECONDS("session_ttl", oidc.session_ttl, 60, 7 * 86400,
	    "at most 7d"),
	ROW_STRING("ca_file", oidc.ca_file, NULL),
};
static const struct section oidc_section = {
	"oidc", "oidc", "expected a mapping (issuer, client_id, ...)", 0, 3,
	"needs issuer and client_id", oidc_rows, NROWS(oidc_rows),
};

static const struct field top_rows[] = {
	ROW_CALL("listen", load_listen),
	ROW_STRING("data", data, NULL),
	ROW_STRING("policies", policies, NULL),
	ROW_SECTION("tls", &tls_section),
	ROW_SECONDS("clock_skew", clock_skew, 0, 3600, "at most 1h"),
	ROW_CALL("max_body", load_size),
	ROW_SECONDS("max_wait", max_wait, 1, 600, "at most 10m"),
	ROW_SECONDS("sweep_interval", sweep_interval, 1, 0, NULL),
	ROW_SECONDS("connection_timeout", connection_timeout, 1, 0, NULL),
	ROW_UINT("threads", threads, 0, 1024),
	ROW_UINT("max_connections", max_connections, 1, 100000),
	ROW_UINT("rate_limit", rate_limit, 0, 1000000),
	ROW_SECTION("web", &web_section),
	ROW_SECONDS("request_timeout", request_timeout, 1, 3600,
	    "at most 1h"),
	ROW_UINT("max_connections_per_address", max_connections_per_address,
	    1, 100000),
	ROW_CALL("host_domains", load_domains),
	ROW_SECONDS("host_cert_validity", host_cert_validity, 10, 0, NULL),
	ROW_CALL("public_url", load_public_url),
	ROW_CALL("notify", load_notify),
	ROW_SECTION("oidc", &oidc_section),
	ROW_CALL("store", load_store),
	ROW_UINT("max_pending", max_pending, 0, 100000),
	ROW_STRING("metrics_token_file", metrics_token_file, NULL),
};
static const struct section top_section = {
	"", "config", "expected a mapping at the top", 0, 0, NULL, top_rows,
	NROWS(top_rows),
};

/* Row f's value v, called field in errors. */
static int
load_field(struct jit_yaml_doc *d, ynode *v, const char *field,
    const struct field *f, struct jit_config *c)
{
	void *p = (char *)c + f->off;
	int r;

	switch (f->kind) {
	case F_STRING:
		if ((r = get_string(d, v, field, p)) == 0 && f->fn != NULL)
			r = f->fn(d, v, field, c);
		return r;
	case F_SECONDS:
		if ((r = get_seconds(d, v, field, f->min, p)) == 0 &&
		    f->max != 0 && *(uint64_t *)p > f->max)
			r = jit_yaml_fail(d, v, field, "%s", f->too_big);
		return r;
	case F_UINT:
		if ((r = get_uint(d, v, field, (unsigned)f->max, p)) == 0 &&
		    *(unsigned *)p < f->min)
			r = jit_yaml_fail(d, v, field, "must be at least %u",
			    (unsigned)f->min);
		return r;
	case F_CALL:
		return f->fn(d, v, field, c);
	case F_SECTION:
		return load_section(d, v, f->sub, c);
	}
	return JIT_ERR_INTERNAL;
}

/* The mapping n as section s: each key once, every key one of its
 * rows, then the keys it needs. */
static int
load_section(struct jit_yaml_doc *d, ynode *n, const struct section *s,
    struct jit_config *c)
{
	const char *keys[32];
	char field[64];
	ynode *k, *v;
	unsigned seen = 0;
	size_t i, f;
	int r;

	if (s->null_ok && jit_yaml_is_null(n))
		return 0;
	if (jit_yaml_kind(n) != JIT_YAML_MAPPING)
		return jit_yaml_fail(d, n, s->field, "%s", s->expected);
	for (f = 0; f < s->n; f++)
		keys[f] = s->rows[f].key;
	for (i = 0; i < jit_yaml_size(n); i++) {
		if ((r = jit_yaml_pair_key(d, n, i, s->field, &k)) != 0 ||
		    (r = jit_yaml_key(d, k, s->name, s->field, keys, s->n,
		    &seen, &f)) != 0)
			return r;
		snprintf(field, sizeof(field), "%s%s%s", s->name,
		    *s->name != '\0' ? "." : "", keys[f]);
		/* A top-level value's own errors name its key. */
		if ((r = jit_yaml_pair_value(d, n, i, *s->name != '\0' ?
		    s->name : field, &v)) != 0 ||
		    (r = load_field(d, v, field, &s->rows[f], c)) != 0)
			return r;
	}
	if ((seen & s->needs) != s->needs)
		return jit_yaml_fail(d, n, s->field, "%s", s->needs_text);
	return 0;
}

int
jit_config_parse(const char *name, const unsigned char *data, size_t len,
    struct jit_config *c, char *err, size_t errlen)
{
	static const struct jit_yaml_rules rules = {
		0, JIT_ERR_INVALID_FORMAT, "config" };
	struct jit_policy_error e;
	struct jit_yaml_doc *doc = NULL;
	ynode *root;
	int r = JIT_ERR_INTERNAL;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	memset(&e, 0, sizeof(e));
	if ((r = jit_config_defaults(c)) != 0)
		return r;
	c->from_file = 1;
	r = jit_yaml_doc_load(name != NULL ? name : "config",
	    (const char *)data, len, &rules, &e, &doc);
	/* An empty file, or a null document, means "all defaults". */
	if (r == 0 && (root = jit_yaml_root(doc)) != NULL &&
	    !jit_yaml_is_null(root))
		r = load_section(doc, root, &top_section, c);
	jit_yaml_doc_free(doc);
	if (r != 0) {
		if (r == JIT_ERR_INVALID_FORMAT)
			jit_policy_error_format(&e, err, errlen);
		jit_config_release(c);
	}
	return r;
}

int
jit_config_load(const char *path, struct jit_config *c, char *err,
    size_t errlen)
{
	unsigned char *data = NULL;
	size_t len = 0;
	int r;

	config_zero(c);
	if ((r = jit_read_file(path, JIT_CONFIG_MAX_FILE, &data, &len)) != 0) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s: %s", path, jit_err(r));
		return r;
	}
	r = jit_config_parse(path, data, len, c, err, errlen);
	free(data);
	return r;
}

int
jit_config_read_secret(const char *path, size_t min, char **out,
    char *err, size_t errlen)
{
	unsigned char buf[JIT_CONFIG_SECRET_MAX + 3];
	struct stat st;
	size_t len = 0, n, i;
	ssize_t got;
	int fd, r = JIT_ERR_INTERNAL;

	*out = NULL;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	/* Mode and contents of the one file opened, so a path swapped in
	 * between cannot pass the check with another file's bytes.  A
	 * symbolic link is followed (Kubernetes mounts secrets as links into
	 * a ..data directory): the checks below are the target's. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		r = jit_err_from_errno(errno);
		jit_seterr(err, errlen, "%s: %s", path, jit_err(r));
		return r;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		jit_seterr(err, errlen, "%s: not a regular file", path);
		r = JIT_ERR_PERMISSION;
		goto out;
	}
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		jit_seterr(err, errlen, "%s is accessible by group or others "
		    "(mode %04o): chmod 600 it", path,
		    (unsigned)(st.st_mode & 07777));
		r = JIT_ERR_PERMISSION;
		goto out;
	}
	while (len < sizeof(buf) - 1 &&
	    (got = read(fd, buf + len, sizeof(buf) - 1 - len)) != 0) {
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			r = jit_err_from_errno(errno);
			jit_seterr(err, errlen, "%s: %s", path, jit_err(r));
			goto out;
		}
		len += (size_t)got;
	}
	n = len;
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	for (i = 0; i < n && buf[i] > 0x20 && buf[i] < 0x7f; i++)
		;
	if (i != n || n < min || n == 0 || n > JIT_CONFIG_SECRET_MAX) {
		jit_seterr(err, errlen, "%s: expected one line of %zu to %d "
		    "printable characters without spaces", path,
		    min > 0 ? min : 1, JIT_CONFIG_SECRET_MAX);
		r = JIT_ERR_INVALID_FORMAT;
		goto out;
	}
	buf[n] = '\0';
	r = (*out = jit_strdup((const char *)buf)) != NULL ? 0 :
	    JIT_ERR_ALLOC;
out:
	jit_wipe(buf, sizeof(buf));
	close(fd);
	return r;
}
