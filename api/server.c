/* server.c - see server.h. */
#include "server.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* ---- demo tokens ---------------------------------------------------- */

/* One token per policy user, written to DATA/demo-tokens and stdout. */
static int
make_demo_tokens(struct jit_store *store, const struct jit_policy *p,
    const char *data, char *err, size_t errlen)
{
	struct jit_buf b = JIT_BUF_INIT;
	char *path = NULL, *tok = NULL;
	size_t i, n = jit_policy_user_count(p);
	int r = 0;

	for (i = 0; i < n; i++) {
		const char *u = jit_policy_user_at(p, i);
		if ((r = jit_auth_token_create(store, u, JIT_DEMO_TOKEN_TTL,
		    "system", &tok, NULL)) != 0) {
			jit_seterr(err, errlen, "demo token for %s: %s", u,
			    jit_err(r));
			goto out;
		}
		if ((r = jit_buf_put(&b, u, strlen(u))) != 0 ||
		    (r = jit_buf_put_u8(&b, ' ')) != 0 ||
		    (r = jit_buf_put(&b, tok, strlen(tok))) != 0 ||
		    (r = jit_buf_put_u8(&b, '\n')) != 0)
			goto out;
		jit_wipe(tok, strlen(tok));
		free(tok);
		tok = NULL;
	}
	if ((r = jit_cadir_path(data, JIT_DEMO_TOKENS_FILE, &path)) != 0)
		goto out;
	if ((r = jit_write_file_atomic(path, jit_buf_ptr(&b), jit_buf_len(&b),
	    0600, 0)) != 0) {
		jit_seterr(err, errlen, "%s: %s", path, jit_err(r));
		goto out;
	}
	printf("Demo API tokens (shown once; also in %s, mode 0600):\n", path);
	fwrite(jit_buf_ptr(&b), 1, jit_buf_len(&b), stdout);
	printf("Try: curl -H \"Authorization: Bearer TOKEN\" "
	    "http://HOST:PORT/v1/whoami\n");
	fflush(stdout);
out:
	if (tok != NULL) {
		jit_wipe(tok, strlen(tok));
		free(tok);
	}
	free(path);
	jit_buf_release(&b);
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

/* ---- run -------------------------------------------------------------- */

int
jit_server_run(const struct jit_config *cfg,
    const struct jit_cadir_pass *pass, int quiet, char *err, size_t errlen)
{
	struct jit_policy *policy = NULL;
	struct jit_policy_error pe;
	struct jit_store *store = NULL;
	struct jit_key *ca = NULL;
	struct jit_api *api = NULL;
	struct jit_http *http = NULL;
	struct jit_http_options ho;
	struct jit_api_options ao;
	struct sweeper sw;
	sigset_t set;
	int r, sig, fresh = 0, sweeper_started = 0;
	unsigned mode = 0;
	char msg[768];
	json_t *f;

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
	if (!jit_cadir_exists(cfg->data)) {
		if ((r = jit_cadir_create(cfg->data, JIT_KEY_ED25519, 0,
		    &ca)) != 0) {
			jit_seterr(err, errlen, "creating the CA in %s: %s",
			    cfg->data, jit_err(r));
			goto out;
		}
		fresh = 1;
	} else if ((r = jit_cadir_check_key_mode(cfg->data, &mode)) != 0) {
		if (r == JIT_ERR_PERMISSION)
			jit_seterr(err, errlen, "%s/%s is accessible by group or "
			    "others (mode %04o); refusing to use it: chmod 600 "
			    "it (and rotate the CA if others may have read it)",
			    cfg->data, JIT_CADIR_KEY, mode);
		else
			jit_seterr(err, errlen, "CA key %s/%s: %s", cfg->data,
			    JIT_CADIR_KEY, jit_err(r));
		goto out;
	} else if ((r = jit_cadir_load_pass(cfg->data, pass, &ca, msg,
	    sizeof(msg))) != 0) {
		if (*msg != '\0')
			jit_seterr(err, errlen, "%s", msg);
		else
			jit_seterr(err, errlen, "loading the CA key from %s: %s",
			    cfg->data, jit_err(r));
		goto out;
	}
	if (fresh) {
		char *line = NULL;
		if (jit_key_format_public(ca, JIT_CADIR_COMMENT, &line) == 0)
			logmsg("created a new CA in %s: %s", cfg->data, line);
		free(line);
	}
	if (fresh && !cfg->from_file &&
	    (r = make_demo_tokens(store, policy, cfg->data, err,
	    errlen)) != 0)
		goto out;
	memset(&ao, 0, sizeof(ao));
	ao.store = store;
	ao.ca = ca;
	ao.clock_skew = cfg->clock_skew;
	ao.max_wait = cfg->max_wait;
	ao.rate_limit = cfg->rate_limit;
	if ((r = jit_api_new(&ao, policy, &api)) != 0) {
		jit_seterr(err, errlen, "%s", jit_err(r));
		goto out;
	}
	policy = NULL;  /* owned by api */

	memset(&ho, 0, sizeof(ho));
	ho.listen = &cfg->listen;
	ho.tls_cert = cfg->tls_cert;
	ho.tls_key = cfg->tls_key;
	ho.max_body = cfg->max_body;
	/* A long-poll holds its connection silent for up to max_wait. */
	ho.connection_timeout = (unsigned)(cfg->connection_timeout >
	    cfg->max_wait + 10 ? cfg->connection_timeout : cfg->max_wait + 10);
	ho.max_connections = cfg->max_connections;
	ho.quiet = quiet;
	if ((r = jit_http_start(&ho, jit_api_handle, api, &http, msg,
	    sizeof(msg))) != 0) {
		jit_seterr(err, errlen, "%s", msg);
		goto out;
	}
	if ((r = jit_api_audit(api, "policy.load", NULL)) != 0) {
		jit_seterr(err, errlen, "audit log: %s", jit_err(r));
		goto out;
	}
	f = json_pack("{s:s, s:s}", "listen", cfg->listen_text, "version",
	    JIT_VERSION);
	if ((r = jit_api_audit(api, "server.start", f)) != 0) {
		json_decref(f);
		jit_seterr(err, errlen, "audit log: %s", jit_err(r));
		goto out;
	}
	json_decref(f);
	check_open_requests(api);
	if (cfg->listen.kind == JIT_LISTEN_UNIX)
		logmsg("listening on unix:%s", cfg->listen.host);
	else
		logmsg("listening on %s://%s%s%s:%u", cfg->tls_cert != NULL ?
		    "https" : "http", cfg->listen.kind == JIT_LISTEN_INET6 ?
		    "[" : "", cfg->listen.host,
		    cfg->listen.kind == JIT_LISTEN_INET6 ? "]" : "",
		    jit_http_port(http));

	sw.api = api;
	sw.store = store;
	sw.interval = cfg->sweep_interval;
	if (pthread_create(&sw.thread, NULL, sweeper_main, &sw) != 0) {
		r = JIT_ERR_SYSTEM;
		jit_seterr(err, errlen, "cannot start the sweeper thread");
		goto out;
	}
	sweeper_started = 1;

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
	jit_api_free(api);
	jit_policy_free(policy);
	jit_store_close(store);
	jit_key_free(ca);
	if (r == 0)
		logmsg("stopped");
	return r;
}
