/*
 * sso.c - single sign-on for jit-ssh (client.h): the device
 * authorization grant (RFC 8628) at the identity provider the server
 * names, and the session token the server gives for the ID token.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "client.h"
#include "err.h"
#include "util.h"

#define DEVICE_GRANT "urn:ietf:params:oauth:grant-type:device_code"
#define IDP_TIMEOUT_S 30L
#define MAX_WAIT_S 1800       /* the longest a device code is waited on */
#define RENEW_AHEAD_S 60      /* sign in again this long before the end */

extern char **environ;

/* Wipe and free a secret string. */
static void
secret_free(char *s)
{
	if (s != NULL) {
		jit_wipe(s, strlen(s));
		free(s);
	}
}

/* What the server says about its identity provider (GET /v1/oidc):
 * 0 and *info, JIT_ERR_NOT_FOUND when it offers none, JIT_ERR_HTTP when
 * it cannot be asked (msg says why). */
static int
server_oidc(const struct client_config *c, json_t **info, char *msg,
    size_t msglen)
{
	struct client_config anon = *c;
	struct client_http_result res;
	int r;

	*info = NULL;
	anon.token = NULL;          /* a public endpoint */
	if ((r = client_http_call(&anon, "GET", "/v1/oidc", NULL, 30, NULL,
	    NULL, &res, msg, msglen)) != 0)
		return r;
	if (res.status == 404 || (res.status == 200 &&
	    json_is_false(json_object_get(res.json, "sso")))) {
		snprintf(msg, msglen, "the server at %s does not offer single "
		    "sign-on", c->url);
		r = JIT_ERR_NOT_FOUND;
	} else if (res.status != 200 ||
	    client_json_str(res.json, "issuer") == NULL ||
	    client_json_str(res.json, "client_id") == NULL) {
		client_http_describe_error(&res, msg, msglen);
		r = JIT_ERR_HTTP;
	} else {
		*info = json_incref(res.json);
	}
	client_http_result_release(&res);
	return r;
}

/* The provider's endpoint name from its discovery document, checked:
 * it must call itself issuer. */
static int
discover(const char *issuer, char **device, char **token, char *msg,
    size_t msglen)
{
	struct client_http_result res;
	const char *iss, *d, *t;
	char *url = NULL;
	size_t n = strlen(issuer);
	int r;

	*device = *token = NULL;
	if (n > 0 && issuer[n - 1] == '/')
		n--;
	if (asprintf(&url, "%.*s/.well-known/openid-configuration", (int)n,
	    issuer) < 0)
		return JIT_ERR_ALLOC;
	r = client_http_idp(url, NULL, IDP_TIMEOUT_S, &res, msg, msglen);
	free(url);
	if (r != 0)
		return r;
	r = JIT_ERR_HTTP;
	iss = client_json_str(res.json, "issuer");
	d = client_json_str(res.json, "device_authorization_endpoint");
	t = client_json_str(res.json, "token_endpoint");
	if (res.status != 200 || iss == NULL || strcmp(iss, issuer) != 0)
		snprintf(msg, msglen, "the identity provider %s did not "
		    "describe itself (its discovery document is missing or "
		    "names another issuer)", issuer);
	else if (d == NULL || t == NULL)
		snprintf(msg, msglen, "the identity provider %s offers no "
		    "device sign-in (device_authorization_endpoint)", issuer);
	else if ((*device = strdup(d)) == NULL || (*token = strdup(t)) == NULL)
		r = JIT_ERR_ALLOC;
	else
		r = 0;
	client_http_result_release(&res);
	if (r != 0) {
		free(*device);
		free(*token);
		*device = *token = NULL;
	}
	return r;
}

/* Open url in a browser when there is a display (best effort: a
 * failure only means the person opens it themselves). */
static void
open_browser(const char *url)
{
	posix_spawn_file_actions_t fa;
	char *argv[] = { "xdg-open", (char *)url, NULL };
	pid_t pid;
	const char *d = getenv("DISPLAY"), *w = getenv("WAYLAND_DISPLAY");

	if ((d == NULL || *d == '\0') && (w == NULL || *w == '\0'))
		return;
	if (posix_spawn_file_actions_init(&fa) != 0)
		return;
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	if (posix_spawnp(&pid, "xdg-open", &fa, NULL, argv, environ) == 0)
		fprintf(stderr, "(opening it in your browser)\n");
	posix_spawn_file_actions_destroy(&fa);
}

/* Sleep s seconds unless Ctrl-C comes first: 0, or -1 if it came. */
static int
pause_s(unsigned s)
{
	struct timespec ts = { (time_t)s, 0 };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		if (client_interrupted)
			return -1;
	return client_interrupted ? -1 : 0;
}

/* 1 if s is a short run of printable ASCII (a user code). */
static int
printable(const char *s, size_t max)
{
	size_t n = s != NULL ? strlen(s) : 0;

	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x21 || s[i] > 0x7e)
			return 0;
	return 1;
}

/*
 * The device authorization grant at the provider: *id_token (a secret,
 * new string) once the person has signed in.  Errors are printed; a
 * JIT_EXIT_* code is returned.
 */
static int
device_grant(const json_t *info, char **id_token)
{
	const char *issuer = client_json_str(info, "issuer");
	const char *client_id = client_json_str(info, "client_id");
	const char *scopes = client_json_str(info, "scopes");
	struct client_http_result res;
	char *device = NULL, *token_ep = NULL, *form = NULL, *dc = NULL;
	const char *uri, *full, *code, *err;
	char msg[512];
	long long interval, expires;
	uint64_t deadline;
	int r, rc = JIT_EXIT_ERROR;

	*id_token = NULL;
	memset(&res, 0, sizeof(res));
	if ((r = discover(issuer, &device, &token_ep, msg, sizeof(msg))) != 0) {
		client_fail("%s", r == JIT_ERR_ALLOC ? jit_err(r) : msg);
		goto out;
	}
	if (jit_form_add(&form, "client_id", client_id) != 0 ||
	    jit_form_add(&form, "scope", scopes != NULL ? scopes :
	    "openid profile email") != 0)
		goto oom;
	if ((r = client_http_idp(device, form, IDP_TIMEOUT_S, &res, msg,
	    sizeof(msg))) != 0) {
		client_fail("%s", msg);
		rc = r == JIT_ERR_SYSTEM ? JIT_EXIT_INTERRUPTED : rc;
		goto out;
	}
	uri = client_json_str(res.json, "verification_uri");
	full = client_json_str(res.json, "verification_uri_complete");
	code = client_json_str(res.json, "user_code");
	interval = client_json_int(res.json, "interval", 5);
	expires = client_json_int(res.json, "expires_in", 600);
	if (res.status != 200 || uri == NULL || !client_http_idp_url_ok(uri) ||
	    !printable(code, 64) ||
	    client_json_str(res.json, "device_code") == NULL) {
		err = client_json_str(res.json, "error_description");
		client_fail("the identity provider %s refused to start a "
		    "device "
		    "sign-in (HTTP %ld)%s%s", issuer, res.status,
		    err != NULL ? ": " : "", err != NULL ? err : "");
		goto out;
	}
	if (full != NULL && !client_http_idp_url_ok(full))
		full = NULL;
	if ((dc = strdup(client_json_str(res.json, "device_code"))) == NULL)
		goto oom;
	client_line(stderr, "To sign in, open %s and enter the code %s", uri,
	    code);
	if (full != NULL)
		client_line(stderr, "(or open %s)", full);
	open_browser(full != NULL ? full : uri);
	client_http_result_release(&res);
	if (interval < 1 || interval > 60)
		interval = 5;
	if (expires < 1 || expires > MAX_WAIT_S)
		expires = MAX_WAIT_S;
	deadline = jit_monotonic_ms() + (uint64_t)expires * 1000;

	secret_free(form);
	form = NULL;
	if (jit_form_add(&form, "grant_type", DEVICE_GRANT) != 0 ||
	    jit_form_add(&form, "device_code", dc) != 0 ||
	    jit_form_add(&form, "client_id", client_id) != 0)
		goto oom;
	for (;;) {
		if (pause_s((unsigned)interval) != 0) {
			client_fail("interrupted; not signed in");
			rc = JIT_EXIT_INTERRUPTED;
			goto out;
		}
		if (jit_monotonic_ms() > deadline) {
			client_fail("the sign-in code expired before the "
			    "sign-in "
			    "was finished; run the command again");
			goto out;
		}
		if ((r = client_http_idp(token_ep, form, IDP_TIMEOUT_S, &res,
		    msg, sizeof(msg))) != 0) {
			client_fail("%s", msg);
			rc = r == JIT_ERR_SYSTEM ? JIT_EXIT_INTERRUPTED : rc;
			goto out;
		}
		if (res.status == 200)
			break;
		err = client_json_str(res.json, "error");
		if (err != NULL && strcmp(err, "slow_down") == 0)
			interval += 5;
		else if (err == NULL ||
		    strcmp(err, "authorization_pending") != 0) {
			client_fail("the identity provider ended the sign-in: "
			    "%s", err == NULL ? "no reason given" :
			    strcmp(err, "access_denied") == 0 ? "it was "
			    "refused" : strcmp(err, "expired_token") == 0 ?
			    "the code expired; run the command again" : err);
			goto out;
		}
		client_http_result_release(&res);
	}
	if (client_json_str(res.json, "id_token") == NULL) {
		client_fail("the identity provider sent no ID token (does the "
		    "client ask for the openid scope?)");
		goto out;
	}
	if ((*id_token = strdup(client_json_str(res.json, "id_token"))) ==
	    NULL)
		goto oom;
	rc = JIT_EXIT_OK;
	goto out;
 oom:
	client_fail("%s", jit_err(JIT_ERR_ALLOC));
 out:
	if (res.body != NULL)
		jit_wipe(res.body, res.len);
	client_http_result_release(&res);
	secret_free(form);
	secret_free(dc);
	free(device);
	free(token_ep);
	return rc;
}

int
client_sso_sign_in(struct client_config *c)
{
	struct client_config anon = *c;
	struct client_http_result res;
	json_t *info = NULL, *body = NULL;
	char *idt = NULL, msg[512];
	const char *tok, *exp, *user;
	int r, rc = JIT_EXIT_ERROR;

	memset(&res, 0, sizeof(res));
	if ((r = server_oidc(c, &info, msg, sizeof(msg))) != 0) {
		client_fail("%s", msg);
		return JIT_EXIT_ERROR;
	}
	if ((rc = device_grant(info, &idt)) != 0)
		goto out;
	rc = JIT_EXIT_ERROR;
	anon.token = NULL;
	if ((body = json_pack("{s:s}", "id_token", idt)) == NULL)
		goto out;
	if ((r = client_http_call(&anon, "POST", "/v1/sessions", body, 30,
	    NULL, NULL, &res, msg, sizeof(msg))) != 0) {
		client_fail("%s", msg);
		goto out;
	}
	tok = client_json_str(res.json, "token");
	exp = client_json_str(res.json, "expires_at");
	user = client_json_str(res.json, "user");
	if (res.status != 201 || tok == NULL || exp == NULL || user == NULL) {
		const char *d = client_json_str(res.json, "detail");

		client_fail("the server refused the sign-in (HTTP %ld)%s%s",
		    res.status, d != NULL ? ": " : "", d != NULL ? d : "");
		goto out;
	}
	if (client_config_set(&c->token, tok) != 0 ||
	    client_config_set(&c->token_expires, exp) != 0)
		goto out;
	c->sso = 1;
	if (client_config_store_session(c->path, tok, exp, msg,
	    sizeof(msg)) != 0) {
		client_fail("%s", msg);
		goto out;
	}
	client_line(stderr, "Signed in as %s until %s.", user, exp);
	rc = JIT_EXIT_OK;
 out:
	if (res.body != NULL)
		jit_wipe(res.body, res.len);
	client_http_result_release(&res);
	if (body != NULL)
		json_object_clear(body);
	json_decref(body);
	json_decref(info);
	secret_free(idt);
	return rc;
}

int
client_sso_ensure(struct client_config *c)
{
	json_t *info = NULL;
	uint64_t end;
	char msg[512];

	if (c->token_from_env || (c->token != NULL && !c->sso))
		return JIT_EXIT_OK;
	if (c->token != NULL && c->token_expires != NULL &&
	    jit_parse_time(c->token_expires, &end) == 0 &&
	    jit_now() + RENEW_AHEAD_S < end)
		return JIT_EXIT_OK;
	/* Without any token, sign in only where the server offers it;
	 * elsewhere the command says that a token is needed. */
	if (!c->sso) {
		if (server_oidc(c, &info, msg, sizeof(msg)) != 0)
			return JIT_EXIT_OK;
		json_decref(info);
	}
	if (c->token != NULL)
		fprintf(stderr, "Your single sign-on session has ended; "
		    "signing "
		    "in again.\n");
	return client_sso_sign_in(c);
}
