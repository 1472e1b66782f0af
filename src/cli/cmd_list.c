/* argot files list [--purpose P] [--limit N] [--order asc|desc] [--after ID] [--all] */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static int build_query(cli_ctx *ctx, argot_list_files_request *q)
{
    const char **v = ctx->args->values;
    long long n;

    q->purpose = v[OPT_PURPOSE];
    q->after = v[OPT_AFTER];
    if (v[OPT_LIMIT] != NULL) {
        if (cli_parse_long(v[OPT_LIMIT], 1, 10000, &n) != 0)
            return cli_usage_error("--limit must be a number from 1 to 10000");
        q->limit = (int)n;
    }
    if (v[OPT_ORDER] != NULL) {
        if (strcmp(v[OPT_ORDER], "asc") == 0)
            q->order = ARGOT_ORDER_ASC;
        else if (strcmp(v[OPT_ORDER], "desc") == 0)
            q->order = ARGOT_ORDER_DESC;
        else
            return cli_usage_error("--order must be asc or desc");
    }
    return 0;
}

static void print_files(cli_ctx *ctx, const argot_file *const *files, size_t n)
{
    size_t i;
    if (ctx->quiet) {
        for (i = 0; i < n; i++)
            printf("%s\n", files[i]->id);
        return;
    }
    cli_print_table(files, n);
}

static int list_page(cli_ctx *ctx, const argot_list_files_request *q)
{
    argot_file_list *l = NULL;
    const argot_file **ptrs;
    argot_status st = argot_files_list_files(&l, ctx->client, q, NULL);
    size_t i;

    if (st != ARGOT_OK)
        return cli_fail(ctx, st);
    if (ctx->json) {
        printf("%s\n", l->json);
    } else {
        ptrs = calloc(l->count + 1, sizeof(*ptrs));
        for (i = 0; ptrs != NULL && i < l->count; i++)
            ptrs[i] = &l->data[i];
        print_files(ctx, ptrs, l->count);
        free(ptrs);
    }
    argot_file_list_free(l);
    return CLI_EXIT_OK;
}

/* --all --json prints one list object holding every item, as a single page would. */
static void print_all_json(argot_file **files, size_t n)
{
    size_t i;
    printf("{\"object\":\"list\",\"data\":[");
    for (i = 0; i < n; i++)
        printf("%s%s", i ? "," : "", files[i]->json);
    printf("],\"has_more\":false,");
    if (n > 0)
        printf("\"first_id\":\"%s\",\"last_id\":\"%s\"}\n", files[0]->id, files[n - 1]->id);
    else
        printf("\"first_id\":null,\"last_id\":null}\n");
}

static argot_file *copy_file(const argot_file *f)
{
    argot_file *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    *c = *f;
    c->id = strdup(f->id);
    c->object = f->object ? strdup(f->object) : NULL;
    c->filename = f->filename ? strdup(f->filename) : NULL;
    c->purpose = f->purpose ? strdup(f->purpose) : NULL;
    c->status = f->status ? strdup(f->status) : NULL;
    c->status_details = f->status_details ? strdup(f->status_details) : NULL;
    c->json = f->json ? strdup(f->json) : NULL;
    return c;
}

static int list_all(cli_ctx *ctx, const argot_list_files_request *q)
{
    argot_file_iter *it = NULL;
    argot_file **files = NULL, **grown;
    const argot_file *f;
    size_t n = 0, cap = 0, i;
    argot_status st = argot_files_list_iter_new(&it, ctx->client, q, NULL);
    int rc = CLI_EXIT_OK;

    while (st == ARGOT_OK && (st = argot_file_iter_next(&f, it)) == ARGOT_OK && f != NULL) {
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            grown = realloc(files, cap * sizeof(*files));
            if (grown == NULL) {
                st = ARGOT_E_NOMEM;
                break;
            }
            files = grown;
        }
        if ((files[n] = copy_file(f)) == NULL) {
            st = ARGOT_E_NOMEM;
            break;
        }
        n++;
    }
    if (st != ARGOT_OK)
        rc = cli_fail(ctx, st);
    else if (ctx->json)
        print_all_json(files, n);
    else
        print_files(ctx, (const argot_file *const *)files, n);
    for (i = 0; i < n; i++)
        argot_file_free(files[i]);
    free(files);
    argot_file_iter_free(it);
    return rc;
}

int cmd_list(cli_ctx *ctx, const char *const *pos)
{
    argot_list_files_request q = ARGOT_LIST_FILES_REQUEST_INIT;
    int rc = build_query(ctx, &q);
    (void)pos;
    if (rc != 0)
        return rc;
    return ctx->args->values[OPT_ALL] != NULL ? list_all(ctx, &q) : list_page(ctx, &q);
}
