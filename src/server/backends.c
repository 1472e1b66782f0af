#include "server/backends.h"

#include <stdio.h>
#include <string.h>

typedef struct meta_factory {
    const char *scheme; /* with its colon */
    int (*open)(meta_store **out, const char *rest, st_err *e);
} meta_factory;

typedef struct blob_factory {
    const char *scheme;
    int (*open)(blob_store **out, const char *rest, st_err *e);
} blob_factory;

static int open_meta_mem(meta_store **out, const char *rest, st_err *e)
{
    (void)rest;
    return meta_mem_open(out, e);
}

static int open_blob_mem(blob_store **out, const char *rest, st_err *e)
{
    (void)rest;
    return blob_mem_open(out, e);
}

static const meta_factory metas[] = {
    {"sqlite:", meta_sqlite_open},
    {"mem:", open_meta_mem},
};

static const blob_factory blobs[] = {
    {"file:", blob_local_open},
    {"mem:", open_blob_mem},
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static int unknown(st_err *e, const char *kind, const char *url, const char *known)
{
    char shown[256];
    backend_redact(url, shown, sizeof shown);
    return st_fail(e, ST_E_INVALID, "config", 0, "unknown %s backend URL '%s' (known: %s)", kind,
                   shown, known);
}

int backend_open_meta(meta_store **out, const char *url, st_err *e)
{
    for (size_t i = 0; i < N(metas); i++) {
        size_t n = strlen(metas[i].scheme);
        if (!strncmp(url, metas[i].scheme, n))
            return metas[i].open(out, url + n, e);
    }
    return unknown(e, "metadata", url, "sqlite:PATH, mem:");
}

int backend_open_blob(blob_store **out, const char *url, st_err *e)
{
    for (size_t i = 0; i < N(blobs); i++) {
        size_t n = strlen(blobs[i].scheme);
        if (!strncmp(url, blobs[i].scheme, n))
            return blobs[i].open(out, url + n, e);
    }
    return unknown(e, "blob", url, "file:DIR, mem:");
}

void backend_redact(const char *url, char *out, size_t cap)
{
    /* scheme://user:password@host...: the password goes */
    const char *at = strchr(url, '@'), *sl = strstr(url, "://");
    const char *colon = sl ? strchr(sl + 3, ':') : NULL;
    if (at && sl && colon && colon < at)
        snprintf(out, cap, "%.*s:***%s", (int)(colon - url), url, at);
    else
        snprintf(out, cap, "%s", url);
}
