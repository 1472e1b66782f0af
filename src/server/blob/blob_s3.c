/*
 * The S3 blob backend: see blob_s3.h. The store (opening, removal, listing, reaping) is here;
 * writers, readers and compose are in blob_s3_io.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/blob/blob_s3_internal.h"
#include "server/log.h"

int bs3_fail(st_err *e, s3_status rc, const s3_error *se, const char *what)
{
    st_code code;
    switch (rc) {
    case S3_E_NOTFOUND:
        code = ST_E_NOTFOUND;
        break;
    case S3_E_NETWORK:
        code = ST_E_UNAVAILABLE;
        break;
    case S3_E_BUSY:
        code = ST_E_RESOURCES;
        break;
    case S3_E_NOMEM:
        code = ST_E_NOMEM;
        break;
    case S3_E_INVALID:
        code = ST_E_INVALID;
        break;
    default:
        code = ST_E_IO;
        break;
    }
    const char *msg = se && se->message[0] ? se->message : s3_status_str(rc);
    long sys = se ? se->http_status : 0;
    if (se && se->retryable)
        return st_fail_retry(e, code, BS3, sys, "%s: %s", what, msg);
    return st_fail(e, code, BS3, sys, "%s: %s", what, msg);
}

/* ---- opening ---- */

/* "BUCKET[/PREFIX]" into the configuration's bucket and prefix (with a trailing slash). */
static int parse_location(bs3_store *s, const char *rest, st_err *e)
{
    const char *slash = strchr(rest, '/');
    size_t nb = slash ? (size_t)(slash - rest) : strlen(rest);
    const char *p = slash ? slash + 1 : "";
    size_t np = strlen(p);
    if (nb == 0 || nb >= sizeof s->bucket)
        return st_fail(e, ST_E_INVALID, BS3, 0, "s3 blob URL: want s3://BUCKET[/PREFIX]");
    if (np + 2 > sizeof s->prefix)
        return st_fail(e, ST_E_INVALID, BS3, 0, "s3 blob URL: prefix too long");
    for (size_t i = 0; i < np; i++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/", p[i]) ||
            (p[i] == '/' && (i == 0 || p[i - 1] == '/')))
            return st_fail(e, ST_E_INVALID, BS3, 0,
                           "s3 blob URL: the prefix may hold only A-Z a-z 0-9 . _ - and single /");
    memcpy(s->bucket, rest, nb);
    s->bucket[nb] = '\0';
    memcpy(s->prefix, p, np + 1);
    if (np && p[np - 1] != '/')
        strcat(s->prefix, "/");
    return ST_OK;
}

static int make_client(bs3_store *s, const blob_s3_opts *o, st_err *e)
{
    s3_config cfg = {S3_CONFIG_DEFAULTS};
    s3_error se;
    s3_error_clear(&se);
    cfg.bucket = s->bucket;
    cfg.prefix = s->prefix;
    cfg.endpoint = o && o->endpoint && o->endpoint[0] ? o->endpoint : getenv("ARGOT_S3_ENDPOINT");
    if (cfg.endpoint && !cfg.endpoint[0])
        cfg.endpoint = NULL;
    if (o && o->part_size)
        cfg.part_size = o->part_size;
    if (o && o->memory_budget)
        cfg.memory_budget = o->memory_budget;
    if (o && o->budget_wait_ms)
        cfg.budget_wait_ms = o->budget_wait_ms;
    if (cfg.memory_budget < cfg.part_size)
        return st_fail(e, ST_E_INVALID, BS3, 0,
                       "s3: the memory budget (%llu bytes) is smaller than one part (%llu bytes)",
                       (unsigned long long)cfg.memory_budget, (unsigned long long)cfg.part_size);
    s3_status rc = s3_config_from_env(&cfg, &se);
    if (rc == S3_OK)
        rc = s3_client_new(&s->c, &cfg, &se);
    if (rc == S3_OK)
        rc = s3_head_bucket(s->c, &se);
    return rc == S3_OK ? ST_OK : bs3_fail(e, rc, &se, "s3");
}

static void bs3_free(blob_store *b)
{
    bs3_store *s = (bs3_store *)b;
    s3_client_free(s->c);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

int blob_s3_open(blob_store **out, const char *rest, const blob_s3_opts *opts, st_err *e)
{
    bs3_store *s = calloc(1, sizeof *s);
    *out = NULL;
    if (!s)
        return st_fail(e, ST_E_NOMEM, BS3, 0, "s3: out of memory");
    if (pthread_mutex_init(&s->lock, NULL) != 0) {
        free(s);
        return st_fail(e, ST_E_NOMEM, BS3, 0, "s3: mutex");
    }
    s->base.ops = &bs3_ops;
    int rc = parse_location(s, rest, e);
    if (rc == ST_OK)
        rc = make_client(s, opts, e);
    if (rc != ST_OK) {
        bs3_free(&s->base);
        return rc;
    }
    LOG(LOG_INFO, "blob backend s3 bucket=%s prefix=%s", s->bucket, s->prefix);
    *out = &s->base;
    return ST_OK;
}

/* ---- removal ---- */

typedef struct upload_ids {
    char ids[16][S3R_TOKEN_MAX + 1];
    int n;
    const char *key;
} upload_ids;

static int collect_upload(const s3r_entry *en, void *ud)
{
    upload_ids *u = ud;
    if (!strcmp(en->key, u->key) && u->n < 16)
        snprintf(u->ids[u->n++], sizeof u->ids[0], "%s", en->upload_id);
    return 0;
}

/* The object, then any multipart upload left under the key (a dead writer's). */
static int bs3_remove(blob_store *b, const char *key, st_err *e)
{
    bs3_store *s = (bs3_store *)b;
    s3_error se;
    s3_page page;
    upload_ids u = {.key = key};
    if (!blob_key_valid(key))
        return st_fail(e, ST_E_INVALID, BS3, 0, "remove: invalid blob key");
    s3_error_clear(&se);
    s3_status rc = s3_delete_object(s->c, key, &se);
    if (rc == S3_OK)
        rc = s3_mpu_list_uploads(s->c, key, NULL, NULL, 16, collect_upload, &u, &page, &se);
    for (int i = 0; rc == S3_OK && i < u.n; i++)
        rc = s3_mpu_abort(s->c, key, u.ids[i], &se);
    return rc == S3_OK ? ST_OK : bs3_fail(e, rc, &se, "remove");
}

/* ---- listing ---- */

#define LIST_PAGE 1000

typedef struct list_page {
    struct {
        char key[BLOB_KEY_LEN + 1];
        uint64_t size;
        int64_t mtime;
    } * items;
    int n;
    char last[S3R_KEY_MAX + 1]; /* the last key seen, ours or not: where the next page starts */
} list_page;

static int collect_object(const s3r_entry *en, void *ud)
{
    list_page *p = ud;
    snprintf(p->last, sizeof p->last, "%s", en->key);
    if (!blob_key_valid(en->key) || p->n == LIST_PAGE)
        return 0; /* not a blob of ours (another tool's object under the prefix) */
    memcpy(p->items[p->n].key, en->key, BLOB_KEY_LEN + 1);
    p->items[p->n].size = en->size;
    p->items[p->n].mtime = en->time;
    p->n++;
    return 0;
}

/* Reports one page's blobs (after the request: cb may call the store). */
static int report(list_page *p, int *count, blob_list_cb cb, void *userdata)
{
    for (int i = 0; i < p->n; i++) {
        int stop = cb(p->items[i].key, p->items[i].size, p->items[i].mtime, userdata);
        if (stop)
            return stop;
        (*count)++;
    }
    p->n = 0;
    return 0;
}

static int bs3_list(
    blob_store *b, const char *after, int limit, blob_list_cb cb, void *userdata, st_err *e)
{
    bs3_store *s = (bs3_store *)b;
    list_page p = {0};
    s3_page page = {0};
    s3_error se;
    int count = 0, stop = 0;
    if (!after || (after[0] && !blob_key_valid(after)) || limit <= 0)
        return st_fail(e, ST_E_INVALID, BS3, 0, "list: invalid cursor or limit");
    if (!(p.items = malloc(LIST_PAGE * sizeof *p.items)))
        return st_fail(e, ST_E_NOMEM, BS3, 0, "list: out of memory");
    snprintf(p.last, sizeof p.last, "%s", after);
    s3_error_clear(&se);
    s3_status rc;
    do {
        int want = limit - count < LIST_PAGE ? limit - count : LIST_PAGE;
        rc = s3_list_objects_after(s->c, NULL, p.last, want, collect_object, &p, &page, &se);
        if (rc == S3_OK)
            stop = report(&p, &count, cb, userdata);
    } while (rc == S3_OK && !stop && page.truncated && count < limit);
    free(p.items);
    if (rc != S3_OK)
        return bs3_fail(e, rc, &se, "list");
    return stop ? stop : count;
}

/* ---- reaping ---- */

static int bs3_reap(blob_store *b, int64_t older_than, st_err *e)
{
    bs3_store *s = (bs3_store *)b;
    s3_error se;
    size_t n = 0;
    s3_error_clear(&se);
    s3_status rc = s3_reap_uploads_before(s->c, NULL, older_than, &n, &se);
    if (rc != S3_OK)
        return bs3_fail(e, rc, &se, "reap unfinished uploads");
    return (int)n;
}

const blob_ops bs3_ops = {
    .version = BLOB_OPS_VERSION,
    .name = "s3",
    .caps = BLOB_CAP_COMPOSE,
    .writer_open = bs3_writer_open,
    .write = bs3_write,
    .commit = bs3_commit,
    .abort = bs3_abort,
    .compose = bs3_compose,
    .reader_open = bs3_reader_open,
    .read = bs3_read,
    .reader_take_fd = NULL,
    .reader_close = bs3_reader_close,
    .remove = bs3_remove,
    .list = bs3_list,
    .reap_unfinished = bs3_reap,
    .free = bs3_free,
};
