/*
 * libFuzzer target for filenames: the upload check api_filename_problem() (what may be stored)
 * and the download header builder api_content_disposition() (what may be sent back).
 *
 * Input layout: byte 0 selects the output capacity for the header (0: the server's own
 * 4 * META_FILENAME_MAX + 64, else 16 + byte 0); the rest is the filename's bytes.
 *
 * Checked:
 *   - a name is accepted iff it is 1..1023 bytes of valid UTF-8 (an independent strict
 *     decoder: no overlongs, no surrogates, <= U+10FFFF) without C0 controls or DEL;
 *   - for every NUL-terminated name, the header value is printable ASCII only (no CR, LF, NUL,
 *     nothing >= 0x80), is either exactly "attachment" (did not fit) or
 *     attachment; filename="<fallback>"; filename*=UTF-8''<pct-encoded>
 *     where the fallback holds no '"', '\\' or '%', has one byte per name byte, and the RFC
 *     5987 value decodes back to the exact name bytes; with the server's capacity every
 *     accepted name fits.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/api/api.h"
#include "server/api/disposition.h"
#include "server/meta/meta.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int utf8_strict(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        uint32_t cp;
        size_t len;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (i + len > n)
            return 0;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += len;
    }
    return 1;
}

static int hexv(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static void check_disposition(const char *name, size_t cap)
{
    char *out = malloc(cap);
    if (!out)
        abort();
    memset(out, 0x55, cap);
    api_content_disposition(name, out, cap);
    size_t olen = strnlen(out, cap);
    if (olen == cap)
        abort(); /* not terminated */
    for (size_t i = 0; i < olen; i++)
        if ((unsigned char)out[i] < 0x20 || (unsigned char)out[i] > 0x7e)
            abort();
    size_t nlen = strlen(name);
    if (!strcmp(out, "attachment")) {
        /* Only when the full value cannot fit: 22 + n + 20 + the encoded name + NUL. */
        size_t enc = 0;
        for (size_t i = 0; i < nlen; i++) {
            char ch = name[i];
            int plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                        (ch >= '0' && ch <= '9') || strchr("!#$&+-.^_`|~", ch);
            enc += plain ? 1 : 3;
        }
        if (22 + nlen + 20 + enc + 1 <= cap)
            abort();
        free(out);
        return;
    }
    static const char pre[] = "attachment; filename=\"";
    static const char mid[] = "\"; filename*=UTF-8''";
    if (strncmp(out, pre, sizeof pre - 1) != 0)
        abort();
    const char *fb = out + sizeof pre - 1;
    if (strncmp(fb + nlen, mid, sizeof mid - 1) != 0)
        abort();
    for (size_t i = 0; i < nlen; i++) {
        if (fb[i] == '"' || fb[i] == '\\' || fb[i] == '%')
            abort();
        if (fb[i] != name[i] && fb[i] != '_')
            abort();
    }
    const char *enc = fb + nlen + sizeof mid - 1;
    size_t k = 0;
    for (const char *p = enc; *p; k++) {
        unsigned char c;
        if (*p == '%') {
            int h = hexv(p[1]), l = h < 0 ? -1 : hexv(p[2]);
            if (h < 0 || l < 0)
                abort();
            c = (unsigned char)(h * 16 + l);
            p += 3;
        } else {
            if (!strchr("!#$&+-.^_`|~", *p) &&
                !((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
                abort(); /* a raw byte outside RFC 5987 attr-char */
            c = (unsigned char)*p++;
        }
        if (k >= nlen || c != (unsigned char)name[k])
            abort();
    }
    if (k != nlen)
        abort();
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const size_t server_cap = 4 * META_FILENAME_MAX + 64;
    size_t cap = data[0] ? (size_t)16 + data[0] : server_cap;
    const uint8_t *nm = data + 1;
    size_t n = size - 1;

    const char *why = api_filename_problem((const char *)nm, n);
    int ok = n >= 1 && n < META_FILENAME_MAX && utf8_strict(nm, n);
    for (size_t i = 0; ok && i < n; i++)
        if (nm[i] < 0x20 || nm[i] == 0x7f)
            ok = 0;
    if ((why == NULL) != ok)
        abort();
    if (why && !*why)
        abort();

    char *name = malloc(n + 1);
    if (!name)
        abort();
    memcpy(name, nm, n);
    name[n] = '\0';
    check_disposition(name, cap);
    if (ok) {
        /* Everything that can be stored fits in the server's header buffer. */
        char *out = malloc(server_cap);
        if (!out)
            abort();
        api_content_disposition(name, out, server_cap);
        if (!strcmp(out, "attachment"))
            abort();
        free(out);
    }
    free(name);
    return 0;
}
