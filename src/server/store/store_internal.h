/* Internals shared by the files of store/; nothing outside store/ includes this. */
#ifndef ARGOT_SERVER_STORE_INTERNAL_H
#define ARGOT_SERVER_STORE_INTERNAL_H

#include <stdatomic.h>

#include "server/store/store.h"

#define STORE_OWNER_MAX 32

struct store {
    meta_store *m;
    blob_store *b;
    store_limits lim;
    int exclusive;
    char owner[STORE_OWNER_MAX];
    atomic_llong skew;          /* the metadata backend's clock minus ours (META_CAP_CLOCK) */
    atomic_llong last;          /* the latest time store_now returned: it never goes back */
    atomic_int remove_failures; /* blob removals that failed (their tombstones stay) */
};

/* The batch rule: a file of purpose batch holds at most batch_max bytes (LIMIT, with the real
 * service's "File is too large.", if bytes is over it). */
int st_batch_check(const store *s, const char *purpose, int64_t bytes, st_err *e);

/* QUOTA with the real service's message. */
int st_quota(store *s, st_err *e);
void store_format_limit(int64_t bytes, char *out, size_t cap);

enum { ST_ID_FILE, ST_ID_UPLOAD, ST_ID_PART };
/* The new-id loop: fills id (cap bytes) with a fresh id of kind and runs commit(ctx) until it
 * is not CONFLICT (a few tries). */
int st_new_ids(store *s,
               char *id,
               size_t cap,
               int kind,
               int (*commit)(void *ctx, st_err *e),
               void *ctx,
               st_err *e);
/* meta_blob_cb: removes a blob whose row is gone, then clears its blob tombstone. */
int st_remove_blob_cb(const char *blob, void *store);
/* The Uploads API's assembly on an ingest (uploads.c): no quota checks as bytes arrive (the
 * parts are counted already; the commit decides), server-side compose of a committed blob,
 * the blob made durable without a commit (f->blob and f->bytes filled), and the commit done by
 * the caller's transaction. */
void st_ingest_no_quota(store_ingest *g);
int st_ingest_compose(store_ingest *g, const char *src, uint64_t len, st_err *e);
int st_ingest_durable(store_ingest *g, meta_file *f, st_err *e);
void st_ingest_committed(store_ingest *g);

/* 1 if s can be an id we or the real service issued ([A-Za-z0-9_-]{1,63}). */
int st_id_ok(const char *s);

#endif
