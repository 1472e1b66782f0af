/*
 * The four raw Uploads API calls (create, add part, complete, cancel) on top of
 * argot__perform(). The parallel helper is in upload_file.c.
 */
#include "client/internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

void argot_upload_free(argot_upload *upload)
{
    if (upload == NULL)
        return;
    argot__upload_clear(upload);
    free(upload);
}

void argot_upload_part_free(argot_upload_part *part)
{
    if (part == NULL)
        return;
    free(part->id);
    free(part->object);
    free(part->upload_id);
    free(part->json);
    free(part);
}

/* base_url + /uploads[/{id}[suffix]] */
static argot_status upload_url(argot_client *c, argot_buf *url, const char *id, const char *suffix)
{
    argot_status st = argot__url(c, url, "/uploads");

    if (id != NULL && id[0] == '\0')
        return argot__error_set(c, ARGOT_E_INVALID, "an upload id is required");
    if (st == ARGOT_OK && id != NULL && argot_buf_putc(url, '/') != 0)
        st = ARGOT_E_NOMEM;
    if (st == ARGOT_OK && id != NULL)
        st = argot__url_escape_append(c, url, id);
    if (st == ARGOT_OK && suffix != NULL && argot_buf_puts(url, suffix) != 0)
        st = ARGOT_E_NOMEM;
    return st == ARGOT_OK ? st : argot__error_set(c, st, NULL);
}

ARGOT__RESULT_KIND(upload_kind,
                   argot_upload,
                   argot__upload_from_json,
                   argot_upload_free,
                   "the response is not an Upload object");

/* POSTs body (NULL: no body) to url and decodes the Upload answered. */
static argot_status post_upload(argot_upload **out,
                                argot_client *c,
                                const char *url,
                                const char *body,
                                const argot_request_options *opts)
{
    void *u = NULL;
    argot_status st =
        argot__op_call(c, "POST", url, body, opts, &upload_kind, out != NULL ? &u : NULL);

    if (out != NULL)
        *out = u;
    return st;
}

/* ---- create ---- */

static argot_status check_create(argot_client *c, const argot_create_upload_request *req)
{
    if (req->filename == NULL || req->filename[0] == '\0')
        return argot__error_set(c, ARGOT_E_INVALID, "filename is required");
    if (req->purpose == NULL || req->purpose[0] == '\0')
        return argot__error_set(c, ARGOT_E_INVALID, "purpose is required");
    if (req->mime_type == NULL || req->mime_type[0] == '\0')
        return argot__error_set(c, ARGOT_E_INVALID, "mime_type is required");
    if (req->bytes < 0)
        return argot__error_set(c, ARGOT_E_INVALID, "bytes is required and must be >= 0");
    if (req->expires_after < 0)
        return argot__error_set(c, ARGOT_E_INVALID, "expires_after must not be negative");
    return ARGOT_OK;
}

/* The body in the order the official SDKs send it. */
static char *create_body(const argot_create_upload_request *req)
{
    json_t *o =
        json_pack("{s:s, s:s, s:I, s:s}", "purpose", req->purpose, "filename", req->filename,
                  "bytes", (json_int_t)req->bytes, "mime_type", req->mime_type);
    char *s = NULL;

    if (o != NULL && req->expires_after > 0 &&
        json_object_set_new(o, "expires_after",
                            json_pack("{s:s, s:I}", "anchor", "created_at", "seconds",
                                      (json_int_t)req->expires_after)) != 0) {
        json_decref(o);
        return NULL;
    }
    if (o != NULL)
        s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return s;
}

argot_status argot_uploads_create(argot_upload **out,
                                  argot_client *client,
                                  const argot_create_upload_request *req,
                                  const argot_request_options *opts)
{
    argot_buf url = ARGOT_BUF_INIT(1u << 16);
    char *body = NULL;
    argot_status st;

    ARGOT__OUT_CLEAR(out);
    st = argot__op_start(client, out != NULL && req != NULL, NULL, req, opts,
                         ARGOT_CREATE_UPLOAD_REQUEST_VERSION);
    if (st == ARGOT_OK)
        st = check_create(client, req);
    if (st == ARGOT_OK)
        st = upload_url(client, &url, NULL, NULL);
    if (st == ARGOT_OK && (body = create_body(req)) == NULL)
        st = argot__error_set(client, ARGOT_E_NOMEM, NULL);
    if (st == ARGOT_OK)
        st = post_upload(out, client, url.ptr, body, opts);
    free(body);
    argot_buf_free(&url);
    return st;
}

/* ---- add part ---- */

ARGOT__RESULT_KIND(part_kind,
                   argot_upload_part,
                   argot__part_from_json,
                   argot_upload_part_free,
                   "the response is not an UploadPart object");

static argot_status open_part(argot_client *c,
                              argot__upload *up,
                              const argot_add_upload_part_request *req)
{
    argot_status st = argot__upload_open_part(up, &req->data, req->offset, req->length);

    if (st == ARGOT_OK)
        return st;
    c->err.os_errno = up->io_errno;
    if (st == ARGOT_E_IO && req->data.kind == ARGOT_SOURCE_PATH)
        return argot__error_set(c, st, "cannot open the part source %s: %s", req->data.path,
                                strerror(up->io_errno));
    if (st == ARGOT_E_IO)
        return argot__error_set(c, st, "cannot open the part source: %s", strerror(up->io_errno));
    return argot__error_set(c, st, "invalid part source or range");
}

argot_status argot_uploads_add_part(argot_upload_part **out,
                                    argot_client *client,
                                    const argot_add_upload_part_request *req,
                                    const argot_request_options *opts)
{
    argot_buf url = ARGOT_BUF_INIT(1u << 16);
    argot__upload up;
    argot__request r;
    void *p = NULL;
    argot_status st;

    ARGOT__OUT_CLEAR(out);
    st = argot__op_start(client, out != NULL && req != NULL, NULL, req, opts,
                         ARGOT_ADD_UPLOAD_PART_REQUEST_VERSION);
    if (st == ARGOT_OK)
        st = upload_url(client, &url, req->upload_id != NULL ? req->upload_id : "", "/parts");
    if (st != ARGOT_OK)
        goto out;
    st = open_part(client, &up, req);
    if (st == ARGOT_OK) {
        argot__request_init(&r, "POST", url.ptr);
        r.opts = opts;
        r.upload = &up;
        r.progress = req->progress;
        r.progress_userdata = req->progress_userdata;
        st = argot__op_run(client, &r, &part_kind, &p);
    }
    argot__upload_close(&up);
out:
    argot_buf_free(&url);
    if (out != NULL)
        *out = p;
    return st;
}

/* ---- complete, cancel ---- */

static char *complete_body(const argot_complete_upload_request *req)
{
    json_t *o = json_object(), *ids = json_array();
    char *s = NULL;
    size_t i;
    int bad = o == NULL || ids == NULL;

    for (i = 0; !bad && i < req->part_count; i++)
        bad = req->part_ids[i] == NULL ||
              json_array_append_new(ids, json_string(req->part_ids[i])) != 0;
    if (!bad)
        bad = json_object_set(o, "part_ids", ids) != 0;
    if (!bad && req->md5 != NULL)
        bad = json_object_set_new(o, "md5", json_string(req->md5)) != 0;
    if (!bad)
        s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(ids);
    json_decref(o);
    return s;
}

argot_status argot_uploads_complete(argot_upload **out,
                                    argot_client *client,
                                    const argot_complete_upload_request *req,
                                    const argot_request_options *opts)
{
    argot_buf url = ARGOT_BUF_INIT(1u << 16);
    char *body = NULL;
    argot_status st;

    ARGOT__OUT_CLEAR(out);
    st = argot__op_start(client, out != NULL && req != NULL, NULL, req, opts,
                         ARGOT_COMPLETE_UPLOAD_REQUEST_VERSION);
    if (st == ARGOT_OK && req->part_count > 0 && req->part_ids == NULL)
        st = argot__error_set(client, ARGOT_E_INVALID, "part_ids is NULL");
    if (st == ARGOT_OK)
        st = upload_url(client, &url, req->upload_id != NULL ? req->upload_id : "", "/complete");
    if (st == ARGOT_OK && (body = complete_body(req)) == NULL)
        st = argot__error_set(client, ARGOT_E_INVALID, "invalid part_ids or md5");
    if (st == ARGOT_OK)
        st = post_upload(out, client, url.ptr, body, opts);
    free(body);
    argot_buf_free(&url);
    return st;
}

argot_status argot_uploads_cancel(argot_upload **out,
                                  argot_client *client,
                                  const argot_cancel_upload_request *req,
                                  const argot_request_options *opts)
{
    argot_buf url = ARGOT_BUF_INIT(1u << 16);
    argot_status st;

    ARGOT__OUT_CLEAR(out);
    st = argot__op_start(client, req != NULL, NULL, req, opts, ARGOT_CANCEL_UPLOAD_REQUEST_VERSION);
    if (st == ARGOT_OK)
        st = upload_url(client, &url, req->upload_id != NULL ? req->upload_id : "", "/cancel");
    if (st == ARGOT_OK)
        st = post_upload(out, client, url.ptr, NULL, opts);
    argot_buf_free(&url);
    return st;
}

/* ---- MIME types ---- */

const char *argot_mime_type_guess(const char *filename)
{
    static const char *const table[][2] = {
        {".jsonl", "text/jsonl"},    {".json", "application/json"},
        {".txt", "text/plain"},      {".md", "text/markdown"},
        {".csv", "text/csv"},        {".pdf", "application/pdf"},
        {".html", "text/html"},      {".c", "text/x-c"},
        {".py", "text/x-python"},    {".png", "image/png"},
        {".jpg", "image/jpeg"},      {".jpeg", "image/jpeg"},
        {".gif", "image/gif"},       {".webp", "image/webp"},
        {".zip", "application/zip"}, {".tar", "application/x-tar"},
    };
    const char *dot = filename != NULL ? strrchr(filename, '.') : NULL;
    size_t i;

    for (i = 0; dot != NULL && i < sizeof(table) / sizeof(table[0]); i++)
        if (strcasecmp(dot, table[i][0]) == 0)
            return table[i][1];
    return "application/octet-stream";
}
