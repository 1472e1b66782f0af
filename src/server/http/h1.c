#include "server/http/h1.h"

#include <string.h>
#include <strings.h>

/* ---- character classes (RFC 9110 5.6.2) ---- */

static int is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return 1;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* field-vchar / SP / HTAB / obs-text: anything but controls (NUL, CR, LF included) and DEL. */
static int is_value_char(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static int fail(h1_error *err, int status, const char *message)
{
    err->status = status;
    err->message = message;
    return -1;
}

/* ---- finding the head ---- */

size_t h1_head_end(const char *buf, size_t len, size_t *scan)
{
    size_t i = *scan;
    for (; i < len; i++) {
        if (buf[i] != '\n')
            continue;
        if (i + 1 < len && buf[i + 1] == '\n')
            return i + 2;
        if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
            return i + 3;
        if (i + 2 >= len) /* the next line has not fully arrived: look again from this LF */
            break;
    }
    *scan = i;
    return 0;
}

size_t h1_skip_empty_lines(const char *buf, size_t len)
{
    size_t n = 0;
    while (n + 1 < len && buf[n] == '\r' && buf[n + 1] == '\n')
        n += 2;
    return n;
}

int h1_head_too_big(const char *buf, size_t len, const h1_limits *lim, h1_error *err)
{
    const char *eol = memchr(buf, '\n', len);
    if (!eol && len > lim->max_target + 64)
        return fail(err, 414, "The request URL is too long."), 1;
    if (len > lim->max_head)
        return fail(err, 431, "The request headers are too large."), 1;
    return 0;
}

/* ---- the request line ---- */

/* Reduces an absolute-form target (http://host/path?q) to its origin form. */
static int origin_form(char **t, size_t *n)
{
    char *s = *t;
    size_t len = *n;
    if (len >= 1 && s[0] == '/')
        return 0;
    if (len == 1 && s[0] == '*')
        return 0;
    size_t skip = 0;
    if (len > 7 && !strncasecmp(s, "http://", 7))
        skip = 7;
    else if (len > 8 && !strncasecmp(s, "https://", 8))
        skip = 8;
    else
        return -1;
    char *path = memchr(s + skip, '/', len - skip);
    char *query = memchr(s + skip, '?', len - skip);
    if (!path || (query && query < path)) { /* no path: "/" (keeping the query) */
        if (!query)
            return (*t = "/", *n = 1), 0;
        query[-1] = '/'; /* the byte before '?' belongs to the authority: reuse it */
        *n = len - (size_t)(query - 1 - s);
        *t = query - 1;
        return 0;
    }
    *n = len - (size_t)(path - s);
    *t = path;
    return 0;
}

static int parse_version(const char *v, size_t n, int *minor, h1_error *err)
{
    if (n != 8 || memcmp(v, "HTTP/", 5) || v[6] != '.' || v[5] < '0' || v[5] > '9' || v[7] < '0' ||
        v[7] > '9')
        return fail(err, 400, "The request line is malformed (expected METHOD TARGET HTTP/1.1).");
    if (v[5] != '1')
        return fail(err, 505, "Only HTTP/1.0 and HTTP/1.1 are supported.");
    *minor = v[7] - '0' > 1 ? 1 : v[7] - '0';
    return 0;
}

/* Parses "METHOD SP TARGET SP VERSION" in line[0..n) (without the CRLF). */
static int parse_request_line(char *line, size_t n, const h1_limits *lim, h1_head *h, h1_error *e)
{
    static const char bad[] = "The request line is malformed (expected METHOD TARGET HTTP/1.1).";
    size_t m = 0;
    while (m < n && is_tchar((unsigned char)line[m]))
        m++;
    if (m == 0 || m == n || line[m] != ' ')
        return fail(e, 400, bad);
    size_t t0 = m + 1, t1 = t0;
    while (t1 < n && line[t1] > 0x20 && line[t1] < 0x7f)
        t1++;
    if (t1 == t0 || t1 == n || line[t1] != ' ')
        return fail(e, 400, bad);
    if (t1 - t0 > lim->max_target)
        return fail(e, 414, "The request URL is too long.");
    if (parse_version(line + t1 + 1, n - t1 - 1, &h->minor, e))
        return -1;
    line[m] = '\0';
    line[t1] = '\0';
    h->method = line;
    h->method_len = m;
    char *t = line + t0;
    size_t tn = t1 - t0;
    if (origin_form(&t, &tn))
        return fail(e, 400, "The request target must be a path (origin-form).");
    h->target = t;
    h->target_len = tn;
    return 0;
}

/* ---- header fields ---- */

/* Parses one field line[0..n) (no CRLF) into f. */
static int parse_field(char *line, size_t n, h1_field *f, h1_error *e)
{
    if (is_ows(line[0]))
        return fail(e, 400, "Obsolete line folding in a header field is not allowed.");
    size_t c = 0;
    while (c < n && is_tchar((unsigned char)line[c]))
        c++;
    if (c == 0 || c == n || line[c] != ':')
        return fail(e, 400,
                    "A header field name is malformed (no whitespace or other characters are "
                    "allowed before the colon).");
    size_t v0 = c + 1, v1 = n;
    while (v0 < n && is_ows(line[v0]))
        v0++;
    for (size_t i = v0; i < n; i++)
        if (!is_value_char((unsigned char)line[i]))
            return fail(e, 400, "A header field value holds a control character.");
    while (v1 > v0 && is_ows(line[v1 - 1]))
        v1--;
    line[c] = '\0';
    line[v1] = '\0';
    f->name = line;
    f->name_len = c;
    f->value = line + v0;
    f->value_len = v1 - v0;
    return 0;
}

/* Splits the head into lines ending in CRLF; a bare CR or LF is an error. */
static int next_line(char *buf, size_t len, size_t *pos, char **line, size_t *n, h1_error *e)
{
    char *s = buf + *pos;
    char *lf = memchr(s, '\n', len - *pos);
    if (!lf || lf == s || lf[-1] != '\r')
        return fail(e, 400, "Header lines must end in CRLF.");
    char *cr = memchr(s, '\r', (size_t)(lf - s));
    if (cr != lf - 1)
        return fail(e, 400, "A bare CR in the request head is not allowed.");
    *line = s;
    *n = (size_t)(lf - 1 - s);
    *pos = (size_t)(lf + 1 - buf);
    return 0;
}

/* ---- framing (RFC 9112 6) ---- */

/* One Content-Length value: "38" or a list of identical values "38, 38". */
static int parse_length_value(const char *v, uint64_t *out, int *have, h1_error *e)
{
    static const char bad[] = "The Content-Length header is invalid.";
    const char *p = v;
    for (;;) {
        uint64_t n = 0;
        const char *d = p;
        while (*p >= '0' && *p <= '9') {
            if (n > (UINT64_C(0x7fffffffffffffff) - (uint64_t)(*p - '0')) / 10)
                return fail(e, 400, bad);
            n = n * 10 + (uint64_t)(*p++ - '0');
        }
        if (p == d)
            return fail(e, 400, bad);
        if (*have && n != *out)
            return fail(e, 400, "Conflicting Content-Length values.");
        *out = n;
        *have = 1;
        while (is_ows(*p))
            p++;
        if (!*p)
            return 0;
        if (*p++ != ',')
            return fail(e, 400, bad);
        while (is_ows(*p))
            p++;
    }
}

typedef struct te_state {
    int elements;
    int chunked_at; /* index of "chunked", or -1 */
    int chunked_count;
    int chunked_params;
    int other;
} te_state;

static void parse_te_value(const char *v, te_state *t)
{
    const char *p = v;
    while (*p) {
        while (is_ows(*p) || *p == ',')
            p++;
        if (!*p)
            break;
        const char *s = p;
        while (*p && *p != ',' && *p != ';' && !is_ows(*p))
            p++;
        size_t n = (size_t)(p - s);
        const char *q = p;
        while (is_ows(*q))
            q++;
        int params = *q == ';';
        while (*p && *p != ',')
            p++;
        if (n == 7 && !strncasecmp(s, "chunked", 7)) {
            t->chunked_at = t->elements;
            t->chunked_count++;
            t->chunked_params |= params;
        } else {
            t->other = 1;
        }
        t->elements++;
    }
}

static int te_framing(const te_state *t, int minor, h1_error *e)
{
    if (minor == 0)
        return fail(e, 400, "Transfer-Encoding is not allowed in an HTTP/1.0 request.");
    if (t->elements == 0)
        return fail(e, 400, "The Transfer-Encoding header is empty.");
    if (t->chunked_count > 1 || t->chunked_params ||
        (t->chunked_count && t->chunked_at != t->elements - 1))
        return fail(e, 400, "The chunked transfer coding must be applied once and last.");
    if (t->other)
        return fail(e, 501,
                    "Unsupported Transfer-Encoding: only chunked is supported (or send a "
                    "Content-Length).");
    return 0;
}

static int has_token(const char *v, const char *tok)
{
    size_t n = strlen(tok);
    for (const char *p = v; *p;) {
        while (is_ows(*p) || *p == ',')
            p++;
        const char *s = p;
        while (*p && *p != ',' && !is_ows(*p))
            p++;
        if ((size_t)(p - s) == n && !strncasecmp(s, tok, n))
            return 1;
        while (*p && *p != ',')
            p++;
    }
    return 0;
}

typedef struct frame_scan {
    te_state te;
    int have_te, have_cl, hosts;
} frame_scan;

static int scan_field(const h1_field *f, h1_head *h, frame_scan *s, h1_error *e)
{
    if (!strcasecmp(f->name, "content-length"))
        return parse_length_value(f->value, &h->content_length, &s->have_cl, e);
    if (!strcasecmp(f->name, "transfer-encoding")) {
        s->have_te = 1;
        parse_te_value(f->value, &s->te);
    } else if (!strcasecmp(f->name, "host")) {
        s->hosts++;
    } else if (!strcasecmp(f->name, "connection")) {
        if (has_token(f->value, "close"))
            h->keep_alive = 0;
    } else if (!strcasecmp(f->name, "expect")) {
        if (strcasecmp(f->value, "100-continue") != 0)
            return fail(e, 417, "Only 'Expect: 100-continue' is supported.");
        h->expect_continue = h->minor >= 1;
    }
    return 0;
}

static int frame(h1_head *h, h1_error *e)
{
    frame_scan s;
    memset(&s, 0, sizeof s);
    s.te.chunked_at = -1;
    h->keep_alive = h->minor >= 1;
    for (unsigned i = 0; i < h->nfields; i++)
        if (scan_field(&h->fields[i], h, &s, e))
            return -1;
    if (h->minor >= 1 && s.hosts != 1)
        return fail(e, 400, s.hosts ? "More than one Host header." : "The Host header is missing.");
    if (s.have_te && s.have_cl)
        return fail(e, 400, "Content-Length and Transfer-Encoding must not be sent together.");
    if (s.have_te) {
        if (te_framing(&s.te, h->minor, e))
            return -1;
        h->framing = H1_BODY_CHUNKED;
    } else if (s.have_cl && h->content_length > 0) {
        h->framing = H1_BODY_LENGTH;
    }
    return 0;
}

int h1_parse_head(
    char *buf, size_t len, const h1_limits *lim, h1_field *fields, h1_head *out, h1_error *err)
{
    memset(out, 0, sizeof *out);
    out->fields = fields;
    size_t pos = 0;
    char *line;
    size_t n;
    if (len > lim->max_head)
        return fail(err, 431, "The request headers are too large.");
    if (next_line(buf, len, &pos, &line, &n, err) || parse_request_line(line, n, lim, out, err))
        return -1;
    for (;;) {
        if (next_line(buf, len, &pos, &line, &n, err))
            return -1;
        if (n == 0)
            break;
        if (out->nfields == lim->max_fields)
            return fail(err, 431, "Too many header fields.");
        if (parse_field(line, n, &fields[out->nfields], err))
            return -1;
        out->nfields++;
    }
    return frame(out, err);
}

const char *h1_field_get(const h1_head *h, const char *name)
{
    for (unsigned i = 0; i < h->nfields; i++)
        if (!strcasecmp(h->fields[i].name, name))
            return h->fields[i].value;
    return NULL;
}

/* ---- chunked ---- */

enum {
    C_SIZE,      /* hex digits */
    C_SIZE_WS,   /* whitespace after the digits: only ';' or CR may follow */
    C_EXT,       /* chunk extensions up to CR */
    C_SIZE_LF,   /* LF after the size line */
    C_DATA,      /* chunk data */
    C_DATA_CR,   /* CRLF after the data */
    C_DATA_LF,   /* */
    C_TRAILER,   /* start of a trailer line, or the final CRLF */
    C_TRAILER_L, /* inside a trailer line */
    C_TRAILER_LF,
    C_END_LF,
    C_DONE,
    C_ERR,
};

void h1_chunked_init(h1_chunked *c)
{
    memset(c, 0, sizeof *c);
    c->state = C_SIZE;
}

static int hexval(char ch)
{
    return ch >= '0' && ch <= '9'   ? ch - '0'
           : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
           : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                    : -1;
}

static int cfail(h1_chunked *c, const char *msg)
{
    c->state = C_ERR;
    c->error = msg;
    return H1C_ERROR;
}

/* The chunk-size line: size, optional whitespace and extensions, CRLF. */
static int size_byte(h1_chunked *c, char ch)
{
    if (++c->line > H1_CHUNK_LINE_MAX)
        return cfail(c, "A chunk-size line (with its extensions) is too long.");
    int v = hexval(ch);
    if (c->state == C_SIZE && v >= 0) {
        if (++c->digits > 15)
            return cfail(c, "A chunk size is too large.");
        c->left = c->left * 16 + (uint64_t)v;
        return 0;
    }
    if (c->state == C_SIZE && c->digits == 0)
        return cfail(c, "A chunk size is malformed.");
    if (ch == '\r')
        return c->state = C_SIZE_LF, 0;
    if (c->state == C_EXT)
        return is_value_char((unsigned char)ch) ? 0 : cfail(c, "A chunk extension is malformed.");
    if (is_ows(ch))
        return c->state = C_SIZE_WS, 0;
    if (ch == ';')
        return c->state = C_EXT, 0;
    return cfail(c, "A chunk size is malformed.");
}

static int trailer_byte(h1_chunked *c, char ch)
{
    if (++c->trailers > H1_TRAILER_MAX)
        return cfail(c, "The chunked trailer section is too large.");
    if (c->state == C_TRAILER && ch == '\r')
        return c->state = C_END_LF, 0;
    if (ch == '\r')
        return c->state = C_TRAILER_LF, 0;
    if (!is_value_char((unsigned char)ch))
        return cfail(c, "A chunked trailer line is malformed.");
    c->state = C_TRAILER_L;
    return 0;
}

static int lf_byte(h1_chunked *c, char ch)
{
    if (ch != '\n')
        return cfail(c, "Chunked framing lines must end in CRLF.");
    switch (c->state) {
    case C_SIZE_LF:
        c->line = 0;
        c->digits = 0;
        c->state = c->left ? C_DATA : C_TRAILER;
        return 0;
    case C_DATA_LF:
        c->state = C_SIZE;
        return 0;
    case C_TRAILER_LF:
        c->state = C_TRAILER;
        return 0;
    default: /* C_END_LF */
        c->state = C_DONE;
        return 0;
    }
}

static int control_byte(h1_chunked *c, char ch)
{
    switch (c->state) {
    case C_SIZE:
    case C_SIZE_WS:
    case C_EXT:
        return size_byte(c, ch);
    case C_DATA_CR:
        if (ch != '\r')
            return cfail(c, "Chunk data is longer than its size.");
        c->state = C_DATA_LF;
        return 0;
    case C_TRAILER:
    case C_TRAILER_L:
        return trailer_byte(c, ch);
    default:
        return lf_byte(c, ch);
    }
}

int h1_chunked_feed(
    h1_chunked *c, const char *in, size_t len, size_t *used, const char **data, size_t *data_len)
{
    size_t i = 0;
    if (c->state == C_ERR)
        return *used = 0, H1C_ERROR;
    while (i < len && c->state != C_DONE) {
        if (c->state == C_DATA) {
            size_t n = len - i < c->left ? len - i : (size_t)c->left;
            c->left -= n;
            if (!c->left)
                c->state = C_DATA_CR;
            *data = in + i;
            *data_len = n;
            *used = i + n;
            return H1C_DATA;
        }
        if (control_byte(c, in[i++]) < 0)
            return *used = i, H1C_ERROR;
    }
    *used = i;
    return c->state == C_DONE ? H1C_DONE : H1C_NEED;
}
