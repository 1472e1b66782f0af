#include "common/jsonstr.h"

#include <string.h>

void argot_jsonstr_init(argot_jsonstr *s)
{
    memset(s, 0, sizeof *s);
}

static int fail(argot_jsonstr *s, uint64_t off)
{
    if (!s->error)
        s->error_off = off;
    s->error = 1;
    return -1;
}

/* One byte of a multi-byte sequence (a lead byte >= 0x80, or any byte while a sequence is
 * open), checked against Unicode's table of well-formed sequences (3-7): the range allowed
 * for the second byte rules out overlongs, surrogates and code points past U+10FFFF, so
 * nothing is left to check once the sequence is complete. 0, or -1 if invalid. */
static int utf8_byte(argot_jsonstr *s, unsigned c)
{
    if (s->need) {
        if (c < s->lo || c > s->hi)
            return fail(s, s->lead_off);
        s->need--;
        s->lo = 0x80;
        s->hi = 0xbf;
        return 0;
    }
    s->lead_off = s->in_off;
    s->lo = 0x80;
    s->hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
        s->need = 1;
    } else if (c >= 0xe0 && c <= 0xef) {
        s->need = 2;
        s->lo = c == 0xe0 ? 0xa0 : 0x80;
        s->hi = c == 0xed ? 0x9f : 0xbf;
    } else if (c >= 0xf0 && c <= 0xf4) {
        s->need = 3;
        s->lo = c == 0xf0 ? 0x90 : 0x80;
        s->hi = c == 0xf4 ? 0x8f : 0xbf;
    } else {
        return fail(s, s->in_off); /* a continuation byte, C0, C1 or F5..FF as a lead */
    }
    return 0;
}

/* An ASCII byte copied as it is. */
static int plain(unsigned c)
{
    return c >= 0x20 && c != '"' && c != '\\' && c < 0x80;
}

/* The encoding of an ASCII byte into e; returns its length (1, 2 or 6). */
static size_t escape(unsigned c, char e[6])
{
    static const char hex[] = "0123456789abcdef";
    char short_form = c == '"'    ? '"'
                      : c == '\\' ? '\\'
                      : c == '\n' ? 'n'
                      : c == '\r' ? 'r'
                      : c == '\t' ? 't'
                      : c == '\b' ? 'b'
                      : c == '\f' ? 'f'
                                  : 0;
    if (plain(c)) {
        e[0] = (char)c;
        return 1;
    }
    e[0] = '\\';
    if (short_form) {
        e[1] = short_form;
        return 2;
    }
    memcpy(e + 1, "u00", 3);
    e[4] = hex[c >> 4];
    e[5] = hex[c & 15];
    return 6;
}

int argot_jsonstr_measure(argot_jsonstr *s, const char *in, size_t len)
{
    const unsigned char *p = (const unsigned char *)in;
    char e[6];
    if (s->error)
        return -1;
    for (size_t i = 0; i < len; i++, s->in_off++) {
        unsigned c = p[i];
        if (!s->need && c < 0x80) {
            s->out_len += plain(c) ? 1 : escape(c, e);
            continue;
        }
        if (utf8_byte(s, c))
            return -1;
        s->out_len++;
    }
    return 0;
}

int argot_jsonstr_measure_end(argot_jsonstr *s, uint64_t *total)
{
    if (s->error)
        return -1;
    if (s->need)
        return fail(s, s->lead_off);
    *total = s->out_len + 2;
    return 0;
}

int argot_jsonstr_done(const argot_jsonstr *s)
{
    return s->phase == 2;
}

/* Writes what is left of a split escape; returns the bytes written. */
static size_t flush(argot_jsonstr *s, char *out, size_t cap)
{
    size_t k = s->npend < cap ? s->npend : cap;
    memcpy(out, s->pend, k);
    memmove(s->pend, s->pend + k, s->npend - k);
    s->npend = (unsigned char)(s->npend - k);
    return k;
}

/* Encodes in until out is full, the input ends or an error; *used says how much input. */
static size_t body(
    argot_jsonstr *s, const unsigned char *p, size_t len, char *out, size_t cap, size_t *used)
{
    size_t o = 0, i = 0;
    while (o < cap && i < len && !s->npend) {
        unsigned c = p[i];
        if (!s->need && plain(c)) { /* the longest plain run that fits, in one copy */
            size_t j = i + 1, room = i + (cap - o);
            while (j < len && j < room && plain(p[j]))
                j++;
            memcpy(out + o, p + i, j - i);
            o += j - i;
            s->in_off += j - i;
            i = j;
            continue;
        }
        if (!s->need && c < 0x80) {
            char e[6];
            size_t n = escape(c, e), k = n < cap - o ? n : cap - o;
            memcpy(out + o, e, k);
            memcpy(s->pend, e + k, n - k);
            s->npend = (unsigned char)(n - k);
            o += k;
        } else if (utf8_byte(s, c)) {
            break;
        } else {
            out[o++] = (char)c;
        }
        i++;
        s->in_off++;
    }
    *used = i;
    return o;
}

size_t argot_jsonstr_encode(
    argot_jsonstr *s, const char *in, size_t len, int last, char *out, size_t cap, size_t *consumed)
{
    size_t o = 0;
    *consumed = 0;
    if (s->error || s->phase == 2 || !cap)
        return 0;
    if (s->phase == 0) {
        out[o++] = '"';
        s->phase = 1;
    }
    o += flush(s, out + o, cap - o);
    o += body(s, (const unsigned char *)in, len, out + o, cap - o, consumed);
    if (s->error || !last || *consumed < len || s->npend)
        return o;
    if (s->need) {
        fail(s, s->lead_off);
        return o;
    }
    if (o < cap) {
        out[o++] = '"';
        s->phase = 2;
    }
    return o;
}
