/* argot files download ID [-o PATH|-] (alias content): streams the bytes, never buffers them. */
#include "cli.h"

#include <string.h>
#include <unistd.h>

int cmd_content(cli_ctx *ctx, const char *const *pos)
{
    const char *out = ctx->args->values[OPT_OUTPUT];
    argot_download_file_request q = ARGOT_DOWNLOAD_FILE_REQUEST_INIT;
    argot_download *d = NULL;
    argot_status st;
    int to_stdout = out == NULL || strcmp(out, "-") == 0;

    q.file_id = pos[0];
    if (to_stdout) {
        fflush(stdout);
        q.sink.kind = ARGOT_SINK_FD;
        q.sink.fd = STDOUT_FILENO;
    } else {
        q.sink.kind = ARGOT_SINK_PATH;
        q.sink.path = out;
    }
    if (ctx->progress)
        q.progress = cli_progress;
    st = argot_files_download_file(&d, ctx->client, &q, NULL);
    if (st != ARGOT_OK)
        return cli_fail(ctx, st);
    cli_progress_end();
    if (!to_stdout && !ctx->quiet)
        fprintf(stderr, "argot: wrote %llu bytes to %s\n", (unsigned long long)d->bytes, out);
    argot_download_free(d);
    return CLI_EXIT_OK;
}
