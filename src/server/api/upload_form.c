#include "server/api/upload_form.h"

#include <stdlib.h>
#include <string.h>

#include "server/api/api.h"

enum { CUR_NONE = -1, CUR_IGNORED = -2, CUR_FILE = -3 };

struct upload_form {
    const upload_form_spec *spec;
    void *ctx;
    mp_parser *mp;
    int cur;         /* the part being read: a field slot or CUR_* */
    unsigned seen;   /* bit per slot, and bit UF_FIELDS for the file */
    argot_buf field; /* the text field being read */
    argot_buf vals[UF_FIELDS];
    char *filename;
    store_ingest *g;
};

upload_form *upload_form_of(http_req *r)
{
    return r->state;
}

void *upload_form_ctx(upload_form *u)
{
    return u->ctx;
}

const char *upload_form_value(upload_form *u, int slot)
{
    return u->vals[slot].ptr;
}

size_t upload_form_value_len(upload_form *u, int slot)
{
    return u->vals[slot].len;
}

const char *upload_form_filename(upload_form *u)
{
    return u->filename;
}

store_ingest *upload_form_ingest(upload_form *u)
{
    return u->g;
}

static int slot_of(const upload_form_spec *spec, const char *name)
{
    for (int i = 0; i < UF_FIELDS && spec->fields[i]; i++)
        if (!strcmp(spec->fields[i], name))
            return i;
    return CUR_IGNORED;
}

static int once(http_req *r, upload_form *u, unsigned bit, const char *name)
{
    if (u->seen & bit) {
        http_reply_invalid(r, name, NULL, "'%s' was given more than once.", name);
        return 1;
    }
    u->seen |= bit;
    return 0;
}

static int on_part_begin(const mp_part_info *pi, void *ud)
{
    http_req *r = ud;
    upload_form *u = upload_form_of(r);
    const upload_form_spec *spec = u->spec;
    if (!strcmp(pi->name, spec->file_field)) {
        u->cur = CUR_FILE;
        if (once(r, u, 1u << UF_FIELDS, pi->name))
            return 1;
        if (spec->on_filename && spec->on_filename(r, u, pi->filename, pi->filename_len))
            return 1;
        if (pi->filename && !(u->filename = strndup(pi->filename, pi->filename_len))) {
            http_reply_internal(r, "filename");
            return 1;
        }
        return 0;
    }
    u->cur = slot_of(spec, pi->name);
    if (u->cur == CUR_IGNORED)
        return 0; /* unknown fields are skipped without buffering */
    argot_buf_reset(&u->field);
    return once(r, u, 1u << u->cur, pi->name);
}

static int on_part_data(const char *data, size_t len, void *ud)
{
    http_req *r = ud;
    upload_form *u = upload_form_of(r);
    if (u->cur == CUR_FILE) {
        st_err e = ST_ERR_INIT;
        if (store_ingest_write(u->g, data, len, &e) == ST_OK)
            return 0;
        api_reply_store(r, &e, "upload write");
        return 1;
    }
    if (u->cur < 0)
        return 0;
    if (argot_buf_put(&u->field, data, len) == ARGOT_BUF_OK)
        return 0;
    http_reply_invalid(r, NULL, NULL, "A form field is longer than %d bytes.", UF_FIELD_MAX);
    return 1;
}

static int on_part_end(void *ud)
{
    http_req *r = ud;
    upload_form *u = upload_form_of(r);
    int slot = u->cur;
    u->cur = CUR_NONE;
    if (slot < 0)
        return 0;
    argot_buf tmp = u->vals[slot];
    u->vals[slot] = u->field; /* hand the filled buffer over, keep the old one for reuse */
    u->field = tmp;
    argot_buf_reset(&u->field);
    if (!u->vals[slot].ptr && argot_buf_put(&u->vals[slot], "", 0)) {
        http_reply_internal(r, "field");
        return 1;
    }
    return u->spec->on_field ? u->spec->on_field(r, u, slot) : 0;
}

static const mp_callbacks mp_cbs = {on_part_begin, on_part_data, on_part_end};

int upload_form_begin(http_req *r, const upload_form_spec *spec, int64_t max, void *ctx)
{
    const char *ct = http_header(r, "Content-Type");
    char boundary[MP_BOUNDARY_MAX + 1];
    int64_t cl = http_content_length(r);
    st_err e = ST_ERR_INIT;
    if (cl > max + UF_NONDATA_MAX) {
        store_fail_too_large(&e, spec->kind == STORE_INGEST_PART ? "Part" : "File", max, cl);
        return api_reply_store(r, &e, "upload begin"), 1;
    }
    if (!ct || mp_boundary_from_content_type(ct, boundary) != MP_OK)
        return http_reply_invalid(r, NULL, NULL,
                                  "Expected a multipart/form-data request body with a "
                                  "boundary (Content-Type: multipart/form-data; boundary=...)."),
               1;
    upload_form *u = calloc(1, sizeof *u);
    if (!u)
        return http_reply_internal(r, "upload alloc"), 1;
    r->state = u;
    u->spec = spec;
    u->ctx = ctx;
    u->cur = CUR_NONE;
    argot_buf_init(&u->field, UF_FIELD_MAX);
    for (int i = 0; i < UF_FIELDS; i++)
        argot_buf_init(&u->vals[i], UF_FIELD_MAX);
    mp_limits lim = MP_LIMITS_DEFAULT;
    if (mp_parser_new(&u->mp, boundary, &lim, &mp_cbs, r) != MP_OK)
        return http_reply_internal(r, "parser alloc"), 1;
    if (store_ingest_begin(r->app->store, r->org, cl, UF_NONDATA_MAX, max, spec->kind, &u->g, &e))
        return api_reply_store(r, &e, "upload begin"), 1;
    return 0;
}

int upload_form_body(http_req *r, const char *data, size_t len)
{
    upload_form *u = upload_form_of(r);
    int rc = mp_parser_feed(u->mp, data, len);
    if (rc == MP_OK && !r->status &&
        (int64_t)r->bytes_in - store_ingest_bytes(u->g) > UF_NONDATA_MAX)
        return http_reply_invalid(r, NULL, NULL,
                                  "The form data besides '%s' is larger than %d bytes.",
                                  u->spec->file_field, UF_NONDATA_MAX),
               1;
    if (rc == MP_OK || r->status)
        return 0;
    http_reply_invalid(r, NULL, NULL, "Invalid multipart body: %s", mp_parser_errmsg(u->mp));
    return 1;
}

int upload_form_finish(http_req *r, upload_form *u)
{
    if (mp_parser_finish(u->mp) != MP_OK)
        return http_reply_invalid(r, NULL, NULL, "Invalid multipart body: %s",
                                  mp_parser_errmsg(u->mp)),
               1;
    if (!(u->seen & (1u << UF_FIELDS)))
        return http_reply_invalid(r, u->spec->file_field, NULL, "'%s' is a required property",
                                  u->spec->file_field),
               1;
    return 0;
}

void upload_form_cleanup(http_req *r)
{
    upload_form *u = upload_form_of(r);
    if (!u)
        return;
    store_ingest_free(u->g);
    mp_parser_free(u->mp);
    argot_buf_free(&u->field);
    for (int i = 0; i < UF_FIELDS; i++)
        argot_buf_free(&u->vals[i]);
    free(u->filename);
    free(u);
    r->state = NULL;
}
