#include "server/backends.h"

#include <stdio.h>
#include <string.h>

#include "server/blob/blob_s3.h"
#include "server/meta/meta_pg.h"

/* A factory gets the whole URL and what follows its scheme. */
typedef struct meta_factory {
    const char *scheme; /* with its colon */
    int (*open)(meta_store **out, const char *url, const char *rest, st_err *e);
} meta_factory;

typedef struct blob_factory {
    const char *scheme;
    int (*open)(blob_store **out, const char *url, const char *rest, st_err *e);
} blob_factory;

static int open_meta_sqlite(meta_store **out, const char *url, const char *rest, st_err *e)
{
    (void)url;
    return meta_sqlite_open(out, rest, e);
}

static int open_meta_mem(meta_store **out, const char *url, const char *rest, st_err *e)
{
    (void)url;
    (void)rest;
    return meta_mem_open(out, e);
}

static int open_meta_pg(meta_store **out, const char *url, const char *rest, st_err *e)
{
    (void)rest; /* libpq parses the whole URL */
    return meta_pg_open(out, url, e);
}

static int open_blob_file(blob_store **out, const char *url, const char *rest, st_err *e)
{
    (void)url;
    return blob_local_open(out, rest, e);
}

static int open_blob_mem(blob_store **out, const char *url, const char *rest, st_err *e)
{
    (void)url;
    (void)rest;
    return blob_mem_open(out, e);
}

static blob_s3_opts s3_opts; /* set once by backend_set_s3() before any open */

void backend_set_s3(const char *endpoint, uint64_t part_size, uint64_t memory_budget)
{
    s3_opts = (blob_s3_opts){endpoint, part_size, memory_budget, 0};
}

static int open_blob_s3(blob_store **out, const char *url, const char *rest, st_err *e)
{
    (void)url;
    return blob_s3_open(out, rest, &s3_opts, e);
}

static const meta_factory metas[] = {
    {"sqlite:", open_meta_sqlite},
    {"postgres:", open_meta_pg},
    {"postgresql:", open_meta_pg},
    {"mem:", open_meta_mem},
};
#define META_KNOWN "sqlite:PATH, postgres://..., mem:"

static const blob_factory blobs[] = {
    {"file:", open_blob_file},
    {"mem:", open_blob_mem},
    {"s3://", open_blob_s3},
};
#define BLOB_KNOWN "file:DIR, mem:, s3://BUCKET/PREFIX"

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
    *out = NULL;
    for (size_t i = 0; i < N(metas); i++) {
        size_t n = strlen(metas[i].scheme);
        if (!strncmp(url, metas[i].scheme, n))
            return metas[i].open(out, url, url + n, e);
    }
    return unknown(e, "metadata", url, META_KNOWN);
}

int backend_open_blob(blob_store **out, const char *url, st_err *e)
{
    *out = NULL;
    for (size_t i = 0; i < N(blobs); i++) {
        size_t n = strlen(blobs[i].scheme);
        if (!strncmp(url, blobs[i].scheme, n))
            return blobs[i].open(out, url, url + n, e);
    }
    return unknown(e, "blob", url, BLOB_KNOWN);
}

void backend_redact(const char *url, char *out, size_t cap)
{
    /* postgres://user:password@host/db?password=...: both kinds of password go */
    meta_pg_redact(url, out, cap);
}
