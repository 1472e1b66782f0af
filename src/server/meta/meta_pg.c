/*
 * PostgreSQL metadata store (libpq): the store several argotd instances share.
 *
 * Connections. One connection per calling thread, opened on the thread's first call and
 * closed by the thread-exit destructor of a pthread key (or by meta_store_free for threads
 * still alive); no pooler is assumed. Statements are prepared on a connection the first time
 * it runs them. A connection found broken (the server went away, an administrator terminated
 * the session, a failover left it on a read-only server) fails the call that met it with
 * UNAVAILABLE, retryable, and the thread's next call connects again (re-preparing as it goes).
 * Each session gets lock_timeout=10s (libpq's options keyword, which the URL may override) and
 * a connect timeout of 10 s unless the URL sets one.
 *
 * Transactions. A change that checks and then writes runs in one transaction at the database's
 * default isolation (READ COMMITTED unless an operator changed it) and locks what it checks:
 * the upload row (FOR UPDATE) before its parts are summed or it changes state, the intent
 * (deleted or updated first, so a concurrent commit, drop or reaper waits or finds it gone),
 * and the organization row through one conditional UPDATE (used + reserved + delta <= max),
 * which PostgreSQL re-evaluates on the row's newest version after waiting for another writer.
 * So every rule holds exactly across threads, processes and instances. Locks are taken in one
 * order (upload, intent, parts, organizations in id order), so callers queue rather than
 * deadlock. At stricter isolation levels the results stay exact and conflicts surface as
 * serialization failures. Batch changes (expiry, reaping) claim their rows with FOR UPDATE
 * SKIP LOCKED: two instances running them at once take disjoint rows.
 *
 * Times. Every op takes now from its caller and no op reads a clock. META_CAP_CLOCK is how
 * instances with skewed clocks agree: ops->clock reads the database's clock (now() of its own
 * statement), and a frontend that takes now from it (or from its own clock corrected by the
 * offset it measured) judges the expiry of files, uploads, owners and leases, and stamps
 * created_at, by the one clock every instance shares. Tests pass any now they like.
 *
 * Errors. A database error fills the record with its SQLSTATE (packed into e->sys, see
 * meta_pg_sqlstate(), and written in the message) and PostgreSQL's primary message:
 * 40001/40P01 (serialization failure, deadlock) and 55P03 (lock_timeout) are BUSY, 23505 is
 * CONFLICT, 53100 is NOSPC, class 08 and 57P01-57P03 (and a connection that libpq reports
 * broken, recorded as 08006) are UNAVAILABLE; BUSY and UNAVAILABLE are retryable. Messages
 * never carry the URL's password: each one is scrubbed of it before it is recorded.
 */
#include "server/meta/meta_pg.h"
#include "server/meta/meta_check.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BACKEND         "postgres"
#define LIST_LIMIT_MAX  10000
#define TAKE_LIMIT_MAX  10000 /* expired_take, upload_take_expired, blob_tombs_take */
#define SESSION_OPTIONS "-c lock_timeout=10s"
#define CONNECT_TIMEOUT "10"
#define MIN_SERVER      110000 /* hashtextextended, identity columns */
#define SECRETS_MAX     3
#define PARAMS_MAX      10

/* ---- schema ---- */

/* Migration i brings the schema from version i to i + 1. Never edit a shipped entry; append.
 * Text keys use the "C" collation: byte order, whatever the database's locale. */
#define TXT "text COLLATE \"C\""
static const char *const migrations[] = {
    "CREATE TABLE orgs("
    " id " TXT " PRIMARY KEY,"
    " used_bytes bigint NOT NULL DEFAULT 0 CHECK (used_bytes >= 0),"
    " reserved_bytes bigint NOT NULL DEFAULT 0 CHECK (reserved_bytes >= 0));"
    "CREATE TABLE api_keys("
    " id " TXT " PRIMARY KEY,"
    " hash bytea NOT NULL UNIQUE CHECK (length(hash) = 32),"
    " org " TXT " NOT NULL REFERENCES orgs(id),"
    " name text NOT NULL,"
    " created_at bigint NOT NULL,"
    " revoked_at bigint NOT NULL DEFAULT 0);" /* 0: active */
    /* seq comes from a sequence: a new file's place is after every place ever handed out,
     * so also after every cursor tombstone's. */
    "CREATE TABLE files("
    " id " TXT " PRIMARY KEY,"
    " seq bigint GENERATED ALWAYS AS IDENTITY,"
    " org " TXT " NOT NULL REFERENCES orgs(id),"
    " purpose " TXT " NOT NULL,"
    " filename text NOT NULL,"
    " bytes bigint NOT NULL CHECK (bytes >= 0),"
    " created_at bigint NOT NULL,"
    " expires_at bigint NOT NULL DEFAULT 0," /* 0: never */
    " blob " TXT " NOT NULL UNIQUE);"
    "CREATE INDEX files_org_created ON files(org, created_at, seq);"
    "CREATE INDEX files_org_purpose_created ON files(org, purpose, created_at, seq);"
    "CREATE INDEX files_expires ON files(expires_at) WHERE expires_at > 0;"
    "CREATE TABLE owners(id " TXT " PRIMARY KEY, expires_at bigint NOT NULL);"
    "CREATE TABLE leases(name " TXT " PRIMARY KEY, owner " TXT " NOT NULL,"
    " expires_at bigint NOT NULL);"
    "CREATE TABLE intents("
    " blob " TXT " PRIMARY KEY,"
    " org " TXT " NOT NULL REFERENCES orgs(id),"
    " reserved bigint NOT NULL DEFAULT 0 CHECK (reserved >= 0),"
    " owner " TXT " NOT NULL,"
    " created_at bigint NOT NULL);"
    "CREATE INDEX intents_owner ON intents(owner);"
    "CREATE TABLE cursor_tombs("
    " id " TXT " PRIMARY KEY,"
    " org " TXT " NOT NULL,"
    " created_at bigint NOT NULL,"
    " seq bigint NOT NULL,"
    " deleted_at bigint NOT NULL);"
    "CREATE INDEX cursor_tombs_deleted ON cursor_tombs(deleted_at);"
    "CREATE TABLE blob_tombs(blob " TXT " PRIMARY KEY, recorded_at bigint NOT NULL);"
    "CREATE INDEX blob_tombs_recorded ON blob_tombs(recorded_at, blob);"
    "CREATE TABLE uploads("
    " id " TXT " PRIMARY KEY,"
    " org " TXT " NOT NULL REFERENCES orgs(id),"
    " filename text NOT NULL,"
    " purpose " TXT " NOT NULL,"
    " mime_type text NOT NULL,"
    " bytes bigint NOT NULL CHECK (bytes >= 0),"
    " expires_after_seconds bigint NOT NULL DEFAULT 0," /* 0: not given */
    " created_at bigint NOT NULL,"
    " expires_at bigint NOT NULL,"
    " status smallint NOT NULL CHECK (status BETWEEN 0 AND 3)," /* meta_upload_status */
    " file_id " TXT " NOT NULL DEFAULT '');"
    "CREATE INDEX uploads_pending ON uploads(expires_at) WHERE status = 0;"
    "CREATE INDEX uploads_done ON uploads(expires_at) WHERE status <> 0;"
    "CREATE TABLE parts("
    " id " TXT " PRIMARY KEY,"
    " seq bigint GENERATED ALWAYS AS IDENTITY,"
    " upload_id " TXT " NOT NULL REFERENCES uploads(id),"
    " org " TXT " NOT NULL REFERENCES orgs(id),"
    " blob " TXT " NOT NULL UNIQUE,"
    " bytes bigint NOT NULL CHECK (bytes >= 0),"
    " created_at bigint NOT NULL);"
    "CREATE INDEX parts_upload ON parts(upload_id, created_at, seq);",
};
#define SCHEMA_VERSION ((int)(sizeof migrations / sizeof migrations[0]))

/* Every instance takes this lock before it looks at the schema, so exactly one migrates. */
#define MIGRATION_LOCK "SELECT pg_advisory_xact_lock(hashtextextended('argot-schema', 0))"
#define VERSION_TABLE                                                                              \
    "CREATE TABLE IF NOT EXISTS schema_version(version int PRIMARY KEY,"                           \
    " applied_at timestamptz NOT NULL DEFAULT now())"

/* ---- statements ---- */

#define FILE_COLS "id, org, purpose, filename, bytes, created_at, expires_at, blob, seq"
#define UPLOAD_COLS                                                                                \
    "id, org, filename, purpose, mime_type, bytes, expires_after_seconds, created_at,"             \
    " expires_at, status, file_id"
#define ORG_ENSURE(ph) "WITH o AS (INSERT INTO orgs(id) VALUES (" ph ") ON CONFLICT DO NOTHING) "
#define VISIBLE(ph)    " AND (expires_at = 0 OR expires_at > " ph "::bigint)"
/* Records the blobs of the rows of CTE d as blob tombstones. */
#define BLOB_TOMBS(now)                                                                            \
    ", t AS (INSERT INTO blob_tombs(blob, recorded_at) SELECT blob, " now "::bigint FROM d"        \
    " ON CONFLICT (blob) DO NOTHING)"
/* Leaves the cursor tombstones of the file rows of CTE d. */
#define CURSOR_TOMBS(now)                                                                          \
    ", c2 AS (INSERT INTO cursor_tombs(id, org, created_at, seq, deleted_at)"                      \
    " SELECT id, org, created_at, seq, " now "::bigint FROM d ON CONFLICT (id) DO UPDATE"          \
    " SET org = excluded.org, created_at = excluded.created_at, seq = excluded.seq,"               \
    " deleted_at = excluded.deleted_at)"

/* List variants: index = desc * 4 + has_purpose * 2 + has_cursor. Parameters in order: org,
 * [purpose], [cursor created_at, cursor seq], now, limit + 1. */
#define LIST_SQL(purpose, cursor, dir, now, lim)                                                   \
    "SELECT " FILE_COLS " FROM files WHERE org = $1" purpose cursor VISIBLE(                       \
        now) " ORDER BY created_at " dir ", seq " dir " LIMIT " lim "::bigint"
#define L_P           " AND purpose = $2"
#define L_GT(at, seq) " AND (created_at, seq) > (" at "::bigint, " seq "::bigint)"
#define L_LT(at, seq) " AND (created_at, seq) < (" at "::bigint, " seq "::bigint)"

enum {
    S_KEY_LOOKUP,
    S_KEY_CREATE,
    S_KEY_LIST,
    S_KEY_REVOKE,
    S_KEY_COUNT,
    S_OWNER_RENEW,
    S_OWNER_FORGET,
    S_OWNER_FORGET_OTHERS,
    S_LEASE_TAKE,
    S_INTENT_OPEN,
    S_INTENT_LOCK,
    S_INTENT_ADD,
    S_INTENT_TAKE,
    S_INTENT_DROP,
    S_INTENTS_REAP,
    S_ORG_ADD_IF,
    S_ORG_ADD,
    S_ORGS_LOCK,
    S_ORGS_ADD,
    S_ORG_USAGE,
    S_ORG_FILES,
    S_FILE_INSERT,
    S_FILE_GET,
    S_FILE_POSITION,
    S_FILE_DELETE,
    S_FILES_EXPIRE,
    S_BLOB_REF,
    S_CURSOR_PURGE,
    S_BLOB_TOMBS,
    S_BLOB_TOMB_DONE,
    S_UPLOAD_CREATE,
    S_UPLOAD_GET,
    S_UPLOAD_LOCK,
    S_UPLOAD_SET,
    S_UPLOADS_EXPIRE,
    S_UPLOADS_PURGE,
    S_PART_SUM,
    S_PART_INSERT,
    S_PART_LIST,
    S_PARTS_TAKE,
    S_STATS,
    S_CLOCK,
    S_FILE_WALK,
    S_UPLOAD_WALK,
    S_INTENT_WALK,
    S_ORG_WALK,
    S_OWNER_WALK,
    S_FILE_DROP,
    S_PART_DROP,
    S_USAGE_RECOMPUTE,
    S_LIST, /* 8 variants follow */
    S_COUNT = S_LIST + 8,
};

typedef struct stmt_def {
    const char *name; /* for error messages */
    const char *sql;
} stmt_def;

/* clang-format off */
static const stmt_def stmts[S_COUNT] = {
    [S_KEY_LOOKUP] = {"key_lookup",
        "SELECT org, encode(hash, 'hex') FROM api_keys"
        " WHERE hash = decode($1, 'hex') AND revoked_at = 0"},
    [S_KEY_CREATE] = {"key_create",
        ORG_ENSURE("$3")
        "INSERT INTO api_keys(id, hash, org, name, created_at, revoked_at)"
        " VALUES ($1, decode($2, 'hex'), $3, $4, $5::bigint, $6::bigint)"},
    [S_KEY_LIST] = {"key_list",
        "SELECT id, org, name, created_at, revoked_at, encode(hash, 'hex') FROM api_keys"
        " ORDER BY created_at, id"},
    [S_KEY_REVOKE] = {"key_revoke",
        "UPDATE api_keys SET revoked_at = $2::bigint WHERE id = $1 AND revoked_at = 0"},
    [S_KEY_COUNT] = {"key_count_active",
        "SELECT count(*) FROM api_keys WHERE revoked_at = 0"},
    [S_OWNER_RENEW] = {"owner_renew",
        "INSERT INTO owners(id, expires_at) VALUES ($1, $2::bigint)"
        " ON CONFLICT (id) DO UPDATE SET expires_at ="
        " greatest(owners.expires_at, excluded.expires_at)"},
    [S_OWNER_FORGET] = {"owner_forget",
        "DELETE FROM owners WHERE id = $1"},
    [S_OWNER_FORGET_OTHERS] = {"owner_forget",
        "DELETE FROM owners WHERE id <> $1"},
    /* Taken if free, expired, already ours, or held by an owner that is not alive (forgotten,
     * or its own lease ran out); concurrent takers of a free lease queue on its key and all but
     * the first find it held. */
    [S_LEASE_TAKE] = {"lease_take",
        "INSERT INTO leases AS l(name, owner, expires_at) VALUES ($1, $2, $3::bigint)"
        " ON CONFLICT (name) DO UPDATE SET owner = excluded.owner,"
        " expires_at = excluded.expires_at"
        " WHERE l.expires_at <= $4::bigint OR l.owner = excluded.owner"
        " OR NOT EXISTS (SELECT 1 FROM owners o WHERE o.id = l.owner"
        "                AND o.expires_at > $4::bigint)"
        " RETURNING 1"},
    [S_INTENT_OPEN] = {"intent_open",
        ORG_ENSURE("$2")
        "INSERT INTO intents(blob, org, reserved, owner, created_at)"
        " VALUES ($1, $2, 0, $3, $4::bigint)"},
    [S_INTENT_LOCK] = {"intent_reserve",
        "SELECT org FROM intents WHERE blob = $1 FOR UPDATE"},
    [S_INTENT_ADD] = {"intent_reserve",
        "UPDATE intents SET reserved = reserved + $2::bigint WHERE blob = $1"},
    [S_INTENT_TAKE] = {"intent_take",
        "DELETE FROM intents WHERE blob = $1 RETURNING org, reserved"},
    [S_INTENT_DROP] = {"intent_drop",
        "WITH d AS (DELETE FROM intents WHERE blob = $1 RETURNING org, reserved),"
        " u AS (UPDATE orgs SET reserved_bytes = orgs.reserved_bytes - d.reserved"
        "       FROM d WHERE orgs.id = d.org AND d.reserved <> 0)"
        " SELECT count(*) FROM d"},
    [S_INTENTS_REAP] = {"intents_reap",
        "WITH c AS (SELECT blob FROM intents i WHERE i.owner <> $1 AND NOT EXISTS"
        "           (SELECT 1 FROM owners o WHERE o.id = i.owner AND o.expires_at > $2::bigint)"
        "           FOR UPDATE OF i SKIP LOCKED),"
        " d AS (DELETE FROM intents i USING c WHERE i.blob = c.blob"
        "       RETURNING i.blob, i.org, i.reserved)"
        BLOB_TOMBS("$2")
        " SELECT blob, org, reserved FROM d"},
    /* The one conditional update of a quota step: numeric, so no sum can overflow. */
    [S_ORG_ADD_IF] = {"org_usage_add",
        "UPDATE orgs SET used_bytes = used_bytes + $2::bigint,"
        " reserved_bytes = reserved_bytes + $3::bigint"
        " WHERE id = $1"
        " AND used_bytes::numeric + reserved_bytes + $2::bigint + $3::bigint <= $4::bigint"
        " RETURNING 1"},
    [S_ORG_ADD] = {"org_usage_add",
        "UPDATE orgs SET used_bytes = used_bytes + $2::bigint,"
        " reserved_bytes = reserved_bytes + $3::bigint WHERE id = $1"},
    [S_ORGS_LOCK] = {"orgs_lock",
        "SELECT 1 FROM orgs WHERE id = ANY($1::text[]) ORDER BY id FOR NO KEY UPDATE"},
    [S_ORGS_ADD] = {"orgs_usage_add",
        "UPDATE orgs o SET used_bytes = o.used_bytes + u.du,"
        " reserved_bytes = o.reserved_bytes + u.dr"
        " FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS u(id, du, dr)"
        " WHERE o.id = u.id"},
    [S_ORG_USAGE] = {"org_usage",
        "SELECT used_bytes, reserved_bytes FROM orgs WHERE id = $1"},
    [S_ORG_FILES] = {"org_file_count",
        "SELECT count(*) FROM files WHERE org = $1" VISIBLE("$2")},
    [S_FILE_INSERT] = {"file_insert",
        "INSERT INTO files(id, org, purpose, filename, bytes, created_at, expires_at, blob)"
        " VALUES ($1, $2, $3, $4, $5::bigint, $6::bigint, $7::bigint, $8)"},
    [S_FILE_GET] = {"file_get",
        "SELECT " FILE_COLS " FROM files WHERE id = $1 AND org = $2" VISIBLE("$3")},
    [S_FILE_POSITION] = {"file_position",
        "SELECT created_at, seq FROM ("
        " SELECT 0 AS k, created_at, seq FROM files WHERE id = $2 AND org = $1"
        " UNION ALL"
        " SELECT 1, created_at, seq FROM cursor_tombs WHERE id = $2 AND org = $1"
        ") p ORDER BY k LIMIT 1"},
    /* One statement, so one transaction. */
    [S_FILE_DELETE] = {"file_delete",
        "WITH d AS (DELETE FROM files WHERE id = $1 AND org = $2" VISIBLE("$3")
        "           RETURNING " FILE_COLS ")"
        CURSOR_TOMBS("$3")
        BLOB_TOMBS("$3")
        ", u AS (UPDATE orgs SET used_bytes = orgs.used_bytes - d.bytes"
        "        FROM d WHERE orgs.id = d.org)"
        " SELECT " FILE_COLS " FROM d"},
    [S_FILES_EXPIRE] = {"expired_take",
        "WITH c AS (SELECT id FROM files WHERE expires_at > 0 AND expires_at <= $1::bigint"
        "           ORDER BY expires_at, seq LIMIT $2::bigint FOR UPDATE SKIP LOCKED),"
        " d AS (DELETE FROM files f USING c WHERE f.id = c.id"
        "       RETURNING f.id, f.org, f.purpose, f.filename, f.bytes, f.created_at,"
        "       f.expires_at, f.blob, f.seq)"
        CURSOR_TOMBS("$1")
        BLOB_TOMBS("$1")
        " SELECT " FILE_COLS " FROM d ORDER BY expires_at, seq"},
    [S_BLOB_REF] = {"blob_referenced",
        "SELECT EXISTS (SELECT 1 FROM files WHERE blob = $1)"
        " OR EXISTS (SELECT 1 FROM parts WHERE blob = $1)"
        " OR EXISTS (SELECT 1 FROM intents WHERE blob = $1)"},
    [S_CURSOR_PURGE] = {"cursor_tombs_purge",
        "DELETE FROM cursor_tombs WHERE deleted_at <= $1::bigint"},
    [S_BLOB_TOMBS] = {"blob_tombs_take",
        "SELECT blob FROM blob_tombs WHERE recorded_at <= $1::bigint"
        " ORDER BY recorded_at, blob LIMIT $2::bigint"},
    [S_BLOB_TOMB_DONE] = {"blob_tomb_done",
        "DELETE FROM blob_tombs WHERE blob = $1"},
    [S_UPLOAD_CREATE] = {"upload_create",
        ORG_ENSURE("$2")
        "INSERT INTO uploads(" UPLOAD_COLS ") VALUES ($1, $2, $3, $4, $5, $6::bigint,"
        " $7::bigint, $8::bigint, $9::bigint, 0, '')"},
    [S_UPLOAD_GET] = {"upload_get",
        "SELECT " UPLOAD_COLS " FROM uploads WHERE id = $1 AND org = $2"},
    [S_UPLOAD_LOCK] = {"upload_lock",
        "SELECT " UPLOAD_COLS " FROM uploads WHERE id = $1 AND org = $2 FOR UPDATE"},
    [S_UPLOAD_SET] = {"upload_set",
        "UPDATE uploads SET status = $2::smallint, file_id = $3 WHERE id = $1"},
    [S_UPLOADS_EXPIRE] = {"upload_take_expired",
        "WITH c AS (SELECT id FROM uploads WHERE status = 0 AND expires_at <= $1::bigint"
        "           ORDER BY expires_at, id LIMIT $2::bigint FOR UPDATE SKIP LOCKED)"
        " UPDATE uploads u SET status = 3 FROM c WHERE u.id = c.id RETURNING u.id"},
    [S_UPLOADS_PURGE] = {"uploads_purge",
        "DELETE FROM uploads WHERE status <> 0 AND expires_at <= $1::bigint"},
    [S_PART_SUM] = {"part_sum",
        "SELECT coalesce(sum(bytes), 0)::bigint FROM parts WHERE upload_id = $1"},
    [S_PART_INSERT] = {"part_insert",
        "INSERT INTO parts(id, upload_id, org, blob, bytes, created_at)"
        " VALUES ($1, $2, $3, $4, $5::bigint, $6::bigint)"},
    [S_PART_LIST] = {"upload_parts",
        "SELECT id, upload_id, org, blob, bytes, created_at FROM parts"
        " WHERE upload_id = $1 AND org = $2 ORDER BY created_at, seq"},
    /* The parts of the uploads $1, gone, their blobs recorded as blob tombstones at $2. */
    [S_PARTS_TAKE] = {"parts_take",
        "WITH d AS (DELETE FROM parts WHERE upload_id = ANY($1::text[])"
        "           RETURNING org, blob, bytes)"
        BLOB_TOMBS("$2")
        " SELECT org, blob, bytes FROM d"},
    [S_STATS] = {"stats",
        "SELECT count(*), coalesce(sum(bytes), 0)::bigint FROM files"},
    [S_CLOCK] = {"clock",
        "SELECT floor(extract(epoch FROM now()))::bigint"},
    [S_FILE_WALK] = {"file_walk",
        "SELECT " FILE_COLS " FROM files WHERE seq > $1::bigint ORDER BY seq LIMIT $2::bigint"},
    [S_UPLOAD_WALK] = {"upload_walk",
        "SELECT " UPLOAD_COLS " FROM uploads WHERE id > $1 ORDER BY id LIMIT $2::bigint"},
    [S_INTENT_WALK] = {"intent_walk",
        "SELECT blob, org, owner, reserved, created_at FROM intents ORDER BY blob"},
    [S_ORG_WALK] = {"org_walk",
        "SELECT id, used_bytes, reserved_bytes FROM orgs ORDER BY id"},
    [S_OWNER_WALK] = {"owner_walk",
        "SELECT id, expires_at FROM owners ORDER BY id"},
    [S_FILE_DROP] = {"file_drop",
        "DELETE FROM files WHERE id = $1"},
    [S_PART_DROP] = {"part_drop",
        "DELETE FROM parts WHERE id = $1"},
    /* One statement, so one transaction. */
    [S_USAGE_RECOMPUTE] = {"usage_recompute",
        "UPDATE orgs o SET"
        " used_bytes = (SELECT coalesce(sum(bytes), 0) FROM files f WHERE f.org = o.id)"
        " + (SELECT coalesce(sum(bytes), 0) FROM parts p WHERE p.org = o.id),"
        " reserved_bytes = (SELECT coalesce(sum(reserved), 0) FROM intents i"
        " WHERE i.org = o.id)"},
    [S_LIST + 0] = {"file_list", LIST_SQL("",  "",                "ASC",  "$2", "$3")},
    [S_LIST + 1] = {"file_list", LIST_SQL("",  L_GT("$2", "$3"), "ASC",  "$4", "$5")},
    [S_LIST + 2] = {"file_list", LIST_SQL(L_P, "",                "ASC",  "$3", "$4")},
    [S_LIST + 3] = {"file_list", LIST_SQL(L_P, L_GT("$3", "$4"), "ASC",  "$5", "$6")},
    [S_LIST + 4] = {"file_list", LIST_SQL("",  "",                "DESC", "$2", "$3")},
    [S_LIST + 5] = {"file_list", LIST_SQL("",  L_LT("$2", "$3"), "DESC", "$4", "$5")},
    [S_LIST + 6] = {"file_list", LIST_SQL(L_P, "",                "DESC", "$3", "$4")},
    [S_LIST + 7] = {"file_list", LIST_SQL(L_P, L_LT("$3", "$4"), "DESC", "$5", "$6")},
};
/* clang-format on */

/* ---- store, connections, errors ---- */

typedef struct pg_store pg_store;

typedef struct pg_conn {
    PGconn *db;
    pg_store *store;
    struct pg_conn *prev, *next; /* in store->conns, under store->lock */
    int broken;                  /* lost: connect again on the next call */
    unsigned char prepared[S_COUNT];
} pg_conn;

struct pg_store {
    meta_store base;
    pthread_key_t tls;
    int tls_ok;
    pthread_mutex_t lock; /* guards conns */
    pg_conn *conns;
    char *url;
    char *secret[SECRETS_MAX]; /* what no message may show: the password, raw and decoded */
};

static const meta_ops pg_ops;

/* PostgreSQL's MAKE_SQLSTATE: six bits per character, the first lowest. */
static long sqlstate_pack(const char *s)
{
    long v = 0;

    if (!s || strlen(s) != 5)
        return 0;
    for (int i = 0; i < 5; i++)
        v |= (long)(((unsigned)s[i] - '0') & 0x3F) << (6 * i);
    return v;
}

void meta_pg_sqlstate(long sys, char out[6])
{
    if (sys <= 0 || sys >= (1L << 30)) {
        out[0] = '\0';
        return;
    }
    for (int i = 0; i < 5; i++)
        out[i] = (char)(((sys >> (6 * i)) & 0x3F) + '0');
    out[5] = '\0';
}

static st_code code_of_state(const char *s)
{
    static const struct {
        const char *state; /* a full SQLSTATE, or a two-character class */
        st_code code;
    } map[] = {
        {"40001", ST_E_BUSY},        {"40P01", ST_E_BUSY},        {"55P03", ST_E_BUSY},
        {"57014", ST_E_BUSY},        {"23505", ST_E_CONFLICT},    {"53100", ST_E_NOSPC},
        {"53200", ST_E_RESOURCES},   {"53300", ST_E_UNAVAILABLE}, {"57P01", ST_E_UNAVAILABLE},
        {"57P02", ST_E_UNAVAILABLE}, {"57P03", ST_E_UNAVAILABLE}, {"25006", ST_E_UNAVAILABLE},
        {"08", ST_E_UNAVAILABLE},    {"22", ST_E_INVALID},        {"23", ST_E_INVALID},
    };

    if (!s || strlen(s) != 5)
        return ST_E_IO;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        if (strncmp(s, map[i].state, strlen(map[i].state)) == 0)
            return map[i].code;
    }
    return ST_E_IO;
}

/* Replaces every occurrence of every secret in msg (NUL-terminated, cap bytes) by "***",
 * and line breaks and tabs by spaces (libpq's messages span lines). */
static void scrub(char *const secret[SECRETS_MAX], char *msg, size_t cap)
{
    char tmp[ST_MSG_MAX * 2];

    for (int k = 0; k < SECRETS_MAX; k++) {
        size_t sl = secret[k] ? strlen(secret[k]) : 0, o = 0;
        if (sl == 0)
            continue;
        for (const char *p = msg; *p && o + 4 < sizeof tmp;) {
            if (strncmp(p, secret[k], sl) == 0) {
                memcpy(tmp + o, "***", 3);
                o += 3;
                p += sl;
            } else {
                tmp[o++] = *p++;
            }
        }
        tmp[o] = '\0';
        (void)snprintf(msg, cap, "%s", tmp);
    }
    for (char *p = msg; *p; p++) {
        if (*p == '\n' || *p == '\t' || *p == '\r')
            *p = ' ';
    }
    for (size_t n = strlen(msg); n > 0 && msg[n - 1] == ' '; n--)
        msg[n - 1] = '\0';
}

static int vfail(pg_store *s, st_err *e, st_code code, long sys, const char *fmt, va_list ap)
    __attribute__((format(printf, 5, 0)));

static int vfail(pg_store *s, st_err *e, st_code code, long sys, const char *fmt, va_list ap)
{
    char msg[ST_MSG_MAX * 2];

    if (!e || e->code != ST_OK)
        return code;
    (void)vsnprintf(msg, sizeof msg, fmt, ap);
    if (s)
        scrub(s->secret, msg, sizeof msg);
    (void)st_fail(e, code, BACKEND, sys, "%s", msg);
    return code;
}

/* Records a failure (scrubbed of the secrets) and returns code. */
static int fail(pg_store *s, st_err *e, st_code code, long sys, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int fail(pg_store *s, st_err *e, st_code code, long sys, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vfail(s, e, code, sys, fmt, ap);
    va_end(ap);
    return rc;
}

/* Records the failure of a statement (r NULL: libpq could not run it at all). A connection
 * that is gone is marked for a reconnect and the failure is UNAVAILABLE, whatever the
 * statement's own error said. */
static int fail_db(pg_conn *c, const PGresult *r, const char *what, st_err *e)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    st_code code = code_of_state(state);

    if (!msg || !*msg)
        msg = PQerrorMessage(c->db);
    if (PQstatus(c->db) != CONNECTION_OK || code == ST_E_UNAVAILABLE) {
        c->broken = 1;
        code = ST_E_UNAVAILABLE;
        if (!state)
            state = "08006"; /* connection_failure: libpq found the connection gone */
    }
    if (!state)
        return fail(c->store, e, code, 0, "%s: %s", what, msg);
    return fail(c->store, e, code, sqlstate_pack(state), "%s: SQLSTATE %s: %s", what, state, msg);
}

/* Records a failure the backend found itself (no database error) and returns code. */
static int err(st_err *e, st_code code, const char *msg)
{
    (void)st_fail(e, code, BACKEND, 0, "%s", msg);
    return code;
}

static int invalid(const char *what, st_err *e)
{
    (void)st_fail(e, ST_E_INVALID, BACKEND, 0, "%s: invalid argument", what);
    return ST_E_INVALID;
}

/* Notices (such as "relation already exists, skipping") are not errors: keep them off stderr. */
static void notice_quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static void conn_close(pg_conn *c)
{
    PQfinish(c->db);
    free(c);
}

/* Thread exit: the store is still alive (it deletes the key before it goes away). */
static void conn_dtor(void *p)
{
    pg_conn *c = p;
    pg_store *s = c->store;

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

/* After a (re)connect: checks the server and forgets the statements prepared before. */
static int conn_ready(pg_conn *c, st_err *e)
{
    if (PQstatus(c->db) != CONNECTION_OK) {
        c->broken = 1;
        return fail(c->store, e, ST_E_UNAVAILABLE, sqlstate_pack("08001"),
                    "connect: SQLSTATE 08001: %s", PQerrorMessage(c->db));
    }
    if (PQserverVersion(c->db) < MIN_SERVER) {
        c->broken = 1;
        return fail(c->store, e, ST_E_IO, 0, "connect: PostgreSQL %d found, 11 or later needed",
                    PQserverVersion(c->db) / 10000);
    }
    c->broken = 0;
    memset(c->prepared, 0, sizeof c->prepared);
    return META_OK;
}

/* Opens a connection. Our defaults come before the URL, so the URL's own settings win. */
static int conn_open(pg_store *s, pg_conn **out, st_err *e)
{
    const char *const keys[] = {"connect_timeout", "options", "fallback_application_name", "dbname",
                                NULL};
    const char *const vals[] = {CONNECT_TIMEOUT, SESSION_OPTIONS, "argotd", s->url, NULL};
    pg_conn *c = calloc(1, sizeof *c);
    int rc;

    if (!c)
        return err(e, ST_E_NOMEM, "connect: out of memory");
    c->store = s;
    c->db = PQconnectdbParams(keys, vals, 1);
    if (!c->db) {
        free(c);
        return err(e, ST_E_NOMEM, "connect: out of memory");
    }
    PQsetNoticeProcessor(c->db, notice_quiet, NULL);
    rc = conn_ready(c, e);
    if (rc != META_OK) {
        conn_close(c);
        return rc;
    }
    *out = c;
    return META_OK;
}

static int conn_register(pg_store *s, pg_conn *c, st_err *e)
{
    if (pthread_setspecific(s->tls, c) != 0) {
        conn_close(c);
        return err(e, ST_E_NOMEM, "connect: no thread-specific slot");
    }
    pthread_mutex_lock(&s->lock);
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    pthread_mutex_unlock(&s->lock);
    return META_OK;
}

/* The calling thread's connection, connected again if it was lost. */
static int conn_get(pg_store *s, pg_conn **out, st_err *e)
{
    pg_conn *c = pthread_getspecific(s->tls);
    int rc;

    if (!c) {
        rc = conn_open(s, &c, e);
        if (rc == META_OK)
            rc = conn_register(s, c, e);
        if (rc != META_OK)
            return rc;
    } else if (c->broken || PQstatus(c->db) != CONNECTION_OK) {
        PQreset(c->db);
        rc = conn_ready(c, e);
        if (rc != META_OK)
            return rc;
    }
    if (PQtransactionStatus(c->db) != PQTRANS_IDLE) {
        /* Left inside a transaction by a failure we could not roll back: start clean. */
        PQclear(PQexec(c->db, "ROLLBACK"));
    }
    *out = c;
    return META_OK;
}

/* ---- running statements ---- */

typedef struct params {
    int n;
    const char *v[PARAMS_MAX];
    char num[PARAMS_MAX][24];
} params;

static void p_txt(params *p, const char *s)
{
    p->v[p->n++] = s;
}

static void p_int(params *p, int64_t x)
{
    (void)snprintf(p->num[p->n], sizeof p->num[0], "%" PRId64, x);
    p->v[p->n] = p->num[p->n];
    p->n++;
}

static void stmt_name(char name[16], int id)
{
    (void)snprintf(name, 16, "argot%d", id);
}

static int prepare(pg_conn *c, int id, st_err *e)
{
    char name[16];
    PGresult *r;
    int rc = META_OK;

    if (c->prepared[id])
        return META_OK;
    stmt_name(name, id);
    r = PQprepare(c->db, name, stmts[id].sql, 0, NULL);
    if (PQresultStatus(r) == PGRES_COMMAND_OK)
        c->prepared[id] = 1;
    else
        rc = fail_db(c, r, stmts[id].name, e);
    PQclear(r);
    return rc;
}

/* Runs statement id with p; on success *out holds its result (PQclear it). */
static int exec(pg_conn *c, int id, const params *p, PGresult **out, st_err *e)
{
    char name[16];
    PGresult *r;
    ExecStatusType st;
    int rc = prepare(c, id, e);

    *out = NULL;
    if (rc != META_OK)
        return rc;
    stmt_name(name, id);
    r = PQexecPrepared(c->db, name, p ? p->n : 0, p ? p->v : NULL, NULL, NULL, 0);
    st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        rc = fail_db(c, r, stmts[id].name, e);
        PQclear(r);
        return rc;
    }
    *out = r;
    return META_OK;
}

/* Runs statement id; *n (if not NULL) gets the rows it returned or changed. */
static int run(pg_conn *c, int id, const params *p, int64_t *n, st_err *e)
{
    PGresult *r;
    int rc = exec(c, id, p, &r, e);

    if (rc != META_OK)
        return rc;
    if (n)
        *n =
            PQresultStatus(r) == PGRES_TUPLES_OK ? PQntuples(r) : strtoll(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return META_OK;
}

static int64_t col_i64(const PGresult *r, int row, int col)
{
    return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static void col_str(const PGresult *r, int row, int col, char *dst, size_t cap)
{
    (void)snprintf(dst, cap, "%s", PQgetvalue(r, row, col));
}

/* Runs a one-row query of integers: a and b (if not NULL) get columns 0 and 1. NOTFOUND (no
 * record filled) if it returned no row. */
static int query_i64(pg_conn *c, int id, const params *p, int64_t *a, int64_t *b, st_err *e)
{
    PGresult *r;
    int rc = exec(c, id, p, &r, e);

    if (rc != META_OK)
        return rc;
    if (PQntuples(r) < 1) {
        rc = META_E_NOTFOUND;
    } else {
        *a = col_i64(r, 0, 0);
        if (b)
            *b = col_i64(r, 0, 1);
    }
    PQclear(r);
    return rc;
}

typedef int (*row_fn)(const PGresult *r, int row, void *ctx); /* non-zero stops the walk */

/* Calls fn with each row of r until it stops; returns its value or 0. */
static int rows_each(const PGresult *r, row_fn fn, void *ctx)
{
    int stop = 0;
    for (int i = 0; stop == 0 && i < PQntuples(r); i++)
        stop = fn(r, i, ctx);
    return stop;
}

/* Runs a query row by row (libpq's single-row mode: a page is never held whole) and calls fn
 * with each. Returns 0, an error, or fn's non-zero value (the rest is read and discarded). */
static int walk(pg_conn *c, int id, const params *p, row_fn fn, void *ctx, st_err *e)
{
    char name[16];
    PGresult *r;
    int rc = prepare(c, id, e), stop = 0;

    if (rc != META_OK)
        return rc;
    stmt_name(name, id);
    if (!PQsendQueryPrepared(c->db, name, p->n, p->v, NULL, NULL, 0))
        return fail_db(c, NULL, stmts[id].name, e);
    (void)PQsetSingleRowMode(c->db);
    while ((r = PQgetResult(c->db)) != NULL) {
        ExecStatusType st = PQresultStatus(r);
        if (st != PGRES_SINGLE_TUPLE && st != PGRES_TUPLES_OK) {
            if (rc == META_OK)
                rc = fail_db(c, r, stmts[id].name, e);
        } else if (stop == 0 && rc == META_OK) {
            stop = rows_each(r, fn, ctx); /* one row, or all if single-row mode was refused */
        }
        PQclear(r);
    }
    return stop != 0 ? stop : rc;
}

static int simple(pg_conn *c, const char *sql, st_err *e)
{
    PGresult *r = PQexec(c->db, sql);
    int rc = META_OK;

    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        rc = fail_db(c, r, sql, e);
    PQclear(r);
    return rc;
}

/* conn_get() then BEGIN: on META_OK the caller owns a transaction to close with tx_end(). */
static int tx_open(meta_store *ms, pg_conn **c, st_err *e)
{
    int rc = conn_get((pg_store *)ms, c, e);
    return rc != META_OK ? rc : simple(*c, "BEGIN", e);
}

/* Commits if rc is META_OK, else rolls back; returns the outcome. */
static int tx_end(pg_conn *c, int rc, st_err *e)
{
    if (rc == META_OK) {
        PGresult *r = PQexec(c->db, "COMMIT");
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            rc = fail_db(c, r, "commit", e);
        else if (strcmp(PQcmdStatus(r), "COMMIT") != 0)
            rc = fail(c->store, e, ST_E_IO, 0, "commit: the transaction had failed");
        PQclear(r);
    }
    if (rc != META_OK && !c->broken && PQtransactionStatus(c->db) != PQTRANS_IDLE)
        PQclear(PQexec(c->db, "ROLLBACK"));
    return rc;
}

/* ---- small helpers ---- */

/* now + ttl for ttl >= 0, capped so it never overflows. */
static int64_t until(int64_t now, int64_t ttl)
{
    return ttl > INT64_MAX - now ? INT64_MAX : now + ttl;
}

static void row_file(const PGresult *r, int i, meta_file *f)
{
    col_str(r, i, 0, f->id, sizeof f->id);
    col_str(r, i, 1, f->org, sizeof f->org);
    col_str(r, i, 2, f->purpose, sizeof f->purpose);
    col_str(r, i, 3, f->filename, sizeof f->filename);
    f->bytes = col_i64(r, i, 4);
    f->created_at = col_i64(r, i, 5);
    f->expires_at = col_i64(r, i, 6);
    col_str(r, i, 7, f->blob, sizeof f->blob);
    f->seq = col_i64(r, i, 8);
}

static void row_upload(const PGresult *r, int i, meta_upload *u)
{
    int64_t st;

    col_str(r, i, 0, u->id, sizeof u->id);
    col_str(r, i, 1, u->org, sizeof u->org);
    col_str(r, i, 2, u->filename, sizeof u->filename);
    col_str(r, i, 3, u->purpose, sizeof u->purpose);
    col_str(r, i, 4, u->mime_type, sizeof u->mime_type);
    u->bytes = col_i64(r, i, 5);
    u->expires_after_seconds = col_i64(r, i, 6);
    u->created_at = col_i64(r, i, 7);
    u->expires_at = col_i64(r, i, 8);
    st = col_i64(r, i, 9);
    u->status = st >= 0 && st <= 3 ? (meta_upload_status)st : META_UPLOAD_EXPIRED;
    col_str(r, i, 10, u->file_id, sizeof u->file_id);
}

/* Blobs to hand to the caller once the transaction committed. */
typedef struct blob_vec {
    char (*v)[BLOB_KEY_LEN + 1];
    size_t n, cap;
} blob_vec;

static int blob_vec_push(blob_vec *bv, const char *key)
{
    if (bv->n == bv->cap) {
        size_t cap = bv->cap ? bv->cap * 2 : 64;
        void *p = realloc(bv->v, cap * sizeof *bv->v);
        if (!p)
            return META_E_NOMEM;
        bv->v = p;
        bv->cap = cap;
    }
    (void)snprintf(bv->v[bv->n++], sizeof bv->v[0], "%s", key);
    return META_OK;
}

/* After the commit (rc META_OK): each blob to cb, until it stops; then frees bv. */
static void blobs_notify(blob_vec *bv, int rc, meta_blob_cb cb, void *userdata)
{
    for (size_t i = 0; rc == META_OK && cb && i < bv->n; i++) {
        if (cb(bv->v[i], userdata) != 0)
            break;
    }
    free(bv->v);
    *bv = (blob_vec){NULL, 0, 0};
}

/* Usage changes of several organizations, applied in one go by orgs_apply(). */
typedef struct org_delta {
    char org[META_ORG_MAX];
    int64_t used, reserved;
} org_delta;

typedef struct org_vec {
    org_delta *v;
    size_t n, cap;
} org_vec;

static int org_vec_add(org_vec *ov, const char *org, int64_t used, int64_t reserved)
{
    for (size_t i = 0; i < ov->n; i++) {
        if (strcmp(ov->v[i].org, org) == 0) {
            ov->v[i].used += used;
            ov->v[i].reserved += reserved;
            return META_OK;
        }
    }
    if (ov->n == ov->cap) {
        size_t cap = ov->cap ? ov->cap * 2 : 8;
        void *p = realloc(ov->v, cap * sizeof *ov->v);
        if (!p)
            return META_E_NOMEM;
        ov->v = p;
        ov->cap = cap;
    }
    org_delta *d = &ov->v[ov->n++];
    (void)snprintf(d->org, sizeof d->org, "%s", org);
    d->used = used;
    d->reserved = reserved;
    return META_OK;
}

/* A PostgreSQL array literal of n elements: strings quoted and escaped, or integers. */
static char *array_lit(size_t n,
                       const char *(*str)(const void *, size_t),
                       int64_t (*num)(const void *, size_t),
                       const void *v)
{
    size_t cap = 3, o = 0;
    char *out;

    for (size_t i = 0; i < n; i++)
        cap += str ? 2 * strlen(str(v, i)) + 3 : 22;
    out = malloc(cap);
    if (!out)
        return NULL;
    out[o++] = '{';
    for (size_t i = 0; i < n; i++) {
        if (i)
            out[o++] = ',';
        if (!str) {
            o += (size_t)snprintf(out + o, cap - o, "%" PRId64, num(v, i));
            continue;
        }
        out[o++] = '"';
        for (const char *p = str(v, i); *p; p++) {
            if (*p == '"' || *p == '\\')
                out[o++] = '\\';
            out[o++] = *p;
        }
        out[o++] = '"';
    }
    out[o++] = '}';
    out[o] = '\0';
    return out;
}

static const char *od_org(const void *v, size_t i)
{
    return ((const org_delta *)v)[i].org;
}

static int64_t od_used(const void *v, size_t i)
{
    return ((const org_delta *)v)[i].used;
}

static int64_t od_reserved(const void *v, size_t i)
{
    return ((const org_delta *)v)[i].reserved;
}

/* Inside a transaction: locks the organizations of ov in id order (so two batches never
 * deadlock on them), then applies every delta in one statement. Frees ov. */
static int orgs_apply(pg_conn *c, org_vec *ov, st_err *e)
{
    char *ids = NULL, *used = NULL, *res = NULL;
    params p = {0};
    int rc = META_OK;

    if (ov->n == 0)
        goto out;
    ids = array_lit(ov->n, od_org, NULL, ov->v);
    used = array_lit(ov->n, NULL, od_used, ov->v);
    res = array_lit(ov->n, NULL, od_reserved, ov->v);
    if (!ids || !used || !res) {
        rc = err(e, ST_E_NOMEM, "usage update: out of memory");
        goto out;
    }
    p_txt(&p, ids);
    rc = run(c, S_ORGS_LOCK, &p, NULL, e);
    p_txt(&p, used);
    p_txt(&p, res);
    if (rc == META_OK)
        rc = run(c, S_ORGS_ADD, &p, NULL, e);
out:
    free(ids);
    free(used);
    free(res);
    free(ov->v);
    *ov = (org_vec){NULL, 0, 0};
    return rc;
}

static void hex32(const uint8_t h[32], char out[65])
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < 32; i++) {
        out[2 * i] = digits[h[i] >> 4];
        out[2 * i + 1] = digits[h[i] & 15];
    }
    out[64] = '\0';
}

/* ---- keys ---- */

static int pg_key_lookup(meta_store *ms, const uint8_t hash[32], char org[META_ORG_MAX], st_err *e)
{
    char hex[65];
    params p = {0};
    PGresult *r;
    pg_conn *c;
    int rc;

    if (!hash || !org)
        return invalid("key_lookup", e);
    hex32(hash, hex);
    p_txt(&p, hex);
    rc = conn_get((pg_store *)ms, &c, e);
    if (rc == META_OK)
        rc = exec(c, S_KEY_LOOKUP, &p, &r, e);
    if (rc != META_OK)
        return rc;
    /* The index found the row by equality; compare again in constant time so that acceptance
     * never depends on a data-dependent early exit. */
    if (PQntuples(r) != 1 || PQgetlength(r, 0, 1) != 64 ||
        CRYPTO_memcmp(PQgetvalue(r, 0, 1), hex, 64) != 0) {
        rc = err(e, ST_E_NOTFOUND, "key_lookup: no such active key");
    } else {
        col_str(r, 0, 0, org, META_ORG_MAX);
    }
    PQclear(r);
    return rc;
}

static int pg_key_create(meta_store *ms, const meta_key *k, const uint8_t hash[32], st_err *e)
{
    char hex[65];
    params p = {0};
    pg_conn *c;
    int rc;

    if (!k || !hash || !meta_str_ok(k->id, META_ID_MAX) || !meta_org_ok(k->org) ||
        strnlen(k->name, META_NAME_MAX) >= META_NAME_MAX || k->created_at < 0 || k->revoked_at < 0)
        return invalid("key_create", e);
    hex32(hash, hex);
    p_txt(&p, k->id);
    p_txt(&p, hex);
    p_txt(&p, k->org);
    p_txt(&p, k->name);
    p_int(&p, k->created_at);
    p_int(&p, k->revoked_at);
    rc = conn_get((pg_store *)ms, &c, e);
    return rc != META_OK ? rc : run(c, S_KEY_CREATE, &p, NULL, e);
}

typedef struct key_walk {
    meta_key_cb cb;
    void *userdata;
} key_walk;

static int key_row(const PGresult *r, int i, void *ctx)
{
    key_walk *w = ctx;
    meta_key k;

    col_str(r, i, 0, k.id, sizeof k.id);
    col_str(r, i, 1, k.org, sizeof k.org);
    col_str(r, i, 2, k.name, sizeof k.name);
    k.created_at = col_i64(r, i, 3);
    k.revoked_at = col_i64(r, i, 4);
    memset(k.hash, 0, sizeof k.hash);
    const char *hx = PQgetvalue(r, i, 5);
    for (size_t j = 0; PQgetlength(r, i, 5) == 64 && j < 32; j++) {
        unsigned hi = (unsigned)(hx[2 * j] <= '9' ? hx[2 * j] - '0' : hx[2 * j] - 'a' + 10);
        unsigned lo =
            (unsigned)(hx[2 * j + 1] <= '9' ? hx[2 * j + 1] - '0' : hx[2 * j + 1] - 'a' + 10);
        k.hash[j] = (uint8_t)(hi << 4 | lo);
    }
    return w->cb(&k, w->userdata);
}

static int pg_key_list(meta_store *ms, meta_key_cb cb, void *userdata, st_err *e)
{
    key_walk w = {cb, userdata};
    params p = {0};
    pg_conn *c;
    int rc;

    if (!cb)
        return invalid("key_list", e);
    rc = conn_get((pg_store *)ms, &c, e);
    return rc != META_OK ? rc : walk(c, S_KEY_LIST, &p, key_row, &w, e);
}

static int pg_key_revoke(meta_store *ms, const char *key_id, int64_t now, st_err *e)
{
    params p = {0};
    int64_t n = 0;
    pg_conn *c;
    int rc;

    if (!meta_str_ok(key_id, META_ID_MAX) || now <= 0)
        return invalid("key_revoke", e);
    p_txt(&p, key_id);
    p_int(&p, now);
    rc = conn_get((pg_store *)ms, &c, e);
    if (rc == META_OK)
        rc = run(c, S_KEY_REVOKE, &p, &n, e);
    if (rc == META_OK && n == 0)
        rc = err(e, ST_E_NOTFOUND, "key_revoke: no such active key");
    return rc;
}

static int pg_key_count_active(meta_store *ms, int64_t *out, st_err *e)
{
    pg_conn *c;
    int rc;

    if (!out)
        return invalid("key_count_active", e);
    rc = conn_get((pg_store *)ms, &c, e);
    return rc != META_OK ? rc : query_i64(c, S_KEY_COUNT, NULL, out, NULL, e);
}

/* ---- owners and leases ---- */

static int pg_owner_renew(meta_store *ms, const char *owner, int64_t now, int64_t ttl, st_err *e)
{
    params p = {0};
    pg_conn *c;
    int rc;

    if (!meta_str_ok(owner, META_ID_MAX) || now < 0 || ttl <= 0)
        return invalid("owner_renew", e);
    p_txt(&p, owner);
    p_int(&p, until(now, ttl));
    rc = conn_get((pg_store *)ms, &c, e);
    return rc != META_OK ? rc : run(c, S_OWNER_RENEW, &p, NULL, e);
}

static int pg_owner_forget(meta_store *ms, const char *owner, const char *self, st_err *e)
{
    params p = {0};
    pg_conn *c;
    int rc;

    if (owner ? !meta_str_ok(owner, META_ID_MAX) : !meta_str_ok(self, META_ID_MAX))
        return invalid("owner_forget", e);
    p_txt(&p, owner ? owner : self);
    rc = conn_get((pg_store *)ms, &c, e);
    if (rc != META_OK)
        return rc;
    return run(c, owner ? S_OWNER_FORGET : S_OWNER_FORGET_OTHERS, &p, NULL, e);
}

static int pg_lease_take(
    meta_store *ms, const char *name, const char *owner, int64_t now, int64_t ttl, st_err *e)
{
    params p = {0};
    int64_t n = 0;
    pg_conn *c;
    int rc;

    if (!meta_str_ok(name, META_ID_MAX) || !meta_str_ok(owner, META_ID_MAX) || now < 0 || ttl <= 0)
        return invalid("lease_take", e);
    p_txt(&p, name);
    p_txt(&p, owner);
    p_int(&p, until(now, ttl));
    p_int(&p, now);
    rc = conn_get((pg_store *)ms, &c, e);
    if (rc == META_OK)
        rc = run(c, S_LEASE_TAKE, &p, &n, e);
    return rc != META_OK ? rc : n == 1;
}

/* ---- intents and quota ---- */

static int pg_intent_open(
    meta_store *ms, const char *org, const char *blob, const char *owner, int64_t now, st_err *e)
{
    params p = {0};
    pg_conn *c;
    int rc;

    if (!meta_org_ok(org) || !blob_key_valid(blob) || !meta_str_ok(owner, META_ID_MAX) || now < 0)
        return invalid("intent_open", e);
    p_txt(&p, blob);
    p_txt(&p, org);
    p_txt(&p, owner);
    p_int(&p, now);
    rc = conn_get((pg_store *)ms, &c, e);
    return rc != META_OK ? rc : run(c, S_INTENT_OPEN, &p, NULL, e);
}

/* Inside a transaction: the conditional update of a quota step. QUOTA if used + reserved +
 * used_delta + reserved_delta would exceed max (nothing changed then). */
static int org_add_if(
    pg_conn *c, const char *org, int64_t used_delta, int64_t reserved_delta, int64_t max, st_err *e)
{
    params p = {0};
    int64_t n = 0;
    int rc;

    p_txt(&p, org);
    p_int(&p, used_delta);
    p_int(&p, reserved_delta);
    p_int(&p, max);
    rc = run(c, S_ORG_ADD_IF, &p, &n, e);
    if (rc == META_OK && n != 1)
        rc = err(e, ST_E_QUOTA, "the organization's quota would be exceeded");
    return rc;
}

static int pg_intent_reserve(
    meta_store *ms, const char *blob, int64_t delta, int64_t org_max, st_err *e)
{
    char org[META_ORG_MAX];
    params p = {0};
    PGresult *r = NULL;
    pg_conn *c;
    int rc;

    if (!blob_key_valid(blob) || delta <= 0 || org_max < 0)
        return invalid("intent_reserve", e);
    p_txt(&p, blob);
    rc = tx_open(ms, &c, e);
    if (rc != META_OK)
        return rc;
    rc = exec(c, S_INTENT_LOCK, &p, &r, e);
    if (rc == META_OK && PQntuples(r) != 1)
        rc = err(e, ST_E_NOTFOUND, "intent_reserve: no such intent");
    if (rc == META_OK) {
        col_str(r, 0, 0, org, sizeof org);
        rc = org_add_if(c, org, 0, delta, org_max, e);
    }
    PQclear(r);
    p_int(&p, delta);
    if (rc == META_OK) /* within org_max now, so within bigint */
        rc = run(c, S_INTENT_ADD, &p, NULL, e);
    return tx_end(c, rc, e);
}

static int pg_intent_drop(meta_store *ms, const char *blob, st_err *e)
{
    params p = {0};
    int64_t n = 0;
    pg_conn *c;
    int rc;

    if (!blob_key_valid(blob))
        return invalid("intent_drop", e);
    p_txt(&p, blob);
    rc = conn_get((pg_store *)ms, &c, e);
    if (rc == META_OK)
        rc = query_i64(c, S_INTENT_DROP, &p, &n, NULL, e);
    if (rc == META_OK && n == 0)
        rc = err(e, ST_E_NOTFOUND, "intent_drop: no such intent");
    return rc;
}

/* Inside a transaction: deletes the intent of blob, which must belong to org; *reserved gets
 * its reservation. NOTFOUND if it is gone, INVALID if of another org. */
static int intent_take(pg_conn *c, const char *blob, const char *org, int64_t *reserved, st_err *e)
{
    params p = {0};
    PGresult *r;
    int rc;

    p_txt(&p, blob);
    rc = exec(c, S_INTENT_TAKE, &p, &r, e);
    if (rc != META_OK)
        return rc;
    if (PQntuples(r) != 1)
        rc = err(e, ST_E_NOTFOUND, "no intent for this blob");
    else if (strcmp(PQgetvalue(r, 0, 0), org) != 0)
        rc = err(e, ST_E_INVALID, "the intent belongs to another organization");
    else
        *reserved = col_i64(r, 0, 1);
    PQclear(r);
    return rc;
}

static int pg_intents_reap(
    meta_store *ms, const char *self, int64_t now, meta_blob_cb cb, void *userdata, st_err *e)
{
    blob_vec bv = {NULL, 0, 0};
    org_vec ov = {NULL, 0, 0};
    params p = {0};
    PGresult *r = NULL;
    pg_conn *c;
    int rc, n = 0;

    if (!meta_str_ok(self, META_ID_MAX) || now < 0)
        return invalid("intents_reap", e);
    p_txt(&p, self);
    p_int(&p, now);
    rc = tx_open(ms, &c, e);
    if (rc != META_OK)
        return rc;
    rc = exec(c, S_INTENTS_REAP, &p, &r, e);
    for (int i = 0; rc == META_OK && i < PQntuples(r); i++) {
        rc = blob_vec_push(&bv, PQgetvalue(r, i, 0));
        if (rc == META_OK)
            rc = org_vec_add(&ov, PQgetvalue(r, i, 1), 0, -col_i64(r, i, 2));
        if (rc != META_OK)
            rc = err(e, ST_E_NOMEM, "intents_reap: out of memory");
    }
    n = (int)bv.n;
    PQclear(r);
    if (rc == META_OK)
        rc = orgs_apply(c, &ov, e);
    free(ov.v);
    rc = tx_end(c, rc, e);
    blobs_notify(&bv, rc, cb, userdata);
    return rc == META_OK ? n : rc;
}

static int file_insert(pg_conn *c, const meta_file *f, st_err *e)
{
    params p = {0};

    p_txt(&p, f->id);
    p_txt(&p, f->org);
    p_txt(&p, f->purpose);
    p_txt(&p, f->filename);
    p_int(&p, f->bytes);
    p_int(&p, f->created_at);
    p_int(&p, f->expires_at);
    p_txt(&p, f->blob);
    return run(c, S_FILE_INSERT, &p, NULL, e);
}

static int pg_file_commit(meta_store *ms, const meta_file *f, int64_t org_max, st_err *e)
{
    int64_t reserved = 0;
    pg_conn *c;
    int rc;

    if (!meta_file_ok(f) || org_max < 0)
        return invalid("file_commit", e);
    rc = tx_open(ms, &c, e);
    if (rc != META_OK)
        return rc;
    rc = intent_take(c, f->blob, f->org, &reserved, e);
    if (rc == META_OK)
        rc = org_add_if(c, f->org, f->bytes, -reserved, org_max, e);
    if (rc == META_OK)
        rc = file_insert(c, f, e);
    return tx_end(c, rc, e);
}

/* ---- files ---- */

static int pg_file_get(
    meta_store *ms, const char *org, const char *id, int64_t now, meta_file *out, st_err *e)
{
    params p = {0};
    PGresult *r;
    pg_conn *c;
    int rc;

    if (!meta_org_ok(org) || !meta_str_ok(id, META_ID_MAX) || !out)
        return invalid("file_get", e);
    p_txt(&p, id);
    p_txt(&p, org);
    p_int(&p, now);
    rc = conn_get((pg_store *)ms, &c, e);
    if (rc == META_OK)
        rc = exec(c, S_FILE_GET, &p, &r, e);
    if (rc != META_OK)
        return rc;
    if (PQntuples(r) == 1)
        row_file(r, 0, out);
    else
        rc = err(e, ST_E_NOTFOUND, "file_get: no such file");
    PQclear(r);
    return rc;
}

static int pg_file_position(
    meta_store *ms, const char *org, const char *id, meta_pos *out, st_err *e)
{
    params p = {0};
    pg_conn *c;
    int rc;

    if (!meta_org_ok(org) || !meta_str_ok(id, META_ID_MAX) || !out)
        return invalid("file_position", e);
    p_txt(&p, org);
    p_txt(&p, id);
    rc = conn_get((pg_store *)ms, &c, e);
    if (rc == META_OK)
        rc = query_i64(c, S_FILE_POSITION, &p, &out->created_at, &out->seq, e);
    if (rc == META_E_NOTFOUND)
        rc = err(e, ST_E_NOTFOUND, "file_position: no file or tombstone");
    return rc;
}

typedef struct list_walk {
    meta_file_cb cb;
    void *userdata;
    int n, limit, more;
} list_walk;

static int list_row(const PGresult *r, int i, void *ctx)
{
    list_walk *w = ctx;
    meta_file f;

    if (w->n++ == w->limit) {
        w->more = 1; /* the row past the page: there is more */
        return 1;
    }
    row_file(r, i, &f);
    return w->cb(&f, w->userdata);
}

static int pg_file_list(meta_store *ms,
                        const meta_list_req *req,
                        meta_file_cb cb,
                        void *userdata,
                        int *has_more,
                        st_err *e)
{
    list_walk w = {cb, userdata, 0, 0, 0};
    params p = {0};
    pg_conn *c;
    int rc;

    if (!req || !cb || !has_more || !meta_org_ok(req->org) || req->limit < 1 ||
        req->limit > LIST_LIMIT_MAX ||
        (req->purpose && !meta_str_ok(req->purpose, META_PURPOSE_MAX)))
        return invalid("file_list", e);
    *has_more = 0;
    w.limit = req->limit;
    p_txt(&p, req->org);
    if (req->purpose)
        p_txt(&p, req->purpose);
    if (req->after) {
        p_int(&p, req->after->created_at);
        p_int(&p, req->after->seq);
    }
    p_int(&p, req->now);
    p_int(&p, (int64_t)req->limit + 1);
    rc = conn_get((pg_store *)ms, &c, e);
    if (rc != META_OK)
        return rc;
    rc = walk(c, S_LIST + (req->desc ? 4 : 0) + (req->purpose ? 2 : 0) + (req->after ? 1 : 0), &p,
              list_row, &w, e);
    if (w.more) {
        *has_more = 1;
        rc = META_OK;
    }
    return rc;
}

static int pg_file_delete(
    meta_store *ms, const char *org, const char *id, int64_t now, meta_file *out, st_err *e)
{
    params p = {0};
    PGresult *r;
    pg_conn *c;
    int rc;

    if (!meta_org_ok(org) || !meta_str_ok(id, META_ID_MAX) || !out || now < 0)
        return invalid("file_delete", e);
    p_txt(&p, id);
    p_txt(&p, org);
    p_int(&p, now);
    rc = conn_get((pg_store *)ms, &c, e);
    if (rc == META_OK)
        rc = exec(c, S_FILE_DELETE, &p, &r, e); /* one statement: one transaction */
    if (rc != META_OK)
        return rc;
    if (PQntuples(r) == 1)
        row_file(r, 0, out);
    else
        rc = err(e, ST_E_NOTFOUND, "file_delete: no such file");
    PQclear(r);
    return rc;
}

/* Copies the expired files of r out (for the callbacks after the commit) and collects their
 * organizations' usage changes. */
static int expired_collect(const PGresult *r, meta_file *v, org_vec *ov, st_err *e)
{
    for (int i = 0; i < PQntuples(r); i++) {
        row_file(r, i, &v[i]);
        if (org_vec_add(ov, v[i].org, -v[i].bytes, 0) != META_OK)
            return err(e, ST_E_NOMEM, "expired_take: out of memory");
    }
    return META_OK;
}

/* The callback (may be NULL) only hears of the files: its stop value stops the notifications,
 * not the count, for the rows are gone already and their blob tombstones bring the blobs to the
 * garbage collector anyway. */
static int pg_expired_take(
    meta_store *ms, int64_t now, int limit, meta_file_cb cb, void *userdata, st_err *e)
{
    org_vec ov = {NULL, 0, 0};
    meta_file *v = NULL;
    params p = {0};
    PGresult *r = NULL;
    pg_conn *c;
    int rc, n = 0;

    if (limit < 1 || limit > TAKE_LIMIT_MAX || now < 0)
        return invalid("expired_take", e);
    p_int(&p, now);
    p_int(&p, limit);
    rc = tx_open(ms, &c, e);
    if (rc != META_OK)
        return rc;
    rc = exec(c, S_FILES_EXPIRE, &p, &r, e);
    if (rc == META_OK) {
        n = PQntuples(r);
        v = calloc((size_t)n + 1, sizeof *v);
        rc = v ? expired_collect(r, v, &ov, e) : err(e, ST_E_NOMEM, "expired_take: out of memory");
    }
    PQclear(r);
    if (rc == META_OK)
        rc = orgs_apply(c, &ov, e);
    free(ov.v);
    rc = tx_end(c, rc, e);
    for (int i = 0; rc == META_OK && cb && i < n; i++) {
        if (cb(&v[i], userdata) != 0)
            break;
    }
    free(v);
    return rc == META_OK ? n : rc;
}

static int pg_blob_referenced(meta_store *ms, const char *blob, st_err *e)
{
    params p = {0};
    PGresult *r;
    pg_conn *c;
    int rc;

    if (!blob_key_valid(blob))
        return invalid("blob_referenced", e);
    p_txt(&p, blob);
    rc = conn_get((pg_store *)ms, &c, e);
    if (rc == META_OK)
        rc = exec(c, S_BLOB_REF, &p, &r, e);
    if (rc != META_OK)
        return rc;
    rc = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    return rc;
}

/* Runs a DELETE taking one integer and returns how many rows it removed. */
static int purge(meta_store *ms, int id, int64_t before, st_err *e)
{
    params p = {0};
    int64_t n = 0;
    pg_conn *c;
    int rc;

    p_int(&p, before);
    rc = conn_get((pg_store *)ms, &c, e);
    if (rc == META_OK)
        rc = run(c, id, &p, &n, e);
    if (rc == META_OK && n > INT32_MAX)
        n = INT32_MAX;
    return rc != META_OK ? rc : (int)n;
}

static int pg_cursor_tombs_purge(meta_store *ms, int64_t before, st_err *e)
{
    return purge(ms, S_CURSOR_PURGE, before, e);
}

/* ---- blob tombstones ---- */

typedef struct blob_walk {
    meta_blob_cb cb;
    void *userdata;
    int n, stopped;
} blob_walk;

/* Counts every row reported, the one whose callback stopped the walk included. */
static int blob_row(const PGresult *r, int i, void *ctx)
{
    blob_walk *w = ctx;
    w->n++;
    if (w->cb(PQgetvalue(r, i, 0), w->userdata) != 0) {
        w->stopped = 1;
        return 1;
    }
    return 0;
}

static int pg_blob_tombs_take(
    meta_store *ms, int64_t before, int limit, meta_blob_cb cb, void *userdata, st_err *e)
{
    blob_walk w = {cb, userdata, 0, 0};
    params p = {0};
    pg_conn *c;
    int rc;

    if (!cb || limit < 1 || limit > TAKE_LIMIT_MAX)
        return invalid("blob_tombs_take", e);
    p_int(&p, before);
    p_int(&p, limit);
    rc = conn_get((pg_store *)ms, &c, e);
    if (rc == META_OK)
        rc = walk(c, S_BLOB_TOMBS, &p, blob_row, &w, e);
    return rc != META_OK && !w.stopped ? rc : w.n;
}

static int pg_blob_tomb_done(meta_store *ms, const char *blob, st_err *e)
{
    params p = {0};
    pg_conn *c;
    int rc;

    if (!blob_key_valid(blob))
        return invalid("blob_tomb_done", e);
    p_txt(&p, blob);
    rc = conn_get((pg_store *)ms, &c, e);
    return rc != META_OK ? rc : run(c, S_BLOB_TOMB_DONE, &p, NULL, e);
}

/* ---- uploads ---- */

static int pg_upload_create(meta_store *ms, const meta_upload *u, st_err *e)
{
    params p = {0};
    pg_conn *c;
    int rc;

    if (!meta_upload_ok(u))
        return invalid("upload_create", e);
    p_txt(&p, u->id);
    p_txt(&p, u->org);
    p_txt(&p, u->filename);
    p_txt(&p, u->purpose);
    p_txt(&p, u->mime_type);
    p_int(&p, u->bytes);
    p_int(&p, u->expires_after_seconds);
    p_int(&p, u->created_at);
    p_int(&p, u->expires_at);
    rc = conn_get((pg_store *)ms, &c, e);
    return rc != META_OK ? rc : run(c, S_UPLOAD_CREATE, &p, NULL, e);
}

/* Reads upload (org, id) into out; with lock (inside a transaction) it stays locked until the
 * end of the transaction. NOTFOUND if org has none. */
static int upload_fetch(
    pg_conn *c, const char *org, const char *id, int lock, meta_upload *out, st_err *e)
{
    params p = {0};
    PGresult *r;
    int rc;

    p_txt(&p, id);
    p_txt(&p, org);
    rc = exec(c, lock ? S_UPLOAD_LOCK : S_UPLOAD_GET, &p, &r, e);
    if (rc != META_OK)
        return rc;
    if (PQntuples(r) == 1)
        row_upload(r, 0, out);
    else
        rc = err(e, ST_E_NOTFOUND, "no such upload");
    PQclear(r);
    return rc;
}

/* Inside a transaction: locks the upload, which must be pending and unexpired at now. */
static int upload_lock_pending(
    pg_conn *c, const char *org, const char *id, int64_t now, meta_upload *out, st_err *e)
{
    int rc = upload_fetch(c, org, id, 1, out, e);

    if (rc == META_OK && (out->status != META_UPLOAD_PENDING || out->expires_at <= now))
        rc = err(e, ST_E_STATE, "the upload is not pending");
    return rc;
}

static int pg_upload_get(
    meta_store *ms, const char *org, const char *id, meta_upload *out, st_err *e)
{
    pg_conn *c;
    int rc;

    if (!meta_org_ok(org) || !meta_str_ok(id, META_ID_MAX) || !out)
        return invalid("upload_get", e);
    rc = conn_get((pg_store *)ms, &c, e);
    return rc != META_OK ? rc : upload_fetch(c, org, id, 0, out, e);
}

static const char *ids_str(const void *v, size_t i)
{
    return ((const char *const *)v)[i];
}

/* Inside a transaction: deletes the part rows of the n uploads ids, records their blobs as
 * blob tombstones at now and into bv, and collects the usage they release into ov (*sum, if
 * not NULL, gets their bytes). */
static int parts_take(pg_conn *c,
                      const char *const *ids,
                      size_t n,
                      int64_t now,
                      blob_vec *bv,
                      org_vec *ov,
                      int64_t *sum,
                      st_err *e)
{
    char *arr = array_lit(n, ids_str, NULL, ids);
    params p = {0};
    PGresult *r = NULL;
    int rc;

    if (sum)
        *sum = 0;
    if (!arr)
        return err(e, ST_E_NOMEM, "parts_take: out of memory");
    p_txt(&p, arr);
    p_int(&p, now);
    rc = exec(c, S_PARTS_TAKE, &p, &r, e);
    for (int i = 0; rc == META_OK && i < PQntuples(r); i++) {
        int64_t bytes = col_i64(r, i, 2);
        if (sum)
            *sum += bytes;
        if (blob_vec_push(bv, PQgetvalue(r, i, 1)) != META_OK ||
            (ov && org_vec_add(ov, PQgetvalue(r, i, 0), -bytes, 0) != META_OK))
            rc = err(e, ST_E_NOMEM, "parts_take: out of memory");
    }
    PQclear(r);
    free(arr);
    return rc;
}

static int upload_set(
    pg_conn *c, const char *id, meta_upload_status status, const char *file_id, st_err *e)
{
    params p = {0};

    p_txt(&p, id);
    p_int(&p, (int64_t)status);
    p_txt(&p, file_id);
    return run(c, S_UPLOAD_SET, &p, NULL, e);
}

static int pg_upload_cancel(meta_store *ms,
                            const char *org,
                            const char *id,
                            int64_t now,
                            meta_upload *out,
                            meta_blob_cb cb,
                            void *userdata,
                            st_err *e)
{
    blob_vec bv = {NULL, 0, 0};
    org_vec ov = {NULL, 0, 0};
    pg_conn *c;
    int rc;

    if (!meta_org_ok(org) || !meta_str_ok(id, META_ID_MAX) || !out)
        return invalid("upload_cancel", e);
    rc = tx_open(ms, &c, e);
    if (rc != META_OK)
        return rc;
    rc = upload_lock_pending(c, org, id, now, out, e);
    if (rc == META_OK)
        rc = parts_take(c, &id, 1, now, &bv, &ov, NULL, e);
    if (rc == META_OK)
        rc = orgs_apply(c, &ov, e);
    if (rc == META_OK)
        rc = upload_set(c, id, META_UPLOAD_CANCELLED, "", e);
    free(ov.v);
    rc = tx_end(c, rc, e);
    if (rc == META_OK)
        out->status = META_UPLOAD_CANCELLED;
    blobs_notify(&bv, rc, cb, userdata);
    return rc;
}

static int part_insert(pg_conn *c, const meta_part *pt, st_err *e)
{
    params p = {0};

    p_txt(&p, pt->id);
    p_txt(&p, pt->upload_id);
    p_txt(&p, pt->org);
    p_txt(&p, pt->blob);
    p_int(&p, pt->bytes);
    p_int(&p, pt->created_at);
    return run(c, S_PART_INSERT, &p, NULL, e);
}

/* Inside a transaction, with the upload locked: LIMIT unless its parts' bytes plus add stay
 * within max. */
static int parts_fit(pg_conn *c, const char *upload_id, int64_t add, int64_t max, st_err *e)
{
    params p = {0};
    int64_t sum = 0;
    int rc;

    p_txt(&p, upload_id);
    rc = query_i64(c, S_PART_SUM, &p, &sum, NULL, e);
    if (rc == META_OK && (sum > max || add > max - sum))
        rc = err(e, ST_E_LIMIT, "the parts would exceed the upload's bytes");
    return rc;
}

static int pg_part_commit(
    meta_store *ms, const meta_part *pt, int64_t now, int64_t org_max, int64_t parts_max, st_err *e)
{
    meta_upload u;
    int64_t reserved = 0;
    pg_conn *c;
    int rc;

    if (!meta_part_ok(pt) || org_max < 0 || parts_max < 0)
        return invalid("part_commit", e);
    rc = tx_open(ms, &c, e);
    if (rc != META_OK)
        return rc;
    rc = upload_lock_pending(c, pt->org, pt->upload_id, now, &u, e);
    if (rc == META_OK)
        rc = intent_take(c, pt->blob, pt->org, &reserved, e);
    if (rc == META_OK)
        rc = org_add_if(c, pt->org, pt->bytes, -reserved, org_max, e);
    if (rc == META_OK)
        rc = parts_fit(c, pt->upload_id, pt->bytes, parts_max, e);
    if (rc == META_OK)
        rc = part_insert(c, pt, e);
    return tx_end(c, rc, e);
}

typedef struct part_walk {
    meta_part_cb cb;
    void *userdata;
} part_walk;

static int part_row(const PGresult *r, int i, void *ctx)
{
    part_walk *w = ctx;
    meta_part pt;

    col_str(r, i, 0, pt.id, sizeof pt.id);
    col_str(r, i, 1, pt.upload_id, sizeof pt.upload_id);
    col_str(r, i, 2, pt.org, sizeof pt.org);
    col_str(r, i, 3, pt.blob, sizeof pt.blob);
    pt.bytes = col_i64(r, i, 4);
    pt.created_at = col_i64(r, i, 5);
    return w->cb(&pt, w->userdata);
}

static int pg_upload_parts(meta_store *ms,
                           const char *org,
                           const char *upload_id,
                           meta_part_cb cb,
                           void *userdata,
                           st_err *e)
{
    part_walk w = {cb, userdata};
    params p = {0};
    pg_conn *c;
    int rc;

    if (!meta_org_ok(org) || !meta_str_ok(upload_id, META_ID_MAX) || !cb)
        return invalid("upload_parts", e);
    p_txt(&p, upload_id);
    p_txt(&p, org);
    rc = conn_get((pg_store *)ms, &c, e);
    return rc != META_OK ? rc : walk(c, S_PART_LIST, &p, part_row, &w, e);
}

/* Inside upload_complete's transaction, with the upload locked: everything but the commit. */
static int complete_steps(pg_conn *c,
                          const char *upload_id,
                          const meta_file *f,
                          int64_t now,
                          int64_t org_max,
                          blob_vec *bv,
                          st_err *e)
{
    int64_t reserved = 0, sum = 0;
    int rc = intent_take(c, f->blob, f->org, &reserved, e);

    if (rc == META_OK)
        rc = parts_take(c, &upload_id, 1, now, bv, NULL, &sum, e);
    /* The parts' bytes leave usage as the file's come in; other reservations still count. */
    if (rc == META_OK)
        rc = org_add_if(c, f->org, f->bytes - sum, -reserved, org_max, e);
    if (rc == META_OK)
        rc = file_insert(c, f, e);
    if (rc == META_OK)
        rc = upload_set(c, upload_id, META_UPLOAD_COMPLETED, f->id, e);
    return rc;
}

static int pg_upload_complete(meta_store *ms,
                              const char *upload_id,
                              const meta_file *f,
                              int64_t now,
                              int64_t org_max,
                              meta_blob_cb cb,
                              void *userdata,
                              st_err *e)
{
    blob_vec bv = {NULL, 0, 0};
    meta_upload u;
    pg_conn *c;
    int rc;

    if (!meta_file_ok(f) || !meta_str_ok(upload_id, META_ID_MAX) || org_max < 0)
        return invalid("upload_complete", e);
    rc = tx_open(ms, &c, e);
    if (rc != META_OK)
        return rc;
    rc = upload_lock_pending(c, f->org, upload_id, now, &u, e);
    if (rc == META_OK)
        rc = complete_steps(c, upload_id, f, now, org_max, &bv, e);
    rc = tx_end(c, rc, e);
    blobs_notify(&bv, rc, cb, userdata);
    return rc;
}

/* Inside a transaction: marks up to limit expired pending uploads EXPIRED (claimed with SKIP
 * LOCKED) and fills ids (malloc'd, each string malloc'd) with them. */
static int uploads_expire(pg_conn *c, int64_t now, int limit, char ***ids, size_t *n, st_err *e)
{
    params p = {0};
    PGresult *r;
    int rc;

    p_int(&p, now);
    p_int(&p, limit);
    rc = exec(c, S_UPLOADS_EXPIRE, &p, &r, e);
    if (rc != META_OK)
        return rc;
    *n = (size_t)PQntuples(r);
    *ids = calloc(*n + 1, sizeof **ids);
    for (size_t i = 0; *ids && i < *n; i++) {
        (*ids)[i] = strdup(PQgetvalue(r, (int)i, 0));
        if (!(*ids)[i])
            rc = err(e, ST_E_NOMEM, "upload_take_expired: out of memory");
    }
    if (!*ids)
        rc = err(e, ST_E_NOMEM, "upload_take_expired: out of memory");
    PQclear(r);
    return rc;
}

static int pg_upload_take_expired(
    meta_store *ms, int64_t now, int limit, meta_blob_cb cb, void *userdata, st_err *e)
{
    blob_vec bv = {NULL, 0, 0};
    org_vec ov = {NULL, 0, 0};
    char **ids = NULL;
    size_t n = 0;
    pg_conn *c;
    int rc;

    if (limit < 1 || limit > TAKE_LIMIT_MAX || now < 0)
        return invalid("upload_take_expired", e);
    rc = tx_open(ms, &c, e);
    if (rc != META_OK)
        return rc;
    rc = uploads_expire(c, now, limit, &ids, &n, e);
    if (rc == META_OK && n > 0)
        rc = parts_take(c, (const char *const *)ids, n, now, &bv, &ov, NULL, e);
    if (rc == META_OK)
        rc = orgs_apply(c, &ov, e);
    free(ov.v);
    rc = tx_end(c, rc, e);
    blobs_notify(&bv, rc, cb, userdata);
    for (size_t i = 0; ids && i < n; i++)
        free(ids[i]);
    free(ids);
    return rc == META_OK ? (int)n : rc;
}

static int pg_uploads_purge(meta_store *ms, int64_t before, st_err *e)
{
    return purge(ms, S_UPLOADS_PURGE, before, e);
}

/* ---- accounting ---- */

/* An organization never seen has no usage: 0, 0. */
static int pg_org_usage(
    meta_store *ms, const char *org, int64_t *used, int64_t *reserved, st_err *e)
{
    params p = {0};
    pg_conn *c;
    int rc;

    if (!meta_org_ok(org) || !used || !reserved)
        return invalid("org_usage", e);
    *used = *reserved = 0;
    p_txt(&p, org);
    rc = conn_get((pg_store *)ms, &c, e);
    if (rc == META_OK)
        rc = query_i64(c, S_ORG_USAGE, &p, used, reserved, e);
    return rc == META_E_NOTFOUND ? META_OK : rc;
}

static int pg_stats(meta_store *ms, meta_stats *out, st_err *e)
{
    pg_conn *c;
    int rc;

    if (!out)
        return invalid("stats", e);
    rc = conn_get((pg_store *)ms, &c, e);
    return rc != META_OK ? rc : query_i64(c, S_STATS, NULL, &out->files, &out->bytes, e);
}

static int pg_org_file_count(meta_store *ms, const char *org, int64_t now, int64_t *out, st_err *e)
{
    params p = {0};
    pg_conn *c;
    int rc;

    if (!meta_org_ok(org) || !out)
        return invalid("org_file_count", e);
    *out = 0;
    p_txt(&p, org);
    p_int(&p, now);
    rc = conn_get((pg_store *)ms, &c, e);
    return rc != META_OK ? rc : query_i64(c, S_ORG_FILES, &p, out, NULL, e);
}

static int pg_clock(meta_store *ms, int64_t *now, st_err *e)
{
    pg_conn *c;
    int rc;

    if (!now)
        return invalid("clock", e);
    rc = conn_get((pg_store *)ms, &c, e);
    return rc != META_OK ? rc : query_i64(c, S_CLOCK, NULL, now, NULL, e);
}

/* ---- the whole store (fsck, migrate) ---- */

typedef struct store_walk {
    meta_file_cb file;
    meta_upload_cb upload;
    meta_intent_cb intent;
    meta_org_cb org;
    meta_owner_cb owner;
    void *userdata;
    int n;
} store_walk;

static int owner_walk_row(const PGresult *r, int i, void *ctx)
{
    store_walk *w = ctx;
    return w->owner(PQgetvalue(r, i, 0), col_i64(r, i, 1), w->userdata);
}

static int file_walk_row(const PGresult *r, int i, void *ctx)
{
    store_walk *w = ctx;
    meta_file f;
    w->n++;
    row_file(r, i, &f);
    return w->file(&f, w->userdata);
}

static int pg_file_walk(
    meta_store *ms, int64_t after_seq, int limit, meta_file_cb cb, void *userdata, st_err *e)
{
    store_walk w = {.file = cb, .userdata = userdata};
    params p = {0};
    pg_conn *c;
    int rc;

    if (!cb || limit < 1 || limit > TAKE_LIMIT_MAX)
        return invalid("file_walk", e);
    p_int(&p, after_seq);
    p_int(&p, limit);
    rc = conn_get((pg_store *)ms, &c, e);
    if (rc == META_OK)
        rc = walk(c, S_FILE_WALK, &p, file_walk_row, &w, e);
    return rc != META_OK ? rc : w.n;
}

static int upload_walk_row(const PGresult *r, int i, void *ctx)
{
    store_walk *w = ctx;
    meta_upload u;
    w->n++;
    row_upload(r, i, &u);
    return w->upload(&u, w->userdata);
}

static int pg_upload_walk(
    meta_store *ms, const char *after, int limit, meta_upload_cb cb, void *userdata, st_err *e)
{
    store_walk w = {.upload = cb, .userdata = userdata};
    params p = {0};
    pg_conn *c;
    int rc;

    if (!cb || !after || limit < 1 || limit > TAKE_LIMIT_MAX)
        return invalid("upload_walk", e);
    p_txt(&p, after);
    p_int(&p, limit);
    rc = conn_get((pg_store *)ms, &c, e);
    if (rc == META_OK)
        rc = walk(c, S_UPLOAD_WALK, &p, upload_walk_row, &w, e);
    return rc != META_OK ? rc : w.n;
}

static int intent_walk_row(const PGresult *r, int i, void *ctx)
{
    store_walk *w = ctx;
    meta_intent in;
    col_str(r, i, 0, in.blob, sizeof in.blob);
    col_str(r, i, 1, in.org, sizeof in.org);
    col_str(r, i, 2, in.owner, sizeof in.owner);
    in.reserved = col_i64(r, i, 3);
    in.created_at = col_i64(r, i, 4);
    return w->intent(&in, w->userdata);
}

static int org_walk_row(const PGresult *r, int i, void *ctx)
{
    store_walk *w = ctx;
    meta_org o;
    col_str(r, i, 0, o.id, sizeof o.id);
    o.used = col_i64(r, i, 1);
    o.reserved = col_i64(r, i, 2);
    return w->org(&o, w->userdata);
}

static int walk_all(meta_store *ms, int id, row_fn fn, store_walk *w, st_err *e)
{
    params p = {0};
    pg_conn *c;
    int rc = conn_get((pg_store *)ms, &c, e);
    return rc != META_OK ? rc : walk(c, id, &p, fn, w, e);
}

static int pg_intent_walk(meta_store *ms, meta_intent_cb cb, void *userdata, st_err *e)
{
    store_walk w = {.intent = cb, .userdata = userdata};
    return cb ? walk_all(ms, S_INTENT_WALK, intent_walk_row, &w, e) : invalid("intent_walk", e);
}

static int pg_org_walk(meta_store *ms, meta_org_cb cb, void *userdata, st_err *e)
{
    store_walk w = {.org = cb, .userdata = userdata};
    return cb ? walk_all(ms, S_ORG_WALK, org_walk_row, &w, e) : invalid("org_walk", e);
}

static int pg_owner_walk(meta_store *ms, meta_owner_cb cb, void *userdata, st_err *e)
{
    store_walk w = {.owner = cb, .userdata = userdata};
    return cb ? walk_all(ms, S_OWNER_WALK, owner_walk_row, &w, e) : invalid("owner_walk", e);
}

static int row_drop(meta_store *ms, int id, const char *key, st_err *e)
{
    params p = {0};
    int64_t n = 0;
    pg_conn *c;
    int rc;

    if (!meta_str_ok(key, META_ID_MAX))
        return invalid(stmts[id].name, e);
    p_txt(&p, key);
    rc = conn_get((pg_store *)ms, &c, e);
    if (rc == META_OK)
        rc = run(c, id, &p, &n, e);
    if (rc == META_OK && n == 0)
        rc = err(e, ST_E_NOTFOUND, "drop: no such row");
    return rc;
}

static int pg_file_drop(meta_store *ms, const char *id, st_err *e)
{
    return row_drop(ms, S_FILE_DROP, id, e);
}

static int pg_part_drop(meta_store *ms, const char *id, st_err *e)
{
    return row_drop(ms, S_PART_DROP, id, e);
}

static int pg_usage_recompute(meta_store *ms, st_err *e)
{
    pg_conn *c;
    int rc = conn_get((pg_store *)ms, &c, e);
    return rc != META_OK ? rc : run(c, S_USAGE_RECOMPUTE, NULL, NULL, e);
}

/* ---- lifecycle ---- */

static void pg_free(meta_store *ms)
{
    pg_store *s = (pg_store *)ms;

    if (!s)
        return;
    if (s->tls_ok) {
        /* After the key is deleted no thread-exit destructor runs for it any more. */
        pthread_setspecific(s->tls, NULL);
        pthread_key_delete(s->tls);
    }
    while (s->conns) {
        pg_conn *c = s->conns;
        s->conns = c->next;
        conn_close(c);
    }
    pthread_mutex_destroy(&s->lock);
    for (int i = 0; i < SECRETS_MAX; i++)
        free(s->secret[i]);
    free(s->url);
    free(s);
}

/* Brings the schema to SCHEMA_VERSION. Every instance takes the same transaction-scoped
 * advisory lock first, so instances starting together migrate one after the other and all
 * but the first find the work done. A schema newer than this argotd is refused. */
static int migrate(pg_conn *c, st_err *e)
{
    char sql[96];
    int64_t v = 0;
    PGresult *r;
    int rc = simple(c, "BEGIN", e);

    if (rc == META_OK)
        rc = simple(c, MIGRATION_LOCK, e);
    if (rc == META_OK)
        rc = simple(c, VERSION_TABLE, e);
    if (rc == META_OK) {
        r = PQexec(c->db, "SELECT coalesce(max(version), 0) FROM schema_version");
        if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
            rc = fail_db(c, r, "schema version", e);
        else
            v = col_i64(r, 0, 0);
        PQclear(r);
    }
    if (rc == META_OK && (v < 0 || v > SCHEMA_VERSION))
        rc = fail(c->store, e, ST_E_IO, 0,
                  "the schema is at version %" PRId64 ", newer than this argotd's %d", v,
                  SCHEMA_VERSION);
    for (int64_t i = v; rc == META_OK && i < SCHEMA_VERSION; i++) {
        rc = simple(c, migrations[i], e);
        (void)snprintf(sql, sizeof sql, "INSERT INTO schema_version(version) VALUES (%d)",
                       (int)i + 1);
        if (rc == META_OK)
            rc = simple(c, sql, e);
    }
    return tx_end(c, rc, e);
}

static const meta_ops pg_ops = {
    .version = META_OPS_VERSION,
    .name = "postgres",
    .caps = META_CAP_FILE_COUNT | META_CAP_SHARED | META_CAP_CLOCK,
    .key_lookup = pg_key_lookup,
    .key_create = pg_key_create,
    .key_list = pg_key_list,
    .key_revoke = pg_key_revoke,
    .key_count_active = pg_key_count_active,
    .owner_renew = pg_owner_renew,
    .owner_forget = pg_owner_forget,
    .lease_take = pg_lease_take,
    .intent_open = pg_intent_open,
    .intent_reserve = pg_intent_reserve,
    .intent_drop = pg_intent_drop,
    .intents_reap = pg_intents_reap,
    .file_commit = pg_file_commit,
    .file_get = pg_file_get,
    .file_position = pg_file_position,
    .file_list = pg_file_list,
    .file_delete = pg_file_delete,
    .expired_take = pg_expired_take,
    .blob_referenced = pg_blob_referenced,
    .cursor_tombs_purge = pg_cursor_tombs_purge,
    .blob_tombs_take = pg_blob_tombs_take,
    .blob_tomb_done = pg_blob_tomb_done,
    .upload_create = pg_upload_create,
    .upload_get = pg_upload_get,
    .upload_cancel = pg_upload_cancel,
    .part_commit = pg_part_commit,
    .upload_parts = pg_upload_parts,
    .upload_complete = pg_upload_complete,
    .upload_take_expired = pg_upload_take_expired,
    .uploads_purge = pg_uploads_purge,
    .file_walk = pg_file_walk,
    .upload_walk = pg_upload_walk,
    .intent_walk = pg_intent_walk,
    .org_walk = pg_org_walk,
    .owner_walk = pg_owner_walk,
    .file_drop = pg_file_drop,
    .part_drop = pg_part_drop,
    .usage_recompute = pg_usage_recompute,
    .org_usage = pg_org_usage,
    .stats = pg_stats,
    .org_file_count = pg_org_file_count,
    .clock = pg_clock,
    .free = pg_free,
};

/* ---- the URL and its secrets ---- */

static int has_scheme(const char *url)
{
    return strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0;
}

/* The raw (still percent-encoded) password of the URL's userinfo, as [*at, *at + *len). */
static int raw_userinfo_password(const char *url, size_t *at, size_t *len)
{
    const char *auth = strstr(url, "://"), *end, *colon, *amp = NULL;

    if (!auth)
        return 0;
    auth += 3;
    end = auth + strcspn(auth, "/?#");
    for (const char *p = auth; p < end; p++) {
        if (*p == '@')
            amp = p; /* the last '@' ends the userinfo */
    }
    if (!amp)
        return 0;
    colon = memchr(auth, ':', (size_t)(amp - auth));
    if (!colon || colon + 1 >= amp)
        return 0;
    *at = (size_t)(colon + 1 - url);
    *len = (size_t)(amp - colon - 1);
    return 1;
}

/* The raw value of a password= query parameter, as [*at, *at + *len). */
static int raw_query_password(const char *url, size_t *at, size_t *len)
{
    const char *q = strchr(url, '?');

    for (const char *p = q; p && *p; p = strchr(p, '&')) {
        p++;
        if (strncmp(p, "password=", 9) == 0 && p[9] && p[9] != '&') {
            *at = (size_t)(p + 9 - url);
            *len = strcspn(p + 9, "&#");
            return 1;
        }
    }
    return 0;
}

void meta_pg_redact(const char *url, char *out, size_t cap)
{
    size_t at[2], len[2], o = 0;
    int have[2];

    if (!out || cap == 0)
        return;
    out[0] = '\0';
    if (!url)
        return;
    have[0] = raw_userinfo_password(url, &at[0], &len[0]);
    have[1] = raw_query_password(url, &at[1], &len[1]);
    for (size_t i = 0; url[i] && o + 1 < cap;) {
        int k = have[0] && i == at[0] ? 0 : have[1] && i == at[1] ? 1 : -1;
        if (k >= 0) {
            for (const char *m = "***"; *m && o + 1 < cap; m++)
                out[o++] = *m;
            i += len[k];
        } else {
            out[o++] = url[i++];
        }
    }
    out[o] = '\0';
}

/* Collects what no message may show: the password as written in the URL (userinfo or
 * password= parameter) and as libpq decodes it. */
static int secrets_collect(pg_store *s)
{
    size_t at, len;
    int k = 0;

    if (raw_userinfo_password(s->url, &at, &len))
        s->secret[k++] = strndup(s->url + at, len);
    if (raw_query_password(s->url, &at, &len))
        s->secret[k++] = strndup(s->url + at, len);
    PQconninfoOption *opts = PQconninfoParse(s->url, NULL);
    for (PQconninfoOption *o = opts; o && o->keyword; o++) {
        if (strcmp(o->keyword, "password") == 0 && o->val && *o->val && k < SECRETS_MAX)
            s->secret[k++] = strdup(o->val);
    }
    PQconninfoFree(opts);
    for (int i = 0; i < k; i++) {
        if (!s->secret[i])
            return META_E_NOMEM;
    }
    return META_OK;
}

/* Checks that url is a URL libpq accepts (INVALID, scrubbed message, if not). */
static int url_check(pg_store *s, st_err *e)
{
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(s->url, &err);
    int rc = META_OK;

    if (!opts)
        rc = fail(s, e, ST_E_INVALID, 0, "bad PostgreSQL URL: %s", err ? err : "out of memory");
    PQconninfoFree(opts);
    PQfreemem(err);
    return rc;
}

static int store_new(pg_store **out, const char *url, st_err *e)
{
    pg_store *s = calloc(1, sizeof *s);

    if (!s)
        return err(e, ST_E_NOMEM, "open: out of memory");
    s->base.ops = &pg_ops;
    pthread_mutex_init(&s->lock, NULL);
    *out = s;
    s->url = strdup(url);
    if (!s->url || secrets_collect(s) != META_OK)
        return err(e, ST_E_NOMEM, "open: out of memory");
    if (pthread_key_create(&s->tls, conn_dtor) != 0)
        return err(e, ST_E_NOMEM, "open: no thread-specific key");
    s->tls_ok = 1;
    return META_OK;
}

int meta_pg_open(meta_store **out, const char *url, st_err *e)
{
    pg_store *s = NULL;
    pg_conn *c;
    int rc;

    if (out)
        *out = NULL;
    if (!out || !url || !has_scheme(url))
        return err(e, ST_E_INVALID,
                   "open: not a PostgreSQL URL (postgres://user@host:port/dbname)");
    if (!PQisthreadsafe())
        return err(e, ST_E_IO, "open: libpq is not thread-safe");
    rc = store_new(&s, url, e);
    if (rc == META_OK)
        rc = url_check(s, e);
    if (rc == META_OK)
        rc = conn_get(s, &c, e);
    if (rc == META_OK)
        rc = migrate(c, e);
    if (rc != META_OK) {
        pg_free(s ? &s->base : NULL);
        return rc;
    }
    *out = &s->base;
    return META_OK;
}
