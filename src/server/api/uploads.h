/*
 * Shared pieces of the Uploads API handlers (uploads_*.c; see docs/uploads.md): the Upload and
 * UploadPart objects' JSON, ids, lookups, the state errors, and bounded JSON request bodies.
 */
#ifndef ARGOT_SERVER_API_UPLOADS_H
#define ARGOT_SERVER_API_UPLOADS_H

#include <jansson.h>

#include "common/buf.h"
#include "server/api/profile.h"
#include "server/http/http.h"
#include "server/meta/meta.h"
#include "server/store/err.h"

/* The Upload object in the real key order; "file" only when f is given (completed), as the
 * nested file object of profile p (api_file_json). */
int api_upload_json(argot_buf *b, const meta_upload *u, const meta_file *f, api_profile p);
/* 200 with the Upload object in r's profile (api_upload_json; at most 4096 bytes, 8192 with
 * f), or 500 "upload json" when it can't be built. */
void api_reply_upload(http_req *r, const meta_upload *u, const meta_file *f);
/* The UploadPart object. */
int api_part_json(argot_buf *b, const meta_part *p);
/* The reply to a failure of the store's Uploads calls: 404 "No such Upload object: <id>" (the
 * id as requested) for an unknown upload, else the common table (api_reply_store). */
int api_reply_upload_error(http_req *r, const st_err *e, const char *what);

/* A JSON request body read into a bounded buffer (r->state is the buffer). */
int api_json_begin(http_req *r, size_t max);
int api_json_body(http_req *r, const char *data, size_t len);
void api_json_cleanup(http_req *r);
/* Parses the body; replies 400 (not JSON / not an object) and returns NULL on failure. */
json_t *api_json_object(http_req *r);
/* Field readers in the service's style: missing -> "Missing required parameter: 'x'."
 * (missing_required_parameter), wrong type -> "Invalid type for 'x': expected ..."
 * (invalid_type). Optional fields report absence as 1 without replying. */
int api_json_string(http_req *r, json_t *o, const char *name, int required, const char **out);
int api_json_int(http_req *r, json_t *o, const char *name, int required, int64_t *out);

#endif
