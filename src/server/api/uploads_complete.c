/*
 * POST /v1/uploads/{upload_id}/complete  {"part_ids": [...], "md5"?}
 *
 *   1. check: the upload is pending; every listed id is a part of it, none twice; the listed
 *      parts total the declared bytes; the purpose's rules hold for the assembled file.
 *   2. md5 (only when given): the parts are read once, in order, through MD5 (1 MiB buffer).
 *   3. an intent names a new blob; the blob is assembled with copy_from (copy_file_range: a
 *      reflink on XFS/btrfs, an in-kernel copy on ext4; no bytes through user space) and made
 *      durable.
 *   4. ONE transaction: file row in, intent out, upload completed, part rows out, usage +=
 *      file bytes - parts bytes. Then the part blobs are removed.
 * A crash before 4 leaves the upload pending with its parts (still completable) and the new
 * blob under an intent (removed at the next start); after 4, part blobs not yet removed are
 * orphans for the sweeper. Never a half file.
 */
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "server/api/api.h"
#include "server/api/ingest.h"
#include "server/api/routes.h"
#include "server/api/uploads.h"
#include "server/log.h"

#define COMPLETE_BODY_MAX (1 << 20) /* ~25 000 part ids */
#define MD5_BUF           (1 << 20)

typedef struct parts_vec {
    meta_part *v;
    size_t n, cap;
} parts_vec;

static int collect_part(const meta_part *p, void *ud)
{
    parts_vec *pv = ud;
    if (pv->n == pv->cap) {
        size_t cap = pv->cap ? pv->cap * 2 : 16;
        void *nv = realloc(pv->v, cap * sizeof *pv->v);
        if (!nv)
            return -1;
        pv->v = nv;
        pv->cap = cap;
    }
    pv->v[pv->n++] = *p;
    return 0;
}

static int by_id(const void *a, const void *b)
{
    return strcmp(((const meta_part *)a)->id, ((const meta_part *)b)->id);
}

/* Completion's own state: the JSON body buffer first (api_json_* use r->state as it). */
typedef struct complete_req {
    argot_buf body;
    api_ingest g; /* the assembled blob */
} complete_req;

static int begin(http_req *r)
{
    if (api_profile_begin(r))
        return 1;
    int64_t cl = http_content_length(r);
    if (cl > COMPLETE_BODY_MAX)
        return http_reply_error(r, 413, "server_error", NULL, NULL,
                                "Maximum content size limit (%d) exceeded (%" PRId64 " bytes read)",
                                COMPLETE_BODY_MAX, cl),
               1;
    complete_req *c = calloc(1, sizeof *c);
    if (!c)
        return http_reply_internal(r, "complete alloc"), 1;
    argot_buf_init(&c->body, COMPLETE_BODY_MAX);
    r->state = c;
    return 0;
}

/* The listed parts, in order, from the upload's parts (sorted by id). Replies and returns -1
 * on an unknown or repeated id or a wrong total. */
static int resolve(http_req *r, const meta_upload *u, json_t *ids, parts_vec *all, meta_part ***out)
{
    size_t n = json_array_size(ids);
    unsigned char *used = calloc(all->n ? all->n : 1, 1);
    meta_part **list = calloc(n ? n : 1, sizeof *list);
    int64_t total = 0;
    if (!used || !list) {
        free(used);
        free(list);
        return http_reply_internal(r, "complete alloc"), -1;
    }
    if (all->n) /* qsort(NULL, 0, ...) is undefined behaviour */
        qsort(all->v, all->n, sizeof *all->v, by_id);
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(ids, i);
        meta_part key;
        if (!json_is_string(v)) {
            http_reply_invalid(r, "part_ids", "invalid_type",
                               "Invalid type for 'part_ids[%zu]': expected a string.", i);
            goto fail;
        }
        snprintf(key.id, sizeof key.id, "%s", json_string_value(v));
        meta_part *p = strlen(json_string_value(v)) < sizeof key.id
                           ? bsearch(&key, all->v, all->n, sizeof *all->v, by_id)
                           : NULL;
        if (!p) {
            http_reply_invalid(r, "part_ids", NULL, "Part %.64s is not a part of Upload %s.",
                               json_string_value(v), u->id);
            goto fail;
        }
        if (used[p - all->v]++) {
            http_reply_invalid(r, "part_ids", NULL, "Part %s is listed more than once.", p->id);
            goto fail;
        }
        list[i] = p;
        total += p->bytes;
    }
    if (total != u->bytes) {
        http_reply_invalid(r, "part_ids", NULL,
                           "The parts total %" PRId64 " bytes, but Upload %s was created with "
                           "bytes=%" PRId64 ".",
                           total, u->id, u->bytes);
        goto fail;
    }
    free(used);
    *out = list;
    return 0;
fail:
    free(used);
    free(list);
    return -1;
}

/* A part could not be read. Another request that completed or cancelled the upload meanwhile
 * removes the parts: then the answer is the real service's 400 for an upload that is no
 * longer pending, not a server error. */
static int part_unreadable(http_req *r, int rc, const char *what)
{
    meta_upload now;
    if (rc == ST_E_NOTFOUND && api_lookup_pending_upload(r, &now) != 0)
        return -1; /* replied: not pending (or gone) any more */
    return api_reply_blob_error(r, rc, what), -1;
}

static int md5_of_parts(http_req *r, meta_part **list, size_t n, char hex[33])
{
    blob_store *bs = r->app->blob;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char *buf = malloc(MD5_BUF), md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    int rc = ctx && buf && EVP_DigestInit_ex(ctx, EVP_md5(), NULL) == 1 ? 0 : -1;
    int orc = ST_OK;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        blob_reader *rd = NULL;
        st_err e = ST_ERR_INIT;
        if ((orc = bs->ops->reader_open(bs, list[i]->blob, 0, (uint64_t)list[i]->bytes, &rd, NULL,
                                        &e)) != ST_OK) {
            rc = -1;
            break;
        }
        for (;;) {
            ssize_t got = blob_read(rd, buf, MD5_BUF, &e);
            if (got <= 0 || EVP_DigestUpdate(ctx, buf, (size_t)got) != 1) {
                rc = got == 0 ? rc : -1;
                break;
            }
        }
        blob_reader_close(rd);
    }
    if (rc == 0 && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 16) {
        for (unsigned i = 0; i < 16; i++)
            snprintf(hex + 2 * i, 3, "%02x", md[i]);
    } else {
        rc = -1;
    }
    EVP_MD_CTX_free(ctx);
    free(buf);
    if (rc && orc != ST_OK)
        return part_unreadable(r, orc, "md5 open part");
    if (rc)
        http_reply_internal(r, "md5");
    return rc;
}

/* Steps 3: the new blob, assembled in the kernel, durable. */
static int assemble(http_req *r, complete_req *c, meta_part **list, size_t n)
{
    blob_store *bs = r->app->blob;
    if (api_ingest_open(r, &c->g))
        return -1;
    for (size_t i = 0; i < n; i++) {
        st_err e = ST_ERR_INIT;
        int rc = bs->ops->compose(c->g.w, list[i]->blob, 0, (uint64_t)list[i]->bytes, &e);
        if (rc == ST_E_NOTFOUND)
            return part_unreadable(r, rc, "open part");
        if (rc)
            return api_reply_blob_error(r, rc, "copy part"), -1;
        c->g.bytes += list[i]->bytes;
    }
    return api_ingest_commit_blob(r, &c->g);
}

/* Step 4. */
static int commit(http_req *r, complete_req *c, meta_upload *u, meta_file *f)
{
    meta_store *m = r->app->meta;
    memset(f, 0, sizeof *f);
    snprintf(f->org, sizeof f->org, "%s", r->org);
    snprintf(f->purpose, sizeof f->purpose, "%s", u->purpose);
    snprintf(f->filename, sizeof f->filename, "%s", u->filename);
    memcpy(f->blob, c->g.blob, sizeof f->blob);
    f->bytes = c->g.bytes;
    f->created_at = u->created_at; /* as the real service records it */
    f->expires_at = u->expires_after_seconds       ? u->created_at + u->expires_after_seconds
                    : !strcmp(u->purpose, "batch") ? u->created_at + BATCH_DEFAULT_TTL
                                                   : 0;
    int rc = META_E_CONFLICT;
    for (int attempt = 0; attempt < 4 && rc == META_E_CONFLICT; attempt++) {
        if (id_file_new(f->id))
            return http_reply_internal(r, "file id"), -1;
        rc = m->ops->upload_complete(m, u->id, f, app_now(r->app), r->app->cfg->max_org_bytes,
                                     api_remove_blob_cb, r->app);
    }
    if (rc == META_OK) {
        c->g.committed = 1;
        u->status = META_UPLOAD_COMPLETED;
        snprintf(u->file_id, sizeof u->file_id, "%s", f->id);
        return 0;
    }
    if (rc == META_E_NOTFOUND || rc == META_E_STATE) {
        meta_upload now;
        if (api_lookup_pending_upload(r, &now) == 0)
            http_reply_internal(r, "upload_complete");
        return -1;
    }
    if (rc == META_E_QUOTA)
        return api_reply_quota(r), -1;
    return api_reply_store_error(r, rc, "upload_complete"), -1;
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

static void complete(http_req *r, complete_req *c, json_t *o)
{
    meta_upload u;
    parts_vec all = {NULL, 0, 0};
    meta_part **list = NULL;
    const char *md5 = NULL;
    json_t *ids = json_object_get(o, "part_ids");
    meta_file f;

    if (!ids || json_is_null(ids)) {
        http_reply_invalid(r, "part_ids", "missing_required_parameter",
                           "Missing required parameter: 'part_ids'.");
        return;
    }
    if (!json_is_array(ids)) {
        http_reply_invalid(r, "part_ids", "invalid_type",
                           "Invalid type for 'part_ids': expected an array.");
        return;
    }
    if (api_json_string(r, o, "md5", 0, &md5) < 0)
        return;
    if (md5 && *md5 && !md5_valid(md5)) {
        http_reply_invalid(r, "md5", NULL,
                           "Invalid 'md5': expected 32 hexadecimal digits (the MD5 "
                           "of the whole file).");
        return;
    }
    if (api_lookup_pending_upload(r, &u))
        return;
    meta_store *m = r->app->meta;
    int rc = m->ops->upload_parts(m, r->org, u.id, collect_part, &all);
    if (rc)
        api_reply_store_error(r, rc, "upload_parts");
    else if (resolve(r, &u, ids, &all, &list) == 0 &&
             api_check_jsonl(r, u.purpose, u.filename) == 0) {
        size_t n = json_array_size(ids);
        char got[33];
        if (!strcmp(u.purpose, "batch") && u.bytes > r->app->cfg->max_batch_bytes)
            http_reply_invalid(r, NULL, NULL, "File is too large.");
        else if (md5 && *md5 && md5_of_parts(r, list, n, got) == 0 && strcasecmp(got, md5) != 0)
            http_reply_invalid(r, "md5", NULL,
                               "The md5 checksum of the assembled file (%s) does not match the "
                               "given md5 (%s).",
                               got, md5);
        else if (!r->status && assemble(r, c, list, n) == 0 && commit(r, c, &u, &f) == 0)
            api_reply_upload(r, &u, &f);
    }
    free(list);
    free(all.v);
}

static void end(http_req *r)
{
    complete_req *c = r->state;
    json_t *o = api_json_object(r);
    if (!o)
        return;
    complete(r, c, o);
    json_decref(o);
}

static void cleanup(http_req *r)
{
    complete_req *c = r->state;
    if (!c)
        return;
    api_ingest_cleanup(r, &c->g);
    argot_buf_free(&c->body);
    free(c);
    r->state = NULL;
}

const route_ops api_uploads_complete = {
    ROUTE_UPLOADS_COMPLETE, "uploads.complete", 1, begin, api_json_body, end, cleanup};
