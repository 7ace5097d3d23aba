/*
 * res_hosts.c - host certificates over HTTP (hosts.h): GET /v1/ca/host
 * and POST /v1/hosts/enroll, /v1/hosts/challenge, /v1/hosts/renew.
 *
 * These endpoints take no bearer token: a host proves itself with its
 * enrollment token or with its certificate and host key.  So each client
 * address gets the per-user rate limit instead, which also bounds
 * guessing at tokens.
 */
#include "api_int.h"

#include <stdio.h>
#include <string.h>

#include "err.h"
#include "util.h"

#define MAX_MEMBER (64u * 1024)   /* bytes of one string member */

/* 0 if the server signs host certificates and the client address may
 * ask now; else the reply is set and -1 returned. */
static int
hosts_ready(struct call *c)
{
	char key[96];

	if (c->api->hosts == NULL) {
		reply_error(c, 404, "no_host_ca", "this server has no host CA "
		    "(jit-ca init --data DIR creates one)");
		return -1;
	}
	snprintf(key, sizeof(key), "host:%.60s", c->req->client_addr != NULL ?
	    c->req->client_addr : "-");
	if (!jit_ratelimit_take(c->api->limits, key, jit_monotonic_ms())) {
		reply_error(c, 429, NULL, "rate limit of %u requests per "
		    "second exceeded", c->api->rate_limit);
		c->resp->retry_after = 1;
		return -1;
	}
	return 0;
}

/* The required string member key of body, without NUL bytes; NULL after
 * a 400. */
static const char *
required(struct call *c, json_t *body, const char *key)
{
	json_t *v = json_object_get(body, key);

	if (v == NULL || json_is_null(v)) {
		reply_error(c, 400, "missing_field", "%s is required", key);
		return NULL;
	}
	if (!json_is_string(v) || json_string_length(v) > MAX_MEMBER ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		reply_error(c, 400, "bad_field", "%s must be a string of at "
		    "most %u bytes", key, MAX_MEMBER);
		return NULL;
	}
	return json_string_value(v);
}

/* Answer a host call's result or its refusal. */
static void
reply_host(struct call *c, int r, json_t *out, const struct jit_why *why)
{
	if (r == 0)
		reply_json(c, 200, out);
	else
		reply_refusal(c, r, why);
}

void
res_ca_host(struct call *c)
{
	if (c->api->hosts == NULL) {
		reply_error(c, 404, "no_host_ca", "this server has no host CA "
		    "(jit-ca init --data DIR creates one)");
		return;
	}
	reply_text(c, 200, c->api->host_ca_line);
}

void
res_hosts_enroll(struct call *c)
{
	static const char *const allowed[] = { "token", "public_key", NULL };
	struct jit_why why;
	const char *token, *key;
	json_t *body, *out = NULL;
	int r;

	if (hosts_ready(c) != 0 ||
	    (body = decode_body(c, allowed, 0)) == NULL)
		return;
	if ((token = required(c, body, "token")) != NULL &&
	    (key = required(c, body, "public_key")) != NULL) {
		r = jit_hosts_enroll(c->api->hosts, token, key,
		    c->req->client_addr, c->now, &out, &why);
		reply_host(c, r, out, &why);
	}
	json_decref(body);
}

void
res_hosts_challenge(struct call *c)
{
	static const char *const allowed[] = { NULL };
	char ch[JIT_HOSTS_CHALLENGE_LEN], until[JIT_TIME_LEN];
	uint64_t expires;
	json_t *body;
	int r;

	if (hosts_ready(c) != 0 || (body = decode_body(c, allowed, 1)) == NULL)
		return;
	json_decref(body);
	if ((r = jit_hosts_challenge(c->api->hosts, c->now, ch,
	    &expires)) != 0) {
		reply_failure(c, r, "could not make a challenge");
		return;
	}
	jit_format_time(expires, until);
	reply_json(c, 200, json_pack("{s:s, s:s, s:s}", "challenge", ch,
	    "namespace", JIT_HOSTS_SIG_NAMESPACE, "expires_at", until));
}

void
res_hosts_renew(struct call *c)
{
	static const char *const allowed[] = { "certificate", "challenge",
	    "signature", NULL };
	struct jit_why why;
	const char *cert, *ch, *sig;
	json_t *body, *out = NULL;
	int r;

	if (hosts_ready(c) != 0 ||
	    (body = decode_body(c, allowed, 0)) == NULL)
		return;
	if ((cert = required(c, body, "certificate")) != NULL &&
	    (ch = required(c, body, "challenge")) != NULL &&
	    (sig = required(c, body, "signature")) != NULL) {
		r = jit_hosts_renew(c->api->hosts, cert, ch, sig,
		    c->req->client_addr, c->now, &out, &why);
		reply_host(c, r, out, &why);
	}
	json_decref(body);
}
