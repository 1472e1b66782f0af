/*
 * Upload sources: a path, a file descriptor, a memory buffer or a read callback, all streamed
 * into a curl_mime part through curl_mime_data_cb(). The seek callback lets curl (and the retry
 * loop, through argot__upload_rewind) go back to the first byte.
 */
#include "client/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void size_from_fd(argot__upload *up, int64_t declared)
{
    struct stat sb;
    up->start_off = lseek(up->fd, 0, SEEK_CUR);
    up->seekable = up->start_off != (off_t)-1;
    if (fstat(up->fd, &sb) == 0 && S_ISREG(sb.st_mode) && up->seekable)
        up->size = (int64_t)(sb.st_size - up->start_off);
    else
        up->size = declared;
    up->rewindable = up->seekable;
}

static argot_status open_source(argot__upload *up, const argot_upload_source *src)
{
    switch (src->kind) {
    case ARGOT_SOURCE_PATH:
        if (src->path == NULL)
            return ARGOT_E_INVALID;
        up->fd = open(src->path, O_RDONLY | O_CLOEXEC);
        if (up->fd < 0) {
            up->io_errno = errno;
            return ARGOT_E_IO;
        }
        up->own_fd = 1;
        size_from_fd(up, -1);
        return ARGOT_OK;
    case ARGOT_SOURCE_FD:
        if (src->fd < 0)
            return ARGOT_E_INVALID;
        up->fd = src->fd;
        size_from_fd(up, src->size);
        return ARGOT_OK;
    case ARGOT_SOURCE_MEMORY:
        if (src->data == NULL && src->len > 0)
            return ARGOT_E_INVALID;
        up->size = (int64_t)src->len;
        up->rewindable = 1;
        return ARGOT_OK;
    case ARGOT_SOURCE_CALLBACK:
        if (src->read == NULL)
            return ARGOT_E_INVALID;
        up->size = src->size;
        up->rewindable = src->rewind != NULL;
        return ARGOT_OK;
    case ARGOT_SOURCE_NONE:
        break;
    }
    return ARGOT_E_INVALID;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s != NULL ? s + 1 : path;
}

static void upload_init(argot__upload *up, const argot_upload_source *src)
{
    memset(up, 0, sizeof(*up));
    up->src = src;
    up->fd = -1;
    up->size = -1;
    up->field = "file";
    up->name = "upload";
    if (src->kind == ARGOT_SOURCE_PATH && src->path != NULL && base_name(src->path)[0] != '\0')
        up->name = base_name(src->path);
}

argot_status argot__upload_open(argot__upload *up, const argot_create_file_request *req)
{
    upload_init(up, &req->file);
    up->req = req;
    if (req->filename != NULL && req->filename[0] != '\0')
        up->name = req->filename;
    return open_source(up, &req->file);
}

/* Restricts an opened PATH/FD source to [offset, offset + length) of a regular file. */
static argot_status set_range(argot__upload *up, uint64_t offset, int64_t length)
{
    struct stat sb;

    if (fstat(up->fd, &sb) != 0) {
        up->io_errno = errno;
        return ARGOT_E_IO;
    }
    if (!S_ISREG(sb.st_mode) || offset > (uint64_t)sb.st_size)
        return ARGOT_E_INVALID;
    if (length < 0)
        length = (int64_t)((uint64_t)sb.st_size - offset);
    if ((uint64_t)length > (uint64_t)sb.st_size - offset)
        return ARGOT_E_INVALID;
    up->ranged = 1;
    up->range_off = offset;
    up->size = length;
    up->rewindable = 1;
    return ARGOT_OK;
}

argot_status argot__upload_open_part(argot__upload *up,
                                     const argot_upload_source *src,
                                     uint64_t offset,
                                     int64_t length)
{
    argot_status st;
    int file_kind = src->kind == ARGOT_SOURCE_PATH || src->kind == ARGOT_SOURCE_FD;

    upload_init(up, src);
    up->field = "data";
    if (src->kind != ARGOT_SOURCE_PATH)
        up->name = "blob";
    if (!file_kind && (offset != 0 || length >= 0))
        return ARGOT_E_INVALID;
    st = open_source(up, src);
    if (st == ARGOT_OK && file_kind && (offset != 0 || length >= 0))
        st = set_range(up, offset, length);
    return st;
}

void argot__upload_close(argot__upload *up)
{
    if (up->own_fd && up->fd >= 0)
        close(up->fd);
    up->fd = -1;
    up->own_fd = 0;
}

static size_t read_fd(argot__upload *up, char *buf, size_t len)
{
    ssize_t n;
    uint64_t left = (uint64_t)up->size - up->pos;

    if (up->ranged && len > left)
        len = (size_t)left;
    if (up->ranged && len == 0)
        return 0;
    do {
        if (up->ranged)
            n = pread(up->fd, buf, len, (off_t)(up->range_off + up->pos));
        else
            n = read(up->fd, buf, len);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        up->io_errno = errno;
        return CURL_READFUNC_ABORT;
    }
    return (size_t)n;
}

static size_t on_read(char *buf, size_t size, size_t nitems, void *ud)
{
    argot__upload *up = ud;
    const argot_upload_source *src = up->src;
    size_t len = size * nitems, n;

    switch (src->kind) {
    case ARGOT_SOURCE_MEMORY:
        n = src->len - (size_t)up->pos;
        if (n > len)
            n = len;
        memcpy(buf, (const char *)src->data + up->pos, n);
        break;
    case ARGOT_SOURCE_CALLBACK:
        n = src->read(buf, len, src->userdata);
        if (n == ARGOT_READ_ERROR || n > len) {
            up->aborted = 1;
            return CURL_READFUNC_ABORT;
        }
        break;
    default:
        n = read_fd(up, buf, len);
        if (n == CURL_READFUNC_ABORT)
            return n;
        break;
    }
    up->pos += n;
    return n;
}

static int seek_to(argot__upload *up, uint64_t offset)
{
    const argot_upload_source *src = up->src;

    if (up->ranged) {
        if (offset > (uint64_t)up->size)
            return -1;
        up->pos = offset;
        return 0;
    }
    switch (src->kind) {
    case ARGOT_SOURCE_MEMORY:
        if (offset > src->len)
            return -1;
        break;
    case ARGOT_SOURCE_CALLBACK:
        if (offset != 0 || src->rewind == NULL || src->rewind(src->userdata) != 0)
            return -1;
        break;
    default:
        if (!up->seekable || lseek(up->fd, up->start_off + (off_t)offset, SEEK_SET) == (off_t)-1)
            return -1;
        break;
    }
    up->pos = offset;
    return 0;
}

static int on_seek(void *ud, curl_off_t offset, int origin)
{
    if (origin != SEEK_SET || offset < 0)
        return CURL_SEEKFUNC_CANTSEEK;
    return seek_to(ud, (uint64_t)offset) == 0 ? CURL_SEEKFUNC_OK : CURL_SEEKFUNC_CANTSEEK;
}

int argot__upload_rewind(argot__upload *up)
{
    if (up->pos == 0)
        return 0;
    if (!up->rewindable)
        return -1;
    return seek_to(up, 0);
}

static argot_status add_field(curl_mime *mime, const char *name, const char *value)
{
    curl_mimepart *p = curl_mime_addpart(mime);
    if (p == NULL || curl_mime_name(p, name) != CURLE_OK ||
        curl_mime_data(p, value, CURL_ZERO_TERMINATED) != CURLE_OK)
        return ARGOT_E_NOMEM;
    return ARGOT_OK;
}

static argot_status add_file_part(curl_mime *mime, argot__upload *up)
{
    curl_mimepart *p = curl_mime_addpart(mime);
    curl_off_t size = up->size >= 0 ? (curl_off_t)up->size : -1;

    if (p == NULL || curl_mime_name(p, up->field) != CURLE_OK ||
        curl_mime_filename(p, up->name) != CURLE_OK ||
        curl_mime_type(p, "application/octet-stream") != CURLE_OK ||
        curl_mime_data_cb(p, size, on_read, on_seek, NULL, up) != CURLE_OK)
        return ARGOT_E_NOMEM;
    return ARGOT_OK;
}

argot_status argot__upload_mime(curl_mime **out, CURL *curl, argot__upload *up)
{
    const argot_create_file_request *req = up->req;
    curl_mime *mime = curl_mime_init(curl);
    char secs[32];
    argot_status st = ARGOT_OK;

    *out = mime;
    if (mime == NULL)
        return ARGOT_E_NOMEM;
    if (req != NULL)
        st = add_field(mime, "purpose", req->purpose);
    if (st == ARGOT_OK && req != NULL && req->expires_after > 0) {
        snprintf(secs, sizeof(secs), "%lld", (long long)req->expires_after);
        st = add_field(mime, "expires_after[anchor]", "created_at");
        if (st == ARGOT_OK)
            st = add_field(mime, "expires_after[seconds]", secs);
    }
    if (st == ARGOT_OK)
        st = add_file_part(mime, up);
    return st;
}
