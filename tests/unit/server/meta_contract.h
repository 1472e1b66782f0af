/*
 * The generic half of the metadata backend contract (meta.h): every test here goes through the
 * ops table only, and each backend's test file (test_meta_mem.c, test_meta_sqlite.c, later
 * PostgreSQL) includes it and supplies the fixture (meta_fixture_open) before its own,
 * backend-specific tests. Optional capabilities are tested when the backend declares them and
 * checked absent when it does not.
 *
 * Every call goes through EXPECT, which also checks the error record: a failure records the
 * code it returns with a message, a success records nothing.
 */
#ifndef ARGOT_TEST_META_CONTRACT_H
#define ARGOT_TEST_META_CONTRACT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "server/blob/blob.h"
#include "server/meta/meta.h"

#define NOW     1700000000
#define BIG_MAX ((int64_t)1 << 40)
#define SELF    "owner-self" /* the owner of the intents the tests open */

typedef struct fx {
    char dir[64];  /* a scratch directory for backends that need one */
    char path[96]; /* where the store lives (a database file) */
    meta_store *s;
} fx;

/* Supplied by the including file: opens f->s (f->dir and f->path are set). */
static int meta_fixture_open(fx *f);

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    strcpy(f->dir, "/tmp/argot-meta-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    (void)snprintf(f->path, sizeof f->path, "%s/meta.db", f->dir);
    assert_int_equal(meta_fixture_open(f), META_OK);
    assert_non_null(f->s);
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

/* ---- calls and their error records ---- */

/* A call's error record matches what it returned: a failure (< 0) is recorded with its code,
 * a backend name and a message; a success or a count (>= 0) leaves the record clean. */
static void record_matches(const st_err *e, int rc)
{
    if (rc >= 0) {
        assert_int_equal(e->code, ST_OK);
        return;
    }
    assert_int_equal(e->code, rc);
    assert_non_null(e->backend);
    assert_true(e->msg[0] != '\0');
    assert_int_equal(e->retryable,
                     rc == ST_E_BUSY || rc == ST_E_UNAVAILABLE || rc == ST_E_RESOURCES);
}

/* Calls s->ops->op(s, ..., &e) with a fresh record; checks the result and the record. */
#define EXPECT(want, s, op, ...)                                                                   \
    do {                                                                                           \
        st_err e_ = ST_ERR_INIT;                                                                   \
        int rc_ = (s)->ops->op((s), __VA_ARGS__, &e_);                                             \
        assert_int_equal(rc_, (want));                                                             \
        record_matches(&e_, rc_);                                                                  \
    } while (0)

/* The same, for a call whose result the test uses: stores it in *out. */
#define CALL(out, s, op, ...)                                                                      \
    do {                                                                                           \
        st_err e_ = ST_ERR_INIT;                                                                   \
        *(out) = (s)->ops->op((s), __VA_ARGS__, &e_);                                              \
        record_matches(&e_, *(out));                                                               \
    } while (0)

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

/* The whole upload protocol: intent, reserve, commit. Returns the first failure. */
static int upload(meta_store *s, const meta_file *f, int64_t org_max)
{
    int rc;
    CALL(&rc, s, intent_open, f->org, f->blob, SELF, f->created_at);
    if (rc != META_OK)
        return rc;
    if (f->bytes > 0) {
        CALL(&rc, s, intent_reserve, f->blob, f->bytes, org_max);
        if (rc != META_OK) {
            EXPECT(META_OK, s, intent_drop, f->blob);
            return rc;
        }
    }
    CALL(&rc, s, file_commit, f, org_max);
    return rc;
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
    EXPECT(META_OK, s, org_usage, org, &u, &r);
    assert_int_equal(u, used);
    assert_int_equal(r, reserved);
}

typedef struct blob_set {
    char keys[32][BLOB_KEY_LEN + 1];
    int n;
} blob_set;

static int collect_blob_cb(const char *blob, void *userdata)
{
    blob_set *bs = userdata;
    assert_true(blob_key_valid(blob));
    assert_true(bs->n < 32);
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

/* The blob tombstones recorded at or before `before`, oldest first. */
static blob_set tombs_at(meta_store *s, int64_t before)
{
    blob_set got = {.n = 0};
    int n;
    CALL(&n, s, blob_tombs_take, before, 32, collect_blob_cb, &got);
    assert_int_equal(n, got.n);
    return got;
}

static int count_file_cb(const meta_file *f, void *userdata)
{
    (void)f;
    (*(int *)userdata)++;
    return 0;
}

static int stop_file_cb(const meta_file *f, void *userdata)
{
    (void)f;
    (void)userdata;
    return 42;
}

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
    EXPECT(META_OK, s, key_create, &k, h1);
    key_make(&k, "key_2", "org_b");
    EXPECT(META_OK, s, key_create, &k, h2);
    EXPECT(META_E_CONFLICT, s, key_create, &k, h3); /* same id */
    key_make(&k, "key_3", "org_b");
    EXPECT(META_E_CONFLICT, s, key_create, &k, h1); /* same hash */
    key_make(&k, "key_4", "bad org");
    EXPECT(META_E_INVALID, s, key_create, &k, h3);

    EXPECT(META_OK, s, key_lookup, h1, org);
    assert_string_equal(org, "org-a");
    EXPECT(META_OK, s, key_lookup, h2, org);
    assert_string_equal(org, "org_b");
    EXPECT(META_E_NOTFOUND, s, key_lookup, h3, org);

    EXPECT(META_OK, s, key_count_active, &n);
    assert_int_equal(n, 2);
    EXPECT(META_OK, s, key_list, count_key_cb, &seen);
    assert_int_equal(seen, 2);
    EXPECT(7, s, key_list, stop_key_cb, NULL);

    EXPECT(META_OK, s, key_revoke, "key_1", NOW + 1);
    EXPECT(META_E_NOTFOUND, s, key_revoke, "key_1", NOW + 2);
    EXPECT(META_E_NOTFOUND, s, key_revoke, "key_none", NOW);
    EXPECT(META_E_NOTFOUND, s, key_lookup, h1, org);
    EXPECT(META_OK, s, key_count_active, &n);
    assert_int_equal(n, 1);
    seen = 0;
    EXPECT(META_OK, s, key_list, count_key_cb, &seen);
    assert_int_equal(seen, 2); /* revoked keys are still listed */
}

/* ---- intents and quota ---- */

static void test_intent_reserve_quota(void **state)
{
    meta_store *s = ((fx *)*state)->s;
    char b1[BLOB_KEY_LEN + 1], b2[BLOB_KEY_LEN + 1];

    blob_key_new(b1), blob_key_new(b2);
    EXPECT(META_OK, s, intent_open, "org", b1, SELF, NOW);
    EXPECT(META_E_CONFLICT, s, intent_open, "org", b1, SELF, NOW);
    EXPECT(META_E_CONFLICT, s, intent_open, "org", b1, "owner-other", NOW);
    EXPECT(META_E_INVALID, s, intent_open, "org", "nothex", SELF, NOW);
    EXPECT(META_E_INVALID, s, intent_open, "", b2, SELF, NOW);
    EXPECT(META_E_INVALID, s, intent_open, "org", b2, NULL, NOW);
    EXPECT(META_E_INVALID, s, intent_open, "org", b2, "", NOW);
    EXPECT(META_OK, s, intent_open, "org", b2, SELF, NOW);

    EXPECT(META_OK, s, intent_reserve, b1, 60, 100);
    usage_is(s, "org", 0, 60);
    EXPECT(META_E_QUOTA, s, intent_reserve, b2, 41, 100);
    usage_is(s, "org", 0, 60); /* unchanged */
    EXPECT(META_OK, s, intent_reserve, b2, 40, 100);
    usage_is(s, "org", 0, 100);
    EXPECT(META_E_QUOTA, s, intent_reserve, b1, 1, 100);
    EXPECT(META_E_INVALID, s, intent_reserve, b1, 0, 100);
    EXPECT(META_E_QUOTA, s, intent_reserve, b1, INT64_MAX, INT64_MAX); /* no overflow */

    EXPECT(META_OK, s, intent_drop, b1);
    usage_is(s, "org", 0, 40);
    EXPECT(META_E_NOTFOUND, s, intent_drop, b1);
    EXPECT(META_E_NOTFOUND, s, intent_reserve, b1, 1, 100);
    EXPECT(META_OK, s, intent_drop, b2);
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
    EXPECT(META_OK, s, intent_open, "org", b.blob, SELF, NOW);
    EXPECT(META_OK, s, intent_reserve, b.blob, 10, 100);
    EXPECT(META_E_QUOTA, s, file_commit, &b, 100);
    usage_is(s, "org", 80, 10);
    EXPECT(1, s, blob_referenced, b.blob);
    b.bytes = 20;
    EXPECT(META_OK, s, file_commit, &b, 100);
    usage_is(s, "org", 100, 0);

    /* Other uploads' reservations count against a commit. */
    EXPECT(META_OK, s, file_delete, "org", "file-a", NOW, &a);
    usage_is(s, "org", 20, 0);
    file_make(&c, "org", "file-c", "batch", 50, NOW, 0);
    EXPECT(META_OK, s, intent_open, "org", c.blob, SELF, NOW);
    EXPECT(META_OK, s, intent_reserve, c.blob, 50, 100);
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
    EXPECT(META_E_NOTFOUND, s, file_commit, &f, BIG_MAX); /* no intent */
    assert_int_equal(upload(s, &f, BIG_MAX), META_OK);

    file_make(&g, "org", "file-1", "batch", 5, NOW, 0); /* same id, new blob */
    EXPECT(META_OK, s, intent_open, "org", g.blob, SELF, NOW);
    EXPECT(META_OK, s, intent_reserve, g.blob, 5, BIG_MAX);
    EXPECT(META_E_CONFLICT, s, file_commit, &g, BIG_MAX);
    usage_is(s, "org", 5, 5); /* rolled back: the intent and its reservation remain */
    EXPECT(1, s, blob_referenced, g.blob);

    (void)snprintf(g.id, sizeof g.id, "file-2");
    (void)snprintf(g.org, sizeof g.org, "other");
    EXPECT(META_E_INVALID, s, file_commit, &g, BIG_MAX); /* the intent is of another org */
    (void)snprintf(g.org, sizeof g.org, "org");
    g.bytes = -1;
    EXPECT(META_E_INVALID, s, file_commit, &g, BIG_MAX);
    g.bytes = 5;
    g.id[0] = '\0';
    EXPECT(META_E_INVALID, s, file_commit, &g, BIG_MAX);
    (void)snprintf(g.id, sizeof g.id, "file-2");
    EXPECT(META_E_INVALID, s, file_commit, &g, -1);
    g.seq = 12345; /* ignored: the backend assigns the sequence */
    EXPECT(META_OK, s, file_commit, &g, BIG_MAX);
    usage_is(s, "org", 10, 0);
    meta_file one, two;
    EXPECT(META_OK, s, file_get, "org", "file-1", NOW, &one);
    EXPECT(META_OK, s, file_get, "org", "file-2", NOW, &two);
    assert_true(two.seq > one.seq);
}

/* ---- owners, leases and the reaping of dead owners' intents ---- */

static void intent_with(
    meta_store *s, const char *org, const char *owner, int64_t reserve, char blob[BLOB_KEY_LEN + 1])
{
    blob_key_new(blob);
    EXPECT(META_OK, s, intent_open, org, blob, owner, NOW);
    EXPECT(META_OK, s, intent_reserve, blob, reserve, BIG_MAX);
}

static int reap(meta_store *s, const char *self, int64_t now, blob_set *got)
{
    int n;
    got->n = 0;
    CALL(&n, s, intents_reap, self, now, collect_blob_cb, got);
    assert_int_equal(n, got->n);
    return n;
}

/* Intents of a live owner and the caller's own stay; those of an owner whose lease ran out or
 * that never had one go, their reservations released and their blobs recorded. */
static void test_intents_reap(void **state)
{
    meta_store *s = ((fx *)*state)->s;
    char mine[BLOB_KEY_LEN + 1], live[BLOB_KEY_LEN + 1], dead[BLOB_KEY_LEN + 1],
        unknown[BLOB_KEY_LEN + 1];
    blob_set got;

    put(s, "org1", "file-keep", 7, NOW);
    EXPECT(META_OK, s, owner_renew, "owner-live", NOW, 60);       /* alive until NOW + 60 */
    EXPECT(META_OK, s, owner_renew, "owner-dead", NOW - 100, 60); /* ran out at NOW - 40 */
    intent_with(s, "org1", SELF, 5, mine); /* SELF has no owner row: its own are kept anyway */
    intent_with(s, "org1", "owner-live", 7, live);
    intent_with(s, "org1", "owner-dead", 11, dead);
    intent_with(s, "org2", "owner-unknown", 13, unknown);
    usage_is(s, "org1", 7, 23);
    usage_is(s, "org2", 0, 13);

    assert_int_equal(reap(s, SELF, NOW, &got), 2);
    assert_true(has_key(&got, dead) && has_key(&got, unknown));
    EXPECT(0, s, blob_referenced, dead);
    EXPECT(0, s, blob_referenced, unknown);
    EXPECT(1, s, blob_referenced, live);
    EXPECT(1, s, blob_referenced, mine);
    usage_is(s, "org1", 7, 12);
    usage_is(s, "org2", 0, 0);
    got = tombs_at(s, NOW);
    assert_int_equal(got.n, 2);
    assert_true(has_key(&got, dead) && has_key(&got, unknown));
    assert_int_equal(reap(s, SELF, NOW, &got), 0);

    /* The live owner's lease runs out at NOW + 60 unless renewed. */
    assert_int_equal(reap(s, SELF, NOW + 59, &got), 0);
    EXPECT(META_OK, s, owner_renew, "owner-live", NOW + 50, 60);
    assert_int_equal(reap(s, SELF, NOW + 100, &got), 0);
    assert_int_equal(reap(s, SELF, NOW + 110, &got), 1);
    assert_string_equal(got.keys[0], live);
    usage_is(s, "org1", 7, 5);

    /* Self is whoever reaps: another instance reaps SELF's intents (SELF has no lease). */
    assert_int_equal(reap(s, "owner-other", NOW, &got), 1);
    assert_string_equal(got.keys[0], mine);
    usage_is(s, "org1", 7, 0);
    EXPECT(0, s, blob_referenced, mine);
    assert_int_equal(tombs_at(s, NOW + 110).n, 4); /* every reaped blob was recorded */
}

/* A renewal extends the owner's life; a late one with a shorter reach does not cut it. */
static void test_owner_renew_extends(void **state)
{
    meta_store *s = ((fx *)*state)->s;
    char b[BLOB_KEY_LEN + 1];
    blob_set got;

    intent_with(s, "org", "owner-a", 1, b);
    EXPECT(META_OK, s, owner_renew, "owner-a", NOW, 600);
    EXPECT(META_OK, s, owner_renew, "owner-a", NOW + 10, 60); /* a stale renewal */
    assert_int_equal(reap(s, SELF, NOW + 599, &got), 0);
    assert_int_equal(reap(s, SELF, NOW + 600, &got), 1);
}

/* owner_forget ends a lease at once: one owner, or every owner but self. */
static void test_owner_forget(void **state)
{
    meta_store *s = ((fx *)*state)->s;
    char a[BLOB_KEY_LEN + 1], b[BLOB_KEY_LEN + 1], c[BLOB_KEY_LEN + 1], me[BLOB_KEY_LEN + 1];
    blob_set got;

    EXPECT(META_OK, s, owner_renew, "owner-a", NOW, 3600);
    EXPECT(META_OK, s, owner_renew, "owner-b", NOW, 3600);
    EXPECT(META_OK, s, owner_renew, "owner-c", NOW, 3600);
    EXPECT(META_OK, s, owner_renew, SELF, NOW, 3600);
    intent_with(s, "org", "owner-a", 1, a);
    intent_with(s, "org", "owner-b", 2, b);
    intent_with(s, "org", "owner-c", 4, c);
    intent_with(s, "org", SELF, 8, me);
    assert_int_equal(reap(s, "owner-x", NOW, &got), 0); /* everyone alive */

    EXPECT(META_OK, s, owner_forget, "owner-a", NULL);
    EXPECT(META_OK, s, owner_forget, "owner-a", NULL); /* again: nothing to forget */
    assert_int_equal(reap(s, "owner-x", NOW, &got), 1);
    assert_string_equal(got.keys[0], a);
    usage_is(s, "org", 0, 14);

    EXPECT(META_OK, s, owner_forget, NULL, SELF); /* a caller alone: every other owner */
    assert_int_equal(reap(s, "owner-x", NOW, &got), 2);
    assert_true(has_key(&got, b) && has_key(&got, c));
    EXPECT(1, s, blob_referenced, me); /* SELF's lease is kept */
    usage_is(s, "org", 0, 8);

    EXPECT(META_E_INVALID, s, owner_forget, NULL, NULL);
    EXPECT(META_E_INVALID, s, owner_forget, "", NULL);
    EXPECT(META_E_INVALID, s, owner_renew, "", NOW, 60);
    EXPECT(META_E_INVALID, s, owner_renew, "owner-a", NOW, 0);
    EXPECT(META_E_INVALID, s, intents_reap, NULL, NOW, collect_blob_cb, &got);
}

/* Two live owners contending for one lease: one holds it until it runs out or is renewed. */
static void test_lease_take(void **state)
{
    meta_store *s = ((fx *)*state)->s;

    EXPECT(META_OK, s, owner_renew, "owner-a", NOW, 3600);
    EXPECT(META_OK, s, owner_renew, "owner-b", NOW, 3600);
    EXPECT(1, s, lease_take, "gc", "owner-a", NOW, 30);         /* free: a takes it */
    EXPECT(0, s, lease_take, "gc", "owner-b", NOW + 10, 30);    /* a holds it */
    EXPECT(1, s, lease_take, "gc", "owner-a", NOW + 20, 30);    /* a renews: until NOW + 50 */
    EXPECT(0, s, lease_take, "gc", "owner-b", NOW + 49, 30);    /* still a's */
    EXPECT(1, s, lease_take, "gc", "owner-b", NOW + 50, 30);    /* ran out: b takes it */
    EXPECT(0, s, lease_take, "gc", "owner-a", NOW + 51, 30);    /* now b's */
    EXPECT(1, s, lease_take, "other", "owner-a", NOW + 51, 30); /* names are independent */
    EXPECT(1, s, lease_take, "gc", "owner-b", NOW + 79, 30);
    EXPECT(0, s, lease_take, "gc", "owner-a", NOW + 100, 30);
    EXPECT(1, s, lease_take, "gc", "owner-a", NOW + 109, 30);

    EXPECT(META_E_INVALID, s, lease_take, "", "owner-a", NOW, 30);
    EXPECT(META_E_INVALID, s, lease_take, "gc", NULL, NOW, 30);
    EXPECT(META_E_INVALID, s, lease_take, "gc", "owner-a", NOW, 0);
    EXPECT(META_E_INVALID, s, lease_take, "gc", "owner-a", NOW, -5);
}

/* The lease of an owner that is not alive (forgotten, or its own lease ran out, or never
 * renewed) is free at once, before the lease itself runs out. */
static void test_lease_of_dead_owner(void **state)
{
    meta_store *s = ((fx *)*state)->s;

    EXPECT(META_OK, s, owner_renew, "owner-a", NOW, 3600);
    EXPECT(META_OK, s, owner_renew, "owner-b", NOW, 20);
    EXPECT(1, s, lease_take, "gc", "owner-a", NOW, 600);
    EXPECT(0, s, lease_take, "gc", "owner-b", NOW + 1, 600);
    EXPECT(META_OK, s, owner_forget, "owner-a", NULL); /* a clean stop */
    EXPECT(1, s, lease_take, "gc", "owner-b", NOW + 2, 600);
    EXPECT(0, s, lease_take, "gc", "owner-a", NOW + 3, 600);  /* b is alive until NOW + 20 */
    EXPECT(1, s, lease_take, "gc", "owner-a", NOW + 20, 600); /* b died: its lease is free */
    EXPECT(1, s, lease_take, "gc", "owner-c", NOW + 21, 600); /* a was forgotten */
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
    EXPECT(META_OK, s, file_get, "org", "file-x", NOW, &out);
    assert_string_equal(out.id, "file-x");
    assert_string_equal(out.org, "org");
    assert_string_equal(out.purpose, "fine-tune");
    assert_string_equal(out.filename, "file-x.jsonl");
    assert_string_equal(out.blob, f.blob);
    assert_int_equal(out.bytes, 123);
    assert_int_equal(out.created_at, NOW);
    assert_int_equal(out.expires_at, 0);
    int64_t seq = out.seq;
    EXPECT(META_OK, s, stats, &st);
    assert_int_equal(st.files, 2);
    assert_int_equal(st.bytes, 1123);
    usage_is(s, "org", 1123, 0);

    memset(&out, 0, sizeof out);
    EXPECT(META_OK, s, file_delete, "org", "file-x", NOW + 5, &out);
    assert_string_equal(out.id, "file-x");
    assert_string_equal(out.blob, f.blob);
    assert_int_equal(out.bytes, 123);
    assert_int_equal(out.seq, seq);
    usage_is(s, "org", 1000, 0);
    EXPECT(META_OK, s, stats, &st);
    assert_int_equal(st.files, 1);
    assert_int_equal(st.bytes, 1000);
    EXPECT(0, s, blob_referenced, f.blob);
    EXPECT(META_E_NOTFOUND, s, file_get, "org", "file-x", NOW, &out);
    EXPECT(META_E_NOTFOUND, s, file_delete, "org", "file-x", NOW, &out);
    EXPECT(META_E_INVALID, s, file_get, "org", "", NOW, &out);
    EXPECT(META_E_INVALID, s, file_get, "bad org", "file-y", NOW, &out);
    EXPECT(META_E_INVALID, s, file_delete, "org", "file-y", NOW, NULL);
    EXPECT(META_E_INVALID, s, blob_referenced, "../etc/passwd");
}

static void test_org_isolation(void **state)
{
    meta_store *s = ((fx *)*state)->s;
    meta_list_req req = {.org = "org-b", .limit = 100, .now = NOW};
    meta_file out;
    meta_pos pos;
    int n = 0, more = -1;

    put(s, "org-a", "file-a", 10, NOW);
    EXPECT(META_E_NOTFOUND, s, file_get, "org-b", "file-a", NOW, &out);
    EXPECT(META_E_NOTFOUND, s, file_delete, "org-b", "file-a", NOW, &out);
    EXPECT(META_E_NOTFOUND, s, file_position, "org-b", "file-a", &pos);
    EXPECT(META_OK, s, file_list, &req, count_file_cb, &n, &more);
    assert_int_equal(n, 0);
    assert_int_equal(more, 0);
    EXPECT(META_OK, s, file_position, "org-a", "file-a", &pos);
    req.after = &pos; /* a place of another org's file is only a place: org-b has none */
    EXPECT(META_OK, s, file_list, &req, count_file_cb, &n, &more);
    assert_int_equal(n, 0);
    usage_is(s, "org-a", 10, 0);
    usage_is(s, "org-b", 0, 0);
    EXPECT(META_OK, s, file_get, "org-a", "file-a", NOW, &out);
}

#define NPAGED 250

/* test_pagination names the i-th file created "file-<(i * 97) % NPAGED>"; 183 is the inverse
 * of 97 modulo 250, so this gives i back. */
static int creation_index(const char *id)
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

/* Strictly ordered by (created_at, seq), and seq follows the creation order. */
static int page_cb(const meta_file *f, void *userdata)
{
    page *p = userdata;
    if (p->nseen > 0) {
        const meta_file *l = &p->last;
        int cmp = f->created_at != l->created_at ? (f->created_at < l->created_at ? -1 : 1)
                                                 : (f->seq < l->seq ? -1 : 1);
        assert_true(f->created_at != l->created_at || f->seq != l->seq);
        assert_true(p->desc ? cmp < 0 : cmp > 0);
        int by_creation = creation_index(f->id) - creation_index(l->id);
        assert_true(f->created_at != l->created_at ||
                    (p->desc ? by_creation < 0 : by_creation > 0));
    }
    if (p->purpose)
        assert_string_equal(f->purpose, p->purpose);
    p->last = *f;
    (void)snprintf(p->seen[p->nseen++], META_ID_MAX, "%s", f->id);
    p->n++;
    return 0;
}

/* Pages through everything the way the frontend does (the next page starts at the position of
 * the last id of the previous one) and returns how many files were seen. */
static int page_all(meta_store *s,
                    const char *org,
                    const char *purpose,
                    int desc,
                    int limit,
                    char (*seen)[META_ID_MAX])
{
    page p = {.desc = desc, .purpose = purpose, .seen = seen};
    meta_list_req req = {.org = org, .purpose = purpose, .desc = desc, .limit = limit, .now = NOW};
    meta_pos after;
    int more = 1;

    while (more) {
        p.n = 0;
        EXPECT(META_OK, s, file_list, &req, page_cb, &p, &more);
        assert_true(p.n <= limit);
        if (more)
            assert_int_equal(p.n, limit);
        if (p.n == 0)
            break;
        EXPECT(META_OK, s, file_position, org, p.last.id, &after);
        assert_int_equal(after.created_at, p.last.created_at);
        assert_int_equal(after.seq, p.last.seq);
        req.after = &after;
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

/* A place need not be a file's: the page starts after it, whatever holds it. */
static void test_list_any_position(void **state)
{
    meta_store *s = ((fx *)*state)->s;
    meta_list_req req = {.org = "org", .limit = 10, .now = NOW};
    meta_pos first = {0, 0}, last = {INT64_MAX, INT64_MAX}, mid = {NOW + 1, 0};
    int n = 0, more = 0;

    for (int i = 0; i < 4; i++) {
        char id[32];
        (void)snprintf(id, sizeof id, "file-%d", i);
        put(s, "org", id, 1, NOW + i / 2); /* two at NOW, two at NOW + 1 */
    }
    req.after = &first;
    EXPECT(META_OK, s, file_list, &req, count_file_cb, &n, &more);
    assert_int_equal(n, 4);
    req.after = &last;
    n = 0;
    EXPECT(META_OK, s, file_list, &req, count_file_cb, &n, &more);
    assert_int_equal(n, 0);
    assert_int_equal(more, 0);
    req.after = &mid; /* before the files of NOW + 1, after those of NOW */
    n = 0;
    EXPECT(META_OK, s, file_list, &req, count_file_cb, &n, &more);
    assert_int_equal(n, 2);
    req.desc = 1;
    n = 0;
    EXPECT(META_OK, s, file_list, &req, count_file_cb, &n, &more);
    assert_int_equal(n, 2);
    req.after = &first;
    n = 0;
    EXPECT(META_OK, s, file_list, &req, count_file_cb, &n, &more);
    assert_int_equal(n, 0);
}

static void test_list_errors(void **state)
{
    meta_store *s = ((fx *)*state)->s;
    meta_list_req req = {.org = "org", .limit = 10, .now = NOW};
    meta_pos pos;
    int n = 0, more = 0;

    put(s, "org", "file-1", 1, NOW);
    put(s, "org", "file-2", 1, NOW);
    EXPECT(META_E_NOTFOUND, s, file_position, "org", "file-none", &pos);
    EXPECT(META_E_INVALID, s, file_position, "org", "", &pos);
    EXPECT(META_E_INVALID, s, file_position, "org", "file-1", NULL);
    req.limit = 0;
    EXPECT(META_E_INVALID, s, file_list, &req, count_file_cb, &n, &more);
    req.limit = -1;
    EXPECT(META_E_INVALID, s, file_list, &req, count_file_cb, &n, &more);
    req.limit = 10000;
    EXPECT(META_OK, s, file_list, &req, count_file_cb, &n, &more);
    assert_int_equal(n, 2);
    assert_int_equal(more, 0);
    req.limit = 1;
    n = 0;
    EXPECT(META_OK, s, file_list, &req, count_file_cb, &n, &more);
    assert_int_equal(n, 1);
    assert_int_equal(more, 1);
    EXPECT(META_E_INVALID, s, file_list, &req, NULL, &n, &more);
    EXPECT(META_E_INVALID, s, file_list, &req, count_file_cb, &n, NULL);
    req.purpose = "";
    EXPECT(META_E_INVALID, s, file_list, &req, count_file_cb, &n, &more);
    req.purpose = NULL;
    req.org = "bad org!";
    EXPECT(META_E_INVALID, s, file_list, &req, count_file_cb, &n, &more);
}

static void test_list_stop(void **state)
{
    meta_store *s = ((fx *)*state)->s;
    meta_list_req req = {.org = "org", .limit = 10, .now = NOW};
    int more = 0;

    put(s, "org", "file-1", 1, NOW);
    EXPECT(42, s, file_list, &req, stop_file_cb, NULL, &more);
    /* The store is still usable afterwards. */
    put(s, "org", "file-2", 1, NOW);
}

static void test_expiry(void **state)
{
    meta_store *s = ((fx *)*state)->s;
    meta_list_req req = {.org = "org", .limit = 10, .now = NOW + 100};
    meta_file f, g, out;
    meta_pos pos;
    int n = 0, more = 0;

    file_make(&f, "org", "file-exp", "batch", 40, NOW, NOW + 100);
    assert_int_equal(upload(s, &f, BIG_MAX), META_OK);
    file_make(&g, "org", "file-later", "batch", 2, NOW, NOW + 200);
    assert_int_equal(upload(s, &g, BIG_MAX), META_OK);
    put(s, "org", "file-keep", 5, NOW);
    usage_is(s, "org", 47, 0);

    EXPECT(META_OK, s, file_get, "org", "file-exp", NOW + 99, &out);
    assert_int_equal(out.expires_at, NOW + 100);
    EXPECT(META_E_NOTFOUND, s, file_get, "org", "file-exp", NOW + 100, &out);
    EXPECT(META_E_NOTFOUND, s, file_delete, "org", "file-exp", NOW + 100, &out);
    EXPECT(META_OK, s, file_list, &req, count_file_cb, &n, &more);
    assert_int_equal(n, 2);
    EXPECT(META_OK, s, file_position, "org", "file-exp", &pos); /* expired: still a place */
    req.after = &pos;
    n = 0;
    EXPECT(META_OK, s, file_list, &req, count_file_cb, &n, &more);
    assert_int_equal(n, 2);

    n = 0;
    EXPECT(0, s, expired_take, NOW + 99, 10, count_file_cb, &n);
    EXPECT(1, s, expired_take, NOW + 100, 10, count_file_cb, &n);
    assert_int_equal(n, 1);
    usage_is(s, "org", 7, 0);
    EXPECT(0, s, blob_referenced, f.blob);
    EXPECT(1, s, blob_referenced, g.blob);
    EXPECT(0, s, expired_take, NOW + 100, 10, count_file_cb, &n);
    EXPECT(1, s, expired_take, NOW + 1000, 1, stop_file_cb, NULL); /* a stop: still taken */
    usage_is(s, "org", 5, 0);
    EXPECT(META_E_INVALID, s, expired_take, NOW, 0, count_file_cb, &n);
}

/* expired_take takes the earliest expiry first, at most limit per call. */
static void test_expired_take_order(void **state)
{
    meta_store *s = ((fx *)*state)->s;
    meta_file f;
    char id[32];

    for (int i = 0; i < 6; i++) {
        (void)snprintf(id, sizeof id, "file-%d", i);
        file_make(&f, "org", id, "batch", 1, NOW, NOW + 60 - 10 * i); /* file-5 first */
        assert_int_equal(upload(s, &f, BIG_MAX), META_OK);
    }
    ids got = {.n = 0};
    for (int round = 0; round < 3; round++)
        EXPECT(2, s, expired_take, NOW + 1000, 2, ids_cb, &got);
    EXPECT(0, s, expired_take, NOW + 1000, 2, ids_cb, &got);
    assert_int_equal(got.n, 6);
    for (int i = 0; i < 6; i++) {
        (void)snprintf(id, sizeof id, "file-%d", 5 - i);
        assert_string_equal(got.v[i], id);
    }
}

static void count_is(meta_store *s, const char *org, int64_t now, int64_t want)
{
    int64_t n = -1;
    EXPECT(META_OK, s, org_file_count, org, now, &n);
    assert_int_equal(n, want);
}

/* org_file_count: visible files of one org, every purpose; expired ones are gone at once. */
static void test_org_file_count(void **state)
{
    meta_store *s = ((fx *)*state)->s;
    meta_file f, out;
    int64_t n;
    int taken = 0;

    if (!(s->ops->caps & META_CAP_FILE_COUNT)) {
        assert_null(s->ops->org_file_count);
        return;
    }
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
    EXPECT(META_OK, s, file_delete, "org", "file-a", NOW, &out);
    count_is(s, "org", NOW, 2);
    EXPECT(2, s, expired_take, NOW + 100, 10, count_file_cb, &taken);
    count_is(s, "org", NOW + 100, 1);
    count_is(s, "org", NOW, 1);
    EXPECT(META_E_INVALID, s, org_file_count, "bad org", NOW, &n);
    EXPECT(META_E_INVALID, s, org_file_count, "org", NOW, NULL);
}

/* ---- positions and cursor tombstones: deleted and expired files stay valid cursors ---- */

static void pos_is(meta_store *s, const char *org, const char *id, const meta_pos *want)
{
    meta_pos got = {-1, -1};
    EXPECT(META_OK, s, file_position, org, id, &got);
    assert_int_equal(got.created_at, want->created_at);
    assert_int_equal(got.seq, want->seq);
}

/* The place of a live file is its (created_at, seq); a deleted or swept one keeps it. */
static void test_position(void **state)
{
    meta_store *s = ((fx *)*state)->s;
    meta_file f, g, out;
    meta_pos pos;
    int n = 0;

    put(s, "org", "file-live", 1, NOW + 7);
    file_make(&f, "org", "file-exp", "batch", 1, NOW + 8, NOW + 50);
    assert_int_equal(upload(s, &f, BIG_MAX), META_OK);
    put(s, "org", "file-del", 1, NOW + 9);
    EXPECT(META_OK, s, file_get, "org", "file-live", NOW, &g);
    pos = (meta_pos){g.created_at, g.seq};
    assert_int_equal(pos.created_at, NOW + 7);
    pos_is(s, "org", "file-live", &pos);

    EXPECT(META_OK, s, file_get, "org", "file-exp", NOW, &g);
    pos = (meta_pos){g.created_at, g.seq};
    pos_is(s, "org", "file-exp", &pos); /* expired, not swept */
    EXPECT(1, s, expired_take, NOW + 50, 10, count_file_cb, &n);
    pos_is(s, "org", "file-exp", &pos); /* swept: its tombstone */

    EXPECT(META_OK, s, file_get, "org", "file-del", NOW, &g);
    pos = (meta_pos){g.created_at, g.seq};
    EXPECT(META_OK, s, file_delete, "org", "file-del", NOW + 60, &out);
    pos_is(s, "org", "file-del", &pos);

    EXPECT(META_E_NOTFOUND, s, file_position, "org", "file-never", &pos);
    EXPECT(META_E_NOTFOUND, s, file_position, "other", "file-del", &pos);
    EXPECT(META_E_NOTFOUND, s, file_position, "other", "file-live", &pos);
    EXPECT(META_E_INVALID, s, file_position, "bad org", "file-live", &pos);
}

/* One page after the place of the id `after` (NULL: the first); returns the first failure. */
static int page_ids(
    meta_store *s, const char *org, const char *after, int desc, int limit, ids *out, int *more)
{
    meta_pos pos;
    meta_list_req req = {.org = org, .desc = desc, .limit = limit, .now = NOW};
    int rc = META_OK;
    out->n = 0;
    if (after) {
        CALL(&rc, s, file_position, org, after, &pos);
        req.after = &pos;
    }
    if (rc == META_OK)
        CALL(&rc, s, file_list, &req, ids_cb, out, more);
    return rc;
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
            EXPECT(META_OK, s, file_delete, "org", pg.v[i], NOW + 50, &out);
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
    EXPECT(META_OK, s, file_delete, "org-a", "file-2", NOW + 10, &out);
    /* The deleted file is gone for every read but the cursor. */
    EXPECT(META_E_NOTFOUND, s, file_get, "org-a", "file-2", NOW + 10, &out);
    EXPECT(META_E_NOTFOUND, s, file_delete, "org-a", "file-2", NOW + 10, &out);
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
    EXPECT(META_E_NOTFOUND, s, file_delete, "org-b", "file-3", NOW + 10, &out);
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
    EXPECT(1, s, expired_take, NOW + 100, 10, count_file_cb, &n);
    assert_int_equal(page_ids(s, "org", "file-exp", 1, 10, &pg, &more), META_OK);
    assert_int_equal(pg.n, 1);
    assert_string_equal(pg.v[0], "file-old");
    EXPECT(META_OK, s, file_delete, "org", "file-old", NOW + 200, &out);

    /* Purged only once `before` reaches their deletion time (inclusive). */
    EXPECT(0, s, cursor_tombs_purge, NOW + 99);
    EXPECT(1, s, cursor_tombs_purge, NOW + 100);
    assert_int_equal(page_ids(s, "org", "file-exp", 1, 10, &pg, &more), META_E_NOTFOUND);
    assert_int_equal(page_ids(s, "org", "file-old", 0, 10, &pg, &more), META_OK);
    assert_int_equal(pg.n, 1);
    EXPECT(1, s, cursor_tombs_purge, NOW + 1000);
    EXPECT(0, s, cursor_tombs_purge, NOW + 1000);
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
    EXPECT(META_OK, s, file_delete, "org", "file-2", NOW, &out);
    put(s, "org", "file-3", 1, NOW);
    assert_int_equal(page_ids(s, "org", "file-2", 0, 10, &pg, &more), META_OK);
    assert_int_equal(pg.n, 1);
    assert_string_equal(pg.v[0], "file-3");
    assert_int_equal(page_ids(s, "org", "file-2", 1, 10, &pg, &more), META_OK);
    assert_int_equal(pg.n, 1);
    assert_string_equal(pg.v[0], "file-1");
    /* Even once every file is gone. */
    EXPECT(META_OK, s, file_delete, "org", "file-3", NOW, &out);
    EXPECT(META_OK, s, file_delete, "org", "file-1", NOW, &out);
    put(s, "org", "file-4", 1, NOW);
    assert_int_equal(page_ids(s, "org", "file-3", 0, 10, &pg, &more), META_OK);
    assert_int_equal(pg.n, 1);
    assert_string_equal(pg.v[0], "file-4");
}

/* An id may come back after its file was deleted: the live file names the place, and its own
 * deletion replaces the old tombstone. */
static void test_tombstone_id_reused(void **state)
{
    meta_store *s = ((fx *)*state)->s;
    meta_file f, out;
    meta_pos pos;

    put(s, "org", "file-r", 1, NOW);
    EXPECT(META_OK, s, file_delete, "org", "file-r", NOW + 1, &out);
    put(s, "org", "file-r", 1, NOW + 5);
    EXPECT(META_OK, s, file_get, "org", "file-r", NOW + 5, &f);
    pos = (meta_pos){f.created_at, f.seq};
    assert_int_equal(pos.created_at, NOW + 5);
    pos_is(s, "org", "file-r", &pos);
    EXPECT(META_OK, s, file_delete, "org", "file-r", NOW + 6, &out);
    pos_is(s, "org", "file-r", &pos);
    EXPECT(1, s, cursor_tombs_purge, NOW + 1000);
    EXPECT(META_E_NOTFOUND, s, file_position, "org", "file-r", &pos);
}

static void test_blob_referenced(void **state)
{
    meta_store *s = ((fx *)*state)->s;
    meta_file f, out;

    file_make(&f, "org", "file-r", "batch", 3, NOW, 0);
    EXPECT(0, s, blob_referenced, f.blob);
    EXPECT(META_OK, s, intent_open, "org", f.blob, SELF, NOW);
    EXPECT(1, s, blob_referenced, f.blob);
    EXPECT(META_OK, s, file_commit, &f, BIG_MAX);
    EXPECT(1, s, blob_referenced, f.blob);
    EXPECT(META_OK, s, file_delete, "org", "file-r", NOW, &out);
    EXPECT(0, s, blob_referenced, f.blob); /* a blob tombstone is no reference */
}

/* ---- blob tombstones ---- */

/* Reported oldest first, at or before `before`, at most limit; kept until done. */
static void test_blob_tombs_take(void **state)
{
    meta_store *s = ((fx *)*state)->s;
    meta_file f[4], out;
    blob_set got;

    for (int i = 0; i < 4; i++) {
        char id[32];
        (void)snprintf(id, sizeof id, "file-%d", i);
        file_make(&f[i], "org", id, "batch", 1, NOW, 0);
        assert_int_equal(upload(s, &f[i], BIG_MAX), META_OK);
    }
    for (int i = 3; i >= 0; i--) /* file-3 is deleted first */
        EXPECT(META_OK, s, file_delete, "org", f[i].id, NOW + 10 * (4 - i), &out);
    got = tombs_at(s, NOW + 9);
    assert_int_equal(got.n, 0);
    got = tombs_at(s, NOW + 20); /* inclusive */
    assert_int_equal(got.n, 2);
    assert_string_equal(got.keys[0], f[3].blob);
    assert_string_equal(got.keys[1], f[2].blob);
    got.n = 0;
    EXPECT(3, s, blob_tombs_take, NOW + 1000, 3, collect_blob_cb, &got);
    assert_string_equal(got.keys[2], f[1].blob);
    got = tombs_at(s, NOW + 1000); /* taking does not clear them */
    assert_int_equal(got.n, 4);

    EXPECT(META_OK, s, blob_tomb_done, f[3].blob);
    EXPECT(META_OK, s, blob_tomb_done, f[3].blob); /* again: success */
    EXPECT(META_OK, s, blob_tomb_done, f[0].blob);
    char never[BLOB_KEY_LEN + 1];
    blob_key_new(never);
    EXPECT(META_OK, s, blob_tomb_done, never);
    got = tombs_at(s, NOW + 1000);
    assert_int_equal(got.n, 2);
    assert_string_equal(got.keys[0], f[2].blob);
    assert_string_equal(got.keys[1], f[1].blob);

    EXPECT(META_E_INVALID, s, blob_tomb_done, "not-a-key");
    EXPECT(META_E_INVALID, s, blob_tombs_take, NOW, 0, collect_blob_cb, &got);
    EXPECT(META_E_INVALID, s, blob_tombs_take, NOW, 10, NULL, NULL);
}

/* Every change that stops referencing a blob records it, in the same change; a failed one
 * records nothing. (intents_reap: test_intents_reap; uploads: the upload tests.) */
static void test_blob_tombs_recorded(void **state)
{
    meta_store *s = ((fx *)*state)->s;
    meta_file f, g, out;
    blob_set got;
    int n = 0;

    file_make(&f, "org", "file-d", "batch", 1, NOW, 0);
    assert_int_equal(upload(s, &f, BIG_MAX), META_OK);
    file_make(&g, "org", "file-e", "batch", 1, NOW, NOW + 10);
    assert_int_equal(upload(s, &g, BIG_MAX), META_OK);
    EXPECT(META_E_NOTFOUND, s, file_delete, "other", "file-d", NOW + 1, &out);
    assert_int_equal(tombs_at(s, NOW + 1000).n, 0);
    EXPECT(META_OK, s, file_delete, "org", "file-d", NOW + 1, &out);
    got = tombs_at(s, NOW + 1000);
    assert_int_equal(got.n, 1);
    assert_string_equal(got.keys[0], f.blob);
    assert_int_equal(tombs_at(s, NOW).n, 0); /* recorded at the deletion's now */
    EXPECT(1, s, expired_take, NOW + 10, 10, count_file_cb, &n);
    got = tombs_at(s, NOW + 10);
    assert_int_equal(got.n, 2);
    assert_string_equal(got.keys[1], g.blob);
    /* a committed file and an intent still in use are not tombstones */
    put(s, "org", "file-k", 1, NOW);
    char b[BLOB_KEY_LEN + 1];
    intent_with(s, "org", SELF, 1, b);
    assert_int_equal(tombs_at(s, NOW + 1000).n, 2);
    /* nor a dropped intent: its caller aborted the write and removes the blob itself */
    EXPECT(META_OK, s, intent_drop, b);
    assert_int_equal(tombs_at(s, NOW + 1000).n, 2);
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

/* A part the way the frontend adds one: intent, reservation, durable blob, part_commit, with
 * parts_max 1000. Returns the first failure (the intent dropped then). */
static int part_add_max(meta_store *s,
                        meta_part *p,
                        const char *org,
                        const char *upload_id,
                        const char *id,
                        int64_t bytes,
                        int64_t org_max,
                        int64_t parts_max)
{
    memset(p, 0, sizeof *p);
    (void)snprintf(p->id, sizeof p->id, "%s", id);
    (void)snprintf(p->upload_id, sizeof p->upload_id, "%s", upload_id);
    (void)snprintf(p->org, sizeof p->org, "%s", org);
    assert_int_equal(blob_key_new(p->blob), ST_OK);
    p->bytes = bytes;
    p->created_at = NOW + 1;
    EXPECT(META_OK, s, intent_open, org, p->blob, SELF, NOW);
    int rc = META_OK;
    if (bytes > 0)
        CALL(&rc, s, intent_reserve, p->blob, bytes, org_max);
    if (rc == META_OK)
        CALL(&rc, s, part_commit, p, NOW + 1, org_max, parts_max);
    if (rc != META_OK)
        EXPECT(META_OK, s, intent_drop, p->blob);
    return rc;
}

static int part_add(meta_store *s,
                    meta_part *p,
                    const char *org,
                    const char *upload_id,
                    const char *id,
                    int64_t bytes,
                    int64_t org_max)
{
    return part_add_max(s, p, org, upload_id, id, bytes, org_max, 1000);
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

static int stop_part_cb(const meta_part *p, void *userdata)
{
    (void)p;
    (void)userdata;
    return 3;
}

static void test_upload_create_get(void **state)
{
    meta_store *s = ((fx *)*state)->s;
    meta_upload u, got;

    upload_make(&u, "org", "upload_1", 10);
    u.expires_after_seconds = 7200;
    u.status = META_UPLOAD_COMPLETED; /* ignored */
    (void)snprintf(u.file_id, sizeof u.file_id, "file-ignored");
    EXPECT(META_OK, s, upload_create, &u);
    EXPECT(META_E_CONFLICT, s, upload_create, &u);
    EXPECT(META_OK, s, upload_get, "org", "upload_1", &got);
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
    EXPECT(META_E_NOTFOUND, s, upload_get, "other", "upload_1", &got);
    EXPECT(META_E_NOTFOUND, s, upload_get, "org", "upload_2", &got);
    EXPECT(META_E_INVALID, s, upload_get, "org", "", &got);
    upload_make(&u, "bad org", "upload_3", 1);
    EXPECT(META_E_INVALID, s, upload_create, &u);
    upload_make(&u, "org", "upload_3", -1);
    EXPECT(META_E_INVALID, s, upload_create, &u);
    usage_is(s, "org", 0, 0);
}

/* upload_get reports the status as stored: a pending upload past its expiry is still pending
 * until the sweeper marks it (the frontend reports it as expired meanwhile). */
static void test_upload_get_as_stored(void **state)
{
    meta_store *s = ((fx *)*state)->s;
    meta_upload u, got;
    blob_set removed = {.n = 0};

    upload_make(&u, "org", "upload_s", 10);
    u.expires_at = NOW + 10;
    EXPECT(META_OK, s, upload_create, &u);
    EXPECT(0, s, upload_take_expired, NOW + 9, 10, collect_blob_cb, &removed);
    EXPECT(META_OK, s, upload_get, "org", "upload_s", &got);
    assert_int_equal(got.status, META_UPLOAD_PENDING);
    EXPECT(1, s, upload_take_expired, NOW + 10, 10, collect_blob_cb, &removed);
    EXPECT(META_OK, s, upload_get, "org", "upload_s", &got);
    assert_int_equal(got.status, META_UPLOAD_EXPIRED);
}

static void test_part_commit(void **state)
{
    meta_store *s = ((fx *)*state)->s;
    meta_upload u;
    meta_part p, q;
    part_list l = {.n = 0};

    upload_make(&u, "org", "upload_p", 100);
    EXPECT(META_OK, s, upload_create, &u);
    assert_int_equal(part_add_max(s, &p, "org", "upload_p", "part_1", 60, 1000, 200), META_OK);
    usage_is(s, "org", 60, 0); /* parts count against the quota */
    EXPECT(1, s, blob_referenced, p.blob);
    /* the parts would exceed parts_max (the frontend's rule, given per call) */
    assert_int_equal(part_add_max(s, &q, "org", "upload_p", "part_2", 141, 1000, 200),
                     META_E_LIMIT);
    usage_is(s, "org", 60, 0);
    assert_int_equal(part_add_max(s, &q, "org", "upload_p", "part_2", 41, 1000, 100), META_E_LIMIT);
    /* over the quota */
    assert_int_equal(part_add(s, &q, "org", "upload_p", "part_2", 40, 90), META_E_QUOTA);
    /* same part id */
    assert_int_equal(part_add(s, &q, "org", "upload_p", "part_1", 10, 1000), META_E_CONFLICT);
    /* unknown upload, upload of another org */
    assert_int_equal(part_add(s, &q, "org", "upload_x", "part_3", 10, 1000), META_E_NOTFOUND);
    assert_int_equal(part_add(s, &q, "org2", "upload_p", "part_3", 10, 1000), META_E_NOTFOUND);
    usage_is(s, "org", 60, 0);
    /* no intent */
    q = p;
    (void)snprintf(q.id, sizeof q.id, "part_4");
    q.bytes = 40;
    assert_int_equal(blob_key_new(q.blob), ST_OK);
    EXPECT(META_E_NOTFOUND, s, part_commit, &q, NOW, 1000, 1000);
    /* an intent of another org */
    EXPECT(META_OK, s, intent_open, "org2", q.blob, SELF, NOW);
    EXPECT(META_E_INVALID, s, part_commit, &q, NOW, 1000, 1000);
    EXPECT(META_OK, s, intent_drop, q.blob);
    /* expired by the clock */
    EXPECT(META_OK, s, intent_open, "org", q.blob, SELF, NOW);
    EXPECT(META_E_STATE, s, part_commit, &q, NOW + 3600, 1000, 1000);
    EXPECT(META_E_INVALID, s, part_commit, &q, NOW + 10, 1000, -1);
    EXPECT(META_OK, s, part_commit, &q, NOW + 10, 1000, 100); /* 60 + 40: within, inclusive */
    usage_is(s, "org", 100, 0);
    EXPECT(1, s, blob_referenced, q.blob);
    assert_int_equal(tombs_at(s, NOW + 99999).n, 0); /* the failures recorded nothing */
    EXPECT(META_OK, s, upload_parts, "org", "upload_p", collect_part_cb, &l);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.v[0].id, "part_1");
    assert_string_equal(l.v[0].blob, p.blob);
    assert_string_equal(l.v[0].upload_id, "upload_p");
    assert_string_equal(l.v[0].org, "org");
    assert_int_equal(l.v[0].bytes, 60);
    assert_int_equal(l.v[0].created_at, NOW + 1);
    assert_string_equal(l.v[1].id, "part_4");
    EXPECT(3, s, upload_parts, "org", "upload_p", stop_part_cb, NULL);
    l.n = 0;
    EXPECT(META_OK, s, upload_parts, "org2", "upload_p", collect_part_cb, &l);
    EXPECT(META_OK, s, upload_parts, "org", "upload_never", collect_part_cb, &l);
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
    EXPECT(META_OK, s, upload_create, &u);
    assert_int_equal(part_add(s, &p1, "org", "upload_c", "part_a", 10, 1000), META_OK);
    assert_int_equal(part_add(s, &p2, "org", "upload_c", "part_b", 20, 1000), META_OK);
    usage_is(s, "org", 30, 0);

    file_make(&f, "org", "file-up", "fine-tune", 30, NOW, 0);
    /* no intent for the assembled blob */
    EXPECT(META_E_NOTFOUND, s, upload_complete, "upload_c", &f, NOW, 1000, collect_blob_cb,
           &removed);
    assert_int_equal(removed.n, 0);
    EXPECT(META_OK, s, intent_open, "org", f.blob, SELF, NOW);
    /* the file's bytes replace the parts': a quota that holds them holds the file */
    EXPECT(META_E_QUOTA, s, upload_complete, "upload_c", &f, NOW, 29, collect_blob_cb, &removed);
    usage_is(s, "org", 30, 0); /* rolled back */
    EXPECT(META_E_NOTFOUND, s, upload_complete, "upload_x", &f, NOW, 1000, collect_blob_cb,
           &removed);
    EXPECT(META_E_STATE, s, upload_complete, "upload_c", &f, NOW + 3600, 1000, collect_blob_cb,
           &removed);
    assert_int_equal(removed.n, 0);
    assert_int_equal(tombs_at(s, NOW + 99999).n, 0);
    EXPECT(META_OK, s, upload_complete, "upload_c", &f, NOW, 30, collect_blob_cb, &removed);
    assert_int_equal(removed.n, 2);
    assert_true(has_key(&removed, p1.blob) && has_key(&removed, p2.blob));
    blob_set tombs = tombs_at(s, NOW);
    assert_int_equal(tombs.n, 2); /* the parts' blobs, not the file's */
    assert_true(has_key(&tombs, p1.blob) && has_key(&tombs, p2.blob));
    EXPECT(0, s, blob_referenced, p1.blob);
    EXPECT(1, s, blob_referenced, f.blob);
    usage_is(s, "org", 30, 0);
    EXPECT(META_OK, s, file_get, "org", "file-up", NOW, &out);
    assert_int_equal(out.bytes, 30);
    assert_string_equal(out.blob, f.blob);
    EXPECT(META_OK, s, upload_get, "org", "upload_c", &got);
    assert_int_equal(got.status, META_UPLOAD_COMPLETED);
    assert_string_equal(got.file_id, "file-up");
    /* nothing can follow a completion */
    assert_int_equal(part_add(s, &p3, "org", "upload_c", "part_c", 1, 1000), META_E_STATE);
    EXPECT(META_E_STATE, s, upload_cancel, "org", "upload_c", NOW, &got, NULL, NULL);
    assert_int_equal(got.status, META_UPLOAD_COMPLETED);
    file_make(&f, "org", "file-up2", "fine-tune", 0, NOW, 0);
    EXPECT(META_OK, s, intent_open, "org", f.blob, SELF, NOW);
    EXPECT(META_E_STATE, s, upload_complete, "upload_c", &f, NOW, 1000, NULL, NULL);
    /* the file is an ordinary file */
    EXPECT(META_OK, s, file_delete, "org", "file-up", NOW, &out);
    usage_is(s, "org", 0, 0);
}

/* An id conflict or an intent of another org changes nothing either. */
static void test_upload_complete_errors(void **state)
{
    meta_store *s = ((fx *)*state)->s;
    meta_upload u, got;
    meta_part p;
    meta_file f;

    put(s, "org", "file-taken", 1, NOW);
    upload_make(&u, "org", "upload_e", 10);
    EXPECT(META_OK, s, upload_create, &u);
    assert_int_equal(part_add(s, &p, "org", "upload_e", "part_e", 10, 1000), META_OK);
    file_make(&f, "org", "file-taken", "fine-tune", 10, NOW, 0);
    EXPECT(META_OK, s, intent_open, "org", f.blob, SELF, NOW);
    EXPECT(META_E_CONFLICT, s, upload_complete, "upload_e", &f, NOW, 1000, NULL, NULL);
    (void)snprintf(f.id, sizeof f.id, "file-new");
    (void)snprintf(f.org, sizeof f.org, "org2");
    EXPECT(META_E_NOTFOUND, s, upload_complete, "upload_e", &f, NOW, 1000, NULL, NULL);
    (void)snprintf(f.org, sizeof f.org, "org");
    EXPECT(META_E_INVALID, s, upload_complete, "", &f, NOW, 1000, NULL, NULL);
    EXPECT(META_OK, s, upload_get, "org", "upload_e", &got);
    assert_int_equal(got.status, META_UPLOAD_PENDING);
    usage_is(s, "org", 11, 0);
    EXPECT(1, s, blob_referenced, p.blob);
    assert_int_equal(tombs_at(s, NOW + 99999).n, 0);
    EXPECT(META_OK, s, upload_complete, "upload_e", &f, NOW, 1000, NULL, NULL);
    usage_is(s, "org", 11, 0);
}

static void test_upload_complete_keeps_other_reservations(void **state)
{
    meta_store *s = ((fx *)*state)->s;
    meta_upload u;
    meta_part p;
    meta_file f;
    char other[BLOB_KEY_LEN + 1];

    upload_make(&u, "org", "upload_r", 10);
    EXPECT(META_OK, s, upload_create, &u);
    assert_int_equal(part_add(s, &p, "org", "upload_r", "part_r", 10, 100), META_OK);
    intent_with(s, "org", SELF, 90, other);
    file_make(&f, "org", "file-r", "fine-tune", 10, NOW, 0);
    EXPECT(META_OK, s, intent_open, "org", f.blob, SELF, NOW);
    EXPECT(META_E_QUOTA, s, upload_complete, "upload_r", &f, NOW, 99, NULL, NULL);
    EXPECT(META_OK, s, upload_complete, "upload_r", &f, NOW, 100, NULL, NULL);
    usage_is(s, "org", 10, 90);
}

static void test_upload_cancel(void **state)
{
    meta_store *s = ((fx *)*state)->s;
    meta_upload u, got;
    meta_part p1, p2;
    blob_set removed = {.n = 0};

    upload_make(&u, "org", "upload_k", 30);
    EXPECT(META_OK, s, upload_create, &u);
    assert_int_equal(part_add(s, &p1, "org", "upload_k", "part_k1", 10, 1000), META_OK);
    assert_int_equal(part_add(s, &p2, "org", "upload_k", "part_k2", 5, 1000), META_OK);
    usage_is(s, "org", 15, 0);
    EXPECT(META_E_NOTFOUND, s, upload_cancel, "org2", "upload_k", NOW, &got, collect_blob_cb,
           &removed);
    EXPECT(META_OK, s, upload_cancel, "org", "upload_k", NOW + 5, &got, collect_blob_cb, &removed);
    assert_int_equal(got.status, META_UPLOAD_CANCELLED);
    assert_string_equal(got.id, "upload_k");
    assert_int_equal(removed.n, 2);
    assert_true(has_key(&removed, p1.blob) && has_key(&removed, p2.blob));
    blob_set tombs = tombs_at(s, NOW + 5);
    assert_int_equal(tombs.n, 2);
    assert_true(has_key(&tombs, p1.blob) && has_key(&tombs, p2.blob));
    EXPECT(0, s, blob_referenced, p2.blob);
    usage_is(s, "org", 0, 0);
    removed.n = 0;
    EXPECT(META_E_STATE, s, upload_cancel, "org", "upload_k", NOW, &got, collect_blob_cb, &removed);
    assert_int_equal(got.status, META_UPLOAD_CANCELLED);
    assert_int_equal(removed.n, 0);
    assert_int_equal(part_add(s, &p1, "org", "upload_k", "part_k3", 1, 1000), META_E_STATE);
    /* an upload past its expiry cannot be cancelled: STATE, out as stored (still pending) */
    upload_make(&u, "org", "upload_e", 30);
    EXPECT(META_OK, s, upload_create, &u);
    assert_int_equal(part_add(s, &p1, "org", "upload_e", "part_e1", 4, 1000), META_OK);
    EXPECT(META_E_STATE, s, upload_cancel, "org", "upload_e", NOW + 3600, &got, NULL, NULL);
    assert_int_equal(got.status, META_UPLOAD_PENDING);
    usage_is(s, "org", 4, 0); /* nothing changed */
    EXPECT(META_E_INVALID, s, upload_cancel, "org", "upload_e", NOW, NULL, NULL, NULL);
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
        EXPECT(META_OK, s, upload_create, &u);
        assert_int_equal(part_add(s, &p[i], u.org, id, pid, 3 + i, 1000), META_OK);
    }
    usage_is(s, "org", 7, 0);
    usage_is(s, "org2", 5, 0);
    EXPECT(0, s, upload_take_expired, NOW + 99, 10, collect_blob_cb, &removed);
    EXPECT(2, s, upload_take_expired, NOW + 200, 10, collect_blob_cb, &removed);
    assert_int_equal(removed.n, 2);
    assert_true(has_key(&removed, p[0].blob) && has_key(&removed, p[1].blob));
    blob_set tombs = tombs_at(s, NOW + 200);
    assert_int_equal(tombs.n, 2);
    assert_true(has_key(&tombs, p[0].blob) && has_key(&tombs, p[1].blob));
    usage_is(s, "org", 0, 0);
    usage_is(s, "org2", 5, 0);
    EXPECT(META_OK, s, upload_get, "org", "upload_t0", &got);
    assert_int_equal(got.status, META_UPLOAD_EXPIRED);
    EXPECT(0, s, upload_take_expired, NOW + 200, 10, collect_blob_cb, &removed);
    EXPECT(1, s, upload_take_expired, NOW + 300, 1, collect_blob_cb, &removed);
    assert_int_equal(removed.n, 3);
    usage_is(s, "org2", 0, 0);
    EXPECT(META_E_INVALID, s, upload_take_expired, NOW, 0, collect_blob_cb, &removed);
    /* the rows stay (late requests learn the upload expired) until uploads_purge */
    EXPECT(META_OK, s, upload_get, "org", "upload_t0", &got);
}

/* upload_take_expired takes the earliest expiry first, at most limit per call. */
static void test_upload_take_expired_order(void **state)
{
    meta_store *s = ((fx *)*state)->s;
    meta_upload u, got;
    blob_set removed = {.n = 0};
    char id[32];

    for (int i = 0; i < 6; i++) {
        (void)snprintf(id, sizeof id, "upload_o%d", i);
        upload_make(&u, "org", id, 10);
        u.expires_at = NOW + 60 - 10 * i; /* upload_o5 first */
        EXPECT(META_OK, s, upload_create, &u);
    }
    for (int round = 1; round <= 3; round++) {
        EXPECT(2, s, upload_take_expired, NOW + 1000, 2, collect_blob_cb, &removed);
        for (int i = 0; i < 6; i++) {
            (void)snprintf(id, sizeof id, "upload_o%d", i);
            EXPECT(META_OK, s, upload_get, "org", id, &got);
            int taken = 5 - i < 2 * round;
            assert_int_equal(got.status, taken ? META_UPLOAD_EXPIRED : META_UPLOAD_PENDING);
        }
    }
    EXPECT(0, s, upload_take_expired, NOW + 1000, 2, collect_blob_cb, &removed);
}

/* Rows of finished uploads go once their expiry is at or before `before`; pending ones stay. */
static void test_uploads_purge(void **state)
{
    meta_store *s = ((fx *)*state)->s;
    meta_upload u, got;
    meta_file f;
    blob_set removed = {.n = 0};

    upload_make(&u, "org", "upload_done", 0);
    EXPECT(META_OK, s, upload_create, &u);
    file_make(&f, "org", "file-done", "batch", 0, NOW, 0);
    EXPECT(META_OK, s, intent_open, "org", f.blob, SELF, NOW);
    EXPECT(META_OK, s, upload_complete, "upload_done", &f, NOW, 1000, NULL, NULL);
    upload_make(&u, "org", "upload_gone", 0);
    EXPECT(META_OK, s, upload_create, &u);
    EXPECT(META_OK, s, upload_cancel, "org", "upload_gone", NOW, &got, NULL, NULL);
    upload_make(&u, "org", "upload_exp", 0);
    u.expires_at = NOW + 10;
    EXPECT(META_OK, s, upload_create, &u);
    EXPECT(1, s, upload_take_expired, NOW + 10, 10, collect_blob_cb, &removed);
    upload_make(&u, "org", "upload_open", 0);
    u.expires_at = NOW + 10; /* pending past its expiry, not swept: kept */
    EXPECT(META_OK, s, upload_create, &u);

    EXPECT(1, s, uploads_purge, NOW + 10); /* upload_exp */
    EXPECT(META_E_NOTFOUND, s, upload_get, "org", "upload_exp", &got);
    EXPECT(0, s, uploads_purge, NOW + 3599);
    EXPECT(2, s, uploads_purge, NOW + 3600);
    EXPECT(META_E_NOTFOUND, s, upload_get, "org", "upload_done", &got);
    EXPECT(META_E_NOTFOUND, s, upload_get, "org", "upload_gone", &got);
    EXPECT(META_OK, s, upload_get, "org", "upload_open", &got);
    EXPECT(0, s, uploads_purge, NOW + 99999);
    EXPECT(META_OK, s, file_get, "org", "file-done", NOW, &f); /* the file is not the upload */
}

/* ---- the error record ---- */

/* The first failure wins (curl's Curl_failf rule): a later failure on the same record keeps
 * the first code and message; a success does not clear it. A NULL record is allowed. */
static void test_error_record(void **state)
{
    meta_store *s = ((fx *)*state)->s;
    meta_file out;
    meta_pos pos;
    st_err e = ST_ERR_INIT;
    char first[ST_MSG_MAX];
    int64_t used, reserved;

    put(s, "org", "file-1", 1, NOW);
    assert_int_equal(s->ops->file_get(s, "org", "file-none", NOW, &out, &e), META_E_NOTFOUND);
    assert_int_equal(e.code, ST_E_NOTFOUND);
    assert_false(e.retryable);
    assert_non_null(e.backend);
    assert_true(e.msg[0] != '\0');
    memcpy(first, e.msg, sizeof first);
    assert_int_equal(s->ops->file_position(s, "bad org", "x", &pos, &e), META_E_INVALID);
    assert_int_equal(s->ops->intent_reserve(s, "not-a-blob", 1, 1, &e), META_E_INVALID);
    assert_int_equal(s->ops->org_usage(s, "org", &used, &reserved, &e), META_OK);
    assert_int_equal(e.code, ST_E_NOTFOUND);
    assert_string_equal(e.msg, first);

    /* without a record: the same codes */
    assert_int_equal(s->ops->file_get(s, "org", "file-none", NOW, &out, NULL), META_E_NOTFOUND);
    assert_int_equal(s->ops->file_get(s, "org", "file-1", NOW, &out, NULL), META_OK);
    assert_int_equal(s->ops->file_position(s, "org", "file-1", &pos, NULL), META_OK);
    assert_int_equal(s->ops->key_revoke(s, "key-none", NOW, NULL), META_E_NOTFOUND);
    meta_upload u;
    upload_make(&u, "org", "upload_n", 1);
    assert_int_equal(s->ops->upload_create(s, &u, NULL), META_OK);
    assert_int_equal(s->ops->upload_create(s, &u, NULL), META_E_CONFLICT);
}

static void test_version(void **state)
{
    meta_store *s = ((fx *)*state)->s;
    const meta_ops *o = s->ops;
    assert_int_equal(o->version, META_OPS_VERSION);
    assert_non_null(o->name);
    assert_int_equal(!!(o->caps & META_CAP_FILE_COUNT), o->org_file_count != NULL);
    assert_int_equal(!!(o->caps & META_CAP_CLOCK), o->clock != NULL);
    /* every op but the optional ones */
    assert_true(o->key_lookup && o->key_create && o->key_list && o->key_revoke &&
                o->key_count_active);
    assert_true(o->owner_renew && o->owner_forget && o->lease_take);
    assert_true(o->intent_open && o->intent_reserve && o->intent_drop && o->intents_reap &&
                o->file_commit);
    assert_true(o->file_get && o->file_position && o->file_list && o->file_delete &&
                o->expired_take && o->blob_referenced && o->cursor_tombs_purge);
    assert_true(o->blob_tombs_take && o->blob_tomb_done);
    assert_true(o->upload_create && o->upload_get && o->upload_cancel && o->part_commit &&
                o->upload_parts && o->upload_complete && o->upload_take_expired &&
                o->uploads_purge);
    assert_true(o->org_usage && o->stats && o->free);
    assert_true(o->file_walk && o->upload_walk && o->intent_walk && o->org_walk && o->owner_walk &&
                o->file_drop && o->part_drop && o->usage_recompute);
    if (o->clock) { /* the database's clock: a plausible Unix time */
        int64_t now = 0;
        EXPECT(META_OK, s, clock, &now);
        int64_t d = now - (int64_t)time(NULL);
        assert_true(d > -86400 && d < 86400);
    }
}

/* ---- concurrency ---- */

#define NTHREADS   8
#define PER_THREAD 60
#define ORG_MAX    20000

typedef struct race {
    meta_store *s;
    atomic_llong committed; /* bytes committed minus bytes deleted */
    atomic_int refusals;
    atomic_int violations;
    atomic_int errors;
    atomic_int seq;
    atomic_int wins[50]; /* test_concurrent_lease: winners per round */
    pthread_barrier_t barrier;
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
        atomic_fetch_add(&r->refusals, 1);
    else
        atomic_fetch_add(&r->errors, 1);
    if (rc == META_OK && rand_r(seed) % 3 == 0) {
        if (s->ops->file_delete(s, "racers", id, NOW, &out, NULL) == META_OK)
            atomic_fetch_sub(&r->committed, out.bytes);
        else
            atomic_fetch_add(&r->errors, 1);
    }
    if (s->ops->org_usage(s, "racers", &used, &reserved, NULL) != META_OK ||
        used + reserved > ORG_MAX || used < 0 || reserved < 0)
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

static void run_threads(race *r, void *(*fn)(void *))
{
    pthread_t t[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, fn, r), 0);
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
}

static void test_concurrent_quota(void **state)
{
    meta_store *s = ((fx *)*state)->s;
    race r = {.s = s};
    meta_stats st;

    run_threads(&r, race_thread);
    assert_int_equal(atomic_load(&r.errors), 0);
    assert_int_equal(atomic_load(&r.violations), 0);
    assert_true(atomic_load(&r.refusals) > 0); /* the quota was actually contended */
    usage_is(s, "racers", (int64_t)atomic_load(&r.committed), 0);
    EXPECT(META_OK, s, stats, &st);
    assert_int_equal(st.bytes, (int64_t)atomic_load(&r.committed));
    assert_true(st.bytes <= ORG_MAX);
}

/* Parts racing into one upload never exceed parts_max together. */
#define PARTS_MAX 3000

static void *part_thread(void *arg)
{
    race *r = arg;
    unsigned seed = (unsigned)atomic_fetch_add(&r->seq, 1) * 2654435761u;
    for (int i = 0; i < 20; i++) {
        char id[32];
        meta_part p;
        (void)snprintf(id, sizeof id, "part_%d", atomic_fetch_add(&r->seq, 1));
        int rc = part_add_max(r->s, &p, "org", "upload_race", id, 1 + rand_r(&seed) % 100, BIG_MAX,
                              PARTS_MAX);
        if (rc == META_OK)
            atomic_fetch_add(&r->committed, p.bytes);
        else if (rc == META_E_LIMIT)
            atomic_fetch_add(&r->refusals, 1);
        else
            atomic_fetch_add(&r->errors, 1);
    }
    return NULL;
}

static int sum_part_cb(const meta_part *p, void *userdata)
{
    *(int64_t *)userdata += p->bytes;
    return 0;
}

static void test_concurrent_parts(void **state)
{
    meta_store *s = ((fx *)*state)->s;
    meta_upload u;
    race r = {.s = s};
    int64_t sum = 0;

    upload_make(&u, "org", "upload_race", PARTS_MAX);
    EXPECT(META_OK, s, upload_create, &u);
    run_threads(&r, part_thread); /* 160 parts of 50 bytes on average: 8000 > PARTS_MAX */
    assert_int_equal(atomic_load(&r.errors), 0);
    assert_true(atomic_load(&r.refusals) > 0);
    assert_true(atomic_load(&r.committed) <= PARTS_MAX);
    EXPECT(META_OK, s, upload_parts, "org", "upload_race", sum_part_cb, &sum);
    assert_int_equal(sum, (int64_t)atomic_load(&r.committed));
    usage_is(s, "org", sum, 0);
}

/* Every thread is an owner trying the lease at the same moment of each round (a barrier): at
 * most one holds it per round (the rounds are further apart than the lease lasts). */
static void *lease_thread(void *arg)
{
    race *r = arg;
    char owner[32];
    (void)snprintf(owner, sizeof owner, "owner-%d", atomic_fetch_add(&r->seq, 1));
    if (r->s->ops->owner_renew(r->s, owner, NOW, 100000, NULL) != META_OK)
        atomic_fetch_add(&r->errors, 1);
    for (int round = 0; round < 50; round++) {
        pthread_barrier_wait(&r->barrier);
        int got = r->s->ops->lease_take(r->s, "gc", owner, NOW + 100 * round, 30, NULL);
        if (got == 1)
            atomic_fetch_add(&r->wins[round], 1);
        else if (got != 0)
            atomic_fetch_add(&r->errors, 1);
    }
    return NULL;
}

static void test_concurrent_lease(void **state)
{
    meta_store *s = ((fx *)*state)->s;
    race r = {.s = s};
    int total = 0;

    assert_int_equal(pthread_barrier_init(&r.barrier, NULL, NTHREADS), 0);
    run_threads(&r, lease_thread);
    pthread_barrier_destroy(&r.barrier);
    assert_int_equal(atomic_load(&r.errors), 0);
    for (int i = 0; i < 50; i++) {
        assert_true(atomic_load(&r.wins[i]) <= 1);
        total += atomic_load(&r.wins[i]);
    }
    assert_true(total >= 1);
}

/* ---- the whole store: walks and repairs (fsck, migrate) ---- */

typedef struct key_seen {
    meta_key v[8];
    int n;
} key_seen;

static int key_collect_cb(const meta_key *k, void *userdata)
{
    key_seen *ks = userdata;
    assert_true(ks->n < 8);
    ks->v[ks->n++] = *k;
    return 0;
}

/* key_list hands out each key's hash, so a key can be copied to another store whole. */
static void test_key_list_hashes(void **state)
{
    meta_store *s = ((fx *)*state)->s;
    uint8_t h1[32], h2[32];
    meta_key k;
    key_seen ks = {.n = 0};
    hash_of(h1, 11), hash_of(h2, 12);
    key_make(&k, "key_a", "org-a");
    EXPECT(META_OK, s, key_create, &k, h1);
    key_make(&k, "key_b", "org-a");
    k.created_at = NOW + 1;
    k.revoked_at = NOW + 5; /* created revoked: as copied from a store where it was */
    EXPECT(META_OK, s, key_create, &k, h2);
    EXPECT(META_OK, s, key_list, key_collect_cb, &ks);
    assert_int_equal(ks.n, 2);
    assert_string_equal(ks.v[0].id, "key_a");
    assert_memory_equal(ks.v[0].hash, h1, 32);
    assert_int_equal(ks.v[0].revoked_at, 0);
    assert_string_equal(ks.v[1].id, "key_b");
    assert_memory_equal(ks.v[1].hash, h2, 32);
    assert_int_equal(ks.v[1].revoked_at, NOW + 5);
    char org[META_ORG_MAX];
    EXPECT(META_E_NOTFOUND, s, key_lookup, h2, org);
}

typedef struct seqs {
    int64_t last;
    int n;
    ids got;
} seqs;

static int walk_file_cb(const meta_file *f, void *userdata)
{
    seqs *w = userdata;
    assert_true(f->seq > w->last); /* creation order */
    w->last = f->seq;
    w->n++;
    return ids_cb(f, &w->got);
}

/* Every file row in creation order, page by page, expired and other organizations' too. */
static void test_file_walk(void **state)
{
    meta_store *s = ((fx *)*state)->s;
    meta_file f;
    for (int i = 0; i < 7; i++) {
        char id[16];
        (void)snprintf(id, sizeof id, "file-w%d", i);
        file_make(&f, i % 2 ? "org-a" : "org-b", id, "assistants", i, NOW + 7 - i,
                  i == 3 ? NOW + 1 : 0);
        assert_int_equal(upload(s, &f, BIG_MAX), META_OK);
    }
    seqs w = {.last = 0, .n = 0, .got = {.n = 0}};
    int n;
    CALL(&n, s, file_walk, 0, 3, walk_file_cb, &w);
    assert_int_equal(n, 3);
    CALL(&n, s, file_walk, w.last, 3, walk_file_cb, &w);
    assert_int_equal(n, 3);
    CALL(&n, s, file_walk, w.last, 3, walk_file_cb, &w);
    assert_int_equal(n, 1); /* the last page */
    CALL(&n, s, file_walk, w.last, 3, walk_file_cb, &w);
    assert_int_equal(n, 0);
    assert_int_equal(w.got.n, 7);
    for (int i = 0; i < 7; i++) {
        char id[16];
        (void)snprintf(id, sizeof id, "file-w%d", i);
        assert_string_equal(w.got.v[i], id); /* file-w3 expired at NOW + 1: still walked */
    }
    EXPECT(42, s, file_walk, 0, 3, stop_file_cb, NULL);
    EXPECT(META_E_INVALID, s, file_walk, 0, 0, count_file_cb, &n);
}

typedef struct up_seen {
    meta_upload v[8];
    int n;
} up_seen;

static int upload_collect_cb(const meta_upload *u, void *userdata)
{
    up_seen *us = userdata;
    assert_true(us->n < 8);
    us->v[us->n++] = *u;
    return 0;
}

/* Every upload, any state, in id order, page by page. */
static void test_upload_walk(void **state)
{
    meta_store *s = ((fx *)*state)->s;
    meta_upload u, out;
    upload_make(&u, "org-a", "upload_c", 10);
    EXPECT(META_OK, s, upload_create, &u);
    upload_make(&u, "org-b", "upload_a", 10);
    EXPECT(META_OK, s, upload_create, &u);
    upload_make(&u, "org-a", "upload_b", 10);
    EXPECT(META_OK, s, upload_create, &u);
    EXPECT(META_OK, s, upload_cancel, "org-a", "upload_b", NOW, &out, NULL, NULL);
    up_seen us = {.n = 0};
    int n;
    CALL(&n, s, upload_walk, "", 2, upload_collect_cb, &us);
    assert_int_equal(n, 2);
    CALL(&n, s, upload_walk, us.v[1].id, 2, upload_collect_cb, &us);
    assert_int_equal(n, 1);
    assert_int_equal(us.n, 3);
    assert_string_equal(us.v[0].id, "upload_a");
    assert_string_equal(us.v[0].org, "org-b");
    assert_string_equal(us.v[1].id, "upload_b");
    assert_int_equal(us.v[1].status, META_UPLOAD_CANCELLED);
    assert_string_equal(us.v[2].id, "upload_c");
    assert_int_equal(us.v[2].status, META_UPLOAD_PENDING);
    assert_int_equal(us.v[2].created_at, NOW);
    assert_int_equal(us.v[2].expires_at, NOW + 3600);
    assert_string_equal(us.v[2].mime_type, "text/jsonl");
}

typedef struct intent_seen {
    meta_intent v[4];
    int n;
} intent_seen;

static int intent_collect_cb(const meta_intent *i, void *userdata)
{
    intent_seen *is = userdata;
    assert_true(is->n < 4);
    is->v[is->n++] = *i;
    return 0;
}

typedef struct org_seen {
    meta_org v[4];
    int n;
} org_seen;

static int org_collect_cb(const meta_org *o, void *userdata)
{
    org_seen *os = userdata;
    assert_true(os->n < 4);
    os->v[os->n++] = *o;
    return 0;
}

/* Intents with their owner, reservation and time; organizations with their usage. */
static void test_intent_and_org_walk(void **state)
{
    meta_store *s = ((fx *)*state)->s;
    char b1[BLOB_KEY_LEN + 1], b2[BLOB_KEY_LEN + 1];
    blob_key_new(b1), blob_key_new(b2);
    if (strcmp(b1, b2) > 0) {
        char t[BLOB_KEY_LEN + 1];
        memcpy(t, b1, sizeof t), memcpy(b1, b2, sizeof t), memcpy(b2, t, sizeof t);
    }
    EXPECT(META_OK, s, intent_open, "org-b", b2, "owner-2", NOW + 2);
    EXPECT(META_OK, s, intent_open, "org-a", b1, SELF, NOW + 1);
    EXPECT(META_OK, s, intent_reserve, b1, 30, BIG_MAX);
    put(s, "org-a", "file-x", 12, NOW);
    intent_seen is = {.n = 0};
    EXPECT(META_OK, s, intent_walk, intent_collect_cb, &is);
    assert_int_equal(is.n, 2);
    assert_string_equal(is.v[0].blob, b1);
    assert_string_equal(is.v[0].org, "org-a");
    assert_string_equal(is.v[0].owner, SELF);
    assert_int_equal(is.v[0].reserved, 30);
    assert_int_equal(is.v[0].created_at, NOW + 1);
    assert_string_equal(is.v[1].blob, b2);
    assert_string_equal(is.v[1].owner, "owner-2");
    assert_int_equal(is.v[1].reserved, 0);
    org_seen os = {.n = 0};
    EXPECT(META_OK, s, org_walk, org_collect_cb, &os);
    assert_int_equal(os.n, 2);
    assert_string_equal(os.v[0].id, "org-a");
    assert_int_equal(os.v[0].used, 12);
    assert_int_equal(os.v[0].reserved, 30);
    assert_string_equal(os.v[1].id, "org-b");
    assert_int_equal(os.v[1].used, 0);
}

typedef struct owner_seen {
    char id[4][META_OWNER_MAX];
    int64_t until[4];
    int n;
} owner_seen;

static int owner_collect_cb(const char *owner, int64_t expires_at, void *userdata)
{
    owner_seen *os = userdata;
    assert_true(os->n < 4);
    (void)snprintf(os->id[os->n], META_OWNER_MAX, "%s", owner);
    os->until[os->n++] = expires_at;
    return 0;
}

/* Every owner row with when its lease runs out: a forgotten owner is gone. */
static void test_owner_walk(void **state)
{
    meta_store *s = ((fx *)*state)->s;
    EXPECT(META_OK, s, owner_renew, "own_b", NOW, 30);
    EXPECT(META_OK, s, owner_renew, "own_a", NOW, 10);
    EXPECT(META_OK, s, owner_renew, "own_c", NOW, 10);
    EXPECT(META_OK, s, owner_forget, "own_c", NULL);
    owner_seen os = {.n = 0};
    EXPECT(META_OK, s, owner_walk, owner_collect_cb, &os);
    assert_int_equal(os.n, 2);
    assert_string_equal(os.id[0], "own_a");
    assert_int_equal(os.until[0], NOW + 10);
    assert_string_equal(os.id[1], "own_b");
    assert_int_equal(os.until[1], NOW + 30);
}

static void recompute(meta_store *s)
{
    st_err e = ST_ERR_INIT;
    int rc = s->ops->usage_recompute(s, &e);
    assert_int_equal(rc, META_OK);
    record_matches(&e, rc);
}

/* Repairs: a dropped row leaves usage alone until usage_recompute sets it from the rows. */
static void test_drop_and_recompute(void **state)
{
    meta_store *s = ((fx *)*state)->s;
    meta_upload u;
    meta_part p;
    char b[BLOB_KEY_LEN + 1];
    put(s, "org-a", "file-1", 10, NOW);
    put(s, "org-a", "file-2", 20, NOW);
    upload_make(&u, "org-a", "upload_r", 100);
    EXPECT(META_OK, s, upload_create, &u);
    assert_int_equal(part_add(s, &p, "org-a", "upload_r", "part_1", 5, BIG_MAX), META_OK);
    blob_key_new(b);
    EXPECT(META_OK, s, intent_open, "org-a", b, SELF, NOW);
    EXPECT(META_OK, s, intent_reserve, b, 7, BIG_MAX);
    usage_is(s, "org-a", 35, 7);
    EXPECT(META_OK, s, file_drop, "file-1");
    EXPECT(META_E_NOTFOUND, s, file_drop, "file-1");
    EXPECT(META_OK, s, part_drop, "part_1");
    EXPECT(META_E_NOTFOUND, s, part_drop, "part_1");
    usage_is(s, "org-a", 35, 7); /* not yet */
    meta_file f;
    EXPECT(META_E_NOTFOUND, s, file_get, "org-a", "file-1", NOW, &f);
    part_list pl = {.n = 0};
    EXPECT(META_OK, s, upload_parts, "org-a", "upload_r", collect_part_cb, &pl);
    assert_int_equal(pl.n, 0);
    recompute(s);
    usage_is(s, "org-a", 20, 7);
    EXPECT(META_OK, s, intent_drop, b);
    recompute(s);
    usage_is(s, "org-a", 20, 0);
}

#define META_TEST(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

#define META_CONTRACT_TESTS                                                                        \
    META_TEST(test_version), META_TEST(test_keys), META_TEST(test_intent_reserve_quota),           \
        META_TEST(test_commit_quota), META_TEST(test_commit_errors), META_TEST(test_intents_reap), \
        META_TEST(test_owner_renew_extends), META_TEST(test_owner_forget),                         \
        META_TEST(test_lease_take), META_TEST(test_lease_of_dead_owner),                           \
        META_TEST(test_get_delete_accounting), META_TEST(test_org_isolation),                      \
        META_TEST(test_pagination), META_TEST(test_list_any_position),                             \
        META_TEST(test_list_errors), META_TEST(test_list_stop), META_TEST(test_expiry),            \
        META_TEST(test_expired_take_order), META_TEST(test_org_file_count),                        \
        META_TEST(test_position), META_TEST(test_tombstone_delete_while_paging),                   \
        META_TEST(test_tombstone_scope), META_TEST(test_tombstone_expired_and_purge),              \
        META_TEST(test_tombstone_place_not_reused), META_TEST(test_tombstone_id_reused),           \
        META_TEST(test_blob_referenced), META_TEST(test_blob_tombs_take),                          \
        META_TEST(test_blob_tombs_recorded), META_TEST(test_upload_create_get),                    \
        META_TEST(test_upload_get_as_stored), META_TEST(test_part_commit),                         \
        META_TEST(test_upload_complete), META_TEST(test_upload_complete_errors),                   \
        META_TEST(test_upload_complete_keeps_other_reservations), META_TEST(test_upload_cancel),   \
        META_TEST(test_upload_take_expired), META_TEST(test_upload_take_expired_order),            \
        META_TEST(test_uploads_purge), META_TEST(test_error_record),                               \
        META_TEST(test_concurrent_quota), META_TEST(test_concurrent_parts),                        \
        META_TEST(test_concurrent_lease), META_TEST(test_key_list_hashes),                         \
        META_TEST(test_file_walk), META_TEST(test_upload_walk),                                    \
        META_TEST(test_intent_and_org_walk), META_TEST(test_drop_and_recompute),                   \
        META_TEST(test_owner_walk)

#endif
