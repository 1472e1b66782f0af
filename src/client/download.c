/*
 * Download sinks: a memory buffer, a path, a file descriptor or a write callback. Only bytes of
 * a 2xx response reach a sink. A path is created lazily (a 404 leaves no empty file behind) and
 * removed again if the download fails.
 */
#include "client/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

argot_status argot__sink_init(argot__sink *s, const argot_download_sink *spec)
{
    size_t max = spec->max_buffer != 0 ? spec->max_buffer : ARGOT__DEFAULT_DOWNLOAD_BUFFER;

    memset(s, 0, sizeof(*s));
    s->spec = spec;
    s->fd = -1;
    argot_buf_init(&s->buf, max);
    switch (spec->kind) {
    case ARGOT_SINK_BUFFER:
        return ARGOT_OK;
    case ARGOT_SINK_PATH:
        return spec->path != NULL && spec->path[0] != '\0' ? ARGOT_OK : ARGOT_E_INVALID;
    case ARGOT_SINK_FD:
        if (spec->fd < 0)
            return ARGOT_E_INVALID;
        s->fd = spec->fd;
        s->start_off = lseek(s->fd, 0, SEEK_CUR);
        s->seekable = s->start_off != (off_t)-1;
        return ARGOT_OK;
    case ARGOT_SINK_CALLBACK:
        return spec->write != NULL ? ARGOT_OK : ARGOT_E_INVALID;
    }
    return ARGOT_E_INVALID;
}

static int open_path(argot__sink *s)
{
    s->fd = open(s->spec->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (s->fd < 0) {
        s->io_errno = errno;
        return -1;
    }
    s->own_fd = 1;
    s->created = 1;
    s->seekable = 1;
    s->start_off = 0;
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
        if (!s->seekable || lseek(s->fd, s->start_off, SEEK_SET) == (off_t)-1 ||
            ftruncate(s->fd, s->start_off) != 0)
            return -1;
        break;
    }
    s->written = 0;
    return 0;
}

argot_status argot__sink_finish(argot__sink *s, int ok)
{
    argot_status st = ARGOT_OK;

    if (s->spec->kind == ARGOT_SINK_PATH && ok && s->fd < 0 && open_path(s) != 0)
        st = ARGOT_E_IO; /* an empty file still has to exist */
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
