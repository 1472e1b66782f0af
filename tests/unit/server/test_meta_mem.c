/*
 * The metadata backend contract on the in-memory backend: the generic half (meta_contract.h),
 * then what only this backend promises.
 */
#include "meta_contract.h"

static int meta_fixture_open(fx *f)
{
    st_err e = ST_ERR_INIT;
    return meta_mem_open(&f->s, &e);
}

/* One process: it counts files but is not shared and has no clock of its own. */
static void test_mem_caps(void **state)
{
    meta_store *s = ((fx *)*state)->s;
    assert_string_equal(s->ops->name, "mem");
    assert_int_equal(s->ops->caps, META_CAP_FILE_COUNT);
}

/* Two stores are two databases: nothing is shared. */
static void test_mem_stores_apart(void **state)
{
    meta_store *s = ((fx *)*state)->s, *t = NULL;
    st_err e = ST_ERR_INIT;
    meta_file f;
    assert_int_equal(meta_mem_open(&t, &e), ST_OK);
    put(s, "org", "file-1", 5, NOW);
    EXPECT(META_E_NOTFOUND, t, file_get, "org", "file-1", NOW, &f);
    usage_is(t, "org", 0, 0);
    meta_store_free(t);
    meta_store_free(NULL);
    assert_int_equal(meta_mem_open(NULL, &e), ST_E_INVALID);
    assert_int_equal(e.code, ST_E_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        META_CONTRACT_TESTS,
        META_TEST(test_mem_caps),
        META_TEST(test_mem_stores_apart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
