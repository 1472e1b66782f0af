/*
 * Local-disk blob store (see docs/storage.md).
 *
 *     <dir>/blobs/<first 2 hex of key>/<key>   committed blobs, 0600, dirs 0700
 *     <dir>/tmp/<key>.tmp                      open writers, removed by abort or sweep_temp
 *
 * Every path is built from a key that passed blob_key_valid() and is resolved relative to
 * directory descriptors opened once, so no user input ever reaches the file system.
 *
 * Fault injection (always compiled in; one predictable branch per write/fsync when unused):
 * ARGOT_FAULT_BLOB, read once by blob_local_open(), is a comma-separated list of op:N.
 *     write:N   the Nth write(2) of this store fails with ENOSPC
 *     fsync:N   the Nth fsync(2) of this store (files and directories) fails with EIO
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

enum { FAULT_WRITE, FAULT_FSYNC, FAULT_OPS };

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
            return BLOB_E_IO;
        }
        got += (size_t)n;
    }
    for (size_t i = 0; i < sizeof raw; i++) {
        key[2 * i] = hex[raw[i] >> 4];
        key[2 * i + 1] = hex[raw[i] & 15];
    }
    key[BLOB_KEY_LEN] = '\0';
    return BLOB_OK;
}

static int from_errno(int e)
{
    if (e == ENOSPC || e == EDQUOT)
        return BLOB_E_NOSPC;
    if (e == ENOMEM)
        return BLOB_E_NOMEM;
    return BLOB_E_IO;
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
    static const char *const names[FAULT_OPS] = {"write:", "fsync:"};
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
static int dir_open(int at, const char *name, int *out, int *created)
{
    *created = 0;
    if (mkdirat(at, name, 0700) == 0) {
        *created = 1;
        if (fchmodat(at, name, 0700, 0) != 0)
            return from_errno(errno);
    } else if (errno != EEXIST) {
        return from_errno(errno);
    }
    *out = openat(at, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return *out < 0 ? from_errno(errno) : BLOB_OK;
}

static DIR *dir_stream(int at, const char *name)
{
    int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d;

    if (fd < 0)
        return NULL;
    d = fdopendir(fd);
    if (!d) {
        int e = errno;
        close(fd);
        errno = e;
    }
    return d;
}

/* Makes sure blobs/xx exists and its entry in blobs/ is on disk before a blob is renamed in.
 * Another thread may have just created it without having fsynced blobs/ yet, so whoever sees
 * the flag unset fsyncs blobs/ itself: at most 256 extra fsyncs per process. */
static int fan_ensure(local_store *s, const char *key)
{
    unsigned idx = (unsigned)(hexval(key[0]) * 16 + hexval(key[1]));
    char fan[3] = {key[0], key[1], '\0'};

    if (atomic_load_explicit(&s->fan_durable[idx], memory_order_acquire))
        return BLOB_OK;
    if (mkdirat(s->blobs_fd, fan, 0700) == 0) {
        if (fchmodat(s->blobs_fd, fan, 0700, 0) != 0)
            return from_errno(errno);
    } else if (errno != EEXIST) {
        return from_errno(errno);
    }
    if (do_fsync(s, s->blobs_fd) != 0)
        return from_errno(errno);
    atomic_store_explicit(&s->fan_durable[idx], 1, memory_order_release);
    return BLOB_OK;
}

static int fan_sync(local_store *s, const char *key)
{
    char fan[3] = {key[0], key[1], '\0'};
    int fd = openat(s->blobs_fd, fan, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = BLOB_OK;

    if (fd < 0)
        return from_errno(errno);
    if (do_fsync(s, fd) != 0)
        rc = from_errno(errno);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

/* ---- writers ---- */

static int lw_open(blob_store *bs, const char *key, blob_writer **out)
{
    local_store *s = (local_store *)bs;
    char name[TMP_NAME_LEN];
    local_writer *w;

    if (!out || !blob_key_valid(key))
        return BLOB_E_INVALID;
    *out = NULL;
    w = calloc(1, sizeof *w);
    if (!w)
        return BLOB_E_NOMEM;
    tmp_name(name, key);
    w->fd = openat(s->tmp_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (w->fd < 0 || fchmod(w->fd, 0600) != 0) {
        int e = errno;
        if (w->fd >= 0) {
            close(w->fd);
            unlinkat(s->tmp_fd, name, 0);
        }
        free(w);
        errno = e;
        return from_errno(e);
    }
    w->base.store = bs;
    memcpy(w->key, key, sizeof w->key);
    *out = &w->base;
    return BLOB_OK;
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

static int lw_write(blob_writer *bw, const void *data, size_t len)
{
    local_writer *w = (local_writer *)bw;
    local_store *s = (local_store *)bw->store;
    const char *p = data;

    if (!p && len)
        return BLOB_E_INVALID;
    if (!reserve_ok(s, w, len)) {
        errno = ENOSPC;
        return BLOB_E_NOSPC;
    }
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
            return from_errno(errno);
        }
        p += n;
        len -= (size_t)n;
    }
    return BLOB_OK;
}

/* Fallback for copy_from when the kernel can't copy between these files. */
static int copy_rw(local_writer *w, int fd, off_t off, uint64_t len)
{
    enum { CHUNK = 1 << 20 };
    char *buf = malloc(CHUNK);
    int rc = BLOB_OK;

    if (!buf)
        return BLOB_E_NOMEM;
    while (rc == BLOB_OK && len > 0) {
        ssize_t n = pread(fd, buf, len < CHUNK ? (size_t)len : CHUNK, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO; /* the source is shorter than said */
            rc = BLOB_E_IO;
            break;
        }
        rc = lw_write(&w->base, buf, (size_t)n);
        off += n;
        len -= (uint64_t)n;
    }
    free(buf);
    return rc;
}

static int lw_copy_from(blob_writer *bw, int fd, uint64_t offset, uint64_t len)
{
    local_writer *w = (local_writer *)bw;
    local_store *s = (local_store *)bw->store;
    off_t off = (off_t)offset;

    if (fd < 0 || offset > (uint64_t)INT64_MAX || len > (uint64_t)INT64_MAX - offset)
        return BLOB_E_INVALID;
    if (len && fault_hit(s, FAULT_WRITE)) {
        errno = ENOSPC;
        return BLOB_E_NOSPC;
    }
    while (len > 0) {
        size_t want = len < ((size_t)1 << 30) ? (size_t)len : (size_t)1 << 30;
        ssize_t n = copy_file_range(fd, &off, w->fd, NULL, want, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP || errno == EINVAL))
            return copy_rw(w, fd, off, len);
        if (n < 0)
            return from_errno(errno);
        if (n == 0) {
            errno = EIO; /* the source is shorter than said */
            return BLOB_E_IO;
        }
        len -= (uint64_t)n;
    }
    return BLOB_OK;
}

/* fsync temp, rename into blobs/xx/, fsync blobs/xx/. On failure nothing remains. */
static int lw_commit(blob_writer *bw)
{
    local_writer *w = (local_writer *)bw;
    local_store *s = (local_store *)bw->store;
    char tmp[TMP_NAME_LEN], rel[REL_PATH_LEN];
    int rc, fd = w->fd, e;

    tmp_name(tmp, w->key);
    rel_path(rel, w->key);
    w->fd = -1;
    rc = do_fsync(s, fd) != 0 ? from_errno(errno) : BLOB_OK;
    e = errno;
    if (close(fd) != 0 && rc == BLOB_OK) {
        rc = from_errno(errno);
        e = errno;
    }
    errno = e;
    if (rc != BLOB_OK)
        goto fail_tmp;
    rc = fan_ensure(s, w->key);
    if (rc != BLOB_OK)
        goto fail_tmp;
    if (renameat(s->tmp_fd, tmp, s->blobs_fd, rel) != 0) {
        rc = from_errno(errno);
        goto fail_tmp;
    }
    rc = fan_sync(s, w->key);
    if (rc != BLOB_OK) {
        e = errno;
        unlinkat(s->blobs_fd, rel, 0);
        errno = e;
    }
    goto out;
fail_tmp:
    e = errno;
    unlinkat(s->tmp_fd, tmp, 0);
    errno = e;
out:
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

/* ---- committed blobs ---- */

static int ls_open_read(blob_store *bs, const char *key, blob_reader *out)
{
    local_store *s = (local_store *)bs;
    char rel[REL_PATH_LEN];
    struct stat st;
    int fd;

    if (!out || !blob_key_valid(key))
        return BLOB_E_INVALID;
    rel_path(rel, key);
    fd = openat(s->blobs_fd, rel, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? BLOB_E_NOTFOUND : from_errno(errno);
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return BLOB_E_IO;
    }
    out->fd = fd;
    out->size = (uint64_t)st.st_size;
    return BLOB_OK;
}

/* No directory fsync: a removal undone by a crash leaves an unreferenced blob, which the
 * sweeper's orphan pass finds. */
static int ls_remove(blob_store *bs, const char *key)
{
    local_store *s = (local_store *)bs;
    char rel[REL_PATH_LEN];

    if (!blob_key_valid(key))
        return BLOB_E_INVALID;
    rel_path(rel, key);
    if (unlinkat(s->blobs_fd, rel, 0) != 0)
        return errno == ENOENT ? BLOB_E_NOTFOUND : from_errno(errno);
    return BLOB_OK;
}

static int is_fan(const char *name)
{
    return hexval(name[0]) >= 0 && hexval(name[1]) >= 0 && name[2] == '\0';
}

static int list_fan(local_store *s, const char *fan, blob_list_cb cb, void *userdata)
{
    DIR *d = dir_stream(s->blobs_fd, fan);
    struct dirent *de;
    struct stat st;
    int rc = 0;

    if (!d)
        return errno == ENOENT ? 0 : from_errno(errno);
    while ((errno = 0, de = readdir(d)) != NULL) {
        if (!blob_key_valid(de->d_name) || memcmp(de->d_name, fan, 2) != 0)
            continue;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno == ENOENT) /* removed while we walk */
                continue;
            rc = from_errno(errno);
            break;
        }
        if (!S_ISREG(st.st_mode))
            continue;
        rc = cb(de->d_name, (uint64_t)st.st_size, (int64_t)st.st_mtime, userdata);
        if (rc != 0)
            break;
    }
    if (!de && errno != 0)
        rc = from_errno(errno);
    closedir(d);
    return rc;
}

static int ls_list(blob_store *bs, blob_list_cb cb, void *userdata)
{
    local_store *s = (local_store *)bs;
    DIR *top;
    struct dirent *de;
    int rc = 0;

    if (!cb)
        return BLOB_E_INVALID;
    top = dir_stream(s->blobs_fd, ".");
    if (!top)
        return from_errno(errno);
    while ((errno = 0, de = readdir(top)) != NULL) {
        if (!is_fan(de->d_name))
            continue;
        rc = list_fan(s, de->d_name, cb, userdata);
        if (rc != 0)
            break;
    }
    if (!de && errno != 0)
        rc = from_errno(errno);
    closedir(top);
    return rc;
}

static int ls_sweep_temp(blob_store *bs)
{
    local_store *s = (local_store *)bs;
    DIR *d = dir_stream(s->tmp_fd, ".");
    struct dirent *de;
    int n = 0, rc = BLOB_OK;

    if (!d)
        return from_errno(errno);
    while ((errno = 0, de = readdir(d)) != NULL) {
        const char *name = de->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
            continue;
        if (unlinkat(s->tmp_fd, name, 0) == 0 ||
            (errno == EISDIR && unlinkat(s->tmp_fd, name, AT_REMOVEDIR) == 0))
            n++;
        else if (errno != ENOENT && errno != EISDIR && errno != ENOTEMPTY && errno != EEXIST)
            rc = from_errno(errno);
    }
    if (!de && errno != 0)
        rc = from_errno(errno);
    closedir(d);
    return rc != BLOB_OK ? rc : n;
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
    .writer_open = lw_open,
    .write = lw_write,
    .commit = lw_commit,
    .abort = lw_abort,
    .open_read = ls_open_read,
    .remove = ls_remove,
    .list = ls_list,
    .sweep_temp = ls_sweep_temp,
    .free = ls_free,
    .copy_from = lw_copy_from,
};

int blob_local_open(blob_store **out, const char *dir)
{
    local_store *s = NULL;
    int rc, c1, c2, c3;

    if (!out || !dir || !*dir)
        return BLOB_E_INVALID;
    *out = NULL;
    s = calloc(1, sizeof *s);
    if (!s)
        return BLOB_E_NOMEM;
    s->base.ops = &local_ops;
    s->root_fd = s->blobs_fd = s->tmp_fd = -1;
    rc = dir_open(AT_FDCWD, dir, &s->root_fd, &c1);
    if (rc == BLOB_OK)
        rc = dir_open(s->root_fd, "blobs", &s->blobs_fd, &c2);
    if (rc == BLOB_OK)
        rc = dir_open(s->root_fd, "tmp", &s->tmp_fd, &c3);
    if (rc == BLOB_OK && (c2 || c3) && fsync(s->root_fd) != 0)
        rc = from_errno(errno);
    if (rc != BLOB_OK)
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
