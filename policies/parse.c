/* parse.c - one policy file, through the YAML reader (yaml_doc.h), into
 * the structures of policy_int.h. */
#include "policy_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "terms.h"
#include "util.h"
#include "yaml_doc.h"

/* Parsing state for one file. */
struct ctx {
	struct jit_policy *p;
	struct jit_yaml_doc *doc;
	const char *file;
	struct jit_policy_error *err;
};

typedef const struct jit_yaml_node ynode;

static int fail(struct ctx *c, ynode *n, const char *field,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int
fail(struct ctx *c, ynode *n, const char *field, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = jit_yaml_vfail(c->doc, n, field, fmt, ap);
	va_end(ap);
	return r;
}

static int
get_string(struct ctx *c, ynode *n, const char *field, const char *what,
    char **out)
{
	return jit_yaml_string(c->doc, n, field, what, out);
}

/* ---- list entries ---- */

typedef int (*item_check_fn)(struct ctx *c, ynode *n, const char *field,
    const char *s);

/* Fail unless s is a valid name; the message says what the name is for
 * and ends with hint. */
static int
check_name(struct ctx *c, ynode *n, const char *field, const char *s,
    int allow_at, const char *what, const char *hint)
{
	char buf[POL_SHOWN_MAX];

	if (pol_valid_name(s, allow_at))
		return 0;
	return fail(c, n, field, "invalid %s '%s'%s", what,
	    pol_shown(s, strlen(s), buf), hint);
}

static int
check_rule_entry(struct ctx *c, ynode *n, const char *field, const char *s)
{
	if (strncmp(s, "group:", 6) == 0)
		return check_name(c, n, field, s + 6, 0, "group name", "");
	return check_name(c, n, field, s, 1, "user name",
	    " (use a user name or group:NAME)");
}

static int
check_group(struct ctx *c, ynode *n, const char *field, const char *s)
{
	return check_name(c, n, field, s, 0, "group name",
	    strncmp(s, "group:", 6) == 0 ?
	    " (write the bare group name here)" : "");
}

static int
check_principal(struct ctx *c, ynode *n, const char *field, const char *s)
{
	return check_name(c, n, field, s, 0, "principal",
	    " (1-64 of A-Z a-z 0-9 . _ -)");
}

static int
check_extension(struct ctx *c, ynode *n, const char *field, const char *s)
{
	char why[256];

	if (jit_check_extension(s, why, sizeof(why)) == 0)
		return 0;
	return fail(c, n, field, "%s", why);
}

static int
check_cidr(struct ctx *c, ynode *n, const char *field, const char *s)
{
	char why[256];

	if (jit_check_source_entry(s, strlen(s), why, sizeof(why)) == 0)
		return 0;
	return fail(c, n, field, "%s", why);
}

static int
check_key_type(struct ctx *c, ynode *n, const char *field, const char *s)
{
	char buf[POL_SHOWN_MAX];

	if (strcmp(s, "ed25519") == 0 || strcmp(s, "ecdsa") == 0 ||
	    strcmp(s, "rsa") == 0)
		return 0;
	return fail(c, n, field, "unknown key type '%s' (expected ed25519, "
	    "ecdsa or rsa)", pol_shown(s, strlen(s), buf));
}

/* ---- values ---- */

/* A list of scalars, each checked, none repeated, at most max. */
static int
parse_list(struct ctx *c, ynode *n, const char *field, item_check_fn check,
    size_t max, struct strlist *out)
{
	ynode *item;
	char *s = NULL, buf[POL_SHOWN_MAX];
	int r;

	if (jit_yaml_kind(n) != JIT_YAML_SEQUENCE)
		return fail(c, n, field, "expected a list such as [a, b], "
		    "found %s", jit_yaml_type_name(n));
	for (size_t i = 0; i < jit_yaml_size(n); i++) {
		if ((r = jit_yaml_item(c->doc, n, i, field, &item)) != 0)
			return r;
		if (out->n >= max)
			return fail(c, item, field, "more than %zu entries",
			    max);
		if ((r = get_string(c, item, field, "a name", &s)) != 0)
			return r;
		if ((r = check(c, item, field, s)) != 0) {
			free(s);
			return r;
		}
		if (pol_strlist_has(out, s)) {
			r = fail(c, item, field, "'%s' is listed twice",
			    pol_shown(s, strlen(s), buf));
			free(s);
			return r;
		}
		if ((r = pol_strlist_add(out, s, c->file,
		    jit_yaml_line(item))) != 0)
			return r;
	}
	return 0;
}

/* A duration of at most JIT_POLICY_MAX_DURATION; "0" (for none) only
 * where zero_ok. */
static int
parse_duration(struct ctx *c, ynode *n, const char *field, int zero_ok,
    uint64_t *out)
{
	char *s = NULL, buf[POL_SHOWN_MAX];
	int r;

	*out = 0;
	if ((r = get_string(c, n, field, "a duration such as 1h", &s)) != 0)
		return r;
	if (zero_ok && strcmp(s, "0") == 0)
		r = 0;
	else if (jit_parse_duration(s, out) != 0)
		r = fail(c, n, field, "invalid duration '%s' (use e.g. 90s, "
		    "30m, 1h, 2d%s)", pol_shown(s, strlen(s), buf),
		    zero_ok ? ", or 0 for none" : "");
	else if (*out > JIT_POLICY_MAX_DURATION)
		r = fail(c, n, field, "duration '%s' is longer than 366d",
		    pol_shown(s, strlen(s), buf));
	free(s);
	return r;
}

/* One of two words, as 1 (yes) or 0 (no). */
static int
parse_choice(struct ctx *c, ynode *n, const char *field, const char *yes,
    const char *no, int *out)
{
	char *s = NULL, what[64], buf[POL_SHOWN_MAX];
	int r;

	snprintf(what, sizeof(what), "%s or %s", yes, no);
	if ((r = get_string(c, n, field, what, &s)) != 0)
		return r;
	if (strcmp(s, yes) == 0)
		*out = 1;
	else if (strcmp(s, no) == 0)
		*out = 0;
	else
		r = fail(c, n, field, "expected %s, found '%s'", what,
		    pol_shown(s, strlen(s), buf));
	free(s);
	return r;
}

/* A whole number from min to max (approvals, max_pending). */
static int
parse_count(struct ctx *c, ynode *n, const char *field, unsigned min,
    unsigned max, unsigned *out)
{
	char *s = NULL, buf[POL_SHOWN_MAX];
	unsigned long val = 0;
	size_t i;
	int r;

	if ((r = get_string(c, n, field, "a number", &s)) != 0)
		return r;
	for (i = 0; s[i] >= '0' && s[i] <= '9' && val <= 10000000; i++)
		val = val * 10 + (unsigned long)(s[i] - '0');
	if (i == 0 || s[i] != '\0' || val < min || val > max)
		r = fail(c, n, field, "expected a whole number from %u to %u, "
		    "found '%s'", min, max, pol_shown(s, strlen(s), buf));
	else
		*out = (unsigned)val;
	free(s);
	return r;
}

static int
parse_key_types(struct ctx *c, ynode *n, const char *field, unsigned *out)
{
	struct strlist kt = { 0 };
	int r;

	if ((r = parse_list(c, n, field, check_key_type, 3, &kt)) != 0) {
		pol_strlist_release(&kt);
		return r;
	}
	*out = 0;
	for (size_t i = 0; i < kt.n; i++)
		*out |= kt.v[i][0] == 'e' ? (kt.v[i][1] == 'd' ?
		    JIT_POLICY_KEY_ED25519 : JIT_POLICY_KEY_ECDSA) :
		    JIT_POLICY_KEY_RSA;
	pol_strlist_release(&kt);
	if (*out == 0)
		return fail(c, n, field, "must list at least one of ed25519, "
		    "ecdsa, rsa");
	return 0;
}

/* Free text of 1..POL_MAX_TEXT bytes (0 bytes too if empty_ok). */
static int
parse_text(struct ctx *c, ynode *n, const char *field, const char *what,
    int empty_ok, char **out)
{
	char *s = NULL;
	int r;

	if ((r = get_string(c, n, field, what, &s)) != 0)
		return r;
	if ((s[0] == '\0' && !empty_ok) || strlen(s) > POL_MAX_TEXT) {
		free(s);
		if (empty_ok)
			return fail(c, n, field, "longer than %d bytes",
			    POL_MAX_TEXT);
		return fail(c, n, field, "must be a non-empty command of at "
		    "most %d bytes (or null for none)", POL_MAX_TEXT);
	}
	*out = s;
	return 0;
}

static int
parse_reason_pattern(struct ctx *c, struct role *ro, ynode *n,
    const char *field)
{
	char *s = NULL, why[256];
	const char *problem;
	int r;

	if ((r = get_string(c, n, field, "a regular expression", &s)) != 0)
		return r;
	if (s[0] == '\0' || strlen(s) > POL_MAX_PATTERN) {
		free(s);
		return fail(c, n, field, "pattern must be 1 to %d bytes",
		    POL_MAX_PATTERN);
	}
	if ((problem = pol_pattern_problem(s)) != NULL) {
		free(s);
		return fail(c, n, field, "%s", problem);
	}
	if ((r = pol_regex_compile(s, &ro->re, why, sizeof(why))) != 0) {
		free(s);
		return r == JIT_ERR_POLICY ? fail(c, n, field, "%s", why) : r;
	}
	ro->reason_pattern = s;
	return 0;
}

/* A list that must not be empty. */
static int
parse_nonempty(struct ctx *c, ynode *n, const char *field,
    item_check_fn check, struct strlist *out, const char *if_empty)
{
	int r;

	if ((r = parse_list(c, n, field, check, POL_MAX_LIST, out)) != 0)
		return r;
	if (out->n == 0)
		return fail(c, n, field, "%s", if_empty);
	return 0;
}

static int
parse_role_field(struct ctx *c, struct role *ro, size_t f, ynode *v,
    const char *field)
{
	struct jit_policy_role *pr = &ro->pub;

	switch (f) {
	case RF_DESCRIPTION:
		return parse_text(c, v, field, "text", 1, &ro->description);
	case RF_PRINCIPALS:
		return parse_nonempty(c, v, field, check_principal,
		    &ro->principals, "must list at least one principal");
	case RF_REQUESTERS:
		return parse_nonempty(c, v, field, check_rule_entry,
		    &ro->requesters, "must list at least one user or "
		    "group:NAME");
	case RF_APPROVERS:
		return parse_list(c, v, field, check_rule_entry,
		    POL_MAX_LIST, &ro->approvers);
	case RF_REQUIRE_GROUPS:
		return parse_list(c, v, field, check_group, POL_MAX_LIST,
		    &ro->require_groups);
	case RF_EXTENSIONS:
		return parse_list(c, v, field, check_extension, POL_MAX_LIST,
		    &ro->extensions);
	case RF_SOURCE_ADDRESS:
		return parse_nonempty(c, v, field, check_cidr, &ro->sources,
		    "empty list; leave source_address out to allow any "
		    "address");
	case RF_KEY_TYPES:
		return parse_key_types(c, v, field, &pr->key_types);
	case RF_APPROVALS:
		return parse_count(c, v, field, 0, POL_MAX_APPROVALS,
		    &pr->approvals);
	case RF_MAX_PENDING:
		return parse_count(c, v, field, 1, POL_MAX_PENDING,
		    &pr->max_pending);
	case RF_SELF_APPROVAL:
		return parse_choice(c, v, field, "true", "false",
		    &pr->self_approval);
	case RF_MAX_DURATION:
		return parse_duration(c, v, field, 0, &pr->max_duration);
	case RF_DEFAULT_DURATION:
		return parse_duration(c, v, field, 0, &pr->default_duration);
	case RF_PENDING_TIMEOUT:
		return parse_duration(c, v, field, 0, &pr->pending_timeout);
	case RF_MAX_START_AHEAD:
		return parse_duration(c, v, field, 1, &pr->max_start_ahead);
	case RF_REASON:
		return parse_choice(c, v, field, "required", "optional",
		    &pr->reason_required);
	case RF_REASON_PATTERN:
		return parse_reason_pattern(c, ro, v, field);
	case RF_REQUIRE_MFA:
		return parse_choice(c, v, field, "true", "false",
		    &pr->require_mfa);
	case RF_FORCE_COMMAND:
		if (jit_yaml_is_null(v))
			return 0;
		return parse_text(c, v, field, "a command or null", 0,
		    &ro->force_command);
	}
	return JIT_ERR_INTERNAL;
}

/* ---- roles and users ---- */

/* The source-address option: the entries joined with ",". */
static int
join_sources(struct role *ro)
{
	size_t total = 0, off = 0;

	if (ro->sources.n == 0)
		return 0;
	for (size_t i = 0; i < ro->sources.n; i++)
		total += strlen(ro->sources.v[i]) + 1;
	if ((ro->source_address = malloc(total)) == NULL)
		return JIT_ERR_ALLOC;
	for (size_t i = 0; i < ro->sources.n; i++) {
		size_t l = strlen(ro->sources.v[i]);
		if (i > 0)
			ro->source_address[off++] = ',';
		memcpy(ro->source_address + off, ro->sources.v[i], l);
		off += l;
	}
	ro->source_address[off] = '\0';
	return 0;
}

/* The role's required fields and defaults, once its fields are read. */
static int
role_complete(struct ctx *c, struct role *ro, ynode *k)
{
	struct jit_policy_role *pr = &ro->pub;
	char field[128];

	if (ro->principals.n == 0) {
		snprintf(field, sizeof(field), "roles.%s.principals", ro->name);
		return fail(c, k, field, "missing (list the login names the "
		    "certificate may use)");
	}
	if (ro->requesters.n == 0) {
		snprintf(field, sizeof(field), "roles.%s.requesters", ro->name);
		return fail(c, k, field, "missing (list who may request the "
		    "role)");
	}
	if (!ro->field_line[RF_MAX_DURATION])
		pr->max_duration = POL_DEFAULT_MAX_DURATION;
	if (!ro->field_line[RF_PENDING_TIMEOUT])
		pr->pending_timeout = POL_DEFAULT_PENDING_TIMEOUT;
	if (!ro->field_line[RF_DEFAULT_DURATION])
		pr->default_duration = pr->max_duration <
		    POL_DEFAULT_MAX_DURATION ? pr->max_duration :
		    POL_DEFAULT_MAX_DURATION;
	if (pr->default_duration > pr->max_duration) {
		char d1[32], d2[32];
		jit_format_duration(pr->default_duration, d1, sizeof(d1));
		jit_format_duration(pr->max_duration, d2, sizeof(d2));
		snprintf(field, sizeof(field), "roles.%s.default_duration",
		    ro->name);
		return pol_fail_at(c->err, c->file,
		    ro->field_line[RF_DEFAULT_DURATION], field,
		    "default_duration %s is longer than max_duration %s", d1,
		    d2);
	}
	if (!ro->field_line[RF_EXTENSIONS] &&
	    pol_strlist_add(&ro->extensions, jit_strdup("permit-pty"),
	    c->file, 0) != 0)
		return JIT_ERR_ALLOC;
	return join_sources(ro);
}

/* The fields of role ro, from mapping v. */
static int
parse_role_fields(struct ctx *c, struct role *ro, ynode *v,
    const char *field)
{
	ynode *kn, *vn;
	unsigned seenmask = 0;
	size_t f;
	int r;

	for (size_t i = 0; i < jit_yaml_size(v); i++) {
		char sub[192];
		if ((r = jit_yaml_pair_key(c->doc, v, i, field, &kn)) != 0 ||
		    (r = jit_yaml_key(c->doc, kn, field, NULL,
		    pol_role_fields, RF_COUNT, &seenmask, &f)) != 0)
			return r;
		snprintf(sub, sizeof(sub), "%s.%s", field, pol_role_fields[f]);
		if ((r = jit_yaml_pair_value(c->doc, v, i, sub, &vn)) != 0)
			return r;
		ro->field_line[f] = jit_yaml_line(vn);
		if ((r = parse_role_field(c, ro, f, vn, sub)) != 0)
			return r;
	}
	return 0;
}

static int
parse_role(struct ctx *c, ynode *k, ynode *v)
{
	struct jit_policy *p = c->p;
	struct role *ro = NULL;
	char field[128], buf[POL_SHOWN_MAX];
	int r = JIT_ERR_INTERNAL;

	if ((ro = calloc(1, sizeof(*ro))) == NULL)
		return JIT_ERR_ALLOC;
	if ((r = get_string(c, k, "roles", "a role name", &ro->name)) != 0)
		goto out;
	if (!pol_valid_name(ro->name, 0)) {
		r = fail(c, k, "roles", "invalid role name '%s' (1-64 of A-Z "
		    "a-z 0-9 . _ -)", pol_shown(ro->name, strlen(ro->name),
		    buf));
		goto out;
	}
	snprintf(field, sizeof(field), "roles.%s", ro->name);
	if (jit_yaml_kind(v) != JIT_YAML_MAPPING) {
		r = fail(c, v, field, "expected a mapping (key: value), found "
		    "%s", jit_yaml_type_name(v));
		goto out;
	}
	ro->pub.approvals = 1;
	ro->pub.key_types = JIT_POLICY_KEY_ALL;
	if ((r = parse_role_fields(c, ro, v, field)) != 0 ||
	    (r = role_complete(c, ro, k)) != 0)
		goto out;
	ro->pub.file = c->file;
	ro->pub.line = jit_yaml_line(k);
	ro->seq = p->seq++;
	if ((r = pol_grow((void **)&p->roles, &p->caproles, p->nroles,
	    sizeof(*p->roles))) != 0)
		goto out;
	p->roles[p->nroles++] = ro;
	ro = NULL;
	r = 0;
out:
	pol_role_free(ro);
	return r;
}

/* The groups and email of user u, from mapping v ({groups: [...],
 * email: ADDRESS}). */
static int
parse_user_fields(struct ctx *c, struct user *u, ynode *v,
    const char *field)
{
	static const char *const user_fields[] = { "groups", "email" };
	ynode *kn, *vn;
	unsigned seenmask = 0;
	size_t f;
	int r;

	if (jit_yaml_kind(v) != JIT_YAML_MAPPING)
		return fail(c, v, field, "expected a mapping (key: value), "
		    "found %s", jit_yaml_type_name(v));
	for (size_t i = 0; i < jit_yaml_size(v); i++) {
		char sub[192];
		if ((r = jit_yaml_pair_key(c->doc, v, i, field, &kn)) != 0 ||
		    (r = jit_yaml_key(c->doc, kn, field, NULL, user_fields, 2,
		    &seenmask, &f)) != 0)
			return r;
		snprintf(sub, sizeof(sub), "%s.%s", field, user_fields[f]);
		if ((r = jit_yaml_pair_value(c->doc, v, i, sub, &vn)) != 0)
			return r;
		if (f == 1) {
			char why[256];

			if ((r = get_string(c, vn, sub, "an email address",
			    &u->email)) != 0)
				return r;
			if (jit_check_email(u->email, why, sizeof(why)) != 0)
				return fail(c, vn, sub, "%s", why);
		} else if ((r = parse_list(c, vn, sub, check_group,
		    POL_MAX_USER_GROUPS, &u->groups)) != 0) {
			return r;
		}
	}
	return 0;
}

static int
parse_user(struct ctx *c, ynode *k, ynode *v)
{
	struct jit_policy *p = c->p;
	struct user u;
	char field[128], buf[POL_SHOWN_MAX];
	int r = JIT_ERR_INTERNAL;

	memset(&u, 0, sizeof(u));
	if ((r = get_string(c, k, "users", "a user name", &u.name)) != 0)
		goto out;
	if (!pol_valid_name(u.name, 1)) {
		r = fail(c, k, "users", "invalid user name '%s' (1-64 of A-Z "
		    "a-z 0-9 . _ - @)", pol_shown(u.name, strlen(u.name), buf));
		goto out;
	}
	snprintf(field, sizeof(field), "users.%s", u.name);
	if (!jit_yaml_is_null(v) &&
	    (r = parse_user_fields(c, &u, v, field)) != 0)
		goto out;
	if (u.groups.n > 1)
		qsort(u.groups.v, u.groups.n, sizeof(*u.groups.v),
		    pol_cmp_str);
	u.file = c->file;
	u.line = jit_yaml_line(k);
	u.seq = p->seq++;
	if ((r = pol_grow((void **)&p->users, &p->capusers, p->nusers,
	    sizeof(*p->users))) != 0)
		goto out;
	p->users[p->nusers++] = u;
	return 0;
out:
	free(u.name);
	free(u.email);
	pol_strlist_release(&u.groups);
	return r;
}

/* A mapping whose keys are names (users, roles): duplicate names are
 * found after merging, where both places can be named. */
static int
parse_named_map(struct ctx *c, ynode *n, const char *field,
    int (*each)(struct ctx *, ynode *, ynode *))
{
	ynode *kn, *vn;
	int r;

	if (jit_yaml_kind(n) != JIT_YAML_MAPPING)
		return fail(c, n, field, "expected a mapping of names, found "
		    "%s", jit_yaml_type_name(n));
	for (size_t i = 0; i < jit_yaml_size(n); i++) {
		if ((r = jit_yaml_pair_key(c->doc, n, i, field, &kn)) != 0 ||
		    (r = jit_yaml_pair_value(c->doc, n, i, field, &vn)) != 0 ||
		    (r = each(c, kn, vn)) != 0)
			return r;
	}
	return 0;
}

/* tokens: automation_only or any; several files must agree. */
static int
parse_tokens(struct ctx *c, ynode *n)
{
	struct jit_policy *p = c->p;
	int automation = 0, r;

	if ((r = parse_choice(c, n, "tokens", "automation_only", "any",
	    &automation)) != 0)
		return r;
	if (p->tokens_file != NULL && p->automation_only != automation)
		return fail(c, n, "tokens", "%s here, but %s at %s:%u",
		    automation ? "automation_only" : "any",
		    p->automation_only ? "automation_only" : "any",
		    p->tokens_file, p->tokens_line);
	if (p->tokens_file == NULL) {
		p->automation_only = automation;
		p->tokens_file = c->file;
		p->tokens_line = jit_yaml_line(n);
	}
	return 0;
}

static int
parse_root(struct ctx *c, ynode *root)
{
	static const char *const top_fields[] = {
		"users", "roles", "admins", "auditors", "tokens",
		"token_users", "provider_groups" };
	ynode *kn, *vn;
	unsigned seenmask = 0;
	size_t f;
	int r;

	if (jit_yaml_kind(root) != JIT_YAML_MAPPING)
		return fail(c, root, "", "expected a mapping with users, "
		    "roles, admins and auditors, found %s",
		    jit_yaml_type_name(root));
	for (size_t i = 0; i < jit_yaml_size(root); i++) {
		if ((r = jit_yaml_pair_key(c->doc, root, i, "", &kn)) != 0 ||
		    (r = jit_yaml_key(c->doc, kn, "", NULL, top_fields, 7,
		    &seenmask, &f)) != 0 ||
		    (r = jit_yaml_pair_value(c->doc, root, i, top_fields[f],
		    &vn)) != 0)
			return r;
		switch (f) {
		case 0:
			r = parse_named_map(c, vn, "users", parse_user);
			break;
		case 1:
			r = parse_named_map(c, vn, "roles", parse_role);
			break;
		case 2:
			r = parse_list(c, vn, "admins", check_rule_entry,
			    POL_MAX_LIST, &c->p->admins);
			break;
		case 3:
			r = parse_list(c, vn, "auditors", check_rule_entry,
			    POL_MAX_LIST, &c->p->auditors);
			break;
		case 4:
			r = parse_tokens(c, vn);
			break;
		case 5:
			r = parse_list(c, vn, "token_users", check_rule_entry,
			    POL_MAX_LIST, &c->p->token_users);
			break;
		default:
			r = parse_list(c, vn, "provider_groups", check_group,
			    POL_MAX_LIST, &c->p->provider_groups);
			break;
		}
		if (r != 0)
			return r;
	}
	return 0;
}

int
pol_parse_file(struct jit_policy *p, const char *file, const char *data,
    size_t len, struct jit_policy_error *err)
{
	static const struct jit_yaml_rules rules = {
		JIT_YAML_STRICT, JIT_ERR_POLICY, "" };
	struct ctx c = { p, NULL, file, err };
	ynode *root;
	int r;

	if ((r = jit_yaml_doc_load(file, data, len, &rules, err,
	    &c.doc)) != 0)
		return r;
	if ((root = jit_yaml_root(c.doc)) == NULL)
		r = pol_fail_at(err, file, 1, "", "file is empty");
	else
		r = parse_root(&c, root);
	jit_yaml_doc_free(c.doc);
	return r;
}
