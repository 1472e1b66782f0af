/*
 * The writers' memory budget: a counting semaphore over bytes, shared by every writer of one
 * client. A writer takes room for each part buffer before it maps it and gives it back when
 * it frees the buffer (commit, abort, or an extra buffer handed back), so all part buffers
 * together never exceed the budget.
 *
 * The rule when the budget is exhausted: a writer that holds nothing waits up to wait_ms for
 * another writer to give room back, then fails with S3_E_BUSY, which is retryable (an HTTP
 * front end answers 503 with Retry-After). Waiting a little absorbs bursts; failing after that
 * bounds how long a request holds its connection. A writer that already holds a part never
 * waits here for more (it asks with wait_ms 0 and otherwise waits for its own parts to come
 * back), so no writer waits while holding room: no deadlock. While someone waits
 * (s3_budget_contended), writers give their extra parts back as those finish uploading.
 *
 * Thread: every function may be called from any thread.
 */
#ifndef ARGOT_SERVER_S3_BUDGET_H
#define ARGOT_SERVER_S3_BUDGET_H

#include <pthread.h>
#include <stdint.h>

typedef struct s3_budget {
    pthread_mutex_t lock;
    pthread_cond_t freed;
    uint64_t total, used, peak;
    uint64_t waits, refusals; /* counters, for tests and metrics */
    int waiting;              /* threads blocked in acquire now */
} s3_budget;

int s3_budget_init(s3_budget *b, uint64_t total);
void s3_budget_destroy(s3_budget *b);
/* Takes bytes, waiting up to wait_ms (0: not at all). 0 on success, -1 when the budget stays
 * exhausted for that long, or bytes exceeds the whole budget. */
int s3_budget_acquire(s3_budget *b, uint64_t bytes, long wait_ms);
/* Takes bytes only if they are free now and nobody waits for room (a writer that already
 * holds some asks with this). 0 on success, -1 otherwise. */
int s3_budget_acquire_extra(s3_budget *b, uint64_t bytes);
void s3_budget_release(s3_budget *b, uint64_t bytes);
/* 1 while a thread waits in s3_budget_acquire(). */
int s3_budget_contended(s3_budget *b);
/* A snapshot: bytes in use and the most ever in use. */
void s3_budget_stats(s3_budget *b, uint64_t *used, uint64_t *peak);

#endif
