/* argot files get ID (alias retrieve) */
#include "cli.h"

int cmd_get(cli_ctx *ctx, const char *const *pos)
{
    argot_retrieve_file_request q = ARGOT_RETRIEVE_FILE_REQUEST_INIT;
    argot_file *f = NULL;
    argot_status st;

    q.file_id = pos[0];
    st = argot_files_retrieve_file(&f, ctx->client, &q, NULL);
    if (st != ARGOT_OK)
        return cli_fail(ctx, st);
    cli_print_file_result(ctx, f);
    argot_file_free(f);
    return CLI_EXIT_OK;
}
