/* Mirrors the seed's files.createFile({file: openAsBlob("example.file"), purpose: "fine-tune"}):
 * usage: create_file [PATH [PURPOSE]] (defaults: example.file, fine-tune). Streams the file. */
#include "example_common.h"

int main(int argc, char **argv)
{
    argot_client *client = example_client();
    argot_create_file_request req = ARGOT_CREATE_FILE_REQUEST_INIT;
    argot_file *file = NULL;
    argot_status st;

    if (client == NULL)
        return 1;
    req.file.kind = ARGOT_SOURCE_PATH;
    req.file.path = argc > 1 ? argv[1] : "example.file";
    req.purpose = argc > 2 ? argv[2] : "fine-tune";
    st = argot_files_create_file(&file, client, &req, NULL);
    if (st != ARGOT_OK) {
        int rc = example_fail(client, st);
        argot_client_free(client);
        return rc;
    }
    printf("%s\n", file->json);
    argot_file_free(file);
    argot_client_free(client);
    argot_global_cleanup();
    return 0;
}
