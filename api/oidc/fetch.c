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
	    jit_host_loopback(p.host);
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
	    (strcmp(p.scheme, "http") == 0 && jit_host_loopback(p.host)))
		return 0;
	jit_seterr(why, whylen, "must be https (http only on a loopback "
	    "address)");
	return JIT_ERR_INVALID_ARGUMENT;
}

/* Collect the answer in a bounded buffer (ca/buf.h). */
static size_t
fetch_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
	if (nmemb != 0 && size > SIZE_MAX / nmemb)
		return 0;
	return jit_buf_put(ud, ptr, size * nmemb) == 0 ? size * nmemb : 0;
}

int
jit_fetch_json(const struct jit_fetch *f, const char *url, const char *form,
    const char *user, const char *pass, long *status, json_t **json,
    char *why, size_t whylen)
{
	struct jit_buf b = JIT_BUF_INIT;
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
	(void)jit_buf_set_max(&b, JIT_OIDC_FETCH_MAX);
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
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, fetch_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
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
		jit_seterr(why, whylen, "%s", cc == CURLE_WRITE_ERROR ?
		    "the answer is too large" : *errbuf != '\0' ? errbuf :
		    curl_easy_strerror(cc));
		r = JIT_ERR_HTTP;
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	if (jit_buf_len(&b) > 0) {
		json_t *j = json_loadb((const char *)jit_buf_ptr(&b),
		    jit_buf_len(&b), JSON_REJECT_DUPLICATES, NULL);

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
	jit_buf_release(&b);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	return r;
}
