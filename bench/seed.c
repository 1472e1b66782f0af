/*
 * argot_bench_seed: fills an argotd data dir with N file rows of one organization, fast.
 *
 *   argot_bench_seed DATA_DIR ORG N [--blobs]
 *
 * DATA_DIR must already hold argot.db (run `argotd keys create --data DATA_DIR --org ORG`
 * first: that creates the schema, the organization row and a key). The rows are written in
 * one SQLite transaction straight into the files table of src/server/meta/meta_sqlite.c
 * (schema versions 1-2; anything else is refused), 10 files per created_at second,
 * ending one hour ago. With --blobs, an empty blob file is created for every row under
 * blobs/xx/<key> (0600), as the local blob store lays them out, so startup's orphan pass
 * sees a realistic tree.
 *
 * Ids are "file-bnch" + 17 decimal digits of the row index, inserted in index order, so the
 * (created_at, id) and (created_at, rowid) orders are both the index order and the row at any
 * list depth is known without a query: in the default (desc) order, depth d is index N-1-d.
 * The tool prints nothing but errors.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The files table is the same in schema versions 1 to 3 of meta_sqlite.c; the columns are
 * checked below as well, so a later change to the table is refused rather than guessed at. */
#define SCHEMA_MIN    1
#define SCHEMA_MAX    4 /* 4: owners, leases, blob tombstones; the files table is unchanged */
#define FILES_COLUMNS "id,org,purpose,filename,bytes,created_at,expires_at,blob,"
#define FILE_BYTES    1234

static uint64_t mix(uint64_t x) /* splitmix64 */
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static int die(sqlite3 *db, const char *what)
{
    fprintf(stderr, "argot_bench_seed: %s: %s\n", what, db ? sqlite3_errmsg(db) : "");
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: argot_bench_seed DATA_DIR ORG N [--blobs]\n");
        return 2;
    }
    const char *dir = argv[1], *org = argv[2];
    long long n = atoll(argv[3]);
    int blobs = argc > 4 && !strcmp(argv[4], "--blobs");
    char path[4096];
    snprintf(path, sizeof path, "%s/argot.db", dir);
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
        return die(db, path);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW)
        return die(db, "user_version");
    int ver = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (ver < SCHEMA_MIN || ver > SCHEMA_MAX) {
        fprintf(stderr, "argot_bench_seed: schema version %d, this tool knows %d..%d\n", ver,
                SCHEMA_MIN, SCHEMA_MAX);
        return 1;
    }
    char cols[256] = "";
    if (sqlite3_prepare_v2(db, "SELECT name FROM pragma_table_info('files') ORDER BY cid", -1, &st,
                           NULL) != SQLITE_OK)
        return die(db, "table_info");
    while (sqlite3_step(st) == SQLITE_ROW && strlen(cols) < 200) {
        strcat(cols, (const char *)sqlite3_column_text(st, 0));
        strcat(cols, ",");
    }
    sqlite3_finalize(st);
    if (strcmp(cols, FILES_COLUMNS)) {
        fprintf(stderr, "argot_bench_seed: unexpected files columns %s\n", cols);
        return 1;
    }
    if (sqlite3_exec(db,
                     "PRAGMA synchronous=OFF; PRAGMA cache_size=-262144;"
                     "PRAGMA temp_store=MEMORY; BEGIN IMMEDIATE;",
                     NULL, NULL, NULL) != SQLITE_OK)
        return die(db, "begin");
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO files(id, org, purpose, filename, bytes, created_at,"
                           " expires_at, blob) VALUES (?1, ?2, 'fine-tune', ?3, ?4, ?5, NULL, ?6)",
                           -1, &st, NULL) != SQLITE_OK)
        return die(db, "prepare");
    int64_t base = (int64_t)time(NULL) - 3600 - n / 10;
    int blobs_fd = -1;
    if (blobs) {
        snprintf(path, sizeof path, "%s/blobs", dir);
        if (mkdir(path, 0700) && errno != EEXIST) {
            perror(path);
            return 1;
        }
        blobs_fd = open(path, O_RDONLY | O_DIRECTORY);
        if (blobs_fd < 0) {
            perror(path);
            return 1;
        }
        for (int i = 0; i < 256; i++) {
            char fan[3];
            snprintf(fan, sizeof fan, "%02x", i);
            if (mkdirat(blobs_fd, fan, 0700) && errno != EEXIST) {
                perror(fan);
                return 1;
            }
        }
    }
    for (long long i = 0; i < n; i++) {
        char id[32], name[32], key[33], rel[40];
        snprintf(id, sizeof id, "file-bnch%017lld", i);
        snprintf(name, sizeof name, "train-%lld.jsonl", i);
        snprintf(key, sizeof key, "%016" PRIx64 "%016llx", mix((uint64_t)i), i);
        sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, org, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 4, FILE_BYTES);
        sqlite3_bind_int64(st, 5, base + i / 10);
        sqlite3_bind_text(st, 6, key, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) != SQLITE_DONE)
            return die(db, "insert");
        sqlite3_reset(st);
        if (blobs) {
            snprintf(rel, sizeof rel, "%.2s/%s", key, key);
            int fd = openat(blobs_fd, rel, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
            if (fd < 0) {
                perror(rel);
                return 1;
            }
            close(fd);
        }
    }
    sqlite3_finalize(st);
    char sql[512];
    snprintf(sql, sizeof sql,
             "UPDATE orgs SET used_bytes = used_bytes + %lld WHERE id = '%s'; COMMIT;"
             "PRAGMA wal_checkpoint(TRUNCATE);",
             n * FILE_BYTES, org);
    if (strchr(org, '\'')) {
        fprintf(stderr, "argot_bench_seed: bad org\n");
        return 1;
    }
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return die(db, "commit");
    if (blobs_fd >= 0) {
        fsync(blobs_fd);
        close(blobs_fd);
    }
    sqlite3_close(db);
    return 0;
}
