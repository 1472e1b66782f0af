/* Shared by blob_s3.c (the store) and blob_s3_io.c (writers, readers, compose). */
#ifndef ARGOT_SERVER_BLOB_S3_INTERNAL_H
#define ARGOT_SERVER_BLOB_S3_INTERNAL_H

#include <pthread.h>
#include <sys/types.h>

#include "server/blob/blob_s3.h"
#include "server/blob/s3/s3_client.h"
#include "server/blob/s3/s3_stream.h"

#define BS3 "s3" /* st_err.backend */

typedef struct bs3_writer bs3_writer;

typedef struct bs3_store {
    blob_store base;
    s3_client *c;
    char bucket[64];
    char prefix[512]; /* "" or ending with '/' */
    pthread_mutex_t lock;
    bs3_writer *open; /* writers open in this process (one per key: CONFLICT otherwise) */
} bs3_store;

extern const blob_ops bs3_ops;

/* Records an S3 client failure in e with the matching code (retryable as the client said). */
int bs3_fail(st_err *e, s3_status rc, const s3_error *se, const char *what);

int bs3_writer_open(blob_store *b, const char *key, blob_writer **out, st_err *e);
int bs3_write(blob_writer *w, const void *data, size_t len, st_err *e);
int bs3_commit(blob_writer *w, st_err *e);
void bs3_abort(blob_writer *w);
int bs3_compose(blob_writer *w, const char *src, uint64_t off, uint64_t len, st_err *e);
int bs3_reader_open(blob_store *b,
                    const char *key,
                    uint64_t off,
                    uint64_t len,
                    blob_reader **out,
                    uint64_t *size,
                    st_err *e);
ssize_t bs3_read(blob_reader *r, void *buf, size_t cap, st_err *e);
void bs3_reader_close(blob_reader *r);

#endif
