/*
 * The writer's parts in flight against a real Swift, some through the fault proxy of
 * s3_harness.h (which holds what the client sends, so parts stay in flight as long as the
 * test wants, and resets one connection): a part failing while others are in flight (Abort,
 * the others cancelled, nothing left), a writer aborted with parts still queued behind
 * another writer's, a broken part retried from memory while others are in flight, the budget
 * bounding the parts in flight (and the RSS), a writer waiting for budget getting parts given
 * back by another writer, and many writers sharing one budget.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "s3_harness.h"
#include "server/blob/s3/s3_internal.h"
#include "server/blob/s3/s3_stream.h"

#define MiB        (1ull << 20)
#define PART       (5 * MiB)   /* the part size of these tests */
#define HOLD_PARTS (1 << 20)   /* the proxy holds requests with a body this long: the parts */
#define CHUNK      (256 << 10) /* the callers' writes */

static const char *bucket;
static s3_client *direct; /* straight to Swift: checks behind the proxy's back */

static int setup(void **state)
{
    bucket = s3t_bucket("writer");
    s3t_make_bucket(bucket);
    s3_config cfg = s3t_config(bucket);
    direct = s3t_client(&cfg);
    return 0;
}

static int teardown(void **state)
{
    s3_client_free(direct);
    return 0;
}

#define OK(call)                                                                                   \
    do {                                                                                           \
        s3_error e_;                                                                               \
        s3_error_clear(&e_);                                                                       \
        s3_status rc_ = (call);                                                                    \
        if (rc_ != S3_OK)                                                                          \
            fail_msg("%s: %s (%s)", #call, e_.message, s3_status_str(rc_));                        \
    } while (0)

/* 5 MiB parts, 4 in flight, budget for 4, through endpoint (NULL: Swift itself). */
static s3_config cfg_for(const char *endpoint)
{
    s3_config cfg = s3t_config(bucket);
    if (endpoint)
        cfg.endpoint = endpoint;
    cfg.part_size = PART;
    cfg.parts_in_flight = 4;
    cfg.memory_budget = 4 * PART;
    cfg.budget_wait_ms = 120000;
    return cfg;
}

/* One writer on a thread: writes len bytes of stream seed in chunks, then commits (or stops
 * at the first failure, and commits anyway: the failure is sticky). */
typedef struct job {
    s3_client *c;
    char key[64];
    uint64_t len, seed;
    int no_commit; /* leave the writer open in w */
    s3_writer *w;
    s3_status write_rc, commit_rc;
    s3_error write_e, commit_e;
    char etag[S3R_ETAG_MAX + 1];
    atomic_int finished;
} job;

static void *run_job(void *ud)
{
    job *j = ud;
    char *buf = malloc(CHUNK);
    s3_error_clear(&j->write_e);
    s3_error_clear(&j->commit_e);
    j->write_rc = s3_writer_open(&j->w, j->c, j->key, 0, &j->write_e);
    for (uint64_t off = 0; off < j->len && j->write_rc == S3_OK && buf;) {
        size_t n = j->len - off < CHUNK ? (size_t)(j->len - off) : CHUNK;
        s3t_fill(buf, off, n, j->seed);
        j->write_rc = s3_writer_write(j->w, buf, n, &j->write_e);
        off += n;
    }
    if (j->w && !j->no_commit) {
        j->commit_rc = s3_writer_commit(j->w, j->etag, &j->commit_e);
        j->w = NULL;
    }
    free(buf);
    atomic_store(&j->finished, 1);
    return NULL;
}

static void start(pthread_t *th, job *j)
{
    assert_int_equal(pthread_create(th, NULL, run_job, j), 0);
}

static void join_ok(pthread_t th, job *j)
{
    assert_int_equal(pthread_join(th, NULL), 0);
    if (j->write_rc != S3_OK)
        fail_msg("%s: write: %s", j->key, j->write_e.message);
    if (j->commit_rc != S3_OK)
        fail_msg("%s: commit: %s", j->key, j->commit_e.message);
}

/* Reads key back (directly from Swift) and checks every byte. */
static void check_object(const char *key, uint64_t len, uint64_t seed)
{
    s3_reader *r;
    uint64_t size = 0, pos = 0;
    size_t got;
    char *buf = malloc(1 << 16);
    OK(s3_reader_open(&r, direct, key, 0, S3_TO_END, &size, &e_));
    assert_int_equal(size, len);
    do {
        OK(s3_reader_read(r, buf, 1 << 16, &got, &e_));
        if (!s3t_check(buf, pos, got, seed))
            fail_msg("%s: bytes at %llu differ", key, (unsigned long long)pos);
        pos += got;
    } while (got > 0);
    assert_int_equal(pos, len);
    s3_reader_close(r);
    free(buf);
}

static int count_uploads(const s3r_entry *e, void *ud)
{
    (*(size_t *)ud)++;
    return 0;
}

/* Multipart uploads left under prefix, and whether key exists: all from Swift directly. */
static void nothing_left(const char *prefix, const char *key)
{
    size_t n = 0;
    s3_page page;
    s3_error e;
    OK(s3_mpu_list_uploads(direct, prefix, NULL, NULL, 0, count_uploads, &n, &page, &e_));
    assert_int_equal(n, 0);
    s3_error_clear(&e);
    assert_int_equal(s3_head_object(direct, key, NULL, NULL, &e), S3_E_NOTFOUND);
}

static uint64_t budget_used(s3_client *c, uint64_t *peak)
{
    uint64_t used;
    s3_budget_stats(&c->budget, &used, peak);
    return used;
}

static s3_pool_counters pool_of(s3_client *c)
{
    s3_pool_counters k;
    s3_pool_stats(&c->pool, &k);
    return k;
}

/* The pool's counters move just after a part's run() returns, a moment after its writer
 * learned the outcome: wait for them to settle. */
typedef struct settle {
    s3_client *c;
    int running;
    uint64_t done;
} settle;

static int settled(void *ud)
{
    settle *w = ud;
    s3_pool_counters k = pool_of(w->c);
    return k.running == w->running && k.done == w->done;
}

static void wait_pool(s3_client *c, int running, uint64_t done)
{
    settle w = {c, running, done};
    s3t_wait_until(settled, &w, "the upload threads to settle");
}

typedef struct held_at {
    s3t_proxy *px;
    int n;
} held_at;

static int held_is(void *ud)
{
    held_at *h = ud;
    return s3t_proxy_held(h->px) == h->n;
}

static void wait_held(s3t_proxy *px, int n)
{
    char what[64];
    held_at h = {px, n};
    snprintf(what, sizeof what, "%d requests held in the proxy", n);
    s3t_wait_until(held_is, &h, what);
}

typedef struct held_or_done {
    s3t_proxy *px;
    job *j;
} held_or_done;

static int four_held_or_done(void *ud)
{
    held_or_done *h = ud;
    return atomic_load(&h->j->finished) || s3t_proxy_held(h->px) == 4;
}

/* Four parts in flight, held; one connection is reset (no retries of ours): the writer
 * reports that failure, stops the three others (they can only end by being cancelled: the
 * proxy still holds them and the stall timeout is an hour), aborts, and nothing is left.
 * (When the reset connection was a reused one, curl itself sends the part once more on a
 * fresh connection, which the proxy holds in turn: that one is reset too.) */
static void failure_in_flight_aborts(void **state)
{
    s3t_proxy *px = s3t_proxy_start();
    s3_config cfg = cfg_for(s3t_proxy_endpoint(px));
    cfg.max_retries = 0;
    cfg.stall_timeout_s = 3600;
    s3_client *c = s3t_client(&cfg);
    job j = {.c = c, .key = "inflight/fail", .len = 40 * MiB, .seed = 40};
    pthread_t th;
    s3t_proxy_hold(px, HOLD_PARTS);
    start(&th, &j);
    wait_held(px, 4);
    assert_int_equal(pool_of(c).running, 4);
    assert_int_equal(budget_used(c, NULL), 4 * PART);
    held_or_done h = {px, &j};
    int resets = 0;
    for (; resets < 4 && !atomic_load(&j.finished); resets++) {
        assert_true(s3t_proxy_reset_one(px));
        s3t_wait_until(four_held_or_done, &h, "the writer to fail or curl to send again");
    }
    assert_int_equal(pthread_join(th, NULL), 0);
    print_message("failure in flight after %d reset(s): %s\n", resets, j.write_e.message);
    assert_true(resets <= 2);
    assert_int_equal(j.write_rc, S3_E_NETWORK);
    assert_true(j.write_e.retryable);
    assert_true(j.write_e.curl_code == 55 || j.write_e.curl_code == 56); /* send/recv reset */
    assert_int_equal(j.commit_rc, S3_E_NETWORK); /* the first failure, sticky */
    wait_pool(c, 0, 4);                          /* the failed part and the three cancelled */
    assert_int_equal(pool_of(c).queued, 0);
    assert_int_equal(budget_used(c, NULL), 0);
    s3t_proxy_hold(px, 0);
    nothing_left("inflight/", "inflight/fail");
    s3_client_free(c);
    s3t_proxy_stop(px);
}

/* One upload thread, busy with writer X's held part: writer Y's three parts wait in the
 * queue. Aborting Y takes them back (they never run, and the abort does not wait for X). */
static void queued_parts_taken_back(void **state)
{
    s3t_proxy *px = s3t_proxy_start();
    s3_config cfg = cfg_for(s3t_proxy_endpoint(px));
    cfg.upload_threads = 1;
    cfg.memory_budget = 8 * PART;
    s3_client *c = s3t_client(&cfg);
    job x = {.c = c, .key = "queued/x", .len = 5 * MiB + 1, .seed = 41, .no_commit = 1};
    job y = {.c = c, .key = "queued/y", .len = 15 * MiB + 1, .seed = 42, .no_commit = 1};
    pthread_t th;
    s3t_proxy_hold(px, HOLD_PARTS);
    start(&th, &x); /* part 1 of X runs and is held */
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(x.write_rc, S3_OK);
    wait_held(px, 1);
    start(&th, &y); /* 3 parts queued, the 4th buffer filling */
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(y.write_rc, S3_OK);
    s3_pool_counters k = pool_of(c);
    assert_int_equal(k.queued, 3);
    assert_int_equal(k.running, 1);
    s3_writer_abort(y.w);
    k = pool_of(c);
    assert_int_equal(k.queued, 0);
    assert_int_equal(k.running, 1); /* X's part, still held */
    assert_int_equal(k.done, 0);
    assert_int_equal(budget_used(c, NULL), 2 * PART); /* X's two buffers */
    s3t_proxy_hold(px, 0);
    OK(s3_writer_commit(x.w, NULL, &e_));
    check_object("queued/x", x.len, x.seed);
    wait_pool(c, 0, 2); /* X's two parts; none of Y's ever ran */
    assert_int_equal(pool_of(c).queued, 0);
    nothing_left("queued/", "queued/y");
    s3_client_free(c);
    s3t_proxy_stop(px);
}

/* Four parts in flight, held; one connection is reset: that part is sent again from its
 * buffer (a retry) while the three others stay in flight, and the object is exact. */
static void broken_part_retried_while_others_in_flight(void **state)
{
    s3t_proxy *px = s3t_proxy_start();
    s3_config cfg = cfg_for(s3t_proxy_endpoint(px));
    cfg.max_retries = 2;
    s3_client *c = s3t_client(&cfg);
    job j = {.c = c, .key = "retry/k", .len = 30 * MiB + 7, .seed = 43};
    pthread_t th;
    s3t_proxy_hold(px, HOLD_PARTS);
    start(&th, &j);
    wait_held(px, 4);
    assert_true(s3t_proxy_reset_one(px));
    wait_held(px, 4); /* the retry, held again with the three others */
    assert_int_equal(pool_of(c).running, 4);
    s3t_proxy_hold(px, 0);
    join_ok(th, &j);
    print_message("retried part: ETag %s\n", j.etag);
    assert_non_null(strstr(j.etag, "-7\""));
    check_object("retry/k", j.len, j.seed);
    size_t n = 0;
    s3_page page;
    OK(s3_mpu_list_uploads(direct, "retry/", NULL, NULL, 0, count_uploads, &n, &page, &e_));
    assert_int_equal(n, 0);
    s3_client_free(c);
    s3t_proxy_stop(px);
}

/* A budget of three parts for a writer allowed four: three parts in flight at most (the
 * writer waits for its own parts, it is never refused), and the RSS follows the budget. */
static void budget_bounds_parts_in_flight(void **state)
{
    s3t_proxy *px = s3t_proxy_start();
    s3_config cfg = cfg_for(s3t_proxy_endpoint(px));
    cfg.memory_budget = 3 * PART;
    cfg.budget_wait_ms = 0; /* a refusal would fail the write */
    s3_client *c = s3t_client(&cfg);
    job j = {.c = c, .key = "bound/k", .len = 60 * MiB + 3, .seed = 44};
    pthread_t th;
    uint64_t peak = 0;
    long base = s3t_rss_reset();
    s3t_proxy_hold(px, HOLD_PARTS);
    start(&th, &j);
    wait_held(px, 3);
    assert_int_equal(pool_of(c).running, 3);
    assert_int_equal(budget_used(c, NULL), 3 * PART);
    s3t_proxy_hold(px, 0);
    join_ok(th, &j);
    long growth = s3t_rss_peak() - base;
    assert_int_equal(budget_used(c, &peak), 0);
    print_message("3-part budget: peak %llu bytes of parts, RSS growth %ld KiB\n",
                  (unsigned long long)peak, growth);
    assert_int_equal(peak, 3 * PART);
    if (s3t_rss_meaningful()) /* the parts + 16 MiB for the rest */
        assert_true(growth < (long)((3 * PART + 16 * MiB) >> 10));
    check_object("bound/k", j.len, j.seed);
    s3_client_free(c);
    s3t_proxy_stop(px);
}

static int contended(void *ud)
{
    return s3_budget_contended(&((s3_client *)ud)->budget);
}

/* Writer A holds the whole budget (three parts held in flight, a fourth filling) and then
 * sits idle; writer B waits for room. As A's parts come back, A gives its extra buffers
 * back to B, which finishes while A still has not been called again. */
static void waiting_writer_gets_parts_back(void **state)
{
    s3t_proxy *px = s3t_proxy_start();
    s3_config cfg = cfg_for(s3t_proxy_endpoint(px));
    s3_client *c = s3t_client(&cfg);
    job a = {.c = c, .key = "yield/a", .len = 15 * MiB + 1, .seed = 45, .no_commit = 1};
    job b = {.c = c, .key = "yield/b", .len = 3 * MiB, .seed = 46};
    pthread_t ta, tb;
    s3t_proxy_hold(px, HOLD_PARTS);
    start(&ta, &a);
    assert_int_equal(pthread_join(ta, NULL), 0);
    assert_int_equal(a.write_rc, S3_OK);
    wait_held(px, 3);
    assert_int_equal(budget_used(c, NULL), 4 * PART);
    start(&tb, &b);
    s3t_wait_until(contended, c, "writer B to wait for budget");
    s3t_proxy_hold(px, 0);
    join_ok(tb, &b); /* would be S3_E_BUSY after 2 minutes if A kept its buffers */
    check_object("yield/b", b.len, b.seed);
    uint64_t peak = 0;
    budget_used(c, &peak);
    assert_true(peak <= 4 * PART);
    OK(s3_writer_write(a.w, "z", 1, &e_)); /* A goes on with what it kept */
    OK(s3_writer_commit(a.w, NULL, &e_));
    assert_int_equal(budget_used(c, NULL), 0);
    s3_client_free(c);
    s3t_proxy_stop(px);
}

/* Eight writers, a budget of six parts: all succeed, byte-exact, the budget's peak stays
 * within it, the RSS follows, and nothing is left. */
static void many_writers_share_the_budget(void **state)
{
    enum { N = 8 };
    s3_config cfg = cfg_for(NULL);
    cfg.memory_budget = 6 * PART;
    s3_client *c = s3t_client(&cfg);
    job j[N];
    pthread_t th[N];
    uint64_t peak = 0;
    long base = s3t_rss_reset();
    for (int i = 0; i < N; i++) {
        j[i] = (job){.c = c, .len = 13 * MiB + (uint64_t)i * 1000, .seed = 50 + (uint64_t)i};
        snprintf(j[i].key, sizeof j[i].key, "many/%d", i);
        start(&th[i], &j[i]);
    }
    for (int i = 0; i < N; i++)
        join_ok(th[i], &j[i]);
    long growth = s3t_rss_peak() - base;
    assert_int_equal(budget_used(c, &peak), 0);
    print_message("%d writers: peak %llu bytes of parts (budget %llu), %llu waits, %d upload "
                  "threads busy at once at most, RSS growth %ld KiB\n",
                  N, (unsigned long long)peak, (unsigned long long)cfg.memory_budget,
                  (unsigned long long)c->budget.waits, pool_of(c).peak_running, growth);
    assert_true(peak <= cfg.memory_budget);
    if (s3t_rss_meaningful())
        assert_true(growth < (long)((6 * PART + 16 * MiB) >> 10));
    for (int i = 0; i < N; i++)
        check_object(j[i].key, j[i].len, j[i].seed);
    size_t n = 0;
    s3_page page;
    OK(s3_mpu_list_uploads(direct, "many/", NULL, NULL, 0, count_uploads, &n, &page, &e_));
    assert_int_equal(n, 0);
    s3_client_free(c);
}

int main(void)
{
    if (!s3t_endpoint())
        return 77;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(failure_in_flight_aborts),
        cmocka_unit_test(queued_parts_taken_back),
        cmocka_unit_test(broken_part_retried_while_others_in_flight),
        cmocka_unit_test(budget_bounds_parts_in_flight),
        cmocka_unit_test(waiting_writer_gets_parts_back),
        cmocka_unit_test(many_writers_share_the_budget),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
