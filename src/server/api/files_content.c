/*
 * GET /v1/files/{file_id}/content.
 *
 * Service profile: the raw bytes as application/octet-stream, whatever the request's Accept,
 * sent from the blob's file descriptor (sendfile, no user-space copy); a single Range
 * (bytes=a-b, a-, -n) is answered 206 with Content-Range, an unsatisfiable one 416, and
 * If-Range with the ETag (the file id, quoted) is honoured.
 *
 * Spec profile: application/json, the content as one JSON string (the spec's `type: string`),
 * escaped while it streams. A first pass over the blob checks that it is UTF-8 and counts the
 * escaped length, so a file that is not UTF-8 gets 406 before any byte of a body, never
 * mangled text, and the reply declares its Content-Length. One 64 KiB buffer per download,
 * whatever the size of the file (docs/compatibility.md says why two passes).
 *
 * A reader opened before a concurrent delete still serves the whole file; committed blobs
 * never change, so both passes read the same bytes.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/jsonstr.h"
#include "server/api/api.h"
#include "server/api/disposition.h"
#include "server/api/routes.h"
#include "server/http/range.h"

#define JSON_IN_CAP (64 * 1024)

typedef struct json_dl {
    blob_reader *rd;
    uint64_t size; /* of the blob */
    uint64_t off;  /* bytes read so far */
    size_t pos;    /* in[pos..len) is read but not yet encoded */
    size_t len;
    argot_jsonstr js;
    char in[JSON_IN_CAP];
} json_dl;

static int forbidden(const char *purpose)
{
    return !strcmp(purpose, "assistants") || !strcmp(purpose, "user_data");
}

/* Reads the next piece of the blob into in; 0, or -1 on an error or a short blob. */
static int fill(json_dl *d)
{
    st_err e = ST_ERR_INIT;
    ssize_t n = blob_read(d->rd, d->in, JSON_IN_CAP, &e);
    if (n <= 0)
        return -1;
    d->pos = 0;
    d->len = (size_t)n;
    d->off += (uint64_t)n;
    return 0;
}

/* The first pass: 0 and the JSON length, 1 if the blob is not UTF-8, -1 on a read error. */
static int measure(json_dl *d, uint64_t *total)
{
    argot_jsonstr_init(&d->js);
    for (d->off = 0; d->off < d->size;) {
        if (fill(d))
            return -1;
        if (argot_jsonstr_measure(&d->js, d->in, d->len))
            return 1;
    }
    return argot_jsonstr_measure_end(&d->js, total) ? 1 : 0;
}

static ssize_t json_read(void *ctx, char *buf, size_t cap)
{
    json_dl *d = ctx;
    size_t o = 0;
    while (o < cap && !argot_jsonstr_done(&d->js)) {
        if (d->pos == d->len && d->off < d->size && fill(d))
            return -1;
        size_t used;
        o += argot_jsonstr_encode(&d->js, d->in + d->pos, d->len - d->pos, d->off == d->size,
                                  buf + o, cap - o, &used);
        d->pos += used;
        if (d->js.error)
            return -1; /* the blob changed under us: cut the body rather than send bad JSON */
    }
    return (ssize_t)o;
}

static void json_done(void *ctx)
{
    json_dl *d = ctx;
    blob_reader_close(d->rd);
    free(d);
}

/* Opens the whole content for d; replies (404/5xx) and returns -1 when it cannot. */
static int open_all(http_req *r, const meta_file *f, json_dl *d)
{
    st_err e = ST_ERR_INIT;
    if (store_file_open(r->app->store, f, 0, BLOB_TO_END, &d->rd, &d->size, &e) == ST_OK)
        return 0;
    d->rd = NULL;
    api_reply_store(r, &e, "content open");
    return -1;
}

/* The spec profile's reply: a first pass measures (and checks UTF-8), a second streams. */
static void reply_json_string(http_req *r, const meta_file *f)
{
    json_dl *d = malloc(sizeof *d);
    if (!d) {
        http_reply_internal(r, "download alloc");
        return;
    }
    uint64_t total = 0;
    int rc = open_all(r, f, d) ? -2 : measure(d, &total);
    blob_reader_close(d->rd);
    d->rd = NULL;
    if (rc == 0 && open_all(r, f, d))
        rc = -2;
    if (rc) {
        uint64_t at = d->js.error_off;
        json_done(d);
        if (rc == -1)
            http_reply_internal(r, "blob read");
        else if (rc == 1)
            http_reply_error(r, 406, "invalid_request_error", NULL, "file_not_utf8",
                             "File %s is not valid UTF-8 (the first invalid sequence starts at "
                             "byte %" PRIu64 "), so it cannot be sent as a JSON string. Download "
                             "it with a raw HTTP client, or send the header " API_PROFILE_HEADER
                             ": service, to get its bytes as they are.",
                             f->id, at);
        return;
    }
    d->off = d->pos = d->len = 0;
    argot_jsonstr_init(&d->js);
    http_reply_stream(r, 200, "application/json", (int64_t)total, json_read, json_done, d);
}

static ssize_t reader_read(void *ctx, char *buf, size_t cap);
static void reader_done(void *ctx);

/* The content's range [off, off + len): sendfile from the blob backend's descriptor where it
 * has one, else streamed from its reader. */
static void reply_range(http_req *r, const meta_file *f, int status, uint64_t off, uint64_t len)
{
    blob_reader *rd = NULL;
    st_err e = ST_ERR_INIT;
    if (store_file_open(r->app->store, f, off, len, &rd, NULL, &e)) {
        api_reply_store(r, &e, "content open");
        return;
    }
    int fd = -1;
    uint64_t foff, flen;
    if (store_reader_fd(r->app->store, rd, &fd, &foff, &flen) == 0) {
        blob_reader_close(rd);
        http_reply_fd(r, status, fd, foff, flen);
        return;
    }
    http_reply_stream(r, status, "application/octet-stream", (int64_t)len, reader_read, reader_done,
                      rd);
}

/* The service profile's reply: the bytes, or the one Range asked for (206). A file's content
 * never changes, so its id is a strong entity tag for If-Range. */
static void reply_bytes(http_req *r, const meta_file *f)
{
    char cd[4 * META_FILENAME_MAX + 64], etag[META_ID_MAX + 4], cr[80];
    uint64_t size = (uint64_t)f->bytes, off = 0, len = size;
    api_content_disposition(f->filename, cd, sizeof cd);
    snprintf(etag, sizeof etag, "\"%s\"", f->id);
    http_range_kind k = HTTP_RANGE_NONE;
    if (http_if_range_ok(http_header(r, "If-Range"), etag))
        k = http_range_parse(http_header(r, "Range"), size, &off, &len);
    http_add_header(r, "Accept-Ranges", "bytes");
    http_add_header(r, "ETag", etag);
    if (k == HTTP_RANGE_UNSATISFIABLE) {
        snprintf(cr, sizeof cr, "bytes */%" PRIu64, size);
        http_add_header(r, "Content-Range", cr);
        http_reply_error(r, 416, "invalid_request_error", NULL, "range_not_satisfiable",
                         "The requested range is not satisfiable: the file has %" PRIu64 " bytes.",
                         size);
        return;
    }
    if (k == HTTP_RANGE_PARTIAL) {
        snprintf(cr, sizeof cr, "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, off, off + len - 1, size);
        http_add_header(r, "Content-Range", cr);
    }
    http_add_header(r, "Content-Disposition", cd);
    reply_range(r, f, k == HTTP_RANGE_PARTIAL ? 206 : 200, off, len);
}

/* A reader without a descriptor to give (an object store): its range is streamed. */
static ssize_t reader_read(void *ctx, char *buf, size_t cap)
{
    st_err e = ST_ERR_INIT;
    ssize_t n = blob_read(ctx, buf, cap, &e);
    return n < 0 ? -1 : n;
}

static void reader_done(void *ctx)
{
    blob_reader_close(ctx);
}

static void end(http_req *r)
{
    meta_file f;
    if (api_lookup_file(r, &f))
        return;
    if (r->app->cfg->strict_download && forbidden(f.purpose)) {
        http_reply_invalid(r, NULL, NULL, "Not allowed to download files of purpose: %s",
                           f.purpose);
        return;
    }
    if (api_profile_of(r) == API_PROFILE_SPEC) {
        reply_json_string(r, &f);
        return;
    }
    reply_bytes(r, &f);
}

const route_ops api_files_content = {
    ROUTE_FILES_CONTENT, "files.content", 1, api_profile_begin, NULL, end, NULL};
