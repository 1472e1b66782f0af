/*
 * The server's shared state, created once in main.c and read by every handler.
 * Thread: all fields are set before the HTTP server starts and never change after.
 */
#ifndef ARGOT_SERVER_APP_H
#define ARGOT_SERVER_APP_H

#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "server/blob/blob.h"
#include "server/config.h"
#include "server/meta/meta.h"
#include "server/store/store.h"

struct metrics;

typedef struct app {
    const cfg *cfg;
    meta_store *meta;
    blob_store *blob;
    store *store; /* the frontend every handler goes through */
    struct metrics *metrics;
} app;

/* The server's notion of "now" in Unix seconds (honours --clock-offset). */
static inline int64_t app_now(const app *a)
{
    return (int64_t)time(NULL) + a->cfg->clock_offset;
}

#endif
