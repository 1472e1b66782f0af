/*
 * The list iterator: walks every page of a listing. The next page is requested with
 * after = id of the last item of the current page (as the official SDKs do).
 */
#include "client/internal.h"

#include <stdlib.h>
#include <string.h>

struct argot_file_iter {
    argot_client *client;
    argot_list_files_request req;
    char *purpose;
    char *after;
    int has_opts;
    argot_request_options opts;
    char **headers;
    argot_retry_config retry;
    argot_file_list *page;
    size_t next;
    unsigned pages;
    int done;
};

static argot_status copy_headers(argot_file_iter *it, const char *const *h)
{
    size_t n = 0, i;

    while (h != NULL && h[n] != NULL)
        n++;
    if (h == NULL)
        return ARGOT_OK;
    it->headers = calloc(n + 1, sizeof(char *));
    if (it->headers == NULL)
        return ARGOT_E_NOMEM;
    for (i = 0; i < n; i++)
        if ((it->headers[i] = argot__strdup(h[i])) == NULL)
            return ARGOT_E_NOMEM;
    it->opts.headers = (const char *const *)it->headers;
    return ARGOT_OK;
}

static argot_status copy_request(argot_file_iter *it,
                                 const argot_list_files_request *req,
                                 const argot_request_options *opts)
{
    it->req = *req;
    it->purpose = argot__strdup(req->purpose);
    it->after = argot__strdup(req->after);
    if ((req->purpose != NULL && it->purpose == NULL) || (req->after != NULL && it->after == NULL))
        return ARGOT_E_NOMEM;
    it->req.purpose = it->purpose;
    it->req.after = it->after;
    if (opts == NULL)
        return ARGOT_OK;
    if (opts->version != ARGOT_REQUEST_OPTIONS_VERSION)
        return ARGOT_E_INVALID;
    it->has_opts = 1;
    it->opts = *opts;
    it->opts.headers = NULL;
    if (opts->retry != NULL) {
        it->retry = *opts->retry;
        it->opts.retry = &it->retry;
    }
    return copy_headers(it, opts->headers);
}

argot_status argot_files_list_iter_new(argot_file_iter **out,
                                       argot_client *client,
                                       const argot_list_files_request *req,
                                       const argot_request_options *opts)
{
    static const argot_list_files_request dflt = ARGOT_LIST_FILES_REQUEST_INIT;
    argot_file_iter *it;
    argot_status st;

    if (out == NULL || client == NULL)
        return ARGOT_E_INVALID;
    *out = NULL;
    if (req == NULL)
        req = &dflt;
    if (req->version != ARGOT_LIST_FILES_REQUEST_VERSION)
        return ARGOT_E_INVALID;
    it = calloc(1, sizeof(*it));
    if (it == NULL)
        return ARGOT_E_NOMEM;
    it->client = client;
    st = copy_request(it, req, opts);
    if (st != ARGOT_OK) {
        argot_file_iter_free(it);
        return st;
    }
    *out = it;
    return ARGOT_OK;
}

static argot_status fetch_page(argot_file_iter *it)
{
    argot_list_files_request q = it->req;
    argot_file_list *page = NULL;
    argot_status st;

    if (it->page != NULL)
        q.after = it->page->data[it->page->count - 1].id;
    st = argot_files_list_files(&page, it->client, &q, it->has_opts ? &it->opts : NULL);
    if (st != ARGOT_OK)
        return st;
    argot_file_list_free(it->page);
    it->page = page;
    it->next = 0;
    it->pages++;
    return ARGOT_OK;
}

argot_status argot_file_iter_next(const argot_file **out, argot_file_iter *iter)
{
    argot_status st;

    if (out == NULL || iter == NULL)
        return ARGOT_E_INVALID;
    *out = NULL;
    while (!iter->done) {
        if (iter->page != NULL && iter->next < iter->page->count) {
            *out = &iter->page->data[iter->next++];
            return ARGOT_OK;
        }
        if (iter->page != NULL && (!iter->page->has_more || iter->page->count == 0)) {
            iter->done = 1;
            break;
        }
        st = fetch_page(iter);
        if (st != ARGOT_OK)
            return st;
    }
    return ARGOT_OK;
}

unsigned argot_file_iter_pages(const argot_file_iter *iter)
{
    return iter != NULL ? iter->pages : 0;
}

void argot_file_iter_free(argot_file_iter *iter)
{
    size_t i;
    if (iter == NULL)
        return;
    for (i = 0; iter->headers != NULL && iter->headers[i] != NULL; i++)
        free(iter->headers[i]);
    free(iter->headers);
    free(iter->purpose);
    free(iter->after);
    argot_file_list_free(iter->page);
    free(iter);
}
