/*
 * Unit tests for the streaming multipart/form-data parser (src/server/http/multipart.c).
 *
 * Every sample body is parsed whole, byte by byte and split at every position, and the event
 * logs must be identical: chunking may change how content is handed out but never what.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server/http/multipart.h"

/* ---- recorder ---------------------------------------------------------------------------- */

typedef struct rec {
    char log[16384];
    size_t len;
    int in_part;
    unsigned parts;
    unsigned data_calls;
    size_t data_bytes;
    char abort_on; /* 'B', 'D' or 'E': that callback returns abort_rc */
    int abort_rc;
    const char *buf_lo, *buf_hi; /* when set, data must point into [lo, hi) and is not logged */
} rec;

static void rec_put(rec *r, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char tmp[8];
        size_t k = 1;
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            tmp[0] = (char)c;
        } else {
            k = (size_t)snprintf(tmp, sizeof(tmp), "\\x%02x", c);
        }
        assert_true(r->len + k < sizeof(r->log));
        memcpy(r->log + r->len, tmp, k);
        r->len += k;
        r->log[r->len] = '\0';
    }
}

static void rec_puts(rec *r, const char *s)
{
    size_t n = strlen(s);
    assert_true(r->len + n < sizeof(r->log));
    memcpy(r->log + r->len, s, n + 1);
    r->len += n;
}

static int on_begin(const mp_part_info *info, void *ud)
{
    rec *r = ud;
    assert_false(r->in_part);
    assert_non_null(info->name);
    assert_int_equal(strlen(info->name), info->name_len);
    r->in_part = 1;
    r->parts++;
    rec_puts(r, "<");
    rec_put(r, info->name, info->name_len);
    rec_puts(r, "|");
    if (info->filename != NULL)
        rec_put(r, info->filename, info->filename_len);
    else
        rec_puts(r, "(null)");
    rec_puts(r, "|");
    rec_puts(r, info->content_type ? info->content_type : "(null)");
    rec_puts(r, ">");
    return r->abort_on == 'B' ? r->abort_rc : 0;
}

static int on_data(const char *data, size_t len, void *ud)
{
    rec *r = ud;
    assert_true(r->in_part);
    assert_true(len > 0);
    if (r->buf_lo != NULL) {
        assert_true(data >= r->buf_lo && data + len <= r->buf_hi);
    }
    r->data_calls++;
    r->data_bytes += len;
    if (r->buf_lo == NULL)
        rec_put(r, data, len);
    return r->abort_on == 'D' ? r->abort_rc : 0;
}

static int on_end(void *ud)
{
    rec *r = ud;
    assert_true(r->in_part);
    r->in_part = 0;
    rec_puts(r, "</>");
    return r->abort_on == 'E' ? r->abort_rc : 0;
}

static const mp_callbacks CB = {on_begin, on_data, on_end};

/* Parses body fed in chunks of `chunk` bytes (0: all at once); returns the first error of
 * feed or finish and the error message through msg. */
static int parse_ex(rec *r,
                    const char *boundary,
                    const char *body,
                    size_t len,
                    size_t chunk,
                    const mp_limits *lim,
                    const char **msg)
{
    mp_parser *p = NULL;
    memset(r, 0, sizeof(*r));
    assert_int_equal(mp_parser_new(&p, boundary, lim, &CB, r), MP_OK);
    int rc = MP_OK;
    size_t step = chunk ? chunk : (len ? len : 1);
    for (size_t pos = 0; pos < len && rc == MP_OK; pos += step) {
        size_t n = len - pos < step ? len - pos : step;
        rc = mp_parser_feed(p, body + pos, n);
    }
    if (rc == MP_OK)
        rc = mp_parser_finish(p);
    if (rc != MP_OK) {
        /* Errors are sticky. */
        assert_int_equal(mp_parser_feed(p, "x", 1), rc);
        assert_int_equal(mp_parser_finish(p), rc);
    }
    static char msgbuf[256];
    (void)snprintf(msgbuf, sizeof(msgbuf), "%s", mp_parser_errmsg(p));
    if (msg != NULL)
        *msg = msgbuf;
    mp_parser_free(p);
    return rc;
}

/* Parses whole, byte by byte, in every two-piece split and in a few odd chunk sizes; all must
 * give the same result and log. Returns the result; the log of the whole parse goes to out. */
static int parse_all_ways(
    rec *out, const char *boundary, const char *body, size_t len, const mp_limits *lim)
{
    static rec other;
    int rc = parse_ex(out, boundary, body, len, 0, lim, NULL);
    size_t chunks[] = {1, 2, 3, 7, 64};
    for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
        int rc2 = parse_ex(&other, boundary, body, len, chunks[i], lim, NULL);
        assert_int_equal(rc2, rc);
        assert_string_equal(other.log, out->log);
    }
    for (size_t cut = 1; cut < len; cut++) {
        mp_parser *p = NULL;
        memset(&other, 0, sizeof(other));
        assert_int_equal(mp_parser_new(&p, boundary, lim, &CB, &other), MP_OK);
        int rc2 = mp_parser_feed(p, body, cut);
        if (rc2 == MP_OK)
            rc2 = mp_parser_feed(p, body + cut, len - cut);
        if (rc2 == MP_OK)
            rc2 = mp_parser_finish(p);
        mp_parser_free(p);
        assert_int_equal(rc2, rc);
        assert_string_equal(other.log, out->log);
    }
    return rc;
}

static int parse_str_all_ways(rec *out, const char *boundary, const char *body)
{
    return parse_all_ways(out, boundary, body, strlen(body), NULL);
}

/* ---- client styles ----------------------------------------------------------------------- */

static void test_curl_style(void **state)
{
    (void)state;
    static rec r;
    const char *b = "------------------------d74496d66958873e";
    const char *body = "--------------------------d74496d66958873e\r\n"
                       "Content-Disposition: form-data; name=\"purpose\"\r\n"
                       "\r\n"
                       "assistants\r\n"
                       "--------------------------d74496d66958873e\r\n"
                       "Content-Disposition: form-data; name=\"file\"; filename=\"data.jsonl\"\r\n"
                       "Content-Type: application/octet-stream\r\n"
                       "\r\n"
                       "{\"a\":1}\n{\"b\":2}\n\r\n"
                       "--------------------------d74496d66958873e--\r\n";
    assert_int_equal(parse_str_all_ways(&r, b, body), MP_OK);
    assert_string_equal(r.log, "<purpose|(null)|(null)>assistants</>"
                               "<file|data.jsonl|application/octet-stream>"
                               "{\"a\":1}\\x0a{\"b\":2}\\x0a</>");
    assert_int_equal(r.parts, 2);
}

static void test_httpx_style(void **state)
{
    (void)state;
    static rec r;
    const char *b = "8b8a4a2b8bb24a0ba2f3e61e9cd3a5a7";
    const char *body = "--8b8a4a2b8bb24a0ba2f3e61e9cd3a5a7\r\n"
                       "Content-Disposition: form-data; name=\"purpose\"\r\n\r\n"
                       "batch\r\n"
                       "--8b8a4a2b8bb24a0ba2f3e61e9cd3a5a7\r\n"
                       "Content-Disposition: form-data; name=\"expires_after[anchor]\"\r\n\r\n"
                       "created_at\r\n"
                       "--8b8a4a2b8bb24a0ba2f3e61e9cd3a5a7\r\n"
                       "Content-Disposition: form-data; name=\"file\"; filename=\"in.jsonl\"\r\n"
                       "Content-Type: application/jsonl\r\n\r\n"
                       "line1\r\nline2\r\n"
                       "\r\n--8b8a4a2b8bb24a0ba2f3e61e9cd3a5a7--\r\n";
    assert_int_equal(parse_str_all_ways(&r, b, body), MP_OK);
    assert_string_equal(r.log,
                        "<purpose|(null)|(null)>batch</>"
                        "<expires_after[anchor]|(null)|(null)>created_at</>"
                        "<file|in.jsonl|application/jsonl>line1\\x0d\\x0aline2\\x0d\\x0a</>");
}

static void test_undici_style(void **state)
{
    (void)state;
    static rec r;
    const char *b = "----formdata-undici-034787411285";
    const char *body = "------formdata-undici-034787411285\r\n"
                       "Content-Disposition: form-data; name=\"file\"; filename=\"a%22b.txt\"\r\n"
                       "Content-Type: text/plain\r\n\r\n"
                       "hello\r\n"
                       "------formdata-undici-034787411285\r\n"
                       "Content-Disposition: form-data; name=\"purpose\"\r\n\r\n"
                       "user_data\r\n"
                       "------formdata-undici-034787411285--";
    assert_int_equal(parse_str_all_ways(&r, b, body), MP_OK);
    assert_string_equal(r.log,
                        "<file|a%22b.txt|text/plain>hello</><purpose|(null)|(null)>user_data</>");
}

static void test_dotnet_style(void **state)
{
    (void)state;
    static rec r;
    char b[MP_BOUNDARY_MAX + 1];
    assert_int_equal(mp_boundary_from_content_type(
                         "multipart/form-data; "
                         "boundary=\"Gvg=u2QyHvnRTVbssPgaFS3ZGmB=mvYbztNuEi6P60UUc1Uc6mJ2wL66VnoT_"
                         "Y57pTn04d\"",
                         b),
                     MP_OK);
    assert_string_equal(b,
                        "Gvg=u2QyHvnRTVbssPgaFS3ZGmB=mvYbztNuEi6P60UUc1Uc6mJ2wL66VnoT_Y57pTn04d");
    char body[2048];
    (void)snprintf(body, sizeof(body),
                   "--%s\r\n"
                   "Content-Type: text/plain\r\n"
                   "Content-Disposition: form-data; name=file; filename=test.txt; "
                   "filename*=utf-8''%%E4%%BD%%A0%%E5%%A5%%BD.txt\r\n\r\n"
                   "file body\r\n"
                   "--%s\r\n"
                   "Content-Type: application/json; charset=utf-8\r\n"
                   "Content-Disposition: form-data; name=expires_after\r\n\r\n"
                   "{\"anchor\":\"created_at\",\"seconds\":3600}\r\n"
                   "--%s\r\n"
                   "Content-Type: text/plain; charset=utf-8\r\n"
                   "Content-Disposition: form-data; name=purpose\r\n\r\n"
                   "assistants\r\n"
                   "--%s--\r\n",
                   b, b, b, b);
    assert_int_equal(parse_str_all_ways(&r, b, body), MP_OK);
    assert_string_equal(r.log, "<file|\\xe4\\xbd\\xa0\\xe5\\xa5\\xbd.txt|text/plain>file body</>"
                               "<expires_after|(null)|application/json; charset=utf-8>"
                               "{\"anchor\":\"created_at\",\"seconds\":3600}</>"
                               "<purpose|(null)|text/plain; charset=utf-8>assistants</>");
}

static void test_field_orders(void **state)
{
    (void)state;
    static rec r;
    /* Parameters in any order, headers in any order, header names in any case. */
    const char *variants[] = {
        "Content-Disposition: form-data; name=\"f\"; filename=\"x.bin\"\r\nContent-Type: a/b\r\n",
        "Content-Disposition: form-data; filename=\"x.bin\"; name=\"f\"\r\nContent-Type: a/b\r\n",
        "Content-Type: a/b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x.bin\"\r\n",
        "content-type: a/b\r\ncontent-disposition: FORM-DATA; NAME=\"f\"; FILENAME=\"x.bin\"\r\n",
        "CONTENT-TYPE:a/b\r\nX-Other: 1\r\nContent-Disposition:form-data;filename=x.bin;name=f\r\n",
        ("Content-Disposition: form-data ; name = \"f\" ; filename = x.bin ;\r\n"
         "Content-Type: a/b \r\n"),
    };
    for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
        char body[512];
        (void)snprintf(body, sizeof(body), "--B\r\n%s\r\nDATA\r\n--B--", variants[i]);
        assert_int_equal(parse_str_all_ways(&r, "B", body), MP_OK);
        assert_string_equal(r.log, "<f|x.bin|a/b>DATA</>");
    }
    /* Data fields after the file, file first. */
    assert_int_equal(parse_str_all_ways(&r, "B",
                                        "--B\r\nContent-Disposition: form-data; name=file; "
                                        "filename=a\r\n\r\n1\r\n--B\r\nContent-Disposition: "
                                        "form-data; name=purpose\r\n\r\n2\r\n--B--"),
                     MP_OK);
    assert_string_equal(r.log, "<file|a|(null)>1</><purpose|(null)|(null)>2</>");
}

/* ---- filename and filename* -------------------------------------------------------------- */

static int one_part(rec *r, const char *cd, const char **msg)
{
    char body[1024];
    (void)snprintf(body, sizeof(body), "--B\r\nContent-Disposition: %s\r\n\r\nx\r\n--B--\r\n", cd);
    return parse_ex(r, "B", body, strlen(body), 0, NULL, msg);
}

static void test_filename_star(void **state)
{
    (void)state;
    static rec r;
    const char *msg;
    struct {
        const char *cd;
        const char *log;
    } ok[] = {
        {"form-data; name=f; filename=\"a.txt\"; filename*=UTF-8''b.txt", "<f|b.txt|(null)>x</>"},
        {"form-data; name=f; filename*=UTF-8''b.txt; filename=\"a.txt\"", "<f|b.txt|(null)>x</>"},
        {"form-data; name=f; filename*=utf-8''%e2%82%ac%20x", "<f|\\xe2\\x82\\xac x|(null)>x</>"},
        {"form-data; name=f; filename*=utf-8'en'a", "<f|a|(null)>x</>"},
        {"form-data; name=f; filename*=\"utf-8''q%41\"", "<f|qA|(null)>x</>"},
        {"form-data; name=f; filename*=iso-8859-1''caf%E9.txt", "<f|caf\\xc3\\xa9.txt|(null)>x</>"},
        {"form-data; name=f; filename*=ISO-8859-1''%41%FF", "<f|A\\xc3\\xbf|(null)>x</>"},
        {"form-data; name=f; filename*=us-ascii''plain", "<f|plain|(null)>x</>"},
        {"form-data; name=f; filename*=utf-8''a%00b", "<f|a\\x00b|(null)>x</>"},
        {"form-data; name=f; filename*=utf-8''", "<f||(null)>x</>"},
        {"form-data; name=f; filename=\"\"", "<f||(null)>x</>"},
        {"form-data; name=f; filename=\"C:\\dir\\f.txt\"", "<f|C:\\x5cdir\\x5cf.txt|(null)>x</>"},
        {"form-data; name=\"a\\\"b\"; filename=\"q\\\\z\"", "<a\"b|q\\x5cz|(null)>x</>"},
        {"form-data; name=\"\"", "<|(null)|(null)>x</>"},
        {"form-data; name=\"a;b=c\"; other=\"x;y\"; z=1", "<a;b=c|(null)|(null)>x</>"},
        {"form-data; name=\"\xe4\xbd\xa0\"; filename=\"\xe5\xa5\xbd\"",
         "<\\xe4\\xbd\\xa0|\\xe5\\xa5\\xbd|(null)>x</>"},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        assert_int_equal(one_part(&r, ok[i].cd, &msg), MP_OK);
        assert_string_equal(r.log, ok[i].log);
    }
    const char *bad[] = {
        "form-data; name=f; filename*=koi8-r''x",
        "form-data; name=f; filename*=''x",
        "form-data; name=f; filename*=utf-8'x",
        "form-data; name=f; filename*=utf-8''%4",
        "form-data; name=f; filename*=utf-8''%zz",
        "form-data; name=f; filename*=iso-8859-1''caf\xe9",
        "form-data; name=f; filename*=utf-8''a; filename*=utf-8''b",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(one_part(&r, bad[i], &msg), MP_E_SYNTAX);
        assert_int_equal(r.parts, 0);
    }
    assert_int_equal(one_part(&r, "form-data; name=f; filename*=koi8-r''x", &msg), MP_E_SYNTAX);
    assert_string_equal(msg, "Malformed multipart body: filename* charset must be UTF-8 or "
                             "ISO-8859-1.");
}

static void test_filename_len_with_nul(void **state)
{
    (void)state;
    static rec r;
    assert_int_equal(one_part(&r, "form-data; name=f; filename*=utf-8''%00%00", NULL), MP_OK);
    assert_string_equal(r.log, "<f|\\x00\\x00|(null)>x</>");
}

static void test_name_with_nul(void **state)
{
    (void)state;
    static rec r;
    const char body[] = "--B\r\nContent-Disposition: form-data; name=\"a\0b\"\r\n\r\nx\r\n--B--";
    const char *msg;
    assert_int_equal(parse_all_ways(&r, "B", body, sizeof(body) - 1, NULL), MP_E_SYNTAX);
    assert_int_equal(parse_ex(&r, "B", body, sizeof(body) - 1, 0, NULL, &msg), MP_E_SYNTAX);
    assert_string_equal(msg, "Malformed multipart body: part headers contain a control character.");
    assert_int_equal(r.parts, 0);
}

/* ---- content framing --------------------------------------------------------------------- */

static void test_boundary_like_content(void **state)
{
    (void)state;
    static rec r;
    const char *body = "--bnd\r\nContent-Disposition: form-data; name=f; filename=a\r\n\r\n"
                       "a\r\n--bnd_\r\n--bndx--\r\n--bn\r\n--b\r\n-\r\n\r\r\n\r--bnd--bnd"
                       "\r\n--bnd\r\nContent-Disposition: form-data; name=g\r\n\r\n"
                       "\r\n--bn"
                       "\r\n--bnd--";
    /* "--bnd_" and "--bndx" would be delimiters, so the test uses prefixes only. */
    const char *body2 = "--bnd\r\nContent-Disposition: form-data; name=f; filename=a\r\n\r\n"
                        "a\r\n--bn\r\n--b\r\n-\r\n\r\r\n\r--bnd--bnd\r"
                        "\r\n--bnd\r\nContent-Disposition: form-data; name=g\r\n\r\n"
                        "\r\n--bn"
                        "\r\n--bnd--";
    const char *msg;
    assert_int_equal(parse_ex(&r, "bnd", body, strlen(body), 0, NULL, &msg), MP_E_SYNTAX);
    assert_string_equal(msg,
                        "Malformed multipart body: a boundary must be followed by CRLF or \"--\".");
    assert_int_equal(parse_str_all_ways(&r, "bnd", body2), MP_OK);
    assert_string_equal(r.log, "<f|a|(null)>a\\x0d\\x0a--bn\\x0d\\x0a--b\\x0d\\x0a-\\x0d\\x0a\\x0d"
                               "\\x0d\\x0a\\x0d--bnd--bnd\\x0d</>"
                               "<g|(null)|(null)>\\x0d\\x0a--bn</>");
}

static void test_empty_parts(void **state)
{
    (void)state;
    static rec r;
    assert_int_equal(parse_str_all_ways(&r, "X",
                                        "--X\r\nContent-Disposition: form-data; name=file; "
                                        "filename=empty.txt\r\n\r\n\r\n--X\r\n"
                                        "Content-Disposition: form-data; name=e\r\n\r\n\r\n--X--"),
                     MP_OK);
    assert_string_equal(r.log, "<file|empty.txt|(null)></><e|(null)|(null)></>");
    assert_int_equal(r.data_calls, 0);
    /* A body with no parts at all is well-formed. */
    assert_int_equal(parse_str_all_ways(&r, "X", "--X--"), MP_OK);
    assert_string_equal(r.log, "");
}

static void test_preamble_padding_epilogue(void **state)
{
    (void)state;
    static rec r;
    assert_int_equal(parse_str_all_ways(&r, "X",
                                        "This is a preamble.\r\n--X-not-it\r\n"
                                        "\r\n--X \t \r\nContent-Disposition: form-data; name=a\r\n"
                                        "\r\n1\r\n--X\t\r\nContent-Disposition: form-data; "
                                        "name=b\r\n\r\n2\r\n--X--  \r\nepilogue\r\n--X\r\nzz"),
                     MP_E_SYNTAX);
    /* "--X-not-it" after a CRLF is a delimiter followed by garbage: refused. */
    assert_int_equal(parse_str_all_ways(&r, "X",
                                        "This is a preamble.\r\n--Y\r\n--X \t \r\n"
                                        "Content-Disposition: form-data; name=a\r\n"
                                        "\r\n1\r\n--X\t\r\nContent-Disposition: form-data; "
                                        "name=b\r\n\r\n2\r\n--X--  \r\nepilogue\r\n--X\r\nzz"),
                     MP_OK);
    assert_string_equal(r.log, "<a|(null)|(null)>1</><b|(null)|(null)>2</>");
    /* The first boundary at offset 0 needs no CRLF, but elsewhere it does. */
    assert_int_equal(parse_str_all_ways(&r, "X", "junk--X\r\n"), MP_E_TRUNCATED);
    assert_int_equal(parse_str_all_ways(&r, "X", "\r\n--X--"), MP_OK);
}

static void test_longest_runs(void **state)
{
    (void)state;
    static rec r;
    size_t n = 1u << 20;
    const char *head = "--Q\r\nContent-Disposition: form-data; name=file; filename=big\r\n\r\n";
    const char *tail = "\r\n--Q--\r\n";
    size_t hl = strlen(head), tl = strlen(tail);
    char *body = malloc(hl + n + tl);
    assert_non_null(body);
    memcpy(body, head, hl); /* NOLINT(bugprone-not-null-terminated-result) */
    for (size_t i = 0; i < n; i++)
        body[hl + i] = (char)((i * 7919u) >> 3); /* includes CR, LF and '-' bytes */
    memcpy(body + hl + n, tail, tl);             /* NOLINT(bugprone-not-null-terminated-result) */
    mp_parser *p;
    memset(&r, 0, sizeof(r));
    r.buf_lo = body;
    r.buf_hi = body + hl + n + tl;
    assert_int_equal(mp_parser_new(&p, "Q", NULL, &CB, &r), MP_OK);
    assert_int_equal(mp_parser_feed(p, body, hl + n + tl), MP_OK);
    assert_int_equal(mp_parser_finish(p), MP_OK);
    mp_parser_free(p);
    assert_int_equal(r.data_calls, 1);
    assert_int_equal(r.data_bytes, n);
    /* In 4 KiB chunks: at most one call per chunk, plus one for held-back bytes. */
    memset(&r, 0, sizeof(r));
    r.buf_lo = body;
    r.buf_hi = body + hl + n + tl;
    assert_int_equal(mp_parser_new(&p, "Q", NULL, &CB, &r), MP_OK);
    size_t total = hl + n + tl, feeds = 0;
    for (size_t pos = 0; pos < total; pos += 4096, feeds++)
        assert_int_equal(mp_parser_feed(p, body + pos, total - pos < 4096 ? total - pos : 4096),
                         MP_OK);
    assert_int_equal(mp_parser_finish(p), MP_OK);
    mp_parser_free(p);
    assert_true(r.data_calls <= feeds);
    assert_int_equal(r.data_bytes, n);
    free(body);
}

static void test_held_back_tail(void **state)
{
    (void)state;
    static rec r;
    mp_parser *p;
    memset(&r, 0, sizeof(r));
    assert_int_equal(mp_parser_new(&p, "bnd", NULL, &CB, &r), MP_OK);
    const char *h = "--bnd\r\nContent-Disposition: form-data; name=f\r\n\r\nabc\r\n--bn";
    assert_int_equal(mp_parser_feed(p, h, strlen(h)), MP_OK);
    /* "\r\n--bn" may be the start of a delimiter: held back. */
    assert_string_equal(r.log, "<f|(null)|(null)>abc");
    assert_int_equal(mp_parser_feed(p, "x", 1), MP_OK);
    assert_string_equal(r.log, "<f|(null)|(null)>abc\\x0d\\x0a--bnx");
    assert_int_equal(mp_parser_feed(p, "\r", 1), MP_OK);
    assert_int_equal(mp_parser_feed(p, "\r\n--bnd--", 9), MP_OK);
    assert_string_equal(r.log, "<f|(null)|(null)>abc\\x0d\\x0a--bnx\\x0d</>");
    assert_int_equal(mp_parser_feed(p, NULL, 0), MP_OK);
    assert_int_equal(mp_parser_finish(p), MP_OK);
    assert_int_equal(mp_parser_feed(p, "more epilogue", 13), MP_OK);
    assert_int_equal(mp_parser_cb_result(p), 0);
    assert_string_equal(mp_parser_errmsg(p), "No error.");
    mp_parser_free(p);
}

/* ---- errors ------------------------------------------------------------------------------ */

static void test_truncated(void **state)
{
    (void)state;
    static rec r;
    const char *msg;
    const char *bodies[] = {
        "--X\r\nContent-Disposition: form-data; name=a\r\n\r\nabc",
        "--X\r\nContent-Disposition: form-data; name=a\r\n\r\nabc\r\n--X",
        "--X\r\nContent-Disposition: form-data; name=a\r\n\r\nabc\r\n--X-",
        "--X\r\nContent-Disposition: form-data; name=a\r\n\r\nabc\r\n--X\r\n",
        "--X\r\nContent-Disposition: form-data; name=a\r\n",
        "--X\r\nContent-Disposition: form-data; name=a\r\n\r\nabc\r\n--X \r",
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        assert_int_equal(parse_str_all_ways(&r, "X", bodies[i]), MP_E_TRUNCATED);
        assert_int_equal(parse_ex(&r, "X", bodies[i], strlen(bodies[i]), 0, NULL, &msg),
                         MP_E_TRUNCATED);
        assert_string_equal(msg, "Multipart body is truncated: closing boundary not found.");
    }
    assert_int_equal(parse_ex(&r, "X", "", 0, 0, NULL, &msg), MP_E_TRUNCATED);
    assert_string_equal(msg, "Multipart body is truncated: no boundary found.");
    assert_int_equal(parse_ex(&r, "X", "--Y--", 5, 0, NULL, &msg), MP_E_TRUNCATED);
}

static void test_syntax_errors(void **state)
{
    (void)state;
    static rec r;
    struct {
        const char *body;
        const char *msg;
    } bad[] = {
        {"--X\nContent-Disposition: form-data; name=a\r\n\r\n\r\n--X--", "followed by CRLF"},
        {"--X\r\nContent-Disposition: form-data; name=a\n\r\n\r\n--X--", "end with CRLF"},
        {"--X\r\nContent-Disposition: form-data; name=a\r\n\n\r\n--X--", "end with CRLF"},
        {"--X\r\nContent-Disposition: form-data;\r name=a\r\n\r\n\r\n--X--", "end with CRLF"},
        {"--X\r\nContent-Disposition: form-data;\r\n name=a\r\n\r\n\r\n--X--", "folded"},
        {"--X\r\nContent-Disposition: form-data; name=a\r\n\tX: y\r\n\r\n\r\n--X--", "folded"},
        {"--X\r\nContent-Disposition: form-data; name=\"a\x01\"\r\n\r\n\r\n--X--", "control"},
        {"--X\r\nContent-Disposition: form-data; name=\"a\x7f\"\r\n\r\n\r\n--X--", "control"},
        {"--X\r\nContent-Disposition form-data; name=a\r\n\r\n\r\n--X--", "invalid part header"},
        {"--X\r\nContent-Disposition : form-data; name=a\r\n\r\n\r\n--X--", "invalid part header"},
        {"--X\r\n: form-data; name=a\r\n\r\n\r\n--X--", "invalid part header"},
        {"--X\r\nContent-Disposition: form-data; name=a\r\nContent-Disposition: form-data; "
         "name=b\r\n\r\n\r\n--X--",
         "duplicate"},
        {"--X\r\nContent-Type: a\r\nContent-Type: b\r\nContent-Disposition: form-data; "
         "name=b\r\n\r\n\r\n--X--",
         "duplicate"},
        {"--X\r\nContent-Disposition: attachment; name=a\r\n\r\n\r\n--X--", "must be form-data"},
        {"--X\r\nContent-Disposition: form-data\r\n\r\n\r\n--X--", "no Content-Disposition"},
        {"--X\r\nContent-Disposition: form-data; filename=a\r\n\r\n\r\n--X--",
         "no Content-Disposition"},
        {"--X\r\nContent-Type: text/plain\r\n\r\n\r\n--X--", "no Content-Disposition"},
        {"--X\r\n\r\n\r\n--X--", "no Content-Disposition"},
        {"--X\r\nContent-Disposition: form-data; name=\r\n\r\n\r\n--X--", "Content-Disposition"},
        {"--X\r\nContent-Disposition: form-data; name=\"a\r\n\r\n\r\n--X--", "Content-Disp"},
        {"--X\r\nContent-Disposition: form-data; name\r\n\r\n\r\n--X--", "Content-Disposition"},
        {"--X\r\nContent-Disposition: form-data; name=a b\r\n\r\n\r\n--X--", "Content-Disp"},
        {"--X\r\nContent-Disposition: form-data; name=a; name=b\r\n\r\n\r\n--X--", "Content-Di"},
        {"--X\r\nContent-Disposition: form-data name=a\r\n\r\n\r\n--X--", "Content-Disposition"},
        {"--X\r\nContent-Disposition: form-data; name=a\r\n\r\nabc\r\n--Xyz\r\n", "followed by"},
        {"--X\r\nContent-Disposition: form-data; name=a\r\n\r\nabc\r\n--X-x", "followed by"},
        {"--X \r\r\n", "followed by CRLF"},
        {"--X\r\r\n", "followed by CRLF"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *msg;
        assert_int_equal(parse_str_all_ways(&r, "X", bad[i].body), MP_E_SYNTAX);
        assert_int_equal(parse_ex(&r, "X", bad[i].body, strlen(bad[i].body), 0, NULL, &msg),
                         MP_E_SYNTAX);
        if (strstr(msg, bad[i].msg) == NULL)
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, msg, bad[i].msg);
    }
}

static void test_garbage(void **state)
{
    (void)state;
    static rec r;
    char buf[4096];
    uint32_t x = 12345;
    for (int round = 0; round < 50; round++) {
        for (size_t i = 0; i < sizeof(buf); i++) {
            x = x * 1103515245u + 12345u;
            buf[i] = (char)(x >> 16);
        }
        /* Random bytes never contain the delimiter, so they are all preamble. */
        assert_int_equal(parse_ex(&r, "Zq9Zq9Zq9", buf, sizeof(buf), 0, NULL, NULL),
                         MP_E_TRUNCATED);
        assert_int_equal(r.parts, 0);
        /* After a valid start, random headers must fail cleanly in some way. */
        memcpy(buf, "--Zq9\r\n", 7); /* NOLINT(bugprone-not-null-terminated-result) */
        int rc = parse_ex(&r, "Zq9", buf, sizeof(buf), 0, NULL, NULL);
        assert_true(rc == MP_E_SYNTAX || rc == MP_E_HEADERS || rc == MP_E_TRUNCATED);
    }
}

static void test_header_limit(void **state)
{
    (void)state;
    static rec r;
    const char *body = "--X\r\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n--X--";
    size_t hdr = strlen("Content-Disposition: form-data; name=a\r\n\r\n");
    mp_limits lim = {hdr, 0};
    const char *msg;
    assert_int_equal(parse_all_ways(&r, "X", body, strlen(body), &lim), MP_OK);
    lim.max_header_bytes = hdr - 1;
    assert_int_equal(parse_all_ways(&r, "X", body, strlen(body), &lim), MP_E_HEADERS);
    assert_int_equal(parse_ex(&r, "X", body, strlen(body), 0, &lim, &msg), MP_E_HEADERS);
    assert_string_equal(msg, "Multipart part headers are too large.");
    /* The default limit is 16 KiB. */
    size_t big = 20000;
    char *b = malloc(big + 100);
    assert_non_null(b);
    strcpy(b, "--X\r\nContent-Disposition: form-data; name=a\r\nX-Pad: ");
    size_t n = strlen(b);
    memset(b + n, 'p', big);
    strcpy(b + n + big, "\r\n\r\nv\r\n--X--");
    assert_int_equal(parse_ex(&r, "X", b, strlen(b), 0, NULL, NULL), MP_E_HEADERS);
    lim.max_header_bytes = big + 200;
    assert_int_equal(parse_ex(&r, "X", b, strlen(b), 0, &lim, NULL), MP_OK);
    assert_string_equal(r.log, "<a|(null)|(null)>v</>");
    free(b);
}

static void test_part_limit(void **state)
{
    (void)state;
    static rec r;
    const char *part = "--X\r\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n";
    char body[8192] = "";
    mp_limits lim = {0, 3};
    const char *msg;
    for (int i = 0; i < 3; i++)
        strcat(body, part);
    strcat(body, "--X--");
    assert_int_equal(parse_ex(&r, "X", body, strlen(body), 0, &lim, NULL), MP_OK);
    assert_int_equal(r.parts, 3);
    body[strlen(body) - 5] = '\0';
    strcat(body, part);
    strcat(body, "--X--");
    assert_int_equal(parse_all_ways(&r, "X", body, strlen(body), &lim), MP_E_PARTS);
    assert_int_equal(parse_ex(&r, "X", body, strlen(body), 1, &lim, &msg), MP_E_PARTS);
    assert_string_equal(msg, "Multipart body has too many parts.");
    assert_int_equal(r.parts, 3);
    /* Default: 64 parts. */
    body[0] = '\0';
    for (int i = 0; i < 64; i++)
        strcat(body, part);
    strcat(body, "--X--");
    assert_int_equal(parse_ex(&r, "X", body, strlen(body), 0, NULL, NULL), MP_OK);
    body[strlen(body) - 5] = '\0';
    strcat(body, part);
    strcat(body, "--X--");
    assert_int_equal(parse_ex(&r, "X", body, strlen(body), 0, NULL, NULL), MP_E_PARTS);
}

static void test_transfer_encoding(void **state)
{
    (void)state;
    static rec r;
    const char *ok[] = {"binary", "8bit", "7BIT", " Binary "};
    const char *bad[] = {"base64", "quoted-printable", "", "binary2"};
    char body[512];
    const char *msg;
    for (size_t i = 0; i < 4; i++) {
        (void)snprintf(body, sizeof(body),
                       "--X\r\nContent-Disposition: form-data; name=a\r\n"
                       "Content-Transfer-Encoding:%s\r\n\r\nv\r\n--X--",
                       ok[i]);
        assert_int_equal(parse_str_all_ways(&r, "X", body), MP_OK);
        (void)snprintf(body, sizeof(body),
                       "--X\r\nContent-Disposition: form-data; name=a\r\n"
                       "Content-Transfer-Encoding: %s\r\n\r\ndg==\r\n--X--",
                       bad[i]);
        assert_int_equal(parse_str_all_ways(&r, "X", body), MP_E_UNSUPPORTED);
        assert_int_equal(parse_ex(&r, "X", body, strlen(body), 0, NULL, &msg), MP_E_UNSUPPORTED);
        assert_string_equal(msg, "Multipart Content-Transfer-Encoding is not supported; send "
                                 "parts as binary.");
        assert_int_equal(r.parts, 0);
    }
}

static void test_callback_abort(void **state)
{
    (void)state;
    static rec r;
    const char *body = "--X\r\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n--X--";
    const char which[] = {'B', 'D', 'E'};
    for (size_t i = 0; i < 3; i++) {
        mp_parser *p;
        memset(&r, 0, sizeof(r));
        r.abort_on = which[i];
        r.abort_rc = 42 + (int)i;
        assert_int_equal(mp_parser_new(&p, "X", NULL, &CB, &r), MP_OK);
        assert_int_equal(mp_parser_feed(p, body, strlen(body)), MP_E_CALLBACK);
        assert_int_equal(mp_parser_cb_result(p), 42 + (int)i);
        assert_string_equal(mp_parser_errmsg(p),
                            "Multipart upload was aborted while processing a part.");
        assert_int_equal(mp_parser_feed(p, body, strlen(body)), MP_E_CALLBACK);
        assert_int_equal(mp_parser_finish(p), MP_E_CALLBACK);
        mp_parser_free(p);
    }
    /* Negative values are passed back too. */
    memset(&r, 0, sizeof(r));
    r.abort_on = 'D';
    r.abort_rc = -9;
    mp_parser *p;
    assert_int_equal(mp_parser_new(&p, "X", NULL, &CB, &r), MP_OK);
    for (size_t i = 0; i < strlen(body); i++) {
        int rc = mp_parser_feed(p, body + i, 1);
        if (rc != MP_OK) {
            assert_int_equal(rc, MP_E_CALLBACK);
            break;
        }
    }
    assert_int_equal(mp_parser_cb_result(p), -9);
    mp_parser_free(p);
}

static void test_null_callbacks(void **state)
{
    (void)state;
    mp_parser *p;
    const char *body = "--X\r\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n--X--";
    assert_int_equal(mp_parser_new(&p, "X", NULL, NULL, NULL), MP_OK);
    assert_int_equal(mp_parser_feed(p, body, strlen(body)), MP_OK);
    assert_int_equal(mp_parser_finish(p), MP_OK);
    mp_parser_free(p);
    mp_callbacks only_data = {NULL, on_data, NULL};
    static rec r;
    memset(&r, 0, sizeof(r));
    r.in_part = 1;
    assert_int_equal(mp_parser_new(&p, "X", NULL, &only_data, &r), MP_OK);
    assert_int_equal(mp_parser_feed(p, body, strlen(body)), MP_OK);
    assert_int_equal(mp_parser_finish(p), MP_OK);
    assert_string_equal(r.log, "v");
    mp_parser_free(p);
    mp_parser_free(NULL);
}

static void test_parser_new(void **state)
{
    (void)state;
    mp_parser *p = (mp_parser *)&p;
    const char *bad[] = {
        "",    "a b ", "a@b",
        "a\r", "a\"b", "12345678901234567890123456789012345678901234567890123456789012345678901"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(mp_parser_new(&p, bad[i], NULL, NULL, NULL), MP_E_BOUNDARY);
        assert_null(p);
    }
    assert_int_equal(mp_parser_new(&p, NULL, NULL, NULL, NULL), MP_E_BOUNDARY);
    mp_limits huge = {SIZE_MAX, 1};
    assert_int_equal(mp_parser_new(&p, "x", &huge, NULL, NULL), MP_E_NOMEM);
    assert_null(p);
    const char *good = "1234567890123456789012345678901234567890123456789012345678901234567890";
    assert_int_equal(mp_parser_new(&p, good, NULL, NULL, NULL), MP_OK);
    mp_parser_free(p);
    assert_int_equal(mp_parser_new(&p, "'()+_,-./:=? x", NULL, NULL, NULL), MP_OK);
    mp_parser_free(p);
}

static void test_errmsg_all_codes(void **state)
{
    (void)state;
    const int codes[] = {MP_OK,         MP_E_SYNTAX,    MP_E_HEADERS,
                         MP_E_PARTS,    MP_E_TRUNCATED, MP_E_UNSUPPORTED,
                         MP_E_CALLBACK, MP_E_NOMEM,     MP_E_BOUNDARY};
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        const char *m = mp_strerror(codes[i]);
        assert_non_null(m);
        assert_true(strlen(m) > 5 && m[strlen(m) - 1] == '.');
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(m, mp_strerror(codes[j]));
    }
    assert_string_equal(mp_strerror(MP_E_TRUNCATED),
                        "Multipart body is truncated: closing boundary not found.");
    assert_string_equal(mp_strerror(MP_E_BOUNDARY), "Invalid or missing multipart boundary.");
    assert_string_equal(mp_strerror(12345), "Unknown multipart error.");
    assert_non_null(mp_parser_errmsg(NULL));
}

/* ---- mp_boundary_from_content_type ------------------------------------------------------- */

static void test_boundary_from_content_type(void **state)
{
    (void)state;
    char out[MP_BOUNDARY_MAX + 1];
    struct {
        const char *ct;
        const char *b;
    } ok[] = {
        {"multipart/form-data; boundary=abc", "abc"},
        {"multipart/form-data;boundary=abc", "abc"},
        {"Multipart/Form-Data; BOUNDARY=abc", "abc"},
        {"  multipart/form-data ;  boundary = \"a b=c\"  ", "a b=c"},
        {"multipart/form-data; charset=utf-8; boundary=x-y_z", "x-y_z"},
        {"multipart/form-data; boundary=\"x\"; charset=\"a;b\"", "x"},
        {"multipart/form-data; boundary=abc=def", "abc=def"},
        {"multipart/form-data; boundary=abc;", "abc"},
        {"multipart/form-data; ; boundary=abc", "abc"},
        {"multipart/form-data; boundary=\"'()+_,-./:=?\"", "'()+_,-./:=?"},
        {"multipart/form-data; "
         "boundary=\"Gvg=u2QyHvnRTVbssPgaFS3ZGmB=mvYbztNuEi6P60UUc1Uc6mJ2wL66Vn"
         "oT_Y57pTn04d\"",
         "Gvg=u2QyHvnRTVbssPgaFS3ZGmB=mvYbztNuEi6P60UUc1Uc6mJ2wL66VnoT_Y57pTn04d"},
        {"multipart/form-data; boundary="
         "1234567890123456789012345678901234567890123456789012345678901234567890",
         "1234567890123456789012345678901234567890123456789012345678901234567890"},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        memset(out, 'z', sizeof(out));
        if (mp_boundary_from_content_type(ok[i].ct, out) != MP_OK)
            fail_msg("case %zu: %s refused", i, ok[i].ct);
        assert_string_equal(out, ok[i].b);
    }
    const char *bad[] = {
        "",
        "multipart/form-data",
        "multipart/form-data;",
        "multipart/mixed; boundary=abc",
        "multipart/form-data-x; boundary=abc",
        "text/plain; boundary=abc",
        "multipart/form-data; boundary=",
        "multipart/form-data; boundary=\"\"",
        "multipart/form-data; boundary=\"abc \"",
        "multipart/form-data; boundary=\"abc",
        "multipart/form-data; boundary=a@b",
        "multipart/form-data; boundary=\"a\\\"b\"",
        "multipart/form-data; boundary=\"\\a\"",
        "multipart/form-data; boundary=abc; boundary=abc",
        "multipart/form-data; boundary",
        "multipart/form-data; charset; boundary=abc",
        "multipart/form-data boundary=abc",
        "multipart/form-data; boundary=abc def",
        "multipart/form-data; boundary=\"abc\"x",
        "multipart/form-data; boundary=\xc3\xa9",
        ("multipart/form-data; boundary="
         "12345678901234567890123456789012345678901234567890123456789012345678901"),
        ("multipart/form-data; boundary=\"1234567890123456789012345678901234567890123456789012345"
         "6789012345678901\""),
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (mp_boundary_from_content_type(bad[i], out) != MP_E_BOUNDARY)
            fail_msg("case %zu: %s accepted", i, bad[i]);
        assert_string_equal(out, "");
    }
    assert_int_equal(mp_boundary_from_content_type(NULL, out), MP_E_BOUNDARY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_curl_style),
        cmocka_unit_test(test_httpx_style),
        cmocka_unit_test(test_undici_style),
        cmocka_unit_test(test_dotnet_style),
        cmocka_unit_test(test_field_orders),
        cmocka_unit_test(test_filename_star),
        cmocka_unit_test(test_filename_len_with_nul),
        cmocka_unit_test(test_name_with_nul),
        cmocka_unit_test(test_boundary_like_content),
        cmocka_unit_test(test_empty_parts),
        cmocka_unit_test(test_preamble_padding_epilogue),
        cmocka_unit_test(test_longest_runs),
        cmocka_unit_test(test_held_back_tail),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_header_limit),
        cmocka_unit_test(test_part_limit),
        cmocka_unit_test(test_transfer_encoding),
        cmocka_unit_test(test_callback_abort),
        cmocka_unit_test(test_null_callbacks),
        cmocka_unit_test(test_parser_new),
        cmocka_unit_test(test_errmsg_all_codes),
        cmocka_unit_test(test_boundary_from_content_type),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
