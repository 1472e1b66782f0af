/*
 * Download sinks: a memory buffer, a path, a file descriptor or a write callback. Only bytes of
 * a 2xx response reach a sink. A path is created lazily (a 404 leaves no empty file behind) and
 * removed again if the download fails, except when it is a resume (offset > 0): then it must
 * exist, holds the first offset bytes, and is kept whatever happens. What to ask for and how to
 * read the answers is resume.c.
 */
#include "client/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A resumed path must be a regular file of at least offset bytes: anything shorter would get
 * a hole of zeros in front of the new bytes. */
static argot_status check_resume_path(argot_client *c, argot__sink *s)
{
    const char *path = s->spec->path;
    struct stat sb;

    if (stat(path, &sb) != 0) {
        c->err.os_errno = errno;
        return argot__error_set(c, ARGOT_E_INVALID, "cannot resume %s: %s", path, strerror(errno));
    }
    if (!S_ISREG(sb.st_mode))
        return argot__error_set(c, ARGOT_E_INVALID, "cannot resume %s: not a regular file", path);
    if ((uint64_t)sb.st_size < s->offset)
        return argot__error_set(c, ARGOT_E_INVALID,
                                "cannot resume %s at byte %llu: it has only %lld bytes", path,
                                (unsigned long long)s->offset, (long long)sb.st_size);
    s->resume = 1;
    return ARGOT_OK;
}

static argot_status init_kind(argot_client *c, argot__sink *s, const argot_download_sink *spec)
{
    switch (spec->kind) {
    case ARGOT_SINK_BUFFER:
        return ARGOT_OK;
    case ARGOT_SINK_PATH:
        if (spec->path == NULL || spec->path[0] == '\0')
            return ARGOT_E_INVALID;
        return s->offset > 0 ? check_resume_path(c, s) : ARGOT_OK;
    case ARGOT_SINK_FD:
        if (spec->fd < 0)
            return ARGOT_E_INVALID;
        s->fd = spec->fd;
        s->base_pos = lseek(s->fd, 0, SEEK_CUR);
        s->seekable = s->base_pos != (off_t)-1;
        return ARGOT_OK;
    case ARGOT_SINK_CALLBACK:
        return spec->write != NULL ? ARGOT_OK : ARGOT_E_INVALID;
    }
    return ARGOT_E_INVALID;
}

argot_status argot__sink_init(argot_client *c,
                              argot__sink *s,
                              const argot_download_file_request *req)
{
    const argot_download_sink *spec = &req->sink;
    size_t max = spec->max_buffer != 0 ? spec->max_buffer : ARGOT__DEFAULT_DOWNLOAD_BUFFER;

    memset(s, 0, sizeof(*s));
    s->spec = spec;
    s->fd = -1;
    s->offset = s->req_offset = req->offset;
    s->length = req->length;
    s->if_range = req->if_range;
    s->size = -1;
    argot_buf_init(&s->buf, max);
    if (req->length == 0 || req->length < -1)
        return argot__error_set(c, ARGOT_E_INVALID, "length must be -1 or above 0");
    return argot__error_set(c, init_kind(c, s, spec), "invalid download sink");
}

/* Opens the path when the first byte arrives (or at the end of an empty download). A resume
 * opens the existing file and cuts it to offset bytes; otherwise it is created or truncated. */
static int open_path(argot__sink *s)
{
    int flags = O_WRONLY | O_CLOEXEC | (s->resume ? 0 : O_CREAT | O_TRUNC);

    s->fd = open(s->spec->path, flags, 0666);
    if (s->fd < 0) {
        s->io_errno = errno;
        return -1;
    }
    s->own_fd = 1;
    s->created = !s->resume;
    s->seekable = 1;
    s->base_pos = (off_t)s->offset;
    if (s->resume &&
        (ftruncate(s->fd, s->base_pos) != 0 || lseek(s->fd, s->base_pos, SEEK_SET) == (off_t)-1)) {
        s->io_errno = errno;
        return -1;
    }
    return 0;
}

static int write_all(argot__sink *s, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(s->fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            s->io_errno = n < 0 ? errno : EIO;
            return -1;
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

int argot__sink_write(argot__sink *s, const char *data, size_t len)
{
    int rc;

    switch (s->spec->kind) {
    case ARGOT_SINK_BUFFER:
        rc = argot_buf_put(&s->buf, data, len);
        if (rc == ARGOT_BUF_TOOBIG)
            s->too_large = 1;
        else if (rc != ARGOT_BUF_OK)
            s->io_errno = ENOMEM;
        if (rc != ARGOT_BUF_OK)
            return -1;
        break;
    case ARGOT_SINK_CALLBACK:
        if (s->spec->write(data, len, s->spec->userdata) != 0) {
            s->aborted = 1;
            return -1;
        }
        break;
    default:
        if (s->fd < 0 && open_path(s) != 0)
            return -1;
        if (write_all(s, data, len) != 0)
            return -1;
        break;
    }
    s->written += len;
    return 0;
}

/* Seeks an open fd back to pos and cuts the file there. */
static int cut_at(argot__sink *s, off_t pos)
{
    if (!s->seekable || lseek(s->fd, pos, SEEK_SET) == (off_t)-1 || ftruncate(s->fd, pos) != 0)
        return -1;
    return 0;
}

int argot__sink_restart(argot__sink *s)
{
    if (s->written == 0)
        return 0;
    switch (s->spec->kind) {
    case ARGOT_SINK_BUFFER:
        argot_buf_reset(&s->buf);
        break;
    case ARGOT_SINK_CALLBACK:
        return -1;
    default:
        if (cut_at(s, s->base_pos) != 0)
            return -1;
        break;
    }
    s->written = 0;
    return 0;
}

int argot__sink_rewind(argot__sink *s)
{
    if (s->offset == 0)
        return argot__sink_restart(s);
    switch (s->spec->kind) {
    case ARGOT_SINK_BUFFER:
        argot_buf_reset(&s->buf);
        break;
    case ARGOT_SINK_CALLBACK:
        return -1;
    case ARGOT_SINK_PATH:
        if (s->fd >= 0 && cut_at(s, 0) != 0)
            return -1;
        s->base_pos = 0; /* a path not opened yet is cut to 0 bytes when it is */
        break;
    case ARGOT_SINK_FD:
        if (s->base_pos < (off_t)s->offset || cut_at(s, s->base_pos - (off_t)s->offset) != 0)
            return -1;
        s->base_pos -= (off_t)s->offset;
        break;
    }
    s->offset = 0;
    s->written = 0;
    return 0;
}

argot_status argot__sink_finish(argot__sink *s, int ok)
{
    argot_status st = ARGOT_OK;

    /* An empty file still has to exist; a resume that got nothing keeps its file as it is,
     * unless the server sent an empty whole file (restarted: it is cut to 0 bytes). */
    if (s->spec->kind == ARGOT_SINK_PATH && ok && s->fd < 0 && (!s->resume || s->offset == 0) &&
        open_path(s) != 0)
        st = ARGOT_E_IO;
    if (s->own_fd && s->fd >= 0 && close(s->fd) != 0 && ok && st == ARGOT_OK) {
        s->io_errno = errno;
        st = ARGOT_E_IO;
    }
    s->fd = -1;
    s->own_fd = 0;
    if ((!ok || st != ARGOT_OK) && s->created)
        unlink(s->spec->path);
    return st;
}

void argot__sink_free(argot__sink *s)
{
    if (s->own_fd && s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    argot_buf_free(&s->buf);
}
