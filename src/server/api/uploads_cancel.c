/* POST /v1/uploads/{upload_id}/cancel: one transaction marks the upload cancelled and drops its
 * parts (usage lowered, blob tombstones recorded); their blobs go right after, or later by the
 * garbage collector. */
#include <string.h>

#include "server/api/api.h"
#include "server/api/routes.h"
#include "server/api/uploads.h"

static void end(http_req *r)
{
    meta_upload u;
    st_err e = ST_ERR_INIT;
    if (store_upload_cancel(r->app->store, r->org, api_param(r), &u, &e))
        api_reply_upload_error(r, &e, "upload cancel");
    else
        api_reply_upload(r, &u, NULL);
}

const route_ops api_uploads_cancel = {
    ROUTE_UPLOADS_CANCEL, "uploads.cancel", 1, api_profile_begin, NULL, end, NULL};
