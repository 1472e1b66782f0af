/*
 * DELETE /v1/files/{file_id}: one transaction removes the row (leaving a cursor tombstone and a
 * blob tombstone) and lowers the organization's usage; the blob goes right after, or, if that
 * fails or the process dies first, when the garbage collector drains the blob tombstones.
 */
#include <string.h>

#include "server/api/api.h"
#include "server/api/routes.h"

static void end(http_req *r)
{
    meta_file f;
    st_err e = ST_ERR_INIT;
    if (store_file_delete(r->app->store, r->org, api_param(r), &f, &e)) {
        if (e.code == ST_E_NOTFOUND)
            http_reply_error(r, 404, "invalid_request_error", "id", NULL,
                             "No such File object: %s%s", r->param,
                             r->param_len >= sizeof r->param ? "..." : "");
        else
            api_reply_store(r, &e, "file delete");
        return;
    }
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
