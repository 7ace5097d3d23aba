/* cmd_policy.c - `jit-ca policy check PATH`: validate without serving. */
#include <stdio.h>
#include <string.h>

#include "cmds.h"
#include "config.h"
#include "err.h"
#include "lifecycle.h"
#include "policy.h"
#include "util.h"

static void
usage(FILE *f)
{
	fprintf(f, "usage: jit-ca policy check [-v|--verbose] "
	    "[--data DIR | --config FILE] PATH\n\n"
	    "Load a policy file, or every *.yaml / *.yml file of a directory,\n"
	    "with the same strict rules as the server, and report the first\n"
	    "problem as FILE:LINE: FIELD: message.\n\n"
	    "  -v, --verbose  also list each role's rule\n"
	    "  --data DIR     also say what loading it into the server of DIR\n"
	    "                 would end: open requests it refuses or whose\n"
	    "                 role's terms changed (expired) and active grants\n"
	    "                 whose role or requester it drops (revoked);\n"
	    "                 nothing is changed\n"
	    "  --config FILE  the same for the store a server config names\n"
	    "                 (its data directory, or store: PostgreSQL)\n\n"
	    "Exit status: 0 valid, 1 invalid or unreadable, 2 usage error.\n");
}

static void
print_list(const char *const *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		printf("%s%s", i ? ", " : "", v[i]);
}

static void
print_role(const struct jit_policy_role *r)
{
	char maxd[32], defd[32];

	jit_format_duration(r->max_duration, maxd, sizeof(maxd));
	jit_format_duration(r->default_duration, defd, sizeof(defd));
	printf("  %s: principals ", r->name);
	print_list(r->principals, r->nprincipals);
	printf("; requesters ");
	print_list(r->requesters, r->nrequesters);
	if (r->approvals == 0)
		printf("; auto-approved");
	else {
		printf("; %u approval%s from ", r->approvals,
		    r->approvals == 1 ? "" : "s");
		print_list(r->approvers, r->napprovers);
		if (r->nrequire_groups > 0) {
			printf(" (at least one from ");
			print_list(r->require_groups, r->nrequire_groups);
			printf(")");
		}
		if (r->self_approval)
			printf(", self-approval allowed");
	}
	printf("; %s default, %s max%s\n", defd, maxd,
	    r->reason_required ? "; reason required" : "");
}

static void
print_end(void *ctx, const struct jit_request *r, int revoke,
    const char *why)
{
	(void)ctx;
	printf("would %s %s (%s, role %s, %s): %s\n", revoke ? "revoke" :
	    "expire", r->id, r->user, r->role, jit_state_name(r->state), why);
}

/* What loading p into the server of the store cfg names (data: its
 * LMDB directory) would end (a dry run). */
static int
check_open(const struct jit_policy *p, const struct jit_config *cfg,
    const char *data)
{
	char err[1024];
	struct jit_lifecycle_options o;
	struct jit_lifecycle *lc = NULL;
	struct jit_lc_reload_counts n;
	struct jit_store *s = NULL;
	int r;

	if ((r = jit_config_open_store(cfg, data, JIT_STORE_READONLY, &s,
	    err, sizeof(err))) != 0) {
		if (r == JIT_ERR_NOT_FOUND && cfg->store_url == NULL) {
			printf("no store in %s: no open requests\n", data);
			return 0;
		}
		cmd_fail("policy", "%s", err);
		return 1;
	}
	memset(&o, 0, sizeof(o));
	o.store = s;
	if ((r = jit_lifecycle_new(&o, &lc)) == 0)
		r = jit_lc_policy_check(lc, p, jit_now(), 1, print_end, NULL,
		    &n);
	jit_lifecycle_free(lc);
	jit_store_close(s);
	if (r != 0) {
		cmd_fail("policy", "%s: %s", cfg->store_url != NULL ?
		    "store" : data, jit_err(r));
		return 1;
	}
	printf("loading it would expire %u open request%s and revoke %u "
	    "grant%s\n", n.expired, n.expired == 1 ? "" : "s", n.revoked,
	    n.revoked == 1 ? "" : "s");
	return 0;
}

int
cmd_policy(int argc, char **argv)
{
	struct jit_policy *p = NULL;
	struct jit_policy_error err;
	struct jit_config cfg;
	const char *path = NULL, *data = NULL, *config = NULL;
	int verbose = 0, r;

	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return 0;
	}
	if (argc < 2 || strcmp(argv[1], "check") != 0) {
		usage(stderr);
		return 2;
	}
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "-v") == 0 ||
		    strcmp(argv[i], "--verbose") == 0) {
			verbose = 1;
		} else if (strcmp(argv[i], "--data") == 0) {
			if (++i >= argc) {
				cmd_fail("policy", "option --data needs a "
				    "value");
				return 2;
			}
			data = argv[i];
		} else if (strcmp(argv[i], "--config") == 0) {
			if (++i >= argc) {
				cmd_fail("policy", "option --config needs a "
				    "value");
				return 2;
			}
			config = argv[i];
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			cmd_fail("policy", "unknown option %s (try --help)",
			    argv[i]);
			return 2;
		} else if (path == NULL)
			path = argv[i];
		else {
			cmd_fail("policy", "only one PATH may be given");
			return 2;
		}
	}
	if (path == NULL) {
		cmd_fail("policy", "check needs a PATH (file or directory)");
		return 2;
	}
	if (data != NULL && config != NULL) {
		cmd_fail("policy", "give --data or --config, not both");
		return 2;
	}
	if ((r = jit_policy_load(path, &p, &err)) != 0) {
		char line[1024];
		if (err.file[0] != '\0') {
			jit_policy_error_format(&err, line, sizeof(line));
			cmd_fail("policy", "%s", line);
		} else
			cmd_fail("policy", "%s: %s", path, jit_err(r));
		return 1;
	}
	printf("ok: %zu user%s, %zu role%s (%s, %zu file%s, sha256 %s)\n",
	    jit_policy_user_count(p), jit_policy_user_count(p) == 1 ? "" : "s",
	    jit_policy_role_count(p), jit_policy_role_count(p) == 1 ? "" : "s",
	    jit_policy_source(p), jit_policy_file_count(p),
	    jit_policy_file_count(p) == 1 ? "" : "s", jit_policy_hash(p));
	if (verbose)
		for (size_t i = 0; i < jit_policy_role_count(p); i++)
			print_role(jit_policy_role_at(p, i));
	r = 0;
	if (data != NULL || config != NULL) {
		/* Without --config: the built-in defaults, an LMDB store. */
		memset(&cfg, 0, sizeof(cfg));
		r = cmd_config_load("policy", config, &cfg, &data, NULL) != 0 ?
		    1 : check_open(p, &cfg, data);
		jit_config_release(&cfg);
	}
	jit_policy_free(p);
	return r;
}
