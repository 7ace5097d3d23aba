/*
 * test-krl.c - KRL builder and parser, checked against the stock
 * ssh-keygen: certificates made by `ssh-keygen -s -z SERIAL` are queried
 * with `ssh-keygen -Q` against our KRLs, and KRLs made by `ssh-keygen -k`
 * are parsed by ours.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "key.h"
#include "krl.h"
#include "util.h"

#include "test.h"
#include "test-files.h"

#define MAXU64 UINT64_MAX

static void
write_buf(const char *p, const struct jit_buf *b)
{
	FILE *f = fopen(p, "wb");

	REQUIRE(f != NULL);
	REQUIRE(fwrite(jit_buf_ptr(b), 1, jit_buf_len(b), f) ==
	    jit_buf_len(b));
	REQUIRE(fclose(f) == 0);
}

/* Certificate by ca (a file under dir) with serial s and key ID id;
 * returns the path of the -cert.pub file. */
static const char *
make_cert(const char *ca, uint64_t s, const char *id)
{
	static char out[8][300];
	static int slot;
	char base[64];

	slot = (slot + 1) % 8;
	snprintf(base, sizeof(base), "u-%s-%" PRIu64 "-%s", ca, s, id);
	snprintf(out[slot], sizeof(out[slot]), "%s/%s-cert.pub", dir, base);
	if (access(out[slot], F_OK) == 0)
		return out[slot];
	REQUIRE(run("cp %s %s/%s.pub && ssh-keygen -q -s %s -I %s -n alice "
	    "-z %" PRIu64 " -V +1h %s/%s.pub 2>/dev/null", path("user.pub"),
	    dir, base, path(ca), id, s, dir, base) == 0);
	return out[slot];
}

/* ssh-keygen -Q: 1 revoked, 0 not. */
static int
keygen_revoked(const char *krl, const char *cert)
{
	return run("ssh-keygen -Q -f %s %s >/dev/null 2>&1", krl, cert);
}

static int
in_set(const uint64_t *s, size_t n, uint64_t v)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] == v && v != 0)
			return 1;
	return 0;
}

/* Subsection types present in the CERTIFICATES section of a KRL, as a
 * bit mask of (1 << (type - 0x20)). */
static unsigned
subsection_types(const struct jit_buf *krl)
{
	struct jit_buf b, sect, sub;
	const unsigned char *p;
	size_t len;
	uint8_t type;
	unsigned mask = 0;

	jit_buf_view(&b, jit_buf_ptr(krl), jit_buf_len(krl));
	REQUIRE_OK(jit_buf_skip(&b, 8 + 4 + 8 + 8 + 8));
	REQUIRE_OK(jit_buf_get_string_direct(&b, &p, &len));
	REQUIRE_OK(jit_buf_get_string_direct(&b, &p, &len));
	while (jit_buf_len(&b) > 0) {
		REQUIRE_OK(jit_buf_get_u8(&b, &type));
		REQUIRE_OK(jit_buf_get_stringb_view(&b, &sect));
		if (type != 1)
			continue;
		REQUIRE_OK(jit_buf_get_string_direct(&sect, &p, &len));
		REQUIRE_OK(jit_buf_get_string_direct(&sect, &p, &len));
		while (jit_buf_len(&sect) > 0) {
			REQUIRE_OK(jit_buf_get_u8(&sect, &type));
			REQUIRE_OK(jit_buf_get_stringb_view(&sect, &sub));
			if (type >= 0x20 && type < 0x30)
				mask |= 1u << (type - 0x20);
		}
	}
	return mask;
}

static struct jit_key *ca, *ca2;

/* With JIT_KRL_SEED_DIR set, KRLs we build are also written there as
 * fuzz seeds (tests/fuzz/corpus/krl/.make-seeds.sh uses this). */
static void
save_seed(const char *name, const struct jit_buf *b)
{
	const char *d = getenv("JIT_KRL_SEED_DIR");
	char p[512];

	if (d == NULL)
		return;
	snprintf(p, sizeof(p), "%s/%s", d, name);
	write_buf(p, b);
}

static const uint64_t revoked[] = {
	5, 5, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,   /* range */
	100, 101,                                           /* short run */
	1000, 0,                                            /* 0 ignored */
	500, 502, 504, 506, 508, 510, 512, 514, 516, 518,   /* bitmap */
	520, 522, 524, 526, 528, 530, 531, 532, 533, 540,
	MAXU64, MAXU64 - 1, 12345678901234ULL,
};
#define NREVOKED (sizeof(revoked) / sizeof(revoked[0]))

static const uint64_t probes[] = {
	1, 4, 5, 6, 9, 10, 15, 20, 21, 99, 100, 101, 102, 499, 500, 501,
	502, 529, 530, 533, 534, 540, 541, 999, 1000, 1001,
	12345678901233ULL, 12345678901234ULL, MAXU64 - 2, MAXU64 - 1, MAXU64,
};
#define NPROBES (sizeof(probes) / sizeof(probes[0]))

static void
test_against_keygen(void)
{
	static const char *const ids[] = { "bob", "mallory", "bob" };
	struct jit_krl_spec spec = { 0 };
	struct jit_buf b = JIT_BUF_INIT;
	struct jit_krl *krl = NULL;
	char krlp[256], emptyp[256], otherp[256];
	size_t i;
	unsigned mask;

	snprintf(krlp, sizeof(krlp), "%s", path("ours.krl"));
	snprintf(emptyp, sizeof(emptyp), "%s", path("empty.krl"));
	snprintf(otherp, sizeof(otherp), "%s", path("other.krl"));
	spec.ca = ca;
	spec.serials = revoked;
	spec.nserials = NREVOKED;
	spec.key_ids = ids;
	spec.nkey_ids = 3;
	spec.version = 7;
	spec.generated = 1700000000;
	spec.comment = "jit-ssh test";
	REQUIRE_OK(jit_krl_build(&spec, &b));
	write_buf(krlp, &b);
	save_seed("ours-all-subsections.krl", &b);
	mask = subsection_types(&b);
	CHECK_INT(mask, 0xf);  /* list, range, bitmap and key ID all used */

	REQUIRE_OK(jit_krl_parse(jit_buf_ptr(&b), jit_buf_len(&b), &krl));
	CHECK_U64(krl->version, 7);
	CHECK_U64(krl->generated, 1700000000);
	CHECK_STR(krl->comment, "jit-ssh test");
	CHECK_INT(krl->ncas, 1);
	CHECK_U64(jit_krl_count_serials(krl, ca), NREVOKED - 2);
	CHECK_INT(jit_krl_is_revoked_key_id(krl, ca, "bob"), 1);
	CHECK_INT(jit_krl_is_revoked_key_id(krl, ca, "mallory"), 1);
	CHECK_INT(jit_krl_is_revoked_key_id(krl, ca, "alice"), 0);
	CHECK_INT(jit_krl_is_revoked_key_id(krl, ca2, "bob"), 0);
	CHECK_INT(jit_krl_is_revoked_serial(krl, ca, 0), 0);

	/* Empty KRL and a KRL for another CA. */
	jit_buf_reset(&b);
	spec.serials = NULL;
	spec.nserials = 0;
	spec.key_ids = NULL;
	spec.nkey_ids = 0;
	REQUIRE_OK(jit_krl_build(&spec, &b));
	write_buf(emptyp, &b);
	save_seed("ours-empty.krl", &b);
	CHECK_INT(jit_buf_len(&b), 8 + 4 + 8 + 8 + 8 + 4 + 4 + 12);
	jit_buf_reset(&b);
	spec.ca = ca2;
	spec.serials = revoked;
	spec.nserials = NREVOKED;
	spec.key_ids = ids;
	spec.nkey_ids = 3;
	REQUIRE_OK(jit_krl_build(&spec, &b));
	write_buf(otherp, &b);
	save_seed("ours-ecdsa-ca.krl", &b);

	for (i = 0; i < NPROBES; i++) {
		uint64_t s = probes[i];
		const char *cert = make_cert("ca", s, "id-x");
		int want = in_set(revoked, NREVOKED, s);

		if (keygen_revoked(krlp, cert) != want) {
			fprintf(stderr, "serial %" PRIu64 ": ssh-keygen -Q "
			    "disagrees (want %d)\n", s, want);
			CHECK(0);
		}
		CHECK_INT(jit_krl_is_revoked_serial(krl, ca, s), want);
		CHECK_INT(jit_krl_is_revoked_serial(krl, ca2, s), 0);
		CHECK_INT(keygen_revoked(emptyp, cert), 0);
		CHECK_INT(keygen_revoked(otherp, cert), 0);
	}
	/* Key ID revocation, with a serial not otherwise revoked. */
	CHECK_INT(keygen_revoked(krlp, make_cert("ca", 7777, "bob")), 1);
	CHECK_INT(keygen_revoked(krlp, make_cert("ca", 7777, "alice")), 0);
	CHECK_INT(keygen_revoked(otherp, make_cert("ca", 7777, "bob")), 0);
	/* The other-CA KRL does revoke the other CA's certs. */
	CHECK_INT(keygen_revoked(otherp, make_cert("ca2", 5, "x")), 1);
	CHECK_INT(keygen_revoked(otherp, make_cert("ca2", 6, "x")), 0);
	jit_krl_free(krl);
	jit_buf_release(&b);
}

/* KRLs written by ssh-keygen -k parse with ours to the same set. */
static void
test_keygen_krls(void)
{
	FILE *f;
	struct jit_krl *krl = NULL;
	unsigned char *d = NULL;
	size_t len = 0;
	uint64_t s;
	char *pub2 = NULL;

	REQUIRE(run("ssh-keygen -q -t ed25519 -N '' -C '' -f %s",
	    path("user2")) == 0);
	REQUIRE(run("ssh-keygen -q -t ecdsa -N '' -C '' -f %s",
	    path("user3")) == 0);
	REQUIRE_OK(jit_read_file(path("user2.pub"), 4096,
	    (unsigned char **)&pub2, &len));
	f = fopen(path("spec"), "w");
	REQUIRE(f != NULL);
	fprintf(f, "serial: 5\nserial: 10-20\nserial: 1000\n"
	    "serial: 18446744073709551614-18446744073709551615\n"
	    "id: carol\nid: dave\n");
	/* dense set: ssh-keygen picks a bitmap */
	for (s = 300; s < 400; s += 3)
		fprintf(f, "serial: %" PRIu64 "\n", s);
	fprintf(f, "key: %s", pub2);
	fclose(f);
	free(pub2);
	REQUIRE(run("ssh-keygen -q -k -f %s -s %s -z 42 %s", path("kg.krl"),
	    path("ca.pub"), path("spec")) == 0);
	/* hash revocations appended in a second run with -u */
	REQUIRE(run("ssh-keygen -q -k -u -f %s %s %s", path("kg.krl"),
	    path("user3.pub"), path("user.pub")) == 0);
	/* sha1:/sha256: take a public key line */
	REQUIRE(run("(printf 'sha256: '; cat %s; printf 'sha1: '; cat %s) > %s",
	    path("user3.pub"), path("user.pub"), path("spec2")) == 0);
	REQUIRE(run("ssh-keygen -q -k -u -f %s %s", path("kg.krl"),
	    path("spec2")) == 0);

	REQUIRE_OK(jit_read_file(path("kg.krl"), 1 << 20, &d, &len));
	{
		struct jit_buf v;
		jit_buf_view(&v, d, len);
		save_seed("keygen-mixed.krl", &v);
	}
	REQUIRE_OK(jit_krl_parse(d, len, &krl));
	CHECK_U64(krl->version, 42);
	CHECK(krl->nexplicit_keys >= 1);
	CHECK(krl->nsha256 >= 1);
	CHECK(krl->nsha1 >= 1);
	for (s = 1; s < 1100; s++) {
		int want = s == 5 || (s >= 10 && s <= 20) || s == 1000 ||
		    (s >= 300 && s < 400 && (s - 300) % 3 == 0);
		if (jit_krl_is_revoked_serial(krl, ca, s) != want) {
			fprintf(stderr, "ssh-keygen KRL serial %" PRIu64
			    " want %d\n", s, want);
			CHECK(0);
		}
	}
	CHECK_INT(jit_krl_is_revoked_serial(krl, ca, MAXU64), 1);
	CHECK_INT(jit_krl_is_revoked_serial(krl, ca, MAXU64 - 1), 1);
	CHECK_INT(jit_krl_is_revoked_serial(krl, ca, MAXU64 - 2), 0);
	CHECK_INT(jit_krl_is_revoked_serial(krl, ca2, 5), 0);
	CHECK_U64(jit_krl_count_serials(krl, ca), 1 + 11 + 1 + 2 + 34);
	CHECK_INT(jit_krl_is_revoked_key_id(krl, ca, "carol"), 1);
	CHECK_INT(jit_krl_is_revoked_key_id(krl, ca, "dave"), 1);
	CHECK_INT(jit_krl_is_revoked_key_id(krl, ca, "erin"), 0);
	jit_krl_free(krl);
	krl = NULL;

	/* Our parser must accept ssh-keygen's bitmap: check it was used. */
	{
		struct jit_buf b;
		jit_buf_view(&b, d, len);
		CHECK(subsection_types(&b) & (1u << 2));
	}
	free(d);

	/* "-s none": key IDs for any CA. */
	f = fopen(path("spec3"), "w");
	REQUIRE(f != NULL);
	fprintf(f, "id: eve\n");
	fclose(f);
	REQUIRE(run("ssh-keygen -q -k -f %s -s none %s", path("any.krl"),
	    path("spec3")) == 0);
	REQUIRE_OK(jit_read_file(path("any.krl"), 1 << 20, &d, &len));
	{
		struct jit_buf v;
		jit_buf_view(&v, d, len);
		save_seed("keygen-any-ca.krl", &v);
	}
	REQUIRE_OK(jit_krl_parse(d, len, &krl));
	CHECK_INT(jit_krl_is_revoked_key_id(krl, ca, "eve"), 1);
	CHECK_INT(jit_krl_is_revoked_key_id(krl, ca2, "eve"), 1);
	CHECK_INT(jit_krl_is_revoked_key_id(krl, ca2, "eva"), 0);
	CHECK_U64(jit_krl_count_serials(krl, ca), 0);
	jit_krl_free(krl);
	free(d);
}

/* Pseudo-random serial sets round-trip through build and parse. */
static void
test_roundtrip(void)
{
	uint64_t x = 0x9e3779b97f4a7c15ULL, base;
	uint64_t *s = malloc(4000 * sizeof(*s));
	size_t iter, n, i, j, uniq, nseeds = 0;

	REQUIRE(s != NULL);
	for (iter = 0; iter < 200; iter++) {
		struct jit_krl_spec spec = { 0 };
		struct jit_buf b = JIT_BUF_INIT;
		struct jit_krl *krl = NULL;
		int bad = 0;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		n = 1 + x % 4000;
		base = iter % 3 == 0 ? MAXU64 - 5000 : x % 1000000;
		for (i = 0; i < n; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			/* mix dense, sparse and clustered sets */
			s[i] = base + x % (iter % 4 == 0 ? 5000 :
			    iter % 4 == 1 ? 500 : iter % 4 == 2 ? 50000000 :
			    n * 2);
		}
		spec.ca = ca;
		spec.serials = s;
		spec.nserials = n;
		REQUIRE_OK(jit_krl_build(&spec, &b));
		if (jit_buf_len(&b) < 2048 && nseeds < 4) {
			char name[64];
			snprintf(name, sizeof(name), "ours-random-%zu.krl",
			    iter);
			save_seed(name, &b);
			nseeds++;
		}
		REQUIRE_OK(jit_krl_parse(jit_buf_ptr(&b), jit_buf_len(&b),
		    &krl));
		for (uniq = 0, i = 0; i < n; i++) {
			for (j = 0; j < i && s[j] != s[i]; j++)
				;
			if (j == i && s[i] != 0)
				uniq++;
			if (jit_krl_is_revoked_serial(krl, ca, s[i]) !=
			    (s[i] != 0))
				bad++;
			if (s[i] < MAXU64 && jit_krl_is_revoked_serial(krl,
			    ca, s[i] + 1) != in_set(s, n, s[i] + 1))
				bad++;
			if (s[i] > 1 && jit_krl_is_revoked_serial(krl,
			    ca, s[i] - 1) != in_set(s, n, s[i] - 1))
				bad++;
		}
		CHECK_INT(bad, 0);
		CHECK_U64(jit_krl_count_serials(krl, ca), uniq);
		/* no more than a list would cost */
		CHECK(jit_buf_len(&b) <= 200 + 8 * uniq + 21);
		jit_krl_free(krl);
		jit_buf_release(&b);
	}
	free(s);
}

/* Build a KRL by hand: header then raw sections. */
static void
hdr(struct jit_buf *b, uint32_t format, uint64_t flags)
{
	jit_buf_reset(b);
	REQUIRE_OK(jit_buf_put(b, "SSHKRL\n\0", 8));
	REQUIRE_OK(jit_buf_put_u32(b, format));
	REQUIRE_OK(jit_buf_put_u64(b, 1));
	REQUIRE_OK(jit_buf_put_u64(b, 2));
	REQUIRE_OK(jit_buf_put_u64(b, flags));
	REQUIRE_OK(jit_buf_put_string(b, NULL, 0));
	REQUIRE_OK(jit_buf_put_cstring(b, "c"));
}

/* Append a CERTIFICATES section for ca with one subsection. */
static void
cert_sect(struct jit_buf *b, uint8_t subtype, const struct jit_buf *sub)
{
	struct jit_buf cs = JIT_BUF_INIT;
	const unsigned char *blob;
	size_t len;

	REQUIRE_OK(jit_key_public_blob(ca, &blob, &len));
	REQUIRE_OK(jit_buf_put_string(&cs, blob, len));
	REQUIRE_OK(jit_buf_put_string(&cs, NULL, 0));
	REQUIRE_OK(jit_buf_put_u8(&cs, subtype));
	REQUIRE_OK(jit_buf_put_stringb(&cs, sub));
	REQUIRE_OK(jit_buf_put_u8(b, 1));
	REQUIRE_OK(jit_buf_put_stringb(b, &cs));
	jit_buf_release(&cs);
}

static int
parse_buf(const struct jit_buf *b)
{
	struct jit_krl *krl = NULL;
	int r = jit_krl_parse(jit_buf_ptr(b), jit_buf_len(b), &krl);

	if (r == 0)
		CHECK(krl != NULL);
	else
		CHECK(krl == NULL);
	jit_krl_free(krl);
	return r;
}

static void
test_malformed(void)
{
	struct jit_buf b = JIT_BUF_INIT, sub = JIT_BUF_INIT;
	struct jit_krl_spec spec = { 0 };
	static const uint64_t ser[] = { 3, 9, 10, 11, 40 };
	static const char *const ids[] = { "a" };
	size_t full, hlen, i;
	int accepted;
	unsigned char h1[32], h2[32];
	unsigned char sub_mag[3] = { 0x01, 0x00, 0x03 };

	/* Every prefix fails except the bare header and the whole. */
	spec.ca = ca;
	spec.serials = ser;
	spec.nserials = 5;
	spec.key_ids = ids;
	spec.nkey_ids = 1;
	spec.comment = "prefix";
	REQUIRE_OK(jit_krl_build(&spec, &b));
	full = jit_buf_len(&b);
	hlen = 8 + 4 + 8 + 8 + 8 + 4 + 4 + 6;
	for (accepted = 0, i = 0; i <= full; i++) {
		struct jit_krl *krl = NULL;
		if (jit_krl_parse(jit_buf_ptr(&b), i, &krl) == 0) {
			accepted++;
			CHECK(i == hlen || i == full);
		}
		jit_krl_free(krl);
	}
	CHECK_INT(accepted, 2);

	/* Header fields. */
	hdr(&b, 1, 0);
	CHECK_OK(parse_buf(&b));
	hdr(&b, 2, 0);
	CHECK_INT(parse_buf(&b), JIT_ERR_INVALID_FORMAT);
	hdr(&b, 1, 1);
	CHECK_INT(parse_buf(&b), JIT_ERR_INVALID_FORMAT);
	hdr(&b, 1, 0);
	((unsigned char *)b.d)[6] = 'x';
	CHECK_INT(parse_buf(&b), JIT_ERR_INVALID_FORMAT);

	/* Unknown, signature, extension and empty sections. */
	for (i = 0; i < 256; i++) {
		hdr(&b, 1, 0);
		REQUIRE_OK(jit_buf_put_u8(&b, (uint8_t)i));
		REQUIRE_OK(jit_buf_put_u32(&b, 4));
		REQUIRE_OK(jit_buf_put_u32(&b, 0));
		/* string("") is a valid opaque list entry for nothing: only
		 * EXPLICIT_KEY would take it, and it refuses empty keys. */
		CHECK(parse_buf(&b) != 0);
	}
	hdr(&b, 1, 0);
	REQUIRE_OK(jit_buf_put_u8(&b, 2));
	REQUIRE_OK(jit_buf_put_u32(&b, 0));
	CHECK_INT(parse_buf(&b), JIT_ERR_INVALID_FORMAT);

	/* SHA256 sections: sorted accepted, unsorted/duplicate/wrong size
	 * refused. */
	memset(h1, 1, sizeof(h1));
	memset(h2, 2, sizeof(h2));
	for (i = 0; i < 4; i++) {
		jit_buf_reset(&sub);
		REQUIRE_OK(jit_buf_put_string(&sub, i == 1 ? h2 : h1, 32));
		REQUIRE_OK(jit_buf_put_string(&sub, i == 1 ? h1 : i == 2 ? h1 :
		    h2, i == 3 ? 31 : 32));
		hdr(&b, 1, 0);
		REQUIRE_OK(jit_buf_put_u8(&b, 5));
		REQUIRE_OK(jit_buf_put_stringb(&b, &sub));
		if (i == 0)
			CHECK_OK(parse_buf(&b));
		else
			CHECK_INT(parse_buf(&b), JIT_ERR_INVALID_FORMAT);
	}

	/* Serial list: good, with 0, with a partial entry. */
	jit_buf_reset(&sub);
	REQUIRE_OK(jit_buf_put_u64(&sub, 7));
	hdr(&b, 1, 0);
	cert_sect(&b, 0x20, &sub);
	CHECK_OK(parse_buf(&b));
	REQUIRE_OK(jit_buf_put_u64(&sub, 0));
	hdr(&b, 1, 0);
	cert_sect(&b, 0x20, &sub);
	CHECK_INT(parse_buf(&b), JIT_ERR_INVALID_FORMAT);
	jit_buf_reset(&sub);
	REQUIRE_OK(jit_buf_put_u64(&sub, 7));
	REQUIRE_OK(jit_buf_put_u32(&sub, 7));
	hdr(&b, 1, 0);
	cert_sect(&b, 0x20, &sub);
	CHECK_INT(parse_buf(&b), JIT_ERR_MESSAGE_INCOMPLETE);

	/* Ranges. */
	{
		static const uint64_t rs[][2] = { { 1, 1 }, { 2, 1 },
		    { 0, 5 }, { 1, MAXU64 } };
		for (i = 0; i < 4; i++) {
			jit_buf_reset(&sub);
			REQUIRE_OK(jit_buf_put_u64(&sub, rs[i][0]));
			REQUIRE_OK(jit_buf_put_u64(&sub, rs[i][1]));
			hdr(&b, 1, 0);
			cert_sect(&b, 0x21, &sub);
			if (rs[i][0] != 0 && rs[i][0] <= rs[i][1])
				CHECK_OK(parse_buf(&b));
			else
				CHECK_INT(parse_buf(&b),
				    JIT_ERR_INVALID_FORMAT);
		}
		/* trailing bytes in a range subsection */
		REQUIRE_OK(jit_buf_put_u8(&sub, 0));
		hdr(&b, 1, 0);
		cert_sect(&b, 0x21, &sub);
		CHECK_INT(parse_buf(&b), JIT_ERR_TRAILING_DATA);
	}

	/* Bitmaps: bits 0,1 and 16 at offset 10 -> 10, 11, 26. */
	jit_buf_reset(&sub);
	REQUIRE_OK(jit_buf_put_u64(&sub, 10));
	REQUIRE_OK(jit_buf_put_mpint(&sub, sub_mag, 3));
	hdr(&b, 1, 0);
	cert_sect(&b, 0x22, &sub);
	{
		struct jit_krl *krl = NULL;
		REQUIRE_OK(jit_krl_parse(jit_buf_ptr(&b), jit_buf_len(&b),
		    &krl));
		CHECK_INT(jit_krl_is_revoked_serial(krl, ca, 10), 1);
		CHECK_INT(jit_krl_is_revoked_serial(krl, ca, 11), 1);
		CHECK_INT(jit_krl_is_revoked_serial(krl, ca, 12), 0);
		CHECK_INT(jit_krl_is_revoked_serial(krl, ca, 25), 0);
		CHECK_INT(jit_krl_is_revoked_serial(krl, ca, 26), 1);
		CHECK_INT(jit_krl_is_revoked_serial(krl, ca, 27), 0);
		CHECK_U64(jit_krl_count_serials(krl, ca), 3);
		jit_krl_free(krl);
	}
	/* offset 0 with bit 0 -> serial 0 */
	jit_buf_reset(&sub);
	REQUIRE_OK(jit_buf_put_u64(&sub, 0));
	REQUIRE_OK(jit_buf_put_mpint(&sub, sub_mag, 3));
	hdr(&b, 1, 0);
	cert_sect(&b, 0x22, &sub);
	CHECK_INT(parse_buf(&b), JIT_ERR_INVALID_FORMAT);
	/* wraps past 2^64-1 */
	jit_buf_reset(&sub);
	REQUIRE_OK(jit_buf_put_u64(&sub, MAXU64 - 3));
	REQUIRE_OK(jit_buf_put_mpint(&sub, sub_mag, 3));
	hdr(&b, 1, 0);
	cert_sect(&b, 0x22, &sub);
	CHECK_INT(parse_buf(&b), JIT_ERR_INVALID_FORMAT);
	/* ends exactly at 2^64-1: bit 16 at offset 2^64-17 */
	jit_buf_reset(&sub);
	REQUIRE_OK(jit_buf_put_u64(&sub, MAXU64 - 16));
	REQUIRE_OK(jit_buf_put_mpint(&sub, sub_mag, 3));
	hdr(&b, 1, 0);
	cert_sect(&b, 0x22, &sub);
	CHECK_OK(parse_buf(&b));
	/* zero bitmap, non-minimal bitmap, too long a bitmap */
	jit_buf_reset(&sub);
	REQUIRE_OK(jit_buf_put_u64(&sub, 5));
	REQUIRE_OK(jit_buf_put_u32(&sub, 0));
	hdr(&b, 1, 0);
	cert_sect(&b, 0x22, &sub);
	CHECK_INT(parse_buf(&b), JIT_ERR_INVALID_FORMAT);
	jit_buf_reset(&sub);
	REQUIRE_OK(jit_buf_put_u64(&sub, 5));
	REQUIRE_OK(jit_buf_put_string(&sub, "\0\x01", 2));
	hdr(&b, 1, 0);
	cert_sect(&b, 0x22, &sub);
	CHECK_INT(parse_buf(&b), JIT_ERR_BAD_MPINT);
	{
		unsigned char big[2049];
		memset(big, 0, sizeof(big));
		big[0] = 1;
		jit_buf_reset(&sub);
		REQUIRE_OK(jit_buf_put_u64(&sub, 5));
		REQUIRE_OK(jit_buf_put_mpint(&sub, big, sizeof(big)));
		hdr(&b, 1, 0);
		cert_sect(&b, 0x22, &sub);
		CHECK_INT(parse_buf(&b), JIT_ERR_BAD_MPINT);
		jit_buf_reset(&sub);
		REQUIRE_OK(jit_buf_put_u64(&sub, 5));
		REQUIRE_OK(jit_buf_put_mpint(&sub, big + 1, 2048 - 1));
		hdr(&b, 1, 0);
		cert_sect(&b, 0x22, &sub);
		CHECK_INT(parse_buf(&b), JIT_ERR_INVALID_FORMAT); /* zero */
		big[1] = 0x80;
		jit_buf_reset(&sub);
		REQUIRE_OK(jit_buf_put_u64(&sub, 5));
		REQUIRE_OK(jit_buf_put_mpint(&sub, big + 1, 2048));
		hdr(&b, 1, 0);
		cert_sect(&b, 0x22, &sub);
		CHECK_OK(parse_buf(&b)); /* 16384 bits with the top set */
	}

	/* Key IDs: NUL inside, partial string; unknown subsection 0x39. */
	jit_buf_reset(&sub);
	REQUIRE_OK(jit_buf_put_string(&sub, "a\0b", 3));
	hdr(&b, 1, 0);
	cert_sect(&b, 0x23, &sub);
	CHECK_INT(parse_buf(&b), JIT_ERR_NUL_IN_STRING);
	jit_buf_reset(&sub);
	REQUIRE_OK(jit_buf_put_u32(&sub, 5));
	REQUIRE_OK(jit_buf_put(&sub, "abc", 3));
	hdr(&b, 1, 0);
	cert_sect(&b, 0x23, &sub);
	CHECK_INT(parse_buf(&b), JIT_ERR_MESSAGE_INCOMPLETE);
	jit_buf_reset(&sub);
	REQUIRE_OK(jit_buf_put_cstring(&sub, "ext@x"));
	REQUIRE_OK(jit_buf_put_u8(&sub, 0));
	REQUIRE_OK(jit_buf_put_string(&sub, NULL, 0));
	hdr(&b, 1, 0);
	cert_sect(&b, 0x39, &sub);
	CHECK_INT(parse_buf(&b), JIT_ERR_INVALID_FORMAT);

	/* CA blob that is not a key. */
	hdr(&b, 1, 0);
	jit_buf_reset(&sub);
	REQUIRE_OK(jit_buf_put_cstring(&sub, "ssh-ed25519"));
	REQUIRE_OK(jit_buf_put_u32(&sub, 3));
	{
		struct jit_buf cs = JIT_BUF_INIT, l = JIT_BUF_INIT;
		REQUIRE_OK(jit_buf_put_stringb(&cs, &sub));
		REQUIRE_OK(jit_buf_put_string(&cs, NULL, 0));
		REQUIRE_OK(jit_buf_put_u64(&l, 3));
		REQUIRE_OK(jit_buf_put_u8(&cs, 0x20));
		REQUIRE_OK(jit_buf_put_stringb(&cs, &l));
		REQUIRE_OK(jit_buf_put_u8(&b, 1));
		REQUIRE_OK(jit_buf_put_stringb(&b, &cs));
		CHECK(parse_buf(&b) != 0);
		jit_buf_release(&cs);
		jit_buf_release(&l);
	}

	/* Build argument errors. */
	{
		static const char *const nullid[] = { NULL };
		struct jit_krl_spec bad = { 0 };
		size_t before;

		jit_buf_reset(&b);
		REQUIRE_OK(jit_buf_put_u8(&b, 0xaa));
		before = jit_buf_len(&b);
		CHECK_INT(jit_krl_build(&bad, &b), JIT_ERR_INVALID_ARGUMENT);
		bad.ca = ca;
		bad.nserials = 1;
		CHECK_INT(jit_krl_build(&bad, &b), JIT_ERR_INVALID_ARGUMENT);
		bad.nserials = 0;
		bad.key_ids = nullid;
		bad.nkey_ids = 1;
		CHECK_INT(jit_krl_build(&bad, &b), JIT_ERR_INVALID_ARGUMENT);
		CHECK_INT(jit_buf_len(&b), before);
		/* Only serial 0: an empty KRL. */
		{
			static const uint64_t zero[] = { 0, 0 };
			struct jit_krl *krl = NULL;
			bad.key_ids = NULL;
			bad.nkey_ids = 0;
			bad.serials = zero;
			bad.nserials = 2;
			jit_buf_reset(&b);
			REQUIRE_OK(jit_krl_build(&bad, &b));
			REQUIRE_OK(jit_krl_parse(jit_buf_ptr(&b),
			    jit_buf_len(&b), &krl));
			CHECK_INT(krl->ncas, 0);
			jit_krl_free(krl);
		}
	}
	jit_buf_release(&b);
	jit_buf_release(&sub);
}

/* A large scattered set needs sections longer than the single-string
 * limit; it must still round-trip and be accepted by ssh-keygen. */
static void
test_large(void)
{
	struct jit_krl_spec spec = { 0 };
	struct jit_buf b = JIT_BUF_INIT;
	struct jit_krl *krl = NULL;
	size_t n = 200000, i;
	uint64_t *s = malloc(n * sizeof(*s));

	REQUIRE(s != NULL);
	for (i = 0; i < n; i++)
		s[i] = 1000 + (uint64_t)i * 1000;  /* list entries only */
	spec.ca = ca;
	spec.serials = s;
	spec.nserials = n;
	REQUIRE_OK(jit_krl_build(&spec, &b));
	CHECK(jit_buf_len(&b) > JIT_BUF_MAX_STRING);
	REQUIRE_OK(jit_krl_parse(jit_buf_ptr(&b), jit_buf_len(&b), &krl));
	CHECK_U64(jit_krl_count_serials(krl, ca), n);
	CHECK_INT(jit_krl_is_revoked_serial(krl, ca, 1000 + 777 * 1000), 1);
	CHECK_INT(jit_krl_is_revoked_serial(krl, ca, 1001 + 777 * 1000), 0);
	write_buf(path("large.krl"), &b);
	CHECK_INT(keygen_revoked(path("large.krl"),
	    make_cert("ca", 1000 + 199999 * 1000ULL, "x")), 1);
	CHECK_INT(keygen_revoked(path("large.krl"),
	    make_cert("ca", 999, "x")), 0);
	jit_krl_free(krl);
	jit_buf_release(&b);
	free(s);
}

/* One section per CA: a user CA and a host CA revoke different serials,
 * each only for its own certificates, and a CA with nothing revoked gets
 * no section. */
static void
test_two_cas(void)
{
	static const uint64_t user_serials[] = { 5, 6, 7 };
	static const uint64_t host_serials[] = { 6, 40 };
	struct jit_krl_section more[2];
	struct jit_krl_spec spec = { 0 };
	struct jit_buf b = JIT_BUF_INIT;
	struct jit_krl *krl = NULL;

	memset(more, 0, sizeof(more));
	more[0].ca = ca2;
	more[0].serials = host_serials;
	more[0].nserials = 2;
	more[1].ca = ca2;                  /* nothing: no section */
	spec.ca = ca;
	spec.serials = user_serials;
	spec.nserials = 3;
	spec.version = 9;
	spec.more = more;
	spec.nmore = 2;
	REQUIRE_OK(jit_krl_build(&spec, &b));
	REQUIRE_OK(jit_krl_parse(jit_buf_ptr(&b), jit_buf_len(&b), &krl));
	CHECK_INT(krl->ncas, 2);
	CHECK_U64(jit_krl_count_serials(krl, ca), 3);
	CHECK_U64(jit_krl_count_serials(krl, ca2), 2);
	CHECK_INT(jit_krl_is_revoked_serial(krl, ca, 7), 1);
	CHECK_INT(jit_krl_is_revoked_serial(krl, ca, 40), 0);
	CHECK_INT(jit_krl_is_revoked_serial(krl, ca2, 40), 1);
	CHECK_INT(jit_krl_is_revoked_serial(krl, ca2, 5), 0);
	write_buf(path("two.krl"), &b);
	CHECK_INT(keygen_revoked(path("two.krl"), make_cert("ca", 5, "x")), 1);
	CHECK_INT(keygen_revoked(path("two.krl"), make_cert("ca", 40, "x")),
	    0);
	CHECK_INT(keygen_revoked(path("two.krl"), make_cert("ca2", 40, "x")),
	    1);
	CHECK_INT(keygen_revoked(path("two.krl"), make_cert("ca2", 7, "x")),
	    0);
	jit_krl_free(krl);

	/* A further section is checked like the spec's own. */
	more[0].ca = NULL;
	CHECK_INT(jit_krl_build(&spec, &b), JIT_ERR_INVALID_ARGUMENT);
	more[0].ca = ca2;
	more[0].serials = NULL;
	CHECK_INT(jit_krl_build(&spec, &b), JIT_ERR_INVALID_ARGUMENT);
	spec.more = NULL;
	CHECK_INT(jit_krl_build(&spec, &b), JIT_ERR_INVALID_ARGUMENT);
	jit_buf_release(&b);
}

int
main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/jit-krl-XXXXXX");
	REQUIRE(mkdtemp(dir) != NULL);
	REQUIRE(run("ssh-keygen -q -t ed25519 -N '' -C '' -f %s",
	    path("ca")) == 0);
	REQUIRE(run("ssh-keygen -q -t ecdsa -b 384 -N '' -C '' -f %s",
	    path("ca2")) == 0);
	REQUIRE(run("ssh-keygen -q -t ed25519 -N '' -C '' -f %s",
	    path("user")) == 0);
	REQUIRE_OK(jit_key_load_public(path("ca.pub"), &ca));
	REQUIRE_OK(jit_key_load_public(path("ca2.pub"), &ca2));

	test_against_keygen();
	test_keygen_krls();
	test_roundtrip();
	test_malformed();
	test_large();
	test_two_cas();

	jit_key_free(ca);
	jit_key_free(ca2);
	run("rm -rf %s", dir);
	TEST_DONE();
}
