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
 *   connection_timeout: 30s         # idle or slow clients are dropped
 *   threads: 0                      # 0 = a thread per connection
 *   max_connections: 256
 *   rate_limit: 20                  # requests/second per token (burst 2x);
 *                                   # 0 disables; excess gets 429
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

#define JIT_CONFIG_DEFAULT_LISTEN "127.0.0.1:8787"
#define JIT_CONFIG_DEFAULT_DATA "./jit-data"
#define JIT_CONFIG_DEFAULT_POLICIES "policies/examples/"
#define JIT_CONFIG_MAX_FILE (1024 * 1024)

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
	unsigned threads;            /* 0 = thread per connection */
	unsigned max_connections;
	unsigned rate_limit;         /* per token per second; 0 = off */
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

/* Parse a listen address ("127.0.0.1:8787", "[::1]:8787",
 * "localhost:80", "unix:/run/x.sock") into l (release with
 * jit_listen_release).  INVALID_FORMAT on a bad address. */
int jit_listen_parse(const char *s, struct jit_listen *l);
void jit_listen_release(struct jit_listen *l);

/* Parse a size "65536", "64KiB", "64K", "1MiB", "1M" (binary units) into
 * bytes; INVALID_FORMAT on junk, zero or more than 1 GiB. */
int jit_parse_size(const char *s, size_t *out);

#endif
