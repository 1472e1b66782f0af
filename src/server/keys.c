/*
 * `argotd keys create|list|revoke`: key management on the metadata store the server uses (the
 * data dir's, or --meta URL / ARGOT_META), usable while servers run. The secret is printed once,
 * alone on stdout, and only its SHA-256 is stored. The store settings are the server's (--data,
 * --meta, --blob, --meta-retries, flag > environment > default), so an instance's own settings
 * can be passed as they are. --blob is checked (a scheme the server knows) but not opened: keys
 * live in the metadata store alone, so a key can be revoked while the blob store is down.
 *
 * Times come from the database's clock where it has one (META_CAP_CLOCK), as the servers'. A
 * retryable failure (a lost connection, a serialization failure) is tried again up to
 * --meta-retries times;
 * where a lost connection leaves the outcome unknown, the retry checks the store: a key id of
 * our fresh random one that exists with our hash was created by the lost attempt, a key found
 * revoked was revoked by it.
 */
#include "server/keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "server/backends.h"
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

static int64_t now_of(meta_store *m)
{
    int64_t now = 0;
    st_err e = ST_ERR_INIT;
    if ((m->ops->caps & META_CAP_CLOCK) && m->ops->clock(m, &now, &e) == ST_OK)
        return now;
    return (int64_t)time(NULL);
}

/* Retries of key_create and key_revoke: the server's --meta-retries (ARGOT_META_RETRIES,
 * default 3, 0..20), after 20 ms, doubling. */
static int key_retries = 3;

void keys_set_retries(int n)
{
    key_retries = n < 0 ? 0 : n;
}

typedef struct key_probe {
    const char *id;
    const uint8_t *hash; /* NULL: any */
    int found, revoked;
} key_probe;

static int probe_key(const meta_key *k, void *ud)
{
    key_probe *p = ud;
    if (strcmp(k->id, p->id) != 0 || (p->hash && memcmp(k->hash, p->hash, 32) != 0))
        return 0;
    p->found = 1;
    p->revoked = k->revoked_at != 0;
    return 1;
}

static key_probe find_key(meta_store *m, const char *id, const uint8_t *hash)
{
    key_probe p = {id, hash, 0, 0};
    st_err e = ST_ERR_INIT;
    (void)m->ops->key_list(m, probe_key, &p, &e);
    return p;
}

/* One attempt of a key change, tried again on retryable failures. *unknown: a connection was
 * lost on the way, so an attempt may have been made although its answer never came. */
typedef int (*key_change)(meta_store *m, const void *arg, st_err *e);

static int tried(meta_store *m, key_change change, const void *arg, int *unknown, st_err *e)
{
    int rc = ST_OK;
    *unknown = 0;
    for (int i = 0;; i++) {
        st_err_clear(e);
        rc = change(m, arg, e);
        *unknown |= e->code == ST_E_UNAVAILABLE;
        if (rc == ST_OK || !e->retryable || i >= key_retries)
            return rc;
        usleep(20000u << (i < 8 ? i : 8));
    }
}

typedef struct create_arg {
    const meta_key *k;
    const uint8_t *hash;
} create_arg;

static int do_create(meta_store *m, const void *arg, st_err *e)
{
    const create_arg *c = arg;
    return m->ops->key_create(m, c->k, c->hash, e);
}

static int do_revoke(meta_store *m, const void *arg, st_err *e)
{
    return m->ops->key_revoke(m, arg, now_of(m), e);
}

/* key_create, tried again; a lost attempt that was made shows as a CONFLICT on our fresh
 * random id (or as any failure): the key is there with our hash, so it was ours. */
static int create_tried(meta_store *m, const meta_key *k, const uint8_t hash[32], st_err *e)
{
    create_arg c = {k, hash};
    int unknown = 0, rc = tried(m, do_create, &c, &unknown, e);
    if (rc != ST_OK && unknown && find_key(m, k->id, hash).found) {
        st_err_clear(e);
        rc = ST_OK;
    }
    return rc;
}

/* key_revoke, tried again; a lost attempt that was made shows as NOTFOUND (no active key):
 * the key is there, revoked. */
static int revoke_tried(meta_store *m, const char *id, st_err *e)
{
    int unknown = 0, rc = tried(m, do_revoke, id, &unknown, e);
    if (rc != ST_OK && unknown && find_key(m, id, NULL).revoked) {
        st_err_clear(e);
        rc = ST_OK;
    }
    return rc;
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
    k.created_at = now_of(m);
    uint8_t hash[32];
    if (id_api_key_new(key) || id_key_id_new(k.id)) {
        fprintf(stderr, "argotd: no random numbers available\n");
        return 1;
    }
    id_key_hash(key, strlen(key), hash);
    st_err e = ST_ERR_INIT;
    int rc = create_tried(m, &k, hash, &e);
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

#define KEYS_USAGE                                                                                 \
    "usage: argotd keys create [STORE] --org ORG [--name NAME]\n"                                  \
    "       argotd keys list [STORE]\n"                                                            \
    "       argotd keys revoke [STORE] KEY_ID\n"                                                   \
    "STORE, as for the server (flag > environment > default):\n"                                   \
    "  --data DIR          env ARGOT_DATA, default ./data (the store is DIR/argot.db)\n"           \
    "  --meta URL          env ARGOT_META: sqlite:PATH, postgres://... or mem:\n"                  \
    "  --blob URL          env ARGOT_BLOB: checked, not opened (keys live in the metadata)\n"      \
    "  --meta-retries N    env ARGOT_META_RETRIES, default 3 (0..20)\n"                            \
    "  --s3-endpoint URL   the server's S3 endpoint: accepted, not used\n"

static int usage(int help)
{
    fputs(KEYS_USAGE, help ? stdout : stderr);
    return help ? 0 : 2;
}

typedef struct keys_args {
    const char *data, *meta, *blob, *retries, *s3_endpoint, *org, *name, *id;
    int help;
} keys_args;

static const char *env_or(const char *name, const char *def)
{
    const char *v = getenv(name);
    return v && *v ? v : def;
}

static int parse(int argc, char **argv, keys_args *a)
{
    for (int i = 0; i < argc; i++) {
        const char **dst = !strcmp(argv[i], "--data")           ? &a->data
                           : !strcmp(argv[i], "--meta")         ? &a->meta
                           : !strcmp(argv[i], "--blob")         ? &a->blob
                           : !strcmp(argv[i], "--meta-retries") ? &a->retries
                           : !strcmp(argv[i], "--s3-endpoint")  ? &a->s3_endpoint
                           : !strcmp(argv[i], "--org")          ? &a->org
                           : !strcmp(argv[i], "--name")         ? &a->name
                                                                : NULL;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            a->help = 1;
        else if (dst && i + 1 < argc)
            *dst = argv[++i];
        else if (!dst && argv[i][0] != '-' && !a->id)
            a->id = argv[i];
        else
            return -1;
    }
    a->data = a->data ? a->data : env_or("ARGOT_DATA", "./data");
    a->meta = a->meta ? a->meta : env_or("ARGOT_META", NULL);
    a->blob = a->blob ? a->blob : env_or("ARGOT_BLOB", NULL);
    a->retries = a->retries ? a->retries : env_or("ARGOT_META_RETRIES", "3");
    return 0;
}

/* The settings keys do not use must still be ones the server would take. */
static int check_settings(const keys_args *a)
{
    char *end;
    long n = strtol(a->retries, &end, 10);
    if (end == a->retries || *end || n < 0 || n > 20) {
        fprintf(stderr, "argotd keys: --meta-retries: '%s' is not an integer in 0..20\n",
                a->retries);
        return -1;
    }
    key_retries = (int)n;
    st_err e = ST_ERR_INIT;
    if (a->blob && backend_check_blob(a->blob, &e) != ST_OK) {
        fprintf(stderr, "argotd keys: --blob: %s\n", e.msg);
        return -1;
    }
    if (a->meta && !strncmp(a->meta, "mem:", 4))
        fprintf(stderr, "argotd keys: warning: --meta mem: is this process's own memory; "
                        "nothing done here reaches a server, and it is gone when this exits\n");
    return 0;
}

static int run(const keys_args *a, int is_create, int is_list, meta_store *m)
{
    st_err e = ST_ERR_INIT;
    if (is_create) {
        char key[API_KEY_LEN + 1];
        int rc = keys_create(m, a->org, a->name, key);
        if (!rc)
            printf("%s\n", key);
        return rc;
    }
    if (is_list) {
        if (m->ops->key_list(m, print_key, NULL, &e) == ST_OK)
            return 0;
        fprintf(stderr, "argotd: cannot list keys: %s\n", e.msg);
        return 1;
    }
    int r = revoke_tried(m, a->id, &e);
    if (r == META_E_NOTFOUND)
        fprintf(stderr, "argotd: no active key %s\n", a->id);
    else if (r)
        fprintf(stderr, "argotd: cannot revoke the key: %s\n", e.msg);
    return r ? 1 : 0;
}

int keys_main(int argc, char **argv, meta_store *(*open_store)(const char *data, const char *meta))
{
    keys_args a = {0};
    if (argc >= 1 && (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h")))
        return usage(1);
    if (argc < 1 || parse(argc - 1, argv + 1, &a))
        return usage(0);
    if (a.help)
        return usage(1);
    const char *cmd = argv[0];
    int is_create = !strcmp(cmd, "create"), is_list = !strcmp(cmd, "list"),
        is_revoke = !strcmp(cmd, "revoke");
    if ((!is_create && !is_list && !is_revoke) || (is_create && !a.org) || (is_revoke && !a.id) ||
        (!is_revoke && a.id))
        return usage(0);
    if (check_settings(&a))
        return 2;
    meta_store *m = open_store(a.data, a.meta);
    if (!m)
        return 1;
    int rc = run(&a, is_create, is_list, m);
    meta_store_free(m);
    return rc;
}
