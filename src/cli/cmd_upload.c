/*
 * argot files upload PATH --purpose P [--filename NAME] [--expires-after SECONDS]
 *                         [--parts] [--part-size SIZE] [--parallel N] [--mime-type TYPE]
 *
 * Up to 512 MiB (the Files API's limit) one POST /files; above it, or with --parts, the
 * Uploads API through argot_uploads_upload_file(). The output is the File either way.
 */
#include "cli.h"

#include <sys/stat.h>

#define SINGLE_REQUEST_MAX ((long long)512 * 1024 * 1024)

static int use_parts(cli_ctx *ctx, const char *path)
{
    struct stat sb;
    if (ctx->args->values[OPT_PARTS] != NULL)
        return 1;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode) &&
           (long long)sb.st_size > SINGLE_REQUEST_MAX;
}

static int parts_options(cli_ctx *ctx, argot_upload_file_request *ur)
{
    const char **v = ctx->args->values;
    unsigned long long size;
    long long n;

    if (v[OPT_PART_SIZE] != NULL) {
        if (cli_parse_size(v[OPT_PART_SIZE], ARGOT_UPLOAD_MAX_PART_SIZE, &size) != 0)
            return cli_usage_error("--part-size must be from 1 byte to 64M (64 MiB)");
        ur->part_size = size;
    }
    if (v[OPT_PARALLEL] != NULL) {
        if (cli_parse_long(v[OPT_PARALLEL], 1, ARGOT_UPLOAD_MAX_PARALLEL, &n) != 0)
            return cli_usage_error("--parallel must be a number from 1 to %u",
                                   ARGOT_UPLOAD_MAX_PARALLEL);
        ur->parallel = (unsigned)n;
    }
    return 0;
}

static int upload_parts(cli_ctx *ctx, const char *path, int64_t expires_after)
{
    const char **v = ctx->args->values;
    argot_upload_file_request ur = ARGOT_UPLOAD_FILE_REQUEST_INIT;
    argot_upload *u = NULL;
    argot_status st;

    (void)parts_options(ctx, &ur); /* already validated by cmd_upload() */
    ur.path = path;
    ur.purpose = v[OPT_PURPOSE];
    ur.filename = v[OPT_FILENAME];
    ur.mime_type = v[OPT_MIME_TYPE];
    ur.expires_after = expires_after;
    if (ctx->progress)
        ur.progress = cli_progress;
    st = argot_uploads_upload_file(&u, ctx->client, &ur, NULL);
    if (st != ARGOT_OK)
        return cli_fail(ctx, st);
    cli_progress_end();
    if (u->file == NULL) {
        fprintf(stderr, "argot: the completed upload %s has no file\n", u->id);
        argot_upload_free(u);
        return CLI_EXIT_ERROR;
    }
    cli_print_file_result(ctx, u->file);
    argot_upload_free(u);
    return CLI_EXIT_OK;
}

static int upload_single(cli_ctx *ctx, const char *path, int64_t expires_after)
{
    const char **v = ctx->args->values;
    argot_create_file_request cr = ARGOT_CREATE_FILE_REQUEST_INIT;
    argot_file *f = NULL;
    argot_status st;

    cr.file.kind = ARGOT_SOURCE_PATH;
    cr.file.path = path;
    cr.purpose = v[OPT_PURPOSE];
    cr.filename = v[OPT_FILENAME];
    cr.expires_after = expires_after;
    if (ctx->progress)
        cr.progress = cli_progress;
    st = argot_files_create_file(&f, ctx->client, &cr, NULL);
    if (st != ARGOT_OK)
        return cli_fail(ctx, st);
    cli_progress_end();
    cli_print_file_result(ctx, f);
    argot_file_free(f);
    return CLI_EXIT_OK;
}

int cmd_upload(cli_ctx *ctx, const char *const *pos)
{
    const char **v = ctx->args->values;
    argot_upload_file_request check = ARGOT_UPLOAD_FILE_REQUEST_INIT;
    long long secs = 0;
    int rc;

    if (v[OPT_PURPOSE] == NULL)
        return cli_usage_error("upload needs --purpose");
    if (v[OPT_EXPIRES_AFTER] != NULL &&
        cli_parse_long(v[OPT_EXPIRES_AFTER], 1, 1000000000LL, &secs) != 0)
        return cli_usage_error("--expires-after must be a positive number of seconds");
    rc = parts_options(ctx, &check); /* validated even when the file turns out small */
    if (rc != 0)
        return rc;
    if (use_parts(ctx, pos[0]))
        return upload_parts(ctx, pos[0], secs);
    return upload_single(ctx, pos[0], secs);
}
