/*
 * Retry policy: which attempts are retried and how long to wait. Pure functions, so the rules
 * are unit-tested without a network (tests/client/test_retry_policy.c).
 */
#include "client/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int argot__retryable_status(long s)
{
    return s == 408 || s == 409 || s == 429 || s >= 500;
}

argot_status argot__retry_validate(const argot_retry_config *cfg)
{
    if (cfg->version != ARGOT_RETRY_CONFIG_VERSION)
        return ARGOT_E_INVALID;
    if (cfg->strategy != ARGOT_RETRY_NONE && cfg->strategy != ARGOT_RETRY_BACKOFF)
        return ARGOT_E_INVALID;
    if (cfg->strategy == ARGOT_RETRY_BACKOFF && !(cfg->exponent >= 1.0 && cfg->exponent <= 100.0))
        return ARGOT_E_INVALID;
    return ARGOT_OK;
}

static int wants_retry(const argot_retry_config *cfg, const argot__attempt_info *ai)
{
    if (ai->http_status == 0)
        return ai->transport_retryable && cfg->retry_connection_errors;
    if (ai->should_retry >= 0)
        return ai->should_retry;
    return argot__retryable_status(ai->http_status);
}

static double backoff_ms(const argot_retry_config *cfg, unsigned retries_done, double rnd)
{
    double d = (double)cfg->initial_interval_ms * pow(cfg->exponent, (double)retries_done);
    if (d > (double)cfg->max_interval_ms)
        d = (double)cfg->max_interval_ms;
    return d * (1.0 - 0.25 * rnd);
}

int64_t argot__retry_delay(const argot_retry_config *cfg,
                           const argot__attempt_info *ai,
                           unsigned attempts_made,
                           uint64_t elapsed_ms,
                           double rnd)
{
    double delay;

    if (cfg->strategy != ARGOT_RETRY_BACKOFF)
        return -1;
    if (cfg->max_attempts != 0 && attempts_made >= cfg->max_attempts)
        return -1;
    if (!wants_retry(cfg, ai))
        return -1;
    if (ai->retry_after_ms >= 0 && ai->retry_after_ms <= ARGOT__RETRY_AFTER_CAP_MS)
        delay = ai->retry_after_ms;
    else
        delay = backoff_ms(cfg, attempts_made > 0 ? attempts_made - 1 : 0, rnd);
    if (cfg->max_elapsed_time_ms != 0 &&
        (double)elapsed_ms + delay > (double)cfg->max_elapsed_time_ms)
        return -1;
    return (int64_t)(delay + 0.5);
}

static double parse_number(const char *s)
{
    char *end;
    double v;

    while (*s == ' ' || *s == '\t')
        s++;
    if (*s == '\0')
        return -1;
    v = strtod(s, &end);
    while (*end == ' ' || *end == '\t')
        end++;
    if (*end != '\0' || !isfinite(v) || v < 0)
        return -1;
    return v;
}

double argot__parse_retry_after(const char *after_ms, const char *after, time_t now)
{
    double v;
    time_t when;

    if (after_ms != NULL) {
        v = parse_number(after_ms);
        if (v >= 0)
            return v;
    }
    if (after == NULL)
        return -1;
    v = parse_number(after);
    if (v >= 0)
        return v * 1000.0;
    when = curl_getdate(after, NULL);
    if (when == (time_t)-1)
        return -1;
    if (when <= now)
        return 0;
    return (double)(when - now) * 1000.0;
}
