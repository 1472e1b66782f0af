/*
 * Bearer authentication: "Authorization: Bearer <key>" → SHA-256 → the key's organization.
 * The key itself is never stored, logged or compared byte by byte: the store looks the hash
 * up and compares it in constant time. Error texts are the real service's.
 */
#include <string.h>
#include <strings.h>

#include "server/app.h"
#include "server/http/http.h"
#include "server/log.h"

int auth_resolve(http_req *r);

#define KEY_MAX 512

static void reply_missing(http_req *r)
{
    http_reply_error(r, 401, "invalid_request_error", NULL, NULL,
                     "You didn't provide an API key. You need to provide your API key in an "
                     "Authorization header using Bearer auth (i.e. Authorization: Bearer "
                     "YOUR_KEY), or as the password field (with blank username) if you're "
                     "accessing the API from your browser and are prompted for a username and "
                     "password. You can obtain an API key from "
                     "https://platform.openai.com/account/api-keys.");
}

/* The real service shows the first 8 and last 4 characters of a wrong key and stars the rest;
 * short keys are shown as sent. */
static void reply_incorrect(http_req *r, const char *key, size_t len)
{
    char shown[KEY_MAX + 1];
    if (len > 12) {
        memcpy(shown, key, 8);
        memset(shown + 8, '*', len - 12);
        memcpy(shown + len - 4, key + len - 4, 4);
    } else {
        memcpy(shown, key, len);
    }
    shown[len] = '\0';
    http_reply_error(r, 401, "invalid_request_error", NULL, "invalid_api_key",
                     "Incorrect API key provided: %s. You can find your API key at "
                     "https://platform.openai.com/account/api-keys.",
                     shown);
}

int auth_resolve(http_req *r)
{
    const char *h = http_header(r, "Authorization");
    if (!h)
        return reply_missing(r), -1;
    while (*h == ' ' || *h == '\t')
        h++;
    if (strncasecmp(h, "Bearer", 6) != 0 || (h[6] != ' ' && h[6] != '\t'))
        return reply_missing(r), -1;
    const char *key = h + 7;
    while (*key == ' ' || *key == '\t')
        key++;
    size_t len = strlen(key);
    while (len && (key[len - 1] == ' ' || key[len - 1] == '\t'))
        len--;
    if (len == 0)
        return reply_missing(r), -1;
    if (len > KEY_MAX) {
        reply_incorrect(r, key, 12); /* never echo kilobytes back */
        return -1;
    }
    uint8_t hash[32];
    id_key_hash(key, len, hash);
    st_err e = ST_ERR_INIT;
    int rc = store_key_lookup(r->app->store, hash, r->org, &e);
    if (rc == ST_OK)
        return 0;
    r->org[0] = '\0';
    if (rc == ST_E_NOTFOUND) {
        reply_incorrect(r, key, len);
        return -1;
    }
    LOG(LOG_ERROR, "msg=\"key lookup failed\" id=%s code=%s message=\"%s\"", r->request_id,
        st_code_name(e.code), e.msg);
    http_add_header(r, "Retry-After", "1");
    http_reply_error(r, 503, "server_error", NULL, NULL,
                     "The server is temporarily unable to check API keys. Please retry.");
    return -1;
}
