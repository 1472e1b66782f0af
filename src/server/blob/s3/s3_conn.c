/*
 * The request engine of the S3 client: builds the URL, signs, runs the transfer on a pooled
 * libcurl handle, feeds the body to the caller or the XML decoder, reads error bodies (bounded)
 * and classifies the outcome. See s3_internal.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>

#include "server/blob/s3/s3_internal.h"
#include "server/log.h"

struct s3_xfer {
    s3_client *c;
    s3_conn *k;
    s3_req *r;
    struct curl_slist *hdrs;
    argot_buf url, auth;
    char errbuf[CURL_ERROR_SIZE];
    argot_buf errbody;
    uint64_t sent;
    long status;
    int consumer_stop; /* a callback of the caller stopped the transfer */
    int decode_failed; /* the 2xx body did not decode */
    int range_ignored; /* a ranged GET was answered 200 */
    int cancelled;     /* r->cancel was set during the transfer */
};

static int cancel_set(const s3_req *r)
{
    return r->cancel && atomic_load(r->cancel) != 0;
}

/* Called by curl at least every S3_CANCEL_POLL_MS while the transfer runs (s3_xfer_run). */
static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    s3_xfer *x = ud;
    if (!cancel_set(x->r))
        return 0;
    x->cancelled = 1;
    return 1;
}

static int http_ok(long s)
{
    return s >= 200 && s < 300;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    s3_xfer *x = ud;
    s3_req *r = x->r;
    size_t len = size * n;
    if (x->status == 0)
        curl_easy_getinfo(x->k->easy, CURLINFO_RESPONSE_CODE, &x->status);
    if (!http_ok(x->status)) {
        size_t room = x->errbody.max - x->errbody.len;
        (void)argot_buf_put(&x->errbody, p, len < room ? len : room);
        return len;
    }
    if (r->write_cb) {
        if (r->ranged && x->status != 206) {
            x->range_ignored = 1;
            return 0;
        }
        int rc = r->write_cb(p, len, r->write_ud);
        if (rc == S3_WRITE_PAUSE)
            return CURL_WRITEFUNC_PAUSE;
        if (rc != 0) {
            x->consumer_stop = 1;
            return 0;
        }
        r->delivered += len;
        return len;
    }
    if (r->resp && s3r_feed(r->resp, p, len) != S3R_OK) {
        x->decode_failed = 1;
        return 0;
    }
    return len;
}

static void header_value(const char *p, size_t len, char *dst, size_t cap)
{
    while (len && (*p == ' ' || *p == '\t')) {
        p++;
        len--;
    }
    while (len && (p[len - 1] == '\r' || p[len - 1] == '\n' || p[len - 1] == ' '))
        len--;
    if (len >= cap)
        len = cap - 1;
    memcpy(dst, p, len);
    dst[len] = '\0';
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    s3_xfer *x = ud;
    s3_req *r = x->r;
    size_t len = size * n;
    char num[32];
    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        r->etag[0] = r->content_range[0] = '\0';
        r->content_length = 0;
        r->headers_done = 0;
        x->status = 0;
    } else if (len <= 2 && (p[0] == '\r' || p[0] == '\n')) {
        long st = 0;
        curl_easy_getinfo(x->k->easy, CURLINFO_RESPONSE_CODE, &st);
        r->headers_done = st >= 200;
    } else if (len > 5 && strncasecmp(p, "ETag:", 5) == 0) {
        header_value(p + 5, len - 5, r->etag, sizeof r->etag);
    } else if (len > 14 && strncasecmp(p, "Content-Range:", 14) == 0) {
        header_value(p + 14, len - 14, r->content_range, sizeof r->content_range);
    } else if (len > 15 && strncasecmp(p, "Content-Length:", 15) == 0) {
        header_value(p + 15, len - 15, num, sizeof num);
        r->content_length = strtoull(num, NULL, 10);
    }
    return len;
}

static size_t on_read(char *buf, size_t size, size_t n, void *ud)
{
    s3_xfer *x = ud;
    s3_req *r = x->r;
    size_t cap = size * n;
    if (r->body) {
        size_t m = r->body_len - (size_t)x->sent;
        m = m < cap ? m : cap;
        memcpy(buf, (const char *)r->body + x->sent, m);
        x->sent += m;
        return m;
    }
    if (!r->read_cb || x->sent >= r->read_len)
        return 0;
    if (cap > r->read_len - x->sent)
        cap = (size_t)(r->read_len - x->sent);
    long got = r->read_cb(buf, cap, r->read_ud);
    if (got <= 0 || (size_t)got > cap) {
        x->consumer_stop = 1; /* an error, or fewer bytes than the announced length */
        return CURL_READFUNC_ABORT;
    }
    x->sent += (uint64_t)got;
    return (size_t)got;
}

/* When a reused connection dies before any answer, curl sends the request again on a fresh
 * one by itself, rewinding the body first: a body in memory can be, a streamed one cannot
 * (CURLE_SEND_FAIL_REWIND, and no retry: the caller owns the stream). */
static int on_seek(void *ud, curl_off_t offset, int origin)
{
    s3_xfer *x = ud;
    if (!x->r->body || origin != SEEK_SET || offset < 0 || (uint64_t)offset > x->r->body_len)
        return CURL_SEEKFUNC_CANTSEEK;
    x->sent = (uint64_t)offset;
    return CURL_SEEKFUNC_OK;
}

static s3_status build_url(s3_xfer *x, argot_buf *path, argot_buf *query)
{
    s3_client *c = x->c;
    if (argot_buf_printf(&x->url, "%s://%s%s", c->scheme, c->host, path->ptr) != ARGOT_BUF_OK)
        return S3_E_NOMEM;
    if (query->len && argot_buf_printf(&x->url, "?%s", query->ptr) != ARGOT_BUF_OK)
        return S3_E_NOMEM;
    return S3_OK;
}

static int add_header(s3_xfer *x, const char *name, const char *value)
{
    char line[2048];
    struct curl_slist *l;
    if (snprintf(line, sizeof line, "%s: %s", name, value) >= (int)sizeof line)
        return -1;
    if (!(l = curl_slist_append(x->hdrs, line)))
        return -1;
    x->hdrs = l;
    return 0;
}

/* Signs the request and lists the headers to send: exactly those signed, plus unsigned
 * transport ones (no Expect: 100-continue round trip, a Content-Type for XML bodies). */
static s3_status sign(s3_xfer *x, const char *path, const char *hash)
{
    s3_client *c = x->c;
    s3_req *r = x->r;
    char date[S3_AMZ_DATE_LEN + 1];
    s3_amz_date(date, time(NULL));
    s3_sigv4_request sr = {
        .method = r->method,
        .host = c->host,
        .path = path,
        .query = r->query,
        .nquery = r->nquery,
        .headers = r->headers,
        .nheaders = r->nheaders,
        .payload_hash = hash,
        .amz_date = date,
        .region = c->region,
        .service = "s3",
        .access_key = c->access_key,
        .secret_key = c->secret_key,
        .session_token = c->session_token,
    };
    if (s3_sigv4_authorization(&x->auth, &sr) != S3_SIGV4_OK)
        return S3_E_INVALID;
    int bad = add_header(x, "x-amz-date", date) || add_header(x, "x-amz-content-sha256", hash) ||
              add_header(x, "Authorization", x->auth.ptr) || add_header(x, "Expect", "") ||
              add_header(x, "User-Agent", "argotd-s3");
    if (c->session_token)
        bad = bad || add_header(x, "x-amz-security-token", c->session_token);
    for (size_t i = 0; i < r->nheaders && !bad; i++)
        bad = add_header(x, r->headers[i].name, r->headers[i].value);
    if (!bad && r->body && strcmp(r->method, "POST") == 0)
        bad = add_header(x, "Content-Type", "application/xml");
    return bad ? S3_E_NOMEM : S3_OK;
}

static void set_method(s3_xfer *x)
{
    CURL *e = x->k->easy;
    s3_req *r = x->r;
    int has_body = r->body != NULL || r->read_cb != NULL;
    curl_off_t len = (curl_off_t)(r->body ? r->body_len : r->read_len);
    if (strcmp(r->method, "HEAD") == 0) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else if (strcmp(r->method, "PUT") == 0) {
        curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, has_body ? len : (curl_off_t)0);
    } else if (strcmp(r->method, "POST") == 0) {
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, has_body ? len : (curl_off_t)0);
        if (!has_body)
            curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
    } else if (strcmp(r->method, "GET") != 0) {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
    }
    curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(e, CURLOPT_READDATA, x);
    curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, on_seek);
    curl_easy_setopt(e, CURLOPT_SEEKDATA, x);
}

static void set_options(s3_xfer *x)
{
    CURL *e = x->k->easy;
    const s3_config *cfg = &x->c->cfg;
    curl_easy_reset(e);
    curl_easy_setopt(e, CURLOPT_URL, x->url.ptr);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L); /* keys may hold "/./" or "/../" */
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, cfg->connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, cfg->stall_timeout_s);
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, (long)S3_READ_CHUNK);
    curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, (long)S3_SEND_CHUNK);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->hdrs);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    if (x->c->resolve_list)
        curl_easy_setopt(e, CURLOPT_RESOLVE, x->c->resolve_list);
    if (x->r->cancel) {
        curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(e, CURLOPT_XFERINFODATA, x);
    }
    set_method(x);
}

static s3_status payload_hash(s3_req *r, char hash[S3_SHA256_HEX_LEN + 1])
{
    if (r->read_cb) {
        strcpy(hash, S3_UNSIGNED_PAYLOAD);
    } else if (r->body_sha256) {
        if (strlen(r->body_sha256) != S3_SHA256_HEX_LEN)
            return S3_E_INVALID;
        strcpy(hash, r->body_sha256);
    } else {
        s3_sha256_hex(hash, r->body ? r->body : "", r->body ? r->body_len : 0);
    }
    return S3_OK;
}

s3_status s3_xfer_new(s3_xfer **out, s3_client *c, s3_conn *k, s3_req *r, s3_error *err)
{
    argot_buf path = ARGOT_BUF_INIT(8192), query = ARGOT_BUF_INIT(8192);
    char hash[S3_SHA256_HEX_LEN + 1];
    s3_xfer *x = calloc(1, sizeof *x);
    s3_status rc = S3_E_NOMEM;
    *out = NULL;
    if (!x)
        return s3_error_set(err, S3_E_NOMEM, 0, "%s: out of memory", r->op);
    x->c = c;
    x->k = k;
    x->r = r;
    argot_buf_init(&x->url, 16384);
    argot_buf_init(&x->auth, 4096);
    argot_buf_init(&x->errbody, c->cfg.max_error_body);
    if ((rc = payload_hash(r, hash)) != S3_OK || (rc = s3_build_path(c, r->key, &path)) != S3_OK ||
        (rc = s3_sigv4_canonical_query(&query, r->query, r->nquery) ? S3_E_INVALID : S3_OK) ||
        (rc = build_url(x, &path, &query)) != S3_OK || (rc = sign(x, path.ptr, hash)) != S3_OK)
        goto out;
    set_options(x);
    *out = x;
out:
    argot_buf_free(&path);
    argot_buf_free(&query);
    if (rc != S3_OK) {
        s3_xfer_free(x);
        s3_error_set(err, rc, 0, "%s %s: cannot build the request (%s)", r->op,
                     (r->key ? r->key : x->c->bucket), s3_status_str(rc));
    }
    return rc;
}

void s3_xfer_free(s3_xfer *x)
{
    if (!x)
        return;
    curl_slist_free_all(x->hdrs);
    argot_buf_free(&x->url);
    if (x->auth.ptr)
        OPENSSL_cleanse(x->auth.ptr, x->auth.len);
    argot_buf_free(&x->auth);
    argot_buf_free(&x->errbody);
    free(x);
}

int s3_xfer_start(s3_xfer *x)
{
    return curl_multi_add_handle(x->k->multi, x->k->easy) == CURLM_OK ? 0 : -1;
}

int s3_xfer_step(s3_xfer *x, CURLcode *done)
{
    int running = 0, left = 0;
    CURLMsg *m;
    if (curl_multi_perform(x->k->multi, &running) != CURLM_OK) {
        *done = CURLE_FAILED_INIT;
        curl_multi_remove_handle(x->k->multi, x->k->easy);
        return 1;
    }
    while ((m = curl_multi_info_read(x->k->multi, &left)) != NULL) {
        if (m->msg == CURLMSG_DONE && m->easy_handle == x->k->easy) {
            *done = m->data.result;
            curl_multi_remove_handle(x->k->multi, x->k->easy);
            return 1;
        }
    }
    return 0;
}

void s3_xfer_wait(s3_xfer *x, int timeout_ms)
{
    curl_multi_poll(x->k->multi, NULL, 0, timeout_ms, NULL);
}

void s3_xfer_resume(s3_xfer *x)
{
    curl_easy_pause(x->k->easy, CURLPAUSE_CONT);
}

CURLcode s3_xfer_run(s3_xfer *x)
{
    CURLcode cc = CURLE_OK;
    if (s3_xfer_start(x) != 0)
        return CURLE_FAILED_INIT;
    while (!s3_xfer_step(x, &cc))
        s3_xfer_wait(x, x->r->cancel ? S3_CANCEL_POLL_MS : 1000);
    return cc;
}

static s3_status status_code(long http)
{
    switch (http) {
    case 403:
        return S3_E_AUTH;
    case 404:
        return S3_E_NOTFOUND;
    case 416:
        return S3_E_RANGE;
    default:
        return http >= 500 || http == 429 ? S3_E_SERVER : S3_E_REQUEST;
    }
}

/* A failed (non-2xx) answer: S3's Code and Message from the bounded error body. */
static s3_status http_failure(s3_xfer *x, s3_error *err)
{
    s3_req *r = x->r;
    s3r *d = malloc(sizeof *d);
    char code[S3R_CODE_MAX + 1] = "", msg[S3R_MSG_MAX + 1] = "";
    if (d && x->errbody.len) {
        s3r_init(d, S3R_ERROR, NULL, NULL);
        if (s3r_feed(d, x->errbody.ptr, x->errbody.len) == S3R_OK && s3r_finish(d) == S3R_OK) {
            strcpy(code, d->code);
            strcpy(msg, d->message);
        }
    }
    free(d);
    s3_status rc = status_code(x->status);
    int retry = s3_retryable(x->status, code, 0);
    s3_error_set(err, rc, retry, "%s %s: HTTP %ld%s%s%s%s", r->op, (r->key ? r->key : x->c->bucket),
                 x->status, code[0] ? " " : "", code, msg[0] ? ": " : "", msg);
    if (err && err->code == rc && err->http_status == 0) {
        err->http_status = x->status;
        snprintf(err->s3_code, sizeof err->s3_code, "%s", code);
    }
    return rc;
}

/* A 2xx whose XML body says <Error> (CompleteMultipartUpload, UploadPartCopy). */
static s3_status error_document(s3_xfer *x, s3_error *err)
{
    s3r *d = x->r->resp;
    int retry = s3_retryable(0, d->code, 0);
    s3_status rc = retry ? S3_E_SERVER : S3_E_REQUEST;
    s3_error_set(err, rc, retry, "%s %s: HTTP %ld with an error inside: %s%s%s", x->r->op,
                 (x->r->key ? x->r->key : x->c->bucket), x->status, d->code,
                 d->message[0] ? ": " : "", d->message);
    if (err && err->http_status == 0) {
        err->http_status = x->status;
        snprintf(err->s3_code, sizeof err->s3_code, "%s", d->code);
    }
    return rc;
}

static s3_status transport_failure(s3_xfer *x, CURLcode cc, s3_error *err)
{
    s3_req *r = x->r;
    const char *key = (r->key ? r->key : x->c->bucket);
    if (x->cancelled)
        return s3_error_set(err, S3_E_ABORTED, 0, "%s %s: cancelled", r->op, key);
    if (x->consumer_stop)
        return s3_error_set(err, S3_E_ABORTED, 0, "%s %s: stopped by the caller", r->op, key);
    if (x->range_ignored)
        return s3_error_set(err, S3_E_PROTOCOL, 0, "%s %s: the server ignored Range", r->op, key);
    if (x->decode_failed)
        return s3_error_set(err, S3_E_PROTOCOL, 0, "%s %s: unreadable response: %s", r->op, key,
                            s3r_strerror(r->resp->status));
    s3_error_set(err, S3_E_NETWORK, s3_retryable(0, NULL, cc), "%s %s: %s (curl %d)", r->op, key,
                 x->errbuf[0] ? x->errbuf : curl_easy_strerror(cc), (int)cc);
    if (err && err->code == S3_E_NETWORK && err->curl_code == 0)
        err->curl_code = (int)cc;
    return S3_E_NETWORK;
}

s3_status s3_xfer_result(s3_xfer *x, CURLcode cc, s3_error *err)
{
    s3_req *r = x->r;
    if (cc != CURLE_OK || x->consumer_stop || x->decode_failed || x->range_ignored || x->cancelled)
        return transport_failure(x, cc, err);
    curl_easy_getinfo(x->k->easy, CURLINFO_RESPONSE_CODE, &x->status);
    r->status = x->status;
    if (!http_ok(x->status))
        return x->status == 404 && r->ok_404 ? S3_OK : http_failure(x, err);
    if (r->resp) {
        if (s3r_finish(r->resp) != S3R_OK)
            return s3_error_set(err, S3_E_PROTOCOL, 0, "%s %s: unreadable response: %s", r->op,
                                (r->key ? r->key : x->c->bucket), s3r_strerror(r->resp->status));
        if (r->resp->is_error)
            return error_document(x, err);
    }
    return S3_OK;
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Sleeps before a retry, in slices so that a cancel ends the wait. */
static void backoff(const s3_client *c, const s3_req *r, int attempt)
{
    struct timespec ts;
    long ms = c->cfg.retry_base_ms << (attempt < 10 ? attempt : 10);
    clock_gettime(CLOCK_MONOTONIC, &ts); /* jitter from the clock's low bits */
    ms += ms ? ts.tv_nsec % (ms / 2 + 1) : 0;
    while (ms > 0 && !cancel_set(r)) {
        long slice = ms < S3_CANCEL_POLL_MS ? ms : S3_CANCEL_POLL_MS;
        ts.tv_sec = slice / 1000;
        ts.tv_nsec = (slice % 1000) * 1000000L;
        nanosleep(&ts, NULL);
        ms -= slice;
    }
}

static s3_status attempt(s3_client *c, s3_req *r, s3_error *e)
{
    s3_conn *k = s3_conn_get(c);
    s3_xfer *x = NULL;
    s3_status rc;
    CURLcode cc = CURLE_OK;
    long t0 = now_ms();
    if (!k)
        return s3_error_set(e, S3_E_NOMEM, 0, "%s: out of memory", r->op);
    r->status = 0;
    r->delivered = 0;
    if ((rc = s3_xfer_new(&x, c, k, r, e)) == S3_OK) {
        cc = s3_xfer_run(x);
        rc = s3_xfer_result(x, cc, e);
    }
    LOG(LOG_DEBUG, "s3 op=%s key=%s status=%ld curl=%d bytes_out=%llu bytes_in=%llu ms=%ld", r->op,
        r->key ? r->key : "-", r->status, (int)cc, (unsigned long long)(x ? x->sent : 0),
        (unsigned long long)r->delivered, now_ms() - t0);
    s3_xfer_free(x);
    s3_conn_put(c, k, cc != CURLE_OK);
    return rc;
}

s3_status s3_perform(s3_client *c, s3_req *r, s3_error *err)
{
    for (int n = 0;; n++) {
        s3_error e;
        s3_error_clear(&e);
        s3_status rc = attempt(c, r, &e);
        if (rc == S3_OK)
            return S3_OK;
        int replayable =
            !r->read_cb && !r->no_retry && r->delivered == 0 && (!r->resp || r->resp->entries == 0);
        if (!e.retryable || !replayable || n >= c->cfg.max_retries || cancel_set(r)) {
            if (err && err->code == S3_OK)
                *err = e;
            return rc;
        }
        LOG(LOG_WARN, "s3 op=%s key=%s retry=%d/%d after: %s", r->op, r->key ? r->key : "-", n + 1,
            c->cfg.max_retries, e.message);
        backoff(c, r, n);
        if (r->resp)
            s3r_init(r->resp, r->resp->kind, r->resp->cb, r->resp->userdata);
    }
}
