/*
 * Contract test for meta_store backends. Everything above "backend-specific" goes through the
 * ops table only, so a new backend (PostgreSQL) reuses it by changing store_open() alone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/blob/blob.h"
#include "server/meta/meta.h"

#define NOW     1700000000
#define BIG_MAX ((int64_t)1 << 40)

typedef struct fx {
    char dir[64];
    char path[96];
    meta_store *s;
} fx;

/* ---- backend factory: the only backend-specific part of the contract ---- */

static int store_open(fx *f)
{
    return meta_sqlite_open(&f->s, f->path);
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    strcpy(f->dir, "/tmp/argot-meta-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    (void)snprintf(f->path, sizeof f->path, "%s/meta.db", f->dir);
    assert_int_equal(store_open(f), META_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    char cmd[128];
    meta_store_free(f->s);
    (void)snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* ---- helpers ---- */

static void hash_of(uint8_t h[32], int n)
{
    memset(h, 0, 32);
    memcpy(h, &n, sizeof n);
    h[31] = 0x5a;
}

static void key_make(meta_key *k, const char *id, const char *org)
{
    memset(k, 0, sizeof *k);
    (void)snprintf(k->id, sizeof k->id, "%s", id);
    (void)snprintf(k->org, sizeof k->org, "%s", org);
    (void)snprintf(k->name, sizeof k->name, "name of %s", id);
    k->created_at = NOW;
}

static void file_make(meta_file *f,
                      const char *org,
                      const char *id,
                      const char *purpose,
                      int64_t bytes,
                      int64_t created_at,
                      int64_t expires_at)
{
    memset(f, 0, sizeof *f);
    (void)snprintf(f->id, sizeof f->id, "%s", id);
    (void)snprintf(f->org, sizeof f->org, "%s", org);
    (void)snprintf(f->purpose, sizeof f->purpose, "%s", purpose);
    (void)snprintf(f->filename, sizeof f->filename, "%s.jsonl", id);
    f->bytes = bytes;
    f->created_at = created_at;
    f->expires_at = expires_at;
    assert_int_equal(blob_key_new(f->blob), ST_OK);
}

/* The whole upload protocol: intent, reserve, commit. */
static int upload(meta_store *s, const meta_file *f, int64_t org_max)
{
    int rc = s->ops->intent_open(s, f->org, f->blob, f->created_at);
    if (rc != META_OK)
        return rc;
    if (f->bytes > 0) {
        rc = s->ops->intent_reserve(s, f->blob, f->bytes, org_max);
        if (rc != META_OK) {
            assert_int_equal(s->ops->intent_drop(s, f->blob), META_OK);
            return rc;
        }
    }
    return s->ops->file_commit(s, f, org_max);
}

static void put(meta_store *s, const char *org, const char *id, int64_t bytes, int64_t created)
{
    meta_file f;
    file_make(&f, org, id, "assistants", bytes, created, 0);
    assert_int_equal(upload(s, &f, BIG_MAX), META_OK);
}

static void usage_is(meta_store *s, const char *org, int64_t used, int64_t reserved)
{
    int64_t u = -1, r = -1;
    assert_int_equal(s->ops->org_usage(s, org, &u, &r), META_OK);
    assert_int_equal(u, used);
    assert_int_equal(r, reserved);
}

/* ---- keys ---- */

static int count_key_cb(const meta_key *k, void *userdata)
{
    int *n = userdata;
    assert_true(k->id[0] != '\0');
    (*n)++;
    return 0;
}

static int stop_key_cb(const meta_key *k, void *userdata)
{
    (void)k;
    (void)userdata;
    return 7;
}

static void test_keys(void **state)
{
    meta_store *s = ((fx *)*state)->s;
    uint8_t h1[32], h2[32], h3[32];
    char org[META_ORG_MAX];
    meta_key k;
    int64_t n = -1;
    int seen = 0;

    hash_of(h1, 1), hash_of(h2, 2), hash_of(h3, 3);
    key_make(&k, "key_1", "org-a");
    assert_int_equal(s->ops->key_create(s, &k, h1), META_OK);
    key_make(&k, "key_2", "org_b");
    assert_int_equal(s->ops->key_create(s, &k, h2), META_OK);
    assert_int_equal(s->ops->key_create(s, &k, h3), META_E_CONFLICT); /* same id */
    key_make(&k, "key_3", "org_b");
    assert_int_equal(s->ops->key_create(s, &k, h1), META_E_CONFLICT); /* same hash */
    key_make(&k, "key_4", "bad org");
    assert_int_equal(s->ops->key_create(s, &k, h3), META_E_INVALID);

    assert_int_equal(s->ops->key_lookup(s, h1, org), META_OK);
    assert_string_equal(org, "org-a");
    assert_int_equal(s->ops->key_lookup(s, h2, org), META_OK);
    assert_string_equal(org, "org_b");
    assert_int_equal(s->ops->key_lookup(s, h3, org), META_E_NOTFOUND);

    assert_int_equal(s->ops->key_count_active(s, &n), META_OK);
    assert_int_equal(n, 2);
    assert_int_equal(s->ops->key_list(s, count_key_cb, &seen), META_OK);
    assert_int_equal(seen, 2);
    assert_int_equal(s->ops->key_list(s, stop_key_cb, NULL), 7);

    assert_int_equal(s->ops->key_revoke(s, "key_1", NOW + 1), META_OK);
    assert_int_equal(s->ops->key_revoke(s, "key_1", NOW + 2), META_E_NOTFOUND);
    assert_int_equal(s->ops->key_revoke(s, "key_none", NOW), META_E_NOTFOUND);
    assert_int_equal(s->ops->key_lookup(s, h1, org), META_E_NOTFOUND);
    assert_int_equal(s->ops->key_count_active(s, &n), META_OK);
    assert_int_equal(n, 1);
    seen = 0;
    assert_int_equal(s->ops->key_list(s, count_key_cb, &seen), META_OK);
    assert_int_equal(seen, 2); /* revoked keys are still listed */
}

/* ---- intents and quota ---- */

static void test_intent_reserve_quota(void **state)
{
    meta_store *s = ((fx *)*state)->s;
    char b1[BLOB_KEY_LEN + 1], b2[BLOB_KEY_LEN + 1];

    blob_key_new(b1), blob_key_new(b2);
    assert_int_equal(s->ops->intent_open(s, "org", b1, NOW), META_OK);
    assert_int_equal(s->ops->intent_open(s, "org", b1, NOW), META_E_CONFLICT);
    assert_int_equal(s->ops->intent_open(s, "org", "nothex", NOW), META_E_INVALID);
    assert_int_equal(s->ops->intent_open(s, "", b2, NOW), META_E_INVALID);
    assert_int_equal(s->ops->intent_open(s, "org", b2, NOW), META_OK);

    assert_int_equal(s->ops->intent_reserve(s, b1, 60, 100), META_OK);
    usage_is(s, "org", 0, 60);
    assert_int_equal(s->ops->intent_reserve(s, b2, 41, 100), META_E_QUOTA);
    usage_is(s, "org", 0, 60); /* unchanged */
    assert_int_equal(s->ops->intent_reserve(s, b2, 40, 100), META_OK);
    usage_is(s, "org", 0, 100);
    assert_int_equal(s->ops->intent_reserve(s, b1, 1, 100), META_E_QUOTA);
    assert_int_equal(s->ops->intent_reserve(s, b1, 0, 100), META_E_INVALID);
    assert_int_equal(s->ops->intent_reserve(s, b1, INT64_MAX, INT64_MAX), META_E_QUOTA);

    assert_int_equal(s->ops->intent_drop(s, b1), META_OK);
    usage_is(s, "org", 0, 40);
    assert_int_equal(s->ops->intent_drop(s, b1), META_E_NOTFOUND);
    assert_int_equal(s->ops->intent_reserve(s, b1, 1, 100), META_E_NOTFOUND);
    assert_int_equal(s->ops->intent_drop(s, b2), META_OK);
    usage_is(s, "org", 0, 0);
    usage_is(s, "never-seen", 0, 0);
}

static void test_commit_quota(void **state)
{
    meta_store *s = ((fx *)*state)->s;
    meta_file a, b, c;

    file_make(&a, "org", "file-a", "batch", 80, NOW, 0);
    assert_int_equal(upload(s, &a, 100), META_OK);
    usage_is(s, "org", 80, 0);

    /* Reserved 10, but the real size is 30: commit must refuse and change nothing. */
    file_make(&b, "org", "file-b", "batch", 30, NOW, 0);
    assert_int_equal(s->ops->intent_open(s, "org", b.blob, NOW), META_OK);
    assert_int_equal(s->ops->intent_reserve(s, b.blob, 10, 100), META_OK);
    assert_int_equal(s->ops->file_commit(s, &b, 100), META_E_QUOTA);
    usage_is(s, "org", 80, 10);
    assert_int_equal(s->ops->blob_referenced(s, b.blob), 1);
    b.bytes = 20;
    assert_int_equal(s->ops->file_commit(s, &b, 100), META_OK);
    usage_is(s, "org", 100, 0);

    /* Other uploads' reservations count against a commit. */
    assert_int_equal(s->ops->file_delete(s, "org", "file-a", NOW, &a), META_OK);
    usage_is(s, "org", 20, 0);
    file_make(&c, "org", "file-c", "batch", 50, NOW, 0);
    assert_int_equal(s->ops->intent_open(s, "org", c.blob, NOW), META_OK);
    assert_int_equal(s->ops->intent_reserve(s, c.blob, 50, 100), META_OK);
    file_make(&a, "org", "file-d", "batch", 31, NOW, 0);
    assert_int_equal(upload(s, &a, 100), META_E_QUOTA);
    usage_is(s, "org", 20, 50);
    a.bytes = 30;
    assert_int_equal(upload(s, &a, 100), META_OK);
    usage_is(s, "org", 50, 50);
}

static void test_commit_errors(void **state)
{
    meta_store *s = ((fx *)*state)->s;
    meta_file f, g;

    file_make(&f, "org", "file-1", "batch", 5, NOW, 0);
    assert_int_equal(s->ops->file_commit(s, &f, BIG_MAX), META_E_NOTFOUND); /* no intent */
    assert_int_equal(upload(s, &f, BIG_MAX), META_OK);

    file_make(&g, "org", "file-1", "batch", 5, NOW, 0); /* same id, new blob */
    assert_int_equal(s->ops->intent_open(s, "org", g.blob, NOW), META_OK);
    assert_int_equal(s->ops->intent_reserve(s, g.blob, 5, BIG_MAX), META_OK);
    assert_int_equal(s->ops->file_commit(s, &g, BIG_MAX), META_E_CONFLICT);
    usage_is(s, "org", 5, 5); /* rolled back: the intent and its reservation remain */
    assert_int_equal(s->ops->blob_referenced(s, g.blob), 1);

    (void)snprintf(g.id, sizeof g.id, "file-2");
    (void)snprintf(g.org, sizeof g.org, "other");
    assert_int_equal(s->ops->file_commit(s, &g, BIG_MAX), META_E_INVALID); /* wrong org */
    (void)snprintf(g.org, sizeof g.org, "org");
    g.bytes = -1;
    assert_int_equal(s->ops->file_commit(s, &g, BIG_MAX), META_E_INVALID);
    g.bytes = 5;
    g.id[0] = '\0';
    assert_int_equal(s->ops->file_commit(s, &g, BIG_MAX), META_E_INVALID);
    (void)snprintf(g.id, sizeof g.id, "file-2");
    assert_int_equal(s->ops->file_commit(s, &g, BIG_MAX), META_OK);
    usage_is(s, "org", 10, 0);
}

typedef struct blob_set {
    char keys[16][BLOB_KEY_LEN + 1];
    int n;
} blob_set;

static int collect_blob_cb(const char *blob, void *userdata)
{
    blob_set *bs = userdata;
    assert_true(bs->n < 16);
    (void)snprintf(bs->keys[bs->n++], sizeof bs->keys[0], "%s", blob);
    return 0;
}

static int has_key(const blob_set *bs, const char *k)
{
    for (int i = 0; i < bs->n; i++) {
        if (strcmp(bs->keys[i], k) == 0)
            return 1;
    }
    return 0;
}

static void test_intent_take_all(void **state)
{
    meta_store *s = ((fx *)*state)->s;
    char b[3][BLOB_KEY_LEN + 1];
    blob_set got = {.n = 0};

    put(s, "org1", "keep", 7, NOW);
    for (int i = 0; i < 3; i++) {
        blob_key_new(b[i]);
        assert_int_equal(s->ops->intent_open(s, i ? "org1" : "org2", b[i], NOW), META_OK);
        assert_int_equal(s->ops->intent_reserve(s, b[i], 10 + i, BIG_MAX), META_OK);
    }
    usage_is(s, "org1", 7, 23);
    usage_is(s, "org2", 0, 10);
    assert_int_equal(s->ops->intent_take_all(s, collect_blob_cb, &got), META_OK);
    assert_int_equal(got.n, 3);
    for (int i = 0; i < 3; i++) {
        assert_true(has_key(&got, b[i]));
        assert_int_equal(s->ops->blob_referenced(s, b[i]), 0);
    }
    usage_is(s, "org1", 7, 0);
    usage_is(s, "org2", 0, 0);
    got.n = 0;
    assert_int_equal(s->ops->intent_take_all(s, collect_blob_cb, &got), META_OK);
    assert_int_equal(got.n, 0);
}

/* ---- files ---- */

static void test_get_delete_accounting(void **state)
{
    meta_store *s = ((fx *)*state)->s;
    meta_file f, out;
    meta_stats st;

    file_make(&f, "org", "file-x", "fine-tune", 123, NOW, 0);
    assert_int_equal(upload(s, &f, BIG_MAX), META_OK);
    put(s, "org", "file-y", 1000, NOW);
    assert_int_equal(s->ops->file_get(s, "org", "file-x", NOW, &out), META_OK);
    assert_string_equal(out.id, "file-x");
    assert_string_equal(out.org, "org");
    assert_string_equal(out.purpose, "fine-tune");
    assert_string_equal(out.filename, "file-x.jsonl");
    assert_string_equal(out.blob, f.blob);
    assert_int_equal(out.bytes, 123);
    assert_int_equal(out.created_at, NOW);
    assert_int_equal(out.expires_at, 0);
    assert_int_equal(s->ops->stats(s, &st), META_OK);
    assert_int_equal(st.files, 2);
    assert_int_equal(st.bytes, 1123);
    usage_is(s, "org", 1123, 0);

    memset(&out, 0, sizeof out);
    assert_int_equal(s->ops->file_delete(s, "org", "file-x", NOW, &out), META_OK);
    assert_string_equal(out.blob, f.blob);
    assert_int_equal(out.bytes, 123);
    usage_is(s, "org", 1000, 0);
    assert_int_equal(s->ops->blob_referenced(s, f.blob), 0);
    assert_int_equal(s->ops->file_get(s, "org", "file-x", NOW, &out), META_E_NOTFOUND);
    assert_int_equal(s->ops->file_delete(s, "org", "file-x", NOW, &out), META_E_NOTFOUND);
    assert_int_equal(s->ops->file_get(s, "org", "", NOW, &out), META_E_INVALID);
    assert_int_equal(s->ops->blob_referenced(s, "../etc/passwd"), META_E_INVALID);
}

static int count_file_cb(const meta_file *f, void *userdata)
{
    (void)f;
    (*(int *)userdata)++;
    return 0;
}

static void test_org_isolation(void **state)
{
    meta_store *s = ((fx *)*state)->s;
    meta_list_req req = {.org = "org-b", .limit = 100, .now = NOW};
    meta_file out;
    int n = 0, more = -1;

    put(s, "org-a", "file-a", 10, NOW);
    assert_int_equal(s->ops->file_get(s, "org-b", "file-a", NOW, &out), META_E_NOTFOUND);
    assert_int_equal(s->ops->file_delete(s, "org-b", "file-a", NOW, &out), META_E_NOTFOUND);
    assert_int_equal(s->ops->file_list(s, &req, count_file_cb, &n, &more), META_OK);
    assert_int_equal(n, 0);
    assert_int_equal(more, 0);
    req.after = "file-a";
    assert_int_equal(s->ops->file_list(s, &req, count_file_cb, &n, &more), META_E_NOTFOUND);
    usage_is(s, "org-a", 10, 0);
    usage_is(s, "org-b", 0, 0);
    assert_int_equal(s->ops->file_get(s, "org-a", "file-a", NOW, &out), META_OK);
}

#define NPAGED 250

/* test_pagination names the i-th file created "file-<(i * 97) % NPAGED>"; 183 is the inverse
 * of 97 modulo 250, so this gives i back. */
static int creation_seq(const char *id)
{
    return (atoi(id + 5) * 183) % NPAGED;
}

typedef struct page {
    meta_file last;
    int n;
    int desc;
    const char *purpose;
    char (*seen)[META_ID_MAX];
    int nseen;
} page;

static int page_cb(const meta_file *f, void *userdata)
{
    page *p = userdata;
    if (p->n > 0 || p->nseen > 0) { /* strictly ordered by (created_at, creation order) */
        int cmp = f->created_at != p->last.created_at
                      ? (f->created_at < p->last.created_at ? -1 : 1)
                      : creation_seq(f->id) - creation_seq(p->last.id);
        assert_true(p->desc ? cmp < 0 : cmp > 0);
    }
    if (p->purpose)
        assert_string_equal(f->purpose, p->purpose);
    p->last = *f;
    (void)snprintf(p->seen[p->nseen++], META_ID_MAX, "%s", f->id);
    p->n++;
    return 0;
}

/* Pages through everything and returns how many files were seen. */
static int page_all(meta_store *s,
                    const char *org,
                    const char *purpose,
                    int desc,
                    int limit,
                    char (*seen)[META_ID_MAX])
{
    page p = {.desc = desc, .purpose = purpose, .seen = seen};
    meta_list_req req = {.org = org, .purpose = purpose, .desc = desc, .limit = limit, .now = NOW};
    char after[META_ID_MAX];
    int more = 1;

    while (more) {
        p.n = 0;
        assert_int_equal(s->ops->file_list(s, &req, page_cb, &p, &more), META_OK);
        assert_true(p.n <= limit);
        if (more)
            assert_int_equal(p.n, limit);
        if (p.n == 0)
            break;
        (void)snprintf(after, sizeof after, "%s", p.last.id);
        req.after = after;
    }
    return p.nseen;
}

static int id_cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void assert_unique(char (*seen)[META_ID_MAX], int n)
{
    qsort(seen, (size_t)n, META_ID_MAX, id_cmp);
    for (int i = 1; i < n; i++)
        assert_true(strcmp(seen[i - 1], seen[i]) != 0);
}

static void test_pagination(void **state)
{
    meta_store *s = ((fx *)*state)->s;
    char(*seen)[META_ID_MAX] = calloc(NPAGED + 10, META_ID_MAX);
    static const int limits[] = {1, 7, 10, 249, 250, 251, 10000};
    meta_file f;
    char id[32];

    assert_non_null(seen);
    for (int i = 0; i < NPAGED; i++) {
        /* Ids not in creation order; ten files share each created_at. */
        (void)snprintf(id, sizeof id, "file-%03d", (i * 97) % NPAGED);
        file_make(&f, "org", id, i % 3 == 0 ? "batch" : "assistants", 1, NOW + i / 10, 0);
        assert_int_equal(upload(s, &f, BIG_MAX), META_OK);
    }
    put(s, "other", "file-zzz", 1, NOW); /* never in org's pages */
    for (size_t l = 0; l < sizeof limits / sizeof limits[0]; l++) {
        for (int desc = 0; desc < 2; desc++) {
            assert_int_equal(page_all(s, "org", NULL, desc, limits[l], seen), NPAGED);
            assert_unique(seen, NPAGED);
            assert_int_equal(page_all(s, "org", "batch", desc, limits[l], seen), 84);
            assert_unique(seen, 84);
        }
    }
    free(seen);
}

static void test_list_errors(void **state)
{
    meta_store *s = ((fx *)*state)->s;
    meta_list_req req = {.org = "org", .limit = 10, .now = NOW, .after = "file-none"};
    int n = 0, more = 0;

    put(s, "org", "file-1", 1, NOW);
    put(s, "org", "file-2", 1, NOW);
    assert_int_equal(s->ops->file_list(s, &req, count_file_cb, &n, &more), META_E_NOTFOUND);
    req.after = NULL;
    req.limit = 0;
    assert_int_equal(s->ops->file_list(s, &req, count_file_cb, &n, &more), META_E_INVALID);
    req.limit = 10001;
    assert_int_equal(s->ops->file_list(s, &req, count_file_cb, &n, &more), META_E_INVALID);
    req.limit = 1;
    assert_int_equal(s->ops->file_list(s, &req, count_file_cb, &n, &more), META_OK);
    assert_int_equal(n, 1);
    assert_int_equal(more, 1);
    req.org = "bad org!";
    assert_int_equal(s->ops->file_list(s, &req, count_file_cb, &n, &more), META_E_INVALID);
}

static int stop_file_cb(const meta_file *f, void *userdata)
{
    (void)f;
    (void)userdata;
    return 42;
}

static void test_list_stop(void **state)
{
    meta_store *s = ((fx *)*state)->s;
    meta_list_req req = {.org = "org", .limit = 10, .now = NOW};
    int more = 0;

    put(s, "org", "file-1", 1, NOW);
    assert_int_equal(s->ops->file_list(s, &req, stop_file_cb, NULL, &more), 42);
    /* The store is still usable afterwards. */
    put(s, "org", "file-2", 1, NOW);
}

static void test_expiry(void **state)
{
    meta_store *s = ((fx *)*state)->s;
    meta_list_req req = {.org = "org", .limit = 10, .now = NOW + 100};
    meta_file f, g, out;
    blob_set none = {.n = 0};
    int n = 0, more = 0;

    file_make(&f, "org", "file-exp", "batch", 40, NOW, NOW + 100);
    assert_int_equal(upload(s, &f, BIG_MAX), META_OK);
    file_make(&g, "org", "file-later", "batch", 2, NOW, NOW + 200);
    assert_int_equal(upload(s, &g, BIG_MAX), META_OK);
    put(s, "org", "file-keep", 5, NOW);
    usage_is(s, "org", 47, 0);

    assert_int_equal(s->ops->file_get(s, "org", "file-exp", NOW + 99, &out), META_OK);
    assert_int_equal(out.expires_at, NOW + 100);
    assert_int_equal(s->ops->file_get(s, "org", "file-exp", NOW + 100, &out), META_E_NOTFOUND);
    assert_int_equal(s->ops->file_delete(s, "org", "file-exp", NOW + 100, &out), META_E_NOTFOUND);
    assert_int_equal(s->ops->file_list(s, &req, count_file_cb, &n, &more), META_OK);
    assert_int_equal(n, 2);
    req.after = "file-exp"; /* an expired file still works as a cursor */
    assert_int_equal(s->ops->file_list(s, &req, count_file_cb, &n, &more), META_OK);

    (void)none;
    n = 0;
    assert_int_equal(s->ops->expired_take(s, NOW + 99, 10, count_file_cb, &n), 0);
    assert_int_equal(s->ops->expired_take(s, NOW + 100, 10, count_file_cb, &n), 1);
    assert_int_equal(n, 1);
    usage_is(s, "org", 7, 0);
    assert_int_equal(s->ops->blob_referenced(s, f.blob), 0);
    assert_int_equal(s->ops->blob_referenced(s, g.blob), 1);
    assert_int_equal(s->ops->expired_take(s, NOW + 100, 10, count_file_cb, &n), 0);
    assert_int_equal(s->ops->expired_take(s, NOW + 1000, 1, stop_file_cb, NULL), 1);
    usage_is(s, "org", 5, 0);
    assert_int_equal(s->ops->expired_take(s, NOW, 0, count_file_cb, &n), META_E_INVALID);
}

static void count_is(meta_store *s, const char *org, int64_t now, int64_t want)
{
    int64_t n = -1;
    assert_int_equal(s->ops->org_file_count(s, org, now, &n), META_OK);
    assert_int_equal(n, want);
}

/* org_file_count: visible files of one org, every purpose; expired ones are gone at once. */
static void test_org_file_count(void **state)
{
    meta_store *s = ((fx *)*state)->s;
    meta_file f, out;
    int64_t n;
    int taken = 0;

    if (!s->ops->org_file_count)
        skip();                 /* optional op */
    count_is(s, "org", NOW, 0); /* never seen */
    put(s, "org", "file-a", 1, NOW);
    put(s, "org", "file-b", 2, NOW);
    put(s, "other", "file-c", 3, NOW);
    file_make(&f, "org", "file-exp", "batch", 4, NOW, NOW + 100);
    assert_int_equal(upload(s, &f, BIG_MAX), META_OK);
    file_make(&f, "other", "file-exp2", "batch", 4, NOW, NOW + 50);
    assert_int_equal(upload(s, &f, BIG_MAX), META_OK);
    count_is(s, "org", NOW + 99, 3);
    count_is(s, "org", NOW + 100, 2); /* expired, not yet swept */
    count_is(s, "other", NOW + 49, 2);
    count_is(s, "other", NOW + 100, 1);
    assert_int_equal(s->ops->file_delete(s, "org", "file-a", NOW, &out), META_OK);
    count_is(s, "org", NOW, 2);
    assert_int_equal(s->ops->expired_take(s, NOW + 100, 10, count_file_cb, &taken), 2);
    count_is(s, "org", NOW + 100, 1);
    count_is(s, "org", NOW, 1);
    assert_int_equal(s->ops->org_file_count(s, "bad org", NOW, &n), META_E_INVALID);
    assert_int_equal(s->ops->org_file_count(s, "org", NOW, NULL), META_E_INVALID);
}

/* ---- tombstones: deleted and expired files stay valid cursors ---- */

typedef struct ids {
    char v[64][META_ID_MAX];
    int n;
} ids;

static int ids_cb(const meta_file *f, void *userdata)
{
    ids *x = userdata;
    assert_true(x->n < 64);
    (void)snprintf(x->v[x->n++], META_ID_MAX, "%s", f->id);
    return 0;
}

/* One page after `after` (NULL: the first); returns the store's code. */
static int page_ids(
    meta_store *s, const char *org, const char *after, int desc, int limit, ids *out, int *more)
{
    meta_list_req req = {.org = org, .after = after, .desc = desc, .limit = limit, .now = NOW};
    out->n = 0;
    return s->ops->file_list(s, &req, ids_cb, out, more);
}

/* The official clients' auto-pagination while deleting every file it is handed: each next page
 * starts after the last id of the previous one, which is deleted by then. */
static void delete_while_paging(meta_store *s, int desc)
{
    char after[META_ID_MAX] = "", id[32];
    int deleted = 0, more = 1;
    ids pg;
    meta_file out;

    for (int i = 0; i < 25; i++) {
        (void)snprintf(id, sizeof id, "file-%c%02d", desc ? 'd' : 'a', i);
        put(s, "org", id, 10, NOW + i / 4); /* four files share each second */
    }
    while (more) {
        assert_int_equal(page_ids(s, "org", after[0] ? after : NULL, desc, 10, &pg, &more),
                         META_OK);
        for (int i = 0; i < pg.n; i++) {
            (void)snprintf(id, sizeof id, "file-%c%02d", desc ? 'd' : 'a',
                           desc ? 24 - deleted : deleted);
            assert_string_equal(pg.v[i], id); /* in order, none skipped */
            assert_int_equal(s->ops->file_delete(s, "org", pg.v[i], NOW + 50, &out), META_OK);
            deleted++;
        }
        if (pg.n)
            (void)snprintf(after, sizeof after, "%s", pg.v[pg.n - 1]);
    }
    assert_int_equal(deleted, 25);
    usage_is(s, "org", 0, 0);
}

static void test_tombstone_delete_while_paging(void **state)
{
    meta_store *s = ((fx *)*state)->s;
    delete_while_paging(s, 1);
    delete_while_paging(s, 0);
}

static void test_tombstone_scope(void **state)
{
    meta_store *s = ((fx *)*state)->s;
    meta_file out;
    ids pg;
    int more = 0;

    put(s, "org-a", "file-1", 1, NOW);
    put(s, "org-a", "file-2", 1, NOW + 1);
    put(s, "org-a", "file-3", 1, NOW + 2);
    assert_int_equal(s->ops->file_delete(s, "org-a", "file-2", NOW + 10, &out), META_OK);
    /* The deleted file is gone for every read but the cursor. */
    assert_int_equal(s->ops->file_get(s, "org-a", "file-2", NOW + 10, &out), META_E_NOTFOUND);
    assert_int_equal(s->ops->file_delete(s, "org-a", "file-2", NOW + 10, &out), META_E_NOTFOUND);
    assert_int_equal(page_ids(s, "org-a", "file-2", 1, 10, &pg, &more), META_OK);
    assert_int_equal(pg.n, 1);
    assert_string_equal(pg.v[0], "file-1");
    assert_int_equal(page_ids(s, "org-a", "file-2", 0, 10, &pg, &more), META_OK);
    assert_int_equal(pg.n, 1);
    assert_string_equal(pg.v[0], "file-3");
    /* Only the organization the file belonged to may use it; an id never seen is refused. */
    assert_int_equal(page_ids(s, "org-b", "file-2", 1, 10, &pg, &more), META_E_NOTFOUND);
    assert_int_equal(page_ids(s, "org-a", "file-never", 1, 10, &pg, &more), META_E_NOTFOUND);
    /* A failed delete leaves no tombstone. */
    assert_int_equal(s->ops->file_delete(s, "org-b", "file-3", NOW + 10, &out), META_E_NOTFOUND);
    assert_int_equal(page_ids(s, "org-b", "file-3", 1, 10, &pg, &more), META_E_NOTFOUND);
}

static void test_tombstone_expired_and_purge(void **state)
{
    meta_store *s = ((fx *)*state)->s;
    meta_file f, out;
    ids pg;
    int n = 0, more = 0;

    put(s, "org", "file-old", 1, NOW);
    file_make(&f, "org", "file-exp", "batch", 1, NOW + 1, NOW + 100);
    assert_int_equal(upload(s, &f, BIG_MAX), META_OK);
    put(s, "org", "file-new", 1, NOW + 2);
    assert_int_equal(s->ops->expired_take(s, NOW + 100, 10, count_file_cb, &n), 1);
    assert_int_equal(page_ids(s, "org", "file-exp", 1, 10, &pg, &more), META_OK);
    assert_int_equal(pg.n, 1);
    assert_string_equal(pg.v[0], "file-old");
    assert_int_equal(s->ops->file_delete(s, "org", "file-old", NOW + 200, &out), META_OK);

    /* Purged only once `before` reaches their deletion time (inclusive). */
    assert_int_equal(s->ops->tombstone_purge(s, NOW + 99), 0);
    assert_int_equal(s->ops->tombstone_purge(s, NOW + 100), 1);
    assert_int_equal(page_ids(s, "org", "file-exp", 1, 10, &pg, &more), META_E_NOTFOUND);
    assert_int_equal(page_ids(s, "org", "file-old", 0, 10, &pg, &more), META_OK);
    assert_int_equal(pg.n, 1);
    assert_int_equal(s->ops->tombstone_purge(s, NOW + 1000), 1);
    assert_int_equal(s->ops->tombstone_purge(s, NOW + 1000), 0);
    assert_int_equal(page_ids(s, "org", "file-old", 0, 10, &pg, &more), META_E_NOTFOUND);
}

/* A file created after the newest file was deleted, in the same second, must not take its
 * place: a cursor naming the deleted one would skip it. */
static void test_tombstone_place_not_reused(void **state)
{
    meta_store *s = ((fx *)*state)->s;
    meta_file out;
    ids pg;
    int more = 0;

    put(s, "org", "file-1", 1, NOW);
    put(s, "org", "file-2", 1, NOW);
    assert_int_equal(s->ops->file_delete(s, "org", "file-2", NOW, &out), META_OK);
    put(s, "org", "file-3", 1, NOW);
    assert_int_equal(page_ids(s, "org", "file-2", 0, 10, &pg, &more), META_OK);
    assert_int_equal(pg.n, 1);
    assert_string_equal(pg.v[0], "file-3");
    assert_int_equal(page_ids(s, "org", "file-2", 1, 10, &pg, &more), META_OK);
    assert_int_equal(pg.n, 1);
    assert_string_equal(pg.v[0], "file-1");
    /* Even once every file is gone. */
    assert_int_equal(s->ops->file_delete(s, "org", "file-3", NOW, &out), META_OK);
    assert_int_equal(s->ops->file_delete(s, "org", "file-1", NOW, &out), META_OK);
    put(s, "org", "file-4", 1, NOW);
    assert_int_equal(page_ids(s, "org", "file-3", 0, 10, &pg, &more), META_OK);
    assert_int_equal(pg.n, 1);
    assert_string_equal(pg.v[0], "file-4");
}

static void test_blob_referenced(void **state)
{
    meta_store *s = ((fx *)*state)->s;
    meta_file f, out;

    file_make(&f, "org", "file-r", "batch", 3, NOW, 0);
    assert_int_equal(s->ops->blob_referenced(s, f.blob), 0);
    assert_int_equal(s->ops->intent_open(s, "org", f.blob, NOW), META_OK);
    assert_int_equal(s->ops->blob_referenced(s, f.blob), 1);
    assert_int_equal(s->ops->file_commit(s, &f, BIG_MAX), META_OK);
    assert_int_equal(s->ops->blob_referenced(s, f.blob), 1);
    assert_int_equal(s->ops->file_delete(s, "org", "file-r", NOW, &out), META_OK);
    assert_int_equal(s->ops->blob_referenced(s, f.blob), 0);
}

/* ---- uploads and parts ---- */

static void upload_make(meta_upload *u, const char *org, const char *id, int64_t bytes)
{
    memset(u, 0, sizeof *u);
    (void)snprintf(u->id, sizeof u->id, "%s", id);
    (void)snprintf(u->org, sizeof u->org, "%s", org);
    (void)snprintf(u->filename, sizeof u->filename, "%s.jsonl", id);
    (void)snprintf(u->purpose, sizeof u->purpose, "fine-tune");
    (void)snprintf(u->mime_type, sizeof u->mime_type, "text/jsonl");
    u->bytes = bytes;
    u->created_at = NOW;
    u->expires_at = NOW + 3600;
}

/* A part the way the server adds one: intent, reservation, durable blob, part_commit. */
static int part_add(meta_store *s,
                    meta_part *p,
                    const char *org,
                    const char *upload_id,
                    const char *id,
                    int64_t bytes,
                    int64_t org_max)
{
    memset(p, 0, sizeof *p);
    (void)snprintf(p->id, sizeof p->id, "%s", id);
    (void)snprintf(p->upload_id, sizeof p->upload_id, "%s", upload_id);
    (void)snprintf(p->org, sizeof p->org, "%s", org);
    assert_int_equal(blob_key_new(p->blob), ST_OK);
    p->bytes = bytes;
    p->created_at = NOW + 1;
    assert_int_equal(s->ops->intent_open(s, org, p->blob, NOW), META_OK);
    int rc = bytes > 0 ? s->ops->intent_reserve(s, p->blob, bytes, org_max) : META_OK;
    if (rc == META_OK)
        rc = s->ops->part_commit(s, p, NOW + 1, org_max);
    if (rc != META_OK)
        assert_int_equal(s->ops->intent_drop(s, p->blob), META_OK);
    return rc;
}

typedef struct part_list {
    meta_part v[16];
    int n;
} part_list;

static int collect_part_cb(const meta_part *p, void *userdata)
{
    part_list *l = userdata;
    assert_true(l->n < 16);
    l->v[l->n++] = *p;
    return 0;
}

static void test_upload_create_get(void **state)
{
    meta_store *s = ((fx *)*state)->s;
    meta_upload u, got;

    upload_make(&u, "org", "upload_1", 10);
    u.expires_after_seconds = 7200;
    assert_int_equal(s->ops->upload_create(s, &u), META_OK);
    assert_int_equal(s->ops->upload_create(s, &u), META_E_CONFLICT);
    assert_int_equal(s->ops->upload_get(s, "org", "upload_1", NOW, &got), META_OK);
    assert_string_equal(got.id, "upload_1");
    assert_string_equal(got.org, "org");
    assert_string_equal(got.filename, "upload_1.jsonl");
    assert_string_equal(got.purpose, "fine-tune");
    assert_string_equal(got.mime_type, "text/jsonl");
    assert_int_equal(got.bytes, 10);
    assert_int_equal(got.expires_after_seconds, 7200);
    assert_int_equal(got.created_at, NOW);
    assert_int_equal(got.expires_at, NOW + 3600);
    assert_int_equal(got.status, META_UPLOAD_PENDING);
    assert_string_equal(got.file_id, "");
    /* past expires_at it reads as expired, before any sweep */
    assert_int_equal(s->ops->upload_get(s, "org", "upload_1", NOW + 3600, &got), META_OK);
    assert_int_equal(got.status, META_UPLOAD_EXPIRED);
    assert_int_equal(s->ops->upload_get(s, "other", "upload_1", NOW, &got), META_E_NOTFOUND);
    assert_int_equal(s->ops->upload_get(s, "org", "upload_2", NOW, &got), META_E_NOTFOUND);
    upload_make(&u, "bad org", "upload_3", 1);
    assert_int_equal(s->ops->upload_create(s, &u), META_E_INVALID);
    upload_make(&u, "org", "upload_3", -1);
    assert_int_equal(s->ops->upload_create(s, &u), META_E_INVALID);
    usage_is(s, "org", 0, 0);
}

static void test_part_commit(void **state)
{
    meta_store *s = ((fx *)*state)->s;
    meta_upload u;
    meta_part p, q;
    part_list l = {.n = 0};

    upload_make(&u, "org", "upload_p", 100);
    assert_int_equal(s->ops->upload_create(s, &u), META_OK);
    assert_int_equal(part_add(s, &p, "org", "upload_p", "part_1", 60, 1000), META_OK);
    usage_is(s, "org", 60, 0); /* parts count against the quota */
    assert_int_equal(s->ops->blob_referenced(s, p.blob), 1);
    /* over twice the declared total (room for re-sent parts) */
    assert_int_equal(part_add(s, &q, "org", "upload_p", "part_2", 141, 1000), META_E_LIMIT);
    usage_is(s, "org", 60, 0);
    /* over the quota */
    assert_int_equal(part_add(s, &q, "org", "upload_p", "part_2", 40, 90), META_E_QUOTA);
    /* same part id */
    assert_int_equal(part_add(s, &q, "org", "upload_p", "part_1", 10, 1000), META_E_CONFLICT);
    /* unknown upload, upload of another org */
    assert_int_equal(part_add(s, &q, "org", "upload_x", "part_3", 10, 1000), META_E_NOTFOUND);
    assert_int_equal(part_add(s, &q, "org2", "upload_p", "part_3", 10, 1000), META_E_NOTFOUND);
    /* no intent */
    q = p;
    (void)snprintf(q.id, sizeof q.id, "part_4");
    q.bytes = 40;
    assert_int_equal(blob_key_new(q.blob), ST_OK);
    assert_int_equal(s->ops->part_commit(s, &q, NOW, 1000), META_E_NOTFOUND);
    /* expired by the clock */
    assert_int_equal(s->ops->intent_open(s, "org", q.blob, NOW), META_OK);
    assert_int_equal(s->ops->part_commit(s, &q, NOW + 3600, 1000), META_E_STATE);
    assert_int_equal(s->ops->part_commit(s, &q, NOW + 10, 1000), META_OK);
    usage_is(s, "org", 100, 0);
    assert_int_equal(s->ops->upload_parts(s, "org", "upload_p", collect_part_cb, &l), META_OK);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.v[0].id, "part_1");
    assert_string_equal(l.v[0].blob, p.blob);
    assert_int_equal(l.v[0].bytes, 60);
    assert_string_equal(l.v[1].id, "part_4");
    l.n = 0;
    assert_int_equal(s->ops->upload_parts(s, "org2", "upload_p", collect_part_cb, &l), META_OK);
    assert_int_equal(l.n, 0);
}

static void test_upload_complete(void **state)
{
    meta_store *s = ((fx *)*state)->s;
    meta_upload u, got;
    meta_part p1, p2, p3;
    meta_file f, out;
    blob_set removed = {.n = 0};

    upload_make(&u, "org", "upload_c", 30);
    assert_int_equal(s->ops->upload_create(s, &u), META_OK);
    assert_int_equal(part_add(s, &p1, "org", "upload_c", "part_a", 10, 1000), META_OK);
    assert_int_equal(part_add(s, &p2, "org", "upload_c", "part_b", 20, 1000), META_OK);
    usage_is(s, "org", 30, 0);

    file_make(&f, "org", "file-up", "fine-tune", 30, NOW, 0);
    /* no intent for the assembled blob */
    assert_int_equal(
        s->ops->upload_complete(s, "upload_c", &f, NOW, 1000, collect_blob_cb, &removed),
        META_E_NOTFOUND);
    assert_int_equal(removed.n, 0);
    assert_int_equal(s->ops->intent_open(s, "org", f.blob, NOW), META_OK);
    /* the file's bytes replace the parts': a quota that holds them holds the file */
    assert_int_equal(s->ops->upload_complete(s, "upload_c", &f, NOW, 29, collect_blob_cb, &removed),
                     META_E_QUOTA);
    usage_is(s, "org", 30, 0); /* rolled back */
    assert_int_equal(
        s->ops->upload_complete(s, "upload_x", &f, NOW, 1000, collect_blob_cb, &removed),
        META_E_NOTFOUND);
    assert_int_equal(
        s->ops->upload_complete(s, "upload_c", &f, NOW + 3600, 1000, collect_blob_cb, &removed),
        META_E_STATE);
    assert_int_equal(removed.n, 0);
    assert_int_equal(s->ops->upload_complete(s, "upload_c", &f, NOW, 30, collect_blob_cb, &removed),
                     META_OK);
    assert_int_equal(removed.n, 2);
    assert_true(has_key(&removed, p1.blob) && has_key(&removed, p2.blob));
    assert_int_equal(s->ops->blob_referenced(s, p1.blob), 0);
    assert_int_equal(s->ops->blob_referenced(s, f.blob), 1);
    usage_is(s, "org", 30, 0);
    assert_int_equal(s->ops->file_get(s, "org", "file-up", NOW, &out), META_OK);
    assert_int_equal(out.bytes, 30);
    assert_string_equal(out.blob, f.blob);
    assert_int_equal(s->ops->upload_get(s, "org", "upload_c", NOW + 99999, &got), META_OK);
    assert_int_equal(got.status, META_UPLOAD_COMPLETED); /* completed never reads as expired */
    assert_string_equal(got.file_id, "file-up");
    /* nothing can follow a completion */
    assert_int_equal(part_add(s, &p3, "org", "upload_c", "part_c", 1, 1000), META_E_STATE);
    assert_int_equal(s->ops->upload_cancel(s, "org", "upload_c", NOW, &got, NULL, NULL),
                     META_E_STATE);
    assert_int_equal(got.status, META_UPLOAD_COMPLETED);
    file_make(&f, "org", "file-up2", "fine-tune", 0, NOW, 0);
    assert_int_equal(s->ops->intent_open(s, "org", f.blob, NOW), META_OK);
    assert_int_equal(s->ops->upload_complete(s, "upload_c", &f, NOW, 1000, NULL, NULL),
                     META_E_STATE);
    /* the file is an ordinary file */
    assert_int_equal(s->ops->file_delete(s, "org", "file-up", NOW, &out), META_OK);
    usage_is(s, "org", 0, 0);
}

static void test_upload_complete_keeps_other_reservations(void **state)
{
    meta_store *s = ((fx *)*state)->s;
    meta_upload u;
    meta_part p;
    meta_file f;
    char other[BLOB_KEY_LEN + 1];

    upload_make(&u, "org", "upload_r", 10);
    assert_int_equal(s->ops->upload_create(s, &u), META_OK);
    assert_int_equal(part_add(s, &p, "org", "upload_r", "part_r", 10, 100), META_OK);
    blob_key_new(other);
    assert_int_equal(s->ops->intent_open(s, "org", other, NOW), META_OK);
    assert_int_equal(s->ops->intent_reserve(s, other, 90, 100), META_OK);
    file_make(&f, "org", "file-r", "fine-tune", 10, NOW, 0);
    assert_int_equal(s->ops->intent_open(s, "org", f.blob, NOW), META_OK);
    assert_int_equal(s->ops->upload_complete(s, "upload_r", &f, NOW, 100, NULL, NULL), META_OK);
    usage_is(s, "org", 10, 90);
}

static void test_upload_cancel(void **state)
{
    meta_store *s = ((fx *)*state)->s;
    meta_upload u, got;
    meta_part p1, p2;
    blob_set removed = {.n = 0};

    upload_make(&u, "org", "upload_k", 30);
    assert_int_equal(s->ops->upload_create(s, &u), META_OK);
    assert_int_equal(part_add(s, &p1, "org", "upload_k", "part_k1", 10, 1000), META_OK);
    assert_int_equal(part_add(s, &p2, "org", "upload_k", "part_k2", 5, 1000), META_OK);
    usage_is(s, "org", 15, 0);
    assert_int_equal(
        s->ops->upload_cancel(s, "org2", "upload_k", NOW, &got, collect_blob_cb, &removed),
        META_E_NOTFOUND);
    assert_int_equal(
        s->ops->upload_cancel(s, "org", "upload_k", NOW, &got, collect_blob_cb, &removed), META_OK);
    assert_int_equal(got.status, META_UPLOAD_CANCELLED);
    assert_string_equal(got.id, "upload_k");
    assert_int_equal(removed.n, 2);
    assert_true(has_key(&removed, p1.blob) && has_key(&removed, p2.blob));
    assert_int_equal(s->ops->blob_referenced(s, p2.blob), 0);
    usage_is(s, "org", 0, 0);
    removed.n = 0;
    assert_int_equal(
        s->ops->upload_cancel(s, "org", "upload_k", NOW, &got, collect_blob_cb, &removed),
        META_E_STATE);
    assert_int_equal(got.status, META_UPLOAD_CANCELLED);
    assert_int_equal(removed.n, 0);
    assert_int_equal(part_add(s, &p1, "org", "upload_k", "part_k3", 1, 1000), META_E_STATE);
    /* an expired upload cannot be cancelled */
    upload_make(&u, "org", "upload_e", 30);
    assert_int_equal(s->ops->upload_create(s, &u), META_OK);
    assert_int_equal(s->ops->upload_cancel(s, "org", "upload_e", NOW + 3600, &got, NULL, NULL),
                     META_E_STATE);
    assert_int_equal(got.status, META_UPLOAD_EXPIRED);
}

static void test_upload_take_expired(void **state)
{
    meta_store *s = ((fx *)*state)->s;
    meta_upload u, got;
    meta_part p[3];
    blob_set removed = {.n = 0};

    for (int i = 0; i < 3; i++) {
        char id[32], pid[32];
        (void)snprintf(id, sizeof id, "upload_t%d", i);
        (void)snprintf(pid, sizeof pid, "part_t%d", i);
        upload_make(&u, i == 2 ? "org2" : "org", id, 10);
        u.expires_at = NOW + 100 * (i + 1);
        assert_int_equal(s->ops->upload_create(s, &u), META_OK);
        assert_int_equal(part_add(s, &p[i], u.org, id, pid, 3 + i, 1000), META_OK);
    }
    usage_is(s, "org", 7, 0);
    usage_is(s, "org2", 5, 0);
    assert_int_equal(s->ops->upload_take_expired(s, NOW + 99, 10, collect_blob_cb, &removed), 0);
    assert_int_equal(s->ops->upload_take_expired(s, NOW + 200, 10, collect_blob_cb, &removed), 2);
    assert_int_equal(removed.n, 2);
    assert_true(has_key(&removed, p[0].blob) && has_key(&removed, p[1].blob));
    usage_is(s, "org", 0, 0);
    usage_is(s, "org2", 5, 0);
    assert_int_equal(s->ops->upload_get(s, "org", "upload_t0", NOW, &got), META_OK);
    assert_int_equal(got.status, META_UPLOAD_EXPIRED); /* marked, whatever the clock says */
    assert_int_equal(s->ops->upload_take_expired(s, NOW + 200, 10, collect_blob_cb, &removed), 0);
    assert_int_equal(s->ops->upload_take_expired(s, NOW + 300, 1, collect_blob_cb, &removed), 1);
    assert_int_equal(removed.n, 3);
    usage_is(s, "org2", 0, 0);
    assert_int_equal(s->ops->upload_take_expired(s, NOW, 0, collect_blob_cb, &removed),
                     META_E_INVALID);
    /* finished uploads are purged a week after their expiry */
    assert_int_equal(
        s->ops->upload_take_expired(s, NOW + 300 + 7 * 86400, 10, collect_blob_cb, &removed), 0);
    assert_int_equal(s->ops->upload_get(s, "org", "upload_t0", NOW, &got), META_E_NOTFOUND);
}

/* ---- concurrency ---- */

#define NTHREADS   8
#define PER_THREAD 60
#define ORG_MAX    20000

typedef struct race {
    meta_store *s;
    atomic_llong committed; /* bytes committed minus bytes deleted */
    atomic_int quota_refusals;
    atomic_int violations;
    atomic_int errors;
    atomic_int seq;
} race;

static void race_one(race *r, unsigned *seed)
{
    meta_store *s = r->s;
    meta_file f, out;
    int64_t used, reserved;
    char id[32];
    int rc;

    (void)snprintf(id, sizeof id, "file-%d", atomic_fetch_add(&r->seq, 1));
    file_make(&f, "racers", id, "batch", 1 + rand_r(seed) % 1500, NOW, 0);
    rc = upload(s, &f, ORG_MAX);
    if (rc == META_OK)
        atomic_fetch_add(&r->committed, f.bytes);
    else if (rc == META_E_QUOTA)
        atomic_fetch_add(&r->quota_refusals, 1);
    else
        atomic_fetch_add(&r->errors, 1);
    if (rc == META_OK && rand_r(seed) % 3 == 0) {
        if (s->ops->file_delete(s, "racers", id, NOW, &out) == META_OK)
            atomic_fetch_sub(&r->committed, out.bytes);
        else
            atomic_fetch_add(&r->errors, 1);
    }
    if (s->ops->org_usage(s, "racers", &used, &reserved) != META_OK || used + reserved > ORG_MAX ||
        used < 0 || reserved < 0)
        atomic_fetch_add(&r->violations, 1);
}

static void *race_thread(void *arg)
{
    race *r = arg;
    unsigned seed = (unsigned)atomic_fetch_add(&r->seq, 1) * 2654435761u;
    for (int i = 0; i < PER_THREAD; i++)
        race_one(r, &seed);
    return NULL;
}

static void test_concurrent_quota(void **state)
{
    meta_store *s = ((fx *)*state)->s;
    pthread_t t[NTHREADS];
    race r = {.s = s};
    meta_stats st;

    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, race_thread, &r), 0);
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    assert_int_equal(atomic_load(&r.errors), 0);
    assert_int_equal(atomic_load(&r.violations), 0);
    assert_true(atomic_load(&r.quota_refusals) > 0); /* the quota was actually contended */
    usage_is(s, "racers", (int64_t)atomic_load(&r.committed), 0);
    assert_int_equal(s->ops->stats(s, &st), META_OK);
    assert_int_equal(st.bytes, (int64_t)atomic_load(&r.committed));
    assert_true(st.bytes <= ORG_MAX);
}

/* ---- backend-specific: SQLite ---- */

static void test_sqlite_modes_and_reopen(void **state)
{
    fx *f = *state;
    char p[128];
    struct stat st;
    mode_t old;

    meta_store_free(f->s);
    (void)snprintf(f->path, sizeof f->path, "%s/umask.db", f->dir);
    old = umask(0);
    assert_int_equal(store_open(f), META_OK);
    umask(old);
    put(f->s, "org", "file-p", 9, NOW); /* a write makes sure -wal exists */
    const char *sfx[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        (void)snprintf(p, sizeof p, "%s%s", f->path, sfx[i]);
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
    }
    meta_store_free(f->s);
    assert_int_equal(store_open(f), META_OK); /* reopen: migration is a no-op, data is kept */
    usage_is(f->s, "org", 9, 0);
}

static void test_sqlite_open_errors(void **state)
{
    fx *f = *state;
    meta_store *s = NULL;
    char p[128];
    FILE *fp;

    (void)snprintf(p, sizeof p, "%s/no/such/dir/x.db", f->dir);
    assert_int_equal(meta_sqlite_open(&s, p), META_E_IO);
    assert_null(s);
    (void)snprintf(p, sizeof p, "%s/garbage.db", f->dir);
    fp = fopen(p, "w");
    assert_non_null(fp);
    for (int i = 0; i < 1000; i++)
        (void)fputs("this is not a database ", fp);
    (void)fclose(fp);
    assert_int_equal(meta_sqlite_open(&s, p), META_E_IO);
    assert_int_equal(meta_sqlite_open(&s, ""), META_E_INVALID);
}

static void test_sqlite_busy(void **state)
{
    fx *f = *state;
    meta_store *s = f->s;
    char b[BLOB_KEY_LEN + 1];
    sqlite3 *db;

    blob_key_new(b);
    meta_sqlite_set_busy_timeout(s, 50);
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(s->ops->intent_open(s, "org", b, NOW), META_E_BUSY);
    usage_is(s, "org", 0, 0); /* reads are not blocked by a writer in WAL mode */
    assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(s->ops->intent_open(s, "org", b, NOW), META_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_intent_reserve_quota, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_quota, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_intent_take_all, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_delete_accounting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_org_isolation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pagination, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_org_file_count, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tombstone_delete_while_paging, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tombstone_scope, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tombstone_expired_and_purge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tombstone_place_not_reused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blob_referenced, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upload_create_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_part_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upload_complete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upload_complete_keeps_other_reservations, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_upload_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upload_take_expired, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_quota, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sqlite_modes_and_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sqlite_open_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sqlite_busy, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
