/*
 * Content-Disposition for downloads (RFC 6266 / 5987), kept apart so it can be
 * fuzzed (fuzz/fuzz_filename.c): an ASCII fallback with unsafe characters replaced by '_',
 * plus filename*=UTF-8'' with every byte outside attr-char percent-encoded. The output is
 * printable ASCII only: CR, LF, NUL and bytes >= 0x80 never reach the header.
 */
#ifndef ARGOT_SERVER_API_DISPOSITION_H
#define ARGOT_SERVER_API_DISPOSITION_H

#include <stddef.h>

/* name is NUL-terminated; out gets a NUL-terminated value of at most cap - 1 bytes (just
 * "attachment" if the full value would not fit). cap must be at least 16. */
void api_content_disposition(const char *name, char *out, size_t cap);

#endif
