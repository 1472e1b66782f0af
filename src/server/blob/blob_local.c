/*
 * Local-disk blob store (see docs/storage.md).
 *
 *     <dir>/blobs/<first 2 hex of key>/<key>   committed blobs, 0600, dirs 0700
 *     <dir>/tmp/<key>.tmp                      open writers, removed by abort, or by
 *                                              reap_unfinished once stale (a crashed writer)
 *
 * Every path is built from a key that passed blob_key_valid() and is resolved relative to
 * directory descriptors opened once, so no user input ever reaches the file system.
 *
 * Fault injection (always compiled in; one predictable branch per write/fsync when unused):
 * ARGOT_FAULT_BLOB, read once by blob_local_open(), is a comma-separated list of op:N.
 *     write:N   the Nth write(2) of this store fails with ENOSPC
 *     fsync:N   the Nth fsync(2) of this store (files and directories) fails with EIO
 *     remove:N  the Nth remove of a committed blob fails with EIO (the blob stays)
 * Counting starts at 1 for each store opened; each fault fires once.
 */
#define _GNU_SOURCE /* copy_file_range */
#include "server/blob/blob.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define B "local" /* the backend's name in error records */

enum { FAULT_WRITE, FAULT_FSYNC, FAULT_REMOVE, FAULT_OPS };

typedef struct local_store {
    blob_store base;
    int root_fd;
    int blobs_fd;
    int tmp_fd;
    long fault_at[FAULT_OPS]; /* 0: no injected fault */
    atomic_long fault_seen[FAULT_OPS];
    /* Set once blobs/xx is known to be durably linked into blobs/ by this process. */
    atomic_uchar fan_durable[256];
    uint64_t min_free; /* writes fail with NOSPC when less would be left (0: off) */
} local_store;

typedef struct local_writer {
    blob_writer base;
    int fd;
    uint64_t unchecked; /* bytes written since the last free-space check */
    char key[BLOB_KEY_LEN + 1];
} local_writer;

typedef struct local_reader {
    blob_reader base;
    int fd;
    uint64_t off;  /* next byte of the range */
    uint64_t left; /* bytes of the range still to read */
} local_reader;

#define TMP_NAME_LEN (BLOB_KEY_LEN + sizeof ".tmp") /* incl. NUL */
#define REL_PATH_LEN (3 + BLOB_KEY_LEN + 1)         /* "xx/" + key + NUL */

static const blob_ops local_ops;

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int blob_key_valid(const char *key)
{
    if (!key)
        return 0;
    for (size_t i = 0; i < BLOB_KEY_LEN; i++) {
        if (hexval(key[i]) < 0) /* also stops at an early NUL */
            return 0;
    }
    return key[BLOB_KEY_LEN] == '\0';
}

int blob_key_new(char key[BLOB_KEY_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[BLOB_KEY_LEN / 2];
    size_t got = 0;

    while (got < sizeof raw) {
        ssize_t n = getrandom(raw + got, sizeof raw - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return ST_E_IO;
        }
        got += (size_t)n;
    }
    for (size_t i = 0; i < sizeof raw; i++) {
        key[2 * i] = hex[raw[i] >> 4];
        key[2 * i + 1] = hex[raw[i] & 15];
    }
    key[BLOB_KEY_LEN] = '\0';
    return ST_OK;
}

static int sys_fail(st_err *e, const char *what)
{
    return st_fail_errno(e, errno, B, what);
}

static void tmp_name(char out[TMP_NAME_LEN], const char *key)
{
    memcpy(out, key, BLOB_KEY_LEN);
    memcpy(out + BLOB_KEY_LEN, ".tmp", sizeof ".tmp");
}

static void rel_path(char out[REL_PATH_LEN], const char *key)
{
    out[0] = key[0];
    out[1] = key[1];
    out[2] = '/';
    memcpy(out + 3, key, BLOB_KEY_LEN + 1);
}

/* ---- fault injection ---- */

static void fault_parse(local_store *s)
{
    static const char *const names[FAULT_OPS] = {"write:", "fsync:", "remove:"};
    const char *p = getenv("ARGOT_FAULT_BLOB");

    while (p && *p) {
        char *end = NULL;
        int op = 0;
        while (op < FAULT_OPS && strncmp(p, names[op], strlen(names[op])) != 0)
            op++;
        if (op == FAULT_OPS)
            return;
        long n = strtol(p + strlen(names[op]), &end, 10);
        if (n > 0)
            s->fault_at[op] = n;
        p = (*end == ',') ? end + 1 : NULL;
    }
}

static int fault_hit(local_store *s, int op)
{
    if (s->fault_at[op] == 0)
        return 0;
    return atomic_fetch_add(&s->fault_seen[op], 1) + 1 == s->fault_at[op];
}

static int do_fsync(local_store *s, int fd)
{
    if (fault_hit(s, FAULT_FSYNC)) {
        errno = EIO;
        return -1;
    }
    return fsync(fd);
}

/* ---- directories ---- */

/* Creates name under at (0700 whatever the umask) unless it exists, then opens it.
 * *created tells whether a new entry was made in at. */
static int dir_open(int at, const char *name, int *out, int *created, st_err *e)
{
    *created = 0;
    if (mkdirat(at, name, 0700) == 0) {
        *created = 1;
        if (fchmodat(at, name, 0700, 0) != 0)
            return sys_fail(e, "chmod of a directory");
    } else if (errno != EEXIST) {
        return sys_fail(e, "mkdir");
    }
    *out = openat(at, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return *out < 0 ? sys_fail(e, "open of a directory") : ST_OK;
}

static DIR *dir_stream(int at, const char *name)
{
    int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d;

    if (fd < 0)
        return NULL;
    d = fdopendir(fd);
    if (!d) {
        int err = errno;
        close(fd);
        errno = err;
    }
    return d;
}

/* Makes sure blobs/xx exists and its entry in blobs/ is on disk before a blob is renamed in.
 * Another thread may have just created it without having fsynced blobs/ yet, so whoever sees
 * the flag unset fsyncs blobs/ itself: at most 256 extra fsyncs per process. */
static int fan_ensure(local_store *s, const char *key, st_err *e)
{
    unsigned idx = (unsigned)(hexval(key[0]) * 16 + hexval(key[1]));
    char fan[3] = {key[0], key[1], '\0'};

    if (atomic_load_explicit(&s->fan_durable[idx], memory_order_acquire))
        return ST_OK;
    if (mkdirat(s->blobs_fd, fan, 0700) == 0) {
        if (fchmodat(s->blobs_fd, fan, 0700, 0) != 0)
            return sys_fail(e, "chmod of blobs/xx");
    } else if (errno != EEXIST) {
        return sys_fail(e, "mkdir blobs/xx");
    }
    if (do_fsync(s, s->blobs_fd) != 0)
        return sys_fail(e, "fsync of blobs/");
    atomic_store_explicit(&s->fan_durable[idx], 1, memory_order_release);
    return ST_OK;
}

static int fan_sync(local_store *s, const char *key, st_err *e)
{
    char fan[3] = {key[0], key[1], '\0'};
    int fd = openat(s->blobs_fd, fan, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = ST_OK;

    if (fd < 0)
        return sys_fail(e, "open of blobs/xx");
    if (do_fsync(s, fd) != 0)
        rc = sys_fail(e, "fsync of blobs/xx");
    close(fd);
    return rc;
}

static int bad_key(st_err *e)
{
    return st_fail(e, ST_E_INVALID, B, 0, "a malformed blob key");
}

/* ---- writers ---- */

static int lw_open(blob_store *bs, const char *key, blob_writer **out, st_err *e)
{
    local_store *s = (local_store *)bs;
    char name[TMP_NAME_LEN];
    local_writer *w;

    if (!out || !blob_key_valid(key))
        return bad_key(e);
    *out = NULL;
    w = calloc(1, sizeof *w);
    if (!w)
        return st_fail(e, ST_E_NOMEM, B, ENOMEM, "writer");
    tmp_name(name, key);
    w->fd = openat(s->tmp_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (w->fd < 0 || fchmod(w->fd, 0600) != 0) {
        int err = errno;
        if (w->fd >= 0) {
            close(w->fd);
            unlinkat(s->tmp_fd, name, 0);
        }
        free(w);
        if (err == EEXIST)
            return st_fail(e, ST_E_CONFLICT, B, err, "a write of this blob is open");
        return st_fail_errno(e, err, B, "create of a temporary");
    }
    w->base.store = bs;
    memcpy(w->key, key, sizeof w->key);
    *out = &w->base;
    return ST_OK;
}

/* The free-space reserve: uploads are refused (507) while the filesystem still has room, so
 * the metadata store on the same disk can always commit deletes that free space. Checked at
 * the first write and then every MiB (one fstatvfs). */
#define FREE_CHECK_EVERY (1u << 20)

static int reserve_ok(local_store *s, local_writer *w, size_t len)
{
    struct statvfs vfs;
    if (!s->min_free)
        return 1;
    if (w->unchecked && w->unchecked + len < FREE_CHECK_EVERY) {
        w->unchecked += len;
        return 1;
    }
    w->unchecked = len ? len : 1;
    if (fstatvfs(w->fd, &vfs) != 0)
        return 1; /* no answer: let write(2) tell */
    return (uint64_t)vfs.f_bavail * vfs.f_frsize >= s->min_free + len;
}

static int lw_write(blob_writer *bw, const void *data, size_t len, st_err *e)
{
    local_writer *w = (local_writer *)bw;
    local_store *s = (local_store *)bw->store;
    const char *p = data;

    if (!p && len)
        return st_fail(e, ST_E_INVALID, B, 0, "write of NULL");
    if (!reserve_ok(s, w, len))
        return st_fail(e, ST_E_NOSPC, B, ENOSPC, "the free-space reserve is reached");
    while (len > 0) {
        ssize_t n;
        if (fault_hit(s, FAULT_WRITE)) {
            errno = ENOSPC;
            n = -1;
        } else {
            n = write(w->fd, p, len);
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return sys_fail(e, "write");
        }
        p += n;
        len -= (size_t)n;
    }
    return ST_OK;
}

/* Fallback of compose when the kernel can't copy between these files. */
static int copy_rw(local_writer *w, int fd, off_t off, uint64_t len, st_err *e)
{
    enum { CHUNK = 1 << 20 };
    char *buf = malloc(CHUNK);
    int rc = ST_OK;

    if (!buf)
        return st_fail(e, ST_E_NOMEM, B, ENOMEM, "copy buffer");
    while (rc == ST_OK && len > 0) {
        ssize_t n = pread(fd, buf, len < CHUNK ? (size_t)len : CHUNK, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = n == 0 ? st_fail(e, ST_E_IO, B, EIO, "the source blob is shorter than said")
                        : sys_fail(e, "read of a source blob");
            break;
        }
        rc = lw_write(&w->base, buf, (size_t)n, e);
        off += n;
        len -= (uint64_t)n;
    }
    free(buf);
    return rc;
}

static int copy_fd(local_writer *w, int fd, uint64_t offset, uint64_t len, st_err *e)
{
    local_store *s = (local_store *)w->base.store;
    off_t off = (off_t)offset;

    if (len && fault_hit(s, FAULT_WRITE))
        return st_fail(e, ST_E_NOSPC, B, ENOSPC, "compose (injected)");
    while (len > 0) {
        size_t want = len < ((size_t)1 << 30) ? (size_t)len : (size_t)1 << 30;
        ssize_t n = copy_file_range(fd, &off, w->fd, NULL, want, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP || errno == EINVAL))
            return copy_rw(w, fd, off, len, e);
        if (n < 0)
            return sys_fail(e, "copy_file_range");
        if (n == 0)
            return st_fail(e, ST_E_IO, B, EIO, "the source blob is shorter than said");
        len -= (uint64_t)n;
    }
    return ST_OK;
}

static int open_committed(local_store *s, const char *key, st_err *e)
{
    char rel[REL_PATH_LEN];
    rel_path(rel, key);
    int fd = openat(s->blobs_fd, rel, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return st_fail(e, ST_E_NOTFOUND, B, ENOENT, "no blob %.8s...", key);
    return fd < 0 ? sys_fail(e, "open of a blob") : fd;
}

static int lw_compose(blob_writer *bw, const char *src, uint64_t off, uint64_t len, st_err *e)
{
    local_writer *w = (local_writer *)bw;
    if (!blob_key_valid(src))
        return bad_key(e);
    if (off > (uint64_t)INT64_MAX || len > (uint64_t)INT64_MAX - off)
        return st_fail(e, ST_E_INVALID, B, 0, "compose range");
    int fd = open_committed((local_store *)bw->store, src, e);
    if (fd < 0)
        return fd;
    int rc = copy_fd(w, fd, off, len, e);
    close(fd);
    return rc;
}

/* fsync temp, rename into blobs/xx/, fsync blobs/xx/. On failure nothing remains. */
static int lw_commit(blob_writer *bw, st_err *e)
{
    local_writer *w = (local_writer *)bw;
    local_store *s = (local_store *)bw->store;
    char tmp[TMP_NAME_LEN], rel[REL_PATH_LEN];
    int rc, fd = w->fd;

    tmp_name(tmp, w->key);
    rel_path(rel, w->key);
    w->fd = -1;
    rc = do_fsync(s, fd) != 0 ? sys_fail(e, "fsync of a temporary") : ST_OK;
    if (close(fd) != 0 && rc == ST_OK)
        rc = sys_fail(e, "close of a temporary");
    if (rc == ST_OK)
        rc = fan_ensure(s, w->key, e);
    if (rc == ST_OK && renameat(s->tmp_fd, tmp, s->blobs_fd, rel) != 0)
        rc = sys_fail(e, "rename into blobs/");
    else if (rc == ST_OK && (rc = fan_sync(s, w->key, e)) != ST_OK)
        unlinkat(s->blobs_fd, rel, 0); /* not durably named: as if never committed */
    if (rc != ST_OK)
        unlinkat(s->tmp_fd, tmp, 0);
    free(w);
    return rc;
}

static void lw_abort(blob_writer *bw)
{
    local_writer *w = (local_writer *)bw;
    char tmp[TMP_NAME_LEN];

    if (!w)
        return;
    tmp_name(tmp, w->key);
    if (w->fd >= 0)
        close(w->fd);
    unlinkat(((local_store *)bw->store)->tmp_fd, tmp, 0);
    free(w);
}

/* ---- readers ---- */

static int lr_open(blob_store *bs,
                   const char *key,
                   uint64_t off,
                   uint64_t len,
                   blob_reader **out,
                   uint64_t *size,
                   st_err *e)
{
    struct stat st;
    if (!out || !blob_key_valid(key))
        return bad_key(e);
    *out = NULL;
    int fd = open_committed((local_store *)bs, key, e);
    if (fd < 0)
        return fd;
    local_reader *r = calloc(1, sizeof *r);
    if (!r || fstat(fd, &st) != 0) {
        int rc = r ? sys_fail(e, "fstat of a blob") : st_fail(e, ST_E_NOMEM, B, ENOMEM, "reader");
        free(r);
        close(fd);
        return rc;
    }
    uint64_t total = (uint64_t)st.st_size;
    r->base.store = bs;
    r->fd = fd;
    r->off = off < total ? off : total;
    r->left = len > total - r->off ? total - r->off : len;
    if (size)
        *size = total;
    *out = &r->base;
    return ST_OK;
}

static ssize_t lr_read(blob_reader *br, void *buf, size_t cap, st_err *e)
{
    local_reader *r = (local_reader *)br;
    if (r->fd < 0)
        return st_fail(e, ST_E_INVALID, B, 0, "read of a reader whose descriptor was taken");
    size_t want = r->left < cap ? (size_t)r->left : cap;
    if (!want)
        return 0;
    ssize_t n;
    do
        n = pread(r->fd, buf, want, (off_t)r->off);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return sys_fail(e, "read of a blob");
    if (n == 0)
        return st_fail(e, ST_E_IO, B, EIO, "a blob is shorter than its size");
    r->off += (uint64_t)n;
    r->left -= (uint64_t)n;
    return n;
}

static int lr_take_fd(blob_reader *br, int *fd, uint64_t *off, uint64_t *len)
{
    local_reader *r = (local_reader *)br;
    if (r->fd < 0)
        return -1;
    *fd = r->fd;
    *off = r->off;
    *len = r->left;
    r->fd = -1;
    r->left = 0;
    return 0;
}

static void lr_close(blob_reader *br)
{
    local_reader *r = (local_reader *)br;
    if (!r)
        return;
    if (r->fd >= 0)
        close(r->fd);
    free(r);
}

/* ---- management ---- */

/* No directory fsync: a removal undone by a crash leaves an unreferenced blob, which the
 * garbage collector's orphan pass finds. */
static int ls_remove(blob_store *bs, const char *key, st_err *e)
{
    local_store *s = (local_store *)bs;
    char rel[REL_PATH_LEN];

    if (!blob_key_valid(key))
        return bad_key(e);
    rel_path(rel, key);
    if (fault_hit(s, FAULT_REMOVE)) {
        errno = EIO;
        return sys_fail(e, "unlink of a blob (injected)");
    }
    if (unlinkat(s->blobs_fd, rel, 0) != 0 && errno != ENOENT)
        return sys_fail(e, "unlink of a blob");
    char tmp[TMP_NAME_LEN];
    tmp_name(tmp, key);
    if (unlinkat(s->tmp_fd, tmp, 0) != 0 && errno != ENOENT)
        return sys_fail(e, "unlink of a temporary");
    return ST_OK;
}

typedef struct name_vec {
    char (*v)[BLOB_KEY_LEN + 1];
    size_t n, cap;
} name_vec;

static int cmp_names(const void *a, const void *b)
{
    return memcmp(a, b, BLOB_KEY_LEN);
}

/* The valid keys of blobs/<fan>/ greater than after, sorted. */
static int fan_names(local_store *s, const char *fan, const char *after, name_vec *nv, st_err *e)
{
    DIR *d = dir_stream(s->blobs_fd, fan);
    struct dirent *de;
    nv->n = 0;
    if (!d)
        return errno == ENOENT ? ST_OK : sys_fail(e, "open of blobs/xx");
    while ((errno = 0, de = readdir(d)) != NULL) {
        if (!blob_key_valid(de->d_name) || memcmp(de->d_name, fan, 2) != 0 ||
            memcmp(de->d_name, after, BLOB_KEY_LEN) <= 0)
            continue;
        if (nv->n == nv->cap) {
            size_t cap = nv->cap ? 2 * nv->cap : 256;
            void *p = realloc(nv->v, cap * sizeof *nv->v);
            if (!p) {
                closedir(d);
                return st_fail(e, ST_E_NOMEM, B, ENOMEM, "list");
            }
            nv->v = p;
            nv->cap = cap;
        }
        memcpy(nv->v[nv->n++], de->d_name, BLOB_KEY_LEN + 1);
    }
    int rc = (!de && errno != 0) ? sys_fail(e, "readdir of blobs/xx") : ST_OK;
    closedir(d);
    if (nv->n > 1)
        qsort(nv->v, nv->n, sizeof *nv->v, cmp_names);
    return rc;
}

/* Reports the regular files among names; counts into *n up to limit. */
static int fan_emit(
    local_store *s, const name_vec *nv, int limit, int *n, blob_list_cb cb, void *ud, st_err *e)
{
    struct stat st;
    for (size_t i = 0; i < nv->n && *n < limit; i++) {
        char rel[REL_PATH_LEN];
        rel_path(rel, nv->v[i]);
        if (fstatat(s->blobs_fd, rel, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno == ENOENT) /* removed while we walk */
                continue;
            return sys_fail(e, "stat of a blob");
        }
        if (!S_ISREG(st.st_mode))
            continue;
        (*n)++;
        int stop = cb(nv->v[i], (uint64_t)st.st_size, (int64_t)st.st_mtime, ud);
        if (stop)
            return stop;
    }
    return ST_OK;
}

static int ls_list(
    blob_store *bs, const char *after, int limit, blob_list_cb cb, void *ud, st_err *e)
{
    local_store *s = (local_store *)bs;
    char from[BLOB_KEY_LEN + 1];
    if (!cb || limit <= 0)
        return st_fail(e, ST_E_INVALID, B, 0, "list arguments");
    memset(from, 0, sizeof from); /* all zero bytes: before every key */
    if (after && *after) {
        if (!blob_key_valid(after))
            return bad_key(e);
        memcpy(from, after, sizeof from);
    }
    name_vec nv = {NULL, 0, 0};
    int n = 0, rc = ST_OK;
    unsigned first = from[0] ? (unsigned)(hexval(from[0]) * 16 + hexval(from[1])) : 0;
    for (unsigned idx = first; idx < 256 && n < limit && rc == ST_OK; idx++) {
        static const char hex[] = "0123456789abcdef";
        char fan[3] = {hex[idx >> 4], hex[idx & 15], '\0'};
        rc = fan_names(s, fan, from, &nv, e);
        if (rc == ST_OK)
            rc = fan_emit(s, &nv, limit, &n, cb, ud, e);
    }
    free(nv.v);
    return rc != ST_OK ? rc : n;
}

static int ls_reap(blob_store *bs, int64_t older_than, st_err *e)
{
    local_store *s = (local_store *)bs;
    DIR *d = dir_stream(s->tmp_fd, ".");
    struct dirent *de;
    struct stat st;
    int n = 0, rc = ST_OK;

    if (!d)
        return sys_fail(e, "open of tmp/");
    while ((errno = 0, de = readdir(d)) != NULL) {
        const char *name = de->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
            continue;
        if (fstatat(s->tmp_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 || st.st_mtime >= older_than)
            continue;
        if (unlinkat(s->tmp_fd, name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) == 0)
            n++;
        else if (errno != ENOENT && errno != ENOTEMPTY && errno != EEXIST)
            rc = sys_fail(e, "unlink of a temporary");
    }
    if (!de && errno != 0)
        rc = sys_fail(e, "readdir of tmp/");
    closedir(d);
    return rc != ST_OK ? rc : n;
}

static void ls_free(blob_store *bs)
{
    local_store *s = (local_store *)bs;

    if (!s)
        return;
    if (s->tmp_fd >= 0)
        close(s->tmp_fd);
    if (s->blobs_fd >= 0)
        close(s->blobs_fd);
    if (s->root_fd >= 0)
        close(s->root_fd);
    free(s);
}

static const blob_ops local_ops = {
    .version = BLOB_OPS_VERSION,
    .name = "local",
    .caps = BLOB_CAP_FD | BLOB_CAP_COMPOSE,
    .writer_open = lw_open,
    .write = lw_write,
    .commit = lw_commit,
    .abort = lw_abort,
    .compose = lw_compose,
    .reader_open = lr_open,
    .read = lr_read,
    .reader_take_fd = lr_take_fd,
    .reader_close = lr_close,
    .remove = ls_remove,
    .list = ls_list,
    .reap_unfinished = ls_reap,
    .free = ls_free,
};

int blob_local_open(blob_store **out, const char *dir, st_err *e)
{
    local_store *s = NULL;
    int rc, c1, c2, c3;

    if (!out || !dir || !*dir)
        return st_fail(e, ST_E_INVALID, B, 0, "no directory");
    *out = NULL;
    s = calloc(1, sizeof *s);
    if (!s)
        return st_fail(e, ST_E_NOMEM, B, ENOMEM, "store");
    s->base.ops = &local_ops;
    s->root_fd = s->blobs_fd = s->tmp_fd = -1;
    rc = dir_open(AT_FDCWD, dir, &s->root_fd, &c1, e);
    if (rc == ST_OK)
        rc = dir_open(s->root_fd, "blobs", &s->blobs_fd, &c2, e);
    if (rc == ST_OK)
        rc = dir_open(s->root_fd, "tmp", &s->tmp_fd, &c3, e);
    if (rc == ST_OK && (c2 || c3) && fsync(s->root_fd) != 0)
        rc = sys_fail(e, "fsync of the data dir");
    if (rc != ST_OK)
        goto out;
    fault_parse(s);
    *out = &s->base;
    s = NULL;
out:
    ls_free(s ? &s->base : NULL);
    return rc;
}

void blob_local_set_min_free(blob_store *bs, uint64_t bytes)
{
    if (bs && bs->ops == &local_ops)
        ((local_store *)bs)->min_free = bytes;
}
