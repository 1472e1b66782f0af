/*
 * Streaming a body into a new blob, for POST /v1/files and the parts of the Uploads API:
 *
 *   store_ingest_begin   a declared length is reserved whole, or nothing is
 *   store_ingest_write   at the first byte an intent names a fresh blob key (never derived
 *                        from input), then the writer opens; without a reservation the quota is
 *                        checked as bytes arrive (the commit decides, atomically)
 *   store_ingest_file/part   the blob is made durable, then one metadata transaction swaps
 *                        the intent for the file's (or the part's) row
 *   store_ingest_free    anything not committed is undone: writer aborted, blob removed,
 *                        intent dropped with its reservation
 *
 * A crash anywhere leaves at most an intent of this instance's owner, which the recovery of
 * whoever outlives the owner's lease reaps (its blob removed).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/store/store_internal.h"

#define QUOTA_CHECK_STEP (8 << 20) /* unreserved ingests check the quota every 8 MiB */

struct store_ingest {
    store *s;
    int kind; /* STORE_INGEST_FILE / PART */
    char org[META_ORG_MAX];
    blob_writer *w;
    char blob[BLOB_KEY_LEN + 1];
    int intent, blob_committed, committed;
    int batch;    /* purpose batch: its own limit */
    int no_quota; /* an Upload's assembly: its parts are counted already; the commit decides */
    int64_t bytes, reserved, checked, max;
};

int store_fail_too_large(st_err *e, const char *what, int64_t max, int64_t got)
{
    return st_fail_client(
        e, ST_E_TOO_LARGE, NULL, "%s%sMaximum content size limit (%lld) exceeded (%lld bytes read)",
        what ? what : "", what ? " is too large. " : "", (long long)max, (long long)got);
}

static int open_writer(store_ingest *g, st_err *e);

static const char *noun(const store_ingest *g)
{
    return g->kind == STORE_INGEST_PART ? "Part" : "File";
}

/* used + reserved + add <= max, without overflow (all >= 0). */
static int fits(int64_t used, int64_t reserved, int64_t add, int64_t max)
{
    return used <= max && reserved <= max - used && add <= max - used - reserved;
}

/* For an ingest holding no reservation: can need bytes fit beside what is used and what other
 * uploads hold now? Reads only; the commit decides. */
static int quota_check(store_ingest *g, int64_t need, st_err *e)
{
    store *s = g->s;
    int64_t used = 0, reserved = 0;
    int rc = stm_org_usage(s, g->org, &used, &reserved, e);
    if (rc)
        return rc;
    g->checked = need;
    return fits(used, reserved, need, s->lim.org_max) ? ST_OK : st_quota(s, e);
}

/* The intent names the blob before any byte of it exists. */
static int intent(store_ingest *g, st_err *e)
{
    if (g->intent)
        return ST_OK;
    if (blob_key_new(g->blob))
        return st_fail(e, ST_E_IO, "store", 0, "no random numbers for a blob key");
    store *s = g->s;
    int rc = stm_intent_open(s, g->org, g->blob, store_now(s), e);
    if (rc == ST_OK)
        g->intent = 1;
    return rc;
}

/* Reserves delta against the fresh intent. Adding is not the same twice: when a lost connection
 * leaves it unknown whether the reservation was made, the intent is dropped (which releases
 * whatever it holds) and a new one, under a new key, is reserved instead (a bounded number of
 * times). */
static int reserve(store_ingest *g, int64_t delta, st_err *e)
{
    store *s = g->s;
    for (int restart = 0;; restart++) {
        int unknown = 0;
        st_err mine = ST_ERR_INIT, drop = ST_ERR_INIT;
        int rc = stm_intent_reserve(s, g->blob, delta, &unknown, &mine);
        if (!unknown || restart >= s->lim.meta_retries || stm_intent_drop(s, g->blob, &drop)) {
            if (rc && e && e->code == ST_OK)
                *e = mine;
            return rc; /* an intent left holding a reservation is dropped by store_ingest_free */
        }
        g->intent = 0;
        if ((rc = intent(g, e)) != ST_OK)
            return rc;
    }
}

int store_ingest_begin(store *s,
                       const char *org,
                       int64_t declared,
                       int64_t overhead,
                       int64_t max,
                       int kind,
                       store_ingest **out,
                       st_err *e)
{
    *out = NULL;
    if (declared - overhead > max)
        return store_fail_too_large(e, kind == STORE_INGEST_PART ? "Part" : "File", max, declared);
    store_ingest *g = calloc(1, sizeof *g);
    if (!g)
        return st_fail(e, ST_E_NOMEM, "store", 0, "no memory");
    g->s = s;
    g->kind = kind;
    g->max = max;
    snprintf(g->org, sizeof g->org, "%s", org);
    int rc = ST_OK;
    if (declared > 0) {
        st_err mine = ST_ERR_INIT;
        rc = intent(g, e);
        if (rc == ST_OK)
            rc = reserve(g, declared, &mine);
        if (rc == ST_OK) /* the body cannot be longer: the quota can no longer refuse it */
            g->reserved = declared;
        else if (rc == ST_E_QUOTA) /* hold nothing; refuse only what cannot fit at all */
            rc = declared - overhead > 0 ? quota_check(g, declared - overhead, e) : ST_OK;
        else if (e && e->code == ST_OK)
            *e = mine;
    }
    if (rc) {
        store_ingest_free(g);
        return rc;
    }
    *out = g;
    return ST_OK;
}

void store_ingest_purpose(store_ingest *g, const char *purpose)
{
    g->batch = purpose && !strcmp(purpose, "batch");
}

int store_ingest_write(store_ingest *g, const void *data, size_t len, st_err *e)
{
    store *s = g->s;
    int64_t after = g->bytes + (int64_t)len;
    if (after > g->max)
        return store_fail_too_large(e, noun(g), g->max, after);
    int rc = st_batch_check(s, g->batch ? "batch" : NULL, after, e);
    if (rc)
        return rc;
    rc = open_writer(g, e);
    if (rc)
        return rc;
    /* Without a reservation: checked at the first bytes, then every QUOTA_CHECK_STEP. */
    if (!g->no_quota && after > g->reserved &&
        (g->checked == 0 || after - g->checked >= QUOTA_CHECK_STEP) &&
        (rc = quota_check(g, after, e)) != ST_OK)
        return rc;
    rc = blob_writer_write(g->w, data, len, e);
    if (rc == ST_OK)
        g->bytes = after;
    return rc;
}

int64_t store_ingest_bytes(const store_ingest *g)
{
    return g->bytes;
}

/* The blob durable (an empty body still makes an empty blob). */
static int durable(store_ingest *g, st_err *e)
{
    int rc = open_writer(g, e);
    if (rc == ST_OK && !g->no_quota && g->bytes > g->reserved && g->bytes - g->checked > 0)
        rc = quota_check(g, g->bytes, e);
    if (rc)
        return rc;
    blob_writer *w = g->w;
    g->w = NULL; /* commit frees the writer, also on failure */
    rc = blob_writer_commit(w, e);
    if (rc == ST_OK)
        g->blob_committed = 1;
    return rc;
}

void st_ingest_no_quota(store_ingest *g)
{
    g->no_quota = 1;
}

static int open_writer(store_ingest *g, st_err *e)
{
    int rc = ST_OK;
    if (!g->w && (rc = intent(g, e)) == ST_OK)
        rc = g->s->b->ops->writer_open(g->s->b, g->blob, &g->w, e);
    return rc;
}

int st_ingest_compose(store_ingest *g, const char *src, uint64_t len, st_err *e)
{
    int rc = open_writer(g, e);
    if (rc == ST_OK)
        rc = g->s->b->ops->compose(g->w, src, 0, len, e);
    if (rc == ST_OK)
        g->bytes += (int64_t)len;
    return rc;
}

int st_ingest_durable(store_ingest *g, meta_file *f, st_err *e)
{
    int rc = durable(g, e);
    if (rc == ST_OK) {
        memcpy(f->blob, g->blob, sizeof f->blob);
        f->bytes = g->bytes;
    }
    return rc;
}

void st_ingest_committed(store_ingest *g)
{
    g->committed = 1;
}

typedef struct file_commit_ctx {
    store_ingest *g;
    meta_file *f;
} file_commit_ctx;

static int commit_file(void *ctx, st_err *e)
{
    file_commit_ctx *c = ctx;
    store *s = c->g->s;
    return stm_file_commit(s, c->f, e);
}

int store_ingest_file(store_ingest *g, meta_file *f, st_err *e)
{
    store *s = g->s;
    int rc = st_batch_check(s, f->purpose, g->bytes, e);
    if (rc == ST_OK)
        rc = durable(g, e);
    if (rc)
        return rc;
    snprintf(f->org, sizeof f->org, "%s", g->org);
    memcpy(f->blob, g->blob, sizeof f->blob);
    f->bytes = g->bytes;
    file_commit_ctx ctx = {g, f};
    rc = st_new_ids(s, f->id, sizeof f->id, ST_ID_FILE, commit_file, &ctx, e);
    if (rc == ST_E_QUOTA) {
        st_err_clear(e);
        return st_quota(s, e);
    }
    if (rc == ST_OK)
        g->committed = 1;
    return rc;
}

typedef struct part_commit_ctx {
    store_ingest *g;
    const meta_upload *u;
    meta_part *p;
} part_commit_ctx;

/* Parts may total twice the declared bytes: a client whose part was committed but whose answer
 * was lost (a crash, a dropped connection) sends it again; parts not listed at completion are
 * dropped, and every part counts against the quota meanwhile. */
static int commit_part(void *ctx, st_err *e)
{
    part_commit_ctx *c = ctx;
    store *s = c->g->s;
    int64_t parts_max = c->u->bytes > INT64_MAX / 2 ? INT64_MAX : 2 * c->u->bytes;
    return stm_part_commit(s, c->p, store_now(s), parts_max, e);
}

int store_ingest_part(store_ingest *g, const meta_upload *u, meta_part *p, st_err *e)
{
    store *s = g->s;
    int rc = durable(g, e);
    if (rc)
        return rc;
    snprintf(p->org, sizeof p->org, "%s", g->org);
    snprintf(p->upload_id, sizeof p->upload_id, "%s", u->id);
    memcpy(p->blob, g->blob, sizeof p->blob);
    p->bytes = g->bytes;
    p->created_at = store_now(s);
    part_commit_ctx ctx = {g, u, p};
    st_err mine = ST_ERR_INIT;
    rc = st_new_ids(s, p->id, sizeof p->id, ST_ID_PART, commit_part, &ctx, &mine);
    if (rc == ST_OK) {
        g->committed = 1;
        return ST_OK;
    }
    if (rc == ST_E_QUOTA)
        return st_quota(s, e);
    if (rc == ST_E_LIMIT)
        return st_fail_client(e, ST_E_LIMIT, "data",
                              "Adding this part (%lld bytes) would exceed the %lld bytes declared "
                              "for Upload %s (parts may total at most twice that, so that lost "
                              "parts can be sent again).",
                              (long long)p->bytes, (long long)u->bytes, u->id);
    if (e && e->code == ST_OK)
        *e = mine;
    return rc;
}

void store_ingest_free(store_ingest *g)
{
    if (!g)
        return;
    store *s = g->s;
    st_err e = ST_ERR_INIT;
    blob_writer_abort(g->w);
    if (!g->committed && g->blob_committed)
        s->b->ops->remove(s->b, g->blob, &e); /* a failure leaves it to the intent's reaper */
    if (!g->committed && g->intent)
        stm_intent_drop(s, g->blob, &e);
    free(g);
}
