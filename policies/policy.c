/* policy.c - see policy.h.  The only file that includes yaml.h. */
#include "policy.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>
#include <yaml.h>

#include "err.h"
#include "util.h"

#define MAX_LIST 256
#define MAX_USER_GROUPS 64
#define MAX_NAME 64
#define MAX_APPROVALS 256
#define MAX_PATTERN 256
#define MAX_PATTERN_COST 4096
#define MAX_PATTERN_DEPTH 16
#define MAX_TEXT 4096
#define DEFAULT_MAX_DURATION 3600
#define DEFAULT_PENDING_TIMEOUT (24 * 3600)

/* A list of strings with the file and line each came from, so errors
 * found after all files are merged can still point at the entry. */
struct strlist {
	char **v;
	unsigned *line;
	const char **file;
	size_t n, cap;
};

struct user {
	char *name;
	struct strlist groups;  /* sorted after loading */
	const char *file;
	unsigned line;
	size_t seq;
};

/* Line numbers of role fields, 0 when the field is absent. */
enum role_field {
	RF_DESCRIPTION, RF_PRINCIPALS, RF_REQUESTERS, RF_APPROVERS,
	RF_APPROVALS, RF_REQUIRE_GROUPS, RF_SELF_APPROVAL, RF_MAX_DURATION,
	RF_DEFAULT_DURATION, RF_PENDING_TIMEOUT, RF_REASON,
	RF_REASON_PATTERN, RF_SOURCE_ADDRESS, RF_FORCE_COMMAND,
	RF_EXTENSIONS, RF_KEY_TYPES, RF_COUNT
};

static const char *const role_fields[RF_COUNT] = {
	"description", "principals", "requesters", "approvers", "approvals",
	"require_groups", "self_approval", "max_duration", "default_duration",
	"pending_timeout", "reason", "reason_pattern", "source_address",
	"force_command", "extensions", "key_types",
};

struct role {
	struct jit_policy_role pub;  /* points into the fields below */
	char *name, *description, *reason_pattern, *source_address;
	char *force_command;
	struct strlist principals, requesters, approvers, require_groups;
	struct strlist extensions, sources;
	regex_t re;
	int have_re;
	unsigned field_line[RF_COUNT];
	size_t seq;
};

struct jit_policy {
	char *source;
	char hash[65];
	char **files;
	size_t nfiles, capfiles;
	struct user *users;
	size_t nusers, capusers;
	struct role **roles;
	size_t nroles, caproles;
	struct strlist admins, auditors;
	char **groups;          /* every group some user lists, sorted */
	size_t ngroups;
	size_t seq;
};

/* Parsing state for one file. */
struct ctx {
	struct jit_policy *p;
	yaml_document_t *doc;
	const char *file;
	struct jit_policy_error *err;
	unsigned char *seen;
	size_t nnodes;
};

/* ---- small helpers ---- */

static void set_err(struct jit_policy_error *err, const char *file,
    unsigned line, const char *field, const char *fmt, va_list ap)
    __attribute__((format(printf, 5, 0)));

static void
set_err(struct jit_policy_error *err, const char *file, unsigned line,
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

static int fail_at(struct jit_policy_error *err, const char *file,
    unsigned line, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int
fail_at(struct jit_policy_error *err, const char *file, unsigned line,
    const char *field, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_err(err, file, line, field, fmt, ap);
	va_end(ap);
	return JIT_ERR_POLICY;
}

static unsigned
node_line(const yaml_node_t *n)
{
	return n == NULL ? 0 : (unsigned)n->start_mark.line + 1;
}

static int fail(struct ctx *c, const yaml_node_t *n, const char *field,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int
fail(struct ctx *c, const yaml_node_t *n, const char *field,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_err(c->err, c->file, node_line(n), field, fmt, ap);
	va_end(ap);
	return JIT_ERR_POLICY;
}

/* Copy s (of len bytes) for an error message: at most 48 bytes, and
 * anything unprintable replaced so a hostile policy cannot put terminal
 * escapes into `jit-ca policy check` output. */
static const char *
shown(const char *s, size_t len, char out[64])
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

static char *
memdup_str(const char *s, size_t len)
{
	char *d;

	if (len == SIZE_MAX || (d = malloc(len + 1)) == NULL)
		return NULL;
	memcpy(d, s, len);
	d[len] = '\0';
	return d;
}

static int
grow(void **v, size_t *cap, size_t n, size_t elem)
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

static void
strlist_release(struct strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	free(l->line);
	free(l->file);
	memset(l, 0, sizeof(*l));
}

/* Append s (taking ownership; freed on failure). */
static int
strlist_add(struct strlist *l, char *s, const char *file, unsigned line)
{
	size_t cap = l->cap;

	if (s == NULL)
		return JIT_ERR_ALLOC;
	if (l->n == cap) {
		size_t c1 = cap, c2 = cap, c3 = cap;
		if (grow((void **)&l->v, &c1, l->n, sizeof(*l->v)) != 0 ||
		    grow((void **)&l->line, &c2, l->n, sizeof(*l->line)) != 0 ||
		    grow((void **)&l->file, &c3, l->n, sizeof(*l->file)) != 0) {
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

static int
strlist_has(const struct strlist *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return 1;
	return 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names: 1..64 bytes of [A-Za-z0-9._-] (plus '@' when allowed), not
 * starting with '-' or '.', so they cannot look like options or paths. */
static int
valid_name(const char *s, int allow_at)
{
	size_t n = strlen(s);

	if (n == 0 || n > MAX_NAME || s[0] == '-' || s[0] == '.')
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

/* Edit distance of two short strings, for "did you mean" hints. */
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

static const char *
suggest(const char *key, const char *const *known, size_t n)
{
	const char *best = NULL;
	size_t bestd = 3;

	for (size_t i = 0; i < n; i++) {
		size_t d = edit_distance(key, known[i]);
		if (d < bestd) {
			bestd = d;
			best = known[i];
		}
	}
	return best;
}

/* ---- YAML node access ---- */

/* Fetch node idx, refusing a node reached twice: that only happens
 * through an alias, and aliases are not allowed (they would let a small
 * file expand into a huge policy). */
static int
get_node(struct ctx *c, int idx, const yaml_node_t *parent, const char *field,
    yaml_node_t **out)
{
	yaml_node_t *n;

	*out = NULL;
	n = yaml_document_get_node(c->doc, idx);
	if (n == NULL || idx < 1 || (size_t)idx > c->nnodes)
		return fail(c, parent, field, "internal: bad YAML node");
	if (c->seen[idx - 1])
		return fail(c, parent, field,
		    "anchors and aliases are not supported");
	c->seen[idx - 1] = 1;
	if (n->tag != NULL) {
		const char *t = (const char *)n->tag;
		const char *want = n->type == YAML_SCALAR_NODE ?
		    YAML_DEFAULT_SCALAR_TAG : n->type == YAML_SEQUENCE_NODE ?
		    YAML_DEFAULT_SEQUENCE_TAG : YAML_DEFAULT_MAPPING_TAG;
		if (strcmp(t, want) != 0)
			return fail(c, n, field, "YAML tags are not supported");
	}
	*out = n;
	return 0;
}

static int
is_null(const yaml_node_t *n)
{
	const char *v;
	size_t len;

	if (n->type != YAML_SCALAR_NODE ||
	    n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	v = (const char *)n->data.scalar.value;
	len = n->data.scalar.length;
	return len == 0 || (len == 1 && v[0] == '~') ||
	    (len == 4 && (memcmp(v, "null", 4) == 0 ||
	    memcmp(v, "Null", 4) == 0 || memcmp(v, "NULL", 4) == 0));
}

static const char *
type_name(const yaml_node_t *n)
{
	if (is_null(n))
		return "nothing (null)";
	switch (n->type) {
	case YAML_SCALAR_NODE: return "a single value";
	case YAML_SEQUENCE_NODE: return "a list";
	case YAML_MAPPING_NODE: return "a mapping";
	default: return "something else";
	}
}

/* A non-null scalar without NUL bytes, as a new string. */
static int
get_string(struct ctx *c, const yaml_node_t *n, const char *field,
    const char *what, char **out)
{
	const char *v;
	size_t len;

	*out = NULL;
	if (n->type != YAML_SCALAR_NODE || is_null(n))
		return fail(c, n, field, "expected %s, found %s", what,
		    type_name(n));
	v = (const char *)n->data.scalar.value;
	len = n->data.scalar.length;
	if (memchr(v, '\0', len) != NULL)
		return fail(c, n, field, "value contains a NUL byte");
	if ((*out = memdup_str(v, len)) == NULL)
		return JIT_ERR_ALLOC;
	return 0;
}

static int
expect_mapping(struct ctx *c, const yaml_node_t *n, const char *field)
{
	if (n->type != YAML_MAPPING_NODE)
		return fail(c, n, field, "expected a mapping (key: value), "
		    "found %s", type_name(n));
	return 0;
}

/* Look up key node's text among known keys; returns its index, or fails
 * with "unknown key" (and a suggestion) or "duplicate key". */
static int
known_key(struct ctx *c, const yaml_node_t *k, const char *field,
    const char *const *known, size_t n, unsigned *seenmask, size_t *idx)
{
	char buf[64], path[192];
	const char *v = (const char *)k->data.scalar.value;
	size_t len = k->data.scalar.length;
	const char *hint = NULL;

	*idx = 0;
	for (size_t i = 0; i < n; i++) {
		if (strlen(known[i]) != len || memcmp(known[i], v, len) != 0)
			continue;
		snprintf(path, sizeof(path), "%s%s%s", field,
		    field[0] ? "." : "", known[i]);
		if (*seenmask & (1u << i))
			return fail(c, k, path, "duplicate key '%s'",
			    known[i]);
		*seenmask |= 1u << i;
		*idx = i;
		return 0;
	}
	/* The unknown key is named in the field too, so the error line reads
	 * "roles.x.approver: unknown key ...". */
	shown(v, len, buf);
	snprintf(path, sizeof(path), "%s%s%s", field, field[0] ? "." : "",
	    buf);
	if (memchr(v, '\0', len) == NULL)
		hint = suggest(v, known, n);
	if (hint != NULL)
		return fail(c, k, path, "unknown key '%s' (did you mean "
		    "'%s'?)", buf, hint);
	return fail(c, k, path, "unknown key '%s'", buf);
}

/* ---- value parsers ---- */

typedef int (*item_check_fn)(struct ctx *c, const yaml_node_t *n,
    const char *field, const char *s);

/* Fail unless s is a valid name (valid_name); the message says what the
 * name is for and ends with hint. */
static int
check_name(struct ctx *c, const yaml_node_t *n, const char *field,
    const char *s, int allow_at, const char *what, const char *hint)
{
	char buf[64];

	if (valid_name(s, allow_at))
		return 0;
	return fail(c, n, field, "invalid %s '%s'%s", what,
	    shown(s, strlen(s), buf), hint);
}

static int
check_rule_entry(struct ctx *c, const yaml_node_t *n, const char *field,
    const char *s)
{
	if (strncmp(s, "group:", 6) == 0)
		return check_name(c, n, field, s + 6, 0, "group name", "");
	return check_name(c, n, field, s, 1, "user name",
	    " (use a user name or group:NAME)");
}

static int
check_group(struct ctx *c, const yaml_node_t *n, const char *field,
    const char *s)
{
	return check_name(c, n, field, s, 0, "group name",
	    strncmp(s, "group:", 6) == 0 ?
	    " (write the bare group name here)" : "");
}

static int
check_principal(struct ctx *c, const yaml_node_t *n, const char *field,
    const char *s)
{
	return check_name(c, n, field, s, 0, "principal",
	    " (1-64 of A-Z a-z 0-9 . _ -)");
}

static const char *const known_extensions[] = {
	"permit-X11-forwarding", "permit-agent-forwarding",
	"permit-port-forwarding", "permit-pty", "permit-user-rc",
	"no-touch-required",
};

static int
check_extension(struct ctx *c, const yaml_node_t *n, const char *field,
    const char *s)
{
	size_t nk = sizeof(known_extensions) / sizeof(known_extensions[0]);
	const char *at, *hint, *d;
	char buf[64];

	for (size_t i = 0; i < nk; i++)
		if (strcmp(s, known_extensions[i]) == 0)
			return 0;
	/* Vendor extensions are NAME@DOMAIN (PROTOCOL.certkeys). */
	at = strchr(s, '@');
	if (at != NULL && at != s && at[1] != '\0' && strlen(s) <= 128) {
		int ok = 1;
		for (d = s; *d != '\0' && ok; d++) {
			if (d == at)
				continue;
			ok = (*d >= 'a' && *d <= 'z') || (*d >= 'A' &&
			    *d <= 'Z') || (*d >= '0' && *d <= '9') ||
			    *d == '.' || *d == '-' || (d < at && *d == '_');
		}
		if (ok)
			return 0;
	}
	hint = suggest(s, known_extensions, nk);
	if (hint != NULL)
		return fail(c, n, field, "unknown extension '%s' (did you "
		    "mean '%s'?)", shown(s, strlen(s), buf), hint);
	return fail(c, n, field, "unknown extension '%s' (expected an "
	    "OpenSSH extension such as permit-pty, or NAME@DOMAIN)",
	    shown(s, strlen(s), buf));
}

/* "ADDR" or "ADDR/BITS", IPv4 or IPv6, no host bits set (sshd refuses
 * such entries, which would make every certificate of the role fail). */
static int
check_cidr(struct ctx *c, const yaml_node_t *n, const char *field,
    const char *s)
{
	unsigned char addr[16];
	char host[64], buf[64];
	const char *slash = strchr(s, '/');
	size_t hlen = slash ? (size_t)(slash - s) : strlen(s);
	int bits, maxbits;

	if (hlen == 0 || hlen >= sizeof(host))
		goto bad;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (inet_pton(AF_INET, host, addr) == 1)
		maxbits = 32;
	else if (inet_pton(AF_INET6, host, addr) == 1)
		maxbits = 128;
	else
		goto bad;
	bits = maxbits;
	if (slash != NULL) {
		const char *d = slash + 1;
		if (*d == '\0' || strlen(d) > 3)
			goto bad;
		bits = 0;
		for (; *d != '\0'; d++) {
			if (*d < '0' || *d > '9')
				goto bad;
			bits = bits * 10 + (*d - '0');
		}
		if (bits > maxbits)
			goto bad;
	}
	for (int i = bits; i < maxbits; i++)
		if (addr[i / 8] & (0x80 >> (i % 8)))
			return fail(c, n, field, "'%s' has host bits set "
			    "after the /%d prefix", shown(s, strlen(s), buf),
			    bits);
	return 0;
bad:
	return fail(c, n, field, "invalid address or CIDR '%s' (e.g. "
	    "10.0.0.0/8 or 2001:db8::/32)", shown(s, strlen(s), buf));
}

static int
check_key_type(struct ctx *c, const yaml_node_t *n, const char *field,
    const char *s)
{
	char buf[64];

	if (strcmp(s, "ed25519") == 0 || strcmp(s, "ecdsa") == 0 ||
	    strcmp(s, "rsa") == 0)
		return 0;
	return fail(c, n, field, "unknown key type '%s' (expected ed25519, "
	    "ecdsa or rsa)", shown(s, strlen(s), buf));
}

/* A list of scalars, each checked, none repeated, at most max. */
static int
parse_list(struct ctx *c, const yaml_node_t *n, const char *field,
    item_check_fn check, size_t max, struct strlist *out)
{
	yaml_node_item_t *it;
	yaml_node_t *item;
	char *s = NULL, buf[64];
	int r;

	if (n->type != YAML_SEQUENCE_NODE)
		return fail(c, n, field, "expected a list such as [a, b], "
		    "found %s", type_name(n));
	for (it = n->data.sequence.items.start;
	    it < n->data.sequence.items.top; it++) {
		if ((r = get_node(c, *it, n, field, &item)) != 0)
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
		if (strlist_has(out, s)) {
			r = fail(c, item, field, "'%s' is listed twice",
			    shown(s, strlen(s), buf));
			free(s);
			return r;
		}
		if ((r = strlist_add(out, s, c->file, node_line(item))) != 0)
			return r;
	}
	return 0;
}

static int
parse_duration(struct ctx *c, const yaml_node_t *n, const char *field,
    uint64_t *out)
{
	char *s = NULL, buf[64];
	int r;

	*out = 0;
	if ((r = get_string(c, n, field, "a duration such as 1h", &s)) != 0)
		return r;
	if (jit_parse_duration(s, out) != 0)
		r = fail(c, n, field, "invalid duration '%s' (use e.g. 90s, "
		    "30m, 1h, 2d)", shown(s, strlen(s), buf));
	else if (*out > JIT_POLICY_MAX_DURATION)
		r = fail(c, n, field, "duration '%s' is longer than 366d",
		    shown(s, strlen(s), buf));
	free(s);
	return r;
}

/* glibc's regcomp expands repetitions into copies of the repeated
 * subexpression ("x+" is "xx*", "x{3}" is "xxx"), so nested repetitions
 * grow exponentially and a short pattern can take minutes and gigabytes
 * to compile (the fuzzer found "a+++++++++++++++++++").  Estimate the size
 * of the expanded pattern, nesting included, and refuse big ones, as well
 * as adjacent repetition operators, whose meaning POSIX leaves undefined.
 * Returns NULL if acceptable, else why not. */
static const char *
pattern_problem(const char *s)
{
	struct frame { uint64_t sum, last; } st[MAX_PATTERN_DEPTH + 1];
	size_t depth = 0;
	int quantified = 0;

	memset(st, 0, sizeof(st));
	for (const char *p = s; *p != '\0'; p++) {
		uint64_t factor = 0;
		struct frame *f = &st[depth];

		switch (*p) {
		case '(':
			if (depth == MAX_PATTERN_DEPTH)
				return "parentheses nested too deeply";
			st[++depth] = (struct frame){ 0, 0 };
			quantified = 0;
			continue;
		case ')':
			if (depth == 0)
				break;  /* regcomp reports it */
			depth--;
			st[depth].last = f->sum + 1;
			st[depth].sum += f->sum + 1;
			quantified = 0;
			continue;
		case '|':
			quantified = 0;
			f->last = 0;
			continue;
		case '*':
		case '?':
			factor = 1;
			break;
		case '+':
			factor = 2;
			break;
		case '{': {
			uint64_t v = 0, hi = 0;
			const char *q = p + 1;
			if (*q < '0' || *q > '9')
				break;  /* a literal brace */
			for (; *q != '\0' && *q != '}'; q++) {
				if (*q >= '0' && *q <= '9') {
					if (v < 100000)
						v = v * 10 + (uint64_t)(*q - '0');
				} else
					v = 0;
				if (v > hi)
					hi = v;
			}
			if (*q == '\0')
				break;  /* regcomp reports it */
			factor = hi + 1;
			p = q;
			break;
		}
		case '[': {
			/* A bracket expression is one atom; "]" right after
			 * "[" or "[^" is a member, as are [:class:] parts. */
			const char *q = p + 1;
			if (*q == '^')
				q++;
			if (*q == ']')
				q++;
			while (*q != '\0' && *q != ']') {
				if (*q == '[' && (q[1] == ':' || q[1] == '.' ||
				    q[1] == '=')) {
					const char *e = strchr(q + 2, q[1]);
					if (e == NULL || e[1] != ']')
						break;
					q = e + 2;
				} else
					q++;
			}
			if (*q == '\0')
				return NULL;  /* regcomp reports it */
			p = q;
			break;
		}
		case '\\':
			/* Back-references make matching exponential in the
			 * reason's length, and the reason comes from users. */
			if (p[1] >= '1' && p[1] <= '9')
				return "back-references are not supported";
			if (p[1] != '\0')
				p++;
			break;
		default:
			break;
		}
		if (factor == 0) {
			/* An atom. */
			f->sum += 1;
			f->last = 1;
			quantified = 0;
		} else {
			if (quantified)
				return "repetition operators may not follow "
				    "each other";
			if (f->last == 0)
				continue;  /* regcomp reports it or takes it
				              literally */
			f->sum += f->last * (factor - 1) + 1;
			f->last *= factor;
			quantified = 1;
		}
		if (f->sum > MAX_PATTERN_COST || f->last > MAX_PATTERN_COST)
			return "pattern expands too much when compiled "
			    "(nested or large repetitions)";
	}
	return NULL;
}

static int
parse_role_field(struct ctx *c, struct role *ro, size_t f,
    const yaml_node_t *v, const char *field)
{
	char *s = NULL, buf[64];
	int r = JIT_ERR_INTERNAL;

	switch (f) {
	case RF_DESCRIPTION:
		if ((r = get_string(c, v, field, "text", &s)) != 0)
			return r;
		if (strlen(s) > MAX_TEXT) {
			free(s);
			return fail(c, v, field, "longer than %d bytes",
			    MAX_TEXT);
		}
		ro->description = s;
		return 0;
	case RF_PRINCIPALS:
		if ((r = parse_list(c, v, field, check_principal, MAX_LIST,
		    &ro->principals)) != 0)
			return r;
		if (ro->principals.n == 0)
			return fail(c, v, field, "must list at least one "
			    "principal");
		return 0;
	case RF_REQUESTERS:
		if ((r = parse_list(c, v, field, check_rule_entry, MAX_LIST,
		    &ro->requesters)) != 0)
			return r;
		if (ro->requesters.n == 0)
			return fail(c, v, field, "must list at least one "
			    "user or group:NAME");
		return 0;
	case RF_APPROVERS:
		return parse_list(c, v, field, check_rule_entry, MAX_LIST,
		    &ro->approvers);
	case RF_REQUIRE_GROUPS:
		return parse_list(c, v, field, check_group, MAX_LIST,
		    &ro->require_groups);
	case RF_EXTENSIONS:
		return parse_list(c, v, field, check_extension, MAX_LIST,
		    &ro->extensions);
	case RF_SOURCE_ADDRESS:
		if ((r = parse_list(c, v, field, check_cidr, MAX_LIST,
		    &ro->sources)) != 0)
			return r;
		if (ro->sources.n == 0)
			return fail(c, v, field, "empty list; leave "
			    "source_address out to allow any address");
		return 0;
	case RF_KEY_TYPES: {
		struct strlist kt = { 0 };
		if ((r = parse_list(c, v, field, check_key_type, 3, &kt)) != 0) {
			strlist_release(&kt);
			return r;
		}
		ro->pub.key_types = 0;
		for (size_t i = 0; i < kt.n; i++)
			ro->pub.key_types |= kt.v[i][0] == 'e' ?
			    (kt.v[i][1] == 'd' ? JIT_POLICY_KEY_ED25519 :
			    JIT_POLICY_KEY_ECDSA) : JIT_POLICY_KEY_RSA;
		strlist_release(&kt);
		if (ro->pub.key_types == 0)
			return fail(c, v, field, "must list at least one of "
			    "ed25519, ecdsa, rsa");
		return 0;
	}
	case RF_APPROVALS: {
		unsigned long val = 0;
		size_t i;
		if ((r = get_string(c, v, field, "a number", &s)) != 0)
			return r;
		for (i = 0; s[i] >= '0' && s[i] <= '9' && val <= 100000; i++)
			val = val * 10 + (unsigned long)(s[i] - '0');
		if (i == 0 || s[i] != '\0' || val > MAX_APPROVALS) {
			r = fail(c, v, field, "expected a whole number from 0 "
			    "to %d, found '%s'", MAX_APPROVALS,
			    shown(s, strlen(s), buf));
			free(s);
			return r;
		}
		free(s);
		ro->pub.approvals = (unsigned)val;
		return 0;
	}
	case RF_SELF_APPROVAL:
		if ((r = get_string(c, v, field, "true or false", &s)) != 0)
			return r;
		if (strcmp(s, "true") == 0)
			ro->pub.self_approval = 1;
		else if (strcmp(s, "false") == 0)
			ro->pub.self_approval = 0;
		else
			r = fail(c, v, field, "expected true or false, found "
			    "'%s'", shown(s, strlen(s), buf));
		free(s);
		return r;
	case RF_MAX_DURATION:
		return parse_duration(c, v, field, &ro->pub.max_duration);
	case RF_DEFAULT_DURATION:
		return parse_duration(c, v, field, &ro->pub.default_duration);
	case RF_PENDING_TIMEOUT:
		return parse_duration(c, v, field, &ro->pub.pending_timeout);
	case RF_REASON:
		if ((r = get_string(c, v, field, "required or optional",
		    &s)) != 0)
			return r;
		if (strcmp(s, "required") == 0)
			ro->pub.reason_required = 1;
		else if (strcmp(s, "optional") == 0)
			ro->pub.reason_required = 0;
		else
			r = fail(c, v, field, "expected required or optional, "
			    "found '%s'", shown(s, strlen(s), buf));
		free(s);
		return r;
	case RF_REASON_PATTERN: {
		const char *why;
		char ebuf[128];
		int rc;
		if ((r = get_string(c, v, field, "a regular expression",
		    &s)) != 0)
			return r;
		if (s[0] == '\0' || strlen(s) > MAX_PATTERN) {
			free(s);
			return fail(c, v, field, "pattern must be 1 to %d "
			    "bytes", MAX_PATTERN);
		}
		if ((why = pattern_problem(s)) != NULL) {
			free(s);
			return fail(c, v, field, "%s", why);
		}
		if ((rc = regcomp(&ro->re, s, REG_EXTENDED | REG_NOSUB)) != 0) {
			regerror(rc, NULL, ebuf, sizeof(ebuf));
			free(s);
			return fail(c, v, field, "invalid regular expression: "
			    "%s", ebuf);
		}
		ro->have_re = 1;
		ro->reason_pattern = s;
		return 0;
	}
	case RF_FORCE_COMMAND:
		if (is_null(v))
			return 0;
		if ((r = get_string(c, v, field, "a command or null", &s)) != 0)
			return r;
		if (s[0] == '\0' || strlen(s) > MAX_TEXT) {
			free(s);
			return fail(c, v, field, "must be a non-empty command "
			    "of at most %d bytes (or null for none)",
			    MAX_TEXT);
		}
		ro->force_command = s;
		return 0;
	}
	return r;
}

static void
role_free(struct role *ro)
{
	if (ro == NULL)
		return;
	free(ro->name);
	free(ro->description);
	free(ro->reason_pattern);
	free(ro->source_address);
	free(ro->force_command);
	strlist_release(&ro->principals);
	strlist_release(&ro->requesters);
	strlist_release(&ro->approvers);
	strlist_release(&ro->require_groups);
	strlist_release(&ro->extensions);
	strlist_release(&ro->sources);
	if (ro->have_re)
		regfree(&ro->re);
	free(ro);
}

static int
parse_role(struct ctx *c, const yaml_node_t *k, const yaml_node_t *v)
{
	struct jit_policy *p = c->p;
	struct role *ro = NULL;
	yaml_node_pair_t *pair;
	yaml_node_t *kn, *vn;
	char field[128], buf[64];
	unsigned seenmask = 0;
	size_t f;
	int r = JIT_ERR_INTERNAL;

	if ((ro = calloc(1, sizeof(*ro))) == NULL)
		return JIT_ERR_ALLOC;
	if ((r = get_string(c, k, "roles", "a role name", &ro->name)) != 0)
		goto out;
	if (!valid_name(ro->name, 0)) {
		r = fail(c, k, "roles", "invalid role name '%s' (1-64 of A-Z "
		    "a-z 0-9 . _ -)", shown(ro->name, strlen(ro->name), buf));
		goto out;
	}
	snprintf(field, sizeof(field), "roles.%s", ro->name);
	if ((r = expect_mapping(c, v, field)) != 0)
		goto out;
	ro->pub.approvals = 1;
	ro->pub.key_types = JIT_POLICY_KEY_ALL;
	for (pair = v->data.mapping.pairs.start;
	    pair < v->data.mapping.pairs.top; pair++) {
		char sub[192];
		if ((r = get_node(c, pair->key, v, field, &kn)) != 0)
			goto out;
		if (kn->type != YAML_SCALAR_NODE) {
			r = fail(c, kn, field, "expected a key name");
			goto out;
		}
		if ((r = known_key(c, kn, field, role_fields, RF_COUNT,
		    &seenmask, &f)) != 0)
			goto out;
		snprintf(sub, sizeof(sub), "%s.%s", field, role_fields[f]);
		if ((r = get_node(c, pair->value, kn, sub, &vn)) != 0)
			goto out;
		ro->field_line[f] = node_line(vn);
		if ((r = parse_role_field(c, ro, f, vn, sub)) != 0)
			goto out;
	}

	/* Required fields and defaults. */
	if (ro->principals.n == 0) {
		snprintf(field, sizeof(field), "roles.%s.principals", ro->name);
		r = fail(c, k, field, "missing (list the login names the "
		    "certificate may use)");
		goto out;
	}
	if (ro->requesters.n == 0) {
		snprintf(field, sizeof(field), "roles.%s.requesters", ro->name);
		r = fail(c, k, field, "missing (list who may request the "
		    "role)");
		goto out;
	}
	if (!ro->field_line[RF_MAX_DURATION])
		ro->pub.max_duration = DEFAULT_MAX_DURATION;
	if (!ro->field_line[RF_PENDING_TIMEOUT])
		ro->pub.pending_timeout = DEFAULT_PENDING_TIMEOUT;
	if (!ro->field_line[RF_DEFAULT_DURATION])
		ro->pub.default_duration = ro->pub.max_duration <
		    DEFAULT_MAX_DURATION ? ro->pub.max_duration :
		    DEFAULT_MAX_DURATION;
	if (ro->pub.default_duration > ro->pub.max_duration) {
		char d1[32], d2[32];
		jit_format_duration(ro->pub.default_duration, d1, sizeof(d1));
		jit_format_duration(ro->pub.max_duration, d2, sizeof(d2));
		snprintf(field, sizeof(field), "roles.%s.default_duration",
		    ro->name);
		r = fail_at(c->err, c->file,
		    ro->field_line[RF_DEFAULT_DURATION], field,
		    "default_duration %s is longer than max_duration %s", d1,
		    d2);
		goto out;
	}
	if (!ro->field_line[RF_EXTENSIONS] &&
	    (r = strlist_add(&ro->extensions, jit_strdup("permit-pty"),
	    c->file, 0)) != 0)
		goto out;
	if (ro->sources.n > 0) {
		size_t total = 0, off = 0;
		for (size_t i = 0; i < ro->sources.n; i++)
			total += strlen(ro->sources.v[i]) + 1;
		if ((ro->source_address = malloc(total)) == NULL) {
			r = JIT_ERR_ALLOC;
			goto out;
		}
		for (size_t i = 0; i < ro->sources.n; i++) {
			size_t l = strlen(ro->sources.v[i]);
			if (i > 0)
				ro->source_address[off++] = ',';
			memcpy(ro->source_address + off, ro->sources.v[i], l);
			off += l;
		}
		ro->source_address[off] = '\0';
	}
	ro->pub.file = c->file;
	ro->pub.line = node_line(k);
	ro->seq = p->seq++;
	if ((r = grow((void **)&p->roles, &p->caproles, p->nroles,
	    sizeof(*p->roles))) != 0)
		goto out;
	p->roles[p->nroles++] = ro;
	ro = NULL;
	r = 0;
out:
	role_free(ro);
	return r;
}

static int
parse_user(struct ctx *c, const yaml_node_t *k, const yaml_node_t *v)
{
	static const char *const user_fields[] = { "groups" };
	struct jit_policy *p = c->p;
	struct user u;
	yaml_node_pair_t *pair;
	yaml_node_t *kn, *vn;
	char field[128], buf[64];
	unsigned seenmask = 0;
	size_t f;
	int r = JIT_ERR_INTERNAL;

	memset(&u, 0, sizeof(u));
	if ((r = get_string(c, k, "users", "a user name", &u.name)) != 0)
		goto out;
	if (!valid_name(u.name, 1)) {
		r = fail(c, k, "users", "invalid user name '%s' (1-64 of A-Z "
		    "a-z 0-9 . _ - @)", shown(u.name, strlen(u.name), buf));
		goto out;
	}
	snprintf(field, sizeof(field), "users.%s", u.name);
	if (!is_null(v)) {
		if ((r = expect_mapping(c, v, field)) != 0)
			goto out;
		for (pair = v->data.mapping.pairs.start;
		    pair < v->data.mapping.pairs.top; pair++) {
			char sub[192];
			if ((r = get_node(c, pair->key, v, field, &kn)) != 0)
				goto out;
			if (kn->type != YAML_SCALAR_NODE) {
				r = fail(c, kn, field, "expected a key name");
				goto out;
			}
			if ((r = known_key(c, kn, field, user_fields, 1,
			    &seenmask, &f)) != 0)
				goto out;
			snprintf(sub, sizeof(sub), "%s.%s", field,
			    user_fields[f]);
			if ((r = get_node(c, pair->value, kn, sub, &vn)) != 0)
				goto out;
			if ((r = parse_list(c, vn, sub, check_group,
			    MAX_USER_GROUPS, &u.groups)) != 0)
				goto out;
		}
	}
	if (u.groups.n > 1)
		qsort(u.groups.v, u.groups.n, sizeof(*u.groups.v), cmp_str);
	u.file = c->file;
	u.line = node_line(k);
	u.seq = p->seq++;
	if ((r = grow((void **)&p->users, &p->capusers, p->nusers,
	    sizeof(*p->users))) != 0)
		goto out;
	p->users[p->nusers++] = u;
	return 0;
out:
	free(u.name);
	strlist_release(&u.groups);
	return r;
}

/* A mapping whose keys are names (users, roles): duplicate names are
 * found after merging, where both places can be named. */
static int
parse_named_map(struct ctx *c, const yaml_node_t *n, const char *field,
    int (*each)(struct ctx *, const yaml_node_t *, const yaml_node_t *))
{
	yaml_node_pair_t *pair;
	yaml_node_t *kn, *vn;
	int r;

	if (n->type != YAML_MAPPING_NODE)
		return fail(c, n, field, "expected a mapping of names, found "
		    "%s", type_name(n));
	for (pair = n->data.mapping.pairs.start;
	    pair < n->data.mapping.pairs.top; pair++) {
		if ((r = get_node(c, pair->key, n, field, &kn)) != 0 ||
		    (r = get_node(c, pair->value, kn, field, &vn)) != 0)
			return r;
		if ((r = each(c, kn, vn)) != 0)
			return r;
	}
	return 0;
}

static int
parse_root(struct ctx *c, const yaml_node_t *root)
{
	static const char *const top_fields[] = {
		"users", "roles", "admins", "auditors" };
	yaml_node_pair_t *pair;
	yaml_node_t *kn, *vn;
	unsigned seenmask = 0;
	size_t f;
	int r;

	if (root->type != YAML_MAPPING_NODE)
		return fail(c, root, "", "expected a mapping with users, "
		    "roles, admins and auditors, found %s", type_name(root));
	for (pair = root->data.mapping.pairs.start;
	    pair < root->data.mapping.pairs.top; pair++) {
		if ((r = get_node(c, pair->key, root, "", &kn)) != 0)
			return r;
		if (kn->type != YAML_SCALAR_NODE)
			return fail(c, kn, "", "expected a key name");
		if ((r = known_key(c, kn, "", top_fields, 4, &seenmask,
		    &f)) != 0)
			return r;
		if ((r = get_node(c, pair->value, kn, top_fields[f], &vn)) != 0)
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
			    MAX_LIST, &c->p->admins);
			break;
		default:
			r = parse_list(c, vn, "auditors", check_rule_entry,
			    MAX_LIST, &c->p->auditors);
			break;
		}
		if (r != 0)
			return r;
	}
	return 0;
}

static unsigned
line_of_offset(const char *data, size_t len, size_t off)
{
	unsigned line = 1;

	for (size_t i = 0; i < off && i < len; i++)
		if (data[i] == '\n')
			line++;
	return line;
}

static int
yaml_fail(struct ctx *c, yaml_parser_t *y, const char *data, size_t len)
{
	unsigned line;
	size_t col;

	if (y->error == YAML_MEMORY_ERROR)
		return JIT_ERR_ALLOC;
	if (y->error == YAML_READER_ERROR) {
		line = line_of_offset(data, len, y->problem_offset);
		return fail_at(c->err, c->file, line, "", "invalid text: %s "
		    "at byte %zu", y->problem ? y->problem : "error",
		    y->problem_offset);
	}
	line = (unsigned)y->problem_mark.line + 1;
	col = y->problem_mark.column + 1;
	if (y->context != NULL)
		return fail_at(c->err, c->file, line, "", "YAML syntax error: "
		    "%s (column %zu) %s started at line %zu",
		    y->problem ? y->problem : "error", col, y->context,
		    y->context_mark.line + 1);
	return fail_at(c->err, c->file, line, "", "YAML syntax error: %s "
	    "(column %zu)", y->problem ? y->problem : "error", col);
}

/* Parse one file's bytes into p (file is owned by p). */
static int
parse_file(struct jit_policy *p, const char *file, const char *data,
    size_t len, struct jit_policy_error *err)
{
	yaml_parser_t y;
	yaml_document_t doc, doc2;
	int have_doc = 0, have_doc2 = 0, r = JIT_ERR_INTERNAL;
	struct ctx c;
	yaml_node_t *root;

	memset(&c, 0, sizeof(c));
	c.p = p;
	c.file = file;
	c.err = err;
	c.doc = &doc;
	if (!yaml_parser_initialize(&y))
		return JIT_ERR_ALLOC;
	yaml_parser_set_input_string(&y, (const unsigned char *)data, len);
	if (!yaml_parser_load(&y, &doc)) {
		r = yaml_fail(&c, &y, data, len);
		goto out;
	}
	have_doc = 1;
	if ((root = yaml_document_get_root_node(&doc)) == NULL) {
		r = fail_at(err, file, 1, "", "file is empty");
		goto out;
	}
	if (!yaml_parser_load(&y, &doc2)) {
		r = yaml_fail(&c, &y, data, len);
		goto out;
	}
	have_doc2 = 1;
	if (yaml_document_get_root_node(&doc2) != NULL) {
		r = fail_at(err, file, (unsigned)doc2.start_mark.line + 1, "",
		    "only one YAML document per file is allowed");
		goto out;
	}
	c.nnodes = (size_t)(doc.nodes.top - doc.nodes.start);
	if ((c.seen = calloc(c.nnodes + 1, 1)) == NULL) {
		r = JIT_ERR_ALLOC;
		goto out;
	}
	c.seen[0] = 1;  /* the root */
	r = parse_root(&c, root);
out:
	free(c.seen);
	if (have_doc2)
		yaml_document_delete(&doc2);
	if (have_doc)
		yaml_document_delete(&doc);
	yaml_parser_delete(&y);
	return r;
}

/* ---- merging and cross-checks ---- */

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

static const struct user *
find_user(const struct jit_policy *p, const char *name)
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

static int
sorted_has(char *const *v, size_t n, const char *s)
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

static int
user_in_group(const struct user *u, const char *group)
{
	return u != NULL && sorted_has(u->groups.v, u->groups.n, group);
}

/* Does user u match a rule list (names and group:NAME entries)? */
static int
rule_match(const struct user *u, char *const *v, size_t n)
{
	if (u == NULL)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (strncmp(v[i], "group:", 6) == 0) {
			if (user_in_group(u, v[i] + 6))
				return 1;
		} else if (strcmp(v[i], u->name) == 0)
			return 1;
	}
	return 0;
}

static int
check_rule_refs(const struct jit_policy *p, const struct strlist *l,
    const char *field, struct jit_policy_error *err)
{
	char buf[64];

	for (size_t i = 0; i < l->n; i++) {
		const char *e = l->v[i];
		if (strncmp(e, "group:", 6) == 0) {
			if (!sorted_has(p->groups, p->ngroups, e + 6))
				return fail_at(err, l->file[i], l->line[i],
				    field, "unknown group '%s' (no user lists "
				    "it in groups)", shown(e + 6, strlen(e + 6),
				    buf));
		} else if (find_user(p, e) == NULL)
			return fail_at(err, l->file[i], l->line[i], field,
			    "unknown user '%s'%s", shown(e, strlen(e), buf),
			    sorted_has(p->groups, p->ngroups, e) ?
			    " (for the group write group:NAME)" : "");
	}
	return 0;
}

static int
check_role(const struct jit_policy *p, struct role *ro,
    struct jit_policy_error *err)
{
	const char *file = ro->pub.file;
	char field[128];
	size_t eligible = 0;
	unsigned line;
	int r;

	snprintf(field, sizeof(field), "roles.%s.requesters", ro->name);
	if ((r = check_rule_refs(p, &ro->requesters, field, err)) != 0)
		return r;
	snprintf(field, sizeof(field), "roles.%s.approvers", ro->name);
	if ((r = check_rule_refs(p, &ro->approvers, field, err)) != 0)
		return r;
	snprintf(field, sizeof(field), "roles.%s.require_groups", ro->name);
	for (size_t i = 0; i < ro->require_groups.n; i++) {
		char buf[64];
		const char *g = ro->require_groups.v[i];
		if (!sorted_has(p->groups, p->ngroups, g))
			return fail_at(err, file, ro->require_groups.line[i],
			    field, "unknown group '%s' (no user lists it in "
			    "groups)", shown(g, strlen(g), buf));
	}
	if (ro->pub.approvals == 0) {
		if (ro->require_groups.n > 0)
			return fail_at(err, file,
			    ro->field_line[RF_REQUIRE_GROUPS], field,
			    "role %s is auto-approved (approvals: 0), so "
			    "require_groups can never apply", ro->name);
		return 0;
	}
	for (size_t i = 0; i < p->nusers; i++)
		if (rule_match(&p->users[i], ro->approvers.v, ro->approvers.n))
			eligible++;
	line = ro->field_line[RF_APPROVALS] ? ro->field_line[RF_APPROVALS] :
	    ro->pub.line;
	snprintf(field, sizeof(field), "roles.%s.approvals", ro->name);
	if (ro->approvers.n == 0)
		return fail_at(err, file, line, field, "role %s needs %u "
		    "approval%s but lists no approvers (add approvers, or "
		    "set approvals: 0 to auto-approve)", ro->name,
		    ro->pub.approvals, ro->pub.approvals == 1 ? "" : "s");
	if (ro->pub.approvals > eligible)
		return fail_at(err, file, line, field, "role %s needs %u "
		    "approval%s but only %zu user%s can approve", ro->name,
		    ro->pub.approvals, ro->pub.approvals == 1 ? "" : "s",
		    eligible, eligible == 1 ? "" : "s");
	snprintf(field, sizeof(field), "roles.%s.require_groups", ro->name);
	for (size_t i = 0; i < ro->require_groups.n; i++) {
		const char *g = ro->require_groups.v[i];
		int found = 0;
		for (size_t j = 0; j < p->nusers && !found; j++)
			found = user_in_group(&p->users[j], g) &&
			    rule_match(&p->users[j], ro->approvers.v,
			    ro->approvers.n);
		if (!found)
			return fail_at(err, file, ro->require_groups.line[i],
			    field, "no approver of role %s is in group %s",
			    ro->name, g);
	}
	return 0;
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
	pr->reason_regex = ro->have_re ? &ro->re : NULL;
	pr->source_address = ro->source_address;
	pr->force_command = ro->force_command;
	pr->extensions = (const char *const *)ro->extensions.v;
	pr->nextensions = ro->extensions.n;
}

static int
finalize(struct jit_policy *p, struct jit_policy_error *err)
{
	size_t total = 0, n = 0;
	int r;

	if (p->nusers > 1)
		qsort(p->users, p->nusers, sizeof(*p->users), cmp_user);
	for (size_t i = 1; i < p->nusers; i++) {
		const struct user *a = &p->users[i - 1], *b = &p->users[i];
		char field[128];
		if (strcmp(a->name, b->name) != 0)
			continue;
		snprintf(field, sizeof(field), "users.%s", b->name);
		return fail_at(err, b->file, b->line, field, "user %s is "
		    "already defined at %s:%u", b->name, a->file, a->line);
	}
	if (p->nroles > 1)
		qsort(p->roles, p->nroles, sizeof(*p->roles), cmp_role);
	for (size_t i = 1; i < p->nroles; i++) {
		const struct role *a = p->roles[i - 1], *b = p->roles[i];
		char field[128];
		if (strcmp(a->name, b->name) != 0)
			continue;
		snprintf(field, sizeof(field), "roles.%s", b->name);
		return fail_at(err, b->pub.file, b->pub.line, field, "role %s "
		    "is already defined at %s:%u", b->name, a->pub.file,
		    a->pub.line);
	}

	/* The group set: every group some user lists. */
	for (size_t i = 0; i < p->nusers; i++)
		total += p->users[i].groups.n;
	if (total > 0) {
		if ((p->groups = calloc(total, sizeof(*p->groups))) == NULL)
			return JIT_ERR_ALLOC;
		for (size_t i = 0; i < p->nusers; i++)
			for (size_t j = 0; j < p->users[i].groups.n; j++)
				p->groups[n++] = p->users[i].groups.v[j];
		qsort(p->groups, n, sizeof(*p->groups), cmp_str);
		p->ngroups = 0;
		for (size_t i = 0; i < n; i++)
			if (p->ngroups == 0 ||
			    strcmp(p->groups[p->ngroups - 1], p->groups[i]) != 0)
				p->groups[p->ngroups++] = p->groups[i];
	}

	if ((r = check_rule_refs(p, &p->admins, "admins", err)) != 0 ||
	    (r = check_rule_refs(p, &p->auditors, "auditors", err)) != 0)
		return r;
	for (size_t i = 0; i < p->nroles; i++) {
		if ((r = check_role(p, p->roles[i], err)) != 0)
			return r;
		role_publish(p->roles[i]);
	}
	return 0;
}

/* ---- loading ---- */

static int
add_file_name(struct jit_policy *p, const char *name, const char **out)
{
	char *s;
	int r;

	*out = NULL;
	if ((s = jit_strdup(name)) == NULL)
		return JIT_ERR_ALLOC;
	if ((r = grow((void **)&p->files, &p->capfiles, p->nfiles,
	    sizeof(*p->files))) != 0) {
		free(s);
		return r;
	}
	p->files[p->nfiles++] = s;
	*out = s;
	return 0;
}

static struct jit_policy *
policy_new(const char *source)
{
	struct jit_policy *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	if ((p->source = jit_strdup(source)) == NULL) {
		free(p);
		return NULL;
	}
	return p;
}

static int
hash_final(struct jit_policy *p, EVP_MD_CTX *md)
{
	unsigned char dg[EVP_MAX_MD_SIZE];
	unsigned dlen = 0;

	if (EVP_DigestFinal_ex(md, dg, &dlen) != 1 || dlen != 32)
		return JIT_ERR_CRYPTO;
	jit_hex(dg, 32, p->hash);
	return 0;
}

int
jit_policy_load_mem(const char *name, const char *data, size_t len,
    struct jit_policy **out, struct jit_policy_error *err)
{
	struct jit_policy *p = NULL;
	EVP_MD_CTX *md = NULL;
	const char *file;
	int r = JIT_ERR_INTERNAL;

	if (err != NULL)
		memset(err, 0, sizeof(*err));
	if (out == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	*out = NULL;
	if (name == NULL)
		name = "<memory>";
	if (data == NULL && len > 0)
		return JIT_ERR_INVALID_ARGUMENT;
	if (len > JIT_POLICY_MAX_FILE) {
		fail_at(err, name, 0, "", "larger than %d bytes",
		    JIT_POLICY_MAX_FILE);
		return JIT_ERR_NO_BUFFER_SPACE;
	}
	if ((p = policy_new(name)) == NULL)
		return JIT_ERR_ALLOC;
	if ((r = add_file_name(p, name, &file)) != 0)
		goto out;
	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(md, data == NULL ? "" : data, len) != 1 ||
	    (r = hash_final(p, md)) != 0) {
		r = r != JIT_ERR_INTERNAL ? r : JIT_ERR_CRYPTO;
		goto out;
	}
	if ((r = parse_file(p, file, data == NULL ? "" : data, len, err)) != 0 ||
	    (r = finalize(p, err)) != 0)
		goto out;
	*out = p;
	p = NULL;
	r = 0;
out:
	EVP_MD_CTX_free(md);
	jit_policy_free(p);
	return r;
}

static int
has_policy_suffix(const char *n)
{
	size_t l = strlen(n);

	return (l > 5 && strcmp(n + l - 5, ".yaml") == 0) ||
	    (l > 4 && strcmp(n + l - 4, ".yml") == 0);
}

static int
read_error(struct jit_policy_error *err, const char *file, int r)
{
	if (r == JIT_ERR_NO_BUFFER_SPACE)
		fail_at(err, file, 0, "", "larger than %d bytes",
		    JIT_POLICY_MAX_FILE);
	else
		fail_at(err, file, 0, "", "cannot read: %s", jit_err(r));
	return r;
}

/* The policy file names of a directory, sorted. */
static int
list_dir(const char *path, struct strlist *names,
    struct jit_policy_error *err)
{
	DIR *d;
	struct dirent *e;
	int r = 0;

	if ((d = opendir(path)) == NULL)
		return read_error(err, path, jit_err_from_errno(errno));
	while ((e = readdir(d)) != NULL) {
		char full[PATH_MAX];
		struct stat st;
		int n;
		if (e->d_name[0] == '.' || !has_policy_suffix(e->d_name))
			continue;
		n = snprintf(full, sizeof(full), "%s/%s", path, e->d_name);
		if (n < 0 || (size_t)n >= sizeof(full)) {
			r = fail_at(err, path, 0, "", "path too long");
			break;
		}
		/* A policy file that cannot be examined (a dangling symlink,
		 * say) is an error rather than silently left out. */
		if (stat(full, &st) != 0) {
			r = read_error(err, full, jit_err_from_errno(errno));
			break;
		}
		if (!S_ISREG(st.st_mode))
			continue;
		if ((r = strlist_add(names, jit_strdup(e->d_name), NULL,
		    0)) != 0)
			break;
	}
	closedir(d);
	if (r == 0 && names->n > 1)
		qsort(names->v, names->n, sizeof(*names->v), cmp_str);
	return r;
}

int
jit_policy_load(const char *path, struct jit_policy **out,
    struct jit_policy_error *err)
{
	struct jit_policy *p = NULL;
	struct strlist names = { 0 };
	EVP_MD_CTX *md = NULL;
	unsigned char *data = NULL;
	struct stat st;
	int r = JIT_ERR_INTERNAL, isdir;

	if (err != NULL)
		memset(err, 0, sizeof(*err));
	if (out == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	*out = NULL;
	if (path == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	if (stat(path, &st) != 0)
		return read_error(err, path, jit_err_from_errno(errno));
	isdir = S_ISDIR(st.st_mode);
	if ((p = policy_new(path)) == NULL)
		return JIT_ERR_ALLOC;
	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		r = JIT_ERR_CRYPTO;
		goto out;
	}
	if (isdir) {
		if ((r = list_dir(path, &names, err)) != 0)
			goto out;
		if (names.n == 0) {
			r = fail_at(err, path, 0, "", "no *.yaml or *.yml "
			    "files in the directory");
			goto out;
		}
	} else if ((r = strlist_add(&names, jit_strdup(path), NULL, 0)) != 0)
		goto out;

	for (size_t i = 0; i < names.n; i++) {
		char full[PATH_MAX], lenbuf[32];
		const char *file;
		size_t len = 0;
		int n;
		if (isdir)
			n = snprintf(full, sizeof(full), "%s%s%s", path,
			    path[strlen(path) - 1] == '/' ? "" : "/",
			    names.v[i]);
		else
			n = snprintf(full, sizeof(full), "%s", path);
		if (n < 0 || (size_t)n >= sizeof(full)) {
			r = fail_at(err, path, 0, "", "path too long");
			goto out;
		}
		if ((r = jit_read_file(full, JIT_POLICY_MAX_FILE, &data,
		    &len)) != 0) {
			read_error(err, full, r);
			goto out;
		}
		if ((r = add_file_name(p, full, &file)) != 0)
			goto out;
		if (isdir) {
			n = snprintf(lenbuf, sizeof(lenbuf), "%zu", len);
			if (EVP_DigestUpdate(md, names.v[i],
			    strlen(names.v[i]) + 1) != 1 ||
			    EVP_DigestUpdate(md, lenbuf, (size_t)n + 1) != 1) {
				r = JIT_ERR_CRYPTO;
				goto out;
			}
		}
		if (EVP_DigestUpdate(md, data, len) != 1) {
			r = JIT_ERR_CRYPTO;
			goto out;
		}
		if ((r = parse_file(p, file, (const char *)data, len,
		    err)) != 0)
			goto out;
		free(data);
		data = NULL;
	}
	if ((r = hash_final(p, md)) != 0 || (r = finalize(p, err)) != 0)
		goto out;
	*out = p;
	p = NULL;
	r = 0;
out:
	free(data);
	strlist_release(&names);
	EVP_MD_CTX_free(md);
	jit_policy_free(p);
	return r;
}

void
jit_policy_free(struct jit_policy *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->nusers; i++) {
		free(p->users[i].name);
		strlist_release(&p->users[i].groups);
	}
	free(p->users);
	for (size_t i = 0; i < p->nroles; i++)
		role_free(p->roles[i]);
	free(p->roles);
	strlist_release(&p->admins);
	strlist_release(&p->auditors);
	free(p->groups);  /* entries belong to the users */
	for (size_t i = 0; i < p->nfiles; i++)
		free(p->files[i]);
	free(p->files);
	free(p->source);
	free(p);
}

void
jit_policy_error_format(const struct jit_policy_error *e, char *out,
    size_t outlen)
{
	char line[16] = "";

	if (out == NULL || outlen == 0)
		return;
	if (e == NULL) {
		out[0] = '\0';
		return;
	}
	if (e->message[0] == '\0') {
		out[0] = '\0';
		return;
	}
	if (e->line > 0)
		snprintf(line, sizeof(line), ":%u", e->line);
	snprintf(out, outlen, "%s%s%s%s%s%s", e->file, line,
	    e->file[0] ? ": " : "", e->field, e->field[0] ? ": " : "",
	    e->message);
}

/* ---- queries ---- */

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
jit_policy_user_exists(const struct jit_policy *p, const char *user)
{
	return p != NULL && user != NULL && find_user(p, user) != NULL;
}

const char *const *
jit_policy_user_groups(const struct jit_policy *p, const char *user,
    size_t *n)
{
	const struct user *u;

	if (n != NULL)
		*n = 0;
	if (p == NULL || user == NULL || (u = find_user(p, user)) == NULL ||
	    u->groups.n == 0)
		return NULL;
	if (n != NULL)
		*n = u->groups.n;
	return (const char *const *)u->groups.v;
}

int
jit_policy_user_in_group(const struct jit_policy *p, const char *user,
    const char *group)
{
	if (p == NULL || user == NULL || group == NULL)
		return 0;
	return user_in_group(find_user(p, user), group);
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

static struct role *
find_role(const struct jit_policy *p, const char *name)
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

const struct jit_policy_role *
jit_policy_role(const struct jit_policy *p, const char *name)
{
	struct role *ro = find_role(p, name);

	return ro == NULL ? NULL : &ro->pub;
}

unsigned
jit_policy_approvals_needed(const struct jit_policy_role *r)
{
	return r == NULL ? 0 : r->approvals;
}

int
jit_policy_is_admin(const struct jit_policy *p, const char *user)
{
	if (p == NULL || user == NULL)
		return 0;
	return rule_match(find_user(p, user), p->admins.v, p->admins.n);
}

int
jit_policy_is_auditor(const struct jit_policy *p, const char *user)
{
	if (p == NULL || user == NULL)
		return 0;
	return rule_match(find_user(p, user), p->auditors.v, p->auditors.n);
}

int
jit_policy_is_approver(const struct jit_policy *p, const char *user,
    const char *role)
{
	struct role *ro = find_role(p, role);

	if (ro == NULL || user == NULL)
		return 0;
	return rule_match(find_user(p, user), ro->approvers.v,
	    ro->approvers.n);
}

int
jit_policy_is_requester(const struct jit_policy *p, const char *user,
    const char *role)
{
	struct role *ro = find_role(p, role);

	if (ro == NULL || user == NULL)
		return 0;
	return rule_match(find_user(p, user), ro->requesters.v,
	    ro->requesters.n);
}

static void msgf(char *msg, size_t msglen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
msgf(char *msg, size_t msglen, const char *fmt, ...)
{
	va_list ap;

	if (msg == NULL || msglen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, msglen, fmt, ap);
	va_end(ap);
}

/* Common start of the decisions: clear msg, find the role. */
static int
decision_role(const struct jit_policy *p, const char *role,
    struct role **ro, char *msg, size_t msglen)
{
	char buf[64];

	*ro = NULL;
	msgf(msg, msglen, "%s", "");
	if (p == NULL || role == NULL) {
		msgf(msg, msglen, "no policy or role given");
		return JIT_ERR_INVALID_ARGUMENT;
	}
	if ((*ro = find_role(p, role)) == NULL) {
		msgf(msg, msglen, "role %s is not in the policy",
		    shown(role, strlen(role), buf));
		return JIT_ERR_POLICY_ROLE;
	}
	return 0;
}

int
jit_policy_can_request(const struct jit_policy *p, const char *user,
    const char *role, char *msg, size_t msglen)
{
	const struct user *u;
	struct role *ro;
	char buf[64];
	int r;

	if ((r = decision_role(p, role, &ro, msg, msglen)) != 0)
		return r;
	if (user == NULL) {
		msgf(msg, msglen, "no user given");
		return JIT_ERR_INVALID_ARGUMENT;
	}
	if ((u = find_user(p, user)) == NULL) {
		msgf(msg, msglen, "user %s is not in the policy",
		    shown(user, strlen(user), buf));
		return JIT_ERR_FORBIDDEN;
	}
	if (!rule_match(u, ro->requesters.v, ro->requesters.n)) {
		msgf(msg, msglen, "user %s may not request role %s", u->name,
		    ro->name);
		return JIT_ERR_FORBIDDEN;
	}
	return 0;
}

int
jit_policy_can_approve(const struct jit_policy *p, const char *approver,
    const char *requester, const char *role, char *msg, size_t msglen)
{
	const struct user *u;
	struct role *ro;
	char buf[64];
	int r;

	if ((r = decision_role(p, role, &ro, msg, msglen)) != 0)
		return r;
	if (approver == NULL || requester == NULL) {
		msgf(msg, msglen, "no approver or requester given");
		return JIT_ERR_INVALID_ARGUMENT;
	}
	if ((u = find_user(p, approver)) == NULL) {
		msgf(msg, msglen, "user %s is not in the policy",
		    shown(approver, strlen(approver), buf));
		return JIT_ERR_FORBIDDEN;
	}
	if (!rule_match(u, ro->approvers.v, ro->approvers.n)) {
		msgf(msg, msglen, "user %s is not an approver for role %s",
		    u->name, ro->name);
		return JIT_ERR_FORBIDDEN;
	}
	if (!ro->pub.self_approval && strcmp(approver, requester) == 0) {
		msgf(msg, msglen, "user %s may not approve their own request "
		    "for role %s (self_approval is off)", u->name, ro->name);
		return JIT_ERR_FORBIDDEN;
	}
	return 0;
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

int
jit_policy_check_request(const struct jit_policy *p, const char *role,
    uint64_t duration, const char *reason, enum jit_key_type key_type,
    uint64_t *effective, char *msg, size_t msglen)
{
	struct role *ro;
	unsigned bit;
	size_t rlen;
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
		msgf(msg, msglen, "duration %s exceeds the maximum of %s for "
		    "role %s", d1, d2, ro->name);
		return JIT_ERR_POLICY_DURATION;
	}
	rlen = reason == NULL ? 0 : strlen(reason);
	if (rlen == 0 && ro->pub.reason_required) {
		if (ro->reason_pattern != NULL)
			msgf(msg, msglen, "role %s requires a reason matching "
			    "%s", ro->name, ro->reason_pattern);
		else
			msgf(msg, msglen, "role %s requires a reason",
			    ro->name);
		return JIT_ERR_POLICY_REASON;
	}
	if (rlen > 0) {
		if (rlen > JIT_POLICY_MAX_REASON) {
			msgf(msg, msglen, "reason is longer than %d bytes",
			    JIT_POLICY_MAX_REASON);
			return JIT_ERR_POLICY_REASON;
		}
		for (size_t i = 0; i < rlen; i++) {
			unsigned char ch = (unsigned char)reason[i];
			if (ch < 0x20 || ch == 0x7f) {
				msgf(msg, msglen, "reason contains control "
				    "characters");
				return JIT_ERR_POLICY_REASON;
			}
		}
		if (ro->have_re && regexec(&ro->re, reason, 0, NULL, 0) != 0) {
			msgf(msg, msglen, "reason does not match the pattern "
			    "%s required by role %s", ro->reason_pattern,
			    ro->name);
			return JIT_ERR_POLICY_REASON;
		}
	}
	bit = jit_policy_key_type_bit(key_type);
	if (bit == 0 || (ro->pub.key_types & bit) == 0) {
		char allowed[32];
		key_types_text(ro->pub.key_types, allowed, sizeof(allowed));
		msgf(msg, msglen, "key type %s is not allowed for role %s "
		    "(allowed: %s)", bit == JIT_POLICY_KEY_ED25519 ? "ed25519" :
		    bit == JIT_POLICY_KEY_ECDSA ? "ecdsa" :
		    bit == JIT_POLICY_KEY_RSA ? "rsa" : "unknown", ro->name,
		    allowed);
		return JIT_ERR_POLICY_KEY_TYPE;
	}
	if (effective != NULL)
		*effective = duration;
	return 0;
}

int
jit_policy_approval_status(const struct jit_policy *p, const char *role,
    const char *requester, const char *const *approvers, size_t n,
    char *msg, size_t msglen)
{
	const char *missing = NULL;
	struct role *ro;
	size_t counted = 0;
	int r;

	if ((r = decision_role(p, role, &ro, msg, msglen)) != 0)
		return r;
	if (requester == NULL || (approvers == NULL && n > 0)) {
		msgf(msg, msglen, "no requester or approvers given");
		return JIT_ERR_INVALID_ARGUMENT;
	}
	if (ro->pub.approvals == 0) {
		msgf(msg, msglen, "auto-approved");
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		const struct user *u;
		int dup = 0;
		if (approvers[i] == NULL ||
		    (u = find_user(p, approvers[i])) == NULL ||
		    !rule_match(u, ro->approvers.v, ro->approvers.n) ||
		    (!ro->pub.self_approval &&
		    strcmp(approvers[i], requester) == 0))
			continue;
		for (size_t j = 0; j < i && !dup; j++)
			dup = approvers[j] != NULL &&
			    strcmp(approvers[j], approvers[i]) == 0;
		if (!dup)
			counted++;
	}
	for (size_t g = 0; g < ro->require_groups.n && missing == NULL; g++) {
		const char *grp = ro->require_groups.v[g];
		int found = 0;
		for (size_t i = 0; i < n && !found; i++) {
			const struct user *u;
			if (approvers[i] == NULL ||
			    (u = find_user(p, approvers[i])) == NULL)
				continue;
			found = user_in_group(u, grp) &&
			    rule_match(u, ro->approvers.v, ro->approvers.n) &&
			    (ro->pub.self_approval ||
			    strcmp(approvers[i], requester) != 0);
		}
		if (!found)
			missing = grp;
	}
	if (missing != NULL)
		msgf(msg, msglen, "%zu of %u approvals; still needs one from "
		    "group %s", counted, ro->pub.approvals, missing);
	else
		msgf(msg, msglen, "%zu of %u approvals", counted,
		    ro->pub.approvals);
	return counted >= ro->pub.approvals && missing == NULL;
}

int
jit_policy_approval_satisfied(const struct jit_policy *p, const char *role,
    const char *requester, const char *const *approvers, size_t n)
{
	return jit_policy_approval_status(p, role, requester, approvers, n,
	    NULL, 0);
}
