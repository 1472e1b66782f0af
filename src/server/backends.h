/*
 * Backends chosen by URL (--meta, --blob): one factory table per kind, so a new backend is
 * one row. Unknown schemes are refused with the list of the known ones.
 *
 *   metadata:  sqlite:PATH          the embedded SQLite database (default: sqlite:DATA/argot.db)
 *              postgres://...       PostgreSQL (libpq's URI syntax; postgresql:// too)
 *              mem:                 in memory, gone with the process (tests, demos)
 *   blobs:     file:DIR             local disk (default: file:DATA)
 *              mem:                 in memory
 *              s3://BUCKET/PREFIX   an S3 bucket (blob_s3.h; endpoint, part size and memory
 *                                   budget from backend_set_s3(), credentials from AWS_*)
 */
#ifndef ARGOT_SERVER_BACKENDS_H
#define ARGOT_SERVER_BACKENDS_H

#include <stdint.h>

#include "server/blob/blob.h"
#include "server/meta/meta.h"

int backend_open_meta(meta_store **out, const char *url, st_err *e);
/* The S3 backend's settings (--s3-endpoint, --s3-part-size, --s3-memory; NULL / 0: its
 * defaults and the environment). Call before opening; the strings must outlive the stores. */
void backend_set_s3(const char *endpoint, uint64_t part_size, uint64_t memory_budget);
int backend_open_blob(blob_store **out, const char *url, st_err *e);
/* The URL with any password (in the userinfo, or a password= parameter) replaced by "***",
 * for logs and messages. */
void backend_redact(const char *url, char *out, size_t cap);

#endif
