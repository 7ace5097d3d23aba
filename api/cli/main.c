/* main.c - jit-ca: dispatch to subcommands (see cmds.h). */
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cmds.h"
#include "config.h"
#include "err.h"
#include "jit_version.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{ "init", cmd_init, "create a new CA key and data directory" },
	{ "ca", cmd_ca, "print the CA public key line" },
	{ "sign", cmd_sign, "sign a user certificate offline" },
	{ "policy", cmd_policy, "check policy files" },
	{ "token", cmd_token, "create, list and revoke API tokens" },
	{ "host", cmd_host, "enrollment tokens, hosts and their revocation" },
	{ "serve", cmd_serve, "run the approval API server" },
	{ "audit", cmd_audit, "export and verify the audit log" },
	{ "krl", cmd_krl, "write the key revocation list" },
	{ "store", cmd_store, "migrate or copy the store (LMDB, PostgreSQL)" },
	{ "notify", cmd_notify, "list, retry and test notifications" },
};

void
cmd_actor(char *out, size_t len)
{
	struct passwd *pw = getpwuid(getuid());

	snprintf(out, len, "cli:%s", pw != NULL && pw->pw_name != NULL ?
	    pw->pw_name : "unknown");
}

void
cmd_fail(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "jit-ca %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int
cmd_config_load(const char *cmd, const char *path, struct jit_config *cfg,
    const char **data, const char **policies)
{
	char err[1024];
	int r = JIT_ERR_INTERNAL;

	err[0] = '\0';
	if (path != NULL)
		r = jit_config_load(path, cfg, err, sizeof(err));
	else
		r = jit_config_defaults(cfg);
	if (r != 0) {
		cmd_fail(cmd, "%s", path != NULL && *err ? err : jit_err(r));
		return r;
	}
	if (data != NULL && *data == NULL)
		*data = cfg->data;
	if (policies != NULL && *policies == NULL)
		*policies = cfg->policies;
	return 0;
}

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: jit-ca COMMAND [OPTIONS]\n\n"
	    "Just-in-time SSH certificate authority.\n\nCommands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-8s %s\n", commands[i].name,
		    commands[i].summary);
	fprintf(f, "\nRun 'jit-ca COMMAND --help' for a command's options.\n"
	    "Exit status: 0 success, 1 failure, 2 usage error.\n");
}

/* Every subcommand may hold the CA key or tokens: no core dump may carry
 * them off, and other processes of the same user may not ptrace us or
 * read our memory through /proc. */
static void
no_core_dumps(void)
{
	struct rlimit rl = { 0, 0 };

	(void)setrlimit(RLIMIT_CORE, &rl);
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

int
main(int argc, char **argv)
{
	size_t i;

	no_core_dumps();
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("jit-ca %s\n", JIT_VERSION);
		return 0;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "jit-ca: unknown command '%s' (try jit-ca --help)\n",
	    argv[1]);
	return 2;
}
