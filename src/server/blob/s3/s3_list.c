/* Paged listings (ListObjectsV2, ListMultipartUploads, ListParts) and the reaper of stale
 * multipart uploads: see s3_client.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/blob/s3/s3_internal.h"
#include "server/log.h"

/* Wraps the caller's entry callback: keys become relative to the configured prefix. */
typedef struct relay {
    s3_client *c;
    s3r_entry_cb cb;
    void *userdata;
    s3r_entry copy;
} relay;

static int relay_cb(const s3r_entry *e, void *ud)
{
    relay *w = ud;
    if (!w->cb)
        return 0;
    if (!w->c->prefix[0] || !e->key[0])
        return w->cb(e, w->userdata);
    w->copy = *e;
    if (s3_strip_prefix(w->c, w->copy.key) != 0)
        return 0; /* not ours (the server answered outside the prefix asked for) */
    return w->cb(&w->copy, w->userdata);
}

/* The full prefix (configured + relative) for a listing, or NULL on overflow. */
static char *full_prefix(const s3_client *c, const char *prefix)
{
    size_t a = strlen(c->prefix), b = prefix ? strlen(prefix) : 0;
    char *p = malloc(a + b + 1);
    if (!p || a + b > S3R_KEY_MAX) {
        free(p);
        return NULL;
    }
    memcpy(p, c->prefix, a);
    memcpy(p + a, prefix ? prefix : "", b + 1);
    return p;
}

static void fill_page(s3_page *page, const s3r *d, const s3_client *c)
{
    if (!page)
        return;
    memset(page, 0, sizeof *page);
    page->truncated = d->truncated;
    page->count = d->entries;
    page->next_part_marker = d->next_part_marker;
    snprintf(page->next_token, sizeof page->next_token, "%s", d->next_token);
    snprintf(page->next_upload_id_marker, sizeof page->next_upload_id_marker, "%s",
             d->next_upload_id_marker);
    snprintf(page->next_key_marker, sizeof page->next_key_marker, "%s", d->next_key_marker);
    if (page->next_key_marker[0] && s3_strip_prefix(c, page->next_key_marker) != 0)
        page->next_key_marker[0] = '\0';
}

/* Runs a listing request r with decoder kind; the page summary goes to page. */
static s3_status run_list(
    s3_client *c, s3_req *r, s3r_kind kind, relay *w, s3_page *page, s3_error *err)
{
    s3r *d = malloc(sizeof *d);
    if (!d)
        return s3_error_set(err, S3_E_NOMEM, 0, "%s: out of memory", r->op);
    s3r_init(d, kind, relay_cb, w);
    r->resp = d;
    s3_status rc = s3_perform(c, r, err);
    if (rc == S3_OK)
        fill_page(page, d, c);
    free(d);
    return rc;
}

/* ListObjectsV2 from a continuation token or after a key (relative; NULL: neither). */
static s3_status list_objects(s3_client *c,
                              const char *prefix,
                              const char *token,
                              const char *after,
                              int max_keys,
                              relay *w,
                              s3_page *page,
                              s3_error *err)
{
    char max[16];
    char *p = full_prefix(c, prefix), *sa = after && after[0] ? full_prefix(c, after) : NULL;
    if (!p || (after && after[0] && !sa)) {
        free(p);
        return s3_error_set(err, S3_E_INVALID, 0, "ListObjectsV2: prefix too long");
    }
    s3_req r = {.op = "ListObjectsV2", .method = "GET"};
    r.query[r.nquery++] = (s3_kv){"list-type", "2"};
    if (p[0])
        r.query[r.nquery++] = (s3_kv){"prefix", p};
    if (token && token[0])
        r.query[r.nquery++] = (s3_kv){"continuation-token", token};
    if (sa)
        r.query[r.nquery++] = (s3_kv){"start-after", sa};
    if (max_keys > 0) {
        snprintf(max, sizeof max, "%d", max_keys);
        r.query[r.nquery++] = (s3_kv){"max-keys", max};
    }
    s3_status rc = run_list(c, &r, S3R_LIST_OBJECTS, w, page, err);
    free(p);
    free(sa);
    return rc;
}

s3_status s3_list_objects(s3_client *c,
                          const char *prefix,
                          const char *token,
                          int max_keys,
                          s3r_entry_cb cb,
                          void *userdata,
                          s3_page *page,
                          s3_error *err)
{
    relay w = {.c = c, .cb = cb, .userdata = userdata};
    return list_objects(c, prefix, token, NULL, max_keys, &w, page, err);
}

s3_status s3_list_objects_after(s3_client *c,
                                const char *prefix,
                                const char *after,
                                int max_keys,
                                s3r_entry_cb cb,
                                void *userdata,
                                s3_page *page,
                                s3_error *err)
{
    relay w = {.c = c, .cb = cb, .userdata = userdata};
    return list_objects(c, prefix, NULL, after, max_keys, &w, page, err);
}

s3_status s3_mpu_list_uploads(s3_client *c,
                              const char *prefix,
                              const char *key_marker,
                              const char *id_marker,
                              int max_uploads,
                              s3r_entry_cb cb,
                              void *userdata,
                              s3_page *page,
                              s3_error *err)
{
    char max[16];
    relay w = {.c = c, .cb = cb, .userdata = userdata};
    char *p = full_prefix(c, prefix), *km = NULL;
    if (!p)
        return s3_error_set(err, S3_E_INVALID, 0, "ListMultipartUploads: prefix too long");
    s3_req r = {.op = "ListMultipartUploads", .method = "GET"};
    r.query[r.nquery++] = (s3_kv){"uploads", ""};
    if (p[0])
        r.query[r.nquery++] = (s3_kv){"prefix", p};
    if (key_marker && key_marker[0]) {
        if (!(km = full_prefix(c, key_marker))) {
            free(p);
            return s3_error_set(err, S3_E_INVALID, 0, "ListMultipartUploads: marker too long");
        }
        r.query[r.nquery++] = (s3_kv){"key-marker", km};
        if (id_marker && id_marker[0])
            r.query[r.nquery++] = (s3_kv){"upload-id-marker", id_marker};
    }
    if (max_uploads > 0) {
        snprintf(max, sizeof max, "%d", max_uploads);
        r.query[r.nquery++] = (s3_kv){"max-uploads", max};
    }
    s3_status rc = run_list(c, &r, S3R_LIST_UPLOADS, &w, page, err);
    free(p);
    free(km);
    return rc;
}

s3_status s3_mpu_list_parts(s3_client *c,
                            const char *key,
                            const char *upload_id,
                            int marker,
                            int max_parts,
                            s3r_entry_cb cb,
                            void *userdata,
                            s3_page *page,
                            s3_error *err)
{
    char mk[16], max[16];
    relay w = {.c = c, .cb = cb, .userdata = userdata};
    if (!key || !key[0] || !upload_id || !upload_id[0])
        return s3_error_set(err, S3_E_INVALID, 0, "ListParts: missing key or upload id");
    s3_req r = {.op = "ListParts", .method = "GET", .key = key};
    r.query[r.nquery++] = (s3_kv){"uploadId", upload_id};
    if (marker > 0) {
        snprintf(mk, sizeof mk, "%d", marker);
        r.query[r.nquery++] = (s3_kv){"part-number-marker", mk};
    }
    if (max_parts > 0) {
        snprintf(max, sizeof max, "%d", max_parts);
        r.query[r.nquery++] = (s3_kv){"max-parts", max};
    }
    return run_list(c, &r, S3R_LIST_PARTS, &w, page, err);
}

/* ---- the reaper ---- */

typedef struct stale {
    char key[S3R_KEY_MAX + 1];
    char id[S3R_TOKEN_MAX + 1];
} stale;

typedef struct reap_page {
    int64_t before;
    stale *list;
    size_t n, cap;
} reap_page;

static int collect_stale(const s3r_entry *e, void *ud)
{
    reap_page *p = ud;
    if (e->time < 0 || e->time >= p->before || p->n == p->cap)
        return 0;
    snprintf(p->list[p->n].key, sizeof p->list[0].key, "%s", e->key);
    snprintf(p->list[p->n].id, sizeof p->list[0].id, "%s", e->upload_id);
    p->n++;
    return 0;
}

#define REAP_PAGE 1000

static int newest_part(const s3r_entry *e, void *ud)
{
    int64_t *newest = ud;
    if (e->time > *newest)
        *newest = e->time;
    return 0;
}

/* 1 if a part of the upload was uploaded at or after before (a live writer's upload that began
 * long ago: S3 keeps no other time of an upload than Initiated), or the upload is gone. */
static s3_status touched_since(
    s3_client *c, const stale *u, int64_t before, int *live, s3_error *err)
{
    int64_t newest = -1;
    s3_page page;
    s3_error e;
    int marker = 0;
    s3_status rc;
    memset(&page, 0, sizeof page);
    s3_error_clear(&e);
    do {
        rc = s3_mpu_list_parts(c, u->key, u->id, marker, 1000, newest_part, &newest, &page, &e);
        marker = page.next_part_marker;
    } while (rc == S3_OK && page.truncated && marker > 0 && newest < before);
    *live = rc == S3_E_NOTFOUND || newest >= before; /* gone meanwhile: nothing to reap */
    if (rc == S3_E_NOTFOUND)
        return S3_OK;
    if (rc != S3_OK && err && err->code == S3_OK)
        *err = e;
    return rc;
}

/* Aborts what one page found (after the listing: a callback must not call the client). */
static s3_status abort_found(s3_client *c, reap_page *p, size_t *aborted, s3_error *err)
{
    for (size_t i = 0; i < p->n; i++) {
        int live = 0;
        s3_status rc = touched_since(c, &p->list[i], p->before, &live, err);
        if (rc != S3_OK)
            return rc;
        if (live)
            continue;
        rc = s3_mpu_abort(c, p->list[i].key, p->list[i].id, err);
        if (rc != S3_OK)
            return rc;
        LOG(LOG_INFO, "s3 reaped stale multipart upload key=%s", p->list[i].key);
        (*aborted)++;
    }
    p->n = 0;
    return S3_OK;
}

s3_status s3_reap_uploads(
    s3_client *c, const char *prefix, int64_t older_than_s, size_t *aborted, s3_error *err)
{
    return s3_reap_uploads_before(c, prefix, (int64_t)time(NULL) - older_than_s, aborted, err);
}

s3_status s3_reap_uploads_before(
    s3_client *c, const char *prefix, int64_t before, size_t *aborted, s3_error *err)
{
    reap_page p = {before, calloc(REAP_PAGE, sizeof(stale)), 0, REAP_PAGE};
    s3_page page;
    char *km = NULL, *im = NULL;
    size_t count = 0;
    s3_status rc = S3_OK;
    if (!p.list)
        return s3_error_set(err, S3_E_NOMEM, 0, "reap: out of memory");
    memset(&page, 0, sizeof page);
    do {
        rc = s3_mpu_list_uploads(c, prefix, km, im, REAP_PAGE, collect_stale, &p, &page, err);
        if (rc == S3_OK)
            rc = abort_found(c, &p, &count, err);
        free(km);
        free(im);
        km = strdup(page.next_key_marker);
        im = strdup(page.next_upload_id_marker);
        if (rc == S3_OK && (!km || !im))
            rc = s3_error_set(err, S3_E_NOMEM, 0, "reap: out of memory");
    } while (rc == S3_OK && page.truncated && km[0]);
    free(km);
    free(im);
    free(p.list);
    if (aborted)
        *aborted = count;
    return rc;
}
