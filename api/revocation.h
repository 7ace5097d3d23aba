/*
 * revocation.h - the key revocation list (KRL) of the certificates whose
 * grants were ended early, served as GET /v1/krl and written offline by
 * `jit-ca krl`.
 *
 * Source of truth.  POST /v1/requests/ID/revoke (lifecycle.h) moves a
 * request to state "revoked" and keeps its "serial" (present once a cert
 * was issued) and "not_after" (the cert's valid_before).  The KRL lists
 * the serials of the revoked requests whose certificates could still be
 * accepted somewhere: those with now < not_after + grace.  grace is the
 * server's clock_skew: a host whose clock lags the CA's by up to that
 * much still sees the revocation until the cert is dead on that host
 * too.  Revoked certs past that point are left out, which keeps the KRL
 * small (they are dead anyway).
 *
 * Cost.  The revoked requests are read through the store's by_state_end
 * index, latest not_after first, and the walk stops at the first that is
 * dead everywhere: a build reads the grants that are still valid (plus
 * one), not every revocation ever made.  Revoked requests without a cert
 * whose not_after has not passed are read and skipped.
 *
 * Determinism.  For the same store contents and time the KRL bytes are
 * the same, so the server and `jit-ca krl` produce byte-identical files,
 * and a host can compare with cmp(1):
 *   krl_version    = 2 x (revoked requests) - (serials listed), that is
 *                    the revoked requests plus those of them not listed
 *                    (no cert was issued, or it has expired); both terms
 *                    only grow, and every change of the listed set
 *                    increases the sum, so the version increases
 *                    whenever the content changes;
 *   generated_date = when the content last changed: the latest
 *                    revoked_at of a listed serial, or the not_after +
 *                    grace of the latest revoked grant that dropped out,
 *                    whichever is later (0 with neither);
 *   comment        = "jit-ssh".
 *
 * Host certificates.  With a host CA, the certificates of revoked hosts
 * (hosts.h, jit_hosts_revoked_certs) are listed the same way, in a second
 * CERTIFICATES section signed for by the host CA, with the same grace;
 * all of them are read (revoked hosts are few).  They add to krl_version
 * (host certificates listed) + 2 x (those left out as expired) and count
 * into generated_date like the requests (a revoked host's certificates
 * are fixed once it is revoked, so the sum still only grows).  One file
 * then serves sshd's RevokedKeys and ssh's RevokedHostKeys.
 *
 * The KRL has one CERTIFICATES section per CA with something listed (see
 * krl.h) and no signature; with nothing revoked it has no sections and
 * revokes nothing.
 */
#ifndef JIT_REVOCATION_H
#define JIT_REVOCATION_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "key.h"
#include "store.h"

#define JIT_KRL_COMMENT "jit-ssh"

struct jit_revocation_info {
	uint64_t listed;      /* serials in the KRL */
	uint64_t host_listed; /* of listed, host certificates */
	uint64_t revoked;     /* revoked requests, listed or not */
	uint64_t left_out;    /* revoked requests not listed (no cert was
	                         issued, or it expired) and revoked host
	                         certificates left out as expired */
	uint64_t version;     /* krl_version written */
	uint64_t generated;   /* generated_date written */
	uint64_t valid_until; /* the first time at which a listed serial
	                         drops out (the KRL changes by itself);
	                         UINT64_MAX with none listed */
};

/*
 * Read the revoked requests (and, when host_ca is not NULL, the revoked
 * hosts) from s (one read snapshot) and append the KRL for CA key ca and
 * host CA key host_ca (public or private; only their public halves are
 * used) at time now to out.  s may be NULL for a data directory that has
 * no store yet (nothing revoked).  info (may be NULL) receives the
 * figures.  Each revoked request is read as a request (request.h,
 * jit_request_from_json).  One without a serial was revoked before any
 * cert was issued and is skipped; one that does not read as a request
 * (a malformed "serial", say), or that has a serial but no "not_after",
 * fails with STORE_CORRUPT, because leaving out a revoked cert silently
 * would let it in (one read: those without a not_after come first in the
 * walk); so does a malformed revoked host (hosts.h).  Errors: the
 * store's, ALLOC, the KRL builder's.  On error out is unchanged.
 */
int jit_revocation_krl(struct jit_store *s, const struct jit_key *ca,
    const struct jit_key *host_ca, uint64_t now, uint64_t grace,
    struct jit_buf *out, struct jit_revocation_info *info);

#endif
