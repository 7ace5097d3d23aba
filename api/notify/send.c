/*
 * send.c - one delivery attempt (notify_int.h): HTTP POST and SMTP
 * through libcurl, the HMAC signature, the retry delay.
 */
#include "notify_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "err.h"
#include "util.h"

#define CONNECT_TIMEOUT_MS 10000L

uint64_t
notify_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t
notify_backoff_ms(uint64_t backoff, uint64_t attempts)
{
	uint64_t cap = backoff > NOTIFY_BACKOFF_CAP ? backoff :
	    NOTIFY_BACKOFF_CAP, d = backoff * 1000;
	uint32_t rnd = 0;

	for (uint64_t i = 1; i < attempts && d < cap * 1000; i++)
		d *= 2;
	if (d > cap * 1000)
		d = cap * 1000;
	/* Jitter spreads out the retries of many entries (or servers) that
	 * failed at the same moment. */
	if (RAND_bytes((unsigned char *)&rnd, sizeof(rnd)) != 1)
		rnd = (uint32_t)notify_now_ms();
	return d - (d / 2) * (rnd % 1001) / 1000;
}

int
notify_sign(const unsigned char *key, size_t keylen, uint64_t t,
    const char *body, size_t len, char out[NOTIFY_SIG_LEN])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	char ts[24], hex[2 * 32 + 1];
	OSSL_PARAM params[2];
	EVP_MAC_CTX *ctx = NULL;
	EVP_MAC *m = NULL;
	size_t maclen = 0;
	int n, r = JIT_ERR_CRYPTO;

	out[0] = '\0';
	n = snprintf(ts, sizeof(ts), "%llu.", (unsigned long long)t);
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if ((m = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL ||
	    (ctx = EVP_MAC_CTX_new(m)) == NULL ||
	    EVP_MAC_init(ctx, key, keylen, params) != 1 ||
	    EVP_MAC_update(ctx, (const unsigned char *)ts, (size_t)n) != 1 ||
	    EVP_MAC_update(ctx, (const unsigned char *)body, len) != 1 ||
	    EVP_MAC_final(ctx, mac, &maclen, sizeof(mac)) != 1 ||
	    maclen != 32)
		goto out;
	jit_hex(mac, maclen, hex);
	snprintf(out, NOTIFY_SIG_LEN, "t=%llu,v1=%s", (unsigned long long)t,
	    hex);
	r = 0;
out:
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(m);
	return r;
}

/* ---- libcurl ------------------------------------------------------------- */

static size_t
discard(char *p, size_t size, size_t nmemb, void *ctx)
{
	(void)p;
	(void)ctx;
	return size * nmemb;
}

/* Abandon the attempt as soon as the notifier stops. */
static int
abandon_on_stop(void *ctx, curl_off_t dt, curl_off_t dn, curl_off_t ut,
    curl_off_t un)
{
	struct jit_notify *n = ctx;

	(void)dt;
	(void)dn;
	(void)ut;
	(void)un;
	return atomic_load(&n->stop) ? 1 : 0;
}

/* The options every attempt shares. */
static void
common_options(CURL *h, struct jit_notify *n,
    const struct jit_notify_endpoint *ep, char *errbuf)
{
	long timeout = (long)ep->timeout * 1000L;

	curl_easy_setopt(h, CURLOPT_URL, ep->url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
	    timeout < CONNECT_TIMEOUT_MS ? timeout : CONNECT_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, abandon_on_stop);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, n);
}

/* res from libcurl's result cc (errbuf its detail). */
static int
curl_failed(struct jit_notify *n, const struct jit_notify_endpoint *ep,
    CURLcode cc, const char *errbuf, struct notify_result *res)
{
	if (cc == CURLE_OPERATION_TIMEDOUT)
		snprintf(res->error, sizeof(res->error), "no answer within "
		    "%llus", (unsigned long long)ep->timeout);
	else if (cc == CURLE_ABORTED_BY_CALLBACK && atomic_load(&n->stop))
		snprintf(res->error, sizeof(res->error), "server stopping");
	else
		snprintf(res->error, sizeof(res->error), "%s",
		    *errbuf ? errbuf : curl_easy_strerror(cc));
	return JIT_ERR_HTTP;
}

/* c: a handle to use (reset here), or NULL for one of its own. */
static CURL *
handle(CURL *c)
{
	if (c == NULL)
		return curl_easy_init();
	curl_easy_reset(c);
	return c;
}

static int
post(struct jit_notify *n, size_t i, CURL *keep, const char *id,
    const char *body, size_t len, struct notify_result *res)
{
	const struct jit_notify_endpoint *ep = &n->eps[i];
	char errbuf[CURL_ERROR_SIZE] = "", line[128], sig[NOTIFY_SIG_LEN];
	struct curl_slist *hdrs = NULL, *h;
	CURL *c = NULL;
	CURLcode cc;
	int r = JIT_ERR_ALLOC;

	if ((c = handle(keep)) == NULL)
		goto out;
	snprintf(line, sizeof(line), "X-Jit-Delivery: %s", id);
	if ((hdrs = curl_slist_append(NULL, "Content-Type: "
	    "application/json")) == NULL ||
	    (h = curl_slist_append(hdrs, line)) == NULL)
		goto out;
	/* No "Expect: 100-continue" round trip. */
	if ((h = curl_slist_append(hdrs, "Expect:")) == NULL)
		goto out;
	if (n->secrets[i] != NULL) {
		if ((r = notify_sign(n->secrets[i], n->secret_len[i],
		    jit_now(), body, len, sig)) != 0)
			goto out;
		snprintf(line, sizeof(line), "X-Jit-Signature: %s", sig);
		r = JIT_ERR_ALLOC;
		if ((h = curl_slist_append(hdrs, line)) == NULL)
			goto out;
	}
	common_options(c, n, ep, errbuf);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, ep->loopback ?
	    "http,https" : "https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "jit-ssh-notify");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	if ((cc = curl_easy_perform(c)) != CURLE_OK) {
		r = curl_failed(n, ep, cc, errbuf, res);
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &res->code);
	if (res->code >= 200 && res->code < 300) {
		r = 0;
		goto out;
	}
	/* A receiver that refuses this message will refuse it again;
	 * timeouts and throttling are worth another try. */
	res->permanent = res->code >= 400 && res->code < 500 &&
	    res->code != 408 && res->code != 429;
	snprintf(res->error, sizeof(res->error), "HTTP %ld", res->code);
	r = JIT_ERR_HTTP;
out:
	curl_slist_free_all(hdrs);
	if (c != keep)
		curl_easy_cleanup(c);
	return r;
}

struct upload {
	const char *p;
	size_t left;
};

static size_t
read_msg(char *buf, size_t size, size_t nmemb, void *ctx)
{
	struct upload *u = ctx;
	size_t n = size * nmemb;

	if (n > u->left)
		n = u->left;
	memcpy(buf, u->p, n);
	u->p += n;
	u->left -= n;
	return n;
}

static int
smtp(struct jit_notify *n, size_t i, CURL *keep, const json_t *to,
    const char *msg, size_t len, struct notify_result *res)
{
	const struct jit_notify_endpoint *ep = &n->eps[i];
	char errbuf[CURL_ERROR_SIZE] = "", addr[300];
	struct curl_slist *rcpt = NULL, *h;
	struct upload u = { msg, len };
	CURL *c = NULL;
	CURLcode cc;
	size_t k;
	int r = JIT_ERR_ALLOC;

	if ((c = handle(keep)) == NULL)
		goto out;
	for (k = 0; k < json_array_size(to); k++) {
		snprintf(addr, sizeof(addr), "<%s>",
		    json_string_value(json_array_get(to, k)));
		if ((h = curl_slist_append(rcpt, addr)) == NULL)
			goto out;
		rcpt = h;
	}
	if (rcpt == NULL) {
		snprintf(res->error, sizeof(res->error), "no recipients");
		res->permanent = 1;
		r = JIT_ERR_HTTP;
		goto out;
	}
	snprintf(addr, sizeof(addr), "<%s>", ep->from);
	common_options(c, n, ep, errbuf);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	/* smtp:// away from loopback must switch to TLS (STARTTLS). */
	curl_easy_setopt(c, CURLOPT_USE_SSL, ep->loopback ?
	    (long)CURLUSESSL_TRY : (long)CURLUSESSL_ALL);
	curl_easy_setopt(c, CURLOPT_MAIL_FROM, addr);
	curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
	/* One address the server refuses does not stop the others (this
	 * libcurl spells the option with three Ls). */
	curl_easy_setopt(c, CURLOPT_MAIL_RCPT_ALLLOWFAILS, 1L);
	curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, read_msg);
	curl_easy_setopt(c, CURLOPT_READDATA, &u);
	curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &res->code);
	if (cc == CURLE_OK) {
		r = 0;
		goto out;
	}
	r = curl_failed(n, ep, cc, errbuf, res);
	res->permanent = res->code >= 500 && res->code < 600;
out:
	curl_slist_free_all(rcpt);
	if (c != keep)
		curl_easy_cleanup(c);
	return r;
}

int
notify_send(struct jit_notify *n, size_t i, void *curl, const json_t *rec,
    struct notify_result *res)
{
	const char *id = json_string_value(json_object_get(rec, "id"));
	char *body = NULL;
	size_t len = 0;
	int r;

	memset(res, 0, sizeof(*res));
	if (id == NULL || strlen(id) > 64) {
		snprintf(res->error, sizeof(res->error), "entry has no id");
		res->permanent = 1;
		return JIT_ERR_HTTP;
	}
	if ((r = notify_render(&n->eps[i], rec, &body, &len)) != 0) {
		snprintf(res->error, sizeof(res->error), "cannot render: %s",
		    jit_err(r));
		res->permanent = r != JIT_ERR_ALLOC;
		return r == JIT_ERR_ALLOC ? r : JIT_ERR_HTTP;
	}
	if (n->eps[i].format == JIT_NOTIFY_EMAIL)
		r = smtp(n, i, curl, json_object_get(rec, "to"), body, len,
		    res);
	else
		r = post(n, i, curl, id, body, len, res);
	free(body);
	return r;
}
