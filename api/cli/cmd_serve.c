/* cmd_serve.c - `jit-ca serve`: run the approval API server (server.h). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cadir.h"
#include "cmds.h"
#include "config.h"
#include "err.h"
#include "server.h"
#include "util.h"

static void
usage(FILE *f)
{
	fprintf(f, "usage: jit-ca serve [--config FILE] [--listen ADDR] "
	    "[--data DIR]\n"
	    "                    [--policies PATH] [--passphrase-file FILE] "
	    "[--quiet]\n\n"
	    "Run the approval API server until SIGTERM or SIGINT; SIGHUP "
	    "reloads\nthe policy (a broken policy keeps the last good one).\n\n"
	    "  --config FILE    server config (YAML: listen, data, policies, "
	    "tls,\n"
	    "                   clock_skew, max_body, max_wait, "
	    "sweep_interval,\n"
	    "                   connection_timeout, max_connections, "
	    "rate_limit)\n"
	    "  --listen ADDR    host:port, [::1]:port or unix:/path "
	    "(overrides config)\n"
	    "  --data DIR       data directory (overrides config)\n"
	    "  --policies PATH  policy file or directory (overrides config)\n"
	    "  --passphrase-file FILE\n"
	    "                   passphrase of an encrypted CA key (first line);"
	    "\n"
	    "                   else the systemd credential "
	    JIT_CADIR_CREDENTIAL ",\n"
	    "                   else asked on a terminal\n"
	    "  --quiet          no per-request log lines\n\n"
	    "Without --config: listen %s, data %s, policies %s;\n"
	    "on a fresh data directory a new Ed25519 CA is created and one "
	    "demo\ntoken per policy user is printed once and written to "
	    "DATA/demo-tokens.\n\n"
	    "Exit status: 0 after a clean shutdown, 1 failure, 2 usage "
	    "error.\n", JIT_CONFIG_DEFAULT_LISTEN, JIT_CONFIG_DEFAULT_DATA,
	    JIT_CONFIG_DEFAULT_POLICIES);
}

int
cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "listen", required_argument, NULL, 'l' },
		{ "data", required_argument, NULL, 'd' },
		{ "policies", required_argument, NULL, 'p' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "passphrase-file", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct jit_config cfg;
	struct jit_cadir_pass pass;
	const char *config = NULL, *listen = NULL, *data = NULL,
	    *policies = NULL, *pass_file = NULL;
	char err[1024];
	int c, quiet = 0, r;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":c:l:d:p:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'l': listen = optarg; break;
		case 'd': data = optarg; break;
		case 'p': policies = optarg; break;
		case 'q': quiet = 1; break;
		case 'P': pass_file = optarg; break;
		case 'h':
			usage(stdout);
			return 0;
		case ':':
			cmd_fail("serve", "option '%s' needs a value (try "
			    "jit-ca serve --help)", argv[optind - 1]);
			return 2;
		default:
			cmd_fail("serve", "unknown option '%s' (try jit-ca "
			    "serve --help)", argv[optind - 1]);
			return 2;
		}
	}
	if (optind < argc) {
		cmd_fail("serve", "unexpected argument '%s' (try jit-ca serve "
		    "--help)", argv[optind]);
		return 2;
	}
	if (cmd_config_load("serve", config, &cfg, NULL, NULL) != 0)
		return 1;
	if (listen != NULL) {
		struct jit_listen l;
		if ((r = jit_listen_parse(listen, &l)) != 0) {
			cmd_fail("serve", "--listen: invalid address '%s' (use "
			    "host:port, [::1]:port or unix:/path)", listen);
			jit_config_release(&cfg);
			return 2;
		}
		jit_listen_release(&cfg.listen);
		cfg.listen = l;
		if (jit_strset(&cfg.listen_text, listen) != 0)
			goto oom;
	}
	if ((data != NULL && jit_strset(&cfg.data, data) != 0) ||
	    (policies != NULL && jit_strset(&cfg.policies, policies) != 0))
		goto oom;
	cmd_pass_init(&pass, pass_file);
	r = jit_server_run(&cfg, &pass, quiet, err, sizeof(err));
	jit_config_release(&cfg);
	if (r != 0) {
		cmd_fail("serve", "%s", *err ? err : jit_err(r));
		return 1;
	}
	return 0;
oom:
	jit_config_release(&cfg);
	cmd_fail("serve", "%s", jit_err(JIT_ERR_ALLOC));
	return 1;
}
