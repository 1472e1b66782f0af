/*
 * In-memory metadata backend: every table of meta.h in hash tables under one mutex. It exists
 * so the generic contract tests (tests/unit/server/meta_contract.h) and the storage frontend's
 * tests run on a second backend that shares nothing with SQLite, which keeps the contract about
 * the ops rather than about SQL, as blob_mem.c does for blobs. Not for production: everything
 * is lost with the process, and it is sized for tests (thousands of rows): expiry, purges and
 * counts scan where SQLite has an index.
 *
 * Each op holds the mutex for its whole change, so a conditional change (the quota, parts
 * within parts_max, a pending and unexpired upload) is checked and applied atomically. A change
 * first checks every condition and allocates everything it will link (entries, records, room
 * in arrays), then applies itself in steps that cannot fail: a failure leaves nothing changed,
 * as a rolled-back transaction would. The one exception is an organization created on first
 * use by a change that then fails; an empty organization cannot be told from none.
 *
 * Callbacks run after the mutex is released, on copies.
 */
#include "server/meta/meta.h"
#include "server/meta/meta_check.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define B              "mem" /* the backend's name in error records */
#define LIST_LIMIT_MAX 10000 /* meta_list_req.limit */
#define TAKE_LIMIT_MAX 10000 /* expired_take, upload_take_expired, blob_tombs_take */
#define OWNER_MAX      64    /* owner ids and lease names, incl. NUL */

/* ---- hash tables ---- */

typedef struct ment {
    struct ment *next;
    uint64_t h;
    void *val;
    size_t len;
    char key[]; /* len bytes and a NUL, so that string keys read as strings */
} ment;

typedef struct htab {
    ment **b;
    size_t nb; /* a power of two */
    size_t n;
    void (*vfree)(void *); /* frees the values the table owns; NULL: it owns none */
} htab;

static uint64_t hash_of(const void *key, size_t len)
{
    const unsigned char *p = key;
    uint64_t h = 14695981039346656037u; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 1099511628211u;
    return h;
}

static int ht_init(htab *t, void (*vfree)(void *))
{
    t->nb = 64;
    t->n = 0;
    t->vfree = vfree;
    t->b = calloc(t->nb, sizeof *t->b);
    return t->b ? ST_OK : ST_E_NOMEM;
}

static ment *ent_new(const void *key, size_t len, void *val)
{
    ment *e = malloc(sizeof *e + len + 1);
    if (!e)
        return NULL;
    e->next = NULL;
    e->h = hash_of(key, len);
    e->val = val;
    e->len = len;
    memcpy(e->key, key, len);
    e->key[len] = '\0';
    return e;
}

/* An entry for a string key with a zeroed record of size bytes as its value. */
static ment *ent_rec(const char *key, size_t size)
{
    void *v = calloc(1, size);
    ment *e = v ? ent_new(key, strlen(key), v) : NULL;
    if (!e)
        free(v);
    return e;
}

/* Frees an entry that was never linked, with its record if rec. NULL-safe. */
static void ent_drop(ment *e, int rec)
{
    if (e && rec)
        free(e->val);
    free(e);
}

static ment **ht_slot(const htab *t, const void *key, size_t len, uint64_t h)
{
    ment **p = &t->b[h & (t->nb - 1)];
    while (*p && ((*p)->h != h || (*p)->len != len || memcmp((*p)->key, key, len) != 0))
        p = &(*p)->next;
    return p;
}

static void *ht_get(const htab *t, const void *key, size_t len)
{
    ment *e = *ht_slot(t, key, len, hash_of(key, len));
    return e ? e->val : NULL;
}

static void *sget(const htab *t, const char *key)
{
    return ht_get(t, key, strlen(key));
}

/* Doubles the buckets; without memory the chains only grow longer. */
static void ht_grow(htab *t)
{
    size_t nb = t->nb * 2;
    ment **b = calloc(nb, sizeof *b);
    if (!b)
        return;
    for (size_t i = 0; i < t->nb; i++) {
        ment *next;
        for (ment *e = t->b[i]; e; e = next) {
            next = e->next;
            e->next = b[e->h & (nb - 1)];
            b[e->h & (nb - 1)] = e;
        }
    }
    free(t->b);
    t->b = b;
    t->nb = nb;
}

/* Links e, whose key must be absent. Cannot fail. */
static void ht_link(htab *t, ment *e)
{
    if (t->n >= t->nb)
        ht_grow(t);
    ment **p = &t->b[e->h & (t->nb - 1)];
    e->next = *p;
    *p = e;
    t->n++;
}

/* Unlinks the entry of key and returns its value (the caller's now), or NULL. */
static void *ht_take(htab *t, const void *key, size_t len)
{
    ment **p = ht_slot(t, key, len, hash_of(key, len));
    ment *e = *p;
    if (!e)
        return NULL;
    void *v = e->val;
    *p = e->next;
    free(e);
    t->n--;
    return v;
}

static void *stake(htab *t, const char *key)
{
    return ht_take(t, key, strlen(key));
}

typedef void (*ht_visit)(const char *key, void *val, void *userdata);
typedef int (*ht_pred)(const char *key, void *val, void *userdata);

/* Calls fn with every entry; fn must not change the table. */
static void ht_each(const htab *t, ht_visit fn, void *userdata)
{
    for (size_t i = 0; i < t->nb; i++)
        for (ment *e = t->b[i]; e; e = e->next)
            fn(e->key, e->val, userdata);
}

/* Removes (and frees, if the table owns its values) every entry drop says so of. Returns how
 * many. */
static int ht_filter(htab *t, ht_pred drop, void *userdata)
{
    int n = 0;
    for (size_t i = 0; i < t->nb; i++) {
        ment **p = &t->b[i];
        while (*p) {
            ment *e = *p;
            if (!drop(e->key, e->val, userdata)) {
                p = &e->next;
                continue;
            }
            *p = e->next;
            if (t->vfree)
                t->vfree(e->val);
            free(e);
            t->n--;
            n++;
        }
    }
    return n;
}

static int drop_all(const char *key, void *val, void *userdata)
{
    (void)key, (void)val, (void)userdata;
    return 1;
}

static void ht_free(htab *t)
{
    if (t->b)
        ht_filter(t, drop_all, NULL);
    free(t->b);
    t->b = NULL;
}

/* Room for one more element in an array of n used of *cap: v itself, a larger copy of it, or
 * NULL (v unchanged) without memory. */
static void *room(void *v, size_t n, size_t *cap, size_t size)
{
    if (n < *cap)
        return v;
    size_t c = *cap ? *cap * 2 : 16;
    void *p = realloc(v, c * size);
    if (p)
        *cap = c;
    return p;
}

/* ---- records and the store ---- */

typedef struct mkey {
    meta_key k;
    uint8_t hash[32];
} mkey;

typedef struct morg {
    int64_t used, reserved;
    meta_file **files; /* in list order, (created_at, seq) */
    size_t n, cap;
} morg;

typedef struct mintent {
    char org[META_ORG_MAX];
    char owner[OWNER_MAX];
    int64_t reserved;
    int64_t created_at;
} mintent;

typedef struct ctomb { /* a cursor tombstone */
    char org[META_ORG_MAX];
    meta_pos pos;
    int64_t deleted_at;
} ctomb;

typedef struct btomb { /* a blob tombstone */
    int64_t at;
    int64_t seq; /* recording order, for ties in at */
} btomb;

typedef struct mlease { /* an owner's row (owner unused) or a named lease */
    char owner[OWNER_MAX];
    int64_t until;
} mlease;

typedef struct mupload {
    meta_upload u;
    meta_part **parts; /* (created_at, id) order */
    size_t n, cap;
    int64_t sum; /* the parts' bytes */
} mupload;

typedef struct mem_store {
    meta_store base;
    pthread_mutex_t mu;
    htab keys;       /* key id -> mkey */
    htab key_hash;   /* hash -> the same mkey */
    htab orgs;       /* org id -> morg */
    htab files;      /* file id -> meta_file */
    htab file_blobs; /* blob -> the same meta_file */
    htab ctombs;     /* file id -> ctomb */
    htab btombs;     /* blob -> btomb */
    htab intents;    /* blob -> mintent */
    htab owners;     /* owner id -> mlease */
    htab leases;     /* lease name -> mlease */
    htab uploads;    /* upload id -> mupload */
    htab parts;      /* part id -> meta_part */
    htab part_blobs; /* blob -> the same meta_part */
    int64_t seq;     /* the last file sequence given */
    int64_t btomb_seq;
    int64_t nfiles, nbytes, active_keys;
} mem_store;

static const meta_ops mem_ops;

static void morg_free(void *v)
{
    morg *o = v;
    free(o->files);
    free(o);
}

static void mupload_free(void *v)
{
    mupload *u = v;
    free(u->parts);
    free(u);
}

/* st_fail for this backend, whose value is the code itself: no caller's cleanup depends on
 * what st_fail returns (and the analyzer, which does not follow variadic calls, sees it). */
#define FAIL(e, code, ...) ((void)st_fail((e), (code), B, 0, __VA_ARGS__), (code))

static int nomem(st_err *e)
{
    (void)st_fail(e, ST_E_NOMEM, B, ENOMEM, "no memory");
    return ST_E_NOMEM;
}

static int invalid(st_err *e, const char *what)
{
    return FAIL(e, ST_E_INVALID, "%s: invalid arguments", what);
}

static void lock(mem_store *s)
{
    pthread_mutex_lock(&s->mu);
}

static void unlock(mem_store *s)
{
    pthread_mutex_unlock(&s->mu);
}

/* ---- checks ---- */

/* now + ttl is a time: ttl > 0, no overflow. */
static int ttl_ok(int64_t now, int64_t ttl)
{
    return now >= 0 && ttl > 0 && ttl <= INT64_MAX - now;
}

/* used + reserved + add <= max, without overflow (all operands >= 0). */
static int fits(int64_t used, int64_t reserved, int64_t add, int64_t max)
{
    return used <= max && reserved <= max - used && add <= max - used - reserved;
}

static int visible(const meta_file *f, int64_t now)
{
    return f->expires_at == 0 || f->expires_at > now;
}

/* ---- organizations and their list order ---- */

static morg *org_of(const mem_store *s, const char *org)
{
    return sget(&s->orgs, org);
}

/* The organization, created on first use; NULL (e filled) without memory. */
static morg *org_ensure(mem_store *s, const char *org, st_err *e)
{
    morg *o = org_of(s, org);
    if (o)
        return o;
    ment *en = ent_rec(org, sizeof *o);
    if (!en) {
        nomem(e);
        return NULL;
    }
    ht_link(&s->orgs, en);
    return en->val;
}

static int pos_cmp(const meta_file *f, const meta_pos *p)
{
    if (f->created_at != p->created_at)
        return f->created_at < p->created_at ? -1 : 1;
    return f->seq < p->seq ? -1 : f->seq > p->seq;
}

static meta_pos pos_of(const meta_file *f)
{
    return (meta_pos){f->created_at, f->seq};
}

/* The number of o's files placed before p, or at or before it if upper. */
static size_t org_bound(const morg *o, const meta_pos *p, int upper)
{
    size_t lo = 0, hi = o->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = pos_cmp(o->files[mid], p);
        if (c < 0 || (upper && c == 0))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Inserts f at its place; the caller made room (a new file usually goes last). */
static void org_insert(morg *o, meta_file *f)
{
    meta_pos p = pos_of(f);
    size_t i = org_bound(o, &p, 1);
    memmove(o->files + i + 1, o->files + i, (o->n - i) * sizeof *o->files);
    o->files[i] = f;
    o->n++;
}

static void org_remove(morg *o, const meta_file *f)
{
    meta_pos p = pos_of(f);
    size_t i = org_bound(o, &p, 0);
    if (i < o->n && o->files[i] == f) {
        memmove(o->files + i, o->files + i + 1, (o->n - i - 1) * sizeof *o->files);
        o->n--;
    }
}

/* ---- blob tombstones to record: allocated before a change, linked by it ---- */

typedef struct tombs {
    ment **v;                        /* entries not linked yet */
    char (*names)[BLOB_KEY_LEN + 1]; /* the same blobs, for the callbacks after the change */
    size_t n, cap, ncap;
} tombs;

static int tombs_add(tombs *t, const char *blob, st_err *e)
{
    ment **v = room(t->v, t->n, &t->cap, sizeof *v);
    if (!v)
        return nomem(e);
    t->v = v;
    char(*names)[BLOB_KEY_LEN + 1] = room(t->names, t->n, &t->ncap, sizeof *names);
    if (!names)
        return nomem(e);
    t->names = names;
    ment *en = ent_rec(blob, sizeof(btomb));
    if (!en)
        return nomem(e);
    memcpy(t->names[t->n], blob, sizeof t->names[0]);
    t->v[t->n++] = en;
    return ST_OK;
}

/* Part of a change: records every blob (a blob already recorded keeps its first time). */
static void tombs_link(mem_store *s, tombs *t, int64_t now)
{
    for (size_t i = 0; i < t->n; i++) {
        ment *en = t->v[i];
        t->v[i] = NULL;
        if (sget(&s->btombs, en->key)) {
            ent_drop(en, 1);
            continue;
        }
        btomb *b = en->val;
        b->at = now;
        b->seq = ++s->btomb_seq;
        ht_link(&s->btombs, en);
    }
}

/* After the change, the mutex released: the blobs to remove. A stop only ends the calls. */
static void tombs_notify(const tombs *t, meta_blob_cb cb, void *userdata)
{
    for (size_t i = 0; cb && i < t->n; i++)
        if (cb(t->names[i], userdata) != 0)
            break;
}

static void tombs_free(tombs *t)
{
    for (size_t i = 0; i < t->n; i++)
        ent_drop(t->v[i], 1);
    free(t->v);
    free(t->names);
}

/* ---- keys ---- */

static int mm_key_lookup(meta_store *ms, const uint8_t hash[32], char org[META_ORG_MAX], st_err *e)
{
    mem_store *s = (mem_store *)ms;
    if (!hash || !org)
        return invalid(e, "key lookup");
    int rc = ST_OK;
    lock(s);
    const mkey *k = ht_get(&s->key_hash, hash, 32);
    /* The table found the key by its hash; compare again in constant time so that acceptance
     * never depends on a data-dependent early exit. */
    if (k && k->k.revoked_at == 0 && CRYPTO_memcmp(k->hash, hash, 32) == 0)
        memcpy(org, k->k.org, META_ORG_MAX);
    else
        rc = FAIL(e, ST_E_NOTFOUND, "key lookup: no such active key");
    unlock(s);
    return rc;
}

static int key_valid(const meta_key *k)
{
    return k && meta_str_ok(k->id, META_ID_MAX) && meta_org_ok(k->org) &&
           strnlen(k->name, META_NAME_MAX) < META_NAME_MAX && k->created_at >= 0 &&
           k->revoked_at >= 0;
}

/* Under the mutex: links a new key record (the checks done). */
static int key_insert(mem_store *s, const meta_key *k, const uint8_t hash[32], st_err *e)
{
    mkey *r = calloc(1, sizeof *r);
    ment *by_id = r ? ent_new(k->id, strlen(k->id), r) : NULL;
    ment *by_hash = by_id ? ent_new(hash, 32, r) : NULL;
    if (!by_hash || !org_ensure(s, k->org, e)) {
        ent_drop(by_id, 0);
        ent_drop(by_hash, 0);
        free(r);
        return nomem(e);
    }
    r->k = *k;
    memcpy(r->hash, hash, 32);
    ht_link(&s->keys, by_id);
    ht_link(&s->key_hash, by_hash);
    s->active_keys += k->revoked_at == 0;
    return ST_OK;
}

static int mm_key_create(meta_store *ms, const meta_key *k, const uint8_t hash[32], st_err *e)
{
    mem_store *s = (mem_store *)ms;
    if (!key_valid(k) || !hash)
        return invalid(e, "key create");
    int rc;
    lock(s);
    if (sget(&s->keys, k->id))
        rc = FAIL(e, ST_E_CONFLICT, "key create: key id %s exists", k->id);
    else if (ht_get(&s->key_hash, hash, 32))
        rc = FAIL(e, ST_E_CONFLICT, "key create: a key has this secret");
    else
        rc = key_insert(s, k, hash, e);
    unlock(s);
    return rc;
}

typedef struct kvec {
    meta_key *v;
    size_t n, cap;
    int nomem;
} kvec;

static void key_copy(const char *key, void *val, void *userdata)
{
    kvec *kv = userdata;
    (void)key;
    meta_key *v = room(kv->v, kv->n, &kv->cap, sizeof *v);
    if (!v) {
        kv->nomem = 1;
        return;
    }
    kv->v = v;
    kv->v[kv->n] = ((const mkey *)val)->k;
    memcpy(kv->v[kv->n++].hash, ((const mkey *)val)->hash, 32);
}

static int key_order(const void *a, const void *b)
{
    const meta_key *x = a, *y = b;
    if (x->created_at != y->created_at)
        return x->created_at < y->created_at ? -1 : 1;
    return strcmp(x->id, y->id);
}

/* Every key (revoked ones too) by (created_at, id). */
static int mm_key_list(meta_store *ms, meta_key_cb cb, void *userdata, st_err *e)
{
    mem_store *s = (mem_store *)ms;
    if (!cb)
        return invalid(e, "key list");
    kvec kv = {NULL, 0, 0, 0};
    lock(s);
    ht_each(&s->keys, key_copy, &kv);
    unlock(s);
    int rc = kv.nomem ? nomem(e) : ST_OK;
    if (rc == ST_OK && kv.n)
        qsort(kv.v, kv.n, sizeof *kv.v, key_order);
    for (size_t i = 0; rc == ST_OK && i < kv.n; i++)
        rc = cb(&kv.v[i], userdata);
    free(kv.v);
    return rc;
}

static int mm_key_revoke(meta_store *ms, const char *key_id, int64_t now, st_err *e)
{
    mem_store *s = (mem_store *)ms;
    if (!meta_str_ok(key_id, META_ID_MAX) || now <= 0)
        return invalid(e, "key revoke");
    int rc = ST_OK;
    lock(s);
    mkey *k = sget(&s->keys, key_id);
    if (k && k->k.revoked_at == 0) {
        k->k.revoked_at = now;
        s->active_keys--;
    } else {
        rc = FAIL(e, ST_E_NOTFOUND, "key revoke: no active key %s", key_id);
    }
    unlock(s);
    return rc;
}

static int mm_key_count_active(meta_store *ms, int64_t *out, st_err *e)
{
    mem_store *s = (mem_store *)ms;
    if (!out)
        return invalid(e, "key count");
    lock(s);
    *out = s->active_keys;
    unlock(s);
    return ST_OK;
}

/* ---- owners and leases ---- */

static int owner_ok(const char *owner)
{
    return meta_str_ok(owner, OWNER_MAX);
}

static int alive(const mem_store *s, const char *owner, int64_t now)
{
    const mlease *o = sget(&s->owners, owner);
    return o && o->until > now;
}

/* The row of key in t, created (until 0) if absent; NULL without memory. */
static mlease *lease_row(htab *t, const char *key)
{
    mlease *l = sget(t, key);
    if (l)
        return l;
    ment *en = ent_rec(key, sizeof *l);
    if (!en)
        return NULL;
    ht_link(t, en);
    return en->val;
}

/* Extends, never shortens: a late renewal with an older clock must not cut the lease. */
static int mm_owner_renew(meta_store *ms, const char *owner, int64_t now, int64_t ttl, st_err *e)
{
    mem_store *s = (mem_store *)ms;
    if (!owner_ok(owner) || !ttl_ok(now, ttl))
        return invalid(e, "owner renew");
    lock(s);
    mlease *o = lease_row(&s->owners, owner);
    if (o && o->until < now + ttl)
        o->until = now + ttl;
    unlock(s);
    return o ? ST_OK : nomem(e);
}

static int other_owner(const char *key, void *val, void *userdata)
{
    (void)val;
    return strcmp(key, userdata) != 0;
}

/* Forgetting an owner that has no row is success. */
static int mm_owner_forget(meta_store *ms, const char *owner, const char *self, st_err *e)
{
    mem_store *s = (mem_store *)ms;
    if (owner ? !owner_ok(owner) : !owner_ok(self))
        return invalid(e, "owner forget");
    lock(s);
    if (owner)
        free(stake(&s->owners, owner));
    else
        ht_filter(&s->owners, other_owner, (void *)self);
    unlock(s);
    return ST_OK;
}

/* Free, expired, already ours, or held by an owner that is not alive (forgotten, or its own
 * lease ran out): a dead instance's leases are free at once. */
static int mm_lease_take(
    meta_store *ms, const char *name, const char *owner, int64_t now, int64_t ttl, st_err *e)
{
    mem_store *s = (mem_store *)ms;
    if (!meta_str_ok(name, OWNER_MAX) || !owner_ok(owner) || !ttl_ok(now, ttl))
        return invalid(e, "lease take");
    int rc = 0;
    lock(s);
    mlease *l = lease_row(&s->leases, name);
    if (!l) {
        rc = nomem(e);
    } else if (l->until <= now || strcmp(l->owner, owner) == 0 || !alive(s, l->owner, now)) {
        memcpy(l->owner, owner, strlen(owner) + 1);
        l->until = now + ttl;
        rc = 1;
    }
    unlock(s);
    return rc;
}

/* ---- intents ---- */

static int mm_intent_open(
    meta_store *ms, const char *org, const char *blob, const char *owner, int64_t now, st_err *e)
{
    mem_store *s = (mem_store *)ms;
    if (!meta_org_ok(org) || !blob_key_valid(blob) || !owner_ok(owner) || now < 0)
        return invalid(e, "intent open");
    int rc = ST_OK;
    ment *en = NULL;
    lock(s);
    if (sget(&s->intents, blob)) {
        rc = FAIL(e, ST_E_CONFLICT, "intent open: blob %.8s... has an intent", blob);
        goto out;
    }
    en = ent_rec(blob, sizeof(mintent));
    if (!en || !org_ensure(s, org, e)) {
        rc = nomem(e);
        goto out;
    }
    mintent *i = en->val;
    memcpy(i->org, org, strlen(org) + 1);
    memcpy(i->owner, owner, strlen(owner) + 1);
    i->created_at = now;
    ht_link(&s->intents, en);
    en = NULL;
out:
    unlock(s);
    ent_drop(en, 1);
    return rc;
}

static int intent_missing(st_err *e, const char *what, const char *blob)
{
    return FAIL(e, ST_E_NOTFOUND, "%s: no intent for blob %.8s...", what, blob);
}

static int mm_intent_reserve(
    meta_store *ms, const char *blob, int64_t delta, int64_t org_max, st_err *e)
{
    mem_store *s = (mem_store *)ms;
    if (!blob_key_valid(blob) || delta <= 0 || org_max < 0)
        return invalid(e, "intent reserve");
    int rc = ST_OK;
    lock(s);
    mintent *i = sget(&s->intents, blob);
    morg *o = i ? org_of(s, i->org) : NULL;
    if (!i)
        rc = intent_missing(e, "intent reserve", blob);
    else if (!fits(o->used, o->reserved, delta, org_max))
        rc = FAIL(e, ST_E_QUOTA, "intent reserve: over the organization's quota");
    if (rc == ST_OK) {
        i->reserved += delta;
        o->reserved += delta;
    }
    unlock(s);
    return rc;
}

/* Part of a change: the intent goes, its reservation released. */
static void intent_remove(mem_store *s, const char *blob)
{
    mintent *i = stake(&s->intents, blob);
    if (!i)
        return;
    morg *o = org_of(s, i->org);
    if (o)
        o->reserved -= i->reserved;
    free(i);
}

static int mm_intent_drop(meta_store *ms, const char *blob, st_err *e)
{
    mem_store *s = (mem_store *)ms;
    if (!blob_key_valid(blob))
        return invalid(e, "intent drop");
    int rc = ST_OK;
    lock(s);
    if (sget(&s->intents, blob))
        intent_remove(s, blob);
    else
        rc = intent_missing(e, "intent drop", blob);
    unlock(s);
    return rc;
}

typedef struct reap {
    const mem_store *s;
    const char *self;
    int64_t now;
    tombs t;
    int nomem;
} reap;

static void reap_pick(const char *blob, void *val, void *userdata)
{
    reap *r = userdata;
    const mintent *i = val;
    if (r->nomem || strcmp(i->owner, r->self) == 0 || alive(r->s, i->owner, r->now))
        return;
    r->nomem = tombs_add(&r->t, blob, NULL) != ST_OK;
}

static int mm_intents_reap(
    meta_store *ms, const char *self, int64_t now, meta_blob_cb cb, void *userdata, st_err *e)
{
    mem_store *s = (mem_store *)ms;
    if (!owner_ok(self) || now < 0)
        return invalid(e, "intents reap");
    reap r = {.s = s, .self = self, .now = now};
    lock(s);
    ht_each(&s->intents, reap_pick, &r);
    if (!r.nomem) {
        for (size_t i = 0; i < r.t.n; i++)
            intent_remove(s, r.t.names[i]);
        tombs_link(s, &r.t, now);
    }
    unlock(s);
    int rc = r.nomem ? nomem(e) : (int)r.t.n;
    if (!r.nomem)
        tombs_notify(&r.t, cb, userdata);
    tombs_free(&r.t);
    return rc;
}

/* The intent naming blob, which must be of org (commits). */
static int intent_for(const mem_store *s,
                      const char *what,
                      const char *blob,
                      const char *org,
                      mintent **out,
                      st_err *e)
{
    *out = sget(&s->intents, blob);
    if (!*out)
        return intent_missing(e, what, blob);
    if (strcmp((*out)->org, org) != 0)
        return FAIL(e, ST_E_INVALID, "%s: the intent is of another organization", what);
    return ST_OK;
}

/* ---- file rows ---- */

typedef struct fins { /* a file row to insert */
    meta_file *f;
    ment *by_id, *by_blob;
} fins;

static void fins_free(fins *fi)
{
    ent_drop(fi->by_id, 0);
    ent_drop(fi->by_blob, 0);
    free(fi->f);
    memset(fi, 0, sizeof *fi);
}

/* Before a change: f's id and blob must be free; allocates its row and room for it. */
static int fins_prep(mem_store *s, morg *o, const meta_file *f, fins *fi, st_err *e)
{
    memset(fi, 0, sizeof *fi);
    if (sget(&s->files, f->id))
        return FAIL(e, ST_E_CONFLICT, "file %s exists", f->id);
    if (sget(&s->file_blobs, f->blob))
        return FAIL(e, ST_E_CONFLICT, "a file names blob %.8s...", f->blob);
    meta_file **v = room(o->files, o->n, &o->cap, sizeof *v);
    if (!v)
        return nomem(e);
    o->files = v;
    fi->f = malloc(sizeof *fi->f);
    fi->by_id = fi->f ? ent_new(f->id, strlen(f->id), fi->f) : NULL;
    fi->by_blob = fi->by_id ? ent_new(f->blob, strlen(f->blob), fi->f) : NULL;
    if (!fi->by_blob) {
        fins_free(fi);
        return nomem(e);
    }
    *fi->f = *f;
    return ST_OK;
}

/* Part of a change: the row goes in with the next sequence, and its bytes into usage. */
static void fins_link(mem_store *s, morg *o, fins *fi)
{
    meta_file *f = fi->f;
    f->seq = ++s->seq;
    ht_link(&s->files, fi->by_id);
    ht_link(&s->file_blobs, fi->by_blob);
    org_insert(o, f);
    o->used += f->bytes;
    s->nfiles++;
    s->nbytes += f->bytes;
}

static int mm_file_commit(meta_store *ms, const meta_file *f, int64_t org_max, st_err *e)
{
    mem_store *s = (mem_store *)ms;
    if (!meta_file_ok(f) || org_max < 0)
        return invalid(e, "file commit");
    mintent *i;
    fins fi;
    lock(s);
    int rc = intent_for(s, "file commit", f->blob, f->org, &i, e);
    morg *o = rc == ST_OK ? org_of(s, f->org) : NULL;
    if (rc == ST_OK && !fits(o->used, o->reserved - i->reserved, f->bytes, org_max))
        rc = FAIL(e, ST_E_QUOTA, "file commit: over the organization's quota");
    if (rc == ST_OK)
        rc = fins_prep(s, o, f, &fi, e);
    if (rc == ST_OK) {
        fins_link(s, o, &fi);
        intent_remove(s, f->blob);
    }
    unlock(s);
    return rc;
}

/* ---- files ---- */

/* The visible file id of org at now, or NULL. */
static meta_file *file_visible(const mem_store *s, const char *org, const char *id, int64_t now)
{
    meta_file *f = sget(&s->files, id);
    return f && strcmp(f->org, org) == 0 && visible(f, now) ? f : NULL;
}

static int file_missing(st_err *e, const char *what, const char *id)
{
    return FAIL(e, ST_E_NOTFOUND, "%s: no file %s", what, id);
}

static int mm_file_get(
    meta_store *ms, const char *org, const char *id, int64_t now, meta_file *out, st_err *e)
{
    mem_store *s = (mem_store *)ms;
    if (!meta_org_ok(org) || !meta_str_ok(id, META_ID_MAX) || !out)
        return invalid(e, "file get");
    int rc = ST_OK;
    lock(s);
    const meta_file *f = file_visible(s, org, id, now);
    if (f)
        *out = *f;
    else
        rc = file_missing(e, "file get", id);
    unlock(s);
    return rc;
}

static int mm_file_position(
    meta_store *ms, const char *org, const char *id, meta_pos *out, st_err *e)
{
    mem_store *s = (mem_store *)ms;
    if (!meta_org_ok(org) || !meta_str_ok(id, META_ID_MAX) || !out)
        return invalid(e, "file position");
    int rc = ST_OK;
    lock(s);
    const meta_file *f = sget(&s->files, id);
    const ctomb *t = sget(&s->ctombs, id);
    if (f && strcmp(f->org, org) == 0)
        *out = pos_of(f);
    else if (t && strcmp(t->org, org) == 0)
        *out = t->pos;
    else
        rc = FAIL(e, ST_E_NOTFOUND, "file position: no file or tombstone %s", id);
    unlock(s);
    return rc;
}

typedef struct fvec {
    meta_file *v;
    size_t n, cap;
} fvec;

static int fvec_push(fvec *fv, const meta_file *f, st_err *e)
{
    meta_file *v = room(fv->v, fv->n, &fv->cap, sizeof *v);
    if (!v)
        return nomem(e);
    fv->v = v;
    fv->v[fv->n++] = *f;
    return ST_OK;
}

static int listed(const meta_file *f, const meta_list_req *req)
{
    return visible(f, req->now) && (!req->purpose || strcmp(f->purpose, req->purpose) == 0);
}

/* Copies up to req->limit listed files after req->after, in req's order, and says whether one
 * more follows. */
static int page_collect(
    const morg *o, const meta_list_req *req, fvec *out, int *has_more, st_err *e)
{
    size_t i = !req->after ? (req->desc ? o->n : 0) : org_bound(o, req->after, !req->desc);
    for (;;) {
        if (req->desc ? i == 0 : i == o->n)
            return ST_OK;
        const meta_file *f = req->desc ? o->files[--i] : o->files[i++];
        if (!listed(f, req))
            continue;
        if (out->n == (size_t)req->limit) {
            *has_more = 1;
            return ST_OK;
        }
        if (fvec_push(out, f, e) != ST_OK)
            return ST_E_NOMEM;
    }
}

static int list_req_ok(const meta_list_req *req)
{
    return req && meta_org_ok(req->org) && req->limit >= 1 && req->limit <= LIST_LIMIT_MAX &&
           (!req->purpose || meta_str_ok(req->purpose, META_PURPOSE_MAX));
}

static int mm_file_list(meta_store *ms,
                        const meta_list_req *req,
                        meta_file_cb cb,
                        void *userdata,
                        int *has_more,
                        st_err *e)
{
    mem_store *s = (mem_store *)ms;
    if (!list_req_ok(req) || !cb || !has_more)
        return invalid(e, "file list");
    fvec page = {NULL, 0, 0};
    int rc = ST_OK;
    *has_more = 0;
    lock(s);
    const morg *o = org_of(s, req->org);
    if (o)
        rc = page_collect(o, req, &page, has_more, e);
    unlock(s);
    for (size_t i = 0; rc == ST_OK && i < page.n; i++)
        rc = cb(&page.v[i], userdata);
    free(page.v);
    return rc;
}

/* ---- deleting files: rows out, cursor and blob tombstones in ---- */

typedef struct drops {
    struct drop {
        meta_file *f;
        ctomb *t; /* the cursor tombstone to write: the id's own, or ct's */
        ment *ct; /* a new cursor tombstone to link, or NULL: the id has one, replaced */
    } * v;
    size_t n, cap;
    tombs bt;
    int applied; /* the rows are out: v's files are ours to free */
} drops;

/* Before a change: allocates the tombstones of f. */
static int drops_add(mem_store *s, drops *d, meta_file *f, st_err *e)
{
    ment *ct = NULL;
    ctomb *t = sget(&s->ctombs, f->id);
    if (!t) {
        ct = ent_rec(f->id, sizeof(ctomb));
        if (!ct)
            return nomem(e);
        t = ct->val;
    }
    struct drop *v = room(d->v, d->n, &d->cap, sizeof *v);
    if (v)
        d->v = v;
    if (!v || tombs_add(&d->bt, f->blob, e) != ST_OK) {
        ent_drop(ct, 1);
        return nomem(e);
    }
    d->v[d->n++] = (struct drop){f, t, ct};
    return ST_OK;
}

/* Part of a change: the row of f goes, its bytes out of usage. f itself is not freed. */
static void file_unlink(mem_store *s, meta_file *f)
{
    morg *o = org_of(s, f->org);
    stake(&s->files, f->id);
    stake(&s->file_blobs, f->blob);
    if (o) {
        org_remove(o, f);
        o->used -= f->bytes;
    }
    s->nfiles--;
    s->nbytes -= f->bytes;
}

/* The change: every file out, each leaving its cursor tombstone (deleted at now) and its blob
 * tombstone. */
static void drops_apply(mem_store *s, drops *d, int64_t now)
{
    for (size_t i = 0; i < d->n; i++) {
        struct drop *x = &d->v[i];
        ctomb *t = x->t;
        memcpy(t->org, x->f->org, sizeof t->org);
        t->pos = pos_of(x->f);
        t->deleted_at = now;
        if (x->ct)
            ht_link(&s->ctombs, x->ct);
        x->ct = NULL;
        file_unlink(s, x->f);
    }
    tombs_link(s, &d->bt, now);
    d->applied = 1;
}

static void drops_free(drops *d)
{
    for (size_t i = 0; i < d->n; i++) {
        ent_drop(d->v[i].ct, 1);
        if (d->applied)
            free(d->v[i].f);
    }
    free(d->v);
    tombs_free(&d->bt);
}

static int mm_file_delete(
    meta_store *ms, const char *org, const char *id, int64_t now, meta_file *out, st_err *e)
{
    mem_store *s = (mem_store *)ms;
    if (!meta_org_ok(org) || !meta_str_ok(id, META_ID_MAX) || !out)
        return invalid(e, "file delete");
    drops d = {0};
    lock(s);
    meta_file *f = file_visible(s, org, id, now);
    int rc = f ? drops_add(s, &d, f, e) : file_missing(e, "file delete", id);
    if (rc == ST_OK)
        drops_apply(s, &d, now);
    unlock(s);
    if (rc == ST_OK)
        *out = *f;
    drops_free(&d);
    return rc;
}

typedef struct expiring {
    int64_t now;
    meta_file **v;
    size_t n, cap;
    int nomem;
} expiring;

static void expired_pick(const char *key, void *val, void *userdata)
{
    expiring *x = userdata;
    meta_file *f = val;
    (void)key;
    if (x->nomem || f->expires_at == 0 || f->expires_at > x->now)
        return;
    meta_file **v = room(x->v, x->n, &x->cap, sizeof *v);
    if (!v) {
        x->nomem = 1;
        return;
    }
    x->v = v;
    x->v[x->n++] = f;
}

static int expiry_order(const void *a, const void *b)
{
    const meta_file *x = *(meta_file *const *)a, *y = *(meta_file *const *)b;
    if (x->expires_at != y->expires_at)
        return x->expires_at < y->expires_at ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Under the mutex: the first limit files expired at now, the earliest expiry first. */
static int expired_collect(mem_store *s, int64_t now, int limit, drops *d, st_err *e)
{
    expiring x = {.now = now};
    ht_each(&s->files, expired_pick, &x);
    int rc = x.nomem ? nomem(e) : ST_OK;
    if (rc == ST_OK && x.n > 1)
        qsort(x.v, x.n, sizeof *x.v, expiry_order);
    for (size_t i = 0; rc == ST_OK && i < x.n && i < (size_t)limit; i++)
        rc = drops_add(s, d, x.v[i], e);
    free(x.v);
    return rc;
}

/* A stop of the callback only ends the calls: the rows are gone, and a blob not removed stays
 * as a blob tombstone for the garbage collector. */
static int mm_expired_take(
    meta_store *ms, int64_t now, int limit, meta_file_cb cb, void *userdata, st_err *e)
{
    mem_store *s = (mem_store *)ms;
    if (limit < 1 || limit > TAKE_LIMIT_MAX || now < 0)
        return invalid(e, "expired take");
    drops d = {0};
    lock(s);
    int rc = expired_collect(s, now, limit, &d, e);
    if (rc == ST_OK)
        drops_apply(s, &d, now);
    unlock(s);
    for (size_t i = 0; rc == ST_OK && cb && i < d.n; i++)
        if (cb(d.v[i].f, userdata) != 0)
            break;
    if (rc == ST_OK)
        rc = (int)d.n;
    drops_free(&d);
    return rc;
}

static int mm_blob_referenced(meta_store *ms, const char *blob, st_err *e)
{
    mem_store *s = (mem_store *)ms;
    if (!blob_key_valid(blob))
        return invalid(e, "blob referenced");
    lock(s);
    int yes = sget(&s->file_blobs, blob) || sget(&s->part_blobs, blob) || sget(&s->intents, blob);
    unlock(s);
    return yes;
}

static int ctomb_old(const char *key, void *val, void *userdata)
{
    (void)key;
    return ((const ctomb *)val)->deleted_at <= *(const int64_t *)userdata;
}

static int mm_cursor_tombs_purge(meta_store *ms, int64_t before, st_err *e)
{
    mem_store *s = (mem_store *)ms;
    (void)e;
    lock(s);
    int n = ht_filter(&s->ctombs, ctomb_old, &before);
    unlock(s);
    return n;
}

/* ---- blob tombstones ---- */

typedef struct btomb_row {
    char blob[BLOB_KEY_LEN + 1];
    btomb t;
} btomb_row;

typedef struct btomb_vec {
    int64_t before;
    btomb_row *v;
    size_t n, cap;
    int nomem;
} btomb_vec;

static void btomb_pick(const char *blob, void *val, void *userdata)
{
    btomb_vec *bv = userdata;
    const btomb *t = val;
    if (bv->nomem || t->at > bv->before)
        return;
    btomb_row *v = room(bv->v, bv->n, &bv->cap, sizeof *v);
    if (!v) {
        bv->nomem = 1;
        return;
    }
    bv->v = v;
    memcpy(v[bv->n].blob, blob, sizeof v[0].blob);
    v[bv->n++].t = *t;
}

static int btomb_order(const void *a, const void *b)
{
    const btomb *x = &((const btomb_row *)a)->t, *y = &((const btomb_row *)b)->t;
    if (x->at != y->at)
        return x->at < y->at ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* A stop of the callback ends the calls; the count says how many were reported. */
static int mm_blob_tombs_take(
    meta_store *ms, int64_t before, int limit, meta_blob_cb cb, void *userdata, st_err *e)
{
    mem_store *s = (mem_store *)ms;
    if (!cb || limit < 1 || limit > TAKE_LIMIT_MAX)
        return invalid(e, "blob tombstones take");
    btomb_vec bv = {.before = before};
    lock(s);
    ht_each(&s->btombs, btomb_pick, &bv);
    unlock(s);
    if (bv.nomem) {
        free(bv.v);
        return nomem(e);
    }
    if (bv.n > 1)
        qsort(bv.v, bv.n, sizeof *bv.v, btomb_order);
    int n = 0;
    for (size_t i = 0; i < bv.n && n < limit; i++) {
        n++;
        if (cb(bv.v[i].blob, userdata) != 0)
            break;
    }
    free(bv.v);
    return n;
}

static int mm_blob_tomb_done(meta_store *ms, const char *blob, st_err *e)
{
    mem_store *s = (mem_store *)ms;
    if (!blob_key_valid(blob))
        return invalid(e, "blob tombstone done");
    lock(s);
    free(stake(&s->btombs, blob));
    unlock(s);
    return ST_OK;
}

/* ---- uploads ---- */

static int mm_upload_create(meta_store *ms, const meta_upload *u, st_err *e)
{
    mem_store *s = (mem_store *)ms;
    if (!meta_upload_ok(u))
        return invalid(e, "upload create");
    int rc = ST_OK;
    ment *en = NULL;
    lock(s);
    if (sget(&s->uploads, u->id)) {
        rc = FAIL(e, ST_E_CONFLICT, "upload create: upload %s exists", u->id);
        goto out;
    }
    en = ent_rec(u->id, sizeof(mupload));
    if (!en || !org_ensure(s, u->org, e)) {
        rc = nomem(e);
        goto out;
    }
    mupload *up = en->val;
    up->u = *u;
    up->u.status = META_UPLOAD_PENDING;
    up->u.file_id[0] = '\0';
    ht_link(&s->uploads, en);
    en = NULL;
out:
    unlock(s);
    ent_drop(en, 1);
    return rc;
}

/* The upload id of org, or NULL. */
static mupload *upload_of(const mem_store *s, const char *org, const char *id)
{
    mupload *up = sget(&s->uploads, id);
    return up && strcmp(up->u.org, org) == 0 ? up : NULL;
}

static int upload_missing(st_err *e, const char *what, const char *id)
{
    return FAIL(e, ST_E_NOTFOUND, "%s: no upload %s", what, id);
}

/* The upload may still change: it exists, is pending and not past its expiry at now. */
static int upload_open(const mupload *up, const char *what, const char *id, int64_t now, st_err *e)
{
    if (!up)
        return upload_missing(e, what, id);
    if (up->u.status != META_UPLOAD_PENDING || up->u.expires_at <= now)
        return FAIL(e, ST_E_STATE, "%s: upload %s is not pending", what, id);
    return ST_OK;
}

static int mm_upload_get(
    meta_store *ms, const char *org, const char *id, meta_upload *out, st_err *e)
{
    mem_store *s = (mem_store *)ms;
    if (!meta_org_ok(org) || !meta_str_ok(id, META_ID_MAX) || !out)
        return invalid(e, "upload get");
    int rc = ST_OK;
    lock(s);
    const mupload *up = upload_of(s, org, id);
    if (up)
        *out = up->u;
    else
        rc = upload_missing(e, "upload get", id);
    unlock(s);
    return rc;
}

/* Before a change: the blobs of up's parts, to record. */
static int parts_tombs(const mupload *up, tombs *t, st_err *e)
{
    for (size_t i = 0; i < up->n; i++)
        if (tombs_add(t, up->parts[i]->blob, e) != ST_OK)
            return ST_E_NOMEM;
    return ST_OK;
}

/* Part of a change: every part row of up goes, its bytes out of usage. */
static void parts_release(mem_store *s, mupload *up)
{
    morg *o = org_of(s, up->u.org);
    for (size_t i = 0; i < up->n; i++) {
        meta_part *p = up->parts[i];
        stake(&s->part_blobs, p->blob);
        stake(&s->parts, p->id);
        free(p);
    }
    if (o)
        o->used -= up->sum;
    up->n = 0;
    up->sum = 0;
}

static int mm_upload_cancel(meta_store *ms,
                            const char *org,
                            const char *id,
                            int64_t now,
                            meta_upload *out,
                            meta_blob_cb cb,
                            void *userdata,
                            st_err *e)
{
    mem_store *s = (mem_store *)ms;
    if (!meta_org_ok(org) || !meta_str_ok(id, META_ID_MAX) || !out)
        return invalid(e, "upload cancel");
    tombs t = {0};
    lock(s);
    mupload *up = upload_of(s, org, id);
    int rc = upload_open(up, "upload cancel", id, now, e);
    if (rc == ST_OK)
        rc = parts_tombs(up, &t, e);
    if (rc == ST_OK) {
        parts_release(s, up);
        tombs_link(s, &t, now);
        up->u.status = META_UPLOAD_CANCELLED;
    }
    if (up)
        *out = up->u;
    unlock(s);
    if (rc == ST_OK)
        tombs_notify(&t, cb, userdata);
    tombs_free(&t);
    return rc;
}

typedef struct pins { /* a part row to insert */
    meta_part *p;
    ment *by_id, *by_blob;
} pins;

/* Before a change: p's id and blob must be free; allocates its row and room for it. */
static int pins_prep(mem_store *s, mupload *up, const meta_part *p, pins *pi, st_err *e)
{
    memset(pi, 0, sizeof *pi);
    if (sget(&s->parts, p->id))
        return FAIL(e, ST_E_CONFLICT, "part commit: part %s exists", p->id);
    if (sget(&s->part_blobs, p->blob))
        return FAIL(e, ST_E_CONFLICT, "part commit: a part names blob %.8s...", p->blob);
    meta_part **v = room(up->parts, up->n, &up->cap, sizeof *v);
    if (!v)
        return nomem(e);
    up->parts = v;
    pi->p = malloc(sizeof *pi->p);
    pi->by_id = pi->p ? ent_new(p->id, strlen(p->id), pi->p) : NULL;
    pi->by_blob = pi->by_id ? ent_new(p->blob, strlen(p->blob), pi->p) : NULL;
    if (!pi->by_blob) {
        ent_drop(pi->by_id, 0);
        free(pi->p);
        memset(pi, 0, sizeof *pi);
        return nomem(e);
    }
    *pi->p = *p;
    return ST_OK;
}

static int part_before(const meta_part *a, const meta_part *b)
{
    return a->created_at != b->created_at ? a->created_at < b->created_at
                                          : strcmp(a->id, b->id) < 0;
}

/* Part of a change: the row goes in at its place, its bytes into usage. */
static void pins_link(mem_store *s, mupload *up, morg *o, pins *pi)
{
    size_t i = up->n;
    while (i > 0 && part_before(pi->p, up->parts[i - 1]))
        i--;
    memmove(up->parts + i + 1, up->parts + i, (up->n - i) * sizeof *up->parts);
    up->parts[i] = pi->p;
    up->n++;
    up->sum += pi->p->bytes;
    o->used += pi->p->bytes;
    ht_link(&s->parts, pi->by_id);
    ht_link(&s->part_blobs, pi->by_blob);
}

/* Under the mutex: every condition of part_commit, in the order SQLite checks them. */
static int part_check(mem_store *s,
                      const meta_part *p,
                      int64_t now,
                      int64_t org_max,
                      int64_t parts_max,
                      mupload **up,
                      st_err *e)
{
    const char *what = "part commit";
    *up = upload_of(s, p->org, p->upload_id);
    int rc = upload_open(*up, what, p->upload_id, now, e);
    if (rc == ST_OK && p->bytes > parts_max - (*up)->sum)
        rc = FAIL(e, ST_E_LIMIT, "%s: the parts would exceed %lld bytes", what,
                  (long long)parts_max);
    mintent *i = NULL;
    if (rc == ST_OK)
        rc = intent_for(s, what, p->blob, p->org, &i, e);
    const morg *o = rc == ST_OK ? org_of(s, p->org) : NULL;
    if (rc == ST_OK && !fits(o->used, o->reserved - i->reserved, p->bytes, org_max))
        rc = FAIL(e, ST_E_QUOTA, "%s: over the organization's quota", what);
    return rc;
}

static int mm_part_commit(
    meta_store *ms, const meta_part *p, int64_t now, int64_t org_max, int64_t parts_max, st_err *e)
{
    mem_store *s = (mem_store *)ms;
    if (!meta_part_ok(p) || org_max < 0 || parts_max < 0)
        return invalid(e, "part commit");
    mupload *up;
    pins pi;
    lock(s);
    int rc = part_check(s, p, now, org_max, parts_max, &up, e);
    if (rc == ST_OK)
        rc = pins_prep(s, up, p, &pi, e);
    if (rc == ST_OK) {
        pins_link(s, up, org_of(s, p->org), &pi);
        intent_remove(s, p->blob);
    }
    unlock(s);
    return rc;
}

static int mm_upload_parts(meta_store *ms,
                           const char *org,
                           const char *upload_id,
                           meta_part_cb cb,
                           void *userdata,
                           st_err *e)
{
    mem_store *s = (mem_store *)ms;
    if (!meta_org_ok(org) || !meta_str_ok(upload_id, META_ID_MAX) || !cb)
        return invalid(e, "upload parts");
    meta_part *v = NULL;
    size_t n = 0;
    int rc = ST_OK;
    lock(s);
    const mupload *up = upload_of(s, org, upload_id);
    if (up && up->n && !(v = malloc(up->n * sizeof *v)))
        rc = nomem(e);
    for (size_t i = 0; v && i < up->n; i++)
        v[n++] = *up->parts[i];
    unlock(s);
    for (size_t i = 0; rc == ST_OK && i < n; i++)
        rc = cb(&v[i], userdata);
    free(v);
    return rc;
}

/* Under the mutex: every condition of upload_complete, and the file row allocated. */
static int complete_check(mem_store *s,
                          const char *upload_id,
                          const meta_file *f,
                          int64_t now,
                          int64_t org_max,
                          mupload **up,
                          fins *fi,
                          st_err *e)
{
    const char *what = "upload complete";
    *up = upload_of(s, f->org, upload_id);
    int rc = upload_open(*up, what, upload_id, now, e);
    mintent *i = NULL;
    if (rc == ST_OK)
        rc = intent_for(s, what, f->blob, f->org, &i, e);
    morg *o = rc == ST_OK ? org_of(s, f->org) : NULL;
    /* The parts' bytes leave usage as the file's come in; other reservations still count. */
    if (rc == ST_OK && !fits(o->used - (*up)->sum, o->reserved - i->reserved, f->bytes, org_max))
        rc = FAIL(e, ST_E_QUOTA, "%s: over the organization's quota", what);
    if (rc == ST_OK)
        rc = fins_prep(s, o, f, fi, e);
    return rc;
}

static int mm_upload_complete(meta_store *ms,
                              const char *upload_id,
                              const meta_file *f,
                              int64_t now,
                              int64_t org_max,
                              meta_blob_cb cb,
                              void *userdata,
                              st_err *e)
{
    mem_store *s = (mem_store *)ms;
    if (!meta_file_ok(f) || !meta_str_ok(upload_id, META_ID_MAX) || org_max < 0)
        return invalid(e, "upload complete");
    mupload *up;
    fins fi;
    tombs t = {0};
    lock(s);
    int rc = complete_check(s, upload_id, f, now, org_max, &up, &fi, e);
    if (rc == ST_OK && parts_tombs(up, &t, e) != ST_OK) {
        rc = ST_E_NOMEM;
        fins_free(&fi);
    }
    if (rc == ST_OK) {
        morg *o = org_of(s, f->org);
        parts_release(s, up);
        tombs_link(s, &t, now);
        fins_link(s, o, &fi);
        intent_remove(s, f->blob);
        up->u.status = META_UPLOAD_COMPLETED;
        memcpy(up->u.file_id, f->id, sizeof up->u.file_id);
    }
    unlock(s);
    if (rc == ST_OK)
        tombs_notify(&t, cb, userdata);
    tombs_free(&t);
    return rc;
}

typedef struct uvec {
    int64_t now;
    mupload **v;
    size_t n, cap;
    int nomem;
} uvec;

static void expired_upload_pick(const char *key, void *val, void *userdata)
{
    uvec *uv = userdata;
    mupload *up = val;
    (void)key;
    if (uv->nomem || up->u.status != META_UPLOAD_PENDING || up->u.expires_at > uv->now)
        return;
    mupload **v = room(uv->v, uv->n, &uv->cap, sizeof *v);
    if (!v) {
        uv->nomem = 1;
        return;
    }
    uv->v = v;
    uv->v[uv->n++] = up;
}

static int upload_expiry_order(const void *a, const void *b)
{
    const meta_upload *x = &(*(mupload *const *)a)->u, *y = &(*(mupload *const *)b)->u;
    if (x->expires_at != y->expires_at)
        return x->expires_at < y->expires_at ? -1 : 1;
    return strcmp(x->id, y->id);
}

static int mm_upload_take_expired(
    meta_store *ms, int64_t now, int limit, meta_blob_cb cb, void *userdata, st_err *e)
{
    mem_store *s = (mem_store *)ms;
    if (limit < 1 || limit > TAKE_LIMIT_MAX || now < 0)
        return invalid(e, "upload take expired");
    uvec uv = {.now = now};
    tombs t = {0};
    lock(s);
    ht_each(&s->uploads, expired_upload_pick, &uv);
    int rc = uv.nomem ? nomem(e) : ST_OK;
    if (rc == ST_OK && uv.n > 1)
        qsort(uv.v, uv.n, sizeof *uv.v, upload_expiry_order);
    size_t n = uv.n < (size_t)limit ? uv.n : (size_t)limit;
    for (size_t i = 0; rc == ST_OK && i < n; i++)
        rc = parts_tombs(uv.v[i], &t, e);
    for (size_t i = 0; rc == ST_OK && i < n; i++) {
        parts_release(s, uv.v[i]);
        uv.v[i]->u.status = META_UPLOAD_EXPIRED;
    }
    if (rc == ST_OK)
        tombs_link(s, &t, now);
    unlock(s);
    if (rc == ST_OK)
        tombs_notify(&t, cb, userdata);
    tombs_free(&t);
    free(uv.v);
    return rc == ST_OK ? (int)n : rc;
}

static int upload_finished_before(const char *key, void *val, void *userdata)
{
    const mupload *up = val;
    (void)key;
    return up->u.status != META_UPLOAD_PENDING && up->u.expires_at <= *(const int64_t *)userdata;
}

static int mm_uploads_purge(meta_store *ms, int64_t before, st_err *e)
{
    mem_store *s = (mem_store *)ms;
    (void)e;
    lock(s);
    int n = ht_filter(&s->uploads, upload_finished_before, &before);
    unlock(s);
    return n;
}

/* ---- accounting ---- */

/* An organization never seen has no usage: 0, 0. */
static int mm_org_usage(
    meta_store *ms, const char *org, int64_t *used, int64_t *reserved, st_err *e)
{
    mem_store *s = (mem_store *)ms;
    if (!meta_org_ok(org) || !used || !reserved)
        return invalid(e, "org usage");
    lock(s);
    const morg *o = org_of(s, org);
    *used = o ? o->used : 0;
    *reserved = o ? o->reserved : 0;
    unlock(s);
    return ST_OK;
}

static int mm_stats(meta_store *ms, meta_stats *out, st_err *e)
{
    mem_store *s = (mem_store *)ms;
    if (!out)
        return invalid(e, "stats");
    lock(s);
    out->files = s->nfiles;
    out->bytes = s->nbytes;
    unlock(s);
    return ST_OK;
}

static int mm_org_file_count(meta_store *ms, const char *org, int64_t now, int64_t *out, st_err *e)
{
    mem_store *s = (mem_store *)ms;
    if (!meta_org_ok(org) || !out)
        return invalid(e, "org file count");
    int64_t n = 0;
    lock(s);
    const morg *o = org_of(s, org);
    for (size_t i = 0; o && i < o->n; i++)
        n += visible(o->files[i], now);
    unlock(s);
    *out = n;
    return ST_OK;
}

/* ---- the whole store (fsck, migrate) ---- */

/* A growing array of records of one size, filled under the lock, reported after it. */
typedef struct rvec {
    char *v;
    size_t n, cap, size;
    int nomem;
} rvec;

static void rvec_push(rvec *r, const void *rec)
{
    void *v = room(r->v, r->n, &r->cap, r->size);
    if (!v) {
        r->nomem = 1;
        return;
    }
    r->v = v;
    memcpy(r->v + r->n++ * r->size, rec, r->size);
}

typedef struct walk_ctx {
    rvec r;
    int64_t after_seq;
    const char *after;
} walk_ctx;

static void file_pick(const char *key, void *val, void *ud)
{
    walk_ctx *w = ud;
    (void)key;
    if (((const meta_file *)val)->seq > w->after_seq)
        rvec_push(&w->r, val);
}

static int by_seq(const void *a, const void *b)
{
    int64_t x = ((const meta_file *)a)->seq, y = ((const meta_file *)b)->seq;
    return x < y ? -1 : x > y;
}

/* Sorts what was picked, reports the first limit (0: all) and frees. Returns 0, a failure or
 * the callback's stop value; *count gets how many were reported. */
static int rvec_report(rvec *r,
                       int (*order)(const void *, const void *),
                       int limit,
                       int (*cb)(const void *rec, void *ud),
                       void *ud,
                       int *count,
                       st_err *e)
{
    int rc = r->nomem ? nomem(e) : ST_OK;
    if (rc == ST_OK && r->n)
        qsort(r->v, r->n, r->size, order);
    size_t n = limit > 0 && r->n > (size_t)limit ? (size_t)limit : r->n;
    *count = (int)n;
    for (size_t i = 0; rc == ST_OK && i < n; i++)
        rc = cb(r->v + i * r->size, ud);
    free(r->v);
    return rc;
}

typedef struct cb_pair {
    meta_file_cb file;
    meta_upload_cb upload;
    meta_intent_cb intent;
    meta_org_cb org;
    void *ud;
} cb_pair;

static int file_report(const void *rec, void *ud)
{
    const cb_pair *p = ud;
    return p->file(rec, p->ud);
}

static int mm_file_walk(
    meta_store *ms, int64_t after_seq, int limit, meta_file_cb cb, void *userdata, st_err *e)
{
    mem_store *s = (mem_store *)ms;
    if (!cb || limit < 1 || limit > TAKE_LIMIT_MAX)
        return invalid(e, "file walk");
    walk_ctx w = {{NULL, 0, 0, sizeof(meta_file), 0}, after_seq, NULL};
    lock(s);
    ht_each(&s->files, file_pick, &w);
    unlock(s);
    cb_pair p = {.file = cb, .ud = userdata};
    int n = 0, rc = rvec_report(&w.r, by_seq, limit, file_report, &p, &n, e);
    return rc ? rc : n;
}

static void upload_pick(const char *key, void *val, void *ud)
{
    walk_ctx *w = ud;
    if (strcmp(key, w->after) > 0)
        rvec_push(&w->r, &((const mupload *)val)->u);
}

static int by_upload_id(const void *a, const void *b)
{
    return strcmp(((const meta_upload *)a)->id, ((const meta_upload *)b)->id);
}

static int upload_report(const void *rec, void *ud)
{
    const cb_pair *p = ud;
    return p->upload(rec, p->ud);
}

static int mm_upload_walk(
    meta_store *ms, const char *after, int limit, meta_upload_cb cb, void *userdata, st_err *e)
{
    mem_store *s = (mem_store *)ms;
    if (!cb || !after || limit < 1 || limit > TAKE_LIMIT_MAX)
        return invalid(e, "upload walk");
    walk_ctx w = {{NULL, 0, 0, sizeof(meta_upload), 0}, 0, after};
    lock(s);
    ht_each(&s->uploads, upload_pick, &w);
    unlock(s);
    cb_pair p = {.upload = cb, .ud = userdata};
    int n = 0, rc = rvec_report(&w.r, by_upload_id, limit, upload_report, &p, &n, e);
    return rc ? rc : n;
}

static void intent_pick(const char *key, void *val, void *ud)
{
    const mintent *i = val;
    meta_intent mi;
    memset(&mi, 0, sizeof mi);
    (void)snprintf(mi.blob, sizeof mi.blob, "%s", key);
    (void)snprintf(mi.org, sizeof mi.org, "%s", i->org);
    (void)snprintf(mi.owner, sizeof mi.owner, "%s", i->owner);
    mi.reserved = i->reserved;
    mi.created_at = i->created_at;
    rvec_push(&((walk_ctx *)ud)->r, &mi);
}

static int by_blob(const void *a, const void *b)
{
    return strcmp(((const meta_intent *)a)->blob, ((const meta_intent *)b)->blob);
}

static int intent_report(const void *rec, void *ud)
{
    const cb_pair *p = ud;
    return p->intent(rec, p->ud);
}

static int mm_intent_walk(meta_store *ms, meta_intent_cb cb, void *userdata, st_err *e)
{
    mem_store *s = (mem_store *)ms;
    if (!cb)
        return invalid(e, "intent walk");
    walk_ctx w = {{NULL, 0, 0, sizeof(meta_intent), 0}, 0, NULL};
    lock(s);
    ht_each(&s->intents, intent_pick, &w);
    unlock(s);
    cb_pair p = {.intent = cb, .ud = userdata};
    int n = 0;
    return rvec_report(&w.r, by_blob, 0, intent_report, &p, &n, e);
}

static void org_pick(const char *key, void *val, void *ud)
{
    const morg *o = val;
    meta_org mo;
    memset(&mo, 0, sizeof mo);
    (void)snprintf(mo.id, sizeof mo.id, "%s", key);
    mo.used = o->used;
    mo.reserved = o->reserved;
    rvec_push(&((walk_ctx *)ud)->r, &mo);
}

static int by_org_id(const void *a, const void *b)
{
    return strcmp(((const meta_org *)a)->id, ((const meta_org *)b)->id);
}

static int org_report(const void *rec, void *ud)
{
    const cb_pair *p = ud;
    return p->org(rec, p->ud);
}

static int mm_org_walk(meta_store *ms, meta_org_cb cb, void *userdata, st_err *e)
{
    mem_store *s = (mem_store *)ms;
    if (!cb)
        return invalid(e, "org walk");
    walk_ctx w = {{NULL, 0, 0, sizeof(meta_org), 0}, 0, NULL};
    lock(s);
    ht_each(&s->orgs, org_pick, &w);
    unlock(s);
    cb_pair p = {.org = cb, .ud = userdata};
    int n = 0;
    return rvec_report(&w.r, by_org_id, 0, org_report, &p, &n, e);
}

typedef struct owner_row {
    char id[OWNER_MAX];
    int64_t until;
} owner_row;

static void owner_pick(const char *key, void *val, void *ud)
{
    owner_row o;
    memset(&o, 0, sizeof o);
    (void)snprintf(o.id, sizeof o.id, "%s", key);
    o.until = ((const mlease *)val)->until;
    rvec_push(&((walk_ctx *)ud)->r, &o);
}

static int by_owner_id(const void *a, const void *b)
{
    return strcmp(((const owner_row *)a)->id, ((const owner_row *)b)->id);
}

typedef struct owner_cb_pair {
    meta_owner_cb cb;
    void *ud;
} owner_cb_pair;

static int owner_report(const void *rec, void *ud)
{
    const owner_cb_pair *p = ud;
    const owner_row *o = rec;
    return p->cb(o->id, o->until, p->ud);
}

static int mm_owner_walk(meta_store *ms, meta_owner_cb cb, void *userdata, st_err *e)
{
    mem_store *s = (mem_store *)ms;
    if (!cb)
        return invalid(e, "owner walk");
    walk_ctx w = {{NULL, 0, 0, sizeof(owner_row), 0}, 0, NULL};
    lock(s);
    ht_each(&s->owners, owner_pick, &w);
    unlock(s);
    owner_cb_pair p = {cb, userdata};
    int n = 0;
    return rvec_report(&w.r, by_owner_id, 0, owner_report, &p, &n, e);
}

static int mm_file_drop(meta_store *ms, const char *id, st_err *e)
{
    mem_store *s = (mem_store *)ms;
    if (!meta_str_ok(id, META_ID_MAX))
        return invalid(e, "file drop");
    int rc = ST_OK;
    lock(s);
    meta_file *f = sget(&s->files, id);
    if (f) {
        morg *o = org_of(s, f->org);
        int64_t used = o ? o->used : 0;
        file_unlink(s, f);
        if (o)
            o->used = used; /* usage stays as it was: usage_recompute follows */
        free(f);
    } else {
        rc = file_missing(e, "file drop", id);
    }
    unlock(s);
    return rc;
}

static int mm_part_drop(meta_store *ms, const char *id, st_err *e)
{
    mem_store *s = (mem_store *)ms;
    if (!meta_str_ok(id, META_ID_MAX))
        return invalid(e, "part drop");
    int rc = ST_OK;
    lock(s);
    meta_part *p = sget(&s->parts, id);
    mupload *up = p ? sget(&s->uploads, p->upload_id) : NULL;
    if (p) {
        for (size_t i = 0; up && i < up->n; i++)
            if (up->parts[i] == p) {
                memmove(up->parts + i, up->parts + i + 1, (up->n - i - 1) * sizeof *up->parts);
                up->n--;
                up->sum -= p->bytes;
                break;
            }
        stake(&s->part_blobs, p->blob);
        stake(&s->parts, p->id);
        free(p);
    } else {
        rc = FAIL(e, ST_E_NOTFOUND, "part drop: no part %s", id);
    }
    unlock(s);
    return rc;
}

static void org_zero(const char *key, void *val, void *ud)
{
    (void)key, (void)ud;
    ((morg *)val)->used = 0;
    ((morg *)val)->reserved = 0;
}

static void org_add_file(const char *key, void *val, void *ud)
{
    const meta_file *f = val;
    morg *o = org_of(ud, f->org);
    (void)key;
    if (o)
        o->used += f->bytes;
}

static void org_add_part(const char *key, void *val, void *ud)
{
    const meta_part *p = val;
    morg *o = org_of(ud, p->org);
    (void)key;
    if (o)
        o->used += p->bytes;
}

static void org_add_intent(const char *key, void *val, void *ud)
{
    const mintent *i = val;
    morg *o = org_of(ud, i->org);
    (void)key;
    if (o)
        o->reserved += i->reserved;
}

static int mm_usage_recompute(meta_store *ms, st_err *e)
{
    mem_store *s = (mem_store *)ms;
    (void)e;
    lock(s);
    ht_each(&s->orgs, org_zero, NULL);
    ht_each(&s->files, org_add_file, s);
    ht_each(&s->parts, org_add_part, s);
    ht_each(&s->intents, org_add_intent, s);
    unlock(s);
    return ST_OK;
}

/* ---- lifecycle ---- */

static void mm_free(meta_store *ms)
{
    mem_store *s = (mem_store *)ms;
    if (!s)
        return;
    htab *all[] = {&s->keys,    &s->key_hash, &s->orgs,      &s->files,  &s->file_blobs,
                   &s->ctombs,  &s->btombs,   &s->intents,   &s->owners, &s->leases,
                   &s->uploads, &s->parts,    &s->part_blobs};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        ht_free(all[i]); /* a table that shares a record never reads it */
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static const meta_ops mem_ops = {
    .version = META_OPS_VERSION,
    .name = "mem",
    .caps = META_CAP_FILE_COUNT,
    .key_lookup = mm_key_lookup,
    .key_create = mm_key_create,
    .key_list = mm_key_list,
    .key_revoke = mm_key_revoke,
    .key_count_active = mm_key_count_active,
    .owner_renew = mm_owner_renew,
    .owner_forget = mm_owner_forget,
    .lease_take = mm_lease_take,
    .intent_open = mm_intent_open,
    .intent_reserve = mm_intent_reserve,
    .intent_drop = mm_intent_drop,
    .intents_reap = mm_intents_reap,
    .file_commit = mm_file_commit,
    .file_get = mm_file_get,
    .file_position = mm_file_position,
    .file_list = mm_file_list,
    .file_delete = mm_file_delete,
    .expired_take = mm_expired_take,
    .blob_referenced = mm_blob_referenced,
    .cursor_tombs_purge = mm_cursor_tombs_purge,
    .blob_tombs_take = mm_blob_tombs_take,
    .blob_tomb_done = mm_blob_tomb_done,
    .upload_create = mm_upload_create,
    .upload_get = mm_upload_get,
    .upload_cancel = mm_upload_cancel,
    .part_commit = mm_part_commit,
    .upload_parts = mm_upload_parts,
    .upload_complete = mm_upload_complete,
    .upload_take_expired = mm_upload_take_expired,
    .uploads_purge = mm_uploads_purge,
    .file_walk = mm_file_walk,
    .upload_walk = mm_upload_walk,
    .intent_walk = mm_intent_walk,
    .org_walk = mm_org_walk,
    .owner_walk = mm_owner_walk,
    .file_drop = mm_file_drop,
    .part_drop = mm_part_drop,
    .usage_recompute = mm_usage_recompute,
    .org_usage = mm_org_usage,
    .stats = mm_stats,
    .org_file_count = mm_org_file_count,
    .clock = NULL,
    .free = mm_free,
};

int meta_mem_open(meta_store **out, st_err *e)
{
    if (!out)
        return invalid(e, "open");
    *out = NULL;
    mem_store *s = calloc(1, sizeof *s);
    if (!s)
        return nomem(e);
    s->base.ops = &mem_ops;
    pthread_mutex_init(&s->mu, NULL);
    struct {
        htab *t;
        void (*vfree)(void *);
    } tables[] = {{&s->keys, free},      {&s->key_hash, NULL},        {&s->orgs, morg_free},
                  {&s->files, free},     {&s->file_blobs, NULL},      {&s->ctombs, free},
                  {&s->btombs, free},    {&s->intents, free},         {&s->owners, free},
                  {&s->leases, free},    {&s->uploads, mupload_free}, {&s->parts, free},
                  {&s->part_blobs, NULL}};
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        if (ht_init(tables[i].t, tables[i].vfree) != ST_OK) {
            mm_free(&s->base);
            return nomem(e);
        }
    }
    *out = &s->base;
    return ST_OK;
}
