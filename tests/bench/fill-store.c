/*
 * fill-store.c - fill a data directory with many requests, fast, through
 * the store API (big batches: one transaction per BATCH requests), for the
 * large-store rows of bench-http.sh.
 *
 * Requests look like the server's own (api/lifecycle/request.h: same
 * members, a real Ed25519 key line and fingerprint), made by USERS
 * different users.  PENDING of them are pending, spread evenly over the
 * whole sequence (the worst case for locality: no two on one page), with
 * their expires_at as the store's deadline; the rest are in final states
 * (expired, ended, denied, cancelled, revoked) with no deadline, so the
 * sweeper has nothing to do.  Each request also gets its request.create audit entry unless -A
 * is given.
 *
 * Usage: fill-store [-A] DIR COUNT PENDING [USERS]   (USERS default 1000)
 * Prints the time taken and the size of DIR/data.mdb.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "audit.h"
#include "err.h"
#include "key.h"
#include "store.h"
#include "util.h"

#define BATCH 5000

struct fill {
	unsigned long next, count, pending, users, every;
	int audit;
	const char *pk;
	const char *fp;
	uint64_t now;
};

static const char *const finals[] = { "expired", "ended", "denied",
    "cancelled", "revoked" };

static int
fill_fn(struct jit_store_txn *t, void *vctx)
{
	struct fill *f = vctx;
	unsigned long i, end = f->next + BATCH;
	char user[32], created[JIT_TIME_LEN], later[JIT_TIME_LEN];
	int r;

	if (end > f->count)
		end = f->count;
	for (i = f->next; i < end; i++) {
		int pend = (i % f->every) == f->every / 2 &&
		    i / f->every < f->pending;
		const char *state = pend ? "pending" : finals[i % 5];
		uint64_t c = f->now - (f->count - i);   /* one per second */
		json_t *req, *a;

		snprintf(user, sizeof(user), "user%04lu", i % f->users);
		jit_format_time(c, created);
		jit_format_time(pend ? f->now + 86400 : c + 3600, later);
		req = json_pack("{s:s, s:s, s:s, s:[s], s:s, s:I, s:s, s:s, "
		    "s:s, s:[], s:[], s:I, s:s, s:s}",
		    "state", state, "user", user, "role", "ops",
		    "principals", "postgres", "reason", "INC-4211",
		    "duration", (json_int_t)3600, "public_key", f->pk,
		    "key_type", "ed25519", "key_fingerprint", f->fp,
		    "approvals", "denials", "approvals_needed",
		    (json_int_t)1, "created_at", created,
		    pend ? "expires_at" : "decided_at", later);
		if (req == NULL)
			return JIT_ERR_ALLOC;
		/* The deadline the lifecycle gives: a pending request's
		 * expiry, none for a final state. */
		if ((r = jit_store_create_request(t, req,
		    pend ? f->now + 86400 : 0, NULL)) != 0) {
			json_decref(req);
			return r;
		}
		if (f->audit) {
			a = json_pack("{s:s, s:s, s:O, s:O, s:O, s:s, s:O, "
			    "s:O, s:O}", "event", "request.create", "actor",
			    user, "request", json_object_get(req, "id"),
			    "user", json_object_get(req, "user"), "role",
			    json_object_get(req, "role"), "state", "pending",
			    "principals", json_object_get(req, "principals"),
			    "reason", json_object_get(req, "reason"),
			    "key_fingerprint", json_object_get(req,
			    "key_fingerprint"));
			r = a == NULL ? JIT_ERR_ALLOC :
			    jit_audit_append(t, a, NULL, NULL);
			json_decref(a);
			if (r != 0) {
				json_decref(req);
				return r;
			}
		}
		json_decref(req);
	}
	f->next = end;
	return 0;
}

int
main(int argc, char **argv)
{
	struct jit_store_options o = { 0 };
	struct jit_store *s = NULL;
	struct jit_key *k = NULL;
	struct fill f;
	struct timespec t0, t1;
	struct stat st;
	char *pk = NULL, *fp = NULL, path[4096];
	int r, argi = 1;

	memset(&f, 0, sizeof(f));
	f.audit = 1;
	if (argc > 1 && strcmp(argv[1], "-A") == 0) {
		f.audit = 0;
		argi++;
	}
	if (argc - argi < 3) {
		fprintf(stderr, "usage: fill-store [-A] DIR COUNT PENDING "
		    "[USERS]\n");
		return 2;
	}
	f.count = strtoul(argv[argi + 1], NULL, 10);
	f.pending = strtoul(argv[argi + 2], NULL, 10);
	f.users = argc - argi > 3 ? strtoul(argv[argi + 3], NULL, 10) : 1000;
	if (f.count == 0 || f.users == 0 || f.pending > f.count)
		return 2;
	f.every = f.pending > 0 ? f.count / f.pending : f.count + 1;
	if ((r = jit_key_generate(JIT_KEY_ED25519, 0, &k)) != 0 ||
	    (r = jit_key_format_public(k, NULL, &pk)) != 0 ||
	    (r = jit_key_fingerprint(k, &fp)) != 0) {
		fprintf(stderr, "fill-store: key: %s\n", jit_err(r));
		return 1;
	}
	f.pk = pk;
	f.fp = fp;
	f.now = jit_now();
	o.map_size = 0;
	if ((r = jit_store_open_opts(argv[argi], &o, &s)) != 0) {
		fprintf(stderr, "fill-store: %s: %s\n", argv[argi], jit_err(r));
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (f.next < f.count) {
		if ((r = jit_store_write(s, fill_fn, &f)) != 0) {
			fprintf(stderr, "fill-store: write: %s\n", jit_err(r));
			return 1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	jit_store_close(s);
	snprintf(path, sizeof(path), "%s/data.mdb", argv[argi]);
	if (stat(path, &st) != 0)
		st.st_size = 0;
	printf("fill-store: %lu requests (%lu pending) in %.1f s, data.mdb "
	    "%lld MB\n", f.count, f.pending, (double)(t1.tv_sec -
	    t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
	    (long long)st.st_size >> 20);
	jit_key_free(k);
	free(pk);
	free(fp);
	return 0;
}
