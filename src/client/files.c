/*
 * The five Files API operations, described for the generic runner of op.c.
 */
#include "client/internal.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

static argot_status file_url(argot_client *c, argot_buf *url, const char *id, const char *suffix)
{
    argot_status st;
    if (id == NULL || id[0] == '\0')
        return argot__error_set(c, ARGOT_E_INVALID, "a file id is required");
    st = argot__url(c, url, "/files/");
    if (st == ARGOT_OK)
        st = argot__url_escape_append(c, url, id);
    if (st == ARGOT_OK && suffix != NULL && argot_buf_puts(url, suffix) != 0)
        st = ARGOT_E_NOMEM;
    if (st != ARGOT_OK)
        return argot__error_set(c, st, NULL);
    return ARGOT_OK;
}

ARGOT__RESULT_KIND(file_kind,
                   argot_file,
                   argot__file_from_json,
                   argot_file_free,
                   "the response is not a File object");

/* ---- list ---- */

static argot_status add_query(
    argot_client *c, argot_buf *url, char *sep, const char *name, const char *value)
{
    if (value == NULL)
        return ARGOT_OK;
    if (argot_buf_putc(url, *sep) != 0 || argot_buf_puts(url, name) != 0 ||
        argot_buf_putc(url, '=') != 0)
        return ARGOT_E_NOMEM;
    *sep = '&';
    return argot__url_escape_append(c, url, value);
}

ARGOT__RESULT_KIND(list_kind,
                   argot_file_list,
                   argot__list_from_json,
                   argot_file_list_free,
                   "the response is not a list of files");

static argot_status list_url(argot_client *c, argot_buf *url, const argot_list_files_request *q)
{
    char sep = '?', lim[16];
    argot_status st = argot__url(c, url, "/files");

    if (q->limit < 0 || q->limit > 10000 || q->order < ARGOT_ORDER_DEFAULT ||
        q->order > ARGOT_ORDER_DESC)
        return argot__error_set(c, ARGOT_E_INVALID, "limit must be 1..10000");
    snprintf(lim, sizeof(lim), "%d", q->limit);
    if (st == ARGOT_OK)
        st = add_query(c, url, &sep, "purpose", q->purpose);
    if (st == ARGOT_OK)
        st = add_query(c, url, &sep, "limit", q->limit > 0 ? lim : NULL);
    if (st == ARGOT_OK)
        st = add_query(c, url, &sep, "order",
                       q->order == ARGOT_ORDER_ASC    ? "asc"
                       : q->order == ARGOT_ORDER_DESC ? "desc"
                                                      : NULL);
    if (st == ARGOT_OK)
        st = add_query(c, url, &sep, "after", q->after);
    return st == ARGOT_OK ? st : argot__error_set(c, st, NULL);
}

argot_status argot_files_list_files(argot_file_list **out,
                                    argot_client *client,
                                    const argot_list_files_request *req,
                                    const argot_request_options *opts)
{
    static const argot_list_files_request dflt = ARGOT_LIST_FILES_REQUEST_INIT;
    argot_buf url = ARGOT_BUF_INIT(1u << 16);
    void *l = NULL;
    argot_status st;

    ARGOT__OUT_CLEAR(out);
    if (req == NULL)
        req = &dflt;
    st = argot__op_start(client, out != NULL, "out is NULL", req, opts,
                         ARGOT_LIST_FILES_REQUEST_VERSION);
    if (st == ARGOT_OK)
        st = list_url(client, &url, req);
    if (st == ARGOT_OK)
        st = argot__op_call(client, "GET", url.ptr, NULL, opts, &list_kind, &l);
    argot_buf_free(&url);
    if (out != NULL)
        *out = l;
    return st;
}

void argot_file_list_free(argot_file_list *list)
{
    size_t i;
    if (list == NULL)
        return;
    for (i = 0; i < list->count; i++)
        argot__file_clear(&list->data[i]);
    free(list->data);
    free(list->first_id);
    free(list->last_id);
    free(list->json);
    free(list);
}

/* ---- retrieve, delete ---- */

argot_status argot_files_retrieve_file(argot_file **out,
                                       argot_client *client,
                                       const argot_retrieve_file_request *req,
                                       const argot_request_options *opts)
{
    argot_buf url = ARGOT_BUF_INIT(1u << 16);
    void *f = NULL;
    argot_status st;

    ARGOT__OUT_CLEAR(out);
    st = argot__op_start(client, out != NULL && req != NULL, NULL, req, opts,
                         ARGOT_RETRIEVE_FILE_REQUEST_VERSION);
    if (st == ARGOT_OK)
        st = file_url(client, &url, req->file_id, NULL);
    if (st == ARGOT_OK)
        st = argot__op_call(client, "GET", url.ptr, NULL, opts, &file_kind, &f);
    argot_buf_free(&url);
    if (out != NULL)
        *out = f;
    return st;
}

ARGOT__RESULT_KIND(deleted_kind,
                   argot_file_deleted,
                   argot__deleted_from_json,
                   argot_file_deleted_free,
                   "the response is not a deletion result");

argot_status argot_files_delete_file(argot_file_deleted **out,
                                     argot_client *client,
                                     const argot_delete_file_request *req,
                                     const argot_request_options *opts)
{
    argot_buf url = ARGOT_BUF_INIT(1u << 16);
    void *d = NULL;
    argot_status st;

    ARGOT__OUT_CLEAR(out);
    st = argot__op_start(client, req != NULL, NULL, req, opts, ARGOT_DELETE_FILE_REQUEST_VERSION);
    if (st == ARGOT_OK)
        st = file_url(client, &url, req->file_id, NULL);
    if (st == ARGOT_OK) /* out may be NULL: the answer is only checked */
        st = argot__op_call(client, "DELETE", url.ptr, NULL, opts, &deleted_kind,
                            out != NULL ? &d : NULL);
    argot_buf_free(&url);
    if (out != NULL)
        *out = d;
    return st;
}

void argot_file_deleted_free(argot_file_deleted *deleted)
{
    if (deleted == NULL)
        return;
    free(deleted->id);
    free(deleted->object);
    free(deleted->json);
    free(deleted);
}

/* ---- create ---- */

static argot_status check_create(argot_client *c, const argot_create_file_request *req)
{
    if (req->purpose == NULL || req->purpose[0] == '\0')
        return argot__error_set(c, ARGOT_E_INVALID, "purpose is required");
    if (req->expires_after < 0)
        return argot__error_set(c, ARGOT_E_INVALID, "expires_after must not be negative");
    return ARGOT_OK;
}

argot_status argot_files_create_file(argot_file **out,
                                     argot_client *client,
                                     const argot_create_file_request *req,
                                     const argot_request_options *opts)
{
    argot_buf url = ARGOT_BUF_INIT(1u << 16);
    argot__upload up;
    argot__request r;
    void *f = NULL;
    argot_status st;

    ARGOT__OUT_CLEAR(out);
    st = argot__op_start(client, out != NULL && req != NULL, NULL, req, opts,
                         ARGOT_CREATE_FILE_REQUEST_VERSION);
    if (st == ARGOT_OK)
        st = check_create(client, req);
    if (st == ARGOT_OK)
        st = argot__url(client, &url, "/files");
    if (st != ARGOT_OK)
        goto out;
    st = argot__upload_open(&up, req);
    if (st != ARGOT_OK) {
        client->err.os_errno = up.io_errno;
        if (st == ARGOT_E_IO && req->file.kind == ARGOT_SOURCE_PATH)
            st = argot__error_set(client, st, "cannot open the upload source %s: %s",
                                  req->file.path, strerror(up.io_errno));
        else if (st == ARGOT_E_IO)
            st = argot__error_set(client, st, "cannot open the upload source: %s",
                                  strerror(up.io_errno));
        else
            st = argot__error_set(client, st, "invalid upload source");
        goto out;
    }
    argot__request_init(&r, "POST", url.ptr);
    r.opts = opts;
    r.upload = &up;
    r.progress = req->progress;
    r.progress_userdata = req->progress_userdata;
    st = argot__op_run(client, &r, &file_kind, &f);
    argot__upload_close(&up);
out:
    argot_buf_free(&url);
    if (out != NULL)
        *out = f;
    return st;
}

/* ---- download ---- */

static argot_status download_result(argot_download **out,
                                    argot_client *c,
                                    argot__sink *s,
                                    argot__request *r)
{
    argot_download *d = calloc(1, sizeof(*d));

    if (d == NULL)
        return argot__error_set(c, ARGOT_E_NOMEM, NULL);
    d->bytes = s->written;
    d->offset = s->offset;
    d->size = s->size;
    d->http_status = s->status;
    d->restarted = s->restarted;
    d->already_complete = s->complete && s->written == 0 && !s->restarted;
    d->content_type = r->resp_content_type;
    r->resp_content_type = NULL;
    d->etag = s->etag[0] != '\0' ? argot__strdup(s->etag) : NULL;
    if (s->spec->kind == ARGOT_SINK_BUFFER)
        d->data = s->buf.ptr != NULL ? argot_buf_detach(&s->buf) : calloc(1, 1);
    if ((s->etag[0] != '\0' && d->etag == NULL) ||
        (s->spec->kind == ARGOT_SINK_BUFFER && d->data == NULL)) {
        argot_download_free(d);
        return argot__error_set(c, ARGOT_E_NOMEM, NULL);
    }
    *out = d;
    return ARGOT_OK;
}

/* The final progress call: too late to abort. */
static void download_progress_end(const argot_download_file_request *req, const argot__sink *s)
{
    uint64_t done = s->offset + s->written;

    if (req->progress != NULL)
        (void)req->progress(done, s->size >= 0 ? (uint64_t)s->size : done, req->progress_userdata);
}

static argot_status download_run(argot_download **out,
                                 argot_client *c,
                                 const argot_download_file_request *req,
                                 const argot_request_options *opts,
                                 const char *url)
{
    argot__sink sink;
    argot__request r;
    argot_status st = argot__sink_init(c, &sink, req);

    if (st != ARGOT_OK) {
        argot__sink_free(&sink);
        return st;
    }
    argot__request_init(&r, "GET", url);
    r.accept = "application/binary";
    r.opts = opts;
    r.sink = &sink;
    r.progress = req->progress;
    r.progress_userdata = req->progress_userdata;
    r.max_recv_speed = req->max_recv_speed;
    st = argot__perform(c, &r);
    if (argot__sink_finish(&sink, st == ARGOT_OK) != ARGOT_OK && st == ARGOT_OK) {
        c->err.os_errno = sink.io_errno;
        st = argot__error_set(c, ARGOT_E_IO, "cannot write the download: %s",
                              strerror(sink.io_errno));
    }
    if (st == ARGOT_OK)
        download_progress_end(req, &sink);
    if (st == ARGOT_OK && out != NULL)
        st = download_result(out, c, &sink, &r);
    argot__request_free(&r);
    argot__sink_free(&sink);
    return st;
}

/* The request as version 2: a version 1 struct is the first members of the current one. */
typedef struct download_request_v1 {
    unsigned version;
    const char *file_id;
    argot_download_sink sink;
    argot_progress_fn progress;
    void *progress_userdata;
} download_request_v1;

static const argot_download_file_request *download_request(const argot_download_file_request *req,
                                                           argot_download_file_request *v2)
{
    if (req == NULL || req->version != 1)
        return req;
    *v2 = (argot_download_file_request)ARGOT_DOWNLOAD_FILE_REQUEST_INIT;
    memcpy(v2, req, sizeof(download_request_v1));
    v2->version = ARGOT_DOWNLOAD_FILE_REQUEST_VERSION;
    return v2;
}

argot_status argot_files_download_file(argot_download **out,
                                       argot_client *client,
                                       const argot_download_file_request *req,
                                       const argot_request_options *opts)
{
    argot_buf url = ARGOT_BUF_INIT(1u << 16);
    argot_download_file_request v2;
    argot_status st;

    ARGOT__OUT_CLEAR(out);
    req = download_request(req, &v2);
    st = argot__op_start(client, req != NULL, NULL, req, opts, ARGOT_DOWNLOAD_FILE_REQUEST_VERSION);
    if (st == ARGOT_OK && out == NULL && req->sink.kind == ARGOT_SINK_BUFFER)
        st = argot__error_set(client, ARGOT_E_INVALID, "a buffer download needs out");
    if (st == ARGOT_OK &&
        (req->offset > (uint64_t)INT64_MAX ||
         (req->length > 0 && req->offset > (uint64_t)INT64_MAX - (uint64_t)req->length)))
        st = argot__error_set(client, ARGOT_E_INVALID, "offset + length must be below 2^63");
    if (st == ARGOT_OK)
        st = file_url(client, &url, req->file_id, "/content");
    if (st == ARGOT_OK)
        st = download_run(out, client, req, opts, url.ptr);
    argot_buf_free(&url);
    return st;
}

void argot_download_free(argot_download *download)
{
    if (download == NULL)
        return;
    free(download->data);
    free(download->content_type);
    free(download->etag);
    free(download);
}
