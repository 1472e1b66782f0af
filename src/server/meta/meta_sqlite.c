/*
 * SQLite metadata store (see docs/storage.md).
 *
 * One connection per thread, opened lazily and closed by the thread-exit destructor of a
 * pthread key (or by meta_store_free for threads still alive). Statements are prepared once
 * per connection and reset after every use. Every multi-statement change runs in
 * BEGIN IMMEDIATE, so reading the quota and updating it is atomic across threads and
 * processes; single-statement changes rely on SQLite's implicit transaction.
 */
#include "server/meta/meta.h"
#include "server/meta/meta_check.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BUSY_TIMEOUT_MS 10000
/* Sanity bounds of arguments (the service's own limits are the frontend's). */
#define LIST_LIMIT_MAX  10000 /* meta_list_req.limit: 1..10000 */
#define EXPIRE_TAKE_MAX 10000
#define OWNER_MAX       64

#define B "sqlite" /* the backend's name in error records */

/* ---- schema ---- */

/* Migration i brings user_version from i to i + 1. Never edit a shipped entry; append. */
static const char *const migrations[] = {
    "CREATE TABLE orgs("
    "  id TEXT PRIMARY KEY,"
    "  used_bytes INTEGER NOT NULL DEFAULT 0 CHECK (used_bytes >= 0),"
    "  reserved_bytes INTEGER NOT NULL DEFAULT 0 CHECK (reserved_bytes >= 0));"
    "CREATE TABLE api_keys("
    "  id TEXT PRIMARY KEY,"
    "  hash BLOB NOT NULL UNIQUE CHECK (length(hash) = 32),"
    "  org TEXT NOT NULL REFERENCES orgs(id),"
    "  name TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  revoked_at INTEGER);" /* NULL: active */
    "CREATE TABLE files("
    "  id TEXT PRIMARY KEY,"
    "  org TEXT NOT NULL REFERENCES orgs(id),"
    "  purpose TEXT NOT NULL,"
    "  filename TEXT NOT NULL,"
    "  bytes INTEGER NOT NULL CHECK (bytes >= 0),"
    "  created_at INTEGER NOT NULL,"
    "  expires_at INTEGER," /* NULL: never */
    "  blob TEXT NOT NULL UNIQUE);"
    /* Every index ends with the rowid: pages are ordered by (created_at, rowid), so files
     * created in the same second list in creation order, as the real service lists them. */
    "CREATE INDEX files_org_created ON files(org, created_at);"
    "CREATE INDEX files_org_purpose_created ON files(org, purpose, created_at);"
    "CREATE INDEX files_expires ON files(expires_at) WHERE expires_at IS NOT NULL;"
    "CREATE TABLE intents("
    "  blob TEXT PRIMARY KEY,"
    "  org TEXT NOT NULL REFERENCES orgs(id),"
    "  reserved INTEGER NOT NULL DEFAULT 0 CHECK (reserved >= 0),"
    "  created_at INTEGER NOT NULL);",
    /* 1 -> 2: Uploads and their parts (docs/uploads.md). */
    "CREATE TABLE uploads("
    "  id TEXT PRIMARY KEY,"
    "  org TEXT NOT NULL REFERENCES orgs(id),"
    "  filename TEXT NOT NULL,"
    "  purpose TEXT NOT NULL,"
    "  bytes INTEGER NOT NULL CHECK (bytes >= 0),"
    "  mime_type TEXT NOT NULL,"
    "  expires_after_seconds INTEGER," /* NULL: not given */
    "  created_at INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL,"
    "  status TEXT NOT NULL CHECK (status IN ('pending', 'completed', 'cancelled', 'expired')),"
    "  file_id TEXT);" /* NULL until completed */
    "CREATE INDEX uploads_status_expires ON uploads(status, expires_at);"
    "CREATE TABLE parts("
    "  id TEXT PRIMARY KEY,"
    "  upload_id TEXT NOT NULL REFERENCES uploads(id),"
    "  org TEXT NOT NULL REFERENCES orgs(id),"
    "  blob TEXT NOT NULL UNIQUE,"
    "  bytes INTEGER NOT NULL CHECK (bytes >= 0),"
    "  created_at INTEGER NOT NULL);"
    "CREATE INDEX parts_upload ON parts(upload_id, created_at, id);",
    /* 2 -> 3: tombstones of deleted and expired files, so their ids keep working as list
     * cursors (pos: the file's rowid, its place in the (created_at, rowid) order). */
    "CREATE TABLE tombstones("
    "  id TEXT PRIMARY KEY,"
    "  org TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  pos INTEGER NOT NULL,"
    "  deleted_at INTEGER NOT NULL);"
    "CREATE INDEX tombstones_pos ON tombstones(pos);"
    "CREATE INDEX tombstones_deleted ON tombstones(deleted_at);",
    /* 3 -> 4: owners with leases (several argotd on one store), intents owned by one of them,
     * named leases (the garbage collector's), and blob tombstones (blobs to remove, recorded
     * by the transaction that stopped referencing them). Intents of a version 3 store belong
     * to no owner: the next recovery reaps them, as version 3's did. */
    "ALTER TABLE intents ADD COLUMN owner TEXT NOT NULL DEFAULT '';"
    "CREATE TABLE owners(id TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);"
    "CREATE TABLE leases("
    "  name TEXT PRIMARY KEY,"
    "  owner TEXT NOT NULL,"
    "  expires_at INTEGER NOT NULL);"
    "CREATE TABLE blob_tombs(blob TEXT PRIMARY KEY, at INTEGER NOT NULL);"
    "CREATE INDEX blob_tombs_at ON blob_tombs(at);",
};
#define SCHEMA_VERSION ((int)(sizeof migrations / sizeof migrations[0]))

/* ---- statements ---- */

#define FILE_COLS                                                                                  \
    "id, org, purpose, filename, bytes, created_at, coalesce(expires_at, 0), blob, rowid"
#define UPLOAD_COLS                                                                                \
    "id, org, filename, purpose, bytes, mime_type, coalesce(expires_after_seconds, 0),"            \
    " created_at, expires_at, status, coalesce(file_id, '')"
#define VISIBLE(ph) " AND (expires_at IS NULL OR expires_at > " ph ")"

/* List variants: index = desc * 4 + has_purpose * 2 + has_cursor.
 * ?1 org, ?2 purpose, ?3 cursor created_at, ?4 cursor rowid, ?5 now, ?6 limit + 1. */
#define LIST_SQL(purpose, cursor, dir)                                                             \
    "SELECT " FILE_COLS                                                                            \
    " FROM files WHERE org = ?1" purpose cursor VISIBLE("?5") " ORDER BY created_at " dir          \
                                                              ", rowid " dir " LIMIT ?6"
#define P_ANY ""
#define P_EQ  " AND purpose = ?2"
#define C_GT  " AND (created_at, rowid) > (?3, ?4)"
#define C_LT  " AND (created_at, rowid) < (?3, ?4)"

enum {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_ORG_ENSURE,
    ST_ORG_ADD,
    ST_ORG_USAGE,
    ST_KEY_LOOKUP,
    ST_KEY_INSERT,
    ST_KEY_LIST,
    ST_KEY_REVOKE,
    ST_KEY_COUNT,
    ST_INTENT_INSERT,
    ST_INTENT_GET,
    ST_INTENT_ADD,
    ST_INTENT_DEL,
    ST_INTENT_DEAD,
    ST_OWNER_RENEW,
    ST_OWNER_FORGET,
    ST_OWNER_FORGET_OTHERS,
    ST_LEASE_TAKE,
    ST_BLOB_TOMB_INSERT,
    ST_BLOB_TOMBS,
    ST_BLOB_TOMB_DEL,
    ST_FILE_INSERT,
    ST_FILE_GET,
    ST_FILE_DEL,
    ST_FILE_CURSOR,
    ST_TOMB_INSERT,
    ST_TOMB_CURSOR,
    ST_TOMB_PURGE,
    ST_FILE_EXPIRED,
    ST_BLOB_REF,
    ST_STATS,
    ST_UPLOAD_INSERT,
    ST_UPLOAD_GET,
    ST_UPLOAD_SET,
    ST_UPLOAD_EXPIRED,
    ST_UPLOAD_PURGE,
    ST_PART_INSERT,
    ST_PART_SUM,
    ST_PART_LIST,
    ST_PART_BLOBS,
    ST_PART_DEL,
    ST_ORG_FILES,
    ST_FILE_WALK,
    ST_UPLOAD_WALK,
    ST_INTENT_WALK,
    ST_ORG_WALK,
    ST_OWNER_WALK,
    ST_PART_DROP,
    ST_USAGE_RECOMPUTE,
    ST_LIST, /* 8 variants follow */
    ST_COUNT = ST_LIST + 8,
};

static const char *const sql_text[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_ORG_ENSURE] = "INSERT OR IGNORE INTO orgs(id) VALUES (?1)",
    [ST_ORG_ADD] = "UPDATE orgs SET used_bytes = used_bytes + ?2,"
                   " reserved_bytes = reserved_bytes + ?3 WHERE id = ?1",
    [ST_ORG_USAGE] = "SELECT used_bytes, reserved_bytes FROM orgs WHERE id = ?1",
    [ST_KEY_LOOKUP] = "SELECT org, hash FROM api_keys WHERE hash = ?1 AND revoked_at IS NULL",
    [ST_KEY_INSERT] = "INSERT INTO api_keys(id, hash, org, name, created_at, revoked_at)"
                      " VALUES (?1, ?2, ?3, ?4, ?5, nullif(?6, 0))",
    [ST_KEY_LIST] = "SELECT id, org, name, created_at, coalesce(revoked_at, 0), hash"
                    " FROM api_keys ORDER BY created_at, id",
    [ST_KEY_REVOKE] = "UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
    [ST_KEY_COUNT] = "SELECT count(*) FROM api_keys WHERE revoked_at IS NULL",
    [ST_INTENT_INSERT] = "INSERT INTO intents(blob, org, reserved, created_at, owner)"
                         " VALUES (?1, ?2, 0, ?3, ?4)",
    [ST_INTENT_GET] = "SELECT i.org, i.reserved, o.used_bytes, o.reserved_bytes"
                      " FROM intents i JOIN orgs o ON o.id = i.org WHERE i.blob = ?1",
    [ST_INTENT_ADD] = "UPDATE intents SET reserved = reserved + ?2 WHERE blob = ?1",
    [ST_INTENT_DEL] = "DELETE FROM intents WHERE blob = ?1",
    /* ?1 self, ?2 now: intents whose owner is someone else with no lease alive */
    [ST_INTENT_DEAD] = "SELECT blob, org, reserved FROM intents i WHERE owner <> ?1 AND NOT EXISTS"
                       " (SELECT 1 FROM owners o WHERE o.id = i.owner AND o.expires_at > ?2)",
    [ST_OWNER_RENEW] = "INSERT INTO owners(id, expires_at) VALUES (?1, ?2) ON CONFLICT(id)"
                       " DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)",
    [ST_OWNER_FORGET] = "DELETE FROM owners WHERE id = ?1",
    [ST_OWNER_FORGET_OTHERS] = "DELETE FROM owners WHERE id <> ?1",
    /* ?1 name, ?2 owner, ?3 until, ?4 now: taken if free, expired, already ours, or held by an
     * owner that is not alive */
    [ST_LEASE_TAKE] = "INSERT INTO leases(name, owner, expires_at) VALUES (?1, ?2, ?3)"
                      " ON CONFLICT(name) DO UPDATE SET owner = excluded.owner,"
                      " expires_at = excluded.expires_at"
                      " WHERE leases.owner = excluded.owner OR leases.expires_at <= ?4"
                      " OR NOT EXISTS (SELECT 1 FROM owners o WHERE o.id = leases.owner"
                      " AND o.expires_at > ?4)",
    [ST_BLOB_TOMB_INSERT] = "INSERT OR IGNORE INTO blob_tombs(blob, at) VALUES (?1, ?2)",
    [ST_BLOB_TOMBS] = "SELECT blob FROM blob_tombs WHERE at <= ?1 ORDER BY at LIMIT ?2",
    [ST_BLOB_TOMB_DEL] = "DELETE FROM blob_tombs WHERE blob = ?1",
    /* The rowid is above every tombstone's: a new file never takes the place of a deleted one
     * that a client's cursor may still name (SQLite would reuse the highest rowid). */
    [ST_FILE_INSERT] = "INSERT INTO files(rowid, id, org, purpose, filename, bytes, created_at,"
                       " expires_at, blob) VALUES (max(coalesce((SELECT max(rowid) FROM files), 0),"
                       " coalesce((SELECT max(pos) FROM tombstones), 0)) + 1,"
                       " ?1, ?2, ?3, ?4, ?5, ?6, nullif(?7, 0), ?8)",
    [ST_FILE_GET] = "SELECT " FILE_COLS " FROM files WHERE id = ?1 AND org = ?2" VISIBLE("?3"),
    [ST_FILE_DEL] = "DELETE FROM files WHERE id = ?1",
    [ST_FILE_CURSOR] = "SELECT created_at, rowid FROM files WHERE id = ?2 AND org = ?1",
    [ST_TOMB_INSERT] = "INSERT OR REPLACE INTO tombstones(id, org, created_at, pos, deleted_at)"
                       " SELECT id, org, created_at, rowid, ?2 FROM files WHERE id = ?1",
    [ST_TOMB_CURSOR] = "SELECT created_at, pos FROM tombstones WHERE id = ?2 AND org = ?1",
    [ST_TOMB_PURGE] = "DELETE FROM tombstones WHERE deleted_at <= ?1",
    [ST_FILE_EXPIRED] = "SELECT " FILE_COLS " FROM files WHERE expires_at <= ?1"
                        " ORDER BY expires_at LIMIT ?2",
    [ST_BLOB_REF] = "SELECT EXISTS (SELECT 1 FROM files WHERE blob = ?1)"
                    " OR EXISTS (SELECT 1 FROM intents WHERE blob = ?1)"
                    " OR EXISTS (SELECT 1 FROM parts WHERE blob = ?1)",
    [ST_STATS] = "SELECT count(*), coalesce(sum(bytes), 0) FROM files",
    [ST_UPLOAD_INSERT] = "INSERT INTO uploads(id, org, filename, purpose, bytes, mime_type,"
                         " expires_after_seconds, created_at, expires_at, status)"
                         " VALUES (?1, ?2, ?3, ?4, ?5, ?6, nullif(?7, 0), ?8, ?9, 'pending')",
    [ST_UPLOAD_GET] = "SELECT " UPLOAD_COLS " FROM uploads WHERE id = ?1 AND org = ?2",
    [ST_UPLOAD_SET] = "UPDATE uploads SET status = ?2, file_id = ?3 WHERE id = ?1",
    [ST_UPLOAD_EXPIRED] =
        "SELECT id, org FROM uploads WHERE status = 'pending' AND expires_at <= ?1"
        " ORDER BY expires_at LIMIT ?2",
    [ST_UPLOAD_PURGE] = "DELETE FROM uploads WHERE status IN ('completed', 'cancelled', 'expired')"
                        " AND expires_at <= ?1",
    [ST_PART_INSERT] = "INSERT INTO parts(id, upload_id, org, blob, bytes, created_at)"
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [ST_PART_SUM] = "SELECT count(*), coalesce(sum(bytes), 0) FROM parts WHERE upload_id = ?1",
    [ST_PART_LIST] = "SELECT id, upload_id, org, blob, bytes, created_at FROM parts"
                     " WHERE upload_id = ?1 AND org = ?2 ORDER BY created_at, id",
    [ST_PART_BLOBS] = "SELECT blob, bytes FROM parts WHERE upload_id = ?1",
    [ST_PART_DEL] = "DELETE FROM parts WHERE upload_id = ?1",
    /* Every file of the org (covering index), less its expired ones not yet swept (found from
     * the expiry index: `+org` keeps the planner off the org indexes, which would visit every
     * row of the org). 4 ms for an org of 10^5 files (sqlite3 shell), against 30 ms for one
     * count with the VISIBLE test. */
    [ST_ORG_FILES] = "SELECT (SELECT count(*) FROM files WHERE org = ?1)"
                     " - (SELECT count(*) FROM files WHERE +org = ?1 AND expires_at <= ?2)",
    [ST_FILE_WALK] = "SELECT " FILE_COLS " FROM files WHERE rowid > ?1 ORDER BY rowid LIMIT ?2",
    [ST_UPLOAD_WALK] = "SELECT " UPLOAD_COLS " FROM uploads WHERE id > ?1 ORDER BY id LIMIT ?2",
    [ST_INTENT_WALK] = "SELECT blob, org, owner, reserved, created_at FROM intents ORDER BY blob",
    [ST_ORG_WALK] = "SELECT id, used_bytes, reserved_bytes FROM orgs ORDER BY id",
    [ST_OWNER_WALK] = "SELECT id, expires_at FROM owners ORDER BY id",
    [ST_PART_DROP] = "DELETE FROM parts WHERE id = ?1",
    [ST_USAGE_RECOMPUTE] =
        "UPDATE orgs SET"
        " used_bytes = (SELECT coalesce(sum(bytes), 0) FROM files f WHERE f.org = orgs.id)"
        " + (SELECT coalesce(sum(bytes), 0) FROM parts p WHERE p.org = orgs.id),"
        " reserved_bytes = (SELECT coalesce(sum(reserved), 0) FROM intents i"
        " WHERE i.org = orgs.id)",
    [ST_LIST + 0] = LIST_SQL(P_ANY, "", "ASC"),
    [ST_LIST + 1] = LIST_SQL(P_ANY, C_GT, "ASC"),
    [ST_LIST + 2] = LIST_SQL(P_EQ, "", "ASC"),
    [ST_LIST + 3] = LIST_SQL(P_EQ, C_GT, "ASC"),
    [ST_LIST + 4] = LIST_SQL(P_ANY, "", "DESC"),
    [ST_LIST + 5] = LIST_SQL(P_ANY, C_LT, "DESC"),
    [ST_LIST + 6] = LIST_SQL(P_EQ, "", "DESC"),
    [ST_LIST + 7] = LIST_SQL(P_EQ, C_LT, "DESC"),
};

/* ---- store and connections ---- */

typedef struct sq_store sq_store;

typedef struct sq_conn {
    sqlite3 *db;
    sq_store *store;
    struct sq_conn *prev, *next; /* in store->conns, under store->lock */
    int busy_ms;
    sqlite3_stmt *st[ST_COUNT];
} sq_conn;

struct sq_store {
    meta_store base;
    pthread_key_t tls;
    int tls_ok;
    pthread_mutex_t lock; /* guards conns */
    sq_conn *conns;
    /* Serializes this process's write transactions. SQLite allows one writer at a time
     * anyway; waiting here instead of in SQLite's busy handler (which sleeps and polls)
     * hands the lock over as soon as it is free. Other processes still meet the busy
     * timeout. */
    pthread_mutex_t wlock;
    atomic_int busy_ms;
    char path[];
};

static const meta_ops sq_ops;

static int map_rc(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        return META_OK;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return META_E_BUSY;
    case SQLITE_NOMEM:
        return META_E_NOMEM;
    case SQLITE_FULL:
        return META_E_NOSPC;
    case SQLITE_CONSTRAINT:
        if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE)
            return META_E_CONFLICT;
        return META_E_INVALID;
    default:
        return META_E_IO;
    }
}

/* For paths that failed: never META_OK, whatever SQLite returned. */
static int err_rc(int rc)
{
    int m = map_rc(rc);
    return m != META_OK ? m : META_E_IO;
}

static void conn_close(sq_conn *c)
{
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(c->st[i]);
    sqlite3_close(c->db);
    free(c);
}

/* Thread exit: the store is still alive (it deletes the key before it goes away). */
static void conn_dtor(void *p)
{
    sq_conn *c = p;
    sq_store *s = c->store;

    pthread_mutex_lock(&s->lock);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    pthread_mutex_unlock(&s->lock);
    conn_close(c);
}

static int wal_cb(void *userdata, int n, char **vals, char **names)
{
    (void)names;
    *(int *)userdata = n == 1 && vals[0] && strcmp(vals[0], "wal") == 0;
    return 0;
}

static int conn_setup(sq_conn *c)
{
    int wal = 0, rc;

    sqlite3_extended_result_codes(c->db, 1);
    sqlite3_busy_timeout(c->db, c->busy_ms);
    /* A connection that closes while no other holds a lock would otherwise take an
     * exclusive lock to checkpoint and delete the WAL, and writers starting meanwhile get
     * SQLITE_BUSY at once, without the busy timeout (seen when a thread exits). Automatic
     * checkpoints on commit keep the WAL bounded. */
    if (sqlite3_db_config(c->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL) != SQLITE_OK)
        return META_E_IO;
    rc = sqlite3_exec(c->db, "PRAGMA journal_mode=WAL", wal_cb, &wal, NULL);
    if (rc == SQLITE_OK && !wal)
        return META_E_IO;
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(c->db, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON", NULL, NULL,
                          NULL);
    return map_rc(rc);
}

static int conn_open(sq_store *s, sq_conn **out)
{
    const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    sq_conn *c = calloc(1, sizeof *c);
    int rc;

    if (!c)
        return META_E_NOMEM;
    c->store = s;
    c->busy_ms = atomic_load(&s->busy_ms);
    rc = sqlite3_open_v2(s->path, &c->db, flags, NULL);
    rc = rc == SQLITE_OK ? conn_setup(c) : err_rc(rc);
    if (rc != META_OK) {
        conn_close(c);
        return rc == META_E_NOMEM ? rc : META_E_IO;
    }
    *out = c;
    return META_OK;
}

static int conn_get(sq_store *s, sq_conn **out)
{
    sq_conn *c = pthread_getspecific(s->tls);
    int rc;

    if (!c) {
        rc = conn_open(s, &c);
        if (rc != META_OK)
            return rc;
        if (pthread_setspecific(s->tls, c) != 0) {
            conn_close(c);
            return META_E_NOMEM;
        }
        pthread_mutex_lock(&s->lock);
        c->next = s->conns;
        if (s->conns)
            s->conns->prev = c;
        s->conns = c;
        pthread_mutex_unlock(&s->lock);
    }
    if (c->busy_ms != atomic_load_explicit(&s->busy_ms, memory_order_relaxed)) {
        c->busy_ms = atomic_load(&s->busy_ms);
        sqlite3_busy_timeout(c->db, c->busy_ms);
    }
    *out = c;
    return META_OK;
}

static int stmt(sq_conn *c, int id, sqlite3_stmt **out)
{
    if (!c->st[id]) {
        int rc = sqlite3_prepare_v3(c->db, sql_text[id], -1, SQLITE_PREPARE_PERSISTENT, &c->st[id],
                                    NULL);
        if (rc != SQLITE_OK || !c->st[id])
            return err_rc(rc);
    }
    *out = c->st[id];
    return META_OK;
}

/* The calling thread's connection and one of its statements. */
static int prep(meta_store *ms, int id, sq_conn **c, sqlite3_stmt **st)
{
    int rc = conn_get((sq_store *)ms, c);
    return rc != META_OK ? rc : stmt(*c, id, st);
}

/* ---- small helpers ---- */

/* Runs a bound statement that returns no rows, then resets it. */
static int run(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? META_OK : err_rc(rc);
}

static int run_id(sq_conn *c, int id)
{
    sqlite3_stmt *st = NULL;
    int rc = stmt(c, id, &st);
    return rc != META_OK ? rc : run(st);
}

static int bind_err(sq_conn *c, sqlite3_stmt *st)
{
    int rc = err_rc(sqlite3_errcode(c->db));
    sqlite3_reset(st);
    return rc;
}

/* Every successful tx_begin is paired with exactly one tx_end. */
static int tx_begin(sq_conn *c)
{
    int rc;

    pthread_mutex_lock(&c->store->wlock);
    rc = run_id(c, ST_BEGIN);
    if (rc != META_OK)
        pthread_mutex_unlock(&c->store->wlock);
    return rc;
}

/* conn_get() then tx_begin(): on META_OK the caller owns a transaction to close with tx_end(). */
static int tx_open(sq_store *s, sq_conn **c)
{
    int rc = conn_get(s, c);

    if (rc == META_OK)
        rc = tx_begin(*c);
    return rc;
}

/* Commits if rc is META_OK, else rolls back; returns the outcome. */
static int tx_end(sq_conn *c, int rc)
{
    if (rc == META_OK)
        rc = run_id(c, ST_COMMIT);
    if (rc != META_OK && !sqlite3_get_autocommit(c->db))
        run_id(c, ST_ROLLBACK);
    pthread_mutex_unlock(&c->store->wlock);
    return rc;
}

static void col_copy(sqlite3_stmt *st, int col, char *dst, size_t cap)
{
    const unsigned char *v = sqlite3_column_text(st, col);
    size_t n = v ? (size_t)sqlite3_column_bytes(st, col) : 0;

    if (n >= cap)
        n = cap - 1;
    if (n)
        memcpy(dst, v, n);
    dst[n] = '\0';
}

static void row_file(sqlite3_stmt *st, meta_file *f)
{
    col_copy(st, 0, f->id, sizeof f->id);
    col_copy(st, 1, f->org, sizeof f->org);
    col_copy(st, 2, f->purpose, sizeof f->purpose);
    col_copy(st, 3, f->filename, sizeof f->filename);
    f->bytes = sqlite3_column_int64(st, 4);
    f->created_at = sqlite3_column_int64(st, 5);
    f->expires_at = sqlite3_column_int64(st, 6);
    col_copy(st, 7, f->blob, sizeof f->blob);
    f->seq = sqlite3_column_int64(st, 8);
}

/* used + reserved + add <= max, without overflow (all operands >= 0). */
static int fits(int64_t used, int64_t reserved, int64_t add, int64_t max)
{
    return used <= max && reserved <= max - used && add <= max - used - reserved;
}

static int org_ensure(sq_conn *c, const char *org)
{
    sqlite3_stmt *st;
    int rc = stmt(c, ST_ORG_ENSURE, &st);

    if (rc != META_OK)
        return rc;
    if (sqlite3_bind_text(st, 1, org, -1, SQLITE_STATIC) != SQLITE_OK)
        return bind_err(c, st);
    return run(st);
}

static int org_add(sq_conn *c, const char *org, int64_t used, int64_t reserved)
{
    sqlite3_stmt *st;
    int rc = stmt(c, ST_ORG_ADD, &st);

    if (rc != META_OK)
        return rc;
    if ((sqlite3_bind_text(st, 1, org, -1, SQLITE_STATIC) | sqlite3_bind_int64(st, 2, used) |
         sqlite3_bind_int64(st, 3, reserved)) != SQLITE_OK)
        return bind_err(c, st);
    rc = run(st);
    if (rc == META_OK && sqlite3_changes(c->db) != 1)
        rc = META_E_IO; /* an intent or file without its org: the schema forbids it */
    return rc;
}

/* Runs a bound one-row statement and reads up to two integer columns. */
static int query_i64(sqlite3_stmt *st, int64_t *a, int64_t *b)
{
    int rc = sqlite3_step(st);

    if (rc == SQLITE_ROW) {
        *a = sqlite3_column_int64(st, 0);
        if (b)
            *b = sqlite3_column_int64(st, 1);
        rc = META_OK;
    } else {
        rc = rc == SQLITE_DONE ? META_E_NOTFOUND : err_rc(rc);
    }
    sqlite3_reset(st);
    return rc;
}

/* ---- keys ---- */

static int do_key_lookup(meta_store *ms, const uint8_t hash[32], char org[META_ORG_MAX])
{
    sq_conn *c;
    sqlite3_stmt *st;
    const void *h;
    int rc;

    if (!hash || !org)
        return META_E_INVALID;
    rc = prep(ms, ST_KEY_LOOKUP, &c, &st);
    if (rc != META_OK)
        return rc;
    if (sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC) != SQLITE_OK)
        return bind_err(c, st);
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        rc = rc == SQLITE_DONE ? META_E_NOTFOUND : err_rc(rc);
        goto out;
    }
    h = sqlite3_column_blob(st, 1);
    /* The index found the row by equality; compare again in constant time so that acceptance
     * never depends on a data-dependent early exit. */
    if (!h || sqlite3_column_bytes(st, 1) != 32 || CRYPTO_memcmp(h, hash, 32) != 0) {
        rc = META_E_NOTFOUND;
        goto out;
    }
    col_copy(st, 0, org, META_ORG_MAX);
    rc = META_OK;
out:
    sqlite3_reset(st);
    return rc;
}

static int key_insert(sq_conn *c, const meta_key *k, const uint8_t hash[32])
{
    sqlite3_stmt *st;
    int rc = stmt(c, ST_KEY_INSERT, &st);

    if (rc != META_OK)
        return rc;
    if ((sqlite3_bind_text(st, 1, k->id, -1, SQLITE_STATIC) |
         sqlite3_bind_blob(st, 2, hash, 32, SQLITE_STATIC) |
         sqlite3_bind_text(st, 3, k->org, -1, SQLITE_STATIC) |
         sqlite3_bind_text(st, 4, k->name, -1, SQLITE_STATIC) |
         sqlite3_bind_int64(st, 5, k->created_at) | sqlite3_bind_int64(st, 6, k->revoked_at)) !=
        SQLITE_OK)
        return bind_err(c, st);
    return run(st);
}

static int do_key_create(meta_store *ms, const meta_key *k, const uint8_t hash[32])
{
    sq_conn *c;
    int rc;

    if (!k || !hash || !meta_str_ok(k->id, META_ID_MAX) || !meta_org_ok(k->org) ||
        strnlen(k->name, META_NAME_MAX) >= META_NAME_MAX || k->created_at < 0 || k->revoked_at < 0)
        return META_E_INVALID;
    rc = tx_open((sq_store *)ms, &c);
    if (rc != META_OK)
        return rc;
    rc = org_ensure(c, k->org);
    if (rc == META_OK)
        rc = key_insert(c, k, hash);
    return tx_end(c, rc);
}

static int do_key_list(meta_store *ms, meta_key_cb cb, void *userdata)
{
    sq_conn *c;
    sqlite3_stmt *st;
    meta_key k;
    int rc;

    if (!cb)
        return META_E_INVALID;
    rc = prep(ms, ST_KEY_LIST, &c, &st);
    if (rc != META_OK)
        return rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        col_copy(st, 0, k.id, sizeof k.id);
        col_copy(st, 1, k.org, sizeof k.org);
        col_copy(st, 2, k.name, sizeof k.name);
        k.created_at = sqlite3_column_int64(st, 3);
        k.revoked_at = sqlite3_column_int64(st, 4);
        memset(k.hash, 0, sizeof k.hash);
        if (sqlite3_column_bytes(st, 5) == 32)
            memcpy(k.hash, sqlite3_column_blob(st, 5), 32);
        int stop = cb(&k, userdata);
        if (stop != 0) {
            sqlite3_reset(st);
            return stop;
        }
    }
    sqlite3_reset(st);
    return map_rc(rc);
}

static int do_key_revoke(meta_store *ms, const char *key_id, int64_t now)
{
    sq_conn *c;
    sqlite3_stmt *st;
    int rc;

    if (!meta_str_ok(key_id, META_ID_MAX) || now <= 0)
        return META_E_INVALID;
    rc = prep(ms, ST_KEY_REVOKE, &c, &st);
    if (rc != META_OK)
        return rc;
    if ((sqlite3_bind_text(st, 1, key_id, -1, SQLITE_STATIC) | sqlite3_bind_int64(st, 2, now)) !=
        SQLITE_OK)
        return bind_err(c, st);
    rc = run(st);
    if (rc == META_OK && sqlite3_changes(c->db) == 0)
        rc = META_E_NOTFOUND;
    return rc;
}

static int do_key_count_active(meta_store *ms, int64_t *out)
{
    sq_conn *c;
    sqlite3_stmt *st;
    int rc;

    if (!out)
        return META_E_INVALID;
    rc = prep(ms, ST_KEY_COUNT, &c, &st);
    return rc != META_OK ? rc : query_i64(st, out, NULL);
}

/* ---- intents ---- */

typedef struct intent_row {
    char org[META_ORG_MAX];
    int64_t reserved;     /* this intent's reservation */
    int64_t org_used;     /* the org's used_bytes */
    int64_t org_reserved; /* the org's reserved_bytes, this intent included */
} intent_row;

static int intent_get(sq_conn *c, const char *blob, intent_row *out)
{
    sqlite3_stmt *st;
    int rc = stmt(c, ST_INTENT_GET, &st);

    if (rc != META_OK)
        return rc;
    if (sqlite3_bind_text(st, 1, blob, -1, SQLITE_STATIC) != SQLITE_OK)
        return bind_err(c, st);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        col_copy(st, 0, out->org, sizeof out->org);
        out->reserved = sqlite3_column_int64(st, 1);
        out->org_used = sqlite3_column_int64(st, 2);
        out->org_reserved = sqlite3_column_int64(st, 3);
        rc = META_OK;
    } else {
        rc = rc == SQLITE_DONE ? META_E_NOTFOUND : err_rc(rc);
    }
    sqlite3_reset(st);
    return rc;
}

/* Runs a change statement taking a text ?1 and, if it has one, an integer ?2. */
static int text_stmt(sq_conn *c, int id, const char *text, int64_t arg2)
{
    sqlite3_stmt *st;
    int rc = stmt(c, id, &st);

    if (rc != META_OK)
        return rc;
    rc = sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK && sqlite3_bind_parameter_count(st) >= 2)
        rc = sqlite3_bind_int64(st, 2, arg2);
    if (rc != SQLITE_OK)
        return bind_err(c, st);
    return run(st);
}

static int intent_insert(
    sq_conn *c, const char *org, const char *blob, const char *owner, int64_t now)
{
    sqlite3_stmt *st;
    int rc = stmt(c, ST_INTENT_INSERT, &st);

    if (rc != META_OK)
        return rc;
    if ((sqlite3_bind_text(st, 1, blob, -1, SQLITE_STATIC) |
         sqlite3_bind_text(st, 2, org, -1, SQLITE_STATIC) | sqlite3_bind_int64(st, 3, now) |
         sqlite3_bind_text(st, 4, owner, -1, SQLITE_STATIC)) != SQLITE_OK)
        return bind_err(c, st);
    return run(st);
}

static int owner_ok(const char *owner)
{
    return meta_str_ok(owner, OWNER_MAX);
}

static int do_intent_open(
    meta_store *ms, const char *org, const char *blob, const char *owner, int64_t now)
{
    sq_conn *c;
    int rc;

    if (!meta_org_ok(org) || !blob_key_valid(blob) || !owner_ok(owner) || now < 0)
        return META_E_INVALID;
    rc = tx_open((sq_store *)ms, &c);
    if (rc != META_OK)
        return rc;
    rc = org_ensure(c, org);
    if (rc == META_OK)
        rc = intent_insert(c, org, blob, owner, now);
    return tx_end(c, rc);
}

static int do_intent_reserve(meta_store *ms, const char *blob, int64_t delta, int64_t org_max)
{
    sq_conn *c;
    intent_row ir;
    int rc;

    if (!blob_key_valid(blob) || delta <= 0 || org_max < 0)
        return META_E_INVALID;
    rc = tx_open((sq_store *)ms, &c);
    if (rc != META_OK)
        return rc;
    rc = intent_get(c, blob, &ir);
    if (rc == META_OK && !fits(ir.org_used, ir.org_reserved, delta, org_max))
        rc = META_E_QUOTA;
    if (rc == META_OK)
        rc = text_stmt(c, ST_INTENT_ADD, blob, delta);
    if (rc == META_OK)
        rc = org_add(c, ir.org, 0, delta);
    return tx_end(c, rc);
}

static int do_intent_drop(meta_store *ms, const char *blob)
{
    sq_conn *c;
    intent_row ir;
    int rc;

    if (!blob_key_valid(blob))
        return META_E_INVALID;
    rc = tx_open((sq_store *)ms, &c);
    if (rc != META_OK)
        return rc;
    rc = intent_get(c, blob, &ir);
    if (rc == META_OK)
        rc = text_stmt(c, ST_INTENT_DEL, blob, 0);
    if (rc == META_OK)
        rc = org_add(c, ir.org, 0, -ir.reserved);
    return tx_end(c, rc);
}

static int file_insert(sq_conn *c, const meta_file *f)
{
    sqlite3_stmt *st;
    int rc = stmt(c, ST_FILE_INSERT, &st);

    if (rc != META_OK)
        return rc;
    if ((sqlite3_bind_text(st, 1, f->id, -1, SQLITE_STATIC) |
         sqlite3_bind_text(st, 2, f->org, -1, SQLITE_STATIC) |
         sqlite3_bind_text(st, 3, f->purpose, -1, SQLITE_STATIC) |
         sqlite3_bind_text(st, 4, f->filename, -1, SQLITE_STATIC) |
         sqlite3_bind_int64(st, 5, f->bytes) | sqlite3_bind_int64(st, 6, f->created_at) |
         sqlite3_bind_int64(st, 7, f->expires_at) |
         sqlite3_bind_text(st, 8, f->blob, -1, SQLITE_STATIC)) != SQLITE_OK)
        return bind_err(c, st);
    return run(st);
}

static int do_file_commit(meta_store *ms, const meta_file *f, int64_t org_max)
{
    sq_conn *c;
    intent_row ir;
    int rc;

    if (!meta_file_ok(f) || org_max < 0)
        return META_E_INVALID;
    rc = tx_open((sq_store *)ms, &c);
    if (rc != META_OK)
        return rc;
    rc = intent_get(c, f->blob, &ir);
    if (rc == META_OK && strcmp(ir.org, f->org) != 0)
        rc = META_E_INVALID; /* the intent was opened for another organization */
    if (rc == META_OK && !fits(ir.org_used, ir.org_reserved - ir.reserved, f->bytes, org_max))
        rc = META_E_QUOTA;
    if (rc == META_OK)
        rc = file_insert(c, f);
    if (rc == META_OK)
        rc = text_stmt(c, ST_INTENT_DEL, f->blob, 0);
    if (rc == META_OK)
        rc = org_add(c, f->org, f->bytes, -ir.reserved);
    return tx_end(c, rc);
}

typedef struct key_vec {
    char (*v)[BLOB_KEY_LEN + 1];
    size_t n, cap;
} key_vec;

static int key_vec_push(key_vec *kv, const char *key)
{
    if (kv->n == kv->cap) {
        size_t cap = kv->cap ? kv->cap * 2 : 64;
        void *p = realloc(kv->v, cap * sizeof *kv->v);
        if (!p)
            return META_E_NOMEM;
        kv->v = p;
        kv->cap = cap;
    }
    (void)snprintf(kv->v[kv->n++], sizeof kv->v[0], "%s", key);
    return META_OK;
}

static int blob_tomb(sq_conn *c, const char *blob, int64_t at)
{
    return text_stmt(c, ST_BLOB_TOMB_INSERT, blob, at);
}

typedef struct dead_intent {
    char blob[BLOB_KEY_LEN + 1];
    char org[META_ORG_MAX];
    int64_t reserved;
} dead_intent;

typedef struct dead_vec {
    dead_intent *v;
    size_t n, cap;
} dead_vec;

static int dead_collect(sq_conn *c, const char *self, int64_t now, dead_vec *dv)
{
    sqlite3_stmt *st;
    int rc = stmt(c, ST_INTENT_DEAD, &st);

    if (rc != META_OK)
        return rc;
    if ((sqlite3_bind_text(st, 1, self, -1, SQLITE_STATIC) | sqlite3_bind_int64(st, 2, now)) !=
        SQLITE_OK)
        return bind_err(c, st);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (dv->n == dv->cap) {
            size_t cap = dv->cap ? 2 * dv->cap : 64;
            void *p = realloc(dv->v, cap * sizeof *dv->v);
            if (!p) {
                sqlite3_reset(st);
                return META_E_NOMEM;
            }
            dv->v = p;
            dv->cap = cap;
        }
        dead_intent *d = &dv->v[dv->n++];
        col_copy(st, 0, d->blob, sizeof d->blob);
        col_copy(st, 1, d->org, sizeof d->org);
        d->reserved = sqlite3_column_int64(st, 2);
    }
    sqlite3_reset(st);
    return map_rc(rc);
}

static int do_intents_reap(
    meta_store *ms, const char *self, int64_t now, meta_blob_cb cb, void *userdata)
{
    dead_vec dv = {NULL, 0, 0};
    sq_conn *c;
    int rc;

    if (!owner_ok(self) || now < 0)
        return META_E_INVALID;
    rc = tx_open((sq_store *)ms, &c);
    if (rc != META_OK)
        return rc;
    rc = dead_collect(c, self, now, &dv);
    for (size_t i = 0; rc == META_OK && i < dv.n; i++) {
        rc = text_stmt(c, ST_INTENT_DEL, dv.v[i].blob, 0);
        if (rc == META_OK && dv.v[i].reserved)
            rc = org_add(c, dv.v[i].org, 0, -dv.v[i].reserved);
        if (rc == META_OK)
            rc = blob_tomb(c, dv.v[i].blob, now);
    }
    rc = tx_end(c, rc);
    for (size_t i = 0; rc == META_OK && cb && i < dv.n; i++)
        if (cb(dv.v[i].blob, userdata) != 0)
            break;
    free(dv.v);
    return rc == META_OK ? (int)dv.n : rc;
}

/* ---- owners and leases ---- */

static int do_owner_renew(meta_store *ms, const char *owner, int64_t now, int64_t ttl)
{
    sq_conn *c;
    int rc;

    if (!owner_ok(owner) || now < 0 || ttl <= 0)
        return META_E_INVALID;
    rc = conn_get((sq_store *)ms, &c);
    return rc != META_OK ? rc : text_stmt(c, ST_OWNER_RENEW, owner, now + ttl);
}

static int do_owner_forget(meta_store *ms, const char *owner, const char *self)
{
    sq_conn *c;
    int rc;

    if (owner ? !owner_ok(owner) : !owner_ok(self))
        return META_E_INVALID;
    rc = conn_get((sq_store *)ms, &c);
    if (rc != META_OK)
        return rc;
    return owner ? text_stmt(c, ST_OWNER_FORGET, owner, 0)
                 : text_stmt(c, ST_OWNER_FORGET_OTHERS, self, 0);
}

static int do_lease_take(
    meta_store *ms, const char *name, const char *owner, int64_t now, int64_t ttl)
{
    sq_conn *c;
    sqlite3_stmt *st;
    int rc;

    if (!meta_str_ok(name, OWNER_MAX) || !owner_ok(owner) || now < 0 || ttl <= 0)
        return META_E_INVALID;
    rc = prep(ms, ST_LEASE_TAKE, &c, &st);
    if (rc != META_OK)
        return rc;
    if ((sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC) |
         sqlite3_bind_text(st, 2, owner, -1, SQLITE_STATIC) | sqlite3_bind_int64(st, 3, now + ttl) |
         sqlite3_bind_int64(st, 4, now)) != SQLITE_OK)
        return bind_err(c, st);
    rc = run(st);
    return rc != META_OK ? rc : sqlite3_changes(c->db) > 0;
}

/* ---- blob tombstones ---- */

static int do_blob_tombs_take(
    meta_store *ms, int64_t before, int limit, meta_blob_cb cb, void *userdata)
{
    key_vec kv = {NULL, 0, 0};
    sq_conn *c;
    sqlite3_stmt *st;
    int rc;

    if (!cb || limit < 1 || limit > EXPIRE_TAKE_MAX)
        return META_E_INVALID;
    rc = prep(ms, ST_BLOB_TOMBS, &c, &st);
    if (rc != META_OK)
        return rc;
    if ((sqlite3_bind_int64(st, 1, before) | sqlite3_bind_int(st, 2, limit)) != SQLITE_OK)
        return bind_err(c, st);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (key_vec_push(&kv, (const char *)sqlite3_column_text(st, 0)) != META_OK) {
            rc = SQLITE_NOMEM;
            break;
        }
    sqlite3_reset(st);
    rc = map_rc(rc);
    int n = 0;
    while (rc == META_OK && (size_t)n < kv.n && cb(kv.v[n++], userdata) == 0)
        ;
    free(kv.v);
    return rc == META_OK ? n : rc;
}

static int do_blob_tomb_done(meta_store *ms, const char *blob)
{
    sq_conn *c;
    int rc;

    if (!blob_key_valid(blob))
        return META_E_INVALID;
    rc = conn_get((sq_store *)ms, &c);
    return rc != META_OK ? rc : text_stmt(c, ST_BLOB_TOMB_DEL, blob, 0);
}

/* ---- files ---- */

static int file_fetch(sq_conn *c, const char *org, const char *id, int64_t now, meta_file *out)
{
    sqlite3_stmt *st;
    int rc = stmt(c, ST_FILE_GET, &st);

    if (rc != META_OK)
        return rc;
    if ((sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC) |
         sqlite3_bind_text(st, 2, org, -1, SQLITE_STATIC) | sqlite3_bind_int64(st, 3, now)) !=
        SQLITE_OK)
        return bind_err(c, st);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        row_file(st, out);
        rc = META_OK;
    } else {
        rc = rc == SQLITE_DONE ? META_E_NOTFOUND : err_rc(rc);
    }
    sqlite3_reset(st);
    return rc;
}

static int do_file_get(meta_store *ms, const char *org, const char *id, int64_t now, meta_file *out)
{
    sq_conn *c;
    int rc;

    if (!meta_org_ok(org) || !meta_str_ok(id, META_ID_MAX) || !out)
        return META_E_INVALID;
    rc = conn_get((sq_store *)ms, &c);
    return rc != META_OK ? rc : file_fetch(c, org, id, now, out);
}

/* Runs a position lookup (ST_FILE_CURSOR or ST_TOMB_CURSOR). NOTFOUND if it names nothing. */
static int position_try(sq_conn *c, int id, const char *org, const char *file, meta_pos *out)
{
    sqlite3_stmt *st;
    int rc = stmt(c, id, &st);

    if (rc != META_OK)
        return rc;
    if ((sqlite3_bind_text(st, 1, org, -1, SQLITE_STATIC) |
         sqlite3_bind_text(st, 2, file, -1, SQLITE_STATIC)) != SQLITE_OK)
        return bind_err(c, st);
    return query_i64(st, &out->created_at, &out->seq);
}

/* Expired files still have a place, and so do the tombstones of deleted (or swept) files, so
 * a client deleting what it pages through, or paging while a file expires, is not cut off. */
static int do_file_position(meta_store *ms, const char *org, const char *id, meta_pos *out)
{
    sq_conn *c;
    int rc;

    if (!meta_org_ok(org) || !meta_str_ok(id, META_ID_MAX) || !out)
        return META_E_INVALID;
    rc = conn_get((sq_store *)ms, &c);
    if (rc == META_OK)
        rc = position_try(c, ST_FILE_CURSOR, org, id, out);
    return rc == META_E_NOTFOUND ? position_try(c, ST_TOMB_CURSOR, org, id, out) : rc;
}

static int list_bind(sq_conn *c, const meta_list_req *req, sqlite3_stmt *st)
{
    int rc = SQLITE_OK;

    rc |= sqlite3_bind_text(st, 1, req->org, -1, SQLITE_STATIC);
    if (req->purpose)
        rc |= sqlite3_bind_text(st, 2, req->purpose, -1, SQLITE_STATIC);
    if (req->after) {
        rc |= sqlite3_bind_int64(st, 3, req->after->created_at);
        rc |= sqlite3_bind_int64(st, 4, req->after->seq);
    }
    rc |= sqlite3_bind_int64(st, 5, req->now);
    rc |= sqlite3_bind_int64(st, 6, (int64_t)req->limit + 1);
    return rc != SQLITE_OK ? bind_err(c, st) : META_OK;
}

static int do_file_list(
    meta_store *ms, const meta_list_req *req, meta_file_cb cb, void *userdata, int *has_more)
{
    sq_conn *c;
    sqlite3_stmt *st = NULL;
    meta_file f;
    int rc, n = 0;

    if (!req || !cb || !has_more || !meta_org_ok(req->org) || req->limit < 1 ||
        req->limit > LIST_LIMIT_MAX ||
        (req->purpose && !meta_str_ok(req->purpose, META_PURPOSE_MAX)))
        return META_E_INVALID;
    *has_more = 0;
    rc = prep(ms, ST_LIST + (req->desc ? 4 : 0) + (req->purpose ? 2 : 0) + (req->after ? 1 : 0), &c,
              &st);
    if (rc == META_OK)
        rc = list_bind(c, req, st);
    if (rc != META_OK)
        goto out;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n++ == req->limit) {
            *has_more = 1;
            break;
        }
        row_file(st, &f);
        rc = cb(&f, userdata);
        if (rc != 0)
            goto out;
    }
    rc = map_rc(rc);
out:
    sqlite3_reset(st);
    return rc;
}

static int do_file_delete(
    meta_store *ms, const char *org, const char *id, int64_t now, meta_file *out)
{
    sq_conn *c;
    meta_file f;
    int rc;

    if (!meta_org_ok(org) || !meta_str_ok(id, META_ID_MAX) || !out)
        return META_E_INVALID;
    rc = tx_open((sq_store *)ms, &c);
    if (rc != META_OK)
        return rc;
    rc = file_fetch(c, org, id, now, &f);
    if (rc == META_OK)
        rc = text_stmt(c, ST_TOMB_INSERT, id, now);
    if (rc == META_OK)
        rc = blob_tomb(c, f.blob, now);
    if (rc == META_OK)
        rc = text_stmt(c, ST_FILE_DEL, id, 0);
    if (rc == META_OK)
        rc = org_add(c, org, -f.bytes, 0);
    rc = tx_end(c, rc);
    if (rc == META_OK)
        *out = f;
    return rc;
}

static int expired_collect(sq_conn *c, int64_t now, int limit, meta_file *v, int *n)
{
    sqlite3_stmt *st;
    int rc = stmt(c, ST_FILE_EXPIRED, &st);

    if (rc != META_OK)
        return rc;
    if ((sqlite3_bind_int64(st, 1, now) | sqlite3_bind_int(st, 2, limit)) != SQLITE_OK)
        return bind_err(c, st);
    *n = 0;
    while (*n < limit && (rc = sqlite3_step(st)) == SQLITE_ROW)
        row_file(st, &v[(*n)++]);
    sqlite3_reset(st);
    return *n == limit ? META_OK : map_rc(rc);
}

/* The start of an expiry pass: checks the arguments, allocates room for limit rows of size
 * bytes into *v and opens a transaction. On an error nothing is left to free or close. */
static int take_open(
    meta_store *ms, int has_cb, int64_t now, int limit, size_t size, void **v, sq_conn **c)
{
    int rc;

    if (!has_cb || limit < 1 || limit > EXPIRE_TAKE_MAX || now < 0)
        return META_E_INVALID;
    *v = malloc((size_t)limit * size);
    if (!*v)
        return META_E_NOMEM;
    rc = tx_open((sq_store *)ms, c);
    if (rc != META_OK) {
        free(*v);
        *v = NULL;
    }
    return rc;
}

/* The callback's stop value only stops the notifications: the rows are already gone, and a
 * blob not removed by the caller stays as a blob tombstone for the garbage collector. */
static int do_expired_take(meta_store *ms, int64_t now, int limit, meta_file_cb cb, void *userdata)
{
    void *mem;
    meta_file *v;
    sq_conn *c;
    int n = 0, rc = take_open(ms, cb != NULL, now, limit, sizeof *v, &mem, &c);

    if (rc != META_OK)
        return rc;
    v = mem;
    rc = expired_collect(c, now, limit, v, &n);
    for (int i = 0; rc == META_OK && i < n; i++) {
        rc = text_stmt(c, ST_TOMB_INSERT, v[i].id, now);
        if (rc == META_OK)
            rc = blob_tomb(c, v[i].blob, now);
        if (rc == META_OK)
            rc = text_stmt(c, ST_FILE_DEL, v[i].id, 0);
        if (rc == META_OK)
            rc = org_add(c, v[i].org, -v[i].bytes, 0);
    }
    rc = tx_end(c, rc);
    for (int i = 0; rc == META_OK && i < n; i++) {
        if (cb(&v[i], userdata) != 0)
            break;
    }
    free(v);
    return rc == META_OK ? n : rc;
}

static int do_blob_referenced(meta_store *ms, const char *blob)
{
    sq_conn *c;
    sqlite3_stmt *st;
    int64_t yes = 0;
    int rc;

    if (!blob_key_valid(blob))
        return META_E_INVALID;
    rc = prep(ms, ST_BLOB_REF, &c, &st);
    if (rc != META_OK)
        return rc;
    if (sqlite3_bind_text(st, 1, blob, -1, SQLITE_STATIC) != SQLITE_OK)
        return bind_err(c, st);
    rc = query_i64(st, &yes, NULL);
    return rc != META_OK ? rc : yes != 0;
}

static int do_cursor_tombs_purge(meta_store *ms, int64_t before)
{
    sq_conn *c;
    sqlite3_stmt *st;
    int rc;

    rc = prep(ms, ST_TOMB_PURGE, &c, &st);
    if (rc != META_OK)
        return rc;
    if (sqlite3_bind_int64(st, 1, before) != SQLITE_OK)
        return bind_err(c, st);
    rc = run(st);
    return rc != META_OK ? rc : sqlite3_changes(c->db);
}

/* ---- uploads ---- */

static const char *const upload_status_names[] = {"pending", "completed", "cancelled", "expired"};

static meta_upload_status upload_status_of(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, upload_status_names[i]) == 0)
            return (meta_upload_status)i;
    return META_UPLOAD_EXPIRED; /* the CHECK constraint admits nothing else */
}

/* A row of UPLOAD_COLS. */
static void row_upload(sqlite3_stmt *st, meta_upload *out)
{
    char status[16];
    col_copy(st, 0, out->id, sizeof out->id);
    col_copy(st, 1, out->org, sizeof out->org);
    col_copy(st, 2, out->filename, sizeof out->filename);
    col_copy(st, 3, out->purpose, sizeof out->purpose);
    out->bytes = sqlite3_column_int64(st, 4);
    col_copy(st, 5, out->mime_type, sizeof out->mime_type);
    out->expires_after_seconds = sqlite3_column_int64(st, 6);
    out->created_at = sqlite3_column_int64(st, 7);
    out->expires_at = sqlite3_column_int64(st, 8);
    col_copy(st, 9, status, sizeof status);
    out->status = upload_status_of(status);
    col_copy(st, 10, out->file_id, sizeof out->file_id);
}

static int upload_fetch(sq_conn *c, const char *org, const char *id, meta_upload *out)
{
    sqlite3_stmt *st;
    int rc = stmt(c, ST_UPLOAD_GET, &st);

    if (rc != META_OK)
        return rc;
    if ((sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC) |
         sqlite3_bind_text(st, 2, org, -1, SQLITE_STATIC)) != SQLITE_OK)
        return bind_err(c, st);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        row_upload(st, out);
        rc = META_OK;
    } else {
        rc = rc == SQLITE_DONE ? META_E_NOTFOUND : err_rc(rc);
    }
    sqlite3_reset(st);
    return rc;
}

static int upload_set(sq_conn *c, const char *id, meta_upload_status status, const char *file_id)
{
    sqlite3_stmt *st;
    int rc = stmt(c, ST_UPLOAD_SET, &st);

    if (rc != META_OK)
        return rc;
    if ((sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC) |
         sqlite3_bind_text(st, 2, upload_status_names[status], -1, SQLITE_STATIC) |
         (file_id ? sqlite3_bind_text(st, 3, file_id, -1, SQLITE_STATIC)
                  : sqlite3_bind_null(st, 3))) != SQLITE_OK)
        return bind_err(c, st);
    return run(st);
}

/* The upload may still change: pending and not past its expiry at now. */
static int upload_open(const meta_upload *u, int64_t now)
{
    return u->status == META_UPLOAD_PENDING && u->expires_at > now;
}

/* Inside a transaction: collects the blobs of an upload's parts into kv, records them as blob
 * tombstones (at now), deletes the part rows and lowers org's usage by their bytes (returned
 * in *sum). */
static int parts_release(
    sq_conn *c, const char *upload_id, const char *org, int64_t now, key_vec *kv, int64_t *sum)
{
    sqlite3_stmt *st;
    size_t first = kv->n;
    int rc = stmt(c, ST_PART_BLOBS, &st);

    *sum = 0;
    if (rc != META_OK)
        return rc;
    if (sqlite3_bind_text(st, 1, upload_id, -1, SQLITE_STATIC) != SQLITE_OK)
        return bind_err(c, st);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        *sum += sqlite3_column_int64(st, 1);
        if (key_vec_push(kv, (const char *)sqlite3_column_text(st, 0)) != META_OK) {
            sqlite3_reset(st);
            return META_E_NOMEM;
        }
    }
    sqlite3_reset(st);
    rc = map_rc(rc);
    for (size_t i = first; rc == META_OK && i < kv->n; i++)
        rc = blob_tomb(c, kv->v[i], now);
    if (rc == META_OK)
        rc = text_stmt(c, ST_PART_DEL, upload_id, 0);
    if (rc == META_OK && *sum)
        rc = org_add(c, org, -*sum, 0);
    return rc;
}

/* After the commit: hand the released blobs to the caller. */
static void blobs_notify(key_vec *kv, meta_blob_cb cb, void *userdata)
{
    for (size_t i = 0; cb && i < kv->n; i++)
        if (cb(kv->v[i], userdata) != 0)
            break;
    free(kv->v);
    kv->v = NULL;
    kv->n = kv->cap = 0;
}

static int do_upload_create(meta_store *ms, const meta_upload *u)
{
    sq_conn *c;
    sqlite3_stmt *st;
    int rc;

    if (!meta_upload_ok(u))
        return META_E_INVALID;
    rc = tx_open((sq_store *)ms, &c);
    if (rc != META_OK)
        return rc;
    rc = org_ensure(c, u->org);
    if (rc == META_OK)
        rc = stmt(c, ST_UPLOAD_INSERT, &st);
    if (rc == META_OK) {
        if ((sqlite3_bind_text(st, 1, u->id, -1, SQLITE_STATIC) |
             sqlite3_bind_text(st, 2, u->org, -1, SQLITE_STATIC) |
             sqlite3_bind_text(st, 3, u->filename, -1, SQLITE_STATIC) |
             sqlite3_bind_text(st, 4, u->purpose, -1, SQLITE_STATIC) |
             sqlite3_bind_int64(st, 5, u->bytes) |
             sqlite3_bind_text(st, 6, u->mime_type, -1, SQLITE_STATIC) |
             sqlite3_bind_int64(st, 7, u->expires_after_seconds) |
             sqlite3_bind_int64(st, 8, u->created_at) | sqlite3_bind_int64(st, 9, u->expires_at)) !=
            SQLITE_OK)
            rc = bind_err(c, st);
        else
            rc = run(st);
    }
    return tx_end(c, rc);
}

static int do_upload_get(meta_store *ms, const char *org, const char *id, meta_upload *out)
{
    sq_conn *c;
    int rc;

    if (!meta_org_ok(org) || !meta_str_ok(id, META_ID_MAX) || !out)
        return META_E_INVALID;
    rc = conn_get((sq_store *)ms, &c);
    return rc != META_OK ? rc : upload_fetch(c, org, id, out);
}

static int do_upload_cancel(meta_store *ms,
                            const char *org,
                            const char *id,
                            int64_t now,
                            meta_upload *out,
                            meta_blob_cb cb,
                            void *userdata)
{
    key_vec kv = {NULL, 0, 0};
    sq_conn *c;
    int64_t sum = 0;
    int rc;

    if (!meta_org_ok(org) || !meta_str_ok(id, META_ID_MAX) || !out)
        return META_E_INVALID;
    rc = tx_open((sq_store *)ms, &c);
    if (rc != META_OK)
        return rc;
    rc = upload_fetch(c, org, id, out);
    if (rc == META_OK && !upload_open(out, now))
        rc = META_E_STATE;
    if (rc == META_OK)
        rc = parts_release(c, id, org, now, &kv, &sum);
    if (rc == META_OK)
        rc = upload_set(c, id, META_UPLOAD_CANCELLED, NULL);
    rc = tx_end(c, rc);
    if (rc == META_OK)
        out->status = META_UPLOAD_CANCELLED;
    else
        kv.n = 0; /* rolled back: the parts are still there */
    blobs_notify(&kv, cb, userdata);
    return rc;
}

static int part_insert(sq_conn *c, const meta_part *p)
{
    sqlite3_stmt *st;
    int rc = stmt(c, ST_PART_INSERT, &st);

    if (rc != META_OK)
        return rc;
    if ((sqlite3_bind_text(st, 1, p->id, -1, SQLITE_STATIC) |
         sqlite3_bind_text(st, 2, p->upload_id, -1, SQLITE_STATIC) |
         sqlite3_bind_text(st, 3, p->org, -1, SQLITE_STATIC) |
         sqlite3_bind_text(st, 4, p->blob, -1, SQLITE_STATIC) |
         sqlite3_bind_int64(st, 5, p->bytes) | sqlite3_bind_int64(st, 6, p->created_at)) !=
        SQLITE_OK)
        return bind_err(c, st);
    return run(st);
}

static int parts_sum(sq_conn *c, const char *upload_id, int64_t *count, int64_t *sum)
{
    sqlite3_stmt *st;
    int rc = stmt(c, ST_PART_SUM, &st);

    if (rc != META_OK)
        return rc;
    if (sqlite3_bind_text(st, 1, upload_id, -1, SQLITE_STATIC) != SQLITE_OK)
        return bind_err(c, st);
    return query_i64(st, count, sum);
}

static int do_part_commit(
    meta_store *ms, const meta_part *p, int64_t now, int64_t org_max, int64_t parts_max)
{
    sq_conn *c;
    intent_row ir;
    meta_upload u;
    int64_t n = 0, sum = 0;
    int rc;

    if (!meta_part_ok(p) || org_max < 0 || parts_max < 0)
        return META_E_INVALID;
    rc = tx_open((sq_store *)ms, &c);
    if (rc != META_OK)
        return rc;
    rc = upload_fetch(c, p->org, p->upload_id, &u);
    if (rc == META_OK && !upload_open(&u, now))
        rc = META_E_STATE;
    if (rc == META_OK)
        rc = parts_sum(c, p->upload_id, &n, &sum);
    if (rc == META_OK && p->bytes > parts_max - sum)
        rc = META_E_LIMIT;
    if (rc == META_OK)
        rc = intent_get(c, p->blob, &ir);
    if (rc == META_OK && strcmp(ir.org, p->org) != 0)
        rc = META_E_INVALID;
    if (rc == META_OK && !fits(ir.org_used, ir.org_reserved - ir.reserved, p->bytes, org_max))
        rc = META_E_QUOTA;
    if (rc == META_OK)
        rc = part_insert(c, p);
    if (rc == META_OK)
        rc = text_stmt(c, ST_INTENT_DEL, p->blob, 0);
    if (rc == META_OK)
        rc = org_add(c, p->org, p->bytes, -ir.reserved);
    return tx_end(c, rc);
}

static int do_upload_parts(
    meta_store *ms, const char *org, const char *upload_id, meta_part_cb cb, void *userdata)
{
    sq_conn *c;
    sqlite3_stmt *st;
    meta_part p;
    int rc;

    if (!meta_org_ok(org) || !meta_str_ok(upload_id, META_ID_MAX) || !cb)
        return META_E_INVALID;
    rc = prep(ms, ST_PART_LIST, &c, &st);
    if (rc != META_OK)
        return rc;
    if ((sqlite3_bind_text(st, 1, upload_id, -1, SQLITE_STATIC) |
         sqlite3_bind_text(st, 2, org, -1, SQLITE_STATIC)) != SQLITE_OK)
        return bind_err(c, st);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        col_copy(st, 0, p.id, sizeof p.id);
        col_copy(st, 1, p.upload_id, sizeof p.upload_id);
        col_copy(st, 2, p.org, sizeof p.org);
        col_copy(st, 3, p.blob, sizeof p.blob);
        p.bytes = sqlite3_column_int64(st, 4);
        p.created_at = sqlite3_column_int64(st, 5);
        int stop = cb(&p, userdata);
        if (stop != 0) {
            sqlite3_reset(st);
            return stop;
        }
    }
    sqlite3_reset(st);
    return map_rc(rc);
}

static int do_upload_complete(meta_store *ms,
                              const char *upload_id,
                              const meta_file *f,
                              int64_t now,
                              int64_t org_max,
                              meta_blob_cb cb,
                              void *userdata)
{
    key_vec kv = {NULL, 0, 0};
    sq_conn *c;
    intent_row ir;
    meta_upload u;
    int64_t sum = 0;
    int rc;

    if (!meta_file_ok(f) || !meta_str_ok(upload_id, META_ID_MAX) || org_max < 0)
        return META_E_INVALID;
    rc = tx_open((sq_store *)ms, &c);
    if (rc != META_OK)
        return rc;
    rc = upload_fetch(c, f->org, upload_id, &u);
    if (rc == META_OK && !upload_open(&u, now))
        rc = META_E_STATE;
    if (rc == META_OK)
        rc = intent_get(c, f->blob, &ir);
    if (rc == META_OK && strcmp(ir.org, f->org) != 0)
        rc = META_E_INVALID;
    if (rc == META_OK)
        rc = parts_release(c, upload_id, f->org, now, &kv, &sum);
    /* The parts' bytes leave usage as the file's come in; other reservations still count. */
    if (rc == META_OK && !fits(ir.org_used - sum, ir.org_reserved - ir.reserved, f->bytes, org_max))
        rc = META_E_QUOTA;
    if (rc == META_OK)
        rc = file_insert(c, f);
    if (rc == META_OK)
        rc = text_stmt(c, ST_INTENT_DEL, f->blob, 0);
    if (rc == META_OK)
        rc = org_add(c, f->org, f->bytes, -ir.reserved);
    if (rc == META_OK)
        rc = upload_set(c, upload_id, META_UPLOAD_COMPLETED, f->id);
    rc = tx_end(c, rc);
    if (rc != META_OK)
        kv.n = 0;
    blobs_notify(&kv, cb, userdata);
    return rc;
}

typedef struct upload_ref {
    char id[META_ID_MAX];
    char org[META_ORG_MAX];
} upload_ref;

static int expired_uploads_collect(sq_conn *c, int64_t now, int limit, upload_ref *v, int *n)
{
    sqlite3_stmt *st;
    int rc = stmt(c, ST_UPLOAD_EXPIRED, &st);

    *n = 0;
    if (rc != META_OK)
        return rc;
    if ((sqlite3_bind_int64(st, 1, now) | sqlite3_bind_int(st, 2, limit)) != SQLITE_OK)
        return bind_err(c, st);
    while (*n < limit && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        col_copy(st, 0, v[*n].id, sizeof v[0].id);
        col_copy(st, 1, v[*n].org, sizeof v[0].org);
        (*n)++;
    }
    sqlite3_reset(st);
    return *n == limit ? META_OK : map_rc(rc);
}

static int do_uploads_purge(meta_store *ms, int64_t before)
{
    sq_conn *c;
    sqlite3_stmt *st;
    int rc = prep(ms, ST_UPLOAD_PURGE, &c, &st);

    if (rc != META_OK)
        return rc;
    if (sqlite3_bind_int64(st, 1, before) != SQLITE_OK)
        return bind_err(c, st);
    rc = run(st);
    return rc != META_OK ? rc : sqlite3_changes(c->db);
}

static int do_upload_take_expired(
    meta_store *ms, int64_t now, int limit, meta_blob_cb cb, void *userdata)
{
    key_vec blobs = {NULL, 0, 0};
    void *mem;
    upload_ref *v;
    sq_conn *c;
    int n = 0, rc = take_open(ms, cb != NULL, now, limit, sizeof *v, &mem, &c);

    if (rc != META_OK)
        return rc;
    v = mem;
    rc = expired_uploads_collect(c, now, limit, v, &n);
    for (int i = 0; rc == META_OK && i < n; i++) {
        int64_t sum;
        rc = parts_release(c, v[i].id, v[i].org, now, &blobs, &sum);
        if (rc == META_OK)
            rc = upload_set(c, v[i].id, META_UPLOAD_EXPIRED, NULL);
    }
    rc = tx_end(c, rc);
    if (rc != META_OK)
        blobs.n = 0;
    blobs_notify(&blobs, cb, userdata);
    free(v);
    return rc == META_OK ? n : rc;
}

/* ---- accounting ---- */

/* An organization never seen has no usage: 0, 0. */
static int do_org_usage(meta_store *ms, const char *org, int64_t *used, int64_t *reserved)
{
    sq_conn *c;
    sqlite3_stmt *st;
    int rc;

    if (!meta_org_ok(org) || !used || !reserved)
        return META_E_INVALID;
    *used = *reserved = 0;
    rc = prep(ms, ST_ORG_USAGE, &c, &st);
    if (rc != META_OK)
        return rc;
    if (sqlite3_bind_text(st, 1, org, -1, SQLITE_STATIC) != SQLITE_OK)
        return bind_err(c, st);
    rc = query_i64(st, used, reserved);
    return rc == META_E_NOTFOUND ? META_OK : rc;
}

static int do_stats(meta_store *ms, meta_stats *out)
{
    sq_conn *c;
    sqlite3_stmt *st;
    int rc;

    if (!out)
        return META_E_INVALID;
    rc = prep(ms, ST_STATS, &c, &st);
    return rc != META_OK ? rc : query_i64(st, &out->files, &out->bytes);
}

/* One statement: both counts come from one snapshot. */
static int do_org_file_count(meta_store *ms, const char *org, int64_t now, int64_t *out)
{
    sq_conn *c;
    sqlite3_stmt *st;
    int rc;

    if (!meta_org_ok(org) || !out)
        return META_E_INVALID;
    *out = 0;
    rc = prep(ms, ST_ORG_FILES, &c, &st);
    if (rc != META_OK)
        return rc;
    if (sqlite3_bind_text(st, 1, org, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_int64(st, 2, now) != SQLITE_OK)
        return bind_err(c, st);
    return query_i64(st, out, NULL);
}

/* ---- lifecycle ---- */

static void sq_free(meta_store *ms)
{
    sq_store *s = (sq_store *)ms;

    if (!s)
        return;
    if (s->tls_ok) {
        /* After the key is deleted no thread-exit destructor runs for it any more. */
        pthread_setspecific(s->tls, NULL);
        pthread_key_delete(s->tls);
    }
    while (s->conns) {
        sq_conn *c = s->conns;
        s->conns = c->next;
        conn_close(c);
    }
    pthread_mutex_destroy(&s->lock);
    pthread_mutex_destroy(&s->wlock);
    free(s);
}

/* Creates the database file 0600 before SQLite does (whatever the umask), or tightens an
 * existing one. An existing file is never opened here: closing any descriptor of a file drops
 * the process's POSIX locks on it, which would break connections of another store. */
static int db_file_prepare(const char *path)
{
    struct stat st;
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);

    if (fd >= 0) {
        int rc = fchmod(fd, 0600);
        close(fd);
        return rc == 0 ? META_OK : META_E_IO;
    }
    if (errno != EEXIST || stat(path, &st) != 0)
        return META_E_IO;
    if ((st.st_mode & 0777) != 0600 && chmod(path, 0600) != 0)
        return META_E_IO;
    return META_OK;
}

/* SQLite creates -wal and -shm with the database file's mode; make sure of it anyway. */
static void side_files_chmod(const char *path)
{
    static const char *const sfx[] = {"-wal", "-shm"};
    char p[4096];
    struct stat st;

    for (size_t i = 0; i < 2; i++) {
        if (snprintf(p, sizeof p, "%s%s", path, sfx[i]) >= (int)sizeof p)
            continue;
        if (lstat(p, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0777) != 0600)
            chmod(p, 0600);
    }
}

static int user_version_cb(void *userdata, int n, char **vals, char **names)
{
    (void)names;
    *(int *)userdata = n == 1 && vals[0] ? atoi(vals[0]) : -1;
    return 0;
}

static int migrate(sq_conn *c)
{
    char sql[64];
    int v = -1, rc;

    rc = tx_begin(c);
    if (rc != META_OK)
        return rc;
    rc = map_rc(sqlite3_exec(c->db, "PRAGMA user_version", user_version_cb, &v, NULL));
    if (rc == META_OK && (v < 0 || v > SCHEMA_VERSION))
        rc = META_E_IO; /* written by a newer argotd: refuse rather than guess */
    for (int i = v; rc == META_OK && i < SCHEMA_VERSION; i++)
        rc = map_rc(sqlite3_exec(c->db, migrations[i], NULL, NULL, NULL));
    if (rc == META_OK && v < SCHEMA_VERSION) {
        (void)snprintf(sql, sizeof sql, "PRAGMA user_version=%d", SCHEMA_VERSION);
        rc = map_rc(sqlite3_exec(c->db, sql, NULL, NULL, NULL));
    }
    return tx_end(c, rc);
}

/* ---- the whole store (fsck, migrate) ---- */

static int fin(meta_store *ms, int rc, st_err *e, const char *what);

/* Steps st (bound), calling row(st, ud) per row until it stops; resets. Returns 0, a failure,
 * or the stop value; *n (if not NULL) gets how many rows were reported. */
static int rows_each(sqlite3_stmt *st, int (*row)(sqlite3_stmt *st, void *ud), void *ud, int *n)
{
    int rc, stop = 0, count = 0;
    while (stop == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        count++;
        stop = row(st, ud);
    }
    sqlite3_reset(st);
    if (n)
        *n = count;
    return stop != 0 ? stop : map_rc(rc);
}

typedef struct walk_cb {
    meta_file_cb file;
    meta_upload_cb upload;
    meta_intent_cb intent;
    meta_org_cb org;
    meta_owner_cb owner;
    void *ud;
} walk_cb;

static int owner_walk_row(sqlite3_stmt *st, void *ud)
{
    walk_cb *w = ud;
    char id[OWNER_MAX];
    col_copy(st, 0, id, sizeof id);
    return w->owner(id, sqlite3_column_int64(st, 1), w->ud);
}

static int file_walk_row(sqlite3_stmt *st, void *ud)
{
    walk_cb *w = ud;
    meta_file f;
    row_file(st, &f);
    return w->file(&f, w->ud);
}

static int do_file_walk(meta_store *ms, int64_t after, int limit, meta_file_cb cb, void *ud)
{
    sq_conn *c;
    sqlite3_stmt *st;
    walk_cb w = {.file = cb, .ud = ud};
    int n = 0, rc;

    if (!cb || limit < 1 || limit > LIST_LIMIT_MAX)
        return META_E_INVALID;
    rc = prep(ms, ST_FILE_WALK, &c, &st);
    if (rc != META_OK)
        return rc;
    if ((sqlite3_bind_int64(st, 1, after) | sqlite3_bind_int(st, 2, limit)) != SQLITE_OK)
        return bind_err(c, st);
    rc = rows_each(st, file_walk_row, &w, &n);
    return rc != META_OK ? rc : n;
}

static int upload_walk_row(sqlite3_stmt *st, void *ud)
{
    walk_cb *w = ud;
    meta_upload u;
    row_upload(st, &u);
    return w->upload(&u, w->ud);
}

static int do_upload_walk(meta_store *ms, const char *after, int limit, meta_upload_cb cb, void *ud)
{
    sq_conn *c;
    sqlite3_stmt *st;
    walk_cb w = {.upload = cb, .ud = ud};
    int n = 0, rc;

    if (!cb || !after || limit < 1 || limit > LIST_LIMIT_MAX)
        return META_E_INVALID;
    rc = prep(ms, ST_UPLOAD_WALK, &c, &st);
    if (rc != META_OK)
        return rc;
    if ((sqlite3_bind_text(st, 1, after, -1, SQLITE_STATIC) | sqlite3_bind_int(st, 2, limit)) !=
        SQLITE_OK)
        return bind_err(c, st);
    rc = rows_each(st, upload_walk_row, &w, &n);
    return rc != META_OK ? rc : n;
}

static int intent_walk_row(sqlite3_stmt *st, void *ud)
{
    walk_cb *w = ud;
    meta_intent i;
    col_copy(st, 0, i.blob, sizeof i.blob);
    col_copy(st, 1, i.org, sizeof i.org);
    col_copy(st, 2, i.owner, sizeof i.owner);
    i.reserved = sqlite3_column_int64(st, 3);
    i.created_at = sqlite3_column_int64(st, 4);
    return w->intent(&i, w->ud);
}

static int org_walk_row(sqlite3_stmt *st, void *ud)
{
    walk_cb *w = ud;
    meta_org o;
    col_copy(st, 0, o.id, sizeof o.id);
    o.used = sqlite3_column_int64(st, 1);
    o.reserved = sqlite3_column_int64(st, 2);
    return w->org(&o, w->ud);
}

static int do_walk_all(meta_store *ms, int id, int (*row)(sqlite3_stmt *, void *), walk_cb *w)
{
    sq_conn *c;
    sqlite3_stmt *st;
    int rc = prep(ms, id, &c, &st);
    return rc != META_OK ? rc : rows_each(st, row, w, NULL);
}

/* Deletes the row id with statement sid in a transaction of its own: NOTFOUND if none. */
static int do_row_drop(meta_store *ms, int sid, const char *id)
{
    sq_conn *c;
    int rc;

    if (!meta_str_ok(id, META_ID_MAX))
        return META_E_INVALID;
    rc = tx_open((sq_store *)ms, &c);
    if (rc != META_OK)
        return rc;
    rc = text_stmt(c, sid, id, 0);
    if (rc == META_OK && sqlite3_changes(c->db) == 0)
        rc = META_E_NOTFOUND;
    return tx_end(c, rc);
}

static int do_usage_recompute(meta_store *ms)
{
    sq_conn *c;
    int rc = tx_open((sq_store *)ms, &c);
    if (rc != META_OK)
        return rc;
    return tx_end(c, run_id(c, ST_USAGE_RECOMPUTE));
}

static int sq_file_walk(
    meta_store *ms, int64_t after, int limit, meta_file_cb cb, void *ud, st_err *e)
{
    return fin(ms, do_file_walk(ms, after, limit, cb, ud), e, "file walk");
}
static int sq_upload_walk(
    meta_store *ms, const char *after, int limit, meta_upload_cb cb, void *ud, st_err *e)
{
    return fin(ms, do_upload_walk(ms, after, limit, cb, ud), e, "upload walk");
}
static int sq_intent_walk(meta_store *ms, meta_intent_cb cb, void *ud, st_err *e)
{
    walk_cb w = {.intent = cb, .ud = ud};
    int rc = cb ? do_walk_all(ms, ST_INTENT_WALK, intent_walk_row, &w) : META_E_INVALID;
    return fin(ms, rc, e, "intent walk");
}
static int sq_org_walk(meta_store *ms, meta_org_cb cb, void *ud, st_err *e)
{
    walk_cb w = {.org = cb, .ud = ud};
    int rc = cb ? do_walk_all(ms, ST_ORG_WALK, org_walk_row, &w) : META_E_INVALID;
    return fin(ms, rc, e, "org walk");
}
static int sq_owner_walk(meta_store *ms, meta_owner_cb cb, void *ud, st_err *e)
{
    walk_cb w = {.owner = cb, .ud = ud};
    int rc = cb ? do_walk_all(ms, ST_OWNER_WALK, owner_walk_row, &w) : META_E_INVALID;
    return fin(ms, rc, e, "owner walk");
}
static int sq_file_drop(meta_store *ms, const char *id, st_err *e)
{
    return fin(ms, do_row_drop(ms, ST_FILE_DEL, id), e, "file drop");
}
static int sq_part_drop(meta_store *ms, const char *id, st_err *e)
{
    return fin(ms, do_row_drop(ms, ST_PART_DROP, id), e, "part drop");
}
static int sq_usage_recompute(meta_store *ms, st_err *e)
{
    return fin(ms, do_usage_recompute(ms), e, "usage recompute");
}

/* ---- the ops: each fills the error record of a failure ---- */

/* SQLite's own message and extended code when SQLite failed, else the code's name. Values >= 0
 * (counts, flags, a callback's stop value) pass through. */
static int fin(meta_store *ms, int rc, st_err *e, const char *what)
{
    if (rc >= 0 || !e || e->code != ST_OK)
        return rc;
    sq_conn *c = pthread_getspecific(((sq_store *)ms)->tls);
    int x = c ? sqlite3_extended_errcode(c->db) : SQLITE_OK;
    int from_sqlite = x != SQLITE_OK && x != SQLITE_ROW && x != SQLITE_DONE &&
                      rc != META_E_NOTFOUND && rc != META_E_QUOTA && rc != META_E_STATE &&
                      rc != META_E_LIMIT && rc != META_E_INVALID;
    if (from_sqlite)
        return st_fail(e, rc, B, x, "%s: %s", what, sqlite3_errmsg(c->db));
    return st_fail(e, rc, B, 0, "%s: %s", what, st_code_name(rc));
}

static int sq_key_lookup(meta_store *ms, const uint8_t h[32], char org[META_ORG_MAX], st_err *e)
{
    return fin(ms, do_key_lookup(ms, h, org), e, "key lookup");
}
static int sq_key_create(meta_store *ms, const meta_key *k, const uint8_t h[32], st_err *e)
{
    return fin(ms, do_key_create(ms, k, h), e, "key create");
}
static int sq_key_list(meta_store *ms, meta_key_cb cb, void *ud, st_err *e)
{
    return fin(ms, do_key_list(ms, cb, ud), e, "key list");
}
static int sq_key_revoke(meta_store *ms, const char *id, int64_t now, st_err *e)
{
    return fin(ms, do_key_revoke(ms, id, now), e, "key revoke");
}
static int sq_key_count_active(meta_store *ms, int64_t *out, st_err *e)
{
    return fin(ms, do_key_count_active(ms, out), e, "key count");
}
static int sq_owner_renew(meta_store *ms, const char *owner, int64_t now, int64_t ttl, st_err *e)
{
    return fin(ms, do_owner_renew(ms, owner, now, ttl), e, "owner renew");
}
static int sq_owner_forget(meta_store *ms, const char *owner, const char *self, st_err *e)
{
    return fin(ms, do_owner_forget(ms, owner, self), e, "owner forget");
}
static int sq_lease_take(
    meta_store *ms, const char *name, const char *owner, int64_t now, int64_t ttl, st_err *e)
{
    return fin(ms, do_lease_take(ms, name, owner, now, ttl), e, "lease take");
}
static int sq_intent_open(
    meta_store *ms, const char *org, const char *blob, const char *owner, int64_t now, st_err *e)
{
    return fin(ms, do_intent_open(ms, org, blob, owner, now), e, "intent open");
}
static int sq_intent_reserve(
    meta_store *ms, const char *blob, int64_t delta, int64_t org_max, st_err *e)
{
    return fin(ms, do_intent_reserve(ms, blob, delta, org_max), e, "intent reserve");
}
static int sq_intent_drop(meta_store *ms, const char *blob, st_err *e)
{
    return fin(ms, do_intent_drop(ms, blob), e, "intent drop");
}
static int sq_intents_reap(
    meta_store *ms, const char *self, int64_t now, meta_blob_cb cb, void *ud, st_err *e)
{
    return fin(ms, do_intents_reap(ms, self, now, cb, ud), e, "intents reap");
}
static int sq_file_commit(meta_store *ms, const meta_file *f, int64_t org_max, st_err *e)
{
    return fin(ms, do_file_commit(ms, f, org_max), e, "file commit");
}
static int sq_file_get(
    meta_store *ms, const char *org, const char *id, int64_t now, meta_file *out, st_err *e)
{
    return fin(ms, do_file_get(ms, org, id, now, out), e, "file get");
}
static int sq_file_position(
    meta_store *ms, const char *org, const char *id, meta_pos *out, st_err *e)
{
    return fin(ms, do_file_position(ms, org, id, out), e, "file position");
}
static int sq_file_list(
    meta_store *ms, const meta_list_req *req, meta_file_cb cb, void *ud, int *more, st_err *e)
{
    return fin(ms, do_file_list(ms, req, cb, ud, more), e, "file list");
}
static int sq_file_delete(
    meta_store *ms, const char *org, const char *id, int64_t now, meta_file *out, st_err *e)
{
    return fin(ms, do_file_delete(ms, org, id, now, out), e, "file delete");
}
static int sq_expired_take(
    meta_store *ms, int64_t now, int limit, meta_file_cb cb, void *ud, st_err *e)
{
    return fin(ms, do_expired_take(ms, now, limit, cb, ud), e, "expired take");
}
static int sq_blob_referenced(meta_store *ms, const char *blob, st_err *e)
{
    return fin(ms, do_blob_referenced(ms, blob), e, "blob referenced");
}
static int sq_cursor_tombs_purge(meta_store *ms, int64_t before, st_err *e)
{
    return fin(ms, do_cursor_tombs_purge(ms, before), e, "cursor tombstones purge");
}
static int sq_blob_tombs_take(
    meta_store *ms, int64_t before, int limit, meta_blob_cb cb, void *ud, st_err *e)
{
    return fin(ms, do_blob_tombs_take(ms, before, limit, cb, ud), e, "blob tombstones");
}
static int sq_blob_tomb_done(meta_store *ms, const char *blob, st_err *e)
{
    return fin(ms, do_blob_tomb_done(ms, blob), e, "blob tombstone done");
}
static int sq_upload_create(meta_store *ms, const meta_upload *u, st_err *e)
{
    return fin(ms, do_upload_create(ms, u), e, "upload create");
}
static int sq_upload_get(
    meta_store *ms, const char *org, const char *id, meta_upload *out, st_err *e)
{
    return fin(ms, do_upload_get(ms, org, id, out), e, "upload get");
}
static int sq_upload_cancel(meta_store *ms,
                            const char *org,
                            const char *id,
                            int64_t now,
                            meta_upload *out,
                            meta_blob_cb cb,
                            void *ud,
                            st_err *e)
{
    return fin(ms, do_upload_cancel(ms, org, id, now, out, cb, ud), e, "upload cancel");
}
static int sq_part_commit(
    meta_store *ms, const meta_part *p, int64_t now, int64_t org_max, int64_t parts_max, st_err *e)
{
    return fin(ms, do_part_commit(ms, p, now, org_max, parts_max), e, "part commit");
}
static int sq_upload_parts(
    meta_store *ms, const char *org, const char *upload_id, meta_part_cb cb, void *ud, st_err *e)
{
    return fin(ms, do_upload_parts(ms, org, upload_id, cb, ud), e, "upload parts");
}
static int sq_upload_complete(meta_store *ms,
                              const char *upload_id,
                              const meta_file *f,
                              int64_t now,
                              int64_t org_max,
                              meta_blob_cb cb,
                              void *ud,
                              st_err *e)
{
    return fin(ms, do_upload_complete(ms, upload_id, f, now, org_max, cb, ud), e,
               "upload complete");
}
static int sq_upload_take_expired(
    meta_store *ms, int64_t now, int limit, meta_blob_cb cb, void *ud, st_err *e)
{
    return fin(ms, do_upload_take_expired(ms, now, limit, cb, ud), e, "upload expiry");
}
static int sq_uploads_purge(meta_store *ms, int64_t before, st_err *e)
{
    return fin(ms, do_uploads_purge(ms, before), e, "uploads purge");
}
static int sq_org_usage(
    meta_store *ms, const char *org, int64_t *used, int64_t *reserved, st_err *e)
{
    return fin(ms, do_org_usage(ms, org, used, reserved), e, "org usage");
}
static int sq_stats(meta_store *ms, meta_stats *out, st_err *e)
{
    return fin(ms, do_stats(ms, out), e, "stats");
}
static int sq_org_file_count(meta_store *ms, const char *org, int64_t now, int64_t *out, st_err *e)
{
    return fin(ms, do_org_file_count(ms, org, now, out), e, "org file count");
}

static const meta_ops sq_ops = {
    .version = META_OPS_VERSION,
    .name = "sqlite",
    /* Several processes on one host may share the database (SQLite's locks); not over a
     * network file system. */
    .caps = META_CAP_FILE_COUNT | META_CAP_SHARED,
    .key_lookup = sq_key_lookup,
    .key_create = sq_key_create,
    .key_list = sq_key_list,
    .key_revoke = sq_key_revoke,
    .key_count_active = sq_key_count_active,
    .owner_renew = sq_owner_renew,
    .owner_forget = sq_owner_forget,
    .lease_take = sq_lease_take,
    .intent_open = sq_intent_open,
    .intent_reserve = sq_intent_reserve,
    .intent_drop = sq_intent_drop,
    .intents_reap = sq_intents_reap,
    .file_commit = sq_file_commit,
    .file_get = sq_file_get,
    .file_position = sq_file_position,
    .file_list = sq_file_list,
    .file_delete = sq_file_delete,
    .expired_take = sq_expired_take,
    .blob_referenced = sq_blob_referenced,
    .cursor_tombs_purge = sq_cursor_tombs_purge,
    .blob_tombs_take = sq_blob_tombs_take,
    .blob_tomb_done = sq_blob_tomb_done,
    .upload_create = sq_upload_create,
    .upload_get = sq_upload_get,
    .upload_cancel = sq_upload_cancel,
    .part_commit = sq_part_commit,
    .upload_parts = sq_upload_parts,
    .upload_complete = sq_upload_complete,
    .upload_take_expired = sq_upload_take_expired,
    .uploads_purge = sq_uploads_purge,
    .file_walk = sq_file_walk,
    .upload_walk = sq_upload_walk,
    .intent_walk = sq_intent_walk,
    .org_walk = sq_org_walk,
    .owner_walk = sq_owner_walk,
    .file_drop = sq_file_drop,
    .part_drop = sq_part_drop,
    .usage_recompute = sq_usage_recompute,
    .org_usage = sq_org_usage,
    .stats = sq_stats,
    .org_file_count = sq_org_file_count,
    .clock = NULL,
    .free = sq_free,
};

void meta_sqlite_set_busy_timeout(meta_store *ms, int ms_timeout)
{
    if (ms && ms->ops == &sq_ops && ms_timeout >= 0)
        atomic_store(&((sq_store *)ms)->busy_ms, ms_timeout);
}

static int open_store(meta_store **out, const char *path)
{
    sq_store *s = NULL;
    sq_conn *c;
    size_t len;
    int rc;

    if (out)
        *out = NULL;
    if (!out || !path || !*path)
        return META_E_INVALID;
    if (!sqlite3_threadsafe())
        return META_E_IO; /* one connection per thread needs SQLITE_THREADSAFE >= 1 */
    len = strlen(path);
    s = calloc(1, sizeof *s + len + 1);
    if (!s)
        return META_E_NOMEM;
    memcpy(s->path, path, len + 1);
    s->base.ops = &sq_ops;
    atomic_init(&s->busy_ms, BUSY_TIMEOUT_MS);
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->wlock, NULL);
    if (pthread_key_create(&s->tls, conn_dtor) != 0) {
        rc = META_E_NOMEM;
        goto out;
    }
    s->tls_ok = 1;
    rc = db_file_prepare(path);
    if (rc == META_OK)
        rc = conn_get(s, &c);
    if (rc == META_OK)
        rc = migrate(c);
    if (rc != META_OK)
        goto out;
    side_files_chmod(path);
    *out = &s->base;
    s = NULL;
out:
    sq_free(s ? &s->base : NULL);
    return rc;
}

int meta_sqlite_open(meta_store **out, const char *path, st_err *e)
{
    int rc = open_store(out, path);
    if (rc != META_OK)
        st_fail(e, rc, B, 0, "cannot open the SQLite database %s: %s", path ? path : "(null)",
                rc == META_E_IO ? "not a database of this or an older argotd, or unreadable"
                                : st_code_name(rc));
    return rc;
}
