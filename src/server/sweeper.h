/*
 * The sweeper: at startup (before the HTTP server starts) it drops every intent left by a
 * previous process and deletes their blobs, and removes writer temporaries; then, on its own
 * thread at once and every --sweep-interval seconds after, it deletes expired files (row
 * first, then blob), reclaims expired uploads, and removes blobs that no file, part or intent
 * references (left by a crash between a delete's transaction and its unlink).
 */
#ifndef ARGOT_SERVER_SWEEPER_H
#define ARGOT_SERVER_SWEEPER_H

#include "server/app.h"

typedef struct sweeper sweeper;

/* Startup recovery; must run before any request is served. Returns 0 or -1. */
int sweeper_recover(app *a);
/* One pass of expiry and orphan removal. Returns the number of blobs removed, or -1. */
int sweeper_pass(app *a);
int sweeper_start(sweeper **out, app *a);
void sweeper_stop(sweeper *s);

#endif
