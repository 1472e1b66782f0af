/*
 * Ranged and resumed downloads: the Range and If-Range each attempt sends, the check of a 2xx
 * head against them (a 206 must start where we asked; a 200 to a Range starts the sink over at
 * byte 0), what a 416 means, and whether a broken transfer resumes or starts over. Only
 * bookkeeping on the sink: http.c does the I/O and calls these at the right moments.
 *
 * A retry resumes only with a validator, so that bytes of two versions of a file are never
 * joined: the strong ETag of the response that delivered the bytes, or the caller's if_range
 * when that response was a 206 without an ETag (the server honoured the caller's tag).
 */
#include "client/internal.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define MAX_POS UINT64_C(0x7fffffffffffffff)

/* 1*DIGIT up to 2^63-1 into *out; the first byte after, or NULL. */
static const char *digits(const char *p, uint64_t *out)
{
    uint64_t v = 0;
    const char *s = p;

    while (*p >= '0' && *p <= '9') {
        if (v > (MAX_POS - (uint64_t)(*p - '0')) / 10)
            return NULL;
        v = v * 10 + (uint64_t)(*p++ - '0');
    }
    *out = v;
    return p != s ? p : NULL;
}

static const char *blanks(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* "FIRST-LAST" or a star (unsatisfied: both UINT64_MAX). */
static const char *range_part(const char *p, uint64_t *first, uint64_t *last)
{
    if (*p == '*') {
        *first = *last = UINT64_MAX;
        return p + 1;
    }
    p = digits(p, first);
    if (p == NULL || *p != '-')
        return NULL;
    p = digits(p + 1, last);
    return p != NULL && *last >= *first ? p : NULL;
}

int argot__content_range_parse(const char *v, uint64_t *first, uint64_t *last, int64_t *size)
{
    uint64_t n;
    const char *p;

    if (strncasecmp(v, "bytes ", 6) != 0)
        return -1;
    p = range_part(blanks(v + 6), first, last);
    if (p == NULL || *p++ != '/')
        return -1;
    if (*p == '*') {
        if (*first == UINT64_MAX)
            return -1; /* "bytes * / *" says nothing */
        *size = -1;
        p++;
    } else {
        p = digits(p, &n);
        if (p == NULL || (*first != UINT64_MAX && *last >= n))
            return -1;
        *size = (int64_t)n;
    }
    return *blanks(p) == '\0' ? 0 : -1;
}

/* A bounded range (offset..offset+length-1) is asked for until a 200 replaced it with the whole
 * file; after that, only the rest of the whole file. */
static int bounded(const argot__sink *s)
{
    return s->length > 0 && !s->restarted;
}

void argot__sink_range(argot__sink *s, char *range, size_t rn, char *if_range, size_t in)
{
    const char *v = NULL;

    range[0] = if_range[0] = '\0';
    s->start = s->offset + s->written;
    s->ranged = s->start > 0 || bounded(s);
    s->if_range_sent = 0;
    if (!s->ranged)
        return;
    if (bounded(s))
        snprintf(range, rn, "bytes=%llu-%llu", (unsigned long long)s->start,
                 (unsigned long long)(s->req_offset + (uint64_t)s->length - 1));
    else
        snprintf(range, rn, "bytes=%llu-", (unsigned long long)s->start);
    if (s->written > 0)
        v = s->validator; /* a resumed retry: argot__sink_retry() made sure there is one */
    else if (!s->restarted)
        v = s->if_range;
    if (v != NULL && v[0] != '\0' && strlen(v) < in) {
        snprintf(if_range, in, "%s", v);
        s->if_range_sent = 1;
    }
}

static void learn_validator(argot__sink *s, long status, const char *etag)
{
    if (etag[0] != '\0') /* only a strong tag may be sent in If-Range (RFC 9110 13.1.5) */
        snprintf(s->validator, sizeof(s->validator), "%s", etag[0] == '"' ? etag : "");
    else if (status == 206 && s->if_range_sent && s->written == 0)
        snprintf(s->validator, sizeof(s->validator), "%s", s->if_range);
    else if (status != 206 || !s->if_range_sent)
        s->validator[0] = '\0';
    /* else: a 206 without an ETag to a resumed retry; its If-Range (the validator) held */
}

static int check_206(argot__sink *s, const char *content_range)
{
    uint64_t first, last;
    int64_t size;

    if (!s->ranged || argot__content_range_parse(content_range, &first, &last, &size) != 0 ||
        first != s->start || first == UINT64_MAX ||
        (bounded(s) && last > s->req_offset + (uint64_t)s->length - 1)) {
        s->bad_range = 1;
        return -1;
    }
    s->size = size;
    return 0;
}

int argot__sink_head(argot__sink *s,
                     long status,
                     const char *content_range,
                     const char *etag,
                     int64_t content_length)
{
    s->status = status;
    if (status == 206) {
        if (check_206(s, content_range) != 0)
            return -1;
    } else {
        /* The whole file where a range was asked for: the sink goes back to byte 0. */
        if (s->ranged && argot__sink_rewind(s) != 0) {
            s->range_error = 1;
            return -1;
        }
        if (s->ranged)
            s->restarted = 1;
        s->size = content_length;
    }
    snprintf(s->etag, sizeof(s->etag), "%s", etag);
    learn_validator(s, status, etag);
    return 0;
}

int argot__sink_416(argot__sink *s, const char *content_range, const char *etag)
{
    uint64_t first, last;
    int64_t size;

    if (argot__content_range_parse(content_range, &first, &last, &size) != 0 || first != UINT64_MAX)
        return 0;
    s->size = size;
    if (!s->ranged || bounded(s) || (uint64_t)size != s->start)
        return 0;
    s->complete = 1;
    s->status = 416;
    snprintf(s->etag, sizeof(s->etag), "%s", etag);
    return 1;
}

int argot__sink_retry(argot__sink *s)
{
    if (s->written > 0 && s->validator[0] != '\0')
        return 0;
    return argot__sink_restart(s);
}

const char *argot__sink_problem(const argot__sink *s, char *buf, size_t n)
{
    if (s->range_error)
        snprintf(buf, n,
                 "the server sent the whole file (HTTP %ld) instead of the range from byte %llu, "
                 "and this sink cannot start over",
                 s->status, (unsigned long long)s->start);
    else if (s->bad_range)
        snprintf(buf, n, "the server sent another range than the one from byte %llu asked for",
                 (unsigned long long)s->start);
    else
        return NULL;
    return buf;
}
