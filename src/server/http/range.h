/*
 * Byte ranges of RFC 9110 14: the one form argotd serves is a single range of a representation
 * of known size ("bytes=a-b", "bytes=a-", "bytes=-n"). Several ranges, another unit or a
 * malformed value are ignored (the whole representation is sent, as RFC 9110 14.2 allows);
 * a well-formed range that selects nothing is unsatisfiable (416).
 */
#ifndef ARGOT_SERVER_HTTP_RANGE_H
#define ARGOT_SERVER_HTTP_RANGE_H

#include <stdint.h>

typedef enum http_range_kind {
    HTTP_RANGE_NONE = 0,          /* no Range, or one to ignore: send everything (200) */
    HTTP_RANGE_PARTIAL = 1,       /* send [off, off + len) (206) */
    HTTP_RANGE_UNSATISFIABLE = 2, /* 416 with Content-Range: bytes * / size */
} http_range_kind;

/* Reads a Range header value (NULL: none) against a representation of size bytes. */
http_range_kind http_range_parse(const char *value, uint64_t size, uint64_t *off, uint64_t *len);

/* If-Range (RFC 9110 13.1.5) with etag, the representation's strong entity tag: 1 if the
 * Range may be honoured (no If-Range, or an If-Range naming exactly that tag), 0 if the whole
 * representation must be sent instead (another tag, a weak tag, or a date: argotd sends no
 * Last-Modified, so no date can be known to match). */
int http_if_range_ok(const char *if_range, const char *etag);

#endif
