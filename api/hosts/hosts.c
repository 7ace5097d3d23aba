/*
 * hosts.c - see hosts.h: the object, names, the known_hosts line, the
 * host list, revocation and the KRL's host part.
 */
#include "hosts_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "audit.h"
#include "err.h"
#include "util.h"

uint64_t
hosts__time(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	uint64_t t;

	if (s == NULL || jit_parse_time(s, &t) != 0)
		return 0;
	return t;
}

int
jit_hosts_new(const struct jit_hosts_options *o, struct jit_hosts **out)
{
	struct jit_hosts *h;
	int r;

	*out = NULL;
	if (o == NULL || o->store == NULL || o->ca == NULL || o->sign == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return JIT_ERR_ALLOC;
	h->store = o->store;
	h->ca = o->ca;
	h->sign = o->sign;
	h->sign_ctx = o->sign_ctx;
	h->validity = o->validity != 0 ? o->validity :
	    JIT_HOSTS_DEFAULT_VALIDITY;
	h->clock_skew = o->clock_skew;
	if ((r = jit_key_fingerprint(o->ca, &h->ca_fp)) != 0) {
		free(h);
		return r;
	}
	randombytes_buf(h->secret, sizeof(h->secret));
	pthread_mutex_init(&h->lock, NULL);
	*out = h;
	return 0;
}

void
jit_hosts_free(struct jit_hosts *h)
{
	if (h == NULL)
		return;
	jit_wipe(h->secret, sizeof(h->secret));
	pthread_mutex_destroy(&h->lock);
	free(h->used);
	free(h->ca_fp);
	free(h);
}

int
jit_hosts_principal_ok(const char *p)
{
	size_t n;

	if (p == NULL)
		return 0;
	n = strlen(p);
	return n > 0 && n <= JIT_HOSTS_PRINCIPAL_MAX && p[0] != '.' &&
	    p[0] != '-' && strspn(p, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_:") == n;
}

int
jit_hosts_id_ok(const char *id)
{
	size_t n;

	if (id == NULL || strncmp(id, "h-", 2) != 0)
		return 0;
	n = strlen(id + 2);
	return n > 0 && n <= 20 && id[2] != '0' &&
	    strspn(id + 2, "0123456789") == n;
}

int
jit_hosts_ca_line(const char *const *domains, size_t ndomains,
    const char *key_line, char **out)
{
	struct jit_buf b = JIT_BUF_INIT;
	size_t i;
	int r = JIT_ERR_INTERNAL;

	*out = NULL;
	if (key_line == NULL || *key_line == '\0' ||
	    strpbrk(key_line, "\r\n") != NULL ||
	    (domains == NULL && ndomains > 0))
		return JIT_ERR_INVALID_ARGUMENT;
	if ((r = jit_buf_put(&b, "@cert-authority ", 16)) != 0)
		goto out;
	if (ndomains == 0 && (r = jit_buf_put_u8(&b, '*')) != 0)
		goto out;
	for (i = 0; i < ndomains; i++) {
		if (domains[i] == NULL || *domains[i] == '\0') {
			r = JIT_ERR_INVALID_ARGUMENT;
			goto out;
		}
		if ((i > 0 && (r = jit_buf_put_u8(&b, ',')) != 0) ||
		    (r = jit_buf_put(&b, "*.", 2)) != 0 ||
		    (r = jit_buf_put(&b, domains[i], strlen(domains[i]))) != 0)
			goto out;
	}
	if ((r = jit_buf_put_u8(&b, ' ')) != 0 ||
	    (r = jit_buf_put(&b, key_line, strlen(key_line))) != 0 ||
	    (r = jit_buf_put_u8(&b, '\0')) != 0)
		goto out;
	if ((*out = jit_strdup((const char *)jit_buf_ptr(&b))) == NULL)
		r = JIT_ERR_ALLOC;
out:
	jit_buf_release(&b);
	return r;
}

/* ---- records ------------------------------------------------------- */

static int
host_key(const char *id, char key[HOSTS_VALUE_KEY_MAX])
{
	if (!jit_hosts_id_ok(id))
		return JIT_ERR_INVALID_ARGUMENT;
	snprintf(key, HOSTS_VALUE_KEY_MAX, "%s%s", HOSTS_KEY_PREFIX, id);
	return 0;
}

int
hosts__get_host(struct jit_store_txn *t, const char *id, json_t **out)
{
	char key[HOSTS_VALUE_KEY_MAX];
	const char *rid;
	int r;

	*out = NULL;
	if ((r = host_key(id, key)) != 0)
		return r;
	if ((r = jit_store_get_value(t, key, out)) != 0)
		return r;
	rid = json_string_value(json_object_get(*out, "id"));
	if (!json_is_object(*out) || rid == NULL || strcmp(rid, id) != 0) {
		json_decref(*out);
		*out = NULL;
		return JIT_ERR_STORE_CORRUPT;
	}
	return 0;
}

int
hosts__put_host(struct jit_store_txn *t, const json_t *host)
{
	char key[HOSTS_VALUE_KEY_MAX];
	int r;

	if ((r = host_key(json_string_value(json_object_get(host, "id")),
	    key)) != 0)
		return r;
	return jit_store_put_value(t, key, host);
}

int
hosts__principals(const json_t *arr, const char ***names, size_t *n)
{
	size_t i, cnt = json_array_size(arr);
	const char **v;

	*names = NULL;
	*n = 0;
	if (!json_is_array(arr) || cnt == 0 ||
	    cnt > JIT_HOSTS_MAX_PRINCIPALS)
		return JIT_ERR_STORE_CORRUPT;
	if ((v = calloc(cnt, sizeof(*v))) == NULL)
		return JIT_ERR_ALLOC;
	for (i = 0; i < cnt; i++) {
		v[i] = json_string_value(json_array_get(arr, i));
		if (!jit_hosts_principal_ok(v[i])) {
			free(v);
			return JIT_ERR_STORE_CORRUPT;
		}
	}
	*names = v;
	*n = cnt;
	return 0;
}

int
hosts__count(struct jit_store_txn *t, uint64_t *n)
{
	json_t *v = NULL;
	int r;

	*n = 0;
	r = jit_store_get_value(t, HOSTS_COUNT_KEY, &v);
	if (r == JIT_ERR_NOT_FOUND)
		return 0;
	if (r != 0)
		return r;
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		r = JIT_ERR_STORE_CORRUPT;
	else
		*n = (uint64_t)json_integer_value(v);
	json_decref(v);
	return r;
}

/* ---- listing ------------------------------------------------------- */

struct list_ctx {
	jit_hosts_list_fn cb;
	void *ctx;
};

static int
list_fn(struct jit_store_txn *t, void *vctx)
{
	struct list_ctx *l = vctx;
	char id[JIT_HOSTS_ID_MAX];
	json_t *host = NULL;
	uint64_t n, i;
	int r;

	if ((r = hosts__count(t, &n)) != 0)
		return r;
	for (i = 1; i <= n; i++) {
		snprintf(id, sizeof(id), "h-%llu", (unsigned long long)i);
		if ((r = hosts__get_host(t, id, &host)) != 0)
			return r == JIT_ERR_NOT_FOUND ? JIT_ERR_STORE_CORRUPT :
			    r;
		r = l->cb(host, l->ctx);
		json_decref(host);
		if (r != 0)
			return r > 0 ? 0 : r;
	}
	return 0;
}

int
jit_hosts_list(struct jit_store *s, jit_hosts_list_fn cb, void *ctx)
{
	struct list_ctx l;

	if (s == NULL || cb == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	l.cb = cb;
	l.ctx = ctx;
	return jit_store_read(s, list_fn, &l);
}

/* ---- revocation ---------------------------------------------------- */

struct revoke_ctx {
	const char *id;
	const char *actor;
	uint64_t now;
	size_t nserials;
};

/* Append id to the list of revoked hosts. */
static int
add_revoked(struct jit_store_txn *t, const char *id)
{
	json_t *list = NULL;
	int r;

	r = jit_store_get_value(t, HOSTS_REVOKED_KEY, &list);
	if (r == JIT_ERR_NOT_FOUND)
		r = (list = json_array()) == NULL ? JIT_ERR_ALLOC : 0;
	if (r != 0)
		return r;
	if (!json_is_array(list))
		r = JIT_ERR_STORE_CORRUPT;
	else if (json_array_append_new(list, json_string(id)) != 0)
		r = JIT_ERR_ALLOC;
	else
		r = jit_store_put_value(t, HOSTS_REVOKED_KEY, list);
	json_decref(list);
	return r;
}

static int
revoke_fn(struct jit_store_txn *t, void *vctx)
{
	struct revoke_ctx *c = vctx;
	json_t *host = NULL, *serials = NULL, *audit = NULL, *certs, *e;
	char when[JIT_TIME_LEN];
	size_t i;
	int r;

	if ((r = hosts__get_host(t, c->id, &host)) != 0)
		return r;
	r = JIT_ERR_CONFLICT;
	if (json_is_string(json_object_get(host, "revoked_at")))
		goto out;
	r = JIT_ERR_ALLOC;
	if ((serials = json_array()) == NULL)
		goto out;
	certs = json_object_get(host, "certs");
	json_array_foreach(certs, i, e) {
		if (json_array_append(serials, json_object_get(e,
		    "serial")) != 0)
			goto out;
	}
	jit_format_time(c->now, when);
	if (json_object_set_new(host, "revoked_at", json_string(when)) != 0 ||
	    json_object_set_new(host, "revoked_by", json_string(c->actor)) !=
	    0)
		goto out;
	audit = json_pack("{s:s, s:s, s:s, s:O, s:O}", "event", "host.revoke",
	    "actor", c->actor, "host", c->id, "principals",
	    json_object_get(host, "principals"), "serials", serials);
	if (audit == NULL)
		goto out;
	if ((r = hosts__put_host(t, host)) != 0 ||
	    (r = add_revoked(t, c->id)) != 0 ||
	    (r = jit_audit_append(t, audit, NULL, NULL)) != 0)
		goto out;
	c->nserials = json_array_size(serials);
out:
	json_decref(host);
	json_decref(serials);
	json_decref(audit);
	return r;
}

int
jit_hosts_revoke(struct jit_store *s, const char *id, const char *actor,
    uint64_t now, size_t *serials)
{
	struct revoke_ctx c;
	int r;

	if (serials != NULL)
		*serials = 0;
	if (s == NULL || actor == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	if (!jit_hosts_id_ok(id))
		return JIT_ERR_NOT_FOUND;
	memset(&c, 0, sizeof(c));
	c.id = id;
	c.actor = actor;
	c.now = now;
	if ((r = jit_store_write(s, revoke_fn, &c)) == 0 && serials != NULL)
		*serials = c.nserials;
	return r;
}

int
jit_hosts_revoked_certs(struct jit_store_txn *t, jit_hosts_revoked_fn cb,
    void *ctx)
{
	json_t *list = NULL, *host = NULL, *e, *c;
	uint64_t revoked_at, until;
	json_int_t serial;
	size_t i, j;
	int r;

	r = jit_store_get_value(t, HOSTS_REVOKED_KEY, &list);
	if (r == JIT_ERR_NOT_FOUND)
		return 0;
	if (r != 0)
		return r;
	r = JIT_ERR_STORE_CORRUPT;
	if (!json_is_array(list))
		goto out;
	json_array_foreach(list, i, e) {
		if ((r = hosts__get_host(t, json_string_value(e),
		    &host)) != 0) {
			if (r == JIT_ERR_NOT_FOUND ||
			    r == JIT_ERR_INVALID_ARGUMENT)
				r = JIT_ERR_STORE_CORRUPT;
			goto out;
		}
		r = JIT_ERR_STORE_CORRUPT;
		if ((revoked_at = hosts__time(host, "revoked_at")) == 0 ||
		    !json_is_array(json_object_get(host, "certs")))
			goto out;
		json_array_foreach(json_object_get(host, "certs"), j, c) {
			serial = json_integer_value(json_object_get(c,
			    "serial"));
			until = hosts__time(c, "valid_before");
			if (serial <= 0 || until == 0) {
				r = JIT_ERR_STORE_CORRUPT;
				goto out;
			}
			if ((r = cb((uint64_t)serial, until, revoked_at,
			    ctx)) != 0)
				goto out;
		}
		json_decref(host);
		host = NULL;
	}
	r = 0;
out:
	json_decref(host);
	json_decref(list);
	return r;
}
