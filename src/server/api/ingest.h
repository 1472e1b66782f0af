/*
 * Streaming a request body into a new blob, shared by POST /v1/files and
 * POST /v1/uploads/{id}/parts (see docs/architecture.md, "one upload"):
 *
 *   api_ingest_reserve_declared  with a Content-Length, the whole declared body is reserved
 *                        against an intent before the body is read, or nothing is
 *   api_ingest_open      an intent row names a fresh blob key, then the writer opens
 *   api_ingest_write     an upload holding no reservation is checked against the quota as
 *                        bytes arrive (refused early when it cannot fit now), then written
 *   api_ingest_quota     the same check at the end, before the blob is made durable
 *   api_ingest_commit_blob  the blob is made durable (fsync, rename, fsync dir)
 *   ... the caller's one metadata transaction swaps the intent for its row (checking the
 *       quota with the exact size, atomically), then sets g->committed ...
 *   api_ingest_cleanup   anything not committed is undone: writer aborted, blob removed,
 *                        intent dropped with its reservation.
 *
 * Quota rules (docs/compatibility.md, "Storage quota"): only an upload that the quota can no
 * longer refuse holds a reservation (its whole declared body: the file cannot be larger).
 * Any other upload holds nothing and is decided by its commit, so an upload that is refused
 * never made another one that fits fail: N concurrent uploads of S bytes into Q free bytes
 * admit floor(Q / S) of them, never more.
 *
 * Every function that fails has already replied (413/400/507/5xx) and returns -1.
 */
#ifndef ARGOT_SERVER_API_INGEST_H
#define ARGOT_SERVER_API_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "server/app.h"
#include "server/http/http.h"

/* An upload without a reservation is checked against the quota at its first bytes, then every
 * this many bytes (one read of the organization's usage each time). */
#define API_QUOTA_CHECK_STEP (8 << 20)

typedef struct api_ingest {
    blob_writer *w;
    char blob[BLOB_KEY_LEN + 1];
    int intent;         /* an intent row exists for blob */
    int blob_committed; /* the blob is durable under its key */
    int committed;      /* a row owns the blob now: nothing to undo */
    int64_t bytes;      /* written so far */
    int64_t reserved;   /* reserved against the intent: the declared body, or 0 */
    int64_t checked;    /* bytes at the last quota check (uploads without a reservation) */
} api_ingest;

/* 400 with the real service's storage quota message. */
int api_reply_quota(http_req *r);
/* 507 on a full disk, else 500 (logged). */
int api_reply_blob_error(http_req *r, int rc, const char *what);

/* Opens the intent (once). */
int api_ingest_intent(http_req *r, api_ingest *g);
/* With a declared Content-Length cl (> 0), reserves all of it, or nothing. Without the
 * reservation the upload is refused at once only if even cl - max_nondata bytes (a true lower
 * bound of the data: the caller caps the rest of the body at max_nondata) cannot fit now. */
int api_ingest_reserve_declared(http_req *r, api_ingest *g, int64_t cl, int64_t max_nondata);
/* Intent (if not yet) and writer. */
int api_ingest_open(http_req *r, api_ingest *g);
/* Whether need bytes can still fit: always for an upload holding its declared length, else
 * against used + reserved now (the commit decides; this only refuses early). */
int api_ingest_quota(http_req *r, api_ingest *g, int64_t need);
/* Checks the quota (see api_ingest_quota; not at every call), then appends len bytes. */
int api_ingest_write(http_req *r, api_ingest *g, const char *data, size_t len);
/* Makes the blob durable; the writer is gone afterwards, whatever happens. */
int api_ingest_commit_blob(http_req *r, api_ingest *g);
/* Undoes whatever was not committed. Idempotent. */
void api_ingest_cleanup(http_req *r, api_ingest *g);

#endif
