/*
 * libFuzzer target for the list query parameters of GET /v1/files
 * (src/server/api/list_params.c: limit, order, after).
 *
 * Input layout: the bytes up to the first '\n' are `limit`, up to the second `order`, the
 * rest `after`; byte 0's low bits (if the input is not empty) say which of the three are
 * present at all (bit 0 limit, bit 1 order, bit 2 after), the rest of byte 0 is part of
 * `limit`. Values are NUL-terminated copies (the HTTP layer hands decoded C strings).
 *
 * Checked: success means 1 <= limit <= 10000, desc is 0/1, and after is NULL or a plausible
 * id shorter than META_ID_MAX; a failure names one of the three parameters with a non-empty
 * message; the result agrees with an independent reading of each value; parsing is pure
 * (same input, same result).
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/api/list_params.h"
#include "server/ids.h"
#include "server/meta/meta.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *field(const uint8_t **p, const uint8_t *end, int last)
{
    const uint8_t *s = *p;
    const uint8_t *e = last ? end : memchr(s, '\n', (size_t)(end - s));
    if (!e)
        e = end;
    size_t n = (size_t)(e - s);
    char *out = malloc(n + 1);
    if (!out)
        abort();
    memcpy(out, s, n);
    out[n] = '\0';
    *p = e < end ? e + 1 : end;
    return out;
}

/* 1..10000 written as strtoll accepts it: optional spaces, sign, digits, nothing after. */
static int ref_limit_ok(const char *v, long long *n)
{
    const char *p = v;
    while (isspace((unsigned char)*p))
        p++;
    int neg = 0;
    if (*p == '+' || *p == '-')
        neg = *p++ == '-';
    if (!isdigit((unsigned char)*p))
        return 0;
    long long x = 0;
    for (; isdigit((unsigned char)*p); p++) {
        if (x < 100000)
            x = x * 10 + (*p - '0');
    }
    if (*p)
        return 0;
    *n = neg ? -x : x;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned present = size ? data[0] & 7 : 0;
    const uint8_t *p = data, *end = data + size;
    char *limit = field(&p, end, 0);
    char *order = field(&p, end, 0);
    char *after = field(&p, end, 1);
    const char *L = (present & 1) ? limit : NULL;
    const char *O = (present & 2) ? order : NULL;
    const char *A = (present & 4) ? after : NULL;

    list_params a, b;
    list_param_error ea, eb;
    int ra = list_params_parse(L, O, A, &a, &ea);
    int rb = list_params_parse(L, O, A, &b, &eb);
    if (ra != rb)
        abort();
    if (ra == 0) {
        if (a.limit < 1 || a.limit > LIST_MAX_LIMIT || (a.desc != 0 && a.desc != 1))
            abort();
        if (a.after && (a.after != A || strlen(a.after) >= META_ID_MAX || !id_plausible(a.after)))
            abort();
        if (!A != !a.after || a.limit != b.limit || a.desc != b.desc)
            abort();
        long long n;
        if (L && (!ref_limit_ok(L, &n) || n != a.limit))
            abort();
        if (!L && a.limit != LIST_MAX_LIMIT)
            abort();
        if (O ? strcmp(O, a.desc ? "desc" : "asc") != 0 : a.desc != 1)
            abort();
    } else {
        if (!ea.param || !ea.message[0] || strcmp(ea.message, eb.message) != 0)
            abort();
        if (strcmp(ea.param, "limit") && strcmp(ea.param, "order") && strcmp(ea.param, "after"))
            abort();
        if (memchr(ea.message, '\0', sizeof ea.message) == NULL)
            abort();
        /* The first bad parameter in limit, order, after order is the one named. */
        long long n;
        int limit_ok = !L || (ref_limit_ok(L, &n) && n >= 1 && n <= LIST_MAX_LIMIT);
        if (!limit_ok != !strcmp(ea.param, "limit"))
            abort();
    }
    free(limit);
    free(order);
    free(after);
    return 0;
}
