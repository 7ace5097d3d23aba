/* policy.c - the loaded policy as a data structure (policy_int.h):
 * strings, lists, lookups, rule matching, errors and freeing. */
#include "policy_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

const char *const pol_role_fields[RF_COUNT] = {
	"description", "principals", "requesters", "approvers", "approvals",
	"require_groups", "self_approval", "max_duration", "default_duration",
	"pending_timeout", "reason", "reason_pattern", "source_address",
	"force_command", "extensions", "key_types", "max_start_ahead",
	"max_pending", "require_mfa",
};

/* ---- errors ---- */

void
pol_set_err(struct jit_policy_error *err, const char *file, unsigned line,
    const char *field, const char *fmt, va_list ap)
{
	if (err == NULL)
		return;
	memset(err, 0, sizeof(*err));
	snprintf(err->file, sizeof(err->file), "%s", file ? file : "");
	err->line = line;
	snprintf(err->field, sizeof(err->field), "%s", field ? field : "");
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
}

int
pol_fail_at(struct jit_policy_error *err, const char *file, unsigned line,
    const char *field, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pol_set_err(err, file, line, field, fmt, ap);
	va_end(ap);
	return JIT_ERR_POLICY;
}

void
jit_policy_error_format(const struct jit_policy_error *e, char *out,
    size_t outlen)
{
	char line[16] = "";

	if (out == NULL || outlen == 0)
		return;
	if (e == NULL || e->message[0] == '\0') {
		out[0] = '\0';
		return;
	}
	if (e->line > 0)
		snprintf(line, sizeof(line), ":%u", e->line);
	snprintf(out, outlen, "%s%s%s%s%s%s", e->file, line,
	    e->file[0] ? ": " : "", e->field, e->field[0] ? ": " : "",
	    e->message);
}

/* ---- strings ---- */

const char *
pol_shown(const char *s, size_t len, char out[POL_SHOWN_MAX])
{
	size_t i, o = 0;

	for (i = 0; i < len && o < 48; i++) {
		unsigned char ch = (unsigned char)s[i];
		out[o++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
	}
	if (i < len) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}

/* Edit distance of two short strings. */
static size_t
edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), prev[33], cur[33];

	if (la > 32 || lb > 32)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t d = prev[j - 1] + (a[i - 1] != b[j - 1]);
			if (prev[j] + 1 < d)
				d = prev[j] + 1;
			if (cur[j - 1] + 1 < d)
				d = cur[j - 1] + 1;
			cur[j] = d;
		}
		memcpy(prev, cur, sizeof(cur));
	}
	return prev[lb];
}

const char *
pol_suggest(const char *s, const char *const *known, size_t n)
{
	const char *best = NULL;
	size_t bestd = 3;

	for (size_t i = 0; i < n; i++) {
		size_t d = edit_distance(s, known[i]);
		if (d < bestd) {
			bestd = d;
			best = known[i];
		}
	}
	return best;
}

int
pol_grow(void **v, size_t *cap, size_t n, size_t elem)
{
	size_t ncap;
	void *nv;

	if (n < *cap)
		return 0;
	ncap = *cap == 0 ? 8 : *cap * 2;
	if (ncap < *cap || ncap > SIZE_MAX / elem)
		return JIT_ERR_ALLOC;
	if ((nv = realloc(*v, ncap * elem)) == NULL)
		return JIT_ERR_ALLOC;
	*v = nv;
	*cap = ncap;
	return 0;
}

int
pol_cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names cannot start with '-' or '.', so they cannot look like options
 * or paths. */
int
pol_valid_name(const char *s, int allow_at)
{
	size_t n = strlen(s);

	if (n == 0 || n > JIT_NAME_MAX || s[0] == '-' || s[0] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
		    ch == '-' || (allow_at && ch == '@'))
			continue;
		return 0;
	}
	return 1;
}

/* ---- lists ---- */

void
pol_strlist_release(struct strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	free(l->line);
	free(l->file);
	memset(l, 0, sizeof(*l));
}

int
pol_strlist_add(struct strlist *l, char *s, const char *file, unsigned line)
{
	size_t cap = l->cap;

	if (s == NULL)
		return JIT_ERR_ALLOC;
	if (l->n == cap) {
		size_t c1 = cap, c2 = cap, c3 = cap;
		if (pol_grow((void **)&l->v, &c1, l->n, sizeof(*l->v)) != 0 ||
		    pol_grow((void **)&l->line, &c2, l->n,
		    sizeof(*l->line)) != 0 ||
		    pol_grow((void **)&l->file, &c3, l->n,
		    sizeof(*l->file)) != 0) {
			/* Arrays that did grow keep working at the old cap. */
			free(s);
			return JIT_ERR_ALLOC;
		}
		l->cap = c1;
	}
	l->v[l->n] = s;
	l->line[l->n] = line;
	l->file[l->n] = file;
	l->n++;
	return 0;
}

int
pol_strlist_has(const struct strlist *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return 1;
	return 0;
}

/* ---- lookups ---- */

const struct user *
pol_find_user(const struct jit_policy *p, const char *name)
{
	size_t lo = 0, hi = p->nusers;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, p->users[mid].name);
		if (c == 0)
			return &p->users[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

struct role *
pol_find_role(const struct jit_policy *p, const char *name)
{
	size_t lo = 0, hi;

	if (p == NULL || name == NULL)
		return NULL;
	hi = p->nroles;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, p->roles[mid]->name);
		if (c == 0)
			return p->roles[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

int
pol_sorted_has(char *const *v, size_t n, const char *s)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(s, v[mid]);
		if (c == 0)
			return 1;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return 0;
}

int
pol_user_in_group(const struct user *u, const char *group)
{
	return u != NULL && pol_sorted_has(u->groups.v, u->groups.n, group);
}

int
pol_rule_match_with(const struct user *u, const char *const *extra,
    size_t nextra, char *const *v, size_t n)
{
	if (u == NULL)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (strncmp(v[i], "group:", 6) == 0) {
			if (pol_user_in_group(u, v[i] + 6))
				return 1;
			for (size_t j = 0; j < nextra; j++)
				if (extra[j] != NULL &&
				    strcmp(extra[j], v[i] + 6) == 0)
					return 1;
		} else if (strcmp(v[i], u->name) == 0)
			return 1;
	}
	return 0;
}

int
pol_rule_match(const struct user *u, char *const *v, size_t n)
{
	return pol_rule_match_with(u, NULL, 0, v, n);
}

int
pol_provider_group(const struct jit_policy *p, const char *group)
{
	return pol_sorted_has(p->provider_groups.v, p->provider_groups.n,
	    group);
}

int
pol_counts_as_approver(const struct role *ro, const struct user *u,
    const char *const *extra, size_t nextra, const char *requester)
{
	return u != NULL &&
	    pol_rule_match_with(u, extra, nextra, ro->approvers.v,
	    ro->approvers.n) &&
	    (ro->pub.self_approval || strcmp(u->name, requester) != 0);
}

/* ---- freeing ---- */

void
pol_role_free(struct role *ro)
{
	if (ro == NULL)
		return;
	free(ro->name);
	free(ro->description);
	free(ro->reason_pattern);
	free(ro->source_address);
	free(ro->force_command);
	pol_strlist_release(&ro->principals);
	pol_strlist_release(&ro->requesters);
	pol_strlist_release(&ro->approvers);
	pol_strlist_release(&ro->require_groups);
	pol_strlist_release(&ro->extensions);
	pol_strlist_release(&ro->sources);
	pol_regex_free(ro->re);
	free(ro);
}

void
jit_policy_free(struct jit_policy *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->nusers; i++) {
		free(p->users[i].name);
		free(p->users[i].email);
		pol_strlist_release(&p->users[i].groups);
	}
	free(p->users);
	for (size_t i = 0; i < p->nroles; i++)
		pol_role_free(p->roles[i]);
	free(p->roles);
	pol_strlist_release(&p->admins);
	pol_strlist_release(&p->auditors);
	pol_strlist_release(&p->token_users);
	pol_strlist_release(&p->provider_groups);
	free(p->groups);  /* entries belong to the users */
	for (size_t i = 0; i < p->nfiles; i++)
		free(p->files[i]);
	free(p->files);
	free(p->source);
	free(p);
}
