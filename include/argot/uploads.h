/*
 * argot/uploads.h: the Uploads API (/v1/uploads), for files larger than one request allows.
 *
 * An Upload is created with the final size, receives Parts (at most 64 MiB each, in any order
 * and in parallel), and is completed with the ordered list of Part ids, which turns it into an
 * ordinary File (the `file` member of the completed Upload). An Upload expires one hour after
 * creation; it may be cancelled before that.
 *
 * The four raw calls (argot_uploads_create, argot_uploads_add_part, argot_uploads_complete,
 * argot_uploads_cancel) follow the conventions of files.h: a request struct initialised with
 * its _INIT macro, optional argot_request_options, an argot_status, detail in
 * argot_client_last_error(), caller-owned results freed with the matching _free.
 *
 * argot_uploads_upload_file() does the whole dance for a path, sending parts over several
 * connections at once.
 *
 * THREADS. Every function here uses the client's thread (see client.h). The caller's client is
 * only ever touched by the calling thread, including inside argot_uploads_upload_file(): that
 * helper starts its own worker threads, each with its own private client (its own libcurl easy
 * handle and connection), and joins them before it returns. Its callbacks run on the calling
 * thread. argot_global_init() must have been called, as for every libargot call.
 */
#ifndef ARGOT_UPLOADS_H
#define ARGOT_UPLOADS_H

#include "client.h"
#include "error.h"
#include "files.h"
#include "version.h"

#include <stddef.h>
#include <stdint.h>

ARGOT_BEGIN_DECLS

/** The largest Part the API accepts, and the largest part size the helper uses: 64 MiB. */
#define ARGOT_UPLOAD_MAX_PART_SIZE ((uint64_t)64 * 1024 * 1024)
/** The helper's default part size: 64 MiB, as python's upload_file_chunked. */
#define ARGOT_UPLOAD_DEFAULT_PART_SIZE ARGOT_UPLOAD_MAX_PART_SIZE
/** The helper's default number of parallel connections. */
#define ARGOT_UPLOAD_DEFAULT_PARALLEL 4u
/** The most parallel connections the helper opens. */
#define ARGOT_UPLOAD_MAX_PARALLEL 64u

/** An Upload object. */
typedef struct argot_upload {
    char *id;           /**< "upload_..." */
    char *object;       /**< "upload" */
    int64_t bytes;      /**< the declared size */
    int64_t created_at; /**< Unix seconds */
    char *filename;     /**< UTF-8 */
    char *purpose;      /**< any string */
    char *status;       /**< "pending", "completed", "cancelled" or "expired" */
    int64_t expires_at; /**< Unix seconds, or ARGOT_TIME_NULL */
    argot_file *file;   /**< the File, when completed; NULL when the key is absent or null.
                             Its json member is the object re-serialised in the server's key
                             order. Owned by the upload. */
    char *json;         /**< this object as JSON, as the server sent it */
} argot_upload;

/**
 * Frees an upload (and its file). NULL is ignored.
 *
 * Thread: any thread.
 */
ARGOT_API void argot_upload_free(argot_upload *upload);

/** An UploadPart object. */
typedef struct argot_upload_part {
    char *id;           /**< "part_..." */
    char *object;       /**< "upload.part" */
    int64_t created_at; /**< Unix seconds */
    char *upload_id;    /**< the Upload it belongs to */
    char *json;         /**< this object as JSON, as the server sent it */
} argot_upload_part;

/**
 * Frees a part. NULL is ignored.
 *
 * Thread: any thread.
 */
ARGOT_API void argot_upload_part_free(argot_upload_part *part);

/* ---------------------------------------------------------------------------------------- */
/* Raw calls                                                                                  */

/** Request of argot_uploads_create(). */
typedef struct argot_create_upload_request {
    unsigned version;      /**< ARGOT_CREATE_UPLOAD_REQUEST_VERSION */
    const char *filename;  /**< required: the name of the resulting File */
    const char *purpose;   /**< required; any string, sent as is */
    int64_t bytes;         /**< required: the exact total of the parts, >= 0 */
    const char *mime_type; /**< required, e.g. "text/jsonl"; the server checks it fits purpose */
    int64_t expires_after; /**< seconds after created_at for the File (3600..2592000);
                                0: not sent */
} argot_create_upload_request;

#define ARGOT_CREATE_UPLOAD_REQUEST_VERSION 1
#define ARGOT_CREATE_UPLOAD_REQUEST_INIT                                                           \
    {                                                                                              \
        ARGOT_CREATE_UPLOAD_REQUEST_VERSION, NULL, NULL, -1, NULL, 0                               \
    }

/**
 * POST /uploads with a JSON body {filename, purpose, bytes, mime_type[, expires_after]}.
 *
 * @param out receives the pending Upload; NULL on failure.
 * @param client the client.
 * @param req the request; filename, purpose, bytes and mime_type are required.
 * @param opts per-request options or NULL.
 * @return ARGOT_OK; ARGOT_E_INVALID (missing field, bytes < 0, expires_after < 0); HTTP,
 *         network, timeout or protocol statuses.
 * Ownership: req is borrowed for the call; free *out with argot_upload_free().
 * Thread: the client's thread.
 */
ARGOT_API ARGOT_NODISCARD argot_status argot_uploads_create(argot_upload **out,
                                                            argot_client *client,
                                                            const argot_create_upload_request *req,
                                                            const argot_request_options *opts);

/** Request of argot_uploads_add_part(). */
typedef struct argot_add_upload_part_request {
    unsigned version;           /**< ARGOT_ADD_UPLOAD_PART_REQUEST_VERSION */
    const char *upload_id;      /**< required */
    argot_upload_source data;   /**< the part's bytes (any source kind of files.h) */
    uint64_t offset;            /**< PATH and FD: first byte of the part in the file */
    int64_t length;             /**< PATH and FD: part length; -1: up to the end of the file */
    argot_progress_fn progress; /**< optional; bytes of this part */
    void *progress_userdata;    /**< passed to progress */
} argot_add_upload_part_request;

#define ARGOT_ADD_UPLOAD_PART_REQUEST_VERSION 1
#define ARGOT_ADD_UPLOAD_PART_REQUEST_INIT                                                         \
    {                                                                                              \
        ARGOT_ADD_UPLOAD_PART_REQUEST_VERSION, NULL,                                               \
            {ARGOT_SOURCE_NONE, NULL, -1, NULL, 0, NULL, NULL, NULL, -1}, 0, -1, NULL, NULL        \
    }

/**
 * POST /uploads/{upload_id}/parts: sends one Part as multipart/form-data, field `data`.
 *
 * The body is streamed. With a PATH or FD source and an offset or a length, the bytes are read
 * with pread() from [offset, offset + length): the fd's file position is neither used nor
 * moved, so several threads may send parts of one fd at once (each with its own client). A
 * failed attempt is retried by the client's retry policy when the source can start over (path,
 * fd read with pread or seekable, memory, callback with rewind).
 *
 * @param out receives the Part; NULL on failure.
 * @param client the client.
 * @param req the request; upload_id and data are required.
 * @param opts per-request options or NULL.
 * @return ARGOT_OK; ARGOT_E_INVALID (missing id or source, range past the end of the file);
 *         ARGOT_E_IO (the source cannot be opened or read; see os_errno); ARGOT_E_ABORTED;
 *         HTTP, network, timeout or protocol statuses.
 * Ownership: req is borrowed for the call; free *out with argot_upload_part_free().
 * Thread: the client's thread; progress runs on it.
 */
ARGOT_API ARGOT_NODISCARD argot_status
argot_uploads_add_part(argot_upload_part **out,
                       argot_client *client,
                       const argot_add_upload_part_request *req,
                       const argot_request_options *opts);

/** Request of argot_uploads_complete(). */
typedef struct argot_complete_upload_request {
    unsigned version;            /**< ARGOT_COMPLETE_UPLOAD_REQUEST_VERSION */
    const char *upload_id;       /**< required */
    const char *const *part_ids; /**< the parts in file order; may be NULL when count is 0 */
    size_t part_count;           /**< entries in part_ids */
    const char *md5;             /**< optional: hex MD5 of the whole file; NULL: not sent */
} argot_complete_upload_request;

#define ARGOT_COMPLETE_UPLOAD_REQUEST_VERSION 1
#define ARGOT_COMPLETE_UPLOAD_REQUEST_INIT                                                         \
    {                                                                                              \
        ARGOT_COMPLETE_UPLOAD_REQUEST_VERSION, NULL, NULL, 0, NULL                                 \
    }

/**
 * POST /uploads/{upload_id}/complete with {"part_ids":[...][, "md5":"..."]}.
 *
 * @param out receives the completed Upload, whose file member is the new File; NULL on failure.
 * @param client the client.
 * @param req the request; upload_id is required.
 * @param opts per-request options or NULL.
 * @return ARGOT_OK; ARGOT_E_INVALID; ARGOT_E_NOT_FOUND; HTTP (e.g. 400 when the sizes or the
 *         md5 do not match), network, timeout or protocol statuses.
 * Ownership: req is borrowed for the call; free *out with argot_upload_free().
 * Thread: the client's thread.
 */
ARGOT_API ARGOT_NODISCARD argot_status
argot_uploads_complete(argot_upload **out,
                       argot_client *client,
                       const argot_complete_upload_request *req,
                       const argot_request_options *opts);

/** Request of argot_uploads_cancel(). */
typedef struct argot_cancel_upload_request {
    unsigned version;      /**< ARGOT_CANCEL_UPLOAD_REQUEST_VERSION */
    const char *upload_id; /**< required */
} argot_cancel_upload_request;

#define ARGOT_CANCEL_UPLOAD_REQUEST_VERSION 1
#define ARGOT_CANCEL_UPLOAD_REQUEST_INIT                                                           \
    {                                                                                              \
        ARGOT_CANCEL_UPLOAD_REQUEST_VERSION, NULL                                                  \
    }

/**
 * POST /uploads/{upload_id}/cancel (no body).
 *
 * @param out receives the cancelled Upload; NULL on failure. May be NULL if not wanted.
 * @param client the client.
 * @param req the request; upload_id is required.
 * @param opts per-request options or NULL.
 * @return ARGOT_OK; ARGOT_E_INVALID; ARGOT_E_NOT_FOUND; HTTP, network, timeout or protocol
 *         statuses.
 * Ownership: req is borrowed for the call; free *out with argot_upload_free().
 * Thread: the client's thread.
 */
ARGOT_API ARGOT_NODISCARD argot_status argot_uploads_cancel(argot_upload **out,
                                                            argot_client *client,
                                                            const argot_cancel_upload_request *req,
                                                            const argot_request_options *opts);

/* ---------------------------------------------------------------------------------------- */
/* The helper: a whole file in parallel parts                                                 */

/** Request of argot_uploads_upload_file(). */
typedef struct argot_upload_file_request {
    unsigned version;           /**< ARGOT_UPLOAD_FILE_REQUEST_VERSION */
    const char *path;           /**< required: a regular file */
    const char *purpose;        /**< required */
    const char *filename;       /**< NULL: the path's basename */
    const char *mime_type;      /**< NULL: guessed from the name's extension (.jsonl
                                     text/jsonl, .json, .txt, .csv, .pdf, ...), else
                                     application/octet-stream */
    int64_t expires_after;      /**< as in argot_create_upload_request; 0: not sent */
    uint64_t part_size;         /**< bytes per part; 0: ARGOT_UPLOAD_DEFAULT_PART_SIZE;
                                     at most ARGOT_UPLOAD_MAX_PART_SIZE */
    unsigned parallel;          /**< connections; 0: ARGOT_UPLOAD_DEFAULT_PARALLEL; at most
                                     ARGOT_UPLOAD_MAX_PARALLEL; never more than the parts */
    int no_md5;                 /**< non-zero: do not compute or send the md5 */
    argot_progress_fn progress; /**< optional: aggregate bytes sent over all connections,
                                     total = file size; non-zero aborts (ARGOT_E_ABORTED) */
    void *progress_userdata;    /**< passed to progress */
} argot_upload_file_request;

#define ARGOT_UPLOAD_FILE_REQUEST_VERSION 1
#define ARGOT_UPLOAD_FILE_REQUEST_INIT                                                             \
    {                                                                                              \
        ARGOT_UPLOAD_FILE_REQUEST_VERSION, NULL, NULL, NULL, NULL, 0, 0, 0u, 0, NULL, NULL         \
    }

/**
 * Uploads the file at req->path through the Uploads API: create, parts in parallel, complete.
 *
 * The file is cut into ceil(size / part_size) parts. `parallel` worker threads each own a
 * private client (a copy of client's configuration: key, URL, headers, timeout and retry
 * policy; no log callback) and so one libcurl easy handle and connection each; they take the
 * next unsent part from a shared counter and stream it with pread() from one shared read-only
 * fd, so memory stays bounded (a few curl buffers per connection) whatever the file size.
 * Each part is retried on its own by the retry policy (client's, or opts->retry); a part that
 * still fails stops the others, the Upload is cancelled (best effort) and the part's error is
 * returned. On success the Upload is completed with the part ids in file order.
 *
 * MD5: unless no_md5 is set, the calling thread reads the file sequentially once more while
 * the workers send (1 MiB reads, OpenSSL EVP MD5) and passes the hex digest to complete; the
 * cost is one extra sequential read of the file (usually from the page cache) and about 1-2 s
 * of CPU per GiB on the calling thread, overlapped with the network transfer.
 *
 * Progress runs on the calling thread about ten times a second with the bytes sent so far over
 * all connections (a retried part's bytes count again from zero), and once at the end.
 *
 * @param out receives the completed Upload; the new File is (*out)->file. NULL on failure.
 * @param client the client; used on the calling thread for create, complete and cancel, and
 *        holding the error detail afterwards (for a failed part: that part's last attempt).
 * @param req the request; path and purpose are required.
 * @param opts per-request options for every request or NULL; shared read-only with workers.
 * @return ARGOT_OK; ARGOT_E_INVALID (missing path or purpose, part_size or parallel out of
 *         range, not a regular file); ARGOT_E_IO (cannot open or read the file); ARGOT_E_NOMEM
 *         (also when a thread cannot be started); ARGOT_E_ABORTED (progress); the status of the
 *         first request that failed for good.
 * Ownership: req is borrowed for the call; free *out with argot_upload_free().
 * Thread: the client's thread; starts and joins its own threads; progress runs on the calling
 * thread.
 */
ARGOT_API ARGOT_NODISCARD argot_status
argot_uploads_upload_file(argot_upload **out,
                          argot_client *client,
                          const argot_upload_file_request *req,
                          const argot_request_options *opts);

/**
 * Guesses a MIME type from a file name's extension, as argot_uploads_upload_file() does.
 *
 * @param filename a name or path; NULL gives the default.
 * @return a static string, "application/octet-stream" when unknown; never NULL.
 * Thread: any thread.
 */
ARGOT_API const char *argot_mime_type_guess(const char *filename);

ARGOT_END_DECLS

#endif
