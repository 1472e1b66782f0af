/*
 * POST /v1/files: a streaming multipart upload (see docs/architecture.md, "one upload").
 *
 *   begin   Content-Type must carry a boundary; a declared Content-Length over the file limit
 *           is refused with 413 before any body byte is read.
 *   body    the multipart parser hands file bytes straight to the blob writer; small fields
 *           (purpose, expires_after) are buffered with a small bound; fields in any order.
 *           An intent names the blob (opened at begin when a Content-Length is declared:
 *           that whole length is reserved against it, or nothing is; else at the first file
 *           byte). An upload holding no reservation is checked against the quota as bytes
 *           arrive, so a full organization is refused early; the commit re-checks atomically,
 *           so concurrent uploads can never overshoot (api/ingest.h, the quota rules).
 *   end     validate, make the blob durable (fsync, rename, fsync dir), then one metadata
 *           transaction (file row in, intent out, usage += bytes); only then 200.
 *   cleanup anything not committed is removed: writer aborted, blob removed, intent dropped.
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/api/api.h"
#include "server/api/ingest.h"
#include "server/api/routes.h"
#include "server/http/multipart.h"
#include "server/log.h"

#define FIELD_MAX 1024 /* purpose, expires_after fields */
/* Body bytes that are not file content (framing, fields): bounded so that a declared
 * Content-Length proves a lower bound of the file size (see reserve_declared). */
#define NONFILE_MAX (1 << 20)

enum field { F_NONE, F_FILE, F_PURPOSE, F_EA_ANCHOR, F_EA_SECONDS, F_EA_JSON, F_IGNORED };

typedef struct upload {
    mp_parser *mp;
    enum field cur;
    argot_buf field;
    argot_buf purpose, ea_anchor, ea_seconds, ea_json;
    unsigned seen; /* bit per field kind */
    char *filename;
    api_ingest g; /* the file's blob, intent and reservation */
} upload;

static upload *U(http_req *r)
{
    return r->state;
}

static int reply_too_large(http_req *r, int64_t got)
{
    /* The real front end's wording, after the sentence users look for. */
    return http_reply_error(r, 413, "server_error", NULL, NULL,
                            "File is too large. Maximum content size limit (%" PRId64
                            ") exceeded (%" PRId64 " bytes read)",
                            r->app->cfg->max_file_bytes, got);
}

/* ---- the file part ---- */

static int filename_ok(http_req *r, const char *name, size_t len)
{
    const char *why = api_filename_problem(name, len);
    if (!why)
        return 1;
    http_reply_invalid(r, "file", NULL, "Invalid file: %s.", why);
    return 0;
}

/* Everything but the file is capped at NONFILE_MAX (see body()), so Content-Length minus it is
 * a true lower bound of the file size. */
static int reserve_declared(http_req *r, int64_t cl)
{
    return api_ingest_reserve_declared(r, &U(r)->g, cl, NONFILE_MAX);
}

static int open_file(http_req *r, const mp_part_info *pi)
{
    upload *u = U(r);
    if (!filename_ok(r, pi->filename, pi->filename_len))
        return -1;
    u->filename = strndup(pi->filename, pi->filename_len);
    if (!u->filename)
        return http_reply_internal(r, "upload init"), -1;
    return api_ingest_open(r, &u->g);
}

static int is_batch(upload *u)
{
    return u->purpose.ptr && !strcmp(u->purpose.ptr, "batch");
}

static int file_data(http_req *r, const char *data, size_t len)
{
    upload *u = U(r);
    const cfg *c = r->app->cfg;
    int64_t after = u->g.bytes + (int64_t)len;
    if (after > c->max_file_bytes)
        return reply_too_large(r, after), -1;
    if (is_batch(u) && after > c->max_batch_bytes)
        return http_reply_invalid(r, NULL, NULL, "File is too large."), -1;
    return api_ingest_write(r, &u->g, data, len);
}

/* ---- multipart callbacks ---- */

static const struct {
    const char *name;
    enum field f;
} known_fields[] = {
    {"file", F_FILE},
    {"purpose", F_PURPOSE},
    {"expires_after[anchor]", F_EA_ANCHOR},
    {"expires_after[seconds]", F_EA_SECONDS},
    {"expires_after", F_EA_JSON},
};

static int on_part_begin(const mp_part_info *pi, void *ud)
{
    http_req *r = ud;
    upload *u = U(r);
    u->cur = F_IGNORED;
    for (size_t i = 0; i < sizeof known_fields / sizeof known_fields[0]; i++)
        if (!strcmp(pi->name, known_fields[i].name))
            u->cur = known_fields[i].f;
    if (u->cur == F_IGNORED)
        return 0; /* unknown fields are skipped without buffering */
    if (u->seen & (1u << u->cur))
        return http_reply_invalid(r, pi->name, NULL, "'%s' was given more than once.", pi->name), 1;
    u->seen |= 1u << u->cur;
    if (u->cur == F_FILE)
        return open_file(r, pi) ? 1 : 0;
    argot_buf_reset(&u->field);
    return 0;
}

static int on_part_data(const char *data, size_t len, void *ud)
{
    http_req *r = ud;
    upload *u = U(r);
    if (u->cur == F_FILE)
        return file_data(r, data, len) ? 1 : 0;
    if (u->cur == F_IGNORED)
        return 0;
    if (argot_buf_put(&u->field, data, len) == ARGOT_BUF_OK)
        return 0;
    http_reply_invalid(r, NULL, NULL, "A form field is longer than %d bytes.", FIELD_MAX);
    return 1;
}

static int on_part_end(void *ud)
{
    http_req *r = ud;
    upload *u = U(r);
    argot_buf *dst = u->cur == F_PURPOSE      ? &u->purpose
                     : u->cur == F_EA_ANCHOR  ? &u->ea_anchor
                     : u->cur == F_EA_SECONDS ? &u->ea_seconds
                     : u->cur == F_EA_JSON    ? &u->ea_json
                                              : NULL;
    if (u->cur == F_PURPOSE &&
        !api_purpose_uploadable(u->field.ptr ? u->field.ptr : "", u->field.len))
        return api_reply_bad_purpose(r, u->field.ptr ? u->field.ptr : ""), 1;
    if (dst) {
        argot_buf tmp = *dst;
        *dst = u->field; /* hand the filled buffer over, keep the old one for reuse */
        u->field = tmp;
        argot_buf_reset(&u->field);
        if (!dst->ptr && argot_buf_put(dst, "", 0))
            return http_reply_internal(r, "field"), 1;
    }
    u->cur = F_NONE;
    return 0;
}

static const mp_callbacks mp_cbs = {on_part_begin, on_part_data, on_part_end};

/* ---- life cycle ---- */

static int begin(http_req *r)
{
    const char *ct = http_header(r, "Content-Type");
    char boundary[MP_BOUNDARY_MAX + 1];
    int64_t cl = http_content_length(r);
    if (api_profile_begin(r))
        return 1;
    if (cl > r->app->cfg->max_file_bytes + NONFILE_MAX)
        return reply_too_large(r, cl), 1;
    if (!ct || mp_boundary_from_content_type(ct, boundary) != MP_OK)
        return http_reply_invalid(r, NULL, NULL,
                                  "Expected a multipart/form-data request body with a "
                                  "boundary (Content-Type: multipart/form-data; boundary=...)."),
               1;
    upload *u = calloc(1, sizeof *u);
    if (!u)
        return http_reply_internal(r, "upload alloc"), 1;
    r->state = u;
    argot_buf_init(&u->field, FIELD_MAX);
    argot_buf_init(&u->purpose, FIELD_MAX);
    argot_buf_init(&u->ea_anchor, FIELD_MAX);
    argot_buf_init(&u->ea_seconds, FIELD_MAX);
    argot_buf_init(&u->ea_json, FIELD_MAX);
    mp_limits lim = MP_LIMITS_DEFAULT;
    if (mp_parser_new(&u->mp, boundary, &lim, &mp_cbs, r) != MP_OK)
        return http_reply_internal(r, "parser alloc"), 1;
    return reserve_declared(r, cl) ? 1 : 0;
}

static int body(http_req *r, const char *data, size_t len)
{
    upload *u = U(r);
    int rc = mp_parser_feed(u->mp, data, len);
    if (rc == MP_OK && !r->status && (int64_t)r->bytes_in - u->g.bytes > NONFILE_MAX)
        return http_reply_invalid(r, NULL, NULL,
                                  "The form data besides the file is larger than %d bytes.",
                                  NONFILE_MAX),
               1;
    if (rc == MP_OK || r->status)
        return 0;
    http_reply_invalid(r, NULL, NULL, "Invalid multipart body: %s", mp_parser_errmsg(u->mp));
    return 1;
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

static int expires_after(http_req *r, upload *u, int64_t now, int64_t *expires_at)
{
    int64_t secs = 0;
    int have_json = u->ea_json.ptr != NULL;
    int have_a = u->ea_anchor.ptr != NULL, have_s = u->ea_seconds.ptr != NULL;
    *expires_at = is_batch(u) ? now + BATCH_DEFAULT_TTL : 0;
    if (!have_json && !have_a && !have_s)
        return 0;
    if (have_json && (have_a || have_s))
        return http_reply_invalid(r, "expires_after", NULL,
                                  "'expires_after' was given more than once."),
               -1;
    if (have_json) {
        /* expires_after as a JSON part (.NET) */
        json_error_t jerr;
        json_t *j = json_loadb(u->ea_json.ptr, u->ea_json.len, 0, &jerr);
        int rc = api_expires_after_object(r, j, &secs);
        json_decref(j);
        if (rc)
            return -1;
    } else if (!have_a || !have_s) {
        const char *miss = !have_a ? "expires_after.anchor" : "expires_after.seconds";
        return http_reply_invalid(r, miss, "missing_required_parameter",
                                  "Missing required parameter: '%s'.", miss),
               -1;
    } else if (parse_seconds(r, u->ea_seconds.ptr, &secs) ||
               api_check_expires_after(r, u->ea_anchor.ptr, secs)) {
        return -1;
    }
    *expires_at = now + secs;
    return 0;
}

static int validate(http_req *r, upload *u)
{
    if (!(u->seen & (1u << F_FILE)))
        return http_reply_invalid(r, "file", NULL, "'file' is a required property"), -1;
    if (!u->purpose.ptr)
        return http_reply_invalid(r, "purpose", NULL, "'purpose' is a required property"), -1;
    if (!api_purpose_uploadable(u->purpose.ptr, u->purpose.len))
        return api_reply_bad_purpose(r, u->purpose.ptr), -1;
    if (api_check_jsonl(r, u->purpose.ptr, u->filename))
        return -1;
    if (is_batch(u) && u->g.bytes > r->app->cfg->max_batch_bytes)
        return http_reply_invalid(r, NULL, NULL, "File is too large."), -1;
    return 0;
}

/* Durable blob, then one metadata transaction. */
static int commit(http_req *r, upload *u, meta_file *f)
{
    if (api_ingest_commit_blob(r, &u->g))
        return -1;
    meta_store *m = r->app->meta;
    int rc = META_OK;
    for (int attempt = 0; attempt < 4; attempt++) {
        if (id_file_new(f->id))
            return http_reply_internal(r, "file id"), -1;
        rc = m->ops->file_commit(m, f, r->app->cfg->max_org_bytes);
        if (rc != META_E_CONFLICT)
            break;
    }
    if (rc == META_E_QUOTA)
        return api_reply_quota(r), -1;
    if (rc)
        return api_reply_store_error(r, rc, "file_commit"), -1;
    u->g.committed = 1;
    return 0;
}

static void end(http_req *r)
{
    upload *u = U(r);
    if (mp_parser_finish(u->mp) != MP_OK) {
        http_reply_invalid(r, NULL, NULL, "Invalid multipart body: %s", mp_parser_errmsg(u->mp));
        return;
    }
    meta_file f;
    memset(&f, 0, sizeof f);
    f.created_at = app_now(r->app);
    if (validate(r, u) || expires_after(r, u, f.created_at, &f.expires_at))
        return;
    if (api_ingest_quota(r, &u->g, u->g.bytes))
        return;
    snprintf(f.org, sizeof f.org, "%s", r->org);
    snprintf(f.purpose, sizeof f.purpose, "%s", u->purpose.ptr);
    snprintf(f.filename, sizeof f.filename, "%s", u->filename);
    memcpy(f.blob, u->g.blob, sizeof f.blob);
    f.bytes = u->g.bytes;
    if (commit(r, u, &f))
        return;
    argot_buf b = ARGOT_BUF_INIT(16384);
    if (api_file_json(&b, &f, api_profile_of(r))) {
        argot_buf_free(&b);
        http_reply_internal(r, "file json");
        return;
    }
    http_reply_json(r, 200, &b);
}

static void cleanup(http_req *r)
{
    upload *u = U(r);
    if (!u)
        return;
    api_ingest_cleanup(r, &u->g);
    mp_parser_free(u->mp);
    argot_buf_free(&u->field);
    argot_buf_free(&u->purpose);
    argot_buf_free(&u->ea_anchor);
    argot_buf_free(&u->ea_seconds);
    argot_buf_free(&u->ea_json);
    free(u->filename);
    free(u);
    r->state = NULL;
}

const route_ops api_files_create = {
    ROUTE_FILES_CREATE, "files.create", 1, begin, body, end, cleanup};
