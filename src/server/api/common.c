#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "server/api/api.h"
#include "server/log.h"

/* Decimal digits of v, written backwards ending at end; returns the first digit. */
static char *i64_digits(int64_t v, char *end)
{
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        *--end = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--end = '-';
    return end;
}

/* Appends the literal lit, then v in decimal, with one append (no printf: on list pages of 100
 * files, vfprintf was 14% of argotd's CPU). */
static int put_lit_i64(argot_buf *b, const char *lit, size_t lit_len, int64_t v)
{
    char tmp[64];
    char *d = i64_digits(v, tmp + sizeof tmp);
    size_t n = (size_t)(tmp + sizeof tmp - d);
    memmove(tmp + lit_len, d, n);
    memcpy(tmp, lit, lit_len);
    return argot_buf_put(b, tmp, lit_len + n);
}
#define PUT_LIT_I64(b, lit, v) put_lit_i64((b), lit, sizeof lit - 1, (v))

int api_file_json(argot_buf *b, const meta_file *f, api_profile p)
{
    size_t id_len = strlen(f->id), purpose_len = strlen(f->purpose), name_len = strlen(f->filename);
    /* One reservation for the common case (no escaping), so the appends below do not grow
     * the buffer one by one. */
    int rc = argot_buf_reserve(b, 192 + id_len + purpose_len + name_len);
    rc = rc ? rc : argot_buf_puts(b, "{\"object\":\"file\",\"id\":");
    rc = rc ? rc : argot_buf_put_json_str(b, f->id, id_len);
    rc = rc ? rc : argot_buf_puts(b, ",\"purpose\":");
    rc = rc ? rc : argot_buf_put_json_str(b, f->purpose, purpose_len);
    rc = rc ? rc : argot_buf_puts(b, ",\"filename\":");
    rc = rc ? rc : argot_buf_put_json_str(b, f->filename, name_len);
    rc = rc ? rc : PUT_LIT_I64(b, ",\"bytes\":", f->bytes);
    rc = rc ? rc : PUT_LIT_I64(b, ",\"created_at\":", f->created_at);
    if (!rc && f->expires_at)
        rc = PUT_LIT_I64(b, ",\"expires_at\":", f->expires_at);
    else if (!rc && p == API_PROFILE_SERVICE)
        rc = argot_buf_puts(b, ",\"expires_at\":null");
    /* status_details is always null here: files never fail processing. */
    if (p == API_PROFILE_SERVICE)
        return rc ? rc : argot_buf_puts(b, ",\"status\":\"processed\",\"status_details\":null}");
    return rc ? rc : argot_buf_puts(b, ",\"status\":\"processed\"}");
}

void api_reply_file(http_req *r, const meta_file *f)
{
    argot_buf b = ARGOT_BUF_INIT(16384);
    if (api_file_json(&b, f, api_profile_of(r))) {
        argot_buf_free(&b);
        http_reply_internal(r, "file json");
        return;
    }
    http_reply_json(r, 200, &b);
}

const char *api_param(const http_req *r)
{
    /* The decoded parameter may hold a NUL (%00), or be longer than the buffer: no id either
     * way. The store says "No such ... object" for it without a lookup. */
    return r->param_len < sizeof r->param && strlen(r->param) == r->param_len ? r->param : "";
}

int api_lookup_file(http_req *r, meta_file *out)
{
    st_err e = ST_ERR_INIT;
    if (store_file_get(r->app->store, r->org, api_param(r), out, &e) == ST_OK)
        return 0;
    if (e.code == ST_E_NOTFOUND) /* echo what was asked for, as the real service does */
        http_reply_error(r, 404, "invalid_request_error", "id", NULL, "No such File object: %s%s",
                         r->param, r->param_len >= sizeof r->param ? "..." : "");
    else
        api_reply_store(r, &e, "file get");
    return -1;
}

/* In the order the real service lists them in its error message. */
static const char *const uploadable[] = {"fine-tune", "assistants", "batch",
                                         "user_data", "vision",     "evals"};

int api_purpose_uploadable(const char *p, size_t len)
{
    for (size_t i = 0; i < sizeof uploadable / sizeof uploadable[0]; i++)
        if (strlen(uploadable[i]) == len && !memcmp(uploadable[i], p, len))
            return 1;
    return 0;
}

int api_reply_bad_purpose(http_req *r, const char *purpose)
{
    return http_reply_invalid(r, "purpose", NULL,
                              "'%s' is not one of ['fine-tune', 'assistants', 'batch', "
                              "'user_data', 'vision', 'evals'] - 'purpose'",
                              purpose);
}

int api_check_expires_after(http_req *r, const char *anchor, int64_t secs)
{
    if (strcmp(anchor, "created_at") != 0)
        return http_reply_invalid(r, "expires_after.anchor", "invalid_value",
                                  "Invalid value: '%.64s'. Supported values are: 'created_at'.",
                                  anchor),
               -1;
    if (secs < EXPIRES_MIN || secs > EXPIRES_MAX)
        return http_reply_invalid(
                   r, "expires_after.seconds",
                   secs < EXPIRES_MIN ? "integer_below_min_value" : "integer_above_max_value",
                   "Invalid 'expires_after.seconds': integer %s value. Expected a "
                   "value %s %d, but got %" PRId64 " instead.",
                   secs < EXPIRES_MIN ? "below minimum" : "above maximum",
                   secs < EXPIRES_MIN ? ">=" : "<=", secs < EXPIRES_MIN ? EXPIRES_MIN : EXPIRES_MAX,
                   secs),
               -1;
    return 0;
}

int api_expires_after_object(http_req *r, const json_t *j, int64_t *secs)
{
    json_t *a = json_is_object(j) ? json_object_get(j, "anchor") : NULL;
    json_t *s = json_is_object(j) ? json_object_get(j, "seconds") : NULL;
    if (!json_is_object(j))
        return http_reply_invalid(r, "expires_after", "invalid_type",
                                  "Invalid type for 'expires_after': expected an object."),
               -1;
    if (!a || !s)
        return http_reply_invalid(r, !a ? "expires_after.anchor" : "expires_after.seconds",
                                  "missing_required_parameter", "Missing required parameter: '%s'.",
                                  !a ? "expires_after.anchor" : "expires_after.seconds"),
               -1;
    if (!json_is_string(a))
        return http_reply_invalid(r, "expires_after.anchor", "invalid_type",
                                  "Invalid type for 'expires_after.anchor': expected a string."),
               -1;
    if (!json_is_integer(s))
        return http_reply_invalid(r, "expires_after.seconds", "invalid_type",
                                  "Invalid type for 'expires_after.seconds': expected an integer."),
               -1;
    *secs = json_integer_value(s);
    return api_check_expires_after(r, json_string_value(a), *secs);
}

const char *api_filename_problem(const char *name, size_t len)
{
    if (!name)
        return "the 'file' part has no filename";
    if (len == 0)
        return "the filename is empty";
    if (len >= META_FILENAME_MAX)
        return "the filename is longer than 1023 bytes";
    if (!argot_utf8_valid(name, len))
        return "the filename is not valid UTF-8";
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            return "the filename contains control characters";
    return NULL;
}

/* The real service accepted a batch file named "test-batch-file" (recorded in
 * BatchTests/CreateGetAndCancelBatchProtocol) and refuses ".txt": only an extension other than
 * .jsonl is refused. */
static int jsonl_ok(const char *name)
{
    const char *base = strrchr(name, '/');
    const char *dot = strrchr(base ? base + 1 : name, '.');
    return !dot || strcasecmp(dot, ".jsonl") == 0;
}

int api_check_jsonl(http_req *r, const char *purpose, const char *name)
{
    if (!strcmp(purpose, "batch") && !jsonl_ok(name))
        return http_reply_invalid(r, NULL, NULL,
                                  "Invalid file format for Batch API. Must be .jsonl"),
               -1;
    if (!strcmp(purpose, "fine-tune") && !jsonl_ok(name))
        return http_reply_invalid(r, NULL, NULL,
                                  "Invalid file format for Fine-Tuning API. Must be .jsonl"),
               -1;
    return 0;
}
