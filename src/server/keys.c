/*
 * `argotd keys create|list|revoke`: key management on the data dir, usable while the server
 * runs (SQLite WAL lets both work on the same database). The secret is printed once, alone on
 * stdout, and only its SHA-256 is stored.
 */
#include "server/keys.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "server/ids.h"

static int valid_org(const char *org)
{
    size_t n = strlen(org);
    if (n == 0 || n >= META_ORG_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = org[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return 0;
    }
    return 1;
}

/* A key name is shown by `keys list`, one key per line: no control characters (a newline
 * would forge a line), valid UTF-8, and short enough to be stored whole. */
static const char *name_problem(const char *name)
{
    size_t n = strlen(name);
    if (n >= META_NAME_MAX)
        return "key names are at most 127 bytes";
    if (!argot_utf8_valid(name, n))
        return "key names must be valid UTF-8";
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            return "key names must not contain control characters (newlines, tabs, ...)";
    return NULL;
}

int keys_create(meta_store *m, const char *org, const char *name, char key[API_KEY_LEN + 1])
{
    if (!valid_org(org)) {
        fprintf(stderr, "argotd: organization ids are 1-63 characters of [A-Za-z0-9_-]\n");
        return 2;
    }
    const char *why = name ? name_problem(name) : NULL;
    if (why) {
        fprintf(stderr, "argotd: --name: %s\n", why);
        return 2;
    }
    meta_key k;
    memset(&k, 0, sizeof k);
    snprintf(k.org, sizeof k.org, "%s", org);
    snprintf(k.name, sizeof k.name, "%s", name ? name : "");
    k.created_at = (int64_t)time(NULL);
    uint8_t hash[32];
    if (id_api_key_new(key) || id_key_id_new(k.id)) {
        fprintf(stderr, "argotd: no random numbers available\n");
        return 1;
    }
    id_key_hash(key, strlen(key), hash);
    st_err e = ST_ERR_INIT;
    int rc = m->ops->key_create(m, &k, hash, &e);
    if (rc) {
        fprintf(stderr, "argotd: cannot store the key: %s\n", e.msg);
        return 1;
    }
    return 0;
}

/* Names stored before names were checked may hold anything: control bytes are shown as \xNN so
 * one key is always one line. */
static void safe_name(const char *in, char *out, size_t cap)
{
    size_t o = 0;
    for (; *in && o + 5 < cap; in++) {
        unsigned char c = (unsigned char)*in;
        if (c < 0x20 || c == 0x7f || c == '\\')
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
        else
            out[o++] = (char)c;
    }
    out[o] = '\0';
}

static int print_key(const meta_key *k, void *ud)
{
    char name[4 * META_NAME_MAX + 8];
    safe_name(k->name[0] ? k->name : "-", name, sizeof name);
    char when[32];
    time_t t = (time_t)k->created_at;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    printf("%-20s  %-24s  %-20s  %s  %s\n", k->id, k->org, name, when,
           k->revoked_at ? "revoked" : "active");
    (void)ud;
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: argotd keys create (--data DIR | --meta URL) --org ORG [--name NAME]\n"
                    "       argotd keys list (--data DIR | --meta URL)\n"
                    "       argotd keys revoke (--data DIR | --meta URL) KEY_ID\n");
    return 2;
}

typedef struct keys_args {
    const char *data, *meta, *org, *name, *id;
} keys_args;

static int parse(int argc, char **argv, keys_args *a)
{
    for (int i = 0; i < argc; i++) {
        const char **dst = !strcmp(argv[i], "--data")   ? &a->data
                           : !strcmp(argv[i], "--meta") ? &a->meta
                           : !strcmp(argv[i], "--org")  ? &a->org
                           : !strcmp(argv[i], "--name") ? &a->name
                                                        : NULL;
        if (dst && i + 1 < argc)
            *dst = argv[++i];
        else if (!dst && argv[i][0] != '-' && !a->id)
            a->id = argv[i];
        else
            return -1;
    }
    return 0;
}

int keys_main(int argc, char **argv, meta_store *(*open_store)(const char *data, const char *meta))
{
    keys_args a = {0};
    if (argc < 1 || parse(argc - 1, argv + 1, &a))
        return usage();
    const char *cmd = argv[0];
    int is_create = !strcmp(cmd, "create"), is_list = !strcmp(cmd, "list"),
        is_revoke = !strcmp(cmd, "revoke");
    if ((!is_create && !is_list && !is_revoke) || (is_create && !a.org) || (is_revoke && !a.id) ||
        (!is_revoke && a.id))
        return usage();
    meta_store *m = open_store(a.data ? a.data : "./data", a.meta);
    if (!m)
        return 1;
    int rc = 0;
    if (is_create) {
        char key[API_KEY_LEN + 1];
        rc = keys_create(m, a.org, a.name, key);
        if (!rc)
            printf("%s\n", key);
    } else if (is_list) {
        st_err e = ST_ERR_INIT;
        rc = m->ops->key_list(m, print_key, NULL, &e) ? 1 : 0;
        if (rc)
            fprintf(stderr, "argotd: cannot list keys: %s\n", e.msg);
    } else {
        st_err e = ST_ERR_INIT;
        int r = m->ops->key_revoke(m, a.id, (int64_t)time(NULL), &e);
        if (r && r != META_E_NOTFOUND)
            fprintf(stderr, "argotd: cannot revoke the key: %s\n", e.msg);
        if (r == META_E_NOTFOUND)
            fprintf(stderr, "argotd: no active key %s\n", a.id);
        rc = r ? 1 : 0;
    }
    meta_store_free(m);
    return rc;
}
