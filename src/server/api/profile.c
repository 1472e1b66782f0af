#include "server/api/profile.h"

#include <string.h>

/* Clients that validate every response against the published spec and fail on what the real
 * service sends (nulls, raw /content bytes). In auto they get the spec profile. A User-Agent
 * matches an entry when it starts with prefix, then a space, and has word as one of its
 * space-separated words after that. Add a row per client (and a line in
 * docs/compatibility.md). */
static const struct strict_client {
    const char *prefix;
    const char *word;
} strict_clients[] = {
    /* The seed SDK, argot-open-ai (Speakeasy TypeScript): its User-Agent is
     * "speakeasy-sdk/typescript 0.0.5 2.438.15 2.3.0 argot-open-ai" (SDK, generator and spec
     * versions, then the package name). */
    {"speakeasy-sdk/typescript", "argot-open-ai"},
};

static int has_word(const char *s, const char *w)
{
    size_t n = strlen(w);
    for (const char *p = s; (p = strstr(p, w)) != NULL; p++)
        if ((p == s || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' '))
            return 1;
    return 0;
}

int api_profile_strict_client(const char *ua)
{
    if (!ua)
        return 0;
    for (size_t i = 0; i < sizeof strict_clients / sizeof strict_clients[0]; i++) {
        const struct strict_client *c = &strict_clients[i];
        size_t n = strlen(c->prefix);
        if (!strncmp(ua, c->prefix, n) && ua[n] == ' ' && has_word(ua + n, c->word))
            return 1;
    }
    return 0;
}

/* -1 when the header is absent, else the profile it names, or -2 if it names none. */
static int from_header(http_req *r)
{
    const char *v = http_header(r, API_PROFILE_HEADER);
    if (!v)
        return -1;
    if (!strcmp(v, "service"))
        return API_PROFILE_SERVICE;
    if (!strcmp(v, "spec"))
        return API_PROFILE_SPEC;
    return -2;
}

int api_profile_begin(http_req *r)
{
    if (from_header(r) != -2)
        return 0;
    http_reply_invalid(r, NULL, "invalid_value",
                       "Invalid value for header '" API_PROFILE_HEADER
                       "': '%.64s'. Supported values are: 'service' and 'spec'.",
                       http_header(r, API_PROFILE_HEADER));
    return 1;
}

api_profile api_profile_of(http_req *r)
{
    int h = from_header(r);
    if (h >= 0)
        return (api_profile)h;
    switch (r->app->cfg->profile) {
    case CFG_PROFILE_SERVICE:
        return API_PROFILE_SERVICE;
    case CFG_PROFILE_SPEC:
        return API_PROFILE_SPEC;
    default:
        return api_profile_strict_client(http_header(r, "User-Agent")) ? API_PROFILE_SPEC
                                                                       : API_PROFILE_SERVICE;
    }
}
