/* argot uploads add-part UPLOAD_ID PATH [--offset N] [--length N] */
#include "cli.h"

int cmd_uploads_add_part(cli_ctx *ctx, const char *const *pos)
{
    const char **v = ctx->args->values;
    argot_add_upload_part_request pr = ARGOT_ADD_UPLOAD_PART_REQUEST_INIT;
    argot_upload_part *p = NULL;
    argot_status st;
    long long n;

    if (v[OPT_OFFSET] != NULL) {
        if (cli_parse_long(v[OPT_OFFSET], 0, 9223372036854775807LL, &n) != 0)
            return cli_usage_error("--offset must be a number of bytes");
        pr.offset = (uint64_t)n;
    }
    if (v[OPT_LENGTH] != NULL) {
        if (cli_parse_long(v[OPT_LENGTH], 0, (long long)ARGOT_UPLOAD_MAX_PART_SIZE, &n) != 0)
            return cli_usage_error("--length must be a number of bytes up to 67108864 (64 MiB)");
        pr.length = n;
    }
    pr.upload_id = pos[0];
    pr.data.kind = ARGOT_SOURCE_PATH;
    pr.data.path = pos[1];
    if (ctx->progress)
        pr.progress = cli_progress;
    st = argot_uploads_add_part(&p, ctx->client, &pr, NULL);
    if (st != ARGOT_OK)
        return cli_fail(ctx, st);
    cli_progress_end();
    if (ctx->json)
        printf("%s\n", p->json);
    else if (ctx->quiet)
        printf("%s\n", p->id);
    else
        cli_print_part(p);
    argot_upload_part_free(p);
    return CLI_EXIT_OK;
}
