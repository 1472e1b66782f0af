#include "server/ids.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

static const char b58[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
static const char hex[] = "0123456789abcdef";

int id_random(void *buf, size_t len)
{
    unsigned char *p = buf;
    while (len) {
        ssize_t n = getrandom(p, len, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Uniform base58 characters by rejection sampling (bytes >= 232 = 4*58 are redrawn). */
static int fill_b58(char *out, size_t n)
{
    unsigned char rnd[64];
    size_t have = 0, used = 0;
    while (n) {
        if (used == have) {
            if (id_random(rnd, sizeof rnd))
                return -1;
            have = sizeof rnd;
            used = 0;
        }
        unsigned char r = rnd[used++];
        if (r >= 232)
            continue;
        *out++ = b58[r % 58];
        n--;
    }
    return 0;
}

static int fill_hex(char *out, size_t nchars)
{
    unsigned char rnd[32];
    size_t nbytes = (nchars + 1) / 2;
    if (nbytes > sizeof rnd || id_random(rnd, nbytes))
        return -1;
    for (size_t i = 0; i < nchars; i++)
        out[i] = hex[(rnd[i / 2] >> ((i & 1) ? 0 : 4)) & 15];
    return 0;
}

static int make(char *out, const char *prefix, size_t body, int (*fill)(char *, size_t))
{
    size_t pl = strlen(prefix);
    memcpy(out, prefix, pl);
    if (fill(out + pl, body))
        return -1;
    out[pl + body] = '\0';
    return 0;
}

int id_file_new(char out[FILE_ID_LEN + 1])
{
    return make(out, "file-", 22, fill_b58);
}

int id_request_new(char out[REQUEST_ID_LEN + 1])
{
    return make(out, "req_", 32, fill_hex);
}

int id_api_key_new(char out[API_KEY_LEN + 1])
{
    return make(out, "sk-argot-", 40, fill_b58);
}

int id_key_id_new(char out[KEY_ID_LEN + 1])
{
    return make(out, "key_", 16, fill_hex);
}

void id_key_hash(const char *key, size_t len, uint8_t out[32])
{
    SHA256((const unsigned char *)key, len, out);
}

int id_plausible(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '-';
        if (!ok || n >= 63)
            return 0;
    }
    return n > 0;
}

int id_upload_new(char *out, size_t cap, const char *prefix, int64_t created_at)
{
    unsigned char rnd[12];
    size_t n = strlen(prefix);
    if (n > 7 || cap < n + 33 || id_random(rnd, sizeof rnd))
        return -1;
    memcpy(out, prefix, n);
    (void)snprintf(out + n, 9, "%08" PRIx32, (uint32_t)created_at);
    for (size_t i = 0; i < sizeof rnd; i++) {
        out[n + 8 + 2 * i] = hex[rnd[i] >> 4];
        out[n + 8 + 2 * i + 1] = hex[rnd[i] & 15];
    }
    out[n + 32] = '\0';
    return 0;
}
