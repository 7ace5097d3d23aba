/*
 * issue.c - see hosts.h: enrollment and renewal, the two ways a host
 * gets a certificate.
 *
 * As for user certificates (api/lifecycle/issue.c), the certificate is
 * signed between a read and the write with a reserved serial, so the
 * store's writer thread spends no time on signatures.  The write checks
 * everything the read saw again (the token still unused, the host still
 * not revoked and still holding that key), claims the serial and stores
 * the certificate record, the host, the token and the audit entry
 * together.  A serial taken meanwhile by another process means reading
 * and signing again (at most ISSUE_TRIES times).
 */
#include "hosts_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "buf.h"
#include "cert.h"
#include "err.h"
#include "sshsig.h"
#include "util.h"

#define ISSUE_TRIES 3

struct issue {
	struct jit_hosts *h;
	uint64_t now;
	const char *client_addr;
	struct jit_why *why;
	int renew;
	/* the subject */
	const struct jit_key *key;       /* borrowed */
	char *pub_line;                   /* "TYPE BASE64" */
	char *fp;
	/* enroll: the token */
	char token_key[HOSTS_VALUE_KEY_MAX];
	/* renew: the certificate shown */
	uint64_t old_serial;
	/* read */
	char host_id[JIT_HOSTS_ID_MAX];   /* renew: the host */
	json_t *principals;
	uint64_t serial;                  /* reserved */
	/* signed */
	struct jit_buf blob;
	uint64_t valid_after, valid_before;
	/* written */
	json_t *result;
	int retry;
};

static void
issue_reset(struct issue *is)
{
	json_decref(is->principals);
	is->principals = NULL;
	jit_buf_release(&is->blob);
	is->serial = 0;
	is->retry = 0;
}

/* Is tok an unused, unexpired enrollment token?  0 (and its principals
 * in is), FORBIDDEN bad_token, STORE_CORRUPT. */
static int
check_token(struct issue *is, const json_t *tok)
{
	json_t *used = json_object_get(tok, "used_at");
	uint64_t exp = hosts__time(tok, "expires_at");
	const char **names = NULL;
	size_t n;
	int r;

	if (!json_is_object(tok) || exp == 0)
		return JIT_ERR_STORE_CORRUPT;
	if ((used != NULL && !json_is_null(used)) || is->now >= exp)
		return jit_refuse(is->why, JIT_ERR_FORBIDDEN, "bad_token",
		    "the enrollment token is unknown, used or expired");
	if ((r = hosts__principals(json_object_get(tok, "principals"),
	    &names, &n)) != 0)
		return r;
	free(names);
	json_decref(is->principals);
	is->principals = json_incref(json_object_get(tok, "principals"));
	return 0;
}

/* The token record (new reference), refusing an unknown one. */
static int
get_token(struct issue *is, struct jit_store_txn *t, json_t **tok)
{
	int r = jit_store_get_value(t, is->token_key, tok);

	if (r == JIT_ERR_NOT_FOUND)
		return jit_refuse(is->why, JIT_ERR_FORBIDDEN, "bad_token",
		    "the enrollment token is unknown, used or expired");
	return r;
}

/* Is host still allowed to renew with is->key?  0 (and its principals in
 * is), FORBIDDEN host_revoked or bad_certificate. */
static int
check_host(struct issue *is, const json_t *host)
{
	const char *pk = json_string_value(json_object_get(host,
	    "public_key"));
	const char **names = NULL;
	size_t n;
	int r;

	if (json_is_string(json_object_get(host, "revoked_at")))
		return jit_refuse(is->why, JIT_ERR_FORBIDDEN,
		    "host_revoked", "host %s is revoked: enroll it again with "
		    "a new token", is->host_id);
	if (pk == NULL)
		return JIT_ERR_STORE_CORRUPT;
	if (strcmp(pk, is->pub_line) != 0)
		return jit_refuse(is->why, JIT_ERR_FORBIDDEN,
		    "bad_certificate", "the certificate's key is not the key "
		    "host %s enrolled with", is->host_id);
	if ((r = hosts__principals(json_object_get(host, "principals"),
	    &names, &n)) != 0)
		return r;
	free(names);
	json_decref(is->principals);
	is->principals = json_incref(json_object_get(host, "principals"));
	return 0;
}

static int
enroll_read_fn(struct jit_store_txn *t, void *vctx)
{
	struct issue *is = vctx;
	json_t *tok = NULL;
	int r;

	if ((r = get_token(is, t, &tok)) != 0)
		return r;
	r = check_token(is, tok);
	json_decref(tok);
	if (r != 0)
		return r;
	return jit_store_reserve_serial(t, &is->serial);
}

static int
renew_read_fn(struct jit_store_txn *t, void *vctx)
{
	struct issue *is = vctx;
	json_t *rec = NULL, *host = NULL;
	const char *kind, *id;
	int r;

	r = jit_store_get_cert(t, is->old_serial, &rec);
	if (r == JIT_ERR_NOT_FOUND)
		return jit_refuse(is->why, JIT_ERR_FORBIDDEN,
		    "bad_certificate", "serial %llu is not a certificate this "
		    "server issued", (unsigned long long)is->old_serial);
	if (r != 0)
		return r;
	kind = json_string_value(json_object_get(rec, "kind"));
	id = json_string_value(json_object_get(rec, "host"));
	if (kind == NULL || strcmp(kind, "host") != 0 ||
	    !jit_hosts_id_ok(id)) {
		r = jit_refuse(is->why, JIT_ERR_FORBIDDEN,
		    "bad_certificate", "serial %llu is not a host "
		    "certificate", (unsigned long long)is->old_serial);
		goto out;
	}
	snprintf(is->host_id, sizeof(is->host_id), "%s", id);
	if ((r = hosts__get_host(t, is->host_id, &host)) != 0) {
		if (r == JIT_ERR_NOT_FOUND)
			r = JIT_ERR_STORE_CORRUPT;
		goto out;
	}
	if ((r = check_host(is, host)) != 0)
		goto out;
	r = jit_store_reserve_serial(t, &is->serial);
out:
	json_decref(rec);
	json_decref(host);
	return r;
}

/* Sign the certificate (before the write): is->blob and its window. */
static int
sign_cert(struct issue *is)
{
	struct jit_hosts *h = is->h;
	struct jit_cert_spec spec;
	const char **names = NULL;
	size_t n;
	int r;

	if ((r = hosts__principals(is->principals, &names, &n)) != 0)
		return r;
	is->valid_after = is->now > h->clock_skew ? is->now - h->clock_skew :
	    0;
	is->valid_before = is->now + h->validity;
	memset(&spec, 0, sizeof(spec));
	spec.type = JIT_CERT_TYPE_HOST;
	spec.key = is->key;
	spec.serial = is->serial;
	spec.key_id = names[0];
	spec.principals = names;
	spec.nprincipals = n;
	spec.valid_after = is->valid_after;
	spec.valid_before = is->valid_before;
	r = jit_cert_sign(&spec, h->ca, h->sign, h->sign_ctx, &is->blob);
	free(names);
	return r;
}

/* Claim the serial and store the certificate record of host id; *line
 * receives the certificate line. */
static int
store_cert(struct issue *is, struct jit_store_txn *t, const char *id,
    char **line)
{
	char va[JIT_TIME_LEN], vb[JIT_TIME_LEN], at[JIT_TIME_LEN];
	json_t *rec = NULL;
	int r;

	*line = NULL;
	if ((r = jit_store_claim_serial(t, is->serial)) != 0) {
		/* Another process stored this serial meanwhile. */
		is->retry = r == JIT_ERR_CONFLICT;
		return r;
	}
	if ((r = jit_cert_format(jit_buf_ptr(&is->blob),
	    jit_buf_len(&is->blob), id, line)) != 0)
		return r;
	jit_format_time(is->valid_after, va);
	jit_format_time(is->valid_before, vb);
	jit_format_time(is->now, at);
	rec = json_pack("{s:s, s:s, s:I, s:s, s:s, s:O, s:s, s:s, s:s, s:s, "
	    "s:s}", "kind", "host", "host", id, "serial",
	    (json_int_t)is->serial, "cert", *line, "key_id",
	    json_string_value(json_array_get(is->principals, 0)),
	    "principals", is->principals, "key_fingerprint", is->fp,
	    "valid_after", va, "valid_before", vb, "ca_fingerprint",
	    is->h->ca_fp, "issued_at", at);
	if (rec == NULL)
		r = JIT_ERR_ALLOC;
	else
		r = jit_store_put_cert(t, is->serial, rec);
	json_decref(rec);
	if (r == JIT_ERR_CONFLICT)
		is->retry = 1;
	return r;
}

/* {"serial": N, "valid_before": T}, the entry of a host's "certs". */
static json_t *
cert_entry(const struct issue *is)
{
	char vb[JIT_TIME_LEN];

	jit_format_time(is->valid_before, vb);
	return json_pack("{s:I, s:s}", "serial", (json_int_t)is->serial,
	    "valid_before", vb);
}

/* The audit entry and the answer of an enrollment or renewal. */
static int
finish(struct issue *is, struct jit_store_txn *t, const char *id,
    const char *line, json_t *extra)
{
	char actor[JIT_HOSTS_ID_MAX + 8], va[JIT_TIME_LEN], vb[JIT_TIME_LEN];
	json_t *audit = NULL;
	int r = JIT_ERR_ALLOC;

	snprintf(actor, sizeof(actor), "host:%s", id);
	jit_format_time(is->valid_after, va);
	jit_format_time(is->valid_before, vb);
	audit = json_pack("{s:s, s:s, s:s, s:I, s:O, s:s, s:s, s:s, s:s, "
	    "s:s}", "event", is->renew ? "host.renew" : "host.enroll",
	    "actor", actor, "host", id, "serial", (json_int_t)is->serial,
	    "principals", is->principals, "key_fingerprint", is->fp,
	    "valid_after", va, "valid_before", vb,
	    "ca_fingerprint", is->h->ca_fp, "client_address",
	    is->client_addr != NULL ? is->client_addr : "-");
	if (audit == NULL || (extra != NULL &&
	    json_object_update(audit, extra) != 0))
		goto out;
	if ((r = jit_audit_append(t, audit, NULL, NULL)) != 0)
		goto out;
	json_decref(is->result);
	is->result = json_pack("{s:s, s:s, s:I, s:O, s:s, s:s}", "host", id,
	    "certificate", line, "serial", (json_int_t)is->serial,
	    "principals", is->principals, "valid_after", va,
	    "valid_before", vb);
	r = is->result != NULL ? 0 : JIT_ERR_ALLOC;
out:
	json_decref(audit);
	return r;
}

static int
enroll_write_fn(struct jit_store_txn *t, void *vctx)
{
	struct issue *is = vctx;
	json_t *tok = NULL, *host = NULL, *certs = NULL, *extra = NULL;
	json_t *cnt = NULL;
	char id[JIT_HOSTS_ID_MAX], at[JIT_TIME_LEN], vb[JIT_TIME_LEN];
	char *line = NULL;
	uint64_t n;
	int r;

	if ((r = get_token(is, t, &tok)) != 0 ||
	    (r = check_token(is, tok)) != 0 ||
	    (r = hosts__count(t, &n)) != 0)
		goto out;
	snprintf(id, sizeof(id), "h-%llu", (unsigned long long)n + 1);
	if ((r = store_cert(is, t, id, &line)) != 0)
		goto out;
	jit_format_time(is->now, at);
	jit_format_time(is->valid_before, vb);
	r = JIT_ERR_ALLOC;
	if ((certs = json_array()) == NULL ||
	    json_array_append_new(certs, cert_entry(is)) != 0)
		goto out;
	host = json_pack("{s:s, s:O, s:s, s:s, s:O, s:s, s:I, s:s, s:O}",
	    "id", id, "principals", is->principals, "public_key",
	    is->pub_line, "key_fingerprint", is->fp, "token_id",
	    json_object_get(tok, "id"), "enrolled_at", at, "serial",
	    (json_int_t)is->serial, "valid_before", vb, "certs", certs);
	extra = json_pack("{s:O}", "token_id", json_object_get(tok, "id"));
	cnt = json_integer((json_int_t)(n + 1));
	if (host == NULL || extra == NULL || cnt == NULL ||
	    json_object_set_new(tok, "used_at", json_string(at)) != 0 ||
	    json_object_set_new(tok, "host", json_string(id)) != 0)
		goto out;
	if ((r = hosts__put_host(t, host)) != 0 ||
	    (r = jit_store_put_value(t, is->token_key, tok)) != 0 ||
	    (r = jit_store_put_value(t, HOSTS_COUNT_KEY, cnt)) != 0)
		goto out;
	r = finish(is, t, id, line, extra);
out:
	free(line);
	json_decref(tok);
	json_decref(host);
	json_decref(certs);
	json_decref(extra);
	json_decref(cnt);
	return r;
}

/* The host's certificates that may still be valid somewhere, and the
 * new one. */
static int
renewed_certs(const struct issue *is, const json_t *old, json_t **out)
{
	json_t *certs, *e;
	uint64_t vb;
	size_t i;

	*out = NULL;
	if ((certs = json_array()) == NULL)
		return JIT_ERR_ALLOC;
	json_array_foreach(old, i, e) {
		vb = hosts__time(e, "valid_before");
		if (vb != 0 && is->now >= vb &&
		    is->now - vb >= is->h->clock_skew)
			continue;
		if (json_array_append(certs, e) != 0)
			goto fail;
	}
	if (json_array_append_new(certs, cert_entry(is)) != 0)
		goto fail;
	*out = certs;
	return 0;
fail:
	json_decref(certs);
	return JIT_ERR_ALLOC;
}

static int
renew_write_fn(struct jit_store_txn *t, void *vctx)
{
	struct issue *is = vctx;
	json_t *host = NULL, *certs = NULL, *extra = NULL;
	char at[JIT_TIME_LEN], vb[JIT_TIME_LEN];
	char *line = NULL;
	int r;

	if ((r = hosts__get_host(t, is->host_id, &host)) != 0 ||
	    (r = check_host(is, host)) != 0 ||
	    (r = store_cert(is, t, is->host_id, &line)) != 0 ||
	    (r = renewed_certs(is, json_object_get(host, "certs"),
	    &certs)) != 0)
		goto out;
	jit_format_time(is->now, at);
	jit_format_time(is->valid_before, vb);
	r = JIT_ERR_ALLOC;
	extra = json_pack("{s:I}", "previous_serial",
	    (json_int_t)is->old_serial);
	if (extra == NULL ||
	    json_object_set_new(host, "serial",
	    json_integer((json_int_t)is->serial)) != 0 ||
	    json_object_set_new(host, "valid_before", json_string(vb)) != 0 ||
	    json_object_set_new(host, "renewed_at", json_string(at)) != 0 ||
	    json_object_set(host, "certs", certs) != 0)
		goto out;
	if ((r = hosts__put_host(t, host)) != 0)
		goto out;
	r = finish(is, t, is->host_id, line, extra);
out:
	free(line);
	json_decref(host);
	json_decref(certs);
	json_decref(extra);
	return r;
}

/* Read, sign and write, again when a serial was taken meanwhile. */
static int
issue_run(struct issue *is, jit_store_read_fn read_fn,
    jit_store_write_fn write_fn, json_t **out)
{
	int r = JIT_ERR_INTERNAL, tries;

	for (tries = 0; tries < ISSUE_TRIES; tries++) {
		issue_reset(is);
		if ((r = jit_store_read(is->h->store, read_fn, is)) != 0 ||
		    (r = sign_cert(is)) != 0)
			break;
		r = jit_store_write(is->h->store, write_fn, is);
		if (r == 0) {
			*out = is->result;
			is->result = NULL;
			break;
		}
		/* STORE_RETRY: the batch could not commit, perhaps for the
		 * serial (PostgreSQL finds a taken one only at the commit). */
		if (!is->retry && r != JIT_ERR_STORE_RETRY)
			break;
		jit_why_clear(is->why);
	}
	if (r != 0 && is->why != NULL && is->why->message[0] == '\0')
		jit_refuse(is->why, r, NULL, "could not issue the host "
		    "certificate");
	return r;
}

/* The subject key's stored line and fingerprint. */
static int
subject(struct issue *is, const struct jit_key *key)
{
	int r;

	is->key = key;
	if ((r = jit_key_format_public(key, NULL, &is->pub_line)) != 0 ||
	    (r = jit_key_fingerprint(key, &is->fp)) != 0)
		return r;
	return 0;
}

static void
issue_release(struct issue *is)
{
	issue_reset(is);
	json_decref(is->result);
	free(is->pub_line);
	free(is->fp);
}

int
jit_hosts_enroll(struct jit_hosts *h, const char *token,
    const char *public_key, const char *client_addr, uint64_t now,
    json_t **out, struct jit_why *why)
{
	unsigned char hash[JIT_TOKEN_HASH_LEN];
	struct jit_key *key = NULL;
	struct issue is;
	int r = JIT_ERR_INTERNAL;

	*out = NULL;
	jit_why_clear(why);
	memset(&is, 0, sizeof(is));
	jit_buf_init(&is.blob);
	if (h == NULL || public_key == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	if (jit_secret_hash(&hosts__token_kind, token, hash) != 0)
		return jit_refuse(why, JIT_ERR_FORBIDDEN, "bad_token",
		    "the enrollment token is unknown, used or expired");
	if ((r = jit_key_parse_public(public_key, &key, NULL)) != 0)
		return jit_refuse(why, JIT_ERR_INVALID_ARGUMENT,
		    "bad_public_key", "public_key: %s", jit_err(r));
	is.h = h;
	is.now = now;
	is.client_addr = client_addr;
	is.why = why;
	jit_secret_value_key(&hosts__token_kind, hash, is.token_key,
	    sizeof(is.token_key));
	if ((r = subject(&is, key)) == 0)
		r = issue_run(&is, enroll_read_fn, enroll_write_fn, out);
	jit_wipe(hash, sizeof(hash));
	issue_release(&is);
	jit_key_free(key);
	return r;
}

/* The checks that need no store: the certificate is a current host
 * certificate of this CA, the challenge ours and fresh, the signature
 * the certified key's.  *cert receives the parsed certificate. */
static int
check_proof(struct jit_hosts *h, const char *cert_line,
    const char *challenge, const char *signature, uint64_t now,
    struct jit_cert **cert, struct jit_why *why)
{
	struct jit_cert_expect e;
	struct jit_key *signer = NULL;
	unsigned char nonce[HOSTS_NONCE_LEN];
	uint64_t expires;
	int r;

	*cert = NULL;
	if ((r = jit_cert_parse_line(cert_line, cert)) != 0)
		return jit_refuse(why, JIT_ERR_INVALID_ARGUMENT,
		    "bad_certificate", "certificate: %s", jit_err(r));
	memset(&e, 0, sizeof(e));
	e.type = JIT_CERT_TYPE_HOST;
	e.ca = h->ca;
	e.now = now;
	if ((r = jit_cert_verify(*cert, &e)) != 0)
		return jit_refuse(why, JIT_ERR_FORBIDDEN, "bad_certificate",
		    "not a current host certificate of this CA: %s",
		    jit_err(r));
	if (hosts__challenge_check(h, challenge, now, nonce, &expires) != 0)
		return jit_refuse(why, JIT_ERR_FORBIDDEN, "bad_challenge",
		    "the challenge is not this server's or has expired; ask "
		    "for a new one");
	if (signature == NULL || (r = jit_sshsig_verify(signature,
	    strlen(signature), JIT_HOSTS_SIG_NAMESPACE,
	    (const unsigned char *)challenge, strlen(challenge),
	    &signer)) != 0)
		return jit_refuse(why, JIT_ERR_FORBIDDEN, "bad_signature",
		    "signature: %s (sign the challenge with ssh-keygen -Y "
		    "sign -n %s)", signature == NULL ? "missing" : jit_err(r),
		    JIT_HOSTS_SIG_NAMESPACE);
	r = jit_key_equal_public(signer, (*cert)->key);
	jit_key_free(signer);
	if (!r)
		return jit_refuse(why, JIT_ERR_FORBIDDEN, "bad_signature",
		    "the challenge was not signed by the certified key");
	if ((r = hosts__challenge_use(h, nonce, expires, now)) != 0)
		return jit_refuse(why, r, r == JIT_ERR_FORBIDDEN ?
		    "bad_challenge" : NULL, r == JIT_ERR_FORBIDDEN ?
		    "the challenge was already used; ask for a new one" :
		    "too many renewals at once; try again later");
	return 0;
}

int
jit_hosts_renew(struct jit_hosts *h, const char *cert_line,
    const char *challenge, const char *signature, const char *client_addr,
    uint64_t now, json_t **out, struct jit_why *why)
{
	struct jit_cert *cert = NULL;
	struct issue is;
	int r = JIT_ERR_INTERNAL;

	*out = NULL;
	jit_why_clear(why);
	memset(&is, 0, sizeof(is));
	jit_buf_init(&is.blob);
	if (h == NULL || cert_line == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	if ((r = check_proof(h, cert_line, challenge, signature, now, &cert,
	    why)) != 0)
		goto out;
	is.h = h;
	is.now = now;
	is.client_addr = client_addr;
	is.why = why;
	is.renew = 1;
	is.old_serial = cert->serial;
	if ((r = subject(&is, cert->key)) == 0)
		r = issue_run(&is, renew_read_fn, renew_write_fn, out);
out:
	issue_release(&is);
	jit_cert_free(cert);
	return r;
}
