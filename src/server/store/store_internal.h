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
    atomic_llong retries;       /* metadata calls tried again (retry.c) */
    atomic_llong resolved;      /* of those, changes found already made by a lost attempt */
    atomic_int remove_failures; /* blob removals that failed (their tombstones stay) */
};

/* ---- retries (retry.c) ----
 *
 *     st_try t;
 *     st_try_init(&t, s);
 *     do
 *         rc = s->m->ops->file_get(s->m, ..., &t.e);
 *     while (st_try_again(&t, rc));
 *     return st_try_end(&t, rc, e);
 *
 * t.unknown says an attempt lost its connection, so a change may have been made by it. */
typedef struct st_try {
    store *s;
    int attempt;
    int unknown;
    double t0; /* when the attempt started (monotonic ns) */
    st_err e;  /* the attempt's record */
} st_try;

void st_try_init(st_try *t, store *s);
/* After an attempt returning rc (its record in t->e): 1 (after a short jittered sleep, the
 * record cleared) if it failed retryably, quickly, and tries are left; else 0. */
int st_try_again(st_try *t, int rc);
/* rc, with t's record copied into e on failure (unless e holds one). */
int st_try_end(st_try *t, int rc, st_err *e);
/* A failure that the caller found to be a lost attempt's success: clears the record, counts,
 * returns ST_OK. */
int st_try_resolved(st_try *t, int rc);

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

/* The host's clock (lim.host_clock or time(2)), uncorrected. */
int64_t st_host_now(const store *s);
/* Reads the metadata backend's clock (META_CAP_CLOCK) into the skew (maintain.c). */
void st_clock_sync(store *s);

/* ---- the metadata calls, each with its retry rule (meta_calls.c) ---- */
int stm_owner_renew(store *s, int64_t now, st_err *e);
int stm_owner_forget(store *s, const char *owner, const char *self, st_err *e);
int stm_lease_take(store *s, const char *name, int64_t now, st_err *e);
int stm_key_lookup(store *s, const uint8_t hash[32], char org[META_ORG_MAX], st_err *e);
int stm_key_count(store *s, int64_t *out, st_err *e);
int stm_stats(store *s, meta_stats *out, st_err *e);
int stm_org_usage(store *s, const char *org, int64_t *used, int64_t *reserved, st_err *e);
int stm_org_file_count(store *s, const char *org, int64_t now, int64_t *out, st_err *e);
int stm_clock(store *s, int64_t *now, st_err *e);
int stm_intent_open(store *s, const char *org, const char *blob, int64_t now, st_err *e);
/* *unknown: it failed after a lost connection, so the reservation may have been made. */
int stm_intent_reserve(store *s, const char *blob, int64_t delta, int *unknown, st_err *e);
int stm_intent_drop(store *s, const char *blob, st_err *e);
int stm_intents_reap(store *s, int64_t now, meta_blob_cb cb, void *ud, st_err *e);
int stm_file_commit(store *s, const meta_file *f, st_err *e);
int stm_file_get(store *s, const char *org, const char *id, int64_t now, meta_file *out, st_err *e);
int stm_file_position(store *s, const char *org, const char *id, meta_pos *out, st_err *e);
int stm_file_list(
    store *s, const meta_list_req *req, meta_file_cb cb, void *ud, int *has_more, st_err *e);
/* On a delete found made by a lost attempt, out has only id and org (blob ""). */
int stm_file_delete(
    store *s, const char *org, const char *id, int64_t now, meta_file *out, st_err *e);
int stm_expired_take(store *s, int64_t now, int limit, meta_file_cb cb, void *ud, st_err *e);
int stm_blob_referenced(store *s, const char *blob, st_err *e);
int stm_cursor_tombs_purge(store *s, int64_t before, st_err *e);
int stm_blob_tombs_take(store *s, int64_t before, int limit, meta_blob_cb cb, void *ud, st_err *e);
int stm_blob_tomb_done(store *s, const char *blob, st_err *e);
int stm_upload_create(store *s, const meta_upload *u, st_err *e);
int stm_upload_get(store *s, const char *org, const char *id, meta_upload *out, st_err *e);
int stm_upload_cancel(store *s,
                      const char *org,
                      const char *id,
                      int64_t now,
                      meta_upload *out,
                      meta_blob_cb cb,
                      void *ud,
                      st_err *e);
int stm_part_commit(store *s, const meta_part *p, int64_t now, int64_t parts_max, st_err *e);
int stm_upload_parts(
    store *s, const char *org, const char *upload_id, meta_part_cb cb, void *ud, st_err *e);
int stm_upload_complete(store *s,
                        const char *upload_id,
                        const meta_file *f,
                        int64_t now,
                        meta_blob_cb cb,
                        void *ud,
                        st_err *e);
int stm_upload_take_expired(store *s, int64_t now, int limit, meta_blob_cb cb, void *ud, st_err *e);
int stm_uploads_purge(store *s, int64_t before, st_err *e);

/* 1 if s can be an id we or the real service issued ([A-Za-z0-9_-]{1,63}). */
int st_id_ok(const char *s);

#endif
