#include "server/metrics.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

static const int statuses[] = {200, 400, 401, 404, 405, 408, 409, 413, 415, 429, 500, 503, 507};
#define NSTATUS (sizeof statuses / sizeof statuses[0] + 1) /* + "other" */

static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                 0.25,   0.5,   1,      2.5,   5,    10,    30};
#define NBUCKETS (sizeof buckets / sizeof buckets[0])

typedef struct route_counters {
    atomic_uint_fast64_t requests[NSTATUS];
    atomic_uint_fast64_t latency[NBUCKETS + 1];
    atomic_uint_fast64_t latency_sum_us;
} route_counters;

struct metrics {
    const char *const *names;
    unsigned nroutes;
    atomic_uint_fast64_t bytes_in;
    atomic_uint_fast64_t bytes_out;
    route_counters routes[]; /* nroutes */
};

int metrics_new(metrics **out, const char *const *names, unsigned nroutes)
{
    *out = NULL;
    if (!names || nroutes == 0)
        return -1;
    metrics *m = calloc(1, sizeof *m + nroutes * sizeof m->routes[0]);
    if (!m)
        return -1;
    m->names = names;
    m->nroutes = nroutes;
    *out = m;
    return 0;
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
                    unsigned route,
                    int status,
                    uint64_t bytes_in,
                    uint64_t bytes_out,
                    int64_t duration_ns)
{
    if (!m)
        return;
    route_counters *rc = &m->routes[route < m->nroutes ? route : 0];
    atomic_fetch_add_explicit(&rc->requests[status_index(status)], 1, memory_order_relaxed);
    double secs = (double)duration_ns / 1e9;
    size_t b = 0;
    while (b < NBUCKETS && secs > buckets[b])
        b++;
    atomic_fetch_add_explicit(&rc->latency[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&rc->latency_sum_us, (uint64_t)(duration_ns / 1000),
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
    for (size_t r = 0; !rc && r < m->nroutes; r++)
        for (size_t s = 0; !rc && s < NSTATUS; s++) {
            uint64_t v = ld(&m->routes[r].requests[s]);
            if (!v)
                continue;
            char code[8];
            if (s < NSTATUS - 1)
                snprintf(code, sizeof code, "%d", statuses[s]);
            else
                snprintf(code, sizeof code, "other");
            rc = argot_buf_printf(o, "argot_http_requests_total{route=\"%s\",status=\"%s\"} %llu\n",
                                  m->names[r], code, (unsigned long long)v);
        }
    return rc;
}

static int render_latency(metrics *m, argot_buf *o)
{
    int rc = argot_buf_puts(o, "# HELP argot_http_request_duration_seconds Request latency.\n"
                               "# TYPE argot_http_request_duration_seconds histogram\n");
    for (size_t r = 0; !rc && r < m->nroutes; r++) {
        uint64_t cum = 0;
        for (size_t b = 0; !rc && b <= NBUCKETS; b++) {
            cum += ld(&m->routes[r].latency[b]);
            if (b < NBUCKETS)
                rc = argot_buf_printf(o,
                                      "argot_http_request_duration_seconds_bucket{route=\"%s\","
                                      "le=\"%g\"} %llu\n",
                                      m->names[r], buckets[b], (unsigned long long)cum);
            else
                rc = argot_buf_printf(o,
                                      "argot_http_request_duration_seconds_bucket{route=\"%s\","
                                      "le=\"+Inf\"} %llu\n"
                                      "argot_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
                                      "argot_http_request_duration_seconds_count{route=\"%s\"} "
                                      "%llu\n",
                                      m->names[r], (unsigned long long)cum, m->names[r],
                                      (double)ld(&m->routes[r].latency_sum_us) / 1e6, m->names[r],
                                      (unsigned long long)cum);
        }
    }
    return rc;
}

int metrics_render(metrics *m, int64_t files, int64_t bytes, argot_buf *o)
{
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
    if (!rc && files >= 0)
        rc = argot_buf_printf(o,
                              "# HELP argot_files_stored Files stored (all organizations).\n"
                              "# TYPE argot_files_stored gauge\nargot_files_stored %lld\n"
                              "# HELP argot_bytes_stored Bytes of stored files.\n"
                              "# TYPE argot_bytes_stored gauge\nargot_bytes_stored %lld\n",
                              (long long)files, (long long)bytes);
    return rc;
}
