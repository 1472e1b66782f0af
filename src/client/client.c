/*
 * Client handle: options, environment fallbacks, last-error record, logging, global init.
 */
#include "client/internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const argot_error invalid_error = {
    ARGOT_E_INVALID,   0, NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL, 0, NULL, 0, 0,
    "invalid argument"};

const char *argot_version(void)
{
    return ARGOT_VERSION_STRING;
}

const char *argot_status_str(argot_status status)
{
    switch (status) {
    case ARGOT_OK:
        return "ok";
    case ARGOT_E_NOMEM:
        return "out of memory";
    case ARGOT_E_INVALID:
        return "invalid argument";
    case ARGOT_E_NOT_FOUND:
        return "not found";
    case ARGOT_E_CONFLICT:
        return "conflict";
    case ARGOT_E_TOO_LARGE:
        return "too large";
    case ARGOT_E_AUTH:
        return "authentication failed";
    case ARGOT_E_HTTP:
        return "HTTP error";
    case ARGOT_E_NETWORK:
        return "network error";
    case ARGOT_E_PROTOCOL:
        return "protocol error";
    case ARGOT_E_IO:
        return "I/O error";
    case ARGOT_E_TIMEOUT:
        return "timed out";
    case ARGOT_E_ABORTED:
        return "aborted by callback";
    case ARGOT_E_RANGE:
        return "range not satisfiable";
    }
    return "unknown status";
}

argot_status argot_global_init(void)
{
    CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (rc == CURLE_OUT_OF_MEMORY)
        return ARGOT_E_NOMEM;
    return rc == CURLE_OK ? ARGOT_OK : ARGOT_E_NETWORK;
}

void argot_global_cleanup(void)
{
    curl_global_cleanup();
}

char *argot__strdup(const char *s)
{
    size_t n;
    char *p;
    if (s == NULL)
        return NULL;
    n = strlen(s);
    p = malloc(n + 1);
    if (p != NULL)
        memcpy(p, s, n + 1);
    return p;
}

uint64_t argot__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

double argot__random(argot_client *c)
{
    /* xorshift64*: per handle, so no shared state between threads. */
    uint64_t x = c->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    c->rng = x;
    return (double)((x * UINT64_C(2685821657736338717)) >> 11) / 9007199254740992.0;
}

static const char *first_env(const char *a, const char *b)
{
    const char *v = getenv(a);
    if (v != NULL && v[0] != '\0')
        return v;
    v = b != NULL ? getenv(b) : NULL;
    if (v != NULL && v[0] != '\0')
        return v;
    return NULL;
}

static int valid_url(const char *u)
{
    return strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0;
}

static argot_status copy_options(argot_client *c, const argot_client_options *o)
{
    const char *key =
        o->api_key != NULL ? o->api_key : first_env("ARGOT_API_KEY", "OPENAI_API_KEY");
    const char *url =
        o->base_url != NULL ? o->base_url : first_env("ARGOT_BASE_URL", "OPENAI_BASE_URL");
    const char *org = o->organization != NULL ? o->organization : first_env("OPENAI_ORG_ID", NULL);
    const char *proj = o->project != NULL ? o->project : first_env("OPENAI_PROJECT_ID", NULL);
    size_t n;

    if (url == NULL || url[0] == '\0')
        url = ARGOT_DEFAULT_BASE_URL;
    if (!valid_url(url))
        return ARGOT_E_INVALID;
    c->api_key = argot__strdup(key != NULL ? key : "");
    c->base_url = argot__strdup(url);
    c->organization = argot__strdup(org);
    c->project = argot__strdup(proj);
    c->user_agent =
        argot__strdup(o->user_agent != NULL ? o->user_agent : "argot-c/" ARGOT_VERSION_STRING);
    if (c->api_key == NULL || c->base_url == NULL || c->user_agent == NULL ||
        (org != NULL && c->organization == NULL) || (proj != NULL && c->project == NULL))
        return ARGOT_E_NOMEM;
    n = strlen(c->base_url);
    while (n > 0 && c->base_url[n - 1] == '/')
        c->base_url[--n] = '\0';
    c->timeout_ms = o->timeout_ms == 0 ? ARGOT_DEFAULT_TIMEOUT_MS : o->timeout_ms;
    if (c->timeout_ms < 0)
        c->timeout_ms = ARGOT_TIMEOUT_NONE;
    c->retry = o->retry;
    c->log = o->log;
    c->log_level = o->log_level;
    c->log_userdata = o->log_userdata;
    return argot__retry_validate(&c->retry);
}

argot_status argot_client_new(argot_client **out, const argot_client_options *opts)
{
    static const argot_client_options defaults = ARGOT_CLIENT_OPTIONS_INIT;
    argot_client *c = NULL;
    argot_status st;

    if (out == NULL)
        return ARGOT_E_INVALID;
    *out = NULL;
    if (opts == NULL)
        opts = &defaults;
    if (opts->version != ARGOT_CLIENT_OPTIONS_VERSION)
        return ARGOT_E_INVALID;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return ARGOT_E_NOMEM;
    argot_buf_init(&c->err_body, ARGOT__MAX_ERROR_BODY);
    c->rng = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)c;
    if (c->rng == 0)
        c->rng = 0x9e3779b97f4a7c15u;
    st = copy_options(c, opts);
    if (st != ARGOT_OK)
        goto out;
    c->curl = curl_easy_init();
    if (c->curl == NULL) {
        st = ARGOT_E_NOMEM;
        goto out;
    }
    argot__error_reset(c);
    *out = c;
    c = NULL;
out:
    argot_client_free(c);
    return st;
}

static void clear_error_strings(argot_client *c)
{
    free(c->content_type);
    free(c->request_id);
    free(c->e_type);
    free(c->e_code);
    free(c->e_param);
    free(c->e_message);
    c->content_type = c->request_id = NULL;
    c->e_type = c->e_code = c->e_param = c->e_message = NULL;
}

void argot_client_free(argot_client *client)
{
    if (client == NULL)
        return;
    if (client->curl != NULL)
        curl_easy_cleanup(client->curl);
    clear_error_strings(client);
    argot_buf_free(&client->err_body);
    free(client->api_key);
    free(client->base_url);
    free(client->organization);
    free(client->project);
    free(client->user_agent);
    free(client);
}

const argot_error *argot_client_last_error(const argot_client *client)
{
    if (client == NULL)
        return &invalid_error;
    return &client->err;
}

const char *argot_client_base_url(const argot_client *client)
{
    return client != NULL ? client->base_url : NULL;
}

void argot_client_set_log(argot_client *client,
                          argot_log_level level,
                          argot_log_fn cb,
                          void *userdata)
{
    if (client == NULL)
        return;
    client->log = cb;
    client->log_level = level;
    client->log_userdata = userdata;
}

void argot__log(argot_client *c, argot_log_level level, const char *fmt, ...)
{
    char line[1024];
    va_list ap;

    if (c->log == NULL || level > c->log_level || level == ARGOT_LOG_NONE)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    c->log(level, line, c->log_userdata);
}

void argot__error_reset(argot_client *c)
{
    clear_error_strings(c);
    argot_buf_reset(&c->err_body);
    memset(&c->err, 0, sizeof(c->err));
    c->summary[0] = '\0';
    c->curl_errbuf[0] = '\0';
    c->err.summary = c->summary;
}

argot_status argot__error_set(argot_client *c, argot_status st, const char *fmt, ...)
{
    va_list ap;

    c->err.status = st;
    if (st != ARGOT_OK && c->summary[0] == '\0' && fmt != NULL) {
        va_start(ap, fmt);
        vsnprintf(c->summary, sizeof(c->summary), fmt, ap);
        va_end(ap);
    }
    if (st != ARGOT_OK && c->summary[0] == '\0')
        snprintf(c->summary, sizeof(c->summary), "%s", argot_status_str(st));
    return st;
}

argot_status argot__http_status_to_status(long http_status)
{
    if (http_status >= 200 && http_status < 300)
        return ARGOT_OK;
    switch (http_status) {
    case 401:
    case 403:
        return ARGOT_E_AUTH;
    case 404:
        return ARGOT_E_NOT_FOUND;
    case 409:
        return ARGOT_E_CONFLICT;
    case 413:
        return ARGOT_E_TOO_LARGE;
    case 416:
        return ARGOT_E_RANGE;
    default:
        return ARGOT_E_HTTP;
    }
}

argot_status argot__client_clone(argot_client **out, const argot_client *src)
{
    argot_client_options o = ARGOT_CLIENT_OPTIONS_INIT;

    o.api_key = src->api_key;
    o.base_url = src->base_url;
    o.organization = src->organization;
    o.project = src->project;
    o.user_agent = src->user_agent;
    o.timeout_ms = src->timeout_ms;
    o.retry = src->retry;
    return argot_client_new(out, &o);
}

/* Points dst->err's string members at dst's own copies. */
static void error_rebind(argot_client *dst, const argot_client *src)
{
    dst->err.content_type = dst->content_type;
    dst->err.request_id = dst->request_id;
    dst->err.type = dst->e_type;
    dst->err.code = dst->e_code;
    dst->err.param = dst->e_param;
    dst->err.message = dst->e_message;
    dst->err.summary = dst->summary;
    if (src->err.body != NULL) {
        dst->err.body = dst->err_body.ptr != NULL ? dst->err_body.ptr : "";
        dst->err.body_len = (unsigned long)dst->err_body.len;
    }
    if (src->err.transport_message == src->curl_errbuf)
        dst->err.transport_message = dst->curl_errbuf;
}

void argot__error_copy(argot_client *dst, const argot_client *src)
{
    argot__error_reset(dst);
    dst->err = src->err;
    dst->content_type = argot__strdup(src->content_type);
    dst->request_id = argot__strdup(src->request_id);
    dst->e_type = argot__strdup(src->e_type);
    dst->e_code = argot__strdup(src->e_code);
    dst->e_param = argot__strdup(src->e_param);
    dst->e_message = argot__strdup(src->e_message);
    if (src->err_body.len > 0)
        (void)argot_buf_put(&dst->err_body, src->err_body.ptr, src->err_body.len);
    memcpy(dst->summary, src->summary, sizeof(dst->summary));
    memcpy(dst->curl_errbuf, src->curl_errbuf, sizeof(dst->curl_errbuf));
    error_rebind(dst, src);
}
