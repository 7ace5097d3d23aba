/*
 * output.c - everything jit-ssh prints about requests, and how: text
 * from the server (names, roles, reasons, comments, error details) is
 * made inert before it reaches a terminal, requests are shown in words
 * (the window, what is still missing), JSON is written with the same
 * characters escaped.
 *
 * The server is not trusted to send printable text: a reason with an
 * escape sequence could rewrite the screen, a bidi override could make
 * "alice" read as "ecila" or hide the end of a line.  So every line that
 * can carry server text goes through client_line() or client_fail(),
 * which escape control characters and bidi overrides after formatting.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "err.h"
#include "util.h"

/*
 * The length of the valid UTF-8 sequence at s (at most n bytes) and its
 * code point, or 0 when s does not start one (a stray continuation
 * byte, an overlong form, a surrogate, a value above U+10FFFF, a
 * truncated sequence).
 */
static size_t
utf8_seq(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t len, i;
	uint32_t c;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		c = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		c = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		c = s[0] & 0x07;
	} else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && c < 0x800) || (len == 4 && c < 0x10000) ||
	    (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
		return 0;
	*cp = c;
	return len;
}

/* Code points that must not reach a terminal as they are. */
static int
dangerous(uint32_t cp)
{
	return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) ||
	    (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

/*
 * Escape s into a new string.  Text mode (json = 0): controls of one
 * byte and invalid bytes as \xHH, other code points as \uHHHH.  JSON
 * mode: s is JSON text written by jansson (valid UTF-8, C0 controls
 * inside strings already escaped); newlines between members stay, the
 * rest becomes \uHHHH (upper case, as jansson writes its own), which is
 * the same string to a JSON reader.
 */
static char *
escape(const char *s, int json)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i = 0, o = 0, k;
	uint32_t cp;
	char *out;

	/* At most 6 output bytes for each input byte ("\u007f"). */
	if (n > (SIZE_MAX - 1) / 6 || (out = malloc(n * 6 + 1)) == NULL)
		return NULL;
	while (i < n) {
		if ((k = utf8_seq(p + i, n - i, &cp)) == 0) {
			o += (size_t)snprintf(out + o, 7, "\\x%02x", p[i]);
			i++;
			continue;
		}
		if (!dangerous(cp) || (json && cp == '\n')) {
			memcpy(out + o, p + i, k);
			o += k;
		} else if (cp < 0x80 && !json)
			o += (size_t)snprintf(out + o, 7, "\\x%02x", cp);
		else
			o += (size_t)snprintf(out + o, 7, json ? "\\u%04X" :
			    "\\u%04x", cp);
		i += k;
	}
	out[o] = '\0';
	return out;
}

char *
client_escape(const char *s)
{
	return escape(s, 0);
}

/* Format, escape and write one line to f. */
static void
vline(FILE *f, const char *prefix, const char *fmt, va_list ap)
{
	char *text = NULL, *safe = NULL;

	if (vasprintf(&text, fmt, ap) < 0)
		text = NULL;
	if (text == NULL || (safe = escape(text, 0)) == NULL)
		fprintf(f, "%s(%s)\n", prefix, jit_err(JIT_ERR_ALLOC));
	else
		fprintf(f, "%s%s\n", prefix, safe);
	free(text);
	free(safe);
}

void
client_line(FILE *f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vline(f, "", fmt, ap);
	va_end(ap);
}

void
client_fail(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	va_start(ap, fmt);
	vline(stderr, "jit-ssh: ", fmt, ap);
	va_end(ap);
}

void
client_print_json(const json_t *j)
{
	char *text, *safe = NULL;

	if ((text = json_dumps(j, JSON_INDENT(2))) != NULL)
		safe = escape(text, 1);
	if (safe == NULL)
		client_fail("%s", jit_err(JIT_ERR_ALLOC));
	else
		printf("%s\n", safe);
	free(text);
	free(safe);
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
client_state_final(const char *state)
{
	static const char *const finals[] = { "denied", "cancelled",
	    "expired", "revoked", "ended" };
	size_t i;

	for (i = 0; state != NULL && i < sizeof(finals) / sizeof(finals[0]);
	    i++)
		if (strcmp(state, finals[i]) == 0)
			return 1;
	return 0;
}

static const char *
str_or(const json_t *o, const char *key, const char *dflt)
{
	const char *s = client_json_str(o, key);

	return s ? s : dflt;
}

void
client_strings_of(const json_t *arr, const char *sep, char *out, size_t len)
{
	const json_t *v;
	size_t i, used = 0;
	int n;

	out[0] = '\0';
	json_array_foreach(arr, i, v) {
		if (!json_is_string(v))
			continue;
		n = snprintf(out + used, len - used, "%s%s", used ? sep : "",
		    json_string_value(v));
		if (n < 0 || (size_t)n >= len - used)
			break;
		used += (size_t)n;
	}
}

void
client_missing_words(const json_t *req, char *out, size_t len)
{
	const json_t *missing = json_object_get(req, "missing"), *m;
	const char *from;
	long long count;
	size_t i, used = 0;
	int n;

	out[0] = '\0';
	if (!json_is_array(missing)) {
		/* A server older than "missing": the plain count. */
		snprintf(out, len, "%zu of %lld approvals",
		    json_array_size(json_object_get(req, "approvals")),
		    client_json_int(req, "approvals_needed", 0));
		return;
	}
	json_array_foreach(missing, i, m) {
		count = client_json_int(m, "count", 0);
		from = str_or(m, "from", "?");
		if (count <= 0)
			continue;
		if (used == 0)
			n = snprintf(out, len, "needs %lld more approval%s from "
			    "%s", count, count == 1 ? "" : "s", from);
		else
			n = snprintf(out + used, len - used, " and %lld more "
			    "from %s", count, from);
		if (n < 0 || (size_t)n >= len - used)
			break;
		used += (size_t)n;
	}
}

void
client_window_words(const json_t *req, char *out, size_t len)
{
	const char *nb = client_json_str(req, "not_before");
	const char *na = client_json_str(req, "not_after");
	const char *start = client_json_str(req, "start");
	long long d = client_json_int(req, "duration", -1);
	char dur[64];

	if (d > 0)
		jit_format_duration((uint64_t)d, dur, sizeof(dur));
	else
		snprintf(dur, sizeof(dur), "?");
	if (nb != NULL && na != NULL)
		snprintf(out, len, "%s to %s (%s)", nb, na, dur);
	else if (start != NULL)
		snprintf(out, len, "starts at %s (or at approval, if later), "
		    "lasts %s", start, dur);
	else
		snprintf(out, len, "starts at approval, lasts %s", dur);
}

/* "approved: bob at T "comment"", one line per decision. */
static void
print_people(const char *label, const json_t *arr)
{
	const json_t *v;
	const char *cm;
	size_t i;

	if (!json_is_array(arr))
		return;
	json_array_foreach(arr, i, v) {
		cm = client_json_str(v, "comment");
		client_line(stdout, "  %-14s %s at %s%s%s%s", i == 0 ? label : "",
		    str_or(v, "user", "?"), str_or(v, "at", "?"),
		    cm && *cm ? " \"" : "", cm && *cm ? cm : "",
		    cm && *cm ? "\"" : "");
	}
}

const char *
client_end_words(const json_t *req)
{
	static const struct {
		const char *reason, *words;
	} w[] = {
		{ "denied", "an approver denied it" },
		{ "cancelled", "its requester cancelled it" },
		{ "expired", "nobody decided in time" },
		{ "revoked", "an approver or admin revoked it" },
		{ "relinquished", "its requester gave it up" },
		{ "ended", "its window closed" },
		{ "policy_changed", "a policy change ended it" },
	};
	const char *r = client_json_str(req, "end_reason");
	size_t i;

	for (i = 0; r != NULL && i < sizeof(w) / sizeof(w[0]); i++)
		if (strcmp(r, w[i].reason) == 0)
			return w[i].words;
	return NULL;
}

/* A labelled line when the member is a non-empty string. */
static void
print_member(const json_t *req, const char *label, const char *key)
{
	const char *s = client_json_str(req, key);

	if (s != NULL && *s != '\0')
		client_line(stdout, "  %-14s %s", label, s);
}

void
client_print_request(const json_t *req, int json)
{
	const char *state;
	char buf[1024];
	long long serial;

	if (json) {
		client_print_json(req);
		return;
	}
	state = str_or(req, "state", "?");
	client_line(stdout, "request %s", str_or(req, "id", "?"));
	client_missing_words(req, buf, sizeof(buf));
	client_line(stdout, "  %-14s %s%s%s", "state:", state,
	    strcmp(state, "pending") == 0 && buf[0] ? ", " : "",
	    strcmp(state, "pending") == 0 ? buf : "");
	print_member(req, "user:", "user");
	client_strings_of(json_object_get(req, "principals"), ",", buf,
	    sizeof(buf));
	client_line(stdout, "  %-14s %s%s%s%s", "role:",
	    str_or(req, "role", "?"), buf[0] ? " (principals: " : "", buf,
	    buf[0] ? ")" : "");
	print_member(req, "reason:", "reason");
	client_window_words(req, buf, sizeof(buf));
	client_line(stdout, "  %-14s %s", "window:", buf);
	client_strings_of(json_object_get(req, "extensions"), ",", buf,
	    sizeof(buf));
	if (buf[0] != '\0')
		client_line(stdout, "  %-14s %s", "extensions:", buf);
	print_member(req, "force-command:", "force_command");
	print_member(req, "from address:", "source_address");
	print_member(req, "created:", "created_at");
	print_people("approved:", json_object_get(req, "approvals"));
	print_people("denied:", json_object_get(req, "denials"));
	if ((serial = client_json_int(req, "serial", 0)) > 0)
		client_line(stdout, "  %-14s %lld", "serial:", serial);
	print_member(req, "cancelled:", "cancelled_at");
	print_member(req, "expired:", "expired_at");
	print_member(req, "ended:", "ended_at");
	if (client_json_str(req, "revoked_at") != NULL) {
		const char *cm = client_json_str(req, "revoke_comment");

		client_line(stdout, "  %-14s %s by %s%s%s%s", "revoked:",
		    str_or(req, "revoked_at", "?"),
		    str_or(req, "revoked_by", "?"), cm && *cm ? " \"" : "",
		    cm && *cm ? cm : "", cm && *cm ? "\"" : "");
	}
	if (client_json_str(req, "end_reason") != NULL) {
		const char *words = client_end_words(req);

		client_line(stdout, "  %-14s %s%s%s%s", "end reason:",
		    client_json_str(req, "end_reason"), words ? " (" : "",
		    words ? words : "", words ? ")" : "");
	}
}

void
client_print_requests(const json_t *list)
{
	const json_t *r;
	const char *start, *state;
	char dur[64], needs[1024], row[2048];
	long long d;
	size_t i, n;

	if (json_array_size(list) == 0) {
		printf("no requests\n");
		return;
	}
	/* The first three columns (ID, STATE, USER) are read by the shell
	 * completion: keep them first. */
	client_line(stdout, "%-14s %-9s %-10s %-12s %-20s %-8s %s", "ID",
	    "STATE", "USER", "ROLE", "START", "DURATION", "REASON");
	json_array_foreach(list, i, r) {
		state = str_or(r, "state", "?");
		if ((start = client_json_str(r, "not_before")) == NULL &&
		    (start = client_json_str(r, "start")) == NULL)
			start = strcmp(state, "pending") == 0 ? "at approval" :
			    "-";
		if ((d = client_json_int(r, "duration", -1)) > 0)
			jit_format_duration((uint64_t)d, dur, sizeof(dur));
		else
			snprintf(dur, sizeof(dur), "-");
		snprintf(row, sizeof(row), "%-14s %-9s %-10s %-12s %-20s %-8s "
		    "%s", str_or(r, "id", "?"), state, str_or(r, "user", "?"),
		    str_or(r, "role", "?"), start, dur,
		    str_or(r, "reason", ""));
		n = strlen(row);
		while (n > 0 && row[n - 1] == ' ')
			row[--n] = '\0';
		client_line(stdout, "%s", row);
		if (strcmp(state, "pending") == 0) {
			client_missing_words(r, needs, sizeof(needs));
			if (needs[0] != '\0')
				client_line(stdout, "%14s %s", "", needs);
		}
	}
}
