/*
 * DELETE /v1/files/{file_id}: one transaction removes the row and lowers the organization's
 * usage; the blob goes after. A crash in between leaves an unreferenced blob that the sweeper
 * removes (it proves the blob unreferenced first).
 */
#include <string.h>

#include "server/api/api.h"
#include "server/api/routes.h"
#include "server/log.h"

static void end(http_req *r)
{
    if (!api_param_is_id(r)) {
        api_reply_no_such_file(r);
        return;
    }
    meta_store *m = r->app->meta;
    meta_file f;
    int rc = m->ops->file_delete(m, r->org, r->param, app_now(r->app), &f);
    if (rc == META_E_NOTFOUND) {
        api_reply_no_such_file(r);
        return;
    }
    if (rc != META_OK) {
        api_reply_store_error(r, rc, "file_delete");
        return;
    }
    blob_store *bs = r->app->blob;
    st_err e = ST_ERR_INIT;
    int brc = bs->ops->remove(bs, f.blob, &e);
    if (brc != ST_OK)
        LOG(LOG_WARN, "msg=\"blob remove failed; the sweeper will retry\" id=%s blob=%s rc=%d",
            r->request_id, f.blob, brc);
    argot_buf b = ARGOT_BUF_INIT(256);
    if (argot_buf_puts(&b, "{\"object\":\"file\",\"deleted\":true,\"id\":") ||
        argot_buf_put_json_str(&b, f.id, strlen(f.id)) || argot_buf_putc(&b, '}')) {
        argot_buf_free(&b);
        http_reply_internal(r, "delete json");
        return;
    }
    http_reply_json(r, 200, &b);
}

const route_ops api_files_delete = {
    ROUTE_FILES_DELETE, "files.delete", 1, api_profile_begin, NULL, end, NULL};
