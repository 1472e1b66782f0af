/*
 * argotd: an OpenAI Files API server. `argotd [serve]` runs it; `argotd keys ...` manages API
 * keys on a data dir. Signals: SIGTERM/SIGINT stop accepting, let in-flight requests finish
 * (up to --shutdown-grace seconds) and exit 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/api/routes.h"
#include "server/app.h"
#include "server/backends.h"
#include "server/config.h"
#include "server/fsck.h"
#include "server/http/server.h"
#include "server/keys.h"
#include "server/log.h"
#include "server/metrics.h"
#include "server/migrate.h"
#include "server/sweeper.h"

#ifndef ARGOT_VERSION
#define ARGOT_VERSION "0.1.0"
#endif

static int ensure_dir(const char *dir)
{
    if (mkdir(dir, 0700) == 0 || errno == EEXIST) {
        struct stat st;
        if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
            return 0;
    }
    fprintf(stderr, "argotd: cannot use data dir %s: %s\n", dir, strerror(errno));
    return -1;
}

static meta_store *open_meta(const char *data, const char *url)
{
    char buf[4096];
    meta_store *m = NULL;
    st_err e = ST_ERR_INIT;
    if (!url) {
        if (ensure_dir(data))
            return NULL;
        snprintf(buf, sizeof buf, "sqlite:%s/argot.db", data);
        url = buf;
    }
    if (backend_open_meta(&m, url, &e) != ST_OK) {
        fprintf(stderr, "argotd: cannot open the metadata store: %s\n", e.msg);
        return NULL;
    }
    return m;
}

static blob_store *open_blob(const char *data, const char *url)
{
    char buf[4096];
    blob_store *b = NULL;
    st_err e = ST_ERR_INIT;
    if (!url) {
        snprintf(buf, sizeof buf, "file:%s", data);
        url = buf;
    }
    if (backend_open_blob(&b, url, &e) != ST_OK) {
        fprintf(stderr, "argotd: cannot open the blob store: %s\n", e.msg);
        return NULL;
    }
    return b;
}

/* keys and fsck open the metadata store the server would (--meta or the data dir's). */
static meta_store *open_meta_for_keys(const char *data, const char *url)
{
    return open_meta(data, url ? url : getenv("ARGOT_META"));
}

/* One server per data dir when it keeps everything there (no --meta, no --blob): then the
 * store knows no other instance exists, and recovery reaps what a previous process left at
 * once. With backends given by URL, instances may share them; owners' leases keep them apart. */
static int lock_data_dir(const char *data)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/LOCK", data);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) != 0) {
        fprintf(stderr, "argotd: data dir %s is in use by another argotd (%s)\n", data,
                strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* On shared backends (--meta or --blob), the data dir still identifies an instance: whoever
 * holds its LOCK is the only process using it, so the owner id the previous process on it
 * recorded in DATA/owner belongs to a process that is gone (killed, or stopped). Forgetting
 * that owner lets recovery reap its unfinished uploads at once instead of after its lease, as
 * a single argotd on its own data dir does; other instances' owners are never touched. The
 * lock is not required here: without it (another argotd uses the same --data) nothing is
 * forgotten. Returns the lock's descriptor or -1. */
static int claim_data_dir(const char *data, char prev[64])
{
    char path[4096];
    struct stat st;
    prev[0] = '\0';
    if (stat(data, &st) != 0 || !S_ISDIR(st.st_mode))
        return -1; /* never made here: a data dir only for defaults that are not used */
    snprintf(path, sizeof path, "%s/LOCK", data);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    snprintf(path, sizeof path, "%s/owner", data);
    FILE *f = fopen(path, "r");
    if (f) {
        if (!fgets(prev, 64, f))
            prev[0] = '\0';
        prev[strcspn(prev, "\n")] = '\0';
        fclose(f);
    }
    return fd;
}

/* Records this instance's owner id for the next process on the data dir. */
static void record_owner(const char *data, const char *owner)
{
    char path[4096], tmp[4096];
    snprintf(path, sizeof path, "%s/owner", data);
    snprintf(tmp, sizeof tmp, "%s/owner.tmp", data);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return;
    int ok = fprintf(f, "%s\n", owner) > 0 && fflush(f) == 0 && fsync(fileno(f)) == 0;
    if (fclose(f) != 0 || !ok || rename(tmp, path) != 0)
        LOG(LOG_WARN, "msg=\"cannot record the owner id\" path=%s", path);
}

static int write_port_file(const char *path, int port)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    fprintf(f, "%d\n", port);
    if (fclose(f) != 0 || rename(tmp, path) != 0)
        return -1;
    return 0;
}

/* Called once the server listens, so a start that fails (port in use, ...) creates nothing.
 * With no active key: --bootstrap-key creates one for org-default and prints it; otherwise
 * the operator is told how to make one. */
static int bootstrap_key(app *a, const char *prog)
{
    int64_t n = 0;
    st_err e = ST_ERR_INIT;
    if (store_key_count(a->store, &n, &e) != ST_OK)
        return -1;
    if (n > 0)
        return 0;
    if (!a->cfg->bootstrap_key) {
        char where[1024];
        if (a->cfg->meta_url) {
            char shown[1000];
            backend_redact(a->cfg->meta_url, shown, sizeof shown);
            snprintf(where, sizeof where, "--meta '%s'", shown);
        } else {
            snprintf(where, sizeof where, "--data %s", a->cfg->data_dir);
        }
        fprintf(stderr,
                "argotd: no API key exists yet; create one (it is printed once) with\n"
                "  %s keys create %s --org org-default --name dev\n"
                "or start with --bootstrap-key (make run does)\n",
                prog, where);
        return 0;
    }
    char key[API_KEY_LEN + 1];
    if (keys_create(a->meta, "org-default", "bootstrap", key))
        return -1;
    printf("argotd: created a development API key for org-default (shown once):\n%s\n", key);
    fflush(stdout);
    return 0;
}

static int wait_for_signal(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    int sig = 0;
    sigwait(&set, &sig);
    return sig;
}

static int serve(app *a, const cfg *c, const char *prog)
{
    http_server *srv = NULL;
    http_router *rt = NULL;
    sweeper *sw = NULL;
    if (sweeper_recover(a))
        return 1;
    if (api_router_new(&rt, c->metrics)) {
        LOG(LOG_ERROR, "msg=\"cannot build the router\"");
        return 1;
    }
    http_config hc;
    api_http_config(&hc, a, rt);
    if (sweeper_start(&sw, a) || http_server_start(&srv, &hc)) {
        sweeper_stop(sw);
        http_router_free(rt);
        return 1;
    }
    int port = http_server_port(srv);
    LOG(LOG_INFO, "msg=listening host=%s port=%d version=%s", c->listen_host, port, ARGOT_VERSION);
    if (bootstrap_key(a, prog)) {
        LOG(LOG_ERROR, "msg=\"cannot create the development key\"");
        http_server_stop(srv, 0);
        sweeper_stop(sw);
        return 1;
    }
    if (c->port_file && write_port_file(c->port_file, port))
        LOG(LOG_ERROR, "msg=\"cannot write port file\" path=%s", c->port_file);
    int sig = wait_for_signal();
    LOG(LOG_INFO, "msg=\"shutting down\" signal=%d inflight=%d", sig, http_server_inflight(srv));
    http_server_stop(srv, (int)c->shutdown_grace);
    sweeper_stop(sw);
    http_router_free(rt);
    LOG(LOG_INFO, "msg=stopped");
    return 0;
}

static int run_server(int argc, char **argv, int argi)
{
    cfg c;
    int rc = cfg_load(&c, argc, argv, argi);
    if (rc) {
        cfg_free(&c);
        return rc == 1 ? 0 : 2;
    }
    /* Threads inherit this mask; the main thread collects the signals with sigwait(). */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    app a = {.cfg = &c};
    int lock = -1, exclusive = !c.meta_url && !c.blob_url;
    char prev[64] = "";
    rc = 1;
    if (exclusive && (ensure_dir(c.data_dir) || (lock = lock_data_dir(c.data_dir)) < 0))
        goto out;
    if (!exclusive)
        lock = claim_data_dir(c.data_dir, prev);
    backend_set_s3(c.s3_endpoint, (uint64_t)c.s3_part_size, (uint64_t)c.s3_memory);
    if (!(a.meta = open_meta(c.data_dir, c.meta_url)) ||
        !(a.blob = open_blob(c.data_dir, c.blob_url)))
        goto out;
    blob_local_set_min_free(a.blob, (uint64_t)c.min_free_bytes);
    store_limits lim = {
        .org_max = c.max_org_bytes,
        .file_max = c.max_file_bytes,
        .batch_max = c.max_batch_bytes,
        .upload_max = c.max_upload_bytes,
        .part_max = c.max_part_bytes,
        .cursor_ttl = c.tombstone_seconds,
        .lease_ttl = c.lease_seconds,
        .clock_offset = c.clock_offset,
        .meta_retries = c.meta_retries,
    };
    st_err e = ST_ERR_INIT;
    if (store_open(&a.store, a.meta, a.blob, &lim, exclusive, &e) != ST_OK) {
        fprintf(stderr, "argotd: cannot open the storage: %s\n", e.msg);
        goto out;
    }
    if (lock >= 0 && !exclusive) {
        if (prev[0] && store_forget_owner(a.store, prev, &e) == ST_OK)
            LOG(LOG_INFO, "msg=\"the previous owner on this data dir is gone\" owner=%s", prev);
        record_owner(c.data_dir, store_owner(a.store));
    }
    if (metrics_new(&a.metrics, api_route_names, ROUTE_COUNT))
        goto out;
    cfg_log_effective(&c);
    rc = serve(&a, &c, argv[0]);
out:
    metrics_free(a.metrics);
    store_free(a.store);
    blob_store_free(a.blob);
    meta_store_free(a.meta);
    if (lock >= 0)
        close(lock);
    cfg_free(&c);
    return rc;
}

int main(int argc, char **argv)
{
    umask(077); /* everything argotd creates is private to its user */
    if (argc > 1 && !strcmp(argv[1], "--version")) {
        printf("argotd %s\n", ARGOT_VERSION);
        return 0;
    }
    if (argc > 1 && !strcmp(argv[1], "keys"))
        return keys_main(argc - 2, argv + 2, open_meta_for_keys);
    if (argc > 1 && !strcmp(argv[1], "fsck"))
        return fsck_main(argc - 2, argv + 2);
    if (argc > 1 && !strcmp(argv[1], "migrate"))
        return migrate_main(argc - 2, argv + 2);
    int argi = 1;
    if (argc > 1 && !strcmp(argv[1], "serve"))
        argi = 2;
    return run_server(argc, argv, argi);
}
