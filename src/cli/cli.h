/*
 * argot, the command-line client: shared declarations. The CLI uses only libargot's public
 * API (include/argot/). One option-spec table (opt.c) drives parsing and --help.
 */
#ifndef ARGOT_CLI_H
#define ARGOT_CLI_H

#include <argot/argot.h>

#include <stdio.h>

/* Exit codes. */
#define CLI_EXIT_OK    0
#define CLI_EXIT_ERROR 1 /* API or runtime error */
#define CLI_EXIT_USAGE 2

/* Option ids. */
enum cli_opt_id {
    OPT_BASE_URL,
    OPT_API_KEY,
    OPT_MAX_RETRIES,
    OPT_TIMEOUT,
    OPT_JSON,
    OPT_QUIET,
    OPT_HELP,
    OPT_VERSION,
    OPT_PURPOSE,
    OPT_LIMIT,
    OPT_ORDER,
    OPT_AFTER,
    OPT_ALL,
    OPT_FILENAME,
    OPT_EXPIRES_AFTER,
    OPT_OUTPUT,
    OPT_PARTS,
    OPT_PART_SIZE,
    OPT_PARALLEL,
    OPT_MIME_TYPE,
    OPT_BYTES,
    OPT_OFFSET,
    OPT_LENGTH,
    OPT_MD5,
    OPT_CONTINUE,
    OPT_LIMIT_RATE,
    OPT_COUNT
};

typedef struct cli_opt_spec {
    int id;
    const char *long_name;
    char short_name;
    const char *value_name; /* NULL: a flag */
    const char *help;
} cli_opt_spec;

#define CLI_MAX_POS 4096 /* uploads complete takes one word per part (8 GB / 64 MiB = 128) */

/* The parsed command line. */
typedef struct cli_args {
    const char *values[OPT_COUNT]; /* value of each option given, or "1" for a flag */
    const char *pos[CLI_MAX_POS];  /* positional words */
    int npos;
} cli_args;

typedef struct cli_ctx {
    argot_client *client;
    cli_args *args;
    int json;
    int quiet;
    int progress; /* stderr is a terminal and not --quiet */
} cli_ctx;

/* A command's own help text for one of its options, in place of the table's. */
typedef struct cli_opt_note {
    int id; /* -1 ends a list */
    const char *help;
} cli_opt_note;

typedef struct cli_cmd {
    const char *name;
    const char *alias;
    const char *usage; /* after "argot <group> " */
    const char *summary;
    const char *detail; /* a paragraph for --help, or NULL */
    const int *opts;    /* command options, ended by -1 */
    int min_pos, max_pos;
    int (*run)(cli_ctx *ctx, const char *const *pos);
    const cli_opt_note *notes; /* NULL, or help texts for this command, ended by id -1 */
} cli_cmd;

/* opt.c */
const cli_opt_spec *cli_opt_find_long(const char *name, size_t len);
const cli_opt_spec *cli_opt_find_short(char c);
const cli_opt_spec *cli_opt_get(int id);
/* Parses argv into a; returns 0, or prints a usage error and returns CLI_EXIT_USAGE. */
int cli_parse(cli_args *a, int argc, char **argv);
/* One line per option; notes (may be NULL) replace the table's help of the options named. */
void cli_print_opts(FILE *out, const int *ids, const cli_opt_note *notes);
extern const int cli_global_opts[];

/* output.c */
int cli_fail(cli_ctx *ctx, argot_status st);
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_print_file(const argot_file *f);
void cli_print_upload(const argot_upload *u);
void cli_print_part(const argot_upload_part *p);
/* A file as --json (the body), -q (the id) or a key/value block. */
void cli_print_file_result(const cli_ctx *ctx, const argot_file *f);
/* An upload as --json (the body), -q (the id) or a key/value block. */
void cli_print_upload_result(const cli_ctx *ctx, const argot_upload *u);
/* Parses a byte count with an optional binary suffix: 16M, 16MiB, 512K, 1G. */
int cli_parse_size(const char *s, unsigned long long max, unsigned long long *out);
void cli_print_table(const argot_file *const *files, size_t n);
void cli_time(char *buf, size_t n, int64_t t);
int cli_progress(uint64_t done, uint64_t total, void *userdata);
void cli_progress_end(void);
int cli_parse_long(const char *s, long long min, long long max, long long *out);

/* commands */
int cmd_list(cli_ctx *ctx, const char *const *pos);
int cmd_upload(cli_ctx *ctx, const char *const *pos);
int cmd_get(cli_ctx *ctx, const char *const *pos);
int cmd_delete(cli_ctx *ctx, const char *const *pos);
int cmd_content(cli_ctx *ctx, const char *const *pos);
int cmd_uploads_create(cli_ctx *ctx, const char *const *pos);
int cmd_uploads_add_part(cli_ctx *ctx, const char *const *pos);
int cmd_uploads_complete(cli_ctx *ctx, const char *const *pos);
int cmd_uploads_cancel(cli_ctx *ctx, const char *const *pos);

#endif
