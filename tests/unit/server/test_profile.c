#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server/api/api.h"
#include "server/api/profile.h"
#include "server/api/uploads.h"

static void strict_clients(void **state)
{
    /* The seed SDK, as it sends it, and with other versions. */
    assert_true(
        api_profile_strict_client("speakeasy-sdk/typescript 0.0.5 2.438.15 2.3.0 argot-open-ai"));
    assert_true(
        api_profile_strict_client("speakeasy-sdk/typescript 1.2.0 2.500.0 2.3.0 argot-open-ai"));
    assert_true(api_profile_strict_client("speakeasy-sdk/typescript argot-open-ai extra"));
    /* Anything else stays with the service profile. */
    assert_false(api_profile_strict_client(NULL));
    assert_false(api_profile_strict_client(""));
    assert_false(api_profile_strict_client("OpenAI/JS 6.49.0"));
    assert_false(api_profile_strict_client("curl/7.88.1"));
    assert_false(api_profile_strict_client(
        "speakeasy-sdk/typescript 0.0.5 2.438.15 2.3.0 other-sdk")); /* another package */
    assert_false(api_profile_strict_client(
        "speakeasy-sdk/python 0.0.5 2.438.15 2.3.0 argot-open-ai")); /* another language */
    assert_false(api_profile_strict_client(
        "speakeasy-sdk/typescriptx 0.0.5 argot-open-ai")); /* the prefix is a whole word */
    assert_false(api_profile_strict_client(
        "speakeasy-sdk/typescript 0.0.5 argot-open-ai-fork")); /* the package is a word */
    assert_false(api_profile_strict_client("speakeasy-sdk/typescript 0.0.5 my-argot-open-ai"));
    assert_false(api_profile_strict_client("x speakeasy-sdk/typescript argot-open-ai"));
}

static meta_file sample_file(int64_t expires_at)
{
    meta_file f;
    memset(&f, 0, sizeof f);
    snprintf(f.id, sizeof f.id, "file-abc");
    snprintf(f.purpose, sizeof f.purpose, "batch");
    snprintf(f.filename, sizeof f.filename, "a\"b.jsonl");
    f.bytes = 12;
    f.created_at = 1700000000;
    f.expires_at = expires_at;
    return f;
}

static void file_json(void **state)
{
    static const struct {
        int64_t expires_at;
        api_profile p;
        const char *want;
    } cases[] = {
        {0, API_PROFILE_SERVICE,
         "{\"object\":\"file\",\"id\":\"file-abc\",\"purpose\":\"batch\",\"filename\":"
         "\"a\\\"b.jsonl\",\"bytes\":12,\"created_at\":1700000000,\"expires_at\":null,"
         "\"status\":\"processed\",\"status_details\":null}"},
        {0, API_PROFILE_SPEC,
         "{\"object\":\"file\",\"id\":\"file-abc\",\"purpose\":\"batch\",\"filename\":"
         "\"a\\\"b.jsonl\",\"bytes\":12,\"created_at\":1700000000,\"status\":\"processed\"}"},
        {1700003600, API_PROFILE_SERVICE,
         "{\"object\":\"file\",\"id\":\"file-abc\",\"purpose\":\"batch\",\"filename\":"
         "\"a\\\"b.jsonl\",\"bytes\":12,\"created_at\":1700000000,\"expires_at\":1700003600,"
         "\"status\":\"processed\",\"status_details\":null}"},
        {1700003600, API_PROFILE_SPEC,
         "{\"object\":\"file\",\"id\":\"file-abc\",\"purpose\":\"batch\",\"filename\":"
         "\"a\\\"b.jsonl\",\"bytes\":12,\"created_at\":1700000000,\"expires_at\":1700003600,"
         "\"status\":\"processed\"}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        meta_file f = sample_file(cases[i].expires_at);
        argot_buf b = ARGOT_BUF_INIT(4096);
        assert_int_equal(api_file_json(&b, &f, cases[i].p), 0);
        assert_string_equal(b.ptr, cases[i].want);
        argot_buf_free(&b);
    }
}

/* The Upload object differs only in its nested file. */
static void upload_json(void **state)
{
    meta_upload u;
    memset(&u, 0, sizeof u);
    snprintf(u.id, sizeof u.id, "upload_x");
    snprintf(u.filename, sizeof u.filename, "t.jsonl");
    snprintf(u.purpose, sizeof u.purpose, "fine-tune");
    u.bytes = 12;
    u.created_at = 1700000000;
    u.expires_at = 1700003600;
    u.status = META_UPLOAD_COMPLETED;
    meta_file f = sample_file(0);
    const char *head = "{\"id\":\"upload_x\",\"object\":\"upload\",\"bytes\":12,\"created_at\":"
                       "1700000000,\"filename\":\"t.jsonl\",\"purpose\":\"fine-tune\",\"status\":"
                       "\"completed\",\"expires_at\":1700003600";
    for (int p = API_PROFILE_SERVICE; p <= API_PROFILE_SPEC; p++) {
        argot_buf want = ARGOT_BUF_INIT(8192), got = ARGOT_BUF_INIT(8192);
        assert_int_equal(argot_buf_printf(&want, "%s,\"file\":", head), 0);
        assert_int_equal(api_file_json(&want, &f, (api_profile)p), 0);
        assert_int_equal(argot_buf_putc(&want, '}'), 0);
        assert_int_equal(api_upload_json(&got, &u, &f, (api_profile)p), 0);
        assert_string_equal(got.ptr, want.ptr);
        argot_buf_reset(&got);
        assert_int_equal(api_upload_json(&got, &u, NULL, (api_profile)p), 0);
        assert_int_equal(strncmp(got.ptr, head, strlen(head)), 0);
        assert_string_equal(got.ptr + strlen(head), "}"); /* pending: no "file" key at all */
        argot_buf_free(&want);
        argot_buf_free(&got);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(strict_clients),
        cmocka_unit_test(file_json),
        cmocka_unit_test(upload_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
