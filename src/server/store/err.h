/*
 * One error record for every call of the storage frontend and its backends (metadata and
 * blobs), in the spirit of curl's Curl_failf: the code says what kind of failure it is, the
 * message says what failed and is set where the failure is detected (the first failure wins,
 * so a caller further up never overwrites the cause with a vaguer one), the system or backend
 * code keeps the detail (errno, SQLite's extended code, an S3 HTTP status, ...), and the
 * retryable flag tells whether the same call may succeed if tried again (a lock, a lost
 * connection, a 503 of an object store). api/errors.c maps a record to one HTTP status and
 * OpenAI error, in one table, and logs it with the request id.
 *
 * Codes are negative (0 is success) and pinned: the metadata backends returned the same
 * values as META_E_* before this record existed.
 *
 * Thread: a record belongs to one call chain (one request), never shared.
 */
#ifndef ARGOT_SERVER_STORE_ERR_H
#define ARGOT_SERVER_STORE_ERR_H

#include <stddef.h>

typedef enum st_code {
    ST_OK = 0,
    ST_E_NOTFOUND = -1,
    ST_E_QUOTA = -2,        /* the organization's storage quota would be exceeded */
    ST_E_BUSY = -3,         /* a lock or a serialization conflict outlasted its wait: retryable */
    ST_E_IO = -4,           /* any other failure of the storage (I/O, corruption, protocol) */
    ST_E_INVALID = -5,      /* a malformed argument */
    ST_E_NOMEM = -6,        /* no memory */
    ST_E_CONFLICT = -7,     /* a unique id exists already */
    ST_E_STATE = -8,        /* the upload is not pending (completed, cancelled or expired) */
    ST_E_LIMIT = -9,        /* a size rule (the parts would exceed what the upload may hold) */
    ST_E_NOSPC = -10,       /* the storage is full */
    ST_E_UNAVAILABLE = -11, /* the backend cannot be reached (connection refused or lost) */
    ST_E_RESOURCES = -12,   /* out of descriptors or of a memory budget: retryable */
    ST_E_TOO_LARGE = -13,   /* a body or a file over a configured limit */
} st_code;

#define ST_MSG_MAX 256

typedef struct st_err {
    st_code code;
    int retryable;
    long sys;            /* errno, backend code or HTTP status; 0 if none */
    const char *backend; /* "sqlite", "local", "mem", "store", ... (static), or NULL */
    /* For a rule the client broke (INVALID, LIMIT, TOO_LARGE, QUOTA, STATE) set by the storage
     * frontend: msg is meant for the client, and param names the request field it is about
     * (static, or NULL). Backend messages are for the log. */
    const char *param;
    char msg[ST_MSG_MAX];
} st_err;

#define ST_ERR_INIT                                                                                \
    {                                                                                              \
        ST_OK, 0, 0, NULL, NULL,                                                                   \
        {                                                                                          \
            0                                                                                      \
        }                                                                                          \
    }

/* Records a failure unless e already holds one (the first wins) and returns code. e may be
 * NULL (then only code is returned). The retryable flag follows the code: BUSY, UNAVAILABLE
 * and RESOURCES are retryable; st_fail_retry sets it for any code. */
int st_fail(st_err *e, st_code code, const char *backend, long sys, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
int st_fail_retry(st_err *e, st_code code, const char *backend, long sys, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Maps an errno to a code (ENOSPC/EDQUOT: NOSPC, ENOMEM: NOMEM, EMFILE/ENFILE: RESOURCES,
 * ENOENT: NOTFOUND, else IO) and records "what: strerror". */
int st_fail_errno(st_err *e, int err, const char *backend, const char *what);
/* A rule the client broke, from the storage frontend: code, the request field, the message for
 * the client. */
int st_fail_client(st_err *e, st_code code, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void st_err_clear(st_err *e);
/* A short stable name of a code ("notfound", "quota", ...) for logs. */
const char *st_code_name(st_code code);

#endif
