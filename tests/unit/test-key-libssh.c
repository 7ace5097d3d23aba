/*
 * test-key-libssh.c - unit tests for ca/key_libssh.c: which encrypted key
 * files libssh can hand back, decryption with the right and wrong
 * passphrase, and new encrypted keys that ssh-keygen reads back.
 *
 * Runs with the tests/ directory as working directory.  The encrypted
 * reference keys in unit/data/keys were made by make-keys.sh with
 * ssh-keygen (passphrase "correct horse"; pem-encrypted: "secret").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "key.h"
#include "key_libssh.h"
#include "util.h"
#include "test.h"
#include "test-files.h"

#define KEYDIR "unit/data/keys/"
#define PASS "correct horse"

static int have_ssh_keygen;

static unsigned char *
slurp(const char *file, size_t *len)
{
	unsigned char *d = NULL;

	REQUIRE_OK(jit_read_file(file, 1 << 20, &d, len));
	return d;
}

/* 1 if k's public key equals the key line in pubfile. */
static int
same_as_pub(const struct jit_key *k, const char *pubfile)
{
	struct jit_key *pub = NULL;
	int same;

	if (jit_key_load_public(pubfile, &pub) != 0)
		return 0;
	same = jit_key_equal_public(k, pub);
	jit_key_free(pub);
	return same;
}

/* The key is a whole private key: it signs, and the signature verifies. */
static void
check_signs(const struct jit_key *k)
{
	static const unsigned char msg[] = "signed by a decrypted key";
	struct jit_buf sig = JIT_BUF_INIT;

	CHECK_OK(jit_key_sign(k, msg, sizeof(msg), &sig));
	CHECK_OK(jit_key_verify(k, jit_buf_ptr(&sig), jit_buf_len(&sig), msg,
	    sizeof(msg)));
	jit_buf_release(&sig);
}

static void
test_check(void)
{
	static const char *const ok[] = { "encrypted-ed25519",
	    "encrypted-ecdsa384", "encrypted-rsa3072-pem", "pem-encrypted" };
	unsigned char *d;
	const char *why = "unset";
	size_t len, i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		char file[128];
		snprintf(file, sizeof(file), KEYDIR "%s", ok[i]);
		d = slurp(file, &len);
		CHECK_INT(jit_key_libssh_check(d, len, &why), 0);
		CHECK(why == NULL);
		free(d);
	}
	/* RSA in openssh-key-v1: refused before any passphrase is asked. */
	d = slurp(KEYDIR "encrypted-rsa3072", &len);
	CHECK_INT(jit_key_libssh_check(d, len, &why),
	    JIT_ERR_FORMAT_UNSUPPORTED);
	CHECK(why != NULL && strstr(why, "ssh-keygen -p -m PEM -f KEY"));
	free(d);
	d = slurp(KEYDIR "encrypted-chacha", &len);
	CHECK_INT(jit_key_libssh_check(d, len, &why),
	    JIT_ERR_FORMAT_UNSUPPORTED);
	CHECK(why != NULL && strstr(why, "-Z aes256-ctr -f KEY"));
	free(d);
	/* Not encrypted keys at all. */
	d = slurp(KEYDIR "ed25519", &len);
	CHECK_INT(jit_key_libssh_check(d, len, &why), JIT_ERR_INVALID_FORMAT);
	free(d);
	d = slurp(KEYDIR "pem-rsa3072", &len);
	CHECK_INT(jit_key_libssh_check(d, len, NULL), JIT_ERR_INVALID_FORMAT);
	free(d);
	d = slurp(KEYDIR "encrypted-ed25519.pub", &len);
	CHECK_INT(jit_key_libssh_check(d, len, NULL), JIT_ERR_INVALID_FORMAT);
	free(d);
	/* A NUL inside, a truncated armour. */
	d = slurp(KEYDIR "encrypted-ed25519", &len);
	d[40] = '\0';
	CHECK_INT(jit_key_libssh_check(d, len, NULL), JIT_ERR_INVALID_FORMAT);
	free(d);
	d = slurp(KEYDIR "encrypted-ed25519", &len);
	CHECK_INT(jit_key_libssh_check(d, 120, NULL), JIT_ERR_INVALID_FORMAT);
	free(d);
	CHECK_INT(jit_key_libssh_check(NULL, 0, NULL), JIT_ERR_INVALID_FORMAT);
}

static void
decrypt_one(const char *file, const char *pass, const char *pubfile,
    enum jit_key_type type)
{
	struct jit_key *k = (struct jit_key *)1;
	unsigned char *d;
	size_t len;

	d = slurp(file, &len);
	CHECK_INT(jit_key_libssh_decrypt(d, len, "wrong horse", &k),
	    JIT_ERR_BAD_PASSPHRASE);
	CHECK(k == NULL);
	CHECK_INT(jit_key_libssh_decrypt(d, len, "", &k),
	    JIT_ERR_BAD_PASSPHRASE);
	CHECK_INT(jit_key_libssh_decrypt(d, len, NULL, &k),
	    JIT_ERR_INVALID_ARGUMENT);
	CHECK_OK(jit_key_libssh_decrypt(d, len, pass, &k));
	if (k != NULL) {
		CHECK_INT(jit_key_type(k), type);
		CHECK(jit_key_has_private(k));
		if (pubfile != NULL)
			CHECK(same_as_pub(k, pubfile));
		check_signs(k);
	}
	jit_key_free(k);
	free(d);
}

static void
test_decrypt(void)
{
	struct jit_key *k = (struct jit_key *)1;
	unsigned char *d;
	size_t len;

	decrypt_one(KEYDIR "encrypted-ed25519", PASS,
	    KEYDIR "encrypted-ed25519.pub", JIT_KEY_ED25519);
	decrypt_one(KEYDIR "encrypted-ecdsa384", PASS,
	    KEYDIR "encrypted-ecdsa384.pub", JIT_KEY_ECDSA_P384);
	decrypt_one(KEYDIR "encrypted-rsa3072-pem", PASS,
	    KEYDIR "encrypted-rsa3072.pub", JIT_KEY_RSA);
	decrypt_one(KEYDIR "pem-encrypted", "secret", NULL,
	    JIT_KEY_ECDSA_P256);
	/* Kinds the check refuses are refused here too, whatever the
	 * passphrase. */
	d = slurp(KEYDIR "encrypted-rsa3072", &len);
	CHECK_INT(jit_key_libssh_decrypt(d, len, PASS, &k),
	    JIT_ERR_FORMAT_UNSUPPORTED);
	CHECK(k == NULL);
	free(d);
	d = slurp(KEYDIR "ed25519", &len);
	CHECK_INT(jit_key_libssh_decrypt(d, len, PASS, &k),
	    JIT_ERR_INVALID_FORMAT);
	free(d);
	/* A damaged encrypted part reads as a wrong passphrase.  Base64
	 * character 176 of the body holds bits of byte 132, inside the
	 * first check word of the (aes256-ctr) encrypted section. */
	d = slurp(KEYDIR "encrypted-ed25519", &len);
	{
		char *c = strchr((char *)d, '\n') + 1;
		int n = 0;
		for (; *c != '\0'; c++)
			if (*c != '\n' && n++ == 176)
				break;
		REQUIRE(*c != '\0');
		*c = *c == 'A' ? 'B' : 'A';
	}
	CHECK_OK(jit_key_libssh_check(d, len, NULL));
	CHECK_INT(jit_key_libssh_decrypt(d, len, PASS, &k),
	    JIT_ERR_BAD_PASSPHRASE);
	free(d);
}

static void
generate_one(enum jit_key_type t, unsigned bits, const char *begin)
{
	struct jit_buf text = JIT_BUF_INIT;
	struct jit_key *k = NULL, *back = NULL, *plain = NULL;
	const char *p, *nl;
	char *line = NULL, *file, *pub;
	int longest = 0;

	REQUIRE_OK(jit_key_libssh_generate(t, bits, "a new passphrase", &text,
	    &k));
	CHECK_INT(jit_key_type(k), t);
	if (t == JIT_KEY_RSA)
		CHECK_INT(jit_key_bits(k), bits ? bits : JIT_RSA_DEFAULT_BITS);
	check_signs(k);
	REQUIRE_OK(jit_buf_put_u8(&text, '\0'));
	p = (const char *)jit_buf_ptr(&text);
	CHECK(strncmp(p, begin, strlen(begin)) == 0);
	CHECK(p[strlen(p) - 1] == '\n');
	for (; (nl = strchr(p, '\n')) != NULL; p = nl + 1)
		if (nl - p > longest)
			longest = (int)(nl - p);
	CHECK(longest <= 70);
	p = (const char *)jit_buf_ptr(&text);
	/* Encrypted: key.c alone cannot read it, libssh with the
	 * passphrase gives the same key back. */
	CHECK_INT(jit_key_parse_private((const unsigned char *)p, strlen(p),
	    &plain), JIT_ERR_KEY_ENCRYPTED);
	CHECK_OK(jit_key_libssh_decrypt((const unsigned char *)p, strlen(p),
	    "a new passphrase", &back));
	CHECK(back != NULL && jit_key_equal_public(k, back));
	CHECK_INT(jit_key_libssh_decrypt((const unsigned char *)p, strlen(p),
	    "a new passphrasE", &plain), JIT_ERR_BAD_PASSPHRASE);
	/* And ssh-keygen reads it with the passphrase only. */
	if (!have_ssh_keygen)
		goto out;
	file = path("key");
	pub = path("key.pub");
	REQUIRE_OK(jit_write_file_atomic(file, p, strlen(p), 0600, 0));
	REQUIRE_OK(jit_key_format_public(k, NULL, &line));
	CHECK_INT(run("ssh-keygen -y -P 'a new passphrase' -f %s | "
	    "cut -d' ' -f1-2 > %s", file, pub), 0);
	{
		unsigned char *got = NULL;
		size_t glen = 0;
		CHECK_OK(jit_read_file(pub, 1 << 16, &got, &glen));
		CHECK(got != NULL && glen == strlen(line) + 1 &&
		    memcmp(got, line, strlen(line)) == 0);
		free(got);
	}
	CHECK(run("ssh-keygen -y -P wrong -f %s >/dev/null 2>&1", file) != 0);
	CHECK(run("ssh-keygen -y -P '' -f %s >/dev/null 2>&1", file) != 0);
out:
	free(line);
	jit_key_free(k);
	jit_key_free(back);
	jit_buf_release(&text);
}

static void
test_generate(void)
{
	struct jit_buf text = JIT_BUF_INIT;
	struct jit_key *k = (struct jit_key *)1;

	generate_one(JIT_KEY_ED25519, 0, "-----BEGIN OPENSSH PRIVATE KEY-----");
	generate_one(JIT_KEY_ECDSA_P256, 0,
	    "-----BEGIN ENCRYPTED PRIVATE KEY-----");
	generate_one(JIT_KEY_ECDSA_P384, 0,
	    "-----BEGIN ENCRYPTED PRIVATE KEY-----");
	generate_one(JIT_KEY_ECDSA_P521, 0,
	    "-----BEGIN ENCRYPTED PRIVATE KEY-----");
	generate_one(JIT_KEY_RSA, 0, "-----BEGIN ENCRYPTED PRIVATE KEY-----");

	/* Refusals leave text as it was. */
	REQUIRE_OK(jit_buf_put(&text, "x", 1));
	CHECK_INT(jit_key_libssh_generate(JIT_KEY_ED25519, 0, "", &text, &k),
	    JIT_ERR_INVALID_ARGUMENT);
	CHECK(k == NULL);
	CHECK_INT(jit_key_libssh_generate(JIT_KEY_ED25519, 0, NULL, &text,
	    &k), JIT_ERR_INVALID_ARGUMENT);
	CHECK_INT(jit_key_libssh_generate(JIT_KEY_RSA, 2048, "pass", &text,
	    &k), JIT_ERR_KEY_TOO_SMALL);
	CHECK_INT(jit_key_libssh_generate(JIT_KEY_RSA, 20000, "pass", &text,
	    &k), JIT_ERR_INVALID_ARGUMENT);
	CHECK_INT(jit_key_libssh_generate(JIT_KEY_UNKNOWN, 0, "pass", &text,
	    &k), JIT_ERR_KEY_TYPE_UNKNOWN);
	CHECK_INT(jit_buf_len(&text), 1);
	jit_buf_release(&text);
}

int
main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/jit-test-key-libssh-XXXXXX");
	REQUIRE(mkdtemp(dir) != NULL);
	have_ssh_keygen = run("command -v ssh-keygen >/dev/null") == 0;
	if (!have_ssh_keygen)
		printf("ssh-keygen missing: its reading of new keys is not "
		    "tested\n");
	test_check();
	test_decrypt();
	test_generate();
	run("rm -rf %s", dir);
	TEST_DONE();
}
