#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "server/ids.h"

static const char b58[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

static void file_ids(void **state)
{
    char seen[64][FILE_ID_LEN + 1];
    int counts[128] = {0};
    for (int i = 0; i < 64; i++) {
        char *id = seen[i];
        assert_int_equal(id_file_new(id), 0);
        assert_int_equal(strlen(id), FILE_ID_LEN);
        assert_memory_equal(id, "file-", 5);
        for (int j = 5; j < FILE_ID_LEN; j++) {
            assert_non_null(strchr(b58, id[j]));
            counts[(unsigned char)id[j]]++;
        }
        for (int k = 0; k < i; k++)
            assert_string_not_equal(seen[k], id);
        assert_true(id_plausible(id));
    }
    /* 1408 draws over 58 symbols: every symbol of the alphabet shows up (p(miss) ~ 1e-9). */
    for (const char *c = b58; *c; c++)
        assert_true(counts[(unsigned char)*c] > 0);
}

static void other_ids(void **state)
{
    char r[REQUEST_ID_LEN + 1], k[API_KEY_LEN + 1], kid[KEY_ID_LEN + 1];
    assert_int_equal(id_request_new(r), 0);
    assert_int_equal(strlen(r), REQUEST_ID_LEN);
    assert_memory_equal(r, "req_", 4);
    assert_int_equal(strspn(r + 4, "0123456789abcdef"), 32);
    assert_int_equal(id_api_key_new(k), 0);
    assert_int_equal(strlen(k), API_KEY_LEN);
    assert_memory_equal(k, "sk-argot-", 9);
    assert_int_equal(strspn(k + 9, b58), 40);
    assert_int_equal(id_key_id_new(kid), 0);
    assert_int_equal(strlen(kid), KEY_ID_LEN);
}

static void key_hash(void **state)
{
    uint8_t h[32];
    id_key_hash("abc", 3, h);
    /* SHA-256("abc") */
    static const uint8_t want[4] = {0xba, 0x78, 0x16, 0xbf};
    assert_memory_equal(h, want, 4);
}

static void plausible(void **state)
{
    assert_true(id_plausible("fake_id"));
    assert_true(id_plausible("file-abc-DEF_123"));
    assert_false(id_plausible(""));
    assert_false(id_plausible("../x"));
    assert_false(id_plausible("a b"));
    assert_false(id_plausible("a%2Fb"));
    char long_id[80];
    memset(long_id, 'a', sizeof long_id - 1);
    long_id[79] = '\0';
    assert_false(id_plausible(long_id));
    long_id[63] = '\0';
    assert_true(id_plausible(long_id));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(file_ids),
        cmocka_unit_test(other_ids),
        cmocka_unit_test(key_hash),
        cmocka_unit_test(plausible),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
