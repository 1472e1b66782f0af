/*
 * SQLite side of `argotd fsck` (see fsck_ops.h). Its own connection, opened on an existing
 * argot.db with the same pragmas as meta_sqlite.c (WAL, synchronous=FULL). The SQL follows the
 * schema of meta_sqlite.c's migrations; tables added later are probed in sqlite_master and
 * pragma_table_info rather than assumed:
 *   - `parts(id, org, blob, bytes)` (Uploads API, schema 2): part blobs are referenced like
 *     file blobs and their bytes count towards orgs.used_bytes;
 *   - `uploads(org, reserved)`, should reservations ever be held there: they count towards
 *     orgs.reserved_bytes.
 */
#include "server/meta/fsck_ops.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct fsck_db {
    sqlite3 *db;
    int has_parts; /* parts(id, org, blob, bytes) */
    int has_uploads_reserved;
};

static int map_rc(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
        return META_OK;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return META_E_BUSY;
    case SQLITE_NOMEM:
        return META_E_NOMEM;
    case SQLITE_CONSTRAINT:
        return META_E_INVALID;
    default:
        return META_E_IO;
    }
}

static int has_column(sqlite3 *db, const char *table, const char *col)
{
    sqlite3_stmt *st = NULL;
    int found = 0;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2", -1, &st,
                           NULL) != SQLITE_OK)
        return 0;
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, col, -1, SQLITE_STATIC);
    found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return found;
}

int fsck_db_open(fsck_db **out, const char *path)
{
    struct stat stb;
    *out = NULL;
    if (stat(path, &stb) != 0)
        return META_E_NOTFOUND;
    fsck_db *f = calloc(1, sizeof *f);
    if (!f)
        return META_E_NOMEM;
    int rc = sqlite3_open_v2(path, &f->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(f->db,
                          "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                          " PRAGMA foreign_keys=ON; PRAGMA busy_timeout=10000;",
                          NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        fprintf(stderr, "argotd fsck: cannot open %s: %s\n", path,
                f->db ? sqlite3_errmsg(f->db) : "out of memory");
        fsck_db_close(f);
        return map_rc(rc) ? map_rc(rc) : META_E_IO;
    }
    f->has_parts = has_column(f->db, "parts", "blob") && has_column(f->db, "parts", "bytes") &&
                   has_column(f->db, "parts", "org") && has_column(f->db, "parts", "id");
    f->has_uploads_reserved =
        has_column(f->db, "uploads", "reserved") && has_column(f->db, "uploads", "org");
    *out = f;
    return META_OK;
}

void fsck_db_close(fsck_db *db)
{
    if (!db)
        return;
    sqlite3_close(db->db);
    free(db);
}

static const char *col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? (const char *)t : "";
}

/* Runs sql and hands each row to fn; returns META_OK, META_E_*, or fn's non-zero value. */
static int walk(fsck_db *db, const char *sql, int (*fn)(sqlite3_stmt *st, void *ud), void *ud)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return map_rc(rc);
    int out = META_OK;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        out = fn(st, ud);
        if (out)
            break;
    }
    if (!out && rc != SQLITE_DONE)
        out = map_rc(rc);
    sqlite3_finalize(st);
    return out;
}

typedef struct cb_pair {
    fsck_file_cb file;
    fsck_intent_cb intent;
    fsck_org_cb org;
    void *ud;
} cb_pair;

static int file_row(sqlite3_stmt *st, void *ud)
{
    cb_pair *p = ud;
    fsck_file_cb cb = p->file;
    return cb(col_text(st, 0), col_text(st, 1), col_text(st, 2), sqlite3_column_int64(st, 3),
              p->ud);
}

int fsck_db_files(fsck_db *db, fsck_file_cb cb, void *userdata)
{
    cb_pair p = {.file = cb, .ud = userdata};
    return walk(db, "SELECT id, org, blob, bytes FROM files ORDER BY id", file_row, &p);
}

static int intent_row(sqlite3_stmt *st, void *ud)
{
    cb_pair *p = ud;
    fsck_intent_cb cb = p->intent;
    return cb(col_text(st, 0), col_text(st, 1), sqlite3_column_int64(st, 2), p->ud);
}

int fsck_db_intents(fsck_db *db, fsck_intent_cb cb, void *userdata)
{
    cb_pair p = {.intent = cb, .ud = userdata};
    return walk(db, "SELECT blob, org, reserved FROM intents ORDER BY blob", intent_row, &p);
}

int fsck_db_parts(fsck_db *db, fsck_file_cb cb, void *userdata)
{
    if (!db->has_parts)
        return META_OK;
    cb_pair p = {.file = cb, .ud = userdata};
    return walk(db, "SELECT id, org, blob, bytes FROM parts ORDER BY id", file_row, &p);
}

static int org_row(sqlite3_stmt *st, void *ud)
{
    cb_pair *p = ud;
    fsck_org_cb cb = p->org;
    return cb(col_text(st, 0), sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2),
              sqlite3_column_int64(st, 3), sqlite3_column_int64(st, 4), p->ud);
}

/* SQL terms for one org (alias o in queries, orgs in updates). */
#define FILES_SUM(o)   "(SELECT coalesce(sum(bytes), 0) FROM files f WHERE f.org = " o ".id)"
#define PARTS_SUM(o)   " + (SELECT coalesce(sum(bytes), 0) FROM parts p WHERE p.org = " o ".id)"
#define INTENTS_SUM(o) "(SELECT coalesce(sum(reserved), 0) FROM intents i WHERE i.org = " o ".id)"
#define UPLOADS_SUM(o)                                                                             \
    " + (SELECT coalesce(sum(reserved), 0) FROM uploads u WHERE u.org = " o ".id)"

int fsck_db_orgs(fsck_db *db, fsck_org_cb cb, void *userdata)
{
    char sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT o.id, o.used_bytes, o.reserved_bytes, %s%s, %s%s FROM orgs o ORDER BY o.id",
             FILES_SUM("o"), db->has_parts ? PARTS_SUM("o") : "", INTENTS_SUM("o"),
             db->has_uploads_reserved ? UPLOADS_SUM("o") : "");
    cb_pair p = {.org = cb, .ud = userdata};
    return walk(db, sql, org_row, &p);
}

static int exec(fsck_db *db, const char *sql)
{
    return map_rc(sqlite3_exec(db->db, sql, NULL, NULL, NULL));
}

int fsck_db_begin(fsck_db *db)
{
    return exec(db, "BEGIN IMMEDIATE");
}

int fsck_db_commit(fsck_db *db)
{
    return exec(db, "COMMIT");
}

void fsck_db_rollback(fsck_db *db)
{
    (void)exec(db, "ROLLBACK");
}

int fsck_db_drop_intents(fsck_db *db)
{
    return exec(db, "DELETE FROM intents");
}

int fsck_db_delete_file(fsck_db *db, const char *id)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db->db, "DELETE FROM files WHERE id = ?1", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    return map_rc(rc);
}

int fsck_db_delete_part(fsck_db *db, const char *id)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db->db, "DELETE FROM parts WHERE id = ?1", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    return map_rc(rc);
}

int fsck_db_recompute_usage(fsck_db *db)
{
    char sql[1024];
    snprintf(sql, sizeof sql, "UPDATE orgs SET used_bytes = %s%s, reserved_bytes = %s%s",
             FILES_SUM("orgs"), db->has_parts ? PARTS_SUM("orgs") : "", INTENTS_SUM("orgs"),
             db->has_uploads_reserved ? UPLOADS_SUM("orgs") : "");
    return exec(db, sql);
}
