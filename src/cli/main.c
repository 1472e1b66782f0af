/*
 * argot: command-line client for the OpenAI Files and Uploads APIs, on libargot.
 *
 *   argot [global options] files <command> [arguments] [options]
 *   argot [global options] uploads <command> [arguments] [options]
 *
 * Exit codes: 0 ok, 1 API or runtime error, 2 usage.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const int list_opts[] = {OPT_PURPOSE, OPT_LIMIT, OPT_ORDER, OPT_AFTER, OPT_ALL, -1};
static const int upload_opts[] = {OPT_PURPOSE,   OPT_FILENAME, OPT_EXPIRES_AFTER, OPT_PARTS,
                                  OPT_PART_SIZE, OPT_PARALLEL, OPT_MIME_TYPE,     -1};
static const int content_opts[] = {OPT_OUTPUT, OPT_CONTINUE, OPT_LIMIT_RATE, -1};
static const int ucreate_opts[] = {OPT_FILENAME,  OPT_PURPOSE,       OPT_BYTES,
                                   OPT_MIME_TYPE, OPT_EXPIRES_AFTER, -1};
static const int upart_opts[] = {OPT_OFFSET, OPT_LENGTH, -1};
static const int ucomplete_opts[] = {OPT_MD5, -1};
static const int no_opts[] = {-1};
/* uploads create takes no path: the table's "default: the path's basename" is not true here. */
static const cli_opt_note ucreate_notes[] = {
    {OPT_FILENAME, "name of the file the upload becomes (required)"},
    {OPT_PURPOSE, "file purpose, e.g. batch or fine-tune (required)"},
    {OPT_BYTES, "total size of the upload in bytes (required)"},
    {-1, NULL},
};

static const cli_cmd files_cmds[] = {
    {"list", NULL, "list [--purpose P] [--limit N] [--order asc|desc] [--after ID] [--all]",
     "List files", NULL, list_opts, 0, 0, cmd_list, NULL},
    {"upload", "create",
     "upload PATH --purpose P [--filename NAME] [--expires-after SECONDS] [--parts]\n"
     "                    [--part-size SIZE] [--parallel N] [--mime-type TYPE]",
     "Upload a file",
     "Files over 512 MiB, or any file with --parts, go through the Uploads API: one upload,\n"
     "parts of --part-size bytes sent over --parallel connections, each part retried on its\n"
     "own, the MD5 checked by the server; the output is the same File object.",
     upload_opts, 1, 1, cmd_upload, NULL},
    {"get", "retrieve", "get ID", "Show a file's metadata", NULL, no_opts, 1, 1, cmd_get, NULL},
    {"download", "content", "download ID [-o PATH|-] [--continue] [--limit-rate RATE]",
     "Download a file's content",
     "A transfer cut mid-way is retried from the last byte received when the server sent\n"
     "an ETag (argotd does), else from the start.\n"
     "With --continue an existing PATH is resumed from its size: only the rest is asked for\n"
     "and appended. If the server sends the whole file instead (it changed, or the server\n"
     "ignores ranges, as api.openai.com does), PATH is rewritten from the start. A complete\n"
     "PATH is left as it is (exit 0); one larger than the remote file is refused (exit 1).\n"
     "A failed --continue keeps what it wrote, ready for the next one.",
     content_opts, 1, 1, cmd_content, NULL},
    {"delete", NULL, "delete ID", "Delete a file", NULL, no_opts, 1, 1, cmd_delete, NULL},
};

static const cli_cmd uploads_cmds[] = {
    {"create", NULL,
     "create --filename NAME --purpose P --bytes N [--mime-type TYPE] [--expires-after SECONDS]",
     "Create an upload (status pending)", NULL, ucreate_opts, 0, 0, cmd_uploads_create,
     ucreate_notes},
    {"add-part", NULL, "add-part UPLOAD_ID PATH [--offset N] [--length N]",
     "Send one part (at most 64 MiB) read from PATH", NULL, upart_opts, 2, 2, cmd_uploads_add_part,
     NULL},
    {"complete", NULL, "complete UPLOAD_ID PART_ID... [--md5 HEX]",
     "Complete an upload with its parts in order", "Prints the completed upload and its file.",
     ucomplete_opts, 1, CLI_MAX_POS - 3, cmd_uploads_complete, NULL},
    {"cancel", NULL, "cancel UPLOAD_ID", "Cancel an upload", NULL, no_opts, 1, 1,
     cmd_uploads_cancel, NULL},
};

typedef struct cli_group {
    const char *name;
    const cli_cmd *cmds;
    size_t n;
    const char *summary;
} cli_group;

static const cli_group groups[] = {
    {"files", files_cmds, sizeof(files_cmds) / sizeof(files_cmds[0]), "the Files API"},
    {"uploads", uploads_cmds, sizeof(uploads_cmds) / sizeof(uploads_cmds[0]),
     "the Uploads API (raw calls; 'files upload --parts' does it all)"},
};
#define NGROUPS (sizeof(groups) / sizeof(groups[0]))

static void help_main(void)
{
    size_t g, i;
    printf("usage: argot [options] <files|uploads> <command> [arguments]\n\n"
           "Command-line client for the OpenAI Files and Uploads APIs (argotd or "
           "api.openai.com).\n\nCommands:\n");
    for (g = 0; g < NGROUPS; g++)
        for (i = 0; i < groups[g].n; i++) {
            const cli_cmd *c = &groups[g].cmds[i];
            char name[32];
            snprintf(name, sizeof(name), "%s %s", groups[g].name, c->name);
            printf("  %-16s %s%s%s%s\n", name, c->summary, c->alias ? " (alias: " : "",
                   c->alias ? c->alias : "", c->alias ? ")" : "");
        }
    printf("\nGlobal options (before or after the command words):\n");
    cli_print_opts(stdout, cli_global_opts, NULL);
    printf("\nExit status: 0 ok, 1 API or runtime error, 2 usage error.\n"
           "Run 'argot <files|uploads> <command> --help' for a command's options.\n");
}

static void help_group(const cli_group *g)
{
    size_t i;
    printf("usage: argot %s <command> [arguments] [options]\n\nCommands for %s:\n", g->name,
           g->summary);
    for (i = 0; i < g->n; i++)
        printf("  %s\n", g->cmds[i].usage);
    printf("\nGlobal options:\n");
    cli_print_opts(stdout, cli_global_opts, NULL);
}

static void help_cmd(const cli_group *g, const cli_cmd *c)
{
    printf("usage: argot %s %s\n\n%s%s%s%s.\n", g->name, c->usage, c->summary,
           c->alias ? " (alias: " : "", c->alias ? c->alias : "", c->alias ? ")" : "");
    if (c->detail != NULL)
        printf("\n%s\n", c->detail);
    if (c->opts[0] >= 0) {
        printf("\nOptions:\n");
        cli_print_opts(stdout, c->opts, c->notes);
    }
    printf("\nGlobal options:\n");
    cli_print_opts(stdout, cli_global_opts, NULL);
}

static const cli_group *find_group(const char *name)
{
    size_t i;
    for (i = 0; i < NGROUPS; i++)
        if (strcmp(groups[i].name, name) == 0)
            return &groups[i];
    return NULL;
}

static const cli_cmd *find_cmd(const cli_group *g, const char *name)
{
    size_t i;
    for (i = 0; i < g->n; i++)
        if (strcmp(g->cmds[i].name, name) == 0 ||
            (g->cmds[i].alias != NULL && strcmp(g->cmds[i].alias, name) == 0))
            return &g->cmds[i];
    return NULL;
}

static int allowed(const cli_cmd *c, int id)
{
    const int *p;
    for (p = cli_global_opts; *p >= 0; p++)
        if (*p == id)
            return 1;
    for (p = c->opts; *p >= 0; p++)
        if (*p == id)
            return 1;
    return 0;
}

/* Checks that every option given belongs to the command and the word count fits. */
static int check_cmd(const cli_group *g, const cli_cmd *c, const cli_args *a)
{
    int id, n = a->npos - 2;
    for (id = 0; id < OPT_COUNT; id++)
        if (a->values[id] != NULL && !allowed(c, id))
            return cli_usage_error("option '--%s' does not apply to '%s %s'",
                                   cli_opt_get(id)->long_name, g->name, c->name);
    if (n < c->min_pos)
        return cli_usage_error("'%s %s' needs an argument: argot %s %.*s", g->name, c->name,
                               g->name, (int)strcspn(c->usage, "\n"), c->usage);
    if (n > c->max_pos)
        return cli_usage_error("unexpected argument '%s'", a->pos[2 + c->max_pos]);
    return 0;
}

/* As libargot reads it: the option, else the first non-empty variable. */
static int have_key(const cli_args *a)
{
    const char *v = getenv("ARGOT_API_KEY"), *w = getenv("OPENAI_API_KEY");
    return a->values[OPT_API_KEY] != NULL || (v != NULL && v[0] != '\0') ||
           (w != NULL && w[0] != '\0');
}

/* The default server (api.openai.com) always needs a key: with none and no other server named,
 * say so instead of sending a request that can only fail (offline: as a network error). */
static int check_key(cli_ctx *ctx, const cli_args *a)
{
    if (have_key(a) || strcmp(argot_client_base_url(ctx->client), ARGOT_DEFAULT_BASE_URL) != 0)
        return 0;
    return cli_usage_error("no API key is set: pass --api-key KEY or set ARGOT_API_KEY or "
                           "OPENAI_API_KEY (for argotd, also --base-url URL or ARGOT_BASE_URL, "
                           "e.g. http://127.0.0.1:8080/v1)");
}

static int make_client(cli_ctx *ctx, const cli_args *a)
{
    argot_client_options o = ARGOT_CLIENT_OPTIONS_INIT;
    long long n;
    double secs;
    char *end;
    argot_status st;

    o.base_url = a->values[OPT_BASE_URL];
    o.api_key = a->values[OPT_API_KEY];
    o.user_agent = "argot-cli/" ARGOT_VERSION_STRING;
    if (a->values[OPT_MAX_RETRIES] != NULL) {
        if (cli_parse_long(a->values[OPT_MAX_RETRIES], 0, 100, &n) != 0)
            return cli_usage_error("--max-retries must be a number from 0 to 100");
        o.retry.strategy = n == 0 ? ARGOT_RETRY_NONE : ARGOT_RETRY_BACKOFF;
        o.retry.max_attempts = (unsigned)n + 1;
    }
    if (a->values[OPT_TIMEOUT] != NULL) {
        secs = strtod(a->values[OPT_TIMEOUT], &end);
        if (*end != '\0' || end == a->values[OPT_TIMEOUT] || !(secs > 0 && secs < 1e7))
            return cli_usage_error("--timeout must be a positive number of seconds");
        o.timeout_ms = (long)(secs * 1000.0 + 0.5);
        if (o.timeout_ms == 0)
            o.timeout_ms = 1;
    }
    st = argot_client_new(&ctx->client, &o);
    if (st == ARGOT_E_INVALID)
        return cli_usage_error("invalid --base-url (must start with http:// or https://)");
    if (st != ARGOT_OK) {
        fprintf(stderr, "argot: %s\n", argot_status_str(st));
        return CLI_EXIT_ERROR;
    }
    return check_key(ctx, a);
}

static int run_cmd(cli_args *a, const cli_cmd *c)
{
    cli_ctx ctx;
    int rc;

    memset(&ctx, 0, sizeof(ctx));
    ctx.args = a;
    ctx.json = a->values[OPT_JSON] != NULL;
    ctx.quiet = a->values[OPT_QUIET] != NULL;
    ctx.progress = !ctx.quiet && isatty(STDERR_FILENO);
    rc = make_client(&ctx, a);
    if (rc == 0)
        rc = c->run(&ctx, a->pos + 2);
    argot_client_free(ctx.client);
    return rc;
}

static int dispatch(cli_args *a)
{
    const cli_group *g = a->npos > 0 ? find_group(a->pos[0]) : NULL;
    const cli_cmd *c;
    int rc;

    if (g == NULL) {
        if (a->values[OPT_HELP] != NULL || a->npos == 0) {
            help_main();
            return a->values[OPT_HELP] != NULL ? CLI_EXIT_OK : CLI_EXIT_USAGE;
        }
        return cli_usage_error("unknown command '%s'", a->pos[0]);
    }
    if (a->npos == 1) {
        help_group(g);
        return a->values[OPT_HELP] != NULL ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    }
    c = find_cmd(g, a->pos[1]);
    if (c == NULL)
        return cli_usage_error("unknown command '%s %s'", g->name, a->pos[1]);
    if (a->values[OPT_HELP] != NULL) {
        help_cmd(g, c);
        return CLI_EXIT_OK;
    }
    rc = check_cmd(g, c, a);
    return rc != 0 ? rc : run_cmd(a, c);
}

int main(int argc, char **argv)
{
    cli_args a;
    int rc = cli_parse(&a, argc, argv);

    if (rc != 0)
        return rc;
    if (a.values[OPT_VERSION] != NULL) {
        printf("argot %s (libargot %s)\n", ARGOT_VERSION_STRING, argot_version());
        return CLI_EXIT_OK;
    }
    if (argot_global_init() != ARGOT_OK) {
        fprintf(stderr, "argot: cannot initialise libcurl\n");
        return CLI_EXIT_ERROR;
    }
    rc = dispatch(&a);
    if (fflush(stdout) != 0 && rc == CLI_EXIT_OK) {
        fprintf(stderr, "argot: cannot write the output\n");
        rc = CLI_EXIT_ERROR;
    }
    argot_global_cleanup();
    return rc;
}
