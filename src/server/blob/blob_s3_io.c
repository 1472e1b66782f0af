/*
 * The S3 blob backend's writers, readers and compose: adapters over s3_stream.h. See
 * blob_s3.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/blob/blob_s3_internal.h"

struct bs3_writer {
    blob_writer base;
    s3_writer *w;
    char key[BLOB_KEY_LEN + 1];
    int failed; /* the S3 writer failed and is gone (it aborted its upload itself) */
    bs3_writer *next;
};

/* ---- the registry of open writers: one per key in this process ---- */

static int claim(bs3_store *s, bs3_writer *w)
{
    pthread_mutex_lock(&s->lock);
    for (bs3_writer *o = s->open; o; o = o->next) {
        if (!strcmp(o->key, w->key)) {
            pthread_mutex_unlock(&s->lock);
            return -1;
        }
    }
    w->next = s->open;
    s->open = w;
    pthread_mutex_unlock(&s->lock);
    return 0;
}

static void unclaim(bs3_store *s, bs3_writer *w)
{
    pthread_mutex_lock(&s->lock);
    for (bs3_writer **p = &s->open; *p; p = &(*p)->next) {
        if (*p == w) {
            *p = w->next;
            break;
        }
    }
    pthread_mutex_unlock(&s->lock);
}

static void writer_free(bs3_writer *w)
{
    unclaim((bs3_store *)w->base.store, w);
    free(w);
}

/* ---- writes ---- */

int bs3_writer_open(blob_store *b, const char *key, blob_writer **out, st_err *e)
{
    bs3_store *s = (bs3_store *)b;
    s3_error se;
    bs3_writer *w;
    *out = NULL;
    if (!blob_key_valid(key))
        return st_fail(e, ST_E_INVALID, BS3, 0, "writer: invalid blob key");
    if (!(w = calloc(1, sizeof *w)))
        return st_fail(e, ST_E_NOMEM, BS3, 0, "writer: out of memory");
    w->base.store = b;
    memcpy(w->key, key, sizeof w->key);
    if (claim(s, w) != 0) {
        free(w);
        return st_fail(e, ST_E_CONFLICT, BS3, 0, "a write of this blob is open");
    }
    s3_error_clear(&se);
    s3_status rc = s3_writer_open(&w->w, s->c, key, 0, &se);
    if (rc == S3_OK && (rc = s3_writer_begin(w->w, &se)) != S3_OK)
        s3_writer_abort(w->w); /* failed: nothing was created */
    if (rc != S3_OK) {
        writer_free(w);
        return bs3_fail(e, rc, &se, "writer open");
    }
    *out = &w->base;
    return ST_OK;
}

static int gone(bs3_writer *w, st_err *e)
{
    return st_fail(e, ST_E_IO, BS3, 0, "writer %s: failed earlier (its upload was aborted)",
                   w->key);
}

int bs3_write(blob_writer *bw, const void *data, size_t len, st_err *e)
{
    bs3_writer *w = (bs3_writer *)bw;
    s3_error se;
    if (w->failed)
        return gone(w, e);
    if (len == 0)
        return ST_OK;
    s3_error_clear(&se);
    s3_status rc = s3_writer_write(w->w, data, len, &se);
    if (rc == S3_OK)
        return ST_OK;
    w->failed = 1; /* the S3 writer stopped its parts and aborted the upload */
    return bs3_fail(e, rc, &se, "write");
}

int bs3_commit(blob_writer *bw, st_err *e)
{
    bs3_writer *w = (bs3_writer *)bw;
    s3_error se;
    int rc = ST_OK;
    s3_error_clear(&se);
    if (w->failed) {
        rc = gone(w, e);
        s3_writer_abort(w->w);
    } else {
        s3_status st = s3_writer_commit(w->w, NULL, &se); /* frees it, whatever happens */
        if (st != S3_OK)
            rc = bs3_fail(e, st == S3_E_NOTFOUND ? S3_E_STATE : st, &se, "commit");
    }
    writer_free(w);
    return rc;
}

void bs3_abort(blob_writer *bw)
{
    bs3_writer *w = (bs3_writer *)bw;
    if (!w)
        return;
    s3_writer_abort(w->w);
    writer_free(w);
}

/* ---- compose ---- */

#define MERGE_CHUNK (256u << 10)

/* The bytes of src pass through this process into the writer (bounded: one chunk). */
static int merge(bs3_writer *w, const char *src, uint64_t off, uint64_t len, st_err *e)
{
    bs3_store *s = (bs3_store *)w->base.store;
    s3_reader *r = NULL;
    s3_error se;
    uint64_t done = 0;
    char *buf = malloc(MERGE_CHUNK);
    if (!buf)
        return st_fail(e, ST_E_NOMEM, BS3, 0, "compose: out of memory");
    s3_error_clear(&se);
    s3_status rc = s3_reader_open(&r, s->c, src, off, len, NULL, &se);
    while (rc == S3_OK && done < len) {
        size_t got = 0;
        rc = s3_reader_read(r, buf, MERGE_CHUNK, &got, &se);
        if (rc == S3_OK && got == 0)
            rc = s3_error_set(&se, S3_E_PROTOCOL, 0, "compose %s: the source ended early", src);
        if (rc == S3_OK && (rc = s3_writer_write(w->w, buf, got, &se)) != S3_OK)
            w->failed = 1;
        done += got;
    }
    s3_reader_close(r);
    free(buf);
    if (rc == S3_OK)
        return ST_OK;
    if (!w->failed && done > 0) { /* some bytes went in: the blob cannot be right any more */
        s3_writer_abort(w->w);
        w->w = NULL;
        w->failed = 1;
    }
    return bs3_fail(e, rc, &se, "compose");
}

int bs3_compose(blob_writer *bw, const char *src, uint64_t off, uint64_t len, st_err *e)
{
    bs3_writer *w = (bs3_writer *)bw;
    bs3_store *s = (bs3_store *)w->base.store;
    s3_error se;
    uint64_t size = 0;
    int copied = 0;
    if (!blob_key_valid(src))
        return st_fail(e, ST_E_INVALID, BS3, 0, "compose: invalid source key");
    if (w->failed)
        return gone(w, e);
    s3_error_clear(&se);
    /* The source first, so a missing or short one fails the call but not the writer. */
    s3_status rc = s3_head_object(s->c, src, &size, NULL, &se);
    if (rc != S3_OK)
        return bs3_fail(e, rc, &se, "compose source");
    if (off > size || len > size - off)
        return st_fail(e, ST_E_IO, BS3, 0, "compose: source %s holds %llu bytes, not %llu", src,
                       (unsigned long long)size, (unsigned long long)(off + len));
    if (len == 0)
        return ST_OK;
    if ((rc = s3_writer_copy(w->w, src, off, len, &copied, &se)) != S3_OK) {
        w->failed = 1;
        return bs3_fail(e, rc, &se, "compose");
    }
    return copied ? ST_OK : merge(w, src, off, len, e);
}

/* ---- reads ---- */

typedef struct bs3_reader {
    blob_reader base;
    s3_reader *r; /* NULL: an empty range */
} bs3_reader;

/* An empty range, or one starting at or past the end: the size from HeadObject. */
static int empty_range(bs3_store *s, const char *key, uint64_t *size, st_err *e)
{
    s3_error se;
    uint64_t n = 0;
    s3_error_clear(&se);
    s3_status rc = s3_head_object(s->c, key, &n, NULL, &se);
    if (rc != S3_OK)
        return bs3_fail(e, rc, &se, "read");
    if (size)
        *size = n;
    return ST_OK;
}

int bs3_reader_open(blob_store *b,
                    const char *key,
                    uint64_t off,
                    uint64_t len,
                    blob_reader **out,
                    uint64_t *size,
                    st_err *e)
{
    bs3_store *s = (bs3_store *)b;
    bs3_reader *r;
    s3_error se;
    int rc = ST_OK;
    *out = NULL;
    if (!blob_key_valid(key))
        return st_fail(e, ST_E_INVALID, BS3, 0, "read: invalid blob key");
    if (!(r = calloc(1, sizeof *r)))
        return st_fail(e, ST_E_NOMEM, BS3, 0, "read: out of memory");
    r->base.store = b;
    s3_error_clear(&se);
    s3_status st = S3_E_RANGE;
    if (len > 0)
        st = s3_reader_open(&r->r, s->c, key, off, len == BLOB_TO_END ? S3_TO_END : len, size, &se);
    if (st == S3_E_RANGE) {
        r->r = NULL;
        rc = empty_range(s, key, size, e);
    } else if (st != S3_OK) {
        rc = bs3_fail(e, st, &se, "read");
    }
    if (rc != ST_OK) {
        free(r);
        return rc;
    }
    *out = &r->base;
    return ST_OK;
}

ssize_t bs3_read(blob_reader *br, void *buf, size_t cap, st_err *e)
{
    bs3_reader *r = (bs3_reader *)br;
    s3_error se;
    size_t got = 0;
    if (!r->r)
        return 0;
    s3_error_clear(&se);
    s3_status rc = s3_reader_read(r->r, buf, cap, &got, &se);
    if (rc != S3_OK)
        return bs3_fail(e, rc, &se, "read");
    return (ssize_t)got;
}

void bs3_reader_close(blob_reader *br)
{
    bs3_reader *r = (bs3_reader *)br;
    if (!r)
        return;
    s3_reader_close(r->r);
    free(r);
}
