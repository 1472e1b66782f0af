#include "server/sweeper.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/log.h"

#define EXPIRE_BATCH 500
/* Blobs younger than this are never treated as orphans: protects a blob renamed into place by
 * a writer whose intent row another process (a future multi-instance store) just created. */
#define ORPHAN_MIN_AGE 60

struct sweeper {
    app *app;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    atomic_int stopping; /* read by long walks so SIGTERM need not wait for them */
};

static int remove_blob(const char *blob, void *ud)
{
    app *a = ud;
    st_err e = ST_ERR_INIT;
    if (a->blob->ops->remove(a->blob, blob, &e))
        LOG(LOG_WARN, "msg=\"cannot remove blob\" blob=%s error=\"%s\"", blob, e.msg);
    return 0;
}

typedef struct orphan_ctx {
    app *a;
    int64_t now;
    int removed;
    atomic_int *stopping;        /* may be NULL */
    char last[BLOB_KEY_LEN + 1]; /* the last key seen: where the next page starts */
} orphan_ctx;

static int on_blob(const char *key, uint64_t size, int64_t mtime, void *ud)
{
    orphan_ctx *o = ud;
    memcpy(o->last, key, sizeof o->last);
    if (o->stopping && atomic_load(o->stopping))
        return 1; /* the walk stops; the next start's first pass finishes the job */
    if (o->now != INT64_MAX && mtime > o->now - ORPHAN_MIN_AGE)
        return 0;
    int ref = o->a->meta->ops->blob_referenced(o->a->meta, key);
    if (ref == 0) {
        LOG(LOG_INFO, "msg=\"removing orphan blob\" blob=%s bytes=%llu", key,
            (unsigned long long)size);
        remove_blob(key, o->a);
        o->removed++;
    }
    return 0;
}

int sweeper_recover(app *a)
{
    st_err e = ST_ERR_INIT;
    /* One argotd per data dir (the LOCK file): every unfinished write is a dead writer's. */
    int n = a->blob->ops->reap_unfinished(a->blob, INT64_MAX, &e);
    if (n < 0) {
        LOG(LOG_ERROR, "msg=\"cannot sweep temporaries\" error=\"%s\"", e.msg);
        return -1;
    }
    int rc = a->meta->ops->intent_take_all(a->meta, remove_blob, a);
    if (rc < 0) {
        LOG(LOG_ERROR, "msg=\"cannot recover upload intents\" rc=%d", rc);
        return -1;
    }
    /* Orphan blobs are left to the sweeper thread's first pass, which starts with the server:
     * walking every blob here made startup take seconds at a million files. */
    LOG(LOG_INFO, "msg=recovered temporaries_removed=%d", n);
    return 0;
}

static int on_expired(const meta_file *f, void *ud)
{
    remove_blob(f->blob, ud);
    return 0;
}

/* guarded: skip blobs younger than ORPHAN_MIN_AGE. The first pass after startup is unguarded:
 * every intent of the previous process is gone, and a blob being written now is named by its
 * intent before it reaches blobs/ and by its file row after, in one transaction, so the single
 * blob_referenced query can never see it unreferenced. */
static int pass(app *a, int guarded, atomic_int *stopping)
{
    int total = 0, n;
    do {
        n = a->meta->ops->expired_take(a->meta, app_now(a), EXPIRE_BATCH, on_expired, a);
        if (n < 0) {
            LOG(LOG_WARN, "msg=\"expiry sweep failed\" rc=%d", n);
            return -1;
        }
        total += n;
    } while (n == EXPIRE_BATCH);
    /* Uploads neither completed nor cancelled within their hour: marked expired, parts
     * reclaimed (rows and usage in one transaction, then the blobs). */
    do {
        n = a->meta->ops->upload_take_expired(a->meta, app_now(a), EXPIRE_BATCH, remove_blob, a);
        if (n < 0) {
            LOG(LOG_WARN, "msg=\"upload expiry sweep failed\" rc=%d", n);
            return -1;
        }
        total += n;
    } while (n == EXPIRE_BATCH);
    /* Tombstones (the ids of deleted and expired files, still valid list cursors) are kept
     * --tombstone-seconds, then go at the next pass. */
    int tombs = a->meta->ops->tombstone_purge(a->meta, app_now(a) - a->cfg->tombstone_seconds);
    if (tombs < 0)
        LOG(LOG_WARN, "msg=\"tombstone purge failed\" rc=%d", tombs);
    /* Blob mtimes are real time, not the (possibly offset) API clock. */
    orphan_ctx o = {a, guarded ? (int64_t)time(NULL) : INT64_MAX, 0, stopping, ""};
    for (int got = 1000; got == 1000;) { /* page by page, in key order */
        st_err e = ST_ERR_INIT;
        got = a->blob->ops->list(a->blob, o.last, 1000, on_blob, &o, &e);
        if (got < 0)
            LOG(LOG_WARN, "msg=\"orphan sweep failed\" error=\"%s\"", e.msg);
    }
    if (total || o.removed || tombs > 0)
        LOG(LOG_INFO, "msg=swept expired=%d orphans=%d tombstones=%d", total, o.removed,
            tombs > 0 ? tombs : 0);
    return total + o.removed;
}

int sweeper_pass(app *a)
{
    return pass(a, 1, NULL);
}

static void *run(void *arg)
{
    sweeper *s = arg;
    int guarded = 0;
    pthread_mutex_lock(&s->mu);
    while (!s->stop) {
        pthread_mutex_unlock(&s->mu);
        pass(s->app, guarded, &s->stopping);
        guarded = 1;
        pthread_mutex_lock(&s->mu);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += s->app->cfg->sweep_interval;
        while (!s->stop && pthread_cond_timedwait(&s->cv, &s->mu, &ts) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

int sweeper_start(sweeper **out, app *a)
{
    sweeper *s = calloc(1, sizeof *s);
    if (!s)
        return -1;
    s->app = a;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    if (pthread_create(&s->thread, NULL, run, s)) {
        free(s);
        return -1;
    }
    *out = s;
    return 0;
}

void sweeper_stop(sweeper *s)
{
    if (!s)
        return;
    atomic_store(&s->stopping, 1);
    pthread_mutex_lock(&s->mu);
    s->stop = 1;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}
