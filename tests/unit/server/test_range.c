/* Range and If-Range of http/range.c (RFC 9110 14, 13.1.5). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "server/http/range.h"

static void partial(const char *v, uint64_t size, uint64_t off, uint64_t len)
{
    uint64_t o = 99, l = 99;
    if (http_range_parse(v, size, &o, &l) != HTTP_RANGE_PARTIAL)
        fail_msg("%s of %llu: not partial", v, (unsigned long long)size);
    assert_int_equal(o, off);
    assert_int_equal(l, len);
}

static void kind(const char *v, uint64_t size, http_range_kind want)
{
    uint64_t o, l;
    if (http_range_parse(v, size, &o, &l) != want)
        fail_msg("%s of %llu: not kind %d", v ? v : "(null)", (unsigned long long)size, want);
}

static void forms(void **state)
{
    partial("bytes=0-9", 100, 0, 10);
    partial("bytes=90-", 100, 90, 10);
    partial("bytes=-10", 100, 90, 10);
    partial("bytes=-1000", 100, 0, 100);   /* a suffix longer than the file: all of it */
    partial("bytes=50-5000", 100, 50, 50); /* an end past the file: up to its end */
    partial("bytes=99-99", 100, 99, 1);
    partial("BYTES= 0-0 ", 100, 0, 1);
    partial("bytes=0-", 1, 0, 1);
}

static void ignored(void **state)
{
    const char *const v[] = {NULL,
                             "",
                             "items=0-1",
                             "bytes=",
                             "bytes=-",
                             "bytes=a-b",
                             "bytes=5",
                             "bytes=5-4",
                             "bytes=0-1,3-4",
                             "bytes=1-2x",
                             "bytes=+1-2",
                             "bytes= -",
                             "bytes=99999999999999999999-"};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        kind(v[i], 100, HTTP_RANGE_NONE);
}

static void unsatisfiable(void **state)
{
    kind("bytes=100-", 100, HTTP_RANGE_UNSATISFIABLE);
    kind("bytes=100-200", 100, HTTP_RANGE_UNSATISFIABLE);
    kind("bytes=-0", 100, HTTP_RANGE_UNSATISFIABLE);
    kind("bytes=0-", 0, HTTP_RANGE_UNSATISFIABLE);
    kind("bytes=-5", 0, HTTP_RANGE_UNSATISFIABLE);
}

static void if_range(void **state)
{
    assert_true(http_if_range_ok(NULL, "\"file-a\""));
    assert_true(http_if_range_ok("\"file-a\"", "\"file-a\""));
    assert_true(http_if_range_ok(" \"file-a\" ", "\"file-a\""));
    assert_false(http_if_range_ok("\"file-b\"", "\"file-a\""));
    assert_false(http_if_range_ok("W/\"file-a\"", "\"file-a\"")); /* weak: never for ranges */
    assert_false(http_if_range_ok("Tue, 01 Dec 2026 20:00:00 GMT", "\"file-a\""));
    assert_false(http_if_range_ok("", "\"file-a\""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(forms),
        cmocka_unit_test(ignored),
        cmocka_unit_test(unsatisfiable),
        cmocka_unit_test(if_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
