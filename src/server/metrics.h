/*
 * Prometheus counters, lock-free (relaxed atomics): requests by route and status, bytes in and
 * out, request latency histogram by route. Routes are indexes into the names given at
 * creation (api/routes.c has the table), so this file knows nothing of the API. Files and
 * bytes stored are the caller's to pass when /metrics is scraped.
 */
#ifndef ARGOT_SERVER_METRICS_H
#define ARGOT_SERVER_METRICS_H

#include <stdint.h>

#include "common/buf.h"

typedef struct metrics metrics;

/* names: nroutes route names (static), index 0 the one for requests of no known route. */
int metrics_new(metrics **out, const char *const *names, unsigned nroutes);
void metrics_free(metrics *m);
void metrics_record(metrics *m,
                    unsigned route,
                    int status,
                    uint64_t bytes_in,
                    uint64_t bytes_out,
                    int64_t duration_ns);
/* Appends the text exposition format; files and bytes stored are left out when files < 0. */
int metrics_render(metrics *m, int64_t files, int64_t bytes, argot_buf *out);

#endif
