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

/* ---- download sink (download.c) ---- */
typedef struct argot__sink {
    const argot_download_sink *spec;
    int fd;
    int own_fd;
    off_t start_off;
    int seekable;
    int created; /* ARGOT_SINK_PATH: file created by us */
    argot_buf buf;
    uint64_t written;
    int io_errno;
    int too_large;
    int aborted;
} argot__sink;

argot_status argot__sink_init(argot__sink *s, const argot_download_sink *spec);
/* 0 ok; -1 failed (flags say why). */
int argot__sink_write(argot__sink *s, const char *data, size_t len);
/* Back to zero bytes for a retry: 0 ok, -1 impossible. */
int argot__sink_restart(argot__sink *s);
/* Ends the download: ok != 0 keeps the data, else a created path is removed. */
argot_status argot__sink_finish(argot__sink *s, int ok);
void argot__sink_free(argot__sink *s);

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
