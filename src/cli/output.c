/*
 * Output for people (tables, key/value blocks, a progress bar on stderr) and the one-line
 * error format: argot: <message> (HTTP <status>, request <id>).
 */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int cli_usage_error(const char *fmt, ...)
{
    va_list ap;
    fputs("argot: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nTry 'argot --help'.\n", stderr);
    return CLI_EXIT_USAGE;
}

int cli_fail(cli_ctx *ctx, argot_status st)
{
    const argot_error *e = argot_client_last_error(ctx->client);
    const char *msg = e->summary != NULL && e->summary[0] ? e->summary : argot_status_str(st);

    cli_progress_end();
    fprintf(stderr, "argot: %s", msg);
    if (st == ARGOT_E_IO || st == ARGOT_E_ABORTED || st == ARGOT_E_NOMEM)
        ; /* a local failure: the HTTP status says nothing */
    else if (e->http_status != 0 && e->request_id != NULL)
        fprintf(stderr, " (HTTP %ld, request %s)", e->http_status, e->request_id);
    else if (e->http_status != 0)
        fprintf(stderr, " (HTTP %ld)", e->http_status);
    fputc('\n', stderr);
    return st == ARGOT_E_INVALID && e->attempts == 0 ? CLI_EXIT_USAGE : CLI_EXIT_ERROR;
}

int cli_parse_long(const char *s, long long min, long long max, long long *out)
{
    char *end;
    long long v;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

void cli_time(char *buf, size_t n, int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tmv;
    if (t == ARGOT_TIME_NULL || gmtime_r(&tt, &tmv) == NULL) {
        snprintf(buf, n, "-");
        return;
    }
    strftime(buf, n, "%Y-%m-%d %H:%M:%S", &tmv);
}

static const char *or_dash(const char *s)
{
    return s != NULL ? s : "-";
}

/* The first lines of a File and of an Upload: id, filename, purpose, bytes. */
static void print_head(const char *id, const char *filename, const char *purpose, int64_t bytes)
{
    printf("id              %s\n", id);
    printf("filename        %s\n", or_dash(filename));
    printf("purpose         %s\n", or_dash(purpose));
    printf("bytes           %lld\n", (long long)bytes);
}

void cli_print_file(const argot_file *f)
{
    char created[32], expires[32];
    cli_time(created, sizeof(created), f->created_at);
    cli_time(expires, sizeof(expires), f->expires_at);
    print_head(f->id, f->filename, f->purpose, f->bytes);
    printf("created_at      %s\n", created);
    printf("expires_at      %s\n", expires);
    printf("status          %s\n", or_dash(f->status));
    if (f->status_details != NULL)
        printf("status_details  %s\n", f->status_details);
}

void cli_print_upload(const argot_upload *u)
{
    char created[32], expires[32];
    cli_time(created, sizeof(created), u->created_at);
    cli_time(expires, sizeof(expires), u->expires_at);
    print_head(u->id, u->filename, u->purpose, u->bytes);
    printf("status          %s\n", or_dash(u->status));
    printf("created_at      %s\n", created);
    printf("expires_at      %s\n", expires);
    printf("file            %s\n", u->file != NULL ? u->file->id : "-");
}

void cli_print_file_result(const cli_ctx *ctx, const argot_file *f)
{
    if (ctx->json)
        printf("%s\n", f->json);
    else if (ctx->quiet)
        printf("%s\n", f->id);
    else
        cli_print_file(f);
}

void cli_print_upload_result(const cli_ctx *ctx, const argot_upload *u)
{
    if (ctx->json)
        printf("%s\n", u->json);
    else if (ctx->quiet)
        printf("%s\n", u->id);
    else
        cli_print_upload(u);
}

void cli_print_part(const argot_upload_part *p)
{
    char created[32];
    cli_time(created, sizeof(created), p->created_at);
    printf("id              %s\n", p->id);
    printf("upload_id       %s\n", or_dash(p->upload_id));
    printf("created_at      %s\n", created);
}

int cli_parse_size(const char *s, unsigned long long max, unsigned long long *out)
{
    char *end;
    unsigned long long v, mult = 1;
    errno = 0;
    if (*s < '0' || *s > '9')
        return -1;
    v = strtoull(s, &end, 10);
    if (errno != 0 || end == s)
        return -1;
    if (*end == 'K' || *end == 'k')
        mult = 1024ull;
    else if (*end == 'M' || *end == 'm')
        mult = 1024ull * 1024ull;
    else if (*end == 'G' || *end == 'g')
        mult = 1024ull * 1024ull * 1024ull;
    if (mult != 1)
        end++;
    if (mult != 1 && strcmp(end, "iB") == 0)
        end += 2;
    else if (mult != 1 && strcmp(end, "B") == 0)
        end++;
    if (*end != '\0' || v == 0 || v > max / mult)
        return -1;
    *out = v * mult;
    return 0;
}

static int width(const char *s)
{
    int w = 0;
    for (; *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80; /* count UTF-8 code points */
    return w;
}

static void pad(const char *s, int w)
{
    int n = width(s);
    fputs(s, stdout);
    while (n++ < w)
        putchar(' ');
}

void cli_print_table(const argot_file *const *files, size_t n)
{
    int w[4] = {2, 5, 7, 7};
    char bytes[32], created[32];
    size_t i;

    for (i = 0; i < n; i++) {
        int b = snprintf(bytes, sizeof(bytes), "%lld", (long long)files[i]->bytes);
        if (width(files[i]->id) > w[0])
            w[0] = width(files[i]->id);
        if (b > w[1])
            w[1] = b;
        if (width(or_dash(files[i]->purpose)) > w[3])
            w[3] = width(or_dash(files[i]->purpose));
    }
    w[2] = 19;
    pad("ID", w[0] + 2);
    printf("%*s  ", w[1], "BYTES");
    pad("CREATED", w[2] + 2);
    pad("PURPOSE", w[3] + 2);
    printf("FILENAME\n");
    for (i = 0; i < n; i++) {
        snprintf(bytes, sizeof(bytes), "%lld", (long long)files[i]->bytes);
        cli_time(created, sizeof(created), files[i]->created_at);
        pad(files[i]->id, w[0] + 2);
        printf("%*s  ", w[1], bytes);
        pad(created, w[2] + 2);
        pad(or_dash(files[i]->purpose), w[3] + 2);
        printf("%s\n", or_dash(files[i]->filename));
    }
}

/* ---- progress bar ---- */

static struct timespec last_draw;
static int drawn;

static double since_last(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - last_draw.tv_sec) +
           (double)(now.tv_nsec - last_draw.tv_nsec) / 1e9;
}

int cli_progress(uint64_t done, uint64_t total, void *userdata)
{
    const double mib = 1024.0 * 1024.0;
    char bar[31];
    int i, fill;
    (void)userdata;

    if (drawn && since_last() < 0.1 && done != total)
        return 0;
    clock_gettime(CLOCK_MONOTONIC, &last_draw);
    drawn = 1;
    if (total == 0) {
        fprintf(stderr, "\r%10.1f MiB", (double)done / mib);
        return 0;
    }
    fill = (int)(30.0 * (double)done / (double)total);
    for (i = 0; i < 30; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[30] = '\0';
    fprintf(stderr, "\r[%s] %3d%% %.1f/%.1f MiB", bar, (int)(100.0 * (double)done / (double)total),
            (double)done / mib, (double)total / mib);
    return 0;
}

void cli_progress_end(void)
{
    if (drawn)
        fputc('\n', stderr);
    drawn = 0;
}
