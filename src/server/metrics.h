/*
 * Prometheus counters, lock-free (relaxed atomics): requests by route and status, bytes in and
 * out, request latency histogram by route. Files and bytes stored are read from the metadata
 * store when /metrics is scraped.
 */
#ifndef ARGOT_SERVER_METRICS_H
#define ARGOT_SERVER_METRICS_H

#include <stdint.h>

#include "common/buf.h"
#include "server/api/routes.h"

typedef struct metrics metrics;

int metrics_new(metrics **out);
void metrics_free(metrics *m);
void metrics_record(metrics *m,
                    route_id route,
                    int status,
                    uint64_t bytes_in,
                    uint64_t bytes_out,
                    int64_t duration_ns);
/* Appends the text exposition format. */
int metrics_render(metrics *m, app *a, argot_buf *out);

#endif
