/*
 * AWS Signature Version 4 for S3 (header form), on OpenSSL's SHA-256 and HMAC.
 *
 * Our own signer rather than curl 7.88's CURLOPT_AWS_SIGV4, which neither sorts the canonical
 * query string nor adds x-amz-content-sha256 (curl issue 9717); checked against reference
 * signatures from botocore (tests/unit/server/test_sigv4.c, vectors in tests/unit/server/
 * sigv4_vectors.h, made by tests/unit/server/gen_sigv4_vectors.py).
 *
 * The signer is pure: no clock, no I/O, no environment. The caller passes the timestamp and
 * the credentials, and sends exactly the headers it signed (s3_sigv4_request lists them: the
 * extra ones plus host, x-amz-content-sha256, x-amz-date and, with a session token,
 * x-amz-security-token, which the signer adds itself).
 *
 * Ownership: every input is borrowed for the call; results go into caller-provided buffers.
 * Thread: any thread; no shared state.
 */
#ifndef ARGOT_SERVER_S3_SIGV4_H
#define ARGOT_SERVER_S3_SIGV4_H

#include <stddef.h>
#include <time.h>

#include "common/buf.h"

#define S3_SHA256_HEX_LEN    64
#define S3_AMZ_DATE_LEN      16 /* YYYYMMDDTHHMMSSZ, without NUL */
#define S3_UNSIGNED_PAYLOAD  "UNSIGNED-PAYLOAD"
#define S3_EMPTY_SHA256      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define S3_SIGV4_MAX_HEADERS 16 /* extra headers per request */
#define S3_SIGV4_MAX_QUERY   16 /* query parameters per request */

typedef struct s3_kv {
    const char *name;
    const char *value;
} s3_kv;

typedef struct s3_sigv4_request {
    const char *method; /* "GET", "PUT", ... */
    const char *host;   /* the Host header: lowercase, ":port" only when not the default */
    const char *path;   /* the canonical URI, already encoded (s3_uri_encode(..., 1)) */
    const s3_kv *query; /* raw (unencoded) names and values, any order; value NULL = "" */
    size_t nquery;
    const s3_kv *headers; /* extra headers to sign, names in any case, values as sent */
    size_t nheaders;
    const char *payload_hash; /* 64 lowercase hex digits, or S3_UNSIGNED_PAYLOAD */
    const char *amz_date;     /* YYYYMMDDTHHMMSSZ (UTC) */
    const char *region;       /* "us-east-1" */
    const char *service;      /* "s3" */
    const char *access_key;
    const char *secret_key;
    const char *session_token; /* NULL or "": none */
} s3_sigv4_request;

enum {
    S3_SIGV4_OK = 0,
    S3_SIGV4_E_INVALID = -1, /* a missing field, too many headers/parameters, bad hash/date */
    S3_SIGV4_E_NOMEM = -2,   /* out of memory or the output buffer's maximum reached */
};

/* Appends the percent-encoding of s[0..len) as SigV4 wants it: every byte but A-Z a-z 0-9
 * - _ . ~ becomes %XY (upper-case hex); '/' is kept when keep_slash (object key paths) and
 * encoded otherwise (query names and values). Returns S3_SIGV4_OK or S3_SIGV4_E_NOMEM. */
int s3_uri_encode(argot_buf *out, const char *s, size_t len, int keep_slash);

/* Appends the canonical query string: names and values encoded, sorted by encoded name, then
 * by encoded value, joined as a=b&c=d (a parameter without value is "a="). The client sends
 * the same string in the URL, so what is signed is what is sent. */
int s3_sigv4_canonical_query(argot_buf *out, const s3_kv *query, size_t nquery);

/* Appends the canonical request (method, URI, query, headers, signed headers, payload hash). */
int s3_sigv4_canonical_request(argot_buf *out, const s3_sigv4_request *r);

/* Appends the string to sign for the canonical request cr. */
int s3_sigv4_string_to_sign(argot_buf *out, const s3_sigv4_request *r, const char *cr);

/* out = HMAC chain over "AWS4"+secret, date (YYYYMMDD), region, service, "aws4_request". */
void s3_sigv4_signing_key(unsigned char out[32],
                          const char *secret,
                          const char *date8,
                          const char *region,
                          const char *service);

/* Appends the Authorization header value:
 * "AWS4-HMAC-SHA256 Credential=AK/DATE/REGION/SERVICE/aws4_request, SignedHeaders=..., "
 * "Signature=<64 hex>". */
int s3_sigv4_authorization(argot_buf *out, const s3_sigv4_request *r);

/* out = lowercase hex SHA-256 of data[0..len) (65 bytes with the NUL). */
void s3_sha256_hex(char out[S3_SHA256_HEX_LEN + 1], const void *data, size_t len);
/* out = lowercase hex of the 32-byte digest d. */
void s3_hex32(char out[S3_SHA256_HEX_LEN + 1], const unsigned char d[32]);

/* out = t as YYYYMMDDTHHMMSSZ (UTC). */
void s3_amz_date(char out[S3_AMZ_DATE_LEN + 1], time_t t);

#endif
