/* argot uploads complete UPLOAD_ID PART_ID... [--md5 HEX] */
#include "cli.h"

int cmd_uploads_complete(cli_ctx *ctx, const char *const *pos)
{
    argot_complete_upload_request cr = ARGOT_COMPLETE_UPLOAD_REQUEST_INIT;
    argot_upload *u = NULL;
    argot_status st;
    size_t n = 0;

    while (pos[1 + n] != NULL)
        n++;
    cr.upload_id = pos[0];
    cr.part_ids = pos + 1;
    cr.part_count = n;
    cr.md5 = ctx->args->values[OPT_MD5];
    st = argot_uploads_complete(&u, ctx->client, &cr, NULL);
    if (st != ARGOT_OK)
        return cli_fail(ctx, st);
    cli_print_upload_result(ctx, u);
    if (!ctx->json && !ctx->quiet && u->file != NULL) {
        printf("\n");
        cli_print_file(u->file);
    }
    argot_upload_free(u);
    return CLI_EXIT_OK;
}
