/*
 * `argotd migrate`: copies a store from one backend pair to another, through the ops tables
 * only (meta.h, blob.h), so any pair works: SQLite + disk into PostgreSQL + S3, or back.
 *
 *   argotd migrate [--data DIR] [--from-meta URL] [--from-blob URL] --to-meta URL --to-blob URL
 *
 * The source defaults to the data dir's own store (sqlite:DATA/argot.db, file:DATA), whose LOCK
 * is taken: its server must be stopped. Neither side may have a live instance (an owner whose
 * lease runs); the destination must be empty or hold only what this source holds (a previous
 * run of the same migration, complete or interrupted): anything else is refused.
 *
 * What is copied, with every id, time and name as it is: API keys (their hashes and revocation
 * times: every key still authenticates), files (purpose, filename, bytes, created_at, expires_at
 * and blob key; in creation order, so files of one second list in the same order), pending
 * Uploads with their parts (completed, cancelled and expired uploads, which only answer
 * "already completed" or the like for a while, are not). Each organization's usage comes out of
 * the copied rows as the server computes it. Not copied: upload intents (uploads a crash
 * interrupted: nothing a client was told about), cursor tombstones of deleted files, blob
 * tombstones.
 *
 * Each blob is streamed through a 1 MiB buffer, under an intent of the migration at the
 * destination, then committed like a server's upload, so an interrupted run leaves at most an
 * intent and an unfinished write, which the next run drops and starts over. A row already at
 * the destination is not copied again: running twice gives the same store. Every copied or
 * found row is then verified: the same row on both sides and the same SHA-256 of its bytes,
 * and at the end the counts, bytes and usage of every organization.
 */
#include "server/migrate.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/backends.h"
#include "server/migrate_copy.h"

static int usage(void)
{
    fprintf(stderr, "usage: argotd migrate [--data DIR] [--from-meta URL] [--from-blob URL]\n"
                    "                      --to-meta URL --to-blob URL [--s3-endpoint URL]\n");
    return 2;
}

typedef struct mig_args {
    const char *data, *from_meta, *from_blob, *to_meta, *to_blob, *s3_endpoint;
} mig_args;

static int parse(int argc, char **argv, mig_args *a)
{
    for (int i = 0; i < argc; i++) {
        const char **dst = !strcmp(argv[i], "--data")          ? &a->data
                           : !strcmp(argv[i], "--from-meta")   ? &a->from_meta
                           : !strcmp(argv[i], "--from-blob")   ? &a->from_blob
                           : !strcmp(argv[i], "--to-meta")     ? &a->to_meta
                           : !strcmp(argv[i], "--to-blob")     ? &a->to_blob
                           : !strcmp(argv[i], "--s3-endpoint") ? &a->s3_endpoint
                                                               : NULL;
        if (!dst || i + 1 >= argc)
            return -1;
        *dst = argv[++i];
    }
    if (!a->data)
        a->data = getenv("ARGOT_DATA") && *getenv("ARGOT_DATA") ? getenv("ARGOT_DATA") : "./data";
    return a->to_meta && a->to_blob ? 0 : -1;
}

/* The data dir's LOCK, when the source is the data dir's own store: its server is stopped. */
static int lock_source(const char *data)
{
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s/argot.db", data);
    if (stat(path, &st) != 0) {
        fprintf(stderr, "argotd migrate: no store in %s (no %s)\n", data, path);
        return -1;
    }
    snprintf(path, sizeof path, "%s/LOCK", data);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) != 0) {
        fprintf(stderr,
                "argotd migrate: data dir %s is in use by a running argotd; stop it first\n", data);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static int open_side(const char *what, const char *murl, const char *burl, mig_side *side)
{
    char shown[512];
    st_err e = ST_ERR_INIT;
    backend_redact(murl, shown, sizeof shown);
    if (backend_open_meta(&side->m, murl, &e) != ST_OK) {
        fprintf(stderr, "argotd migrate: cannot open the %s metadata store %s: %s\n", what, shown,
                e.msg);
        return -1;
    }
    if (backend_open_blob(&side->b, burl, &e) != ST_OK) {
        fprintf(stderr, "argotd migrate: cannot open the %s blob store %s: %s\n", what, burl,
                e.msg);
        return -1;
    }
    snprintf(side->name, sizeof side->name, "%s", shown);
    return 0;
}

int migrate_main(int argc, char **argv)
{
    mig_args a = {0};
    if (parse(argc, argv, &a))
        return usage();
    backend_set_s3(a.s3_endpoint, 0, 0); /* the S3 backend's defaults otherwise */
    char murl[4200], burl[4200];
    snprintf(murl, sizeof murl, "sqlite:%s/argot.db", a.data);
    snprintf(burl, sizeof burl, "file:%s", a.data);
    int lock = -1, status = 2;
    if (!a.from_meta && !a.from_blob && (lock = lock_source(a.data)) < 0)
        return 2;
    mig m;
    mig_init(&m);
    if (open_side("source", a.from_meta ? a.from_meta : murl, a.from_blob ? a.from_blob : burl,
                  &m.src) ||
        open_side("destination", a.to_meta, a.to_blob, &m.dst) || mig_refuse(&m))
        goto out;
    status = mig_run(&m);
out:
    mig_free(&m);
    if (lock >= 0)
        close(lock);
    return status;
}
