/*
 * Metadata backends: API keys, organizations with their usage, files, upload intents, Uploads
 * with their parts, and the bookkeeping several argotd instances need on one store (owners
 * with leases, tombstones). A versioned table of functions with a capability mask, like the
 * blob backends: SQLite (meta_sqlite.c, the embedded default), memory (meta_mem.c, for the
 * generic contract tests) and PostgreSQL sit behind the same calls and pass the same generic
 * contract test (tests/unit/server/meta_contract.h).
 *
 * Backends store; the storage frontend (store/) decides. The rules of the service (the quota,
 * how much the parts of an upload may hold, how long finished uploads are kept, when an upload
 * counts as expired, what an id may look like, ...) live in store/ and reach a backend as
 * parameters of conditional changes: "insert the part if the parts stay within parts_max",
 * "reserve delta if used + reserved + delta <= org_max". Each such change is one transaction,
 * so concurrent callers (threads, processes, instances) can never break the rule.
 *
 * The intent record is the one mechanism behind quotas, orphan cleanup and crash recovery:
 * an upload opens an intent naming its blob key (and its owner, the argotd instance) before
 * writing a byte, may reserve quota against it, and either commits (its row in, intent out,
 * usage += bytes, reservation released, in one transaction) or drops it. Every instance renews
 * a lease on its owner id; the intents of owners whose lease ran out name blobs to delete.
 *
 * Deleted blobs are recorded as blob tombstones in the transaction that stops referencing
 * them; the caller removes the blob right away (callbacks after the transaction) and clears
 * the tombstone, and whatever a crash left is drained later by the instance holding the GC
 * lease. Deleted and expired files leave cursor tombstones (their place in the list order),
 * so their ids stay valid list cursors for a while.
 *
 * Times are Unix seconds. expires_at == 0 means "never" (JSON null). A file is visible at now
 * iff expires_at == 0 or expires_at > now; an owner is alive at now iff its expires_at > now; a
 * lease is free at now iff its expires_at <= now (or its holder is not alive).
 *
 * Callbacks: the walks (key_list, file_list, upload_parts) return a callback's non-zero value
 * and stop. The notifications after a transaction (expired_take, intents_reap,
 * upload_take_expired, upload_cancel, upload_complete, blob_tombs_take) stop calling on a
 * non-zero value but still return their count (the rows are gone already; what the caller did
 * not remove stays a blob tombstone); their callbacks may be NULL. blob_tombs_take counts the
 * call that stopped.
 *
 * Every function returns 0
 * (or a documented count) or a negative st_code, and fills the error record e (may be NULL;
 * the first failure wins, the backend's own code and message are kept). Strings in results
 * are copied into the caller's struct.
 *
 * Thread: a meta_store may be used from any number of threads at once. Callbacks run on the
 * calling thread after the transaction (or while a read walks its rows): they must not call
 * back into the store.
 */
#ifndef ARGOT_SERVER_META_H
#define ARGOT_SERVER_META_H

#include <stdint.h>

#include "server/blob/blob.h"
#include "server/store/err.h"

#define META_ID_MAX       64 /* ids (file ids, key ids) incl. NUL */
#define META_ORG_MAX      64 /* organization ids incl. NUL: [A-Za-z0-9_-]{1,63} */
#define META_PURPOSE_MAX  32
#define META_FILENAME_MAX 1024 /* bytes of UTF-8, incl. NUL */
#define META_NAME_MAX     128  /* key names */
#define META_OWNER_MAX    64   /* owner ids and lease names incl. NUL */

/* The backends' return codes are the error record's (store/err.h); these names stay for
 * readability at the storage layer. */
enum {
    META_OK = ST_OK,
    META_E_NOTFOUND = ST_E_NOTFOUND,
    META_E_QUOTA = ST_E_QUOTA,     /* the change would push used + reserved past org_max */
    META_E_BUSY = ST_E_BUSY,       /* a lock or a serialization conflict outlasted its wait */
    META_E_IO = ST_E_IO,           /* any other failure (I/O error, corruption, ...) */
    META_E_INVALID = ST_E_INVALID, /* malformed argument */
    META_E_NOMEM = ST_E_NOMEM,
    META_E_CONFLICT = ST_E_CONFLICT,       /* a unique id already exists */
    META_E_STATE = ST_E_STATE,             /* the upload is not pending, or past its expiry */
    META_E_LIMIT = ST_E_LIMIT,             /* the parts would exceed the bytes allowed */
    META_E_NOSPC = ST_E_NOSPC,             /* the database's storage is full */
    META_E_UNAVAILABLE = ST_E_UNAVAILABLE, /* the database cannot be reached */
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
    int64_t seq; /* the backend's creation sequence (set by reads; ignored by commits) */
} meta_file;

/* A place in the list order of an organization's files: (created_at, seq). Opaque to the
 * frontend, which only hands it back. */
typedef struct meta_pos {
    int64_t created_at;
    int64_t seq;
} meta_pos;

/* Upload states as stored. A pending upload whose expires_at has passed is reported as
 * expired by the frontend before the sweeper marks it so. */
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
    uint8_t hash[32];   /* the SHA-256 of its secret (filled by key_list; key_create takes it
                         * apart) */
} meta_key;

/* An upload in flight, as stored (intent_walk). */
typedef struct meta_intent {
    char blob[BLOB_KEY_LEN + 1];
    char org[META_ORG_MAX];
    char owner[META_OWNER_MAX];
    int64_t reserved;
    int64_t created_at;
} meta_intent;

/* An organization's accounting, as stored (org_walk). */
typedef struct meta_org {
    char id[META_ORG_MAX];
    int64_t used, reserved;
} meta_org;

typedef struct meta_list_req {
    const char *org;
    const char *purpose;   /* NULL: any */
    const meta_pos *after; /* NULL: from the start; else the place to continue after */
    int desc;              /* 1: newest first; ties in created_at by creation order */
    int limit;             /* 1..10000 */
    int64_t now;           /* files with 0 < expires_at <= now are invisible */
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
typedef int (*meta_upload_cb)(const meta_upload *u, void *userdata);
typedef int (*meta_intent_cb)(const meta_intent *i, void *userdata);
typedef int (*meta_org_cb)(const meta_org *o, void *userdata);
typedef int (*meta_owner_cb)(const char *owner, int64_t expires_at, void *userdata);

typedef struct meta_store meta_store;

/* Capabilities (meta_ops.caps). */
enum {
    META_CAP_FILE_COUNT = 1, /* org_file_count */
    META_CAP_SHARED = 2,     /* several argotd processes may use the store at once */
    META_CAP_CLOCK = 4,      /* clock: the database's time, shared by every instance */
};

#define META_OPS_VERSION                                                                           \
    5 /* 2: uploads; 3: tombstones; 4: error records, owners and leases,                           \
       * blob tombstones, positions, rules moved to the frontend; 5: whole-store walks and         \
       * repairs (fsck, migrate), key hashes in key_list */
typedef struct meta_ops {
    unsigned version;
    const char *name;
    unsigned caps;

    /* --- keys --- */
    /* Looks up an active key by the SHA-256 of its secret. Fills org. NOTFOUND if the key is
     * unknown or revoked. The final comparison of the hash is constant-time. */
    int (*key_lookup)(meta_store *s, const uint8_t hash[32], char org[META_ORG_MAX], st_err *e);
    /* Stores a new key (the organization is created on first use). CONFLICT on a duplicate. */
    int (*key_create)(meta_store *s, const meta_key *k, const uint8_t hash[32], st_err *e);
    int (*key_list)(meta_store *s, meta_key_cb cb, void *userdata, st_err *e);
    /* Revokes by key id. NOTFOUND if there is no such active key. */
    int (*key_revoke)(meta_store *s, const char *key_id, int64_t now, st_err *e);
    int (*key_count_active)(meta_store *s, int64_t *out, st_err *e);

    /* --- owners and leases --- */
    /* The owner (an argotd instance's random id) is alive until now + ttl: inserts or extends
     * its row (a renewal never shortens it). */
    int (*owner_renew)(meta_store *s, const char *owner, int64_t now, int64_t ttl, st_err *e);
    /* Forgets owner (a clean stop), or with owner NULL every owner but self (a caller that knows
     * it is alone, such as a single argotd holding its data dir's lock). Forgetting an unknown
     * owner is success; owner and self both NULL is INVALID. */
    int (*owner_forget)(meta_store *s, const char *owner, const char *self, st_err *e);
    /* Takes or renews the lease name for owner until now + ttl. Returns 1 if owner holds it
     * now, 0 if another owner holds an unexpired one and is itself alive (an owner row that has
     * not expired: a forgotten or dead owner's leases are free at once). */
    int (*lease_take)(
        meta_store *s, const char *name, const char *owner, int64_t now, int64_t ttl, st_err *e);

    /* --- upload intents and quota --- */
    /* Opens an intent for blob, owned by owner. CONFLICT if one exists for blob. */
    int (*intent_open)(meta_store *s,
                       const char *org,
                       const char *blob,
                       const char *owner,
                       int64_t now,
                       st_err *e);
    /* Atomically adds delta (> 0) to the intent's reservation and the org's reserved bytes,
     * or returns QUOTA leaving both unchanged. NOTFOUND if the intent is gone. */
    int (*intent_reserve)(
        meta_store *s, const char *blob, int64_t delta, int64_t org_max, st_err *e);
    /* Drops the intent and releases its reservation. NOTFOUND if already gone. */
    int (*intent_drop)(meta_store *s, const char *blob, st_err *e);
    /* One transaction: drops the intents whose owner is not self and is not alive at now (no
     * owner row, or one expired), releasing their reservations and recording their blobs as
     * blob tombstones; then calls cb with each blob (to remove). Returns how many. */
    int (*intents_reap)(
        meta_store *s, const char *self, int64_t now, meta_blob_cb cb, void *userdata, st_err *e);
    /* One transaction: checks used + other reservations + f->bytes <= org_max (else QUOTA,
     * nothing changed), inserts the file row (the backend assigns its sequence), deletes the
     * intent named by f->blob, sets used += f->bytes and releases the intent's reservation.
     * NOTFOUND if the intent is gone, INVALID if it is of another org; CONFLICT if the file id
     * exists. */
    int (*file_commit)(meta_store *s, const meta_file *f, int64_t org_max, st_err *e);

    /* --- files --- */
    /* NOTFOUND if no visible (unexpired at now) file with this id exists in org. */
    int (*file_get)(
        meta_store *s, const char *org, const char *id, int64_t now, meta_file *out, st_err *e);
    /* The place of id in org's list order: a file of the org (expired ones too), or the
     * cursor tombstone of one (deleted or swept since, until cursor_tombs_purge). NOTFOUND if
     * it names neither. */
    int (*file_position)(meta_store *s, const char *org, const char *id, meta_pos *out, st_err *e);
    /* Keyset page: at most req->limit visible files in (created_at, seq) order after
     * req->after. Sets *has_more. A file created later (with a created_at not before the
     * tombstone's: the frontend's clock never goes back) never takes a place
     * before a cursor tombstone still kept. */
    int (*file_list)(meta_store *s,
                     const meta_list_req *req,
                     meta_file_cb cb,
                     void *userdata,
                     int *has_more,
                     st_err *e);
    /* One transaction: deletes the visible file, leaves its cursor tombstone (deleted at now)
     * and a blob tombstone, and lowers the org's usage. Fills out (so the caller can remove
     * out->blob and clear the blob tombstone). NOTFOUND if absent, expired or of another org. */
    int (*file_delete)(
        meta_store *s, const char *org, const char *id, int64_t now, meta_file *out, st_err *e);
    /* Deletes up to limit files with 0 < expires_at <= now in one transaction, as file_delete
     * does each, then calls cb with each. Returns the number deleted. */
    int (*expired_take)(
        meta_store *s, int64_t now, int limit, meta_file_cb cb, void *userdata, st_err *e);
    /* 1 if a file row, a part row or an intent names blob, 0 if none. */
    int (*blob_referenced)(meta_store *s, const char *blob, st_err *e);
    /* Removes the cursor tombstones left at or before `before`. Returns how many. */
    int (*cursor_tombs_purge)(meta_store *s, int64_t before, st_err *e);

    /* --- blob tombstones (the garbage collector's queue) --- */
    /* Calls cb for up to limit blob tombstones recorded at or before `before`, oldest first.
     * Returns how many it reported. */
    int (*blob_tombs_take)(
        meta_store *s, int64_t before, int limit, meta_blob_cb cb, void *userdata, st_err *e);
    /* Clears the tombstone of blob (its blob is gone). Clearing a missing one is success. */
    int (*blob_tomb_done)(meta_store *s, const char *blob, st_err *e);

    /* --- uploads ---
     * An upload is pending until completed or cancelled. Parts are committed like files (blob
     * durable first, then part row in / intent out / usage += bytes in one transaction), so
     * they count against the quota while they exist. */
    /* Inserts a pending upload (u->status and u->file_id are ignored). CONFLICT on a duplicate
     * id. The organization is created on first use. */
    int (*upload_create)(meta_store *s, const meta_upload *u, st_err *e);
    /* The upload as stored (its status is not adjusted for time). NOTFOUND if org has none. */
    int (*upload_get)(meta_store *s, const char *org, const char *id, meta_upload *out, st_err *e);
    /* One transaction: a pending upload unexpired at now becomes CANCELLED, its part rows go
     * (blob tombstones recorded) and usage -= their bytes; then cb gets each part's blob. out
     * gets the upload as stored after the call. NOTFOUND if absent; STATE (out filled, nothing
     * changed) if the upload is not pending or expires_at <= now. */
    int (*upload_cancel)(meta_store *s,
                         const char *org,
                         const char *id,
                         int64_t now,
                         meta_upload *out,
                         meta_blob_cb cb,
                         void *userdata,
                         st_err *e);
    /* One transaction, like file_commit, checking in this order: the upload p->upload_id of
     * p->org exists (NOTFOUND) and is pending with expires_at > now (STATE); the intent named by
     * p->blob exists (NOTFOUND) and is of p->org (INVALID); the quota (used + other
     * reservations + p->bytes <= org_max, else QUOTA); its parts' bytes plus p->bytes stay
     * within parts_max (LIMIT). Then inserts the part row, deletes the intent and sets used +=
     * p->bytes, releasing the intent's reservation. CONFLICT if the part id exists. Nothing
     * changes on any failure. */
    int (*part_commit)(meta_store *s,
                       const meta_part *p,
                       int64_t now,
                       int64_t org_max,
                       int64_t parts_max,
                       st_err *e);
    /* Calls cb for each part of the upload (oldest first). cb's non-zero stops the walk and
     * is returned. An unknown upload simply has no parts. */
    int (*upload_parts)(meta_store *s,
                        const char *org,
                        const char *upload_id,
                        meta_part_cb cb,
                        void *userdata,
                        st_err *e);
    /* One transaction: the upload (f->org, upload_id) must be pending with expires_at > now
     * (NOTFOUND / STATE); the file row f is inserted (its blob named by an intent of the same
     * org, which is deleted; NOTFOUND/INVALID as in file_commit; CONFLICT if f->id exists),
     * the upload becomes COMPLETED with file_id = f->id, every part row of the upload goes
     * (blob tombstones recorded), and usage changes by f->bytes - (the parts' bytes), the
     * intent's reservation released. QUOTA if that would leave used + reserved above org_max.
     * After the commit cb gets each removed part's blob. */
    int (*upload_complete)(meta_store *s,
                           const char *upload_id,
                           const meta_file *f,
                           int64_t now,
                           int64_t org_max,
                           meta_blob_cb cb,
                           void *userdata,
                           st_err *e);
    /* Marks up to limit pending uploads with expires_at <= now EXPIRED in one transaction,
     * deleting their part rows (blob tombstones recorded) and lowering usage; then cb gets each
     * part blob. Returns the number of uploads expired. */
    int (*upload_take_expired)(
        meta_store *s, int64_t now, int limit, meta_blob_cb cb, void *userdata, st_err *e);
    /* Deletes the rows of uploads no longer pending whose expires_at is at or before
     * `before`. Returns how many. */
    int (*uploads_purge)(meta_store *s, int64_t before, st_err *e);

    /* --- the whole store (argotd fsck and argotd migrate; never on the request path) ---
     * Walks of every row of a table, of every organization, whatever its expiry or state. The
     * paged ones return how many rows they reported (fewer than limit: the last page), or a
     * callback's non-zero value, which stops the walk. */
    /* Up to limit file rows (1..10000) with seq > after_seq, in seq (creation) order; expired
     * ones too. */
    int (*file_walk)(
        meta_store *s, int64_t after_seq, int limit, meta_file_cb cb, void *userdata, st_err *e);
    /* Up to limit uploads (1..10000), any status, with ids greater than after ("" for the
     * first page), in byte order of their ids; statuses as stored. */
    int (*upload_walk)(
        meta_store *s, const char *after, int limit, meta_upload_cb cb, void *userdata, st_err *e);
    /* Every intent, in blob order. */
    int (*intent_walk)(meta_store *s, meta_intent_cb cb, void *userdata, st_err *e);
    /* Every organization with its stored usage, in id order. */
    int (*org_walk)(meta_store *s, meta_org_cb cb, void *userdata, st_err *e);
    /* Every owner row (an instance's id and when its lease runs out), in id order. */
    int (*owner_walk)(meta_store *s, meta_owner_cb cb, void *userdata, st_err *e);
    /* Repairs: delete one file row, or one part row, by id: nothing else changes (no
     * tombstone, no usage: usage_recompute follows). NOTFOUND if there is none. */
    int (*file_drop)(meta_store *s, const char *id, st_err *e);
    int (*part_drop)(meta_store *s, const char *id, st_err *e);
    /* One transaction: every organization's used bytes become the sum of its file and part
     * rows, and its reserved bytes the sum of its intents' reservations. */
    int (*usage_recompute)(meta_store *s, st_err *e);

    /* --- accounting --- */
    int (*org_usage)(meta_store *s, const char *org, int64_t *used, int64_t *reserved, st_err *e);
    int (*stats)(meta_store *s, meta_stats *out, st_err *e);
    /* Optional (META_CAP_FILE_COUNT): the number of files of org visible at now, every purpose
     * (what a full walk of GET /v1/files would return). 0 for an organization never seen. */
    int (*org_file_count)(meta_store *s, const char *org, int64_t now, int64_t *out, st_err *e);
    /* Optional (META_CAP_CLOCK): the database's clock, Unix seconds. */
    int (*clock)(meta_store *s, int64_t *now, st_err *e);

    void (*free)(meta_store *s);
} meta_ops;

/* Backends embed this as their first member. */
struct meta_store {
    const meta_ops *ops;
};

/* Opens (creating if needed) the SQLite store at path: WAL, synchronous=FULL, busy timeout,
 * schema migration. Files are created 0600. *out is NULL on every failure. */
int meta_sqlite_open(meta_store **out, const char *path, st_err *e);
/* The in-memory backend (tests): everything is lost with the process. */
int meta_mem_open(meta_store **out, st_err *e);

/* SQLite only (no-op on other stores): how long a write waits for a lock held by another
 * connection before failing with BUSY. Default 10000 ms. Every thread's connection
 * picks the new value up on its next call. Thread: any. */
void meta_sqlite_set_busy_timeout(meta_store *s, int ms);

static inline void meta_store_free(meta_store *s)
{
    if (s)
        s->ops->free(s);
}

#endif
