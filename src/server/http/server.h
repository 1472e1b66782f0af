/*
 * The HTTP server: listens, runs the worker threads, and drives each request through the
 * route life cycle of http.h (see conn.c). It knows HTTP, not the application: the routes,
 * the authentication of a request and what to do when one ends (access log, metrics) come in
 * through http_config.
 */
#ifndef ARGOT_SERVER_HTTP_SERVER_H
#define ARGOT_SERVER_HTTP_SERVER_H

#include <stdint.h>

#include "server/http/http.h"
#include "server/http/router.h"

typedef struct http_server http_server;

typedef struct http_config {
    const char *listen; /* "HOST:PORT" as given, for messages */
    const char *host;   /* "127.0.0.1", "::1" or "[::1]", a name */
    int port;           /* 0: any free port */
    int threads;
    int max_connections; /* lowered to fit the descriptor limit */
    int64_t idle_s, header_s, linger_s, rate_window_s;
    int64_t min_body_rate; /* bytes per second; 0: off */
    int64_t max_discard;   /* body bytes dropped after an early reply */
    int64_t max_head, max_url, max_headers, max_query_params;
    const http_router *router;
    struct app *app; /* handed to handlers as r->app */
    /* Resolves the bearer key of r for routes that need it; replies (401) when it refuses. */
    int (*authenticate)(http_req *r);
    /* Called once per request when it is over; completed is 0 if the client went away or the
     * connection was closed before the reply was sent. */
    void (*request_done)(http_req *r, const char *method, int completed, int64_t duration_ns);
} http_config;

/* Binds and starts the workers. Returns 0 or -1 (logged). cfg is copied; cfg->router must
 * outlive the server. */
int http_server_start(http_server **out, const http_config *cfg);
/* The bound port (useful with port 0). */
int http_server_port(const http_server *s);
/* Requests between their head and the end of their reply. */
int http_server_inflight(const http_server *s);
/* Stops accepting, waits up to grace_s for in-flight requests, then closes everything. */
void http_server_stop(http_server *s, int grace_s);

#endif
