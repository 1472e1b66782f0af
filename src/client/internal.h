/*
 * libargot internals shared between the files of src/client/. Nothing here is public API;
 * cross-file names use the argot__ prefix (see STYLE.md). See docs/sdk.md for the design.
 */
#ifndef ARGOT_CLIENT_INTERNAL_H
#define ARGOT_CLIENT_INTERNAL_H

#include "argot/argot.h"
#include "argot/uploads.h"
#include "common/buf.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Bounds on what the network can make us hold in memory. */
#define ARGOT__MAX_JSON_BODY           (64u * 1024u * 1024u) /* a 10000-item list is ~3 MB */
#define ARGOT__MAX_ERROR_BODY          (1024u * 1024u) /* error bodies beyond this are truncated */
#define ARGOT__MAX_HEADER_VAL          1024u
#define ARGOT__RETRY_AFTER_CAP_MS      60000.0 /* larger server hints fall back to backoff */
#define ARGOT__DEFAULT_DOWNLOAD_BUFFER ((size_t)512 * 1024 * 1024)

struct argot_client {
    CURL *curl;
    char *api_key; /* may be "" (send no Authorization) */
    char *base_url;
    char *organization;
    char *project;
    char *user_agent;
    long timeout_ms; /* > 0, or ARGOT_TIMEOUT_NONE */
    argot_retry_config retry;
    argot_log_fn log;
    argot_log_level log_level;
    void *log_userdata;
    uint64_t rng; /* xorshift state for jitter */

    /* Last error: err's pointers point into the members below. */
    argot_error err;
    argot_buf err_body;
    char *content_type;
    char *request_id;
    char *e_type, *e_code, *e_param, *e_message;
    char summary[512];
    char curl_errbuf[CURL_ERROR_SIZE];
};

/* ---- upload source (upload.c) ---- */
typedef struct argot__upload {
    const argot_upload_source *src;
    const argot_create_file_request *req; /* POST /files: adds purpose etc.; NULL for a part */
    const char *field;                    /* multipart field of the bytes: "file" or "data" */
    const char *name;                     /* filename of that field */
    int fd;
    int own_fd;
    off_t start_off;
    int seekable;
    uint64_t pos; /* bytes of the file read so far in this attempt */
    int64_t size; /* -1 when unknown */
    int io_errno; /* set when reading failed */
    int aborted;  /* read callback returned an error */
    int rewindable;
    int ranged;         /* PATH/FD read with pread() from range_off; the fd offset is unused */
    uint64_t range_off; /* first byte of the range in the file */
} argot__upload;

argot_status argot__upload_open(argot__upload *up, const argot_create_file_request *req);
/* Opens a part source; a PATH/FD source with offset > 0 or length >= 0 is read with pread(). */
argot_status argot__upload_open_part(argot__upload *up,
                                     const argot_upload_source *src,
                                     uint64_t offset,
                                     int64_t length);
argot_status argot__upload_mime(curl_mime **out, CURL *curl, argot__upload *up);
int argot__upload_rewind(argot__upload *up);
void argot__upload_close(argot__upload *up);

/* ---- download sink (download.c) and its range state (resume.c) ---- */
typedef struct argot__sink {
    const argot_download_sink *spec;
    int fd;
    int own_fd;
    off_t base_pos; /* fd position of byte `offset` of the file (where this call's bytes go) */
    int seekable;
    int created; /* ARGOT_SINK_PATH: file created by us, removed again if the download fails */
    int resume;  /* ARGOT_SINK_PATH with offset > 0: the file holds bytes 0..offset-1 */
    argot_buf buf;
    uint64_t offset;  /* byte of the file the sink's new bytes start at (0 after a restart) */
    uint64_t written; /* bytes written from offset on */
    int io_errno;
    int too_large;
    int aborted;

    /* What was asked (resume.c). */
    uint64_t req_offset;
    int64_t length;       /* -1: to the end */
    const char *if_range; /* the caller's, or NULL */
    /* If-Range of a resumed retry: the validator of the response that delivered the sink's
     * bytes ("" when there is none: the retry then starts over from offset). */
    char validator[ARGOT__MAX_HEADER_VAL];
    /* The attempt in flight. */
    uint64_t start; /* first byte asked for */
    int ranged;     /* a Range header was sent */
    int if_range_sent;
    /* What the answers said. */
    long status;  /* of the last 2xx (or the 416 that said "complete") */
    int64_t size; /* of the file, -1 unknown */
    char etag[ARGOT__MAX_HEADER_VAL];
    int restarted;   /* a 200 answered a range: the sink went back to byte 0 */
    int complete;    /* a 416 said the open-ended range starts at the end of the file */
    int range_error; /* a 200 answered a range and the sink cannot start over: ARGOT_E_RANGE */
    int bad_range;   /* a 206 that is not the range asked for: ARGOT_E_PROTOCOL */
} argot__sink;

/* Prepares the sink of req (its kind, offset, length and if_range); a failure is INVALID with
 * the summary set on c. argot__sink_free() must be called in every case. */
argot_status argot__sink_init(argot_client *c,
                              argot__sink *s,
                              const argot_download_file_request *req);
/* 0 ok; -1 failed (flags say why). */
int argot__sink_write(argot__sink *s, const char *data, size_t len);
/* Back to zero bytes after offset for a retry: 0 ok, -1 impossible. */
int argot__sink_restart(argot__sink *s);
/* Back to byte 0 of the file (a 200 answered a range): 0 ok, -1 impossible. */
int argot__sink_rewind(argot__sink *s);
/* Ends the download: ok != 0 keeps the data, else a created path is removed. */
argot_status argot__sink_finish(argot__sink *s, int ok);
void argot__sink_free(argot__sink *s);

/* Parses a Content-Range value: "bytes FIRST-LAST/SIZE" or "bytes FIRST-LAST/x" (*size -1,
 * x being a star) set *first and *last; "bytes x/SIZE" (unsatisfied) sets *first = *last =
 * UINT64_MAX. Returns 0, or -1 for anything else. */
int argot__content_range_parse(const char *v, uint64_t *first, uint64_t *last, int64_t *size);
/* The Range of the next attempt into range ("" for none, then no If-Range either) and its
 * If-Range into if_range ("" for none); remembers what was asked. */
void argot__sink_range(argot__sink *s, char *range, size_t rn, char *if_range, size_t in);
/* At the end of a 2xx head: checks a 206 against the range asked for, starts the sink over at
 * byte 0 when a 200 answers a range, and learns the validator. content_length is -1 when
 * absent. 0, or -1 to stop the transfer (bad_range or range_error set). */
int argot__sink_head(argot__sink *s,
                     long status,
                     const char *content_range,
                     const char *etag,
                     int64_t content_length);
/* A 416: 1 when it says an open-ended range started at the end of the file (complete set),
 * else 0 (size learnt when the 416 said it). */
int argot__sink_416(argot__sink *s, const char *content_range, const char *etag);
/* Before a retry: keeps the bytes for a resume when a validator is known, else starts over
 * from offset. 0, or -1 when the sink can do neither. */
int argot__sink_retry(argot__sink *s);
/* The summary of a transfer stopped by argot__sink_head() into buf, or NULL when it was not. */
const char *argot__sink_problem(const argot__sink *s, char *buf, size_t n);

/* ---- the HTTP engine (http.c) ---- */
typedef struct argot__request {
    const char *method; /* "GET", "POST" or "DELETE" */
    const char *url;
    const char *accept;
    argot__upload *upload; /* multipart POST: /files, /uploads/{id}/parts */
    const char *json_body; /* POST with a JSON body (application/json), or NULL */
    argot__sink *sink;     /* download; NULL: a JSON body into body */
    argot_buf body;        /* 2xx JSON body (bounded by ARGOT__MAX_JSON_BODY) */
    const argot_request_options *opts;
    argot_progress_fn progress;
    void *progress_userdata;
    uint64_t max_recv_speed; /* bytes per second, 0: no limit */
    char *resp_content_type; /* of the successful response */
} argot__request;

void argot__request_init(argot__request *r, const char *method, const char *url);
void argot__request_free(argot__request *r);
argot_status argot__perform(argot_client *c, argot__request *r);
/* Builds base_url + path (+ query); path parts must already be escaped. */
argot_status argot__url(argot_client *c, argot_buf *out, const char *path);
argot_status argot__url_escape_append(argot_client *c, argot_buf *out, const char *s);

/* ---- retry policy (retry.c): pure functions ---- */
typedef struct argot__attempt_info {
    long http_status;        /* 0: no response */
    int transport_retryable; /* connection failure or timeout */
    int should_retry;        /* x-should-retry: -1 absent, 0 false, 1 true */
    double retry_after_ms;   /* from the headers, -1 when absent or unparsable */
} argot__attempt_info;

int argot__retryable_status(long http_status);
/* Delay in ms before the next attempt, or -1 when there must be no retry. */
int64_t argot__retry_delay(const argot_retry_config *cfg,
                           const argot__attempt_info *ai,
                           unsigned attempts_made,
                           uint64_t elapsed_ms,
                           double rnd);
/* Parses retry-after-ms then retry-after (seconds or HTTP date) into ms; -1 when absent. */
double argot__parse_retry_after(const char *after_ms, const char *after, time_t now);
argot_status argot__retry_validate(const argot_retry_config *cfg);

/* ---- client helpers (client.c) ---- */
void argot__log(argot_client *c, argot_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void argot__error_reset(argot_client *c);
/* Sets status and (if the summary is still empty) a summary line. Returns status. */
argot_status argot__error_set(argot_client *c, argot_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
argot_status argot__http_status_to_status(long http_status);
uint64_t argot__now_ms(void);
double argot__random(argot_client *c);
char *argot__strdup(const char *s);

/* ---- operation helpers (files.c) ---- */
/* Common start of every operation: resets the last error, checks versions and options. */
argot_status argot__op_begin(argot_client *c,
                             const argot_request_options *o,
                             unsigned req_version,
                             unsigned want_version);
/* Parses the 2xx JSON body of r into *root (PROTOCOL when it is not JSON). */
argot_status argot__op_json(argot_client *c, argot__request *r, json_t **root);

/* How argot__op_decode() builds one public result object from a JSON response. */
typedef struct argot__result_kind {
    size_t size;                                     /* of the object */
    size_t json_off;                                 /* offsetof() its `char *json` member */
    argot_status (*decode)(void *obj, json_t *root); /* fills a zeroed object */
    void (*free)(void *obj);                         /* frees a (partly) decoded object */
    const char *invalid;                             /* the summary when decode fails */
} argot__result_kind;

/*
 * Defines `static const argot__result_kind name` for the public result type T, decoded by
 * argot_status decode(T *, json_t *) and freed by void free_fn(T *); invalid is the summary
 * when the body is not a T.
 */
#define ARGOT__RESULT_KIND(name, T, decode, free_fn, invalid)                                      \
    static argot_status name##_decode(void *obj, json_t *root)                                     \
    {                                                                                              \
        return decode((T *)obj, root);                                                             \
    }                                                                                              \
    static void name##_free(void *obj)                                                             \
    {                                                                                              \
        free_fn((T *)obj);                                                                         \
    }                                                                                              \
    static const argot__result_kind name = {sizeof(T), offsetof(T, json), name##_decode,           \
                                            name##_free, invalid}

/* Decodes the 2xx JSON body of r into a new object of kind k that keeps the raw body in its
 * json member. *out is the object, or NULL on error; out may be NULL (only checked). */
argot_status argot__op_decode(argot_client *c,
                              argot__request *r,
                              const argot__result_kind *k,
                              void **out);
/* Performs r, decodes the answer (argot__op_decode), reports the final 100 % of r->upload to
 * r->progress on success (too late to abort), and frees r. */
argot_status argot__op_run(argot_client *c,
                           argot__request *r,
                           const argot__result_kind *k,
                           void **out);
/* argot__op_run() of a request with method, url, opts and a JSON body (or NULL). */
argot_status argot__op_call(argot_client *c,
                            const char *method,
                            const char *url,
                            const char *json_body,
                            const argot_request_options *opts,
                            const argot__result_kind *k,
                            void **out);

/* First step of every public operation: sets *out to NULL when out is not NULL. */
#define ARGOT__OUT_CLEAR(out) ((out) != NULL ? (void)(*(out) = NULL) : (void)0)

/*
 * The prologue of every public operation, after ARGOT__OUT_CLEAR(out). INVALID when c is NULL,
 * or when args_ok is 0 (a required pointer argument is NULL: the summary is null_msg, or
 * "NULL argument" when null_msg is NULL, and the previous last error is not reset). Otherwise
 * argot__op_begin() with the version of req, read only when args_ok; req points to any public
 * request struct (they all start with `unsigned version`).
 */
argot_status argot__op_start(argot_client *c,
                             int args_ok,
                             const char *null_msg,
                             const void *req,
                             const argot_request_options *opts,
                             unsigned want_version);

/* ---- client copies for worker threads (client.c) ---- */
/* A new client with src's configuration (key, URL, headers, timeout, retry), no log. */
argot_status argot__client_clone(argot_client **out, const argot_client *src);
/* Copies src's last-error record (strings included) into dst. */
void argot__error_copy(argot_client *dst, const argot_client *src);

/* ---- JSON decoding (json.c) ---- */
argot_status argot__upload_from_json(argot_upload *u, json_t *obj);
void argot__upload_clear(argot_upload *u);
argot_status argot__part_from_json(argot_upload_part *p, json_t *obj);
argot_status argot__json_parse(json_t **out, const char *text, size_t len);
argot_status argot__file_from_json(argot_file *f, json_t *obj);
void argot__file_clear(argot_file *f);
argot_status argot__list_from_json(argot_file_list *l, json_t *root);
argot_status argot__deleted_from_json(argot_file_deleted *d, json_t *root);
/* Fills the OpenAI error fields of the last error from an error body (ignores non-JSON). */
void argot__error_parse_body(argot_client *c);

#endif
