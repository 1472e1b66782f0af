/*
 * The generic operation runner every libargot call goes through: argument and options checks,
 * one HTTP exchange (argot__perform, with the retry policy), and the decoding of a 2xx JSON
 * body into the operation's result type. files.c and uploads.c describe their operations on top
 * of it; nothing here knows a particular endpoint.
 */
#include "client/internal.h"

#include <stdlib.h>

static argot_status check_opts(const argot_request_options *o)
{
    if (o == NULL)
        return ARGOT_OK;
    if (o->version != ARGOT_REQUEST_OPTIONS_VERSION)
        return ARGOT_E_INVALID;
    if (o->retry != NULL)
        return argot__retry_validate(o->retry);
    return ARGOT_OK;
}

/* Common start of every operation: argument checks and a clean last-error record. */
argot_status argot__op_begin(argot_client *c,
                             const argot_request_options *o,
                             unsigned req_version,
                             unsigned want_version)
{
    argot__error_reset(c);
    if (req_version != want_version)
        return argot__error_set(c, ARGOT_E_INVALID, "unsupported request struct version %u",
                                req_version);
    if (check_opts(o) != ARGOT_OK)
        return argot__error_set(c, ARGOT_E_INVALID, "invalid request options");
    return ARGOT_OK;
}

argot_status argot__op_start(argot_client *c,
                             int args_ok,
                             const char *null_msg,
                             const void *req,
                             const argot_request_options *opts,
                             unsigned want_version)
{
    if (c == NULL)
        return ARGOT_E_INVALID;
    if (!args_ok)
        return argot__error_set(c, ARGOT_E_INVALID, "%s",
                                null_msg != NULL ? null_msg : "NULL argument");
    /* C11 6.7.2.1: a pointer to a struct, converted, points to its first member. */
    return argot__op_begin(c, opts, *(const unsigned *)req, want_version);
}

/* Parses the 2xx JSON body of r into *root. */
argot_status argot__op_json(argot_client *c, argot__request *r, json_t **root)
{
    if (r->body.len == 0 || argot__json_parse(root, r->body.ptr, r->body.len) != ARGOT_OK) {
        *root = NULL;
        return argot__error_set(c, ARGOT_E_PROTOCOL, "the response is not valid JSON");
    }
    return ARGOT_OK;
}

argot_status argot__op_decode(argot_client *c,
                              argot__request *r,
                              const argot__result_kind *k,
                              void **out)
{
    void *obj = NULL;
    json_t *root = NULL;
    argot_status st = argot__op_json(c, r, &root);

    if (st == ARGOT_OK && (obj = calloc(1, k->size)) == NULL)
        st = argot__error_set(c, ARGOT_E_NOMEM, NULL);
    if (st == ARGOT_OK && k->decode(obj, root) != ARGOT_OK)
        st = argot__error_set(c, ARGOT_E_PROTOCOL, "%s", k->invalid);
    if (st == ARGOT_OK &&
        (*(char **)((char *)obj + k->json_off) = argot_buf_detach(&r->body)) == NULL)
        st = argot__error_set(c, ARGOT_E_NOMEM, NULL);
    json_decref(root);
    if ((st != ARGOT_OK || out == NULL) && obj != NULL) {
        k->free(obj);
        obj = NULL;
    }
    if (out != NULL)
        *out = obj;
    return st;
}

argot_status argot__op_run(argot_client *c,
                           argot__request *r,
                           const argot__result_kind *k,
                           void **out)
{
    argot_status st = argot__perform(c, r);

    if (st == ARGOT_OK)
        st = argot__op_decode(c, r, k, out);
    else if (out != NULL)
        *out = NULL;
    if (st == ARGOT_OK && r->upload != NULL && r->progress != NULL)
        (void)r->progress(r->upload->pos, r->upload->pos, r->progress_userdata);
    argot__request_free(r);
    return st;
}

argot_status argot__op_call(argot_client *c,
                            const char *method,
                            const char *url,
                            const char *json_body,
                            const argot_request_options *opts,
                            const argot__result_kind *k,
                            void **out)
{
    argot__request r;

    argot__request_init(&r, method, url);
    r.opts = opts;
    r.json_body = json_body;
    return argot__op_run(c, &r, k, out);
}
