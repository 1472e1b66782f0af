/*
 * argot files download ID [-o PATH|-] [--continue] [--limit-rate RATE] (alias content): streams
 * the bytes, never buffers them. With --continue an existing PATH is resumed from its size:
 * libargot asks for the rest (Range: bytes=SIZE-) and appends it, or starts PATH over if the
 * server sends the whole file instead; an interrupted transfer is retried from the last byte.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The partial file of a --continue: opened for writing at its end. */
typedef struct partial {
    const char *path;
    int fd;
    int created;   /* it did not exist: removed again if the download fails before a byte */
    uint64_t have; /* bytes it held */
} partial;

static int sys_fail(const char *what, const char *path, int err)
{
    fprintf(stderr, "argot: cannot %s %s: %s\n", what, path, strerror(err));
    return CLI_EXIT_ERROR;
}

static int partial_open(partial *p)
{
    struct stat sb;
    int missing = stat(p->path, &sb) != 0;

    if (missing && errno != ENOENT)
        return sys_fail("read", p->path, errno);
    /* Checked before open(): opening a FIFO for writing would block until a reader comes. */
    if (!missing && !S_ISREG(sb.st_mode)) {
        fprintf(stderr, "argot: cannot resume %s: not a regular file\n", p->path);
        return CLI_EXIT_ERROR;
    }
    p->created = missing;
    p->fd = open(p->path, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
    if (p->fd < 0)
        return sys_fail("open", p->path, errno);
    if (fstat(p->fd, &sb) != 0 || lseek(p->fd, 0, SEEK_END) == (off_t)-1) {
        int err = errno;
        close(p->fd);
        return sys_fail("read", p->path, err);
    }
    p->have = (uint64_t)sb.st_size;
    return 0;
}

/* After a failure: a file this run created and left empty goes (a 404 leaves no file). */
static void partial_drop_if_empty(const partial *p)
{
    struct stat sb;
    if (p->created && stat(p->path, &sb) == 0 && sb.st_size == 0)
        unlink(p->path);
}

static int continue_fail(cli_ctx *ctx, const partial *p, const char *id, argot_status st)
{
    const argot_error *e = argot_client_last_error(ctx->client);

    partial_drop_if_empty(p);
    if (st == ARGOT_E_RANGE && e->http_status == 416) {
        fprintf(stderr,
                "argot: %s has %llu bytes, more than %s on the server: it is not a partial "
                "download of it; remove it or download without --continue\n",
                p->path, (unsigned long long)p->have, id);
        return CLI_EXIT_ERROR;
    }
    if (st == ARGOT_E_IO && e->os_errno != 0)
        return sys_fail("write", p->path, e->os_errno);
    return cli_fail(ctx, st);
}

static void continue_report(const cli_ctx *ctx, const partial *p, const argot_download *d)
{
    if (ctx->quiet)
        return;
    if (d->already_complete)
        fprintf(stderr, "argot: %s is already complete (%llu bytes)\n", p->path,
                (unsigned long long)p->have);
    else if (d->restarted && p->have > 0)
        fprintf(stderr,
                "argot: the server sent the whole file: rewrote %s from the start (%llu bytes)\n",
                p->path, (unsigned long long)d->bytes);
    else if (p->have > 0)
        fprintf(stderr, "argot: resumed %s at byte %llu: wrote %llu bytes (%llu in all)\n", p->path,
                (unsigned long long)p->have, (unsigned long long)d->bytes,
                (unsigned long long)(d->offset + d->bytes));
    else
        fprintf(stderr, "argot: wrote %llu bytes to %s\n", (unsigned long long)d->bytes, p->path);
}

static int download_continue(cli_ctx *ctx, argot_download_file_request *q, const char *path)
{
    partial p = {path, -1, 0, 0};
    argot_download *d = NULL;
    argot_status st;
    int rc = partial_open(&p);

    if (rc != 0)
        return rc;
    q->sink.kind = ARGOT_SINK_FD;
    q->sink.fd = p.fd;
    q->offset = p.have;
    st = argot_files_download_file(&d, ctx->client, q, NULL);
    if (close(p.fd) != 0 && st == ARGOT_OK) {
        argot_download_free(d);
        return sys_fail("write", path, errno);
    }
    if (st != ARGOT_OK)
        return continue_fail(ctx, &p, q->file_id, st);
    cli_progress_end();
    continue_report(ctx, &p, d);
    argot_download_free(d);
    return CLI_EXIT_OK;
}

static int download_plain(cli_ctx *ctx, argot_download_file_request *q, const char *out)
{
    argot_download *d = NULL;
    argot_status st;
    int to_stdout = out == NULL || strcmp(out, "-") == 0;

    if (to_stdout) {
        fflush(stdout);
        q->sink.kind = ARGOT_SINK_FD;
        q->sink.fd = STDOUT_FILENO;
    } else {
        q->sink.kind = ARGOT_SINK_PATH;
        q->sink.path = out;
    }
    st = argot_files_download_file(&d, ctx->client, q, NULL);
    if (st != ARGOT_OK)
        return cli_fail(ctx, st);
    cli_progress_end();
    if (!to_stdout && !ctx->quiet)
        fprintf(stderr, "argot: wrote %llu bytes to %s\n", (unsigned long long)d->bytes, out);
    argot_download_free(d);
    return CLI_EXIT_OK;
}

int cmd_content(cli_ctx *ctx, const char *const *pos)
{
    const char *out = ctx->args->values[OPT_OUTPUT];
    const char *rate = ctx->args->values[OPT_LIMIT_RATE];
    argot_download_file_request q = ARGOT_DOWNLOAD_FILE_REQUEST_INIT;
    unsigned long long speed = 0;

    if (rate != NULL && cli_parse_size(rate, 1ull << 50, &speed) != 0)
        return cli_usage_error("--limit-rate must be a byte count per second, e.g. 500K or 8M");
    q.file_id = pos[0];
    q.max_recv_speed = speed;
    if (ctx->progress)
        q.progress = cli_progress;
    if (ctx->args->values[OPT_CONTINUE] == NULL)
        return download_plain(ctx, &q, out);
    if (out == NULL || strcmp(out, "-") == 0)
        return cli_usage_error("--continue needs -o PATH: standard output cannot be resumed");
    return download_continue(ctx, &q, out);
}
