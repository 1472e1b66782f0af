/*
 * Responses: the reply functions of http.h and the writer that puts them on the socket.
 *
 * A reply only prepares c->out (the head, then a buffer, a file descriptor or a stream); the
 * connection's state machine (conn.c) writes it as the socket takes it, with writev for the
 * head and a buffered body, sendfile(2) for a descriptor, and a read callback for a stream
 * (chunked when its length is unknown).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "server/http/conn.h"
#include "server/log.h"

#define HEAD_MAX   (16 * 1024) /* a response head; extra fields beyond it are refused */
#define STREAM_BUF (64 * 1024)

static const char *reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 206:
        return "Partial Content";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 416:
        return "Range Not Satisfiable";
    case 417:
        return "Expectation Failed";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    case 507:
        return "Insufficient Storage";
    default:
        return status < 300 ? "OK" : status < 500 ? "Bad Request" : "Server Error";
    }
}

void reply_date(http_worker *w)
{
    time_t now = time(NULL);
    if (now == w->date_sec)
        return;
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(w->date, sizeof w->date, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
    w->date_sec = now;
}

/* Whether the connection can carry another request after this response. */
static int keep_after(http_conn *c)
{
    const http_server *s = c->w->srv;
    if (!c->keep_alive || atomic_load(&s->stopping))
        return 0;
    if (c->body_done)
        return 1;
    /* the rest of the body will be dropped: only if its end is known and within the bound */
    return c->framing == H1_BODY_LENGTH && c->body_left <= s->set.max_discard;
}

static int put_common(argot_buf *b, http_conn *c, http_req *r)
{
    int rc = 0;
    if (r) {
        char ms[32];
        snprintf(ms, sizeof ms, "%lld", (long long)((http_now_ns() - r->start_ns) / 1000000));
        rc = argot_buf_printf(b,
                              "x-request-id: %s\r\nopenai-version: 2020-10-01\r\n"
                              "openai-processing-ms: %s\r\n",
                              r->request_id, ms);
        if (!rc && r->org[0])
            rc = argot_buf_printf(b, "openai-organization: %s\r\n", r->org);
        for (size_t i = 0; !rc && i < r->extra.len;) {
            const char *name = r->extra.ptr + i;
            const char *value = name + strlen(name) + 1;
            rc = argot_buf_printf(b, "%s: %s\r\n", name, value);
            i = (size_t)(value + strlen(value) + 1 - r->extra.ptr);
        }
    }
    rc = rc ? rc : argot_buf_puts(b, "X-Content-Type-Options: nosniff\r\n");
    return rc;
}

int reply_head(http_conn *c, http_req *r, int status, const char *ctype, int64_t body_len)
{
    argot_buf b = ARGOT_BUF_INIT(HEAD_MAX);
    reply_date(c->w);
    c->keep_alive = keep_after(c);
    int rc = argot_buf_printf(&b, "HTTP/1.1 %d %s\r\n%s", status, reason(status), c->w->date);
    rc = rc ? rc : put_common(&b, c, r);
    int no_content = status == 204 || status == 304; /* no body, so no framing fields */
    if (!rc && ctype)
        rc = argot_buf_printf(&b, "Content-Type: %s\r\n", ctype);
    if (!rc && no_content)
        ;
    else if (!rc && body_len >= 0)
        rc = argot_buf_printf(&b, "Content-Length: %" PRId64 "\r\n", body_len);
    else if (!rc)
        rc = argot_buf_puts(&b, "Transfer-Encoding: chunked\r\n");
    if (!rc && !c->keep_alive)
        rc = argot_buf_puts(&b, "Connection: close\r\n");
    rc = rc ? rc : argot_buf_puts(&b, "\r\n");
    if (rc) {
        argot_buf_free(&b);
        return -1;
    }
    c->out.head_len = b.len;
    c->out.head_off = 0;
    c->out.head = argot_buf_detach(&b);
    c->out.no_body = (r && r->method == HTTP_HEAD) || no_content;
    return c->out.head ? 0 : -1;
}

void resp_free(http_resp *o)
{
    free(o->head);
    free(o->buf);
    free(o->pend);
    if (o->kind == R_FD && o->fd >= 0)
        close(o->fd);
    if (o->kind == R_STREAM && o->sdone)
        o->sdone(o->sctx);
    memset(o, 0, sizeof *o);
    o->fd = -1;
}

/* ---- the reply functions of http.h ---- */

static int can_reply(http_req *r)
{
    return r && !r->status;
}

/* A request without a connection (unit tests and fuzz targets drive handlers that way) only
 * records the status of its reply. */
static int detached(http_req *r, int status, uint64_t len)
{
    if (r->conn)
        return 0;
    r->status = status;
    r->bytes_out = len;
    return 1;
}

static int reply_buffer(http_req *r, int status, const char *ctype, char *mem, size_t len)
{
    http_conn *c = r->conn;
    if (detached(r, status, len)) {
        free(mem);
        return 0;
    }
    if (reply_head(c, r, status, ctype, (int64_t)len)) {
        free(mem);
        return -1;
    }
    c->out.kind = R_BUF;
    c->out.buf = mem;
    c->out.buf_len = len;
    r->status = status;
    r->bytes_out = len;
    return 0;
}

int http_reply_text(http_req *r, int status, const char *ctype, argot_buf *body)
{
    if (!can_reply(r))
        return -1;
    size_t len = body->len;
    char *mem = argot_buf_detach(body);
    if (!mem)
        return -1;
    return reply_buffer(r, status, ctype, mem, len);
}

int http_reply_json(http_req *r, int status, argot_buf *body)
{
    return http_reply_text(r, status, "application/json", body);
}

static int put_json_or_null(argot_buf *b, const char *s)
{
    return s ? argot_buf_put_json_str(b, s, strlen(s)) : argot_buf_puts(b, "null");
}

/* The OpenAI error envelope (with the "detail" object the real service adds). */
static int error_body(
    argot_buf *b, const char *type, const char *param, const char *code, const char *msg)
{
    size_t mlen = strlen(msg);
    int rc = argot_buf_puts(b, "{\"error\":{\"message\":");
    rc = rc ? rc : argot_buf_put_json_str(b, msg, mlen);
    rc = rc ? rc : argot_buf_puts(b, ",\"type\":");
    rc = rc ? rc : argot_buf_put_json_str(b, type, strlen(type));
    rc = rc ? rc : argot_buf_puts(b, ",\"param\":");
    rc = rc ? rc : put_json_or_null(b, param);
    rc = rc ? rc : argot_buf_puts(b, ",\"code\":");
    rc = rc ? rc : put_json_or_null(b, code);
    rc = rc ? rc : argot_buf_puts(b, "},\"detail\":{\"message\":");
    rc = rc ? rc : argot_buf_put_json_str(b, msg, mlen);
    rc = rc ? rc : argot_buf_puts(b, ",\"code\":");
    rc = rc ? rc : put_json_or_null(b, code);
    return rc ? rc : argot_buf_puts(b, "}}");
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
    if (error_body(&b, type, param, code, msg)) {
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

int reply_protocol_error(http_conn *c, http_req *r, int status, const char *message)
{
    const char *type = status >= 500 ? "server_error" : "invalid_request_error";
    if (r)
        return http_reply_error(r, status, type, NULL, NULL, "%s", message);
    /* no request object (it could not be made): a bare envelope */
    argot_buf b = ARGOT_BUF_INIT(4096);
    if (error_body(&b, type, NULL, NULL, message) ||
        reply_head(c, NULL, status, "application/json", (int64_t)b.len)) {
        argot_buf_free(&b);
        return -1;
    }
    c->out.kind = R_BUF;
    c->out.buf_len = b.len;
    c->out.buf = argot_buf_detach(&b);
    return 0;
}

int http_reply_fd(http_req *r, int status, int fd, uint64_t off, uint64_t len)
{
    if (!can_reply(r)) {
        close(fd);
        return -1;
    }
    if (detached(r, status, len)) {
        close(fd);
        return 0;
    }
    http_conn *c = r->conn;
    if (reply_head(c, r, status, "application/octet-stream", (int64_t)len)) {
        close(fd);
        return -1;
    }
    c->out.kind = R_FD;
    c->out.fd = fd;
    c->out.fd_off = off;
    c->out.fd_left = len;
    r->status = status;
    r->bytes_out = len;
    return 0;
}

int http_reply_stream(http_req *r,
                      int status,
                      const char *ctype,
                      int64_t size,
                      http_stream_read read,
                      void (*done)(void *ctx),
                      void *ctx)
{
    if (can_reply(r) && detached(r, status, size < 0 ? 0 : (uint64_t)size)) {
        if (done)
            done(ctx);
        return 0;
    }
    http_conn *c = can_reply(r) ? r->conn : NULL;
    if (!c || reply_head(c, r, status, ctype, size)) {
        if (done)
            done(ctx);
        return -1;
    }
    c->out.kind = R_STREAM;
    c->out.sread = read;
    c->out.sdone = done;
    c->out.sctx = ctx;
    c->out.chunked = size < 0;
    r->status = status;
    r->bytes_out = size < 0 ? 0 : (uint64_t)size;
    return 0;
}

int http_add_header(http_req *r, const char *name, const char *value)
{
    if (r->status || !*name || strpbrk(name, "\r\n: ") || strpbrk(value, "\r\n"))
        return -1;
    if (!r->extra.max)
        argot_buf_init(&r->extra, 8192);
    size_t before = r->extra.len;
    if (argot_buf_put(&r->extra, name, strlen(name) + 1) ||
        argot_buf_put(&r->extra, value, strlen(value) + 1)) {
        r->extra.len = before;
        return -1;
    }
    return 0;
}

/* ---- writing ---- */

static int wrote(http_conn *c, ssize_t n)
{
    if (n > 0) {
        c->progress_ns = c->w->now_ns;
        return 0;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 1;
    return -1;
}

/* Head and buffered body with one writev. 0: done, 1: socket full, -1: error. */
static int flush_buf(http_conn *c)
{
    http_resp *o = &c->out;
    while (o->head_off < o->head_len ||
           (o->kind == R_BUF && !o->no_body && o->buf_off < o->buf_len)) {
        struct iovec iov[2];
        int n = 0;
        if (o->head_off < o->head_len)
            iov[n++] = (struct iovec){o->head + o->head_off, o->head_len - o->head_off};
        if (o->kind == R_BUF && !o->no_body && o->buf_off < o->buf_len)
            iov[n++] = (struct iovec){o->buf + o->buf_off, o->buf_len - o->buf_off};
        ssize_t k = writev(c->fd, iov, n);
        int st = wrote(c, k);
        if (st)
            return st;
        size_t h = o->head_len - o->head_off;
        if ((size_t)k <= h) {
            o->head_off += (size_t)k;
        } else {
            o->head_off = o->head_len;
            o->buf_off += (size_t)k - h;
            o->sent += (size_t)k - h;
        }
    }
    return 0;
}

static int flush_fd(http_conn *c)
{
    http_resp *o = &c->out;
    while (o->fd_left) {
        off_t off = (off_t)o->fd_off;
        size_t want = o->fd_left > (1u << 30) ? (1u << 30) : (size_t)o->fd_left;
        ssize_t k = sendfile(c->fd, o->fd, &off, want);
        if (k == 0) { /* the file is shorter than announced: the body cannot be completed */
            LOG(LOG_WARN, "msg=\"file shorter than its size\" sent=%" PRIu64, o->sent);
            return -1;
        }
        int st = wrote(c, k);
        if (st)
            return st;
        o->fd_off += (uint64_t)k;
        o->fd_left -= (uint64_t)k;
        o->sent += (uint64_t)k;
    }
    return 0;
}

/* Refills o->pend from the stream (framed as a chunk when chunked). 0, or -1 on error. */
static int stream_fill(http_resp *o)
{
    if (!o->pend && !(o->pend = malloc(STREAM_BUF + 32)))
        return -1;
    o->pend_off = 0;
    o->pend_len = 0;
    size_t pre = o->chunked ? 10 : 0; /* room for "%x\r\n" */
    ssize_t n = o->sread(o->sctx, o->pend + pre, STREAM_BUF);
    if (n < 0)
        return -1;
    if (n == 0) {
        o->eof = 1;
        if (o->chunked) {
            memcpy(o->pend, "0\r\n\r\n", 5);
            o->pend_len = 5;
        }
        return 0;
    }
    if (!o->chunked) {
        o->pend_len = (size_t)n;
        return 0;
    }
    char hex[16];
    int h = snprintf(hex, sizeof hex, "%zx\r\n", (size_t)n);
    o->pend_off = pre - (size_t)h;
    memcpy(o->pend + o->pend_off, hex, (size_t)h);
    memcpy(o->pend + pre + (size_t)n, "\r\n", 2);
    o->pend_len = pre + (size_t)n + 2;
    return 0;
}

static int flush_stream(http_conn *c)
{
    http_resp *o = &c->out;
    for (;;) {
        if (o->pend_off == o->pend_len) {
            if (o->eof)
                return 0;
            if (stream_fill(o))
                return -1;
            continue;
        }
        ssize_t k = send(c->fd, o->pend + o->pend_off, o->pend_len - o->pend_off, MSG_NOSIGNAL);
        int st = wrote(c, k);
        if (st)
            return st;
        o->pend_off += (size_t)k;
        o->sent += (size_t)k;
    }
}

int resp_flush(http_conn *c)
{
    http_resp *o = &c->out;
    int st = flush_buf(c);
    if (st == 0 && !o->no_body)
        st = o->kind == R_FD ? flush_fd(c) : o->kind == R_STREAM ? flush_stream(c) : 0;
    return st == 0 ? 1 : st == 1 ? 0 : -1;
}
