#include "common/buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void argot_buf_init(argot_buf *b, size_t max)
{
    b->ptr = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

int argot_buf_reserve(argot_buf *b, size_t extra)
{
    if (extra > b->max - b->len)
        return ARGOT_BUF_TOOBIG;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return ARGOT_BUF_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (cap > b->max + 1)
        cap = b->max + 1;
    char *p = realloc(b->ptr, cap);
    if (!p)
        return ARGOT_BUF_NOMEM;
    b->ptr = p;
    b->cap = cap;
    return ARGOT_BUF_OK;
}

int argot_buf_put(argot_buf *b, const void *data, size_t len)
{
    int rc = argot_buf_reserve(b, len);
    if (rc)
        return rc;
    if (len)
        memcpy(b->ptr + b->len, data, len);
    b->len += len;
    b->ptr[b->len] = '\0';
    return ARGOT_BUF_OK;
}

int argot_buf_puts(argot_buf *b, const char *s)
{
    return argot_buf_put(b, s, strlen(s));
}

int argot_buf_putc(argot_buf *b, char c)
{
    return argot_buf_put(b, &c, 1);
}

int argot_buf_vprintf(argot_buf *b, const char *fmt, va_list ap)
{
    va_list cp;
    va_copy(cp, ap);
    int n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (n < 0)
        return ARGOT_BUF_NOMEM;
    int rc = argot_buf_reserve(b, (size_t)n);
    if (rc)
        return rc;
    vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return ARGOT_BUF_OK;
}

int argot_buf_printf(argot_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = argot_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 if it is not valid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    unsigned cp = c & (0x7fu >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3fu);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

int argot_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        size_t n = utf8_seq(p + i, len - i);
        if (!n)
            return 0;
        i += n;
    }
    return 1;
}

int argot_buf_put_json_str(argot_buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    size_t start_len = b->len;
    int rc = argot_buf_putc(b, '"');
    size_t i = 0;
    while (!rc && i < len) {
        /* Copy the longest run that needs no escaping in one call. */
        size_t j = i;
        while (j < len && p[j] >= 0x20 && p[j] < 0x80 && p[j] != '"' && p[j] != '\\')
            j++;
        if (j > i) {
            rc = argot_buf_put(b, p + i, j - i);
            i = j;
            continue;
        }
        unsigned c = p[i];
        if (c >= 0x80) {
            size_t n = utf8_seq(p + i, len - i);
            if (n) {
                rc = argot_buf_put(b, p + i, n);
                i += n;
            } else {
                rc = argot_buf_puts(b, "\xef\xbf\xbd");
                i++;
            }
            continue;
        }
        char esc[7] = {'\\', 0, 0, 0, 0, 0, 0};
        switch (c) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
        }
        rc = argot_buf_puts(b, esc);
        i++;
    }
    if (!rc)
        rc = argot_buf_putc(b, '"');
    if (rc) {
        b->len = start_len;
        if (b->ptr)
            b->ptr[b->len] = '\0';
    }
    return rc;
}

void argot_buf_reset(argot_buf *b)
{
    b->len = 0;
    if (b->ptr)
        b->ptr[0] = '\0';
}

char *argot_buf_detach(argot_buf *b)
{
    char *p = b->ptr;
    if (!p)
        p = calloc(1, 1);
    b->ptr = NULL;
    b->len = b->cap = 0;
    return p;
}

void argot_buf_free(argot_buf *b)
{
    if (!b)
        return;
    free(b->ptr);
    b->ptr = NULL;
    b->len = b->cap = 0;
}
