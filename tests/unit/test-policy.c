/* test-policy.c - policy loader and evaluator.  Runs in tests/. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "err.h"
#include "policy.h"
#include "terms.h"
#include "test.h"
#include "util.h"
#include "yaml_doc.h"

#define EXAMPLES "../policies/examples"
#define DATA "unit/data/policy/"

static char msg[512];

#define CHECK_CONTAINS(hay, needle) do { const char *h_ = (hay), \
	*n_ = (needle); test_checks++; if (h_ == NULL || \
	strstr(h_, n_) == NULL) { fprintf(stderr, "%s:%d: \"%s\" does not " \
	"contain \"%s\"\n", __FILE__, __LINE__, h_ ? h_ : "(null)", n_); \
	test_failures++; } } while (0)

static void
test_examples(void)
{
	struct jit_policy *p = NULL;
	struct jit_policy_error e;
	const struct jit_policy_role *r;
	size_t n;
	const char *const *g;

	REQUIRE_OK(jit_policy_load(EXAMPLES, &p, &e));
	CHECK_INT(jit_policy_file_count(p), 4);
	CHECK_INT(jit_policy_user_count(p), 5);
	CHECK_INT(jit_policy_role_count(p), 3);
	CHECK_STR(jit_policy_source(p), EXAMPLES);
	CHECK_INT(strlen(jit_policy_hash(p)), 64);
	CHECK_STR(jit_policy_user_at(p, 0), "alice");
	CHECK_STR(jit_policy_user_at(p, 4), "erin");
	CHECK(jit_policy_user_at(p, 5) == NULL);
	CHECK_STR(jit_policy_role_at(p, 0)->name, "prod-db");
	CHECK_STR(jit_policy_role_at(p, 1)->name, "readonly");
	CHECK_STR(jit_policy_role_at(p, 2)->name, "staging");
	CHECK(jit_policy_role_at(p, 3) == NULL);
	CHECK(jit_policy_role(p, "nope") == NULL);
	CHECK(jit_policy_role(p, NULL) == NULL);

	CHECK(jit_policy_user_exists(p, "alice"));
	CHECK(!jit_policy_user_exists(p, "mallory"));
	CHECK(!jit_policy_user_exists(p, NULL));
	g = jit_policy_user_groups(p, "bob", &n);
	REQUIRE(g != NULL);
	CHECK_INT(n, 2);
	CHECK_STR(g[0], "dev");
	CHECK_STR(g[1], "sre");
	CHECK(jit_policy_user_groups(p, "mallory", &n) == NULL);
	CHECK_INT(n, 0);
	CHECK(jit_policy_user_in_group(p, "carol", "security"));
	CHECK(!jit_policy_user_in_group(p, "alice", "security"));
	CHECK(!jit_policy_user_in_group(p, "mallory", "security"));

	r = jit_policy_role(p, "prod-db");
	REQUIRE(r != NULL);
	CHECK_INT(r->nprincipals, 1);
	CHECK_STR(r->principals[0], "postgres");
	CHECK_INT(r->approvals, 2);
	CHECK_INT(jit_policy_approvals_needed(r), 2);
	CHECK_INT(r->nrequire_groups, 1);
	CHECK_STR(r->require_groups[0], "security");
	CHECK_INT(r->napprovers, 2);
	CHECK_STR(r->approvers[1], "group:security");
	CHECK_INT(r->self_approval, 0);
	CHECK_U64(r->max_duration, 4 * 3600);
	CHECK_U64(r->default_duration, 3600);
	CHECK_U64(r->pending_timeout, 24 * 3600);
	CHECK_INT(r->reason_required, 1);
	CHECK_STR(r->reason_pattern, "^[A-Z]+-[0-9]+");
	CHECK(r->reason_regex != NULL);
	CHECK_STR(r->source_address, "10.0.0.0/8,127.0.0.0/8,::1");
	CHECK(r->force_command == NULL);
	CHECK_INT(r->nextensions, 1);
	CHECK_STR(r->extensions[0], "permit-pty");
	CHECK_INT(r->key_types, JIT_POLICY_KEY_ED25519);
	CHECK_CONTAINS(r->file, "production.yaml");
	CHECK(r->line > 0);

	r = jit_policy_role(p, "readonly");
	REQUIRE(r != NULL);
	CHECK_INT(jit_policy_approvals_needed(r), 0);
	CHECK_INT(r->key_types, JIT_POLICY_KEY_ALL);
	CHECK(r->source_address == NULL);
	CHECK(r->reason_regex == NULL);
	CHECK_INT(r->reason_required, 0);

	r = jit_policy_role(p, "staging");
	REQUIRE(r != NULL);
	CHECK_INT(r->nextensions, 2);
	CHECK_INT(r->key_types, JIT_POLICY_KEY_ED25519 | JIT_POLICY_KEY_ECDSA);
	jit_policy_free(p);

	/* One file: the hash is plain SHA-256 of its bytes, as load_mem. */
	{
		struct jit_policy *q = NULL;
		unsigned char *data = NULL;
		size_t len = 0;
		FILE *f = fopen(DATA "good-minimal.yaml", "rb");
		REQUIRE(f != NULL);
		data = malloc(65536);
		REQUIRE(data != NULL);
		len = fread(data, 1, 65536, f);
		fclose(f);
		REQUIRE_OK(jit_policy_load(DATA "good-minimal.yaml", &p, &e));
		REQUIRE_OK(jit_policy_load_mem("x.yaml", (char *)data, len,
		    &q, &e));
		CHECK_STR(jit_policy_hash(p), jit_policy_hash(q));
		CHECK_STR(jit_policy_source(q), "x.yaml");
		jit_policy_free(p);
		jit_policy_free(q);
		free(data);
	}
	/* Known vector: sha256("users: {a: {}}\n"). */
	{
		const char *doc = "users: {a: {}}\n";
		REQUIRE_OK(jit_policy_load_mem(NULL, doc, strlen(doc), &p, &e));
		CHECK_STR(jit_policy_hash(p), "bd70066b8891dd33a158f6ddb9fe9361"
		    "520ca70f7895a5a3446e0fa575f461c5");
		CHECK_STR(jit_policy_source(p), "<memory>");
		CHECK_INT(jit_policy_role_count(p), 0);
		jit_policy_free(p);
	}

	/* Directory merge: admins from two files, non-YAML and dotfiles
	 * ignored. */
	REQUIRE_OK(jit_policy_load(DATA "good-dir", &p, &e));
	CHECK_INT(jit_policy_file_count(p), 2);
	CHECK(jit_policy_is_admin(p, "dave"));
	CHECK(jit_policy_is_admin(p, "carol"));
	CHECK(!jit_policy_is_admin(p, "alice"));
	CHECK(jit_policy_is_auditor(p, "carol"));
	CHECK(!jit_policy_is_auditor(p, "dave"));
	r = jit_policy_role(p, "r");
	REQUIRE(r != NULL);
	/* Defaults. */
	CHECK_INT(r->approvals, 1);
	CHECK_U64(r->max_duration, 3600);
	CHECK_U64(r->default_duration, 3600);
	CHECK_U64(r->pending_timeout, 86400);
	CHECK_INT(r->nextensions, 1);
	CHECK_STR(r->extensions[0], "permit-pty");
	CHECK_INT(r->key_types, JIT_POLICY_KEY_ALL);
	CHECK_CONTAINS(r->file, "roles.yml");
	CHECK_INT(r->line, 3);
	jit_policy_free(p);
	jit_policy_free(NULL);
}

struct bad {
	const char *path;
	unsigned line;
	const char *field;
	const char *message;    /* a substring */
};

static const struct bad bad_cases[] = {
	{ "bad-unknown-top.yaml", 6, "role", "unknown key 'role' (did you "
	    "mean 'roles'?)" },
	{ "bad-unknown-role-key.yaml", 10, "roles.r.approver",
	    "did you mean 'approvers'" },
	{ "bad-user-key.yaml", 3, "users.bob.group", "unknown key 'group'" },
	{ "bad-unknown-user.yaml", 12, "roles.r.approvers",
	    "unknown user 'mallory'" },
	{ "bad-unknown-group.yaml", 9, "roles.r.requesters",
	    "unknown group 'devs'" },
	{ "bad-admin.yaml", 6, "admins", "unknown user 'eve'" },
	{ "bad-duration.yaml", 11, "roles.r.max_duration",
	    "invalid duration '4x'" },
	{ "bad-empty-principals.yaml", 10, "roles.r.principals",
	    "at least one principal" },
	{ "bad-default-gt-max.yaml", 12, "roles.r.default_duration",
	    "default_duration 2h is longer than max_duration 1h" },
	{ "bad-approvals.yaml", 11, "roles.r.approvals",
	    "role r needs 2 approvals but only 1 user can approve" },
	{ "bad-no-approvers.yaml", 7, "roles.r.approvals",
	    "lists no approvers" },
	{ "bad-regex.yaml", 12, "roles.r.reason_pattern",
	    "invalid regular expression" },
	{ "bad-cidr.yaml", 11, "roles.r.source_address",
	    "'192.168.1.0/33'" },
	{ "bad-cidr-hostbits.yaml", 12, "roles.r.source_address",
	    "host bits" },
	{ "bad-extension.yaml", 11, "roles.r.extensions",
	    "unknown extension 'permit-ptty' (did you mean 'permit-pty'?)" },
	{ "bad-wrong-type.yaml", 8, "roles.r.principals",
	    "expected a list" },
	{ "bad-syntax.yaml", 10, "", "YAML syntax error" },
	{ "bad-dup-key.yaml", 12, "roles.r.approvals", "duplicate key" },
	{ "bad-alias.yaml", 10, "roles.r.approvers", "aliases" },
	{ "bad-missing-requesters.yaml", 7, "roles.r.requesters", "missing" },
	{ "bad-bool.yaml", 11, "roles.r.self_approval",
	    "expected true or false, found 'yes'" },
	{ "bad-require-group.yaml", 11, "roles.r.require_groups",
	    "no approver of role r is in group security" },
	{ "bad-auto-require.yaml", 12, "roles.r.require_groups",
	    "auto-approved" },
	{ "bad-key-type.yaml", 11, "roles.r.key_types",
	    "unknown key type 'dsa'" },
	{ "bad-principal.yaml", 8, "roles.r.principals",
	    "invalid principal 'bad name'" },
	{ "bad-list-dup.yaml", 9, "roles.r.requesters",
	    "'group:dev' is listed twice" },
	{ "bad-tag.yaml", 11, "roles.r.approvals", "tags" },
	{ "bad-empty.yaml", 1, "", "file is empty" },
	{ "bad-two-docs.yaml", 6, "", "only one YAML document" },
	{ "bad-dup-role-dir", 7, "roles.r",
	    "role r is already defined at " DATA "bad-dup-role-dir/a.yaml:7" },
	{ "bad-dup-user-dir", 3, "users.carol", "user carol is already "
	    "defined at " DATA "bad-dup-user-dir/10-users.yaml:4" },
};

static const char *const bad_files[] = {
	[29] = "bad-dup-role-dir/b.yaml",
	[30] = "bad-dup-user-dir/20-more.yml",
};

static void
test_bad_fixtures(void)
{
	size_t nb = sizeof(bad_cases) / sizeof(bad_cases[0]);

	CHECK_INT(nb, 31);
	for (size_t i = 0; i < nb; i++) {
		const struct bad *b = &bad_cases[i];
		struct jit_policy *p = (struct jit_policy *)1;
		struct jit_policy_error e;
		char path[256], file[256];
		int r;

		snprintf(path, sizeof(path), DATA "%s", b->path);
		snprintf(file, sizeof(file), DATA "%s",
		    i < sizeof(bad_files) / sizeof(bad_files[0]) &&
		    bad_files[i] != NULL ? bad_files[i] : b->path);
		r = jit_policy_load(path, &p, &e);
		CHECK_INT(r, JIT_ERR_POLICY);
		CHECK(p == NULL);
		CHECK_STR(e.file, file);
		CHECK_INT(e.line, b->line);
		CHECK_STR(e.field, b->field);
		CHECK_CONTAINS(e.message, b->message);
		if (r == 0)
			jit_policy_free(p);
	}
}

static void
test_errors(void)
{
	struct jit_policy *p = NULL;
	struct jit_policy_error e;
	char line[512];

	/* Formatter. */
	memset(&e, 0, sizeof(e));
	strcpy(e.file, "a.yaml");
	e.line = 7;
	strcpy(e.field, "roles.x.approvals");
	strcpy(e.message, "bad");
	jit_policy_error_format(&e, line, sizeof(line));
	CHECK_STR(line, "a.yaml:7: roles.x.approvals: bad");
	e.line = 0;
	e.field[0] = '\0';
	jit_policy_error_format(&e, line, sizeof(line));
	CHECK_STR(line, "a.yaml: bad");
	jit_policy_error_format(&e, line, 4);
	CHECK_STR(line, "a.y");
	e.file[0] = '\0';
	jit_policy_error_format(&e, line, sizeof(line));
	CHECK_STR(line, "bad");
	memset(&e, 0, sizeof(e));
	jit_policy_error_format(&e, line, sizeof(line));
	CHECK_STR(line, "");
	jit_policy_error_format(NULL, line, sizeof(line));
	CHECK_STR(line, "");

	CHECK_INT(jit_policy_load(DATA "does-not-exist.yaml", &p, &e),
	    JIT_ERR_NOT_FOUND);
	CHECK(p == NULL);
	CHECK_STR(e.file, DATA "does-not-exist.yaml");
	CHECK_INT(e.line, 0);
	CHECK_CONTAINS(e.message, "cannot read");
	/* A directory without policy files. */
	CHECK_INT(jit_policy_load("unit", &p, &e), JIT_ERR_POLICY);
	CHECK_CONTAINS(e.message, "no *.yaml");
	CHECK_INT(jit_policy_load(NULL, &p, &e), JIT_ERR_INVALID_ARGUMENT);
	CHECK_INT(jit_policy_load(EXAMPLES, NULL, &e),
	    JIT_ERR_INVALID_ARGUMENT);
	/* err may be NULL. */
	CHECK_INT(jit_policy_load(DATA "bad-cidr.yaml", &p, NULL),
	    JIT_ERR_POLICY);

	/* From memory: empty, NUL bytes, non-mapping root, oversize. */
	CHECK_INT(jit_policy_load_mem("m", "", 0, &p, &e), JIT_ERR_POLICY);
	CHECK_STR(e.file, "m");
	CHECK_INT(jit_policy_load_mem("m", "users: {\"a\\0b\": {}}\n", 20,
	    &p, &e), JIT_ERR_POLICY);
	CHECK_CONTAINS(e.message, "NUL");
	CHECK_INT(jit_policy_load_mem("m", "a\0b", 3, &p, &e),
	    JIT_ERR_POLICY);
	CHECK_INT(jit_policy_load_mem("m", "- a\n- b\n", 8, &p, &e),
	    JIT_ERR_POLICY);
	CHECK_CONTAINS(e.message, "expected a mapping");
	CHECK_INT(jit_policy_load_mem("m", "x", JIT_POLICY_MAX_FILE + 1, &p,
	    &e), JIT_ERR_NO_BUFFER_SPACE);
	CHECK_INT(jit_policy_load_mem("m", NULL, 1, &p, &e),
	    JIT_ERR_INVALID_ARGUMENT);
	/* Invalid UTF-8 is a reader error with a line. */
	CHECK_INT(jit_policy_load_mem("m", "users:\n  \xff: {}\n", 14, &p,
	    &e), JIT_ERR_POLICY);
	CHECK_INT(e.line, 2);
	/* A regex whose expansion would be huge is refused up front. */
	{
		const char *doc = "users: {a: {groups: [g]}}\nroles:\n  r:\n"
		    "    principals: [p]\n    requesters: [a]\n"
		    "    approvals: 0\n"
		    "    reason_pattern: '((a{1000}){1000}){1000}'\n";
		CHECK_INT(jit_policy_load_mem("m", doc, strlen(doc), &p, &e),
		    JIT_ERR_POLICY);
		CHECK_STR(e.field, "roles.r.reason_pattern");
		CHECK_INT(e.line, 7);
	}
	/* Reason patterns: usual ones compile; patterns whose compiled
	 * form explodes (found by fuzzing: regcomp took minutes) do not. */
	{
		static const struct { const char *pat; int ok; } t[] = {
			{ "^[A-Z]+-[0-9]+", 1 },
			{ "^(INC|CHG)-[0-9]{1,8}( .*)?$", 1 },
			{ "^[][:alpha:]]+ [^]x]*$", 1 },
			{ "^a\\+b\\{2\\}$", 1 },
			{ "^[A-Z]{2,10}-[0-9]{1,6}: .{10,200}$", 1 },
			{ "a+++++++++++++++++++", 0 },
			{ "[A-Z]****+-[0-9]+", 0 },
			{ "a*?", 0 },
			{ "(((((((((((((a+)+)+)+)+)+)+)+)+)+)+)+)+)+", 0 },
			{ "((a{100}){100})", 0 },
			{ "(x{2}){2}(y{3}){3}", 1 },
			{ "(a*)\\1", 0 },
			{ "((((((((((((((((((a))))))))))))))))))", 0 },
			{ "([A-Z]", 0 },
		};
		for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
			char doc[512];
			int n = snprintf(doc, sizeof(doc),
			    "users: {a: {}}\nroles:\n  r:\n"
			    "    principals: [p]\n    requesters: [a]\n"
			    "    approvals: 0\n    reason_pattern: '%s'\n",
			    t[i].pat);
			int r = jit_policy_load_mem("m", doc, (size_t)n, &p,
			    &e);
			if (t[i].ok) {
				CHECK_OK(r);
				if (r != 0)
					fprintf(stderr, "  pattern %s: %s\n",
					    t[i].pat, e.message);
				jit_policy_free(p);
			} else {
				CHECK_INT(r, JIT_ERR_POLICY);
				CHECK_STR(e.field, "roles.r.reason_pattern");
				CHECK_INT(e.line, 7);
			}
		}
	}
	/* Durations above 366d, approvals out of range, bad names. */
	{
		static const struct { const char *line, *field, *msg; } t[] = {
			{ "max_duration: 400d", "roles.r.max_duration",
			    "longer than 366d" },
			{ "approvals: -1", "roles.r.approvals",
			    "whole number" },
			{ "approvals: 257", "roles.r.approvals",
			    "whole number" },
			{ "force_command: ''", "roles.r.force_command",
			    "non-empty" },
			{ "force_command: [ls]", "roles.r.force_command",
			    "expected a command" },
			{ "source_address: []", "roles.r.source_address",
			    "empty list" },
			{ "key_types: []", "roles.r.key_types",
			    "at least one" },
			{ "reason: maybe", "roles.r.reason",
			    "required or optional" },
			{ "extensions: [verify-required]",
			    "roles.r.extensions", "unknown extension" },
			{ "require_groups: [g, g]", "roles.r.require_groups",
			    "listed twice" },
			{ "key_types: [rsa, rsa]", "roles.r.key_types",
			    "listed twice" },
			{ "description: [x]", "roles.r.description",
			    "expected text" },
			{ "require_groups: [group:g]",
			    "roles.r.require_groups", "bare group name" },
		};
		for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
			char doc[512];
			int n = snprintf(doc, sizeof(doc),
			    "users: {a: {groups: [g]}}\nroles:\n  r:\n"
			    "    principals: [p]\n    requesters: [group:g]\n"
			    "    approvers: [a]\n    %s\n", t[i].line);
			CHECK_INT(jit_policy_load_mem("m", doc, (size_t)n, &p,
			    &e), JIT_ERR_POLICY);
			CHECK_STR(e.field, t[i].field);
			CHECK_CONTAINS(e.message, t[i].msg);
		}
	}
	/* Principals that could confuse sshd or a shell. */
	{
		static const char *const t[] = { "[a, -rf]", "[a, 'b,c']",
		    "['a b']", "[.hidden]", "[\"x\\0y\"]",
		    ("[aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		    "aaaaa]"), "[~]", "[[a]]" };
		for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
			char doc[512];
			int n = snprintf(doc, sizeof(doc),
			    "users: {a: {groups: [g]}}\nroles:\n  r:\n"
			    "    principals: %s\n    requesters: [a]\n"
			    "    approvals: 0\n", t[i]);
			CHECK_INT(jit_policy_load_mem("m", doc, (size_t)n, &p,
			    &e), JIT_ERR_POLICY);
			CHECK_STR(e.field, "roles.r.principals");
			CHECK_INT(e.line, 4);
		}
	}
	/* Good variants: IPv6 CIDR, vendor extension, null user, force
	 * command, durations in seconds. */
	{
		const char *doc = "users:\n  a:\n  b@example.com: {groups: [g]}\n"
		    "roles:\n  r:\n    principals: [p]\n"
		    "    requesters: [a]\n    approvers: [group:g]\n"
		    "    source_address: [2001:db8::/32, 192.0.2.7]\n"
		    "    extensions: [permit-pty, login@example.com]\n"
		    "    force_command: /usr/bin/psql -X\n"
		    "    max_duration: 7200\n    default_duration: 30m\n"
		    "    self_approval: true\n";
		const struct jit_policy_role *r;
		REQUIRE_OK(jit_policy_load_mem("m", doc, strlen(doc), &p, &e));
		r = jit_policy_role(p, "r");
		REQUIRE(r != NULL);
		CHECK_STR(r->source_address, "2001:db8::/32,192.0.2.7");
		CHECK_STR(r->extensions[1], "login@example.com");
		CHECK_STR(r->force_command, "/usr/bin/psql -X");
		CHECK_U64(r->max_duration, 7200);
		CHECK_U64(r->default_duration, 1800);
		CHECK_INT(r->self_approval, 1);
		CHECK(jit_policy_user_groups(p, "a", NULL) == NULL);
		jit_policy_free(p);
	}
}

static void
write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	REQUIRE(f != NULL);
	fputs(text, f);
	REQUIRE(fclose(f) == 0);
}

/* A directory: hash over NAME NUL LEN NUL BYTES in name order, a
 * subdirectory named *.yaml skipped, a dangling *.yaml symlink refused. */
static void
test_directory(void)
{
	const char *a = "users: {a: {groups: [g]}}\n";
	const char *b = "roles:\n  r: {principals: [p], requesters: [a], "
	    "approvals: 0}\n";
	char dir[] = "/tmp/test-policy-XXXXXX", path[256], hex[65];
	unsigned char dg[32];
	unsigned dlen = 0;
	struct jit_policy *p = NULL;
	struct jit_policy_error e;
	EVP_MD_CTX *md;
	char lens[16];

	REQUIRE(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/b.yml", dir);
	write_text(path, b);
	snprintf(path, sizeof(path), "%s/a.yaml", dir);
	write_text(path, a);
	snprintf(path, sizeof(path), "%s/sub.yaml", dir);
	REQUIRE(mkdir(path, 0700) == 0);
	REQUIRE_OK(jit_policy_load(dir, &p, &e));
	CHECK_INT(jit_policy_file_count(p), 2);
	REQUIRE((md = EVP_MD_CTX_new()) != NULL);
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	EVP_DigestUpdate(md, "a.yaml", 7);
	snprintf(lens, sizeof(lens), "%zu", strlen(a));
	EVP_DigestUpdate(md, lens, strlen(lens) + 1);
	EVP_DigestUpdate(md, a, strlen(a));
	EVP_DigestUpdate(md, "b.yml", 6);
	snprintf(lens, sizeof(lens), "%zu", strlen(b));
	EVP_DigestUpdate(md, lens, strlen(lens) + 1);
	EVP_DigestUpdate(md, b, strlen(b));
	EVP_DigestFinal_ex(md, dg, &dlen);
	EVP_MD_CTX_free(md);
	for (size_t i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", dg[i]);
	CHECK_STR(jit_policy_hash(p), hex);
	jit_policy_free(p);

	snprintf(path, sizeof(path), "%s/c.yaml", dir);
	REQUIRE(symlink("missing.yaml", path) == 0);
	CHECK_INT(jit_policy_load(dir, &p, &e), JIT_ERR_NOT_FOUND);
	CHECK(p == NULL);
	CHECK_STR(e.file, path);
	unlink(path);
	snprintf(path, sizeof(path), "%s/sub.yaml", dir);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/a.yaml", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/b.yml", dir);
	unlink(path);
	rmdir(dir);
}

static void
test_decisions(void)
{
	struct jit_policy *p = NULL;
	struct jit_policy_error e;
	uint64_t eff = 99;

	REQUIRE_OK(jit_policy_load(EXAMPLES, &p, &e));

	/* Who may request. */
	CHECK_OK(jit_policy_can_request(p, "alice", "staging", msg,
	    sizeof(msg)));
	CHECK_STR(msg, "");
	CHECK_OK(jit_policy_can_request(p, "bob", "prod-db", msg,
	    sizeof(msg)));
	CHECK_INT(jit_policy_can_request(p, "carol", "staging", msg,
	    sizeof(msg)), JIT_ERR_FORBIDDEN);
	CHECK_STR(msg, "user carol may not request role staging");
	CHECK_OK(jit_policy_can_request(p, "carol", "readonly", msg,
	    sizeof(msg)));
	CHECK_INT(jit_policy_can_request(p, "erin", "readonly", msg,
	    sizeof(msg)), JIT_ERR_FORBIDDEN);
	CHECK_INT(jit_policy_can_request(p, "mallory", "readonly", msg,
	    sizeof(msg)), JIT_ERR_FORBIDDEN);
	CHECK_CONTAINS(msg, "not in the policy");
	CHECK_INT(jit_policy_can_request(p, "alice", "root", msg,
	    sizeof(msg)), JIT_ERR_POLICY_ROLE);
	CHECK_STR(msg, "role root is not in the policy");
	CHECK_INT(jit_policy_can_request(p, NULL, "staging", msg,
	    sizeof(msg)), JIT_ERR_INVALID_ARGUMENT);
	CHECK_INT(jit_policy_can_request(NULL, "alice", "staging", NULL, 0),
	    JIT_ERR_INVALID_ARGUMENT);
	CHECK(jit_policy_is_requester(p, "alice", "prod-db"));
	CHECK(!jit_policy_is_requester(p, "dave", "prod-db"));

	/* Who may approve: eligibility, self-approval, another role. */
	CHECK_OK(jit_policy_can_approve(p, "bob", "alice", "staging", msg,
	    sizeof(msg)));
	CHECK_INT(jit_policy_can_approve(p, "alice", "alice", "staging", msg,
	    sizeof(msg)), JIT_ERR_FORBIDDEN);
	CHECK_CONTAINS(msg, "own request");
	CHECK(jit_policy_is_approver(p, "alice", "staging"));
	CHECK_INT(jit_policy_can_approve(p, "carol", "alice", "staging", msg,
	    sizeof(msg)), JIT_ERR_FORBIDDEN);
	CHECK_STR(msg, "user carol is not an approver for role staging");
	/* alice requests prod-db but cannot approve it. */
	CHECK(!jit_policy_is_approver(p, "alice", "prod-db"));
	CHECK_INT(jit_policy_can_approve(p, "alice", "bob", "prod-db", msg,
	    sizeof(msg)), JIT_ERR_FORBIDDEN);
	CHECK_OK(jit_policy_can_approve(p, "carol", "alice", "prod-db", msg,
	    sizeof(msg)));
	CHECK_OK(jit_policy_can_approve(p, "bob", "alice", "prod-db", msg,
	    sizeof(msg)));
	CHECK_INT(jit_policy_can_approve(p, "bob", "bob", "prod-db", msg,
	    sizeof(msg)), JIT_ERR_FORBIDDEN);
	CHECK_INT(jit_policy_can_approve(p, "mallory", "bob", "prod-db", msg,
	    sizeof(msg)), JIT_ERR_FORBIDDEN);
	CHECK_INT(jit_policy_can_approve(p, "dave", "bob", "nope", msg,
	    sizeof(msg)), JIT_ERR_POLICY_ROLE);
	CHECK_INT(jit_policy_can_approve(p, "dave", NULL, "prod-db", msg,
	    sizeof(msg)), JIT_ERR_INVALID_ARGUMENT);
	CHECK(!jit_policy_is_approver(p, "dave", "nope"));
	CHECK(!jit_policy_is_approver(p, NULL, "prod-db"));

	/* Admins and auditors. */
	CHECK(jit_policy_is_admin(p, "dave"));
	CHECK(!jit_policy_is_admin(p, "alice"));
	CHECK(!jit_policy_is_admin(p, "mallory"));
	CHECK(!jit_policy_is_admin(p, NULL));
	CHECK(jit_policy_is_auditor(p, "erin"));
	CHECK(jit_policy_is_auditor(p, "carol"));
	CHECK(!jit_policy_is_auditor(p, "bob"));
	CHECK(!jit_policy_is_auditor(p, "mallory"));

	/* Durations. */
	CHECK_OK(jit_policy_check_request(p, "prod-db", 0, "INC-4211 disk",
	    JIT_KEY_ED25519, &eff, msg, sizeof(msg)));
	CHECK_U64(eff, 3600);
	CHECK_OK(jit_policy_check_request(p, "prod-db", 4 * 3600, "INC-1",
	    JIT_KEY_ED25519, &eff, msg, sizeof(msg)));
	CHECK_U64(eff, 4 * 3600);
	CHECK_INT(jit_policy_check_request(p, "prod-db", 8 * 3600, "INC-1",
	    JIT_KEY_ED25519, &eff, msg, sizeof(msg)),
	    JIT_ERR_POLICY_DURATION);
	CHECK_U64(eff, 0);
	CHECK_STR(msg, "duration 8h exceeds the maximum of 4h for role "
	    "prod-db");
	CHECK_INT(jit_policy_check_request(p, "prod-db", 4 * 3600 + 1,
	    "INC-1", JIT_KEY_ED25519, NULL, msg, sizeof(msg)),
	    JIT_ERR_POLICY_DURATION);
	CHECK_OK(jit_policy_check_request(p, "staging", 0, NULL,
	    JIT_KEY_ECDSA_P384, &eff, msg, sizeof(msg)));
	CHECK_U64(eff, 2 * 3600);

	/* Reasons. */
	CHECK_INT(jit_policy_check_request(p, "prod-db", 0, NULL,
	    JIT_KEY_ED25519, &eff, msg, sizeof(msg)), JIT_ERR_POLICY_REASON);
	CHECK_STR(msg, "role prod-db requires a reason matching "
	    "^[A-Z]+-[0-9]+");
	CHECK_INT(jit_policy_check_request(p, "prod-db", 0, "",
	    JIT_KEY_ED25519, &eff, msg, sizeof(msg)), JIT_ERR_POLICY_REASON);
	CHECK_INT(jit_policy_check_request(p, "prod-db", 0, "fixing stuff",
	    JIT_KEY_ED25519, &eff, msg, sizeof(msg)), JIT_ERR_POLICY_REASON);
	CHECK_STR(msg, "reason does not match the pattern ^[A-Z]+-[0-9]+ "
	    "required by role prod-db");
	CHECK_INT(jit_policy_check_request(p, "prod-db", 0, "see INC-1",
	    JIT_KEY_ED25519, &eff, msg, sizeof(msg)), JIT_ERR_POLICY_REASON);
	CHECK_INT(jit_policy_check_request(p, "prod-db", 0, "INC-1\nx",
	    JIT_KEY_ED25519, &eff, msg, sizeof(msg)), JIT_ERR_POLICY_REASON);
	CHECK_CONTAINS(msg, "control characters");
	{
		char big[JIT_POLICY_MAX_REASON + 2];
		memset(big, 'A', sizeof(big) - 1);
		big[0] = 'X';
		memcpy(big, "INC-1 ", 6);
		big[sizeof(big) - 1] = '\0';
		CHECK_INT(jit_policy_check_request(p, "prod-db", 0, big,
		    JIT_KEY_ED25519, &eff, msg, sizeof(msg)),
		    JIT_ERR_POLICY_REASON);
		big[JIT_POLICY_MAX_REASON] = '\0';
		CHECK_OK(jit_policy_check_request(p, "prod-db", 0, big,
		    JIT_KEY_ED25519, &eff, msg, sizeof(msg)));
	}
	/* Optional reason: anything printable goes, none is fine. */
	CHECK_OK(jit_policy_check_request(p, "readonly", 0, "looking around",
	    JIT_KEY_RSA, &eff, msg, sizeof(msg)));
	CHECK_U64(eff, 8 * 3600);

	/* Key types. */
	CHECK_INT(jit_policy_check_request(p, "prod-db", 0, "INC-1",
	    JIT_KEY_ECDSA_P256, &eff, msg, sizeof(msg)),
	    JIT_ERR_POLICY_KEY_TYPE);
	CHECK_STR(msg, "key type ecdsa is not allowed for role prod-db "
	    "(allowed: ed25519)");
	CHECK_INT(jit_policy_check_request(p, "staging", 0, NULL,
	    JIT_KEY_RSA, &eff, msg, sizeof(msg)), JIT_ERR_POLICY_KEY_TYPE);
	CHECK_STR(msg, "key type rsa is not allowed for role staging "
	    "(allowed: ed25519, ecdsa)");
	CHECK_INT(jit_policy_check_request(p, "readonly", 0, NULL,
	    JIT_KEY_UNKNOWN, &eff, msg, sizeof(msg)),
	    JIT_ERR_POLICY_KEY_TYPE);
	CHECK_OK(jit_policy_check_request(p, "readonly", 0, NULL,
	    JIT_KEY_ECDSA_P521, &eff, msg, sizeof(msg)));
	CHECK_INT(jit_policy_check_request(p, "nope", 0, NULL,
	    JIT_KEY_ED25519, &eff, msg, sizeof(msg)), JIT_ERR_POLICY_ROLE);
	CHECK_INT(jit_policy_key_type_bit(JIT_KEY_ECDSA_P384),
	    JIT_POLICY_KEY_ECDSA);
	CHECK_INT(jit_policy_key_type_bit(JIT_KEY_UNKNOWN), 0);

	/* The approval rule. */
	{
		const char *none[] = { NULL };
		const char *bob[] = { "bob" };
		const char *bob_dave[] = { "bob", "dave" };
		const char *bob_carol[] = { "bob", "carol" };
		const char *carol_carol[] = { "carol", "carol" };
		const char *bob_bob_carol[] = { "bob", "bob", "carol" };
		const char *alice_carol[] = { "alice", "carol" };
		const char *mallory_carol[] = { "mallory", "carol" };
		const char *null_carol_dave[] = { NULL, "carol", "dave" };

		CHECK_INT(jit_policy_approval_status(p, "prod-db", "alice",
		    none, 0, msg, sizeof(msg)), 0);
		CHECK_STR(msg, "0 of 2 approvals; still needs one from group "
		    "security");
		CHECK_INT(jit_policy_approval_satisfied(p, "prod-db", "alice",
		    bob, 1), 0);
		/* Two distinct, but none from security. */
		CHECK_INT(jit_policy_approval_status(p, "prod-db", "alice",
		    bob_dave, 2, msg, sizeof(msg)), 0);
		CHECK_STR(msg, "2 of 2 approvals; still needs one from group "
		    "security");
		CHECK_INT(jit_policy_approval_status(p, "prod-db", "alice",
		    bob_carol, 2, msg, sizeof(msg)), 1);
		CHECK_STR(msg, "2 of 2 approvals");
		/* The same person twice counts once. */
		CHECK_INT(jit_policy_approval_status(p, "prod-db", "alice",
		    carol_carol, 2, msg, sizeof(msg)), 0);
		CHECK_STR(msg, "1 of 2 approvals");
		CHECK_INT(jit_policy_approval_satisfied(p, "prod-db", "alice",
		    bob_bob_carol, 3), 1);
		/* alice is no approver of prod-db; mallory is nobody. */
		CHECK_INT(jit_policy_approval_satisfied(p, "prod-db", "bob",
		    alice_carol, 2), 0);
		CHECK_INT(jit_policy_approval_satisfied(p, "prod-db", "alice",
		    mallory_carol, 2), 0);
		/* bob requesting: his own approval never counts. */
		CHECK_INT(jit_policy_approval_status(p, "prod-db", "bob",
		    bob_carol, 2, msg, sizeof(msg)), 0);
		CHECK_STR(msg, "1 of 2 approvals");
		CHECK_INT(jit_policy_approval_satisfied(p, "prod-db", "bob",
		    null_carol_dave, 3), 1);
		/* Peer review. */
		CHECK_INT(jit_policy_approval_satisfied(p, "staging", "alice",
		    bob, 1), 1);
		CHECK_INT(jit_policy_approval_satisfied(p, "staging", "bob",
		    bob, 1), 0);
		CHECK_INT(jit_policy_approval_satisfied(p, "staging", "alice",
		    alice_carol, 2), 0);
		/* Auto-approve. */
		CHECK_INT(jit_policy_approval_status(p, "readonly", "alice",
		    none, 0, msg, sizeof(msg)), 1);
		CHECK_STR(msg, "auto-approved");
		/* Errors. */
		CHECK_INT(jit_policy_approval_satisfied(p, "nope", "alice",
		    bob, 1), JIT_ERR_POLICY_ROLE);
		CHECK_INT(jit_policy_approval_satisfied(p, "prod-db", NULL,
		    bob, 1), JIT_ERR_INVALID_ARGUMENT);
		CHECK_INT(jit_policy_approval_satisfied(p, "prod-db", "alice",
		    NULL, 1), JIT_ERR_INVALID_ARGUMENT);
	}
	jit_policy_free(p);

	/* Self-approval on: the requester's approval counts. */
	{
		const char *doc = "users:\n  a: {groups: [ops]}\n"
		    "  b: {groups: [ops]}\nroles:\n  r:\n"
		    "    principals: [p]\n    requesters: [group:ops]\n"
		    "    approvers: [group:ops]\n    self_approval: true\n";
		const char *a[] = { "a" };
		REQUIRE_OK(jit_policy_load_mem("m", doc, strlen(doc), &p, &e));
		CHECK_OK(jit_policy_can_approve(p, "a", "a", "r", msg,
		    sizeof(msg)));
		CHECK_INT(jit_policy_approval_satisfied(p, "r", "a", a, 1), 1);
		jit_policy_free(p);
	}
}


/* A policy with one role r and the extra role lines given, which
 * replace the defaults principals [p], requesters [a] and approvals 0
 * when they set those keys; NULL (with e filled) if it does not load.
 * The extra lines start at line 7. */
static struct jit_policy *
role_policy(const char *extra, struct jit_policy_error *e)
{
	struct jit_policy *p = NULL;
	char doc[1024];
	int n = snprintf(doc, sizeof(doc), "users: {a: {groups: [g]}, "
	    "b: {groups: [g]}}\nroles:\n  r:\n%s%s%s%s",
	    strstr(extra, "principals:") ? "    description: x\n" :
	    "    principals: [p]\n",
	    strstr(extra, "requesters:") ? "    description: x\n" :
	    "    requesters: [a]\n",
	    strstr(extra, "approvals:") ? "    pending_timeout: 24h\n" :
	    "    approvals: 0\n", extra);

	REQUIRE(n > 0 && (size_t)n < sizeof(doc));
	if (jit_policy_load_mem("m.yaml", doc, (size_t)n, &p, e) != 0)
		return NULL;
	return p;
}

/* Reason patterns are PCRE2: \d is a digit, errors name file and line,
 * and a pattern that backtracks catastrophically is stopped. */
static void
test_pcre(void)
{
	struct jit_policy *p;
	struct jit_policy_error e;
	char reason[JIT_POLICY_MAX_REASON + 1];
	uint64_t t0, eff;
	int r;

	p = role_policy("    reason: required\n"
	    "    reason_pattern: '^INC-\\d+'\n", &e);
	REQUIRE(p != NULL);
	CHECK(jit_policy_role(p, "r")->reason_regex != NULL);
	CHECK_OK(jit_policy_check_request(p, "r", 0, "INC-42", JIT_KEY_ED25519,
	    &eff, msg, sizeof(msg)));
	CHECK_OK(jit_policy_check_request(p, "r", 0, "INC-7 disk full",
	    JIT_KEY_ED25519, &eff, msg, sizeof(msg)));
	/* POSIX ERE took \d as a literal d: not any more. */
	CHECK_INT(jit_policy_check_request(p, "r", 0, "INC-ddd",
	    JIT_KEY_ED25519, &eff, msg, sizeof(msg)), JIT_ERR_POLICY_REASON);
	CHECK_STR(msg, "reason does not match the pattern ^INC-\\d+ required "
	    "by role r");
	CHECK_INT(jit_policy_check_request(p, "r", 0, "INC-", JIT_KEY_ED25519,
	    &eff, msg, sizeof(msg)), JIT_ERR_POLICY_REASON);
	/* UTF-8 mode: a character is not a byte; broken UTF-8 is refused. */
	jit_policy_free(p);
	p = role_policy("    reason_pattern: '^\\w{2} .{3}$'\n", &e);
	REQUIRE(p != NULL);
	CHECK_OK(jit_policy_check_request(p, "r", 0, "ab \xc3\xa4\xc3\xb6"
	    "\xc3\xbc", JIT_KEY_ED25519, &eff, msg, sizeof(msg)));
	CHECK_INT(jit_policy_check_request(p, "r", 0, "ab \xc3\xa4\xc3",
	    JIT_KEY_ED25519, &eff, msg, sizeof(msg)), JIT_ERR_POLICY_REASON);
	CHECK_CONTAINS(msg, "not valid UTF-8");
	jit_policy_free(p);

	/* A pattern PCRE2 cannot compile: file, line and field. */
	CHECK(role_policy("    max_duration: 2h\n"
	    "    reason_pattern: '^INC-\\d{3,1}'\n", &e) == NULL);
	CHECK_STR(e.file, "m.yaml");
	CHECK_INT(e.line, 8);
	CHECK_STR(e.field, "roles.r.reason_pattern");
	CHECK_CONTAINS(e.message, "invalid regular expression");
	CHECK_CONTAINS(e.message, "offset");
	/* Back-references in any spelling are refused. */
	{
		static const char *const backrefs[] = { "(a)\\\\1",
		    "(a)\\\\g1", "(?<n>a)\\\\k<n>", "(?<n>a)(?P=n)" };
		for (size_t i = 0; i < sizeof(backrefs) / sizeof(*backrefs);
		    i++) {
			char line[128];
			snprintf(line, sizeof(line),
			    "    reason_pattern: \"%s\"\n", backrefs[i]);
			CHECK(role_policy(line, &e) == NULL);
			CHECK_STR(e.field, "roles.r.reason_pattern");
			CHECK_CONTAINS(e.message, "back-references");
		}
	}

	/* Catastrophic backtracking is bounded: refused with a message,
	 * long before it could finish (2^500 steps). */
	p = role_policy("    reason_pattern: '(a+)+$'\n", &e);
	REQUIRE(p != NULL);
	memset(reason, 'a', sizeof(reason) - 2);
	reason[sizeof(reason) - 2] = 'b';
	reason[sizeof(reason) - 1] = '\0';
	t0 = jit_monotonic_ms();
	r = jit_policy_check_request(p, "r", 0, reason, JIT_KEY_ED25519, &eff,
	    msg, sizeof(msg));
	CHECK_INT(r, JIT_ERR_POLICY_REASON);
	CHECK_CONTAINS(msg, "hit its limit");
	CHECK_U64(eff, 0);
	CHECK(jit_monotonic_ms() - t0 < 5000);
	/* The same pattern still answers ordinary reasons. */
	CHECK_OK(jit_policy_check_request(p, "r", 0, "aaaa", JIT_KEY_ED25519,
	    &eff, msg, sizeof(msg)));
	CHECK_INT(jit_policy_check_request(p, "r", 0, "ab", JIT_KEY_ED25519,
	    &eff, msg, sizeof(msg)), JIT_ERR_POLICY_REASON);
	CHECK_CONTAINS(msg, "does not match");
	jit_policy_free(p);
}

static void
test_start_ahead(void)
{
	static const struct { const char *line, *msg; unsigned at; } bad[] = {
		{ "max_start_ahead: 367d", "longer than 366d", 7 },
		{ "max_start_ahead: soon", "or 0 for none", 7 },
		{ "max_start_ahead: 0s", "invalid duration", 7 },
		{ "max_start_ahead: -1h", "invalid duration", 7 },
		{ "max_start_ahead: [1d]", "expected a duration", 7 },
		{ "max_start_ahead: 1d\n    max_start_ahead: 2d",
		    "duplicate key 'max_start_ahead'", 8 },
	};
	struct jit_policy *p;
	struct jit_policy_error e;

	REQUIRE((p = role_policy("", &e)) != NULL);
	CHECK_U64(jit_policy_role(p, "r")->max_start_ahead, 0);
	jit_policy_free(p);
	REQUIRE((p = role_policy("    max_start_ahead: 0\n", &e)) != NULL);
	CHECK_U64(jit_policy_role(p, "r")->max_start_ahead, 0);
	jit_policy_free(p);
	REQUIRE((p = role_policy("    max_start_ahead: 2d12h\n", &e)) != NULL);
	CHECK_U64(jit_policy_role(p, "r")->max_start_ahead, 60 * 3600);
	jit_policy_free(p);
	REQUIRE((p = role_policy("    max_start_ahead: 366d\n", &e)) != NULL);
	CHECK_U64(jit_policy_role(p, "r")->max_start_ahead,
	    JIT_POLICY_MAX_DURATION);
	jit_policy_free(p);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char line[128];
		snprintf(line, sizeof(line), "    %s\n", bad[i].line);
		CHECK(role_policy(line, &e) == NULL);
		CHECK_STR(e.field, "roles.r.max_start_ahead");
		CHECK_INT(e.line, bad[i].at);
		CHECK_CONTAINS(e.message, bad[i].msg);
	}
	/* A typo gets a hint. */
	CHECK(role_policy("    max_start_ahaed: 1d\n", &e) == NULL);
	CHECK_CONTAINS(e.message, "did you mean 'max_start_ahead'");
}

/* max_pending: a whole number 1..100000, absent = 0 (no cap of the
 * role's own); errors name the file's line. */
static void
test_max_pending(void)
{
	static const struct { const char *line, *msg; unsigned at; } bad[] = {
		{ "max_pending: 0", "from 1 to 100000, found '0'", 7 },
		{ "max_pending: 100001", "from 1 to 100000", 7 },
		{ "max_pending: 99999999999", "from 1 to 100000", 7 },
		{ "max_pending: -2", "whole number", 7 },
		{ "max_pending: 2x", "whole number", 7 },
		{ "max_pending: [3]", "expected a number", 7 },
		{ "max_pending: 3\n    max_pending: 4",
		    "duplicate key 'max_pending'", 8 },
	};
	struct jit_policy *p;
	struct jit_policy_error e;

	REQUIRE((p = role_policy("", &e)) != NULL);
	CHECK_INT(jit_policy_role(p, "r")->max_pending, 0);
	jit_policy_free(p);
	REQUIRE((p = role_policy("    max_pending: 1\n", &e)) != NULL);
	CHECK_INT(jit_policy_role(p, "r")->max_pending, 1);
	jit_policy_free(p);
	REQUIRE((p = role_policy("    max_pending: 100000\n", &e)) != NULL);
	CHECK_INT(jit_policy_role(p, "r")->max_pending, 100000);
	jit_policy_free(p);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char line[128];
		snprintf(line, sizeof(line), "    %s\n", bad[i].line);
		CHECK(role_policy(line, &e) == NULL);
		CHECK_STR(e.field, "roles.r.max_pending");
		CHECK_INT(e.line, bad[i].at);
		CHECK_CONTAINS(e.message, bad[i].msg);
	}
	CHECK(role_policy("    max_pendng: 3\n", &e) == NULL);
	CHECK_CONTAINS(e.message, "did you mean 'max_pending'");
}

/* The role digest over the documented serialisation. */
static void
hex_sha256(const char *text, char out[65])
{
	unsigned char dg[32];
	unsigned dlen = 0;
	EVP_MD_CTX *md = EVP_MD_CTX_new();

	REQUIRE(md != NULL);
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	EVP_DigestUpdate(md, text, strlen(text));
	EVP_DigestFinal_ex(md, dg, &dlen);
	EVP_MD_CTX_free(md);
	for (size_t i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", dg[i]);
}

static void
digest_of(const char *extra, char out[65])
{
	struct jit_policy_error e;
	struct jit_policy *p = role_policy(extra, &e);

	out[0] = '\0';
	if (p == NULL) {
		fprintf(stderr, "policy with \"%s\" refused: %s\n", extra,
		    e.message);
		test_failures++;
		return;
	}
	snprintf(out, 65, "%s", jit_policy_role_digest(jit_policy_role(p,
	    "r")));
	jit_policy_free(p);
}

static void
test_digest(void)
{
	/* Each line changes one term; each must change the digest. */
	static const char *const terms[] = {
		"    principals: [p, q]\n",
		"    extensions: [permit-pty, permit-agent-forwarding]\n",
		"    extensions: []\n",
		"    force_command: /bin/true\n",
		"    source_address: [10.0.0.0/8]\n",
		"    approvals: 1\n    approvers: [b]\n",
		"    approvals: 1\n    approvers: [group:g]\n",
		"    approvals: 1\n    approvers: [b]\n"
		    "    require_groups: [g]\n",
		"    requesters: [a, b]\n",
		"    max_duration: 2h\n",
		"    key_types: [ed25519]\n",
		"    reason: required\n",
		"    reason_pattern: '^INC-\\d+'\n",
		"    approvals: 1\n    approvers: [group:g]\n"
		    "    self_approval: true\n",
		"    max_start_ahead: 1d\n",
		"    require_mfa: true\n",
	};
	/* These are not terms: the digest stays the same. */
	static const char *const not_terms[] = {
		"    description: the same grant\n",
		"    pending_timeout: 1h\n",
		"    default_duration: 30m\n",
		"    extensions: [permit-pty]\n",
		"    key_types: [rsa, ed25519, ecdsa]\n",
		"    max_start_ahead: 0\n",
		"    max_pending: 3\n",
		"    require_mfa: false\n",
	};
	const size_t nt = sizeof(terms) / sizeof(terms[0]);
	char base[65], d[65], seen[sizeof(terms) / sizeof(terms[0])][65];
	char want[65];
	struct jit_policy *p, *q;
	struct jit_policy_error e;

	digest_of("", base);
	CHECK_INT(strlen(base), 64);
	CHECK_INT(strspn(base, "0123456789abcdef"), 64);
	/* The serialisation policy.h documents, by hand. */
	hex_sha256("jit-ssh role terms 1\n"
	    "principals: 1 1:p\n"
	    "extensions: 1 10:permit-pty\n"
	    "force_command: -\n"
	    "source_address: 0\n"
	    "approvals: 0\n"
	    "require_groups: 0\n"
	    "approvers: 0\n"
	    "requesters: 1 1:a\n"
	    "max_duration: 3600\n"
	    "key_types: 3 5:ecdsa 7:ed25519 3:rsa\n"
	    "reason: 8:optional\n"
	    "reason_pattern: -\n"
	    "self_approval: 0\n"
	    "max_start_ahead: 0\n", want);
	CHECK_STR(base, want);
	for (size_t i = 0; i < nt; i++) {
		digest_of(terms[i], seen[i]);
		test_checks++;
		if (strcmp(seen[i], base) == 0) {
			fprintf(stderr, "digest unchanged by %s", terms[i]);
			test_failures++;
		}
		for (size_t j = 0; j < i; j++) {
			test_checks++;
			if (strcmp(seen[i], seen[j]) == 0) {
				fprintf(stderr, "same digest for %s and %s",
				    terms[i], terms[j]);
				test_failures++;
			}
		}
	}
	for (size_t i = 0; i < sizeof(not_terms) / sizeof(not_terms[0]);
	    i++) {
		digest_of(not_terms[i], d);
		CHECK_STR(d, base);
	}
	/* Lists are sets: their order does not matter. */
	digest_of("    principals: [q, p]\n", d);
	CHECK_STR(d, seen[0]);
	/* Stable across reloads, and per role: the same terms under two
	 * names digest alike. */
	REQUIRE_OK(jit_policy_load(EXAMPLES, &p, &e));
	REQUIRE_OK(jit_policy_load(EXAMPLES, &q, &e));
	for (size_t i = 0; i < jit_policy_role_count(p); i++) {
		const char *a = jit_policy_role_digest(jit_policy_role_at(p, i));
		CHECK_INT(strlen(a), 64);
		CHECK_STR(a, jit_policy_role_digest(jit_policy_role_at(q, i)));
		if (i > 0)
			CHECK(strcmp(a, jit_policy_role_digest(
			    jit_policy_role_at(p, i - 1))) != 0);
	}
	jit_policy_free(q);
	jit_policy_free(p);
	CHECK_STR(jit_policy_role_digest(NULL), "");
	{
		const char *doc = "users: {a: {}}\nroles:\n"
		    "  x: {principals: [p], requesters: [a], approvals: 0}\n"
		    "  y: {principals: [p], requesters: [a], approvals: 0,\n"
		    "      description: other}\n";
		REQUIRE_OK(jit_policy_load_mem("m", doc, strlen(doc), &p, &e));
		CHECK_STR(jit_policy_role_digest(jit_policy_role(p, "x")),
		    jit_policy_role_digest(jit_policy_role(p, "y")));
		CHECK_STR(jit_policy_role_digest(jit_policy_role(p, "x")),
		    base);
		jit_policy_free(p);
	}
}

/* A policy document loads; else print why and return NULL. */
static struct jit_policy *
doc_policy(const char *doc, struct jit_policy_error *e)
{
	struct jit_policy *p = NULL;

	if (jit_policy_load_mem("s.yaml", doc, strlen(doc), &p, e) != 0)
		return NULL;
	return p;
}

/* The document is refused at line with field and a message holding
 * want. */
static void
doc_refused(const char *doc, unsigned line, const char *field,
    const char *want, int at)
{
	struct jit_policy_error e;
	struct jit_policy *p = doc_policy(doc, &e);

	test_checks++;
	if (p != NULL || e.line != line || strcmp(e.field, field) != 0 ||
	    strstr(e.message, want) == NULL) {
		fprintf(stderr, "%s:%d: want %u %s \"%s\", got %u %s \"%s\"\n",
		    __FILE__, at, line, field, want, e.line, e.field,
		    e.message);
		test_failures++;
	}
	jit_policy_free(p);
}
#define DOC_REFUSED(doc, line, field, want) \
	doc_refused(doc, line, field, want, __LINE__)

/* require_mfa, and what counts as a second factor. */
static void
test_mfa(void)
{
	static const char *const one[] = { "pwd" }, *const otp[] = { "otp" };
	static const char *const pwd_otp[] = { "pwd", "otp" };
	static const char *const hwk_pin[] = { "hwk", "pin" };
	static const char *const mfa[] = { "mfa" }, *const mca[] = { "mca" };
	static const char *const two_held[] = { "otp", "hwk" };
	static const char *const face_swk[] = { "face", "swk" };
	static const char *const odd[] = { "pwd", "xyz", NULL };
	struct jit_policy *p;
	struct jit_policy_error e;

	CHECK_INT(jit_policy_amr_mfa(NULL, 0), 0);
	CHECK_INT(jit_policy_amr_mfa(one, 1), 0);
	CHECK_INT(jit_policy_amr_mfa(otp, 1), 0);
	CHECK_INT(jit_policy_amr_mfa(two_held, 2), 0);
	CHECK_INT(jit_policy_amr_mfa(odd, 3), 0);
	CHECK_INT(jit_policy_amr_mfa(pwd_otp, 2), 1);
	CHECK_INT(jit_policy_amr_mfa(pwd_otp, 1), 0);
	CHECK_INT(jit_policy_amr_mfa(hwk_pin, 2), 1);
	CHECK_INT(jit_policy_amr_mfa(face_swk, 2), 1);
	CHECK_INT(jit_policy_amr_mfa(mfa, 1), 1);
	CHECK_INT(jit_policy_amr_mfa(mca, 1), 1);

	REQUIRE((p = role_policy("", &e)) != NULL);
	CHECK_INT(jit_policy_role(p, "r")->require_mfa, 0);
	CHECK_OK(jit_policy_check_mfa(p, "r", NULL, 0, msg, sizeof(msg)));
	CHECK_STR(msg, "");
	jit_policy_free(p);
	REQUIRE((p = role_policy("    require_mfa: true\n", &e)) != NULL);
	CHECK_INT(jit_policy_role(p, "r")->require_mfa, 1);
	CHECK_INT(jit_policy_check_mfa(p, "r", NULL, 0, msg, sizeof(msg)),
	    JIT_ERR_FORBIDDEN);
	CHECK_STR(msg, "role r requires multi-factor authentication: sign "
	    "in through single sign-on with a second factor (this sign-in "
	    "shows no authentication methods)");
	CHECK_INT(jit_policy_check_mfa(p, "r", one, 1, msg, sizeof(msg)),
	    JIT_ERR_FORBIDDEN);
	CHECK_CONTAINS(msg, "(this sign-in shows no second factor)");
	CHECK_OK(jit_policy_check_mfa(p, "r", pwd_otp, 2, msg, sizeof(msg)));
	CHECK_INT(jit_policy_check_mfa(p, "nope", pwd_otp, 2, msg,
	    sizeof(msg)), JIT_ERR_POLICY_ROLE);
	jit_policy_free(p);
	REQUIRE((p = role_policy("    require_mfa: false\n", &e)) != NULL);
	CHECK_OK(jit_policy_check_mfa(p, "r", NULL, 0, msg, sizeof(msg)));
	jit_policy_free(p);
	CHECK(role_policy("    require_mfa: yes\n", &e) == NULL);
	CHECK_INT(e.line, 7);
	CHECK_STR(e.field, "roles.r.require_mfa");
	CHECK_STR(e.message, "expected true or false, found 'yes'");
	CHECK(role_policy("    require_mfa: [true]\n", &e) == NULL);
	CHECK_STR(e.field, "roles.r.require_mfa");
	CHECK(role_policy("    require_mfa: true\n    require_mfa: true\n",
	    &e) == NULL);
	CHECK_INT(e.line, 8);
	CHECK_CONTAINS(e.message, "duplicate key 'require_mfa'");
	CHECK(role_policy("    require_mf: true\n", &e) == NULL);
	CHECK_CONTAINS(e.message, "did you mean 'require_mfa'");
}

/* tokens: automation_only and token_users. */
static void
test_tokens(void)
{
	const char *users = "users:\n  alice: {groups: [dev]}\n"
	    "  ci: {groups: [bots]}\n  deploy: {}\n";
	char doc[512], dir[] = "/tmp/test-policy-XXXXXX", path[256];
	struct jit_policy *p;
	struct jit_policy_error e;

	snprintf(doc, sizeof(doc), "%s", users);
	REQUIRE((p = doc_policy(doc, &e)) != NULL);
	CHECK_INT(jit_policy_tokens_automation_only(p), 0);
	CHECK_INT(jit_policy_may_hold_token(p, "alice"), 1);
	CHECK_INT(jit_policy_may_hold_token(p, "nobody"), 0);
	jit_policy_free(p);
	snprintf(doc, sizeof(doc), "%stokens: any\n", users);
	REQUIRE((p = doc_policy(doc, &e)) != NULL);
	CHECK_INT(jit_policy_may_hold_token(p, "alice"), 1);
	jit_policy_free(p);
	snprintf(doc, sizeof(doc), "%stokens: automation_only\n"
	    "token_users: [group:bots, deploy]\n", users);
	REQUIRE((p = doc_policy(doc, &e)) != NULL);
	CHECK_INT(jit_policy_tokens_automation_only(p), 1);
	CHECK_INT(jit_policy_may_hold_token(p, "alice"), 0);
	CHECK_INT(jit_policy_may_hold_token(p, "ci"), 1);
	CHECK_INT(jit_policy_may_hold_token(p, "deploy"), 1);
	CHECK_INT(jit_policy_may_hold_token(p, NULL), 0);
	jit_policy_free(p);
	/* No token users: no API tokens at all. */
	snprintf(doc, sizeof(doc), "%stokens: automation_only\n", users);
	REQUIRE((p = doc_policy(doc, &e)) != NULL);
	CHECK_INT(jit_policy_may_hold_token(p, "ci"), 0);
	jit_policy_free(p);

	snprintf(doc, sizeof(doc), "%stokens: humans\n", users);
	DOC_REFUSED(doc, 5, "tokens", "expected automation_only or any, "
	    "found 'humans'");
	snprintf(doc, sizeof(doc), "%stokens: [automation_only]\n", users);
	DOC_REFUSED(doc, 5, "tokens", "expected automation_only or any");
	snprintf(doc, sizeof(doc), "%stoken_users: [ci]\n", users);
	DOC_REFUSED(doc, 5, "token_users", "applies only with tokens: "
	    "automation_only");
	snprintf(doc, sizeof(doc), "%stokens: automation_only\n"
	    "token_users: [robot]\n", users);
	DOC_REFUSED(doc, 6, "token_users", "unknown user 'robot'");
	snprintf(doc, sizeof(doc), "%stokens: automation_only\n"
	    "token_users: [group:robots]\n", users);
	DOC_REFUSED(doc, 6, "token_users", "unknown group 'robots'");
	snprintf(doc, sizeof(doc), "%stokens: automation_only\n"
	    "token_users: [ci, ci]\n", users);
	DOC_REFUSED(doc, 6, "token_users", "'ci' is listed twice");
	snprintf(doc, sizeof(doc), "%stoken: any\n", users);
	DOC_REFUSED(doc, 5, "token", "did you mean 'tokens'");

	/* Files of one directory must agree on tokens. */
	REQUIRE(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/a.yaml", dir);
	write_text(path, "users: {ci: {}, alice: {}}\n"
	    "tokens: automation_only\ntoken_users: [ci]\n");
	snprintf(path, sizeof(path), "%s/b.yaml", dir);
	write_text(path, "tokens: automation_only\n");
	REQUIRE_OK(jit_policy_load(dir, &p, &e));
	CHECK_INT(jit_policy_may_hold_token(p, "ci"), 1);
	CHECK_INT(jit_policy_may_hold_token(p, "alice"), 0);
	jit_policy_free(p);
	write_text(path, "roles: {}\n\ntokens: any\n");
	CHECK_INT(jit_policy_load(dir, &p, &e), JIT_ERR_POLICY);
	CHECK_CONTAINS(e.file, "/b.yaml");
	CHECK_INT(e.line, 3);
	CHECK_STR(e.field, "tokens");
	CHECK_CONTAINS(e.message, "any here, but automation_only at ");
	CHECK_CONTAINS(e.message, "/a.yaml:2");
	unlink(path);
	snprintf(path, sizeof(path), "%s/a.yaml", dir);
	unlink(path);
	rmdir(dir);
}

/* Groups from the identity provider (struct jit_policy_who) and the
 * provider_groups that rules may name. */
static void
test_provider_groups(void)
{
	static const char *const okta[] = { "okta-sre" };
	static const char *const both[] = { "okta-sre", "sec" };
	const char *doc =
	    "users:\n  alice: {groups: [dev]}\n  bob: {}\n  carol: {}\n"
	    "provider_groups: [okta-sre, sec]\n"
	    "admins: [group:okta-sre]\n"
	    "roles:\n"
	    "  staging:\n    principals: [app]\n"
	    "    requesters: [group:dev, group:sec]\n"
	    "    approvers: [group:okta-sre]\n    approvals: 2\n"
	    "    require_groups: [sec]\n";
	struct jit_policy_who alice = { "alice", NULL, 0 };
	struct jit_policy_who bob = { "bob", okta, 1 };
	struct jit_policy_who carol = { "carol", both, 2 };
	struct jit_policy_who plain_bob = { "bob", NULL, 0 };
	struct jit_policy_who ghost = { "ghost", okta, 1 };
	struct jit_policy_who appr[3];
	struct jit_policy_need need[4];
	size_t nneed;
	struct jit_policy *p;
	struct jit_policy_error e;

	REQUIRE((p = doc_policy(doc, &e)) != NULL);
	CHECK_OK(jit_policy_can_request_as(p, &alice, "staging", msg,
	    sizeof(msg)));
	CHECK_INT(jit_policy_can_request_as(p, &bob, "staging", msg,
	    sizeof(msg)), JIT_ERR_FORBIDDEN);
	CHECK_STR(msg, "user bob may not request role staging");
	/* carol requests through her provider group sec. */
	CHECK_OK(jit_policy_can_request_as(p, &carol, "staging", msg,
	    sizeof(msg)));
	/* Provider groups never make a user of someone the policy lacks. */
	CHECK_INT(jit_policy_can_request_as(p, &ghost, "staging", msg,
	    sizeof(msg)), JIT_ERR_FORBIDDEN);
	CHECK_STR(msg, "user ghost is not in the policy");
	CHECK_OK(jit_policy_can_approve_as(p, &bob, "alice", "staging", msg,
	    sizeof(msg)));
	CHECK_INT(jit_policy_can_approve_as(p, &plain_bob, "alice",
	    "staging", msg, sizeof(msg)), JIT_ERR_FORBIDDEN);
	CHECK_INT(jit_policy_can_approve(p, "bob", "alice", "staging", msg,
	    sizeof(msg)), JIT_ERR_FORBIDDEN);
	CHECK_INT(jit_policy_is_approver_as(p, &bob, "staging"), 1);
	CHECK_INT(jit_policy_is_approver(p, "bob", "staging"), 0);
	CHECK_INT(jit_policy_is_admin_as(p, &bob), 1);
	CHECK_INT(jit_policy_is_admin(p, "bob"), 0);
	CHECK_INT(jit_policy_is_auditor_as(p, &bob), 0);
	CHECK_INT(jit_policy_is_requester_as(p, &carol, "staging"), 1);
	CHECK_INT(jit_policy_is_requester(p, "carol", "staging"), 0);
	/* Approvals count with the groups each approver had. */
	appr[0] = bob;
	CHECK_INT(jit_policy_approval_status_as(p, "staging", "alice", appr,
	    1, msg, sizeof(msg)), 0);
	CHECK_STR(msg, "1 of 2 approvals; still needs one from group sec");
	CHECK_OK(jit_policy_approval_missing_as(p, "staging", "alice", appr,
	    1, need, 4, &nneed));
	CHECK_INT(nneed, 1);
	CHECK_STR(need[0].group, "sec");
	appr[1] = carol;
	appr[2] = plain_bob;
	CHECK_INT(jit_policy_approval_status_as(p, "staging", "alice", appr,
	    3, msg, sizeof(msg)), 1);
	CHECK_STR(msg, "2 of 2 approvals");
	/* By name alone, neither counts. */
	{
		const char *names[] = { "bob", "carol" };
		CHECK_INT(jit_policy_approval_status(p, "staging", "alice",
		    names, 2, msg, sizeof(msg)), 0);
		CHECK_STR(msg, "0 of 2 approvals; still needs one from group "
		    "sec");
	}
	jit_policy_free(p);
	/* A provider group that is not declared is a typo. */
	DOC_REFUSED("users: {a: {}}\nroles:\n  r: {principals: [p], "
	    "requesters: [group:okta], approvals: 0}\n", 3,
	    "roles.r.requesters", "unknown group 'okta' (no user lists it in "
	    "groups, nor is it in provider_groups)");
	DOC_REFUSED("users: {a: {}}\nprovider_groups: [group:x]\n", 2,
	    "provider_groups", "invalid group name 'group:x' (write the bare "
	    "group name here)");
	DOC_REFUSED("users: {a: {}}\nprovider_groups: x\n", 2,
	    "provider_groups", "expected a list");
	/* Still, the rule must be possible with the users there are. */
	DOC_REFUSED("users: {a: {}}\nprovider_groups: [x]\nroles:\n"
	    "  r: {principals: [p], requesters: [a], approvers: [group:x],\n"
	    "      approvals: 2}\n", 5, "roles.r.approvals", "needs 2 "
	    "approvals but only 1 user can approve");
}

/* terms.h: the checks the loader shares with jit-ca sign. */
static void
test_terms(void)
{
	static const char *const good[] = { "10.0.0.0/8", "192.0.2.7",
	    "192.0.2.7/32", "0.0.0.0/0", "::1", "::1/128", "2001:db8::/32",
	    "10.0.0.0/008", "::ffff:10.0.0.0/104" };
	static const struct { const char *in, *why; } bad[] = {
		{ "", "empty entry" },
		{ "10.0.0.0/33", "'10.0.0.0/33': prefix longer than 32 bits" },
		{ "::1/129", "prefix longer than 128 bits" },
		{ "10.1.2.3/8", "'10.1.2.3/8' has host bits set after the /8 "
		    "prefix (did you mean 10.0.0.0/8?)" },
		{ "2001:db8::1/32", "(did you mean 2001:db8::/32?)" },
		{ "10.0.0.0/", "'10.0.0.0/': bad prefix length" },
		{ "10.0.0.0/x", "bad prefix length" },
		{ "10.0.0.0/0008", "bad prefix length" },
		{ "10.0.0.0/-8", "bad prefix length" },
		{ "300.1.1.1", "invalid address or CIDR '300.1.1.1'" },
		{ " 10.0.0.0/8", "invalid address" },
		{ "/8", "invalid address" },
		{ "host.example", "invalid address" },
		{ "\x1b[31m", "invalid address or CIDR '?[31m'" },
	};
	static const char *const ext_good[] = { "permit-pty",
	    "permit-X11-forwarding", "no-touch-required",
	    "login@example.com", "my_ext@sub.example-1.org" };
	static const struct { const char *in, *why; } ext_bad[] = {
		{ "permit-ptty", "unknown extension 'permit-ptty' (did you "
		    "mean 'permit-pty'?)" },
		{ "verify-required", "(known: permit-pty," },
		{ "@example.com", "unknown extension" },
		{ "login@", "unknown extension" },
		{ "a b@c", "unknown extension" },
		{ "a@b@c", "unknown extension" },
		{ "x@dom_ain", "unknown extension" },
		{ "\x1b]0;x@y", "unknown extension '?]0;x@y'" },
		{ "", "unknown extension ''" },
	};
	char why[256];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		CHECK_OK(jit_check_source_entry(good[i], strlen(good[i]), why,
		    sizeof(why)));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		CHECK_INT(jit_check_source_entry(bad[i].in, strlen(bad[i].in),
		    why, sizeof(why)), -1);
		CHECK_CONTAINS(why, bad[i].why);
	}
	/* Only len bytes are read: a list entry in place. */
	CHECK_OK(jit_check_source_entry("10.0.0.0/8,junk", 10, why,
	    sizeof(why)));
	CHECK_INT(jit_check_source_entry("10.0.0.0/8,junk", 11, NULL, 0), -1);
	for (size_t i = 0; i < sizeof(ext_good) / sizeof(ext_good[0]); i++)
		CHECK_OK(jit_check_extension(ext_good[i], why, sizeof(why)));
	for (size_t i = 0; i < sizeof(ext_bad) / sizeof(ext_bad[0]); i++) {
		why[0] = '\0';
		CHECK_INT(jit_check_extension(ext_bad[i].in, why,
		    sizeof(why)), -1);
		CHECK_CONTAINS(why, ext_bad[i].why);
	}
	{
		char longext[140];
		memset(longext, 'a', sizeof(longext) - 1);
		longext[sizeof(longext) - 1] = '\0';
		longext[60] = '@';
		CHECK_INT(jit_check_extension(longext, why, sizeof(why)), -1);
		longext[129] = '\0';
		CHECK_INT(jit_check_extension(longext, why, sizeof(why)), -1);
		longext[128] = '\0';
		CHECK_OK(jit_check_extension(longext, why, sizeof(why)));
	}
}

/* The YAML reader's own rules, as the configuration uses them too:
 * strict documents refuse aliases, lenient ones follow them. */
static void
test_yaml_doc(void)
{
	static const struct jit_yaml_rules strict = { JIT_YAML_STRICT,
	    JIT_ERR_POLICY, "" };
	static const struct jit_yaml_rules lenient = { 0,
	    JIT_ERR_INVALID_FORMAT, "config" };
	static const char *const known[] = { "alpha", "beta" };
	const char *alias = "a: &x v\nb: *x\n";
	const struct jit_yaml_node *root, *k, *v;
	struct jit_yaml_doc *d = NULL;
	struct jit_policy_error e;
	unsigned seen = 0;
	const char *text;
	size_t idx, len;

	REQUIRE_OK(jit_yaml_doc_load("f", alias, strlen(alias), &lenient, &e,
	    &d));
	REQUIRE((root = jit_yaml_root(d)) != NULL);
	CHECK_INT(jit_yaml_kind(root), JIT_YAML_MAPPING);
	CHECK_INT(jit_yaml_size(root), 2);
	CHECK_OK(jit_yaml_pair_value(d, root, 1, "b", &v));
	CHECK_OK(jit_yaml_text(d, v, "b", "text", &text));
	CHECK_STR(text, "v");
	CHECK_INT(jit_yaml_line(v), 1);
	/* Unknown and duplicate keys, with the fields each names. */
	CHECK_OK(jit_yaml_pair_key(d, root, 0, "", &k));
	CHECK_INT(jit_yaml_key(d, k, "top", NULL, known, 2, &seen, &idx),
	    JIT_ERR_INVALID_FORMAT);
	CHECK_STR(e.field, "top.a");
	CHECK_STR(e.message, "unknown key 'a' (expected alpha, beta)");
	CHECK_INT(jit_yaml_key(d, k, "top", "top", known, 2, &seen, &idx),
	    JIT_ERR_INVALID_FORMAT);
	CHECK_STR(e.field, "top");
	CHECK_INT(seen, 0);
	CHECK_OK(jit_yaml_pair_value(d, root, 0, "a", &v));
	CHECK(jit_yaml_scalar(v, &len) != NULL && len == 1);
	CHECK(jit_yaml_scalar(root, &len) == NULL && len == 0);
	CHECK_INT(jit_yaml_text(d, root, "x", "a name", &text),
	    JIT_ERR_INVALID_FORMAT);
	CHECK_STR(e.message, "expected a name, found a mapping");
	jit_yaml_doc_free(d);

	CHECK_INT(jit_yaml_doc_load("f", alias, strlen(alias), &strict, &e,
	    &d), 0);
	root = jit_yaml_root(d);
	CHECK_OK(jit_yaml_pair_value(d, root, 0, "a", &v));
	CHECK_INT(jit_yaml_pair_value(d, root, 1, "b", &v), JIT_ERR_POLICY);
	CHECK_STR(e.message, "anchors and aliases are not supported");
	CHECK_INT(e.line, 2);
	jit_yaml_doc_free(d);

	/* Syntax errors name the rules' field; a second document fails. */
	CHECK_INT(jit_yaml_doc_load("f", "a: [b\n", 6, &lenient, &e, &d),
	    JIT_ERR_INVALID_FORMAT);
	CHECK(d == NULL);
	CHECK_STR(e.field, "config");
	CHECK_CONTAINS(e.message, "YAML syntax error");
	CHECK_INT(jit_yaml_doc_load("f", "a\n---\nb\n", 8, &strict, &e, &d),
	    JIT_ERR_POLICY);
	CHECK_INT(e.line, 2);
	CHECK_CONTAINS(e.message, "only one YAML document");
	/* No document at all is no error: the root is NULL. */
	REQUIRE_OK(jit_yaml_doc_load("f", "# nothing\n", 10, &strict, &e,
	    &d));
	CHECK(jit_yaml_root(d) == NULL);
	jit_yaml_doc_free(d);
	jit_yaml_doc_free(NULL);
}

int
main(void)
{
	test_examples();
	test_bad_fixtures();
	test_errors();
	test_directory();
	test_decisions();
	test_pcre();
	test_start_ahead();
	test_max_pending();
	test_digest();
	test_mfa();
	test_tokens();
	test_provider_groups();
	test_terms();
	test_yaml_doc();
	TEST_DONE();
}
