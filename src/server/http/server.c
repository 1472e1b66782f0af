#define _GNU_SOURCE /* accept4 */
/*
 * The HTTP server: the listening socket, the worker threads with their epoll loops, accepting
 * and shedding connections, deadlines, and a graceful stop. One connection's life is conn.c.
 *
 * Connection limit: every connection is accepted at once (so nothing waits unseen in the
 * listen backlog). Over the limit, the oldest idle connection (no request in progress) is
 * closed to make room, on whichever worker holds one; if no connection is idle, the new one
 * gets 503 with Retry-After and is closed. A flood of connections that never send a byte
 * therefore cannot keep a real client waiting.
 *
 * File descriptors: the soft RLIMIT_NOFILE is raised to the hard one at start, a reserve is
 * kept for the database, blob files and the server's own descriptors, and the connection
 * limit is lowered to what the rest can carry (logged when it is).
 */
#include "server/http/server.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "server/http/conn.h"
#include "server/log.h"

#define TICK_NS        (100 * 1000000LL) /* deadlines are checked this often */
#define RBUF_SIZE      (256 * 1024)      /* body pieces handed to handlers */
#define FD_PER_CONN    2                 /* the socket, and a blob file during a request */
#define LISTEN_BACKLOG 1024

static char listen_tag; /* epoll data of the listening socket */

int64_t http_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- settings ---- */

static void settings_from(http_settings *s, const http_config *c)
{
    s->lim.max_head = (size_t)c->max_head;
    s->lim.max_target = (size_t)c->max_url;
    s->lim.max_fields = (unsigned)c->max_headers;
    s->max_query_params = (unsigned)c->max_query_params;
    s->idle_ns = c->idle_s * 1000000000LL;
    s->header_ns = c->header_s * 1000000000LL;
    s->linger_ns = c->linger_s * 1000000000LL;
    s->rate_window_ns = c->rate_window_s * 1000000000LL;
    s->min_body_rate = (uint64_t)c->min_body_rate;
    s->max_discard = (uint64_t)c->max_discard;
}

/* Raises the soft descriptor limit and derives the connection limit from it. */
static int connection_budget(const http_config *c)
{
    struct rlimit rl;
    int want = c->max_connections;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return want;
    if (rl.rlim_cur < rl.rlim_max) {
        rlim_t old = rl.rlim_cur;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            rl.rlim_cur = old;
    }
    /* the database (3 per thread: db, wal, shm), the sweeper, epoll/eventfd per worker,
     * stdio, the data dir lock and directories, and slack for the uploads' completion */
    long reserve = 64 + 6 * (long)c->threads;
    long avail = rl.rlim_cur == RLIM_INFINITY ? 1L << 20 : (long)rl.rlim_cur;
    long fit = (avail - reserve) / FD_PER_CONN;
    if (fit < 1)
        fit = 1;
    if (fit < want) {
        LOG(LOG_WARN,
            "msg=\"max-connections lowered to fit the file descriptor limit\" configured=%d "
            "nofile=%ld effective=%ld",
            want, avail, fit);
        return (int)fit;
    }
    return want;
}

/* ---- accepting ---- */

static void wake(http_worker *w)
{
    uint64_t one = 1;
    ssize_t n = write(w->evfd, &one, sizeof one);
    (void)n;
}

static void listen_on(http_worker *w, int on)
{
    if (on == w->listening)
        return;
    if (on) {
        struct epoll_event e = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = &listen_tag};
        if (epoll_ctl(w->ep, EPOLL_CTL_ADD, w->srv->lfd, &e) != 0)
            return;
    } else {
        epoll_ctl(w->ep, EPOLL_CTL_DEL, w->srv->lfd, NULL);
    }
    w->listening = on;
}

/* Another worker with an idle connection of list to spare, or NULL. */
static http_worker *holder(http_server *s, const http_worker *self, int list)
{
    http_worker *best = NULL;
    int most = 0;
    for (int i = 0; i < s->nworkers; i++) {
        http_worker *o = &s->workers[i];
        int n = atomic_load(&o->nidle[list]) - atomic_load(&o->evict);
        if (o != self && n > most) {
            most = n;
            best = o;
        }
    }
    return best;
}

/* Over the limit: close the oldest idle connection somewhere (one that never sent a request
 * first), or refuse the new one. */
static void make_room(http_worker *w, http_conn *fresh)
{
    http_server *s = w->srv;
    for (int list = 0; list < IDLE_LISTS; list++) {
        if (conn_evict_idle(w, list, fresh))
            return;
        http_worker *o = holder(s, w, list);
        if (o) {
            atomic_fetch_add(&o->evict, 1);
            wake(o);
            return;
        }
    }
    conn_refuse(fresh);
}

static void accept_some(http_worker *w)
{
    http_server *s = w->srv;
    for (int i = 0; i < 64; i++) {
        int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                LOG(LOG_WARN, "msg=\"accept paused\" error=\"%s\"", strerror(errno));
                listen_on(w, 0);
                w->accept_resume_ns = w->now_ns + TICK_NS;
            }
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        int n = atomic_fetch_add(&s->nconns, 1) + 1;
        http_conn *c = conn_new(w, fd);
        if (!c) {
            close(fd);
            atomic_fetch_sub(&s->nconns, 1);
            continue;
        }
        if (n > s->max_conns)
            make_room(w, c);
    }
}

/* ---- the worker loop ---- */

static void close_idle(http_worker *w, int count)
{
    while (count-- > 0 &&
           (conn_evict_idle(w, IDLE_LINGER, NULL) || conn_evict_idle(w, IDLE_FRESH, NULL) ||
            conn_evict_idle(w, IDLE_KEPT, NULL)))
        ;
}

static void on_wake(http_worker *w)
{
    uint64_t v;
    ssize_t n = read(w->evfd, &v, sizeof v);
    (void)n;
    close_idle(w, atomic_exchange(&w->evict, 0));
    if (atomic_load(&w->srv->stopping)) {
        listen_on(w, 0);
        close_idle(w, w->nconns);
    }
}

void conn_rate_reset(http_conn *c);

static void tick(http_worker *w, int64_t *last)
{
    if (w->now_ns - *last < TICK_NS)
        return;
    int stalled = w->now_ns - *last > 5 * TICK_NS; /* this thread was busy in a handler */
    *last = w->now_ns;
    for (http_conn *c = w->conns, *next; c; c = next) {
        next = c->next;
        if (stalled)
            conn_rate_reset(c);
        else
            conn_tick(c);
    }
    if (!w->listening && !atomic_load(&w->srv->stopping) && w->now_ns >= w->accept_resume_ns)
        listen_on(w, 1);
}

static void bury(http_worker *w)
{
    while (w->graveyard) {
        http_conn *c = w->graveyard;
        w->graveyard = c->next;
        free(c);
    }
}

static void *worker_main(void *arg)
{
    http_worker *w = arg;
    http_server *s = w->srv;
    struct epoll_event ev[64];
    int64_t last = http_now_ns();
    while (!atomic_load(&s->halt)) {
        int n = epoll_wait(w->ep, ev, 64, (int)(TICK_NS / 1000000));
        w->now_ns = http_now_ns();
        for (int i = 0; i < n; i++) {
            void *p = ev[i].data.ptr;
            if (p == &listen_tag)
                accept_some(w);
            else if (p == &w->evfd)
                on_wake(w);
            else
                conn_event(p, ev[i].events);
        }
        tick(w, &last);
        bury(w); /* closed connections are freed only once no event of this batch names them */
    }
    while (w->conns)
        conn_close(w->conns);
    bury(w);
    return NULL;
}

/* ---- start and stop ---- */

static int resolve(const http_config *c, struct sockaddr_storage *ss, socklen_t *len)
{
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
    char port[16], host[256];
    snprintf(port, sizeof port, "%d", c->port);
    snprintf(host, sizeof host, "%s", c->host);
    if (host[0] == '[') { /* [::1]:8080 */
        memmove(host, host + 1, strlen(host));
        char *e = strchr(host, ']');
        if (e)
            *e = '\0';
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

static int open_listener(const http_config *c, int *port)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    if (resolve(c, &ss, &sslen))
        return -1;
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
        bind(fd, (struct sockaddr *)&ss, sslen) || listen(fd, LISTEN_BACKLOG)) {
        LOG(LOG_ERROR, "msg=\"cannot listen\" listen=%s error=\"%s\"", c->listen, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    struct sockaddr_storage bound;
    socklen_t blen = sizeof bound;
    getsockname(fd, (struct sockaddr *)&bound, &blen);
    *port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                              : ((struct sockaddr_in *)&bound)->sin_port);
    return fd;
}

static int worker_init(http_worker *w, http_server *s, int index)
{
    w->srv = s;
    w->index = index;
    w->ep = epoll_create1(EPOLL_CLOEXEC);
    w->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    w->rcap = RBUF_SIZE;
    w->rbuf = malloc(w->rcap);
    w->now_ns = http_now_ns();
    if (w->ep < 0 || w->evfd < 0 || !w->rbuf)
        return -1;
    struct epoll_event e = {.events = EPOLLIN, .data.ptr = &w->evfd};
    if (epoll_ctl(w->ep, EPOLL_CTL_ADD, w->evfd, &e))
        return -1;
    listen_on(w, 1);
    return w->listening ? 0 : -1;
}

static void worker_free(http_worker *w)
{
    if (w->ep > 0)
        close(w->ep);
    if (w->evfd > 0)
        close(w->evfd);
    free(w->rbuf);
}

static void server_free(http_server *s)
{
    for (int i = 0; i < s->nworkers; i++)
        worker_free(&s->workers[i]);
    free(s->workers);
    if (s->lfd >= 0)
        close(s->lfd);
    free(s);
}

int http_server_start(http_server **out, const http_config *cfg)
{
    http_server *s = calloc(1, sizeof *s);
    if (!s)
        return -1;
    s->cfg = *cfg;
    settings_from(&s->set, cfg);
    s->max_conns = connection_budget(cfg);
    s->lfd = open_listener(cfg, &s->port);
    s->nworkers = cfg->threads;
    s->workers = calloc((size_t)s->nworkers, sizeof *s->workers);
    if (s->lfd < 0 || !s->workers) {
        server_free(s);
        return -1;
    }
    int started = 0;
    for (int i = 0; i < s->nworkers; i++) {
        if (worker_init(&s->workers[i], s, i) ||
            pthread_create(&s->workers[i].thread, NULL, worker_main, &s->workers[i]))
            break;
        started++;
    }
    if (started < s->nworkers) {
        LOG(LOG_ERROR, "msg=\"cannot start HTTP workers\" error=\"%s\"", strerror(errno));
        atomic_store(&s->halt, 1);
        for (int i = 0; i < started; i++) {
            wake(&s->workers[i]);
            pthread_join(s->workers[i].thread, NULL);
        }
        server_free(s);
        return -1;
    }
    LOG(LOG_INFO, "msg=\"http server\" workers=%d max_connections=%d", s->nworkers, s->max_conns);
    *out = s;
    return 0;
}

int http_server_port(const http_server *s)
{
    return s->port;
}

int http_server_inflight(const http_server *s)
{
    return atomic_load(&((http_server *)s)->inflight);
}

void http_server_stop(http_server *s, int grace_s)
{
    if (!s)
        return;
    atomic_store(&s->stopping, 1);
    for (int i = 0; i < s->nworkers; i++)
        wake(&s->workers[i]);
    int64_t deadline = http_now_ns() + (int64_t)grace_s * 1000000000;
    while (atomic_load(&s->inflight) > 0 && http_now_ns() < deadline) {
        struct timespec ts = {0, 20 * 1000000};
        nanosleep(&ts, NULL);
    }
    if (atomic_load(&s->inflight) > 0)
        LOG(LOG_WARN, "msg=\"shutdown grace expired\" inflight=%d", atomic_load(&s->inflight));
    atomic_store(&s->halt, 1);
    for (int i = 0; i < s->nworkers; i++)
        wake(&s->workers[i]);
    for (int i = 0; i < s->nworkers; i++)
        pthread_join(s->workers[i].thread, NULL);
    server_free(s);
}
