/* The ranged streaming reader: a GET pulled through a paused libcurl transfer. See
 * s3_stream.h. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/blob/s3/s3_internal.h"
#include "server/blob/s3/s3_stream.h"
#include "server/log.h"

#define STASH_MAX (1 << 20) /* the most one callback may leave over (curl sends <= 64 KiB) */

struct s3_reader {
    s3_client *c;
    s3_conn *k;
    s3_xfer *x;
    s3_req req;
    char key[S3R_KEY_MAX + 1];
    char range[64];
    char etag[S3R_ETAG_MAX + 1]; /* of the first answer: If-Match when resuming */
    uint64_t start, len;         /* the range asked for (len resolved once known) */
    uint64_t received;           /* bytes taken from curl (to the caller or the stash) */
    char *dst;                   /* the caller's buffer during a read */
    size_t dst_cap, dst_len;
    char *stash;
    size_t stash_cap, stash_len, stash_off;
    int paused, done, retries;
    s3_status failed;
    s3_error first;
};

static int sink(const char *p, size_t len, void *ud)
{
    s3_reader *r = ud;
    if (r->stash_len > r->stash_off) {
        r->paused = 1; /* the caller has not taken the last rest yet: curl keeps this */
        return S3_WRITE_PAUSE;
    }
    size_t n = r->dst_cap - r->dst_len < len ? r->dst_cap - r->dst_len : len;
    size_t rest = len - n;
    if (rest > r->stash_cap) {
        char *ns = rest <= STASH_MAX ? realloc(r->stash, rest) : NULL;
        if (!ns)
            return 1;
        r->stash = ns;
        r->stash_cap = rest;
    }
    if (n) /* no buffer (n 0) while opening */
        memcpy(r->dst + r->dst_len, p, n);
    r->dst_len += n;
    if (rest)
        memcpy(r->stash, p + n, rest);
    r->stash_len = rest;
    r->stash_off = 0;
    r->received += len;
    return 0;
}

/* "bytes a-b/total" -> total, or 0 if absent. */
static uint64_t range_total(const char *cr)
{
    const char *slash = strchr(cr, '/');
    return slash && slash[1] != '*' ? strtoull(slash + 1, NULL, 10) : 0;
}

static void end_transfer(s3_reader *r, int broken)
{
    s3_xfer_free(r->x);
    r->x = NULL;
    if (r->k) {
        if (broken)
            curl_multi_remove_handle(r->k->multi, r->k->easy);
        s3_conn_put(r->c, r->k, broken);
        r->k = NULL;
    }
}

/* Sends the GET for [start + received, start + len). */
static s3_status send_get(s3_reader *r, s3_error *e)
{
    uint64_t from = r->start + r->received;
    memset(&r->req, 0, sizeof r->req);
    r->req = (s3_req){
        .op = "GetObject", .method = "GET", .key = r->key, .write_cb = sink, .write_ud = r};
    if (from > 0 || r->len != S3_TO_END) {
        if (r->len == S3_TO_END)
            snprintf(r->range, sizeof r->range, "bytes=%" PRIu64 "-", from);
        else
            snprintf(r->range, sizeof r->range, "bytes=%" PRIu64 "-%" PRIu64, from,
                     r->start + r->len - 1);
        r->req.headers[r->req.nheaders++] = (s3_kv){"range", r->range};
        r->req.ranged = 1;
    }
    if (r->etag[0])
        r->req.headers[r->req.nheaders++] = (s3_kv){"if-match", r->etag};
    if (!(r->k = s3_conn_get(r->c)))
        return s3_error_set(e, S3_E_NOMEM, 0, "GetObject %s: out of memory", r->key);
    s3_status rc = s3_xfer_new(&r->x, r->c, r->k, &r->req, e);
    if (rc == S3_OK && s3_xfer_start(r->x) != 0)
        rc = s3_error_set(e, S3_E_NOMEM, 0, "GetObject %s: cannot start", r->key);
    if (rc != S3_OK)
        end_transfer(r, 1);
    r->done = 0;
    r->paused = 0;
    return rc;
}

enum { UNTIL_DATA, UNTIL_HEADERS, UNTIL_END };

/* Runs curl until the caller's buffer got bytes or curl paused (UNTIL_DATA), or the headers
 * of a 2xx answer are in (UNTIL_HEADERS), or the transfer ended; returns the transfer's
 * outcome once it ended, else S3_OK. */
static s3_status pump(s3_reader *r, int until, s3_error *e)
{
    CURLcode cc = CURLE_OK;
    long status = 0;
    while (!r->done) {
        if (s3_xfer_step(r->x, &cc)) {
            r->done = 1;
            s3_status rc = s3_xfer_result(r->x, cc, e);
            end_transfer(r, cc != CURLE_OK);
            return rc;
        }
        if (until == UNTIL_DATA && (r->dst_len > 0 || r->paused))
            return S3_OK;
        if (until == UNTIL_END && r->paused)
            return S3_OK;
        curl_easy_getinfo(r->k->easy, CURLINFO_RESPONSE_CODE, &status);
        if (until == UNTIL_HEADERS && r->req.headers_done && status >= 200 && status < 300)
            return S3_OK;
        s3_xfer_wait(r->x, 1000);
    }
    return S3_OK;
}

/* Learns the object's size and the range's length from the first answer's headers. */
static s3_status first_answer(s3_reader *r, uint64_t *size, s3_error *e)
{
    uint64_t total = r->req.ranged ? range_total(r->req.content_range) : r->req.content_length;
    if (r->req.ranged && total == 0)
        return s3_error_set(e, S3_E_PROTOCOL, 0, "GetObject %s: no usable Content-Range", r->key);
    if (r->len == S3_TO_END)
        r->len = total - r->start;
    else if (r->start + r->len > total)
        r->len = total > r->start ? total - r->start : 0;
    snprintf(r->etag, sizeof r->etag, "%s", r->req.etag);
    if (size)
        *size = total;
    return S3_OK;
}

static s3_status open_head_only(s3_reader *r, uint64_t *size, s3_error *err)
{
    uint64_t total = 0;
    s3_status rc = s3_head_object(r->c, r->key, &total, r->etag, err);
    if (rc == S3_OK && size)
        *size = total;
    r->done = 1;
    return rc;
}

s3_status s3_reader_open(s3_reader **out,
                         s3_client *c,
                         const char *key,
                         uint64_t offset,
                         uint64_t len,
                         uint64_t *size,
                         s3_error *err)
{
    s3_reader *r;
    s3_status rc;
    *out = NULL;
    if (!key || !key[0] || strlen(key) > S3R_KEY_MAX)
        return s3_error_set(err, S3_E_INVALID, 0, "reader: missing or too long key");
    if (len != S3_TO_END && len > UINT64_MAX - offset)
        return s3_error_set(err, S3_E_INVALID, 0, "reader %s: range overflows", key);
    if (!(r = calloc(1, sizeof *r)))
        return s3_error_set(err, S3_E_NOMEM, 0, "reader: out of memory");
    r->c = c;
    r->start = offset;
    r->len = len;
    snprintf(r->key, sizeof r->key, "%s", key);
    if (len == 0)
        rc = open_head_only(r, size, err);
    else if ((rc = send_get(r, err)) == S3_OK && (rc = pump(r, UNTIL_HEADERS, err)) == S3_OK)
        rc = first_answer(r, size, err);
    if (rc != S3_OK) {
        s3_reader_close(r);
        return rc;
    }
    *out = r;
    return S3_OK;
}

static size_t take_stash(s3_reader *r, char *buf, size_t cap)
{
    size_t n = r->stash_len - r->stash_off;
    n = n < cap ? n : cap;
    if (n)
        memcpy(buf, r->stash + r->stash_off, n);
    r->stash_off += n;
    return n;
}

/* After the transfer ended (rc its outcome) with bytes still due: resume it from where it
 * stopped when the failure is retryable and retries are left, else fail. */
static s3_status after_end(s3_reader *r, s3_status rc, s3_error *e)
{
    int retry = rc == S3_OK || e->retryable;
    if (rc == S3_OK) {
        rc = S3_E_NETWORK;
        s3_error_set(e, rc, 1, "GetObject %s: the answer ended %llu bytes early", r->key,
                     (unsigned long long)(r->len - r->received));
    }
    if (!retry || r->retries >= r->c->cfg.max_retries)
        return rc;
    r->retries++;
    LOG(LOG_WARN, "s3 reader key=%s: resuming at byte %llu (%d/%d): %s", r->key,
        (unsigned long long)(r->start + r->received), r->retries, r->c->cfg.max_retries,
        e->message);
    s3_error_clear(e);
    return send_get(r, e);
}

/* Lets a transfer that delivered its last byte finish, so its connection can be reused. */
static void drain_end(s3_reader *r)
{
    s3_error e;
    s3_error_clear(&e);
    if (!r->done && r->received >= r->len && !r->paused)
        (void)pump(r, UNTIL_END, &e);
}

s3_status s3_reader_read(s3_reader *r, char *buf, size_t cap, size_t *got, s3_error *err)
{
    s3_error e;
    s3_status rc = S3_OK;
    *got = 0;
    if (r->failed) {
        if (err && err->code == S3_OK)
            *err = r->first;
        return r->failed;
    }
    if (r->stash_len > r->stash_off || cap == 0) {
        *got = take_stash(r, buf, cap);
        return S3_OK;
    }
    s3_error_clear(&e);
    r->dst = buf;
    r->dst_cap = cap;
    r->dst_len = 0;
    while (rc == S3_OK && r->dst_len == 0 && r->received < r->len) {
        if (r->done) {
            rc = after_end(r, S3_OK, &e);
        } else if (r->paused) {
            r->paused = 0;
            s3_xfer_resume(r->x); /* may hand over the held chunk at once */
        } else if ((rc = pump(r, UNTIL_DATA, &e)) != S3_OK) {
            rc = after_end(r, rc, &e);
        }
    }
    *got = r->dst_len;
    r->dst = NULL;
    r->dst_cap = r->dst_len = 0;
    if (rc != S3_OK) {
        r->failed = rc;
        r->first = e;
        if (err && err->code == S3_OK)
            *err = e;
        return rc;
    }
    drain_end(r);
    return S3_OK;
}

void s3_reader_close(s3_reader *r)
{
    if (!r)
        return;
    end_transfer(r, !r->done);
    free(r->stash);
    free(r);
}
