/*
 * Inside the S3 client: the request engine (s3_conn.c) shared by the operations (s3_ops.c,
 * s3_list.c), the reader and the writer. Not for use outside src/server/blob/s3/.
 */
#ifndef ARGOT_SERVER_S3_INTERNAL_H
#define ARGOT_SERVER_S3_INTERNAL_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>

#include "common/buf.h"
#include "server/blob/s3/s3_budget.h"
#include "server/blob/s3/s3_client.h"
#include "server/blob/s3/s3_sigv4.h"

#define S3_POOL_MAX       32         /* idle connections kept */
#define S3_READ_CHUNK     (64 << 10) /* curl's receive buffer: the largest write callback */
#define S3_SEND_CHUNK     (64 << 10) /* curl's upload buffer: the largest read callback */
#define S3_CANCEL_POLL_MS 50         /* how often a cancellable transfer looks at its flag */
/* A write_cb may return this (the reader does) to pause the transfer until resumed. */
#define S3_WRITE_PAUSE 0x5041

/*
 * The upload threads (s3_pool.c): a FIFO of tasks shared by every writer of the client, run
 * by up to cfg.upload_threads threads started when a task finds no idle one and joined at
 * s3_client_free(). A task is embedded in its owner (a writer's part), which must stay alive
 * until run() returned or s3_pool_remove() took the task back.
 */
typedef struct s3_task {
    struct s3_task *next;
    void (*run)(struct s3_task *t);
} s3_task;

typedef struct s3_pool_counters {
    int threads, running, peak_running, queued;
    uint64_t done;
} s3_pool_counters;

typedef struct s3_pool {
    pthread_mutex_t lock;
    pthread_cond_t work;
    s3_task *head, *tail;
    pthread_t *threads;
    int nthreads, max, idle, queued, running, peak_running, stop;
    uint64_t done;
} s3_pool;

int s3_pool_init(s3_pool *p, int max_threads);
/* Joins the threads once the queue is empty. */
void s3_pool_destroy(s3_pool *p);
/* Queues t; -1 (t not queued) only when no thread runs and none can be started: the caller
 * then runs t itself. */
int s3_pool_submit(s3_pool *p, s3_task *t);
/* Takes t back if no thread took it yet: 1 if removed (it will not run), 0 if not queued. */
int s3_pool_remove(s3_pool *p, s3_task *t);
int s3_pool_remove_locked(s3_pool *p, s3_task *t);
void s3_pool_stats(s3_pool *p, s3_pool_counters *out);

typedef struct s3_conn {
    CURLM *multi; /* owns the connection cache */
    CURL *easy;
    struct s3_conn *next;
} s3_conn;

struct s3_client {
    s3_config cfg; /* strings below are owned copies */
    char *endpoint, *bucket, *prefix, *region, *access_key, *secret_key, *session_token;
    char *resolve;
    struct curl_slist *resolve_list;
    char scheme[8];
    char host[300]; /* Host header: lowercase, ":port" unless default */
    int virtual_hosted;
    pthread_mutex_t lock;
    s3_conn *idle;
    size_t nidle;
    s3_budget budget;
    s3_pool pool;
};

/* One request, described by the operation and run by s3_perform(). */
typedef struct s3_req {
    const char *op; /* "PutObject": for messages */
    const char *method;
    const char *key; /* relative to the prefix; NULL: the bucket itself */
    s3_kv query[S3_SIGV4_MAX_QUERY];
    size_t nquery;
    s3_kv headers[6]; /* extra headers, all signed */
    size_t nheaders;
    /* Body: in memory (replayable), or streamed from read_cb (sent once). */
    const void *body;
    size_t body_len;
    const char *body_sha256; /* hex of body if known; NULL: computed */
    s3_read_cb read_cb;
    void *read_ud;
    uint64_t read_len;
    /* Successful (2xx) body: to write_cb (object bytes) or to the XML decoder resp. */
    s3_write_cb write_cb;
    void *write_ud;
    s3r *resp;
    int ranged; /* a Range header was sent: the answer must be 206 */
    int ok_404; /* 404 is success (idempotent deletes) */
    int no_retry;
    atomic_int *cancel; /* set (non-zero) by another thread: stop now, no retry; NULL: none */
    /* Results: */
    long status;
    int headers_done;   /* the header block of the final answer is in */
    uint64_t delivered; /* bytes handed to write_cb */
    uint64_t content_length;
    char etag[S3R_ETAG_MAX + 1];
    char content_range[96];
} s3_req;

/* Sends r (with retries when allowed) and classifies the outcome into err. */
s3_status s3_perform(s3_client *c, s3_req *r, s3_error *err);

/* Borrows an idle connection or makes one; NULL on out of memory. */
s3_conn *s3_conn_get(s3_client *c);
/* Gives it back (or frees it when the pool is full or broken is set). */
void s3_conn_put(s3_client *c, s3_conn *k, int broken);

/* Prepares k->easy for r (URL, signature, headers into *hdrs, callbacks with userdata ctx).
 * Exposed for the reader, which drives the transfer itself. */
typedef struct s3_xfer s3_xfer;
s3_status s3_xfer_new(s3_xfer **out, s3_client *c, s3_conn *k, s3_req *r, s3_error *err);
/* Runs the transfer to its end (blocking). */
CURLcode s3_xfer_run(s3_xfer *x);
/* Or step by step: start, then step (no waiting) until it returns 1 (*done set to the
 * result), waiting between steps for the socket (up to timeout_ms) when nothing else moves. */
int s3_xfer_start(s3_xfer *x);
int s3_xfer_step(s3_xfer *x, CURLcode *done);
void s3_xfer_wait(s3_xfer *x, int timeout_ms);
/* Resumes a transfer paused by S3_WRITE_PAUSE. */
void s3_xfer_resume(s3_xfer *x);
/* Turns the finished transfer's result into a status (also reads the XML error body). */
s3_status s3_xfer_result(s3_xfer *x, CURLcode cc, s3_error *err);
void s3_xfer_free(s3_xfer *x);

/* s3_mpu_upload_part() that stops (S3_E_ABORTED) once *cancel is set (NULL: never). */
s3_status s3_upload_part_x(s3_client *c,
                           const char *key,
                           const char *upload_id,
                           int number,
                           const void *data,
                           size_t len,
                           const char *sha256_hex,
                           atomic_int *cancel,
                           s3_part *part,
                           s3_error *err);

/* Builds the canonical key "prefix + key" URI-encoded path into out. */
s3_status s3_build_path(const s3_client *c, const char *key, argot_buf *out);

/* Copies the key of an entry from the server, which starts with the prefix, to relative. */
int s3_strip_prefix(const s3_client *c, char *key);

#endif
