/*
 * The blob backend contract on the S3 backend against the real Swift of the s3_swift fixture:
 * the generic half (tests/unit/server/blob_contract.h, each test on a fresh prefix of one
 * bucket), then what is S3's own: opening (a missing bucket, bad URLs, missing or wrong
 * credentials never shown, a budget under a part), compose by UploadPartCopy versus a merge
 * (seen in the multipart ETag's part count), an unfinished write reaped by another instance
 * and a writer whose parts keep coming kept however old its upload,
 * a removal aborting a dead writer's upload, and the shared memory budget refusing a writer
 * (retryable) when exhausted.
 */
#include "blob_contract.h"

#include <stdatomic.h>

#include "s3_harness.h"
#include "server/blob/blob_s3.h"

#define MiB (1ull << 20)

static char bucket[64];
static atomic_int seq;

/* "BUCKET/c-PID-N": a prefix no other test of this run uses. */
static void fresh_location(char *out, size_t cap)
{
    snprintf(out, cap, "%s/c-%d-%d", bucket, (int)getpid(), atomic_fetch_add(&seq, 1));
}

static int open_at(blob_store **s, const char *loc, uint64_t part, uint64_t mem, st_err *e)
{
    blob_s3_opts o = {s3t_endpoint(), part, mem, 300};
    return blob_s3_open(s, loc, &o, e);
}

static char fixture_loc[128]; /* the location of the last store the fixture opened */

static int blob_fixture_open(fx *f)
{
    st_err e = ST_ERR_INIT;
    fresh_location(fixture_loc, sizeof fixture_loc);
    int rc = open_at(&f->s, fixture_loc, 5 * MiB, 64 * MiB, &e);
    if (rc != ST_OK)
        fprintf(stderr, "blob_s3_open: %s\n", e.msg);
    return rc;
}

static void test_s3_caps(void **state)
{
    blob_store *s = ((fx *)*state)->s;
    assert_string_equal(s->ops->name, "s3");
    assert_int_equal(s->ops->caps, BLOB_CAP_COMPOSE);
}

static void open_fails(const char *loc, uint64_t part, uint64_t mem, st_code want, const char *has)
{
    blob_store *s = NULL;
    st_err e = ST_ERR_INIT;
    assert_int_equal(open_at(&s, loc, part, mem, &e), want);
    assert_null(s);
    if (!strstr(e.msg, has))
        fail_msg("'%s' does not say '%s'", e.msg, has);
    assert_null(strstr(e.msg, S3T_SECRET_KEY)); /* credentials are never in a message */
}

static void test_open_errors(void **state)
{
    char loc[128];
    (void)state;
    open_fails("argot-no-such-bucket/x", 0, 0, ST_E_NOTFOUND,
               "'argot-no-such-bucket' does not exist");
    open_fails("", 0, 0, ST_E_INVALID, "s3://BUCKET");
    open_fails("/prefix", 0, 0, ST_E_INVALID, "s3://BUCKET");
    snprintf(loc, sizeof loc, "%s/a//b", bucket);
    open_fails(loc, 0, 0, ST_E_INVALID, "prefix");
    snprintf(loc, sizeof loc, "%s/a b", bucket);
    open_fails(loc, 0, 0, ST_E_INVALID, "prefix");
    snprintf(loc, sizeof loc, "%s/x", bucket);
    open_fails(loc, 8 * MiB, 6 * MiB, ST_E_INVALID, "smaller than one part");
    open_fails(loc, 1 * MiB, 0, ST_E_INVALID, "");      /* a part under S3's 5 MiB */
    setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret", 1); /* wrong: refused, and never shown */
    open_fails(loc, 0, 0, ST_E_IO, "access denied");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    open_fails(loc, 0, 0, ST_E_INVALID, "AWS_SECRET_ACCESS_KEY");
    setenv("AWS_SECRET_ACCESS_KEY", S3T_SECRET_KEY, 1);
}

/* A raw client on the fixture's prefix. */
static s3_client *raw_client(void)
{
    static char prefix[128];
    s3_config cfg = s3t_config(bucket);
    snprintf(prefix, sizeof prefix, "%s/", strchr(fixture_loc, '/') + 1);
    cfg.prefix = prefix;
    return s3t_client(&cfg);
}

/* The ETag of key under the fixture's prefix, straight from S3 (a multipart one ends "-N"). */
static int parts_of(const char *key)
{
    char etag[S3R_ETAG_MAX + 1];
    s3_error se;
    uint64_t size;
    s3_client *c = raw_client();
    s3_error_clear(&se);
    assert_int_equal(s3_head_object(c, key, &size, etag, &se), S3_OK);
    s3_client_free(c);
    const char *dash = strrchr(etag, '-');
    return dash ? atoi(dash + 1) : 0;
}

static char *pattern(size_t n, unsigned seed)
{
    char *d = malloc(n);
    assert_non_null(d);
    for (size_t i = 0; i < n; i++)
        d[i] = (char)(i * 131 + seed + (i >> 13));
    return d;
}

/* Ranges of 5 MiB and more, at a part boundary, are copied by S3 (one part each); after a few
 * bytes written they cannot be (a part under 5 MiB would come first): merged, 5 MiB parts. */
static void test_compose_copy_or_merge(void **state)
{
    blob_store *s = ((fx *)*state)->s;
    size_t n = 6 * MiB;
    char *d = pattern(2 * n + 1, 7), a[BLOB_KEY_LEN + 1], b[BLOB_KEY_LEN + 1],
         out[BLOB_KEY_LEN + 1];
    st_err e = ST_ERR_INIT;
    blob_key_new(a), blob_key_new(b), blob_key_new(out);
    put(s, a, d + 1, n);
    put(s, b, d + 1 + n, n);
    blob_writer *w = wopen(s, out);
    assert_int_equal(s->ops->compose(w, a, 0, n, &e), ST_OK);
    assert_int_equal(s->ops->compose(w, b, 0, n, &e), ST_OK);
    assert_int_equal(blob_writer_commit(w, &e), ST_OK);
    content_is(s, out, d + 1, 2 * n);
    assert_int_equal(parts_of(out), 2);

    blob_key_new(out);
    w = wopen(s, out);
    wwrite(w, d, 1);
    assert_int_equal(s->ops->compose(w, a, 0, n, &e), ST_OK);
    assert_int_equal(s->ops->compose(w, b, 0, n, &e), ST_OK);
    assert_int_equal(blob_writer_commit(w, &e), ST_OK);
    content_is(s, out, d, 2 * n + 1);
    assert_int_equal(parts_of(out), 3); /* 12 MiB + 1 in 5 MiB parts */
    free(d);
}

/* Another instance's leader reaps a write left unfinished here, only once old enough; this
 * writer's commit then fails and nothing is committed. */
static void test_reaped_by_another_instance(void **state)
{
    blob_store *s = ((fx *)*state)->s, *other = NULL;
    char key[BLOB_KEY_LEN + 1];
    st_err e = ST_ERR_INIT;
    assert_int_equal(open_at(&other, fixture_loc, 5 * MiB, 16 * MiB, &e), ST_OK);
    blob_key_new(key);
    blob_writer *w = wopen(s, key);
    wwrite(w, "left unfinished", 15);
    int64_t now = (int64_t)time(NULL);
    assert_int_equal(other->ops->reap_unfinished(other, now - 3600, &e), 0);
    assert_int_equal(other->ops->reap_unfinished(other, now + 2, &e), 1);
    assert_int_not_equal(blob_writer_commit(w, &e), ST_OK);
    assert_true(not_found(other, key));
    assert_int_equal(blob_count(other), 0);
    blob_store_free(other);
}

typedef struct part_probe {
    s3_client *c;
    const char *key;
    char id[S3R_TOKEN_MAX + 1];
    int64_t initiated;
    int parts;
} part_probe;

static int take_id(const s3r_entry *en, void *ud)
{
    part_probe *p = ud;
    snprintf(p->id, sizeof p->id, "%s", en->upload_id);
    p->initiated = en->time;
    return 0;
}

static int count_part(const s3r_entry *en, void *ud)
{
    (void)en;
    ((part_probe *)ud)->parts++;
    return 0;
}

/* 1 once S3 holds a part of the key's multipart upload. */
static int has_part(void *ud)
{
    part_probe *p = ud;
    s3_page page;
    s3_error se;
    s3_error_clear(&se);
    p->parts = 0;
    if (!p->id[0] && s3_mpu_list_uploads(p->c, p->key, NULL, NULL, 10, take_id, p, &page, &se))
        return 0;
    return p->id[0] && !s3_mpu_list_parts(p->c, p->key, p->id, 0, 10, count_part, p, &page, &se) &&
           p->parts > 0;
}

/* An upload initiated before the threshold whose parts keep coming is a live writer's: kept
 * (S3 keeps no time of an upload but Initiated; the reaper looks at its parts too). */
static void test_reap_keeps_a_writer_whose_parts_come(void **state)
{
    blob_store *s = ((fx *)*state)->s;
    char key[BLOB_KEY_LEN + 1];
    size_t n = 6 * MiB;
    char *d = pattern(n, 3);
    st_err e = ST_ERR_INIT;
    blob_key_new(key);
    blob_writer *w = wopen(s, key);
    part_probe probe = {raw_client(), key, "", -1, 0};
    assert_false(has_part(&probe)); /* finds the upload and its Initiated time */
    assert_true(probe.initiated > 0);
    while ((int64_t)time(NULL) < probe.initiated + 2) /* the part comes in a later second */
        usleep(100000);
    wwrite(w, d, n); /* 5 MiB parts: the first is sent now */
    s3t_wait_until(has_part, &probe, "the first part is on S3");
    s3_client_free(probe.c);
    /* initiated before the threshold, its part not: kept */
    assert_int_equal(s->ops->reap_unfinished(s, probe.initiated + 1, &e), 0);
    assert_int_equal(blob_writer_commit(w, &e), ST_OK);
    content_is(s, key, d, n);
    free(d);
}

/* Removing a key also aborts an upload a dead writer left under it. */
static void test_remove_aborts_unfinished(void **state)
{
    blob_store *s = ((fx *)*state)->s;
    char key[BLOB_KEY_LEN + 1];
    st_err e = ST_ERR_INIT;
    blob_key_new(key);
    blob_writer *w = wopen(s, key);
    wwrite(w, "dead", 4);
    assert_int_equal(s->ops->remove(s, key, &e), ST_OK);
    assert_int_equal(s->ops->reap_unfinished(s, (int64_t)time(NULL) + 2, &e), 0);
    assert_int_not_equal(blob_writer_commit(w, &e), ST_OK);
    assert_true(not_found(s, key));
}

/* Two writers hold the whole 10 MiB budget (a 5 MiB part buffer each): a third is refused,
 * retryably, after the wait; once one finishes, a new writer gets room. */
static void test_budget_refuses_retryably(void **state)
{
    char loc[128], key[BLOB_KEY_LEN + 1];
    blob_store *s = NULL;
    blob_writer *w[3];
    st_err e = ST_ERR_INIT;
    (void)state;
    fresh_location(loc, sizeof loc);
    assert_int_equal(open_at(&s, loc, 5 * MiB, 10 * MiB, &e), ST_OK);
    for (int i = 0; i < 3; i++) {
        blob_key_new(key);
        w[i] = wopen(s, key);
    }
    wwrite(w[0], "a", 1);
    wwrite(w[1], "b", 1);
    assert_int_equal(blob_writer_write(w[2], "c", 1, &e), ST_E_RESOURCES);
    assert_true(e.retryable);
    blob_writer_abort(w[2]);
    assert_int_equal(blob_writer_commit(w[0], &(st_err)ST_ERR_INIT), ST_OK);
    blob_key_new(key);
    w[2] = wopen(s, key);
    wwrite(w[2], "c", 1);
    assert_int_equal(blob_writer_commit(w[2], &(st_err)ST_ERR_INIT), ST_OK);
    blob_writer_abort(w[1]);
    assert_int_equal(blob_count(s), 2);
    assert_int_equal(s->ops->reap_unfinished(s, (int64_t)time(NULL) + 2, &e), 0);
    blob_store_free(s);
}

int main(void)
{
    if (!s3t_endpoint())
        return 77;
    snprintf(bucket, sizeof bucket, "%s", s3t_bucket("blob"));
    s3t_make_bucket(bucket);
    setenv("AWS_ACCESS_KEY_ID", S3T_ACCESS_KEY, 1);
    setenv("AWS_SECRET_ACCESS_KEY", S3T_SECRET_KEY, 1);
    unsetenv("AWS_ENDPOINT_URL");
    unsetenv("ARGOT_S3_ENDPOINT");
    const struct CMUnitTest tests[] = {
        BLOB_CONTRACT_TESTS,
        cmocka_unit_test_setup_teardown(test_s3_caps, setup, teardown),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test_setup_teardown(test_compose_copy_or_merge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reaped_by_another_instance, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reap_keeps_a_writer_whose_parts_come, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_aborts_unfinished, setup, teardown),
        cmocka_unit_test(test_budget_refuses_retryably),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
