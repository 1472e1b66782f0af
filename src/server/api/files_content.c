/*
 * GET /v1/files/{file_id}/content: the raw bytes as application/octet-stream, whatever the
 * request's Accept, sent from the blob's file descriptor (sendfile, no user-space copy).
 * An fd opened before a concurrent delete still serves the whole file.
 */
#include <string.h>

#include "server/api/api.h"
#include "server/api/disposition.h"
#include "server/api/routes.h"

static int forbidden(const char *purpose)
{
    return !strcmp(purpose, "assistants") || !strcmp(purpose, "user_data");
}

static void end(http_req *r)
{
    meta_file f;
    if (api_lookup_file(r, &f))
        return;
    if (r->app->cfg->strict_download && forbidden(f.purpose)) {
        http_reply_invalid(r, NULL, NULL, "Not allowed to download files of purpose: %s",
                           f.purpose);
        return;
    }
    blob_store *bs = r->app->blob;
    blob_reader rd;
    int rc = bs->ops->open_read(bs, f.blob, &rd);
    if (rc == BLOB_E_NOTFOUND) { /* deleted between the lookup and the open */
        api_reply_no_such_file(r);
        return;
    }
    if (rc != BLOB_OK) {
        http_reply_internal(r, "blob open");
        return;
    }
    char cd[4 * META_FILENAME_MAX + 64];
    api_content_disposition(f.filename, cd, sizeof cd);
    http_add_header(r, "Content-Disposition", cd);
    http_reply_fd(r, 200, rd.fd, 0, rd.size);
}

const route_ops api_files_content = {
    ROUTE_FILES_CONTENT, "files.content", 1, NULL, NULL, end, NULL};
