/*
 * The web console (docs/console.md): GET / and /console serve its page, GET /console/{name}
 * its scripts and styles, all compiled into argotd (server/console/assets.h). No
 * authentication here: the page holds no data; it asks for an API key and calls the API with it.
 *
 * Every reply, the 404 of an unknown name included, carries a Content-Security-Policy that
 * allows scripts, styles and requests from this origin only and no inline script or style.
 * Hashed asset names are cacheable for a year (a change of bytes is a change of name); the
 * page is revalidated on every load (no-cache + ETag, 304 when unchanged).
 */
#include <string.h>

#include "server/api/api.h"
#include "server/api/routes.h"
#include "server/console/assets.h"

#define CSP                                                                                        \
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "                \
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

static const console_asset *find(const char *name)
{
    for (size_t i = 0; i < console_asset_count; i++)
        if (!strcmp(console_assets[i].name, name))
            return &console_assets[i];
    return NULL;
}

static int security_headers(http_req *r)
{
    return http_add_header(r, "Content-Security-Policy", CSP) ||
           http_add_header(r, "Referrer-Policy", "no-referrer") ||
           http_add_header(r, "Cross-Origin-Opener-Policy", "same-origin") ||
           http_add_header(r, "Cross-Origin-Resource-Policy", "same-origin");
}

/* 1 if If-None-Match names etag (weak comparison: W/"..." matches too) or is "*". Our tags are
 * a quoted run of 16 hex digits, so finding one, quotes included, in the list is finding it. */
static int not_modified(http_req *r, const char *etag)
{
    const char *inm = http_header(r, "If-None-Match");
    if (!inm)
        return 0;
    inm += strspn(inm, " \t");
    return strstr(inm, etag) != NULL || (inm[0] == '*' && inm[1 + strspn(inm + 1, " \t")] == '\0');
}

static void serve(http_req *r, const console_asset *a, const char *cache)
{
    if (security_headers(r) || http_add_header(r, "Cache-Control", cache) ||
        http_add_header(r, "ETag", a->etag)) {
        http_reply_internal(r, "console headers");
        return;
    }
    argot_buf b = ARGOT_BUF_INIT(a->len + 1);
    if (not_modified(r, a->etag)) {
        http_reply_text(r, 304, NULL, &b);
        return;
    }
    if (argot_buf_put(&b, a->data, a->len)) {
        argot_buf_free(&b);
        http_reply_internal(r, "console asset");
        return;
    }
    http_reply_text(r, 200, a->type, &b);
}

static void page_end(http_req *r)
{
    const console_asset *a = find(CONSOLE_PAGE);
    if (!a) {
        http_reply_internal(r, "console page missing");
        return;
    }
    serve(r, a, "no-cache");
}

static void asset_end(http_req *r)
{
    /* The page is reached at / and /console only, never under its file name. */
    int whole = r->param_len < sizeof r->param && strlen(r->param) == r->param_len; /* no %00 */
    const console_asset *a = whole && strcmp(r->param, CONSOLE_PAGE) ? find(r->param) : NULL;
    if (!a) {
        if (security_headers(r))
            http_reply_internal(r, "console headers");
        else
            http_reply_error(r, 404, "invalid_request_error", NULL, NULL, "Invalid URL (%s %s)",
                             r->method == HTTP_HEAD ? "HEAD" : "GET", r->path);
        return;
    }
    serve(r, a, "public, max-age=31536000, immutable");
}

const route_ops api_console_page = {
    ROUTE_CONSOLE_PAGE, "console.page", 0, NULL, NULL, page_end, NULL};
const route_ops api_console_asset = {
    ROUTE_CONSOLE_ASSET, "console.asset", 0, NULL, NULL, asset_end, NULL};
