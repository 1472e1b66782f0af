/*
 * The storage frontend's retries on a real PostgreSQL 15 (started by scripts/testsrv/pg-up.sh,
 * stopped by a watchdog): connections lost exactly at one step of a store_* call, through a
 * TCP proxy between the store and the server that understands the PostgreSQL wire protocol
 * well enough to cut a session at a chosen statement, either before the statement reaches the
 * server (nothing was done) or after the server answered it (it was done, committed, and the
 * answer is lost); sessions terminated between two steps (pg_terminate_backend); serialization
 * failures raised by a trigger; and the bound on retries. Each case checks the store's rows
 * and usage afterwards: a change made exactly once, never reported as a failure.
 * Exits 77 (skipped, loudly) only where PostgreSQL cannot be installed or started.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "pg_testsrv.h"
#include "server/blob/blob.h"
#include "server/keys.h"
#include "server/meta/meta_pg.h"
#include "server/store/store.h"

/* ---- the proxy ---- */

enum { CUT_NONE, CUT_BEFORE, CUT_AFTER };

typedef struct cut_plan {
    pthread_mutex_t mu;
    int mode;       /* CUT_*: armed once, fired once */
    char match[64]; /* a statement whose SQL contains this */
    int fired;
} cut_plan;

static cut_plan plan = {PTHREAD_MUTEX_INITIALIZER, CUT_NONE, "", 0};
static int proxy_port;

static void cut_arm(int mode, const char *match)
{
    pthread_mutex_lock(&plan.mu);
    plan.mode = mode;
    plan.fired = 0;
    (void)snprintf(plan.match, sizeof plan.match, "%s", match);
    pthread_mutex_unlock(&plan.mu);
}

static int cut_fired(void)
{
    pthread_mutex_lock(&plan.mu);
    int f = plan.fired;
    plan.mode = CUT_NONE;
    pthread_mutex_unlock(&plan.mu);
    return f;
}

/* The mode to cut with if sql is the armed statement (and disarms), else CUT_NONE. */
static int cut_take(const char *sql)
{
    int mode = CUT_NONE;
    pthread_mutex_lock(&plan.mu);
    if (plan.mode != CUT_NONE && strstr(sql, plan.match)) {
        mode = plan.mode;
        plan.mode = CUT_NONE;
        plan.fired = 1;
    }
    pthread_mutex_unlock(&plan.mu);
    return mode;
}

#define STMTS   64
#define BUF_CAP (1 << 20)

typedef struct pbuf {
    unsigned char *d;
    size_t n;
} pbuf;

typedef struct relay {
    int c, u; /* client (the store) and upstream (the server) */
    int started;
    int cut;     /* CUT_AFTER pending: forward up to the Sync, then wait for ReadyForQuery */
    int at_sync; /* the cut happens at the next Sync (extended protocol) */
    int muted;   /* the server's answers are no longer passed on */
    int waiting; /* the cut statement went out: close once the server is ready again */
    char names[STMTS][16];
    char sqls[STMTS][512];
    pbuf in, out; /* client->server and server->client, unparsed */
} relay;

static int send_all(int fd, const void *p, size_t n)
{
    const unsigned char *b = p;
    while (n) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w <= 0)
            return -1;
        b += w, n -= (size_t)w;
    }
    return 0;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void remember(relay *r, const char *name, const char *sql)
{
    int slot = 0;
    for (int i = 0; i < STMTS; i++)
        if (!strcmp(r->names[i], name) || !r->names[i][0]) {
            slot = i;
            break;
        }
    (void)snprintf(r->names[slot], sizeof r->names[0], "%.15s", name);
    (void)snprintf(r->sqls[slot], sizeof r->sqls[0], "%.511s", sql);
}

static const char *sql_of(relay *r, const char *name)
{
    for (int i = 0; i < STMTS; i++)
        if (!strcmp(r->names[i], name))
            return r->sqls[i];
    return "";
}

/* One client message (type t, body b of n bytes): -1 to close now, 0 to forward. */
static int client_msg(relay *r, unsigned char t, const char *b, size_t n)
{
    int mode = CUT_NONE;
    if (t == 'P' && n > 2) /* Parse: name, query */
        remember(r, b, b + strlen(b) + 1);
    else if (t == 'B' && n > 2) /* Bind: portal, statement */
        mode = cut_take(sql_of(r, b + strlen(b) + 1));
    else if (t == 'Q')
        mode = cut_take(b);
    if (mode == CUT_BEFORE)
        return -1;
    if (mode == CUT_AFTER) {
        r->muted = 1;
        if (t == 'Q')
            r->waiting = 1;
        else
            r->at_sync = 1;
    } else if (t == 'S' && r->at_sync) {
        r->at_sync = 0;
        r->waiting = 1;
    }
    return 0;
}

/* Parses what arrived from the client: forwards whole messages, or closes (-1). */
static int from_client(relay *r)
{
    size_t off = 0;
    while (r->in.n - off >= 4) {
        unsigned char *p = r->in.d + off;
        if (!r->started) { /* the startup message has no type byte */
            uint32_t len = be32(p);
            if (r->in.n - off < len)
                break;
            r->started = be32(p + 4) != 80877103; /* an SSLRequest comes before it */
            if (send_all(r->u, p, len))
                return -1;
            off += len;
            continue;
        }
        if (r->in.n - off < 5)
            break;
        uint32_t len = be32(p + 1);
        if (r->in.n - off < len + 1)
            break;
        char body[4096];
        size_t bn = len - 4 < sizeof body - 1 ? len - 4 : sizeof body - 1;
        memcpy(body, p + 5, bn);
        body[bn] = '\0';
        if (client_msg(r, p[0], body, bn) || send_all(r->u, p, len + 1))
            return -1;
        off += len + 1;
    }
    memmove(r->in.d, r->in.d + off, r->in.n - off);
    r->in.n -= off;
    return 0;
}

/* Passes the server's answers on (unless muted); -1 once a waited-for ReadyForQuery came. */
static int from_server(relay *r)
{
    size_t off = 0;
    while (r->out.n - off >= 5) {
        unsigned char *p = r->out.d + off;
        uint32_t len = be32(p + 1);
        if (r->out.n - off < len + 1)
            break;
        if (!r->muted && send_all(r->c, p, len + 1))
            return -1;
        off += len + 1;
        if (p[0] == 'Z' && r->waiting)
            return -1; /* done by the server, its answer lost */
    }
    memmove(r->out.d, r->out.d + off, r->out.n - off);
    r->out.n -= off;
    return 0;
}

static int fill(int fd, pbuf *b)
{
    if (b->n == BUF_CAP)
        return -1;
    ssize_t n = recv(fd, b->d + b->n, BUF_CAP - b->n, 0);
    if (n <= 0)
        return -1;
    b->n += (size_t)n;
    return 0;
}

static void *relay_run(void *arg)
{
    relay *r = arg;
    struct pollfd pf[2] = {{r->c, POLLIN, 0}, {r->u, POLLIN, 0}};
    for (;;) {
        if (poll(pf, 2, -1) < 0 && errno != EINTR)
            break;
        if ((pf[0].revents & (POLLIN | POLLHUP | POLLERR)) &&
            (fill(r->c, &r->in) || from_client(r)))
            break;
        if ((pf[1].revents & (POLLIN | POLLHUP | POLLERR)) &&
            (fill(r->u, &r->out) || from_server(r)))
            break;
    }
    close(r->c);
    close(r->u);
    free(r->in.d);
    free(r->out.d);
    free(r);
    return NULL;
}

static int tcp_to(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void *accept_run(void *arg)
{
    int lfd = (int)(intptr_t)arg;
    for (;;) {
        int c = accept(lfd, NULL, NULL);
        if (c < 0)
            continue;
        relay *r = calloc(1, sizeof *r);
        int u = tcp_to(pg_port);
        if (!r || u < 0 || !(r->in.d = malloc(BUF_CAP)) || !(r->out.d = malloc(BUF_CAP))) {
            close(c);
            if (u >= 0)
                close(u);
            if (r)
                free(r->in.d), free(r);
            continue;
        }
        r->c = c, r->u = u;
        pthread_t t;
        if (pthread_create(&t, NULL, relay_run, r) == 0)
            pthread_detach(t);
    }
    return NULL;
}

static int proxy_start(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) || listen(lfd, 64) ||
        getsockname(lfd, (struct sockaddr *)&a, &al))
        return -1;
    proxy_port = ntohs(a.sin_port);
    pthread_t t;
    if (pthread_create(&t, NULL, accept_run, (void *)(intptr_t)lfd))
        return -1;
    return pthread_detach(t);
}

/* ---- fixture: a store on a fresh database, reached through the proxy ---- */

#define ORG      "org-r"
#define ORG_MAX  ((int64_t)1 << 30)
#define BODY_LEN 1000

typedef struct fx {
    char db[32];
    PGconn *admin; /* the test's own connection, straight to the server */
    meta_store *m;
    blob_store *b;
    store *s;
} fx;

static int db_count;

static void fx_open_store(fx *f, int retries)
{
    char url[160];
    st_err e = ST_ERR_INIT;
    (void)snprintf(url, sizeof url,
                   "postgresql://argot@127.0.0.1:%d/%s?sslmode=disable&gssencmode=disable",
                   proxy_port, f->db);
    if (meta_pg_open(&f->m, url, &e) != ST_OK || blob_mem_open(&f->b, &e) != ST_OK)
        fail_msg("open: %s", e.msg);
    store_limits lim = {.org_max = ORG_MAX,
                        .file_max = ORG_MAX,
                        .batch_max = ORG_MAX,
                        .upload_max = ORG_MAX,
                        .part_max = ORG_MAX,
                        .cursor_ttl = 86400,
                        .lease_ttl = 30,
                        .meta_retries = retries};
    if (store_open(&f->s, f->m, f->b, &lim, 0, &e) != ST_OK)
        fail_msg("store_open: %s", e.msg);
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    (void)snprintf(f->db, sizeof f->db, "r_%d", ++db_count);
    PGconn *c = pg_admin("argot");
    pg_sql(c, "CREATE DATABASE %s", f->db);
    PQfinish(c);
    fx_open_store(f, 3);
    f->admin = pg_admin(f->db);
    *state = f;
    return 0;
}

static void fx_close_store(fx *f)
{
    store_free(f->s);
    blob_store_free(f->b);
    meta_store_free(f->m);
    f->s = NULL, f->b = NULL, f->m = NULL;
}

static int teardown(void **state)
{
    fx *f = *state;
    cut_arm(CUT_NONE, "");
    fx_close_store(f);
    PQfinish(f->admin);
    PGconn *c = pg_admin("argot");
    pg_sql(c, "DROP DATABASE IF EXISTS %s WITH (FORCE)", f->db);
    PQfinish(c);
    free(f);
    return 0;
}

/* ---- helpers ---- */

static void retries_are(fx *f, int64_t retries, int64_t resolved)
{
    int64_t r = -1, v = -1;
    store_retry_stats(f->s, &r, &v);
    assert_int_equal(r, retries);
    assert_int_equal(v, resolved);
}

/* A change whose answer was lost after it was made: it is found made (resolved once). Whether
 * it was tried again first depends on how long the lost attempt took (the frontend repeats only
 * attempts that failed within a second, retry.c), which a loaded machine decides: either way the
 * change is resolved, and never made twice (the callers count the rows). */
static void lost_resolved(fx *f)
{
    int64_t r = -1, v = -1;
    store_retry_stats(f->s, &r, &v);
    assert_in_range(r, 0, 1);
    assert_int_equal(v, 1);
}

static void usage_is(fx *f, int64_t used, int64_t reserved)
{
    assert_int_equal(pg_int(f->admin, "SELECT coalesce(sum(used_bytes), 0) FROM orgs"), used);
    assert_int_equal(pg_int(f->admin, "SELECT coalesce(sum(reserved_bytes), 0) FROM orgs"),
                     reserved);
}

static long long rows(fx *f, const char *table)
{
    return pg_int(f->admin, "SELECT count(*) FROM %s", table);
}

static void must(int rc, const st_err *e, const char *what)
{
    if (rc != ST_OK)
        fail_msg("%s: %d %s (%s)", what, rc, st_code_name((st_code)rc), e->msg);
}

/* An ingest of BODY_LEN bytes begun (declared: with that length) and written. */
static store_ingest *ingest_written(fx *f, int declared, int kind)
{
    static char body[BODY_LEN];
    store_ingest *g = NULL;
    st_err e = ST_ERR_INIT;
    memset(body, 'x', sizeof body);
    must(store_ingest_begin(f->s, ORG, declared ? BODY_LEN : -1, 0, ORG_MAX, kind, &g, &e), &e,
         "ingest_begin");
    must(store_ingest_write(g, body, sizeof body, &e), &e, "ingest_write");
    return g;
}

static int ingest_commit_file(store_ingest *g, meta_file *f, st_err *e)
{
    memset(f, 0, sizeof *f);
    (void)snprintf(f->purpose, sizeof f->purpose, "assistants");
    (void)snprintf(f->filename, sizeof f->filename, "a.txt");
    f->created_at = 1700000000;
    return store_ingest_file(g, f, e);
}

/* A file of BODY_LEN bytes, with no fault. */
static void file_put(fx *f, meta_file *out)
{
    st_err e = ST_ERR_INIT;
    store_ingest *g = ingest_written(f, 0, STORE_INGEST_FILE);
    must(ingest_commit_file(g, out, &e), &e, "ingest_file");
    store_ingest_free(g);
}

/* The one file row is the one the store reported, with its blob readable. */
static void file_row_is(fx *f, const meta_file *mf)
{
    assert_int_equal(rows(f, "files"), 1);
    assert_int_equal(pg_int(f->admin, "SELECT count(*) FROM files WHERE id = '%s' AND blob = '%s'",
                            mf->id, mf->blob),
                     1);
    blob_reader *r = NULL;
    uint64_t size = 0;
    st_err e = ST_ERR_INIT;
    must(store_file_open(f->s, mf, 0, BLOB_TO_END, &r, &size, &e), &e, "file_open");
    assert_int_equal(size, BODY_LEN);
    blob_reader_close(r);
}

/* ---- a file's commit ---- */

/* Cut after the server committed: the retry finds the intent gone and the row in. */
static void test_file_commit_lost_after(void **state)
{
    fx *f = *state;
    meta_file mf;
    st_err e = ST_ERR_INIT;
    store_ingest *g = ingest_written(f, 0, STORE_INGEST_FILE);
    cut_arm(CUT_AFTER, "COMMIT");
    must(ingest_commit_file(g, &mf, &e), &e, "ingest_file");
    store_ingest_free(g);
    assert_true(cut_fired());
    lost_resolved(f);
    file_row_is(f, &mf);
    assert_int_equal(rows(f, "intents"), 0);
    usage_is(f, BODY_LEN, 0);
}

/* Cut before the COMMIT reached the server: rolled back, the retry commits. */
static void test_file_commit_lost_before(void **state)
{
    fx *f = *state;
    meta_file mf;
    st_err e = ST_ERR_INIT;
    store_ingest *g = ingest_written(f, 0, STORE_INGEST_FILE);
    cut_arm(CUT_BEFORE, "COMMIT");
    must(ingest_commit_file(g, &mf, &e), &e, "ingest_file");
    store_ingest_free(g);
    assert_true(cut_fired());
    retries_are(f, 1, 0);
    file_row_is(f, &mf);
    assert_int_equal(rows(f, "intents"), 0);
    usage_is(f, BODY_LEN, 0);
}

/* An administrator terminates the session between the intent and the commit. */
static void test_terminated_between_steps(void **state)
{
    fx *f = *state;
    meta_file mf;
    st_err e = ST_ERR_INIT;
    store_ingest *g = ingest_written(f, 0, STORE_INGEST_FILE);
    assert_int_equal(pg_int(f->admin,
                            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                            " WHERE application_name = 'argotd' AND datname = '%s'",
                            f->db),
                     1);
    for (int i = 0; i < 1000 && pg_int(f->admin,
                                       "SELECT count(*) FROM pg_stat_activity WHERE"
                                       " application_name = 'argotd' AND datname = '%s'",
                                       f->db) > 0;
         i++)
        usleep(10000);
    must(ingest_commit_file(g, &mf, &e), &e, "ingest_file");
    store_ingest_free(g);
    retries_are(f, 1, 0);
    file_row_is(f, &mf);
    usage_is(f, BODY_LEN, 0);
}

/* ---- intents ---- */

/* The intent's INSERT done, its answer lost: the retry's CONFLICT on our own fresh key is the
 * lost attempt's success. */
static void test_intent_open_lost_after(void **state)
{
    fx *f = *state;
    meta_file mf;
    st_err e = ST_ERR_INIT;
    cut_arm(CUT_AFTER, "INSERT INTO intents");
    store_ingest *g = ingest_written(f, 0, STORE_INGEST_FILE);
    assert_true(cut_fired());
    lost_resolved(f);
    assert_int_equal(rows(f, "intents"), 1);
    must(ingest_commit_file(g, &mf, &e), &e, "ingest_file");
    store_ingest_free(g);
    file_row_is(f, &mf);
    assert_int_equal(rows(f, "intents"), 0);
}

/* The reservation committed, its answer lost: adding it again would hold twice as much, so
 * the intent is dropped (releasing it) and a new one reserved. Exactly BODY_LEN is held. */
static void test_intent_reserve_lost_after(void **state)
{
    fx *f = *state;
    meta_file mf;
    st_err e = ST_ERR_INIT;
    cut_arm(CUT_AFTER, "COMMIT");
    store_ingest *g = ingest_written(f, 1, STORE_INGEST_FILE);
    assert_true(cut_fired());
    usage_is(f, 0, BODY_LEN);
    assert_int_equal(rows(f, "intents"), 1);
    assert_int_equal(pg_int(f->admin, "SELECT reserved FROM intents"), BODY_LEN);
    must(ingest_commit_file(g, &mf, &e), &e, "ingest_file");
    store_ingest_free(g);
    file_row_is(f, &mf);
    usage_is(f, BODY_LEN, 0);
}

/* ---- files ---- */

/* The DELETE done, its answer lost: NOTFOUND on retry, but the cursor tombstone shows it was
 * deleted; the blob is left to its blob tombstone. */
static void test_file_delete_lost_after(void **state)
{
    fx *f = *state;
    meta_file mf, out;
    st_err e = ST_ERR_INIT;
    file_put(f, &mf);
    cut_arm(CUT_AFTER, "DELETE FROM files");
    must(store_file_delete(f->s, ORG, mf.id, &out, &e), &e, "file_delete");
    assert_true(cut_fired());
    lost_resolved(f);
    assert_string_equal(out.id, mf.id);
    assert_int_equal(rows(f, "files"), 0);
    assert_int_equal(rows(f, "blob_tombs"), 1);
    usage_is(f, 0, 0);
    /* A file that never existed is still NOTFOUND. */
    st_err_clear(&e);
    assert_int_equal(store_file_delete(f->s, ORG, "file-nosuchfile", &out, &e), ST_E_NOTFOUND);
}

/* A list page whose connection is lost before any row arrived is simply asked again. */
static int count_cb(const meta_file *mf, void *ud)
{
    (void)mf;
    (*(int *)ud)++;
    return 0;
}

static void test_list_lost_before(void **state)
{
    fx *f = *state;
    meta_file mf;
    int n = 0, more = 0;
    st_err e = ST_ERR_INIT;
    file_put(f, &mf);
    file_put(f, &mf);
    cut_arm(CUT_BEFORE, "ORDER BY created_at");
    store_list_req q = {ORG, NULL, NULL, 1, 10};
    must(store_file_list(f->s, &q, count_cb, &n, &more, &e), &e, "file_list");
    assert_true(cut_fired());
    assert_int_equal(n, 2);
    retries_are(f, 1, 0);
}

/* ---- uploads ---- */

static void upload_new(fx *f, meta_upload *u, int64_t bytes)
{
    st_err e = ST_ERR_INIT;
    memset(u, 0, sizeof *u);
    (void)snprintf(u->org, sizeof u->org, ORG);
    (void)snprintf(u->filename, sizeof u->filename, "big.jsonl");
    (void)snprintf(u->purpose, sizeof u->purpose, "fine-tune");
    (void)snprintf(u->mime_type, sizeof u->mime_type, "text/jsonl");
    u->bytes = bytes;
    must(store_upload_create(f->s, u, &e), &e, "upload_create");
}

static void part_put(fx *f, const meta_upload *u, meta_part *p)
{
    st_err e = ST_ERR_INIT;
    store_ingest *g = ingest_written(f, 0, STORE_INGEST_PART);
    must(store_ingest_part(g, u, p, &e), &e, "ingest_part");
    store_ingest_free(g);
}

static void test_upload_create_lost_after(void **state)
{
    fx *f = *state;
    meta_upload u;
    cut_arm(CUT_AFTER, "INSERT INTO uploads");
    upload_new(f, &u, 2 * BODY_LEN);
    assert_true(cut_fired());
    lost_resolved(f);
    assert_int_equal(rows(f, "uploads"), 1);
    assert_int_equal(pg_int(f->admin, "SELECT count(*) FROM uploads WHERE id = '%s'", u.id), 1);
}

static void test_part_commit_lost_after(void **state)
{
    fx *f = *state;
    meta_upload u;
    meta_part p;
    st_err e = ST_ERR_INIT;
    upload_new(f, &u, 2 * BODY_LEN);
    store_ingest *g = ingest_written(f, 0, STORE_INGEST_PART);
    cut_arm(CUT_AFTER, "COMMIT");
    must(store_ingest_part(g, &u, &p, &e), &e, "ingest_part");
    store_ingest_free(g);
    assert_true(cut_fired());
    lost_resolved(f);
    assert_int_equal(rows(f, "parts"), 1);
    assert_int_equal(pg_int(f->admin, "SELECT count(*) FROM parts WHERE id = '%s' AND blob = '%s'",
                            p.id, p.blob),
                     1);
    assert_int_equal(rows(f, "intents"), 0);
    usage_is(f, BODY_LEN, 0);
}

static void test_upload_complete_lost_after(void **state)
{
    fx *f = *state;
    meta_upload u;
    meta_part p1, p2;
    meta_file mf;
    st_err e = ST_ERR_INIT;
    upload_new(f, &u, 2 * BODY_LEN);
    part_put(f, &u, &p1);
    part_put(f, &u, &p2);
    const char *ids[] = {p1.id, p2.id};
    cut_arm(CUT_AFTER, "COMMIT");
    must(store_upload_complete(f->s, ORG, u.id, ids, 2, NULL, &u, &mf, &e), &e, "complete");
    assert_true(cut_fired());
    lost_resolved(f);
    assert_int_equal(u.status, META_UPLOAD_COMPLETED);
    assert_string_equal(u.file_id, mf.id);
    assert_int_equal(rows(f, "files"), 1);
    assert_int_equal(rows(f, "parts"), 0);
    assert_int_equal(rows(f, "intents"), 0);
    assert_int_equal(rows(f, "blob_tombs"), 2); /* the parts' blobs: the collector's now */
    usage_is(f, 2 * BODY_LEN, 0);
}

static void test_upload_cancel_lost_after(void **state)
{
    fx *f = *state;
    meta_upload u, out;
    meta_part p;
    st_err e = ST_ERR_INIT;
    upload_new(f, &u, 2 * BODY_LEN);
    part_put(f, &u, &p);
    cut_arm(CUT_AFTER, "COMMIT");
    must(store_upload_cancel(f->s, ORG, u.id, &out, &e), &e, "cancel");
    assert_true(cut_fired());
    lost_resolved(f);
    assert_int_equal(out.status, META_UPLOAD_CANCELLED);
    assert_int_equal(rows(f, "parts"), 0);
    usage_is(f, 0, 0);
}

/* ---- serialization failures and the bound ---- */

/* A trigger fails the next n file inserts with SQLSTATE 40001 (a sequence counts them: its
 * nextval is not rolled back with the failed transaction). */
static void serialization_failures(fx *f, int n)
{
    pg_sql(f->admin, "CREATE SEQUENCE IF NOT EXISTS fail_seq");
    pg_sql(f->admin, "SELECT setval('fail_seq', 1, false)");
    pg_sql(f->admin,
           "CREATE OR REPLACE FUNCTION fail_some() RETURNS trigger LANGUAGE plpgsql AS $$"
           " BEGIN IF nextval('fail_seq') <= %d THEN"
           " RAISE EXCEPTION 'injected' USING ERRCODE = '40001'; END IF; RETURN NEW; END $$",
           n);
    pg_sql(f->admin, "CREATE OR REPLACE TRIGGER fail_files BEFORE INSERT ON files"
                     " FOR EACH ROW EXECUTE FUNCTION fail_some()");
}

static void test_serialization_failures_retried(void **state)
{
    fx *f = *state;
    meta_file mf;
    st_err e = ST_ERR_INIT;
    serialization_failures(f, 3);
    store_ingest *g = ingest_written(f, 0, STORE_INGEST_FILE);
    must(ingest_commit_file(g, &mf, &e), &e, "ingest_file");
    store_ingest_free(g);
    retries_are(f, 3, 0);
    file_row_is(f, &mf);
    usage_is(f, BODY_LEN, 0);
}

/* With --meta-retries 1 two failures in a row reach the caller: BUSY, retryable (503), and
 * nothing changed. */
static void test_retries_bounded(void **state)
{
    fx *f = *state;
    meta_file mf;
    st_err e = ST_ERR_INIT;
    fx_close_store(f);
    fx_open_store(f, 1);
    serialization_failures(f, 2);
    store_ingest *g = ingest_written(f, 0, STORE_INGEST_FILE);
    assert_int_equal(ingest_commit_file(g, &mf, &e), ST_E_BUSY);
    assert_true(e.retryable);
    assert_string_equal(e.backend, "postgres");
    store_ingest_free(g);
    retries_are(f, 1, 0);
    assert_int_equal(rows(f, "files"), 0);
    assert_int_equal(rows(f, "intents"), 0);
    usage_is(f, 0, 0);
}

/* --meta-retries 0: a lost connection reaches the caller as UNAVAILABLE; the next call
 * connects again. */
static void test_no_retries(void **state)
{
    fx *f = *state;
    int64_t n = -1;
    st_err e = ST_ERR_INIT;
    fx_close_store(f);
    fx_open_store(f, 0);
    cut_arm(CUT_BEFORE, "FROM api_keys");
    assert_int_equal(store_key_count(f->s, &n, &e), ST_E_UNAVAILABLE);
    assert_true(cut_fired());
    assert_true(e.retryable);
    st_err_clear(&e);
    must(store_key_count(f->s, &n, &e), &e, "key_count");
    assert_int_equal(n, 0);
    retries_are(f, 0, 0);
}

/* ---- argotd keys ---- */

static char key_url[160];

static meta_store *open_key_store(const char *data, const char *meta)
{
    meta_store *m = NULL;
    st_err e = ST_ERR_INIT;
    (void)data;
    if (meta_pg_open(&m, meta, &e) != ST_OK)
        fail_msg("open %s: %s", meta, e.msg);
    return m;
}

/* The key's INSERT done, its answer lost: the retry's CONFLICT is resolved by finding our key
 * (our fresh id, our hash); exactly one key, and it authenticates. */
static void test_key_create_lost_after(void **state)
{
    fx *f = *state;
    char key[API_KEY_LEN + 1], org[META_ORG_MAX];
    uint8_t hash[32];
    st_err e = ST_ERR_INIT;
    cut_arm(CUT_AFTER, "INSERT INTO api_keys");
    assert_int_equal(keys_create(f->m, ORG, "lost", key), 0);
    assert_true(cut_fired());
    assert_int_equal(rows(f, "api_keys"), 1);
    id_key_hash(key, strlen(key), hash);
    must(store_key_lookup(f->s, hash, org, &e), &e, "key_lookup");
    assert_string_equal(org, ORG);
}

/* The revocation done, its answer lost: `argotd keys revoke` still exits 0. */
static void test_key_revoke_lost_after(void **state)
{
    fx *f = *state;
    char key[API_KEY_LEN + 1], id[64];
    assert_int_equal(keys_create(f->m, ORG, "to-revoke", key), 0);
    PGresult *r = PQexec(f->admin, "SELECT id FROM api_keys");
    assert_int_equal(PQntuples(r), 1);
    (void)snprintf(id, sizeof id, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    (void)snprintf(key_url, sizeof key_url,
                   "postgresql://argot@127.0.0.1:%d/%s?sslmode=disable&gssencmode=disable",
                   proxy_port, f->db);
    char *argv[] = {"revoke", "--meta", key_url, id, NULL};
    cut_arm(CUT_AFTER, "UPDATE api_keys");
    assert_int_equal(keys_main(4, argv, open_key_store), 0);
    assert_true(cut_fired());
    assert_int_equal(pg_int(f->admin, "SELECT count(*) FROM api_keys WHERE revoked_at <> 0"), 1);
}

/* ---- the database clock ---- */

static int64_t clock_ahead(void)
{
    return (int64_t)time(NULL) + 7200;
}

static int64_t clock_behind(void)
{
    return (int64_t)time(NULL) - 7200;
}

static void open_skewed(meta_store *m, blob_store *b, int64_t (*clk)(void), store **out)
{
    st_err e = ST_ERR_INIT;
    store_limits lim = {.org_max = ORG_MAX,
                        .file_max = ORG_MAX,
                        .batch_max = ORG_MAX,
                        .upload_max = ORG_MAX,
                        .part_max = ORG_MAX,
                        .cursor_ttl = 86400,
                        .lease_ttl = 30,
                        .meta_retries = 3,
                        .host_clock = clk};
    must(store_open(out, m, b, &lim, 0, &e), &e, "store_open");
}

/* A file of store s expiring at s's now + ttl. */
static void file_expiring(store *s, int64_t ttl, meta_file *mf)
{
    static const char body[] = "expiring";
    store_ingest *g = NULL;
    st_err e = ST_ERR_INIT;
    must(store_ingest_begin(s, ORG, -1, 0, ORG_MAX, STORE_INGEST_FILE, &g, &e), &e, "begin");
    must(store_ingest_write(g, body, sizeof body, &e), &e, "write");
    memset(mf, 0, sizeof *mf);
    (void)snprintf(mf->purpose, sizeof mf->purpose, "assistants");
    (void)snprintf(mf->filename, sizeof mf->filename, "e.txt");
    mf->created_at = store_now(s);
    mf->expires_at = mf->created_at + ttl;
    must(store_ingest_file(g, mf, &e), &e, "ingest_file");
    store_ingest_free(g);
}

static int visible(store *s, const char *id)
{
    meta_file got;
    st_err e = ST_ERR_INIT;
    return store_file_get(s, ORG, id, &got, &e) == ST_OK;
}

/* Two instances whose hosts' clocks are four hours apart, on one PostgreSQL: both take the
 * database's time, stamp the same created_at, see a file expire at the same moment, and the
 * collector takes it then, not hours early or late. */
static void test_skewed_hosts_agree(void **state)
{
    fx *f = *state;
    store *a = NULL, *b = NULL;
    meta_file mf;
    open_skewed(f->m, f->b, clock_ahead, &a);
    open_skewed(f->m, f->b, clock_behind, &b);
    int64_t db = pg_int(f->admin, "SELECT floor(extract(epoch FROM now()))::bigint");
    assert_true(llabs((long long)(store_now(a) - db)) <= 2);
    assert_true(llabs((long long)(store_now(b) - db)) <= 2);
    file_expiring(a, 10, &mf); /* room for a loaded machine: the clocks agree to ~2 s */
    assert_true(llabs((long long)(mf.created_at - db)) <= 2);
    assert_true(visible(a, mf.id) && visible(b, mf.id));
    store_pass p;
    st_err e = ST_ERR_INIT;
    must(store_maintain(b, 0, NULL, &p, &e), &e, "maintain");
    assert_int_equal(p.expired, 0); /* b's host thinks it is two hours ago: no matter */
    /* Both clocks are the database's, each measured to the second: they agree within two
     * (against four hours apart without the database's clock, below). */
    assert_true(llabs((long long)(store_now(a) - store_now(b))) <= 2);
    while (store_now(a) <= mf.expires_at || store_now(b) <= mf.expires_at)
        usleep(50000);
    assert_false(visible(a, mf.id));
    assert_false(visible(b, mf.id));
    must(store_maintain(b, 0, NULL, &p, &e), &e, "maintain");
    must(store_maintain(a, 0, NULL, &p, &e), &e, "maintain");
    assert_int_equal(rows(f, "files"), 0);
    store_free(a);
    store_free(b);
}

/* The same two hosts on a backend without a clock (meta_mem): four hours apart, which is what
 * the database's clock removes above. */
static void test_skewed_hosts_without_clock(void **state)
{
    (void)state;
    meta_store *m = NULL;
    blob_store *bl = NULL;
    store *a = NULL, *b = NULL;
    meta_file mf;
    st_err e = ST_ERR_INIT;
    must(meta_mem_open(&m, &e), &e, "meta_mem_open");
    must(blob_mem_open(&bl, &e), &e, "blob_mem_open");
    open_skewed(m, bl, clock_ahead, &a);
    open_skewed(m, bl, clock_behind, &b);
    assert_true(store_now(a) - store_now(b) >= 14399);
    file_expiring(b, 3600, &mf); /* an hour from b's now is hours ago for a */
    assert_true(visible(b, mf.id));
    assert_false(visible(a, mf.id));
    store_free(a);
    store_free(b);
    blob_store_free(bl);
    meta_store_free(m);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_file_commit_lost_after),    T(test_file_commit_lost_before),
        T(test_terminated_between_steps),  T(test_intent_open_lost_after),
        T(test_intent_reserve_lost_after), T(test_file_delete_lost_after),
        T(test_list_lost_before),          T(test_upload_create_lost_after),
        T(test_part_commit_lost_after),    T(test_upload_complete_lost_after),
        T(test_upload_cancel_lost_after),  T(test_serialization_failures_retried),
        T(test_retries_bounded),           T(test_no_retries),
        T(test_skewed_hosts_agree),        T(test_skewed_hosts_without_clock),
        T(test_key_create_lost_after),     T(test_key_revoke_lost_after),
    };
    int rc = pg_start();
    if (rc != 0) {
        fprintf(stderr, "\n*** %s the frontend's PostgreSQL retry tests: PostgreSQL 15 %s ***\n\n",
                rc > 0 ? "SKIPPING" : "FAILING",
                rc > 0 ? "cannot be installed here (see above)" : "did not start");
        pg_stop();
        return rc > 0 ? 77 : 1;
    }
    if (proxy_start() != 0) {
        fprintf(stderr, "cannot start the proxy: %s\n", strerror(errno));
        pg_stop();
        return 1;
    }
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    pg_stop();
    return rc;
}
