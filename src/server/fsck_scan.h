/*
 * The check and the repair of `argotd fsck` (fsck.c), on the ops tables only: what the
 * metadata store names (files, parts, intents, organizations, owners) against what the blob
 * store holds. Thread: one.
 */
#ifndef ARGOT_SERVER_FSCK_SCAN_H
#define ARGOT_SERVER_FSCK_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "server/blob/blob.h"
#include "server/meta/meta.h"

typedef struct fsck_blob {
    char key[BLOB_KEY_LEN + 1];
    uint64_t size;
    int64_t mtime;
    int referenced;
} fsck_blob;

typedef struct fsck_sum { /* an organization's rows, summed */
    char org[META_ORG_MAX];
    int64_t used, reserved;
} fsck_sum;

typedef struct fsck_row { /* a file or part row whose blob is missing */
    char id[META_ID_MAX];
    char org[META_ORG_MAX];
    int part;
} fsck_row;

typedef struct fsck_scan {
    /* set by the caller */
    int alone;           /* no instance is alive (the data dir's LOCK, or no live lease) */
    int64_t now;         /* the store's clock: owners' leases are judged by it */
    const char *tmp_dir; /* a local blob directory (its tmp/ is read), or NULL */
    /* found */
    long problems;
    int live_owners;
    char live_example[META_OWNER_MAX];
    long orphans, temps, live_intents;
    uint64_t orphan_bytes;
    int oom;
    fsck_blob *blobs;
    size_t nblobs, capblobs;
    fsck_sum *sums; /* sorted by org */
    size_t nsums, capsums;
    fsck_row *missing;
    size_t nmissing, capmissing;
    char (*stale)[BLOB_KEY_LEN + 1];
    size_t nstale, capstale;
    char (*alive)[META_OWNER_MAX]; /* sorted */
    size_t nalive, capalive;
    int part; /* the walk in progress is of parts */
} fsck_scan;

void fsck_scan_init(fsck_scan *sc);
void fsck_scan_free(fsck_scan *sc);
/* The owners whose lease is alive at sc->now. 0 or -1 (reported on stderr). */
int fsck_scan_owners(fsck_scan *sc, meta_store *m);
/* The whole check; problems on stdout. 0 or -1 (the check could not run, reported). */
int fsck_scan_run(fsck_scan *sc, meta_store *m, blob_store *b);
/* The repair of what the scan found: full (nothing else runs) or only what is safe beside
 * live instances. 0 or -1 (reported). */
int fsck_repair(fsck_scan *sc, meta_store *m, blob_store *b, int full);
/* The summary line on stderr. */
void fsck_summary(const fsck_scan *sc, const char *where);

#endif
