/*
 * argot/files.h: the Files API (/v1/files), named after the seed SDK's operations:
 * argot_files_list_files, argot_files_create_file, argot_files_delete_file,
 * argot_files_retrieve_file and argot_files_download_file, plus a list iterator.
 *
 * Every operation takes a request struct (initialise it with its _INIT macro), an optional
 * argot_request_options (NULL for the client's defaults), returns an argot_status and leaves
 * the detail in argot_client_last_error(). Results are caller-owned and freed with the matching
 * _free function, which accepts NULL.
 *
 * Uploads and downloads are streamed: neither reads nor holds a whole file in memory (except a
 * download into a memory buffer, which the caller asks for explicitly).
 *
 * Thread: every function here uses the client's thread (see client.h).
 */
#ifndef ARGOT_FILES_H
#define ARGOT_FILES_H

#include "client.h"
#include "error.h"
#include "version.h"

#include <stddef.h>
#include <stdint.h>

ARGOT_BEGIN_DECLS

/** Value of a time field that is JSON null or absent (expires_at of most files). */
#define ARGOT_TIME_NULL (-1)

/** An OpenAI File object. */
typedef struct argot_file {
    char *id;             /**< "file-..." */
    char *object;         /**< "file" */
    int64_t bytes;        /**< size in bytes */
    int64_t created_at;   /**< Unix seconds */
    int64_t expires_at;   /**< Unix seconds, or ARGOT_TIME_NULL */
    char *filename;       /**< UTF-8 */
    char *purpose;        /**< any string: assistants, batch, fine-tune, vision, user_data, ... */
    char *status;         /**< "uploaded", "processed" or "error"; NULL when absent */
    char *status_details; /**< NULL when JSON null or absent (the usual case) */
    char *json;           /**< this object as JSON, as the server sent it (whole body) or
                               re-serialised in the server's key order (list items) */
} argot_file;

/**
 * Frees a file returned by argot_files_create_file() or argot_files_retrieve_file(). NULL is
 * ignored. Do not call it on the items of an argot_file_list.
 * Thread: any thread.
 */
ARGOT_API void argot_file_free(argot_file *file);

/* ---------------------------------------------------------------------------------------- */
/* List                                                                                       */

/** Sort order of a listing (by created_at). */
typedef enum argot_order {
    ARGOT_ORDER_DEFAULT = 0, /**< do not send `order` (the server's default is desc) */
    ARGOT_ORDER_ASC = 1,
    ARGOT_ORDER_DESC = 2
} argot_order;

/** Request of argot_files_list_files(). */
typedef struct argot_list_files_request {
    unsigned version;    /**< ARGOT_LIST_FILES_REQUEST_VERSION */
    const char *purpose; /**< filter, or NULL */
    int limit;           /**< 1..10000, or 0 to not send it (server default 10000) */
    argot_order order;   /**< ARGOT_ORDER_DEFAULT sends nothing */
    const char *after;   /**< cursor: a file id, or NULL */
} argot_list_files_request;

#define ARGOT_LIST_FILES_REQUEST_VERSION 1
#define ARGOT_LIST_FILES_REQUEST_INIT                                                              \
    {                                                                                              \
        ARGOT_LIST_FILES_REQUEST_VERSION, NULL, 0, ARGOT_ORDER_DEFAULT, NULL                       \
    }

/** One page of files. */
typedef struct argot_file_list {
    argot_file *data; /**< count items; owned by the list */
    size_t count;
    char *first_id; /**< NULL when null or absent */
    char *last_id;  /**< NULL when null or absent */
    int has_more;   /**< 0 when false or absent */
    char *json;     /**< the response body as sent */
} argot_file_list;

/**
 * GET /files: returns one page (the raw single-page call).
 *
 * @param out receives the page; NULL on failure.
 * @param client the client.
 * @param req the query; NULL lists with the server's defaults.
 * @param opts per-request options or NULL.
 * @return ARGOT_OK; ARGOT_E_INVALID (NULL out/client, limit outside 0..10000, unknown version);
 *         an HTTP, network, timeout or protocol status (see error.h).
 * Ownership: req is borrowed for the call; *out belongs to the caller, free it with
 * argot_file_list_free().
 * Thread: the client's thread.
 */
ARGOT_API ARGOT_NODISCARD argot_status argot_files_list_files(argot_file_list **out,
                                                              argot_client *client,
                                                              const argot_list_files_request *req,
                                                              const argot_request_options *opts);

/** Frees a page. NULL is ignored. Thread: any thread. */
ARGOT_API void argot_file_list_free(argot_file_list *list);

/** An iterator over every file of a listing, fetching pages as needed. */
typedef struct argot_file_iter argot_file_iter;

/**
 * Creates an iterator over all pages of a listing. Nothing is fetched until the first
 * argot_file_iter_next(). Each next page is requested with `after` = id of the last item of
 * the previous page (as the official SDKs do), the other parameters unchanged; paging stops when
 * `has_more` is false or a page is empty.
 *
 * @param out receives the iterator.
 * @param client the client; it must outlive the iterator.
 * @param req the query of the first page, or NULL; copied.
 * @param opts per-request options for every page, or NULL; copied (headers included).
 * @return ARGOT_OK, ARGOT_E_INVALID, ARGOT_E_NOMEM.
 * Ownership: free the iterator with argot_file_iter_free().
 * Thread: the client's thread.
 */
ARGOT_API ARGOT_NODISCARD argot_status
argot_files_list_iter_new(argot_file_iter **out,
                          argot_client *client,
                          const argot_list_files_request *req,
                          const argot_request_options *opts);

/**
 * Returns the next file, fetching the next page when the current one is used up.
 *
 * @param out receives the next file, or NULL when the listing is finished.
 * @param iter the iterator.
 * @return ARGOT_OK (check *out for the end), or the status of a failed page request; the
 *         iterator may be called again after a failure to retry that page.
 * Ownership: *out is borrowed from the iterator until the next call or argot_file_iter_free().
 * Thread: the client's thread.
 */
ARGOT_API ARGOT_NODISCARD argot_status argot_file_iter_next(const argot_file **out,
                                                            argot_file_iter *iter);

/** Number of pages fetched so far by the iterator. Thread: the client's thread. */
ARGOT_API unsigned argot_file_iter_pages(const argot_file_iter *iter);

/** Frees an iterator. NULL is ignored. Thread: the client's thread. */
ARGOT_API void argot_file_iter_free(argot_file_iter *iter);

/* ---------------------------------------------------------------------------------------- */
/* Create (upload)                                                                            */

/** Progress callback: done and total bytes (total 0 when unknown). Non-zero aborts the call
 *  with ARGOT_E_ABORTED. Called at least once at the end of a successful transfer. */
typedef int (*argot_progress_fn)(uint64_t done, uint64_t total, void *userdata);

/** Read callback of an upload: fill up to len bytes of buf; return the count, 0 at the end,
 *  or ARGOT_READ_ERROR. */
typedef size_t (*argot_read_fn)(char *buf, size_t len, void *userdata);
#define ARGOT_READ_ERROR ((size_t)-1)
/** Rewind callback of an upload: go back to the first byte; return 0 on success. */
typedef int (*argot_rewind_fn)(void *userdata);

/** Where the bytes of an upload come from. */
typedef enum argot_source_kind {
    ARGOT_SOURCE_NONE = 0,
    ARGOT_SOURCE_PATH = 1,    /**< path: opened, streamed, closed */
    ARGOT_SOURCE_FD = 2,      /**< fd: read from its current offset; not closed */
    ARGOT_SOURCE_MEMORY = 3,  /**< data, len: borrowed for the call, not copied */
    ARGOT_SOURCE_CALLBACK = 4 /**< read (+ optional rewind), userdata, size */
} argot_source_kind;

/** Upload source. Only the members of the chosen kind are used. */
typedef struct argot_upload_source {
    argot_source_kind kind;
    const char *path;       /**< ARGOT_SOURCE_PATH */
    int fd;                 /**< ARGOT_SOURCE_FD */
    const void *data;       /**< ARGOT_SOURCE_MEMORY */
    size_t len;             /**< ARGOT_SOURCE_MEMORY */
    argot_read_fn read;     /**< ARGOT_SOURCE_CALLBACK */
    argot_rewind_fn rewind; /**< ARGOT_SOURCE_CALLBACK; NULL: no retry after bytes were sent */
    void *userdata;         /**< ARGOT_SOURCE_CALLBACK */
    int64_t size;           /**< ARGOT_SOURCE_CALLBACK and non-regular FD: byte count, or -1
                                 when unknown (the body is then sent chunked) */
} argot_upload_source;

/** Request of argot_files_create_file(). */
typedef struct argot_create_file_request {
    unsigned version;           /**< ARGOT_CREATE_FILE_REQUEST_VERSION */
    argot_upload_source file;   /**< the content */
    const char *purpose;        /**< required; any string, sent as is */
    const char *filename;       /**< NULL: basename of path, else "upload" */
    int64_t expires_after;      /**< seconds after created_at (3600..2592000); 0: not sent */
    argot_progress_fn progress; /**< optional */
    void *progress_userdata;    /**< passed to progress */
} argot_create_file_request;

#define ARGOT_CREATE_FILE_REQUEST_VERSION 1
#define ARGOT_CREATE_FILE_REQUEST_INIT                                                             \
    {                                                                                              \
        ARGOT_CREATE_FILE_REQUEST_VERSION,                                                         \
            {ARGOT_SOURCE_NONE, NULL, -1, NULL, 0, NULL, NULL, NULL, -1}, NULL, NULL, 0, NULL,     \
            NULL                                                                                   \
    }

/**
 * POST /files: uploads a file as multipart/form-data (fields `purpose`, `file`, and
 * `expires_after[anchor]=created_at` + `expires_after[seconds]` when expires_after is set).
 * The body is streamed from the source; before a retry the source is rewound (path, memory,
 * seekable fd, callback with rewind); a source that cannot be rewound is not retried once its
 * bytes started to go out.
 *
 * @param out receives the created file; NULL on failure.
 * @param client the client.
 * @param req the request; file and purpose are required.
 * @param opts per-request options or NULL.
 * @return ARGOT_OK; ARGOT_E_INVALID (missing source or purpose, expires_after < 0);
 *         ARGOT_E_IO (the source cannot be opened or read; see os_errno); ARGOT_E_ABORTED
 *         (progress or read callback); HTTP, network, timeout or protocol statuses.
 * Ownership: req and everything it points to is borrowed for the duration of the call; *out
 * belongs to the caller, free it with argot_file_free().
 * Thread: the client's thread; callbacks run on it.
 */
ARGOT_API ARGOT_NODISCARD argot_status argot_files_create_file(argot_file **out,
                                                               argot_client *client,
                                                               const argot_create_file_request *req,
                                                               const argot_request_options *opts);

/* ---------------------------------------------------------------------------------------- */
/* Retrieve and delete                                                                        */

/** Request of argot_files_retrieve_file(). */
typedef struct argot_retrieve_file_request {
    unsigned version;    /**< ARGOT_RETRIEVE_FILE_REQUEST_VERSION */
    const char *file_id; /**< required */
} argot_retrieve_file_request;

#define ARGOT_RETRIEVE_FILE_REQUEST_VERSION 1
#define ARGOT_RETRIEVE_FILE_REQUEST_INIT                                                           \
    {                                                                                              \
        ARGOT_RETRIEVE_FILE_REQUEST_VERSION, NULL                                                  \
    }

/**
 * GET /files/{file_id}: returns a file's metadata.
 *
 * @param out receives the file; NULL on failure.
 * @param client the client.
 * @param req the request; file_id is required and must not be empty.
 * @param opts per-request options or NULL.
 * @return ARGOT_OK; ARGOT_E_INVALID; ARGOT_E_NOT_FOUND (no such file); other HTTP, network,
 *         timeout or protocol statuses.
 * Ownership: req is borrowed; free *out with argot_file_free().
 * Thread: the client's thread.
 */
ARGOT_API ARGOT_NODISCARD argot_status
argot_files_retrieve_file(argot_file **out,
                          argot_client *client,
                          const argot_retrieve_file_request *req,
                          const argot_request_options *opts);

/** Request of argot_files_delete_file(). */
typedef struct argot_delete_file_request {
    unsigned version;    /**< ARGOT_DELETE_FILE_REQUEST_VERSION */
    const char *file_id; /**< required */
} argot_delete_file_request;

#define ARGOT_DELETE_FILE_REQUEST_VERSION 1
#define ARGOT_DELETE_FILE_REQUEST_INIT                                                             \
    {                                                                                              \
        ARGOT_DELETE_FILE_REQUEST_VERSION, NULL                                                    \
    }

/** Result of a delete: {"object":"file","deleted":true,"id":"file-..."}. */
typedef struct argot_file_deleted {
    char *id;
    char *object;
    int deleted; /**< non-zero when the server says it deleted the file */
    char *json;  /**< the response body as sent */
} argot_file_deleted;

/**
 * DELETE /files/{file_id}.
 *
 * @param out receives the result; NULL on failure. May be NULL if the result is not wanted.
 * @param client the client.
 * @param req the request; file_id is required.
 * @param opts per-request options or NULL.
 * @return ARGOT_OK; ARGOT_E_INVALID; ARGOT_E_NOT_FOUND; other HTTP, network, timeout or
 *         protocol statuses.
 * Ownership: req is borrowed; free *out with argot_file_deleted_free().
 * Thread: the client's thread.
 */
ARGOT_API ARGOT_NODISCARD argot_status argot_files_delete_file(argot_file_deleted **out,
                                                               argot_client *client,
                                                               const argot_delete_file_request *req,
                                                               const argot_request_options *opts);

/** Frees a delete result. NULL is ignored. Thread: any thread. */
ARGOT_API void argot_file_deleted_free(argot_file_deleted *deleted);

/* ---------------------------------------------------------------------------------------- */
/* Download                                                                                   */

/** Write callback of a download: consume len bytes; return 0, or non-zero to abort. */
typedef int (*argot_write_fn)(const char *data, size_t len, void *userdata);

/** Where the bytes of a download go. */
typedef enum argot_sink_kind {
    ARGOT_SINK_BUFFER = 0,  /**< into argot_download.data (bounded by max_buffer) */
    ARGOT_SINK_PATH = 1,    /**< path: created/truncated when the first byte arrives, removed
                                 again if the download fails (a resume: see offset) */
    ARGOT_SINK_FD = 2,      /**< fd: written from its current offset; not closed */
    ARGOT_SINK_CALLBACK = 3 /**< write, userdata */
} argot_sink_kind;

/** Download destination. Only the members of the chosen kind are used. */
typedef struct argot_download_sink {
    argot_sink_kind kind;
    const char *path;     /**< ARGOT_SINK_PATH */
    int fd;               /**< ARGOT_SINK_FD */
    argot_write_fn write; /**< ARGOT_SINK_CALLBACK */
    void *userdata;       /**< ARGOT_SINK_CALLBACK */
    size_t max_buffer;    /**< ARGOT_SINK_BUFFER: refuse bodies above this (0: 512 MiB) */
} argot_download_sink;

/** Request of argot_files_download_file(). */
typedef struct argot_download_file_request {
    unsigned version;           /**< ARGOT_DOWNLOAD_FILE_REQUEST_VERSION (1 is still accepted:
                                     the fields from offset on are then their defaults) */
    const char *file_id;        /**< required */
    argot_download_sink sink;   /**< default: a memory buffer */
    argot_progress_fn progress; /**< optional; done and total count from byte 0 of the file, so
                                     a resumed download starts at offset */
    void *progress_userdata;    /**< passed to progress */
    /* Version 2. */
    uint64_t offset;         /**< first byte wanted (0: the whole file). Above 0 the download is a
                                  resume: the sink already holds bytes 0..offset-1 (see
                                  argot_files_download_file()) and `Range: bytes=offset-` is sent */
    int64_t length;          /**< bytes wanted from offset (`Range: bytes=offset-end`), or -1 (the
                                  default) for everything to the end of the file; 0 is invalid */
    const char *if_range;    /**< entity tag sent as If-Range with the Range (the etag of an
                                  earlier result, as it came), or NULL: the server then answers
                                  200 and the whole file if the file changed; borrowed */
    uint64_t max_recv_speed; /**< bytes per second the transfer may receive; 0: no limit */
} argot_download_file_request;

#define ARGOT_DOWNLOAD_FILE_REQUEST_VERSION 2
#define ARGOT_DOWNLOAD_FILE_REQUEST_INIT                                                           \
    {                                                                                              \
        ARGOT_DOWNLOAD_FILE_REQUEST_VERSION, NULL, {ARGOT_SINK_BUFFER, NULL, -1, NULL, NULL, 0},   \
            NULL, NULL, 0, -1, NULL, 0                                                             \
    }

/** Result of a download. */
typedef struct argot_download {
    char *data;         /**< ARGOT_SINK_BUFFER only: the bytes, NUL-terminated; else NULL */
    uint64_t bytes;     /**< bytes this call wrote to the sink, from `offset` on */
    char *content_type; /**< the response's Content-Type, or NULL */
    /* The members below are filled whatever the request's version. */
    uint64_t offset;      /**< the byte of the file the sink's new bytes start at: the request's
                               offset, or 0 when the server sent the whole file (restarted) */
    int64_t size;         /**< the file's size (from Content-Range, else the Content-Length of a
                               200), or -1 when the server did not say */
    char *etag;           /**< the last response's ETag as sent (quotes included), or NULL; pass it
                               as if_range to resume this download later */
    long http_status;     /**< 200 (the whole file), 206 (a range), or 416 with already_complete */
    int restarted;        /**< non-zero when the server answered a range with 200 and the whole
                               file (If-Range did not match, or it ignores Range): the sink was
                               started over at byte 0 and holds the whole file */
    int already_complete; /**< non-zero when an open-ended range started exactly at the end of
                               the file (HTTP 416 with that size): nothing was left to send,
                               the sink was not touched */
} argot_download;

/**
 * GET /files/{file_id}/content with `Accept: application/binary`: the raw bytes of a file, or
 * the part of them from req->offset (a resumed download) or req->offset..+length (a range).
 * Bytes reach the sink only for a 2xx response; error bodies are kept for
 * argot_client_last_error(). Nothing is held in memory but the bytes in flight (except with
 * ARGOT_SINK_BUFFER).
 *
 * **Resuming.** With offset > 0 the sink is taken to hold bytes 0..offset-1 already:
 * - ARGOT_SINK_PATH: path must be an existing regular file of at least offset bytes (checked
 *   before the request); when the first byte arrives it is cut to offset bytes and the new
 *   ones follow. It is never removed: a failed resume leaves what it wrote, ready for the next.
 * - ARGOT_SINK_FD: the fd's current position is where byte offset goes (usually its end).
 * - ARGOT_SINK_BUFFER, ARGOT_SINK_CALLBACK: get the bytes from offset on.
 *
 * The answer decides what the sink ends up with (see the result's members):
 * - 206: the bytes asked for, checked against Content-Range (a different start is
 *   ARGOT_E_PROTOCOL and nothing is written).
 * - 200 to a Range (If-Range did not match: the file changed; or the server ignores Range, as
 *   api.openai.com does): the sink is started over at byte 0 (a path or a seekable fd is
 *   truncated there: the fd's position less offset; a buffer is emptied) and gets the whole
 *   file; result restarted = 1, offset = 0. A callback sink or a pipe that already holds bytes
 *   cannot start over: ARGOT_E_RANGE (http_status 200) before any byte is written.
 * - 416 to an open-ended range (length -1) that starts exactly at the end of the file (the
 *   416's Content-Range gives a size equal to the first byte asked for): ARGOT_OK with
 * already_complete = 1, bytes 0, size set; the sink is untouched. Any other 416 (offset past the
 * end, or a bounded range outside the file) is ARGOT_E_RANGE, with the server's error in
 * argot_client_last_error().
 *
 * **Retries.** A failed attempt is retried by the client's policy. When it broke after bytes
 * arrived, the retry resumes from the first missing byte (`Range`, and `If-Range` with the
 * strong ETag of the response that delivered them, else with req->if_range when that
 * response had no ETag), so a callback sink or a pipe can be retried too; the rules above
 * then apply to the retry's answer. Without such a validator (a weak or no ETag, and no
 * if_range) the retry starts over from offset, which only a buffer, a path, a seekable fd or
 * a callback that has received nothing can do; other sinks are not retried.
 *
 * @param out receives the result; may be NULL unless the sink is ARGOT_SINK_BUFFER.
 * @param client the client.
 * @param req the request; file_id is required.
 * @param opts per-request options or NULL.
 * @return ARGOT_OK; ARGOT_E_INVALID (no file_id, length 0, a resume path shorter than
 *         offset or not a regular file, unknown version); ARGOT_E_NOT_FOUND;
 *         ARGOT_E_RANGE (see above); ARGOT_E_TOO_LARGE (over max_buffer); ARGOT_E_IO
 *         (writing failed; see os_errno); ARGOT_E_ABORTED; ARGOT_E_PROTOCOL (a 206 that is
 *         not the range asked for); other HTTP, network, timeout or protocol statuses.
 * Ownership: req is borrowed; free *out with argot_download_free().
 * Thread: the client's thread; callbacks run on it.
 */
ARGOT_API ARGOT_NODISCARD argot_status
argot_files_download_file(argot_download **out,
                          argot_client *client,
                          const argot_download_file_request *req,
                          const argot_request_options *opts);

/** Frees a download result. NULL is ignored. Thread: any thread. */
ARGOT_API void argot_download_free(argot_download *download);

ARGOT_END_DECLS

#endif
