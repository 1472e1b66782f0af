/*
 * libFuzzer target for the S3 response reader: the incremental XML reader
 * (src/server/blob/s3/s3_xml.c) and the response decoders on top of it (s3_resp.c).
 *
 * Input layout: byte 0 picks the decoder (low 3 bits: an s3r_kind, 7 = the bare XML reader)
 * and byte 1 the chunk size the body is fed in (1..256); the rest is the response body.
 *
 * Checked: the result (status, every event or entry, every decoded field) is the same whether
 * the body is fed whole or in chunks; every decoded string fits its buffer and is
 * NUL-terminated; a successful decode of a result document has its required fields, non-empty;
 * a bad input is an error code, never a crash or a read past the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/blob/s3/s3_resp.h"
#include "server/blob/s3/s3_xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* FNV-1a over everything the consumer saw, so two runs can be compared cheaply. */
static void mix(uint64_t *h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        *h = (*h ^ b[i]) * 1099511628211ull;
}

static void check_str(const char *s, size_t cap)
{
    if (memchr(s, '\0', cap) == NULL)
        abort();
}

static int xml_cb(
    s3x_event ev, const char *path, size_t depth, const char *text, size_t len, void *ud)
{
    uint64_t *h = ud;
    if (depth < 1 || depth > S3X_DEPTH_MAX || strlen(path) > S3X_PATH_MAX)
        abort();
    if (ev == S3X_CLOSE && (len > S3X_TEXT_MAX || text[len] != '\0'))
        abort();
    mix(h, &ev, sizeof ev);
    mix(h, path, strlen(path));
    if (ev == S3X_CLOSE)
        mix(h, text, len);
    return 0;
}

static int entry_cb(const s3r_entry *e, void *ud)
{
    uint64_t *h = ud;
    check_str(e->key, sizeof e->key);
    check_str(e->upload_id, sizeof e->upload_id);
    check_str(e->etag, sizeof e->etag);
    mix(h, e, sizeof *e);
    return 0;
}

static int run_xml(const uint8_t *body, size_t n, size_t chunk, uint64_t *h)
{
    s3x_parser *p = malloc(sizeof *p);
    int rc = S3X_OK;
    if (!p)
        abort();
    s3x_init(p, xml_cb, h);
    for (size_t off = 0; off < n && rc == S3X_OK; off += chunk)
        rc = s3x_feed(p, (const char *)body + off, n - off < chunk ? n - off : chunk);
    if (rc == S3X_OK)
        rc = s3x_finish(p);
    free(p);
    return rc;
}

static void check_result(const s3r *r, int rc)
{
    check_str(r->code, sizeof r->code);
    check_str(r->message, sizeof r->message);
    check_str(r->upload_id, sizeof r->upload_id);
    check_str(r->etag, sizeof r->etag);
    check_str(r->next_token, sizeof r->next_token);
    check_str(r->next_key_marker, sizeof r->next_key_marker);
    check_str(r->next_upload_id_marker, sizeof r->next_upload_id_marker);
    if (rc != S3R_OK)
        return;
    if (r->is_error && !r->code[0])
        abort();
    if (r->kind == S3R_ERROR && !r->is_error)
        abort();
    if (!r->is_error && r->kind == S3R_INITIATE && !r->upload_id[0])
        abort();
    if (!r->is_error && (r->kind == S3R_COMPLETE || r->kind == S3R_COPY_PART) && !r->etag[0])
        abort();
    if (!r->is_error && r->kind == S3R_LIST_OBJECTS && r->truncated && !r->next_token[0])
        abort();
}

static int run_resp(s3r_kind kind, const uint8_t *body, size_t n, size_t chunk, uint64_t *h)
{
    s3r *r = malloc(sizeof *r);
    int rc = S3R_OK;
    if (!r)
        abort();
    s3r_init(r, kind, entry_cb, h);
    for (size_t off = 0; off < n && rc == S3R_OK; off += chunk)
        rc = s3r_feed(r, (const char *)body + off, n - off < chunk ? n - off : chunk);
    if (rc == S3R_OK)
        rc = s3r_finish(r);
    if (rc < S3R_E_CALLBACK || rc > S3R_OK)
        abort();
    check_result(r, rc);
    mix(h, &rc, sizeof rc);
    mix(h, &r->is_error, sizeof r->is_error);
    mix(h, &r->truncated, sizeof r->truncated);
    mix(h, &r->entries, sizeof r->entries);
    mix(h, r->code, strlen(r->code));
    mix(h, r->message, strlen(r->message));
    mix(h, r->upload_id, strlen(r->upload_id));
    mix(h, r->etag, strlen(r->etag));
    mix(h, r->next_token, strlen(r->next_token));
    mix(h, r->next_key_marker, strlen(r->next_key_marker));
    mix(h, r->next_upload_id_marker, strlen(r->next_upload_id_marker));
    mix(h, &r->next_part_marker, sizeof r->next_part_marker);
    free(r);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    unsigned which = data[0] & 7;
    size_t chunk = (size_t)data[1] + 1;
    const uint8_t *body = data + 2;
    size_t n = size - 2;
    uint64_t h1 = 14695981039346656037ull, h2 = h1;
    int r1, r2;
    if (which == 7) {
        r1 = run_xml(body, n, n ? n : 1, &h1);
        r2 = run_xml(body, n, chunk, &h2);
    } else {
        r1 = run_resp((s3r_kind)(which % S3R_KIND_COUNT), body, n, n ? n : 1, &h1);
        r2 = run_resp((s3r_kind)(which % S3R_KIND_COUNT), body, n, chunk, &h2);
    }
    if (r1 != r2 || h1 != h2)
        abort();
    return 0;
}
