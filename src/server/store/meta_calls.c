/*
 * The frontend's calls into the metadata backend, each with its retry rule (retry.c):
 *
 *   reads, and changes that are the same when made twice (owner and lease renewals, purges,
 *   tombstone clears, batch takes whose rows a lost commit may have taken: the next batch is
 *   taken instead, and their blobs stay blob tombstones for the collector): tried again as they
 *   are;
 *   walks that call back (lists, parts): tried again only if no row reached the caller yet;
 *   changes that are not the same twice: tried again, and where a lost connection leaves their
 *   outcome unknown, a failure of the retry is checked against the store (did the lost attempt
 *   make the change?) before it is reported:
 *     intent_open      CONFLICT on our own fresh random key: the lost attempt made the intent
 *     file_commit      the intent gone: the file row with this id and blob is in
 *     part_commit      the intent gone: the part with this id and blob is in
 *     upload_complete  the upload completed with this file id
 *     upload_create    CONFLICT on our fresh id: the upload with it is ours (same created_at)
 *     upload_cancel    STATE, cancelled: the lost attempt cancelled it
 *     file_delete      NOTFOUND, but the id's cursor tombstone is there: deleted (the blob,
 *                      unknown to us, stays a blob tombstone for the collector)
 *     intent_drop      NOTFOUND: dropped
 *   intent_reserve is not the same twice (it adds); ingest.c starts the intent over instead
 *   (stm_intent_reserve reports a lost attempt through *unknown).
 */
#include <stdio.h>
#include <string.h>

#include "server/store/store_internal.h"

#define M(s)   ((s)->m)
#define OPS(s) ((s)->m->ops)

/* The body of a call tried again as it is (the first group below): call is the attempt, with
 * TRY_E as its error record. */
#define AS_IS(s, e, call)                                                                          \
    do {                                                                                           \
        st_try t_;                                                                                 \
        int rc_;                                                                                   \
        st_try_init(&t_, s);                                                                       \
        do                                                                                         \
            rc_ = (call);                                                                          \
        while (st_try_again(&t_, rc_));                                                            \
        return st_try_end(&t_, rc_, e);                                                            \
    } while (0)
#define TRY_E (&t_.e)

/* ---- walks: a retry only while nothing reached the caller ---- */

typedef struct counted {
    meta_file_cb file;
    meta_part_cb part;
    meta_blob_cb blob;
    void *ud;
    long calls;
} counted;

static int file_tramp(const meta_file *f, void *ud)
{
    counted *c = ud;
    c->calls++;
    return c->file(f, c->ud);
}

static int part_tramp(const meta_part *p, void *ud)
{
    counted *c = ud;
    c->calls++;
    return c->part(p, c->ud);
}

static int blob_tramp(const char *b, void *ud)
{
    counted *c = ud;
    c->calls++;
    return c->blob(b, c->ud);
}

static int again_if_silent(st_try *t, int rc, const counted *c)
{
    return c->calls == 0 && st_try_again(t, rc);
}

/* ---- owners, leases, keys, accounting, clock: as they are ---- */

int stm_owner_renew(store *s, int64_t now, st_err *e)
{
    AS_IS(s, e, OPS(s)->owner_renew(M(s), s->owner, now, s->lim.lease_ttl, TRY_E));
}

int stm_owner_forget(store *s, const char *owner, const char *self, st_err *e)
{
    AS_IS(s, e, OPS(s)->owner_forget(M(s), owner, self, TRY_E));
}

int stm_lease_take(store *s, const char *name, int64_t now, st_err *e)
{
    AS_IS(s, e, OPS(s)->lease_take(M(s), name, s->owner, now, s->lim.lease_ttl, TRY_E));
}

int stm_key_lookup(store *s, const uint8_t hash[32], char org[META_ORG_MAX], st_err *e)
{
    AS_IS(s, e, OPS(s)->key_lookup(M(s), hash, org, TRY_E));
}

int stm_key_count(store *s, int64_t *out, st_err *e)
{
    AS_IS(s, e, OPS(s)->key_count_active(M(s), out, TRY_E));
}

int stm_stats(store *s, meta_stats *out, st_err *e)
{
    AS_IS(s, e, OPS(s)->stats(M(s), out, TRY_E));
}

int stm_org_usage(store *s, const char *org, int64_t *used, int64_t *reserved, st_err *e)
{
    AS_IS(s, e, OPS(s)->org_usage(M(s), org, used, reserved, TRY_E));
}

int stm_org_file_count(store *s, const char *org, int64_t now, int64_t *out, st_err *e)
{
    AS_IS(s, e, OPS(s)->org_file_count(M(s), org, now, out, TRY_E));
}

int stm_clock(store *s, int64_t *now, st_err *e)
{
    AS_IS(s, e, OPS(s)->clock(M(s), now, TRY_E));
}

/* ---- intents ---- */

int stm_intent_open(store *s, const char *org, const char *blob, int64_t now, st_err *e)
{
    st_try t;
    int rc;
    st_try_init(&t, s);
    do
        rc = OPS(s)->intent_open(M(s), org, blob, s->owner, now, &t.e);
    while (st_try_again(&t, rc));
    /* The key is fresh and random: a CONFLICT after a lost try is that try's intent. */
    if (rc == ST_E_CONFLICT && t.unknown)
        rc = st_try_resolved(&t, rc);
    return st_try_end(&t, rc, e);
}

int stm_intent_reserve(store *s, const char *blob, int64_t delta, int *unknown, st_err *e)
{
    st_try t;
    int rc;
    st_try_init(&t, s);
    do
        rc = OPS(s)->intent_reserve(M(s), blob, delta, s->lim.org_max, &t.e);
    while (t.e.code != ST_E_UNAVAILABLE && st_try_again(&t, rc));
    /* A lost connection: the reservation may have been made, and adding it again could hold
     * twice as much; the caller starts the intent over instead. */
    *unknown = rc < 0 && t.e.code == ST_E_UNAVAILABLE;
    return st_try_end(&t, rc, e);
}

int stm_intent_drop(store *s, const char *blob, st_err *e)
{
    st_try t;
    int rc;
    st_try_init(&t, s);
    do
        rc = OPS(s)->intent_drop(M(s), blob, &t.e);
    while (st_try_again(&t, rc));
    if (rc == ST_E_NOTFOUND && t.unknown)
        rc = st_try_resolved(&t, rc);
    return st_try_end(&t, rc, e);
}

int stm_intents_reap(store *s, int64_t now, meta_blob_cb cb, void *ud, st_err *e)
{
    st_try t;
    int rc;
    st_try_init(&t, s);
    do
        rc = OPS(s)->intents_reap(M(s), s->owner, now, cb, ud, &t.e);
    while (st_try_again(&t, rc));
    return st_try_end(&t, rc, e);
}

/* Is the file row id, with this blob, in? (now 0: expired ones count too.) */
static int file_is_in(store *s, const meta_file *f)
{
    meta_file got;
    st_err ignore = ST_ERR_INIT;
    return OPS(s)->file_get(M(s), f->org, f->id, 0, &got, &ignore) == ST_OK &&
           !strcmp(got.blob, f->blob);
}

int stm_file_commit(store *s, const meta_file *f, st_err *e)
{
    st_try t;
    int rc;
    st_try_init(&t, s);
    do
        rc = OPS(s)->file_commit(M(s), f, s->lim.org_max, &t.e);
    while (st_try_again(&t, rc));
    if (rc < 0 && t.unknown && file_is_in(s, f))
        rc = st_try_resolved(&t, rc);
    return st_try_end(&t, rc, e);
}

/* ---- files ---- */

int stm_file_get(store *s, const char *org, const char *id, int64_t now, meta_file *out, st_err *e)
{
    st_try t;
    int rc;
    st_try_init(&t, s);
    do
        rc = OPS(s)->file_get(M(s), org, id, now, out, &t.e);
    while (st_try_again(&t, rc));
    return st_try_end(&t, rc, e);
}

int stm_file_position(store *s, const char *org, const char *id, meta_pos *out, st_err *e)
{
    AS_IS(s, e, OPS(s)->file_position(M(s), org, id, out, TRY_E));
}

int stm_file_list(
    store *s, const meta_list_req *req, meta_file_cb cb, void *ud, int *has_more, st_err *e)
{
    counted c = {.file = cb, .ud = ud};
    st_try t;
    int rc;
    st_try_init(&t, s);
    do
        rc = OPS(s)->file_list(M(s), req, file_tramp, &c, has_more, &t.e);
    while (again_if_silent(&t, rc, &c));
    return st_try_end(&t, rc, e);
}

/* After a lost attempt: NOTFOUND, yet the id has its cursor tombstone and no row: deleted. */
static int file_was_deleted(store *s, const char *org, const char *id)
{
    meta_file got;
    meta_pos pos;
    st_err ignore = ST_ERR_INIT;
    return OPS(s)->file_get(M(s), org, id, 0, &got, &ignore) == ST_E_NOTFOUND &&
           OPS(s)->file_position(M(s), org, id, &pos, &ignore) == ST_OK;
}

int stm_file_delete(
    store *s, const char *org, const char *id, int64_t now, meta_file *out, st_err *e)
{
    st_try t;
    int rc;
    st_try_init(&t, s);
    do
        rc = OPS(s)->file_delete(M(s), org, id, now, out, &t.e);
    while (st_try_again(&t, rc));
    if (rc == ST_E_NOTFOUND && t.unknown && file_was_deleted(s, org, id)) {
        memset(out, 0, sizeof *out); /* the blob is the collector's (its blob tombstone) */
        (void)snprintf(out->id, sizeof out->id, "%s", id);
        (void)snprintf(out->org, sizeof out->org, "%s", org);
        rc = st_try_resolved(&t, rc);
    }
    return st_try_end(&t, rc, e);
}

int stm_expired_take(store *s, int64_t now, int limit, meta_file_cb cb, void *ud, st_err *e)
{
    st_try t;
    int rc;
    st_try_init(&t, s);
    do
        rc = OPS(s)->expired_take(M(s), now, limit, cb, ud, &t.e);
    while (st_try_again(&t, rc));
    return st_try_end(&t, rc, e);
}

int stm_blob_referenced(store *s, const char *blob, st_err *e)
{
    AS_IS(s, e, OPS(s)->blob_referenced(M(s), blob, TRY_E));
}

int stm_cursor_tombs_purge(store *s, int64_t before, st_err *e)
{
    AS_IS(s, e, OPS(s)->cursor_tombs_purge(M(s), before, TRY_E));
}

int stm_blob_tombs_take(store *s, int64_t before, int limit, meta_blob_cb cb, void *ud, st_err *e)
{
    counted c = {.blob = cb, .ud = ud};
    st_try t;
    int rc;
    st_try_init(&t, s);
    do
        rc = OPS(s)->blob_tombs_take(M(s), before, limit, blob_tramp, &c, &t.e);
    while (again_if_silent(&t, rc, &c));
    return st_try_end(&t, rc, e);
}

int stm_blob_tomb_done(store *s, const char *blob, st_err *e)
{
    AS_IS(s, e, OPS(s)->blob_tomb_done(M(s), blob, TRY_E));
}

/* ---- uploads ---- */

int stm_upload_create(store *s, const meta_upload *u, st_err *e)
{
    st_try t;
    int rc;
    st_try_init(&t, s);
    do
        rc = OPS(s)->upload_create(M(s), u, &t.e);
    while (st_try_again(&t, rc));
    if (rc == ST_E_CONFLICT && t.unknown) {
        meta_upload got;
        st_err ignore = ST_ERR_INIT;
        if (OPS(s)->upload_get(M(s), u->org, u->id, &got, &ignore) == ST_OK &&
            got.created_at == u->created_at && got.bytes == u->bytes &&
            !strcmp(got.filename, u->filename))
            rc = st_try_resolved(&t, rc);
    }
    return st_try_end(&t, rc, e);
}

int stm_upload_get(store *s, const char *org, const char *id, meta_upload *out, st_err *e)
{
    st_try t;
    int rc;
    st_try_init(&t, s);
    do
        rc = OPS(s)->upload_get(M(s), org, id, out, &t.e);
    while (st_try_again(&t, rc));
    return st_try_end(&t, rc, e);
}

int stm_upload_cancel(store *s,
                      const char *org,
                      const char *id,
                      int64_t now,
                      meta_upload *out,
                      meta_blob_cb cb,
                      void *ud,
                      st_err *e)
{
    st_try t;
    int rc;
    st_try_init(&t, s);
    do
        rc = OPS(s)->upload_cancel(M(s), org, id, now, out, cb, ud, &t.e);
    while (st_try_again(&t, rc));
    if (rc == ST_E_STATE && t.unknown && out->status == META_UPLOAD_CANCELLED)
        rc = st_try_resolved(&t, rc); /* its part blobs stay blob tombstones */
    return st_try_end(&t, rc, e);
}

typedef struct part_find {
    const meta_part *want;
    int found;
} part_find;

static int part_match(const meta_part *p, void *ud)
{
    part_find *pf = ud;
    if (!strcmp(p->id, pf->want->id) && !strcmp(p->blob, pf->want->blob))
        pf->found = 1;
    return pf->found;
}

static int part_is_in(store *s, const meta_part *p)
{
    part_find pf = {p, 0};
    st_err ignore = ST_ERR_INIT;
    (void)OPS(s)->upload_parts(M(s), p->org, p->upload_id, part_match, &pf, &ignore);
    return pf.found;
}

int stm_part_commit(store *s, const meta_part *p, int64_t now, int64_t parts_max, st_err *e)
{
    st_try t;
    int rc;
    st_try_init(&t, s);
    do
        rc = OPS(s)->part_commit(M(s), p, now, s->lim.org_max, parts_max, &t.e);
    while (st_try_again(&t, rc));
    if (rc < 0 && t.unknown && part_is_in(s, p))
        rc = st_try_resolved(&t, rc);
    return st_try_end(&t, rc, e);
}

int stm_upload_parts(
    store *s, const char *org, const char *upload_id, meta_part_cb cb, void *ud, st_err *e)
{
    counted c = {.part = cb, .ud = ud};
    st_try t;
    int rc;
    st_try_init(&t, s);
    do
        rc = OPS(s)->upload_parts(M(s), org, upload_id, part_tramp, &c, &t.e);
    while (again_if_silent(&t, rc, &c));
    return st_try_end(&t, rc, e);
}

int stm_upload_complete(store *s,
                        const char *upload_id,
                        const meta_file *f,
                        int64_t now,
                        meta_blob_cb cb,
                        void *ud,
                        st_err *e)
{
    st_try t;
    int rc;
    st_try_init(&t, s);
    do
        rc = OPS(s)->upload_complete(M(s), upload_id, f, now, s->lim.org_max, cb, ud, &t.e);
    while (st_try_again(&t, rc));
    if (rc < 0 && t.unknown) {
        meta_upload got;
        st_err ignore = ST_ERR_INIT;
        if (OPS(s)->upload_get(M(s), f->org, upload_id, &got, &ignore) == ST_OK &&
            got.status == META_UPLOAD_COMPLETED && !strcmp(got.file_id, f->id))
            rc = st_try_resolved(&t, rc); /* the parts' blobs stay blob tombstones */
    }
    return st_try_end(&t, rc, e);
}

int stm_upload_take_expired(store *s, int64_t now, int limit, meta_blob_cb cb, void *ud, st_err *e)
{
    st_try t;
    int rc;
    st_try_init(&t, s);
    do
        rc = OPS(s)->upload_take_expired(M(s), now, limit, cb, ud, &t.e);
    while (st_try_again(&t, rc));
    return st_try_end(&t, rc, e);
}

int stm_uploads_purge(store *s, int64_t before, st_err *e)
{
    AS_IS(s, e, OPS(s)->uploads_purge(M(s), before, TRY_E));
}
