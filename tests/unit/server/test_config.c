#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server/config.h"

static int load(cfg *c, int argc, char **argv)
{
    return cfg_load(c, argc, argv, 1);
}

static void defaults(void **state)
{
    cfg c;
    char *argv[] = {"argotd"};
    assert_int_equal(load(&c, 1, argv), 0);
    assert_string_equal(c.listen_host, "127.0.0.1");
    assert_int_equal(c.listen_port, 8080);
    assert_string_equal(c.data_dir, "./data");
    assert_int_equal(c.max_file_bytes, 536870912);
    assert_int_equal(c.max_org_bytes, 107374182400LL);
    assert_int_equal(c.max_batch_bytes, 104857600);
    assert_int_equal(c.strict_download, 0);
    assert_true(c.threads >= 4);
    cfg_free(&c);
}

static void env_then_flags(void **state)
{
    cfg c;
    setenv("ARGOT_MAX_FILE_BYTES", "1000", 1);
    setenv("ARGOT_LISTEN", "0.0.0.0:9000", 1);
    char *argv[] = {"argotd", "--listen", "127.0.0.1:0", "--strict-download",
                    "--max-org-bytes=5000"};
    assert_int_equal(load(&c, 5, argv), 0);
    assert_int_equal(c.max_file_bytes, 1000); /* env */
    assert_int_equal(c.listen_port, 0);       /* flag beats env */
    assert_int_equal(c.max_org_bytes, 5000);
    assert_int_equal(c.strict_download, 1);
    cfg_free(&c);
    unsetenv("ARGOT_MAX_FILE_BYTES");
    unsetenv("ARGOT_LISTEN");
}

static void bad_values(void **state)
{
    cfg c;
    char *a1[] = {"argotd", "--max-file-bytes", "12abc"};
    assert_int_equal(load(&c, 3, a1), 2);
    cfg_free(&c);
    char *a2[] = {"argotd", "--max-file-bytes", "0"};
    assert_int_equal(load(&c, 3, a2), 2);
    cfg_free(&c);
    char *a3[] = {"argotd", "--listen", "nocolon"};
    assert_int_equal(load(&c, 3, a3), 2);
    cfg_free(&c);
    char *a4[] = {"argotd", "--listen", "h:70000"};
    assert_int_equal(load(&c, 3, a4), 2);
    cfg_free(&c);
    char *a5[] = {"argotd", "--bogus"};
    assert_int_equal(load(&c, 2, a5), 2);
    cfg_free(&c);
    char *a6[] = {"argotd", "--threads"};
    assert_int_equal(load(&c, 2, a6), 2);
    cfg_free(&c);
    char *a7[] = {"argotd", "--log-level", "loud"};
    assert_int_equal(load(&c, 3, a7), 2);
    cfg_free(&c);
    setenv("ARGOT_METRICS", "maybe", 1);
    char *a8[] = {"argotd"};
    assert_int_equal(load(&c, 1, a8), 2);
    cfg_free(&c);
    unsetenv("ARGOT_METRICS");
}

/* --tombstone-seconds: how long deleted files' ids stay list cursors. */
static void tombstone_seconds(void **state)
{
    cfg c;
    char *a0[] = {"argotd"};
    assert_int_equal(load(&c, 1, a0), 0);
    assert_int_equal(c.tombstone_seconds, 86400);
    cfg_free(&c);
    setenv("ARGOT_TOMBSTONE_SECONDS", "600", 1);
    assert_int_equal(load(&c, 1, a0), 0);
    assert_int_equal(c.tombstone_seconds, 600);
    cfg_free(&c);
    char *a1[] = {"argotd", "--tombstone-seconds", "0"};
    assert_int_equal(load(&c, 3, a1), 0);
    assert_int_equal(c.tombstone_seconds, 0); /* flag beats env */
    cfg_free(&c);
    unsetenv("ARGOT_TOMBSTONE_SECONDS");
    char *a2[] = {"argotd", "--tombstone-seconds", "-1"};
    assert_int_equal(load(&c, 3, a2), 2);
    cfg_free(&c);
}

static void response_profile(void **state)
{
    cfg c;
    char *a0[] = {"argotd"};
    assert_int_equal(load(&c, 1, a0), 0);
    assert_int_equal(c.profile, CFG_PROFILE_AUTO); /* the default */
    assert_string_equal(c.response_profile, "auto");
    cfg_free(&c);
    setenv("ARGOT_RESPONSE_PROFILE", "spec", 1);
    assert_int_equal(load(&c, 1, a0), 0);
    assert_int_equal(c.profile, CFG_PROFILE_SPEC);
    cfg_free(&c);
    char *a1[] = {"argotd", "--response-profile", "service"};
    assert_int_equal(load(&c, 3, a1), 0); /* the flag beats the environment */
    assert_int_equal(c.profile, CFG_PROFILE_SERVICE);
    cfg_free(&c);
    unsetenv("ARGOT_RESPONSE_PROFILE");
    char *a2[] = {"argotd", "--response-profile=auto"};
    assert_int_equal(load(&c, 2, a2), 0);
    assert_int_equal(c.profile, CFG_PROFILE_AUTO);
    cfg_free(&c);
    char *a3[] = {"argotd", "--response-profile", "strict"};
    assert_int_equal(load(&c, 3, a3), 2);
    cfg_free(&c);
    char *a4[] = {"argotd", "--response-profile", "SPEC"}; /* values are exact */
    assert_int_equal(load(&c, 3, a4), 2);
    cfg_free(&c);
    setenv("ARGOT_RESPONSE_PROFILE", "", 1); /* empty: not set */
    assert_int_equal(load(&c, 1, a0), 0);
    assert_int_equal(c.profile, CFG_PROFILE_AUTO);
    cfg_free(&c);
    unsetenv("ARGOT_RESPONSE_PROFILE");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults),         cmocka_unit_test(env_then_flags),
        cmocka_unit_test(bad_values),       cmocka_unit_test(tombstone_seconds),
        cmocka_unit_test(response_profile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
