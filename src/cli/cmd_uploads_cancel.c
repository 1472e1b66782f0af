/* argot uploads cancel UPLOAD_ID */
#include "cli.h"

int cmd_uploads_cancel(cli_ctx *ctx, const char *const *pos)
{
    argot_cancel_upload_request cr = ARGOT_CANCEL_UPLOAD_REQUEST_INIT;
    argot_upload *u = NULL;
    argot_status st;

    cr.upload_id = pos[0];
    st = argot_uploads_cancel(&u, ctx->client, &cr, NULL);
    if (st != ARGOT_OK)
        return cli_fail(ctx, st);
    cli_print_upload_result(ctx, u);
    argot_upload_free(u);
    return CLI_EXIT_OK;
}
