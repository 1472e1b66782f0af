/*
 * The sweeper: the thread that runs the storage frontend's maintenance (store_maintain) at once
 * and then every --sweep-interval seconds: this instance's lease is renewed, and on the
 * instance holding the gc lease expired files and uploads, tombstones, dead owners' intents,
 * stale unfinished writes and unreferenced blobs are collected. Startup recovery
 * (store_recover) runs before the HTTP server starts.
 */
#ifndef ARGOT_SERVER_SWEEPER_H
#define ARGOT_SERVER_SWEEPER_H

#include "server/app.h"

typedef struct sweeper sweeper;

/* Startup recovery; must run before any request is served. Returns 0 or -1 (logged). */
int sweeper_recover(app *a);
/* One maintenance pass (with the orphan walk). Returns what it removed, or -1 (logged). */
int sweeper_pass(app *a);
int sweeper_start(sweeper **out, app *a);
void sweeper_stop(sweeper *s);

#endif
