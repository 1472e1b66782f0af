/*
 * A streaming multipart/form-data parser (RFC 7578 / RFC 2046), kept apart from I/O in the
 * style of hiredis's reader: feed(buf, len) in pieces of any size, get events by callback.
 *
 * - File bytes are handed to part_data straight out of the caller's buffer in the longest
 *   runs possible: only a tail that might be the start of a boundary is held back (at most
 *   boundary length + 4 bytes), so large uploads are never copied in user space.
 * - Part headers are buffered up to limits.max_header_bytes per part; beyond that the parse
 *   fails with MP_E_HEADERS (never unbounded memory).
 * - Content-Disposition: form-data; name=..., filename=... and filename*=charset'lang'pct
 *   (RFC 5987; filename* wins when both are present). Quoted strings with backslash escapes,
 *   unquoted tokens. Content-Transfer-Encoding other than 7bit/8bit/binary is refused
 *   (MP_E_UNSUPPORTED): RFC 7578 deprecates it and no client we support sends it.
 * - The preamble before the first boundary and the epilogue after the last are ignored.
 *
 * Thread: a parser is used by one thread at a time. Ownership: pointers in mp_part_info are
 * borrowed and valid only during the part_begin callback.
 */
#ifndef ARGOT_SERVER_MULTIPART_H
#define ARGOT_SERVER_MULTIPART_H

#include <stddef.h>

#define MP_BOUNDARY_MAX 70 /* RFC 2046 */

enum {
    MP_OK = 0,
    MP_E_SYNTAX = -1,      /* malformed framing or headers */
    MP_E_HEADERS = -2,     /* a part's headers exceed max_header_bytes */
    MP_E_PARTS = -3,       /* more than max_parts parts */
    MP_E_TRUNCATED = -4,   /* finish() before the closing boundary */
    MP_E_UNSUPPORTED = -5, /* Content-Transfer-Encoding we refuse */
    MP_E_CALLBACK = -6,    /* a callback returned non-zero; see mp_parser_cb_result() */
    MP_E_NOMEM = -7,
    MP_E_BOUNDARY = -8, /* no usable boundary in the Content-Type */
};

typedef struct mp_part_info {
    const char *name; /* field name, NUL-terminated (may be empty but never NULL) */
    size_t name_len;
    const char *filename;     /* NULL when the part has no filename parameter */
    size_t filename_len;      /* may contain any byte, NUL included: the caller validates */
    const char *content_type; /* NULL when absent */
} mp_part_info;

typedef struct mp_callbacks {
    /* Each returns 0 to continue; any other value stops the parse with MP_E_CALLBACK. */
    int (*part_begin)(const mp_part_info *info, void *userdata);
    int (*part_data)(const char *data, size_t len, void *userdata);
    int (*part_end)(void *userdata);
} mp_callbacks;

/* A field left at 0 takes its default. The header buffer (max_header_bytes counts every byte
 * of a part's header block: each line with its CRLF and the empty line ending the block) and
 * a decode area of the same size are allocated once, by mp_parser_new. */
typedef struct mp_limits {
    size_t max_header_bytes; /* per part, all header lines together; default 16384 */
    unsigned max_parts;      /* default 64 */
} mp_limits;

/* clang-format off */
#define MP_LIMITS_DEFAULT {16384, 64}
/* clang-format on */

typedef struct mp_parser mp_parser;

/* Extracts the boundary from a Content-Type value such as
 *   multipart/form-data; boundary="abc=def"
 * (media type case-insensitive, parameter quoted or not, 1..70 chars). Returns MP_OK or
 * MP_E_BOUNDARY (not multipart/form-data, no boundary, or an invalid one). */
int mp_boundary_from_content_type(const char *content_type, char out[MP_BOUNDARY_MAX + 1]);

/* Creates a parser for the given boundary (1..70 RFC 2046 bchars, else MP_E_BOUNDARY; the
 * string is copied). limits may be NULL for the defaults; cb may be NULL and any callback may
 * be NULL (that event is then dropped). Returns MP_OK, MP_E_BOUNDARY or MP_E_NOMEM; on error
 * *out is NULL. Callbacks must not free the parser. Free with mp_parser_free(). */
int mp_parser_new(mp_parser **out,
                  const char *boundary,
                  const mp_limits *limits,
                  const mp_callbacks *cb,
                  void *userdata);
/* Feeds the next len bytes. Returns MP_OK or an MP_E_*; after an error the parser only
 * returns that error again. */
int mp_parser_feed(mp_parser *p, const char *data, size_t len);
/* Declares the end of input. MP_E_TRUNCATED unless the closing boundary was seen. */
int mp_parser_finish(mp_parser *p);
/* The value the failing callback returned (for MP_E_CALLBACK), else 0. */
int mp_parser_cb_result(const mp_parser *p);
/* A short static English description of the last error, for the API's error message. */
const char *mp_parser_errmsg(const mp_parser *p);
/* A short static English description of an MP_* code (for mp_boundary_from_content_type and
 * mp_parser_new, which have no parser to ask). */
const char *mp_strerror(int err);
void mp_parser_free(mp_parser *p);

#endif
