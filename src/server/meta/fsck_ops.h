/*
 * Metadata access for `argotd fsck` only (src/server/fsck.c). SQLite-specific for now: it
 * opens argot.db itself with sqlite3 and runs whole-table queries that the request path never
 * needs, so they stay out of the meta_ops table (meta.h). A PostgreSQL store will need its own
 * implementation of these calls.
 *
 * fsck runs with the server stopped (it holds the data dir's LOCK): with no server, every
 * intent row is a leftover of a crash.
 *
 * Every call returns 0 (META_OK) or a META_E_* value; a callback returning non-zero stops a
 * walk and that value is returned. Thread: one thread.
 */
#ifndef ARGOT_SERVER_META_FSCK_OPS_H
#define ARGOT_SERVER_META_FSCK_OPS_H

#include <stdint.h>

#include "server/meta/meta.h"

typedef struct fsck_db fsck_db;

typedef int (*fsck_file_cb)(
    const char *id, const char *org, const char *blob, int64_t bytes, void *userdata);
typedef int (*fsck_intent_cb)(const char *blob, const char *org, int64_t reserved, void *userdata);
/* used/reserved as stored; files_bytes = sum of the org's file and part rows; intents_reserved =
 * sum of its intents' reservations (plus those of tables the store may add, see
 * meta_sqlite_fsck.c). */
typedef int (*fsck_org_cb)(const char *org,
                           int64_t used,
                           int64_t reserved,
                           int64_t files_bytes,
                           int64_t intents_reserved,
                           void *userdata);

/* Opens an existing database (never creates one): META_E_NOTFOUND if path does not exist. */
int fsck_db_open(fsck_db **out, const char *path);
void fsck_db_close(fsck_db *db);

int fsck_db_files(fsck_db *db, fsck_file_cb cb, void *userdata);
int fsck_db_intents(fsck_db *db, fsck_intent_cb cb, void *userdata);
/* The parts of Uploads (schema 2), with the same callback as files; nothing if the schema has
 * no parts table. */
int fsck_db_parts(fsck_db *db, fsck_file_cb cb, void *userdata);
int fsck_db_orgs(fsck_db *db, fsck_org_cb cb, void *userdata);

/* Repairs, inside one BEGIN IMMEDIATE ... COMMIT. */
int fsck_db_begin(fsck_db *db);
int fsck_db_commit(fsck_db *db);
void fsck_db_rollback(fsck_db *db);
int fsck_db_drop_intents(fsck_db *db);
int fsck_db_delete_file(fsck_db *db, const char *id);
int fsck_db_delete_part(fsck_db *db, const char *id);
/* used_bytes = sum of file and part rows, reserved_bytes = sum of reservations, for every org. */
int fsck_db_recompute_usage(fsck_db *db);

#endif
