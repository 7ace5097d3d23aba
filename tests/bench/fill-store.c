/*
 * fill-store.c - fill a data directory with many requests, fast, through
 * the store API (big batches: one transaction per BATCH requests), for the
 * large-store rows of bench-http.sh.
 *
 * Requests are made by the server's own constructor (jit_request_new,
 * api/lifecycle/request.h) with a real Ed25519 key line and fingerprint,
 * by USERS
 * different users.  PENDING of them are pending, spread evenly over the
 * whole sequence (the worst case for locality: no two on one page), with
 * their expires_at as the store's deadline; the rest are in final states
 * (expired, ended, denied, cancelled, revoked) with no deadline, so the
 * sweeper has nothing to do.  Each request also gets its request.create
 * audit entry unless -A is given.
 *
 * Revoked requests were granted for an hour from their creation and had
 * a certificate (a serial) before they were revoked, so they are what the
 * KRL reads: those created within the last hour are still valid and
 * listed, the older ones have expired.  With -R every request that is not
 * pending is revoked (the KRL rows of bench-http.sh).
 *
 * The requests are for the role "ops" of the policy file given with -P
 * (with its digest recorded, so the server keeps them open when it
 * starts with that policy), else for a built-in role of that name that
 * records none (a server would end the pending ones at start).
 *
 * Usage: fill-store [-A] [-R] [-P POLICY] DIR COUNT PENDING [USERS]
 *        (USERS default 1000)
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
#include "request.h"
#include "store.h"
#include "util.h"

#define BATCH 5000

struct fill {
	unsigned long next, count, pending, users, every;
	int audit;
	int all_revoked;             /* -R */
	const char *pk;
	const char *fp;
	const struct jit_policy_role *role;
	uint64_t now;
};

/* The final states, in turn, with the time member each sets. */
static const enum jit_state finals[] = { JIT_STATE_EXPIRED,
    JIT_STATE_ENDED, JIT_STATE_DENIED, JIT_STATE_CANCELLED,
    JIT_STATE_REVOKED };

/* A role like the example "ops" role: one principal, one approval. */
static const char *const ops_principals[] = { "postgres" };
static const struct jit_policy_role ops_role = {
	.name = "ops",
	.principals = ops_principals,
	.nprincipals = 1,
	.approvals = 1,
	.max_duration = 3600,
	.default_duration = 3600,
	.pending_timeout = 86400,
};

/* Request i, made by the server's own constructor (request.h), then
 * moved to its state as the lifecycle would have. */
static int
make_request(const struct fill *f, unsigned long i, struct jit_request **out)
{
	struct jit_request_terms terms;
	char user[32];
	int pend = (i % f->every) == f->every / 2 && i / f->every < f->pending;
	uint64_t created = f->now - (f->count - i);   /* one per second */
	struct jit_request *r;
	int rc;

	snprintf(user, sizeof(user), "user%04lu", i % f->users);
	memset(&terms, 0, sizeof(terms));
	terms.user = user;
	terms.role = f->role;
	terms.role_digest = f->role != &ops_role ?
	    jit_policy_role_digest(f->role) : NULL;
	terms.public_key = f->pk;
	terms.key_type = "ed25519";
	terms.key_fingerprint = f->fp;
	terms.duration = 3600;
	terms.reason = "INC-4211";
	terms.now = created;
	if ((rc = jit_request_new(&terms, &r)) != 0)
		return rc;
	if (pend) {
		r->expires_at = f->now + 86400;
	} else {
		r->state = f->all_revoked ? JIT_STATE_REVOKED : finals[i % 5];
		r->expires_at = 0;
		r->decided_at = created;
		if (r->state == JIT_STATE_ENDED ||
		    r->state == JIT_STATE_REVOKED) {
			r->not_before = created;
			r->not_after = created + 3600;
		}
		if (r->state == JIT_STATE_REVOKED) {
			/* Sparse, as in life. */
			r->serial = 16 * (uint64_t)i + 1;
			r->issued_at = created;
			r->revoked_at = created + 60;
			if ((r->revoked_by = strdup("admin")) == NULL) {
				jit_request_free(r);
				return JIT_ERR_ALLOC;
			}
		}
	}
	*out = r;
	return 0;
}

static int
fill_fn(struct jit_store_txn *t, void *vctx)
{
	struct fill *f = vctx;
	unsigned long i, end = f->next + BATCH;
	struct jit_request *req;
	json_t *a;
	int r;

	if (end > f->count)
		end = f->count;
	for (i = f->next; i < end; i++) {
		if ((r = make_request(f, i, &req)) != 0)
			return r;
		if ((r = jit_request_store_new(t, req, NULL)) != 0) {
			jit_request_free(req);
			return r;
		}
		if (f->audit) {
			a = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:[s], "
			    "s:s, s:s}", "event", "request.create", "actor",
			    req->user, "request", req->id, "user", req->user,
			    "role", req->role, "state", "pending",
			    "principals", req->principals[0],
			    "reason", req->reason,
			    "key_fingerprint", req->key_fingerprint);
			r = a == NULL ? JIT_ERR_ALLOC :
			    jit_audit_append(t, a, NULL, NULL);
			json_decref(a);
			if (r != 0) {
				jit_request_free(req);
				return r;
			}
		}
		jit_request_free(req);
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
	struct jit_policy *pol = NULL;
	struct jit_policy_error pe;
	struct fill f;
	struct timespec t0, t1;
	struct stat st;
	char *pk = NULL, *fp = NULL, path[4096];
	int r, argi = 1;

	memset(&f, 0, sizeof(f));
	f.audit = 1;
	f.role = &ops_role;
	for (; argi < argc && argv[argi][0] == '-'; argi++) {
		if (strcmp(argv[argi], "-A") == 0) {
			f.audit = 0;
		} else if (strcmp(argv[argi], "-R") == 0) {
			f.all_revoked = 1;
		} else if (strcmp(argv[argi], "-P") == 0 && argi + 1 < argc) {
			memset(&pe, 0, sizeof(pe));
			r = jit_policy_load(argv[++argi], &pol, &pe);
			if (r != 0 ||
			    (f.role = jit_policy_role(pol, "ops")) == NULL) {
				fprintf(stderr, "fill-store: %s: no role ops "
				    "(%s)\n", argv[argi], jit_err(r));
				return 1;
			}
		} else {
			break;
		}
	}
	if (argc - argi < 3) {
		fprintf(stderr, "usage: fill-store [-A] [-R] [-P POLICY] DIR "
		    "COUNT PENDING [USERS]\n");
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
	jit_policy_free(pol);
	free(pk);
	free(fp);
	return 0;
}
