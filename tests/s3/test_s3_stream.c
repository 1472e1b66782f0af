/*
 * The streaming writer, the ranged reader and compose (src/server/blob/s3/s3_stream.h)
 * against a real OpenStack Swift: one PutObject for small objects, multipart for large ones,
 * a 512 MiB write and read byte-exact with the process's RSS growth measured (< 64 MiB),
 * Abort after a failed part, the memory budget (refusal and waiting), readers on every edge,
 * and compose by UploadPartCopy or by merge.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "s3_harness.h"
#include "server/blob/s3/s3_internal.h"
#include "server/blob/s3/s3_stream.h"

#define MiB (1ull << 20)

static const char *bucket;
static s3_client *cli;   /* the defaults (16 MiB parts, 3 in flight) */
static s3_client *small; /* 5 MiB parts */

static int setup(void **state)
{
    bucket = s3t_bucket("stream");
    s3t_make_bucket(bucket);
    s3_config cfg = s3t_config(bucket);
    cli = s3t_client(&cfg);
    cfg.part_size = 5 * MiB;
    small = s3t_client(&cfg);
    return 0;
}

static int teardown(void **state)
{
    s3_client_free(cli);
    s3_client_free(small);
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

/* Writes len bytes of stream seed in chunks of chunk bytes; returns the commit's ETag. */
static void write_object(s3_client *c,
                         const char *key,
                         uint64_t len,
                         size_t chunk,
                         uint64_t seed,
                         char etag[S3R_ETAG_MAX + 1])
{
    s3_writer *w;
    char *buf = malloc(chunk);
    assert_non_null(buf);
    OK(s3_writer_open(&w, c, key, 0, &e_));
    for (uint64_t off = 0; off < len;) {
        size_t n = len - off < chunk ? (size_t)(len - off) : chunk;
        s3t_fill(buf, off, n, seed);
        OK(s3_writer_write(w, buf, n, &e_));
        off += n;
    }
    assert_int_equal(s3_writer_size(w), len);
    OK(s3_writer_commit(w, etag, &e_));
    free(buf);
}

/* Reads [off, off + len) with a reader and buffers of cap bytes; checks every byte against
 * stream seed from src_off on. Returns the bytes read. */
static uint64_t read_check_at(s3_client *c,
                              const char *key,
                              uint64_t off,
                              uint64_t len,
                              size_t cap,
                              uint64_t seed,
                              uint64_t src_off)
{
    s3_reader *r;
    uint64_t size = 0, pos = src_off;
    size_t got;
    char *buf = malloc(cap);
    assert_non_null(buf);
    OK(s3_reader_open(&r, c, key, off, len, &size, &e_));
    do {
        OK(s3_reader_read(r, buf, cap, &got, &e_));
        if (!s3t_check(buf, pos, got, seed))
            fail_msg("%s: bytes at %llu differ", key, (unsigned long long)pos);
        pos += got;
    } while (got > 0);
    s3_reader_close(r);
    free(buf);
    return pos - src_off;
}

static uint64_t read_check(
    s3_client *c, const char *key, uint64_t off, uint64_t len, size_t cap, uint64_t seed)
{
    return read_check_at(c, key, off, len, cap, seed, off);
}

static int count_uploads(const s3r_entry *e, void *ud)
{
    (*(size_t *)ud)++;
    return 0;
}

static size_t uploads_under(s3_client *c, const char *prefix)
{
    size_t n = 0;
    s3_page page;
    OK(s3_mpu_list_uploads(c, prefix, NULL, NULL, 0, count_uploads, &n, &page, &e_));
    return n;
}

static void small_object_is_one_put(void **state)
{
    char etag[S3R_ETAG_MAX + 1];
    write_object(small, "w/small", 1000, 7, 10, etag);
    assert_null(strchr(etag, '-'));
    assert_int_equal(read_check(small, "w/small", 0, S3_TO_END, 3, 10), 1000);
    /* Exactly one part's worth is still a single PutObject. */
    write_object(small, "w/onepart", 5 * MiB, 65536, 11, etag);
    assert_null(strchr(etag, '-'));
    assert_int_equal(read_check(small, "w/onepart", 0, S3_TO_END, 65536, 11), 5 * MiB);
    write_object(small, "w/empty", 0, 1, 12, etag);
    assert_int_equal(read_check(small, "w/empty", 0, S3_TO_END, 10, 12), 0);
    assert_int_equal(uploads_under(small, "w/"), 0);
}

static void large_object_is_multipart(void **state)
{
    char etag[S3R_ETAG_MAX + 1];
    uint64_t len = 12 * MiB + 12345;
    write_object(small, "w/large", len, 100003, 13, etag);
    print_message("12 MiB object ETag %s\n", etag);
    assert_non_null(strstr(etag, "-3\""));
    assert_int_equal(uploads_under(small, "w/"), 0);
    assert_int_equal(read_check(small, "w/large", 0, S3_TO_END, 1 << 16, 13), len);
    /* Ranges within, across and at the end of the parts, with odd buffer sizes. */
    assert_int_equal(read_check(small, "w/large", 5 * MiB - 17, 34, 1, 13), 34);
    assert_int_equal(read_check(small, "w/large", 3, 10 * MiB, 4093, 13), 10 * MiB);
    assert_int_equal(read_check(small, "w/large", len - 5, S3_TO_END, 2, 13), 5);
    assert_int_equal(read_check(small, "w/large", len - 5, 1000, 64, 13), 5);
}

/* The acceptance run: 512 MiB through the writer and back through the reader, byte-exact,
 * with this process's RSS growth (peak over the start) under 64 MiB. */
static void half_gib_round_trip(void **state)
{
    uint64_t len = 512 * MiB;
    char etag[S3R_ETAG_MAX + 1];
    long base = s3t_rss_reset();
    double t0 = s3t_now();
    write_object(cli, "big/512", len, 65536, 14, etag);
    double t1 = s3t_now();
    long peak_w = s3t_rss_peak();
    assert_int_equal(read_check(cli, "big/512", 0, S3_TO_END, 65536, 14), len);
    double t2 = s3t_now();
    assert_int_equal(read_check(cli, "big/512", 8 * MiB - 100, 200, 7, 14), 200);
    assert_int_equal(read_check(cli, "big/512", 300 * MiB + 1, 20 * MiB, 65536, 14), 20 * MiB);
    assert_int_equal(read_check(cli, "big/512", len - 1, S3_TO_END, 16, 14), 1);
    long peak = s3t_rss_peak();
    printf("512 MiB: write %.1f MB/s, read %.1f MB/s; RSS %ld KiB at start, peak growth "
           "%ld KiB writing, %ld KiB overall; ETag %s\n",
           (double)len / 1e6 / (t1 - t0), (double)len / 1e6 / (t2 - t1), base, peak_w - base,
           peak - base, etag);
    const s3_config *cfg = s3_client_config(cli);
    char parts[16];
    snprintf(parts, sizeof parts, "-%llu\"", (unsigned long long)(len / cfg->part_size));
    assert_non_null(strstr(etag, parts));
    if (s3t_rss_meaningful())
        assert_true(peak - base < 64 * 1024);
    /* The writer's part buffers never exceeded its parts in flight. */
    uint64_t most = 0;
    s3_budget_stats(&cli->budget, NULL, &most);
    assert_true(most <= (uint64_t)cfg->parts_in_flight * cfg->part_size);
    OK(s3_delete_object(cli, "big/512", &e_));
}

typedef struct one_upload {
    char key[S3R_KEY_MAX + 1], id[S3R_TOKEN_MAX + 1];
} one_upload;

static int grab_upload(const s3r_entry *e, void *ud)
{
    one_upload *u = ud;
    snprintf(u->key, sizeof u->key, "%s", e->key);
    snprintf(u->id, sizeof u->id, "%s", e->upload_id);
    return 0;
}

/* A part that fails (its upload was aborted behind the writer's back): the failure shows at
 * the next write once the part is back (parts upload while the caller goes on), the writer
 * aborts, stays failed, and nothing is left under the key. */
static void failed_part_aborts(void **state)
{
    char *buf = malloc(5 * MiB + 1);
    s3_writer *w;
    s3_error e;
    s3_status rc = S3_OK;
    s3t_fill(buf, 0, 5 * MiB + 1, 15);
    OK(s3_writer_open(&w, small, "fail/k", 0, &e_));
    OK(s3_writer_write(w, buf, 5 * MiB + 1, &e_)); /* part 1 sent */
    one_upload u = {"", ""};
    s3_page page;
    OK(s3_mpu_list_uploads(small, "fail/", NULL, NULL, 0, grab_upload, &u, &page, &e_));
    assert_string_equal(u.key, "fail/k");
    OK(s3_mpu_abort(small, u.key, u.id, &e_));
    /* Parts 2.. fail: a write reports it at the latest once every part buffer is in flight
     * (parts_in_flight = 4 here), that is within 5 more parts. */
    for (int i = 0; i < 5 * 5 && rc == S3_OK; i++) {
        s3_error_clear(&e);
        rc = s3_writer_write(w, buf, 1 * MiB, &e);
    }
    assert_int_equal(rc, S3_E_NOTFOUND);
    print_message("failed part: %s\n", e.message);
    assert_string_equal(e.s3_code, "NoSuchUpload");
    s3_error_clear(&e);
    assert_int_equal(s3_writer_write(w, "x", 1, &e), S3_E_NOTFOUND); /* sticky */
    assert_string_equal(e.s3_code, "NoSuchUpload");
    s3_error_clear(&e);
    assert_int_equal(s3_writer_commit(w, NULL, &e), S3_E_NOTFOUND);
    assert_int_equal(uploads_under(small, "fail/"), 0);
    s3_error_clear(&e);
    assert_int_equal(s3_head_object(small, "fail/k", NULL, NULL, &e), S3_E_NOTFOUND);

    /* An explicit abort after parts were sent leaves nothing either. */
    OK(s3_writer_open(&w, small, "fail/k2", 0, &e_));
    OK(s3_writer_write(w, buf, 5 * MiB + 1, &e_));
    assert_int_equal(uploads_under(small, "fail/"), 1);
    s3_writer_abort(w);
    assert_int_equal(uploads_under(small, "fail/"), 0);
    s3_error_clear(&e);
    assert_int_equal(s3_head_object(small, "fail/k2", NULL, NULL, &e), S3_E_NOTFOUND);
    free(buf);
}

typedef struct waiter {
    s3_client *c;
    s3_status rc;
    s3_error e;
} waiter;

static void *wait_for_budget(void *ud)
{
    waiter *t = ud;
    s3_writer *w;
    s3_error_clear(&t->e);
    t->rc = s3_writer_open(&w, t->c, "budget/waiter", 0, &t->e);
    if (t->rc == S3_OK && (t->rc = s3_writer_write(w, "z", 1, &t->e)) == S3_OK)
        t->rc = s3_writer_commit(w, NULL, &t->e);
    return NULL;
}

/* Two parts of budget: a third writer is refused (retryable) or waits for room. */
static void memory_budget(void **state)
{
    s3_config cfg = s3t_config(bucket);
    cfg.part_size = 5 * MiB;
    cfg.memory_budget = 10 * MiB;
    cfg.budget_wait_ms = 0;
    s3_client *c = s3t_client(&cfg);
    s3_writer *w1, *w2, *w3, *w4;
    s3_error e;
    OK(s3_writer_open(&w1, c, "budget/1", 0, &e_));
    OK(s3_writer_open(&w2, c, "budget/2", 0, &e_));
    OK(s3_writer_open(&w3, c, "budget/3", 0, &e_));
    OK(s3_writer_write(w1, "a", 1, &e_));
    OK(s3_writer_write(w2, "b", 1, &e_));
    s3_error_clear(&e);
    assert_int_equal(s3_writer_write(w3, "c", 1, &e), S3_E_BUSY);
    print_message("budget: %s\n", e.message);
    assert_true(e.retryable);
    s3_writer_abort(w3);
    OK(s3_writer_commit(w1, NULL, &e_)); /* gives its part back */
    OK(s3_writer_open(&w3, c, "budget/3", 0, &e_));
    OK(s3_writer_write(w3, "c", 1, &e_));
    /* A writer that announces a small size takes only that much. */
    OK(s3_writer_open(&w4, c, "budget/4", 100, &e_));
    s3_error_clear(&e);
    assert_int_equal(s3_writer_write(w4, "d", 1, &e), S3_E_BUSY); /* 10 MiB in use */
    s3_writer_abort(w4);
    OK(s3_writer_commit(w2, NULL, &e_));
    OK(s3_writer_open(&w4, c, "budget/4", 100, &e_));
    OK(s3_writer_write(w4, "d", 1, &e_));
    OK(s3_writer_commit(w4, NULL, &e_));
    OK(s3_writer_commit(w3, NULL, &e_));
    s3_client_free(c);

    /* Waiting: the third writer blocks until the first commits. */
    cfg.budget_wait_ms = 60000;
    c = s3t_client(&cfg);
    OK(s3_writer_open(&w1, c, "budget/1", 0, &e_));
    OK(s3_writer_open(&w2, c, "budget/2", 0, &e_));
    OK(s3_writer_write(w1, "a", 1, &e_));
    OK(s3_writer_write(w2, "b", 1, &e_));
    waiter t = {c, S3_E_STATE, {0}};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, wait_for_budget, &t), 0);
    OK(s3_writer_commit(w1, NULL, &e_));
    assert_int_equal(pthread_join(th, NULL), 0);
    if (t.rc != S3_OK)
        fail_msg("waiting writer: %s", t.e.message);
    OK(s3_writer_commit(w2, NULL, &e_));
    s3_client_free(c);
}

static void reader_edges(void **state)
{
    s3_reader *r;
    s3_error e;
    uint64_t size = 0;
    char buf[16];
    size_t got = 1;
    char etag[S3R_ETAG_MAX + 1];
    write_object(cli, "r/k", 100000, 4096, 16, etag);
    s3_error_clear(&e);
    assert_int_equal(s3_reader_open(&r, cli, "r/missing", 0, S3_TO_END, &size, &e), S3_E_NOTFOUND);
    assert_null(r);
    s3_error_clear(&e);
    assert_int_equal(s3_reader_open(&r, cli, "r/k", 100000, 10, &size, &e), S3_E_RANGE);
    /* A zero-length range asks only for the size. */
    OK(s3_reader_open(&r, cli, "r/k", 5, 0, &size, &e_));
    assert_int_equal(size, 100000);
    OK(s3_reader_read(r, buf, sizeof buf, &got, &e_));
    assert_int_equal(got, 0);
    s3_reader_close(r);
    /* Closed in the middle: the connection is dropped, the next request works. */
    OK(s3_reader_open(&r, cli, "r/k", 10, S3_TO_END, &size, &e_));
    assert_int_equal(size, 100000);
    OK(s3_reader_read(r, buf, sizeof buf, &got, &e_));
    assert_true(got > 0 && s3t_check(buf, 10, got, 16));
    s3_reader_close(r);
    assert_int_equal(read_check(cli, "r/k", 99990, S3_TO_END, 1, 16), 10);
    assert_int_equal(read_check(cli, "r/k", 0, 1, 1, 16), 1);
}

static void swift_ctl(const char *what, const char *server)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s/scripts/testsrv/swift-ctl.sh %s %s %s", ARGOT_SOURCE_DIR,
             getenv("ARGOT_S3_TEST_DIR"), what, server);
    assert_int_equal(system(cmd), 0);
}

/* The proxy dies in the middle of a download and comes back: the reader resumes from the
 * byte it stopped at (Range + If-Match) and the bytes are exact. */
static void reader_resumes_after_a_broken_connection(void **state)
{
    uint64_t len = 64 * MiB, size = 0, pos = 0;
    char *buf = malloc(1 << 16);
    size_t got;
    s3_reader *r;
    s3_config cfg = s3t_config(bucket);
    cfg.part_size = 64 * MiB; /* one PutObject */
    cfg.memory_budget = 64 * MiB;
    s3_client *c = s3t_client(&cfg);
    char etag[S3R_ETAG_MAX + 1];
    write_object(c, "resume/k", len, 1 << 16, 30, etag);
    OK(s3_reader_open(&r, c, "resume/k", 0, S3_TO_END, &size, &e_));
    OK(s3_reader_read(r, buf, 1 << 16, &got, &e_));
    assert_true(s3t_check(buf, 0, got, 30));
    pos += got;
    swift_ctl("stop", "proxy"); /* the connection breaks with most of the body unsent */
    swift_ctl("start", "proxy");
    do {
        OK(s3_reader_read(r, buf, 1 << 16, &got, &e_));
        if (!s3t_check(buf, pos, got, 30))
            fail_msg("bytes at %llu differ after the resume", (unsigned long long)pos);
        pos += got;
    } while (got > 0);
    assert_int_equal(pos, len);
    s3_reader_close(r);
    s3_client_free(c);
    free(buf);
}

static void compose_copy_and_merge(void **state)
{
    char etag[S3R_ETAG_MAX + 1];
    s3_compose_mode mode = 0;
    write_object(small, "c/a", 6 * MiB, 1 << 16, 20, etag);
    write_object(small, "c/b", 5 * MiB + 3, 1 << 16, 21, etag);
    write_object(small, "c/c", 100, 100, 22, etag);
    /* Every range but the last >= 5 MiB: UploadPartCopy, no byte through this process. */
    s3_range copy[] = {{"c/a", 0, 6 * MiB}, {"c/b", 3, 5 * MiB}, {"c/c", 10, 50}};
    assert_true(s3_compose_can_copy(copy, 3));
    OK(s3_compose(small, "c/copied", copy, 3, &mode, &e_));
    assert_int_equal(mode, S3_COMPOSE_COPY);
    assert_int_equal(read_check(small, "c/copied", 0, 6 * MiB, 1 << 16, 20), 6 * MiB);
    assert_int_equal(read_check_at(small, "c/copied", 6 * MiB, 5 * MiB, 1 << 16, 21, 3), 5 * MiB);
    assert_int_equal(read_check_at(small, "c/copied", 11 * MiB, S3_TO_END, 7, 22, 10), 50);

    /* A small range before the end: merged through a writer instead. */
    s3_range merge[] = {{"c/c", 0, 100}, {"c/a", 1, 6 * MiB - 1}, {"c/b", 0, 3}};
    assert_false(s3_compose_can_copy(merge, 3));
    OK(s3_compose(small, "c/merged", merge, 3, &mode, &e_));
    assert_int_equal(mode, S3_COMPOSE_MERGE);
    assert_int_equal(read_check(small, "c/merged", 0, 100, 7, 22), 100);
    assert_int_equal(read_check_at(small, "c/merged", 100, 6 * MiB - 1, 1 << 16, 20, 1),
                     6 * MiB - 1);
    assert_int_equal(read_check_at(small, "c/merged", 6 * MiB + 99, S3_TO_END, 2, 21, 0), 3);
    s3_range empty[] = {{"c/c", 0, 0}};
    OK(s3_compose(small, "c/none", empty, 1, &mode, &e_));
    assert_int_equal(mode, S3_COMPOSE_MERGE);
    assert_int_equal(read_check(small, "c/none", 0, S3_TO_END, 7, 22), 0);
}

int main(void)
{
    if (!s3t_endpoint())
        return 77;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(small_object_is_one_put),
        cmocka_unit_test(large_object_is_multipart),
        cmocka_unit_test(half_gib_round_trip),
        cmocka_unit_test(failed_part_aborts),
        cmocka_unit_test(memory_budget),
        cmocka_unit_test(reader_edges),
        cmocka_unit_test(compose_copy_and_merge),
        cmocka_unit_test(reader_resumes_after_a_broken_connection),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
