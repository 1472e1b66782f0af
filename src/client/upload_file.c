/*
 * argot_uploads_upload_file(): a whole file through the Uploads API over N connections.
 *
 * Design (see docs/sdk.md, "Parallel uploads"):
 * - The calling thread creates the Upload, completes or cancels it, and runs the progress
 *   callback; only it touches the caller's client.
 * - N worker threads each own a private client (argot__client_clone: one curl easy handle, one
 *   connection) and take the next part index from a counter under the job mutex. A part is
 *   streamed with pread() from one shared read-only fd, so nothing holds a part in memory and
 *   the fd offset is never shared state. Each part gets the normal per-request retry policy.
 * - The first part that fails for good sets `stop`; the other workers' transfers then abort
 *   through their progress function and no new part is started.
 * - While the workers send, the calling thread reads the file once more sequentially for the
 *   MD5 (1 MiB pread()s) and reports progress every 100 ms.
 */
#include "client/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MD5_CHUNK         ((size_t)1 << 20)
#define PROGRESS_EVERY_MS 100u

typedef struct job {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int fd;
    uint64_t size;
    uint64_t part_size;
    size_t nparts;
    size_t next;     /* next part index to send */
    char **part_ids; /* [nparts], filled as parts finish */
    const char *upload_id;
    const argot_request_options *opts;
    uint64_t done_bytes; /* bytes of finished parts */
    int stop;            /* a part failed or the caller aborted: start nothing new */
    int running;         /* workers not yet finished */
    argot_status failed; /* first failure */
    int failed_worker;   /* index of the worker whose client holds its detail, or -1 */
} job;

typedef struct worker {
    job *j;
    int idx;
    pthread_t tid;
    int started;
    argot_client *client;
    uint64_t inflight; /* bytes of the current part sent so far (under j->mu) */
} worker;

/* ---- workers ---- */

static int worker_progress(uint64_t done, uint64_t total, void *ud)
{
    worker *w = ud;
    int stop;

    (void)total;
    pthread_mutex_lock(&w->j->mu);
    w->inflight = done;
    stop = w->j->stop;
    pthread_mutex_unlock(&w->j->mu);
    return stop;
}

static uint64_t part_len(const job *j, size_t i)
{
    uint64_t off = (uint64_t)i * j->part_size;
    return j->size - off < j->part_size ? j->size - off : j->part_size;
}

static argot_status send_part(worker *w, size_t i, char **id)
{
    argot_add_upload_part_request pr = ARGOT_ADD_UPLOAD_PART_REQUEST_INIT;
    argot_upload_part *p = NULL;
    argot_status st;

    pr.upload_id = w->j->upload_id;
    pr.data.kind = ARGOT_SOURCE_FD;
    pr.data.fd = w->j->fd;
    pr.offset = (uint64_t)i * w->j->part_size;
    pr.length = (int64_t)part_len(w->j, i);
    pr.progress = worker_progress;
    pr.progress_userdata = w;
    st = argot_uploads_add_part(&p, w->client, &pr, w->j->opts);
    if (st == ARGOT_OK) {
        *id = p->id;
        p->id = NULL;
    }
    argot_upload_part_free(p);
    return st;
}

/* Records the outcome of part i; returns non-zero when the worker must stop. */
static int finish_part(worker *w, size_t i, argot_status st, char *id)
{
    job *j = w->j;
    int stop;

    pthread_mutex_lock(&j->mu);
    w->inflight = 0;
    if (st == ARGOT_OK) {
        j->part_ids[i] = id;
        j->done_bytes += part_len(j, i);
    } else {
        j->stop = 1;
        if (j->failed == ARGOT_OK) { /* the first failure wins; later ones are its echo */
            j->failed = st;
            j->failed_worker = w->idx;
        }
    }
    stop = j->stop;
    pthread_mutex_unlock(&j->mu);
    return stop;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    job *j = w->j;
    size_t i;
    char *id;
    argot_status st;

    for (;;) {
        pthread_mutex_lock(&j->mu);
        if (j->stop || j->next == j->nparts) {
            pthread_mutex_unlock(&j->mu);
            break;
        }
        i = j->next++;
        pthread_mutex_unlock(&j->mu);
        id = NULL;
        st = send_part(w, i, &id);
        if (finish_part(w, i, st, id) != 0)
            break;
    }
    pthread_mutex_lock(&j->mu);
    j->running--;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

/* ---- the calling thread ---- */

static void job_stop(job *j, argot_status st)
{
    pthread_mutex_lock(&j->mu);
    if (j->failed == ARGOT_OK) {
        j->failed = st;
        j->failed_worker = -1;
    }
    j->stop = 1;
    pthread_mutex_unlock(&j->mu);
}

static argot_status start_workers(argot_client *c, job *j, worker *ws, unsigned n)
{
    unsigned k;

    for (k = 0; k < n; k++) {
        ws[k].j = j;
        ws[k].idx = (int)k;
        if (argot__client_clone(&ws[k].client, c) != ARGOT_OK)
            return ARGOT_E_NOMEM;
    }
    for (k = 0; k < n; k++) {
        pthread_mutex_lock(&j->mu);
        j->running++;
        pthread_mutex_unlock(&j->mu);
        if (pthread_create(&ws[k].tid, NULL, worker_main, &ws[k]) != 0) {
            pthread_mutex_lock(&j->mu);
            j->running--;
            pthread_mutex_unlock(&j->mu);
            return ARGOT_E_NOMEM;
        }
        ws[k].started = 1;
    }
    return ARGOT_OK;
}

typedef struct watch {
    const argot_upload_file_request *req;
    EVP_MD_CTX *md;
    char *buf;
    uint64_t hashed;
    uint64_t last_ms;
    int io_errno;
} watch;

/* Reads and hashes the next chunk; 0 ok, -1 read error. */
static int hash_step(watch *wt, job *j)
{
    size_t want = j->size - wt->hashed < MD5_CHUNK ? (size_t)(j->size - wt->hashed) : MD5_CHUNK;
    ssize_t n;

    do {
        n = pread(j->fd, wt->buf, want, (off_t)wt->hashed);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) {
        wt->io_errno = n < 0 ? errno : EIO; /* EOF early: the file shrank */
        return -1;
    }
    if (EVP_DigestUpdate(wt->md, wt->buf, (size_t)n) != 1) {
        wt->io_errno = ENOMEM;
        return -1;
    }
    wt->hashed += (uint64_t)n;
    return 0;
}

/* Calls the progress callback at most every PROGRESS_EVERY_MS; returns its verdict. */
static int report(watch *wt, job *j, const worker *ws, unsigned n, int force)
{
    uint64_t now = argot__now_ms(), done;
    unsigned k;

    if (wt->req->progress == NULL || (!force && now - wt->last_ms < PROGRESS_EVERY_MS))
        return 0;
    wt->last_ms = now;
    pthread_mutex_lock(&j->mu);
    done = j->done_bytes;
    for (k = 0; k < n; k++)
        done += ws[k].inflight;
    pthread_mutex_unlock(&j->mu);
    return wt->req->progress(done, j->size, wt->req->progress_userdata);
}

static void wait_a_little(job *j)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += (long)PROGRESS_EVERY_MS * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&j->mu);
    if (j->running > 0)
        (void)pthread_cond_timedwait(&j->cv, &j->mu, &ts);
    pthread_mutex_unlock(&j->mu);
}

/* Hashes the file and reports progress until every worker is done. */
static void supervise(watch *wt, job *j, const worker *ws, unsigned n)
{
    int running, stop, hashing;

    for (;;) {
        pthread_mutex_lock(&j->mu);
        running = j->running;
        stop = j->stop;
        pthread_mutex_unlock(&j->mu);
        hashing = wt->md != NULL && !stop && wt->hashed < j->size;
        if (running == 0 && !hashing)
            break;
        if (!stop && report(wt, j, ws, n, 0) != 0)
            job_stop(j, ARGOT_E_ABORTED);
        else if (hashing && hash_step(wt, j) != 0)
            job_stop(j, ARGOT_E_IO);
        else if (!hashing)
            wait_a_little(j);
    }
}

static void join_workers(worker *ws, unsigned n)
{
    unsigned k;

    for (k = 0; k < n; k++)
        if (ws[k].started)
            pthread_join(ws[k].tid, NULL);
}

static void md5_hex(EVP_MD_CTX *md, char *hex)
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int len = 0, i;

    hex[0] = '\0';
    if (EVP_DigestFinal_ex(md, d, &len) != 1)
        return;
    for (i = 0; i < len; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

/* ---- the operation ---- */

typedef struct run {
    argot_client *c;
    const argot_upload_file_request *req;
    const argot_request_options *opts;
    int fd;
    uint64_t size;
    uint64_t part_size;
    unsigned parallel;
    argot_upload *up; /* the pending upload */
    char md5[2 * EVP_MAX_MD_SIZE + 1];
} run;

static argot_status check_request(run *r)
{
    const argot_upload_file_request *req = r->req;

    if (req->path == NULL || req->path[0] == '\0')
        return argot__error_set(r->c, ARGOT_E_INVALID, "path is required");
    if (req->purpose == NULL || req->purpose[0] == '\0')
        return argot__error_set(r->c, ARGOT_E_INVALID, "purpose is required");
    if (req->part_size > ARGOT_UPLOAD_MAX_PART_SIZE)
        return argot__error_set(r->c, ARGOT_E_INVALID, "part_size is over 64 MiB");
    if (req->parallel > ARGOT_UPLOAD_MAX_PARALLEL)
        return argot__error_set(r->c, ARGOT_E_INVALID, "parallel is over %u",
                                ARGOT_UPLOAD_MAX_PARALLEL);
    if (req->expires_after < 0)
        return argot__error_set(r->c, ARGOT_E_INVALID, "expires_after must not be negative");
    r->part_size = req->part_size != 0 ? req->part_size : ARGOT_UPLOAD_DEFAULT_PART_SIZE;
    r->parallel = req->parallel != 0 ? req->parallel : ARGOT_UPLOAD_DEFAULT_PARALLEL;
    return ARGOT_OK;
}

static argot_status open_file(run *r)
{
    struct stat sb;

    r->fd = open(r->req->path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0 || fstat(r->fd, &sb) != 0) {
        r->c->err.os_errno = errno;
        return argot__error_set(r->c, ARGOT_E_IO, "cannot open %s: %s", r->req->path,
                                strerror(errno));
    }
    if (!S_ISREG(sb.st_mode))
        return argot__error_set(r->c, ARGOT_E_INVALID, "%s is not a regular file", r->req->path);
    r->size = (uint64_t)sb.st_size;
    return ARGOT_OK;
}

static argot_status create_upload(run *r)
{
    argot_create_upload_request cr = ARGOT_CREATE_UPLOAD_REQUEST_INIT;
    const char *slash = strrchr(r->req->path, '/');

    cr.filename = r->req->filename;
    if (cr.filename == NULL || cr.filename[0] == '\0')
        cr.filename = slash != NULL ? slash + 1 : r->req->path;
    cr.purpose = r->req->purpose;
    cr.bytes = (int64_t)r->size;
    cr.mime_type = r->req->mime_type;
    if (cr.mime_type == NULL || cr.mime_type[0] == '\0')
        cr.mime_type = argot_mime_type_guess(cr.filename);
    cr.expires_after = r->req->expires_after;
    return argot_uploads_create(&r->up, r->c, &cr, r->opts);
}

/* Sends every part; on failure leaves the detail on r->c. */
static argot_status send_parts(run *r, job *j, worker *ws, unsigned n)
{
    watch wt;
    argot_status st;

    memset(&wt, 0, sizeof(wt));
    wt.req = r->req;
    wt.last_ms = 0; /* the first report is immediate */
    if (!r->req->no_md5 &&
        ((wt.md = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex(wt.md, EVP_md5(), NULL) != 1 ||
         (wt.buf = malloc(MD5_CHUNK)) == NULL))
        job_stop(j, ARGOT_E_NOMEM);
    if (!j->stop && start_workers(r->c, j, ws, n) != ARGOT_OK)
        job_stop(j, ARGOT_E_NOMEM);
    supervise(&wt, j, ws, n);
    join_workers(ws, n);
    st = j->failed;
    if (st == ARGOT_OK && wt.md != NULL)
        md5_hex(wt.md, r->md5);
    if (st != ARGOT_OK && j->failed_worker >= 0)
        argot__error_copy(r->c, ws[j->failed_worker].client);
    else if (st == ARGOT_E_IO)
        r->c->err.os_errno = wt.io_errno;
    if (st != ARGOT_OK && j->failed_worker < 0)
        argot__error_set(r->c, st, st == ARGOT_E_IO ? "cannot read the file: %s" : "%s",
                         st == ARGOT_E_IO ? strerror(wt.io_errno) : argot_status_str(st));
    EVP_MD_CTX_free(wt.md);
    free(wt.buf);
    return st;
}

static argot_status complete_upload(run *r, job *j, argot_upload **out)
{
    argot_complete_upload_request cr = ARGOT_COMPLETE_UPLOAD_REQUEST_INIT;

    cr.upload_id = r->up->id;
    cr.part_ids = (const char *const *)j->part_ids;
    cr.part_count = j->nparts;
    cr.md5 = r->md5[0] != '\0' ? r->md5 : NULL;
    return argot_uploads_complete(out, r->c, &cr, r->opts);
}

/* Best effort, on a private client so the caller's error detail stays as it is. */
static void cancel_upload(run *r)
{
    argot_cancel_upload_request cr = ARGOT_CANCEL_UPLOAD_REQUEST_INIT;
    argot_client *tmp = NULL;

    if (argot__client_clone(&tmp, r->c) != ARGOT_OK)
        return;
    cr.upload_id = r->up->id;
    if (argot_uploads_cancel(NULL, tmp, &cr, r->opts) != ARGOT_OK)
        argot__log(r->c, ARGOT_LOG_WARN, "cannot cancel upload %s: %s", r->up->id,
                   argot_client_last_error(tmp)->summary);
    argot_client_free(tmp);
}

static argot_status parts_and_complete(run *r, argot_upload **out)
{
    job j;
    worker *ws = NULL;
    unsigned n = 0, k;
    argot_status st = ARGOT_E_NOMEM;

    memset(&j, 0, sizeof(j));
    pthread_mutex_init(&j.mu, NULL);
    pthread_cond_init(&j.cv, NULL);
    j.fd = r->fd;
    j.size = r->size;
    j.part_size = r->part_size;
    j.nparts = (size_t)((r->size + r->part_size - 1) / r->part_size);
    j.upload_id = r->up->id;
    j.opts = r->opts;
    j.failed_worker = -1;
    n = j.nparts < r->parallel ? (unsigned)j.nparts : r->parallel;
    j.part_ids = calloc(j.nparts + 1, sizeof(*j.part_ids));
    ws = calloc(n + 1, sizeof(*ws));
    if (j.part_ids == NULL || ws == NULL) {
        argot__error_set(r->c, st, NULL);
        goto out;
    }
    st = send_parts(r, &j, ws, n);
    if (st == ARGOT_OK)
        st = complete_upload(r, &j, out);
out:
    for (k = 0; ws != NULL && k < n; k++)
        argot_client_free(ws[k].client);
    for (k = 0; j.part_ids != NULL && k < j.nparts; k++)
        free(j.part_ids[k]);
    free(j.part_ids);
    free(ws);
    pthread_cond_destroy(&j.cv);
    pthread_mutex_destroy(&j.mu);
    return st;
}

argot_status argot_uploads_upload_file(argot_upload **out,
                                       argot_client *client,
                                       const argot_upload_file_request *req,
                                       const argot_request_options *opts)
{
    run r;
    argot_status st;

    ARGOT__OUT_CLEAR(out);
    st = argot__op_start(client, out != NULL && req != NULL, NULL, req, opts,
                         ARGOT_UPLOAD_FILE_REQUEST_VERSION);
    if (st != ARGOT_OK)
        return st;
    memset(&r, 0, sizeof(r));
    r.c = client;
    r.req = req;
    r.opts = opts;
    r.fd = -1;
    if (st == ARGOT_OK)
        st = check_request(&r);
    if (st == ARGOT_OK)
        st = open_file(&r);
    if (st == ARGOT_OK)
        st = create_upload(&r);
    if (st == ARGOT_OK)
        st = parts_and_complete(&r, out);
    if (st != ARGOT_OK && r.up != NULL)
        cancel_upload(&r);
    if (st == ARGOT_OK && req->progress != NULL) /* the final 100 %; too late to abort */
        (void)req->progress(r.size, r.size, req->progress_userdata);
    argot_upload_free(r.up);
    if (r.fd >= 0)
        close(r.fd);
    return st;
}
