/*
 * The client's upload threads: a FIFO of tasks run by up to cfg.upload_threads threads,
 * started on demand (a client that never uploads a part starts none) and joined when the
 * client is freed. See s3_internal.h.
 */
#include <stdlib.h>

#include "server/blob/s3/s3_internal.h"
#include "server/log.h"

int s3_pool_init(s3_pool *p, int max_threads)
{
    *p = (s3_pool){.max = max_threads};
    if (!(p->threads = calloc((size_t)max_threads, sizeof *p->threads)))
        return -1;
    if (pthread_mutex_init(&p->lock, NULL) != 0) {
        free(p->threads);
        return -1;
    }
    if (pthread_cond_init(&p->work, NULL) != 0) {
        pthread_mutex_destroy(&p->lock);
        free(p->threads);
        return -1;
    }
    return 0;
}

static void *worker(void *ud)
{
    s3_pool *p = ud;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->head && !p->stop) {
            p->idle++;
            pthread_cond_wait(&p->work, &p->lock);
            p->idle--;
        }
        if (!p->head)
            break; /* stopping, and nothing left to run */
        s3_task *t = p->head;
        p->head = t->next;
        if (!p->head)
            p->tail = NULL;
        p->queued--;
        if (++p->running > p->peak_running)
            p->peak_running = p->running;
        pthread_mutex_unlock(&p->lock);
        t->run(t);
        pthread_mutex_lock(&p->lock);
        p->running--;
        p->done++;
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

int s3_pool_submit(s3_pool *p, s3_task *t)
{
    pthread_mutex_lock(&p->lock);
    t->next = NULL;
    if (p->tail)
        p->tail->next = t;
    else
        p->head = t;
    p->tail = t;
    p->queued++;
    /* A thread more when every idle one already has a task to take. */
    if (p->queued > p->idle && p->nthreads < p->max) {
        if (pthread_create(&p->threads[p->nthreads], NULL, worker, p) == 0)
            p->nthreads++;
        else
            LOG(LOG_WARN, "s3 upload pool: cannot start a thread (%d running)", p->nthreads);
    }
    int ok = p->nthreads > 0;
    if (!ok) /* no thread at all: the caller runs the task itself */
        s3_pool_remove_locked(p, t);
    else
        pthread_cond_signal(&p->work);
    pthread_mutex_unlock(&p->lock);
    return ok ? 0 : -1;
}

int s3_pool_remove_locked(s3_pool *p, s3_task *t)
{
    for (s3_task **pp = &p->head, *prev = NULL; *pp; prev = *pp, pp = &(*pp)->next) {
        if (*pp != t)
            continue;
        *pp = t->next;
        if (p->tail == t)
            p->tail = prev;
        p->queued--;
        return 1;
    }
    return 0;
}

int s3_pool_remove(s3_pool *p, s3_task *t)
{
    pthread_mutex_lock(&p->lock);
    int removed = s3_pool_remove_locked(p, t);
    pthread_mutex_unlock(&p->lock);
    return removed;
}

void s3_pool_stats(s3_pool *p, s3_pool_counters *out)
{
    pthread_mutex_lock(&p->lock);
    *out = (s3_pool_counters){.threads = p->nthreads,
                              .running = p->running,
                              .peak_running = p->peak_running,
                              .queued = p->queued,
                              .done = p->done};
    pthread_mutex_unlock(&p->lock);
}

void s3_pool_destroy(s3_pool *p)
{
    if (!p->threads)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = 1;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->work);
    pthread_mutex_destroy(&p->lock);
    free(p->threads);
    p->threads = NULL;
}
