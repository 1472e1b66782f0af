#include "server/http/range.h"

#include <string.h>
#include <strings.h>

/* 1*DIGIT into *out; returns the first byte after, or NULL (none, or past 2^63). */
static const char *digits(const char *p, uint64_t *out)
{
    uint64_t v = 0;
    const char *s = p;
    while (*p >= '0' && *p <= '9') {
        if (v > (UINT64_C(0x7fffffffffffffff) - (uint64_t)(*p - '0')) / 10)
            return NULL;
        v = v * 10 + (uint64_t)(*p++ - '0');
    }
    if (p == s)
        return NULL;
    *out = v;
    return p;
}

static const char *ows(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

http_range_kind http_range_parse(const char *v, uint64_t size, uint64_t *off, uint64_t *len)
{
    uint64_t a = 0, b = 0;
    if (!v || strncasecmp(v, "bytes=", 6) != 0)
        return HTTP_RANGE_NONE;
    const char *p = ows(v + 6);
    int suffix = *p == '-';
    if (suffix)
        p = digits(p + 1, &b);
    else if ((p = digits(p, &a)) && *p++ == '-')
        p = (*p >= '0' && *p <= '9') ? digits(p, &b) : (b = UINT64_MAX, p);
    else
        p = NULL;
    if (!p || *ows(p) != '\0') /* malformed, or a list of ranges: ignored */
        return HTTP_RANGE_NONE;
    if (!suffix && b < a)
        return HTTP_RANGE_NONE; /* invalid (RFC 9110 14.1.1): ignored */
    if (suffix) {
        if (b == 0 || size == 0)
            return HTTP_RANGE_UNSATISFIABLE;
        *off = b >= size ? 0 : size - b;
        *len = size - *off;
        return HTTP_RANGE_PARTIAL;
    }
    if (a >= size)
        return HTTP_RANGE_UNSATISFIABLE;
    *off = a;
    *len = (b >= size - 1 ? size - 1 : b) - a + 1;
    return HTTP_RANGE_PARTIAL;
}

int http_if_range_ok(const char *if_range, const char *etag)
{
    if (!if_range)
        return 1;
    if_range = ows(if_range);
    size_t n = strlen(if_range);
    while (n && (if_range[n - 1] == ' ' || if_range[n - 1] == '\t'))
        n--;
    return n == strlen(etag) && if_range[0] == '"' && !memcmp(if_range, etag, n);
}
