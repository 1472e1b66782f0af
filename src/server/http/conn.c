/*
 * One connection's state machine (see conn.h for the states): reads a head, checks it
 * (h1.c), routes and authenticates, runs the route's begin/body/end, writes the reply, then
 * waits for the next request, drains the rest of a body, or closes gracefully.
 *
 * Closing gracefully ("lingering close", as nginx does): after a reply to a request whose body
 * is still arriving, the write side is shut and the rest is read and dropped for a while, so the
 * client, still sending, can read the reply instead of getting a reset that discards it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server/http/conn.h"
#include "server/http/router.h"
#include "server/log.h"

#define IN_MIN 2048

static const route_ops route_none = {0, "unknown", 0, NULL, NULL, NULL, NULL};

static void advance(http_conn *c);
static void try_head(http_conn *c);

/* ---- bookkeeping ---- */

static void set_events(http_conn *c, unsigned ev)
{
    if (c->fd < 0 || ev == c->events)
        return;
    struct epoll_event e = {.events = ev, .data.ptr = c};
    if (epoll_ctl(c->w->ep, EPOLL_CTL_MOD, c->fd, &e) == 0)
        c->events = ev;
}

void conn_relist(http_conn *c)
{
    http_worker *w = c->w;
    int want = c->fd < 0               ? 0
               : c->state == CS_IDLE   ? 1 + (c->served ? IDLE_KEPT : IDLE_FRESH)
               : c->state == CS_LINGER ? 1 + IDLE_LINGER
                                       : 0;
    if (want == c->idle_listed)
        return;
    if (c->idle_listed) {
        int l = c->idle_listed - 1;
        if (c->iprev)
            c->iprev->inext = c->inext;
        else
            w->idle_head[l] = c->inext;
        if (c->inext)
            c->inext->iprev = c->iprev;
        else
            w->idle_tail[l] = c->iprev;
        c->iprev = c->inext = NULL;
        atomic_fetch_sub(&w->nidle[l], 1);
    }
    if (want) {
        int l = want - 1;
        c->iprev = w->idle_tail[l];
        c->inext = NULL;
        if (w->idle_tail[l])
            w->idle_tail[l]->inext = c;
        else
            w->idle_head[l] = c;
        w->idle_tail[l] = c;
        atomic_fetch_add(&w->nidle[l], 1);
    }
    c->idle_listed = want;
}

int conn_evict_idle(http_worker *w, int list, const http_conn *except)
{
    http_conn *c = w->idle_head[list];
    if (c && c == except)
        c = c->inext;
    if (!c)
        return 0;
    conn_close(c);
    return 1;
}

static void enter(http_conn *c, conn_state st)
{
    c->state = st;
    c->since_ns = c->w->now_ns;
    conn_relist(c);
}

http_conn *conn_new(http_worker *w, int fd)
{
    http_conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->w = w;
    c->fd = fd;
    c->out.fd = -1;
    c->progress_ns = w->now_ns;
    struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
    if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &e) != 0) {
        free(c);
        return NULL;
    }
    c->events = EPOLLIN;
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    w->nconns++;
    enter(c, CS_IDLE);
    return c;
}

/* ---- requests ---- */

static const char *method_name(const http_req *r)
{
    return r->conn && r->conn->head.method ? r->conn->head.method : "-";
}

static void req_finish(http_conn *c, int completed)
{
    http_req *r = c->req;
    if (!r)
        return;
    http_server *s = c->w->srv;
    if (r->route && r->route->cleanup)
        r->route->cleanup(r);
    if (s->cfg.request_done)
        s->cfg.request_done(r, method_name(r), completed, http_now_ns() - r->start_ns);
    atomic_fetch_sub(&s->inflight, 1);
    argot_buf_free(&r->extra);
    free(r);
    c->req = NULL;
    free(c->fields);
    c->fields = NULL;
    free(c->qpairs);
    c->qpairs = NULL;
    c->qlens = NULL;
    c->nq = 0;
    c->q_parsed = 0;
}

static http_req *req_new(http_conn *c)
{
    http_req *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->app = c->w->srv->cfg.app;
    r->conn = c;
    r->route = &route_none;
    r->start_ns = http_now_ns();
    if (id_request_new(r->request_id)) {
        free(r);
        return NULL;
    }
    atomic_fetch_add(&c->w->srv->inflight, 1);
    c->req = r;
    return r;
}

void conn_close(http_conn *c)
{
    if (c->fd < 0)
        return;
    http_worker *w = c->w;
    req_finish(c, 0);
    resp_free(&c->out);
    epoll_ctl(w->ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    conn_relist(c); /* a closed connection is on no list */
    free(c->in);
    c->in = NULL;
    free(c->later);
    c->later = NULL;
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    w->nconns--;
    atomic_fetch_sub(&w->srv->nconns, 1);
    /* freed by the worker after the current batch of events (server.c) */
    c->prev = NULL;
    c->next = w->graveyard;
    w->graveyard = c;
}

/* ---- the start of a request ---- */

static int hexval(char ch)
{
    return ch >= '0' && ch <= '9'   ? ch - '0'
           : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
           : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                    : -1;
}

/* Percent-decodes in[0..n) into out (cut to cap - 1 bytes, NUL-terminated); returns the full
 * decoded length. Malformed escapes are kept as they are. With plus, '+' is a space. */
static size_t pct_decode(char *out, size_t cap, const char *in, size_t n, int plus)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++, len++) {
        char ch = in[i];
        if (ch == '%' && i + 2 < n && hexval(in[i + 1]) >= 0 && hexval(in[i + 2]) >= 0) {
            ch = (char)(hexval(in[i + 1]) * 16 + hexval(in[i + 2]));
            i += 2;
        } else if (plus && ch == '+') {
            ch = ' ';
        }
        if (len < cap - 1)
            out[len] = ch;
    }
    out[len < cap - 1 ? len : cap - 1] = '\0';
    return len;
}

static void route_request(http_req *r)
{
    route_match m;
    r->method = router_method(method_name(r));
    http_router_match(r->conn->w->srv->cfg.router, r->path, r->method, &m);
    if (m.param)
        r->param_len = pct_decode(r->param, sizeof r->param, m.param, m.param_len, 0);
    if (m.ops) {
        r->route = m.ops;
        return;
    }
    if (!m.path_known) {
        http_reply_error(r, 404, "invalid_request_error", NULL, NULL, "Invalid URL (%s %s)",
                         method_name(r), r->path);
        return;
    }
    http_add_header(r, "Allow", m.allow);
    http_reply_error(r, 405, "invalid_request_error", NULL, NULL,
                     "Invalid method for URL (%s %s). Allowed: %s", method_name(r), r->path,
                     m.allow);
}

static unsigned count_params(const char *q)
{
    unsigned n = 0;
    for (const char *p = q; p && *p;) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        n += len > 0;
        p = amp ? amp + 1 : NULL;
    }
    return n;
}

/* Splits the target into path and query (NUL at the '?'; a fragment is dropped). */
static void split_target(http_req *r, http_conn *c)
{
    char *t = (char *)c->head.target;
    char *hash = strchr(t, '#');
    if (hash)
        *hash = '\0';
    char *q = strchr(t, '?');
    if (q)
        *q++ = '\0';
    r->path = t;
    r->query = q;
}

/* A request the HTTP layer refuses by itself: the envelope, then the connection closes. */
static void refuse(http_conn *c, int status, const char *message)
{
    c->keep_alive = 0;
    if (c->state == CS_IDLE || c->state == CS_HEAD) { /* no body to read: the head failed */
        c->framing = H1_BODY_NONE;
        c->body_done = 1;
    }
    if (!c->req && !req_new(c)) {
        conn_close(c);
        return;
    }
    if (c->req->status) {
        enter(c, CS_REPLY);
        return;
    }
    if (reply_protocol_error(c, c->req, status, message)) {
        conn_close(c);
        return;
    }
    c->drop = 1;
    enter(c, CS_REPLY);
}

static int send_continue(http_conn *c)
{
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    ssize_t n = send(c->fd, cont, sizeof cont - 1, MSG_NOSIGNAL);
    return n == (ssize_t)(sizeof cont - 1) ? 0 : -1;
}

static void run_end(http_conn *c)
{
    http_req *r = c->req;
    r->body_done = 1;
    if (!r->status && r->route->end)
        r->route->end(r);
    if (!r->status)
        http_reply_internal(r, "handler returned without a reply");
}

/* Past the discard bound nothing more is read: the connection waits, without reading, for the
 * client to close (having read the reply) or for the linger timeout. Closing at once with unread
 * bytes queued would make the kernel send a reset, which can destroy the reply in the client's
 * receive buffer before the client has read it. */
static int over_budget(const http_conn *c)
{
    return c->dropped > c->w->srv->set.max_discard;
}

/* Hands body bytes to the route (or drops them once a reply was made). */
static void deliver(http_conn *c, const char *data, size_t n)
{
    http_req *r = c->req;
    if (!r || c->drop || r->status) {
        c->drop = 1;
        c->dropped += n;
        if (r)
            r->discarded += n;
        return;
    }
    r->bytes_in += n;
    if (r->route->body) {
        r->route->body(r, data, n);
    } else if (r->bytes_in > c->w->srv->set.max_discard) {
        http_reply_error(r, 413, "invalid_request_error", NULL, NULL,
                         "This endpoint takes no request body (%llu bytes sent).",
                         (unsigned long long)r->bytes_in);
    }
    if (r->status)
        c->drop = 1;
}

/* Feeds wire bytes of the body; returns how many belong to it (the rest is the next request).
 * Sets c->body_done at the end; a malformed chunked body is refused (and closes). */
static size_t body_input(http_conn *c, const char *data, size_t len)
{
    size_t used = 0;
    if (c->framing == H1_BODY_NONE) {
        c->body_done = 1;
        return 0;
    }
    if (c->framing == H1_BODY_LENGTH) {
        used = len < c->body_left ? len : (size_t)c->body_left;
        if (used)
            deliver(c, data, used);
        c->body_left -= used;
        c->body_done = c->body_left == 0;
    } else {
        while (used < len && !c->body_done) {
            const char *d;
            size_t dn, u;
            int rc = h1_chunked_feed(&c->ck, data + used, len - used, &u, &d, &dn);
            used += u;
            if (rc == H1C_DATA)
                deliver(c, d, dn);
            else if (rc == H1C_DONE)
                c->body_done = 1;
            else if (rc == H1C_ERROR) {
                c->body_raw += used;
                refuse(c, 400, c->ck.error);
                return len;
            }
        }
    }
    c->body_raw += used;
    return used;
}

/* After the body bytes of a read: the body's end runs the handler's end(). */
static void after_body_bytes(http_conn *c)
{
    if (c->state == CS_BODY && c->body_done && c->req && !c->drop && !c->req->status)
        run_end(c);
    if (c->state == CS_BODY && (c->body_done || (c->req && c->req->status)))
        enter(c, CS_REPLY);
    if (c->state == CS_DRAIN && c->body_done)
        c->state = CS_REPLY; /* the response is out: advance() moves on to the next request */
}

static int check_head_extras(http_conn *c, http_req *r)
{
    const http_settings *s = &c->w->srv->set;
    if (r->query && count_params(r->query) > s->max_query_params) {
        refuse(c, 400, "Too many query parameters.");
        return -1;
    }
    if (atomic_load(&c->w->srv->stopping)) {
        http_add_header(r, "Retry-After", "1");
        refuse(c, 503, "The server is shutting down; retry on another connection.");
        return -1;
    }
    return 0;
}

static void dispatch(http_conn *c, size_t head_len)
{
    http_req *r = req_new(c);
    if (!r) {
        conn_close(c);
        return;
    }
    c->framing = c->head.framing;
    c->body_left = c->head.framing == H1_BODY_LENGTH ? c->head.content_length : 0;
    c->body_done = c->framing == H1_BODY_NONE;
    c->keep_alive = c->head.keep_alive;
    const char *cl = h1_field_get(&c->head, "content-length");
    c->declared_length = cl ? (int64_t)c->head.content_length : -1;
    h1_chunked_init(&c->ck);
    c->body_raw = 0;
    c->rate_ns = c->w->now_ns;
    c->rate_raw = 0;
    r->has_body = !c->body_done;
    split_target(r, c);
    if (check_head_extras(c, r))
        return;
    route_request(r);
    if (!r->status && r->route->needs_auth && c->w->srv->cfg.authenticate)
        c->w->srv->cfg.authenticate(r);
    if (!r->status && r->route->begin)
        r->route->begin(r);
    if (r->status) {
        c->drop = 1;
        if (c->head.expect_continue && !c->body_done)
            c->keep_alive = 0; /* the client will not send the body it was not asked for */
    } else if (c->head.expect_continue && !c->body_done && send_continue(c)) {
        conn_close(c);
        return;
    }
    enter(c, c->body_done ? CS_REPLY : CS_BODY);
    if (c->body_done && !r->status)
        run_end(c);
    /* body bytes that came with the head */
    size_t used = c->body_done ? 0 : body_input(c, c->in + head_len, c->in_len - head_len);
    c->scan = head_len + used; /* where the next request starts */
    after_body_bytes(c);
}

static void head_error(http_conn *c, const h1_error *e)
{
    c->framing = H1_BODY_NONE;
    c->body_done = 1;
    refuse(c, e->status, e->message);
    c->scan = c->in_len;
}

static void try_head(http_conn *c)
{
    const http_settings *s = &c->w->srv->set;
    if (c->state == CS_IDLE) {
        size_t skip = h1_skip_empty_lines(c->in, c->in_len);
        if (skip) {
            memmove(c->in, c->in + skip, c->in_len - skip);
            c->in_len -= skip;
        }
        if (!c->in_len || (c->in_len == 1 && c->in[0] == '\r'))
            return;
        enter(c, CS_HEAD);
        c->scan = 0;
    }
    h1_error e;
    size_t end = h1_head_end(c->in, c->in_len, &c->scan);
    if (!end) {
        if (h1_head_too_big(c->in, c->in_len, &s->lim, &e))
            head_error(c, &e);
        return;
    }
    c->fields = malloc(sizeof *c->fields * s->lim.max_fields);
    if (!c->fields) {
        conn_close(c);
        return;
    }
    if (h1_parse_head(c->in, end, &s->lim, c->fields, &c->head, &e)) {
        memset(&c->head, 0, sizeof c->head);
        head_error(c, &e);
        return;
    }
    dispatch(c, end);
}

/* ---- reading ---- */

static int grow_in(http_conn *c, size_t want)
{
    if (c->in_cap >= want)
        return 0;
    size_t cap = c->in_cap ? c->in_cap : IN_MIN;
    while (cap < want)
        cap *= 2;
    char *p = realloc(c->in, cap);
    if (!p)
        return -1;
    c->in = p;
    c->in_cap = cap;
    return 0;
}

/* 1: got bytes, 0: would block, -1: closed or failed (the connection is closed). */
static int read_into(http_conn *c, char *buf, size_t cap, ssize_t *got)
{
    ssize_t n = recv(c->fd, buf, cap, 0);
    if (n > 0) {
        c->progress_ns = c->w->now_ns;
        *got = n;
        return 1;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    conn_close(c);
    return -1;
}

static void read_head(http_conn *c)
{
    const http_settings *s = &c->w->srv->set;
    size_t room = s->lim.max_head + 1; /* one byte past the limit tells "too big" */
    if (c->in_len >= room || grow_in(c, c->in_len + 4096 < room ? c->in_len + 4096 : room)) {
        conn_close(c);
        return;
    }
    ssize_t n;
    if (read_into(c, c->in + c->in_len, c->in_cap - c->in_len, &n) <= 0)
        return;
    c->in_len += (size_t)n;
    try_head(c);
}

/* Body bytes from the socket (into the worker's buffer; never past a known end). */
static void read_body(http_conn *c)
{
    http_worker *w = c->w;
    size_t cap = w->rcap;
    if (c->framing == H1_BODY_LENGTH && c->body_left < cap)
        cap = (size_t)c->body_left;
    ssize_t n;
    if (read_into(c, w->rbuf, cap, &n) <= 0)
        return;
    size_t used = body_input(c, w->rbuf, (size_t)n);
    if (c->fd < 0)
        return;
    if (used < (size_t)n && !c->later) { /* the next request began after a chunked body */
        size_t rest = (size_t)n - used;
        if (!(c->later = malloc(rest))) {
            conn_close(c);
            return;
        }
        memcpy(c->later, w->rbuf + used, rest);
        c->later_len = rest;
    }
    after_body_bytes(c);
}

static void read_linger(http_conn *c)
{
    http_worker *w = c->w;
    ssize_t n;
    while (!over_budget(c) && read_into(c, w->rbuf, w->rcap, &n) > 0)
        c->dropped += (uint64_t)n;
    if (c->fd >= 0 && over_budget(c))
        set_events(c, EPOLLRDHUP);
}

/* ---- moving on ---- */

static void start_linger(http_conn *c)
{
    shutdown(c->fd, SHUT_WR);
    enter(c, CS_LINGER);
    set_events(c, over_budget(c) ? EPOLLRDHUP : EPOLLIN | EPOLLRDHUP);
}

static void next_request(http_conn *c)
{
    size_t start = c->scan; /* where the next request's bytes begin in c->in */
    if (start > c->in_len)
        start = c->in_len;
    memmove(c->in, c->in + start, c->in_len - start);
    c->in_len -= start;
    c->scan = 0;
    if (c->later) {
        if (grow_in(c, c->in_len + c->later_len)) {
            conn_close(c);
            return;
        }
        memcpy(c->in + c->in_len, c->later, c->later_len);
        c->in_len += c->later_len;
        free(c->later);
        c->later = NULL;
        c->later_len = 0;
    }
    memset(&c->head, 0, sizeof c->head);
    c->drop = 0;
    c->dropped = 0;
    c->framing = H1_BODY_NONE;
    c->body_done = 0;
    enter(c, CS_IDLE);
    set_events(c, EPOLLIN);
    if (c->in_len)
        try_head(c);
}

/* The response is complete. */
static void reply_done(http_conn *c)
{
    c->served++;
    resp_free(&c->out);
    req_finish(c, 1);
    if (!c->keep_alive) {
        start_linger(c);
        return;
    }
    if (!c->body_done) {
        enter(c, CS_DRAIN);
        set_events(c, EPOLLIN);
        return;
    }
    next_request(c);
}

static void advance(http_conn *c)
{
    /* bounded: each round either blocks, closes, or finishes one pipelined request */
    for (int round = 0; round < 16 && c->fd >= 0 && c->state == CS_REPLY; round++) {
        if (!c->req) { /* a drained body ended: the response went out before */
            next_request(c);
            continue;
        }
        int st = resp_flush(c);
        if (st < 0) {
            conn_close(c);
            return;
        }
        if (st == 0) {
            set_events(c, EPOLLOUT | (c->body_done || over_budget(c) ? 0u : (unsigned)EPOLLIN));
            return;
        }
        reply_done(c);
    }
    if (c->fd >= 0 && c->state == CS_REPLY)
        set_events(c, EPOLLOUT); /* more pipelined work: come back on the next round */
}

void conn_event(http_conn *c, unsigned ev)
{
    if (c->fd < 0)
        return;
    if (ev & EPOLLERR) {
        conn_close(c);
        return;
    }
    if (c->state == CS_LINGER && over_budget(c) && (ev & (EPOLLRDHUP | EPOLLHUP))) {
        conn_close(c); /* the client is done with the reply */
        return;
    }
    if (ev & (EPOLLIN | EPOLLHUP)) {
        switch (c->state) {
        case CS_IDLE:
        case CS_HEAD:
            read_head(c);
            break;
        case CS_BODY:
        case CS_DRAIN:
            read_body(c);
            break;
        case CS_REPLY:
            if (!c->body_done && !over_budget(c))
                read_body(c);
            break;
        case CS_LINGER:
            read_linger(c);
            break;
        }
    }
    if (c->fd >= 0)
        advance(c);
}

void conn_refuse(http_conn *c)
{
    c->keep_alive = 0;
    if (!req_new(c)) {
        conn_close(c);
        return;
    }
    http_add_header(c->req, "Retry-After", "1");
    c->body_done = 1;
    reply_protocol_error(c, c->req, 503,
                         "The server has too many open connections; retry in a moment.");
    c->drop = 1;
    enter(c, CS_REPLY);
    advance(c);
}

/* ---- deadlines ---- */

static void timeout_reply(http_conn *c, const char *message)
{
    if (c->req && c->req->status) /* a reply is already going out: just stop */ {
        conn_close(c);
        return;
    }
    refuse(c, 408, message);
    if (c->fd >= 0)
        advance(c);
}

static void check_rate(http_conn *c, const http_settings *s)
{
    int64_t now = c->w->now_ns;
    if (!s->min_body_rate || now - c->rate_ns < s->rate_window_ns)
        return;
    uint64_t need = s->min_body_rate * (uint64_t)(s->rate_window_ns / 1000000000);
    if (c->body_raw - c->rate_raw < need) {
        char msg[160];
        snprintf(msg, sizeof msg,
                 "The request body arrived too slowly (less than %llu bytes per second).",
                 (unsigned long long)s->min_body_rate);
        LOG(LOG_INFO, "msg=\"slow body\" id=%s bytes=%llu", c->req ? c->req->request_id : "-",
            (unsigned long long)c->body_raw);
        /* the message must outlive this frame only until the reply is built (copied there) */
        timeout_reply(c, msg);
        return;
    }
    c->rate_ns = now;
    c->rate_raw = c->body_raw;
}

void conn_tick(http_conn *c)
{
    const http_settings *s = &c->w->srv->set;
    int64_t now = c->w->now_ns;
    switch (c->state) {
    case CS_IDLE:
        if (now - c->since_ns > s->idle_ns)
            conn_close(c);
        return;
    case CS_HEAD:
        if (now - c->since_ns > s->header_ns || now - c->progress_ns > s->idle_ns)
            timeout_reply(c, "The request headers did not arrive in time.");
        return;
    case CS_BODY:
        if (now - c->progress_ns > s->idle_ns) {
            timeout_reply(c, "The request body stopped arriving.");
            return;
        }
        check_rate(c, s);
        return;
    case CS_REPLY:
        if (now - c->progress_ns > s->idle_ns)
            conn_close(c);
        return;
    case CS_DRAIN:
    case CS_LINGER:
        if (now - c->since_ns > s->linger_ns)
            conn_close(c);
        return;
    }
}

/* Called by a worker when its loop was blocked (a slow handler): nobody's rate is judged on
 * time the server itself did not read. */
void conn_rate_reset(http_conn *c);
void conn_rate_reset(http_conn *c)
{
    c->rate_ns = c->w->now_ns;
    c->rate_raw = c->body_raw;
}

/* ---- request accessors (http.h) ---- */

const char *http_header(http_req *r, const char *name)
{
    return r->conn ? h1_field_get(&r->conn->head, name) : NULL;
}

int64_t http_content_length(http_req *r)
{
    return r->conn && r->conn->framing != H1_BODY_CHUNKED ? r->conn->declared_length : -1;
}

/* Decodes the whole query once into one allocation: pairs of strings, then their bytes. */
static int parse_query(http_conn *c, const char *q)
{
    c->q_parsed = 1;
    unsigned n = count_params(q);
    size_t qlen = strlen(q);
    if (!n)
        return 0;
    size_t need = n * 2 * sizeof(char *) + n * sizeof(size_t) + qlen + 2 * n;
    char *mem = malloc(need);
    if (!mem)
        return -1;
    c->qpairs = (char **)mem;
    c->qlens = (size_t *)(mem + n * 2 * sizeof(char *));
    char *text = (char *)(c->qlens + n);
    for (const char *p = q; *p && c->nq < n;) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        size_t kl = eq ? (size_t)(eq - p) : len;
        if (len) {
            c->qpairs[2 * c->nq] = text;
            text += pct_decode(text, kl + 1, p, kl, 1) + 1;
            c->qpairs[2 * c->nq + 1] = text;
            size_t vl = eq ? len - kl - 1 : 0;
            c->qlens[c->nq] = pct_decode(text, vl + 1, eq ? eq + 1 : "", vl, 1);
            text += c->qlens[c->nq] + 1;
            c->nq++;
        }
        p = amp ? amp + 1 : p + len;
    }
    return 0;
}

const char *http_query_n(http_req *r, const char *name, size_t *len)
{
    http_conn *c = r->conn;
    if (!c || !r->query)
        return NULL;
    if (!c->q_parsed && parse_query(c, r->query))
        return NULL;
    for (unsigned i = 0; i < c->nq; i++)
        if (!strcmp(c->qpairs[2 * i], name)) {
            if (len)
                *len = c->qlens[i];
            return c->qpairs[2 * i + 1];
        }
    return NULL;
}

const char *http_query(http_req *r, const char *name)
{
    return http_query_n(r, name, NULL);
}
