/* Mirrors the seed's files.retrieveFile({fileId: "<id>"}): usage: retrieve_file ID */
#include "example_common.h"

int main(int argc, char **argv)
{
    argot_client *client = example_client();
    argot_retrieve_file_request req = ARGOT_RETRIEVE_FILE_REQUEST_INIT;
    argot_file *file = NULL;
    argot_status st;
    int rc = 0;

    if (client == NULL)
        return 1;
    req.file_id = argc > 1 ? argv[1] : "<id>";
    st = argot_files_retrieve_file(&file, client, &req, NULL);
    if (st == ARGOT_OK)
        printf("%s\n", file->json);
    else
        rc = example_fail(client, st);
    argot_file_free(file);
    argot_client_free(client);
    argot_global_cleanup();
    return rc;
}
