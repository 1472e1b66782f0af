/*
 * The PostgreSQL metadata backend (meta_pg.c): the store several argotd instances share.
 * Its ops are meta.h's; this header adds what only it has: opening it by URL, redacting that
 * URL for logs, and reading the SQLSTATE its error records carry.
 */
#ifndef ARGOT_SERVER_META_PG_H
#define ARGOT_SERVER_META_PG_H

#include <stddef.h>

#include "server/meta/meta.h"

/* Opens the store at url, libpq's URI syntax (postgres://user:password@host:port/dbname?...,
 * or postgresql://), connecting once and migrating the schema under a transaction-scoped
 * advisory lock, so instances starting together are safe. Caps: META_CAP_FILE_COUNT,
 * META_CAP_SHARED, META_CAP_CLOCK. Errors: INVALID (not such a URL), UNAVAILABLE (the
 * server cannot be reached or refuses the login; retryable), IO (a schema newer than this
 * argotd, or another failure). The password never appears in e->msg.
 * Ownership: url is copied; *out is freed with meta_store_free. Thread: any. */
int meta_pg_open(meta_store **out, const char *url, st_err *e);

/* Writes url into out (cap bytes, always NUL-terminated when cap > 0) with its password, in
 * the userinfo or as a password= parameter, replaced by "***": what a log may show. */
void meta_pg_redact(const char *url, char *out, size_t cap);

/* The backend keeps the SQLSTATE of a database error in st_err.sys, packed as PostgreSQL
 * packs it (six bits per character, the first character lowest); this unpacks it into out
 * ("" if sys holds none). */
void meta_pg_sqlstate(long sys, char out[6]);

#endif
