/*
 * fuzz-http.c - the API handlers (api/http/api.h) in-process, without a
 * socket: each input is one HTTP request given to jit_api_handle().
 *
 * Input format:
 *   line 1: "METHOD TARGET" (TARGET = path[?query]); every '@' in TARGET
 *           is replaced by the id of the last request created, so the
 *           fuzzer reaches /v1/requests/ID/... paths;
 *   byte 2: who is calling: '0' nobody, '1' alice, '2' bob (approver),
 *           '3' carol (admin), 'g' a garbage token, 's' alice and run the
 *           sweeper afterwards, 'w' bob's web session as the page sends
 *           it (cookie, Origin, CSRF token), 'x' that session's cookie
 *           alone;
 *   rest:   the request body.
 * Streamed responses (the audit export) are read to the end.
 *
 * The store lives in a temporary directory for the whole process (one
 * setup, removed at exit), so sequences of inputs build on each other.
 * ?wait= is capped at 0 (max_wait 0) so nothing blocks.
 */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "err.h"
#include "api.h"
#include "http.h"
#include "key.h"
#include "policy.h"
#include "store.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char policy_yaml[] =
    "users:\n"
    "  alice: {groups: [dev]}\n"
    "  bob: {groups: [sre]}\n"
    "  carol: {groups: [sec]}\n"
    "admins: [carol]\n"
    "auditors: [carol]\n"
    "roles:\n"
    "  ops:\n"
    "    principals: [root]\n"
    "    requesters: [group:dev]\n"
    "    approvers: [group:sre, group:sec]\n"
    "    approvals: 1\n"
    "    max_duration: 1h\n"
    "    reason: required\n"
    "    reason_pattern: '^[A-Z]+-[0-9]+'\n"
    "  auto:\n"
    "    principals: [deploy]\n"
    "    requesters: [group:dev]\n"
    "    approvers: [group:sre]\n"
    "    approvals: 0\n"
    "    max_duration: 10m\n"
    "    source_address: [10.0.0.0/8]\n"
    "    force_command: /bin/true\n"
    "  two:\n"
    "    principals: [a, b]\n"
    "    requesters: [group:dev]\n"
    "    approvers: [group:sre, group:sec]\n"
    "    approvals: 2\n"
    "    pending_timeout: 1s\n";

static struct {
	int ready;
	char dir[64];
	struct jit_store *store;
	struct jit_key *ca;
	struct jit_api *api;
	char *tok[3];
	char *sid;                   /* bob's web session */
	char cookie[80];
	char csrf[JIT_CSRF_HEX_LEN + 1];
	char last_id[JIT_REQUEST_ID_LEN];
} F;

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(path);
}

static void
teardown(void)
{
	int i;

	jit_api_free(F.api);
	jit_store_close(F.store);
	jit_key_free(F.ca);
	for (i = 0; i < 3; i++)
		free(F.tok[i]);
	free(F.sid);
	if (F.dir[0] != '\0')
		nftw(F.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int
setup(void)
{
	static const char *const users[] = { "alice", "bob", "carol" };
	struct jit_api_options o;
	struct jit_policy *p = NULL;
	struct jit_policy_error pe;
	char data[96];
	int i;

	snprintf(F.dir, sizeof(F.dir), "/tmp/jit-fuzz-http.XXXXXX");
	if (mkdtemp(F.dir) == NULL)
		return -1;
	atexit(teardown);
	snprintf(data, sizeof(data), "%s/data", F.dir);
	if (jit_store_open(data, 0, &F.store) != 0 ||
	    jit_key_generate(JIT_KEY_ED25519, 0, &F.ca) != 0 ||
	    jit_policy_load_mem("fuzz.yaml", policy_yaml,
	    sizeof(policy_yaml) - 1, &p, &pe) != 0)
		return -1;
	memset(&o, 0, sizeof(o));
	o.store = F.store;
	o.ca = F.ca;
	o.clock_skew = 60;
	o.max_wait = 0;
	o.rate_limit = 0;
	if (jit_api_new(&o, p, &F.api) != 0) {
		jit_policy_free(p);
		return -1;
	}
	for (i = 0; i < 3; i++)
		if (jit_auth_token_create(F.store, users[i], 0, "fuzz",
		    &F.tok[i], NULL) != 0)
			return -1;
	if (jit_auth_session_start(F.store, "bob", NULL, jit_now(), 86400,
	    NULL, &F.sid, NULL) != 0)
		return -1;
	snprintf(F.cookie, sizeof(F.cookie), "jit_session=%s", F.sid);
	jit_auth_session_csrf(F.sid, F.csrf);
	F.ready = 1;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jit_http_request req;
	struct jit_http_response resp;
	char line[512], target[1024], method[16], auth[128], *sp, *q;
	const uint8_t *nl;
	size_t llen, i, o;
	int who = '0';

	if (!F.ready && setup() != 0) {
		fprintf(stderr, "fuzz-http: setup failed\n");
		abort();
	}
	nl = memchr(data, '\n', size);
	llen = nl != NULL ? (size_t)(nl - data) : size;
	if (llen >= sizeof(line))
		return 0;
	memcpy(line, data, llen);
	line[llen] = '\0';
	if (strlen(line) != llen || (sp = strchr(line, ' ')) == NULL ||
	    (size_t)(sp - line) >= sizeof(method))
		return 0;
	memcpy(method, line, (size_t)(sp - line));
	method[sp - line] = '\0';
	for (i = 0, o = 0; sp[1 + i] != '\0' && o + JIT_REQUEST_ID_LEN <
	    sizeof(target); i++) {
		if (sp[1 + i] == '@' && F.last_id[0] != '\0') {
			memcpy(target + o, F.last_id, strlen(F.last_id));
			o += strlen(F.last_id);
		} else {
			target[o++] = sp[1 + i];
		}
	}
	target[o] = '\0';
	data += llen;
	size -= llen;
	if (size > 0) {          /* the newline */
		data++;
		size--;
	}
	if (size > 0) {
		who = data[0];
		data++;
		size--;
	}
	memset(&req, 0, sizeof(req));
	memset(&resp, 0, sizeof(resp));
	req.method = method;
	q = strchr(target, '?');
	if (q != NULL)
		*q++ = '\0';
	req.path = target;
	req.query = q != NULL ? q : "";
	req.client_addr = "127.0.0.1";
	switch (who) {
	case '1': case 's':
		snprintf(auth, sizeof(auth), "Bearer %s", F.tok[0]);
		req.authorization = auth;
		break;
	case '2':
		snprintf(auth, sizeof(auth), "Bearer %s", F.tok[1]);
		req.authorization = auth;
		break;
	case '3':
		snprintf(auth, sizeof(auth), "Bearer %s", F.tok[2]);
		req.authorization = auth;
		break;
	case 'g':
		req.authorization = "Bearer jit_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		    "AAAAAAAAAAAAA";
		break;
	case 'w':
		req.host = "127.0.0.1:8787";
		req.origin = "http://127.0.0.1:8787";
		req.sec_fetch_site = "same-origin";
		req.csrf_token = F.csrf;
		/* fall through */
	case 'x':
		req.cookie = F.cookie;
		break;
	default:
		break;
	}
	/* The handler expects a NUL-terminated body (http.c provides one). */
	{
		unsigned char *b = malloc(size + 1);
		if (b == NULL)
			return 0;
		memcpy(b, data, size);
		b[size] = '\0';
		req.body = b;
		req.body_len = size;
		jit_api_handle(F.api, &req, &resp);
		free(b);
	}
	if (resp.status == 0 || (resp.body_len > 0 && resp.body == NULL) ||
	    (resp.stream != NULL && resp.body != NULL))
		abort();
	/* A streamed body (GET /v1/audit) is pulled to its end, as http.c
	 * would, in small pieces so record boundaries fall mid-buffer. */
	if (resp.stream != NULL) {
		char sbuf[97];
		ssize_t n;
		size_t total = 0;

		while ((n = resp.stream(resp.stream_ctx, sbuf,
		    sizeof(sbuf))) > 0) {
			if ((size_t)n > sizeof(sbuf))
				abort();
			total += (size_t)n;
			if (total > ((size_t)256 << 20))
				abort();   /* runaway stream */
		}
	}
	if (getenv("FUZZ_HTTP_DEBUG") != NULL)
		fprintf(stderr, "%s %s?%s -> %u %.*s\n", method, req.path,
		    req.query, resp.status, resp.body_len > 160 ? 160 :
		    (int)resp.body_len, resp.body != NULL ? resp.body : "");
	if (resp.status == 201 && resp.body != NULL) {
		const char *id = strstr(resp.body, "\"id\":\"");
		if (id != NULL && strlen(id + 6) >= JIT_REQUEST_ID_LEN - 1) {
			memcpy(F.last_id, id + 6, JIT_REQUEST_ID_LEN - 1);
			F.last_id[JIT_REQUEST_ID_LEN - 1] = '\0';
		}
	}
	jit_http_response_release(&resp);
	if (who == 's')
		(void)jit_api_sweep(F.api, jit_now() + 7200, NULL, NULL);
	return 0;
}
