/*
 * The HTTP engine: one request = a loop of attempts on the client's curl easy handle, with the
 * retry policy of retry.c between them. Response bytes of a 2xx go to the request's sink or
 * JSON buffer, bytes of an error response to the bounded error buffer on the client.
 */
#include "client/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Everything one attempt learns from the response headers and the transfer. */
typedef struct attempt {
    argot_client *c;
    argot__request *r;
    long status;
    char content_type[ARGOT__MAX_HEADER_VAL];
    char request_id[ARGOT__MAX_HEADER_VAL];
    char retry_after[ARGOT__MAX_HEADER_VAL];
    char retry_after_ms[ARGOT__MAX_HEADER_VAL];
    char content_range[ARGOT__MAX_HEADER_VAL];
    char etag[ARGOT__MAX_HEADER_VAL];
    int64_t content_length; /* -1 when absent */
    int has_retry_after;
    int has_retry_after_ms;
    int should_retry;
    int body_too_large;
    int sink_failed;
    int progress_aborted;
    uint64_t body_bytes;
} attempt;

void argot__request_init(argot__request *r, const char *method, const char *url)
{
    memset(r, 0, sizeof(*r));
    r->method = method;
    r->url = url;
    r->accept = "application/json";
    argot_buf_init(&r->body, ARGOT__MAX_JSON_BODY);
}

void argot__request_free(argot__request *r)
{
    argot_buf_free(&r->body);
    free(r->resp_content_type);
    r->resp_content_type = NULL;
}

argot_status argot__url(argot_client *c, argot_buf *out, const char *path)
{
    argot_buf_reset(out);
    if (argot_buf_puts(out, c->base_url) != 0 || argot_buf_puts(out, path) != 0)
        return ARGOT_E_NOMEM;
    return ARGOT_OK;
}

argot_status argot__url_escape_append(argot_client *c, argot_buf *out, const char *s)
{
    char *e = curl_easy_escape(c->curl, s, 0);
    int rc;
    if (e == NULL)
        return ARGOT_E_NOMEM;
    rc = argot_buf_puts(out, e);
    curl_free(e);
    return rc == 0 ? ARGOT_OK : ARGOT_E_NOMEM;
}

static int is_2xx(long s)
{
    return s >= 200 && s < 300;
}

/* Copies a header value (without leading blanks and the trailing CRLF). */
static void header_value(char *dst, const char *v, size_t n)
{
    while (n > 0 && (*v == ' ' || *v == '\t')) {
        v++;
        n--;
    }
    while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
        n--;
    if (n >= ARGOT__MAX_HEADER_VAL)
        n = ARGOT__MAX_HEADER_VAL - 1;
    memcpy(dst, v, n);
    dst[n] = '\0';
}

static int header_is(const char *line, size_t n, const char *name, size_t *vofs)
{
    size_t k = strlen(name);
    if (n <= k || line[k] != ':' || strncasecmp(line, name, k) != 0)
        return 0;
    *vofs = k + 1;
    return 1;
}

static void status_line(attempt *a, const char *line, size_t n)
{
    const char *sp = memchr(line, ' ', n);
    /* A new status line (after 100 Continue, say) starts a fresh set of headers. */
    a->status = sp != NULL ? strtol(sp + 1, NULL, 10) : 0;
    a->content_type[0] = a->request_id[0] = a->content_range[0] = a->etag[0] = '\0';
    a->content_length = -1;
    a->has_retry_after = a->has_retry_after_ms = 0;
    a->should_retry = -1;
}

/* The blank line after the headers: a download checks its 2xx head (resume.c). */
static int end_of_head(attempt *a)
{
    if (a->r->sink == NULL || !is_2xx(a->status))
        return 0;
    return argot__sink_head(a->r->sink, a->status, a->content_range, a->etag, a->content_length);
}

static int64_t parse_length(const char *v)
{
    char *end;
    long long n = strtoll(v, &end, 10);
    return end != v && *end == '\0' && n >= 0 ? (int64_t)n : -1;
}

static size_t on_header(char *line, size_t size, size_t nitems, void *ud)
{
    attempt *a = ud;
    size_t n = size * nitems, v;
    char tmp[ARGOT__MAX_HEADER_VAL];

    if (n >= 5 && memcmp(line, "HTTP/", 5) == 0) {
        status_line(a, line, n);
    } else if (n <= 2 && (line[0] == '\r' || line[0] == '\n')) {
        if (a->status >= 200 && end_of_head(a) != 0)
            return 0; /* stops the transfer before any byte of the body */
    } else if (header_is(line, n, "content-range", &v)) {
        header_value(a->content_range, line + v, n - v);
    } else if (header_is(line, n, "etag", &v)) {
        header_value(a->etag, line + v, n - v);
    } else if (header_is(line, n, "content-length", &v)) {
        header_value(tmp, line + v, n - v);
        a->content_length = parse_length(tmp);
    } else if (header_is(line, n, "content-type", &v)) {
        header_value(a->content_type, line + v, n - v);
    } else if (header_is(line, n, "x-request-id", &v)) {
        header_value(a->request_id, line + v, n - v);
    } else if (header_is(line, n, "retry-after", &v)) {
        header_value(a->retry_after, line + v, n - v);
        a->has_retry_after = 1;
    } else if (header_is(line, n, "retry-after-ms", &v)) {
        header_value(a->retry_after_ms, line + v, n - v);
        a->has_retry_after_ms = 1;
    } else if (header_is(line, n, "x-should-retry", &v)) {
        header_value(tmp, line + v, n - v);
        if (strcasecmp(tmp, "true") == 0)
            a->should_retry = 1;
        else if (strcasecmp(tmp, "false") == 0)
            a->should_retry = 0;
    }
    return n;
}

static size_t on_body(char *data, size_t size, size_t nitems, void *ud)
{
    attempt *a = ud;
    size_t n = size * nitems;

    if (!is_2xx(a->status)) {
        /* Error bodies: keep the first ARGOT__MAX_ERROR_BODY bytes, drop the rest. */
        argot_buf *b = &a->c->err_body;
        size_t room = b->max - b->len;
        if (room > 0 && argot_buf_put(b, data, n < room ? n : room) == ARGOT_BUF_NOMEM)
            return CURL_WRITEFUNC_ERROR;
        return n;
    }
    a->body_bytes += n;
    if (a->r->sink != NULL) {
        if (argot__sink_write(a->r->sink, data, n) != 0) {
            a->sink_failed = 1;
            return CURL_WRITEFUNC_ERROR;
        }
        return n;
    }
    if (argot_buf_put(&a->r->body, data, n) != ARGOT_BUF_OK) {
        a->body_too_large = 1;
        return CURL_WRITEFUNC_ERROR;
    }
    return n;
}

static int on_progress(
    void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    attempt *a = ud;
    argot__request *r = a->r;
    uint64_t done, total;

    (void)ultotal;
    (void)ulnow;
    if (r->progress == NULL)
        return 0;
    if (r->upload != NULL) {
        done = r->upload->pos;
        total = r->upload->size > 0 ? (uint64_t)r->upload->size : 0;
    } else {
        const argot__sink *s = r->sink;
        if (!is_2xx(a->status) || s == NULL)
            return 0;
        /* From byte 0 of the file: a resumed download starts at its offset. */
        done = s->offset + s->written;
        total = s->size >= 0 ? (uint64_t)s->size : 0;
        if (s->size < 0 && dltotal > 0)
            total = (s->status == 206 ? s->start : 0) + (uint64_t)dltotal;
    }
    if (r->progress(done, total, r->progress_userdata) != 0) {
        a->progress_aborted = 1;
        return 1;
    }
    return 0;
}

static argot_status add_line(struct curl_slist **list, const char *line)
{
    struct curl_slist *n = curl_slist_append(*list, line);
    if (n == NULL)
        return ARGOT_E_NOMEM;
    *list = n;
    return ARGOT_OK;
}

static argot_status add_header(struct curl_slist **list,
                               const char *name,
                               const char *prefix,
                               const char *v)
{
    char line[2048];
    snprintf(line, sizeof(line), "%s: %s%s", name, prefix, v);
    return add_line(list, line);
}

/* Range and If-Range of a ranged or resumed download (resume.c says which). */
static argot_status add_range(struct curl_slist **list, argot__sink *s)
{
    char range[64], if_range[ARGOT__MAX_HEADER_VAL];
    argot_status st = ARGOT_OK;

    argot__sink_range(s, range, sizeof(range), if_range, sizeof(if_range));
    if (range[0] != '\0')
        st = add_header(list, "Range", "", range);
    if (st == ARGOT_OK && if_range[0] != '\0')
        st = add_header(list, "If-Range", "", if_range);
    return st;
}

static argot_status build_headers(argot_client *c,
                                  argot__request *r,
                                  unsigned attempt_no,
                                  struct curl_slist **out)
{
    char num[32];
    const char *const *h;
    argot_status st = ARGOT_OK;

    /* As the seed: a key that already starts with "Bearer " is sent as is; none when empty. */
    if (c->api_key[0] != '\0')
        st = add_header(out, "Authorization",
                        strncmp(c->api_key, "Bearer ", 7) == 0 ? "" : "Bearer ", c->api_key);
    if (st == ARGOT_OK)
        st = add_header(out, "Accept", "", r->accept);
    if (st == ARGOT_OK)
        st = add_header(out, "User-Agent", "", c->user_agent);
    if (st == ARGOT_OK && c->organization != NULL)
        st = add_header(out, "OpenAI-Organization", "", c->organization);
    if (st == ARGOT_OK && c->project != NULL)
        st = add_header(out, "OpenAI-Project", "", c->project);
    snprintf(num, sizeof(num), "%u", attempt_no);
    if (st == ARGOT_OK)
        st = add_header(out, "X-Stainless-Retry-Count", "", num);
    /* A JSON POST says so; a bodiless POST sends no Content-Type (curl would add a form one). */
    if (st == ARGOT_OK && r->upload == NULL && strcmp(r->method, "POST") == 0)
        st = add_line(out,
                      r->json_body != NULL ? "Content-Type: application/json" : "Content-Type:");
    if (st == ARGOT_OK && r->sink != NULL)
        st = add_range(out, r->sink);
    for (h = r->opts != NULL ? r->opts->headers : NULL; h != NULL && *h != NULL && st == ARGOT_OK;
         h++)
        st = add_line(out, *h);
    return st;
}

static long effective_timeout(argot_client *c, const argot__request *r)
{
    long t = c->timeout_ms;
    if (r->opts != NULL && r->opts->timeout_ms != 0)
        t = r->opts->timeout_ms;
    return t < 0 ? 0 : t;
}

static argot_status setup_easy(
    argot_client *c, argot__request *r, attempt *a, struct curl_slist *hdrs, curl_mime **mime)
{
    CURL *h = c->curl;
    argot_status st = ARGOT_OK;

    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, r->url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->curl_errbuf);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, a);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, a);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, effective_timeout(c, r));
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, a);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, r->progress != NULL ? 0L : 1L);
    if (r->max_recv_speed > 0)
        curl_easy_setopt(h, CURLOPT_MAX_RECV_SPEED_LARGE, (curl_off_t)r->max_recv_speed);
    if (strcmp(r->method, "DELETE") == 0)
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
    if (r->upload != NULL) {
        st = argot__upload_mime(mime, h, r->upload);
        if (st == ARGOT_OK)
            curl_easy_setopt(h, CURLOPT_MIMEPOST, *mime);
    } else if (strcmp(r->method, "POST") == 0) {
        const char *b = r->json_body != NULL ? r->json_body : "";
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(b));
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, b);
    }
    return st;
}

/* Maps a failed transfer to a status; *retryable tells whether it was the connection. */
static argot_status transport_status(const attempt *a,
                                     const argot__request *r,
                                     CURLcode rc,
                                     int *retryable)
{
    *retryable = 0;
    if (a->progress_aborted || (r->upload != NULL && r->upload->aborted) ||
        (r->sink != NULL && r->sink->aborted))
        return ARGOT_E_ABORTED;
    if ((r->upload != NULL && r->upload->io_errno != 0) || (r->sink != NULL && r->sink->io_errno))
        return ARGOT_E_IO;
    if (a->body_too_large || (r->sink != NULL && r->sink->too_large))
        return ARGOT_E_TOO_LARGE;
    if (r->sink != NULL && r->sink->range_error)
        return ARGOT_E_RANGE;
    if (r->sink != NULL && r->sink->bad_range)
        return ARGOT_E_PROTOCOL;
    switch (rc) {
    case CURLE_OUT_OF_MEMORY:
        return ARGOT_E_NOMEM;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return ARGOT_E_INVALID;
    case CURLE_OPERATION_TIMEDOUT:
        *retryable = 1;
        return ARGOT_E_TIMEOUT;
    case CURLE_READ_ERROR:
    case CURLE_WRITE_ERROR:
        return ARGOT_E_IO;
    case CURLE_ABORTED_BY_CALLBACK:
        return ARGOT_E_ABORTED;
    default:
        *retryable = 1;
        return ARGOT_E_NETWORK;
    }
}

static void record_io_errno(argot_client *c, const argot__request *r)
{
    if (r->upload != NULL && r->upload->io_errno != 0)
        c->err.os_errno = r->upload->io_errno;
    if (r->sink != NULL && r->sink->io_errno != 0)
        c->err.os_errno = r->sink->io_errno;
}

/* Stores what the attempt learnt into the client's last-error record. */
static void record_attempt(argot_client *c, const attempt *a, CURLcode rc)
{
    free(c->content_type);
    free(c->request_id);
    c->content_type = a->content_type[0] ? argot__strdup(a->content_type) : NULL;
    c->request_id = a->request_id[0] ? argot__strdup(a->request_id) : NULL;
    c->err.http_status = a->status;
    c->err.content_type = c->content_type;
    c->err.request_id = c->request_id;
    c->err.transport_code = (int)rc;
    c->err.transport_message = NULL;
    if (rc != CURLE_OK)
        c->err.transport_message = c->curl_errbuf[0] ? c->curl_errbuf : curl_easy_strerror(rc);
}

static argot_status one_attempt(
    argot_client *c, argot__request *r, attempt *a, unsigned no, int *retryable)
{
    struct curl_slist *hdrs = NULL;
    curl_mime *mime = NULL;
    argot_status st;
    CURLcode rc = CURLE_OK;

    memset(a, 0, sizeof(*a));
    a->c = c;
    a->r = r;
    a->should_retry = -1;
    *retryable = 0;
    argot_buf_reset(&c->err_body);
    argot_buf_reset(&r->body);
    c->curl_errbuf[0] = '\0';
    st = build_headers(c, r, no, &hdrs);
    if (st == ARGOT_OK)
        st = setup_easy(c, r, a, hdrs, &mime);
    if (st != ARGOT_OK)
        goto out;
    rc = curl_easy_perform(c->curl);
    if (rc == CURLE_OK && a->status == 0)
        curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &a->status);
    record_attempt(c, a, rc);
    if (rc != CURLE_OK) {
        st = transport_status(a, r, rc, retryable);
        if (a->status != 0 && !is_2xx(a->status) && st == ARGOT_E_NETWORK)
            *retryable = 1; /* the connection broke in the middle of an error answer */
        goto out;
    }
    st = argot__http_status_to_status(a->status);
    if (st == ARGOT_OK && a->status == 0)
        st = ARGOT_E_PROTOCOL;
    if (st == ARGOT_E_RANGE && r->sink != NULL &&
        argot__sink_416(r->sink, a->content_range, a->etag))
        st = ARGOT_OK; /* nothing left to send: the sink already holds the whole file */
    *retryable = st != ARGOT_OK;
out:
    curl_mime_free(mime);
    curl_slist_free_all(hdrs);
    return st;
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts;
    ts.tv_sec = (time_t)(ms / 1000);
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Gets the upload back to its first byte, and the download ready to resume or to start over;
 * 0 when that is possible. */
static int restart_body(argot__request *r)
{
    if (r->upload != NULL && argot__upload_rewind(r->upload) != 0)
        return -1;
    if (r->sink != NULL && argot__sink_retry(r->sink) != 0)
        return -1;
    return 0;
}

static int64_t next_delay(argot_client *c,
                          const argot_retry_config *cfg,
                          const attempt *a,
                          int retryable,
                          unsigned attempts,
                          uint64_t start)
{
    argot__attempt_info ai;
    ai.http_status = retryable ? a->status : 0;
    if (!retryable)
        return -1;
    if (a->status != 0 && is_2xx(a->status))
        ai.http_status = 0; /* broken 2xx transfer: a connection error */
    ai.transport_retryable = 1;
    ai.should_retry = a->should_retry;
    ai.retry_after_ms =
        argot__parse_retry_after(a->has_retry_after_ms ? a->retry_after_ms : NULL,
                                 a->has_retry_after ? a->retry_after : NULL, time(NULL));
    return argot__retry_delay(cfg, &ai, attempts, argot__now_ms() - start, argot__random(c));
}

static void summarize(argot_client *c, const argot__request *r, argot_status st)
{
    char buf[256];
    const char *problem = r->sink != NULL ? argot__sink_problem(r->sink, buf, sizeof(buf)) : NULL;

    if (st == ARGOT_OK)
        return;
    if (problem != NULL)
        argot__error_set(c, st, "%s", problem);
    else if (st == ARGOT_E_IO && c->err.os_errno != 0)
        argot__error_set(c, st, "cannot %s: %s",
                         r->upload != NULL ? "read the upload" : "write the download",
                         strerror(c->err.os_errno));
    else if (c->e_message != NULL)
        argot__error_set(c, st, "%s", c->e_message);
    else if (c->err.http_status != 0 && c->err.transport_code == 0)
        argot__error_set(c, st, "%s %ld", argot_status_str(st), c->err.http_status);
    else if (c->err.transport_message != NULL)
        argot__error_set(c, st, "%s: %s", argot_status_str(st), c->err.transport_message);
    else
        argot__error_set(c, st, "%s", argot_status_str(st));
}

argot_status argot__perform(argot_client *c, argot__request *r)
{
    const argot_retry_config *cfg = &c->retry;
    uint64_t start = argot__now_ms();
    unsigned attempts = 0;
    argot_status st;
    attempt *a = malloc(sizeof(*a));
    int retryable;
    int64_t delay;

    if (a == NULL)
        return argot__error_set(c, ARGOT_E_NOMEM, NULL);
    if (r->opts != NULL && r->opts->retry != NULL)
        cfg = r->opts->retry;
    for (;;) {
        st = one_attempt(c, r, a, attempts, &retryable);
        attempts++;
        c->err.attempts = attempts;
        argot__log(c, ARGOT_LOG_INFO, "%s %s -> %ld (%s), attempt %u", r->method, r->url, a->status,
                   argot_status_str(st), attempts);
        if (st == ARGOT_OK)
            break;
        delay = next_delay(c, cfg, a, retryable, attempts, start);
        if (delay < 0 || restart_body(r) != 0)
            break;
        argot__log(c, ARGOT_LOG_WARN, "retrying %s %s in %lld ms (attempt %u failed: %s)",
                   r->method, r->url, (long long)delay, attempts, argot_status_str(st));
        sleep_ms(delay);
    }
    if (st == ARGOT_OK && a->content_type[0] != '\0')
        r->resp_content_type = argot__strdup(a->content_type);
    free(a);
    record_io_errno(c, r);
    if (st != ARGOT_OK && c->err.http_status != 0 && !is_2xx(c->err.http_status))
        argot__error_parse_body(c);
    summarize(c, r, st);
    c->err.status = st;
    return st;
}
