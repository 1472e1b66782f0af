#include "server/meta/meta_check.h"

#include <string.h>

#include "server/blob/blob.h"

int meta_str_ok(const char *v, size_t cap)
{
    if (!v)
        return 0;
    size_t n = strnlen(v, cap);
    return n > 0 && n < cap;
}

int meta_org_ok(const char *org)
{
    if (!meta_str_ok(org, META_ORG_MAX))
        return 0;
    for (const char *p = org; *p; p++) {
        char ch = *p;
        int good = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                   (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
        if (!good)
            return 0;
    }
    return 1;
}

int meta_file_ok(const meta_file *f)
{
    return f && meta_str_ok(f->id, META_ID_MAX) && meta_org_ok(f->org) &&
           meta_str_ok(f->purpose, META_PURPOSE_MAX) &&
           meta_str_ok(f->filename, META_FILENAME_MAX) && blob_key_valid(f->blob) &&
           f->bytes >= 0 && f->created_at >= 0 && f->expires_at >= 0;
}

int meta_upload_ok(const meta_upload *u)
{
    return u && meta_str_ok(u->id, META_ID_MAX) && meta_org_ok(u->org) &&
           meta_str_ok(u->filename, META_FILENAME_MAX) &&
           meta_str_ok(u->purpose, META_PURPOSE_MAX) &&
           strnlen(u->mime_type, META_MIME_MAX) < META_MIME_MAX && u->bytes >= 0 &&
           u->expires_after_seconds >= 0 && u->created_at >= 0 && u->expires_at >= 0;
}

int meta_part_ok(const meta_part *p)
{
    return p && meta_str_ok(p->id, META_ID_MAX) && meta_str_ok(p->upload_id, META_ID_MAX) &&
           meta_org_ok(p->org) && blob_key_valid(p->blob) && p->bytes >= 0 && p->created_at >= 0;
}
