#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "server/api/routes.h"
#include "server/http/router.h"

static http_router *rt, *rt_metrics;

static void match(const char *path, http_method m, int metrics, route_match *out)
{
    http_router_match(metrics ? rt_metrics : rt, path, m, out);
}

static void routes(void **state)
{
    route_match m;
    match("/v1/files", HTTP_GET, 0, &m);
    assert_ptr_equal(m.ops, &api_files_list);
    match("/v1/files", HTTP_POST, 0, &m);
    assert_ptr_equal(m.ops, &api_files_create);
    match("/v1/files/file-abc", HTTP_GET, 0, &m);
    assert_ptr_equal(m.ops, &api_files_retrieve);
    assert_int_equal(m.param_len, 8);
    assert_memory_equal(m.param, "file-abc", 8);
    match("/v1/files/file-abc", HTTP_DELETE, 0, &m);
    assert_ptr_equal(m.ops, &api_files_delete);
    match("/v1/files/file-abc/content", HTTP_GET, 0, &m);
    assert_ptr_equal(m.ops, &api_files_content);
    assert_int_equal(m.param_len, 8);
    match("/v1/files/file-abc/content", HTTP_HEAD, 0, &m);
    assert_ptr_equal(m.ops, &api_files_content);
    match("/healthz", HTTP_GET, 0, &m);
    assert_ptr_equal(m.ops, &api_healthz);
}

static void method_not_allowed(void **state)
{
    route_match m;
    match("/v1/files", HTTP_PUT, 0, &m);
    assert_null(m.ops);
    assert_true(m.path_known);
    assert_string_equal(m.allow, "GET, HEAD, POST");
    match("/v1/files/x", HTTP_POST, 0, &m);
    assert_null(m.ops);
    assert_string_equal(m.allow, "GET, HEAD, DELETE");
    match("/v1/files/x/content", HTTP_DELETE, 0, &m);
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
        match(bad[i], HTTP_GET, 0, &m);
        assert_null(m.ops);
        assert_false(m.path_known);
    }
}

static void metrics_only_when_enabled(void **state)
{
    route_match m;
    match("/metrics", HTTP_GET, 1, &m);
    assert_ptr_equal(m.ops, &api_metrics);
}

static void console_and_usage(void **state)
{
    static const char *const pages[] = {"/", "/console", "/console/"};
    route_match m;
    for (size_t i = 0; i < sizeof pages / sizeof pages[0]; i++) {
        match(pages[i], HTTP_GET, 0, &m);
        assert_ptr_equal(m.ops, &api_console_page);
        assert_null(m.param);
        match(pages[i], HTTP_HEAD, 0, &m);
        assert_ptr_equal(m.ops, &api_console_page);
        match(pages[i], HTTP_POST, 0, &m);
        assert_null(m.ops);
        assert_string_equal(m.allow, "GET, HEAD");
    }
    match("/console/app.0123456789ab.js", HTTP_GET, 0, &m);
    assert_ptr_equal(m.ops, &api_console_asset);
    assert_int_equal(m.param_len, strlen("app.0123456789ab.js"));
    assert_memory_equal(m.param, "app.0123456789ab.js", m.param_len);
    match("/console/nope", HTTP_DELETE, 0, &m);
    assert_null(m.ops);
    assert_true(m.path_known);
    match("/v1/argot/usage", HTTP_GET, 0, &m);
    assert_ptr_equal(m.ops, &api_argot_usage);
    assert_true(m.ops->needs_auth);
    match("/v1/argot/usage", HTTP_POST, 0, &m);
    assert_null(m.ops);
    assert_string_equal(m.allow, "GET, HEAD");
}

/* The generic rules of patterns, apart from argotd's table. */
static const route_ops op_a = {1, "a", 0, NULL, NULL, NULL, NULL};
static const route_ops op_b = {2, "b", 0, NULL, NULL, NULL, NULL};

static void patterns(void **state)
{
    http_router *r = NULL;
    const http_route ok[] = {
        {HTTP_GET, "/", &op_a}, {HTTP_GET, "/x/{id}/y", &op_b}, {HTTP_PUT, "/x/{id}/y", &op_a}};
    assert_int_equal(http_router_new(&r, ok, 3), 0);
    route_match m;
    http_router_match(r, "/", HTTP_GET, &m);
    assert_ptr_equal(m.ops, &op_a);
    http_router_match(r, "/x/abc/y", HTTP_PUT, &m);
    assert_ptr_equal(m.ops, &op_a);
    assert_int_equal(m.param_len, 3);
    assert_memory_equal(m.param, "abc", 3);
    http_router_match(r, "/x/abc/y", HTTP_POST, &m);
    assert_null(m.ops);
    assert_string_equal(m.allow, "GET, HEAD, PUT");
    http_router_match(r, "/x//y", HTTP_GET, &m);
    assert_false(m.path_known);
    http_router_free(r);
    const char *const bad[] = {"", "x", "//", "/a//b", "/{a}/{b}", "/{}", "/a//"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const http_route one[] = {{HTTP_GET, bad[i], &op_a}};
        assert_int_equal(http_router_new(&r, one, 1), -1);
    }
}

static int setup(void **state)
{
    return api_router_new(&rt, 0) || api_router_new(&rt_metrics, 1);
}

static int teardown(void **state)
{
    http_router_free(rt);
    http_router_free(rt_metrics);
    return 0;
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
        cmocka_unit_test(methods),
        cmocka_unit_test(patterns),
        cmocka_unit_test(console_and_usage),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
