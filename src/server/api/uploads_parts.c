/*
 * POST /v1/uploads/{upload_id}/parts: one part, the multipart field "data", streamed into its
 * own blob exactly like a file (api/upload_form.c and the store's ingest: intent, the quota
 * rules, a durable blob), then one transaction: part row in, intent out, usage += bytes. Parts
 * may arrive in parallel.
 *
 *   begin   the upload must exist and be pending (404/400 before the body is read); a declared
 *           Content-Length over --max-part-bytes (+ framing) is 413.
 *   body    "data" goes to the blob; other fields are skipped; framing is capped at 1 MiB.
 *   end     the part is committed (the store re-checks the upload's state and its total).
 */
#include <stdlib.h>
#include <string.h>

#include "server/api/api.h"
#include "server/api/routes.h"
#include "server/api/upload_form.h"
#include "server/api/uploads.h"

static const upload_form_spec spec = {"data", STORE_INGEST_PART, {NULL}, NULL, NULL};

static int begin(http_req *r)
{
    meta_upload *u = malloc(sizeof *u);
    st_err e = ST_ERR_INIT;
    if (!u)
        return http_reply_internal(r, "part alloc"), 1;
    int rc = api_profile_begin(r);
    if (!rc && store_upload_accepts(r->app->store, r->org, api_param(r), u, &e)) {
        api_reply_upload_error(r, &e, "part begin");
        rc = 1;
    }
    if (!rc)
        rc = upload_form_begin(r, &spec, r->app->cfg->max_part_bytes, u);
    if (rc && !upload_form_of(r))
        free(u);
    return rc;
}

static void end(http_req *r)
{
    upload_form *f = upload_form_of(r);
    meta_part part;
    memset(&part, 0, sizeof part);
    st_err e = ST_ERR_INIT;
    if (upload_form_finish(r, f))
        return;
    if (store_ingest_part(upload_form_ingest(f), upload_form_ctx(f), &part, &e)) {
        api_reply_store(r, &e, "part commit");
        return;
    }
    argot_buf b = ARGOT_BUF_INIT(1024);
    if (api_part_json(&b, &part)) {
        argot_buf_free(&b);
        http_reply_internal(r, "part json");
        return;
    }
    http_reply_json(r, 200, &b);
}

static void cleanup(http_req *r)
{
    upload_form *f = upload_form_of(r);
    void *u = f ? upload_form_ctx(f) : NULL;
    upload_form_cleanup(r);
    free(u);
}

const route_ops api_uploads_parts = {
    ROUTE_UPLOADS_PARTS, "uploads.parts", 1, begin, upload_form_body, end, cleanup};
