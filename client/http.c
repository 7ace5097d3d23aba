/*
 * http.c - the client's HTTP through libcurl (the only file including
 * curl/curl.h).  TLS peer and host verification are always on; the only
 * knob is an extra CA bundle (tls_ca).  One easy handle is kept for the
 * life of the process so consecutive calls reuse the connection, which is
 * what keeps approval-to-install latency low.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "buf.h"
#include "client.h"
#include "err.h"
#include "util.h"

#define RESPONSE_MAX (4u * 1024 * 1024)
#define CONNECT_TIMEOUT_S 10L

volatile sig_atomic_t client_interrupted;

static CURL *handle;

static void
on_sigint(int sig)
{
	(void)sig;
	client_interrupted = 1;
}

void
client_install_sigint(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigint;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: a blocking poll() in curl returns EINTR and the
	 * transfer loop calls our progress callback soon after. */
	sigaction(SIGINT, &sa, NULL);
}

int
client_http_global_init(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return JIT_ERR_HTTP;
	return 0;
}

void
client_http_global_cleanup(void)
{
	if (handle != NULL)
		curl_easy_cleanup(handle);
	handle = NULL;
	curl_global_cleanup();
}

void
client_http_result_release(struct client_http_result *res)
{
	if (res == NULL)
		return;
	free(res->body);
	free(res->content_type);
	json_decref(res->json);
	memset(res, 0, sizeof(*res));
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
	if (n > RESPONSE_MAX - s->len) {
		s->overflow = 1;
		return 0;
	}
	if (s->len + n + 1 > s->cap) {
		ncap = s->cap ? s->cap : 4096;
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

struct progress {
	client_http_tick_fn tick;
	void *ctx;
	uint64_t last;
};

static int
on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow,
    curl_off_t ultotal, curl_off_t ulnow)
{
	struct progress *p = ud;
	uint64_t now;

	(void)dltotal; (void)dlnow; (void)ultotal; (void)ulnow;
	if (client_interrupted)
		return 1;   /* CURLE_ABORTED_BY_CALLBACK */
	if (p->tick != NULL) {
		now = jit_monotonic_ms();
		if (now - p->last >= 1000) {
			p->last = now;
			p->tick(p->ctx);
		}
	}
	return 0;
}

static int
url_ok(const char *url)
{
	return strncmp(url, "https://", 8) == 0 ||
	    strncmp(url, "http://", 7) == 0 ||
	    strncmp(url, "unix:/", 6) == 0;
}

static void
describe_curl(CURLcode cc, const char *url, const char *errbuf, char *msg,
    size_t msglen)
{
	const char *detail = errbuf[0] ? errbuf : curl_easy_strerror(cc);

	switch (cc) {
	case CURLE_COULDNT_CONNECT:
		snprintf(msg, msglen, "cannot connect to the server at %s "
		    "(is it running?): %s", url, detail);
		break;
	case CURLE_COULDNT_RESOLVE_HOST:
		snprintf(msg, msglen, "cannot resolve the server's host in "
		    "%s: %s", url, detail);
		break;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		snprintf(msg, msglen, "bad server URL '%s': %s", url, detail);
		break;
	case CURLE_OPERATION_TIMEDOUT:
		snprintf(msg, msglen, "the server at %s did not answer in "
		    "time: %s", url, detail);
		break;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CACERT_BADFILE:
		snprintf(msg, msglen, "TLS with %s failed (verification is "
		    "always on; set tls_ca for a private CA): %s", url,
		    detail);
		break;
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
		snprintf(msg, msglen, "the connection to %s failed: %s", url,
		    detail);
		break;
	case CURLE_WRITE_ERROR:
		snprintf(msg, msglen, "the response from %s is too large",
		    url);
		break;
	default:
		snprintf(msg, msglen, "request to %s failed: %s", url, detail);
		break;
	}
}

/* What every transfer sets: url, http(s) only, no redirects, TLS
 * verification on, the time limits, and where the answer and the
 * progress go. */
static void
transfer_opts(CURL *h, const char *url, long timeout_s, char *errbuf,
    struct sink *sink, struct progress *prog)
{
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout_s);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "jit-ssh/0.1");
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, sink);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, prog);
}

int
client_http_call(const struct client_config *c, const char *method,
    const char *path, json_t *body, long timeout_s, client_http_tick_fn tick,
    void *tick_ctx, struct client_http_result *res, char *msg, size_t msglen)
{
	char errbuf[CURL_ERROR_SIZE];
	struct curl_slist *hdrs = NULL, *h;
	struct sink sink = { NULL, 0, 0, 0 };
	struct progress prog = { tick, tick_ctx, 0 };
	char *url = NULL, *auth = NULL, *payload = NULL, *ct = NULL;
	const char *base;
	size_t n;
	CURLcode cc;
	int r = JIT_ERR_HTTP;

	memset(res, 0, sizeof(*res));
	msg[0] = '\0';
	errbuf[0] = '\0';
	if (c->url == NULL || *c->url == '\0') {
		snprintf(msg, msglen, "no server URL: run 'jit-ssh setup URL' "
		    "or set JIT_SSH_URL");
		return JIT_ERR_HTTP;
	}
	if (!url_ok(c->url)) {
		snprintf(msg, msglen, "bad server URL '%s' (expected "
		    "https://HOST[:PORT], http://... or unix:/PATH)", c->url);
		return JIT_ERR_HTTP;
	}
	if (handle == NULL && (handle = curl_easy_init()) == NULL) {
		snprintf(msg, msglen, "cannot initialise libcurl");
		return JIT_ERR_HTTP;
	}
	curl_easy_reset(handle);

	base = c->url;
	if (strncmp(base, "unix:", 5) == 0) {
		curl_easy_setopt(handle, CURLOPT_UNIX_SOCKET_PATH, base + 5);
		base = "http://localhost";
	}
	n = strlen(base);
	while (n > 0 && base[n - 1] == '/')
		n--;
	if (asprintf(&url, "%.*s%s", (int)n, base, path) < 0) {
		url = NULL;
		r = JIT_ERR_ALLOC;
		goto out;
	}

	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	if (c->token != NULL) {
		if (asprintf(&auth, "Authorization: Bearer %s",
		    c->token) < 0) {
			auth = NULL;
			r = JIT_ERR_ALLOC;
			goto out;
		}
		if ((h = curl_slist_append(hdrs, auth)) == NULL)
			goto out;
		hdrs = h;
	}
	if (body != NULL) {
		if ((payload = json_dumps(body, JSON_COMPACT)) == NULL) {
			r = JIT_ERR_ALLOC;
			goto out;
		}
		if ((h = curl_slist_append(hdrs,
		    "Content-Type: application/json")) == NULL)
			goto out;
		hdrs = h;
		curl_easy_setopt(handle, CURLOPT_POSTFIELDS, payload);
	} else if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(handle, CURLOPT_POSTFIELDS, "");
	}
	/* Disable "Expect: 100-continue" round trips. */
	if ((h = curl_slist_append(hdrs, "Expect:")) != NULL)
		hdrs = h;
	transfer_opts(handle, url, timeout_s, errbuf, &sink, &prog);
	curl_easy_setopt(handle, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(handle, CURLOPT_HTTPHEADER, hdrs);
	if (c->tls_ca != NULL)
		curl_easy_setopt(handle, CURLOPT_CAINFO, c->tls_ca);
	curl_easy_setopt(handle, CURLOPT_TCP_NODELAY, 1L);

	prog.last = jit_monotonic_ms();
	cc = curl_easy_perform(handle);
	if (cc == CURLE_ABORTED_BY_CALLBACK && client_interrupted) {
		snprintf(msg, msglen, "interrupted");
		r = JIT_ERR_SYSTEM;
		goto out;
	}
	if (cc != CURLE_OK) {
		if (sink.overflow)
			cc = CURLE_WRITE_ERROR;
		describe_curl(cc, c->url, errbuf, msg, msglen);
		r = JIT_ERR_HTTP;
		goto out;
	}
	curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &res->status);
	if (curl_easy_getinfo(handle, CURLINFO_CONTENT_TYPE, &ct) ==
	    CURLE_OK && ct != NULL)
		res->content_type = strdup(ct);
	if (sink.d == NULL && (sink.d = calloc(1, 1)) == NULL) {
		r = JIT_ERR_ALLOC;
		goto out;
	}
	res->body = sink.d;
	res->len = sink.len;
	sink.d = NULL;
	if (res->content_type != NULL &&
	    strncmp(res->content_type, "application/json", 16) == 0)
		res->json = json_loadb(res->body, res->len,
		    JSON_REJECT_DUPLICATES, NULL);
	r = 0;
 out:
	/* Don't leave the token in the handle or in freed memory. */
	curl_easy_setopt(handle, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(handle, CURLOPT_POSTFIELDS, NULL);
	curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(handle, CURLOPT_WRITEDATA, NULL);
	curl_easy_setopt(handle, CURLOPT_XFERINFODATA, NULL);
	/* curl_slist_append keeps its own copy of the Authorization line. */
	for (h = hdrs; h != NULL; h = h->next)
		jit_wipe(h->data, strlen(h->data));
	curl_slist_free_all(hdrs);
	if (auth != NULL) {
		jit_wipe(auth, strlen(auth));
		free(auth);
	}
	if (payload != NULL) {
		jit_wipe(payload, strlen(payload));
		free(payload);
	}
	free(sink.d);
	free(url);
	if (r != 0 && msg[0] == '\0')
		snprintf(msg, msglen, "%s", jit_err(r));
	return r;
}

int
client_http_idp_url_ok(const char *url)
{
	CURLU *u;
	char *scheme = NULL, *host = NULL, *user = NULL;
	int ok = 0;

	if (url == NULL || strlen(url) > 2048 || (u = curl_url()) == NULL)
		return 0;
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_USER, &user, 0) != CURLUE_OK) {
		ok = strcmp(scheme, "https") == 0 ||
		    (strcmp(scheme, "http") == 0 && jit_host_loopback(host));
	}
	curl_free(scheme);
	curl_free(host);
	curl_free(user);
	curl_url_cleanup(u);
	return ok;
}

int
client_http_idp(const char *url, const char *form, long timeout_s,
    struct client_http_result *res, char *msg, size_t msglen)
{
	char errbuf[CURL_ERROR_SIZE];
	struct sink sink = { NULL, 0, 0, 0 };
	struct progress prog = { NULL, NULL, 0 };
	struct curl_slist *hdrs = NULL;
	CURL *h;
	CURLcode cc;
	int r = JIT_ERR_HTTP;

	memset(res, 0, sizeof(*res));
	msg[0] = '\0';
	errbuf[0] = '\0';
	if (!client_http_idp_url_ok(url)) {
		snprintf(msg, msglen, "the identity provider's URL '%.200s' is "
		    "not https (http only on a loopback address)", url);
		return JIT_ERR_HTTP;
	}
	if ((h = curl_easy_init()) == NULL ||
	    (hdrs = curl_slist_append(NULL, "Accept: application/json")) ==
	    NULL) {
		snprintf(msg, msglen, "cannot initialise libcurl");
		curl_easy_cleanup(h);
		return JIT_ERR_HTTP;
	}
	transfer_opts(h, url, timeout_s, errbuf, &sink, &prog);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	if (form != NULL)
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, form);
	cc = curl_easy_perform(h);
	if (cc == CURLE_ABORTED_BY_CALLBACK && client_interrupted) {
		snprintf(msg, msglen, "interrupted");
		r = JIT_ERR_SYSTEM;
	} else if (cc != CURLE_OK) {
		describe_curl(sink.overflow ? CURLE_WRITE_ERROR : cc, url,
		    errbuf, msg, msglen);
	} else if (sink.d == NULL && (sink.d = calloc(1, 1)) == NULL) {
		r = JIT_ERR_ALLOC;
	} else {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &res->status);
		res->body = sink.d;
		res->len = sink.len;
		sink.d = NULL;
		res->json = json_loadb(res->body, res->len,
		    JSON_REJECT_DUPLICATES, NULL);
		r = 0;
	}
	if (sink.d != NULL)
		jit_wipe(sink.d, sink.len);
	free(sink.d);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	return r;
}

void
client_http_describe_error(const struct client_http_result *res, char *msg,
    size_t msglen)
{
	const char *err = NULL, *detail = NULL, *what;

	if (res->json != NULL && json_is_object(res->json)) {
		err = client_json_str(res->json, "error");
		detail = client_json_str(res->json, "detail");
	}
	switch (res->status) {
	case 400: what = "the server rejected the request"; break;
	case 401: what = "the server refused the token (check the token "
	    "in the config, JIT_SSH_TOKEN, --token-file or --token)"; break;
	case 403: what = "not allowed by policy"; break;
	case 404: what = "not found"; break;
	case 409: what = "not possible in the request's current state";
	    break;
	case 413: what = "request too large"; break;
	case 429: what = "too many requests; try again later"; break;
	default:
		what = res->status >= 500 ? "server error" :
		    "unexpected response";
		break;
	}
	if (detail != NULL && *detail)
		snprintf(msg, msglen, "%s (HTTP %ld): %s", what, res->status,
		    detail);
	else if (err != NULL && *err)
		snprintf(msg, msglen, "%s (HTTP %ld): %s", what, res->status,
		    err);
	else
		snprintf(msg, msglen, "%s (HTTP %ld)", what, res->status);
}

int
client_api_call(const struct client_config *c, const char *method,
    const char *path, json_t *body, int want_text,
    struct client_http_result *res)
{
	char msg[512];
	int r;

	r = client_http_call(c, method, path, body, 30, NULL, NULL, res, msg,
	    sizeof(msg));
	if (r == JIT_ERR_SYSTEM && client_interrupted) {
		client_fail("interrupted");
		return JIT_EXIT_INTERRUPTED;
	}
	if (r != 0) {
		client_fail("%s", msg);
		return JIT_EXIT_ERROR;
	}
	if (res->status < 200 || res->status > 299) {
		client_http_describe_error(res, msg, sizeof(msg));
		client_fail("%s", msg);
		client_http_result_release(res);
		return JIT_EXIT_ERROR;
	}
	if (!want_text && res->json == NULL) {
		client_fail("the server at %s sent a response that is not JSON "
		    "(is the URL right?)", c->url);
		client_http_result_release(res);
		return JIT_EXIT_ERROR;
	}
	return 0;
}
