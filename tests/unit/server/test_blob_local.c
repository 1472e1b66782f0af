/*
 * The blob backend contract on the local-disk backend: the generic half (blob_contract.h),
 * then what only this backend promises: file modes under any umask, a listing that ignores
 * foreign files, temporaries in tmp/, and injected write/fsync faults (ARGOT_FAULT_BLOB).
 */
#include "blob_contract.h"

#include <dirent.h>
#include <sys/stat.h>

static int blob_fixture_open(fx *f)
{
    st_err e = ST_ERR_INIT;
    return blob_local_open(&f->s, f->root, &e);
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

static void test_local_temporaries(void **state)
{
    fx *f = *state;
    char key[BLOB_KEY_LEN + 1];
    st_err e = ST_ERR_INIT;
    blob_key_new(key);
    blob_writer *w = wopen(f->s, key);
    assert_int_equal(temp_count(f), 1);
    wwrite(w, "abc", 3);
    assert_int_equal(blob_writer_commit(w, &e), ST_OK);
    assert_int_equal(temp_count(f), 0);
    blob_key_new(key);
    w = wopen(f->s, key);
    blob_writer_abort(w);
    assert_int_equal(temp_count(f), 0);
}

static void test_local_reap_leaves_foreign_dirs(void **state)
{
    fx *f = *state;
    char p[192];
    st_err e = ST_ERR_INIT;
    (void)snprintf(p, sizeof p, "%s/tmp/a-dir", f->root);
    assert_int_equal(mkdir(p, 0700), 0);
    (void)snprintf(p, sizeof p, "%s/tmp/a-dir/x", f->root);
    FILE *fp = fopen(p, "w");
    assert_non_null(fp);
    (void)fclose(fp);
    assert_true(f->s->ops->reap_unfinished(f->s, INT64_MAX, &e) >= 0); /* a full dir stays */
    assert_int_equal(temp_count(f), 1);
}

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
    st_err e = ST_ERR_INIT;
    blob_key_new(key);
    old = umask(mask);
    assert_int_equal(blob_fixture_open(f), ST_OK);
    w = wopen(f->s, key);
    (void)snprintf(p, sizeof p, "%s/tmp/%s.tmp", f->root, key);
    mode_is(p, 0600);
    assert_int_equal(blob_writer_commit(w, &e), ST_OK);
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
    assert_int_equal(blob_fixture_open(f), ST_OK);
    assert_int_equal(unsetenv("ARGOT_FAULT_BLOB"), 0);
}

static void test_local_fault_write(void **state)
{
    fx *f = *state;
    char key[BLOB_KEY_LEN + 1];
    blob_writer *w;

    st_err e = ST_ERR_INIT;
    reopen_with_fault(f, "write:2");
    blob_key_new(key);
    w = wopen(f->s, key);
    wwrite(w, "one", 3);
    assert_int_equal(blob_writer_write(w, "two", 3, &e), ST_E_NOSPC);
    assert_int_equal(e.sys, ENOSPC);
    assert_false(e.retryable);
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

    for (int i = 0; i < 3; i++) {
        st_err e = ST_ERR_INIT;
        reopen_with_fault(f, specs[i]);
        blob_key_new(key);
        w = wopen(f->s, key);
        wwrite(w, "data", 4);
        assert_int_equal(blob_writer_commit(w, &e), ST_E_IO);
        assert_int_equal(e.sys, EIO);
        assert_non_null(strstr(e.msg, "fsync"));
        assert_int_equal(temp_count(f), 0);
        assert_int_equal(blob_count(f->s), 0);
        assert_true(not_found(f->s, key));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        BLOB_CONTRACT_TESTS,
        cmocka_unit_test_setup_teardown(test_local_temporaries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_local_reap_leaves_foreign_dirs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_local_modes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_local_list_ignores_junk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_local_fault_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_local_fault_fsync, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
