/*
 * libFuzzer target for the JSON request parsers: the body of POST /v1/uploads (read with
 * api_json_body / api_json_object and the field readers api_json_string / api_json_int) and
 * the expires_after object shared by files and uploads (api_expires_after_object; also the
 * .NET-style JSON part of POST /v1/files).
 *
 * Input layout: byte 0 = how many pieces the body is fed in (1 + byte0 % 8); the rest is the
 * body. A request without a connection is used: the HTTP layer only records the status of
 * its replies.
 *
 * Checked: at most one reply per request, and every failure replies (status 400 or 413);
 * success means the fields have their types, and expires_after seconds lie in
 * EXPIRES_MIN..EXPIRES_MAX; no leak or overread (ASan).
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/api/api.h"
#include "server/api/uploads.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void reset(http_req *r)
{
    r->status = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    static int quiet;
    if (!quiet) {
        json_object_seed(1); /* deterministic hashing across runs */
        quiet = 1;
    }
    size_t pieces = 1 + data[0] % 8;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;

    http_req r;
    memset(&r, 0, sizeof r);
    strcpy(r.request_id, "req_fuzz");
    argot_buf *b = calloc(1, sizeof *b);
    if (!b)
        abort();
    argot_buf_init(b, 64 * 1024);
    r.state = b;

    size_t off = 0;
    for (size_t i = 0; i < pieces && !r.status; i++) {
        size_t n = i + 1 == pieces ? len - off : len / pieces;
        if (api_json_body(&r, body + off, n) != 0 && !r.status)
            abort(); /* failed without a reply */
        off += n;
    }
    if (r.status) {
        if (r.status != 413)
            abort();
        reset(&r);
        api_json_cleanup(&r);
        return 0;
    }
    json_t *o = api_json_object(&r);
    if (!o) {
        if (r.status != 400)
            abort();
        reset(&r);
        api_json_cleanup(&r);
        return 0;
    }
    const char *s = NULL;
    int64_t v = 0;
    static const char *const strs[] = {"filename", "purpose", "mime_type"};
    for (size_t i = 0; i < 3; i++) {
        int rc = api_json_string(&r, o, strs[i], (int)(i & 1), &s);
        if (rc < 0 && (r.status != 400))
            abort();
        if (rc == 0 && (!s || r.status))
            abort();
        reset(&r);
    }
    int rc = api_json_int(&r, o, "bytes", 1, &v);
    if (rc < 0 && r.status != 400)
        abort();
    if (rc == 0 && r.status)
        abort();
    reset(&r);
    json_t *ea = json_object_get(o, "expires_after");
    if (ea) {
        int64_t secs = 0;
        rc = api_expires_after_object(&r, ea, &secs);
        if (rc == 0 && (r.status || secs < EXPIRES_MIN || secs > EXPIRES_MAX))
            abort();
        if (rc != 0 && r.status != 400)
            abort();
        reset(&r);
    }
    json_decref(o);
    api_json_cleanup(&r);
    return 0;
}
