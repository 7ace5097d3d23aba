/* reply.c - answers and body decoding for the HTTP adapter (api_int.h). */
#include "api_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "url.h"
#include "util.h"

void
reply_body(struct call *c, unsigned status, char *body, size_t len,
    const char *ctype)
{
	struct jit_http_response *resp = c->resp;

	free(resp->body);
	resp->status = status;
	resp->body = body;
	resp->body_len = body != NULL ? len : 0;
	resp->content_type = ctype;
}

/* s (malloc'd, taken over) + "\n" as the body; NULL answers 500. */
static void
reply_line(struct call *c, unsigned status, char *s, const char *ctype)
{
	size_t n;
	char *t;

	if (s == NULL) {
		s = jit_strdup("{\"error\":\"internal\","
		    "\"detail\":\"out of memory\"}\n");
		reply_body(c, 500, s, s != NULL ? strlen(s) : 0, NULL);
		return;
	}
	n = strlen(s);
	if ((t = realloc(s, n + 2)) == NULL) {
		free(s);
		reply_body(c, 500, NULL, 0, NULL);
		return;
	}
	t[n] = '\n';
	t[n + 1] = '\0';
	reply_body(c, status, t, n + 1, ctype);
}

void
reply_json(struct call *c, unsigned status, json_t *j)
{
	char *s = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	reply_line(c, status, s, NULL);
}

int
reply_header(struct call *c, char **slot, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || (s = malloc((size_t)n + 1)) == NULL) {
		reply_error(c, 500, NULL, "out of memory");
		return -1;
	}
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	if (*slot != NULL) {
		jit_wipe(*slot, strlen(*slot));
		free(*slot);
	}
	*slot = s;
	return 0;
}

void
reply_text(struct call *c, unsigned status, const char *text)
{
	reply_line(c, status, jit_strdup(text), "text/plain; charset=utf-8");
}

void
reply_request(struct call *c, unsigned status, const struct jit_request *r)
{
	reply_json(c, status, jit_request_to_json(r));
}

static const char *
status_slug(unsigned status)
{
	switch (status) {
	case 400: return "bad_request";
	case 401: return "unauthorized";
	case 403: return "forbidden";
	case 404: return "not_found";
	case 405: return "method_not_allowed";
	case 409: return "conflict";
	case 413: return "too_large";
	case 429: return "too_many_requests";
	case 503: return "unavailable";
	default: return "internal";
	}
}

void
reply_error(struct call *c, unsigned status, const char *error,
    const char *fmt, ...)
{
	char detail[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	reply_json(c, status, json_pack("{s:s, s:s}", "error", error != NULL ?
	    error : status_slug(status), "detail", detail));
	if (status == 401)
		c->resp->www_authenticate = 1;
}

unsigned
http_status_of(int code)
{
	switch (code) {
	case JIT_ERR_INVALID_ARGUMENT:
	case JIT_ERR_INVALID_FORMAT:
	case JIT_ERR_BAD_DURATION:
	case JIT_ERR_BAD_PUBLIC_KEY:
	case JIT_ERR_KEY_TYPE_UNKNOWN:
	case JIT_ERR_KEY_TYPE_UNSUPPORTED:
	case JIT_ERR_KEY_TOO_SMALL:
	case JIT_ERR_KEY_IS_CERT:
	case JIT_ERR_MESSAGE_INCOMPLETE:
	case JIT_ERR_TRAILING_DATA:
	case JIT_ERR_NUL_IN_STRING:
	case JIT_ERR_STRING_TOO_LARGE:
	case JIT_ERR_BAD_MPINT:
	case JIT_ERR_POLICY_ROLE:
	case JIT_ERR_POLICY_DURATION:
	case JIT_ERR_POLICY_REASON:
	case JIT_ERR_POLICY_KEY_TYPE:
		return 400;
	case JIT_ERR_AUTH:
		return 401;
	case JIT_ERR_FORBIDDEN:
	case JIT_ERR_PERMISSION:
		return 403;
	case JIT_ERR_NOT_FOUND:
		return 404;
	case JIT_ERR_CONFLICT:
		return 409;
	case JIT_ERR_NO_BUFFER_SPACE:
		return 413;
	case JIT_ERR_STORE:
	case JIT_ERR_STORE_RETRY:
	case JIT_ERR_STORE_FULL:
	case JIT_ERR_STORE_LOCKED:
		return 503;
	default:
		return 500;
	}
}

void
reply_refusal(struct call *c, int code, const struct jit_why *why)
{
	unsigned st = http_status_of(code);
	const char *msg = why != NULL ? why->message : "";

	if (st < 500) {
		reply_error(c, st, why != NULL ? why->slug : NULL, "%s",
		    *msg ? msg : jit_err(code));
		return;
	}
	/* A server-side failure names its cause ("storage is full") so the
	 * client knows whether retrying can help. */
	fprintf(stderr, "jit-ca: %s %s: %s%s%s\n", c->req->method,
	    c->req->path, jit_err(code), *msg ? ": " : "", msg);
	if (*msg)
		reply_error(c, st, NULL, "%s: %s", msg, jit_err(code));
	else
		reply_error(c, st, NULL, "%s", jit_err(code));
}

void
reply_failure(struct call *c, int code, const char *what)
{
	struct jit_why why = { NULL, "" };

	snprintf(why.message, sizeof(why.message), "%s", what);
	reply_refusal(c, code, &why);
}

/* ---- decoding -------------------------------------------------------- */

json_t *
decode_body(struct call *c, const char *const *allowed, int empty_ok)
{
	json_error_t e;
	json_t *j, *v;
	const char *key;
	size_t i;

	if (c->req->body_len == 0) {
		if (empty_ok)
			return json_object();
		reply_error(c, 400, "bad_json", "a JSON object is required");
		return NULL;
	}
	j = json_loadb((const char *)c->req->body, c->req->body_len,
	    JSON_REJECT_DUPLICATES, &e);
	if (j == NULL) {
		reply_error(c, 400, "bad_json", "malformed JSON at line %d "
		    "column %d: %s", e.line, e.column, e.text);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		reply_error(c, 400, "bad_json", "the body must be a JSON "
		    "object");
		return NULL;
	}
	json_object_foreach(j, key, v) {
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(key, allowed[i]) == 0)
				break;
		if (allowed[i] == NULL) {
			reply_error(c, 400, "unknown_field", "unknown field "
			    "'%.40s'", jit_text_printable(key) ? key : "?");
			json_decref(j);
			return NULL;
		}
	}
	(void)v;
	return j;
}

int
decode_comment(struct call *c, json_t *body, int required, const char **out)
{
	json_t *v = json_object_get(body, "comment");
	const char *s;

	*out = NULL;
	if (v == NULL || json_is_null(v)) {
		if (!required)
			return 0;
		reply_error(c, 400, "missing_field", "a comment is required");
		return -1;
	}
	if (!json_is_string(v)) {
		reply_error(c, 400, "bad_field", "comment must be a string");
		return -1;
	}
	s = json_string_value(v);
	if (json_string_length(v) != strlen(s) || !jit_text_printable(s) ||
	    strlen(s) > JIT_MAX_COMMENT) {
		reply_error(c, 400, "bad_field", "comment must be at most %d "
		    "bytes of printable text", JIT_MAX_COMMENT);
		return -1;
	}
	if (required && *s == '\0') {
		reply_error(c, 400, "missing_field", "a comment is required");
		return -1;
	}
	*out = *s != '\0' ? s : NULL;
	return 0;
}

int
decode_query(struct call *c, struct jit_query_param *params, size_t n)
{
	char err[128];

	if (jit_query_parse(c->req->query, params, n, err, sizeof(err)) == 0)
		return 0;
	reply_error(c, 400, "bad_query", "%s", err);
	return -1;
}

int
parse_uint(const char *s, unsigned long *out)
{
	size_t n = strlen(s);

	if (n == 0 || n > 9 || strspn(s, "0123456789") != n)
		return -1;
	*out = strtoul(s, NULL, 10);
	return 0;
}
