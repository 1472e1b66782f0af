/*
 * Metadata store: API keys, organizations with their usage, files, upload intents, and
 * Uploads (multi-part uploads) with their parts.
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

#define META_ID_MAX       64 /* ids (file ids, key ids) incl. NUL */
#define META_ORG_MAX      64 /* organization ids incl. NUL: [A-Za-z0-9_-]{1,63} */
#define META_PURPOSE_MAX  32
#define META_FILENAME_MAX 1024 /* bytes of UTF-8, incl. NUL */
#define META_NAME_MAX     128  /* key names */

enum {
    META_OK = 0,
    META_E_NOTFOUND = -1,
    META_E_QUOTA = -2,   /* the change would push used + reserved past org_max */
    META_E_BUSY = -3,    /* the database stayed locked past the busy timeout */
    META_E_IO = -4,      /* any other database failure (I/O error, corruption, ...) */
    META_E_INVALID = -5, /* malformed argument */
    META_E_NOMEM = -6,
    META_E_CONFLICT = -7, /* a unique id already exists */
    META_E_STATE = -8,    /* the upload is not pending (completed, cancelled or expired) */
    META_E_LIMIT = -9,    /* the parts would exceed twice the upload's declared bytes */
    META_E_NOSPC = -10,   /* the database's filesystem is full */
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

/* Upload states; "expired" is also reported for a pending upload whose expires_at has passed
 * before the sweeper marked it. */
typedef enum meta_upload_status {
    META_UPLOAD_PENDING = 0,
    META_UPLOAD_COMPLETED = 1,
    META_UPLOAD_CANCELLED = 2,
    META_UPLOAD_EXPIRED = 3,
} meta_upload_status;

#define META_MIME_MAX 128 /* mime_type incl. NUL */

/* An Upload (POST /v1/uploads): a file assembled from parts. */
typedef struct meta_upload {
    char id[META_ID_MAX];
    char org[META_ORG_MAX];
    char filename[META_FILENAME_MAX];
    char purpose[META_PURPOSE_MAX];
    char mime_type[META_MIME_MAX];
    int64_t bytes;                 /* declared total */
    int64_t expires_after_seconds; /* for the resulting file; 0: not given */
    int64_t created_at;
    int64_t expires_at; /* of the upload itself (created_at + 3600) */
    meta_upload_status status;
    char file_id[META_ID_MAX]; /* "" until completed */
} meta_upload;

/* One part of an upload; its blob is durable and counted in the org's usage. */
typedef struct meta_part {
    char id[META_ID_MAX];
    char upload_id[META_ID_MAX];
    char org[META_ORG_MAX];
    char blob[BLOB_KEY_LEN + 1];
    int64_t bytes;
    int64_t created_at;
} meta_part;

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
    int desc;            /* 1: newest first; ties in created_at by creation order */
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
typedef int (*meta_part_cb)(const meta_part *p, void *userdata);

typedef struct meta_store meta_store;

#define META_OPS_VERSION 3 /* 2: uploads and parts; 3: tombstones */
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
    /* Keyset page: at most req->limit files in (created_at, creation order) after req->after.
     * Sets *has_more. req->after may name a file of the org (expired ones too) or the
     * tombstone of one (deleted or swept since, until tombstone_purge): the page starts after
     * its place. NOTFOUND if it names neither. */
    int (*file_list)(
        meta_store *s, const meta_list_req *req, meta_file_cb cb, void *userdata, int *has_more);
    /* One transaction: deletes the visible file, leaves its tombstone (id, org, place in the
     * list order, deleted at now) and lowers the org's usage. Fills out (so the caller can
     * remove out->blob). NOTFOUND if absent, expired or of another org. */
    int (*file_delete)(meta_store *s, const char *org, const char *id, int64_t now, meta_file *out);
    /* Deletes up to limit files with 0 < expires_at <= now in one transaction, leaving their
     * tombstones and lowering usage, then calls cb with each. Returns the number deleted
     * (>= 0) or META_E_*. */
    int (*expired_take)(meta_store *s, int64_t now, int limit, meta_file_cb cb, void *userdata);
    /* 1 if a file row, a part row or an intent names blob, 0 if none, or META_E_*. */
    int (*blob_referenced)(meta_store *s, const char *blob);
    /* Removes the tombstones left at or before `before` (since version 3). Returns how many
     * (>= 0) or META_E_*. A file created later never takes the place in the list order of a
     * tombstone still kept, so a cursor naming it skips nothing. */
    int (*tombstone_purge)(meta_store *s, int64_t before);

    /* --- uploads (since version 2) ---
     * An upload is pending until completed or cancelled; a pending upload whose expires_at has
     * passed is expired (reported so at once; the sweeper reclaims its parts). Parts are
     * committed like files (blob durable first, then part row in / intent out / usage += bytes
     * in one transaction), so they count against the quota while they exist. */
    /* Inserts a pending upload (u->status and u->file_id are ignored). CONFLICT on a duplicate
     * id. The organization is created on first use. */
    int (*upload_create)(meta_store *s, const meta_upload *u);
    /* NOTFOUND if org has no upload with this id. A pending upload past expires_at (<= now) is
     * reported with status EXPIRED. */
    int (*upload_get)(
        meta_store *s, const char *org, const char *id, int64_t now, meta_upload *out);
    /* One transaction: a pending, unexpired upload becomes CANCELLED, its part rows go and
     * usage -= their bytes; then cb gets each part's blob (to remove). out gets the upload as
     * it is after the call. NOTFOUND if absent; STATE (out filled, nothing changed) if the
     * upload is not pending. */
    int (*upload_cancel)(meta_store *s,
                         const char *org,
                         const char *id,
                         int64_t now,
                         meta_upload *out,
                         meta_blob_cb cb,
                         void *userdata);
    /* One transaction, like file_commit: checks the quota (used + other reservations +
     * p->bytes <= org_max, else QUOTA), that the upload p->upload_id of p->org exists
     * (NOTFOUND), is pending and unexpired at now (STATE) and that its parts' bytes plus
     * p->bytes do not exceed its declared bytes (LIMIT); then inserts the part row, deletes
     * the intent named by p->blob (NOTFOUND if gone, INVALID if of another org), and sets
     * used += p->bytes, releasing the intent's reservation. CONFLICT if the part id exists. */
    int (*part_commit)(meta_store *s, const meta_part *p, int64_t now, int64_t org_max);
    /* Calls cb for each part of the upload (oldest first). cb's non-zero stops the walk and
     * is returned. An unknown upload simply has no parts. */
    int (*upload_parts)(
        meta_store *s, const char *org, const char *upload_id, meta_part_cb cb, void *userdata);
    /* One transaction: the upload (f->org, upload_id) must be pending and unexpired at now
     * (NOTFOUND / STATE); the file row f is inserted (its blob named by an intent of the same
     * org, which is deleted; NOTFOUND/INVALID as in file_commit; CONFLICT if f->id exists),
     * the upload becomes COMPLETED with file_id = f->id, every part row of the upload goes,
     * and usage changes by f->bytes - (the parts' bytes), the intent's reservation released.
     * QUOTA if that would leave used + reserved above org_max. After the commit cb gets each
     * removed part's blob. */
    int (*upload_complete)(meta_store *s,
                           const char *upload_id,
                           const meta_file *f,
                           int64_t now,
                           int64_t org_max,
                           meta_blob_cb cb,
                           void *userdata);
    /* Marks up to limit pending uploads with expires_at <= now EXPIRED in one transaction,
     * deleting their part rows and lowering usage; then cb gets each part blob. Returns the
     * number of uploads expired (>= 0) or META_E_*. */
    int (*upload_take_expired)(
        meta_store *s, int64_t now, int limit, meta_blob_cb cb, void *userdata);

    /* --- accounting --- */
    int (*org_usage)(meta_store *s, const char *org, int64_t *used, int64_t *reserved);
    int (*stats)(meta_store *s, meta_stats *out);
    /* Optional (NULL when a backend cannot count): the number of files of org visible at now,
     * every purpose (what a full walk of GET /v1/files would return). 0 for an organization
     * never seen. */
    int (*org_file_count)(meta_store *s, const char *org, int64_t now, int64_t *out);

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
