/*
 * test-hosts.c - host certificates (api/hosts/hosts.h): names and the
 * known_hosts line, enrollment tokens (stored hashed, one use, expiry),
 * enrollment, renewal with a signed challenge and each of its refusals,
 * revocation and the KRL's host section, the audit entries, and the
 * HTTP endpoints through jit_api_handle.
 *
 * Runs with the tests/ directory as working directory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "audit.h"
#include "buf.h"
#include "cert.h"
#include "err.h"
#include "hosts.h"
#include "krl.h"
#include "revocation.h"
#include "sshsig.h"
#include "store.h"
#include "test-store-open.h"
#include "util.h"
#include "test.h"
#include "test-files.h"

#define NOW 1900000000ull
#define SKEW 60
#define VALIDITY 3600

static struct jit_key *host_ca, *user_ca;

static const char *const web1[] = { "web1.example.com", "10.0.0.5" };

struct fx {
	char *dir;
	struct jit_store *s;
	struct jit_hosts *h;
};

static void
fx_open(struct fx *f, const char *tag)
{
	struct jit_hosts_options o;

	memset(f, 0, sizeof(*f));
	f->dir = store_dir_new(tag);
	REQUIRE_OK(test_store_open(f->dir, 0, &f->s));
	memset(&o, 0, sizeof(o));
	o.store = f->s;
	o.ca = host_ca;
	o.sign = jit_key_signer;
	o.sign_ctx = host_ca;
	o.validity = VALIDITY;
	o.clock_skew = SKEW;
	REQUIRE_OK(jit_hosts_new(&o, &f->h));
}

static void
fx_close(struct fx *f)
{
	jit_hosts_free(f->h);
	jit_store_close(f->s);
	store_dir_remove(f->dir);
}

/* A token for web1's principals made at time at, valid ttl seconds. */
static char *
token(struct fx *f, uint64_t at, uint64_t ttl)
{
	char *tok = NULL, id[JIT_HOSTS_TOKEN_ID_LEN];

	REQUIRE_OK(jit_hosts_token_create(f->s, web1, 2, ttl, at, "cli:test",
	    &tok, id));
	CHECK(strncmp(id, "ht-", 3) == 0 && strlen(id) == 15);
	return tok;
}

static char *
pub_line(const struct jit_key *k)
{
	char *s = NULL;

	REQUIRE_OK(jit_key_format_public(k, "root@web1", &s));
	return s;
}

/* Enroll k with a fresh token at NOW; the certificate line in *line. */
static json_t *
enroll(struct fx *f, const struct jit_key *k)
{
	struct jit_why why;
	char *tok = token(f, NOW, 0), *pub = pub_line(k);
	json_t *out = NULL;

	REQUIRE_OK(jit_hosts_enroll(f->h, tok, pub, "192.0.2.7", NOW + 1,
	    &out, &why));
	free(tok);
	free(pub);
	return out;
}

static const char *
cert_of(const json_t *res)
{
	return json_string_value(json_object_get(res, "certificate"));
}

/* An armoured sshsig by k over text in namespace ns. */
static char *
sign_text(const struct jit_key *k, const char *ns, const char *text)
{
	char *sig = NULL;

	REQUIRE_OK(jit_sshsig_sign(jit_key_signer, (void *)k, k, ns, NULL,
	    (const unsigned char *)text, strlen(text), &sig));
	return sig;
}

/* Audit events in order, space-separated. */
struct events {
	char text[1024];
};

static int
event_cb(uint64_t seq, const char *json, size_t len, void *ctx)
{
	struct events *e = ctx;
	json_t *j = json_loadb(json, len, 0, NULL);
	const char *ev = json_string_value(json_object_get(j, "event"));
	size_t n = strlen(e->text);

	(void)seq;
	snprintf(e->text + n, sizeof(e->text) - n, "%s%s", n ? " " : "",
	    ev != NULL ? ev : "?");
	json_decref(j);
	return 0;
}

static int
events_fn(struct jit_store_txn *t, void *ctx)
{
	uint64_t count = 0;
	int r;

	if ((r = jit_store_audit_iter(t, 1, event_cb, ctx)) != 0)
		return r;
	return jit_audit_verify_store(t, &count, NULL, NULL);
}

static void
check_events(struct fx *f, const char *want)
{
	struct events e;

	e.text[0] = '\0';
	CHECK_OK(jit_store_read(f->s, events_fn, &e));
	CHECK_STR(e.text, want);
}

/* ---- names ------------------------------------------------------------ */

static void
test_names(void)
{
	static const char *const two[] = { "example.com", "corp.example" };
	char *line = NULL;

	CHECK(jit_hosts_principal_ok("web1.example.com"));
	CHECK(jit_hosts_principal_ok("10.0.0.5"));
	CHECK(jit_hosts_principal_ok("fe80::1"));
	CHECK(jit_hosts_principal_ok("db_2"));
	CHECK(!jit_hosts_principal_ok(""));
	CHECK(!jit_hosts_principal_ok("*.example.com"));
	CHECK(!jit_hosts_principal_ok("web1,web2"));
	CHECK(!jit_hosts_principal_ok("-web"));
	CHECK(!jit_hosts_principal_ok(".web"));
	CHECK(!jit_hosts_principal_ok("a b"));
	CHECK(!jit_hosts_principal_ok(NULL));
	CHECK(jit_hosts_id_ok("h-1"));
	CHECK(jit_hosts_id_ok("h-12345678901234567890"));
	CHECK(!jit_hosts_id_ok("h-0"));
	CHECK(!jit_hosts_id_ok("h-01"));
	CHECK(!jit_hosts_id_ok("h-"));
	CHECK(!jit_hosts_id_ok("h-123456789012345678901"));
	CHECK(!jit_hosts_id_ok("h-1x"));
	CHECK(!jit_hosts_id_ok("r-1"));

	CHECK_OK(jit_hosts_ca_line(two, 2, "ssh-ed25519 AAAA x", &line));
	CHECK_STR(line, "@cert-authority *.example.com,*.corp.example "
	    "ssh-ed25519 AAAA x");
	free(line);
	CHECK_OK(jit_hosts_ca_line(NULL, 0, "ssh-ed25519 AAAA", &line));
	CHECK_STR(line, "@cert-authority * ssh-ed25519 AAAA");
	free(line);
	CHECK_INT(jit_hosts_ca_line(two, 2, "ssh-ed25519 A\nB", &line),
	    JIT_ERR_INVALID_ARGUMENT);
	CHECK(line == NULL);
	CHECK_INT(jit_hosts_ca_line(NULL, 1, "k", &line),
	    JIT_ERR_INVALID_ARGUMENT);
}

/* ---- tokens and enrollment -------------------------------------------- */

static int
find_token_fn(struct jit_store_txn *t, void *ctx)
{
	const char *tok = ctx;
	unsigned char hash[JIT_TOKEN_HASH_LEN];
	char hex[2 * JIT_TOKEN_HASH_LEN + 1], key[128];
	json_t *v = NULL;
	char *s;
	int r;

	jit_store_token_hash(tok, hash);
	jit_hex(hash, sizeof(hash), hex);
	snprintf(key, sizeof(key), "host_token.%s", hex);
	if ((r = jit_store_get_value(t, key, &v)) != 0)
		return r;
	/* The record holds the hash's id, never the token. */
	s = json_dumps(v, 0);
	CHECK(s != NULL && strstr(s, tok + 5) == NULL);
	free(s);
	json_decref(v);
	return 0;
}

static void
test_tokens(void)
{
	static const char *const dup[] = { "a.example", "a.example" };
	static const char *const wild[] = { "*.example" };
	struct fx f;
	char *tok = NULL;

	fx_open(&f, "hosts-tok");
	tok = token(&f, NOW, 0);
	CHECK_INT(strlen(tok), JIT_HOSTS_TOKEN_LEN);
	CHECK(strncmp(tok, "jith_", 5) == 0);
	CHECK_OK(jit_store_read(f.s, find_token_fn, tok));
	free(tok);
	tok = NULL;
	CHECK_INT(jit_hosts_token_create(f.s, dup, 2, 0, NOW, "cli:test",
	    &tok, NULL), JIT_ERR_INVALID_ARGUMENT);
	CHECK_INT(jit_hosts_token_create(f.s, wild, 1, 0, NOW, "cli:test",
	    &tok, NULL), JIT_ERR_INVALID_ARGUMENT);
	CHECK_INT(jit_hosts_token_create(f.s, web1, 0, 0, NOW, "cli:test",
	    &tok, NULL), JIT_ERR_INVALID_ARGUMENT);
	CHECK_INT(jit_hosts_token_create(f.s, web1, 2,
	    JIT_HOSTS_TOKEN_MAX_TTL + 1, NOW, "cli:test", &tok, NULL),
	    JIT_ERR_INVALID_ARGUMENT);
	CHECK(tok == NULL);
	check_events(&f, "host.token.create");
	fx_close(&f);
}

static void
test_enroll(void)
{
	struct fx f;
	struct jit_why why;
	struct jit_key *hk = NULL, *other = NULL;
	struct jit_cert *c = NULL;
	struct jit_cert_expect e;
	char *tok, *pub, *late;
	json_t *out = NULL;

	fx_open(&f, "hosts-enroll");
	REQUIRE_OK(jit_key_generate(JIT_KEY_ED25519, 0, &hk));
	REQUIRE_OK(jit_key_generate(JIT_KEY_ECDSA_P256, 0, &other));
	tok = token(&f, NOW, 0);
	pub = pub_line(hk);

	/* Bad input first: nothing is used up. */
	CHECK_INT(jit_hosts_enroll(f.h, tok, "ssh-ed25519 AAAA", NULL, NOW,
	    &out, &why), JIT_ERR_INVALID_ARGUMENT);
	CHECK_STR(why.slug, "bad_public_key");
	CHECK_INT(jit_hosts_enroll(f.h, "jith_nope", pub, NULL, NOW, &out,
	    &why), JIT_ERR_FORBIDDEN);
	CHECK_STR(why.slug, "bad_token");
	late = token(&f, NOW - 7200, 3600);
	CHECK_INT(jit_hosts_enroll(f.h, late, pub, NULL, NOW, &out, &why),
	    JIT_ERR_FORBIDDEN);
	CHECK_STR(why.slug, "bad_token");
	free(late);

	REQUIRE_OK(jit_hosts_enroll(f.h, tok, pub, "192.0.2.7", NOW, &out,
	    &why));
	CHECK(why.slug == NULL);
	CHECK_STR(json_string_value(json_object_get(out, "host")), "h-1");
	CHECK_INT(json_integer_value(json_object_get(out, "serial")), 1);
	REQUIRE_OK(jit_cert_parse_line(cert_of(out), &c));
	memset(&e, 0, sizeof(e));
	e.type = JIT_CERT_TYPE_HOST;
	e.ca = host_ca;
	e.key = hk;
	e.now = NOW;
	e.principals = web1;
	e.nprincipals = 2;
	CHECK_OK(jit_cert_verify(c, &e));
	CHECK_U64(c->valid_after, NOW - SKEW);
	CHECK_U64(c->valid_before, NOW + VALIDITY);
	CHECK_STR(c->key_id, "web1.example.com");
	CHECK_INT(c->nextensions, 0);
	CHECK(strstr(cert_of(out), " h-1") != NULL);
	jit_cert_free(c);
	json_decref(out);
	out = NULL;

	/* The token works once, also for another key. */
	free(pub);
	pub = pub_line(other);
	CHECK_INT(jit_hosts_enroll(f.h, tok, pub, NULL, NOW + 1, &out, &why),
	    JIT_ERR_FORBIDDEN);
	CHECK_STR(why.slug, "bad_token");
	CHECK(out == NULL);
	check_events(&f, "host.token.create host.token.create host.enroll");
	free(tok);
	free(pub);
	jit_key_free(hk);
	jit_key_free(other);
	fx_close(&f);
}

/* ---- renewal ------------------------------------------------------------ */

struct proof {
	char challenge[JIT_HOSTS_CHALLENGE_LEN];
	char *sig;
};

static void
prove(struct fx *f, const struct jit_key *k, uint64_t at, struct proof *p)
{
	uint64_t exp = 0;

	REQUIRE_OK(jit_hosts_challenge(f->h, at, p->challenge, &exp));
	CHECK_U64(exp, at + JIT_HOSTS_CHALLENGE_TTL);
	CHECK_INT(strlen(p->challenge), JIT_HOSTS_CHALLENGE_LEN - 1);
	p->sig = sign_text(k, JIT_HOSTS_SIG_NAMESPACE, p->challenge);
}

/* Renewal with cert at time at must be refused with code and slug. */
static void
refused(struct fx *f, const char *cert, const struct proof *p, uint64_t at,
    int code, const char *slug)
{
	struct jit_why why;
	json_t *out = NULL;

	CHECK_INT(jit_hosts_renew(f->h, cert, p->challenge, p->sig, NULL, at,
	    &out, &why), code);
	CHECK_STR(why.slug, slug);
	CHECK(out == NULL);
}

static void
test_renew(void)
{
	struct fx f;
	struct jit_why why;
	struct jit_key *hk = NULL, *other = NULL;
	struct jit_cert *c = NULL;
	struct jit_cert_spec spec;
	struct jit_buf b = JIT_BUF_INIT;
	struct proof p, q;
	json_t *first, *out = NULL, *out2 = NULL, *second = NULL;
	char *line = NULL, *pub = NULL, *tok = NULL;
	const char *cert;

	fx_open(&f, "hosts-renew");
	REQUIRE_OK(jit_key_generate(JIT_KEY_ED25519, 0, &hk));
	REQUIRE_OK(jit_key_generate(JIT_KEY_ED25519, 0, &other));
	first = enroll(&f, hk);
	cert = cert_of(first);

	prove(&f, hk, NOW + 100, &p);
	REQUIRE_OK(jit_hosts_renew(f.h, cert, p.challenge, p.sig,
	    "192.0.2.7", NOW + 100, &out, &why));
	CHECK_STR(json_string_value(json_object_get(out, "host")), "h-1");
	CHECK_INT(json_integer_value(json_object_get(out, "serial")), 2);
	REQUIRE_OK(jit_cert_parse_line(cert_of(out), &c));
	CHECK_INT(c->type, JIT_CERT_TYPE_HOST);
	CHECK(jit_key_equal_public(c->key, hk));
	CHECK_U64(c->valid_before, NOW + 100 + VALIDITY);
	CHECK_INT(c->nprincipals, 2);
	jit_cert_free(c);
	c = NULL;
	/* The same challenge does not work twice. */
	refused(&f, cert, &p, NOW + 101, JIT_ERR_FORBIDDEN, "bad_challenge");
	/* The renewed certificate renews in turn. */
	prove(&f, hk, NOW + 102, &q);
	CHECK_OK(jit_hosts_renew(f.h, cert_of(out), q.challenge, q.sig, NULL,
	    NOW + 102, &out2, &why));
	CHECK_INT(json_integer_value(json_object_get(out2, "serial")), 3);
	free(q.sig);

	/* A challenge past its time, or changed, or made by another
	 * server. */
	prove(&f, hk, NOW + 200, &q);
	refused(&f, cert, &q, NOW + 200 + JIT_HOSTS_CHALLENGE_TTL,
	    JIT_ERR_FORBIDDEN, "bad_challenge");
	q.challenge[10] = q.challenge[10] == 'a' ? 'b' : 'a';
	refused(&f, cert, &q, NOW + 201, JIT_ERR_FORBIDDEN, "bad_challenge");
	free(q.sig);
	/* Signed by another key, or in another namespace. */
	prove(&f, other, NOW + 300, &q);
	refused(&f, cert, &q, NOW + 300, JIT_ERR_FORBIDDEN, "bad_signature");
	free(q.sig);
	prove(&f, hk, NOW + 301, &q);
	free(q.sig);
	q.sig = sign_text(hk, "file", q.challenge);
	refused(&f, cert, &q, NOW + 301, JIT_ERR_FORBIDDEN, "bad_signature");
	free(q.sig);

	/* Certificates that are not a current host certificate of ours. */
	prove(&f, hk, NOW + VALIDITY + 1, &q);
	refused(&f, cert, &q, NOW + VALIDITY + 1, JIT_ERR_FORBIDDEN,
	    "bad_certificate");           /* the first one has expired */
	free(q.sig);
	refused(&f, "ssh-ed25519-cert-v01@openssh.com AAAA", &p, NOW + 400,
	    JIT_ERR_INVALID_ARGUMENT, "bad_certificate");
	memset(&spec, 0, sizeof(spec));
	spec.type = JIT_CERT_TYPE_HOST;
	spec.key = hk;
	spec.serial = 999;
	spec.key_id = "web1.example.com";
	spec.principals = web1;
	spec.nprincipals = 2;
	spec.valid_after = NOW;
	spec.valid_before = NOW + 1000;
	REQUIRE_OK(jit_cert_sign(&spec, user_ca, jit_key_signer, user_ca, &b));
	REQUIRE_OK(jit_cert_format(jit_buf_ptr(&b), jit_buf_len(&b), NULL,
	    &line));
	prove(&f, hk, NOW + 500, &q);
	refused(&f, line, &q, NOW + 500, JIT_ERR_FORBIDDEN,
	    "bad_certificate");           /* another CA */
	free(line);
	jit_buf_reset(&b);
	REQUIRE_OK(jit_cert_sign(&spec, host_ca, jit_key_signer, host_ca,
	    &b));
	REQUIRE_OK(jit_cert_format(jit_buf_ptr(&b), jit_buf_len(&b), NULL,
	    &line));
	refused(&f, line, &q, NOW + 500, JIT_ERR_FORBIDDEN,
	    "bad_certificate");           /* ours, but never issued */
	free(line);
	jit_buf_reset(&b);
	spec.type = JIT_CERT_TYPE_USER;
	spec.serial = 1;
	REQUIRE_OK(jit_cert_sign(&spec, host_ca, jit_key_signer, host_ca,
	    &b));
	REQUIRE_OK(jit_cert_format(jit_buf_ptr(&b), jit_buf_len(&b), NULL,
	    &line));
	refused(&f, line, &q, NOW + 500, JIT_ERR_FORBIDDEN,
	    "bad_certificate");           /* a user certificate */
	free(line);
	free(q.sig);

	/* A second host enrolled with the same key is another host: its
	 * certificate renews it, not h-1. */
	tok = token(&f, NOW, 0);
	pub = pub_line(hk);
	REQUIRE_OK(jit_hosts_enroll(f.h, tok, pub, NULL, NOW + 600, &second,
	    &why));
	CHECK_STR(json_string_value(json_object_get(second, "host")), "h-2");
	check_events(&f, "host.token.create host.enroll host.renew "
	    "host.renew host.token.create host.enroll");

	free(p.sig);
	free(tok);
	free(pub);
	json_decref(first);
	json_decref(out);
	json_decref(out2);
	json_decref(second);
	jit_buf_release(&b);
	jit_key_free(hk);
	jit_key_free(other);
	fx_close(&f);
}

/* ---- revocation and the KRL ---------------------------------------------- */

struct listed {
	char ids[256];
};

static int
list_cb(json_t *host, void *ctx)
{
	struct listed *l = ctx;
	size_t n = strlen(l->ids);

	snprintf(l->ids + n, sizeof(l->ids) - n, "%s%s%s", n ? " " : "",
	    json_string_value(json_object_get(host, "id")),
	    json_is_string(json_object_get(host, "revoked_at")) ? "(r)" : "");
	return 0;
}

static void
test_revoke(void)
{
	struct fx f;
	struct jit_why why;
	struct jit_key *a = NULL, *b2 = NULL;
	struct jit_buf b = JIT_BUF_INIT;
	struct jit_revocation_info info;
	struct jit_krl *krl = NULL;
	struct listed l;
	struct proof p;
	json_t *ra, *rb, *out = NULL;
	size_t n = 0;

	fx_open(&f, "hosts-revoke");
	REQUIRE_OK(jit_key_generate(JIT_KEY_ED25519, 0, &a));
	REQUIRE_OK(jit_key_generate(JIT_KEY_ECDSA_P384, 0, &b2));
	ra = enroll(&f, a);                           /* h-1, serial 1 */
	rb = enroll(&f, b2);                          /* h-2, serial 2 */
	prove(&f, a, NOW + 10, &p);
	REQUIRE_OK(jit_hosts_renew(f.h, cert_of(ra), p.challenge, p.sig,
	    NULL, NOW + 10, &out, &why));             /* h-1, serial 3 */
	free(p.sig);

	/* Nothing revoked: the KRL has no host section. */
	REQUIRE_OK(jit_revocation_krl(f.s, user_ca, host_ca, NOW + 20, SKEW,
	    &b, &info));
	CHECK_U64(info.listed, 0);
	REQUIRE_OK(jit_krl_parse(jit_buf_ptr(&b), jit_buf_len(&b), &krl));
	CHECK_INT(krl->ncas, 0);
	jit_krl_free(krl);
	jit_buf_reset(&b);

	CHECK_INT(jit_hosts_revoke(f.s, "h-9", "cli:test", NOW + 30, &n),
	    JIT_ERR_NOT_FOUND);
	CHECK_INT(jit_hosts_revoke(f.s, "web1", "cli:test", NOW + 30, &n),
	    JIT_ERR_NOT_FOUND);
	CHECK_OK(jit_hosts_revoke(f.s, "h-1", "cli:test", NOW + 30, &n));
	CHECK_INT(n, 2);
	CHECK_INT(jit_hosts_revoke(f.s, "h-1", "cli:test", NOW + 31, &n),
	    JIT_ERR_CONFLICT);

	/* Both of h-1's certificates are in the host section, h-2's not. */
	REQUIRE_OK(jit_revocation_krl(f.s, user_ca, host_ca, NOW + 40, SKEW,
	    &b, &info));
	CHECK_U64(info.listed, 2);
	CHECK_U64(info.host_listed, 2);
	CHECK_U64(info.version, 2);
	CHECK_U64(info.generated, NOW + 30);
	REQUIRE_OK(jit_krl_parse(jit_buf_ptr(&b), jit_buf_len(&b), &krl));
	CHECK_INT(jit_krl_is_revoked_serial(krl, host_ca, 1), 1);
	CHECK_INT(jit_krl_is_revoked_serial(krl, host_ca, 3), 1);
	CHECK_INT(jit_krl_is_revoked_serial(krl, host_ca, 2), 0);
	CHECK_INT(jit_krl_is_revoked_serial(krl, user_ca, 1), 0);
	jit_krl_free(krl);
	jit_buf_reset(&b);
	/* Without a host CA the KRL leaves hosts out. */
	REQUIRE_OK(jit_revocation_krl(f.s, user_ca, NULL, NOW + 40, SKEW, &b,
	    &info));
	CHECK_U64(info.listed, 0);
	jit_buf_reset(&b);
	/* Once both have expired (and the grace passed) they drop out, and
	 * the version still grows. */
	REQUIRE_OK(jit_revocation_krl(f.s, user_ca, host_ca,
	    NOW + 10 + VALIDITY + SKEW, SKEW, &b, &info));
	CHECK_U64(info.listed, 0);
	CHECK_U64(info.left_out, 2);
	CHECK_U64(info.version, 4);
	CHECK_U64(info.generated, NOW + 10 + VALIDITY + SKEW);
	jit_buf_reset(&b);

	/* A revoked host cannot renew. */
	prove(&f, a, NOW + 50, &p);
	refused(&f, cert_of(out), &p, NOW + 50, JIT_ERR_FORBIDDEN,
	    "host_revoked");
	free(p.sig);

	memset(&l, 0, sizeof(l));
	CHECK_OK(jit_hosts_list(f.s, list_cb, &l));
	CHECK_STR(l.ids, "h-1(r) h-2");
	check_events(&f, "host.token.create host.enroll host.token.create "
	    "host.enroll host.renew host.revoke");

	json_decref(ra);
	json_decref(rb);
	json_decref(out);
	jit_buf_release(&b);
	jit_key_free(a);
	jit_key_free(b2);
	fx_close(&f);
}

/* ---- HTTP ------------------------------------------------------------ */

static struct jit_http_response
call(struct jit_api *api, const char *method, const char *path,
    const char *body)
{
	struct jit_http_request req;
	struct jit_http_response resp;

	memset(&req, 0, sizeof(req));
	memset(&resp, 0, sizeof(resp));
	req.method = method;
	req.path = path;
	req.client_addr = "192.0.2.9";
	req.body = (const unsigned char *)(body != NULL ? body : "");
	req.body_len = body != NULL ? strlen(body) : 0;
	jit_api_handle(api, &req, &resp);
	return resp;
}

static void
test_http(void)
{
	static const char *const domains[] = { "example.com" };
	struct jit_api_options ao;
	struct jit_policy_error pe;
	struct jit_policy *pol = NULL;
	struct jit_api *api = NULL;
	struct jit_http_response r;
	struct jit_key *hk = NULL;
	char *sdir = store_dir_new("hosts-http"), *tok = NULL, *pub = NULL;
	char *key = NULL, body[2048], want[1024];
	struct jit_store *s = NULL;
	json_t *j;

	REQUIRE_OK(test_store_open(sdir, 0, &s));
	REQUIRE_OK(jit_key_generate(JIT_KEY_ED25519, 0, &hk));
	REQUIRE_OK(jit_policy_load("../policies/examples", &pol, &pe));
	memset(&ao, 0, sizeof(ao));
	ao.store = s;
	ao.ca = user_ca;
	ao.host_ca = host_ca;
	ao.host_domains = domains;
	ao.nhost_domains = 1;
	ao.clock_skew = SKEW;
	ao.rate_limit = 100;
	REQUIRE_OK(jit_api_new(&ao, pol, &api));

	r = call(api, "GET", "/v1/ca/host", NULL);
	CHECK_INT(r.status, 200);
	REQUIRE_OK(jit_key_format_public(host_ca, "jit-ssh-host-ca", &key));
	snprintf(want, sizeof(want), "@cert-authority *.example.com %s\n",
	    key);
	CHECK_STR(r.body, want);
	jit_http_response_release(&r);
	r = call(api, "GET", "/v1/hosts/enroll", NULL);
	CHECK_INT(r.status, 405);
	jit_http_response_release(&r);

	REQUIRE_OK(jit_hosts_token_create(s, web1, 2, 0, jit_now(), "cli:t",
	    &tok, NULL));
	REQUIRE_OK(jit_key_format_public(hk, NULL, &pub));
	snprintf(body, sizeof(body), "{\"token\": \"%s\", \"public_key\": "
	    "\"%s\"}", tok, pub);
	r = call(api, "POST", "/v1/hosts/enroll", body);
	CHECK_INT(r.status, 200);
	j = json_loads(r.body != NULL ? r.body : "", 0, NULL);
	CHECK_STR(json_string_value(json_object_get(j, "host")), "h-1");
	CHECK(strncmp(cert_of(j) != NULL ? cert_of(j) : "",
	    "ssh-ed25519-cert-v01@openssh.com ", 33) == 0);
	json_decref(j);
	jit_http_response_release(&r);
	r = call(api, "POST", "/v1/hosts/enroll", body);
	CHECK_INT(r.status, 403);
	CHECK(r.body != NULL && strstr(r.body, "\"bad_token\"") != NULL);
	jit_http_response_release(&r);
	r = call(api, "POST", "/v1/hosts/enroll", "{\"token\": \"x\"}");
	CHECK_INT(r.status, 400);
	CHECK(r.body != NULL && strstr(r.body, "missing_field") != NULL);
	jit_http_response_release(&r);
	r = call(api, "POST", "/v1/hosts/enroll", "{\"tokn\": \"x\"}");
	CHECK_INT(r.status, 400);
	jit_http_response_release(&r);
	r = call(api, "POST", "/v1/hosts/challenge", NULL);
	CHECK_INT(r.status, 200);
	j = json_loads(r.body != NULL ? r.body : "", 0, NULL);
	CHECK_INT(strlen(json_string_value(json_object_get(j, "challenge")) ?
	    json_string_value(json_object_get(j, "challenge")) : ""),
	    JIT_HOSTS_CHALLENGE_LEN - 1);
	CHECK_STR(json_string_value(json_object_get(j, "namespace")),
	    "jit-ssh-host");
	json_decref(j);
	jit_http_response_release(&r);
	r = call(api, "POST", "/v1/hosts/renew", "{\"certificate\": \"x\", "
	    "\"challenge\": \"y\", \"signature\": \"z\"}");
	CHECK_INT(r.status, 400);
	CHECK(r.body != NULL && strstr(r.body, "bad_certificate") != NULL);
	jit_http_response_release(&r);
	jit_api_free(api);
	api = NULL;

	/* A server without a host CA says so. */
	REQUIRE_OK(jit_policy_load("../policies/examples", &pol, &pe));
	ao.host_ca = NULL;
	REQUIRE_OK(jit_api_new(&ao, pol, &api));
	r = call(api, "GET", "/v1/ca/host", NULL);
	CHECK_INT(r.status, 404);
	CHECK(r.body != NULL && strstr(r.body, "no_host_ca") != NULL);
	jit_http_response_release(&r);
	r = call(api, "POST", "/v1/hosts/enroll", body);
	CHECK_INT(r.status, 404);
	jit_http_response_release(&r);

	jit_api_free(api);
	jit_store_close(s);
	store_dir_remove(sdir);
	jit_key_free(hk);
	free(tok);
	free(pub);
	free(key);
}

static int
revoked_request_fn(struct jit_store_txn *t, void *vctx)
{
	return jit_store_create_request(t, vctx, 0, NULL);
}

/* A revoked request of the user CA: serial (0 = none, revoked before
 * issue), not_after and revoked_at. */
static void
revoked_request(struct fx *f, long long serial, uint64_t not_after,
    uint64_t revoked_at)
{
	char na[JIT_TIME_LEN], ra[JIT_TIME_LEN];
	json_t *req;

	jit_format_time(not_after, na);
	jit_format_time(revoked_at, ra);
	req = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "user", "alice",
	    "state", "revoked", "role", "ops", "public_key", "ssh-ed25519 AAAA",
	    "not_after", na, "revoked_at", ra);
	REQUIRE(req != NULL);
	if (serial > 0)
		json_object_set_new(req, "serial", json_integer(serial));
	REQUIRE_OK(jit_store_write(f->s, revoked_request_fn, req));
	json_decref(req);
}

/* One KRL with both sections: the user CA's read through by_state_end
 * (stopping at the first dead grant), the host CA's from every revoked
 * host; krl_version = 2 x revoked requests - user serials listed + host
 * serials listed + 2 x host serials expired. */
static void
test_krl_both(void)
{
	struct fx f;
	struct jit_key *a = NULL;
	struct jit_buf b = JIT_BUF_INIT;
	struct jit_revocation_info info;
	struct jit_krl *krl = NULL;
	size_t n = 0;
	json_t *ra;

	fx_open(&f, "hosts-krl-both");
	REQUIRE_OK(jit_key_generate(JIT_KEY_ED25519, 0, &a));
	ra = enroll(&f, a);                           /* h-1, serial 1 */
	CHECK_OK(jit_hosts_revoke(f.s, "h-1", "cli:test", NOW + 30, &n));
	revoked_request(&f, 100, NOW + 1000, NOW + 35);
	revoked_request(&f, 0, NOW + 500, NOW + 36);

	REQUIRE_OK(jit_revocation_krl(f.s, user_ca, host_ca, NOW + 40, SKEW,
	    &b, &info));
	CHECK_U64(info.listed, 2);
	CHECK_U64(info.host_listed, 1);
	CHECK_U64(info.revoked, 2);
	CHECK_U64(info.left_out, 1);
	CHECK_U64(info.version, 2 * 2 - 1 + 1);
	CHECK_U64(info.generated, NOW + 35);
	CHECK_U64(info.valid_until, NOW + 1000 + SKEW);
	REQUIRE_OK(jit_krl_parse(jit_buf_ptr(&b), jit_buf_len(&b), &krl));
	CHECK_INT(jit_krl_is_revoked_serial(krl, user_ca, 100), 1);
	CHECK_INT(jit_krl_is_revoked_serial(krl, host_ca, 1), 1);
	CHECK_INT(jit_krl_is_revoked_serial(krl, user_ca, 1), 0);
	CHECK_INT(jit_krl_is_revoked_serial(krl, host_ca, 100), 0);
	jit_krl_free(krl);
	jit_buf_reset(&b);

	/* The user certificate drops out first: the host's stays. */
	REQUIRE_OK(jit_revocation_krl(f.s, user_ca, host_ca,
	    NOW + 1000 + SKEW, SKEW, &b, &info));
	CHECK_U64(info.listed, 1);
	CHECK_U64(info.host_listed, 1);
	CHECK_U64(info.left_out, 2);
	CHECK_U64(info.version, 2 * 2 - 0 + 1);
	CHECK_U64(info.generated, NOW + 1000 + SKEW);
	CHECK(info.valid_until > NOW + 1000 + SKEW &&
	    info.valid_until != UINT64_MAX);
	jit_buf_reset(&b);

	/* Then the host's: nothing listed, the version grew each time. */
	REQUIRE_OK(jit_revocation_krl(f.s, user_ca, host_ca,
	    NOW + 1 + VALIDITY + SKEW, SKEW, &b, &info));
	CHECK_U64(info.listed, 0);
	CHECK_U64(info.left_out, 3);
	CHECK_U64(info.version, 2 * 2 - 0 + 0 + 2);
	CHECK_U64(info.valid_until, UINT64_MAX);
	jit_buf_reset(&b);

	jit_buf_release(&b);
	json_decref(ra);
	jit_key_free(a);
	fx_close(&f);
}

int
main(void)
{
	REQUIRE_OK(jit_key_generate(JIT_KEY_ED25519, 0, &host_ca));
	REQUIRE_OK(jit_key_generate(JIT_KEY_ED25519, 0, &user_ca));
	test_names();
	test_tokens();
	test_enroll();
	test_renew();
	test_revoke();
	test_krl_both();
	test_http();
	jit_key_free(host_ca);
	jit_key_free(user_ca);
	TEST_DONE();
}
