/*
 * argot_mockd: a small, deliberately misbehaving Files API server for the SDK and CLI tests.
 * It binds 127.0.0.1 on an ephemeral port, writes the port to --port-file and serves one
 * thread per connection until killed.
 *
 * Paths are either the plain API (`/v1/files...`) or a scripted one:
 *     /m/<key>/<script>/v1/files...
 * where <script> is a comma-separated list of steps, one per attempt counted under <key> (the
 * last step repeats). A step is `ok` (answer normally), an HTTP status (`429`, `503`, ...)
 * answered with an OpenAI error envelope, `drop` (close without answering), `stall` (never
 * answer), `html` (502 text/html) or `badjson` (200 with a broken body); for a file's content
 * also `cut`, `cutnotag`, `norange` and `badrange` (see do_content()). A status takes modifiers
 * after `+`: `ra=S` (retry-after seconds), `rams=MS` (retry-after-ms), `radate=S` (retry-after as
 * an HTTP date S seconds ahead), `sr=true|false` (x-should-retry).
 *
 * GET /_stats/<key> answers {"attempts":N,"gaps_ms":[...],"last_request":"..."}: the attempt
 * count, the milliseconds between consecutive attempts and the last request's head.
 *
 * The store starts with five canned files (created_at 1700000001..5) and accepts uploads up
 * to 64 MiB, kept in memory; ids are file-mock0001.. in upload order, created_at 1700000100+.
 * Authorization: none -> 401 (missing key); "Bearer sk-wrong" -> 401 invalid_api_key.
 *
 * Uploads API (/v1/uploads, /parts, /complete, /cancel): uploads are upload_mock0001.., parts
 * part_mock000001.., created_at 1700000200+, kept in memory; complete checks the part ids, the
 * total size and the md5 (when sent) and adds the File. Every part attempt is counted under the
 * stats key `up:<filename>:parts` and, when its first 8 bytes are alphanumeric (the tests tag
 * each part that way), under `up:<filename>:<those 8 bytes>`; complete and cancel under
 * `up:<filename>:complete|cancel`. Fault injection by file name: an upload named
 * `failpart_<TAG>_<N>...` answers 503 to the first N attempts of the part starting with TAG.
 */
#define _GNU_SOURCE /* memmem, strcasestr, nftw */
#include "common/buf.h"

#include <jansson.h>
#include <openssl/evp.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_HEAD    65536
#define MAX_BODY    (64u * 1024u * 1024u)
#define MAX_FILES   256
#define MAX_KEYS    256
#define MAX_UPLOADS 64
#define MAX_PARTS   512

typedef struct mfile {
    char id[32];
    char filename[256];
    char purpose[64];
    long long bytes, created_at, expires_at;
    char *data;
    int deleted;
} mfile;

typedef struct keystat {
    char key[128];
    unsigned attempts;
    unsigned long long last_ms;
    argot_buf gaps;
    char last_request[4096];
} keystat;

typedef struct mpart {
    char id[32];
    char *data;
    size_t len;
} mpart;

typedef struct mupload {
    char id[32];
    char filename[256];
    char purpose[64];
    long long bytes, created_at, expires_after;
    const char *status; /* pending, completed, cancelled */
    mpart parts[MAX_PARTS];
    int nparts;
    int failed; /* 503s answered by fault injection */
    int file;   /* index in files[] once completed, else -1 */
} mupload;

static mupload up_store[MAX_UPLOADS];
static int nup;
static int nparts_total;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t rid_mu = PTHREAD_MUTEX_INITIALIZER;
static mfile files[MAX_FILES];
static int nfiles;
static int uploads;
static keystat keys[MAX_KEYS];
static int nkeys;
static unsigned long long request_no;

typedef struct req {
    int fd;
    char head[MAX_HEAD + 1];
    size_t head_len;
    char *extra; /* body bytes read with the head */
    size_t extra_len;
    char method[16];
    char path[4096];
    char query[4096];
    char auth[512];
    char content_type[512];
    long long content_length;
    int chunked, expect, close;
    argot_buf body;
    char step[128];
} req;

static unsigned long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long)ts.tv_sec * 1000ull + (unsigned long long)ts.tv_nsec / 1000000ull;
}

static int send_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static void seed_files(void)
{
    static const char *purposes[] = {"assistants", "fine-tune", "batch", "user_data", "evals"};
    static const char *names[] = {"notes.txt", "train.jsonl", "batch.jsonl", "data.bin",
                                  "eval.jsonl"};
    int i;
    for (i = 0; i < 5; i++) {
        mfile *f = &files[nfiles++];
        snprintf(f->id, sizeof(f->id), "file-canned%d", i + 1);
        snprintf(f->filename, sizeof(f->filename), "%s", names[i]);
        snprintf(f->purpose, sizeof(f->purpose), "%s", purposes[i]);
        f->created_at = 1700000001 + i;
        f->expires_at = i == 2 ? f->created_at + 2592000 : -1;
        f->data = malloc(64);
        snprintf(f->data, 64, "canned file %d\n", i + 1);
        f->bytes = (long long)strlen(f->data);
    }
}

/* ---- request reading ---- */

static int hdr(const req *r, const char *name, char *out, size_t outn)
{
    size_t k = strlen(name);
    const char *p = strstr(r->head, "\r\n");
    while (p != NULL && p[2] != '\r') {
        const char *line = p + 2, *e = strstr(line, "\r\n");
        if (e == NULL)
            break;
        if ((size_t)(e - line) > k && line[k] == ':' && strncasecmp(line, name, k) == 0) {
            const char *v = line + k + 1;
            while (*v == ' ')
                v++;
            snprintf(out, outn, "%.*s", (int)(e - v), v);
            return 1;
        }
        p = e;
    }
    return 0;
}

static int read_head(req *r)
{
    char *end;
    r->head_len = 0;
    for (;;) {
        ssize_t n = recv(r->fd, r->head + r->head_len, MAX_HEAD - r->head_len, 0);
        if (n <= 0)
            return -1;
        r->head_len += (size_t)n;
        r->head[r->head_len] = '\0';
        end = strstr(r->head, "\r\n\r\n");
        if (end != NULL) {
            size_t hl = (size_t)(end - r->head) + 4;
            r->extra = r->head + hl;
            r->extra_len = r->head_len - hl;
            return 0;
        }
        if (r->head_len >= MAX_HEAD)
            return -1;
    }
}

static void parse_head(req *r)
{
    char target[4096] = "", tmp[64];
    char *q;
    sscanf(r->head, "%15s %4095s", r->method, target);
    q = strchr(target, '?');
    r->query[0] = '\0';
    if (q != NULL) {
        snprintf(r->query, sizeof(r->query), "%s", q + 1);
        *q = '\0';
    }
    snprintf(r->path, sizeof(r->path), "%s", target);
    r->auth[0] = r->content_type[0] = '\0';
    hdr(r, "authorization", r->auth, sizeof(r->auth));
    hdr(r, "content-type", r->content_type, sizeof(r->content_type));
    r->content_length = hdr(r, "content-length", tmp, sizeof(tmp)) ? atoll(tmp) : 0;
    r->chunked = hdr(r, "transfer-encoding", tmp, sizeof(tmp)) && strcasestr(tmp, "chunked");
    r->expect = hdr(r, "expect", tmp, sizeof(tmp)) && strcasestr(tmp, "100-continue");
    r->close = hdr(r, "connection", tmp, sizeof(tmp)) && strcasestr(tmp, "close");
}

/* Reads exactly n more bytes (first from the leftovers of the head) into the body buffer. */
static int body_take(req *r, size_t n, int keep)
{
    char buf[65536];
    while (n > 0) {
        size_t k;
        const char *src;
        if (r->extra_len > 0) {
            k = r->extra_len < n ? r->extra_len : n;
            src = r->extra;
            r->extra += k;
            r->extra_len -= k;
        } else {
            ssize_t got = recv(r->fd, buf, n < sizeof(buf) ? n : sizeof(buf), 0);
            if (got <= 0)
                return -1;
            k = (size_t)got;
            src = buf;
        }
        if (keep && argot_buf_put(&r->body, src, k) != 0)
            keep = 0;
        n -= k;
    }
    return 0;
}

static int body_line(req *r, char *out, size_t outn)
{
    size_t i = 0;
    char c;
    for (;;) {
        if (r->extra_len > 0) {
            c = *r->extra++;
            r->extra_len--;
        } else if (recv(r->fd, &c, 1, 0) != 1) {
            return -1;
        }
        if (c == '\n')
            break;
        if (c != '\r' && i + 1 < outn)
            out[i++] = c;
    }
    out[i] = '\0';
    return 0;
}

static int read_body(req *r)
{
    char line[128];
    if (r->expect && send_all(r->fd, "HTTP/1.1 100 Continue\r\n\r\n", 25) != 0)
        return -1;
    if (!r->chunked)
        return body_take(r, (size_t)r->content_length, 1);
    for (;;) {
        size_t n;
        if (body_line(r, line, sizeof(line)) != 0)
            return -1;
        n = (size_t)strtoul(line, NULL, 16);
        if (n == 0)
            return body_line(r, line, sizeof(line));
        if (body_take(r, n, 1) != 0 || body_line(r, line, sizeof(line)) != 0)
            return -1;
    }
}

/* ---- responses ---- */

/* Sends a head declaring len bytes of body, then the first send_len of them. */
static int respond_part(req *r,
                        int status,
                        const char *ctype,
                        const char *extra_hdrs,
                        const char *body,
                        size_t len,
                        size_t send_len)
{
    char head[2048];
    unsigned long long rid;
    int n;
    pthread_mutex_lock(&rid_mu);
    rid = ++request_no;
    pthread_mutex_unlock(&rid_mu);
    n = snprintf(head, sizeof(head),
                 "HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                 "x-request-id: req_mock%06llu\r\n%s\r\n",
                 status, ctype, len, rid, extra_hdrs != NULL ? extra_hdrs : "");
    if (send_all(r->fd, head, (size_t)n) != 0)
        return -1;
    return send_all(r->fd, body, send_len);
}

static int respond(
    req *r, int status, const char *ctype, const char *extra_hdrs, const char *body, size_t len)
{
    return respond_part(r, status, ctype, extra_hdrs, body, len, len);
}

static int respond_error(req *r,
                         int status,
                         const char *extra,
                         const char *msg,
                         const char *type,
                         const char *param,
                         const char *code)
{
    argot_buf b = ARGOT_BUF_INIT(1 << 20);
    int rc;
    argot_buf_puts(&b, "{\"error\":{\"message\":");
    argot_buf_put_json_str(&b, msg, strlen(msg));
    argot_buf_printf(&b, ",\"type\":\"%s\",\"param\":", type);
    if (param != NULL)
        argot_buf_printf(&b, "\"%s\"", param);
    else
        argot_buf_puts(&b, "null");
    argot_buf_puts(&b, ",\"code\":");
    if (code != NULL)
        argot_buf_printf(&b, "\"%s\"}}", code);
    else
        argot_buf_puts(&b, "null}}");
    rc = respond(r, status, "application/json", extra, b.ptr, b.len);
    argot_buf_free(&b);
    return rc;
}

static void file_json(argot_buf *b, const mfile *f)
{
    argot_buf_printf(b, "{\"object\":\"file\",\"id\":\"%s\",\"purpose\":", f->id);
    argot_buf_put_json_str(b, f->purpose, strlen(f->purpose));
    argot_buf_puts(b, ",\"filename\":");
    argot_buf_put_json_str(b, f->filename, strlen(f->filename));
    argot_buf_printf(b, ",\"bytes\":%lld,\"created_at\":%lld,\"expires_at\":", f->bytes,
                     f->created_at);
    if (f->expires_at >= 0)
        argot_buf_printf(b, "%lld", f->expires_at);
    else
        argot_buf_puts(b, "null");
    argot_buf_puts(b, ",\"status\":\"processed\",\"status_details\":null}");
}

static int respond_buf(req *r, argot_buf *b)
{
    int rc = respond(r, 200, "application/json", NULL, b->ptr, b->len);
    argot_buf_free(b);
    return rc;
}

static const char *qparam(const req *r, const char *name, char *out, size_t outn)
{
    size_t k = strlen(name);
    const char *p = r->query;
    while (*p) {
        const char *e = strchr(p, '&');
        size_t len = e != NULL ? (size_t)(e - p) : strlen(p);
        if (len > k && p[k] == '=' && strncmp(p, name, k) == 0) {
            snprintf(out, outn, "%.*s", (int)(len - k - 1), p + k + 1);
            return out;
        }
        p += len + (e != NULL);
    }
    return NULL;
}

static int do_list(req *r)
{
    char purpose[64], limit_s[16], order[8], after[64];
    int idx[MAX_FILES], n = 0, i, start = 0, limit, asc, count = 0;
    argot_buf b = ARGOT_BUF_INIT(16 << 20);
    const char *p = qparam(r, "purpose", purpose, sizeof(purpose));
    const char *a = qparam(r, "after", after, sizeof(after));

    limit = qparam(r, "limit", limit_s, sizeof(limit_s)) ? atoi(limit_s) : 10000;
    asc = qparam(r, "order", order, sizeof(order)) && strcmp(order, "asc") == 0;
    if (limit < 1 || limit > 10000)
        return respond_error(r, 400, NULL, "Invalid limit", "invalid_request_error", "limit", NULL);
    pthread_mutex_lock(&mu);
    for (i = 0; i < nfiles; i++) {
        int j = asc ? i : nfiles - 1 - i;
        if (!files[j].deleted && (p == NULL || strcmp(files[j].purpose, p) == 0))
            idx[n++] = j;
    }
    for (i = 0; a != NULL && i < n; i++)
        if (strcmp(files[idx[i]].id, a) == 0)
            start = i + 1;
    argot_buf_puts(&b, "{\"object\":\"list\",\"data\":[");
    for (i = start; i < n && count < limit; i++, count++) {
        if (count > 0)
            argot_buf_putc(&b, ',');
        file_json(&b, &files[idx[i]]);
    }
    argot_buf_printf(&b, "],\"has_more\":%s,", i < n ? "true" : "false");
    if (count > 0)
        argot_buf_printf(&b, "\"first_id\":\"%s\",\"last_id\":\"%s\"}", files[idx[start]].id,
                         files[idx[i - 1]].id);
    else
        argot_buf_puts(&b, "\"first_id\":null,\"last_id\":null}");
    pthread_mutex_unlock(&mu);
    return respond_buf(r, &b);
}

static mfile *find_file(const char *id)
{
    int i;
    for (i = 0; i < nfiles; i++)
        if (!files[i].deleted && strcmp(files[i].id, id) == 0)
            return &files[i];
    return NULL;
}

static int not_found(req *r, const char *id)
{
    char msg[256];
    snprintf(msg, sizeof(msg), "No such File object: %s", id);
    return respond_error(r, 404, NULL, msg, "invalid_request_error", "id", NULL);
}

/* Finds the value of a multipart part: its body and its Content-Disposition line. */
static const char *part(const req *r, const char *name, size_t *len, char *disp, size_t dispn)
{
    char boundary[256], needle[300], pat[300];
    const char *b = strstr(r->content_type, "boundary="), *p, *end, *body = r->body.ptr;
    size_t blen = r->body.len;
    if (b == NULL || body == NULL)
        return NULL;
    snprintf(boundary, sizeof(boundary), "%s", b + 9);
    if (boundary[0] == '"') {
        memmove(boundary, boundary + 1, strlen(boundary));
        boundary[strcspn(boundary, "\"")] = '\0';
    }
    snprintf(pat, sizeof(pat), "name=\"%s\"", name);
    snprintf(needle, sizeof(needle), "\r\n--%s", boundary);
    p = body;
    while ((p = memmem(p, blen - (size_t)(p - body), pat, strlen(pat))) != NULL) {
        const char *ls = p, *hs;
        while (ls > body && ls[-1] != '\n')
            ls--;
        hs = memmem(p, blen - (size_t)(p - body), "\r\n\r\n", 4);
        if (hs == NULL)
            return NULL;
        if (disp != NULL)
            snprintf(disp, dispn, "%.*s", (int)(strcspn(ls, "\r")), ls);
        hs += 4;
        end = memmem(hs, blen - (size_t)(hs - body), needle, strlen(needle));
        if (end == NULL)
            return NULL;
        *len = (size_t)(end - hs);
        return hs;
    }
    return NULL;
}

static int do_create(req *r)
{
    char disp[1024], purpose[64] = "", secs_s[32] = "";
    size_t flen, plen, slen;
    const char *fdata = part(r, "file", &flen, disp, sizeof(disp));
    const char *pdata = part(r, "purpose", &plen, NULL, 0);
    const char *sdata = part(r, "expires_after[seconds]", &slen, NULL, 0);
    const char *fn;
    argot_buf b = ARGOT_BUF_INIT(1 << 20);
    mfile *f;

    if (pdata == NULL)
        return respond_error(r, 400, NULL, "'purpose' is a required property",
                             "invalid_request_error", "purpose", NULL);
    if (fdata == NULL)
        return respond_error(r, 400, NULL, "'file' is a required property", "invalid_request_error",
                             "file", NULL);
    snprintf(purpose, sizeof(purpose), "%.*s", (int)plen, pdata);
    if (sdata != NULL)
        snprintf(secs_s, sizeof(secs_s), "%.*s", (int)slen, sdata);
    pthread_mutex_lock(&mu);
    f = &files[nfiles++];
    snprintf(f->id, sizeof(f->id), "file-mock%04d", ++uploads);
    fn = strstr(disp, "filename=\"");
    snprintf(f->filename, sizeof(f->filename), "%s", fn != NULL ? fn + 10 : "");
    f->filename[strcspn(f->filename, "\"")] = '\0';
    snprintf(f->purpose, sizeof(f->purpose), "%s", purpose);
    f->bytes = (long long)flen;
    f->created_at = 1700000100 + uploads;
    f->expires_at = secs_s[0] ? f->created_at + atoll(secs_s) : -1;
    f->data = malloc(flen + 1);
    memcpy(f->data, fdata, flen);
    file_json(&b, f);
    pthread_mutex_unlock(&mu);
    return respond_buf(r, &b);
}

/* The Range of a content request, as argotd reads it: 1 (off, len set), 0 (none, ignored, or
 * If-Range not the ETag: the whole file) or -1 (unsatisfiable). */
static int content_range(const req *r, const mfile *f, long long *off, long long *len)
{
    char v[128], ir[160], etag[64], rest[8];
    long long a, b, size = f->bytes;
    int n;

    if (!hdr(r, "range", v, sizeof(v)))
        return 0;
    snprintf(etag, sizeof(etag), "\"%s\"", f->id);
    if (hdr(r, "if-range", ir, sizeof(ir)) && strcmp(ir, etag) != 0)
        return 0;
    if (sscanf(v, "bytes=-%lld%1s", &b, rest) == 1) {
        if (b <= 0 || size == 0)
            return -1;
        *off = b >= size ? 0 : size - b;
        *len = size - *off;
        return 1;
    }
    n = sscanf(v, "bytes=%lld-%lld%1s", &a, &b, rest);
    if (n == 1 && v[strlen(v) - 1] == '-')
        b = size > 0 ? size - 1 : 0;
    else if (n != 2 || a < 0 || b < a)
        return 0;
    if (a >= size)
        return -1;
    *off = a;
    *len = (b >= size ? size - 1 : b) - a + 1;
    return 1;
}

/*
 * GET /files/{id}/content as argotd answers it: Accept-Ranges, a strong ETag (the quoted id), a
 * single Range (206 + Content-Range, or 416 with Content-Range: bytes * /size), If-Range. Steps:
 * `cut` sends the head and half the body, then closes; `cutnotag` does so as a server without
 * ranges or ETags (200, whole file); `norange` is such a server (200, the whole file, whatever
 * the Range); `badrange` answers a Range with the 206 of the range one byte further on.
 */
static int do_content(req *r, mfile *f)
{
    char extra[512];
    long long off = 0, len = f->bytes;
    int plain = !strcmp(r->step, "norange") || !strcmp(r->step, "cutnotag");
    int k = plain ? 0 : content_range(r, f, &off, &len);
    size_t used = 0;

    extra[0] = '\0';
    if (!plain)
        used = (size_t)snprintf(extra, sizeof(extra), "Accept-Ranges: bytes\r\nETag: \"%s\"\r\n",
                                f->id);
    if (k < 0) {
        snprintf(extra + used, sizeof(extra) - used, "Content-Range: bytes */%lld\r\n", f->bytes);
        return respond_error(r, 416, extra, "The requested range is not satisfiable.",
                             "invalid_request_error", NULL, "range_not_satisfiable");
    }
    if (k > 0 && !strcmp(r->step, "badrange") && off + 1 < f->bytes) {
        off++;
        len = f->bytes - off;
    }
    if (k > 0)
        snprintf(extra + used, sizeof(extra) - used, "Content-Range: bytes %lld-%lld/%lld\r\n", off,
                 off + len - 1, f->bytes);
    if (!strcmp(r->step, "cut") || !strcmp(r->step, "cutnotag")) {
        respond_part(r, k > 0 ? 206 : 200, "application/octet-stream", extra, f->data + off,
                     (size_t)len, (size_t)len / 2);
        return -1;
    }
    return respond(r, k > 0 ? 206 : 200, "application/octet-stream", extra, f->data + off,
                   (size_t)len);
}

static int do_file(req *r, const char *rest)
{
    char id[128];
    const char *slash = strchr(rest, '/');
    mfile *f;
    argot_buf b = ARGOT_BUF_INIT(1 << 20);
    int rc;

    snprintf(id, sizeof(id), "%.*s", (int)(slash ? (size_t)(slash - rest) : strlen(rest)), rest);
    pthread_mutex_lock(&mu);
    f = find_file(id);
    if (f == NULL) {
        pthread_mutex_unlock(&mu);
        return not_found(r, id);
    }
    if (slash != NULL && strcmp(slash, "/content") == 0 && strcmp(r->method, "GET") == 0) {
        rc = do_content(r, f);
        pthread_mutex_unlock(&mu);
        return rc;
    }
    if (strcmp(r->method, "DELETE") == 0) {
        f->deleted = 1;
        argot_buf_printf(&b, "{\"object\":\"file\",\"deleted\":true,\"id\":\"%s\"}", f->id);
    } else {
        file_json(&b, f);
    }
    pthread_mutex_unlock(&mu);
    return respond_buf(r, &b);
}

static int auth_ok(req *r)
{
    if (r->auth[0] == '\0') {
        respond_error(r, 401, NULL, "You didn't provide an API key.", "invalid_request_error", NULL,
                      NULL);
        return 0;
    }
    if (strcmp(r->auth, "Bearer sk-wrong") == 0) {
        respond_error(r, 401, NULL, "Incorrect API key provided: sk-wrong.",
                      "invalid_request_error", NULL, "invalid_api_key");
        return 0;
    }
    return 1;
}

/* ---- Uploads API ---- */

static keystat *key_get(const char *key);

/* Counts one attempt under "up:<filename>:<what>" (mu held). */
static void up_count(const mupload *u, const char *what)
{
    char key[128];
    snprintf(key, sizeof(key), "up:%.80s:%.30s", u->filename, what);
    key_get(key)->attempts++;
}

static void upload_json(argot_buf *b, const mupload *u)
{
    argot_buf_printf(b,
                     "{\"id\":\"%s\",\"object\":\"upload\",\"bytes\":%lld,\"created_at\":%lld,"
                     "\"filename\":",
                     u->id, u->bytes, u->created_at);
    argot_buf_put_json_str(b, u->filename, strlen(u->filename));
    argot_buf_puts(b, ",\"purpose\":");
    argot_buf_put_json_str(b, u->purpose, strlen(u->purpose));
    argot_buf_printf(b, ",\"status\":\"%s\",\"expires_at\":%lld", u->status, u->created_at + 3600);
    if (u->file >= 0) {
        argot_buf_puts(b, ",\"file\":");
        file_json(b, &files[u->file]);
    }
    argot_buf_putc(b, '}');
}

static int respond_upload(req *r, const mupload *u)
{
    argot_buf b = ARGOT_BUF_INIT(1 << 20);
    upload_json(&b, u);
    pthread_mutex_unlock(&mu);
    return respond_buf(r, &b);
}

static int bad_request(req *r, const char *msg, const char *param)
{
    return respond_error(r, 400, NULL, msg, "invalid_request_error", param, NULL);
}

static const char *jstr(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static int up_create(req *r)
{
    json_t *o = json_loadb(r->body.ptr ? r->body.ptr : "", r->body.len, 0, NULL);
    json_t *ea = json_object_get(o, "expires_after");
    mupload *u;
    int rc;

    if (o == NULL || jstr(o, "filename") == NULL || jstr(o, "purpose") == NULL ||
        jstr(o, "mime_type") == NULL || !json_is_integer(json_object_get(o, "bytes"))) {
        json_decref(o);
        return bad_request(r, "filename, purpose, bytes and mime_type are required", NULL);
    }
    pthread_mutex_lock(&mu);
    if (nup == MAX_UPLOADS) {
        pthread_mutex_unlock(&mu);
        json_decref(o);
        return bad_request(r, "too many uploads", NULL);
    }
    u = &up_store[nup++];
    snprintf(u->id, sizeof(u->id), "upload_mock%04d", nup);
    snprintf(u->filename, sizeof(u->filename), "%s", jstr(o, "filename"));
    snprintf(u->purpose, sizeof(u->purpose), "%s", jstr(o, "purpose"));
    u->bytes = (long long)json_integer_value(json_object_get(o, "bytes"));
    u->created_at = 1700000200 + nup;
    u->expires_after =
        ea != NULL ? (long long)json_integer_value(json_object_get(ea, "seconds")) : 0;
    u->status = "pending";
    u->file = -1;
    json_decref(o);
    up_count(u, "create");
    rc = respond_upload(r, u);
    return rc;
}

/* Fault injection: "failpart_<TAG>_<N>" fails the first N attempts of the part tagged TAG. */
static int should_fail(mupload *u, const char *data, size_t len)
{
    char tag[32];
    int n;
    if (sscanf(u->filename, "failpart_%31[^_]_%d", tag, &n) != 2)
        return 0;
    if (len < strlen(tag) || memcmp(data, tag, strlen(tag)) != 0 || u->failed >= n)
        return 0;
    u->failed++;
    return 1;
}

static void count_part(mupload *u, const char *data, size_t len)
{
    char tag[9];
    size_t i;
    up_count(u, "parts");
    for (i = 0; i < 8 && i < len; i++) {
        if (!((data[i] >= '0' && data[i] <= '9') || (data[i] >= 'A' && data[i] <= 'Z') ||
              (data[i] >= 'a' && data[i] <= 'z')))
            return;
        tag[i] = data[i];
    }
    if (i < 8)
        return;
    tag[8] = '\0';
    up_count(u, tag);
}

static int up_part(req *r, mupload *u)
{
    size_t len;
    const char *data = part(r, "data", &len, NULL, 0);
    mpart *p;
    argot_buf b = ARGOT_BUF_INIT(1 << 20);

    if (data == NULL) {
        pthread_mutex_unlock(&mu);
        return bad_request(r, "'data' is a required property", "data");
    }
    count_part(u, data, len);
    if (strcmp(u->status, "pending") != 0 || u->nparts == MAX_PARTS) {
        pthread_mutex_unlock(&mu);
        return bad_request(r, "Upload is not pending", NULL);
    }
    if (should_fail(u, data, len)) {
        pthread_mutex_unlock(&mu);
        return respond_error(r, 503, NULL, "Injected part failure", "server_error", NULL, NULL);
    }
    p = &u->parts[u->nparts++];
    snprintf(p->id, sizeof(p->id), "part_mock%06d", ++nparts_total);
    p->data = malloc(len + 1);
    memcpy(p->data, data, len);
    p->len = len;
    argot_buf_printf(&b,
                     "{\"id\":\"%s\",\"object\":\"upload.part\",\"created_at\":%lld,"
                     "\"upload_id\":\"%s\"}",
                     p->id, u->created_at + 1, u->id);
    pthread_mutex_unlock(&mu);
    return respond_buf(r, &b);
}

static mpart *find_part(mupload *u, const char *id)
{
    int i;
    for (i = 0; id != NULL && i < u->nparts; i++)
        if (strcmp(u->parts[i].id, id) == 0)
            return &u->parts[i];
    return NULL;
}

/* Concatenates the parts named in ids into buf; returns the size, or -1 for an unknown id. */
static long long join_parts(mupload *u, json_t *ids, char *buf)
{
    size_t i;
    long long total = 0;
    for (i = 0; i < json_array_size(ids); i++) {
        mpart *p = find_part(u, json_string_value(json_array_get(ids, i)));
        if (p == NULL)
            return -1;
        if (buf != NULL)
            memcpy(buf + total, p->data, p->len);
        total += (long long)p->len;
    }
    return total;
}

static void md5_hex(const char *data, size_t len, char *hex)
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int n = 0, i;
    EVP_Digest(data, len, d, &n, EVP_md5(), NULL);
    for (i = 0; i < n; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

static int add_completed_file(mupload *u, char *data)
{
    mfile *f;
    if (nfiles == MAX_FILES)
        return -1;
    f = &files[nfiles];
    snprintf(f->id, sizeof(f->id), "file-mock%04d", ++uploads);
    snprintf(f->filename, sizeof(f->filename), "%s", u->filename);
    snprintf(f->purpose, sizeof(f->purpose), "%s", u->purpose);
    f->bytes = u->bytes;
    f->created_at = u->created_at;
    f->expires_at = u->expires_after > 0 ? u->created_at + u->expires_after : -1;
    f->data = data;
    u->file = nfiles++;
    u->status = "completed";
    return 0;
}

static int up_complete(req *r, mupload *u)
{
    json_t *o = json_loadb(r->body.ptr ? r->body.ptr : "", r->body.len, 0, NULL);
    json_t *ids = json_object_get(o, "part_ids");
    const char *md5 = jstr(o, "md5");
    char hex[64] = "", *data = NULL;
    const char *err = NULL;
    long long total;

    up_count(u, "complete");
    total = json_is_array(ids) ? join_parts(u, ids, NULL) : -1;
    if (strcmp(u->status, "pending") != 0)
        err = "Upload is not pending";
    else if (total < 0)
        err = "part_ids must name parts of this upload";
    else if (total != u->bytes)
        err = "The parts do not add up to the declared bytes";
    if (err == NULL && (data = malloc((size_t)total + 1)) != NULL)
        join_parts(u, ids, data);
    if (err == NULL && md5 != NULL && (md5_hex(data, (size_t)total, hex), strcmp(hex, md5) != 0))
        err = "md5 mismatch";
    if (err == NULL && add_completed_file(u, data) != 0)
        err = "store full";
    json_decref(o);
    if (err != NULL) {
        free(data);
        pthread_mutex_unlock(&mu);
        return bad_request(r, err, NULL);
    }
    return respond_upload(r, u);
}

static int up_cancel(req *r, mupload *u)
{
    up_count(u, "cancel");
    if (strcmp(u->status, "pending") != 0) {
        pthread_mutex_unlock(&mu);
        return bad_request(r, "Upload is not pending", NULL);
    }
    u->status = "cancelled";
    return respond_upload(r, u);
}

static int route_uploads(req *r, const char *rest)
{
    char id[64], op[32] = "";
    mupload *u = NULL;
    int i;

    if (strcmp(r->method, "POST") != 0)
        return respond_error(r, 405, NULL, "Method not allowed", "invalid_request_error", NULL,
                             NULL);
    if (*rest == '\0')
        return up_create(r);
    if (sscanf(rest, "/%63[^/]/%31s", id, op) != 2)
        return respond_error(r, 404, NULL, "Unknown route", "invalid_request_error", NULL, NULL);
    pthread_mutex_lock(&mu);
    for (i = 0; i < nup; i++)
        if (strcmp(up_store[i].id, id) == 0)
            u = &up_store[i];
    if (u == NULL) {
        char msg[128];
        pthread_mutex_unlock(&mu);
        snprintf(msg, sizeof(msg), "No such Upload object: %s", id);
        return respond_error(r, 404, NULL, msg, "invalid_request_error", "upload_id", NULL);
    }
    if (strcmp(op, "parts") == 0)
        return up_part(r, u);
    if (strcmp(op, "complete") == 0)
        return up_complete(r, u);
    if (strcmp(op, "cancel") == 0)
        return up_cancel(r, u);
    pthread_mutex_unlock(&mu);
    return respond_error(r, 404, NULL, "Unknown route", "invalid_request_error", NULL, NULL);
}

static int route(req *r, const char *api)
{
    if (strncmp(api, "/v1/uploads", 11) == 0 && auth_ok(r))
        return route_uploads(r, api + 11);
    if (strncmp(api, "/v1/uploads", 11) == 0)
        return 0;
    if (strncmp(api, "/v1/files", 9) != 0)
        return respond_error(r, 404, NULL, "Unknown route", "invalid_request_error", NULL, NULL);
    if (!auth_ok(r))
        return 0;
    api += 9;
    if (*api == '\0' && strcmp(r->method, "GET") == 0)
        return do_list(r);
    if (*api == '\0' && strcmp(r->method, "POST") == 0)
        return do_create(r);
    if (*api == '/' && api[1] != '\0')
        return do_file(r, api + 1);
    return respond_error(r, 405, NULL, "Method not allowed", "invalid_request_error", NULL, NULL);
}

/* ---- scripts and stats ---- */

static keystat *key_get(const char *key)
{
    int i;
    for (i = 0; i < nkeys; i++)
        if (strcmp(keys[i].key, key) == 0)
            return &keys[i];
    if (nkeys == MAX_KEYS)
        return &keys[0];
    snprintf(keys[nkeys].key, sizeof(keys[nkeys].key), "%s", key);
    argot_buf_init(&keys[nkeys].gaps, 1 << 16);
    return &keys[nkeys++];
}

/* Counts the attempt under key and copies its script step into r->step. */
static void pick_step(req *r, const char *key, const char *script)
{
    keystat *k;
    unsigned n, i;
    const char *p = script;
    unsigned long long t = now_ms();

    pthread_mutex_lock(&mu);
    k = key_get(key);
    n = k->attempts++;
    if (n > 0)
        argot_buf_printf(&k->gaps, "%s%llu", k->gaps.len ? "," : "", t - k->last_ms);
    k->last_ms = t;
    snprintf(k->last_request, sizeof(k->last_request), "%.*s", (int)(r->head_len - r->extra_len),
             r->head);
    pthread_mutex_unlock(&mu);
    for (i = 0; i < n; i++) {
        const char *c = strchr(p, ',');
        if (c == NULL)
            break;
        p = c + 1;
    }
    snprintf(r->step, sizeof(r->step), "%.*s", (int)strcspn(p, ","), p);
}

static int do_stats(req *r, const char *key)
{
    argot_buf b = ARGOT_BUF_INIT(1 << 20);
    keystat *k;
    pthread_mutex_lock(&mu);
    k = key_get(key);
    argot_buf_printf(&b, "{\"attempts\":%u,\"gaps_ms\":[%s],\"last_request\":", k->attempts,
                     k->gaps.ptr != NULL ? k->gaps.ptr : "");
    argot_buf_put_json_str(&b, k->last_request, strlen(k->last_request));
    argot_buf_putc(&b, '}');
    pthread_mutex_unlock(&mu);
    return respond_buf(r, &b);
}

static void stall(req *r)
{
    struct pollfd p = {r->fd, POLLIN, 0};
    char buf[4096];
    unsigned long long end = now_ms() + 60000;
    while (now_ms() < end) {
        if (poll(&p, 1, 200) > 0 && recv(r->fd, buf, sizeof(buf), 0) <= 0)
            return;
    }
}

static void retry_headers(const char *mods, char *out, size_t outn)
{
    char tmp[128];
    const char *p = mods;
    size_t used = 0;
    out[0] = '\0';
    while (p != NULL && *p) {
        char m[64];
        snprintf(m, sizeof(m), "%.*s", (int)strcspn(p, "+"), p);
        if (strncmp(m, "ra=", 3) == 0)
            snprintf(tmp, sizeof(tmp), "retry-after: %s\r\n", m + 3);
        else if (strncmp(m, "rams=", 5) == 0)
            snprintf(tmp, sizeof(tmp), "retry-after-ms: %s\r\n", m + 5);
        else if (strncmp(m, "sr=", 3) == 0)
            snprintf(tmp, sizeof(tmp), "x-should-retry: %s\r\n", m + 3);
        else if (strncmp(m, "radate=", 7) == 0) {
            time_t t = time(NULL) + atoi(m + 7);
            struct tm tmv;
            char d[64];
            gmtime_r(&t, &tmv);
            strftime(d, sizeof(d), "%a, %d %b %Y %H:%M:%S GMT", &tmv);
            snprintf(tmp, sizeof(tmp), "retry-after: %s\r\n", d);
        } else
            tmp[0] = '\0';
        used += (size_t)snprintf(out + used, outn - used, "%s", tmp);
        p = strchr(p, '+');
        if (p != NULL)
            p++;
    }
}

/* Runs a scripted step; returns 1 when the request still needs its normal answer. */
static int scripted(req *r, int *close_conn)
{
    char extra[1024], msg[64];
    int status = atoi(r->step);
    if (strcmp(r->step, "drop") == 0) {
        *close_conn = 1;
        return 0;
    }
    if (strcmp(r->step, "stall") == 0) {
        stall(r);
        *close_conn = 1;
        return 0;
    }
    if (read_body(r) != 0) {
        *close_conn = 1;
        return 0;
    }
    if (strcmp(r->step, "html") == 0) {
        respond(r, 502, "text/html", NULL, "<html>Bad Gateway</html>", 24);
        return 0;
    }
    if (strcmp(r->step, "badjson") == 0) {
        respond(r, 200, "application/json", NULL, "{\"object\":", 10);
        return 0;
    }
    if (status < 400)
        return 1;
    retry_headers(strchr(r->step, '+'), extra, sizeof(extra));
    snprintf(msg, sizeof(msg), "Scripted failure %d", status);
    respond_error(r, status, extra, msg, status >= 500 ? "server_error" : "invalid_request_error",
                  NULL, status == 429 ? "rate_limit_exceeded" : NULL);
    return 0;
}

static int serve_one(req *r)
{
    char key[128], script[1024];
    const char *api = r->path;
    int close_conn = 0, rc = 0;

    argot_buf_init(&r->body, MAX_BODY);
    if (read_head(r) != 0)
        return -1;
    parse_head(r);
    if (strncmp(r->path, "/_stats/", 8) == 0) {
        do_stats(r, r->path + 8);
        return -1;
    }
    snprintf(r->step, sizeof(r->step), "ok");
    if (strncmp(r->path, "/m/", 3) == 0 &&
        sscanf(r->path + 3, "%127[^/]/%1023[^/]", key, script) == 2) {
        api = r->path + 3 + strlen(key) + 1 + strlen(script);
        pick_step(r, key, script);
    } else {
        pick_step(r, "default", "ok");
    }
    if (scripted(r, &close_conn))
        rc = route(r, api);
    argot_buf_free(&r->body);
    return close_conn || r->close ? -1 : rc;
}

static void *conn_main(void *arg)
{
    req *r = arg;
    while (serve_one(r) == 0) {
        if (r->extra_len > 0)
            break; /* pipelining is not needed by the tests */
    }
    argot_buf_free(&r->body);
    close(r->fd);
    free(r);
    return NULL;
}

int main(int argc, char **argv)
{
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    const char *port_file = NULL;
    int ls, one = 1, i;
    FILE *pf;

    for (i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "--port-file") == 0)
            port_file = argv[i + 1];
    signal(SIGPIPE, SIG_IGN);
    seed_files();
    ls = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(ls, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(ls, 64) != 0 ||
        getsockname(ls, (struct sockaddr *)&sa, &sl) != 0) {
        perror("argot_mockd");
        return 1;
    }
    if (port_file != NULL) {
        char tmp[4096];
        snprintf(tmp, sizeof(tmp), "%s.tmp", port_file);
        pf = fopen(tmp, "w");
        if (pf == NULL)
            return 1;
        fprintf(pf, "%d\n", ntohs(sa.sin_port));
        fclose(pf);
        rename(tmp, port_file); /* readers never see a half-written file */
    } else {
        printf("%d\n", ntohs(sa.sin_port));
        fflush(stdout);
    }
    for (;;) {
        pthread_t t;
        req *r = calloc(1, sizeof(*r));
        r->fd = accept(ls, NULL, NULL);
        if (r->fd < 0) {
            free(r);
            continue;
        }
        pthread_create(&t, NULL, conn_main, r);
        pthread_detach(t);
    }
}
