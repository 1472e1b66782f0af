/*
 * POST /v1/uploads: creates a pending Upload from a JSON body
 *   {"filename", "purpose", "bytes", "mime_type", "expires_after"?}.
 * The purpose's rules that depend only on these (known purpose, .jsonl for batch/fine-tune,
 * batch size, --max-upload-bytes) are checked now, so a client learns before sending gigabytes.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "server/api/api.h"
#include "server/api/routes.h"
#include "server/api/uploads.h"

#define CREATE_BODY_MAX (64 * 1024)

static int begin(http_req *r)
{
    if (api_profile_begin(r))
        return 1;
    return api_json_begin(r, CREATE_BODY_MAX);
}

static int validate(http_req *r, json_t *o, meta_upload *u)
{
    const char *filename, *purpose, *mime;
    const cfg *c = r->app->cfg;
    int64_t bytes;
    if (api_json_string(r, o, "filename", 1, &filename) ||
        api_json_string(r, o, "purpose", 1, &purpose) || api_json_int(r, o, "bytes", 1, &bytes) ||
        api_json_string(r, o, "mime_type", 1, &mime))
        return -1;
    const char *why = api_filename_problem(filename, strlen(filename));
    if (why)
        return http_reply_invalid(r, "filename", NULL, "Invalid 'filename': %s.", why), -1;
    if (!api_purpose_uploadable(purpose, strlen(purpose)))
        return api_reply_bad_purpose(r, purpose), -1;
    if (bytes < 0)
        return http_reply_invalid(r, "bytes", "integer_below_min_value",
                                  "Invalid 'bytes': integer below minimum value. Expected a value "
                                  ">= 0, but got %" PRId64 " instead.",
                                  bytes),
               -1;
    if (bytes > c->max_upload_bytes)
        return http_reply_invalid(r, "bytes", "integer_above_max_value",
                                  "Invalid 'bytes': integer above maximum value. Expected a value "
                                  "<= %" PRId64 ", but got %" PRId64 " instead.",
                                  c->max_upload_bytes, bytes),
               -1;
    if (!*mime || strlen(mime) >= META_MIME_MAX)
        return http_reply_invalid(r, "mime_type", NULL,
                                  "Invalid 'mime_type': expected a MIME type such as "
                                  "'text/jsonl' (1 to %d characters).",
                                  META_MIME_MAX - 1),
               -1;
    if (api_check_jsonl(r, purpose, filename))
        return -1;
    json_t *ea = json_object_get(o, "expires_after");
    if (ea && !json_is_null(ea) && api_expires_after_object(r, ea, &u->expires_after_seconds))
        return -1;
    snprintf(u->filename, sizeof u->filename, "%s", filename);
    snprintf(u->purpose, sizeof u->purpose, "%s", purpose);
    snprintf(u->mime_type, sizeof u->mime_type, "%s", mime);
    u->bytes = bytes;
    return 0;
}

static void end(http_req *r)
{
    json_t *o = api_json_object(r);
    if (!o)
        return;
    meta_upload u;
    memset(&u, 0, sizeof u);
    int bad = validate(r, o, &u);
    json_decref(o);
    if (bad)
        return;
    snprintf(u.org, sizeof u.org, "%s", r->org);
    st_err e = ST_ERR_INIT;
    if (store_upload_create(r->app->store, &u, &e)) /* the size rules, a fresh id */
        api_reply_store(r, &e, "upload create");
    else
        api_reply_upload(r, &u, NULL);
}

const route_ops api_uploads_create = {
    ROUTE_UPLOADS_CREATE, "uploads.create", 1, begin, api_json_body, end, api_json_cleanup};
