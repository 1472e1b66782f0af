#include "server/config.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "server/log.h"

enum cfg_type { CFG_STR, CFG_INT, CFG_BOOL };

typedef struct cfg_spec {
    const char *flag; /* without the leading "--" */
    const char *env;
    enum cfg_type type;
    const char *def;
    int64_t min, max;
    size_t offset;
    const char *help;
} cfg_spec;

#define F(field) offsetof(cfg, field)

static const cfg_spec specs[] = {
    {"listen", "ARGOT_LISTEN", CFG_STR, "127.0.0.1:8080", 0, 0, F(listen),
     "address to listen on, HOST:PORT (port 0 picks a free port)"},
    {"data", "ARGOT_DATA", CFG_STR, "./data", 0, 0, F(data_dir),
     "data directory (created 0700): argot.db, blobs/, tmp/"},
    {"meta", "ARGOT_META", CFG_STR, NULL, 0, 0, F(meta_url),
     "metadata backend URL: sqlite:PATH, postgres://... or mem: (default sqlite:DATA/argot.db)"},
    {"blob", "ARGOT_BLOB", CFG_STR, NULL, 0, 0, F(blob_url),
     "blob backend URL: file:DIR or mem: (default file:DATA)"},
    {"s3-endpoint", "ARGOT_S3_ENDPOINT", CFG_STR, NULL, 0, 0, F(s3_endpoint),
     "S3 endpoint URL for --blob s3://... (path-style addressing; default AWS_ENDPOINT_URL, "
     "else AWS, virtual-hosted)"},
    {"s3-part-size", "ARGOT_S3_PART_SIZE", CFG_INT, "16777216", 5242880, 5368709120,
     F(s3_part_size), "bytes per part of the S3 backend's multipart uploads (5 MiB..5 GiB)"},
    {"s3-memory", "ARGOT_S3_MEMORY", CFG_INT, "268435456", 5242880, INT64_MAX, F(s3_memory),
     "bytes of part buffers for all S3 uploads together (at least one part); a write waiting "
     "10 s for room gets 503"},
    {"threads", "ARGOT_THREADS", CFG_INT, "0", 0, 256, F(threads),
     "worker threads (0: twice the number of CPUs, at least 4)"},
    {"max-file-bytes", "ARGOT_MAX_FILE_BYTES", CFG_INT, "536870912", 1, INT64_MAX,
     F(max_file_bytes), "largest file accepted by POST /v1/files"},
    {"max-upload-bytes", "ARGOT_MAX_UPLOAD_BYTES", CFG_INT, "8589934592", 1, INT64_MAX,
     F(max_upload_bytes), "largest file assembled by the Uploads API (POST /v1/uploads)"},
    {"max-part-bytes", "ARGOT_MAX_PART_BYTES", CFG_INT, "67108864", 1, INT64_MAX, F(max_part_bytes),
     "largest part of an Upload (POST /v1/uploads/{id}/parts)"},
    {"max-org-bytes", "ARGOT_MAX_ORG_BYTES", CFG_INT, "107374182400", 1, INT64_MAX,
     F(max_org_bytes), "storage quota: sum of an organization's live files"},
    {"max-batch-bytes", "ARGOT_MAX_BATCH_BYTES", CFG_INT, "104857600", 1, INT64_MAX,
     F(max_batch_bytes), "largest file of purpose batch"},
    {"min-free-bytes", "ARGOT_MIN_FREE_BYTES", CFG_INT, "67108864", 0, INT64_MAX, F(min_free_bytes),
     "uploads get 507 once less would stay free on the data dir's filesystem (room for deletes)"},
    {"max-connections", "ARGOT_MAX_CONNECTIONS", CFG_INT, "1024", 1, 65536, F(max_connections),
     "concurrent connections; more are refused"},
    {"connection-timeout", "ARGOT_CONNECTION_TIMEOUT", CFG_INT, "60", 1, 86400,
     F(connection_timeout),
     "seconds a connection may stay idle between requests, or make no progress in one"},
    {"header-timeout", "ARGOT_HEADER_TIMEOUT", CFG_INT, "10", 1, 3600, F(header_timeout),
     "seconds a request head may take from its first byte to its end (then 408 and close)"},
    {"min-body-rate", "ARGOT_MIN_BODY_RATE", CFG_INT, "1024", 0, INT64_MAX, F(min_body_rate),
     "bytes per second a request body must average over each --body-rate-window (0: off)"},
    {"body-rate-window", "ARGOT_BODY_RATE_WINDOW", CFG_INT, "10", 1, 3600, F(body_rate_window),
     "seconds over which --min-body-rate is measured"},
    {"max-head-bytes", "ARGOT_MAX_HEAD_BYTES", CFG_INT, "32768", 1024, 1048576, F(max_head_bytes),
     "largest request head (request line and header fields); more is 431"},
    {"max-url-bytes", "ARGOT_MAX_URL_BYTES", CFG_INT, "8192", 64, 1048576, F(max_url_bytes),
     "longest request target (path and query); more is 414"},
    {"max-headers", "ARGOT_MAX_HEADERS", CFG_INT, "100", 8, 10000, F(max_headers),
     "most header fields in a request; more is 431"},
    {"max-query-params", "ARGOT_MAX_QUERY_PARAMS", CFG_INT, "64", 1, 100000, F(max_query_params),
     "most query parameters in a request; more is 400"},
    {"max-discard-bytes", "ARGOT_MAX_DISCARD_BYTES", CFG_INT, "67108864", 0, INT64_MAX,
     F(max_discard_bytes),
     "body bytes read and dropped after an early reply (413, 401, ...) so the client can read "
     "it; past this the connection is closed"},
    {"linger-timeout", "ARGOT_LINGER_TIMEOUT", CFG_INT, "5", 0, 3600, F(linger_timeout),
     "seconds a connection being closed keeps reading and dropping what the client still sends"},
    {"sweep-interval", "ARGOT_SWEEP_INTERVAL", CFG_INT, "60", 1, 86400, F(sweep_interval),
     "seconds between sweeps of expired files and orphan blobs"},
    {"tombstone-seconds", "ARGOT_TOMBSTONE_SECONDS", CFG_INT, "86400", 0, 315360000,
     F(tombstone_seconds),
     "seconds a deleted or expired file's id stays a valid list cursor (after=), at least"},
    {"lease-seconds", "ARGOT_LEASE_SECONDS", CFG_INT, "30", 2, 86400, F(lease_seconds),
     "seconds an instance's lease lasts unrenewed (it is renewed every third of that); after "
     "it others reap the instance's unfinished uploads"},
    {"meta-retries", "ARGOT_META_RETRIES", CFG_INT, "3", 0, 20, F(meta_retries),
     "times a metadata call that failed retryably (a serialization failure, a deadlock, a lost "
     "connection) is tried again at once, after 10-30 ms, doubling (0: never)"},
    {"shutdown-grace", "ARGOT_SHUTDOWN_GRACE", CFG_INT, "30", 0, 3600, F(shutdown_grace),
     "seconds SIGTERM waits for in-flight requests"},
    {"strict-download", "ARGOT_STRICT_DOWNLOAD", CFG_BOOL, "0", 0, 1, F(strict_download),
     "refuse downloads of assistants/user_data files, as api.openai.com does"},
    {"response-profile", "ARGOT_RESPONSE_PROFILE", CFG_STR, "auto", 0, 0, F(response_profile),
     "service (as api.openai.com), spec (as OpenAI's OpenAPI spec) or auto (spec for strict "
     "clients); the header Argot-Response-Profile overrides it"},
    {"metrics", "ARGOT_METRICS", CFG_BOOL, "0", 0, 1, F(metrics),
     "serve GET /metrics (Prometheus text format, no auth)"},
    {"log-level", "ARGOT_LOG_LEVEL", CFG_STR, "info", 0, 0, F(log_level),
     "error, warn, info or debug"},
    {"port-file", "ARGOT_PORT_FILE", CFG_STR, NULL, 0, 0, F(port_file),
     "write the bound port to this file once listening"},
    {"bootstrap-key", "ARGOT_BOOTSTRAP_KEY", CFG_BOOL, "0", 0, 1, F(bootstrap_key),
     "if no API key exists, create one for org-default and print it"},
    {"clock-offset", "ARGOT_CLOCK_OFFSET", CFG_INT, "0", -315360000, 315360000, F(clock_offset),
     "testing aid: seconds added to the clock (expiry tests)"},
};

#define NSPECS (sizeof specs / sizeof specs[0])

static int parse_int(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end)
        return -1;
    *out = v;
    return 0;
}

static int parse_bool(const char *s, int *out)
{
    if (!strcmp(s, "1") || !strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "on"))
        *out = 1;
    else if (!strcmp(s, "0") || !strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "off"))
        *out = 0;
    else
        return -1;
    return 0;
}

static int set_value(cfg *c, const cfg_spec *sp, const char *val, const char *origin)
{
    void *field = (char *)c + sp->offset;
    if (sp->type == CFG_STR) {
        char **dst = field;
        free(*dst);
        *dst = val ? strdup(val) : NULL;
        return 0;
    }
    if (sp->type == CFG_BOOL) {
        if (parse_bool(val, field) == 0)
            return 0;
        fprintf(stderr, "argotd: %s: '%s' is not a boolean (use 1/0, true/false)\n", origin, val);
        return -1;
    }
    int64_t v;
    if (parse_int(val, &v) || v < sp->min || v > sp->max) {
        fprintf(stderr, "argotd: %s: '%s' is not an integer in %lld..%lld\n", origin, val,
                (long long)sp->min, (long long)sp->max);
        return -1;
    }
    *(int64_t *)field = v;
    return 0;
}

static const cfg_spec *find_flag(const char *name, size_t len)
{
    for (size_t i = 0; i < NSPECS; i++)
        if (strlen(specs[i].flag) == len && !strncmp(specs[i].flag, name, len))
            return &specs[i];
    return NULL;
}

static int split_listen(cfg *c)
{
    const char *colon = strrchr(c->listen, ':');
    int64_t port;
    if (!colon || colon == c->listen || parse_int(colon + 1, &port) || port < 0 || port > 65535 ||
        (size_t)(colon - c->listen) >= sizeof c->listen_host) {
        fprintf(stderr, "argotd: --listen: '%s' is not HOST:PORT\n", c->listen);
        return -1;
    }
    memcpy(c->listen_host, c->listen, (size_t)(colon - c->listen));
    c->listen_host[colon - c->listen] = '\0';
    c->listen_port = (int)port;
    return 0;
}

static int load_defaults_and_env(cfg *c)
{
    for (size_t i = 0; i < NSPECS; i++) {
        const cfg_spec *sp = &specs[i];
        if (sp->def && set_value(c, sp, sp->def, "default"))
            return -1;
        const char *env = getenv(sp->env);
        if (env && *env && set_value(c, sp, env, sp->env))
            return -1;
    }
    return 0;
}

static int parse_args(cfg *c, int argc, char **argv, int argi)
{
    for (int i = argi; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            cfg_print_help(stdout);
            return 1;
        }
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "argotd: unexpected argument '%s' (see --help)\n", a);
            return 2;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        const cfg_spec *sp = find_flag(name, nlen);
        if (!sp) {
            fprintf(stderr, "argotd: unknown option '%s' (see --help)\n", a);
            return 2;
        }
        const char *val = eq ? eq + 1 : NULL;
        if (!val && sp->type == CFG_BOOL)
            val = "1";
        if (!val && i + 1 < argc)
            val = argv[++i];
        if (!val) {
            fprintf(stderr, "argotd: option '--%s' needs a value\n", sp->flag);
            return 2;
        }
        if (set_value(c, sp, val, a))
            return 2;
    }
    return 0;
}

static int parse_profile(cfg *c)
{
    static const char *const names[] = {"auto", "service", "spec"};
    for (int i = 0; i < 3; i++)
        if (!strcmp(c->response_profile, names[i])) {
            c->profile = (enum cfg_profile)i;
            return 0;
        }
    fprintf(stderr, "argotd: --response-profile: '%s' is not service, spec or auto\n",
            c->response_profile);
    return -1;
}

int cfg_load(cfg *c, int argc, char **argv, int argi)
{
    memset(c, 0, sizeof *c);
    if (load_defaults_and_env(c))
        return 2;
    int rc = parse_args(c, argc, argv, argi);
    if (rc)
        return rc;
    if (split_listen(c) || parse_profile(c))
        return 2;
    int lvl = log_level_parse(c->log_level);
    if (lvl < 0) {
        fprintf(stderr, "argotd: --log-level: '%s' is not error, warn, info or debug\n",
                c->log_level);
        return 2;
    }
    log_level_current = lvl;
    if (c->threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        c->threads = n > 2 ? 2 * n : 4;
    }
    return 0;
}

void cfg_print_help(FILE *out)
{
    /* The subcommands' lines are theirs (keys.c, fsck.c, migrate.c): tests/cli/argotd_admin.sh
     * checks that each appears here as `argotd SUB --help` prints it. */
    fprintf(out, "usage: argotd [serve] [options]\n"
                 "       argotd keys create [STORE] --org ORG [--name NAME]\n"
                 "       argotd keys list [STORE]\n"
                 "       argotd keys revoke [STORE] KEY_ID\n"
                 "       argotd fsck [--data DIR] [--meta URL] [--blob URL] [--s3-endpoint URL]\n"
                 "                   [--repair [--force]]\n"
                 "       argotd migrate [--data DIR] [--from-meta URL] [--from-blob URL]\n"
                 "                      --to-meta URL --to-blob URL [--s3-endpoint URL]\n"
                 "       argotd --version\n"
                 "STORE is --data, --meta, --blob and --meta-retries as below; the subcommands\n"
                 "read the same environment. `argotd keys|fsck|migrate --help` tells more.\n\n"
                 "An OpenAI Files API server. Options (flag > environment > default):\n");
    for (size_t i = 0; i < NSPECS; i++) {
        const cfg_spec *sp = &specs[i];
        char flag[64];
        snprintf(flag, sizeof flag, "--%s%s", sp->flag, sp->type == CFG_BOOL ? "" : " V");
        fprintf(out, "  %-24s %s\n  %-24s env %s, default %s\n", flag, sp->help, "", sp->env,
                sp->def ? sp->def : "(none)");
    }
}

/* One line with every setting (strings quoted; none of them is a secret). */
void cfg_log_effective(const cfg *c)
{
    argot_buf b = ARGOT_BUF_INIT(8192);
    int rc = argot_buf_puts(&b, "msg=config");
    for (size_t i = 0; i < NSPECS && !rc; i++) {
        const cfg_spec *sp = &specs[i];
        const void *field = (const char *)c + sp->offset;
        char key[64];
        snprintf(key, sizeof key, "%s", sp->flag);
        for (char *k = key; *k; k++)
            if (*k == '-')
                *k = '_';
        if (sp->type == CFG_STR)
            rc = argot_buf_printf(&b, " %s=\"%s\"", key,
                                  *(char *const *)field ? *(char *const *)field : "");
        else if (sp->type == CFG_BOOL)
            rc = argot_buf_printf(&b, " %s=%d", key, *(const int *)field);
        else
            rc = argot_buf_printf(&b, " %s=%lld", key, (long long)*(const int64_t *)field);
    }
    if (!rc)
        LOG(LOG_INFO, "%s", b.ptr);
    argot_buf_free(&b);
}

void cfg_free(cfg *c)
{
    for (size_t i = 0; i < NSPECS; i++)
        if (specs[i].type == CFG_STR) {
            char **p = (char **)((char *)c + specs[i].offset);
            free(*p);
            *p = NULL;
        }
}
