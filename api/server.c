/* server.c - see server.h. */
#include "server.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>

#include "audit.h"
#include "auth.h"
#include "buf.h"
#include "cadir.h"
#include "err.h"
#include "api.h"
#include "http.h"
#include "jit_version.h"
#include "key.h"
#include "notify.h"
#include "oidc.h"
#include "policy.h"
#include "store.h"
#include "util.h"

#define SHUTDOWN_GRACE_MS 10000

static void
logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
logmsg(const char *fmt, ...)
{
	char ts[JIT_TIME_LEN], line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	jit_format_time(jit_now(), ts);
	fprintf(stderr, "jit-ca: %s %s\n", ts, line);
}

/* ---- sweeper thread ------------------------------------------------- */

struct sweeper {
	struct jit_api *api;
	struct jit_store *store;
	uint64_t interval;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int stop;
	pthread_t thread;
};

static void *
sweeper_main(void *arg)
{
	struct sweeper *sw = arg;
	unsigned expired, ended;
	struct timespec ts;
	int r;

	pthread_mutex_lock(&sw->lock);
	while (!sw->stop) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += (time_t)sw->interval;
		while (!sw->stop && pthread_cond_timedwait(&sw->cond,
		    &sw->lock, &ts) != ETIMEDOUT)
			;
		if (sw->stop)
			break;
		pthread_mutex_unlock(&sw->lock);
		/* With several servers on one database one sweeps at a
		 * time; when it goes, the next try here takes over. */
		r = jit_store_job_lock(sw->store, "sweep");
		if (r == 1)
			r = jit_api_sweep(sw->api, jit_now(), &expired,
			    &ended);
		else if (r == 0)
			expired = ended = 0;
		if (r != 0)
			logmsg("sweeper: %s", jit_err(r));
		else if (expired > 0 || ended > 0)
			logmsg("sweeper: %u request%s expired, %u grant%s "
			    "ended", expired, expired == 1 ? "" : "s", ended,
			    ended == 1 ? "" : "s");
		pthread_mutex_lock(&sw->lock);
	}
	pthread_mutex_unlock(&sw->lock);
	return NULL;
}

/* ---- start-up checks ------------------------------------------------ */

/* Refuse a data directory that group or others may write: they could swap
 * the CA key, the store or the lock file.  A missing one is created 0700
 * by the store. */
static int
check_data_dir(const char *data, char *err, size_t errlen)
{
	struct stat st;

	if (stat(data, &st) != 0) {
		if (errno == ENOENT)
			return 0;
		jit_seterr(err, errlen, "%s: %s", data, strerror(errno));
		return jit_err_from_errno(errno);
	}
	if (!S_ISDIR(st.st_mode)) {
		jit_seterr(err, errlen, "%s is not a directory", data);
		return JIT_ERR_INVALID_ARGUMENT;
	}
	if ((st.st_mode & 022) != 0) {
		jit_seterr(err, errlen, "data directory %s is writable by group "
		    "or others (mode %04o); refusing to use it: chmod 700 %s",
		    data, (unsigned)(st.st_mode & 07777), data);
		return JIT_ERR_PERMISSION;
	}
	return 0;
}

/* ---- notifications ---------------------------------------------------- */

static void
notify_log(void *ctx, const char *line)
{
	(void)ctx;
	logmsg("%s", line);
}

/* The notifier of cfg's endpoints (NULL when there are none). */
static int
notify_open(const struct jit_config *cfg, struct jit_store *store,
    struct jit_notify **out, char *err, size_t errlen)
{
	struct jit_notify_options no;

	*out = NULL;
	if (cfg->nnotify == 0)
		return 0;
	memset(&no, 0, sizeof(no));
	no.endpoints = cfg->notify;
	no.nendpoints = cfg->nnotify;
	no.public_url = cfg->public_url;
	no.store = store;
	no.log = notify_log;
	return jit_notify_new(&no, out, err, errlen);
}

/* ---- demo tokens ---------------------------------------------------- */

/* One token per policy user, written to DATA/demo-tokens and stdout after
 * a line saying until when they are valid (the last one made expires
 * last). */
static int
make_demo_tokens(struct jit_store *store, const struct jit_policy *p,
    const char *data, char *err, size_t errlen)
{
	struct jit_buf lines = JIT_BUF_INIT, file = JIT_BUF_INIT;
	char *path = NULL, *tok = NULL, until[JIT_TIME_LEN], head[256];
	size_t i, n = jit_policy_user_count(p);
	int r = JIT_ERR_INTERNAL;

	for (i = 0; i < n; i++) {
		const char *u = jit_policy_user_at(p, i);
		if ((r = jit_auth_token_create(store, u, JIT_DEMO_TOKEN_TTL,
		    JIT_DEMO_TOKEN_ACTOR, &tok, NULL)) != 0) {
			jit_seterr(err, errlen, "demo token for %s: %s", u,
			    jit_err(r));
			goto out;
		}
		if ((r = jit_buf_put(&lines, u, strlen(u))) != 0 ||
		    (r = jit_buf_put_u8(&lines, ' ')) != 0 ||
		    (r = jit_buf_put(&lines, tok, strlen(tok))) != 0 ||
		    (r = jit_buf_put_u8(&lines, '\n')) != 0)
			goto out;
		jit_wipe(tok, strlen(tok));
		free(tok);
		tok = NULL;
	}
	jit_format_time(jit_now() + JIT_DEMO_TOKEN_TTL, until);
	snprintf(head, sizeof(head), "# demo tokens, valid for %u hours, "
	    "until %s; not for real use (jit-ca token create)\n",
	    (unsigned)(JIT_DEMO_TOKEN_TTL / 3600), until);
	if ((r = jit_buf_put(&file, head, strlen(head))) != 0 ||
	    (r = jit_buf_put(&file, jit_buf_ptr(&lines),
	    jit_buf_len(&lines))) != 0)
		goto out;
	if ((r = jit_cadir_path(data, JIT_DEMO_TOKENS_FILE, &path)) != 0)
		goto out;
	if ((r = jit_write_file_atomic(path, jit_buf_ptr(&file),
	    jit_buf_len(&file), 0600, 0)) != 0) {
		jit_seterr(err, errlen, "%s: %s", path, jit_err(r));
		goto out;
	}
	printf("Demo API tokens (printed once; also in %s, mode 0600):\n",
	    path);
	fwrite(jit_buf_ptr(&file), 1, jit_buf_len(&file), stdout);
	printf("Try: curl -H \"Authorization: Bearer TOKEN\" "
	    "http://HOST:PORT/v1/whoami\n");
	fflush(stdout);
	r = 0;
out:
	if (tok != NULL) {
		jit_wipe(tok, strlen(tok));
		free(tok);
	}
	free(path);
	jit_buf_release(&lines);
	jit_buf_release(&file);
	return r;
}

struct demo_count {
	const struct jit_policy *policy;
	uint64_t now;
	unsigned valid;
	uint64_t until;              /* the latest expiry among them */
	char admin[72];              /* an admin with one, or "" */
};

static int
count_demo_token(const unsigned char hash[JIT_TOKEN_HASH_LEN], json_t *rec,
    void *ctx)
{
	struct demo_count *c = ctx;
	const char *by = json_string_value(json_object_get(rec, "created_by"));
	const char *exp = json_string_value(json_object_get(rec,
	    "expires_at"));
	const char *user = json_string_value(json_object_get(rec, "user"));
	json_t *rev = json_object_get(rec, "revoked_at");
	uint64_t t;

	(void)hash;
	/* Before demo tokens had their own actor, they were "system"'s,
	 * which created no other tokens. */
	if (by == NULL || (strcmp(by, JIT_DEMO_TOKEN_ACTOR) != 0 &&
	    strcmp(by, "system") != 0))
		return 0;
	if ((rev != NULL && !json_is_null(rev)) || exp == NULL ||
	    jit_parse_time(exp, &t) != 0 || t <= c->now)
		return 0;
	c->valid++;
	if (t > c->until)
		c->until = t;
	if (user != NULL && c->admin[0] == '\0' &&
	    jit_policy_is_admin(c->policy, user))
		snprintf(c->admin, sizeof(c->admin), "%s", user);
	return 0;
}

static int
read_demo_tokens(struct jit_store_txn *t, void *ctx)
{
	return jit_store_list_tokens(t, count_demo_token, ctx);
}

/* Warn while tokens made by a demo start still work: their file is a
 * ready-made way in, an admin's included. */
static void
warn_demo_tokens(struct jit_store *store, const struct jit_policy *p,
    const char *data)
{
	struct demo_count c;
	char until[JIT_TIME_LEN];
	int r;

	memset(&c, 0, sizeof(c));
	c.policy = p;
	c.now = jit_now();
	if ((r = jit_store_read(store, read_demo_tokens, &c)) != 0) {
		logmsg("warning: cannot check for demo tokens: %s", jit_err(r));
		return;
	}
	if (c.valid == 0)
		return;
	jit_format_time(c.until, until);
	logmsg("warning: %u demo token%s still valid until %s%s%s%s: anyone "
	    "who can read %s/%s can use them; revoke them (jit-ca token "
	    "list, jit-ca token revoke ID) before others can reach this "
	    "server", c.valid, c.valid == 1 ? " is" : "s are", until,
	    c.admin[0] != '\0' ? " (admin " : "", c.admin,
	    c.admin[0] != '\0' ? "'s among them)" : "", data,
	    JIT_DEMO_TOKENS_FILE);
}

/* ---- host CA -------------------------------------------------------- */

/* The host CA (hosts.h) of a data directory that already had a CA:
 * loaded when there is one, and otherwise left out (*out NULL: no host
 * certificates) with a word in the log. */
static int
load_host_ca(const char *data, const struct jit_cadir_pass *pass,
    struct jit_key **out, char *err, size_t errlen)
{
	char msg[768];
	unsigned mode = 0;
	int r;

	*out = NULL;
	if (!jit_cadir_host_exists(data)) {
		logmsg("no host CA in %s: host certificates are off "
		    "(jit-ca init --host --data %s creates one)", data, data);
		return 0;
	}
	if ((r = jit_cadir_check_host_key_mode(data, &mode)) != 0) {
		if (r == JIT_ERR_PERMISSION)
			jit_seterr(err, errlen, "%s/%s is accessible by group "
			    "or others (mode %04o); refusing to use it: chmod "
			    "600 it (and rotate the host CA if others may have "
			    "read it)", data, JIT_CADIR_HOST_KEY, mode);
		else
			jit_seterr(err, errlen, "host CA key %s/%s: %s", data,
			    JIT_CADIR_HOST_KEY, jit_err(r));
		return r;
	}
	if ((r = jit_cadir_load_host_pass(data, pass, out, msg,
	    sizeof(msg))) != 0) {
		if (*msg != '\0')
			jit_seterr(err, errlen, "%s", msg);
		else
			jit_seterr(err, errlen, "loading the host CA key from "
			    "%s: %s", data, jit_err(r));
	}
	return r;
}

/* ---- policy reload -------------------------------------------------- */

static void
log_policy_end(void *ctx, const struct jit_request *r, int revoke,
    const char *why)
{
	(void)ctx;
	logmsg("policy: request %s (%s, role %s) %s: %s", r->id, r->user,
	    r->role, revoke ? "revoked" : "expired", why);
}

/* What the policy now in force means for the open requests. */
static void
check_open_requests(struct jit_api *api)
{
	struct jit_lc_reload_counts n;
	int r;

	if ((r = jit_api_policy_check(api, jit_now(), log_policy_end, NULL,
	    &n)) != 0)
		logmsg("checking open requests against the policy failed: %s",
		    jit_err(r));
	else if (n.expired > 0 || n.revoked > 0)
		logmsg("policy: %u open request(s) expired, %u grant(s) "
		    "revoked", n.expired, n.revoked);
}

static void
reload_policy(struct jit_api *api, const char *path)
{
	struct jit_policy *p = NULL;
	struct jit_policy_error pe;
	char msg[768];
	json_t *f;
	int r;

	if ((r = jit_policy_load(path, &p, &pe)) != 0) {
		jit_policy_error_format(&pe, msg, sizeof(msg));
		logmsg("SIGHUP: policy reload failed, keeping the last good "
		    "policy: %s", *msg ? msg : jit_err(r));
		return;
	}
	logmsg("SIGHUP: policy reloaded from %s (sha256 %s)", path,
	    jit_policy_hash(p));
	jit_api_set_policy(api, p);
	f = json_pack("{s:s}", "reason", "SIGHUP");
	if ((r = jit_api_audit(api, "policy.reload", f)) != 0)
		logmsg("audit of policy.reload failed: %s", jit_err(r));
	json_decref(f);
	check_open_requests(api);
}

/* ---- a hint when no token can log in yet ------------------------------ */

struct live_tokens {
	uint64_t now;
	int found;
};

/* Stops at the first token that is neither revoked nor expired. */
static int
find_live_token(const unsigned char hash[JIT_TOKEN_HASH_LEN], json_t *rec,
    void *vctx)
{
	struct live_tokens *lt = vctx;
	const char *exp;
	uint64_t t;

	(void)hash;
	if (json_is_string(json_object_get(rec, "revoked_at")))
		return 0;
	exp = json_string_value(json_object_get(rec, "expires_at"));
	lt->found = exp != NULL && jit_parse_time(exp, &t) == 0 &&
	    t > lt->now;
	return lt->found;
}

static int
find_live_token_fn(struct jit_store_txn *t, void *ctx)
{
	return jit_store_list_tokens(t, find_live_token, ctx);
}

/* A server nobody can call yet says how to make the first token. */
static void
hint_first_token(struct jit_store *store, const struct jit_config *cfg)
{
	struct live_tokens lt = { jit_now(), 0 };
	int dflt = strcmp(cfg->policies, JIT_CONFIG_DEFAULT_POLICIES) == 0;

	if (jit_store_read(store, find_live_token_fn, &lt) != 0 || lt.found)
		return;
	logmsg("no API token is valid yet; create one for a user of the "
	    "policy with: jit-ca token create NAME --data %s%s%s", cfg->data,
	    dflt ? "" : " --policies ", dflt ? "" : cfg->policies);
}

/* ---- single sign-on ---------------------------------------------------- */

/* The single sign-on module of cfg's oidc: section (*out NULL when
 * there is none), keeping its sign-ins and used tokens in store. */
static int
oidc_start(const struct jit_config *cfg, struct jit_store *store,
    struct jit_oidc **out, char *err, size_t errlen)
{
	const struct jit_config_oidc *c = &cfg->oidc;
	struct jit_oidc_options o;
	char *secret = NULL, why[256];
	int r;

	*out = NULL;
	if (c->issuer == NULL)
		return 0;
	if (c->client_secret_file != NULL &&
	    (r = jit_config_read_secret(c->client_secret_file, 1, &secret,
	    why, sizeof(why))) != 0) {
		jit_seterr(err, errlen, "oidc.client_secret_file: %s", why);
		return r;
	}
	memset(&o, 0, sizeof(o));
	o.issuer = c->issuer;
	o.client_id = c->client_id;
	o.cli_client_id = c->cli_client_id;
	o.client_secret = secret;
	o.username_claim = c->username_claim;
	o.groups_claim = c->groups_claim;
	o.scopes = c->scopes;
	o.ca_file = c->ca_file;
	o.clock_skew = cfg->clock_skew;
	o.store = store;
	if ((r = jit_oidc_new(&o, out, why, sizeof(why))) != 0)
		jit_seterr(err, errlen, "oidc: %s", why);
	else
		logmsg("single sign-on through %s (client %s%s)", c->issuer,
		    c->client_id, secret != NULL ? ", web sign-in on" : "");
	if (secret != NULL) {
		jit_wipe(secret, strlen(secret));
		free(secret);
	}
	return r;
}

/* ---- run -------------------------------------------------------------- */

/* The store's change hook (store.h): wake the long-polls of those slots
 * (a long-poll's key is its request's slot, jit_lc_wait_key). */
static void
wake_http(void *ctx, const unsigned *slots, size_t n)
{
	jit_http_wake(ctx, slots, n);
}

/* Every connection is a descriptor: raise the soft limit to the hard one
 * and say so when even that is too small for max_connections. */
static void
raise_nofile(unsigned max_connections)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
		(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < (rlim_t)max_connections + 64)
		logmsg("warning: max_connections %u needs more open files "
		    "than RLIMIT_NOFILE (%llu) allows: raise LimitNOFILE or "
		    "ulimit -n", max_connections,
		    (unsigned long long)rl.rlim_cur);
}

/* Log the public keys of CAs just made. */
static void
log_new_cas(const char *data, const struct jit_key *ca,
    const struct jit_key *host_ca)
{
	char *line = NULL;

	if (jit_key_format_public(ca, JIT_CADIR_COMMENT, &line) == 0)
		logmsg("created a new CA in %s: %s", data, line);
	free(line);
	line = NULL;
	if (host_ca != NULL && jit_key_format_public(host_ca,
	    JIT_CADIR_HOST_COMMENT, &line) == 0)
		logmsg("created a new host CA in %s: %s", data, line);
	free(line);
}

/* Bind the listening socket of cfg into *http.  0, or the error with a
 * message in err. */
static int
bind_http(const struct jit_config *cfg, int quiet, struct jit_http **http,
    char *err, size_t errlen)
{
	struct jit_http_options ho;
	char msg[768];
	int r;

	memset(&ho, 0, sizeof(ho));
	ho.listen = &cfg->listen;
	ho.tls_cert = cfg->tls_cert;
	ho.tls_key = cfg->tls_key;
	ho.max_body = cfg->max_body;
	/* A held long-poll is subject to neither timeout (http.h). */
	ho.request_timeout = (unsigned)cfg->request_timeout;
	ho.connection_timeout = (unsigned)cfg->connection_timeout;
	ho.max_connections = cfg->max_connections;
	ho.max_connections_per_address = cfg->max_connections_per_address;
	ho.workers = cfg->threads;
	ho.quiet = quiet;
	raise_nofile(cfg->max_connections);
	if ((r = jit_http_bind(&ho, http, msg, sizeof(msg))) != 0)
		jit_seterr(err, errlen, "%s", msg);
	return r;
}

/* The user CA of cfg->data in *ca: made, with a host CA in *host_ca,
 * when the directory has none (*fresh set); else loaded, refusing a key
 * file that group or others can read.  0, or the error with a message
 * in err. */
static int
open_user_ca(const struct jit_config *cfg, const struct jit_cadir_pass *pass,
    struct jit_key **ca, struct jit_key **host_ca, int *fresh, char *err,
    size_t errlen)
{
	unsigned mode = 0;
	char msg[768];
	int r;

	*fresh = 0;
	if (!jit_cadir_exists(cfg->data)) {
		/* A host CA made beforehand (jit-ca init --host) stays. */
		if (jit_cadir_host_exists(cfg->data))
			r = jit_cadir_create(cfg->data, JIT_KEY_ED25519, 0, ca);
		else
			r = jit_cadir_create_with_host(cfg->data,
			    JIT_KEY_ED25519, 0, NULL, ca, host_ca);
		if (r != 0) {
			jit_seterr(err, errlen, "creating the CA in %s: %s",
			    cfg->data, jit_err(r));
			return r;
		}
		*fresh = 1;
		log_new_cas(cfg->data, *ca, *host_ca);
		return 0;
	}
	if ((r = jit_cadir_check_key_mode(cfg->data, &mode)) != 0) {
		if (r == JIT_ERR_PERMISSION)
			jit_seterr(err, errlen, "%s/%s is accessible by group or "
			    "others (mode %04o); refusing to use it: chmod 600 "
			    "it (and rotate the CA if others may have read it)",
			    cfg->data, JIT_CADIR_KEY, mode);
		else
			jit_seterr(err, errlen, "CA key %s/%s: %s", cfg->data,
			    JIT_CADIR_KEY, jit_err(r));
		return r;
	}
	msg[0] = '\0';
	if ((r = jit_cadir_load_pass(cfg->data, pass, ca, msg,
	    sizeof(msg))) != 0) {
		if (*msg != '\0')
			jit_seterr(err, errlen, "%s", msg);
		else
			jit_seterr(err, errlen, "loading the CA key from %s: %s",
			    cfg->data, jit_err(r));
	}
	return r;
}

/* The API over store with cfg's options; it takes policy (on success
 * only).  0, or the error with a message in err. */
static int
make_api(const struct jit_config *cfg, struct jit_store *store,
    struct jit_notify *notify, struct jit_oidc *oidc, struct jit_key *ca,
    struct jit_key *host_ca, struct jit_policy *policy, struct jit_api **api,
    char *err, size_t errlen)
{
	struct jit_api_options ao;
	char *metrics_token = NULL, msg[768];
	int r;

	memset(&ao, 0, sizeof(ao));
	ao.oidc = oidc;
	ao.session_ttl = cfg->oidc.session_ttl;
	ao.store = store;
	if (notify != NULL) {
		ao.hook = jit_notify_hook;
		ao.hook_ctx = notify;
	}
	ao.ca = ca;
	ao.host_ca = host_ca;
	ao.host_cert_validity = cfg->host_cert_validity;
	ao.host_domains = (const char *const *)cfg->host_domains;
	ao.nhost_domains = cfg->nhost_domains;
	ao.clock_skew = cfg->clock_skew;
	ao.max_wait = cfg->max_wait;
	ao.rate_limit = cfg->rate_limit;
	ao.session_idle = cfg->web_session_idle;
	ao.session_max = cfg->web_session_max;
	ao.web_origin = cfg->web_origin;
	ao.max_pending = cfg->max_pending;
	if (cfg->metrics_token_file != NULL &&
	    (r = jit_config_read_secret(cfg->metrics_token_file,
	    JIT_CONFIG_SECRET_MIN, &metrics_token, msg, sizeof(msg))) != 0) {
		jit_seterr(err, errlen, "metrics_token_file: %s", msg);
		return r;
	}
	ao.metrics_token = metrics_token;
	r = jit_api_new(&ao, policy, api);
	if (metrics_token != NULL) {
		jit_wipe(metrics_token, strlen(metrics_token));
		free(metrics_token);
	}
	if (r != 0)
		jit_seterr(err, errlen, "%s", jit_err(r));
	return r;
}

/* The audit entries of a start (policy.load, server.start) and the
 * "listening on" line that tests and scripts wait for.  0, or the error
 * with a message in err. */
static int
announce_start(const struct jit_config *cfg, struct jit_api *api,
    struct jit_http *http, char *err, size_t errlen)
{
	json_t *f;
	int r;

	if ((r = jit_api_audit(api, "policy.load", NULL)) != 0) {
		jit_seterr(err, errlen, "audit log: %s", jit_err(r));
		return r;
	}
	f = json_pack("{s:s, s:s}", "listen", cfg->listen_text, "version",
	    JIT_VERSION);
	r = jit_api_audit(api, "server.start", f);
	json_decref(f);
	if (r != 0) {
		jit_seterr(err, errlen, "audit log: %s", jit_err(r));
		return r;
	}
	check_open_requests(api);
	if (cfg->listen.kind == JIT_LISTEN_UNIX)
		logmsg("listening on unix:%s", cfg->listen.host);
	else
		logmsg("listening on %s://%s%s%s:%u", cfg->tls_cert != NULL ?
		    "https" : "http", cfg->listen.kind == JIT_LISTEN_INET6 ?
		    "[" : "", cfg->listen.host,
		    cfg->listen.kind == JIT_LISTEN_INET6 ? "]" : "",
		    jit_http_port(http));
	return 0;
}

int
jit_server_run(const struct jit_config *cfg,
    const struct jit_cadir_pass *pass, int quiet, char *err, size_t errlen)
{
	struct jit_policy *policy = NULL;
	struct jit_policy_error pe;
	struct jit_store *store = NULL;
	struct jit_key *ca = NULL, *host_ca = NULL;
	struct jit_api *api = NULL;
	struct jit_oidc *oidc = NULL;
	struct jit_http *http = NULL;
	struct jit_notify *notify = NULL;
	struct sweeper sw;
	sigset_t set;
	int r, sig, fresh = 0, sweeper_started = 0, hooked = 0;
	char msg[768];

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	memset(&sw, 0, sizeof(sw));
	pthread_mutex_init(&sw.lock, NULL);
	pthread_cond_init(&sw.cond, NULL);

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if ((r = jit_policy_load(cfg->policies, &policy, &pe)) != 0) {
		jit_policy_error_format(&pe, msg, sizeof(msg));
		jit_seterr(err, errlen, "policy: %s", *msg ? msg : jit_err(r));
		goto out;
	}
	if ((r = check_data_dir(cfg->data, err, errlen)) != 0)
		goto out;
	/* Bind first: a busy address must fail before a CA or demo tokens
	 * are made (and printed) for a server that never runs. */
	if ((r = bind_http(cfg, quiet, &http, err, errlen)) != 0)
		goto out;
	if ((r = jit_config_open_store(cfg, NULL, JIT_STORE_SERVER, &store,
	    msg, sizeof(msg))) != 0) {
		if (r == JIT_ERR_STORE_LOCKED)
			jit_seterr(err, errlen, "%s: data directory is locked "
			    "by another process (another jit-ca serve is "
			    "using it?)", cfg->data);
		else
			jit_seterr(err, errlen, "%s", msg);
		goto out;
	}
	if (cfg->store_url != NULL)
		logmsg("store: PostgreSQL (schema version %d)",
		    JIT_STORE_PG_SCHEMA);
	if ((r = open_user_ca(cfg, pass, &ca, &host_ca, &fresh, err,
	    errlen)) != 0)
		goto out;
	if (host_ca == NULL && (r = load_host_ca(cfg->data, pass, &host_ca,
	    err, errlen)) != 0)
		goto out;
	if (!jit_key_memory_locked(ca))
		logmsg("warning: the CA key is not locked in memory (%s), so "
		    "it may be written to swap", jit_key_type(ca) ==
		    JIT_KEY_RSA ? "OpenSSL keeps RSA keys on its ordinary "
		    "heap" : "RLIMIT_MEMLOCK is too small: raise LimitMEMLOCK "
		    "or ulimit -l");
	if (fresh && !cfg->from_file &&
	    (r = make_demo_tokens(store, policy, cfg->data, err,
	    errlen)) != 0)
		goto out;
	warn_demo_tokens(store, policy, cfg->data);
	if ((r = notify_open(cfg, store, &notify, err, errlen)) != 0 ||
	    (r = oidc_start(cfg, store, &oidc, err, errlen)) != 0)
		goto out;
	if ((r = make_api(cfg, store, notify, oidc, ca, host_ca, policy,
	    &api, err, errlen)) != 0)
		goto out;
	policy = NULL;  /* owned by api */

	if ((r = jit_http_serve(http, jit_api_handle, api, msg,
	    sizeof(msg))) != 0) {
		jit_seterr(err, errlen, "%s", msg);
		goto out;
	}
	/* Held long-polls wake on the commits that change their request. */
	jit_store_set_change_hook(store, wake_http, http);
	hooked = 1;
	if ((r = announce_start(cfg, api, http, err, errlen)) != 0)
		goto out;
	if (oidc == NULL)
		hint_first_token(store, cfg);

	sw.api = api;
	sw.store = store;
	sw.interval = cfg->sweep_interval;
	if (pthread_create(&sw.thread, NULL, sweeper_main, &sw) != 0) {
		r = JIT_ERR_SYSTEM;
		jit_seterr(err, errlen, "cannot start the sweeper thread");
		goto out;
	}
	sweeper_started = 1;
	if (notify != NULL && (r = jit_notify_start(notify)) != 0) {
		jit_seterr(err, errlen, "cannot start the notification "
		    "threads: %s", jit_err(r));
		goto out;
	}

	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			reload_policy(api, cfg->policies);
			continue;
		}
		logmsg("%s: shutting down", sig == SIGINT ? "SIGINT" :
		    "SIGTERM");
		break;
	}
	r = 0;
out:
	if (api != NULL)
		jit_api_shutdown(api);
	if (hooked)
		jit_store_set_change_hook(store, NULL, NULL);
	jit_http_stop(http, SHUTDOWN_GRACE_MS);
	if (sweeper_started) {
		pthread_mutex_lock(&sw.lock);
		sw.stop = 1;
		pthread_cond_signal(&sw.cond);
		pthread_mutex_unlock(&sw.lock);
		pthread_join(sw.thread, NULL);
	}
	pthread_cond_destroy(&sw.cond);
	pthread_mutex_destroy(&sw.lock);
	jit_notify_stop(notify);
	jit_api_free(api);
	jit_notify_free(notify);
	jit_oidc_free(oidc);
	jit_policy_free(policy);
	jit_store_close(store);
	jit_key_free(ca);
	jit_key_free(host_ca);
	if (r == 0)
		logmsg("stopped");
	return r;
}
