/*
 * The HTTP layer's view of one request, as handlers see it: everything a handler needs from the
 * connection goes through these functions. The layer itself knows nothing of the Files API:
 * routes, authentication and accounting reach it as a table and hooks (http_config).
 *
 * Life of a request (see http/conn.c):
 *   1. the head arrives and is checked (http/h1.c): the router picks a route, the request id
 *      is made, and, for routes that need it, the authenticate hook resolves the bearer key to
 *      an organization (r->org);
 *   2. route->begin(r) may refuse early, before any body byte is read;
 *   3. route->body(r, data, len) for each piece of the body, if the route takes one;
 *   4. route->end(r) when the body is complete: it must reply;
 *   5. route->cleanup(r) always runs last (completed, failed or aborted by the client).
 * Any handler may reply at any point. The reply goes out at once; the rest of the body is read
 * and dropped (up to --max-discard-bytes, so the client, still sending, can read the reply),
 * after which the connection is kept if the body ended, else closed gracefully.
 *
 * Thread: a request is handled by one worker thread at a time.
 */
#ifndef ARGOT_SERVER_HTTP_H
#define ARGOT_SERVER_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/buf.h"
#include "server/ids.h"

struct app; /* the application's state, handed to handlers as r->app; http/ never reads it */

#define HTTP_PARAM_MAX 128 /* the path parameter ({file_id}) kept for the handler, incl. NUL */
#define HTTP_ORG_MAX   64  /* the authenticated organization, incl. NUL */

typedef enum http_method {
    HTTP_OTHER = 0,
    HTTP_GET = 1,
    HTTP_HEAD = 2,
    HTTP_POST = 4,
    HTTP_DELETE = 8,
    HTTP_PUT = 16,
    HTTP_PATCH = 32,
    HTTP_OPTIONS = 64,
} http_method;

typedef struct http_req http_req;

typedef struct route_ops {
    int id;           /* the application's index of the route (metrics) */
    const char *name; /* for logs and metrics, e.g. "files.create" */
    int needs_auth;
    int (*begin)(http_req *r);                              /* optional; non-zero if it replied */
    int (*body)(http_req *r, const char *data, size_t len); /* optional */
    void (*end)(http_req *r);
    void (*cleanup)(http_req *r); /* optional */
} route_ops;

struct http_conn; /* http/ only */

struct http_req {
    struct app *app;
    struct http_conn *conn; /* http/ only */
    const route_ops *route;
    http_method method;
    const char *path;           /* the request target's path, not percent-decoded, NUL-terminated */
    const char *query;          /* what follows '?' (not decoded), or NULL */
    char param[HTTP_PARAM_MAX]; /* path parameter ({file_id}), NUL-terminated, maybe cut */
    size_t param_len;           /* its full length in the URL (may exceed the buffer) */
    char request_id[REQUEST_ID_LEN + 1];
    char org[HTTP_ORG_MAX]; /* set once authenticated */
    int64_t start_ns;
    uint64_t bytes_in;  /* body bytes handed to the route so far */
    uint64_t bytes_out; /* body bytes of the reply */
    uint64_t discarded; /* body bytes dropped after an early reply */
    int status;         /* 0 until a reply is made */
    int has_body;       /* the request has a body (Content-Length > 0 or chunked) */
    int body_done;      /* the whole body has been received */
    void *state;        /* the handler's own */
    argot_buf extra;    /* extra response headers, "name\0value\0" pairs (http_add_header) */
};

/* Header and query access; values are borrowed from the connection until the request ends.
 * NULL when absent. Query values are percent- and '+'-decoded; http_query_n also gives the
 * decoded length, which differs from strlen() when the value holds an encoded NUL (%00). With
 * a parameter given twice, the first wins. */
const char *http_header(http_req *r, const char *name);
const char *http_query(http_req *r, const char *name);
const char *http_query_n(http_req *r, const char *name, size_t *len);
/* Content-Length as declared; -1 if absent (chunked or no body). */
int64_t http_content_length(http_req *r);

/* Replies; each returns 0, or -1 if the reply could not be queued (the connection is then
 * closed). Exactly one reply per request. */
int http_reply_json(http_req *r, int status, argot_buf *body); /* takes body's memory */
int http_reply_error(http_req *r,
                     int status,
                     const char *type,
                     const char *param,
                     const char *code,
                     const char *fmt,
                     ...) __attribute__((format(printf, 6, 7)));
/* Streams len bytes of fd from offset off with sendfile(2), as application/octet-stream;
 * takes ownership of fd. Content-Disposition and the like go through http_add_header. */
int http_reply_fd(http_req *r, int status, int fd, uint64_t off, uint64_t len);
int http_reply_text(http_req *r, int status, const char *content_type, argot_buf *body);

/* A streamed body. read fills up to cap bytes of buf and returns how many (> 0), 0 at the end
 * of the body, or -1 on an error: the status line has gone out by then, so the connection is
 * closed and the client sees a short body. done(ctx) runs exactly once when the reply is over
 * (sent, failed or abandoned), also when http_reply_stream itself fails. */
typedef ssize_t (*http_stream_read)(void *ctx, char *buf, size_t cap);
/* Streams a body produced by read; size is the exact length, or -1 if unknown (then the body
 * is sent chunked, or until close for HTTP/1.0). Takes ownership of ctx (see done). */
int http_reply_stream(http_req *r,
                      int status,
                      const char *content_type,
                      int64_t size,
                      http_stream_read read,
                      void (*done)(void *ctx),
                      void *ctx);

/* Adds a header to the reply this request will make (Allow, ETag, Cache-Control, ...); name
 * and value are copied and must not hold CR, LF or NUL. Call before the reply. Returns 0, or
 * -1 if the header is refused (bad characters, too many). */
int http_add_header(http_req *r, const char *name, const char *value);

/* Shorthands for the common error shapes. */
int http_reply_invalid(http_req *r, const char *param, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int http_reply_internal(http_req *r, const char *what);

#endif
