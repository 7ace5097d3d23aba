/*
 * client.h - internals of jit-ssh shared between its files.
 *
 * Modules:
 *   config.c   ~/.config/jit-ssh/config: load, environment and flag
 *              overrides, save (0600)
 *   http.c     the only file that includes curl/curl.h: JSON requests to
 *              the server with the bearer token, TLS verification always
 *              on, Ctrl-C aborts a transfer promptly
 *   install.c  ~/.ssh/jit/ files and the ssh-agent identities of a role
 *   login.c    jit-ssh login: request, long-poll, verify, install
 *   sso.c      single sign-on: the device authorization grant (RFC
 *              8628) at the server's identity provider, then a session
 *              token from POST /v1/sessions
 *   cmds.c     every other subcommand
 *   output.c   what is printed about requests, with the server's text
 *              made inert (control characters, bidi overrides escaped)
 *   main.c     argument parsing, dispatch, --help, exit codes
 *
 * Names the client defines start with client_ (functions, structs) so
 * that they never shadow the server's jit_ names in api/ or the library's
 * in ca/: a grep for a name finds one definition.
 *
 * Subcommands print to stdout (human text, or JSON with --json) and put
 * exactly one line "jit-ssh: message" on stderr when they fail; they
 * return one of the JIT_EXIT_* codes.  Every line that can carry text
 * from the server is written by client_line(), client_fail() or
 * client_print_json() (output.c), never by a bare printf.
 */
#ifndef CLIENT_H
#define CLIENT_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "key.h"

struct jit_cert;

/* Exit codes (documented in --help). */
#define JIT_EXIT_OK 0
#define JIT_EXIT_ERROR 1        /* server down, HTTP/IO errors, ... */
#define JIT_EXIT_USAGE 2
#define JIT_EXIT_DENIED 3
#define JIT_EXIT_ENDED 4        /* cancelled, expired, revoked, ended,
                                   timed out */
#define JIT_EXIT_CERT 5         /* certificate refused (verification) */
#define JIT_EXIT_INTERRUPTED 130 /* Ctrl-C; the request stays pending */

/* ------------------------------------------------------------------ */
/* config.c */

struct client_config {
	char *path;        /* config file path (HOME-relative default) */
	char *url;         /* server base URL, no trailing slash */
	char *token;       /* bearer token (secret: wiped on free) */
	char *ca_key;      /* pinned CA public key line, or NULL */
	char *tls_ca;      /* CA bundle for TLS, or NULL (system store) */
	int sso;           /* "sso = yes": the token is a session from
	                      single sign-on, renewed by signing in again */
	char *token_expires;   /* the session token's end (RFC 3339) */
	int token_from_env;    /* token came from JIT_SSH_TOKEN or a flag */
	int from_file;     /* the config file existed */
};

/* Load path (NULL = default path), then apply JIT_SSH_URL /
 * JIT_SSH_TOKEN.  A missing file is not an error.  On error msg
 * receives one line. */
int client_config_load(const char *path, struct client_config *c, char *msg,
    size_t msglen);
/* The same without the environment overrides. */
int client_config_load_file(const char *path, struct client_config *c,
    char *msg, size_t msglen);
/* Write c to c->path with mode 0600 (directory 0700). */
int client_config_save(const struct client_config *c, char *msg, size_t msglen);
void client_config_release(struct client_config *c);
/* Replace a string field (NULL allowed); returns 0 or ALLOC. */
int client_config_set(char **field, const char *value);
/* Store a session token from single sign-on in the file at path (the
 * file as it is, without environment or flag overrides): token, its end
 * and "sso = yes".  On error msg receives one line. */
int client_config_store_session(const char *path, const char *token,
    const char *expires, char *msg, size_t msglen);

/*
 * Read an API token: the first line of the file path, or of standard
 * input when path is "-" (asked for without echo on a terminal; nothing
 * after the line is read).  Surrounding blanks are dropped; an empty
 * token or one with a space or control character inside is refused
 * (INVALID_FORMAT).  *out is a new string, a secret: wipe it before
 * free.  On error msg receives one line naming the source.
 */
int client_token_read(const char *path, char **out, char *msg,
    size_t msglen);

/* $HOME (or the passwd entry) joined with rel, as a new string. */
char *client_home_path(const char *rel);

/* ------------------------------------------------------------------ */
/* http.c */

/* Set by the SIGINT handler; a transfer in progress aborts soon after. */
extern volatile sig_atomic_t client_interrupted;
void client_install_sigint(void);

/* Called about once a second while a transfer waits (live progress). */
typedef void (*client_http_tick_fn)(void *ctx);

struct client_http_result {
	long status;        /* HTTP status, 0 if no response */
	char *body;         /* NUL-terminated, may be "" */
	size_t len;
	char *content_type;
	json_t *json;       /* parsed body when it is JSON, else NULL */
};

/* Global init/cleanup of libcurl. */
int client_http_global_init(void);
void client_http_global_cleanup(void);

/*
 * Perform METHOD base_url+path with body (JSON object, may be NULL) and
 * the bearer token if any.  timeout_s bounds the whole transfer.
 * Returns 0 when a response arrived (any status), JIT_ERR_HTTP when
 * not (msg says why, in one line), JIT_ERR_SYSTEM with msg "interrupted"
 * after Ctrl-C.  res is released by client_http_result_release().
 */
int client_http_call(const struct client_config *c, const char *method,
    const char *path, json_t *body, long timeout_s, client_http_tick_fn tick,
    void *tick_ctx, struct client_http_result *res, char *msg, size_t msglen);
void client_http_result_release(struct client_http_result *res);

/*
 * GET url (form NULL) or POST the application/x-www-form-urlencoded form
 * to the identity provider: an absolute https URL, or http on a
 * loopback address (checked here); the system's TLS roots, no bearer
 * token, no redirects.  Results as client_http_call; res->json is the
 * body parsed whatever its content type.
 */
int client_http_idp(const char *url, const char *form, long timeout_s,
    struct client_http_result *res, char *msg, size_t msglen);
/* 1 if url may reach the identity provider (see client_http_idp). */
int client_http_idp_url_ok(const char *url);

/* One line describing a non-2xx response: "401 ...: detail". */
void client_http_describe_error(const struct client_http_result *res, char *msg,
    size_t msglen);

/*
 * Convenience: call and require a 2xx JSON (or, with want_text, any)
 * response.  On failure prints "jit-ssh: ..." to stderr and returns
 * JIT_EXIT_ERROR (or JIT_EXIT_INTERRUPTED); 0 on success.
 */
int client_api_call(const struct client_config *c, const char *method,
    const char *path, json_t *body, int want_text,
    struct client_http_result *res);

/* ------------------------------------------------------------------ */
/* sso.c */

/*
 * Sign in through the server's identity provider: GET /v1/oidc, the
 * provider's discovery document, the device authorization grant (the
 * verification URL and code go to stderr, and to a browser through
 * xdg-open when DISPLAY or WAYLAND_DISPLAY is set), polling its token
 * endpoint, then POST /v1/sessions with the ID token.  On success
 * c->token, c->token_expires and c->sso are the new session and it is
 * stored in c->path.  Prints one "jit-ssh: ..." line on failure and
 * returns a JIT_EXIT_* code.
 */
int client_sso_sign_in(struct client_config *c);

/*
 * Before a command that needs a token: sign in (client_sso_sign_in)
 * when the configuration says sso and its session has ended or ends
 * within a minute, or when there is no token at all and the server
 * offers single sign-on.  A token from JIT_SSH_TOKEN or a flag is used
 * as it is.  JIT_EXIT_OK when there is a token to use.
 */
int client_sso_ensure(struct client_config *c);

/* ------------------------------------------------------------------ */
/* install.c */

/* "jit-ssh:ROLE", the comment of the agent identities of a role. */
#define CLIENT_AGENT_COMMENT_PREFIX "jit-ssh:"

/* Role names become file names: [A-Za-z0-9._-], not starting with '.',
 * at most 64 bytes. */
int client_role_name_ok(const char *role);

/* ~/.ssh/jit (created 0700 with ~/.ssh when missing if create). */
int client_ssh_jit_dir(int create, char **out, char *msg, size_t msglen);

/*
 * Install a verified certificate for role: key file and certificate
 * file under ~/.ssh/jit/, then (unless no_agent) the agent identity
 * with the given lifetime, after removing older identities of the role.
 * key_src is the path of the private key file to install as ~/.ssh/jit/ROLE:
 * renamed into place when owned (a pending key), else symlinked.
 * *agent_status receives 1 added, 0 no agent, -1 agent refused.
 */
int client_install(const char *role, const char *key_src, int key_owned,
    const struct jit_key *key, const char *cert_line,
    const unsigned char *cert_blob, size_t cert_len, uint32_t lifetime,
    int no_agent, int *agent_status, char *msg, size_t msglen);

/* The comment of the host CA's key in its known_hosts line, by which
 * setup finds the line it wrote before. */
#define CLIENT_HOST_CA_COMMENT "jit-ssh-host-ca"

/*
 * Put line (an "@cert-authority PATTERNS KEY jit-ssh-host-ca" line) into
 * ~/.ssh/known_hosts (created with ~/.ssh when missing), replacing any
 * other host CA line that ends with that comment; other lines are kept
 * as they were, and the file is not rewritten when nothing changes.
 * *path receives the file's path (new string).
 */
int client_known_hosts_put(const char *line, char **path, char *msg,
    size_t msglen);

/* Remove a role's agent identities and files (role NULL = every role).
 * *nroles receives how many roles had something removed. */
int client_uninstall(const char *role, size_t *nroles, size_t *nagent,
    char *msg, size_t msglen);

/* The longest request ID client_request_id_ok() takes. */
#define CLIENT_ID_MAX 64

/* A certificate installed as ~/.ssh/jit/ROLE-cert.pub. */
struct client_installed {
	char *role;
	char *path;                /* the certificate file */
	char request_id[CLIENT_ID_MAX + 1]; /* from its key id "USER req=ID
	                              role=ROLE"; "" when it has none */
	struct jit_cert *cert;
};

/*
 * The certificates installed under ~/.ssh/jit/ (only ROLE's when role is
 * not NULL), sorted by role; files that do not parse are left out, a
 * missing directory has none.  *out is a new array of *n entries, freed
 * with client_installed_free().  On error msg says why.
 */
int client_installed_list(const char *role, struct client_installed **out,
    size_t *n, char *msg, size_t msglen);
void client_installed_free(struct client_installed *v, size_t n);

/* Remove cert from ssh-agent by its blob; *removed is 1 when the agent
 * held it.  No agent, or an agent without it, is not an error. */
int client_agent_forget(const struct jit_cert *cert, int *removed);

/*
 * Keys made for requests live in ~/.ssh/jit/pending/ until the
 * certificate is installed.  client_pending_path() is the path of
 * pending/NAME (the directory itself for NULL) as a new string, NULL on
 * error; create makes the directories.  client_pending_forget() deletes
 * the key of request id (nothing there is fine); client_pending_ids()
 * lists the request IDs that have a key there (a new array of new
 * strings); client_pending_clear() deletes every file there, *nkeys
 * receiving how many were keys.
 */
char *client_pending_path(const char *name, int create);
void client_pending_forget(const char *id);
int client_pending_ids(char ***ids, size_t *n);
int client_pending_clear(size_t *nkeys);

/* ------------------------------------------------------------------ */
/* cmds.c / login.c: option values collected by main.c */

struct client_opts {
	int json;
	int yes;
	int pending;
	int no_agent;
	int no_wait;
	int revoke;
	int sso;
	int help;
	const char *url, *token, *ca_key_file, *tls_ca, *config;
	const char *duration, *reason, *key, *resume, *comment, *timeout;
	int nargs;
	char **args;       /* positionals after the subcommand */
};

/* Load config and apply flags; prints the error itself. */
int client_opts_config(const struct client_opts *o, struct client_config *c);
/* The same, and then make sure there is a token (client_sso_ensure). */
int client_opts_config_auth(const struct client_opts *o,
    struct client_config *c);
/* The pinned CA key (config or --ca-key), or a printed error. */
int client_pinned_ca(const struct client_config *c, struct jit_key **out);

int client_cmd_setup(const struct client_opts *o);
int client_cmd_login(const struct client_opts *o);
int client_cmd_status(const struct client_opts *o);
int client_cmd_list(const struct client_opts *o);
int client_cmd_approve(const struct client_opts *o);
int client_cmd_deny(const struct client_opts *o);
int client_cmd_cancel(const struct client_opts *o);
int client_cmd_revoke(const struct client_opts *o);
int client_cmd_logout(const struct client_opts *o);
int client_cmd_ca(const struct client_opts *o);
int client_cmd_whoami(const struct client_opts *o);

/* Validate a request ID before putting it in a URL path. */
int client_request_id_ok(const char *id);

/* ------------------------------------------------------------------ */
/* output.c */

/*
 * Server text made inert for a terminal, as a new string (NULL when out
 * of memory): every C0 control (newline and tab included), DEL and C1
 * control, every bidi override or isolate (U+202A..U+202E,
 * U+2066..U+2069) and every byte that is not part of valid UTF-8 is
 * written as \xHH (one byte) or \uHHHH (a code point); other text,
 * UTF-8 included, is kept.
 */
char *client_escape(const char *s);

/* Print one line to f: fmt formatted, then escaped as client_escape()
 * does (so a newline inside an argument cannot start a line), then
 * "\n".  fmt itself must not end in a newline. */
void client_line(FILE *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Print "jit-ssh: message\n" to stderr, escaped the same way (stdout is
 * flushed first). */
void client_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print j as indented JSON and a newline; DEL, C1 controls and bidi
 * overrides inside strings are written as \uHHHH (the same JSON). */
void client_print_json(const json_t *j);

/* Print a request as a block of human text, or as JSON. */
void client_print_request(const json_t *req, int json);
/* Print a list of requests as a table: ID, STATE, USER first, then
 * role, start, duration and reason; a pending request is followed by a
 * line saying what it still needs. */
void client_print_requests(const json_t *list);
/*
 * What a request still needs, in words, from its "missing" member:
 * "needs 1 more approval from group:security and 1 more from any
 * approver"; "" when nothing is missing.  A request without "missing"
 * (an older server) gives "N of M approvals".  out is always
 * terminated, cut at len.
 */
void client_missing_words(const json_t *req, char *out, size_t len);
/* The grant's window in words: "T1 to T2 (1h)" once approved, else
 * "starts at approval, lasts 1h" or "starts at T (or at approval, if
 * later), lasts 1h". */
void client_window_words(const json_t *req, char *out, size_t len);
/* The strings of a JSON array joined with sep (others skipped). */
void client_strings_of(const json_t *arr, const char *sep, char *out,
    size_t len);
/* Why a request ended, in words, from its "end_reason" member
 * ("policy_changed": "a policy change ended it"); NULL when it has none
 * (an open request, an older server) or one this client does not know. */
const char *client_end_words(const json_t *req);
/* 1 for the states a request never leaves (denied, cancelled, expired,
 * revoked, ended); 0 for pending, approved, NULL and unknown names. */
int client_state_final(const char *state);
/* Members of JSON objects from the server: NULL / dflt when absent or
 * of another type. */
const char *client_json_str(const json_t *o, const char *key);
long long client_json_int(const json_t *o, const char *key, long long dflt);

#endif
