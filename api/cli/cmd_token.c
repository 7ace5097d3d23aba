/*
 * cmd_token.c - `jit-ca token create|list|revoke`: API tokens (auth.h).
 *
 * Works while the server runs: the store is opened without the server
 * lock.  The token is printed once on stdout and only its SHA-256 is
 * stored; list never shows tokens.  list also shows the session tokens
 * of single sign-on (kind sso), which revoke ends like any token.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "auth.h"
#include "buf.h"
#include "cmds.h"
#include "config.h"
#include "err.h"
#include "policy.h"
#include "store.h"
#include "util.h"

static void
usage(FILE *f)
{
	fprintf(f, "usage: jit-ca token create USER [--ttl 90d] [--data DIR] "
	    "[--policies PATH]\n"
	    "                           [--config FILE]\n"
	    "       jit-ca token list [--data DIR] [--config FILE] [--json]\n"
	    "       jit-ca token revoke ID [--data DIR] [--config FILE]\n\n"
	    "create  makes an API token for USER (who must exist in the "
	    "policy) and\n"
	    "        prints it once on stdout; only its SHA-256 is stored.\n"
	    "        Under the policy's tokens: automation_only only "
	    "token_users may\n"
	    "        hold one.\n"
	    "list    shows id, kind (token; sso: a session of jit-ssh's "
	    "single sign-on;\n"
	    "        session: the web page's), user, created, expires and "
	    "revoked\n"
	    "        (never tokens).\n"
	    "revoke  revokes the token or session with that id (from "
	    "list).\n\n"
	    "  --data DIR       data directory (default: the config's, else "
	    "%s)\n"
	    "  --policies PATH  policy file or directory (default: the "
	    "config's,\n"
	    "                   else %s)\n"
	    "  --config FILE    take data and policies from a server config\n"
	    "  --ttl DURATION   token lifetime (default 90d)\n"
	    "  --json           list as JSON lines\n\n"
	    "Exit status: 0 success, 1 failure, 2 usage error.\n",
	    JIT_CONFIG_DEFAULT_DATA, JIT_CONFIG_DEFAULT_POLICIES);
}

struct list_ctx {
	int json;
	size_t n;
};

/* The string member key of rec, or dflt when it is missing or no string. */
static const char *
rec_str(const json_t *rec, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(rec, key));

	return s != NULL ? s : dflt;
}

static int
print_token(const unsigned char hash[JIT_TOKEN_HASH_LEN], json_t *rec,
    void *vctx)
{
	struct list_ctx *l = vctx;

	(void)hash;
	l->n++;
	if (l->json) {
		char *s = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
		if (s == NULL)
			return JIT_ERR_ALLOC;
		printf("%s\n", s);
		free(s);
		return 0;
	}
	printf("%-15s %-7s %-20s %-21s %-21s %s\n", rec_str(rec, "id", "?"),
	    rec_str(rec, "kind", JIT_TOKEN_KIND_API), rec_str(rec, "user", "?"),
	    rec_str(rec, "created_at", "-"), rec_str(rec, "expires_at", "-"),
	    rec_str(rec, "revoked_at", "-"));
	return 0;
}

static int
list_fn(struct jit_store_txn *t, void *vctx)
{
	struct list_ctx *l = vctx;

	if (!l->json)
		printf("%-15s %-7s %-20s %-21s %-21s %s\n", "ID", "KIND",
		    "USER", "CREATED", "EXPIRES", "REVOKED");
	return jit_store_list_tokens(t, print_token, l);
}

int
cmd_token(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "policies", required_argument, NULL, 'p' },
		{ "config", required_argument, NULL, 'c' },
		{ "ttl", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct jit_config cfg;
	struct jit_store *store = NULL;
	struct jit_policy *policy = NULL;
	const char *data = NULL, *policies = NULL, *config = NULL, *sub,
	    *ttl_s = NULL;
	char err[1024], actor[128];
	uint64_t ttl = 0;
	int c, json = 0, r, ret = 1;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	sub = argv[1];
	if (strcmp(sub, "create") != 0 && strcmp(sub, "list") != 0 &&
	    strcmp(sub, "revoke") != 0) {
		cmd_fail("token", "unknown subcommand '%s' (use create, list "
		    "or revoke)", sub);
		return 2;
	}
	opterr = 0;
	optind = 2;
	while ((c = getopt_long(argc, argv, ":d:p:c:t:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'd': data = optarg; break;
		case 'p': policies = optarg; break;
		case 'c': config = optarg; break;
		case 't': ttl_s = optarg; break;
		case 'j': json = 1; break;
		case 'h':
			usage(stdout);
			return 0;
		case ':':
			cmd_fail("token", "option '%s' needs a value",
			    argv[optind - 1]);
			return 2;
		default:
			cmd_fail("token", "unknown option '%s' (try jit-ca "
			    "token --help)", argv[optind - 1]);
			return 2;
		}
	}
	if (strcmp(sub, "list") == 0 ? optind != argc : optind != argc - 1) {
		cmd_fail("token", strcmp(sub, "list") == 0 ?
		    "list takes no arguments" : "%s needs exactly one "
		    "argument (try jit-ca token --help)", sub);
		return 2;
	}
	if (ttl_s != NULL && (jit_parse_duration(ttl_s, &ttl) != 0 ||
	    ttl > JIT_TOKEN_MAX_TTL)) {
		cmd_fail("token", "--ttl: invalid duration '%s' (e.g. 30d, "
		    "at most 3660d)", ttl_s);
		return 2;
	}
	if (cmd_config_load("token", config, &cfg, &data, &policies) != 0)
		return 1;
	cmd_actor(actor, sizeof(actor));

	if (strcmp(sub, "create") == 0) {
		const char *user = argv[optind];
		struct jit_policy_error pe;
		char id[JIT_TOKEN_ID_LEN], exp[JIT_TIME_LEN], *tok = NULL;

		if ((r = jit_policy_load(policies, &policy, &pe)) != 0) {
			jit_policy_error_format(&pe, err, sizeof(err));
			cmd_fail("token", "policy: %s", *err ? err :
			    jit_err(r));
			goto out;
		}
		if (!jit_policy_user_exists(policy, user)) {
			cmd_fail("token", "user '%s' is not in the policy %s",
			    user, policies);
			goto out;
		}
		if (!jit_policy_may_hold_token(policy, user)) {
			cmd_fail("token", "user '%s' may not hold an API "
			    "token: the policy says tokens: automation_only "
			    "and its token_users do not name them (people "
			    "sign in through single sign-on)", user);
			goto out;
		}
		if ((r = jit_config_open_store(&cfg, data, 0, &store, err,
		    sizeof(err))) != 0) {
			cmd_fail("token", "%s", err);
			goto out;
		}
		if ((r = jit_auth_token_create(store, user, ttl, actor, &tok,
		    id)) != 0) {
			cmd_fail("token", "%s", jit_err(r));
			goto out;
		}
		jit_format_time(jit_now() + (ttl ? ttl :
		    JIT_TOKEN_DEFAULT_TTL), exp);
		printf("%s\n", tok);
		fflush(stdout);
		fprintf(stderr, "jit-ca token: created %s for %s, expires %s "
		    "(the token is shown only once)\n", id, user, exp);
		jit_wipe(tok, strlen(tok));
		free(tok);
	} else if (strcmp(sub, "list") == 0) {
		struct list_ctx l = { json, 0 };
		if ((r = jit_config_open_store(&cfg, data,
		    JIT_STORE_READONLY, &store, err, sizeof(err))) != 0) {
			cmd_fail("token", "%s", err);
			goto out;
		}
		if ((r = jit_store_read(store, list_fn, &l)) != 0) {
			cmd_fail("token", "%s", jit_err(r));
			goto out;
		}
	} else {
		const char *id = argv[optind];
		if ((r = jit_config_open_store(&cfg, data, 0, &store, err,
		    sizeof(err))) != 0) {
			cmd_fail("token", "%s", err);
			goto out;
		}
		if ((r = jit_auth_token_revoke(store, id, actor)) != 0) {
			cmd_fail("token", "%s: %s", id, r == JIT_ERR_NOT_FOUND ?
			    "no token with this id (see jit-ca token list)" :
			    jit_err(r));
			goto out;
		}
		fprintf(stderr, "jit-ca token: revoked %s\n", id);
	}
	ret = 0;
out:
	jit_store_close(store);
	jit_policy_free(policy);
	jit_config_release(&cfg);
	return ret;
}
