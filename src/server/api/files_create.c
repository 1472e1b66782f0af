/*
 * POST /v1/files: a streaming multipart upload (see docs/architecture.md, "one upload").
 *
 *   begin   the form (api/upload_form.c): a boundary, a declared Content-Length within the
 *           limit, the quota rule for it; fields in any order;
 *   body    the file's bytes stream into the store (store_ingest), "purpose" is checked as
 *           soon as it is complete (a batch file has its own limit from then on);
 *   end     validate (purpose, .jsonl, expires_after), then the store makes the blob durable
 *           and commits the file row in one transaction; only then 200;
 *   cleanup anything not committed is undone by the store.
 */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "server/api/api.h"
#include "server/api/routes.h"
#include "server/api/upload_form.h"

enum { F_PURPOSE, F_EA_ANCHOR, F_EA_SECONDS, F_EA_JSON };

static int on_filename(http_req *r, upload_form *u, const char *name, size_t len)
{
    const char *why = api_filename_problem(name, len);
    if (!why)
        return 0;
    http_reply_invalid(r, "file", NULL, "Invalid file: %s.", why);
    return 1;
}

static int on_field(http_req *r, upload_form *u, int slot)
{
    if (slot != F_PURPOSE)
        return 0;
    const char *p = upload_form_value(u, F_PURPOSE);
    if (!api_purpose_uploadable(p, upload_form_value_len(u, F_PURPOSE)))
        return api_reply_bad_purpose(r, p), 1;
    store_ingest_purpose(upload_form_ingest(u), p);
    return 0;
}

static const upload_form_spec spec = {
    "file",
    STORE_INGEST_FILE,
    {"purpose", "expires_after[anchor]", "expires_after[seconds]", "expires_after"},
    on_filename,
    on_field,
};

static int begin(http_req *r)
{
    if (api_profile_begin(r))
        return 1;
    return upload_form_begin(r, &spec, r->app->cfg->max_file_bytes, NULL);
}

/* ---- validation at the end of the body ---- */

static int parse_seconds(http_req *r, const char *v, int64_t *out)
{
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (!*v || *end || errno)
        return http_reply_invalid(r, "expires_after.seconds", "invalid_type",
                                  "Invalid type for 'expires_after.seconds': expected an "
                                  "integer, but got '%.64s' instead.",
                                  v),
               -1;
    *out = n;
    return 0;
}

static int expires_after(http_req *r, upload_form *u, int64_t now, int64_t *expires_at)
{
    int64_t secs = 0;
    const char *json = upload_form_value(u, F_EA_JSON);
    const char *anchor = upload_form_value(u, F_EA_ANCHOR);
    const char *seconds = upload_form_value(u, F_EA_SECONDS);
    const char *purpose = upload_form_value(u, F_PURPOSE);
    *expires_at = !strcmp(purpose, "batch") ? now + STORE_BATCH_TTL : 0;
    if (!json && !anchor && !seconds)
        return 0;
    if (json && (anchor || seconds))
        return http_reply_invalid(r, "expires_after", NULL,
                                  "'expires_after' was given more than once."),
               -1;
    if (json) { /* expires_after as a JSON part (.NET) */
        json_error_t jerr;
        json_t *j = json_loadb(json, upload_form_value_len(u, F_EA_JSON), 0, &jerr);
        int rc = api_expires_after_object(r, j, &secs);
        json_decref(j);
        if (rc)
            return -1;
    } else if (!anchor || !seconds) {
        const char *miss = !anchor ? "expires_after.anchor" : "expires_after.seconds";
        return http_reply_invalid(r, miss, "missing_required_parameter",
                                  "Missing required parameter: '%s'.", miss),
               -1;
    } else if (parse_seconds(r, seconds, &secs) || api_check_expires_after(r, anchor, secs)) {
        return -1;
    }
    *expires_at = now + secs;
    return 0;
}

static int validate(http_req *r, upload_form *u)
{
    const char *purpose = upload_form_value(u, F_PURPOSE);
    if (upload_form_finish(r, u))
        return -1;
    if (!purpose)
        return http_reply_invalid(r, "purpose", NULL, "'purpose' is a required property"), -1;
    return api_check_jsonl(r, purpose, upload_form_filename(u));
}

static void end(http_req *r)
{
    upload_form *u = upload_form_of(r);
    meta_file f;
    memset(&f, 0, sizeof f);
    f.created_at = store_now(r->app->store);
    if (validate(r, u) || expires_after(r, u, f.created_at, &f.expires_at))
        return;
    snprintf(f.purpose, sizeof f.purpose, "%s", upload_form_value(u, F_PURPOSE));
    snprintf(f.filename, sizeof f.filename, "%s", upload_form_filename(u));
    st_err e = ST_ERR_INIT;
    if (store_ingest_file(upload_form_ingest(u), &f, &e)) {
        api_reply_store(r, &e, "file commit");
        return;
    }
    api_reply_file(r, &f);
}

const route_ops api_files_create = {
    ROUTE_FILES_CREATE, "files.create", 1, begin, upload_form_body, end, upload_form_cleanup};
