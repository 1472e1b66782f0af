/* GET /v1/files/{file_id} */
#include "server/api/api.h"
#include "server/api/routes.h"

static void end(http_req *r)
{
    meta_file f;
    if (api_lookup_file(r, &f))
        return;
    argot_buf b = ARGOT_BUF_INIT(16384);
    if (api_file_json(&b, &f, api_profile_of(r))) {
        argot_buf_free(&b);
        http_reply_internal(r, "file json");
        return;
    }
    http_reply_json(r, 200, &b);
}

const route_ops api_files_retrieve = {
    ROUTE_FILES_RETRIEVE, "files.retrieve", 1, api_profile_begin, NULL, end, NULL};
