/*
 * argot/error.h: status codes and error detail.
 *
 * Every libargot function that can fail returns an argot_status. The values are pinned: they
 * are part of the ABI and are never renumbered. Zero is success, failures are negative.
 *
 * The detail of the last call made on a client (HTTP status, response body, the parsed OpenAI
 * error, request id, transport error, attempts made) is read with argot_client_last_error()
 * (see client.h).
 */
#ifndef ARGOT_ERROR_H
#define ARGOT_ERROR_H

#include "version.h"

ARGOT_BEGIN_DECLS

/** Status codes. Values are pinned and never renumbered. */
typedef enum argot_status {
    ARGOT_OK = 0,           /**< success */
    ARGOT_E_NOMEM = -1,     /**< out of memory */
    ARGOT_E_INVALID = -2,   /**< invalid argument, rejected before anything was sent */
    ARGOT_E_NOT_FOUND = -3, /**< HTTP 404: no such file */
    ARGOT_E_CONFLICT = -4,  /**< HTTP 409 */
    ARGOT_E_TOO_LARGE = -5, /**< HTTP 413, or a response larger than the client accepts */
    ARGOT_E_AUTH = -6,      /**< HTTP 401 or 403: missing, wrong or revoked API key */
    ARGOT_E_HTTP = -7,      /**< any other HTTP error status (400, 422, 429, 5xx, ...) */
    ARGOT_E_NETWORK = -8,   /**< connection failed, reset or closed early; DNS; TLS */
    ARGOT_E_PROTOCOL = -9,  /**< the server answered something that is not the API */
    ARGOT_E_IO = -10,       /**< local I/O failed (reading the upload, writing the download) */
    ARGOT_E_TIMEOUT = -11,  /**< the request (one attempt) exceeded its timeout */
    ARGOT_E_ABORTED = -12,  /**< a caller callback asked to stop */
    ARGOT_E_RANGE = -13     /**< HTTP 416: the range asked for is outside the file; or the
                                 server sent the whole file to a sink that cannot start over */
} argot_status;

/** The lowest status value in use; lets callers loop over every code. */
#define ARGOT_STATUS_MIN ARGOT_E_RANGE

/**
 * Detail of the last call made on a client handle.
 *
 * Every string member is NULL when the information does not exist (no response, header absent,
 * body not an OpenAI error envelope, JSON null).
 */
typedef struct argot_error {
    argot_status status;           /**< what the call returned (ARGOT_OK after a success) */
    long http_status;              /**< HTTP status of the last response; 0 when none arrived */
    const char *content_type;      /**< Content-Type of the last response */
    const char *body;              /**< raw body of an error response (first 1 MiB), NUL-ended */
    unsigned long body_len;        /**< bytes in body */
    const char *type;              /**< OpenAI error "type", e.g. "invalid_request_error" */
    const char *code;              /**< OpenAI error "code", e.g. "invalid_api_key" */
    const char *param;             /**< OpenAI error "param", e.g. "purpose" */
    const char *message;           /**< OpenAI error "message" */
    const char *request_id;        /**< the response's x-request-id */
    int transport_code;            /**< libcurl CURLcode of the last attempt; 0 when none */
    const char *transport_message; /**< libcurl's message for transport_code */
    int os_errno;                  /**< errno of a failed local I/O operation; 0 when none */
    unsigned attempts;             /**< HTTP attempts made by the call, retries included */
    const char *summary;           /**< one human-readable line; never NULL */
} argot_error;

/**
 * Returns a short, static, English description of a status code ("not found", ...).
 *
 * @param status any value; unknown values give "unknown status".
 * @return a static string; never NULL.
 * Ownership: static storage, never free it.
 * Thread: any thread.
 */
ARGOT_API const char *argot_status_str(argot_status status);

ARGOT_END_DECLS

#endif
