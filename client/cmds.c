/*
 * cmds.c - jit-ssh subcommands other than login, and the helpers they
 * share (configuration with flags, the pinned CA key, request output).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cert.h"
#include "client.h"
#include "err.h"
#include "util.h"

int
client_request_id_ok(const char *id)
{
	size_t i, n;

	if (id == NULL || (n = strlen(id)) == 0 || n > 64)
		return 0;
	for (i = 0; i < n; i++) {
		char ch = id[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_'))
			return 0;
	}
	return 1;
}

/* First line of a file, trimmed, as a new string. */
static int
read_first_line(const char *path, char **out)
{
	unsigned char *data = NULL;
	size_t len, n;
	int r;

	*out = NULL;
	if ((r = jit_read_file(path, 64 * 1024, &data, &len)) != 0)
		return r;
	n = strcspn((char *)data, "\r\n");
	while (n > 0 && (data[n - 1] == ' ' || data[n - 1] == '\t'))
		n--;
	*out = strndup((char *)data, n);
	free(data);
	return *out ? 0 : JIT_ERR_ALLOC;
}

int
client_opts_config(const struct client_opts *o, struct client_config *c)
{
	char msg[512], *line = NULL;
	int r;

	if ((r = client_config_load(o->config, c, msg, sizeof(msg))) != 0) {
		client_fail("%s", msg);
		client_config_release(c);
		return JIT_EXIT_ERROR;
	}
	if ((o->url && (r = client_config_set(&c->url, o->url)) != 0) ||
	    (o->token && (r = client_config_set(&c->token, o->token)) != 0) ||
	    (o->tls_ca && (r = client_config_set(&c->tls_ca, o->tls_ca)) != 0))
		goto fail;
	if (o->token != NULL)
		c->token_from_env = 1;
	if (o->ca_key_file != NULL) {
		if ((r = read_first_line(o->ca_key_file, &line)) != 0) {
			client_fail("--ca-key %s: %s", o->ca_key_file,
			    jit_err(r));
			client_config_release(c);
			return JIT_EXIT_ERROR;
		}
		r = client_config_set(&c->ca_key, line);
		free(line);
		if (r != 0)
			goto fail;
	}
	return 0;
 fail:
	client_fail("%s", jit_err(r));
	client_config_release(c);
	return JIT_EXIT_ERROR;
}

int
client_opts_config_auth(const struct client_opts *o, struct client_config *c)
{
	int rc;

	if ((rc = client_opts_config(o, c)) != 0)
		return rc;
	if ((rc = client_sso_ensure(c)) != 0)
		client_config_release(c);
	return rc;
}

int
client_pinned_ca(const struct client_config *c, struct jit_key **out)
{
	int r;

	*out = NULL;
	if (c->ca_key == NULL) {
		client_fail("no pinned CA key: run 'jit-ssh setup URL' or pass "
		    "--ca-key FILE (jit-ssh never trusts a CA the server "
		    "names)");
		return JIT_EXIT_ERROR;
	}
	if ((r = jit_key_parse_public(c->ca_key, out, NULL)) != 0) {
		client_fail("the pinned CA key is invalid: %s", jit_err(r));
		return JIT_EXIT_ERROR;
	}
	return 0;
}

/* The array of requests in a list answer ({"requests": [...]} or a bare
 * array). */
static const json_t *
requests_of(const json_t *j)
{
	if (json_is_array(j))
		return j;
	return json_object_get(j, "requests");
}

static int
need_id(const struct client_opts *o, const char *usage)
{
	if (o->nargs != 1) {
		client_fail("usage: %s", usage);
		return JIT_EXIT_USAGE;
	}
	if (!client_request_id_ok(o->args[0])) {
		client_fail("invalid request ID '%s'", o->args[0]);
		return JIT_EXIT_USAGE;
	}
	return 0;
}

/*
 * GET path without printing anything: the JSON object answered with a
 * 2xx, as a new reference, or NULL.  For look-ups whose failure only
 * means "unknown".
 */
static json_t *
quiet_get(const struct client_config *c, const char *path)
{
	struct client_http_result res;
	char msg[256];
	json_t *j = NULL;

	if (client_http_call(c, "GET", path, NULL, 30, NULL, NULL, &res, msg,
	    sizeof(msg)) == 0 && res.status >= 200 && res.status <= 299 &&
	    json_is_object(res.json))
		j = json_incref(res.json);
	client_http_result_release(&res);
	return j;
}

/* Request id: from list when it is there, else asked for (NULL when
 * that fails).  A new reference. */
static json_t *
lookup_request(const struct client_config *c, const json_t *list,
    const char *id)
{
	const json_t *r;
	const char *rid;
	char path[256];
	size_t i;

	json_array_foreach(list, i, r) {
		rid = client_json_str(r, "id");
		if (rid != NULL && strcmp(rid, id) == 0)
			return json_incref((json_t *)r);
	}
	if (!client_request_id_ok(id))
		return NULL;
	snprintf(path, sizeof(path), "/v1/requests/%s", id);
	return quiet_get(c, path);
}

/* Delete the keys kept for requests that ended without a certificate
 * (denied, expired, cancelled while nobody waited). */
static void
sweep_pending(const struct client_config *c, const json_t *list)
{
	json_t *req;
	char **ids = NULL;
	size_t i, n = 0;

	if (client_pending_ids(&ids, &n) != 0)
		return;
	for (i = 0; i < n; i++) {
		req = lookup_request(c, list, ids[i]);
		if (req != NULL &&
		    client_state_final(client_json_str(req, "state")))
			client_pending_forget(ids[i]);
		json_decref(req);
		free(ids[i]);
	}
	free(ids);
}

/*
 * One installed certificate as JSON, with the state of its request as
 * the server has it; a revoked grant's certificate is removed from
 * ssh-agent here.
 */
static json_t *
installed_json(const struct client_config *c, const json_t *list,
    const struct client_installed *e)
{
	const struct jit_cert *cert = e->cert;
	json_t *j, *princ, *req = NULL;
	const char *state = NULL;
	char va[JIT_TIME_LEN], vb[JIT_TIME_LEN];
	size_t i;
	int removed = 0;

	if ((princ = json_array()) == NULL)
		return NULL;
	for (i = 0; i < cert->nprincipals; i++)
		json_array_append_new(princ, json_string(cert->principals[i]));
	if (e->request_id[0] != '\0' &&
	    (req = lookup_request(c, list, e->request_id)) != NULL)
		state = client_json_str(req, "state");
	if (state != NULL && strcmp(state, "revoked") == 0)
		(void)client_agent_forget(cert, &removed);
	jit_format_time(cert->valid_after, va);
	jit_format_time(cert->valid_before, vb);
	j = json_pack("{s:s, s:s?, s:o, s:I, s:s, s:s, s:b, s:s?, s:s?, "
	    "s:s?, s:b, s:s}", "role", e->role, "request",
	    e->request_id[0] ? e->request_id : NULL, "principals", princ,
	    "serial", (json_int_t)cert->serial, "valid_after", va,
	    "valid_before", vb, "expired", cert->valid_before <= jit_now(),
	    "state", state, "revoked_by", client_json_str(req, "revoked_by"),
	    "revoked_at", client_json_str(req, "revoked_at"),
	    "removed_from_agent", removed, "certificate", e->path);
	json_decref(req);
	return j;
}

/* The installed certificates as a JSON array (empty when none). */
static json_t *
installed_all(const struct client_config *c, const json_t *list)
{
	struct client_installed *v = NULL;
	json_t *a, *e;
	char msg[256];
	size_t i, n = 0;

	if ((a = json_array()) == NULL)
		return NULL;
	if (client_installed_list(NULL, &v, &n, msg, sizeof(msg)) != 0)
		client_fail("warning: %s", msg);
	for (i = 0; i < n; i++)
		if ((e = installed_json(c, list, &v[i])) != NULL)
			json_array_append_new(a, e);
	client_installed_free(v, n);
	return a;
}

static void
print_installed(const json_t *installed)
{
	const json_t *e;
	const char *state, *by, *at;
	char princ[512], mark[512];
	size_t i;

	if (json_array_size(installed) == 0)
		return;
	printf("\ninstalled certificates:\n");
	json_array_foreach(installed, i, e) {
		state = client_json_str(e, "state");
		client_strings_of(json_object_get(e, "principals"), ",", princ,
		    sizeof(princ));
		mark[0] = '\0';
		if (state != NULL && strcmp(state, "revoked") == 0) {
			by = client_json_str(e, "revoked_by");
			at = client_json_str(e, "revoked_at");
			snprintf(mark, sizeof(mark), " REVOKED%s%s%s%s%s",
			    by ? " by " : "", by ? by : "", at ? " at " : "",
			    at ? at : "", json_is_true(json_object_get(e,
			    "removed_from_agent")) ? ", removed from "
			    "ssh-agent" : "");
		} else if (json_is_true(json_object_get(e, "expired")))
			snprintf(mark, sizeof(mark), " (expired)");
		else if (state != NULL && strcmp(state, "approved") != 0)
			snprintf(mark, sizeof(mark), " (request %s)", state);
		client_line(stdout, "  %-16s %s until %s%s",
		    client_json_str(e, "role"), princ[0] ? princ : "-",
		    client_json_str(e, "valid_before"), mark);
	}
}

int
client_cmd_status(const struct client_opts *o)
{
	struct client_config c;
	struct client_http_result res;
	json_t *installed = NULL, *j = NULL;
	const json_t *list;
	char path[256];
	int rc;

	memset(&res, 0, sizeof(res));
	if (o->nargs > 1) {
		client_fail("usage: jit-ssh status [ID]");
		return JIT_EXIT_USAGE;
	}
	if (o->nargs == 1 && (rc = need_id(o, "jit-ssh status [ID]")) != 0)
		return rc;
	if ((rc = client_opts_config_auth(o, &c)) != 0)
		return rc;
	if (o->nargs == 1) {
		snprintf(path, sizeof(path), "/v1/requests/%s", o->args[0]);
		if ((rc = client_api_call(&c, "GET", path, NULL, 0,
		    &res)) != 0)
			goto out;
		client_print_request(res.json, o->json);
		if (client_state_final(client_json_str(res.json, "state")))
			client_pending_forget(o->args[0]);
		goto out;
	}
	if ((rc = client_api_call(&c, "GET", "/v1/requests?mine=1", NULL, 0,
	    &res)) != 0)
		goto out;
	rc = JIT_EXIT_ERROR;
	list = requests_of(res.json);
	if ((installed = installed_all(&c, list)) == NULL)
		goto out;
	sweep_pending(&c, list);
	if (o->json) {
		if ((j = json_pack("{s:o, s:O}", "requests", list ?
		    json_incref((json_t *)list) : json_array(), "installed",
		    installed)) == NULL)
			goto out;
		client_print_json(j);
	} else {
		client_print_requests(list);
		print_installed(installed);
	}
	rc = JIT_EXIT_OK;
 out:
	json_decref(installed);
	json_decref(j);
	client_http_result_release(&res);
	client_config_release(&c);
	return rc;
}

int
client_cmd_list(const struct client_opts *o)
{
	struct client_config c;
	struct client_http_result res;
	int rc;

	memset(&res, 0, sizeof(res));
	if (o->nargs != 0) {
		client_fail("usage: jit-ssh list [--pending]");
		return JIT_EXIT_USAGE;
	}
	if ((rc = client_opts_config_auth(o, &c)) != 0)
		return rc;
	if ((rc = client_api_call(&c, "GET", o->pending ?
	    "/v1/requests?state=pending" : "/v1/requests", NULL, 0,
	    &res)) == 0) {
		if (o->json)
			client_print_json(res.json);
		else
			client_print_requests(requests_of(res.json));
	}
	client_http_result_release(&res);
	client_config_release(&c);
	return rc;
}

/* POST /v1/requests/ID/ACTION with an optional comment. */
static int
act(const struct client_opts *o, const char *action, const char *usage)
{
	struct client_config c;
	struct client_http_result res;
	json_t *body = NULL;
	const char *state;
	char path[256], needs[512];
	int rc;

	memset(&res, 0, sizeof(res));
	if ((rc = need_id(o, usage)) != 0)
		return rc;
	if ((rc = client_opts_config_auth(o, &c)) != 0)
		return rc;
	if (o->comment != NULL &&
	    (body = json_pack("{s:s}", "comment", o->comment)) == NULL) {
		client_config_release(&c);
		return JIT_EXIT_ERROR;
	}
	snprintf(path, sizeof(path), "/v1/requests/%s/%s", o->args[0],
	    action);
	if ((rc = client_api_call(&c, "POST", path, body, 0, &res)) != 0)
		goto out;
	state = client_json_str(res.json, "state");
	if (o->json)
		client_print_json(res.json);
	else if (strcmp(action, "approve") == 0)
		/* The approver sees what they approved: the principals,
		 * the window and what is still needed. */
		client_print_request(res.json, 0);
	else {
		needs[0] = '\0';
		if (state != NULL && strcmp(state, "pending") == 0)
			client_missing_words(res.json, needs, sizeof(needs));
		client_line(stdout, "request %s: %s%s%s", o->args[0],
		    state ? state : "?", needs[0] ? ", " : "", needs);
	}
	/* A cancelled request will never be installed: drop its key. */
	if (client_state_final(state))
		client_pending_forget(o->args[0]);
 out:
	json_decref(body);
	client_http_result_release(&res);
	client_config_release(&c);
	return rc;
}

int
client_cmd_approve(const struct client_opts *o)
{
	return act(o, "approve", "jit-ssh approve ID [--comment TEXT]");
}

int
client_cmd_deny(const struct client_opts *o)
{
	if (o->comment == NULL || *o->comment == '\0') {
		client_fail("usage: jit-ssh deny ID --comment TEXT (a reason "
		    "is required)");
		return JIT_EXIT_USAGE;
	}
	return act(o, "deny", "jit-ssh deny ID --comment TEXT");
}

int
client_cmd_cancel(const struct client_opts *o)
{
	return act(o, "cancel", "jit-ssh cancel ID");
}

int
client_cmd_revoke(const struct client_opts *o)
{
	return act(o, "revoke", "jit-ssh revoke ID [--comment TEXT]");
}

/*
 * End the grant of an installed certificate on the server (the requester
 * relinquishes it).  Returns 0 when it was revoked now or was already
 * over (409: revoked, ended), else an exit code after printing.
 */
static int
relinquish(const struct client_config *c, const struct client_opts *o,
    const struct client_installed *e, json_t *revoked)
{
	struct client_http_result res;
	json_t *body = NULL;
	char path[256], msg[512];
	int r, rc = JIT_EXIT_ERROR;

	memset(&res, 0, sizeof(res));
	if (e->request_id[0] == '\0') {
		client_fail("%s: its certificate names no request; nothing "
		    "revoked or removed (jit-ssh logout %s removes it here)",
		    e->role, e->role);
		return JIT_EXIT_ERROR;
	}
	if (o->comment != NULL &&
	    (body = json_pack("{s:s}", "comment", o->comment)) == NULL)
		return JIT_EXIT_ERROR;
	snprintf(path, sizeof(path), "/v1/requests/%s/revoke", e->request_id);
	r = client_http_call(c, "POST", path, body, 30, NULL, NULL, &res, msg,
	    sizeof(msg));
	if (r == JIT_ERR_SYSTEM && client_interrupted) {
		client_fail("interrupted");
		rc = JIT_EXIT_INTERRUPTED;
	} else if (r != 0)
		client_fail("%s: request %s not revoked: %s; nothing removed",
		    e->role, e->request_id, msg);
	else if (res.status == 409) {
		client_http_describe_error(&res, msg, sizeof(msg));
		if (!o->json)
			client_line(stdout, "%s: request %s was already over "
			    "(%s)", e->role, e->request_id, msg);
		rc = 0;
	} else if (res.status < 200 || res.status > 299) {
		client_http_describe_error(&res, msg, sizeof(msg));
		client_fail("%s: request %s not revoked: %s; nothing removed",
		    e->role, e->request_id, msg);
	} else {
		if (!o->json)
			client_line(stdout, "%s: request %s revoked (serial "
			    "%llu joins the revocation list)", e->role,
			    e->request_id,
			    (unsigned long long)e->cert->serial);
		json_array_append_new(revoked, json_string(e->request_id));
		rc = 0;
	}
	json_decref(body);
	client_http_result_release(&res);
	return rc;
}

int
client_cmd_logout(const struct client_opts *o)
{
	const char *role = o->nargs == 1 ? o->args[0] : NULL;
	struct client_installed *v = NULL;
	struct client_config c;
	json_t *revoked = NULL, *j;
	size_t i, n = 0, nroles = 0, nagent = 0, r1, a1, npending = 0;
	char msg[512];
	int rc = JIT_EXIT_ERROR, r;

	memset(&c, 0, sizeof(c));
	if (o->nargs > 1) {
		client_fail("usage: jit-ssh logout [ROLE] [--revoke "
		    "[--comment TEXT]]");
		return JIT_EXIT_USAGE;
	}
	if (role != NULL && !client_role_name_ok(role)) {
		client_fail("invalid role name '%s'", role);
		return JIT_EXIT_USAGE;
	}
	if (!o->revoke && (o->url || o->token || o->tls_ca || o->config ||
	    o->ca_key_file || o->comment)) {
		client_fail("jit-ssh logout: the server options and --comment "
		    "apply only with --revoke (usage: jit-ssh logout [ROLE] "
		    "[--revoke [--comment TEXT]])");
		return JIT_EXIT_USAGE;
	}
	if ((revoked = json_array()) == NULL)
		return JIT_EXIT_ERROR;
	if (o->revoke) {
		if (client_installed_list(role, &v, &n, msg,
		    sizeof(msg)) != 0) {
			client_fail("%s", msg);
			goto out;
		}
		if (n == 0) {
			client_fail("no certificate is installed%s%s; nothing "
			    "to revoke", role ? " for role " : "",
			    role ? role : "");
			goto out;
		}
		/* Only now, with something to revoke, sign in if need be. */
		if ((rc = client_opts_config_auth(o, &c)) != 0)
			goto out;
		/* Each role's files go only once its grant is over on the
		 * server, so a failed revocation can be tried again. */
		rc = JIT_EXIT_OK;
		for (i = 0; i < n; i++) {
			if ((r = relinquish(&c, o, &v[i], revoked)) != 0) {
				rc = r;
				continue;
			}
			if (client_uninstall(v[i].role, &r1, &a1, msg,
			    sizeof(msg)) != 0) {
				client_fail("%s", msg);
				rc = JIT_EXIT_ERROR;
				continue;
			}
			nroles += r1;
			nagent += a1;
		}
	} else {
		if (client_uninstall(role, &nroles, &nagent, msg,
		    sizeof(msg)) != 0) {
			client_fail("%s", msg);
			goto out;
		}
		rc = JIT_EXIT_OK;
	}
	/* Logging out of everything also drops the keys kept for requests
	 * not installed yet. */
	if (role == NULL && rc == JIT_EXIT_OK &&
	    (r = client_pending_clear(&npending)) != 0) {
		client_fail("cannot clear ~/.ssh/jit/pending: %s", jit_err(r));
		rc = JIT_EXIT_ERROR;
	}
	if (o->json) {
		j = json_pack("{s:I, s:I, s:O, s:I}", "roles",
		    (json_int_t)nroles, "agent_identities", (json_int_t)nagent,
		    "revoked", revoked, "pending_keys", (json_int_t)npending);
		if (j != NULL)
			client_print_json(j);
		json_decref(j);
	} else if (role != NULL)
		printf("%s: removed %s files and %zu agent identit%s\n", role,
		    nroles ? "its" : "no", nagent, nagent == 1 ? "y" : "ies");
	else {
		printf("removed the files of %zu role%s and %zu agent "
		    "identit%s", nroles, nroles == 1 ? "" : "s", nagent,
		    nagent == 1 ? "y" : "ies");
		if (npending > 0)
			printf(", and %zu key%s of requests not installed",
			    npending, npending == 1 ? "" : "s");
		printf("\n");
	}
 out:
	client_installed_free(v, n);
	json_decref(revoked);
	if (o->revoke)
		client_config_release(&c);
	return rc;
}

/* GET /v1/ca and parse it; prints on failure. */
static int
fetch_ca(const struct client_config *c, char **line, struct jit_key **key)
{
	struct client_http_result res;
	int rc, r;

	*line = NULL;
	*key = NULL;
	if ((rc = client_api_call(c, "GET", "/v1/ca", NULL, 1, &res)) != 0)
		return rc;
	*line = strndup(res.body, strcspn(res.body, "\r\n"));
	client_http_result_release(&res);
	if (*line == NULL)
		return JIT_EXIT_ERROR;
	if ((r = jit_key_parse_public(*line, key, NULL)) != 0) {
		client_fail("the server's CA key is not a valid public key: %s",
		    jit_err(r));
		free(*line);
		*line = NULL;
		return JIT_EXIT_ERROR;
	}
	return 0;
}

/*
 * GET /v1/ca/host: *line is the host CA's known_hosts line, rebuilt from
 * its checked parts ("@cert-authority PATTERNS KEY jit-ssh-host-ca"), and
 * *fp its fingerprint; both NULL when the server has no host CA (404).
 * Prints on failure.
 */
static int
fetch_host_ca(const struct client_config *c, char **line, char **fp)
{
	struct client_http_result res;
	struct jit_key *k = NULL;
	char msg[512], *key = NULL, *text = NULL;
	const char *pat;
	size_t plen;
	int r, rc = JIT_EXIT_ERROR;

	*line = *fp = NULL;
	memset(&res, 0, sizeof(res));
	if (client_http_call(c, "GET", "/v1/ca/host", NULL, 30, NULL, NULL,
	    &res, msg, sizeof(msg)) != 0) {
		client_fail("%s", msg);
		return client_interrupted ? JIT_EXIT_INTERRUPTED :
		    JIT_EXIT_ERROR;
	}
	if (res.status == 404) {
		rc = JIT_EXIT_OK;          /* no host certificates here */
		goto out;
	}
	if (res.status != 200) {
		client_http_describe_error(&res, msg, sizeof(msg));
		client_fail("%s", msg);
		goto out;
	}
	if ((text = strndup(res.body, strcspn(res.body, "\r\n"))) == NULL)
		goto out;
	pat = text + 16;
	plen = strcspn(pat, " ");
	if (strncmp(text, "@cert-authority ", 16) != 0 || plen == 0 ||
	    strspn(pat, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789.-*?,") != plen || pat[plen] != ' ') {
		client_fail("the server's host CA line is not an "
		    "@cert-authority line");
		goto out;
	}
	if ((r = jit_key_parse_public(pat + plen + 1, &k, NULL)) != 0) {
		client_fail("the server's host CA key is not a valid public "
		    "key: %s", jit_err(r));
		goto out;
	}
	if (jit_key_format_public(k, CLIENT_HOST_CA_COMMENT, &key) != 0 ||
	    jit_key_fingerprint(k, fp) != 0 ||
	    asprintf(line, "@cert-authority %.*s %s", (int)plen, pat,
	    key) < 0) {
		*line = NULL;
		goto out;
	}
	rc = JIT_EXIT_OK;
 out:
	if (rc != JIT_EXIT_OK) {
		free(*fp);
		*fp = NULL;
	}
	client_http_result_release(&res);
	jit_key_free(k);
	free(key);
	free(text);
	return rc;
}

int
client_cmd_ca(const struct client_opts *o)
{
	struct client_config c;
	struct jit_key *k = NULL, *pin = NULL;
	char *line = NULL, *fp = NULL;
	int rc;

	if (o->nargs != 0) {
		client_fail("usage: jit-ssh ca");
		return JIT_EXIT_USAGE;
	}
	if ((rc = client_opts_config(o, &c)) != 0)
		return rc;
	if ((rc = fetch_ca(&c, &line, &k)) != 0)
		goto out;
	rc = JIT_EXIT_ERROR;
	if (c.ca_key != NULL) {
		if (jit_key_parse_public(c.ca_key, &pin, NULL) != 0 ||
		    !jit_key_equal_public(pin, k)) {
			client_fail("the server's CA key differs from the "
			    "pinned one; not printing it (re-run jit-ssh "
			    "setup if the CA really changed)");
			rc = JIT_EXIT_CERT;
			goto out;
		}
	}
	if (jit_key_fingerprint(k, &fp) != 0)
		goto out;
	if (o->json) {
		json_t *j = json_pack("{s:s, s:s, s:b}", "ca_key", line,
		    "fingerprint", fp, "pinned", c.ca_key != NULL);

		if (j != NULL)
			client_print_json(j);
		json_decref(j);
	} else
		client_line(stdout, "%s", line);
	rc = JIT_EXIT_OK;
 out:
	free(line);
	free(fp);
	jit_key_free(k);
	jit_key_free(pin);
	client_config_release(&c);
	return rc;
}

int
client_cmd_whoami(const struct client_opts *o)
{
	struct client_config c;
	struct client_http_result res;
	const json_t *v;
	const char *k;
	char groups[512];
	int rc;

	memset(&res, 0, sizeof(res));
	if (o->nargs != 0) {
		client_fail("usage: jit-ssh whoami");
		return JIT_EXIT_USAGE;
	}
	if ((rc = client_opts_config_auth(o, &c)) != 0)
		return rc;
	if ((rc = client_api_call(&c, "GET", "/v1/whoami", NULL, 0,
	    &res)) == 0) {
		if (o->json)
			client_print_json(res.json);
		else {
			client_strings_of(json_object_get(res.json, "groups"),
			    ",", groups, sizeof(groups));
			client_line(stdout, "%s%s%s%s",
			    (k = client_json_str(res.json, "user")) ? k : "?",
			    groups[0] ? " (groups: " : "", groups,
			    groups[0] ? ")" : "");
			json_object_foreach(res.json, k, v) {
				if (json_is_array(v) && json_array_size(v))
				{
					if (strcmp(k, "groups") == 0)
						continue;
					client_strings_of(v, ",", groups,
					    sizeof(groups));
					client_line(stdout, "  %s: %s", k,
					    groups);
				} else if (json_is_true(v))
					client_line(stdout, "  %s: yes", k);
			}
			client_line(stdout, "  server: %s", c.url);
		}
	}
	client_http_result_release(&res);
	client_config_release(&c);
	return rc;
}

static int
confirm(const char *question)
{
	char line[64];

	fprintf(stderr, "%s [y/N] ", question);
	fflush(stderr);
	if (fgets(line, sizeof(line), stdin) == NULL)
		return 0;
	return line[0] == 'y' || line[0] == 'Y';
}

int
client_cmd_setup(const struct client_opts *o)
{
	struct client_config c;
	struct client_http_result res;
	struct jit_key *k = NULL, *old = NULL;
	char *line = NULL, *fp = NULL, *oldfp = NULL, msg[512];
	char *hline = NULL, *hfp = NULL, *known = NULL;
	const char *user = NULL;
	int rc, changed = 0, same_url;

	memset(&res, 0, sizeof(res));
	if (o->nargs != 1) {
		client_fail("usage: jit-ssh setup URL [--token-file FILE | "
		    "--token - | --sso] [--tls-ca FILE] [--yes]");
		return JIT_EXIT_USAGE;
	}
	if (o->sso && o->token != NULL) {
		client_fail("--sso and a token exclude each other");
		return JIT_EXIT_USAGE;
	}
	/* The file as it is, without environment overrides: setup saves
	 * only what the file held and what the flags say. */
	if (client_config_load_file(o->config, &c, msg, sizeof(msg)) != 0) {
		/* A broken file is replaced by setup. */
		client_config_release(&c);
		memset(&c, 0, sizeof(c));
		c.path = o->config ? strdup(o->config) :
		    client_home_path(".config/jit-ssh/config");
		if (c.path == NULL)
			return JIT_EXIT_ERROR;
	}
	same_url = c.url != NULL && strcmp(c.url, o->args[0]) == 0;
	if (client_config_set(&c.url, o->args[0]) != 0)
		goto oom;
	if (o->tls_ca != NULL) {
		/* Saved as an absolute path: the config outlives the cwd. */
		char *abs = realpath(o->tls_ca, NULL);

		if (abs == NULL) {
			client_fail("--tls-ca %s: %s", o->tls_ca,
			    strerror(errno));
			rc = JIT_EXIT_ERROR;
			goto out;
		}
		rc = client_config_set(&c.tls_ca, abs);
		free(abs);
		if (rc != 0)
			goto oom;
	}
	if (o->token != NULL) {
		if (client_config_set(&c.token, o->token) != 0)
			goto oom;
		c.sso = 0;
	} else if (!same_url || o->sso) {
		/* A token for another server is no use here, and --sso signs
		 * in afresh. */
		client_config_set(&c.token, NULL);
		client_config_set(&c.token_expires, NULL);
	}
	if ((rc = fetch_ca(&c, &line, &k)) != 0 ||
	    (rc = fetch_host_ca(&c, &hline, &hfp)) != 0)
		goto out;
	rc = JIT_EXIT_ERROR;
	if (jit_key_fingerprint(k, &fp) != 0)
		goto out;
	if (c.ca_key != NULL && jit_key_parse_public(c.ca_key, &old,
	    NULL) == 0 && !jit_key_equal_public(old, k)) {
		changed = 1;
		if (jit_key_fingerprint(old, &oldfp) != 0)
			goto out;
	}
	if (c.token != NULL) {
		/* Check the token now rather than at the first login. */
		if ((rc = client_api_call(&c, "GET", "/v1/whoami", NULL, 0,
		    &res)) != 0)
			goto out;
		rc = JIT_EXIT_ERROR;
		user = client_json_str(res.json, "user");
	}
	fprintf(stderr, "Server %s\nCA key fingerprint: %s\n", c.url, fp);
	if (hfp != NULL)
		client_line(stderr, "Host CA key fingerprint: %s (for %.*s)",
		    hfp, (int)strcspn(hline + 16, " "), hline + 16);
	if (changed)
		fprintf(stderr, "WARNING: this differs from the CA key pinned "
		    "before (%s)\n", oldfp);
	if (!o->yes && isatty(0)) {
		if (!confirm("Trust this CA key for jit-ssh certificates?")) {
			client_fail("not trusted; configuration unchanged");
			rc = JIT_EXIT_ERROR;
			goto out;
		}
	}
	if (client_config_set(&c.ca_key, line) != 0)
		goto oom;
	if (o->sso)
		c.sso = 1;
	if (client_config_save(&c, msg, sizeof(msg)) != 0) {
		client_fail("%s", msg);
		goto out;
	}
	/* The host CA goes where ssh looks, so the first connection to an
	 * enrolled host asks nothing. */
	if (hline != NULL &&
	    client_known_hosts_put(hline, &known, msg, sizeof(msg)) != 0) {
		client_fail("%s", msg);
		goto out;
	}
	if (o->sso) {
		/* The pinned CA is saved first; the sign-in adds the
		 * session to the same file. */
		if ((rc = client_sso_sign_in(&c)) != 0)
			goto out;
		rc = JIT_EXIT_ERROR;
		client_http_result_release(&res);
		if ((rc = client_api_call(&c, "GET", "/v1/whoami", NULL, 0,
		    &res)) != 0)
			goto out;
		rc = JIT_EXIT_ERROR;
		user = client_json_str(res.json, "user");
	}
	if (o->json) {
		json_t *j = json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:s?}",
		    "config", c.path, "url", c.url, "ca_fingerprint", fp,
		    "user", user, "host_ca_fingerprint", hfp, "known_hosts",
		    known);

		if (j != NULL)
			client_print_json(j);
		json_decref(j);
	} else {
		client_line(stdout, "Wrote %s: server %s, CA %s pinned%s%s%s.",
		    c.path, c.url, fp, user == NULL ? "" : c.sso ?
		    ", signed in for " : ", token for ", user ? user : "",
		    user ? "" : " (no token yet: set JIT_SSH_TOKEN or re-run "
		    "with --token-file FILE)");
		if (known != NULL)
			client_line(stdout, "Trusting the host CA %s in %s.",
			    hfp, known);
	}
	rc = JIT_EXIT_OK;
	goto out;
 oom:
	client_fail("%s", jit_err(JIT_ERR_ALLOC));
	rc = JIT_EXIT_ERROR;
 out:
	client_http_result_release(&res);
	jit_key_free(k);
	jit_key_free(old);
	free(line);
	free(fp);
	free(oldfp);
	free(hline);
	free(hfp);
	free(known);
	client_config_release(&c);
	return rc;
}
