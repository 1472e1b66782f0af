/*
 * Decoding of API responses with jansson. Tolerant where the real API is loose: unknown keys
 * are ignored, null and absent optional fields are represented (NULL / ARGOT_TIME_NULL),
 * purpose and status are free strings.
 */
#include "client/internal.h"

#include <stdlib.h>
#include <string.h>

argot_status argot__json_parse(json_t **out, const char *text, size_t len)
{
    json_error_t jerr;
    *out = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    return *out != NULL ? ARGOT_OK : ARGOT_E_PROTOCOL;
}

/* Copies an optional string member: NULL when absent or null; error when another type. */
static argot_status opt_str(char **dst, json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    *dst = NULL;
    if (v == NULL || json_is_null(v))
        return ARGOT_OK;
    if (!json_is_string(v))
        return ARGOT_E_PROTOCOL;
    *dst = argot__strdup(json_string_value(v));
    return *dst != NULL ? ARGOT_OK : ARGOT_E_NOMEM;
}

static argot_status req_str(char **dst, json_t *obj, const char *key)
{
    argot_status st = opt_str(dst, obj, key);
    if (st == ARGOT_OK && *dst == NULL)
        return ARGOT_E_PROTOCOL;
    return st;
}

static argot_status opt_int(int64_t *dst, json_t *obj, const char *key, int required)
{
    json_t *v = json_object_get(obj, key);
    *dst = ARGOT_TIME_NULL;
    if (v == NULL || json_is_null(v))
        return required ? ARGOT_E_PROTOCOL : ARGOT_OK;
    if (json_is_integer(v)) {
        *dst = (int64_t)json_integer_value(v);
        return ARGOT_OK;
    }
    if (json_is_real(v)) {
        *dst = (int64_t)json_real_value(v);
        return ARGOT_OK;
    }
    return ARGOT_E_PROTOCOL;
}

void argot__file_clear(argot_file *f)
{
    if (f == NULL)
        return;
    free(f->id);
    free(f->object);
    free(f->filename);
    free(f->purpose);
    free(f->status);
    free(f->status_details);
    free(f->json);
    memset(f, 0, sizeof(*f));
}

argot_status argot__file_from_json(argot_file *f, json_t *obj)
{
    argot_status st;

    memset(f, 0, sizeof(*f));
    if (!json_is_object(obj))
        return ARGOT_E_PROTOCOL;
    st = req_str(&f->id, obj, "id");
    if (st == ARGOT_OK)
        st = opt_str(&f->object, obj, "object");
    if (st == ARGOT_OK)
        st = opt_int(&f->bytes, obj, "bytes", 1);
    if (st == ARGOT_OK)
        st = opt_int(&f->created_at, obj, "created_at", 1);
    if (st == ARGOT_OK)
        st = opt_int(&f->expires_at, obj, "expires_at", 0);
    if (st == ARGOT_OK)
        st = opt_str(&f->filename, obj, "filename");
    if (st == ARGOT_OK)
        st = opt_str(&f->purpose, obj, "purpose");
    if (st == ARGOT_OK)
        st = opt_str(&f->status, obj, "status");
    if (st == ARGOT_OK)
        st = opt_str(&f->status_details, obj, "status_details");
    if (st != ARGOT_OK)
        argot__file_clear(f);
    return st;
}

static argot_status list_items(argot_file_list *l, json_t *data)
{
    size_t i, n = json_array_size(data);
    argot_status st;

    if (n == 0)
        return ARGOT_OK;
    l->data = calloc(n, sizeof(*l->data));
    if (l->data == NULL)
        return ARGOT_E_NOMEM;
    for (i = 0; i < n; i++) {
        json_t *item = json_array_get(data, i);
        st = argot__file_from_json(&l->data[i], item);
        if (st != ARGOT_OK)
            return st;
        l->count = i + 1;
        l->data[i].json = json_dumps(item, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (l->data[i].json == NULL)
            return ARGOT_E_NOMEM;
    }
    return ARGOT_OK;
}

argot_status argot__list_from_json(argot_file_list *l, json_t *root)
{
    json_t *data = json_object_get(root, "data");
    argot_status st;

    if (!json_is_object(root) || !json_is_array(data))
        return ARGOT_E_PROTOCOL;
    st = list_items(l, data);
    if (st == ARGOT_OK)
        st = opt_str(&l->first_id, root, "first_id");
    if (st == ARGOT_OK)
        st = opt_str(&l->last_id, root, "last_id");
    l->has_more = json_is_true(json_object_get(root, "has_more"));
    return st;
}

argot_status argot__deleted_from_json(argot_file_deleted *d, json_t *root)
{
    argot_status st;
    json_t *del = json_object_get(root, "deleted");

    if (!json_is_object(root) || !json_is_boolean(del))
        return ARGOT_E_PROTOCOL;
    st = req_str(&d->id, root, "id");
    if (st == ARGOT_OK)
        st = opt_str(&d->object, root, "object");
    d->deleted = json_is_true(del);
    return st;
}

/* Takes the fields of {"error":{"message","type","param","code"}}; non-JSON bodies are fine. */
void argot__error_parse_body(argot_client *c)
{
    json_t *root = NULL, *e;

    c->err.body = c->err_body.ptr != NULL ? c->err_body.ptr : "";
    c->err.body_len = (unsigned long)c->err_body.len;
    if (c->err_body.len == 0 || argot__json_parse(&root, c->err_body.ptr, c->err_body.len) != 0)
        return;
    e = json_object_get(root, "error");
    if (json_is_string(e)) {
        c->e_message = argot__strdup(json_string_value(e));
    } else if (json_is_object(e)) {
        (void)opt_str(&c->e_message, e, "message");
        (void)opt_str(&c->e_type, e, "type");
        (void)opt_str(&c->e_param, e, "param");
        if (opt_str(&c->e_code, e, "code") == ARGOT_E_PROTOCOL &&
            json_is_integer(json_object_get(e, "code")))
            c->e_code = NULL;
    }
    c->err.message = c->e_message;
    c->err.type = c->e_type;
    c->err.param = c->e_param;
    c->err.code = c->e_code;
    json_decref(root);
}

/* ---- Uploads ---- */

void argot__upload_clear(argot_upload *u)
{
    if (u == NULL)
        return;
    free(u->id);
    free(u->object);
    free(u->filename);
    free(u->purpose);
    free(u->status);
    argot_file_free(u->file);
    free(u->json);
    memset(u, 0, sizeof(*u));
}

/* The nested File of a completed upload: absent or null gives NULL. */
static argot_status upload_file(argot_upload *u, json_t *obj)
{
    json_t *v = json_object_get(obj, "file");
    argot_status st;

    if (v == NULL || json_is_null(v))
        return ARGOT_OK;
    u->file = calloc(1, sizeof(*u->file));
    if (u->file == NULL)
        return ARGOT_E_NOMEM;
    st = argot__file_from_json(u->file, v);
    if (st != ARGOT_OK) {
        free(u->file);
        u->file = NULL;
        return st;
    }
    u->file->json = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
    return u->file->json != NULL ? ARGOT_OK : ARGOT_E_NOMEM;
}

argot_status argot__upload_from_json(argot_upload *u, json_t *obj)
{
    argot_status st;

    memset(u, 0, sizeof(*u));
    if (!json_is_object(obj))
        return ARGOT_E_PROTOCOL;
    st = req_str(&u->id, obj, "id");
    if (st == ARGOT_OK)
        st = opt_str(&u->object, obj, "object");
    if (st == ARGOT_OK)
        st = opt_int(&u->bytes, obj, "bytes", 1);
    if (st == ARGOT_OK)
        st = opt_int(&u->created_at, obj, "created_at", 1);
    if (st == ARGOT_OK)
        st = opt_str(&u->filename, obj, "filename");
    if (st == ARGOT_OK)
        st = opt_str(&u->purpose, obj, "purpose");
    if (st == ARGOT_OK)
        st = req_str(&u->status, obj, "status");
    if (st == ARGOT_OK)
        st = opt_int(&u->expires_at, obj, "expires_at", 0);
    if (st == ARGOT_OK)
        st = upload_file(u, obj);
    if (st != ARGOT_OK)
        argot__upload_clear(u);
    return st;
}

argot_status argot__part_from_json(argot_upload_part *p, json_t *obj)
{
    argot_status st;

    memset(p, 0, sizeof(*p));
    if (!json_is_object(obj))
        return ARGOT_E_PROTOCOL;
    st = req_str(&p->id, obj, "id");
    if (st == ARGOT_OK)
        st = opt_str(&p->object, obj, "object");
    if (st == ARGOT_OK)
        st = opt_int(&p->created_at, obj, "created_at", 0);
    if (st == ARGOT_OK)
        st = opt_str(&p->upload_id, obj, "upload_id");
    if (st != ARGOT_OK) {
        free(p->id);
        free(p->object);
        free(p->upload_id);
        memset(p, 0, sizeof(*p));
    }
    return st;
}

void argot_file_free(argot_file *file)
{
    if (file == NULL)
        return;
    argot__file_clear(file);
    free(file);
}
