/*
 * `argotd fsck [--data DIR] [--meta URL] [--blob URL] [--repair [--force]]`: do the metadata
 * and the blob stores agree? Everything goes through the backends' ops tables (meta.h walks,
 * blob.h list/remove/reap_unfinished), so it works on every backend pair.
 *
 * Problems, one line each on stdout (key=value words, first word the kind):
 *   missing-blob   a file (or Upload part) row whose blob does not exist: its bytes are lost
 *   size-mismatch  a file (or part) row whose blob has another size than the row's bytes
 *   stale-intent   an upload intent of an owner that is gone (a crash)
 *   orphan-blob    a blob that no file row, intent or part names
 *   temp-file      a leftover writer temporary (local disk: DIR/tmp)
 *   usage-mismatch an org whose used_bytes is not the sum of its file and part rows
 *   reserved-mismatch an org whose reserved_bytes is not the sum of its reservations
 * A summary goes to stderr. Exit status: 0 clean, 1 problems (with --repair: found and
 * repaired), 2 usage, the check could not run, or a repair was refused.
 *
 * Alone or shared. With neither --meta nor --blob (nor ARGOT_META/ARGOT_BLOB) the store is the
 * data dir's, used by one argotd at a time: fsck takes its LOCK (refusing next to a running
 * server), and every intent and every temporary is a crash's. With backends given by URL it
 * takes the LOCK of a data dir given with --data too (that instance must be stopped), and
 * reads the owners: with none alive the store is as good as stopped and is checked the same
 * way; with instances alive, an intent is stale only if its owner's lease ran out (by the
 * database's clock where it has one), blobs and temporaries younger than the server's own
 * graces (60 s, an hour) are left out, and the sums may move while fsck reads them.
 *
 * --repair, in this order: stale intents dropped (their reservations released), file and part
 * rows whose blob is missing deleted (loudly, on stderr: that data is gone), every org's usage
 * recomputed from its rows, then orphan blobs (those of the dropped intents too) removed and
 * unfinished writes reaped. A size mismatch is reported, never "repaired": which side is right
 * cannot be known. On shared backends --repair is refused while any instance holds a live
 * lease, since recomputing usage beside commits in flight would be wrong; --force repairs
 * beside them only what the collector itself may do: intents of dead owners, file rows
 * without blob (deleted with their usage, in one transaction each), orphans past the grace,
 * stale temporaries; usage is not recomputed and part rows without blob are left.
 */
#include "server/fsck.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "server/backends.h"
#include "server/fsck_scan.h"

static int usage(void)
{
    fprintf(stderr,
            "usage: argotd fsck [--data DIR] [--meta URL] [--blob URL] [--s3-endpoint URL]\n"
            "                   [--repair [--force]]\n");
    return 2;
}

static int lock_dir(const char *data)
{
    char path[4096];
    struct stat st;
    if (stat(data, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "argotd fsck: %s is not a data dir\n", data);
        return -1;
    }
    snprintf(path, sizeof path, "%s/LOCK", data);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) != 0) {
        fprintf(stderr,
                "argotd fsck: data dir %s is in use by a running argotd (%s); stop it first\n",
                data, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

typedef struct fsck_args {
    const char *data, *meta, *blob, *s3_endpoint;
    int data_given, repair, force;
} fsck_args;

static int parse(int argc, char **argv, fsck_args *a)
{
    for (int i = 0; i < argc; i++) {
        const char **dst = !strcmp(argv[i], "--data")          ? &a->data
                           : !strcmp(argv[i], "--meta")        ? &a->meta
                           : !strcmp(argv[i], "--blob")        ? &a->blob
                           : !strcmp(argv[i], "--s3-endpoint") ? &a->s3_endpoint
                                                               : NULL;
        if (dst && i + 1 < argc)
            *dst = argv[++i];
        else if (!strcmp(argv[i], "--repair"))
            a->repair = 1;
        else if (!strcmp(argv[i], "--force"))
            a->force = 1;
        else
            return -1;
    }
    if (!a->meta && getenv("ARGOT_META") && *getenv("ARGOT_META"))
        a->meta = getenv("ARGOT_META");
    if (!a->blob && getenv("ARGOT_BLOB") && *getenv("ARGOT_BLOB"))
        a->blob = getenv("ARGOT_BLOB");
    a->data_given = a->data != NULL;
    if (!a->data)
        a->data = getenv("ARGOT_DATA") && *getenv("ARGOT_DATA") ? getenv("ARGOT_DATA") : "./data";
    return a->force && !a->repair ? -1 : 0;
}

/* The stores, opened the way the server opens them. */
static int open_stores(const fsck_args *a, meta_store **m, blob_store **b)
{
    char murl[4200], burl[4200], shown[512];
    st_err e = ST_ERR_INIT;
    struct stat st;
    snprintf(murl, sizeof murl, "sqlite:%s/argot.db", a->data);
    snprintf(burl, sizeof burl, "file:%s", a->data);
    if (!a->meta && stat(murl + 7, &st) != 0) { /* never make a database to check it */
        fprintf(stderr, "argotd fsck: cannot open %s (no such file)\n", murl + 7);
        return -1;
    }
    const char *mu = a->meta ? a->meta : murl, *bu = a->blob ? a->blob : burl;
    if (backend_open_meta(m, mu, &e) != ST_OK) {
        backend_redact(mu, shown, sizeof shown);
        fprintf(stderr, "argotd fsck: cannot open the metadata store %s: %s\n", shown, e.msg);
        return -1;
    }
    if (backend_open_blob(b, bu, &e) != ST_OK) {
        fprintf(stderr, "argotd fsck: cannot open the blob store %s: %s\n", bu, e.msg);
        return -1;
    }
    return 0;
}

/* The directory of a file: blob URL (for its tmp/), or NULL. */
static const char *local_dir(const fsck_args *a)
{
    if (!a->blob)
        return a->data;
    return !strncmp(a->blob, "file:", 5) ? a->blob + 5 : NULL;
}

static int64_t store_clock(meta_store *m)
{
    int64_t now = 0;
    st_err e = ST_ERR_INIT;
    if ((m->ops->caps & META_CAP_CLOCK) && m->ops->clock(m, &now, &e) == ST_OK)
        return now;
    return (int64_t)time(NULL);
}

int fsck_main(int argc, char **argv)
{
    fsck_args a = {0};
    if (parse(argc, argv, &a))
        return usage();
    /* The data dir's own store, or a data dir named beside URLs: not next to its argotd. */
    int alone = !a.meta && !a.blob, lock = -1, status = 2;
    if ((alone || a.data_given) && (lock = lock_dir(a.data)) < 0)
        return 2;
    meta_store *m = NULL;
    blob_store *b = NULL;
    fsck_scan sc;
    fsck_scan_init(&sc);
    backend_set_s3(a.s3_endpoint, 0, 0); /* the S3 backend's defaults otherwise */
    if (open_stores(&a, &m, &b))
        goto out;
    sc.now = store_clock(m);
    sc.tmp_dir = local_dir(&a);
    if (!alone && fsck_scan_owners(&sc, m))
        goto out;
    sc.alone = alone || !sc.live_owners; /* no instance alive: as good as stopped */
    if (a.repair && !alone && sc.live_owners && !a.force) {
        fprintf(stderr,
                "argotd fsck: %d instance%s hold%s a live lease (%s%s): --repair would race "
                "them; stop them (or wait until their leases run out), or add --force to repair "
                "only what is safe beside them\n",
                sc.live_owners, sc.live_owners == 1 ? "" : "s", sc.live_owners == 1 ? "s" : "",
                sc.live_example, sc.live_owners > 1 ? ", ..." : "");
        goto out;
    }
    if (fsck_scan_run(&sc, m, b))
        goto out;
    fflush(stdout);
    if (a.repair && sc.problems && fsck_repair(&sc, m, b, sc.alone))
        goto out;
    char where[512];
    if (alone)
        snprintf(where, sizeof where, "%s", a.data);
    else
        backend_redact(a.meta ? a.meta : a.data, where, sizeof where);
    fsck_summary(&sc, where);
    status = sc.problems ? 1 : 0;
out:
    fsck_scan_free(&sc);
    blob_store_free(b);
    meta_store_free(m);
    if (lock >= 0)
        close(lock);
    return status;
}
