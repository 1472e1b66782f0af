/*
 * argot/client.h: the client handle, its options, retries and request options.
 *
 * THREADS. One client handle may be used by one thread at a time; callers that share a handle
 * between threads must serialise its use themselves. Separate handles are fully independent
 * and may be used concurrently from different threads. libcurl needs a global initialisation:
 * call argot_global_init() once, before starting any thread that uses libargot, and
 * argot_global_cleanup() once at the very end. All callbacks run on the thread that made the
 * call, before the call returns.
 *
 * ERRORS. Functions return an argot_status (error.h). After any call that takes a client,
 * argot_client_last_error() describes what happened (HTTP status, body, OpenAI error, request
 * id, transport error, attempts), until the next call on that handle.
 *
 * OUTPUT. The library never prints and never aborts. Diagnostics go to the optional log
 * callback.
 */
#ifndef ARGOT_CLIENT_H
#define ARGOT_CLIENT_H

#include "error.h"
#include "version.h"

#include <stdint.h>

ARGOT_BEGIN_DECLS

/** An opaque client: configuration, one connection cache and the last error. */
typedef struct argot_client argot_client;

/** Default server URL when neither the options nor the environment give one. */
#define ARGOT_DEFAULT_BASE_URL "https://api.openai.com/v1"
/** Default per-attempt timeout: 600 s, as the official SDKs. */
#define ARGOT_DEFAULT_TIMEOUT_MS 600000L
/** A timeout value meaning "no time limit". */
#define ARGOT_TIMEOUT_NONE (-1L)

/** Retry strategies, named after the seed SDK's RetryConfig. */
typedef enum argot_retry_strategy {
    ARGOT_RETRY_NONE = 0,   /**< one attempt, never retry */
    ARGOT_RETRY_BACKOFF = 1 /**< retry with exponential backoff and jitter */
} argot_retry_strategy;

/**
 * Retry policy.
 *
 * An attempt is retried when the response carries `x-should-retry: true`, or (without that
 * header) when its status is 408, 409, 429 or >= 500, or when the connection failed or timed
 * out and retry_connection_errors is set. `x-should-retry: false` forbids the retry.
 *
 * The wait before retry n (n = 0 for the first retry) is `retry-after-ms` (milliseconds) or
 * else `retry-after` (seconds, or an HTTP date) when the server sent one between 0 and 60 s;
 * otherwise min(max_interval_ms, initial_interval_ms * exponent^n) less a random 0-25 % jitter.
 * No retry starts once max_elapsed_time_ms would be exceeded (counted from the first attempt)
 * or after max_attempts attempts; the last failure is then returned.
 */
typedef struct argot_retry_config {
    unsigned version;              /**< ARGOT_RETRY_CONFIG_VERSION */
    argot_retry_strategy strategy; /**< ARGOT_RETRY_NONE or ARGOT_RETRY_BACKOFF */
    uint32_t initial_interval_ms;  /**< first backoff interval; seed default 500 */
    uint32_t max_interval_ms;      /**< cap on one backoff interval; seed default 60000 */
    double exponent;               /**< growth factor per retry; seed default 1.5 */
    uint64_t max_elapsed_time_ms;  /**< no retry starts after this; seed default 3600000 */
    int retry_connection_errors;   /**< non-zero: retry connection failures and timeouts */
    unsigned max_attempts;         /**< attempts in total, first included; 0 = no limit */
} argot_retry_config;

#define ARGOT_RETRY_CONFIG_VERSION 1
/** The default policy: backoff with the seed's intervals, at most 3 attempts (2 retries). */
#define ARGOT_RETRY_CONFIG_INIT                                                                    \
    {                                                                                              \
        ARGOT_RETRY_CONFIG_VERSION, ARGOT_RETRY_BACKOFF, 500u, 60000u, 1.5, 3600000u, 1, 3u        \
    }

/** Log levels for the log callback, most severe first. */
typedef enum argot_log_level {
    ARGOT_LOG_NONE = 0,
    ARGOT_LOG_ERROR = 1,
    ARGOT_LOG_WARN = 2,
    ARGOT_LOG_INFO = 3,
    ARGOT_LOG_DEBUG = 4
} argot_log_level;

/**
 * Log callback. msg is one line without a newline, borrowed for the duration of the call.
 * API keys and file contents are never logged.
 */
typedef void (*argot_log_fn)(argot_log_level level, const char *msg, void *userdata);

/** Options for argot_client_new(). Initialise with ARGOT_CLIENT_OPTIONS_INIT. */
typedef struct argot_client_options {
    unsigned version;     /**< ARGOT_CLIENT_OPTIONS_VERSION */
    const char *api_key;  /**< NULL: $ARGOT_API_KEY, then $OPENAI_API_KEY; "" sends none */
    const char *base_url; /**< NULL: $ARGOT_BASE_URL, $OPENAI_BASE_URL, ARGOT_DEFAULT_BASE_URL */
    const char *organization;  /**< OpenAI-Organization header; NULL: $OPENAI_ORG_ID or none */
    const char *project;       /**< OpenAI-Project header; NULL: $OPENAI_PROJECT_ID or none */
    long timeout_ms;           /**< per attempt; 0: ARGOT_DEFAULT_TIMEOUT_MS; or TIMEOUT_NONE */
    argot_retry_config retry;  /**< default retry policy of every request */
    const char *user_agent;    /**< NULL: "argot-c/<version>" */
    argot_log_fn log;          /**< NULL: no logging */
    argot_log_level log_level; /**< most verbose level passed to log */
    void *log_userdata;        /**< passed to log */
} argot_client_options;

#define ARGOT_CLIENT_OPTIONS_VERSION 1
#define ARGOT_CLIENT_OPTIONS_INIT                                                                  \
    {                                                                                              \
        ARGOT_CLIENT_OPTIONS_VERSION, NULL, NULL, NULL, NULL, 0, ARGOT_RETRY_CONFIG_INIT, NULL,    \
            NULL, ARGOT_LOG_NONE, NULL                                                             \
    }

/**
 * Per-request options, the C counterpart of the seed's RequestOptions. Pass NULL to a call for
 * the client's defaults. Initialise with ARGOT_REQUEST_OPTIONS_INIT.
 */
typedef struct argot_request_options {
    unsigned version;                /**< ARGOT_REQUEST_OPTIONS_VERSION */
    const char *const *headers;      /**< NULL-terminated "Name: value" lines, or NULL */
    const argot_retry_config *retry; /**< overrides the client's policy; NULL: inherit */
    long timeout_ms;                 /**< 0: inherit; >0: ms per attempt; ARGOT_TIMEOUT_NONE */
} argot_request_options;

#define ARGOT_REQUEST_OPTIONS_VERSION 1
#define ARGOT_REQUEST_OPTIONS_INIT                                                                 \
    {                                                                                              \
        ARGOT_REQUEST_OPTIONS_VERSION, NULL, NULL, 0                                               \
    }

/**
 * Initialises libcurl and the library's random source. Call once per process, before any
 * other libargot function and before starting threads. Calling it more than once is harmless
 * if the calls do not race.
 *
 * @return ARGOT_OK, or ARGOT_E_NOMEM / ARGOT_E_NETWORK when libcurl cannot initialise.
 * Thread: main thread, before other threads exist.
 */
ARGOT_API ARGOT_NODISCARD argot_status argot_global_init(void);

/**
 * Releases what argot_global_init() set up. Call once at the end, after every client is freed.
 *
 * Thread: main thread, after other threads using libargot have finished.
 */
ARGOT_API void argot_global_cleanup(void);

/**
 * Creates a client.
 *
 * @param out receives the new client; set to NULL on failure.
 * @param opts options, or NULL for all defaults (keys and URLs from the environment).
 * @return ARGOT_OK; ARGOT_E_INVALID when out is NULL, opts->version is unknown, the URL is not
 *         http(s) or the retry policy is malformed; ARGOT_E_NOMEM.
 * Ownership: every string in opts is copied; the caller frees the client with
 * argot_client_free().
 * Thread: any thread; the new client then belongs to the calling thread until handed over.
 */
ARGOT_API ARGOT_NODISCARD argot_status argot_client_new(argot_client **out,
                                                        const argot_client_options *opts);

/**
 * Frees a client and closes its connections. NULL is accepted and ignored.
 *
 * Ownership: results returned by earlier calls stay valid; pointers from
 * argot_client_last_error() and argot_client_base_url() do not.
 * Thread: the thread that currently uses the client.
 */
ARGOT_API void argot_client_free(argot_client *client);

/**
 * Returns the detail of the last call made on client: status, HTTP status, body, the parsed
 * OpenAI error, x-request-id, transport error, attempts.
 *
 * @param client a client; NULL gives a static "invalid argument" record.
 * @return never NULL.
 * Ownership: borrowed from the client; valid until the next call on it or its free.
 * Thread: the thread that currently uses the client.
 */
ARGOT_API const argot_error *argot_client_last_error(const argot_client *client);

/**
 * Returns the effective server URL (after the environment fallbacks), without trailing '/'.
 *
 * Ownership: borrowed; valid until argot_client_free(). Thread: the client's thread.
 */
ARGOT_API const char *argot_client_base_url(const argot_client *client);

/**
 * Replaces the log callback (same meaning as the options' log, log_level, log_userdata).
 * Pass NULL cb to stop logging.
 *
 * Thread: the thread that currently uses the client.
 */
ARGOT_API void argot_client_set_log(argot_client *client,
                                    argot_log_level level,
                                    argot_log_fn cb,
                                    void *userdata);

ARGOT_END_DECLS

#endif
