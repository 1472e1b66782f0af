/* The incremental XML reader for S3 responses: see s3_xml.h. */
#include "server/blob/s3/s3_xml.h"

#include <string.h>

enum {
    ST_BOM,        /* before anything: maybe a UTF-8 byte order mark */
    ST_TEXT,       /* character data */
    ST_LT,         /* after '<' */
    ST_OPEN_NAME,  /* <name */
    ST_ATTRS,      /* <name ... */
    ST_ATTR_VAL,   /* <name a="... */
    ST_EMPTY_END,  /* <name .../ */
    ST_CLOSE_NAME, /* </name */
    ST_CLOSE_WS,   /* </name  */
    ST_PI,         /* <? ... */
    ST_PI_Q,       /* <? ... ? */
    ST_BANG,       /* <! */
    ST_BANG_DASH,  /* <!- */
    ST_COMMENT,    /* <!-- ... */
    ST_COMMENT_D1, /* <!-- ... - */
    ST_COMMENT_D2, /* <!-- ... -- */
    ST_CDATA_OPEN, /* <![ matching "CDATA[" */
    ST_CDATA,      /* <![CDATA[ ... */
    ST_CDATA_B1,   /* ... ] */
    ST_CDATA_B2,   /* ... ]] */
    ST_ENT,        /* &... */
    ST_DONE_ERR,
};

void s3x_init(s3x_parser *p, s3x_cb cb, void *userdata)
{
    memset(p, 0, sizeof *p);
    p->cb = cb;
    p->userdata = userdata;
    p->state = ST_BOM;
}

const char *s3x_strerror(int err)
{
    switch (err) {
    case S3X_OK:
        return "ok";
    case S3X_E_SYNTAX:
        return "malformed XML";
    case S3X_E_LIMIT:
        return "XML nesting, name or path too long";
    case S3X_E_CALLBACK:
        return "stopped by the consumer";
    case S3X_E_TRUNCATED:
        return "XML document ended early";
    default:
        return "unknown XML error";
    }
}

static int fail(s3x_parser *p, int err)
{
    if (!p->err)
        p->err = err;
    p->state = ST_DONE_ERR;
    return p->err;
}

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int name_start(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c == ':' || c >= 0x80;
}

static int name_char(unsigned char c)
{
    return name_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

static void text_add(s3x_parser *p, const char *s, size_t n)
{
    size_t room = S3X_TEXT_MAX - p->textlen;
    if (n > room) {
        n = room;
        p->text_truncated = 1;
    }
    memcpy(p->text + p->textlen, s, n);
    p->textlen += n;
}

static int text_char(s3x_parser *p, unsigned char c)
{
    if (p->depth == 0 && !is_space(c))
        return fail(p, S3X_E_SYNTAX);
    if (p->depth > 0)
        text_add(p, (const char *)&c, 1);
    return S3X_OK;
}

static void text_reset(s3x_parser *p)
{
    p->textlen = 0;
    p->text_truncated = 0;
}

static int name_add(s3x_parser *p, unsigned char c)
{
    if (p->namelen >= S3X_NAME_MAX)
        return fail(p, S3X_E_LIMIT);
    p->name[p->namelen++] = (char)c;
    return S3X_OK;
}

static int open_element(s3x_parser *p)
{
    size_t need = p->pathlen + (p->depth ? 1 : 0) + p->namelen;
    if (p->root_closed)
        return fail(p, S3X_E_SYNTAX);
    if (p->depth >= S3X_DEPTH_MAX || need > S3X_PATH_MAX)
        return fail(p, S3X_E_LIMIT);
    p->level[p->depth] = p->pathlen;
    if (p->depth)
        p->path[p->pathlen++] = '/';
    memcpy(p->path + p->pathlen, p->name, p->namelen);
    p->pathlen += p->namelen;
    p->path[p->pathlen] = '\0';
    p->depth++;
    p->seen_root = 1;
    text_reset(p);
    if (p->cb(S3X_OPEN, p->path, p->depth, NULL, 0, p->userdata) != 0)
        return fail(p, S3X_E_CALLBACK);
    return S3X_OK;
}

static int close_element(s3x_parser *p, int check_name)
{
    size_t start;
    if (p->depth == 0)
        return fail(p, S3X_E_SYNTAX);
    start = p->level[p->depth - 1] + (p->depth > 1 ? 1 : 0);
    if (check_name &&
        (p->pathlen - start != p->namelen || memcmp(p->path + start, p->name, p->namelen) != 0))
        return fail(p, S3X_E_SYNTAX);
    p->text[p->textlen] = '\0';
    if (p->cb(S3X_CLOSE, p->path, p->depth, p->text, p->textlen, p->userdata) != 0)
        return fail(p, S3X_E_CALLBACK);
    p->depth--;
    p->pathlen = p->level[p->depth];
    p->path[p->pathlen] = '\0';
    text_reset(p);
    if (p->depth == 0)
        p->root_closed = 1;
    return S3X_OK;
}

/* Appends code point cp as UTF-8; refuses NUL, surrogates and values past U+10FFFF. */
static int put_utf8(s3x_parser *p, unsigned long cp)
{
    char u[4];
    size_t n;
    if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
        return fail(p, S3X_E_SYNTAX);
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    if (p->depth > 0)
        text_add(p, u, n);
    return S3X_OK;
}

static int numeric_ref(s3x_parser *p)
{
    unsigned long cp = 0;
    int hex = p->entlen > 1 && (p->ent[1] == 'x');
    size_t i = hex ? 2 : 1;
    if (i >= p->entlen)
        return fail(p, S3X_E_SYNTAX);
    for (; i < p->entlen; i++) {
        unsigned char c = (unsigned char)p->ent[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (hex && c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (hex && c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return fail(p, S3X_E_SYNTAX);
        cp = cp * (hex ? 16 : 10) + d;
        if (cp > 0x10FFFF)
            return fail(p, S3X_E_SYNTAX);
    }
    return put_utf8(p, cp);
}

static int end_entity(s3x_parser *p)
{
    static const struct {
        const char *name;
        char c;
    } named[] = {{"lt", '<'}, {"gt", '>'}, {"amp", '&'}, {"quot", '"'}, {"apos", '\''}};
    p->state = ST_TEXT;
    if (p->depth == 0)
        return fail(p, S3X_E_SYNTAX);
    if (p->entlen > 0 && p->ent[0] == '#')
        return numeric_ref(p);
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
        if (strlen(named[i].name) == p->entlen && memcmp(named[i].name, p->ent, p->entlen) == 0) {
            text_add(p, &named[i].c, 1);
            return S3X_OK;
        }
    }
    return fail(p, S3X_E_SYNTAX);
}

static int st_text(s3x_parser *p, unsigned char c)
{
    if (c == '<') {
        p->state = ST_LT;
    } else if (c == '&') {
        p->state = ST_ENT;
        p->entlen = 0;
    } else {
        return text_char(p, c);
    }
    return S3X_OK;
}

static int st_lt(s3x_parser *p, unsigned char c)
{
    p->namelen = 0;
    if (c == '/') {
        p->state = ST_CLOSE_NAME;
    } else if (c == '?') {
        p->state = ST_PI;
    } else if (c == '!') {
        p->state = ST_BANG;
    } else if (name_start(c)) {
        p->state = ST_OPEN_NAME;
        return name_add(p, c);
    } else {
        return fail(p, S3X_E_SYNTAX);
    }
    return S3X_OK;
}

static int st_open_name(s3x_parser *p, unsigned char c)
{
    if (name_char(c))
        return name_add(p, c);
    if (is_space(c)) {
        p->state = ST_ATTRS;
        return S3X_OK;
    }
    if (c == '/') {
        p->state = ST_EMPTY_END;
        return S3X_OK;
    }
    if (c == '>') {
        p->state = ST_TEXT;
        return open_element(p);
    }
    return fail(p, S3X_E_SYNTAX);
}

static int st_attrs(s3x_parser *p, unsigned char c)
{
    if (c == '"' || c == '\'') {
        p->quote = c;
        p->state = ST_ATTR_VAL;
    } else if (c == '/') {
        p->state = ST_EMPTY_END;
    } else if (c == '>') {
        p->state = ST_TEXT;
        return open_element(p);
    } else if (c == '<') {
        return fail(p, S3X_E_SYNTAX);
    }
    return S3X_OK;
}

static int st_attr_val(s3x_parser *p, unsigned char c)
{
    if (c == p->quote)
        p->state = ST_ATTRS;
    else if (c == '<')
        return fail(p, S3X_E_SYNTAX);
    return S3X_OK;
}

static int st_empty_end(s3x_parser *p, unsigned char c)
{
    int rc;
    if (c != '>')
        return fail(p, S3X_E_SYNTAX);
    p->state = ST_TEXT;
    if ((rc = open_element(p)) != S3X_OK)
        return rc;
    return close_element(p, 0);
}

static int st_close_name(s3x_parser *p, unsigned char c)
{
    if (name_char(c) && (p->namelen > 0 || name_start(c)))
        return name_add(p, c);
    if (p->namelen > 0 && is_space(c)) {
        p->state = ST_CLOSE_WS;
        return S3X_OK;
    }
    if (p->namelen > 0 && c == '>') {
        p->state = ST_TEXT;
        return close_element(p, 1);
    }
    return fail(p, S3X_E_SYNTAX);
}

static int st_close_ws(s3x_parser *p, unsigned char c)
{
    if (is_space(c))
        return S3X_OK;
    if (c == '>') {
        p->state = ST_TEXT;
        return close_element(p, 1);
    }
    return fail(p, S3X_E_SYNTAX);
}

static int st_bang(s3x_parser *p, unsigned char c)
{
    if (c == '-') {
        p->state = ST_BANG_DASH;
    } else if (c == '[' && p->depth > 0) {
        p->state = ST_CDATA_OPEN;
        p->sub = 0;
    } else {
        return fail(p, S3X_E_SYNTAX); /* DOCTYPE and everything else */
    }
    return S3X_OK;
}

static int st_comment(s3x_parser *p, unsigned char c)
{
    switch (p->state) {
    case ST_BANG_DASH:
        if (c != '-')
            return fail(p, S3X_E_SYNTAX);
        p->state = ST_COMMENT;
        break;
    case ST_COMMENT:
        if (c == '-')
            p->state = ST_COMMENT_D1;
        break;
    case ST_COMMENT_D1:
        p->state = c == '-' ? ST_COMMENT_D2 : ST_COMMENT;
        break;
    default: /* ST_COMMENT_D2 */
        if (c == '>')
            p->state = ST_TEXT;
        else if (c != '-')
            p->state = ST_COMMENT;
        break;
    }
    return S3X_OK;
}

static int st_cdata(s3x_parser *p, unsigned char c)
{
    static const char open[] = "CDATA[";
    switch (p->state) {
    case ST_CDATA_OPEN:
        if (c != (unsigned char)open[p->sub])
            return fail(p, S3X_E_SYNTAX);
        if (++p->sub == sizeof open - 1)
            p->state = ST_CDATA;
        break;
    case ST_CDATA:
        if (c == ']')
            p->state = ST_CDATA_B1;
        else
            text_add(p, (const char *)&c, 1);
        break;
    case ST_CDATA_B1:
        if (c == ']') {
            p->state = ST_CDATA_B2;
        } else {
            text_add(p, "]", 1);
            text_add(p, (const char *)&c, 1);
            p->state = ST_CDATA;
        }
        break;
    default: /* ST_CDATA_B2 */
        if (c == '>') {
            p->state = ST_TEXT;
        } else if (c == ']') {
            text_add(p, "]", 1);
        } else {
            text_add(p, "]]", 2);
            text_add(p, (const char *)&c, 1);
            p->state = ST_CDATA;
        }
        break;
    }
    return S3X_OK;
}

static int st_pi(s3x_parser *p, unsigned char c)
{
    if (p->state == ST_PI)
        p->state = c == '?' ? ST_PI_Q : ST_PI;
    else if (c == '>')
        p->state = ST_TEXT;
    else if (c != '?')
        p->state = ST_PI;
    return S3X_OK;
}

static int st_ent(s3x_parser *p, unsigned char c)
{
    if (c == ';')
        return end_entity(p);
    if (p->entlen >= sizeof p->ent || !(name_char(c) || c == '#'))
        return fail(p, S3X_E_SYNTAX);
    p->ent[p->entlen++] = (char)c;
    return S3X_OK;
}

/* A UTF-8 BOM (EF BB BF) may open the document. */
static int st_bom(s3x_parser *p, unsigned char c)
{
    static const unsigned char bom[] = {0xEF, 0xBB, 0xBF};
    if (p->sub < 3 && c == bom[p->sub]) {
        if (++p->sub == 3)
            p->state = ST_TEXT;
        return S3X_OK;
    }
    if (p->sub > 0)
        return fail(p, S3X_E_SYNTAX);
    p->state = ST_TEXT;
    return st_text(p, c);
}

static int step(s3x_parser *p, unsigned char c)
{
    switch (p->state) {
    case ST_BOM:
        return st_bom(p, c);
    case ST_TEXT:
        return st_text(p, c);
    case ST_LT:
        return st_lt(p, c);
    case ST_OPEN_NAME:
        return st_open_name(p, c);
    case ST_ATTRS:
        return st_attrs(p, c);
    case ST_ATTR_VAL:
        return st_attr_val(p, c);
    case ST_EMPTY_END:
        return st_empty_end(p, c);
    case ST_CLOSE_NAME:
        return st_close_name(p, c);
    case ST_CLOSE_WS:
        return st_close_ws(p, c);
    case ST_PI:
    case ST_PI_Q:
        return st_pi(p, c);
    case ST_BANG:
        return st_bang(p, c);
    case ST_BANG_DASH:
    case ST_COMMENT:
    case ST_COMMENT_D1:
    case ST_COMMENT_D2:
        return st_comment(p, c);
    case ST_CDATA_OPEN:
    case ST_CDATA:
    case ST_CDATA_B1:
    case ST_CDATA_B2:
        return st_cdata(p, c);
    case ST_ENT:
        return st_ent(p, c);
    default:
        return p->err ? p->err : S3X_E_SYNTAX;
    }
}

int s3x_feed(s3x_parser *p, const char *data, size_t len)
{
    if (p->err)
        return p->err;
    for (size_t i = 0; i < len; i++) {
        /* Plain text runs are the bulk of a listing: copy them without the state switch. */
        if (p->state == ST_TEXT && p->depth > 0) {
            size_t j = i;
            while (j < len && data[j] != '<' && data[j] != '&')
                j++;
            if (j > i) {
                text_add(p, data + i, j - i);
                p->offset += j - i;
                i = j - 1;
                continue;
            }
        }
        int rc = step(p, (unsigned char)data[i]);
        p->offset++;
        if (rc != S3X_OK)
            return fail(p, rc);
    }
    return S3X_OK;
}

int s3x_finish(s3x_parser *p)
{
    if (p->err)
        return p->err;
    if (!p->seen_root || !p->root_closed || p->state != ST_TEXT)
        return fail(p, S3X_E_TRUNCATED);
    return S3X_OK;
}
