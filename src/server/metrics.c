#include "server/metrics.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

static const char *const route_names[ROUTE_COUNT] = {
    "unknown",          "healthz",        "metrics",       "files.create",   "files.list",
    "files.retrieve",   "files.delete",   "files.content", "uploads.create", "uploads.parts",
    "uploads.complete", "uploads.cancel", "console.page",  "console.asset",  "argot.usage",
};

static const int statuses[] = {200, 400, 401, 404, 405, 408, 409, 413, 415, 429, 500, 503, 507};
#define NSTATUS (sizeof statuses / sizeof statuses[0] + 1) /* + "other" */

static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                 0.25,   0.5,   1,      2.5,   5,    10,    30};
#define NBUCKETS (sizeof buckets / sizeof buckets[0])

struct metrics {
    atomic_uint_fast64_t requests[ROUTE_COUNT][NSTATUS];
    atomic_uint_fast64_t latency[ROUTE_COUNT][NBUCKETS + 1];
    atomic_uint_fast64_t latency_sum_us[ROUTE_COUNT];
    atomic_uint_fast64_t bytes_in;
    atomic_uint_fast64_t bytes_out;
};

int metrics_new(metrics **out)
{
    *out = calloc(1, sizeof **out);
    return *out ? 0 : -1;
}

void metrics_free(metrics *m)
{
    free(m);
}

static size_t status_index(int status)
{
    for (size_t i = 0; i < NSTATUS - 1; i++)
        if (statuses[i] == status)
            return i;
    return NSTATUS - 1;
}

void metrics_record(metrics *m,
                    route_id route,
                    int status,
                    uint64_t bytes_in,
                    uint64_t bytes_out,
                    int64_t duration_ns)
{
    if (!m || (unsigned)route >= ROUTE_COUNT)
        return;
    atomic_fetch_add_explicit(&m->requests[route][status_index(status)], 1, memory_order_relaxed);
    double secs = (double)duration_ns / 1e9;
    size_t b = 0;
    while (b < NBUCKETS && secs > buckets[b])
        b++;
    atomic_fetch_add_explicit(&m->latency[route][b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->latency_sum_us[route], (uint64_t)(duration_ns / 1000),
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&m->bytes_in, bytes_in, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->bytes_out, bytes_out, memory_order_relaxed);
}

static uint64_t ld(atomic_uint_fast64_t *v)
{
    return atomic_load_explicit(v, memory_order_relaxed);
}

static int render_requests(metrics *m, argot_buf *o)
{
    int rc = argot_buf_puts(o, "# HELP argot_http_requests_total HTTP requests by route and "
                               "status.\n# TYPE argot_http_requests_total counter\n");
    for (size_t r = 0; !rc && r < ROUTE_COUNT; r++)
        for (size_t s = 0; !rc && s < NSTATUS; s++) {
            uint64_t v = ld(&m->requests[r][s]);
            if (!v)
                continue;
            char code[8];
            if (s < NSTATUS - 1)
                snprintf(code, sizeof code, "%d", statuses[s]);
            else
                snprintf(code, sizeof code, "other");
            rc = argot_buf_printf(o, "argot_http_requests_total{route=\"%s\",status=\"%s\"} %llu\n",
                                  route_names[r], code, (unsigned long long)v);
        }
    return rc;
}

static int render_latency(metrics *m, argot_buf *o)
{
    int rc = argot_buf_puts(o, "# HELP argot_http_request_duration_seconds Request latency.\n"
                               "# TYPE argot_http_request_duration_seconds histogram\n");
    for (size_t r = 0; !rc && r < ROUTE_COUNT; r++) {
        uint64_t cum = 0;
        for (size_t b = 0; !rc && b <= NBUCKETS; b++) {
            cum += ld(&m->latency[r][b]);
            if (b < NBUCKETS)
                rc = argot_buf_printf(o,
                                      "argot_http_request_duration_seconds_bucket{route=\"%s\","
                                      "le=\"%g\"} %llu\n",
                                      route_names[r], buckets[b], (unsigned long long)cum);
            else
                rc = argot_buf_printf(o,
                                      "argot_http_request_duration_seconds_bucket{route=\"%s\","
                                      "le=\"+Inf\"} %llu\n"
                                      "argot_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
                                      "argot_http_request_duration_seconds_count{route=\"%s\"} "
                                      "%llu\n",
                                      route_names[r], (unsigned long long)cum, route_names[r],
                                      (double)ld(&m->latency_sum_us[r]) / 1e6, route_names[r],
                                      (unsigned long long)cum);
        }
    }
    return rc;
}

int metrics_render(metrics *m, app *a, argot_buf *o)
{
    meta_stats st = {0, 0};
    st_err e = ST_ERR_INIT;
    int have_stats = a->meta->ops->stats(a->meta, &st, &e) == META_OK;
    int rc = render_requests(m, o);
    if (!rc)
        rc = render_latency(m, o);
    if (!rc)
        rc = argot_buf_printf(o,
                              "# HELP argot_http_received_bytes_total Request body bytes.\n"
                              "# TYPE argot_http_received_bytes_total counter\n"
                              "argot_http_received_bytes_total %llu\n"
                              "# HELP argot_http_sent_bytes_total Response body bytes.\n"
                              "# TYPE argot_http_sent_bytes_total counter\n"
                              "argot_http_sent_bytes_total %llu\n",
                              (unsigned long long)ld(&m->bytes_in),
                              (unsigned long long)ld(&m->bytes_out));
    if (!rc && have_stats)
        rc = argot_buf_printf(o,
                              "# HELP argot_files_stored Files stored (all organizations).\n"
                              "# TYPE argot_files_stored gauge\nargot_files_stored %lld\n"
                              "# HELP argot_bytes_stored Bytes of stored files.\n"
                              "# TYPE argot_bytes_stored gauge\nargot_bytes_stored %lld\n",
                              (long long)st.files, (long long)st.bytes);
    return rc;
}
