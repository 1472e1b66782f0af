#include "server/api/disposition.h"

#include <stdio.h>
#include <string.h>

#include "common/buf.h"

/* RFC 6266 / 5987: an ASCII fallback with unsafe characters replaced, plus filename*=UTF-8''
 * with everything outside attr-char percent-encoded. CR, LF and NUL never reach the header. */
void api_content_disposition(const char *name, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    argot_buf b = ARGOT_BUF_INIT(cap - 1);
    int rc = argot_buf_puts(&b, "attachment; filename=\"");
    for (const unsigned char *p = (const unsigned char *)name; !rc && *p; p++) {
        char c = (*p < 0x20 || *p >= 0x7f || *p == '"' || *p == '\\' || *p == '%') ? '_' : (char)*p;
        rc = argot_buf_putc(&b, c);
    }
    rc = rc ? rc : argot_buf_puts(&b, "\"; filename*=UTF-8''");
    for (const unsigned char *p = (const unsigned char *)name; !rc && *p; p++) {
        int plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                    (*p >= '0' && *p <= '9') || strchr("!#$&+-.^_`|~", *p);
        if (plain)
            rc = argot_buf_putc(&b, (char)*p);
        else {
            char e[4] = {'%', hex[*p >> 4], hex[*p & 15], 0};
            rc = argot_buf_puts(&b, e);
        }
    }
    if (rc || !b.ptr)
        snprintf(out, cap, "attachment");
    else
        snprintf(out, cap, "%s", b.ptr);
    argot_buf_free(&b);
}
