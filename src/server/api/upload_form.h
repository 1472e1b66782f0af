/*
 * A multipart/form-data request body with one streamed file field and a few small text
 * fields, shared by POST /v1/files ("file", "purpose", "expires_after...") and POST
 * /v1/uploads/{id}/parts ("data"): the multipart parser hands the file field's bytes straight
 * to a storage ingest (store_ingest_*), keeps each known text field in a bounded buffer, skips
 * unknown fields without buffering them, and bounds everything that is not file data so that
 * the declared Content-Length minus that bound is a true lower bound of the file's size.
 *
 * Every function that fails has replied (400/413/507/...) and returns non-zero.
 */
#ifndef ARGOT_SERVER_API_UPLOAD_FORM_H
#define ARGOT_SERVER_API_UPLOAD_FORM_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "server/http/http.h"
#include "server/http/multipart.h"
#include "server/store/store.h"

#define UF_FIELD_MAX   1024      /* a text field */
#define UF_NONDATA_MAX (1 << 20) /* body bytes that are not file data */
#define UF_FIELDS      4         /* text fields a form may keep */

typedef struct upload_form upload_form;

typedef struct upload_form_spec {
    const char *file_field;        /* "file" or "data" */
    int kind;                      /* STORE_INGEST_FILE or STORE_INGEST_PART */
    const char *fields[UF_FIELDS]; /* names of the text fields kept (NULL-terminated list) */
    /* Optional: the file field's filename (NULL if the part has none), checked before any
     * byte is stored; replies and returns non-zero to refuse. */
    int (*on_filename)(http_req *r, upload_form *u, const char *name, size_t len);
    /* Optional: a text field is complete (its value: upload_form_value); replies and returns
     * non-zero to refuse. */
    int (*on_field)(http_req *r, upload_form *u, int slot);
} upload_form_spec;

/* route->begin: Content-Type must carry a boundary; a declared Content-Length over max (the
 * file's limit) plus the non-data bound is 413 before any byte is read; the quota rule for a
 * declared length (store_ingest_begin). Replies and returns 1 on failure, else 0 (r->state is
 * the form; ctx is the route's own, see upload_form_ctx). spec must outlive the request. */
int upload_form_begin(http_req *r, const upload_form_spec *spec, int64_t max, void *ctx);
/* route->body */
int upload_form_body(http_req *r, const char *data, size_t len);
/* At route->end: the closing boundary, and the file field present. 0, or non-zero (replied). */
int upload_form_finish(http_req *r, upload_form *u);
/* route->cleanup: undoes an uncommitted ingest. */
void upload_form_cleanup(http_req *r);

upload_form *upload_form_of(http_req *r);
void *upload_form_ctx(upload_form *u);
/* A kept text field's value, or NULL if it was not given. */
const char *upload_form_value(upload_form *u, int slot);
size_t upload_form_value_len(upload_form *u, int slot);
/* The file field's filename (NULL if it had none), its ingest (what the route commits). */
const char *upload_form_filename(upload_form *u);
store_ingest *upload_form_ingest(upload_form *u);

#endif
