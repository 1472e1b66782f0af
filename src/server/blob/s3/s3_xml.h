/*
 * A tiny incremental XML reader, just enough for S3's responses (hiredis-style: feed bytes in
 * any chunks, get events; no I/O). It reports each element's opening and closing with its
 * path from the root ("ListBucketResult/Contents/Key") and, at the closing, the decoded
 * character data found directly inside it since its last child (so a leaf's text).
 *
 * What it accepts: elements, attributes (skipped), the five predefined entities and numeric
 * character references, comments, CDATA sections, processing instructions and the XML
 * declaration (skipped), a UTF-8 byte order mark. What it refuses: DOCTYPE (so no entity
 * expansion of any kind), mismatched or unclosed tags, a second root, text outside the root.
 * Every buffer is fixed: names, depth and path are bounded (S3X_E_LIMIT past them); text past
 * S3X_TEXT_MAX bytes is cut and flagged (text_truncated), so a long error message does not
 * make the Code unreadable. Memory: one s3x_parser, about 8 KiB, no allocation.
 *
 * Thread: one parser per thread; no global state.
 */
#ifndef ARGOT_SERVER_S3_XML_H
#define ARGOT_SERVER_S3_XML_H

#include <stddef.h>

#define S3X_NAME_MAX  64   /* bytes in one element name */
#define S3X_DEPTH_MAX 8    /* nesting levels (S3's responses use 3) */
#define S3X_PATH_MAX  256  /* bytes in a path, '/'-separated */
#define S3X_TEXT_MAX  4096 /* bytes of text kept per element (S3 keys are <= 1024) */

enum {
    S3X_OK = 0,
    S3X_E_SYNTAX = -1,   /* not well-formed for this reader */
    S3X_E_LIMIT = -2,    /* a name, the depth or the path is too long */
    S3X_E_CALLBACK = -3, /* the callback returned non-zero */
    S3X_E_TRUNCATED = -4 /* s3x_finish(): the input ended inside the document */
};

typedef enum { S3X_OPEN = 1, S3X_CLOSE = 2 } s3x_event;

/* path is NUL-terminated and borrowed for the call; depth 1 is the root. text (CLOSE only,
 * else NULL) holds len decoded bytes, NUL-terminated. Return non-zero to stop parsing. */
typedef int (*s3x_cb)(
    s3x_event ev, const char *path, size_t depth, const char *text, size_t len, void *userdata);

typedef struct s3x_parser {
    s3x_cb cb;
    void *userdata;
    int state;
    int err; /* sticky: the first error */
    int quote;
    size_t sub; /* progress inside a multi-byte token ("CDATA[", "]]>", the BOM) */
    size_t depth;
    size_t level[S3X_DEPTH_MAX + 1]; /* path length before each level's name */
    char path[S3X_PATH_MAX + 1];
    size_t pathlen;
    char name[S3X_NAME_MAX + 1];
    size_t namelen;
    char text[S3X_TEXT_MAX + 1];
    size_t textlen;
    int text_truncated; /* the text of the element being closed was cut at S3X_TEXT_MAX */
    char ent[12];
    size_t entlen;
    int seen_root, root_closed;
    size_t offset; /* bytes consumed, for error messages */
} s3x_parser;

void s3x_init(s3x_parser *p, s3x_cb cb, void *userdata);
/* Consumes len bytes. Returns S3X_OK or the (sticky) first error; after an error nothing more
 * is parsed. */
int s3x_feed(s3x_parser *p, const char *data, size_t len);
/* Ends the input: S3X_E_TRUNCATED unless a root element was opened and closed. */
int s3x_finish(s3x_parser *p);
/* A static description of an S3X_* code. */
const char *s3x_strerror(int err);

#endif
