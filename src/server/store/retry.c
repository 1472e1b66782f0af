/*
 * Retries of metadata calls (store_internal.h, "retries"). A failure the backend marks
 * retryable (a serialization failure or a deadlock: the transaction was rolled back; a lost
 * connection: the backend connects again on the next call) is tried again up to
 * lim.meta_retries times after a short jittered sleep, when the failed attempt was quick: a
 * wait that ran out its lock timeout is not repeated at once (the client gets 503 and
 * Retry-After instead of another long wait).
 *
 * A lost connection (UNAVAILABLE) may have hit the COMMIT: the change may or may not have
 * been made. The callers that change something resolve that after their loop (the retry found
 * the work done: the intent's key taken by our own intent, the intent gone because the file row
 * is in, ...), so a retried change is never reported as a failure it was not, nor made twice.
 */
#include <string.h>
#include <time.h>

#include "server/ids.h"
#include "server/store/store_internal.h"

#define RETRY_BASE_MS  20  /* the first sleep is 10-30 ms, then twice as long each time */
#define RETRY_QUICK_NS 1e9 /* an attempt that failed within this is worth repeating */

static double mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

void st_try_init(st_try *t, store *s)
{
    memset(t, 0, sizeof *t);
    t->s = s;
    t->e = (st_err)ST_ERR_INIT;
    t->t0 = mono_ns();
}

static void backoff(int attempt)
{
    unsigned r = 0;
    (void)id_random(&r, sizeof r);
    double ms = (double)(RETRY_BASE_MS << (attempt < 8 ? attempt : 8));
    ms = ms / 2 + ms * (double)(r % 1000) / 1000.0; /* [0.5, 1.5) times the step */
    struct timespec ts = {(time_t)(ms / 1000),
                          (long)((ms - (double)(long)(ms / 1000) * 1000) * 1e6)};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

int st_try_again(st_try *t, int rc)
{
    if (rc == ST_OK || rc > 0) /* success, or a count */
        return 0;
    double took = mono_ns() - t->t0;
    if (t->e.code == ST_E_UNAVAILABLE)
        t->unknown = 1;
    if (!t->e.retryable || t->attempt >= t->s->lim.meta_retries || took > RETRY_QUICK_NS)
        return 0;
    atomic_fetch_add(&t->s->retries, 1);
    backoff(t->attempt++);
    t->e = (st_err)ST_ERR_INIT;
    t->t0 = mono_ns();
    return 1;
}

int st_try_end(st_try *t, int rc, st_err *e)
{
    if (rc < 0 && e && e->code == ST_OK)
        *e = t->e;
    return rc;
}

int st_try_resolved(st_try *t, int rc)
{
    (void)rc;
    t->e = (st_err)ST_ERR_INIT;
    atomic_fetch_add(&t->s->resolved, 1);
    return ST_OK;
}
