/*
 * Recovery and garbage collection. Every instance renews its owner's lease; only the one
 * holding the "gc" lease collects, so the work is done once however many instances share the
 * backends, and an instance that dies simply stops renewing: its intents become reapable and
 * another instance takes the gc lease when it runs out.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "server/log.h"
#include "server/store/store_internal.h"

#define BATCH        500
#define DRAIN_ROUNDS 100 /* batches per pass at most; the next pass goes on */
#define TOMB_GRACE                                                                                 \
    60                     /* a blob tombstone younger than this may still be cleared by its       \
                            * deleter; older ones were left by a crash */
#define ORPHAN_GRACE  60   /* a blob younger than this may be one a writer is about to commit */
#define STALE_WRITE_S 3600 /* an unfinished write untouched this long belongs to a dead writer */

static int drain(int (*take)(store *s, int64_t now, st_err *e), store *s, int64_t now, st_err *e);
static int take_tombs_all(store *s, int64_t now, st_err *e);

static int remove_file_blob(const meta_file *f, void *ud)
{
    return st_remove_blob_cb(f->blob, ud);
}

typedef struct alive_count {
    const char *self;
    int64_t now;
    int others;
} alive_count;

static int count_alive(const char *owner, int64_t expires_at, void *ud)
{
    alive_count *c = ud;
    c->others += expires_at > c->now && strcmp(owner, c->self) != 0;
    return 0;
}

/* 1 if no owner but this one is alive (its lease running) at now; 0 if another is or the
 * owners cannot be read. */
static int no_other_owner(store *s, int64_t now)
{
    alive_count c = {s->owner, now, 0};
    st_try t;
    int rc;
    st_try_init(&t, s);
    do {
        c.others = 0;
        rc = s->m->ops->owner_walk(s->m, count_alive, &c, &t.e);
    } while (st_try_again(&t, rc));
    return rc == ST_OK && c.others == 0;
}

int store_recover(store *s, st_err *e)
{
    int64_t now = store_now(s), host = st_host_now(s);
    int rc = stm_owner_renew(s, now, e);
    int reaped = rc ? rc : stm_intents_reap(s, now, st_remove_blob_cb, s, e);
    if (reaped < 0)
        return reaped;
    /* Every blob tombstone, however young: one left by this store's previous process (a crash
     * between a delete's commit and its removal) must be gone before the server serves again.
     * Removal is idempotent and keys are never reused, so racing a live deleter elsewhere only
     * duplicates its work. */
    int tombs = drain(take_tombs_all, s, now, e);
    if (tombs < 0)
        return tombs;
    /* With no other instance alive (alone on the backends, or the only owner with a live
     * lease), every unfinished write is a dead one's: removed now rather than after the grace
     * the collector gives live writers. Only what is older than this moment goes, so an
     * instance starting meanwhile loses nothing. Otherwise only writes untouched for a long
     * time are. (Blob times are the host's.) */
    int alone = s->exclusive || no_other_owner(s, now);
    int64_t older = s->exclusive ? INT64_MAX : alone ? host : host - STALE_WRITE_S;
    int stale = s->b->ops->reap_unfinished(s->b, older, e);
    if (stale < 0)
        return stale;
    LOG(LOG_INFO,
        "msg=recovered owner=%s alone=%d intents_reaped=%d tombstones_drained=%d "
        "temporaries_removed=%d",
        s->owner, alone, reaped, tombs, stale);
    return ST_OK;
}

/* The database's clock, where it has one, so instances with skewed clocks agree on expiry:
 * store_now is our clock corrected by the difference measured here (plus --clock-offset, the
 * testing aid that shifts the whole store's clock). */
void st_clock_sync(store *s)
{
    int64_t db;
    st_err e = ST_ERR_INIT;
    if ((s->m->ops->caps & META_CAP_CLOCK) && stm_clock(s, &db, &e) == ST_OK)
        atomic_store(&s->skew, db - st_host_now(s));
}

/* Runs take (a batch-taking op) until a batch comes back short or a blob removal fails. */
static int drain(int (*take)(store *s, int64_t now, st_err *e), store *s, int64_t now, st_err *e)
{
    /* bounded: a pass stops once a blob removal fails (those tombstones stay and would come
     * back in every batch) or after DRAIN_ROUNDS batches; the next pass goes on */
    int total = 0, n, rounds = 0, failed = atomic_load(&s->remove_failures);
    do {
        n = take(s, now, e);
        if (n < 0)
            return n;
        total += n;
    } while (n == BATCH && atomic_load(&s->remove_failures) == failed && ++rounds < DRAIN_ROUNDS);
    return total;
}

static int take_files(store *s, int64_t now, st_err *e)
{
    return stm_expired_take(s, now, BATCH, remove_file_blob, s, e);
}

static int take_uploads(store *s, int64_t now, st_err *e)
{
    return stm_upload_take_expired(s, now, BATCH, st_remove_blob_cb, s, e);
}

static int take_tombs(store *s, int64_t now, st_err *e)
{
    return stm_blob_tombs_take(s, now - TOMB_GRACE, BATCH, st_remove_blob_cb, s, e);
}

/* Every blob tombstone recorded at or before `before` (passed as drain's now). */
static int take_tombs_all(store *s, int64_t before, st_err *e)
{
    return stm_blob_tombs_take(s, before, BATCH, st_remove_blob_cb, s, e);
}

typedef struct orphan_walk {
    store *s;
    int64_t newest; /* blobs with a later mtime are left alone */
    int removed;
    atomic_int *stopping;
    char last[BLOB_KEY_LEN + 1];
} orphan_walk;

static int on_blob(const char *key, uint64_t size, int64_t mtime, void *ud)
{
    orphan_walk *o = ud;
    memcpy(o->last, key, sizeof o->last);
    if (o->stopping && atomic_load(o->stopping))
        return 1; /* the walk stops; the next pass finishes the job */
    if (mtime > o->newest)
        return 0;
    st_err e = ST_ERR_INIT;
    if (stm_blob_referenced(o->s, key, &e) == 0) {
        LOG(LOG_INFO, "msg=\"removing orphan blob\" blob=%s bytes=%llu", key,
            (unsigned long long)size);
        st_remove_blob_cb(key, o->s);
        o->removed++;
    }
    return 0;
}

/* A safety net: blobs that nothing references (their removal failed and the record of it
 * was lost, or a store older than blob tombstones). Page by page, in key order. */
static int orphan_pass(store *s, atomic_int *stopping, st_err *e)
{
    orphan_walk o = {s, (int64_t)time(NULL) - ORPHAN_GRACE, 0, stopping, ""};
    for (int got = 1000; got == 1000;) {
        got = s->b->ops->list(s->b, o.last, 1000, on_blob, &o, e);
        if (got < 0 && got != 1)
            return got;
    }
    return o.removed;
}

static int collect(
    store *s, int64_t now, int orphans, atomic_int *stopping, store_pass *p, st_err *e)
{
    int n;
    if ((n = drain(take_files, s, now, e)) < 0)
        return n;
    p->expired = n;
    if ((n = drain(take_uploads, s, now, e)) < 0)
        return n;
    p->uploads = n;
    if (stm_cursor_tombs_purge(s, now - s->lim.cursor_ttl, e) < 0 ||
        stm_uploads_purge(s, now - s->lim.upload_keep, e) < 0)
        return e ? e->code : ST_E_IO;
    if ((n = stm_intents_reap(s, now, st_remove_blob_cb, s, e)) < 0)
        return n;
    p->reaped = n;
    if ((n = drain(take_tombs, s, now, e)) < 0)
        return n;
    p->tombs = n;
    if ((n = s->b->ops->reap_unfinished(s->b, (int64_t)time(NULL) - STALE_WRITE_S, e)) < 0)
        return n;
    p->unfinished = n;
    if (orphans && (n = orphan_pass(s, stopping, e)) < 0)
        return n;
    p->orphans = orphans ? n : 0;
    return ST_OK;
}

int store_renew(store *s, st_err *e)
{
    st_clock_sync(s);
    return stm_owner_renew(s, store_now(s), e);
}

int store_maintain(store *s, int orphans, atomic_int *stopping, store_pass *out, st_err *e)
{
    store_pass p;
    memset(&p, 0, sizeof p);
    st_clock_sync(s);
    int64_t now = store_now(s);
    int rc = stm_owner_renew(s, now, e);
    int held = rc ? rc : stm_lease_take(s, "gc", now, e);
    if (held < 0)
        return held;
    p.gc = held;
    rc = held ? collect(s, now, orphans, stopping, &p, e) : ST_OK;
    if (out)
        *out = p;
    return rc;
}
