/*
 * POST /v1/uploads/{upload_id}/parts: one part, the multipart field "data", streamed into its own
 * blob exactly like a file (api/ingest.c: intent, the quota rules, durable blob),
 * then one transaction: part row in, intent out, usage += bytes. Parts may arrive in parallel.
 *
 *   begin   the upload must exist and be pending (404/400 before the body is read); a declared
 *           Content-Length over --max-part-bytes (+ framing) is 413.
 *   body    "data" goes to the blob; other fields are skipped; framing is capped at 1 MiB.
 *   end     the part is committed (the store re-checks the upload's state and its total).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/api/api.h"
#include "server/api/ingest.h"
#include "server/api/routes.h"
#include "server/api/uploads.h"
#include "server/http/multipart.h"

#define NONDATA_MAX (1 << 20) /* body bytes that are not the part's data */

typedef struct part_req {
    mp_parser *mp;
    int in_data;   /* inside the "data" field */
    int seen_data; /* the "data" field was given */
    api_ingest g;
} part_req;

static part_req *P(http_req *r)
{
    return r->state;
}

static int reply_too_large(http_req *r, int64_t got)
{
    return http_reply_error(r, 413, "server_error", NULL, NULL,
                            "Maximum content size limit (%" PRId64 ") exceeded (%" PRId64
                            " bytes read)",
                            r->app->cfg->max_part_bytes, got);
}

static int on_part_begin(const mp_part_info *pi, void *ud)
{
    http_req *r = ud;
    part_req *p = P(r);
    p->in_data = strcmp(pi->name, "data") == 0;
    if (!p->in_data)
        return 0;
    if (p->seen_data)
        return http_reply_invalid(r, "data", NULL, "'data' was given more than once."), 1;
    p->seen_data = 1;
    return api_ingest_open(r, &p->g) ? 1 : 0;
}

static int on_part_data(const char *data, size_t len, void *ud)
{
    http_req *r = ud;
    part_req *p = P(r);
    if (!p->in_data)
        return 0;
    int64_t after = p->g.bytes + (int64_t)len;
    if (after > r->app->cfg->max_part_bytes)
        return reply_too_large(r, after), 1;
    return api_ingest_write(r, &p->g, data, len) ? 1 : 0;
}

static int on_part_end(void *ud)
{
    P((http_req *)ud)->in_data = 0;
    return 0;
}

static const mp_callbacks mp_cbs = {on_part_begin, on_part_data, on_part_end};

static int begin(http_req *r)
{
    const cfg *c = r->app->cfg;
    const char *ct = http_header(r, "Content-Type");
    char boundary[MP_BOUNDARY_MAX + 1];
    int64_t cl = http_content_length(r);
    meta_upload u;
    if (api_profile_begin(r) || api_lookup_pending_upload(r, &u))
        return 1;
    if (cl > c->max_part_bytes + NONDATA_MAX)
        return reply_too_large(r, cl), 1;
    if (!ct || mp_boundary_from_content_type(ct, boundary) != MP_OK)
        return http_reply_invalid(r, NULL, NULL,
                                  "Expected a multipart/form-data request body with a "
                                  "boundary (Content-Type: multipart/form-data; boundary=...)."),
               1;
    part_req *p = calloc(1, sizeof *p);
    if (!p)
        return http_reply_internal(r, "part alloc"), 1;
    r->state = p;
    mp_limits lim = MP_LIMITS_DEFAULT;
    if (mp_parser_new(&p->mp, boundary, &lim, &mp_cbs, r) != MP_OK)
        return http_reply_internal(r, "parser alloc"), 1;
    return api_ingest_reserve_declared(r, &p->g, cl, NONDATA_MAX) ? 1 : 0;
}

static int body(http_req *r, const char *data, size_t len)
{
    part_req *p = P(r);
    int rc = mp_parser_feed(p->mp, data, len);
    if (rc == MP_OK && !r->status && (int64_t)r->bytes_in - p->g.bytes > NONDATA_MAX)
        return http_reply_invalid(r, NULL, NULL,
                                  "The form data besides 'data' is larger than %d bytes.",
                                  NONDATA_MAX),
               1;
    if (rc == MP_OK || r->status)
        return 0;
    http_reply_invalid(r, NULL, NULL, "Invalid multipart body: %s", mp_parser_errmsg(p->mp));
    return 1;
}

static int commit(http_req *r, part_req *p, meta_part *part)
{
    meta_store *m = r->app->meta;
    int rc = META_E_CONFLICT;
    for (int attempt = 0; attempt < 4 && rc == META_E_CONFLICT; attempt++) {
        if (api_upload_id_new(part->id, "part_", part->created_at))
            return http_reply_internal(r, "part id"), -1;
        rc = m->ops->part_commit(m, part, app_now(r->app), r->app->cfg->max_org_bytes);
    }
    if (rc == META_OK) {
        p->g.committed = 1;
        return 0;
    }
    meta_upload u;
    if (rc == META_E_NOTFOUND || rc == META_E_STATE) /* cancelled, completed or expired meanwhile */
        return api_lookup_pending_upload(r, &u) ? -1 : (http_reply_internal(r, "part"), -1);
    if (rc == META_E_LIMIT) {
        if (api_lookup_upload(r, &u))
            return -1;
        return http_reply_invalid(r, "data", NULL,
                                  "Adding this part (%" PRId64 " bytes) would exceed the %" PRId64
                                  " bytes declared for Upload %s (parts may total at most "
                                  "twice that, so that lost parts can be sent again).",
                                  part->bytes, u.bytes, u.id),
               -1;
    }
    if (rc == META_E_QUOTA)
        return api_reply_quota(r), -1;
    return api_reply_store_error(r, rc, "part_commit"), -1;
}

static void end(http_req *r)
{
    part_req *p = P(r);
    if (mp_parser_finish(p->mp) != MP_OK) {
        http_reply_invalid(r, NULL, NULL, "Invalid multipart body: %s", mp_parser_errmsg(p->mp));
        return;
    }
    if (!p->seen_data) {
        http_reply_invalid(r, "data", NULL, "'data' is a required property");
        return;
    }
    if (api_ingest_quota(r, &p->g, p->g.bytes) || api_ingest_commit_blob(r, &p->g))
        return;
    meta_part part;
    memset(&part, 0, sizeof part);
    memcpy(part.upload_id, r->param, r->param_len + 1); /* an id: begin checked its length */
    snprintf(part.org, sizeof part.org, "%s", r->org);
    memcpy(part.blob, p->g.blob, sizeof part.blob);
    part.bytes = p->g.bytes;
    part.created_at = app_now(r->app);
    if (commit(r, p, &part))
        return;
    argot_buf b = ARGOT_BUF_INIT(1024);
    if (api_part_json(&b, &part)) {
        argot_buf_free(&b);
        {
            http_reply_internal(r, "part json");
            return;
        }
    }
    http_reply_json(r, 200, &b);
}

static void cleanup(http_req *r)
{
    part_req *p = P(r);
    if (!p)
        return;
    api_ingest_cleanup(r, &p->g);
    mp_parser_free(p->mp);
    free(p);
    r->state = NULL;
}

const route_ops api_uploads_parts = {
    ROUTE_UPLOADS_PARTS, "uploads.parts", 1, begin, body, end, cleanup};
