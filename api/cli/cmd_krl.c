/*
 * cmd_krl.c - `jit-ca krl`: write the KRL of revoked certificates
 * offline, byte-identical to what GET /v1/krl serves for the same store
 * at the same time (revocation.h).
 *
 * Works while the server runs: the store is opened read-only, without the
 * server lock.  The file is replaced atomically (temporary file, fsync,
 * rename), so an sshd reading it as RevokedKeys never sees half a KRL.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "cadir.h"
#include "cmds.h"
#include "config.h"
#include "err.h"
#include "key.h"
#include "revocation.h"
#include "store.h"
#include "util.h"

static void
usage(FILE *f)
{
	fprintf(f, "usage: jit-ca krl [--data DIR | --config FILE] "
	    "[-o FILE] [--grace DURATION]\n"
	    "                  [--passphrase-file FILE]\n\n"
	    "Write the OpenSSH key revocation list (KRL) of the certificates "
	    "whose grants\nwere revoked early, and of revoked hosts' "
	    "certificates, that have not yet\nexpired, for sshd's RevokedKeys "
	    "and ssh's RevokedHostKeys.  The same bytes as\nGET /v1/krl.  "
	    "Safe to run while the server runs.\n\n"
	    "  --data DIR        data directory (default: the config's, else "
	    "%s)\n"
	    "  --config FILE     take data and clock_skew from a server "
	    "config\n"
	    "  -o, --output FILE write FILE atomically (mode 0644) instead of "
	    "stdout;\n"
	    "                    - is stdout\n"
	    "  --grace DURATION  keep revoked certs listed this long after "
	    "they expire,\n"
	    "                    for hosts with slow clocks (default: the "
	    "config's\n"
	    "                    clock_skew, 60s; \"0\" for none)\n"
	    "  --passphrase-file FILE\n"
	    "                    passphrase of an encrypted CA key, needed "
	    "only when\n"
	    "                    DATA/ca_key.pub (or host_ca_key.pub) is "
	    "missing\n\n"
	    "Check a KRL with: ssh-keygen -Q -f FILE CERT...\n"
	    "Exit status: 0 success, 1 failure, 2 usage error.\n",
	    JIT_CONFIG_DEFAULT_DATA);
}

int
cmd_krl(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "config", required_argument, NULL, 'c' },
		{ "output", required_argument, NULL, 'o' },
		{ "grace", required_argument, NULL, 'g' },
		{ "passphrase-file", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct jit_config cfg;
	struct jit_store *store = NULL;
	struct jit_key *ca = NULL, *host_ca = NULL;
	struct jit_buf krl = JIT_BUF_INIT;
	struct jit_revocation_info info;
	struct jit_cadir_pass pass;
	const char *data = NULL, *config = NULL, *output = NULL,
	    *grace_s = NULL, *pass_file = NULL;
	char *line = NULL, err[1024];
	uint64_t grace = 0;
	int c, r, ret = 1;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":d:c:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd': data = optarg; break;
		case 'c': config = optarg; break;
		case 'o':
			/* "-" is standard output, as if -o were not given. */
			output = strcmp(optarg, "-") == 0 ? NULL : optarg;
			break;
		case 'g': grace_s = optarg; break;
		case 'P': pass_file = optarg; break;
		case 'h':
			usage(stdout);
			return 0;
		case ':':
			cmd_fail("krl", "option '%s' needs a value (try jit-ca "
			    "krl --help)", argv[optind - 1]);
			return 2;
		default:
			cmd_fail("krl", "unknown option '%s' (try jit-ca krl "
			    "--help)", argv[optind - 1]);
			return 2;
		}
	}
	if (optind != argc) {
		cmd_fail("krl", "unexpected argument '%s' (try jit-ca krl "
		    "--help)", argv[optind]);
		return 2;
	}
	if (grace_s != NULL && strcmp(grace_s, "0") != 0 &&
	    (jit_parse_duration(grace_s, &grace) != 0 || grace > 86400)) {
		cmd_fail("krl", "--grace: invalid duration '%s' (e.g. 0, 60s, "
		    "5m; at most 1d)", grace_s);
		return 2;
	}
	if (output != NULL && *output == '\0') {
		cmd_fail("krl", "-o: empty file name");
		return 2;
	}
	if (output == NULL && isatty(STDOUT_FILENO)) {
		cmd_fail("krl", "the KRL is binary: use -o FILE or redirect "
		    "stdout");
		return 2;
	}
	if (cmd_config_load("krl", config, &cfg, &data, NULL) != 0)
		return 1;
	if (grace_s == NULL)
		grace = cfg.clock_skew;

	cmd_pass_init(&pass, pass_file);
	if ((r = jit_cadir_public_line_pass(data, &pass, &line, err,
	    sizeof(err))) != 0) {
		if (*err != '\0')
			cmd_fail("krl", "%s", err);
		else
			cmd_fail("krl", "%s: %s", data, r == JIT_ERR_NOT_FOUND ?
			    "no CA in this data directory (jit-ca init --data "
			    "DIR)" : jit_err(r));
		goto out;
	}
	if ((r = jit_key_parse_public(line, &ca, NULL)) != 0) {
		cmd_fail("krl", "%s/%s: %s", data, JIT_CADIR_PUB, jit_err(r));
		goto out;
	}
	/* The host CA's section, as the server writes it when it has one. */
	if (jit_cadir_host_exists(data)) {
		free(line);
		line = NULL;
		if ((r = jit_cadir_host_public_line_pass(data, &pass, &line,
		    err, sizeof(err))) != 0 ||
		    (r = jit_key_parse_public(line, &host_ca, NULL)) != 0) {
			cmd_fail("krl", "%s", *err != '\0' ? err : jit_err(r));
			goto out;
		}
	}
	r = jit_config_open_store(&cfg, data, JIT_STORE_READONLY, &store, err,
	    sizeof(err));
	if (r != 0 && r != JIT_ERR_NOT_FOUND) {
		cmd_fail("krl", "%s", err);
		goto out;
	}
	/* NOT_FOUND: a CA without a store has revoked nothing yet. */
	if ((r = jit_revocation_krl(store, ca, host_ca, jit_now(), grace, &krl,
	    &info)) != 0) {
		cmd_fail("krl", "%s: %s", data, jit_err(r));
		goto out;
	}
	if (output != NULL) {
		if ((r = jit_write_file_atomic(output, jit_buf_ptr(&krl),
		    jit_buf_len(&krl), 0644, 0)) != 0) {
			cmd_fail("krl", "%s: %s", output, jit_err(r));
			goto out;
		}
	} else if (fwrite(jit_buf_ptr(&krl), 1, jit_buf_len(&krl), stdout)
	    != jit_buf_len(&krl) || fflush(stdout) != 0) {
		cmd_fail("krl", "cannot write the KRL to stdout");
		goto out;
	}
	fprintf(stderr, "jit-ca krl: %s: %" PRIu64 " revoked certificate%s "
	    "listed, %" PRIu64 " left out (expired, or no certificate "
	    "issued) (version %" PRIu64 ")\n",
	    output != NULL ? output : "stdout", info.listed,
	    info.listed == 1 ? "" : "s", info.left_out, info.version);
	ret = 0;
out:
	jit_buf_release(&krl);
	jit_store_close(store);
	jit_key_free(ca);
	jit_key_free(host_ca);
	free(line);
	jit_config_release(&cfg);
	return ret;
}
