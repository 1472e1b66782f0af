/*
 * libFuzzer target for the streaming JSON-string encoder (common/jsonstr.c), the spec
 * profile's GET /content.
 *
 * Input layout: byte 0 = the size of the input pieces (1 + byte0 % 64), byte 1 = the size of
 * the output windows (1 + byte1 % 16); the rest is the text.
 *
 * Checked against independent references: measure() accepts exactly what argot_utf8_valid()
 * accepts; for valid text the streamed encoding equals argot_buf_put_json_str()'s one-shot
 * encoding byte for byte, has the measured length, and jansson decodes it back to the text;
 * for invalid text the encoder stops with an error at the offset measure() reported, without
 * writing past the bad sequence. No overread or leak (ASan).
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/jsonstr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

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

/* Streams in through windows of cap bytes into out (room: 6 * len + 2); returns the length. */
static size_t encode(
    argot_jsonstr *s, const char *in, size_t len, size_t piece, size_t cap, char *out)
{
    size_t o = 0, pos = 0, room = 6 * len + 2;
    argot_jsonstr_init(s);
    while (!s->error && !argot_jsonstr_done(s)) {
        size_t n = len - pos < piece ? len - pos : piece, used = 0;
        size_t w = room - o < cap ? room - o : cap;
        size_t got = argot_jsonstr_encode(s, in + pos, n, pos + n == len, out + o, w, &used);
        CHECK(got <= w && used <= n);
        CHECK(got || used || s->error || argot_jsonstr_done(s)); /* progress */
        o += got;
        pos += used;
    }
    return o;
}

static void check_valid(const char *in, size_t len, const char *out, size_t olen, uint64_t total)
{
    argot_buf ref = ARGOT_BUF_INIT(SIZE_MAX / 2);
    CHECK(argot_buf_put_json_str(&ref, in, len) == ARGOT_BUF_OK);
    CHECK(ref.len == olen && olen == total && !memcmp(ref.ptr, out, olen));
    argot_buf_free(&ref);
    json_error_t err;
    json_t *j = json_loadb(out, olen, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    CHECK(json_is_string(j) && json_string_length(j) == len);
    CHECK(!memcmp(json_string_value(j), in, len));
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t piece = 1 + data[0] % 64, cap = 1 + data[1] % 16;
    const char *in = (const char *)data + 2;
    size_t len = size - 2;
    uint64_t total = 0, off = 0;
    int ok = measure(in, len, piece, &total, &off) == 0;
    CHECK(ok == argot_utf8_valid(in, len));
    char *out = malloc(6 * len + 2);
    CHECK(out != NULL);
    argot_jsonstr s;
    size_t olen = encode(&s, in, len, piece, cap, out);
    if (ok) {
        CHECK(!s.error && argot_jsonstr_done(&s));
        check_valid(in, len, out, olen, total);
    } else {
        CHECK(s.error && s.error_off == off && off < len);
        CHECK(olen <= 1 + 6 * off + 3); /* nothing past the bad sequence */
    }
    free(out);
    return 0;
}
