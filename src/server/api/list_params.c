#include "server/api/list_params.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/ids.h"
#include "server/meta/meta.h"

static int fail(list_param_error *err, const char *param, const char *code)
{
    err->param = param;
    err->code = code;
    return -1;
}

static int parse_limit(const char *v, int *out, list_param_error *err)
{
    *out = LIST_MAX_LIMIT;
    if (!v)
        return 0;
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (!*v || *end || errno) {
        snprintf(err->message, sizeof err->message,
                 "Invalid 'limit': expected an integer, but got '%.64s' instead.", v);
        return fail(err, "limit", "invalid_type");
    }
    if (n < 1 || n > LIST_MAX_LIMIT) {
        snprintf(err->message, sizeof err->message,
                 "Invalid 'limit': integer %s value. Expected a value %s %d, but got %lld "
                 "instead.",
                 n < 1 ? "below minimum" : "above maximum",
                 n < 1 ? ">=" : "<=", n < 1 ? 1 : LIST_MAX_LIMIT, n);
        return fail(err, "limit", n < 1 ? "integer_below_min_value" : "integer_above_max_value");
    }
    *out = (int)n;
    return 0;
}

static int parse_order(const char *v, int *desc, list_param_error *err)
{
    *desc = 1;
    if (!v || !strcmp(v, "desc"))
        return 0;
    if (!strcmp(v, "asc")) {
        *desc = 0;
        return 0;
    }
    snprintf(err->message, sizeof err->message,
             "Invalid value: '%.64s'. Supported values are: 'asc' and 'desc'.", v);
    return fail(err, "order", "invalid_value");
}

int list_params_parse(const char *limit,
                      const char *order,
                      const char *after,
                      list_params *out,
                      list_param_error *err)
{
    memset(err, 0, sizeof *err);
    out->after = NULL;
    if (parse_limit(limit, &out->limit, err) || parse_order(order, &out->desc, err))
        return -1;
    /* An id that cannot be one names no file: the same 400 as an unknown id. */
    if (after && (strlen(after) >= META_ID_MAX || !id_plausible(after))) {
        snprintf(err->message, sizeof err->message, "No such File object: %.64s", after);
        return fail(err, "after", NULL);
    }
    out->after = after;
    return 0;
}
