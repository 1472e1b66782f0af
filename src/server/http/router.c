#include "server/http/router.h"

#include <string.h>

typedef enum path_kind {
    P_NONE,
    P_HEALTHZ,
    P_METRICS,
    P_FILES,
    P_FILE,
    P_FILE_CONTENT,
    P_UPLOADS,
    P_UPLOAD_PARTS,
    P_UPLOAD_COMPLETE,
    P_UPLOAD_CANCEL,
    P_CONSOLE,
    P_CONSOLE_ASSET,
    P_ARGOT_USAGE,
} path_kind;

typedef struct route_row {
    path_kind kind;
    http_method method;
    const route_ops *ops;
} route_row;

static const route_row rows[] = {
    {P_HEALTHZ, HTTP_GET, &api_healthz},
    {P_METRICS, HTTP_GET, &api_metrics},
    {P_FILES, HTTP_GET, &api_files_list},
    {P_FILES, HTTP_POST, &api_files_create},
    {P_FILE, HTTP_GET, &api_files_retrieve},
    {P_FILE, HTTP_DELETE, &api_files_delete},
    {P_FILE_CONTENT, HTTP_GET, &api_files_content},
    {P_UPLOADS, HTTP_POST, &api_uploads_create},
    {P_UPLOAD_PARTS, HTTP_POST, &api_uploads_parts},
    {P_UPLOAD_COMPLETE, HTTP_POST, &api_uploads_complete},
    {P_UPLOAD_CANCEL, HTTP_POST, &api_uploads_cancel},
    {P_CONSOLE, HTTP_GET, &api_console_page},
    {P_CONSOLE_ASSET, HTTP_GET, &api_console_asset},
    {P_ARGOT_USAGE, HTTP_GET, &api_argot_usage},
};

/* A collection (/v1/files, /v1/uploads) with its item and the item's sub-resources. */
typedef struct collection {
    const char *prefix;
    path_kind all, item;
    struct {
        const char *suffix;
        path_kind kind;
    } sub[3];
} collection;

static const collection collections[] = {
    {"/v1/files", P_FILES, P_FILE, {{"/content", P_FILE_CONTENT}}},
    {"/v1/uploads",
     P_UPLOADS,
     P_NONE,
     {{"/parts", P_UPLOAD_PARTS}, {"/complete", P_UPLOAD_COMPLETE}, {"/cancel", P_UPLOAD_CANCEL}}},
    /* The web console: its page, and one asset per name below it (no deeper paths). */
    {"/console", P_CONSOLE, P_CONSOLE_ASSET, {{NULL, P_NONE}}},
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

static path_kind classify_in(const collection *c,
                             const char *rest,
                             const char **param,
                             size_t *plen)
{
    if (*rest == '\0')
        return c->all;
    if (*rest != '/' || rest[1] == '\0' || rest[1] == '/')
        return P_NONE;
    rest++;
    const char *slash = strchr(rest, '/');
    *param = rest;
    if (!slash) {
        *plen = strlen(rest);
        return c->item;
    }
    *plen = (size_t)(slash - rest);
    for (size_t i = 0; i < sizeof c->sub / sizeof c->sub[0] && c->sub[i].suffix; i++)
        if (strcmp(slash, c->sub[i].suffix) == 0)
            return c->sub[i].kind;
    return P_NONE;
}

static path_kind classify(const char *path, int metrics, const char **param, size_t *plen)
{
    *param = NULL;
    *plen = 0;
    if (!strcmp(path, "/healthz"))
        return P_HEALTHZ;
    if (!strcmp(path, "/metrics"))
        return metrics ? P_METRICS : P_NONE;
    if (!strcmp(path, "/") || !strcmp(path, "/console/"))
        return P_CONSOLE;
    /* Argot's own endpoints live under /v1/argot/, a prefix the OpenAI API never uses. */
    if (!strcmp(path, "/v1/argot/usage"))
        return P_ARGOT_USAGE;
    for (size_t i = 0; i < sizeof collections / sizeof collections[0]; i++) {
        size_t n = strlen(collections[i].prefix);
        if (strncmp(path, collections[i].prefix, n) == 0) {
            path_kind k = classify_in(&collections[i], path + n, param, plen);
            if (k == P_NONE) {
                *param = NULL;
                *plen = 0;
            }
            return k;
        }
    }
    return P_NONE;
}

static void add_allow(char *allow, size_t cap, const char *m)
{
    size_t n = strlen(allow);
    if (n + strlen(m) + 3 > cap)
        return;
    if (n)
        strcat(allow, ", ");
    strcat(allow, m);
}

void router_match(const char *path, http_method m, int metrics, route_match *out)
{
    memset(out, 0, sizeof *out);
    path_kind k = classify(path, metrics, &out->param, &out->param_len);
    if (k == P_NONE)
        return;
    out->path_known = 1;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        if (rows[i].kind != k)
            continue;
        /* HEAD is answered like GET (the server drops the body). */
        if (rows[i].method == m || (m == HTTP_HEAD && rows[i].method == HTTP_GET))
            out->ops = rows[i].ops;
        add_allow(out->allow, sizeof out->allow,
                  rows[i].method == HTTP_GET      ? "GET, HEAD"
                  : rows[i].method == HTTP_POST   ? "POST"
                  : rows[i].method == HTTP_DELETE ? "DELETE"
                                                  : "");
    }
}
