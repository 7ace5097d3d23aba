/*
 * notify_config.h - the notification endpoints of the server config
 * (config.h's "notify:" list and "public_url"), as api/config.c reads
 * them.  docs/CONFIG.md describes every key:
 *
 *   notify:
 *     - name: chat                       # [A-Za-z0-9._-], 1-64, unique
 *       url: https://hooks.example.com/services/T0/B0/x
 *       format: slack                    # slack | json (default json)
 *       events: [request.create, request.approve]
 *       roles: [prod-db]                 # optional: only these roles
 *       secret_file: /etc/jit-ssh/chat.secret   # optional HMAC key
 *       timeout: 10s                     # per attempt
 *       backoff: 30s                     # first retry; doubles each time
 *       retry_for: 24h                   # then the entry is given up
 *     - name: mail
 *       smtp: smtp://127.0.0.1:25        # instead of url: email
 *       from: jit-ssh@example.com
 *       events: [request.create, request.approve, request.deny]
 *
 * URLs.  A webhook url and public_url must be https://, or http:// to a
 * loopback address (127.0.0.0/8, [::1], localhost); an smtp endpoint is
 * smtps://HOST[:PORT], or smtp://HOST[:PORT], which must then use
 * STARTTLS unless HOST is a loopback address.  No user:password@ part
 * (credentials do not belong in a URL that is logged), no spaces or
 * control characters, at most 2048 bytes.
 *
 * Ownership: the arrays and strings belong to the config;
 * jit_notify_config_release() frees them.
 */
#ifndef JIT_NOTIFY_CONFIG_H
#define JIT_NOTIFY_CONFIG_H

#include <stddef.h>
#include <stdint.h>

struct jit_yaml_doc;
struct jit_yaml_node;

enum jit_notify_format {
	JIT_NOTIFY_JSON,   /* the event as JSON (docs/CONFIG.md) */
	JIT_NOTIFY_SLACK,  /* a Slack incoming-webhook message */
	JIT_NOTIFY_EMAIL,  /* mail to the people concerned (smtp endpoints) */
};

#define JIT_NOTIFY_NAME_MAX 64
#define JIT_NOTIFY_DEFAULT_TIMEOUT 10
#define JIT_NOTIFY_DEFAULT_BACKOFF 30
#define JIT_NOTIFY_DEFAULT_RETRY_FOR (24 * 3600)

struct jit_notify_endpoint {
	char *name;
	char *url;                   /* webhook or smtp(s):// URL */
	enum jit_notify_format format;
	int loopback;                /* url's host is a loopback address */
	char *from;                  /* email: the sender; else NULL */
	char **events;               /* audit event names, nevents > 0 */
	size_t nevents;
	char **roles;                /* nroles == 0: every role */
	size_t nroles;
	char *secret_file;           /* NULL: deliveries are not signed */
	uint64_t timeout;            /* seconds per attempt */
	uint64_t backoff;            /* seconds before the first retry */
	uint64_t retry_for;          /* seconds after the change to give up */
};

/*
 * The config's "notify" value n (a list of mappings, or null) into a new
 * array *out of *count endpoints (NULL and 0 for none).  Errors are the
 * document's fail code, with "FILE:LINE: notify[I].KEY: message" in its
 * error, or ALLOC; *out is then NULL.
 */
int jit_notify_config_parse(struct jit_yaml_doc *d,
    const struct jit_yaml_node *n, struct jit_notify_endpoint **out,
    size_t *count);

/* Free the n endpoints of v and v itself.  NULL is a no-op. */
void jit_notify_config_release(struct jit_notify_endpoint *v, size_t n);

/* The endpoint called name among the n of v, or NULL. */
const struct jit_notify_endpoint *jit_notify_config_find(
    const struct jit_notify_endpoint *v, size_t n, const char *name);

/* 1 if ep wants event for a request of role. */
int jit_notify_config_wants(const struct jit_notify_endpoint *ep,
    const char *event, const char *role);

/*
 * Check url as described above: smtp selects the smtp schemes, else
 * https (or loopback http).  0 and *loopback set, or -1 with a reason in
 * why.
 */
int jit_notify_url_check(const char *url, int smtp, int *loopback,
    char *why, size_t whylen);

#endif
