/* query.c - the questions and decisions of policy.h, over a loaded
 * policy.  Everything here only reads the policy. */
#include "policy_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "util.h"

/* ---- accessors ---- */

unsigned
jit_policy_key_type_bit(enum jit_key_type t)
{
	switch (t) {
	case JIT_KEY_ED25519:
		return JIT_POLICY_KEY_ED25519;
	case JIT_KEY_ECDSA_P256:
	case JIT_KEY_ECDSA_P384:
	case JIT_KEY_ECDSA_P521:
		return JIT_POLICY_KEY_ECDSA;
	case JIT_KEY_RSA:
		return JIT_POLICY_KEY_RSA;
	default:
		return 0;
	}
}

const char *
jit_policy_hash(const struct jit_policy *p)
{
	return p == NULL ? "" : p->hash;
}

const char *
jit_policy_source(const struct jit_policy *p)
{
	return p == NULL ? "" : p->source;
}

size_t
jit_policy_file_count(const struct jit_policy *p)
{
	return p == NULL ? 0 : p->nfiles;
}

size_t
jit_policy_user_count(const struct jit_policy *p)
{
	return p == NULL ? 0 : p->nusers;
}

const char *
jit_policy_user_at(const struct jit_policy *p, size_t i)
{
	return p == NULL || i >= p->nusers ? NULL : p->users[i].name;
}

int
jit_policy_name_valid(const char *s, int user)
{
	return s != NULL && pol_valid_name(s, user);
}

int
jit_policy_user_exists(const struct jit_policy *p, const char *user)
{
	return p != NULL && user != NULL && pol_find_user(p, user) != NULL;
}

const char *const *
jit_policy_user_groups(const struct jit_policy *p, const char *user,
    size_t *n)
{
	const struct user *u;

	if (n != NULL)
		*n = 0;
	if (p == NULL || user == NULL ||
	    (u = pol_find_user(p, user)) == NULL || u->groups.n == 0)
		return NULL;
	if (n != NULL)
		*n = u->groups.n;
	return (const char *const *)u->groups.v;
}

const char *
jit_policy_user_email(const struct jit_policy *p, const char *user)
{
	const struct user *u;

	if (p == NULL || user == NULL || (u = pol_find_user(p, user)) == NULL)
		return NULL;
	return u->email;
}

int
jit_policy_user_in_group(const struct jit_policy *p, const char *user,
    const char *group)
{
	if (p == NULL || user == NULL || group == NULL)
		return 0;
	return pol_user_in_group(pol_find_user(p, user), group);
}

size_t
jit_policy_role_count(const struct jit_policy *p)
{
	return p == NULL ? 0 : p->nroles;
}

const struct jit_policy_role *
jit_policy_role_at(const struct jit_policy *p, size_t i)
{
	return p == NULL || i >= p->nroles ? NULL : &p->roles[i]->pub;
}

const struct jit_policy_role *
jit_policy_role(const struct jit_policy *p, const char *name)
{
	struct role *ro = pol_find_role(p, name);

	return ro == NULL ? NULL : &ro->pub;
}

unsigned
jit_policy_approvals_needed(const struct jit_policy_role *r)
{
	return r == NULL ? 0 : r->approvals;
}

/* ---- who is who ---- */

/* who as a user of p, or NULL. */
static const struct user *
who_user(const struct jit_policy *p, const struct jit_policy_who *who)
{
	return who == NULL || who->user == NULL ? NULL :
	    pol_find_user(p, who->user);
}

/* 1 if who (may be NULL) matches rule list l. */
static int
who_matches(const struct jit_policy *p, const struct jit_policy_who *who,
    const struct strlist *l)
{
	return pol_rule_match_with(who_user(p, who), who != NULL ?
	    who->groups : NULL, who != NULL ? who->ngroups : 0, l->v, l->n);
}

int
jit_policy_is_admin_as(const struct jit_policy *p,
    const struct jit_policy_who *who)
{
	return p != NULL && who_matches(p, who, &p->admins);
}

int
jit_policy_is_auditor_as(const struct jit_policy *p,
    const struct jit_policy_who *who)
{
	return p != NULL && who_matches(p, who, &p->auditors);
}

int
jit_policy_is_approver_as(const struct jit_policy *p,
    const struct jit_policy_who *who, const char *role)
{
	const struct role *ro = pol_find_role(p, role);

	return ro != NULL && who_matches(p, who, &ro->approvers);
}

int
jit_policy_is_requester_as(const struct jit_policy *p,
    const struct jit_policy_who *who, const char *role)
{
	const struct role *ro = pol_find_role(p, role);

	return ro != NULL && who_matches(p, who, &ro->requesters);
}

int
jit_policy_is_admin(const struct jit_policy *p, const char *user)
{
	struct jit_policy_who w = { user, NULL, 0 };

	return jit_policy_is_admin_as(p, &w);
}

int
jit_policy_is_auditor(const struct jit_policy *p, const char *user)
{
	struct jit_policy_who w = { user, NULL, 0 };

	return jit_policy_is_auditor_as(p, &w);
}

int
jit_policy_is_approver(const struct jit_policy *p, const char *user,
    const char *role)
{
	struct jit_policy_who w = { user, NULL, 0 };

	return jit_policy_is_approver_as(p, &w, role);
}

int
jit_policy_is_requester(const struct jit_policy *p, const char *user,
    const char *role)
{
	struct jit_policy_who w = { user, NULL, 0 };

	return jit_policy_is_requester_as(p, &w, role);
}

int
jit_policy_tokens_automation_only(const struct jit_policy *p)
{
	return p != NULL && p->automation_only;
}

int
jit_policy_may_hold_token(const struct jit_policy *p, const char *user)
{
	if (p == NULL || user == NULL || pol_find_user(p, user) == NULL)
		return 0;
	return !p->automation_only ||
	    pol_rule_match(pol_find_user(p, user), p->token_users.v,
	    p->token_users.n);
}

/* The kinds of authentication method (RFC 8176) a second factor needs
 * two of. */
enum { KNOWN = 1, HELD = 2, BEING = 4 };

static unsigned
amr_kind(const char *m)
{
	static const struct { const char *name; unsigned kind; } kinds[] = {
		{ "pwd", KNOWN }, { "pin", KNOWN }, { "kba", KNOWN },
		{ "otp", HELD }, { "hwk", HELD }, { "swk", HELD },
		{ "sms", HELD }, { "tel", HELD }, { "sc", HELD },
		{ "pop", HELD }, { "fpt", BEING }, { "face", BEING },
		{ "iris", BEING }, { "retina", BEING }, { "vbm", BEING },
	};

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(m, kinds[i].name) == 0)
			return kinds[i].kind;
	return 0;
}

int
jit_policy_amr_mfa(const char *const *amr, size_t n)
{
	unsigned kinds = 0;

	for (size_t i = 0; amr != NULL && i < n; i++) {
		if (amr[i] == NULL)
			continue;
		if (strcmp(amr[i], "mfa") == 0 || strcmp(amr[i], "mca") == 0)
			return 1;
		kinds |= amr_kind(amr[i]);
	}
	/* Two different kinds of factor. */
	return (kinds & (kinds - 1)) != 0;
}

/* ---- decisions ---- */

/* Common start of the decisions: clear msg, find the role. */
static int
decision_role(const struct jit_policy *p, const char *role,
    struct role **ro, char *msg, size_t msglen)
{
	char buf[POL_SHOWN_MAX];

	*ro = NULL;
	jit_seterr(msg, msglen, "%s", "");
	if (p == NULL || role == NULL) {
		jit_seterr(msg, msglen, "no policy or role given");
		return JIT_ERR_INVALID_ARGUMENT;
	}
	if ((*ro = pol_find_role(p, role)) == NULL) {
		jit_seterr(msg, msglen, "role %s is not in the policy",
		    pol_shown(role, strlen(role), buf));
		return JIT_ERR_POLICY_ROLE;
	}
	return 0;
}

/* The user named, or NULL with FORBIDDEN and a message. */
static const struct user *
known_user(const struct jit_policy *p, const char *name, char *msg,
    size_t msglen)
{
	const struct user *u = pol_find_user(p, name);
	char buf[POL_SHOWN_MAX];

	if (u == NULL)
		jit_seterr(msg, msglen, "user %s is not in the policy",
		    pol_shown(name, strlen(name), buf));
	return u;
}

int
jit_policy_can_request_as(const struct jit_policy *p,
    const struct jit_policy_who *who, const char *role, char *msg,
    size_t msglen)
{
	const struct user *u;
	struct role *ro;
	int r;

	if ((r = decision_role(p, role, &ro, msg, msglen)) != 0)
		return r;
	if (who == NULL || who->user == NULL) {
		jit_seterr(msg, msglen, "no user given");
		return JIT_ERR_INVALID_ARGUMENT;
	}
	if ((u = known_user(p, who->user, msg, msglen)) == NULL)
		return JIT_ERR_FORBIDDEN;
	if (!who_matches(p, who, &ro->requesters)) {
		jit_seterr(msg, msglen, "user %s may not request role %s",
		    u->name, ro->name);
		return JIT_ERR_FORBIDDEN;
	}
	return 0;
}

int
jit_policy_can_request(const struct jit_policy *p, const char *user,
    const char *role, char *msg, size_t msglen)
{
	struct jit_policy_who w = { user, NULL, 0 };

	return jit_policy_can_request_as(p, &w, role, msg, msglen);
}

int
jit_policy_check_mfa(const struct jit_policy *p, const char *role,
    const char *const *amr, size_t n, char *msg, size_t msglen)
{
	struct role *ro;
	int r;

	if ((r = decision_role(p, role, &ro, msg, msglen)) != 0)
		return r;
	if (!ro->pub.require_mfa || jit_policy_amr_mfa(amr, n))
		return 0;
	jit_seterr(msg, msglen, "role %s requires multi-factor "
	    "authentication: sign in through single sign-on with a second "
	    "factor (this sign-in shows %s)", ro->name, n == 0 ?
	    "no authentication methods" : "no second factor");
	return JIT_ERR_FORBIDDEN;
}

int
jit_policy_can_approve_as(const struct jit_policy *p,
    const struct jit_policy_who *who, const char *requester,
    const char *role, char *msg, size_t msglen)
{
	const struct user *u;
	struct role *ro;
	int r;

	if ((r = decision_role(p, role, &ro, msg, msglen)) != 0)
		return r;
	if (who == NULL || who->user == NULL || requester == NULL) {
		jit_seterr(msg, msglen, "no approver or requester given");
		return JIT_ERR_INVALID_ARGUMENT;
	}
	if ((u = known_user(p, who->user, msg, msglen)) == NULL)
		return JIT_ERR_FORBIDDEN;
	if (!who_matches(p, who, &ro->approvers)) {
		jit_seterr(msg, msglen, "user %s is not an approver for role "
		    "%s", u->name, ro->name);
		return JIT_ERR_FORBIDDEN;
	}
	if (!ro->pub.self_approval && strcmp(who->user, requester) == 0) {
		jit_seterr(msg, msglen, "user %s may not approve their own "
		    "request for role %s (self_approval is off)", u->name,
		    ro->name);
		return JIT_ERR_FORBIDDEN;
	}
	return 0;
}

int
jit_policy_can_approve(const struct jit_policy *p, const char *approver,
    const char *requester, const char *role, char *msg, size_t msglen)
{
	struct jit_policy_who w = { approver, NULL, 0 };

	return jit_policy_can_approve_as(p, &w, requester, role, msg, msglen);
}

static void
key_types_text(unsigned mask, char *out, size_t len)
{
	snprintf(out, len, "%s%s%s%s%s",
	    mask & JIT_POLICY_KEY_ED25519 ? "ed25519" : "",
	    (mask & JIT_POLICY_KEY_ED25519) && (mask & ~JIT_POLICY_KEY_ED25519
	    & JIT_POLICY_KEY_ALL) ? ", " : "",
	    mask & JIT_POLICY_KEY_ECDSA ? "ecdsa" : "",
	    (mask & JIT_POLICY_KEY_ECDSA) && (mask & JIT_POLICY_KEY_RSA) ?
	    ", " : "",
	    mask & JIT_POLICY_KEY_RSA ? "rsa" : "");
}

/* The reason rules of ro for reason (NULL or "" for none). */
static int
check_reason(const struct role *ro, const char *reason, char *msg,
    size_t msglen)
{
	size_t rlen = reason == NULL ? 0 : strlen(reason);
	int m;

	if (rlen == 0) {
		if (!ro->pub.reason_required)
			return 0;
		if (ro->reason_pattern != NULL)
			jit_seterr(msg, msglen, "role %s requires a reason "
			    "matching %s", ro->name, ro->reason_pattern);
		else
			jit_seterr(msg, msglen, "role %s requires a reason",
			    ro->name);
		return JIT_ERR_POLICY_REASON;
	}
	if (rlen > JIT_POLICY_MAX_REASON) {
		jit_seterr(msg, msglen, "reason is longer than %d bytes",
		    JIT_POLICY_MAX_REASON);
		return JIT_ERR_POLICY_REASON;
	}
	if (!jit_text_printable(reason)) {
		jit_seterr(msg, msglen, "reason contains control characters");
		return JIT_ERR_POLICY_REASON;
	}
	if (ro->re == NULL || (m = pol_regex_search(ro->re, reason)) == 1)
		return 0;
	if (m == 0)
		jit_seterr(msg, msglen, "reason does not match the pattern %s "
		    "required by role %s", ro->reason_pattern, ro->name);
	else if (m == JIT_ERR_NO_BUFFER_SPACE)
		jit_seterr(msg, msglen, "reason could not be checked against "
		    "the pattern %s of role %s: matching hit its limit (the "
		    "pattern backtracks too much; ask for it to be "
		    "simplified)", ro->reason_pattern, ro->name);
	else if (m == JIT_ERR_INVALID_FORMAT)
		jit_seterr(msg, msglen, "reason is not valid UTF-8");
	else
		return m;
	return JIT_ERR_POLICY_REASON;
}

int
jit_policy_check_request(const struct jit_policy *p, const char *role,
    uint64_t duration, const char *reason, enum jit_key_type key_type,
    uint64_t *effective, char *msg, size_t msglen)
{
	struct role *ro;
	unsigned bit;
	int r;

	if (effective != NULL)
		*effective = 0;
	if ((r = decision_role(p, role, &ro, msg, msglen)) != 0)
		return r;
	if (duration == 0)
		duration = ro->pub.default_duration;
	if (duration > ro->pub.max_duration) {
		char d1[32], d2[32];
		jit_format_duration(duration, d1, sizeof(d1));
		jit_format_duration(ro->pub.max_duration, d2, sizeof(d2));
		jit_seterr(msg, msglen, "duration %s exceeds the maximum of %s "
		    "for role %s", d1, d2, ro->name);
		return JIT_ERR_POLICY_DURATION;
	}
	if ((r = check_reason(ro, reason, msg, msglen)) != 0)
		return r;
	bit = jit_policy_key_type_bit(key_type);
	if (bit == 0 || (ro->pub.key_types & bit) == 0) {
		char allowed[32];
		key_types_text(ro->pub.key_types, allowed, sizeof(allowed));
		jit_seterr(msg, msglen, "key type %s is not allowed for role "
		    "%s (allowed: %s)", bit == JIT_POLICY_KEY_ED25519 ?
		    "ed25519" : bit == JIT_POLICY_KEY_ECDSA ? "ecdsa" :
		    bit == JIT_POLICY_KEY_RSA ? "rsa" : "unknown", ro->name,
		    allowed);
		return JIT_ERR_POLICY_KEY_TYPE;
	}
	if (effective != NULL)
		*effective = duration;
	return 0;
}

/* 1 if approver a is a counted approver of ro for requester. */
static int
counts(const struct jit_policy *p, const struct role *ro,
    const char *requester, const struct jit_policy_who *a)
{
	return a->user != NULL && pol_counts_as_approver(ro,
	    pol_find_user(p, a->user), a->groups, a->ngroups, requester);
}

/* Distinct counted approvers among approvers[0..n). */
static size_t
count_approvers(const struct jit_policy *p, const struct role *ro,
    const char *requester, const struct jit_policy_who *approvers, size_t n)
{
	size_t counted = 0;

	for (size_t i = 0; i < n; i++) {
		int dup = 0;
		if (!counts(p, ro, requester, &approvers[i]))
			continue;
		for (size_t j = 0; j < i && !dup; j++)
			dup = counts(p, ro, requester, &approvers[j]) &&
			    strcmp(approvers[j].user, approvers[i].user) == 0;
		if (!dup)
			counted++;
	}
	return counted;
}

/* 1 if a is in group grp, by the policy or by the identity provider. */
static int
who_in_group(const struct jit_policy *p, const struct jit_policy_who *a,
    const char *grp)
{
	if (pol_user_in_group(pol_find_user(p, a->user), grp))
		return 1;
	for (size_t i = 0; i < a->ngroups; i++)
		if (a->groups[i] != NULL && strcmp(a->groups[i], grp) == 0)
			return 1;
	return 0;
}

/* 1 if required group grp has a counted approver among approvers. */
static int
group_represented(const struct jit_policy *p, const struct role *ro,
    const char *grp, const char *requester,
    const struct jit_policy_who *approvers, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (counts(p, ro, requester, &approvers[i]) &&
		    who_in_group(p, &approvers[i], grp))
			return 1;
	return 0;
}

/* The first required group without a counted approver, or NULL. */
static const char *
missing_group(const struct jit_policy *p, const struct role *ro,
    const char *requester, const struct jit_policy_who *approvers, size_t n)
{
	for (size_t g = 0; g < ro->require_groups.n; g++)
		if (!group_represented(p, ro, ro->require_groups.v[g],
		    requester, approvers, n))
			return ro->require_groups.v[g];
	return NULL;
}

int
jit_policy_approval_missing_as(const struct jit_policy *p, const char *role,
    const char *requester, const struct jit_policy_who *approvers, size_t n,
    struct jit_policy_need *need, size_t maxneed, size_t *nneed)
{
	struct role *ro;
	size_t counted, groups = 0, k = 0;
	int r;

	*nneed = 0;
	if ((r = decision_role(p, role, &ro, NULL, 0)) != 0)
		return r;
	if (requester == NULL || (approvers == NULL && n > 0))
		return JIT_ERR_INVALID_ARGUMENT;
	if (ro->pub.approvals == 0)
		return 0;
	counted = count_approvers(p, ro, requester, approvers, n);
	for (size_t g = 0; g < ro->require_groups.n; g++) {
		if (group_represented(p, ro, ro->require_groups.v[g],
		    requester, approvers, n))
			continue;
		groups++;
		if (k < maxneed) {
			need[k].count = 1;
			need[k].group = ro->require_groups.v[g];
			k++;
		}
	}
	/* Each missing group's approval also counts towards the total. */
	if (counted + groups < ro->pub.approvals && k < maxneed) {
		need[k].count = ro->pub.approvals - (unsigned)(counted + groups);
		need[k].group = NULL;
		k++;
	}
	*nneed = k;
	return 0;
}

int
jit_policy_approval_status_as(const struct jit_policy *p, const char *role,
    const char *requester, const struct jit_policy_who *approvers, size_t n,
    char *msg, size_t msglen)
{
	const char *missing;
	struct role *ro;
	size_t counted;
	int r;

	if ((r = decision_role(p, role, &ro, msg, msglen)) != 0)
		return r;
	if (requester == NULL || (approvers == NULL && n > 0)) {
		jit_seterr(msg, msglen, "no requester or approvers given");
		return JIT_ERR_INVALID_ARGUMENT;
	}
	if (ro->pub.approvals == 0) {
		jit_seterr(msg, msglen, "auto-approved");
		return 1;
	}
	counted = count_approvers(p, ro, requester, approvers, n);
	missing = missing_group(p, ro, requester, approvers, n);
	if (missing != NULL)
		jit_seterr(msg, msglen, "%zu of %u approvals; still needs one "
		    "from group %s", counted, ro->pub.approvals, missing);
	else
		jit_seterr(msg, msglen, "%zu of %u approvals", counted,
		    ro->pub.approvals);
	return counted >= ro->pub.approvals && missing == NULL;
}

/* Names as approvers without provider groups: in buf when they fit
 * (the usual case), else in a new array; NULL with *r set on ALLOC. */
static struct jit_policy_who *
names_as_who(const char *const *names, size_t n, struct jit_policy_who *buf,
    size_t bufn, int *r)
{
	struct jit_policy_who *w = buf;

	*r = 0;
	if (n > bufn && (w = calloc(n, sizeof(*w))) == NULL) {
		*r = JIT_ERR_ALLOC;
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		w[i].user = names[i];
		w[i].groups = NULL;
		w[i].ngroups = 0;
	}
	return w;
}

int
jit_policy_approval_missing(const struct jit_policy *p, const char *role,
    const char *requester, const char *const *approvers, size_t n,
    struct jit_policy_need *need, size_t maxneed, size_t *nneed)
{
	struct jit_policy_who buf[POL_MAX_APPROVALS] = { { NULL, NULL, 0 } };
	struct jit_policy_who *w;
	int r;

	*nneed = 0;
	if (approvers == NULL && n > 0)
		return JIT_ERR_INVALID_ARGUMENT;
	if ((w = names_as_who(approvers, n, buf, POL_MAX_APPROVALS, &r)) ==
	    NULL)
		return r;
	r = jit_policy_approval_missing_as(p, role, requester, w, n, need,
	    maxneed, nneed);
	if (w != buf)
		free(w);
	return r;
}

int
jit_policy_approval_status(const struct jit_policy *p, const char *role,
    const char *requester, const char *const *approvers, size_t n,
    char *msg, size_t msglen)
{
	struct jit_policy_who buf[POL_MAX_APPROVALS] = { { NULL, NULL, 0 } };
	struct jit_policy_who *w;
	int r;

	if (approvers == NULL && n > 0) {
		jit_seterr(msg, msglen, "no requester or approvers given");
		return JIT_ERR_INVALID_ARGUMENT;
	}
	if ((w = names_as_who(approvers, n, buf, POL_MAX_APPROVALS, &r)) ==
	    NULL)
		return r;
	r = jit_policy_approval_status_as(p, role, requester, w, n, msg,
	    msglen);
	if (w != buf)
		free(w);
	return r;
}

int
jit_policy_approval_satisfied(const struct jit_policy *p, const char *role,
    const char *requester, const char *const *approvers, size_t n)
{
	return jit_policy_approval_status(p, role, requester, approvers, n,
	    NULL, 0);
}
