/*
 * Streaming objects over the S3 client with bounded memory: a writer (open, write, commit,
 * abort), a reader of a byte range (open, read into a buffer, close) and a server-side
 * compose. These are the shapes of issue 12's blob writer, reader and compose capability, so
 * the S3 blob backend is an adapter over them.
 *
 * Writer: bytes are buffered into parts of cfg.part_size bytes, and a writer holds at most
 * cfg.parts_in_flight part buffers: the one the caller fills and those uploading. A full part
 * is handed to the client's upload threads (s3_internal.h) and the caller goes on with the
 * next buffer, so write() blocks only while all of the writer's buffers are in flight. The
 * room for every buffer comes from the client's memory budget (s3_budget.h): the first at the
 * first write (size_hint bytes when the caller knows a smaller total, else a whole part; wait
 * up to budget_wait_ms, then S3_E_BUSY, retryable), the others only when free at once and
 * nobody waits for room (else the writer waits for its own parts to come back). An object of
 * at most one part is one PutObject at commit; a larger one is a multipart upload created at
 * the first full part. Any failure (of any part, even while others are in flight) stops the
 * other parts (queued ones are taken back, running ones cancelled), waits until none is left,
 * then aborts the multipart upload; the writer stays failed and a part's failure shows at the
 * next write or at commit. Commit returns S3_OK only when S3 acknowledged every part and the
 * whole object (the Complete body read and free of <Error>).
 *
 * Reader: one GET with Range, pulled through a paused libcurl transfer: read() moves what
 * arrived into the caller's buffer and lets curl receive more only when asked, so memory is
 * curl's 64 KiB buffer plus one chunk whatever the range. A transfer that breaks (retryable)
 * is resumed from where it stopped with If-Match on the first answer's ETag, so bytes of two
 * versions are never spliced.
 *
 * Compose (Uploads API completion): the target is built from ranges of existing objects with
 * UploadPartCopy when every range but the last is at least 5 MiB (S3's minimum part) and at
 * most 5 GiB (its maximum; longer ranges are split into equal parts); otherwise the ranges are
 * read and written through a writer (bounded memory, the bytes pass through this process).
 *
 * Thread: a reader or writer is used by one thread at a time; the client may be shared.
 */
#ifndef ARGOT_SERVER_S3_STREAM_H
#define ARGOT_SERVER_S3_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "server/blob/s3/s3_client.h"

typedef struct s3_writer s3_writer;

/* Starts a writer for key; no request yet. size_hint: the expected total (0: unknown). */
s3_status s3_writer_open(
    s3_writer **out, s3_client *c, const char *key, uint64_t size_hint, s3_error *err);
/* Appends len bytes. Blocks only while every part buffer of the writer is in flight (or, at
 * the first write, for budget). */
s3_status s3_writer_write(s3_writer *w, const void *data, size_t len, s3_error *err);
/* Sends the rest, waits for every part and completes; frees the writer whatever happens
 * (after a failure nothing is left on S3). etag may be NULL. */
s3_status s3_writer_commit(s3_writer *w, char etag[S3R_ETAG_MAX + 1], s3_error *err);
/* Discards everything (stops the parts in flight, aborts the multipart upload) and frees the
 * writer. Accepts NULL. */
void s3_writer_abort(s3_writer *w);
/* Creates the multipart upload now rather than at the first full part, so an unfinished
 * write is visible to ListMultipartUploads (the reaper) from the start. A begun writer
 * completes as a multipart upload whatever its size (an empty one: PutObject once the upload
 * is known to be still there, then Abort); a reaped one fails at commit. */
s3_status s3_writer_begin(s3_writer *w, s3_error *err);
/* Appends bytes [off, off + len) of the object src (S3 copies them: UploadPartCopy, split
 * into parts of at most 5 GiB) when the rule allows: len at least 5 MiB, and the bytes
 * written since the last part either none or at least 5 MiB (they are sent as a part first).
 * *copied is 1 then; 0 when the rule does not allow it (nothing happened: the caller passes
 * the bytes through s3_writer_write). A failure fails the writer as a write's does. The
 * caller checks src's length first (a short source is the server's InvalidRange). */
s3_status s3_writer_copy(
    s3_writer *w, const char *src, uint64_t off, uint64_t len, int *copied, s3_error *err);
/* Bytes written so far. */
uint64_t s3_writer_size(const s3_writer *w);

typedef struct s3_reader s3_reader;

/* Opens bytes [offset, offset + len) of key (len S3_TO_END: to the end). The request is sent
 * now, so a missing key (S3_E_NOTFOUND) or a bad range (S3_E_RANGE) shows here. *size (may be
 * NULL) receives the object's total size. */
s3_status s3_reader_open(s3_reader **out,
                         s3_client *c,
                         const char *key,
                         uint64_t offset,
                         uint64_t len,
                         uint64_t *size,
                         s3_error *err);
/* Reads up to cap bytes into buf: *got = 0 means the range is done. */
s3_status s3_reader_read(s3_reader *r, char *buf, size_t cap, size_t *got, s3_error *err);
void s3_reader_close(s3_reader *r);

typedef struct s3_range {
    const char *key;
    uint64_t offset;
    uint64_t len;
} s3_range;

/* How s3_compose() built its target. */
typedef enum { S3_COMPOSE_COPY = 1, S3_COMPOSE_MERGE = 2 } s3_compose_mode;

/* 1 when ranges can be joined with UploadPartCopy alone (the rule above). */
int s3_compose_can_copy(const s3_range *ranges, size_t n);
/* Writes the concatenation of the ranges to dst_key; *mode (may be NULL) tells how. */
s3_status s3_compose(s3_client *c,
                     const char *dst_key,
                     const s3_range *ranges,
                     size_t n,
                     s3_compose_mode *mode,
                     s3_error *err);

#endif
