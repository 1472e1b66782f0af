/*
 * A throwaway PostgreSQL 15 for a unit test (scripts/testsrv/pg-up.sh), stopped by a detached
 * watchdog once the test is gone however it goes, plus the test's own admin connections.
 * The same scheme as test_meta_pg.c's. Include after cmocka.h; define ARGOT_SOURCE_DIR.
 */
#ifndef ARGOT_TEST_PG_TESTSRV_H
#define ARGOT_TEST_PG_TESTSRV_H

#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef ARGOT_SOURCE_DIR
#error "ARGOT_SOURCE_DIR must name the source tree (for scripts/testsrv/pg-*.sh)"
#endif

static char pg_dir[64];
static int pg_port;
static int pg_watchdog_fd = -1;
static int pg_watchdog_done = -1;

static void pg_watchdog_run(int wait_fd)
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

static int pg_watchdog_start(void)
{
    int w[2], d[2], st;
    if (pipe(w) != 0 || pipe(d) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        close(w[1]), close(d[0]);
        if (setsid() < 0 || fork() != 0)
            _exit(0);
        signal(SIGINT, SIG_IGN), signal(SIGTERM, SIG_IGN), signal(SIGHUP, SIG_IGN);
        pg_watchdog_run(w[0]);
    }
    close(w[0]), close(d[1]);
    pg_watchdog_fd = w[1];
    pg_watchdog_done = d[0];
    if (waitpid(pid, &st, 0) != pid)
        return -1;
    return fcntl(pg_watchdog_fd, F_SETFD, FD_CLOEXEC) |
           fcntl(pg_watchdog_done, F_SETFD, FD_CLOEXEC);
}

static void pg_stop(void)
{
    ssize_t n;
    char b;
    if (pg_watchdog_fd >= 0)
        close(pg_watchdog_fd);
    do
        n = pg_watchdog_done >= 0 ? read(pg_watchdog_done, &b, 1) : 0;
    while (n > 0 || (n < 0 && errno == EINTR));
}

/* 0: started; 1: skip (pg-up.sh printed why); -1: failed. */
static int pg_start(void)
{
    char cmd[600], uri[256] = "", skip[256];
    struct stat sb;
    strcpy(pg_dir, "/tmp/argot-pg-XXXXXX");
    if (!mkdtemp(pg_dir) || pg_watchdog_start() != 0)
        return -1;
    (void)snprintf(cmd, sizeof cmd, "%s/scripts/testsrv/pg-up.sh %s", ARGOT_SOURCE_DIR, pg_dir);
    FILE *p = popen(cmd, "r");
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
    return colon && sscanf(colon + 1, "%d", &pg_port) == 1 ? 0 : -1;
}

static PGconn *pg_admin(const char *db)
{
    char url[128];
    (void)snprintf(url, sizeof url, "postgresql://argot@127.0.0.1:%d/%s", pg_port, db);
    PGconn *c = PQconnectdb(url);
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("connect %s: %s", db, PQerrorMessage(c));
    return c;
}

static PGresult *pg_sqlv(PGconn *c, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
static PGresult *pg_sqlv(PGconn *c, const char *fmt, va_list ap)
{
    char q[2048];
    (void)vsnprintf(q, sizeof q, fmt, ap);
    PGresult *r = PQexec(c, q);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        fail_msg("%s: %s", q, PQerrorMessage(c));
    return r;
}

static void pg_sql(PGconn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void pg_sql(PGconn *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    PQclear(pg_sqlv(c, fmt, ap));
    va_end(ap);
}

static long long pg_int(PGconn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static long long pg_int(PGconn *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    PGresult *r = pg_sqlv(c, fmt, ap);
    va_end(ap);
    assert_true(PQntuples(r) >= 1);
    long long v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

#endif
