/*
 * The argument checks every metadata backend makes before it touches its store: the same rows
 * are refused with META_E_INVALID by SQLite, PostgreSQL and memory alike.
 */
#ifndef ARGOT_SERVER_META_CHECK_H
#define ARGOT_SERVER_META_CHECK_H

#include <stddef.h>

#include "server/meta/meta.h"

/* Non-NULL, non-empty and NUL-terminated within cap. */
int meta_str_ok(const char *v, size_t cap);
/* An organization id: 1..META_ORG_MAX-1 of A-Z a-z 0-9 _ -. */
int meta_org_ok(const char *org);
int meta_file_ok(const meta_file *f);
int meta_upload_ok(const meta_upload *u);
int meta_part_ok(const meta_part *p);

#endif
