/*
 * The metadata backend contract on SQLite: the generic half (meta_contract.h), then what only
 * this backend has: a database file (modes, reopening, open errors), SQLite's locking (the busy
 * timeout, two stores on one file as two argotd processes have) and the migration of a
 * database written by an older argotd.
 */
#include "meta_contract.h"

#include <sqlite3.h>
#include <sys/stat.h>

static int meta_fixture_open(fx *f)
{
    st_err e = ST_ERR_INIT;
    return meta_sqlite_open(&f->s, f->path, &e);
}

static void test_sqlite_caps(void **state)
{
    meta_store *s = ((fx *)*state)->s;
    assert_string_equal(s->ops->name, "sqlite");
    assert_true(s->ops->caps & META_CAP_FILE_COUNT);
}

static void test_sqlite_modes_and_reopen(void **state)
{
    fx *f = *state;
    st_err e = ST_ERR_INIT;
    char p[128];
    struct stat st;
    mode_t old;

    meta_store_free(f->s);
    (void)snprintf(f->path, sizeof f->path, "%s/umask.db", f->dir);
    old = umask(0);
    assert_int_equal(meta_sqlite_open(&f->s, f->path, &e), META_OK);
    umask(old);
    put(f->s, "org", "file-p", 9, NOW); /* a write makes sure -wal exists */
    const char *sfx[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        (void)snprintf(p, sizeof p, "%s%s", f->path, sfx[i]);
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
    }
    meta_store_free(f->s);
    /* reopen: the migration is a no-op, the data is kept */
    assert_int_equal(meta_sqlite_open(&f->s, f->path, &e), META_OK);
    usage_is(f->s, "org", 9, 0);
}

/* A failed open says why in the record and leaves nothing to free. */
static void open_fails(const char *path, int want)
{
    static meta_store dummy;
    meta_store *s = &dummy; /* not NULL: the open must clear it */
    st_err e = ST_ERR_INIT;
    assert_int_equal(meta_sqlite_open(&s, path, &e), want);
    assert_null(s);
    assert_int_equal(e.code, want);
    assert_true(e.msg[0] != '\0');
}

static void test_sqlite_open_errors(void **state)
{
    fx *f = *state;
    char p[128];
    FILE *fp;

    (void)snprintf(p, sizeof p, "%s/no/such/dir/x.db", f->dir);
    open_fails(p, META_E_IO);
    (void)snprintf(p, sizeof p, "%s/garbage.db", f->dir);
    fp = fopen(p, "w");
    assert_non_null(fp);
    for (int i = 0; i < 1000; i++)
        (void)fputs("this is not a database ", fp);
    (void)fclose(fp);
    open_fails(p, META_E_IO);
    open_fails("", META_E_INVALID);
}

/* A write blocked past the busy timeout is BUSY, retryable, with SQLite's own code. */
static void test_sqlite_busy(void **state)
{
    fx *f = *state;
    meta_store *s = f->s;
    char b[BLOB_KEY_LEN + 1];
    st_err e = ST_ERR_INIT;
    sqlite3 *db;

    blob_key_new(b);
    meta_sqlite_set_busy_timeout(s, 50);
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(s->ops->intent_open(s, "org", b, SELF, NOW, &e), META_E_BUSY);
    assert_int_equal(e.code, ST_E_BUSY);
    assert_true(e.retryable);
    assert_int_equal(e.sys & 0xff, SQLITE_BUSY);
    assert_string_equal(e.backend, "sqlite");
    usage_is(s, "org", 0, 0); /* reads are not blocked by a writer in WAL mode */
    assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    EXPECT(META_OK, s, intent_open, "org", b, SELF, NOW);
}

/* A second store on the fixture's file: another argotd process on the same database. */
static meta_store *second_store(fx *f)
{
    meta_store *b = NULL;
    st_err e = ST_ERR_INIT;
    assert_int_equal(meta_sqlite_open(&b, f->path, &e), META_OK);
    EXPECT(META_OK, f->s, owner_renew, "owner-a", NOW, 60);
    EXPECT(META_OK, b, owner_renew, "owner-b", NOW, 60);
    return b;
}

/* One instance's restart (its recovery) never takes the other's upload in flight or its
 * reservation while that one renews its lease; the GC lease goes to one of them. */
static void test_sqlite_two_instances(void **state)
{
    fx *f = *state;
    meta_store *a = f->s, *b = second_store(f);
    blob_set got;
    meta_file file;

    file_make(&file, "org", "file-a", "batch", 10, NOW, 0);
    EXPECT(META_OK, a, intent_open, "org", file.blob, "owner-a", NOW);
    EXPECT(META_OK, a, intent_reserve, file.blob, 10, 100);
    assert_int_equal(reap(b, "owner-b", NOW + 30, &got), 0); /* b restarts */
    usage_is(b, "org", 0, 10);
    EXPECT(1, a, lease_take, "gc", "owner-a", NOW, 30);
    EXPECT(0, b, lease_take, "gc", "owner-b", NOW + 10, 30);
    EXPECT(META_OK, a, file_commit, &file, 100);
    usage_is(b, "org", 10, 0);
    meta_store_free(b);
}

/* An instance that died (no renewal) loses its intents to the other once its lease ran out. */
static void test_sqlite_instance_dies(void **state)
{
    fx *f = *state;
    meta_store *a = f->s, *b = second_store(f);
    char left[BLOB_KEY_LEN + 1];
    blob_set got;

    intent_with(a, "org", "owner-a", 5, left);
    EXPECT(1, a, lease_take, "gc", "owner-a", NOW, 30);
    assert_int_equal(reap(b, "owner-b", NOW + 59, &got), 0);
    assert_int_equal(reap(b, "owner-b", NOW + 60, &got), 1);
    assert_string_equal(got.keys[0], left);
    usage_is(a, "org", 0, 0);
    EXPECT(1, b, lease_take, "gc", "owner-b", NOW + 60, 30);
    meta_store_free(b);
}

/* The schema of a version 3 database (meta_sqlite.c's first three migrations, verbatim). */
static const char v3_schema[] =
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
    "  revoked_at INTEGER);"
    "CREATE TABLE files("
    "  id TEXT PRIMARY KEY,"
    "  org TEXT NOT NULL REFERENCES orgs(id),"
    "  purpose TEXT NOT NULL,"
    "  filename TEXT NOT NULL,"
    "  bytes INTEGER NOT NULL CHECK (bytes >= 0),"
    "  created_at INTEGER NOT NULL,"
    "  expires_at INTEGER,"
    "  blob TEXT NOT NULL UNIQUE);"
    "CREATE INDEX files_org_created ON files(org, created_at);"
    "CREATE INDEX files_org_purpose_created ON files(org, purpose, created_at);"
    "CREATE INDEX files_expires ON files(expires_at) WHERE expires_at IS NOT NULL;"
    "CREATE TABLE intents("
    "  blob TEXT PRIMARY KEY,"
    "  org TEXT NOT NULL REFERENCES orgs(id),"
    "  reserved INTEGER NOT NULL DEFAULT 0 CHECK (reserved >= 0),"
    "  created_at INTEGER NOT NULL);"
    "CREATE TABLE uploads("
    "  id TEXT PRIMARY KEY,"
    "  org TEXT NOT NULL REFERENCES orgs(id),"
    "  filename TEXT NOT NULL,"
    "  purpose TEXT NOT NULL,"
    "  bytes INTEGER NOT NULL CHECK (bytes >= 0),"
    "  mime_type TEXT NOT NULL,"
    "  expires_after_seconds INTEGER,"
    "  created_at INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL,"
    "  status TEXT NOT NULL CHECK (status IN ('pending', 'completed', 'cancelled', 'expired')),"
    "  file_id TEXT);"
    "CREATE INDEX uploads_status_expires ON uploads(status, expires_at);"
    "CREATE TABLE parts("
    "  id TEXT PRIMARY KEY,"
    "  upload_id TEXT NOT NULL REFERENCES uploads(id),"
    "  org TEXT NOT NULL REFERENCES orgs(id),"
    "  blob TEXT NOT NULL UNIQUE,"
    "  bytes INTEGER NOT NULL CHECK (bytes >= 0),"
    "  created_at INTEGER NOT NULL);"
    "CREATE INDEX parts_upload ON parts(upload_id, created_at, id);"
    "CREATE TABLE tombstones("
    "  id TEXT PRIMARY KEY,"
    "  org TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  pos INTEGER NOT NULL,"
    "  deleted_at INTEGER NOT NULL);"
    "CREATE INDEX tombstones_pos ON tombstones(pos);"
    "CREATE INDEX tombstones_deleted ON tombstones(deleted_at);"
    "PRAGMA user_version=3;";

#define BLOB_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define BLOB_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define BLOB_I "cccccccccccccccccccccccccccccccc"
#define BLOB_P "dddddddddddddddddddddddddddddddd"

/* What an argotd of schema version 3 left: two files, the tombstone of a third deleted after
 * them, an intent (v3 intents have no owner), a pending upload with a part, a key. */
static void v3_write(const char *path)
{
    sqlite3 *db;
    char sql[2048];
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, v3_schema, NULL, NULL, NULL), SQLITE_OK);
    (void)snprintf(
        sql, sizeof sql,
        "INSERT INTO orgs VALUES ('org', 18, 4);"
        "INSERT INTO api_keys VALUES ('key_1', zeroblob(32), 'org', 'old key', %d, NULL);"
        "INSERT INTO files(rowid, id, org, purpose, filename, bytes, created_at, expires_at, blob)"
        " VALUES (1, 'file-a', 'org', 'batch', 'a.jsonl', 10, %d, NULL, '" BLOB_A "'),"
        " (2, 'file-b', 'org', 'batch', 'b.jsonl', 5, %d, NULL, '" BLOB_B "');"
        "INSERT INTO tombstones VALUES ('file-gone', 'org', %d, 3, %d);"
        "INSERT INTO intents VALUES ('" BLOB_I "', 'org', 4, %d);"
        "INSERT INTO uploads VALUES ('upload_1', 'org', 'u.jsonl', 'fine-tune', 3,"
        " 'text/jsonl', NULL, %d, %d, 'pending', NULL);"
        "INSERT INTO parts VALUES ('part_1', 'upload_1', 'org', '" BLOB_P "', 3, %d);",
        NOW, NOW, NOW, NOW, NOW + 1, NOW, NOW, NOW + 3600, NOW);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

/* The files of org after pos (NULL: all) in the order asked, as ids. */
static ids list_after(meta_store *s, const meta_pos *pos, int desc)
{
    meta_list_req req = {.org = "org", .after = pos, .desc = desc, .limit = 100, .now = NOW};
    ids out = {.n = 0};
    int more;
    EXPECT(META_OK, s, file_list, &req, ids_cb, &out, &more);
    return out;
}

static void v3_check(meta_store *s)
{
    uint8_t zero[32] = {0};
    char org[META_ORG_MAX];
    meta_pos gone;
    meta_upload u;
    part_list parts = {.n = 0};

    EXPECT(META_OK, s, key_lookup, zero, org);
    assert_string_equal(org, "org");
    usage_is(s, "org", 18, 4);
    ids all = list_after(s, NULL, 0);
    assert_int_equal(all.n, 2);
    assert_string_equal(all.v[0], "file-a");
    assert_string_equal(all.v[1], "file-b");
    EXPECT(META_OK, s, file_position, "org", "file-gone", &gone); /* v3 tombstones still work */
    assert_int_equal(list_after(s, &gone, 0).n, 0);
    assert_int_equal(list_after(s, &gone, 1).n, 2);
    EXPECT(META_OK, s, upload_get, "org", "upload_1", &u);
    assert_int_equal(u.status, META_UPLOAD_PENDING);
    EXPECT(META_OK, s, upload_parts, "org", "upload_1", collect_part_cb, &parts);
    assert_int_equal(parts.n, 1);
    assert_string_equal(parts.v[0].blob, BLOB_P);
}

static void test_sqlite_migrate_v3(void **state)
{
    fx *f = *state;
    st_err e = ST_ERR_INIT;
    meta_store *s = NULL;
    meta_pos gone;
    blob_set got;
    char path[128];

    (void)snprintf(path, sizeof path, "%s/v3.db", f->dir);
    v3_write(path);
    assert_int_equal(meta_sqlite_open(&s, path, &e), META_OK);
    v3_check(s);
    /* a new file never takes a place before the v3 tombstone */
    put(s, "org", "file-new", 1, NOW);
    EXPECT(META_OK, s, file_position, "org", "file-gone", &gone);
    ids after = list_after(s, &gone, 0);
    assert_int_equal(after.n, 1);
    assert_string_equal(after.v[0], "file-new");
    /* the v3 intent belongs to no owner: the first recovery reaps it */
    assert_int_equal(reap(s, SELF, NOW, &got), 1);
    assert_string_equal(got.keys[0], BLOB_I);
    usage_is(s, "org", 19, 0);
    meta_store_free(s);
    assert_int_equal(meta_sqlite_open(&s, path, &e), META_OK); /* migrated once, kept */
    usage_is(s, "org", 19, 0);
    meta_store_free(s);
}

/* A database written by a newer argotd is refused rather than guessed at. */
static void test_sqlite_newer_schema(void **state)
{
    fx *f = *state;
    sqlite3 *db;
    char path[128];

    (void)snprintf(path, sizeof path, "%s/newer.db", f->dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version=999", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    open_fails(path, META_E_IO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        META_CONTRACT_TESTS,
        META_TEST(test_sqlite_caps),
        META_TEST(test_sqlite_modes_and_reopen),
        META_TEST(test_sqlite_open_errors),
        META_TEST(test_sqlite_busy),
        META_TEST(test_sqlite_two_instances),
        META_TEST(test_sqlite_instance_dies),
        META_TEST(test_sqlite_migrate_v3),
        META_TEST(test_sqlite_newer_schema),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
