/*
 * test-key.c - unit tests for ca/key.c.
 *
 * Runs with the tests/ directory as working directory; the reference keys
 * in unit/data/keys were made by unit/data/keys/make-keys.sh with
 * ssh-keygen.  Interoperability is checked both ways with the real
 * ssh-keygen: it must read our saved private keys (-y) and verify our
 * signatures (-Y check-novalidate), and we must verify its signatures.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sodium.h>

#include "buf.h"
#include "err.h"
#include "key.h"
#include "util.h"
#include "test.h"

#define KEYDIR "unit/data/keys/"

static char tmpdir[] = "/tmp/jit-test-key-XXXXXX";
static int have_ssh_keygen;

static const enum jit_key_type all_types[] = {
	JIT_KEY_ED25519, JIT_KEY_ECDSA_P256, JIT_KEY_ECDSA_P384,
	JIT_KEY_ECDSA_P521, JIT_KEY_RSA };
#define NTYPES (sizeof(all_types) / sizeof(all_types[0]))

static char *
tmppath(const char *name)
{
	static char p[4][512];
	static int i;

	i = (i + 1) % 4;
	snprintf(p[i], sizeof(p[i]), "%s/%s", tmpdir, name);
	return p[i];
}

static char *
read_text(const char *path)
{
	unsigned char *d = NULL;
	char *s;
	size_t len;

	if (jit_read_file(path, 1 << 20, &d, &len) != 0)
		return NULL;
	/* Return a copy: once this is inlined, gcc 12 -O2 cannot rule out
	 * that jit_read_file stored &d in d and warns that the result may
	 * point to the dead local (-Wdangling-pointer). */
	s = jit_strdup((const char *)d);
	free(d);
	return s;
}

/* Run a shell command, return its exit status (or -1). */
static int
run(const char *cmd)
{
	int st = system(cmd);

	if (st == -1 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

/* First line printed by a command, without newline; NULL on failure. */
static char *
run_line(const char *cmd)
{
	FILE *f = popen(cmd, "r");
	char line[8192];
	char *ret = NULL;

	if (f == NULL)
		return NULL;
	if (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		ret = jit_strdup(line);
	}
	if (pclose(f) != 0) {
		free(ret);
		ret = NULL;
	}
	return ret;
}

/* "TYPE BASE64" part of a key line (drops the comment). */
static void
strip_comment(char *line)
{
	char *sp = strchr(line, ' ');

	if (sp != NULL && (sp = strchr(sp + 1, ' ')) != NULL)
		*sp = '\0';
}

static void
test_names(void)
{
	CHECK_STR(jit_key_type_ssh_name(JIT_KEY_ED25519), "ssh-ed25519");
	CHECK_STR(jit_key_type_ssh_name(JIT_KEY_ECDSA_P256),
	    "ecdsa-sha2-nistp256");
	CHECK_STR(jit_key_type_ssh_name(JIT_KEY_ECDSA_P384),
	    "ecdsa-sha2-nistp384");
	CHECK_STR(jit_key_type_ssh_name(JIT_KEY_ECDSA_P521),
	    "ecdsa-sha2-nistp521");
	CHECK_STR(jit_key_type_ssh_name(JIT_KEY_RSA), "ssh-rsa");
	CHECK(jit_key_type_ssh_name(JIT_KEY_UNKNOWN) == NULL);
	CHECK_STR(jit_key_type_cert_name(JIT_KEY_ED25519),
	    "ssh-ed25519-cert-v01@openssh.com");
	CHECK_STR(jit_key_type_cert_name(JIT_KEY_ECDSA_P521),
	    "ecdsa-sha2-nistp521-cert-v01@openssh.com");
	CHECK_STR(jit_key_type_cert_name(JIT_KEY_RSA),
	    "ssh-rsa-cert-v01@openssh.com");
	CHECK(jit_key_type_cert_name(JIT_KEY_UNKNOWN) == NULL);
	CHECK_STR(jit_key_type_short_name(JIT_KEY_ED25519), "ed25519");
	CHECK_STR(jit_key_type_short_name(JIT_KEY_ECDSA_P384), "ecdsa-p384");
	CHECK_STR(jit_key_type_short_name(JIT_KEY_RSA), "rsa");
	CHECK(jit_key_type_short_name(JIT_KEY_UNKNOWN) == NULL);
	CHECK_STR(jit_key_type_family(JIT_KEY_ECDSA_P521), "ecdsa");
	CHECK_STR(jit_key_type_family(JIT_KEY_ED25519), "ed25519");
	CHECK_STR(jit_key_type_family(JIT_KEY_RSA), "rsa");
	CHECK(jit_key_type_family(JIT_KEY_UNKNOWN) == NULL);
	CHECK_INT(jit_key_type_from_short_name("ecdsa"), JIT_KEY_ECDSA_P256);
	CHECK_INT(jit_key_type_from_short_name("ecdsa-p521"),
	    JIT_KEY_ECDSA_P521);
	CHECK_INT(jit_key_type_from_short_name("ed25519"), JIT_KEY_ED25519);
	CHECK_INT(jit_key_type_from_short_name("rsa"), JIT_KEY_RSA);
	CHECK_INT(jit_key_type_from_short_name("dsa"), JIT_KEY_UNKNOWN);
	CHECK_INT(jit_key_type_from_short_name(""), JIT_KEY_UNKNOWN);
	CHECK_INT(jit_key_type_from_short_name(NULL), JIT_KEY_UNKNOWN);
	CHECK_INT(jit_key_type_from_ssh_name("ssh-rsa", 7), JIT_KEY_RSA);
	CHECK_INT(jit_key_type_from_ssh_name("ssh-rsa-xx", 7), JIT_KEY_RSA);
	CHECK_INT(jit_key_type_from_ssh_name("ssh-rs", 6), JIT_KEY_UNKNOWN);
	CHECK_INT(jit_key_type_from_ssh_name("ecdsa-sha2-nistp384", 19),
	    JIT_KEY_ECDSA_P384);
	CHECK_INT(jit_key_type_from_ssh_name("ssh-dss", 7), JIT_KEY_UNKNOWN);
	CHECK_INT(jit_key_type_from_ssh_name("rsa-sha2-512", 12),
	    JIT_KEY_UNKNOWN);
	for (size_t i = 0; i < NTYPES; i++) {
		const char *n = jit_key_type_ssh_name(all_types[i]);
		CHECK_INT(jit_key_type_from_ssh_name(n, strlen(n)),
		    all_types[i]);
		CHECK_INT(jit_key_type_from_short_name(
		    jit_key_type_short_name(all_types[i])), all_types[i]);
	}
	CHECK_INT(jit_key_type(NULL), JIT_KEY_UNKNOWN);
	CHECK_INT(jit_key_has_private(NULL), 0);
	CHECK_INT(jit_key_bits(NULL), 0);
	jit_key_free(NULL);
}

/* Wrap a signature in an sshsig armour so ssh-keygen -Y can check it. */
static int
sshsig_signed_data(const char *ns, const char *msg, struct jit_buf *out)
{
	unsigned char h[crypto_hash_sha512_BYTES];
	int r;

	crypto_hash_sha512(h, (const unsigned char *)msg, strlen(msg));
	if ((r = jit_buf_put(out, "SSHSIG", 6)) != 0 ||
	    (r = jit_buf_put_cstring(out, ns)) != 0 ||
	    (r = jit_buf_put_cstring(out, "")) != 0 ||
	    (r = jit_buf_put_cstring(out, "sha512")) != 0 ||
	    (r = jit_buf_put_string(out, h, sizeof(h))) != 0)
		return r;
	return 0;
}

/* Our signature must be accepted by ssh-keygen -Y check-novalidate. */
static void
check_sig_with_ssh_keygen(const struct jit_key *k, const char *tag)
{
	struct jit_buf sd = JIT_BUF_INIT, sig = JIT_BUF_INIT,
	    blob = JIT_BUF_INIT, text = JIT_BUF_INIT;
	const char *msg = "message signed by jit-ssh\n";
	char *b64 = NULL, cmd[2048];
	char msgpath[600], sigpath[600];

	if (!have_ssh_keygen)
		return;
	snprintf(msgpath, sizeof(msgpath), "%s", tmppath("msg"));
	snprintf(sigpath, sizeof(sigpath), "%s-%s.sig", tmppath("our"), tag);
	REQUIRE_OK(jit_write_file_atomic(msgpath, msg, strlen(msg), 0600, 0));
	REQUIRE_OK(sshsig_signed_data("file", msg, &sd));
	REQUIRE_OK(jit_key_sign(k, jit_buf_ptr(&sd), jit_buf_len(&sd), &sig));
	REQUIRE_OK(jit_buf_put(&blob, "SSHSIG", 6));
	REQUIRE_OK(jit_buf_put_u32(&blob, 1));
	REQUIRE_OK(jit_key_put_public(k, &blob));
	REQUIRE_OK(jit_buf_put_cstring(&blob, "file"));
	REQUIRE_OK(jit_buf_put_cstring(&blob, ""));
	REQUIRE_OK(jit_buf_put_cstring(&blob, "sha512"));
	REQUIRE_OK(jit_buf_put_stringb(&blob, &sig));
	REQUIRE_OK(jit_b64_encode(jit_buf_ptr(&blob), jit_buf_len(&blob),
	    &b64));
	REQUIRE_OK(jit_buf_put_cstring(&text, ""));   /* placeholder */
	jit_buf_reset(&text);
	REQUIRE_OK(jit_buf_put(&text, "-----BEGIN SSH SIGNATURE-----\n", 30));
	for (size_t i = 0, n = strlen(b64); i < n; i += 70) {
		REQUIRE_OK(jit_buf_put(&text, b64 + i, n - i < 70 ? n - i : 70));
		REQUIRE_OK(jit_buf_put_u8(&text, '\n'));
	}
	REQUIRE_OK(jit_buf_put(&text, "-----END SSH SIGNATURE-----\n", 28));
	REQUIRE_OK(jit_write_file_atomic(sigpath, jit_buf_ptr(&text),
	    jit_buf_len(&text), 0600, 0));
	snprintf(cmd, sizeof(cmd), "ssh-keygen -Y check-novalidate -n file "
	    "-s '%s' < '%s' >/dev/null 2>&1", sigpath, msgpath);
	if (run(cmd) != 0) {
		fprintf(stderr, "ssh-keygen rejected our %s signature\n", tag);
		CHECK(0);
	} else
		CHECK(1);
	/* And the wrong namespace must fail, so the check means something. */
	snprintf(cmd, sizeof(cmd), "ssh-keygen -Y check-novalidate -n other "
	    "-s '%s' < '%s' >/dev/null 2>&1", sigpath, msgpath);
	CHECK(run(cmd) != 0);
	free(b64);
	jit_buf_release(&sd);
	jit_buf_release(&sig);
	jit_buf_release(&blob);
	jit_buf_release(&text);
}

/* ssh-keygen -Y sign with keyfile; our verify must accept it. */
static void
check_ssh_keygen_sig(const struct jit_key *k, const char *keyfile)
{
	const char *msg = "message signed by ssh-keygen\n";
	struct jit_buf sd = JIT_BUF_INIT, text = JIT_BUF_INIT, b;
	char cmd[2048], msgpath[600], sigpath[640], keypath[600];
	char *armour = NULL, *p, *q;
	unsigned char *bin = NULL, *key = NULL;
	const unsigned char *pub, *sig;
	size_t binlen, keylen, publen, siglen;
	const unsigned char *kb;
	size_t kblen;
	uint32_t ver;

	if (!have_ssh_keygen)
		return;
	/* ssh-keygen insists on mode 0600; git does not keep it. */
	snprintf(keypath, sizeof(keypath), "%s", tmppath("refkey"));
	unlink(keypath);
	REQUIRE_OK(jit_read_file(keyfile, 1 << 20, &key, &keylen));
	REQUIRE_OK(jit_write_file_atomic(keypath, key, keylen, 0600, 1));
	free(key);
	/* For a PEM key ssh-keygen wants the .pub beside it. */
	{
		char pubsrc[600], pubdst[640];
		snprintf(pubsrc, sizeof(pubsrc), "%s.pub", keyfile);
		snprintf(pubdst, sizeof(pubdst), "%s.pub", keypath);
		unlink(pubdst);
		REQUIRE_OK(jit_read_file(pubsrc, 1 << 20, &key, &keylen));
		REQUIRE_OK(jit_write_file_atomic(pubdst, key, keylen, 0644, 1));
		free(key);
	}
	snprintf(msgpath, sizeof(msgpath), "%s", tmppath("kgmsg"));
	snprintf(sigpath, sizeof(sigpath), "%s.sig", msgpath);
	unlink(sigpath);
	REQUIRE_OK(jit_write_file_atomic(msgpath, msg, strlen(msg), 0600, 0));
	snprintf(cmd, sizeof(cmd), "ssh-keygen -q -Y sign -f '%s' -n file "
	    "'%s' >/dev/null 2>&1", keypath, msgpath);
	if (run(cmd) != 0) {
		fprintf(stderr, "ssh-keygen -Y sign failed for %s\n", keyfile);
		CHECK(0);
		goto out;
	}
	REQUIRE((armour = read_text(sigpath)) != NULL);
	p = strchr(armour, '\n');
	q = strstr(armour, "-----END");
	REQUIRE(p != NULL && q != NULL);
	for (p++; p < q; p++)
		if (*p != '\n')
			REQUIRE_OK(jit_buf_put_u8(&text, (unsigned char)*p));
	REQUIRE_OK(jit_b64_decode((const char *)jit_buf_ptr(&text),
	    jit_buf_len(&text), &bin, &binlen));
	jit_buf_view(&b, bin, binlen);
	REQUIRE_OK(jit_buf_skip(&b, 6));
	REQUIRE_OK(jit_buf_get_u32(&b, &ver));
	REQUIRE_OK(jit_buf_get_string_direct(&b, &pub, &publen));
	REQUIRE_OK(jit_key_public_blob(k, &kb, &kblen));
	CHECK(publen == kblen && memcmp(pub, kb, kblen) == 0);
	REQUIRE_OK(jit_buf_get_string_direct(&b, NULL, NULL));  /* ns */
	REQUIRE_OK(jit_buf_get_string_direct(&b, NULL, NULL));  /* reserved */
	REQUIRE_OK(jit_buf_get_string_direct(&b, NULL, NULL));  /* sha512 */
	REQUIRE_OK(jit_buf_get_string_direct(&b, &sig, &siglen));
	REQUIRE_OK(sshsig_signed_data("file", msg, &sd));
	CHECK_OK(jit_key_verify(k, sig, siglen, jit_buf_ptr(&sd),
	    jit_buf_len(&sd)));
	CHECK_INT(jit_key_verify(k, sig, siglen, jit_buf_ptr(&sd),
	    jit_buf_len(&sd) - 1), JIT_ERR_SIGNATURE_INVALID);
out:
	unlink(keypath);
	free(armour);
	free(bin);
	jit_buf_release(&sd);
	jit_buf_release(&text);
}

static void
check_sign_verify(const struct jit_key *k)
{
	struct jit_buf sig = JIT_BUF_INIT, b;
	const unsigned char msg[] = "the quick brown fox";
	unsigned char *bad;
	const unsigned char *alg;
	size_t alen;

	REQUIRE_OK(jit_key_sign(k, msg, sizeof(msg), &sig));
	CHECK_OK(jit_key_verify(k, jit_buf_ptr(&sig), jit_buf_len(&sig), msg,
	    sizeof(msg)));
	CHECK_INT(jit_key_verify(k, jit_buf_ptr(&sig), jit_buf_len(&sig), msg,
	    sizeof(msg) - 1), JIT_ERR_SIGNATURE_INVALID);
	/* algorithm name */
	jit_buf_view(&b, jit_buf_ptr(&sig), jit_buf_len(&sig));
	REQUIRE_OK(jit_buf_get_string_direct(&b, &alg, &alen));
	if (jit_key_type(k) == JIT_KEY_RSA)
		CHECK(alen == 12 && memcmp(alg, "rsa-sha2-512", 12) == 0);
	else
		CHECK(alen == strlen(jit_key_type_ssh_name(jit_key_type(k))) &&
		    memcmp(alg, jit_key_type_ssh_name(jit_key_type(k)),
		    alen) == 0);
	/* flip each of a few bytes at the end (the signature value) */
	REQUIRE((bad = malloc(jit_buf_len(&sig) + 1)) != NULL);
	for (size_t i = 1; i <= 8; i++) {
		memcpy(bad, jit_buf_ptr(&sig), jit_buf_len(&sig));
		bad[jit_buf_len(&sig) - i] ^= 0x01;
		CHECK_INT(jit_key_verify(k, bad, jit_buf_len(&sig), msg,
		    sizeof(msg)), JIT_ERR_SIGNATURE_INVALID);
	}
	/* trailing byte, truncation */
	memcpy(bad, jit_buf_ptr(&sig), jit_buf_len(&sig));
	bad[jit_buf_len(&sig)] = 0;
	CHECK_INT(jit_key_verify(k, bad, jit_buf_len(&sig) + 1, msg,
	    sizeof(msg)), JIT_ERR_SIGNATURE_INVALID);
	for (size_t n = 0; n < jit_buf_len(&sig); n += 7)
		CHECK_INT(jit_key_verify(k, bad, n, msg, sizeof(msg)),
		    JIT_ERR_SIGNATURE_INVALID);
	/* empty message */
	jit_buf_reset(&sig);
	REQUIRE_OK(jit_key_sign(k, NULL, 0, &sig));
	CHECK_OK(jit_key_verify(k, jit_buf_ptr(&sig), jit_buf_len(&sig), NULL,
	    0));
	/* signer callback appends to what is there */
	jit_buf_reset(&sig);
	REQUIRE_OK(jit_buf_put_u32(&sig, 0xdeadbeef));
	REQUIRE_OK(jit_key_signer((void *)k, msg, sizeof(msg), &sig));
	CHECK_OK(jit_key_verify(k, jit_buf_ptr(&sig) + 4,
	    jit_buf_len(&sig) - 4, msg, sizeof(msg)));
	free(bad);
	jit_buf_release(&sig);
}

/* Everything a generated key must do, for one type. */
static void
test_generated(enum jit_key_type t)
{
	struct jit_key *k = NULL, *k2 = NULL, *pub = NULL;
	struct jit_buf b = JIT_BUF_INIT, v;
	const unsigned char *blob, *blob2;
	size_t len, len2;
	char *line = NULL, *fp = NULL, *cmt = NULL, *path, *out = NULL;
	char cmd[1024], name[64];
	struct stat st;

	REQUIRE_OK(jit_key_generate(t, 0, &k));
	CHECK_INT(jit_key_type(k), t);
	CHECK(jit_key_has_private(k));
	switch (t) {
	case JIT_KEY_ED25519: CHECK_INT(jit_key_bits(k), 256); break;
	case JIT_KEY_ECDSA_P256: CHECK_INT(jit_key_bits(k), 256); break;
	case JIT_KEY_ECDSA_P384: CHECK_INT(jit_key_bits(k), 384); break;
	case JIT_KEY_ECDSA_P521: CHECK_INT(jit_key_bits(k), 521); break;
	case JIT_KEY_RSA: CHECK_INT(jit_key_bits(k), 3072); break;
	default: CHECK(0);
	}

	/* blob: cached (same pointer each time), round trip */
	REQUIRE_OK(jit_key_public_blob(k, &blob, &len));
	REQUIRE_OK(jit_key_public_blob(k, &blob2, &len2));
	CHECK(blob == blob2 && len == len2);
	REQUIRE_OK(jit_key_from_blob(blob, len, &pub));
	CHECK(!jit_key_has_private(pub));
	CHECK(jit_key_equal_public(k, pub));
	CHECK(jit_key_equal_public(pub, k));
	CHECK_INT(jit_key_bits(pub), jit_key_bits(k));
	CHECK_INT(jit_key_sign(pub, blob, len, &b), JIT_ERR_KEY_NO_PRIVATE);
	CHECK_INT(jit_key_put_agent_private_fields(pub, &b),
	    JIT_ERR_KEY_NO_PRIVATE);
	CHECK_INT(jit_key_put_private_openssh(pub, NULL, &b),
	    JIT_ERR_KEY_NO_PRIVATE);
	CHECK_INT(jit_key_save_private(pub, tmppath("nopriv"), NULL),
	    JIT_ERR_KEY_NO_PRIVATE);
	CHECK_INT(jit_buf_len(&b), 0);

	/* put_public = string(blob); fields round trip */
	REQUIRE_OK(jit_key_put_public(k, &b));
	jit_buf_view(&v, jit_buf_ptr(&b), jit_buf_len(&b));
	REQUIRE_OK(jit_buf_get_string_direct(&v, &blob2, &len2));
	CHECK(len2 == len && memcmp(blob2, blob, len) == 0);
	jit_buf_reset(&b);
	REQUIRE_OK(jit_key_put_public_fields(k, &b));
	CHECK_INT(jit_buf_len(&b), len - 4 -
	    strlen(jit_key_type_ssh_name(t)));
	REQUIRE_OK(jit_buf_put_u8(&b, 0x42));  /* the next field of a cert */
	jit_buf_view(&v, jit_buf_ptr(&b), jit_buf_len(&b));
	jit_key_free(pub);
	REQUIRE_OK(jit_key_get_public_fields(&v, t, &pub));
	CHECK(jit_key_equal_public(k, pub));
	CHECK_INT(jit_buf_len(&v), 1);
	jit_key_free(pub);
	pub = NULL;
	/* a wrong type reading the fields fails and leaves the buffer */
	jit_buf_view(&v, jit_buf_ptr(&b), jit_buf_len(&b));
	CHECK(jit_key_get_public_fields(&v, t == JIT_KEY_ED25519 ?
	    JIT_KEY_ECDSA_P256 : JIT_KEY_ED25519, &pub) != 0);
	CHECK(pub == NULL);
	CHECK_INT(jit_buf_len(&v), jit_buf_len(&b));
	CHECK_INT(jit_key_get_public_fields(&v, JIT_KEY_UNKNOWN, &pub),
	    JIT_ERR_KEY_TYPE_UNKNOWN);
	jit_buf_reset(&b);

	/* text form */
	REQUIRE_OK(jit_key_format_public(k, "alice@example", &line));
	CHECK(strncmp(line, jit_key_type_ssh_name(t),
	    strlen(jit_key_type_ssh_name(t))) == 0);
	REQUIRE_OK(jit_key_parse_public(line, &pub, &cmt));
	CHECK(jit_key_equal_public(k, pub));
	CHECK_STR(cmt, "alice@example");
	free(cmt);
	jit_key_free(pub);
	free(line);
	REQUIRE_OK(jit_key_format_public(k, NULL, &line));
	CHECK(strchr(strchr(line, ' ') + 1, ' ') == NULL);
	REQUIRE_OK(jit_key_parse_public(line, &pub, &cmt));
	CHECK(cmt == NULL);
	CHECK(jit_key_equal_public(k, pub));
	jit_key_free(pub);
	pub = NULL;
	CHECK_INT(jit_key_format_public(k, "bad\ncomment", &out),
	    JIT_ERR_INVALID_ARGUMENT);
	CHECK(out == NULL);

	/* fingerprint: SHA256 + 43 unpadded base64 characters */
	REQUIRE_OK(jit_key_fingerprint(k, &fp));
	CHECK(strncmp(fp, "SHA256:", 7) == 0);
	CHECK_INT(strlen(fp), 7 + 43);

	check_sign_verify(k);
	check_sig_with_ssh_keygen(k, jit_key_type_short_name(t));

	/* agent private fields */
	REQUIRE_OK(jit_key_put_agent_private_fields(k, &b));
	jit_buf_view(&v, jit_buf_ptr(&b), jit_buf_len(&b));
	if (t == JIT_KEY_ED25519) {
		const unsigned char *p, *s;
		size_t pl, sl;
		REQUIRE_OK(jit_buf_get_string_direct(&v, &p, &pl));
		REQUIRE_OK(jit_buf_get_string_direct(&v, &s, &sl));
		CHECK_INT(pl, 32);
		CHECK_INT(sl, 64);
		CHECK(memcmp(p, blob + len - 32, 32) == 0);
		CHECK(memcmp(s + 32, p, 32) == 0);
	} else {
		int n = t == JIT_KEY_RSA ? 4 : 1;
		for (int i = 0; i < n; i++) {
			const unsigned char *m;
			size_t ml;
			CHECK_OK(jit_buf_get_mpint_direct(&v, &m, &ml));
			CHECK(ml > 0);
		}
	}
	CHECK_INT(jit_buf_len(&v), 0);
	jit_buf_reset(&b);

	/* in-memory container round trip */
	REQUIRE_OK(jit_key_put_private_openssh(k, "mem", &b));
	CHECK(memcmp(jit_buf_ptr(&b), "-----BEGIN OPENSSH PRIVATE KEY-----\n",
	    36) == 0);
	REQUIRE_OK(jit_key_parse_private(jit_buf_ptr(&b), jit_buf_len(&b),
	    &k2));
	CHECK(jit_key_has_private(k2));
	CHECK(jit_key_equal_public(k, k2));
	check_sign_verify(k2);
	jit_key_free(k2);
	k2 = NULL;
	jit_buf_release(&b);

	/* save, load, mode 0600, exclusive, ssh-keygen -y */
	snprintf(name, sizeof(name), "gen-%s", jit_key_type_short_name(t));
	path = tmppath(name);
	REQUIRE_OK(jit_key_save_private(k, path, "generated"));
	REQUIRE(stat(path, &st) == 0);
	CHECK_INT(st.st_mode & 07777, 0600);
	CHECK_INT(jit_key_save_private(k, path, "again"), JIT_ERR_FILE_EXISTS);
	REQUIRE_OK(jit_key_load_private(path, &k2));
	CHECK(jit_key_equal_public(k, k2));
	CHECK_INT(jit_key_bits(k2), jit_key_bits(k));
	{
		/* each key verifies the other's signatures */
		struct jit_buf s = JIT_BUF_INIT;
		REQUIRE_OK(jit_key_sign(k2, (const unsigned char *)"x", 1, &s));
		CHECK_OK(jit_key_verify(k, jit_buf_ptr(&s), jit_buf_len(&s),
		    (const unsigned char *)"x", 1));
		jit_buf_release(&s);
	}
	if (have_ssh_keygen) {
		char *kg;
		snprintf(cmd, sizeof(cmd), "ssh-keygen -y -f '%s' 2>&1", path);
		kg = run_line(cmd);
		CHECK(kg != NULL);
		if (kg != NULL) {
			strip_comment(kg);
			CHECK_STR(kg, line);
		}
		free(kg);
		/* ssh-keygen -l gives our fingerprint */
		snprintf(cmd, sizeof(cmd), "ssh-keygen -lf '%s' 2>&1", path);
		kg = run_line(cmd);
		CHECK(kg != NULL && strstr(kg, fp) != NULL);
		free(kg);
	}
	free(line);
	free(fp);
	jit_key_free(k2);
	jit_key_free(k);
}

static void
test_generate_args(void)
{
	struct jit_key *k = NULL;

	CHECK_INT(jit_key_generate(JIT_KEY_RSA, 2048, &k),
	    JIT_ERR_KEY_TOO_SMALL);
	CHECK(k == NULL);
	CHECK_INT(jit_key_generate(JIT_KEY_RSA, 1024, &k),
	    JIT_ERR_KEY_TOO_SMALL);
	CHECK_INT(jit_key_generate(JIT_KEY_RSA, 32768, &k),
	    JIT_ERR_INVALID_ARGUMENT);
	CHECK_INT(jit_key_generate(JIT_KEY_UNKNOWN, 0, &k),
	    JIT_ERR_KEY_TYPE_UNKNOWN);
	CHECK_INT(jit_key_generate((enum jit_key_type)99, 0, &k),
	    JIT_ERR_KEY_TYPE_UNKNOWN);
	CHECK(k == NULL);
	/* bits ignored for non-RSA */
	CHECK_OK(jit_key_generate(JIT_KEY_ED25519, 1, &k));
	jit_key_free(k);
	/* RSA 4096 works */
	k = NULL;
	CHECK_OK(jit_key_generate(JIT_KEY_RSA, 4096, &k));
	CHECK_INT(jit_key_bits(k), 4096);
	if (k != NULL)
		check_sign_verify(k);
	jit_key_free(k);
	/* two Ed25519 keys differ */
	{
		struct jit_key *a = NULL, *b = NULL;
		REQUIRE_OK(jit_key_generate(JIT_KEY_ED25519, 0, &a));
		REQUIRE_OK(jit_key_generate(JIT_KEY_ED25519, 0, &b));
		CHECK(!jit_key_equal_public(a, b));
		CHECK(!jit_key_equal_public(a, NULL));
		CHECK(!jit_key_equal_public(NULL, NULL));
		jit_key_free(a);
		jit_key_free(b);
	}
}

/* The reference keys made by ssh-keygen (and openssl for PEM). */
static void
test_reference(const char *name, enum jit_key_type t, unsigned bits)
{
	char path[256], pubpath[256], fppath[256];
	struct jit_key *priv = NULL, *pub = NULL;
	char *fp = NULL, *want = NULL, *sp, *line = NULL, *pubtext = NULL;

	snprintf(path, sizeof(path), KEYDIR "%s", name);
	snprintf(pubpath, sizeof(pubpath), KEYDIR "%s.pub", name);
	snprintf(fppath, sizeof(fppath), KEYDIR "%s.fp", name);
	CHECK_OK(jit_key_load_private(path, &priv));
	CHECK_OK(jit_key_load_public(pubpath, &pub));
	if (priv == NULL || pub == NULL) {
		fprintf(stderr, "  (reference key %s)\n", name);
		goto out;
	}
	CHECK_INT(jit_key_type(priv), t);
	CHECK_INT(jit_key_bits(priv), bits);
	CHECK(jit_key_has_private(priv));
	CHECK(!jit_key_has_private(pub));
	CHECK(jit_key_equal_public(priv, pub));
	/* fingerprint identical to ssh-keygen -lf */
	REQUIRE((want = read_text(fppath)) != NULL);
	REQUIRE((sp = strchr(want, ' ')) != NULL);
	sp++;
	sp[strcspn(sp, " ")] = '\0';
	REQUIRE_OK(jit_key_fingerprint(pub, &fp));
	CHECK_STR(fp, sp);
	/* formatting gives back the .pub file's type and base64 */
	REQUIRE((pubtext = read_text(pubpath)) != NULL);
	pubtext[strcspn(pubtext, "\n")] = '\0';
	strip_comment(pubtext);
	REQUIRE_OK(jit_key_format_public(pub, NULL, &line));
	CHECK_STR(line, pubtext);
	check_sign_verify(priv);
	/* ssh-keygen 9.2 cannot read PKCS#8 Ed25519 keys at all. */
	if (strcmp(name, "pem-ed25519") != 0)
		check_ssh_keygen_sig(pub, path);
out:
	free(fp);
	free(want);
	free(line);
	free(pubtext);
	jit_key_free(priv);
	jit_key_free(pub);
}

static void
test_refusals(void)
{
	struct jit_key *k = NULL;
	char *cmt = (char *)1, *text = NULL;
	char *dsaline, *certline, *rsa1024;
	unsigned char *blob = NULL;
	size_t bloblen;

	/* files */
	CHECK_INT(jit_key_load_public(KEYDIR "dsa.pub", &k),
	    JIT_ERR_KEY_TYPE_UNSUPPORTED);
	CHECK(k == NULL);
	CHECK_INT(jit_key_load_private(KEYDIR "dsa", &k),
	    JIT_ERR_KEY_TYPE_UNSUPPORTED);
	CHECK_INT(jit_key_load_public(KEYDIR "rsa1024.pub", &k),
	    JIT_ERR_KEY_TOO_SMALL);
	CHECK_INT(jit_key_load_private(KEYDIR "rsa1024", &k),
	    JIT_ERR_KEY_TOO_SMALL);
	CHECK_INT(jit_key_load_public(KEYDIR "user-cert.pub", &k),
	    JIT_ERR_KEY_IS_CERT);
	CHECK_INT(jit_key_load_private(KEYDIR "encrypted-ed25519", &k),
	    JIT_ERR_KEY_ENCRYPTED);
	CHECK_INT(jit_key_load_private(KEYDIR "pem-encrypted", &k),
	    JIT_ERR_KEY_ENCRYPTED);
	CHECK_INT(jit_key_load_private(KEYDIR "ed25519.pub", &k),
	    JIT_ERR_INVALID_FORMAT);
	CHECK_INT(jit_key_load_private(KEYDIR "no-such-key", &k),
	    JIT_ERR_NOT_FOUND);
	CHECK_INT(jit_key_load_public(KEYDIR "no-such-key.pub", &k),
	    JIT_ERR_NOT_FOUND);
	CHECK_INT(jit_key_load_public(KEYDIR "ed25519", &k),
	    JIT_ERR_INVALID_FORMAT);
	CHECK(k == NULL);

	/* the blob of an RSA-1024 key parses (policy decides), the line not */
	REQUIRE((rsa1024 = read_text(KEYDIR "rsa1024.pub")) != NULL);
	*strchr(strchr(rsa1024, ' ') + 1, ' ') = '\0';
	REQUIRE_OK(jit_b64_decode(strchr(rsa1024, ' ') + 1,
	    strlen(strchr(rsa1024, ' ') + 1), &blob, &bloblen));
	CHECK_OK(jit_key_from_blob(blob, bloblen, &k));
	CHECK_INT(jit_key_bits(k), 1024);
	jit_key_free(k);
	k = NULL;
	free(blob);
	free(rsa1024);

	/* DSA and cert blobs */
	REQUIRE((dsaline = read_text(KEYDIR "dsa.pub")) != NULL);
	*strchr(strchr(dsaline, ' ') + 1, ' ') = '\0';
	REQUIRE_OK(jit_b64_decode(strchr(dsaline, ' ') + 1,
	    strlen(strchr(dsaline, ' ') + 1), &blob, &bloblen));
	CHECK_INT(jit_key_from_blob(blob, bloblen, &k),
	    JIT_ERR_KEY_TYPE_UNSUPPORTED);
	free(blob);
	free(dsaline);
	REQUIRE((certline = read_text(KEYDIR "user-cert.pub")) != NULL);
	CHECK_INT(jit_key_parse_public(certline, &k, NULL),
	    JIT_ERR_KEY_IS_CERT);
	*strchr(strchr(certline, ' ') + 1, ' ') = '\0';
	REQUIRE_OK(jit_b64_decode(strchr(certline, ' ') + 1,
	    strlen(strchr(certline, ' ') + 1), &blob, &bloblen));
	CHECK_INT(jit_key_from_blob(blob, bloblen, &k), JIT_ERR_KEY_IS_CERT);
	/* the cert blob under a plain type name in a line */
	{
		char *b64 = NULL, line[4096];
		REQUIRE_OK(jit_b64_encode(blob, bloblen, &b64));
		snprintf(line, sizeof(line), "ssh-ed25519 %s", b64);
		CHECK_INT(jit_key_parse_public(line, &k, NULL),
		    JIT_ERR_KEY_IS_CERT);
		free(b64);
	}
	free(blob);
	free(certline);
	CHECK(k == NULL);

	/* lines */
	REQUIRE_OK(jit_key_load_public(KEYDIR "ed25519.pub", &k));
	REQUIRE_OK(jit_key_format_public(k, NULL, &text));
	jit_key_free(k);
	k = NULL;
	{
		char line[1024];
		const char *b64 = strchr(text, ' ') + 1;
		snprintf(line, sizeof(line), "  \t%s  trailing comment \r\n",
		    text);
		CHECK_OK(jit_key_parse_public(line, &k, &cmt));
		CHECK_STR(cmt, "trailing comment");
		free(cmt);
		jit_key_free(k);
		k = NULL;
		cmt = (char *)1;
		snprintf(line, sizeof(line), "ssh-rsa %s", b64);
		CHECK_INT(jit_key_parse_public(line, &k, &cmt),
		    JIT_ERR_INVALID_FORMAT);
		CHECK(cmt == NULL);
		snprintf(line, sizeof(line), "no-pty %s", text);
		CHECK_INT(jit_key_parse_public(line, &k, NULL),
		    JIT_ERR_KEY_TYPE_UNKNOWN);
		snprintf(line, sizeof(line), "ssh-ed25519 %.20s!!!%s", b64,
		    b64 + 23);
		CHECK_INT(jit_key_parse_public(line, &k, NULL),
		    JIT_ERR_INVALID_FORMAT);
		snprintf(line, sizeof(line), "ssh-ed25519 %.40s", b64);
		CHECK(jit_key_parse_public(line, &k, NULL) != 0);
		snprintf(line, sizeof(line), "%s comment\nssh-ed25519 x", text);
		CHECK_INT(jit_key_parse_public(line, &k, NULL),
		    JIT_ERR_INVALID_FORMAT);
		snprintf(line, sizeof(line), "%s bell\a", text);
		CHECK_INT(jit_key_parse_public(line, &k, NULL),
		    JIT_ERR_INVALID_FORMAT);
		snprintf(line, sizeof(line), "ssh-dss %s", b64);
		CHECK_INT(jit_key_parse_public(line, &k, NULL),
		    JIT_ERR_KEY_TYPE_UNSUPPORTED);
		snprintf(line, sizeof(line), "sk-ssh-ed25519@openssh.com %s",
		    b64);
		CHECK_INT(jit_key_parse_public(line, &k, NULL),
		    JIT_ERR_KEY_TYPE_UNSUPPORTED);
		snprintf(line, sizeof(line), "ssh-ed25519");
		CHECK_INT(jit_key_parse_public(line, &k, NULL),
		    JIT_ERR_INVALID_FORMAT);
		CHECK_INT(jit_key_parse_public("", &k, NULL),
		    JIT_ERR_INVALID_FORMAT);
		CHECK_INT(jit_key_parse_public("   \n", &k, NULL),
		    JIT_ERR_INVALID_FORMAT);
		CHECK_INT(jit_key_parse_public("# comment", &k, NULL),
		    JIT_ERR_KEY_TYPE_UNKNOWN);
		CHECK(k == NULL);
	}
	free(text);
}

/* Truncations, trailing data and bad fields in public blobs. */
static void
test_blob_corruption(void)
{
	static const char *const names[] = { "ed25519", "ecdsa256", "ecdsa384",
	    "ecdsa521", "rsa3072" };
	struct jit_key *k = NULL, *k2 = NULL;
	unsigned char *copy;
	const unsigned char *blob;
	size_t len;
	char path[256];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), KEYDIR "%s.pub", names[i]);
		REQUIRE_OK(jit_key_load_public(path, &k));
		REQUIRE_OK(jit_key_public_blob(k, &blob, &len));
		REQUIRE((copy = malloc(len + 1)) != NULL);
		memcpy(copy, blob, len);
		for (size_t n = 0; n < len; n++) {
			int r = jit_key_from_blob(copy, n, &k2);
			if (r == 0) {
				fprintf(stderr, "%s prefix %zu parsed\n",
				    names[i], n);
				jit_key_free(k2);
				k2 = NULL;
			}
			CHECK(r != 0);
		}
		copy[len] = 0;
		CHECK_INT(jit_key_from_blob(copy, len + 1, &k2),
		    JIT_ERR_TRAILING_DATA);
		CHECK(k2 == NULL);
		/* Flip the last byte: Ed25519 keys are any 32 bytes that
		 * decode to a point; a P-curve point falls off the curve. */
		copy[len - 1] ^= 0x01;
		if (jit_key_type(k) == JIT_KEY_ECDSA_P256 ||
		    jit_key_type(k) == JIT_KEY_ECDSA_P384 ||
		    jit_key_type(k) == JIT_KEY_ECDSA_P521)
			CHECK_INT(jit_key_from_blob(copy, len, &k2),
			    JIT_ERR_BAD_PUBLIC_KEY);
		else if (jit_key_type(k) == JIT_KEY_RSA)
			/* n becomes even */
			CHECK_INT(jit_key_from_blob(copy, len, &k2),
			    JIT_ERR_BAD_PUBLIC_KEY);
		jit_key_free(k2);
		k2 = NULL;
		copy[len - 1] ^= 0x01;
		/* ECDSA: compressed point tag, wrong curve name */
		if (jit_key_type(k) == JIT_KEY_ECDSA_P256) {
			/* name(4+19) curve(4+8) Qlen(4) Q[0] */
			size_t q0 = 4 + 19 + 4 + 8 + 4;
			copy[q0] = 0x02;
			CHECK_INT(jit_key_from_blob(copy, len, &k2),
			    JIT_ERR_BAD_PUBLIC_KEY);
			copy[q0] = 0x04;
			copy[4 + 19 + 4 + 7] = '4';     /* nistp254 */
			CHECK_INT(jit_key_from_blob(copy, len, &k2),
			    JIT_ERR_BAD_PUBLIC_KEY);
			copy[4 + 19 + 4 + 7] = '6';
			CHECK_OK(jit_key_from_blob(copy, len, &k2));
			jit_key_free(k2);
			k2 = NULL;
		}
		free(copy);
		jit_key_free(k);
		k = NULL;
	}
	/* Ed25519 small-order point (all zero but for 1: the identity) */
	{
		struct jit_buf b = JIT_BUF_INIT;
		unsigned char pk[32] = { 1 };
		REQUIRE_OK(jit_buf_put_cstring(&b, "ssh-ed25519"));
		REQUIRE_OK(jit_buf_put_string(&b, pk, sizeof(pk)));
		CHECK_INT(jit_key_from_blob(jit_buf_ptr(&b), jit_buf_len(&b),
		    &k), JIT_ERR_BAD_PUBLIC_KEY);
		jit_buf_reset(&b);
		REQUIRE_OK(jit_buf_put_cstring(&b, "ssh-ed25519"));
		REQUIRE_OK(jit_buf_put_string(&b, pk, 31));
		CHECK_INT(jit_key_from_blob(jit_buf_ptr(&b), jit_buf_len(&b),
		    &k), JIT_ERR_BAD_PUBLIC_KEY);
		/* RSA: non-minimal mpint, e = 1, even e, tiny n */
		{
			unsigned char e3[] = { 3 }, e1[] = { 1 }, e4[] = { 4 };
			unsigned char n[257], nz[2] = { 0, 3 };
			memset(n, 0xff, sizeof(n));
			n[0] = 0;
			jit_buf_reset(&b);
			REQUIRE_OK(jit_buf_put_cstring(&b, "ssh-rsa"));
			REQUIRE_OK(jit_buf_put_string(&b, nz, 2));
			REQUIRE_OK(jit_buf_put_mpint(&b, n, sizeof(n)));
			CHECK_INT(jit_key_from_blob(jit_buf_ptr(&b),
			    jit_buf_len(&b), &k), JIT_ERR_BAD_MPINT);
			jit_buf_reset(&b);
			REQUIRE_OK(jit_buf_put_cstring(&b, "ssh-rsa"));
			REQUIRE_OK(jit_buf_put_mpint(&b, e1, 1));
			REQUIRE_OK(jit_buf_put_mpint(&b, n, sizeof(n)));
			CHECK_INT(jit_key_from_blob(jit_buf_ptr(&b),
			    jit_buf_len(&b), &k), JIT_ERR_BAD_PUBLIC_KEY);
			jit_buf_reset(&b);
			REQUIRE_OK(jit_buf_put_cstring(&b, "ssh-rsa"));
			REQUIRE_OK(jit_buf_put_mpint(&b, e4, 1));
			REQUIRE_OK(jit_buf_put_mpint(&b, n, sizeof(n)));
			CHECK_INT(jit_key_from_blob(jit_buf_ptr(&b),
			    jit_buf_len(&b), &k), JIT_ERR_BAD_PUBLIC_KEY);
			jit_buf_reset(&b);
			REQUIRE_OK(jit_buf_put_cstring(&b, "ssh-rsa"));
			REQUIRE_OK(jit_buf_put_mpint(&b, e3, 1));
			REQUIRE_OK(jit_buf_put_mpint(&b, n, 65));
			CHECK_INT(jit_key_from_blob(jit_buf_ptr(&b),
			    jit_buf_len(&b), &k), JIT_ERR_KEY_TOO_SMALL);
			jit_buf_reset(&b);
			REQUIRE_OK(jit_buf_put_cstring(&b, "ssh-rsa"));
			REQUIRE_OK(jit_buf_put_mpint(&b, e3, 1));
			REQUIRE_OK(jit_buf_put_mpint(&b, n, sizeof(n)));
			CHECK_OK(jit_key_from_blob(jit_buf_ptr(&b),
			    jit_buf_len(&b), &k));
			CHECK_INT(jit_key_bits(k), 2048);
			jit_key_free(k);
			k = NULL;
		}
		jit_buf_reset(&b);
		REQUIRE_OK(jit_buf_put_cstring(&b, "ssh-foo"));
		CHECK_INT(jit_key_from_blob(jit_buf_ptr(&b), jit_buf_len(&b),
		    &k), JIT_ERR_KEY_TYPE_UNKNOWN);
		CHECK_INT(jit_key_from_blob((const unsigned char *)"", 0, &k),
		    JIT_ERR_MESSAGE_INCOMPLETE);
		jit_buf_release(&b);
	}
}

/* Verify refusals that need hand-made signature blobs. */
static void
test_signature_algs(void)
{
	struct jit_key *rsa = NULL, *ed = NULL, *ec = NULL;
	struct jit_buf sig = JIT_BUF_INIT, fake = JIT_BUF_INIT, v;
	const unsigned char msg[] = "data";
	const unsigned char *alg, *s;
	size_t alen, slen;
	EVP_PKEY *pk = NULL;
	EVP_MD_CTX *ctx = NULL;
	FILE *f;
	unsigned char raw[512];
	size_t rawlen = sizeof(raw);

	REQUIRE_OK(jit_key_load_private(KEYDIR "pem-rsa3072", &rsa));
	REQUIRE_OK(jit_key_load_private(KEYDIR "ed25519", &ed));
	REQUIRE_OK(jit_key_load_private(KEYDIR "ecdsa256", &ec));
	REQUIRE_OK(jit_key_sign(rsa, msg, sizeof(msg), &sig));
	jit_buf_view(&v, jit_buf_ptr(&sig), jit_buf_len(&sig));
	REQUIRE_OK(jit_buf_get_string_direct(&v, &alg, &alen));
	REQUIRE_OK(jit_buf_get_string_direct(&v, &s, &slen));
	CHECK_INT(slen, 384);
	/* the same bytes labelled ssh-rsa (SHA-1): refused as an algorithm */
	REQUIRE_OK(jit_buf_put_cstring(&fake, "ssh-rsa"));
	REQUIRE_OK(jit_buf_put_string(&fake, s, slen));
	CHECK_INT(jit_key_verify(rsa, jit_buf_ptr(&fake), jit_buf_len(&fake),
	    msg, sizeof(msg)), JIT_ERR_SIGNATURE_ALG);
	/* labelled rsa-sha2-256: wrong hash, invalid */
	jit_buf_reset(&fake);
	REQUIRE_OK(jit_buf_put_cstring(&fake, "rsa-sha2-256"));
	REQUIRE_OK(jit_buf_put_string(&fake, s, slen));
	CHECK_INT(jit_key_verify(rsa, jit_buf_ptr(&fake), jit_buf_len(&fake),
	    msg, sizeof(msg)), JIT_ERR_SIGNATURE_INVALID);
	/* an unrelated name */
	jit_buf_reset(&fake);
	REQUIRE_OK(jit_buf_put_cstring(&fake, "ssh-ed25519"));
	REQUIRE_OK(jit_buf_put_string(&fake, s, slen));
	CHECK_INT(jit_key_verify(rsa, jit_buf_ptr(&fake), jit_buf_len(&fake),
	    msg, sizeof(msg)), JIT_ERR_SIGNATURE_INVALID);
	/* a real rsa-sha2-256 signature made with OpenSSL is accepted */
	REQUIRE((f = fopen(KEYDIR "pem-rsa3072", "r")) != NULL);
	pk = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	REQUIRE(pk != NULL);
	REQUIRE((ctx = EVP_MD_CTX_new()) != NULL);
	REQUIRE(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, pk) == 1);
	REQUIRE(EVP_DigestSign(ctx, raw, &rawlen, msg, sizeof(msg)) == 1);
	jit_buf_reset(&fake);
	REQUIRE_OK(jit_buf_put_cstring(&fake, "rsa-sha2-256"));
	REQUIRE_OK(jit_buf_put_string(&fake, raw, rawlen));
	CHECK_OK(jit_key_verify(rsa, jit_buf_ptr(&fake), jit_buf_len(&fake),
	    msg, sizeof(msg)));
	/* a short (unpadded) RSA signature is refused */
	jit_buf_reset(&fake);
	REQUIRE_OK(jit_buf_put_cstring(&fake, "rsa-sha2-256"));
	REQUIRE_OK(jit_buf_put_string(&fake, raw + 1, rawlen - 1));
	CHECK_INT(jit_key_verify(rsa, jit_buf_ptr(&fake), jit_buf_len(&fake),
	    msg, sizeof(msg)), JIT_ERR_SIGNATURE_INVALID);
	/* cross-type: an Ed25519 signature against the others */
	jit_buf_reset(&sig);
	REQUIRE_OK(jit_key_sign(ed, msg, sizeof(msg), &sig));
	CHECK_INT(jit_key_verify(rsa, jit_buf_ptr(&sig), jit_buf_len(&sig),
	    msg, sizeof(msg)), JIT_ERR_SIGNATURE_INVALID);
	CHECK_INT(jit_key_verify(ec, jit_buf_ptr(&sig), jit_buf_len(&sig),
	    msg, sizeof(msg)), JIT_ERR_SIGNATURE_INVALID);
	/* ECDSA: the inner r, s must be minimal mpints with nothing after */
	jit_buf_reset(&sig);
	REQUIRE_OK(jit_key_sign(ec, msg, sizeof(msg), &sig));
	jit_buf_view(&v, jit_buf_ptr(&sig), jit_buf_len(&sig));
	REQUIRE_OK(jit_buf_get_string_direct(&v, &alg, &alen));
	REQUIRE_OK(jit_buf_get_string_direct(&v, &s, &slen));
	{
		struct jit_buf inner = JIT_BUF_INIT;
		REQUIRE_OK(jit_buf_put(&inner, s, slen));
		REQUIRE_OK(jit_buf_put_u8(&inner, 0));
		jit_buf_reset(&fake);
		REQUIRE_OK(jit_buf_put_cstring(&fake, "ecdsa-sha2-nistp256"));
		REQUIRE_OK(jit_buf_put_stringb(&fake, &inner));
		CHECK_INT(jit_key_verify(ec, jit_buf_ptr(&fake),
		    jit_buf_len(&fake), msg, sizeof(msg)),
		    JIT_ERR_SIGNATURE_INVALID);
		jit_buf_reset(&fake);
		REQUIRE_OK(jit_buf_put_cstring(&fake, "ecdsa-sha2-nistp384"));
		REQUIRE_OK(jit_buf_put_string(&fake, s, slen));
		CHECK_INT(jit_key_verify(ec, jit_buf_ptr(&fake),
		    jit_buf_len(&fake), msg, sizeof(msg)),
		    JIT_ERR_SIGNATURE_INVALID);
		jit_buf_release(&inner);
	}
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pk);
	jit_buf_release(&sig);
	jit_buf_release(&fake);
	jit_key_free(rsa);
	jit_key_free(ed);
	jit_key_free(ec);
}

/*
 * Hand-built openssh-key-v1 containers, to reach each check: check words,
 * padding, embedded public key, Ed25519 halves, cipher.
 */
static int
build_container(const struct jit_key *k, const struct jit_key *pubk,
    uint32_t chk2, int badpad, int tamper_ed_pk, const char *cipher,
    struct jit_buf *out)
{
	struct jit_buf agent = JIT_BUF_INIT, priv = JIT_BUF_INIT, v;
	const unsigned char *pk, *sk;
	size_t pklen, sklen;
	unsigned char skc[64];
	int r;

	/* The Ed25519 fields are the agent's; reuse them. */
	if ((r = jit_key_put_agent_private_fields(k, &agent)) != 0)
		return r;
	jit_buf_view(&v, jit_buf_ptr(&agent), jit_buf_len(&agent));
	if ((r = jit_buf_get_string_direct(&v, &pk, &pklen)) != 0 ||
	    (r = jit_buf_get_string_direct(&v, &sk, &sklen)) != 0)
		return r;
	memcpy(skc, sk, 64);
	if (tamper_ed_pk)
		skc[63] ^= 1;
	jit_buf_put_u32(&priv, 0x12345678);
	jit_buf_put_u32(&priv, chk2);
	jit_buf_put_cstring(&priv, "ssh-ed25519");
	jit_buf_put_string(&priv, pk, pklen);
	jit_buf_put_string(&priv, skc, 64);
	jit_buf_put_cstring(&priv, "comment");
	for (uint8_t i = 1; jit_buf_len(&priv) % 8 != 0; i++)
		jit_buf_put_u8(&priv, badpad && i == 2 ? 7 : i);
	jit_buf_put(out, "openssh-key-v1", 15);
	jit_buf_put_cstring(out, cipher);
	jit_buf_put_cstring(out, strcmp(cipher, "none") == 0 ? "none" :
	    "bcrypt");
	jit_buf_put_cstring(out, "");
	jit_buf_put_u32(out, 1);
	jit_key_put_public(pubk, out);
	r = jit_buf_put_stringb(out, &priv);
	jit_buf_release(&agent);
	jit_buf_release(&priv);
	return r;
}

static void
test_container_checks(void)
{
	struct jit_key *k = NULL, *other = NULL, *got = NULL;
	struct jit_buf b = JIT_BUF_INIT;

	REQUIRE_OK(jit_key_generate(JIT_KEY_ED25519, 0, &k));
	REQUIRE_OK(jit_key_generate(JIT_KEY_ED25519, 0, &other));
	/* the good one (binary form is accepted too) */
	REQUIRE_OK(build_container(k, k, 0x12345678, 0, 0, "none", &b));
	CHECK_OK(jit_key_parse_private(jit_buf_ptr(&b), jit_buf_len(&b),
	    &got));
	CHECK(jit_key_equal_public(k, got));
	jit_key_free(got);
	got = NULL;
	/* trailing data after the container */
	REQUIRE_OK(jit_buf_put_u8(&b, 0));
	CHECK_INT(jit_key_parse_private(jit_buf_ptr(&b), jit_buf_len(&b),
	    &got), JIT_ERR_TRAILING_DATA);
	/* every truncation fails */
	for (size_t n = 0; n + 1 < jit_buf_len(&b); n++)
		CHECK(jit_key_parse_private(jit_buf_ptr(&b), n, &got) != 0);
	CHECK(got == NULL);
	jit_buf_reset(&b);
	REQUIRE_OK(build_container(k, k, 0x12345679, 0, 0, "none", &b));
	CHECK_INT(jit_key_parse_private(jit_buf_ptr(&b), jit_buf_len(&b),
	    &got), JIT_ERR_INVALID_FORMAT);
	jit_buf_reset(&b);
	REQUIRE_OK(build_container(k, k, 0x12345678, 1, 0, "none", &b));
	CHECK_INT(jit_key_parse_private(jit_buf_ptr(&b), jit_buf_len(&b),
	    &got), JIT_ERR_INVALID_FORMAT);
	jit_buf_reset(&b);
	REQUIRE_OK(build_container(k, other, 0x12345678, 0, 0, "none", &b));
	CHECK_INT(jit_key_parse_private(jit_buf_ptr(&b), jit_buf_len(&b),
	    &got), JIT_ERR_KEY_MISMATCH);
	jit_buf_reset(&b);
	REQUIRE_OK(build_container(k, k, 0x12345678, 0, 1, "none", &b));
	CHECK_INT(jit_key_parse_private(jit_buf_ptr(&b), jit_buf_len(&b),
	    &got), JIT_ERR_KEY_MISMATCH);
	jit_buf_reset(&b);
	REQUIRE_OK(build_container(k, k, 0x12345678, 0, 0, "aes256-ctr", &b));
	CHECK_INT(jit_key_parse_private(jit_buf_ptr(&b), jit_buf_len(&b),
	    &got), JIT_ERR_KEY_ENCRYPTED);
	CHECK(got == NULL);
	jit_buf_reset(&b);

	/* armoured text: a bad character, missing end, junk before */
	REQUIRE_OK(jit_key_put_private_openssh(k, NULL, &b));
	{
		char *t = malloc(jit_buf_len(&b) + 16);
		size_t n = jit_buf_len(&b);
		REQUIRE(t != NULL);
		memcpy(t, jit_buf_ptr(&b), n);
		t[50] = '*';
		CHECK_INT(jit_key_parse_private((unsigned char *)t, n, &got),
		    JIT_ERR_INVALID_FORMAT);
		memcpy(t, jit_buf_ptr(&b), n);
		CHECK_INT(jit_key_parse_private((unsigned char *)t, n - 20,
		    &got), JIT_ERR_INVALID_FORMAT);
		t[0] = 'x';
		memcpy(t + 1, jit_buf_ptr(&b), n);
		CHECK_INT(jit_key_parse_private((unsigned char *)t, n + 1,
		    &got), JIT_ERR_INVALID_FORMAT);
		t[0] = '\n';
		CHECK_OK(jit_key_parse_private((unsigned char *)t, n + 1,
		    &got));
		jit_key_free(got);
		got = NULL;
		CHECK_INT(jit_key_parse_private((unsigned char *)"", 0, &got),
		    JIT_ERR_INVALID_FORMAT);
		CHECK_INT(jit_key_parse_private((unsigned char *)
		    "-----BEGIN PUBLIC KEY-----\n", 27, &got),
		    JIT_ERR_INVALID_FORMAT);
		free(t);
	}
	jit_buf_release(&b);
	jit_key_free(k);
	jit_key_free(other);
}

/* An Ed25519 key blob with point pk parses (0) or not. */
static int
ed25519_parse(const unsigned char pk[32])
{
	struct jit_buf b = JIT_BUF_INIT;
	struct jit_key *k = NULL;
	int r;

	REQUIRE_OK(jit_buf_put_cstring(&b, "ssh-ed25519"));
	REQUIRE_OK(jit_buf_put_string(&b, pk, 32));
	r = jit_key_from_blob(jit_buf_ptr(&b), jit_buf_len(&b), &k);
	jit_key_free(k);
	jit_buf_release(&b);
	return r;
}

/*
 * The Ed25519 point check at parse (key.c, ed25519_pk_ok): the 8 points
 * of small order and non-canonical encodings are refused, as libsodium's
 * crypto_core_ed25519_is_valid_point refuses them; points off the curve
 * are refused; a mixed-order point (prime-order point + torsion) is
 * accepted (is_valid_point would refuse it: the subgroup check is not
 * made, see key.c).
 */
static void
test_ed25519_points(void)
{
	/* the canonical y of the small-order points: 0, 1, c, p - c, p - 1 */
	static const unsigned char c8[32] = { 0x26, 0xe8, 0x95, 0x8f, 0xc2,
	    0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98, 0xf0,
	    0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02,
	    0x88, 0x6d, 0x53, 0xfc, 0x05 };
	unsigned char ys[5][32] = { { 0 }, { 1 } }, id[32] = { 1 };
	unsigned char pk[32], sk[64], t[32], m[32];
	int decodable = 0;

	memcpy(ys[2], c8, 32);
	/* p - c and p - 1, p = 2^255 - 19 */
	{
		static const unsigned char p[32] = { 0xed, 0xff, 0xff, 0xff,
		    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f };
		int borrow = 0;
		for (int i = 0; i < 32; i++) {
			int d = p[i] - c8[i] - borrow;
			borrow = d < 0;
			ys[3][i] = (unsigned char)(d + (borrow ? 256 : 0));
		}
		memcpy(ys[4], p, 32);
		ys[4][0] = 0xec;
	}
	for (int i = 0; i < 5; i++) {
		for (int sign = 0; sign < 2; sign++) {
			memcpy(pk, ys[i], 32);
			pk[31] |= (unsigned char)(sign << 7);
			CHECK(!crypto_core_ed25519_is_valid_point(pk));
			CHECK_INT(ed25519_parse(pk), JIT_ERR_BAD_PUBLIC_KEY);
			/* a point of small order: 8P = identity */
			if (crypto_core_ed25519_add(t, pk, pk) == 0) {
				decodable++;
				REQUIRE(crypto_core_ed25519_add(t, t, t) == 0);
				REQUIRE(crypto_core_ed25519_add(t, t, t) == 0);
				CHECK(memcmp(t, id, 32) == 0);
			}
		}
	}
	CHECK(decodable >= 8);
	/* non-canonical: y = p + 2, a point (y = 2 is one) */
	memset(pk, 0xff, 32);
	pk[31] = 0x7f;
	pk[0] = 0xef;
	CHECK_INT(ed25519_parse(pk), JIT_ERR_BAD_PUBLIC_KEY);
	/* off the curve: some small y is not a point */
	memset(pk, 0, 32);
	for (pk[0] = 2; crypto_core_ed25519_add(t, pk, pk) == 0; pk[0]++)
		;
	CHECK_INT(ed25519_parse(pk), JIT_ERR_BAD_PUBLIC_KEY);
	/* a good key, and a mixed-order one */
	crypto_sign_keypair(pk, sk);
	CHECK_OK(ed25519_parse(pk));
	REQUIRE(crypto_core_ed25519_add(m, pk, c8) == 0);
	CHECK(!crypto_core_ed25519_is_valid_point(m));
	CHECK_OK(ed25519_parse(m));
	/* The cache of accepted keys (key.c): the good key again, then
	 * keys in its slot (same first two bytes) that must still be
	 * refused: off the curve, and of small order. */
	CHECK_OK(ed25519_parse(pk));
	memcpy(t, pk, 32);
	for (t[2] = 0; crypto_core_ed25519_add(m, t, t) == 0; t[2]++)
		;
	CHECK_INT(ed25519_parse(t), JIT_ERR_BAD_PUBLIC_KEY);
	CHECK_INT(ed25519_parse(t), JIT_ERR_BAD_PUBLIC_KEY);
	CHECK_OK(ed25519_parse(pk));
	memcpy(t, ys[1], 32);             /* y = 1, the identity */
	CHECK_INT(ed25519_parse(t), JIT_ERR_BAD_PUBLIC_KEY);
	sodium_memzero(sk, sizeof(sk));
}

int
main(void)
{
	REQUIRE(mkdtemp(tmpdir) != NULL);
	have_ssh_keygen = run("ssh-keygen -? >/dev/null 2>&1") != 127 &&
	    run("command -v ssh-keygen >/dev/null 2>&1") == 0;
	if (!have_ssh_keygen)
		fprintf(stderr, "ssh-keygen not found: interop checks "
		    "skipped\n");

	test_names();
	for (size_t i = 0; i < NTYPES; i++)
		test_generated(all_types[i]);
	test_generate_args();
	test_reference("ed25519", JIT_KEY_ED25519, 256);
	test_reference("ecdsa256", JIT_KEY_ECDSA_P256, 256);
	test_reference("ecdsa384", JIT_KEY_ECDSA_P384, 384);
	test_reference("ecdsa521", JIT_KEY_ECDSA_P521, 521);
	test_reference("rsa3072", JIT_KEY_RSA, 3072);
	test_reference("rsa2048", JIT_KEY_RSA, 2048);
	test_reference("pem-rsa3072", JIT_KEY_RSA, 3072);
	test_reference("pem-ecdsa384", JIT_KEY_ECDSA_P384, 384);
	test_reference("pem-ecdsa384-compressed", JIT_KEY_ECDSA_P384, 384);
	test_reference("pem-ed25519", JIT_KEY_ED25519, 256);
	test_refusals();
	test_blob_corruption();
	test_signature_algs();
	test_container_checks();
	test_ed25519_points();

	{
		char cmd[600];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		run(cmd);
	}
	TEST_DONE();
}
