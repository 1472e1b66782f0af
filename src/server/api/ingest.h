/*
 * Streaming a request body into a new blob, shared by POST /v1/files and
 * POST /v1/uploads/{id}/parts (see docs/architecture.md, "one upload"):
 *
 *   api_ingest_open      an intent row names a fresh blob key, then the writer opens
 *   api_ingest_write     quota is reserved against the intent ahead of the bytes, then written
 *   api_ingest_commit_blob  the blob is made durable (fsync, rename, fsync dir)
 *   ... the caller's one metadata transaction swaps the intent for its row, then sets
 *       g->committed ...
 *   api_ingest_cleanup   anything not committed is undone: writer aborted, blob removed,
 *                        intent dropped with its reservation.
 *
 * Every function that fails has already replied (413/400/507/5xx) and returns -1.
 */
#ifndef ARGOT_SERVER_API_INGEST_H
#define ARGOT_SERVER_API_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "server/app.h"
#include "server/http/http.h"

#define API_RESERVE_STEP (8 << 20) /* quota is reserved 8 MiB ahead of the bytes */

typedef struct api_ingest {
    blob_writer *w;
    char blob[BLOB_KEY_LEN + 1];
    int intent;         /* an intent row exists for blob */
    int blob_committed; /* the blob is durable under its key */
    int committed;      /* a row owns the blob now: nothing to undo */
    int64_t bytes;      /* written so far */
    int64_t reserved;   /* reserved against the intent */
} api_ingest;

/* 400 with the real service's storage quota message. */
int api_reply_quota(http_req *r);
/* 507 on a full disk, else 500 (logged). */
int api_reply_blob_error(http_req *r, int rc, const char *what);

/* Opens the intent (once). */
int api_ingest_intent(http_req *r, api_ingest *g);
/* With a declared Content-Length, reserves it before the body is read, so a full organization
 * is refused at once. max_nondata bounds the body's bytes that are not data (the caller
 * enforces it), so cl - max_nondata is a true lower bound of the data: if even that cannot
 * fit, refuse now; if only the rest does not fit, reserve it as bytes come. */
int api_ingest_reserve_declared(http_req *r, api_ingest *g, int64_t cl, int64_t max_nondata);
/* Intent (if not yet) and writer. */
int api_ingest_open(http_req *r, api_ingest *g);
/* Keeps the reservation at least need bytes (ahead by a step when the quota allows). */
int api_ingest_reserve(http_req *r, api_ingest *g, int64_t need);
/* Reserves, then appends len bytes. */
int api_ingest_write(http_req *r, api_ingest *g, const char *data, size_t len);
/* Makes the blob durable; the writer is gone afterwards, whatever happens. */
int api_ingest_commit_blob(http_req *r, api_ingest *g);
/* Undoes whatever was not committed. Idempotent. */
void api_ingest_cleanup(http_req *r, api_ingest *g);

#endif
