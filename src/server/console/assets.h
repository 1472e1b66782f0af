/*
 * The web console's files, compiled into argotd: console_assets.c is generated at build time
 * by embed.c from the files beside this header (see console.cmake). Every asset but the page
 * has a content hash in its name, so a browser may keep it for ever; the page names them.
 */
#ifndef ARGOT_SERVER_CONSOLE_ASSETS_H
#define ARGOT_SERVER_CONSOLE_ASSETS_H

#include <stddef.h>

#define CONSOLE_PAGE "index.html" /* the one asset served under its own name, at / and /console */

typedef struct console_asset {
    const char *name; /* "app.0123456789ab.js"; CONSOLE_PAGE for the page */
    const char *type; /* Content-Type */
    const unsigned char *data;
    size_t len;
    const char *etag; /* "\"<first 16 hex digits of the SHA-256>\"" */
} console_asset;

extern const console_asset console_assets[];
extern const size_t console_asset_count;

#endif
