/*
 * The routes of the Files and Uploads API, one handler file each under api/, and the glue that
 * hands them, the authentication and the per-request accounting to the HTTP layer.
 */
#ifndef ARGOT_SERVER_API_ROUTES_H
#define ARGOT_SERVER_API_ROUTES_H

#include "server/app.h"
#include "server/http/server.h"

/* Route ids index the metrics tables. */
typedef enum route_id {
    ROUTE_UNKNOWN = 0,
    ROUTE_HEALTHZ,
    ROUTE_METRICS,
    ROUTE_FILES_CREATE,
    ROUTE_FILES_LIST,
    ROUTE_FILES_RETRIEVE,
    ROUTE_FILES_DELETE,
    ROUTE_FILES_CONTENT,
    ROUTE_UPLOADS_CREATE,
    ROUTE_UPLOADS_PARTS,
    ROUTE_UPLOADS_COMPLETE,
    ROUTE_UPLOADS_CANCEL,
    ROUTE_CONSOLE_PAGE,  /* GET / and /console: the web console's page */
    ROUTE_CONSOLE_ASSET, /* GET /console/{name}: its scripts and styles */
    ROUTE_ARGOT_USAGE,   /* GET /v1/argot/usage: an Argot extension */
    ROUTE_COUNT
} route_id;

/* The routes' names in metrics, by route id. */
extern const char *const api_route_names[ROUTE_COUNT];

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

/* The router of argotd's API (with /metrics only when with_metrics). */
int api_router_new(http_router **out, int with_metrics);

/* Fills hc from a's settings, with the router rt, bearer authentication and the access log +
 * metrics as the request hooks. */
void api_http_config(http_config *hc, app *a, const http_router *rt);

#endif
