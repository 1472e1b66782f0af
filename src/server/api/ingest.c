#include "server/api/ingest.h"

#include <errno.h>

#include "server/api/api.h"
#include "server/log.h"

int api_reply_quota(http_req *r)
{
    char lim[48];
    api_format_limit(r->app->cfg->max_org_bytes, lim, sizeof lim);
    return http_reply_invalid(r, NULL, NULL,
                              "You have exceeded your file storage quota. Organizations are "
                              "limited to %s of files. Please delete old files or attempt with a "
                              "smaller file size.",
                              lim);
}

int api_reply_blob_error(http_req *r, int rc, const char *what)
{
    if (rc == ST_E_NOSPC)
        return http_reply_error(r, 507, "server_error", NULL, NULL,
                                "The server has no storage space left for this file. Please "
                                "retry later or contact the operator.");
    LOG(LOG_ERROR, "msg=\"blob error\" id=%s what=%s rc=%d errno=%d", r->request_id, what, rc,
        errno);
    return http_reply_internal(r, what);
}

/* The intent names the blob before any byte of it exists (see meta.h). */
int api_ingest_intent(http_req *r, api_ingest *g)
{
    if (g->intent)
        return 0;
    if (blob_key_new(g->blob))
        return http_reply_internal(r, "blob key"), -1;
    meta_store *m = r->app->meta;
    int rc = m->ops->intent_open(m, r->org, g->blob, app_now(r->app));
    if (rc)
        return api_reply_store_error(r, rc, "intent_open"), -1;
    g->intent = 1;
    return 0;
}

/* used + reserved + add <= max, without overflow (all >= 0). */
static int fits(int64_t used, int64_t reserved, int64_t add, int64_t max)
{
    return used <= max && reserved <= max - used && add <= max - used - reserved;
}

/* For an upload holding no reservation: can need bytes fit beside what is used and what other
 * uploads hold now? Reads only; the commit decides. */
static int quota_check(http_req *r, api_ingest *g, int64_t need)
{
    meta_store *m = r->app->meta;
    int64_t used = 0, reserved = 0;
    int rc = m->ops->org_usage(m, r->org, &used, &reserved);
    if (rc)
        return api_reply_store_error(r, rc, "org_usage"), -1;
    g->checked = need;
    if (!fits(used, reserved, need, r->app->cfg->max_org_bytes))
        return api_reply_quota(r), -1;
    return 0;
}

int api_ingest_reserve_declared(http_req *r, api_ingest *g, int64_t cl, int64_t max_nondata)
{
    if (cl <= 0)
        return 0; /* chunked (or empty): no reservation, checked as bytes come */
    if (api_ingest_intent(r, g))
        return -1;
    meta_store *m = r->app->meta;
    int rc = m->ops->intent_reserve(m, g->blob, cl, r->app->cfg->max_org_bytes);
    if (rc == META_OK) {
        g->reserved = cl; /* the body cannot be longer: the quota can no longer refuse it */
        return 0;
    }
    if (rc != META_E_QUOTA)
        return api_reply_store_error(r, rc, "intent_reserve"), -1;
    /* Hold nothing (holding part of it could make an upload that fits fail); refuse now only
     * if even the smallest file this body can hold does not fit. */
    int64_t floor = cl - max_nondata;
    return floor > 0 ? quota_check(r, g, floor) : 0;
}

int api_ingest_open(http_req *r, api_ingest *g)
{
    if (api_ingest_intent(r, g))
        return -1;
    st_err e = ST_ERR_INIT;
    int rc = r->app->blob->ops->writer_open(r->app->blob, g->blob, &g->w, &e);
    if (rc)
        return api_reply_blob_error(r, rc, "writer_open"), -1;
    return 0;
}

int api_ingest_quota(http_req *r, api_ingest *g, int64_t need)
{
    return need <= g->reserved ? 0 : quota_check(r, g, need);
}

int api_ingest_write(http_req *r, api_ingest *g, const char *data, size_t len)
{
    int64_t after = g->bytes + (int64_t)len;
    /* Without a reservation: checked at the first bytes, then every API_QUOTA_CHECK_STEP. */
    if (after > g->reserved && (g->checked == 0 || after - g->checked >= API_QUOTA_CHECK_STEP) &&
        quota_check(r, g, after))
        return -1;
    st_err e = ST_ERR_INIT;
    int rc = blob_writer_write(g->w, data, len, &e);
    if (rc)
        return api_reply_blob_error(r, rc, "write"), -1;
    g->bytes = after;
    return 0;
}

int api_ingest_commit_blob(http_req *r, api_ingest *g)
{
    blob_writer *w = g->w;
    g->w = NULL; /* commit frees the writer, also on failure */
    st_err e = ST_ERR_INIT;
    int rc = blob_writer_commit(w, &e);
    if (rc)
        return api_reply_blob_error(r, rc, "commit"), -1;
    g->blob_committed = 1;
    return 0;
}

void api_ingest_cleanup(http_req *r, api_ingest *g)
{
    blob_writer_abort(g->w);
    g->w = NULL;
    if (!g->committed && g->blob_committed) {
        st_err e = ST_ERR_INIT;
        int rc = r->app->blob->ops->remove(r->app->blob, g->blob, &e);
        if (rc)
            LOG(LOG_WARN, "msg=\"cannot remove uncommitted blob\" blob=%s rc=%d", g->blob, rc);
    }
    if (!g->committed && g->intent)
        r->app->meta->ops->intent_drop(r->app->meta, g->blob);
    g->intent = g->blob_committed = 0;
}
