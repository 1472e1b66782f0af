/*
 * The Uploads API of libargot against argot_mockd: the four raw calls, and the parallel helper
 * (parts tagged "P0000001".. so the mock counts attempts per part): byte-exact round trip with
 * 4 connections, a part failing once with 503 is the only one retried, a part failing for good
 * cancels the upload and reports that part's error, abort from progress, argument checks.
 */
#include "harness.h"

#include <argot/argot.h>

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

#define PART ((uint64_t)256 * 1024)

static th_server srv;
static char tmp[512];

static int group_setup(void **state)
{
    (void)state;
    if (argot_global_init() != ARGOT_OK || th_tmpdir(tmp, sizeof(tmp), "uploads") != 0)
        return -1;
    return th_start_mock(&srv);
}

static int group_teardown(void **state)
{
    (void)state;
    th_stop(&srv);
    th_rmtree(tmp);
    argot_global_cleanup();
    return 0;
}

static argot_client *new_client(void)
{
    argot_client_options o = ARGOT_CLIENT_OPTIONS_INIT;
    argot_client *c = NULL;
    char url[1024];

    snprintf(url, sizeof(url), "%s/v1", srv.url);
    o.base_url = url;
    o.api_key = "sk-test";
    o.timeout_ms = 10000;
    o.retry.initial_interval_ms = 20;
    o.retry.max_interval_ms = 100;
    o.retry.exponent = 2.0;
    o.retry.max_attempts = 4;
    assert_int_equal(argot_client_new(&c, &o), ARGOT_OK);
    return c;
}

static int count(const char *filename, const char *what)
{
    char key[256];
    snprintf(key, sizeof(key), "up:%s:%s", filename, what);
    return th_mock_stats(&srv, key, NULL, 0, NULL, 0);
}

/* Writes nparts parts of PART bytes (the last one `last` bytes), each starting with its tag. */
static char *make_file(const char *name, int nparts, size_t last, uint64_t *size)
{
    static char path[1024];
    char *buf = malloc(PART);
    FILE *f;
    int i;
    size_t j, n;

    snprintf(path, sizeof(path), "%s/%s", tmp, name);
    f = fopen(path, "wb");
    assert_non_null(f);
    *size = 0;
    for (i = 0; i < nparts; i++) {
        n = i == nparts - 1 ? last : PART;
        for (j = 0; j < n; j++)
            buf[j] = (char)('a' + (j * 7 + (size_t)i * 13) % 26);
        if (n >= 8) {
            char tag[16]; /* "P" + 7 digits + NUL; room for any int */
            snprintf(tag, sizeof(tag), "P%07d", (i + 1) % 10000000);
            memcpy(buf, tag, 8);
        }
        assert_int_equal(fwrite(buf, 1, n, f), n);
        *size += n;
    }
    fclose(f);
    free(buf);
    return path;
}

static void assert_same_content(argot_client *c, const char *file_id, const char *path)
{
    argot_download_file_request dr = ARGOT_DOWNLOAD_FILE_REQUEST_INIT;
    argot_download *d = NULL;
    struct stat sb;
    char *want;
    FILE *f = fopen(path, "rb");

    assert_non_null(f);
    assert_int_equal(stat(path, &sb), 0);
    want = malloc((size_t)sb.st_size + 1);
    assert_int_equal(fread(want, 1, (size_t)sb.st_size, f), (size_t)sb.st_size);
    fclose(f);
    dr.file_id = file_id;
    assert_int_equal(argot_files_download_file(&d, c, &dr, NULL), ARGOT_OK);
    assert_int_equal(d->bytes, (uint64_t)sb.st_size);
    assert_memory_equal(d->data, want, (size_t)sb.st_size);
    argot_download_free(d);
    free(want);
}

/* ---- raw calls ---- */

static argot_upload *create(argot_client *c, const char *name, int64_t bytes)
{
    argot_create_upload_request cr = ARGOT_CREATE_UPLOAD_REQUEST_INIT;
    argot_upload *u = NULL;
    cr.filename = name;
    cr.purpose = "fine-tune";
    cr.bytes = bytes;
    cr.mime_type = "text/jsonl";
    cr.expires_after = 7200;
    assert_int_equal(argot_uploads_create(&u, c, &cr, NULL), ARGOT_OK);
    return u;
}

static char *add_mem(argot_client *c, const char *upload_id, const char *data)
{
    argot_add_upload_part_request pr = ARGOT_ADD_UPLOAD_PART_REQUEST_INIT;
    argot_upload_part *p = NULL;
    char *id;
    pr.upload_id = upload_id;
    pr.data.kind = ARGOT_SOURCE_MEMORY;
    pr.data.data = data;
    pr.data.len = strlen(data);
    assert_int_equal(argot_uploads_add_part(&p, c, &pr, NULL), ARGOT_OK);
    assert_string_equal(p->object, "upload.part");
    assert_string_equal(p->upload_id, upload_id);
    assert_true(p->created_at > 0);
    assert_non_null(strstr(p->json, p->id));
    id = strdup(p->id);
    argot_upload_part_free(p);
    return id;
}

static void test_raw_calls(void **state)
{
    argot_client *c = new_client();
    argot_upload *u = create(c, "raw.jsonl", 23), *done = NULL;
    argot_add_upload_part_request pr = ARGOT_ADD_UPLOAD_PART_REQUEST_INIT;
    argot_complete_upload_request cc = ARGOT_COMPLETE_UPLOAD_REQUEST_INIT;
    argot_upload_part *p = NULL;
    const char *ids[3];
    char path[600];
    FILE *f;
    (void)state;

    assert_string_equal(u->object, "upload");
    assert_string_equal(u->status, "pending");
    assert_int_equal(u->bytes, 23);
    assert_int_equal(u->expires_at, u->created_at + 3600);
    assert_null(u->file);
    ids[1] = add_mem(c, u->id, "{\"b\":2}\n");
    ids[0] = add_mem(c, u->id, "{\"a\":1}\n");
    /* a range of a file, read with pread */
    snprintf(path, sizeof(path), "%s/raw.src", tmp);
    f = fopen(path, "wb");
    fputs("xxxx{\"c\":3}yyyy", f);
    fclose(f);
    pr.upload_id = u->id;
    pr.data.kind = ARGOT_SOURCE_PATH;
    pr.data.path = path;
    pr.offset = 4;
    pr.length = 7;
    assert_int_equal(argot_uploads_add_part(&p, c, &pr, NULL), ARGOT_OK);
    ids[2] = strdup(p->id);
    argot_upload_part_free(p);

    cc.upload_id = u->id;
    cc.part_ids = ids;
    cc.part_count = 3;
    cc.md5 = "0123456789abcdef0123456789abcdef";
    assert_int_equal(argot_uploads_complete(&done, c, &cc, NULL), ARGOT_E_HTTP);
    assert_string_equal(argot_client_last_error(c)->message, "md5 mismatch");
    cc.md5 = NULL;
    assert_int_equal(argot_uploads_complete(&done, c, &cc, NULL), ARGOT_OK);
    assert_string_equal(done->status, "completed");
    assert_non_null(done->file);
    assert_int_equal(done->file->bytes, 23);
    assert_int_equal(done->file->expires_at, done->created_at + 7200);
    assert_string_equal(done->file->filename, "raw.jsonl");
    assert_non_null(strstr(done->json, done->file->id));
    assert_non_null(strstr(done->file->json, "\"object\":\"file\""));
    {
        argot_download_file_request dr = ARGOT_DOWNLOAD_FILE_REQUEST_INIT;
        argot_download *d = NULL;
        dr.file_id = done->file->id;
        assert_int_equal(argot_files_download_file(&d, c, &dr, NULL), ARGOT_OK);
        assert_string_equal(d->data, "{\"a\":1}\n{\"b\":2}\n{\"c\":3}");
        argot_download_free(d);
    }
    free((char *)ids[0]);
    free((char *)ids[1]);
    free((char *)ids[2]);
    argot_upload_free(done);
    argot_upload_free(u);
    argot_client_free(c);
}

static void test_cancel_and_errors(void **state)
{
    argot_client *c = new_client();
    argot_upload *u = create(c, "cancel.jsonl", 8), *x = NULL;
    argot_cancel_upload_request cr = ARGOT_CANCEL_UPLOAD_REQUEST_INIT;
    argot_create_upload_request bad = ARGOT_CREATE_UPLOAD_REQUEST_INIT;
    argot_add_upload_part_request pr = ARGOT_ADD_UPLOAD_PART_REQUEST_INIT;
    argot_upload_part *p = NULL;
    (void)state;

    cr.upload_id = u->id;
    assert_int_equal(argot_uploads_cancel(&x, c, &cr, NULL), ARGOT_OK);
    assert_string_equal(x->status, "cancelled");
    assert_null(x->file);
    assert_null(strstr(x->json, "\"file\""));
    argot_upload_free(x);
    assert_int_equal(argot_uploads_cancel(NULL, c, &cr, NULL), ARGOT_E_HTTP);
    assert_int_equal(argot_client_last_error(c)->http_status, 400);
    assert_int_equal(count("cancel.jsonl", "cancel"), 2);

    pr.upload_id = u->id;
    pr.data.kind = ARGOT_SOURCE_MEMORY;
    pr.data.data = "12345678";
    pr.data.len = 8;
    assert_int_equal(argot_uploads_add_part(&p, c, &pr, NULL), ARGOT_E_HTTP);
    assert_null(p);
    pr.upload_id = "upload_nope";
    assert_int_equal(argot_uploads_add_part(&p, c, &pr, NULL), ARGOT_E_NOT_FOUND);
    assert_string_equal(argot_client_last_error(c)->message, "No such Upload object: upload_nope");
    /* rejected before sending */
    pr.offset = 1; /* a range needs a file source */
    assert_int_equal(argot_uploads_add_part(&p, c, &pr, NULL), ARGOT_E_INVALID);
    assert_int_equal(argot_client_last_error(c)->attempts, 0);
    pr.offset = 0;
    pr.data.kind = ARGOT_SOURCE_PATH;
    pr.data.path = "/etc/hostname";
    pr.length = 1 << 30;
    assert_int_equal(argot_uploads_add_part(&p, c, &pr, NULL), ARGOT_E_INVALID);
    pr.upload_id = NULL;
    assert_int_equal(argot_uploads_add_part(&p, c, &pr, NULL), ARGOT_E_INVALID);
    bad.filename = "a";
    bad.purpose = "batch";
    bad.bytes = 1;
    assert_int_equal(argot_uploads_create(&x, c, &bad, NULL), ARGOT_E_INVALID);
    assert_string_equal(argot_client_last_error(c)->summary, "mime_type is required");
    assert_int_equal(argot_uploads_create(&x, NULL, &bad, NULL), ARGOT_E_INVALID);
    argot_upload_free(u);
    argot_client_free(c);
}

/* ---- the parallel helper ---- */

typedef struct prog {
    int calls;
    uint64_t last_done, last_total, max_done;
    int abort;
} prog;

static int on_prog(uint64_t done, uint64_t total, void *ud)
{
    prog *p = ud;
    p->calls++;
    p->last_done = done;
    p->last_total = total;
    if (done > p->max_done)
        p->max_done = done;
    return p->abort;
}

static argot_status helper(argot_client *c, const char *path, prog *p, argot_upload **out)
{
    argot_upload_file_request ur = ARGOT_UPLOAD_FILE_REQUEST_INIT;
    ur.path = path;
    ur.purpose = "assistants";
    ur.part_size = PART;
    ur.parallel = 4;
    ur.progress = on_prog;
    ur.progress_userdata = p;
    return argot_uploads_upload_file(out, c, &ur, NULL);
}

static void test_helper_parallel(void **state)
{
    argot_client *c = new_client();
    uint64_t size;
    const char *path = make_file("par.bin", 7, 1000, &size);
    argot_upload *u = NULL;
    prog p = {0, 0, 0, 0, 0};
    char tag[16];
    int i;
    (void)state;

    assert_int_equal(helper(c, path, &p, &u), ARGOT_OK);
    assert_string_equal(u->status, "completed");
    assert_string_equal(u->filename, "par.bin");
    assert_int_equal(u->bytes, (int64_t)size);
    assert_non_null(u->file);
    assert_int_equal(p.last_done, size);
    assert_int_equal(p.last_total, size);
    assert_true(p.max_done <= size);
    assert_same_content(c, u->file->id, path);
    assert_int_equal(count("par.bin", "parts"), 7);
    for (i = 1; i <= 7; i++) {
        snprintf(tag, sizeof(tag), "P%07d", i);
        assert_int_equal(count("par.bin", tag), 1);
    }
    assert_int_equal(count("par.bin", "complete"), 1); /* the md5 matched */
    assert_int_equal(count("par.bin", "cancel"), 0);
    argot_upload_free(u);
    argot_client_free(c);
}

static void test_helper_retries_only_the_failed_part(void **state)
{
    static const char *name = "failpart_P0000003_1_a.bin";
    argot_client *c = new_client();
    uint64_t size;
    const char *path = make_file(name, 6, PART, &size);
    argot_upload *u = NULL;
    prog p = {0, 0, 0, 0, 0};
    char tag[16];
    int i;
    (void)state;

    assert_int_equal(helper(c, path, &p, &u), ARGOT_OK);
    assert_same_content(c, u->file->id, path);
    assert_int_equal(count(name, "parts"), 7);
    for (i = 1; i <= 6; i++) {
        snprintf(tag, sizeof(tag), "P%07d", i);
        assert_int_equal(count(name, tag), i == 3 ? 2 : 1);
    }
    assert_int_equal(count(name, "complete"), 1);
    argot_upload_free(u);
    argot_client_free(c);
}

static void test_helper_failure_cancels(void **state)
{
    static const char *name = "failpart_P0000002_99_b.bin";
    argot_client *c = new_client();
    uint64_t size;
    const char *path = make_file(name, 5, 77, &size);
    argot_upload *u = (argot_upload *)1;
    const argot_error *e;
    prog p = {0, 0, 0, 0, 0};
    (void)state;

    assert_int_equal(helper(c, path, &p, &u), ARGOT_E_HTTP);
    assert_null(u);
    e = argot_client_last_error(c);
    assert_int_equal(e->status, ARGOT_E_HTTP);
    assert_int_equal(e->http_status, 503);
    assert_int_equal(e->attempts, 4);
    assert_string_equal(e->message, "Injected part failure");
    assert_non_null(e->request_id);
    assert_int_equal(count(name, "P0000002"), 4);
    assert_int_equal(count(name, "complete"), 0);
    assert_int_equal(count(name, "cancel"), 1);
    argot_client_free(c);
}

static void test_helper_abort_and_edges(void **state)
{
    argot_client *c = new_client();
    argot_upload_file_request ur = ARGOT_UPLOAD_FILE_REQUEST_INIT;
    uint64_t size;
    const char *path = make_file("abort.bin", 8, PART, &size);
    argot_upload *u = NULL;
    prog p = {0, 0, 0, 0, 1};
    char empty[600];
    FILE *f;
    (void)state;

    assert_int_equal(helper(c, path, &p, &u), ARGOT_E_ABORTED);
    assert_null(u);
    assert_int_equal(p.calls, 1);
    assert_int_equal(count("abort.bin", "cancel"), 1);

    snprintf(empty, sizeof(empty), "%s/empty.txt", tmp);
    f = fopen(empty, "wb");
    fclose(f);
    memset(&p, 0, sizeof(p));
    assert_int_equal(helper(c, empty, &p, &u), ARGOT_OK);
    assert_int_equal(u->file->bytes, 0);
    argot_upload_free(u);

    ur.path = path;
    ur.purpose = "batch";
    ur.part_size = ARGOT_UPLOAD_MAX_PART_SIZE + 1;
    assert_int_equal(argot_uploads_upload_file(&u, c, &ur, NULL), ARGOT_E_INVALID);
    ur.part_size = 0;
    ur.parallel = ARGOT_UPLOAD_MAX_PARALLEL + 1;
    assert_int_equal(argot_uploads_upload_file(&u, c, &ur, NULL), ARGOT_E_INVALID);
    ur.parallel = 0;
    ur.path = tmp; /* a directory */
    assert_int_equal(argot_uploads_upload_file(&u, c, &ur, NULL), ARGOT_E_INVALID);
    ur.path = "/nonexistent/x";
    assert_int_equal(argot_uploads_upload_file(&u, c, &ur, NULL), ARGOT_E_IO);
    assert_int_not_equal(argot_client_last_error(c)->os_errno, 0);
    ur.purpose = NULL;
    assert_int_equal(argot_uploads_upload_file(&u, c, &ur, NULL), ARGOT_E_INVALID);
    assert_string_equal(argot_mime_type_guess("a/b.JSONL"), "text/jsonl");
    assert_string_equal(argot_mime_type_guess("x"), "application/octet-stream");
    assert_string_equal(argot_mime_type_guess(NULL), "application/octet-stream");
    argot_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_raw_calls),
        cmocka_unit_test(test_cancel_and_errors),
        cmocka_unit_test(test_helper_parallel),
        cmocka_unit_test(test_helper_retries_only_the_failed_part),
        cmocka_unit_test(test_helper_failure_cancels),
        cmocka_unit_test(test_helper_abort_and_edges),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
