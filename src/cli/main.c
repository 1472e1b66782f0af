/*
 * argot: command-line client for the OpenAI Files API, on libargot.
 *
 *   argot [global options] files <command> [arguments] [options]
 *
 * Exit codes: 0 ok, 1 API or runtime error, 2 usage.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const int list_opts[] = {OPT_PURPOSE, OPT_LIMIT, OPT_ORDER, OPT_AFTER, OPT_ALL, -1};
static const int upload_opts[] = {OPT_PURPOSE, OPT_FILENAME, OPT_EXPIRES_AFTER, -1};
static const int content_opts[] = {OPT_OUTPUT, -1};
static const int no_opts[] = {-1};

static const cli_cmd commands[] = {
    {"list", NULL, "list [--purpose P] [--limit N] [--order asc|desc] [--after ID] [--all]",
     "List files", list_opts, 0, 0, cmd_list},
    {"upload", "create", "upload PATH --purpose P [--filename NAME] [--expires-after SECONDS]",
     "Upload a file", upload_opts, 1, 1, cmd_upload},
    {"get", "retrieve", "get ID", "Show a file's metadata", no_opts, 1, 1, cmd_get},
    {"download", "content", "download ID [-o PATH|-]", "Download a file's content", content_opts, 1,
     1, cmd_content},
    {"delete", NULL, "delete ID", "Delete a file", no_opts, 1, 1, cmd_delete},
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void help_main(void)
{
    size_t i;
    printf("usage: argot [options] files <command> [arguments]\n\n"
           "Command-line client for the OpenAI Files API (argotd or api.openai.com).\n\n"
           "Commands:\n");
    for (i = 0; i < NCOMMANDS; i++)
        printf("  files %-10s %s%s%s%s\n", commands[i].name, commands[i].summary,
               commands[i].alias ? " (alias: " : "", commands[i].alias ? commands[i].alias : "",
               commands[i].alias ? ")" : "");
    printf("\nGlobal options (before or after the command words):\n");
    cli_print_opts(stdout, cli_global_opts);
    printf("\nExit status: 0 ok, 1 API or runtime error, 2 usage error.\n"
           "Run 'argot files <command> --help' for a command's options.\n");
}

static void help_files(void)
{
    size_t i;
    printf("usage: argot files <command> [arguments] [options]\n\nCommands:\n");
    for (i = 0; i < NCOMMANDS; i++)
        printf("  %s\n", commands[i].usage);
    printf("\nGlobal options:\n");
    cli_print_opts(stdout, cli_global_opts);
}

static void help_cmd(const cli_cmd *c)
{
    printf("usage: argot files %s\n\n%s%s%s%s.\n", c->usage, c->summary,
           c->alias ? " (alias: " : "", c->alias ? c->alias : "", c->alias ? ")" : "");
    if (c->opts[0] >= 0) {
        printf("\nOptions:\n");
        cli_print_opts(stdout, c->opts);
    }
    printf("\nGlobal options:\n");
    cli_print_opts(stdout, cli_global_opts);
}

static const cli_cmd *find_cmd(const char *name)
{
    size_t i;
    for (i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0 ||
            (commands[i].alias != NULL && strcmp(commands[i].alias, name) == 0))
            return &commands[i];
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
static int check_cmd(const cli_cmd *c, const cli_args *a)
{
    int id, n = a->npos - 2;
    for (id = 0; id < OPT_COUNT; id++)
        if (a->values[id] != NULL && !allowed(c, id))
            return cli_usage_error("option '--%s' does not apply to 'files %s'",
                                   cli_opt_get(id)->long_name, c->name);
    if (n < c->min_pos)
        return cli_usage_error("'files %s' needs an argument: argot files %s", c->name, c->usage);
    if (n > c->max_pos)
        return cli_usage_error("unexpected argument '%s'", a->pos[2 + c->max_pos]);
    return 0;
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
    return 0;
}

static int dispatch(cli_args *a)
{
    const cli_cmd *c;
    cli_ctx ctx;
    int rc;

    if (a->npos == 0 || strcmp(a->pos[0], "files") != 0) {
        if (a->values[OPT_HELP] != NULL || a->npos == 0) {
            help_main();
            return a->values[OPT_HELP] != NULL ? CLI_EXIT_OK : CLI_EXIT_USAGE;
        }
        return cli_usage_error("unknown command '%s'", a->pos[0]);
    }
    if (a->npos == 1) {
        help_files();
        return a->values[OPT_HELP] != NULL ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    }
    c = find_cmd(a->pos[1]);
    if (c == NULL)
        return cli_usage_error("unknown command 'files %s'", a->pos[1]);
    if (a->values[OPT_HELP] != NULL) {
        help_cmd(c);
        return CLI_EXIT_OK;
    }
    rc = check_cmd(c, a);
    if (rc != 0)
        return rc;
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
