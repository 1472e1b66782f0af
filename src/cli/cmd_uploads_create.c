/* argot uploads create --filename NAME --purpose P --bytes N [--mime-type T] [--expires-after S] */
#include "cli.h"

int cmd_uploads_create(cli_ctx *ctx, const char *const *pos)
{
    const char **v = ctx->args->values;
    argot_create_upload_request cr = ARGOT_CREATE_UPLOAD_REQUEST_INIT;
    argot_upload *u = NULL;
    argot_status st;
    long long n;

    (void)pos;
    if (v[OPT_FILENAME] == NULL || v[OPT_PURPOSE] == NULL || v[OPT_BYTES] == NULL)
        return cli_usage_error("uploads create needs --filename, --purpose and --bytes");
    if (cli_parse_long(v[OPT_BYTES], 0, 9223372036854775807LL, &n) != 0)
        return cli_usage_error("--bytes must be a number of bytes");
    cr.bytes = n;
    if (v[OPT_EXPIRES_AFTER] != NULL) {
        if (cli_parse_long(v[OPT_EXPIRES_AFTER], 1, 1000000000LL, &n) != 0)
            return cli_usage_error("--expires-after must be a positive number of seconds");
        cr.expires_after = n;
    }
    cr.filename = v[OPT_FILENAME];
    cr.purpose = v[OPT_PURPOSE];
    cr.mime_type = v[OPT_MIME_TYPE] != NULL ? v[OPT_MIME_TYPE] : argot_mime_type_guess(cr.filename);
    st = argot_uploads_create(&u, ctx->client, &cr, NULL);
    if (st != ARGOT_OK)
        return cli_fail(ctx, st);
    cli_print_upload_result(ctx, u);
    argot_upload_free(u);
    return CLI_EXIT_OK;
}
