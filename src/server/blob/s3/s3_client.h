/*
 * A small S3 client on libcurl, for the S3 blob backend (issue 13). No HTTP-server code and no
 * Argot types in it: a blob adapter maps its calls and its error record onto the blob
 * interface.
 *
 * Addressing: with an endpoint (Swift, Ceph, MinIO...) requests are path-style,
 * http(s)://endpoint/bucket/key; without one (AWS) virtual-hosted,
 * https://bucket.s3.REGION.amazonaws.com/key (path-style for bucket names with dots, as the
 * AWS SDKs do, since a dotted name breaks the TLS certificate's wildcard). Either can be forced.
 * Every key given to and returned by the client is relative to the configured prefix.
 *
 * Signing: SigV4 (s3_sigv4.h) with the payload hashed when the body is in memory (parts, small
 * objects, the Complete document) and UNSIGNED-PAYLOAD when it is streamed from a callback.
 * Credentials are copied at s3_client_new(), wiped at s3_client_free(), and never logged.
 *
 * Connections: the client keeps idle libcurl handles (one multi + one easy each, the multi
 * owning the connection cache) in a small pool; an operation borrows one and gives it back,
 * so connections are reused across operations and threads. A reader holds one for its life.
 *
 * Errors: every call fills an s3_error (first failure wins) with the HTTP status, S3's error
 * Code and Message (read from the XML body, also for a 200 that carries an <Error>), the
 * CURLcode, and a retryable flag: 5xx, SlowDown, InternalError, RequestTimeout, connection
 * failures and timeouts are retryable; 400/403/404 and the rest are not. Requests whose body
 * can be sent again (none, or in memory) are retried here up to max_retries times with
 * exponential backoff; streamed ones are not (the caller owns the stream).
 *
 * Writers' parts are uploaded by the client's own threads (up to upload_threads, started on
 * demand, joined by s3_client_free(), which must come after every writer is finished).
 *
 * Thread: an s3_client may be used from many threads at once; an s3_reader or s3_writer by one
 * thread at a time.
 */
#ifndef ARGOT_SERVER_S3_CLIENT_H
#define ARGOT_SERVER_S3_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "server/blob/s3/s3_resp.h"

typedef enum {
    S3_OK = 0,
    S3_E_INVALID = -1, /* a bad argument or configuration */
    S3_E_NOMEM = -2,
    S3_E_NOTFOUND = -3, /* 404: NoSuchKey, NoSuchBucket, NoSuchUpload */
    S3_E_AUTH = -4,     /* 403: wrong credentials, clock skew, no permission */
    S3_E_NETWORK = -5,  /* no HTTP answer: refused, reset, timed out, DNS, TLS */
    S3_E_SERVER = -6,   /* 5xx or throttling (SlowDown), also as a 200 with <Error> */
    S3_E_PROTOCOL = -7, /* an answer that cannot be understood */
    S3_E_REQUEST = -8,  /* any other 4xx: EntityTooSmall, InvalidPart, InvalidPartOrder... */
    S3_E_RANGE = -9,    /* 416: the range starts past the end */
    S3_E_BUSY = -10,    /* the writers' memory budget is exhausted (retryable) */
    S3_E_ABORTED = -11, /* the caller's callback stopped the transfer */
    S3_E_STATE = -12,   /* the writer already failed or was used wrongly */
} s3_status;

typedef struct s3_error {
    s3_status code;
    int retryable;
    long http_status; /* 0: no HTTP answer */
    int curl_code;    /* CURLcode; 0: none */
    char s3_code[S3R_CODE_MAX + 1];
    char message[384]; /* "<Op> <key>: <what>", the first failure's */
} s3_error;

void s3_error_clear(s3_error *e);
/* Sets e (if still clear) and returns code. */
s3_status s3_error_set(s3_error *e, s3_status code, int retryable, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
const char *s3_status_str(s3_status code);
/* The retry rule: 1 if a request that ended with this HTTP status (0: none), S3 error Code
 * ("" or NULL: none) and CURLcode (0: none) may succeed when sent again. */
int s3_retryable(long http_status, const char *s3_code, int curl_code);

typedef enum { S3_ADDR_AUTO = 0, S3_ADDR_PATH, S3_ADDR_VIRTUAL } s3_addressing;

typedef struct s3_config {
    const char *endpoint; /* "http://127.0.0.1:8080"; NULL or "": AWS */
    const char *bucket;
    const char *prefix; /* prepended to every key: [A-Za-z0-9._/-], may be NULL */
    const char *region; /* NULL: "us-east-1" */
    const char *access_key;
    const char *secret_key;
    const char *session_token; /* NULL: none */
    s3_addressing addressing;
    const char *resolve; /* "HOST:PORT:ADDR" pinned like curl --resolve; NULL: DNS */
    long connect_timeout_ms;
    long stall_timeout_s; /* a transfer with no byte moving for this long fails */
    int max_retries;      /* extra attempts for retryable failures of replayable requests */
    long retry_base_ms;   /* backoff: base, 2 x base, 4 x base... (+ up to 50% jitter) */
    /* Writers (s3_stream.h): */
    uint64_t part_size;      /* bytes per part, 5 MiB..5 GiB */
    uint64_t memory_budget;  /* bytes of part buffers for all writers together, >= a part */
    long budget_wait_ms;     /* how long a writer holding nothing waits for budget (S3_E_BUSY) */
    int parts_in_flight;     /* part buffers per writer (the one filling + those uploading) */
    int upload_threads;      /* threads uploading parts for all writers, started on demand */
    uint64_t max_error_body; /* bytes of an error body read; the rest is discarded */
} s3_config;

#define S3_MIN_PART_SIZE       (5ull << 20)
#define S3_MAX_PART_SIZE       (5ull << 30)
#define S3_MAX_PARTS           10000
#define S3_MAX_PARTS_IN_FLIGHT 64
#define S3_MAX_UPLOAD_THREADS  256
#define S3_DEFAULT_REGION      "us-east-1"
#define S3_CONFIG_DEFAULTS                                                                         \
    .connect_timeout_ms = 10000, .stall_timeout_s = 60, .max_retries = 3, .retry_base_ms = 100,    \
    .part_size = 16ull << 20, .memory_budget = 256ull << 20, .budget_wait_ms = 10000,              \
    .parts_in_flight = 3, .upload_threads = 16, .max_error_body = 64 << 10

/* Fills the credentials and region of c from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 * AWS_SESSION_TOKEN (optional), AWS_REGION (or AWS_DEFAULT_REGION) and the endpoint from
 * AWS_ENDPOINT_URL, leaving fields already set alone. The strings are borrowed from the
 * environment. Returns S3_OK or S3_E_INVALID (with err) if a credential is missing. */
s3_status s3_config_from_env(s3_config *c, s3_error *err);

typedef struct s3_client s3_client;

/* Validates and copies cfg; no network. */
s3_status s3_client_new(s3_client **out, const s3_config *cfg, s3_error *err);
void s3_client_free(s3_client *c);
const s3_config *s3_client_config(const s3_client *c); /* the copy, borrowed */

/* HeadBucket, with a message fit for a startup failure: the bucket does not exist (404), the
 * credentials are wrong or lack permission (403), or the endpoint is unreachable. */
s3_status s3_head_bucket(s3_client *c, s3_error *err);

/* CreateBucket (tests and tools; the backend requires an existing bucket). A bucket that
 * already exists and is ours is success. */
s3_status s3_create_bucket(s3_client *c, s3_error *err);

/* HeadObject: size and ETag (etag may be NULL). */
s3_status s3_head_object(
    s3_client *c, const char *key, uint64_t *size, char etag[S3R_ETAG_MAX + 1], s3_error *err);

/* PutObject from memory (hashed payload; retried). etag may be NULL. */
s3_status s3_put_object(s3_client *c,
                        const char *key,
                        const void *data,
                        size_t len,
                        char etag[S3R_ETAG_MAX + 1],
                        s3_error *err);

/* Fills up to cap bytes of buf; returns the count (0 only at the end: exactly len bytes must
 * come) or -1 to abort. */
typedef long (*s3_read_cb)(char *buf, size_t cap, void *userdata);
/* PutObject streamed from cb (UNSIGNED-PAYLOAD, Content-Length len, never retried). */
s3_status s3_put_object_stream(s3_client *c,
                               const char *key,
                               uint64_t len,
                               s3_read_cb cb,
                               void *userdata,
                               char etag[S3R_ETAG_MAX + 1],
                               s3_error *err);

/* Receives body bytes; returns 0 to go on, non-zero to stop (S3_E_ABORTED). */
typedef int (*s3_write_cb)(const char *data, size_t len, void *userdata);
#define S3_TO_END UINT64_MAX
/* GetObject of len bytes from offset (len S3_TO_END: to the end), streamed through cb in
 * chunks of at most 64 KiB; memory stays bounded whatever the size. An offset past the end
 * is S3_E_RANGE. Retried while no byte was delivered. */
s3_status s3_get_object(s3_client *c,
                        const char *key,
                        uint64_t offset,
                        uint64_t len,
                        s3_write_cb cb,
                        void *userdata,
                        s3_error *err);

/* DeleteObject: a missing key is success (S3 answers 204; some servers 404). */
s3_status s3_delete_object(s3_client *c, const char *key, s3_error *err);

typedef struct s3_part {
    int number; /* 1..10000 */
    char etag[S3R_ETAG_MAX + 1];
    uint64_t size;
} s3_part;

s3_status s3_mpu_create(s3_client *c,
                        const char *key,
                        char upload_id[S3R_TOKEN_MAX + 1],
                        s3_error *err);
/* UploadPart from memory; sha256_hex is the body's hash if the caller has it (NULL: hashed
 * here). Fills part->etag/size/number. */
s3_status s3_mpu_upload_part(s3_client *c,
                             const char *key,
                             const char *upload_id,
                             int number,
                             const void *data,
                             size_t len,
                             const char *sha256_hex,
                             s3_part *part,
                             s3_error *err);
/* UploadPartCopy of bytes [first, last] of src_key (x-amz-copy-source-range); the body is
 * always parsed: a 200 carrying <Error> is a failure. */
s3_status s3_mpu_upload_part_copy(s3_client *c,
                                  const char *key,
                                  const char *upload_id,
                                  int number,
                                  const char *src_key,
                                  uint64_t first,
                                  uint64_t last,
                                  s3_part *part,
                                  s3_error *err);
/* CompleteMultipartUpload with parts in order; the body is always read: a 200 carrying
 * <Error> is a failure. etag may be NULL. */
s3_status s3_mpu_complete(s3_client *c,
                          const char *key,
                          const char *upload_id,
                          const s3_part *parts,
                          size_t nparts,
                          char etag[S3R_ETAG_MAX + 1],
                          s3_error *err);
/* AbortMultipartUpload: an upload already gone (404 NoSuchUpload) is success. */
s3_status s3_mpu_abort(s3_client *c, const char *key, const char *upload_id, s3_error *err);

/* Where a list page ended. */
typedef struct s3_page {
    int truncated;
    char next_token[S3R_TOKEN_MAX + 1];    /* ListObjectsV2 */
    char next_key_marker[S3R_KEY_MAX + 1]; /* ListMultipartUploads (relative to the prefix) */
    char next_upload_id_marker[S3R_TOKEN_MAX + 1];
    int next_part_marker; /* ListParts */
    size_t count;         /* entries in this page */
} s3_page;

/* One page of ListObjectsV2 under prefix (relative; NULL: all), from token (NULL: the first
 * page), at most max_keys (0: the server's default, 1000). Entries go to cb as they are
 * parsed, keys relative to the configured prefix; cb must not call the client. */
s3_status s3_list_objects(s3_client *c,
                          const char *prefix,
                          const char *token,
                          int max_keys,
                          s3r_entry_cb cb,
                          void *userdata,
                          s3_page *page,
                          s3_error *err);
/* One page of ListObjectsV2 under prefix of the keys after after (relative; start-after). */
s3_status s3_list_objects_after(s3_client *c,
                                const char *prefix,
                                const char *after,
                                int max_keys,
                                s3r_entry_cb cb,
                                void *userdata,
                                s3_page *page,
                                s3_error *err);
/* One page of ListMultipartUploads under prefix, after (key_marker, id_marker) (NULL: from
 * the start). */
s3_status s3_mpu_list_uploads(s3_client *c,
                              const char *prefix,
                              const char *key_marker,
                              const char *id_marker,
                              int max_uploads,
                              s3r_entry_cb cb,
                              void *userdata,
                              s3_page *page,
                              s3_error *err);
/* One page of ListParts after part number marker (0: from the start). */
s3_status s3_mpu_list_parts(s3_client *c,
                            const char *key,
                            const char *upload_id,
                            int marker,
                            int max_parts,
                            s3r_entry_cb cb,
                            void *userdata,
                            s3_page *page,
                            s3_error *err);

/* Aborts every multipart upload under prefix initiated before now - older_than_s (all pages)
 * whose parts (ListParts) were all uploaded before that too: a live writer's upload that began
 * long ago is kept as long as its parts keep coming.
 * *aborted (may be NULL) counts them. The reaper for writers that never finished (crash):
 * S3 has no lifecycle rule here to do it. */
s3_status s3_reap_uploads(
    s3_client *c, const char *prefix, int64_t older_than_s, size_t *aborted, s3_error *err);

/* The same, for uploads initiated before the Unix time before. */
s3_status s3_reap_uploads_before(
    s3_client *c, const char *prefix, int64_t before, size_t *aborted, s3_error *err);

#endif
