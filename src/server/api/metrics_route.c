/* GET /metrics: Prometheus text format; off unless --metrics; no authentication. */
#include "server/api/api.h"
#include "server/api/routes.h"
#include "server/log.h"
#include "server/metrics.h"

static void end(http_req *r)
{
    argot_buf b = ARGOT_BUF_INIT(1 << 20);
    int64_t files, bytes;
    st_err e = ST_ERR_INIT;
    if (store_stats(r->app->store, &files, &bytes, &e)) /* the counters still go out */
        LOG(LOG_WARN, "msg=\"metrics: no storage stats\" id=%s message=\"%s\"", r->request_id,
            e.msg);
    if (metrics_render(r->app->metrics, files, bytes, &b)) {
        argot_buf_free(&b);
        http_reply_internal(r, "metrics render");
        return;
    }
    http_reply_text(r, 200, "text/plain; version=0.0.4", &b);
}

const route_ops api_metrics = {ROUTE_METRICS, "metrics", 0, NULL, NULL, end, NULL};
