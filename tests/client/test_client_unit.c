/*
 * libargot internals without a network: the retry policy (which attempts are retried, the
 * waits, the caps), Retry-After parsing and JSON decoding of the API's objects.
 */
#include "client/internal.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static argot__attempt_info info(long status, int should_retry, double ra)
{
    argot__attempt_info ai;
    ai.http_status = status;
    ai.transport_retryable = status == 0;
    ai.should_retry = should_retry;
    ai.retry_after_ms = ra;
    return ai;
}

static void test_retryable_statuses(void **state)
{
    long yes[] = {408, 409, 429, 500, 502, 503, 504, 599};
    long no[] = {200, 400, 401, 403, 404, 413, 422};
    size_t i;
    (void)state;
    for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        assert_true(argot__retryable_status(yes[i]));
    for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        assert_false(argot__retryable_status(no[i]));
}

static void test_backoff_schedule(void **state)
{
    argot_retry_config c = ARGOT_RETRY_CONFIG_INIT;
    argot__attempt_info ai = info(503, -1, -1);
    (void)state;

    c.max_attempts = 0;
    /* no jitter (rnd = 0): 500, 750, 1125, ... capped at 60000 */
    assert_int_equal(argot__retry_delay(&c, &ai, 1, 0, 0.0), 500);
    assert_int_equal(argot__retry_delay(&c, &ai, 2, 0, 0.0), 750);
    assert_int_equal(argot__retry_delay(&c, &ai, 3, 0, 0.0), 1125);
    assert_int_equal(argot__retry_delay(&c, &ai, 30, 0, 0.0), 60000);
    /* full jitter takes 25 % off */
    assert_int_equal(argot__retry_delay(&c, &ai, 1, 0, 1.0), 375);
    /* max_elapsed_time: no retry that would end after it */
    assert_int_equal(argot__retry_delay(&c, &ai, 1, 3600000 - 100, 0.0), -1);
    assert_int_equal(argot__retry_delay(&c, &ai, 1, 3600000 - 600, 0.0), 500);
    /* max_attempts */
    c.max_attempts = 3;
    assert_true(argot__retry_delay(&c, &ai, 2, 0, 0.0) > 0);
    assert_int_equal(argot__retry_delay(&c, &ai, 3, 0, 0.0), -1);
    c.strategy = ARGOT_RETRY_NONE;
    assert_int_equal(argot__retry_delay(&c, &ai, 1, 0, 0.0), -1);
}

static void test_retry_rules(void **state)
{
    argot_retry_config c = ARGOT_RETRY_CONFIG_INIT;
    argot__attempt_info ai;
    (void)state;

    ai = info(400, -1, -1);
    assert_int_equal(argot__retry_delay(&c, &ai, 1, 0, 0.0), -1);
    ai = info(400, 1, -1); /* x-should-retry: true */
    assert_int_equal(argot__retry_delay(&c, &ai, 1, 0, 0.0), 500);
    ai = info(503, 0, -1); /* x-should-retry: false */
    assert_int_equal(argot__retry_delay(&c, &ai, 1, 0, 0.0), -1);
    ai = info(0, -1, -1); /* connection error */
    assert_int_equal(argot__retry_delay(&c, &ai, 1, 0, 0.0), 500);
    c.retry_connection_errors = 0;
    assert_int_equal(argot__retry_delay(&c, &ai, 1, 0, 0.0), -1);
    ai = info(429, -1, 2500); /* server hint, no jitter */
    assert_int_equal(argot__retry_delay(&c, &ai, 1, 0, 1.0), 2500);
    ai = info(429, -1, 0);
    assert_int_equal(argot__retry_delay(&c, &ai, 1, 0, 1.0), 0);
    ai = info(429, -1, 61000); /* over 60 s: backoff instead */
    assert_int_equal(argot__retry_delay(&c, &ai, 1, 0, 0.0), 500);
}

static void test_parse_retry_after(void **state)
{
    time_t now = 1700000000;
    (void)state;
    assert_true(argot__parse_retry_after(NULL, NULL, now) < 0);
    assert_true(argot__parse_retry_after("250", "9", now) == 250.0);
    assert_true(argot__parse_retry_after("12.5", NULL, now) == 12.5);
    assert_true(argot__parse_retry_after(NULL, "2", now) == 2000.0);
    assert_true(argot__parse_retry_after(NULL, " 1.5 ", now) == 1500.0);
    assert_true(argot__parse_retry_after("junk", "3", now) == 3000.0);
    assert_true(argot__parse_retry_after(NULL, "-1", now) < 0);
    /* 1700000000 is Tue, 14 Nov 2023 22:13:20 GMT */
    assert_true(argot__parse_retry_after(NULL, "Tue, 14 Nov 2023 22:13:25 GMT", now) == 5000.0);
    assert_true(argot__parse_retry_after(NULL, "Tue, 14 Nov 2023 22:13:00 GMT", now) == 0.0);
    assert_true(argot__parse_retry_after(NULL, "not a date", now) < 0);
}

static void test_retry_validate(void **state)
{
    argot_retry_config c = ARGOT_RETRY_CONFIG_INIT;
    (void)state;
    assert_int_equal(argot__retry_validate(&c), ARGOT_OK);
    c.exponent = 0.5;
    assert_int_equal(argot__retry_validate(&c), ARGOT_E_INVALID);
    c.strategy = ARGOT_RETRY_NONE; /* exponent unused */
    assert_int_equal(argot__retry_validate(&c), ARGOT_OK);
    c.strategy = (argot_retry_strategy)7;
    assert_int_equal(argot__retry_validate(&c), ARGOT_E_INVALID);
    c = (argot_retry_config)ARGOT_RETRY_CONFIG_INIT;
    c.version = 0;
    assert_int_equal(argot__retry_validate(&c), ARGOT_E_INVALID);
}

static json_t *parse(const char *s)
{
    json_t *j = NULL;
    assert_int_equal(argot__json_parse(&j, s, strlen(s)), ARGOT_OK);
    return j;
}

static void test_file_json(void **state)
{
    argot_file f;
    json_t *j;
    (void)state;

    j = parse("{\"object\":\"file\",\"id\":\"file-PaQKUigEwDSNy3Rv5NrLVT\",\"purpose\":"
              "\"user_data\",\"filename\":\"\xe4\xbd\xa0\xe5\xa5\xbd.txt\",\"bytes\":13,"
              "\"created_at\":1780006019,\"expires_at\":null,\"status\":\"processed\","
              "\"status_details\":null,\"extra\":[1]}");
    assert_int_equal(argot__file_from_json(&f, j), ARGOT_OK);
    assert_string_equal(f.id, "file-PaQKUigEwDSNy3Rv5NrLVT");
    assert_string_equal(f.purpose, "user_data");
    assert_string_equal(f.filename, "\xe4\xbd\xa0\xe5\xa5\xbd.txt");
    assert_int_equal(f.bytes, 13);
    assert_int_equal(f.created_at, 1780006019);
    assert_int_equal(f.expires_at, ARGOT_TIME_NULL);
    assert_null(f.status_details);
    argot__file_clear(&f);
    json_decref(j);

    /* 8 GB sizes, missing optional fields */
    j = parse("{\"id\":\"file-x\",\"bytes\":8589934592,\"created_at\":1,\"expires_at\":5}");
    assert_int_equal(argot__file_from_json(&f, j), ARGOT_OK);
    assert_int_equal(f.bytes, INT64_C(8589934592));
    assert_int_equal(f.expires_at, 5);
    assert_null(f.status);
    argot__file_clear(&f);
    json_decref(j);

    j = parse("{\"id\":5,\"bytes\":1,\"created_at\":1}");
    assert_int_equal(argot__file_from_json(&f, j), ARGOT_E_PROTOCOL);
    json_decref(j);
    j = parse("{\"id\":\"file-x\",\"created_at\":1}");
    assert_int_equal(argot__file_from_json(&f, j), ARGOT_E_PROTOCOL);
    json_decref(j);
    j = parse("[]");
    assert_int_equal(argot__file_from_json(&f, j), ARGOT_E_PROTOCOL);
    json_decref(j);
}

static void test_list_json(void **state)
{
    argot_file_list l;
    json_t *j;
    (void)state;

    memset(&l, 0, sizeof(l));
    j = parse("{\"object\":\"list\",\"data\":[],\"has_more\":false,\"first_id\":null,"
              "\"last_id\":null}");
    assert_int_equal(argot__list_from_json(&l, j), ARGOT_OK);
    assert_int_equal(l.count, 0);
    assert_null(l.first_id);
    assert_false(l.has_more);
    json_decref(j);

    memset(&l, 0, sizeof(l));
    j = parse("{\"object\":\"list\",\"data\":[{\"id\":\"a\",\"bytes\":1,\"created_at\":2},"
              "{\"id\":\"b\",\"bytes\":3,\"created_at\":4,\"purpose\":\"evals\"}],"
              "\"has_more\":true,\"first_id\":\"a\",\"last_id\":\"b\"}");
    assert_int_equal(argot__list_from_json(&l, j), ARGOT_OK);
    assert_int_equal(l.count, 2);
    assert_true(l.has_more);
    assert_string_equal(l.data[1].purpose, "evals");
    assert_string_equal(l.data[0].json, "{\"id\":\"a\",\"bytes\":1,\"created_at\":2}");
    argot__file_clear(&l.data[0]);
    argot__file_clear(&l.data[1]);
    free(l.data);
    free(l.first_id);
    free(l.last_id);
    json_decref(j);

    memset(&l, 0, sizeof(l));
    j = parse("{\"object\":\"list\"}");
    assert_int_equal(argot__list_from_json(&l, j), ARGOT_E_PROTOCOL);
    json_decref(j);
}

static void test_deleted_json(void **state)
{
    argot_file_deleted d;
    json_t *j;
    (void)state;

    memset(&d, 0, sizeof(d));
    j = parse("{\"object\":\"file\",\"deleted\":true,\"id\":\"file-1\"}");
    assert_int_equal(argot__deleted_from_json(&d, j), ARGOT_OK);
    assert_true(d.deleted);
    assert_string_equal(d.id, "file-1");
    free(d.id);
    free(d.object);
    json_decref(j);
    memset(&d, 0, sizeof(d));
    j = parse("{\"object\":\"file\",\"id\":\"file-1\"}");
    assert_int_equal(argot__deleted_from_json(&d, j), ARGOT_E_PROTOCOL);
    json_decref(j);
}

/* Content-Range values: the ranges a 206 may carry, the unsatisfied form of a 416, and what
 * is refused (so a resumed download never writes bytes it cannot place). */
static void test_content_range(void **state)
{
    static const char *bad[] = {"",
                                "bytes",
                                "bytes 5-4/10",
                                "bytes 0-9/10 x",
                                "bytes 0-10/10",
                                "bytes */*",
                                "items 0-1/2",
                                "bytes 0-1",
                                "bytes -1-2/3",
                                "bytes 0-1/99999999999999999999",
                                "bytes 1-/5"};
    uint64_t a = 0, b = 0;
    int64_t n = 0;
    size_t i;
    (void)state;

    assert_int_equal(argot__content_range_parse("bytes 0-9/10", &a, &b, &n), 0);
    assert_true(a == 0 && b == 9 && n == 10);
    assert_int_equal(argot__content_range_parse("BYTES  5-5/6 ", &a, &b, &n), 0);
    assert_true(a == 5 && b == 5 && n == 6);
    assert_int_equal(argot__content_range_parse("bytes 7-8/*", &a, &b, &n), 0);
    assert_true(a == 7 && b == 8 && n == -1);
    assert_int_equal(argot__content_range_parse("bytes */1000003", &a, &b, &n), 0);
    assert_true(a == UINT64_MAX && b == UINT64_MAX && n == 1000003);
    assert_int_equal(
        argot__content_range_parse("bytes 8589934592-8589934599/8589934600", &a, &b, &n), 0);
    assert_true(a == UINT64_C(8589934592) && n == INT64_C(8589934600));
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(argot__content_range_parse(bad[i], &a, &b, &n), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retryable_statuses), cmocka_unit_test(test_backoff_schedule),
        cmocka_unit_test(test_content_range),      cmocka_unit_test(test_retry_rules),
        cmocka_unit_test(test_parse_retry_after),  cmocka_unit_test(test_retry_validate),
        cmocka_unit_test(test_file_json),          cmocka_unit_test(test_list_json),
        cmocka_unit_test(test_deleted_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
