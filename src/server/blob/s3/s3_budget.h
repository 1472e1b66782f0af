/*
 * The writers' memory budget: a counting semaphore over bytes, shared by every writer of one
 * client. A writer takes room for its part buffer before it allocates it and gives it back
 * when it commits or aborts, so all part buffers together never exceed the budget.
 *
 * The rule when the budget is exhausted: the writer waits up to wait_ms for another writer to
 * give room back, then fails with S3_E_BUSY, which is retryable (an HTTP front end answers
 * 503 with Retry-After). Waiting a little absorbs bursts; failing after that bounds how long
 * a request holds its connection, and never deadlocks (a writer holds at most one grant).
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
} s3_budget;

int s3_budget_init(s3_budget *b, uint64_t total);
void s3_budget_destroy(s3_budget *b);
/* Takes bytes, waiting up to wait_ms (0: not at all). 0 on success, -1 when the budget stays
 * exhausted for that long, or bytes exceeds the whole budget. */
int s3_budget_acquire(s3_budget *b, uint64_t bytes, long wait_ms);
void s3_budget_release(s3_budget *b, uint64_t bytes);
/* A snapshot: bytes in use and the most ever in use. */
void s3_budget_stats(s3_budget *b, uint64_t *used, uint64_t *peak);

#endif
