/*
 * The S3 client's rules that need no server: the retry classification, the error record's
 * first-failure-wins, configuration checks and defaults (from the environment too), the
 * addressing (path-style with an endpoint, virtual-hosted for AWS), the compose rule, and the
 * writers' memory budget under real threads (its extra grants yield to waiters), the upload
 * pool (what runs, what waits, what is taken back) and its settings.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "server/blob/s3/s3_budget.h"
#include "server/blob/s3/s3_internal.h"
#include "server/blob/s3/s3_stream.h"

#define MiB (1ull << 20)

static void retry_rule(void **state)
{
    assert_true(s3_retryable(503, "SlowDown", 0));
    assert_true(s3_retryable(500, "InternalError", 0));
    assert_true(s3_retryable(200, "InternalError", 0)); /* a 200 carrying <Error> */
    assert_true(s3_retryable(502, "", 0));
    assert_true(s3_retryable(504, NULL, 0));
    assert_true(s3_retryable(429, NULL, 0));
    assert_true(s3_retryable(400, "RequestTimeout", 0));
    assert_true(s3_retryable(0, NULL, CURLE_COULDNT_CONNECT));
    assert_true(s3_retryable(0, NULL, CURLE_OPERATION_TIMEDOUT));
    assert_true(s3_retryable(0, NULL, CURLE_RECV_ERROR));
    assert_true(s3_retryable(0, NULL, CURLE_SEND_ERROR));
    assert_true(s3_retryable(0, NULL, CURLE_GOT_NOTHING));
    assert_true(s3_retryable(0, NULL, CURLE_PARTIAL_FILE));
    assert_true(s3_retryable(0, NULL, CURLE_SEND_FAIL_REWIND));
    assert_false(s3_retryable(403, "SignatureDoesNotMatch", 0));
    assert_false(s3_retryable(403, "RequestTimeTooSkewed", 0));
    assert_false(s3_retryable(404, "NoSuchKey", 0));
    assert_false(s3_retryable(400, "EntityTooSmall", 0));
    assert_false(s3_retryable(400, "InvalidPart", 0));
    assert_false(s3_retryable(416, "InvalidRange", 0));
    assert_false(s3_retryable(0, NULL, CURLE_WRITE_ERROR));
    assert_false(s3_retryable(0, NULL, CURLE_ABORTED_BY_CALLBACK));
    assert_false(s3_retryable(0, NULL, CURLE_URL_MALFORMAT));
}

static void error_record(void **state)
{
    s3_error e;
    s3_error_clear(&e);
    assert_int_equal(s3_error_set(&e, S3_E_NETWORK, 1, "first %d", 1), S3_E_NETWORK);
    assert_int_equal(s3_error_set(&e, S3_E_AUTH, 0, "second"), S3_E_AUTH);
    assert_int_equal(e.code, S3_E_NETWORK);
    assert_true(e.retryable);
    assert_string_equal(e.message, "first 1");
    assert_int_equal(s3_error_set(NULL, S3_E_AUTH, 0, "nowhere"), S3_E_AUTH);
    assert_string_equal(s3_status_str(S3_E_BUSY), "memory budget exhausted");
    assert_string_equal(s3_status_str(S3_OK), "ok");
    assert_string_equal(s3_status_str((s3_status)-99), "unknown error");
}

static s3_config base(void)
{
    s3_config c = {S3_CONFIG_DEFAULTS};
    c.bucket = "argot-data";
    c.access_key = "AKIDEXAMPLE";
    c.secret_key = "secret";
    return c;
}

static s3_status try_new(const s3_config *cfg, s3_error *e, s3_client **out)
{
    s3_error_clear(e);
    return s3_client_new(out, cfg, e);
}

static void config_checks(void **state)
{
    s3_client *c = NULL;
    s3_error e;
    s3_config cfg = base();
    cfg.bucket = "Bad_Bucket";
    assert_int_equal(try_new(&cfg, &e, &c), S3_E_INVALID);
    assert_null(c);
    cfg = base();
    cfg.prefix = "a b/";
    assert_int_equal(try_new(&cfg, &e, &c), S3_E_INVALID);
    cfg.prefix = "/abs";
    assert_int_equal(try_new(&cfg, &e, &c), S3_E_INVALID);
    cfg = base();
    cfg.part_size = 5 * MiB - 1;
    assert_int_equal(try_new(&cfg, &e, &c), S3_E_INVALID);
    assert_non_null(strstr(e.message, "5 MiB"));
    cfg = base();
    cfg.memory_budget = cfg.part_size - 1;
    assert_int_equal(try_new(&cfg, &e, &c), S3_E_INVALID);
    cfg = base();
    cfg.secret_key = "";
    assert_int_equal(try_new(&cfg, &e, &c), S3_E_INVALID);
    const char *bad_endpoints[] = {"ftp://h", "http://", "http://h/path", "http://u@h",
                                   "127.0.0.1:9000"};
    for (size_t i = 0; i < 5; i++) {
        cfg = base();
        cfg.endpoint = bad_endpoints[i];
        assert_int_equal(try_new(&cfg, &e, &c), S3_E_INVALID);
        assert_non_null(strstr(e.message, "endpoint"));
    }
}

static void host_of(const s3_config *cfg, const char *scheme, const char *host, int virt)
{
    s3_client *c = NULL;
    s3_error e;
    assert_int_equal(try_new(cfg, &e, &c), S3_OK);
    assert_string_equal(c->scheme, scheme);
    assert_string_equal(c->host, host);
    assert_int_equal(c->virtual_hosted, virt);
    argot_buf p = ARGOT_BUF_INIT(1024);
    assert_int_equal(s3_build_path(c, "k y", &p), S3_OK);
    char want[256];
    snprintf(want, sizeof want, "%s%s%sk%%20y", virt ? "/" : "/argot-data/", c->prefix, "");
    assert_string_equal(p.ptr, want);
    argot_buf_free(&p);
    s3_client_free(c);
}

static void addressing(void **state)
{
    s3_config cfg = base();
    host_of(&cfg, "https", "argot-data.s3.us-east-1.amazonaws.com", 1);
    cfg.region = "eu-west-3";
    host_of(&cfg, "https", "argot-data.s3.eu-west-3.amazonaws.com", 1);
    cfg.addressing = S3_ADDR_PATH;
    host_of(&cfg, "https", "s3.eu-west-3.amazonaws.com", 0);
    cfg = base();
    cfg.bucket = "dotted.bucket";
    s3_client *c = NULL;
    s3_error e;
    assert_int_equal(try_new(&cfg, &e, &c), S3_OK);
    assert_int_equal(c->virtual_hosted, 0); /* a dotted name breaks the TLS wildcard */
    s3_client_free(c);
    cfg = base();
    cfg.endpoint = "http://127.0.0.1:8080";
    host_of(&cfg, "http", "127.0.0.1:8080", 0);
    cfg.endpoint = "HTTP://Minio.Local:80/";
    assert_int_equal(try_new(&cfg, &e, &c), S3_E_INVALID); /* the scheme is case-sensitive */
    cfg.endpoint = "http://Minio.Local:80/";
    host_of(&cfg, "http", "minio.local", 0); /* the default port is not in Host */
    cfg.endpoint = "https://s3.example.test:443";
    cfg.addressing = S3_ADDR_VIRTUAL;
    cfg.prefix = "pre/";
    host_of(&cfg, "https", "argot-data.s3.example.test", 1);
}

static void config_from_env(void **state)
{
    s3_config cfg = {S3_CONFIG_DEFAULTS};
    s3_error e;
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_SESSION_TOKEN");
    unsetenv("AWS_REGION");
    unsetenv("AWS_DEFAULT_REGION");
    unsetenv("AWS_ENDPOINT_URL");
    s3_error_clear(&e);
    assert_int_equal(s3_config_from_env(&cfg, &e), S3_E_INVALID);
    assert_non_null(strstr(e.message, "AWS_ACCESS_KEY_ID"));
    setenv("AWS_ACCESS_KEY_ID", "AKID", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "SECRET", 1);
    setenv("AWS_DEFAULT_REGION", "ap-south-1", 1);
    setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9000", 1);
    s3_error_clear(&e);
    assert_int_equal(s3_config_from_env(&cfg, &e), S3_OK);
    assert_string_equal(cfg.access_key, "AKID");
    assert_string_equal(cfg.secret_key, "SECRET");
    assert_null(cfg.session_token);
    assert_string_equal(cfg.region, "ap-south-1");
    assert_string_equal(cfg.endpoint, "http://127.0.0.1:9000");
    s3_config cfg2 = {S3_CONFIG_DEFAULTS};
    cfg2.region = "us-west-2"; /* what is set stays */
    setenv("AWS_REGION", "eu-north-1", 1);
    setenv("AWS_SESSION_TOKEN", "TOKEN", 1);
    assert_int_equal(s3_config_from_env(&cfg2, &e), S3_OK);
    assert_string_equal(cfg2.region, "us-west-2");
    assert_string_equal(cfg2.session_token, "TOKEN");
    s3_config cfg3 = {S3_CONFIG_DEFAULTS};
    assert_int_equal(s3_config_from_env(&cfg3, &e), S3_OK);
    assert_string_equal(cfg3.region, "eu-north-1"); /* AWS_REGION before AWS_DEFAULT_REGION */
    unsetenv("AWS_SESSION_TOKEN");
    unsetenv("AWS_REGION");
}

static void compose_rule(void **state)
{
    s3_range ok[] = {{"a", 0, 5 * MiB}, {"b", 7, 6 * MiB}, {"c", 0, 1}};
    assert_true(s3_compose_can_copy(ok, 3));
    assert_true(s3_compose_can_copy(ok + 2, 1)); /* one small range: one small part */
    s3_range small_mid[] = {{"a", 0, 5 * MiB}, {"b", 0, 5 * MiB - 1}, {"c", 0, 1}};
    assert_false(s3_compose_can_copy(small_mid, 3));
    s3_range empty[] = {{"a", 0, 5 * MiB}, {"b", 0, 0}};
    assert_false(s3_compose_can_copy(empty, 2));
    assert_false(s3_compose_can_copy(NULL, 0));
    s3_range huge[] = {{"a", 0, 12ull << 30}, {"b", 0, 1}}; /* split into 3 parts of 4 GiB */
    assert_true(s3_compose_can_copy(huge, 2));
}

typedef struct racer {
    s3_budget *b;
    int rounds, got, refused;
} racer;

static void *race(void *ud)
{
    racer *r = ud;
    for (int i = 0; i < r->rounds; i++) {
        if (s3_budget_acquire(r->b, 3, 1000) == 0) {
            r->got++;
            s3_budget_release(r->b, 3);
        } else {
            r->refused++;
        }
    }
    return NULL;
}

static void budget(void **state)
{
    s3_budget b;
    uint64_t used, peak;
    assert_int_equal(s3_budget_init(&b, 10), 0);
    assert_int_equal(s3_budget_acquire(&b, 6, 0), 0);
    assert_int_equal(s3_budget_acquire(&b, 5, 0), -1);     /* 4 left */
    assert_int_equal(s3_budget_acquire(&b, 11, 1000), -1); /* more than the whole */
    assert_int_equal(s3_budget_acquire(&b, 4, 0), 0);
    assert_int_equal(s3_budget_acquire(&b, 1, 20), -1); /* waits 20 ms, then gives up */
    s3_budget_release(&b, 6);
    s3_budget_stats(&b, &used, &peak);
    assert_int_equal(used, 4);
    assert_int_equal(peak, 10);
    s3_budget_release(&b, 4);

    /* Eight threads taking 3 of 10 at a time: never more than 3 holders at once. */
    racer r[8];
    pthread_t th[8];
    for (int i = 0; i < 8; i++) {
        r[i] = (racer){&b, 2000, 0, 0};
        assert_int_equal(pthread_create(&th[i], NULL, race, &r[i]), 0);
    }
    int total = 0;
    for (int i = 0; i < 8; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        total += r[i].got + r[i].refused;
    }
    assert_int_equal(total, 16000);
    s3_budget_stats(&b, &used, &peak);
    assert_int_equal(used, 0);
    assert_true(peak <= 10);
    s3_budget_destroy(&b);
}

typedef struct extra_waiter {
    s3_budget *b;
    int rc;
} extra_waiter;

static void *wait_for_five(void *ud)
{
    extra_waiter *t = ud;
    t->rc = s3_budget_acquire(t->b, 5, 60000);
    return NULL;
}

static void spin_until_contended(s3_budget *b, int want)
{
    struct timespec ts = {0, 1000000};
    for (int i = 0; i < 120000 && s3_budget_contended(b) != want; i++)
        nanosleep(&ts, NULL);
    assert_int_equal(s3_budget_contended(b), want);
}

/* A writer that holds room takes more only when it is free now and nobody waits for any. */
static void budget_extra_yields_to_waiters(void **state)
{
    s3_budget b;
    pthread_t th;
    assert_int_equal(s3_budget_init(&b, 10), 0);
    assert_int_equal(s3_budget_acquire_extra(&b, 6), 0);
    assert_int_equal(s3_budget_acquire_extra(&b, 5), -1); /* 4 left */
    extra_waiter t = {&b, 1};
    assert_int_equal(pthread_create(&th, NULL, wait_for_five, &t), 0);
    spin_until_contended(&b, 1);
    assert_int_equal(s3_budget_acquire_extra(&b, 3), -1); /* room, but someone waits */
    s3_budget_release(&b, 6);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(t.rc, 0);
    assert_false(s3_budget_contended(&b));
    assert_int_equal(s3_budget_acquire_extra(&b, 3), 0); /* 5 + 3 */
    s3_budget_release(&b, 8);
    s3_budget_destroy(&b);
}

/* Tasks of the upload pool that block until a gate opens: what runs, what waits, and what
 * can be taken back, all decided by the test. */
typedef struct gated {
    s3_task task;
    pthread_mutex_t *lock;
    pthread_cond_t *cond;
    int *open, *started, ran;
} gated;

static void run_gated(s3_task *t)
{
    gated *g = (gated *)t;
    pthread_mutex_lock(g->lock);
    (*g->started)++;
    pthread_cond_broadcast(g->cond);
    while (!*g->open)
        pthread_cond_wait(g->cond, g->lock);
    g->ran++;
    pthread_mutex_unlock(g->lock);
}

static void pool_runs_and_takes_back(void **state)
{
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
    int open = 0, started = 0;
    s3_pool p;
    s3_pool_counters k;
    gated g[5];
    assert_int_equal(s3_pool_init(&p, 2), 0);
    for (int i = 0; i < 5; i++) {
        g[i] = (gated){{NULL, run_gated}, &lock, &cond, &open, &started, 0};
        assert_int_equal(s3_pool_submit(&p, &g[i].task), 0);
    }
    pthread_mutex_lock(&lock);
    while (started < 2) /* two threads, each blocked in one task */
        pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);
    s3_pool_stats(&p, &k);
    assert_int_equal(k.threads, 2);
    assert_int_equal(k.running, 2);
    assert_int_equal(k.queued, 3);
    assert_int_equal(s3_pool_remove(&p, &g[0].task), 0); /* running: cannot be taken back */
    assert_int_equal(s3_pool_remove(&p, &g[3].task), 1); /* queued: taken back */
    assert_int_equal(s3_pool_remove(&p, &g[3].task), 0);
    assert_int_equal(s3_pool_remove(&p, &g[4].task), 1); /* the tail */
    pthread_mutex_lock(&lock);
    open = 1;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
    s3_pool_destroy(&p); /* joins once the queue is empty */
    assert_int_equal(g[0].ran + g[1].ran + g[2].ran, 3);
    assert_int_equal(g[3].ran + g[4].ran, 0);
}

static void pool_and_writer_settings(void **state)
{
    s3_client *c = NULL;
    s3_error e;
    s3_config cfg = base();
    assert_int_equal(cfg.part_size, 16 * MiB);
    assert_int_equal(cfg.parts_in_flight, 3);
    assert_int_equal(cfg.upload_threads, 16);
    cfg.parts_in_flight = 0;
    assert_int_equal(try_new(&cfg, &e, &c), S3_E_INVALID);
    assert_non_null(strstr(e.message, "parts in flight"));
    cfg.parts_in_flight = S3_MAX_PARTS_IN_FLIGHT + 1;
    assert_int_equal(try_new(&cfg, &e, &c), S3_E_INVALID);
    cfg = base();
    cfg.upload_threads = 0;
    assert_int_equal(try_new(&cfg, &e, &c), S3_E_INVALID);
    assert_non_null(strstr(e.message, "upload threads"));
    cfg.upload_threads = S3_MAX_UPLOAD_THREADS + 1;
    assert_int_equal(try_new(&cfg, &e, &c), S3_E_INVALID);
    cfg = base();
    cfg.parts_in_flight = S3_MAX_PARTS_IN_FLIGHT;
    cfg.upload_threads = 1;
    assert_int_equal(try_new(&cfg, &e, &c), S3_OK);
    s3_pool_counters k;
    s3_pool_stats(&c->pool, &k);
    assert_int_equal(k.threads, 0); /* started on demand only */
    s3_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(retry_rule),
        cmocka_unit_test(error_record),
        cmocka_unit_test(config_checks),
        cmocka_unit_test(addressing),
        cmocka_unit_test(config_from_env),
        cmocka_unit_test(compose_rule),
        cmocka_unit_test(budget),
        cmocka_unit_test(budget_extra_yields_to_waiters),
        cmocka_unit_test(pool_runs_and_takes_back),
        cmocka_unit_test(pool_and_writer_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
