/* GET /v1/files/{file_id} */
#include "server/api/api.h"
#include "server/api/routes.h"

static void end(http_req *r)
{
    meta_file f;
    if (api_lookup_file(r, &f) == 0)
        api_reply_file(r, &f);
}

const route_ops api_files_retrieve = {
    ROUTE_FILES_RETRIEVE, "files.retrieve", 1, api_profile_begin, NULL, end, NULL};
