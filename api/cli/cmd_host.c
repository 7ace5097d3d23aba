/*
 * cmd_host.c - `jit-ca host token create|list|revoke`: host certificates
 * (hosts.h) from the command line.
 *
 * Works while the server runs: the store is opened without the server
 * lock, and no CA key is needed (the server signs when a host enrolls).
 * An enrollment token is printed once on stdout; only its SHA-256 is
 * stored.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cmds.h"
#include "config.h"
#include "err.h"
#include "hosts.h"
#include "store.h"
#include "util.h"

static void
usage(FILE *f)
{
	fprintf(f, "usage: jit-ca host token create --principal NAME "
	    "[--principal NAME ...] [--ttl 1h]\n"
	    "       jit-ca host list [--json]\n"
	    "       jit-ca host revoke ID\n"
	    "       (each with [--data DIR | --config FILE])\n\n"
	    "token create  makes a one-time enrollment token for a host "
	    "whose certificate\n"
	    "              names exactly these principals (host names or "
	    "addresses\n"
	    "              clients use) and prints it once on stdout; the "
	    "host runs\n"
	    "              jit-ssh-host-sync --enroll TOKEN.\n"
	    "list          shows the enrolled hosts: id, principals, key, "
	    "current\n"
	    "              certificate, revoked.\n"
	    "revoke        revokes host ID (from list): its certificates go "
	    "into the KRL\n"
	    "              (GET /v1/krl) and it can no longer renew.\n\n"
	    "  --data DIR        data directory (default: the config's, else "
	    "%s)\n"
	    "  --config FILE     take data from a server config\n"
	    "  -n, --principal NAME  repeatable, at most %d\n"
	    "  --ttl DURATION    how long the token may be used (default 1h, "
	    "at most 30d)\n"
	    "  --json            list as JSON lines\n\n"
	    "Exit status: 0 success, 1 failure, 2 usage error.\n",
	    JIT_CONFIG_DEFAULT_DATA, JIT_HOSTS_MAX_PRINCIPALS);
}

struct list_ctx {
	int json;
};

/* The principals of a host record, comma-separated, into buf. */
static void
principal_text(const json_t *host, char *buf, size_t len)
{
	const json_t *arr = json_object_get(host, "principals"), *v;
	size_t i, off = 0;
	int n;

	buf[0] = '\0';
	json_array_foreach(arr, i, v) {
		n = snprintf(buf + off, len - off, "%s%s", i > 0 ? "," : "",
		    json_string_value(v) != NULL ? json_string_value(v) : "?");
		if (n < 0 || (size_t)n >= len - off)
			break;
		off += (size_t)n;
	}
}

static const char *
str(const json_t *o, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? s : dflt;
}

static int
print_host(json_t *host, void *vctx)
{
	struct list_ctx *l = vctx;
	char names[512];
	char *s;

	if (l->json) {
		if ((s = json_dumps(host, JSON_COMPACT | JSON_SORT_KEYS)) ==
		    NULL)
			return JIT_ERR_ALLOC;
		printf("%s\n", s);
		free(s);
		return 0;
	}
	principal_text(host, names, sizeof(names));
	printf("%-8s %-32s %-51s %-8lld %-21s %s\n", str(host, "id", "?"),
	    names, str(host, "key_fingerprint", "?"),
	    (long long)json_integer_value(json_object_get(host, "serial")),
	    str(host, "valid_before", "-"), str(host, "revoked_at", "-"));
	return 0;
}

/* Options shared by the subcommands. */
struct opts {
	const char *data, *config, *ttl_s;
	const char *principals[JIT_HOSTS_MAX_PRINCIPALS];
	size_t nprincipals;
	int json;
};

/* Parse argv from optind; 0, or the exit status of a usage error. */
static int
parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lopts[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "config", required_argument, NULL, 'c' },
		{ "principal", required_argument, NULL, 'n' },
		{ "ttl", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, ":d:c:n:t:jh", lopts, NULL)) !=
	    -1) {
		switch (c) {
		case 'd': o->data = optarg; break;
		case 'c': o->config = optarg; break;
		case 't': o->ttl_s = optarg; break;
		case 'j': o->json = 1; break;
		case 'n':
			if (o->nprincipals == JIT_HOSTS_MAX_PRINCIPALS) {
				cmd_fail("host", "at most %d principals",
				    JIT_HOSTS_MAX_PRINCIPALS);
				return 2;
			}
			o->principals[o->nprincipals++] = optarg;
			break;
		case 'h':
			usage(stdout);
			return -1;
		case ':':
			cmd_fail("host", "option '%s' needs a value",
			    argv[optind - 1]);
			return 2;
		default:
			cmd_fail("host", "unknown option '%s' (try jit-ca host "
			    "--help)", argv[optind - 1]);
			return 2;
		}
	}
	return 0;
}

static int
token_create(struct jit_store *s, const struct opts *o, const char *who)
{
	char id[JIT_HOSTS_TOKEN_ID_LEN], exp[JIT_TIME_LEN], *tok = NULL;
	uint64_t ttl = 0, now = jit_now();
	int r;

	if (o->ttl_s != NULL)
		(void)jit_parse_duration(o->ttl_s, &ttl);
	if ((r = jit_hosts_token_create(s, o->principals, o->nprincipals,
	    ttl, now, who, &tok, id)) != 0) {
		cmd_fail("host", "%s", jit_err(r));
		return 1;
	}
	jit_format_time(now + (ttl != 0 ? ttl : JIT_HOSTS_TOKEN_DEFAULT_TTL),
	    exp);
	printf("%s\n", tok);
	fflush(stdout);
	fprintf(stderr, "jit-ca host: created enrollment token %s, usable "
	    "once until %s (the token is shown only once)\n", id, exp);
	jit_wipe(tok, strlen(tok));
	free(tok);
	return 0;
}

/* The checks that need no store; 0 or 2 after a message. */
static int
check_usage(const char *sub, int nargs, const struct opts *o)
{
	uint64_t ttl;
	size_t i, j;

	if (nargs != (strcmp(sub, "revoke") == 0)) {
		cmd_fail("host", strcmp(sub, "revoke") == 0 ?
		    "revoke needs exactly one host id (see jit-ca host list)" :
		    "unexpected argument (try jit-ca host --help)");
		return 2;
	}
	if (strcmp(sub, "token create") != 0) {
		if (o->nprincipals > 0 || o->ttl_s != NULL) {
			cmd_fail("host", "--principal and --ttl belong to "
			    "'host token create'");
			return 2;
		}
		return 0;
	}
	if (o->nprincipals == 0) {
		cmd_fail("host", "token create needs at least one "
		    "--principal NAME");
		return 2;
	}
	for (i = 0; i < o->nprincipals; i++) {
		if (!jit_hosts_principal_ok(o->principals[i])) {
			cmd_fail("host", "invalid principal '%s' (a host name "
			    "or address: letters, digits, '.', '-', '_', ':'; "
			    "no wildcards)", o->principals[i]);
			return 2;
		}
		for (j = 0; j < i; j++)
			if (strcmp(o->principals[i], o->principals[j]) == 0) {
				cmd_fail("host", "principal '%s' given twice",
				    o->principals[i]);
				return 2;
			}
	}
	if (o->ttl_s != NULL && (jit_parse_duration(o->ttl_s, &ttl) != 0 ||
	    ttl > JIT_HOSTS_TOKEN_MAX_TTL)) {
		cmd_fail("host", "--ttl: invalid duration '%s' (e.g. 1h, at "
		    "most 30d)", o->ttl_s);
		return 2;
	}
	return 0;
}

int
cmd_host(int argc, char **argv)
{
	struct jit_config cfg;
	struct jit_store *store = NULL;
	struct opts o;
	const char *sub;
	char who[128], err[512];
	size_t n;
	int r, ret = 1, first;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "token") == 0 && argc >= 3 &&
	    strcmp(argv[2], "create") == 0) {
		sub = "token create";
		first = 3;
	} else if (strcmp(argv[1], "list") == 0 ||
	    strcmp(argv[1], "revoke") == 0) {
		sub = argv[1];
		first = 2;
	} else {
		cmd_fail("host", "unknown subcommand '%s' (use token create, "
		    "list or revoke)", argv[1]);
		return 2;
	}
	memset(&o, 0, sizeof(o));
	opterr = 0;
	optind = first;
	if ((r = parse_opts(argc, argv, &o)) != 0)
		return r < 0 ? 0 : r;
	if ((r = check_usage(sub, argc - optind, &o)) != 0)
		return r;
	if (cmd_config_load("host", o.config, &cfg, &o.data, NULL) != 0)
		return 1;
	cmd_actor(who, sizeof(who));
	if ((r = jit_config_open_store(&cfg, o.data, strcmp(sub, "list") ==
	    0 ? JIT_STORE_READONLY : 0, &store, err, sizeof(err))) != 0) {
		cmd_fail("host", "%s", err);
		goto out;
	}
	if (strcmp(sub, "token create") == 0) {
		ret = token_create(store, &o, who);
	} else if (strcmp(sub, "list") == 0) {
		struct list_ctx l = { o.json };
		if (!o.json)
			printf("%-8s %-32s %-51s %-8s %-21s %s\n", "ID",
			    "PRINCIPALS", "KEY", "SERIAL", "EXPIRES",
			    "REVOKED");
		if ((r = jit_hosts_list(store, print_host, &l)) != 0)
			cmd_fail("host", "%s", jit_err(r));
		ret = r != 0;
	} else if ((r = jit_hosts_revoke(store, argv[optind], who, jit_now(),
	    &n)) != 0) {
		cmd_fail("host", "%s: %s", argv[optind],
		    r == JIT_ERR_NOT_FOUND ?
		    "no host with this id (see jit-ca host list)" :
		    r == JIT_ERR_CONFLICT ? "already revoked" : jit_err(r));
	} else {
		fprintf(stderr, "jit-ca host: revoked %s; %zu certificate%s "
		    "in the KRL\n", argv[optind], n, n == 1 ? "" : "s");
		ret = 0;
	}
out:
	jit_store_close(store);
	jit_config_release(&cfg);
	return ret;
}
