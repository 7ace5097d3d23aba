/* notify_config.c - see notify_config.h. */
#include "notify_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "terms.h"
#include "util.h"
#include "yaml_doc.h"

#define URL_MAX 2048
#define MAX_RETRY_FOR (30ull * 86400)
#define MAX_TIMEOUT 600

typedef const struct jit_yaml_node ynode;

/* The events a change can be audited as (lifecycle.h). */
static const char *const known_events[] = {
	"request.create", "request.approve", "request.deny", "request.cancel",
	"request.revoke", "request.expire", "grant.end", "cert.issue",
};
#define NEVENTS (sizeof(known_events) / sizeof(known_events[0]))

enum {
	K_NAME, K_URL, K_SMTP, K_FORMAT, K_FROM, K_EVENTS, K_ROLES,
	K_SECRET_FILE, K_TIMEOUT, K_BACKOFF, K_RETRY_FOR, K_COUNT
};
static const char *const endpoint_keys[K_COUNT] = {
	"name", "url", "smtp", "format", "from", "events", "roles",
	"secret_file", "timeout", "backoff", "retry_for",
};

static void
strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void
jit_notify_config_release(struct jit_notify_endpoint *v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].url);
		free(v[i].from);
		free(v[i].secret_file);
		strv_free(v[i].events, v[i].nevents);
		strv_free(v[i].roles, v[i].nroles);
	}
	free(v);
}

const struct jit_notify_endpoint *
jit_notify_config_find(const struct jit_notify_endpoint *v, size_t n,
    const char *name)
{
	for (size_t i = 0; name != NULL && i < n; i++)
		if (strcmp(v[i].name, name) == 0)
			return &v[i];
	return NULL;
}

int
jit_notify_config_wants(const struct jit_notify_endpoint *ep,
    const char *event, const char *role)
{
	size_t i;
	int want = 0;

	for (i = 0; i < ep->nevents && !want; i++)
		want = strcmp(ep->events[i], event) == 0;
	if (!want || ep->nroles == 0)
		return want;
	for (i = 0; i < ep->nroles; i++)
		if (role != NULL && strcmp(ep->roles[i], role) == 0)
			return 1;
	return 0;
}

/* 1 if host (len bytes, brackets removed) is a loopback address. */
static int
host_is_loopback(const char *host, size_t len)
{
	unsigned a, b, c, d;
	char buf[64], end;

	if (len == 0 || len >= sizeof(buf))
		return 0;
	memcpy(buf, host, len);
	buf[len] = '\0';
	if (strcmp(buf, "localhost") == 0 || strcmp(buf, "::1") == 0)
		return 1;
	if (sscanf(buf, "%3u.%3u.%3u.%3u%c", &a, &b, &c, &d, &end) != 4)
		return 0;
	return a == 127 && b < 256 && c < 256 && d < 256;
}

int
jit_notify_url_check(const char *url, int smtp, int *loopback, char *why,
    size_t whylen)
{
	static const char host_chars[] = "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-";
	const char *rest, *host, *end, *p;
	size_t hlen;
	int plain, lo;

	*loopback = 0;
	if (strlen(url) > URL_MAX) {
		jit_seterr(why, whylen, "URL too long");
		return -1;
	}
	for (p = url; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f) {
			jit_seterr(why, whylen, "URL with a space or control "
			    "character");
			return -1;
		}
	if (smtp && strncmp(url, "smtps://", 8) == 0) {
		rest = url + 8;
		plain = 0;
	} else if (smtp && strncmp(url, "smtp://", 7) == 0) {
		rest = url + 7;
		plain = 0;   /* STARTTLS is required away from loopback */
	} else if (!smtp && strncmp(url, "https://", 8) == 0) {
		rest = url + 8;
		plain = 0;
	} else if (!smtp && strncmp(url, "http://", 7) == 0) {
		rest = url + 7;
		plain = 1;
	} else {
		jit_seterr(why, whylen, smtp ? "expected smtp://HOST[:PORT] or "
		    "smtps://HOST[:PORT]" : "expected an https:// URL");
		return -1;
	}
	end = rest + strcspn(rest, "/?#");
	if (memchr(rest, '@', (size_t)(end - rest)) != NULL) {
		jit_seterr(why, whylen, "no user:password@ in the URL, please");
		return -1;
	}
	host = rest;
	if (*host == '[') {
		p = memchr(host, ']', (size_t)(end - host));
		if (p == NULL || p == host + 1) {
			jit_seterr(why, whylen, "bad IPv6 address in the URL");
			return -1;
		}
		hlen = (size_t)(p - host - 1);
		if (strspn(host + 1, "0123456789abcdefABCDEF:.") < hlen) {
			jit_seterr(why, whylen, "bad IPv6 address in the URL");
			return -1;
		}
		lo = host_is_loopback(host + 1, hlen);
		p++;
	} else {
		hlen = strspn(host, host_chars);
		if (hlen == 0 || hlen > 253) {
			jit_seterr(why, whylen, "no host in the URL");
			return -1;
		}
		lo = host_is_loopback(host, hlen);
		p = host + hlen;
	}
	if (*p == ':') {
		size_t nd = strspn(p + 1, "0123456789");

		if (nd == 0 || nd > 5 || atoi(p + 1) > 65535) {
			jit_seterr(why, whylen, "bad port in the URL");
			return -1;
		}
		p += 1 + nd;
	}
	if (p != end) {
		jit_seterr(why, whylen, "bad host in the URL");
		return -1;
	}
	if (plain && !lo) {
		jit_seterr(why, whylen, "must be https:// (http:// only to a "
		    "loopback address)");
		return -1;
	}
	*loopback = lo;
	return 0;
}

/* A list of names of at most 64 bytes each (the checks of check). */
static int
get_names(struct jit_yaml_doc *d, ynode *n, const char *field,
    int (*check)(const char *), const char *what, char ***out,
    size_t *count)
{
	ynode *item;
	const char *s;
	char **v = NULL;
	size_t i, k, len;
	int r = JIT_ERR_INTERNAL;

	if (jit_yaml_kind(n) != JIT_YAML_SEQUENCE || jit_yaml_size(n) == 0)
		return jit_yaml_fail(d, n, field, "expected a non-empty list of "
		    "%s", what);
	len = jit_yaml_size(n);
	if (len > 256)
		return jit_yaml_fail(d, n, field, "at most 256 entries");
	if ((v = calloc(len, sizeof(*v))) == NULL)
		return JIT_ERR_ALLOC;
	for (i = 0; i < len; i++) {
		if ((r = jit_yaml_item(d, n, i, field, &item)) != 0 ||
		    (r = jit_yaml_text(d, item, field, what, &s)) != 0)
			goto fail;
		if (!check(s)) {
			r = jit_yaml_fail(d, item, field, "'%.64s' is not %s",
			    jit_text_printable(s) ? s : "?", what);
			goto fail;
		}
		for (k = 0; k < i; k++)
			if (strcmp(v[k], s) == 0) {
				r = jit_yaml_fail(d, item, field, "'%s' is "
				    "listed twice", s);
				goto fail;
			}
		if ((v[i] = jit_strdup(s)) == NULL) {
			r = JIT_ERR_ALLOC;
			goto fail;
		}
	}
	*out = v;
	*count = len;
	return 0;
fail:
	strv_free(v, len);
	return r;
}

static int
valid_name(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= JIT_NOTIFY_NAME_MAX &&
	    strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789._-@") == n;
}

static int
valid_event(const char *s)
{
	for (size_t i = 0; i < NEVENTS; i++)
		if (strcmp(s, known_events[i]) == 0)
			return 1;
	return 0;
}

static int
get_seconds(struct jit_yaml_doc *d, ynode *n, const char *field,
    uint64_t max, uint64_t *out)
{
	const char *v;
	int r;

	if ((r = jit_yaml_text(d, n, field, "a duration like 30s", &v)) != 0)
		return r;
	if (jit_parse_duration(v, out) != 0 || *out > max)
		return jit_yaml_fail(d, n, field, "expected a duration from 1s "
		    "to %llus, like 30s or 1h", (unsigned long long)max);
	return 0;
}

/* A copy of a non-empty string of at most URL_MAX bytes. */
static int
get_string(struct jit_yaml_doc *d, ynode *n, const char *field, char **out)
{
	char *s = NULL;
	int r;

	if ((r = jit_yaml_string(d, n, field, "a string", &s)) != 0)
		return r;
	if (*s == '\0' || strlen(s) > URL_MAX) {
		free(s);
		return jit_yaml_fail(d, n, field, "must be 1 to %d bytes",
		    URL_MAX);
	}
	free(*out);
	*out = s;
	return 0;
}

/* Key k of endpoint e with value v; field is "notify[I].KEY". */
static int
endpoint_value(struct jit_yaml_doc *d, size_t k, ynode *v, const char *field,
    struct jit_notify_endpoint *e)
{
	const char *s;
	char why[256];
	int r;

	switch (k) {
	case K_NAME:
		if ((r = jit_yaml_text(d, v, field, "a name", &s)) != 0)
			return r;
		if (!valid_name(s))
			return jit_yaml_fail(d, v, field, "expected 1 to 64 of "
			    "A-Z a-z 0-9 . _ - @");
		return get_string(d, v, field, &e->name);
	case K_URL:
	case K_SMTP:
		if ((r = get_string(d, v, field, &e->url)) != 0)
			return r;
		if (jit_notify_url_check(e->url, k == K_SMTP, &e->loopback,
		    why, sizeof(why)) != 0)
			return jit_yaml_fail(d, v, field, "%s", why);
		return 0;
	case K_FORMAT:
		if ((r = jit_yaml_text(d, v, field, "slack or json", &s)) != 0)
			return r;
		if (strcmp(s, "json") == 0)
			e->format = JIT_NOTIFY_JSON;
		else if (strcmp(s, "slack") == 0)
			e->format = JIT_NOTIFY_SLACK;
		else
			return jit_yaml_fail(d, v, field, "expected slack or "
			    "json");
		return 0;
	case K_FROM:
		if ((r = get_string(d, v, field, &e->from)) != 0)
			return r;
		if (jit_check_email(e->from, why, sizeof(why)) != 0)
			return jit_yaml_fail(d, v, field, "%s", why);
		return 0;
	case K_EVENTS:
		return get_names(d, v, field, valid_event, "an event name "
		    "(request.create, request.approve, request.deny, "
		    "request.cancel, request.revoke, request.expire, "
		    "grant.end, cert.issue)", &e->events, &e->nevents);
	case K_ROLES:
		return get_names(d, v, field, valid_name, "a role name",
		    &e->roles, &e->nroles);
	case K_SECRET_FILE:
		return get_string(d, v, field, &e->secret_file);
	case K_TIMEOUT:
		return get_seconds(d, v, field, MAX_TIMEOUT, &e->timeout);
	case K_BACKOFF:
		return get_seconds(d, v, field, 86400, &e->backoff);
	case K_RETRY_FOR:
		return get_seconds(d, v, field, MAX_RETRY_FOR, &e->retry_for);
	}
	return JIT_ERR_INTERNAL;
}

/* Which keys an endpoint must have, and which go together. */
static int
endpoint_check(struct jit_yaml_doc *d, ynode *n, const char *field,
    unsigned seen, struct jit_notify_endpoint *e)
{
	int smtp = (seen & (1u << K_SMTP)) != 0;

	if (!(seen & (1u << K_NAME)))
		return jit_yaml_fail(d, n, field, "needs a name");
	if (!(seen & (1u << K_EVENTS)))
		return jit_yaml_fail(d, n, field, "needs events");
	if (smtp == ((seen & (1u << K_URL)) != 0))
		return jit_yaml_fail(d, n, field, "needs either url (a "
		    "webhook) or smtp (email)");
	if (smtp) {
		if (!(seen & (1u << K_FROM)))
			return jit_yaml_fail(d, n, field, "an smtp endpoint "
			    "needs from");
		if (seen & ((1u << K_FORMAT) | (1u << K_SECRET_FILE)))
			return jit_yaml_fail(d, n, field, "format and "
			    "secret_file are for webhooks (url), not smtp");
		e->format = JIT_NOTIFY_EMAIL;
	} else if (seen & (1u << K_FROM)) {
		return jit_yaml_fail(d, n, field, "from is for smtp endpoints");
	}
	return 0;
}

static int
parse_endpoint(struct jit_yaml_doc *d, ynode *n, size_t idx,
    struct jit_notify_endpoint *e)
{
	char field[32], sub[64];
	ynode *k, *v;
	unsigned seen = 0;
	size_t i, f;
	int r;

	snprintf(field, sizeof(field), "notify[%zu]", idx);
	e->format = JIT_NOTIFY_JSON;
	e->timeout = JIT_NOTIFY_DEFAULT_TIMEOUT;
	e->backoff = JIT_NOTIFY_DEFAULT_BACKOFF;
	e->retry_for = JIT_NOTIFY_DEFAULT_RETRY_FOR;
	if (jit_yaml_kind(n) != JIT_YAML_MAPPING)
		return jit_yaml_fail(d, n, field, "expected a mapping (name, "
		    "url or smtp, events, ...)");
	for (i = 0; i < jit_yaml_size(n); i++) {
		if ((r = jit_yaml_pair_key(d, n, i, field, &k)) != 0 ||
		    (r = jit_yaml_key(d, k, field, NULL, endpoint_keys, K_COUNT,
		    &seen, &f)) != 0)
			return r;
		snprintf(sub, sizeof(sub), "%s.%s", field, endpoint_keys[f]);
		if ((r = jit_yaml_pair_value(d, n, i, sub, &v)) != 0 ||
		    (r = endpoint_value(d, f, v, sub, e)) != 0)
			return r;
	}
	return endpoint_check(d, n, field, seen, e);
}

int
jit_notify_config_parse(struct jit_yaml_doc *d, const struct jit_yaml_node *n,
    struct jit_notify_endpoint **out, size_t *count)
{
	struct jit_notify_endpoint *v = NULL;
	ynode *item;
	size_t i, len;
	int r = JIT_ERR_INTERNAL;

	*out = NULL;
	*count = 0;
	if (jit_yaml_is_null(n))
		return 0;
	if (jit_yaml_kind(n) != JIT_YAML_SEQUENCE)
		return jit_yaml_fail(d, n, "notify", "expected a list of "
		    "endpoints");
	if ((len = jit_yaml_size(n)) > 64)
		return jit_yaml_fail(d, n, "notify", "at most 64 endpoints");
	if (len == 0)
		return 0;
	if ((v = calloc(len, sizeof(*v))) == NULL)
		return JIT_ERR_ALLOC;
	for (i = 0; i < len; i++) {
		if ((r = jit_yaml_item(d, n, i, "notify", &item)) != 0 ||
		    (r = parse_endpoint(d, item, i, &v[i])) != 0)
			goto fail;
		if (jit_notify_config_find(v, i, v[i].name) != NULL) {
			r = jit_yaml_fail(d, item, "notify", "two endpoints "
			    "are called '%s'", v[i].name);
			goto fail;
		}
	}
	*out = v;
	*count = len;
	return 0;
fail:
	jit_notify_config_release(v, len);
	return r;
}
