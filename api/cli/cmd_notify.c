/*
 * cmd_notify.c - `jit-ca notify list|retry|test`: the notification
 * outbox (notify.h).
 *
 * list and retry work on the data directory while the server runs (the
 * store is opened without the server lock); a retried entry is picked up
 * by the server's delivery thread within a second.  test sends one test
 * event to a configured endpoint from this process, bypassing the outbox.
 */
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cmds.h"
#include "config.h"
#include "err.h"
#include "notify.h"
#include "store.h"
#include "util.h"

static void
usage(FILE *f)
{
	fprintf(f, "usage: jit-ca notify list [--failed] [--json] [--data DIR] "
	    "[--config FILE]\n"
	    "       jit-ca notify retry ID [--data DIR] [--config FILE]\n"
	    "       jit-ca notify test NAME [--to ADDRESS] [--config FILE]\n\n"
	    "list   shows the notifications not delivered yet: queued ones "
	    "(waiting for\n"
	    "       delivery or a retry) and failed ones (given up); "
	    "--failed only these.\n"
	    "retry  queues notification ID (from list) again, to be sent "
	    "now.\n"
	    "test   sends a test event to endpoint NAME of the config's "
	    "notify list\n"
	    "       and says whether it was delivered (--to: the address, "
	    "for email).\n\n"
	    "  --data DIR      data directory (default: the config's, else "
	    "%s)\n"
	    "  --config FILE   server config (data directory, endpoints)\n"
	    "  --failed        list only the notifications given up on\n"
	    "  --json          list as JSON lines (the outbox records)\n"
	    "  --to ADDRESS    test: the recipient of an email endpoint\n\n"
	    "Exit status: 0 success, 1 failure, 2 usage error.\n",
	    JIT_CONFIG_DEFAULT_DATA);
}

struct list_ctx {
	int json;
	int failed;
	size_t n;
};

static int
print_entry(const char *endpoint, uint64_t seq, enum jit_outbox_state st,
    json_t *rec, void *vctx)
{
	struct list_ctx *l = vctx;
	const char *err = json_string_value(json_object_get(rec,
	    "last_error"));
	json_int_t next = json_integer_value(json_object_get(rec, "next_at"));
	char when[JIT_TIME_LEN];
	const char *req;

	(void)seq;
	l->n++;
	if (l->json) {
		json_t *o = json_pack("{s:s, s:s, s:O}", "endpoint", endpoint,
		    "state", st == JIT_OUTBOX_FAILED ? "failed" : "queued",
		    "record", rec);
		char *js = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;

		json_decref(o);
		if (js == NULL)
			return JIT_ERR_ALLOC;
		printf("%s\n", js);
		free(js);
		return 0;
	}
	jit_format_time(next > 0 ? (uint64_t)next / 1000 : 0, when);
	req = json_string_value(json_object_get(rec, "request"));
	printf("%-15s %-12s %-7s %-16s %-15s %3lld  %-20s %s\n",
	    json_string_value(json_object_get(rec, "id")), endpoint,
	    st == JIT_OUTBOX_FAILED ? "failed" : "queued",
	    json_string_value(json_object_get(rec, "event")),
	    req != NULL ? req : "-",
	    (long long)json_integer_value(json_object_get(rec, "attempts")),
	    st == JIT_OUTBOX_FAILED ? "-" : when, err != NULL ? err : "-");
	return 0;
}

static int
list_fn(struct jit_store_txn *t, void *vctx)
{
	struct list_ctx *l = vctx;

	if (!l->json)
		printf("%-15s %-12s %-7s %-16s %-15s %3s  %-20s %s\n", "ID",
		    "ENDPOINT", "STATE", "EVENT", "REQUEST", "TRY", "NEXT",
		    "LAST ERROR");
	return jit_store_outbox_list(t, l->failed, print_entry, l);
}

static int
run_test(const struct jit_config *cfg, const char *name, const char *to)
{
	struct jit_notify_options no;
	struct jit_notify *n = NULL;
	struct passwd *pw = getpwuid(getuid());
	char err[512], actor[128];
	int r;

	snprintf(actor, sizeof(actor), "cli:%s", pw != NULL &&
	    pw->pw_name != NULL ? pw->pw_name : "unknown");
	memset(&no, 0, sizeof(no));
	no.endpoints = cfg->notify;
	no.nendpoints = cfg->nnotify;
	no.public_url = cfg->public_url;
	if ((r = jit_notify_new(&no, &n, err, sizeof(err))) != 0) {
		cmd_fail("notify", "%s", *err ? err : jit_err(r));
		return 1;
	}
	r = jit_notify_send_test(n, name, actor, to, err, sizeof(err));
	jit_notify_free(n);
	if (r != 0) {
		cmd_fail("notify", "test %s: %s", name, *err ? err :
		    jit_err(r));
		return r == JIT_ERR_INVALID_ARGUMENT ? 2 : 1;
	}
	fprintf(stderr, "jit-ca notify: test event delivered to %s\n", name);
	return 0;
}

int
cmd_notify(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "config", required_argument, NULL, 'c' },
		{ "failed", no_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ "to", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct jit_config cfg;
	struct jit_store *store = NULL;
	const char *data = NULL, *config = NULL, *to = NULL, *sub;
	char err[512];
	int c, failed = 0, json = 0, r, ret = 1, nargs;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	sub = argv[1];
	if (strcmp(sub, "list") != 0 && strcmp(sub, "retry") != 0 &&
	    strcmp(sub, "test") != 0) {
		cmd_fail("notify", "unknown subcommand '%s' (use list, retry "
		    "or test)", sub);
		return 2;
	}
	opterr = 0;
	optind = 2;
	while ((c = getopt_long(argc, argv, ":d:c:fjt:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd': data = optarg; break;
		case 'c': config = optarg; break;
		case 'f': failed = 1; break;
		case 'j': json = 1; break;
		case 't': to = optarg; break;
		case 'h':
			usage(stdout);
			return 0;
		case ':':
			cmd_fail("notify", "option '%s' needs a value",
			    argv[optind - 1]);
			return 2;
		default:
			cmd_fail("notify", "unknown option '%s' (try jit-ca "
			    "notify --help)", argv[optind - 1]);
			return 2;
		}
	}
	nargs = strcmp(sub, "list") == 0 ? 0 : 1;
	if (argc - optind != nargs) {
		cmd_fail("notify", nargs == 0 ? "list takes no arguments" :
		    "%s needs exactly one argument (try jit-ca notify --help)",
		    sub);
		return 2;
	}
	if (strcmp(sub, "test") == 0 && config == NULL) {
		cmd_fail("notify", "test needs --config FILE (the endpoints)");
		return 2;
	}
	if (cmd_config_load("notify", config, &cfg, &data, NULL) != 0)
		return 1;

	if (strcmp(sub, "test") == 0) {
		ret = run_test(&cfg, argv[optind], to);
		goto out;
	}
	if (strcmp(sub, "list") == 0) {
		struct list_ctx l = { json, failed, 0 };

		if ((r = jit_config_open_store(&cfg, data,
		    JIT_STORE_READONLY, &store, err, sizeof(err))) != 0) {
			cmd_fail("notify", "%s", err);
			goto out;
		}
		if ((r = jit_store_read(store, list_fn, &l)) != 0) {
			cmd_fail("notify", "%s", jit_err(r));
			goto out;
		}
	} else {
		const char *id = argv[optind];

		if ((r = jit_config_open_store(&cfg, data, 0, &store, err,
		    sizeof(err))) != 0) {
			cmd_fail("notify", "%s", err);
			goto out;
		}
		if ((r = jit_notify_retry(store, id)) != 0) {
			cmd_fail("notify", "%s: %s", id, r == JIT_ERR_NOT_FOUND ?
			    "no notification with this id (see jit-ca notify "
			    "list)" : jit_err(r));
			goto out;
		}
		fprintf(stderr, "jit-ca notify: %s queued again\n", id);
	}
	ret = 0;
out:
	jit_store_close(store);
	jit_config_release(&cfg);
	return ret;
}
