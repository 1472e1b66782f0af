/*
 * Decoders for the S3 response bodies the client reads, on the incremental XML reader
 * (s3_xml.h). Bytes are fed as they arrive; list entries are handed to a callback one by one,
 * so a page of 1000 keys is never held in memory. Every decoder also recognises an <Error>
 * document (root "Error": Code, Message), which is how S3 reports a failure even with HTTP 200
 * (CompleteMultipartUpload, UploadPartCopy).
 *
 * Thread: one decoder per thread; no global state.
 */
#ifndef ARGOT_SERVER_S3_RESP_H
#define ARGOT_SERVER_S3_RESP_H

#include <stddef.h>
#include <stdint.h>

#include "server/blob/s3/s3_xml.h"

#define S3R_KEY_MAX   1024 /* S3's own limit on key length (bytes) */
#define S3R_TOKEN_MAX 1024 /* upload ids, continuation tokens, markers */
#define S3R_ETAG_MAX  128
#define S3R_CODE_MAX  64
#define S3R_MSG_MAX   512

typedef enum {
    S3R_ERROR = 0,    /* only an <Error> is expected (any failed request) */
    S3R_INITIATE,     /* InitiateMultipartUploadResult: UploadId */
    S3R_COMPLETE,     /* CompleteMultipartUploadResult: ETag */
    S3R_COPY_PART,    /* CopyPartResult: ETag */
    S3R_LIST_OBJECTS, /* ListBucketResult (V2): Contents..., NextContinuationToken */
    S3R_LIST_UPLOADS, /* ListMultipartUploadsResult: Upload..., NextKeyMarker/UploadIdMarker */
    S3R_LIST_PARTS,   /* ListPartsResult: Part..., NextPartNumberMarker */
    S3R_KIND_COUNT
} s3r_kind;

enum {
    S3R_OK = 0,
    S3R_E_XML = -1,      /* not well-formed, or over the reader's limits */
    S3R_E_SHAPE = -2,    /* well-formed, but not the expected document (or a field missing) */
    S3R_E_TOOLONG = -3,  /* a key, token or ETag over its maximum */
    S3R_E_CALLBACK = -4, /* the entry callback returned non-zero */
};

/* One list entry; only the fields of its kind are set, borrowed for the callback. */
typedef struct s3r_entry {
    char key[S3R_KEY_MAX + 1];         /* objects, uploads */
    char upload_id[S3R_TOKEN_MAX + 1]; /* uploads */
    char etag[S3R_ETAG_MAX + 1];       /* objects, parts (as sent, quotes included) */
    uint64_t size;                     /* objects, parts */
    int64_t time;                      /* LastModified / Initiated, Unix seconds; -1 unknown */
    int part_number;                   /* parts */
} s3r_entry;

typedef int (*s3r_entry_cb)(const s3r_entry *e, void *userdata);

typedef struct s3r {
    s3r_kind kind;
    s3x_parser x;
    s3r_entry_cb cb;
    void *userdata;
    int status; /* S3R_* (sticky) */
    /* Results, valid after s3r_finish() returned S3R_OK: */
    int is_error; /* the document was an <Error> */
    char code[S3R_CODE_MAX + 1];
    char message[S3R_MSG_MAX + 1];
    char upload_id[S3R_TOKEN_MAX + 1];     /* INITIATE */
    char etag[S3R_ETAG_MAX + 1];           /* COMPLETE, COPY_PART */
    int truncated;                         /* lists: IsTruncated was true */
    char next_token[S3R_TOKEN_MAX + 1];    /* LIST_OBJECTS: NextContinuationToken */
    char next_key_marker[S3R_KEY_MAX + 1]; /* LIST_UPLOADS */
    char next_upload_id_marker[S3R_TOKEN_MAX + 1];
    int next_part_marker; /* LIST_PARTS: NextPartNumberMarker */
    size_t entries;       /* entries handed to the callback */
    s3r_entry cur;
    unsigned have; /* fields of cur seen, and of the document */
} s3r;

/* cb may be NULL for kinds without entries. s3r is large (about 12 KiB): allocate it. */
void s3r_init(s3r *r, s3r_kind kind, s3r_entry_cb cb, void *userdata);
int s3r_feed(s3r *r, const char *data, size_t len);
/* Ends the body; checks the document has the expected root and required fields. An <Error>
 * document is S3R_OK with is_error set (the caller decides what it means). */
int s3r_finish(s3r *r);
const char *s3r_strerror(int status);

/* "2026-12-01T21:08:47.000Z" (fraction and Z optional) -> Unix seconds, or -1. */
int64_t s3r_parse_time(const char *s);

#endif
