/*
 * Maps (method, path) to a route. The table is the application's (api/routes.c registers the
 * Files and Uploads API); this file knows only patterns: literal segments and at most one
 * "{name}" segment, which matches any one non-empty segment and is handed to the handler
 * (percent-decoded) as r->param; a trailing slash is literal ("/console/"). Unknown paths get 404
 * ("Invalid URL"); a known path with another method gets 405 and the Allow list. HEAD is routed
 * like GET.
 */
#ifndef ARGOT_SERVER_ROUTER_H
#define ARGOT_SERVER_ROUTER_H

#include <stddef.h>

#include "server/http/http.h"

typedef struct http_route {
    http_method method;
    const char *pattern; /* "/v1/files/{file_id}/content" */
    const route_ops *ops;
} http_route;

typedef struct http_router http_router;

typedef struct route_match {
    const route_ops *ops; /* NULL: no route for this method */
    int path_known;       /* 1 if some method is routed on this path */
    char allow[64];       /* "GET, HEAD, POST" when path_known */
    const char *param;    /* start of the {..} segment in path, or NULL */
    size_t param_len;
} route_match;

/* Copies the table. Returns 0, or -1 for a malformed pattern (not starting with '/', an empty
 * segment, more than one parameter) or no memory. */
int http_router_new(http_router **out, const http_route *routes, size_t n);
void http_router_free(http_router *rt);
void http_router_match(const http_router *rt, const char *path, http_method m, route_match *out);

http_method router_method(const char *method);

#endif
