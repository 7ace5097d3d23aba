/*
 * format.c - what a notification says (notify_int.h): the payload of a
 * change, and its JSON, Slack and email renderings.
 */
#include "notify_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "err.h"
#include "lifecycle.h"
#include "util.h"

json_t *
notify_payload(const struct jit_lc_event *ev, const char *public_url,
    uint64_t now)
{
	char ts[JIT_TIME_LEN];
	json_t *p, *req = NULL, *link = json_null();

	jit_format_time(now, ts);
	if (ev->req != NULL) {
		/* The key is no secret, but no receiver needs it either. */
		if ((req = jit_request_to_json(ev->req)) == NULL)
			return NULL;
		json_object_del(req, "public_key");
		if (public_url != NULL) {
			char *l = NULL;

			if (asprintf(&l, "%s/r/%s", public_url,
			    ev->req->id) < 0) {
				json_decref(req);
				return NULL;
			}
			link = json_string(l);
			free(l);
		}
	} else if (public_url != NULL) {
		link = json_string(public_url);
	}
	p = json_pack("{s:s, s:s, s:o, s:s, s:s?, s:o}", "event", ev->event,
	    "time", ts, "request", req != NULL ? req : json_null(),
	    "actor", ev->actor, "comment", ev->comment, "link", link);
	return p;
}

/* ---- reading a payload ------------------------------------------------ */

/* The facts of a payload that the words need (borrowed from it). */
struct facts {
	const char *event, *actor, *comment, *link, *time;
	const json_t *req;
	const char *rid, *user, *role, *reason, *state, *nb, *na;
	json_int_t duration, napprovals, needed, serial;
};

static const char *
str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static json_int_t
num(const json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

static void
facts_read(const json_t *payload, struct facts *f)
{
	memset(f, 0, sizeof(*f));
	f->event = str(payload, "event");
	f->actor = str(payload, "actor");
	f->comment = str(payload, "comment");
	f->link = str(payload, "link");
	f->time = str(payload, "time");
	f->req = json_object_get(payload, "request");
	if (!json_is_object(f->req)) {
		f->req = NULL;
		return;
	}
	f->rid = str(f->req, "id");
	f->user = str(f->req, "user");
	f->role = str(f->req, "role");
	f->reason = str(f->req, "reason");
	f->state = str(f->req, "state");
	f->nb = str(f->req, "not_before");
	f->na = str(f->req, "not_after");
	f->duration = num(f->req, "duration");
	f->napprovals = (json_int_t)json_array_size(json_object_get(f->req,
	    "approvals"));
	f->needed = num(f->req, "approvals_needed");
	f->serial = num(f->req, "serial");
}

/* ---- words --------------------------------------------------------------- */

enum esc {
	ESC_NONE,     /* email body: line breaks become spaces */
	ESC_SLACK,    /* Slack mrkdwn: &, <, > as entities */
	ESC_HEADER,   /* a mail header: only printable ASCII */
};

struct out {
	struct jit_buf b;
	enum esc esc;
	int err;
};

static void
raw(struct out *o, const char *s)
{
	if (o->err == 0)
		o->err = jit_buf_put(&o->b, s, strlen(s));
}

/* Text that came from a person (or the policy): escaped for o. */
static void
text(struct out *o, const char *s)
{
	const char *rep;
	char one[2] = { 0, 0 };

	for (; s != NULL && *s != '\0' && o->err == 0; s++) {
		unsigned char c = (unsigned char)*s;

		rep = NULL;
		if (o->esc == ESC_SLACK)
			rep = c == '&' ? "&amp;" : c == '<' ? "&lt;" :
			    c == '>' ? "&gt;" : NULL;
		if (rep == NULL && c < 0x20)
			rep = " ";
		if (rep == NULL && o->esc == ESC_HEADER && c >= 0x7f)
			rep = "?";
		if (rep == NULL) {
			one[0] = (char)c;
			rep = one;
		}
		raw(o, rep);
	}
}

static void
rawf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
rawf(struct out *o, const char *fmt, ...)
{
	char line[128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	raw(o, line);
}

/* "USER's request for ROLE" */
static void
whose(struct out *o, const struct facts *f, const char *what)
{
	text(o, f->user);
	raw(o, "'s ");
	raw(o, what);
	raw(o, " ");
	text(o, f->role);
}

/* One line saying what happened, without the request id or link. */
static void
summary(struct out *o, const struct facts *f)
{
	const char *ev = f->event != NULL ? f->event : "";
	int self = f->actor != NULL && f->user != NULL &&
	    strcmp(f->actor, f->user) == 0;
	char dur[32];

	if (f->req == NULL) {
		raw(o, "Test notification from jit-ssh, sent by ");
		text(o, f->actor);
		return;
	}
	if (strcmp(ev, "request.create") == 0) {
		jit_format_duration((uint64_t)f->duration, dur, sizeof(dur));
		text(o, f->user);
		raw(o, " requests ");
		text(o, f->role);
		rawf(o, " for %s", dur);
		if (f->state != NULL && strcmp(f->state, "pending") != 0)
			raw(o, " (approved at once: the role needs no approval)");
		else
			rawf(o, ": needs %lld approval%s", (long long)f->needed,
			    f->needed == 1 ? "" : "s");
	} else if (strcmp(ev, "request.approve") == 0) {
		text(o, f->actor);
		raw(o, " approved ");
		whose(o, f, "request for");
		if (f->state != NULL && strcmp(f->state, "pending") == 0)
			rawf(o, " (%lld of %lld approvals)",
			    (long long)f->napprovals, (long long)f->needed);
		else
			raw(o, ": access granted");
	} else if (strcmp(ev, "request.deny") == 0) {
		text(o, f->actor);
		raw(o, " denied ");
		whose(o, f, "request for");
	} else if (strcmp(ev, "request.cancel") == 0) {
		text(o, f->user);
		raw(o, " cancelled their request for ");
		text(o, f->role);
	} else if (strcmp(ev, "request.revoke") == 0) {
		if (self) {
			text(o, f->user);
			raw(o, " gave up their grant of ");
			text(o, f->role);
		} else {
			text(o, f->actor);
			raw(o, " revoked ");
			whose(o, f, "grant of");
		}
	} else if (strcmp(ev, "request.expire") == 0) {
		whose(o, f, "request for");
		raw(o, " expired without a decision");
	} else if (strcmp(ev, "grant.end") == 0) {
		whose(o, f, "grant of");
		raw(o, " ended");
	} else if (strcmp(ev, "cert.issue") == 0) {
		text(o, f->user);
		raw(o, " fetched a certificate for ");
		text(o, f->role);
		rawf(o, " (serial %lld)", (long long)f->serial);
	} else {
		text(o, ev);
		raw(o, ": ");
		whose(o, f, "request for");
	}
}

/* The detail lines, each "LABEL: value" + eol. */
static void
details(struct out *o, const struct facts *f, const char *eol, int link)
{
	const json_t *pr = json_object_get(f->req, "principals");
	size_t i;

	if (f->req == NULL) {
		if (link && f->link != NULL) {
			raw(o, "Server: ");
			text(o, f->link);
			raw(o, eol);
		}
		return;
	}
	raw(o, "Request: ");
	text(o, f->rid);
	raw(o, eol);
	raw(o, "Role: ");
	text(o, f->role);
	if (json_array_size(pr) > 0) {
		raw(o, " (logins: ");
		for (i = 0; i < json_array_size(pr); i++) {
			if (i > 0)
				raw(o, ", ");
			text(o, json_string_value(json_array_get(pr, i)));
		}
		raw(o, ")");
	}
	raw(o, eol);
	if (f->reason != NULL) {
		raw(o, "Reason: ");
		text(o, f->reason);
		raw(o, eol);
	}
	if (f->comment != NULL) {
		raw(o, "Comment by ");
		text(o, f->actor);
		raw(o, ": ");
		text(o, f->comment);
		raw(o, eol);
	}
	if (f->nb != NULL && f->na != NULL) {
		raw(o, "Window: ");
		text(o, f->nb);
		raw(o, " to ");
		text(o, f->na);
		raw(o, eol);
	}
	if (link && f->link != NULL) {
		raw(o, "Link: ");
		text(o, f->link);
		raw(o, eol);
	}
}

/* Finish o into *out / *len (NUL-terminated). */
static int
finish(struct out *o, char **out, size_t *len)
{
	int r = o->err;

	if (r == 0)
		r = jit_buf_put_u8(&o->b, 0);
	if (r == 0 && (*out = malloc(jit_buf_len(&o->b))) == NULL)
		r = JIT_ERR_ALLOC;
	if (r == 0) {
		*len = jit_buf_len(&o->b) - 1;
		memcpy(*out, jit_buf_ptr(&o->b), jit_buf_len(&o->b));
	}
	jit_buf_release(&o->b);
	return r;
}

/* ---- the three renderings ---------------------------------------------------- */

/* The compact text of j (stolen; NULL is ALLOC) in *out and *len. */
static int
dump(json_t *j, char **out, size_t *len)
{
	*out = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (*out == NULL)
		return JIT_ERR_ALLOC;
	*len = strlen(*out);
	return 0;
}

static int
render_json(const json_t *rec, const json_t *payload, char **out, size_t *len)
{
	json_t *ev = json_pack("{s:O}", "id", json_object_get(rec, "id"));

	if (ev != NULL && json_object_update(ev, (json_t *)payload) != 0) {
		json_decref(ev);
		ev = NULL;
	}
	return dump(ev, out, len);
}

/* A link <URL|LABEL> when the URL cannot break out of it. */
static void
slack_link(struct out *o, const char *url, const char *label)
{
	if (url != NULL && strpbrk(url, "<>|&") == NULL) {
		raw(o, "<");
		raw(o, url);
		raw(o, "|");
		text(o, label);
		raw(o, ">");
	} else {
		text(o, label);
	}
}

static int
render_slack(const json_t *payload, char **out, size_t *len)
{
	struct out o = { JIT_BUF_INIT, ESC_SLACK, 0 };
	struct facts f;
	char *t = NULL;
	json_t *msg;
	int r;

	facts_read(payload, &f);
	if (f.req != NULL) {
		slack_link(&o, f.link, f.rid);
		raw(&o, ": ");
	}
	summary(&o, &f);
	raw(&o, "\n");
	details(&o, &f, "\n", 0);
	if ((r = finish(&o, &t, len)) != 0)
		return r;
	msg = json_pack("{s:s, s:b, s:b}", "text", t, "unfurl_links", 0,
	    "mrkdwn", 1);
	free(t);
	return dump(msg, out, len);
}

static int
render_email(const struct jit_notify_endpoint *ep, const json_t *rec,
    const json_t *payload, char **out, size_t *len)
{
	struct out o = { JIT_BUF_INIT, ESC_HEADER, 0 };
	const json_t *to = json_object_get(rec, "to");
	const char *id = str(rec, "id");
	struct facts f;
	char date[64];
	time_t now = time(NULL);
	struct tm tm;
	size_t i;

	facts_read(payload, &f);
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	raw(&o, "From: ");
	text(&o, ep->from);
	raw(&o, "\r\nTo: ");
	for (i = 0; i < json_array_size(to); i++) {
		if (i > 0)
			raw(&o, ",\r\n ");   /* folded: one address a line */
		text(&o, json_string_value(json_array_get(to, i)));
	}
	raw(&o, "\r\nSubject: [jit-ssh] ");
	if (f.rid != NULL) {
		text(&o, f.rid);
		raw(&o, ": ");
	}
	summary(&o, &f);
	raw(&o, "\r\nDate: ");
	raw(&o, date);
	raw(&o, "\r\nMessage-ID: <");
	text(&o, id);
	raw(&o, "@jit-ssh>\r\nX-Jit-Delivery: ");
	text(&o, id);
	raw(&o, "\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: 8bit\r\n\r\n");
	o.esc = ESC_NONE;
	summary(&o, &f);
	raw(&o, ".\r\n\r\n");
	details(&o, &f, "\r\n", 1);
	return finish(&o, out, len);
}

int
notify_render(const struct jit_notify_endpoint *ep, const json_t *rec,
    char **out, size_t *len)
{
	const json_t *payload = json_object_get(rec, "payload");

	*out = NULL;
	*len = 0;
	if (!json_is_object(payload) || !json_is_string(json_object_get(rec,
	    "id")))
		return JIT_ERR_INVALID_ARGUMENT;
	switch (ep->format) {
	case JIT_NOTIFY_JSON:
		return render_json(rec, payload, out, len);
	case JIT_NOTIFY_SLACK:
		return render_slack(payload, out, len);
	case JIT_NOTIFY_EMAIL:
		return render_email(ep, rec, payload, out, len);
	}
	return JIT_ERR_INTERNAL;
}
