/*
 * `argotd fsck --data DIR [--repair]`: a consistency check of a stopped server's data dir.
 *
 * Problems, one line each on stdout (key=value words, first word the kind):
 *   missing-blob   a file (or Upload part) row whose blob does not exist: its bytes are lost
 *   size-mismatch  a file (or part) row whose blob has another size than the row's bytes
 *   stale-intent   an upload intent left by a crash (no server runs, so none is live)
 *   orphan-blob    a blob that no file row, intent or part names
 *   temp-file      a leftover writer temporary in tmp/
 *   usage-mismatch an org whose used_bytes is not the sum of its file and part rows
 *   reserved-mismatch an org whose reserved_bytes is not the sum of its reservations
 * A summary goes to stderr. With --repair, in this order: one transaction drops stale intents,
 * deletes file rows whose blob is missing (loudly, on stderr: that data is gone) and recomputes
 * every org's usage; then orphan blobs (including those of the dropped intents) and
 * temporaries are removed. A size mismatch is reported, never "repaired": which side is right
 * cannot be known.
 *
 * After a crash, stale intents, orphans, temporaries and reserved-mismatch are expected (the
 * server's startup sweep removes them); missing-blob, size-mismatch and usage-mismatch never
 * are.
 */
#include "server/fsck.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/blob/blob.h"
#include "server/meta/fsck_ops.h"

typedef struct blob_ent {
    char key[BLOB_KEY_LEN + 1];
    uint64_t size;
    int referenced;
} blob_ent;

typedef struct fsck_ctx {
    int repair;
    long problems;
    blob_ent *blobs;
    size_t nblobs, capblobs;

    char **missing_ids; /* rows whose blob is missing: files first, then parts */
    size_t nmissing;
    size_t nmissing_files;
    const char *kind; /* "file" or "part", for the walk in progress */
    int oom;
} fsck_ctx;

static int cmp_blob(const void *a, const void *b)
{
    return strcmp(((const blob_ent *)a)->key, ((const blob_ent *)b)->key);
}

static blob_ent *find_blob(fsck_ctx *c, const char *key)
{
    blob_ent probe;
    if (!blob_key_valid(key))
        return NULL;
    memcpy(probe.key, key, sizeof probe.key);
    return bsearch(&probe, c->blobs, c->nblobs, sizeof *c->blobs, cmp_blob);
}

static int on_blob(const char *key, uint64_t size, int64_t mtime, void *ud)
{
    fsck_ctx *c = ud;
    (void)mtime;
    if (c->nblobs == c->capblobs) {
        size_t ncap = c->capblobs ? c->capblobs * 2 : 256;
        blob_ent *nb = realloc(c->blobs, ncap * sizeof *nb);
        if (!nb)
            return c->oom = 1;
        c->blobs = nb;
        c->capblobs = ncap;
    }
    blob_ent *e = &c->blobs[c->nblobs++];
    memcpy(e->key, key, sizeof e->key);
    e->size = size;
    e->referenced = 0;
    return 0;
}

static void problem(fsck_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(fsck_ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    c->problems++;
}

static int on_file(const char *id, const char *org, const char *blob, int64_t bytes, void *ud)
{
    fsck_ctx *c = ud;
    blob_ent *e = find_blob(c, blob);
    if (!e) {
        problem(c, "missing-blob %s=%s org=%s blob=%s bytes=%" PRId64, c->kind, id, org, blob,
                bytes);
        char **nm = realloc(c->missing_ids, (c->nmissing + 1) * sizeof *nm);
        if (!nm || !(nm[c->nmissing] = strdup(id))) {
            if (nm)
                c->missing_ids = nm;
            return c->oom = 1;
        }
        c->missing_ids = nm;
        c->nmissing++;
        return 0;
    }
    e->referenced = 1;
    if ((int64_t)e->size != bytes)
        problem(c, "size-mismatch %s=%s org=%s blob=%s bytes=%" PRId64 " blob_bytes=%" PRIu64,
                c->kind, id, org, blob, bytes, e->size);
    return 0;
}

static int on_intent(const char *blob, const char *org, int64_t reserved, void *ud)
{
    fsck_ctx *c = ud;
    blob_ent *e = find_blob(c, blob);
    problem(c, "stale-intent blob=%s org=%s reserved=%" PRId64 " blob_exists=%d", blob, org,
            reserved, e != NULL);
    /* Its blob is not counted as referenced: repair drops the intent, then removes it. */
    return 0;
}

static int on_org(const char *org,
                  int64_t used,
                  int64_t reserved,
                  int64_t files_bytes,
                  int64_t intents_reserved,
                  void *ud)
{
    fsck_ctx *c = ud;
    if (used != files_bytes)
        problem(c, "usage-mismatch org=%s used_bytes=%" PRId64 " files_bytes=%" PRId64, org, used,
                files_bytes);
    if (reserved != intents_reserved)
        problem(c, "reserved-mismatch org=%s reserved_bytes=%" PRId64 " reservations=%" PRId64, org,
                reserved, intents_reserved);
    return 0;
}

static long check_temps(fsck_ctx *c, const char *data)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/tmp", data);
    DIR *d = opendir(path);
    long n = 0;
    if (!d)
        return errno == ENOENT ? 0 : -1;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        problem(c, "temp-file name=tmp/%s", de->d_name);
        n++;
    }
    closedir(d);
    return n;
}

static int usage(void)
{
    fprintf(stderr, "usage: argotd fsck --data DIR [--repair]\n");
    return 2;
}

static int lock_dir(const char *data)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/LOCK", data);
    struct stat st;
    if (stat(data, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "argotd fsck: %s is not a data dir\n", data);
        return -1;
    }
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

static int repair_db(fsck_ctx *c, fsck_db *db)
{
    int rc = fsck_db_begin(db);
    rc = rc ? rc : fsck_db_drop_intents(db);
    for (size_t i = 0; !rc && i < c->nmissing; i++) {
        fprintf(stderr,
                "argotd fsck: WARNING: deleting %s row %s: its blob is missing, its bytes are "
                "lost\n",
                i < c->nmissing_files ? "file" : "part", c->missing_ids[i]);
        rc = i < c->nmissing_files ? fsck_db_delete_file(db, c->missing_ids[i])
                                   : fsck_db_delete_part(db, c->missing_ids[i]);
    }
    rc = rc ? rc : fsck_db_recompute_usage(db);
    rc = rc ? rc : fsck_db_commit(db);
    if (rc)
        fsck_db_rollback(db);
    return rc;
}

int fsck_main(int argc, char **argv)
{
    const char *data = NULL;
    int repair = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--data") && i + 1 < argc)
            data = argv[++i];
        else if (!strcmp(argv[i], "--repair"))
            repair = 1;
        else
            return usage();
    }
    if (!data)
        return usage();
    char dbpath[4096];
    snprintf(dbpath, sizeof dbpath, "%s/argot.db", data);
    int lock = lock_dir(data);
    if (lock < 0)
        return 2;
    fsck_ctx c = {.repair = repair};
    fsck_db *db = NULL;
    blob_store *bs = NULL;
    int status = 2, rc;
    if ((rc = fsck_db_open(&db, dbpath)) != META_OK) {
        fprintf(stderr, "argotd fsck: cannot open %s (%s)\n", dbpath,
                rc == META_E_NOTFOUND ? "no such file" : "database error");
        goto out;
    }
    st_err e = ST_ERR_INIT;
    if (blob_local_open(&bs, data, &e) != ST_OK) {
        fprintf(stderr, "argotd fsck: cannot open the blob store in %s\n", data);
        goto out;
    }
    for (int got = 1000; got == 1000;) { /* page by page, in key order */
        const char *after = c.nblobs ? c.blobs[c.nblobs - 1].key : "";
        got = bs->ops->list(bs, after, 1000, on_blob, &c, &e);
        if (got < 0 || c.oom) {
            fprintf(stderr, "argotd fsck: cannot list blobs: %s\n", c.oom ? "no memory" : e.msg);
            goto out;
        }
    }
    if (c.nblobs)
        qsort(c.blobs, c.nblobs, sizeof *c.blobs, cmp_blob);
    c.kind = "file";
    rc = fsck_db_files(db, on_file, &c);
    c.nmissing_files = c.nmissing;
    c.kind = "part";
    rc = rc || c.oom ? -1 : fsck_db_parts(db, on_file, &c);
    if (rc || c.oom || fsck_db_intents(db, on_intent, &c) || fsck_db_orgs(db, on_org, &c)) {
        fprintf(stderr, "argotd fsck: cannot read the metadata store\n");
        goto out;
    }
    uint64_t orphan_bytes = 0;
    long orphans = 0;
    for (size_t i = 0; i < c.nblobs; i++) {
        if (c.blobs[i].referenced)
            continue;
        problem(&c, "orphan-blob blob=%s bytes=%" PRIu64, c.blobs[i].key, c.blobs[i].size);
        orphans++;
        orphan_bytes += c.blobs[i].size;
    }
    long temps = check_temps(&c, data);
    if (temps < 0) {
        fprintf(stderr, "argotd fsck: cannot read %s/tmp: %s\n", data, strerror(errno));
        goto out;
    }
    fflush(stdout);
    if (repair && c.problems) {
        if ((rc = repair_db(&c, db)) != META_OK) {
            fprintf(stderr, "argotd fsck: repair failed in the metadata store (error %d)\n", rc);
            goto out;
        }
        long removed = 0;
        for (size_t i = 0; i < c.nblobs; i++) {
            if (c.blobs[i].referenced)
                continue;
            st_err re = ST_ERR_INIT;
            if (bs->ops->remove(bs, c.blobs[i].key, &re))
                fprintf(stderr, "argotd fsck: cannot remove blob %s: %s\n", c.blobs[i].key, re.msg);
            else
                removed++;
        }
        st_err te = ST_ERR_INIT;
        int t = bs->ops->reap_unfinished(bs, INT64_MAX, &te); /* the server is stopped */
        fprintf(stderr,
                "argotd fsck: repaired: %zu rows without blob deleted, %ld blobs "
                "removed, %d temporaries removed, usage recomputed\n",
                c.nmissing, removed, t < 0 ? 0 : t);
    }
    fprintf(stderr,
            "argotd fsck: %s: %ld problem%s (%zu blobs, %ld orphan%s of %" PRIu64
            " bytes, %ld temporar%s)\n",
            data, c.problems, c.problems == 1 ? "" : "s", c.nblobs, orphans,
            orphans == 1 ? "" : "s", orphan_bytes, temps, temps == 1 ? "y" : "ies");
    status = c.problems ? 1 : 0;
out:
    for (size_t i = 0; i < c.nmissing; i++)
        free(c.missing_ids[i]);
    free(c.missing_ids);
    free(c.blobs);
    blob_store_free(bs);
    fsck_db_close(db);
    close(lock);
    return status;
}
