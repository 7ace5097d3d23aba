/*
 * fetch.c - the server's requests to the identity provider through
 * libcurl (the only file of the server that includes curl/curl.h; see
 * oidc_int.h).  TLS verification is always on.
 */
#include "oidc_int.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>
#include <curl/curl.h>

#include "buf.h"
#include "err.h"
#include "util.h"

#define URL_MAX 2048
#define CONNECT_TIMEOUT_S 5L
#define DEFAULT_TIMEOUT_S 10L

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int curl_ready;

static void
curl_init_once(void)
{
	curl_ready = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

/* 1 if host (no brackets) is a loopback address or "localhost". */
static int
host_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;
	size_t n = strlen(host);
	char h[64];

	if (strcasecmp(host, "localhost") == 0)
		return 1;
	if (n >= sizeof(h))
		return 0;
	memcpy(h, host, n + 1);
	if (h[0] == '[' && n > 2 && h[n - 1] == ']') {
		memmove(h, h + 1, n - 2);
		h[n - 2] = '\0';
	}
	if (inet_pton(AF_INET, h, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, h, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return 0;
}

/* The parts of url that matter here: scheme, host, whether it has
 * credentials or a fragment.  0, or INVALID_ARGUMENT. */
struct url_parts {
	char scheme[8];
	char host[256];
	int has_user, has_fragment;
};

static int
url_parts(const char *url, struct url_parts *p)
{
	CURLU *u;
	char *v = NULL;
	int r = JIT_ERR_INVALID_ARGUMENT;

	memset(p, 0, sizeof(*p));
	if (url == NULL || strlen(url) > URL_MAX ||
	    (u = curl_url()) == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
		goto out;
	if (curl_url_get(u, CURLUPART_SCHEME, &v, 0) != CURLUE_OK ||
	    strlen(v) >= sizeof(p->scheme))
		goto out;
	memcpy(p->scheme, v, strlen(v) + 1);
	curl_free(v);
	v = NULL;
	if (curl_url_get(u, CURLUPART_HOST, &v, 0) != CURLUE_OK ||
	    strlen(v) >= sizeof(p->host))
		goto out;
	memcpy(p->host, v, strlen(v) + 1);
	curl_free(v);
	v = NULL;
	if (curl_url_get(u, CURLUPART_USER, &v, 0) == CURLUE_OK)
		p->has_user = 1;
	curl_free(v);
	v = NULL;
	if (curl_url_get(u, CURLUPART_FRAGMENT, &v, 0) == CURLUE_OK)
		p->has_fragment = 1;
	r = 0;
out:
	curl_free(v);
	curl_url_cleanup(u);
	return r;
}

int
jit_fetch_url_loopback(const char *url)
{
	struct url_parts p;

	return url_parts(url, &p) == 0 && strcmp(p.scheme, "http") == 0 &&
	    host_loopback(p.host);
}

int
jit_fetch_url_ok(const char *url, char *why, size_t whylen)
{
	struct url_parts p;

	jit_seterr(why, whylen, "%s", "");
	if (url_parts(url, &p) != 0) {
		jit_seterr(why, whylen, "not a URL");
		return JIT_ERR_INVALID_ARGUMENT;
	}
	if (p.has_user || p.has_fragment) {
		jit_seterr(why, whylen, "a URL with a user name, password or "
		    "fragment is not allowed");
		return JIT_ERR_INVALID_ARGUMENT;
	}
	if (strcmp(p.scheme, "https") == 0 ||
	    (strcmp(p.scheme, "http") == 0 && host_loopback(p.host)))
		return 0;
	jit_seterr(why, whylen, "must be https (http only on a loopback "
	    "address)");
	return JIT_ERR_INVALID_ARGUMENT;
}

struct sink {
	char *d;
	size_t len, cap;
	int overflow;
};

static size_t
on_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct sink *s = ud;
	size_t n, ncap;
	char *nd;

	if (nmemb != 0 && size > SIZE_MAX / nmemb)
		return 0;
	n = size * nmemb;
	if (n > JIT_OIDC_FETCH_MAX - s->len) {
		s->overflow = 1;
		return 0;
	}
	if (s->len + n + 1 > s->cap) {
		ncap = s->cap != 0 ? s->cap : 4096;
		while (ncap < s->len + n + 1)
			ncap *= 2;
		if ((nd = realloc(s->d, ncap)) == NULL)
			return 0;
		s->d = nd;
		s->cap = ncap;
	}
	memcpy(s->d + s->len, ptr, n);
	s->len += n;
	s->d[s->len] = '\0';
	return n;
}

int
jit_fetch_json(const struct jit_fetch *f, const char *url, const char *form,
    const char *user, const char *pass, long *status, json_t **json,
    char *why, size_t whylen)
{
	struct sink s = { NULL, 0, 0, 0 };
	struct curl_slist *hdrs = NULL;
	char errbuf[CURL_ERROR_SIZE];
	CURL *h = NULL;
	CURLcode cc;
	int r = JIT_ERR_INTERNAL;

	*status = 0;
	*json = NULL;
	jit_seterr(why, whylen, "%s", "");
	pthread_once(&curl_once, curl_init_once);
	if (!curl_ready || (h = curl_easy_init()) == NULL)
		return JIT_ERR_ALLOC;
	if (jit_fetch_url_ok(url, why, whylen) != 0) {
		r = JIT_ERR_HTTP;
		goto out;
	}
	errbuf[0] = '\0';
	if ((hdrs = curl_slist_append(NULL, "Accept: application/json")) ==
	    NULL) {
		r = JIT_ERR_ALLOC;
		goto out;
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, f != NULL && f->timeout_s > 0 ?
	    f->timeout_s : DEFAULT_TIMEOUT_S);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (f != NULL && f->ca_file != NULL)
		curl_easy_setopt(h, CURLOPT_CAINFO, f->ca_file);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "jit-ca");
	if (form != NULL) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, form);
		if (user != NULL) {
			curl_easy_setopt(h, CURLOPT_HTTPAUTH,
			    (long)CURLAUTH_BASIC);
			curl_easy_setopt(h, CURLOPT_USERNAME, user);
			curl_easy_setopt(h, CURLOPT_PASSWORD,
			    pass != NULL ? pass : "");
		}
	}
	if ((cc = curl_easy_perform(h)) != CURLE_OK) {
		jit_seterr(why, whylen, "%s", s.overflow ? "the answer is too "
		    "large" : *errbuf != '\0' ? errbuf : curl_easy_strerror(cc));
		r = JIT_ERR_HTTP;
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	if (s.d != NULL) {
		json_t *j = json_loadb(s.d, s.len, JSON_REJECT_DUPLICATES, NULL);

		if (json_is_object(j))
			*json = j;
		else
			json_decref(j);
	}
	if (*json == NULL && *status >= 200 && *status < 300) {
		jit_seterr(why, whylen, "the answer is not a JSON object");
		r = JIT_ERR_HTTP;
		goto out;
	}
	r = 0;
out:
	if (s.d != NULL)
		jit_wipe(s.d, s.len);
	free(s.d);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	return r;
}

int
jit_fetch_form_add(char **form, const char *name, const char *value)
{
	char *e, *n;
	size_t old = *form != NULL ? strlen(*form) : 0, add;

	if ((e = curl_easy_escape(NULL, value, 0)) == NULL)
		return JIT_ERR_ALLOC;
	add = strlen(name) + 1 + strlen(e) + (old != 0);
	if ((n = realloc(*form, old + add + 1)) == NULL) {
		curl_free(e);
		return JIT_ERR_ALLOC;
	}
	snprintf(n + old, add + 1, "%s%s=%s", old != 0 ? "&" : "", name, e);
	curl_free(e);
	*form = n;
	return 0;
}
