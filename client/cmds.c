/*
 * cmds.c - jit-ssh subcommands other than login, and the helpers they
 * share (configuration with flags, the pinned CA key, request output).
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cert.h"
#include "client.h"
#include "err.h"
#include "util.h"

void
client_fail(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("jit-ssh: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

const char *
client_json_str(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

long long
client_json_int(const json_t *o, const char *key, long long dflt)
{
	const json_t *v = json_object_get(o, key);

	return json_is_integer(v) ? (long long)json_integer_value(v) : dflt;
}

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

static void
print_json(const json_t *j)
{
	json_dumpf(j, stdout, JSON_INDENT(2));
	fputc('\n', stdout);
}

static void
print_people(const char *label, const json_t *arr)
{
	const json_t *v;
	const char *u, *at, *cm;
	size_t i;

	if (!json_is_array(arr) || json_array_size(arr) == 0)
		return;
	json_array_foreach(arr, i, v) {
		u = client_json_str(v, "user");
		at = client_json_str(v, "at");
		cm = client_json_str(v, "comment");
		printf("  %-11s %s%s%s%s%s%s\n", i == 0 ? label : "",
		    u ? u : "?", at ? " at " : "", at ? at : "",
		    cm && *cm ? " \"" : "", cm && *cm ? cm : "",
		    cm && *cm ? "\"" : "");
	}
}

static void
strings_of(const json_t *arr, char *out, size_t len)
{
	const json_t *v;
	size_t i, used = 0;
	int n;

	out[0] = '\0';
	json_array_foreach(arr, i, v) {
		if (!json_is_string(v))
			continue;
		n = snprintf(out + used, len - used, "%s%s", used ? "," : "",
		    json_string_value(v));
		if (n < 0 || (size_t)n >= len - used)
			break;
		used += (size_t)n;
	}
}

void
client_print_request(const json_t *req, int json)
{
	const char *s;
	char buf[1024];
	long long d;

	if (json) {
		print_json(req);
		return;
	}
	printf("request %s\n", (s = client_json_str(req, "id")) ? s : "?");
	printf("  %-11s %s\n", "state:",
	    (s = client_json_str(req, "state")) ? s : "?");
	if ((s = client_json_str(req, "user")) != NULL)
		printf("  %-11s %s\n", "user:", s);
	strings_of(json_object_get(req, "principals"), buf, sizeof(buf));
	printf("  %-11s %s%s%s%s\n", "role:",
	    (s = client_json_str(req, "role")) ? s : "?",
	    buf[0] ? " (principals: " : "", buf, buf[0] ? ")" : "");
	if ((s = client_json_str(req, "reason")) != NULL)
		printf("  %-11s %s\n", "reason:", s);
	if ((d = client_json_int(req, "duration", -1)) > 0) {
		jit_format_duration((uint64_t)d, buf, sizeof(buf));
		printf("  %-11s %s\n", "duration:", buf);
	}
	if ((s = client_json_str(req, "created_at")) != NULL)
		printf("  %-11s %s\n", "created:", s);
	printf("  %-11s %zu of %lld needed\n", "approvals:",
	    json_array_size(json_object_get(req, "approvals")),
	    client_json_int(req, "approvals_needed", 0));
	print_people("approved:", json_object_get(req, "approvals"));
	print_people("denied:", json_object_get(req, "denials"));
	if ((s = client_json_str(req, "not_before")) != NULL)
		printf("  %-11s %s .. %s\n", "window:", s,
		    client_json_str(req, "not_after") ?
		    client_json_str(req, "not_after") : "?");
	if ((d = client_json_int(req, "serial", 0)) > 0)
		printf("  %-11s %lld\n", "serial:", d);
	if ((s = client_json_str(req, "revoked_by")) != NULL)
		printf("  %-11s %s\n", "revoked by:", s);
}

static const char *
str_or(const json_t *o, const char *key, const char *dflt)
{
	const char *s = client_json_str(o, key);

	return s ? s : dflt;
}

static void
print_table(const json_t *list)
{
	const json_t *r;
	size_t i;

	if (json_array_size(list) == 0) {
		printf("no requests\n");
		return;
	}
	printf("%-24s %-10s %-12s %-16s %-20s %s\n", "ID", "STATE", "USER",
	    "ROLE", "CREATED", "REASON");
	json_array_foreach(list, i, r) {
		printf("%-24s %-10s %-12s %-16s %-20s %s\n",
		    str_or(r, "id", "?"), str_or(r, "state", "?"),
		    str_or(r, "user", "?"), str_or(r, "role", "?"),
		    str_or(r, "created_at", ""), str_or(r, "reason", ""));
	}
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

/* Installed certificates, from ~/.ssh/jit/ROLE-cert.pub. */
static void
print_installed(void)
{
	struct dirent *de;
	struct jit_cert *cert;
	char *dir = NULL, *path = NULL, *line = NULL, msg[256];
	char until[JIT_TIME_LEN];
	DIR *d;
	size_t len;
	int header = 0;

	if (client_ssh_jit_dir(0, &dir, msg, sizeof(msg)) != 0)
		return;
	if ((d = opendir(dir)) == NULL) {
		free(dir);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (len <= 9 || strcmp(de->d_name + len - 9, "-cert.pub"))
			continue;
		if (asprintf(&path, "%s/%s", dir, de->d_name) < 0)
			break;
		cert = NULL;
		if (read_first_line(path, &line) == 0 &&
		    jit_cert_parse_line(line, &cert) == 0) {
			if (!header)
				printf("\ninstalled certificates:\n");
			header = 1;
			jit_format_time(cert->valid_before, until);
			printf("  %-16.*s %s until %s%s\n", (int)(len - 9),
			    de->d_name, cert->nprincipals ?
			    cert->principals[0] : "-", until,
			    cert->valid_before <= jit_now() ? " (expired)" :
			    "");
		}
		jit_cert_free(cert);
		free(line);
		line = NULL;
		free(path);
		path = NULL;
	}
	closedir(d);
	free(dir);
}

int
client_cmd_status(const struct client_opts *o)
{
	struct client_config c;
	struct client_http_result res;
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
		if ((rc = client_api_call(&c, "GET", path, NULL, 0, &res)) == 0)
			client_print_request(res.json, o->json);
	} else if ((rc = client_api_call(&c, "GET", "/v1/requests?mine=1",
	    NULL, 0, &res)) == 0) {
		if (o->json)
			print_json(res.json);
		else {
			print_table(requests_of(res.json));
			print_installed();
		}
	}
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
			print_json(res.json);
		else
			print_table(requests_of(res.json));
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
	char path[256];
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
	if ((rc = client_api_call(&c, "POST", path, body, 0, &res)) == 0) {
		if (o->json)
			print_json(res.json);
		else {
			state = client_json_str(res.json, "state");
			printf("request %s: %s", o->args[0],
			    state ? state : "?");
			if (state && strcmp(state, "pending") == 0)
				printf(" (%zu of %lld approvals)",
				    json_array_size(json_object_get(res.json,
				    "approvals")), client_json_int(res.json,
				    "approvals_needed", 0));
			printf("\n");
		}
	}
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

int
client_cmd_logout(const struct client_opts *o)
{
	const char *role = o->nargs == 1 ? o->args[0] : NULL;
	size_t nroles = 0, nagent = 0;
	char msg[512];

	if (o->nargs > 1) {
		client_fail("usage: jit-ssh logout [ROLE]");
		return JIT_EXIT_USAGE;
	}
	if (role != NULL && !client_role_name_ok(role)) {
		client_fail("invalid role name '%s'", role);
		return JIT_EXIT_USAGE;
	}
	if (client_uninstall(role, &nroles, &nagent, msg, sizeof(msg)) != 0) {
		client_fail("%s", msg);
		return JIT_EXIT_ERROR;
	}
	if (o->json)
		printf("{\"roles\": %zu, \"agent_identities\": %zu}\n", nroles,
		    nagent);
	else if (role != NULL)
		printf("%s: removed %s files and %zu agent identit%s\n", role,
		    nroles ? "its" : "no", nagent, nagent == 1 ? "y" : "ies");
	else
		printf("removed the files of %zu role%s and %zu agent "
		    "identit%s\n", nroles, nroles == 1 ? "" : "s", nagent,
		    nagent == 1 ? "y" : "ies");
	return JIT_EXIT_OK;
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
			print_json(j);
		json_decref(j);
	} else
		printf("%s\n", line);
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
			print_json(res.json);
		else {
			strings_of(json_object_get(res.json, "groups"), groups,
			    sizeof(groups));
			printf("%s", (k = client_json_str(res.json, "user")) ?
			    k : "?");
			if (groups[0])
				printf(" (groups: %s)", groups);
			printf("\n");
			json_object_foreach(res.json, k, v) {
				if (json_is_array(v) && json_array_size(v))
				{
					if (strcmp(k, "groups") == 0)
						continue;
					strings_of(v, groups, sizeof(groups));
					printf("  %s: %s\n", k, groups);
				} else if (json_is_true(v))
					printf("  %s: yes\n", k);
			}
			printf("  server: %s\n", c.url);
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
		fprintf(stderr, "Host CA key fingerprint: %s (for %.*s)\n",
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
			print_json(j);
		json_decref(j);
	} else {
		printf("Wrote %s: server %s, CA %s pinned", c.path, c.url, fp);
		if (user != NULL)
			printf(", %s for %s", c.sso ? "signed in" : "token",
			    user);
		else
			printf(" (no token yet: set JIT_SSH_TOKEN or re-run "
			    "with --token-file FILE)");
		printf(".\n");
		if (known != NULL)
			printf("Trusting the host CA %s in %s.\n", hfp, known);
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
