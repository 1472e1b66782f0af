/*
 * Build-time generator: turns the web console's files into a C source for argotd.
 *
 *   argot-embed OUT.c SRCDIR NAME...
 *
 * Each NAME (a file in SRCDIR) becomes one console_asset (assets.h). Every asset but
 * index.html is renamed stem.<12 hex digits of its SHA-256>.ext, so its name changes whenever
 * its bytes do. A file may name an asset listed before it as {{NAME}}: the placeholder is
 * replaced by that asset's hashed name before the file itself is hashed, so the page (listed
 * last) names the current scripts and styles. An unknown placeholder, an unknown extension or
 * an unreadable file fails the build. OUT.c is written whole or not at all (temp + rename).
 */
#include <errno.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/console/assets.h"

#define MAX_ASSETS 32
#define NAME_MAX_  128

typedef struct asset {
    char src[NAME_MAX_];  /* name in SRCDIR */
    char name[NAME_MAX_]; /* served name */
    char etag[24];
    const char *type;
    unsigned char *data;
    size_t len;
} asset;

static const struct {
    const char *ext, *type;
} types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".json", "application/json"},
};

static int fail(const char *what, const char *name)
{
    fprintf(stderr, "argot-embed: %s: %s\n", what, name);
    return -1;
}

static int read_all(const char *path, unsigned char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return fail(strerror(errno), path);
    size_t cap = 1 << 16, n = 0, got;
    unsigned char *p = malloc(cap);
    while (p && (got = fread(p + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            unsigned char *q = realloc(p, cap *= 2);
            if (!q)
                free(p);
            p = q;
        }
    }
    int bad = !p || ferror(f);
    fclose(f);
    if (bad) {
        free(p);
        return fail("cannot read", path);
    }
    *out = p;
    *len = n;
    return 0;
}

static const asset *find(const asset *a, int n, const char *src, size_t len)
{
    for (int i = 0; i < n; i++)
        if (strlen(a[i].src) == len && !memcmp(a[i].src, src, len))
            return &a[i];
    return NULL;
}

/* Replaces every {{NAME}} in a->data by the served name of an earlier asset. */
static int substitute(asset *a, const asset *earlier, int n)
{
    size_t cap = a->len + 1, len = 0;
    unsigned char *out = malloc(cap);
    for (size_t i = 0; out && i < a->len;) {
        const unsigned char *open = a->data + i;
        const char *name = NULL, *name_end = NULL;
        size_t take = 1;
        if (i + 4 <= a->len && open[0] == '{' && open[1] == '{') {
            name = (const char *)open + 2;
            name_end = memchr(name, '}', a->len - i - 2);
            if (!name_end || (size_t)(name_end - (const char *)a->data) + 1 >= a->len ||
                name_end[1] != '}')
                return free(out), fail("unterminated {{ in", a->src);
            take = (size_t)(name_end + 2 - (const char *)open);
        }
        const asset *ref = name ? find(earlier, n, name, (size_t)(name_end - name)) : NULL;
        if (name && !ref)
            return free(out), fail("placeholder names no earlier asset in", a->src);
        const void *piece = ref ? (const void *)ref->name : (const void *)open;
        size_t plen = ref ? strlen(ref->name) : 1;
        if (len + plen >= cap) {
            unsigned char *q = realloc(out, cap = 2 * (len + plen) + 1);
            if (!q)
                free(out);
            out = q;
            if (!out)
                break;
        }
        memcpy(out + len, piece, plen);
        len += plen;
        i += take;
    }
    if (!out)
        return fail("out of memory on", a->src);
    free(a->data);
    a->data = out;
    a->len = len;
    return 0;
}

static int load(asset *a, const char *dir, const char *src, const asset *earlier, int n)
{
    char path[4096];
    const char *dot = strrchr(src, '.');
    if (strlen(src) >= NAME_MAX_ - 16 || strchr(src, '/') || !dot || dot == src)
        return fail("bad asset name", src);
    for (size_t i = 0; i < sizeof types / sizeof types[0] && !a->type; i++)
        if (!strcmp(dot, types[i].ext))
            a->type = types[i].type;
    if (!a->type)
        return fail("unknown extension", src);
    snprintf(a->src, sizeof a->src, "%s", src);
    snprintf(path, sizeof path, "%s/%s", dir, src);
    if (read_all(path, &a->data, &a->len) || substitute(a, earlier, n))
        return -1;
    unsigned char md[SHA256_DIGEST_LENGTH];
    char hex[2 * SHA256_DIGEST_LENGTH + 1];
    SHA256(a->data, a->len, md);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    snprintf(a->etag, sizeof a->etag, "\\\"%.16s\\\"", hex);
    if (!strcmp(src, CONSOLE_PAGE))
        snprintf(a->name, sizeof a->name, "%s", src);
    else
        snprintf(a->name, sizeof a->name, "%.*s.%.12s%s", (int)(dot - src), src, hex, dot);
    return 0;
}

static int emit(FILE *f, const asset *a, int n)
{
    fprintf(f, "/* Generated by src/server/console/embed.c at build time; do not edit. */\n"
               "#include \"server/console/assets.h\"\n\n");
    for (int i = 0; i < n; i++) {
        fprintf(f, "/* %s (%zu bytes) */\nstatic const unsigned char a%d[] = {", a[i].src, a[i].len,
                i);
        for (size_t j = 0; j < a[i].len; j++)
            fprintf(f, "%s%u,", j % 24 ? "" : "\n    ", a[i].data[j]);
        fprintf(f, "\n    0};\n\n"); /* a trailing NUL, so an empty file is valid C too */
    }
    fprintf(f, "const console_asset console_assets[] = {\n");
    for (int i = 0; i < n; i++)
        fprintf(f, "    {\"%s\", \"%s\", a%d, %zu, \"%s\"},\n", a[i].name, a[i].type, i, a[i].len,
                a[i].etag);
    fprintf(f, "};\nconst size_t console_asset_count = %d;\n", n);
    return ferror(f) ? -1 : 0;
}

int main(int argc, char **argv)
{
    asset a[MAX_ASSETS];
    int n = 0, rc = 1;
    memset(a, 0, sizeof a);
    if (argc < 4 || argc - 3 > MAX_ASSETS) {
        fprintf(stderr, "usage: argot-embed OUT.c SRCDIR NAME... (at most %d)\n", MAX_ASSETS);
        return 2;
    }
    for (; n < argc - 3; n++)
        if (load(&a[n], argv[2], argv[n + 3], a, n))
            goto out;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", argv[1]);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fail(strerror(errno), tmp);
        goto out;
    }
    int bad = emit(f, a, n);
    if (fclose(f) || bad || rename(tmp, argv[1])) {
        fail("cannot write", argv[1]);
        remove(tmp);
        goto out;
    }
    rc = 0;
out:
    for (int i = 0; i <= n && i < MAX_ASSETS; i++)
        free(a[i].data);
    return rc;
}
