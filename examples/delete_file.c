/* Mirrors the seed's files.deleteFile({fileId: "<id>"}): usage: delete_file ID */
#include "example_common.h"

int main(int argc, char **argv)
{
    argot_client *client = example_client();
    argot_delete_file_request req = ARGOT_DELETE_FILE_REQUEST_INIT;
    argot_file_deleted *result = NULL;
    argot_status st;
    int rc = 0;

    if (client == NULL)
        return 1;
    req.file_id = argc > 1 ? argv[1] : "<id>";
    st = argot_files_delete_file(&result, client, &req, NULL);
    if (st == ARGOT_OK)
        printf("%s\n", result->json);
    else
        rc = example_fail(client, st);
    argot_file_deleted_free(result);
    argot_client_free(client);
    argot_global_cleanup();
    return rc;
}
