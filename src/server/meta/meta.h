/*
 * Metadata store: API keys, organizations with their usage, files, and upload intents.
 * A versioned table of functions so SQLite (meta_sqlite.c, the embedded default) and, later,
 * PostgreSQL sit behind the same calls and pass the same contract test
 * (tests/unit/server/test_meta_contract.c).
 *
 * The intent record is the one mechanism behind quotas, orphan cleanup and crash recovery
 * (see docs/architecture.md): an upload opens an intent naming its blob key before writing a
 * byte, reserves quota against it as bytes arrive, and either commits (file row in, intent out,
 * usage += bytes, reservation released, in one transaction) or drops it. An intent that
 * survives a crash names the blob the sweeper must delete.
 *
 * Quota rule, enforced inside the store's transactions so concurrent uploads (threads or
 * processes) can never push an organization past org_max:
 *     used_bytes + reserved_bytes <= org_max      at every reservation and every commit.
 *
 * Times are Unix seconds. expires_at == 0 means "never" (JSON null).
 * Strings in results are copied into the caller's struct; nothing returned is borrowed unless
 * said so.
 *
 * Thread: a meta_store may be used from any number of threads at once (the SQLite backend
 * keeps one connection per thread). Callbacks run on the calling thread, inside a read
 * transaction: they must not call back into the store.
 */
#ifndef ARGOT_SERVER_META_H
#define ARGOT_SERVER_META_H

#include <stdint.h>

#include "server/blob/blob.h"

#define META_ID_MAX       64   /* ids (file ids, key ids) incl. NUL */
#define META_ORG_MAX      64   /* organization ids incl. NUL: [A-Za-z0-9_-]{1,63} */
#define META_PURPOSE_MAX  32
#define META_FILENAME_MAX 1024 /* bytes of UTF-8, incl. NUL */
#define META_NAME_MAX     128  /* key names */

enum {
    META_OK = 0,
    META_E_NOTFOUND = -1,
    META_E_QUOTA = -2,    /* the change would push used + reserved past org_max */
    META_E_BUSY = -3,     /* the database stayed locked past the busy timeout */
    META_E_IO = -4,       /* any other database failure (disk full, corruption, ...) */
    META_E_INVALID = -5,  /* malformed argument */
    META_E_NOMEM = -6,
    META_E_CONFLICT = -7, /* a unique id already exists */
};

typedef struct meta_file {
    char id[META_ID_MAX];
    char org[META_ORG_MAX];
    char purpose[META_PURPOSE_MAX];
    char filename[META_FILENAME_MAX];
    int64_t bytes;
    int64_t created_at;
    int64_t expires_at; /* 0: never */
    char blob[BLOB_KEY_LEN + 1];
} meta_file;

typedef struct meta_key {
    char id[META_ID_MAX]; /* public key id, e.g. "key_3f2a...", shown by `keys list` */
    char org[META_ORG_MAX];
    char name[META_NAME_MAX];
    int64_t created_at;
    int64_t revoked_at; /* 0: active */
} meta_key;

typedef struct meta_list_req {
    const char *org;
    const char *purpose; /* NULL: any */
    const char *after;   /* NULL: from the start; else the id of a file of this org */
    int desc;            /* 1: newest first (created_at DESC, id DESC) */
    int limit;           /* 1..10000 */
    int64_t now;         /* files with 0 < expires_at <= now are invisible */
} meta_list_req;

typedef struct meta_stats {
    int64_t files;
    int64_t bytes;
} meta_stats;

/* Return non-zero to stop a walk; that value is returned by the walking function. */
typedef int (*meta_file_cb)(const meta_file *f, void *userdata);
typedef int (*meta_key_cb)(const meta_key *k, void *userdata);
typedef int (*meta_blob_cb)(const char *blob, void *userdata);

typedef struct meta_store meta_store;

#define META_OPS_VERSION 1
typedef struct meta_ops {
    unsigned version;
    const char *name;

    /* --- keys --- */
    /* Looks up an active key by the SHA-256 of its secret. Fills org. NOTFOUND if the key is
     * unknown or revoked. The final comparison of the hash is constant-time. */
    int (*key_lookup)(meta_store *s, const uint8_t hash[32], char org[META_ORG_MAX]);
    /* Stores a new key (the organization is created on first use). CONFLICT on a duplicate. */
    int (*key_create)(meta_store *s, const meta_key *k, const uint8_t hash[32]);
    int (*key_list)(meta_store *s, meta_key_cb cb, void *userdata);
    /* Revokes by key id. NOTFOUND if there is no such active key. */
    int (*key_revoke)(meta_store *s, const char *key_id, int64_t now);
    int (*key_count_active)(meta_store *s, int64_t *out);

    /* --- upload intents and quota --- */
    int (*intent_open)(meta_store *s, const char *org, const char *blob, int64_t now);
    /* Atomically adds delta (> 0) to the intent's reservation and the org's reserved bytes,
     * or returns QUOTA leaving both unchanged. NOTFOUND if the intent is gone. */
    int (*intent_reserve)(meta_store *s, const char *blob, int64_t delta, int64_t org_max);
    /* Drops the intent and releases its reservation. NOTFOUND if already gone. */
    int (*intent_drop)(meta_store *s, const char *blob);
    /* One transaction: checks used + other reservations + f->bytes <= org_max (else QUOTA,
     * nothing changed), inserts the file row, deletes the intent named by f->blob, sets
     * used += f->bytes and releases the intent's reservation. NOTFOUND if the intent is gone;
     * CONFLICT if the file id exists. */
    int (*file_commit)(meta_store *s, const meta_file *f, int64_t org_max);
    /* Drops every intent (startup recovery on a store used by this process alone), calling cb
     * with each blob key after the transaction so the caller can delete the blob. */
    int (*intent_take_all)(meta_store *s, meta_blob_cb cb, void *userdata);

    /* --- files --- */
    /* NOTFOUND if no visible (unexpired) file with this id exists in org. */
    int (*file_get)(meta_store *s, const char *org, const char *id, int64_t now, meta_file *out);
    /* Keyset page: at most req->limit files in (created_at, id) order after req->after.
     * Sets *has_more. NOTFOUND if req->after names no file of the org. */
    int (*file_list)(meta_store *s, const meta_list_req *req, meta_file_cb cb, void *userdata,
                     int *has_more);
    /* One transaction: deletes the visible file and lowers the org's usage. Fills out (so the
     * caller can remove out->blob). NOTFOUND if absent, expired or of another org. */
    int (*file_delete)(meta_store *s, const char *org, const char *id, int64_t now,
                       meta_file *out);
    /* Deletes up to limit files with 0 < expires_at <= now in one transaction, lowering usage,
     * then calls cb with each. Returns the number deleted (>= 0) or META_E_*. */
    int (*expired_take)(meta_store *s, int64_t now, int limit, meta_file_cb cb, void *userdata);
    /* 1 if a file row or an intent names blob, 0 if none, or META_E_*. */
    int (*blob_referenced)(meta_store *s, const char *blob);

    /* --- accounting --- */
    int (*org_usage)(meta_store *s, const char *org, int64_t *used, int64_t *reserved);
    int (*stats)(meta_store *s, meta_stats *out);

    void (*free)(meta_store *s);
} meta_ops;

/* Backends embed this as their first member. */
struct meta_store {
    const meta_ops *ops;
};

/* Opens (creating if needed) the SQLite store at path: WAL, synchronous=FULL, busy timeout,
 * schema migration. Files are created 0600. */
int meta_sqlite_open(meta_store **out, const char *path);

/* SQLite only (no-op on other stores): how long a write waits for a lock held by another
 * connection before failing with META_E_BUSY. Default 10000 ms. Every thread's connection
 * picks the new value up on its next call. Thread: any. */
void meta_sqlite_set_busy_timeout(meta_store *s, int ms);

static inline void meta_store_free(meta_store *s)
{
    if (s)
        s->ops->free(s);
}

#endif
