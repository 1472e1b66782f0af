/*
 * The one table from the storage frontend's error record (store/err.h) to an HTTP status and
 * an OpenAI error: every handler answers a store failure through api_reply_store. A rule the
 * client broke gets the frontend's message (written for the client) and param; a failure of
 * the storage gets a fixed text, and its detail (backend, code, message) goes to the log with
 * the request id. Retryable failures (a lock, a lost database connection, an object store's
 * 503, no descriptors left) are 503 with Retry-After, which the official clients retry.
 */
#include "server/api/api.h"
#include "server/log.h"

typedef struct err_row {
    st_code code;
    int status;
    const char *type;
    const char *text; /* NULL: the record's message (a client error) */
    int log;          /* a failure of the server: logged at error level */
} err_row;

static const err_row table[] = {
    {ST_E_NOTFOUND, 404, "invalid_request_error", NULL, 0},
    {ST_E_QUOTA, 400, "invalid_request_error", NULL, 0},
    {ST_E_INVALID, 400, "invalid_request_error", NULL, 0},
    {ST_E_LIMIT, 400, "invalid_request_error", NULL, 0},
    {ST_E_STATE, 400, "invalid_request_error", NULL, 0},
    {ST_E_TOO_LARGE, 413, "server_error", NULL, 0},
    {ST_E_CONFLICT, 409, "invalid_request_error", NULL, 0},
    {ST_E_NOSPC, 507, "server_error",
     "The server has no storage space left for this file. Please retry later or contact the "
     "operator.",
     1},
    {ST_E_BUSY, 503, "server_error",
     "The server is overloaded right now. Please retry your request.", 1},
    {ST_E_UNAVAILABLE, 503, "server_error",
     "The server's storage is unavailable right now. Please retry your request.", 1},
    {ST_E_RESOURCES, 503, "server_error",
     "The server is out of resources right now. Please retry your request.", 1},
};

static const err_row *row_of(st_code code)
{
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (table[i].code == code)
            return &table[i];
    return NULL; /* IO, NOMEM and anything unknown: 500 */
}

int api_reply_store(http_req *r, const st_err *e, const char *what)
{
    const err_row *row = e ? row_of(e->code) : NULL;
    if (!row || row->log)
        LOG(LOG_ERROR,
            "msg=\"store error\" id=%s what=%s code=%s backend=%s sys=%ld retryable=%d "
            "message=\"%s\"",
            r->request_id, what, e ? st_code_name(e->code) : "none",
            e && e->backend ? e->backend : "-", e ? e->sys : 0L, e ? e->retryable : 0,
            e ? e->msg : "");
    if (!row)
        return http_reply_internal(r, what);
    if (row->status == 503)
        http_add_header(r, "Retry-After", "1");
    if (row->text)
        return http_reply_error(r, row->status, row->type, NULL, NULL, "%s", row->text);
    return http_reply_error(r, row->status, row->type, e->param, NULL, "%s", e->msg);
}
