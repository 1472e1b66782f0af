/*
 * The storage frontend: everything argotd does with stored state, with no HTTP in it. It owns
 * the service's rules (the quota, size limits, the Uploads API's states and totals, how long
 * tombstones and finished uploads are kept, when an upload counts as expired), streaming a
 * body into a blob under an intent, the Uploads API's assembly, and garbage collection; it
 * calls the metadata backend (meta/meta.h) and the blob backend (blob/blob.h), checking their
 * versions and capabilities once, at open, and using fallbacks where a backend lacks an
 * optional capability. The HTTP handlers (api/) only translate requests to these calls and the
 * results (or the error record) back.
 *
 * Several instances: every store has an owner id, renewed as a lease in the metadata backend
 * (store_maintain). Recovery reaps only the intents of owners whose lease ran out, and garbage
 * collection (expiry, tombstones, stale writes, orphans) runs on the one instance holding the
 * "gc" lease, so instances sharing one metadata database and one blob store never drop each
 * other's uploads.
 *
 * Every function that can fail returns 0 or a negative st_code and fills e (the first failure
 * wins). For a rule the client broke, e->msg is meant for the client and e->param names the
 * request field (see store/err.h).
 *
 * Thread: a store may be used from any number of threads; an ingest by one at a time.
 */
#ifndef ARGOT_SERVER_STORE_H
#define ARGOT_SERVER_STORE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "server/blob/blob.h"
#include "server/meta/meta.h"
#include "server/store/err.h"

typedef struct store store;

typedef struct store_limits {
    int64_t org_max;      /* an organization's quota: used + reserved never exceed it */
    int64_t file_max;     /* a file of POST /v1/files */
    int64_t batch_max;    /* a file of purpose batch */
    int64_t upload_max;   /* a file assembled by the Uploads API */
    int64_t part_max;     /* one part */
    int64_t cursor_ttl;   /* seconds a deleted file's id stays a valid list cursor */
    int64_t upload_keep;  /* seconds a finished upload is kept after its expiry */
    int64_t lease_ttl;    /* seconds an owner's lease lasts without renewal */
    int64_t clock_offset; /* testing aid: seconds added to the clock */
    int64_t meta_retries; /* retryable metadata failures are tried again this many times */
    /* Testing seam: this host's clock, Unix seconds (NULL: time(2)). A host clock that is off
     * changes nothing where the metadata backend has a clock (META_CAP_CLOCK): store_now is
     * corrected by the difference measured against the database. */
    int64_t (*host_clock)(void);
} store_limits;

#define STORE_UPLOAD_TTL  3600    /* an Upload may be completed within this */
#define STORE_BATCH_TTL   2592000 /* batch files expire after 30 days unless told otherwise */
#define STORE_UPLOAD_KEEP 604800  /* finished uploads answer "already completed" for 7 days */
#define STORE_LEASE_TTL   30
#define STORE_LIST_MAX    10000

/* Opens the frontend over m and b (borrowed; they must outlive it). Refuses backends of
 * another interface version or lacking a required operation. exclusive says the caller knows
 * no other instance uses these backends (a single argotd holding its data dir's lock): then
 * every other owner is forgotten at once, so the next recovery reaps what a previous process
 * left. */
int store_open(
    store **out, meta_store *m, blob_store *b, const store_limits *lim, int exclusive, st_err *e);
/* Forgets this store's owner (a clean stop: its intents are gone) and frees it. */
void store_free(store *s);

/* This store's owner id ("own_" + 16 hex digits), new at every open. */
const char *store_owner(const store *s);
/* Forgets another owner that the caller knows is gone (the previous process on the same data
 * dir, whose lock the caller now holds): its intents are reapable at once, by store_recover,
 * instead of once its lease runs out. */
int store_forget_owner(store *s, const char *owner, st_err *e);

/* Unix seconds, the store's clock (the database's where it has one); never goes back. */
int64_t store_now(store *s);

/* ---- ingest: one blob streamed in under an intent ---- */

typedef struct store_ingest store_ingest;

enum { STORE_INGEST_FILE, STORE_INGEST_PART };

/* Starts an ingest for org. declared is the body's declared length (-1 unknown), overhead the
 * most the body may hold besides the data (framing), max the data's limit (TOO_LARGE past it,
 * at once if even declared - overhead is over it). A declared length is reserved against the
 * quota whole at once, or nothing is (holding part of it could make uploads that fit fail);
 * QUOTA at once if even declared - overhead cannot fit. kind: STORE_INGEST_FILE or _PART. */
int store_ingest_begin(store *s,
                       const char *org,
                       int64_t declared,
                       int64_t overhead,
                       int64_t max,
                       int kind,
                       store_ingest **out,
                       st_err *e);
/* The file's purpose, once known: a batch file has its own, smaller limit (LIMIT, "File is
 * too large.", past it). */
void store_ingest_purpose(store_ingest *g, const char *purpose);
/* Appends bytes (the intent and the writer are opened at the first byte; without a
 * reservation the quota is checked as bytes arrive). TOO_LARGE past max, QUOTA, NOSPC, ... */
int store_ingest_write(store_ingest *g, const void *data, size_t len, st_err *e);
int64_t store_ingest_bytes(const store_ingest *g);
/* Makes the blob durable and commits it as the file f (org, purpose, filename, created_at,
 * expires_at set by the caller; id, bytes and blob are filled here). The batch rule applies.
 * After success the ingest owns nothing. */
int store_ingest_file(store_ingest *g, meta_file *f, st_err *e);
/* The same as one part p of the upload u (id, bytes, blob filled here). */
int store_ingest_part(store_ingest *g, const meta_upload *u, meta_part *p, st_err *e);
/* Undoes whatever was not committed (writer, blob, intent) and frees. Accepts NULL. */
void store_ingest_free(store_ingest *g);

/* TOO_LARGE with the real front end's words: "<what> is too large. Maximum content size limit
 * (max) exceeded (got bytes read)" (what may be NULL: the words alone). */
int store_fail_too_large(st_err *e, const char *what, int64_t max, int64_t got);

/* ---- files ---- */

/* NOTFOUND for an id that cannot be one (no lookup) or that org has no visible file of. */
int store_file_get(store *s, const char *org, const char *id, meta_file *out, st_err *e);

typedef struct store_list_req {
    const char *org;
    const char *purpose; /* NULL: any */
    const char *after;   /* NULL: from the start; else a file id of the org (a deleted one too,
                          * while its cursor tombstone is kept): NOTFOUND if not */
    int desc;
    int limit; /* 1..STORE_LIST_MAX */
} store_list_req;

int store_file_list(
    store *s, const store_list_req *q, meta_file_cb cb, void *userdata, int *has_more, st_err *e);
/* Deletes the file (row first, then its blob; a blob the removal missed stays as a blob
 * tombstone for the garbage collector). Fills out. */
int store_file_delete(store *s, const char *org, const char *id, meta_file *out, st_err *e);
/* Opens [off, off + len) of f's content (len BLOB_TO_END: to the end). NOTFOUND if the file
 * was deleted meanwhile. */
int store_file_open(store *s,
                    const meta_file *f,
                    uint64_t off,
                    uint64_t len,
                    blob_reader **out,
                    uint64_t *size,
                    st_err *e);

/* Hands r's descriptor to the caller, with the range's offset and length in it, where the blob
 * backend has descriptors (BLOB_CAP_FD); -1 otherwise (read r instead). r must still be
 * closed. */
int store_reader_fd(store *s, blob_reader *r, int *fd, uint64_t *off, uint64_t *len);

/* ---- uploads ---- */

/* u: org, filename, purpose, bytes, mime_type, expires_after_seconds in; id, created_at,
 * expires_at, status out. TOO_LARGE if bytes is over upload_max. */
int store_upload_create(store *s, meta_upload *u, st_err *e);
/* The upload, its status as of now (a pending upload past its expiry is EXPIRED). */
int store_upload_get(store *s, const char *org, const char *id, meta_upload *out, st_err *e);
/* STATE (out filled) if it is not pending. */
int store_upload_cancel(store *s, const char *org, const char *id, meta_upload *out, st_err *e);
/* Checks the upload can take a part now (it is pending): NOTFOUND, STATE (out filled). */
int store_upload_accepts(store *s, const char *org, const char *id, meta_upload *out, st_err *e);
/* Completes the upload with the parts named in order (each once, each one of its parts, their
 * bytes totalling the declared bytes; md5, if not NULL, of the assembled bytes): the file is
 * assembled (server-side when the blob backend can compose, else by reading and writing),
 * made durable, and swapped for the parts in one transaction. u and f are filled on success;
 * u on STATE. */
int store_upload_complete(store *s,
                          const char *org,
                          const char *id,
                          const char *const *part_ids,
                          size_t n,
                          const char *md5,
                          meta_upload *u,
                          meta_file *f,
                          st_err *e);

/* ---- accounting and keys ---- */

/* files is -1 when the metadata backend cannot count. */
int store_org_usage(
    store *s, const char *org, int64_t *used, int64_t *reserved, int64_t *files, st_err *e);
int store_key_lookup(store *s, const uint8_t hash[32], char org[META_ORG_MAX], st_err *e);
/* 0 if the metadata store answers. */
int store_health(store *s, st_err *e);
/* The number of active API keys. */
int store_key_count(store *s, int64_t *out, st_err *e);
/* Files and bytes stored, every organization (-1 each on failure). */
int store_stats(store *s, int64_t *files, int64_t *bytes, st_err *e);

/* Metadata calls tried again since the store opened (retries), and of those, changes a lost
 * attempt was found to have made (resolved): see store/meta_calls.c. */
void store_retry_stats(store *s, int64_t *retries, int64_t *resolved);

/* ---- maintenance ---- */

typedef struct store_pass {
    int expired;    /* files deleted at their expiry */
    int uploads;    /* uploads expired */
    int reaped;     /* intents of dead owners reaped */
    int unfinished; /* stale unfinished writes removed */
    int tombs;      /* blob tombstones drained */
    int orphans;    /* unreferenced blobs removed */
    int gc;         /* this instance held the gc lease */
} store_pass;

/* Renews this instance's lease (every third of lease_ttl at least, whatever the collection's
 * interval). */
int store_renew(store *s, st_err *e);
/* At start, before serving: renews this owner and reaps what dead owners left (their
 * intents; with exclusive, every unfinished write at once). */
int store_recover(store *s, st_err *e);
/* One maintenance pass (the sweeper thread, every --sweep-interval): renews this owner's
 * lease, then, only on the instance holding the gc lease: files past their expiry, uploads
 * past theirs, cursor tombstones and finished uploads past their keep, intents of dead
 * owners, blob tombstones left by crashes, unfinished writes of dead writers, and (with
 * orphans) blobs nothing references that are older than a grace. stopping (may be NULL) cuts
 * long walks short. */
int store_maintain(store *s, int orphans, atomic_int *stopping, store_pass *out, st_err *e);

#endif
