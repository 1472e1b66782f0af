/* The fault proxy of the S3 tests: see s3_harness.h. One thread, poll(2), non-blocking sockets. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "s3_harness.h"

#define MAXC  64
#define BUFSZ (64 << 10)

typedef struct half { /* bytes read from one side, not yet written to the other */
    char buf[BUFSZ];
    size_t len, off;
} half;

typedef struct pconn {
    int cfd, sfd; /* -1: free slot */
    half up, down;
    /* Requests going up are framed (our client always sends Content-Length): */
    int have_head;     /* the current request's header block is in */
    int held;          /* ... and it is held: none of it went to Swift */
    uint64_t req_left; /* bytes of the current request still to forward */
    uint64_t req_sent; /* ... and already forwarded */
    int server_eof;
} pconn;

struct s3t_proxy {
    pthread_t th;
    pthread_mutex_t lock;
    int lfd, wake[2], target_port;
    char endpoint[64];
    uint64_t min_body; /* hold requests with a body this long; 0: no hold */
    int stop, resets, held;
    pconn c[MAXC];
};

static void nonblock(int fd)
{
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static void close_conn(pconn *k, int rst)
{
    if (rst) { /* RST instead of FIN: the client sees "connection reset" */
        struct linger l = {1, 0};
        setsockopt(k->cfd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    close(k->cfd);
    if (k->sfd >= 0)
        close(k->sfd);
    k->cfd = k->sfd = -1;
}

/* A connection to Swift (made when there is something to send: a held request may outlive
 * the kept-alive connection Swift closes when idle). */
static int connect_swift(const s3t_proxy *p)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)p->target_port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    nonblock(fd);
    return fd;
}

static void accept_one(s3t_proxy *p)
{
    int cfd = accept(p->lfd, NULL, NULL);
    if (cfd < 0)
        return;
    for (int i = 0; i < MAXC; i++) {
        if (p->c[i].cfd >= 0)
            continue;
        nonblock(cfd);
        memset(&p->c[i], 0, sizeof p->c[i]);
        p->c[i].cfd = cfd;
        p->c[i].sfd = -1;
        return;
    }
    close(cfd);
}

/* Frames the next request in k's upstream bytes once its header block is in: how long it
 * is, and whether the hold keeps it. */
static void frame(const s3t_proxy *p, pconn *k)
{
    const char *b = k->up.buf + k->up.off, *end = NULL;
    size_t n = k->up.len - k->up.off;
    for (size_t i = 0; i + 4 <= n && !end; i++)
        if (memcmp(b + i, "\r\n\r\n", 4) == 0)
            end = b + i + 4;
    if (!end)
        return;
    uint64_t body = 0;
    for (const char *q = b; q + 16 < end; q++)
        if (strncasecmp(q, "\r\nContent-Length:", 17) == 0)
            body = strtoull(q + 17, NULL, 10);
    k->have_head = 1;
    k->req_left = (uint64_t)(end - b) + body;
    k->req_sent = 0;
    k->held = p->min_body && body >= p->min_body;
}

/* Bytes of k's upstream half that may go to Swift now. */
static size_t forwardable(const s3t_proxy *p, pconn *k)
{
    size_t n = k->up.len - k->up.off;
    if (!k->have_head)
        frame(p, k);
    if (!k->have_head) /* a header block longer than the buffer: not ours, let it through */
        return n == BUFSZ ? n : 0;
    if (k->held && p->min_body)
        return 0;
    return n < k->req_left ? n : (size_t)k->req_left;
}

static int is_held(const s3t_proxy *p, const pconn *k)
{
    return k->cfd >= 0 && p->min_body && k->have_head && k->held;
}

/* Client to Swift: reads what the client sends, forwards what the hold lets through. */
static int pump_up(s3t_proxy *p, pconn *k, const struct pollfd *pc)
{
    ssize_t n = 0;
    if ((pc->revents & (POLLIN | POLLHUP | POLLERR)) && k->up.len < BUFSZ) {
        if ((n = read(k->cfd, k->up.buf + k->up.len, BUFSZ - k->up.len)) <= 0)
            return n < 0 && errno == EAGAIN ? 0 : -1; /* the client closed */
        k->up.len += (size_t)n;
    }
    size_t f = forwardable(p, k);
    if (f && k->sfd < 0 && (k->sfd = connect_swift(p)) < 0)
        return -1;
    if (f && (n = write(k->sfd, k->up.buf + k->up.off, f)) < 0 && errno != EAGAIN)
        return -1;
    if (f && n > 0) {
        k->up.off += (size_t)n;
        k->req_sent += (uint64_t)n;
        if ((k->req_left -= (uint64_t)n) == 0)
            k->have_head = k->held = 0; /* the next request comes */
    }
    if (k->up.off > 0) { /* what is pending to the front: room to read again at once */
        memmove(k->up.buf, k->up.buf + k->up.off, k->up.len - k->up.off);
        k->up.len -= k->up.off;
        k->up.off = 0;
    }
    return 0;
}

/* Swift to client: answers go through as they come. */
static int pump_down(pconn *k, const struct pollfd *pc, const struct pollfd *ps)
{
    ssize_t n;
    if (k->sfd >= 0 && (ps->revents & (POLLIN | POLLHUP | POLLERR)) && k->down.len == 0) {
        if ((n = read(k->sfd, k->down.buf, BUFSZ)) > 0) {
            k->down.len = (size_t)n;
        } else if (n == 0 && k->have_head && k->req_sent == 0) {
            /* Swift closed it idle (keep-alive timeout): the request not sent yet (held)
             * goes on a new connection when it can */
            close(k->sfd);
            k->sfd = -1;
        } else if (n == 0 || errno != EAGAIN) {
            k->server_eof = 1;
        }
    }
    if (k->down.len > k->down.off && (pc->revents & POLLOUT)) {
        if ((n = write(k->cfd, k->down.buf + k->down.off, k->down.len - k->down.off)) < 0 &&
            errno != EAGAIN)
            return -1;
        k->down.off += n > 0 ? (size_t)n : 0;
        if (k->down.off == k->down.len)
            k->down.off = k->down.len = 0;
    }
    return k->server_eof && k->down.len == 0 ? -1 : 0;
}

/* Moves bytes between the two sockets of k as poll said; returns -1 when k must close. */
static int pump(s3t_proxy *p, pconn *k, const struct pollfd *pc, const struct pollfd *ps)
{
    return pump_up(p, k, pc) != 0 ? -1 : pump_down(k, pc, ps);
}

static int fill_polls(s3t_proxy *p, struct pollfd *fds, int *idx)
{
    int n = 0;
    fds[n++] = (struct pollfd){.fd = p->lfd, .events = POLLIN};
    fds[n++] = (struct pollfd){.fd = p->wake[0], .events = POLLIN};
    for (int i = 0; i < MAXC; i++) {
        pconn *k = &p->c[i];
        if (k->cfd < 0)
            continue;
        idx[i] = n;
        fds[n++] = (struct pollfd){
            .fd = k->cfd,
            .events = (short)((k->up.len < BUFSZ ? POLLIN : 0) | (k->down.len ? POLLOUT : 0))};
        fds[n++] = (struct pollfd){
            /* fd -1: not connected, ignored by poll */
            .fd = k->sfd,
            .events = (short)((forwardable(p, k) ? POLLOUT : 0) | (k->down.len ? 0 : POLLIN))};
    }
    return n;
}

static void *loop(void *ud)
{
    s3t_proxy *p = ud;
    struct pollfd fds[2 + 2 * MAXC];
    int idx[MAXC];
    pthread_mutex_lock(&p->lock);
    while (!p->stop) {
        int n = fill_polls(p, fds, idx);
        pthread_mutex_unlock(&p->lock);
        poll(fds, (nfds_t)n, 1000);
        pthread_mutex_lock(&p->lock);
        if (fds[1].revents & POLLIN) {
            char b[64];
            (void)!read(p->wake[0], b, sizeof b);
        }
        for (int i = 0; i < MAXC; i++)
            if (p->c[i].cfd >= 0 && pump(p, &p->c[i], &fds[idx[i]], &fds[idx[i] + 1]) != 0)
                close_conn(&p->c[i], 0);
        for (int i = 0; i < MAXC && p->resets > 0; i++) {
            if (is_held(p, &p->c[i])) {
                close_conn(&p->c[i], 1);
                p->resets--;
            }
        }
        p->held = 0;
        for (int i = 0; i < MAXC; i++)
            p->held += is_held(p, &p->c[i]);
        if (fds[0].revents & POLLIN)
            accept_one(p);
    }
    for (int i = 0; i < MAXC; i++)
        if (p->c[i].cfd >= 0)
            close_conn(&p->c[i], 0);
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

s3t_proxy *s3t_proxy_start(void)
{
    s3t_proxy *p = calloc(1, sizeof *p);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_non_null(p);
    for (int i = 0; i < MAXC; i++)
        p->c[i].cfd = p->c[i].sfd = -1;
    p->target_port = s3t_port();
    assert_int_equal(pthread_mutex_init(&p->lock, NULL), 0);
    assert_int_equal(pipe(p->wake), 0);
    nonblock(p->wake[0]);
    assert_true((p->lfd = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
    assert_int_equal(bind(p->lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(p->lfd, 64), 0);
    assert_int_equal(getsockname(p->lfd, (struct sockaddr *)&a, &len), 0);
    snprintf(p->endpoint, sizeof p->endpoint, "http://127.0.0.1:%d", ntohs(a.sin_port));
    assert_int_equal(pthread_create(&p->th, NULL, loop, p), 0);
    return p;
}

static void wake(s3t_proxy *p)
{
    (void)!write(p->wake[1], "x", 1);
}

void s3t_proxy_stop(s3t_proxy *p)
{
    pthread_mutex_lock(&p->lock);
    p->stop = 1;
    pthread_mutex_unlock(&p->lock);
    wake(p);
    pthread_join(p->th, NULL);
    close(p->lfd);
    close(p->wake[0]);
    close(p->wake[1]);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

const char *s3t_proxy_endpoint(const s3t_proxy *p)
{
    return p->endpoint;
}

void s3t_proxy_hold(s3t_proxy *p, uint64_t min_body)
{
    pthread_mutex_lock(&p->lock);
    p->min_body = min_body;
    pthread_mutex_unlock(&p->lock);
    wake(p);
}

int s3t_proxy_held(s3t_proxy *p)
{
    pthread_mutex_lock(&p->lock);
    int n = p->held;
    pthread_mutex_unlock(&p->lock);
    return n;
}

int s3t_proxy_reset_one(s3t_proxy *p)
{
    struct timespec ts = {0, 1000L * 1000};
    pthread_mutex_lock(&p->lock);
    int found = p->held > 0;
    if (found)
        p->resets = 1;
    pthread_mutex_unlock(&p->lock);
    wake(p);
    for (int pending = found; pending;) { /* until the loop did it (and counted again) */
        nanosleep(&ts, NULL);
        pthread_mutex_lock(&p->lock);
        pending = p->resets > 0;
        pthread_mutex_unlock(&p->lock);
    }
    return found;
}

void s3t_wait_until(int (*pred)(void *ud), void *ud, const char *what)
{
    struct timespec ts = {0, 5L * 1000 * 1000};
    for (int i = 0; i < 120 * 200; i++) {
        if (pred(ud))
            return;
        nanosleep(&ts, NULL);
    }
    fail_msg("gave up after 2 minutes waiting for %s", what);
}
