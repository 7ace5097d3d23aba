/* cmd_policy.c - `jit-ca policy check PATH`: validate without serving. */
#include <stdio.h>
#include <string.h>

#include "cmds.h"
#include "err.h"
#include "policy.h"
#include "util.h"

static void
usage(FILE *f)
{
	fprintf(f, "usage: jit-ca policy check [-v|--verbose] PATH\n\n"
	    "Load a policy file, or every *.yaml / *.yml file of a directory,\n"
	    "with the same strict rules as the server, and report the first\n"
	    "problem as FILE:LINE: FIELD: message.\n\n"
	    "  -v, --verbose  also list each role's rule\n\n"
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

int
cmd_policy(int argc, char **argv)
{
	struct jit_policy *p = NULL;
	struct jit_policy_error err;
	const char *path = NULL;
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
		    strcmp(argv[i], "--verbose") == 0)
			verbose = 1;
		else if (argv[i][0] == '-' && argv[i][1] != '\0') {
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
	jit_policy_free(p);
	return 0;
}
