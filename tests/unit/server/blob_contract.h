/*
 * The generic half of the blob backend contract: every test here goes through the ops table
 * only, and each backend's test file (test_blob_local.c, test_blob_mem.c, later S3) includes it
 * and supplies the fixture (blob_fixture_open) before its own, backend-specific tests.
 * Optional capabilities are tested when the backend declares them and checked absent when it
 * does not.
 */
#ifndef ARGOT_TEST_BLOB_CONTRACT_H
#define ARGOT_TEST_BLOB_CONTRACT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "server/blob/blob.h"

typedef struct fx {
    char dir[64];  /* a scratch directory for backends that need one */
    char root[96]; /* where the store lives (local disk) */
    blob_store *s;
} fx;

/* Supplied by the including file: opens f->s (f->dir and f->root are set). */
static int blob_fixture_open(fx *f);

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    strcpy(f->dir, "/tmp/argot-blob-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    (void)snprintf(f->root, sizeof f->root, "%s/store", f->dir);
    assert_int_equal(blob_fixture_open(f), ST_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    char cmd[128];
    blob_store_free(f->s);
    (void)snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* ---- helpers ---- */

static blob_writer *wopen(blob_store *s, const char *key)
{
    blob_writer *w = NULL;
    st_err e = ST_ERR_INIT;
    assert_int_equal(s->ops->writer_open(s, key, &w, &e), ST_OK);
    assert_non_null(w);
    return w;
}

static void wwrite(blob_writer *w, const void *data, size_t len)
{
    st_err e = ST_ERR_INIT;
    assert_int_equal(blob_writer_write(w, data, len, &e), ST_OK);
}

static void put(blob_store *s, const char *key, const void *data, size_t len)
{
    st_err e = ST_ERR_INIT;
    blob_writer *w = wopen(s, key);
    wwrite(w, data, len);
    assert_int_equal(blob_writer_commit(w, &e), ST_OK);
}

/* Reads [off, off + len) through a reader, in pieces of at most step bytes. */
static char *read_range(blob_store *s,
                        const char *key,
                        uint64_t off,
                        uint64_t len,
                        size_t step,
                        uint64_t *size,
                        size_t *got)
{
    blob_reader *r = NULL;
    st_err e = ST_ERR_INIT;
    assert_int_equal(s->ops->reader_open(s, key, off, len, &r, size, &e), ST_OK);
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    for (;;) {
        if (cap - n < step) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        ssize_t k = blob_read(r, buf + n, step, &e);
        assert_true(k >= 0);
        if (k == 0)
            break;
        n += (size_t)k;
    }
    blob_reader_close(r);
    *got = n;
    return buf;
}

static void content_is(blob_store *s, const char *key, const void *data, size_t len)
{
    uint64_t size = 0;
    size_t got = 0;
    char *buf = read_range(s, key, 0, BLOB_TO_END, 65536, &size, &got);
    assert_int_equal(size, len);
    assert_int_equal(got, len);
    assert_memory_equal(buf, data, len);
    free(buf);
}

typedef struct listing {
    int n;
    const char *want;
    uint64_t want_size;
    int found;
    char last[BLOB_KEY_LEN + 1];
    int ordered;
} listing;

static int list_cb(const char *key, uint64_t size, int64_t mtime, void *userdata)
{
    listing *l = userdata;
    assert_true(blob_key_valid(key));
    assert_true(mtime > 0);
    if (l->n && strcmp(key, l->last) <= 0)
        l->ordered = 0;
    memcpy(l->last, key, sizeof l->last);
    l->n++;
    if (l->want && strcmp(key, l->want) == 0) {
        l->found = 1;
        assert_int_equal(size, l->want_size);
    }
    return 0;
}

/* Every blob, page by page (pages of page blobs); checks the key order across pages. */
static int blob_count_paged(blob_store *s, int page, listing *l)
{
    st_err e = ST_ERR_INIT;
    l->ordered = 1;
    for (;;) {
        int n = s->ops->list(s, l->n ? l->last : "", page, list_cb, l, &e);
        assert_true(n >= 0);
        if (n < page)
            break;
    }
    assert_true(l->ordered);
    return l->n;
}

static int blob_count(blob_store *s)
{
    listing l = {0};
    return blob_count_paged(s, 1000, &l);
}

static int not_found(blob_store *s, const char *key)
{
    blob_reader *r = NULL;
    st_err e = ST_ERR_INIT;
    int rc = s->ops->reader_open(s, key, 0, BLOB_TO_END, &r, NULL, &e);
    assert_null(r);
    return rc == ST_E_NOTFOUND && e.code == ST_E_NOTFOUND && e.msg[0];
}

/* ---- keys and arguments ---- */

static void test_keys(void **state)
{
    char k[50][BLOB_KEY_LEN + 1];
    (void)state;

    for (int i = 0; i < 50; i++) {
        assert_int_equal(blob_key_new(k[i]), ST_OK);
        assert_int_equal(strlen(k[i]), BLOB_KEY_LEN);
        assert_true(blob_key_valid(k[i]));
        for (int j = 0; j < i; j++)
            assert_string_not_equal(k[i], k[j]);
    }
    assert_false(blob_key_valid(NULL));
    assert_false(blob_key_valid(""));
    assert_false(blob_key_valid("0123456789abcdef0123456789abcde"));   /* 31 */
    assert_false(blob_key_valid("0123456789abcdef0123456789abcdef0")); /* 33 */
    assert_false(blob_key_valid("0123456789ABCDEF0123456789abcdef"));  /* upper case */
    assert_false(blob_key_valid("0123456789abcdeg0123456789abcdef"));
    assert_false(blob_key_valid("../../../../../../../../etc/pass"));
    assert_false(blob_key_valid("0123456789abcdef/123456789abcdef"));
    assert_true(blob_key_valid("0123456789abcdef0123456789abcdef"));
}

static void test_invalid_keys_refused(void **state)
{
    blob_store *s = ((fx *)*state)->s;
    blob_writer *w = NULL;
    blob_reader *r = NULL;
    static const char *const bad[] = {"", "../x", "0123456789abcdef0123456789abcde",
                                      "0123456789ABCDEF0123456789abcdef",
                                      "/0123456789abcdef0123456789abcde"};

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        st_err e = ST_ERR_INIT;
        assert_int_equal(s->ops->writer_open(s, bad[i], &w, &e), ST_E_INVALID);
        assert_int_equal(e.code, ST_E_INVALID);
        assert_int_equal(s->ops->reader_open(s, bad[i], 0, 1, &r, NULL, &e), ST_E_INVALID);
        assert_int_equal(s->ops->remove(s, bad[i], &e), ST_E_INVALID);
        assert_int_equal(s->ops->list(s, bad[i][0] ? bad[i] : "x", 10, list_cb, NULL, &e),
                         ST_E_INVALID);
    }
    st_err e = ST_ERR_INIT;
    assert_int_equal(s->ops->writer_open(s, NULL, &w, &e), ST_E_INVALID);
    assert_null(w);
}

/* The error record keeps the first failure (curl's Curl_failf rule). */
static void test_first_error_wins(void **state)
{
    blob_store *s = ((fx *)*state)->s;
    char key[BLOB_KEY_LEN + 1];
    blob_reader *r = NULL;
    st_err e = ST_ERR_INIT;
    blob_key_new(key);
    assert_int_equal(s->ops->reader_open(s, key, 0, 1, &r, NULL, &e), ST_E_NOTFOUND);
    char first[ST_MSG_MAX];
    memcpy(first, e.msg, sizeof first);
    assert_int_equal(s->ops->remove(s, "bad", &e), ST_E_INVALID);
    assert_int_equal(e.code, ST_E_NOTFOUND);
    assert_string_equal(e.msg, first);
    assert_false(e.retryable);
}

/* ---- writes and reads ---- */

static void test_write_commit_read(void **state)
{
    fx *f = *state;
    blob_store *s = f->s;
    size_t big = (size_t)3 << 20;
    char *data = malloc(big);
    char key[BLOB_KEY_LEN + 1];
    st_err e = ST_ERR_INIT;

    assert_non_null(data);
    for (size_t i = 0; i < big; i++)
        data[i] = (char)(i * 131 + 7);
    blob_key_new(key);
    blob_writer *w = wopen(s, key);
    assert_true(not_found(s, key)); /* nothing under the key before the commit */
    wwrite(w, data, 10);
    wwrite(w, data + 10, 0);
    wwrite(w, data + 10, big - 10); /* one large write */
    assert_int_equal(blob_writer_commit(w, &e), ST_OK);
    content_is(s, key, data, big);

    listing l = {0};
    l.want = key;
    l.want_size = big;
    assert_int_equal(blob_count_paged(s, 10, &l), 1);
    assert_true(l.found);
    free(data);
}

static void test_ranges(void **state)
{
    blob_store *s = ((fx *)*state)->s;
    char key[BLOB_KEY_LEN + 1], data[1000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (char)(i * 7 + 3);
    blob_key_new(key);
    put(s, key, data, sizeof data);
    static const struct {
        uint64_t off, len, want_off, want_len;
    } cases[] = {
        {0, 10, 0, 10},     {990, 10, 990, 10}, {990, 100, 990, 10}, {500, BLOB_TO_END, 500, 500},
        {1000, 5, 1000, 0}, {5000, 5, 1000, 0}, {0, 0, 0, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (size_t step = 1; step <= 4096; step *= 64) {
            uint64_t size = 0;
            size_t got = 0;
            char *b = read_range(s, key, cases[i].off, cases[i].len, step, &size, &got);
            assert_int_equal(size, sizeof data);
            assert_int_equal(got, cases[i].want_len);
            assert_memory_equal(b, data + cases[i].want_off, got);
            free(b);
        }
    }
}

/* With BLOB_CAP_FD a reader hands its descriptor over, positioned by offset and length. */
static void test_reader_fd(void **state)
{
    blob_store *s = ((fx *)*state)->s;
    if (!(s->ops->caps & BLOB_CAP_FD)) {
        assert_null(s->ops->reader_take_fd);
        return;
    }
    char key[BLOB_KEY_LEN + 1], buf[16];
    blob_key_new(key);
    put(s, key, "0123456789", 10);
    blob_reader *r = NULL;
    st_err e = ST_ERR_INIT;
    assert_int_equal(s->ops->reader_open(s, key, 3, 4, &r, NULL, &e), ST_OK);
    int fd = -1;
    uint64_t off = 0, len = 0;
    assert_int_equal(s->ops->reader_take_fd(r, &fd, &off, &len), 0);
    assert_int_equal(s->ops->reader_take_fd(r, &fd, &off, &len), -1); /* taken once */
    assert_true(blob_read(r, buf, sizeof buf, &e) < 0);               /* nothing left */
    blob_reader_close(r);
    assert_int_equal(off, 3);
    assert_int_equal(len, 4);
    assert_int_equal(pread(fd, buf, len, (off_t)off), 4); /* still open after the close */
    assert_memory_equal(buf, "3456", 4);
    close(fd);
}

/* A reader opened before a removal reads the whole blob (a download racing a delete). */
static void test_read_while_removed(void **state)
{
    blob_store *s = ((fx *)*state)->s;
    char key[BLOB_KEY_LEN + 1], buf[64];
    st_err e = ST_ERR_INIT;
    blob_key_new(key);
    put(s, key, "still here", 10);
    blob_reader *r = NULL;
    assert_int_equal(s->ops->reader_open(s, key, 0, BLOB_TO_END, &r, NULL, &e), ST_OK);
    assert_int_equal(s->ops->remove(s, key, &e), ST_OK);
    assert_true(not_found(s, key));
    assert_int_equal(blob_read(r, buf, sizeof buf, &e), 10);
    assert_memory_equal(buf, "still here", 10);
    blob_reader_close(r);
}

/* Server-side compose, when the backend has it: blobs assembled from others (Uploads API). */
static void test_compose(void **state)
{
    blob_store *s = ((fx *)*state)->s;
    if (!(s->ops->caps & BLOB_CAP_COMPOSE)) {
        assert_null(s->ops->compose);
        return;
    }
    size_t n = (size_t)3 << 20;
    char *data = malloc(2 * n);
    char a[BLOB_KEY_LEN + 1], b[BLOB_KEY_LEN + 1], out[BLOB_KEY_LEN + 1];
    st_err e = ST_ERR_INIT;
    assert_non_null(data);
    for (size_t i = 0; i < 2 * n; i++)
        data[i] = (char)(i * 131 + (i >> 12));
    blob_key_new(a), blob_key_new(b), blob_key_new(out);
    put(s, a, data, n);
    put(s, b, data + n, n);
    blob_writer *w = wopen(s, out);
    assert_int_equal(s->ops->compose(w, a, 0, 10, &e), ST_OK);
    assert_int_equal(s->ops->compose(w, a, 10, n - 10, &e), ST_OK);
    assert_int_equal(s->ops->compose(w, b, 0, 0, &e), ST_OK);
    wwrite(w, data + n, 5); /* mixed with writes */
    assert_int_equal(s->ops->compose(w, b, 5, n - 5, &e), ST_OK);
    assert_int_equal(blob_writer_commit(w, &e), ST_OK);
    content_is(s, out, data, 2 * n);
    /* a source shorter than said, or missing, fails; abort leaves nothing */
    blob_key_new(out);
    w = wopen(s, out);
    assert_int_equal(s->ops->compose(w, b, n - 5, 10, &e), ST_E_IO);
    st_err e2 = ST_ERR_INIT;
    char missing[BLOB_KEY_LEN + 1];
    blob_key_new(missing);
    assert_int_equal(s->ops->compose(w, missing, 0, 1, &e2), ST_E_NOTFOUND);
    blob_writer_abort(w);
    assert_true(not_found(s, out));
    free(data);
}

static void test_empty_blob(void **state)
{
    blob_store *s = ((fx *)*state)->s;
    char key[BLOB_KEY_LEN + 1];
    st_err e = ST_ERR_INIT;
    blob_key_new(key);
    blob_writer *w = wopen(s, key);
    assert_int_equal(blob_writer_commit(w, &e), ST_OK);
    content_is(s, key, "", 0);
}

static void test_abort(void **state)
{
    blob_store *s = ((fx *)*state)->s;
    char key[BLOB_KEY_LEN + 1];
    blob_key_new(key);
    blob_writer *w = wopen(s, key);
    wwrite(w, "hello", 5);
    blob_writer_abort(w);
    blob_writer_abort(NULL);
    assert_int_equal(blob_count(s), 0);
    assert_true(not_found(s, key));
    put(s, key, "again", 5); /* the key is free again */
    content_is(s, key, "again", 5);
}

static void test_two_writers_same_key(void **state)
{
    blob_store *s = ((fx *)*state)->s;
    char key[BLOB_KEY_LEN + 1];
    blob_writer *w2 = NULL;
    st_err e = ST_ERR_INIT;
    blob_key_new(key);
    blob_writer *w1 = wopen(s, key);
    assert_int_equal(s->ops->writer_open(s, key, &w2, &e), ST_E_CONFLICT);
    assert_null(w2);
    blob_writer_abort(w1);
    w2 = wopen(s, key);
    blob_writer_abort(w2);
}

static void test_remove_idempotent(void **state)
{
    blob_store *s = ((fx *)*state)->s;
    char key[BLOB_KEY_LEN + 1];
    st_err e = ST_ERR_INIT;
    blob_key_new(key);
    assert_int_equal(s->ops->remove(s, key, &e), ST_OK); /* never there */
    put(s, key, "x", 1);
    assert_int_equal(s->ops->remove(s, key, &e), ST_OK);
    assert_int_equal(s->ops->remove(s, key, &e), ST_OK); /* again */
    assert_int_equal(e.code, ST_OK);
    assert_true(not_found(s, key));
    assert_int_equal(blob_count(s), 0);
}

static int stop_cb(const char *key, uint64_t size, int64_t mtime, void *userdata)
{
    (void)key, (void)size, (void)mtime;
    (*(int *)userdata)++;
    return 9;
}

static void test_list_pages_and_stop(void **state)
{
    blob_store *s = ((fx *)*state)->s;
    char key[BLOB_KEY_LEN + 1];
    int calls = 0;
    st_err e = ST_ERR_INIT;
    for (int i = 0; i < 40; i++) {
        blob_key_new(key);
        put(s, key, key, (size_t)i % sizeof key);
    }
    for (int page = 1; page <= 41; page += 8) {
        listing l = {0};
        assert_int_equal(blob_count_paged(s, page, &l), 40);
    }
    assert_int_equal(s->ops->list(s, "", 10, stop_cb, &calls, &e), 9);
    assert_int_equal(calls, 1);
    assert_int_equal(s->ops->list(s, "ffffffffffffffffffffffffffffffff", 10, list_cb, NULL, &e), 0);
    assert_int_equal(s->ops->list(s, "", 0, list_cb, NULL, &e), ST_E_INVALID);
}

/* A writer left unfinished (a crash) is reaped once older than the grace, never before, and a
 * reaped write can no longer be committed. Committed blobs are never touched. */
static void test_reap_unfinished(void **state)
{
    blob_store *s = ((fx *)*state)->s;
    char key[BLOB_KEY_LEN + 1];
    blob_writer *w[3];
    st_err e = ST_ERR_INIT;
    blob_key_new(key);
    put(s, key, "kept", 4);
    for (int i = 0; i < 3; i++) {
        char k[BLOB_KEY_LEN + 1];
        blob_key_new(k);
        w[i] = wopen(s, k);
        wwrite(w[i], "partial", 7);
    }
    int64_t now = (int64_t)time(NULL);
    assert_int_equal(s->ops->reap_unfinished(s, now - 3600, &e), 0); /* all recent */
    assert_int_equal(s->ops->reap_unfinished(s, now + 2, &e), 3);
    assert_int_equal(s->ops->reap_unfinished(s, now + 2, &e), 0);
    assert_int_equal(blob_count(s), 1);
    content_is(s, key, "kept", 4);
    for (int i = 0; i < 3; i++) {
        st_err ce = ST_ERR_INIT;
        assert_int_not_equal(blob_writer_commit(w[i], &ce), ST_OK);
    }
    assert_int_equal(blob_count(s), 1);
}

#define NTHREADS   8
#define PER_THREAD 25

static void *commit_thread(void *arg)
{
    blob_store *s = arg;
    char key[BLOB_KEY_LEN + 1];
    for (int i = 0; i < PER_THREAD; i++) {
        blob_key_new(key);
        put(s, key, key, BLOB_KEY_LEN);
        content_is(s, key, key, BLOB_KEY_LEN);
    }
    return NULL;
}

static void test_concurrent_commits(void **state)
{
    fx *f = *state;
    pthread_t t[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, commit_thread, f->s), 0);
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    assert_int_equal(blob_count(f->s), NTHREADS * PER_THREAD);
}

static void test_version(void **state)
{
    blob_store *s = ((fx *)*state)->s;
    assert_int_equal(s->ops->version, BLOB_OPS_VERSION);
    assert_non_null(s->ops->name);
    assert_int_equal(!!(s->ops->caps & BLOB_CAP_FD), s->ops->reader_take_fd != NULL);
    assert_int_equal(!!(s->ops->caps & BLOB_CAP_COMPOSE), s->ops->compose != NULL);
}

#define BLOB_CONTRACT_TESTS                                                                        \
    cmocka_unit_test(test_keys), cmocka_unit_test_setup_teardown(test_version, setup, teardown),   \
        cmocka_unit_test_setup_teardown(test_invalid_keys_refused, setup, teardown),               \
        cmocka_unit_test_setup_teardown(test_first_error_wins, setup, teardown),                   \
        cmocka_unit_test_setup_teardown(test_write_commit_read, setup, teardown),                  \
        cmocka_unit_test_setup_teardown(test_ranges, setup, teardown),                             \
        cmocka_unit_test_setup_teardown(test_reader_fd, setup, teardown),                          \
        cmocka_unit_test_setup_teardown(test_read_while_removed, setup, teardown),                 \
        cmocka_unit_test_setup_teardown(test_compose, setup, teardown),                            \
        cmocka_unit_test_setup_teardown(test_empty_blob, setup, teardown),                         \
        cmocka_unit_test_setup_teardown(test_abort, setup, teardown),                              \
        cmocka_unit_test_setup_teardown(test_two_writers_same_key, setup, teardown),               \
        cmocka_unit_test_setup_teardown(test_remove_idempotent, setup, teardown),                  \
        cmocka_unit_test_setup_teardown(test_list_pages_and_stop, setup, teardown),                \
        cmocka_unit_test_setup_teardown(test_reap_unfinished, setup, teardown),                    \
        cmocka_unit_test_setup_teardown(test_concurrent_commits, setup, teardown)

#endif
