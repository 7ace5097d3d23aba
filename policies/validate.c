/* validate.c - the checks that need every file of a policy: duplicate
 * users and roles across files, references to users and groups, whether
 * each role can be approved at all; then each role is published. */
#include "policy_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

static int
cmp_user(const void *a, const void *b)
{
	const struct user *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c != 0)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int
cmp_role(const void *a, const void *b)
{
	const struct role *x = *(struct role *const *)a;
	const struct role *y = *(struct role *const *)b;
	int c = strcmp(x->name, y->name);

	if (c != 0)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* A group some user lists, or one the identity provider assigns. */
static int
known_group(const struct jit_policy *p, const char *g)
{
	return pol_sorted_has(p->groups, p->ngroups, g) ||
	    pol_provider_group(p, g);
}

/* 1 if rule list l names a provider group: any user may match it. */
static int
names_provider_group(const struct jit_policy *p, const struct strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		if (strncmp(l->v[i], "group:", 6) == 0 &&
		    pol_provider_group(p, l->v[i] + 6))
			return 1;
	return 0;
}

static int
check_rule_refs(const struct jit_policy *p, const struct strlist *l,
    const char *field, struct jit_policy_error *err)
{
	char buf[POL_SHOWN_MAX];

	for (size_t i = 0; i < l->n; i++) {
		const char *e = l->v[i];
		if (strncmp(e, "group:", 6) == 0) {
			if (!known_group(p, e + 6))
				return pol_fail_at(err, l->file[i], l->line[i],
				    field, "unknown group '%s' (no user lists "
				    "it in groups, nor is it in "
				    "provider_groups)", pol_shown(e + 6,
				    strlen(e + 6), buf));
		} else if (pol_find_user(p, e) == NULL)
			return pol_fail_at(err, l->file[i], l->line[i], field,
			    "unknown user '%s'%s", pol_shown(e, strlen(e), buf),
			    pol_sorted_has(p->groups, p->ngroups, e) ?
			    " (for the group write group:NAME)" : "");
	}
	return 0;
}

/* Can role ro be approved at all: enough eligible approvers, and one in
 * each required group?  A member of a provider group may be any user. */
static int
check_approvable(const struct jit_policy *p, const struct role *ro,
    struct jit_policy_error *err)
{
	const char *file = ro->pub.file;
	unsigned approvals = ro->pub.approvals;
	char field[128];
	size_t eligible = 0;
	unsigned line;
	int any = names_provider_group(p, &ro->approvers);

	for (size_t i = 0; i < p->nusers; i++)
		if (any || pol_rule_match(&p->users[i], ro->approvers.v,
		    ro->approvers.n))
			eligible++;
	line = ro->field_line[RF_APPROVALS] ? ro->field_line[RF_APPROVALS] :
	    ro->pub.line;
	snprintf(field, sizeof(field), "roles.%s.approvals", ro->name);
	if (ro->approvers.n == 0)
		return pol_fail_at(err, file, line, field, "role %s needs %u "
		    "approval%s but lists no approvers (add approvers, or "
		    "set approvals: 0 to auto-approve)", ro->name, approvals,
		    approvals == 1 ? "" : "s");
	if (approvals > eligible)
		return pol_fail_at(err, file, line, field, "role %s needs %u "
		    "approval%s but only %zu user%s can approve", ro->name,
		    approvals, approvals == 1 ? "" : "s", eligible,
		    eligible == 1 ? "" : "s");
	snprintf(field, sizeof(field), "roles.%s.require_groups", ro->name);
	for (size_t i = 0; i < ro->require_groups.n; i++) {
		const char *g = ro->require_groups.v[i];
		int found = pol_provider_group(p, g) && eligible > 0;
		for (size_t j = 0; j < p->nusers && !found; j++)
			found = pol_user_in_group(&p->users[j], g) && (any ||
			    pol_rule_match(&p->users[j], ro->approvers.v,
			    ro->approvers.n));
		if (!found)
			return pol_fail_at(err, file,
			    ro->require_groups.line[i], field, "no approver "
			    "of role %s is in group %s", ro->name, g);
	}
	return 0;
}

static int
check_role(const struct jit_policy *p, const struct role *ro,
    struct jit_policy_error *err)
{
	char field[128], buf[POL_SHOWN_MAX];
	int r;

	snprintf(field, sizeof(field), "roles.%s.requesters", ro->name);
	if ((r = check_rule_refs(p, &ro->requesters, field, err)) != 0)
		return r;
	snprintf(field, sizeof(field), "roles.%s.approvers", ro->name);
	if ((r = check_rule_refs(p, &ro->approvers, field, err)) != 0)
		return r;
	snprintf(field, sizeof(field), "roles.%s.require_groups", ro->name);
	for (size_t i = 0; i < ro->require_groups.n; i++) {
		const char *g = ro->require_groups.v[i];
		if (!known_group(p, g))
			return pol_fail_at(err, ro->pub.file,
			    ro->require_groups.line[i], field, "unknown group "
			    "'%s' (no user lists it in groups, nor is it in "
			    "provider_groups)", pol_shown(g, strlen(g), buf));
	}
	if (ro->pub.approvals == 0) {
		if (ro->require_groups.n > 0)
			return pol_fail_at(err, ro->pub.file,
			    ro->field_line[RF_REQUIRE_GROUPS], field,
			    "role %s is auto-approved (approvals: 0), so "
			    "require_groups can never apply", ro->name);
		return 0;
	}
	return check_approvable(p, ro, err);
}

static void
role_publish(struct role *ro)
{
	struct jit_policy_role *pr = &ro->pub;

	pr->name = ro->name;
	pr->description = ro->description;
	pr->principals = (const char *const *)ro->principals.v;
	pr->nprincipals = ro->principals.n;
	pr->requesters = (const char *const *)ro->requesters.v;
	pr->nrequesters = ro->requesters.n;
	pr->approvers = (const char *const *)ro->approvers.v;
	pr->napprovers = ro->approvers.n;
	pr->require_groups = (const char *const *)ro->require_groups.v;
	pr->nrequire_groups = ro->require_groups.n;
	pr->reason_pattern = ro->reason_pattern;
	pr->reason_regex = ro->re;
	pr->source_address = ro->source_address;
	pr->force_command = ro->force_command;
	pr->extensions = (const char *const *)ro->extensions.v;
	pr->nextensions = ro->extensions.n;
}

/* Sort users and roles; a name defined twice is an error naming both
 * places. */
static int
sort_unique(struct jit_policy *p, struct jit_policy_error *err)
{
	char field[128];

	if (p->nusers > 1)
		qsort(p->users, p->nusers, sizeof(*p->users), cmp_user);
	for (size_t i = 1; i < p->nusers; i++) {
		const struct user *a = &p->users[i - 1], *b = &p->users[i];
		if (strcmp(a->name, b->name) != 0)
			continue;
		snprintf(field, sizeof(field), "users.%s", b->name);
		return pol_fail_at(err, b->file, b->line, field, "user %s is "
		    "already defined at %s:%u", b->name, a->file, a->line);
	}
	if (p->nroles > 1)
		qsort(p->roles, p->nroles, sizeof(*p->roles), cmp_role);
	for (size_t i = 1; i < p->nroles; i++) {
		const struct role *a = p->roles[i - 1], *b = p->roles[i];
		if (strcmp(a->name, b->name) != 0)
			continue;
		snprintf(field, sizeof(field), "roles.%s", b->name);
		return pol_fail_at(err, b->pub.file, b->pub.line, field,
		    "role %s is already defined at %s:%u", b->name,
		    a->pub.file, a->pub.line);
	}
	return 0;
}

/* The group set: every group some user lists, sorted, once each. */
static int
collect_groups(struct jit_policy *p)
{
	size_t total = 0, n = 0;

	for (size_t i = 0; i < p->nusers; i++)
		total += p->users[i].groups.n;
	if (total == 0)
		return 0;
	if ((p->groups = calloc(total, sizeof(*p->groups))) == NULL)
		return JIT_ERR_ALLOC;
	for (size_t i = 0; i < p->nusers; i++)
		for (size_t j = 0; j < p->users[i].groups.n; j++)
			p->groups[n++] = p->users[i].groups.v[j];
	qsort(p->groups, n, sizeof(*p->groups), pol_cmp_str);
	p->ngroups = 0;
	for (size_t i = 0; i < n; i++)
		if (p->ngroups == 0 ||
		    strcmp(p->groups[p->ngroups - 1], p->groups[i]) != 0)
			p->groups[p->ngroups++] = p->groups[i];
	return 0;
}

/* Sort l's strings with their file and line. */
static void
sort_strlist(struct strlist *l)
{
	/* Insertion sort: lists hold at most POL_MAX_LIST entries. */
	for (size_t i = 1; i < l->n; i++)
		for (size_t j = i; j > 0 && strcmp(l->v[j - 1], l->v[j]) > 0;
		    j--) {
			char *v = l->v[j];
			unsigned line = l->line[j];
			const char *file = l->file[j];

			l->v[j] = l->v[j - 1];
			l->line[j] = l->line[j - 1];
			l->file[j] = l->file[j - 1];
			l->v[j - 1] = v;
			l->line[j - 1] = line;
			l->file[j - 1] = file;
		}
}

int
pol_finalize(struct jit_policy *p, struct jit_policy_error *err)
{
	int r;

	if ((r = sort_unique(p, err)) != 0 || (r = collect_groups(p)) != 0)
		return r;
	if (p->provider_groups.n > 1)
		sort_strlist(&p->provider_groups);
	if ((r = check_rule_refs(p, &p->admins, "admins", err)) != 0 ||
	    (r = check_rule_refs(p, &p->auditors, "auditors", err)) != 0 ||
	    (r = check_rule_refs(p, &p->token_users, "token_users",
	    err)) != 0)
		return r;
	if (p->token_users.n > 0 && !p->automation_only)
		return pol_fail_at(err, p->token_users.file[0],
		    p->token_users.line[0], "token_users", "applies only "
		    "with tokens: automation_only");
	for (size_t i = 0; i < p->nroles; i++) {
		if ((r = check_role(p, p->roles[i], err)) != 0)
			return r;
		role_publish(p->roles[i]);
		if ((r = pol_role_digest(p->roles[i])) != 0)
			return r;
	}
	return 0;
}
