#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/buf.h"

static void put_and_bound(void **state)
{
    argot_buf b = ARGOT_BUF_INIT(8);
    assert_int_equal(argot_buf_puts(&b, "abcd"), ARGOT_BUF_OK);
    assert_int_equal(argot_buf_puts(&b, "efgh"), ARGOT_BUF_OK);
    assert_string_equal(b.ptr, "abcdefgh");
    /* One byte over the bound is refused and leaves the buffer as it was. */
    assert_int_equal(argot_buf_putc(&b, 'x'), ARGOT_BUF_TOOBIG);
    assert_int_equal(b.len, 8);
    assert_string_equal(b.ptr, "abcdefgh");
    argot_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.ptr, "");
    assert_int_equal(argot_buf_printf(&b, "%d-%s", 42, "x"), ARGOT_BUF_OK);
    assert_string_equal(b.ptr, "42-x");
    assert_int_equal(argot_buf_printf(&b, "%s", "123456"), ARGOT_BUF_TOOBIG);
    argot_buf_free(&b);
    argot_buf_free(&b); /* idempotent */
    argot_buf_free(NULL);
}

static void detach_empty(void **state)
{
    argot_buf b = ARGOT_BUF_INIT(16);
    char *p = argot_buf_detach(&b);
    assert_non_null(p);
    assert_string_equal(p, "");
    free(p);
    assert_int_equal(argot_buf_puts(&b, "hi"), 0);
    p = argot_buf_detach(&b);
    assert_string_equal(p, "hi");
    assert_null(b.ptr);
    free(p);
}

static void json_escape(void **state)
{
    argot_buf b = ARGOT_BUF_INIT(1024);
    const char in[] = "a\"b\\c\n\r\t\x01\x7f/\xe4\xbd\xa0";
    assert_int_equal(argot_buf_put_json_str(&b, in, sizeof in - 1), 0);
    assert_string_equal(b.ptr, "\"a\\\"b\\\\c\\n\\r\\t\\u0001\x7f/\xe4\xbd\xa0\"");
    argot_buf_reset(&b);
    /* Invalid UTF-8 (a lone continuation byte, an overlong '/', a surrogate) becomes U+FFFD. */
    const char bad[] = "x\x80y\xc0\xafz\xed\xa0\x80";
    assert_int_equal(argot_buf_put_json_str(&b, bad, sizeof bad - 1), 0);
    assert_string_equal(b.ptr, "\"x\xef\xbf\xbdy\xef\xbf\xbd\xef\xbf\xbdz\xef\xbf\xbd\xef\xbf\xbd"
                               "\xef\xbf\xbd\"");
    argot_buf_reset(&b);
    /* Embedded NUL is escaped, not a terminator. */
    assert_int_equal(argot_buf_put_json_str(&b, "a\0b", 3), 0);
    assert_string_equal(b.ptr, "\"a\\u0000b\"");
    argot_buf_free(&b);
}

static void json_escape_too_big_rolls_back(void **state)
{
    argot_buf b = ARGOT_BUF_INIT(10);
    assert_int_equal(argot_buf_puts(&b, "ab"), 0);
    assert_int_equal(argot_buf_put_json_str(&b, "0123456789", 10), ARGOT_BUF_TOOBIG);
    assert_int_equal(b.len, 2);
    assert_string_equal(b.ptr, "ab");
    argot_buf_free(&b);
}

static void utf8_validation(void **state)
{
    assert_true(argot_utf8_valid("", 0));
    assert_true(argot_utf8_valid("plain", 5));
    assert_true(argot_utf8_valid("\xe4\xbd\xa0\xe5\xa5\xbd", 6));
    assert_true(argot_utf8_valid("\xf0\x9f\x98\x80", 4));
    assert_false(argot_utf8_valid("\xe4\xbd", 2));         /* truncated */
    assert_false(argot_utf8_valid("\xc0\xaf", 2));         /* overlong */
    assert_false(argot_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    assert_false(argot_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    assert_false(argot_utf8_valid("\xff", 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(put_and_bound),   cmocka_unit_test(detach_empty),
        cmocka_unit_test(json_escape),     cmocka_unit_test(json_escape_too_big_rolls_back),
        cmocka_unit_test(utf8_validation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
