/*
 * GET /v1/argot/usage (an Argot extension, docs/compatibility.md): the caller's organization's
 * storage use and the limits an upload meets, so a client (the web console) can choose between
 * one request and the Uploads API and show how much of the quota is left. Read-only.
 *
 * Under /v1/argot/ because the OpenAI API never uses that prefix; its own usage reports live
 * under /v1/organization/usage/..., which this must not shadow.
 */
#include <string.h>

#include "server/api/api.h"
#include "server/api/routes.h"

static int put_i64(argot_buf *b, const char *key, int64_t v)
{
    return argot_buf_printf(b, ",\"%s\":%lld", key, (long long)v);
}

static void end(http_req *r)
{
    const cfg *c = r->app->cfg;
    int64_t used, reserved, files = -1;
    st_err e = ST_ERR_INIT;
    int rc = store_org_usage(r->app->store, r->org, &used, &reserved, &files, &e);
    if (rc != ST_OK) {
        api_reply_store(r, &e, "org usage");
        return;
    }
    argot_buf b = ARGOT_BUF_INIT(1024);
    rc = argot_buf_puts(&b, "{\"object\":\"argot.usage\",\"organization\":");
    rc = rc ? rc : argot_buf_put_json_str(&b, r->org, strlen(r->org));
    rc = rc ? rc : put_i64(&b, "used_bytes", used);
    rc = rc ? rc : put_i64(&b, "reserved_bytes", reserved);
    rc = rc ? rc : put_i64(&b, "quota_bytes", c->max_org_bytes);
    if (!rc && files >= 0)
        rc = put_i64(&b, "file_count", files);
    else if (!rc)
        rc = argot_buf_puts(&b, ",\"file_count\":null"); /* a store that cannot count */
    rc = rc ? rc : put_i64(&b, "max_file_bytes", c->max_file_bytes);
    rc = rc ? rc : put_i64(&b, "max_upload_bytes", c->max_upload_bytes);
    rc = rc ? rc : put_i64(&b, "max_part_bytes", c->max_part_bytes);
    rc = rc ? rc : put_i64(&b, "max_batch_bytes", c->max_batch_bytes);
    rc = rc ? rc : argot_buf_putc(&b, '}');
    if (rc) {
        argot_buf_free(&b);
        http_reply_internal(r, "usage json");
        return;
    }
    http_reply_json(r, 200, &b);
}

const route_ops api_argot_usage = {ROUTE_ARGOT_USAGE, "argot.usage", 1, NULL, NULL, end, NULL};
