/*
 * test-cadir.c - unit tests for api/cadir.c: encrypted CA keys and the
 * passphrase sources (--passphrase-file, the systemd credential, a
 * prompt), in the order cadir.h gives them, with the messages jit-ca
 * prints.
 *
 * Runs with the tests/ directory as working directory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "cadir.h"
#include "err.h"
#include "key.h"
#include "util.h"
#include "test.h"
#include "test-files.h"

#define KEYDIR "unit/data/keys/"

/* A prompt that answers from a list and counts its calls. */
struct answers {
	const char *say[2];
	int calls;
	int fail;          /* return this error instead */
};

static int
fake_prompt(void *ctx, const char *question, char *buf, size_t len)
{
	struct answers *a = ctx;
	const char *s;

	CHECK(strncmp(question, "Passphrase for ", 15) == 0 ||
	    strcmp(question, "The same passphrase again: ") == 0);
	if (a->fail != 0)
		return a->fail;
	/* The second answer, when there is one, is for the second call. */
	s = a->calls > 0 && a->say[1] != NULL ? a->say[1] : a->say[0];
	a->calls++;
	if (strlen(s) >= len)
		return JIT_ERR_NO_BUFFER_SPACE;
	memcpy(buf, s, strlen(s) + 1);
	return 0;
}

static void
write_text(const char *file, const char *text, unsigned mode)
{
	unlink(file);
	REQUIRE_OK(jit_write_file_atomic(file, text, strlen(text), mode, 0));
}

static void
test_encrypted_ca(void)
{
	struct jit_cadir_pass pass;
	struct answers a;
	struct jit_key *made = NULL, *k = (struct jit_key *)1;
	char ca[128], pf[128], err[1024], want[1024];
	char *line = NULL, *made_line = NULL;
	struct stat st;

	/* path()'s results are reused after a few calls: keep copies. */
	snprintf(ca, sizeof(ca), "%s", path("ca"));
	snprintf(pf, sizeof(pf), "%s", path("pass"));

	CHECK_INT(jit_cadir_create_encrypted(ca, JIT_KEY_ED25519, 0, "",
	    &made), JIT_ERR_INVALID_ARGUMENT);
	REQUIRE_OK(jit_cadir_create_encrypted(ca, JIT_KEY_ED25519, 0,
	    "open sesame", &made));
	REQUIRE(stat(path("ca/ca_key"), &st) == 0);
	CHECK_INT(st.st_mode & 07777, 0600);
	REQUIRE_OK(jit_key_format_public(made, JIT_CADIR_COMMENT, &made_line));
	CHECK(jit_cadir_exists(ca));
	CHECK_INT(jit_cadir_create_encrypted(ca, JIT_KEY_ED25519, 0, "x",
	    &k), JIT_ERR_FILE_EXISTS);

	/* Without passphrase sources, as before: KEY_ENCRYPTED. */
	CHECK_INT(jit_cadir_load(ca, &k), JIT_ERR_KEY_ENCRYPTED);
	CHECK(k == NULL);

	/* --passphrase-file: right, wrong, line ends, refused files. */
	memset(&pass, 0, sizeof(pass));
	pass.file = pf;
	write_text(pf, "open sesame\n", 0600);
	CHECK_OK(jit_cadir_load_pass(ca, &pass, &k, err, sizeof(err)));
	CHECK(k != NULL && jit_key_equal_public(k, made));
	CHECK_STR(err, "");
	jit_key_free(k);
	write_text(pf, "open sesame\r\nsecond line is ignored\n", 0400);
	CHECK_OK(jit_cadir_load_pass(ca, &pass, &k, err, sizeof(err)));
	jit_key_free(k);
	write_text(pf, "open sesame", 0600);
	CHECK_OK(jit_cadir_load_pass(ca, &pass, &k, err, sizeof(err)));
	jit_key_free(k);
	write_text(pf, "open sesame \n", 0600);
	CHECK_INT(jit_cadir_load_pass(ca, &pass, &k, err, sizeof(err)),
	    JIT_ERR_BAD_PASSPHRASE);
	CHECK(k == NULL);
	snprintf(want, sizeof(want), "the CA key %s/ca_key is encrypted and "
	    "the passphrase is wrong", ca);
	CHECK_STR(err, want);
	write_text(pf, "open sesame\n", 0640);
	CHECK_INT(jit_cadir_load_pass(ca, &pass, &k, err, sizeof(err)),
	    JIT_ERR_PERMISSION);
	snprintf(want, sizeof(want), "the passphrase file %s is accessible by "
	    "group or others (mode 0640); chmod 600 it", pf);
	CHECK_STR(err, want);
	write_text(pf, "\n", 0600);
	CHECK_INT(jit_cadir_load_pass(ca, &pass, &k, err, sizeof(err)),
	    JIT_ERR_INVALID_ARGUMENT);
	CHECK(strstr(err, "empty passphrase for the CA key") != NULL);
	{
		char big[JIT_PASSPHRASE_MAX + 3];
		memset(big, 'p', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		write_text(pf, big, 0600);
		CHECK_INT(jit_cadir_load_pass(ca, &pass, &k, err, sizeof(err)),
		    JIT_ERR_NO_BUFFER_SPACE);
		CHECK(strstr(err, "longer than 1024 bytes") != NULL);
	}
	pass.file = path("no-such-file");
	CHECK_INT(jit_cadir_load_pass(ca, &pass, &k, err, sizeof(err)),
	    JIT_ERR_INVALID_ARGUMENT);
	CHECK(strstr(err, "cannot read the passphrase file") != NULL);

	/* The systemd credential, used when no file is named. */
	memset(&pass, 0, sizeof(pass));
	REQUIRE(mkdir(path("creds"), 0700) == 0);
	write_text(path("creds/" JIT_CADIR_CREDENTIAL), "open sesame\n",
	    0400);
	REQUIRE(setenv("CREDENTIALS_DIRECTORY", path("creds"), 1) == 0);
	CHECK_OK(jit_cadir_load_pass(ca, &pass, &k, err, sizeof(err)));
	CHECK(k != NULL && jit_key_equal_public(k, made));
	jit_key_free(k);
	/* A named file comes first, even when it is wrong. */
	pass.file = pf;
	write_text(pf, "not it\n", 0600);
	CHECK_INT(jit_cadir_load_pass(ca, &pass, &k, err, sizeof(err)),
	    JIT_ERR_BAD_PASSPHRASE);
	/* The credential comes before the prompt. */
	memset(&a, 0, sizeof(a));
	a.say[0] = "not it either";
	memset(&pass, 0, sizeof(pass));
	pass.prompt = fake_prompt;
	pass.prompt_ctx = &a;
	CHECK_OK(jit_cadir_load_pass(ca, &pass, &k, err, sizeof(err)));
	CHECK_INT(a.calls, 0);
	jit_key_free(k);
	/* The directory set but no such credential: on to the prompt. */
	unlink(path("creds/" JIT_CADIR_CREDENTIAL));
	a.say[0] = "open sesame";
	CHECK_OK(jit_cadir_load_pass(ca, &pass, &k, err, sizeof(err)));
	CHECK_INT(a.calls, 1);
	jit_key_free(k);
	rmdir(path("creds"));
	REQUIRE(unsetenv("CREDENTIALS_DIRECTORY") == 0);
	a.calls = 0;
	a.say[0] = "wrong";
	CHECK_INT(jit_cadir_load_pass(ca, &pass, &k, err, sizeof(err)),
	    JIT_ERR_BAD_PASSPHRASE);
	CHECK_INT(a.calls, 1);
	a.fail = JIT_ERR_IO;
	CHECK_INT(jit_cadir_load_pass(ca, &pass, &k, err, sizeof(err)),
	    JIT_ERR_IO);
	CHECK(strstr(err, "from the terminal") != NULL);
	a.fail = 0;

	/* No source at all. */
	memset(&pass, 0, sizeof(pass));
	CHECK_INT(jit_cadir_load_pass(ca, &pass, &k, err, sizeof(err)),
	    JIT_ERR_KEY_ENCRYPTED);
	snprintf(want, sizeof(want), "the CA key %s/ca_key is encrypted: give "
	    "its passphrase with --passphrase-file FILE or the systemd "
	    "credential jit-ca-passphrase, or run on a terminal", ca);
	CHECK_STR(err, want);

	/* The public line from the encrypted key when the .pub is gone. */
	REQUIRE(unlink(path("ca/ca_key.pub")) == 0);
	CHECK_INT(jit_cadir_public_line(ca, &line), JIT_ERR_KEY_ENCRYPTED);
	pass.file = pf;
	write_text(pf, "open sesame\n", 0600);
	CHECK_OK(jit_cadir_public_line_pass(ca, &pass, &line, err,
	    sizeof(err)));
	CHECK_STR(line, made_line);
	free(line);
	jit_key_free(made);
	free(made_line);
	run("rm -rf %s", ca);
}

static void
test_unencrypted_and_unsupported(void)
{
	struct jit_cadir_pass pass;
	struct answers a;
	struct jit_key *k = NULL, *made = NULL;
	char ca[128], err[1024];

	snprintf(ca, sizeof(ca), "%s", path("plain"));

	/* An unencrypted CA never touches a passphrase source. */
	REQUIRE_OK(jit_cadir_create(ca, JIT_KEY_ECDSA_P256, 0, &made));
	memset(&a, 0, sizeof(a));
	a.fail = JIT_ERR_INTERNAL;
	memset(&pass, 0, sizeof(pass));
	pass.file = path("no-such-file");
	pass.prompt = fake_prompt;
	pass.prompt_ctx = &a;
	CHECK_OK(jit_cadir_load_pass(ca, &pass, &k, err, sizeof(err)));
	CHECK(k != NULL && jit_key_equal_public(k, made));
	jit_key_free(k);
	jit_key_free(made);
	run("rm -rf %s", ca);

	/* An encrypted RSA key in OpenSSH format: refused with the way to
	 * convert it, before anyone is asked for the passphrase. */
	REQUIRE(mkdir(ca, 0700) == 0);
	REQUIRE(run("cp " KEYDIR "encrypted-rsa3072 %s/ca_key", ca) == 0);
	pass.file = NULL;
	CHECK_INT(jit_cadir_load_pass(ca, &pass, &k, err, sizeof(err)),
	    JIT_ERR_FORMAT_UNSUPPORTED);
	CHECK_INT(a.calls, 0);
	CHECK(strstr(err, "is encrypted, but libssh 0.10 cannot read an "
	    "encrypted RSA key") != NULL);
	CHECK(strstr(err, "ssh-keygen -p -m PEM -f ") != NULL &&
	    strstr(err, "/plain/ca_key") != NULL);
	/* The same key as encrypted PEM loads, from the prompt. */
	REQUIRE(run("cp " KEYDIR "encrypted-rsa3072-pem %s/ca_key", ca) == 0);
	a.fail = 0;
	a.say[0] = "correct horse";
	CHECK_OK(jit_cadir_load_pass(ca, &pass, &k, err, sizeof(err)));
	CHECK_INT(a.calls, 1);
	CHECK(k != NULL && jit_key_type(k) == JIT_KEY_RSA);
	jit_key_free(k);
	/* Any private key file, e.g. a dedicated audit key. */
	a.calls = 0;
	CHECK_OK(jit_cadir_load_private(KEYDIR "encrypted-ecdsa384",
	    "the key", &pass, &k, err, sizeof(err)));
	CHECK_INT(a.calls, 1);
	jit_key_free(k);
	a.say[0] = "nope";
	CHECK_INT(jit_cadir_load_private(KEYDIR "encrypted-ecdsa384",
	    "the key", &pass, &k, err, sizeof(err)), JIT_ERR_BAD_PASSPHRASE);
	CHECK_STR(err, "the key " KEYDIR "encrypted-ecdsa384 is encrypted "
	    "and the passphrase is wrong");
	run("rm -rf %s", ca);
}

static void
test_pass_get(void)
{
	struct jit_cadir_pass pass;
	struct answers a;
	char buf[JIT_PASSPHRASE_MAX + 1], small[16], err[512];

	memset(&pass, 0, sizeof(pass));
	memset(&a, 0, sizeof(a));
	pass.prompt = fake_prompt;
	pass.prompt_ctx = &a;
	/* A new key asks twice; the answers must agree. */
	a.say[0] = "twice the same";
	a.say[1] = "twice the same";
	CHECK_OK(jit_cadir_pass_get(&pass, "the new CA key", 1, buf,
	    sizeof(buf), err, sizeof(err)));
	CHECK_STR(buf, "twice the same");
	CHECK_INT(a.calls, 2);
	a.calls = 0;
	a.say[1] = "twice the samE";
	CHECK_INT(jit_cadir_pass_get(&pass, "the new CA key", 1, buf,
	    sizeof(buf), err, sizeof(err)), JIT_ERR_INVALID_ARGUMENT);
	CHECK_STR(err, "the two passphrases differ");
	CHECK_STR(buf, "");
	a.calls = 0;
	a.say[0] = a.say[1] = "";
	CHECK_INT(jit_cadir_pass_get(&pass, "the new CA key", 1, buf,
	    sizeof(buf), err, sizeof(err)), JIT_ERR_INVALID_ARGUMENT);
	CHECK_STR(err, "empty passphrase for the new CA key");
	/* No sources; a buffer too small for the longest passphrase. */
	CHECK_INT(jit_cadir_pass_get(NULL, "k", 0, buf, sizeof(buf), err,
	    sizeof(err)), JIT_ERR_NOT_FOUND);
	CHECK(strstr(err, "no passphrase for k: give it with "
	    "--passphrase-file FILE") != NULL);
	CHECK_INT(jit_cadir_pass_get(&pass, "k", 0, small, sizeof(small), err,
	    sizeof(err)), JIT_ERR_INVALID_ARGUMENT);
}

/* The host CA: its own files beside the user CA, created only once,
 * encrypted when asked, loaded and printed through its own calls. */
static void
test_host_ca(void)
{
	struct jit_cadir_pass pass;
	struct jit_key *user = NULL, *host = NULL, *k = NULL;
	char ca[128], pf[128], err[1024];
	char *line = NULL, *want = NULL;
	unsigned mode = 0;

	snprintf(ca, sizeof(ca), "%s", path("hostca"));
	snprintf(pf, sizeof(pf), "%s", path("hostpass"));
	REQUIRE_OK(jit_cadir_create(ca, JIT_KEY_ED25519, 0, &user));
	CHECK(!jit_cadir_host_exists(ca));
	CHECK_INT(jit_cadir_load_host_pass(ca, NULL, &k, err, sizeof(err)),
	    JIT_ERR_NOT_FOUND);
	CHECK_INT(jit_cadir_create_host(ca, JIT_KEY_ED25519, 0, "", &host),
	    JIT_ERR_INVALID_ARGUMENT);
	REQUIRE_OK(jit_cadir_create_host(ca, JIT_KEY_ED25519, 0, NULL,
	    &host));
	CHECK(jit_cadir_host_exists(ca));
	CHECK(!jit_key_equal_public(user, host));
	CHECK_OK(jit_cadir_check_host_key_mode(ca, &mode));
	CHECK_INT(jit_cadir_create_host(ca, JIT_KEY_ED25519, 0, NULL, &k),
	    JIT_ERR_FILE_EXISTS);
	CHECK(k == NULL);
	/* The user CA is where it was. */
	REQUIRE_OK(jit_cadir_load(ca, &k));
	CHECK(jit_key_equal_public(k, user));
	jit_key_free(k);
	k = NULL;
	REQUIRE_OK(jit_cadir_load_host_pass(ca, NULL, &k, err, sizeof(err)));
	CHECK(jit_key_equal_public(k, host));
	jit_key_free(k);
	k = NULL;
	REQUIRE_OK(jit_key_format_public(host, JIT_CADIR_HOST_COMMENT, &want));
	REQUIRE_OK(jit_cadir_host_public_line_pass(ca, NULL, &line, err,
	    sizeof(err)));
	CHECK_STR(line, want);
	free(line);
	line = NULL;
	/* Without the .pub file the line is derived from the key. */
	unlink(path("hostca/host_ca_key.pub"));
	REQUIRE_OK(jit_cadir_host_public_line_pass(ca, NULL, &line, err,
	    sizeof(err)));
	CHECK_STR(line, want);
	free(line);
	line = NULL;
	chmod(path("hostca/host_ca_key"), 0640);
	CHECK_INT(jit_cadir_check_host_key_mode(ca, &mode),
	    JIT_ERR_PERMISSION);
	CHECK_INT(mode, 0640);
	CHECK_OK(jit_cadir_check_key_mode(ca, &mode));
	jit_key_free(host);
	host = NULL;

	/* An encrypted host CA asks for its passphrase by its own name. */
	unlink(path("hostca/host_ca_key"));
	REQUIRE_OK(jit_cadir_create_host(ca, JIT_KEY_ED25519, 0, "hosts!",
	    &host));
	CHECK_INT(jit_cadir_load_host_pass(ca, NULL, &k, err, sizeof(err)),
	    JIT_ERR_KEY_ENCRYPTED);
	CHECK(strstr(err, "the host CA key") != NULL);
	write_text(pf, "wrong\n", 0600);
	memset(&pass, 0, sizeof(pass));
	pass.file = pf;
	CHECK_INT(jit_cadir_load_host_pass(ca, &pass, &k, err, sizeof(err)),
	    JIT_ERR_BAD_PASSPHRASE);
	CHECK(strstr(err, "host_ca_key is encrypted and the passphrase is "
	    "wrong") != NULL);
	write_text(pf, "hosts!\n", 0600);
	REQUIRE_OK(jit_cadir_load_host_pass(ca, &pass, &k, err, sizeof(err)));
	CHECK(jit_key_equal_public(k, host));
	jit_key_free(k);
	jit_key_free(host);
	jit_key_free(user);
	free(want);
}

int
main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/jit-test-cadir-XXXXXX");
	REQUIRE(mkdtemp(dir) != NULL);
	unsetenv("CREDENTIALS_DIRECTORY");
	test_encrypted_ca();
	test_unencrypted_and_unsupported();
	test_pass_get();
	test_host_ca();
	run("rm -rf %s", dir);
	TEST_DONE();
}
