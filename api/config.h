/*
 * config.h - the server configuration file (YAML).
 *
 *   listen: 127.0.0.1:8787          # host:port, [v6]:port or unix:/path
 *   data: /var/lib/jit-ssh          # LMDB environment + CA key
 *   policies: /etc/jit-ssh/policies # a file or a directory of *.yaml
 *   tls: {cert: FILE, key: FILE}    # optional; both or neither
 *   clock_skew: 60s                 # cert valid_after = grant start - skew
 *   max_body: 64KiB                 # request bodies above this get 413
 *   max_wait: 60s                   # cap on GET /v1/requests/ID?wait=
 *   sweep_interval: 5s              # pending-timeout / grant-end sweeper
 *   request_timeout: 10s            # for a request's headers to arrive
 *   connection_timeout: 30s         # then silence before a drop
 *   threads: 0                      # handler threads; 0 = 32
 *   max_connections: 1024
 *   max_connections_per_address: 64
 *   rate_limit: 20                  # requests/second per token (burst 2x);
 *                                   # 0 disables; excess gets 429
 *   max_pending: 20                 # pending requests per user, over all
 *                                   # roles; 0 = no limit
 *   metrics_token_file: FILE        # optional: GET /metrics then needs
 *                                   # "Authorization: Bearer" + its token
 *   web:                            # the web page's sign-in sessions
 *     session_idle: 30m             # ends after this long without use
 *     session_max: 12h              # ends this long after sign-in
 *     origin: https://jit.example   # the page's public origin, when a
 *                                   # proxy terminates TLS (default: the
 *                                   # Host header, https under tls:)
 *   public_url: https://jit.example.com   # links in notifications
 *   notify: [...]                   # notification endpoints
 *                                   # (notify_config.h)
 *   host_domains: [example.com]     # the @cert-authority line names
 *                                   # *.example.com (none: "*")
 *   host_cert_validity: 30d         # host certificates (10s to 365d)
 *   oidc:                           # single sign-on (docs/CONFIG.md)
 *     issuer: https://idp.example   # https (http only on loopback)
 *     client_id: jit-ssh            # the web page's client (required)
 *     cli_client_id: jit-ssh-cli    # jit-ssh's public client (device
 *                                   # flow); default client_id
 *     client_secret_file: FILE      # client_id's secret (web page)
 *     username_claim: preferred_username   # or email
 *     groups_claim: groups          # optional: adds to policy groups
 *     scopes: openid profile email  # asked for (default; + groups)
 *     session_ttl: 12h              # sessions signed in this way
 *     ca_file: FILE                 # the provider's TLS roots
 *   store: lmdb                     # or a postgresql:// URL, or:
 *   store:
 *     url: postgresql://jit@db.example/jit
 *     password_file: /etc/jit-ssh/db-password   # first line
 *     sslmode: verify-full          # disable .. verify-full (libpq's)
 *     sslrootcert: /etc/jit-ssh/db-ca.crt
 *     schema: jit                   # default: the connection's
 *     connections: 8                # read connections per server
 *
 * The loader is strict like the policy loader: an unknown key, a wrong
 * type or a bad value fails with "FILE:LINE: FIELD: message".  Relative
 * paths in a file are taken as given (relative to the server's working
 * directory), matching the embedded defaults.
 *
 * Ownership: a struct jit_config owns its strings; jit_config_release()
 * frees them and re-initialises the struct to the defaults' zero state.
 */
#ifndef JIT_CONFIG_H
#define JIT_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "notify_config.h"

#define JIT_CONFIG_DEFAULT_LISTEN "127.0.0.1:8787"
#define JIT_CONFIG_DEFAULT_DATA "./jit-data"
#define JIT_CONFIG_DEFAULT_POLICIES "policies/examples/"
#define JIT_CONFIG_MAX_FILE (1024 * 1024)
#define JIT_CONFIG_MAX_HOST_DOMAINS 64
#define JIT_CONFIG_DEFAULT_HOST_VALIDITY (30ull * 86400)

enum jit_listen_kind {
	JIT_LISTEN_INET = 1,   /* IPv4 host:port */
	JIT_LISTEN_INET6,      /* [v6]:port */
	JIT_LISTEN_UNIX,       /* unix:/path */
};

struct jit_listen {
	enum jit_listen_kind kind;
	char *host;            /* address text (no brackets), or socket path */
	unsigned port;         /* 0 for unix; 0 also allowed = any free port */
};

/* The oidc: section; issuer NULL = no single sign-on.  Strings owned. */
struct jit_config_oidc {
	char *issuer;
	char *client_id;
	char *cli_client_id;         /* NULL = client_id */
	char *client_secret_file;    /* NULL = no web sign-in */
	char *username_claim;        /* NULL = preferred_username */
	char *groups_claim;          /* NULL = none */
	char *scopes;                /* NULL = the default */
	char *ca_file;               /* NULL = the system's roots */
	uint64_t session_ttl;        /* seconds */
};

struct jit_config {
	char *listen_text;     /* as written, for logs */
	struct jit_listen listen;
	char *data;
	char *policies;
	char *tls_cert;        /* both NULL = plain HTTP */
	char *tls_key;
	uint64_t clock_skew;   /* seconds */
	size_t max_body;       /* bytes */
	uint64_t max_wait;     /* seconds */
	uint64_t sweep_interval;     /* seconds */
	uint64_t connection_timeout; /* seconds */
	uint64_t request_timeout;    /* seconds */
	unsigned threads;            /* handler threads; 0 = default */
	unsigned max_connections;
	unsigned max_connections_per_address;
	unsigned rate_limit;         /* per token per second; 0 = off */
	unsigned max_pending;        /* per user; 0 = no limit */
	char *metrics_token_file;    /* NULL = /metrics needs no token */
	uint64_t web_session_idle;   /* seconds */
	uint64_t web_session_max;    /* seconds */
	char *web_origin;            /* "https://host[:port]" or NULL */
	char *public_url;            /* NULL: notifications carry no link */
	struct jit_notify_endpoint *notify;   /* nnotify endpoints */
	size_t nnotify;
	char **host_domains;         /* DNS names (letters, digits, '-',
	                                '.'), nhost_domains of them */
	size_t nhost_domains;
	uint64_t host_cert_validity; /* seconds */
	struct jit_config_oidc oidc;
	int from_file;               /* 0 = embedded defaults */
	/* store: NULL url = LMDB in data; else PostgreSQL (store.h's
	 * jit_store_options; NULL = not given) */
	char *store_url;
	char *store_password_file;
	char *store_sslmode;
	char *store_sslrootcert;
	char *store_schema;
	unsigned store_connections;  /* 0 = the store's default */
};

#define JIT_CONFIG_DEFAULT_MAX_PENDING 20
#define JIT_CONFIG_SECRET_MIN 16     /* bytes of a token we ask for */
#define JIT_CONFIG_SECRET_MAX 1024

/* Fill c with the embedded defaults (allocates: release afterwards). */
int jit_config_defaults(struct jit_config *c);

/* Parse YAML text.  name is used in error messages.  On error c is left
 * released, and err (if non-NULL) receives "NAME:LINE: FIELD: message".
 * Errors: INVALID_FORMAT (syntax or a bad field), ALLOC. */
int jit_config_parse(const char *name, const unsigned char *data, size_t len,
    struct jit_config *c, char *err, size_t errlen);

/* Read and parse a file (at most JIT_CONFIG_MAX_FILE bytes).  File errors
 * are NOT_FOUND, PERMISSION, ... with err naming the file. */
int jit_config_load(const char *path, struct jit_config *c, char *err,
    size_t errlen);

void jit_config_release(struct jit_config *c);

struct jit_store;

/*
 * Open the store c configures: LMDB in data (NULL: c->data), or the
 * PostgreSQL database of c->store_url, with flags (store.h).  err
 * receives a message for the user on failure ("DIR: ..." or the
 * database's "password authentication failed ..."); errors as
 * jit_store_open_opts().
 */
int jit_config_open_store(const struct jit_config *c, const char *data,
    unsigned flags, struct jit_store **out, char *err, size_t errlen);

/* Read a secret from path (metrics_token_file with min
 * JIT_CONFIG_SECRET_MIN; oidc.client_secret_file, whose length is the
 * provider's, with 1): the file's one line without its line end, min to
 * JIT_CONFIG_SECRET_MAX printable ASCII characters without spaces.  A
 * file group or others may read or write is refused (PERMISSION), as is
 * a symbolic link or anything else that is no regular file; the checks
 * are of the one file read.  *out is the secret (caller wipes and
 * frees); what else was read is wiped.  Errors: those of reading,
 * PERMISSION, INVALID_FORMAT, with err saying what ("PATH: ..."). */
int jit_config_read_secret(const char *path, size_t min, char **out,
    char *err, size_t errlen);

/* Parse a listen address ("127.0.0.1:8787", "[::1]:8787",
 * "localhost:80", "unix:/run/x.sock") into l (release with
 * jit_listen_release).  INVALID_FORMAT on a bad address. */
int jit_listen_parse(const char *s, struct jit_listen *l);
void jit_listen_release(struct jit_listen *l);

/* Parse a size "65536", "64KiB", "64K", "1MiB", "1M" (binary units) into
 * bytes; INVALID_FORMAT on junk, zero or more than 1 GiB. */
int jit_parse_size(const char *s, size_t *out);

#endif
