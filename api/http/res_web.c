/*
 * res_web.c - the web page: GET / and the files embedded from api/web/
 * (web_assets.h), and GET /r/ID, the short link a notification carries,
 * which redirects to the request's page.  The page itself talks to the
 * /v1 API with a session (res_session.c).  Every answer carries the
 * Content-Security-Policy and the other headers http.c adds to all.
 */
#include "api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "web_assets.h"

int
res_web(struct call *c)
{
	const struct jit_web_asset *a = NULL;
	char *body;
	size_t i;

	for (i = 0; i < jit_web_asset_count && a == NULL; i++)
		if (strcmp(c->req->path, jit_web_assets[i].path) == 0)
			a = &jit_web_assets[i];
	if (a == NULL)
		return 0;
	if (strcmp(c->req->method, "GET") != 0 &&
	    strcmp(c->req->method, "HEAD") != 0) {
		reply_error(c, 405, NULL, "use GET");
		return 1;
	}
	if ((body = malloc(a->len + 1)) == NULL) {
		reply_error(c, 500, NULL, "out of memory");
		return 1;
	}
	memcpy(body, a->data, a->len + 1);   /* with embed.py's NUL */
	reply_body(c, 200, body, a->len, a->content_type);
	return 1;
}

void
res_web_request_link(struct call *c, const char *id)
{
	if (reply_header(c, &c->resp->location, "/#/r/%s", id) == 0)
		reply_text(c, 302, "see the request's page");
}
