#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/buf.h"
#include "common/jsonstr.h"

typedef struct result {
    char *out; /* malloc'd, NUL-terminated */
    size_t len;
    int error;
    uint64_t error_off;
} result;

/* Encodes in, fed in pieces of `piece` bytes, into output windows of `cap` bytes. */
static result encode(const char *in, size_t len, size_t piece, size_t cap)
{
    argot_jsonstr s;
    argot_jsonstr_init(&s);
    size_t room = 6 * len + 3, pos = 0;
    result r = {calloc(1, room), 0, 0, 0};
    assert_non_null(r.out);
    for (int guard = 0; guard < 100000000; guard++) {
        size_t n = len - pos < piece ? len - pos : piece, used = 0;
        int last = pos + n == len;
        size_t w = room - r.len < cap ? room - r.len : cap;
        size_t got = argot_jsonstr_encode(&s, in + pos, n, last, r.out + r.len, w, &used);
        assert_true(got <= w);
        assert_true(used <= n);
        r.len += got;
        pos += used;
        if (s.error || argot_jsonstr_done(&s))
            break;
        assert_true(got > 0 || used > 0); /* progress */
    }
    r.error = s.error;
    r.error_off = s.error_off;
    return r;
}

/* Validates in (in pieces of `piece` bytes); returns -1 or 0 and the length. */
static int measure(const char *in, size_t len, size_t piece, uint64_t *total, uint64_t *off)
{
    argot_jsonstr s;
    argot_jsonstr_init(&s);
    int rc = 0;
    for (size_t pos = 0; pos < len && !rc; pos += piece)
        rc = argot_jsonstr_measure(&s, in + pos, len - pos < piece ? len - pos : piece);
    if (!rc)
        rc = argot_jsonstr_measure_end(&s, total);
    *off = s.error_off;
    return rc;
}

/* The one-shot reference for valid input: the encoder the JSON objects use. */
static void assert_like_reference(const char *in, size_t len, const result *r)
{
    argot_buf b = ARGOT_BUF_INIT(1 << 24);
    assert_int_equal(argot_buf_put_json_str(&b, in, len), ARGOT_BUF_OK);
    assert_int_equal(r->error, 0);
    assert_int_equal(r->len, b.len);
    assert_memory_equal(r->out, b.ptr, b.len);
    argot_buf_free(&b);
}

static void escapes(void **state)
{
    const char in[] = "a\"b\\c\n\r\t\b\f\x01\x1f\x7f/\0z";
    result r = encode(in, sizeof in - 1, 1000, 1000);
    const char want[] = "\"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u001f\x7f/\\u0000z\"";
    assert_int_equal(r.len, sizeof want - 1);
    assert_memory_equal(r.out, want, r.len);
    uint64_t total = 0, off;
    assert_int_equal(measure(in, sizeof in - 1, 1000, &total, &off), 0);
    assert_int_equal(total, sizeof want - 1);
    free(r.out);
    /* Every C0 control byte. */
    char ctl[32];
    for (int i = 0; i < 32; i++)
        ctl[i] = (char)i;
    r = encode(ctl, sizeof ctl, 7, 5);
    assert_like_reference(ctl, sizeof ctl, &r);
    free(r.out);
}

static void empty(void **state)
{
    result r = encode("", 0, 1, 1);
    assert_int_equal(r.len, 2);
    assert_memory_equal(r.out, "\"\"", 2);
    free(r.out);
    uint64_t total = 0, off;
    assert_int_equal(measure("", 0, 1, &total, &off), 0);
    assert_int_equal(total, 2);
}

/* Every input piece size and every output window size gives the same bytes: boundaries fall
 * inside 2-, 3- and 4-byte sequences and inside \n and \u00xx escapes. */
static void every_boundary(void **state)
{
    const char in[] =
        "h\xc3\xa9\x01\xe2\x82\xac\"\xf0\x9f\x98\x80\\\n\xed\x9f\xbf\xf4\x8f\xbf\xbfz";
    size_t len = sizeof in - 1;
    uint64_t want = 0, off;
    assert_int_equal(measure(in, len, len, &want, &off), 0);
    for (size_t piece = 1; piece <= len; piece++) {
        uint64_t total = 0;
        assert_int_equal(measure(in, len, piece, &total, &off), 0);
        assert_int_equal(total, want);
        for (size_t cap = 1; cap <= 9; cap++) {
            result r = encode(in, len, piece, cap);
            assert_like_reference(in, len, &r);
            assert_int_equal(r.len, want);
            free(r.out);
        }
    }
}

/* An emoji split in two pieces at each of its inner offsets. */
static void split_sequence(void **state)
{
    const char emoji[] = "\xf0\x9f\x98\x80";
    for (size_t cut = 1; cut < 4; cut++) {
        argot_jsonstr s;
        argot_jsonstr_init(&s);
        char out[16];
        size_t used, n = argot_jsonstr_encode(&s, emoji, cut, 0, out, sizeof out, &used);
        assert_int_equal(used, cut);
        assert_int_equal(s.error, 0);
        size_t m =
            argot_jsonstr_encode(&s, emoji + cut, 4 - cut, 1, out + n, sizeof out - n, &used);
        assert_int_equal(used, 4 - cut);
        assert_int_equal(n + m, 6);
        assert_memory_equal(out, "\"\xf0\x9f\x98\x80\"", 6);
        assert_true(argot_jsonstr_done(&s));
    }
}

/* A \u00xx escape written into one-byte windows comes out whole, one byte per call. */
static void split_escape(void **state)
{
    argot_jsonstr s;
    argot_jsonstr_init(&s);
    char out[16];
    size_t o = 0, used;
    o += argot_jsonstr_encode(&s, "\x02", 1, 1, out + o, 1, &used); /* the opening quote */
    assert_int_equal(used, 0);
    o += argot_jsonstr_encode(&s, "\x02", 1, 1, out + o, 1, &used); /* '\\', 5 bytes wait */
    assert_int_equal(used, 1);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(argot_jsonstr_encode(&s, "", 0, 1, out + o, 1, &used), 1);
        o++;
    }
    assert_false(argot_jsonstr_done(&s));
    o += argot_jsonstr_encode(&s, "", 0, 1, out + o, 1, &used); /* the closing quote */
    assert_true(argot_jsonstr_done(&s));
    assert_int_equal(argot_jsonstr_encode(&s, "", 0, 1, out + o, 1, &used), 0);
    assert_int_equal(o, 8);
    assert_memory_equal(out, "\"\\u0002\"", 8);
}

static const struct {
    const char *in;
    size_t len;
    uint64_t off; /* where the bad sequence starts */
} invalid[] = {
    {"\xc0\xaf", 2, 0},          /* overlong '/' */
    {"ab\xc1\xbf", 4, 2},        /* overlong */
    {"\xe0\x80\xaf", 3, 0},      /* overlong, 3 bytes */
    {"x\xf0\x80\x80\xaf", 5, 1}, /* overlong, 4 bytes */
    {"\xed\xa0\x80", 3, 0},      /* surrogate D800 */
    {"ok\xed\xbf\xbf", 5, 2},    /* surrogate DFFF */
    {"\xf4\x90\x80\x80", 4, 0},  /* U+110000 */
    {"\xf5\x80\x80\x80", 4, 0},  /* F5 lead */
    {"\xff", 1, 0},              /* never in UTF-8 */
    {"abc\x80", 4, 3},           /* lone continuation */
    {"\xe2\x82", 2, 0},          /* cut at the end */
    {"ab\xf0\x9f\x98", 5, 2},    /* cut at the end */
    {"\xe2"
     "a\xac",
     3, 0},                           /* ASCII inside a sequence */
    {"\xc3\xa9\xc3\xc3\xa9", 5, 2},   /* a lead where a continuation belongs */
    {"fine\n\xe2\x82\xac\xa0", 9, 8}, /* one continuation too many */
};

static void invalid_utf8(void **state)
{
    for (size_t k = 0; k < sizeof invalid / sizeof invalid[0]; k++) {
        const char *in = invalid[k].in;
        size_t len = invalid[k].len;
        assert_false(argot_utf8_valid(in, len));
        for (size_t piece = 1; piece <= len; piece++) {
            uint64_t total = 0, off = 99;
            assert_int_equal(measure(in, len, piece, &total, &off), -1);
            assert_int_equal(off, invalid[k].off);
            for (size_t cap = 1; cap <= 4; cap++) {
                result r = encode(in, len, piece, cap);
                assert_int_equal(r.error, 1);
                assert_int_equal(r.error_off, invalid[k].off);
                /* Nothing past the bad sequence was written. */
                assert_true(r.len <= 1 + 6 * invalid[k].off + 3);
                free(r.out);
            }
        }
    }
}

/* Random bytes (biased towards UTF-8 lead and continuation bytes): validity agrees with
 * argot_utf8_valid, and valid ones encode as the reference does, in odd pieces and windows. */
static void random_bytes(void **state)
{
    uint32_t x = 2463534242u;
    char in[64];
    int valid = 0;
    for (int iter = 0; iter < 20000; iter++) {
        size_t len = 0;
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        size_t n = x % 24;
        for (; len < n; len++) {
            x ^= x << 13, x ^= x >> 17, x ^= x << 5;
            static const unsigned char pick[] = {'a',  '"',  0x00, 0x0a, 0x80, 0xbf, 0x9f, 0xa0,
                                                 0xc3, 0xe2, 0xed, 0xf0, 0xf4, 0xc0, 0xff, 0x8f};
            in[len] = (char)(x & 0x300 ? pick[(x >> 10) & 15] : (x >> 14) & 0xff);
        }
        uint64_t total = 0, off;
        int ok = argot_utf8_valid(in, len);
        assert_int_equal(measure(in, len, 1 + x % 5, &total, &off), ok ? 0 : -1);
        result r = encode(in, len, 1 + (x >> 3) % 7, 1 + (x >> 6) % 9);
        if (ok) {
            assert_like_reference(in, len, &r);
            assert_int_equal(r.len, total);
            valid++;
        } else {
            assert_int_equal(r.error, 1);
        }
        free(r.out);
    }
    assert_true(valid > 1000); /* the generator does reach valid inputs */
}

/* A 1 MiB text round-trips through a real JSON parser. */
static void jansson_round_trip(void **state)
{
    size_t len = 1 << 20;
    char *in = malloc(len);
    assert_non_null(in);
    static const char alphabet[] = "Aa \"\\\n\t\x01\x7f\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
    size_t pos = 0;
    while (pos + 4 < len)
        for (size_t k = 0; k < sizeof alphabet - 1 && pos + 4 < len;) {
            size_t n = (unsigned char)alphabet[k] >= 0xf0   ? 4
                       : (unsigned char)alphabet[k] >= 0xe0 ? 3
                       : (unsigned char)alphabet[k] >= 0xc0 ? 2
                                                            : 1;
            memcpy(in + pos, alphabet + k, n);
            pos += n;
            k += n;
        }
    len = pos;
    result r = encode(in, len, 65521, 65536);
    assert_int_equal(r.error, 0);
    json_error_t err;
    json_t *j = json_loadb(r.out, r.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    assert_non_null(j);
    assert_true(json_is_string(j));
    assert_int_equal(json_string_length(j), len);
    assert_memory_equal(json_string_value(j), in, len);
    json_decref(j);
    free(r.out);
    free(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(escapes),        cmocka_unit_test(empty),
        cmocka_unit_test(every_boundary), cmocka_unit_test(split_sequence),
        cmocka_unit_test(split_escape),   cmocka_unit_test(invalid_utf8),
        cmocka_unit_test(random_bytes),   cmocka_unit_test(jansson_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
