/*
 * Shared pieces of the Files API handlers: the file object's JSON, the common error replies,
 * and the rules of the service (purposes, expiry). One file per endpoint beside this one.
 */
#ifndef ARGOT_SERVER_API_H
#define ARGOT_SERVER_API_H

#include <jansson.h>

#include "common/buf.h"
#include "server/api/profile.h"
#include "server/app.h"
#include "server/http/http.h"
#include "server/meta/meta.h"

#define EXPIRES_MIN 3600
#define EXPIRES_MAX 2592000

/* Appends the file object. Service profile: exactly as the real service serializes it (key
 * order included, expires_at and status_details null when unset). Spec profile: the same keys
 * in the same order, without the null ones. */
int api_file_json(argot_buf *b, const meta_file *f, api_profile p);
/* 200 with the file object in r's profile. */
void api_reply_file(http_req *r, const meta_file *f);
/* The reply to a failure of the storage frontend: the one table from its error record to an
 * HTTP status and OpenAI error (api/errors.c), logged with the request id and what. */
int api_reply_store(http_req *r, const st_err *e, const char *what);
/* r->param as the store should see it: "" when it was cut (longer than any id) or held an
 * encoded NUL, so that the store answers it as no such object. */
const char *api_param(const http_req *r);
/* Resolves r->param to a visible file of r->org into out; replies 404 or 5xx and returns -1
 * when it can't. */
int api_lookup_file(http_req *r, meta_file *out);

/* 1 if purpose may be given on upload. */
int api_purpose_uploadable(const char *purpose, size_t len);
/* The message of the real service for a purpose it refuses. */
int api_reply_bad_purpose(http_req *r, const char *purpose);
/* expires_after rules (files and uploads): anchor must be "created_at", seconds within
 * EXPIRES_MIN..EXPIRES_MAX. Each replies 400 and returns -1 when not met, else 0. */
int api_check_expires_after(http_req *r, const char *anchor, int64_t secs);
/* The object form {"anchor": "created_at", "seconds": N} (j may be NULL: not JSON); fills secs. */
int api_expires_after_object(http_req *r, const json_t *j, int64_t *secs);
/* A filename as stored: 1..1023 bytes of UTF-8 without control characters. Returns NULL if
 * fine, else why not (for "Invalid file: <why>."-style messages). */
const char *api_filename_problem(const char *name, size_t len);
/* batch and fine-tune files must be .jsonl (or have no extension): replies 400 with the real
 * service's message and returns -1 if name breaks that rule, else 0. */
int api_check_jsonl(http_req *r, const char *purpose, const char *name);

#endif
