/*
 * The option-spec table: one row per option, shared by parsing and --help. Options are
 * accepted anywhere on the line (before or after the command words), as --name VALUE,
 * --name=VALUE or -x VALUE; "--" ends the options.
 */
#include "cli.h"

#include <string.h>

static const cli_opt_spec specs[] = {
    {OPT_BASE_URL, "base-url", 0, "URL", "server URL (env ARGOT_BASE_URL, OPENAI_BASE_URL)"},
    {OPT_API_KEY, "api-key", 0, "KEY", "API key (env ARGOT_API_KEY, OPENAI_API_KEY)"},
    {OPT_MAX_RETRIES, "max-retries", 0, "N",
     "retries after a failed attempt (default 2; 0 = none)"},
    {OPT_TIMEOUT, "timeout", 0, "SECONDS", "time limit per attempt (default 600)"},
    {OPT_JSON, "json", 0, NULL, "print the API's JSON"},
    {OPT_QUIET, "quiet", 'q', NULL, "print only ids; no progress bar"},
    {OPT_HELP, "help", 'h', NULL, "show help"},
    {OPT_VERSION, "version", 0, NULL, "show the version"},
    {OPT_PURPOSE, "purpose", 0, "PURPOSE", "file purpose (assistants, batch, fine-tune, ...)"},
    {OPT_LIMIT, "limit", 0, "N", "items per page, 1..10000"},
    {OPT_ORDER, "order", 0, "asc|desc", "sort by created_at"},
    {OPT_AFTER, "after", 0, "ID", "start after this file id"},
    {OPT_ALL, "all", 0, NULL, "fetch every page"},
    {OPT_FILENAME, "filename", 0, "NAME", "file name to send (default: the path's basename)"},
    {OPT_EXPIRES_AFTER, "expires-after", 0, "SECONDS", "expire SECONDS after creation"},
    {OPT_OUTPUT, "output", 'o', "PATH", "write to PATH ('-': stdout, the default)"},
    {OPT_PARTS, "parts", 0, NULL, "use the Uploads API (automatic over 512 MiB)"},
    {OPT_PART_SIZE, "part-size", 0, "SIZE", "bytes per part, e.g. 16M (default and max 64M)"},
    {OPT_PARALLEL, "parallel", 0, "N", "parts sent at once, 1..64 (default 4)"},
    {OPT_MIME_TYPE, "mime-type", 0, "TYPE", "MIME type (default: guessed from the name)"},
    {OPT_BYTES, "bytes", 0, "N", "total size of the upload in bytes"},
    {OPT_OFFSET, "offset", 0, "N", "first byte of the part in the file (default 0)"},
    {OPT_LENGTH, "length", 0, "N", "bytes in the part (default: to the end of the file)"},
    {OPT_MD5, "md5", 0, "HEX", "MD5 of the whole file, checked by the server"},
    {OPT_CONTINUE, "continue", 'c', NULL, "resume PATH from its size (needs -o PATH)"},
    {OPT_LIMIT_RATE, "limit-rate", 0, "RATE", "receive at most RATE bytes a second, e.g. 500K"},
};

const int cli_global_opts[] = {OPT_BASE_URL, OPT_API_KEY, OPT_MAX_RETRIES, OPT_TIMEOUT, OPT_JSON,
                               OPT_QUIET,    OPT_HELP,    OPT_VERSION,     -1};

const cli_opt_spec *cli_opt_get(int id)
{
    return &specs[id];
}

const cli_opt_spec *cli_opt_find_long(const char *name, size_t len)
{
    size_t i;
    for (i = 0; i < sizeof(specs) / sizeof(specs[0]); i++)
        if (strlen(specs[i].long_name) == len && strncmp(specs[i].long_name, name, len) == 0)
            return &specs[i];
    return NULL;
}

const cli_opt_spec *cli_opt_find_short(char c)
{
    size_t i;
    for (i = 0; i < sizeof(specs) / sizeof(specs[0]); i++)
        if (specs[i].short_name == c && c != 0)
            return &specs[i];
    return NULL;
}

/* Takes one option at argv[*i]; returns 0 or CLI_EXIT_USAGE. */
static int take_opt(cli_args *a, int argc, char **argv, int *i)
{
    const char *arg = argv[*i], *eq = NULL;
    const cli_opt_spec *s;

    if (arg[1] == '-') {
        eq = strchr(arg + 2, '=');
        s = cli_opt_find_long(arg + 2, eq != NULL ? (size_t)(eq - arg - 2) : strlen(arg + 2));
    } else {
        s = arg[2] == '\0' ? cli_opt_find_short(arg[1]) : NULL;
    }
    if (s == NULL)
        return cli_usage_error("unknown option '%s'", arg);
    if (s->value_name == NULL) {
        if (eq != NULL)
            return cli_usage_error("option '--%s' takes no value", s->long_name);
        a->values[s->id] = "1";
        return 0;
    }
    if (eq != NULL) {
        a->values[s->id] = eq + 1;
        return 0;
    }
    if (*i + 1 >= argc)
        return cli_usage_error("option '--%s' needs a value (%s)", s->long_name, s->value_name);
    a->values[s->id] = argv[++*i];
    return 0;
}

int cli_parse(cli_args *a, int argc, char **argv)
{
    int i, only_pos = 0, rc;

    memset(a, 0, sizeof(*a));
    for (i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!only_pos && strcmp(arg, "--") == 0) {
            only_pos = 1;
            continue;
        }
        if (!only_pos && arg[0] == '-' && arg[1] != '\0') {
            rc = take_opt(a, argc, argv, &i);
            if (rc != 0)
                return rc;
            continue;
        }
        if (a->npos == CLI_MAX_POS)
            return cli_usage_error("too many arguments");
        a->pos[a->npos++] = arg;
    }
    return 0;
}

static const char *opt_help(const cli_opt_spec *s, const cli_opt_note *notes)
{
    for (; notes != NULL && notes->id >= 0; notes++)
        if (notes->id == s->id)
            return notes->help;
    return s->help;
}

void cli_print_opts(FILE *out, const int *ids, const cli_opt_note *notes)
{
    for (; *ids >= 0; ids++) {
        const cli_opt_spec *s = &specs[*ids];
        char left[64];
        if (s->short_name)
            snprintf(left, sizeof(left), "-%c, --%s%s%s", s->short_name, s->long_name,
                     s->value_name ? " " : "", s->value_name ? s->value_name : "");
        else
            snprintf(left, sizeof(left), "    --%s%s%s", s->long_name, s->value_name ? " " : "",
                     s->value_name ? s->value_name : "");
        fprintf(out, "  %-28s %s\n", left, opt_help(s, notes));
    }
}
