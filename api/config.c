/* config.c - see config.h. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "err.h"
#include "util.h"

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
	c->max_connections = 256;
	c->rate_limit = 20;
	c->web_session_idle = 30 * 60;
	c->web_session_max = 12 * 3600;
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
	free(c->web_origin);
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

struct loader {
	const char *name;
	yaml_document_t *doc;
	char *err;
	size_t errlen;
};

static int
fail(struct loader *L, const yaml_node_t *n, const char *field,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int
fail(struct loader *L, const yaml_node_t *n, const char *field,
    const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (L->err != NULL && L->errlen > 0)
		snprintf(L->err, L->errlen, "%s:%lu: %s: %s", L->name,
		    n != NULL ? (unsigned long)n->start_mark.line + 1 : 1ul,
		    field, msg);
	return JIT_ERR_INVALID_FORMAT;
}

static int
is_null(const yaml_node_t *n)
{
	const char *v;

	if (n->type != YAML_SCALAR_NODE ||
	    n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	v = (const char *)n->data.scalar.value;
	return n->data.scalar.length == 0 || strcmp(v, "~") == 0 ||
	    strcmp(v, "null") == 0 || strcmp(v, "Null") == 0 ||
	    strcmp(v, "NULL") == 0;
}

/* A non-empty scalar without NUL bytes. */
static int
get_string(struct loader *L, const yaml_node_t *n, const char *field,
    char **out)
{
	const char *v;

	if (n->type != YAML_SCALAR_NODE)
		return fail(L, n, field, "expected a string");
	v = (const char *)n->data.scalar.value;
	if (is_null(n) || n->data.scalar.length == 0)
		return fail(L, n, field, "must not be empty");
	if (strlen(v) != n->data.scalar.length)
		return fail(L, n, field, "contains a NUL byte");
	if (n->data.scalar.length > 4096)
		return fail(L, n, field, "too long");
	free(*out);
	if ((*out = jit_strdup(v)) == NULL)
		return JIT_ERR_ALLOC;
	return 0;
}

static int
get_seconds(struct loader *L, const yaml_node_t *n, const char *field,
    uint64_t min, uint64_t *out)
{
	uint64_t v;

	if (n->type != YAML_SCALAR_NODE || is_null(n))
		return fail(L, n, field, "expected a duration like 60s or 5m");
	/* "0" means off/none for the fields that allow it. */
	if (min == 0 && strcmp((const char *)n->data.scalar.value, "0") == 0) {
		*out = 0;
		return 0;
	}
	if (jit_parse_duration((const char *)n->data.scalar.value, &v) != 0)
		return fail(L, n, field, "invalid duration '%s' (use e.g. 60s,"
		    " 5m, 1h)", (const char *)n->data.scalar.value);
	if (v < min || v > CONFIG_MAX_SECONDS)
		return fail(L, n, field, "out of range");
	*out = v;
	return 0;
}

static int
get_uint(struct loader *L, const yaml_node_t *n, const char *field,
    unsigned max, unsigned *out)
{
	const char *v;
	unsigned long x;
	char *end;

	if (n->type != YAML_SCALAR_NODE || is_null(n))
		return fail(L, n, field, "expected a number");
	v = (const char *)n->data.scalar.value;
	if (*v == '\0' || strspn(v, "0123456789") != strlen(v) ||
	    strlen(v) > 9)
		return fail(L, n, field, "expected a non-negative integer");
	errno = 0;
	x = strtoul(v, &end, 10);
	if (errno != 0 || *end != '\0' || x > max)
		return fail(L, n, field, "must be at most %u", max);
	*out = (unsigned)x;
	return 0;
}

static int
load_tls(struct loader *L, yaml_node_t *n, struct jit_config *c)
{
	yaml_node_pair_t *p;
	int r, seen_cert = 0, seen_key = 0;

	if (is_null(n))
		return 0;
	if (n->type != YAML_MAPPING_NODE)
		return fail(L, n, "tls", "expected a mapping {cert, key}");
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	    p++) {
		yaml_node_t *k = yaml_document_get_node(L->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(L->doc, p->value);
		const char *key;

		if (k == NULL || v == NULL || k->type != YAML_SCALAR_NODE)
			return fail(L, k, "tls", "keys must be strings");
		key = (const char *)k->data.scalar.value;
		if (strcmp(key, "cert") == 0) {
			if (seen_cert++)
				return fail(L, k, "tls.cert", "duplicate key");
			if ((r = get_string(L, v, "tls.cert",
			    &c->tls_cert)) != 0)
				return r;
		} else if (strcmp(key, "key") == 0) {
			if (seen_key++)
				return fail(L, k, "tls.key", "duplicate key");
			if ((r = get_string(L, v, "tls.key",
			    &c->tls_key)) != 0)
				return r;
		} else {
			return fail(L, k, "tls", "unknown key '%.64s' "
			    "(expected cert, key)", key);
		}
	}
	if (!seen_cert || !seen_key)
		return fail(L, n, "tls", "needs both cert and key");
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
load_web(struct loader *L, yaml_node_t *n, struct jit_config *c)
{
	static const char *const keys[] = { "session_idle", "session_max",
	    "origin" };
	yaml_node_pair_t *p;
	int r, seen[3] = { 0 };
	size_t i;

	if (is_null(n))
		return 0;
	if (n->type != YAML_MAPPING_NODE)
		return fail(L, n, "web", "expected a mapping {session_idle, "
		    "session_max, origin}");
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	    p++) {
		yaml_node_t *k = yaml_document_get_node(L->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(L->doc, p->value);
		const char *key;

		if (k == NULL || v == NULL || k->type != YAML_SCALAR_NODE)
			return fail(L, k, "web", "keys must be strings");
		key = (const char *)k->data.scalar.value;
		for (i = 0; i < 3 && strcmp(key, keys[i]) != 0; i++)
			;
		if (i == 3)
			return fail(L, k, "web", "unknown key '%.64s' "
			    "(expected session_idle, session_max, origin)",
			    key);
		if (seen[i]++)
			return fail(L, k, "web", "duplicate key '%s'", key);
		if (i == 0)
			r = get_seconds(L, v, "web.session_idle", 1,
			    &c->web_session_idle);
		else if (i == 1)
			r = get_seconds(L, v, "web.session_max", 1,
			    &c->web_session_max);
		else if ((r = get_string(L, v, "web.origin",
		    &c->web_origin)) == 0 && !valid_origin(c->web_origin))
			r = fail(L, v, "web.origin", "expected http(s)://host"
			    "[:port] without a path");
		if (r != 0)
			return r;
	}
	return 0;
}

static const char *const top_keys[] = {
	"listen", "data", "policies", "tls", "clock_skew", "max_body",
	"max_wait", "sweep_interval", "connection_timeout", "threads",
	"max_connections", "rate_limit", "web",
};
#define NTOP (sizeof(top_keys) / sizeof(top_keys[0]))

static int
load_top(struct loader *L, yaml_node_t *root, struct jit_config *c)
{
	yaml_node_pair_t *p;
	int seen[NTOP] = { 0 };
	int r;

	if (root->type != YAML_MAPPING_NODE)
		return fail(L, root, "config", "expected a mapping at the top");
	for (p = root->data.mapping.pairs.start;
	    p < root->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(L->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(L->doc, p->value);
		const char *key;
		size_t i;

		if (k == NULL || v == NULL || k->type != YAML_SCALAR_NODE)
			return fail(L, k, "config", "keys must be strings");
		key = (const char *)k->data.scalar.value;
		for (i = 0; i < NTOP; i++)
			if (strcmp(key, top_keys[i]) == 0)
				break;
		if (i == NTOP)
			return fail(L, k, "config", "unknown key '%.64s'", key);
		if (seen[i]++)
			return fail(L, k, key, "duplicate key");
		switch (i) {
		case 0: {
			struct jit_listen l;
			if ((r = get_string(L, v, key, &c->listen_text)) != 0)
				return r;
			if ((r = jit_listen_parse(c->listen_text, &l)) != 0) {
				if (r == JIT_ERR_ALLOC)
					return r;
				return fail(L, v, key, "invalid address '%.64s'"
				    " (use host:port, [::1]:port or "
				    "unix:/path)", c->listen_text);
			}
			jit_listen_release(&c->listen);
			c->listen = l;
			break;
		}
		case 1:
			r = get_string(L, v, key, &c->data);
			break;
		case 2:
			r = get_string(L, v, key, &c->policies);
			break;
		case 3:
			r = load_tls(L, v, c);
			break;
		case 4:
			r = get_seconds(L, v, key, 0, &c->clock_skew);
			if (r == 0 && c->clock_skew > 3600)
				r = fail(L, v, key, "at most 1h");
			break;
		case 5:
			if (v->type != YAML_SCALAR_NODE || is_null(v) ||
			    jit_parse_size((const char *)v->data.scalar.value,
			    &c->max_body) != 0)
				return fail(L, v, key, "expected a size like "
				    "64KiB (1 byte to 1GiB)");
			break;
		case 6:
			r = get_seconds(L, v, key, 1, &c->max_wait);
			if (r == 0 && c->max_wait > 600)
				r = fail(L, v, key, "at most 10m");
			break;
		case 7:
			r = get_seconds(L, v, key, 1, &c->sweep_interval);
			break;
		case 8:
			r = get_seconds(L, v, key, 1, &c->connection_timeout);
			break;
		case 9:
			r = get_uint(L, v, key, 1024, &c->threads);
			break;
		case 10:
			r = get_uint(L, v, key, 100000, &c->max_connections);
			if (r == 0 && c->max_connections == 0)
				r = fail(L, v, key, "must be at least 1");
			break;
		case 11:
			r = get_uint(L, v, key, 1000000, &c->rate_limit);
			break;
		case 12:
			r = load_web(L, v, c);
			break;
		default:
			r = JIT_ERR_INTERNAL;
		}
		if (r != 0)
			return r;
	}
	return 0;
}

int
jit_config_parse(const char *name, const unsigned char *data, size_t len,
    struct jit_config *c, char *err, size_t errlen)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root;
	struct loader L;
	int r = JIT_ERR_INTERNAL, have_doc = 0;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if ((r = jit_config_defaults(c)) != 0)
		return r;
	c->from_file = 1;
	L.name = name != NULL ? name : "config";
	L.doc = &doc;
	L.err = err;
	L.errlen = errlen;
	if (!yaml_parser_initialize(&parser)) {
		r = JIT_ERR_ALLOC;
		goto out;
	}
	yaml_parser_set_input_string(&parser, data, len);
	if (!yaml_parser_load(&parser, &doc)) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s:%lu: config: %s", L.name,
			    (unsigned long)parser.problem_mark.line + 1,
			    parser.problem != NULL ? parser.problem :
			    "YAML syntax error");
		r = JIT_ERR_INVALID_FORMAT;
		yaml_parser_delete(&parser);
		goto out;
	}
	have_doc = 1;
	root = yaml_document_get_root_node(&doc);
	/* An empty file means "all defaults". */
	if (root != NULL && !is_null(root) &&
	    (r = load_top(&L, root, c)) != 0)
		goto done;
	/* A second document in the stream is a mistake worth reporting. */
	{
		yaml_document_t extra;
		if (!yaml_parser_load(&parser, &extra)) {
			r = fail(&L, NULL, "config", "YAML syntax error");
			goto done;
		}
		root = yaml_document_get_root_node(&extra);
		yaml_document_delete(&extra);
		if (root != NULL) {
			r = fail(&L, NULL, "config",
			    "more than one YAML document");
			goto done;
		}
	}
	r = 0;
done:
	if (have_doc)
		yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
out:
	if (r != 0)
		jit_config_release(c);
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
