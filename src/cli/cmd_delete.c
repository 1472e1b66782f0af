/* argot files delete ID */
#include "cli.h"

int cmd_delete(cli_ctx *ctx, const char *const *pos)
{
    argot_delete_file_request q = ARGOT_DELETE_FILE_REQUEST_INIT;
    argot_file_deleted *d = NULL;
    argot_status st;

    q.file_id = pos[0];
    st = argot_files_delete_file(&d, ctx->client, &q, NULL);
    if (st != ARGOT_OK)
        return cli_fail(ctx, st);
    if (ctx->json)
        printf("%s\n", d->json);
    else if (!ctx->quiet)
        printf("deleted %s\n", d->id);
    argot_file_deleted_free(d);
    return CLI_EXIT_OK;
}
