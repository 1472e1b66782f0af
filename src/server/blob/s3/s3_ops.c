/* The S3 operations on objects and multipart uploads: see s3_client.h. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "server/blob/s3/s3_internal.h"

static void copy_etag(char *dst, const char *src)
{
    if (dst)
        snprintf(dst, S3R_ETAG_MAX + 1, "%s", src);
}

static int valid_key(const char *key)
{
    size_t n = key ? strlen(key) : 0;
    return n > 0 && n <= S3R_KEY_MAX;
}

#define CHECK_KEY(op, key, err)                                                                    \
    do {                                                                                           \
        if (!valid_key(key))                                                                       \
            return s3_error_set((err), S3_E_INVALID, 0, "%s: missing or too long key", (op));      \
    } while (0)

s3_status s3_head_bucket(s3_client *c, s3_error *err)
{
    s3_req r = {.op = "HeadBucket", .method = "HEAD"};
    s3_error e;
    s3_error_clear(&e);
    s3_status rc = s3_perform(c, &r, &e);
    if (rc == S3_OK)
        return S3_OK;
    if (rc == S3_E_NOTFOUND)
        s3_error_set(err, rc, 0, "S3 bucket '%s' does not exist at %s://%s (HTTP 404)", c->bucket,
                     c->scheme, c->host);
    else if (rc == S3_E_AUTH)
        s3_error_set(err, rc, 0,
                     "S3 bucket '%s' at %s://%s: access denied (HTTP 403): wrong credentials "
                     "(AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY), a wrong region, or no "
                     "permission",
                     c->bucket, c->scheme, c->host);
    else
        s3_error_set(err, rc, e.retryable, "S3 bucket '%s' at %s://%s: %s", c->bucket, c->scheme,
                     c->host, e.message);
    if (err && err->code == rc) {
        err->http_status = e.http_status;
        err->curl_code = e.curl_code;
        err->retryable = e.retryable;
    }
    return rc;
}

s3_status s3_create_bucket(s3_client *c, s3_error *err)
{
    s3_req r = {.op = "CreateBucket", .method = "PUT", .body = "", .body_len = 0};
    s3_error e;
    s3_error_clear(&e);
    s3_status rc = s3_perform(c, &r, &e);
    if (rc != S3_OK && strcmp(e.s3_code, "BucketAlreadyOwnedByYou") == 0)
        return S3_OK;
    if (rc != S3_OK && err && err->code == S3_OK)
        *err = e;
    return rc;
}

s3_status s3_head_object(
    s3_client *c, const char *key, uint64_t *size, char etag[S3R_ETAG_MAX + 1], s3_error *err)
{
    CHECK_KEY("HeadObject", key, err);
    s3_req r = {.op = "HeadObject", .method = "HEAD", .key = key};
    s3_status rc = s3_perform(c, &r, err);
    if (rc != S3_OK)
        return rc;
    if (size)
        *size = r.content_length;
    copy_etag(etag, r.etag);
    return S3_OK;
}

s3_status s3_put_object(s3_client *c,
                        const char *key,
                        const void *data,
                        size_t len,
                        char etag[S3R_ETAG_MAX + 1],
                        s3_error *err)
{
    CHECK_KEY("PutObject", key, err);
    s3_req r = {
        .op = "PutObject", .method = "PUT", .key = key, .body = len ? data : "", .body_len = len};
    s3_status rc = s3_perform(c, &r, err);
    if (rc == S3_OK)
        copy_etag(etag, r.etag);
    return rc;
}

s3_status s3_put_object_stream(s3_client *c,
                               const char *key,
                               uint64_t len,
                               s3_read_cb cb,
                               void *userdata,
                               char etag[S3R_ETAG_MAX + 1],
                               s3_error *err)
{
    CHECK_KEY("PutObject", key, err);
    if (!cb)
        return s3_error_set(err, S3_E_INVALID, 0, "PutObject %s: no reader", key);
    s3_req r = {.op = "PutObject",
                .method = "PUT",
                .key = key,
                .read_cb = cb,
                .read_ud = userdata,
                .read_len = len};
    s3_status rc = s3_perform(c, &r, err);
    if (rc == S3_OK)
        copy_etag(etag, r.etag);
    return rc;
}

s3_status s3_get_object(s3_client *c,
                        const char *key,
                        uint64_t offset,
                        uint64_t len,
                        s3_write_cb cb,
                        void *userdata,
                        s3_error *err)
{
    char range[64];
    CHECK_KEY("GetObject", key, err);
    if (len == 0)
        return S3_OK;
    s3_req r = {
        .op = "GetObject", .method = "GET", .key = key, .write_cb = cb, .write_ud = userdata};
    if (offset > 0 || len != S3_TO_END) {
        if (len != S3_TO_END && len - 1 > UINT64_MAX - offset)
            return s3_error_set(err, S3_E_INVALID, 0, "GetObject %s: range overflows", key);
        if (len == S3_TO_END)
            snprintf(range, sizeof range, "bytes=%" PRIu64 "-", offset);
        else
            snprintf(range, sizeof range, "bytes=%" PRIu64 "-%" PRIu64, offset, offset + len - 1);
        r.headers[0] = (s3_kv){"range", range};
        r.nheaders = 1;
        r.ranged = 1;
    }
    return s3_perform(c, &r, err);
}

s3_status s3_delete_object(s3_client *c, const char *key, s3_error *err)
{
    CHECK_KEY("DeleteObject", key, err);
    s3_req r = {.op = "DeleteObject", .method = "DELETE", .key = key, .ok_404 = 1};
    return s3_perform(c, &r, err);
}

s3_status s3_mpu_create(s3_client *c,
                        const char *key,
                        char upload_id[S3R_TOKEN_MAX + 1],
                        s3_error *err)
{
    CHECK_KEY("CreateMultipartUpload", key, err);
    s3r *d = malloc(sizeof *d);
    if (!d)
        return s3_error_set(err, S3_E_NOMEM, 0, "CreateMultipartUpload: out of memory");
    s3r_init(d, S3R_INITIATE, NULL, NULL);
    s3_req r = {.op = "CreateMultipartUpload", .method = "POST", .key = key, .resp = d};
    r.query[r.nquery++] = (s3_kv){"uploads", ""};
    s3_status rc = s3_perform(c, &r, err);
    if (rc == S3_OK)
        snprintf(upload_id, S3R_TOKEN_MAX + 1, "%s", d->upload_id);
    free(d);
    return rc;
}

static s3_status check_part(const char *op, const char *key, const char *id, int n, s3_error *e)
{
    CHECK_KEY(op, key, e);
    if (!id || !id[0] || n < 1 || n > S3_MAX_PARTS)
        return s3_error_set(e, S3_E_INVALID, 0, "%s %s: bad upload id or part number %d", op, key,
                            n);
    return S3_OK;
}

s3_status s3_upload_part_x(s3_client *c,
                           const char *key,
                           const char *upload_id,
                           int number,
                           const void *data,
                           size_t len,
                           const char *sha256_hex,
                           atomic_int *cancel,
                           s3_part *part,
                           s3_error *err)
{
    char num[16];
    s3_status rc = check_part("UploadPart", key, upload_id, number, err);
    if (rc != S3_OK)
        return rc;
    snprintf(num, sizeof num, "%d", number);
    s3_req r = {.op = "UploadPart",
                .method = "PUT",
                .key = key,
                .body = len ? data : "",
                .body_len = len,
                .body_sha256 = sha256_hex,
                .cancel = cancel};
    r.query[r.nquery++] = (s3_kv){"partNumber", num};
    r.query[r.nquery++] = (s3_kv){"uploadId", upload_id};
    if ((rc = s3_perform(c, &r, err)) != S3_OK)
        return rc;
    if (!r.etag[0])
        return s3_error_set(err, S3_E_PROTOCOL, 0, "UploadPart %s: no ETag in the answer", key);
    part->number = number;
    part->size = len;
    copy_etag(part->etag, r.etag);
    return S3_OK;
}

s3_status s3_mpu_upload_part(s3_client *c,
                             const char *key,
                             const char *upload_id,
                             int number,
                             const void *data,
                             size_t len,
                             const char *sha256_hex,
                             s3_part *part,
                             s3_error *err)
{
    return s3_upload_part_x(c, key, upload_id, number, data, len, sha256_hex, NULL, part, err);
}

s3_status s3_mpu_upload_part_copy(s3_client *c,
                                  const char *key,
                                  const char *upload_id,
                                  int number,
                                  const char *src_key,
                                  uint64_t first,
                                  uint64_t last,
                                  s3_part *part,
                                  s3_error *err)
{
    char num[16], range[64];
    argot_buf src = ARGOT_BUF_INIT(4096);
    s3_status rc = check_part("UploadPartCopy", key, upload_id, number, err);
    if (rc != S3_OK)
        return rc;
    if (!valid_key(src_key) || last < first)
        return s3_error_set(err, S3_E_INVALID, 0, "UploadPartCopy %s: bad source", key);
    s3r *d = malloc(sizeof *d);
    /* x-amz-copy-source is "bucket/key", URI-encoded (as botocore sends it). */
    if (!d || argot_buf_puts(&src, c->bucket) || argot_buf_putc(&src, '/') ||
        s3_uri_encode(&src, c->prefix, strlen(c->prefix), 1) ||
        s3_uri_encode(&src, src_key, strlen(src_key), 1)) {
        free(d);
        argot_buf_free(&src);
        return s3_error_set(err, S3_E_NOMEM, 0, "UploadPartCopy: out of memory");
    }
    snprintf(num, sizeof num, "%d", number);
    snprintf(range, sizeof range, "bytes=%" PRIu64 "-%" PRIu64, first, last);
    s3r_init(d, S3R_COPY_PART, NULL, NULL);
    s3_req r = {.op = "UploadPartCopy", .method = "PUT", .key = key, .resp = d};
    r.query[r.nquery++] = (s3_kv){"partNumber", num};
    r.query[r.nquery++] = (s3_kv){"uploadId", upload_id};
    r.headers[r.nheaders++] = (s3_kv){"x-amz-copy-source", src.ptr};
    r.headers[r.nheaders++] = (s3_kv){"x-amz-copy-source-range", range};
    if ((rc = s3_perform(c, &r, err)) == S3_OK) {
        part->number = number;
        part->size = last - first + 1;
        copy_etag(part->etag, d->etag);
    }
    free(d);
    argot_buf_free(&src);
    return rc;
}

/* The CompleteMultipartUpload document; ETags are XML-escaped (they hold quotes). */
static int complete_body(argot_buf *b, const s3_part *parts, size_t n)
{
    if (argot_buf_puts(b, "<CompleteMultipartUpload>"))
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (argot_buf_printf(b, "<Part><PartNumber>%d</PartNumber><ETag>", parts[i].number))
            return -1;
        for (const char *p = parts[i].etag; *p; p++) {
            int rc = *p == '"'   ? argot_buf_puts(b, "&quot;")
                     : *p == '&' ? argot_buf_puts(b, "&amp;")
                     : *p == '<' ? argot_buf_puts(b, "&lt;")
                                 : argot_buf_putc(b, *p);
            if (rc)
                return -1;
        }
        if (argot_buf_puts(b, "</ETag></Part>"))
            return -1;
    }
    return argot_buf_puts(b, "</CompleteMultipartUpload>");
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The ETag S3 gives a completed multipart object, "md5(md5(part1)..md5(partN))-N" (quoted),
 * computed from the part ETags when they are plain MD5s; 0 if they are not. */
static int multipart_etag(const s3_part *parts, size_t n, char out[S3R_ETAG_MAX + 1])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char d[EVP_MAX_MD_SIZE], md5[16];
    unsigned int dl = 0;
    int ok = ctx && EVP_DigestInit_ex(ctx, EVP_md5(), NULL) == 1;
    for (size_t i = 0; i < n && ok; i++) {
        const char *e = parts[i].etag;
        ok = strlen(e) == 34 && e[0] == '"' && e[33] == '"';
        for (int j = 0; j < 16 && ok; j++) {
            int hi = hexval(e[1 + 2 * j]), lo = hexval(e[2 + 2 * j]);
            ok = hi >= 0 && lo >= 0;
            md5[j] = (unsigned char)(hi * 16 + lo);
        }
        ok = ok && EVP_DigestUpdate(ctx, md5, sizeof md5) == 1;
    }
    ok = ok && EVP_DigestFinal_ex(ctx, d, &dl) == 1 && dl == 16;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return 0;
    out[0] = '"';
    for (int j = 0; j < 16; j++)
        snprintf(out + 1 + 2 * j, 3, "%02x", d[j]);
    snprintf(out + 33, S3R_ETAG_MAX + 1 - 33, "-%zu\"", n);
    return 1;
}

/* A Complete whose answer was lost completes the upload but a retry then finds no upload
 * (NoSuchUpload): the object is there if it has the ETag this upload would give it. */
static int completed_before(
    s3_client *c, const char *key, const s3_part *parts, size_t n, char etag[S3R_ETAG_MAX + 1])
{
    char want[S3R_ETAG_MAX + 1], have[S3R_ETAG_MAX + 1];
    s3_error e;
    s3_error_clear(&e);
    if (!multipart_etag(parts, n, want) || s3_head_object(c, key, NULL, have, &e) != S3_OK)
        return 0;
    if (strcmp(want, have) != 0)
        return 0;
    copy_etag(etag, have);
    return 1;
}

s3_status s3_mpu_complete(s3_client *c,
                          const char *key,
                          const char *upload_id,
                          const s3_part *parts,
                          size_t nparts,
                          char etag[S3R_ETAG_MAX + 1],
                          s3_error *err)
{
    argot_buf body = ARGOT_BUF_INIT((size_t)S3_MAX_PARTS * (S3R_ETAG_MAX * 6 + 64) + 64);
    s3_status rc = check_part("CompleteMultipartUpload", key, upload_id, 1, err);
    if (rc != S3_OK)
        return rc;
    if (nparts == 0 || nparts > S3_MAX_PARTS)
        return s3_error_set(err, S3_E_INVALID, 0, "CompleteMultipartUpload %s: %zu parts", key,
                            nparts);
    s3r *d = malloc(sizeof *d);
    if (!d || complete_body(&body, parts, nparts) != 0) {
        free(d);
        argot_buf_free(&body);
        return s3_error_set(err, S3_E_NOMEM, 0, "CompleteMultipartUpload: out of memory");
    }
    s3r_init(d, S3R_COMPLETE, NULL, NULL);
    s3_req r = {.op = "CompleteMultipartUpload",
                .method = "POST",
                .key = key,
                .resp = d,
                .body = body.ptr,
                .body_len = body.len};
    r.query[r.nquery++] = (s3_kv){"uploadId", upload_id};
    s3_error e;
    s3_error_clear(&e);
    if ((rc = s3_perform(c, &r, &e)) == S3_OK)
        copy_etag(etag, d->etag);
    else if (rc == S3_E_NOTFOUND && strcmp(e.s3_code, "NoSuchUpload") == 0 &&
             completed_before(c, key, parts, nparts, etag))
        rc = S3_OK;
    if (rc != S3_OK && err && err->code == S3_OK)
        *err = e;
    free(d);
    argot_buf_free(&body);
    return rc;
}

s3_status s3_mpu_abort(s3_client *c, const char *key, const char *upload_id, s3_error *err)
{
    s3_status rc = check_part("AbortMultipartUpload", key, upload_id, 1, err);
    if (rc != S3_OK)
        return rc;
    s3_req r = {.op = "AbortMultipartUpload", .method = "DELETE", .key = key, .ok_404 = 1};
    r.query[r.nquery++] = (s3_kv){"uploadId", upload_id};
    return s3_perform(c, &r, err);
}
