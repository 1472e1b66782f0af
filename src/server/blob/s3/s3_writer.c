/*
 * The streaming writer with bounded memory and several parts in flight: see s3_stream.h.
 *
 * A writer has cfg.parts_in_flight slots, each able to hold one part buffer. The caller's
 * thread fills one slot (FILLING); a full part is handed to the client's upload threads
 * (SENDING) and comes back (SPARE, buffer kept for the next part) when S3 answered. Slot
 * states change under w->lock only; a FILLING slot's bytes belong to the caller's thread, a
 * SENDING slot's to the upload thread running it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "server/blob/s3/s3_internal.h"
#include "server/blob/s3/s3_stream.h"
#include "server/log.h"

typedef enum { SLOT_EMPTY = 0, SLOT_SPARE, SLOT_FILLING, SLOT_SENDING } slot_state;

typedef struct wslot {
    s3_task task; /* first: the upload thread gets the slot back from it */
    s3_writer *w;
    slot_state state;
    char *buf;
    size_t len, cap; /* bytes in buf; bytes granted by the budget (mapped: rounded to a page) */
    int number;
    s3_part result;
    s3_error err;
} wslot;

struct s3_writer {
    s3_client *c;
    char key[S3R_KEY_MAX + 1];
    char upload_id[S3R_TOKEN_MAX + 1]; /* set before the first part is sent, then read-only */
    uint64_t hint;                     /* expected total, 0: unknown */
    uint64_t total;                    /* bytes written */
    wslot *slots, *cur;                /* cur: the slot being filled, NULL between parts */
    int nslots;
    int sent;          /* parts handed to the upload threads = the last part number */
    int failure_done;  /* the failure was handled: parts stopped, upload aborted */
    atomic_int cancel; /* set with the first failure: parts in flight stop */
    pthread_mutex_t lock;
    pthread_cond_t changed; /* a part came back */
    /* Under lock: */
    int sending;    /* parts queued or uploading */
    int acked;      /* parts S3 acknowledged */
    s3_part *parts; /* acknowledged parts, at number - 1 */
    size_t parts_cap;
    s3_status failed; /* the first failure, sticky */
    s3_error first;
};

static void run_part(s3_task *t);

s3_status s3_writer_open(
    s3_writer **out, s3_client *c, const char *key, uint64_t size_hint, s3_error *err)
{
    s3_writer *w;
    *out = NULL;
    if (!key || !key[0] || strlen(key) > S3R_KEY_MAX)
        return s3_error_set(err, S3_E_INVALID, 0, "writer: missing or too long key");
    if (!(w = calloc(1, sizeof *w)))
        return s3_error_set(err, S3_E_NOMEM, 0, "writer: out of memory");
    w->nslots = c->cfg.parts_in_flight;
    if (!(w->slots = calloc((size_t)w->nslots, sizeof *w->slots)) ||
        pthread_mutex_init(&w->lock, NULL) != 0) {
        free(w->slots);
        free(w);
        return s3_error_set(err, S3_E_NOMEM, 0, "writer: out of memory");
    }
    if (pthread_cond_init(&w->changed, NULL) != 0) {
        pthread_mutex_destroy(&w->lock);
        free(w->slots);
        free(w);
        return s3_error_set(err, S3_E_NOMEM, 0, "writer: out of memory");
    }
    for (int i = 0; i < w->nslots; i++)
        w->slots[i] = (wslot){.task = {.run = run_part}, .w = w};
    w->c = c;
    w->hint = size_hint;
    atomic_init(&w->cancel, 0);
    snprintf(w->key, sizeof w->key, "%s", key);
    *out = w;
    return S3_OK;
}

uint64_t s3_writer_size(const s3_writer *w)
{
    return w->total;
}

/* Part buffers are mapped, not malloc'd: unmapping gives the pages back to the system at
 * once, so the process's memory follows the budget whatever malloc's thresholds. */
static char *map_buffer(size_t n)
{
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void unmap_buffer(char *p, size_t n)
{
    if (p)
        munmap(p, n);
}

/* Frees a slot's buffer and gives its room back. */
static void drop_buffer(s3_writer *w, wslot *s)
{
    unmap_buffer(s->buf, s->cap);
    s3_budget_release(&w->c->budget, s->cap);
    s->buf = NULL;
    s->cap = s->len = 0;
    s->state = SLOT_EMPTY;
}

/* Slots holding a buffer (under lock). */
static int holding(const s3_writer *w)
{
    int n = 0;
    for (int i = 0; i < w->nslots; i++)
        n += w->slots[i].state != SLOT_EMPTY;
    return n;
}

/* An upload thread is done with slot s: the part's result, or the writer's first failure
 * (which stops the other parts). While another writer waits for budget, a buffer beyond the
 * writer's last one is given back instead of kept. */
static void part_done(s3_writer *w, wslot *s, s3_status rc)
{
    pthread_mutex_lock(&w->lock);
    if (rc == S3_OK) {
        w->parts[s->number - 1] = s->result;
        w->acked++;
    } else if (!w->failed) {
        w->failed = rc;
        w->first = s->err;
        atomic_store(&w->cancel, 1);
    }
    s->state = SLOT_SPARE;
    s->len = 0;
    if (holding(w) > 1 && s3_budget_contended(&w->c->budget))
        drop_buffer(w, s);
    w->sending--;
    pthread_cond_broadcast(&w->changed);
    pthread_mutex_unlock(&w->lock); /* w may be freed from here on */
}

/* Runs on an upload thread (or on the caller's if none could start). */
static void run_part(s3_task *t)
{
    wslot *s = (wslot *)t;
    s3_writer *w = s->w;
    char hash[S3_SHA256_HEX_LEN + 1];
    s3_status rc;
    s3_error_clear(&s->err);
    if (atomic_load(&w->cancel)) {
        rc = s3_error_set(&s->err, S3_E_ABORTED, 0, "UploadPart %s: cancelled", w->key);
    } else {
        s3_sha256_hex(hash, s->buf, s->len);
        rc = s3_upload_part_x(w->c, w->key, w->upload_id, s->number, s->buf, s->len, hash,
                              &w->cancel, &s->result, &s->err);
    }
    part_done(w, s, rc);
}

/* Stops the parts in flight: queued ones are taken back, running ones see the cancel flag;
 * returns once none is left. */
static void drain(s3_writer *w)
{
    atomic_store(&w->cancel, 1);
    for (int i = 0; i < w->nslots; i++) {
        wslot *s = &w->slots[i];
        if (!s3_pool_remove(&w->c->pool, &s->task))
            continue; /* not queued (running, back, or never sent) */
        pthread_mutex_lock(&w->lock);
        s->state = SLOT_SPARE;
        w->sending--;
        pthread_mutex_unlock(&w->lock);
    }
    pthread_mutex_lock(&w->lock);
    while (w->sending > 0)
        pthread_cond_wait(&w->changed, &w->lock);
    pthread_mutex_unlock(&w->lock);
}

static void abort_upload(s3_writer *w)
{
    s3_error e;
    if (!w->upload_id[0])
        return;
    s3_error_clear(&e);
    if (s3_mpu_abort(w->c, w->key, w->upload_id, &e) != S3_OK)
        LOG(LOG_WARN, "s3 writer key=%s: abort failed (the reaper will retry): %s", w->key,
            e.message);
    w->upload_id[0] = '\0';
}

static void release_buffers(s3_writer *w)
{
    pthread_mutex_lock(&w->lock);
    for (int i = 0; i < w->nslots; i++)
        if (w->slots[i].state != SLOT_EMPTY)
            drop_buffer(w, &w->slots[i]);
    w->cur = NULL;
    pthread_mutex_unlock(&w->lock);
}

/* Records the first failure (rc; S3_OK: the one an upload thread recorded), stops and waits
 * for the parts in flight, aborts the multipart upload and frees the buffers. Later calls
 * return the same error. */
static s3_status fail(s3_writer *w, s3_status rc, const s3_error *e, s3_error *err)
{
    pthread_mutex_lock(&w->lock);
    if (!w->failed && rc != S3_OK) {
        w->failed = rc;
        w->first = *e;
    }
    atomic_store(&w->cancel, 1);
    pthread_mutex_unlock(&w->lock);
    if (!w->failure_done) {
        drain(w);
        abort_upload(w);
        release_buffers(w);
        w->failure_done = 1;
    }
    /* No upload thread touches w any more. */
    if (err && err->code == S3_OK)
        *err = w->first;
    return w->failed;
}

static s3_status busy(const s3_writer *w, s3_error *e)
{
    return s3_error_set(
        e, S3_E_BUSY, 1, "writer %s: the S3 memory budget (%llu bytes) stayed exhausted for %ld ms",
        w->key, (unsigned long long)w->c->cfg.memory_budget, w->c->cfg.budget_wait_ms);
}

#define NO_ROOM 1 /* new_buffer(): none now; wait for one of the writer's own parts */

/* Room and memory for the empty slot s. The first buffer (the writer holds none) waits up to
 * budget_wait_ms and is size_hint bytes when that is under a part; more are whole parts,
 * taken only when free now and nobody else waits for room. */
static int new_buffer(s3_writer *w, wslot *s, int held, s3_error *e)
{
    const s3_config *cfg = &w->c->cfg;
    uint64_t want = cfg->part_size;
    if (!held && w->hint && w->hint < want)
        want = w->hint;
    if (held ? s3_budget_acquire_extra(&w->c->budget, want)
             : s3_budget_acquire(&w->c->budget, want, cfg->budget_wait_ms))
        return held ? NO_ROOM : busy(w, e);
    if (!(s->buf = map_buffer((size_t)want))) {
        s3_budget_release(&w->c->budget, want);
        return s3_error_set(e, S3_E_NOMEM, 0, "writer %s: out of memory", w->key);
    }
    s->cap = (size_t)want;
    s->len = 0;
    return S3_OK;
}

/* Buffers worth holding: parts_in_flight, fewer when the announced size needs fewer. */
static int max_held(const s3_writer *w)
{
    uint64_t part = w->c->cfg.part_size;
    if (w->hint && w->total < w->hint && (w->hint + part - 1) / part < (uint64_t)w->nslots)
        return (int)((w->hint + part - 1) / part);
    return w->nslots;
}

/* Finds a slot to fill (under lock): a spare buffer, else an empty slot when the writer may
 * hold one more buffer (*empty), else nothing. */
static wslot *pick_slot(s3_writer *w, wslot **empty)
{
    *empty = NULL;
    for (int i = 0; i < w->nslots; i++) {
        if (w->slots[i].state == SLOT_SPARE)
            return &w->slots[i];
        if (w->slots[i].state == SLOT_EMPTY && !*empty)
            *empty = &w->slots[i];
    }
    if (*empty && holding(w) >= max_held(w))
        *empty = NULL;
    return NULL;
}

/* Makes w->cur a slot to fill: a spare buffer, a new one, or the first part to come back. */
static s3_status get_slot(s3_writer *w, s3_error *e)
{
    int tried = 0; /* a new buffer found no room: wait for a part to come back */
    s3_status rc = S3_OK;
    wslot *s, *empty;
    pthread_mutex_lock(&w->lock);
    while (!w->failed && !w->cur) {
        if ((s = pick_slot(w, &empty)) != NULL) {
            w->cur = s;
        } else if (empty && !tried) {
            int held = holding(w);
            pthread_mutex_unlock(&w->lock);
            int got = new_buffer(w, empty, held, e); /* empty stays ours: nobody else fills it */
            if (got < 0)
                return (s3_status)got;
            pthread_mutex_lock(&w->lock);
            if (got == S3_OK)
                w->cur = empty;
            tried = 1; /* NO_ROOM: a part may have come back meanwhile, look again first */
        } else if (w->sending == 0) { /* nothing to wait for: cannot happen */
            rc = s3_error_set(e, S3_E_STATE, 0, "writer %s: no part buffer", w->key);
            break;
        } else {
            pthread_cond_wait(&w->changed, &w->lock);
            tried = 0;
        }
    }
    if (w->cur) {
        w->cur->state = SLOT_FILLING;
        w->cur->len = 0;
    } else if (rc == S3_OK) {
        rc = w->failed;
    }
    pthread_mutex_unlock(&w->lock);
    return rc;
}

/* The first buffer was sized by a short hint: grow it to a whole part (this one waits for
 * budget while holding the small grant, bounded by budget_wait_ms, as a hint was wrong). */
static s3_status grow(s3_writer *w, s3_error *e)
{
    wslot *s = w->cur;
    uint64_t part = w->c->cfg.part_size, more = part - s->cap;
    if (s3_budget_acquire(&w->c->budget, more, w->c->cfg.budget_wait_ms) != 0)
        return busy(w, e);
    char *nb = map_buffer((size_t)part);
    if (!nb) {
        s3_budget_release(&w->c->budget, more);
        return s3_error_set(e, S3_E_NOMEM, 0, "writer %s: out of memory", w->key);
    }
    memcpy(nb, s->buf, s->len);
    unmap_buffer(s->buf, s->cap);
    s->buf = nb;
    s->cap = (size_t)part;
    return S3_OK;
}

/* Room for the result of part n (under lock: upload threads write into the array). */
static s3_status reserve_part(s3_writer *w, int n, s3_error *e)
{
    s3_status rc = S3_OK;
    pthread_mutex_lock(&w->lock);
    if ((size_t)n > w->parts_cap) {
        size_t ncap = w->parts_cap ? w->parts_cap * 2 : 16;
        s3_part *np = realloc(w->parts, ncap * sizeof *np);
        if (np) {
            w->parts = np;
            w->parts_cap = ncap;
        } else {
            rc = s3_error_set(e, S3_E_NOMEM, 0, "writer %s: out of memory", w->key);
        }
    }
    pthread_mutex_unlock(&w->lock);
    return rc;
}

/* Hands w->cur to the upload threads as the next part (creating the upload for the first). */
static s3_status send_part(s3_writer *w, s3_error *e)
{
    wslot *s = w->cur;
    s3_status rc;
    if (w->sent == S3_MAX_PARTS)
        return s3_error_set(e, S3_E_INVALID, 0,
                            "writer %s: more than %d parts of %llu bytes (raise the part size)",
                            w->key, S3_MAX_PARTS, (unsigned long long)w->c->cfg.part_size);
    if (!w->upload_id[0] && (rc = s3_mpu_create(w->c, w->key, w->upload_id, e)) != S3_OK)
        return rc;
    if ((rc = reserve_part(w, w->sent + 1, e)) != S3_OK)
        return rc;
    s->number = ++w->sent;
    pthread_mutex_lock(&w->lock);
    s->state = SLOT_SENDING;
    w->sending++;
    w->cur = NULL;
    pthread_mutex_unlock(&w->lock);
    if (s3_pool_submit(&w->c->pool, &s->task) != 0)
        run_part(&s->task); /* no upload thread could start: upload from here */
    return S3_OK;
}

s3_status s3_writer_write(s3_writer *w, const void *data, size_t len, s3_error *err)
{
    const char *p = data;
    size_t part = (size_t)w->c->cfg.part_size;
    s3_error e;
    s3_status rc;
    s3_error_clear(&e);
    while (len > 0) {
        if (atomic_load(&w->cancel))
            return fail(w, S3_OK, NULL, err);
        /* A full part is sent only when more bytes come, so an object of exactly one part
         * is still a single PutObject at commit. */
        if (w->cur && w->cur->len == part && (rc = send_part(w, &e)) != S3_OK)
            return fail(w, rc, &e, err);
        if (!w->cur && (rc = get_slot(w, &e)) != S3_OK)
            return fail(w, rc, &e, err);
        if (w->cur->len == w->cur->cap && (rc = grow(w, &e)) != S3_OK)
            return fail(w, rc, &e, err);
        size_t n = w->cur->cap - w->cur->len < len ? w->cur->cap - w->cur->len : len;
        memcpy(w->cur->buf + w->cur->len, p, n);
        w->cur->len += n;
        w->total += n;
        p += n;
        len -= n;
    }
    if (atomic_load(&w->cancel)) /* a part failed meanwhile: say so now */
        return fail(w, S3_OK, NULL, err);
    return S3_OK;
}

/* Waits until every part sent is acknowledged, or the first failure. */
static s3_status wait_all(s3_writer *w, s3_error *e)
{
    s3_status rc;
    pthread_mutex_lock(&w->lock);
    while (w->sending > 0 && !w->failed)
        pthread_cond_wait(&w->changed, &w->lock);
    rc = w->failed;
    if (rc == S3_OK && w->acked != w->sent)
        rc = s3_error_set(e, S3_E_STATE, 0, "writer %s: %d of %d parts acknowledged", w->key,
                          w->acked, w->sent);
    pthread_mutex_unlock(&w->lock);
    return rc;
}

static void free_writer(s3_writer *w)
{
    release_buffers(w);
    pthread_cond_destroy(&w->changed);
    pthread_mutex_destroy(&w->lock);
    free(w->parts);
    free(w->slots);
    free(w);
}

/* A begun writer with no byte: S3 has no empty part, so the object is an empty PutObject once
 * the upload is known to be still there (a reaped writer must not commit), then the upload
 * is aborted. */
static s3_status commit_empty(s3_writer *w, char etag[S3R_ETAG_MAX + 1], s3_error *e)
{
    s3_page page;
    s3_status rc = s3_mpu_list_parts(w->c, w->key, w->upload_id, 0, 1, NULL, NULL, &page, e);
    if (rc == S3_OK)
        rc = s3_put_object(w->c, w->key, "", 0, etag, e);
    if (rc == S3_OK)
        abort_upload(w);
    return rc;
}

s3_status s3_writer_commit(s3_writer *w, char etag[S3R_ETAG_MAX + 1], s3_error *err)
{
    s3_error e;
    s3_status rc = S3_OK;
    s3_error_clear(&e);
    if (atomic_load(&w->cancel)) {
        rc = fail(w, S3_OK, NULL, err);
    } else if (w->sent == 0 && !w->upload_id[0]) {
        rc = s3_put_object(w->c, w->key, w->cur ? w->cur->buf : "", w->cur ? w->cur->len : 0, etag,
                           &e);
    } else if (w->sent == 0 && w->total == 0) {
        rc = commit_empty(w, etag, &e);
    } else if ((!w->cur || (rc = send_part(w, &e)) == S3_OK) && (rc = wait_all(w, &e)) == S3_OK) {
        /* Every part is acknowledged; parts[] is in part-number order by construction. */
        rc = s3_mpu_complete(w->c, w->key, w->upload_id, w->parts, (size_t)w->sent, etag, &e);
        if (rc == S3_OK)
            w->upload_id[0] = '\0'; /* done: nothing to abort */
    }
    if (rc != S3_OK)
        rc = fail(w, rc, &e, err);
    free_writer(w);
    return rc;
}

void s3_writer_abort(s3_writer *w)
{
    if (!w)
        return;
    if (!w->failure_done) {
        drain(w);
        abort_upload(w);
    }
    free_writer(w);
}

s3_status s3_writer_begin(s3_writer *w, s3_error *err)
{
    s3_error e;
    s3_status rc;
    s3_error_clear(&e);
    if (atomic_load(&w->cancel))
        return fail(w, S3_OK, NULL, err);
    if (w->upload_id[0])
        return S3_OK;
    if ((rc = s3_mpu_create(w->c, w->key, w->upload_id, &e)) != S3_OK)
        return fail(w, rc, &e, err);
    return S3_OK;
}

/* Appends one copied part (the caller's thread): numbered after every part sent. */
static s3_status copy_part(
    s3_writer *w, const char *src, uint64_t first, uint64_t last, s3_error *e)
{
    s3_part part;
    s3_status rc;
    if (w->sent == S3_MAX_PARTS)
        return s3_error_set(e, S3_E_INVALID, 0, "writer %s: more than %d parts", w->key,
                            S3_MAX_PARTS);
    if ((rc = reserve_part(w, w->sent + 1, e)) != S3_OK)
        return rc;
    int n = ++w->sent;
    rc = s3_mpu_upload_part_copy(w->c, w->key, w->upload_id, n, src, first, last, &part, e);
    if (rc != S3_OK)
        return rc;
    pthread_mutex_lock(&w->lock);
    w->parts[n - 1] = part;
    w->acked++;
    pthread_mutex_unlock(&w->lock);
    return S3_OK;
}

s3_status s3_writer_copy(
    s3_writer *w, const char *src, uint64_t off, uint64_t len, int *copied, s3_error *err)
{
    s3_error e;
    s3_status rc = S3_OK;
    size_t pending = w->cur ? w->cur->len : 0;
    s3_error_clear(&e);
    *copied = 0;
    if (atomic_load(&w->cancel))
        return fail(w, S3_OK, NULL, err);
    if (len < S3_MIN_PART_SIZE || (pending > 0 && pending < S3_MIN_PART_SIZE))
        return S3_OK; /* a part under S3's minimum would follow: the caller merges */
    if (pending > 0 && (rc = send_part(w, &e)) != S3_OK)
        return fail(w, rc, &e, err);
    if (!w->upload_id[0] && (rc = s3_mpu_create(w->c, w->key, w->upload_id, &e)) != S3_OK)
        return fail(w, rc, &e, err);
    uint64_t k = (len + S3_MAX_PART_SIZE - 1) / S3_MAX_PART_SIZE, step = (len + k - 1) / k;
    for (uint64_t at = 0; at < len && rc == S3_OK; at += step) {
        uint64_t n = len - at < step ? len - at : step;
        rc = copy_part(w, src, off + at, off + at + n - 1, &e);
    }
    if (rc != S3_OK)
        return fail(w, rc, &e, err);
    w->total += len;
    *copied = 1;
    return S3_OK;
}
