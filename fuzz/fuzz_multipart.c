/*
 * libFuzzer target for the multipart/form-data parser (src/server/http/multipart.c).
 *
 * Input layout:
 *   byte 0        flags: bits 0-2 = number n of chunk sizes that follow;
 *                 bit 3 = tight limits (64 header bytes, 3 parts);
 *                 bits 4-5 = k: when non-zero, the k-th part_begin aborts the parse
 *   bytes 1..n    chunk sizes (0 counts as 1), used in turn to split the body
 *   the rest      the body, with the fixed boundary "AaB03x" (RFC 7578's example)
 *
 * The body is parsed whole, in the chosen chunks and one byte at a time; all three must give
 * the same result and the same events, and the events must obey the callback contract. When
 * fed whole, each part's content must come in one run pointing into the input, contain no
 * delimiter and be followed by one (content is never copied, split or misframed). The
 * first 256 bytes of the body are also given to mp_boundary_from_content_type as a string.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/http/multipart.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BOUNDARY  "AaB03x"
#define DELIM     "\r\n--" BOUNDARY
#define DELIM_LEN (sizeof(DELIM) - 1)

typedef struct trace {
    uint64_t h;      /* digest of every event */
    uint64_t dh;     /* digest of the current part's content */
    size_t dlen;     /* bytes of the current part's content */
    size_t total;    /* content bytes of all parts */
    size_t body_len; /* input size, an upper bound for total */
    int in_part;
    unsigned begins;
    unsigned abort_at;
    const char *body;     /* set when the body is fed whole */
    const char *last_end; /* end of the current part's content run (whole feeds only) */
} trace;

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 0x100000001b3ull;
    return h;
}

static uint64_t mix_u(uint64_t h, uint64_t v)
{
    return mix(h, &v, sizeof(v));
}

static int on_begin(const mp_part_info *info, void *ud)
{
    trace *t = ud;
    if (t->in_part || info->name == NULL || strlen(info->name) != info->name_len)
        abort();
    if (info->filename == NULL && info->filename_len != 0)
        abort();
    t->in_part = 1;
    t->begins++;
    t->dh = 0xcbf29ce484222325ull;
    t->dlen = 0;
    t->last_end = NULL;
    t->h = mix_u(t->h, 'B');
    t->h = mix_u(mix(t->h, info->name, info->name_len), info->name_len);
    t->h = mix_u(t->h, info->filename != NULL);
    if (info->filename != NULL)
        t->h = mix_u(mix(t->h, info->filename, info->filename_len), info->filename_len);
    t->h = mix_u(t->h, info->content_type != NULL);
    if (info->content_type != NULL) {
        size_t n = strlen(info->content_type);
        t->h = mix_u(mix(t->h, info->content_type, n), n);
    }
    return t->abort_at != 0 && t->begins == t->abort_at ? 7 : 0;
}

static int has_delim(const char *d, size_t len)
{
    for (const char *r = d; (r = memchr(r, '\r', len - (size_t)(r - d))) != NULL; r++) {
        if (len - (size_t)(r - d) >= DELIM_LEN && memcmp(r, DELIM, DELIM_LEN) == 0)
            return 1;
    }
    return 0;
}

/* Whole feeds: one run per part, inside the input, without a delimiter. */
static void check_run(trace *t, const char *d, size_t len)
{
    if (t->last_end != NULL || d < t->body || len > t->body_len ||
        d > t->body + (t->body_len - len) || has_delim(d, len))
        abort();
    t->last_end = d + len;
}

static int on_data(const char *d, size_t len, void *ud)
{
    trace *t = ud;
    if (!t->in_part || len == 0)
        abort();
    if (t->body != NULL)
        check_run(t, d, len);
    t->dh = mix(t->dh, d, len);
    t->dlen += len;
    t->total += len;
    if (t->total > t->body_len)
        abort();
    return 0;
}

static int on_end(void *ud)
{
    trace *t = ud;
    if (!t->in_part)
        abort();
    t->in_part = 0;
    if (t->last_end != NULL && ((size_t)(t->body + t->body_len - t->last_end) < DELIM_LEN ||
                                memcmp(t->last_end, DELIM, DELIM_LEN) != 0))
        abort();
    t->h = mix_u(mix_u(mix_u(t->h, 'E'), t->dh), t->dlen);
    return 0;
}

static const mp_callbacks CB = {on_begin, on_data, on_end};

/* Parses body split by the chunk sizes in sizes[0..nsizes) (nsizes 0: whole). */
static uint64_t run(const char *body,
                    size_t len,
                    const uint8_t *sizes,
                    size_t nsizes,
                    const mp_limits *lim,
                    unsigned abort_at)
{
    trace t = {0xcbf29ce484222325ull, 0, 0, 0, len, 0, 0, abort_at, NULL, NULL};
    if (nsizes == 0)
        t.body = body;
    mp_parser *p = NULL;
    if (mp_parser_new(&p, BOUNDARY, lim, &CB, &t) != MP_OK)
        abort();
    int rc = MP_OK;
    size_t pos = 0, i = 0;
    while (pos < len && rc == MP_OK) {
        size_t n = len;
        if (nsizes != 0) {
            n = sizes[i++ % nsizes];
            n = n ? n : 1;
        }
        if (n > len - pos)
            n = len - pos;
        rc = mp_parser_feed(p, body + pos, n);
        pos += n;
    }
    if (rc == MP_OK)
        rc = mp_parser_finish(p);
    /* The error is sticky and has a message; cb_result is set only for MP_E_CALLBACK. */
    if (rc != MP_OK && (mp_parser_feed(p, "--", 2) != rc || mp_parser_finish(p) != rc))
        abort();
    if ((rc == MP_E_CALLBACK) != (mp_parser_cb_result(p) == 7))
        abort();
    if (mp_parser_errmsg(p) == NULL || (rc == MP_OK && t.in_part))
        abort();
    mp_parser_free(p);
    /* Content delivered before a failure (or held back at a truncation) must not depend on
     * the chunking either, so the unfinished part counts too. */
    uint64_t h = mix_u(mix_u(mix_u(t.h, t.in_part), t.in_part ? t.dh : 0), t.dlen);
    return mix_u(h, (uint64_t)(int64_t)rc);
}

static void fuzz_content_type(const uint8_t *data, size_t size)
{
    char ct[257], out[MP_BOUNDARY_MAX + 1];
    size_t n = size < 256 ? size : 256;
    memcpy(ct, data, n);
    ct[n] = '\0';
    int rc = mp_boundary_from_content_type(ct, out);
    if (rc != MP_OK) {
        if (rc != MP_E_BOUNDARY || out[0] != '\0')
            abort();
        return;
    }
    size_t len = strlen(out);
    if (len < 1 || len > MP_BOUNDARY_MAX)
        abort();
    mp_parser *p = NULL;
    if (mp_parser_new(&p, out, NULL, NULL, NULL) != MP_OK)
        abort();
    mp_parser_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t one = 1;
    if (size == 0)
        return 0;
    size_t nsizes = data[0] & 7u;
    if (nsizes > size - 1)
        nsizes = size - 1;
    const uint8_t *sizes = data + 1;
    const char *body = (const char *)data + 1 + nsizes;
    size_t len = size - 1 - nsizes;
    mp_limits tight = {64, 3};
    const mp_limits *lim = (data[0] & 8u) ? &tight : NULL;
    unsigned abort_at = (data[0] >> 4) & 3u;

    uint64_t whole = run(body, len, NULL, 0, lim, abort_at);
    if (run(body, len, sizes, nsizes, lim, abort_at) != whole)
        abort();
    if (run(body, len, &one, 1, lim, abort_at) != whole)
        abort();
    fuzz_content_type((const uint8_t *)body, len);
    return 0;
}
