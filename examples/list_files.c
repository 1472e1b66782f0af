/* Mirrors the seed's files.listFiles({}) example: list every file, all pages. */
#include "example_common.h"

int main(void)
{
    argot_client *client = example_client();
    argot_list_files_request req = ARGOT_LIST_FILES_REQUEST_INIT;
    argot_file_iter *it = NULL;
    const argot_file *f;
    argot_status st;
    int rc = 0;

    if (client == NULL)
        return 1;
    st = argot_files_list_iter_new(&it, client, &req, NULL);
    while (st == ARGOT_OK && (st = argot_file_iter_next(&f, it)) == ARGOT_OK && f != NULL)
        printf("%s\t%lld\t%s\t%s\n", f->id, (long long)f->bytes, f->purpose, f->filename);
    if (st != ARGOT_OK)
        rc = example_fail(client, st);
    argot_file_iter_free(it);
    argot_client_free(client);
    argot_global_cleanup();
    return rc;
}
