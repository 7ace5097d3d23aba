/*
 * test-sshsig.c - SSH file signatures: our sign/verify with every key
 * type, cross-checked both ways with the stock ssh-keygen -Y, byte
 * identity with ssh-keygen for deterministic Ed25519, and refusals.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "buf.h"
#include "err.h"
#include "key.h"
#include "sshsig.h"
#include "util.h"

#include "test.h"
#include "test-files.h"

static const char msg[] =
    "jit-ssh audit export\nline two\n\0binary after a NUL\n";

static void
write_file(const char *p, const void *data, size_t len)
{
	FILE *f = fopen(p, "wb");

	REQUIRE(f != NULL);
	REQUIRE(fwrite(data, 1, len, f) == len);
	REQUIRE(fclose(f) == 0);
}

static char *
read_text(const char *p)
{
	unsigned char *d = NULL;
	size_t len = 0;

	REQUIRE_OK(jit_read_file(p, 1 << 20, &d, &len));
	return (char *)d;
}

/* Checks common to every good armour: exact header, 70-column lines,
 * footer with one newline. */
static void
check_armor_shape(const char *a)
{
	const char *p, *nl;
	size_t n;

	REQUIRE(a != NULL);
	CHECK(strncmp(a, "-----BEGIN SSH SIGNATURE-----\n", 30) == 0);
	n = strlen(a);
	CHECK(n > 28 &&
	    strcmp(a + n - 28, "-----END SSH SIGNATURE-----\n") == 0);
	for (p = a + 30; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
		if (strncmp(p, "-----END", 8) == 0)
			break;
		/* every base64 line but the last is exactly 70 */
		if (strncmp(nl + 1, "-----END", 8) != 0)
			CHECK_INT(nl - p, 70);
		else
			CHECK(nl - p > 0 && nl - p <= 70);
	}
}

/* Refusals every signature must show. */
static void
check_refusals(const char *arm, const char *ns)
{
	struct jit_buf blob = JIT_BUF_INIT;
	struct jit_key *k = NULL;
	char *bad = NULL;
	size_t n = strlen(arm), i;
	int fails = 0;

	CHECK_INT(jit_sshsig_verify(arm, n, "other", (const void *)msg,
	    sizeof(msg), &k), JIT_ERR_SIGNATURE_INVALID);
	CHECK(k == NULL);
	CHECK_INT(jit_sshsig_verify(arm, n, ns, (const void *)msg,
	    sizeof(msg) - 1, NULL), JIT_ERR_SIGNATURE_INVALID);
	CHECK_INT(jit_sshsig_verify(arm, n, "", (const void *)msg,
	    sizeof(msg), NULL), JIT_ERR_INVALID_ARGUMENT);

	/* Every truncation fails, except dropping the final newline. */
	for (i = 0; i + 1 < n; i++) {
		if (jit_sshsig_verify(arm, i, ns, (const void *)msg,
		    sizeof(msg), NULL) == 0)
			fails++;
	}
	CHECK_INT(fails, 0);
	CHECK_OK(jit_sshsig_verify(arm, n - 1, ns, (const void *)msg,
	    sizeof(msg), NULL));

	/* Flip one bit in each byte of the blob: never verifies. */
	REQUIRE_OK(jit_sshsig_dearmor(arm, n, &blob));
	{
		size_t blen = jit_buf_len(&blob);
		unsigned char *copy = malloc(blen);
		unsigned char digest[64];
		size_t dlen = 0;
		struct jit_sshsig_hash *h = NULL;
		const char *alg = NULL;

		REQUIRE(copy != NULL);
		REQUIRE_OK(jit_sshsig_peek_hash_alg(arm, n, &alg));
		REQUIRE_OK(jit_sshsig_hash_init(alg, &h));
		REQUIRE_OK(jit_sshsig_hash_update(h, msg, sizeof(msg)));
		REQUIRE_OK(jit_sshsig_hash_final(h, digest, &dlen));
		jit_sshsig_hash_free(h);
		memcpy(copy, jit_buf_ptr(&blob), blen);
		CHECK_OK(jit_sshsig_verify_blob(copy, blen, ns, alg, digest,
		    dlen, NULL));
		fails = 0;
		for (i = 0; i < blen; i++) {
			copy[i] ^= (unsigned char)(1u << (i % 8));
			if (jit_sshsig_verify_blob(copy, blen, ns, alg,
			    digest, dlen, NULL) == 0)
				fails++;
			copy[i] ^= (unsigned char)(1u << (i % 8));
		}
		CHECK_INT(fails, 0);
		/* Trailing byte. */
		CHECK(jit_sshsig_verify_blob(copy, blen - 1, ns, alg, digest,
		    dlen, NULL) != 0);
		/* Re-armoured modified signature (last byte of the sig). */
		copy[blen - 1] ^= 1;
		REQUIRE_OK(jit_sshsig_armor(copy, blen, &bad));
		CHECK_INT(jit_sshsig_verify(bad, strlen(bad), ns,
		    (const void *)msg, sizeof(msg), NULL),
		    JIT_ERR_SIGNATURE_INVALID);
		free(bad);
		free(copy);
	}
	jit_buf_release(&blob);

	/* Armour variations. */
	bad = malloc(n + 8);
	REQUIRE(bad != NULL);
	memcpy(bad, arm, n + 1);
	bad[5] = 'b';  /* header */
	CHECK(jit_sshsig_verify(bad, n, ns, (const void *)msg, sizeof(msg),
	    NULL) != 0);
	memcpy(bad, arm, n + 1);
	bad[40] = '*';  /* not base64 */
	CHECK(jit_sshsig_verify(bad, n, ns, (const void *)msg, sizeof(msg),
	    NULL) != 0);
	memcpy(bad, arm, n);
	memcpy(bad + n, "x", 2);  /* data after the footer */
	CHECK(jit_sshsig_verify(bad, n + 1, ns, (const void *)msg,
	    sizeof(msg), NULL) != 0);
	memcpy(bad, arm, n);
	memcpy(bad + n, "\n", 2);  /* two newlines after the footer */
	CHECK(jit_sshsig_verify(bad, n + 1, ns, (const void *)msg,
	    sizeof(msg), NULL) != 0);
	/* CRLF */
	memcpy(bad, arm, 29);
	memcpy(bad + 29, "\r\n", 2);
	memcpy(bad + 31, arm + 30, n - 30 + 1);
	CHECK(jit_sshsig_verify(bad, n + 1, ns, (const void *)msg,
	    sizeof(msg), NULL) != 0);
	free(bad);
}

/* Verify armour with the stock ssh-keygen -Y verify. */
static int
keygen_verify(const struct jit_key *k, const char *arm, const char *ns,
    const char *verify_ns)
{
	char *line = NULL, *as;
	FILE *f;
	int st;

	REQUIRE_OK(jit_key_format_public(k, NULL, &line));
	f = fopen(path("allowed_signers"), "w");
	REQUIRE(f != NULL);
	fprintf(f, "signer@test namespaces=\"%s\" %s\n", ns, line);
	REQUIRE(fclose(f) == 0);
	free(line);
	write_file(path("msg"), msg, sizeof(msg));
	write_file(path("msg.sig"), arm, strlen(arm));
	as = path("allowed_signers");
	st = run("ssh-keygen -q -Y verify -f %s -I signer@test -n %s "
	    "-s %s < %s >/dev/null 2>&1", as, verify_ns, path("msg.sig"),
	    path("msg"));
	return st;
}

static void
test_own_keys(void)
{
	static const enum jit_key_type types[] = { JIT_KEY_ED25519,
	    JIT_KEY_ECDSA_P256, JIT_KEY_ECDSA_P384, JIT_KEY_ECDSA_P521,
	    JIT_KEY_RSA };
	static const char *const algs[] = { NULL, "sha256", "sha512" };
	size_t t, a;

	for (t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
		struct jit_key *k = NULL, *other = NULL, *got = NULL;

		REQUIRE_OK(jit_key_generate(types[t], 0, &k));
		for (a = 0; a < 3; a++) {
			char *arm = NULL, *arm2 = NULL;
			struct jit_sshsig_hash *h = NULL;
			unsigned char d[JIT_SSHSIG_MAX_DIGEST];
			const char *peek = NULL;
			size_t dlen = 0, i;

			REQUIRE_OK(jit_sshsig_sign(jit_key_signer, k, k,
			    "file", algs[a], (const void *)msg, sizeof(msg),
			    &arm));
			check_armor_shape(arm);
			CHECK_OK(jit_sshsig_verify(arm, strlen(arm), "file",
			    (const void *)msg, sizeof(msg), &got));
			CHECK(got != NULL && jit_key_equal_public(got, k));
			jit_key_free(got);
			got = NULL;
			CHECK_OK(jit_sshsig_peek_hash_alg(arm, strlen(arm),
			    &peek));
			CHECK_STR(peek, algs[a] ? algs[a] : "sha512");
			CHECK_INT(keygen_verify(k, arm, "file", "file"), 0);
			CHECK(keygen_verify(k, arm, "file", "other") != 0);
			check_refusals(arm, "file");

			/* Streaming: hash in odd-sized chunks, sign the
			 * digest, verify both ways. */
			REQUIRE_OK(jit_sshsig_hash_init(algs[a], &h));
			for (i = 0; i < sizeof(msg); i += 7)
				REQUIRE_OK(jit_sshsig_hash_update(h, msg + i,
				    sizeof(msg) - i < 7 ? sizeof(msg) - i : 7));
			REQUIRE_OK(jit_sshsig_hash_final(h, d, &dlen));
			{
				unsigned char d2[JIT_SSHSIG_MAX_DIGEST];
				size_t d2len = 1;
				CHECK_INT(jit_sshsig_hash_final(h, d2, &d2len),
				    JIT_ERR_INVALID_ARGUMENT);
				CHECK_INT(d2len, 0);
			}
			jit_sshsig_hash_free(h);
			CHECK_INT(dlen, jit_sshsig_digest_len(algs[a]));
			REQUIRE_OK(jit_sshsig_sign_digest(jit_key_signer, k,
			    k, "audit@jit-ssh", algs[a], d, dlen, &arm2));
			CHECK_OK(jit_sshsig_verify_digest(arm2, strlen(arm2),
			    "audit@jit-ssh", algs[a], d, dlen, NULL));
			CHECK_OK(jit_sshsig_verify(arm2, strlen(arm2),
			    "audit@jit-ssh", (const void *)msg, sizeof(msg),
			    NULL));
			CHECK_INT(keygen_verify(k, arm2, "audit@jit-ssh",
			    "audit@jit-ssh"), 0);
			/* Digest of the wrong algorithm or length. */
			CHECK_INT(jit_sshsig_verify_digest(arm2, strlen(arm2),
			    "audit@jit-ssh", dlen == 64 ? "sha256" : "sha512",
			    d, dlen == 64 ? 32 : 64, NULL),
			    JIT_ERR_SIGNATURE_INVALID);
			free(arm2);
			arm2 = NULL;
			CHECK_INT(jit_sshsig_sign_digest(jit_key_signer, k,
			    k, "file", algs[a], d, dlen - 1, &arm2),
			    JIT_ERR_INVALID_ARGUMENT);
			CHECK(arm2 == NULL);
			free(arm);
		}

		/* A signer using another key is caught before output. */
		REQUIRE_OK(jit_key_generate(JIT_KEY_ED25519, 0, &other));
		{
			char *arm = (char *)"x";
			/* Ed25519 signing with the wrong Ed25519 key gives a
			 * bad signature; other types an algorithm mismatch. */
			CHECK(jit_sshsig_sign(jit_key_signer, other, k,
			    "file", NULL, (const void *)msg, sizeof(msg),
			    &arm) != 0);
			CHECK(arm == NULL);
		}
		jit_key_free(other);

		/* Bad arguments. */
		{
			char *arm = NULL;
			CHECK_INT(jit_sshsig_sign(jit_key_signer, k, k, "",
			    NULL, (const void *)msg, sizeof(msg), &arm),
			    JIT_ERR_INVALID_ARGUMENT);
			CHECK_INT(jit_sshsig_sign(jit_key_signer, k, k, "f",
			    "sha1", (const void *)msg, sizeof(msg), &arm),
			    JIT_ERR_SIGNATURE_ALG);
			CHECK_INT(jit_sshsig_sign(jit_key_signer, k, k, "f",
			    "SHA512", (const void *)msg, sizeof(msg), &arm),
			    JIT_ERR_SIGNATURE_ALG);
			CHECK(arm == NULL);
		}
		jit_key_free(k);
	}
}

/* Signatures made by ssh-keygen -Y sign verify with ours; for Ed25519
 * (deterministic) our output is byte-identical to ssh-keygen's. */
static void
test_keygen_signs(void)
{
	static const struct {
		const char *name, *args;
	} keys[] = {
		{ "k_ed25519", "-t ed25519" },
		{ "k_ecdsa256", "-t ecdsa -b 256" },
		{ "k_ecdsa384", "-t ecdsa -b 384" },
		{ "k_ecdsa521", "-t ecdsa -b 521" },
		{ "k_rsa", "-t rsa -b 3072" },
	};
	size_t i, h;

	write_file(path("msg"), msg, sizeof(msg));
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		char kp[256], pubp[300];
		struct jit_key *pub = NULL, *priv = NULL, *got = NULL;

		snprintf(kp, sizeof(kp), "%s", path(keys[i].name));
		snprintf(pubp, sizeof(pubp), "%s.pub", kp);
		REQUIRE(run("ssh-keygen -q %s -N '' -C '' -f %s", keys[i].args,
		    kp) == 0);
		REQUIRE_OK(jit_key_load_public(pubp, &pub));
		for (h = 0; h < 2; h++) {
			const char *alg = h ? "sha256" : "sha512";
			char *arm;

			unlink(path("msg.sig"));
			REQUIRE(run("ssh-keygen -q -Y sign -f %s -n git "
			    "-O hashalg=%s %s 2>/dev/null", kp, alg,
			    path("msg")) == 0);
			arm = read_text(path("msg.sig"));
			CHECK_OK(jit_sshsig_verify(arm, strlen(arm), "git",
			    (const void *)msg, sizeof(msg), &got));
			CHECK(got != NULL && jit_key_equal_public(got, pub));
			jit_key_free(got);
			got = NULL;
			check_refusals(arm, "git");
			if (i == 0) {
				char *ours = NULL;
				REQUIRE_OK(jit_key_load_private(kp, &priv));
				REQUIRE_OK(jit_sshsig_sign(jit_key_signer,
				    priv, priv, "git", alg, (const void *)msg,
				    sizeof(msg), &ours));
				CHECK_STR(ours, arm);
				free(ours);
				jit_key_free(priv);
				priv = NULL;
			}
			free(arm);
		}
		jit_key_free(pub);
	}
}

/* Hand-made blobs: structural refusals the bit-flip loop cannot reach. */
static void
test_malformed_blobs(void)
{
	struct jit_key *k = NULL;
	struct jit_buf b = JIT_BUF_INIT, sig = JIT_BUF_INIT;
	unsigned char d[64];
	const unsigned char *pk;
	size_t pklen;
	char *arm = NULL;
	int variant;

	memset(d, 0x5a, sizeof(d));
	REQUIRE_OK(jit_key_generate(JIT_KEY_ED25519, 0, &k));
	REQUIRE_OK(jit_key_public_blob(k, &pk, &pklen));
	/* 0 empty namespace, 1 reserved set, 2 unknown hash, 3 version 2,
	 * 4 trailing byte, 5 well-formed control */
	for (variant = 0; variant < 6; variant++) {
		struct jit_buf tosign = JIT_BUF_INIT;
		const char *res = variant == 1 ? "x" : "";
		const char *alg = variant == 2 ? "sha384" : "sha512";
		const char *ns = variant == 0 ? "" : "file";

		jit_buf_reset(&b);
		jit_buf_reset(&sig);
		/* Sign exactly what a lenient verifier would check, so only
		 * the structural rule can make us refuse. */
		REQUIRE_OK(jit_buf_put(&tosign, "SSHSIG", 6));
		REQUIRE_OK(jit_buf_put_cstring(&tosign, ns));
		REQUIRE_OK(jit_buf_put_cstring(&tosign, res));
		REQUIRE_OK(jit_buf_put_cstring(&tosign, alg));
		REQUIRE_OK(jit_buf_put_string(&tosign, d, 64));
		REQUIRE_OK(jit_key_sign(k, jit_buf_ptr(&tosign),
		    jit_buf_len(&tosign), &sig));
		jit_buf_release(&tosign);
		REQUIRE_OK(jit_buf_put(&b, "SSHSIG", 6));
		REQUIRE_OK(jit_buf_put_u32(&b, variant == 3 ? 2 : 1));
		REQUIRE_OK(jit_buf_put_string(&b, pk, pklen));
		REQUIRE_OK(jit_buf_put_cstring(&b, ns));
		REQUIRE_OK(jit_buf_put_cstring(&b, res));
		REQUIRE_OK(jit_buf_put_cstring(&b, alg));
		REQUIRE_OK(jit_buf_put_stringb(&b, &sig));
		if (variant == 4)
			REQUIRE_OK(jit_buf_put_u8(&b, 0));
		if (variant == 5) {
			/* control: well-formed */
			CHECK_OK(jit_sshsig_verify_blob(jit_buf_ptr(&b),
			    jit_buf_len(&b), "file", "sha512", d, 64, NULL));
			continue;
		}
		CHECK(jit_sshsig_verify_blob(jit_buf_ptr(&b), jit_buf_len(&b),
		    "file", "sha512", d, 64, NULL) != 0);
	}
	/* Namespace with a NUL, and namespace prefix. */
	REQUIRE_OK(jit_sshsig_sign_digest(jit_key_signer, k, k, "file",
	    "sha512", d, 64, &arm));
	CHECK_INT(jit_sshsig_verify_digest(arm, strlen(arm), "fil", "sha512",
	    d, 64, NULL), JIT_ERR_SIGNATURE_INVALID);
	CHECK_INT(jit_sshsig_verify_digest(arm, strlen(arm), "files",
	    "sha512", d, 64, NULL), JIT_ERR_SIGNATURE_INVALID);
	CHECK_OK(jit_sshsig_verify_digest(arm, strlen(arm), "file", NULL,
	    d, 64, NULL));
	free(arm);
	/* Empty and garbage armour. */
	CHECK(jit_sshsig_verify("", 0, "file", d, 1, NULL) != 0);
	CHECK(jit_sshsig_verify("-----BEGIN SSH SIGNATURE-----\n"
	    "-----END SSH SIGNATURE-----\n", 58, "file", d, 1, NULL) != 0);
	jit_buf_release(&b);
	jit_buf_release(&sig);
	jit_key_free(k);
}

/*
 * RSA signature algorithms: a blob whose inner signature is rsa-sha2-256
 * verifies, one with SHA-1 "ssh-rsa" is refused even though the RSA
 * signature itself is valid.  Signatures are made with OpenSSL directly
 * from a PEM key written by ssh-keygen.
 */
static void
test_rsa_algs(void)
{
	static const struct {
		const char *name;
		const char *md;
		int want;
	} algs[] = {
		{ "rsa-sha2-256", "SHA256", 0 },
		{ "rsa-sha2-512", "SHA512", 0 },
		{ "ssh-rsa", "SHA1", JIT_ERR_SIGNATURE_ALG },
		{ "rsa-sha2-256", "SHA512", JIT_ERR_SIGNATURE_INVALID },
	};
	struct jit_key *pub = NULL;
	const unsigned char *pk;
	unsigned char d[64], rsasig[1024];
	size_t pklen, i;
	EVP_PKEY *pkey = NULL;
	FILE *f;

	memset(d, 0x33, sizeof(d));
	REQUIRE(run("ssh-keygen -q -t rsa -b 3072 -m PEM -N '' -C '' -f %s",
	    path("k_pem")) == 0);
	f = fopen(path("k_pem"), "r");
	REQUIRE(f != NULL);
	pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	REQUIRE(pkey != NULL);
	REQUIRE_OK(jit_key_load_public(path("k_pem.pub"), &pub));
	REQUIRE_OK(jit_key_public_blob(pub, &pk, &pklen));
	for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		struct jit_buf tosign = JIT_BUF_INIT, sig = JIT_BUF_INIT;
		struct jit_buf b = JIT_BUF_INIT;
		EVP_MD_CTX *md = EVP_MD_CTX_new();
		size_t rlen = sizeof(rsasig);

		REQUIRE(md != NULL);
		REQUIRE_OK(jit_buf_put(&tosign, "SSHSIG", 6));
		REQUIRE_OK(jit_buf_put_cstring(&tosign, "file"));
		REQUIRE_OK(jit_buf_put_string(&tosign, NULL, 0));
		REQUIRE_OK(jit_buf_put_cstring(&tosign, "sha512"));
		REQUIRE_OK(jit_buf_put_string(&tosign, d, 64));
		REQUIRE(EVP_DigestSignInit_ex(md, NULL, algs[i].md, NULL, NULL,
		    pkey, NULL) == 1);
		REQUIRE(EVP_DigestSign(md, rsasig, &rlen, jit_buf_ptr(&tosign),
		    jit_buf_len(&tosign)) == 1);
		EVP_MD_CTX_free(md);
		REQUIRE_OK(jit_buf_put_cstring(&sig, algs[i].name));
		REQUIRE_OK(jit_buf_put_string(&sig, rsasig, rlen));
		REQUIRE_OK(jit_buf_put(&b, "SSHSIG", 6));
		REQUIRE_OK(jit_buf_put_u32(&b, 1));
		REQUIRE_OK(jit_buf_put_string(&b, pk, pklen));
		REQUIRE_OK(jit_buf_put_cstring(&b, "file"));
		REQUIRE_OK(jit_buf_put_string(&b, NULL, 0));
		REQUIRE_OK(jit_buf_put_cstring(&b, "sha512"));
		REQUIRE_OK(jit_buf_put_stringb(&b, &sig));
		CHECK_INT(jit_sshsig_verify_blob(jit_buf_ptr(&b),
		    jit_buf_len(&b), "file", "sha512", d, 64, NULL),
		    algs[i].want);
		jit_buf_release(&tosign);
		jit_buf_release(&sig);
		jit_buf_release(&b);
	}
	EVP_PKEY_free(pkey);
	jit_key_free(pub);
}

int
main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/jit-sshsig-XXXXXX");
	REQUIRE(mkdtemp(dir) != NULL);
	test_own_keys();
	test_keygen_signs();
	test_malformed_blobs();
	test_rsa_algs();
	run("rm -rf %s", dir);
	TEST_DONE();
}
