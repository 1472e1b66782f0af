/* Decoders for S3 response bodies: see s3_resp.h. */
#include "server/blob/s3/s3_resp.h"

#include <string.h>

/* Bits of s3r.have. */
enum {
    H_KEY = 1 << 0,
    H_UPLOAD_ID = 1 << 1,
    H_ETAG = 1 << 2,
    H_SIZE = 1 << 3,
    H_PART = 1 << 4,
    H_DOC_CODE = 1 << 8,
    H_DOC_UPLOAD_ID = 1 << 9,
    H_DOC_ETAG = 1 << 10,
    H_DOC_TOKEN = 1 << 11,
    H_DOC_KEY_MARKER = 1 << 12,
    H_DOC_ID_MARKER = 1 << 13,
    H_DOC_PART_MARKER = 1 << 14,
    H_ROOT = 1 << 15,
};

static const struct kind_info {
    const char *root;
    const char *entry; /* element of one list entry, or NULL */
} kinds[S3R_KIND_COUNT] = {
    [S3R_ERROR] = {"Error", NULL},
    [S3R_INITIATE] = {"InitiateMultipartUploadResult", NULL},
    [S3R_COMPLETE] = {"CompleteMultipartUploadResult", NULL},
    [S3R_COPY_PART] = {"CopyPartResult", NULL},
    [S3R_LIST_OBJECTS] = {"ListBucketResult", "Contents"},
    [S3R_LIST_UPLOADS] = {"ListMultipartUploadsResult", "Upload"},
    [S3R_LIST_PARTS] = {"ListPartsResult", "Part"},
};

const char *s3r_strerror(int status)
{
    switch (status) {
    case S3R_OK:
        return "ok";
    case S3R_E_XML:
        return "malformed XML in the S3 response";
    case S3R_E_SHAPE:
        return "unexpected S3 response document";
    case S3R_E_TOOLONG:
        return "a value in the S3 response is too long";
    case S3R_E_CALLBACK:
        return "stopped by the consumer";
    default:
        return "unknown S3 response error";
    }
}

static int set_status(s3r *r, int st)
{
    if (r->status == S3R_OK)
        r->status = st;
    return r->status;
}

/* Copies text into dst (cap bytes with the NUL); a cut value is an error unless lossy. */
static int copy_text(s3r *r, char *dst, size_t cap, const char *text, size_t len, int lossy)
{
    if (len >= cap || r->x.text_truncated) {
        if (!lossy)
            return set_status(r, S3R_E_TOOLONG);
        len = len >= cap ? cap - 1 : len;
    }
    memcpy(dst, text, len);
    dst[len] = '\0';
    return S3R_OK;
}

static int parse_u64(const char *s, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    if (len == 0 || len > 19)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return 0;
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int digits(const char *s, int n, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return 0;
}

int64_t s3r_parse_time(const char *s)
{
    unsigned y, mo, d, h, mi, sec;
    if (strlen(s) < 19 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
        s[16] != ':')
        return -1;
    if (digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) ||
        digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) || digits(s + 17, 2, &sec))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return -1;
    const char *t = s + 19;
    if (*t == '.') {
        t++;
        while (*t >= '0' && *t <= '9')
            t++;
    }
    if (*t == 'Z')
        t++;
    if (*t != '\0')
        return -1;
    return days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
}

static int entry_field(s3r *r, const char *f, const char *text, size_t len)
{
    s3r_entry *e = &r->cur;
    if (strcmp(f, "Key") == 0) {
        r->have |= H_KEY;
        return copy_text(r, e->key, sizeof e->key, text, len, 0);
    }
    if (strcmp(f, "UploadId") == 0) {
        r->have |= H_UPLOAD_ID;
        return copy_text(r, e->upload_id, sizeof e->upload_id, text, len, 0);
    }
    if (strcmp(f, "ETag") == 0) {
        r->have |= H_ETAG;
        return copy_text(r, e->etag, sizeof e->etag, text, len, 0);
    }
    if (strcmp(f, "Size") == 0) {
        r->have |= H_SIZE;
        return parse_u64(text, len, &e->size) ? set_status(r, S3R_E_SHAPE) : S3R_OK;
    }
    if (strcmp(f, "PartNumber") == 0) {
        uint64_t n;
        r->have |= H_PART;
        if (parse_u64(text, len, &n) || n < 1 || n > 100000)
            return set_status(r, S3R_E_SHAPE);
        e->part_number = (int)n;
        return S3R_OK;
    }
    if (strcmp(f, "LastModified") == 0 || strcmp(f, "Initiated") == 0)
        e->time = len < 64 ? s3r_parse_time(text) : -1;
    return S3R_OK;
}

static unsigned entry_required(s3r_kind k)
{
    switch (k) {
    case S3R_LIST_OBJECTS:
        return H_KEY | H_SIZE;
    case S3R_LIST_UPLOADS:
        return H_KEY | H_UPLOAD_ID;
    default:
        return H_PART | H_ETAG | H_SIZE;
    }
}

static int entry_end(s3r *r)
{
    unsigned need = entry_required(r->kind);
    const s3r_entry *e = &r->cur;
    if ((r->have & need) != need || ((need & H_KEY) && !e->key[0]) ||
        ((need & H_UPLOAD_ID) && !e->upload_id[0]) || ((need & H_ETAG) && !e->etag[0]))
        return set_status(r, S3R_E_SHAPE);
    r->entries++;
    if (r->cb && r->cb(&r->cur, r->userdata) != 0)
        return set_status(r, S3R_E_CALLBACK);
    return S3R_OK;
}

static int error_field(s3r *r, const char *f, const char *text, size_t len)
{
    if (strcmp(f, "Code") == 0) {
        r->have |= H_DOC_CODE;
        return copy_text(r, r->code, sizeof r->code, text, len, 1);
    }
    if (strcmp(f, "Message") == 0)
        return copy_text(r, r->message, sizeof r->message, text, len, 1);
    return S3R_OK;
}

static int bool_text(const char *text, size_t len)
{
    return len == 4 && memcmp(text, "true", 4) == 0;
}

static int doc_field(s3r *r, const char *f, const char *text, size_t len)
{
    if (r->is_error)
        return error_field(r, f, text, len);
    switch (r->kind) {
    case S3R_INITIATE:
        if (strcmp(f, "UploadId") != 0)
            return S3R_OK;
        r->have |= H_DOC_UPLOAD_ID;
        return copy_text(r, r->upload_id, sizeof r->upload_id, text, len, 0);
    case S3R_COMPLETE:
    case S3R_COPY_PART:
        if (strcmp(f, "ETag") != 0)
            return S3R_OK;
        r->have |= H_DOC_ETAG;
        return copy_text(r, r->etag, sizeof r->etag, text, len, 0);
    default:
        break;
    }
    if (strcmp(f, "IsTruncated") == 0) {
        r->truncated = bool_text(text, len);
    } else if (r->kind == S3R_LIST_OBJECTS && strcmp(f, "NextContinuationToken") == 0) {
        r->have |= H_DOC_TOKEN;
        return copy_text(r, r->next_token, sizeof r->next_token, text, len, 0);
    } else if (r->kind == S3R_LIST_UPLOADS && strcmp(f, "NextKeyMarker") == 0) {
        r->have |= H_DOC_KEY_MARKER;
        return copy_text(r, r->next_key_marker, sizeof r->next_key_marker, text, len, 0);
    } else if (r->kind == S3R_LIST_UPLOADS && strcmp(f, "NextUploadIdMarker") == 0) {
        r->have |= H_DOC_ID_MARKER;
        return copy_text(r, r->next_upload_id_marker, sizeof r->next_upload_id_marker, text, len,
                         0);
    } else if (r->kind == S3R_LIST_PARTS && strcmp(f, "NextPartNumberMarker") == 0) {
        uint64_t n;
        r->have |= H_DOC_PART_MARKER;
        if (parse_u64(text, len, &n) || n > 100000)
            return set_status(r, S3R_E_SHAPE);
        r->next_part_marker = (int)n;
    }
    return S3R_OK;
}

static int on_open(s3r *r, const char *path, size_t depth)
{
    const struct kind_info *k = &kinds[r->kind];
    if (depth == 1) {
        r->have |= H_ROOT;
        if (strcmp(path, "Error") == 0)
            r->is_error = 1;
        else if (strcmp(path, k->root) != 0)
            return set_status(r, S3R_E_SHAPE);
        return S3R_OK;
    }
    if (depth == 2 && k->entry && !r->is_error &&
        strcmp(path + strlen(k->root) + 1, k->entry) == 0) {
        memset(&r->cur, 0, sizeof r->cur);
        r->cur.time = -1;
        r->have &= ~(unsigned)0xff;
    }
    return S3R_OK;
}

static int on_close(s3r *r, const char *path, size_t depth, const char *text, size_t len)
{
    const struct kind_info *k = &kinds[r->kind];
    const char *root = r->is_error ? "Error" : k->root;
    const char *rest = depth > 1 ? path + strlen(root) + 1 : NULL;
    if (depth == 2)
        return k->entry && !r->is_error && strcmp(rest, k->entry) == 0
                   ? entry_end(r)
                   : doc_field(r, rest, text, len);
    if (depth == 3 && k->entry && !r->is_error) {
        size_t n = strlen(k->entry);
        if (strncmp(rest, k->entry, n) == 0 && rest[n] == '/')
            return entry_field(r, rest + n + 1, text, len);
    }
    return S3R_OK;
}

static int xml_cb(
    s3x_event ev, const char *path, size_t depth, const char *text, size_t len, void *userdata)
{
    s3r *r = userdata;
    int rc = ev == S3X_OPEN ? on_open(r, path, depth) : on_close(r, path, depth, text, len);
    return rc != S3R_OK;
}

void s3r_init(s3r *r, s3r_kind kind, s3r_entry_cb cb, void *userdata)
{
    memset(r, 0, sizeof *r);
    r->kind = kind < S3R_KIND_COUNT ? kind : S3R_ERROR;
    r->cb = cb;
    r->userdata = userdata;
    s3x_init(&r->x, xml_cb, r);
}

int s3r_feed(s3r *r, const char *data, size_t len)
{
    if (r->status != S3R_OK)
        return r->status;
    int rc = s3x_feed(&r->x, data, len);
    if (rc != S3X_OK && r->status == S3R_OK)
        r->status = S3R_E_XML;
    return r->status;
}

static unsigned doc_required(const s3r *r)
{
    if (r->is_error)
        return H_DOC_CODE;
    switch (r->kind) {
    case S3R_INITIATE:
        return H_DOC_UPLOAD_ID;
    case S3R_COMPLETE:
    case S3R_COPY_PART:
        return H_DOC_ETAG;
    case S3R_LIST_OBJECTS:
        return r->truncated ? H_DOC_TOKEN : 0;
    case S3R_LIST_UPLOADS:
        return r->truncated ? H_DOC_KEY_MARKER | H_DOC_ID_MARKER : 0;
    case S3R_LIST_PARTS:
        return r->truncated ? H_DOC_PART_MARKER : 0;
    default:
        return 0;
    }
}

/* A required value may not be empty (an empty UploadId or token cannot be used). */
static int required_values_set(const s3r *r, unsigned need)
{
    if (((need & H_DOC_CODE) && !r->code[0]) || ((need & H_DOC_UPLOAD_ID) && !r->upload_id[0]))
        return 0;
    if (((need & H_DOC_ETAG) && !r->etag[0]) || ((need & H_DOC_TOKEN) && !r->next_token[0]))
        return 0;
    return !(need & H_DOC_KEY_MARKER) || r->next_key_marker[0];
}

/* A truncated page without next markers continues after its last entry, which is what the
 * markers mean (Swift 2.30 sends them empty when a page holds a single upload). */
static void markers_from_last_entry(s3r *r)
{
    if (r->is_error || !r->truncated || r->entries == 0)
        return;
    if (r->kind == S3R_LIST_UPLOADS && !r->next_key_marker[0]) {
        memcpy(r->next_key_marker, r->cur.key, sizeof r->next_key_marker);
        memcpy(r->next_upload_id_marker, r->cur.upload_id, sizeof r->next_upload_id_marker);
        r->have |= H_DOC_KEY_MARKER | H_DOC_ID_MARKER;
    } else if (r->kind == S3R_LIST_PARTS && r->next_part_marker == 0) {
        r->next_part_marker = r->cur.part_number;
        r->have |= H_DOC_PART_MARKER;
    }
}

int s3r_finish(s3r *r)
{
    if (r->status != S3R_OK)
        return r->status;
    if (s3x_finish(&r->x) != S3X_OK)
        return set_status(r, S3R_E_XML);
    markers_from_last_entry(r);
    if (r->kind == S3R_ERROR && !r->is_error)
        return set_status(r, S3R_E_SHAPE);
    unsigned need = doc_required(r);
    if ((r->have & need) != need || !required_values_set(r, need))
        return set_status(r, S3R_E_SHAPE);
    return S3R_OK;
}
