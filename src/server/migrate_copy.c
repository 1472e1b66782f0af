/*
 * The copy and the verification of `argotd migrate` (see migrate.c for what is copied). Rows
 * are read a page at a time from the source, and each page is worked through after its walk
 * (a walk's callback must not call back into the store it walks).
 */
#include "server/migrate_copy.h"

#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PAGE     500
#define COPY_BUF (1 << 20)
#define OWNER    "own_argot_migrate" /* the migration's intents at the destination */
#define LEASE_S  600

void mig_init(mig *m)
{
    memset(m, 0, sizeof *m);
}

void mig_free(mig *m)
{
    if (m->dst.m) {
        st_err e = ST_ERR_INIT;
        m->dst.m->ops->owner_forget(m->dst.m, OWNER, NULL, &e);
    }
    free(m->buf);
    blob_store_free(m->src.b);
    blob_store_free(m->dst.b);
    meta_store_free(m->src.m);
    meta_store_free(m->dst.m);
}

static int64_t clock_of(meta_store *s)
{
    int64_t now = 0;
    st_err e = ST_ERR_INIT;
    if ((s->ops->caps & META_CAP_CLOCK) && s->ops->clock(s, &now, &e) == ST_OK)
        return now;
    return (int64_t)time(NULL);
}

static void fail_msg(const char *what, const st_err *e)
{
    fprintf(stderr, "argotd migrate: %s: %s\n", what, e->msg[0] ? e->msg : st_code_name(e->code));
}

/* ---- refusals ---- */

typedef struct live {
    int64_t now;
    int n;
    char example[META_OWNER_MAX];
} live;

static int on_owner(const char *owner, int64_t expires_at, void *ud)
{
    live *l = ud;
    if (expires_at > l->now && strcmp(owner, OWNER) != 0 && !l->n++)
        snprintf(l->example, sizeof l->example, "%s", owner);
    return 0;
}

static int no_live_instance(const mig_side *side, const char *what)
{
    live l = {clock_of(side->m), 0, ""};
    st_err e = ST_ERR_INIT;
    if (side->m->ops->owner_walk(side->m, on_owner, &l, &e) != ST_OK) {
        fail_msg("cannot read the owners", &e);
        return -1;
    }
    if (l.n) {
        fprintf(stderr,
                "argotd migrate: the %s %s is in use: %d instance%s hold%s a live lease (%s); stop "
                "them first (or wait until their leases run out)\n",
                what, side->name, l.n, l.n == 1 ? "" : "s", l.n == 1 ? "s" : "", l.example);
        return -1;
    }
    return 0;
}

/* A destination row that is not this source's: the destination is another store. */
static int foreign(mig *m, const char *what, const char *id)
{
    fprintf(stderr,
            "argotd migrate: the destination %s is not empty and not a copy of this source: its %s "
            "%s is not the source's; refusing to mix two stores\n",
            m->dst.name, what, id);
    return -1;
}

typedef struct dst_page {
    mig *m;
    int bad;
    char bad_id[META_ID_MAX];
    int64_t last_seq;
    char last[META_ID_MAX];
    int n;
} dst_page;

static int dst_file(const meta_file *f, void *ud)
{
    dst_page *p = ud;
    meta_file s;
    st_err e = ST_ERR_INIT;
    p->last_seq = f->seq;
    p->n++;
    if (p->bad)
        return 0;
    if (p->m->src.m->ops->file_get(p->m->src.m, f->org, f->id, 0, &s, &e) != ST_OK ||
        strcmp(s.blob, f->blob) || s.bytes != f->bytes || s.created_at != f->created_at) {
        p->bad = 1;
        snprintf(p->bad_id, sizeof p->bad_id, "%s", f->id);
    }
    return 0;
}

static int dst_upload(const meta_upload *u, void *ud)
{
    dst_page *p = ud;
    meta_upload s;
    st_err e = ST_ERR_INIT;
    snprintf(p->last, sizeof p->last, "%s", u->id);
    p->n++;
    if (!p->bad && (p->m->src.m->ops->upload_get(p->m->src.m, u->org, u->id, &s, &e) != ST_OK ||
                    s.created_at != u->created_at)) {
        p->bad = 1;
        snprintf(p->bad_id, sizeof p->bad_id, "%s", u->id);
    }
    return 0;
}

typedef struct key_set {
    meta_key *v;
    size_t n, cap;
    int oom;
} key_set;

static int key_push(const meta_key *k, void *ud)
{
    key_set *ks = ud;
    if (ks->n == ks->cap) {
        size_t cap = ks->cap ? ks->cap * 2 : 64;
        meta_key *v = realloc(ks->v, cap * sizeof *v);
        if (!v)
            return ks->oom = 1, -1;
        ks->v = v;
        ks->cap = cap;
    }
    ks->v[ks->n++] = *k;
    return 0;
}

static const meta_key *key_find(const key_set *ks, const char *id)
{
    for (size_t i = 0; i < ks->n; i++)
        if (!strcmp(ks->v[i].id, id))
            return &ks->v[i];
    return NULL;
}

static int load_keys(meta_store *s, key_set *ks)
{
    st_err e = ST_ERR_INIT;
    if (s->ops->key_list(s, key_push, ks, &e) != ST_OK || ks->oom) {
        fail_msg("cannot read the keys", &e);
        return -1;
    }
    return 0;
}

/* Every key, file and upload of the destination must be the source's. */
static int dst_is_subset(mig *m)
{
    key_set sk = {0}, dk = {0};
    int rc = load_keys(m->src.m, &sk) || load_keys(m->dst.m, &dk) ? -1 : 0;
    for (size_t i = 0; rc == 0 && i < dk.n; i++) {
        const meta_key *k = key_find(&sk, dk.v[i].id);
        if (!k || memcmp(k->hash, dk.v[i].hash, 32) || strcmp(k->org, dk.v[i].org))
            rc = foreign(m, "key", dk.v[i].id);
    }
    free(sk.v);
    free(dk.v);
    st_err e = ST_ERR_INIT;
    dst_page p = {.m = m};
    int got = PAGE;
    while (rc == 0 && got == PAGE && !p.bad)
        got = m->dst.m->ops->file_walk(m->dst.m, p.last_seq, PAGE, dst_file, &p, &e);
    if (rc == 0 && !p.bad)
        for (got = PAGE; got == PAGE && !p.bad;)
            got = m->dst.m->ops->upload_walk(m->dst.m, p.last, PAGE, dst_upload, &p, &e);
    if (rc == 0 && got < 0)
        fail_msg("cannot read the destination", &e), rc = -1;
    if (rc == 0 && p.bad)
        rc = foreign(m, "row", p.bad_id);
    return rc;
}

int mig_refuse(mig *m)
{
    if (no_live_instance(&m->src, "source") || no_live_instance(&m->dst, "destination"))
        return -1;
    return dst_is_subset(m);
}

/* ---- blobs ---- */

/* SHA-256 of a committed blob, read through the buffer; 0 or -1. */
static int blob_hash(mig *m, blob_store *b, const char *key, unsigned char out[32], st_err *e)
{
    blob_reader *r = NULL;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned len = 0;
    int rc = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1
                 ? b->ops->reader_open(b, key, 0, BLOB_TO_END, &r, NULL, e)
                 : -1;
    for (ssize_t n = 1; rc == ST_OK && n > 0;) {
        n = blob_read(r, m->buf, COPY_BUF, e);
        if (n < 0 || (n > 0 && EVP_DigestUpdate(md, m->buf, (size_t)n) != 1))
            rc = -1;
    }
    if (rc == ST_OK && EVP_DigestFinal_ex(md, out, &len) != 1)
        rc = -1;
    blob_reader_close(r);
    EVP_MD_CTX_free(md);
    return rc == ST_OK ? 0 : -1;
}

/* Streams the source's blob key into the destination under the same key (whatever an earlier
 * run left of it removed first); out gets the SHA-256 of what was read. 0 or -1. */
static int blob_copy(mig *m, const char *key, int64_t bytes, unsigned char out[32], st_err *e)
{
    blob_reader *r = NULL;
    blob_writer *w = NULL;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned len = 0;
    int64_t total = 0;
    int rc = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 ? ST_OK : -1;
    if (rc == ST_OK)
        rc = m->dst.b->ops->remove(m->dst.b, key, e);
    if (rc == ST_OK)
        rc = m->src.b->ops->reader_open(m->src.b, key, 0, BLOB_TO_END, &r, NULL, e);
    if (rc == ST_OK)
        rc = m->dst.b->ops->writer_open(m->dst.b, key, &w, e);
    for (ssize_t n = 1; rc == ST_OK && n > 0;) {
        n = blob_read(r, m->buf, COPY_BUF, e);
        if (n < 0 || (n > 0 && EVP_DigestUpdate(md, m->buf, (size_t)n) != 1))
            rc = -1;
        else if (n > 0 && (rc = blob_writer_write(w, m->buf, (size_t)n, e)) == ST_OK)
            total += n;
    }
    if (rc == ST_OK && total != bytes)
        rc = st_fail(e, ST_E_IO, "migrate", 0, "blob %s holds %" PRId64 " bytes, its row %" PRId64,
                     key, total, bytes);
    if (rc == ST_OK) {
        blob_writer *c = w;
        w = NULL; /* commit frees it */
        rc = blob_writer_commit(c, e);
    }
    if (rc == ST_OK && EVP_DigestFinal_ex(md, out, &len) != 1)
        rc = -1;
    blob_writer_abort(w);
    blob_reader_close(r);
    EVP_MD_CTX_free(md);
    return rc == ST_OK ? 0 : -1;
}

/* The destination's copy has the source's bytes (both read again: hashes compared). */
static void verify_bytes(
    mig *m, const char *what, const char *id, const char *key, const unsigned char *src_hash)
{
    unsigned char a[32], b[32];
    st_err e = ST_ERR_INIT;
    if ((!src_hash && blob_hash(m, m->src.b, key, a, &e)) || blob_hash(m, m->dst.b, key, b, &e)) {
        fprintf(stderr, "argotd migrate: DIFFERENCE: %s %s: cannot read blob %s: %s\n", what, id,
                key, e.msg);
        m->differences++;
    } else if (memcmp(src_hash ? src_hash : a, b, 32) != 0) {
        fprintf(stderr, "argotd migrate: DIFFERENCE: %s %s: blob %s differs (SHA-256)\n", what, id,
                key);
        m->differences++;
    }
}

/* Opens the migration's intent for key at the destination (an earlier run's dropped first). */
static int intent_for(mig *m, const char *org, const char *key, st_err *e)
{
    st_err ignore = ST_ERR_INIT;
    m->dst.m->ops->intent_drop(m->dst.m, key, &ignore);
    int64_t now = clock_of(m->dst.m);
    int rc = m->dst.m->ops->owner_renew(m->dst.m, OWNER, now, LEASE_S, e);
    return rc ? rc : m->dst.m->ops->intent_open(m->dst.m, org, key, OWNER, now, e);
}

/* After a failed copy: nothing of it stays at the destination. */
static void undo(mig *m, const char *key)
{
    st_err e = ST_ERR_INIT;
    m->dst.b->ops->remove(m->dst.b, key, &e);
    m->dst.m->ops->intent_drop(m->dst.m, key, &e);
}

/* ---- keys ---- */

static int copy_keys(mig *m)
{
    key_set sk = {0}, dk = {0};
    int rc = load_keys(m->src.m, &sk) || load_keys(m->dst.m, &dk) ? -1 : 0;
    for (size_t i = 0; rc == 0 && i < sk.n; i++) {
        st_err e = ST_ERR_INIT;
        const meta_key *k = key_find(&dk, sk.v[i].id);
        if (k && k->revoked_at == sk.v[i].revoked_at) {
            m->keys.present++;
            continue;
        }
        if (k) { /* revoked at the source since the earlier run */
            rc = m->dst.m->ops->key_revoke(m->dst.m, k->id, sk.v[i].revoked_at, &e);
        } else {
            rc = m->dst.m->ops->key_create(m->dst.m, &sk.v[i], sk.v[i].hash, &e);
        }
        if (rc) {
            fail_msg("cannot copy a key", &e);
            rc = -1;
        }
        m->keys.copied++;
    }
    free(sk.v);
    free(dk.v);
    return rc;
}

/* ---- files ---- */

typedef struct file_page {
    meta_file v[PAGE];
    int n;
    int64_t last_seq;
} file_page;

static int on_file(const meta_file *f, void *ud)
{
    file_page *p = ud;
    p->v[p->n++] = *f;
    p->last_seq = f->seq;
    return 0;
}

static int copy_file(mig *m, const meta_file *f)
{
    meta_file got;
    unsigned char h[32];
    st_err e = ST_ERR_INIT;
    if (m->dst.m->ops->file_get(m->dst.m, f->org, f->id, 0, &got, &e) == ST_OK) {
        m->files.present++;
        m->files.bytes += f->bytes;
        verify_bytes(m, "file", f->id, f->blob, NULL);
        return 0;
    }
    st_err_clear(&e);
    meta_file row = *f;
    row.seq = 0;
    if (intent_for(m, f->org, f->blob, &e) || blob_copy(m, f->blob, f->bytes, h, &e) ||
        m->dst.m->ops->file_commit(m->dst.m, &row, INT64_MAX, &e)) {
        fprintf(stderr, "argotd migrate: cannot copy file %s: %s\n", f->id, e.msg);
        undo(m, f->blob);
        return -1;
    }
    m->files.copied++;
    m->files.bytes += f->bytes;
    verify_bytes(m, "file", f->id, f->blob, h);
    return 0;
}

static int copy_files(mig *m)
{
    file_page *p = malloc(sizeof *p);
    st_err e = ST_ERR_INIT;
    int got = PAGE, rc = p ? 0 : -1;
    int64_t last = 0;
    while (rc == 0 && got == PAGE) {
        p->n = 0;
        p->last_seq = last;
        got = m->src.m->ops->file_walk(m->src.m, last, PAGE, on_file, p, &e);
        if (got < 0) {
            fail_msg("cannot read the source's files", &e);
            rc = -1;
        }
        for (int i = 0; rc == 0 && i < p->n; i++)
            rc = copy_file(m, &p->v[i]);
        last = p->last_seq;
    }
    free(p);
    return rc;
}

/* ---- uploads and their parts ---- */

typedef struct upload_page {
    meta_upload v[PAGE];
    int n;
} upload_page;

static int on_upload(const meta_upload *u, void *ud)
{
    upload_page *p = ud;
    p->v[p->n++] = *u;
    return 0;
}

typedef struct part_vec {
    meta_part *v;
    size_t n, cap;
    int oom;
} part_vec;

static int on_part(const meta_part *pt, void *ud)
{
    part_vec *pv = ud;
    if (pv->n == pv->cap) {
        size_t cap = pv->cap ? pv->cap * 2 : 16;
        meta_part *v = realloc(pv->v, cap * sizeof *v);
        if (!v)
            return pv->oom = 1, -1;
        pv->v = v;
        pv->cap = cap;
    }
    pv->v[pv->n++] = *pt;
    return 0;
}

static int parts_of(meta_store *s, const meta_upload *u, part_vec *pv)
{
    st_err e = ST_ERR_INIT;
    if (s->ops->upload_parts(s, u->org, u->id, on_part, pv, &e) != ST_OK || pv->oom) {
        fail_msg("cannot read an upload's parts", &e);
        return -1;
    }
    return 0;
}

static int part_present(const part_vec *dv, const meta_part *pt)
{
    for (size_t i = 0; i < dv->n; i++)
        if (!strcmp(dv->v[i].id, pt->id))
            return 1;
    return 0;
}

/* A part, committed as the server commits one; "now" is the upload's creation, at which it is
 * pending and unexpired whatever the clock says (the destination's collector expires it as the
 * source's would have). */
static int copy_part(mig *m, const meta_upload *u, const meta_part *pt)
{
    unsigned char h[32];
    st_err e = ST_ERR_INIT;
    if (intent_for(m, pt->org, pt->blob, &e) || blob_copy(m, pt->blob, pt->bytes, h, &e) ||
        m->dst.m->ops->part_commit(m->dst.m, pt, u->created_at, INT64_MAX, INT64_MAX, &e)) {
        fprintf(stderr, "argotd migrate: cannot copy part %s of %s: %s\n", pt->id, u->id, e.msg);
        undo(m, pt->blob);
        return -1;
    }
    m->parts.copied++;
    m->parts.bytes += pt->bytes;
    verify_bytes(m, "part", pt->id, pt->blob, h);
    return 0;
}

static int copy_upload(mig *m, const meta_upload *u)
{
    meta_upload got;
    st_err e = ST_ERR_INIT;
    if (u->status != META_UPLOAD_PENDING) {
        m->uploads_not_pending++;
        return 0;
    }
    if (m->dst.m->ops->upload_get(m->dst.m, u->org, u->id, &got, &e) == ST_OK) {
        m->uploads.present++;
    } else if (st_err_clear(&e), m->dst.m->ops->upload_create(m->dst.m, u, &e) == ST_OK) {
        m->uploads.copied++;
    } else {
        fprintf(stderr, "argotd migrate: cannot copy upload %s: %s\n", u->id, e.msg);
        return -1;
    }
    part_vec sv = {0}, dv = {0};
    int rc = parts_of(m->src.m, u, &sv) || parts_of(m->dst.m, u, &dv) ? -1 : 0;
    for (size_t i = 0; rc == 0 && i < sv.n; i++) {
        if (!part_present(&dv, &sv.v[i])) {
            rc = copy_part(m, u, &sv.v[i]);
            continue;
        }
        m->parts.present++;
        m->parts.bytes += sv.v[i].bytes;
        verify_bytes(m, "part", sv.v[i].id, sv.v[i].blob, NULL);
    }
    free(sv.v);
    free(dv.v);
    return rc;
}

static int copy_uploads(mig *m)
{
    upload_page *p = malloc(sizeof *p);
    char last[META_ID_MAX] = "";
    st_err e = ST_ERR_INIT;
    int got = PAGE, rc = p ? 0 : -1;
    while (rc == 0 && got == PAGE) {
        p->n = 0;
        got = m->src.m->ops->upload_walk(m->src.m, last, PAGE, on_upload, p, &e);
        if (got < 0) {
            fail_msg("cannot read the source's uploads", &e);
            rc = -1;
        }
        for (int i = 0; rc == 0 && i < p->n; i++)
            rc = copy_upload(m, &p->v[i]);
        if (p->n)
            snprintf(last, sizeof last, "%s", p->v[p->n - 1].id);
    }
    free(p);
    return rc;
}

/* ---- the totals ---- */

typedef struct org_vec {
    meta_org *v;
    size_t n, cap;
    int oom;
} org_vec;

static int on_org(const meta_org *o, void *ud)
{
    org_vec *ov = ud;
    if (ov->n == ov->cap) {
        size_t cap = ov->cap ? ov->cap * 2 : 16;
        meta_org *v = realloc(ov->v, cap * sizeof *v);
        if (!v)
            return ov->oom = 1, -1;
        ov->v = v;
        ov->cap = cap;
    }
    ov->v[ov->n++] = *o;
    return 0;
}

static int on_intent(const meta_intent *i, void *ud)
{
    (void)i;
    ++*(long *)ud;
    return 0;
}

/* Every organization's used bytes are the same on both sides (reservations are not: they
 * belong to uploads in flight, which are not copied). */
static void verify_usage(mig *m)
{
    org_vec so = {0}, dn = {0};
    st_err e = ST_ERR_INIT;
    if (m->src.m->ops->org_walk(m->src.m, on_org, &so, &e) ||
        m->dst.m->ops->org_walk(m->dst.m, on_org, &dn, &e) || so.oom || dn.oom) {
        fail_msg("cannot read the organizations", &e);
        m->differences++;
    }
    for (size_t i = 0; i < so.n; i++) {
        int64_t used = 0;
        for (size_t j = 0; j < dn.n; j++)
            if (!strcmp(dn.v[j].id, so.v[i].id))
                used = dn.v[j].used;
        if (used != so.v[i].used) {
            fprintf(stderr,
                    "argotd migrate: DIFFERENCE: org %s uses %" PRId64
                    " bytes at the source, %" PRId64
                    " at the destination (argotd fsck on the source tells which rows it counts)\n",
                    so.v[i].id, so.v[i].used, used);
            m->differences++;
        }
    }
    m->src.m->ops->intent_walk(m->src.m, on_intent, &m->intents_left, &e);
    free(so.v);
    free(dn.v);
}

static void summary(const mig *m)
{
    printf("keys: %ld copied, %ld already there\n"
           "files: %ld copied, %ld already there, %" PRId64 " bytes\n"
           "uploads: %ld pending copied, %ld already there, %ld not pending (not copied)\n"
           "parts: %ld copied, %ld already there, %" PRId64 " bytes\n"
           "not copied: %ld upload intent%s of interrupted uploads\n"
           "verified: %s\n",
           m->keys.copied, m->keys.present, m->files.copied, m->files.present, m->files.bytes,
           m->uploads.copied, m->uploads.present, m->uploads_not_pending, m->parts.copied,
           m->parts.present, m->parts.bytes, m->intents_left, m->intents_left == 1 ? "" : "s",
           m->differences ? "DIFFERENCES FOUND (see above)"
                          : "every row, its bytes (SHA-256) and every organization's usage");
}

int mig_run(mig *m)
{
    st_err e = ST_ERR_INIT;
    if (!(m->buf = malloc(COPY_BUF)))
        return fprintf(stderr, "argotd migrate: no memory\n"), 1;
    /* No instance runs at the destination: whatever is unfinished there is an earlier run's. */
    if (m->dst.b->ops->reap_unfinished(m->dst.b, INT64_MAX, &e) < 0) {
        fail_msg("cannot clear the destination's unfinished writes", &e);
        return 1;
    }
    int rc = copy_keys(m);
    rc = rc ? rc : copy_files(m);
    rc = rc ? rc : copy_uploads(m);
    if (rc) {
        fprintf(stderr, "argotd migrate: stopped; run it again to go on where it stopped\n");
        return 1;
    }
    verify_usage(m);
    summary(m);
    fflush(stdout);
    return m->differences ? 1 : 0;
}
