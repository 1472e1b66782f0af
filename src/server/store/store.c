/*
 * The frontend's state: the backends, the limits, this instance's owner id and its clock.
 * The operations are in ingest.c, files.c, uploads.c and maintain.c (store_internal.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/ids.h"
#include "server/log.h"
#include "server/store/store_internal.h"

/* The operations every metadata backend must have (the optional ones are capabilities). */
static int meta_complete(const meta_ops *o)
{
    return o->key_lookup && o->key_create && o->key_list && o->key_revoke && o->key_count_active &&
           o->owner_renew && o->owner_forget && o->lease_take && o->intent_open &&
           o->intent_reserve && o->intent_drop && o->intents_reap && o->file_commit &&
           o->file_get && o->file_position && o->file_list && o->file_delete && o->expired_take &&
           o->blob_referenced && o->cursor_tombs_purge && o->blob_tombs_take && o->blob_tomb_done &&
           o->upload_create && o->upload_get && o->upload_cancel && o->part_commit &&
           o->upload_parts && o->upload_complete && o->upload_take_expired && o->uploads_purge &&
           o->org_usage && o->stats && o->free && o->file_walk && o->upload_walk &&
           o->intent_walk && o->org_walk && o->owner_walk && o->file_drop && o->part_drop &&
           o->usage_recompute && (!(o->caps & META_CAP_FILE_COUNT) || o->org_file_count) &&
           (!(o->caps & META_CAP_CLOCK) || o->clock);
}

static int blob_complete(const blob_ops *o)
{
    return o->writer_open && o->write && o->commit && o->abort && o->reader_open && o->read &&
           o->reader_close && o->remove && o->list && o->reap_unfinished && o->free &&
           (!(o->caps & BLOB_CAP_FD) || o->reader_take_fd) &&
           (!(o->caps & BLOB_CAP_COMPOSE) || o->compose);
}

static int check_backends(meta_store *m, blob_store *b, st_err *e)
{
    if (m->ops->version != META_OPS_VERSION || !meta_complete(m->ops))
        return st_fail(e, ST_E_INVALID, "store", m->ops->version,
                       "the metadata backend %s implements interface version %u; this argotd "
                       "needs version %d with every required operation",
                       m->ops->name, m->ops->version, META_OPS_VERSION);
    if (b->ops->version != BLOB_OPS_VERSION || !blob_complete(b->ops))
        return st_fail(e, ST_E_INVALID, "store", b->ops->version,
                       "the blob backend %s implements interface version %u; this argotd needs "
                       "version %d with every required operation",
                       b->ops->name, b->ops->version, BLOB_OPS_VERSION);
    return ST_OK;
}

static int owner_new(char out[STORE_OWNER_MAX])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char rnd[8];
    if (id_random(rnd, sizeof rnd))
        return -1;
    memcpy(out, "own_", 4);
    for (size_t i = 0; i < sizeof rnd; i++) {
        out[4 + 2 * i] = hex[rnd[i] >> 4];
        out[5 + 2 * i] = hex[rnd[i] & 15];
    }
    out[4 + 2 * sizeof rnd] = '\0';
    return 0;
}

int store_open(
    store **out, meta_store *m, blob_store *b, const store_limits *lim, int exclusive, st_err *e)
{
    *out = NULL;
    int rc = check_backends(m, b, e);
    if (rc)
        return rc;
    store *s = calloc(1, sizeof *s);
    if (!s)
        return st_fail(e, ST_E_NOMEM, "store", 0, "no memory");
    s->m = m;
    s->b = b;
    s->lim = *lim;
    if (s->lim.lease_ttl <= 0)
        s->lim.lease_ttl = STORE_LEASE_TTL;
    if (s->lim.upload_keep <= 0)
        s->lim.upload_keep = STORE_UPLOAD_KEEP;
    s->exclusive = exclusive;
    if (owner_new(s->owner)) {
        free(s);
        return st_fail(e, ST_E_IO, "store", 0, "no random numbers for the owner id");
    }
    st_clock_sync(s); /* before the first time is stamped */
    rc = stm_owner_renew(s, store_now(s), e);
    if (rc == ST_OK && exclusive) /* alone on these backends: every other owner is gone */
        rc = stm_owner_forget(s, NULL, s->owner, e);
    if (rc) {
        free(s);
        return rc;
    }
    *out = s;
    return ST_OK;
}

void store_free(store *s)
{
    if (!s)
        return;
    st_err e = ST_ERR_INIT;
    stm_owner_forget(s, s->owner, NULL, &e); /* best effort: the lease runs out anyway */
    free(s);
}

int64_t st_host_now(const store *s)
{
    return s->lim.host_clock ? s->lim.host_clock() : (int64_t)time(NULL);
}

const char *store_owner(const store *s)
{
    return s->owner;
}

int store_forget_owner(store *s, const char *owner, st_err *e)
{
    if (!owner || !strcmp(owner, s->owner))
        return st_fail(e, ST_E_INVALID, "store", 0, "not another owner");
    return stm_owner_forget(s, owner, NULL, e);
}

int64_t store_now(store *s)
{
    /* Never back in time (the wall clock stepped back, or a new skew): a file created later
     * must never sort before one created earlier, or before a deleted one's cursor. */
    long long now = (long long)st_host_now(s) + s->lim.clock_offset + atomic_load(&s->skew);
    long long last = atomic_load(&s->last);
    while (now > last && !atomic_compare_exchange_weak(&s->last, &last, now))
        ;
    return now > last ? now : last;
}

int store_org_usage(
    store *s, const char *org, int64_t *used, int64_t *reserved, int64_t *files, st_err *e)
{
    int rc = stm_org_usage(s, org, used, reserved, e);
    *files = -1;
    if (rc == ST_OK && (s->m->ops->caps & META_CAP_FILE_COUNT))
        rc = stm_org_file_count(s, org, store_now(s), files, e);
    return rc;
}

int store_key_lookup(store *s, const uint8_t hash[32], char org[META_ORG_MAX], st_err *e)
{
    return stm_key_lookup(s, hash, org, e);
}

int store_health(store *s, st_err *e)
{
    int64_t n;
    return stm_key_count(s, &n, e);
}

int store_key_count(store *s, int64_t *out, st_err *e)
{
    return stm_key_count(s, out, e);
}

int store_stats(store *s, int64_t *files, int64_t *bytes, st_err *e)
{
    meta_stats st = {0, 0};
    int rc = stm_stats(s, &st, e);
    *files = rc == ST_OK ? st.files : -1;
    *bytes = rc == ST_OK ? st.bytes : -1;
    return rc;
}

void store_retry_stats(store *s, int64_t *retries, int64_t *resolved)
{
    *retries = atomic_load(&s->retries);
    *resolved = atomic_load(&s->resolved);
}

/* ---- shared helpers ---- */

int st_batch_check(const store *s, const char *purpose, int64_t bytes, st_err *e)
{
    if (purpose && !strcmp(purpose, "batch") && bytes > s->lim.batch_max)
        return st_fail_client(e, ST_E_LIMIT, NULL, "File is too large.");
    return ST_OK;
}

int st_quota(store *s, st_err *e)
{
    char lim[48];
    store_format_limit(s->lim.org_max, lim, sizeof lim);
    return st_fail_client(e, ST_E_QUOTA, NULL,
                          "You have exceeded your file storage quota. Organizations are limited "
                          "to %s of files. Please delete old files or attempt with a smaller file "
                          "size.",
                          lim);
}

void store_format_limit(int64_t bytes, char *out, size_t cap)
{
    const int64_t gib = INT64_C(1) << 30, mib = INT64_C(1) << 20;
    if (bytes % gib == 0)
        snprintf(out, cap, "%" PRId64 " GB", bytes / gib);
    else if (bytes % mib == 0)
        snprintf(out, cap, "%" PRId64 " MB", bytes / mib);
    else
        snprintf(out, cap, "%" PRId64 " bytes", bytes);
}

int st_new_ids(store *s,
               char *id,
               size_t cap,
               int kind,
               int (*commit)(void *ctx, st_err *e),
               void *ctx,
               st_err *e)
{
    /* A fresh random id collides with an existing one only by accident: try a few. */
    int rc = ST_E_CONFLICT;
    for (int attempt = 0; attempt < 4 && rc == ST_E_CONFLICT; attempt++) {
        st_err mine = ST_ERR_INIT;
        int idrc =
            kind == ST_ID_FILE
                ? id_file_new(id)
                : id_upload_new(id, cap, kind == ST_ID_PART ? "part_" : "upload_", store_now(s));
        if (idrc)
            return st_fail(e, ST_E_IO, "store", 0, "no random numbers for an id");
        rc = commit(ctx, &mine);
        if (rc != ST_E_CONFLICT && rc != ST_OK && e && e->code == ST_OK)
            *e = mine;
    }
    if (rc == ST_E_CONFLICT)
        st_fail(e, rc, "store", 0, "four fresh ids all collided");
    return rc;
}

int st_remove_blob_cb(const char *blob, void *ud)
{
    store *s = ud;
    st_err e = ST_ERR_INIT;
    if (s->b->ops->remove(s->b, blob, &e) == ST_OK) {
        stm_blob_tomb_done(s, blob, &e); /* if this fails, the removal is redone */
        return 0;
    }
    /* The tombstone stays: the collector retries later. Counted so drains stop for this pass
     * instead of taking the same tombstones again. */
    atomic_fetch_add(&s->remove_failures, 1);
    LOG(LOG_WARN, "msg=\"blob removal failed\" blob=%s code=%s backend=%s sys=%ld message=\"%s\"",
        blob, st_code_name(e.code), e.backend ? e.backend : "-", e.sys, e.msg);
    return 0;
}
