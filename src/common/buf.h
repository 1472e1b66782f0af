/*
 * argot_buf: a growable byte buffer with a mandatory upper bound (curl's dynbuf "toobig").
 * Everything read from the network into memory goes through one of these, so no input can
 * make a process allocate without limit. The contents are always NUL-terminated (the NUL is
 * not counted in len), so text can be used as a C string directly.
 *
 * Ownership: the buffer owns ptr; argot_buf_free() releases it. Thread: none shared.
 */
#ifndef ARGOT_COMMON_BUF_H
#define ARGOT_COMMON_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct argot_buf {
    char *ptr;  /* NULL until the first append */
    size_t len; /* bytes used, not counting the terminating NUL */
    size_t cap; /* bytes allocated */
    size_t max; /* len may never exceed this */
} argot_buf;

#define ARGOT_BUF_INIT(maxlen)                                                                     \
    {                                                                                              \
        NULL, 0, 0, (maxlen)                                                                       \
    }

/* Return codes of the append functions. */
#define ARGOT_BUF_OK     0
#define ARGOT_BUF_NOMEM  -1
#define ARGOT_BUF_TOOBIG -2

void argot_buf_init(argot_buf *b, size_t max);
/* Appends len bytes. On error the buffer is unchanged. */
int argot_buf_put(argot_buf *b, const void *data, size_t len);
int argot_buf_puts(argot_buf *b, const char *s);
int argot_buf_putc(argot_buf *b, char c);
int argot_buf_printf(argot_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int argot_buf_vprintf(argot_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* Appends s as the contents of a JSON string (with the quotes), escaping as RFC 8259 wants.
 * Invalid UTF-8 is replaced by U+FFFD so the output is always valid JSON. */
int argot_buf_put_json_str(argot_buf *b, const char *s, size_t len);
/* 1 if s[0..len) is valid UTF-8 (no overlongs, surrogates or code points past U+10FFFF). */
int argot_utf8_valid(const char *s, size_t len);
/* Makes room for at least extra more bytes without changing len. */
int argot_buf_reserve(argot_buf *b, size_t extra);
void argot_buf_reset(argot_buf *b);
/* Hands the memory to the caller (free with free()); the buffer becomes empty. Never NULL
 * unless allocation fails. */
char *argot_buf_detach(argot_buf *b);
void argot_buf_free(argot_buf *b);

#endif
