/* The S3 client's error record and retry rule: see s3_client.h. */
#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "server/blob/s3/s3_client.h"

void s3_error_clear(s3_error *e)
{
    if (e)
        memset(e, 0, sizeof *e);
}

s3_status s3_error_set(s3_error *e, s3_status code, int retryable, const char *fmt, ...)
{
    va_list ap;
    if (!e || e->code != S3_OK || code == S3_OK)
        return code;
    e->code = code;
    e->retryable = retryable;
    va_start(ap, fmt);
    (void)vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    return code;
}

const char *s3_status_str(s3_status code)
{
    static const char *const names[] = {
        "ok",
        "invalid argument",
        "out of memory",
        "not found",
        "access denied",
        "network error",
        "server error",
        "protocol error",
        "request refused",
        "range not satisfiable",
        "memory budget exhausted",
        "aborted by the caller",
        "bad writer state",
    };
    int i = -(int)code;
    if (i < 0 || (size_t)i >= sizeof names / sizeof names[0])
        return "unknown error";
    return names[i];
}

static int retryable_curl(int cc)
{
    switch (cc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SEND_FAIL_REWIND: /* the connection died and a streamed body cannot restart */
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return 1;
    default:
        return 0;
    }
}

int s3_retryable(long http_status, const char *s3_code, int curl_code)
{
    /* RequestTimeTooSkewed is not here: the same clock would sign the same stale date. */
    static const char *const codes[] = {"SlowDown",       "InternalError", "ServiceUnavailable",
                                        "RequestTimeout", "Throttling",    "ThrottlingException"};
    if (curl_code != 0)
        return retryable_curl(curl_code);
    if (s3_code && s3_code[0]) {
        for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
            if (strcmp(s3_code, codes[i]) == 0)
                return 1;
    }
    return http_status >= 500 || http_status == 429;
}
