/*
 * The S3 blob backend (blob_s3.c): blob_ops over the S3 client of blob/s3/, selected with
 * --blob s3://BUCKET/PREFIX. Blobs are the objects PREFIX/KEY of the bucket; an unfinished
 * write is a multipart upload created when the writer opens (so the leader's reap_unfinished
 * finds a dead writer's: ListMultipartUploads, Abort of those initiated before the threshold).
 *
 * Endpoint: opts->endpoint, else ARGOT_S3_ENDPOINT, else AWS_ENDPOINT_URL, else AWS; path-style
 * addressing when an endpoint is given, virtual-hosted for AWS. Region AWS_REGION (default
 * us-east-1); credentials AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (never logged). The bucket
 * must exist: open fails (HeadBucket) with a message saying why.
 *
 * Writes are multipart uploads of part_size parts, buffered under one memory budget for every
 * writer of the store (s3_stream.h); compose copies with UploadPartCopy where the 5 MiB part
 * minimum allows and passes the bytes through the writer otherwise. No descriptors (no
 * BLOB_CAP_FD): downloads are ranged GETs streamed through a reader.
 */
#ifndef ARGOT_SERVER_BLOB_S3_H
#define ARGOT_SERVER_BLOB_S3_H

#include <stdint.h>

#include "server/blob/blob.h"

typedef struct blob_s3_opts {
    const char *endpoint;   /* NULL: ARGOT_S3_ENDPOINT, else AWS_ENDPOINT_URL, else AWS */
    uint64_t part_size;     /* 0: the client's default (16 MiB); 5 MiB..5 GiB */
    uint64_t memory_budget; /* 0: the client's default (256 MiB); at least one part */
    long budget_wait_ms;    /* 0: the client's default (10 s) */
} blob_s3_opts;

/* url_rest: "BUCKET" or "BUCKET/PREFIX" (what follows "s3://"). opts may be NULL. */
int blob_s3_open(blob_store **out, const char *url_rest, const blob_s3_opts *opts, st_err *e);

#endif
