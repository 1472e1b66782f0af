/*
 * Streaming multipart/form-data parser. See multipart.h for the contract and
 * docs/multipart.md for what is accepted and refused.
 *
 * The delimiter is searched for as "\r\n--" boundary. Because a boundary never contains CR,
 * the delimiter has exactly one CR (its first byte), so a failed partial match can never hide
 * the start of another match: no KMP table is needed, and the bytes held back between two
 * feeds are always a prefix of the delimiter. We therefore hold back nothing but a count
 * (p->held) and replay the held bytes from p->delim when they turn out to be data.
 *
 * The first boundary may start at offset 0 without a CRLF: the parser starts in the preamble
 * with held = 2, as if a CRLF had already been seen.
 */
#include "server/http/multipart.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum state {
    S_PREAMBLE, /* discarding bytes until the first delimiter */
    S_DELIM,    /* just after "\r\n--boundary": expect "--", padding or CRLF */
    S_PAD,      /* transport padding after the boundary */
    S_DELIM_CR, /* saw CR after the boundary; expect LF */
    S_DASH,     /* saw one '-' after the boundary; expect the second */
    S_HEADERS,  /* buffering part header lines */
    S_BODY,     /* part content */
    S_EPILOGUE, /* after the closing delimiter: everything is ignored */
};

struct mp_parser {
    mp_callbacks cb;
    void *userdata;
    size_t max_hdr;
    unsigned max_parts;
    unsigned nparts;
    enum state state;
    int err;
    int cb_result;
    const char *msg;
    size_t held; /* bytes of delim matched at the end of the previous feed */
    size_t delim_len;
    char delim[MP_BOUNDARY_MAX + 4];
    size_t hdr_len;    /* bytes in hdr */
    size_t line_start; /* offset in hdr of the line being read */
    char *hdr;         /* max_hdr bytes of raw header lines */
    size_t out_len;
    size_t out_cap;
    char *out; /* decoded name, filename and content type, NUL-terminated */
};

/* Decoded header values of one part, as offsets into p->out (SIZE_MAX when absent). */
typedef struct part_hdrs {
    size_t name, name_len;
    size_t filename, filename_len;
    size_t filename_star, filename_star_len;
    size_t ctype;
    int have_cd;
} part_hdrs;

typedef struct cursor {
    const char *s;
    const char *end;
} cursor;

#define NONE SIZE_MAX

static const char MSG_OK[] = "No error.";
static const char MSG_SYNTAX[] = "Malformed multipart body.";
static const char MSG_DELIM_LINE[] =
    "Malformed multipart body: a boundary must be followed by CRLF or \"--\".";
static const char MSG_HDR_CRLF[] =
    "Malformed multipart body: part header lines must end with CRLF.";
static const char MSG_HDR_CTL[] =
    "Malformed multipart body: part headers contain a control character.";
static const char MSG_HDR_FOLD[] =
    "Malformed multipart body: folded part header lines are not supported.";
static const char MSG_HDR_LINE[] = "Malformed multipart body: invalid part header line.";
static const char MSG_HDR_DUP[] = "Malformed multipart body: duplicate part header.";
static const char MSG_CD[] = "Malformed multipart body: invalid Content-Disposition header.";
static const char MSG_CD_TYPE[] =
    "Malformed multipart body: Content-Disposition of a part must be form-data.";
static const char MSG_NO_NAME[] =
    "Malformed multipart body: a part has no Content-Disposition form-data name.";
static const char MSG_NAME_NUL[] = "Malformed multipart body: a part name contains a NUL byte.";
static const char MSG_EXT[] = "Malformed multipart body: invalid filename* parameter.";
static const char MSG_CHARSET[] =
    "Malformed multipart body: filename* charset must be UTF-8 or ISO-8859-1.";
static const char MSG_HEADERS[] = "Multipart part headers are too large.";
static const char MSG_PARTS[] = "Multipart body has too many parts.";
static const char MSG_TRUNCATED[] = "Multipart body is truncated: closing boundary not found.";
static const char MSG_NO_BOUNDARY[] = "Multipart body is truncated: no boundary found.";
static const char MSG_UNSUPPORTED[] =
    "Multipart Content-Transfer-Encoding is not supported; send parts as binary.";
static const char MSG_CALLBACK[] = "Multipart upload was aborted while processing a part.";
static const char MSG_NOMEM[] = "Out of memory while parsing the multipart body.";
static const char MSG_BOUNDARY[] = "Invalid or missing multipart boundary.";

const char *mp_strerror(int err)
{
    switch (err) {
    case MP_OK:
        return MSG_OK;
    case MP_E_SYNTAX:
        return MSG_SYNTAX;
    case MP_E_HEADERS:
        return MSG_HEADERS;
    case MP_E_PARTS:
        return MSG_PARTS;
    case MP_E_TRUNCATED:
        return MSG_TRUNCATED;
    case MP_E_UNSUPPORTED:
        return MSG_UNSUPPORTED;
    case MP_E_CALLBACK:
        return MSG_CALLBACK;
    case MP_E_NOMEM:
        return MSG_NOMEM;
    case MP_E_BOUNDARY:
        return MSG_BOUNDARY;
    default:
        return "Unknown multipart error.";
    }
}

/* ---- character classes ------------------------------------------------------------------ */

static int is_ows(int c)
{
    return c == ' ' || c == '\t';
}

static int is_ctl(unsigned char c)
{
    return (c < 0x20 && c != '\t') || c == 0x7f;
}

/* RFC 7230 tchar. */
static int is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return 1;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* RFC 2046 bchars, space included (it may not be the last character). */
static int is_bchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return 1;
    return c != '\0' && strchr("'()+_,-./:=? ", c) != NULL;
}

static int lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

/* Case-insensitive ASCII comparison of s[0..len) with the NUL-terminated lit. */
static int ieq(const char *s, size_t len, const char *lit)
{
    size_t i;
    for (i = 0; i < len; i++) {
        if (lit[i] == '\0' || lower((unsigned char)s[i]) != lit[i])
            return 0;
    }
    return lit[i] == '\0';
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = lower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static int valid_boundary(const char *b, size_t len)
{
    if (len < 1 || len > MP_BOUNDARY_MAX || b[len - 1] == ' ')
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (!is_bchar((unsigned char)b[i]))
            return 0;
    }
    return 1;
}

/* ---- small parsing cursor shared by Content-Type and Content-Disposition ------------------ */

static void skip_ows(cursor *c)
{
    while (c->s < c->end && is_ows(*c->s))
        c->s++;
}

static int at(const cursor *c, char ch)
{
    return c->s < c->end && *c->s == ch;
}

/* A token, tolerantly: any run of bytes other than OWS, CTLs, ';', '=' and '"'. Returns its
 * length (0 when there is none). */
static size_t take_token(cursor *c, const char **tok, int allow_eq)
{
    const char *start = c->s;
    while (c->s < c->end) {
        unsigned char ch = (unsigned char)*c->s;
        if (is_ows(ch) || is_ctl(ch) || ch == ';' || ch == '"' || (ch == '=' && !allow_eq))
            break;
        c->s++;
    }
    *tok = start;
    return (size_t)(c->s - start);
}

/* A quoted-string at c->s (which is '"'). The unescaped content is written to dst, at most cap
 * bytes of it; *dst_len gets its full length. A backslash escapes only '"' and '\' and is kept
 * literally before anything else, because browsers send Windows paths unescaped. */
static int take_quoted(cursor *c, char *dst, size_t cap, size_t *dst_len)
{
    size_t n = 0;
    c->s++;
    while (c->s < c->end) {
        char ch = *c->s++;
        if (ch == '"') {
            *dst_len = n;
            return 0;
        }
        if (ch == '\\' && c->s < c->end && (*c->s == '"' || *c->s == '\\'))
            ch = *c->s++;
        if (n < cap)
            dst[n] = ch;
        n++;
    }
    return -1; /* unterminated */
}

/* ---- mp_boundary_from_content_type -------------------------------------------------------- */

/* Parses one name "=" value parameter; at most cap bytes of the value go to val, *val_len gets
 * its full length. */
static int ct_param(
    cursor *c, const char **name, size_t *name_len, char *val, size_t cap, size_t *val_len)
{
    skip_ows(c);
    *name_len = take_token(c, name, 0);
    skip_ows(c);
    if (*name_len == 0 || !at(c, '='))
        return -1;
    c->s++;
    skip_ows(c);
    if (at(c, '"'))
        return take_quoted(c, val, cap, val_len);
    const char *tok;
    *val_len = take_token(c, &tok, 1);
    memcpy(val, tok, *val_len < cap ? *val_len : cap);
    return *val_len ? 0 : -1;
}

static int ct_boundary(const char *content_type, char out[MP_BOUNDARY_MAX + 1])
{
    char val[MP_BOUNDARY_MAX + 1];
    int found = 0;
    out[0] = '\0';
    if (content_type == NULL)
        return MP_E_BOUNDARY;
    cursor c = {content_type, content_type + strlen(content_type)};
    const char *mt;
    skip_ows(&c);
    size_t mt_len = take_token(&c, &mt, 0);
    if (!ieq(mt, mt_len, "multipart/form-data"))
        return MP_E_BOUNDARY;
    for (;;) {
        skip_ows(&c);
        if (c.s == c.end)
            break;
        if (!at(&c, ';'))
            return MP_E_BOUNDARY;
        c.s++;
        skip_ows(&c);
        if (c.s == c.end || at(&c, ';'))
            continue; /* empty parameter, e.g. a trailing ';' */
        const char *name;
        size_t name_len, val_len;
        if (ct_param(&c, &name, &name_len, val, sizeof(val), &val_len) != 0)
            return MP_E_BOUNDARY;
        if (!ieq(name, name_len, "boundary"))
            continue;
        if (found || !valid_boundary(val, val_len))
            return MP_E_BOUNDARY;
        memcpy(out, val, val_len);
        out[val_len] = '\0';
        found = 1;
    }
    return found ? MP_OK : MP_E_BOUNDARY;
}

int mp_boundary_from_content_type(const char *content_type, char out[MP_BOUNDARY_MAX + 1])
{
    int rc = ct_boundary(content_type, out);
    if (rc != MP_OK)
        out[0] = '\0';
    return rc;
}

/* ---- parser lifecycle -------------------------------------------------------------------- */

int mp_parser_new(mp_parser **out,
                  const char *boundary,
                  const mp_limits *limits,
                  const mp_callbacks *cb,
                  void *userdata)
{
    mp_limits lim = MP_LIMITS_DEFAULT;
    *out = NULL;
    size_t blen = 0;
    while (boundary != NULL && blen <= MP_BOUNDARY_MAX && boundary[blen] != '\0')
        blen++;
    if (boundary == NULL || !valid_boundary(boundary, blen))
        return MP_E_BOUNDARY;
    if (limits != NULL && limits->max_header_bytes != 0)
        lim.max_header_bytes = limits->max_header_bytes;
    if (limits != NULL && limits->max_parts != 0)
        lim.max_parts = limits->max_parts;
    /* Decoded values are never longer than their raw bytes, so out needs max_hdr plus the
     * NULs of at most four values. */
    size_t out_cap = lim.max_header_bytes + 8;
    if (lim.max_header_bytes > (SIZE_MAX - sizeof(mp_parser) - 8) / 2)
        return MP_E_NOMEM;
    mp_parser *p = malloc(sizeof(*p) + lim.max_header_bytes + out_cap);
    if (p == NULL)
        return MP_E_NOMEM;
    memset(p, 0, sizeof(*p));
    if (cb != NULL)
        p->cb = *cb;
    p->userdata = userdata;
    p->max_hdr = lim.max_header_bytes;
    p->max_parts = lim.max_parts;
    p->state = S_PREAMBLE;
    p->msg = MSG_OK;
    p->delim_len = blen + 4;
    memcpy(p->delim, "\r\n--", 4); /* NOLINT(bugprone-not-null-terminated-result) */
    memcpy(p->delim + 4, boundary, blen);
    p->held = 2; /* a boundary at offset 0 needs no CRLF before it */
    p->hdr = (char *)(p + 1);
    p->out = p->hdr + p->max_hdr;
    p->out_cap = out_cap;
    *out = p;
    return MP_OK;
}

void mp_parser_free(mp_parser *p)
{
    free(p);
}

int mp_parser_cb_result(const mp_parser *p)
{
    return p->err == MP_E_CALLBACK ? p->cb_result : 0;
}

const char *mp_parser_errmsg(const mp_parser *p)
{
    return p == NULL ? MSG_NOMEM : p->msg;
}

static int fail(mp_parser *p, int err, const char *msg)
{
    p->err = err;
    p->msg = msg;
    return err;
}

static int cb_fail(mp_parser *p, int rc)
{
    p->cb_result = rc;
    return fail(p, MP_E_CALLBACK, MSG_CALLBACK);
}

/* ---- content and preamble ---------------------------------------------------------------- */

static int emit(mp_parser *p, const char *data, size_t len)
{
    if (p->state != S_BODY || len == 0 || p->cb.part_data == NULL)
        return MP_OK;
    int rc = p->cb.part_data(data, len, p->userdata);
    return rc ? cb_fail(p, rc) : MP_OK;
}

static int delim_found(mp_parser *p)
{
    if (p->state == S_BODY && p->cb.part_end != NULL) {
        int rc = p->cb.part_end(p->userdata);
        if (rc)
            return cb_fail(p, rc);
    }
    p->state = S_DELIM;
    return MP_OK;
}

/* Continues a partial delimiter match carried over from the previous feed. */
static int scan_held(mp_parser *p, const char *buf, size_t len, size_t *used, int *done)
{
    size_t k = p->delim_len - p->held;
    *done = 1;
    if (k > len)
        k = len;
    if (memcmp(buf, p->delim + p->held, k) == 0) {
        p->held += k;
        *used = k;
        if (p->held < p->delim_len)
            return MP_OK;
        p->held = 0;
        return delim_found(p);
    }
    /* The held bytes were content after all; buf is rescanned from its start. */
    size_t held = p->held;
    p->held = 0;
    *done = 0;
    return emit(p, p->delim, held);
}

/* S_PREAMBLE and S_BODY: hands out content in the longest runs, up to the next delimiter. */
static int scan(mp_parser *p, const char *buf, size_t len, size_t *used)
{
    const char *d = p->delim;
    size_t dl = p->delim_len, pos = 0;
    if (p->held) {
        int done, rc = scan_held(p, buf, len, used, &done);
        if (rc || done)
            return rc;
    }
    for (;;) {
        const char *r = memchr(buf + pos, '\r', len - pos);
        if (r == NULL) {
            *used = len;
            return emit(p, buf, len);
        }
        size_t off = (size_t)(r - buf), avail = len - off;
        size_t k = avail < dl ? avail : dl;
        if ((k < 2 || r[1] == '\n') && memcmp(r, d, k) == 0) {
            int rc = emit(p, buf, off);
            if (rc)
                return rc;
            if (k < dl) {
                p->held = k;
                *used = len;
                return MP_OK;
            }
            *used = off + dl;
            return delim_found(p);
        }
        pos = off + 1;
    }
}

/* ---- the rest of the boundary line ------------------------------------------------------- */

static int part_start(mp_parser *p)
{
    if (p->nparts >= p->max_parts)
        return fail(p, MP_E_PARTS, MSG_PARTS);
    p->nparts++;
    p->state = S_HEADERS;
    p->hdr_len = 0;
    p->line_start = 0;
    return MP_OK;
}

static int delim_line(mp_parser *p, char ch)
{
    enum state st = p->state;
    int line = st == S_DELIM || st == S_PAD;
    if (st == S_DELIM && ch == '-') {
        p->state = S_DASH;
    } else if (line && is_ows(ch)) {
        p->state = S_PAD;
    } else if (line && ch == '\r') {
        p->state = S_DELIM_CR;
    } else if (st == S_DELIM_CR && ch == '\n') {
        return part_start(p);
    } else if (st == S_DASH && ch == '-') {
        p->state = S_EPILOGUE;
    } else {
        return fail(p, MP_E_SYNTAX, MSG_DELIM_LINE);
    }
    return MP_OK;
}

/* ---- part headers ------------------------------------------------------------------------ */

static int out_put(mp_parser *p, const char *s, size_t len, size_t *off)
{
    if (p->out_cap - p->out_len < len + 1)
        return fail(p, MP_E_HEADERS, MSG_HEADERS); /* cannot happen: see mp_parser_new */
    memcpy(p->out + p->out_len, s, len);
    *off = p->out_len;
    p->out_len += len;
    p->out[p->out_len++] = '\0';
    return MP_OK;
}

/* Decodes an RFC 5987 ext-value (charset'lang'pct-encoded) in place at p->out[off..off+len)
 * and converts ISO-8859-1 to UTF-8. The write position never passes the read position: the
 * prefix "x''" is at least three bytes and a "%XX" (three bytes) becomes at most two. */
static int ext_decode(mp_parser *p, size_t off, size_t *len)
{
    char *s = p->out + off, *end = s + *len;
    char *q1 = memchr(s, '\'', *len);
    char *q2 = q1 ? memchr(q1 + 1, '\'', (size_t)(end - q1 - 1)) : NULL;
    if (q2 == NULL)
        return fail(p, MP_E_SYNTAX, MSG_EXT);
    size_t cs_len = (size_t)(q1 - s);
    int latin1 = ieq(s, cs_len, "iso-8859-1");
    if (!latin1 && !ieq(s, cs_len, "utf-8") && !ieq(s, cs_len, "us-ascii"))
        return fail(p, MP_E_SYNTAX, MSG_CHARSET);
    char *w = s;
    for (const char *r = q2 + 1; r < end; r++) {
        unsigned char ch = (unsigned char)*r;
        if (ch == '%') {
            int hi = r + 2 < end ? hexval((unsigned char)r[1]) : -1;
            int lo = hi >= 0 ? hexval((unsigned char)r[2]) : -1;
            if (lo < 0)
                return fail(p, MP_E_SYNTAX, MSG_EXT);
            ch = (unsigned char)(hi * 16 + lo);
            r += 2;
        } else if (ch >= 0x80 && latin1) {
            return fail(p, MP_E_SYNTAX, MSG_EXT); /* must be percent-encoded */
        }
        if (latin1 && ch >= 0x80) {
            *w++ = (char)(0xc0 | (ch >> 6));
            *w++ = (char)(0x80 | (ch & 0x3f));
        } else {
            *w++ = (char)ch;
        }
    }
    *len = (size_t)(w - s);
    *w = '\0';
    return MP_OK;
}

/* Stores one Content-Disposition parameter value (quoted or token) into p->out. */
static int cd_value(mp_parser *p, cursor *c, size_t *off, size_t *len)
{
    if (at(c, '"')) {
        size_t start = p->out_len;
        /* out has room for the raw length: see out_put. */
        if (p->out_cap - start < (size_t)(c->end - c->s) + 1)
            return fail(p, MP_E_HEADERS, MSG_HEADERS);
        if (take_quoted(c, p->out + start, p->out_cap - start, len) != 0)
            return fail(p, MP_E_SYNTAX, MSG_CD);
        p->out[start + *len] = '\0';
        p->out_len = start + *len + 1;
        *off = start;
        return MP_OK;
    }
    const char *tok;
    *len = take_token(c, &tok, 1);
    if (*len == 0)
        return fail(p, MP_E_SYNTAX, MSG_CD);
    return out_put(p, tok, *len, off);
}

static int cd_param(mp_parser *p, cursor *c, part_hdrs *h)
{
    const char *name;
    size_t name_len = take_token(c, &name, 0), *off, *len;
    skip_ows(c);
    if (name_len == 0 || !at(c, '='))
        return fail(p, MP_E_SYNTAX, MSG_CD);
    c->s++;
    skip_ows(c);
    size_t ignored_off, ignored_len;
    if (ieq(name, name_len, "name")) {
        off = &h->name, len = &h->name_len;
    } else if (ieq(name, name_len, "filename")) {
        off = &h->filename, len = &h->filename_len;
    } else if (ieq(name, name_len, "filename*")) {
        off = &h->filename_star, len = &h->filename_star_len;
    } else {
        /* Unknown parameters are skipped; they still take room in out, which is fine. */
        size_t save = p->out_len;
        int rc = cd_value(p, c, &ignored_off, &ignored_len);
        p->out_len = save;
        return rc;
    }
    if (*off != NONE)
        return fail(p, MP_E_SYNTAX, MSG_CD);
    int rc = cd_value(p, c, off, len);
    if (rc == MP_OK && off == &h->filename_star)
        rc = ext_decode(p, *off, len);
    return rc;
}

static int content_disposition(mp_parser *p, cursor *c, part_hdrs *h)
{
    const char *type;
    if (h->have_cd)
        return fail(p, MP_E_SYNTAX, MSG_HDR_DUP);
    h->have_cd = 1;
    size_t type_len = take_token(c, &type, 0);
    if (!ieq(type, type_len, "form-data"))
        return fail(p, MP_E_SYNTAX, MSG_CD_TYPE);
    for (;;) {
        skip_ows(c);
        if (c->s == c->end)
            return MP_OK;
        if (!at(c, ';'))
            return fail(p, MP_E_SYNTAX, MSG_CD);
        c->s++;
        skip_ows(c);
        if (c->s == c->end || at(c, ';'))
            continue; /* tolerate empty parameters */
        int rc = cd_param(p, c, h);
        if (rc)
            return rc;
    }
}

static int header_line(mp_parser *p, const char *line, size_t len, part_hdrs *h)
{
    const char *colon = memchr(line, ':', len);
    if (colon == NULL || colon == line)
        return fail(p, MP_E_SYNTAX, MSG_HDR_LINE);
    size_t name_len = (size_t)(colon - line);
    for (size_t i = 0; i < name_len; i++) {
        if (!is_tchar((unsigned char)line[i]))
            return fail(p, MP_E_SYNTAX, MSG_HDR_LINE);
    }
    cursor c = {colon + 1, line + len};
    skip_ows(&c);
    while (c.end > c.s && is_ows(c.end[-1]))
        c.end--;
    if (ieq(line, name_len, "content-disposition"))
        return content_disposition(p, &c, h);
    if (ieq(line, name_len, "content-type")) {
        if (h->ctype != NONE)
            return fail(p, MP_E_SYNTAX, MSG_HDR_DUP);
        return out_put(p, c.s, (size_t)(c.end - c.s), &h->ctype);
    }
    if (ieq(line, name_len, "content-transfer-encoding")) {
        size_t vlen = (size_t)(c.end - c.s);
        if (!ieq(c.s, vlen, "binary") && !ieq(c.s, vlen, "8bit") && !ieq(c.s, vlen, "7bit"))
            return fail(p, MP_E_UNSUPPORTED, MSG_UNSUPPORTED);
    }
    return MP_OK; /* other headers are ignored */
}

/* Parses the complete header block in p->hdr and starts the part's content. */
static int headers_done(mp_parser *p)
{
    part_hdrs h = {NONE, 0, NONE, 0, NONE, 0, NONE, 0};
    size_t pos = 0, end = p->hdr_len - 2; /* without the empty line */
    p->out_len = 0;
    while (pos < end) {
        const char *line = p->hdr + pos;
        size_t len = (size_t)((const char *)memchr(line, '\r', end - pos) - line);
        int rc = header_line(p, line, len, &h);
        if (rc)
            return rc;
        pos += len + 2;
    }
    if (!h.have_cd || h.name == NONE)
        return fail(p, MP_E_SYNTAX, MSG_NO_NAME);
    if (memchr(p->out + h.name, '\0', h.name_len) != NULL)
        return fail(p, MP_E_SYNTAX, MSG_NAME_NUL);
    mp_part_info info = {p->out + h.name, h.name_len, NULL, 0, NULL};
    if (h.filename_star != NONE) {
        info.filename = p->out + h.filename_star;
        info.filename_len = h.filename_star_len;
    } else if (h.filename != NONE) {
        info.filename = p->out + h.filename;
        info.filename_len = h.filename_len;
    }
    if (h.ctype != NONE)
        info.content_type = p->out + h.ctype;
    p->state = S_BODY;
    if (p->cb.part_begin != NULL) {
        int rc = p->cb.part_begin(&info, p->userdata);
        if (rc)
            return cb_fail(p, rc);
    }
    return MP_OK;
}

/* Checks the line just completed at p->hdr[line_start..hdr_len) (LF included). */
static int header_line_done(mp_parser *p)
{
    const char *line = p->hdr + p->line_start;
    size_t len = p->hdr_len - p->line_start;
    if (len < 2 || line[len - 2] != '\r')
        return fail(p, MP_E_SYNTAX, MSG_HDR_CRLF);
    if (len == 2)
        return headers_done(p);
    if (is_ows(line[0]))
        return fail(p, MP_E_SYNTAX, MSG_HDR_FOLD);
    for (size_t i = 0; i < len - 2; i++) {
        if (line[i] == '\r')
            return fail(p, MP_E_SYNTAX, MSG_HDR_CRLF);
        if (is_ctl((unsigned char)line[i]))
            return fail(p, MP_E_SYNTAX, MSG_HDR_CTL);
    }
    p->line_start = p->hdr_len;
    return MP_OK;
}

/* S_HEADERS: copies up to the end of the next line into p->hdr. */
static int headers(mp_parser *p, const char *buf, size_t len, size_t *used)
{
    const char *lf = memchr(buf, '\n', len);
    size_t n = lf ? (size_t)(lf - buf) + 1 : len;
    if (n > p->max_hdr - p->hdr_len)
        return fail(p, MP_E_HEADERS, MSG_HEADERS);
    memcpy(p->hdr + p->hdr_len, buf, n);
    p->hdr_len += n;
    *used = n;
    return lf ? header_line_done(p) : MP_OK;
}

/* ---- driver ------------------------------------------------------------------------------ */

int mp_parser_feed(mp_parser *p, const char *data, size_t len)
{
    size_t pos = 0;
    if (p->err)
        return p->err;
    while (pos < len) {
        size_t used = 1;
        int rc;
        switch (p->state) {
        case S_PREAMBLE:
        case S_BODY:
            rc = scan(p, data + pos, len - pos, &used);
            break;
        case S_HEADERS:
            rc = headers(p, data + pos, len - pos, &used);
            break;
        case S_EPILOGUE:
            return MP_OK;
        default:
            rc = delim_line(p, data[pos]);
            break;
        }
        if (rc)
            return rc;
        pos += used;
    }
    return MP_OK;
}

int mp_parser_finish(mp_parser *p)
{
    if (p->err)
        return p->err;
    if (p->state == S_EPILOGUE)
        return MP_OK;
    if (p->state == S_PREAMBLE)
        return fail(p, MP_E_TRUNCATED, MSG_NO_BOUNDARY);
    return fail(p, MP_E_TRUNCATED, MSG_TRUNCATED);
}
