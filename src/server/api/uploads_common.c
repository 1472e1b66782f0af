#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/api/api.h"
#include "server/api/uploads.h"
#include "server/log.h"

static const char *const status_names[] = {"pending", "completed", "cancelled", "expired"};

int api_upload_json(argot_buf *b, const meta_upload *u, const meta_file *f, api_profile p)
{
    int rc = argot_buf_puts(b, "{\"id\":");
    rc = rc ? rc : argot_buf_put_json_str(b, u->id, strlen(u->id));
    rc = rc ? rc
            : argot_buf_printf(b,
                               ",\"object\":\"upload\",\"bytes\":%" PRId64
                               ",\"created_at\":%" PRId64 ",\"filename\":",
                               u->bytes, u->created_at);
    rc = rc ? rc : argot_buf_put_json_str(b, u->filename, strlen(u->filename));
    rc = rc ? rc : argot_buf_puts(b, ",\"purpose\":");
    rc = rc ? rc : argot_buf_put_json_str(b, u->purpose, strlen(u->purpose));
    rc = rc ? rc
            : argot_buf_printf(b, ",\"status\":\"%s\",\"expires_at\":%" PRId64,
                               status_names[u->status & 3], u->expires_at);
    if (!rc && f) {
        rc = argot_buf_puts(b, ",\"file\":");
        rc = rc ? rc : api_file_json(b, f, p);
    }
    return rc ? rc : argot_buf_putc(b, '}');
}

void api_reply_upload(http_req *r, const meta_upload *u, const meta_file *f)
{
    argot_buf b = ARGOT_BUF_INIT(f ? 8192 : 4096);

    if (api_upload_json(&b, u, f, api_profile_of(r))) {
        argot_buf_free(&b);
        http_reply_internal(r, "upload json");
        return;
    }
    http_reply_json(r, 200, &b);
}

int api_part_json(argot_buf *b, const meta_part *p)
{
    int rc = argot_buf_puts(b, "{\"id\":");
    rc = rc ? rc : argot_buf_put_json_str(b, p->id, strlen(p->id));
    rc = rc ? rc
            : argot_buf_printf(
                  b, ",\"object\":\"upload.part\",\"created_at\":%" PRId64 ",\"upload_id\":",
                  p->created_at);
    rc = rc ? rc : argot_buf_put_json_str(b, p->upload_id, strlen(p->upload_id));
    return rc ? rc : argot_buf_putc(b, '}');
}

int api_reply_upload_error(http_req *r, const st_err *e, const char *what)
{
    if (e->code == ST_E_NOTFOUND && e->param && !strcmp(e->param, "id"))
        return http_reply_error(r, 404, "invalid_request_error", "id", NULL,
                                "No such Upload object: %s%s", r->param,
                                r->param_len >= sizeof r->param ? "..." : "");
    return api_reply_store(r, e, what);
}

/* ---- JSON bodies ---- */

static int reply_too_large(http_req *r, size_t max, int64_t got)
{
    st_err e = ST_ERR_INIT;
    store_fail_too_large(&e, NULL, (int64_t)max, got);
    return api_reply_store(r, &e, "json body");
}

int api_json_begin(http_req *r, size_t max)
{
    int64_t cl = http_content_length(r);
    if (cl > (int64_t)max)
        return reply_too_large(r, max, cl), 1;
    argot_buf *b = calloc(1, sizeof *b);
    if (!b)
        return http_reply_internal(r, "json body"), 1;
    argot_buf_init(b, max);
    r->state = b;
    return 0;
}

int api_json_body(http_req *r, const char *data, size_t len)
{
    argot_buf *b = r->state;
    int rc = argot_buf_put(b, data, len);
    if (rc == ARGOT_BUF_OK)
        return 0;
    if (rc == ARGOT_BUF_TOOBIG)
        reply_too_large(r, b->max, (int64_t)r->bytes_in);
    else
        http_reply_internal(r, "json body");
    return 1;
}

void api_json_cleanup(http_req *r)
{
    argot_buf *b = r->state;
    if (!b)
        return;
    argot_buf_free(b);
    free(b);
    r->state = NULL;
}

json_t *api_json_object(http_req *r)
{
    argot_buf *b = r->state;
    json_error_t err;
    json_t *j = b && b->len ? json_loadb(b->ptr, b->len, 0, &err) : NULL;
    if (json_is_object(j))
        return j;
    json_decref(j);
    http_reply_invalid(r, NULL, NULL,
                       "We could not parse the JSON body of your request. (HINT: This likely "
                       "means you aren't using your HTTP library correctly. The OpenAI API "
                       "expects a JSON payload, but what was sent was not valid JSON. If you have "
                       "trouble figuring out how to fix this, please contact us through our help "
                       "center at help.openai.com.)");
    return NULL;
}

static const char *json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a decimal";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

static int field(http_req *r, json_t *o, const char *name, int required, json_t **v)
{
    *v = json_object_get(o, name);
    if (*v && !json_is_null(*v))
        return 0;
    if (!required)
        return 1;
    return http_reply_invalid(r, name, "missing_required_parameter",
                              "Missing required parameter: '%s'.", name),
           -1;
}

int api_json_string(http_req *r, json_t *o, const char *name, int required, const char **out)
{
    json_t *v;
    int rc = field(r, o, name, required, &v);
    if (rc)
        return rc;
    if (!json_is_string(v))
        return http_reply_invalid(r, name, "invalid_type",
                                  "Invalid type for '%s': expected a string, but got %s instead.",
                                  name, json_kind(v)),
               -1;
    *out = json_string_value(v);
    return 0;
}

int api_json_int(http_req *r, json_t *o, const char *name, int required, int64_t *out)
{
    json_t *v;
    int rc = field(r, o, name, required, &v);
    if (rc)
        return rc;
    if (!json_is_integer(v))
        return http_reply_invalid(r, name, "invalid_type",
                                  "Invalid type for '%s': expected an integer, but got %s "
                                  "instead.",
                                  name, json_kind(v)),
               -1;
    *out = json_integer_value(v);
    return 0;
}
