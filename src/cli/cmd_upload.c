/* argot files upload PATH --purpose P [--filename NAME] [--expires-after SECONDS] */
#include "cli.h"

int cmd_upload(cli_ctx *ctx, const char *const *pos)
{
    const char **v = ctx->args->values;
    argot_create_file_request cr = ARGOT_CREATE_FILE_REQUEST_INIT;
    argot_file *f = NULL;
    argot_status st;
    long long secs;

    if (v[OPT_PURPOSE] == NULL)
        return cli_usage_error("upload needs --purpose");
    if (v[OPT_EXPIRES_AFTER] != NULL) {
        if (cli_parse_long(v[OPT_EXPIRES_AFTER], 1, 1000000000LL, &secs) != 0)
            return cli_usage_error("--expires-after must be a positive number of seconds");
        cr.expires_after = secs;
    }
    cr.file.kind = ARGOT_SOURCE_PATH;
    cr.file.path = pos[0];
    cr.purpose = v[OPT_PURPOSE];
    cr.filename = v[OPT_FILENAME];
    if (ctx->progress)
        cr.progress = cli_progress;
    st = argot_files_create_file(&f, ctx->client, &cr, NULL);
    if (st != ARGOT_OK)
        return cli_fail(ctx, st);
    cli_progress_end();
    if (ctx->json)
        printf("%s\n", f->json);
    else if (ctx->quiet)
        printf("%s\n", f->id);
    else
        cli_print_file(f);
    argot_file_free(f);
    return CLI_EXIT_OK;
}
