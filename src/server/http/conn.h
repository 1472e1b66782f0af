/*
 * Internals of the HTTP layer shared by server.c (threads, accept, timers), conn.c (one
 * connection's state machine) and reply.c (responses). Nothing outside http/ includes this.
 *
 * Model: N worker threads, each with its own epoll set. The listening socket is in every set
 * (EPOLLEXCLUSIVE), so whichever worker is free accepts; a connection then stays on that
 * worker, which runs its handlers synchronously (they may block briefly on the disk or the
 * database, as with libmicrohttpd's thread pool before). A worker reads a body into one buffer
 * of its own and hands the pieces to the handler, so an idle connection costs a few hundred
 * bytes and a busy one its request head.
 *
 * Thread: a connection is touched only by its worker. Cross-worker requests (evict an idle
 * connection, stop) go through atomics and the worker's eventfd.
 */
#ifndef ARGOT_SERVER_HTTP_CONN_H
#define ARGOT_SERVER_HTTP_CONN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "server/http/h1.h"
#include "server/http/http.h"
#include "server/http/server.h"

typedef struct http_worker http_worker;
typedef struct http_conn http_conn;

/* The lists of connections that can be closed to make room, in the order they are taken. */
enum { IDLE_LINGER = 0, IDLE_FRESH = 1, IDLE_KEPT = 2, IDLE_LISTS = 3 };

typedef enum conn_state {
    CS_IDLE,   /* between requests: no byte of the next one yet (evictable) */
    CS_HEAD,   /* reading a request head (header deadline) */
    CS_BODY,   /* reading a body for the handler (minimum rate) */
    CS_REPLY,  /* writing a response; the body may still be arriving (then dropped) */
    CS_DRAIN,  /* response sent, the rest of the body is read and dropped, then keep-alive */
    CS_LINGER, /* response sent, write side shut: read and drop until the client stops */
} conn_state;

enum { R_NONE, R_BUF, R_FD, R_STREAM };

typedef struct http_resp {
    char *head; /* status line + fields + CRLF (malloc) */
    size_t head_len, head_off;
    int kind;
    int no_body; /* HEAD request: the fields only */
    char *buf;   /* R_BUF */
    size_t buf_len, buf_off;
    int fd; /* R_FD: sendfile from fd_off */
    uint64_t fd_off, fd_left;
    http_stream_read sread; /* R_STREAM */
    void (*sdone)(void *ctx);
    void *sctx;
    int chunked; /* stream of unknown size: chunked framing */
    int eof;     /* the stream has ended (for chunked: the last chunk is queued) */
    char *pend;  /* bytes produced by the stream (with framing) not yet written */
    size_t pend_len, pend_off, pend_cap;
    uint64_t sent; /* body bytes written */
} http_resp;

struct http_conn {
    http_worker *w;
    int fd;
    conn_state state;
    http_conn *prev, *next;   /* the worker's connections */
    http_conn *iprev, *inext; /* the worker's idle list this connection is on, oldest first */
    int idle_listed;          /* 0: on none, else 1 + the list (IDLE_*) */
    unsigned served;          /* requests answered on this connection */
    unsigned events;          /* epoll interest now registered */
    char *in;                 /* the request head, then bytes of the next request */
    size_t in_len, in_cap, scan;
    char *later;         /* bytes of the next request read with a chunked body's end: c->in must */
    size_t later_len;    /* not move while a request borrows its head from it */
    int64_t since_ns;    /* entered the current state */
    int64_t progress_ns; /* last byte read or written */
    /* the body of the current request */
    h1_framing framing;
    uint64_t body_left; /* H1_BODY_LENGTH: bytes still to come */
    h1_chunked ck;
    int body_done;
    int drop;          /* a reply was made: body bytes are read and dropped */
    uint64_t dropped;  /* bytes read and dropped since; past max_discard nothing more is read */
    uint64_t body_raw; /* body bytes received on the wire (framing included) */
    int64_t rate_ns;   /* start of the current rate window */
    uint64_t rate_raw; /* body_raw then */
    int keep_alive;    /* another request may follow this one */
    int continue_pending;
    http_req *req;
    http_resp out;
    /* the current request's head (names and values point into in) */
    h1_head head;
    h1_field *fields;
    int64_t declared_length; /* Content-Length as sent, -1 if none */
    char **qpairs;           /* decoded query: name, value, name, value, ... (one malloc) */
    size_t *qlens;           /* decoded value lengths */
    unsigned nq;
    int q_parsed;
};

typedef struct http_settings {
    h1_limits lim;
    unsigned max_query_params;
    int64_t idle_ns, header_ns, linger_ns, rate_window_ns;
    uint64_t min_body_rate;     /* bytes per second, 0: off */
    uint64_t max_discard;       /* body bytes read and dropped after an early reply */
    uint64_t max_unrouted_body; /* body of a route that takes none */
} http_settings;

struct http_worker {
    http_server *srv;
    int index;
    pthread_t thread;
    int ep;
    int evfd;
    int listening; /* the listening socket is in this worker's epoll set */
    int64_t accept_resume_ns;
    atomic_int evict;             /* idle connections other workers asked this one to close */
    atomic_int nidle[IDLE_LISTS]; /* connections per list */
    int nconns;
    http_conn *conns;
    /* Connections that can make room, oldest first, in three lists taken in this order:
     * IDLE_LINGER ones have their reply and wait for the client to go, IDLE_FRESH ones never
     * sent a request (a flood of such sockets costs real clients nothing), IDLE_KEPT ones are
     * keep-alive connections between requests. */
    http_conn *idle_head[IDLE_LISTS], *idle_tail[IDLE_LISTS];
    http_conn *graveyard; /* closed, freed after the current batch of events */
    char *rbuf;           /* body reads */
    size_t rcap;
    int64_t now_ns;
    time_t date_sec;
    char date[64]; /* "Date: ...\r\n" for date_sec */
};

struct http_server {
    http_config cfg;
    atomic_int inflight; /* requests between their head and the end of their reply */
    int lfd;
    int port;
    int nworkers;
    http_worker *workers;
    http_settings set;
    int max_conns;
    atomic_int nconns;
    atomic_int stopping; /* no new connections or requests; idle ones are closed */
    atomic_int halt;     /* close everything and leave */
};

int64_t http_now_ns(void);

/* conn.c */
http_conn *conn_new(http_worker *w, int fd);
void conn_event(http_conn *c, unsigned events);
void conn_tick(http_conn *c); /* deadlines */
void conn_close(http_conn *c);
/* Answers a connection accepted over the limit with 503 and closes it gracefully. */
void conn_refuse(http_conn *c);
/* Puts c on the list its state calls for (or none). */
void conn_relist(http_conn *c);
/* Closes the oldest idle connection of list (IDLE_FRESH/IDLE_KEPT) other than except; 1 if it
 * closed one. */
int conn_evict_idle(http_worker *w, int list, const http_conn *except);

/* reply.c */
/* Builds the response head for status into c->out (fields of r, framing, Connection). */
int reply_head(http_conn *c, http_req *r, int status, const char *ctype, int64_t body_len);
/* A response made by the HTTP layer itself (a request it refuses): the OpenAI error envelope. */
int reply_protocol_error(http_conn *c, http_req *r, int status, const char *message);
void resp_free(http_resp *o);
/* Writes what can be written now: 1 when the response is complete, 0 if the socket is full,
 * -1 on an error (close). */
int resp_flush(http_conn *c);
void reply_date(http_worker *w);

#endif
