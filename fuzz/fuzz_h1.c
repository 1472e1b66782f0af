/*
 * libFuzzer target for the HTTP/1.1 framing of src/server/http/h1.c: a request head, then,
 * when the head frames a chunked body, the chunked decoder over the rest.
 *
 * Input layout: byte 0 = the piece size the bytes are fed in (1 + byte0 % 64, to reach every
 * split of a head or a chunk line); the rest is the wire bytes of one request.
 *
 * Checked: the end of the head found incrementally is the one found at once; a refusal is a
 * 4xx or 5xx with a message; an accepted head has a token method, an origin-form (or "*")
 * target of visible ASCII, field names of token characters and values without control
 * characters, and a framing consistent with its fields (never Content-Length together with
 * Transfer-Encoding); the chunked decoder never returns more data than it was given, never
 * consumes past its input, and stops at an error for good; no overread (ASan).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/http/h1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const h1_limits lim = {4096, 1024, 64};

static int is_token(const char *s, size_t n)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";
    if (!n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c && strchr(extra, c))))
            return 0;
    }
    return 1;
}

static size_t find_end(const char *buf, size_t len, size_t step)
{
    size_t scan = 0, end = 0;
    for (size_t n = step < len ? step : len; !end; n = n + step < len ? n + step : len) {
        end = h1_head_end(buf, n, &scan);
        if (n == len)
            break;
    }
    size_t scan2 = 0;
    if (h1_head_end(buf, len, &scan2) != end)
        abort(); /* the incremental search disagrees with the one-shot search */
    return end;
}

static void check_head(const h1_head *h)
{
    if (!is_token(h->method, h->method_len) || strlen(h->method) != h->method_len)
        abort();
    if (!h->target_len || (h->target[0] != '/' && strcmp(h->target, "*") != 0))
        abort();
    for (size_t i = 0; i < h->target_len; i++)
        if ((unsigned char)h->target[i] <= 0x20 || (unsigned char)h->target[i] >= 0x7f)
            abort();
    for (unsigned i = 0; i < h->nfields; i++) {
        const h1_field *f = &h->fields[i];
        if (!is_token(f->name, f->name_len) || strlen(f->value) != f->value_len)
            abort();
        for (size_t k = 0; k < f->value_len; k++) {
            unsigned char c = (unsigned char)f->value[k];
            if ((c < 0x20 && c != '\t') || c == 0x7f)
                abort();
        }
    }
    int cl = h1_field_get(h, "content-length") != NULL;
    int te = h1_field_get(h, "transfer-encoding") != NULL;
    if ((cl && te) || (h->framing == H1_BODY_CHUNKED) != te ||
        (h->framing == H1_BODY_LENGTH && (!cl || !h->content_length)))
        abort();
}

static void run_chunked(const char *in, size_t len, size_t step)
{
    h1_chunked c;
    h1_chunked_init(&c);
    size_t off = 0, out = 0;
    int rc = H1C_NEED;
    while (off < len && rc != H1C_DONE && rc != H1C_ERROR) {
        size_t piece = len - off < step ? len - off : step, pos = 0;
        while (pos < piece) {
            const char *d;
            size_t dn, used;
            rc = h1_chunked_feed(&c, in + off + pos, piece - pos, &used, &d, &dn);
            if (used > piece - pos)
                abort();
            if (rc == H1C_DATA && (d < in + off + pos || d + dn > in + off + pos + used))
                abort();
            out += rc == H1C_DATA ? dn : 0;
            pos += used;
            if (rc == H1C_ERROR || rc == H1C_DONE)
                break;
            if (rc == H1C_NEED && pos != piece)
                abort();
        }
        off += pos;
    }
    if (out > len)
        abort();
    if (rc == H1C_ERROR) {
        const char *d;
        size_t dn, used;
        if (!c.error || h1_chunked_feed(&c, "0\r\n\r\n", 5, &used, &d, &dn) != H1C_ERROR)
            abort(); /* an error is final */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t step = 1 + data[0] % 64, len = size - 1;
    char *buf = malloc(len);
    if (!buf)
        abort();
    memcpy(buf, data + 1, len);
    size_t skip = h1_skip_empty_lines(buf, len);
    size_t end = find_end(buf + skip, len - skip, step);
    h1_error e;
    if (!end) {
        if (h1_head_too_big(buf + skip, len - skip, &lim, &e) &&
            (e.status != 414 && e.status != 431))
            abort();
        free(buf);
        return 0;
    }
    h1_field fields[64];
    h1_head h;
    if (h1_parse_head(buf + skip, end, &lim, fields, &h, &e) != 0) {
        if (e.status < 400 || e.status > 505 || !e.message || !*e.message)
            abort();
    } else {
        check_head(&h);
        if (h.framing == H1_BODY_CHUNKED)
            run_chunked(buf + skip + end, len - skip - end, step);
    }
    free(buf);
    return 0;
}
