/*
 * libargot against argot_mockd, the project's misbehaving server: every operation, the headers
 * sent, every retry rule (attempt counts and waits asserted with generous bounds), timeouts,
 * dropped and cut connections, rewinds, progress and abort, and the error detail.
 */
#include "harness.h"

#include <argot/argot.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static th_server srv;

static int group_setup(void **state)
{
    (void)state;
    if (argot_global_init() != ARGOT_OK)
        return -1;
    return th_start_mock(&srv);
}

static int group_teardown(void **state)
{
    (void)state;
    th_stop(&srv);
    argot_global_cleanup();
    return 0;
}

/* Fast retries for tests: 50 ms, doubling, at most 4 attempts. */
static argot_retry_config fast_retry(void)
{
    argot_retry_config r = ARGOT_RETRY_CONFIG_INIT;
    r.initial_interval_ms = 50;
    r.max_interval_ms = 400;
    r.exponent = 2.0;
    r.max_attempts = 4;
    return r;
}

static void log_stderr(argot_log_level level, const char *msg, void *ud)
{
    (void)ud;
    fprintf(stderr, "argot[%d]: %s\n", (int)level, msg);
}

static argot_client *client_for(const char *key,
                                const char *script,
                                const argot_retry_config *rc,
                                long timeout_ms)
{
    argot_client_options o = ARGOT_CLIENT_OPTIONS_INIT;
    argot_client *c = NULL;
    char url[1024];

    snprintf(url, sizeof(url), "%s/m/%s/%s/v1", srv.url, key, script);
    o.base_url = url;
    o.api_key = "sk-test";
    o.retry = rc != NULL ? *rc : fast_retry();
    o.timeout_ms = timeout_ms != 0 ? timeout_ms : 5000;
    if (getenv("ARGOT_TEST_LOG") != NULL) {
        o.log = log_stderr;
        o.log_level = ARGOT_LOG_DEBUG;
    }
    assert_int_equal(argot_client_new(&c, &o), ARGOT_OK);
    return c;
}

static int stats(const char *key, long *gaps, int n)
{
    return th_mock_stats(&srv, key, gaps, n, NULL, 0);
}

static argot_status retrieve(argot_client *c, const char *id, argot_file **f)
{
    argot_retrieve_file_request q = ARGOT_RETRIEVE_FILE_REQUEST_INIT;
    q.file_id = id;
    return argot_files_retrieve_file(f, c, &q, NULL);
}

/* ---- the five operations ---- */

static void test_operations(void **state)
{
    argot_client *c = client_for("ops", "ok", NULL, 0);
    argot_file_list *l = NULL;
    argot_file *f = NULL;
    argot_download *d = NULL;
    argot_file_deleted *del = NULL;
    argot_create_file_request cr = ARGOT_CREATE_FILE_REQUEST_INIT;
    argot_download_file_request dr = ARGOT_DOWNLOAD_FILE_REQUEST_INIT;
    argot_delete_file_request xr = ARGOT_DELETE_FILE_REQUEST_INIT;
    const argot_error *e;
    size_t i;
    (void)state;

    assert_int_equal(argot_files_list_files(&l, c, NULL, NULL), ARGOT_OK);
    assert_true(l->count >= 5);
    assert_non_null(l->json);
    for (i = 0; i < l->count; i++)
        if (strcmp(l->data[i].id, "file-canned4") == 0) {
            assert_string_equal(l->data[i].purpose, "user_data");
            assert_int_equal(l->data[i].expires_at, ARGOT_TIME_NULL);
            assert_null(l->data[i].status_details);
            assert_string_equal(l->data[i].status, "processed");
            assert_non_null(strstr(l->data[i].json, "\"status_details\":null"));
        }
    argot_file_list_free(l);

    assert_int_equal(retrieve(c, "file-canned3", &f), ARGOT_OK);
    assert_string_equal(f->purpose, "batch");
    assert_int_equal(f->expires_at, 1700000003 + 2592000);
    assert_non_null(strstr(f->json, "\"expires_at\":1702592003"));
    argot_file_free(f);
    e = argot_client_last_error(c);
    assert_int_equal(e->status, ARGOT_OK);
    assert_int_equal(e->attempts, 1);
    assert_int_equal(e->http_status, 200);
    assert_non_null(e->request_id);
    assert_memory_equal(e->request_id, "req_mock", 8);

    cr.file.kind = ARGOT_SOURCE_MEMORY;
    cr.file.data = "hello, argot\n";
    cr.file.len = 13;
    cr.purpose = "evals";
    cr.filename = "hello.txt";
    cr.expires_after = 3600;
    assert_int_equal(argot_files_create_file(&f, c, &cr, NULL), ARGOT_OK);
    assert_int_equal(f->bytes, 13);
    assert_string_equal(f->filename, "hello.txt");
    assert_string_equal(f->purpose, "evals");
    assert_int_equal(f->expires_at, f->created_at + 3600);

    dr.file_id = f->id;
    assert_int_equal(argot_files_download_file(&d, c, &dr, NULL), ARGOT_OK);
    assert_int_equal(d->bytes, 13);
    assert_string_equal(d->data, "hello, argot\n");
    assert_string_equal(d->content_type, "application/octet-stream");
    argot_download_free(d);

    xr.file_id = f->id;
    assert_int_equal(argot_files_delete_file(&del, c, &xr, NULL), ARGOT_OK);
    assert_true(del->deleted);
    assert_string_equal(del->id, f->id);
    assert_string_equal(del->object, "file");
    argot_file_deleted_free(del);
    assert_int_equal(argot_files_delete_file(NULL, c, &xr, NULL), ARGOT_E_NOT_FOUND);
    e = argot_client_last_error(c);
    assert_int_equal(e->http_status, 404);
    assert_string_equal(e->param, "id");
    assert_string_equal(e->type, "invalid_request_error");
    assert_null(e->code);
    assert_non_null(strstr(e->message, "No such File object"));
    assert_non_null(strstr(e->summary, "No such File object"));
    {
        argot_file *gone = f;
        assert_int_equal(retrieve(c, gone->id, &f), ARGOT_E_NOT_FOUND);
        assert_null(f);
        argot_file_free(gone);
    }
    argot_client_free(c);
}

static void test_headers_sent(void **state)
{
    argot_client_options o = ARGOT_CLIENT_OPTIONS_INIT;
    argot_request_options ro = ARGOT_REQUEST_OPTIONS_INIT;
    const char *extra[] = {"X-Extra: one", "X-Other: two", NULL};
    argot_client *c = NULL;
    argot_file *f = NULL;
    argot_download *d = NULL;
    argot_download_file_request dr = ARGOT_DOWNLOAD_FILE_REQUEST_INIT;
    argot_retrieve_file_request q = ARGOT_RETRIEVE_FILE_REQUEST_INIT;
    char url[1024], last[8192];
    (void)state;

    snprintf(url, sizeof(url), "%s/m/hdr/ok/v1/", srv.url); /* trailing slash is trimmed */
    o.base_url = url;
    o.api_key = "sk-hdr";
    o.organization = "org-x";
    o.project = "proj-y";
    o.user_agent = "argot-test/1";
    assert_int_equal(argot_client_new(&c, &o), ARGOT_OK);
    ro.headers = extra;
    q.file_id = "file-canned1";
    assert_int_equal(argot_files_retrieve_file(&f, c, &q, &ro), ARGOT_OK);
    argot_file_free(f);
    th_mock_stats(&srv, "hdr", NULL, 0, last, sizeof(last));
    assert_non_null(strstr(last, "GET /m/hdr/ok/v1/files/file-canned1 HTTP/1.1"));
    assert_non_null(strstr(last, "Authorization: Bearer sk-hdr"));
    assert_non_null(strstr(last, "OpenAI-Organization: org-x"));
    assert_non_null(strstr(last, "OpenAI-Project: proj-y"));
    assert_non_null(strstr(last, "User-Agent: argot-test/1"));
    assert_non_null(strstr(last, "Accept: application/json"));
    assert_non_null(strstr(last, "X-Extra: one"));
    assert_non_null(strstr(last, "X-Other: two"));
    dr.file_id = "file-canned1";
    assert_int_equal(argot_files_download_file(&d, c, &dr, NULL), ARGOT_OK);
    argot_download_free(d);
    th_mock_stats(&srv, "hdr", NULL, 0, last, sizeof(last));
    assert_non_null(strstr(last, "Accept: application/binary"));
    assert_null(strstr(last, "X-Extra"));
    argot_client_free(c);

    /* A key that already says "Bearer " is sent as is; an empty key sends none. */
    o.api_key = "Bearer sk-raw";
    o.organization = o.project = NULL;
    assert_int_equal(argot_client_new(&c, &o), ARGOT_OK);
    assert_int_equal(argot_files_retrieve_file(&f, c, &q, NULL), ARGOT_OK);
    argot_file_free(f);
    th_mock_stats(&srv, "hdr", NULL, 0, last, sizeof(last));
    assert_non_null(strstr(last, "Authorization: Bearer sk-raw"));
    argot_client_free(c);
    o.api_key = "";
    assert_int_equal(argot_client_new(&c, &o), ARGOT_OK);
    assert_int_equal(argot_files_retrieve_file(&f, c, &q, NULL), ARGOT_E_AUTH);
    assert_int_equal(argot_client_last_error(c)->http_status, 401);
    assert_non_null(strstr(argot_client_last_error(c)->message, "didn't provide an API key"));
    argot_client_free(c);
    o.api_key = "sk-wrong";
    assert_int_equal(argot_client_new(&c, &o), ARGOT_OK);
    assert_int_equal(argot_files_retrieve_file(&f, c, &q, NULL), ARGOT_E_AUTH);
    assert_string_equal(argot_client_last_error(c)->code, "invalid_api_key");
    assert_int_equal(argot_client_last_error(c)->attempts, 1);
    argot_client_free(c);
}

static void test_env_fallbacks(void **state)
{
    argot_client *c = NULL;
    argot_file *f = NULL;
    char url[1024], last[8192];
    (void)state;

    unsetenv("ARGOT_BASE_URL");
    unsetenv("OPENAI_BASE_URL");
    unsetenv("ARGOT_API_KEY");
    unsetenv("OPENAI_API_KEY");
    assert_int_equal(argot_client_new(&c, NULL), ARGOT_OK);
    assert_string_equal(argot_client_base_url(c), "https://api.openai.com/v1");
    argot_client_free(c);
    snprintf(url, sizeof(url), "%s/m/env/ok/v1", srv.url);
    setenv("OPENAI_BASE_URL", "http://127.0.0.1:1/nowhere", 1);
    assert_int_equal(argot_client_new(&c, NULL), ARGOT_OK);
    assert_string_equal(argot_client_base_url(c), "http://127.0.0.1:1/nowhere");
    argot_client_free(c);
    setenv("ARGOT_BASE_URL", url, 1);
    setenv("OPENAI_API_KEY", "sk-openai", 1);
    assert_int_equal(argot_client_new(&c, NULL), ARGOT_OK);
    assert_string_equal(argot_client_base_url(c), url);
    assert_int_equal(retrieve(c, "file-canned2", &f), ARGOT_OK);
    argot_file_free(f);
    th_mock_stats(&srv, "env", NULL, 0, last, sizeof(last));
    assert_non_null(strstr(last, "Bearer sk-openai"));
    argot_client_free(c);
    setenv("ARGOT_API_KEY", "sk-argot", 1);
    assert_int_equal(argot_client_new(&c, NULL), ARGOT_OK);
    assert_int_equal(retrieve(c, "file-canned2", &f), ARGOT_OK);
    argot_file_free(f);
    th_mock_stats(&srv, "env", NULL, 0, last, sizeof(last));
    assert_non_null(strstr(last, "Bearer sk-argot"));
    argot_client_free(c);
    unsetenv("ARGOT_BASE_URL");
    unsetenv("OPENAI_BASE_URL");
    unsetenv("ARGOT_API_KEY");
    unsetenv("OPENAI_API_KEY");
}

/* ---- retries ---- */

/* Runs a retrieve under script; returns the status, fills attempts and elapsed ms. */
static argot_status run_script(const char *key,
                               const char *script,
                               const argot_retry_config *rc,
                               long timeout_ms,
                               unsigned *attempts,
                               long long *elapsed)
{
    argot_client *c = client_for(key, script, rc, timeout_ms);
    argot_file *f = NULL;
    long long t0 = th_now_ms();
    argot_status st = retrieve(c, "file-canned1", &f);
    *elapsed = th_now_ms() - t0;
    *attempts = argot_client_last_error(c)->attempts;
    argot_file_free(f);
    argot_client_free(c);
    return st;
}

static void test_retry_backoff(void **state)
{
    unsigned n;
    long long ms;
    long gaps[8];
    (void)state;

    assert_int_equal(run_script("b429", "429,429,ok", NULL, 0, &n, &ms), ARGOT_OK);
    assert_int_equal(n, 3);
    assert_int_equal(stats("b429", gaps, 8), 3);
    assert_true(gaps[0] >= 35 && gaps[0] < 1500); /* 50 ms less up to 25 % jitter */
    assert_true(gaps[1] >= 70 && gaps[1] < 1500); /* 100 ms less up to 25 % */
    assert_int_equal(run_script("b5xx", "500,502,503,ok", NULL, 0, &n, &ms), ARGOT_OK);
    assert_int_equal(n, 4);
    assert_int_equal(run_script("b408", "408,409,ok", NULL, 0, &n, &ms), ARGOT_OK);
    assert_int_equal(n, 3);
}

static void test_retry_after_headers(void **state)
{
    unsigned n;
    long long ms;
    long gaps[8];
    (void)state;

    assert_int_equal(run_script("rams", "429+rams=300,ok", NULL, 0, &n, &ms), ARGOT_OK);
    assert_int_equal(n, 2);
    assert_int_equal(stats("rams", gaps, 8), 2);
    assert_true(gaps[0] >= 280 && gaps[0] < 3000);
    assert_int_equal(run_script("ras", "503+ra=1,ok", NULL, 0, &n, &ms), ARGOT_OK);
    assert_int_equal(stats("ras", gaps, 8), 2);
    assert_true(gaps[0] >= 950 && gaps[0] < 4000);
    /* retry-after-ms wins over retry-after */
    assert_int_equal(run_script("both", "429+ra=5+rams=100,ok", NULL, 0, &n, &ms), ARGOT_OK);
    assert_int_equal(stats("both", gaps, 8), 2);
    assert_true(gaps[0] >= 90 && gaps[0] < 3000);
    /* an HTTP date two seconds ahead: between 1 and 2 s, given whole-second resolution */
    assert_int_equal(run_script("rad", "503+radate=2,ok", NULL, 0, &n, &ms), ARGOT_OK);
    assert_int_equal(stats("rad", gaps, 8), 2);
    assert_true(gaps[0] >= 900 && gaps[0] < 5000);
    /* above 60 s the hint is ignored and backoff applies */
    assert_int_equal(run_script("rabig", "429+ra=120,ok", NULL, 0, &n, &ms), ARGOT_OK);
    assert_int_equal(stats("rabig", gaps, 8), 2);
    assert_true(gaps[0] < 1500);
}

static void test_retry_limits(void **state)
{
    argot_retry_config rc = fast_retry();
    argot_client *c;
    argot_file *f = NULL;
    const argot_error *e;
    unsigned n;
    long long ms;
    (void)state;

    /* attempts run out: the last failure comes back with its detail */
    c = client_for("exh", "503", NULL, 0);
    assert_int_equal(retrieve(c, "file-canned1", &f), ARGOT_E_HTTP);
    e = argot_client_last_error(c);
    assert_int_equal(e->attempts, 4);
    assert_int_equal(e->http_status, 503);
    assert_string_equal(e->type, "server_error");
    assert_string_equal(e->message, "Scripted failure 503");
    assert_string_equal(e->content_type, "application/json");
    assert_non_null(strstr(e->body, "Scripted failure 503"));
    argot_client_free(c);
    assert_int_equal(stats("exh", NULL, 0), 4);

    rc.strategy = ARGOT_RETRY_NONE;
    assert_int_equal(run_script("none", "503,ok", &rc, 0, &n, &ms), ARGOT_E_HTTP);
    assert_int_equal(n, 1);
    rc = fast_retry();
    rc.max_attempts = 0; /* unlimited, bounded by max_elapsed_time */
    rc.initial_interval_ms = 100;
    rc.exponent = 1.0;
    rc.max_elapsed_time_ms = 450;
    assert_int_equal(run_script("elapsed", "503", &rc, 0, &n, &ms), ARGOT_E_HTTP);
    assert_true(n >= 3 && n <= 8);
    assert_true(ms < 3000);
    /* x-should-retry overrides the status rules both ways */
    assert_int_equal(run_script("srf", "503+sr=false,ok", NULL, 0, &n, &ms), ARGOT_E_HTTP);
    assert_int_equal(n, 1);
    assert_int_equal(run_script("srt", "400+sr=true,ok", NULL, 0, &n, &ms), ARGOT_OK);
    assert_int_equal(n, 2);
    /* not retried: 400, 404, 413, 401 */
    assert_int_equal(run_script("s400", "400,ok", NULL, 0, &n, &ms), ARGOT_E_HTTP);
    assert_int_equal(n, 1);
    assert_int_equal(run_script("s413", "413,ok", NULL, 0, &n, &ms), ARGOT_E_TOO_LARGE);
    assert_int_equal(n, 1);
    assert_int_equal(run_script("s409", "409", NULL, 0, &n, &ms), ARGOT_E_CONFLICT);
    assert_int_equal(n, 4);
    assert_int_equal(run_script("s403", "403,ok", NULL, 0, &n, &ms), ARGOT_E_AUTH);
    assert_int_equal(n, 1);
}

static void test_retry_per_request_override(void **state)
{
    argot_client *c = client_for("ovr", "503,503,ok", NULL, 0);
    argot_request_options ro = ARGOT_REQUEST_OPTIONS_INIT;
    argot_retry_config none = ARGOT_RETRY_CONFIG_INIT;
    argot_retry_config bad = ARGOT_RETRY_CONFIG_INIT;
    argot_retrieve_file_request q = ARGOT_RETRIEVE_FILE_REQUEST_INIT;
    argot_file *f = NULL;
    (void)state;

    none.strategy = ARGOT_RETRY_NONE;
    ro.retry = &none;
    q.file_id = "file-canned1";
    assert_int_equal(argot_files_retrieve_file(&f, c, &q, &ro), ARGOT_E_HTTP);
    assert_int_equal(argot_client_last_error(c)->attempts, 1);
    bad.version = 99;
    ro.retry = &bad;
    assert_int_equal(argot_files_retrieve_file(&f, c, &q, &ro), ARGOT_E_INVALID);
    assert_int_equal(argot_files_retrieve_file(&f, c, &q, NULL), ARGOT_OK); /* 503, ok */
    assert_int_equal(argot_client_last_error(c)->attempts, 2);
    argot_file_free(f);
    argot_client_free(c);
}

static void test_connection_errors(void **state)
{
    argot_retry_config rc = fast_retry();
    argot_client *c;
    argot_file *f = NULL;
    unsigned n;
    long long ms;
    (void)state;

    assert_int_equal(run_script("drop", "drop,drop,ok", NULL, 0, &n, &ms), ARGOT_OK);
    assert_int_equal(n, 3);
    assert_int_equal(stats("drop", NULL, 0), 3);
    rc.retry_connection_errors = 0;
    assert_int_equal(run_script("dropn", "drop,ok", &rc, 0, &n, &ms), ARGOT_E_NETWORK);
    assert_int_equal(n, 1);
    c = client_for("dropd", "drop", NULL, 0);
    assert_int_equal(retrieve(c, "file-canned1", &f), ARGOT_E_NETWORK);
    assert_int_equal(argot_client_last_error(c)->http_status, 0);
    assert_int_not_equal(argot_client_last_error(c)->transport_code, 0);
    assert_non_null(argot_client_last_error(c)->transport_message);
    argot_client_free(c);
    /* nothing listens on port 1 */
    {
        argot_client_options o = ARGOT_CLIENT_OPTIONS_INIT;
        o.base_url = "http://127.0.0.1:1/v1";
        o.api_key = "k";
        o.retry = fast_retry();
        o.retry.max_attempts = 2;
        assert_int_equal(argot_client_new(&c, &o), ARGOT_OK);
        assert_int_equal(retrieve(c, "x", &f), ARGOT_E_NETWORK);
        assert_int_equal(argot_client_last_error(c)->attempts, 2);
        argot_client_free(c);
    }
}

static void test_timeouts(void **state)
{
    argot_retry_config rc = fast_retry();
    argot_client *c;
    argot_request_options ro = ARGOT_REQUEST_OPTIONS_INIT;
    argot_retrieve_file_request q = ARGOT_RETRIEVE_FILE_REQUEST_INIT;
    argot_file *f = NULL;
    unsigned n;
    long long ms, t0;
    (void)state;

    assert_int_equal(run_script("stall1", "stall,ok", NULL, 300, &n, &ms), ARGOT_OK);
    assert_int_equal(n, 2);
    assert_true(ms >= 280 && ms < 5000);
    rc.strategy = ARGOT_RETRY_NONE;
    assert_int_equal(run_script("stall2", "stall", &rc, 300, &n, &ms), ARGOT_E_TIMEOUT);
    assert_int_equal(n, 1);
    assert_true(ms >= 280 && ms < 5000);
    rc = fast_retry();
    rc.max_attempts = 3;
    assert_int_equal(run_script("stall3", "stall", &rc, 200, &n, &ms), ARGOT_E_TIMEOUT);
    assert_int_equal(n, 3);
    assert_true(ms >= 3 * 190 && ms < 8000);
    /* per-request timeout overrides the client's */
    c = client_for("stall4", "stall", &rc, 60000);
    ro.timeout_ms = 250;
    rc.strategy = ARGOT_RETRY_NONE;
    ro.retry = &rc;
    q.file_id = "file-canned1";
    t0 = th_now_ms();
    assert_int_equal(argot_files_retrieve_file(&f, c, &q, &ro), ARGOT_E_TIMEOUT);
    assert_true(th_now_ms() - t0 < 5000);
    argot_client_free(c);
}

/* ---- uploads: sources, rewind, progress ---- */

typedef struct cbsrc {
    const char *data;
    size_t len, pos;
    int rewinds;
} cbsrc;

static size_t cb_read(char *buf, size_t len, void *ud)
{
    cbsrc *s = ud;
    size_t n = s->len - s->pos < len ? s->len - s->pos : len;
    memcpy(buf, s->data + s->pos, n);
    s->pos += n;
    return n;
}

static int cb_rewind(void *ud)
{
    cbsrc *s = ud;
    s->pos = 0;
    s->rewinds++;
    return 0;
}

static size_t cb_fail(char *buf, size_t len, void *ud)
{
    (void)buf;
    (void)len;
    (void)ud;
    return ARGOT_READ_ERROR;
}

static char *make_file(const char *dir, const char *name, const char *content)
{
    static char path[1024];
    FILE *f;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
    return path;
}

static argot_status upload(argot_client *c, argot_create_file_request *cr, argot_file **out)
{
    cr->purpose = "assistants";
    return argot_files_create_file(out, c, cr, NULL);
}

static void test_upload_sources_and_rewind(void **state)
{
    char dir[512], *path;
    argot_client *c;
    argot_create_file_request cr = ARGOT_CREATE_FILE_REQUEST_INIT;
    argot_file *f = NULL;
    cbsrc s = {"callback data!", 14, 0, 0};
    int fd;
    (void)state;

    assert_int_equal(th_tmpdir(dir, sizeof(dir), "up"), 0);
    path = make_file(dir, "from-path.txt", "path content\n");

    c = client_for("uppath", "503,ok", NULL, 0);
    cr.file.kind = ARGOT_SOURCE_PATH;
    cr.file.path = path;
    assert_int_equal(upload(c, &cr, &f), ARGOT_OK);
    assert_int_equal(argot_client_last_error(c)->attempts, 2);
    assert_int_equal(f->bytes, 13);
    assert_string_equal(f->filename, "from-path.txt"); /* basename by default */
    argot_file_free(f);
    argot_client_free(c);

    c = client_for("upfd", "429,ok", NULL, 0);
    fd = open(path, O_RDONLY);
    assert_true(lseek(fd, 5, SEEK_SET) == 5); /* read from the current offset */
    cr.file.kind = ARGOT_SOURCE_FD;
    cr.file.fd = fd;
    assert_int_equal(upload(c, &cr, &f), ARGOT_OK);
    assert_int_equal(f->bytes, 8);
    assert_string_equal(f->filename, "upload");
    argot_file_free(f);
    close(fd);
    argot_client_free(c);

    c = client_for("upmem", "500,500,ok", NULL, 0);
    cr.file.kind = ARGOT_SOURCE_MEMORY;
    cr.file.data = "0123456789";
    cr.file.len = 10;
    assert_int_equal(upload(c, &cr, &f), ARGOT_OK);
    assert_int_equal(f->bytes, 10);
    assert_int_equal(argot_client_last_error(c)->attempts, 3);
    argot_file_free(f);
    argot_client_free(c);

    c = client_for("upcb", "503,ok", NULL, 0);
    cr.file.kind = ARGOT_SOURCE_CALLBACK;
    cr.file.read = cb_read;
    cr.file.rewind = cb_rewind;
    cr.file.userdata = &s;
    cr.file.size = -1; /* unknown: chunked */
    assert_int_equal(upload(c, &cr, &f), ARGOT_OK);
    assert_int_equal(f->bytes, 14);
    assert_true(s.rewinds >= 1);
    argot_file_free(f);
    argot_client_free(c);

    /* no rewind callback: once sent, the body cannot be retried */
    c = client_for("upcbn", "503,ok", NULL, 0);
    s.pos = 0;
    cr.file.rewind = NULL;
    cr.file.size = 14;
    assert_int_equal(upload(c, &cr, &f), ARGOT_E_HTTP);
    assert_int_equal(argot_client_last_error(c)->attempts, 1);
    cr.file.read = cb_fail;
    assert_int_equal(upload(c, &cr, &f), ARGOT_E_ABORTED);
    argot_client_free(c);

    /* local errors */
    c = client_for("uperr", "ok", NULL, 0);
    cr.file.kind = ARGOT_SOURCE_PATH;
    cr.file.path = "/nonexistent/argot/file";
    assert_int_equal(upload(c, &cr, &f), ARGOT_E_IO);
    assert_int_equal(argot_client_last_error(c)->os_errno, ENOENT);
    assert_int_equal(argot_client_last_error(c)->attempts, 0);
    cr.file.kind = ARGOT_SOURCE_NONE;
    assert_int_equal(upload(c, &cr, &f), ARGOT_E_INVALID);
    cr.file.kind = ARGOT_SOURCE_MEMORY;
    cr.purpose = NULL;
    assert_int_equal(argot_files_create_file(&f, c, &cr, NULL), ARGOT_E_INVALID);
    argot_client_free(c);
    th_rmtree(dir);
}

typedef struct prog {
    uint64_t last_done, last_total;
    int calls, abort_after;
} prog;

static int on_prog(uint64_t done, uint64_t total, void *ud)
{
    prog *p = ud;
    p->calls++;
    p->last_done = done;
    p->last_total = total;
    return p->abort_after > 0 && p->calls >= p->abort_after;
}

static int sink_abort(const char *data, size_t len, void *ud)
{
    (void)data;
    (void)len;
    (void)ud;
    return 1;
}

static void test_progress_and_abort(void **state)
{
    static char big[300000];
    argot_client *c = client_for("prog", "ok", NULL, 0);
    argot_create_file_request cr = ARGOT_CREATE_FILE_REQUEST_INIT;
    argot_download_file_request dr = ARGOT_DOWNLOAD_FILE_REQUEST_INIT;
    argot_file *f = NULL;
    argot_download *d = NULL;
    prog p = {0, 0, 0, 0};
    (void)state;

    memset(big, 'x', sizeof(big));
    cr.file.kind = ARGOT_SOURCE_MEMORY;
    cr.file.data = big;
    cr.file.len = sizeof(big);
    cr.purpose = "batch";
    cr.progress = on_prog;
    cr.progress_userdata = &p;
    assert_int_equal(argot_files_create_file(&f, c, &cr, NULL), ARGOT_OK);
    assert_true(p.calls >= 1);
    assert_int_equal(p.last_done, sizeof(big));
    assert_int_equal(p.last_total, sizeof(big));

    memset(&p, 0, sizeof(p));
    dr.file_id = f->id;
    dr.progress = on_prog;
    dr.progress_userdata = &p;
    assert_int_equal(argot_files_download_file(&d, c, &dr, NULL), ARGOT_OK);
    assert_int_equal(d->bytes, sizeof(big));
    assert_int_equal(p.last_done, sizeof(big));
    argot_download_free(d);

    memset(&p, 0, sizeof(p));
    p.abort_after = 1;
    assert_int_equal(argot_files_download_file(&d, c, &dr, NULL), ARGOT_E_ABORTED);
    assert_int_equal(argot_client_last_error(c)->attempts, 1);
    memset(&p, 0, sizeof(p));
    p.abort_after = 1;
    {
        argot_file *none = NULL;
        assert_int_equal(argot_files_create_file(&none, c, &cr, NULL), ARGOT_E_ABORTED);
        assert_null(none);
    }
    dr.progress = NULL;
    dr.sink.kind = ARGOT_SINK_CALLBACK;
    dr.sink.write = sink_abort;
    assert_int_equal(argot_files_download_file(&d, c, &dr, NULL), ARGOT_E_ABORTED);
    argot_file_free(f);
    argot_client_free(c);
}

/* ---- downloads: sinks, cut connections ---- */

typedef struct collect {
    char buf[256];
    size_t len;
} collect;

static int sink_collect(const char *data, size_t len, void *ud)
{
    collect *c = ud;
    if (c->len + len > sizeof(c->buf))
        return 1;
    memcpy(c->buf + c->len, data, len);
    c->len += len;
    return 0;
}

static char *slurp(const char *path, size_t *len)
{
    static char buf[4096];
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    *len = fread(buf, 1, sizeof(buf) - 1, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

static void test_download_sinks(void **state)
{
    char dir[512], path[1024];
    argot_client *c;
    argot_download_file_request dr = ARGOT_DOWNLOAD_FILE_REQUEST_INIT;
    argot_download *d = NULL;
    collect col = {{0}, 0};
    size_t len;
    struct stat sb;
    int fd;
    (void)state;

    assert_int_equal(th_tmpdir(dir, sizeof(dir), "down"), 0);
    dr.file_id = "file-canned2";

    c = client_for("dlbuf", "cut,ok", NULL, 0); /* half a body, then the whole */
    assert_int_equal(argot_files_download_file(&d, c, &dr, NULL), ARGOT_OK);
    assert_string_equal(d->data, "canned file 2\n");
    assert_int_equal(argot_client_last_error(c)->attempts, 2);
    argot_download_free(d);
    argot_client_free(c);

    c = client_for("dlpath", "cut,ok", NULL, 0);
    snprintf(path, sizeof(path), "%s/out.bin", dir);
    dr.sink.kind = ARGOT_SINK_PATH;
    dr.sink.path = path;
    assert_int_equal(argot_files_download_file(&d, c, &dr, NULL), ARGOT_OK);
    assert_null(d->data);
    assert_int_equal(d->bytes, 14);
    argot_download_free(d);
    assert_string_equal(slurp(path, &len), "canned file 2\n");
    argot_client_free(c);

    c = client_for("dlfd", "cut,ok", NULL, 0);
    fd = open(path, O_RDWR | O_TRUNC);
    assert_true(write(fd, "HEAD:", 5) == 5);
    dr.sink.kind = ARGOT_SINK_FD;
    dr.sink.fd = fd;
    assert_int_equal(argot_files_download_file(NULL, c, &dr, NULL), ARGOT_OK);
    close(fd);
    assert_string_equal(slurp(path, &len), "HEAD:canned file 2\n");
    argot_client_free(c);

    /* a callback resumes (the answer had an ETag); without one it cannot start over */
    c = client_for("dlcb", "cut,ok", NULL, 0);
    dr.sink.kind = ARGOT_SINK_CALLBACK;
    dr.sink.write = sink_collect;
    dr.sink.userdata = &col;
    assert_int_equal(argot_files_download_file(NULL, c, &dr, NULL), ARGOT_OK);
    assert_int_equal(argot_client_last_error(c)->attempts, 2);
    assert_int_equal(col.len, 14);
    assert_memory_equal(col.buf, "canned file 2\n", 14);
    argot_client_free(c);
    c = client_for("dlcbnt", "cutnotag,ok", NULL, 0);
    col.len = 0;
    assert_int_equal(argot_files_download_file(NULL, c, &dr, NULL), ARGOT_E_NETWORK);
    assert_int_equal(argot_client_last_error(c)->attempts, 1);
    col.len = 0;
    assert_int_equal(argot_files_download_file(NULL, c, &dr, NULL), ARGOT_OK);
    assert_int_equal(col.len, 14);
    argot_client_free(c);

    /* a 404 does not create the output file; a failed download removes it */
    c = client_for("dlerr", "ok", NULL, 0);
    snprintf(path, sizeof(path), "%s/missing.bin", dir);
    dr.sink.kind = ARGOT_SINK_PATH;
    dr.sink.path = path;
    dr.file_id = "file-nope";
    assert_int_equal(argot_files_download_file(NULL, c, &dr, NULL), ARGOT_E_NOT_FOUND);
    assert_int_not_equal(stat(path, &sb), 0);
    dr.file_id = "file-canned2";
    dr.sink.path = "/nonexistent/dir/out.bin";
    assert_int_equal(argot_files_download_file(NULL, c, &dr, NULL), ARGOT_E_IO);
    assert_int_equal(argot_client_last_error(c)->os_errno, ENOENT);
    dr.sink.kind = ARGOT_SINK_BUFFER;
    dr.sink.max_buffer = 4;
    assert_int_equal(argot_files_download_file(&d, c, &dr, NULL), ARGOT_E_TOO_LARGE);
    dr.sink.max_buffer = 0;
    assert_int_equal(argot_files_download_file(NULL, c, &dr, NULL), ARGOT_E_INVALID);
    argot_client_free(c);

    c = client_for("dlcut", "cut", NULL, 0);
    assert_int_equal(argot_files_download_file(&d, c, &dr, NULL), ARGOT_E_NETWORK);
    assert_int_equal(argot_client_last_error(c)->attempts, 4);
    argot_client_free(c);
    th_rmtree(dir);
}

/* ---- ranged and resumed downloads ---- */

static const char *last_request(const char *key)
{
    static char last[8192];
    th_mock_stats(&srv, key, NULL, 0, last, sizeof(last));
    return last;
}

/* A download of file-canned2 ("canned file 2\n", 14 bytes) into a buffer. */
static argot_status dl_buf(argot_client *c, uint64_t off, int64_t len, argot_download **d)
{
    argot_download_file_request dr = ARGOT_DOWNLOAD_FILE_REQUEST_INIT;
    dr.file_id = "file-canned2";
    dr.offset = off;
    dr.length = len;
    return argot_files_download_file(d, c, &dr, NULL);
}

/* A connection cut mid-body is resumed by the retry with Range and If-Range (the first
 * answer's ETag), once or several times; without an ETag the retry starts over. */
static void test_resume_after_cut(void **state)
{
    argot_client *c = client_for("rs1", "cut,ok", NULL, 0);
    argot_download *d = NULL;
    const char *last;
    (void)state;

    assert_int_equal(dl_buf(c, 0, -1, &d), ARGOT_OK);
    assert_int_equal(argot_client_last_error(c)->attempts, 2);
    assert_string_equal(d->data, "canned file 2\n");
    assert_int_equal(d->bytes, 14);
    assert_int_equal(d->offset, 0);
    assert_int_equal(d->size, 14);
    assert_int_equal(d->http_status, 206);
    assert_string_equal(d->etag, "\"file-canned2\"");
    assert_false(d->restarted);
    assert_false(d->already_complete);
    last = last_request("rs1");
    assert_non_null(strstr(last, "Range: bytes=7-\\r\\n"));
    assert_non_null(strstr(last, "If-Range: \\\"file-canned2\\\"\\r\\n"));
    argot_download_free(d);
    argot_client_free(c);

    c = client_for("rs2", "cut,cut,ok", NULL, 0); /* 7 bytes, 3 more, then the last 4 */
    assert_int_equal(dl_buf(c, 0, -1, &d), ARGOT_OK);
    assert_int_equal(argot_client_last_error(c)->attempts, 3);
    assert_string_equal(d->data, "canned file 2\n");
    assert_non_null(strstr(last_request("rs2"), "Range: bytes=10-\\r\\n"));
    argot_download_free(d);
    argot_client_free(c);

    c = client_for("rs3", "cutnotag,ok", NULL, 0); /* no validator: start over */
    assert_int_equal(dl_buf(c, 0, -1, &d), ARGOT_OK);
    assert_int_equal(argot_client_last_error(c)->attempts, 2);
    assert_string_equal(d->data, "canned file 2\n");
    assert_null(strstr(last_request("rs3"), "Range:"));
    assert_int_equal(d->http_status, 200);
    argot_download_free(d);
    argot_client_free(c);

    c = client_for("rs4", "cut,norange", NULL, 0); /* the resume is answered 200: restart */
    assert_int_equal(dl_buf(c, 0, -1, &d), ARGOT_OK);
    assert_int_equal(argot_client_last_error(c)->attempts, 2);
    assert_string_equal(d->data, "canned file 2\n");
    assert_true(d->restarted);
    assert_int_equal(d->http_status, 200);
    assert_null(d->etag);
    argot_download_free(d);
    argot_client_free(c);
}

/* A 200 where a range was asked: the sink starts over at byte 0 if it can. */
static void test_range_answered_200(void **state)
{
    argot_download_file_request dr = ARGOT_DOWNLOAD_FILE_REQUEST_INIT;
    argot_client *c = client_for("r200", "norange", NULL, 0);
    argot_download *d = NULL;
    collect col = {{0}, 0};
    char dir[512], path[1024];
    size_t len;
    int fd, pfd[2];
    (void)state;

    assert_int_equal(dl_buf(c, 5, -1, &d), ARGOT_OK);
    assert_non_null(strstr(last_request("r200"), "Range: bytes=5-\\r\\n"));
    assert_string_equal(d->data, "canned file 2\n");
    assert_true(d->restarted);
    assert_int_equal(d->offset, 0);
    assert_int_equal(d->bytes, 14);
    assert_int_equal(d->size, 14);
    argot_download_free(d);

    assert_int_equal(th_tmpdir(dir, sizeof(dir), "r200"), 0);
    snprintf(path, sizeof(path), "%s/out", dir);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(write(fd, "HEAD:XXXXX", 10) == 10); /* "XXXXX": 5 bytes of an old version */
    dr.file_id = "file-canned2";
    dr.offset = 5;
    dr.sink.kind = ARGOT_SINK_FD;
    dr.sink.fd = fd;
    assert_int_equal(argot_files_download_file(NULL, c, &dr, NULL), ARGOT_OK);
    close(fd);
    assert_string_equal(slurp(path, &len), "HEAD:canned file 2\n");

    dr.sink.kind = ARGOT_SINK_CALLBACK; /* cannot start over: nothing written, E_RANGE */
    dr.sink.write = sink_collect;
    dr.sink.userdata = &col;
    assert_int_equal(argot_files_download_file(NULL, c, &dr, NULL), ARGOT_E_RANGE);
    assert_int_equal(col.len, 0);
    assert_int_equal(argot_client_last_error(c)->http_status, 200);
    assert_int_equal(argot_client_last_error(c)->attempts, 1);
    assert_non_null(strstr(argot_client_last_error(c)->summary, "cannot start over"));
    assert_int_equal(pipe(pfd), 0);
    dr.sink.kind = ARGOT_SINK_FD; /* nor can a pipe */
    dr.sink.fd = pfd[1];
    assert_int_equal(argot_files_download_file(NULL, c, &dr, NULL), ARGOT_E_RANGE);
    close(pfd[0]);
    close(pfd[1]);
    argot_client_free(c);

    c = client_for("r200cb", "cut,norange", NULL, 0); /* a callback that got bytes, then a 200 */
    dr.offset = 0;
    dr.sink.kind = ARGOT_SINK_CALLBACK;
    assert_int_equal(argot_files_download_file(NULL, c, &dr, NULL), ARGOT_E_RANGE);
    assert_int_equal(argot_client_last_error(c)->attempts, 2);
    assert_int_equal(col.len, 7);
    argot_client_free(c);
    th_rmtree(dir);
}

/* Offsets and lengths, 416 at and past the end, a 206 that is not the range asked for. */
static void test_ranges_and_416(void **state)
{
    argot_client *c = client_for("r416", "ok", NULL, 0);
    argot_download *d = NULL;
    const argot_error *e;
    (void)state;

    assert_int_equal(dl_buf(c, 3, 4, &d), ARGOT_OK);
    assert_string_equal(d->data, "ned ");
    assert_int_equal(d->http_status, 206);
    assert_int_equal(d->offset, 3);
    assert_int_equal(d->size, 14);
    assert_non_null(strstr(last_request("r416"), "Range: bytes=3-6\\r\\n"));
    assert_null(strstr(last_request("r416"), "If-Range"));
    argot_download_free(d);

    assert_int_equal(dl_buf(c, 14, -1, &d), ARGOT_OK); /* at the end: complete */
    assert_true(d->already_complete);
    assert_int_equal(d->http_status, 416);
    assert_int_equal(d->bytes, 0);
    assert_int_equal(d->offset, 14);
    assert_int_equal(d->size, 14);
    assert_string_equal(d->data, "");
    assert_string_equal(d->etag, "\"file-canned2\"");
    argot_download_free(d);

    assert_int_equal(dl_buf(c, 20, -1, &d), ARGOT_E_RANGE); /* past the end */
    assert_null(d);
    e = argot_client_last_error(c);
    assert_int_equal(e->http_status, 416);
    assert_string_equal(e->code, "range_not_satisfiable");
    assert_int_equal(e->attempts, 1);
    assert_int_equal(dl_buf(c, 14, 2, &d), ARGOT_E_RANGE); /* a bounded range: never complete */
    assert_int_equal(dl_buf(c, 0, 0, &d), ARGOT_E_INVALID);
    assert_int_equal(dl_buf(c, 0, -2, &d), ARGOT_E_INVALID);
    assert_int_equal(dl_buf(c, UINT64_C(1) << 63, -1, &d), ARGOT_E_INVALID);
    assert_int_equal(dl_buf(c, (UINT64_C(1) << 62) + 1, INT64_C(1) << 62, &d), ARGOT_E_INVALID);
    assert_int_equal(argot_client_last_error(c)->attempts, 0);
    argot_client_free(c);

    c = client_for("rbad", "badrange", NULL, 0);
    assert_int_equal(dl_buf(c, 3, -1, &d), ARGOT_E_PROTOCOL);
    assert_int_equal(argot_client_last_error(c)->attempts, 1);
    assert_non_null(strstr(argot_client_last_error(c)->summary, "another range"));
    argot_client_free(c);
}

typedef struct prog_range {
    uint64_t first_done, last_done, last_total;
    int calls;
} prog_range;

static int on_prog_range(uint64_t done, uint64_t total, void *ud)
{
    prog_range *p = ud;
    if (p->calls++ == 0)
        p->first_done = done;
    p->last_done = done;
    p->last_total = total;
    return 0;
}

/* Progress counts from byte 0 of the file; a version 1 request (before offset) still works. */
static void test_range_progress_and_v1(void **state)
{
    typedef struct v1_request {
        unsigned version;
        const char *file_id;
        argot_download_sink sink;
        argot_progress_fn progress;
        void *progress_userdata;
    } v1_request;
    argot_client *c = client_for("rprog", "ok", NULL, 0);
    argot_download_file_request dr = ARGOT_DOWNLOAD_FILE_REQUEST_INIT;
    v1_request v1 = {1, "file-canned2", {ARGOT_SINK_BUFFER, NULL, -1, NULL, NULL, 0}, NULL, NULL};
    argot_download *d = NULL;
    prog_range p = {0, 0, 0, 0};
    (void)state;

    dr.file_id = "file-canned2";
    dr.offset = 5;
    dr.progress = on_prog_range;
    dr.progress_userdata = &p;
    dr.max_recv_speed = 1000000;
    assert_int_equal(argot_files_download_file(&d, c, &dr, NULL), ARGOT_OK);
    assert_string_equal(d->data, "d file 2\n");
    assert_true(p.calls >= 1);
    assert_true(p.first_done >= 5);
    assert_int_equal(p.last_done, 14);
    assert_int_equal(p.last_total, 14);
    argot_download_free(d);

    assert_int_equal(
        argot_files_download_file(&d, c, (const argot_download_file_request *)&v1, NULL), ARGOT_OK);
    assert_string_equal(d->data, "canned file 2\n");
    assert_int_equal(d->http_status, 200);
    assert_null(strstr(last_request("rprog"), "Range:"));
    argot_download_free(d);
    v1.version = 3;
    assert_int_equal(
        argot_files_download_file(&d, c, (const argot_download_file_request *)&v1, NULL),
        ARGOT_E_INVALID);
    argot_client_free(c);
}

/* ---- odd responses ---- */

static void test_odd_responses(void **state)
{
    argot_retry_config rc = fast_retry();
    argot_client *c;
    argot_file *f = NULL;
    const argot_error *e;
    (void)state;

    rc.strategy = ARGOT_RETRY_NONE;
    c = client_for("html", "html", &rc, 0);
    assert_int_equal(retrieve(c, "file-canned1", &f), ARGOT_E_HTTP);
    e = argot_client_last_error(c);
    assert_int_equal(e->http_status, 502);
    assert_string_equal(e->content_type, "text/html");
    assert_string_equal(e->body, "<html>Bad Gateway</html>");
    assert_int_equal(e->body_len, 24);
    assert_null(e->message);
    assert_non_null(strstr(e->summary, "502"));
    argot_client_free(c);
    c = client_for("badjson", "badjson", NULL, 0);
    assert_int_equal(retrieve(c, "file-canned1", &f), ARGOT_E_PROTOCOL);
    assert_int_equal(argot_client_last_error(c)->attempts, 1);
    assert_int_equal(argot_client_last_error(c)->http_status, 200);
    argot_client_free(c);
}

/* ---- listing and the iterator ---- */

static void test_list_and_iterate(void **state)
{
    argot_client *c = client_for("list", "ok", NULL, 0);
    argot_list_files_request q = ARGOT_LIST_FILES_REQUEST_INIT;
    argot_file_list *l = NULL;
    argot_file_iter *it = NULL;
    const argot_file *f;
    char last[8192], seen[64][32];
    size_t total, n = 0, i;
    (void)state;

    assert_int_equal(argot_files_list_files(&l, c, &q, NULL), ARGOT_OK);
    total = l->count;
    argot_file_list_free(l);

    q.limit = 2;
    q.order = ARGOT_ORDER_ASC;
    assert_int_equal(argot_files_list_files(&l, c, &q, NULL), ARGOT_OK);
    assert_int_equal(l->count, 2);
    assert_true(l->has_more);
    assert_string_equal(l->first_id, "file-canned1");
    assert_string_equal(l->last_id, "file-canned2");
    th_mock_stats(&srv, "list", NULL, 0, last, sizeof(last));
    assert_non_null(strstr(last, "/files?limit=2&order=asc HTTP"));
    argot_file_list_free(l);

    q.purpose = "fine-tune";
    q.after = "file-canned1";
    q.order = ARGOT_ORDER_DESC;
    assert_int_equal(argot_files_list_files(&l, c, &q, NULL), ARGOT_OK);
    th_mock_stats(&srv, "list", NULL, 0, last, sizeof(last));
    assert_non_null(strstr(last, "/files?purpose=fine-tune&limit=2&order=desc&after=file-canned1"));
    argot_file_list_free(l);

    q = (argot_list_files_request)ARGOT_LIST_FILES_REQUEST_INIT;
    q.limit = 2;
    assert_int_equal(argot_files_list_iter_new(&it, c, &q, NULL), ARGOT_OK);
    for (;;) {
        assert_int_equal(argot_file_iter_next(&f, it), ARGOT_OK);
        if (f == NULL)
            break;
        for (i = 0; i < n; i++)
            assert_string_not_equal(seen[i], f->id);
        snprintf(seen[n++], sizeof(seen[0]), "%s", f->id);
    }
    assert_int_equal(n, total);
    assert_int_equal(argot_file_iter_pages(it), (total + 1) / 2);
    assert_int_equal(argot_file_iter_next(&f, it), ARGOT_OK); /* stays finished */
    assert_null(f);
    argot_file_iter_free(it);

    q.limit = 20000;
    assert_int_equal(argot_files_list_files(&l, c, &q, NULL), ARGOT_E_INVALID);
    assert_int_equal(argot_client_last_error(c)->attempts, 0);
    argot_client_free(c);
}

static void test_iterator_page_error(void **state)
{
    argot_client *c = client_for("iterr", "ok,503,ok", NULL, 0);
    argot_retry_config none = ARGOT_RETRY_CONFIG_INIT;
    argot_request_options ro = ARGOT_REQUEST_OPTIONS_INIT;
    argot_list_files_request q = ARGOT_LIST_FILES_REQUEST_INIT;
    argot_file_iter *it = NULL;
    const argot_file *f;
    int n = 0;
    (void)state;

    none.strategy = ARGOT_RETRY_NONE;
    ro.retry = &none;
    q.limit = 3;
    assert_int_equal(argot_files_list_iter_new(&it, c, &q, &ro), ARGOT_OK);
    while (n < 3) {
        assert_int_equal(argot_file_iter_next(&f, it), ARGOT_OK);
        n++;
    }
    assert_int_equal(argot_file_iter_next(&f, it), ARGOT_E_HTTP); /* page 2 fails */
    assert_int_equal(argot_file_iter_next(&f, it), ARGOT_OK);     /* and is asked again */
    assert_non_null(f);
    argot_file_iter_free(it);
    argot_client_free(c);
}

static int log_lines;
static int log_had_key;

static void on_log(argot_log_level level, const char *msg, void *ud)
{
    (void)level;
    (void)ud;
    log_lines++;
    if (strstr(msg, "sk-test") != NULL)
        log_had_key = 1;
}

static void test_invalid_and_log(void **state)
{
    argot_client_options o = ARGOT_CLIENT_OPTIONS_INIT;
    argot_client *c = NULL;
    argot_file *f = NULL;
    argot_retrieve_file_request q = ARGOT_RETRIEVE_FILE_REQUEST_INIT;
    int s;
    (void)state;

    o.base_url = "ftp://example.com";
    assert_int_equal(argot_client_new(&c, &o), ARGOT_E_INVALID);
    assert_null(c);
    o.base_url = NULL;
    o.version = 42;
    assert_int_equal(argot_client_new(&c, &o), ARGOT_E_INVALID);
    o.version = ARGOT_CLIENT_OPTIONS_VERSION;
    o.retry.exponent = 0.0;
    assert_int_equal(argot_client_new(&c, &o), ARGOT_E_INVALID);
    assert_int_equal(argot_client_new(NULL, NULL), ARGOT_E_INVALID);
    assert_int_equal(argot_client_last_error(NULL)->status, ARGOT_E_INVALID);
    argot_client_free(NULL);
    argot_file_free(NULL);
    argot_file_list_free(NULL);
    argot_file_deleted_free(NULL);
    argot_download_free(NULL);
    argot_file_iter_free(NULL);

    c = client_for("log", "503,ok", NULL, 0);
    argot_client_set_log(c, ARGOT_LOG_DEBUG, on_log, NULL);
    assert_int_equal(argot_files_retrieve_file(&f, c, NULL, NULL), ARGOT_E_INVALID);
    assert_int_equal(argot_files_retrieve_file(&f, c, &q, NULL), ARGOT_E_INVALID); /* no id */
    q.version = 7;
    q.file_id = "file-canned1";
    assert_int_equal(argot_files_retrieve_file(&f, c, &q, NULL), ARGOT_E_INVALID);
    q.version = ARGOT_RETRIEVE_FILE_REQUEST_VERSION;
    assert_int_equal(argot_files_retrieve_file(&f, c, &q, NULL), ARGOT_OK);
    argot_file_free(f);
    assert_true(log_lines >= 3); /* two attempts and one retry notice */
    assert_false(log_had_key);
    for (s = 0; s >= ARGOT_STATUS_MIN; s--)
        assert_string_not_equal(argot_status_str((argot_status)s), "unknown status");
    assert_string_equal(argot_status_str((argot_status)-99), "unknown status");
    assert_string_equal(argot_version(), ARGOT_VERSION_STRING);
    argot_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_operations),
        cmocka_unit_test(test_headers_sent),
        cmocka_unit_test(test_env_fallbacks),
        cmocka_unit_test(test_retry_backoff),
        cmocka_unit_test(test_retry_after_headers),
        cmocka_unit_test(test_retry_limits),
        cmocka_unit_test(test_retry_per_request_override),
        cmocka_unit_test(test_connection_errors),
        cmocka_unit_test(test_timeouts),
        cmocka_unit_test(test_upload_sources_and_rewind),
        cmocka_unit_test(test_progress_and_abort),
        cmocka_unit_test(test_download_sinks),
        cmocka_unit_test(test_resume_after_cut),
        cmocka_unit_test(test_range_answered_200),
        cmocka_unit_test(test_ranges_and_416),
        cmocka_unit_test(test_range_progress_and_v1),
        cmocka_unit_test(test_odd_responses),
        cmocka_unit_test(test_list_and_iterate),
        cmocka_unit_test(test_iterator_page_error),
        cmocka_unit_test(test_invalid_and_log),
    };
    if (getenv("ARGOT_TEST_FILTER") != NULL)
        cmocka_set_test_filter(getenv("ARGOT_TEST_FILTER"));
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
