/*
 * web_assets.h - the web page's files (api/web/), embedded in the binary
 * at build time by embed.py: one entry per file listed in
 * api/meson.build, in that order.
 *
 * Each asset is served at its path: index.html at "/", every other file
 * at "/" + its name.  The data is static and never freed.
 */
#ifndef JIT_WEB_ASSETS_H
#define JIT_WEB_ASSETS_H

#include <stddef.h>

struct jit_web_asset {
	const char *path;            /* "/", "/app.js", ... */
	const char *content_type;    /* with charset for text */
	const unsigned char *data;
	size_t len;
};

extern const struct jit_web_asset jit_web_assets[];
extern const size_t jit_web_asset_count;

#endif
