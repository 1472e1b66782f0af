/*
 * Inside the S3 client: the request engine (s3_conn.c) shared by the operations (s3_ops.c,
 * s3_list.c), the reader and the writer. Not for use outside src/server/blob/s3/.
 */
#ifndef ARGOT_SERVER_S3_INTERNAL_H
#define ARGOT_SERVER_S3_INTERNAL_H

#include <curl/curl.h>
#include <pthread.h>

#include "common/buf.h"
#include "server/blob/s3/s3_budget.h"
#include "server/blob/s3/s3_client.h"
#include "server/blob/s3/s3_sigv4.h"

#define S3_POOL_MAX   32         /* idle connections kept */
#define S3_READ_CHUNK (64 << 10) /* curl's receive buffer: the largest write callback */
/* A write_cb may return this (the reader does) to pause the transfer until resumed. */
#define S3_WRITE_PAUSE 0x5041

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

/* Builds the canonical key "prefix + key" URI-encoded path into out. */
s3_status s3_build_path(const s3_client *c, const char *key, argot_buf *out);

/* Copies the key of an entry from the server, which starts with the prefix, to relative. */
int s3_strip_prefix(const s3_client *c, char *key);

#endif
