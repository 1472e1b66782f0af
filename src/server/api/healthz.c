/* GET /healthz: 200 when the metadata store answers; no authentication. */
#include "server/api/api.h"
#include "server/api/routes.h"

static void end(http_req *r)
{
    st_err e = ST_ERR_INIT;
    argot_buf b = ARGOT_BUF_INIT(64);
    if (store_health(r->app->store, &e) != ST_OK) {
        argot_buf_puts(&b, "{\"status\":\"unavailable\"}");
        http_reply_json(r, 503, &b);
        return;
    }
    argot_buf_puts(&b, "{\"status\":\"ok\"}");
    http_reply_json(r, 200, &b);
}

const route_ops api_healthz = {ROUTE_HEALTHZ, "healthz", 0, NULL, NULL, end, NULL};
