/*
 * POST /v1/uploads/{upload_id}/complete  {"part_ids": [...], "md5"?}
 *
 * The JSON body is read (bounded) and checked here; the store does the rest (store/uploads.c):
 * the parts resolved and checked, the file assembled from them, made durable, and swapped for
 * them in one transaction. Two requests racing on one upload get one 200 and the real
 * service's 400 for an upload no longer pending.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "server/api/api.h"
#include "server/api/routes.h"
#include "server/api/uploads.h"

#define COMPLETE_BODY_MAX (1 << 20) /* ~25 000 part ids */

static int begin(http_req *r)
{
    if (api_profile_begin(r))
        return 1;
    return api_json_begin(r, COMPLETE_BODY_MAX);
}

static int md5_valid(const char *s)
{
    if (strlen(s) != 32)
        return 0;
    for (const char *p = s; *p; p++)
        if (!strchr("0123456789abcdefABCDEF", *p))
            return 0;
    return 1;
}

/* part_ids as C strings (borrowed from o); replies 400 and returns NULL when malformed. */
static const char **part_ids(http_req *r, json_t *o, size_t *n)
{
    json_t *ids = json_object_get(o, "part_ids");
    if (!ids || json_is_null(ids))
        return http_reply_invalid(r, "part_ids", "missing_required_parameter",
                                  "Missing required parameter: 'part_ids'."),
               NULL;
    if (!json_is_array(ids))
        return http_reply_invalid(r, "part_ids", "invalid_type",
                                  "Invalid type for 'part_ids': expected an array."),
               NULL;
    *n = json_array_size(ids);
    const char **v = calloc(*n ? *n : 1, sizeof *v);
    if (!v)
        return http_reply_internal(r, "complete alloc"), NULL;
    for (size_t i = 0; i < *n; i++) {
        json_t *s = json_array_get(ids, i);
        if (!json_is_string(s)) {
            free(v);
            return http_reply_invalid(r, "part_ids", "invalid_type",
                                      "Invalid type for 'part_ids[%zu]': expected a string.", i),
                   NULL;
        }
        v[i] = json_string_value(s);
    }
    return v;
}

static void complete(http_req *r, json_t *o)
{
    const char *md5 = NULL;
    size_t n = 0;
    if (api_json_string(r, o, "md5", 0, &md5) < 0)
        return;
    if (md5 && *md5 && !md5_valid(md5)) {
        http_reply_invalid(r, "md5", NULL,
                           "Invalid 'md5': expected 32 hexadecimal digits (the MD5 of the whole "
                           "file).");
        return;
    }
    const char **ids = part_ids(r, o, &n);
    if (!ids)
        return;
    meta_upload u;
    meta_file f;
    st_err e = ST_ERR_INIT;
    int rc = store_upload_complete(r->app->store, r->org, api_param(r), ids, n, md5, &u, &f, &e);
    free(ids);
    if (rc == ST_OK) /* the purpose's rules were checked when the upload was created */
        api_reply_upload(r, &u, &f);
    else
        api_reply_upload_error(r, &e, "upload complete");
}

static void end(http_req *r)
{
    json_t *o = api_json_object(r);
    if (!o)
        return;
    complete(r, o);
    json_decref(o);
}

const route_ops api_uploads_complete = {
    ROUTE_UPLOADS_COMPLETE, "uploads.complete", 1, begin, api_json_body, end, api_json_cleanup};
