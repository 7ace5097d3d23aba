/*
 * policy.h - the access policy: who may request which role, who must
 * approve, and what the resulting certificate may do.
 *
 * A policy is YAML (schema below), read from one file or from every
 * *.yaml / *.yml file of a directory (not recursive, dotfiles and
 * subdirectories skipped, a dangling symlink an error,
 * files merged in byte order of their names).  Loading is strict: an
 * unknown key, a value of the wrong type, an unknown user or group, a bad
 * duration, an empty principal list or a rule that can never be met is an
 * error naming file, line and field, because a typo must never silently
 * weaken a policy.  The library is split by concern (policy_int.h lists
 * the files); only yaml_doc.c includes yaml.h and only regex.c pcre2.h.
 *
 * Invariants of a loaded struct jit_policy:
 *   - it is immutable: every function below only reads it, so one policy
 *     may be queried from several threads at once;
 *   - every pointer it hands out (names, lists, role structs, the hash)
 *     stays valid until jit_policy_free() of that policy, and is owned by
 *     it: never free or modify one.  On reload, load a new policy, swap
 *     pointers, and free the old one when no thread uses it any more;
 *   - user and role names are unique; lists of users, roles and groups are
 *     sorted by name (strcmp order);
 *   - every user or group named in a rule exists; every role can be
 *     approved (see "approvals" below).
 *
 * Schema (all keys optional unless marked required):
 *
 *   users:                        # map of user name -> {groups: [...]}
 *     alice: {groups: [dev]}      #   or "alice: {}" / "alice:" (no groups)
 *   admins: [alice, group:sre]    # may revoke any grant
 *   auditors: [group:security]    # may export the audit log
 *   tokens: automation_only       # "any" (default): anyone in the
 *                                 #   policy may hold API tokens;
 *                                 #   automation_only: only token_users
 *   token_users: [ci-bot]         # who may hold API tokens then
 *   provider_groups: [okta-sre]   # groups only the identity provider
 *                                 #   assigns (oidc.groups_claim)
 *   roles:
 *     prod-db:
 *       description: "text"       # free text for listings
 *       principals: [postgres]    # REQUIRED, 1..256 login names
 *       requesters: [group:dev]   # REQUIRED, non-empty
 *       approvers: [group:sre]    # required unless approvals is 0
 *       approvals: 2              # distinct eligible approvers needed
 *                                 #   (default 1; 0 = auto-approve)
 *       require_groups: [security]# each listed group must be represented
 *                                 #   among the counted approvers
 *       self_approval: false      # default false: the requester's own
 *                                 #   approval never counts
 *       max_duration: 4h          # default 1h; at most 366d
 *       default_duration: 1h      # default min(1h, max_duration);
 *                                 #   must be <= max_duration
 *       pending_timeout: 24h      # default 24h; at most 366d
 *       reason: required          # "required" or "optional" (default)
 *       reason_pattern: '^INC-\d+'        # PCRE2 (Perl syntax, UTF-8),
 *                                 #   searched (use ^...$ to anchor);
 *                                 #   checked whenever a reason is given
 *       source_address: [10.0.0.0/8]       # CIDRs or addresses, IPv4/6,
 *                                 #   no host bits set; omit = anywhere
 *       force_command: null       # string or null (default none)
 *       extensions: [permit-pty]  # default [permit-pty]; [] = none
 *       key_types: [ed25519, ecdsa, rsa]   # default all three
 *       max_start_ahead: 0        # how far ahead a grant may start;
 *                                 #   default 0, at most 366d (read and
 *                                 #   exposed here, enforced by the API)
 *       max_pending: 5            # a requester's pending requests for
 *                                 #   this role, 1..100000; default no
 *                                 #   cap but the server's max_pending
 *                                 #   (enforced by the API)
 *       require_mfa: false        # true: only a sign-in whose "amr"
 *                                 #   shows a second factor may request
 *                                 #   (jit_policy_check_mfa)
 *
 * Reason patterns are PCRE2 regular expressions of 1..256 bytes: "\d" is
 * a digit, "\w" a word character (ASCII), "." one UTF-8 character.  A
 * pattern that does not compile, uses a back-reference, nests
 * parentheses more than 16 deep, expands too much through nested counted
 * repetitions, or stacks quantifiers (lazy "*?" and possessive "++"
 * forms are not supported) is a load error naming file and line.  Each
 * search is bounded (a match limit, a depth limit and a heap limit), so
 * a pattern that backtracks catastrophically refuses the reason with a
 * message instead of hanging the server.
 *
 * Rule entries (requesters, approvers, admins, auditors, token_users)
 * are a user name or "group:NAME"; a group exists when some user lists
 * it or provider_groups names it.  People who sign in through the
 * identity provider may bring groups of their own (struct
 * jit_policy_who): they count in every rule as if the policy listed
 * them.  A rule naming a provider group may be met by any user, so the
 * approvals check below counts every user for it.
 *
 * tokens: and provider_groups may appear in several files (tokens must
 * then say the same everywhere); token_users entries from several files
 * are merged, and token_users without tokens: automation_only is an
 * error.
 *
 * Names: users [A-Za-z0-9._@-], groups, roles and principals
 * [A-Za-z0-9._-], each 1..64 bytes and not starting with '-' or '.'.
 * Extensions and source_address entries are checked as terms.h says
 * (the same checks as `jit-ca sign`).  Lists hold at most 256 entries,
 * and an entry listed twice is an error.  Durations use
 * jit_parse_duration ("90s", "30m", "1h", "2d", "1h30m", bare seconds).
 * Booleans are true/false.  Anchors and aliases, tags other than the
 * defaults, more than one document per file, empty files and files over
 * JIT_POLICY_MAX_FILE bytes are refused.  A user or role defined in two
 * files is an error naming both places; admins and auditors from several
 * files are merged.
 *
 * "approvals: N" with N > 0 must not exceed the number of distinct users
 * matching "approvers" (counting everyone, requesters included), and each
 * group in require_groups must have a member among those users; otherwise
 * the role could never be approved and loading fails ("role X needs 2
 * approvals but only 1 user can approve").
 *
 * Errors: functions return 0 (or a count / boolean where stated) or a
 * negative JIT_ERR_* from err.h.  Decision functions write a one-line
 * human message (no trailing newline, NUL-terminated, truncated to fit)
 * into msg when msg is non-NULL and msglen > 0; on success msg is "".
 */
#ifndef JIT_POLICY_H
#define JIT_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "key.h"

/* Longest user, group, role or principal name, in bytes: the one limit
 * on names, used by the server as well (auth.h). */
#define JIT_NAME_MAX 64

/* Largest policy file accepted (per file). */
#define JIT_POLICY_MAX_FILE (1024 * 1024)
/* Longest reason accepted by jit_policy_check_request, in bytes. */
#define JIT_POLICY_MAX_REASON 512
/* Upper bound for any duration in a policy (366 days). */
#define JIT_POLICY_MAX_DURATION (366ULL * 86400)

/* Key-type families, as a bitmask in struct jit_policy_role.key_types. */
#define JIT_POLICY_KEY_ED25519 0x1u
#define JIT_POLICY_KEY_ECDSA   0x2u   /* any of P-256, P-384, P-521 */
#define JIT_POLICY_KEY_RSA     0x4u
#define JIT_POLICY_KEY_ALL     0x7u

/* The family bit of a key type; 0 for JIT_KEY_UNKNOWN. */
unsigned jit_policy_key_type_bit(enum jit_key_type t);

/* Where and why loading failed.  file is the path as given (or the
 * path of the file inside a directory, or the name passed to
 * jit_policy_load_mem); line is 1-based, 0 when no line applies (e.g. a
 * file that cannot be read); field is a dotted path such as
 * "roles.prod-db.approvers", "" when none applies (syntax errors).
 * All strings are NUL-terminated, truncated if needed.  The YAML reader
 * (yaml_doc.h) reports its errors in this form too. */
struct jit_policy_error {
	char file[256];
	unsigned line;
	char field[128];
	char message[256];
};

/* Format e as "FILE:LINE: FIELD: message" into out (outlen bytes incl.
 * NUL, truncated to fit); ":LINE" is left out when line is 0,
 * "FIELD: " when field is empty, "FILE: " when file is empty.  out is ""
 * when e is NULL or has no message (a failure such as ALLOC that carries
 * no location: use jit_err(code) then). */
void jit_policy_error_format(const struct jit_policy_error *e, char *out,
    size_t outlen);

/* A compiled reason pattern (opaque; the policy owns it). */
struct jit_policy_regex;

/* A role, as loaded.  Lists are arrays of n NUL-terminated strings, in
 * the order written (n may be 0 and the pointer then NULL unless stated).
 * Owned by the policy; valid until jit_policy_free(). */
struct jit_policy_role {
	const char *name;
	const char *description;          /* NULL if none */
	const char *const *principals;    /* n >= 1: certificate principals */
	size_t nprincipals;
	const char *const *requesters;    /* "alice" or "group:dev"; n >= 1 */
	size_t nrequesters;
	const char *const *approvers;     /* same form; may be empty */
	size_t napprovers;
	const char *const *require_groups;/* group names, without "group:" */
	size_t nrequire_groups;
	unsigned approvals;               /* 0 = auto-approve */
	int self_approval;                /* 1 if the requester may count */
	uint64_t max_duration;            /* seconds, >= 1 */
	uint64_t default_duration;        /* seconds, 1..max_duration */
	uint64_t pending_timeout;         /* seconds, >= 1 */
	int reason_required;              /* 1 if "reason: required" */
	const char *reason_pattern;       /* source text, NULL if none */
	const struct jit_policy_regex *reason_regex; /* compiled (PCRE2),
	                                     NULL if none */
	/* Critical option "source-address": the entries joined with ",",
	 * e.g. "10.0.0.0/8,192.168.1.0/24"; NULL = no restriction. */
	const char *source_address;
	const char *force_command;        /* NULL = none */
	const char *const *extensions;    /* cert extensions (empty values) */
	size_t nextensions;
	unsigned key_types;               /* JIT_POLICY_KEY_* bits, != 0 */
	uint64_t max_start_ahead;         /* seconds, 0..366d; 0 = a grant
	                                     starts now */
	unsigned max_pending;             /* a requester's pending requests
	                                     of this role, 1..100000; 0 = no
	                                     cap of the role's own */
	int require_mfa;                  /* 1: requests only from a sign-in
	                                     with a second factor */
	const char *file;                 /* where the role is defined */
	unsigned line;
};

/*
 * The digest of r's grant terms: lowercase hex SHA-256 (64 characters),
 * computed at load, equal for roles whose terms are equal (in any policy
 * and across reloads) and different when any term differs.  r must come
 * from a loaded policy (jit_policy_role, jit_policy_role_at); "" for
 * NULL.  Valid until jit_policy_free().
 *
 * The terms, in this order: principals, extensions, force_command,
 * source_address, approvals, require_groups, approvers, requesters,
 * max_duration, key_types, reason, reason_pattern, self_approval,
 * max_start_ahead, and require_mfa only when it is true (so roles
 * without it keep the digest they had before the key existed).  The
 * role's name, description, default_duration, pending_timeout,
 * max_pending and who is in which group are not terms.  The digest is
 * taken over the bytes
 *
 *   "jit-ssh role terms 1\n"
 *
 * followed by one line per term: its name, ":", the value, "\n", where
 * the value of
 *   - a list (principals, extensions, source_address entries,
 *     require_groups, approvers and requesters as written, key_types as
 *     the names ed25519, ecdsa, rsa) is " " COUNT and then, for each entry
 *     in strcmp order (a list is a set: its order does not matter),
 *     " " LENGTH ":" BYTES;
 *   - a text (force_command, reason_pattern) is " -" when absent, else
 *     " " LENGTH ":" BYTES; reason is the text "required" or "optional";
 *   - a number (approvals, max_duration and max_start_ahead in seconds,
 *     self_approval as 0 or 1) is " " DECIMAL;
 * with LENGTH and COUNT in decimal.  For example a role with principals
 * [postgres] starts "jit-ssh role terms 1\nprincipals: 1 8:postgres\n".
 */
const char *jit_policy_role_digest(const struct jit_policy_role *r);

struct jit_policy;

/* Load a policy from path: a YAML file, or a directory whose *.yaml and
 * *.yml files are merged.  On success *out is a new policy (release with
 * jit_policy_free) and err, if non-NULL, is zeroed.  On failure *out is
 * NULL and err (if non-NULL) says where and why.  Errors: POLICY (syntax
 * or validation), NOT_FOUND, PERMISSION, IO, SYSTEM (unreadable path),
 * NO_BUFFER_SPACE (a file over JIT_POLICY_MAX_FILE), ALLOC,
 * INVALID_ARGUMENT (NULL path or out). */
int jit_policy_load(const char *path, struct jit_policy **out,
    struct jit_policy_error *err);

/* Load a policy from one in-memory YAML document of len bytes (need not
 * be NUL-terminated).  name is used as the file name in errors and by
 * jit_policy_source (NULL = "<memory>").  Same results as
 * jit_policy_load; safe for any input (this is the fuzzing entry). */
int jit_policy_load_mem(const char *name, const char *data, size_t len,
    struct jit_policy **out, struct jit_policy_error *err);

/* Release a policy and everything it handed out.  NULL is a no-op. */
void jit_policy_free(struct jit_policy *p);

/* Lowercase hex SHA-256 (64 chars) of the policy's source bytes: for a
 * file or a memory buffer, of its bytes (equal to sha256sum FILE); for a
 * directory, of the concatenation over its files in load order of
 * NAME "\0" DECIMAL-LENGTH "\0" BYTES, with NAME the base name.  For the
 * audit entry "policy loaded".  Valid until jit_policy_free(). */
const char *jit_policy_hash(const struct jit_policy *p);

/* The path given to jit_policy_load (or the name given to _load_mem) and
 * the number of files read (1 for a file or memory buffer). */
const char *jit_policy_source(const struct jit_policy *p);
size_t jit_policy_file_count(const struct jit_policy *p);

/* 1 if s is a valid user name (user set; '@' allowed) or group, role
 * or principal name (user 0) as "Names" above says, else 0. */
int jit_policy_name_valid(const char *s, int user);

/* Users, sorted by name.  jit_policy_user_at returns NULL if i is out of
 * range.  user_exists returns 1 or 0 (0 also for NULL). */
size_t jit_policy_user_count(const struct jit_policy *p);
const char *jit_policy_user_at(const struct jit_policy *p, size_t i);
int jit_policy_user_exists(const struct jit_policy *p, const char *user);
/* The groups of a user, sorted, count in *n; NULL with *n = 0 for an
 * unknown user or one without groups. */
const char *const *jit_policy_user_groups(const struct jit_policy *p,
    const char *user, size_t *n);
/* The email address of a user (the policy's users.NAME.email), NULL for
 * an unknown user or one without.  Valid until jit_policy_free(). */
const char *jit_policy_user_email(const struct jit_policy *p,
    const char *user);
/* 1 if user exists and lists group (name without "group:"), else 0. */
int jit_policy_user_in_group(const struct jit_policy *p, const char *user,
    const char *group);

/* Roles, sorted by name.  jit_policy_role returns NULL for an unknown
 * name; jit_policy_role_at NULL if i is out of range. */
size_t jit_policy_role_count(const struct jit_policy *p);
const struct jit_policy_role *jit_policy_role_at(const struct jit_policy *p,
    size_t i);
const struct jit_policy_role *jit_policy_role(const struct jit_policy *p,
    const char *name);

/* Distinct approvals the role needs (its "approvals"; 0 = auto). */
unsigned jit_policy_approvals_needed(const struct jit_policy_role *r);

/* Someone the policy is asked about: a user and the groups the identity
 * provider gave them at sign-in (groups[0..ngroups), may be NULL), which
 * count as if the user listed them.  The strings are borrowed. */
struct jit_policy_who {
	const char *user;
	const char *const *groups;
	size_t ngroups;
};

/* Booleans (1 or 0; 0 for NULL arguments, unknown users or roles). */
/* user matches the top-level admins / auditors list. */
int jit_policy_is_admin(const struct jit_policy *p, const char *user);
int jit_policy_is_auditor(const struct jit_policy *p, const char *user);
/* user matches the role's approvers list (self_approval not applied:
 * use it to decide who may see a request or revoke its grant). */
int jit_policy_is_approver(const struct jit_policy *p, const char *user,
    const char *role);
/* user matches the role's requesters list. */
int jit_policy_is_requester(const struct jit_policy *p, const char *user,
    const char *role);

/* The same for who, with their provider groups. */
int jit_policy_is_admin_as(const struct jit_policy *p,
    const struct jit_policy_who *who);
int jit_policy_is_auditor_as(const struct jit_policy *p,
    const struct jit_policy_who *who);
int jit_policy_is_approver_as(const struct jit_policy *p,
    const struct jit_policy_who *who, const char *role);
int jit_policy_is_requester_as(const struct jit_policy *p,
    const struct jit_policy_who *who, const char *role);

/* 1 if the policy says tokens: automation_only. */
int jit_policy_tokens_automation_only(const struct jit_policy *p);
/* 1 if user exists and may hold API tokens: anyone without
 * automation_only, else those token_users names (policy groups only). */
int jit_policy_may_hold_token(const struct jit_policy *p, const char *user);

/* 1 if the authentication methods amr[0..n) (an ID token's "amr", RFC
 * 8176) show a second factor: "mfa" or "mca", or methods of two kinds
 * among something known (pwd, pin, kba), something held (otp, hwk, swk,
 * sms, tel, sc, pop) and something one is (fpt, face, iris, retina,
 * vbm).  "otp" alone is one factor. */
int jit_policy_amr_mfa(const char *const *amr, size_t n);

/* Decisions.  0 = allowed.  Errors: POLICY_ROLE (unknown role),
 * FORBIDDEN (not allowed; msg says why), INVALID_ARGUMENT (NULL p, user
 * or role). */

/* May user request role?  User must exist and match the requesters. */
int jit_policy_can_request(const struct jit_policy *p, const char *user,
    const char *role, char *msg, size_t msglen);

/* The same for who, with their provider groups. */
int jit_policy_can_request_as(const struct jit_policy *p,
    const struct jit_policy_who *who, const char *role, char *msg,
    size_t msglen);

/* Does the sign-in with methods amr[0..n) meet role's require_mfa?
 * FORBIDDEN (msg: the role requires multi-factor authentication) when
 * the role requires it and jit_policy_amr_mfa says no. */
int jit_policy_check_mfa(const struct jit_policy *p, const char *role,
    const char *const *amr, size_t n, char *msg, size_t msglen);

/* May approver approve (or deny) requester's request for role?  The
 * approver must exist and match the approvers, and must not be the
 * requester unless the role has self_approval.  A role with approvals 0
 * still lets its approvers deny while pending (rarely: it is approved
 * at once) and revoke. */
int jit_policy_can_approve(const struct jit_policy *p, const char *approver,
    const char *requester, const char *role, char *msg, size_t msglen);
/* The same for who, with their provider groups. */
int jit_policy_can_approve_as(const struct jit_policy *p,
    const struct jit_policy_who *who, const char *requester,
    const char *role, char *msg, size_t msglen);

/* Check the parameters of a request for role (call after
 * jit_policy_can_request).  duration is in seconds, 0 = the role's
 * default_duration; on success *effective (if non-NULL) is the duration
 * to grant, otherwise 0.  reason may be NULL or "" for none.  key_type is
 * the type of the public key to certify.  Errors:
 *   POLICY_ROLE      unknown role;
 *   POLICY_DURATION  above max_duration ("duration 8h exceeds the maximum
 *                    of 4h for role prod-db");
 *   POLICY_REASON    missing when required, longer than
 *                    JIT_POLICY_MAX_REASON, containing control characters
 *                    (jit_text_printable), not UTF-8 while the role has
 *                    a pattern, not matching reason_pattern (msg shows
 *                    the pattern), or too costly to match (the search
 *                    hit its limit; msg says so);
 *   POLICY_KEY_TYPE  key family not in key_types (msg lists the allowed);
 *   INVALID_ARGUMENT NULL p or role;
 *   ALLOC            no memory for the search.
 * Checks happen in that order and the first failure is reported.  The
 * API is expected to answer these with 400 (the client can fix them) and
 * FORBIDDEN with 403. */
int jit_policy_check_request(const struct jit_policy *p, const char *role,
    uint64_t duration, const char *reason, enum jit_key_type key_type,
    uint64_t *effective, char *msg, size_t msglen);

/* Is the approval rule of role met for a request by requester, given the
 * users who approved it (in any order, duplicates allowed)?  Counts each
 * distinct user once, and only users for whom jit_policy_can_approve
 * would succeed under this policy (so the requester counts only with
 * self_approval, and approvals from users no longer eligible after a
 * reload are ignored).  Met when the count reaches "approvals" and every
 * group in require_groups has a member among the counted approvers; a
 * role with approvals 0 is always met.  Returns 1 (met), 0 (not yet),
 * POLICY_ROLE or INVALID_ARGUMENT (NULL p/role/requester, or approvers
 * NULL with n > 0; NULL entries are skipped), ALLOC (more than 256
 * approvers only).  This is the only rule the server needs to
 * evaluate. */
int jit_policy_approval_satisfied(const struct jit_policy *p,
    const char *role, const char *requester,
    const char *const *approvers, size_t n);

/* Same result as jit_policy_approval_satisfied, and also writes a
 * progress line into msg: "2 of 2 approvals", "1 of 2 approvals", "2 of
 * 2 approvals; still needs one from group security", "auto-approved". */
int jit_policy_approval_status(const struct jit_policy *p, const char *role,
    const char *requester, const char *const *approvers, size_t n,
    char *msg, size_t msglen);
/* The same with each approver's provider groups (the groups they had
 * when they approved); ALLOC is not possible here. */
int jit_policy_approval_status_as(const struct jit_policy *p,
    const char *role, const char *requester,
    const struct jit_policy_who *approvers, size_t n, char *msg,
    size_t msglen);

/* What a request still needs: count more approvals from a member of
 * group (a required group) or, with group NULL, from any eligible
 * approver. */
struct jit_policy_need {
	unsigned count;
	const char *group;          /* owned by the policy; NULL = anyone */
};

/* The approvals role's rule still needs for a request by requester,
 * given the users who approved it (counted as
 * jit_policy_approval_satisfied counts them): one entry per required
 * group not yet represented, then one for the rest of the count, at most
 * maxneed entries in need, their number in *nneed (0 once the rule is
 * met or for a role that needs no approval).  Errors: POLICY_ROLE,
 * INVALID_ARGUMENT. */
int jit_policy_approval_missing(const struct jit_policy *p, const char *role,
    const char *requester, const char *const *approvers, size_t n,
    struct jit_policy_need *need, size_t maxneed, size_t *nneed);
int jit_policy_approval_missing_as(const struct jit_policy *p,
    const char *role, const char *requester,
    const struct jit_policy_who *approvers, size_t n,
    struct jit_policy_need *need, size_t maxneed, size_t *nneed);

#endif
