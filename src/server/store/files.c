/* Files: lookups, keyset pages, deletes and reads, with the service's rules on ids, cursors
 * and visibility (an expired file is gone for every read the moment its expiry passes). */
#include <stdio.h>
#include <string.h>

#include "server/ids.h"
#include "server/store/store_internal.h"

int st_id_ok(const char *s)
{
    return s && strlen(s) < META_ID_MAX && id_plausible(s);
}

int store_file_get(store *s, const char *org, const char *id, meta_file *out, st_err *e)
{
    if (!st_id_ok(id)) /* cannot be an id: no lookup */
        return st_fail_client(e, ST_E_NOTFOUND, "id", "No such File object: %.64s", id);
    int rc = stm_file_get(s, org, id, store_now(s), out, e);
    if (rc == ST_E_NOTFOUND) {
        st_err_clear(e);
        return st_fail_client(e, ST_E_NOTFOUND, "id", "No such File object: %s", id);
    }
    return rc;
}

int store_file_list(
    store *s, const store_list_req *q, meta_file_cb cb, void *userdata, int *has_more, st_err *e)
{
    meta_pos pos;
    meta_list_req req = {q->org, q->purpose, NULL, q->desc, q->limit, store_now(s)};
    *has_more = 0;
    if (q->limit < 1 || q->limit > STORE_LIST_MAX)
        return st_fail_client(e, ST_E_INVALID, "limit", "limit must be 1 to %d", STORE_LIST_MAX);
    if (q->purpose && strlen(q->purpose) >= META_PURPOSE_MAX)
        return ST_OK; /* no file can have such a purpose: an empty page */
    if (q->after) {
        /* A cursor naming a file of the org continues from its place, also when the file was
         * deleted or expired since (its tombstone keeps the place); any other id is refused,
         * so an iteration never silently ends early. */
        int rc =
            st_id_ok(q->after) ? stm_file_position(s, q->org, q->after, &pos, e) : ST_E_NOTFOUND;
        if (rc == ST_E_NOTFOUND) {
            st_err_clear(e);
            return st_fail_client(e, ST_E_NOTFOUND, "after", "No such File object: %.64s",
                                  q->after);
        }
        if (rc)
            return rc;
        req.after = &pos;
    }
    return stm_file_list(s, &req, cb, userdata, has_more, e);
}

int store_file_delete(store *s, const char *org, const char *id, meta_file *out, st_err *e)
{
    if (!st_id_ok(id))
        return st_fail_client(e, ST_E_NOTFOUND, "id", "No such File object: %.64s", id);
    int rc = stm_file_delete(s, org, id, store_now(s), out, e);
    if (rc == ST_E_NOTFOUND) {
        st_err_clear(e);
        return st_fail_client(e, ST_E_NOTFOUND, "id", "No such File object: %s", id);
    }
    if (rc == ST_OK && out->blob[0])
        st_remove_blob_cb(out->blob, s); /* the row is gone: the blob follows now or later */
    return rc;
}

int store_file_open(store *s,
                    const meta_file *f,
                    uint64_t off,
                    uint64_t len,
                    blob_reader **out,
                    uint64_t *size,
                    st_err *e)
{
    int rc = s->b->ops->reader_open(s->b, f->blob, off, len, out, size, e);
    if (rc == ST_E_NOTFOUND) { /* deleted between the lookup and the open */
        st_err_clear(e);
        return st_fail_client(e, ST_E_NOTFOUND, "id", "No such File object: %s", f->id);
    }
    return rc;
}

int store_reader_fd(store *s, blob_reader *r, int *fd, uint64_t *off, uint64_t *len)
{
    if (!(s->b->ops->caps & BLOB_CAP_FD))
        return -1;
    return s->b->ops->reader_take_fd(r, fd, off, len);
}
