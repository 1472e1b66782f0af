/*
 * The libmicrohttpd glue: starts the daemon, turns its access-handler calls into the route
 * life cycle of http.h, writes the access log and the metrics.
 */
#ifndef ARGOT_SERVER_HTTP_SERVER_H
#define ARGOT_SERVER_HTTP_SERVER_H

#include "server/app.h"

typedef struct http_server http_server;

/* Binds cfg->listen and starts the worker threads. Returns 0 or -1 (logged). */
int http_server_start(http_server **out, app *a);
/* The bound port (useful with port 0). */
int http_server_port(const http_server *s);
/* Stops accepting, waits up to grace_s for in-flight requests, then closes everything. */
void http_server_stop(http_server *s, int grace_s);

#endif
