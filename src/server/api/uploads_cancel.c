/* POST /v1/uploads/{upload_id}/cancel: one transaction marks the upload cancelled and drops its
 * parts (usage lowered); their blobs go after (a crash in between leaves orphans the sweeper
 * removes). */
#include <string.h>

#include "server/api/api.h"
#include "server/api/routes.h"
#include "server/api/uploads.h"

static void end(http_req *r)
{
    if (!api_param_is_id(r)) {
        api_reply_no_such_upload(r);
        return;
    }
    meta_store *m = r->app->meta;
    meta_upload u;
    int rc =
        m->ops->upload_cancel(m, r->org, r->param, app_now(r->app), &u, api_remove_blob_cb, r->app);
    if (rc == META_E_NOTFOUND) {
        api_reply_no_such_upload(r);
        return;
    }
    if (rc == META_E_STATE) {
        api_reply_upload_state(r, &u);
        return;
    }
    if (rc) {
        api_reply_store_error(r, rc, "upload_cancel");
        return;
    }
    api_reply_upload(r, &u, NULL);
}

const route_ops api_uploads_cancel = {
    ROUTE_UPLOADS_CANCEL, "uploads.cancel", 1, api_profile_begin, NULL, end, NULL};
