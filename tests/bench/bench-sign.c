/*
 * bench-sign.c - certificate issuance rate against the raw signature rate.
 *
 * Measures, on one core in one process, each for about the same time:
 *   - libsodium crypto_sign_detached (Ed25519) over a message the size of
 *     a certificate's signed bytes;
 *   - OpenSSL EVP Ed25519 (EVP_DigestSignInit + one-shot EVP_DigestSign);
 *   - our certificates with an Ed25519 CA: jit_cert_sign into a reused
 *     jit_buf (build + sign + encode), and the same plus jit_cert_format
 *     (base64 line);
 *   - the same for an ECDSA P-256 CA against raw OpenSSL ECDSA P-256
 *     (SHA-256) signing.
 * and prints a table with the ratios.  Rates are per second of CPU time
 * of the one thread; not a test, since the figures depend on the machine.
 *
 * Usage: bench-sign [SECONDS-PER-ROW [ed25519|ecdsa]]
 *        (default 2 s, both groups; one group is handy under a profiler)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "buf.h"
#include "cert.h"
#include "err.h"
#include "key.h"

static double seconds = 2.0;

/*
 * Rates are per second of this thread's CPU time, and the rows of one
 * group are measured in interleaved slices, so other load on the machine
 * (a shared CI box) shifts all rows of a group alike and the ratios hold.
 */
static double
cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef int (*op_fn)(void *arg);

struct bench {
	const char *name;
	op_fn op;
	void *arg;
	unsigned long n;
	double t;
	double rate;
};

#define SLICE 0.05

/* Run each bench for `seconds` in total, round-robin in slices. */
static int
measure_group(struct bench *b, size_t nb)
{
	double t0, t;
	size_t k;
	int i, done;

	for (k = 0; k < nb; k++) {
		b[k].n = 0;
		b[k].t = 0;
		/* Warm up caches and lazy initialisation. */
		for (i = 0; i < 50; i++) {
			if (b[k].op(b[k].arg) != 0)
				return -1;
		}
	}
	do {
		done = 1;
		for (k = 0; k < nb; k++) {
			t0 = cpu_s();
			do {
				for (i = 0; i < 16; i++) {
					if (b[k].op(b[k].arg) != 0)
						return -1;
				}
				b[k].n += 16;
				t = cpu_s();
			} while (t - t0 < SLICE);
			b[k].t += t - t0;
			if (b[k].t < seconds)
				done = 0;
		}
	} while (!done);
	for (k = 0; k < nb; k++)
		b[k].rate = (double)b[k].n / b[k].t;
	return 0;
}

/* ---- raw signatures ---- */

struct raw_sodium {
	unsigned char sk[crypto_sign_SECRETKEYBYTES];
	unsigned char sig[crypto_sign_BYTES];
	const unsigned char *msg;
	size_t len;
};

static int
op_sodium(void *arg)
{
	struct raw_sodium *s = arg;

	return crypto_sign_detached(s->sig, NULL, s->msg, s->len, s->sk);
}

struct raw_evp {
	EVP_PKEY *pkey;
	EVP_MD_CTX *ctx;
	const EVP_MD *md;
	unsigned char sig[256];
	const unsigned char *msg;
	size_t len;
};

static int
op_evp(void *arg)
{
	struct raw_evp *s = arg;
	size_t siglen = sizeof(s->sig);

	if (EVP_DigestSignInit(s->ctx, NULL, s->md, NULL, s->pkey) != 1 ||
	    EVP_DigestSign(s->ctx, s->sig, &siglen, s->msg, s->len) != 1)
		return -1;
	return 0;
}

static EVP_PKEY *
evp_keygen(const char *alg, const char *group)
{
	EVP_PKEY *pkey = NULL;

	if (group != NULL)
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, alg, group);
	else
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, alg);
	return pkey;
}

/* ---- certificates ---- */

static const char *const principals[] = { "alice" };
static const char *const extensions[] = {
	"permit-pty", "permit-agent-forwarding", "permit-port-forwarding",
	"permit-X11-forwarding", "permit-user-rc",
};

struct certs {
	struct jit_cert_spec spec;
	struct jit_key *ca;
	struct jit_buf b;
	int format;
};

static int
op_cert(void *arg)
{
	struct certs *c = arg;
	char *line = NULL;
	int r;

	jit_buf_reset(&c->b);
	c->spec.serial++;
	if ((r = jit_cert_sign(&c->spec, c->ca, jit_key_signer, c->ca,
	    &c->b)) != 0)
		return r;
	if (c->format) {
		if ((r = jit_cert_format(jit_buf_ptr(&c->b),
		    jit_buf_len(&c->b), NULL, &line)) != 0)
			return r;
		free(line);
	}
	return 0;
}

static int
certs_init(struct certs *c, enum jit_key_type catype,
    const struct jit_key *user)
{
	int r;

	memset(c, 0, sizeof(*c));
	jit_buf_init(&c->b);
	if ((r = jit_key_generate(catype, 0, &c->ca)) != 0)
		return r;
	c->spec.key = user;
	c->spec.serial = 1;
	c->spec.key_id = "alice@example.com via jit-ca (request 12345)";
	c->spec.principals = principals;
	c->spec.nprincipals = 1;
	c->spec.valid_after = 1900000000;
	c->spec.valid_before = 1900000000 + 3600;
	c->spec.extensions = extensions;
	c->spec.nextensions = 5;
	return 0;
}

static void
certs_free(struct certs *c)
{
	jit_buf_release(&c->b);
	jit_key_free(c->ca);
}

static void
print_row(const char *name, double rate, double base1, const char *b1,
    double base2, const char *b2)
{
	char r1[32] = "", r2[32] = "";

	if (base1 > 0)
		snprintf(r1, sizeof(r1), "%5.1f%% of %s", 100 * rate / base1,
		    b1);
	if (base2 > 0)
		snprintf(r2, sizeof(r2), "%5.1f%% of %s", 100 * rate / base2,
		    b2);
	printf("%-46s %10.0f/s  %-22s %s\n", name, rate, r1, r2);
}

static void
die(const char *what, int r)
{
	fprintf(stderr, "bench-sign: %s: %s\n", what, r < 0 ? jit_err(r) :
	    "failed");
	exit(1);
}

int
main(int argc, char **argv)
{
	struct raw_sodium rs;
	struct raw_evp re;
	struct certs ce, ce2;
	struct jit_key *user = NULL;
	unsigned char pk[crypto_sign_PUBLICKEYBYTES];
	unsigned char msg[377];
	size_t len;
	int r;

	if (argc > 1 && (seconds = atof(argv[1])) <= 0)
		seconds = 2.0;
	if (sodium_init() < 0)
		die("sodium_init", -1);
	if ((r = jit_key_generate(JIT_KEY_ED25519, 0, &user)) != 0)
		die("user key", r);

	/* The signed part of an Ed25519 cert from an Ed25519 CA with these
	 * options is this long; the raw rows sign the same amount. */
	if ((r = certs_init(&ce, JIT_KEY_ED25519, user)) != 0 ||
	    (r = op_cert(&ce)) != 0)
		die("certificate", r);
	len = jit_buf_len(&ce.b) - 4 - 4 - 11 - 4 - 64;
	if (len > sizeof(msg))
		len = sizeof(msg);
	randombytes_buf(msg, sizeof(msg));

	printf("jit-ssh certificate signing benchmark (%.1f s CPU per row, "
	    "one core, interleaved, cert of %zu bytes, %zu signed)\n", seconds,
	    jit_buf_len(&ce.b), len);
	printf("%-46s %12s  %s\n", "operation", "rate", "ratio");

	if (argc > 2 && strcmp(argv[2], "ed25519") != 0) {
		certs_free(&ce);
		goto ecdsa;
	}
	crypto_sign_keypair(pk, rs.sk);
	rs.msg = msg;
	rs.len = len;
	memset(&re, 0, sizeof(re));
	if ((re.pkey = evp_keygen("ED25519", NULL)) == NULL ||
	    (re.ctx = EVP_MD_CTX_new()) == NULL)
		die("EVP Ed25519 key", -1);
	re.msg = msg;
	re.len = len;
	ce2 = ce;
	ce2.format = 1;
	jit_buf_init(&ce2.b);
	{
		struct bench g[] = {
			{ "Ed25519 raw: libsodium crypto_sign_detached",
			    op_sodium, &rs, 0, 0, 0 },
			{ "Ed25519 raw: OpenSSL EVP_DigestSign", op_evp, &re,
			    0, 0, 0 },
			{ "Ed25519 CA: cert build+sign+encode", op_cert, &ce,
			    0, 0, 0 },
			{ "Ed25519 CA: ... + base64 line", op_cert, &ce2,
			    0, 0, 0 },
		};

		if (measure_group(g, 4) != 0)
			die("Ed25519 group", -1);
		print_row(g[0].name, g[0].rate, 0, NULL, 0, NULL);
		print_row(g[1].name, g[1].rate, g[0].rate, "libsodium", 0,
		    NULL);
		print_row(g[2].name, g[2].rate, g[0].rate, "libsodium",
		    g[1].rate, "OpenSSL");
		print_row(g[3].name, g[3].rate, g[0].rate, "libsodium",
		    g[1].rate, "OpenSSL");
	}
	EVP_MD_CTX_free(re.ctx);
	EVP_PKEY_free(re.pkey);
	jit_buf_release(&ce2.b);
	certs_free(&ce);
	if (argc > 2)
		goto done;

 ecdsa:
	memset(&re, 0, sizeof(re));
	if ((re.pkey = evp_keygen("EC", "P-256")) == NULL ||
	    (re.ctx = EVP_MD_CTX_new()) == NULL)
		die("EVP P-256 key", -1);
	re.md = EVP_sha256();
	re.msg = msg;
	re.len = len;
	if ((r = certs_init(&ce, JIT_KEY_ECDSA_P256, user)) != 0)
		die("P-256 CA", r);
	ce2 = ce;
	ce2.format = 1;
	jit_buf_init(&ce2.b);
	{
		struct bench g[] = {
			{ "ECDSA P-256 raw: OpenSSL EVP_DigestSign", op_evp,
			    &re, 0, 0, 0 },
			{ "ECDSA P-256 CA: cert build+sign+encode", op_cert,
			    &ce, 0, 0, 0 },
			{ "ECDSA P-256 CA: ... + base64 line", op_cert, &ce2,
			    0, 0, 0 },
		};

		if (measure_group(g, 3) != 0)
			die("P-256 group", -1);
		print_row(g[0].name, g[0].rate, 0, NULL, 0, NULL);
		print_row(g[1].name, g[1].rate, g[0].rate, "OpenSSL", 0,
		    NULL);
		print_row(g[2].name, g[2].rate, g[0].rate, "OpenSSL", 0,
		    NULL);
	}
	EVP_MD_CTX_free(re.ctx);
	EVP_PKEY_free(re.pkey);
	jit_buf_release(&ce2.b);
	certs_free(&ce);

 done:
	jit_key_free(user);
	return 0;
}
