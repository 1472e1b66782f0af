#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "server/http/router.h"

static void routes(void **state)
{
    route_match m;
    router_match("/v1/files", HTTP_GET, 0, &m);
    assert_ptr_equal(m.ops, &api_files_list);
    router_match("/v1/files", HTTP_POST, 0, &m);
    assert_ptr_equal(m.ops, &api_files_create);
    router_match("/v1/files/file-abc", HTTP_GET, 0, &m);
    assert_ptr_equal(m.ops, &api_files_retrieve);
    assert_int_equal(m.param_len, 8);
    assert_memory_equal(m.param, "file-abc", 8);
    router_match("/v1/files/file-abc", HTTP_DELETE, 0, &m);
    assert_ptr_equal(m.ops, &api_files_delete);
    router_match("/v1/files/file-abc/content", HTTP_GET, 0, &m);
    assert_ptr_equal(m.ops, &api_files_content);
    assert_int_equal(m.param_len, 8);
    router_match("/v1/files/file-abc/content", HTTP_HEAD, 0, &m);
    assert_ptr_equal(m.ops, &api_files_content);
    router_match("/healthz", HTTP_GET, 0, &m);
    assert_ptr_equal(m.ops, &api_healthz);
}

static void method_not_allowed(void **state)
{
    route_match m;
    router_match("/v1/files", HTTP_PUT, 0, &m);
    assert_null(m.ops);
    assert_true(m.path_known);
    assert_string_equal(m.allow, "GET, HEAD, POST");
    router_match("/v1/files/x", HTTP_POST, 0, &m);
    assert_null(m.ops);
    assert_string_equal(m.allow, "GET, HEAD, DELETE");
    router_match("/v1/files/x/content", HTTP_DELETE, 0, &m);
    assert_string_equal(m.allow, "GET, HEAD");
}

static void unknown_paths(void **state)
{
    static const char *const bad[] = {"/v1",
                                      "/v1/",
                                      "/v1/files/",
                                      "/v1/files//content",
                                      "/v1/files/a/b",
                                      "/v1/files/a/content/",
                                      "/v1/filesx",
                                      "/v1/files/../../etc/passwd",
                                      "/metrics",
                                      "/consolex",
                                      "/console//app.js",
                                      "/console/a/b",
                                      "/index.html",
                                      "/v1/argot",
                                      "/v1/argot/",
                                      "/v1/argot/usage/",
                                      "/v1/argot/usagex"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        route_match m;
        router_match(bad[i], HTTP_GET, 0, &m);
        assert_null(m.ops);
        assert_false(m.path_known);
    }
}

static void metrics_only_when_enabled(void **state)
{
    route_match m;
    router_match("/metrics", HTTP_GET, 1, &m);
    assert_ptr_equal(m.ops, &api_metrics);
}

static void console_and_usage(void **state)
{
    static const char *const pages[] = {"/", "/console", "/console/"};
    route_match m;
    for (size_t i = 0; i < sizeof pages / sizeof pages[0]; i++) {
        router_match(pages[i], HTTP_GET, 0, &m);
        assert_ptr_equal(m.ops, &api_console_page);
        assert_null(m.param);
        router_match(pages[i], HTTP_HEAD, 0, &m);
        assert_ptr_equal(m.ops, &api_console_page);
        router_match(pages[i], HTTP_POST, 0, &m);
        assert_null(m.ops);
        assert_string_equal(m.allow, "GET, HEAD");
    }
    router_match("/console/app.0123456789ab.js", HTTP_GET, 0, &m);
    assert_ptr_equal(m.ops, &api_console_asset);
    assert_int_equal(m.param_len, strlen("app.0123456789ab.js"));
    assert_memory_equal(m.param, "app.0123456789ab.js", m.param_len);
    router_match("/console/nope", HTTP_DELETE, 0, &m);
    assert_null(m.ops);
    assert_true(m.path_known);
    router_match("/v1/argot/usage", HTTP_GET, 0, &m);
    assert_ptr_equal(m.ops, &api_argot_usage);
    assert_true(m.ops->needs_auth);
    router_match("/v1/argot/usage", HTTP_POST, 0, &m);
    assert_null(m.ops);
    assert_string_equal(m.allow, "GET, HEAD");
}

static void methods(void **state)
{
    assert_int_equal(router_method("GET"), HTTP_GET);
    assert_int_equal(router_method("DELETE"), HTTP_DELETE);
    assert_int_equal(router_method("get"), HTTP_OTHER);
    assert_int_equal(router_method("BREW"), HTTP_OTHER);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(routes),
        cmocka_unit_test(method_not_allowed),
        cmocka_unit_test(unknown_paths),
        cmocka_unit_test(metrics_only_when_enabled),
        cmocka_unit_test(console_and_usage),
        cmocka_unit_test(methods),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
