#include "server/api/routes.h"

#include "server/log.h"
#include "server/metrics.h"

int auth_resolve(http_req *r); /* auth.c */

static const http_route routes[] = {
    {HTTP_GET, "/healthz", &api_healthz},
    {HTTP_GET, "/v1/files", &api_files_list},
    {HTTP_POST, "/v1/files", &api_files_create},
    {HTTP_GET, "/v1/files/{file_id}", &api_files_retrieve},
    {HTTP_DELETE, "/v1/files/{file_id}", &api_files_delete},
    {HTTP_GET, "/v1/files/{file_id}/content", &api_files_content},
    {HTTP_POST, "/v1/uploads", &api_uploads_create},
    {HTTP_POST, "/v1/uploads/{upload_id}/parts", &api_uploads_parts},
    {HTTP_POST, "/v1/uploads/{upload_id}/complete", &api_uploads_complete},
    {HTTP_POST, "/v1/uploads/{upload_id}/cancel", &api_uploads_cancel},
    /* Argot's own endpoints live under /v1/argot/, a prefix the OpenAI API never uses. */
    {HTTP_GET, "/v1/argot/usage", &api_argot_usage},
    /* The web console: its page, and one asset per name below it (no deeper paths). */
    {HTTP_GET, "/", &api_console_page},
    {HTTP_GET, "/console", &api_console_page},
    {HTTP_GET, "/console/", &api_console_page},
    {HTTP_GET, "/console/{name}", &api_console_asset},
    {HTTP_GET, "/metrics", &api_metrics}, /* last: left out unless --metrics */
};

int api_router_new(http_router **out, int with_metrics)
{
    size_t n = sizeof routes / sizeof routes[0];
    return http_router_new(out, routes, with_metrics ? n : n - 1);
}

const char *const api_route_names[ROUTE_COUNT] = {
    "unknown",          "healthz",        "metrics",       "files.create",   "files.list",
    "files.retrieve",   "files.delete",   "files.content", "uploads.create", "uploads.parts",
    "uploads.complete", "uploads.cancel", "console.page",  "console.asset",  "argot.usage",
};

/* One access line per request (never the key: the organization is logged), and the metrics. */
static void request_done(http_req *r, const char *method, int completed, int64_t dur)
{
    int status = r->status ? r->status : 499; /* the client went away before any reply */
    LOG(LOG_INFO,
        "msg=request id=%s method=%s route=%s status=%d bytes_in=%llu bytes_out=%llu "
        "ms=%.3f org=%s%s",
        r->request_id, method, r->route ? r->route->name : "unknown", status,
        (unsigned long long)r->bytes_in, (unsigned long long)r->bytes_out, (double)dur / 1e6,
        r->org[0] ? r->org : "-", completed ? "" : " aborted=1");
    metrics_record(r->app->metrics, r->route ? (unsigned)r->route->id : ROUTE_UNKNOWN, status,
                   r->bytes_in, completed ? r->bytes_out : 0, dur);
}

void api_http_config(http_config *hc, app *a, const http_router *rt)
{
    const cfg *c = a->cfg;
    *hc = (http_config){
        .listen = c->listen,
        .host = c->listen_host,
        .port = c->listen_port,
        .threads = (int)c->threads,
        .max_connections = (int)c->max_connections,
        .idle_s = c->connection_timeout,
        .header_s = c->header_timeout,
        .linger_s = c->linger_timeout,
        .rate_window_s = c->body_rate_window,
        .min_body_rate = c->min_body_rate,
        .max_discard = c->max_discard_bytes,
        .max_head = c->max_head_bytes,
        .max_url = c->max_url_bytes,
        .max_headers = c->max_headers,
        .max_query_params = c->max_query_params,
        .router = rt,
        .app = a,
        .authenticate = auth_resolve,
        .request_done = request_done,
    };
}
