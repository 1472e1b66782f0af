/* The S3 client: configuration, lifetime and the connection pool. See s3_client.h. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "server/blob/s3/s3_internal.h"
#include "server/log.h"

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

static void global_init(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && v[0] ? v : NULL;
}

s3_status s3_config_from_env(s3_config *c, s3_error *err)
{
    if (!c->access_key)
        c->access_key = env("AWS_ACCESS_KEY_ID");
    if (!c->secret_key)
        c->secret_key = env("AWS_SECRET_ACCESS_KEY");
    if (!c->session_token)
        c->session_token = env("AWS_SESSION_TOKEN");
    if (!c->region)
        c->region = env("AWS_REGION") ? env("AWS_REGION") : env("AWS_DEFAULT_REGION");
    if (!c->endpoint)
        c->endpoint = env("AWS_ENDPOINT_URL");
    if (!c->access_key || !c->secret_key)
        return s3_error_set(err, S3_E_INVALID, 0,
                            "S3 credentials missing: set AWS_ACCESS_KEY_ID and "
                            "AWS_SECRET_ACCESS_KEY");
    return S3_OK;
}

static int valid_bucket(const char *b)
{
    size_t n = b ? strlen(b) : 0;
    if (n < 3 || n > 63)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!(islower((unsigned char)b[i]) || isdigit((unsigned char)b[i]) || b[i] == '-' ||
              b[i] == '.' || b[i] == '_'))
            return 0;
    return 1;
}

static int valid_prefix(const char *p)
{
    if (!p)
        return 1;
    if (strlen(p) > 512 || p[0] == '/')
        return 0;
    for (; *p; p++)
        if (!(isalnum((unsigned char)*p) || strchr("._/-", *p)))
            return 0;
    return 1;
}

static char *dup_or_null(const char *s, int *fail)
{
    char *d;
    if (!s)
        return NULL;
    if (!(d = strdup(s)))
        *fail = 1;
    return d;
}

/* Splits "http(s)://host[:port][/]" into scheme and Host header (default port dropped). */
static s3_status parse_endpoint(s3_client *c, const char *url, s3_error *err)
{
    const char *rest;
    if (strncmp(url, "http://", 7) == 0) {
        strcpy(c->scheme, "http");
        rest = url + 7;
    } else if (strncmp(url, "https://", 8) == 0) {
        strcpy(c->scheme, "https");
        rest = url + 8;
    } else {
        return s3_error_set(err, S3_E_INVALID, 0, "S3 endpoint %s: not an http(s):// URL", url);
    }
    size_t n = strcspn(rest, "/?#");
    if (n == 0 || n >= sizeof c->host || strchr(rest, '@') ||
        (rest[n] && strcmp(rest + n, "/") != 0))
        return s3_error_set(err, S3_E_INVALID, 0,
                            "S3 endpoint %s: give scheme://host[:port] only (no path, no "
                            "user)",
                            url);
    for (size_t i = 0; i < n; i++)
        c->host[i] = (char)tolower((unsigned char)rest[i]);
    c->host[n] = '\0';
    const char *dflt = strcmp(c->scheme, "http") == 0 ? ":80" : ":443";
    size_t dl = strlen(dflt);
    if (n > dl && strcmp(c->host + n - dl, dflt) == 0 && c->host[0] != '[')
        c->host[n - dl] = '\0';
    return S3_OK;
}

static s3_status set_addressing(s3_client *c, s3_error *err)
{
    char host[sizeof c->host];
    int have_endpoint = c->endpoint && c->endpoint[0];
    s3_status rc;
    if (have_endpoint) {
        if ((rc = parse_endpoint(c, c->endpoint, err)) != S3_OK)
            return rc;
    } else {
        strcpy(c->scheme, "https");
        if (snprintf(c->host, sizeof c->host, "s3.%s.amazonaws.com", c->region) >=
            (int)sizeof c->host)
            return s3_error_set(err, S3_E_INVALID, 0, "S3 region too long");
    }
    switch (c->cfg.addressing) {
    case S3_ADDR_PATH:
        c->virtual_hosted = 0;
        break;
    case S3_ADDR_VIRTUAL:
        c->virtual_hosted = 1;
        break;
    default:
        c->virtual_hosted = !have_endpoint && !strchr(c->bucket, '.');
        break;
    }
    if (c->virtual_hosted) {
        if (snprintf(host, sizeof host, "%s.%s", c->bucket, c->host) >= (int)sizeof host)
            return s3_error_set(err, S3_E_INVALID, 0, "S3 host name too long");
        strcpy(c->host, host);
    }
    return S3_OK;
}

static s3_status check_config(const s3_config *cfg, s3_error *err)
{
    if (!valid_bucket(cfg->bucket))
        return s3_error_set(err, S3_E_INVALID, 0, "S3 bucket name '%s' is not valid",
                            cfg->bucket ? cfg->bucket : "");
    if (!valid_prefix(cfg->prefix))
        return s3_error_set(err, S3_E_INVALID, 0,
                            "S3 key prefix may hold only A-Z a-z 0-9 . _ / - (and not start "
                            "with /)");
    if (!cfg->access_key || !cfg->access_key[0] || !cfg->secret_key || !cfg->secret_key[0])
        return s3_error_set(err, S3_E_INVALID, 0, "S3 credentials missing");
    if (cfg->part_size < S3_MIN_PART_SIZE || cfg->part_size > S3_MAX_PART_SIZE)
        return s3_error_set(err, S3_E_INVALID, 0, "S3 part size must be 5 MiB..5 GiB");
    if (cfg->memory_budget < cfg->part_size)
        return s3_error_set(err, S3_E_INVALID, 0, "S3 memory budget must hold at least one part");
    if (cfg->parts_in_flight < 1 || cfg->parts_in_flight > S3_MAX_PARTS_IN_FLIGHT)
        return s3_error_set(err, S3_E_INVALID, 0, "S3 parts in flight must be 1..%d",
                            S3_MAX_PARTS_IN_FLIGHT);
    if (cfg->upload_threads < 1 || cfg->upload_threads > S3_MAX_UPLOAD_THREADS)
        return s3_error_set(err, S3_E_INVALID, 0, "S3 upload threads must be 1..%d",
                            S3_MAX_UPLOAD_THREADS);
    if (cfg->max_retries < 0 || cfg->max_retries > 20 || cfg->retry_base_ms < 0 ||
        cfg->connect_timeout_ms <= 0 || cfg->stall_timeout_s <= 0 || cfg->budget_wait_ms < 0)
        return s3_error_set(err, S3_E_INVALID, 0, "S3 timeouts or retries out of range");
    return S3_OK;
}

static s3_status copy_config(s3_client *c, const s3_config *cfg)
{
    int fail = 0;
    c->cfg = *cfg;
    c->endpoint = dup_or_null(cfg->endpoint, &fail);
    c->bucket = dup_or_null(cfg->bucket, &fail);
    c->prefix = dup_or_null(cfg->prefix ? cfg->prefix : "", &fail);
    c->region = dup_or_null(cfg->region ? cfg->region : S3_DEFAULT_REGION, &fail);
    c->access_key = dup_or_null(cfg->access_key, &fail);
    c->secret_key = dup_or_null(cfg->secret_key, &fail);
    c->session_token =
        dup_or_null(cfg->session_token && cfg->session_token[0] ? cfg->session_token : NULL, &fail);
    c->resolve = dup_or_null(cfg->resolve, &fail);
    if (c->resolve && !fail && !(c->resolve_list = curl_slist_append(NULL, c->resolve)))
        fail = 1;
    c->cfg.endpoint = c->endpoint;
    c->cfg.bucket = c->bucket;
    c->cfg.prefix = c->prefix;
    c->cfg.region = c->region;
    c->cfg.access_key = c->access_key;
    c->cfg.secret_key = c->secret_key;
    c->cfg.session_token = c->session_token;
    c->cfg.resolve = c->resolve;
    return fail ? S3_E_NOMEM : S3_OK;
}

s3_status s3_client_new(s3_client **out, const s3_config *cfg, s3_error *err)
{
    s3_status rc;
    s3_client *c;
    *out = NULL;
    if ((rc = check_config(cfg, err)) != S3_OK)
        return rc;
    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK)
        return s3_error_set(err, S3_E_NOMEM, 0, "curl_global_init failed");
    if (!(c = calloc(1, sizeof *c)))
        return s3_error_set(err, S3_E_NOMEM, 0, "out of memory");
    if (pthread_mutex_init(&c->lock, NULL) != 0) {
        free(c);
        return s3_error_set(err, S3_E_NOMEM, 0, "pthread_mutex_init failed");
    }
    if (s3_budget_init(&c->budget, cfg->memory_budget) != 0) {
        pthread_mutex_destroy(&c->lock);
        free(c);
        return s3_error_set(err, S3_E_NOMEM, 0, "budget init failed");
    }
    if (s3_pool_init(&c->pool, cfg->upload_threads) != 0) {
        s3_budget_destroy(&c->budget);
        pthread_mutex_destroy(&c->lock);
        free(c);
        return s3_error_set(err, S3_E_NOMEM, 0, "upload pool init failed");
    }
    if ((rc = copy_config(c, cfg)) != S3_OK || (rc = set_addressing(c, err)) != S3_OK) {
        s3_error_set(err, rc, 0, "out of memory");
        s3_client_free(c);
        return rc;
    }
    LOG(LOG_INFO,
        "s3 client endpoint=%s://%s bucket=%s prefix=%s region=%s addressing=%s "
        "credentials=[redacted] session_token=%s part_size=%llu budget=%llu parts_in_flight=%d "
        "upload_threads=%d",
        c->scheme, c->host, c->bucket, c->prefix, c->region,
        c->virtual_hosted ? "virtual-hosted" : "path", c->session_token ? "set" : "none",
        (unsigned long long)c->cfg.part_size, (unsigned long long)c->cfg.memory_budget,
        c->cfg.parts_in_flight, c->cfg.upload_threads);
    *out = c;
    return S3_OK;
}

static void wipe_free(char *s)
{
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

static void conn_free(s3_conn *k)
{
    if (!k)
        return;
    curl_easy_cleanup(k->easy);
    curl_multi_cleanup(k->multi);
    free(k);
}

void s3_client_free(s3_client *c)
{
    if (!c)
        return;
    s3_pool_destroy(&c->pool); /* no writer is left: the threads are idle */
    while (c->idle) {
        s3_conn *k = c->idle;
        c->idle = k->next;
        conn_free(k);
    }
    free(c->endpoint);
    free(c->bucket);
    free(c->prefix);
    free(c->region);
    wipe_free(c->access_key);
    wipe_free(c->secret_key);
    wipe_free(c->session_token);
    free(c->resolve);
    curl_slist_free_all(c->resolve_list);
    s3_budget_destroy(&c->budget);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

const s3_config *s3_client_config(const s3_client *c)
{
    return &c->cfg;
}

s3_conn *s3_conn_get(s3_client *c)
{
    s3_conn *k;
    pthread_mutex_lock(&c->lock);
    k = c->idle;
    if (k) {
        c->idle = k->next;
        c->nidle--;
    }
    pthread_mutex_unlock(&c->lock);
    if (k)
        return k;
    if (!(k = calloc(1, sizeof *k)))
        return NULL;
    k->multi = curl_multi_init();
    k->easy = curl_easy_init();
    if (!k->multi || !k->easy) {
        conn_free(k);
        return NULL;
    }
    return k;
}

void s3_conn_put(s3_client *c, s3_conn *k, int broken)
{
    if (!k)
        return;
    pthread_mutex_lock(&c->lock);
    if (!broken && c->nidle < S3_POOL_MAX) {
        k->next = c->idle;
        c->idle = k;
        c->nidle++;
        k = NULL;
    }
    pthread_mutex_unlock(&c->lock);
    conn_free(k);
}

s3_status s3_build_path(const s3_client *c, const char *key, argot_buf *out)
{
    if (argot_buf_putc(out, '/') != ARGOT_BUF_OK)
        return S3_E_NOMEM;
    if (!c->virtual_hosted) {
        if (argot_buf_puts(out, c->bucket) != ARGOT_BUF_OK)
            return S3_E_NOMEM;
        if (key && argot_buf_putc(out, '/') != ARGOT_BUF_OK)
            return S3_E_NOMEM;
    }
    if (!key)
        return S3_OK;
    if (s3_uri_encode(out, c->prefix, strlen(c->prefix), 1) != S3_SIGV4_OK ||
        s3_uri_encode(out, key, strlen(key), 1) != S3_SIGV4_OK)
        return S3_E_NOMEM;
    return S3_OK;
}

int s3_strip_prefix(const s3_client *c, char *key)
{
    size_t n = strlen(c->prefix);
    if (strncmp(key, c->prefix, n) != 0)
        return -1;
    memmove(key, key + n, strlen(key + n) + 1);
    return 0;
}
