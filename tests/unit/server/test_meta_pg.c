/*
 * The metadata backend contract on PostgreSQL (meta_pg.c), against a real PostgreSQL 15 that
 * this test starts on 127.0.0.1 (scripts/testsrv/pg-up.sh) and stops by its PID (pg-down.sh,
 * run by a watchdog process even if this one dies): the generic half (meta_contract.h) in a
 * fresh database per test, then what only this backend promises: migrations by several
 * processes and threads at once, quota, parts, completion and leases raced by two processes,
 * disjoint reapers, one connection per thread, lost connections (idle and inside a
 * transaction), serialization failures, deadlocks and a full disk mapped to their codes, and
 * no password in any message. Exits 77 (skipped, with a loud notice) only when PostgreSQL
 * cannot be installed or started here.
 */
#include "meta_contract.h"

#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "server/meta/meta_pg.h"

#ifndef ARGOT_SOURCE_DIR
#error "ARGOT_SOURCE_DIR must name the source tree (for scripts/testsrv/pg-*.sh)"
#endif

static char pg_dir[64]; /* the server's BASEDIR */
static int pg_port;
static int watchdog_fd = -1;   /* its closing (or our death) makes the watchdog stop the server */
static int watchdog_done = -1; /* reads EOF once the watchdog has stopped it */
static int db_count;
static char db_prev[32]; /* the previous test's database, dropped by the next fixture */

/* ---- the server ---- */

/* In the watchdog: waits until the test is gone, then stops the server. */
static void watchdog_run(int wait_fd)
{
    char down[512], b;
    ssize_t n;

    (void)snprintf(down, sizeof down, "%s/scripts/testsrv/pg-down.sh", ARGOT_SOURCE_DIR);
    do
        n = read(wait_fd, &b, 1);
    while (n > 0 || (n < 0 && errno == EINTR));
    execl(down, down, pg_dir, (char *)NULL);
    _exit(127);
}

/* A process that stops the server once this one is gone, however it goes (a crash, a kill,
 * ctest's timeout): detached (forked twice, its own session, deaf to ^C), so that killing this
 * process and its descendants does not kill it too. */
static int watchdog_start(void)
{
    int w[2], d[2], st;
    pid_t pid;

    if (pipe(w) != 0 || pipe(d) != 0)
        return -1;
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        close(w[1]), close(d[0]);
        if (setsid() < 0 || fork() != 0)
            _exit(0);
        signal(SIGINT, SIG_IGN), signal(SIGTERM, SIG_IGN), signal(SIGHUP, SIG_IGN);
        watchdog_run(w[0]); /* d[1] stays open in it, and in pg-down.sh, until the end */
    }
    close(w[0]), close(d[1]);
    watchdog_fd = w[1];
    watchdog_done = d[0];
    if (waitpid(pid, &st, 0) != pid)
        return -1;
    return fcntl(watchdog_fd, F_SETFD, FD_CLOEXEC) | fcntl(watchdog_done, F_SETFD, FD_CLOEXEC);
}

/* Stops the server (by letting the watchdog do it) and waits until it is down. */
static void pg_stop(void)
{
    ssize_t n = 0;
    char b;

    if (watchdog_fd >= 0)
        close(watchdog_fd);
    do
        n = watchdog_done >= 0 ? read(watchdog_done, &b, 1) : 0;
    while (n > 0 || (n < 0 && errno == EINTR));
}

/* 0: started; 1: skip (the reason is printed); -1: failed. */
static int pg_start(void)
{
    char cmd[600], uri[256] = "", skip[256];
    struct stat sb;
    FILE *p;

    strcpy(pg_dir, "/tmp/argot-pg-XXXXXX");
    if (!mkdtemp(pg_dir) || watchdog_start() != 0)
        return -1;
    (void)snprintf(cmd, sizeof cmd, "%s/scripts/testsrv/pg-up.sh %s", ARGOT_SOURCE_DIR, pg_dir);
    p = popen(cmd, "r");
    if (!p)
        return -1;
    if (!fgets(uri, sizeof uri, p))
        uri[0] = '\0';
    if (pclose(p) != 0)
        return -1;
    (void)snprintf(skip, sizeof skip, "%s/skip", pg_dir);
    if (stat(skip, &sb) == 0)
        return 1;
    const char *colon = strrchr(uri, ':');
    if (!colon || sscanf(colon + 1, "%d", &pg_port) != 1)
        return -1;
    return 0;
}

/* ---- direct connections (the test's own, beside the store's) ---- */

static void url_of(char *out, size_t cap, const char *userinfo, const char *db)
{
    (void)snprintf(out, cap, "postgresql://%s@127.0.0.1:%d/%s", userinfo, pg_port, db);
}

static PGconn *admin(const char *db)
{
    char url[128];
    url_of(url, sizeof url, "argot", db);
    PGconn *c = PQconnectdb(url);
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("connect %s: %s", db, PQerrorMessage(c));
    return c;
}

static PGresult *sqlv(PGconn *c, int must, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static PGresult *sqlv(PGconn *c, int must, const char *fmt, va_list ap)
{
    char q[1024];
    (void)vsnprintf(q, sizeof q, fmt, ap);
    PGresult *r = PQexec(c, q);
    ExecStatusType st = PQresultStatus(r);
    if (must && st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        fail_msg("%s: %s", q, PQerrorMessage(c));
    return r;
}

/* Runs a statement that must succeed. */
static void sql(PGconn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sql(PGconn *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    PQclear(sqlv(c, 1, fmt, ap));
    va_end(ap);
}

/* The first value of a query that must succeed, as an integer. */
static long long sql_int(PGconn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static long long sql_int(PGconn *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    PGresult *r = sqlv(c, 1, fmt, ap);
    va_end(ap);
    assert_true(PQntuples(r) >= 1);
    long long v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

/* Waits (up to 2 minutes, polling) until the query returns want. */
static void wait_int(PGconn *c, long long want, const char *q)
{
    for (int i = 0; i < 12000; i++) {
        if (sql_int(c, "%s", q) == want)
            return;
        usleep(10000);
    }
    fail_msg("%s never returned %lld", q, want);
}

/* A new, empty database. */
static void db_create(char *name, size_t cap)
{
    PGconn *c = admin("argot");
    (void)snprintf(name, cap, "t_%d", ++db_count);
    sql(c, "CREATE DATABASE %s", name);
    PQfinish(c);
}

static void db_drop(const char *name)
{
    PGconn *c = admin("argot");
    sql(c, "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
    PQfinish(c);
}

/* The generic suite's fixture: a store on a fresh database, whose URL goes to f->path. */
static int meta_fixture_open(fx *f)
{
    st_err e = ST_ERR_INIT;
    char db[32];

    if (db_prev[0])
        db_drop(db_prev);
    db_create(db, sizeof db);
    (void)snprintf(db_prev, sizeof db_prev, "%s", db);
    url_of(f->path, sizeof f->path, "argot", db);
    int rc = meta_pg_open(&f->s, f->path, &e);
    if (rc != META_OK)
        fprintf(stderr, "meta_pg_open %s: %s\n", f->path, e.msg);
    return rc;
}

/* The database name at the end of a URL. */
static const char *db_of(const char *url)
{
    return strrchr(url, '/') + 1;
}

/* Our store's sessions on db (they call themselves argotd). */
#define STORE_SESSIONS                                                                             \
    "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'argotd' AND datname = "

static long long sessions(PGconn *c, const char *db)
{
    return sql_int(c, STORE_SESSIONS "'%s'", db);
}

/* ---- child processes ---- */

/* Children start together: each says it is ready, then waits for the word. */
typedef struct gate {
    int ready[2], go[2];
} gate;

static void gate_init(gate *g)
{
    assert_int_equal(pipe(g->ready), 0);
    assert_int_equal(pipe(g->go), 0);
}

/* In a child. */
static void gate_pass(gate *g)
{
    char b = 'r';
    if (write(g->ready[1], &b, 1) != 1 || read(g->go[0], &b, 1) != 1)
        _exit(90);
}

/* In the parent: once n children are ready, lets them all go. */
static void gate_open(gate *g, int n)
{
    struct pollfd pfd = {.fd = g->ready[0], .events = POLLIN};
    char b;
    for (int i = 0; i < n; i++) {
        assert_int_equal(poll(&pfd, 1, 120000), 1);
        assert_int_equal(read(g->ready[0], &b, 1), 1);
    }
    for (int i = 0; i < n; i++)
        assert_int_equal(write(g->go[1], "g", 1), 1);
}

static void gate_close(gate *g)
{
    close(g->ready[0]), close(g->ready[1]), close(g->go[0]), close(g->go[1]);
}

/* A child: fn(arg, i) is its whole life, and its value its exit status. It never returns into
 * cmocka, nor touches the parent's connections (only _exit, which closes no session). */
static pid_t child(int (*fn)(void *, int), void *arg, int i)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(fn(arg, i));
    return pid;
}

static int child_wait(pid_t pid)
{
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* What a child reports back, in a file of the test's scratch directory. */
typedef struct tally {
    int ok, refused, errors, other;
    uint64_t mask; /* lease rounds won */
} tally;

static void tally_path(char *out, size_t cap, const fx *f, int i)
{
    (void)snprintf(out, cap, "%s/tally-%d", f->dir, i);
}

static int tally_write(const fx *f, int i, const tally *t)
{
    char path[128];
    tally_path(path, sizeof path, f, i);
    FILE *fp = fopen(path, "w");
    if (!fp)
        return 91;
    (void)fprintf(fp, "%d %d %d %d %llu\n", t->ok, t->refused, t->errors, t->other,
                  (unsigned long long)t->mask);
    return fclose(fp) == 0 ? 0 : 92;
}

static tally tally_read(const fx *f, int i)
{
    char path[128];
    unsigned long long mask = 0;
    tally t = {0};
    tally_path(path, sizeof path, f, i);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    assert_int_equal(fscanf(fp, "%d %d %d %d %llu", &t.ok, &t.refused, &t.errors, &t.other, &mask),
                     5);
    fclose(fp);
    t.mask = mask;
    return t;
}

static meta_store *child_open(const char *url)
{
    meta_store *s = NULL;
    st_err e = ST_ERR_INIT;
    if (meta_pg_open(&s, url, &e) != META_OK) {
        fprintf(stderr, "child: meta_pg_open: %s\n", e.msg);
        _exit(93);
    }
    return s;
}

/* ---- this backend ---- */

static void test_pg_caps(void **state)
{
    meta_store *s = ((fx *)*state)->s;
    char red[128];

    assert_string_equal(s->ops->name, "postgres");
    assert_int_equal(s->ops->caps, META_CAP_FILE_COUNT | META_CAP_SHARED | META_CAP_CLOCK);
    meta_pg_redact("postgresql://u:pa%40ss@h:1/db?sslmode=disable&password=x2", red, sizeof red);
    assert_string_equal(red, "postgresql://u:***@h:1/db?sslmode=disable&password=***");
    meta_pg_redact("postgres://u@h/db", red, sizeof red);
    assert_string_equal(red, "postgres://u@h/db");
    meta_pg_redact("postgres://u:secret@h/db", red, 12);
    assert_string_equal(red, "postgres://");
}

/* Opens f->path's schema from several processes at once: all succeed, one migrates. They are
 * made to meet inside the migration: the test holds the migration lock until every one of them
 * waits for it. */
#define MIGRATORS 6

static int migrate_child(void *arg, int i)
{
    const char *url = arg;
    meta_store *s = child_open(url);
    meta_key k = {.created_at = NOW};
    uint8_t h[32];
    st_err e = ST_ERR_INIT;

    (void)snprintf(k.id, sizeof k.id, "key-%d", i);
    (void)snprintf(k.org, sizeof k.org, "org");
    hash_of(h, i);
    int rc = s->ops->key_create(s, &k, h, &e);
    if (rc != META_OK)
        fprintf(stderr, "child %d: key_create: %s\n", i, e.msg);
    meta_store_free(s);
    return rc == META_OK ? 0 : 1;
}

#define MIGRATE_LOCK "hashtextextended('argot-schema', 0)"
#define WAITERS                                                                                    \
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database ="     \
    " (SELECT oid FROM pg_database WHERE datname = current_database())"

static void check_schema_once(PGconn *c, int keys)
{
    assert_true(sql_int(c, "SELECT count(*) FROM schema_version") >= 1);
    assert_int_equal(sql_int(c, "SELECT count(*) - count(DISTINCT version) FROM schema_version"),
                     0);
    assert_int_equal(sql_int(c, "SELECT max(version) - count(*) FROM schema_version"), 0);
    assert_int_equal(sql_int(c, "SELECT count(*) FROM pg_tables WHERE tablename = 'files'"), 1);
    assert_int_equal(sql_int(c, "SELECT count(*) FROM api_keys"), keys);
}

static void test_pg_migrate_processes(void **state)
{
    char db[32], url[96];
    pid_t pids[MIGRATORS];

    (void)state;
    db_create(db, sizeof db);
    url_of(url, sizeof url, "argot", db);
    PGconn *hold = admin(db);
    sql(hold, "SELECT pg_advisory_lock(" MIGRATE_LOCK ")");
    for (int i = 0; i < MIGRATORS; i++)
        pids[i] = child(migrate_child, url, i);
    wait_int(hold, MIGRATORS, WAITERS); /* all of them inside meta_pg_open, waiting */
    sql(hold, "SELECT pg_advisory_unlock(" MIGRATE_LOCK ")");
    for (int i = 0; i < MIGRATORS; i++)
        assert_int_equal(child_wait(pids[i]), 0);
    check_schema_once(hold, MIGRATORS);
    PQfinish(hold);
    db_drop(db);
}

typedef struct opener {
    const char *url;
    atomic_int failures;
} opener;

static void *open_thread(void *arg)
{
    opener *o = arg;
    meta_store *s = NULL;
    st_err e = ST_ERR_INIT;
    if (meta_pg_open(&s, o->url, &e) != META_OK)
        atomic_fetch_add(&o->failures, 1);
    meta_store_free(s);
    return NULL;
}

static void test_pg_migrate_threads(void **state)
{
    char db[32], url[96];
    pthread_t t[MIGRATORS];

    (void)state;
    db_create(db, sizeof db);
    url_of(url, sizeof url, "argot", db);
    opener o = {.url = url};
    PGconn *hold = admin(db);
    sql(hold, "SELECT pg_advisory_lock(" MIGRATE_LOCK ")");
    for (int i = 0; i < MIGRATORS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, open_thread, &o), 0);
    wait_int(hold, MIGRATORS, WAITERS);
    sql(hold, "SELECT pg_advisory_unlock(" MIGRATE_LOCK ")");
    for (int i = 0; i < MIGRATORS; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    assert_int_equal(atomic_load(&o.failures), 0);
    check_schema_once(hold, 0);
    PQfinish(hold);
    db_drop(db);
}

/* A schema newer than this argotd is refused, not guessed at. */
static void test_pg_newer_schema(void **state)
{
    fx *f = *state;
    meta_store *t = NULL;
    st_err e = ST_ERR_INIT;

    PGconn *c = admin(db_of(f->path));
    sql(c, "INSERT INTO schema_version(version) VALUES (999)");
    PQfinish(c);
    assert_int_equal(meta_pg_open(&t, f->path, &e), ST_E_IO);
    assert_null(t);
    assert_non_null(strstr(e.msg, "999"));
}

/* ---- two processes racing ---- */

#define RACERS      2
#define RACE_THREAD 2
#define QUOTA_TRIES 120
#define QUOTA_BYTES 1000
#define QUOTA_MAX   (QUOTA_BYTES * 97 + 500) /* exactly 97 files fit */

typedef struct racer {
    const fx *f;
    meta_store *s;
    gate *g;
    int proc;
    atomic_int ok, refused, errors, seq;
} racer;

static void quota_try(racer *r, const char *owner)
{
    meta_store *s = r->s;
    meta_file f;
    char id[48];
    int rc;

    (void)snprintf(id, sizeof id, "file-%d-%d", r->proc, atomic_fetch_add(&r->seq, 1));
    memset(&f, 0, sizeof f);
    (void)snprintf(f.id, sizeof f.id, "%s", id);
    (void)snprintf(f.org, sizeof f.org, "racers");
    (void)snprintf(f.purpose, sizeof f.purpose, "batch");
    (void)snprintf(f.filename, sizeof f.filename, "%s.jsonl", id);
    f.bytes = QUOTA_BYTES;
    f.created_at = NOW;
    if (blob_key_new(f.blob) != ST_OK ||
        s->ops->intent_open(s, "racers", f.blob, owner, NOW, NULL) != META_OK) {
        atomic_fetch_add(&r->errors, 1);
        return;
    }
    rc = s->ops->intent_reserve(s, f.blob, QUOTA_BYTES, QUOTA_MAX, NULL);
    if (rc == META_OK)
        rc = s->ops->file_commit(s, &f, QUOTA_MAX, NULL);
    else if (rc == META_E_QUOTA && s->ops->intent_drop(s, f.blob, NULL) != META_OK)
        rc = META_E_IO;
    atomic_fetch_add(rc == META_OK ? &r->ok : rc == META_E_QUOTA ? &r->refused : &r->errors, 1);
}

static void *quota_thread(void *arg)
{
    racer *r = arg;
    char owner[32];
    (void)snprintf(owner, sizeof owner, "proc-%d", r->proc);
    for (int i = 0; i < QUOTA_TRIES; i++)
        quota_try(r, owner);
    return NULL;
}

/* In a child: opens its own store, waits for the word, runs fn on RACE_THREAD threads and
 * reports the tally. */
static int race_child(racer *r, void *(*fn)(void *))
{
    pthread_t t[RACE_THREAD];
    r->s = child_open(r->f->path);
    gate_pass(r->g);
    for (int i = 0; i < RACE_THREAD; i++)
        if (pthread_create(&t[i], NULL, fn, r) != 0)
            return 94;
    for (int i = 0; i < RACE_THREAD; i++)
        pthread_join(t[i], NULL);
    tally tl = {atomic_load(&r->ok), atomic_load(&r->refused), atomic_load(&r->errors), 0, 0};
    meta_store_free(r->s);
    return tally_write(r->f, r->proc, &tl);
}

static int quota_child(void *arg, int i)
{
    racer *r = arg;
    r->proc = i;
    return race_child(r, quota_thread);
}

/* Runs fn in RACERS processes started together; sums their tallies. */
static tally race_processes(fx *f, int (*fn)(void *, int))
{
    pid_t pids[RACERS];
    gate g;
    racer r = {.f = f, .g = &g};
    tally sum = {0};

    gate_init(&g);
    for (int i = 0; i < RACERS; i++)
        pids[i] = child(fn, &r, i);
    gate_open(&g, RACERS);
    for (int i = 0; i < RACERS; i++)
        assert_int_equal(child_wait(pids[i]), 0);
    gate_close(&g);
    for (int i = 0; i < RACERS; i++) {
        tally t = tally_read(f, i);
        sum.ok += t.ok, sum.refused += t.refused, sum.errors += t.errors, sum.other += t.other;
        assert_true((sum.mask & t.mask) == 0); /* no lease round won twice */
        sum.mask |= t.mask;
    }
    return sum;
}

static void test_pg_quota_two_processes(void **state)
{
    fx *f = *state;
    meta_stats st;

    tally t = race_processes(f, quota_child);
    assert_int_equal(t.errors, 0);
    assert_int_equal(t.ok, QUOTA_MAX / QUOTA_BYTES);
    assert_int_equal(t.ok + t.refused, RACERS * RACE_THREAD * QUOTA_TRIES);
    usage_is(f->s, "racers", (int64_t)t.ok * QUOTA_BYTES, 0);
    EXPECT(META_OK, f->s, stats, &st);
    assert_int_equal(st.files, t.ok);
}

/* Parts of one upload from two processes: exactly parts_max bytes get in. */
#define PART_BYTES 100
#define PARTS_FIT  50
#define PART_TRIES 40

static int part_try(racer *r, const char *upload_id, int64_t parts_max)
{
    meta_store *s = r->s;
    meta_part p = {.bytes = PART_BYTES, .created_at = NOW};
    char owner[32];

    (void)snprintf(owner, sizeof owner, "proc-%d", r->proc);
    (void)snprintf(p.id, sizeof p.id, "part_%d_%d", r->proc, atomic_fetch_add(&r->seq, 1));
    (void)snprintf(p.upload_id, sizeof p.upload_id, "%s", upload_id);
    (void)snprintf(p.org, sizeof p.org, "org");
    if (blob_key_new(p.blob) != ST_OK ||
        s->ops->intent_open(s, "org", p.blob, owner, NOW, NULL) != META_OK)
        return META_E_IO;
    int rc = s->ops->part_commit(s, &p, NOW, BIG_MAX, parts_max, NULL);
    if (rc != META_OK && s->ops->intent_drop(s, p.blob, NULL) != META_OK)
        return META_E_IO;
    return rc;
}

static void *part_race_thread(void *arg)
{
    racer *r = arg;
    for (int i = 0; i < PART_TRIES; i++) {
        int rc = part_try(r, "upload_pp", PART_BYTES * PARTS_FIT);
        atomic_fetch_add(rc == META_OK ? &r->ok : rc == META_E_LIMIT ? &r->refused : &r->errors, 1);
    }
    return NULL;
}

static int part_child(void *arg, int i)
{
    racer *r = arg;
    r->proc = i;
    return race_child(r, part_race_thread);
}

static int part_sum_cb(const meta_part *p, void *userdata)
{
    *(int64_t *)userdata += p->bytes;
    return 0;
}

static void upload_new(meta_store *s, const char *id, int64_t bytes)
{
    meta_upload u = {.bytes = bytes, .created_at = NOW, .expires_at = NOW + 3600};
    (void)snprintf(u.id, sizeof u.id, "%s", id);
    (void)snprintf(u.org, sizeof u.org, "org");
    (void)snprintf(u.filename, sizeof u.filename, "%s.jsonl", id);
    (void)snprintf(u.purpose, sizeof u.purpose, "batch");
    (void)snprintf(u.mime_type, sizeof u.mime_type, "text/jsonl");
    EXPECT(META_OK, s, upload_create, &u);
}

static void test_pg_parts_two_processes(void **state)
{
    fx *f = *state;
    int64_t sum = 0;

    upload_new(f->s, "upload_pp", PART_BYTES * PARTS_FIT);
    tally t = race_processes(f, part_child);
    assert_int_equal(t.errors, 0);
    assert_int_equal(t.ok, PARTS_FIT);
    assert_int_equal(t.refused, RACERS * RACE_THREAD * PART_TRIES - PARTS_FIT);
    EXPECT(META_OK, f->s, upload_parts, "org", "upload_pp", part_sum_cb, &sum);
    assert_int_equal(sum, PART_BYTES * PARTS_FIT);
    usage_is(f->s, "org", sum, 0);
}

/* One process completes every upload while the other cancels them: each upload ends one way,
 * the loser sees STATE, and the usage follows the winners. */
#define DUEL_UPLOADS 24

static int duel_one(racer *r, int k)
{
    meta_store *s = r->s;
    char id[32];
    meta_upload out;

    (void)snprintf(id, sizeof id, "upload_d%02d", k);
    if (r->proc == 1)
        return s->ops->upload_cancel(s, "org", id, NOW, &out, NULL, NULL, NULL);
    meta_file f = {.bytes = 3 * PART_BYTES, .created_at = NOW};
    (void)snprintf(f.id, sizeof f.id, "file-d%02d", k);
    (void)snprintf(f.org, sizeof f.org, "org");
    (void)snprintf(f.purpose, sizeof f.purpose, "batch");
    (void)snprintf(f.filename, sizeof f.filename, "d%02d.jsonl", k);
    if (blob_key_new(f.blob) != ST_OK ||
        s->ops->intent_open(s, "org", f.blob, "proc-0", NOW, NULL) != META_OK)
        return META_E_IO;
    int rc = s->ops->upload_complete(s, id, &f, NOW, BIG_MAX, NULL, NULL, NULL);
    if (rc != META_OK && s->ops->intent_drop(s, f.blob, NULL) != META_OK)
        return META_E_IO;
    return rc;
}

static int duel_child(void *arg, int i)
{
    racer *r = arg;
    tally t = {0};

    r->proc = i;
    r->s = child_open(r->f->path);
    gate_pass(r->g);
    for (int k = 0; k < DUEL_UPLOADS; k++) {
        int rc = duel_one(r, i == 0 ? k : DUEL_UPLOADS - 1 - k); /* they meet in the middle */
        if (rc == META_OK)
            t.ok++;
        else if (rc == META_E_STATE)
            t.refused++;
        else
            t.errors++;
    }
    meta_store_free(r->s);
    return tally_write(r->f, i, &t);
}

static void test_pg_complete_cancel_duel(void **state)
{
    fx *f = *state;
    meta_stats st;
    int done = 0;

    racer one = {.f = f, .s = f->s};
    for (int k = 0; k < DUEL_UPLOADS; k++) {
        char id[32];
        (void)snprintf(id, sizeof id, "upload_d%02d", k);
        upload_new(f->s, id, 3 * PART_BYTES);
        for (int j = 0; j < 3; j++)
            assert_int_equal(part_try(&one, id, BIG_MAX), META_OK);
    }
    usage_is(f->s, "org", DUEL_UPLOADS * 3 * PART_BYTES, 0);
    tally t = race_processes(f, duel_child);
    assert_int_equal(t.errors, 0);
    assert_int_equal(t.ok, DUEL_UPLOADS);
    assert_int_equal(t.refused, DUEL_UPLOADS);
    for (int k = 0; k < DUEL_UPLOADS; k++) {
        char id[32];
        meta_upload u;
        int64_t sum = 0;
        (void)snprintf(id, sizeof id, "upload_d%02d", k);
        EXPECT(META_OK, f->s, upload_get, "org", id, &u);
        assert_true(u.status == META_UPLOAD_COMPLETED || u.status == META_UPLOAD_CANCELLED);
        done += u.status == META_UPLOAD_COMPLETED;
        EXPECT(META_OK, f->s, upload_parts, "org", id, part_sum_cb, &sum);
        assert_int_equal(sum, 0);
    }
    EXPECT(META_OK, f->s, stats, &st);
    assert_int_equal(st.files, done);
    print_message("completed %d, cancelled %d of %d\n", done, DUEL_UPLOADS - done, DUEL_UPLOADS);
    usage_is(f->s, "org", (int64_t)done * 3 * PART_BYTES, 0);
}

/* One process keeps committing parts while the other, once a tenth of them are in, completes
 * the upload: parts land before the completion (and go with it, recorded as blob tombstones) or are
 * refused with STATE after it; none survives it, and the usage is the file's bytes alone. */
#define STREAM_PARTS 200

static int part_count_cb(const meta_part *p, void *userdata)
{
    (void)p;
    ++*(int64_t *)userdata;
    return 0;
}

static int stream_child(void *arg, int i)
{
    racer *r = arg;
    tally t = {0};

    r->proc = i;
    r->s = child_open(r->f->path);
    gate_pass(r->g);
    for (int64_t n = 0; i == 1 && n < STREAM_PARTS / 10;) { /* let some parts in first */
        n = 0;
        if (r->s->ops->upload_parts(r->s, "org", "upload_s", part_count_cb, &n, NULL) != META_OK)
            return 98;
    }
    if (i == 1) {
        meta_file f = {.bytes = 7, .created_at = NOW};
        (void)snprintf(f.id, sizeof f.id, "file-streamed");
        (void)snprintf(f.org, sizeof f.org, "org");
        (void)snprintf(f.purpose, sizeof f.purpose, "batch");
        (void)snprintf(f.filename, sizeof f.filename, "streamed.jsonl");
        int rc = blob_key_new(f.blob) == ST_OK
                     ? r->s->ops->intent_open(r->s, "org", f.blob, "proc-1", NOW, NULL)
                     : META_E_IO;
        if (rc == META_OK)
            rc = r->s->ops->upload_complete(r->s, "upload_s", &f, NOW, BIG_MAX, NULL, NULL, NULL);
        t.other = rc == META_OK, t.errors = rc != META_OK;
    }
    for (int k = 0; i == 0 && k < STREAM_PARTS; k++) {
        int rc = part_try(r, "upload_s", BIG_MAX);
        if (rc == META_OK)
            t.ok++;
        else if (rc == META_E_STATE)
            t.refused++;
        else
            t.errors++;
    }
    meta_store_free(r->s);
    return tally_write(r->f, i, &t);
}

static void test_pg_parts_during_complete(void **state)
{
    fx *f = *state;
    meta_upload u;
    int64_t sum = 0;

    upload_new(f->s, "upload_s", 7);
    tally t = race_processes(f, stream_child);
    assert_int_equal(t.errors, 0);
    assert_int_equal(t.other, 1);
    assert_int_equal(t.ok + t.refused, STREAM_PARTS);
    print_message("parts committed before the completion: %d of %d\n", t.ok, STREAM_PARTS);
    EXPECT(META_OK, f->s, upload_get, "org", "upload_s", &u);
    assert_int_equal(u.status, META_UPLOAD_COMPLETED);
    EXPECT(META_OK, f->s, upload_parts, "org", "upload_s", part_sum_cb, &sum);
    assert_int_equal(sum, 0);
    usage_is(f->s, "org", 7, 0);
    PGconn *c = admin(db_of(f->path));
    assert_int_equal(sql_int(c, "SELECT count(*) FROM blob_tombs"), t.ok);
    PQfinish(c);
}

/* Two processes contend for one lease over 60 rounds, further apart than the lease lasts:
 * every round has exactly one holder. */
#define LEASE_ROUNDS 60

static int lease_child(void *arg, int i)
{
    racer *r = arg;
    char owner[32];
    tally t = {0};

    r->s = child_open(r->f->path);
    (void)snprintf(owner, sizeof owner, "instance-%d", i);
    if (r->s->ops->owner_renew(r->s, owner, NOW, 100000, NULL) != META_OK) /* alive throughout */
        return 97;
    gate_pass(r->g);
    for (int round = 0; round < LEASE_ROUNDS; round++) {
        int got = r->s->ops->lease_take(r->s, "gc", owner, NOW + 100 * round, 30, NULL);
        if (got == 1)
            t.mask |= (uint64_t)1 << round;
        else if (got != 0)
            t.errors++;
    }
    meta_store_free(r->s);
    return tally_write(r->f, i, &t);
}

static void test_pg_lease_two_processes(void **state)
{
    tally t = race_processes(*state, lease_child);
    assert_int_equal(t.errors, 0);
    assert_true(t.mask == ((uint64_t)1 << LEASE_ROUNDS) - 1); /* and none twice (race_processes) */
}

/* ---- reapers ---- */

#define DEAD_INTENTS  300
#define EXPIRED_FILES 450
#define EXPIRED_UPS   40

/* Each reaper writes what it took, one item a line, into its file. */
static void item_path(char *out, size_t cap, const fx *f, int i)
{
    (void)snprintf(out, cap, "%s/items-%d", f->dir, i);
}

static int item_blob_cb(const char *blob, void *userdata)
{
    return fprintf(userdata, "%s\n", blob) < 0;
}

static int item_file_cb(const meta_file *f, void *userdata)
{
    return fprintf(userdata, "%s\n", f->id) < 0;
}

static int reaper_child(void *arg, int i)
{
    racer *r = arg;
    char path[128], self[32];
    tally t = {0};
    int n;

    r->s = child_open(r->f->path);
    item_path(path, sizeof path, r->f, i);
    FILE *fp = fopen(path, "w");
    if (!fp)
        return 95;
    (void)snprintf(self, sizeof self, "reaper-%d", i);
    gate_pass(r->g);
    n = r->s->ops->intents_reap(r->s, self, NOW, item_blob_cb, fp, NULL);
    t.ok += n > 0 ? n : 0, t.errors += n < 0;
    while ((n = r->s->ops->expired_take(r->s, NOW, 25, item_file_cb, fp, NULL)) > 0)
        t.refused += n;
    t.errors += n < 0;
    while ((n = r->s->ops->upload_take_expired(r->s, NOW + 7200, 3, item_blob_cb, fp, NULL)) > 0)
        t.other += n;
    t.errors += n < 0;
    meta_store_free(r->s);
    return fclose(fp) != 0 ? 96 : tally_write(r->f, i, &t);
}

static void reap_fill(meta_store *s)
{
    char org[16], blob[BLOB_KEY_LEN + 1], id[32];

    for (int i = 0; i < DEAD_INTENTS; i++) {
        (void)snprintf(org, sizeof org, "org%d", i % 3);
        assert_int_equal(blob_key_new(blob), ST_OK);
        EXPECT(META_OK, s, intent_open, org, blob, "dead-owner", NOW);
        EXPECT(META_OK, s, intent_reserve, blob, 10, BIG_MAX);
    }
    for (int i = 0; i < EXPIRED_FILES; i++) {
        meta_file f;
        (void)snprintf(org, sizeof org, "org%d", i % 3);
        (void)snprintf(id, sizeof id, "file-x%03d", i);
        file_make(&f, org, id, "batch", 7, NOW - 10, NOW - i % 5);
        assert_int_equal(upload(s, &f, BIG_MAX), META_OK);
    }
    racer one = {.s = s};
    for (int i = 0; i < EXPIRED_UPS; i++) {
        (void)snprintf(id, sizeof id, "upload_x%02d", i);
        upload_new(s, id, 2 * PART_BYTES);
        assert_int_equal(part_try(&one, id, BIG_MAX), META_OK);
        assert_int_equal(part_try(&one, id, BIG_MAX), META_OK);
    }
}

/* Reads every line of both reapers' files: no line twice, n lines in all. */
static void items_disjoint(const fx *f, int n)
{
    char(*seen)[64] = calloc((size_t)n + 1, sizeof *seen), line[64];
    int k = 0;

    assert_non_null(seen);
    for (int i = 0; i < RACERS; i++) {
        char path[128];
        item_path(path, sizeof path, f, i);
        FILE *fp = fopen(path, "r");
        assert_non_null(fp);
        while (fgets(line, sizeof line, fp)) {
            assert_true(k < n);
            for (int j = 0; j < k; j++)
                assert_string_not_equal(seen[j], line);
            (void)snprintf(seen[k++], sizeof seen[0], "%s", line);
        }
        fclose(fp);
    }
    assert_int_equal(k, n);
    free(seen);
}

static void test_pg_reapers_disjoint(void **state)
{
    fx *f = *state;
    meta_stats st;

    reap_fill(f->s);
    tally t = race_processes(f, reaper_child);
    assert_int_equal(t.errors, 0);
    assert_int_equal(t.ok, DEAD_INTENTS);
    assert_int_equal(t.refused, EXPIRED_FILES);
    assert_int_equal(t.other, EXPIRED_UPS);
    items_disjoint(f, DEAD_INTENTS + EXPIRED_FILES + 2 * EXPIRED_UPS);
    for (int i = 0; i < 3; i++) {
        char org[16];
        (void)snprintf(org, sizeof org, "org%d", i);
        usage_is(f->s, org, 0, 0);
    }
    usage_is(f->s, "org", 0, 0);
    EXPECT(META_OK, f->s, stats, &st);
    assert_int_equal(st.files, 0);
    PGconn *c = admin(db_of(f->path));
    assert_int_equal(sql_int(c, "SELECT count(*) FROM blob_tombs"),
                     DEAD_INTENTS + EXPIRED_FILES + 2 * EXPIRED_UPS);
    assert_int_equal(sql_int(c, "SELECT count(*) FROM cursor_tombs"), EXPIRED_FILES);
    PQfinish(c);
}

/* ---- connections ---- */

#define CONN_THREADS 6

typedef struct conn_race {
    meta_store *s;
    pthread_barrier_t in, out;
    atomic_int errors;
} conn_race;

static void *conn_thread(void *arg)
{
    conn_race *cr = arg;
    int64_t used, reserved;
    if (cr->s->ops->org_usage(cr->s, "org", &used, &reserved, NULL) != META_OK)
        atomic_fetch_add(&cr->errors, 1);
    pthread_barrier_wait(&cr->in);
    pthread_barrier_wait(&cr->out);
    return NULL; /* the thread's exit closes its connection */
}

static void test_pg_connection_per_thread(void **state)
{
    fx *f = *state;
    pthread_t t[CONN_THREADS];
    conn_race cr = {.s = f->s};

    PGconn *c = admin("argot");
    assert_int_equal(sessions(c, db_of(f->path)), 1); /* the opening thread's */
    pthread_barrier_init(&cr.in, NULL, CONN_THREADS + 1);
    pthread_barrier_init(&cr.out, NULL, CONN_THREADS + 1);
    for (int i = 0; i < CONN_THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, conn_thread, &cr), 0);
    pthread_barrier_wait(&cr.in);
    assert_int_equal(sessions(c, db_of(f->path)), CONN_THREADS + 1);
    pthread_barrier_wait(&cr.out);
    for (int i = 0; i < CONN_THREADS; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    char q[160];
    (void)snprintf(q, sizeof q, STORE_SESSIONS "'%s'", db_of(f->path));
    wait_int(c, 1, q);
    assert_int_equal(atomic_load(&cr.errors), 0);
    PQfinish(c);
    pthread_barrier_destroy(&cr.in);
    pthread_barrier_destroy(&cr.out);
}

static void sqlstate_is(const st_err *e, const char *want)
{
    char got[6];
    meta_pg_sqlstate(e->sys, got);
    assert_string_equal(got, want);
    assert_non_null(strstr(e->msg, want));
}

/* An administrator terminates the store's session: the call that meets the dead connection
 * fails UNAVAILABLE (retryable), the next one connects again. */
static void test_pg_lost_connection(void **state)
{
    fx *f = *state;
    st_err e = ST_ERR_INIT;
    int64_t n = -1;

    put(f->s, "org", "file-1", 5, NOW);
    PGconn *c = admin("argot");
    assert_int_equal(sql_int(c,
                             "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                             " WHERE application_name = 'argotd' AND datname = '%s'",
                             db_of(f->path)),
                     1);
    char q[160];
    (void)snprintf(q, sizeof q, STORE_SESSIONS "'%s'", db_of(f->path));
    wait_int(c, 0, q);
    assert_int_equal(f->s->ops->key_count_active(f->s, &n, &e), ST_E_UNAVAILABLE);
    assert_int_equal(e.code, ST_E_UNAVAILABLE);
    assert_true(e.retryable);
    assert_string_equal(e.backend, "postgres");
    char st[6];
    meta_pg_sqlstate(e.sys, st);
    assert_true(strcmp(st, "57P01") == 0 || strcmp(st, "08006") == 0);
    EXPECT(META_OK, f->s, key_count_active, &n); /* connected again */
    assert_int_equal(n, 0);
    usage_is(f->s, "org", 5, 0);
    assert_int_equal(sessions(c, db_of(f->path)), 1);
    PQfinish(c);
}

/* A store call run on its own thread, for calls the test makes wait on a lock. */
typedef struct bg_call {
    meta_store *s;
    meta_file f;
    int op; /* 0: file_commit, 1: intent_reserve */
    int rc;
    st_err e;
    pthread_t t;
} bg_call;

static void *bg_thread(void *arg)
{
    bg_call *b = arg;
    st_err_clear(&b->e);
    if (b->op == 0)
        b->rc = b->s->ops->file_commit(b->s, &b->f, BIG_MAX, &b->e);
    else
        b->rc = b->s->ops->intent_reserve(b->s, b->f.blob, 5, BIG_MAX, &b->e);
    return NULL;
}

#define LOCK_WAITERS                                                                               \
    "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'argotd'"                      \
    " AND wait_event_type = 'Lock' AND datname = "

/* Starts the call and returns once its session waits for a lock. */
static void bg_start_waiting(bg_call *b, PGconn *c, const char *db)
{
    char q[200];
    assert_int_equal(pthread_create(&b->t, NULL, bg_thread, b), 0);
    (void)snprintf(q, sizeof q, LOCK_WAITERS "'%s'", db);
    wait_int(c, 1, q);
}

static void bg_intent(fx *f, bg_call *b, int op, const char *id)
{
    memset(b, 0, sizeof *b);
    b->s = f->s;
    b->op = op;
    file_make(&b->f, "org", id, "batch", 5, NOW, 0);
    EXPECT(META_OK, f->s, intent_open, "org", b->f.blob, SELF, NOW);
}

/* The connection dies inside a transaction (the commit waits on the organization's row, locked
 * by the test): UNAVAILABLE, nothing of it committed, and the retry succeeds. */
static void test_pg_lost_in_transaction(void **state)
{
    fx *f = *state;
    const char *db = db_of(f->path);
    bg_call b;

    put(f->s, "org", "file-0", 1, NOW);
    bg_intent(f, &b, 0, "file-1");
    PGconn *lock = admin(db), *c = admin("argot");
    sql(lock, "BEGIN");
    sql(lock, "SELECT 1 FROM orgs WHERE id = 'org' FOR UPDATE");
    bg_start_waiting(&b, c, db);
    sql(c,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name ="
        " 'argotd' AND wait_event_type = 'Lock' AND datname = '%s'",
        db);
    assert_int_equal(pthread_join(b.t, NULL), 0);
    sql(lock, "ROLLBACK");
    assert_int_equal(b.rc, ST_E_UNAVAILABLE);
    assert_true(b.e.retryable);
    EXPECT(1, f->s, blob_referenced, b.f.blob); /* the intent is still there */
    usage_is(f->s, "org", 1, 0);
    assert_int_equal(pthread_create(&b.t, NULL, bg_thread, &b), 0); /* the retry */
    assert_int_equal(pthread_join(b.t, NULL), 0);
    assert_int_equal(b.rc, META_OK);
    usage_is(f->s, "org", 6, 0);
    PQfinish(lock);
    PQfinish(c);
}

/* At REPEATABLE READ (an operator's default_transaction_isolation), a concurrent update of the
 * organization's row is a serialization failure: BUSY, retryable, SQLSTATE 40001; the retry
 * succeeds and the result is exact. */
static void test_pg_serialization_failure(void **state)
{
    fx *f = *state;
    const char *db = db_of(f->path);
    meta_store *rr = NULL;
    st_err e = ST_ERR_INIT;
    bg_call b;

    PGconn *c = admin("argot"), *lock = admin(db);
    sql(c, "ALTER DATABASE %s SET default_transaction_isolation = 'repeatable read'", db);
    assert_int_equal(meta_pg_open(&rr, f->path, &e), META_OK); /* new sessions: the new default */
    bg_intent(f, &b, 1, "file-1");
    b.s = rr;
    sql(lock, "BEGIN");
    sql(lock, "UPDATE orgs SET used_bytes = used_bytes WHERE id = 'org'");
    bg_start_waiting(&b, c, db);
    sql(lock, "COMMIT");
    assert_int_equal(pthread_join(b.t, NULL), 0);
    assert_int_equal(b.rc, ST_E_BUSY);
    assert_true(b.e.retryable);
    sqlstate_is(&b.e, "40001");
    usage_is(f->s, "org", 0, 0);
    assert_int_equal(pthread_create(&b.t, NULL, bg_thread, &b), 0);
    assert_int_equal(pthread_join(b.t, NULL), 0);
    assert_int_equal(b.rc, META_OK);
    usage_is(f->s, "org", 0, 5);
    meta_store_free(rr);
    PQfinish(lock);
    PQfinish(c);
}

/* A deadlock between the store and another session: the store's transaction is the one
 * PostgreSQL cancels (it waited first), and that is BUSY, retryable, SQLSTATE 40P01. */
static void test_pg_deadlock(void **state)
{
    fx *f = *state;
    const char *db = db_of(f->path);
    bg_call b;

    bg_intent(f, &b, 1, "file-1");
    PGconn *c = admin("argot"), *lock = admin(db);
    sql(lock, "BEGIN");
    sql(lock, "SET LOCAL deadlock_timeout = '60s'"); /* the store's session detects it first */
    sql(lock, "UPDATE orgs SET used_bytes = used_bytes WHERE id = 'org'");
    bg_start_waiting(&b, c, db); /* holds the intent, waits for the organization */
    sql(lock, "UPDATE intents SET reserved = reserved WHERE blob = '%s'", b.f.blob);
    assert_int_equal(pthread_join(b.t, NULL), 0);
    sql(lock, "ROLLBACK");
    assert_int_equal(b.rc, ST_E_BUSY);
    assert_true(b.e.retryable);
    sqlstate_is(&b.e, "40P01");
    usage_is(f->s, "org", 0, 0);
    PQfinish(lock);
    PQfinish(c);
}

/* A lock held past lock_timeout (10 s by default; here 200 ms, from the URL's options, which
 * win over the backend's) is BUSY, retryable, SQLSTATE 55P03. */
static void test_pg_lock_timeout(void **state)
{
    fx *f = *state;
    char url[160];
    meta_store *t = NULL;
    st_err e = ST_ERR_INIT;
    char blob[BLOB_KEY_LEN + 1];

    (void)snprintf(url, sizeof url, "%s?options=-c%%20lock_timeout%%3D200", f->path);
    assert_int_equal(meta_pg_open(&t, url, &e), META_OK);
    assert_int_equal(blob_key_new(blob), ST_OK);
    EXPECT(META_OK, t, intent_open, "org", blob, SELF, NOW);
    PGconn *lock = admin(db_of(f->path));
    sql(lock, "BEGIN");
    sql(lock, "SELECT 1 FROM orgs WHERE id = 'org' FOR UPDATE");
    assert_int_equal(t->ops->intent_reserve(t, blob, 5, BIG_MAX, &e), ST_E_BUSY);
    assert_true(e.retryable);
    sqlstate_is(&e, "55P03");
    sql(lock, "ROLLBACK");
    EXPECT(META_OK, t, intent_reserve, blob, 5, BIG_MAX);
    usage_is(f->s, "org", 0, 5);
    meta_store_free(t);
    PQfinish(lock);
}

/* The server reports a full disk (injected by a trigger, with the SQLSTATE PostgreSQL uses
 * for it): NOSPC, not retryable, nothing committed. */
static void test_pg_disk_full(void **state)
{
    fx *f = *state;
    meta_file g;
    st_err e = ST_ERR_INIT;

    PGconn *c = admin(db_of(f->path));
    sql(c, "CREATE FUNCTION full_disk() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
           " RAISE EXCEPTION USING ERRCODE = 'disk_full', MESSAGE = 'could not extend file:"
           " No space left on device'; END $$");
    sql(c, "CREATE TRIGGER disk_full BEFORE INSERT ON files FOR EACH ROW EXECUTE FUNCTION "
           "full_disk()");
    file_make(&g, "org", "file-1", "batch", 5, NOW, 0);
    EXPECT(META_OK, f->s, intent_open, "org", g.blob, SELF, NOW);
    assert_int_equal(f->s->ops->file_commit(f->s, &g, BIG_MAX, &e), ST_E_NOSPC);
    assert_false(e.retryable);
    sqlstate_is(&e, "53100");
    assert_non_null(strstr(e.msg, "No space left"));
    EXPECT(1, f->s, blob_referenced, g.blob);
    usage_is(f->s, "org", 0, 0);
    sql(c, "DROP TRIGGER disk_full ON files");
    EXPECT(META_OK, f->s, file_commit, &g, BIG_MAX);
    PQfinish(c);
}

/* ---- URLs, passwords and errors at open ---- */

static void open_fails(const char *url, st_code want, const char *secret, const char *text)
{
    meta_store *s = NULL;
    st_err e = ST_ERR_INIT;
    assert_int_equal(meta_pg_open(&s, url, &e), want);
    assert_null(s);
    assert_int_equal(e.code, want);
    assert_int_equal(e.retryable, want == ST_E_UNAVAILABLE);
    assert_string_equal(e.backend, "postgres");
    assert_null(strstr(e.msg, secret));
    if (text && !strstr(e.msg, text))
        fail_msg("\"%s\" lacks \"%s\"", e.msg, text);
}

static void hba_path(char *out, size_t cap)
{
    (void)snprintf(out, cap, "%s/data/pg_hba.conf", pg_dir);
}

/* The server's pg_hba.conf (to free). */
static char *hba_read(void)
{
    char path[128], *text = calloc(1, 1 << 16);
    hba_path(path, sizeof path);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    assert_non_null(text);
    assert_true(fread(text, 1, (1 << 16) - 1, fp) < (1 << 16) - 1);
    fclose(fp);
    return text;
}

/* Makes first + rest the server's pg_hba.conf and reloads it. */
static void hba_write(PGconn *c, const char *first, const char *rest)
{
    char path[128];
    hba_path(path, sizeof path);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fprintf(fp, "%s%s", first, rest);
    assert_int_equal(fclose(fp), 0);
    sql(c, "SELECT pg_reload_conf()");
}

/* A login with a password (scram-sha-256 for this role, added to pg_hba.conf): no message of
 * a failed or broken connection ever shows the password, whichever way the URL carries it. */
static void test_pg_no_password(void **state)
{
    char url[192];
    st_err e = ST_ERR_INIT;
    meta_store *s = NULL;
    int64_t k;

    (void)state;
    PGconn *c = admin("argot");
    sql(c, "CREATE ROLE argot_pw LOGIN PASSWORD 'Right-Pw-42'");
    sql(c, "CREATE DATABASE pwdb OWNER argot_pw");
    char *old = hba_read();
    hba_write(c, "host all argot_pw 127.0.0.1/32 scram-sha-256\n", old);

    url_of(url, sizeof url, "argot_pw:Wr0ng-S3cret", "pwdb");
    open_fails(url, ST_E_UNAVAILABLE, "Wr0ng-S3cret", "password authentication failed");
    url_of(url, sizeof url, "argot_pw", "pwdb?password=Qu3ry-S3cret");
    open_fails(url, ST_E_UNAVAILABLE, "Qu3ry-S3cret", "08001");
    url_of(url, sizeof url, "argot_pw:Bad%zzS3cret", "pwdb");
    open_fails(url, ST_E_INVALID, "S3cret", "percent");
    open_fails("postgresql://u:P1ain-S3cret@127.0.0.1:1/x", ST_E_UNAVAILABLE, "P1ain-S3cret",
               "08001");
    open_fails("mysql://u:P1ain-S3cret@h/x", ST_E_INVALID, "P1ain-S3cret", NULL);
    open_fails("postgresql://u:P1ain-S3cret@[::1/x", ST_E_INVALID, "P1ain-S3cret", NULL);

    /* The right password: it works, and a broken session's message lacks it too. */
    url_of(url, sizeof url, "argot_pw:Right-Pw-42", "pwdb");
    assert_int_equal(meta_pg_open(&s, url, &e), META_OK);
    sql(c, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'argot_pw'");
    wait_int(c, 0, "SELECT count(*) FROM pg_stat_activity WHERE usename = 'argot_pw'");
    assert_int_equal(s->ops->key_count_active(s, &k, &e), ST_E_UNAVAILABLE);
    assert_null(strstr(e.msg, "Right-Pw-42"));
    EXPECT(META_OK, s, key_count_active, &k);
    meta_store_free(s);
    hba_write(c, "", old);
    free(old);
    sql(c, "DROP DATABASE pwdb WITH (FORCE)");
    sql(c, "DROP ROLE argot_pw");
    PQfinish(c);
}

static void test_pg_open_errors(void **state)
{
    char url[128];
    (void)state;
    open_fails("", ST_E_INVALID, "\x01", NULL);
    open_fails("/tmp/meta.db", ST_E_INVALID, "\x01", "not a PostgreSQL URL");
    url_of(url, sizeof url, "argot", "no_such_db");
    open_fails(url, ST_E_UNAVAILABLE, "\x01", "no_such_db");
    st_err e = ST_ERR_INIT;
    assert_int_equal(meta_pg_open(NULL, url, &e), ST_E_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        META_CONTRACT_TESTS,
        META_TEST(test_pg_caps),
        META_TEST(test_pg_migrate_processes),
        META_TEST(test_pg_migrate_threads),
        META_TEST(test_pg_newer_schema),
        META_TEST(test_pg_quota_two_processes),
        META_TEST(test_pg_parts_two_processes),
        META_TEST(test_pg_complete_cancel_duel),
        META_TEST(test_pg_parts_during_complete),
        META_TEST(test_pg_lease_two_processes),
        META_TEST(test_pg_reapers_disjoint),
        META_TEST(test_pg_connection_per_thread),
        META_TEST(test_pg_lost_connection),
        META_TEST(test_pg_lost_in_transaction),
        META_TEST(test_pg_serialization_failure),
        META_TEST(test_pg_deadlock),
        META_TEST(test_pg_lock_timeout),
        META_TEST(test_pg_disk_full),
        META_TEST(test_pg_no_password),
        META_TEST(test_pg_open_errors),
    };
    int rc = pg_start();
    if (rc != 0) {
        fprintf(stderr, "\n*** %s the PostgreSQL metadata tests: PostgreSQL 15 %s ***\n\n",
                rc > 0 ? "SKIPPING" : "FAILING",
                rc > 0 ? "cannot be installed here (see above)" : "did not start");
        pg_stop();
        return rc > 0 ? 77 : 1;
    }
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    if (db_prev[0])
        db_drop(db_prev);
    pg_stop();
    return rc;
}
