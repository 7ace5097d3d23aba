/*
 * policy_int.h - what the files of the policy library share; not for
 * other modules.
 *
 *   policy.c    the loaded policy as a data structure: lists, lookups,
 *               rule matching, error records, freeing;
 *   load.c      reading files and directories, the policy hash;
 *   parse.c     one file's YAML (through yaml_doc.h) into that structure;
 *   validate.c  the checks that need every file: merging, cross-references,
 *               whether each role can be approved; publishing the roles;
 *   digest.c    the digest of a role's grant terms;
 *   query.c     the public questions and decisions of policy.h;
 *   regex.c     reason patterns (PCRE2; the only file that includes
 *               pcre2.h);
 *   terms.c     source-address and extension checks (terms.h);
 *   yaml_doc.c  the YAML reader (yaml_doc.h; the only file that includes
 *               yaml.h).
 *
 * Internal names carry the prefix pol_.
 */
#ifndef JIT_POLICY_INT_H
#define JIT_POLICY_INT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"

#define POL_MAX_LIST 256
#define POL_MAX_USER_GROUPS 64
#define POL_MAX_APPROVALS 256
#define POL_MAX_PENDING 100000
#define POL_MAX_PATTERN 256
#define POL_MAX_TEXT 4096
#define POL_DEFAULT_MAX_DURATION 3600
#define POL_DEFAULT_PENDING_TIMEOUT (24 * 3600)
/* Bytes pol_shown() writes at most, NUL included. */
#define POL_SHOWN_MAX 64

/* A list of strings with the file and line each came from, so errors
 * found after all files are merged can still point at the entry.  The
 * strings are owned by the list. */
struct strlist {
	char **v;
	unsigned *line;
	const char **file;
	size_t n, cap;
};

struct user {
	char *name;
	struct strlist groups;  /* sorted after loading */
	char *email;            /* NULL = none */
	const char *file;
	unsigned line;
	size_t seq;             /* order of definition, for stable sorting */
};

/* The fields a role may have, in the order of the schema; the index of
 * each is its bit in the loader's duplicate-key mask. */
enum role_field {
	RF_DESCRIPTION, RF_PRINCIPALS, RF_REQUESTERS, RF_APPROVERS,
	RF_APPROVALS, RF_REQUIRE_GROUPS, RF_SELF_APPROVAL, RF_MAX_DURATION,
	RF_DEFAULT_DURATION, RF_PENDING_TIMEOUT, RF_REASON,
	RF_REASON_PATTERN, RF_SOURCE_ADDRESS, RF_FORCE_COMMAND,
	RF_EXTENSIONS, RF_KEY_TYPES, RF_MAX_START_AHEAD, RF_MAX_PENDING,
	RF_REQUIRE_MFA,
	RF_COUNT
};

extern const char *const pol_role_fields[RF_COUNT];

struct role {
	struct jit_policy_role pub;  /* first: points into the fields below */
	char *name, *description, *reason_pattern, *source_address;
	char *force_command;
	struct strlist principals, requesters, approvers, require_groups;
	struct strlist extensions, sources;
	struct jit_policy_regex *re;   /* NULL without reason_pattern */
	unsigned field_line[RF_COUNT]; /* 0 when the field is absent */
	char digest[65];               /* jit_policy_role_digest */
	size_t seq;
};

struct jit_policy {
	char *source;
	char hash[65];
	char **files;
	size_t nfiles, capfiles;
	struct user *users;     /* sorted by name once loaded */
	size_t nusers, capusers;
	struct role **roles;    /* sorted by name once loaded */
	size_t nroles, caproles;
	struct strlist admins, auditors;
	/* tokens: automation_only (the first file that says it), and who
	 * may then hold API tokens. */
	int automation_only;
	const char *tokens_file;
	unsigned tokens_line;
	struct strlist token_users;
	/* Groups only the identity provider assigns; sorted once loaded. */
	struct strlist provider_groups;
	char **groups;          /* every group some user lists, sorted;
	                           the strings belong to the users */
	size_t ngroups;
	size_t seq;
};

/* ---- policy.c: errors ---- */

/* Fill err (if non-NULL) with file, line, field and the message; the
 * strings are truncated to fit. */
void pol_set_err(struct jit_policy_error *err, const char *file,
    unsigned line, const char *field, const char *fmt, va_list ap)
    __attribute__((format(printf, 5, 0)));
/* pol_set_err, returning JIT_ERR_POLICY. */
int pol_fail_at(struct jit_policy_error *err, const char *file,
    unsigned line, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* ---- policy.c: strings and lists ---- */

/* Copy s (len bytes) for a message into out: at most 48 bytes then
 * "...", anything but printable ASCII replaced by '?', so a hostile
 * policy or request cannot put terminal escapes into a message.
 * Returns out. */
const char *pol_shown(const char *s, size_t len, char out[POL_SHOWN_MAX]);
/* The entry of known[0..n) closest to s (edit distance below 3), for
 * "did you mean" hints; NULL if none is close or s is long. */
const char *pol_suggest(const char *s, const char *const *known, size_t n);
/* Make room for element n of *v (capacity *cap, elem bytes each). */
int pol_grow(void **v, size_t *cap, size_t n, size_t elem);
/* strcmp for qsort over an array of char *. */
int pol_cmp_str(const void *a, const void *b);
/* 1 if s is a valid name (policy.h, "Names"); '@' allowed if allow_at. */
int pol_valid_name(const char *s, int allow_at);

void pol_strlist_release(struct strlist *l);
/* Append s, taking ownership (freed on failure; NULL s is ALLOC). */
int pol_strlist_add(struct strlist *l, char *s, const char *file,
    unsigned line);
int pol_strlist_has(const struct strlist *l, const char *s);

/* ---- policy.c: lookups ---- */

/* Binary searches over the sorted users, roles and groups. */
const struct user *pol_find_user(const struct jit_policy *p,
    const char *name);
struct role *pol_find_role(const struct jit_policy *p, const char *name);
int pol_sorted_has(char *const *v, size_t n, const char *s);
/* 1 if u (may be NULL) lists group. */
int pol_user_in_group(const struct user *u, const char *group);
/* 1 if u (may be NULL) matches a rule list of names and group:NAME. */
int pol_rule_match(const struct user *u, char *const *v, size_t n);
/* The same, with the groups extra[0..nextra) (sorted or not; from the
 * identity provider) counting as u's groups too. */
int pol_rule_match_with(const struct user *u, const char *const *extra,
    size_t nextra, char *const *v, size_t n);
/* 1 if group is a provider group of p. */
int pol_provider_group(const struct jit_policy *p, const char *group);
/* 1 if u is a counted approver of ro for requester (matches the
 * approvers, with its provider groups extra[0..nextra), and is not the
 * requester unless self_approval). */
int pol_counts_as_approver(const struct role *ro, const struct user *u,
    const char *const *extra, size_t nextra, const char *requester);

void pol_role_free(struct role *ro);

/* ---- parse.c ---- */

/* Parse one file's len bytes into p; file (owned by p) names it in
 * errors.  Errors: POLICY (err says where), ALLOC. */
int pol_parse_file(struct jit_policy *p, const char *file, const char *data,
    size_t len, struct jit_policy_error *err);

/* ---- validate.c ---- */

/* Sort and merge what every file added to p, check the cross-references
 * and the approval rules, and publish each role (pub, digest). */
int pol_finalize(struct jit_policy *p, struct jit_policy_error *err);

/* ---- digest.c ---- */

/* Compute ro->digest from the published ro->pub.  CRYPTO on failure. */
int pol_role_digest(struct role *ro);

/* ---- regex.c ---- */

/* Why pattern s cannot be a reason pattern before it is compiled (too
 * deeply nested, expanding too much, quantifiers stacked), or NULL. */
const char *pol_pattern_problem(const char *s);
/* Compile s; on failure a reason (PCRE2's message and the offset) in
 * why.  Errors: POLICY (bad pattern), ALLOC. */
int pol_regex_compile(const char *s, struct jit_policy_regex **out,
    char *why, size_t whylen);
/* Search subject (a C string) for the pattern: 1 found, 0 not found,
 * NO_BUFFER_SPACE when matching hit its limit, INVALID_FORMAT when
 * subject is not UTF-8, ALLOC. */
int pol_regex_search(const struct jit_policy_regex *re, const char *subject);
void pol_regex_free(struct jit_policy_regex *re);

#endif
