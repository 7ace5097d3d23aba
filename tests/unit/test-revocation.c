/*
 * test-revocation.c - the KRL built from the store's revoked requests:
 * which serials are listed (revoked, issued, not expired + grace), the
 * deterministic version / generated date, refusal of corrupt records,
 * and the GET /v1/krl handler.  The KRLs are read back with the strict
 * parser (krl.h); ssh-keygen -Q checks are in tests/integration/test-krl.sh.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "krl.h"
#include "revocation.h"
#include "store.h"
#include "test.h"
#include "util.h"

static char dir[64];

static void
cleanup(void)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/data.mdb", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/lock.mdb", dir);
	unlink(p);
	rmdir(dir);
}

struct put_ctx {
	json_t *req;
};

static int
put_fn(struct jit_store_txn *t, void *vctx)
{
	struct put_ctx *p = vctx;

	return jit_store_create_request(t, p->req, 0, NULL);
}

/* A request in state, with serial (0 = none, -1 = malformed) and
 * not_after / revoked_at as epoch seconds (0 = absent). */
static void
add(struct jit_store *s, const char *state, long long serial,
    uint64_t not_after, uint64_t revoked_at)
{
	struct put_ctx p;
	char t[JIT_TIME_LEN];

	p.req = json_pack("{s:s, s:s, s:s, s:s}", "user", "alice", "state",
	    state, "role", "ops", "public_key", "ssh-ed25519 AAAA");
	REQUIRE(p.req != NULL);
	if (serial > 0)
		json_object_set_new(p.req, "serial", json_integer(serial));
	else if (serial < 0)
		json_object_set_new(p.req, "serial", json_string("abc"));
	if (not_after != 0) {
		jit_format_time(not_after, t);
		json_object_set_new(p.req, "not_after", json_string(t));
	}
	if (revoked_at != 0) {
		jit_format_time(revoked_at, t);
		json_object_set_new(p.req, "revoked_at", json_string(t));
	}
	REQUIRE_OK(jit_store_write(s, put_fn, &p));
	json_decref(p.req);
}

static struct jit_krl *
parse(const struct jit_buf *b)
{
	struct jit_krl *k = NULL;

	CHECK_OK(jit_krl_parse(jit_buf_ptr(b), jit_buf_len(b), &k));
	REQUIRE(k != NULL);
	return k;
}

int
main(void)
{
	struct jit_store *s = NULL;
	struct jit_key *ca = NULL;
	struct jit_buf b = JIT_BUF_INIT, b2 = JIT_BUF_INIT;
	struct jit_revocation_info info;
	struct jit_krl *k;
	uint64_t now = 2000000000;

	snprintf(dir, sizeof(dir), "/tmp/jit-test-revocation-XXXXXX");
	REQUIRE(mkdtemp(dir) != NULL);
	REQUIRE_OK(jit_key_generate(JIT_KEY_ED25519, 0, &ca));

	/* No store at all: an empty, valid KRL. */
	REQUIRE_OK(jit_revocation_krl(NULL, ca, NULL, now, 60, &b, &info));
	k = parse(&b);
	CHECK_U64(k->ncas, 0);
	CHECK_U64(k->version, 0);
	CHECK_U64(k->generated, 0);
	CHECK_STR(k->comment, JIT_KRL_COMMENT);
	jit_krl_free(k);
	jit_buf_reset(&b);

	REQUIRE_OK(jit_store_open(dir, 0, &s));
	add(s, "revoked", 5, now + 100, now - 10);    /* listed */
	add(s, "revoked", 6, now - 30, now - 200);    /* expired, in grace */
	add(s, "revoked", 7, now - 100, now - 300);   /* expired for good */
	add(s, "revoked", 0, now + 100, now - 5);     /* no cert issued */
	add(s, "approved", 9, now + 100, 0);          /* not revoked */
	add(s, "ended", 10, now - 100, 0);

	REQUIRE_OK(jit_revocation_krl(s, ca, NULL, now, 60, &b, &info));
	k = parse(&b);
	CHECK_INT(jit_krl_is_revoked_serial(k, ca, 5), 1);
	CHECK_INT(jit_krl_is_revoked_serial(k, ca, 6), 1);
	CHECK_INT(jit_krl_is_revoked_serial(k, ca, 7), 0);
	CHECK_INT(jit_krl_is_revoked_serial(k, ca, 9), 0);
	CHECK_INT(jit_krl_is_revoked_serial(k, ca, 10), 0);
	CHECK_U64(jit_krl_count_serials(k, ca), 2);
	CHECK_U64(info.listed, 2);
	CHECK_U64(info.revoked, 4);
	/* 4 revoked + 2 of them not listed (serial 7 expired, one had no
	 * cert). */
	CHECK_U64(k->version, 6);
	CHECK_U64(info.version, 6);
	/* Serial 6 (not_after now-30) is the first to drop out, at now+30. */
	CHECK_U64(info.valid_until, now + 30);
	/* Latest content change: serial 5 revoked at now-10 (the request
	 * revoked at now-5 had no cert, so it changed nothing) vs. serial 7
	 * dropping out at now-100+60. */
	CHECK_U64(k->generated, now - 10);
	jit_krl_free(k);

	/* Same store, same moment: the same bytes. */
	REQUIRE_OK(jit_revocation_krl(s, ca, NULL, now, 60, &b2, NULL));
	CHECK_U64(jit_buf_len(&b), jit_buf_len(&b2));
	CHECK_MEM(jit_buf_ptr(&b), jit_buf_ptr(&b2), jit_buf_len(&b));
	jit_buf_reset(&b2);

	/* Without grace serial 6 drops out too, and the version grows. */
	REQUIRE_OK(jit_revocation_krl(s, ca, NULL, now, 0, &b2, &info));
	k = parse(&b2);
	CHECK_INT(jit_krl_is_revoked_serial(k, ca, 6), 0);
	CHECK_INT(jit_krl_is_revoked_serial(k, ca, 5), 1);
	CHECK_U64(info.listed, 1);
	CHECK_U64(k->version, 7);
	CHECK_U64(info.valid_until, now + 100);
	jit_krl_free(k);
	jit_buf_reset(&b2);

	/* A KRL for another CA revokes nothing of ours. */
	{
		struct jit_key *other = NULL;
		REQUIRE_OK(jit_key_generate(JIT_KEY_ED25519, 0, &other));
		k = parse(&b);
		CHECK_INT(jit_krl_is_revoked_serial(k, other, 5), 0);
		jit_krl_free(k);
		jit_key_free(other);
	}

	/* The walk stops at the first revoked grant that is dead
	 * everywhere: a damaged record older than that is never read (a
	 * build costs what is still valid, not every revocation ever). */
	add(s, "revoked", -1, now - 5000, now - 6000);
	REQUIRE_OK(jit_revocation_krl(s, ca, NULL, now, 60, &b2, &info));
	CHECK_U64(info.listed, 2);
	CHECK_U64(info.revoked, 5);
	CHECK_U64(info.version, 8);
	jit_buf_reset(&b2);

	/* A revoked record with a serial but no not_after comes first in
	 * the walk, and is refused. */
	{
		char d2[128];
		struct jit_store *s2 = NULL;

		snprintf(d2, sizeof(d2), "%s/two", dir);
		REQUIRE_OK(jit_store_open(d2, 0, &s2));
		add(s2, "revoked", 5, now + 100, now - 10);
		add(s2, "revoked", 8, 0, now - 10);
		CHECK_INT(jit_revocation_krl(s2, ca, NULL, now, 60, &b2, NULL),
		    JIT_ERR_STORE_CORRUPT);
		CHECK_U64(jit_buf_len(&b2), 0);
		jit_store_close(s2);
		snprintf(d2, sizeof(d2), "%s/two/data.mdb", dir);
		unlink(d2);
		snprintf(d2, sizeof(d2), "%s/two/lock.mdb", dir);
		unlink(d2);
		snprintf(d2, sizeof(d2), "%s/two", dir);
		rmdir(d2);
	}

	/* A revoked record with a malformed serial: refuse, never leave a
	 * revoked cert out silently; out stays unchanged. */
	add(s, "revoked", -1, now + 100, now);
	CHECK_INT(jit_revocation_krl(s, ca, NULL, now, 60, &b2, NULL),
	    JIT_ERR_STORE_CORRUPT);
	CHECK_U64(jit_buf_len(&b2), 0);

	jit_buf_release(&b);
	jit_buf_release(&b2);
	jit_store_close(s);
	jit_key_free(ca);
	cleanup();
	TEST_DONE();
}
