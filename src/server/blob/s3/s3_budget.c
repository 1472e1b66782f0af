/* The writers' memory budget: see s3_budget.h. */
#include "server/blob/s3/s3_budget.h"

#include <errno.h>
#include <time.h>

int s3_budget_init(s3_budget *b, uint64_t total)
{
    pthread_condattr_t ca;
    b->total = total;
    b->used = b->peak = b->waits = b->refusals = 0;
    b->waiting = 0;
    if (pthread_mutex_init(&b->lock, NULL) != 0)
        return -1;
    if (pthread_condattr_init(&ca) != 0 || pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
        pthread_cond_init(&b->freed, &ca) != 0) {
        pthread_mutex_destroy(&b->lock);
        return -1;
    }
    pthread_condattr_destroy(&ca);
    return 0;
}

void s3_budget_destroy(s3_budget *b)
{
    pthread_cond_destroy(&b->freed);
    pthread_mutex_destroy(&b->lock);
}

static struct timespec deadline(long wait_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += wait_ms / 1000;
    ts.tv_nsec += (wait_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

int s3_budget_acquire(s3_budget *b, uint64_t bytes, long wait_ms)
{
    int rc = 0, waited = 0;
    struct timespec until = deadline(wait_ms > 0 ? wait_ms : 0);
    pthread_mutex_lock(&b->lock);
    if (bytes > b->total) {
        b->refusals++;
        pthread_mutex_unlock(&b->lock);
        return -1;
    }
    while (b->total - b->used < bytes) {
        if (wait_ms <= 0) {
            rc = -1;
            break;
        }
        waited = 1;
        b->waiting++;
        int timed_out = pthread_cond_timedwait(&b->freed, &b->lock, &until) == ETIMEDOUT;
        b->waiting--;
        if (timed_out && b->total - b->used < bytes) {
            rc = -1;
            break;
        }
    }
    if (rc == 0) {
        b->used += bytes;
        if (b->used > b->peak)
            b->peak = b->used;
    } else {
        b->refusals++;
    }
    b->waits += (uint64_t)waited;
    pthread_mutex_unlock(&b->lock);
    return rc;
}

int s3_budget_acquire_extra(s3_budget *b, uint64_t bytes)
{
    int rc = -1;
    pthread_mutex_lock(&b->lock);
    if (b->waiting == 0 && b->total - b->used >= bytes) {
        b->used += bytes;
        if (b->used > b->peak)
            b->peak = b->used;
        rc = 0;
    }
    pthread_mutex_unlock(&b->lock);
    return rc;
}

void s3_budget_release(s3_budget *b, uint64_t bytes)
{
    if (bytes == 0)
        return;
    pthread_mutex_lock(&b->lock);
    b->used = bytes > b->used ? 0 : b->used - bytes;
    pthread_cond_broadcast(&b->freed);
    pthread_mutex_unlock(&b->lock);
}

int s3_budget_contended(s3_budget *b)
{
    pthread_mutex_lock(&b->lock);
    int n = b->waiting;
    pthread_mutex_unlock(&b->lock);
    return n > 0;
}

void s3_budget_stats(s3_budget *b, uint64_t *used, uint64_t *peak)
{
    pthread_mutex_lock(&b->lock);
    if (used)
        *used = b->used;
    if (peak)
        *peak = b->peak;
    pthread_mutex_unlock(&b->lock);
}
