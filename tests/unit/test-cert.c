/*
 * test-cert.c - certificates: ssh-keygen known answers (tests/kat), round
 * trips for every CA and user key type, refusals, verification errors and
 * hand-made malformed blobs.  Runs with the tests/ directory as cwd.
 */
#include "buf.h"
#include "cert.h"
#include "err.h"
#include "key.h"
#include "util.h"

#include "test.h"

#include <ctype.h>

#define KAT_DIR "kat/"

static const char *const ca_types[] = {
	"ed25519", "ecdsa-p256", "ecdsa-p384", "ecdsa-p521", "rsa",
};
static const char *const user_pubs[] = {
	"user-ed25519.pub", "user-ecdsa256.pub", "user-ecdsa384.pub",
	"user-ecdsa521.pub", "user-rsa2048.pub", "user-rsa3072.pub",
};

static struct jit_key *
load_pub(const char *name)
{
	char path[256];
	struct jit_key *k = NULL;

	snprintf(path, sizeof(path), "%s%s", KAT_DIR, name);
	REQUIRE_OK(jit_key_load_public(path, &k));
	return k;
}

static struct jit_key *
gen(const char *short_name)
{
	struct jit_key *k = NULL;
	enum jit_key_type t = jit_key_type_from_short_name(short_name);

	REQUIRE(t != JIT_KEY_UNKNOWN);
	REQUIRE_OK(jit_key_generate(t, 0, &k));
	return k;
}

static size_t
unhex(const char *s, unsigned char *out, size_t max)
{
	size_t n = 0;
	unsigned v;

	while (s[0] != '\0' && s[1] != '\0' && n < max) {
		REQUIRE(sscanf(s, "%2x", &v) == 1);
		out[n++] = (unsigned char)v;
		s += 2;
	}
	return n;
}

/* ---- known answers ---- */

struct kat {
	char file[128], certtype[64], ca[64], ca_fp[128], key[64];
	char key_fp[128], key_id[128], sigalg[64];
	unsigned type;
	uint64_t serial, va, vb;
	char *principals[300];
	size_t nprincipals;
	char crit[8][160], ext[8][160];
	size_t ncrit, next;
};

static void
kat_clear(struct kat *k)
{
	for (size_t i = 0; i < k->nprincipals; i++)
		free(k->principals[i]);
	memset(k, 0, sizeof(*k));
}

/* Compare a parsed option with "NAME [HEX]". */
static void
check_option(const struct jit_cert_option *o, const char *want)
{
	unsigned char data[256];
	const char *sp = strchr(want, ' ');
	size_t nlen = sp ? (size_t)(sp - want) : strlen(want), dlen;

	CHECK(strlen(o->name) == nlen && memcmp(o->name, want, nlen) == 0);
	if (sp == NULL) {
		CHECK_INT(o->len, 0);
		CHECK(o->data == NULL);
		return;
	}
	dlen = unhex(sp + 1, data, sizeof(data));
	CHECK_INT(o->len, dlen);
	REQUIRE(o->data != NULL);
	CHECK(o->len == dlen && memcmp(o->data, data, dlen) == 0);
	CHECK_INT(o->data[o->len], 0);
}

static char *
read_line_file(const char *name)
{
	char path[256];
	unsigned char *data = NULL;
	size_t len = 0;

	snprintf(path, sizeof(path), "%s%s", KAT_DIR, name);
	REQUIRE_OK(jit_read_file(path, 1 << 20, &data, &len));
	return (char *)data;
}

static void
kat_check(const struct kat *k)
{
	struct jit_cert *c = NULL, *c2 = NULL;
	struct jit_key *ca, *user;
	struct jit_cert_expect e;
	char *line, *fp = NULL, *fmt = NULL;
	unsigned char *copy;
	size_t i;
	int r;

	line = read_line_file(k->file);
	r = jit_cert_parse_line(line, &c);
	if (r != 0)
		fprintf(stderr, "%s: %s\n", k->file, jit_err(r));
	REQUIRE(r == 0);
	ca = load_pub(k->ca);
	user = load_pub(k->key);

	CHECK_STR(jit_key_type_cert_name(c->key_type), k->certtype);
	CHECK_INT(c->nonce_len, 32);
	CHECK_INT(c->type, k->type);
	CHECK_U64(c->serial, k->serial);
	CHECK_STR(c->key_id, k->key_id);
	CHECK_INT(c->nprincipals, k->nprincipals);
	for (i = 0; i < c->nprincipals && i < k->nprincipals; i++)
		CHECK_STR(c->principals[i], k->principals[i]);
	CHECK_U64(c->valid_after, k->va);
	CHECK_U64(c->valid_before, k->vb);
	CHECK_INT(c->ncritical, k->ncrit);
	for (i = 0; i < c->ncritical && i < k->ncrit; i++)
		check_option(&c->critical[i], k->crit[i]);
	CHECK_INT(c->nextensions, k->next);
	for (i = 0; i < c->nextensions && i < k->next; i++)
		check_option(&c->extensions[i], k->ext[i]);
	CHECK_STR(c->signature_alg, k->sigalg);
	CHECK(jit_key_equal_public(c->signature_key, ca));
	CHECK(jit_key_equal_public(c->key, user));
	CHECK_OK(jit_key_fingerprint(c->signature_key, &fp));
	CHECK_STR(fp, k->ca_fp);
	free(fp);
	fp = NULL;
	CHECK_OK(jit_key_fingerprint(c->key, &fp));
	CHECK_STR(fp, k->key_fp);
	free(fp);

	/* Lookups by name. */
	if (k->ncrit > 0)
		CHECK(jit_cert_find_critical(c, c->critical[0].name) ==
		    &c->critical[0]);
	CHECK(jit_cert_find_critical(c, "no-such-option") == NULL);
	if (k->next > 0)
		CHECK(jit_cert_find_extension(c, c->extensions[k->next - 1].name)
		    == &c->extensions[k->next - 1]);

	/* Signature and full verification. */
	CHECK_OK(jit_cert_verify_signature(c));
	memset(&e, 0, sizeof(e));
	e.ca = ca;
	e.key = user;
	e.now = k->va == 0 ? 1 : k->va;
	e.principals = (const char *const *)k->principals;
	e.nprincipals = k->nprincipals;
	if (k->type == JIT_CERT_TYPE_USER) {
		CHECK_OK(jit_cert_verify(c, &e));
		e.now = k->vb - 1;
		CHECK_OK(jit_cert_verify(c, &e));
		if (k->vb != UINT64_MAX) {
			e.now = k->vb;
			CHECK_INT(jit_cert_verify(c, &e), JIT_ERR_CERT_EXPIRED);
		}
		if (k->va > 0) {
			e.now = k->va - 1;
			CHECK_INT(jit_cert_verify(c, &e),
			    JIT_ERR_CERT_NOT_YET_VALID);
		}
	} else {
		CHECK_INT(jit_cert_verify(c, &e), JIT_ERR_CERT_TYPE);
	}

	/* Formatting gives back the file's type and base64. */
	CHECK_OK(jit_cert_format(c->blob, c->blob_len, NULL, &fmt));
	if (fmt != NULL) {
		CHECK(strncmp(line, fmt, strlen(fmt)) == 0);
		CHECK(line[strlen(fmt)] == ' ' || line[strlen(fmt)] == '\n');
	}
	free(fmt);

	/* A flipped byte anywhere in the signed part, or in the signature
	 * value, either stops parsing or fails the signature. */
	copy = malloc(c->blob_len);
	REQUIRE(copy != NULL);
	for (i = 0; i < c->blob_len; i += (i < c->signed_len ? 7 : 1)) {
		memcpy(copy, c->blob, c->blob_len);
		copy[i] ^= 0x01;
		if (jit_cert_parse(copy, c->blob_len, &c2) == 0) {
			r = jit_cert_verify_signature(c2);
			/* Only bytes of the signature blob's algorithm name and
			 * length fields can change the structure and not the
			 * signed value; all others must fail. */
			if (r == 0) {
				fprintf(stderr, "%s: flip at %zu of %zu still "
				    "verifies\n", k->file, i, c->blob_len);
				test_failures++;
			}
			jit_cert_free(c2);
			c2 = NULL;
		}
	}
	/* The last byte (inside the signature value) must parse and fail. */
	memcpy(copy, c->blob, c->blob_len);
	copy[c->blob_len - 1] ^= 0x80;
	CHECK_OK(jit_cert_parse(copy, c->blob_len, &c2));
	if (c2 != NULL)
		CHECK_INT(jit_cert_verify_signature(c2),
		    JIT_ERR_SIGNATURE_INVALID);
	jit_cert_free(c2);
	c2 = NULL;
	/* Every truncation fails. */
	for (i = 0; i < c->blob_len; i++) {
		if (jit_cert_parse(c->blob, i, &c2) == 0) {
			fprintf(stderr, "%s: truncated to %zu parses\n",
			    k->file, i);
			test_failures++;
			jit_cert_free(c2);
		}
		CHECK(c2 == NULL);
	}
	free(copy);
	/* Trailing data fails. */
	copy = malloc(c->blob_len + 1);
	REQUIRE(copy != NULL);
	memcpy(copy, c->blob, c->blob_len);
	copy[c->blob_len] = 0;
	CHECK_INT(jit_cert_parse(copy, c->blob_len + 1, &c2),
	    JIT_ERR_TRAILING_DATA);
	free(copy);

	jit_cert_free(c);
	jit_key_free(ca);
	jit_key_free(user);
	free(line);
}

static void
test_kat(void)
{
	FILE *f = fopen(KAT_DIR "certs.txt", "r");
	struct kat k;
	char line[4096], *v;
	size_t n = 0;

	REQUIRE(f != NULL);
	memset(&k, 0, sizeof(k));
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		v = strchr(line, ' ');
		if (v != NULL)
			*v++ = '\0';
		else
			v = line + strlen(line);
#define STR(key, field) if (strcmp(line, key) == 0) \
	snprintf(k.field, sizeof(k.field), "%s", v)
		STR("cert", file);
		else STR("certtype", certtype);
		else STR("ca", ca);
		else STR("ca_fingerprint", ca_fp);
		else STR("key", key);
		else STR("key_fingerprint", key_fp);
		else STR("key_id", key_id);
		else STR("signature_alg", sigalg);
		else if (strcmp(line, "type") == 0)
			k.type = (unsigned)strtoul(v, NULL, 10);
		else if (strcmp(line, "serial") == 0)
			k.serial = strtoull(v, NULL, 10);
		else if (strcmp(line, "valid_after") == 0)
			k.va = strtoull(v, NULL, 10);
		else if (strcmp(line, "valid_before") == 0)
			k.vb = strtoull(v, NULL, 10);
		else if (strcmp(line, "principal") == 0) {
			REQUIRE(k.nprincipals < 300);
			k.principals[k.nprincipals++] = jit_strdup(v);
		} else if (strcmp(line, "critical") == 0) {
			REQUIRE(k.ncrit < 8);
			snprintf(k.crit[k.ncrit++], 160, "%s", v);
		} else if (strcmp(line, "extension") == 0) {
			REQUIRE(k.next < 8);
			snprintf(k.ext[k.next++], 160, "%s", v);
		} else if (strcmp(line, "end") == 0) {
			kat_check(&k);
			kat_clear(&k);
			n++;
		} else {
			fprintf(stderr, "certs.txt: unknown line %s\n", line);
			test_failures++;
		}
#undef STR
	}
	fclose(f);
	CHECK_INT(n, 17);
	printf("known answers: %zu certificates\n", n);
}

/* ---- round trips ---- */

static const char *const ext_unsorted[] = {
	"permit-pty", "permit-X11-forwarding", "permit-agent-forwarding",
	"permit-user-rc", "permit-port-forwarding",
};
static const char *const ext_sorted[] = {
	"permit-X11-forwarding", "permit-agent-forwarding",
	"permit-port-forwarding", "permit-pty", "permit-user-rc",
};
static const char *const two_principals[] = { "alice", "ops" };

static void
default_spec(struct jit_cert_spec *s, const struct jit_key *user)
{
	memset(s, 0, sizeof(*s));
	s->key = user;
	s->serial = 42;
	s->key_id = "alice via jit";
	s->principals = two_principals;
	s->nprincipals = 2;
	s->valid_after = 1900000000;
	s->valid_before = 1900003600;
	s->force_command = "/usr/bin/rsync --server";
	s->source_address = "192.0.2.0/24,2001:db8::/32";
	s->extensions = ext_unsorted;
	s->nextensions = 5;
}

static void
test_round_trips(void)
{
	struct jit_cert_spec s;
	struct jit_cert_expect e;
	struct jit_buf b = JIT_BUF_INIT, b2 = JIT_BUF_INIT;
	struct jit_cert *c = NULL, *c2 = NULL;
	const struct jit_cert_option *o;
	struct jit_key *ca, *user;
	char *line = NULL;
	size_t i, j, k, n = 0;

	for (i = 0; i < sizeof(ca_types) / sizeof(ca_types[0]); i++) {
		ca = gen(ca_types[i]);
		for (j = 0; j < sizeof(user_pubs) / sizeof(user_pubs[0]); j++) {
			user = load_pub(user_pubs[j]);
			default_spec(&s, user);
			s.serial = 1000 + i * 10 + j;
			jit_buf_reset(&b);
			REQUIRE_OK(jit_cert_sign(&s, ca, jit_key_signer, ca, &b));
			REQUIRE_OK(jit_cert_parse(jit_buf_ptr(&b),
			    jit_buf_len(&b), &c));
			CHECK_INT(c->key_type, jit_key_type(user));
			CHECK_U64(c->serial, s.serial);
			CHECK_INT(c->type, JIT_CERT_TYPE_USER);
			CHECK_STR(c->key_id, s.key_id);
			CHECK_INT(c->nprincipals, 2);
			CHECK_STR(c->principals[0], "alice");
			CHECK_STR(c->principals[1], "ops");
			CHECK_U64(c->valid_after, s.valid_after);
			CHECK_U64(c->valid_before, s.valid_before);
			CHECK_INT(c->ncritical, 2);
			CHECK_STR(c->critical[0].name, "force-command");
			CHECK_STR((char *)c->critical[0].data, s.force_command);
			CHECK_INT(c->critical[0].len, strlen(s.force_command));
			CHECK_STR(c->critical[1].name, "source-address");
			CHECK_STR((char *)c->critical[1].data,
			    s.source_address);
			CHECK_INT(c->nextensions, 5);
			for (k = 0; k < 5 && k < c->nextensions; k++) {
				CHECK_STR(c->extensions[k].name, ext_sorted[k]);
				CHECK(c->extensions[k].data == NULL);
				CHECK_INT(c->extensions[k].len, 0);
			}
			o = jit_cert_find_critical(c, "source-address");
			CHECK(o != NULL && o->len == strlen(s.source_address));
			CHECK(jit_cert_find_extension(c, "permit-pty") != NULL);
			CHECK(jit_key_equal_public(c->signature_key, ca));
			CHECK(jit_key_equal_public(c->key, user));
			CHECK_STR(c->signature_alg,
			    jit_key_type(ca) == JIT_KEY_RSA ? "rsa-sha2-512" :
			    jit_key_type_ssh_name(jit_key_type(ca)));
			memset(&e, 0, sizeof(e));
			e.ca = ca;
			e.key = user;
			e.now = s.valid_after + 10;
			e.principals = two_principals;
			e.nprincipals = 2;
			CHECK_OK(jit_cert_verify(c, &e));

			/* Line form round trip, with a comment. */
			CHECK_OK(jit_cert_format(c->blob, c->blob_len,
			    "alice@laptop", &line));
			REQUIRE(line != NULL);
			CHECK(strncmp(line, jit_key_type_cert_name(
			    c->key_type), strlen(jit_key_type_cert_name(
			    c->key_type))) == 0);
			CHECK(strstr(line, " alice@laptop") != NULL);
			CHECK_OK(jit_cert_parse_line(line, &c2));
			if (c2 != NULL) {
				CHECK_INT(c2->blob_len, c->blob_len);
				CHECK_MEM(c2->blob, c->blob, c->blob_len);
			}
			jit_cert_free(c2);
			c2 = NULL;
			free(line);
			line = NULL;

			/* A second cert differs only in its nonce and
			 * signature (Ed25519 signatures are deterministic, so
			 * the nonce alone must change the bytes). */
			jit_buf_reset(&b2);
			REQUIRE_OK(jit_cert_sign(&s, ca, jit_key_signer, ca,
			    &b2));
			CHECK(jit_buf_len(&b2) != jit_buf_len(&b) ||
			    memcmp(jit_buf_ptr(&b2), jit_buf_ptr(&b),
			    jit_buf_len(&b)) != 0);
			REQUIRE_OK(jit_cert_parse(jit_buf_ptr(&b2),
			    jit_buf_len(&b2), &c2));
			CHECK(memcmp(c2->nonce, c->nonce, 32) != 0);
			CHECK_INT(c2->signed_len, c->signed_len);
			CHECK_MEM(c2->blob + 4 + 4 +
			    strlen(jit_key_type_cert_name(c->key_type)) + 32,
			    c->blob + 4 + 4 +
			    strlen(jit_key_type_cert_name(c->key_type)) + 32,
			    c->signed_len - 8 -
			    strlen(jit_key_type_cert_name(c->key_type)) - 32);
			jit_cert_free(c2);
			c2 = NULL;
			jit_cert_free(c);
			c = NULL;
			jit_key_free(user);
			n++;
		}
		jit_key_free(ca);
	}
	jit_buf_release(&b);
	jit_buf_release(&b2);
	printf("round trips: %zu (CA x user key types)\n", n);
}

/* Appending to a non-empty buffer leaves the earlier bytes alone, and
 * an Ed25519 cert from an Ed25519 CA has the measured sizes. */
static void
test_append_and_sizes(void)
{
	struct jit_key *ca = gen("ed25519"), *user = load_pub(
	    "user-ed25519.pub");
	static const char *const one[] = { "alice" };
	struct jit_cert_spec s;
	struct jit_buf b = JIT_BUF_INIT;
	struct jit_cert *c = NULL;
	unsigned char *p;

	memset(&s, 0, sizeof(s));
	s.key = user;
	s.serial = 1;
	s.key_id = "";
	s.principals = one;
	s.nprincipals = 1;
	s.valid_after = 0;
	s.valid_before = UINT64_MAX;
	REQUIRE_OK(jit_buf_put(&b, "HEAD", 4));
	REQUIRE_OK(jit_buf_get(&b, NULL, 2));   /* off > 0 */
	REQUIRE_OK(jit_cert_sign(&s, ca, jit_key_signer, ca, &b));
	CHECK(memcmp(jit_buf_ptr(&b), "AD", 2) == 0);
	REQUIRE_OK(jit_cert_parse(jit_buf_ptr(&b) + 2, jit_buf_len(&b) - 2,
	    &c));
	/* 4+32 name, 4+32 nonce, 4+32 pk, 8, 4, 4 id, 4+4+5, 16, 4, 4, 4,
	 * 4+51 CA, then 4+83 signature. */
	CHECK_INT(c->signed_len, 36 + 36 + 36 + 8 + 4 + 4 + 13 + 16 + 12 + 55);
	CHECK_INT(c->blob_len, c->signed_len + 87);
	CHECK_INT(c->ncritical, 0);
	CHECK_INT(c->nextensions, 0);
	CHECK_STR(c->key_id, "");
	jit_cert_free(c);

	/* A reused buffer with room takes the cert without growing. */
	jit_buf_reset(&b);
	REQUIRE_OK(jit_cert_sign(&s, ca, jit_key_signer, ca, &b));
	p = b.d;
	jit_buf_reset(&b);
	REQUIRE_OK(jit_cert_sign(&s, ca, jit_key_signer, ca, &b));
	CHECK(b.d == p);
	jit_buf_release(&b);
	jit_key_free(ca);
	jit_key_free(user);
}

/* ---- refusals on signing ---- */

static int signer_calls;

static int
failing_signer(void *ctx, const unsigned char *data, size_t len,
    struct jit_buf *sig)
{
	signer_calls++;
	return JIT_ERR_CRYPTO;
}

/* Produces a SHA-1 "ssh-rsa" blob, which must never reach a cert. */
static int
sha1_signer(void *ctx, const unsigned char *data, size_t len,
    struct jit_buf *sig)
{
	unsigned char s[384] = { 1 };
	int r;

	signer_calls++;
	if ((r = jit_buf_put_cstring(sig, "ssh-rsa")) != 0)
		return r;
	return jit_buf_put_string(sig, s, sizeof(s));
}

static int
garbage_signer(void *ctx, const unsigned char *data, size_t len,
    struct jit_buf *sig)
{
	signer_calls++;
	return jit_buf_put(sig, "\0\0\0\x0bssh-ed25519", 15);
}

static void
test_sign_refusals(void)
{
	struct jit_key *ca = gen("ed25519"), *rsa_ca = gen("rsa");
	struct jit_key *user = load_pub("user-ecdsa256.pub");
	struct jit_cert_spec s;
	struct jit_buf b = JIT_BUF_INIT;
	struct jit_cert *c = NULL;
	static const char *many[300];
	static char names[300][8];
	static const char *const dup_ext[] = {
		"permit-pty", "permit-user-rc", "permit-pty",
	};
	static const char *const empty_ext[] = { "permit-pty", "" };
	static const char *const empty_princ[] = { "alice", "" };
	static const char *const null_princ[] = { "alice", NULL };
	static const char *big_ext[40];
	static char big_names[40][16];
	size_t i;

	for (i = 0; i < 300; i++) {
		snprintf(names[i], sizeof(names[i]), "u%03zu", i);
		many[i] = names[i];
	}
	REQUIRE_OK(jit_buf_put(&b, "xyz", 3));

#define REFUSE(field, value, err) do { default_spec(&s, user); \
	s.field = value; \
	CHECK_INT(jit_cert_sign(&s, ca, jit_key_signer, ca, &b), err); \
	CHECK_INT(jit_buf_len(&b), 3); } while (0)
	REFUSE(serial, 0, JIT_ERR_INVALID_ARGUMENT);
	REFUSE(nprincipals, 0, JIT_ERR_INVALID_ARGUMENT);
	REFUSE(principals, NULL, JIT_ERR_INVALID_ARGUMENT);
	REFUSE(principals, empty_princ, JIT_ERR_INVALID_ARGUMENT);
	REFUSE(principals, null_princ, JIT_ERR_INVALID_ARGUMENT);
	REFUSE(valid_before, s.valid_after, JIT_ERR_INVALID_ARGUMENT);
	REFUSE(valid_before, s.valid_after - 1, JIT_ERR_INVALID_ARGUMENT);
	REFUSE(key_id, NULL, JIT_ERR_INVALID_ARGUMENT);
	REFUSE(key, NULL, JIT_ERR_INVALID_ARGUMENT);
	REFUSE(force_command, "", JIT_ERR_INVALID_ARGUMENT);
	REFUSE(source_address, "", JIT_ERR_INVALID_ARGUMENT);
#undef REFUSE
	default_spec(&s, user);
	s.extensions = dup_ext;
	s.nextensions = 3;
	CHECK_INT(jit_cert_sign(&s, ca, jit_key_signer, ca, &b),
	    JIT_ERR_INVALID_ARGUMENT);
	s.extensions = empty_ext;
	s.nextensions = 2;
	CHECK_INT(jit_cert_sign(&s, ca, jit_key_signer, ca, &b),
	    JIT_ERR_INVALID_ARGUMENT);
	default_spec(&s, user);
	s.principals = empty_princ;
	CHECK_INT(jit_cert_sign(&s, ca, jit_key_signer, ca, &b),
	    JIT_ERR_INVALID_ARGUMENT);
	s.principals = null_princ;
	CHECK_INT(jit_cert_sign(&s, ca, jit_key_signer, ca, &b),
	    JIT_ERR_INVALID_ARGUMENT);
	CHECK_INT(jit_cert_sign(NULL, ca, jit_key_signer, ca, &b),
	    JIT_ERR_INVALID_ARGUMENT);
	default_spec(&s, user);
	CHECK_INT(jit_cert_sign(&s, NULL, jit_key_signer, ca, &b),
	    JIT_ERR_INVALID_ARGUMENT);
	CHECK_INT(jit_cert_sign(&s, ca, NULL, ca, &b),
	    JIT_ERR_INVALID_ARGUMENT);

	/* 256 principals is the limit; 257 is refused. */
	default_spec(&s, user);
	s.principals = many;
	s.nprincipals = 257;
	CHECK_INT(jit_cert_sign(&s, ca, jit_key_signer, ca, &b),
	    JIT_ERR_INVALID_ARGUMENT);
	CHECK_INT(jit_buf_len(&b), 3);
	s.nprincipals = 256;
	CHECK_OK(jit_cert_sign(&s, ca, jit_key_signer, ca, &b));
	CHECK_OK(jit_cert_parse(jit_buf_ptr(&b) + 3, jit_buf_len(&b) - 3, &c));
	if (c != NULL) {
		CHECK_INT(c->nprincipals, 256);
		CHECK_STR(c->principals[255], "u255");
	}
	jit_cert_free(c);
	c = NULL;
	jit_buf_reset(&b);
	REQUIRE_OK(jit_buf_put(&b, "xyz", 3));

	/* More extensions than the on-stack sort handles, reversed. */
	for (i = 0; i < 40; i++) {
		snprintf(big_names[i], sizeof(big_names[i]), "x%02zu@example",
		    39 - i);
		big_ext[i] = big_names[i];
	}
	default_spec(&s, user);
	s.extensions = big_ext;
	s.nextensions = 40;
	CHECK_OK(jit_cert_sign(&s, ca, jit_key_signer, ca, &b));
	CHECK_OK(jit_cert_parse(jit_buf_ptr(&b) + 3, jit_buf_len(&b) - 3, &c));
	if (c != NULL) {
		CHECK_INT(c->nextensions, 40);
		for (i = 1; i < c->nextensions; i++)
			CHECK(strcmp(c->extensions[i - 1].name,
			    c->extensions[i].name) < 0);
	}
	jit_cert_free(c);
	c = NULL;
	/* Now with one duplicate in the heap-sorted list. */
	snprintf(big_names[7], sizeof(big_names[7]), "%s", big_names[8]);
	CHECK_INT(jit_cert_sign(&s, ca, jit_key_signer, ca, &b),
	    JIT_ERR_INVALID_ARGUMENT);
	jit_buf_reset(&b);
	REQUIRE_OK(jit_buf_put(&b, "xyz", 3));

	/* Signer failures: passed through, nothing appended. */
	default_spec(&s, user);
	signer_calls = 0;
	CHECK_INT(jit_cert_sign(&s, ca, failing_signer, NULL, &b),
	    JIT_ERR_CRYPTO);
	CHECK_INT(jit_buf_len(&b), 3);
	CHECK_INT(jit_cert_sign(&s, rsa_ca, sha1_signer, NULL, &b),
	    JIT_ERR_SIGNATURE_ALG);
	CHECK_INT(jit_buf_len(&b), 3);
	CHECK_INT(jit_cert_sign(&s, ca, garbage_signer, NULL, &b),
	    JIT_ERR_INVALID_FORMAT);
	CHECK_INT(jit_buf_len(&b), 3);
	CHECK_INT(signer_calls, 3);
	/* An RSA CA's signer output under an Ed25519 CA is refused too. */
	CHECK_INT(jit_cert_sign(&s, ca, jit_key_signer, rsa_ca, &b),
	    JIT_ERR_SIGNATURE_ALG);
	CHECK_INT(jit_buf_len(&b), 3);
	/* A public-only CA cannot sign. */
	CHECK(jit_cert_sign(&s, user, jit_key_signer, user, &b) != 0);
	CHECK_INT(jit_buf_len(&b), 3);

	jit_buf_release(&b);
	jit_key_free(ca);
	jit_key_free(rsa_ca);
	jit_key_free(user);
}

/* ---- verification errors ---- */

static void
test_verify_errors(void)
{
	struct jit_key *ca = gen("ed25519"), *other = gen("ecdsa-p256");
	struct jit_key *user = load_pub("user-ed25519.pub");
	struct jit_key *user2 = load_pub("user-rsa2048.pub");
	static const char *const alice[] = { "alice" };
	static const char *const three[] = { "alice", "ops", "root" };
	static const char *const swapped[] = { "ops", "alice" };
	static const char *const other_pair[] = { "alice", "bob" };
	struct jit_cert_spec s;
	struct jit_cert_expect e;
	struct jit_buf b = JIT_BUF_INIT;
	struct jit_cert *c = NULL;

	default_spec(&s, user);
	REQUIRE_OK(jit_cert_sign(&s, ca, jit_key_signer, ca, &b));
	REQUIRE_OK(jit_cert_parse(jit_buf_ptr(&b), jit_buf_len(&b), &c));

	memset(&e, 0, sizeof(e));
	CHECK_OK(jit_cert_verify(c, NULL));
	CHECK_OK(jit_cert_verify(c, &e));
	e.ca = other;
	CHECK_INT(jit_cert_verify(c, &e), JIT_ERR_CERT_WRONG_CA);
	e.ca = ca;
	e.key = user2;
	CHECK_INT(jit_cert_verify(c, &e), JIT_ERR_CERT_WRONG_KEY);
	e.key = user;
	e.now = s.valid_after - 1;
	CHECK_INT(jit_cert_verify(c, &e), JIT_ERR_CERT_NOT_YET_VALID);
	e.now = s.valid_after;
	CHECK_OK(jit_cert_verify(c, &e));
	e.now = s.valid_before - 1;
	CHECK_OK(jit_cert_verify(c, &e));
	e.now = s.valid_before;
	CHECK_INT(jit_cert_verify(c, &e), JIT_ERR_CERT_EXPIRED);
	e.now = s.valid_before + 86400;
	CHECK_INT(jit_cert_verify(c, &e), JIT_ERR_CERT_EXPIRED);
	e.now = s.valid_after + 1;
	e.principals = swapped;
	e.nprincipals = 2;
	CHECK_OK(jit_cert_verify(c, &e));
	e.principals = alice;
	e.nprincipals = 1;
	CHECK_INT(jit_cert_verify(c, &e), JIT_ERR_CERT_PRINCIPALS);
	e.principals = three;
	e.nprincipals = 3;
	CHECK_INT(jit_cert_verify(c, &e), JIT_ERR_CERT_PRINCIPALS);
	e.principals = other_pair;
	e.nprincipals = 2;
	CHECK_INT(jit_cert_verify(c, &e), JIT_ERR_CERT_PRINCIPALS);
	e.principals = alice;
	e.nprincipals = 0;
	CHECK_INT(jit_cert_verify(c, &e), JIT_ERR_CERT_PRINCIPALS);

	/* Corrupted signature: caught first, whatever else is expected. */
	c->blob[c->blob_len - 5] ^= 0x20;
	CHECK_INT(jit_cert_verify_signature(c), JIT_ERR_SIGNATURE_INVALID);
	e.principals = two_principals;
	e.nprincipals = 2;
	CHECK_INT(jit_cert_verify(c, &e), JIT_ERR_SIGNATURE_INVALID);
	CHECK_INT(jit_cert_verify(c, NULL), JIT_ERR_SIGNATURE_INVALID);
	c->blob[c->blob_len - 5] ^= 0x20;
	CHECK_OK(jit_cert_verify(c, &e));
	/* Corrupted signed byte (the serial's low byte). */
	c->blob[c->signed_len - 1] ^= 0x01;   /* inside the CA blob */
	CHECK_INT(jit_cert_verify_signature(c), JIT_ERR_SIGNATURE_INVALID);
	c->blob[c->signed_len - 1] ^= 0x01;

	CHECK_INT(jit_cert_verify(NULL, &e), JIT_ERR_INVALID_ARGUMENT);
	CHECK_INT(jit_cert_verify_signature(NULL), JIT_ERR_INVALID_ARGUMENT);
	jit_cert_free(c);
	jit_cert_free(NULL);
	jit_buf_release(&b);
	jit_key_free(ca);
	jit_key_free(other);
	jit_key_free(user);
	jit_key_free(user2);
}

/* ---- hand-made blobs for the parser ---- */

struct raw {
	const char *certname;
	uint32_t type;
	const char *key_id;
	size_t key_id_len;
	size_t nprincipals;
	const unsigned char *crit;   /* raw section contents */
	size_t critlen;
	const unsigned char *ext;
	size_t extlen;
	int ca_is_cert;              /* signature_key = a cert blob */
	int trailing;
	int sig_trailing;            /* junk after the signature value */
};

static void
raw_cert(const struct raw *w, const struct jit_key *ca,
    const struct jit_key *user, struct jit_buf *out)
{
	struct jit_buf p = JIT_BUF_INIT, sig = JIT_BUF_INIT, cab = JIT_BUF_INIT;
	unsigned char nonce[32] = { 7 };
	const unsigned char *blob;
	char name[32];
	size_t len, i;

	jit_buf_reset(out);
	REQUIRE_OK(jit_buf_put_cstring(out, w->certname ? w->certname :
	    jit_key_type_cert_name(jit_key_type(user))));
	REQUIRE_OK(jit_buf_put_string(out, nonce, sizeof(nonce)));
	REQUIRE_OK(jit_key_put_public_fields(user, out));
	REQUIRE_OK(jit_buf_put_u64(out, 77));
	REQUIRE_OK(jit_buf_put_u32(out, w->type ? w->type : 1));
	REQUIRE_OK(jit_buf_put_string(out, w->key_id ? w->key_id : "id",
	    w->key_id ? w->key_id_len : 2));
	for (i = 0; i < w->nprincipals; i++) {
		snprintf(name, sizeof(name), "p%zu", i);
		REQUIRE_OK(jit_buf_put_cstring(&p, name));
	}
	REQUIRE_OK(jit_buf_put_stringb(out, &p));
	REQUIRE_OK(jit_buf_put_u64(out, 0));
	REQUIRE_OK(jit_buf_put_u64(out, UINT64_MAX));
	REQUIRE_OK(jit_buf_put_string(out, w->crit, w->critlen));
	REQUIRE_OK(jit_buf_put_string(out, w->ext, w->extlen));
	REQUIRE_OK(jit_buf_put_string(out, NULL, 0));
	if (w->ca_is_cert) {
		struct raw inner;

		memset(&inner, 0, sizeof(inner));
		inner.nprincipals = 1;
		raw_cert(&inner, ca, ca, &cab);
		REQUIRE_OK(jit_buf_put_stringb(out, &cab));
	} else {
		REQUIRE_OK(jit_key_public_blob(ca, &blob, &len));
		REQUIRE_OK(jit_buf_put_string(out, blob, len));
	}
	REQUIRE_OK(jit_key_sign(ca, jit_buf_ptr(out), jit_buf_len(out), &sig));
	if (w->sig_trailing)
		REQUIRE_OK(jit_buf_put_u8(&sig, 0));
	REQUIRE_OK(jit_buf_put_stringb(out, &sig));
	if (w->trailing)
		REQUIRE_OK(jit_buf_put_u8(out, 0));
	jit_buf_release(&p);
	jit_buf_release(&sig);
	jit_buf_release(&cab);
}

static int
raw_parse(const struct raw *w, const struct jit_key *ca,
    const struct jit_key *user, struct jit_cert **c)
{
	struct jit_buf b = JIT_BUF_INIT;
	int r;

	raw_cert(w, ca, user, &b);
	r = jit_cert_parse(jit_buf_ptr(&b), jit_buf_len(&b), c);
	jit_buf_release(&b);
	return r;
}

/* Option section from "name", "\x01data" pairs: data NULL = flag. */
static void
opts(struct jit_buf *b, const char *const *names, const char *const *data,
    size_t n)
{
	jit_buf_reset(b);
	for (size_t i = 0; i < n; i++) {
		REQUIRE_OK(jit_buf_put_cstring(b, names[i]));
		if (data[i] == NULL)
			REQUIRE_OK(jit_buf_put_u32(b, 0));
		else
			REQUIRE_OK(jit_buf_put_string(b, data[i],
			    strlen(data[i])));
	}
}

static void
test_parse_malformed(void)
{
	struct jit_key *ca = gen("ed25519"), *user = load_pub(
	    "user-ed25519.pub");
	struct jit_key *rsa = load_pub("user-rsa2048.pub");
	struct jit_buf o = JIT_BUF_INIT;
	struct jit_cert *c = NULL;
	struct raw w;
	static const char *const unsorted[] = { "permit-pty",
	    "permit-X11-forwarding" };
	static const char *const dup[] = { "permit-pty", "permit-pty" };
	static const char *const fc[] = { "force-command" };
	static const char *const pty[] = { "permit-pty" };
	static const char *const nul_name[] = { "permit\0pty" };
	static const char *const two_null[] = { NULL, NULL };
	static const char *const one_null[] = { NULL };
	const char *d[1];

#define BASE() do { memset(&w, 0, sizeof(w)); w.nprincipals = 1; } while (0)
	BASE();
	CHECK_OK(raw_parse(&w, ca, user, &c));
	if (c != NULL)
		CHECK_OK(jit_cert_verify(c, NULL));
	jit_cert_free(c);
	c = NULL;

	/* Principals: 0 and 256 parse, 257 does not. */
	BASE();
	w.nprincipals = 0;
	CHECK_OK(raw_parse(&w, ca, user, &c));
	if (c != NULL)
		CHECK_INT(c->nprincipals, 0);
	jit_cert_free(c);
	c = NULL;
	w.nprincipals = 256;
	CHECK_OK(raw_parse(&w, ca, user, &c));
	jit_cert_free(c);
	c = NULL;
	w.nprincipals = 257;
	CHECK_INT(raw_parse(&w, ca, user, &c), JIT_ERR_CERT_INVALID);
	CHECK(c == NULL);

	/* Types: 2 parses (host) but does not verify as a user cert. */
	BASE();
	w.type = 2;
	CHECK_OK(raw_parse(&w, ca, user, &c));
	if (c != NULL)
		CHECK_INT(jit_cert_verify(c, NULL), JIT_ERR_CERT_TYPE);
	jit_cert_free(c);
	c = NULL;
	w.type = 3;
	CHECK_INT(raw_parse(&w, ca, user, &c), JIT_ERR_CERT_TYPE);

	/* Key ID with a NUL. */
	BASE();
	w.key_id = "ab\0cd";
	w.key_id_len = 5;
	CHECK_INT(raw_parse(&w, ca, user, &c), JIT_ERR_NUL_IN_STRING);

	/* Cert type name: plain key, unknown, DSA, mismatched fields. */
	BASE();
	w.certname = "ssh-ed25519";
	CHECK_INT(raw_parse(&w, ca, user, &c), JIT_ERR_CERT_INVALID);
	w.certname = "ssh-foo-cert-v01@openssh.com";
	CHECK_INT(raw_parse(&w, ca, user, &c), JIT_ERR_KEY_TYPE_UNKNOWN);
	w.certname = "ssh-dss-cert-v01@openssh.com";
	CHECK_INT(raw_parse(&w, ca, user, &c), JIT_ERR_KEY_TYPE_UNSUPPORTED);
	w.certname = "ssh-rsa-cert-v01@openssh.com";   /* Ed25519 fields */
	CHECK(raw_parse(&w, ca, user, &c) != 0);
	CHECK(c == NULL);
	w.certname = "ssh-ed25519-cert-v01@openssh.com";   /* RSA fields */
	CHECK(raw_parse(&w, ca, rsa, &c) != 0);
	CHECK(c == NULL);

	/* CA key that is itself a cert; trailing data in and after. */
	BASE();
	w.ca_is_cert = 1;
	CHECK_INT(raw_parse(&w, ca, user, &c), JIT_ERR_KEY_IS_CERT);
	BASE();
	w.trailing = 1;
	CHECK_INT(raw_parse(&w, ca, user, &c), JIT_ERR_TRAILING_DATA);
	BASE();
	w.sig_trailing = 1;
	CHECK_INT(raw_parse(&w, ca, user, &c), JIT_ERR_TRAILING_DATA);

	/* Options: unsorted accepted, duplicates refused. */
	BASE();
	opts(&o, unsorted, two_null, 2);
	w.ext = jit_buf_ptr(&o);
	w.extlen = jit_buf_len(&o);
	CHECK_OK(raw_parse(&w, ca, user, &c));
	if (c != NULL) {
		CHECK_INT(c->nextensions, 2);
		CHECK_STR(c->extensions[0].name, "permit-pty");
	}
	jit_cert_free(c);
	c = NULL;
	opts(&o, dup, two_null, 2);
	w.ext = jit_buf_ptr(&o);
	w.extlen = jit_buf_len(&o);
	CHECK_INT(raw_parse(&w, ca, user, &c), JIT_ERR_CERT_OPTION);
	BASE();
	w.crit = jit_buf_ptr(&o);
	w.critlen = jit_buf_len(&o);
	CHECK_INT(raw_parse(&w, ca, user, &c), JIT_ERR_CERT_OPTION);
	/* Option name with a NUL. */
	BASE();
	jit_buf_reset(&o);
	REQUIRE_OK(jit_buf_put_string(&o, nul_name[0], 10));
	REQUIRE_OK(jit_buf_put_u32(&o, 0));
	w.ext = jit_buf_ptr(&o);
	w.extlen = jit_buf_len(&o);
	CHECK_INT(raw_parse(&w, ca, user, &c), JIT_ERR_CERT_OPTION);
	/* Truncated option section. */
	BASE();
	opts(&o, pty, one_null, 1);
	w.ext = jit_buf_ptr(&o);
	w.extlen = jit_buf_len(&o) - 1;
	CHECK_INT(raw_parse(&w, ca, user, &c), JIT_ERR_MESSAGE_INCOMPLETE);

	/* force-command must wrap exactly one NUL-free string. */
	BASE();
	d[0] = "\0\0\0\x03" "abc";
	jit_buf_reset(&o);
	REQUIRE_OK(jit_buf_put_cstring(&o, "force-command"));
	REQUIRE_OK(jit_buf_put_string(&o, d[0], 7));
	w.crit = jit_buf_ptr(&o);
	w.critlen = jit_buf_len(&o);
	CHECK_OK(raw_parse(&w, ca, user, &c));
	if (c != NULL && c->ncritical == 1) {
		CHECK_INT(c->critical[0].len, 3);
		CHECK_STR((char *)c->critical[0].data, "abc");
	}
	jit_cert_free(c);
	c = NULL;
	/* unwrapped value */
	d[0] = "/bin/true";
	opts(&o, fc, d, 1);
	w.crit = jit_buf_ptr(&o);
	w.critlen = jit_buf_len(&o);
	CHECK_INT(raw_parse(&w, ca, user, &c), JIT_ERR_CERT_OPTION);
	/* empty data */
	opts(&o, fc, one_null, 1);
	w.crit = jit_buf_ptr(&o);
	w.critlen = jit_buf_len(&o);
	CHECK_INT(raw_parse(&w, ca, user, &c), JIT_ERR_CERT_OPTION);
	/* trailing byte inside the wrapper */
	jit_buf_reset(&o);
	REQUIRE_OK(jit_buf_put_cstring(&o, "force-command"));
	REQUIRE_OK(jit_buf_put_string(&o, "\0\0\0\x01" "ab", 6));
	w.crit = jit_buf_ptr(&o);
	w.critlen = jit_buf_len(&o);
	CHECK_INT(raw_parse(&w, ca, user, &c), JIT_ERR_CERT_OPTION);
	/* NUL inside the value */
	jit_buf_reset(&o);
	REQUIRE_OK(jit_buf_put_cstring(&o, "force-command"));
	REQUIRE_OK(jit_buf_put_string(&o, "\0\0\0\x02" "a\0", 6));
	w.crit = jit_buf_ptr(&o);
	w.critlen = jit_buf_len(&o);
	CHECK_INT(raw_parse(&w, ca, user, &c), JIT_ERR_CERT_OPTION);
	/* A flag carrying data keeps it as given; so does force-command in
	 * the extensions section, where it has no meaning. */
	BASE();
	d[0] = "xy";
	opts(&o, pty, d, 1);
	w.ext = jit_buf_ptr(&o);
	w.extlen = jit_buf_len(&o);
	CHECK_OK(raw_parse(&w, ca, user, &c));
	if (c != NULL && c->nextensions == 1) {
		CHECK_INT(c->extensions[0].len, 2);
		CHECK_STR((char *)c->extensions[0].data, "xy");
	}
	jit_cert_free(c);
	c = NULL;
	opts(&o, fc, d, 1);
	w.ext = jit_buf_ptr(&o);
	w.extlen = jit_buf_len(&o);
	CHECK_OK(raw_parse(&w, ca, user, &c));
	jit_cert_free(c);
	c = NULL;
#undef BASE

	CHECK_INT(jit_cert_parse(NULL, 0, &c), JIT_ERR_MESSAGE_INCOMPLETE);
	CHECK_INT(jit_cert_parse((const unsigned char *)"", 0, NULL),
	    JIT_ERR_INVALID_ARGUMENT);
	jit_buf_release(&o);
	jit_key_free(ca);
	jit_key_free(user);
	jit_key_free(rsa);
}

static void
test_lines(void)
{
	struct jit_cert *c = NULL;
	char *line = read_line_file("opts-by-ed25519-cert.pub"), *p;
	char *key = read_line_file("user-ed25519.pub");
	char *tmp;
	size_t n = strlen(line);

	/* Leading and trailing blanks, no comment. */
	tmp = malloc(n + 8);
	REQUIRE(tmp != NULL);
	snprintf(tmp, n + 8, "  \t%s", line);
	CHECK_OK(jit_cert_parse_line(tmp, &c));
	jit_cert_free(c);
	c = NULL;
	/* Drop the comment: cut after the base64. */
	p = strchr(line, ' ');
	REQUIRE(p != NULL);
	p = strchr(p + 1, ' ');
	if (p != NULL)
		*p = '\0';
	CHECK_OK(jit_cert_parse_line(line, &c));
	jit_cert_free(c);
	c = NULL;
	/* Type on the line differs from the blob. */
	snprintf(tmp, n + 8, "ecdsa-sha2-nistp256-cert-v01@openssh.com %s",
	    strchr(line, ' ') + 1);
	CHECK_INT(jit_cert_parse_line(tmp, &c), JIT_ERR_INVALID_FORMAT);
	/* Broken base64. */
	snprintf(tmp, n + 8, "%s", line);
	tmp[strlen(tmp) - 3] = '!';
	CHECK_INT(jit_cert_parse_line(tmp, &c), JIT_ERR_INVALID_FORMAT);
	CHECK(c == NULL);
	/* A plain key line, empty lines. */
	CHECK_INT(jit_cert_parse_line(key, &c), JIT_ERR_CERT_INVALID);
	CHECK_INT(jit_cert_parse_line("", &c), JIT_ERR_INVALID_FORMAT);
	CHECK_INT(jit_cert_parse_line("ssh-ed25519-cert-v01@openssh.com", &c),
	    JIT_ERR_INVALID_FORMAT);
	CHECK_INT(jit_cert_parse_line(NULL, &c), JIT_ERR_INVALID_ARGUMENT);
	/* Format refuses a comment that would start a new line and a blob
	 * that is not a cert. */
	CHECK_INT(jit_cert_format((const unsigned char *)"\0\0\0\x0bssh-ed25519",
	    15, NULL, &p), JIT_ERR_CERT_INVALID);
	CHECK(p == NULL);
	{
		struct jit_cert *c2 = NULL;

		REQUIRE_OK(jit_cert_parse_line(line, &c2));
		CHECK_INT(jit_cert_format(c2->blob, c2->blob_len, "a\nb", &p),
		    JIT_ERR_INVALID_ARGUMENT);
		jit_cert_free(c2);
	}
	free(tmp);
	free(line);
	free(key);
}

/* ---- host certificates ---- */

static void
test_host_certs(void)
{
	static const char *const hosts[] = { "web1.example.com", "10.0.0.5" };
	struct jit_key *ca = gen("ed25519"), *hostkey = gen("ecdsa-p256");
	struct jit_cert_spec s;
	struct jit_cert_expect e;
	struct jit_buf b = JIT_BUF_INIT;
	struct jit_cert *c = NULL;
	char *line = NULL;
	FILE *f;
	char out[4096];
	size_t n;

	memset(&s, 0, sizeof(s));
	s.type = JIT_CERT_TYPE_HOST;
	s.key = hostkey;
	s.serial = 7;
	s.key_id = "h-1";
	s.principals = hosts;
	s.nprincipals = 2;
	s.valid_after = 1900000000;
	s.valid_before = 1902592000;
	REQUIRE_OK(jit_cert_sign(&s, ca, jit_key_signer, ca, &b));
	REQUIRE_OK(jit_cert_parse(jit_buf_ptr(&b), jit_buf_len(&b), &c));
	CHECK_INT(c->type, JIT_CERT_TYPE_HOST);
	CHECK_INT(c->ncritical, 0);
	CHECK_INT(c->nextensions, 0);
	CHECK_INT(c->nprincipals, 2);
	CHECK_STR(c->principals[1], "10.0.0.5");

	/* A host certificate passes only when a host one is expected. */
	memset(&e, 0, sizeof(e));
	CHECK_INT(jit_cert_verify(c, NULL), JIT_ERR_CERT_TYPE);
	CHECK_INT(jit_cert_verify(c, &e), JIT_ERR_CERT_TYPE);
	e.type = JIT_CERT_TYPE_USER;
	CHECK_INT(jit_cert_verify(c, &e), JIT_ERR_CERT_TYPE);
	e.type = JIT_CERT_TYPE_HOST;
	e.ca = ca;
	e.key = hostkey;
	e.now = s.valid_after + 1;
	e.principals = hosts;
	e.nprincipals = 2;
	CHECK_OK(jit_cert_verify(c, &e));
	e.now = s.valid_before;
	CHECK_INT(jit_cert_verify(c, &e), JIT_ERR_CERT_EXPIRED);
	jit_cert_free(c);
	c = NULL;

	/* ssh-keygen reads it as a host certificate. */
	CHECK_OK(jit_cert_format(jit_buf_ptr(&b), jit_buf_len(&b), NULL,
	    &line));
	REQUIRE(line != NULL);
	snprintf(out, sizeof(out), "f=$(mktemp) && printf '%%s\\n' '%s' "
	    ">\"$f\" && ssh-keygen -L -f \"$f\" | grep -c 'host "
	    "certificate'; rm -f \"$f\"", line);
	f = popen(out, "r");
	REQUIRE(f != NULL);
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	pclose(f);
	CHECK_STR(out, "1\n");

	/* Options, and types other than user and host, are refused. */
	s.extensions = ext_unsorted;
	s.nextensions = 1;
	CHECK_INT(jit_cert_sign(&s, ca, jit_key_signer, ca, &b),
	    JIT_ERR_INVALID_ARGUMENT);
	s.nextensions = 0;
	s.force_command = "/bin/true";
	CHECK_INT(jit_cert_sign(&s, ca, jit_key_signer, ca, &b),
	    JIT_ERR_INVALID_ARGUMENT);
	s.force_command = NULL;
	s.source_address = "10.0.0.0/8";
	CHECK_INT(jit_cert_sign(&s, ca, jit_key_signer, ca, &b),
	    JIT_ERR_INVALID_ARGUMENT);
	s.source_address = NULL;
	s.type = 3;
	CHECK_INT(jit_cert_sign(&s, ca, jit_key_signer, ca, &b),
	    JIT_ERR_INVALID_ARGUMENT);
	free(line);
	jit_buf_release(&b);
	jit_key_free(ca);
	jit_key_free(hostkey);
}

int
main(void)
{
	test_kat();
	test_round_trips();
	test_append_and_sizes();
	test_sign_refusals();
	test_verify_errors();
	test_parse_malformed();
	test_lines();
	test_host_certs();
	TEST_DONE();
}
