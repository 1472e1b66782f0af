#include "server/store/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int retryable_code(st_code c)
{
    return c == ST_E_BUSY || c == ST_E_UNAVAILABLE || c == ST_E_RESOURCES;
}

static int vfail(
    st_err *e, st_code code, int retry, const char *backend, long sys, const char *fmt, va_list ap)
    __attribute__((format(printf, 6, 0)));

static int vfail(
    st_err *e, st_code code, int retry, const char *backend, long sys, const char *fmt, va_list ap)
{
    if (!e || e->code != ST_OK)
        return code;
    e->code = code;
    e->retryable = retry || retryable_code(code);
    e->sys = sys;
    e->backend = backend;
    e->param = NULL;
    if (fmt)
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    else
        e->msg[0] = '\0';
    return code;
}

int st_fail(st_err *e, st_code code, const char *backend, long sys, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vfail(e, code, 0, backend, sys, fmt, ap);
    va_end(ap);
    return rc;
}

int st_fail_retry(st_err *e, st_code code, const char *backend, long sys, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vfail(e, code, 1, backend, sys, fmt, ap);
    va_end(ap);
    return rc;
}

int st_fail_client(st_err *e, st_code code, const char *param, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int fresh = e && e->code == ST_OK;
    int rc = vfail(e, code, 0, "store", 0, fmt, ap);
    va_end(ap);
    if (fresh)
        e->param = param;
    return rc;
}

int st_fail_errno(st_err *e, int err, const char *backend, const char *what)
{
    st_code c = err == ENOSPC || err == EDQUOT   ? ST_E_NOSPC
                : err == ENOMEM                  ? ST_E_NOMEM
                : err == EMFILE || err == ENFILE ? ST_E_RESOURCES
                : err == ENOENT                  ? ST_E_NOTFOUND
                                                 : ST_E_IO;
    return st_fail(e, c, backend, err, "%s: %s", what, strerror(err));
}

void st_err_clear(st_err *e)
{
    if (e)
        *e = (st_err)ST_ERR_INIT;
}

const char *st_code_name(st_code code)
{
    static const char *const names[] = {"ok",      "notfound",    "quota",     "busy",     "io",
                                        "invalid", "nomem",       "conflict",  "state",    "limit",
                                        "nospc",   "unavailable", "resources", "too_large"};
    int i = -(int)code;
    return i >= 0 && i < (int)(sizeof names / sizeof names[0]) ? names[i] : "unknown";
}
