/* cert.c - OpenSSH user and host certificates; see cert.h for the
 * contract. */
#include "cert.h"
#include "err.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

/* Option names this module gives a meaning to (PROTOCOL.certkeys). */
#define OPT_FORCE_COMMAND "force-command"
#define OPT_SOURCE_ADDRESS "source-address"

/* Option lists up to this size are sorted on the stack. */
#define SMALL_OPTS 32

static const enum jit_key_type all_types[] = {
	JIT_KEY_ED25519, JIT_KEY_ECDSA_P256, JIT_KEY_ECDSA_P384,
	JIT_KEY_ECDSA_P521, JIT_KEY_RSA,
};

/*
 * Add n to *acc, failing if the total could not be a wire length.  Every
 * section length is computed up front with this, so a section header is
 * written once and never patched.
 */
static int
add_len(size_t *acc, size_t n)
{
	if (n > 0xffffffffu || *acc > 0xffffffffu - n)
		return JIT_ERR_STRING_TOO_LARGE;
	*acc += n;
	return 0;
}

/* Length of string(s) on the wire. */
static int
add_cstring_len(size_t *acc, const char *s)
{
	size_t n = strlen(s);
	int r;

	if (n > 0xffffffffu - 4)
		return JIT_ERR_STRING_TOO_LARGE;
	if ((r = add_len(acc, 4)) != 0)
		return r;
	return add_len(acc, n);
}

/* Insertion sort of C-string pointers, byte-wise; lists here are short. */
static void
sort_names(const char **v, size_t n)
{
	size_t i, j;
	const char *t;

	for (i = 1; i < n; i++) {
		t = v[i];
		for (j = i; j > 0 && strcmp(v[j - 1], t) > 0; j--)
			v[j] = v[j - 1];
		v[j] = t;
	}
}

/* The signature algorithms a CA of this type may produce. */
static int
sig_alg_ok(enum jit_key_type t, const unsigned char *alg, size_t len)
{
	const char *want;

	switch (t) {
	case JIT_KEY_RSA:
		return (len == 12 && memcmp(alg, "rsa-sha2-512", 12) == 0) ||
		    (len == 12 && memcmp(alg, "rsa-sha2-256", 12) == 0);
	case JIT_KEY_ED25519:
	case JIT_KEY_ECDSA_P256:
	case JIT_KEY_ECDSA_P384:
	case JIT_KEY_ECDSA_P521:
		want = jit_key_type_ssh_name(t);
		return want != NULL && strlen(want) == len &&
		    memcmp(alg, want, len) == 0;
	default:
		return 0;
	}
}

/*
 * Check that the signer returned exactly one signature blob
 * (string alg, string sig) in an algorithm allowed for the CA, so a
 * misbehaving or remote signer cannot slip SHA-1 or garbage into a cert.
 */
static int
check_signer_output(const struct jit_key *ca, const struct jit_buf *sig)
{
	struct jit_buf v;
	const unsigned char *alg, *s;
	size_t alen, slen;
	int r;

	jit_buf_view(&v, jit_buf_ptr(sig), jit_buf_len(sig));
	if ((r = jit_buf_get_string_direct(&v, &alg, &alen)) != 0 ||
	    (r = jit_buf_get_string_direct(&v, &s, &slen)) != 0)
		return JIT_ERR_INVALID_FORMAT;
	if (jit_buf_len(&v) != 0 || slen == 0)
		return JIT_ERR_INVALID_FORMAT;
	if (!sig_alg_ok(jit_key_type(ca), alg, alen))
		return JIT_ERR_SIGNATURE_ALG;
	return 0;
}

int
jit_cert_sign(const struct jit_cert_spec *spec,
    const struct jit_key *ca_pub, jit_signer_fn signer, void *ctx,
    struct jit_buf *out)
{
	struct jit_buf sig = JIT_BUF_INIT;
	const char *small_ext[SMALL_OPTS], **ext = small_ext;
	const char *certname;
	const unsigned char *cablob, *kblob;
	unsigned char nonce[JIT_CERT_NONCE_LEN];
	size_t cablen, kblen, start = 0, plen = 0, clen = 0, elen = 0;
	size_t flen = 0, slen = 0, est = 0, i;
	uint32_t type;
	int r = JIT_ERR_INTERNAL, appended = 0;

	if (spec == NULL || ca_pub == NULL || signer == NULL ||
	    out == NULL || spec->key == NULL || spec->key_id == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	if (spec->serial == 0 || spec->valid_after >= spec->valid_before)
		return JIT_ERR_INVALID_ARGUMENT;
	if (spec->nprincipals == 0 ||
	    spec->nprincipals > JIT_CERT_MAX_PRINCIPALS ||
	    spec->principals == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	if (spec->nextensions > 0 && spec->extensions == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	if ((spec->force_command != NULL && *spec->force_command == '\0') ||
	    (spec->source_address != NULL && *spec->source_address == '\0'))
		return JIT_ERR_INVALID_ARGUMENT;
	type = spec->type == 0 ? JIT_CERT_TYPE_USER : spec->type;
	if (type != JIT_CERT_TYPE_USER && type != JIT_CERT_TYPE_HOST)
		return JIT_ERR_INVALID_ARGUMENT;
	/* sshd and ssh ignore options on host certificates; refusing them
	 * keeps anyone from believing they apply. */
	if (type == JIT_CERT_TYPE_HOST && (spec->force_command != NULL ||
	    spec->source_address != NULL || spec->nextensions > 0))
		return JIT_ERR_INVALID_ARGUMENT;
	if ((certname = jit_key_type_cert_name(jit_key_type(spec->key))) ==
	    NULL)
		return JIT_ERR_KEY_TYPE_UNKNOWN;

	/* Section lengths, computed before anything is written. */
	for (i = 0; i < spec->nprincipals; i++) {
		if (spec->principals[i] == NULL ||
		    spec->principals[i][0] == '\0')
			return JIT_ERR_INVALID_ARGUMENT;
		if ((r = add_cstring_len(&plen, spec->principals[i])) != 0)
			return r;
	}
	/* A value option's data is a string wrapping string(value). */
	if (spec->force_command != NULL) {
		flen = strlen(spec->force_command);
		if (flen > 0xffffffffu - 8)
			return JIT_ERR_STRING_TOO_LARGE;
		if ((r = add_cstring_len(&clen, OPT_FORCE_COMMAND)) != 0 ||
		    (r = add_len(&clen, 8)) != 0 ||
		    (r = add_len(&clen, flen)) != 0)
			return r;
	}
	if (spec->source_address != NULL) {
		slen = strlen(spec->source_address);
		if (slen > 0xffffffffu - 8)
			return JIT_ERR_STRING_TOO_LARGE;
		if ((r = add_cstring_len(&clen, OPT_SOURCE_ADDRESS)) != 0 ||
		    (r = add_len(&clen, 8)) != 0 ||
		    (r = add_len(&clen, slen)) != 0)
			return r;
	}
	if (spec->nextensions > SMALL_OPTS) {
		if ((ext = calloc(spec->nextensions, sizeof(*ext))) == NULL)
			return JIT_ERR_ALLOC;
	}
	for (i = 0; i < spec->nextensions; i++) {
		if ((ext[i] = spec->extensions[i]) == NULL ||
		    ext[i][0] == '\0') {
			r = JIT_ERR_INVALID_ARGUMENT;
			goto out;
		}
		/* A flag is string(name) followed by an empty string. */
		if ((r = add_cstring_len(&elen, ext[i])) != 0 ||
		    (r = add_len(&elen, 4)) != 0)
			goto out;
	}
	sort_names(ext, spec->nextensions);
	for (i = 1; i < spec->nextensions; i++) {
		if (strcmp(ext[i - 1], ext[i]) == 0) {
			r = JIT_ERR_INVALID_ARGUMENT;
			goto out;
		}
	}

	if ((r = jit_key_public_blob(ca_pub, &cablob, &cablen)) != 0 ||
	    (r = jit_key_public_blob(spec->key, &kblob, &kblen)) != 0)
		goto out;

	/*
	 * Grow out once: the subject blob bounds its key fields, and 1 KiB
	 * plus the CA size covers any signature blob we produce.
	 */
	if ((r = add_cstring_len(&est, certname)) != 0 ||
	    (r = add_len(&est, 4 + JIT_CERT_NONCE_LEN + 8 + 4 + 16)) != 0 ||
	    (r = add_len(&est, kblen)) != 0 ||
	    (r = add_cstring_len(&est, spec->key_id)) != 0 ||
	    (r = add_len(&est, 4 + plen)) != 0 ||
	    (r = add_len(&est, 4 + clen)) != 0 ||
	    (r = add_len(&est, 4 + elen)) != 0 ||
	    (r = add_len(&est, 4 + 4 + cablen)) != 0 ||
	    (r = add_len(&est, 1024 + jit_key_bits(ca_pub) / 8)) != 0)
		goto out;
	/* Best effort: a buffer with a tight limit may still fit the cert. */
	if ((r = jit_buf_ensure(out, est)) != 0 && r != JIT_ERR_NO_BUFFER_SPACE)
		goto out;

	jit_random(nonce, sizeof(nonce));
	start = jit_buf_len(out);
	appended = 1;
	if ((r = jit_buf_put_cstring(out, certname)) != 0 ||
	    (r = jit_buf_put_string(out, nonce, sizeof(nonce))) != 0 ||
	    (r = jit_key_put_public_fields(spec->key, out)) != 0 ||
	    (r = jit_buf_put_u64(out, spec->serial)) != 0 ||
	    (r = jit_buf_put_u32(out, type)) != 0 ||
	    (r = jit_buf_put_cstring(out, spec->key_id)) != 0 ||
	    (r = jit_buf_put_u32(out, (uint32_t)plen)) != 0)
		goto out;
	for (i = 0; i < spec->nprincipals; i++) {
		if ((r = jit_buf_put_cstring(out, spec->principals[i])) != 0)
			goto out;
	}
	if ((r = jit_buf_put_u64(out, spec->valid_after)) != 0 ||
	    (r = jit_buf_put_u64(out, spec->valid_before)) != 0 ||
	    (r = jit_buf_put_u32(out, (uint32_t)clen)) != 0)
		goto out;
	/* "force-command" sorts before "source-address". */
	if (spec->force_command != NULL) {
		if ((r = jit_buf_put_cstring(out, OPT_FORCE_COMMAND)) != 0 ||
		    (r = jit_buf_put_u32(out, (uint32_t)(4 + flen))) != 0 ||
		    (r = jit_buf_put_string(out, spec->force_command,
		    flen)) != 0)
			goto out;
	}
	if (spec->source_address != NULL) {
		if ((r = jit_buf_put_cstring(out, OPT_SOURCE_ADDRESS)) != 0 ||
		    (r = jit_buf_put_u32(out, (uint32_t)(4 + slen))) != 0 ||
		    (r = jit_buf_put_string(out, spec->source_address,
		    slen)) != 0)
			goto out;
	}
	if ((r = jit_buf_put_u32(out, (uint32_t)elen)) != 0)
		goto out;
	for (i = 0; i < spec->nextensions; i++) {
		if ((r = jit_buf_put_cstring(out, ext[i])) != 0 ||
		    (r = jit_buf_put_u32(out, 0)) != 0)
			goto out;
	}
	if ((r = jit_buf_put_string(out, NULL, 0)) != 0 ||   /* reserved */
	    (r = jit_buf_put_string(out, cablob, cablen)) != 0)
		goto out;

	/* The signer writes to its own buffer, so the signed bytes in out
	 * cannot move under it. */
	if ((r = signer(ctx, jit_buf_ptr(out) + start,
	    jit_buf_len(out) - start, &sig)) != 0)
		goto out;
	if ((r = check_signer_output(ca_pub, &sig)) != 0 ||
	    (r = jit_buf_put_stringb(out, &sig)) != 0)
		goto out;
	r = 0;
 out:
	if (r != 0 && appended)
		jit_buf_truncate(out, start);
	if (ext != small_ext)
		free(ext);
	jit_buf_release(&sig);
	return r;
}

/* ---- parsing ---- */

static void
free_options(struct jit_cert_option *o, size_t n)
{
	size_t i;

	if (o == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(o[i].name);
		free(o[i].data);
	}
	free(o);
}

void
jit_cert_free(struct jit_cert *c)
{
	size_t i;

	if (c == NULL)
		return;
	jit_key_free(c->key);
	jit_key_free(c->signature_key);
	free(c->nonce);
	free(c->key_id);
	if (c->principals != NULL) {
		for (i = 0; i < c->nprincipals; i++)
			free(c->principals[i]);
		free(c->principals);
	}
	free_options(c->critical, c->ncritical);
	free_options(c->extensions, c->nextensions);
	free(c->signature_alg);
	free(c->blob);
	free(c);
}

/*
 * Map a certificate type name to a key type.  Names of types we refuse
 * (DSA, FIDO) are told apart from garbage so callers can say why.
 */
static int
cert_type_from_name(const unsigned char *name, size_t len,
    enum jit_key_type *t)
{
	const char *n;
	size_t i;

	*t = JIT_KEY_UNKNOWN;
	for (i = 0; i < sizeof(all_types) / sizeof(all_types[0]); i++) {
		n = jit_key_type_cert_name(all_types[i]);
		if (n != NULL && strlen(n) == len && memcmp(n, name, len) == 0) {
			*t = all_types[i];
			return 0;
		}
	}
	if ((len == 28 && memcmp(name, "ssh-dss-cert-v01@openssh.com", 28) ==
	    0) || (len > 3 && memcmp(name, "sk-", 3) == 0))
		return JIT_ERR_KEY_TYPE_UNSUPPORTED;
	if (jit_key_type_from_ssh_name((const char *)name, len) !=
	    JIT_KEY_UNKNOWN)
		return JIT_ERR_CERT_INVALID;   /* a plain key, not a cert */
	return JIT_ERR_KEY_TYPE_UNKNOWN;
}

static int
is_value_option(const char *name)
{
	return strcmp(name, OPT_FORCE_COMMAND) == 0 ||
	    strcmp(name, OPT_SOURCE_ADDRESS) == 0;
}

/*
 * Parse a critical-options or extensions section.  Names must be C
 * strings and unique (CERT_OPTION otherwise); like OpenSSH, unsorted
 * sections are accepted.  In the critical section the defined value
 * options must wrap exactly one NUL-free string, which is what is kept;
 * every other option keeps its data as given.
 */
static int
parse_options(struct jit_buf *sect, int critical,
    struct jit_cert_option **out, size_t *nout)
{
	struct jit_buf v = JIT_BUF_INIT, inner;
	struct jit_cert_option *o = NULL;
	const unsigned char *data, *val;
	size_t n = 0, i, dlen, vlen;
	char *name = NULL;
	int r = JIT_ERR_INTERNAL;

	*out = NULL;
	*nout = 0;
	/* Count first so the array is allocated once. */
	jit_buf_view(&v, jit_buf_ptr(sect), jit_buf_len(sect));
	while (jit_buf_len(&v) > 0) {
		if ((r = jit_buf_get_string_direct(&v, NULL, NULL)) != 0 ||
		    (r = jit_buf_get_string_direct(&v, NULL, NULL)) != 0)
			goto out;
		n++;
	}
	if (n == 0) {
		r = 0;
		goto out;
	}
	if ((o = calloc(n, sizeof(*o))) == NULL) {
		r = JIT_ERR_ALLOC;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if ((r = jit_buf_get_cstring(sect, &name, NULL)) != 0) {
			if (r == JIT_ERR_NUL_IN_STRING)
				r = JIT_ERR_CERT_OPTION;
			goto out;
		}
		if ((r = jit_buf_get_string_direct(sect, &data, &dlen)) != 0)
			goto out;
		for (size_t j = 0; j < i; j++) {
			if (strcmp(o[j].name, name) == 0) {
				r = JIT_ERR_CERT_OPTION;
				goto out;
			}
		}
		if (critical && is_value_option(name)) {
			jit_buf_view(&inner, data, dlen);
			if (jit_buf_get_string_direct(&inner, &val, &vlen) != 0 ||
			    jit_buf_len(&inner) != 0 ||
			    (vlen > 0 && memchr(val, '\0', vlen) != NULL)) {
				r = JIT_ERR_CERT_OPTION;
				goto out;
			}
			data = val;
			dlen = vlen;
		}
		if (dlen > 0 || (critical && is_value_option(name))) {
			if ((o[i].data = (unsigned char *)jit_memdup(data,
			    dlen)) == NULL) {
				r = JIT_ERR_ALLOC;
				goto out;
			}
			o[i].len = dlen;
		}
		o[i].name = name;
		name = NULL;
	}
	*out = o;
	*nout = n;
	o = NULL;
	r = 0;
 out:
	free(name);
	free_options(o, n);
	return r;
}

int
jit_cert_parse(const unsigned char *blob, size_t len, struct jit_cert **out)
{
	struct jit_cert *c = NULL;
	struct jit_buf b, sect, sigb;
	const unsigned char *p, *cablob, *sig;
	size_t plen, n, cablen, siglen;
	int r = JIT_ERR_INTERNAL;

	if (out == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	*out = NULL;
	if (blob == NULL && len > 0)
		return JIT_ERR_INVALID_ARGUMENT;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return JIT_ERR_ALLOC;
	if ((c->blob = (unsigned char *)jit_memdup(blob, len)) == NULL) {
		r = JIT_ERR_ALLOC;
		goto out;
	}
	c->blob_len = len;
	jit_buf_view(&b, c->blob, len);

	if ((r = jit_buf_get_string_direct(&b, &p, &plen)) != 0 ||
	    (r = cert_type_from_name(p, plen, &c->key_type)) != 0)
		goto out;
	if ((r = jit_buf_get_string(&b, &c->nonce, &c->nonce_len)) != 0 ||
	    (r = jit_key_get_public_fields(&b, c->key_type, &c->key)) != 0 ||
	    (r = jit_buf_get_u64(&b, &c->serial)) != 0 ||
	    (r = jit_buf_get_u32(&b, &c->type)) != 0)
		goto out;
	if (c->type != JIT_CERT_TYPE_USER && c->type != JIT_CERT_TYPE_HOST) {
		r = JIT_ERR_CERT_TYPE;
		goto out;
	}
	if ((r = jit_buf_get_cstring(&b, &c->key_id, NULL)) != 0)
		goto out;

	/* Principals: count, then copy into one array. */
	if ((r = jit_buf_get_stringb_view(&b, &sect)) != 0)
		goto out;
	{
		struct jit_buf cnt;

		jit_buf_view(&cnt, jit_buf_ptr(&sect), jit_buf_len(&sect));
		for (n = 0; jit_buf_len(&cnt) > 0; n++) {
			if (n >= JIT_CERT_MAX_PRINCIPALS) {
				r = JIT_ERR_CERT_INVALID;
				goto out;
			}
			if ((r = jit_buf_get_string_direct(&cnt, NULL,
			    NULL)) != 0)
				goto out;
		}
	}
	if (n > 0 && (c->principals = calloc(n, sizeof(char *))) == NULL) {
		r = JIT_ERR_ALLOC;
		goto out;
	}
	for (; c->nprincipals < n; c->nprincipals++) {
		if ((r = jit_buf_get_cstring(&sect,
		    &c->principals[c->nprincipals], NULL)) != 0)
			goto out;
	}

	if ((r = jit_buf_get_u64(&b, &c->valid_after)) != 0 ||
	    (r = jit_buf_get_u64(&b, &c->valid_before)) != 0)
		goto out;
	if ((r = jit_buf_get_stringb_view(&b, &sect)) != 0 ||
	    (r = parse_options(&sect, 1, &c->critical, &c->ncritical)) != 0)
		goto out;
	if ((r = jit_buf_get_stringb_view(&b, &sect)) != 0 ||
	    (r = parse_options(&sect, 0, &c->extensions,
	    &c->nextensions)) != 0)
		goto out;
	if ((r = jit_buf_get_string_direct(&b, NULL, NULL)) != 0 ||  /* reserved */
	    (r = jit_buf_get_string_direct(&b, &cablob, &cablen)) != 0)
		goto out;
	if ((r = jit_key_from_blob(cablob, cablen, &c->signature_key)) != 0)
		goto out;
	c->signed_len = len - jit_buf_len(&b);

	if ((r = jit_buf_get_string_direct(&b, &sig, &siglen)) != 0)
		goto out;
	if (jit_buf_len(&b) != 0) {
		r = JIT_ERR_TRAILING_DATA;
		goto out;
	}
	jit_buf_view(&sigb, sig, siglen);
	if ((r = jit_buf_get_cstring(&sigb, &c->signature_alg, NULL)) != 0 ||
	    (r = jit_buf_get_string_direct(&sigb, NULL, NULL)) != 0)
		goto out;
	if (jit_buf_len(&sigb) != 0) {
		r = JIT_ERR_TRAILING_DATA;
		goto out;
	}
	*out = c;
	c = NULL;
	r = 0;
 out:
	jit_cert_free(c);
	return r;
}

static int
is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

int
jit_cert_parse_line(const char *line, struct jit_cert **out)
{
	struct jit_cert *c = NULL;
	const char *type, *b64;
	size_t tlen, blen;
	unsigned char *blob = NULL;
	size_t len = 0;
	enum jit_key_type t;
	const char *want;
	int r = JIT_ERR_INTERNAL;

	if (out == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	*out = NULL;
	if (line == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	while (is_space(*line))
		line++;
	type = line;
	for (tlen = 0; type[tlen] != '\0' && !is_space(type[tlen]); tlen++)
		;
	b64 = type + tlen;
	while (is_space(*b64))
		b64++;
	for (blen = 0; b64[blen] != '\0' && !is_space(b64[blen]); blen++)
		;
	if (tlen == 0 || blen == 0)
		return JIT_ERR_INVALID_FORMAT;
	if ((r = cert_type_from_name((const unsigned char *)type, tlen,
	    &t)) != 0)
		return r;
	if ((r = jit_b64_decode(b64, blen, &blob, &len)) != 0)
		goto out;
	if ((r = jit_cert_parse(blob, len, &c)) != 0)
		goto out;
	/* The blob must carry the type the line claims. */
	want = jit_key_type_cert_name(c->key_type);
	if (c->key_type != t || want == NULL || strlen(want) != tlen) {
		r = JIT_ERR_INVALID_FORMAT;
		goto out;
	}
	*out = c;
	c = NULL;
	r = 0;
 out:
	jit_cert_free(c);
	free(blob);
	return r;
}

static const struct jit_cert_option *
find_option(const struct jit_cert_option *o, size_t n, const char *name)
{
	size_t i;

	if (o == NULL || name == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		if (strcmp(o[i].name, name) == 0)
			return &o[i];
	}
	return NULL;
}

const struct jit_cert_option *
jit_cert_find_critical(const struct jit_cert *c, const char *name)
{
	return c == NULL ? NULL : find_option(c->critical, c->ncritical, name);
}

const struct jit_cert_option *
jit_cert_find_extension(const struct jit_cert *c, const char *name)
{
	return c == NULL ? NULL :
	    find_option(c->extensions, c->nextensions, name);
}

int
jit_cert_verify_signature(const struct jit_cert *c)
{
	struct jit_buf b;
	const unsigned char *sig;
	size_t siglen;
	int r = JIT_ERR_INTERNAL;

	if (c == NULL || c->blob == NULL || c->signature_key == NULL ||
	    c->signed_len > c->blob_len)
		return JIT_ERR_INVALID_ARGUMENT;
	jit_buf_view(&b, c->blob + c->signed_len, c->blob_len - c->signed_len);
	if ((r = jit_buf_get_string_direct(&b, &sig, &siglen)) != 0)
		return r;
	return jit_key_verify(c->signature_key, sig, siglen, c->blob,
	    c->signed_len);
}

/* 1 if every name in a appears in b. */
static int
names_subset(const char *const *a, size_t na, const char *const *b,
    size_t nb)
{
	size_t i, j;

	for (i = 0; i < na; i++) {
		for (j = 0; j < nb; j++) {
			if (b[j] != NULL && strcmp(a[i], b[j]) == 0)
				break;
		}
		if (j == nb)
			return 0;
	}
	return 1;
}

int
jit_cert_verify(const struct jit_cert *c, const struct jit_cert_expect *e)
{
	size_t i;
	int r = JIT_ERR_INTERNAL;

	if (c == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	if ((r = jit_cert_verify_signature(c)) != 0)
		return r;
	if (c->type != (e != NULL && e->type != 0 ? e->type :
	    JIT_CERT_TYPE_USER))
		return JIT_ERR_CERT_TYPE;
	if (e == NULL)
		return 0;
	if (e->ca != NULL && !jit_key_equal_public(e->ca, c->signature_key))
		return JIT_ERR_CERT_WRONG_CA;
	if (e->key != NULL && !jit_key_equal_public(e->key, c->key))
		return JIT_ERR_CERT_WRONG_KEY;
	if (e->now != 0) {
		if (e->now < c->valid_after)
			return JIT_ERR_CERT_NOT_YET_VALID;
		if (e->now >= c->valid_before)
			return JIT_ERR_CERT_EXPIRED;
	}
	if (e->principals != NULL) {
		const char *const *cp = (const char *const *)c->principals;

		for (i = 0; i < e->nprincipals; i++) {
			if (e->principals[i] == NULL)
				return JIT_ERR_INVALID_ARGUMENT;
		}
		/* Equal as sets: each side contains the other. */
		if (!names_subset(cp, c->nprincipals, e->principals,
		    e->nprincipals) ||
		    !names_subset(e->principals, e->nprincipals, cp,
		    c->nprincipals))
			return JIT_ERR_CERT_PRINCIPALS;
	}
	return 0;
}

int
jit_cert_format(const unsigned char *blob, size_t len, const char *comment,
    char **out)
{
	struct jit_buf b;
	const unsigned char *name;
	enum jit_key_type t;
	char *b64 = NULL, *s = NULL;
	size_t nlen, blen, clen = 0, total;
	int r = JIT_ERR_INTERNAL;

	if (out == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	*out = NULL;
	if (blob == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	if (comment != NULL) {
		if (strpbrk(comment, "\r\n") != NULL)
			return JIT_ERR_INVALID_ARGUMENT;
		clen = strlen(comment);
	}
	jit_buf_view(&b, blob, len);
	if ((r = jit_buf_get_string_direct(&b, &name, &nlen)) != 0 ||
	    (r = cert_type_from_name(name, nlen, &t)) != 0)
		return r;
	if ((r = jit_b64_encode(blob, len, &b64)) != 0)
		return r;
	blen = strlen(b64);
	/* name + ' ' + b64 [+ ' ' + comment] + NUL; all bounded by len. */
	total = nlen + 1 + blen + 1;
	if (clen > 0) {
		if (clen > SIZE_MAX - total - 1) {
			r = JIT_ERR_STRING_TOO_LARGE;
			goto out;
		}
		total += 1 + clen;
	}
	if ((s = malloc(total)) == NULL) {
		r = JIT_ERR_ALLOC;
		goto out;
	}
	memcpy(s, name, nlen);
	s[nlen] = ' ';
	memcpy(s + nlen + 1, b64, blen);
	if (clen > 0) {
		s[nlen + 1 + blen] = ' ';
		memcpy(s + nlen + 2 + blen, comment, clen);
	}
	s[total - 1] = '\0';
	*out = s;
	r = 0;
 out:
	free(b64);
	return r;
}
