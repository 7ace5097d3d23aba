/*
 * cmd_store.c - jit-ca store: bring a PostgreSQL store's schema up to date
 * (migrate), and copy an installation from one store to another (copy),
 * e.g. from LMDB to PostgreSQL (store.h, jit_store_copy).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cmds.h"
#include "config.h"
#include "err.h"
#include "store.h"

static void
usage(FILE *f)
{
	fprintf(f, "usage: jit-ca store migrate [--config FILE]\n"
	    "       jit-ca store copy --from STORE [--to STORE] [--config FILE]"
	    "\n"
	    "                         [--password-file FILE] [--sslmode MODE]"
	    "\n"
	    "                         [--sslrootcert FILE] [--schema NAME]\n"
	    "\n"
	    "migrate  create the configured PostgreSQL store's tables, or bring"
	    "\n"
	    "         them to this version's schema (jit-ca serve does this "
	    "too)\n"
	    "copy     copy everything (requests, certificates, tokens, values, "
	    "the\n"
	    "         outbox, the audit log byte for byte) into an empty "
	    "store, in one\n         transaction\n"
	    "\n"
	    "STORE is lmdb:DIR (the LMDB store in data directory DIR) or a\n"
	    "postgresql:// URL.  Without --to, copy writes to the store that\n"
	    "--config names.  --password-file, --sslmode, --sslrootcert and\n"
	    "--schema apply to a PostgreSQL --to (see store: in "
	    "docs/CONFIG.md).\n"
	    "Stop the servers that write to the source first: what they write "
	    "after\nthe copy began is not copied.\n");
}

/* Open STORE (lmdb:DIR or a URL) with the options of o. */
static int
open_named(const char *what, struct jit_store_options *o, unsigned flags,
    struct jit_store **out, char *err, size_t errlen)
{
	const char *dir = NULL;
	char msg[512];
	int r;

	msg[0] = '\0';
	o->flags = flags;
	o->err = msg;
	o->errlen = sizeof(msg);
	o->url = NULL;
	if (strncmp(what, "lmdb:", 5) == 0 && what[5] != '\0')
		dir = what + 5;
	else if (jit_store_is_url(what))
		o->url = what;
	else {
		snprintf(err, errlen, "%s: expected lmdb:DIR or a "
		    "postgresql:// URL", what);
		return JIT_ERR_INVALID_ARGUMENT;
	}
	if ((r = jit_store_open_opts(dir, o, out)) != 0)
		snprintf(err, errlen, "%s: %s", dir != NULL ? dir : "store",
		    *msg ? msg : jit_err(r));
	return r;
}

static int
do_migrate(const char *config)
{
	struct jit_config cfg;
	struct jit_store *s = NULL;
	char err[1024];
	int ret = 1;

	if (cmd_config_load("store", config, &cfg, NULL, NULL) != 0)
		return 1;
	if (jit_config_open_store(&cfg, NULL, 0, &s, err, sizeof(err)) != 0) {
		cmd_fail("store", "%s", err);
		goto out;
	}
	if (cfg.store_url != NULL)
		fprintf(stderr, "jit-ca store: the PostgreSQL store is at "
		    "schema version %d\n", JIT_STORE_PG_SCHEMA);
	else
		fprintf(stderr, "jit-ca store: %s is an LMDB store (its format "
		    "is brought up to date when it is opened)\n", cfg.data);
	ret = 0;
out:
	jit_store_close(s);
	jit_config_release(&cfg);
	return ret;
}

static int
do_copy(const char *from, const char *to, const char *config,
    struct jit_store_options *o)
{
	struct jit_config cfg;
	struct jit_store_options none;
	struct jit_store *src = NULL, *dst = NULL;
	struct jit_store_copy_stats st;
	char err[1024];
	int r, ret = 1;

	memset(&cfg, 0, sizeof(cfg));
	memset(&none, 0, sizeof(none));
	if (to == NULL &&
	    cmd_config_load("store", config, &cfg, NULL, NULL) != 0)
		return 1;
	if (open_named(from, &none, JIT_STORE_READONLY, &src, err,
	    sizeof(err)) != 0) {
		cmd_fail("store", "--from %s", err);
		goto out;
	}
	r = to != NULL ? open_named(to, o, 0, &dst, err, sizeof(err)) :
	    jit_config_open_store(&cfg, NULL, 0, &dst, err, sizeof(err));
	if (r != 0) {
		cmd_fail("store", "--to %s", err);
		goto out;
	}
	if ((r = jit_store_copy(src, dst, &st)) != 0) {
		cmd_fail("store", "copy failed, nothing was written: %s",
		    r == JIT_ERR_CONFLICT ? "the target store is not empty" :
		    r == JIT_ERR_STORE_CORRUPT ? "a record of the source "
		    "cannot be read (an LMDB store of schema 1 must be opened "
		    "by jit-ca serve once first)" : jit_err(r));
		goto out;
	}
	printf("copied %" PRIu64 " requests, %" PRIu64 " certificates, "
	    "%" PRIu64 " tokens, %" PRIu64 " values, %" PRIu64 " audit "
	    "entries, %" PRIu64 " notifications\n", st.requests, st.certs,
	    st.tokens, st.values, st.audit, st.outbox);
	printf("audit chain head: %" PRIu64 " %s\n", st.audit_head_seq,
	    st.audit_head_seq != 0 ? st.audit_head : "(empty)");
	ret = 0;
out:
	jit_store_close(dst);
	jit_store_close(src);
	jit_config_release(&cfg);
	return ret;
}

int
cmd_store(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ "password-file", required_argument, NULL, 'p' },
		{ "sslmode", required_argument, NULL, 'm' },
		{ "sslrootcert", required_argument, NULL, 'r' },
		{ "schema", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct jit_store_options o;
	const char *config = NULL, *from = NULL, *to = NULL, *sub;
	int c, copy;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	sub = argv[1];
	if (strcmp(sub, "migrate") != 0 && strcmp(sub, "copy") != 0) {
		cmd_fail("store", "unknown subcommand '%s' (use migrate or "
		    "copy)", sub);
		return 2;
	}
	copy = sub[0] == 'c';
	memset(&o, 0, sizeof(o));
	opterr = 0;
	optind = 2;
	while ((c = getopt_long(argc, argv, ":c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'f': from = optarg; break;
		case 't': to = optarg; break;
		case 'p': o.password_file = optarg; break;
		case 'm': o.sslmode = optarg; break;
		case 'r': o.sslrootcert = optarg; break;
		case 's': o.schema = optarg; break;
		case 'h':
			usage(stdout);
			return 0;
		case ':':
			cmd_fail("store", "option '%s' needs a value",
			    argv[optind - 1]);
			return 2;
		default:
			cmd_fail("store", "unknown option '%s' (try jit-ca "
			    "store --help)", argv[optind - 1]);
			return 2;
		}
	}
	if (optind != argc) {
		cmd_fail("store", "unexpected argument '%s'", argv[optind]);
		return 2;
	}
	if (!copy && (from != NULL || to != NULL || o.password_file != NULL ||
	    o.sslmode != NULL || o.sslrootcert != NULL || o.schema != NULL)) {
		cmd_fail("store", "migrate takes only --config");
		return 2;
	}
	if (copy && from == NULL) {
		cmd_fail("store", "copy needs --from lmdb:DIR (or a URL)");
		return 2;
	}
	if (copy && to == NULL && config == NULL) {
		cmd_fail("store", "copy needs --to STORE or --config FILE");
		return 2;
	}
	return copy ? do_copy(from, to, config, &o) : do_migrate(config);
}
