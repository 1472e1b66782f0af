/*
 * The HTTP/1.1 framing rules of http/h1.c: what a head may hold, how a body is framed, and the
 * chunked decoder fed whole and byte by byte. Each refusal here is a request that two HTTP
 * implementations could frame differently (RFC 9112 6.1, 6.3, 5.1, 5.2; RFC 9110 5.5).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server/http/h1.h"

static const h1_limits lim = {8192, 1024, 32};

typedef struct parsed {
    char buf[16384];
    h1_field fields[32];
    h1_head h;
    h1_error e;
    int rc;
} parsed;

/* Parses a head given as a C string (NUL-free heads only). */
static parsed *parse(const char *text)
{
    static parsed p;
    memset(&p, 0, sizeof p);
    size_t n = strlen(text);
    assert_true(n < sizeof p.buf);
    memcpy(p.buf, text, n);
    size_t scan = 0;
    size_t end = h1_head_end(p.buf, n, &scan);
    assert_int_equal(end, n); /* every test head is exactly one complete head */
    p.rc = h1_parse_head(p.buf, end, &lim, p.fields, &p.h, &p.e);
    return &p;
}

static void expect_refused(const char *text, int status)
{
    parsed *p = parse(text);
    if (p->rc != -1 || p->e.status != status)
        fail_msg("expected %d for %s, got rc %d status %d", status, text, p->rc, p->e.status);
    assert_non_null(p->e.message);
}

#define GET_HOST "GET / HTTP/1.1\r\nHost: a\r\n"

static void test_simple_get(void **st)
{
    (void)st;
    parsed *p = parse("GET /v1/files?limit=2 HTTP/1.1\r\nHost: x\r\nAuthorization:  Bearer k \r\n"
                      "X-Empty:\r\n\r\n");
    assert_int_equal(p->rc, 0);
    assert_string_equal(p->h.method, "GET");
    assert_string_equal(p->h.target, "/v1/files?limit=2");
    assert_int_equal(p->h.minor, 1);
    assert_int_equal(p->h.framing, H1_BODY_NONE);
    assert_true(p->h.keep_alive);
    assert_string_equal(h1_field_get(&p->h, "authorization"), "Bearer k");
    assert_string_equal(h1_field_get(&p->h, "x-empty"), "");
    assert_null(h1_field_get(&p->h, "missing"));
}

static void test_versions(void **st)
{
    (void)st;
    parsed *p = parse("GET / HTTP/1.0\r\n\r\n"); /* no Host needed in 1.0, never keep-alive */
    assert_int_equal(p->rc, 0);
    assert_int_equal(p->h.minor, 0);
    assert_false(p->h.keep_alive);
    p = parse("GET / HTTP/1.2\r\nHost: a\r\n\r\n"); /* a higher minor is read as 1.1 */
    assert_int_equal(p->rc, 0);
    assert_int_equal(p->h.minor, 1);
    expect_refused("GET / HTTP/9.9\r\nHost: a\r\n\r\n", 505);
    expect_refused("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505);
    expect_refused("GET / HTTP/1.1x\r\nHost: a\r\n\r\n", 400);
    expect_refused("GET / http/1.1\r\nHost: a\r\n\r\n", 400);
    expect_refused("GET /\r\n\r\n", 400); /* HTTP/0.9 style */
}

static void test_request_line(void **st)
{
    (void)st;
    expect_refused("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400);        /* two spaces */
    expect_refused("GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400);        /* trailing space */
    expect_refused("G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400);         /* not a token */
    expect_refused("GET v1/files HTTP/1.1\r\nHost: a\r\n\r\n", 400);  /* not origin-form */
    expect_refused("GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", 400); /* raw non-ASCII */
    parsed *p = parse("GET http://example.com/v1/files?x=1 HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_int_equal(p->rc, 0);
    assert_string_equal(p->h.target, "/v1/files?x=1");
    p = parse("GET http://example.com HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_int_equal(p->rc, 0);
    assert_string_equal(p->h.target, "/");
    p = parse("GET http://example.com?q=1 HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_int_equal(p->rc, 0);
    assert_string_equal(p->h.target, "/?q=1");
}

static void test_host(void **st)
{
    (void)st;
    expect_refused("GET / HTTP/1.1\r\n\r\n", 400);
    expect_refused("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400);
}

static void test_field_syntax(void **st)
{
    (void)st;
    expect_refused(GET_HOST "Content-Length : 38\r\n\r\n", 400); /* space before the colon */
    expect_refused(GET_HOST "Content-Length\t: 38\r\n\r\n", 400);
    expect_refused(GET_HOST "X-A: 1\r\n chunked\r\n\r\n", 400); /* obs-fold */
    expect_refused(GET_HOST "X-A: 1\r\n\tchunked\r\n\r\n", 400);
    expect_refused(GET_HOST ": value\r\n\r\n", 400);     /* empty name */
    expect_refused(GET_HOST "X(A): 1\r\n\r\n", 400);     /* not a token */
    expect_refused(GET_HOST "X-A: a\x01z\r\n\r\n", 400); /* control character */
    expect_refused(GET_HOST "X-A: a\x7fz\r\n\r\n", 400); /* DEL */
    expect_refused(GET_HOST "X-A: a\rb\r\n\r\n", 400);   /* bare CR */
    expect_refused("GET / HTTP/1.1\nHost: a\n\n", 400);  /* bare LF */
    expect_refused(GET_HOST "X-A: 1\n\r\n", 400);
    parsed *p = parse(GET_HOST "X-Latin: caf\xe9\r\n\r\n"); /* obs-text is allowed */
    assert_int_equal(p->rc, 0);
}

static void test_nul_in_value(void **st)
{
    (void)st;
    /* NUL cannot go through parse(): build the buffer by hand */
    char buf[] = "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\0 38\r\n\r\n";
    size_t n = sizeof buf - 1, scan = 0;
    h1_field f[32];
    h1_head h;
    h1_error e;
    assert_int_equal(h1_head_end(buf, n, &scan), n);
    assert_int_equal(h1_parse_head(buf, n, &lim, f, &h, &e), -1);
    assert_int_equal(e.status, 400);
    char auth[] = "GET / HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer k\0anything\r\n\r\n";
    n = sizeof auth - 1;
    scan = 0;
    assert_int_equal(h1_head_end(auth, n, &scan), n);
    assert_int_equal(h1_parse_head(auth, n, &lim, f, &h, &e), -1);
    assert_int_equal(e.status, 400);
}

static void test_content_length(void **st)
{
    (void)st;
    parsed *p = parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 38\r\n\r\n");
    assert_int_equal(p->rc, 0);
    assert_int_equal(p->h.framing, H1_BODY_LENGTH);
    assert_int_equal(p->h.content_length, 38);
    p = parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 38, 38\r\nContent-Length: 38\r\n\r\n");
    assert_int_equal(p->rc, 0); /* identical values are one value (RFC 9110 8.6) */
    assert_int_equal(p->h.content_length, 38);
    p = parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n");
    assert_int_equal(p->rc, 0);
    assert_int_equal(p->h.framing, H1_BODY_NONE);
    const char *bad[] = {"38, 39",
                         "1 38",
                         "+5",
                         "-1",
                         "0x10",
                         "",
                         "3.0",
                         "38,",
                         "9223372036854775808",
                         "99999999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[256];
        snprintf(text, sizeof text, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: %s\r\n\r\n",
                 bad[i]);
        expect_refused(text, 400);
    }
    expect_refused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
                   400);
    p = parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775807\r\n\r\n");
    assert_int_equal(p->rc, 0);
}

static void test_transfer_encoding(void **st)
{
    (void)st;
    parsed *p = parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n");
    assert_int_equal(p->rc, 0);
    assert_int_equal(p->h.framing, H1_BODY_CHUNKED);
    expect_refused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n",
                   400);
    expect_refused("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                   "Content-Length: 5\r\n\r\n",
                   400);
    const char *unsupported[] = {"xchunked", "identity", "gzip, chunked", "gzip"};
    for (size_t i = 0; i < 4; i++) {
        char text[256];
        snprintf(text, sizeof text, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: %s\r\n\r\n",
                 unsupported[i]);
        expect_refused(text, 501);
    }
    const char *malformed[] = {"chunked, identity", "chunked;q=1", "chunked, chunked", ",", ""};
    for (size_t i = 0; i < 5; i++) {
        char text[256];
        snprintf(text, sizeof text, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: %s\r\n\r\n",
                 malformed[i]);
        expect_refused(text, 400);
    }
    expect_refused("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n",
                   400);
    expect_refused("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400);
}

static void test_connection_expect(void **st)
{
    (void)st;
    parsed *p = parse(GET_HOST "Connection: keep-alive, Close\r\n\r\n");
    assert_int_equal(p->rc, 0);
    assert_false(p->h.keep_alive);
    p = parse(GET_HOST "Expect: 100-Continue\r\n\r\n");
    assert_int_equal(p->rc, 0);
    assert_true(p->h.expect_continue);
    expect_refused(GET_HOST "Expect: 200-ok\r\n\r\n", 417);
}

static void test_limits(void **st)
{
    (void)st;
    char text[16384];
    int n = snprintf(text, sizeof text, "GET /");
    while (n < 1100)
        text[n++] = 'a';
    n += snprintf(text + n, sizeof text - (size_t)n, " HTTP/1.1\r\nHost: a\r\n\r\n");
    expect_refused(text, 414);
    n = snprintf(text, sizeof text, GET_HOST);
    for (int i = 0; i < 40; i++)
        n += snprintf(text + n, sizeof text - (size_t)n, "X-%d: v\r\n", i);
    snprintf(text + n, sizeof text - (size_t)n, "\r\n");
    expect_refused(text, 431);
    /* no end yet, already too big */
    h1_error e;
    memset(text, 'a', sizeof text);
    memcpy(text, "GET /", 5);
    assert_int_equal(h1_head_too_big(text, 2000, &lim, &e), 1);
    assert_int_equal(e.status, 414);
    memcpy(text, "GET / HTTP/1.1\r\nX: ", 19);
    assert_int_equal(h1_head_too_big(text, 8193, &lim, &e), 1);
    assert_int_equal(e.status, 431);
    assert_int_equal(h1_head_too_big(text, 8000, &lim, &e), 0);
}

static void test_head_end_incremental(void **st)
{
    (void)st;
    const char *t = "GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n\r\nBODY";
    size_t full = strlen(t) - 4, scan = 0;
    for (size_t n = 1; n <= strlen(t); n++) {
        size_t end = h1_head_end(t, n, &scan);
        assert_int_equal(end, n < full ? 0 : full);
        if (end)
            break;
    }
    assert_int_equal(h1_skip_empty_lines("\r\n\r\nGET", 7), 4);
    assert_int_equal(h1_skip_empty_lines("\r", 1), 0);
    scan = 0;
    assert_int_equal(h1_head_end("GET / HTTP/1.1\n\nx", 17, &scan), 16); /* found, then refused */
}

/* ---- chunked ---- */

typedef struct decoded {
    char data[65536];
    size_t len;
    int rc;
    size_t consumed;
    const char *error;
} decoded;

/* Feeds in[0..n) in pieces of step bytes (0: all at once). */
static decoded *decode(const char *in, size_t n, size_t step)
{
    static decoded d;
    memset(&d, 0, sizeof d);
    h1_chunked c;
    h1_chunked_init(&c);
    size_t off = 0;
    d.rc = H1C_NEED;
    while (off < n && d.rc != H1C_DONE && d.rc != H1C_ERROR) {
        size_t piece = step && n - off > step ? step : n - off;
        size_t pos = 0;
        while (pos < piece) {
            const char *data;
            size_t dl, used;
            d.rc = h1_chunked_feed(&c, in + off + pos, piece - pos, &used, &data, &dl);
            pos += used;
            if (d.rc == H1C_DATA) {
                memcpy(d.data + d.len, data, dl);
                d.len += dl;
            } else if (d.rc != H1C_NEED) {
                break;
            }
        }
        off += pos;
    }
    d.consumed = off;
    d.error = c.error;
    return &d;
}

static void expect_chunked(const char *in, const char *body, size_t tail)
{
    size_t n = strlen(in);
    for (size_t step = 0; step <= 3; step++) {
        decoded *d = decode(in, n, step);
        if (d->rc != H1C_DONE)
            fail_msg("not done (rc %d, %s) for %s with step %zu", d->rc, d->error ? d->error : "-",
                     in, step);
        assert_int_equal(d->len, strlen(body));
        assert_memory_equal(d->data, body, d->len);
        assert_int_equal(d->consumed, n - tail);
    }
}

static void expect_chunked_error(const char *in)
{
    for (size_t step = 0; step <= 2; step++) {
        decoded *d = decode(in, strlen(in), step);
        if (d->rc != H1C_ERROR)
            fail_msg("accepted (rc %d) %s with step %zu", d->rc, in, step);
        assert_non_null(d->error);
    }
}

static void test_chunked_good(void **st)
{
    (void)st;
    expect_chunked("5\r\nhello\r\n0\r\n\r\n", "hello", 0);
    expect_chunked("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\nGET / HTTP/1.1\r\n", "hello world", 16);
    expect_chunked("A;ext=1;b=\"q\"\r\n0123456789\r\n0\r\n\r\n", "0123456789", 0);
    expect_chunked("5 ;x\r\nhello\r\n0\r\nTrailer: v\r\nX: y\r\n\r\n", "hello", 0);
    expect_chunked("0\r\n\r\n", "", 0);
    expect_chunked("00005\r\nhello\r\n000\r\n\r\n", "hello", 0);
}

static void test_chunked_bad(void **st)
{
    (void)st;
    expect_chunked_error("\r\nhello\r\n0\r\n\r\n");   /* no size */
    expect_chunked_error("g\r\nhello\r\n0\r\n\r\n");  /* not hex */
    expect_chunked_error("5\nhello\r\n0\r\n\r\n");    /* bare LF */
    expect_chunked_error("5\r\nhelloX\r\n0\r\n\r\n"); /* data longer than its size */
    expect_chunked_error("5\r\nhello\n0\r\n\r\n");
    expect_chunked_error("1 2\r\nh\r\n"); /* whitespace inside the size */
    expect_chunked_error("-5\r\nhello\r\n");
    expect_chunked_error("1000000000000000\r\n");         /* 16 hex digits: too large */
    expect_chunked_error("5;\x01\r\nhello\r\n0\r\n\r\n"); /* control character in an extension */
    expect_chunked_error("0\r\nX: a\nY\r\n\r\n");         /* bare LF in a trailer */
    static char longext[80000];
    memset(longext, 'a', sizeof longext);
    memcpy(longext, "5;", 2);
    memcpy(longext + sizeof longext - 14, "\r\nhello\r\n0\r\n\r", 14);
    longext[sizeof longext - 1] = '\0';
    expect_chunked_error(longext); /* a 70 000-byte extension */
    static char trailers[20000];
    size_t n = (size_t)snprintf(trailers, sizeof trailers, "0\r\n");
    while (n < sizeof trailers - 64)
        n += (size_t)snprintf(trailers + n, sizeof trailers - n, "X-T: vvvvvvvv\r\n");
    snprintf(trailers + n, sizeof trailers - n, "\r\n");
    expect_chunked_error(trailers);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple_get),           cmocka_unit_test(test_versions),
        cmocka_unit_test(test_request_line),         cmocka_unit_test(test_host),
        cmocka_unit_test(test_field_syntax),         cmocka_unit_test(test_nul_in_value),
        cmocka_unit_test(test_content_length),       cmocka_unit_test(test_transfer_encoding),
        cmocka_unit_test(test_connection_expect),    cmocka_unit_test(test_limits),
        cmocka_unit_test(test_head_end_incremental), cmocka_unit_test(test_chunked_good),
        cmocka_unit_test(test_chunked_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
