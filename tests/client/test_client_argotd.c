/*
 * libargot against a real argotd on loopback: every operation with every source and sink kind,
 * the list parameters and the iterator, and the server's error answers (401 missing and wrong
 * key, 404, 400 bad purpose). Exits 77 (skipped) when argotd is not built.
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
#include <unistd.h>

#include <cmocka.h>

static th_server srv;
static char key[256];
static char url[700];

static int group_setup(void **state)
{
    (void)state;
    if (argot_global_init() != ARGOT_OK)
        return -1;
    if (th_start_argotd(&srv, key, sizeof(key)) != 0)
        return -1;
    snprintf(url, sizeof(url), "%s/v1", srv.url);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    th_stop(&srv);
    argot_global_cleanup();
    return 0;
}

static argot_client *client_with_key(const char *k)
{
    argot_client_options o = ARGOT_CLIENT_OPTIONS_INIT;
    argot_client *c = NULL;
    o.base_url = url;
    o.api_key = k;
    o.timeout_ms = 30000;
    o.retry.initial_interval_ms = 50;
    assert_int_equal(argot_client_new(&c, &o), ARGOT_OK);
    return c;
}

static argot_file *upload_mem(argot_client *c,
                              const char *purpose,
                              const char *name,
                              const char *data)
{
    argot_create_file_request cr = ARGOT_CREATE_FILE_REQUEST_INIT;
    argot_file *f = NULL;
    cr.file.kind = ARGOT_SOURCE_MEMORY;
    cr.file.data = data;
    cr.file.len = strlen(data);
    cr.purpose = purpose;
    cr.filename = name;
    assert_int_equal(argot_files_create_file(&f, c, &cr, NULL), ARGOT_OK);
    return f;
}

static char *download_buf(argot_client *c, const char *id)
{
    argot_download_file_request dr = ARGOT_DOWNLOAD_FILE_REQUEST_INIT;
    argot_download *d = NULL;
    char *s;
    dr.file_id = id;
    assert_int_equal(argot_files_download_file(&d, c, &dr, NULL), ARGOT_OK);
    s = d->data;
    d->data = NULL;
    argot_download_free(d);
    return s;
}

typedef struct cbsrc {
    const char *data;
    size_t len, pos;
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
    ((cbsrc *)ud)->pos = 0;
    return 0;
}

static int cb_write(const char *data, size_t len, void *ud)
{
    return fwrite(data, 1, len, ud) == len ? 0 : 1;
}

static void test_upload_every_source(void **state)
{
    argot_client *c = client_with_key(key);
    argot_create_file_request cr = ARGOT_CREATE_FILE_REQUEST_INIT;
    argot_file *f = NULL;
    char dir[512], path[1024], *got;
    cbsrc s = {"{\"from\":\"callback\"}\n", 20, 0};
    FILE *fp;
    int fd;
    (void)state;

    assert_int_equal(th_tmpdir(dir, sizeof(dir), "adup"), 0);
    snprintf(path, sizeof(path), "%s/train.jsonl", dir);
    fp = fopen(path, "w");
    fputs("{\"prompt\":\"p\",\"completion\":\"c\"}\n", fp);
    fclose(fp);

    cr.purpose = "fine-tune";
    cr.file.kind = ARGOT_SOURCE_PATH;
    cr.file.path = path;
    assert_int_equal(argot_files_create_file(&f, c, &cr, NULL), ARGOT_OK);
    assert_string_equal(f->filename, "train.jsonl");
    assert_int_equal(f->bytes, 32);
    assert_string_equal(f->object, "file");
    assert_string_equal(f->purpose, "fine-tune");
    assert_int_equal(f->expires_at, ARGOT_TIME_NULL);
    assert_null(f->status_details);
    assert_memory_equal(f->id, "file-", 5);
    got = download_buf(c, f->id);
    assert_string_equal(got, "{\"prompt\":\"p\",\"completion\":\"c\"}\n");
    free(got);
    argot_file_free(f);

    fd = open(path, O_RDONLY);
    cr.file.kind = ARGOT_SOURCE_FD;
    cr.file.fd = fd;
    cr.filename = "fd.jsonl";
    cr.expires_after = 7200;
    assert_int_equal(argot_files_create_file(&f, c, &cr, NULL), ARGOT_OK);
    assert_string_equal(f->filename, "fd.jsonl");
    assert_int_equal(f->expires_at, f->created_at + 7200);
    close(fd);
    argot_file_free(f);

    cr.file.kind = ARGOT_SOURCE_CALLBACK;
    cr.file.read = cb_read;
    cr.file.rewind = cb_rewind;
    cr.file.userdata = &s;
    cr.file.size = -1; /* chunked */
    cr.filename = "cb.jsonl";
    cr.expires_after = 0;
    cr.purpose = "batch";
    assert_int_equal(argot_files_create_file(&f, c, &cr, NULL), ARGOT_OK);
    assert_int_equal(f->bytes, 20);
    assert_int_not_equal(f->expires_at, ARGOT_TIME_NULL); /* batch: 30 days by default */
    got = download_buf(c, f->id);
    assert_string_equal(got, "{\"from\":\"callback\"}\n");
    free(got);
    argot_file_free(f);

    f = upload_mem(c, "user_data", "\xe4\xbd\xa0\xe5\xa5\xbd.txt", "hello");
    assert_string_equal(f->filename, "\xe4\xbd\xa0\xe5\xa5\xbd.txt");
    assert_string_equal(f->purpose, "user_data");
    argot_file_free(f);
    argot_client_free(c);
    th_rmtree(dir);
}

static void test_download_every_sink(void **state)
{
    argot_client *c = client_with_key(key);
    argot_file *f = upload_mem(c, "batch", "b.jsonl", "{\"a\":1}\n{\"b\":2}\n");
    argot_download_file_request dr = ARGOT_DOWNLOAD_FILE_REQUEST_INIT;
    argot_download *d = NULL;
    char dir[512], path[1024], buf[64];
    FILE *fp;
    int fd;
    (void)state;

    assert_int_equal(th_tmpdir(dir, sizeof(dir), "addl"), 0);
    snprintf(path, sizeof(path), "%s/out", dir);
    dr.file_id = f->id;
    dr.sink.kind = ARGOT_SINK_PATH;
    dr.sink.path = path;
    assert_int_equal(argot_files_download_file(&d, c, &dr, NULL), ARGOT_OK);
    assert_int_equal(d->bytes, 16);
    argot_download_free(d);
    fp = fopen(path, "r");
    assert_int_equal(fread(buf, 1, sizeof(buf), fp), 16);
    fclose(fp);

    fd = open(path, O_WRONLY | O_TRUNC);
    dr.sink.kind = ARGOT_SINK_FD;
    dr.sink.fd = fd;
    assert_int_equal(argot_files_download_file(NULL, c, &dr, NULL), ARGOT_OK);
    close(fd);

    fp = fopen(path, "w");
    dr.sink.kind = ARGOT_SINK_CALLBACK;
    dr.sink.write = cb_write;
    dr.sink.userdata = fp;
    assert_int_equal(argot_files_download_file(NULL, c, &dr, NULL), ARGOT_OK);
    fclose(fp);
    fp = fopen(path, "r");
    assert_int_equal(fread(buf, 1, sizeof(buf), fp), 16);
    assert_memory_equal(buf, "{\"a\":1}\n{\"b\":2}\n", 16);
    fclose(fp);
    argot_file_free(f);
    argot_client_free(c);
    th_rmtree(dir);
}

static void test_retrieve_list_delete(void **state)
{
    argot_client *c = client_with_key(key);
    argot_file *a = upload_mem(c, "vision", "a.png", "AAAA");
    argot_file *b = upload_mem(c, "vision", "b.png", "BBBB");
    argot_file *g = NULL;
    argot_file_list *l = NULL;
    argot_file_deleted *del = NULL;
    argot_list_files_request q = ARGOT_LIST_FILES_REQUEST_INIT;
    argot_retrieve_file_request rq = ARGOT_RETRIEVE_FILE_REQUEST_INIT;
    argot_delete_file_request xq = ARGOT_DELETE_FILE_REQUEST_INIT;
    argot_file_iter *it = NULL;
    const argot_file *f;
    size_t total, n = 0;
    char first_desc[64], first_asc[64];
    (void)state;

    rq.file_id = a->id;
    assert_int_equal(argot_files_retrieve_file(&g, c, &rq, NULL), ARGOT_OK);
    assert_string_equal(g->id, a->id);
    assert_int_equal(g->bytes, 4);
    assert_non_null(argot_client_last_error(c)->request_id);
    argot_file_free(g);

    q.purpose = "vision";
    assert_int_equal(argot_files_list_files(&l, c, &q, NULL), ARGOT_OK);
    assert_int_equal(l->count, 2);
    assert_false(l->has_more);
    /* both uploads may share a created_at second: ties are the server's to order */
    assert_true((strcmp(l->data[0].id, a->id) == 0 && strcmp(l->data[1].id, b->id) == 0) ||
                (strcmp(l->data[0].id, b->id) == 0 && strcmp(l->data[1].id, a->id) == 0));
    snprintf(first_desc, sizeof(first_desc), "%s", l->data[0].id);
    argot_file_list_free(l);
    q.order = ARGOT_ORDER_ASC;
    q.limit = 1;
    assert_int_equal(argot_files_list_files(&l, c, &q, NULL), ARGOT_OK);
    assert_int_equal(l->count, 1);
    assert_true(l->has_more);
    assert_string_not_equal(l->data[0].id, first_desc); /* asc is the reverse */
    snprintf(first_asc, sizeof(first_asc), "%s", l->data[0].id);
    argot_file_list_free(l);
    q.after = first_asc;
    assert_int_equal(argot_files_list_files(&l, c, &q, NULL), ARGOT_OK);
    assert_int_equal(l->count, 1);
    assert_string_equal(l->data[0].id, first_desc);
    assert_false(l->has_more);
    argot_file_list_free(l);

    q = (argot_list_files_request)ARGOT_LIST_FILES_REQUEST_INIT;
    assert_int_equal(argot_files_list_files(&l, c, &q, NULL), ARGOT_OK);
    total = l->count;
    argot_file_list_free(l);
    q.limit = 2;
    assert_int_equal(argot_files_list_iter_new(&it, c, &q, NULL), ARGOT_OK);
    while (argot_file_iter_next(&f, it) == ARGOT_OK && f != NULL)
        n++;
    assert_int_equal(n, total);
    assert_true(argot_file_iter_pages(it) >= (total + 1) / 2);
    argot_file_iter_free(it);

    xq.file_id = a->id;
    assert_int_equal(argot_files_delete_file(&del, c, &xq, NULL), ARGOT_OK);
    assert_true(del->deleted);
    assert_string_equal(del->id, a->id);
    argot_file_deleted_free(del);
    assert_int_equal(argot_files_retrieve_file(&g, c, &rq, NULL), ARGOT_E_NOT_FOUND);
    assert_string_equal(argot_client_last_error(c)->param, "id");
    assert_int_equal(argot_files_delete_file(NULL, c, &xq, NULL), ARGOT_E_NOT_FOUND);
    argot_file_free(a);
    argot_file_free(b);
    argot_client_free(c);
}

static void test_server_errors(void **state)
{
    argot_client *c = client_with_key(key);
    argot_create_file_request cr = ARGOT_CREATE_FILE_REQUEST_INIT;
    argot_download_file_request dr = ARGOT_DOWNLOAD_FILE_REQUEST_INIT;
    argot_file *f = NULL;
    argot_file_list *l = NULL;
    const argot_error *e;
    argot_retry_config none = ARGOT_RETRY_CONFIG_INIT;
    argot_request_options ro = ARGOT_REQUEST_OPTIONS_INIT;
    (void)state;

    none.strategy = ARGOT_RETRY_NONE;
    ro.retry = &none;
    ro.timeout_ms = 5000; /* fail fast if the server never answers */
    cr.file.kind = ARGOT_SOURCE_MEMORY;
    cr.file.data = "x";
    cr.file.len = 1;
    cr.purpose = "world_domination";
    assert_int_equal(argot_files_create_file(&f, c, &cr, &ro), ARGOT_E_HTTP);
    e = argot_client_last_error(c);
    assert_int_equal(e->http_status, 400);
    assert_string_equal(e->param, "purpose");
    assert_non_null(strstr(e->message, "world_domination"));
    assert_int_equal(e->attempts, 1);
    dr.file_id = "file-doesnotexist";
    assert_int_equal(argot_files_download_file(NULL, c, &dr, NULL), ARGOT_E_INVALID); /* buffer */
    assert_int_equal(argot_files_download_file(&(argot_download *){NULL}, c, &dr, NULL),
                     ARGOT_E_NOT_FOUND);
    argot_client_free(c);

    c = client_with_key("");
    assert_int_equal(argot_files_list_files(&l, c, NULL, NULL), ARGOT_E_AUTH);
    e = argot_client_last_error(c);
    assert_int_equal(e->http_status, 401);
    assert_non_null(strstr(e->message, "You didn't provide an API key"));
    argot_client_free(c);
    c = client_with_key("sk-argot-notarealkeynotarealkeynotarealkey1234");
    assert_int_equal(argot_files_list_files(&l, c, NULL, NULL), ARGOT_E_AUTH);
    e = argot_client_last_error(c);
    assert_string_equal(e->code, "invalid_api_key");
    assert_non_null(e->request_id);
    argot_client_free(c);
}

/* ---- ranged and resumed downloads ---- */

#define RSIZE 1000003
static unsigned char rdata[RSIZE];

static void fill_random(unsigned char *p, size_t n)
{
    uint64_t x = 0x2545f4914f6cdd1du;
    size_t i;
    for (i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (unsigned char)x;
    }
}

static argot_file *upload_random(argot_client *c)
{
    argot_create_file_request cr = ARGOT_CREATE_FILE_REQUEST_INIT;
    argot_file *f = NULL;
    fill_random(rdata, RSIZE);
    cr.file.kind = ARGOT_SOURCE_MEMORY;
    cr.file.data = rdata;
    cr.file.len = RSIZE;
    cr.purpose = "assistants";
    cr.filename = "r.bin";
    assert_int_equal(argot_files_create_file(&f, c, &cr, NULL), ARGOT_OK);
    return f;
}

/* Writes the first n bytes of rdata to path. */
static void write_prefix(const char *path, size_t n)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(rdata, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
}

/* 1 when path holds exactly rdata. */
static int holds_rdata(const char *path)
{
    static unsigned char buf[RSIZE + 1];
    FILE *fp = fopen(path, "rb");
    size_t n;
    if (fp == NULL)
        return 0;
    n = fread(buf, 1, sizeof(buf), fp);
    fclose(fp);
    return n == RSIZE && memcmp(buf, rdata, RSIZE) == 0;
}

static long long file_size(const char *path)
{
    FILE *fp = fopen(path, "rb");
    long long n;
    if (fp == NULL)
        return -1;
    fseek(fp, 0, SEEK_END);
    n = ftell(fp);
    fclose(fp);
    return n;
}

/* Offsets and ranges into a buffer: exactly those bytes, with the server's size and ETag. */
static void test_download_offsets(void **state)
{
    argot_client *c = client_with_key(key);
    argot_file *f = upload_random(c);
    argot_download_file_request dr = ARGOT_DOWNLOAD_FILE_REQUEST_INIT;
    argot_download *d = NULL;
    char etag[128];
    (void)state;

    snprintf(etag, sizeof(etag), "\"%s\"", f->id);
    dr.file_id = f->id;
    dr.offset = 123457;
    assert_int_equal(argot_files_download_file(&d, c, &dr, NULL), ARGOT_OK);
    assert_int_equal(d->http_status, 206);
    assert_int_equal(d->offset, 123457);
    assert_int_equal(d->bytes, RSIZE - 123457);
    assert_int_equal(d->size, RSIZE);
    assert_string_equal(d->etag, etag);
    assert_memory_equal(d->data, rdata + 123457, RSIZE - 123457);
    argot_download_free(d);

    dr.offset = RSIZE - 10;
    dr.length = 5;
    dr.if_range = etag;
    assert_int_equal(argot_files_download_file(&d, c, &dr, NULL), ARGOT_OK);
    assert_int_equal(d->bytes, 5);
    assert_memory_equal(d->data, rdata + RSIZE - 10, 5);
    argot_download_free(d);
    dr.offset = 0;
    dr.length = 1;
    assert_int_equal(argot_files_download_file(&d, c, &dr, NULL), ARGOT_OK);
    assert_int_equal(d->http_status, 206);
    assert_int_equal(d->bytes, 1);
    assert_int_equal((unsigned char)d->data[0], rdata[0]);
    argot_download_free(d);
    dr.offset = RSIZE - 3;
    dr.length = 100; /* past the end: the server cuts it at the end of the file */
    assert_int_equal(argot_files_download_file(&d, c, &dr, NULL), ARGOT_OK);
    assert_int_equal(d->bytes, 3);
    argot_download_free(d);
    argot_file_free(f);
    argot_client_free(c);
}

typedef struct cut_sink {
    int fd;
    size_t got, stop_after;
} cut_sink;

/* Writes to an fd, then aborts the download once stop_after bytes went through. */
static int cut_write(const char *data, size_t len, void *ud)
{
    cut_sink *k = ud;
    if (write(k->fd, data, len) != (ssize_t)len)
        return 1;
    k->got += len;
    return k->got >= k->stop_after;
}

/* A download interrupted by its sink, then resumed from the size on disk: byte-exact, into an
 * fd and into a path (which may hold more than offset: the rest is replaced). */
static void test_download_resume(void **state)
{
    argot_client *c = client_with_key(key);
    argot_file *f = upload_random(c);
    argot_download_file_request dr = ARGOT_DOWNLOAD_FILE_REQUEST_INIT;
    argot_download *d = NULL;
    char dir[512], path[1024], etag[128];
    cut_sink k = {-1, 0, 300000};
    long long have;
    (void)state;

    assert_int_equal(th_tmpdir(dir, sizeof(dir), "adres"), 0);
    snprintf(path, sizeof(path), "%s/part", dir);
    snprintf(etag, sizeof(etag), "\"%s\"", f->id);
    k.fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dr.file_id = f->id;
    dr.sink.kind = ARGOT_SINK_CALLBACK;
    dr.sink.write = cut_write;
    dr.sink.userdata = &k;
    assert_int_equal(argot_files_download_file(NULL, c, &dr, NULL), ARGOT_E_ABORTED);
    have = file_size(path);
    assert_true(have >= 300000 && have < RSIZE);

    dr.sink.kind = ARGOT_SINK_FD; /* at the end of what the first run wrote */
    dr.sink.fd = k.fd;
    dr.offset = (uint64_t)have;
    dr.if_range = etag;
    assert_int_equal(argot_files_download_file(&d, c, &dr, NULL), ARGOT_OK);
    close(k.fd);
    assert_int_equal(d->http_status, 206);
    assert_int_equal(d->offset, (uint64_t)have);
    assert_int_equal(d->bytes, RSIZE - (uint64_t)have);
    assert_false(d->restarted);
    assert_true(holds_rdata(path));
    argot_download_free(d);

    write_prefix(path, 500000);
    dr.sink.kind = ARGOT_SINK_PATH;
    dr.sink.path = path;
    dr.offset = 500000;
    assert_int_equal(argot_files_download_file(&d, c, &dr, NULL), ARGOT_OK);
    assert_true(holds_rdata(path));
    argot_download_free(d);
    dr.offset = 400000; /* the path holds all of it: from 400000 on it is replaced */
    dr.if_range = NULL;
    assert_int_equal(argot_files_download_file(&d, c, &dr, NULL), ARGOT_OK);
    assert_int_equal(d->bytes, RSIZE - 400000);
    assert_true(holds_rdata(path));
    argot_download_free(d);
    argot_file_free(f);
    argot_client_free(c);
    th_rmtree(dir);
}

/* If-Range that does not match: 200 and the whole file, the sink started over at byte 0. */
static void test_download_if_range_mismatch(void **state)
{
    argot_client *c = client_with_key(key);
    argot_file *f = upload_random(c);
    argot_download_file_request dr = ARGOT_DOWNLOAD_FILE_REQUEST_INIT;
    argot_download *d = NULL;
    char dir[512], path[1024];
    cut_sink k = {-1, 0, 1};
    int fd;
    (void)state;

    assert_int_equal(th_tmpdir(dir, sizeof(dir), "adifr"), 0);
    snprintf(path, sizeof(path), "%s/part", dir);
    dr.file_id = f->id;
    dr.offset = 400000;
    dr.if_range = "\"file-other\"";
    assert_int_equal(argot_files_download_file(&d, c, &dr, NULL), ARGOT_OK);
    assert_int_equal(d->http_status, 200);
    assert_true(d->restarted);
    assert_int_equal(d->offset, 0);
    assert_int_equal(d->bytes, RSIZE);
    assert_memory_equal(d->data, rdata, RSIZE);
    argot_download_free(d);

    write_prefix(path, 400000);
    memset(rdata, 'x', 1000); /* the old version on disk differs from the server's */
    fd = open(path, O_WRONLY);
    assert_true(write(fd, rdata, 1000) == 1000);
    assert_true(lseek(fd, 0, SEEK_END) == 400000);
    fill_random(rdata, RSIZE);
    dr.sink.kind = ARGOT_SINK_FD;
    dr.sink.fd = fd;
    assert_int_equal(argot_files_download_file(&d, c, &dr, NULL), ARGOT_OK);
    close(fd);
    assert_true(d->restarted);
    assert_true(holds_rdata(path));
    argot_download_free(d);

    write_prefix(path, 400000);
    dr.sink.kind = ARGOT_SINK_PATH;
    dr.sink.path = path;
    assert_int_equal(argot_files_download_file(&d, c, &dr, NULL), ARGOT_OK);
    assert_true(d->restarted);
    assert_true(holds_rdata(path));
    argot_download_free(d);

    dr.sink.kind = ARGOT_SINK_CALLBACK; /* cannot start over: nothing reaches it */
    dr.sink.write = cut_write;
    dr.sink.userdata = &k;
    assert_int_equal(argot_files_download_file(&d, c, &dr, NULL), ARGOT_E_RANGE);
    assert_int_equal(argot_client_last_error(c)->http_status, 200);
    assert_int_equal(k.got, 0);
    argot_file_free(f);
    argot_client_free(c);
    th_rmtree(dir);
}

/* 416: a resume of a complete file is ARGOT_OK and touches nothing; past the end (a local file
 * larger than the remote one) is ARGOT_E_RANGE; a resume path shorter than offset is refused
 * before any request. */
static void test_download_416(void **state)
{
    argot_client *c = client_with_key(key);
    argot_file *f = upload_random(c);
    argot_download_file_request dr = ARGOT_DOWNLOAD_FILE_REQUEST_INIT;
    argot_download *d = NULL;
    const argot_error *e;
    char dir[512], path[1024];
    (void)state;

    assert_int_equal(th_tmpdir(dir, sizeof(dir), "ad416"), 0);
    snprintf(path, sizeof(path), "%s/full", dir);
    write_prefix(path, RSIZE);
    dr.file_id = f->id;
    dr.sink.kind = ARGOT_SINK_PATH;
    dr.sink.path = path;
    dr.offset = RSIZE;
    assert_int_equal(argot_files_download_file(&d, c, &dr, NULL), ARGOT_OK);
    assert_true(d->already_complete);
    assert_int_equal(d->http_status, 416);
    assert_int_equal(d->bytes, 0);
    assert_int_equal(d->size, RSIZE);
    assert_true(holds_rdata(path));
    argot_download_free(d);

    dr.sink.kind = ARGOT_SINK_FD;
    dr.sink.fd = open(path, O_WRONLY | O_APPEND);
    dr.offset = RSIZE + 5;
    assert_int_equal(argot_files_download_file(&d, c, &dr, NULL), ARGOT_E_RANGE);
    close(dr.sink.fd);
    assert_null(d);
    e = argot_client_last_error(c);
    assert_int_equal(e->http_status, 416);
    assert_string_equal(e->code, "range_not_satisfiable");
    assert_non_null(strstr(e->summary, "1000003 bytes"));
    assert_true(holds_rdata(path));

    dr.sink.kind = ARGOT_SINK_BUFFER;
    dr.offset = RSIZE;
    dr.length = 1;
    assert_int_equal(argot_files_download_file(&d, c, &dr, NULL), ARGOT_E_RANGE);

    dr.sink.kind = ARGOT_SINK_PATH;
    dr.length = -1;
    dr.offset = RSIZE + 1; /* the path has RSIZE bytes */
    assert_int_equal(argot_files_download_file(NULL, c, &dr, NULL), ARGOT_E_INVALID);
    assert_int_equal(argot_client_last_error(c)->attempts, 0);
    assert_non_null(strstr(argot_client_last_error(c)->summary, "it has only 1000003 bytes"));
    snprintf(path, sizeof(path), "%s/missing", dir);
    assert_int_equal(argot_files_download_file(NULL, c, &dr, NULL), ARGOT_E_INVALID);
    assert_int_equal(argot_client_last_error(c)->os_errno, ENOENT);
    dr.sink.path = dir;
    assert_int_equal(argot_files_download_file(NULL, c, &dr, NULL), ARGOT_E_INVALID);
    assert_non_null(strstr(argot_client_last_error(c)->summary, "not a regular file"));
    argot_file_free(f);
    argot_client_free(c);
    th_rmtree(dir);
}

/* ---- Uploads API (skipped while argotd has no /v1/uploads) ---- */

/* Writes size pseudo-random, position-dependent bytes to path. */
static void write_random(const char *path, uint64_t size)
{
    static unsigned char buf[1 << 16];
    uint64_t x = 0x9e3779b97f4a7c15u, done = 0;
    FILE *f = fopen(path, "wb");
    size_t i, n;

    assert_non_null(f);
    while (done < size) {
        n = size - done < sizeof(buf) ? (size_t)(size - done) : sizeof(buf);
        for (i = 0; i < n; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf[i] = (unsigned char)x;
        }
        assert_int_equal(fwrite(buf, 1, n, f), n);
        done += n;
    }
    assert_int_equal(fclose(f), 0);
}

static int same_files(const char *a, const char *b)
{
    static char ba[1 << 16], bb[1 << 16];
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    size_t na, nb;
    int same = fa != NULL && fb != NULL;

    while (same) {
        na = fread(ba, 1, sizeof(ba), fa);
        nb = fread(bb, 1, sizeof(bb), fb);
        same = na == nb && memcmp(ba, bb, na) == 0;
        if (na == 0)
            break;
    }
    if (fa != NULL)
        fclose(fa);
    if (fb != NULL)
        fclose(fb);
    return same;
}

static int uploads_missing(argot_client *c)
{
    argot_create_upload_request cr = ARGOT_CREATE_UPLOAD_REQUEST_INIT;
    argot_cancel_upload_request cc = ARGOT_CANCEL_UPLOAD_REQUEST_INIT;
    argot_upload *u = NULL, *done = NULL;
    argot_status st;

    cr.filename = "probe.jsonl";
    cr.purpose = "fine-tune";
    cr.bytes = 8;
    cr.mime_type = "text/jsonl";
    st = argot_uploads_create(&u, c, &cr, NULL);
    if (st == ARGOT_E_NOT_FOUND ||
        (st == ARGOT_E_HTTP && argot_client_last_error(c)->http_status == 405))
        return 1;
    assert_int_equal(st, ARGOT_OK);
    assert_string_equal(u->status, "pending");
    assert_int_equal(u->expires_at, u->created_at + 3600);
    assert_null(u->file);
    cc.upload_id = u->id;
    assert_int_equal(argot_uploads_cancel(&done, c, &cc, NULL), ARGOT_OK);
    assert_string_equal(done->status, "cancelled");
    argot_upload_free(done);
    argot_upload_free(u);
    return 0;
}

static void test_uploads_parallel(void **state)
{
    argot_client *c = client_with_key(key);
    argot_upload_file_request ur = ARGOT_UPLOAD_FILE_REQUEST_INIT;
    argot_download_file_request dr = ARGOT_DOWNLOAD_FILE_REQUEST_INIT;
    argot_upload *u = NULL;
    char dir[512], src[1024], dst[1024];
    const uint64_t size = (uint64_t)24 * 1024 * 1024 + 123;
    (void)state;

    if (uploads_missing(c)) {
        argot_client_free(c);
        skip();
    }
    assert_int_equal(th_tmpdir(dir, sizeof(dir), "argotd-uploads"), 0);
    snprintf(src, sizeof(src), "%s/big.bin", dir);
    snprintf(dst, sizeof(dst), "%s/big.out", dir);
    write_random(src, size);
    ur.path = src;
    ur.purpose = "assistants";
    ur.part_size = (uint64_t)4 * 1024 * 1024;
    ur.parallel = 4;
    assert_int_equal(argot_uploads_upload_file(&u, c, &ur, NULL), ARGOT_OK);
    assert_string_equal(u->status, "completed");
    assert_non_null(u->file);
    assert_int_equal(u->file->bytes, (int64_t)size);
    assert_string_equal(u->file->filename, "big.bin");
    dr.file_id = u->file->id;
    dr.sink.kind = ARGOT_SINK_PATH;
    dr.sink.path = dst;
    assert_int_equal(argot_files_download_file(NULL, c, &dr, NULL), ARGOT_OK);
    assert_true(same_files(src, dst));
    argot_upload_free(u);
    th_rmtree(dir);
    argot_client_free(c);
}

static void test_uploads_raw_errors(void **state)
{
    argot_client *c = client_with_key(key);
    argot_create_upload_request cr = ARGOT_CREATE_UPLOAD_REQUEST_INIT;
    argot_add_upload_part_request pr = ARGOT_ADD_UPLOAD_PART_REQUEST_INIT;
    argot_complete_upload_request cc = ARGOT_COMPLETE_UPLOAD_REQUEST_INIT;
    argot_upload *u = NULL, *done = NULL;
    argot_upload_part *p = NULL;
    const char *ids[1];
    (void)state;

    if (uploads_missing(c)) {
        argot_client_free(c);
        skip();
    }
    cr.filename = "raw.jsonl";
    cr.purpose = "fine-tune";
    cr.bytes = 8;
    cr.mime_type = "text/jsonl";
    assert_int_equal(argot_uploads_create(&u, c, &cr, NULL), ARGOT_OK);
    pr.upload_id = u->id;
    pr.data.kind = ARGOT_SOURCE_MEMORY;
    pr.data.data = "{\"a\":1}\n";
    pr.data.len = 8;
    assert_int_equal(argot_uploads_add_part(&p, c, &pr, NULL), ARGOT_OK);
    assert_string_equal(p->upload_id, u->id);
    ids[0] = p->id;
    cc.upload_id = u->id;
    cc.part_ids = ids;
    cc.part_count = 1;
    cc.md5 = "00000000000000000000000000000000";
    assert_int_not_equal(argot_uploads_complete(&done, c, &cc, NULL), ARGOT_OK);
    assert_int_equal(argot_client_last_error(c)->http_status, 400);
    cc.md5 = NULL;
    assert_int_equal(argot_uploads_complete(&done, c, &cc, NULL), ARGOT_OK);
    assert_string_equal(done->status, "completed");
    assert_int_equal(done->file->bytes, 8);
    assert_non_null(strstr(done->json, done->file->id));
    argot_upload_part_free(p);
    pr.upload_id = "upload_00000000000000000000000000000000";
    assert_int_equal(argot_uploads_add_part(&p, c, &pr, NULL) == ARGOT_OK, 0);
    argot_upload_part_free(p);
    argot_upload_free(done);
    argot_upload_free(u);
    argot_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_upload_every_source),
        cmocka_unit_test(test_download_every_sink),
        cmocka_unit_test(test_retrieve_list_delete),
        cmocka_unit_test(test_server_errors),
        cmocka_unit_test(test_uploads_parallel),
        cmocka_unit_test(test_uploads_raw_errors),
        cmocka_unit_test(test_download_offsets),
        cmocka_unit_test(test_download_resume),
        cmocka_unit_test(test_download_if_range_mismatch),
        cmocka_unit_test(test_download_416),
    };
    if (access(ARGOTD_PATH, X_OK) != 0) {
        printf("argotd not built (%s): skipped\n", ARGOTD_PATH);
        return 77;
    }
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
