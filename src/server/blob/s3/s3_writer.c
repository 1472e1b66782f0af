/* The streaming writer with bounded memory: see s3_stream.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/blob/s3/s3_internal.h"
#include "server/blob/s3/s3_stream.h"
#include "server/log.h"

struct s3_writer {
    s3_client *c;
    char key[S3R_KEY_MAX + 1];
    char upload_id[S3R_TOKEN_MAX + 1];
    char *buf;
    size_t len;     /* bytes in buf */
    size_t cap;     /* bytes allocated = bytes granted by the budget */
    uint64_t hint;  /* expected total, 0: unknown */
    uint64_t total; /* bytes written */
    s3_part *parts; /* parts sent */
    size_t nparts, parts_cap;
    s3_status failed; /* sticky */
    s3_error first;
};

s3_status s3_writer_open(
    s3_writer **out, s3_client *c, const char *key, uint64_t size_hint, s3_error *err)
{
    s3_writer *w;
    *out = NULL;
    if (!key || !key[0] || strlen(key) > S3R_KEY_MAX)
        return s3_error_set(err, S3_E_INVALID, 0, "writer: missing or too long key");
    if (!(w = calloc(1, sizeof *w)))
        return s3_error_set(err, S3_E_NOMEM, 0, "writer: out of memory");
    w->c = c;
    w->hint = size_hint;
    snprintf(w->key, sizeof w->key, "%s", key);
    *out = w;
    return S3_OK;
}

uint64_t s3_writer_size(const s3_writer *w)
{
    return w->total;
}

static void release_buffer(s3_writer *w)
{
    free(w->buf);
    w->buf = NULL;
    s3_budget_release(&w->c->budget, w->cap);
    w->cap = w->len = 0;
}

static void abort_upload(s3_writer *w)
{
    s3_error e;
    if (!w->upload_id[0])
        return;
    s3_error_clear(&e);
    if (s3_mpu_abort(w->c, w->key, w->upload_id, &e) != S3_OK)
        LOG(LOG_WARN, "s3 writer key=%s: abort failed (the reaper will retry): %s", w->key,
            e.message);
    w->upload_id[0] = '\0';
}

/* Records the first failure, aborts the multipart upload and frees the part buffer. */
static s3_status fail(s3_writer *w, s3_status rc, const s3_error *e, s3_error *err)
{
    if (!w->failed) {
        w->failed = rc;
        w->first = *e;
        abort_upload(w);
        release_buffer(w);
    }
    if (err && err->code == S3_OK)
        *err = w->first;
    return w->failed;
}

/* Makes room for at least one more byte: the first grant, or growth to a whole part. */
static s3_status ensure_room(s3_writer *w, s3_error *e)
{
    uint64_t part = w->c->cfg.part_size;
    uint64_t want = w->cap ? part : (w->hint && w->hint < part ? w->hint : part);
    if (w->len < w->cap)
        return S3_OK;
    if (s3_budget_acquire(&w->c->budget, want - w->cap, w->c->cfg.budget_wait_ms) != 0)
        return s3_error_set(e, S3_E_BUSY, 1,
                            "writer %s: the S3 memory budget (%llu bytes) stayed exhausted "
                            "for %ld ms",
                            w->key, (unsigned long long)w->c->cfg.memory_budget,
                            w->c->cfg.budget_wait_ms);
    char *nb = realloc(w->buf, (size_t)want);
    if (!nb) {
        s3_budget_release(&w->c->budget, want - w->cap);
        return s3_error_set(e, S3_E_NOMEM, 0, "writer %s: out of memory", w->key);
    }
    w->buf = nb;
    w->cap = (size_t)want;
    return S3_OK;
}

static s3_status add_part(s3_writer *w, s3_error *e)
{
    char hash[S3_SHA256_HEX_LEN + 1];
    s3_status rc;
    if (w->nparts == S3_MAX_PARTS)
        return s3_error_set(e, S3_E_INVALID, 0,
                            "writer %s: more than %d parts of %llu bytes (raise the part size)",
                            w->key, S3_MAX_PARTS, (unsigned long long)w->c->cfg.part_size);
    if (w->nparts == w->parts_cap) {
        size_t ncap = w->parts_cap ? w->parts_cap * 2 : 16;
        s3_part *np = realloc(w->parts, ncap * sizeof *np);
        if (!np)
            return s3_error_set(e, S3_E_NOMEM, 0, "writer %s: out of memory", w->key);
        w->parts = np;
        w->parts_cap = ncap;
    }
    if (!w->upload_id[0] && (rc = s3_mpu_create(w->c, w->key, w->upload_id, e)) != S3_OK)
        return rc;
    s3_sha256_hex(hash, w->buf, w->len);
    rc = s3_mpu_upload_part(w->c, w->key, w->upload_id, (int)w->nparts + 1, w->buf, w->len, hash,
                            &w->parts[w->nparts], e);
    if (rc != S3_OK)
        return rc;
    w->nparts++;
    w->len = 0;
    return S3_OK;
}

s3_status s3_writer_write(s3_writer *w, const void *data, size_t len, s3_error *err)
{
    const char *p = data;
    s3_error e;
    s3_status rc;
    if (w->failed)
        return fail(w, w->failed, &w->first, err);
    s3_error_clear(&e);
    while (len > 0) {
        /* A full part is sent only when more bytes come, so an object of exactly one part
         * is still a single PutObject at commit. */
        if (w->len == w->c->cfg.part_size && (rc = add_part(w, &e)) != S3_OK)
            return fail(w, rc, &e, err);
        if ((rc = ensure_room(w, &e)) != S3_OK)
            return fail(w, rc, &e, err);
        size_t n = w->cap - w->len < len ? w->cap - w->len : len;
        memcpy(w->buf + w->len, p, n);
        w->len += n;
        w->total += n;
        p += n;
        len -= n;
    }
    return S3_OK;
}

static void free_writer(s3_writer *w)
{
    release_buffer(w);
    free(w->parts);
    free(w);
}

s3_status s3_writer_commit(s3_writer *w, char etag[S3R_ETAG_MAX + 1], s3_error *err)
{
    s3_error e;
    s3_status rc = S3_OK;
    if (w->failed) {
        rc = fail(w, w->failed, &w->first, err);
        free_writer(w);
        return rc;
    }
    s3_error_clear(&e);
    if (w->nparts == 0) {
        rc = s3_put_object(w->c, w->key, w->buf ? w->buf : "", w->len, etag, &e);
    } else if ((rc = add_part(w, &e)) == S3_OK) {
        rc = s3_mpu_complete(w->c, w->key, w->upload_id, w->parts, w->nparts, etag, &e);
        if (rc == S3_OK)
            w->upload_id[0] = '\0'; /* done: nothing to abort */
    }
    if (rc != S3_OK)
        fail(w, rc, &e, err);
    free_writer(w);
    return rc;
}

void s3_writer_abort(s3_writer *w)
{
    if (!w)
        return;
    abort_upload(w);
    free_writer(w);
}
