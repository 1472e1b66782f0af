#include "server/http/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "server/http/disposition.h"
#include "server/http/http.h"
#include "server/http/router.h"
#include "server/log.h"
#include "server/metrics.h"

/* Per-connection memory pool: bounds memory per connection and sets the size of the body
 * pieces handed to handlers (and so of the blob writes). libmicrohttpd 0.9.75 zeroes the whole
 * pool between two requests of a keep-alive connection (MHD_pool_reset), so its size is paid on
 * every request: 256 KiB cost 12% of the CPU of GET /v1/files/{id} (perf, docs/benchmarks.md);
 * 64 KiB costs 3% and still gives body pieces of tens of KiB, far from the upload bottleneck
 * (the fsyncs). */
#define CONN_MEMORY_LIMIT (64 * 1024)
/* After an early error reply, at most this much of the remaining body is read (and dropped)
 * so the client gets the reply; past it the connection is closed. */
#define DISCARD_MAX (64u << 20)
/* Early errors on bodies declared up to this size are answered after reading the body. */
#define EARLY_DRAIN_MAX (1 << 20)

struct http_server {
    struct MHD_Daemon *d;
    app *app;
    int port;
};

int auth_resolve(http_req *r); /* auth.c */

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- request accessors ---- */

const char *http_header(http_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *http_query(http_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

int64_t http_content_length(http_req *r)
{
    const char *v = http_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (!v)
        return -1;
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || end == v || *end || n < 0)
        return -1;
    return n;
}

/* ---- replies ---- */

static void add_common_headers(http_req *r, struct MHD_Response *resp, const char *ctype)
{
    char ms[32];
    snprintf(ms, sizeof ms, "%lld", (long long)((mono_ns() - r->start_ns) / 1000000));
    MHD_add_response_header(resp, "x-request-id", r->request_id);
    MHD_add_response_header(resp, "openai-version", "2020-10-01");
    MHD_add_response_header(resp, "openai-processing-ms", ms);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (r->org[0])
        MHD_add_response_header(resp, "openai-organization", r->org);
    if (ctype)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    for (size_t i = 0; i < r->extra.len;) {
        const char *name = r->extra.ptr + i;
        const char *value = name + strlen(name) + 1;
        MHD_add_response_header(resp, name, value);
        i = (size_t)(value + strlen(value) + 1 - r->extra.ptr);
    }
}

int http_add_header(http_req *r, const char *name, const char *value)
{
    if (r->status || !*name || strpbrk(name, "\r\n: ") || strpbrk(value, "\r\n"))
        return -1;
    if (!r->extra.max)
        argot_buf_init(&r->extra, 4096);
    size_t before = r->extra.len;
    if (argot_buf_put(&r->extra, name, strlen(name) + 1) ||
        argot_buf_put(&r->extra, value, strlen(value) + 1)) {
        r->extra.len = before;
        return -1;
    }
    return 0;
}

/* Queues now, or keeps the response for the next call when we are inside the first call of
 * a request without a body (queueing there makes MHD close keep-alive connections). */
static int finish_reply(http_req *r, int status, struct MHD_Response *resp, uint64_t out_len)
{
    if (!resp)
        return -1;
    r->status = status;
    r->bytes_out = out_len;
    /* libmicrohttpd accepts a response only on the first call or once the body is complete:
     * a reply made while body pieces arrive waits for the end of the body (the rest of which
     * is read and dropped, see on_access). */
    int defer = r->first_call ? status != MHD_HTTP_CONTENT_TOO_LARGE : !r->body_done;
    if (defer) {
        r->pending = resp;
        return 0;
    }
    enum MHD_Result ok = MHD_queue_response(r->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    if (ok != MHD_YES)
        LOG(LOG_WARN, "msg=\"cannot queue response\" id=%s status=%d", r->request_id, status);
    return ok == MHD_YES ? 0 : -1;
}

int http_reply_json(http_req *r, int status, argot_buf *body)
{
    return http_reply_text(r, status, "application/json", body);
}

int http_reply_text(http_req *r, int status, const char *ctype, argot_buf *body)
{
    if (r->status)
        return -1;
    size_t len = body->len;
    char *mem = argot_buf_detach(body);
    struct MHD_Response *resp =
        mem ? MHD_create_response_from_buffer(len, mem, MHD_RESPMEM_MUST_FREE) : NULL;
    if (!resp) {
        free(mem);
        return -1;
    }
    add_common_headers(r, resp, ctype);
    return finish_reply(r, status, resp, len);
}

static int vreply_error(http_req *r,
                        int status,
                        const char *type,
                        const char *param,
                        const char *code,
                        const char *fmt,
                        va_list ap) __attribute__((format(printf, 6, 0)));

static int vreply_error(http_req *r,
                        int status,
                        const char *type,
                        const char *param,
                        const char *code,
                        const char *fmt,
                        va_list ap)
{
    char msg[1536];
    vsnprintf(msg, sizeof msg, fmt, ap);
    argot_buf b = ARGOT_BUF_INIT(8192);
    size_t mlen = strlen(msg);
    int rc = argot_buf_puts(&b, "{\"error\":{\"message\":");
    rc = rc ? rc : argot_buf_put_json_str(&b, msg, mlen);
    rc = rc ? rc : argot_buf_puts(&b, ",\"type\":");
    rc = rc ? rc : argot_buf_put_json_str(&b, type, strlen(type));
    rc = rc ? rc : argot_buf_puts(&b, ",\"param\":");
    rc = rc ? rc
            : (param ? argot_buf_put_json_str(&b, param, strlen(param))
                     : argot_buf_puts(&b, "null"));
    rc = rc ? rc : argot_buf_puts(&b, ",\"code\":");
    rc = rc ? rc
            : (code ? argot_buf_put_json_str(&b, code, strlen(code)) : argot_buf_puts(&b, "null"));
    rc = rc ? rc : argot_buf_puts(&b, "},\"detail\":{\"message\":");
    rc = rc ? rc : argot_buf_put_json_str(&b, msg, mlen);
    rc = rc ? rc : argot_buf_puts(&b, ",\"code\":");
    rc = rc ? rc
            : (code ? argot_buf_put_json_str(&b, code, strlen(code)) : argot_buf_puts(&b, "null"));
    rc = rc ? rc : argot_buf_puts(&b, "}}");
    if (rc) {
        argot_buf_free(&b);
        return -1;
    }
    return http_reply_json(r, status, &b);
}

int http_reply_error(http_req *r,
                     int status,
                     const char *type,
                     const char *param,
                     const char *code,
                     const char *fmt,
                     ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vreply_error(r, status, type, param, code, fmt, ap);
    va_end(ap);
    return rc;
}

int http_reply_invalid(http_req *r, const char *param, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vreply_error(r, 400, "invalid_request_error", param, code, fmt, ap);
    va_end(ap);
    return rc;
}

int http_reply_internal(http_req *r, const char *what)
{
    LOG(LOG_ERROR, "msg=\"internal error\" id=%s what=\"%s\"", r->request_id, what);
    return http_reply_error(r, 500, "server_error", NULL, NULL,
                            "The server had an error while processing your request. Sorry about "
                            "that! (request %s)",
                            r->request_id);
}

int http_reply_fd(http_req *r, int fd, uint64_t size, const char *filename)
{
    if (r->status) {
        close(fd);
        return -1;
    }
    struct MHD_Response *resp = MHD_create_response_from_fd64(size, fd);
    if (!resp) {
        close(fd);
        return -1;
    }
    char cd[4 * META_FILENAME_MAX + 64];
    http_content_disposition(filename, cd, sizeof cd);
    add_common_headers(r, resp, "application/octet-stream");
    MHD_add_response_header(resp, "Content-Disposition", cd);
    return finish_reply(r, 200, resp, size);
}

typedef struct stream_ctx {
    http_stream_read read;
    void (*done)(void *ctx);
    void *ctx;
} stream_ctx;

static ssize_t stream_cb(void *cls, uint64_t pos, char *buf, size_t max)
{
    stream_ctx *s = cls;
    ssize_t n = s->read(s->ctx, buf, max);
    if (n > 0)
        return n;
    return n == 0 ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;
}

static void stream_free(void *cls)
{
    stream_ctx *s = cls;
    if (s->done)
        s->done(s->ctx);
    free(s);
}

int http_reply_stream(http_req *r,
                      int status,
                      const char *ctype,
                      int64_t size,
                      http_stream_read read,
                      void (*done)(void *ctx),
                      void *ctx)
{
    stream_ctx *s = r->status ? NULL : malloc(sizeof *s);
    if (!s) {
        if (done)
            done(ctx);
        return -1;
    }
    s->read = read;
    s->done = done;
    s->ctx = ctx;
    struct MHD_Response *resp = MHD_create_response_from_callback(
        size < 0 ? MHD_SIZE_UNKNOWN : (uint64_t)size, 64 * 1024, stream_cb, s, stream_free);
    if (!resp) {
        stream_free(s);
        return -1;
    }
    add_common_headers(r, resp, ctype);
    return finish_reply(r, status, resp, size < 0 ? 0 : (uint64_t)size);
}

/* ---- the access handler ---- */

/* libmicrohttpd's URI log callback: the first thing called for a request, with the raw
 * request target. We route on the raw path (cut at '?' or '#') so that an encoded slash inside
 * an id (%2F) never splits a path segment; the id itself is percent-decoded by the router.
 * libmicrohttpd then always calls on_completed for this request, which frees it. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    app *a = cls;
    http_req *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    size_t n = strcspn(uri, "?#");
    r->raw_path = strndup(uri, n);
    r->app = a;
    r->conn = c;
    r->start_ns = mono_ns();
    if (!r->raw_path || id_request_new(r->request_id)) {
        free(r->raw_path);
        free(r);
        return NULL;
    }
    atomic_fetch_add(&a->inflight, 1);
    return r;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Percent-decodes in[0..n) into out (cut to cap - 1 bytes, NUL-terminated); returns the full
 * decoded length. Malformed escapes are kept as they are. */
static size_t pct_decode(char *out, size_t cap, const char *in, size_t n)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++, len++) {
        char c = in[i];
        if (c == '%' && i + 2 < n && hexval(in[i + 1]) >= 0 && hexval(in[i + 2]) >= 0) {
            c = (char)(hexval(in[i + 1]) * 16 + hexval(in[i + 2]));
            i += 2;
        }
        if (len < cap - 1)
            out[len] = c;
    }
    out[len < cap - 1 ? len : cap - 1] = '\0';
    return len;
}

static void route_request(http_req *r, const char *method)
{
    route_match m;
    router_match(r->path, r->method, r->app->cfg->metrics, &m);
    if (m.param)
        r->param_len = pct_decode(r->param, sizeof r->param, m.param, m.param_len);
    if (m.ops) {
        r->route = m.ops;
        return;
    }
    static const route_ops none = {ROUTE_UNKNOWN, "unknown", 0, NULL, NULL, NULL, NULL};
    r->route = &none;
    if (!m.path_known) {
        http_reply_error(r, 404, "invalid_request_error", NULL, NULL, "Invalid URL (%s %s)", method,
                         r->path);
        return;
    }
    http_add_header(r, "Allow", m.allow);
    http_reply_error(r, 405, "invalid_request_error", NULL, NULL,
                     "Invalid method for URL (%s %s). Allowed: %s", method, r->path, m.allow);
}

static enum MHD_Result first_call(http_req *r, struct MHD_Connection *c, const char *method)
{
    r->started = 1;
    r->method = router_method(method);
    r->path = r->raw_path;
    const char *te = http_header(r, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    int64_t cl = http_content_length(r);
    r->has_body = cl > 0 || (te && *te);
    r->first_call = 1;
    route_request(r, method);
    if (!r->status && r->route->needs_auth)
        auth_resolve(r);
    if (!r->status && r->route->begin)
        r->route->begin(r);
    /* An early error (401, 404, 400) is normally answered after the body has been read and
     * dropped: clients that are still sending (node's fetch) see a reset connection, not the
     * error, if we answer and close first. A large declared body is not worth reading: the
     * reply goes out at once and libmicrohttpd closes the connection without reading it.
     * Server errors (a full disk, a failing store) are always drained (up to DISCARD_MAX):
     * the client did nothing wrong and must get the JSON error, not a reset. */
    if (r->pending && r->has_body && cl > EARLY_DRAIN_MAX && r->status < 500) {
        enum MHD_Result ok = MHD_queue_response(c, (unsigned)r->status, r->pending);
        MHD_destroy_response(r->pending);
        r->pending = NULL;
        r->first_call = 0;
        return ok;
    }
    r->first_call = 0;
    return MHD_YES;
}

static enum MHD_Result on_access(void *cls,
                                 struct MHD_Connection *c,
                                 const char *url,
                                 const char *method,
                                 const char *version,
                                 const char *upload_data,
                                 size_t *upload_data_size,
                                 void **con_cls)
{
    http_req *r = *con_cls;
    if (!r)
        return MHD_NO; /* on_uri could not allocate: drop the connection */
    if (!r->started)
        return first_call(r, c, method);
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        r->bytes_in += n;
        if (!r->status) {
            if (r->route->body)
                r->route->body(r, upload_data, n);
            return MHD_YES;
        }
        /* Already answered: drop the rest of the body, up to a bound, then hang up. */
        r->discarded += n;
        return r->discarded > DISCARD_MAX ? MHD_NO : MHD_YES;
    }
    r->body_done = 1;
    if (r->pending) {
        enum MHD_Result ok = MHD_queue_response(c, (unsigned)r->status, r->pending);
        MHD_destroy_response(r->pending);
        r->pending = NULL;
        return ok;
    }
    if (r->status)
        return MHD_YES;
    r->route->end(r);
    if (!r->status)
        http_reply_internal(r, "handler returned without a reply");
    return r->status ? MHD_YES : MHD_NO;
}

static void on_completed(void *cls,
                         struct MHD_Connection *c,
                         void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    app *a = cls;
    http_req *r = *con_cls;
    if (!r)
        return;
    if (r->route && r->route->cleanup)
        r->route->cleanup(r);
    if (r->pending)
        MHD_destroy_response(r->pending);
    int64_t dur = mono_ns() - r->start_ns;
    const char *rname = r->route ? r->route->name : "unknown";
    int status = r->status ? r->status : 499; /* client went away before any reply */
    LOG(LOG_INFO,
        "msg=request id=%s method=%s route=%s status=%d bytes_in=%llu bytes_out=%llu "
        "ms=%.3f org=%s%s",
        r->request_id,
        r->method == HTTP_GET      ? "GET"
        : r->method == HTTP_POST   ? "POST"
        : r->method == HTTP_DELETE ? "DELETE"
        : r->method == HTTP_HEAD   ? "HEAD"
                                   : "OTHER",
        rname, status, (unsigned long long)r->bytes_in, (unsigned long long)r->bytes_out,
        (double)dur / 1e6, r->org[0] ? r->org : "-",
        toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " aborted=1");
    metrics_record(a->metrics, r->route ? r->route->id : ROUTE_UNKNOWN, status, r->bytes_in,
                   toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? r->bytes_out : 0, dur);
    atomic_fetch_sub(&a->inflight, 1);
    argot_buf_free(&r->extra);
    free(r->raw_path);
    free(r);
    *con_cls = NULL;
}

/* libmicrohttpd's logger: its format strings are its own literals. */
static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    for (char *p = msg; *p; p++)
        if (*p == '"')
            *p = '\'';
    LOG(LOG_DEBUG, "msg=\"mhd: %s\"", msg);
}

static int resolve(const cfg *c, struct sockaddr_storage *ss, socklen_t *len)
{
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
    char port[16];
    snprintf(port, sizeof port, "%d", c->listen_port);
    const char *host = c->listen_host;
    if (host[0] == '[') { /* [::1]:8080 */
        static char h6[256];
        snprintf(h6, sizeof h6, "%s", host + 1);
        char *e = strchr(h6, ']');
        if (e)
            *e = '\0';
        host = h6;
    }
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc || !res) {
        LOG(LOG_ERROR, "msg=\"cannot resolve listen address\" listen=%s error=\"%s\"", c->listen,
            gai_strerror(rc));
        return -1;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

int http_server_start(http_server **out, app *a)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    if (resolve(a->cfg, &ss, &sslen))
        return -1;
    http_server *s = calloc(1, sizeof *s);
    if (!s)
        return -1;
    s->app = a;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG | MHD_USE_TURBO;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    s->d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_access, a, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)a->cfg->threads, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)a->cfg->max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)a->cfg->connection_timeout, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)CONN_MEMORY_LIMIT, MHD_OPTION_NOTIFY_COMPLETED, on_completed, a,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, a, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024, MHD_OPTION_END);
    if (!s->d) {
        LOG(LOG_ERROR, "msg=\"cannot start HTTP server\" listen=%s error=\"%s\"", a->cfg->listen,
            strerror(errno));
        free(s);
        return -1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? (int)info->port : a->cfg->listen_port;
    *out = s;
    return 0;
}

int http_server_port(const http_server *s)
{
    return s->port;
}

void http_server_stop(http_server *s, int grace_s)
{
    if (!s)
        return;
    MHD_socket ls = MHD_quiesce_daemon(s->d);
    if (ls != MHD_INVALID_SOCKET)
        close(ls);
    int64_t deadline = mono_ns() + (int64_t)grace_s * 1000000000;
    while (atomic_load(&s->app->inflight) > 0 && mono_ns() < deadline) {
        struct timespec ts = {0, 20 * 1000000};
        nanosleep(&ts, NULL);
    }
    if (atomic_load(&s->app->inflight) > 0)
        LOG(LOG_WARN, "msg=\"shutdown grace expired\" inflight=%d", atomic_load(&s->app->inflight));
    MHD_stop_daemon(s->d);
    free(s);
}
