/*
 * The S3 client (src/server/blob/s3/) against a real OpenStack Swift with s3api: every
 * operation, the error record (HTTP status, S3 Code, curl code, retryable) on real failures
 * (missing bucket, wrong credentials, refused and stalled connections, a storage server down,
 * a kept-alive connection dying under a request, which curl sends again from memory),
 * paging past one page, idempotent deletes and aborts, the reaper, virtual-hosted addressing,
 * and that no credential ever reaches the log.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "s3_harness.h"
#include "server/log.h"

static const char *bucket;
static s3_client *cli;

static int setup(void **state)
{
    bucket = s3t_bucket("client");
    s3t_make_bucket(bucket);
    s3_config cfg = s3t_config(bucket);
    cli = s3t_client(&cfg);
    return 0;
}

static int teardown(void **state)
{
    s3_client_free(cli);
    return 0;
}

#define OK(call)                                                                                   \
    do {                                                                                           \
        s3_error e_;                                                                               \
        s3_error_clear(&e_);                                                                       \
        s3_status rc_ = (call);                                                                    \
        if (rc_ != S3_OK)                                                                          \
            fail_msg("%s: %s (%s)", #call, e_.message, s3_status_str(rc_));                        \
    } while (0)

typedef struct sink {
    char *buf;
    size_t len, cap, max_chunk;
} sink;

static int sink_cb(const char *data, size_t len, void *ud)
{
    sink *s = ud;
    if (len > s->max_chunk)
        s->max_chunk = len;
    if (s->len + len > s->cap)
        return 1;
    memcpy(s->buf + s->len, data, len);
    s->len += len;
    return 0;
}

static void get_all(const char *key, uint64_t off, uint64_t len, sink *s)
{
    s3_error e;
    s3_error_clear(&e);
    s->len = 0;
    if (s3_get_object(cli, key, off, len, sink_cb, s, &e) != S3_OK)
        fail_msg("GetObject %s: %s", key, e.message);
}

static void missing_bucket(void **state)
{
    s3_config cfg = s3t_config("argot-no-such-bucket");
    s3_client *c = s3t_client(&cfg);
    s3_error e;
    s3_error_clear(&e);
    assert_int_equal(s3_head_bucket(c, &e), S3_E_NOTFOUND);
    print_message("missing bucket: %s\n", e.message);
    assert_non_null(strstr(e.message, "argot-no-such-bucket' does not exist"));
    assert_int_equal(e.http_status, 404);
    assert_false(e.retryable);
    s3_client_free(c);
    s3_error_clear(&e);
    assert_int_equal(s3_head_bucket(cli, &e), S3_OK);
}

static void wrong_credentials(void **state)
{
    s3_config cfg = s3t_config(bucket);
    cfg.secret_key = "not-the-secret";
    s3_client *c = s3t_client(&cfg);
    s3_error e;
    s3_error_clear(&e);
    assert_int_equal(s3_head_bucket(c, &e), S3_E_AUTH);
    print_message("wrong secret: %s\n", e.message);
    assert_non_null(strstr(e.message, "wrong credentials"));
    assert_int_equal(e.http_status, 403);
    assert_false(e.retryable);
    s3_error_clear(&e);
    assert_int_equal(s3_put_object(c, "evil", "x", 1, NULL, &e), S3_E_AUTH);
    assert_string_equal(e.s3_code, "SignatureDoesNotMatch");
    assert_false(e.retryable);
    s3_client_free(c);
    cfg = s3t_config(bucket);
    cfg.access_key = "nobody:nouser";
    c = s3t_client(&cfg);
    s3_error_clear(&e);
    assert_int_equal(s3_head_bucket(c, &e), S3_E_AUTH);
    s3_error_clear(&e);
    assert_int_equal(s3_get_object(c, "evil", 0, S3_TO_END, sink_cb, NULL, &e), S3_E_AUTH);
    print_message("unknown access key: %s\n", e.message);
    assert_true(strcmp(e.s3_code, "InvalidAccessKeyId") == 0 ||
                strcmp(e.s3_code, "AccessDenied") == 0 ||
                strcmp(e.s3_code, "SignatureDoesNotMatch") == 0);
    s3_client_free(c);
}

static void put_get_delete(void **state)
{
    char data[100000], etag[S3R_ETAG_MAX + 1];
    char buf[200000];
    sink s = {buf, 0, sizeof buf, 0};
    uint64_t size = 0;
    s3t_fill(data, 0, sizeof data, 1);
    OK(s3_put_object(cli, "obj/a", data, sizeof data, etag, &e_));
    assert_int_equal(strlen(etag), 34);
    char head_etag[S3R_ETAG_MAX + 1];
    OK(s3_head_object(cli, "obj/a", &size, head_etag, &e_));
    assert_int_equal(size, sizeof data);
    assert_string_equal(head_etag, etag);
    get_all("obj/a", 0, S3_TO_END, &s);
    assert_int_equal(s.len, sizeof data);
    assert_memory_equal(buf, data, sizeof data);
    assert_true(s.max_chunk <= 64 * 1024);
    get_all("obj/a", 99990, 10, &s);
    assert_int_equal(s.len, 10);
    assert_memory_equal(buf, data + 99990, 10);
    get_all("obj/a", 5, S3_TO_END, &s);
    assert_int_equal(s.len, sizeof data - 5);
    get_all("obj/a", 99999, 1000, &s); /* a range past the end is clipped */
    assert_int_equal(s.len, 1);

    s3_error e;
    s3_error_clear(&e);
    assert_int_equal(s3_get_object(cli, "obj/a", 100000, 10, sink_cb, &s, &e), S3_E_RANGE);
    assert_int_equal(e.http_status, 416);
    assert_false(e.retryable);

    OK(s3_delete_object(cli, "obj/a", &e_));
    OK(s3_delete_object(cli, "obj/a", &e_)); /* deleting a missing key is fine */
    OK(s3_delete_object(cli, "never-existed", &e_));
    s3_error_clear(&e);
    assert_int_equal(s3_get_object(cli, "obj/a", 0, S3_TO_END, sink_cb, &s, &e), S3_E_NOTFOUND);
    assert_string_equal(e.s3_code, "NoSuchKey");
    assert_int_equal(e.http_status, 404);
    assert_false(e.retryable);
    s3_error_clear(&e);
    assert_int_equal(s3_head_object(cli, "obj/a", &size, NULL, &e), S3_E_NOTFOUND);

    OK(s3_put_object(cli, "obj/empty", "", 0, NULL, &e_));
    get_all("obj/empty", 0, S3_TO_END, &s);
    assert_int_equal(s.len, 0);
}

/* A consumer that stops the transfer: the error says so and is not retryable. */
static int stop_cb(const char *data, size_t len, void *ud)
{
    return 1;
}

typedef struct source {
    uint64_t off, len, fail_at;
} source;

static long src_cb(char *buf, size_t cap, void *ud)
{
    source *s = ud;
    if (s->off >= s->fail_at)
        return -1;
    size_t n = cap < s->len - s->off ? cap : (size_t)(s->len - s->off);
    s3t_fill(buf, s->off, n, 2);
    s->off += n;
    return (long)n;
}

static void streamed_put_and_stops(void **state)
{
    char buf[1 << 20];
    sink s = {buf, 0, sizeof buf, 0};
    source in = {0, 700000, UINT64_MAX};
    OK(s3_put_object_stream(cli, "stream/a", in.len, src_cb, &in, NULL, &e_));
    get_all("stream/a", 0, S3_TO_END, &s);
    assert_int_equal(s.len, 700000);
    assert_true(s3t_check(buf, 0, s.len, 2));

    s3_error e;
    s3_error_clear(&e);
    assert_int_equal(s3_get_object(cli, "stream/a", 0, S3_TO_END, stop_cb, NULL, &e), S3_E_ABORTED);
    assert_false(e.retryable);
    /* A source that fails midway: nothing is stored under the key. */
    source bad = {0, 700000, 300000};
    s3_error_clear(&e);
    assert_int_equal(s3_put_object_stream(cli, "stream/b", bad.len, src_cb, &bad, NULL, &e),
                     S3_E_ABORTED);
    s3_error_clear(&e);
    assert_int_equal(s3_head_object(cli, "stream/b", NULL, NULL, &e), S3_E_NOTFOUND);
}

static void keys_needing_encoding(void **state)
{
    const char *keys[] = {"dir/a b+c=d&e?f#g%h~i!*'()[]@$,;:\xc3\xa9\xf0\x9f\x98\x80.jsonl",
                          "x//y/./z/../w", "amp&lt;<>\"'"};
    char buf[64];
    sink s = {buf, 0, sizeof buf, 0};
    for (size_t i = 0; i < 3; i++) {
        char key[256];
        snprintf(key, sizeof key, "enc/%s", keys[i]);
        OK(s3_put_object(cli, key, keys[i], strlen(keys[i]), NULL, &e_));
        get_all(key, 0, S3_TO_END, &s);
        assert_int_equal(s.len, strlen(keys[i]));
        assert_memory_equal(buf, keys[i], s.len);
    }
}

typedef struct seen {
    char keys[64][S3R_KEY_MAX + 1];
    size_t n;
} seen;

static int seen_cb(const s3r_entry *e, void *ud)
{
    seen *s = ud;
    if (s->n < 64)
        snprintf(s->keys[s->n], sizeof s->keys[0], "%s", e->key);
    s->n++;
    return 0;
}

static void encoded_keys_listed(void **state)
{
    seen *s = calloc(1, sizeof *s);
    s3_page page;
    OK(s3_list_objects(cli, "enc/", NULL, 0, seen_cb, s, &page, &e_));
    assert_int_equal(s->n, 3);
    assert_false(page.truncated);
    int found = 0;
    for (size_t i = 0; i < s->n; i++)
        found += strcmp(s->keys[i], "enc/amp&lt;<>\"'") == 0;
    assert_int_equal(found, 1);
    free(s);
}

/* ListObjectsV2 past one page, with a client prefix: keys come back relative to it. */
static void list_objects_paged(void **state)
{
    s3_config cfg = s3t_config(bucket);
    cfg.prefix = "paged/";
    s3_client *c = s3t_client(&cfg);
    for (int i = 0; i < 7; i++) {
        char key[32];
        snprintf(key, sizeof key, "k%02d", i);
        OK(s3_put_object(c, key, key, strlen(key), NULL, &e_));
    }
    seen *s = calloc(1, sizeof *s);
    char token[S3R_TOKEN_MAX + 1] = "";
    int pages = 0;
    s3_page page;
    do {
        OK(s3_list_objects(c, NULL, token, 3, seen_cb, s, &page, &e_));
        pages++;
        assert_true(page.count <= 3);
        snprintf(token, sizeof token, "%s", page.next_token);
    } while (page.truncated);
    assert_int_equal(pages, 3);
    assert_int_equal(s->n, 7);
    for (int i = 0; i < 7; i++) {
        char key[32];
        snprintf(key, sizeof key, "k%02d", i);
        assert_string_equal(s->keys[i], key);
    }
    free(s);
    s3_client_free(c);
}

typedef struct parts_seen {
    int numbers[16];
    uint64_t sizes[16];
    size_t n;
} parts_seen;

static int part_cb(const s3r_entry *e, void *ud)
{
    parts_seen *p = ud;
    if (p->n < 16) {
        p->numbers[p->n] = e->part_number;
        p->sizes[p->n] = e->size;
    }
    p->n++;
    return 0;
}

static void multipart_full(void **state)
{
    size_t five = 5u << 20, six = 6u << 20;
    char *a = malloc(five), *src = malloc(six);
    char id[S3R_TOKEN_MAX + 1], etag[S3R_ETAG_MAX + 1];
    s3_part parts[3];
    s3t_fill(a, 0, five, 3);
    s3t_fill(src, 0, six, 4);
    OK(s3_put_object(cli, "mp/src", src, six, NULL, &e_));
    OK(s3_mpu_create(cli, "mp/dst", id, &e_));
    assert_true(strlen(id) > 8);
    OK(s3_mpu_upload_part(cli, "mp/dst", id, 1, a, five, NULL, &parts[0], &e_));
    /* UploadPartCopy of 5 MiB from byte 100 of the source (x-amz-copy-source-range). */
    OK(s3_mpu_upload_part_copy(cli, "mp/dst", id, 2, "mp/src", 100, 100 + five - 1, &parts[1],
                               &e_));
    OK(s3_mpu_upload_part(cli, "mp/dst", id, 3, src, 10, NULL, &parts[2], &e_));

    parts_seen ps = {{0}, {0}, 0};
    s3_page page;
    OK(s3_mpu_list_parts(cli, "mp/dst", id, 0, 2, part_cb, &ps, &page, &e_));
    assert_true(page.truncated);
    assert_int_equal(page.next_part_marker, 2);
    OK(s3_mpu_list_parts(cli, "mp/dst", id, page.next_part_marker, 2, part_cb, &ps, &page, &e_));
    assert_false(page.truncated);
    assert_int_equal(ps.n, 3);
    assert_int_equal(ps.numbers[2], 3);
    assert_int_equal(ps.sizes[0], five);
    assert_int_equal(ps.sizes[1], five);
    assert_int_equal(ps.sizes[2], 10);

    OK(s3_mpu_complete(cli, "mp/dst", id, parts, 3, etag, &e_));
    print_message("multipart ETag %s\n", etag);
    assert_non_null(strstr(etag, "-3\""));
    char *buf = malloc(2 * five + 100);
    sink s = {buf, 0, 2 * five + 100, 0};
    get_all("mp/dst", 0, S3_TO_END, &s);
    assert_int_equal(s.len, 2 * five + 10);
    assert_memory_equal(buf, a, five);
    assert_memory_equal(buf + five, src + 100, five);
    assert_memory_equal(buf + 2 * five, src, 10);
    get_all("mp/dst", five - 3, 6, &s); /* a range across the part boundary */
    assert_int_equal(s.len, 6);
    assert_memory_equal(buf, a + five - 3, 3);
    assert_memory_equal(buf + 3, src + 100, 3);
    /* A second Complete of the same upload: it is gone, the object is there with this
     * upload's ETag, so the client reports success (an answer lost in transit). */
    char again[S3R_ETAG_MAX + 1];
    OK(s3_mpu_complete(cli, "mp/dst", id, parts, 3, again, &e_));
    assert_string_equal(again, etag);
    free(a);
    free(src);
    free(buf);
}

static void multipart_refusals(void **state)
{
    char id[S3R_TOKEN_MAX + 1];
    s3_part parts[2];
    s3_error e;
    OK(s3_mpu_create(cli, "mp/small", id, &e_));
    OK(s3_mpu_upload_part(cli, "mp/small", id, 1, "aaaa", 4, NULL, &parts[0], &e_));
    OK(s3_mpu_upload_part(cli, "mp/small", id, 2, "bbbb", 4, NULL, &parts[1], &e_));
    s3_error_clear(&e);
    assert_int_equal(s3_mpu_complete(cli, "mp/small", id, parts, 2, NULL, &e), S3_E_REQUEST);
    print_message("small parts: %s\n", e.message);
    assert_string_equal(e.s3_code, "EntityTooSmall");
    assert_int_equal(e.http_status, 400);
    assert_false(e.retryable);
    s3_part bad = parts[0];
    strcpy(bad.etag, "\"00000000000000000000000000000000\"");
    s3_error_clear(&e);
    assert_int_equal(s3_mpu_complete(cli, "mp/small", id, &bad, 1, NULL, &e), S3_E_REQUEST);
    assert_string_equal(e.s3_code, "InvalidPart");
    s3_part order[2] = {parts[1], parts[0]};
    s3_error_clear(&e);
    assert_int_equal(s3_mpu_complete(cli, "mp/small", id, order, 2, NULL, &e), S3_E_REQUEST);
    assert_string_equal(e.s3_code, "InvalidPartOrder");

    OK(s3_mpu_abort(cli, "mp/small", id, &e_));
    OK(s3_mpu_abort(cli, "mp/small", id, &e_)); /* idempotent */
    s3_error_clear(&e);
    assert_int_equal(s3_mpu_list_parts(cli, "mp/small", id, 0, 0, part_cb, NULL, NULL, &e),
                     S3_E_NOTFOUND);
    assert_string_equal(e.s3_code, "NoSuchUpload");
    s3_part p;
    s3_error_clear(&e);
    assert_int_equal(s3_mpu_upload_part(cli, "mp/small", id, 3, "c", 1, NULL, &p, &e),
                     S3_E_NOTFOUND);
    s3_error_clear(&e);
    assert_int_equal(
        s3_mpu_upload_part_copy(cli, "mp/small2", "no-such-upload", 1, "mp/src", 0, 9, &p, &e),
        S3_E_NOTFOUND);
    /* A copy from a source that does not exist: the copy is refused. */
    OK(s3_mpu_create(cli, "mp/small3", id, &e_));
    s3_error_clear(&e);
    assert_int_equal(s3_mpu_upload_part_copy(cli, "mp/small3", id, 1, "mp/none", 0, 9, &p, &e),
                     S3_E_NOTFOUND);
    print_message("copy from a missing source: %s\n", e.message);
    OK(s3_mpu_abort(cli, "mp/small3", id, &e_));
}

typedef struct uploads_seen {
    size_t n;
    char keys[16][64];
} uploads_seen;

static int upload_cb(const s3r_entry *e, void *ud)
{
    uploads_seen *u = ud;
    if (u->n < 16)
        snprintf(u->keys[u->n], sizeof u->keys[0], "%.63s", e->key);
    u->n++;
    assert_true(e->time > 0);
    return 0;
}

/* ListMultipartUploads past one page, then the reaper: young uploads stay, old ones go. */
static void uploads_paged_and_reaped(void **state)
{
    s3_config cfg = s3t_config(bucket);
    cfg.prefix = "reap/";
    s3_client *c = s3t_client(&cfg);
    char id[S3R_TOKEN_MAX + 1];
    for (int i = 0; i < 5; i++) {
        char key[16];
        snprintf(key, sizeof key, "u%d", i);
        OK(s3_mpu_create(c, key, id, &e_));
    }
    uploads_seen u = {0};
    s3_page page;
    /* Pages of 2, and of 1 (where Swift sends empty next markers: the last entry's serve). */
    for (int per_page = 2; per_page >= 1; per_page--) {
        char km[S3R_KEY_MAX + 1] = "", im[S3R_TOKEN_MAX + 1] = "";
        int pages = 0;
        memset(&u, 0, sizeof u);
        do {
            OK(s3_mpu_list_uploads(c, NULL, km, im, per_page, upload_cb, &u, &page, &e_));
            pages++;
            assert_true(page.count <= (size_t)per_page);
            snprintf(km, sizeof km, "%s", page.next_key_marker);
            snprintf(im, sizeof im, "%s", page.next_upload_id_marker);
        } while (page.truncated && pages < 10);
        /* Swift may call the page with the last upload truncated: one empty page follows. */
        assert_true(pages == (per_page == 2 ? 3 : 5) || (per_page == 1 && pages == 6));
        assert_int_equal(u.n, 5);
        assert_string_equal(u.keys[0], "u0");
        assert_string_equal(u.keys[4], "u4");
    }

    size_t aborted = 99;
    OK(s3_reap_uploads(c, NULL, 3600, &aborted, &e_));
    assert_int_equal(aborted, 0);                     /* all younger than an hour */
    OK(s3_reap_uploads(c, NULL, -60, &aborted, &e_)); /* a cutoff in the future: all */
    assert_int_equal(aborted, 5);
    memset(&u, 0, sizeof u);
    OK(s3_mpu_list_uploads(c, NULL, NULL, NULL, 0, upload_cb, &u, &page, &e_));
    assert_int_equal(u.n, 0);
    s3_client_free(c);
}

static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* Real transport failures: a refused connection and a server that never answers. */
static void network_failures_are_retryable(void **state)
{
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", closed_port());
    s3_config cfg = s3t_config(bucket);
    cfg.endpoint = url;
    cfg.max_retries = 2;
    s3_client *c = s3t_client(&cfg);
    s3_error e;
    s3_error_clear(&e);
    assert_int_equal(s3_put_object(c, "k", "x", 1, NULL, &e), S3_E_NETWORK);
    print_message("refused: %s\n", e.message);
    assert_int_equal(e.curl_code, 7); /* CURLE_COULDNT_CONNECT */
    assert_true(e.retryable);
    assert_int_equal(e.http_status, 0);
    s3_client_free(c);

    /* A listening socket nobody accepts from: the stall timeout fires. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 8), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", ntohs(a.sin_port));
    cfg.endpoint = url;
    cfg.stall_timeout_s = 1;
    cfg.max_retries = 0;
    c = s3t_client(&cfg);
    s3_error_clear(&e);
    assert_int_equal(s3_head_bucket(c, &e), S3_E_NETWORK);
    print_message("stalled: %s\n", e.message);
    assert_int_equal(e.curl_code, 28); /* CURLE_OPERATION_TIMEDOUT */
    assert_true(e.retryable);
    s3_client_free(c);
    close(fd);
}

typedef struct putter {
    s3_client *c;
    const char *key, *data;
    size_t len;
    s3t_proxy *px;
    s3_status rc;
    s3_error e;
    atomic_int finished;
} putter;

static void *put_thread(void *ud)
{
    putter *p = ud;
    s3_error_clear(&p->e);
    p->rc = s3_put_object(p->c, p->key, p->data, p->len, NULL, &p->e);
    atomic_store(&p->finished, 1);
    return NULL;
}

static int held_or_finished(void *ud)
{
    putter *p = ud;
    return s3t_proxy_held(p->px) == 1 || atomic_load(&p->finished);
}

/* A kept-alive connection that dies before the answer (the proxy resets it with the request
 * held): curl sends the request again on a fresh connection by itself, rewinding the body in
 * memory (with max_retries 0 no retry of ours could have saved it). */
static void dead_reused_connection_resent_from_memory(void **state)
{
    s3t_proxy *px = s3t_proxy_start();
    s3_config cfg = s3t_config(bucket);
    cfg.endpoint = s3t_proxy_endpoint(px);
    cfg.max_retries = 0;
    s3_client *c = s3t_client(&cfg);
    size_t len = 1 << 20;
    char *data = malloc(len), *back = malloc(len);
    pthread_t th;
    s3t_fill(data, 0, len, 60);
    OK(s3_put_object(c, "reuse/first", "x", 1, NULL, &e_)); /* leaves a kept-alive connection */
    s3t_proxy_hold(px, 1 << 20);                            /* the 1 MiB PUT, not the first */
    putter p = {.c = c, .key = "reuse/k", .data = data, .len = len, .px = px};
    assert_int_equal(pthread_create(&th, NULL, put_thread, &p), 0);
    s3t_wait_until(held_or_finished, &p, "the PUT held on the reused connection");
    assert_true(s3t_proxy_reset_one(px));
    s3t_wait_until(held_or_finished, &p, "curl sending the PUT again on a fresh connection");
    s3t_proxy_hold(px, 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    if (p.rc != S3_OK)
        fail_msg("PUT after the reset: %s", p.e.message);
    sink s = {back, 0, len, 0};
    get_all("reuse/k", 0, S3_TO_END, &s);
    assert_int_equal(s.len, len);
    assert_true(s3t_check(back, 0, len, 60));
    s3_client_free(c);
    s3t_proxy_stop(px);
    free(data);
    free(back);
}

static void swift_ctl(const char *what, const char *server)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s/scripts/testsrv/swift-ctl.sh %s %s %s", ARGOT_SOURCE_DIR,
             getenv("ARGOT_S3_TEST_DIR"), what, server);
    assert_int_equal(system(cmd), 0);
}

/* With the object server stopped, Swift's proxy answers 503: a retryable server error. */
static void server_down_is_retryable(void **state)
{
    s3_config cfg = s3t_config(bucket);
    cfg.max_retries = 1;
    s3_client *c = s3t_client(&cfg);
    swift_ctl("stop", "object");
    s3_error e;
    s3_error_clear(&e);
    s3_status rc = s3_put_object(c, "down", "x", 1, NULL, &e);
    swift_ctl("start", "object");
    print_message("object server down: %s\n", e.message);
    assert_int_equal(rc, S3_E_SERVER);
    assert_true(e.http_status >= 500);
    assert_true(e.retryable);
    OK(s3_put_object(c, "down", "x", 1, NULL, &e_));
    s3_client_free(c);
}

/* Virtual-hosted addressing: Swift's s3api takes the bucket from the Host name under
 * storage_domain (s3.test), which the client pins to 127.0.0.1. */
static void virtual_hosted(void **state)
{
    char url[64], resolve[128];
    char buf[16];
    sink s = {buf, 0, sizeof buf, 0};
    snprintf(url, sizeof url, "http://s3.test:%d", s3t_port());
    snprintf(resolve, sizeof resolve, "%s.s3.test:%d:127.0.0.1", bucket, s3t_port());
    s3_config cfg = s3t_config(bucket);
    cfg.endpoint = url;
    cfg.addressing = S3_ADDR_VIRTUAL;
    cfg.resolve = resolve;
    s3_client *c = s3t_client(&cfg);
    OK(s3_head_bucket(c, &e_));
    OK(s3_put_object(c, "vhost/k", "virtual", 7, NULL, &e_));
    s3_client_free(c);
    get_all("vhost/k", 0, S3_TO_END, &s); /* read back path-style */
    assert_int_equal(s.len, 7);
    assert_memory_equal(buf, "virtual", 7);
}

/* Every log line of a client run at debug level, with failures: no credential in any. */
static void credentials_never_logged(void **state)
{
    char path[] = "/tmp/argot-s3-log-XXXXXX";
    int fd = mkstemp(path), saved = dup(STDERR_FILENO);
    int level = log_level_current;
    assert_true(fd >= 0);
    dup2(fd, STDERR_FILENO);
    log_level_current = LOG_DEBUG;
    s3_config cfg = s3t_config(bucket);
    s3_client *c = s3t_client(&cfg);
    s3_error e;
    s3_error_clear(&e);
    (void)s3_put_object(c, "log/k", "x", 1, NULL, &e);
    (void)s3_get_object(c, "log/missing", 0, S3_TO_END, sink_cb, NULL, &e);
    s3_client_free(c);
    cfg.secret_key = "wrong-secret-value";
    c = s3t_client(&cfg);
    (void)s3_head_bucket(c, &e);
    (void)s3_put_object(c, "log/k2", "x", 1, NULL, &e);
    s3_client_free(c);
    log_level_current = level;
    dup2(saved, STDERR_FILENO);
    close(saved);
    char text[65536];
    ssize_t n = pread(fd, text, sizeof text - 1, 0);
    close(fd);
    unlink(path);
    assert_true(n > 0);
    text[n] = '\0';
    print_message("%s", text);
    assert_non_null(strstr(text, "credentials=[redacted]"));
    assert_non_null(strstr(text, "op=PutObject"));
    assert_null(strstr(text, S3T_SECRET_KEY));
    assert_null(strstr(text, "wrong-secret-value"));
    assert_null(strstr(text, S3T_ACCESS_KEY));
    assert_null(strstr(text, "Signature="));
    assert_null(strstr(text, "Credential="));
}

int main(void)
{
    if (!s3t_endpoint())
        return 77;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(missing_bucket),
        cmocka_unit_test(wrong_credentials),
        cmocka_unit_test(put_get_delete),
        cmocka_unit_test(streamed_put_and_stops),
        cmocka_unit_test(keys_needing_encoding),
        cmocka_unit_test(encoded_keys_listed),
        cmocka_unit_test(list_objects_paged),
        cmocka_unit_test(multipart_full),
        cmocka_unit_test(multipart_refusals),
        cmocka_unit_test(uploads_paged_and_reaped),
        cmocka_unit_test(network_failures_are_retryable),
        cmocka_unit_test(dead_reused_connection_resent_from_memory),
        cmocka_unit_test(server_down_is_retryable),
        cmocka_unit_test(virtual_hosted),
        cmocka_unit_test(credentials_never_logged),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
