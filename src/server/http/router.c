#include "server/http/router.h"

#include <stdlib.h>
#include <string.h>

struct http_router {
    size_t n;
    http_route routes[];
};

http_method router_method(const char *m)
{
    static const struct {
        const char *name;
        http_method m;
    } names[] = {{"GET", HTTP_GET},        {"HEAD", HTTP_HEAD}, {"POST", HTTP_POST},
                 {"DELETE", HTTP_DELETE},  {"PUT", HTTP_PUT},   {"PATCH", HTTP_PATCH},
                 {"OPTIONS", HTTP_OPTIONS}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(m, names[i].name))
            return names[i].m;
    return HTTP_OTHER;
}

static int pattern_ok(const char *p)
{
    int params = 0;
    if (p[0] != '/')
        return 0;
    if (!strcmp(p, "/"))
        return 1;
    for (const char *s = p + 1;;) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 0)
            return !e && s[-1] == '/' && s[-2] != '/'; /* only a trailing slash: "/console/" */
        if (s[0] == '{' && (n < 3 || s[n - 1] != '}' || ++params > 1))
            return 0;
        if (!e)
            return 1;
        s = e + 1;
    }
}

int http_router_new(http_router **out, const http_route *routes, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!routes[i].pattern || !routes[i].ops || !pattern_ok(routes[i].pattern))
            return -1;
    http_router *rt = malloc(sizeof *rt + n * sizeof *routes);
    if (!rt)
        return -1;
    rt->n = n;
    memcpy(rt->routes, routes, n * sizeof *routes);
    *out = rt;
    return 0;
}

void http_router_free(http_router *rt)
{
    free(rt);
}

/* 1 if path matches pattern; sets the parameter's place. */
static int matches(const char *pat, const char *path, const char **param, size_t *plen)
{
    while (*pat && *path) {
        if (*pat != '/' || *path != '/')
            return 0;
        pat++;
        path++;
        const char *pe = strchr(pat, '/'), *se = strchr(path, '/');
        size_t pn = pe ? (size_t)(pe - pat) : strlen(pat);
        size_t sn = se ? (size_t)(se - path) : strlen(path);
        if (pat[0] == '{') {
            if (sn == 0)
                return 0;
            *param = path;
            *plen = sn;
        } else if (pn != sn || memcmp(pat, path, pn) != 0) {
            return 0;
        }
        pat += pn;
        path += sn;
    }
    return !*pat && !*path;
}

static void add_allow(char *allow, size_t cap, const char *m)
{
    size_t n = strlen(allow);
    if (strstr(allow, m) || n + strlen(m) + 3 > cap)
        return;
    if (n)
        strcat(allow, ", ");
    strcat(allow, m);
}

static const char *allow_name(http_method m)
{
    return m == HTTP_GET      ? "GET, HEAD"
           : m == HTTP_POST   ? "POST"
           : m == HTTP_DELETE ? "DELETE"
           : m == HTTP_PUT    ? "PUT"
           : m == HTTP_PATCH  ? "PATCH"
                              : "OPTIONS";
}

void http_router_match(const http_router *rt, const char *path, http_method m, route_match *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < rt->n; i++) {
        const http_route *r = &rt->routes[i];
        const char *param = NULL;
        size_t plen = 0;
        if (!matches(r->pattern, path, &param, &plen))
            continue;
        out->path_known = 1;
        add_allow(out->allow, sizeof out->allow, allow_name(r->method));
        if (r->method == m || (m == HTTP_HEAD && r->method == HTTP_GET)) {
            out->ops = r->ops;
            out->param = param;
            out->param_len = plen;
        }
    }
}
