/*
 * login.c - jit-ssh login: make a key, ask for the role, wait for the
 * decision with the long-poll endpoint, then fetch, verify and install
 * the certificate.
 *
 * Trust: the certificate is checked against the CA key pinned at setup
 * (or given with --ca-key), never against whatever the server names, and
 * against what was granted: our key, the principals and the window the
 * server reported for the request.  Anything that fails is refused before
 * a single file is written or the agent is touched.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "cert.h"
#include "client.h"
#include "err.h"
#include "util.h"

#define WAIT_SECONDS 25           /* per long-poll */
#define MAX_BACKDATE 3600         /* valid_after may precede not_before */

struct waiter {
	const char *id;
	const char *role;
	json_t *req;                  /* latest request seen (borrowed) */
	uint64_t started_ms;          /* when we began waiting */
	uint64_t created;             /* request created_at, 0 if unknown */
	int tty;                      /* live progress line on stderr */
	int line_shown;
	int quiet;                    /* --json: no progress at all */
	char last[512];               /* last text printed (non-tty) */
};

static void
fmt_waited(const struct waiter *w, char *out, size_t len)
{
	uint64_t now = jit_now(), s;

	if (w->created != 0 && now >= w->created)
		s = now - w->created;
	else
		s = (jit_monotonic_ms() - w->started_ms) / 1000;
	snprintf(out, len, "%um%02us", (unsigned)(s / 60),
	    (unsigned)(s % 60));
}

/* "alice, bob" from an array of {user, ...}; out is always terminated. */
static void
users_of(const json_t *arr, char *out, size_t len)
{
	const json_t *v;
	const char *u;
	size_t i, used = 0;
	int n;

	out[0] = '\0';
	if (!json_is_array(arr))
		return;
	json_array_foreach(arr, i, v) {
		if ((u = client_json_str(v, "user")) == NULL)
			continue;
		n = snprintf(out + used, len - used, "%s%s", used ? ", " : "",
		    u);
		if (n < 0 || (size_t)n >= len - used)
			break;
		used += (size_t)n;
	}
}

static void
progress_text(const struct waiter *w, char *out, size_t len)
{
	const char *state = client_json_str(w->req, "state");
	char who[256], waited[32], needs[512];

	users_of(json_object_get(w->req, "approvals"), who, sizeof(who));
	fmt_waited(w, waited, sizeof(waited));
	if (state != NULL && strcmp(state, "pending") == 0)
		client_missing_words(w->req, needs, sizeof(needs));
	else
		needs[0] = '\0';
	if (state != NULL && strcmp(state, "approved") == 0)
		snprintf(out, len, "request %s (%s): approved%s%s, waited %s",
		    w->id, w->role, who[0] ? " by " : "", who, waited);
	else
		snprintf(out, len, "request %s (%s): %s%s%s%s%s%s, waited %s",
		    w->id, w->role, state ? state : "?", needs[0] ? ", " : "",
		    needs, who[0] ? " (approved by " : "", who,
		    who[0] ? ")" : "", waited);
}

static void
progress_update(struct waiter *w, int force)
{
	char text[512];

	if (w->quiet)
		return;
	progress_text(w, text, sizeof(text));
	if (w->tty) {
		/* One line, rewritten in place; the text is the server's,
		 * made inert first. */
		char *safe = client_escape(text);

		fprintf(stderr, "\r\033[K%s", safe ? safe : "");
		free(safe);
		w->line_shown = 1;
		return;
	}
	/* Not a terminal: a line per change (ignore the clock). */
	{
		char *p = strstr(text, ", waited ");
		size_t n = p ? (size_t)(p - text) : strlen(text);

		if (!force && strncmp(w->last, text, n) == 0 &&
		    w->last[n] == '\0')
			return;
		snprintf(w->last, sizeof(w->last), "%.*s", (int)n, text);
		client_line(stderr, "%s", text);
	}
}

static void
progress_end(struct waiter *w)
{
	if (w->tty && w->line_shown)
		fputc('\n', stderr);
	w->line_shown = 0;
}

static void
on_tick(void *ctx)
{
	struct waiter *w = ctx;

	if (w->tty)
		progress_update(w, 0);
}

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	/* Interrupted by SIGINT: return early, the caller checks. */
	nanosleep(&ts, NULL);
}

static void
print_resume(const char *id)
{
	fprintf(stderr, "jit-ssh: request %s is still pending.\n"
	    "  resume waiting: jit-ssh login --resume %s\n"
	    "  cancel it:      jit-ssh cancel %s\n", id, id, id);
}

/* Internal: a transient failure the waiting loop retries. */
#define JIT_EXIT_RETRY (-1)
#define RETRIES 6                 /* 1+2+4+8+15+15 s before giving up */

/*
 * Get the request; on failure print and return an exit code.  With
 * transport_msg non-NULL, a failure to reach the server (or a 502-504)
 * is not printed but returned as JIT_EXIT_RETRY with the message.
 */
static int
get_request(const struct client_config *c, const char *id, unsigned wait_s,
    struct waiter *w, json_t **out, char *transport_msg,
    size_t transport_len)
{
	struct client_http_result res;
	char path[256], msg[512];
	int r;

	*out = NULL;
	if (wait_s > 0)
		snprintf(path, sizeof(path), "/v1/requests/%s?wait=%u", id,
		    wait_s);
	else
		snprintf(path, sizeof(path), "/v1/requests/%s", id);
	r = client_http_call(c, "GET", path, NULL, (long)wait_s + 30,
	    w ? on_tick : NULL, w, &res, msg, sizeof(msg));
	if (r == JIT_ERR_SYSTEM && client_interrupted)
		return JIT_EXIT_INTERRUPTED;
	if (r != 0 || res.status == 502 || res.status == 503 ||
	    res.status == 504) {
		/* Transport trouble or a server restarting: the caller may
		 * retry while waiting. */
		if (r == 0)
			client_http_describe_error(&res, msg, sizeof(msg));
		client_http_result_release(&res);
		if (transport_msg != NULL) {
			snprintf(transport_msg, transport_len, "%s", msg);
			return JIT_EXIT_RETRY;
		}
		if (w)
			progress_end(w);
		client_fail("%s", msg);
		return JIT_EXIT_ERROR;
	}
	if (res.status != 200 || !json_is_object(res.json)) {
		if (w)
			progress_end(w);
		if (res.status == 200)
			snprintf(msg, sizeof(msg), "the server sent a response "
			    "that is not JSON (is the URL right?)");
		else
			client_http_describe_error(&res, msg, sizeof(msg));
		client_fail("request %s: %s", id, msg);
		client_http_result_release(&res);
		return JIT_EXIT_ERROR;
	}
	*out = json_incref(res.json);
	client_http_result_release(&res);
	return 0;
}

static int
same_wait_progress(const json_t *a, const json_t *b)
{
	const char *sa = client_json_str(a, "state"), *sb = client_json_str(b,
	    "state");
	const json_t *aa = json_object_get(a, "approvals");
	const json_t *ba = json_object_get(b, "approvals");
	const json_t *ad = json_object_get(a, "denials");
	const json_t *bd = json_object_get(b, "denials");

	return sa && sb && strcmp(sa, sb) == 0 &&
	    json_array_size(aa) == json_array_size(ba) &&
	    json_array_size(ad) == json_array_size(bd);
}

/*
 * Wait while the request is pending.  *req is replaced by the latest
 * version.  Returns 0 when it left "pending", else an exit code (after
 * printing).
 */
static int
wait_decision(const struct client_config *c, struct waiter *w, json_t **req,
    uint64_t timeout_s)
{
	json_t *next = NULL;
	const char *state;
	char tmsg[512];
	uint64_t deadline = 0, t0, left;
	unsigned wait_s, failures = 0;
	int rc;

	if (timeout_s > 0)
		deadline = jit_monotonic_ms() + timeout_s * 1000;
	w->req = *req;
	progress_update(w, 1);
	for (;;) {
		state = client_json_str(*req, "state");
		if (state == NULL || strcmp(state, "pending") != 0)
			break;
		if (client_interrupted)
			goto interrupted;
		wait_s = WAIT_SECONDS;
		if (deadline != 0) {
			t0 = jit_monotonic_ms();
			if (t0 >= deadline) {
				progress_end(w);
				client_fail("gave up waiting for request %s "
				    "after %llus (--timeout); it is still "
				    "pending: resume with 'jit-ssh login "
				    "--resume %s' or cancel with 'jit-ssh "
				    "cancel %s'", w->id,
				    (unsigned long long)timeout_s, w->id,
				    w->id);
				return JIT_EXIT_ENDED;
			}
			left = (deadline - t0 + 999) / 1000;
			if (left < wait_s)
				wait_s = (unsigned)left;
		}
		t0 = jit_monotonic_ms();
		rc = get_request(c, w->id, wait_s, w, &next, tmsg,
		    sizeof(tmsg));
		if (rc == JIT_EXIT_INTERRUPTED)
			goto interrupted;
		if (rc == JIT_EXIT_RETRY) {
			/* Keep waiting through a server restart or a network
			 * blip, with backoff; the request lives on the server
			 * whatever happens here. */
			if (++failures >= RETRIES) {
				progress_end(w);
				client_fail("lost the server while waiting for "
				    "request %s: %s (resume with 'jit-ssh "
				    "login --resume %s')", w->id, tmsg, w->id);
				return JIT_EXIT_ERROR;
			}
			if (!w->quiet) {
				progress_end(w);
				client_line(stderr, "jit-ssh: %s; retrying",
				    tmsg);
			}
			sleep_ms(failures >= 4 ? 15000 :
			    1000u << (failures - 1));
			continue;
		}
		if (rc != 0)
			return rc;
		failures = 0;
		/* A server that answers a long-poll at once with nothing
		 * new must not turn this into a busy loop. */
		if (same_wait_progress(*req, next) &&
		    jit_monotonic_ms() - t0 < 500)
			sleep_ms(1000);
		json_decref(*req);
		*req = next;
		w->req = next;
		progress_update(w, 0);
	}
	progress_end(w);
	return 0;
 interrupted:
	progress_end(w);
	print_resume(w->id);
	return JIT_EXIT_INTERRUPTED;
}

/* The request's principals as a NULL-terminated array of borrowed
 * strings (free the array only). */
static const char **
principals_of(const json_t *req, size_t *n)
{
	const json_t *arr = json_object_get(req, "principals"), *v;
	const char **out;
	size_t i;

	*n = 0;
	if (!json_is_array(arr) || json_array_size(arr) == 0 ||
	    json_array_size(arr) > JIT_CERT_MAX_PRINCIPALS)
		return NULL;
	if ((out = calloc(json_array_size(arr) + 1, sizeof(*out))) == NULL)
		return NULL;
	json_array_foreach(arr, i, v) {
		if (!json_is_string(v)) {
			free(out);
			return NULL;
		}
		out[i] = json_string_value(v);
	}
	*n = json_array_size(arr);
	return out;
}

/*
 * The critical options a role can give a certificate.  Any other is not
 * something we were granted (and sshd refuses certificates carrying an
 * unknown one), so the certificate is refused before it is installed.
 */
static int
expected_critical(const struct jit_cert *cert, char *msg, size_t msglen)
{
	const char *name;
	size_t i, j;
	char shown[64];

	for (i = 0; i < cert->ncritical; i++) {
		name = cert->critical[i].name;
		if (strcmp(name, "force-command") == 0 ||
		    strcmp(name, "source-address") == 0)
			continue;
		/* The name came from the server: keep escapes off the
		 * terminal. */
		for (j = 0; name[j] != '\0' && j < sizeof(shown) - 1; j++)
			shown[j] = name[j] >= 0x20 && name[j] < 0x7f ?
			    name[j] : '?';
		shown[j] = '\0';
		snprintf(msg, msglen, "unexpected critical option '%s'",
		    shown);
		return JIT_ERR_CERT_OPTION;
	}
	return 0;
}

/*
 * Verify a certificate line completely against the pinned CA, our key
 * and the grant in req.  On success *out is the parsed cert.  On failure
 * msg says why.
 */
static int
verify_cert(const char *line, const json_t *req, const struct jit_key *ca,
    const struct jit_key *key, struct jit_cert **out, char *msg,
    size_t msglen)
{
	struct jit_cert *cert = NULL;
	struct jit_cert_expect e;
	const char **princ = NULL;
	const char *s;
	uint64_t not_before = 0, not_after = 0, now = jit_now();
	size_t np = 0;
	int r = JIT_ERR_INTERNAL;

	*out = NULL;
	if ((r = jit_cert_parse_line(line, &cert)) != 0) {
		snprintf(msg, msglen, "not a valid certificate: %s",
		    jit_err(r));
		goto out;
	}
	if ((princ = principals_of(req, &np)) == NULL) {
		r = JIT_ERR_CERT_PRINCIPALS;
		snprintf(msg, msglen, "the server did not report the granted "
		    "principals");
		goto out;
	}
	if ((s = client_json_str(req, "not_after")) == NULL ||
	    jit_parse_time(s, &not_after) != 0 ||
	    (s = client_json_str(req, "not_before")) == NULL ||
	    jit_parse_time(s, &not_before) != 0) {
		r = JIT_ERR_CERT_INVALID;
		snprintf(msg, msglen, "the server did not report the grant "
		    "window");
		goto out;
	}
	memset(&e, 0, sizeof(e));
	e.ca = ca;
	e.key = key;
	/* A grant that starts later (a start was asked for) is checked as
	 * of its start; its window is checked exactly below. */
	e.now = now < not_before ? not_before : now;
	e.principals = princ;
	e.nprincipals = np;
	if ((r = jit_cert_verify(cert, &e)) != 0) {
		snprintf(msg, msglen, "%s", jit_err(r));
		goto out;
	}
	if ((r = expected_critical(cert, msg, msglen)) != 0)
		goto out;
	/* The window must be the grant: ends exactly at not_after, starts
	 * no later than not_before and at most MAX_BACKDATE before it. */
	if (cert->valid_before != not_after ||
	    cert->valid_after > not_before ||
	    cert->valid_after + MAX_BACKDATE < not_before) {
		char va[JIT_TIME_LEN], vb[JIT_TIME_LEN];
		char gb[JIT_TIME_LEN], ga[JIT_TIME_LEN];

		jit_format_time(cert->valid_after, va);
		jit_format_time(cert->valid_before, vb);
		jit_format_time(not_before, gb);
		jit_format_time(not_after, ga);
		r = JIT_ERR_CERT_INVALID;
		snprintf(msg, msglen, "certificate window %s..%s differs from "
		    "the grant %s..%s", va, vb, gb, ga);
		goto out;
	}
	*out = cert;
	cert = NULL;
	r = 0;
 out:
	free(princ);
	jit_cert_free(cert);
	return r;
}

static void
join_principals(const struct jit_cert *cert, char *out, size_t len)
{
	size_t i, used = 0;
	int n;

	out[0] = '\0';
	for (i = 0; i < cert->nprincipals; i++) {
		n = snprintf(out + used, len - used, "%s%s", i ? "," : "",
		    cert->principals[i]);
		if (n < 0 || (size_t)n >= len - used)
			break;
		used += (size_t)n;
	}
}

/*
 * Print what happened to a request that is over, or otherwise not
 * approved, and return its exit code: 3 denied, 4 for the other ends.
 */
static int
report_end(const json_t *req, const char *id, int json)
{
	const char *state = client_json_str(req, "state");
	const json_t *den = json_object_get(req, "denials"), *d;
	const char *by, *cm, *at;
	size_t i;

	if (json)
		client_print_json(req);
	if (state != NULL && strcmp(state, "denied") == 0) {
		json_array_foreach(den, i, d) {
			cm = client_json_str(d, "comment");
			by = client_json_str(d, "user");
			client_fail("request %s was denied by %s%s%s%s", id,
			    by ? by : "?", cm && *cm ? ": \"" : "",
			    cm && *cm ? cm : "", cm && *cm ? "\"" : "");
		}
		if (json_array_size(den) == 0)
			client_fail("request %s was denied", id);
		return JIT_EXIT_DENIED;
	}
	if (state != NULL && strcmp(state, "cancelled") == 0)
		client_fail("request %s was cancelled", id);
	else if (state != NULL && strcmp(state, "expired") == 0) {
		/* The sweeper expires only pending requests; an approved one
		 * that expired was ended by a policy load before its
		 * certificate was fetched.  A server that records why says
		 * so (end_reason). */
		const char *why = client_json_str(req, "end_reason");

		if (client_json_str(req, "decided_at") != NULL)
			client_fail("request %s expired before its certificate "
			    "was fetched: a policy change ended it", id);
		else if (why != NULL && strcmp(why, "policy_changed") == 0)
			client_fail("request %s expired: a policy change ended "
			    "it", id);
		else if (why != NULL && strcmp(why, "expired") == 0)
			client_fail("request %s expired: nobody decided in "
			    "time", id);
		else
			client_fail("request %s expired: nobody decided in "
			    "time, or a policy change ended it", id);
	} else if (state != NULL && strcmp(state, "revoked") == 0) {
		by = client_json_str(req, "revoked_by");
		cm = client_json_str(req, "revoke_comment");
		if (by != NULL && strcmp(by, "system") == 0)
			client_fail("request %s was revoked by a policy change",
			    id);
		else
			client_fail("request %s was revoked%s%s%s%s%s", id,
			    by ? " by " : "", by ? by : "",
			    cm && *cm ? ": \"" : "", cm && *cm ? cm : "",
			    cm && *cm ? "\"" : "");
	} else if (state != NULL && (strcmp(state, "ended") == 0 ||
	    strcmp(state, "approved") == 0)) {
		at = client_json_str(req, "not_after");
		client_fail("request %s has ended: its window closed%s%s", id,
		    at ? " at " : "", at ? at : "");
	} else
		client_fail("request %s is %s", id,
		    state ? state : "in an unknown state");
	return JIT_EXIT_ENDED;
}

/* 1 when an approved request's window has already closed. */
static int
window_over(const json_t *req)
{
	const char *s = client_json_str(req, "not_after");
	uint64_t na;

	return s != NULL && jit_parse_time(s, &na) == 0 && na <= jit_now();
}

static int
fetch_verify_install(const struct client_config *c, const struct client_opts *o,
    const char *id, const char *role, json_t *req, const struct jit_key *ca,
    const struct jit_key *key, const char *key_path, int key_owned)
{
	struct client_http_result res;
	struct jit_cert *cert = NULL;
	char path[256], msg[512], princ[1024], until[JIT_TIME_LEN];
	char left_s[64], in_s[64], *line = NULL, *dir = NULL, *kfile = NULL;
	const json_t *appr;
	const char *s;
	size_t n;
	uint64_t now, nb;
	uint32_t lifetime;
	int r, agent = 0, rc = JIT_EXIT_ERROR;

	memset(&res, 0, sizeof(res));
	/* A request approved at creation comes with its certificate
	 * (docs/API.md); otherwise it is fetched. */
	if ((s = client_json_str(req, "certificate")) == NULL) {
		snprintf(path, sizeof(path), "/v1/requests/%s/certificate",
		    id);
		if ((rc = client_api_call(c, "GET", path, NULL, 1,
		    &res)) != 0) {
			fprintf(stderr, "jit-ssh: request %s is approved; "
			    "install its certificate with: jit-ssh login "
			    "--resume %s\n", id, id);
			return rc;
		}
		s = res.body;
	}
	rc = JIT_EXIT_ERROR;
	/* One line, without trailing whitespace. */
	n = strcspn(s, "\r\n");
	if ((line = strndup(s, n)) == NULL)
		goto out;
	if ((r = verify_cert(line, req, ca, key, &cert, msg,
	    sizeof(msg))) != 0) {
		client_fail("certificate for request %s refused: %s; nothing "
		    "was installed", id, msg);
		/* The server sends the same certificate every time: the key
		 * made for it will never be used. */
		if (key_owned)
			client_pending_forget(id);
		rc = JIT_EXIT_CERT;
		goto out;
	}
	now = jit_now();
	if (cert->valid_before <= now) {
		client_fail("certificate for request %s has already expired",
		    id);
		if (key_owned)
			client_pending_forget(id);
		rc = JIT_EXIT_ENDED;
		goto out;
	}
	lifetime = cert->valid_before - now > UINT32_MAX ? UINT32_MAX :
	    (uint32_t)(cert->valid_before - now);
	if ((r = client_install(role, key_path, key_owned, key, line,
	    cert->blob, cert->blob_len, lifetime, o->no_agent, &agent, msg,
	    sizeof(msg))) != 0) {
		client_fail("%s", msg);
		goto out;
	}
	if (agent < 0)
		client_line(stderr, "jit-ssh: warning: %s; the files still "
		    "work with ssh -i", msg);
	if (key_owned && key_path != NULL) {
		/* The pending key's .pub is not needed any more. */
		char *pub = NULL;

		if (asprintf(&pub, "%s.pub", key_path) >= 0) {
			unlink(pub);
			free(pub);
		}
	}
	if (client_ssh_jit_dir(0, &dir, msg, sizeof(msg)) != 0 ||
	    asprintf(&kfile, "%s/%s", dir, role) < 0) {
		kfile = NULL;
		goto out;
	}
	join_principals(cert, princ, sizeof(princ));
	jit_format_time(cert->valid_before, until);
	jit_format_duration(cert->valid_before - now, left_s, sizeof(left_s));
	if (o->json) {
		json_t *j = json_pack("{s:s, s:s, s:s, s:O, s:s?, s:s, s:I, "
		    "s:s, s:s, s:b}", "id", id, "role", role, "state",
		    "approved", "principals", json_object_get(req,
		    "principals"), "not_before", client_json_str(req,
		    "not_before"), "not_after", until, "serial",
		    (json_int_t)cert->serial, "key", kfile, "certificate",
		    line, "agent", agent > 0);

		if (j != NULL)
			client_print_json(j);
		json_decref(j);
	} else {
		char who[256];

		appr = json_object_get(req, "approvals");
		users_of(appr, who, sizeof(who));
		client_line(stdout, "Access granted for role %s (request %s%s%s).",
		    role, id, who[0] ? ", approved by " : "", who);
		client_line(stdout, "  principals:  %s", princ);
		if ((s = client_json_str(req, "not_before")) != NULL &&
		    jit_parse_time(s, &nb) == 0 && nb > now) {
			/* A start asked for: usable only from then on. */
			jit_format_duration(nb - now, in_s, sizeof(in_s));
			client_line(stdout, "  starts:      %s (in %s)", s,
			    in_s);
		}
		client_line(stdout, "  expires:     %s (in %s)", until, left_s);
		client_line(stdout, "  certificate: %s-cert.pub (serial %llu)",
		    kfile, (unsigned long long)cert->serial);
		if (agent > 0) {
			client_line(stdout, "  ssh-agent:   added; it forgets "
			    "the key at expiry");
			client_line(stdout, "Connect with:");
			client_line(stdout, "  ssh %s@HOST",
			    cert->principals[0]);
			client_line(stdout, "or, without the agent:");
			client_line(stdout, "  ssh -i %s %s@HOST", kfile,
			    cert->principals[0]);
		} else {
			client_line(stdout, "  ssh-agent:   %s", o->no_agent ?
			    "not used (--no-agent)" : agent < 0 ?
			    "failed (see above)" : "none running");
			client_line(stdout, "Connect with:");
			client_line(stdout, "  ssh -i %s %s@HOST", kfile,
			    cert->principals[0]);
		}
	}
	rc = JIT_EXIT_OK;
 out:
	client_http_result_release(&res);
	jit_cert_free(cert);
	free(line);
	free(dir);
	free(kfile);
	return rc;
}

/* One run of jit-ssh login: what its steps share.  Owns every pointer. */
struct login {
	const struct client_opts *o;
	struct client_config c;
	const char *role;             /* o's, or role_copy */
	char *role_copy;
	char *id;                     /* the request's */
	json_t *req;                  /* the request as last seen */
	struct jit_key *key;          /* the grant's private key */
	char *key_path;               /* where key is stored */
	char *tmp_path;               /* a fresh key before its request */
	int key_owned;                /* key_path is ours (pending/ID) */
};

/* Check o's arguments: 0 with *secs (--for) and *timeout_s (--timeout),
 * or JIT_EXIT_USAGE after saying why. */
static int
login_args(const struct client_opts *o, uint64_t *secs, uint64_t *timeout_s)
{
	if (o->nargs > 1 || (o->nargs == 0 && o->resume == NULL)) {
		client_fail("usage: jit-ssh login ROLE [--for DURATION] "
		    "[--reason TEXT] [--key PATH] [--no-agent] [--no-wait] | "
		    "login --resume ID");
		return JIT_EXIT_USAGE;
	}
	if (o->nargs == 1 && !client_role_name_ok(o->args[0])) {
		client_fail("invalid role name '%s'", o->args[0]);
		return JIT_EXIT_USAGE;
	}
	if (o->duration != NULL && jit_parse_duration(o->duration, secs)) {
		client_fail("--for: %s", jit_err(JIT_ERR_BAD_DURATION));
		return JIT_EXIT_USAGE;
	}
	if (o->timeout != NULL && jit_parse_duration(o->timeout, timeout_s)) {
		client_fail("--timeout: %s", jit_err(JIT_ERR_BAD_DURATION));
		return JIT_EXIT_USAGE;
	}
	if (o->resume != NULL && !client_request_id_ok(o->resume)) {
		client_fail("invalid request ID '%s'", o->resume);
		return JIT_EXIT_USAGE;
	}
	return 0;
}

/* l->key for a resumed request: the pending key made for it, the key
 * it was installed with (~/.ssh/jit/ROLE), or --key; it must be the
 * request's.  0, or JIT_EXIT_ERROR after saying why. */
static int
resume_key(struct login *l)
{
	struct jit_key *reqkey = NULL;
	const char *s;
	char *dir = NULL, msg[256];
	int r, ok;

	if (l->o->key != NULL)
		l->key_path = strdup(l->o->key);
	else {
		l->key_path = client_pending_path(l->id, 1);
		l->key_owned = 1;
	}
	if (l->key_path == NULL)
		return JIT_EXIT_ERROR;
	r = jit_key_load_private(l->key_path, &l->key);
	if (r == JIT_ERR_NOT_FOUND && l->key_owned) {
		/* Installed before: the key is now ~/.ssh/jit/ROLE (checked
		 * against the request below). */
		free(l->key_path);
		l->key_path = NULL;
		l->key_owned = 0;
		if (client_ssh_jit_dir(0, &dir, msg, sizeof(msg)) == 0 &&
		    asprintf(&l->key_path, "%s/%s", dir, l->role) < 0)
			l->key_path = NULL;
		free(dir);
		if (l->key_path == NULL)
			return JIT_EXIT_ERROR;
		r = jit_key_load_private(l->key_path, &l->key);
	}
	if (r != 0) {
		client_fail("cannot load the key for request %s from %s: %s%s",
		    l->id, l->key_path, jit_err(r), l->key_owned ?
		    " (made with --key? pass it again)" : "");
		return JIT_EXIT_ERROR;
	}
	s = client_json_str(l->req, "public_key");
	ok = s != NULL && jit_key_parse_public(s, &reqkey, NULL) == 0 &&
	    jit_key_equal_public(l->key, reqkey);
	jit_key_free(reqkey);
	if (!ok) {
		client_fail("%s is not the key of request %s", l->key_path,
		    l->id);
		return JIT_EXIT_ERROR;
	}
	return 0;
}

/* Pick up request --resume ID.  0 to wait and install; with *done set,
 * the request is over and rc says how it ended; an exit code otherwise. */
static int
login_resume(struct login *l, int *done)
{
	const char *s, *state;
	int rc;

	if ((rc = get_request(&l->c, l->o->resume, 0, NULL, &l->req, NULL,
	    0)) != 0)
		return rc;
	if ((l->id = strdup(l->o->resume)) == NULL)
		return JIT_EXIT_ERROR;
	s = client_json_str(l->req, "role");
	if (s == NULL || !client_role_name_ok(s) ||
	    (l->role != NULL && strcmp(l->role, s) != 0)) {
		client_fail("request %s is for role '%s'%s%s", l->id,
		    s ? s : "?", l->role ? ", not " : "",
		    l->role ? l->role : "");
		return JIT_EXIT_ERROR;
	}
	/* l->req is replaced while waiting: keep our own copy. */
	if ((l->role_copy = strdup(s)) == NULL)
		return JIT_EXIT_ERROR;
	l->role = l->role_copy;
	state = client_json_str(l->req, "state");
	if (client_state_final(state) || (state != NULL &&
	    strcmp(state, "approved") == 0 && window_over(l->req))) {
		/* Nothing left to wait for or install. */
		*done = 1;
		rc = report_end(l->req, l->id, l->o->json);
		client_pending_forget(l->id);
		return rc;
	}
	return resume_key(l);
}

/* l->key: --key, or a fresh Ed25519 key saved (in l->tmp_path) before
 * the request exists, so it cannot be lost.  0 or JIT_EXIT_ERROR. */
static int
new_key(struct login *l)
{
	char name[64];
	int r;

	if (l->o->key != NULL) {
		if ((r = jit_key_load_private(l->o->key, &l->key)) != 0) {
			client_fail("--key %s: %s", l->o->key, jit_err(r));
			return JIT_EXIT_ERROR;
		}
		l->key_path = strdup(l->o->key);
		return l->key_path != NULL ? 0 : JIT_EXIT_ERROR;
	}
	if ((r = jit_key_generate(JIT_KEY_ED25519, 0, &l->key)) != 0) {
		client_fail("cannot make a key: %s", jit_err(r));
		return JIT_EXIT_ERROR;
	}
	snprintf(name, sizeof(name), "new-%ld-%llu", (long)getpid(),
	    (unsigned long long)jit_monotonic_ms());
	if ((l->tmp_path = client_pending_path(name, 1)) == NULL) {
		client_fail("cannot create ~/.ssh/jit/pending");
		return JIT_EXIT_ERROR;
	}
	if ((r = jit_key_save_private(l->key, l->tmp_path, "jit-ssh")) != 0) {
		client_fail("cannot write %s: %s", l->tmp_path, jit_err(r));
		return JIT_EXIT_ERROR;
	}
	l->key_owned = 1;
	return 0;
}

/* POST /v1/requests for l->role with l->key (duration secs when --for
 * was given), then keep a fresh key under the request's id.  0 or an exit
 * code. */
static int
login_create(struct login *l, uint64_t secs)
{
	struct client_http_result res;
	json_t *body;
	const char *s;
	char *publine = NULL;
	int r, rc;

	if ((rc = new_key(l)) != 0)
		return rc;
	if ((r = jit_key_format_public(l->key, NULL, &publine)) != 0) {
		client_fail("%s", jit_err(r));
		return JIT_EXIT_ERROR;
	}
	body = json_pack("{s:s, s:s}", "role", l->role, "public_key",
	    publine);
	free(publine);
	if (body == NULL)
		return JIT_EXIT_ERROR;
	if (l->o->duration != NULL)
		json_object_set_new(body, "duration",
		    json_integer((json_int_t)secs));
	if (l->o->reason != NULL)
		json_object_set_new(body, "reason", json_string(l->o->reason));
	memset(&res, 0, sizeof(res));
	rc = client_api_call(&l->c, "POST", "/v1/requests", body, 0, &res);
	json_decref(body);
	if (rc != 0)
		return rc;
	l->req = json_incref(res.json);
	client_http_result_release(&res);
	s = client_json_str(l->req, "id");
	if (s == NULL || !client_request_id_ok(s)) {
		client_fail("the server's answer has no valid request ID");
		return JIT_EXIT_ERROR;
	}
	if ((l->id = strdup(s)) == NULL)
		return JIT_EXIT_ERROR;
	if ((s = client_json_str(l->req, "role")) == NULL ||
	    strcmp(s, l->role) != 0) {
		client_fail("the server answered request %s for role '%s', "
		    "not '%s'", l->id, s ? s : "?", l->role);
		return JIT_EXIT_ERROR;
	}
	if (l->key_owned) {
		if ((l->key_path = client_pending_path(l->id, 1)) == NULL ||
		    rename(l->tmp_path, l->key_path) != 0) {
			client_fail("cannot keep the key for request %s: %s",
			    l->id, strerror(errno));
			return JIT_EXIT_ERROR;
		}
		free(l->tmp_path);
		l->tmp_path = NULL;
	}
	if (!l->o->json)
		client_line(stderr, "jit-ssh: request %s for role %s created",
		    l->id, l->role);
	return 0;
}

/* Wait for l's request to be decided (at most timeout_s when not 0),
 * then install its certificate or report how it ended. */
static int
login_finish(struct login *l, const struct jit_key *ca, uint64_t timeout_s)
{
	struct waiter w;
	const char *state, *s;
	int rc;

	state = client_json_str(l->req, "state");
	if (l->o->no_wait && state != NULL && strcmp(state, "pending") == 0) {
		if (l->o->json)
			client_print_json(l->req);
		else {
			printf("%s\n", l->id);
			fprintf(stderr, "jit-ssh: not waiting; when it is "
			    "approved run: jit-ssh login --resume %s\n", l->id);
		}
		return JIT_EXIT_OK;
	}
	memset(&w, 0, sizeof(w));
	w.id = l->id;
	w.role = l->role;
	w.started_ms = jit_monotonic_ms();
	w.tty = isatty(2);
	w.quiet = l->o->json;
	if ((s = client_json_str(l->req, "created_at")) == NULL ||
	    jit_parse_time(s, &w.created) != 0)
		w.created = 0;
	if ((rc = wait_decision(&l->c, &w, &l->req, timeout_s)) != 0)
		return rc;
	state = client_json_str(l->req, "state");
	if (state == NULL || strcmp(state, "approved") != 0 ||
	    window_over(l->req)) {
		rc = report_end(l->req, l->id, l->o->json);
		/* The request is over for good: its key is of no use. */
		if (l->key_owned && (client_state_final(state) ||
		    window_over(l->req)))
			client_pending_forget(l->id);
		return rc;
	}
	return fetch_verify_install(&l->c, l->o, l->id, l->role, l->req, ca,
	    l->key, l->key_path, l->key_owned);
}

int
client_cmd_login(const struct client_opts *o)
{
	struct login l;
	struct jit_key *ca = NULL;
	uint64_t secs = 0, timeout_s = 0;
	int rc, done = 0;

	if ((rc = login_args(o, &secs, &timeout_s)) != 0)
		return rc;
	memset(&l, 0, sizeof(l));
	l.o = o;
	l.role = o->nargs == 1 ? o->args[0] : NULL;
	if ((rc = client_opts_config(o, &l.c)) != 0)
		return rc;
	/* The pinned CA first: signing in is of no use without it. */
	if (client_pinned_ca(&l.c, &ca) != 0)
		rc = JIT_EXIT_ERROR;
	else if ((rc = client_sso_ensure(&l.c)) == 0) {
		rc = o->resume != NULL ? login_resume(&l, &done) :
		    login_create(&l, secs);
		if (rc == 0 && !done)
			rc = login_finish(&l, ca, timeout_s);
	}
	if (l.tmp_path != NULL) {
		unlink(l.tmp_path);
		free(l.tmp_path);
	}
	free(l.role_copy);
	json_decref(l.req);
	jit_key_free(ca);
	jit_key_free(l.key);
	free(l.key_path);
	free(l.id);
	client_config_release(&l.c);
	return rc;
}
