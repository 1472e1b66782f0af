/*
 * libFuzzer target for path and id handling: the API router on arbitrary paths (with every
 * method), id_plausible() and api_param() on the extracted {id} segment.
 *
 * Input layout: byte 0 picks the method (low 3 bits) and whether /metrics is enabled (bit 3);
 * the rest is the (already percent-decoded) path, cut at its first NUL like the C string the
 * HTTP layer hands over.
 *
 * Checked: a parameter, when found, lies inside the path right after "/v1/files/",
 * "/v1/uploads/" or "/console/", is non-empty and holds no '/'; a route is only matched on a known
 * path; the Allow list is non-empty for known paths; id_plausible() agrees with its definition
 * ([A-Za-z0-9_-]{1,63}); api_param() never hands the store a parameter that is cut or
 * holds a NUL, and what it hands is an id exactly when it is plausible. Nothing here may touch the
 * file system: ids only become lookups.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/api/api.h"
#include "server/api/routes.h"
#include "server/http/router.h"
#include "server/ids.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int ref_plausible(const char *s, size_t n)
{
    if (n < 1 || n > 63)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const methods[] = {"GET", "HEAD",  "POST",    "DELETE",
                                          "PUT", "PATCH", "OPTIONS", "BREW"};
    if (size == 0)
        return 0;
    const char *mname = methods[data[0] & 7];
    int metrics = (data[0] >> 3) & 1;
    char *path = malloc(size);
    if (!path)
        abort();
    memcpy(path, data + 1, size - 1);
    path[size - 1] = '\0';
    size_t plen = strlen(path);

    static http_router *rt[2];
    if (!rt[0] && (api_router_new(&rt[0], 0) || api_router_new(&rt[1], 1)))
        abort();
    route_match m;
    http_router_match(rt[metrics], path, router_method(mname), &m);
    if (m.ops && !m.path_known)
        abort();
    if (m.path_known && (!m.allow[0] || memchr(m.allow, '\0', sizeof m.allow) == NULL))
        abort();
    if (m.param) {
        if (m.param < path || m.param + m.param_len > path + plen || m.param_len == 0)
            abort();
        if (memchr(m.param, '/', m.param_len))
            abort();
        if (m.param[-1] != '/')
            abort();
        if (strncmp(path, "/v1/files/", 10) != 0 && strncmp(path, "/v1/uploads/", 12) != 0 &&
            strncmp(path, "/console/", 9) != 0) /* a console asset's name */
            abort();

        /* What the server does with it: copy (maybe cut) into r->param, then decide. */
        http_req r;
        memset(&r, 0, sizeof r);
        r.param_len = m.param_len;
        size_t n = m.param_len < sizeof r.param - 1 ? m.param_len : sizeof r.param - 1;
        memcpy(r.param, m.param, n);
        r.param[n] = '\0';
        const char *param = api_param(&r); /* what the store is handed */
        int is_id = param[0] && strlen(param) < META_ID_MAX && id_plausible(param);
        if (is_id && (m.param_len >= META_ID_MAX || !ref_plausible(m.param, m.param_len)))
            abort();
        if (!is_id && m.param_len < META_ID_MAX && ref_plausible(m.param, m.param_len))
            abort();
    }
    if (id_plausible(path) != ref_plausible(path, plen))
        abort();
    free(path);
    return 0;
}
