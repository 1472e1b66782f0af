/*
 * The blob backend contract on the in-memory backend: the generic half (blob_contract.h). It
 * has neither descriptors nor compose, so the tests of those capabilities check that it says
 * so, and the frontend's fallbacks are what the store tests run on it.
 */
#include "blob_contract.h"

static int blob_fixture_open(fx *f)
{
    st_err e = ST_ERR_INIT;
    return blob_mem_open(&f->s, &e);
}

static void test_mem_caps(void **state)
{
    blob_store *s = ((fx *)*state)->s;
    assert_string_equal(s->ops->name, "mem");
    assert_int_equal(s->ops->caps, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        BLOB_CONTRACT_TESTS,
        cmocka_unit_test_setup_teardown(test_mem_caps, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
