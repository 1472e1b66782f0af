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

/* The length of the complete, valid multi-byte sequence at p (n bytes there), or 0 if it is
 * not one (invalid, or cut by the end of the piece): the byte-wise path then decides. */
static size_t whole_seq(const unsigned char *p, size_t n)
{
    unsigned c = p[0], lo = 0x80, hi = 0xbf;
    size_t len;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        lo = c == 0xe0 ? 0xa0 : 0x80;
        hi = c == 0xed ? 0x9f : 0xbf;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        lo = c == 0xf0 ? 0x90 : 0x80;
        hi = c == 0xf4 ? 0x8f : 0xbf;
    } else {
        return 0;
    }
    if (n < len || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t k = 2; k < len; k++)
        if ((p[k] & 0xc0) != 0x80)
            return 0;
    return len;
}

/* The bytes of w that need a look (not plain ASCII) have their high bit set in the result;
 * the lowest one is exact (the "has a zero byte" trick of Hacker's Delight: a borrow only
 * ever flags bytes above a true hit). */
static uint64_t hits8(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
    uint64_t quote = w ^ (ones * '"'), bslash = w ^ (ones * '\\');
    uint64_t ctl = (w - ones * 0x20) & ~w;
    return (ctl | ((quote - ones) & ~quote) | ((bslash - ones) & ~bslash) | w) & high;
}

/* The fast path: the longest prefix of p[0..n), at most max bytes, made of plain ASCII and
 * whole valid sequences, all of which are copied as they are. Eight bytes at a time while
 * they are plain. */
static size_t raw_run(const unsigned char *p, size_t n, size_t max)
{
    size_t i = 0, k;
    uint64_t w, hit;
    if (max > n)
        max = n;
    while (i < max) {
        if (i + 8 <= max) {
            memcpy(&w, p + i, 8);
            if ((hit = hits8(w)) == 0) {
                i += 8;
                continue;
            }
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            i += (size_t)__builtin_ctzll(hit) >> 3; /* to the first byte that needs a look */
#endif
        }
        if (plain(p[i]))
            i++;
        else if (p[i] >= 0x80 && (k = whole_seq(p + i, n - i)) != 0 && i + k <= max)
            i += k;
        else
            break;
    }
    return i;
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

/* The fast path of measure: from p[0..n), what needs no state (plain ASCII, escapes, whole
 * sequences), counted into *out_len; stops before a byte >= 0x80 that does not start a whole
 * valid sequence. Returns the input used. */
static size_t fast_measure(const unsigned char *p, size_t n, uint64_t *out_len)
{
    size_t i = 0;
    char e[6];
    while (i < n) {
        size_t run = raw_run(p + i, n - i, n - i);
        i += run;
        *out_len += run;
        if (i == n || p[i] >= 0x80)
            break;
        *out_len += escape(p[i++], e);
    }
    return i;
}

int argot_jsonstr_measure(argot_jsonstr *s, const char *in, size_t len)
{
    const unsigned char *p = (const unsigned char *)in;
    if (s->error)
        return -1;
    for (size_t i = 0; i < len;) {
        if (!s->need) {
            size_t run = fast_measure(p + i, len - i, &s->out_len);
            i += run;
            s->in_off += run;
            if (i == len)
                break;
        }
        /* One byte of a sequence that is cut by the end of in, or invalid. */
        if (utf8_byte(s, p[i]))
            return -1;
        s->out_len++;
        s->in_off++;
        i++;
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

/* The fast path of encode: from p[0..n) into out[0..room), plain ASCII and whole sequences
 * copied, escapes written whole; stops before what does not fit whole and before a byte >= 0x80
 * that does not start a whole valid sequence. Returns the bytes written; *used the input. */
static size_t fast_encode(const unsigned char *p, size_t n, char *out, size_t room, size_t *used)
{
    size_t i = 0, o = 0;
    while (i < n) {
        size_t run = raw_run(p + i, n - i, room - o);
        memcpy(out + o, p + i, run);
        i += run;
        o += run;
        if (i == n || p[i] >= 0x80 || plain(p[i]) || room - o < 6)
            break;
        o += escape(p[i++], out + o);
    }
    *used = i;
    return o;
}

/* Encodes in until out is full, the input ends or an error; *used says how much input. */
static size_t body(
    argot_jsonstr *s, const unsigned char *p, size_t len, char *out, size_t cap, size_t *used)
{
    size_t o = 0, i = 0;
    while (o < cap && i < len && !s->npend) {
        if (!s->need) {
            size_t k, w = fast_encode(p + i, len - i, out + o, cap - o, &k);
            o += w;
            i += k;
            s->in_off += k;
            if (o == cap || i == len)
                break;
        }
        unsigned c = p[i];
        if (!s->need && c < 0x80) { /* an escape that does not fit whole */
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
