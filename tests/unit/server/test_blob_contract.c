/*
 * Contract test for blob_store backends. Everything above "backend-specific" goes through the
 * ops table (and the shorthands in blob.h) only; a new backend (S3) supplies store_open() and
 * temp_count() and reuses the rest.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/blob/blob.h"

typedef struct fx {
    char dir[64];
    char root[96];
    blob_store *s;
} fx;

/* ---- backend factory: the only backend-specific part of the contract ---- */

static int store_open(fx *f)
{
    return blob_local_open(&f->s, f->root);
}

/* Entries in the temporary area (writers not committed or aborted). */
static int temp_count(fx *f)
{
    char p[128];
    DIR *d;
    struct dirent *de;
    int n = 0;

    (void)snprintf(p, sizeof p, "%s/tmp", f->root);
    d = opendir(p);
    assert_non_null(d);
    while ((de = readdir(d)) != NULL)
        n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
    closedir(d);
    return n;
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    strcpy(f->dir, "/tmp/argot-blob-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    (void)snprintf(f->root, sizeof f->root, "%s/store", f->dir);
    assert_int_equal(store_open(f), BLOB_OK);
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

static void put(blob_store *s, const char *key, const void *data, size_t len)
{
    blob_writer *w = NULL;
    assert_int_equal(blob_writer_open(s, key, &w), BLOB_OK);
    assert_int_equal(blob_writer_write(w, data, len), BLOB_OK);
    assert_int_equal(blob_writer_commit(w), BLOB_OK);
}

static void content_is(blob_store *s, const char *key, const void *data, size_t len)
{
    blob_reader r;
    char *got = malloc(len + 1);
    size_t have = 0;

    assert_non_null(got);
    assert_int_equal(s->ops->open_read(s, key, &r), BLOB_OK);
    assert_int_equal(r.size, len);
    while (have < len + 1) {
        ssize_t n = read(r.fd, got + have, len + 1 - have);
        assert_true(n >= 0);
        if (n == 0)
            break;
        have += (size_t)n;
    }
    close(r.fd);
    assert_int_equal(have, len);
    assert_memory_equal(got, data, len);
    free(got);
}

typedef struct listing {
    int n;
    const char *want;
    uint64_t want_size;
    int found;
} listing;

static int list_cb(const char *key, uint64_t size, int64_t mtime, void *userdata)
{
    listing *l = userdata;
    assert_true(blob_key_valid(key));
    assert_true(mtime > 0);
    l->n++;
    if (l->want && strcmp(key, l->want) == 0) {
        l->found = 1;
        assert_int_equal(size, l->want_size);
    }
    return 0;
}

static int blob_count(blob_store *s)
{
    listing l = {0};
    assert_int_equal(s->ops->list(s, list_cb, &l), BLOB_OK);
    return l.n;
}

/* ---- keys ---- */

static void test_keys(void **state)
{
    char k[50][BLOB_KEY_LEN + 1];
    (void)state;

    for (int i = 0; i < 50; i++) {
        assert_int_equal(blob_key_new(k[i]), BLOB_OK);
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
    blob_writer *w = (blob_writer *)&w;
    blob_reader r;
    static const char *const bad[] = {"", "../x", "0123456789abcdef0123456789abcde",
                                      "0123456789ABCDEF0123456789abcdef",
                                      "/0123456789abcdef0123456789abcde"};

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(blob_writer_open(s, bad[i], &w), BLOB_E_INVALID);
        assert_int_equal(s->ops->open_read(s, bad[i], &r), BLOB_E_INVALID);
        assert_int_equal(s->ops->remove(s, bad[i]), BLOB_E_INVALID);
    }
    assert_int_equal(blob_writer_open(s, NULL, &w), BLOB_E_INVALID);
}

/* ---- writers ---- */

static void test_write_commit_read(void **state)
{
    fx *f = *state;
    blob_store *s = f->s;
    size_t big = (size_t)3 << 20;
    char *data = malloc(big);
    char key[BLOB_KEY_LEN + 1];
    blob_writer *w;
    listing l = {0};

    assert_non_null(data);
    for (size_t i = 0; i < big; i++)
        data[i] = (char)(i * 131 + 7);
    blob_key_new(key);
    assert_int_equal(blob_writer_open(s, key, &w), BLOB_OK);
    assert_int_equal(temp_count(f), 1);
    assert_int_equal(blob_writer_write(w, data, 10), BLOB_OK);
    assert_int_equal(blob_writer_write(w, data + 10, 0), BLOB_OK);
    assert_int_equal(blob_writer_write(w, data + 10, big - 10), BLOB_OK); /* one large write */
    assert_int_equal(blob_writer_commit(w), BLOB_OK);
    assert_int_equal(temp_count(f), 0);
    content_is(s, key, data, big);

    l.want = key;
    l.want_size = big;
    assert_int_equal(s->ops->list(s, list_cb, &l), BLOB_OK);
    assert_int_equal(l.n, 1);
    assert_true(l.found);
    free(data);
}

/* copy_from: blobs assembled from others (Uploads completion), from any offset. */
static void test_copy_from(void **state)
{
    fx *f = *state;
    blob_store *s = f->s;
    size_t n = (size_t)3 << 20;
    char *data = malloc(2 * n);
    char a[BLOB_KEY_LEN + 1], b[BLOB_KEY_LEN + 1], out[BLOB_KEY_LEN + 1];
    blob_reader ra, rb;
    blob_writer *w;

    assert_non_null(data);
    for (size_t i = 0; i < 2 * n; i++)
        data[i] = (char)(i * 131 + (i >> 12));
    blob_key_new(a), blob_key_new(b), blob_key_new(out);
    put(s, a, data, n);
    put(s, b, data + n, n);
    assert_int_equal(s->ops->open_read(s, a, &ra), BLOB_OK);
    assert_int_equal(s->ops->open_read(s, b, &rb), BLOB_OK);
    assert_int_equal(blob_writer_open(s, out, &w), BLOB_OK);
    assert_int_equal(blob_writer_copy_from(w, ra.fd, 0, 10), BLOB_OK);
    assert_int_equal(blob_writer_copy_from(w, ra.fd, 10, n - 10), BLOB_OK);
    assert_int_equal(blob_writer_copy_from(w, rb.fd, 0, 0), BLOB_OK);
    assert_int_equal(blob_writer_write(w, data + n, 5), BLOB_OK); /* mixed with writes */
    assert_int_equal(blob_writer_copy_from(w, rb.fd, 5, n - 5), BLOB_OK);
    assert_int_equal(blob_writer_commit(w), BLOB_OK);
    content_is(s, out, data, 2 * n);
    /* a source shorter than said fails, and abort leaves nothing */
    blob_key_new(out);
    assert_int_equal(blob_writer_open(s, out, &w), BLOB_OK);
    assert_int_equal(blob_writer_copy_from(w, rb.fd, n - 5, 10), BLOB_E_IO);
    assert_int_equal(blob_writer_copy_from(w, -1, 0, 10), BLOB_E_INVALID);
    blob_writer_abort(w);
    assert_int_equal(temp_count(f), 0);
    close(ra.fd);
    close(rb.fd);
    free(data);
}

static void test_empty_blob(void **state)
{
    blob_store *s = ((fx *)*state)->s;
    char key[BLOB_KEY_LEN + 1];
    blob_writer *w;

    blob_key_new(key);
    assert_int_equal(blob_writer_open(s, key, &w), BLOB_OK);
    assert_int_equal(blob_writer_commit(w), BLOB_OK);
    content_is(s, key, "", 0);
}

static void test_abort(void **state)
{
    fx *f = *state;
    blob_store *s = f->s;
    char key[BLOB_KEY_LEN + 1];
    blob_writer *w;
    blob_reader r;

    blob_key_new(key);
    assert_int_equal(blob_writer_open(s, key, &w), BLOB_OK);
    assert_int_equal(blob_writer_write(w, "hello", 5), BLOB_OK);
    blob_writer_abort(w);
    blob_writer_abort(NULL);
    assert_int_equal(temp_count(f), 0);
    assert_int_equal(blob_count(s), 0);
    assert_int_equal(s->ops->open_read(s, key, &r), BLOB_E_NOTFOUND);
    /* The key is free again. */
    put(s, key, "again", 5);
    content_is(s, key, "again", 5);
}

static void test_two_writers_same_key(void **state)
{
    fx *f = *state;
    blob_store *s = f->s;
    char key[BLOB_KEY_LEN + 1];
    blob_writer *w1, *w2 = NULL;

    blob_key_new(key);
    assert_int_equal(blob_writer_open(s, key, &w1), BLOB_OK);
    assert_int_not_equal(blob_writer_open(s, key, &w2), BLOB_OK);
    assert_null(w2);
    blob_writer_abort(w1);
    assert_int_equal(temp_count(f), 0);
}

static void test_remove(void **state)
{
    blob_store *s = ((fx *)*state)->s;
    char key[BLOB_KEY_LEN + 1];
    blob_reader r;

    blob_key_new(key);
    assert_int_equal(s->ops->remove(s, key), BLOB_E_NOTFOUND);
    put(s, key, "x", 1);
    assert_int_equal(s->ops->remove(s, key), BLOB_OK);
    assert_int_equal(s->ops->remove(s, key), BLOB_E_NOTFOUND);
    assert_int_equal(s->ops->open_read(s, key, &r), BLOB_E_NOTFOUND);
    assert_int_equal(blob_count(s), 0);
}

static int stop_cb(const char *key, uint64_t size, int64_t mtime, void *userdata)
{
    (void)key, (void)size, (void)mtime;
    (*(int *)userdata)++;
    return 9;
}

static void test_list_many_and_stop(void **state)
{
    blob_store *s = ((fx *)*state)->s;
    char key[BLOB_KEY_LEN + 1];
    int calls = 0;

    for (int i = 0; i < 40; i++) {
        blob_key_new(key);
        put(s, key, key, (size_t)i % sizeof key);
    }
    assert_int_equal(blob_count(s), 40);
    assert_int_equal(s->ops->list(s, stop_cb, &calls), 9);
    assert_int_equal(calls, 1);
}

static void test_sweep_temp(void **state)
{
    fx *f = *state;
    blob_store *s = f->s;
    char key[BLOB_KEY_LEN + 1];
    blob_writer *w[3];

    blob_key_new(key);
    put(s, key, "kept", 4);
    for (int i = 0; i < 3; i++) {
        char k[BLOB_KEY_LEN + 1];
        blob_key_new(k);
        assert_int_equal(blob_writer_open(s, k, &w[i]), BLOB_OK);
        assert_int_equal(blob_writer_write(w[i], "partial", 7), BLOB_OK);
    }
    /* Stand-in for a crash: writers left open, then the startup sweep. */
    assert_int_equal(s->ops->sweep_temp(s), 3);
    assert_int_equal(temp_count(f), 0);
    assert_int_equal(blob_count(s), 1);
    content_is(s, key, "kept", 4);
    for (int i = 0; i < 3; i++)
        blob_writer_abort(w[i]); /* frees the writers; nothing left to remove */
    assert_int_equal(s->ops->sweep_temp(s), 0);
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
    assert_int_equal(temp_count(f), 0);
}

/* ---- backend-specific: local disk ---- */

static void mode_is(const char *path, mode_t want)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, want);
}

static void modes_under_umask(fx *f, mode_t mask)
{
    char key[BLOB_KEY_LEN + 1], p[192];
    blob_writer *w;
    mode_t old;

    blob_store_free(f->s);
    (void)snprintf(f->root, sizeof f->root, "%s/umask%03o", f->dir, (unsigned)mask);
    blob_key_new(key);
    old = umask(mask);
    assert_int_equal(store_open(f), BLOB_OK);
    assert_int_equal(blob_writer_open(f->s, key, &w), BLOB_OK);
    (void)snprintf(p, sizeof p, "%s/tmp/%s.tmp", f->root, key);
    mode_is(p, 0600);
    assert_int_equal(blob_writer_commit(w), BLOB_OK);
    umask(old);
    mode_is(f->root, 0700);
    (void)snprintf(p, sizeof p, "%s/blobs", f->root);
    mode_is(p, 0700);
    (void)snprintf(p, sizeof p, "%s/tmp", f->root);
    mode_is(p, 0700);
    (void)snprintf(p, sizeof p, "%s/blobs/%.2s", f->root, key);
    mode_is(p, 0700);
    (void)snprintf(p, sizeof p, "%s/blobs/%.2s/%s", f->root, key, key);
    mode_is(p, 0600);
}

static void test_local_modes(void **state)
{
    modes_under_umask(*state, 0);    /* not more open than asked */
    modes_under_umask(*state, 0277); /* not less either: fchmod, not the umask */
}

static void test_local_list_ignores_junk(void **state)
{
    fx *f = *state;
    char key[BLOB_KEY_LEN + 1], p[192];
    const char *other;
    FILE *fp;

    blob_key_new(key);
    other = key[0] == '0' ? "11" : "00";
    put(f->s, key, "k", 1);
    (void)snprintf(p, sizeof p, "%s/blobs/%.2s/not-a-key", f->root, key);
    fp = fopen(p, "w");
    assert_non_null(fp);
    (void)fclose(fp);
    (void)snprintf(p, sizeof p, "%s/blobs/zz", f->root);
    assert_int_equal(mkdir(p, 0700), 0);
    /* A valid key in the wrong fan-out directory is not ours either. */
    (void)snprintf(p, sizeof p, "%s/blobs/%s", f->root, other);
    assert_int_equal(mkdir(p, 0700), 0);
    (void)snprintf(p, sizeof p, "%s/blobs/%s/%s", f->root, other, key);
    fp = fopen(p, "w");
    assert_non_null(fp);
    (void)fclose(fp);
    assert_int_equal(blob_count(f->s), 1);
}

static void reopen_with_fault(fx *f, const char *spec)
{
    blob_store_free(f->s);
    assert_int_equal(setenv("ARGOT_FAULT_BLOB", spec, 1), 0);
    assert_int_equal(store_open(f), BLOB_OK);
    assert_int_equal(unsetenv("ARGOT_FAULT_BLOB"), 0);
}

static void test_local_fault_write(void **state)
{
    fx *f = *state;
    char key[BLOB_KEY_LEN + 1];
    blob_writer *w;

    reopen_with_fault(f, "write:2");
    blob_key_new(key);
    assert_int_equal(blob_writer_open(f->s, key, &w), BLOB_OK);
    assert_int_equal(blob_writer_write(w, "one", 3), BLOB_OK);
    assert_int_equal(blob_writer_write(w, "two", 3), BLOB_E_NOSPC);
    assert_int_equal(errno, ENOSPC);
    blob_writer_abort(w);
    assert_int_equal(temp_count(f), 0);
    assert_int_equal(blob_count(f->s), 0);
    put(f->s, key, "three", 5); /* each fault fires once */
}

/* Commit does fsync(temp) [1], fsync(blobs/) for a new fan-out dir [2], fsync(blobs/xx) [3]. */
static void test_local_fault_fsync(void **state)
{
    fx *f = *state;
    static const char *const specs[] = {"fsync:1", "fsync:2", "fsync:3"};
    char key[BLOB_KEY_LEN + 1];
    blob_writer *w;
    blob_reader r;

    for (int i = 0; i < 3; i++) {
        reopen_with_fault(f, specs[i]);
        blob_key_new(key);
        assert_int_equal(blob_writer_open(f->s, key, &w), BLOB_OK);
        assert_int_equal(blob_writer_write(w, "data", 4), BLOB_OK);
        assert_int_equal(blob_writer_commit(w), BLOB_E_IO);
        assert_int_equal(errno, EIO);
        assert_int_equal(temp_count(f), 0);
        assert_int_equal(blob_count(f->s), 0);
        assert_int_equal(f->s->ops->open_read(f->s, key, &r), BLOB_E_NOTFOUND);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys),
        cmocka_unit_test_setup_teardown(test_invalid_keys_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_commit_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copy_from, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_blob, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abort, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_writers_same_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_many_and_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep_temp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_commits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_local_modes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_local_list_ignores_junk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_local_fault_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_local_fault_fsync, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
