/* digest.c - the digest of a role's grant terms, in the canonical form
 * that policy.h documents at jit_policy_role_digest. */
#include "policy_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "err.h"
#include "util.h"

struct ser {
	EVP_MD_CTX *md;
	int r;          /* 0, or the first failure */
};

static void
put(struct ser *s, const void *p, size_t n)
{
	if (s->r == 0 && EVP_DigestUpdate(s->md, p, n) != 1)
		s->r = JIT_ERR_CRYPTO;
}

static void
put_str(struct ser *s, const char *str)
{
	put(s, str, strlen(str));
}

static void
put_u64(struct ser *s, uint64_t v)
{
	char num[32];
	int n = snprintf(num, sizeof(num), " %llu", (unsigned long long)v);

	put(s, num, (size_t)n);
}

/* " LENGTH:BYTES" */
static void
put_bytes(struct ser *s, const char *v)
{
	put_u64(s, strlen(v));
	put(s, ":", 1);
	put_str(s, v);
}

static void
term_number(struct ser *s, const char *name, uint64_t v)
{
	put_str(s, name);
	put(s, ":", 1);
	put_u64(s, v);
	put(s, "\n", 1);
}

static void
term_text(struct ser *s, const char *name, const char *v)
{
	put_str(s, name);
	put(s, ":", 1);
	if (v == NULL)
		put(s, " -", 2);
	else
		put_bytes(s, v);
	put(s, "\n", 1);
}

/* A list as a set: its count, then the entries in strcmp order. */
static void
term_list(struct ser *s, const char *name, const char *const *v, size_t n)
{
	const char **sorted = NULL;

	put_str(s, name);
	put(s, ":", 1);
	put_u64(s, n);
	if (n > 0) {
		if ((sorted = calloc(n, sizeof(*sorted))) == NULL) {
			s->r = JIT_ERR_ALLOC;
			return;
		}
		memcpy(sorted, v, n * sizeof(*sorted));
		qsort(sorted, n, sizeof(*sorted), pol_cmp_str);
		for (size_t i = 0; i < n; i++)
			put_bytes(s, sorted[i]);
		free(sorted);
	}
	put(s, "\n", 1);
}

int
pol_role_digest(struct role *ro)
{
	const struct jit_policy_role *pr = &ro->pub;
	const char *kt[3];
	unsigned char dg[EVP_MAX_MD_SIZE];
	unsigned dlen = 0;
	size_t nkt = 0;
	struct ser s = { EVP_MD_CTX_new(), 0 };
	int r = JIT_ERR_CRYPTO;

	if (s.md == NULL || EVP_DigestInit_ex(s.md, EVP_sha256(), NULL) != 1)
		goto out;
	if (pr->key_types & JIT_POLICY_KEY_ED25519)
		kt[nkt++] = "ed25519";
	if (pr->key_types & JIT_POLICY_KEY_ECDSA)
		kt[nkt++] = "ecdsa";
	if (pr->key_types & JIT_POLICY_KEY_RSA)
		kt[nkt++] = "rsa";
	put_str(&s, "jit-ssh role terms 1\n");
	term_list(&s, "principals", pr->principals, pr->nprincipals);
	term_list(&s, "extensions", pr->extensions, pr->nextensions);
	term_text(&s, "force_command", pr->force_command);
	term_list(&s, "source_address", (const char *const *)ro->sources.v,
	    ro->sources.n);
	term_number(&s, "approvals", pr->approvals);
	term_list(&s, "require_groups", pr->require_groups,
	    pr->nrequire_groups);
	term_list(&s, "approvers", pr->approvers, pr->napprovers);
	term_list(&s, "requesters", pr->requesters, pr->nrequesters);
	term_number(&s, "max_duration", pr->max_duration);
	term_list(&s, "key_types", kt, nkt);
	term_text(&s, "reason", pr->reason_required ? "required" :
	    "optional");
	term_text(&s, "reason_pattern", pr->reason_pattern);
	term_number(&s, "self_approval", pr->self_approval ? 1 : 0);
	term_number(&s, "max_start_ahead", pr->max_start_ahead);
	/* Only when set: roles without it keep their digests. */
	if (pr->require_mfa)
		term_number(&s, "require_mfa", 1);
	if (s.r != 0) {
		r = s.r;
		goto out;
	}
	if (EVP_DigestFinal_ex(s.md, dg, &dlen) != 1 || dlen != 32)
		goto out;
	jit_hex(dg, 32, ro->digest);
	r = 0;
out:
	EVP_MD_CTX_free(s.md);
	return r;
}

const char *
jit_policy_role_digest(const struct jit_policy_role *r)
{
	/* pub is the first member of struct role. */
	return r == NULL ? "" : ((const struct role *)(const void *)r)->digest;
}
