/* Server-side compose for the Uploads API completion: see s3_stream.h for the rule. */
#include <stdlib.h>
#include <string.h>

#include "server/blob/s3/s3_internal.h"
#include "server/blob/s3/s3_stream.h"
#include "server/log.h"

/* Copy parts one range needs: ranges over 5 GiB are split into equal parts. */
static uint64_t pieces(uint64_t len)
{
    return (len + S3_MAX_PART_SIZE - 1) / S3_MAX_PART_SIZE;
}

int s3_compose_can_copy(const s3_range *ranges, size_t n)
{
    uint64_t parts = 0;
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (ranges[i].len == 0)
            return 0; /* UploadPartCopy cannot copy nothing */
        if (i + 1 < n && ranges[i].len < S3_MIN_PART_SIZE)
            return 0;
        parts += pieces(ranges[i].len);
    }
    return parts <= S3_MAX_PARTS;
}

static s3_status copy_ranges(s3_client *c,
                             const char *dst,
                             const char *id,
                             const s3_range *ranges,
                             size_t n,
                             s3_part *parts,
                             size_t *nparts,
                             s3_error *err)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t k = pieces(ranges[i].len), step = (ranges[i].len + k - 1) / k;
        for (uint64_t off = 0; off < ranges[i].len; off += step) {
            uint64_t len = ranges[i].len - off < step ? ranges[i].len - off : step;
            uint64_t first = ranges[i].offset + off;
            s3_status rc = s3_mpu_upload_part_copy(c, dst, id, (int)*nparts + 1, ranges[i].key,
                                                   first, first + len - 1, &parts[*nparts], err);
            if (rc != S3_OK)
                return rc;
            (*nparts)++;
        }
    }
    return S3_OK;
}

static s3_status compose_copy(
    s3_client *c, const char *dst, const s3_range *ranges, size_t n, s3_error *err)
{
    char id[S3R_TOKEN_MAX + 1] = "";
    size_t total = 0, nparts = 0;
    for (size_t i = 0; i < n; i++)
        total += (size_t)pieces(ranges[i].len);
    s3_part *parts = calloc(total, sizeof *parts);
    if (!parts)
        return s3_error_set(err, S3_E_NOMEM, 0, "compose %s: out of memory", dst);
    s3_status rc = s3_mpu_create(c, dst, id, err);
    if (rc == S3_OK && (rc = copy_ranges(c, dst, id, ranges, n, parts, &nparts, err)) == S3_OK)
        rc = s3_mpu_complete(c, dst, id, parts, nparts, NULL, err);
    if (rc != S3_OK && id[0]) {
        s3_error e;
        s3_error_clear(&e);
        if (s3_mpu_abort(c, dst, id, &e) != S3_OK)
            LOG(LOG_WARN, "s3 compose key=%s: abort failed: %s", dst, e.message);
    }
    free(parts);
    return rc;
}

typedef struct merge_ctx {
    s3_writer *w;
    s3_error *err;
    s3_status rc;
} merge_ctx;

static int merge_cb(const char *data, size_t len, void *ud)
{
    merge_ctx *m = ud;
    m->rc = s3_writer_write(m->w, data, len, m->err);
    return m->rc != S3_OK;
}

static s3_status compose_merge(
    s3_client *c, const char *dst, const s3_range *ranges, size_t n, s3_error *err)
{
    uint64_t total = 0;
    s3_writer *w = NULL;
    for (size_t i = 0; i < n; i++)
        total += ranges[i].len;
    s3_status rc = s3_writer_open(&w, c, dst, total, err);
    merge_ctx m = {w, err, S3_OK};
    for (size_t i = 0; i < n && rc == S3_OK; i++) {
        rc = s3_get_object(c, ranges[i].key, ranges[i].offset, ranges[i].len, merge_cb, &m, err);
        if (m.rc != S3_OK)
            rc = m.rc; /* the writer's failure, not "aborted by the caller" */
    }
    if (rc != S3_OK) {
        s3_writer_abort(w);
        return rc;
    }
    return s3_writer_commit(w, NULL, err);
}

s3_status s3_compose(s3_client *c,
                     const char *dst_key,
                     const s3_range *ranges,
                     size_t n,
                     s3_compose_mode *mode,
                     s3_error *err)
{
    if (!dst_key || !dst_key[0] || (n > 0 && !ranges))
        return s3_error_set(err, S3_E_INVALID, 0, "compose: bad arguments");
    for (size_t i = 0; i < n; i++)
        if (!ranges[i].key || ranges[i].len > UINT64_MAX - ranges[i].offset)
            return s3_error_set(err, S3_E_INVALID, 0, "compose %s: bad range %zu", dst_key, i);
    int copy = s3_compose_can_copy(ranges, n);
    if (mode)
        *mode = copy ? S3_COMPOSE_COPY : S3_COMPOSE_MERGE;
    return copy ? compose_copy(c, dst_key, ranges, n, err)
                : compose_merge(c, dst_key, ranges, n, err);
}
