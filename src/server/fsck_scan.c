/*
 * The check and the repair of `argotd fsck` (see fsck.c for the problems and the rules). The
 * walks run in the order that keeps a check beside live instances free of false orphans: blobs
 * first, then intents, then files and parts (a commit in between turns an intent into a row:
 * the blob is seen in one or the other), organizations last.
 */
#include "server/fsck_scan.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define PAGE          1000
#define ORPHAN_GRACE  60   /* as the server's collector: a younger blob may be a commit's */
#define STALE_WRITE_S 3600 /* as the server's collector: a live writer touches its write */

void fsck_scan_init(fsck_scan *sc)
{
    memset(sc, 0, sizeof *sc);
}

void fsck_scan_free(fsck_scan *sc)
{
    free(sc->blobs);
    free(sc->sums);
    free(sc->missing);
    free(sc->stale);
    free(sc->alive);
}

/* Room for one more element of size in *v (n used of *cap); 0 or -1 (sc->oom set). */
static int grow(fsck_scan *sc, void **v, size_t n, size_t *cap, size_t size)
{
    if (n < *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 64;
    void *p = realloc(*v, c * size);
    if (!p)
        return sc->oom = 1, -1;
    *v = p;
    *cap = c;
    return 0;
}

static void problem(fsck_scan *sc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(fsck_scan *sc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    sc->problems++;
}

/* ---- owners ---- */

static int on_owner(const char *owner, int64_t expires_at, void *ud)
{
    fsck_scan *sc = ud;
    if (expires_at <= sc->now)
        return 0;
    if (grow(sc, (void **)&sc->alive, sc->nalive, &sc->capalive, sizeof *sc->alive))
        return -1;
    snprintf(sc->alive[sc->nalive++], sizeof sc->alive[0], "%s", owner);
    if (!sc->live_owners++)
        snprintf(sc->live_example, sizeof sc->live_example, "%s", owner);
    return 0;
}

int fsck_scan_owners(fsck_scan *sc, meta_store *m)
{
    st_err e = ST_ERR_INIT;
    if (m->ops->owner_walk(m, on_owner, sc, &e) != ST_OK || sc->oom) {
        fprintf(stderr, "argotd fsck: cannot read the owners: %s\n", sc->oom ? "no memory" : e.msg);
        return -1;
    }
    return 0; /* owner_walk reports in id order: sc->alive is sorted */
}

static int cmp_owner(const void *a, const void *b)
{
    return strcmp(a, b);
}

static int owner_alive(const fsck_scan *sc, const char *owner)
{
    char probe[META_OWNER_MAX];
    snprintf(probe, sizeof probe, "%s", owner);
    return sc->nalive && bsearch(probe, sc->alive, sc->nalive, sizeof *sc->alive, cmp_owner);
}

/* ---- blobs ---- */

static int cmp_blob(const void *a, const void *b)
{
    return strcmp(((const fsck_blob *)a)->key, ((const fsck_blob *)b)->key);
}

static fsck_blob *find_blob(fsck_scan *sc, const char *key)
{
    fsck_blob probe;
    if (!blob_key_valid(key))
        return NULL;
    memcpy(probe.key, key, sizeof probe.key);
    return bsearch(&probe, sc->blobs, sc->nblobs, sizeof *sc->blobs, cmp_blob);
}

static int on_blob(const char *key, uint64_t size, int64_t mtime, void *ud)
{
    fsck_scan *sc = ud;
    if (grow(sc, (void **)&sc->blobs, sc->nblobs, &sc->capblobs, sizeof *sc->blobs))
        return -1;
    fsck_blob *bl = &sc->blobs[sc->nblobs++];
    memcpy(bl->key, key, sizeof bl->key);
    bl->size = size;
    bl->mtime = mtime;
    bl->referenced = 0;
    return 0;
}

static int list_blobs(fsck_scan *sc, blob_store *b)
{
    st_err e = ST_ERR_INIT;
    for (int got = PAGE; got == PAGE;) { /* page by page, in key order */
        const char *after = sc->nblobs ? sc->blobs[sc->nblobs - 1].key : "";
        got = b->ops->list(b, after, PAGE, on_blob, sc, &e);
        if (got < 0 || sc->oom) {
            fprintf(stderr, "argotd fsck: cannot list blobs: %s\n", sc->oom ? "no memory" : e.msg);
            return -1;
        }
    }
    return 0;
}

/* ---- sums per organization ---- */

static fsck_sum *sum_of(fsck_scan *sc, const char *org)
{
    size_t lo = 0, hi = sc->nsums;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(sc->sums[mid].org, org);
        if (c == 0)
            return &sc->sums[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (grow(sc, (void **)&sc->sums, sc->nsums, &sc->capsums, sizeof *sc->sums))
        return NULL;
    memmove(sc->sums + lo + 1, sc->sums + lo, (sc->nsums - lo) * sizeof *sc->sums);
    sc->nsums++;
    memset(&sc->sums[lo], 0, sizeof sc->sums[lo]);
    snprintf(sc->sums[lo].org, sizeof sc->sums[lo].org, "%s", org);
    return &sc->sums[lo];
}

/* ---- intents, files, parts ---- */

static int on_intent(const meta_intent *in, void *ud)
{
    fsck_scan *sc = ud;
    fsck_sum *sum = sum_of(sc, in->org);
    if (!sum)
        return -1;
    sum->reserved += in->reserved;
    fsck_blob *bl = find_blob(sc, in->blob);
    if (!sc->alone && owner_alive(sc, in->owner)) { /* an upload in flight */
        sc->live_intents++;
        if (bl)
            bl->referenced = 1;
        return 0;
    }
    problem(sc, "stale-intent blob=%s org=%s reserved=%" PRId64 " blob_exists=%d", in->blob,
            in->org, in->reserved, bl != NULL);
    /* Its blob is not counted as referenced: repair drops the intent, then removes it. */
    if (grow(sc, (void **)&sc->stale, sc->nstale, &sc->capstale, sizeof *sc->stale))
        return -1;
    memcpy(sc->stale[sc->nstale++], in->blob, sizeof sc->stale[0]);
    return 0;
}

static int on_row(fsck_scan *sc, const char *id, const char *org, const char *blob, int64_t bytes)
{
    const char *kind = sc->part ? "part" : "file";
    fsck_sum *sum = sum_of(sc, org);
    if (!sum)
        return -1;
    sum->used += bytes;
    fsck_blob *bl = find_blob(sc, blob);
    if (!bl) {
        problem(sc, "missing-blob %s=%s org=%s blob=%s bytes=%" PRId64, kind, id, org, blob, bytes);
        if (grow(sc, (void **)&sc->missing, sc->nmissing, &sc->capmissing, sizeof *sc->missing))
            return -1;
        fsck_row *r = &sc->missing[sc->nmissing++];
        snprintf(r->id, sizeof r->id, "%s", id);
        snprintf(r->org, sizeof r->org, "%s", org);
        r->part = sc->part;
        return 0;
    }
    bl->referenced = 1;
    if ((int64_t)bl->size != bytes)
        problem(sc, "size-mismatch %s=%s org=%s blob=%s bytes=%" PRId64 " blob_bytes=%" PRIu64,
                kind, id, org, blob, bytes, bl->size);
    return 0;
}

typedef struct file_page {
    fsck_scan *sc;
    int64_t last_seq;
} file_page;

static int on_file(const meta_file *f, void *ud)
{
    file_page *fp = ud;
    fp->last_seq = f->seq;
    return on_row(fp->sc, f->id, f->org, f->blob, f->bytes);
}

static int on_part(const meta_part *p, void *ud)
{
    return on_row(ud, p->id, p->org, p->blob, p->bytes);
}

/* A page of uploads, collected first: their parts are read after the walk (a callback must not
 * call back into the store). */
typedef struct upload_page {
    fsck_scan *sc;
    meta_upload v[PAGE];
    int n;
} upload_page;

static int on_upload(const meta_upload *u, void *ud)
{
    upload_page *up = ud;
    up->v[up->n++] = *u;
    return 0;
}

static int walk_parts(fsck_scan *sc, meta_store *m, st_err *e)
{
    upload_page *up = calloc(1, sizeof *up);
    char last[META_ID_MAX] = "";
    int got = PAGE;
    if (!up)
        return sc->oom = 1, -1;
    sc->part = 1;
    while (got == PAGE) {
        up->n = 0;
        got = m->ops->upload_walk(m, last, PAGE, on_upload, up, e);
        for (int i = 0; got >= 0 && i < up->n; i++)
            if (m->ops->upload_parts(m, up->v[i].org, up->v[i].id, on_part, sc, e) != ST_OK)
                got = -1;
        if (up->n)
            snprintf(last, sizeof last, "%s", up->v[up->n - 1].id);
    }
    free(up);
    return got < 0 ? -1 : 0;
}

static int walk_rows(fsck_scan *sc, meta_store *m, st_err *e)
{
    int got = 0;
    if (m->ops->intent_walk(m, on_intent, sc, e) != ST_OK)
        return -1;
    file_page fp = {sc, 0};
    do
        got = m->ops->file_walk(m, fp.last_seq, PAGE, on_file, &fp, e);
    while (got == PAGE);
    return got < 0 ? -1 : walk_parts(sc, m, e);
}

/* ---- organizations, orphans, temporaries ---- */

static int on_org(const meta_org *o, void *ud)
{
    fsck_scan *sc = ud;
    fsck_sum *sum = sum_of(sc, o->id);
    if (!sum)
        return -1;
    if (o->used != sum->used)
        problem(sc, "usage-mismatch org=%s used_bytes=%" PRId64 " files_bytes=%" PRId64, o->id,
                o->used, sum->used);
    if (o->reserved != sum->reserved)
        problem(sc, "reserved-mismatch org=%s reserved_bytes=%" PRId64 " reservations=%" PRId64,
                o->id, o->reserved, sum->reserved);
    return 0;
}

/* Unreferenced, and (beside live instances) older than the collector's grace. */
static int is_orphan(const fsck_scan *sc, const fsck_blob *bl)
{
    return !bl->referenced && (sc->alone || bl->mtime < (int64_t)time(NULL) - ORPHAN_GRACE);
}

static void report_orphans(fsck_scan *sc)
{
    for (size_t i = 0; i < sc->nblobs; i++) {
        if (!is_orphan(sc, &sc->blobs[i]))
            continue;
        problem(sc, "orphan-blob blob=%s bytes=%" PRIu64, sc->blobs[i].key, sc->blobs[i].size);
        sc->orphans++;
        sc->orphan_bytes += sc->blobs[i].size;
    }
}

static int check_temps(fsck_scan *sc)
{
    char path[4096];
    if (!sc->tmp_dir)
        return 0; /* other backends: reap_unfinished alone knows their unfinished writes */
    snprintf(path, sizeof path, "%s/tmp", sc->tmp_dir);
    DIR *d = opendir(path);
    if (!d)
        return errno == ENOENT ? 0 : -1;
    int64_t stale = (int64_t)time(NULL) - STALE_WRITE_S;
    struct dirent *de;
    while ((de = readdir(d))) {
        struct stat st;
        char p[4400];
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        snprintf(p, sizeof p, "%s/%s", path, de->d_name);
        if (!sc->alone && (stat(p, &st) != 0 || (int64_t)st.st_mtime >= stale))
            continue; /* a live writer's, perhaps */
        problem(sc, "temp-file name=tmp/%s", de->d_name);
        sc->temps++;
    }
    closedir(d);
    return 0;
}

int fsck_scan_run(fsck_scan *sc, meta_store *m, blob_store *b)
{
    st_err e = ST_ERR_INIT;
    if (list_blobs(sc, b))
        return -1;
    if (sc->nblobs)
        qsort(sc->blobs, sc->nblobs, sizeof *sc->blobs, cmp_blob);
    if (walk_rows(sc, m, &e) || sc->oom || m->ops->org_walk(m, on_org, sc, &e) != ST_OK ||
        sc->oom) {
        fprintf(stderr, "argotd fsck: cannot read the metadata store%s%s\n", e.msg[0] ? ": " : "",
                sc->oom ? "no memory" : e.msg);
        return -1;
    }
    report_orphans(sc);
    if (check_temps(sc)) {
        fprintf(stderr, "argotd fsck: cannot read %s/tmp: %s\n", sc->tmp_dir, strerror(errno));
        return -1;
    }
    return 0;
}

/* ---- repair ---- */

/* Rows whose bytes are lost. Beside live instances only file rows go, each with its usage in
 * one transaction (file_delete); alone, rows go bare and usage is recomputed after. */
static int drop_missing(fsck_scan *sc, meta_store *m, int full, size_t *dropped)
{
    for (size_t i = 0; i < sc->nmissing; i++) {
        const fsck_row *r = &sc->missing[i];
        st_err e = ST_ERR_INIT;
        meta_file out;
        int rc;
        if (!full && r->part) {
            fprintf(stderr,
                    "argotd fsck: left part row %s (its blob is missing): repair it with no "
                    "instance running\n",
                    r->id);
            continue;
        }
        fprintf(stderr,
                "argotd fsck: WARNING: deleting %s row %s: its blob is missing, its bytes are "
                "lost\n",
                r->part ? "part" : "file", r->id);
        rc = full ? (r->part ? m->ops->part_drop(m, r->id, &e) : m->ops->file_drop(m, r->id, &e))
                  : m->ops->file_delete(m, r->org, r->id, 0, &out, &e);
        if (rc != ST_OK && rc != ST_E_NOTFOUND) {
            fprintf(stderr, "argotd fsck: repair failed in the metadata store: %s\n", e.msg);
            return -1;
        }
        *dropped += rc == ST_OK;
    }
    return 0;
}

int fsck_repair(fsck_scan *sc, meta_store *m, blob_store *b, int full)
{
    st_err e = ST_ERR_INIT;
    size_t dropped = 0;
    for (size_t i = 0; i < sc->nstale; i++) { /* intents of owners that are gone */
        int rc = m->ops->intent_drop(m, sc->stale[i], &e);
        if (rc != ST_OK && rc != ST_E_NOTFOUND) {
            fprintf(stderr, "argotd fsck: repair failed in the metadata store: %s\n", e.msg);
            return -1;
        }
        st_err_clear(&e);
    }
    if (drop_missing(sc, m, full, &dropped))
        return -1;
    if (full && m->ops->usage_recompute(m, &e) != ST_OK) {
        fprintf(stderr, "argotd fsck: repair failed in the metadata store: %s\n", e.msg);
        return -1;
    }
    long removed = 0;
    for (size_t i = 0; i < sc->nblobs; i++) {
        st_err re = ST_ERR_INIT;
        if (!is_orphan(sc, &sc->blobs[i]))
            continue;
        if (b->ops->remove(b, sc->blobs[i].key, &re))
            fprintf(stderr, "argotd fsck: cannot remove blob %s: %s\n", sc->blobs[i].key, re.msg);
        else
            removed++;
    }
    st_err te = ST_ERR_INIT; /* with no instance alive every unfinished write is a dead one's */
    int t = b->ops->reap_unfinished(b, full ? INT64_MAX : (int64_t)time(NULL) - STALE_WRITE_S, &te);
    fprintf(stderr,
            "argotd fsck: repaired: %zu rows without blob deleted, %ld blobs removed, %d "
            "temporaries removed, %s\n",
            dropped, removed, t < 0 ? 0 : t,
            full ? "usage recomputed" : "usage not recomputed (instances are live)");
    return 0;
}

void fsck_summary(const fsck_scan *sc, const char *where)
{
    fprintf(stderr,
            "argotd fsck: %s: %ld problem%s (%zu blobs, %ld orphan%s of %" PRIu64
            " bytes, %ld temporar%s)\n",
            where, sc->problems, sc->problems == 1 ? "" : "s", sc->nblobs, sc->orphans,
            sc->orphans == 1 ? "" : "s", sc->orphan_bytes, sc->temps, sc->temps == 1 ? "y" : "ies");
    if (!sc->alone && sc->live_owners)
        fprintf(stderr,
                "argotd fsck: %d instance%s live, %ld upload%s in flight: their figures may move "
                "while fsck reads (a mismatch is real only if it persists)\n",
                sc->live_owners, sc->live_owners == 1 ? "" : "s", sc->live_intents,
                sc->live_intents == 1 ? "" : "s");
}
