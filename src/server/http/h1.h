/*
 * HTTP/1.1 request framing (RFC 9112), kept apart from I/O so it can be unit-tested and fuzzed
 * (like picohttpparser and hiredis's reader): the connection code feeds bytes, these functions
 * say where the head ends, what it holds, and how the body is framed.
 *
 * The parser is strict on purpose. argotd runs behind load balancers and caches, and any
 * request that two HTTP implementations could frame differently is refused with 400 and the
 * connection closed, rather than guessed at:
 *   - lines end in CRLF; a bare CR or bare LF anywhere in the head is refused;
 *   - no whitespace between a field name and its colon, no obs-fold (a line starting with
 *     SP/HTAB), no control character (NUL included) in a field value;
 *   - Transfer-Encoding together with Content-Length is refused; Transfer-Encoding must be
 *     exactly "chunked" (another coding is 501, "chunked" not last or with parameters is 400);
 *   - Content-Length is 1*DIGIT (a list or repeated field only if every value is the same);
 *   - HTTP/1.1 needs exactly one Host field; a version other than 1.x is 505.
 *
 * Thread: none shared; every object belongs to one connection.
 */
#ifndef ARGOT_SERVER_HTTP_H1_H
#define ARGOT_SERVER_HTTP_H1_H

#include <stddef.h>
#include <stdint.h>

typedef struct h1_limits {
    size_t max_head;     /* request line + fields + the empty line; more is 431 */
    size_t max_target;   /* bytes of the request-target; more is 414 */
    unsigned max_fields; /* header fields; more is 431 */
} h1_limits;

typedef struct h1_field {
    const char *name; /* NUL-terminated inside the caller's buffer */
    size_t name_len;
    const char *value; /* without leading/trailing whitespace, NUL-terminated */
    size_t value_len;
} h1_field;

typedef enum h1_framing {
    H1_BODY_NONE = 0,
    H1_BODY_LENGTH = 1,
    H1_BODY_CHUNKED = 2,
} h1_framing;

typedef struct h1_head {
    const char *method; /* NUL-terminated */
    size_t method_len;
    const char *target; /* origin-form "/path?query" (absolute-form is reduced to it) */
    size_t target_len;
    int minor; /* HTTP/1.<minor>: 0 or 1 (higher minors are read as 1) */
    h1_field *fields;
    unsigned nfields;
    h1_framing framing;
    uint64_t content_length; /* H1_BODY_LENGTH */
    int keep_alive;          /* the client allows another request on the connection */
    int expect_continue;     /* Expect: 100-continue */
} h1_head;

/* Why a head was refused: an HTTP status and a message for the error envelope (static). */
typedef struct h1_error {
    int status;
    const char *message;
} h1_error;

/* Finds the end of the head in buf[0..len): returns the head's length including the empty line
 * that ends it, or 0 if it is not complete yet. *scan carries the search position between
 * calls on a growing buffer (start it at 0). A head ended by bare LFs is found too (and then
 * refused by h1_parse_head), so such a request fails at once instead of waiting for a CRLF that
 * never comes. */
size_t h1_head_end(const char *buf, size_t len, size_t *scan);

/* Bytes of empty lines (CRLF) before a request line, which RFC 9112 2.2 says to ignore. */
size_t h1_skip_empty_lines(const char *buf, size_t len);

/* 1 if the bytes received so far, with no end of head among them, are already too many for
 * lim: fills err with 414 (still in the request line) or 431. */
int h1_head_too_big(const char *buf, size_t len, const h1_limits *lim, h1_error *err);

/* Parses a complete head buf[0..len) (len as returned by h1_head_end), writing NULs into buf
 * so names and values are C strings. fields must have room for lim->max_fields entries.
 * Returns 0 and fills out, or -1 and fills err. */
int h1_parse_head(
    char *buf, size_t len, const h1_limits *lim, h1_field *fields, h1_head *out, h1_error *err);

/* The value of the first field called name (case-insensitive), or NULL. */
const char *h1_field_get(const h1_head *h, const char *name);

/* ---- chunked transfer coding (RFC 9112 7.1) ---- */

#define H1_CHUNK_LINE_MAX 4096 /* chunk-size line including extensions; more is 400 */
#define H1_TRAILER_MAX    8192 /* trailer section; more is 400 */

typedef struct h1_chunked {
    int state;
    uint64_t left;     /* bytes of chunk data still to come */
    size_t line;       /* bytes of the current chunk-size or trailer line */
    size_t trailers;   /* bytes of the trailer section */
    unsigned digits;   /* hex digits of the current size */
    const char *error; /* static message once H1C_ERROR was returned */
} h1_chunked;

enum {
    H1C_NEED = 0,   /* every byte consumed, the body goes on */
    H1C_DATA = 1,   /* (*data, *data_len) is a slice of chunk data (inside in) */
    H1C_DONE = 2,   /* the last chunk and the trailers are complete */
    H1C_ERROR = -1, /* malformed; c->error says why (answer 400 and close) */
};

void h1_chunked_init(h1_chunked *c);
/* Decodes in[0..len). Sets *used to the bytes consumed by this call. On H1C_DATA the caller
 * hands the slice on and calls again with the rest; on H1C_DONE the bytes after *used belong
 * to the next request. */
int h1_chunked_feed(
    h1_chunked *c, const char *in, size_t len, size_t *used, const char **data, size_t *data_len);

#endif
