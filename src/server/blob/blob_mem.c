/*
 * In-memory blob backend: a table of committed blobs under one mutex. It exists so the generic
 * contract tests run on a second backend that shares nothing with the local disk (no
 * descriptors to hand out, no compose), which keeps those tests and the frontend's fallback
 * paths honest, as libgit2's odb_mempack does for its object database. Not for production: a
 * blob lives in memory until it is removed or the store is freed.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/blob/blob.h"

#define B "mem"

typedef struct mem_blob {
    char key[BLOB_KEY_LEN + 1];
    char *data;
    uint64_t size;
    int64_t mtime;
    unsigned refs; /* the table's own reference + one per open reader */
} mem_blob;

typedef struct mem_writer mem_writer;

typedef struct mem_store {
    blob_store base;
    pthread_mutex_t mu;
    mem_blob **v; /* sorted by key */
    size_t n, cap;
    mem_writer *writers; /* open writers (for key conflicts and reaping) */
} mem_store;

struct mem_writer {
    blob_writer base;
    mem_writer *next;
    char key[BLOB_KEY_LEN + 1];
    char *data;
    size_t len, cap;
    int64_t touched;
    int reaped; /* reap_unfinished took its bytes: commit fails */
};

typedef struct mem_reader {
    blob_reader base;
    mem_blob *b;
    uint64_t off, left;
} mem_reader;

static const blob_ops mem_ops;

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

static int nomem(st_err *e)
{
    return st_fail(e, ST_E_NOMEM, B, ENOMEM, "no memory");
}

/* Index of key in s->v, or where it would go (*found 0). Caller holds the mutex. */
static size_t find(const mem_store *s, const char *key, int *found)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = memcmp(s->v[mid]->key, key, BLOB_KEY_LEN);
        if (c == 0)
            return *found = 1, mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = 0;
    return lo;
}

static void blob_unref(mem_blob *b)
{
    if (b && --b->refs == 0) {
        free(b->data);
        free(b);
    }
}

/* ---- writers ---- */

static int mw_open(blob_store *bs, const char *key, blob_writer **out, st_err *e)
{
    mem_store *s = (mem_store *)bs;
    if (!out || !blob_key_valid(key))
        return st_fail(e, ST_E_INVALID, B, 0, "a malformed blob key");
    *out = NULL;
    mem_writer *w = calloc(1, sizeof *w);
    if (!w)
        return nomem(e);
    pthread_mutex_lock(&s->mu);
    for (mem_writer *o = s->writers; o; o = o->next)
        if (!memcmp(o->key, key, BLOB_KEY_LEN)) {
            pthread_mutex_unlock(&s->mu);
            free(w);
            return st_fail(e, ST_E_CONFLICT, B, 0, "a write of this blob is open");
        }
    w->base.store = bs;
    memcpy(w->key, key, sizeof w->key);
    w->touched = now_s();
    w->next = s->writers;
    s->writers = w;
    pthread_mutex_unlock(&s->mu);
    *out = &w->base;
    return ST_OK;
}

static int append(mem_writer *w, const void *data, size_t len, st_err *e)
{
    if (w->reaped)
        return st_fail(e, ST_E_IO, B, 0, "the write was reaped as unfinished");
    if (len > SIZE_MAX - w->len)
        return nomem(e);
    if (w->len + len > w->cap) {
        size_t cap = w->cap ? w->cap : 4096;
        while (cap < w->len + len)
            cap = cap > SIZE_MAX / 2 ? w->len + len : cap * 2;
        char *p = realloc(w->data, cap);
        if (!p)
            return nomem(e);
        w->data = p;
        w->cap = cap;
    }
    if (len)
        memcpy(w->data + w->len, data, len);
    w->len += len;
    return ST_OK;
}

static int mw_write(blob_writer *bw, const void *data, size_t len, st_err *e)
{
    mem_writer *w = (mem_writer *)bw;
    mem_store *s = (mem_store *)bw->store;
    if (!data && len)
        return st_fail(e, ST_E_INVALID, B, 0, "write of NULL");
    pthread_mutex_lock(&s->mu); /* reap_unfinished may look at this writer */
    int rc = append(w, data, len, e);
    w->touched = now_s();
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static void unlink_writer(mem_store *s, mem_writer *w)
{
    for (mem_writer **p = &s->writers; *p; p = &(*p)->next)
        if (*p == w) {
            *p = w->next;
            return;
        }
}

static int insert(mem_store *s, mem_blob *b, st_err *e)
{
    int found;
    size_t i = find(s, b->key, &found);
    if (found) { /* a key is written once; replacing keeps the contract of immutable blobs */
        blob_unref(s->v[i]);
        s->v[i] = b;
        return ST_OK;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        void *p = realloc(s->v, cap * sizeof *s->v);
        if (!p)
            return nomem(e);
        s->v = p;
        s->cap = cap;
    }
    memmove(s->v + i + 1, s->v + i, (s->n - i) * sizeof *s->v);
    s->v[i] = b;
    s->n++;
    return ST_OK;
}

static int mw_commit(blob_writer *bw, st_err *e)
{
    mem_writer *w = (mem_writer *)bw;
    mem_store *s = (mem_store *)bw->store;
    mem_blob *b = calloc(1, sizeof *b);
    pthread_mutex_lock(&s->mu);
    unlink_writer(s, w);
    int rc = !b          ? nomem(e)
             : w->reaped ? st_fail(e, ST_E_IO, B, 0, "the write was reaped as unfinished")
                         : ST_OK;
    if (rc == ST_OK) {
        memcpy(b->key, w->key, sizeof b->key);
        b->data = w->data;
        b->size = w->len;
        b->mtime = now_s();
        b->refs = 1;
        rc = insert(s, b, e);
        if (rc == ST_OK)
            w->data = NULL, b = NULL;
        else
            b->data = NULL;
    }
    pthread_mutex_unlock(&s->mu);
    free(b);
    free(w->data);
    free(w);
    return rc;
}

static void mw_abort(blob_writer *bw)
{
    mem_writer *w = (mem_writer *)bw;
    if (!w)
        return;
    mem_store *s = (mem_store *)bw->store;
    pthread_mutex_lock(&s->mu);
    unlink_writer(s, w);
    pthread_mutex_unlock(&s->mu);
    free(w->data);
    free(w);
}

/* ---- readers ---- */

static int mr_open(blob_store *bs,
                   const char *key,
                   uint64_t off,
                   uint64_t len,
                   blob_reader **out,
                   uint64_t *size,
                   st_err *e)
{
    mem_store *s = (mem_store *)bs;
    if (!out || !blob_key_valid(key))
        return st_fail(e, ST_E_INVALID, B, 0, "a malformed blob key");
    *out = NULL;
    mem_reader *r = calloc(1, sizeof *r);
    if (!r)
        return nomem(e);
    int found;
    pthread_mutex_lock(&s->mu);
    size_t i = find(s, key, &found);
    if (found) {
        r->b = s->v[i];
        r->b->refs++; /* a reader opened before a removal still reads the whole blob */
    }
    pthread_mutex_unlock(&s->mu);
    if (!found) {
        free(r);
        return st_fail(e, ST_E_NOTFOUND, B, 0, "no blob %.8s...", key);
    }
    uint64_t total = r->b->size;
    r->base.store = bs;
    r->off = off < total ? off : total;
    r->left = len > total - r->off ? total - r->off : len;
    if (size)
        *size = total;
    *out = &r->base;
    return ST_OK;
}

static ssize_t mr_read(blob_reader *br, void *buf, size_t cap, st_err *e)
{
    mem_reader *r = (mem_reader *)br;
    size_t n = r->left < cap ? (size_t)r->left : cap;
    if (n)
        memcpy(buf, r->b->data + r->off, n);
    r->off += n;
    r->left -= n;
    (void)e;
    return (ssize_t)n;
}

static void mr_close(blob_reader *br)
{
    mem_reader *r = (mem_reader *)br;
    if (!r)
        return;
    mem_store *s = (mem_store *)br->store;
    pthread_mutex_lock(&s->mu);
    blob_unref(r->b);
    pthread_mutex_unlock(&s->mu);
    free(r);
}

/* ---- management ---- */

static int ms_remove(blob_store *bs, const char *key, st_err *e)
{
    mem_store *s = (mem_store *)bs;
    if (!blob_key_valid(key))
        return st_fail(e, ST_E_INVALID, B, 0, "a malformed blob key");
    int found;
    pthread_mutex_lock(&s->mu);
    size_t i = find(s, key, &found);
    if (found) {
        blob_unref(s->v[i]);
        memmove(s->v + i, s->v + i + 1, (s->n - i - 1) * sizeof *s->v);
        s->n--;
    }
    for (mem_writer *w = s->writers; w; w = w->next)
        if (!memcmp(w->key, key, BLOB_KEY_LEN) && !w->reaped) { /* a dead writer's */
            w->reaped = 1;
            free(w->data);
            w->data = NULL;
            w->len = w->cap = 0;
        }
    pthread_mutex_unlock(&s->mu);
    return ST_OK;
}

typedef struct listed {
    char key[BLOB_KEY_LEN + 1];
    uint64_t size;
    int64_t mtime;
} listed;

static int ms_list(
    blob_store *bs, const char *after, int limit, blob_list_cb cb, void *ud, st_err *e)
{
    mem_store *s = (mem_store *)bs;
    if (!cb || limit <= 0 || (after && *after && !blob_key_valid(after)))
        return st_fail(e, ST_E_INVALID, B, 0, "list arguments");
    listed *page = calloc((size_t)limit, sizeof *page);
    if (!page)
        return nomem(e);
    int n = 0, found = 0;
    pthread_mutex_lock(&s->mu);
    size_t i = after && *after ? find(s, after, &found) : 0;
    for (i += (size_t)found; i < s->n && n < limit; i++, n++) { /* copied: cb runs unlocked */
        memcpy(page[n].key, s->v[i]->key, sizeof page[n].key);
        page[n].size = s->v[i]->size;
        page[n].mtime = s->v[i]->mtime;
    }
    pthread_mutex_unlock(&s->mu);
    int rc = 0;
    for (int k = 0; k < n && !rc; k++)
        rc = cb(page[k].key, page[k].size, page[k].mtime, ud);
    free(page);
    return rc ? rc : n;
}

static int ms_reap(blob_store *bs, int64_t older_than, st_err *e)
{
    mem_store *s = (mem_store *)bs;
    int n = 0;
    pthread_mutex_lock(&s->mu);
    for (mem_writer *w = s->writers; w; w = w->next)
        if (!w->reaped && w->touched < older_than) {
            w->reaped = 1;
            free(w->data);
            w->data = NULL;
            w->len = w->cap = 0;
            n++;
        }
    pthread_mutex_unlock(&s->mu);
    (void)e;
    return n;
}

static void ms_free(blob_store *bs)
{
    mem_store *s = (mem_store *)bs;
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        blob_unref(s->v[i]);
    free(s->v);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static const blob_ops mem_ops = {
    .version = BLOB_OPS_VERSION,
    .name = "mem",
    .caps = 0,
    .writer_open = mw_open,
    .write = mw_write,
    .commit = mw_commit,
    .abort = mw_abort,
    .reader_open = mr_open,
    .read = mr_read,
    .reader_close = mr_close,
    .remove = ms_remove,
    .list = ms_list,
    .reap_unfinished = ms_reap,
    .free = ms_free,
};

int blob_mem_open(blob_store **out, st_err *e)
{
    mem_store *s = calloc(1, sizeof *s);
    if (!s)
        return nomem(e);
    s->base.ops = &mem_ops;
    pthread_mutex_init(&s->mu, NULL);
    *out = &s->base;
    return ST_OK;
}
