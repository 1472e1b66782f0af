/* AWS SigV4 for S3: see s3_sigv4.h. */
#include "server/blob/s3/s3_sigv4.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#define MAX_SIGNED   (S3_SIGV4_MAX_HEADERS + 4)
#define NAME_MAX_LEN 128

static int put(argot_buf *b, const char *s)
{
    return argot_buf_puts(b, s) == ARGOT_BUF_OK ? S3_SIGV4_OK : S3_SIGV4_E_NOMEM;
}

static int putn(argot_buf *b, const char *s, size_t n)
{
    return argot_buf_put(b, s, n) == ARGOT_BUF_OK ? S3_SIGV4_OK : S3_SIGV4_E_NOMEM;
}

static int unreserved(unsigned char c)
{
    return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

int s3_uri_encode(argot_buf *out, const char *s, size_t len, int keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (unreserved(c) || (keep_slash && c == '/')) {
            if (argot_buf_putc(out, (char)c) != ARGOT_BUF_OK)
                return S3_SIGV4_E_NOMEM;
            continue;
        }
        char e[3] = {'%', hex[c >> 4], hex[c & 15]};
        if (putn(out, e, 3) != S3_SIGV4_OK)
            return S3_SIGV4_E_NOMEM;
    }
    return S3_SIGV4_OK;
}

void s3_hex32(char out[S3_SHA256_HEX_LEN + 1], const unsigned char d[32])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[S3_SHA256_HEX_LEN] = '\0';
}

void s3_sha256_hex(char out[S3_SHA256_HEX_LEN + 1], const void *data, size_t len)
{
    unsigned char d[SHA256_DIGEST_LENGTH];
    SHA256(data, len, d);
    s3_hex32(out, d);
}

void s3_amz_date(char out[S3_AMZ_DATE_LEN + 1], time_t t)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    if (strftime(out, S3_AMZ_DATE_LEN + 1, "%Y%m%dT%H%M%SZ", &tm) != S3_AMZ_DATE_LEN)
        memcpy(out, "19700101T000000Z", S3_AMZ_DATE_LEN + 1);
}

/* ---- canonical query string ---- */

typedef struct enc_kv {
    char *name;
    char *value;
} enc_kv;

static int cmp_enc_kv(const void *a, const void *b)
{
    const enc_kv *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->value, y->value);
}

static char *encode_dup(const char *s)
{
    argot_buf b = ARGOT_BUF_INIT(3 * strlen(s) + 1);
    if (s3_uri_encode(&b, s, strlen(s), 0) != S3_SIGV4_OK || argot_buf_putc(&b, '\0') != 0) {
        argot_buf_free(&b);
        return NULL;
    }
    return argot_buf_detach(&b);
}

int s3_sigv4_canonical_query(argot_buf *out, const s3_kv *query, size_t nquery)
{
    enc_kv kv[S3_SIGV4_MAX_QUERY] = {{0}};
    int rc = S3_SIGV4_OK;
    if (nquery > S3_SIGV4_MAX_QUERY)
        return S3_SIGV4_E_INVALID;
    for (size_t i = 0; i < nquery && rc == S3_SIGV4_OK; i++) {
        if (!query[i].name || !query[i].name[0]) {
            rc = S3_SIGV4_E_INVALID;
            break;
        }
        kv[i].name = encode_dup(query[i].name);
        kv[i].value = encode_dup(query[i].value ? query[i].value : "");
        if (!kv[i].name || !kv[i].value)
            rc = S3_SIGV4_E_NOMEM;
    }
    if (rc == S3_SIGV4_OK)
        qsort(kv, nquery, sizeof kv[0], cmp_enc_kv);
    for (size_t i = 0; i < nquery && rc == S3_SIGV4_OK; i++) {
        if (i && (rc = put(out, "&")) != S3_SIGV4_OK)
            break;
        if ((rc = put(out, kv[i].name)) == S3_SIGV4_OK && (rc = put(out, "=")) == S3_SIGV4_OK)
            rc = put(out, kv[i].value);
    }
    for (size_t i = 0; i < nquery; i++) {
        free(kv[i].name);
        free(kv[i].value);
    }
    return rc;
}

/* ---- canonical headers ---- */

typedef struct hdr {
    char name[NAME_MAX_LEN];
    const char *value;
    size_t order; /* position given, so equal names keep their order when joined */
} hdr;

static int cmp_hdr(const void *a, const void *b)
{
    const hdr *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

static int add_hdr(hdr *h, size_t *n, const char *name, const char *value)
{
    size_t len = name ? strlen(name) : 0;
    if (*n >= MAX_SIGNED || len == 0 || len >= NAME_MAX_LEN || !value)
        return S3_SIGV4_E_INVALID;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c <= ' ' || c == ':' || c >= 0x7f)
            return S3_SIGV4_E_INVALID;
        h[*n].name[i] = (char)tolower(c);
    }
    h[*n].name[len] = '\0';
    h[*n].value = value;
    h[*n].order = *n;
    (*n)++;
    return S3_SIGV4_OK;
}

static int collect_headers(const s3_sigv4_request *r, hdr *h, size_t *n)
{
    int rc;
    *n = 0;
    if (r->nheaders > S3_SIGV4_MAX_HEADERS)
        return S3_SIGV4_E_INVALID;
    for (size_t i = 0; i < r->nheaders; i++)
        if ((rc = add_hdr(h, n, r->headers[i].name, r->headers[i].value)) != S3_SIGV4_OK)
            return rc;
    if ((rc = add_hdr(h, n, "host", r->host)) != S3_SIGV4_OK ||
        (rc = add_hdr(h, n, "x-amz-content-sha256", r->payload_hash)) != S3_SIGV4_OK ||
        (rc = add_hdr(h, n, "x-amz-date", r->amz_date)) != S3_SIGV4_OK)
        return rc;
    if (r->session_token && r->session_token[0] &&
        (rc = add_hdr(h, n, "x-amz-security-token", r->session_token)) != S3_SIGV4_OK)
        return rc;
    qsort(h, *n, sizeof h[0], cmp_hdr);
    return S3_SIGV4_OK;
}

/* Trimall: no leading/trailing blanks, inner runs of blanks become one space. */
static int put_trimmed(argot_buf *out, const char *v)
{
    int pending = 0, any = 0;
    for (; *v; v++) {
        if (*v == ' ' || *v == '\t' || *v == '\n' || *v == '\r' || *v == '\v' || *v == '\f') {
            pending = any;
            continue;
        }
        if (pending && argot_buf_putc(out, ' ') != ARGOT_BUF_OK)
            return S3_SIGV4_E_NOMEM;
        if (argot_buf_putc(out, *v) != ARGOT_BUF_OK)
            return S3_SIGV4_E_NOMEM;
        pending = 0;
        any = 1;
    }
    return S3_SIGV4_OK;
}

/* "name:v1,v2\n" per distinct name when lines, else "name;name2" (the signed headers). */
static int put_headers(argot_buf *out, const hdr *h, size_t n, int lines)
{
    int rc = S3_SIGV4_OK;
    for (size_t i = 0; i < n && rc == S3_SIGV4_OK; i++) {
        int same = i > 0 && strcmp(h[i].name, h[i - 1].name) == 0;
        if (!lines) {
            if (!same)
                rc = i ? put(out, ";") : S3_SIGV4_OK;
            if (!same && rc == S3_SIGV4_OK)
                rc = put(out, h[i].name);
            continue;
        }
        if (same)
            rc = put(out, ",");
        else if ((rc = i ? put(out, "\n") : S3_SIGV4_OK) == S3_SIGV4_OK &&
                 (rc = put(out, h[i].name)) == S3_SIGV4_OK)
            rc = put(out, ":");
        if (rc == S3_SIGV4_OK)
            rc = put_trimmed(out, h[i].value);
    }
    if (lines && rc == S3_SIGV4_OK)
        rc = put(out, "\n");
    return rc;
}

static int valid_hash(const char *h)
{
    if (!h)
        return 0;
    if (strcmp(h, S3_UNSIGNED_PAYLOAD) == 0)
        return 1;
    return strlen(h) == S3_SHA256_HEX_LEN && strspn(h, "0123456789abcdef") == S3_SHA256_HEX_LEN;
}

static int valid_request(const s3_sigv4_request *r)
{
    return r->method && r->method[0] && r->host && r->host[0] && r->path && r->path[0] == '/' &&
           valid_hash(r->payload_hash) && r->amz_date && strlen(r->amz_date) == S3_AMZ_DATE_LEN &&
           r->amz_date[8] == 'T' && r->amz_date[15] == 'Z' && r->region && r->region[0] &&
           r->service && r->service[0] && r->access_key && r->access_key[0] && r->secret_key &&
           (r->nquery == 0 || r->query);
}

int s3_sigv4_canonical_request(argot_buf *out, const s3_sigv4_request *r)
{
    hdr h[MAX_SIGNED];
    size_t n;
    int rc;
    if (!valid_request(r))
        return S3_SIGV4_E_INVALID;
    if ((rc = collect_headers(r, h, &n)) != S3_SIGV4_OK)
        return rc;
    if ((rc = put(out, r->method)) || (rc = put(out, "\n")) || (rc = put(out, r->path)) ||
        (rc = put(out, "\n")) || (rc = s3_sigv4_canonical_query(out, r->query, r->nquery)) ||
        (rc = put(out, "\n")) || (rc = put_headers(out, h, n, 1)) || (rc = put(out, "\n")) ||
        (rc = put_headers(out, h, n, 0)) || (rc = put(out, "\n")))
        return rc;
    return put(out, r->payload_hash);
}

static int put_scope(argot_buf *out, const s3_sigv4_request *r)
{
    int rc;
    if ((rc = putn(out, r->amz_date, 8)) || (rc = put(out, "/")) || (rc = put(out, r->region)) ||
        (rc = put(out, "/")) || (rc = put(out, r->service)))
        return rc;
    return put(out, "/aws4_request");
}

int s3_sigv4_string_to_sign(argot_buf *out, const s3_sigv4_request *r, const char *cr)
{
    char crhash[S3_SHA256_HEX_LEN + 1];
    int rc;
    if (!valid_request(r) || !cr)
        return S3_SIGV4_E_INVALID;
    s3_sha256_hex(crhash, cr, strlen(cr));
    if ((rc = put(out, "AWS4-HMAC-SHA256\n")) || (rc = put(out, r->amz_date)) ||
        (rc = put(out, "\n")) || (rc = put_scope(out, r)) || (rc = put(out, "\n")))
        return rc;
    return put(out, crhash);
}

static void hmac(unsigned char out[32], const void *key, size_t klen, const char *msg)
{
    unsigned int olen = 32;
    HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, strlen(msg), out, &olen);
}

void s3_sigv4_signing_key(unsigned char out[32],
                          const char *secret,
                          const char *date8,
                          const char *region,
                          const char *service)
{
    size_t slen = strlen(secret);
    unsigned char *k = malloc(slen + 5);
    unsigned char a[32], b[32];
    if (!k) {
        memset(out, 0, 32);
        return;
    }
    memcpy(k, "AWS4", 4);
    memcpy(k + 4, secret, slen + 1);
    hmac(a, k, slen + 4, date8);
    OPENSSL_cleanse(k, slen + 5);
    free(k);
    hmac(b, a, 32, region);
    hmac(a, b, 32, service);
    hmac(out, a, 32, "aws4_request");
    OPENSSL_cleanse(a, sizeof a);
    OPENSSL_cleanse(b, sizeof b);
}

static int signature(char out[S3_SHA256_HEX_LEN + 1], const s3_sigv4_request *r, const char *sts)
{
    unsigned char key[32], sig[32];
    char date8[9];
    memcpy(date8, r->amz_date, 8);
    date8[8] = '\0';
    if (strlen(r->secret_key) > 4096)
        return S3_SIGV4_E_INVALID;
    s3_sigv4_signing_key(key, r->secret_key, date8, r->region, r->service);
    hmac(sig, key, sizeof key, sts);
    OPENSSL_cleanse(key, sizeof key);
    s3_hex32(out, sig);
    return S3_SIGV4_OK;
}

int s3_sigv4_authorization(argot_buf *out, const s3_sigv4_request *r)
{
    argot_buf cr = ARGOT_BUF_INIT(1 << 20), sts = ARGOT_BUF_INIT(4096);
    char sig[S3_SHA256_HEX_LEN + 1];
    hdr h[MAX_SIGNED];
    size_t n;
    int rc;
    if ((rc = s3_sigv4_canonical_request(&cr, r)) ||
        (rc = s3_sigv4_string_to_sign(&sts, r, cr.ptr)) || (rc = signature(sig, r, sts.ptr)) ||
        (rc = collect_headers(r, h, &n)))
        goto out;
    if ((rc = put(out, "AWS4-HMAC-SHA256 Credential=")) || (rc = put(out, r->access_key)) ||
        (rc = put(out, "/")) || (rc = put_scope(out, r)) || (rc = put(out, ", SignedHeaders=")) ||
        (rc = put_headers(out, h, n, 0)) || (rc = put(out, ", Signature=")))
        goto out;
    rc = put(out, sig);
out:
    argot_buf_free(&cr);
    argot_buf_free(&sts);
    return rc;
}
