/*
 * GET /v1/files: one keyset page. `limit` 1..10000 (default 10000, as the real service),
 * `order` asc|desc (default desc), `after` a file id of the caller's organization, `purpose`
 * a free-form filter. Bad values are 400 with the parameter named. An empty page has null
 * first_id/last_id in the service profile (as the real service), "" in the spec profile (the
 * spec requires strings).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "server/api/api.h"
#include "server/api/list_params.h"
#include "server/api/routes.h"

/* 10000 files with long escaped names stay below this; typical pages are ~250 B a file. */
#define LIST_MAX_BODY (96u << 20)

typedef struct page {
    argot_buf b;
    api_profile profile;
    char first[META_ID_MAX];
    char last[META_ID_MAX];
    int n;
} page;

static int on_file(const meta_file *f, void *ud)
{
    page *p = ud;
    if (p->n++ && argot_buf_putc(&p->b, ','))
        return 1;
    if (p->n == 1)
        memcpy(p->first, f->id, sizeof p->first);
    memcpy(p->last, f->id, sizeof p->last);
    return api_file_json(&p->b, f, p->profile) ? 1 : 0;
}

static int finish(http_req *r, page *p, int has_more)
{
    int rc =
        argot_buf_printf(&p->b, "],\"has_more\":%s,\"first_id\":", has_more ? "true" : "false");
    if (p->n) {
        rc = rc ? rc : argot_buf_put_json_str(&p->b, p->first, strlen(p->first));
        rc = rc ? rc : argot_buf_puts(&p->b, ",\"last_id\":");
        rc = rc ? rc : argot_buf_put_json_str(&p->b, p->last, strlen(p->last));
    } else if (p->profile == API_PROFILE_SERVICE) {
        rc = rc ? rc : argot_buf_puts(&p->b, "null,\"last_id\":null");
    } else { /* the spec requires both, as strings: no id is the empty one */
        rc = rc ? rc : argot_buf_puts(&p->b, "\"\",\"last_id\":\"\"");
    }
    rc = rc ? rc : argot_buf_putc(&p->b, '}');
    return rc;
}

static void end(http_req *r)
{
    store_list_req q = {r->org, http_query(r, "purpose"), http_query(r, "after"), 1, 0};
    list_params lp;
    list_param_error err;
    size_t plen = 0;
    if (http_query_n(r, "purpose", &plen) && (plen == 0 || plen != strlen(q.purpose))) {
        /* empty, or with an encoded NUL: no purpose can look like that */
        http_reply_invalid(r, "purpose", "invalid_value",
                           "Invalid value for 'purpose': expected a non-empty string without NUL "
                           "characters.");
        return;
    }
    if (list_params_parse(http_query(r, "limit"), http_query(r, "order"), q.after, &lp, &err)) {
        http_reply_invalid(r, err.param, err.code, "%s", err.message);
        return;
    }
    q.limit = lp.limit;
    q.desc = lp.desc;
    page p = {ARGOT_BUF_INIT(LIST_MAX_BODY), api_profile_of(r), "", "", 0};
    /* Room for a typical page up front (~250 B a file, at most 256 KiB), instead of growing
     * through every power of two. */
    size_t guess = 128 + (size_t)q.limit * 256;
    int has_more = 0, rc = argot_buf_reserve(&p.b, guess < (256u << 10) ? guess : (256u << 10));
    rc = rc ? rc : argot_buf_puts(&p.b, "{\"object\":\"list\",\"data\":[");
    st_err e = ST_ERR_INIT;
    if (!rc)
        rc = store_file_list(r->app->store, &q, on_file, &p, &has_more, &e);
    if (rc || finish(r, &p, has_more)) {
        argot_buf_free(&p.b);
        if (e.code == ST_E_NOTFOUND) /* an unknown cursor: the request is at fault */
            http_reply_invalid(r, "after", NULL, "%s", e.msg);
        else if (rc < 0)
            api_reply_store(r, &e, "file list");
        else
            http_reply_internal(r, "list json");
        return;
    }
    http_reply_json(r, 200, &p.b);
}

const route_ops api_files_list = {
    ROUTE_FILES_LIST, "files.list", 1, api_profile_begin, NULL, end, NULL};
