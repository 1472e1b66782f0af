#include "server/sweeper.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "server/log.h"

struct sweeper {
    app *app;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    atomic_int stopping; /* read by long walks so SIGTERM need not wait for them */
};

int sweeper_recover(app *a)
{
    st_err e = ST_ERR_INIT;
    if (store_recover(a->store, &e) == ST_OK)
        return 0;
    LOG(LOG_ERROR, "msg=\"recovery failed\" code=%s backend=%s message=\"%s\"",
        st_code_name(e.code), e.backend ? e.backend : "-", e.msg);
    return -1;
}

static int pass(app *a, atomic_int *stopping)
{
    store_pass p;
    st_err e = ST_ERR_INIT;
    if (store_maintain(a->store, 1, stopping, &p, &e) != ST_OK) {
        LOG(LOG_WARN, "msg=\"maintenance pass failed\" code=%s backend=%s message=\"%s\"",
            st_code_name(e.code), e.backend ? e.backend : "-", e.msg);
        return -1;
    }
    int total = p.expired + p.uploads + p.reaped + p.unfinished + p.tombs + p.orphans;
    if (total)
        LOG(LOG_INFO,
            "msg=swept expired=%d uploads=%d intents=%d temporaries=%d tombstones=%d orphans=%d",
            p.expired, p.uploads, p.reaped, p.unfinished, p.tombs, p.orphans);
    return total;
}

int sweeper_pass(app *a)
{
    return pass(a, NULL);
}

static int64_t mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec;
}

/* Waits up to secs seconds, or until the stop; returns 1 when stopping. Caller holds mu. */
static int nap(sweeper *s, int64_t secs)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += secs;
    while (!s->stop && pthread_cond_timedwait(&s->cv, &s->mu, &ts) != ETIMEDOUT)
        ;
    return s->stop;
}

/* The lease is renewed every third of its length; the collection runs every --sweep-interval
 * (at once at start). */
static void *run(void *arg)
{
    sweeper *s = arg;
    const cfg *c = s->app->cfg;
    int64_t renew = c->lease_seconds / 3 > 0 ? c->lease_seconds / 3 : 1;
    int64_t step = renew < c->sweep_interval ? renew : c->sweep_interval, last = -1;
    pthread_mutex_lock(&s->mu);
    while (!s->stop) {
        pthread_mutex_unlock(&s->mu);
        int64_t now = mono_s();
        if (last < 0 || now - last >= c->sweep_interval) {
            pass(s->app, &s->stopping);
            last = now;
        } else {
            st_err e = ST_ERR_INIT;
            if (store_renew(s->app->store, &e))
                LOG(LOG_WARN, "msg=\"lease renewal failed\" message=\"%s\"", e.msg);
        }
        pthread_mutex_lock(&s->mu);
        if (nap(s, step))
            break;
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
