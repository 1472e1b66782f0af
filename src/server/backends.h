/*
 * Backends chosen by URL (--meta, --blob): one factory table per kind, so a new backend is
 * one row. Unknown schemes are refused with the list of the known ones.
 *
 *   metadata:  sqlite:PATH          the embedded SQLite database (default: sqlite:DATA/argot.db)
 *              postgres://...       PostgreSQL (libpq's URI syntax; postgresql:// too)
 *              mem:                 in memory, gone with the process (tests, demos)
 *   blobs:     file:DIR             local disk (default: file:DATA)
 *              mem:                 in memory
 */
#ifndef ARGOT_SERVER_BACKENDS_H
#define ARGOT_SERVER_BACKENDS_H

#include "server/blob/blob.h"
#include "server/meta/meta.h"

int backend_open_meta(meta_store **out, const char *url, st_err *e);
int backend_open_blob(blob_store **out, const char *url, st_err *e);
/* The URL with any password (in the userinfo, or a password= parameter) replaced by "***",
 * for logs and messages. */
void backend_redact(const char *url, char *out, size_t cap);

#endif
