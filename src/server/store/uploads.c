/*
 * The Uploads API's rules (docs/uploads.md): an upload is pending for STORE_UPLOAD_TTL after
 * its creation, takes parts of at most part_max bytes (totalling at most twice its declared
 * bytes, see ingest.c), and completes with the parts named in order, which must total its
 * declared bytes exactly. Completion assembles the file from the parts (compose on the blob
 * backend when it can, else a read-and-write copy), makes it durable under a new intent, then
 * swaps it for the parts in one transaction: a crash before that leaves the upload pending
 * with its parts (still completable) and an intent that recovery reaps.
 *
 * Two requests racing on one upload (complete and complete, complete and cancel): the loser
 * either finds the upload no longer pending, or finds a part gone while it assembles (the
 * winner removed it), and then reports the upload's new state: never a server error.
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/store/store_internal.h"

#define COPY_BUF (1 << 20) /* the fallback's and md5's read size */

static int no_such_upload(const char *id, st_err *e)
{
    return st_fail_client(e, ST_E_NOTFOUND, "id", "No such Upload object: %.64s", id);
}

/* A pending upload past its expiry counts as expired at once, before the collector marks it. */
static void as_of(store *s, meta_upload *u)
{
    if (u->status == META_UPLOAD_PENDING && u->expires_at <= store_now(s))
        u->status = META_UPLOAD_EXPIRED;
}

static int fetch(store *s, const char *org, const char *id, meta_upload *out, st_err *e)
{
    if (!st_id_ok(id))
        return no_such_upload(id, e);
    int rc = stm_upload_get(s, org, id, out, e);
    if (rc == ST_E_NOTFOUND) {
        st_err_clear(e);
        return no_such_upload(id, e);
    }
    if (rc == ST_OK)
        as_of(s, out);
    return rc;
}

/* STATE with the real service's wording, for an upload that is not pending. */
static int not_pending(const meta_upload *u, st_err *e)
{
    const char *how = u->status == META_UPLOAD_COMPLETED   ? "is already completed"
                      : u->status == META_UPLOAD_CANCELLED ? "was cancelled"
                                                           : "has expired";
    return st_fail_client(e, ST_E_STATE, NULL, "Upload %s %s.", u->id, how);
}

typedef struct create_ctx {
    store *s;
    meta_upload *u;
} create_ctx;

static int create(void *ctx, st_err *e)
{
    create_ctx *c = ctx;
    return stm_upload_create(c->s, c->u, e);
}

int store_upload_create(store *s, meta_upload *u, st_err *e)
{
    if (u->bytes > s->lim.upload_max)
        return st_fail_client(e, ST_E_LIMIT, "bytes",
                              "Invalid 'bytes': integer above maximum value. Expected a value <= "
                              "%lld, but got %lld instead.",
                              (long long)s->lim.upload_max, (long long)u->bytes);
    int rc = st_batch_check(s, u->purpose, u->bytes, e);
    if (rc)
        return rc;
    u->created_at = store_now(s);
    u->expires_at = u->created_at + STORE_UPLOAD_TTL;
    u->status = META_UPLOAD_PENDING;
    u->file_id[0] = '\0';
    create_ctx ctx = {s, u};
    return st_new_ids(s, u->id, sizeof u->id, ST_ID_UPLOAD, create, &ctx, e);
}

int store_upload_get(store *s, const char *org, const char *id, meta_upload *out, st_err *e)
{
    return fetch(s, org, id, out, e);
}

int store_upload_cancel(store *s, const char *org, const char *id, meta_upload *out, st_err *e)
{
    if (!st_id_ok(id))
        return no_such_upload(id, e);
    st_err mine = ST_ERR_INIT;
    int rc = stm_upload_cancel(s, org, id, store_now(s), out, st_remove_blob_cb, s, &mine);
    if (rc == ST_E_STATE) {
        as_of(s, out);
        return not_pending(out, e);
    }
    if (rc == ST_E_NOTFOUND)
        return no_such_upload(id, e);
    if (rc && e && e->code == ST_OK)
        *e = mine;
    return rc;
}

int store_upload_accepts(store *s, const char *org, const char *id, meta_upload *out, st_err *e)
{
    int rc = fetch(s, org, id, out, e);
    if (rc == ST_OK && out->status != META_UPLOAD_PENDING)
        rc = not_pending(out, e);
    return rc;
}

/* ---- completion ---- */

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

/* The listed parts, in order: each a part of the upload, each once, totalling its bytes. */
static int resolve(const meta_upload *u,
                   const char *const *ids,
                   size_t n,
                   parts_vec *all,
                   meta_part **list,
                   st_err *e)
{
    unsigned char *used = calloc(all->n ? all->n : 1, 1);
    int64_t total = 0;
    int rc = used ? ST_OK : st_fail(e, ST_E_NOMEM, "store", 0, "no memory");
    if (all->n) /* qsort(NULL, 0, ...) is undefined behaviour */
        qsort(all->v, all->n, sizeof *all->v, by_id);
    for (size_t i = 0; rc == ST_OK && i < n; i++) {
        meta_part key;
        snprintf(key.id, sizeof key.id, "%s", ids[i]);
        meta_part *p = strlen(ids[i]) < sizeof key.id
                           ? bsearch(&key, all->v, all->n, sizeof *all->v, by_id)
                           : NULL;
        if (!p)
            rc = st_fail_client(e, ST_E_INVALID, "part_ids",
                                "Part %.64s is not a part of Upload %s.", ids[i], u->id);
        else if (used[p - all->v]++)
            rc = st_fail_client(e, ST_E_INVALID, "part_ids", "Part %s is listed more than once.",
                                p->id);
        else
            list[i] = p, total += p->bytes;
    }
    if (rc == ST_OK && total != u->bytes)
        rc = st_fail_client(e, ST_E_INVALID, "part_ids",
                            "The parts total %lld bytes, but Upload %s was created with "
                            "bytes=%lld.",
                            (long long)total, u->id, (long long)u->bytes);
    free(used);
    return rc;
}

/* A part could not be read: the upload was completed or cancelled meanwhile (its parts
 * removed), which is reported as the upload's state; anything else is the failure itself. */
static int part_gone(store *s, const meta_upload *u, int rc, st_err *mine, st_err *e)
{
    meta_upload now;
    st_err ignore = ST_ERR_INIT;
    if (rc == ST_E_NOTFOUND && fetch(s, u->org, u->id, &now, &ignore) == ST_OK &&
        now.status != META_UPLOAD_PENDING)
        return not_pending(&now, e);
    if (e && e->code == ST_OK)
        *e = *mine;
    return rc;
}

/* Copies a part through a buffer (a blob backend without compose); md may hash it too. */
static int copy_part(
    store *s, store_ingest *g, const meta_part *p, char *buf, EVP_MD_CTX *md, st_err *e)
{
    blob_reader *r = NULL;
    int rc = s->b->ops->reader_open(s->b, p->blob, 0, (uint64_t)p->bytes, &r, NULL, e);
    while (rc == ST_OK) {
        ssize_t n = blob_read(r, buf, COPY_BUF, e);
        if (n <= 0) {
            rc = (int)n;
            break;
        }
        if (md && EVP_DigestUpdate(md, buf, (size_t)n) != 1)
            rc = st_fail(e, ST_E_NOMEM, "store", 0, "md5");
        else if (g)
            rc = store_ingest_write(g, buf, (size_t)n, e);
    }
    blob_reader_close(r);
    return rc;
}

static int md5_of(
    store *s, const meta_upload *u, meta_part **list, size_t n, char hex[33], char *buf, st_err *e)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    int rc = md && EVP_DigestInit_ex(md, EVP_md5(), NULL) == 1
                 ? ST_OK
                 : st_fail(e, ST_E_NOMEM, "store", 0, "md5");
    for (size_t i = 0; rc == ST_OK && i < n; i++) {
        st_err mine = ST_ERR_INIT;
        rc = copy_part(s, NULL, list[i], buf, md, &mine);
        if (rc)
            rc = part_gone(s, u, rc, &mine, e);
    }
    if (rc == ST_OK && (EVP_DigestFinal_ex(md, d, &len) != 1 || len != 16))
        rc = st_fail(e, ST_E_NOMEM, "store", 0, "md5");
    for (unsigned i = 0; rc == ST_OK && i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
    EVP_MD_CTX_free(md);
    return rc;
}

/* The new blob: composed by the backend where it can, else copied through buf. */
static int assemble(store *s,
                    const meta_upload *u,
                    meta_part **list,
                    size_t n,
                    store_ingest **out,
                    char *buf,
                    st_err *e)
{
    int rc = store_ingest_begin(s, u->org, -1, 0, INT64_MAX, STORE_INGEST_FILE, out, e);
    store_ingest *g = *out;
    if (rc == ST_OK)
        st_ingest_no_quota(g);
    int compose = (s->b->ops->caps & BLOB_CAP_COMPOSE) != 0;
    for (size_t i = 0; rc == ST_OK && i < n; i++) {
        st_err mine = ST_ERR_INIT;
        if (compose)
            rc = st_ingest_compose(g, list[i]->blob, (uint64_t)list[i]->bytes, &mine);
        else
            rc = copy_part(s, g, list[i], buf, NULL, &mine);
        if (rc)
            rc = part_gone(s, u, rc, &mine, e);
    }
    return rc;
}

typedef struct complete_ctx {
    store *s;
    const meta_upload *u;
    meta_file *f;
} complete_ctx;

static int complete_commit(void *ctx, st_err *e)
{
    complete_ctx *c = ctx;
    store *s = c->s;
    return stm_upload_complete(s, c->u->id, c->f, store_now(s), st_remove_blob_cb, s, e);
}

/* The file row of an assembled upload: its created_at is the upload's, as the real service
 * records it; batch files expire after 30 days unless told otherwise. */
static void file_of(const meta_upload *u, meta_file *f)
{
    memset(f, 0, sizeof *f);
    snprintf(f->org, sizeof f->org, "%s", u->org);
    snprintf(f->purpose, sizeof f->purpose, "%s", u->purpose);
    snprintf(f->filename, sizeof f->filename, "%s", u->filename);
    f->created_at = u->created_at;
    f->expires_at = u->expires_after_seconds       ? u->created_at + u->expires_after_seconds
                    : !strcmp(u->purpose, "batch") ? u->created_at + STORE_BATCH_TTL
                                                   : 0;
}

/* The assembled blob, durable, swapped for the parts. */
static int swap(store *s, store_ingest *g, meta_upload *u, meta_file *f, st_err *e)
{
    file_of(u, f);
    int rc = st_ingest_durable(g, f, e);
    if (rc)
        return rc;
    complete_ctx ctx = {s, u, f};
    st_err mine = ST_ERR_INIT;
    rc = st_new_ids(s, f->id, sizeof f->id, ST_ID_FILE, complete_commit, &ctx, &mine);
    if (rc == ST_OK) {
        st_ingest_committed(g);
        u->status = META_UPLOAD_COMPLETED;
        snprintf(u->file_id, sizeof u->file_id, "%s", f->id);
        return ST_OK;
    }
    if (rc == ST_E_NOTFOUND || rc == ST_E_STATE) { /* completed or cancelled meanwhile */
        meta_upload now;
        if (fetch(s, u->org, u->id, &now, &mine) == ST_OK && now.status != META_UPLOAD_PENDING) {
            *u = now;
            return not_pending(&now, e);
        }
    }
    if (rc == ST_E_QUOTA)
        return st_quota(s, e);
    if (e && e->code == ST_OK)
        *e = mine;
    return rc;
}

int store_upload_complete(store *s,
                          const char *org,
                          const char *id,
                          const char *const *part_ids,
                          size_t n,
                          const char *md5,
                          meta_upload *u,
                          meta_file *f,
                          st_err *e)
{
    parts_vec all = {NULL, 0, 0};
    meta_part **list = calloc(n ? n : 1, sizeof *list);
    char *buf = malloc(COPY_BUF), got[33];
    store_ingest *g = NULL;
    int rc = list && buf ? fetch(s, org, id, u, e) : st_fail(e, ST_E_NOMEM, "store", 0, "memory");
    if (rc == ST_OK && u->status != META_UPLOAD_PENDING)
        rc = not_pending(u, e);
    if (rc == ST_OK && stm_upload_parts(s, org, u->id, collect_part, &all, e))
        rc = e && e->code ? e->code : ST_E_NOMEM;
    if (rc == ST_OK)
        rc = resolve(u, part_ids, n, &all, list, e);
    if (rc == ST_OK)
        rc = st_batch_check(s, u->purpose, u->bytes, e);
    if (rc == ST_OK && md5 && *md5 && (rc = md5_of(s, u, list, n, got, buf, e)) == ST_OK &&
        strcasecmp(got, md5) != 0)
        rc = st_fail_client(e, ST_E_INVALID, "md5",
                            "The md5 checksum of the assembled file (%s) does not match the given "
                            "md5 (%s).",
                            got, md5);
    if (rc == ST_OK)
        rc = assemble(s, u, list, n, &g, buf, e);
    if (rc == ST_OK)
        rc = swap(s, g, u, f, e);
    store_ingest_free(g);
    free(list);
    free(all.v);
    free(buf);
    return rc;
}
