/*
 * Shared pieces of the Files API handlers: the file object's JSON, the common error replies,
 * and the rules of the service (purposes, expiry). One file per endpoint beside this one.
 */
#ifndef ARGOT_SERVER_API_H
#define ARGOT_SERVER_API_H

#include "common/buf.h"
#include "server/http/http.h"
#include "server/meta/meta.h"

#define BATCH_DEFAULT_TTL 2592000 /* batch files expire after 30 days unless told otherwise */
#define EXPIRES_MIN       3600
#define EXPIRES_MAX       2592000

/* Appends the file object exactly as the real service serializes it (key order included). */
int api_file_json(argot_buf *b, const meta_file *f);
/* 404 "No such File object: <id>" with param "id". */
int api_reply_no_such_file(http_req *r);
/* Maps a META_E_* from the store to a 5xx reply (NOTFOUND must be handled by the caller). */
int api_reply_store_error(http_req *r, int rc, const char *what);
/* 1 if the path parameter can be an id at all (else answer 404 without a lookup). */
int api_param_is_id(const http_req *r);
/* Resolves r->param to a visible file of r->org into out; replies 404 or 5xx and returns -1
 * when it can't. */
int api_lookup_file(http_req *r, meta_file *out);

/* 1 if purpose may be given on upload. */
int api_purpose_uploadable(const char *purpose, size_t len);
/* The message of the real service for a purpose it refuses. */
int api_reply_bad_purpose(http_req *r, const char *purpose);
/* "100 GB" style rendering of a byte limit, as in the quota message. */
void api_format_limit(int64_t bytes, char *out, size_t cap);

#endif
