/*
 * Maps (method, path) to a route. Unknown paths get ROUTE_UNKNOWN (404 "Invalid URL"); known
 * paths with another method get 405 and the Allow list.
 */
#ifndef ARGOT_SERVER_ROUTER_H
#define ARGOT_SERVER_ROUTER_H

#include "server/http/http.h"

typedef struct route_match {
    const route_ops *ops; /* NULL: no route for this method */
    int path_known;       /* 1 if some method is routed on this path */
    char allow[64];       /* "GET, POST" when path_known */
    const char *param;    /* start of the {file_id} (or console asset name) segment, or NULL */
    size_t param_len;
} route_match;

http_method router_method(const char *method);
void router_match(const char *path, http_method m, int metrics_enabled, route_match *out);

/* Handlers, one file each under api/. */
extern const route_ops api_healthz;
extern const route_ops api_metrics;
extern const route_ops api_files_create;
extern const route_ops api_files_list;
extern const route_ops api_files_retrieve;
extern const route_ops api_files_delete;
extern const route_ops api_files_content;
extern const route_ops api_uploads_create;
extern const route_ops api_uploads_parts;
extern const route_ops api_uploads_complete;
extern const route_ops api_uploads_cancel;
extern const route_ops api_console_page;
extern const route_ops api_console_asset;
extern const route_ops api_argot_usage;

#endif
