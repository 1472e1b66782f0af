/*
 * The work of `argotd migrate` (migrate.c): the refusal checks, the copy of keys, files and
 * pending uploads with their parts, and the verification. Thread: one.
 */
#ifndef ARGOT_SERVER_MIGRATE_COPY_H
#define ARGOT_SERVER_MIGRATE_COPY_H

#include <stdint.h>

#include "server/blob/blob.h"
#include "server/meta/meta.h"

typedef struct mig_side {
    meta_store *m;
    blob_store *b;
    char name[512]; /* for messages, its password hidden */
} mig_side;

typedef struct mig_count {
    long copied, present;
    int64_t bytes;
} mig_count;

typedef struct mig {
    mig_side src, dst;
    char *buf; /* the copy buffer */
    mig_count keys, files, uploads, parts;
    long uploads_not_pending, intents_left, differences;
} mig;

void mig_init(mig *m);
void mig_free(mig *m);
/* 0, or -1 after saying why on stderr: a live instance on either side, or a destination that
 * holds something this source does not. */
int mig_refuse(mig *m);
/* Copies and verifies; prints the summary. The exit status: 0, or 1 (a copy failed or the
 * verification found a difference). */
int mig_run(mig *m);

#endif
